/* template.c: the alert template subset (see template.h), with Prometheus' humanize functions
 * (template/template.go) written out so that drwatch and Prometheus print the same text. */
#include "template.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metric.h"

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
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v) break;
    }
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
    buf_printf(out, "%.4g%s%s", v, prefix, unit);
}

static void humanize(struct buf *out, double v, double base)
{
    static const char *const si[] = {"k", "M", "G", "T", "P", "E", "Z", "Y"};
    static const char *const iec[] = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
    if (v == 0 || isnan(v) || isinf(v)) {
        buf_printf(out, "%.4g", v);
        return;
    }
    if (fabs(v) < 1 && base == 1000) {
        humanize_small(out, v, "");
        return;
    }
    const char *prefix = "";
    for (size_t i = 0; i < 8; i++) {
        if (fabs(v) < base) break;
        prefix = base == 1000 ? si[i] : iec[i];
        v /= base;
    }
    buf_printf(out, "%.4g%s", v, prefix);
}

static void humanize_duration(struct buf *out, double v)
{
    if (isnan(v) || isinf(v)) {
        buf_printf(out, "%.4g", v);
        return;
    }
    if (v == 0) {
        buf_printf(out, "%.4gs", v);
        return;
    }
    if (fabs(v) < 1) {
        humanize_small(out, v, "s");
        return;
    }
    const char *sign = v < 0 ? "-" : "";
    if (v < 0) v = -v;
    long long d = (long long)v, s = d % 60, m = (d / 60) % 60, h = (d / 3600) % 24,
              days = d / 86400;
    if (days)
        buf_printf(out, "%s%lldd %lldh %lldm %llds", sign, days, h, m, s);
    else if (h)
        buf_printf(out, "%s%lldh %lldm %llds", sign, h, m, s);
    else if (m)
        buf_printf(out, "%s%lldm %llds", sign, m, s);
    else
        buf_printf(out, "%s%.4gs", sign, v);
}

/* ---- parsing an action ---- */

enum arg_kind { ARG_VALUE, ARG_LABEL };

struct action {
    enum arg_kind kind;
    char label[128];
    char fmt[32];     /* printf format, or "" */
    char fns[4][160]; /* pipeline functions, in order */
    size_t nfns;
};

static const char *const known_fns[] = {"humanize",
                                        "humanize1024",
                                        "humanizePercentage",
                                        "humanizeDuration",
                                        "toUpper",
                                        "toLower",
                                        "title",
                                        NULL};

static bool known_fn(const char *f)
{
    for (size_t i = 0; known_fns[i]; i++)
        if (strcmp(known_fns[i], f) == 0) return true;
    return false;
}

static const char *word(const char *p, const char *end, char *out, size_t outlen)
{
    while (p < end && isspace((unsigned char)*p)) p++;
    size_t n = 0;
    if (p < end && *p == '"') {
        out[n++] = *p++;
        while (p < end && *p != '"' && n + 2 < outlen) out[n++] = *p++;
        if (p < end) out[n++] = *p++;
    } else {
        while (p < end && !isspace((unsigned char)*p) && *p != '|' && n + 1 < outlen)
            out[n++] = *p++;
    }
    out[n] = '\0';
    return p;
}

static int parse_arg(const char *w, struct action *a)
{
    if (strcmp(w, "$value") == 0 || strcmp(w, ".Value") == 0) {
        a->kind = ARG_VALUE;
        return 0;
    }
    const char *name = str_has_prefix(w, "$labels.")   ? w + 8
                       : str_has_prefix(w, ".Labels.") ? w + 8
                                                       : NULL;
    if (!name || !label_name_valid(name, strlen(name))) return -1;
    a->kind = ARG_LABEL;
    snprintf(a->label, sizeof(a->label), "%s", name);
    return 0;
}

/* One-conversion printf formats only: %[flags][width][.prec](f|e|g|s|d). */
static bool fmt_ok(const char *f)
{
    const char *p = strchr(f, '%');
    if (!p || strchr(p + 1, '%')) return false;
    p++;
    while (*p && strchr("-+ 0#", *p)) p++;
    while (isdigit((unsigned char)*p)) p++;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) p++;
    }
    return *p && strchr("fegsdv", *p) && p[1] == '\0';
}

static int parse_action(const char *p, const char *end, struct action *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    char w[160];
    p = word(p, end, w, sizeof(w));
    if (strcmp(w, "printf") == 0) {
        char f[160];
        p = word(p, end, f, sizeof(f));
        size_t fl = strlen(f);
        if (fl < 2 || f[0] != '"' || f[fl - 1] != '"') goto bad;
        snprintf(a->fmt, sizeof(a->fmt), "%.*s", (int)(fl - 2), f + 1);
        if (!fmt_ok(a->fmt)) goto bad;
        p = word(p, end, w, sizeof(w));
    } else if (known_fn(w)) {
        snprintf(a->fns[a->nfns++], sizeof(a->fns[0]), "%s", w); /* prefix call: fn $value */
        p = word(p, end, w, sizeof(w));
    }
    if (parse_arg(w, a) < 0) goto bad;
    for (;;) {
        while (p < end && isspace((unsigned char)*p)) p++;
        if (p >= end) return 0;
        if (*p != '|' || a->nfns == 4) goto bad;
        p = word(p + 1, end, w, sizeof(w));
        if (!known_fn(w)) goto bad;
        snprintf(a->fns[a->nfns++], sizeof(a->fns[0]), "%s", w);
    }
bad:
    snprintf(err, errlen,
             "unsupported template action {{%.*s}} (use $labels.NAME, $value, "
             "printf \"%%.2f\" $value, and | humanize, humanize1024, "
             "humanizePercentage, humanizeDuration, toUpper, toLower)",
             (int)(end - p > 60 ? 60 : end - p), p);
    return -1;
}

/* ---- expansion ---- */

static void apply_fn(const char *fn, struct buf *text, double *num, bool *is_num)
{
    struct buf tmp;
    buf_init(&tmp, 0);
    double v = *is_num ? *num : strtod(text->data ? text->data : "0", NULL);
    if (strcmp(fn, "humanize") == 0)
        humanize(&tmp, v, 1000);
    else if (strcmp(fn, "humanize1024") == 0)
        humanize(&tmp, v, 1024);
    else if (strcmp(fn, "humanizePercentage") == 0)
        buf_printf(&tmp, "%.4g%%", v * 100);
    else if (strcmp(fn, "humanizeDuration") == 0)
        humanize_duration(&tmp, v);
    else {
        if (*is_num) {
            char f[40];
            go_format_float(f, sizeof(f), v);
            buf_puts(&tmp, f);
        } else {
            buf_append(&tmp, text->data ? text->data : "", text->len);
        }
        for (size_t i = 0; i < tmp.len; i++) {
            char c = tmp.data[i];
            bool first = i == 0 || !isalnum((unsigned char)tmp.data[i - 1]);
            if (strcmp(fn, "toUpper") == 0 || (strcmp(fn, "title") == 0 && first))
                tmp.data[i] = (char)toupper((unsigned char)c);
            else if (strcmp(fn, "toLower") == 0)
                tmp.data[i] = (char)tolower((unsigned char)c);
        }
    }
    buf_reset(text);
    buf_append(text, tmp.data ? tmp.data : "", tmp.len);
    buf_free(&tmp);
    *is_num = false;
}

static void run_action(const struct action *a, template_label_fn labels, void *arg, double value,
                       struct buf *out)
{
    struct buf text;
    buf_init(&text, 0);
    double num = value;
    bool is_num = a->kind == ARG_VALUE;
    if (!is_num && !labels(arg, a->label, &text)) buf_reset(&text);
    if (a->fmt[0]) {
        char f[256];
        char conv = a->fmt[strlen(a->fmt) - 1];
        if (conv == 's' || conv == 'v') {
            char tmp[40];
            if (is_num) go_format_float(tmp, sizeof(tmp), num);
            char fmt[40];
            snprintf(fmt, sizeof(fmt), "%.*ss", (int)strlen(a->fmt) - 1, a->fmt);
            snprintf(f, sizeof(f), fmt, is_num ? tmp : (text.data ? text.data : ""));
        } else {
            double v = is_num ? num : strtod(text.data ? text.data : "0", NULL);
            if (conv == 'd') {
                char fmt[40];
                snprintf(fmt, sizeof(fmt), "%.*slld", (int)strlen(a->fmt) - 1, a->fmt);
                snprintf(f, sizeof(f), fmt, (long long)v);
            } else {
                snprintf(f, sizeof(f), a->fmt, v);
            }
        }
        buf_reset(&text);
        buf_puts(&text, f);
        is_num = false;
    }
    for (size_t i = 0; i < a->nfns; i++) apply_fn(a->fns[i], &text, &num, &is_num);
    if (is_num) {
        char f[40];
        go_format_float(f, sizeof(f), num);
        buf_puts(out, f);
    } else {
        buf_append(out, text.data ? text.data : "", text.len);
    }
    buf_free(&text);
}

static int walk(const char *tmpl, template_label_fn labels, void *arg, double value,
                struct buf *out, char *err, size_t errlen)
{
    const char *p = tmpl;
    for (;;) {
        const char *open = strstr(p, "{{");
        if (!open) {
            if (out) buf_puts(out, p);
            return 0;
        }
        if (out) buf_append(out, p, (size_t)(open - p));
        const char *close = strstr(open + 2, "}}");
        if (!close) {
            snprintf(err, errlen, "unclosed action: %.40s", open);
            return -1;
        }
        struct action a;
        if (parse_action(open + 2, close, &a, err, errlen) < 0) return -1;
        if (out) run_action(&a, labels, arg, value, out);
        p = close + 2;
    }
}

int template_check(const char *tmpl, char *err, size_t errlen)
{
    return walk(tmpl, NULL, NULL, 0, NULL, err, errlen);
}

int template_expand(const char *tmpl, template_label_fn labels, void *arg, double value,
                    struct buf *out)
{
    char err[256];
    buf_reset(out);
    if (walk(tmpl, labels, arg, value, out, err, sizeof(err)) == 0) return 0;
    buf_reset(out);
    buf_printf(out, "<error expanding template: %s>", err);
    return -1;
}
