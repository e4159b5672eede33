/* test_notify_webhook.c: the generic webhook notifier (alerts/notify_webhook.c). Rendering against
 * a golden Alertmanager webhook payload (version 4: fields in Go's order, label maps sorted, Go's
 * time text, the receiver name quoted as regexp.QuoteMeta); the settings it refuses; and sending to
 * tests/fakes/webhook_fake.py on the loop: 2xx is ok, 503 and 429 are retried (with Retry-After),
 * 400 is final with the receiver's body, a refused connection is retried, and the secret URL of
 * url_file is cut out of every error text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "fake.h"
#include "http_client.h"
#include "log.h"
#include "loop.h"
#include "notifier.h"
#include "tap.h"
#include "xalloc.h"

extern const struct notifier_ops webhook_notifier;

/* The notifier's settings as its own key table reads them from Lua. */
static struct config *settings(const char *lua, const void **out)
{
    static struct cfg_module mod;
    mod = (struct cfg_module){"w", webhook_notifier.keys, webhook_notifier.config_size, true};
    const struct cfg_module *mods[] = {&mod};
    char err[512];
    char *src = xasprintf("w = { %s }", lua);
    struct config *c = config_load_buffer(src, strlen(src), "w.lua", mods, 1, err, sizeof(err));
    free(src);
    if (!c) diag("settings refused: %s", err);
    *out = c ? config_module(c, "w", NULL) : NULL;
    return c;
}

static int create(const char *lua, const struct notifier_env *env, void **w, char *err,
                  size_t errlen)
{
    const void *cfg;
    struct config *c = settings(lua, &cfg);
    int rc = c ? webhook_notifier.create(cfg, env, w, err, errlen) : -1;
    config_free(c);
    return rc;
}

static const char golden[] =
    "{\"receiver\":\"team\\\\.a\",\"status\":\"firing\",\"alerts\":["
    "{\"status\":\"firing\",\"labels\":{\"alertname\":\"KongDown\",\"site\":\"gold\"},"
    "\"annotations\":{\"runbook\":\"https://runbooks/kong\",\"summary\":\"Kong is down\"},"
    "\"startsAt\":\"2023-11-14T22:13:20.5Z\",\"endsAt\":\"0001-01-01T00:00:00Z\","
    "\"generatorURL\":\"http://drwatch:8488/api/v1/alerts\",\"fingerprint\":\"%s\"},"
    "{\"status\":\"resolved\",\"labels\":{\"alertname\":\"KongDown\",\"site\":\"golddr\"},"
    "\"annotations\":{},\"startsAt\":\"2023-11-14T22:00:00Z\","
    "\"endsAt\":\"2023-11-14T22:10:00.25Z\",\"generatorURL\":\"\",\"fingerprint\":\"%s\"}],"
    "\"groupLabels\":{\"alertname\":\"KongDown\"},"
    "\"commonLabels\":{\"alertname\":\"KongDown\"},\"commonAnnotations\":{},"
    "\"externalURL\":\"http://drwatch:8488\",\"version\":\"4\","
    "\"groupKey\":\"{}:{alertname=\\\"KongDown\\\"}\",\"truncatedAlerts\":3}\n";

static void test_render(void)
{
    struct notifier_env env = {.timeout_ms = 1000};
    void *w = NULL;
    char err[256] = "";
    ok(create("url = \"http://127.0.0.1:1/\"", &env, &w, err, sizeof(err)) == 0,
       "created with url");
    struct label_pair ann[2] = {{"summary", "Kong is down"}, {"runbook", "https://runbooks/kong"}};
    struct am_alert alerts[2] = {
        {.labels = "alertname=\"KongDown\",site=\"gold\"",
         .annotations = ann,
         .nannotations = 2,
         .starts_at = 1700000000.5,
         .generator_url = "http://drwatch:8488/api/v1/alerts"},
        {.labels = "alertname=\"KongDown\",site=\"golddr\"",
         .starts_at = 1699999200.0,
         .ends_at = 1699999800.25},
    };
    alerts[0].fingerprint = am_fingerprint(alerts[0].labels);
    alerts[1].fingerprint = am_fingerprint(alerts[1].labels);
    struct label_pair gl = {"alertname", "KongDown"};
    struct notification n = {.receiver = "team.a",
                             .group_key = "{}:{alertname=\"KongDown\"}",
                             .status = "firing",
                             .group_labels = &gl,
                             .ngroup_labels = 1,
                             .common_labels = &gl,
                             .ncommon_labels = 1,
                             .alerts = alerts,
                             .nalerts = 2,
                             .external_url = "http://drwatch:8488",
                             .now = 1700000100.0,
                             .truncated_alerts = 3};
    struct payload p = {0};
    buf_init(&p.body, CAP_NOTIFY_PAYLOAD);
    ok(webhook_notifier.render(w, &n, &p, err, sizeof(err)) == 0, "rendered");
    char fp0[17], fp1[17];
    snprintf(fp0, sizeof(fp0), "%016llx", (unsigned long long)alerts[0].fingerprint);
    snprintf(fp1, sizeof(fp1), "%016llx", (unsigned long long)alerts[1].fingerprint);
    char *want = xasprintf(golden, fp0, fp1);
    is_str(p.body.data, want, "Alertmanager's webhook JSON, version 4");
    is_str(p.content_type, "application/json", "content type");
    free(want);
    buf_free(&p.body);
    webhook_notifier.free(w);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_create(void)
{
    char dir[] = "/tmp/drwatch-webhook-XXXXXX";
    mkdtemp(dir);
    char *two = xasprintf("%s/two", dir), *empty = xasprintf("%s/empty", dir);
    write_file(two, "http://a/\nhttp://b/\n");
    write_file(empty, "\n");
    char *two_lua = xasprintf("url_file = \"%s\"", two);
    char *empty_lua = xasprintf("url_file = \"%s\"", empty);
    struct {
        const char *lua;
        const char *want;
    } cases[] = {
        {"", "give one of url and url_file"},
        {"url = \"http://a/\", url_file = \"/x\"", "give one of url and url_file"},
        {"url = \"gopher://a/\"", "is not an http(s) URL"},
        {"url_file = \"/nonexistent\"", "url_file /nonexistent: cannot read"},
        {two_lua, "expected one line"},
        {empty_lua, "expected one line, not empty"},
        {"url = \"http://a/\", bearer_token_file = \"/nonexistent\"", "bearer_token_file"},
    };
    struct notifier_env env = {.timeout_ms = 1000};
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        void *w = NULL;
        char err[256] = "";
        int rc = create(cases[i].lua, &env, &w, err, sizeof(err));
        ok(rc < 0 && strstr(err, cases[i].want), "refused: %s", cases[i].want);
        if (rc == 0) webhook_notifier.free(w);
    }
    free(two_lua);
    free(empty_lua);
    unlink(two);
    unlink(empty);
    rmdir(dir);
    free(two);
    free(empty);
}

/* ---- sending ---- */

struct outcome {
    struct loop *loop;
    int calls;
    enum send_outcome o;
    double retry_after;
    char reason[32], detail[600];
};

static void on_done(void *arg, const struct send_result *r)
{
    struct outcome *o = arg;
    o->calls++;
    o->o = r->outcome;
    o->retry_after = r->retry_after_s;
    snprintf(o->reason, sizeof(o->reason), "%s", r->reason ? r->reason : "");
    snprintf(o->detail, sizeof(o->detail), "%s", r->detail ? r->detail : "");
    loop_stop(o->loop);
}

static void control(int port, const char *json)
{
    char *cmd = xasprintf("python3 -c \"import sys; sys.path.insert(0, 'tests/fakes'); "
                          "import fakebase; fakebase.control('http://127.0.0.1:%d', 'mode', %s)\"",
                          port, json);
    if (system(cmd) != 0) diag("control failed: %s", cmd);
    free(cmd);
}

static struct outcome send_one(struct loop *l, void *w)
{
    struct outcome o = {.loop = l};
    struct payload p = {0};
    buf_init(&p.body, CAP_NOTIFY_PAYLOAD);
    buf_puts(&p.body, "{\"version\":\"4\"}");
    snprintf(p.content_type, sizeof(p.content_type), "application/json");
    snprintf(p.dedupe_key, sizeof(p.dedupe_key), "key-1");
    webhook_notifier.send(w, &p, on_done, &o);
    buf_free(&p.body); /* the request has its own copy */
    if (!o.calls) loop_run(l);
    return o;
}

static void test_send(void)
{
    int port = fake_free_port();
    char portbuf[16];
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    char *argv[] = {"python3", "tests/fakes/webhook_fake.py", portbuf, NULL};
    pid_t pid = spawn_ready(argv);
    if (!ok(pid > 0, "webhook_fake.py runs on port %d", port)) return;
    char dir[] = "/tmp/drwatch-webhook-XXXXXX";
    mkdtemp(dir);
    char *url_file = xasprintf("%s/url", dir), *tok_file = xasprintf("%s/tok", dir);
    char *url = xasprintf("http://127.0.0.1:%d/hook/VERY-SECRET-TOKEN\n", port);
    write_file(url_file, url);
    write_file(tok_file, "bearer-secret\n");
    struct loop *l = loop_new();
    struct httpc *h = httpc_new(l);
    char *lua = xasprintf("url_file = \"%s\", bearer_token_file = \"%s\"", url_file, tok_file);
    struct notifier_env env = {.loop = l, .http = h, .timeout_ms = 2000};
    void *w = NULL;
    char err[256];
    ok(create(lua, &env, &w, err, sizeof(err)) == 0, "created from url_file");
    free(lua);
    struct outcome o = send_one(l, w);
    ok(o.calls == 1 && o.o == SEND_OK && strcmp(o.reason, "ok") == 0, "200: ok");
    control(port,
            "{'path': '/hook/VERY-SECRET-TOKEN', 'mode': 'status', 'status': 503, 'count': 1}");
    o = send_one(l, w);
    ok(o.o == SEND_RETRY && strcmp(o.reason, "http_503") == 0, "503: retry (http_503)");
    control(port,
            "{'path': '/hook/VERY-SECRET-TOKEN', 'mode': '429', 'retry_after': 7, 'count': 1}");
    o = send_one(l, w);
    ok(o.o == SEND_RETRY && strcmp(o.reason, "http_429") == 0 && o.retry_after == 7,
       "429: retry, with Retry-After 7");
    control(port,
            "{'path': '/hook/VERY-SECRET-TOKEN', 'mode': 'status', 'status': 400, 'count': 1}");
    o = send_one(l, w);
    ok(o.o == SEND_FAIL && strcmp(o.reason, "http_400") == 0, "400: final (http_400)");
    ok(strstr(o.detail, "fake refuses with 400") != NULL, "with the receiver's body: %s", o.detail);
    ok(strstr(o.detail, "VERY-SECRET") == NULL && strstr(o.detail, "<redacted>") != NULL,
       "the secret URL path the receiver echoed is cut out");
    char *cmd = xasprintf("curl -s http://127.0.0.1:%d/__fake/received", port);
    FILE *f = popen(cmd, "r");
    char got[8192] = "";
    size_t n = f ? fread(got, 1, sizeof(got) - 1, f) : 0;
    got[n] = '\0';
    if (f) pclose(f);
    free(cmd);
    ok(strstr(got, "\"key\": \"key-1\"") && strstr(got, "\"auth\": \"Bearer bearer-secret\""),
       "the receiver got the Idempotency-Key and the bearer token");
    webhook_notifier.free(w);
    fake_stop(pid);
    /* Nobody listens any more: a transport failure, retried. */
    lua = xasprintf("url = \"http://127.0.0.1:%d/hook\"", port);
    ok(create(lua, &env, &w, err, sizeof(err)) == 0, "created with url");
    free(lua);
    o = send_one(l, w);
    ok(o.o == SEND_RETRY && strcmp(o.reason, "connect") == 0, "connection refused: retry (%s)",
       o.reason);
    webhook_notifier.free(w);
    httpc_free(h);
    loop_free(l);
    unlink(url_file);
    unlink(tok_file);
    rmdir(dir);
    free(url_file);
    free(tok_file);
    free(url);
}

int main(void)
{
    must(log_set_level_name("error"));
    test_render();
    test_create();
    test_send();
    return done_testing();
}
