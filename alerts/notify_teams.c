/* notify_teams.c: what the two Teams notifiers share (notify_msteams.c, the legacy connector's
 * MessageCard; notify_msteams_workflow.c, the Workflows Adaptive Card): their settings, the webhook
 * URL read from a file and kept secret, the size cap, sending, and reading Teams' answers.
 *
 * The legacy connector wraps Teams' own errors in HTTP 200 (msteams.md §2, MicrosoftDocs
 * #1810): only the body "1" is a delivery; "...returned HTTP error 429..." is a throttle to
 * wait out, "...413..." a card too big (which the size cap must prevent: it fails, loudly).
 * A Workflows trigger answers 202 with an empty body and reports nothing else synchronously
 * (msteams.md §3), so there any 2xx is all we can know. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify_teams.h"
#include "buf.h"
#include "caps.h"
#include "strutil.h"
#include "xalloc.h"

const struct cfg_key teams_config_keys[] = {
    {.name = "webhook_url_file",
     .type = CFG_STRING,
     .required = true,
     .offset = offsetof(struct teams_config, webhook_url_file),
     .expect = "a file holding the webhook URL (the URL is a secret)"},
    {.name = "template",
     .type = CFG_STRING,
     .offset = offsetof(struct teams_config, template_file),
     .expect = "a template file, absolute or in templates_dir (default: default.lua)"},
    {.name = "max_payload_bytes",
     .type = CFG_INT,
     .def = "27648",
     .offset = offsetof(struct teams_config, max_payload_bytes),
     .expect = "the largest message to post, 4096 to 28672 bytes (Teams refuses over 28 KB)",
     .min = 4096,
     .max = TEAMS_MAX_PAYLOAD},
    {.name = "ca_file",
     .type = CFG_STRING,
     .offset = offsetof(struct teams_config, ca_file),
     .expect = "a PEM file of CA certificates (default: the system's)"},
    {.name = "insecure_skip_verify",
     .type = CFG_BOOL,
     .offset = offsetof(struct teams_config, insecure_skip_verify),
     .expect = "true to skip certificate verification (tests only)"},
    CFG_END,
};

/* ---- answers ---- */

long teams_inner_status(const char *body, size_t len)
{
    static const char pat[] = "returned HTTP error ";
    const char *p = memmem(body, len, pat, sizeof(pat) - 1);
    if (!p) return 0;
    size_t i = (size_t)(p - body) + sizeof(pat) - 1;
    long code = 0;
    size_t digits = 0;
    for (; i < len && digits < 4 && body[i] >= '0' && body[i] <= '9'; i++, digits++)
        code = code * 10 + (body[i] - '0');
    return (digits == 3 && code >= 100 && code <= 599) ? code : 0;
}

static bool body_is_one(const char *b, size_t len)
{
    size_t a = 0;
    while (a < len && strchr(" \t\r\n", b[a]) && b[a]) a++;
    while (len > a && strchr(" \t\r\n", b[len - 1]) && b[len - 1]) len--;
    return len - a == 1 && b[a] == '1';
}

static void put_body(struct buf *detail, const struct httpc_result *r)
{
    if (r->body && r->body_len)
        buf_append(detail, r->body, r->body_len < 4096 ? r->body_len : 4096);
}

enum send_outcome teams_classify(int legacy, const struct httpc_result *r, const char **reason,
                                 char *reason_buf, size_t reason_len, double *retry_after,
                                 struct buf *detail)
{
    *retry_after = -1;
    if (!r->ok) {
        *reason = r->reason ? r->reason : "transport";
        if (r->error) buf_puts(detail, r->error);
        return SEND_RETRY;
    }
    long st = r->status;
    if (st >= 200 && st < 300) {
        if (!legacy || body_is_one(r->body, r->body_len)) {
            *reason = "ok";
            return SEND_OK;
        }
        long inner = teams_inner_status(r->body, r->body_len);
        put_body(detail, r);
        if (inner == 429) {
            *reason = "teams_429";
            *retry_after =
                r->retry_after_s > TEAMS_RETRY_AFTER ? r->retry_after_s : TEAMS_RETRY_AFTER;
            return SEND_RETRY;
        }
        if (inner == 413) {
            *reason = "teams_413";
            buf_puts(detail, " (the card was too large for Teams although it was under the "
                             "configured max_payload_bytes: lower it)");
            return SEND_FAIL;
        }
        if (inner == 408 || inner >= 500) {
            *reason = "teams_5xx";
            return SEND_RETRY;
        }
        if (inner >= 400) {
            *reason = "teams_4xx";
            return SEND_FAIL;
        }
        *reason = "teams_unexpected_body";
        return SEND_RETRY;
    }
    snprintf(reason_buf, reason_len, "http_%ld", st);
    *reason = reason_buf;
    put_body(detail, r);
    if (st == 429 || st == 408 || st >= 500) {
        *retry_after = r->retry_after_s;
        return SEND_RETRY;
    }
    return SEND_FAIL;
}

/* ---- the notifier core ---- */

int teams_create(int legacy, const void *config, const struct notifier_env *env,
                 const char *const *need, teams_card_fn simple_card, void **state, char *err,
                 size_t errlen)
{
    const struct teams_config *c = config;
    struct teams *t = xcalloc(1, sizeof(*t));
    t->legacy = legacy;
    t->simple_card = simple_card;
    t->max_bytes = c->max_payload_bytes > 0 ? (size_t)c->max_payload_bytes : TEAMS_DEFAULT_MAX;
    t->timeout_ms = env->timeout_ms > 0 ? env->timeout_ms : 10000;
    t->insecure = c->insecure_skip_verify;
    t->ca_file = c->ca_file ? xstrdup(c->ca_file) : NULL;
    if (render_read_secret(c->webhook_url_file, "webhook_url_file", &t->url, err, errlen) < 0)
        goto fail;
    if ((!str_has_prefix(t->url, "https://") && !str_has_prefix(t->url, "http://")) ||
        strpbrk(t->url, " \t\r\n")) {
        snprintf(err, errlen, "webhook_url_file %s: not an http(s) URL on one line",
                 c->webhook_url_file);
        goto fail;
    }
    if (tmpl_open(env->templates_dir, c->template_file, need, &t->tmpl, err, errlen) < 0) goto fail;
    sender_init(&t->sender, env, legacy ? "msteams" : "msteams_workflow");
    sender_add_secret(&t->sender, t->url);
    *state = t;
    return 0;
fail:
    teams_free(t);
    return -1;
}

void teams_free(void *state)
{
    struct teams *t = state;
    if (!t) return;
    sender_cancel(&t->sender);
    tmpl_free(t->tmpl);
    free(t->url);
    free(t->ca_file);
    free(t);
}

void teams_cancel(void *state)
{
    struct teams *t = state;
    sender_cancel(&t->sender);
}

static enum send_outcome classify_cb(void *arg, const struct httpc_result *r, const char **reason,
                                     char *reason_buf, size_t reason_len, double *retry_after,
                                     struct buf *detail)
{
    const struct teams *t = arg;
    return teams_classify(t->legacy, r, reason, reason_buf, reason_len, retry_after, detail);
}

/* A plain-text payload as a simple card: its first line as the title, the rest as text. */
static void wrap_text(const struct teams *t, const struct payload *p, struct buf *out)
{
    const char *s = p->body.data ? p->body.data : "";
    size_t len = p->body.len, nl = strcspn(s, "\n");
    if (nl > len) nl = len;
    size_t tl = str_utf8_cut(s, nl, 256);
    size_t room = t->max_bytes > 4096 ? t->max_bytes - 4096 : 1024;
    size_t xl = str_utf8_cut(s, len, room / 2); /* escaping may double it */
    bool resolved = str_has_prefix(s, "[resolved]");
    t->simple_card(s, tl, s, xl, resolved, out);
}

void teams_send(void *state, const struct payload *p, notifier_done_fn done, void *arg)
{
    struct teams *t = state;
    struct buf wrapped;
    buf_init(&wrapped, CAP_NOTIFY_WIRE);
    bool text = str_has_prefix(p->content_type, "text/plain");
    if (text) wrap_text(t, p, &wrapped);
    if (buf_error(&wrapped)) { /* not reached: wrap_text cuts the text to max_bytes */
        buf_free(&wrapped);
        sender_refuse(&t->sender, "payload_too_large", "the text does not fit in a card", done,
                      arg);
        return;
    }
    const char *headers[] = {"Content-Type: " TEAMS_CONTENT_TYPE, NULL};
    struct httpc_opts o = {.method = "POST",
                           .url = t->url,
                           .headers = headers,
                           .body = text           ? wrapped.data
                                   : p->body.data ? p->body.data
                                                  : "",
                           .body_len = text ? wrapped.len : p->body.len,
                           .timeout_ms = t->timeout_ms,
                           .max_body = 64u << 10,
                           .tls = {.ca_file = t->ca_file, .insecure = t->insecure}};
    sender_start(&t->sender, &o, 1, classify_cb, t, done, arg);
    buf_free(&wrapped);
}

int teams_render(struct teams *t, const struct notification *n, struct payload *p, render_fn card,
                 char *err, size_t errlen)
{
    struct buf out;
    buf_init(&out, CAP_NOTIFY_PAYLOAD);
    int rc = render_fit(n, t->max_bytes, card, t, &out, err, errlen);
    if (rc == 0) {
        if (buf_append(&p->body, out.data, out.len) < 0) {
            snprintf(err, errlen, "the card (%zu bytes) is over the outbox's cap", out.len);
            rc = -1;
        }
    } else {
        /* Nothing fits, or the template failed: a card built here, small by construction. */
        buf_reset(&p->body);
        struct buf title, text;
        /* teams_fallback_texts cuts what it takes from outside: these hold ~2 KiB at most. */
        buf_init(&title, CAP_NOTIFY_TEXT);
        buf_init(&text, CAP_NOTIFY_TEXT);
        teams_fallback_texts(n, rc < 0 ? err : NULL, &title, &text);
        t->simple_card(title.data, title.len, text.data, text.len,
                       n->status && strcmp(n->status, "resolved") == 0, &p->body);
        buf_free(&title);
        buf_free(&text);
        if (rc > 0) rc = 0;
        if (buf_error(&p->body)) { /* the card's appends are checked here */
            snprintf(err, errlen, "the fallback card is over the payload cap (%zu bytes)",
                     p->body.max);
            rc = -1;
        }
    }
    snprintf(p->content_type, sizeof(p->content_type), "%s", TEAMS_CONTENT_TYPE);
    render_payload_key(n, p);
    buf_free(&out);
    return rc;
}

/* "[FIRING:3] drwatch: 3 alerts for <receiver>" and the text saying why the details are
 * missing, for the fallback cards. */
void teams_fallback_texts(const struct notification *n, const char *why, struct buf *title,
                          struct buf *text)
{
    size_t firing = 0;
    for (size_t i = 0; i < n->nalerts; i++)
        if (!am_alert_resolved(&n->alerts[i], n->now)) firing++;
    bool is_firing = !n->status || strcmp(n->status, "resolved") != 0;
    if (is_firing)
        buf_printf(title, "[FIRING:%zu] ", firing);
    else
        buf_puts(title, "[RESOLVED] ");
    size_t total = n->nalerts + n->truncated_alerts;
    buf_printf(title, "%zu alert%s for ", total, total == 1 ? "" : "s");
    const char *recv = n->receiver ? n->receiver : "";
    buf_append(title, recv, str_utf8_cut(recv, strlen(recv), 128));
    if (why) {
        buf_puts(text, "The notification template failed, so this is drwatch's plain fallback: ");
        buf_append(text, why, str_utf8_cut(why, strlen(why), 512));
        buf_puts(text, ".");
    } else {
        buf_puts(text, "The alerts' details do not fit in one Teams message.");
    }
    const char *url = n->external_url ? n->external_url : "";
    if (*url) {
        buf_puts(text, " See ");
        buf_append(text, url, str_utf8_cut(url, strlen(url), 1024));
    }
}
