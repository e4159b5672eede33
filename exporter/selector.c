/* selector.c: label matching over canonical label text, family lookup in a snapshot, and
 * PromQL's selector text (see selector.h). Equality compares escaped bytes, so the common case
 * needs no unescaping. Regexes are Prometheus' (RE2 syntax), compiled by promregex.c. Core:
 * the rules read snapshots with it, switchover reads its observations with it, and /federate
 * (federate.c) parses its match[] and selects with it. */
#include "selector.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "caps.h"
#include "promregex.h"
#include "textparse.h"
#include "xalloc.h"

int selector_add(struct selector *s, const char *label, enum match_op op, const char *value,
                 char *err, size_t errlen)
{
    if (!label_name_valid(label, strlen(label))) {
        snprintf(err, errlen, "invalid label name \"%s\" in a matcher", label);
        return -1;
    }
    struct buf esc;
    buf_init(&esc, CAP_SELECTOR_TEXT);
    label_value_escape(&esc, value, strlen(value));
    if (buf_error(&esc)) { /* a cut value would match other series */
        buf_free(&esc);
        snprintf(err, errlen, "the value of matcher %s is longer than %zu bytes", label,
                 (size_t)CAP_SELECTOR_TEXT / 2);
        return -1;
    }
    struct matcher m = {.name = xstrdup(label),
                        .op = op,
                        .on_name = strcmp(label, "__name__") == 0,
                        .value = xstrdup(value)};
    m.value_escaped = buf_steal(&esc, NULL);
    if (op == MATCH_RE || op == MATCH_NRE) {
        char msg[200];
        if (promregex_compile(&m.re, value, msg, sizeof(msg)) < 0) {
            snprintf(err, errlen, "bad regex \"%s\" for label %s: %s", value, label, msg);
            free(m.name);
            free(m.value);
            free(m.value_escaped);
            return -1;
        }
    }
    s->m = xrealloc(s->m, (s->n + 1) * sizeof(*s->m));
    s->m[s->n++] = m;
    return 0;
}

void selector_free(struct selector *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->m[i].op == MATCH_RE || s->m[i].op == MATCH_NRE) regfree(&s->m[i].re);
        free(s->m[i].name);
        free(s->m[i].value);
        free(s->m[i].value_escaped);
    }
    free(s->m);
    free(s->name);
    s->m = NULL;
    s->n = 0;
    s->name = NULL;
}

/* Whether m matches the value v[0..vl), escaped as in canonical label text. */
static bool match_value(const struct matcher *m, const char *v, size_t vl)
{
    if (m->op == MATCH_EQ || m->op == MATCH_NEQ) {
        bool eq = vl == strlen(m->value_escaped) && memcmp(v, m->value_escaped, vl) == 0;
        return m->op == MATCH_EQ ? eq : !eq;
    }
    char small[256], *plain = vl < sizeof(small) ? small : xmalloc(vl + 1);
    textparse_unescape(plain, v, vl);
    bool hit = regexec(&m->re, plain, 0, NULL, 0) == 0;
    if (plain != small) free(plain);
    return m->op == MATCH_RE ? hit : !hit;
}

static bool match_one(const struct matcher *m, const char *labels, size_t len)
{
    size_t vl = 0;
    const char *v = labels_find(labels, len, m->name, &vl);
    if (!v) v = "", vl = 0;
    return match_value(m, v, vl);
}

bool selector_match_labels(const struct selector *s, const char *labels, size_t len)
{
    for (size_t i = 0; i < s->n; i++)
        if (!match_one(&s->m[i], labels, len)) return false;
    return true;
}

bool selector_match_name(const struct selector *s, const char *name, size_t len)
{
    if (s->name && (strlen(s->name) != len || memcmp(s->name, name, len) != 0)) return false;
    /* A metric name needs no escaping: it is its own canonical text. */
    for (size_t i = 0; i < s->n; i++)
        if (s->m[i].on_name && !match_value(&s->m[i], name, len)) return false;
    return true;
}

bool selector_match_series_labels(const struct selector *s, const char *labels, size_t len)
{
    for (size_t i = 0; i < s->n; i++)
        if (!s->m[i].on_name && !match_one(&s->m[i], labels, len)) return false;
    return true;
}

static const struct family_view *find_view(const struct family_view *v, size_t n, const char *name,
                                           size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *fn = v[mid].parts[0]->name;
        int c = strncmp(fn, name, len);
        if (c == 0) c = fn[len] != '\0';
        if (c == 0) return &v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void snapshot_select(const struct snapshot *snap, const struct selector *sel, select_fn fn,
                     void *arg)
{
    size_t n;
    if (!sel->name) return;
    const struct family_view *views = snapshot_families(snap, &n);
    size_t len = strlen(sel->name);
    const struct family_view *v = find_view(views, n, sel->name, len);
    int want = -1; /* any suffix */
    if (v && (v->parts[0]->type == METRIC_HISTOGRAM || v->parts[0]->type == METRIC_SUMMARY)) {
        want = SUFFIX_NONE; /* a summary's quantiles; a histogram has none */
    } else if (!v) {
        static const enum metric_suffix sfx[] = {SUFFIX_BUCKET, SUFFIX_SUM, SUFFIX_COUNT};
        for (size_t i = 0; i < ARRAY_LEN(sfx) && !v; i++) {
            const char *t = metric_suffix_text(sfx[i]);
            size_t tl = strlen(t);
            if (len <= tl || strcmp(sel->name + len - tl, t) != 0) continue;
            v = find_view(views, n, sel->name, len - tl);
            if (v && v->parts[0]->type != METRIC_HISTOGRAM && v->parts[0]->type != METRIC_SUMMARY)
                v = NULL;
            want = (int)sfx[i];
        }
    }
    if (!v) return;
    for (size_t p = 0; p < v->nparts; p++) {
        const struct metric_family *f = v->parts[p];
        for (size_t i = 0; i < f->nsamples; i++) {
            const struct metric_sample *m = &f->samples[i];
            if (want >= 0 && m->suffix != want) continue;
            if (selector_match_labels(sel, m->labels, m->labels_len)) fn(arg, f, m);
        }
    }
}

char *selector_text(const struct selector *s)
{
    static const char *const ops[] = {"=", "!=", "=~", "!~"};
    struct buf b;
    buf_init(&b, CAP_SELECTOR_TEXT);
    buf_puts(&b, s->name ? s->name : "");
    buf_putc(&b, '{');
    for (size_t i = 0; i < s->n; i++) {
        buf_printf(&b, "%s%s%s\"", i ? "," : "", s->m[i].name, ops[s->m[i].op]);
        buf_puts(&b, s->m[i].value_escaped);
        buf_putc(&b, '"');
    }
    buf_putc(&b, '}');
    if (buf_error(&b)) { /* a cut text would name another selector */
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

/* ---- selector text (PromQL) ---- */

struct lexer {
    const char *s;
    size_t n, pos;
    char *err;
    size_t errlen;
};

/* Fills err with what is wrong at byte at, as Prometheus' "line:column: parse error: ...". */
static int lex_fail(struct lexer *l, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int lex_fail(struct lexer *l, size_t at, const char *fmt, ...)
{
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < l->n; i++) {
        if (l->s[i] == '\n')
            line++, col = 1;
        else
            col++;
    }
    int w = snprintf(l->err, l->errlen, "%zu:%zu: parse error: ", line, col);
    if (w >= 0 && (size_t)w < l->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(l->err + w, l->errlen - (size_t)w, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static bool lex_end(const struct lexer *l)
{
    return l->pos >= l->n;
}

static char lex_peek(const struct lexer *l)
{
    return l->pos < l->n ? l->s[l->pos] : '\0';
}

/* Skips blanks and # comments (to the end of their line). */
static void lex_skip(struct lexer *l)
{
    while (!lex_end(l)) {
        char c = l->s[l->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            l->pos++;
        } else if (c == '#') {
            while (!lex_end(l) && l->s[l->pos] != '\n') l->pos++;
        } else {
            break;
        }
    }
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_alnum(char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

/* A character as an error message shows it: 'x', or its code when not printable. */
static const char *char_text(char c, char out[8])
{
    if (c >= 0x21 && c < 0x7f)
        snprintf(out, 8, "'%c'", c);
    else
        snprintf(out, 8, "0x%02x", (unsigned char)c);
    return out;
}

/* Appends code point cp as UTF-8. */
static void put_utf8(struct buf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    }
    buf_append(b, u, n);
}

/* One escape after a backslash at l->pos (which points past it), as Go's strconv reads it. */
static int lex_escape(struct lexer *l, char quote, struct buf *out)
{
    size_t at = l->pos - 1;
    if (lex_end(l)) return lex_fail(l, at, "escape sequence not terminated");
    char c = l->s[l->pos++];
    static const char simple[] = "abfnrtv\\", plain[] = "\a\b\f\n\r\t\v\\";
    const char *k = c ? strchr(simple, c) : NULL;
    if (k || c == quote) {
        buf_putc(out, k ? plain[k - simple] : quote);
        return 0;
    }
    int digits = 0, base = 16;
    uint32_t max = 0x10ffff;
    if (c >= '0' && c <= '7')
        digits = 3, base = 8, max = 255, l->pos--;
    else if (c == 'x')
        digits = 2, max = 255;
    else if (c == 'u')
        digits = 4;
    else if (c == 'U')
        digits = 8;
    char shown[8];
    if (!digits) return lex_fail(l, at, "unknown escape sequence %s", char_text(c, shown));
    uint32_t x = 0;
    for (int i = 0; i < digits; i++) {
        if (lex_end(l)) return lex_fail(l, at, "escape sequence not terminated");
        char d = l->s[l->pos++];
        int v = d >= '0' && d <= '9'   ? d - '0'
                : d >= 'a' && d <= 'f' ? d - 'a' + 10
                : d >= 'A' && d <= 'F' ? d - 'A' + 10
                                       : 99;
        if (v >= base)
            return lex_fail(l, at, "illegal character %s in escape sequence", char_text(d, shown));
        x = x * (uint32_t)base + (uint32_t)v;
    }
    if (x > max || (x >= 0xd800 && x < 0xe000))
        return lex_fail(l, at, "escape sequence is an invalid Unicode code point");
    if (c == 'u' || c == 'U')
        put_utf8(out, x);
    else
        buf_putc(out, (char)x); /* \ooo and \xhh give a byte, as in Go */
    return 0;
}

/* A quoted string at l->pos, unquoted into out (reset first). */
static int lex_string(struct lexer *l, struct buf *out)
{
    size_t at = l->pos;
    char q = l->s[l->pos++];
    buf_reset(out);
    for (;;) {
        if (lex_end(l) || (q != '`' && l->s[l->pos] == '\n'))
            return lex_fail(l, at,
                            q == '`' ? "unterminated raw string" : "unterminated quoted string");
        char c = l->s[l->pos++];
        if (c == q) break;
        if (c == '\\' && q != '`') {
            if (lex_escape(l, q, out) < 0) return -1;
        } else {
            buf_putc(out, c);
        }
    }
    if (buf_error(out))
        return lex_fail(l, at, "a string longer than %zu bytes", (size_t)CAP_SELECTOR_TEXT);
    if (out->len && memchr(out->data, '\0', out->len))
        return lex_fail(l, at, "a NUL byte in a string is not supported");
    return 0;
}

/* An operator at l->pos: =, !=, =~ or !~. */
static int lex_op(struct lexer *l, enum match_op *op)
{
    char c = lex_peek(l), d = l->pos + 1 < l->n ? l->s[l->pos + 1] : '\0';
    if (c == '=') {
        *op = d == '~' ? MATCH_RE : MATCH_EQ;
    } else if (c == '!' && (d == '=' || d == '~')) {
        *op = d == '~' ? MATCH_NRE : MATCH_NEQ;
    } else {
        char shown[8];
        return lex_fail(l, l->pos, "expected a label matching operator (=, !=, =~, !~), got %s",
                        lex_end(l) ? "the end" : char_text(c, shown));
    }
    l->pos += (c == '!' || d == '~') ? 2 : 1;
    return 0;
}

/* One `label op "value"` at l->pos, added to out. */
static int lex_matcher(struct lexer *l, struct selector *out, struct buf *value)
{
    size_t start = l->pos;
    while (!lex_end(l) && is_alnum(l->s[l->pos])) l->pos++;
    char *label = xstrndup(l->s + start, l->pos - start);
    enum match_op op = MATCH_EQ;
    int rc = -1;
    lex_skip(l);
    if (lex_op(l, &op) < 0) goto done;
    lex_skip(l);
    char c = lex_peek(l);
    if (c != '"' && c != '\'' && c != '`') {
        char shown[8];
        lex_fail(l, l->pos, "expected a quoted string after %s, got %s", label,
                 lex_end(l) ? "the end" : char_text(c, shown));
        goto done;
    }
    if (lex_string(l, value) < 0) goto done;
    const char *v = value->len ? value->data : "";
    if (out->name && strcmp(label, "__name__") == 0) {
        lex_fail(l, start, "metric name must not be set twice: \"%s\" or \"%s\"", out->name, v);
        goto done;
    }
    char why[512];
    if (selector_add(out, label, op, v, why, sizeof(why)) < 0) {
        lex_fail(l, start, "%s", why);
        goto done;
    }
    rc = 0;
done:
    free(label);
    return rc;
}

/* The matchers between braces; l->pos is at the '{'. */
static int lex_braces(struct lexer *l, struct selector *out)
{
    struct buf value;
    buf_init(&value, CAP_SELECTOR_TEXT);
    int rc = -1;
    l->pos++;
    for (;;) {
        lex_skip(l);
        char c = lex_peek(l), shown[8];
        if (lex_end(l)) {
            lex_fail(l, l->pos, "unexpected end of input inside braces");
            break;
        }
        if (c == '}') {
            l->pos++;
            rc = 0;
            break;
        }
        if (!is_alpha(c)) {
            lex_fail(l, l->pos, "unexpected character inside braces: %s", char_text(c, shown));
            break;
        }
        if (lex_matcher(l, out, &value) < 0) break;
        lex_skip(l);
        c = lex_peek(l);
        if (c == ',') {
            l->pos++;
        } else if (lex_end(l)) {
            lex_fail(l, l->pos, "unexpected end of input inside braces");
            break;
        } else if (c != '}') {
            lex_fail(l, l->pos, "expected \",\" or \"}\" after a matcher, got %s",
                     char_text(c, shown));
            break;
        }
    }
    buf_free(&value);
    return rc;
}

/* Whether m matches the empty value (a selector of such matchers alone selects everything). */
static bool matches_empty(const struct matcher *m)
{
    return match_value(m, "", 0);
}

static int parse_selector(struct lexer *l, struct selector *out)
{
    char shown[8];
    if (!utf8_valid(l->s, l->n)) return lex_fail(l, 0, "invalid UTF-8");
    lex_skip(l);
    if (lex_end(l)) return lex_fail(l, l->pos, "no selector: the input is empty");
    char c = lex_peek(l);
    if (is_alpha(c) || c == ':') {
        size_t start = l->pos;
        while (!lex_end(l) && (is_alnum(l->s[l->pos]) || l->s[l->pos] == ':')) l->pos++;
        size_t len = l->pos - start;
        /* PromQL reads these two as numbers. */
        if ((len == 3 && (strncasecmp(l->s + start, "inf", 3) == 0 ||
                          strncasecmp(l->s + start, "nan", 3) == 0)))
            return lex_fail(l, start, "unexpected number \"%.3s\"", l->s + start);
        out->name = xstrndup(l->s + start, len);
        lex_skip(l);
    } else if (c != '{') {
        return lex_fail(l, l->pos,
                        "unexpected character %s: a selector is a metric name, "
                        "{matchers} or both",
                        char_text(c, shown));
    }
    if (lex_peek(l) == '{' && lex_braces(l, out) < 0) return -1;
    lex_skip(l);
    if (!lex_end(l))
        return lex_fail(l, l->pos,
                        "unexpected %s after the selector: only a series selector "
                        "is taken (no range, offset, @ or function)",
                        char_text(lex_peek(l), shown));
    if (out->name) return 0;
    if (out->n == 0)
        return lex_fail(l, 0,
                        "vector selector must contain label matchers or "
                        "metric name");
    for (size_t i = 0; i < out->n; i++)
        if (!matches_empty(&out->m[i])) return 0;
    return lex_fail(l, 0, "vector selector must contain at least one non-empty matcher");
}

int selector_parse(const char *text, size_t len, struct selector *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    struct lexer l = {.s = text, .n = len, .err = err, .errlen = errlen};
    if (parse_selector(&l, out) == 0) return 0;
    selector_free(out);
    return -1;
}
