/* template_format.c: Go's text for numbers and strings, as Prometheus' templates print them:
 * strconv's shortest float formatting ('g' and 'e' with precision -1), fmt's printf verbs for the
 * operand types templates have (float64, int, string: flags, widths and precisions, Go's NaN and
 * +Inf), Prometheus' humanize family (template/template.go in 2.42) and the case functions.
 * glibc gives the digits (it rounds exactly, ties to even, as Go); the rest is Go's rules.
 * Used by template.c (see template_format.h). */
#include "template_format.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"

/* The digits of a at precision prec ("d.ddde±X") if some prec-digit decimal reads back as a:
 * the nearest one, or else its neighbour on the other side of a. (Next to a power of two the
 * interval that reads back as a is narrower below than above, so the nearest decimal may miss
 * it where the next one up does not; Go's shortest formatting takes that one.) */
static bool shortest_digits(char *e, size_t elen, double a, int prec)
{
    snprintf(e, elen, "%.*e", prec - 1, a);
    double r = strtod(e, NULL);
    if (r == a || prec == 17) return true;
    char digits[24];
    int nd = 0, exp = atoi(strchr(e, 'e') + 1);
    for (const char *p = e; *p != 'e'; p++)
        if (isdigit((unsigned char)*p)) digits[nd++] = *p;
    if (r < a) { /* one up, carrying */
        int i = nd - 1;
        while (i >= 0 && digits[i] == '9') digits[i--] = '0';
        if (i < 0) {
            digits[0] = '1';
            exp++;
        } else {
            digits[i]++;
        }
    } else { /* one down, borrowing */
        int i = nd - 1;
        while (i >= 0 && digits[i] == '0') digits[i--] = '9';
        if (i < 0) return false; /* not reached: the first digit is not 0 */
        digits[i]--;
        if (digits[0] == '0') {
            memmove(digits, digits + 1, (size_t)nd - 1);
            digits[nd - 1] = '9';
            exp--;
        }
    }
    digits[nd] = '\0';
    char alt[40];
    snprintf(alt, sizeof(alt), "%c%s%se%d", digits[0], nd > 1 ? "." : "", digits + 1, exp);
    if (strtod(alt, NULL) != a) return false;
    snprintf(e, elen, "%s", alt);
    return true;
}

void go_format_float(char *out, size_t outlen, double v)
{
    if (isnan(v) || isinf(v) || v == 0) {
        snprintf(out, outlen, "%s",
                 isnan(v)   ? "NaN"
                 : isinf(v) ? (v > 0 ? "+Inf" : "-Inf")
                            : (signbit(v) ? "-0" : "0"));
        return;
    }
    /* The shortest digits that read back exactly: d.ddd e±X. */
    char e[40];
    for (int prec = 1; prec <= 17 && !shortest_digits(e, sizeof(e), fabs(v), prec); prec++)
        ;
    char *ep = strchr(e, 'e');
    int exp = atoi(ep + 1);
    char digits[24];
    int nd = 0;
    for (const char *p = e; p < ep; p++)
        if (isdigit((unsigned char)*p)) digits[nd++] = *p;
    digits[nd] = '\0';
    const char *sign = v < 0 ? "-" : "";
    /* Go's shortest %g: exponent form when exp < -4 or exp >= 6 ("if shortest { eprec = 6 }"). */
    if (exp < -4 || exp >= 6) {
        snprintf(out, outlen, "%s%c%s%se%c%02d", sign, digits[0], nd > 1 ? "." : "", digits + 1,
                 exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp >= 0) {
        int ip = exp + 1; /* digits before the point */
        if (nd <= ip)
            snprintf(out, outlen, "%s%s%.*s", sign, digits, ip - nd, "000000");
        else
            snprintf(out, outlen, "%s%.*s.%s", sign, ip, digits, digits + ip);
    } else {
        snprintf(out, outlen, "%s0.%.*s%s", sign, -exp - 1, "0000", digits);
    }
}

void go_format_float_e(char *out, size_t outlen, double v)
{
    if (isnan(v) || isinf(v)) {
        go_format_float(out, outlen, v);
        return;
    }
    char e[40];
    for (int prec = 1; prec <= 17 && !shortest_digits(e, sizeof(e), fabs(v), prec); prec++)
        ;
    char *ep = strchr(e, 'e');
    int exp = v == 0 ? 0 : atoi(ep + 1);
    *ep = '\0';
    snprintf(out, outlen, "%s%se%c%02d", signbit(v) ? "-" : "", e, exp < 0 ? '-' : '+',
             exp < 0 ? -exp : exp);
}

/* Go's %.{prec}g (prec < 0: the shortest, as %v), with Go's NaN, +Inf and -Inf. glibc and Go
 * agree on the digits of a given precision (both round exactly, ties to even) and on when the
 * exponent form is used. */
void go_format_g(char *out, size_t outlen, double v, int prec)
{
    if (prec < 0 || isnan(v) || isinf(v))
        go_format_float(out, outlen, v);
    else
        snprintf(out, outlen, "%.*g", prec, v);
}

const char *go_type_name(enum go_type t)
{
    return t == GO_FLOAT64 ? "float64" : t == GO_INT ? "int" : "string";
}

/* ---- Prometheus' humanize family ---- */

static void humanize_small(struct buf *out, double v, const char *unit)
{
    static const char *const pre[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
    const char *prefix = "";
    for (size_t i = 0; i < ARRAY_LEN(pre); i++) {
        if (fabs(v) >= 1) break;
        prefix = pre[i];
        v *= 1000;
    }
    char f[40];
    go_format_g(f, sizeof(f), v, 4);
    buf_printf(out, "%s%s%s", f, prefix, unit);
}

static void humanize_si(struct buf *out, double v, double base)
{
    static const char *const si[] = {"k", "M", "G", "T", "P", "E", "Z", "Y"};
    static const char *const iec[] = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
    char f[40];
    if (v == 0 || isnan(v) || isinf(v) || (base == 1024 && fabs(v) <= 1)) {
        go_format_g(f, sizeof(f), v, 4);
        buf_puts(out, f);
        return;
    }
    if (fabs(v) < 1) {
        humanize_small(out, v, "");
        return;
    }
    const char *prefix = "";
    for (size_t i = 0; i < 8; i++) {
        if (fabs(v) < base) break;
        prefix = base == 1000 ? si[i] : iec[i];
        v /= base;
    }
    go_format_g(f, sizeof(f), v, 4);
    buf_printf(out, "%s%s", f, prefix);
}

/* Go's int64(v) for v >= 1 as amd64 does it: out of range gives math.MinInt64 (C: undefined). */
static long long go_int64(double v)
{
    return v < 9223372036854775808.0 ? (long long)v : (long long)(-9223372036854775807LL - 1);
}

static void humanize_duration(struct buf *out, double v)
{
    char f[40];
    if (isnan(v) || isinf(v)) {
        go_format_g(f, sizeof(f), v, 4);
        buf_puts(out, f);
        return;
    }
    if (v == 0) {
        go_format_g(f, sizeof(f), v, 4);
        buf_printf(out, "%ss", f);
        return;
    }
    if (fabs(v) < 1) {
        humanize_small(out, v, "s");
        return;
    }
    const char *sign = v < 0 ? "-" : "";
    if (v < 0) v = -v;
    long long d = go_int64(v), s = d % 60, m = (d / 60) % 60, h = (d / 60 / 60) % 24,
              days = d / 60 / 60 / 24;
    if (days)
        buf_printf(out, "%s%lldd %lldh %lldm %llds", sign, days, h, m, s);
    else if (h)
        buf_printf(out, "%s%lldh %lldm %llds", sign, h, m, s);
    else if (m)
        buf_printf(out, "%s%lldm %llds", sign, m, s);
    else {
        go_format_g(f, sizeof(f), v, 4);
        buf_printf(out, "%s%ss", sign, f);
    }
}

static void humanize_percentage(struct buf *out, double v)
{
    char f[40];
    go_format_g(f, sizeof(f), v * 100, 4);
    buf_printf(out, "%s%%", f);
}

void go_humanize(struct buf *out, enum go_humanize how, double v)
{
    switch (how) {
    case GO_HUMANIZE: humanize_si(out, v, 1000); break;
    case GO_HUMANIZE_1024: humanize_si(out, v, 1024); break;
    case GO_HUMANIZE_PERCENTAGE: humanize_percentage(out, v); break;
    case GO_HUMANIZE_DURATION: humanize_duration(out, v); break;
    }
}

/* ---- Go's case functions (ASCII and the Latin-1 letters; other text is left as it is) ---- */

static bool is_latin1_upper(const unsigned char *p)
{
    return p[0] == 0xC3 && p[1] >= 0x80 && p[1] <= 0x9E && p[1] != 0x97;
}

static bool is_latin1_lower(const unsigned char *p)
{
    return p[0] == 0xC3 && p[1] >= 0xA0 && p[1] <= 0xBE && p[1] != 0xB7;
}

void go_change_case(struct buf *s, enum go_case how)
{
    unsigned char *p = (unsigned char *)s->data;
    bool after_sep = true; /* strings.Title: the start counts as after a separator */
    for (size_t i = 0; i < s->len; i++) {
        bool two = i + 1 < s->len;
        bool up = how == GO_UPPER || (how == GO_TITLE && after_sep);
        if (p[i] < 0x80) {
            if (up && p[i] >= 'a' && p[i] <= 'z') p[i] -= 32;
            if (how == GO_LOWER && p[i] >= 'A' && p[i] <= 'Z') p[i] += 32;
            /* Go's isSeparator: ASCII letters, digits and '_' are not separators. */
            after_sep = !(isalnum(p[i]) || p[i] == '_');
            continue;
        }
        if (two && up && is_latin1_lower(p + i)) p[i + 1] -= 0x20;
        if (two && how == GO_LOWER && is_latin1_upper(p + i)) p[i + 1] += 0x20;
        after_sep = false; /* non-ASCII: taken as a letter */
    }
}

/* ---- printf, as Go's fmt does it for the operand types templates have ---- */

struct conv {
    bool minus, plus, space, zero;
    int width, prec; /* -1: not given */
    char verb;
};

/* Pads body (sign included) to the width as fmt.pad does; widths count characters (runes). */
static void pad(struct buf *out, const struct conv *c, const char *body, size_t n, bool zeros_ok)
{
    size_t runes = 0;
    for (size_t i = 0; i < n; i++) runes += ((unsigned char)body[i] & 0xC0) != 0x80;
    size_t fill = c->width > 0 && (size_t)c->width > runes ? (size_t)c->width - runes : 0;
    if (c->minus) {
        buf_append(out, body, n);
        for (size_t i = 0; i < fill; i++) buf_putc(out, ' ');
        return;
    }
    if (zeros_ok && c->zero && fill) {
        size_t sign = n && strchr("+- ", body[0]) ? 1 : 0;
        buf_append(out, body, sign);
        for (size_t i = 0; i < fill; i++) buf_putc(out, '0');
        buf_append(out, body + sign, n - sign);
        return;
    }
    for (size_t i = 0; i < fill; i++) buf_putc(out, ' ');
    buf_append(out, body, n);
}

static void printf_float(struct buf *out, const struct conv *c, double v)
{
    char num[GO_MAX_WIDTH + 400];
    size_t at = 1;
    if (isnan(v) || isinf(v)) {
        /* Go: "+Inf" keeps its sign, NaN shows one only when asked for; never zero padded. */
        char sign = isinf(v) && v < 0 ? '-' : c->plus ? '+' : c->space ? ' ' : isinf(v) ? '+' : 0;
        snprintf(num, sizeof(num), "%c%s", sign ? sign : '?', isnan(v) ? "NaN" : "Inf");
        const char *body = sign ? num : num + 1;
        pad(out, c, body, strlen(body), false);
        return;
    }
    double a = fabs(v);
    int prec = c->prec;
    switch (c->verb) {
    case 'f':
    case 'F': snprintf(num + at, sizeof(num) - at, "%.*f", prec < 0 ? 6 : prec, a); break;
    case 'e':
    case 'E': snprintf(num + at, sizeof(num) - at, "%.*e", prec < 0 ? 6 : prec, a); break;
    default: go_format_g(num + at, sizeof(num) - at, a, prec); break; /* g, G, v */
    }
    if (c->verb == 'E' || c->verb == 'G')
        for (char *p = num + at; *p; p++) *p = (char)toupper((unsigned char)*p);
    char sign = signbit(v) ? '-' : c->plus ? '+' : c->space ? ' ' : 0;
    if (sign) num[--at] = sign;
    pad(out, c, num + at, strlen(num + at), true);
}

static void printf_int(struct buf *out, const struct conv *c, long long v)
{
    char fmt[48];
    int l = snprintf(fmt, sizeof(fmt), "%%%s%s%s%s", c->minus ? "-" : "", c->plus ? "+" : "",
                     c->space ? " " : "", c->zero ? "0" : "");
    if (c->width >= 0) l += snprintf(fmt + l, sizeof(fmt) - (size_t)l, "%d", c->width);
    if (c->prec >= 0) l += snprintf(fmt + l, sizeof(fmt) - (size_t)l, ".%d", c->prec);
    snprintf(fmt + l, sizeof(fmt) - (size_t)l, "lld");
    buf_printf(out, fmt, v);
}

static void printf_string(struct buf *out, const struct conv *c, const char *s, size_t n)
{
    if (c->prec >= 0) { /* precision: at most that many characters */
        size_t runes = 0, i = 0;
        for (; i < n; i++) {
            if (((unsigned char)s[i] & 0xC0) != 0x80 && runes++ == (size_t)c->prec) break;
        }
        n = i;
    }
    pad(out, c, s, n, false);
}

static int parse_conv(const char **pp, struct conv *c, char *err, size_t errlen)
{
    const char *p = *pp;
    *c = (struct conv){.width = -1, .prec = -1};
    for (;; p++) {
        if (*p == '-')
            c->minus = true;
        else if (*p == '+')
            c->plus = true;
        else if (*p == ' ')
            c->space = true;
        else if (*p == '0')
            c->zero = true;
        else
            break;
    }
    if (c->minus) c->zero = false; /* Go: no zero padding on the right */
    if (isdigit((unsigned char)*p)) {
        c->width = 0;
        while (isdigit((unsigned char)*p) && c->width <= GO_MAX_WIDTH)
            c->width = c->width * 10 + *p++ - '0';
    }
    if (*p == '.') {
        p++;
        c->prec = 0;
        while (isdigit((unsigned char)*p) && c->prec <= GO_MAX_WIDTH)
            c->prec = c->prec * 10 + *p++ - '0';
    }
    if (c->width > GO_MAX_WIDTH || c->prec > GO_MAX_WIDTH || isdigit((unsigned char)*p)) {
        snprintf(err, errlen, "printf: width and precision are limited to %d", GO_MAX_WIDTH);
        return -1;
    }
    if (!*p || !strchr("vsdfFeEgG", *p)) {
        snprintf(err, errlen,
                 "printf: unsupported format %%%.*s (drwatch supports the flags -+ 0, a "
                 "width, a precision and the verbs v s d f F e E g G)",
                 (int)(p - *pp + (*p ? 1 : 0)), *pp);
        return -1;
    }
    c->verb = *p;
    if (c->verb == 'v') c->plus = false; /* Go: %+v is plusV (struct field names), no sign */
    *pp = p + 1;
    return 0;
}

int go_sprintf(struct buf *out, const char *fmt, const struct go_arg *args, size_t nargs, char *err,
               size_t errlen)
{
    size_t used = 0;
    for (const char *p = fmt; *p;) {
        const char *pct = strchr(p, '%');
        if (!pct) pct = p + strlen(p);
        if (out) buf_append(out, p, (size_t)(pct - p));
        if (!*pct) break;
        if (pct[1] == '%') {
            if (out) buf_putc(out, '%');
            p = pct + 2;
            continue;
        }
        p = pct + 1;
        struct conv c;
        if (parse_conv(&p, &c, err, errlen) < 0) return -1;
        if (used == nargs) {
            snprintf(err, errlen, "printf: more verbs than arguments (Go prints %%!%c(MISSING))",
                     c.verb);
            return -1;
        }
        const struct go_arg *a = &args[used++];
        bool ok = c.verb == 'v' || (c.verb == 's' && a->t == GO_STRING) ||
                  (c.verb == 'd' && a->t == GO_INT) ||
                  (strchr("fFeEgG", c.verb) && a->t == GO_FLOAT64);
        if (!ok) {
            snprintf(err, errlen,
                     "printf: %%%c does not suit a %s argument (Go prints %%!%c(%s=...)); use %s",
                     c.verb, go_type_name(a->t), c.verb, go_type_name(a->t),
                     a->t == GO_STRING    ? "%s, or humanize first"
                     : a->t == GO_FLOAT64 ? "%f, %e, %g or %v (%.0f for no decimals)"
                                          : "%d or %v");
            return -1;
        }
        if (c.zero && a->t == GO_STRING) {
            snprintf(err, errlen, "printf: the 0 flag does not apply to text");
            return -1;
        }
        if (!out) continue;
        if (a->t == GO_FLOAT64)
            printf_float(out, &c, a->f);
        else if (a->t == GO_INT)
            printf_int(out, &c, a->i);
        else
            printf_string(out, &c, a->s ? a->s : "", a->len);
    }
    if (used != nargs) {
        snprintf(err, errlen, "printf: more arguments than verbs (Go prints %%!(EXTRA ...))");
        return -1;
    }
    return 0;
}
