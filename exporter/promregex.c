/* promregex.c: label regexes as Prometheus and Alertmanager write them (RE2), compiled as POSIX
 * extended ones, for the rules' selectors and the alert manager's matchers alike. The RE2
 * syntax that POSIX lacks or reads differently is translated (\d, \s, \w and their negations,
 * \n and the other character escapes, (?:...), '.' not matching a newline as in Prometheus
 * 2.x) and the rest is refused, never silently read another way: other escapes, flags, and
 * parentheses that do not balance (which would break out of the ^(...)$ anchoring). Patterns
 * whose expansion would make glibc's regcomp take gigabytes (nested repetitions, which RE2
 * refuses too) are refused. */
#include "promregex.h"

#include <stdbool.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"

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

int promregex_compile(regex_t *re, const char *pattern, char *err, size_t errlen)
{
    struct buf ere;
    buf_init(&ere, CAP_SELECTOR_TEXT);
    buf_puts(&ere, "^(");
    int rc = re2_to_ere(pattern, &ere, err, errlen);
    buf_puts(&ere, ")$");
    if (rc == 0 && buf_error(&ere)) { /* the appends above are checked here, once */
        snprintf(err, errlen, "too long once translated (over %zu bytes)", ere.max);
        rc = -1;
    }
    if (rc == 0) {
        rc = regcomp(re, ere.data, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) regerror(rc, re, err, errlen);
    }
    buf_free(&ere);
    return rc == 0 ? 0 : -1;
}
