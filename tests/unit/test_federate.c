/* test_federate.c: /federate's match[] parsing (none, too many, too long, a selector that does
 * not parse: each refused with the reason; other parameters ignored) and what it renders from
 * a snapshot of two sets: the union of the selectors, each series once; histogram and summary
 * series by their suffixed names; HELP, TYPE and UNIT once per family, taken as /metrics takes
 * them; OpenMetrics names and types as /metrics gives them (a counter whose _total-less name is
 * a family too stays `unknown`); gzip; an empty selection; the output cap. A selector of every
 * series renders exactly what snapshot_render does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "buf.h"
#include "caps.h"
#include "federate.h"
#include "http_route.h"
#include "registry.h"
#include "tap.h"
#include "xalloc.h"

static struct snapshot *snap;

static void build_snapshot(void)
{
    struct metric_set *a = mset_new(), *b = mset_new();
    struct metric_family *f = mset_family(a, "up", METRIC_GAUGE, "1 if the target is up.");
    mset_addv(a, f, 1, "job", "kong", "instance", "k1", NULL);
    mset_addv(a, f, 0, "job", "kong", "instance", "k2", NULL);
    mset_addv(a, f, 1, "job", "patroni", NULL);
    f = mset_family(a, "lat_seconds", METRIC_HISTOGRAM, "Latency.");
    mset_family_set_unit(a, f, "seconds");
    mset_addv(a, f, 0, "site", "gold", NULL); /* a histogram has no plain samples: refused */
    static const char *const le[] = {"0.1", "1", "+Inf"};
    for (int i = 0; i < 3; i++) {
        struct label_pair l[] = {{"le", le[i]}, {"site", "gold"}};
        mset_add(a, f, SUFFIX_BUCKET, l, 2, i + 1);
    }
    struct label_pair gold[] = {{"site", "gold"}};
    mset_add(a, f, SUFFIX_SUM, gold, 1, 0.5);
    mset_add(a, f, SUFFIX_COUNT, gold, 1, 3);
    f = mset_family(a, "rpc_seconds", METRIC_SUMMARY, "RPCs.");
    struct label_pair q[] = {{"quantile", "0.5"}};
    mset_add(a, f, SUFFIX_NONE, q, 1, 0.01);
    mset_add(a, f, SUFFIX_SUM, NULL, 0, 7);
    mset_add(a, f, SUFFIX_COUNT, NULL, 0, 70);
    f = mset_family(a, "reqs_total", METRIC_COUNTER, "Requests.");
    mset_addv(a, f, 100, "code", "200", NULL);
    mset_addv(a, f, 5, "code", "500", NULL);
    /* jobs_total is a counter, and jobs a gauge: in OpenMetrics the counter stays unknown. */
    f = mset_family(a, "jobs_total", METRIC_COUNTER, "Jobs.");
    mset_addv(a, f, 9, NULL);
    f = mset_family(a, "jobs", METRIC_GAUGE, "Jobs now.");
    mset_addv(a, f, 2, NULL);
    /* The second set: more of up, and a series the first set has already (the snapshot leaves
     * it out). */
    f = mset_family(b, "up", METRIC_GAUGE, "");
    mset_addv(b, f, 1, "job", "fluentd", NULL);
    mset_addv(b, f, 7, "job", "patroni", NULL);
    struct metric_set *sets[] = {a, b};
    snap = snapshot_new(sets, 2, 1);
    mset_unref(a);
    mset_unref(b);
}

/* The query of "key=value" strings, as the server copies a request's query. */
static int parse(struct federate_query **q, char *err, size_t errlen, size_t n,
                 const char *const *kv)
{
    struct http_kv args[64] = {0};
    char *copies[64];
    for (size_t i = 0; i < n; i++) {
        copies[i] = xstrdup(kv[i]);
        char *eq = strchr(copies[i], '=');
        *eq = '\0';
        args[i] = (struct http_kv){copies[i], eq + 1};
    }
    int rc = federate_query_parse(args, n, q, err, errlen);
    for (size_t i = 0; i < n; i++) free(copies[i]);
    return rc;
}

#define PARSE(q, err, ...)                                                          \
    parse((q), (err), sizeof(err), ARRAY_LEN(((const char *const[]){__VA_ARGS__})), \
          (const char *const[]){__VA_ARGS__})

/* What federate_render answers for the match[] selectors given, or "ERROR: ..." */
static char *fed(enum expo_format f, bool gzip, size_t cap, size_t *nseries, size_t n,
                 const char *const *matches)
{
    struct http_kv args[64] = {0};
    for (size_t i = 0; i < n; i++) args[i] = (struct http_kv){"match[]", matches[i]};
    struct federate_query *q;
    char err[1024];
    if (federate_query_parse(args, n, &q, err, sizeof(err)) < 0) return xasprintf("ERROR: %s", err);
    struct buf out;
    buf_init(&out, cap);
    int rc = federate_render(q, snap, f, gzip, &out, nseries);
    federate_query_free(q);
    if (rc) {
        buf_free(&out);
        return xasprintf("ERROR: %d", rc);
    }
    return buf_steal(&out, NULL);
}

#define FED(f, ...)                                                                            \
    fed((f), false, CAP_FEDERATE_REPLY, NULL, ARRAY_LEN(((const char *const[]){__VA_ARGS__})), \
        (const char *const[]){__VA_ARGS__})

static void check(char *got, const char *want, const char *name)
{
    is_str(got, want, "%s", name);
    free(got);
}

static void test_parse(void)
{
    struct federate_query *q;
    char err[1024];
    ok(PARSE(&q, err, "query=up") < 0 && q == NULL, "no match[]: refused");
    is_str(err,
           "no match[] parameter: /federate needs at least one series selector, such as "
           "match[]={job=\"kong\"} or match[]=up",
           "and says what is needed");
    must(PARSE(&q, err, "foo=bar", "match[]=up", "match=x", "match[]={job=~\"k.*\"}"));
    is_int(federate_query_count(q), 2, "two match[] among other parameters, which are ignored");
    federate_query_free(q);
    ok(PARSE(&q, err, "match[]=up", "match[]=up{") < 0, "one bad selector refuses the request");
    is_str(err, "match[]=up{: 1:4: parse error: unexpected end of input inside braces",
           "naming it, with Prometheus' parse error");
    ok(PARSE(&q, err, "match[]=") < 0 && strstr(err, "the input is empty"), "an empty match[]");
    ok(PARSE(&q, err, "match[]={job=\"\"}") < 0 && strstr(err, "at least one non-empty matcher"),
       "a selector of everything, as Prometheus refuses it: %s", err);
    ok(PARSE(&q, err, "match[]=rate(up[5m])") < 0 && strstr(err, "after the selector"),
       "an expression is not a selector: %s", err);

    struct http_kv many[CAP_FEDERATE_MATCHES + 1];
    for (size_t i = 0; i < ARRAY_LEN(many); i++) many[i] = (struct http_kv){"match[]", "up"};
    ok(federate_query_parse(many, CAP_FEDERATE_MATCHES, &q, err, sizeof(err)) == 0,
       "%d match[] are taken", CAP_FEDERATE_MATCHES);
    federate_query_free(q);
    ok(federate_query_parse(many, ARRAY_LEN(many), &q, err, sizeof(err)) < 0 && q == NULL,
       "one more is refused");
    is_str(err, "33 match[] parameters of 66 bytes in all: at most 32 of 8192 bytes",
           "saying the caps");
    char *longsel = xmalloc(CAP_FEDERATE_MATCH_BYTES + 16);
    memset(longsel, 'a', CAP_FEDERATE_MATCH_BYTES + 1);
    longsel[CAP_FEDERATE_MATCH_BYTES + 1] = '\0';
    struct http_kv one = {"match[]", longsel};
    ok(federate_query_parse(&one, 1, &q, err, sizeof(err)) < 0 && strstr(err, "8193 bytes"),
       "a match[] over %zu bytes is refused: %.80s", (size_t)CAP_FEDERATE_MATCH_BYTES, err);
    longsel[CAP_FEDERATE_MATCH_BYTES] = '\0';
    ok(federate_query_parse(&one, 1, &q, err, sizeof(err)) == 0, "one of %zu bytes is taken",
       (size_t)CAP_FEDERATE_MATCH_BYTES);
    federate_query_free(q);
    longsel[CAP_FEDERATE_MATCH_BYTES - 2] = '{';
    ok(federate_query_parse(&one, 1, &q, err, sizeof(err)) < 0 && strlen(err) < 400 &&
           strstr(err, "aaa...: 1:8193: parse error"),
       "a long bad selector is cut in the error: %.60s", err);
    free(longsel);
}

static void test_select(void)
{
    check(FED(EXPO_TEXT, "up"),
          "# HELP up 1 if the target is up.\n"
          "# TYPE up gauge\n"
          "up{instance=\"k1\",job=\"kong\"} 1\n"
          "up{instance=\"k2\",job=\"kong\"} 0\n"
          "up{job=\"patroni\"} 1\n"
          "up{job=\"fluentd\"} 1\n",
          "a name: every series of both sets, the one both have once");
    check(FED(EXPO_TEXT, "{job=\"kong\",instance=~\"k2|k3\"}"),
          "# HELP up 1 if the target is up.\n"
          "# TYPE up gauge\n"
          "up{instance=\"k2\",job=\"kong\"} 0\n",
          "label matchers without a name");
    check(FED(EXPO_TEXT, "up{job=\"kong\"}", "{job=~\"kong|fluentd\"}", "up{instance=\"k1\"}"),
          "# HELP up 1 if the target is up.\n"
          "# TYPE up gauge\n"
          "up{instance=\"k1\",job=\"kong\"} 1\n"
          "up{instance=\"k2\",job=\"kong\"} 0\n"
          "up{job=\"fluentd\"} 1\n",
          "the union of overlapping selectors, each series once, in /metrics' order");
    check(FED(EXPO_TEXT, "lat_seconds"), "", "a histogram's own name selects nothing");
    check(FED(EXPO_TEXT, "{__name__=~\"lat_seconds_(sum|count)\"}"),
          "# HELP lat_seconds Latency.\n"
          "# TYPE lat_seconds histogram\n"
          "lat_seconds_sum{site=\"gold\"} 0.5\n"
          "lat_seconds_count{site=\"gold\"} 3\n",
          "a histogram's _sum and _count by __name__, without its buckets");
    check(FED(EXPO_TEXT, "lat_seconds_bucket{le=~\"1|\\\\+Inf\"}"),
          "# HELP lat_seconds Latency.\n"
          "# TYPE lat_seconds histogram\n"
          "lat_seconds_bucket{le=\"1\",site=\"gold\"} 2\n"
          "lat_seconds_bucket{le=\"+Inf\",site=\"gold\"} 3\n",
          "some buckets");
    check(FED(EXPO_TEXT, "rpc_seconds"),
          "# HELP rpc_seconds RPCs.\n"
          "# TYPE rpc_seconds summary\n"
          "rpc_seconds{quantile=\"0.5\"} 0.01\n",
          "a summary's own name: its quantiles");
    check(FED(EXPO_TEXT, "rpc_seconds_count", "rpc_seconds_sum"),
          "# HELP rpc_seconds RPCs.\n"
          "# TYPE rpc_seconds summary\n"
          "rpc_seconds_sum 7\n"
          "rpc_seconds_count 70\n",
          "its _sum and _count, in the family's order whatever the selectors' order");
    check(FED(EXPO_TEXT, "reqs"), "", "a counter is named with its _total");
    check(FED(EXPO_TEXT, "reqs_total{code!=\"200\"}"),
          "# HELP reqs_total Requests.\n"
          "# TYPE reqs_total counter\n"
          "reqs_total{code=\"500\"} 5\n",
          "a counter");
    check(FED(EXPO_TEXT, "nothing", "{job=\"nobody\"}"), "", "nothing selected: an empty body");
    check(FED(EXPO_OPENMETRICS, "nothing"), "# EOF\n", "in OpenMetrics, # EOF alone");
}

static void test_openmetrics(void)
{
    check(FED(EXPO_OPENMETRICS, "reqs_total", "{__name__=~\"lat_.*\",le=\"+Inf\"}"),
          "# TYPE lat_seconds histogram\n"
          "# UNIT lat_seconds seconds\n"
          "# HELP lat_seconds Latency.\n"
          "lat_seconds_bucket{le=\"+Inf\",site=\"gold\"} 3\n"
          "# TYPE reqs counter\n"
          "# HELP reqs Requests.\n"
          "reqs_total{code=\"200\"} 100\n"
          "reqs_total{code=\"500\"} 5\n"
          "# EOF\n",
          "OpenMetrics: UNIT, the counter's family without _total, its samples with it");
    check(FED(EXPO_OPENMETRICS, "jobs_total"),
          "# TYPE jobs_total unknown\n"
          "# HELP jobs_total Jobs.\n"
          "jobs_total 9\n"
          "# EOF\n",
          "a counter whose _total-less name is a family stays unknown, as in /metrics, even "
          "when that family is not selected");
}

static char *gunzip(const char *data, size_t len)
{
    z_stream z = {0};
    if (inflateInit2(&z, 15 + 16) != Z_OK) return NULL;
    size_t cap = 1 << 20;
    char *out = xmalloc(cap + 1);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int rc = inflate(&z, Z_FINISH);
    size_t n = cap - z.avail_out;
    inflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    out[n] = '\0';
    return out;
}

static void test_gzip_and_cap(void)
{
    const char *sel[] = {"up", "rpc_seconds_count"};
    size_t series = 0;
    char *plain = fed(EXPO_TEXT, false, CAP_FEDERATE_REPLY, &series, 2, sel);
    is_int(series, 5, "five series selected");
    struct federate_query *q;
    char err[256];
    struct http_kv args[] = {{"match[]", "up"}, {"match[]", "rpc_seconds_count"}};
    must(federate_query_parse(args, 2, &q, err, sizeof(err)));
    struct buf gz;
    buf_init(&gz, CAP_FEDERATE_REPLY);
    must(federate_render(q, snap, EXPO_TEXT, true, &gz, NULL));
    ok(gz.len > 18 && (unsigned char)gz.data[0] == 0x1f && (unsigned char)gz.data[1] == 0x8b,
       "gzip: a gzip stream");
    char *back = gz.len ? gunzip(gz.data, gz.len) : NULL;
    is_str(back, plain, "which decodes to the plain answer");
    free(back);
    buf_free(&gz);
    struct buf small;
    buf_init(&small, 64);
    is_int(federate_render(q, snap, EXPO_TEXT, false, &small, NULL), -E2BIG,
           "an answer over its buffer's cap: -E2BIG");
    buf_free(&small);
    federate_query_free(q);
    free(plain);
}

static void test_everything(void)
{
    for (int f = 0; f < 2; f++) {
        const char *all[] = {"{__name__=~\".+\"}"};
        char *got = fed((enum expo_format)f, false, CAP_FEDERATE_REPLY, NULL, 1, all);
        const char *want;
        size_t len;
        must(snapshot_render(snap, (enum expo_format)f, false, &want, &len));
        is_str(got, want, "%s: a selector of every series renders what /metrics does",
               f ? "OpenMetrics" : "text");
        free(got);
    }
}

int main(void)
{
    build_snapshot();
    test_parse();
    test_select();
    test_openmetrics();
    test_gzip_and_cap();
    test_everything();
    snapshot_unref(snap);
    return done_testing();
}
