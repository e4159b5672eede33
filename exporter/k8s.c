/* k8s.c: the Kubernetes API client of k8s.h: in-pod defaults, requests through httpc, and
 * the apiserver's Status error bodies turned into one clear log line.
 *
 * Uses: exporter/httpc (transport), exporter/target (TLS, token), jansson (JSON). */
#include "k8s.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "fileio.h"
#include "strutil.h"
#include "xalloc.h"

/* ---- names ---- */

bool k8s_name_valid(const char *s, bool subdomain)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > (subdomain ? 253u : 63u)) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (!alnum && ch != '-' && !(subdomain && ch == '.')) return false;
        if (!alnum && (i == 0 || i == n - 1)) return false;
    }
    return true;
}

bool k8s_label_value_valid(const char *s)
{
    size_t n = strlen(s);
    if (n > 63) return false;
    for (size_t i = 0; i < n; i++) {
        bool alnum = isalnum((unsigned char)s[i]) != 0;
        if (!alnum && s[i] != '-' && s[i] != '_' && s[i] != '.') return false;
        if (!alnum && (i == 0 || i == n - 1)) return false;
    }
    return true;
}

int k8s_query_escape(struct buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        int rc;
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            rc = buf_putc(out, (char)ch);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            rc = buf_append(out, e, 3);
        }
        if (rc < 0) return rc;
    }
    return 0;
}

/* ---- resolving a target ---- */

static char *sa_path(const char *sa_dir, const char *file)
{
    return xasprintf("%s/%s", sa_dir, file);
}

static bool readable(const char *path)
{
    return access(path, R_OK) == 0;
}

/* The pod's API server URL, or NULL outside a pod. */
static char *in_pod_url(const char *sa_dir)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT_HTTPS");
    if (!port || !*port) port = getenv("KUBERNETES_SERVICE_PORT");
    if (host && *host) {
        bool v6 = strchr(host, ':') != NULL;
        return xasprintf("https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
                         port && *port ? port : "443");
    }
    char *token = sa_path(sa_dir, "token");
    bool pod = readable(token);
    free(token);
    return pod ? xstrdup(K8S_DEFAULT_URL) : NULL;
}

/* Host part of an http(s) URL, without port or brackets, into out. */
static void url_host(const char *url, char *out, size_t outlen)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *at = strpbrk(p, "@/");
    if (at && *at == '@') p = at + 1;
    size_t n;
    if (*p == '[') {
        p++;
        n = strcspn(p, "]");
    } else {
        n = strcspn(p, ":/?#");
    }
    snprintf(out, outlen, "%.*s", (int)n, p);
}

static bool is_in_cluster_url(const char *url)
{
    char host[256];
    url_host(url, host, sizeof(host));
    const char *env = getenv("KUBERNETES_SERVICE_HOST");
    if (env && *env && strcmp(host, env) == 0) return true;
    return strcmp(host, "kubernetes.default.svc") == 0 ||
           strcmp(host, "kubernetes.default.svc.cluster.local") == 0 ||
           strcmp(host, "kubernetes.default") == 0 || strcmp(host, "kubernetes") == 0;
}

static int read_namespace(const char *sa_dir, char **out)
{
    char *path = sa_path(sa_dir, "namespace");
    char *data = NULL;
    size_t len = 0;
    int rc = file_read_all(path, CAP_NAMESPACE_FILE, &data, &len);
    free(path);
    if (rc < 0) return rc;
    while (len && isspace((unsigned char)data[len - 1])) data[--len] = '\0';
    *out = data;
    return 0;
}

int k8s_client_init(struct k8s_client *c, const struct k8s_target *t, const char *sa_dir, char *err,
                    size_t errlen)
{
    if (!sa_dir) sa_dir = K8S_SA_DIR;
    memset(c, 0, sizeof(*c));
    http_target_copy(&c->http, &t->http);
    if (!c->http.url) c->http.url = in_pod_url(sa_dir);
    c->namespace = t->namespace ? xstrdup(t->namespace) : NULL;
    const char *label = t->http.name ? t->http.name : (t->http.url ? t->http.url : "(in-pod)");
    if (!c->http.url) {
        snprintf(err, errlen,
                 "target %s: url is required outside a pod (no KUBERNETES_SERVICE_HOST and no "
                 "%s/token)",
                 label, sa_dir);
        goto fail;
    }
    c->in_cluster = is_in_cluster_url(c->http.url);
    if (c->in_cluster) {
        char *token = sa_path(sa_dir, "token"), *ca = sa_path(sa_dir, "ca.crt");
        if (!c->http.bearer_token_file && readable(token))
            c->http.bearer_token_file = token;
        else
            free(token);
        if (!c->http.ca_file && !c->http.insecure_skip_verify && readable(ca))
            c->http.ca_file = ca;
        else
            free(ca);
    }
    if (!c->namespace) {
        int rc = read_namespace(sa_dir, &c->namespace);
        if (rc < 0) {
            snprintf(err, errlen,
                     "target %s: namespace is required outside a pod (%s/namespace: %s)", label,
                     sa_dir, strerror(-rc));
            goto fail;
        }
    }
    if (!k8s_name_valid(c->namespace, false)) {
        snprintf(err, errlen,
                 "target %s: namespace \"%s\" is not a Kubernetes namespace name "
                 "([a-z0-9-], at most 63)",
                 label, c->namespace);
        goto fail;
    }
    if (http_target_check(&c->http, err, errlen) < 0) goto fail;
    return 0;
fail:
    k8s_client_clear(c);
    return -1;
}

void k8s_client_clear(struct k8s_client *c)
{
    if (!c) return;
    http_target_clear(&c->http);
    free(c->namespace);
    memset(c, 0, sizeof(*c));
}

/* ---- JSON ---- */

json_t *k8s_json_load(const char *body, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        snprintf(err, errlen, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
    return root;
}

static json_t *json_vpath(json_t *root, va_list ap)
{
    json_t *v = root;
    for (const char *k; (k = va_arg(ap, const char *));) {
        if (!json_is_object(v)) return NULL;
        v = json_object_get(v, k);
    }
    return v;
}

json_t *k8s_json_path(json_t *root, ...)
{
    va_list ap;
    va_start(ap, root);
    json_t *v = json_vpath(root, ap);
    va_end(ap);
    return v;
}

const char *k8s_json_str(json_t *root, ...)
{
    va_list ap;
    va_start(ap, root);
    json_t *v = json_vpath(root, ap);
    va_end(ap);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---- Status bodies ---- */

/* Copies s for a log line: capped, control bytes as spaces. */
static void copy_printable(char *out, size_t outlen, const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < outlen; i++)
        out[k++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? ' ' : s[i];
    out[k] = '\0';
}

int k8s_status_parse(const char *body, size_t len, struct k8s_status *out)
{
    memset(out, 0, sizeof(*out));
    json_t *root = json_loadb(body, len, 0, NULL);
    if (!root) return -EINVAL;
    int rc = -EINVAL;
    const char *kind = k8s_json_str(root, "kind", K8S_END);
    if (kind && strcmp(kind, "Status") == 0) {
        const char *reason = k8s_json_str(root, "reason", K8S_END);
        const char *msg = k8s_json_str(root, "message", K8S_END);
        json_t *code = json_object_get(root, "code");
        if (reason) copy_printable(out->reason, sizeof(out->reason), reason, strlen(reason));
        if (msg) copy_printable(out->message, sizeof(out->message), msg, strlen(msg));
        if (json_is_integer(code)) out->code = (long)json_integer_value(code);
        rc = 0;
    }
    json_decref(root);
    return rc;
}

/* ---- watches ---- */

static const char *const watch_types[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};

const char *k8s_watch_type_name(enum k8s_watch_type t)
{
    return (size_t)t < sizeof(watch_types) / sizeof(watch_types[0]) ? watch_types[t] : "?";
}

void k8s_watch_event_clear(struct k8s_watch_event *ev)
{
    if (!ev) return;
    json_decref(ev->object);
    ev->object = NULL;
}

/* The Status of an ERROR event, as k8s_status_parse reads a body. */
static void watch_status(json_t *obj, struct k8s_status *st)
{
    const char *kind = k8s_json_str(obj, "kind", K8S_END);
    if (!kind || strcmp(kind, "Status") != 0) return;
    const char *reason = k8s_json_str(obj, "reason", K8S_END);
    const char *msg = k8s_json_str(obj, "message", K8S_END);
    json_t *code = json_object_get(obj, "code");
    if (reason) copy_printable(st->reason, sizeof(st->reason), reason, strlen(reason));
    if (msg) copy_printable(st->message, sizeof(st->message), msg, strlen(msg));
    if (json_is_integer(code)) st->code = (long)json_integer_value(code);
}

int k8s_watch_parse(const char *line, size_t len, struct k8s_watch_event *out, char *err,
                    size_t errlen)
{
    memset(out, 0, sizeof(*out));
    char jerr[200];
    json_t *root = k8s_json_load(line, len, jerr, sizeof(jerr));
    if (!root) {
        snprintf(err, errlen, "a watch line that is not JSON: %s", jerr);
        return -EINVAL;
    }
    int rc = -EINVAL;
    const char *type = k8s_json_str(root, "type", K8S_END);
    json_t *obj = json_object_get(root, "object");
    json_t *rv = k8s_json_path(obj, "metadata", "resourceVersion", K8S_END);
    size_t t = 0;
    while (type && t < sizeof(watch_types) / sizeof(watch_types[0]) &&
           strcmp(type, watch_types[t]) != 0)
        t++;
    if (!type || t == sizeof(watch_types) / sizeof(watch_types[0])) {
        snprintf(err, errlen, "a watch event without a known type");
    } else if (!json_is_object(obj)) {
        snprintf(err, errlen, "a %s event without an object", type);
    } else if (rv &&
               (!json_is_string(rv) || json_string_length(rv) >= sizeof(out->resource_version))) {
        snprintf(err, errlen, "a %s event whose resourceVersion is not a short string", type);
    } else {
        out->type = (enum k8s_watch_type)t;
        out->object = json_incref(obj);
        if (rv) memcpy(out->resource_version, json_string_value(rv), json_string_length(rv) + 1);
        if (out->type == K8S_WATCH_ERROR) watch_status(obj, &out->status);
        rc = 0;
    }
    json_decref(root);
    return rc;
}

/* ---- ConfigMaps ---- */

int k8s_configmap_data(json_t *root, json_t **data, char *err, size_t errlen)
{
    const char *kind = k8s_json_str(root, "kind", K8S_END);
    *data = json_object_get(root, "data");
    if (!json_is_object(root) || (kind && strcmp(kind, "ConfigMap") != 0) ||
        !json_is_object(json_object_get(root, "metadata")) ||
        (*data && !json_is_object(*data) && !json_is_null(*data))) {
        snprintf(err, errlen, "expected a ConfigMap object, got %s%s",
                 kind ? "kind " : "something else", kind ? kind : "");
        *data = NULL;
        return -EINVAL;
    }
    if (!json_is_object(*data)) *data = NULL;
    return 0;
}

const char *k8s_configmap_value(json_t *data, const char *key, char *out, size_t outlen)
{
    json_t *v = data ? json_object_get(data, key) : NULL;
    str_utf8_copy(out, outlen, json_is_string(v) ? json_string_value(v) : "");
    return out;
}

/* ---- requests ---- */

struct k8s_req {
    struct httpc_req *http;
    k8s_done_fn fn;
    httpc_line_fn on_line;
    void *arg;
    char *url;
    char *token;
    char *ctype;
};

static void req_free(struct k8s_req *r)
{
    free(r->url);
    free(r->token);
    free(r->ctype);
    free(r);
}

static void on_http_done(void *arg, const struct httpc_result *hr)
{
    struct k8s_req *r = arg;
    char reason[32], detail[700];
    struct k8s_status st = {0};
    struct k8s_response res = {.status = hr->status,
                               .body = hr->body,
                               .body_len = hr->body_len,
                               .status_reason = "",
                               .retry_after_s = hr->retry_after_s};
    if (!hr->ok) {
        res.reason = hr->reason;
        res.detail = hr->error;
    } else if (hr->status >= 200 && hr->status < 300) {
        res.ok = true;
    } else {
        http_status_reason(hr->status, reason, sizeof(reason));
        res.reason = reason;
        if (k8s_status_parse(hr->body, hr->body_len, &st) == 0) {
            res.status_reason = st.reason;
            if (!st.message[0] || strcmp(st.message, st.reason) == 0)
                snprintf(detail, sizeof(detail), "%s", st.reason[0] ? st.reason : "(no message)");
            else if (st.reason[0])
                snprintf(detail, sizeof(detail), "%s: %s", st.reason, st.message);
            else
                snprintf(detail, sizeof(detail), "%s", st.message);
        } else {
            char start[200];
            copy_printable(start, sizeof(start), hr->body, hr->body_len);
            snprintf(detail, sizeof(detail), "HTTP %ld, not a Kubernetes Status body: %s%s",
                     hr->status, start[0] ? "" : "(empty)", start);
        }
        res.detail = detail;
    }
    r->fn(r->arg, &res);
    req_free(r);
}

static void on_http_line(void *arg, const char *line, size_t len)
{
    struct k8s_req *r = arg;
    r->on_line(r->arg, line, len);
}

struct k8s_req *k8s_request(struct httpc *h, const struct k8s_client *c,
                            const struct k8s_call *call, k8s_done_fn fn, void *arg, char *err,
                            size_t errlen)
{
    struct k8s_req *r = xcalloc(1, sizeof(*r));
    r->fn = fn;
    r->on_line = call->on_line;
    r->arg = arg;
    r->url = url_join(c->http.url, call->path);
    struct httpc_opts o;
    if (http_target_opts(&c->http, r->url, &o, &r->token, err, errlen) < 0) {
        req_free(r);
        return NULL;
    }
    if (call->timeout_ms > 0) o.timeout_ms = call->timeout_ms;
    o.method = call->method;
    o.body = call->body;
    o.body_len = call->body_len;
    if (call->on_line) {
        o.on_line = on_http_line;
        o.max_body = CAP_K8S_WATCH_LINE;
    }
    const char *headers[3] = {"Accept: application/json", NULL, NULL};
    if (call->content_type) {
        r->ctype = xasprintf("Content-Type: %s", call->content_type);
        headers[1] = r->ctype;
    }
    o.headers = headers;
    r->http = httpc_start(h, &o, on_http_done, r);
    if (!r->http) {
        snprintf(err, errlen, "the HTTP client refused the request to %s", r->url);
        req_free(r);
        return NULL;
    }
    return r;
}

void k8s_cancel(struct k8s_req *r)
{
    if (!r) return;
    httpc_cancel(r->http);
    req_free(r);
}
