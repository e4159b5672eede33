/* self.c: drwatch's own health: build info, the process (CPU, memory, file descriptors, start
 * time, under the names every Prometheus client library uses), config reloads, HTTP requests
 * and snapshot publication. Per-target scrape health (drwatch_collector_*) is the scheduler's,
 * which owns that state.
 *
 * Uses: /proc/self, getrusage, and struct drwatch_stats (exporter/stats.h). */
#include <curl/curl.h>
#include <dirent.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "caps.h"
#include "collector_env.h"
#include "collectors.h"
#include "fileio.h"
#include "stats.h"
#include "xalloc.h"

struct self_config {
    int64_t interval_ms;
};

static const struct cfg_key self_keys[] = {
    {.name = "interval",
     .type = CFG_DURATION,
     .offset = offsetof(struct self_config, interval_ms),
     .expect = "how often to read drwatch's own metrics, 1s to 1h",
     .min = 1000,
     .max = 3600000},
    CFG_END,
};

struct self {
    const struct drwatch_stats *stats;
    char *site; /* where this drwatch runs */
};

static struct metric_family *gauge(struct metric_set *m, const char *name, const char *help,
                                   const char *unit)
{
    struct metric_family *f = mset_family(m, name, METRIC_GAUGE, help);
    if (unit) mset_family_set_unit(m, f, unit);
    return f;
}

static int count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* not the descriptor opendir itself holds */
}

static void add_process(struct metric_set *m, const struct drwatch_stats *st)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    struct metric_family *f = mset_family(m, "process_cpu_seconds_total", METRIC_COUNTER,
                                          "Total user and system CPU time spent in seconds.");
    mset_family_set_unit(m, f, "seconds");
    mset_addv(m, f, cpu, LABELS_END);
    char *statm = NULL;
    size_t len;
    unsigned long vsz = 0, rss = 0;
    if (file_read_all("/proc/self/statm", CAP_PROC_FILE, &statm, &len) == 0 &&
        sscanf(statm, "%lu %lu", &vsz, &rss) == 2) {
        double page = (double)sysconf(_SC_PAGESIZE);
        mset_addv(
            m, gauge(m, "process_resident_memory_bytes", "Resident memory size in bytes.", "bytes"),
            (double)rss * page, LABELS_END);
        mset_addv(
            m, gauge(m, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "bytes"),
            (double)vsz * page, LABELS_END);
    }
    free(statm);
    int fds = count_open_fds();
    if (fds >= 0)
        mset_addv(m, gauge(m, "process_open_fds", "Number of open file descriptors.", NULL), fds,
                  LABELS_END);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        mset_addv(m, gauge(m, "process_max_fds", "Maximum number of open file descriptors.", NULL),
                  (double)rl.rlim_cur, LABELS_END);
    mset_addv(m,
              gauge(m, "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.", "seconds"),
              st->start_time, LABELS_END);
}

static void add_build_info(struct metric_set *m, const char *site)
{
    struct metric_family *f = mset_family(
        m, "drwatch_build_info", METRIC_INFO,
        "drwatch's version, git revision, the site it runs in and the versions of the libraries "
        "it runs on.");
    char lua[16];
    snprintf(lua, sizeof(lua), "%d.%d", LUA_VERSION_NUM / 100, LUA_VERSION_NUM % 100);
    mset_addv(m, f, 1, "site", site, "version", DRWATCH_VERSION, "revision", DRWATCH_REVISION,
              "lua", lua, "libcurl", curl_version_info(CURLVERSION_NOW)->version, "compiler",
              __VERSION__, LABELS_END);
}

/* What the HTTP server's limits (exporter/http_conns.h) hold and refuse. */
static void add_http_limits(struct metric_set *m, const struct drwatch_stats *st)
{
    mset_addv(m, gauge(m, "drwatch_http_connections", "HTTP connections open now.", NULL),
              (double)atomic_load(&st->http_connections), LABELS_END);
    mset_addv(m,
              gauge(m, "drwatch_http_connections_limit",
                    "HTTP connections drwatch serves at once (--web.max-connections, lowered to "
                    "fit the open-file limit).",
                    NULL),
              (double)atomic_load(&st->http_connections_limit), LABELS_END);
    struct metric_family *rf =
        mset_family(m, "drwatch_http_connections_refused_total", METRIC_COUNTER,
                    "HTTP connections refused at once, by the limit they would have passed: "
                    "max_connections (every slot taken by a connection being answered) or "
                    "max_per_client.");
    for (int r = 0; r < HTTP_REFUSED_COUNT; r++)
        mset_addv(m, rf, (double)atomic_load(&st->http_connections_refused[r]), "reason",
                  http_refused_name((enum http_refused)r), LABELS_END);
    struct metric_family *cf =
        mset_family(m, "drwatch_http_connections_closed_total", METRIC_COUNTER,
                    "HTTP connections drwatch closed before a whole request arrived: "
                    "read_timeout (none within --web.read-timeout, a request under way or none "
                    "yet), idle (an answered keep-alive connection), evicted (the longest "
                    "waiting, to make room for a new connection when every slot was taken).");
    for (int c = 0; c < HTTP_CLOSED_COUNT; c++)
        mset_addv(m, cf, (double)atomic_load(&st->http_connections_closed[c]), "reason",
                  http_closed_name((enum http_closed)c), LABELS_END);
    mset_addv(m,
              gauge(m, "drwatch_http_request_body_bytes",
                    "Bytes set aside for HTTP request bodies being read now (at most 4 MiB).",
                    "bytes"),
              (double)atomic_load(&st->http_body_bytes), LABELS_END);
    mset_addv(m,
              mset_family(m, "drwatch_http_request_bodies_refused_total", METRIC_COUNTER,
                          "HTTP requests answered 503 before their body was read because the "
                          "bodies being read already held 4 MiB."),
              (double)atomic_load(&st->http_bodies_refused), LABELS_END);
}

/* What the web config (--web.config.file, exporter/web_auth.h) refused, and its reloads. */
static void add_web(struct metric_set *m, const struct drwatch_stats *st)
{
    mset_addv(m,
              mset_family(m, "drwatch_http_tls_handshake_errors_total", METRIC_COUNTER,
                          "TLS handshakes on the HTTP listener that failed: a plain-HTTP client, "
                          "a client that refused drwatch's certificate, no common version or "
                          "cipher."),
              (double)atomic_load(&st->http_tls_handshake_errors), LABELS_END);
    struct metric_family *af = mset_family(
        m, "drwatch_http_auth_failures_total", METRIC_COUNTER,
        "HTTP requests the web config refused, by reason: no_credentials and wrong_credentials "
        "(basic_auth_users, answered 401), client_cert_missing and client_cert_invalid "
        "(client_auth_type, the connection closed).");
    for (int r = 0; r < HTTP_AUTH_FAILURE_COUNT; r++)
        mset_addv(m, af, (double)atomic_load(&st->http_auth_failures[r]), "reason",
                  http_auth_failure_name((enum http_auth_failure)r), LABELS_END);
    mset_addv(m,
              gauge(m, "drwatch_web_config_last_reload_successful",
                    "1 if the last read of --web.config.file (and of its TLS files when they "
                    "changed) succeeded (1 without one).",
                    NULL),
              atomic_load(&st->web_config_last_reload_ok), LABELS_END);
    mset_addv(
        m,
        mset_family(m, "drwatch_web_config_reload_failures_total", METRIC_COUNTER,
                    "Reads of a changed --web.config.file, or of its changed TLS settings and "
                    "files, that failed (the previous ones stayed in force)."),
        (double)atomic_load(&st->web_config_reload_failures), LABELS_END);
}

static void add_daemon(struct metric_set *m, const struct drwatch_stats *st)
{
    mset_addv(m,
              gauge(m, "drwatch_config_last_reload_successful",
                    "1 if the last configuration load (start, SIGHUP or /-/reload) succeeded.",
                    NULL),
              atomic_load(&st->last_reload_ok), LABELS_END);
    mset_addv(m,
              gauge(m, "drwatch_config_last_reload_success_timestamp_seconds",
                    "When the configuration was last loaded successfully (Unix time).", "seconds"),
              atomic_load(&st->last_reload_success), LABELS_END);
    struct metric_family *rl = mset_family(m, "drwatch_config_reloads_total", METRIC_COUNTER,
                                           "Configuration reloads, by result.");
    mset_addv(m, rl, (double)atomic_load(&st->reloads_ok), "result", "success", LABELS_END);
    mset_addv(m, rl, (double)atomic_load(&st->reloads_failed), "result", "failure", LABELS_END);
    struct metric_family *hr = mset_family(m, "drwatch_http_requests_total", METRIC_COUNTER,
                                           "HTTP requests served, by handler and status code.");
    for (int h = 0; h < HANDLER_COUNT; h++) {
        for (int c = 0; c < CODE_COUNT; c++) {
            uint64_t n = atomic_load(&st->http_requests[h][c]);
            if (n)
                mset_addv(m, hr, (double)n, "handler", http_handler_name((enum http_handler)h),
                          "code", http_code_text((enum http_code)c), LABELS_END);
        }
    }
    struct metric_family *sp = mset_family(m, "drwatch_snapshots_published_total", METRIC_COUNTER,
                                           "Snapshots of all collectors' samples published.");
    mset_addv(m, sp, (double)atomic_load(&st->snapshots_published), LABELS_END);
    mset_addv(m,
              gauge(m, "drwatch_snapshot_series", "Series in the last published snapshot.", NULL),
              (double)atomic_load(&st->snapshot_series), LABELS_END);
    mset_addv(m,
              gauge(m, "drwatch_snapshot_publish_duration_seconds",
                    "Time to merge and pre-render the last snapshot.", "seconds"),
              atomic_load(&st->last_publish_seconds), LABELS_END);
    struct metric_family *cf = mset_family(
        m, "drwatch_snapshot_family_conflicts_total", METRIC_COUNTER,
        "Families and series left out of snapshots because two collectors gave a family "
        "different types, or the same series.");
    mset_addv(m, cf, (double)atomic_load(&st->snapshot_conflicts_total), LABELS_END);
}

static void self_start(void *state, struct scrape *s)
{
    struct self *self = state;
    struct metric_set *m = scrape_set(s);
    add_build_info(m, self->site);
    add_process(m, self->stats);
    add_daemon(m, self->stats);
    add_http_limits(m, self->stats);
    add_web(m, self->stats);
    scrape_done(s, true, NULL, NULL);
}

static int self_create(const void *config, const struct collector_env *env, struct target_list *out,
                       char *err, size_t errlen)
{
    (void)err, (void)errlen;
    const struct self_config *c = config;
    struct self *self = xcalloc(1, sizeof(*self));
    self->stats = env->stats;
    self->site = xstrdup(env->site ? env->site : "");
    int64_t interval = c->interval_ms ? c->interval_ms : env->fast_interval_ms;
    target_list_add(out, self, "drwatch", "", interval, interval);
    return 0;
}

static void self_free(void *state)
{
    struct self *self = state;
    if (!self) return;
    free(self->site);
    free(self);
}

const struct collector_ops self_collector = {
    .name = "self",
    .module = {.name = "self", .keys = self_keys, .size = sizeof(struct self_config)},
    .enabled_by_default = true,
    .create = self_create,
    .start = self_start,
    .free = self_free,
};
