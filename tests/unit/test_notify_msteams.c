/* test_notify_msteams.c: the two Teams notifiers (notify_msteams.c, notify_msteams_workflow.c) and
 * what they share. Canned notifications rendered into goldens (tests/data/msteams/; UPDATE_GOLDEN=1
 * rewrites them), the same bytes from a second Lua state, a 500-alert group and a 100 KB annotation
 * kept under 28 KB with "and N more alerts", failing templates (error, budget) giving the
 * fallback card, the classification of Teams' answers (msteams.md), and sends against
 * tests/fakes/teams_fake.py: 200 "1", 200 with an error body (429, 413, 500), 400, 413, 429
 * with Retry-After, 500, a hang; the webhook URL never shows in an error. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"
#include "tap.h"

#include "buf.h"
#include "clock.h"
#include "fake.h"
#include "notify_teams.h"
#include "notify_test.h"
#include "xalloc.h"

extern const struct notifier_ops msteams_notifier;
extern const struct notifier_ops msteams_workflow_notifier;

static char tmpdir[64];
static struct notifier_env env;

static char *tmp_path(const char *name)
{
    return xasprintf("%s/%s", tmpdir, name);
}

static void *make(const struct notifier_ops *ops, const char *url, const char *tmpl,
                  int64_t max_bytes, char *err, size_t errlen)
{
    char *file = tmp_path("webhook_url");
    nt_write_file(file, url);
    char *tfile = tmpl ? tmp_path("tmpl.lua") : NULL;
    if (tmpl) nt_write_file(tfile, tmpl);
    struct teams_config c = {
        .webhook_url_file = file, .template_file = tfile, .max_payload_bytes = max_bytes};
    void *state = NULL;
    if (ops->create(&c, &env, &state, err, errlen) < 0) state = NULL;
    free(file);
    free(tfile);
    return state;
}

static int render(const struct notifier_ops *ops, void *state, const struct notification *n,
                  struct payload *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    buf_init(&p->body, 1u << 20);
    return ops->render(state, n, p, err, errlen);
}

/* ---- classification ---- */

static enum send_outcome classify(int legacy, long status, const char *body, double ra,
                                  const char **reason, double *retry_after, struct buf *detail)
{
    static char rbuf[48];
    struct httpc_result r = {
        .ok = 1, .status = status, .body = body, .body_len = strlen(body), .retry_after_s = ra};
    buf_reset(detail);
    return teams_classify(legacy, &r, reason, rbuf, sizeof(rbuf), retry_after, detail);
}

static void test_classify(void)
{
    static const struct {
        int legacy;
        long status;
        const char *body;
        double ra;
        enum send_outcome want;
        const char *reason;
        double retry_after;
    } cases[] = {
        {1, 200, "1", -1, SEND_OK, "ok", -1},
        {1, 200, " 1\r\n", -1, SEND_OK, "ok", -1},
        {1, 200,
         "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP "
         "error 429 with ContextId tcid=0,server=msgapi,cv=x,MS-CV=y.",
         -1, SEND_RETRY, "teams_429", 10},
        {1, 200,
         "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP "
         "error 413 with ContextId tcid=0",
         -1, SEND_FAIL, "teams_413", -1},
        {1, 200, "...returned HTTP error 500 with ContextId", -1, SEND_RETRY, "teams_5xx", -1},
        {1, 200, "...returned HTTP error 403 with ContextId", -1, SEND_FAIL, "teams_4xx", -1},
        {1, 200, "", -1, SEND_RETRY, "teams_unexpected_body", -1},
        {1, 200, "<html>proxy login</html>", -1, SEND_RETRY, "teams_unexpected_body", -1},
        {1, 200, "...returned HTTP error 4299 with", -1, SEND_RETRY, "teams_unexpected_body", -1},
        {1, 400, "Bad payload received by generic incoming webhook.", -1, SEND_FAIL, "http_400",
         -1},
        {1, 404, "", -1, SEND_FAIL, "http_404", -1},
        {1, 429, "slow down", 7, SEND_RETRY, "http_429", 7},
        {1, 429, "slow down", -1, SEND_RETRY, "http_429", -1},
        {1, 500, "oops", -1, SEND_RETRY, "http_500", -1},
        {1, 503, "", 30, SEND_RETRY, "http_503", 30},
        {1, 408, "", -1, SEND_RETRY, "http_408", -1},
        {1, 301, "", -1, SEND_FAIL, "http_301", -1},
        {0, 202, "", -1, SEND_OK, "ok", -1},
        {0, 200, "anything", -1, SEND_OK, "ok", -1},
        {0, 400, "bad", -1, SEND_FAIL, "http_400", -1},
        {0, 413, "too big", -1, SEND_FAIL, "http_413", -1},
        {0, 429, "", 12, SEND_RETRY, "http_429", 12},
        {0, 502, "", -1, SEND_RETRY, "http_502", -1},
    };
    struct buf detail;
    buf_init(&detail, CAP_SEND_DETAIL);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const char *reason = NULL;
        double ra = -5;
        enum send_outcome o = classify(cases[i].legacy, cases[i].status, cases[i].body, cases[i].ra,
                                       &reason, &ra, &detail);
        ok(o == cases[i].want && strcmp(reason, cases[i].reason) == 0 && ra == cases[i].retry_after,
           "%s %ld \"%.30s\": %s %s (retry after %g)", cases[i].legacy ? "legacy" : "workflow",
           cases[i].status, cases[i].body, nt_outcome_name(o), reason, ra);
    }
    const char *reason;
    double ra;
    classify(1, 400, "Summary or Text is required.", -1, &reason, &ra, &detail);
    ok(strstr(detail.data, "Summary or Text is required.") != NULL,
       "a 4xx keeps the receiver's error body in the detail");
    struct httpc_result t = {.ok = 0, .reason = "timeout", .error = "Operation timed out"};
    char rbuf[48];
    buf_reset(&detail);
    ok(teams_classify(1, &t, &reason, rbuf, sizeof(rbuf), &ra, &detail) == SEND_RETRY &&
           strcmp(reason, "timeout") == 0,
       "a transport failure is retried with its reason (%s)", reason);
    is_int(teams_inner_status("returned HTTP error 429 with", 28), 429, "inner status parsed");
    is_int(teams_inner_status("returned HTTP error 42", 22), 0, "a cut inner status is none");
    buf_free(&detail);
}

/* ---- rendering ---- */

static json_t *parse(const struct payload *p)
{
    json_error_t e;
    return json_loadb(p->body.data, p->body.len, 0, &e);
}

static void test_goldens(void)
{
    char err[512] = "";
    struct nt_group g;
    nt_group_init(&g);
    void *legacy =
        make(&msteams_notifier, "https://example.invalid/webhookb2/x", NULL, 0, err, sizeof(err));
    void *flow = make(&msteams_workflow_notifier, "https://example.invalid/workflows/x", NULL, 0,
                      err, sizeof(err));
    if (!ok(legacy && flow, "both notifiers made with the default template (%s)", err)) return;
    struct payload p;
    is_int(render(&msteams_notifier, legacy, &g.n, &p, err, sizeof(err)), 0,
           "legacy card rendered (%s)", err);
    ok(nt_golden("tests/data/msteams/legacy_firing.json", p.body.data, p.body.len),
       "legacy card matches tests/data/msteams/legacy_firing.json");
    is_str(p.content_type, "application/json", "content type");
    ok(strlen(p.dedupe_key) == 64, "a dedupe key (%s)", p.dedupe_key);
    json_t *j = parse(&p);
    ok(j && strcmp(json_string_value(json_object_get(j, "@type")), "MessageCard") == 0 &&
           json_is_string(json_object_get(j, "summary")) &&
           strcmp(json_string_value(json_object_get(j, "themeColor")), "8C1A1A") == 0,
       "a MessageCard with summary and the firing colour");
    json_decref(j);
    ok(strstr(p.body.data, "pg\\\\_gold\\\\_2") != NULL, "underscores escaped for Markdown");
    char key[80];
    snprintf(key, sizeof(key), "%s", p.dedupe_key);
    buf_free(&p.body);

    render(&msteams_workflow_notifier, flow, &g.n, &p, err, sizeof(err));
    ok(nt_golden("tests/data/msteams/workflow_firing.json", p.body.data, p.body.len),
       "workflow card matches tests/data/msteams/workflow_firing.json");
    j = parse(&p);
    json_t *att = json_array_get(json_object_get(j, "attachments"), 0);
    json_t *card = json_object_get(att, "content");
    ok(j && strcmp(json_string_value(json_object_get(j, "type")), "message") == 0 &&
           strcmp(json_string_value(json_object_get(att, "contentType")),
                  "application/vnd.microsoft.card.adaptive") == 0 &&
           json_is_null(json_object_get(att, "contentUrl")) &&
           strcmp(json_string_value(json_object_get(card, "type")), "AdaptiveCard") == 0 &&
           strcmp(json_string_value(json_object_get(card, "version")), "1.2") == 0,
       "the Adaptive Card envelope of msteams.md §3");
    json_decref(j);
    is_str(p.dedupe_key, key, "the same notification has the same dedupe key for both");
    buf_free(&p.body);

    /* Resolved: every alert ended. */
    for (int i = 0; i < 3; i++) g.alerts[i].ends_at = NT_NOW - 10 * (i + 1);
    g.n.status = "resolved";
    render(&msteams_workflow_notifier, flow, &g.n, &p, err, sizeof(err));
    ok(nt_golden("tests/data/msteams/workflow_resolved.json", p.body.data, p.body.len),
       "resolved workflow card matches tests/data/msteams/workflow_resolved.json");
    ok(strstr(p.body.data, "\"color\":\"Good\"") && strstr(p.body.data, "[RESOLVED]"),
       "resolved: title [RESOLVED] in colour Good");
    ok(strcmp(p.dedupe_key, key) != 0, "resolved has another dedupe key");
    buf_free(&p.body);
    render(&msteams_notifier, legacy, &g.n, &p, err, sizeof(err));
    ok(nt_golden("tests/data/msteams/legacy_resolved.json", p.body.data, p.body.len),
       "resolved legacy card matches tests/data/msteams/legacy_resolved.json");
    buf_free(&p.body);

    /* The same bytes from a fresh Lua state (another hash seed, another table order). */
    nt_group_init(&g);
    struct payload a, b;
    render(&msteams_workflow_notifier, flow, &g.n, &a, err, sizeof(err));
    void *flow2 = make(&msteams_workflow_notifier, "https://example.invalid/workflows/y", NULL, 0,
                       err, sizeof(err));
    render(&msteams_workflow_notifier, flow2, &g.n, &b, err, sizeof(err));
    ok(a.body.len == b.body.len && memcmp(a.body.data, b.body.data, a.body.len) == 0 &&
           strcmp(a.dedupe_key, b.dedupe_key) == 0,
       "rendering is deterministic across Lua states");
    buf_free(&a.body);
    buf_free(&b.body);
    msteams_workflow_notifier.free(flow2);
    msteams_notifier.free(legacy);
    msteams_workflow_notifier.free(flow);
}

static size_t count_str(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static void test_truncation(void)
{
    char err[512] = "";
    void *flow = make(&msteams_workflow_notifier, "https://example.invalid/workflows/x", NULL, 0,
                      err, sizeof(err));
    void *legacy =
        make(&msteams_notifier, "https://example.invalid/webhookb2/x", NULL, 0, err, sizeof(err));
    struct nt_big big;
    nt_big_init(&big, 500, 300);
    struct payload p;
    int64_t t0 = time_mono_ms();
    is_int(render(&msteams_workflow_notifier, flow, &big.n, &p, err, sizeof(err)), 0,
           "500 alerts rendered (%s)", err);
    int64_t took = time_mono_ms() - t0;
    ok(p.body.len <= TEAMS_DEFAULT_MAX, "500 alerts fit in %zu bytes (<= %u), in %lld ms",
       p.body.len, TEAMS_DEFAULT_MAX, (long long)took);
    json_t *j = parse(&p);
    ok(j != NULL, "the truncated card is valid JSON");
    json_decref(j);
    size_t shown = count_str(p.body.data, "\"type\":\"Container\"");
    char more[64];
    snprintf(more, sizeof(more), "and %zu more alerts", 500 - shown);
    ok(shown > 10 && shown < 500 && strstr(p.body.data, more),
       "%zu alerts shown, the card says \"%s\"", shown, more);
    /* Adding one more alert would not have fitted. */
    ok(strstr(p.body.data, "kong-dp-0000") && !strstr(p.body.data, "kong-dp-0499"),
       "alerts are dropped from the end");
    buf_free(&p.body);

    render(&msteams_notifier, legacy, &big.n, &p, err, sizeof(err));
    j = parse(&p);
    size_t sections = json_array_size(json_object_get(j, "sections"));
    ok(p.body.len <= TEAMS_DEFAULT_MAX && sections == 10 && strstr(p.body.data, "and 491 more"),
       "legacy: 9 alert sections and \"and 491 more alerts\" (%zu sections, %zu bytes)", sections,
       p.body.len);
    json_decref(j);
    buf_free(&p.body);
    nt_big_free(&big);

    /* One alert with a 100 KB annotation: cut, not dropped. */
    nt_big_init(&big, 1, 100000);
    render(&msteams_workflow_notifier, flow, &big.n, &p, err, sizeof(err));
    ok(p.body.len <= TEAMS_DEFAULT_MAX && strstr(p.body.data, "kong-dp-0000") &&
           strstr(p.body.data, "\xe2\x80\xa6") && !strstr(p.body.data, "more alert"),
       "a 100 KB annotation is cut with an ellipsis, the alert kept (%zu bytes)", p.body.len);
    buf_free(&p.body);
    render(&msteams_notifier, legacy, &big.n, &p, err, sizeof(err));
    ok(p.body.len <= TEAMS_DEFAULT_MAX && strstr(p.body.data, "kong-dp-0000"),
       "legacy too (%zu bytes)", p.body.len);
    buf_free(&p.body);
    nt_big_free(&big);

    /* Group labels alone larger than the cap: the built-in fallback card. */
    nt_big_init(&big, 3, 10);
    char *huge = xmalloc(40001);
    memset(huge, 'x', 40000);
    huge[40000] = '\0';
    big.group[0].value = huge;
    render(&msteams_workflow_notifier, flow, &big.n, &p, err, sizeof(err));
    j = parse(&p);
    ok(p.body.len < 4096 && j && strstr(p.body.data, "do not fit in one Teams message"),
       "nothing fits: the fallback card (%zu bytes)", p.body.len);
    json_decref(j);
    buf_free(&p.body);
    render(&msteams_notifier, legacy, &big.n, &p, err, sizeof(err));
    j = parse(&p);
    ok(p.body.len < 4096 && j && json_is_string(json_object_get(j, "summary")),
       "legacy fallback card has a summary (%zu bytes)", p.body.len);
    json_decref(j);
    buf_free(&p.body);
    free(huge);
    nt_big_free(&big);

    /* A smaller configured cap is honoured. */
    void *small = make(&msteams_workflow_notifier, "https://example.invalid/workflows/x", NULL,
                       8192, err, sizeof(err));
    nt_big_init(&big, 100, 50);
    render(&msteams_workflow_notifier, small, &big.n, &p, err, sizeof(err));
    ok(p.body.len <= 8192 && strstr(p.body.data, "more alerts"),
       "max_payload_bytes = 8192 holds (%zu bytes)", p.body.len);
    buf_free(&p.body);
    nt_big_free(&big);
    msteams_workflow_notifier.free(small);
    msteams_workflow_notifier.free(flow);
    msteams_notifier.free(legacy);
}

static void test_templates(void)
{
    char err[512] = "";
    struct nt_group g;
    nt_group_init(&g);
    void *s = make(&msteams_workflow_notifier, "https://example.invalid/w",
                   "return { adaptive_card = function(n) return { type = 'AdaptiveCard', "
                   "version = '1.2', body = json_array(), x = json_null, "
                   "n = #n.alerts, first = n.alerts[1].labels.scope } end }",
                   0, err, sizeof(err));
    struct payload p;
    render(&msteams_workflow_notifier, s, &g.n, &p, err, sizeof(err));
    ok(strstr(p.body.data, "{\"body\":[],\"first\":\"pg-golddr\",\"n\":3,\"type\":"
                           "\"AdaptiveCard\",\"version\":\"1.2\",\"x\":null}") != NULL,
       "a custom template: keys sorted, json_array, json_null, the notification's fields");
    buf_free(&p.body);
    msteams_workflow_notifier.free(s);

    s = make(&msteams_workflow_notifier, "https://example.invalid/w",
             "return { adaptive_card = function(n) n.status = 'x' return {} end }", 0, err,
             sizeof(err));
    is_int(render(&msteams_workflow_notifier, s, &g.n, &p, err, sizeof(err)), -1,
           "writing to the notification fails the render (%s)", err);
    ok(strstr(err, "read-only") != NULL, "because it is read-only");
    ok(strstr(p.body.data, "template failed") && strstr(p.body.data, "AdaptiveCard"),
       "and the payload is the fallback card");
    buf_free(&p.body);
    msteams_workflow_notifier.free(s);

    s = make(&msteams_notifier, "https://example.invalid/w",
             "return { message_card = function(n) while true do end end }", 0, err, sizeof(err));
    int64_t t0 = time_mono_ms();
    is_int(render(&msteams_notifier, s, &g.n, &p, err, sizeof(err)), -1,
           "a template that loops is stopped (%s)", err);
    ok(strstr(err, "timeout") && time_mono_ms() - t0 < 3000, "by its time budget");
    ok(strstr(p.body.data, "MessageCard") != NULL, "the fallback MessageCard is the payload");
    buf_free(&p.body);
    msteams_notifier.free(s);

    s = make(&msteams_notifier, "https://example.invalid/w",
             "return { message_card = function(n) local t = {} for i = 1, 1e9 do t[i] = "
             "('x'):rep(1000) .. i end end }",
             0, err, sizeof(err));
    is_int(render(&msteams_notifier, s, &g.n, &p, err, sizeof(err)), -1,
           "a template that eats memory is stopped (%s)", err);
    buf_free(&p.body);
    msteams_notifier.free(s);

    ok(!make(&msteams_notifier, "https://example.invalid/w", "return { title = function() end }", 0,
             err, sizeof(err)) &&
           strstr(err, "message_card"),
       "a template without the card function is refused at start (%s)", err);
    ok(!make(&msteams_notifier, "https://example.invalid/w", "return {", 0, err, sizeof(err)) &&
           strstr(err, "tmpl.lua:1:"),
       "a syntax error names file and line (%s)", err);
    ok(!make(&msteams_notifier, "https://example.invalid/w",
             "x = 1 return { message_card = function() end }", 0, err, sizeof(err)) &&
           strstr(err, "cannot set global"),
       "globals are refused (%s)", err);
    s = make(&msteams_notifier, "https://example.invalid/w",
             "return { message_card = function() return io.open('/etc/passwd') end }", 0, err,
             sizeof(err));
    ok(s && render(&msteams_notifier, s, &g.n, &p, err, sizeof(err)) == -1 &&
           strstr(err, "undefined variable 'io'"),
       "io is not reachable from a template (%s)", err);
    if (s) buf_free(&p.body);
    msteams_notifier.free(s);
    ok(!make(&msteams_notifier, "not a url  https://sig=SECRETVALUE", NULL, 0, err, sizeof(err)) &&
           !strstr(err, "SECRETVALUE"),
       "a bad URL file is refused without showing its content (%s)", err);
}

/* ---- against the fake ---- */

static const char legacy_path[] = "/webhookb2/tenant@x/IncomingWebhook/0a1b2c3d4e5f/guid-1";
static const char flow_path[] = "/workflows/abc123/triggers/manual/paths/invoke";

static void fake_mode(struct loop *l, struct httpc *h, int port, const char *what, const char *json)
{
    char *url = xasprintf("http://127.0.0.1:%d/__fake/%s", port, what);
    free(nt_http(l, h, "POST", url, json));
    free(url);
}

static void test_fake(struct loop *l, struct httpc *h, int port)
{
    char err[512] = "";
    char *lurl = xasprintf("http://127.0.0.1:%d%s", port, legacy_path);
    char *furl = xasprintf("http://127.0.0.1:%d%s?api-version=1&sp=%%2Ftriggers%%2Fmanual%%2Frun"
                           "&sv=1.0&sig=S3CR3TSIGNATURE0123",
                           port, flow_path);
    void *legacy = make(&msteams_notifier, lurl, NULL, 0, err, sizeof(err));
    void *flow = make(&msteams_workflow_notifier, furl, NULL, 0, err, sizeof(err));
    struct nt_group g;
    nt_group_init(&g);
    struct payload lp, fp;
    render(&msteams_notifier, legacy, &g.n, &lp, err, sizeof(err));
    render(&msteams_workflow_notifier, flow, &g.n, &fp, err, sizeof(err));

    struct nt_result r = nt_send(l, &msteams_notifier, legacy, &lp, 5000);
    ok(r.done == 1 && r.outcome == SEND_OK, "legacy: 200 \"1\" is ok (%s %s)", r.reason, r.detail);
    r = nt_send(l, &msteams_workflow_notifier, flow, &fp, 5000);
    ok(r.done == 1 && r.outcome == SEND_OK, "workflow: 202 is ok (%s %s)", r.reason, r.detail);

    static const struct {
        int legacy;
        const char *what, *json;
        enum send_outcome want;
        const char *reason;
        double retry_after;
    } cases[] = {
        {1, "state", "{\"teams_error\": 429, \"teams_error_count\": 1}", SEND_RETRY, "teams_429",
         10},
        {1, "state", "{\"teams_error\": 413, \"teams_error_count\": 1}", SEND_FAIL, "teams_413",
         -1},
        {1, "state", "{\"teams_error\": 500, \"teams_error_count\": 1}", SEND_RETRY, "teams_5xx",
         -1},
        {1, "mode", "{\"path\": \"*\", \"mode\": \"status\", \"status\": 400, \"count\": 1}",
         SEND_FAIL, "http_400", -1},
        {1, "mode", "{\"path\": \"*\", \"mode\": \"status\", \"status\": 413, \"count\": 1}",
         SEND_FAIL, "http_413", -1},
        {1, "mode", "{\"path\": \"*\", \"mode\": \"429\", \"retry_after\": 3, \"count\": 1}",
         SEND_RETRY, "http_429", 3},
        {1, "mode", "{\"path\": \"*\", \"mode\": \"status\", \"status\": 500, \"count\": 1}",
         SEND_RETRY, "http_500", -1},
        {0, "mode", "{\"path\": \"*\", \"mode\": \"status\", \"status\": 400, \"count\": 1}",
         SEND_FAIL, "http_400", -1},
        {0, "mode", "{\"path\": \"*\", \"mode\": \"429\", \"retry_after\": 5, \"count\": 1}",
         SEND_RETRY, "http_429", 5},
        {0, "mode", "{\"path\": \"*\", \"mode\": \"status\", \"status\": 503, \"count\": 1}",
         SEND_RETRY, "http_503", -1},
        {0, "mode", "{\"path\": \"*\", \"mode\": \"close\", \"count\": 2}", SEND_RETRY,
         "connection", -1},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        fake_mode(l, h, port, cases[i].what, cases[i].json);
        r = cases[i].legacy ? nt_send(l, &msteams_notifier, legacy, &lp, 5000)
                            : nt_send(l, &msteams_workflow_notifier, flow, &fp, 5000);
        ok(r.done == 1 && r.outcome == cases[i].want && strcmp(r.reason, cases[i].reason) == 0 &&
               r.retry_after == cases[i].retry_after,
           "%s %s: %s %s, retry after %g", cases[i].legacy ? "legacy" : "workflow", cases[i].json,
           nt_outcome_name(r.outcome), r.reason, r.retry_after);
        ok(!strstr(r.detail, "0a1b2c3d4e5f") && !strstr(r.detail, "S3CR3T") &&
               !strstr(r.detail, "abc123"),
           "  the webhook URL is not in the detail (%.120s)", r.detail);
    }
    /* The 404 body of the fake echoes the path: redacted. */
    fake_mode(l, h, port, "mode", "{\"path\": \"*\", \"mode\": \"status\", \"status\": 404}");
    r = nt_send(l, &msteams_notifier, legacy, &lp, 5000);
    ok(r.outcome == SEND_FAIL && strstr(r.detail, "<redacted>") &&
           !strstr(r.detail, "IncomingWebhook"),
       "an error body echoing the URL is redacted (%s)", r.detail);
    r = nt_send(l, &msteams_workflow_notifier, flow, &fp, 5000);
    ok(r.outcome == SEND_FAIL && strstr(r.detail, "<redacted>") && !strstr(r.detail, "abc123"),
       "workflow too (%s)", r.detail);
    fake_mode(l, h, port, "reset", "{}");

    /* A hang ends at the receiver's timeout. */
    fake_mode(l, h, port, "mode", "{\"path\": \"*\", \"mode\": \"hang\", \"count\": 1}");
    int64_t t0 = time_mono_ms();
    r = nt_send(l, &msteams_workflow_notifier, flow, &fp, 5000);
    int64_t took = time_mono_ms() - t0;
    ok(r.done == 1 && r.outcome == SEND_RETRY && strcmp(r.reason, "timeout") == 0 && took < 2500,
       "a hanging receiver times out and is retried (%s, %lld ms)", r.reason, (long long)took);

    /* Cancel: done is never called. */
    fake_mode(l, h, port, "mode", "{\"path\": \"*\", \"mode\": \"slow\", \"ms\": 300}");
    struct nt_result never = {.loop = l};
    msteams_notifier.send(legacy, &lp, nt_on_done, &never);
    msteams_notifier.cancel(legacy);
    r = nt_send(l, &msteams_workflow_notifier, flow, &fp, 5000);
    ok(never.done == 0 && r.done == 1, "a cancelled send never calls back");
    fake_mode(l, h, port, "reset", "{}");

    /* What the fake saw was valid, and a 500-alert group stays under its 28 KB. */
    r = nt_send(l, &msteams_notifier, legacy, &lp, 5000);
    r = nt_send(l, &msteams_workflow_notifier, flow, &fp, 5000);
    /* The manager's plain-text fallback (after a template failure) is wrapped in a card. */
    struct payload tp = {0};
    buf_init(&tp.body, CAP_NOTIFY_PAYLOAD);
    buf_puts(&tp.body, "[firing] 2 alert(s) for dba-teams (group x)\n- firing {alertname=\"X\"}\n");
    snprintf(tp.content_type, sizeof(tp.content_type), "text/plain; charset=utf-8");
    r = nt_send(l, &msteams_notifier, legacy, &tp, 5000);
    ok(r.outcome == SEND_OK, "a plain-text payload reaches the legacy connector as a card (%s)",
       r.detail);
    r = nt_send(l, &msteams_workflow_notifier, flow, &tp, 5000);
    ok(r.outcome == SEND_OK, "and the Workflows trigger (%s)", r.detail);
    buf_free(&tp.body);
    struct nt_big big;
    nt_big_init(&big, 500, 200);
    struct payload bp;
    render(&msteams_workflow_notifier, flow, &big.n, &bp, err, sizeof(err));
    r = nt_send(l, &msteams_workflow_notifier, flow, &bp, 5000);
    ok(r.outcome == SEND_OK, "the truncated 500-alert card is accepted");
    buf_free(&bp.body);
    render(&msteams_notifier, legacy, &big.n, &bp, err, sizeof(err));
    r = nt_send(l, &msteams_notifier, legacy, &bp, 5000);
    ok(r.outcome == SEND_OK, "and its legacy card (%s %s)", r.reason, r.detail);
    buf_free(&bp.body);
    nt_big_free(&big);
    char *vurl = xasprintf("http://127.0.0.1:%d/validation", port);
    char *v = nt_http(l, h, "GET", vurl, NULL);
    json_error_t je;
    json_t *arr = v ? json_loads(v, 0, &je) : NULL;
    size_t bad = 0, idx;
    json_t *item;
    json_array_foreach(arr, idx, item)
    {
        if (json_array_size(json_object_get(item, "errors"))) {
            bad++;
            diag("fake found: %s", json_dumps(item, 0));
        }
    }
    ok(arr && json_array_size(arr) >= 4 && bad == 0,
       "the fake validated %zu payloads, %zu with problems", json_array_size(arr), bad);
    json_decref(arr);
    free(v);
    free(vurl);

    buf_free(&lp.body);
    buf_free(&fp.body);
    msteams_notifier.free(legacy);
    msteams_workflow_notifier.free(flow);
    free(lurl);
    free(furl);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/drwatch-msteams-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    struct loop *l = loop_new();
    struct httpc *h = httpc_new(l);
    env = (struct notifier_env){
        .loop = l, .http = h, .templates_dir = "alerts/templates", .timeout_ms = 1000};
    test_classify();
    test_goldens();
    test_truncation();
    test_templates();
    int port = fake_free_port();
    pid_t fake = fake_start("teams_fake.py", port);
    if (ok(fake > 0, "teams fake started on port %d", port)) test_fake(l, h, port);
    fake_stop(fake);
    httpc_free(h);
    loop_free(l);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0) diag("could not remove %s", tmpdir);
    curl_global_cleanup();
    return done_testing();
}
