/* notify_email.c: the e-mail receiver, through libcurl's SMTP on the loop's curl multi
 * (http_client.h's mail requests; smtp.md). Rendering builds the whole RFC 5322 message once, so
 * the outbox stores exactly what will be sent and a resend is the same bytes: Date is the
 * notification's time, Message-ID and the MIME boundary come from the dedupe key (32 hex digits of
 * its sha256) (a resend after a crash is recognisably the same mail), the subject is RFC
 * 2047-encoded when it is not plain ASCII, and the body is multipart/alternative with a text and an
 * HTML part, both quoted-printable with CRLF line ends. Bcc recipients are only in the envelope.
 *
 * Sending requires STARTTLS by default (require_tls): a server that does not offer it is a
 * configuration or security problem, not a passing one, so the send fails without retry, as a
 * refused password does. SMTP 4xx replies are temporary (retried), 5xx permanent (RFC 5321).
 * Uses notify_template.c (email_subject, email_text, email_html) and notify_send.c. */
#include <ctype.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "clock.h"
#include "notifier.h"
#include "notify_lib.h"
#include "strutil.h"
#include "xalloc.h"

#define EMAIL_DEFAULT_MAX (512u << 10)
#define QP_LINE           76
#define SUBJECT_MAX       998 /* bytes of subject text before encoding */

struct email_config {
    char *url;
    char *from;
    struct cfg_strings to, cc, bcc;
    char *username;
    char *password_file;
    int auth; /* index into auth_choices */
    bool require_tls;
    char *hello;
    char *ca_file, *cert_file, *key_file;
    bool insecure_skip_verify;
    struct cfg_strings headers;
    char *template_file;
    int64_t max_payload_bytes;
};

static const char *const auth_choices[] = {"any", "PLAIN", "LOGIN", NULL};

static const struct cfg_key email_keys[] = {
    {.name = "url",
     .type = CFG_STRING,
     .required = true,
     .offset = offsetof(struct email_config, url),
     .expect = "smtp://host:587 (STARTTLS) or smtps://host:465"},
    {.name = "from",
     .type = CFG_STRING,
     .required = true,
     .offset = offsetof(struct email_config, from),
     .expect = "the sender, \"alerts@example.org\" or \"drwatch <alerts@example.org>\""},
    {.name = "to",
     .type = CFG_STRINGS,
     .required = true,
     .offset = offsetof(struct email_config, to),
     .expect = "recipients, { \"ops@example.org\", \"DBA <dba@example.org>\" }"},
    {.name = "cc",
     .type = CFG_STRINGS,
     .offset = offsetof(struct email_config, cc),
     .expect = "copy recipients"},
    {.name = "bcc",
     .type = CFG_STRINGS,
     .offset = offsetof(struct email_config, bcc),
     .expect = "blind copy recipients (envelope only)"},
    {.name = "username",
     .type = CFG_STRING,
     .offset = offsetof(struct email_config, username),
     .expect = "the SMTP AUTH user, with password_file"},
    {.name = "password_file",
     .type = CFG_STRING,
     .offset = offsetof(struct email_config, password_file),
     .expect = "a file holding the SMTP AUTH password"},
    {.name = "auth",
     .type = CFG_ENUM,
     .choices = auth_choices,
     .def = "any",
     .offset = offsetof(struct email_config, auth),
     .expect = "the SASL mechanism: any, PLAIN or LOGIN"},
    {.name = "require_tls",
     .type = CFG_BOOL,
     .def = "true",
     .offset = offsetof(struct email_config, require_tls),
     .expect = "refuse to send unless the server upgrades with STARTTLS (smtp://)"},
    {.name = "hello",
     .type = CFG_STRING,
     .offset = offsetof(struct email_config, hello),
     .expect = "the EHLO name (default: this host's name)"},
    {.name = "ca_file",
     .type = CFG_STRING,
     .offset = offsetof(struct email_config, ca_file),
     .expect = "a PEM file of CA certificates for the server's"},
    {.name = "cert_file",
     .type = CFG_STRING,
     .offset = offsetof(struct email_config, cert_file),
     .expect = "a PEM client certificate, with key_file"},
    {.name = "key_file",
     .type = CFG_STRING,
     .offset = offsetof(struct email_config, key_file),
     .expect = "the PEM key of cert_file"},
    {.name = "insecure_skip_verify",
     .type = CFG_BOOL,
     .offset = offsetof(struct email_config, insecure_skip_verify),
     .expect = "true to skip certificate verification (tests only)"},
    {.name = "headers",
     .type = CFG_STRINGS,
     .offset = offsetof(struct email_config, headers),
     .expect = "extra header lines, { \"X-Team: dba\" }"},
    {.name = "template",
     .type = CFG_STRING,
     .offset = offsetof(struct email_config, template_file),
     .expect = "a template file, absolute or in templates_dir (default: default.lua)"},
    {.name = "max_payload_bytes",
     .type = CFG_INT,
     .def = "524288",
     .offset = offsetof(struct email_config, max_payload_bytes),
     .expect = "the largest message, 16 KiB to 1 MiB (alerts past it are left out)",
     .min = 16384,
     .max = 1 << 20},
    CFG_END,
};

struct address {
    char *name; /* display name, or NULL */
    char *addr; /* local@domain */
};

struct email {
    char *url;
    struct address from;
    struct address *to, *cc;
    size_t nto, ncc;
    char **rcpt; /* envelope: to, cc, bcc; NULL-terminated */
    char *username, *password, *login_options;
    bool require_tls;
    struct httpc_tls tls;
    char **headers; /* extra lines, NULL-terminated */
    size_t max_bytes;
    int64_t timeout_ms;
    struct tmpl *tmpl;
    struct sender sender;
};

/* ---- addresses ---- */

static bool addr_ok(const char *a)
{
    const char *at = strchr(a, '@');
    if (!at || at == a || !at[1] || strchr(at + 1, '@')) return false;
    for (const char *p = a; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7F || strchr("<>()[]\\,;:\"", *p))
            return false;
    return true;
}

/* "Name <a@b>" or "a@b". Returns 0 or -1 with err. */
static int address_parse(const char *in, const char *what, struct address *out, char *err,
                         size_t errlen)
{
    *out = (struct address){0};
    const char *lt = strchr(in, '<');
    if (lt) {
        const char *gt = strchr(lt, '>');
        if (!gt || gt[1]) goto bad;
        out->addr = xstrndup(lt + 1, (size_t)(gt - lt - 1));
        size_t nl = (size_t)(lt - in);
        while (nl && in[nl - 1] == ' ') nl--;
        size_t s = 0;
        while (s < nl && in[s] == ' ') s++;
        if (nl > s) {
            if (in[s] == '"' && nl - s >= 2 && in[nl - 1] == '"') s++, nl--;
            out->name = xstrndup(in + s, nl - s);
        }
    } else {
        out->addr = xstrdup(in);
    }
    if (!addr_ok(out->addr) || (out->name && !render_header_safe(out->name))) goto bad;
    return 0;
bad:
    snprintf(err, errlen, "%s: \"%s\" is not an e-mail address (\"a@b\" or \"Name <a@b>\")", what,
             in);
    free(out->name);
    free(out->addr);
    *out = (struct address){0};
    return -1;
}

static bool is_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80 || (unsigned char)s[i] < 0x20) return false;
    return true;
}

/* RFC 2047 B encoded-words, each at most 75 characters, never splitting a UTF-8 sequence;
 * words after the first start a folded line. */
static void encode_words(struct buf *out, const char *s, size_t len)
{
    enum { chunk = 39 }; /* 39 bytes -> 52 base64 characters + 12 of markup, after "Subject: " */
    bool first = true;
    for (size_t i = 0; i < len || first;) {
        size_t n = str_utf8_cut(s + i, len - i, chunk);
        if (n == 0 && i < len) n = 1; /* a broken sequence: move on anyway */
        unsigned char b64[4 * ((chunk + 2) / 3) + 1];
        int k = EVP_EncodeBlock(b64, (const unsigned char *)s + i, (int)n);
        buf_printf(out, "%s=?UTF-8?B?%.*s?=", first ? "" : "\r\n ", k, (const char *)b64);
        first = false;
        i += n;
    }
}

/* The display name as a header wants it: as is, quoted, or encoded. */
static void put_name(struct buf *out, const char *name)
{
    size_t n = strlen(name);
    if (!is_ascii(name, n)) {
        encode_words(out, name, n);
    } else if (strpbrk(name, "()<>[]:;@\\,.\"")) {
        buf_putc(out, '"');
        for (const char *p = name; *p; p++) {
            if (*p == '"' || *p == '\\') buf_putc(out, '\\');
            buf_putc(out, *p);
        }
        buf_putc(out, '"');
    } else {
        buf_puts(out, name);
    }
}

static void put_address(struct buf *out, const struct address *a)
{
    if (a->name) {
        put_name(out, a->name);
        buf_printf(out, " <%s>", a->addr);
    } else {
        buf_puts(out, a->addr);
    }
}

/* "To: a, b" with one address per folded line past the first. */
static void put_address_header(struct buf *out, const char *field, const struct address *a,
                               size_t n)
{
    if (!n) return;
    buf_printf(out, "%s: ", field);
    for (size_t i = 0; i < n; i++) {
        if (i) buf_puts(out, ",\r\n ");
        put_address(out, &a[i]);
    }
    buf_puts(out, "\r\n");
}

/* ---- the message ---- */

/* Quoted-printable (RFC 2045 §6.7): line ends become CRLF, lines stay under 76 characters. */
static void qp_encode(struct buf *out, const char *s, size_t len)
{
    size_t col = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' && i + 1 < len && s[i + 1] == '\n') continue;
        if (c == '\n' || c == '\r') {
            buf_puts(out, "\r\n");
            col = 0;
            continue;
        }
        bool line_end = i + 1 == len || s[i + 1] == '\n' || s[i + 1] == '\r';
        bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !line_end);
        /* A '.' opening a line is encoded too, so that no line is ever "." alone. */
        if (c == '.' && col == 0) literal = false;
        size_t w = literal ? 1 : 3;
        if (col + w > QP_LINE - 1) {
            buf_puts(out, "=\r\n");
            col = 0;
        }
        if (literal)
            buf_putc(out, (char)c);
        else
            buf_printf(out, "=%02X", c);
        col += w;
    }
    buf_puts(out, "\r\n");
}

/* The subject on one line: controls become spaces, at most SUBJECT_MAX bytes. */
static void clean_subject(struct buf *subj)
{
    for (size_t i = 0; i < subj->len; i++)
        if ((unsigned char)subj->data[i] < 0x20 || subj->data[i] == 0x7F) subj->data[i] = ' ';
    if (subj->len > SUBJECT_MAX) {
        subj->len = str_utf8_cut(subj->data, subj->len, SUBJECT_MAX);
        subj->data[subj->len] = '\0';
    }
}

static const char *domain_of(const struct address *a)
{
    return strchr(a->addr, '@') + 1;
}

/* The message's id: 32 hex digits of sha256 over the dedupe key (whatever its form), for
 * Message-ID and the MIME boundary. out: 33 bytes. */
static void message_id(const char *key, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_Digest(key, strlen(key), md, &len, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 16 && i < len; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[32] = '\0';
}

/* The header block. multipart: a multipart/alternative body with boundary =_drwatch_<id>
 * follows, else a single quoted-printable text part. */
static void put_headers(struct email *m, double now, bool resolved, struct buf *subject,
                        const char *id, bool multipart, struct buf *out)
{
    char date[48];
    render_rfc5322_date(now, date, sizeof(date));
    buf_printf(out, "Date: %s\r\nFrom: ", date);
    put_address(out, &m->from);
    buf_puts(out, "\r\n");
    put_address_header(out, "To", m->to, m->nto);
    put_address_header(out, "Cc", m->cc, m->ncc);
    clean_subject(subject);
    buf_puts(out, "Subject: ");
    if (is_ascii(subject->data ? subject->data : "", subject->len) && subject->len <= 900)
        buf_append(out, subject->data ? subject->data : "", subject->len);
    else
        encode_words(out, subject->data, subject->len);
    buf_printf(out, "\r\nMessage-ID: <drwatch.%s@%s>\r\n", id, domain_of(&m->from));
    buf_puts(out, "MIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n");
    buf_printf(out, "X-Drwatch-Status: %s\r\n", resolved ? "resolved" : "firing");
    for (char **h = m->headers; h && *h; h++) buf_printf(out, "%s\r\n", *h);
    if (multipart)
        buf_printf(out,
                   "Content-Type: multipart/alternative;\r\n boundary=\"=_drwatch_%s\"\r\n\r\n"
                   "This is a multi-part message in MIME format.\r\n\r\n",
                   id);
    else
        buf_puts(out, "Content-Type: text/plain; charset=UTF-8\r\n"
                      "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
}

static void put_part(struct buf *out, const char *id, const char *type, const struct buf *body)
{
    buf_printf(out, "--=_drwatch_%s\r\nContent-Type: %s; charset=UTF-8\r\n", id, type);
    buf_puts(out, "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    qp_encode(out, body->data ? body->data : "", body->len);
}

struct render_args {
    struct email *m;
    const char *id;
};

static bool is_resolved(const struct notification *n)
{
    return n->status && strcmp(n->status, "resolved") == 0;
}

static int render_message(void *arg, const struct notification *n, const struct tmpl_limits *lim,
                          struct buf *out, char *err, size_t errlen)
{
    const struct render_args *ra = arg;
    struct email *m = ra->m;
    struct buf subject, text, html;
    buf_init(&subject, CAP_NOTIFY_TEXT);
    buf_init(&text, out->max);
    buf_init(&html, out->max);
    int rc = tmpl_begin(m->tmpl, n, lim, err, errlen);
    if (rc < 0) goto done;
    rc = tmpl_string(m->tmpl, "email_subject", &subject, err, errlen);
    if (rc == 0) rc = tmpl_string(m->tmpl, "email_text", &text, err, errlen);
    if (rc == 0) rc = tmpl_string(m->tmpl, "email_html", &html, err, errlen);
    tmpl_end(m->tmpl);
    if (rc < 0) goto done;
    struct buf msg; /* it goes into out: out's cap is its cap */
    buf_init(&msg, out->max);
    put_headers(m, n->now, is_resolved(n), &subject, ra->id, true, &msg);
    put_part(&msg, ra->id, "text/plain", &text);
    put_part(&msg, ra->id, "text/html", &html);
    buf_printf(&msg, "--=_drwatch_%s--\r\n", ra->id);
    if (buf_error(&msg) || buf_append(out, msg.data, msg.len) < 0) rc = RENDER_TOO_BIG;
    buf_free(&msg);
done:
    buf_free(&subject);
    buf_free(&text);
    buf_free(&html);
    return rc;
}

/* A message of subject and text alone: when the template fails, nothing fits, or the payload
 * is the manager's plain-text fallback. */
static void simple_message(struct email *m, double now, bool resolved, struct buf *subject,
                           const char *id, const char *text, size_t len, struct buf *out)
{
    put_headers(m, now, resolved, subject, id, false, out);
    qp_encode(out, text, len);
}

/* Small by construction (what comes from outside is cut to a few KiB), so that it fits. */
static void fallback(struct email *m, const struct notification *n, const char *id, const char *why,
                     struct buf *out)
{
    struct buf subject, text;
    buf_init(&subject, CAP_NOTIFY_TEXT);
    buf_init(&text, CAP_NOTIFY_TEXT);
    size_t total = n->nalerts + n->truncated_alerts;
    const char *recv = n->receiver ? n->receiver : "", *url = n->external_url;
    buf_printf(&subject, "[%s] %zu alert%s for %.*s", is_resolved(n) ? "RESOLVED" : "FIRING", total,
               total == 1 ? "" : "s", (int)str_utf8_cut(recv, strlen(recv), 512), recv);
    if (why)
        buf_printf(&text, "The notification template failed: %.*s\n",
                   (int)str_utf8_cut(why, strlen(why), 2048), why);
    else
        buf_puts(&text, "The alerts' details do not fit in one message.\n");
    if (url && *url)
        buf_printf(&text, "See %.*s\n", (int)str_utf8_cut(url, strlen(url), 2048), url);
    simple_message(m, n->now, is_resolved(n), &subject, id, text.data, text.len, out);
    buf_free(&subject);
    buf_free(&text);
}

static int email_render(void *state, const struct notification *n, struct payload *p, char *err,
                        size_t errlen)
{
    struct email *m = state;
    char id[33];
    message_id(render_payload_key(n, p), id);
    struct render_args ra = {.m = m, .id = id};
    struct buf out;
    buf_init(&out, CAP_NOTIFY_PAYLOAD);
    int rc = render_fit(n, m->max_bytes, render_message, &ra, &out, err, errlen);
    if (rc == 0) {
        if (buf_append(&p->body, out.data, out.len) < 0) {
            snprintf(err, errlen, "the message (%zu bytes) is over the outbox's cap", out.len);
            rc = -1;
        }
    } else {
        buf_reset(&p->body);
        fallback(m, n, id, rc < 0 ? err : NULL, &p->body);
        if (rc > 0) rc = 0;
        if (buf_error(&p->body)) { /* the message's appends are checked here */
            snprintf(err, errlen, "the fallback message is over the payload cap (%zu bytes)",
                     p->body.max);
            rc = -1;
        }
    }
    snprintf(p->content_type, sizeof(p->content_type), "message/rfc822");
    buf_free(&out);
    return rc;
}

/* ---- sending ---- */

static enum send_outcome classify(void *arg, const struct httpc_result *r, const char **reason,
                                  char *reason_buf, size_t reason_len, double *retry_after,
                                  struct buf *detail)
{
    (void)arg;
    *retry_after = -1;
    if (r->ok) {
        *reason = "ok";
        return SEND_OK;
    }
    if (r->error) buf_puts(detail, r->error);
    long code = r->status;
    bool temporary = code >= 400 && code < 500;
    switch (r->curl_code) {
    case CURLE_LOGIN_DENIED: *reason = "smtp_auth"; return temporary ? SEND_RETRY : SEND_FAIL;
    case CURLE_USE_SSL_FAILED:
        *reason = "smtp_starttls";
        if (!temporary) buf_puts(detail, " (require_tls is on: the server must offer STARTTLS)");
        return temporary ? SEND_RETRY : SEND_FAIL;
    case CURLE_PEER_FAILED_VERIFICATION: *reason = "smtp_tls_verify"; return SEND_FAIL;
    case CURLE_OPERATION_TIMEDOUT: *reason = "timeout"; return SEND_RETRY;
    default: break;
    }
    if (code >= 400 && code < 600) {
        snprintf(reason_buf, reason_len, "smtp_%ld", code);
        *reason = reason_buf;
        return temporary ? SEND_RETRY : SEND_FAIL;
    }
    *reason = r->reason ? r->reason : "transport";
    return SEND_RETRY;
}

/* Any other payload (the manager's plain-text fallback) becomes a plain message. */
static void wrap_text(struct email *m, const struct payload *p, struct buf *out)
{
    const char *s = p->body.data ? p->body.data : "";
    size_t nl = strcspn(s, "\n");
    if (nl > p->body.len) nl = p->body.len;
    struct buf subject;
    buf_init(&subject, CAP_NOTIFY_TEXT);
    buf_append(&subject, s, str_utf8_cut(s, nl, 200));
    char id[33];
    message_id(p->dedupe_key, id);
    simple_message(m, time_wall_s(), str_has_prefix(s, "[resolved]"), &subject, id, s, p->body.len,
                   out);
    buf_free(&subject);
}

static void email_send(void *state, const struct payload *p, notifier_done_fn done, void *arg)
{
    struct email *m = state;
    struct buf wrapped;
    buf_init(&wrapped, CAP_NOTIFY_WIRE); /* quoted-printable at most triples the payload */
    bool text = strcmp(p->content_type, "message/rfc822") != 0;
    if (text) wrap_text(m, p, &wrapped);
    if (buf_error(&wrapped)) {
        buf_free(&wrapped);
        sender_refuse(&m->sender, "payload_too_large", "the text does not fit in a message", done,
                      arg);
        return;
    }
    struct httpc_mail mail = {.from = m->from.addr,
                              .rcpt = (const char *const *)m->rcpt,
                              .username = m->username,
                              .password = m->password,
                              .require_tls = m->require_tls,
                              .login_options = m->login_options};
    struct httpc_opts o = {.url = m->url,
                           .body = text           ? wrapped.data
                                   : p->body.data ? p->body.data
                                                  : "",
                           .body_len = text ? wrapped.len : p->body.len,
                           .timeout_ms = m->timeout_ms,
                           .tls = m->tls,
                           .mail = &mail};
    sender_start(&m->sender, &o, 1, classify, m, done, arg);
    buf_free(&wrapped);
}

static void email_cancel(void *state)
{
    struct email *m = state;
    sender_cancel(&m->sender);
}

static void addresses_free(struct address *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].name);
        free(a[i].addr);
    }
    free(a);
}

static void email_free(void *state)
{
    struct email *m = state;
    if (!m) return;
    sender_cancel(&m->sender);
    tmpl_free(m->tmpl);
    free(m->url);
    free(m->from.name);
    free(m->from.addr);
    addresses_free(m->to, m->nto);
    addresses_free(m->cc, m->ncc);
    for (char **r = m->rcpt; r && *r; r++) free(*r);
    free(m->rcpt);
    for (char **h = m->headers; h && *h; h++) free(*h);
    free(m->headers);
    free(m->username);
    free(m->password);
    free(m->login_options);
    free((char *)m->tls.ca_file);
    free((char *)m->tls.cert_file);
    free((char *)m->tls.key_file);
    free(m);
}

static int parse_list(const struct cfg_strings *in, const char *what, struct address **out,
                      size_t *nout, struct email *m, size_t *nrcpt, char *err, size_t errlen)
{
    *out = xcalloc(in->n ? in->n : 1, sizeof(**out));
    for (size_t i = 0; i < in->n; i++) {
        if (address_parse(in->v[i], what, &(*out)[i], err, errlen) < 0) return -1;
        (*nout)++;
        m->rcpt[(*nrcpt)++] = xstrdup((*out)[i].addr);
    }
    return 0;
}

static int check_headers(const struct email_config *c, struct email *m, char *err, size_t errlen)
{
    static const char *const reserved[] = {
        "date",    "from",       "to",           "cc",           "bcc",
        "subject", "message-id", "mime-version", "content-type", "content-transfer-encoding",
        NULL};
    m->headers = xcalloc(c->headers.n + 1, sizeof(char *));
    for (size_t i = 0; i < c->headers.n; i++) {
        const char *h = c->headers.v[i], *colon = strchr(h, ':');
        bool ok = colon && colon > h && render_header_safe(h);
        for (const char *p = h; ok && p < colon; p++)
            if (!isalnum((unsigned char)*p) && *p != '-') ok = false;
        for (const char *const *r = reserved; ok && *r; r++)
            if (strlen(*r) == (size_t)(colon - h) && strncasecmp(h, *r, (size_t)(colon - h)) == 0)
                ok = false;
        if (!ok) {
            snprintf(err, errlen,
                     "headers: \"%s\" is not a \"Name: value\" line of a header drwatch "
                     "does not set itself",
                     h);
            return -1;
        }
        m->headers[i] = xstrdup(h);
    }
    return 0;
}

static int email_create(const void *config, const struct notifier_env *env, void **state, char *err,
                        size_t errlen)
{
    static const char *const need[] = {"email_subject", "email_text", "email_html", NULL};
    const struct email_config *c = config;
    struct email *m = xcalloc(1, sizeof(*m));
    m->max_bytes = c->max_payload_bytes > 0 ? (size_t)c->max_payload_bytes : EMAIL_DEFAULT_MAX;
    m->timeout_ms = env->timeout_ms > 0 ? env->timeout_ms : 30000;
    m->require_tls = c->require_tls;
    if (!c->url || (!str_has_prefix(c->url, "smtp://") && !str_has_prefix(c->url, "smtps://")) ||
        !render_header_safe(c->url) || strchr(c->url, ' ')) {
        snprintf(err, errlen, "url: expected smtp://host:port or smtps://host:port");
        goto fail;
    }
    if (c->hello && (!render_header_safe(c->hello) || strpbrk(c->hello, " /?#@"))) {
        snprintf(err, errlen, "hello: \"%s\" is not a host name", c->hello);
        goto fail;
    }
    const char *after = strstr(c->url, "://") + 3;
    bool has_path = strchr(after, '/') != NULL;
    m->url = c->hello && !has_path ? xasprintf("%s/%s", c->url, c->hello) : xstrdup(c->url);
    if (address_parse(c->from ? c->from : "", "from", &m->from, err, errlen) < 0) goto fail;
    if (c->to.n == 0) {
        snprintf(err, errlen, "to: at least one recipient");
        goto fail;
    }
    m->rcpt = xcalloc(c->to.n + c->cc.n + c->bcc.n + 1, sizeof(char *));
    size_t nrcpt = 0;
    if (parse_list(&c->to, "to", &m->to, &m->nto, m, &nrcpt, err, errlen) < 0 ||
        parse_list(&c->cc, "cc", &m->cc, &m->ncc, m, &nrcpt, err, errlen) < 0)
        goto fail;
    for (size_t i = 0; i < c->bcc.n; i++) {
        struct address a;
        if (address_parse(c->bcc.v[i], "bcc", &a, err, errlen) < 0) goto fail;
        m->rcpt[nrcpt++] = a.addr;
        free(a.name);
    }
    if (check_headers(c, m, err, errlen) < 0) goto fail;
    if (!c->username != !c->password_file) {
        snprintf(err, errlen, "username and password_file go together");
        goto fail;
    }
    if (c->username) {
        if (!render_header_safe(c->username)) {
            snprintf(err, errlen, "username: control characters");
            goto fail;
        }
        m->username = xstrdup(c->username);
        if (render_read_secret(c->password_file, "password_file", &m->password, err, errlen) < 0)
            goto fail;
    }
    if (c->auth > 0 && (size_t)c->auth < ARRAY_LEN(auth_choices) - 1)
        m->login_options = xasprintf("AUTH=%s", auth_choices[c->auth]);
    if (!c->cert_file != !c->key_file) {
        snprintf(err, errlen, "cert_file and key_file go together");
        goto fail;
    }
    m->tls = (struct httpc_tls){.ca_file = c->ca_file ? xstrdup(c->ca_file) : NULL,
                                .cert_file = c->cert_file ? xstrdup(c->cert_file) : NULL,
                                .key_file = c->key_file ? xstrdup(c->key_file) : NULL,
                                .insecure = c->insecure_skip_verify};
    if (tmpl_open(env->templates_dir, c->template_file, need, &m->tmpl, err, errlen) < 0) goto fail;
    sender_init(&m->sender, env, "email");
    sender_add_secret(&m->sender, m->password);
    *state = m;
    return 0;
fail:
    email_free(m);
    return -1;
}

const struct notifier_ops email_notifier = {
    .type = "email",
    .keys = email_keys,
    .config_size = sizeof(struct email_config),
    .create = email_create,
    .render = email_render,
    .send = email_send,
    .cancel = email_cancel,
    .free = email_free,
};
