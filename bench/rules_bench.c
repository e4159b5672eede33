/* rules_bench.c: evaluation time per cycle of the rules engine (make bench, bench/rules.py).
 *
 *   rules_bench --body FILE --rules GLOB [--cycles N] [--synthetic N]
 *
 * The snapshot holds a Kong-plugin body (FILE, re-exported as passthrough would: the bulk of
 * the series) plus the drwatch_* families the shipped rules read, at realistic sizes. Every
 * cycle evaluates all rules at t += 5 s, as the daemon does, and is timed; the figures are the
 * median, p99 and max over the cycles (the first cycles include the range history filling).
 * --synthetic N adds a generated file of N alert rules, each selecting its own series. */
#include <math.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "fileio.h"
#include "registry.h"
#include "rules.h"
#include "textparse.h"
#include "xalloc.h"

static int add_sample(void *arg, const struct tp_sample *s)
{
    struct metric_set *m = arg;
    char *name = xstrndup(s->name, s->family_len);
    struct metric_family *f = mset_family(m, name, s->family_type, "bench");
    free(name);
    struct label_pair extra[2] = {{"site", "gold"}, {"instance", "kong-dp-0"}};
    if (f) mset_add_parsed(m, f, s, extra, 2);
    return 0;
}

static struct metric_set *body_set(const char *path)
{
    char *data;
    size_t len;
    if (file_read_all(path, 1u << 30, &data, &len) < 0) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    struct metric_set *m = mset_new();
    static const struct textparse_handler h = {.sample = add_sample};
    struct textparse_error err;
    if (textparse_run(data, len, &h, m, NULL, &err, NULL) != 0) {
        fprintf(stderr, "%s:%u: %s\n", path, err.line, err.msg);
        exit(2);
    }
    free(data);
    mset_seal(m);
    return m;
}

static void gauge(struct metric_set *m, const char *name, double v, ...) __attribute__((sentinel));
static void gauge(struct metric_set *m, const char *name, double v, ...)
{
    struct metric_family *f = mset_family(m, name, METRIC_GAUGE, "bench");
    struct label_pair l[8];
    size_t n = 0;
    va_list ap;
    va_start(ap, v);
    for (const char *k; (k = va_arg(ap, const char *)) != NULL && n < 8;)
        l[n++] = (struct label_pair){k, va_arg(ap, const char *)};
    va_end(ap);
    mset_add(m, f, SUFFIX_NONE, l, n, v);
}

/* What the shipped rules read, for two sites, with values that change with the cycle. */
static struct metric_set *drwatch_set(int cycle)
{
    struct metric_set *m = mset_new();
    static const char *const sites[] = {"gold", "golddr"};
    static const char *const classes[] = {"gold", "golddr", "both", "none", "unknown", "error"};
    char buf[64];
    for (int r = 0; r < 3; r++) {
        snprintf(buf, sizeof(buf), "10.0.0.%d", r);
        for (size_t c = 0; c < ARRAY_LEN(classes); c++)
            gauge(m, "drwatch_gslb_answer_class", c == 0, "resolver", buf, "class", classes[c],
                  (const char *)NULL);
    }
    for (int s = 0; s < 2; s++) {
        const char *site = sites[s];
        gauge(m, "drwatch_gslb_probe_up", 1, "site", site, "probe", site, (const char *)NULL);
        gauge(m, "drwatch_patroni_leader_writable", s == 0, "site", site, "scope", site,
              (const char *)NULL);
        gauge(m, "drwatch_patroni_leader_present", 1, "site", site, "scope", site,
              (const char *)NULL);
        gauge(m, "drwatch_postgres_in_recovery", s, "site", site, "target", site,
              (const char *)NULL);
        gauge(m, "drwatch_postgres_wal_receiver_streaming", 1, "site", site, "target", site,
              (const char *)NULL);
        gauge(m, "drwatch_postgres_replay_lag_seconds", 2, "site", site, "target", site,
              (const char *)NULL);
        gauge(m, "drwatch_kong_datastore_reachable", 1, "site", site, "target", site,
              (const char *)NULL);
        gauge(m, "drwatch_configmap_exists", 1, "site", site, "target", site, (const char *)NULL);
        for (int i = 0; i < 20; i++) {
            snprintf(buf, sizeof(buf), "dp-%d", i);
            gauge(m, "drwatch_kong_data_plane_last_seen_age_seconds", 10, "site", site, "hostname",
                  buf, (const char *)NULL);
            gauge(m, "drwatch_kong_data_plane_config_in_sync", 1, "site", site, "hostname", buf,
                  (const char *)NULL);
        }
        for (int i = 0; i < 200; i++) {
            snprintf(buf, sizeof(buf), "service-%d", i);
            gauge(m, "drwatch_kong_service_5xx_ratio", 0.001, "site", site, "service", buf,
                  (const char *)NULL);
            gauge(m, "drwatch_kong_service_requests_per_second", 20, "site", site, "service", buf,
                  (const char *)NULL);
        }
        for (int i = 0; i < 10; i++) {
            snprintf(buf, sizeof(buf), "out_%d", i);
            gauge(m, "drwatch_fluentd_buffer_total_queued_bytes", 1000 + (cycle % 7), "site", site,
                  "plugin_id", buf, (const char *)NULL);
            gauge(m, "drwatch_fluentd_buffer_queue_length", 0, "site", site, "plugin_id", buf,
                  (const char *)NULL);
            gauge(m, "drwatch_fluentd_retries_total", cycle / 10, "site", site, "plugin_id", buf,
                  (const char *)NULL);
        }
        for (int i = 0; i < 30; i++) {
            snprintf(buf, sizeof(buf), "collector-%d", i);
            gauge(m, "drwatch_collector_up", 1, "collector", buf, "site", site, (const char *)NULL);
        }
    }
    gauge(m, "drwatch_config_last_reload_successful", 1, (const char *)NULL);
    return m;
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static char *write_synthetic(int n)
{
    char *path = xstrdup("/tmp/drwatch-rules-bench-XXXXXX.lua");
    int fd = mkstemps(path, 4); /* the six X are mkstemps' template, ".lua" kept after them */
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "rules_bench: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    for (int i = 0; i < n; i++)
        fprintf(f,
                "alert(\"Synthetic%d\", { expr = function() return filter(series("
                "\"drwatch_collector_up\", { collector = \"collector-%d\" }), function(s) "
                "return s.value == 0 end) end, [\"for\"] = \"1m\" })\n",
                i, i % 30);
    fclose(f);
    return path;
}

int main(int argc, char **argv)
{
    const char *body = NULL, *rules = NULL;
    int cycles = 200, synthetic = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--body") == 0)
            body = argv[i + 1];
        else if (strcmp(argv[i], "--rules") == 0)
            rules = argv[i + 1];
        else if (strcmp(argv[i], "--cycles") == 0)
            cycles = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--synthetic") == 0)
            synthetic = atoi(argv[i + 1]);
    }
    if (!rules && !synthetic) {
        fprintf(stderr, "usage: rules_bench [--body FILE] --rules GLOB [--cycles N] "
                        "[--synthetic N]\n");
        return 2;
    }
    char *syn = synthetic ? write_synthetic(synthetic) : NULL;
    char *files[2];
    struct rules_config rc = {.timeout_ms = 10000,
                              .memory_limit = 256 << 20,
                              .max_history_points = 10000000,
                              .files = {.v = files}};
    if (rules) files[rc.files.n++] = (char *)rules;
    if (syn) files[rc.files.n++] = syn;
    char err[1024];
    struct rules_engine *e = rules_new(&rc, NULL, err, sizeof(err));
    if (!e) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    struct metric_set *bulk = body ? body_set(body) : NULL;
    double *ms = xcalloc((size_t)cycles, sizeof(double));
    size_t series = 0;
    for (int c = 0; c < cycles; c++) {
        struct metric_set *sets[2] = {drwatch_set(c), bulk};
        struct snapshot *snap = snapshot_new(sets, bulk ? 2 : 1, (uint64_t)c);
        series = snapshot_series(snap);
        double t0 = time_mono_s();
        rules_eval(e, 1.8e9 + 5.0 * c, snap, snap);
        ms[c] = (time_mono_s() - t0) * 1000;
        snapshot_unref(snap);
        mset_unref(sets[0]);
    }
    qsort(ms, (size_t)cycles, sizeof(double), dbl_cmp);
    printf("series=%zu rules=%zu cycles=%d median_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", series,
           rules_count(e), cycles, ms[cycles / 2], ms[(int)(cycles * 0.99)], ms[cycles - 1]);
    rules_free(e);
    mset_unref(bulk);
    free(ms);
    if (syn) unlink(syn), free(syn);
    return 0;
}
