/* test_exposition.c: text 0.0.4 and OpenMetrics 1.0 rendering against golden files in
 * tests/data/render (one small set per case), the gzip variants against the plain ones, and
 * snapshot_render from several threads at once.
 *
 * Run from the repository root. DRWATCH_UPDATE_GOLDEN=1 rewrites the golden files from the
 * current output; review the diff before committing it. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "buf.h"
#include "caps.h"
#include "golden.h"
#include "registry.h"
#include "strutil.h"
#include "tap.h"
#include "textparse.h"
#include "xalloc.h"

#define GOLDEN_DIR "tests/data/render/"

static struct metric_family *fam(struct metric_set *s, const char *name, enum metric_type t,
                                 const char *help, const char *unit)
{
    struct metric_family *f = mset_family(s, name, t, help);
    if (unit) mset_family_set_unit(s, f, unit);
    return f;
}

static void add(struct metric_set *s, struct metric_family *f, enum metric_suffix sfx, double v,
                const char *n1, const char *v1, const char *n2, const char *v2)
{
    struct label_pair l[2] = {{n1, v1}, {n2, v2}};
    int rc = mset_add(s, f, sfx, l, n2 ? 2 : (n1 ? 1 : 0), v);
    if (rc) diag("mset_add %s: %d", f->name, rc);
}

/* ---- the cases: each builds the sets of one golden pair ---- */

static size_t case_counter(struct metric_set **sets)
{
    struct metric_set *s = sets[0] = mset_new();
    struct metric_family *f =
        fam(s, "demo_requests_total", METRIC_COUNTER, "Requests handled, by code.", NULL);
    mset_addv(s, f, 1027, "code", "200", "method", "get", NULL);
    mset_addv(s, f, 3, "code", "500", "method", "post", NULL);
    f = fam(s, "demo_cpu_seconds_total", METRIC_COUNTER, "CPU time spent.", "seconds");
    mset_addv(s, f, 12.5, NULL);
    f = fam(s, "demo_idle_total", METRIC_COUNTER, "A counter that never moved.", NULL);
    mset_addv(s, f, 0, NULL);
    return 1;
}

/* Upstream names re-exposed verbatim: a counter without _total, a family without help
 * (promtool lints both). */
static size_t case_upstream_counter(struct metric_set **sets)
{
    struct metric_set *s = sets[0] = mset_new();
    struct metric_family *f = fam(s, "kong_bandwidth_bytes", METRIC_COUNTER,
                                  "Total bandwidth in bytes for all proxied requests.", "bytes");
    mset_addv(s, f, 5096, "service", "a", "direction", "egress", NULL);
    mset_addv(s, f, 1024, "service", "a", "direction", "ingress", NULL);
    /* No help text: no HELP line (promtool lints that too). */
    f = fam(s, "kong_datastore_reachable", METRIC_GAUGE, "", NULL);
    mset_addv(s, f, 1, NULL);
    return 1;
}

static size_t case_gauge(struct metric_set **sets)
{
    struct metric_set *s = sets[0] = mset_new();
    static const struct {
        const char *name;
        double v;
    } nums[] = {
        {"zero", 0},
        {"negative_zero", -0.0},
        {"one", 1},
        {"minus_one", -1},
        {"int", 1234567},
        {"big_int", 123456789012345},
        {"e15", 1e15},
        {"two_pow_53", 9007199254740992.0},
        {"e21", 1e21},
        {"tenth", 0.1},
        {"quarter", 0.25},
        {"minus_half", -2.5},
        {"pi", 3.14159},
        {"third", 1.0 / 3.0},
        {"sum_tenths", 0.1 + 0.2},
        {"e_minus_5", 1e-05},
        {"small", 1.5e-07},
        {"frac_big", 1234567.5},
        {"max", DBL_MAX},
        {"min_normal", DBL_MIN},
        {"min_subnormal", 5e-324},
        {"nan", NAN},
        {"inf", INFINITY},
        {"minus_inf", -INFINITY},
    };
    struct metric_family *f = fam(s, "demo_value", METRIC_GAUGE, "Number formatting.", NULL);
    for (size_t i = 0; i < ARRAY_LEN(nums); i++)
        mset_addv(s, f, nums[i].v, "case", nums[i].name, NULL);
    /* UNIT only when the name ends with _<unit>. */
    f = fam(s, "demo_queue_bytes", METRIC_GAUGE, "Bytes queued.", "bytes");
    mset_addv(s, f, 2048, NULL);
    f = fam(s, "demo_temperature_celsius", METRIC_GAUGE, "A unit that is not the suffix.",
            "seconds");
    mset_addv(s, f, 21.5, NULL);
    return 1;
}

static size_t case_histogram(struct metric_set **sets)
{
    struct metric_set *s = sets[0] = mset_new();
    struct metric_family *f =
        fam(s, "demo_response_size_bytes", METRIC_HISTOGRAM, "Response sizes.", "bytes");
    static const char *const le[] = {"0.5", "1", "25", "100000", "1000000", "+Inf"};
    static const double counts[][6] = {{0, 1, 4, 9, 10, 10}, {0, 0, 0, 1, 1, 2}};
    static const char *const handler[] = {"/api", "/metrics"};
    for (int h = 0; h < 2; h++) {
        for (int i = 0; i < 6; i++)
            add(s, f, SUFFIX_BUCKET, counts[h][i], "handler", handler[h], "le", le[i]);
        add(s, f, SUFFIX_SUM, h ? 2500000.5 : 123456, "handler", handler[h], NULL, NULL);
        add(s, f, SUFFIX_COUNT, counts[h][5], "handler", handler[h], NULL, NULL);
    }
    return 1;
}

/* Kong's order (all buckets, then all counts, then all sums, by series key, le zero-padded)
 * through the real parser; one label set has its buckets out of order on purpose. */
static int on_kong_sample(void *arg, const struct tp_sample *ps)
{
    struct metric_set *s = arg;
    char name[64];
    snprintf(name, sizeof(name), "%.*s", (int)ps->family_len, ps->name);
    struct metric_family *f = mset_family(s, name, ps->family_type, "");
    return mset_add_parsed(s, f, ps, NULL, 0);
}

static int on_kong_help(void *arg, const char *name, size_t nl, const char *text, size_t tl,
                        unsigned line)
{
    (void)line;
    struct metric_set *s = arg;
    char n[64], h[256];
    snprintf(n, sizeof(n), "%.*s", (int)nl, name);
    textparse_unescape(h, text, tl < sizeof(h) - 1 ? tl : sizeof(h) - 1);
    struct metric_family *f = mset_family(s, n, METRIC_HISTOGRAM, h);
    return f ? 0 : -1;
}

static size_t case_upstream_histogram(struct metric_set **sets)
{
    static const char body[] = "# HELP kong_latency_ms Latency added by Kong in ms\n"
                               "# TYPE kong_latency_ms histogram\n"
                               "kong_latency_ms_bucket{service=\"a\",le=\"00001.0\"} 1\n"
                               "kong_latency_ms_bucket{service=\"a\",le=\"00005.0\"} 3\n"
                               "kong_latency_ms_bucket{service=\"a\",le=\"+Inf\"} 4\n"
                               "kong_latency_ms_bucket{service=\"b\",le=\"+Inf\"} 2\n"
                               "kong_latency_ms_bucket{service=\"b\",le=\"00005.0\"} 2\n"
                               "kong_latency_ms_bucket{service=\"b\",le=\"00001.0\"} 0\n"
                               "kong_latency_ms_count{service=\"a\"} 4\n"
                               "kong_latency_ms_count{service=\"b\"} 2\n"
                               "kong_latency_ms_sum{service=\"a\"} 9\n"
                               "kong_latency_ms_sum{service=\"b\"} 7.5\n";
    struct metric_set *s = sets[0] = mset_new();
    struct textparse_handler h = {.help = on_kong_help, .sample = on_kong_sample};
    struct textparse_error err;
    int rc = textparse_run(body, sizeof(body) - 1, &h, s, NULL, &err, NULL);
    if (rc) diag("kong body: %d %s", rc, err.msg);
    return 1;
}

static size_t case_summary(struct metric_set **sets)
{
    struct metric_set *s = sets[0] = mset_new();
    struct metric_family *f =
        fam(s, "demo_rpc_duration_seconds", METRIC_SUMMARY, "RPC latency.", "seconds");
    static const char *const q[] = {"0.5", "0.9", "0.99", "1"};
    static const double v[][4] = {{0.012, 0.05, 0.25, 1.5}, {NAN, NAN, NAN, NAN}};
    static const char *const svc[] = {"auth", "idle"};
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 4; k++)
            add(s, f, SUFFIX_NONE, v[i][k], "service", svc[i], "quantile", q[k]);
        add(s, f, SUFFIX_SUM, i ? 0 : 17.25, "service", svc[i], NULL, NULL);
        add(s, f, SUFFIX_COUNT, i ? 0 : 311, "service", svc[i], NULL, NULL);
    }
    return 1;
}

static size_t case_untyped(struct metric_set **sets)
{
    struct metric_set *s = sets[0] = mset_new();
    struct metric_family *f =
        fam(s, "demo_untyped_value", METRIC_UNTYPED, "A value of unknown type.", NULL);
    mset_addv(s, f, 7, "source", "textfile", NULL);
    mset_addv(s, f, -3.5, "source", "script", NULL);
    return 1;
}

static size_t case_info(struct metric_set **sets)
{
    struct metric_set *s = sets[0] = mset_new();
    struct metric_family *f =
        fam(s, "demo_build_info", METRIC_INFO, "Version and revision of demo.", NULL);
    mset_addv(s, f, 1, "version", "1.2.3", "revision", "abc123", NULL);
    f = fam(s, "demo_target", METRIC_INFO, "An info family without the _info suffix.", NULL);
    mset_addv(s, f, 1, "env", "prod", NULL);
    return 1;
}

static size_t case_stateset(struct metric_set **sets)
{
    struct metric_set *s = sets[0] = mset_new();
    /* A unit on a stateset is never rendered: OpenMetrics wants it empty. */
    struct metric_family *f =
        fam(s, "demo_drill_state", METRIC_STATESET, "Where the DR drill is, per site.", "state");
    static const char *const states[] = {"idle", "running", "done"};
    for (int k = 0; k < 3; k++) {
        mset_addv(s, f, k == 1, "site", "gold", "demo_drill_state", states[k], NULL);
        mset_addv(s, f, k == 0, "site", "golddr", "demo_drill_state", states[k], NULL);
    }
    return 1;
}

static size_t case_escaping(struct metric_set **sets)
{
    struct metric_set *s = sets[0] = mset_new();
    struct metric_family *f = fam(s, "demo_note_info", METRIC_GAUGE,
                                  "Path C:\\dir, \"quoted\"\nand a second line.", NULL);
    mset_addv(s, f, 1, "path", "C:\\logs\\x", "msg", "said \"hi\"\nbye", NULL);
    mset_addv(s, f, 2, "path", "a,b=\"c\"", "msg", "caf\xc3\xa9 \xe2\x9c\x93", NULL);
    mset_addv(s, f, 3, "path", "\\\\n", "msg", "\\\"", NULL);
    return 1;
}

static size_t case_empty(struct metric_set **sets)
{
    struct metric_set *s = sets[0] = mset_new();
    fam(s, "demo_nothing_yet", METRIC_GAUGE, "Declared, never set.", NULL);
    fam(s, "demo_no_buckets", METRIC_HISTOGRAM, "Declared, never observed.", NULL);
    struct metric_family *f = fam(s, "demo_present", METRIC_GAUGE, "The only family.", NULL);
    mset_addv(s, f, 1, NULL);
    return 1;
}

/* Two producers: families of the same name merge in set order, the conflicting one is out. */
static size_t case_merge(struct metric_set **sets)
{
    struct metric_set *a = sets[0] = mset_new(), *b = sets[1] = mset_new();
    struct metric_family *f = fam(a, "demo_up", METRIC_GAUGE, "1 if the target answered.", NULL);
    mset_addv(a, f, 1, "target", "kong", NULL);
    f = fam(b, "demo_up", METRIC_GAUGE, "Other help, not used.", NULL);
    mset_addv(b, f, 0, "target", "patroni", NULL);
    f = fam(a, "demo_errors_total", METRIC_COUNTER, "Errors; the first set decides the type.",
            NULL);
    mset_addv(a, f, 9, "target", "kong", NULL);
    f = fam(b, "demo_errors_total", METRIC_GAUGE, "A conflicting type: left out.", NULL);
    mset_addv(b, f, 2, "target", "patroni", NULL);
    f = fam(b, "demo_last_seen_seconds", METRIC_GAUGE, "Only in the second set.", "seconds");
    mset_addv(b, f, 1718000000, "target", "patroni", NULL);
    return 2;
}

/* A counter foo_total and a gauge foo: OpenMetrics would name both families foo. */
static size_t case_clash(struct metric_set **sets)
{
    struct metric_set *s = sets[0] = mset_new();
    struct metric_family *f = fam(s, "demo_jobs", METRIC_GAUGE, "Jobs running now.", NULL);
    mset_addv(s, f, 3, NULL);
    f = fam(s, "demo_jobs_total", METRIC_COUNTER, "Jobs started.", NULL);
    mset_addv(s, f, 40, NULL);
    f = fam(s, "demo_version", METRIC_GAUGE, "A gauge named like an info family.", NULL);
    mset_addv(s, f, 2, NULL);
    f = fam(s, "demo_version_info", METRIC_INFO, "Version.", NULL);
    mset_addv(s, f, 1, "version", "2", NULL);
    return 1;
}

struct render_case {
    const char *name;
    size_t (*build)(struct metric_set **sets);
};

static const struct render_case cases[] = {
    {"counter", case_counter},
    {"upstream_counter", case_upstream_counter},
    {"gauge", case_gauge},
    {"histogram", case_histogram},
    {"upstream_histogram", case_upstream_histogram},
    {"summary", case_summary},
    {"untyped", case_untyped},
    {"info", case_info},
    {"stateset", case_stateset},
    {"escaping", case_escaping},
    {"empty", case_empty},
    {"merge", case_merge},
    {"clash", case_clash},
};

/* ---- checks ---- */

/* Two checks (readable, then equal), or one when DRWATCH_UPDATE_GOLDEN rewrites the file. */
static void check_golden(const char *path, const char *got, size_t len)
{
    if (golden_updating()) {
        ok(golden_write(path, got, len) == 0, "%s rewritten", path);
        return;
    }
    char *want = golden_slurp(path);
    if (!ok(want != NULL, "%s: readable (run from the repo root)", path)) return;
    is_str(got, want, "%s", path);
    free(want);
}

/* Decompresses a whole gzip body; NULL if it is not exactly one valid gzip stream. */
static char *gunzip(const char *data, size_t len, size_t *out_len)
{
    z_stream z = {0};
    if (inflateInit2(&z, 15 + 16) != Z_OK) return NULL;
    size_t cap = len * 8 + 64, n = 0;
    char *out = malloc(cap + 1);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    int rc;
    do {
        if (cap - n < 4096) out = realloc(out, (cap *= 2) + 1);
        z.next_out = (Bytef *)out + n;
        z.avail_out = (uInt)(cap - n);
        rc = inflate(&z, Z_NO_FLUSH);
        n = cap - z.avail_out;
    } while (rc == Z_OK);
    bool good = rc == Z_STREAM_END && z.avail_in == 0;
    inflateEnd(&z);
    if (!good) {
        free(out);
        return NULL;
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

/* Properties every exposition must have, whatever its content. */
static void check_structure(const char *what, const char *d, size_t len, enum expo_format f)
{
    bool nl_end = len == 0 || d[len - 1] == '\n';
    bool blank = strstr(d, "\n\n") != NULL || (len && d[0] == '\n');
    bool cr = memchr(d, '\r', len) != NULL;
    ok(nl_end && !blank && !cr, "%s: ends with a newline, no blank line, no CR", what);
    if (f == EXPO_OPENMETRICS) {
        ok(len >= 6 && strcmp(d + len - 6, "# EOF\n") == 0 && (len == 6 || d[len - 7] == '\n'),
           "%s: ends with # EOF", what);
        bool meta_ok = true;
        for (const char *p = d; p < d + len;) {
            const char *e = memchr(p, '\n', (size_t)(d + len - p));
            if (*p == '#' && strncmp(p, "# TYPE ", 7) && strncmp(p, "# UNIT ", 7) &&
                strncmp(p, "# HELP ", 7) && !(strncmp(p, "# EOF\n", 6) == 0 && e + 1 == d + len))
                meta_ok = false;
            p = e + 1;
        }
        ok(meta_ok, "%s: only TYPE, UNIT, HELP and a final EOF start with #", what);
    } else {
        struct textparse_opts o = {.strict = true};
        struct textparse_error err;
        struct textparse_handler h = {0};
        int rc = textparse_run(d, len, &h, NULL, &o, &err, NULL);
        ok(rc == 0, "%s: parses again in strict mode%s%s", what, rc ? ": " : "", rc ? err.msg : "");
    }
}

static void run_case(const struct render_case *c)
{
    struct metric_set *sets[4] = {0};
    size_t n = c->build(sets);
    struct snapshot *snap = snapshot_new(sets, n, 1);
    for (size_t i = 0; i < n; i++) mset_unref(sets[i]);
    for (int f = 0; f < 2; f++) {
        const char *plain, *gz;
        size_t plen, glen;
        char path[256], what[128];
        snprintf(path, sizeof(path), GOLDEN_DIR "%s.%s.txt", c->name, f ? "openmetrics" : "text");
        snprintf(what, sizeof(what), "%s %s", c->name, f ? "openmetrics" : "text");
        int rc = snapshot_render(snap, (enum expo_format)f, false, &plain, &plen);
        if (!ok(rc == 0, "%s: rendered", what)) continue;
        ok(strlen(plain) == plen, "%s: length matches, NUL-terminated", what);
        check_golden(path, plain, plen);
        check_structure(what, plain, plen, (enum expo_format)f);
        rc = snapshot_render(snap, (enum expo_format)f, true, &gz, &glen);
        size_t ul = 0;
        char *un = rc == 0 ? gunzip(gz, glen, &ul) : NULL;
        ok(un && ul == plen && memcmp(un, plain, plen) == 0,
           "%s: gzip variant decompresses to the plain one", what);
        free(un);
    }
    snapshot_unref(snap);
}

/* ---- concurrency ---- */

struct racer {
    struct snapshot *snap;
    pthread_barrier_t *start;
    const char *data;
    size_t len;
    int rc;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->start);
    r->rc = snapshot_render(r->snap, EXPO_OPENMETRICS, true, &r->data, &r->len);
    return NULL;
}

static struct metric_set *big_set(size_t nfam, size_t per)
{
    struct metric_set *s = mset_new();
    char name[64], v[32];
    for (size_t i = 0; i < nfam; i++) {
        snprintf(name, sizeof(name), "demo_big_%zu_seconds", i);
        struct metric_family *f = mset_family(s, name, METRIC_GAUGE, "Many series.");
        for (size_t j = 0; j < per; j++) {
            snprintf(v, sizeof(v), "instance-%zu", j);
            mset_addv(s, f, (double)j / 7.0, "instance", v, "site", "gold", NULL);
        }
    }
    return s;
}

static void test_concurrent(void)
{
    struct metric_set *s = big_set(100, 200);
    struct snapshot *snap = snapshot_new(&s, 1, 1);
    mset_unref(s);
    int unused = 0;
    for (int f = 0; f < 2; f++)
        for (int g = 0; g < 2; g++) unused += !snapshot_variant_used(snap, (enum expo_format)f, g);
    is_int(unused, 4, "no variant used before the first render");
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 4);
    struct racer r[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (struct racer){.snap = snap, .start = &start};
        pthread_create(&t[i], NULL, race, &r[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    bool same = true;
    for (int i = 0; i < 4; i++)
        same = same && r[i].rc == 0 && r[i].data == r[0].data && r[i].len == r[0].len;
    ok(same, "4 threads at once: the same body (pointer and length) for all");
    ok(snapshot_variant_used(snap, EXPO_OPENMETRICS, true), "OpenMetrics gzip is now used");
    ok(!snapshot_variant_used(snap, EXPO_OPENMETRICS, false) &&
           !snapshot_variant_used(snap, EXPO_TEXT, true) &&
           !snapshot_variant_used(snap, EXPO_TEXT, false),
       "the other variants are not");
    const char *plain;
    size_t plen, ul = 0;
    must(snapshot_render(snap, EXPO_OPENMETRICS, false, &plain, &plen));
    char *un = gunzip(r[0].data, r[0].len, &ul);
    ok(un && ul == plen && memcmp(un, plain, plen) == 0,
       "rendered once: one gzip stream that is the plain body (%zu bytes)", plen);
    free(un);
    const char *again;
    size_t alen;
    must(snapshot_render(snap, EXPO_OPENMETRICS, true, &again, &alen));
    ok(again == r[0].data && alen == r[0].len, "a later call returns the same body");
    snapshot_unref(snap);
}

/* ---- render_exposition directly ---- */

static void test_caps(void)
{
    struct metric_set *s = big_set(20, 500);
    struct snapshot *snap = snapshot_new(&s, 1, 1);
    mset_unref(s);
    size_t n;
    const struct family_view *v = snapshot_families(snap, &n);
    struct buf b;
    buf_init(&b, 1000);
    is_int(render_exposition(&b, EXPO_TEXT, false, v, n), -E2BIG, "text past the cap: -E2BIG");
    ok(b.len <= 1000, "and the body stays under the cap");
    buf_free(&b);
    buf_init(&b, 1000);
    is_int(render_exposition(&b, EXPO_TEXT, true, v, n), -E2BIG, "gzip past the cap: -E2BIG");
    ok(b.len <= 1000, "gzip body under the cap");
    buf_free(&b);
    buf_init(&b, CAP_EXPOSITION);
    is_int(render_exposition(&b, EXPO_TEXT, true, v, n), 0, "gzip under the exposition's cap");
    size_t full = b.len;
    buf_free(&b);
    buf_init(&b, full);
    is_int(render_exposition(&b, EXPO_TEXT, true, v, n), 0, "gzip with a cap of exactly its size");
    size_t ul = 0;
    char *un = gunzip(b.data, b.len, &ul);
    const char *plain;
    size_t plen;
    must(snapshot_render(snap, EXPO_TEXT, false, &plain, &plen));
    ok(un && ul == plen && memcmp(un, plain, plen) == 0,
       "10000 series (several deflate blocks) decompress to the text body");
    free(un);
    buf_free(&b);
    snapshot_unref(snap);
}

/* Regression: a counter named exactly "_total" gave the OpenMetrics family an empty name. */
static void test_degenerate_names(void)
{
    struct metric_set *s = mset_new();
    struct metric_family *f = mset_family(s, "_total", METRIC_COUNTER, "");
    mset_addv(s, f, 1, NULL);
    f = mset_family(s, "_info", METRIC_INFO, "");
    mset_addv(s, f, 1, NULL);
    struct snapshot *snap = snapshot_new(&s, 1, 1);
    mset_unref(s);
    const char *d;
    size_t len;
    must(snapshot_render(snap, EXPO_OPENMETRICS, false, &d, &len));
    is_str(d, "# TYPE _info gauge\n_info 1\n# TYPE _total unknown\n_total 1\n# EOF\n",
           "_total and _info keep their names in OpenMetrics");
    snapshot_unref(snap);
}

/* ---- OpenMetrics grouping on shuffled input ---- */

/* Removes the pair name="..." from labels (in place). Returns its value, or NULL. */
static char *take_label(char *labels, const char *name, char *value, size_t vcap)
{
    size_t nl = strlen(name);
    for (char *p = labels; *p;) {
        char *start = p;
        char *eq = strchr(p, '=');
        if (!eq) return NULL;
        char *v = eq + 2, *e = v;
        while (*e && *e != '"') e += *e == '\\' ? 2 : 1;
        char *next = e[0] ? e + 1 : e;
        if ((size_t)(eq - start) == nl && strncmp(start, name, nl) == 0) {
            snprintf(value, vcap, "%.*s", (int)(e - v), v);
            if (*next == ',')
                next++;
            else if (start > labels)
                start--;
            memmove(start, next, strlen(next) + 1);
            return value;
        }
        p = *next == ',' ? next + 1 : next;
    }
    return NULL;
}

/* Checks that each metric's samples are contiguous and that buckets and quantiles ascend;
 * returns the number of sample lines, or -1 (with a diagnostic) on a violation. */
static int check_om_grouping(const char *body)
{
    char seen[64][700];
    int nseen = 0, lines = 0;
    char cur[700] = "";
    double last = -INFINITY;
    for (const char *p = body; *p;) {
        const char *e = strchr(p, '\n');
        char line[512];
        snprintf(line, sizeof(line), "%.*s", (int)(e - p), p);
        p = e + 1;
        if (line[0] == '#') continue;
        lines++;
        char *brace = strchr(line, '{'), labels[512] = "", value[64];
        char name[128];
        if (brace) {
            snprintf(name, sizeof(name), "%.*s", (int)(brace - line), line);
            snprintf(labels, sizeof(labels), "%.*s", (int)(strrchr(line, '}') - brace - 1),
                     brace + 1);
        } else {
            snprintf(name, sizeof(name), "%.*s", (int)strcspn(line, " "), line);
        }
        /* The family: the name without a histogram or summary suffix. */
        static const char *const sfx[] = {"_bucket", "_sum", "_count"};
        for (size_t i = 0; i < ARRAY_LEN(sfx); i++)
            if (str_has_suffix(name, sfx[i])) name[strlen(name) - strlen(sfx[i])] = '\0';
        double bound = NAN;
        if (take_label(labels, "le", value, sizeof(value)) ||
            take_label(labels, "quantile", value, sizeof(value)))
            bound = strtod(value, NULL);
        take_label(labels, name, value, sizeof(value)); /* a stateset's state */
        char key[700];
        snprintf(key, sizeof(key), "%s{%s}", name, labels);
        if (strcmp(key, cur) != 0) {
            for (int i = 0; i < nseen; i++) {
                if (strcmp(seen[i], key) == 0) {
                    diag("metric %s comes back at: %s", key, line);
                    return -1;
                }
            }
            if (nseen < 64) snprintf(seen[nseen++], sizeof(seen[0]), "%s", key);
            snprintf(cur, sizeof(cur), "%s", key);
            last = -INFINITY;
        }
        if (!isnan(bound)) {
            if (!(bound > last)) {
                diag("bound not ascending at: %s", line);
                return -1;
            }
            last = bound;
        }
    }
    return lines;
}

struct pending {
    int kind; /* 0 histogram bucket, 1 _sum, 2 _count, 3 summary quantile, 4 state */
    int set, k;
};

static void test_om_grouping(void)
{
    static const char *const le[] = {"0.1", "0.5", "1", "5", "+Inf"};
    static const char *const q[] = {"0", "0.5", "0.99", "1"};
    static const char *const states[] = {"a", "b", "c"};
    static const char *const sets_v[] = {"s0", "s1", "s2", "s3", "s4"};
    unsigned seed = 12345;
    int bad = 0, total_lines = 0;
    for (int trial = 0; trial < 200; trial++) {
        struct metric_set *s = mset_new();
        struct metric_family *h = fam(s, "rt_seconds", METRIC_HISTOGRAM, "h", NULL);
        struct metric_family *sm = fam(s, "rq_seconds", METRIC_SUMMARY, "s", NULL);
        struct metric_family *st = fam(s, "rs", METRIC_STATESET, "st", NULL);
        struct pending todo[5 * 16];
        int n = 0, nsets = 1 + trial % 5;
        for (int i = 0; i < nsets; i++) {
            for (int k = 0; k < 5; k++) todo[n++] = (struct pending){0, i, k};
            todo[n++] = (struct pending){1, i, 0};
            todo[n++] = (struct pending){2, i, 0};
            for (int k = 0; k < 4; k++) todo[n++] = (struct pending){3, i, k};
            for (int k = 0; k < 3; k++) todo[n++] = (struct pending){4, i, k};
        }
        for (int i = n - 1; i > 0; i--) { /* shuffle */
            seed = seed * 1103515245 + 12345;
            int j = (int)((seed >> 8) % (unsigned)(i + 1));
            struct pending t = todo[i];
            todo[i] = todo[j];
            todo[j] = t;
        }
        for (int i = 0; i < n; i++) {
            const char *sv = sets_v[todo[i].set];
            int k = todo[i].k;
            switch (todo[i].kind) {
            case 0: add(s, h, SUFFIX_BUCKET, k, "le", le[k], "zone", sv); break;
            case 1: add(s, h, SUFFIX_SUM, 1.5, "zone", sv, NULL, NULL); break;
            case 2: add(s, h, SUFFIX_COUNT, 4, "zone", sv, NULL, NULL); break;
            case 3: add(s, sm, SUFFIX_NONE, k, "quantile", q[k], "zone", sv); break;
            default: add(s, st, SUFFIX_NONE, k == 0, "rs", states[k], "zone", sv); break;
            }
        }
        struct snapshot *snap = snapshot_new(&s, 1, 1);
        mset_unref(s);
        const char *d;
        size_t len;
        must(snapshot_render(snap, EXPO_OPENMETRICS, false, &d, &len));
        int lines = check_om_grouping(d);
        if (lines != n) bad++;
        total_lines += lines;
        snapshot_unref(snap);
    }
    /* The checker itself must see what it looks for. */
    is_int(check_om_grouping("h_bucket{le=\"1.0\",z=\"a\"} 1\nh_bucket{le=\"1.0\",z=\"b\"} 1\n"
                             "h_count{z=\"a\"} 1\n# EOF\n"),
           -1, "the grouping check sees an interleaved metric");
    is_int(check_om_grouping("h_bucket{le=\"+Inf\"} 1\nh_bucket{le=\"1.0\"} 1\n# EOF\n"), -1,
           "and buckets out of order");
    is_int(check_om_grouping("s{s=\"a\",z=\"1\"} 1\ns{s=\"b\",z=\"1\"} 0\n# EOF\n"), 2,
           "and accepts a stateset's states together");
    is_int(bad, 0,
           "200 shuffled histograms, summaries and statesets: every metric contiguous, "
           "bounds ascending, no sample lost (%d lines)",
           total_lines);
}

int main(void)
{
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) run_case(&cases[i]);
    test_concurrent();
    test_caps();
    test_degenerate_names();
    test_om_grouping();
    return done_testing();
}
