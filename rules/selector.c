/* selector.c: label matching over canonical label text and family lookup in a snapshot (see
 * selector.h). Equality compares escaped bytes, so the common case needs no unescaping.
 * Regexes are written as for Prometheus (RE2) and compiled as POSIX extended ones: the RE2
 * syntax that POSIX lacks or reads differently is translated (\d, \s, \w and their negations,
 * \n and the other character escapes, (?:...), '.' not matching a newline as in 2.x) and the
 * rest is refused, never silently read another way: other escapes, flags, and parentheses
 * that do not balance (which would break out of the ^(...)$ anchoring). */
#include "selector.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textparse.h"
#include "util.h"

/* RE2's Perl classes, as the members of a bracket expression. */
static const char *perl_class(char c)
{
    switch (c) {
    case 'd':
    case 'D': return "0-9";
    case 's':
    case 'S': return "\t\n\f\r ";
    case 'w':
    case 'W': return "0-9A-Za-z_";
    }
    return NULL;
}

static char char_escape(char c)
{
    switch (c) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'f': return '\f';
    case 'v': return '\v';
    case 'a': return '\a';
    }
    return 0;
}

/* A bracket expression from p (just past '['); returns the end past ']', or NULL. */
static const char *bracket_to_ere(const char *p, struct buf *out, char *err, size_t errlen)
{
    buf_putc(out, '[');
    if (*p == '^') buf_putc(out, *p++);
    if (*p == ']') buf_putc(out, *p++); /* a ']' first is a member */
    for (; *p && *p != ']'; p++) {
        if (p[0] == '[' && p[1] == ':') { /* [:alpha:] */
            const char *e = strstr(p + 2, ":]");
            if (!e) break;
            buf_append(out, p, (size_t)(e + 2 - p));
            p = e + 1;
            continue;
        }
        if (*p != '\\') {
            buf_putc(out, *p);
            continue;
        }
        char c = *++p;
        if (c >= 'a' && c <= 'z' && perl_class(c)) {
            buf_puts(out, perl_class(c));
        } else if (char_escape(c)) {
            buf_putc(out, char_escape(c));
        } else if (c && strchr("\\.*+?(){}|$/&~#%,;:<>=!@'\"`_", c)) {
            buf_putc(out, c); /* literal in a POSIX bracket as it is */
        } else {
            snprintf(err, errlen,
                     "\\%c inside [...] is not supported (write a - or ] first or last, ^ "
                     "not first, or use a class such as [^0-9])",
                     c ? c : ' ');
            return NULL;
        }
        if (!c) break;
    }
    if (*p != ']') {
        snprintf(err, errlen, "missing ]");
        return NULL;
    }
    buf_putc(out, ']');
    return p + 1;
}

/* What a regex may cost once glibc has compiled it: glibc copies a subexpression for every
 * '+' and counted repetition, so nested repetitions grow exponentially ("((a+)+)+..." or
 * "(a{1000}){1000}" take gigabytes), and each copy costs matching memory (some 10 KB for an
 * optional one, as in {1,1000}). Sizes are estimated as glibc expands them: the whole, and
 * what repetitions added (RE_MAX_COPIES keeps the worst case near 20 MB). RE2 refuses counts
 * past 1000 and repetitions of repetitions too. */
#define RE_MAX_DEPTH  100
#define RE_MAX_SIZE   20000.0
#define RE_MAX_COPIES 2000.0
#define RE_MAX_REPEAT 1000

struct re_level {
    double size; /* of the sequence so far */
    double last; /* of its last atom, 0 when there is none to repeat */
};

/* A counted repetition {n}, {n,} or {n,m} at p (just past '{'): its largest expansion factor
 * in *factor and the end past '}'; NULL when it is not one (then '{' is a literal, as in
 * RE2), or (p itself) when a count is past RE_MAX_REPEAT. */
static const char *repeat_count(const char *p, double *factor)
{
    long n = -1, m = -1;
    const char *q = p;
    if (!isdigit((unsigned char)*q)) return NULL;
    for (n = 0; isdigit((unsigned char)*q) && n <= RE_MAX_REPEAT; q++) n = n * 10 + *q - '0';
    if (*q == ',') {
        q++;
        if (isdigit((unsigned char)*q))
            for (m = 0; isdigit((unsigned char)*q) && m <= RE_MAX_REPEAT; q++)
                m = m * 10 + *q - '0';
        else
            m = n + 1; /* {n,}: n copies and a star */
    } else {
        m = n;
    }
    if (isdigit((unsigned char)*q) || n > RE_MAX_REPEAT || m > RE_MAX_REPEAT) return p;
    if (*q != '}' || m < n) return NULL;
    *factor = (double)(m > 0 ? m : 1);
    return q + 1;
}

/* The translation under way. */
struct re_state {
    struct buf *out;
    struct re_level lv[RE_MAX_DEPTH + 1];
    int depth;
    double copies;     /* what repetitions added */
    bool after_repeat; /* the last thing was a repetition operator */
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 2, 3))) static const char *re_fail(struct re_state *st,
                                                                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->err, st->errlen, fmt, ap);
    va_end(ap);
    return NULL;
}

/* Something of the given size that a repetition operator may follow. */
static void re_atom(struct re_state *st, double size)
{
    st->lv[st->depth].size += size;
    st->lv[st->depth].last = size;
    st->after_repeat = false;
}

/* The repetition operator c (*, +, ? or {n,m}), p just past c. */
static const char *re_repeat(struct re_state *st, char c, const char *p)
{
    struct re_level *lv = &st->lv[st->depth];
    double factor = 0;
    const char *q = c == '{' ? repeat_count(p, &factor) : p;
    if (c == '?' && st->after_repeat) return p; /* lazy: the same full matches */
    if (lv->last == 0)
        return re_fail(st, "%s repetition operator %c",
                       st->after_repeat ? "invalid nested" : "missing argument to", c);
    if (q == p && c == '{')
        return re_fail(st, "invalid repeat count (more than %d)", RE_MAX_REPEAT);
    double added = c == '+' ? lv->last : c == '{' ? lv->last * (factor - 1) : 1;
    lv->size += added;
    st->copies += added;
    buf_putc(st->out, c);
    buf_append(st->out, p, (size_t)(q - p));
    lv->last = 0;
    st->after_repeat = true;
    return q;
}

/* '(' (or "(?:") and ')', p just past c. */
static const char *re_group(struct re_state *st, char c, const char *p)
{
    if (c == ')') {
        if (st->depth == 0) return re_fail(st, "unexpected %c", c);
        buf_putc(st->out, ')');
        double size = st->lv[st->depth--].size;
        re_atom(st, size);
        return p;
    }
    if (*p == '?' && p[1] == ':')
        p += 2;
    else if (*p == '?')
        return re_fail(st, "(?%c...) is not supported (only (?:...) groups)", p[1] ? p[1] : ' ');
    if (st->depth == RE_MAX_DEPTH) return re_fail(st, "more than %d nested groups", RE_MAX_DEPTH);
    st->lv[++st->depth] = (struct re_level){0, 0};
    st->after_repeat = false;
    buf_putc(st->out, '(');
    return p;
}

/* An escape outside brackets, p just past the backslash. */
static const char *re_escape(struct re_state *st, const char *p)
{
    char e = *p;
    if (perl_class(e)) {
        buf_printf(st->out, "[%s%s]", e >= 'A' && e <= 'Z' ? "^" : "", perl_class(e));
    } else if (char_escape(e)) {
        buf_putc(st->out, char_escape(e));
    } else if (e == 'b' || e == 'B' || (e && !isalnum((unsigned char)e))) {
        buf_putc(st->out, '\\'); /* a word boundary, or a punctuation character */
        buf_putc(st->out, e);
    } else if (e) {
        return re_fail(st, "\\%c is not supported (use [...], \\d, \\s, \\w)", e);
    } else {
        return re_fail(st, "trailing backslash");
    }
    re_atom(st, 1);
    return p + 1;
}

/* Translates an RE2 pattern into a POSIX extended one with the same meaning, or refuses it. */
static int re2_to_ere(const char *re, struct buf *out, char *err, size_t errlen)
{
    struct re_state st = {.out = out, .err = err, .errlen = errlen};
    for (const char *p = re; *p;) {
        char c = *p++;
        double factor;
        if (c == '*' || c == '+' || c == '?' || (c == '{' && repeat_count(p, &factor))) {
            p = re_repeat(&st, c, p);
        } else if (c == '(' || c == ')') {
            p = re_group(&st, c, p);
        } else if (c == '\\') {
            p = re_escape(&st, p);
        } else if (c == '|' || c == '^' || c == '$') {
            buf_putc(out, c);
            st.lv[st.depth].last = 0; /* nothing to repeat */
            st.after_repeat = false;
        } else {
            if (c == '[')
                p = bracket_to_ere(p, out, err, errlen);
            else if (c == '{')
                buf_puts(out, "\\{"); /* not a repetition: a literal, as in RE2 */
            else if (c == '.')
                buf_puts(out, "[^\n]"); /* RE2 without (?s): any character but a newline */
            else
                buf_putc(out, c);
            re_atom(&st, 1);
        }
        if (!p) return -1;
        if (st.lv[st.depth].size > RE_MAX_SIZE || st.copies > RE_MAX_COPIES) {
            snprintf(err, errlen, "too large once repetitions are expanded (nested + or {n})");
            return -1;
        }
    }
    if (st.depth) {
        snprintf(err, errlen, "missing )");
        return -1;
    }
    return 0;
}

int selector_add(struct selector *s, const char *label, enum match_op op, const char *value,
                 char *err, size_t errlen)
{
    if (!label_name_valid(label, strlen(label))) {
        snprintf(err, errlen, "invalid label name \"%s\" in a matcher", label);
        return -1;
    }
    struct matcher m = {.name = xstrdup(label), .op = op, .value = xstrdup(value)};
    struct buf esc;
    buf_init(&esc, 0);
    label_value_escape(&esc, value, strlen(value));
    m.value_escaped = buf_steal(&esc, NULL);
    if (op == MATCH_RE || op == MATCH_NRE) {
        struct buf ere;
        buf_init(&ere, 0);
        buf_puts(&ere, "^(");
        char msg[200];
        int rc = re2_to_ere(value, &ere, msg, sizeof(msg));
        buf_puts(&ere, ")$");
        if (rc == 0) {
            rc = regcomp(&m.re, ere.data, REG_EXTENDED | REG_NOSUB);
            if (rc != 0) regerror(rc, &m.re, msg, sizeof(msg));
        }
        buf_free(&ere);
        if (rc != 0) {
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

/* Finds label `name` in canonical text: its escaped value, or NULL when absent. */
static const char *find_raw(const char *labels, size_t len, const char *name, size_t *vlen)
{
    size_t pos = 0, nl, want = strlen(name);
    const char *n, *v;
    while (labels_next(labels, len, &pos, &n, &nl, &v, vlen))
        if (nl == want && memcmp(n, name, nl) == 0) return v;
    return NULL;
}

bool labels_get(const char *labels, size_t len, const char *name, struct buf *out)
{
    size_t vl = 0;
    const char *v = find_raw(labels, len, name, &vl);
    buf_reset(out);
    if (!v) return false;
    buf_reserve(out, vl + 1);
    out->len = textparse_unescape(out->data, v, vl);
    return true;
}

static bool match_one(const struct matcher *m, const char *labels, size_t len)
{
    size_t vl = 0;
    const char *v = find_raw(labels, len, m->name, &vl);
    if (!v) v = "", vl = 0;
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

bool selector_match_labels(const struct selector *s, const char *labels, size_t len)
{
    for (size_t i = 0; i < s->n; i++)
        if (!match_one(&s->m[i], labels, len)) return false;
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
    buf_init(&b, 0);
    buf_puts(&b, s->name);
    buf_putc(&b, '{');
    for (size_t i = 0; i < s->n; i++) {
        buf_printf(&b, "%s%s%s\"", i ? "," : "", s->m[i].name, ops[s->m[i].op]);
        buf_puts(&b, s->m[i].value_escaped);
        buf_putc(&b, '"');
    }
    buf_putc(&b, '}');
    return buf_steal(&b, NULL);
}
