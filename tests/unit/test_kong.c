/* test_kong.c: the Kong collector's mappings, data-driven: canned Kong 2.8 and 3.x bodies from
 * tests/data/kong (reference/kong.md samples and variants) in, golden /metrics text out; the
 * request summaries checked against values worked out by hand (rates, counter resets, new
 * series, 5xx ratio, histogram_quantile over merged 2.8 and 3.x buckets); malformed and
 * unexpected bodies refused with a reason; the config refused where it must be.
 *
 * Run from the repository root. DRWATCH_UPDATE_GOLDEN=1 rewrites the golden files from the
 * current output; review the diff before committing it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "collector_env.h"
#include "collectors.h"
#include "config.h"
#include "golden.h"
#include "keep.h"
#include "kong.h"
#include "registry.h"
#include "tap.h"
#include "xalloc.h"

#define DATA "tests/data/kong/"
#define NOW  1718012400.0 /* the wall clock the data-plane cases run at */

static char *slurp(const char *name, size_t *len)
{
    char *path = xasprintf(DATA "%s", name);
    char *data = golden_slurp_len(path, len);
    if (!data) {
        diag("cannot read %s", path);
        data = xstrdup("");
    }
    free(path);
    return data;
}

static void golden(const char *name, struct metric_set *set)
{
    char *got = golden_render_text(set);
    char *path = xasprintf(DATA "%s", name);
    golden_check(path, got, "golden %s", name);
    free(path);
    free(got);
}

static const struct kong_node_id gold_trad = {"gold", "kong-gold", KONG_TRADITIONAL};
static const struct kong_node_id gold_cp = {"gold", "kong-cp-gold", KONG_CONTROL_PLANE};
static const struct kong_node_id gold_dp = {"gold", "kong-dp-gold", KONG_DATA_PLANE};
static const struct kong_node_id golddr_trad = {"golddr", "kong-golddr", KONG_TRADITIONAL};

/* ---- /status and /clustering/data-planes: golden cases ---- */

static void test_status_golden(void)
{
    static const struct {
        const char *in;
        const struct kong_node_id *id;
    } cases[] = {
        {"status-3.9-traditional.json", &gold_trad},    /* unit=m strings (Kong's default) */
        {"status-3.9-dp-unit-b.json", &gold_dp},        /* 3.4+: no database on a DP */
        {"status-2.8-dp.json", &gold_dp},               /* 2.8: database on a DP, left out */
        {"status-3.2-dbless-empty.json", &golddr_trad}, /* [] dicts, a worker err, no config */
        {"status-3.9-cp-db-down.json", &gold_cp},       /* {} workers, GiB, database down */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t len;
        char *body = slurp(cases[i].in, &len), err[200] = "";
        struct metric_set *set = mset_new();
        int rc = kong_status_map(set, cases[i].id, body, len, err, sizeof(err));
        ok(rc == 0, "%s maps (%s)", cases[i].in, err);
        char *g = xasprintf("%s.golden", cases[i].in);
        golden(g, set);
        free(g);
        mset_unref(set);
        free(body);
    }
}

static void test_data_planes_golden(void)
{
    static const struct {
        const char *in;
        size_t rows;
        bool truncated;
    } cases[] = {
        {"dataplanes-3.9.json", 2, false},
        {"dataplanes-2.8.json", 1, false},
        {"dataplanes-empty-object.json", 0, false}, /* "data": {} */
        {"dataplanes-split.json", 6, true},         /* majority hash, stale rows, next page */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t len;
        char *body = slurp(cases[i].in, &len), err[200] = "";
        struct metric_set *set = mset_new();
        struct kong_dp_result res;
        int rc = kong_data_planes_map(set, &gold_cp, body, len, NOW, &res, err, sizeof(err));
        ok(rc == 0 && res.rows == cases[i].rows && res.truncated == cases[i].truncated,
           "%s maps: %zu rows%s (%s)", cases[i].in, res.rows, res.truncated ? ", truncated" : "",
           err);
        char *g = xasprintf("%s.golden", cases[i].in);
        golden(g, set);
        free(g);
        mset_unref(set);
        free(body);
    }
}

static double sample_value(struct metric_set *set, const char *family, const char *labels)
{
    struct metric_family *f = mset_family_find(set, family, strlen(family));
    for (size_t i = 0; f && i < f->nsamples; i++)
        if (strcmp(f->samples[i].labels, labels) == 0) return f->samples[i].value;
    return NAN;
}

static void test_data_planes_values(void)
{
    size_t len;
    char *body = slurp("dataplanes-split.json", &len), err[200];
    struct metric_set *set = mset_new();
    struct kong_dp_result res;
    must(kong_data_planes_map(set, &gold_cp, body, len, NOW, &res, err, sizeof(err)));
    ok(!isnan(sample_value(set, "drwatch_kong_cluster_config_hash_info",
                           "config_hash=\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",site=\"gold\","
                           "target=\"kong-cp-gold\"")),
       "the hash of most fresh data planes is the control plane's (stale rows do not vote)");
    is_int(sample_value(set, "drwatch_kong_data_plane_config_in_sync",
                        "hostname=\"dp-gold-a\",node_id=\"11111111-0000-4000-8000-000000000001\","
                        "site=\"gold\",target=\"kong-cp-gold\""),
           0, "the data plane with the odd hash is out of sync");
    is_int(sample_value(set, "drwatch_kong_data_plane_config_in_sync",
                        "hostname=\"dp-golddr-a\",node_id=\"11111111-0000-4000-8000-000000000003\","
                        "site=\"gold\",target=\"kong-cp-gold\""),
           1, "the DR data plane with the majority hash is in sync");
    is_int(sample_value(set, "drwatch_kong_data_plane_last_seen_age_seconds",
                        "hostname=\"dp-gold-b\",node_id=\"11111111-0000-4000-8000-000000000002\","
                        "site=\"gold\",target=\"kong-cp-gold\""),
           15, "last seen age is now - last_seen");
    mset_unref(set);
    free(body);
    /* A data plane seen "in the future" (clock skew) is 0 s old, not negative. */
    set = mset_new();
    const char *skew = "{\"data\":[{\"id\":\"x\",\"hostname\":\"h\",\"last_seen\":1718012500}]}";
    must(kong_data_planes_map(set, &gold_cp, skew, strlen(skew), NOW, &res, err, sizeof(err)));
    is_int(sample_value(set, "drwatch_kong_data_plane_last_seen_age_seconds",
                        "hostname=\"h\",node_id=\"x\",site=\"gold\",target=\"kong-cp-gold\""),
           0, "a last_seen ahead of drwatch's clock gives age 0");
    mset_unref(set);
}

/* ---- /metrics ---- */

static struct kong_obs *observe(const char *name, const struct kong_node_id *id,
                                struct metric_set *set, bool passthrough)
{
    size_t len;
    char *body = slurp(name, &len), err[200] = "";
    struct kong_obs *o = kong_obs_new();
    int rc = kong_metrics_map(set, id, passthrough, body, len, o, err, sizeof(err));
    ok(rc == 0, "%s parses (%s)", name, err);
    free(body);
    return o;
}

static void test_metrics_golden(void)
{
    static const struct {
        const char *in;
        const struct kong_node_id *id;
        bool passthrough;
        const char *version;
    } cases[] = {
        {"metrics-3.9.prom", &gold_trad, false, "3.9.1"},
        {"metrics-2.8.prom", &golddr_trad, false, ""},
        {"metrics-3.9-cp.prom", &gold_cp, true, "3.9.1"},
        {"metrics-3.9-http-stream.prom", &gold_dp, true, ""}, /* repeated HELP/TYPE */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct metric_set *set = mset_new();
        struct kong_obs *o = observe(cases[i].in, cases[i].id, set, cases[i].passthrough);
        is_str(kong_obs_version(o), cases[i].version, "%s: version from kong_node_info",
               cases[i].in);
        kong_node_info_add(set, cases[i].id, o);
        char *g = xasprintf("%s%s.golden", cases[i].in, cases[i].passthrough ? "-passthrough" : "");
        golden(g, set);
        free(g);
        kong_obs_free(o);
        mset_unref(set);
    }
}

/* Builds the summary of one site from (prev, cur, seconds) per node. */
struct node_case {
    const char *prev, *cur;
    double seconds;
};

static struct metric_set *summarise(const char *site, const struct node_case *nodes, size_t n)
{
    struct kong_window win[4] = {0};
    const struct kong_window *wp[4];
    for (size_t i = 0; i < n; i++) {
        struct kong_obs *a = observe(nodes[i].prev, &gold_trad, NULL, false);
        struct kong_obs *b = observe(nodes[i].cur, &gold_trad, NULL, false);
        kong_window_compute(&win[i], a, b, nodes[i].seconds);
        wp[i] = &win[i];
        kong_obs_free(a);
        kong_obs_free(b);
    }
    struct metric_set *set = mset_new();
    kong_summary_add(set, site, wp, n);
    for (size_t i = 0; i < n; i++) kong_window_clear(&win[i]);
    return set;
}

static bool near(double got, double want)
{
    return fabs(got - want) <= 1e-9 * (fabs(want) > 1 ? fabs(want) : 1);
}

#define is_near(got, want, ...)                                                      \
    do {                                                                             \
        double g_ = (got), w_ = (want);                                              \
        if (!ok(near(g_, w_), __VA_ARGS__)) diag("  got %.12g, want %.12g", g_, w_); \
    } while (0)

static double svc(struct metric_set *set, const char *family, const char *site, const char *service,
                  const char *quantile)
{
    char labels[200];
    if (quantile)
        snprintf(labels, sizeof(labels), "quantile=\"%s\",service=\"%s\",site=\"%s\"", quantile,
                 service, site);
    else
        snprintf(labels, sizeof(labels), "service=\"%s\",site=\"%s\"", service, site);
    return sample_value(set, family, labels);
}

static void test_summary_values(void)
{
    /* 3.9, 15 s: orders-api +1500 200s and +30 503s on its route, and a new route with 300
     * requests (a series new since the last scrape counts from zero); payments-api is new with
     * 50 200s and 50 500s, all 100 between 400 and 700 ms. */
    struct node_case one[] = {{"metrics-3.9.prom", "metrics-3.9-next.prom", 15}};
    struct metric_set *set = summarise("gold", one, 1);
    golden("summary-3.9.golden", set);
    is_near(svc(set, "drwatch_kong_service_requests_per_second", "gold", "orders-api", NULL),
            1830.0 / 15, "orders-api: 1830 requests in 15 s");
    is_near(svc(set, "drwatch_kong_service_5xx_per_second", "gold", "orders-api", NULL), 2,
            "orders-api: 30 5xx in 15 s");
    is_near(svc(set, "drwatch_kong_service_5xx_ratio", "gold", "orders-api", NULL), 30.0 / 1830,
            "orders-api: 5xx ratio 30/1830");
    /* Buckets of the window: 1300 <= 25 ms, 1700 <= 50, 1800 <= 80 .. 250, 1830 <= 400. */
    is_near(svc(set, "drwatch_kong_service_request_duration_seconds", "gold", "orders-api", "0.5"),
            0.025 * 915 / 1300, "orders-api p50 interpolated in the first bucket");
    is_near(svc(set, "drwatch_kong_service_request_duration_seconds", "gold", "orders-api", "0.9"),
            0.025 + 0.025 * 347 / 400, "orders-api p90 in (25, 50] ms");
    is_near(svc(set, "drwatch_kong_service_request_duration_seconds", "gold", "orders-api", "0.99"),
            0.25 + 0.15 * 11.7 / 30, "orders-api p99 in (250, 400] ms");
    is_near(svc(set, "drwatch_kong_service_5xx_ratio", "gold", "payments-api", NULL), 0.5,
            "payments-api: a new service counts from zero: ratio 50/100");
    is_near(
        svc(set, "drwatch_kong_service_request_duration_seconds", "gold", "payments-api", "0.9"),
        0.4 + 0.3 * 0.9, "payments-api p90 in (400, 700] ms");
    mset_unref(set);

    /* A restart: every counter went down, so each counts from zero (increase() semantics). */
    struct node_case rs[] = {{"metrics-3.9.prom", "metrics-3.9-restart.prom", 15}};
    set = summarise("gold", rs, 1);
    is_near(svc(set, "drwatch_kong_service_requests_per_second", "gold", "orders-api", NULL), 7,
            "after a counter reset the rate is the new count over the window (105/15)");
    is_near(svc(set, "drwatch_kong_service_5xx_per_second", "gold", "orders-api", NULL), 5.0 / 15,
            "and the 5xx rate too");
    is_near(svc(set, "drwatch_kong_service_request_duration_seconds", "gold", "orders-api", "0.5"),
            0.0125, "and the quantiles come from the new buckets");
    mset_unref(set);

    /* No traffic between two scrapes: rate 0, ratio 0, no quantiles. */
    struct node_case idle[] = {{"metrics-3.9.prom", "metrics-3.9.prom", 15}};
    set = summarise("golddr", idle, 1);
    is_near(svc(set, "drwatch_kong_service_requests_per_second", "golddr", "orders-api", NULL), 0,
            "an idle service has rate 0");
    is_near(svc(set, "drwatch_kong_service_5xx_ratio", "golddr", "orders-api", NULL), 0,
            "and 5xx ratio 0");
    ok(isnan(svc(set, "drwatch_kong_service_request_duration_seconds", "golddr", "orders-api",
                 "0.5")),
       "and no latency quantiles");
    mset_unref(set);

    /* Two nodes of one site, a 3.9 one (15 s) and a 2.8 one (10 s, 600 requests in (10, 15]
     * ms, 2.8 bounds): rates add up; quantiles come from the merged buckets. */
    struct node_case two[] = {{"metrics-3.9.prom", "metrics-3.9-next.prom", 15},
                              {"metrics-2.8.prom", "metrics-2.8-next.prom", 10}};
    set = summarise("gold", two, 2);
    golden("summary-mixed.golden", set);
    is_near(svc(set, "drwatch_kong_service_requests_per_second", "gold", "orders-api", NULL),
            1830.0 / 15 + 60, "rates of the site's nodes add up (122 + 60 per second)");
    is_near(svc(set, "drwatch_kong_service_5xx_ratio", "gold", "orders-api", NULL),
            2.0 / (1830.0 / 15 + 60), "the site's 5xx ratio is 5xx rate over request rate");
    double p50 =
        svc(set, "drwatch_kong_service_request_duration_seconds", "gold", "orders-api", "0.5");
    ok(p50 > 0.010 && p50 < 0.025, "the merged p50 falls where most requests were (%g s)", p50);
    is_int(sample_value(set, "drwatch_kong_site_nodes", "site=\"gold\""), 2,
           "site_nodes counts the nodes");
    mset_unref(set);

    set = mset_new();
    kong_summary_add(set, "golddr", NULL, 0);
    is_int(sample_value(set, "drwatch_kong_site_nodes", "site=\"golddr\""), 0,
           "a site without fresh nodes says so");
    mset_unref(set);
}

static void test_quantile(void)
{
    const double inf = INFINITY;
    double b[] = {0.1, 0.2, 0.5, inf}, c[] = {10, 20, 30, 40};
    is_near(kong_histogram_quantile(0.5, b, c, 4), 0.2, "p50 on a bucket edge");
    is_near(kong_histogram_quantile(0.375, b, c, 4), 0.1 + 0.1 * 0.5, "p37.5 interpolated");
    is_near(kong_histogram_quantile(0.9, b, c, 4), 0.5,
            "a rank in the +Inf bucket gives the last finite bound");
    is_near(kong_histogram_quantile(0.1, b, c, 4), 0.04, "the first bucket starts at 0");
    double c0[] = {0, 0, 0, 0};
    ok(isnan(kong_histogram_quantile(0.5, b, c0, 4)), "no observations: NaN");
    double bn[] = {0.1, 0.2}, cn[] = {1, 2};
    ok(isnan(kong_histogram_quantile(0.5, bn, cn, 2)), "no +Inf bucket: NaN");
    ok(isinf(kong_histogram_quantile(1.5, b, c, 4)) && isinf(kong_histogram_quantile(-1, b, c, 4)),
       "q outside [0, 1] gives +/-Inf like PromQL");
    double cm[] = {10, 5, 30, 40}; /* not cumulative: raised to be */
    is_near(kong_histogram_quantile(0.25, b, cm, 4), 0.1 + 0.1 * 0,
            "non-monotonic buckets are fixed");
}

/* ---- refused bodies ---- */

static void test_refused(void)
{
    static const char *const status_bad[] = {
        "",
        "{\"server\":",
        "[]",
        "{}",
        "{\"server\":{}}",
        "{\"server\":{\"connections_active\":\"9\",\"connections_reading\":0,"
        "\"connections_writing\":0,\"connections_waiting\":0,\"connections_accepted\":1,"
        "\"connections_handled\":1,\"total_requests\":1}}",
        "{\"server\":{\"connections_active\":9,\"connections_reading\":0,"
        "\"connections_writing\":0,\"connections_waiting\":0,\"connections_accepted\":1,"
        "\"connections_handled\":1,\"total_requests\":1},\"database\":{\"reachable\":\"yes\"}}",
        "{\"server\":{\"connections_active\":9,\"connections_reading\":0,"
        "\"connections_writing\":0,\"connections_waiting\":0,\"connections_accepted\":1,"
        "\"connections_handled\":1,\"total_requests\":1},\"memory\":{\"lua_shared_dicts\":"
        "{\"kong\":{\"allocated_slabs\":\"1 TiB\",\"capacity\":\"5.00 MiB\"}}}}",
        "{\"server\":{\"connections_active\":9,\"connections_reading\":0,"
        "\"connections_writing\":0,\"connections_waiting\":0,\"connections_accepted\":1,"
        "\"connections_handled\":1,\"total_requests\":1},\"memory\":{\"workers_lua_vms\":"
        "[{\"pid\":1,\"http_allocated_gc\":\"-5 MiB\"}]}}",
        "<html><body>502 Bad Gateway</body></html>",
    };
    for (size_t i = 0; i < ARRAY_LEN(status_bad); i++) {
        char err[200] = "";
        struct metric_set *set = mset_new();
        int rc = kong_status_map(set, &gold_trad, status_bad[i], strlen(status_bad[i]), err,
                                 sizeof(err));
        ok(rc == -1 && err[0], "/status body %zu refused: %s", i, err);
        mset_unref(set);
    }
    static const char *const dp_bad[] = {
        "{\"data\":[1]}",
        "{\"data\":\"none\"}",
        "{\"message\":\"this endpoint is only available when Kong is configured to run as "
        "Control Plane for the cluster\"}",
        "{\"data\":[{\"hostname\":\"x\"}]}",
        "{\"data\":[{\"id\":\"x\",\"last_seen\":\"now\"}]}",
        "{\"data\":[{\"id\":\"x\",\"labels\":{\"site\":1}}]}",
        "{\"data\":[],\"next\":5}",
        "{\"data\":[{\"id\":\"x\"}",
        "{\"data\":{\"a\":1}}",
    };
    for (size_t i = 0; i < ARRAY_LEN(dp_bad); i++) {
        char err[200] = "";
        struct kong_dp_result res;
        struct metric_set *set = mset_new();
        int rc = kong_data_planes_map(set, &gold_cp, dp_bad[i], strlen(dp_bad[i]), NOW, &res, err,
                                      sizeof(err));
        ok(rc == -1 && err[0], "data-planes body %zu refused: %s", i, err);
        mset_unref(set);
    }
    static const char *const metrics_bad[] = {
        "kong_datastore_reachable 1", /* cut: no final newline */
        "kong_datastore_reachable{ 1\n",
        "{\"message\":\"An unexpected error occurred\"}\n",
        "# TYPE kong_x gauge\n# TYPE kong_x counter\nkong_x 1\n",
        "kong_latency_bucket{le=\"1\"} 1\nkong_latency_bucket{le=\"1\"} x\n",
    };
    for (size_t i = 0; i < ARRAY_LEN(metrics_bad); i++) {
        char err[200] = "";
        struct kong_obs *o = kong_obs_new();
        struct metric_set *set = mset_new();
        int rc = kong_metrics_map(set, &gold_trad, true, metrics_bad[i], strlen(metrics_bad[i]), o,
                                  err, sizeof(err));
        ok(rc == -1 && err[0], "/metrics body %zu refused: %s", i, err);
        kong_obs_free(o);
        mset_unref(set);
    }
}

/* The caps: a body with more services than KONG_MAX_SERVICES keeps the first ones. */
static void test_caps(void)
{
    struct buf b;
    buf_init(&b, CAP_HTTP_BODY);
    buf_puts(&b, "# TYPE kong_http_requests_total counter\n");
    for (int i = 0; i < KONG_MAX_SERVICES + 5; i++)
        buf_printf(&b, "kong_http_requests_total{service=\"s%d\",code=\"200\"} 1\n", i);
    struct kong_obs *o = kong_obs_new();
    char err[200] = "";
    int rc = kong_metrics_map(NULL, &gold_trad, false, b.data, b.len, o, err, sizeof(err));
    ok(rc == 0 && kong_obs_capped(o), "more than %d services: parsed, and capped",
       KONG_MAX_SERVICES);
    is_int(kong_obs_samples(o), KONG_MAX_SERVICES + 5, "every sample was read");
    kong_obs_free(o);
    buf_free(&b);
}

/* ---- config ---- */

static int create(const char *src, char *err, size_t errlen, size_t *ntargets)
{
    const struct cfg_module *mods[] = {&kong_collector.module};
    struct config *cfg = config_load_buffer(src, strlen(src), "test.lua", mods, 1, err, errlen);
    if (!cfg) return -2;
    struct keep *keep = keep_new();
    struct collector_env env = {
        .default_interval_ms = 15000, .fast_interval_ms = 5000, .keep = keep};
    struct target_list tl = {0};
    int rc = kong_collector.create(config_module(cfg, "kong", NULL), &env, &tl, err, errlen);
    *ntargets = tl.n;
    for (size_t i = 0; i < tl.n; i++) {
        kong_collector.free(tl.v[i].state);
        free(tl.v[i].name);
        free(tl.v[i].site);
    }
    free(tl.v);
    keep_free(keep);
    config_free(cfg);
    return rc;
}

static void test_config(void)
{
    char err[300];
    size_t n = 0;
    int rc = create("kong = { targets = {\n"
                    "  { site = 'gold', url = 'http://cp.gold:8001', role = 'control_plane' },\n"
                    "  { site = 'gold', url = 'http://dp.gold:8100', role = 'data_plane',\n"
                    "    passthrough = true },\n"
                    "  { site = 'golddr', url = 'http://kong.golddr:8001', metrics_path = '' },\n"
                    "} }\n",
                    err, sizeof(err), &n);
    ok(rc == 0 && n == 4, "three nodes and one summary (golddr has no /metrics): %zu targets (%s)",
       n, rc ? err : "");
    static const struct {
        const char *src, *want;
    } bad[] = {
        {"kong = { targets = { { site = 'gold', url = 'http://a', role = 'leader' } } }", "role"},
        {"kong = { targets = { { site = 'gold', url = 'http://a' }, { site = 'gold', "
         "url = 'http://a' } } }",
         "two targets named"},
        {"kong = { targets = { { site = 'gold', url = 'http://a', name = 'summary' } } }",
         "summary"},
        {"kong = { targets = { { site = 'gold', url = 'ftp://a' } } }", "http"},
        {"kong = { targets = { { site = 'gold', url = 'http://a', status_path = '', "
         "metrics_path = '' } } }",
         "both empty"},
        {"kong = { targets = {} }", "empty"},
        {"kong = { targets = { { site = 'gold', url = 'http://a', passthru = true } } }",
         "unknown key"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        rc = create(bad[i].src, err, sizeof(err), &n);
        ok(rc < 0 && strstr(err, bad[i].want), "refused config %zu: %s", i, err);
    }
}

int main(void)
{
    test_status_golden();
    test_data_planes_golden();
    test_data_planes_values();
    test_metrics_golden();
    test_summary_values();
    test_quantile();
    test_refused();
    test_caps();
    test_config();
    return done_testing();
}
