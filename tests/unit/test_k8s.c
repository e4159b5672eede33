/* test_k8s.c: the Kubernetes API client (exporter/k8s.h): in-pod defaults (URL from
 * KUBERNETES_SERVICE_HOST, the service-account token, CA and namespace, and that the token is
 * never attached to another cluster's URL), Status error bodies, and requests against
 * tests/fakes/k8s_fake.py: GET, 401/403/404/409 with the apiserver's message, merge-patch,
 * a body over the cap, a watch (its lines as events, its end, 410 from a version too old), and
 * the whole in-pod path over TLS with a CA made by openssl here. Also the watch-line parser and
 * the ConfigMap reading the collector and the switchover part share. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "caps.h"
#include "fake.h"
#include "http_client.h"
#include "k8s.h"
#include "loop.h"
#include "tap.h"
#include "xalloc.h"

static char sa_dir[64];

static void write_file(const char *dir, const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) fputs(text, f), fclose(f);
    free(path);
}

static void test_defaults(void)
{
    char err[400];
    struct k8s_client c;
    struct k8s_target t = {0};
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    unsetenv("KUBERNETES_SERVICE_PORT_HTTPS");
    ok(k8s_client_init(&c, &t, "/nonexistent", err, sizeof(err)) < 0 &&
           strstr(err, "url is required outside a pod"),
       "outside a pod, url is required: %s", err);
    t.http.url = "https://k8s.golddr.example:6443";
    ok(k8s_client_init(&c, &t, "/nonexistent", err, sizeof(err)) < 0 &&
           strstr(err, "namespace is required outside a pod"),
       "outside a pod, namespace is required: %s", err);
    t.namespace = "Not_A_Namespace";
    ok(k8s_client_init(&c, &t, "/nonexistent", err, sizeof(err)) < 0 &&
           strstr(err, "is not a Kubernetes namespace name"),
       "a bad namespace is refused: %s", err);

    /* In a pod: service-account files, and the service environment. */
    write_file(sa_dir, "token", "pod-token\n");
    write_file(sa_dir, "namespace", "ops\n");
    write_file(sa_dir, "ca.crt", "not read here\n");
    t = (struct k8s_target){0};
    ok(k8s_client_init(&c, &t, sa_dir, err, sizeof(err)) == 0, "in a pod, nothing is required");
    is_str(c.http.url, K8S_DEFAULT_URL, "url defaults to kubernetes.default.svc");
    is_str(c.namespace, "ops", "namespace from the pod's namespace file");
    ok(c.in_cluster && c.http.bearer_token_file && strstr(c.http.bearer_token_file, "/token") &&
           c.http.ca_file && strstr(c.http.ca_file, "/ca.crt"),
       "the service account's token and CA are used");
    k8s_client_clear(&c);
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    ok(k8s_client_init(&c, &t, sa_dir, err, sizeof(err)) == 0, "with the service environment");
    is_str(c.http.url, "https://10.96.0.1:443", "url is the address the certificate is for");
    k8s_client_clear(&c);
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    must(k8s_client_init(&c, &t, sa_dir, err, sizeof(err)));
    is_str(c.http.url, "https://[fd00::1]:443", "an IPv6 service host is bracketed");
    k8s_client_clear(&c);

    /* Another cluster's API: this pod's token must not go there. */
    t.http.url = "https://api.golddr.example:6443";
    ok(k8s_client_init(&c, &t, sa_dir, err, sizeof(err)) == 0 && !c.in_cluster &&
           !c.http.bearer_token_file && !c.http.ca_file,
       "the pod's token and CA are not used for another cluster's URL");
    is_str(c.namespace, "ops", "the namespace still defaults to the pod's");
    k8s_client_clear(&c);
    t.http.url = "https://kubernetes.default.svc.cluster.local";
    must(k8s_client_init(&c, &t, sa_dir, err, sizeof(err)));
    ok(c.in_cluster && c.http.bearer_token_file, "an explicit in-cluster URL gets the defaults");
    k8s_client_clear(&c);
    t.http.bearer_token_file = "/nonexistent/token";
    ok(k8s_client_init(&c, &t, sa_dir, err, sizeof(err)) < 0 && strstr(err, "bearer_token_file"),
       "an explicit token file is kept and checked: %s", err);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
}

static void test_names(void)
{
    ok(k8s_name_valid("ops-pipelines", false), "a namespace name");
    ok(!k8s_name_valid("-ops", false) && !k8s_name_valid("ops.x", false) &&
           !k8s_name_valid("", false),
       "bad namespace names");
    ok(k8s_name_valid("switchover-state.dev", true), "a subdomain name");
    ok(k8s_label_value_valid("14a657c3-6816-45bf-b214-4afdaefc4ebd") && k8s_label_value_valid(""),
       "label values");
    ok(!k8s_label_value_valid("a=b") && !k8s_label_value_valid("a,b") &&
           !k8s_label_value_valid("-a"),
       "label values that would change a selector are refused");
    struct buf b;
    buf_init(&b, CAP_URL_PATH);
    k8s_query_escape(&b, "triggers.tekton.dev/triggers-eventid=a b");
    is_str(b.data, "triggers.tekton.dev%2Ftriggers-eventid%3Da%20b", "query escaping");
    buf_free(&b);
}

static void test_status(void)
{
    struct k8s_status st;
    const char *forbidden =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
        "\"message\":\"deployments.apps \\\"kong-dp\\\" is forbidden: User \\\"x\\\" cannot "
        "patch\",\"reason\":\"Forbidden\",\"details\":{\"name\":\"kong-dp\",\"group\":\"apps\","
        "\"kind\":\"deployments\"},\"code\":403}";
    ok(k8s_status_parse(forbidden, strlen(forbidden), &st) == 0 && st.code == 403 &&
           strcmp(st.reason, "Forbidden") == 0 && strstr(st.message, "is forbidden"),
       "a Forbidden Status is read");
    const char *nl = "{\"kind\":\"Status\",\"message\":\"a\\nb\\u0001c\",\"code\":500}";
    ok(k8s_status_parse(nl, strlen(nl), &st) == 0 && strcmp(st.message, "a b c") == 0,
       "control bytes in messages are blanked for the log");
    ok(k8s_status_parse("{\"message\":\"Not found\"}", 23, &st) < 0, "not a Status");
    ok(k8s_status_parse("<html>", 6, &st) < 0, "not JSON");
}

/* ---- requests ---- */

struct got {
    struct loop *loop;
    int calls;
    struct k8s_response r;
    char reason[32], detail[700], status_reason[64], body[2048];
};

static void on_done(void *arg, const struct k8s_response *r)
{
    struct got *g = arg;
    g->calls++;
    g->r = *r;
    snprintf(g->reason, sizeof(g->reason), "%s", r->reason ? r->reason : "");
    snprintf(g->detail, sizeof(g->detail), "%s", r->detail ? r->detail : "");
    snprintf(g->status_reason, sizeof(g->status_reason), "%s", r->status_reason);
    snprintf(g->body, sizeof(g->body), "%s", r->body);
    loop_stop(g->loop);
}

static struct got call(struct loop *l, struct httpc *h, const struct k8s_client *c,
                       struct k8s_call k)
{
    struct got g = {.loop = l};
    char err[300];
    if (!k.timeout_ms) k.timeout_ms = 3000;
    if (k8s_request(h, c, &k, on_done, &g, err, sizeof(err)))
        loop_run(l);
    else
        diag("request refused: %s", err);
    return g;
}

#define CM "/api/v1/namespaces/ops/configmaps/switchover-state-dev"

/* Watch lines as the apiserver writes them (api-concepts; the 410 is watch's "too old
 * resource version" Status), and lines that are not events. */
static void test_watch_parse(void)
{
    char err[200];
    struct k8s_watch_event ev;
    static const char added[] =
        "{\"type\":\"ADDED\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\","
        "\"metadata\":{\"name\":\"switchover-state-dev\",\"namespace\":\"ops\","
        "\"resourceVersion\":\"98812991\"},\"data\":{\"transition\":\"golddr-primary\"}}}";
    ok(k8s_watch_parse(added, strlen(added), &ev, err, sizeof(err)) == 0 &&
           ev.type == K8S_WATCH_ADDED && strcmp(ev.resource_version, "98812991") == 0 &&
           strcmp(k8s_json_str(ev.object, "data", "transition", K8S_END), "golddr-primary") == 0,
       "ADDED: the object and its resourceVersion");
    k8s_watch_event_clear(&ev);
    k8s_watch_event_clear(&ev);
    static const char bookmark[] = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\","
                                   "\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
                                   "\"98813050\"}}}";
    ok(k8s_watch_parse(bookmark, strlen(bookmark), &ev, err, sizeof(err)) == 0 &&
           ev.type == K8S_WATCH_BOOKMARK && strcmp(ev.resource_version, "98813050") == 0,
       "BOOKMARK: only the resourceVersion");
    k8s_watch_event_clear(&ev);
    static const char gone[] =
        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
        "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version: "
        "98812000 (98812991)\",\"reason\":\"Expired\",\"code\":410}}";
    ok(k8s_watch_parse(gone, strlen(gone), &ev, err, sizeof(err)) == 0 &&
           ev.type == K8S_WATCH_ERROR && ev.status.code == 410 &&
           strcmp(ev.status.reason, "Expired") == 0 &&
           strstr(ev.status.message, "too old resource version") && !ev.resource_version[0],
       "ERROR: the Status, code 410 (%s)", ev.status.message);
    k8s_watch_event_clear(&ev);
    static const struct {
        const char *line, *why;
    } bad[] = {
        {"", "not JSON"},
        {"{\"type\":\"ADDED\"", "not JSON"},
        {"[1,2]", "known type"},
        {"{\"object\":{}}", "known type"},
        {"{\"type\":\"CHANGED\",\"object\":{}}", "known type"},
        {"{\"type\":\"MODIFIED\",\"object\":\"x\"}", "without an object"},
        {"{\"type\":\"DELETED\"}", "without an object"},
        {"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"resourceVersion\":7}}}",
         "not a short string"},
        {"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"resourceVersion\":\"1234567890"
         "12345678901234567890123456789012345678901234567890123456789\"}}}",
         "not a short string"},
        {"{\"type\":\"ADDED\",\"type\":\"DELETED\",\"object\":{}}", "not JSON"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        int rc = k8s_watch_parse(bad[i].line, strlen(bad[i].line), &ev, err, sizeof(err));
        ok(rc == -EINVAL && ev.object == NULL && strstr(err, bad[i].why), "refused: %.40s (%s)",
           bad[i].line, err);
    }
    is_str(k8s_watch_type_name(K8S_WATCH_BOOKMARK), "BOOKMARK", "type names");
}

static void test_configmap_helpers(void)
{
    char err[200], v[8];
    json_t *data;
    json_t *cm = json_pack("{s:s, s:{s:s}, s:{s:s, s:i, s:s}}", "kind", "ConfigMap", "metadata",
                           "name", "x", "data", "transition", "golddr-primary", "n", 5, "u",
                           "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
    ok(k8s_configmap_data(cm, &data, err, sizeof(err)) == 0 && json_is_object(data),
       "a ConfigMap with data");
    is_str(k8s_configmap_value(data, "transition", v, sizeof(v)), "golddr-", "a value, cut");
    is_str(k8s_configmap_value(data, "n", v, sizeof(v)), "", "a value that is not a string: \"\"");
    is_str(k8s_configmap_value(data, "none", v, sizeof(v)), "", "an absent key: \"\"");
    is_str(k8s_configmap_value(data, "u", v, sizeof(v)), "\xc3\xa9\xc3\xa9\xc3\xa9",
           "cut on a UTF-8 boundary");
    is_str(k8s_configmap_value(NULL, "transition", v, sizeof(v)), "", "no data: \"\"");
    json_object_del(cm, "kind"); /* list items carry no kind */
    json_object_set_new(cm, "data", json_null());
    ok(k8s_configmap_data(cm, &data, err, sizeof(err)) == 0 && data == NULL,
       "a list item with data null: a ConfigMap without data");
    json_object_set_new(cm, "data", json_string("x"));
    ok(k8s_configmap_data(cm, &data, err, sizeof(err)) < 0 && data == NULL,
       "data that is not an object: refused (%s)", err);
    json_object_set_new(cm, "kind", json_string("Secret"));
    json_object_del(cm, "data");
    ok(k8s_configmap_data(cm, &data, err, sizeof(err)) < 0 && strstr(err, "kind Secret"),
       "another kind: %s", err);
    json_decref(cm);
}

/* A watch through k8s_request (k8s_call.on_line): its lines as events, and its end. */
struct watch_got {
    struct got g;
    int events, modified, errors;
    long code;
    char transition[32];
};

static void on_watch_line(void *arg, const char *line, size_t len)
{
    struct watch_got *w = arg;
    struct k8s_watch_event ev;
    char err[200];
    if (k8s_watch_parse(line, len, &ev, err, sizeof(err)) < 0) return;
    w->events++;
    if (ev.type == K8S_WATCH_MODIFIED) {
        w->modified++;
        snprintf(w->transition, sizeof(w->transition), "%s",
                 k8s_json_str(ev.object, "data", "transition", K8S_END));
    }
    if (ev.type == K8S_WATCH_ERROR) w->errors++, w->code = ev.status.code;
    k8s_watch_event_clear(&ev);
}

static void on_watch_done(void *arg, const struct k8s_response *r)
{
    on_done(&((struct watch_got *)arg)->g, r);
}

static void on_patch_done(void *arg, const struct k8s_response *r)
{
    (void)r;
    (*(int *)arg)++;
}

static void test_watch(struct loop *l, struct httpc *h, const struct k8s_client *c)
{
    char err[300];
    struct got g = call(l, h, c, (struct k8s_call){.path = "/api/v1/namespaces/ops/configmaps"});
    json_t *list = k8s_json_load(g.body, strlen(g.body), err, sizeof(err));
    const char *rv = k8s_json_str(list, "metadata", "resourceVersion", K8S_END);
    char *path = xasprintf("/api/v1/namespaces/ops/configmaps?watch=true&fieldSelector="
                           "metadata.name%%3Dswitchover-state-dev&timeoutSeconds=2&"
                           "resourceVersion=%s",
                           rv ? rv : "");
    json_decref(list);
    struct watch_got w = {.g.loop = l};
    const char *patch = "{\"data\":{\"transition\":\"active-passive-force\"}}";
    int patched = 0;
    struct k8s_call wc = {.path = path, .timeout_ms = 5000, .on_line = on_watch_line};
    struct k8s_call pc = {.method = "PATCH",
                          .path = CM,
                          .content_type = "application/merge-patch+json",
                          .body = patch,
                          .body_len = strlen(patch),
                          .timeout_ms = 3000};
    if (k8s_request(h, c, &wc, on_watch_done, &w, err, sizeof(err)) &&
        k8s_request(h, c, &pc, on_patch_done, &patched, err, sizeof(err)))
        loop_run(l);
    ok(patched == 1 && w.modified == 1 && strcmp(w.transition, "active-passive-force") == 0,
       "a watch delivers the patch made while it is open as a MODIFIED event (%d events)",
       w.events);
    ok(w.g.calls == 1 && w.g.r.ok && w.g.r.status == 200, "and ends at timeoutSeconds: 200");
    free(path);
    w = (struct watch_got){.g.loop = l};
    wc.path = "/api/v1/namespaces/ops/configmaps?watch=true&resourceVersion=1";
    if (k8s_request(h, c, &wc, on_watch_done, &w, err, sizeof(err))) loop_run(l);
    ok(w.events == 1 && w.errors == 1 && w.code == 410 && w.g.r.ok,
       "a watch from a version too old: one ERROR event, 410, in a 200 stream");
}

static void test_requests(struct loop *l, struct httpc *h)
{
    int port = fake_free_port();
    char *args[] = {"--token", "s3cret", NULL};
    pid_t pid = fake_start_args("k8s_fake.py", port, args);
    if (!ok(pid > 0, "k8s fake on port %d", port)) return;
    char *tok = xasprintf("%s/mytoken", sa_dir);
    write_file(sa_dir, "mytoken", "s3cret\n");
    struct k8s_target t = {.namespace = "ops"};
    t.http.url = xasprintf("http://127.0.0.1:%d", port);
    t.http.bearer_token_file = tok;
    t.http.max_body_bytes = 1 << 20;
    struct k8s_client c;
    char err[300];
    must(k8s_client_init(&c, &t, "/nonexistent", err, sizeof(err)));

    struct got g = call(l, h, &c, (struct k8s_call){.path = CM});
    ok(g.calls == 1 && g.r.ok && g.r.status == 200 && strstr(g.body, "\"last_stable_state\""),
       "GET a ConfigMap");
    g = call(l, h, &c, (struct k8s_call){.path = "/api/v1/namespaces/ops/configmaps/nope"});
    ok(!g.r.ok && strcmp(g.reason, "http_404") == 0 && strcmp(g.status_reason, "NotFound") == 0 &&
           strcmp(g.detail, "NotFound: configmaps \"nope\" not found") == 0,
       "404 NotFound with the apiserver's message: %s", g.detail);
    const char *patch = "{\"data\":{\"transition\":\"golddr-primary\"}}";
    g = call(l, h, &c,
             (struct k8s_call){.method = "PATCH",
                               .path = CM,
                               .content_type = "application/merge-patch+json",
                               .body = patch,
                               .body_len = strlen(patch)});
    ok(g.r.ok && strstr(g.body, "\"transition\":\"golddr-primary\"") &&
           strstr(g.body, "\"last_stable_state\":\"active-passive\""),
       "a merge-patch changes one key and keeps the others");
    const char *stale = "{\"metadata\":{\"resourceVersion\":\"1\"},\"data\":{\"transition\":\"\"}}";
    g = call(l, h, &c,
             (struct k8s_call){.method = "PATCH",
                               .path = CM,
                               .content_type = "application/merge-patch+json",
                               .body = stale,
                               .body_len = strlen(stale)});
    ok(strcmp(g.reason, "http_409") == 0 && strcmp(g.status_reason, "Conflict") == 0 &&
           strstr(g.detail, "the object has been modified"),
       "a stale resourceVersion: 409 Conflict (%s)", g.detail);
    g = call(l, h, &c,
             (struct k8s_call){.method = "PATCH",
                               .path = CM,
                               .content_type = "application/x-yaml",
                               .body = "{}",
                               .body_len = 2});
    ok(strcmp(g.reason, "http_415") == 0 && strstr(g.detail, "UnsupportedMediaType"),
       "an unknown patch type: 415 (%s)", g.detail);
    fake_control(port, "http", "state", "{\"forbidden\": [[\"get\", \"configmaps\"]]}");
    g = call(l, h, &c, (struct k8s_call){.path = CM});
    ok(strcmp(g.reason, "http_403") == 0 &&
           strstr(g.detail, "Forbidden: configmaps \"switchover-state-dev\" is forbidden: User "
                            "\"system:serviceaccount:ops:drwatch\" cannot get resource"),
       "403 with the RBAC message: %s", g.detail);
    fake_control(port, "http", "state", "{\"forbidden\": [], \"token\": \"rotated\"}");
    g = call(l, h, &c, (struct k8s_call){.path = CM});
    ok(strcmp(g.reason, "http_401") == 0 && strcmp(g.detail, "Unauthorized") == 0, "401: %s",
       g.detail);
    write_file(sa_dir, "mytoken", "rotated\n");
    g = call(l, h, &c, (struct k8s_call){.path = CM});
    ok(g.r.ok, "the token file is read again for every request (a rotated token works)");
    test_watch(l, h, &c);
    fake_control(port, "http", "mode", "{\"path\": \"*\", \"mode\": \"huge\", \"bytes\": 4000000}");
    g = call(l, h, &c, (struct k8s_call){.path = CM});
    ok(!g.r.ok && strcmp(g.reason, "body_too_large") == 0, "a body over the cap: %s", g.reason);
    fake_control(port, "http", "mode", "{\"path\": \"*\", \"mode\": \"status\", \"status\": 500}");
    g = call(l, h, &c, (struct k8s_call){.path = CM});
    ok(strcmp(g.reason, "http_500") == 0 && strstr(g.detail, "InternalError"), "500: %s", g.detail);
    fake_control(port, "http", "mode", "{\"path\": \"*\", \"mode\": \"ok\"}");
    write_file(sa_dir, "mytoken", "");
    unlink(tok);
    struct got none = {.loop = l};
    ok(!k8s_request(h, &c, &(struct k8s_call){.path = CM}, on_done, &none, err, sizeof(err)) &&
           strstr(err, "bearer_token_file"),
       "an unreadable token file fails at once: %s", err);
    k8s_client_clear(&c);
    free(t.http.url);
    free(tok);
    fake_stop(pid);
}

/* The whole in-pod path: no url, token, CA or namespace in the config. */
static void test_in_pod_tls(struct loop *l, struct httpc *h)
{
    char *cmd = xasprintf(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout %s/key.pem "
        "-out %s/ca.crt >/dev/null 2>&1",
        sa_dir, sa_dir);
    int rc = system(cmd);
    free(cmd);
    if (!ok(rc == 0, "openssl made a certificate for 127.0.0.1")) return;
    int port = fake_free_port();
    char portbuf[16];
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    char *cert = xasprintf("%s/ca.crt", sa_dir), *key = xasprintf("%s/key.pem", sa_dir);
    char *args[] = {"--token", "pod-token", "--tls", cert, key, NULL};
    pid_t pid = fake_start_args("k8s_fake.py", port, args);
    if (!ok(pid > 0, "k8s fake over TLS on port %d", port)) return;
    write_file(sa_dir, "token", "pod-token\n");
    write_file(sa_dir, "namespace", "ops\n");
    setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", portbuf, 1);
    struct k8s_target t = {0};
    t.http.max_body_bytes = 1 << 20;
    struct k8s_client c;
    char err[300];
    rc = k8s_client_init(&c, &t, sa_dir, err, sizeof(err));
    ok(rc == 0, "in-pod client: %s", rc == 0 ? c.http.url : err);
    struct got g = call(l, h, &c, (struct k8s_call){.path = CM});
    ok(g.r.ok && g.r.status == 200, "GET over TLS with the pod's CA, token and namespace (%s %s)",
       g.reason, g.detail);
    k8s_client_clear(&c);
    /* Verification is on by default: the system CAs do not know this certificate. */
    t.http.url = xasprintf("https://127.0.0.1:%d", port);
    t.http.bearer_token_file = xasprintf("%s/token", sa_dir);
    t.namespace = "ops";
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    must(k8s_client_init(&c, &t, "/nonexistent", err, sizeof(err)));
    g = call(l, h, &c, (struct k8s_call){.path = CM});
    ok(!g.r.ok && strcmp(g.reason, "tls") == 0, "an unknown CA is refused (%s)", g.reason);
    k8s_client_clear(&c);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    free(t.http.url);
    free(t.http.bearer_token_file);
    free(cert);
    free(key);
    fake_stop(pid);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(sa_dir, sizeof(sa_dir), "/tmp/drwatch-test-sa-XXXXXX");
    if (!mkdtemp(sa_dir)) return 1;
    test_defaults();
    test_names();
    test_status();
    test_watch_parse();
    test_configmap_helpers();
    struct loop *l = loop_new();
    struct httpc *h = httpc_new(l);
    test_requests(l, h);
    test_in_pod_tls(l, h);
    httpc_free(h);
    loop_free(l);
    char *rm = xasprintf("rm -rf %s", sa_dir);
    if (system(rm) != 0) diag("cleanup failed");
    free(rm);
    curl_global_cleanup();
    return done_testing();
}
