/* notify_webhook.c: the generic webhook receiver, with Alertmanager's webhook JSON (version 4) as
 * notify/webhook sends it: {receiver, status, alerts: [{status, labels, annotations, startsAt,
 * endsAt, generatorURL, fingerprint}], groupLabels, commonLabels, commonAnnotations,
 * externalURL, version, groupKey, truncatedAlerts}, fields in Go's order, label maps sorted.
 *
 * The URL comes from `url`, or from `url_file` when it holds a secret (a token in the path);
 * an optional bearer token from `bearer_token_file`. Each send is one POST through httpc with
 * the receiver's timeout and an Idempotency-Key header carrying the notification's dedupe key,
 * so that a receiver can drop the copy a crash made it send twice. 2xx is success; 408, 429,
 * 5xx and transport failures are retried (Retry-After honoured by the outbox); any other
 * status is final, reported with the receiver's body. The URL and token never appear in what
 * is reported: they are cut out of every error text. Uses jansson, httpc and alert.h. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "caps.h"
#include "fileio.h"
#include "http_client.h"
#include "log.h"
#include "notifier.h"
#include "strutil.h"
#include "xalloc.h"

#define RESPONSE_MAX 65536
#define DETAIL_MAX   512

struct webhook_config {
    char *url, *url_file, *bearer_token_file;
    char *ca_file, *cert_file, *key_file;
    bool insecure_skip_verify;
};

static const struct cfg_key webhook_keys[] = {
    {.name = "url",
     .type = CFG_STRING,
     .offset = offsetof(struct webhook_config, url),
     .expect = "the http(s) URL to POST to (or url_file when it holds a secret)"},
    {.name = "url_file",
     .type = CFG_STRING,
     .offset = offsetof(struct webhook_config, url_file),
     .expect = "a file holding the URL (kept out of logs and metrics)"},
    {.name = "bearer_token_file",
     .type = CFG_STRING,
     .offset = offsetof(struct webhook_config, bearer_token_file),
     .expect = "a file holding a token sent as Authorization: Bearer"},
    {.name = "ca_file",
     .type = CFG_STRING,
     .offset = offsetof(struct webhook_config, ca_file),
     .expect = "CA certificates to verify the server with"},
    {.name = "cert_file",
     .type = CFG_STRING,
     .offset = offsetof(struct webhook_config, cert_file),
     .expect = "client certificate (mutual TLS)"},
    {.name = "key_file",
     .type = CFG_STRING,
     .offset = offsetof(struct webhook_config, key_file),
     .expect = "client key (mutual TLS)"},
    {.name = "insecure_skip_verify",
     .type = CFG_BOOL,
     .offset = offsetof(struct webhook_config, insecure_skip_verify),
     .def = "false"},
    CFG_END,
};

struct webhook {
    struct httpc *http;
    char *url, *token;
    bool url_secret;
    char *ca_file, *cert_file, *key_file;
    bool insecure;
    int64_t timeout_ms;
    struct httpc_req *req;
    notifier_done_fn done;
    void *done_arg;
};

/* ---- config ---- */

static int read_secret(const char *path, const char *what, char **out, char *err, size_t errlen)
{
    char *data;
    size_t len;
    int rc = file_read_all(path, CAP_SECRET_FILE, &data, &len);
    if (rc < 0) {
        char why[64];
        snprintf(err, errlen, "%s %s: cannot read: %s", what, path,
                 file_read_error(rc, CAP_SECRET_FILE, why, sizeof(why)));
        return -1;
    }
    while (len && isspace((unsigned char)data[len - 1])) data[--len] = '\0';
    size_t start = 0;
    while (start < len && isspace((unsigned char)data[start])) start++;
    if (start == len || strchr(data + start, '\n') || strchr(data + start, '\r')) {
        snprintf(err, errlen, "%s %s: expected one line, not empty", what, path);
        free(data);
        return -1;
    }
    *out = xstrdup(data + start);
    memset(data, 0, len);
    free(data);
    return 0;
}

static void webhook_free(void *state)
{
    struct webhook *w = state;
    if (!w) return;
    httpc_cancel(w->req);
    if (w->url) memset(w->url, 0, strlen(w->url));
    if (w->token) memset(w->token, 0, strlen(w->token));
    free(w->url);
    free(w->token);
    free(w->ca_file);
    free(w->cert_file);
    free(w->key_file);
    free(w);
}

static int webhook_create(const void *config, const struct notifier_env *env, void **state,
                          char *err, size_t errlen)
{
    const struct webhook_config *c = config;
    if (!c->url == !c->url_file) {
        snprintf(err, errlen, "give one of url and url_file");
        return -1;
    }
    struct webhook *w = xcalloc(1, sizeof(*w));
    w->http = env->http;
    w->timeout_ms = env->timeout_ms > 0 ? env->timeout_ms : 10000;
    w->insecure = c->insecure_skip_verify;
    w->ca_file = c->ca_file ? xstrdup(c->ca_file) : NULL;
    w->cert_file = c->cert_file ? xstrdup(c->cert_file) : NULL;
    w->key_file = c->key_file ? xstrdup(c->key_file) : NULL;
    if (c->url) {
        w->url = xstrdup(c->url);
    } else {
        w->url_secret = true;
        if (read_secret(c->url_file, "url_file", &w->url, err, errlen) < 0) goto fail;
    }
    if (!str_has_prefix(w->url, "http://") && !str_has_prefix(w->url, "https://")) {
        if (w->url_secret)
            snprintf(err, errlen, "url_file %s: not an http(s) URL", c->url_file);
        else
            snprintf(err, errlen, "url: \"%.200s\" is not an http(s) URL", w->url);
        goto fail;
    }
    if (c->bearer_token_file &&
        read_secret(c->bearer_token_file, "bearer_token_file", &w->token, err, errlen) < 0)
        goto fail;
    *state = w;
    return 0;
fail:
    webhook_free(w);
    return -1;
}

/* ---- rendering ---- */

/* regexp.QuoteMeta, as Alertmanager's template data quotes the receiver name. NULL when the
 * quoted name is over CAP_NOTIFY_TEXT. */
static char *quote_meta(const char *s)
{
    struct buf b;
    buf_init(&b, CAP_NOTIFY_TEXT);
    for (; *s; s++) {
        if (strchr("\\.+*?()|[]{}^$", *s)) buf_putc(&b, '\\');
        buf_putc(&b, *s);
    }
    buf_putc(&b, '\0');
    if (buf_error(&b)) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

static json_t *pairs_json(const struct label_pair *p, size_t n)
{
    /* Go marshals a map with its keys sorted. */
    const struct label_pair **sorted = xmalloc((n ? n : 1) * sizeof(*sorted));
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 && strcmp(sorted[j - 1]->name, p[i].name) > 0) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = &p[i];
    }
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, sorted[i]->name, json_string(sorted[i]->value));
    free(sorted);
    return o;
}

static json_t *time_json(double t)
{
    char text[AM_TIME_LEN];
    am_time_format(t, text);
    return json_string(text);
}

static json_t *alert_json(const struct am_alert *a, double now, struct arena *ar)
{
    struct label_pair *labels;
    size_t nl = am_labels_pairs(a->labels, ar, &labels);
    bool resolved = am_alert_resolved(a, now);
    char fp[17];
    snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)a->fingerprint);
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(resolved ? "resolved" : "firing"));
    json_object_set_new(o, "labels", pairs_json(labels, nl));
    json_object_set_new(o, "annotations", pairs_json(a->annotations, a->nannotations));
    json_object_set_new(o, "startsAt", time_json(a->starts_at));
    json_object_set_new(o, "endsAt", time_json(resolved ? a->ends_at : 0));
    json_object_set_new(o, "generatorURL", json_string(a->generator_url ? a->generator_url : ""));
    json_object_set_new(o, "fingerprint", json_string(fp));
    return o;
}

static int webhook_render(void *state, const struct notification *n, struct payload *p, char *err,
                          size_t errlen)
{
    (void)state;
    struct arena ar;
    arena_init(&ar);
    char *receiver = quote_meta(n->receiver);
    if (!receiver) {
        snprintf(err, errlen, "the receiver name is longer than %zu bytes",
                 (size_t)CAP_NOTIFY_TEXT);
        arena_free(&ar);
        return -1;
    }
    json_t *alerts = json_array();
    for (size_t i = 0; i < n->nalerts; i++)
        json_array_append_new(alerts, alert_json(&n->alerts[i], n->now, &ar));
    json_t *o = json_object();
    json_object_set_new(o, "receiver", json_string(receiver));
    json_object_set_new(o, "status", json_string(n->status));
    json_object_set_new(o, "alerts", alerts);
    json_object_set_new(o, "groupLabels", pairs_json(n->group_labels, n->ngroup_labels));
    json_object_set_new(o, "commonLabels", pairs_json(n->common_labels, n->ncommon_labels));
    json_object_set_new(o, "commonAnnotations",
                        pairs_json(n->common_annotations, n->ncommon_annotations));
    json_object_set_new(o, "externalURL", json_string(n->external_url ? n->external_url : ""));
    json_object_set_new(o, "version", json_string("4"));
    json_object_set_new(o, "groupKey", json_string(n->group_key));
    json_object_set_new(o, "truncatedAlerts", json_integer((json_int_t)n->truncated_alerts));
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    free(receiver);
    arena_free(&ar);
    int rc = 0;
    if (!text) {
        snprintf(err, errlen, "cannot encode the notification as JSON (invalid UTF-8?)");
        rc = -1;
    } else if (buf_puts(&p->body, text) < 0 || buf_putc(&p->body, '\n') < 0) {
        snprintf(err, errlen, "the JSON is larger than the payload cap");
        rc = -1;
    }
    free(text);
    snprintf(p->content_type, sizeof(p->content_type), "application/json");
    return rc;
}

/* ---- sending ---- */

/* Cuts every occurrence of secret out of b. */
static void redact(struct buf *b, const char *secret)
{
    size_t sl = secret ? strlen(secret) : 0;
    if (!sl || !b->data) return;
    struct buf out;
    buf_init(&out, b->max);
    const char *p = b->data;
    for (const char *hit; (hit = strstr(p, secret)); p = hit + sl) {
        buf_append(&out, p, (size_t)(hit - p));
        buf_puts(&out, "<redacted>");
    }
    buf_puts(&out, p);
    if (buf_error(&out)) { /* longer once redacted: say so rather than show a cut text */
        buf_reset(&out);
        buf_puts(&out, "(the receiver's answer, redacted, is too long to show)");
    }
    buf_free(b);
    *b = out;
}

static void on_response(void *arg, const struct httpc_result *r)
{
    struct webhook *w = arg;
    w->req = NULL;
    struct send_result res = {.outcome = SEND_OK, .retry_after_s = -1, .reason = "ok"};
    char reason[32];
    struct buf detail;
    buf_init(&detail, CAP_SEND_DETAIL); /* a curl error or DETAIL_MAX bytes of the body */
    if (!r->ok) {
        res.outcome = SEND_RETRY;
        res.reason = r->reason ? r->reason : "transport";
        buf_puts(&detail, r->error ? r->error : res.reason);
    } else if (r->status < 200 || r->status > 299) {
        snprintf(reason, sizeof(reason), "http_%ld", r->status);
        res.reason = reason;
        res.outcome =
            (r->status == 408 || r->status == 429 || r->status >= 500) ? SEND_RETRY : SEND_FAIL;
        res.retry_after_s = r->retry_after_s;
        buf_printf(&detail, "HTTP %ld: ", r->status);
        size_t keep = r->body_len < DETAIL_MAX ? r->body_len : DETAIL_MAX;
        for (size_t i = 0; i < keep; i++) {
            unsigned char ch = (unsigned char)r->body[i];
            buf_putc(&detail, ch < 0x20 || ch == 0x7f ? ' ' : (char)ch);
        }
    }
    if (w->url_secret) { /* the whole URL, without its scheme, and its path and query */
        redact(&detail, w->url);
        const char *host = strstr(w->url, "://");
        if (host) redact(&detail, host + 3);
        const char *path = host ? strchr(host + 3, '/') : NULL;
        if (path && strlen(path) > 1) redact(&detail, path);
    }
    redact(&detail, w->token);
    res.detail = detail.len ? detail.data : NULL;
    notifier_done_fn done = w->done;
    w->done = NULL;
    done(w->done_arg, &res);
    buf_free(&detail);
}

static void webhook_send(void *state, const struct payload *p, notifier_done_fn done, void *arg)
{
    struct webhook *w = state;
    char ctype[96], key[120];
    snprintf(ctype, sizeof(ctype), "Content-Type: %s",
             p->content_type[0] ? p->content_type : "application/json");
    const char *headers[3] = {ctype, NULL, NULL};
    bool key_ok = p->dedupe_key[0] != '\0';
    for (const char *k = p->dedupe_key; *k; k++)
        if ((unsigned char)*k < 0x21 || (unsigned char)*k > 0x7e) key_ok = false;
    if (key_ok) {
        snprintf(key, sizeof(key), "Idempotency-Key: %s", p->dedupe_key);
        headers[1] = key;
    }
    struct httpc_opts o = {.method = "POST",
                           .url = w->url,
                           .headers = headers,
                           .bearer_token = w->token,
                           .body = p->body.data ? p->body.data : "",
                           .body_len = p->body.len,
                           .timeout_ms = w->timeout_ms,
                           .max_body = RESPONSE_MAX,
                           .tls = {w->ca_file, w->cert_file, w->key_file, w->insecure}};
    w->done = done;
    w->done_arg = arg;
    w->req = httpc_start(w->http, &o, on_response, w);
    if (!w->req) {
        struct send_result res = {.outcome = SEND_RETRY,
                                  .retry_after_s = -1,
                                  .reason = "transport",
                                  .detail = "the HTTP client refused the request"};
        w->done = NULL;
        done(arg, &res);
    }
}

static void webhook_cancel(void *state)
{
    struct webhook *w = state;
    httpc_cancel(w->req);
    w->req = NULL;
    w->done = NULL;
}

const struct notifier_ops webhook_notifier = {
    .type = "webhook",
    .keys = webhook_keys,
    .config_size = sizeof(struct webhook_config),
    .create = webhook_create,
    .render = webhook_render,
    .send = webhook_send,
    .cancel = webhook_cancel,
    .free = webhook_free,
};
