/* template.c: the alert template subset (see template.h): Go's template syntax for the actions
 * alert rules use, with Prometheus' functions; the text of values comes from template_format.c
 * (Go's strconv and fmt rules, Prometheus' humanize family), so that drwatch and Prometheus print
 * the same text.
 *
 * An action is lexed and parsed into a pipeline of at most MAX_CMDS commands, then run. Types
 * are static ($value and float literals are float64, integer literals int, labels and string
 * literals string, every function returns a string), so a pipeline is type-checked by running
 * it once with placeholder values (template_check): whatever Go would turn into an error or
 * into "%!f(string=...)" text is refused when the rule loads. The only error left at
 * expansion time is a humanize* function given text that is not a number, as in Prometheus. */
#include "template.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "metric.h"
#include "template_format.h"
#include "textparse.h"
#include "xalloc.h"

#define MAX_CMDS 8
#define MAX_ARGS 8

/* ---- values ---- */

struct val {
    enum go_type t;
    double f;
    long long i;
    struct buf s; /* GO_STRING */
};

#define VAL_INIT                         \
    {                                    \
        .s = BUF_INIT(CAP_TEMPLATE_TEXT) \
    }

static void val_free(struct val *v)
{
    buf_free(&v->s);
}

static void val_set_string(struct val *v, const char *s, size_t n)
{
    v->t = GO_STRING;
    buf_reset(&v->s);
    buf_append(&v->s, s, n);
}

static const char *val_text(const struct val *v)
{
    return v->s.data ? v->s.data : "";
}

/* ---- lexing and parsing an action ---- */

enum fn {
    FN_NONE,
    FN_HUMANIZE,
    FN_HUMANIZE1024,
    FN_HUMANIZE_PERCENTAGE,
    FN_HUMANIZE_DURATION,
    FN_TOUPPER,
    FN_TOLOWER,
    FN_TITLE,
    FN_PRINTF,
};

static const char *const fn_names[] = {
    [FN_HUMANIZE] = "humanize",
    [FN_HUMANIZE1024] = "humanize1024",
    [FN_HUMANIZE_PERCENTAGE] = "humanizePercentage",
    [FN_HUMANIZE_DURATION] = "humanizeDuration",
    [FN_TOUPPER] = "toUpper",
    [FN_TOLOWER] = "toLower",
    [FN_TITLE] = "title",
    [FN_PRINTF] = "printf",
};

enum operand_kind { OPD_VALUE, OPD_LABEL, OPD_STRING, OPD_FLOAT, OPD_INT };

struct operand {
    enum operand_kind kind;
    char *text; /* label name or string literal (unescaped), owned */
    size_t len;
    double f;
    long long i;
};

struct command {
    enum fn fn;
    struct operand args[MAX_ARGS];
    size_t nargs;
};

struct pipeline {
    struct command cmds[MAX_CMDS];
    size_t n;
};

static void pipeline_free(struct pipeline *pl)
{
    for (size_t i = 0; i < pl->n; i++)
        for (size_t k = 0; k < pl->cmds[i].nargs; k++) free(pl->cmds[i].args[k].text);
    pl->n = 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int hexval(char c)
{
    return isdigit((unsigned char)c) ? c - '0'
           : c >= 'a' && c <= 'f'    ? c - 'a' + 10
           : c >= 'A' && c <= 'F'    ? c - 'A' + 10
                                     : -1;
}

static void put_utf8(struct buf *b, unsigned long r)
{
    if (r < 0x80) {
        buf_putc(b, (char)r);
    } else if (r < 0x800) {
        buf_putc(b, (char)(0xC0 | (r >> 6)));
        buf_putc(b, (char)(0x80 | (r & 0x3F)));
    } else if (r < 0x10000) {
        buf_putc(b, (char)(0xE0 | (r >> 12)));
        buf_putc(b, (char)(0x80 | ((r >> 6) & 0x3F)));
        buf_putc(b, (char)(0x80 | (r & 0x3F)));
    } else {
        buf_putc(b, (char)(0xF0 | (r >> 18)));
        buf_putc(b, (char)(0x80 | ((r >> 12) & 0x3F)));
        buf_putc(b, (char)(0x80 | ((r >> 6) & 0x3F)));
        buf_putc(b, (char)(0x80 | (r & 0x3F)));
    }
}

/* A Go interpreted string literal "..." at p (p[0] == '"'), unescaped into b. Returns the end
 * past the closing quote, or NULL. */
static const char *lex_string(const char *p, const char *end, struct buf *b, char *err,
                              size_t errlen)
{
    for (p++; p < end && *p != '"'; p++) {
        if (*p == '\n') break;
        if (*p != '\\') {
            buf_putc(b, *p);
            continue;
        }
        if (++p >= end) break;
        static const char simple[] = "\\\"abfnrtv", value[] = "\\\"\a\b\f\n\r\t\v";
        const char *s = strchr(simple, *p);
        if (*p && s) {
            buf_putc(b, value[s - simple]);
            continue;
        }
        int digits = *p == 'x' ? 2 : *p == 'u' ? 4 : *p == 'U' ? 8 : 0;
        if (digits && end - p > digits) {
            unsigned long r = 0;
            int k = 1;
            for (; k <= digits && hexval(p[k]) >= 0; k++) r = r * 16 + (unsigned long)hexval(p[k]);
            if (k > digits && (digits == 2 || (r <= 0x10FFFF && (r < 0xD800 || r > 0xDFFF)))) {
                if (digits == 2)
                    buf_putc(b, (char)r);
                else
                    put_utf8(b, r);
                p += digits;
                continue;
            }
        }
        if (*p >= '0' && *p <= '7' && end - p > 2 && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' &&
            p[2] <= '7' && *p <= '3') {
            buf_putc(b, (char)((*p - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0')));
            p += 2;
            continue;
        }
        snprintf(err, errlen, "unknown escape sequence \\%c in a string", *p);
        return NULL;
    }
    if (p >= end || *p != '"') {
        snprintf(err, errlen, "unterminated string");
        return NULL;
    }
    return p + 1;
}

/* A number as Go templates write it: [+-]digits[.digits][e[+-]digits]; no hex, no '_'. */
static int parse_number(const char *s, size_t n, struct operand *o)
{
    char tmp[64];
    if (n == 0 || n >= sizeof(tmp)) return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    size_t i = tmp[0] == '+' || tmp[0] == '-';
    bool digit = false, is_float = false;
    while (isdigit((unsigned char)tmp[i])) i++, digit = true;
    if (tmp[i] == '.') {
        is_float = true;
        for (i++; isdigit((unsigned char)tmp[i]); i++) digit = true;
    }
    if (!digit) return -1;
    if (tmp[i] == 'e' || tmp[i] == 'E') {
        is_float = true;
        i++;
        if (tmp[i] == '+' || tmp[i] == '-') i++;
        if (!isdigit((unsigned char)tmp[i])) return -1;
        while (isdigit((unsigned char)tmp[i])) i++;
    }
    if (tmp[i] != '\0') return -1;
    char *endp;
    if (!is_float) {
        errno = 0;
        o->i = strtoll(tmp, &endp, 10);
        if (errno) return -1;
        o->kind = OPD_INT;
        return 0;
    }
    if (textparse_float(tmp, n, &o->f) < 0) return -1;
    o->kind = OPD_FLOAT;
    return 0;
}

static const char *const keywords[] = {"if",     "else",     "end",   "range", "with",
                                       "define", "template", "block", "break", "continue",
                                       "nil",    "true",     "false", NULL};

static enum fn find_fn(const char *w, size_t n)
{
    for (size_t i = 1; i < ARRAY_LEN(fn_names); i++)
        if (strlen(fn_names[i]) == n && memcmp(fn_names[i], w, n) == 0) return (enum fn)i;
    return FN_NONE;
}

/* An operand word: $value, .Value, $labels.NAME or .Labels.NAME. */
static int parse_field(const char *w, size_t n, struct operand *o, char *err, size_t errlen)
{
    if ((n == 6 && memcmp(w, "$value", 6) == 0) || (n == 6 && memcmp(w, ".Value", 6) == 0)) {
        o->kind = OPD_VALUE;
        return 0;
    }
    size_t skip = n > 8 && (memcmp(w, "$labels.", 8) == 0 || memcmp(w, ".Labels.", 8) == 0) ? 8 : 0;
    if (skip && label_name_valid(w + skip, n - skip)) {
        o->kind = OPD_LABEL;
        o->text = xstrndup(w + skip, n - skip);
        o->len = n - skip;
        return 0;
    }
    snprintf(err, errlen, "unknown operand %.*s", (int)(n > 60 ? 60 : n), w);
    return -1;
}

/* One token of the action in [*pp, end) into o or *fn. Returns 1 for an operand, 2 for a
 * function name, 3 for '|', 0 at the end, -1 on error. */
static int next_token(const char **pp, const char *end, struct operand *o, enum fn *fn, char *err,
                      size_t errlen)
{
    const char *p = *pp;
    while (p < end && is_space(*p)) p++;
    *pp = p;
    if (p >= end) return 0;
    memset(o, 0, sizeof(*o));
    if (*p == '|') {
        *pp = p + 1;
        return 3;
    }
    if (*p == '"' || *p == '`') {
        struct buf b;
        buf_init(&b, CAP_TEMPLATE_TEXT);
        const char *q;
        if (*p == '"') {
            q = lex_string(p, end, &b, err, errlen);
        } else {
            const char *close = memchr(p + 1, '`', (size_t)(end - p - 1));
            q = close ? close + 1 : NULL;
            if (close) buf_append(&b, p + 1, (size_t)(close - p - 1));
            if (!close) snprintf(err, errlen, "unterminated raw string");
        }
        if (q && buf_error(&b)) {
            snprintf(err, errlen, "a string longer than %zu bytes", b.max);
            q = NULL;
        }
        if (!q) {
            buf_free(&b);
            return -1;
        }
        o->kind = OPD_STRING;
        o->len = b.len;
        o->text = b.data ? buf_steal(&b, NULL) : xstrdup("");
        *pp = q;
        return 1;
    }
    const char *w = p;
    if (isdigit((unsigned char)*p) ||
        ((*p == '+' || *p == '-' || *p == '.') && p + 1 < end && isdigit((unsigned char)p[1]))) {
        for (p++; p < end && (isalnum((unsigned char)*p) || *p == '.' || *p == '_' ||
                              ((*p == '+' || *p == '-') && (p[-1] == 'e' || p[-1] == 'E')));
             p++)
            ;
        if (parse_number(w, (size_t)(p - w), o) < 0) {
            snprintf(err, errlen, "bad number %.*s", (int)(p - w > 40 ? 40 : p - w), w);
            return -1;
        }
        *pp = p;
        return 1;
    }
    if (*p == '$' || *p == '.' || isalpha((unsigned char)*p) || *p == '_') {
        for (p++; p < end && (isalnum((unsigned char)*p) || *p == '_' || *p == '.'); p++)
            ;
        size_t n = (size_t)(p - w);
        *pp = p;
        if ((*fn = find_fn(w, n)) != FN_NONE) return 2;
        for (size_t i = 0; keywords[i]; i++) {
            if (strlen(keywords[i]) == n && memcmp(keywords[i], w, n) == 0) {
                snprintf(err, errlen, "\"%s\" is not supported", keywords[i]);
                return -1;
            }
        }
        if (*w != '$' && *w != '.') {
            snprintf(err, errlen, "unknown function %.*s", (int)(n > 60 ? 60 : n), w);
            return -1;
        }
        return parse_field(w, n, o, err, errlen) < 0 ? -1 : 1;
    }
    snprintf(err, errlen, "unexpected \"%c\"%s", *p,
             *p == '(' || *p == ')'   ? " (parentheses are not supported)"
             : *p == ':' || *p == '=' ? " (variables are not supported)"
                                      : "");
    return -1;
}

static int parse_pipeline(const char *p, const char *end, struct pipeline *pl, char *err,
                          size_t errlen)
{
    memset(pl, 0, sizeof(*pl));
    struct command *cmd = NULL;
    bool want_command = true;
    for (;;) {
        struct operand o;
        enum fn fn = FN_NONE;
        int t = next_token(&p, end, &o, &fn, err, errlen);
        if (t < 0) return -1;
        if (t == 0 || t == 3) {
            if (want_command) {
                snprintf(err, errlen, "missing value for command");
                return -1;
            }
            if (t == 0) return 0;
            want_command = true;
            continue;
        }
        if (want_command) {
            if (pl->n == MAX_CMDS) {
                free(o.text);
                snprintf(err, errlen, "more than %d commands in a pipeline", MAX_CMDS);
                return -1;
            }
            cmd = &pl->cmds[pl->n++];
            want_command = false;
            if (t == 2) {
                cmd->fn = fn;
                continue;
            }
            if (pl->n > 1) {
                free(o.text);
                snprintf(err, errlen, "only functions can follow a |");
                return -1;
            }
        } else if (t == 2) {
            snprintf(err, errlen, "%s as an argument needs parentheses, which are not supported",
                     fn_names[fn]);
            return -1;
        } else if (cmd->fn == FN_NONE) {
            free(o.text);
            snprintf(err, errlen, "an operand is not a function: it takes no arguments");
            return -1;
        }
        if (cmd->nargs == MAX_ARGS) {
            free(o.text);
            snprintf(err, errlen, "more than %d arguments", MAX_ARGS);
            return -1;
        }
        cmd->args[cmd->nargs++] = o;
    }
}

/* ---- running a pipeline ---- */

struct run_ctx {
    template_label_fn labels; /* NULL: only checking */
    void *arg;
    double value;
};

/* Returns 0, or -1 with err when a label's value is over the cap (expanding it as "" would
 * say the label is missing). */
static int operand_value(const struct run_ctx *rc, const struct operand *o, struct val *v,
                         char *err, size_t errlen)
{
    switch (o->kind) {
    case OPD_VALUE:
        v->t = GO_FLOAT64;
        v->f = rc->value;
        break;
    case OPD_LABEL:
        v->t = GO_STRING;
        buf_reset(&v->s);
        if (rc->labels && !rc->labels(rc->arg, o->text, &v->s)) {
            if (buf_error(&v->s)) {
                snprintf(err, errlen, "error calling label %s: longer than %zu bytes", o->text,
                         v->s.max);
                return -1;
            }
            buf_reset(&v->s);
        }
        break;
    case OPD_STRING: val_set_string(v, o->text, o->len); break;
    case OPD_FLOAT:
        v->t = GO_FLOAT64;
        v->f = o->f;
        break;
    case OPD_INT:
        v->t = GO_INT;
        v->i = o->i;
        break;
    }
    return 0;
}

/* Go's convertToFloat for the humanize family: a number, or text strconv.ParseFloat reads. */
static int to_float(const struct run_ctx *rc, const char *fn, const struct val *v, double *out,
                    char *err, size_t errlen)
{
    if (v->t != GO_STRING) {
        *out = v->t == GO_FLOAT64 ? v->f : (double)v->i;
        return 0;
    }
    *out = 0;
    if (!rc->labels) return 0; /* checking: text is only known at expansion */
    const char *s = val_text(v);
    if (textparse_float(s, v->s.len, out) == 0) return 0;
    char *endp;
    double r = strtod(s, &endp);
    bool range = *s && !isspace((unsigned char)*s) && *endp == '\0' && isinf(r);
    snprintf(err, errlen, "error calling %s: strconv.ParseFloat: parsing \"%.100s\": %s", fn, s,
             range ? "value out of range" : "invalid syntax");
    return -1;
}

/* printf(format, args...): the operands as Go's fmt sees them. */
static int call_printf(const struct run_ctx *rc, const struct val *args, size_t nargs,
                       struct buf *out, char *err, size_t errlen)
{
    if (nargs == 0 || args[0].t != GO_STRING) {
        snprintf(err, errlen, "printf needs a format string first");
        return -1;
    }
    struct go_arg ga[MAX_ARGS];
    for (size_t i = 1; i < nargs; i++)
        ga[i - 1] =
            (struct go_arg){args[i].t, args[i].f, args[i].i, val_text(&args[i]), args[i].s.len};
    return go_sprintf(rc->labels ? out : NULL, val_text(&args[0]), ga, nargs - 1, err, errlen);
}

static int call(const struct run_ctx *rc, enum fn fn, struct val *args, size_t nargs,
                struct val *res, char *err, size_t errlen)
{
    struct buf out;
    buf_init(&out, CAP_TEMPLATE_TEXT);
    if (fn == FN_PRINTF) {
        if (call_printf(rc, args, nargs, &out, err, errlen) < 0) {
            buf_free(&out);
            return -1;
        }
    } else if (nargs != 1) {
        snprintf(err, errlen, "wrong number of args for %s: want 1 got %zu", fn_names[fn], nargs);
        return -1;
    } else if (fn >= FN_TOUPPER) {
        if (args[0].t != GO_STRING) {
            snprintf(err, errlen,
                     "%s: wrong type for value; expected string; got %s (format the number with "
                     "humanize or printf first)",
                     fn_names[fn], go_type_name(args[0].t));
            return -1;
        }
        buf_append(&out, val_text(&args[0]), args[0].s.len);
        go_change_case(&out, fn == FN_TOUPPER ? GO_UPPER : fn == FN_TOLOWER ? GO_LOWER : GO_TITLE);
    } else {
        double v;
        if (to_float(rc, fn_names[fn], &args[0], &v, err, errlen) < 0) return -1;
        go_humanize(&out, (enum go_humanize)(fn - FN_HUMANIZE), v);
    }
    if (buf_error(&out)) { /* every append above is checked here */
        snprintf(err, errlen, "error calling %s: the result is longer than %zu bytes", fn_names[fn],
                 out.max);
        buf_free(&out);
        return -1;
    }
    res->t = GO_STRING;
    buf_free(&res->s);
    res->s = out;
    return 0;
}

/* Runs the pipeline; the result is appended to out (NULL: checking only). */
static int run_pipeline(const struct pipeline *pl, const struct run_ctx *rc, struct buf *out,
                        char *err, size_t errlen)
{
    struct val args[MAX_ARGS + 1], piped = VAL_INIT;
    for (size_t i = 0; i < ARRAY_LEN(args); i++) args[i] = (struct val)VAL_INIT;
    int rc_ = 0;
    for (size_t c = 0; c < pl->n && rc_ == 0; c++) {
        const struct command *cmd = &pl->cmds[c];
        if (cmd->fn == FN_NONE) { /* the first command: one operand */
            rc_ = operand_value(rc, &cmd->args[0], &piped, err, errlen);
            continue;
        }
        size_t n = 0;
        for (; n < cmd->nargs && rc_ == 0; n++)
            rc_ = operand_value(rc, &cmd->args[n], &args[n], err, errlen);
        if (rc_) break;
        if (c > 0) { /* the piped value is the last argument */
            struct val tmp = args[n];
            args[n++] = piped;
            piped = tmp;
        }
        rc_ = call(rc, cmd->fn, args, n, &piped, err, errlen);
    }
    if (rc_ == 0 && out) {
        char f[40];
        if (piped.t == GO_FLOAT64) {
            go_format_float(f, sizeof(f), piped.f);
            buf_puts(out, f);
        } else if (piped.t == GO_INT) {
            buf_printf(out, "%lld", piped.i);
        } else {
            buf_append(out, val_text(&piped), piped.s.len);
        }
    }
    for (size_t i = 0; i < ARRAY_LEN(args); i++) val_free(&args[i]);
    val_free(&piped);
    return rc_;
}

/* ---- the template: text and actions ---- */

/* Finds the end of the action that starts at p (after "{{" and a left trim marker): *close
 * points at the "}}" (or at the " -}}" of a right trim marker, then *trim is set). Strings
 * may hold "}}". */
static int find_close(const char *p, const char **content_end, const char **after, bool *trim,
                      char *err, size_t errlen)
{
    *trim = false;
    if (strncmp(p, "/*", 2) == 0) { /* a Go template comment, between slash-star and star-slash */
        const char *e = strstr(p + 2, "*/");
        if (!e) {
            snprintf(err, errlen, "unclosed comment");
            return -1;
        }
        e += 2;
        if (is_space(e[0]) && e[1] == '-' && strncmp(e + 2, "}}", 2) == 0) {
            *trim = true;
            *content_end = e;
            *after = e + 4;
            return 0;
        }
        if (strncmp(e, "}}", 2) != 0) {
            snprintf(err, errlen, "comment ends before closing delimiter");
            return -1;
        }
        *content_end = e;
        *after = e + 2;
        return 0;
    }
    for (const char *q = p; *q; q++) {
        if (*q == '"') {
            for (q++; *q && *q != '"' && *q != '\n'; q++)
                if (*q == '\\' && q[1]) q++;
            if (*q != '"') break;
        } else if (*q == '`') {
            q = strchr(q + 1, '`');
            if (!q) break;
        } else if (is_space(*q) && q[1] == '-' && strncmp(q + 2, "}}", 2) == 0) {
            *trim = true;
            *content_end = q;
            *after = q + 4;
            return 0;
        } else if (q[0] == '}' && q[1] == '}') {
            *content_end = q;
            *after = q + 2;
            return 0;
        }
    }
    snprintf(err, errlen, "unclosed action");
    return -1;
}

static void excerpt(char *err, size_t errlen, const char *reason, const char *a, size_t n)
{
    snprintf(err, errlen,
             "unsupported template action {{%.*s%s}}: %s (drwatch supports $labels.NAME, "
             "$value, literals, printf, humanize*, toUpper, toLower, title and |)",
             (int)(n > 40 ? 40 : n), a, n > 40 ? "..." : "", reason);
}

static int walk(const char *tmpl, const struct run_ctx *rc, struct buf *out, char *err,
                size_t errlen)
{
    const char *p = tmpl;
    bool trim_next = false;
    for (;;) {
        const char *open = strstr(p, "{{");
        const char *text_end = open ? open : p + strlen(p);
        bool trim_left = open && open[2] == '-' && is_space(open[3]);
        const char *ts = p, *te = text_end;
        if (trim_next)
            while (ts < te && is_space(*ts)) ts++;
        if (trim_left)
            while (te > ts && is_space(te[-1])) te--;
        if (out) buf_append(out, ts, (size_t)(te - ts));
        if (out && buf_error(out)) { /* the appends of this walk are checked here */
            snprintf(err, errlen, "the expansion is longer than %zu bytes", out->max);
            return -1;
        }
        if (!open) return 0;
        const char *body = open + (trim_left ? 4 : 2), *content_end, *after;
        if (find_close(body, &content_end, &after, &trim_next, err, errlen) < 0) {
            char why[80];
            snprintf(why, sizeof(why), "%s", err);
            excerpt(err, errlen, why, body, strlen(body));
            return -1;
        }
        if (strncmp(body, "/*", 2) != 0) {
            struct pipeline pl;
            char why[200];
            int rc_ = parse_pipeline(body, content_end, &pl, why, sizeof(why));
            if (rc_ == 0) rc_ = run_pipeline(&pl, rc, out, why, sizeof(why));
            pipeline_free(&pl);
            if (rc_ < 0) {
                if (rc->labels && strncmp(why, "error calling ", 14) == 0)
                    snprintf(err, errlen, "%s", why); /* an expansion error, as Prometheus' */
                else
                    excerpt(err, errlen, why, body, (size_t)(content_end - body));
                return -1;
            }
        }
        p = after;
    }
}

int template_check(const char *tmpl, char *err, size_t errlen)
{
    struct run_ctx rc = {0};
    return walk(tmpl, &rc, NULL, err, errlen);
}

static bool no_labels(void *arg, const char *name, struct buf *value)
{
    (void)arg, (void)name, (void)value;
    return false;
}

int template_expand(const char *tmpl, template_label_fn labels, void *arg, double value,
                    struct buf *out)
{
    char err[512];
    struct run_ctx rc = {labels ? labels : no_labels, arg, value};
    buf_reset(out);
    if (walk(tmpl, &rc, out, err, sizeof(err)) == 0) return 0;
    buf_reset(out);
    buf_printf(out, "<error expanding template: %s>", err);
    return -1;
}
