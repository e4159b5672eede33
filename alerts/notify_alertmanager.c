/* notify_alertmanager.c: forwarding to an Alertmanager cluster through its v2 API, for teams that
 * run one: POST /api/v2/alerts with the group's alerts as Prometheus sends them (labels,
 * annotations, startsAt, endsAt, generatorURL), to every configured instance, since
 * Alertmanager peers share silences and the notification log but not alerts. The send is a
 * success when at least one instance took the alerts (the others get them at the group's
 * next notification); it is retried when none did and one may still (network, 429, 5xx).
 *
 * endsAt: a resolved alert carries its end; a firing one carries none, so Alertmanager keeps
 * it for its resolve_timeout (5m by default) after each receipt, unless `firing_valid_for`
 * says how long a firing alert stays valid. Either way the route that feeds this receiver must
 * resend at least twice in that time (e.g. group_interval = repeat_interval = "1m", as
 * Prometheus resends every minute): the config refuses a route that does not
 * (forgets_after_s). Times are Go's RFC 3339 text (alert.h am_time_format). No template: the
 * payload is data. Uses notify_send.c and notify_text.c. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "notifier.h"
#include "notify_lib.h"
#include "strutil.h"
#include "xalloc.h"

#define AM_API_PATH   "/api/v2/alerts"
#define AM_MAX_URLS   16
#define AM_DETAIL_MAX 1024

struct am_forward_config {
    struct cfg_strings urls;
    char *bearer_token_file;
    char *username;
    char *password_file;
    int64_t firing_valid_for_ms;
    char *ca_file, *cert_file, *key_file;
    bool insecure_skip_verify;
};

static const struct cfg_key am_keys[] = {
    {.name = "urls",
     .type = CFG_STRINGS,
     .required = true,
     .offset = offsetof(struct am_forward_config, urls),
     .expect = "the Alertmanagers' base URLs, { \"http://am-0:9093\", \"http://am-1:9093\" }"},
    {.name = "bearer_token_file",
     .type = CFG_STRING,
     .offset = offsetof(struct am_forward_config, bearer_token_file),
     .expect = "a file holding a bearer token"},
    {.name = "username",
     .type = CFG_STRING,
     .offset = offsetof(struct am_forward_config, username),
     .expect = "a basic-auth user, with password_file"},
    {.name = "password_file",
     .type = CFG_STRING,
     .offset = offsetof(struct am_forward_config, password_file),
     .expect = "a file holding the basic-auth password"},
    {.name = "firing_valid_for",
     .type = CFG_DURATION,
     .offset = offsetof(struct am_forward_config, firing_valid_for_ms),
     .expect = "endsAt = now + this for firing alerts (default: none, Alertmanager's "
               "resolve_timeout applies)",
     .min = 0,
     .max = 86400000},
    {.name = "ca_file",
     .type = CFG_STRING,
     .offset = offsetof(struct am_forward_config, ca_file),
     .expect = "a PEM file of CA certificates"},
    {.name = "cert_file",
     .type = CFG_STRING,
     .offset = offsetof(struct am_forward_config, cert_file),
     .expect = "a PEM client certificate, with key_file"},
    {.name = "key_file",
     .type = CFG_STRING,
     .offset = offsetof(struct am_forward_config, key_file),
     .expect = "the PEM key of cert_file"},
    {.name = "insecure_skip_verify",
     .type = CFG_BOOL,
     .offset = offsetof(struct am_forward_config, insecure_skip_verify),
     .expect = "true to skip certificate verification (tests only)"},
    CFG_END,
};

struct am_forward {
    char **urls; /* with the API path */
    size_t nurls;
    char *bearer;
    char *basic; /* "Authorization: Basic ..." */
    char *password;
    double valid_for_s;
    struct httpc_tls tls;
    int64_t timeout_ms;
    struct sender sender;
};

/* ---- rendering ---- */

static int put_label(void *arg, const char *name, size_t name_len, const char *value,
                     size_t value_len)
{
    struct buf *out = arg;
    if (!value_len) return 0; /* Alertmanager refuses empty label values */
    if (out->data[out->len - 1] != '{') buf_putc(out, ',');
    render_json_string(out, name, name_len);
    buf_putc(out, ':');
    return render_json_string(out, value, value_len);
}

static int pair_cmp(const void *a, const void *b)
{
    const struct label_pair *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static void put_annotations(struct buf *out, const struct label_pair *p, size_t n)
{
    struct label_pair *sorted = xcalloc(n ? n : 1, sizeof(*sorted));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (p[i].name && p[i].value) sorted[k++] = p[i];
    qsort(sorted, k, sizeof(*sorted), pair_cmp);
    buf_putc(out, '{');
    for (size_t i = 0; i < k; i++) {
        if (i) buf_putc(out, ',');
        render_json_string(out, sorted[i].name, strlen(sorted[i].name));
        buf_putc(out, ':');
        render_json_string(out, sorted[i].value, strlen(sorted[i].value));
    }
    buf_putc(out, '}');
    free(sorted);
}

/* Appends one alert (out's appends are checked by the caller). Returns 0, or -E2BIG when a
 * label value is over CAP_LABELS_TEXT: an alert without one of its labels is another alert. */
static int put_alert(struct am_forward *f, const struct notification *n, const struct am_alert *a,
                     struct buf *out)
{
    char t[AM_TIME_LEN];
    buf_puts(out, "{\"labels\":{");
    int rc = a->labels ? render_labels_each(a->labels, put_label, out) : 0;
    if (rc < 0 && !buf_error(out)) return rc;
    buf_puts(out, "},\"annotations\":");
    put_annotations(out, a->annotations, a->nannotations);
    am_time_format(a->starts_at, t);
    buf_printf(out, ",\"startsAt\":\"%s\"", t);
    if (am_alert_resolved(a, n->now)) {
        am_time_format(a->ends_at, t);
        buf_printf(out, ",\"endsAt\":\"%s\"", t);
    } else if (f->valid_for_s > 0) {
        am_time_format(n->now + f->valid_for_s, t);
        buf_printf(out, ",\"endsAt\":\"%s\"", t);
    }
    const char *gen = a->generator_url && *a->generator_url ? a->generator_url : n->external_url;
    if (gen && *gen) {
        buf_puts(out, ",\"generatorURL\":");
        render_json_string(out, gen, strlen(gen));
    }
    buf_putc(out, '}');
    return 0;
}

static int am_render(void *state, const struct notification *n, struct payload *p, char *err,
                     size_t errlen)
{
    struct am_forward *f = state;
    struct buf out;
    buf_init(&out, CAP_NOTIFY_PAYLOAD);
    buf_putc(&out, '[');
    int rc = 0;
    for (size_t i = 0; i < n->nalerts && rc == 0; i++) {
        if (i) buf_putc(&out, ',');
        rc = put_alert(f, n, &n->alerts[i], &out);
    }
    buf_puts(&out, "]\n");
    if (rc < 0) {
        snprintf(err, errlen, "an alert's label value is over %zu bytes", (size_t)CAP_LABELS_TEXT);
        rc = -1;
    } else if (buf_error(&out) || buf_append(&p->body, out.data, out.len) < 0) {
        snprintf(err, errlen, "%zu alerts make more than the payload cap (%zu bytes)", n->nalerts,
                 p->body.max < out.max ? p->body.max : out.max);
        rc = -1;
    }
    buf_free(&out);
    snprintf(p->content_type, sizeof(p->content_type), "application/json");
    render_payload_key(n, p);
    return rc;
}

/* ---- sending ---- */

static enum send_outcome classify(void *arg, const struct httpc_result *r, const char **reason,
                                  char *reason_buf, size_t reason_len, double *retry_after,
                                  struct buf *detail)
{
    (void)arg;
    *retry_after = -1;
    if (!r->ok) {
        *reason = r->reason ? r->reason : "transport";
        if (r->error) buf_puts(detail, r->error);
        return SEND_RETRY;
    }
    long st = r->status;
    if (st >= 200 && st < 300) {
        *reason = "ok";
        return SEND_OK;
    }
    snprintf(reason_buf, reason_len, "http_%ld", st);
    *reason = reason_buf;
    if (r->body_len)
        buf_append(detail, r->body, r->body_len < AM_DETAIL_MAX ? r->body_len : AM_DETAIL_MAX);
    if (st == 429 || st == 408 || st >= 500) {
        *retry_after = r->retry_after_s;
        return SEND_RETRY;
    }
    return SEND_FAIL;
}

static void am_send(void *state, const struct payload *p, notifier_done_fn done, void *arg)
{
    struct am_forward *f = state;
    char idem[128];
    snprintf(idem, sizeof(idem), "Idempotency-Key: %s", p->dedupe_key);
    const char *headers[] = {"Content-Type: application/json", idem, f->basic, NULL};
    struct httpc_opts o[AM_MAX_URLS];
    for (size_t i = 0; i < f->nurls; i++)
        o[i] = (struct httpc_opts){.method = "POST",
                                   .url = f->urls[i],
                                   .headers = headers,
                                   .bearer_token = f->bearer,
                                   .body = p->body.data ? p->body.data : "",
                                   .body_len = p->body.len,
                                   .timeout_ms = f->timeout_ms,
                                   .max_body = 64u << 10,
                                   .tls = f->tls};
    sender_start(&f->sender, o, f->nurls, classify, f, done, arg);
}

static void am_cancel(void *state)
{
    struct am_forward *f = state;
    sender_cancel(&f->sender);
}

static void am_free(void *state)
{
    struct am_forward *f = state;
    if (!f) return;
    sender_cancel(&f->sender);
    for (size_t i = 0; i < f->nurls; i++) free(f->urls[i]);
    free(f->urls);
    free(f->bearer);
    free(f->basic);
    free(f->password);
    free((char *)f->tls.ca_file);
    free((char *)f->tls.cert_file);
    free((char *)f->tls.key_file);
    free(f);
}

static char *basic_header(const char *user, const char *password)
{
    char *plain = xasprintf("%s:%s", user, password);
    size_t n = strlen(plain);
    unsigned char *b64 = xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock(b64, (const unsigned char *)plain, (int)n);
    char *h = xasprintf("Authorization: Basic %s", (const char *)b64);
    OPENSSL_cleanse(plain, n);
    free(plain);
    free(b64);
    return h;
}

static int am_create(const void *config, const struct notifier_env *env, void **state, char *err,
                     size_t errlen)
{
    const struct am_forward_config *c = config;
    struct am_forward *f = xcalloc(1, sizeof(*f));
    f->timeout_ms = env->timeout_ms > 0 ? env->timeout_ms : 10000;
    f->valid_for_s = (double)c->firing_valid_for_ms / 1000.0;
    if (c->urls.n == 0 || c->urls.n > AM_MAX_URLS) {
        snprintf(err, errlen, "urls: 1 to %d Alertmanager URLs", AM_MAX_URLS);
        goto fail;
    }
    f->urls = xcalloc(c->urls.n, sizeof(char *));
    for (size_t i = 0; i < c->urls.n; i++) {
        const char *u = c->urls.v[i];
        if ((!str_has_prefix(u, "http://") && !str_has_prefix(u, "https://")) ||
            !render_header_safe(u) || strchr(u, ' ')) {
            snprintf(err, errlen, "urls: \"%s\" is not an http(s) URL", u);
            goto fail;
        }
        size_t len = strlen(u);
        while (len && u[len - 1] == '/') len--;
        f->urls[f->nurls++] = xasprintf("%.*s%s", (int)len, u, AM_API_PATH);
    }
    if (c->bearer_token_file && c->username) {
        snprintf(err, errlen, "bearer_token_file or username/password_file, not both");
        goto fail;
    }
    if (c->bearer_token_file &&
        render_read_secret(c->bearer_token_file, "bearer_token_file", &f->bearer, err, errlen) < 0)
        goto fail;
    if (!c->username != !c->password_file) {
        snprintf(err, errlen, "username and password_file go together");
        goto fail;
    }
    if (c->username) {
        if (render_read_secret(c->password_file, "password_file", &f->password, err, errlen) < 0)
            goto fail;
        f->basic = basic_header(c->username, f->password);
    }
    if (!c->cert_file != !c->key_file) {
        snprintf(err, errlen, "cert_file and key_file go together");
        goto fail;
    }
    f->tls = (struct httpc_tls){.ca_file = c->ca_file ? xstrdup(c->ca_file) : NULL,
                                .cert_file = c->cert_file ? xstrdup(c->cert_file) : NULL,
                                .key_file = c->key_file ? xstrdup(c->key_file) : NULL,
                                .insecure = c->insecure_skip_verify};
    sender_init(&f->sender, env, "alertmanager");
    sender_add_secret(&f->sender, f->bearer);
    sender_add_secret(&f->sender, f->password);
    *state = f;
    return 0;
fail:
    am_free(f);
    return -1;
}

/* Alertmanager's default resolve_timeout, which applies to alerts sent without endsAt. */
#define AM_RESOLVE_TIMEOUT_S 300.0

static double am_forgets_after(const void *state)
{
    const struct am_forward *f = state;
    return f->valid_for_s > 0 ? f->valid_for_s : AM_RESOLVE_TIMEOUT_S;
}

const struct notifier_ops alertmanager_notifier = {
    .type = "alertmanager",
    .keys = am_keys,
    .config_size = sizeof(struct am_forward_config),
    .create = am_create,
    .render = am_render,
    .send = am_send,
    .cancel = am_cancel,
    .free = am_free,
    .forgets_after_s = am_forgets_after,
};
