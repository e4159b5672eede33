/* test_notify_alertmanager.c: forwarding to Alertmanager's v2 API (notify_alertmanager.c) against
 * the real Debian prometheus-alertmanager on a free port with a minimal config and a temporary
 * storage path: the forwarded alerts are read back with GET /api/v2/alerts (labels, annotations,
 * startsAt, generatorURL, and the same fingerprint drwatch computes). Also the payload against a
 * golden (tests/data/alertmanager/firing.json), a cluster with one instance down (still ok),
 * all down (retried), a payload Alertmanager refuses (400, not retried, its error kept), and the
 * headers sent (Idempotency-Key, basic auth) as a fake sees them. */
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
#include "config.h"
#include "fake.h"
#include "notify_test.h"
#include "xalloc.h"

extern const struct notifier_ops alertmanager_notifier;

static char tmpdir[64];
static struct notifier_env env;

static void render(void *state, const struct notification *n, struct payload *p)
{
    char err[256];
    memset(p, 0, sizeof(*p));
    buf_init(&p->body, 1u << 20);
    alertmanager_notifier.render(state, n, p, err, sizeof(err));
}

static pid_t start_alertmanager(int port)
{
    char *cfg = xasprintf("%s/am.yml", tmpdir);
    nt_write_file(cfg, "route:\n  receiver: blackhole\n  group_wait: 1h\n"
                       "receivers:\n  - name: blackhole\n");
    char *script = xasprintf(
        "prometheus-alertmanager --config.file=%s --storage.path=%s/am-data "
        "--web.listen-address=127.0.0.1:%d --cluster.listen-address= "
        ">%s/am.log 2>&1 & pid=$!; i=0; while [ $i -lt 100 ]; do "
        "if curl -sf http://127.0.0.1:%d/-/ready >/dev/null; then echo ready; wait $pid; exit; fi; "
        "sleep 0.1; i=$((i+1)); done; kill $pid",
        cfg, tmpdir, port, tmpdir, port);
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    pid_t pid = spawn_ready(argv);
    free(script);
    free(cfg);
    return pid;
}

static json_t *am_alerts(struct loop *l, struct httpc *h, int port)
{
    char *url = xasprintf("http://127.0.0.1:%d/api/v2/alerts?active=true", port);
    char *body = nt_http(l, h, "GET", url, NULL);
    json_error_t e;
    json_t *j = body ? json_loads(body, 0, &e) : NULL;
    free(body);
    free(url);
    return j;
}

static json_t *find_alert(json_t *arr, const char *scope)
{
    size_t i;
    json_t *a;
    json_array_foreach(arr, i, a)
    {
        const char *s = json_string_value(json_object_get(json_object_get(a, "labels"), "scope"));
        if (s && strcmp(s, scope) == 0) return a;
    }
    return NULL;
}

static void test_real(struct loop *l, struct httpc *h, int port)
{
    char err[512] = "";
    struct nt_group g;
    nt_group_init(&g);
    /* Alertmanager drops alerts that ended long ago: make the times recent. */
    double now = time_wall_s();
    for (int i = 0; i < 3; i++) g.alerts[i].starts_at = now - 300 - i;
    g.alerts[2].ends_at = now - 5;
    g.n.now = now;
    char *cfg = xasprintf("urls = { 'http://127.0.0.1:%d/' }", port);
    struct nt_made m = nt_make(&alertmanager_notifier, &env, cfg, err, sizeof(err));
    free(cfg);
    if (!ok(m.state != NULL, "notifier made (%s)", err)) return;
    struct payload p;
    render(m.state, &g.n, &p);
    struct nt_result r = nt_send(l, &alertmanager_notifier, m.state, &p, 10000);
    ok(r.done && r.outcome == SEND_OK, "Alertmanager took the alerts (%s %s)", r.reason, r.detail);
    buf_free(&p.body);
    json_t *arr = am_alerts(l, h, port);
    ok(json_array_size(arr) == 2, "two active alerts read back (%zu)", json_array_size(arr));
    json_t *a = find_alert(arr, "pg-golddr");
    char fp[32];
    snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)g.alerts[0].fingerprint);
    ok(a && strcmp(json_string_value(json_object_get(a, "fingerprint")), fp) == 0,
       "the same fingerprint as drwatch's (%s)", fp);
    json_t *labels = json_object_get(a, "labels");
    ok(labels && json_object_size(labels) == 4 &&
           strcmp(json_string_value(json_object_get(labels, "alertname")),
                  "PatroniStandbyLagHigh") == 0 &&
           strcmp(json_string_value(json_object_get(labels, "site")), "golddr") == 0,
       "labels arrive whole");
    json_t *ann = json_object_get(a, "annotations");
    ok(ann && strcmp(json_string_value(json_object_get(ann, "description")),
                     "RPO at risk: \"lag\" > 16 MiB\nsecond line \xc3\xbcn\xc3\xaf"
                     "c\xc3\xb6"
                     "d\xc3\xa9") == 0,
       "annotations arrive whole, UTF-8 and newlines included");
    ok(a && strcmp(json_string_value(json_object_get(a, "generatorURL")),
                   "http://drwatch.example:8488/#alerts") == 0,
       "generatorURL");
    char t[AM_TIME_LEN];
    am_time_format(g.alerts[0].starts_at, t);
    const char *got = json_string_value(json_object_get(a, "startsAt"));
    ok(got && strncmp(got, t, 19) == 0, "startsAt %s (sent %s)", got ? got : "?", t);
    ok(strcmp(json_string_value(json_object_get(json_object_get(a, "status"), "state")),
              "active") == 0,
       "the alert is active in Alertmanager");
    json_decref(arr);

    /* Resolving: the firing alerts end, Alertmanager stops listing them as active. */
    for (int i = 0; i < 3; i++) g.alerts[i].ends_at = now - 1;
    g.n.status = "resolved";
    render(m.state, &g.n, &p);
    r = nt_send(l, &alertmanager_notifier, m.state, &p, 10000);
    buf_free(&p.body);
    arr = am_alerts(l, h, port);
    ok(r.outcome == SEND_OK && json_array_size(arr) == 0,
       "a resolved notification ends the alerts there (%zu active)", json_array_size(arr));
    json_decref(arr);

    /* A payload Alertmanager refuses. */
    struct payload bad = {0};
    buf_init(&bad.body, CAP_NOTIFY_PAYLOAD);
    buf_puts(&bad.body, "[{\"labels\":{}}]");
    r = nt_send(l, &alertmanager_notifier, m.state, &bad, 10000);
    ok(r.outcome == SEND_FAIL && strcmp(r.reason, "http_400") == 0 && r.detail[0],
       "a refused payload fails without retry, with Alertmanager's reason (%s: %s)", r.reason,
       r.detail);
    buf_free(&bad.body);
    nt_unmake(&alertmanager_notifier, &m);

    /* A cluster with one instance down. */
    g.n.status = "firing";
    for (int i = 0; i < 3; i++) g.alerts[i].ends_at = 0;
    cfg = xasprintf("urls = { 'http://127.0.0.1:%d', 'http://127.0.0.1:%d' }", fake_free_port(),
                    port);
    m = nt_make(&alertmanager_notifier, &env, cfg, err, sizeof(err));
    free(cfg);
    render(m.state, &g.n, &p);
    r = nt_send(l, &alertmanager_notifier, m.state, &p, 10000);
    ok(r.outcome == SEND_OK && strstr(r.detail, "[0]"),
       "one of two instances down: ok, the other's failure noted (%s)", r.detail);
    buf_free(&p.body);
    nt_unmake(&alertmanager_notifier, &m);
}

static void test_offline(struct loop *l, struct httpc *h)
{
    char err[512] = "";
    struct nt_group g;
    nt_group_init(&g);
    struct nt_made m =
        nt_make(&alertmanager_notifier, &env,
                "urls = { 'http://127.0.0.1:9093' }, firing_valid_for = '5m'", err, sizeof(err));
    if (!ok(m.state != NULL, "notifier made offline (%s)", err)) return;
    struct payload p;
    render(m.state, &g.n, &p);
    ok(nt_golden("tests/data/alertmanager/firing.json", p.body.data, p.body.len),
       "the payload matches tests/data/alertmanager/firing.json");
    json_error_t e;
    json_t *arr = json_loadb(p.body.data, p.body.len, 0, &e);
    json_t *first = json_array_get(arr, 0);
    ok(json_array_size(arr) == 3 &&
           strcmp(json_string_value(json_object_get(first, "endsAt")), "2024-06-10T09:50:41Z") ==
               0 &&
           strcmp(json_string_value(json_object_get(json_array_get(arr, 2), "endsAt")),
                  "2024-06-10T09:45:00.5Z") == 0,
       "firing_valid_for sets endsAt of firing alerts; resolved ones keep theirs");
    json_decref(arr);
    is_str(p.content_type, "application/json", "content type");
    buf_free(&p.body);
    nt_unmake(&alertmanager_notifier, &m);

    ok(nt_refused(&alertmanager_notifier, &env, "urls = { 'ftp://x' }", err, sizeof(err)),
       "a non-HTTP URL is refused (%s)", err);
    ok(nt_refused(&alertmanager_notifier, &env, "urls = { }", err, sizeof(err)),
       "no URL is refused (%s)", err);

    /* Headers, as a fake sees them. */
    int port = fake_free_port();
    pid_t fake = fake_start("teams_fake.py", port);
    if (!ok(fake > 0, "a fake to see the headers")) return;
    char *pwfile = xasprintf("%s/am-password", tmpdir);
    nt_write_file(pwfile, "hunter2\n");
    char *cfg = xasprintf("urls = { 'http://127.0.0.1:%d/am' }, username = 'drwatch', "
                          "password_file = '%s'",
                          port, pwfile);
    m = nt_make(&alertmanager_notifier, &env, cfg, err, sizeof(err));
    render(m.state, &g.n, &p);
    struct nt_result r = nt_send(l, &alertmanager_notifier, m.state, &p, 5000);
    ok(r.outcome == SEND_FAIL && strcmp(r.reason, "http_404") == 0 && !strstr(r.detail, "hunter2"),
       "a 404 fails (%s %s)", r.reason, r.detail);
    char *url = xasprintf("http://127.0.0.1:%d/__fake/requests", port);
    char *seen = nt_http(l, h, "GET", url, NULL);
    char want[128];
    snprintf(want, sizeof(want), "\"Idempotency-Key\": \"%s\"", p.dedupe_key);
    ok(seen && strstr(seen, want), "Idempotency-Key is the dedupe key");
    ok(seen && strstr(seen, "\"Authorization\": \"Basic ZHJ3YXRjaDpodW50ZXIy\""),
       "basic auth from the password file");
    ok(seen && strstr(seen, "\"path\": \"/am/api/v2/alerts\""), "POST /api/v2/alerts");
    free(seen);
    free(url);
    buf_free(&p.body);
    nt_unmake(&alertmanager_notifier, &m);
    free(cfg);
    free(pwfile);
    fake_stop(fake);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/drwatch-am-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    struct loop *l = loop_new();
    struct httpc *h = httpc_new(l);
    env = (struct notifier_env){
        .loop = l, .http = h, .templates_dir = "alerts/templates", .timeout_ms = 3000};
    test_offline(l, h);
    int port = fake_free_port();
    pid_t am = start_alertmanager(port);
    if (ok(am > 0, "prometheus-alertmanager on port %d", port)) test_real(l, h, port);
    fake_stop(am);
    httpc_free(h);
    loop_free(l);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0) diag("could not remove %s", tmpdir);
    curl_global_cleanup();
    return done_testing();
}
