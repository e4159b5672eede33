/* test_patroni.c: the Patroni mapping, data-driven: each directory of tests/data/patroni/
 * holds canned REST API bodies (the lab's Patroni 3.0.2 captures and patroni.md's 4.1.4
 * samples) and a case.txt saying which member answered what; the rendered /metrics must equal
 * the directory's expected.prom (DRWATCH_UPDATE_GOLDEN=1 rewrites them). Then the parsers'
 * refusals, caps and edge cases one by one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "golden.h"
#include "patroni.h"
#include "registry.h"
#include "tap.h"
#include "xalloc.h"

#define DATA    "tests/data/patroni"
#define MAX_EPS 8

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char *path = xasprintf("%s/%s", dir, name);
    char *data = golden_slurp_len(path, len);
    free(path);
    return data;
}

static void check_golden(const char *dir, const char *got)
{
    char *path = xasprintf("%s/expected.prom", dir);
    golden_check(path, got, "%s: /metrics as expected", dir);
    free(path);
}

struct cse {
    char site[32];
    double now;
    struct walpos *board;
    struct patroni_endpoint_view eps[MAX_EPS];
    char *urls[MAX_EPS];
    struct patroni_node nodes[MAX_EPS];
    size_t neps;
    struct patroni_cluster cluster;
    struct patroni_config config;
    bool has_cluster, has_config;
};

static bool load_doc(const char *dir, const char *file, int kind, void *out)
{
    size_t len;
    char *body = slurp(dir, file, &len);
    const char *reason = NULL;
    char err[200];
    int rc = -1;
    if (body && kind == 0) rc = patroni_parse_node(body, len, out, &reason, err, sizeof(err));
    if (body && kind == 1) rc = patroni_parse_cluster(body, len, out, &reason, err, sizeof(err));
    if (body && kind == 2) rc = patroni_parse_config(body, len, out, &reason, err, sizeof(err));
    if (!ok(rc == 0, "%s/%s parses", dir, file)) diag("%s: %s", reason ? reason : "", err);
    free(body);
    return rc == 0;
}

static void run_case(const char *dir)
{
    struct cse c = {.board = walpos_new()};
    char *text = slurp(dir, "case.txt", NULL);
    if (!ok(text != NULL, "%s/case.txt read", dir)) return;
    int owner_other = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char a[256], b[256], d[256];
        long long tl, lsn;
        double seen;
        if (line[0] == '#') continue;
        if (sscanf(line, "site %31s", c.site) == 1) continue;
        if (sscanf(line, "now %lf", &c.now) == 1) continue;
        if (sscanf(line, "board %255s %lld %lld %lf", a, &tl, &lsn, &seen) == 4) {
            walpos_post(c.board, &owner_other, a, tl, lsn, seen);
        } else if (sscanf(line, "endpoint %255s %255s %255s", a, b, d) == 3 && c.neps < MAX_EPS) {
            size_t i = c.neps++;
            c.urls[i] = xstrdup(a);
            c.eps[i] = (struct patroni_endpoint_view){.url = c.urls[i], .node = &c.nodes[i]};
            if (strcmp(d, "-") != 0) {
                c.eps[i].up = load_doc(dir, d, 0, &c.nodes[i]);
                c.eps[i].leader_status = atoi(b);
            }
        } else if (sscanf(line, "cluster %255s", a) == 1) {
            c.has_cluster = strcmp(a, "-") != 0 && load_doc(dir, a, 1, &c.cluster);
        } else if (sscanf(line, "config %255s", a) == 1) {
            c.has_config = strcmp(a, "-") != 0 && load_doc(dir, a, 2, &c.config);
        }
    }
    free(text);
    struct patroni_view v = {.site = c.site,
                             .endpoints = c.eps,
                             .nendpoints = c.neps,
                             .cluster = c.has_cluster ? &c.cluster : NULL,
                             .config = c.has_config ? &c.config : NULL};
    struct metric_set *set = mset_new();
    patroni_emit(set, &v, c.board, &c, c.now, 15);
    char *got = golden_render_text(set);
    check_golden(dir, got);
    free(got);
    mset_unref(set);
    for (size_t i = 0; i < c.neps; i++) {
        patroni_node_clear(&c.nodes[i]);
        free(c.urls[i]);
    }
    patroni_cluster_clear(&c.cluster);
    patroni_config_clear(&c.config);
    walpos_unref(c.board);
}

static void test_cases(void)
{
    char *names[64];
    int n = golden_cases(DATA, "", names, 64);
    if (!ok(n >= 0, "%s exists", DATA)) return;
    ok(n >= 6, "%d golden cases", n);
    for (int i = 0; i < n; i++) {
        char *dir = xasprintf("%s/%s", DATA, names[i]);
        run_case(dir);
        free(dir);
        free(names[i]);
    }
}

/* ---- refusals and edge cases ---- */

static const char *node_reason(const char *body)
{
    struct patroni_node n;
    const char *reason = "none";
    char err[200];
    if (patroni_parse_node(body, strlen(body), &n, &reason, err, sizeof(err)) == 0) {
        patroni_node_clear(&n);
        return "ok";
    }
    return reason;
}

static void test_refusals(void)
{
    is_str(node_reason("<html><body>503 Service Unavailable</body></html>"), "bad_json",
           "an HTML error page is bad_json");
    is_str(node_reason("{\"state\": \"running\", \"role\": \"master\""), "bad_json",
           "a body cut at close (HTTP/1.0, no Content-Length) is bad_json");
    is_str(node_reason("[1, 2]"), "unexpected_json", "a JSON array is unexpected_json");
    is_str(node_reason("{\"hello\": 1}"), "unexpected_json", "an object without role/state too");
    is_str(node_reason("{\"state\": 1, \"role\": \"replica\"}"), "unexpected_json",
           "a non-string state too");
    char deep[200] = "";
    for (int i = 0; i < 40; i++) strcat(deep, "[");
    is_str(node_reason(deep), "too_deep", "nesting past the cap is too_deep, before parsing");
    is_str(node_reason("{\"state\":\"running\",\"role\":\"replica\",\"x\":\"[[[[[[[[[[[[[[[[[[[["
                       "[[[[[[[[[[[[[[[[[[[[\"}"),
           "ok", "brackets inside strings do not count as nesting");
    is_str(node_reason("{\"state\":\"running\",\"role\":\"replica\",\"xlog\":5,\"timeline\":\"x\","
                       "\"patroni\":[]}"),
           "ok", "fields of the wrong type are treated as absent");

    struct patroni_cluster c;
    const char *reason = NULL;
    char err[200];
    ok(patroni_parse_cluster("{\"scope\":\"x\"}", 13, &c, &reason, err, sizeof(err)) < 0 &&
           strcmp(reason, "unexpected_json") == 0,
       "/cluster without members is refused");
    struct patroni_config g;
    ok(patroni_parse_config("{\"standby_cluster\": null}", 25, &g, &reason, err, sizeof(err)) ==
               0 &&
           !g.standby,
       "standby_cluster: null means not a standby cluster");
    patroni_config_clear(&g);
    ok(patroni_parse_config("{\"standby_cluster\": {\"host\": \"a,b\", \"port\": \"5433\"}}", 52,
                            &g, &reason, err, sizeof(err)) == 0 &&
           g.standby && strcmp(g.port, "5433") == 0 && strcmp(g.host, "a,b") == 0,
       "a port given as a string is kept");
    patroni_config_clear(&g);
}

static void test_node_fields(void)
{
    const char *body =
        "{\"state\":\"running\",\"role\":\"master\",\"xlog\":{\"location\":9007199254740993},"
        "\"timeline\":3,\"pause\":true,\"cluster_unlocked\":true,\"pending_restart\":true,"
        "\"patroni\":{\"version\":\"3.3.0\",\"scope\":\"s\"}}";
    struct patroni_node n;
    const char *reason;
    char err[200];
    ok(patroni_parse_node(body, strlen(body), &n, &reason, err, sizeof(err)) == 0, "node parses");
    is_str(n.role, "primary", "role master (Patroni < 4) becomes primary");
    ok(n.has_location && n.location == 9007199254740993LL, "a 64-bit LSN is kept exactly");
    ok(n.pause && n.cluster_unlocked && n.pending_restart && n.timeline == 3, "flags read");
    ok(!n.has_replayed_ts, "no replayed timestamp on a primary");
    patroni_node_clear(&n);

    body = "{\"state\":\"running\",\"role\":\"replica\",\"xlog\":{\"replayed_timestamp\":"
           "\"2024-06-10 09:45:39.998120-02:30\",\"paused\":false}}";
    int prc = patroni_parse_node(body, strlen(body), &n, &reason, err, sizeof(err));
    ok(prc == 0 && n.has_replayed_ts && n.replayed_ts > 1718021739.99 &&
           n.replayed_ts < 1718021740.0,
       "a timestamp with a negative offset (%.6f)", n.replayed_ts);
    ok(n.has_replay_paused && !n.replay_paused, "xlog.paused false is present and false");
    patroni_node_clear(&n);

    /* A label value from outside is cut to PATRONI_MAX_LABEL bytes on a UTF-8 boundary. */
    struct buf b;
    buf_init(&b, CAP_HTTP_BODY);
    buf_puts(&b, "{\"state\":\"");
    for (int i = 0; i < 200; i++) buf_puts(&b, "\xc3\xa9"); /* é, 2 bytes */
    buf_puts(&b, "\",\"role\":\"replica\"}");
    ok(patroni_parse_node(b.data, b.len, &n, &reason, err, sizeof(err)) == 0 &&
           strlen(n.state) == PATRONI_MAX_LABEL,
       "a 400-byte state is cut to %d bytes", PATRONI_MAX_LABEL);
    patroni_node_clear(&n);
    buf_free(&b);
}

static void test_member_cap(void)
{
    struct buf b;
    buf_init(&b, CAP_HTTP_BODY);
    buf_puts(&b, "{\"members\":[");
    for (int i = 0; i < PATRONI_MAX_MEMBERS + 6; i++)
        buf_printf(&b, "%s{\"name\":\"m%d\",\"role\":\"replica\",\"state\":\"running\",\"lag\":%d}",
                   i ? "," : "", i, i);
    buf_puts(&b, ",{\"role\":\"replica\"},7]}");
    struct patroni_cluster c;
    const char *reason;
    char err[200];
    ok(patroni_parse_cluster(b.data, b.len, &c, &reason, err, sizeof(err)) == 0, "70 members");
    is_int(c.nmembers, PATRONI_MAX_MEMBERS, "kept up to the cap");
    is_int(c.dropped, 6, "the rest counted; nameless and non-object members skipped");
    struct patroni_view v = {.site = "gold", .cluster = &c};
    struct metric_set *set = mset_new();
    patroni_emit(set, &v, NULL, NULL, 0, 15);
    char *text = golden_render_text(set);
    ok(strstr(text, "drwatch_patroni_cluster_members{scope=\"\",site=\"gold\"} 70") ||
           strstr(text, "drwatch_patroni_cluster_members{site=\"gold\"} 70"),
       "cluster_members says 70");
    ok(!strstr(text, "member=\"m64\""), "member 65 is not exported");
    free(text);
    mset_unref(set);
    patroni_cluster_clear(&c);
    buf_free(&b);
}

static void test_board(void)
{
    struct walpos *b = walpos_new();
    int o1, o2;
    walpos_post(b, &o1, "42", 1, 1000, 100);
    walpos_post(b, &o2, "42", 2, 500, 100);
    int64_t lsn;
    double age;
    ok(walpos_primary(b, "42", 1, 101, 10, &lsn, &age) && lsn == 1000 && age == 1,
       "the primary on the standby's timeline wins");
    ok(walpos_primary(b, "42", 2, 101, 10, &lsn, &age) && lsn == 500,
       "even when another has a higher position");
    ok(walpos_primary(b, "42", 0, 101, 10, &lsn, &age) && lsn == 1000, "any timeline: highest");
    is_int(walpos_primaries(b, "42", 101, 10), 2, "two owners saw a primary of this system");
    ok(!walpos_primary(b, "42", 1, 200, 10, &lsn, &age), "stale positions are not used");
    ok(!walpos_primary(b, "43", 1, 101, 10, &lsn, &age), "another system's are not either");
    walpos_drop(b, &o1);
    ok(walpos_primary(b, "42", 1, 101, 10, &lsn, &age) && lsn == 500, "drop forgets an owner");
    walpos_unref(b);
}

int main(void)
{
    test_cases();
    test_refusals();
    test_node_fields();
    test_member_cap();
    test_board();
    return done_testing();
}
