/* notify_text.c: the notifiers' shared text helpers (notify_lib.h): fitting a payload under a
 * size cap, the stable dedupe key, dates, UTF-8-safe cuts, JSON strings, label walking,
 * secret redaction and secret files. Uses OpenSSL for SHA-256 (the dedupe key must be the
 * same across restarts and versions, unlike the seeded hash of util.h). */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "caps.h"
#include "clock.h"
#include "fileio.h"
#include "notify_lib.h"
#include "registry.h"

#define FIT_ANNOTATION_1 512
#define FIT_ANNOTATION_2 64
#define FIT_BUDGET_MS    2000 /* the bisection stops there with what fits so far */

/* ---- fitting ---- */

static int fit_try(const struct notification *n, render_fn fn, void *arg, size_t max_alerts,
                   size_t annotation_max, struct buf *out, char *err, size_t errlen)
{
    struct tmpl_limits lim = {.max_alerts = max_alerts, .annotation_max = annotation_max};
    buf_reset(out);
    return fn(arg, n, &lim, out, err, errlen);
}

/* Whether a render with these limits fits: 1 yes, 0 no, -1 template error. A render that
 * overflows out's own cap does not fit either. */
static int fits(const struct notification *n, size_t max_bytes, render_fn fn, void *arg,
                size_t max_alerts, size_t annotation_max, struct buf *out, char *err, size_t errlen)
{
    size_t saved_max = out->max;
    if (out->max > max_bytes + 1) out->max = max_bytes + 1;
    int rc = fit_try(n, fn, arg, max_alerts, annotation_max, out, err, errlen);
    out->max = saved_max;
    if (rc == RENDER_TOO_BIG) return 0;
    if (rc < 0) return -1;
    /* The render functions need not check each append: a buffer that overflowed kept the
     * error (buf.h), and its cut text does not fit either. */
    return !buf_error(out) && out->len <= max_bytes;
}

int render_fit(const struct notification *n, size_t max_bytes, render_fn fn, void *arg,
               struct buf *out, char *err, size_t errlen)
{
    int f = fits(n, max_bytes, fn, arg, SIZE_MAX, SIZE_MAX, out, err, errlen);
    if (f) return f < 0 ? -1 : 0;
    f = fits(n, max_bytes, fn, arg, SIZE_MAX, FIT_ANNOTATION_1, out, err, errlen);
    if (f) return f < 0 ? -1 : 0;
    /* The most alerts that fit, by bisection (sizes grow with the number of alerts shown):
     * lo alerts are known to fit, hi alerts (all of them, at first) are known not to. */
    f = fits(n, max_bytes, fn, arg, 0, FIT_ANNOTATION_1, out, err, errlen);
    if (f < 0) return -1;
    if (f) {
        size_t lo = 0, hi = n->nalerts, last = 0;
        int64_t deadline = time_mono_ms() + FIT_BUDGET_MS;
        while (hi - lo > 1 && time_mono_ms() < deadline) {
            size_t mid = lo + (hi - lo) / 2;
            f = fits(n, max_bytes, fn, arg, mid, FIT_ANNOTATION_1, out, err, errlen);
            if (f < 0) return -1;
            if (f)
                lo = mid;
            else
                hi = mid;
            last = mid;
        }
        if (last == lo) return 0; /* out holds that render */
        f = fits(n, max_bytes, fn, arg, lo, FIT_ANNOTATION_1, out, err, errlen);
        return f < 0 ? -1 : f ? 0 : 1;
    }
    f = fits(n, max_bytes, fn, arg, 0, FIT_ANNOTATION_2, out, err, errlen);
    if (f) return f < 0 ? -1 : 0;
    buf_reset(out);
    return 1;
}

/* ---- keys and dates ---- */

void render_dedupe_key(const struct notification *n, char *out, size_t outlen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    const char *gk = n->group_key ? n->group_key : "";
    const char *st = n->status ? n->status : "";
    EVP_DigestUpdate(ctx, gk, strlen(gk) + 1);
    EVP_DigestUpdate(ctx, st, strlen(st) + 1);
    for (size_t i = 0; i < n->nalerts; i++) {
        const struct am_alert *a = &n->alerts[i];
        char item[40];
        int len = snprintf(item, sizeof(item), "%016llx:%c;", (unsigned long long)a->fingerprint,
                           (a->ends_at > 0 && a->ends_at <= n->now) ? 'r' : 'f');
        EVP_DigestUpdate(ctx, item, (size_t)len);
    }
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    size_t o = 0;
    for (unsigned i = 0; i < mdlen && o + 3 <= outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, "%02x", md[i]);
    if (outlen) out[o < outlen ? o : outlen - 1] = '\0';
}

const char *render_payload_key(const struct notification *n, struct payload *p)
{
    if (!p->dedupe_key[0]) render_dedupe_key(n, p->dedupe_key, sizeof(p->dedupe_key));
    return p->dedupe_key;
}

static void utc_parts(double t, struct tm *tm, int *ms)
{
    if (t < 0) t = 0;
    if (t > 253402300799.0) t = 253402300799.0; /* 9999-12-31 */
    time_t secs = (time_t)t;
    *ms = (int)((t - (double)secs) * 1000.0 + 0.5);
    if (*ms >= 1000) {
        secs++;
        *ms = 0;
    }
    gmtime_r(&secs, tm);
}

void render_rfc3339(double t, char *out, size_t outlen)
{
    if (!(t > 0)) {
        snprintf(out, outlen, "0001-01-01T00:00:00Z");
        return;
    }
    struct tm tm;
    int ms;
    utc_parts(t, &tm, &ms);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    if (ms)
        snprintf(out, outlen, "%s.%03dZ", base, ms);
    else
        snprintf(out, outlen, "%sZ", base);
}

void render_rfc5322_date(double t, char *out, size_t outlen)
{
    /* Day and month names in English whatever the locale (RFC 5322 §3.3). */
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    int ms;
    utc_parts(t, &tm, &ms);
    snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- text ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n;
    unsigned cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (left < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

int render_json_string(struct buf *out, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t start = out->len;
    int rc = buf_putc(out, '"');
    for (size_t i = 0; i < len && rc == 0;) {
        unsigned char c = u[i];
        size_t n = utf8_seq(u + i, len - i);
        if (n == 0) {
            rc = buf_puts(out, "\xef\xbf\xbd"); /* U+FFFD for a byte that is not UTF-8 */
            i++;
            continue;
        }
        if (n > 1) {
            rc = buf_append(out, s + i, n);
            i += n;
            continue;
        }
        switch (c) {
        case '"': rc = buf_puts(out, "\\\""); break;
        case '\\': rc = buf_puts(out, "\\\\"); break;
        case '\n': rc = buf_puts(out, "\\n"); break;
        case '\r': rc = buf_puts(out, "\\r"); break;
        case '\t': rc = buf_puts(out, "\\t"); break;
        default:
            if (c < 0x20 || c == 0x7F)
                rc = buf_printf(out, "\\u%04x", c);
            else
                rc = buf_putc(out, (char)c);
        }
        i++;
    }
    if (rc == 0) rc = buf_putc(out, '"');
    if (rc < 0) {
        out->len = start;
        if (out->data) out->data[start] = '\0';
    }
    return rc;
}

int render_labels_each(const char *labels, render_label_fn fn, void *arg)
{
    size_t len = strlen(labels), pos = 0;
    const char *name, *value;
    size_t nl, vl;
    struct buf v;
    buf_init(&v, CAP_LABELS_TEXT);
    int rc = 0;
    while (rc == 0 && labels_next(labels, len, &pos, &name, &nl, &value, &vl)) {
        rc = label_value_unescape(&v, value, vl);
        if (rc == 0) rc = fn(arg, name, nl, v.data, v.len);
    }
    buf_free(&v);
    return rc;
}

static void replace_all(struct buf *text, const char *needle, size_t nlen)
{
    static const char mark[] = "<redacted>";
    if (nlen < 4 || !text->data) return; /* too short to be a secret worth hunting */
    struct buf out;
    buf_init(&out, text->max);
    const char *p = text->data, *end = text->data + text->len;
    bool hit = false;
    while (p < end) {
        const char *f = memmem(p, (size_t)(end - p), needle, nlen);
        if (!f) break;
        buf_append(&out, p, (size_t)(f - p));
        buf_puts(&out, mark);
        p = f + nlen;
        hit = true;
    }
    if (!hit) {
        buf_free(&out);
        return;
    }
    buf_append(&out, p, (size_t)(end - p));
    if (buf_error(&out)) { /* longer once redacted: say so rather than show a cut text */
        buf_reset(&out);
        buf_puts(&out, "(the receiver's answer, redacted, is too long to show)");
    }
    buf_free(text);
    *text = out;
}

void render_redact(struct buf *text, const char *secret)
{
    if (!secret || !*secret) return;
    replace_all(text, secret, strlen(secret));
    const char *scheme = strstr(secret, "://");
    if (!scheme) return;
    const char *rest = scheme + 3;
    replace_all(text, rest, strlen(rest));
    const char *path = strchr(rest, '/');
    if (path && strlen(path) >= 8) replace_all(text, path, strlen(path));
    const char *q = strchr(rest, '?');
    if (q && strlen(q) >= 8) replace_all(text, q, strlen(q));
    const char *sig = strstr(rest, "sig=");
    if (sig) {
        sig += 4;
        size_t n = strcspn(sig, "&#");
        replace_all(text, sig, n);
    }
}

bool render_header_safe(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t') || c == 0x7F) return false;
    }
    return true;
}

int render_read_secret(const char *path, const char *what, char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!path) {
        snprintf(err, errlen, "%s: no file given", what);
        return -1;
    }
    char *s = NULL;
    size_t len = 0;
    int rc = file_read_all(path, CAP_SECRET_FILE, &s, &len);
    if (rc < 0) {
        char why[64];
        snprintf(err, errlen, "%s %s: %s", what, path,
                 file_read_error(rc, CAP_SECRET_FILE, why, sizeof(why)));
        return -1;
    }
    size_t a = 0;
    while (a < len && strchr(" \t\r\n", s[a])) a++;
    while (len > a && strchr(" \t\r\n", s[len - 1])) len--;
    memmove(s, s + a, len - a);
    s[len - a] = '\0';
    if (!s[0]) {
        snprintf(err, errlen, "%s %s: the file is empty", what, path);
        free(s);
        return -1;
    }
    if (strlen(s) != len - a) {
        snprintf(err, errlen, "%s %s: the file holds a NUL byte", what, path);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}
