/* matcher.c: Alertmanager-style label matchers over canonical label text (see matcher.h).
 * Uses the registry's label walker and the text parser's unescape; nothing else. */
#include "matcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "textparse.h"
#include "util.h"

/* glibc's regcomp builds its automaton by copying repeated parts: a quantifier on a
 * quantifier ("a++++") or a large bound ("a{999}") makes it take gigabytes. RE2, which
 * Alertmanager uses, has no such case; here such patterns (which never say anything a single
 * quantifier cannot) are refused, and bounds are capped. */
#define REGEX_MAX_LEN   1024
#define REGEX_MAX_BOUND 100

/* Skips a bracket expression starting at p ('['); returns its closing ']' or NULL. */
static const char *skip_bracket(const char *p)
{
    p++;
    if (*p == '^') p++;
    if (*p == ']') p++; /* a ']' first is literal */
    for (; *p && *p != ']'; p++) {
        if (*p != '[' || (p[1] != ':' && p[1] != '.' && p[1] != '=')) continue;
        char close = p[1]; /* [:alpha:], [.x.], [=x=] */
        for (p += 2; *p && !(p[0] == close && p[1] == ']'); p++) {
        }
        if (!*p) return NULL;
        p++;
    }
    return *p ? p : NULL;
}

static const char *regex_shape(const char *re)
{
    if (strlen(re) > REGEX_MAX_LEN) return "longer than 1024 bytes";
    bool after_quant = false;
    for (const char *p = re; *p; p++) {
        bool quant = false;
        if (*p == '\\') {
            if (p[1]) p++;
        } else if (*p == '[') {
            p = skip_bracket(p);
            if (!p) return NULL; /* unbalanced: regcomp says so */
        } else if (*p == '*' || *p == '+' || *p == '?') {
            quant = true;
        } else if (*p == '{' && p[1] >= '0' && p[1] <= '9') {
            quant = true;
            for (p++; *p && *p != '}'; p++) {
                if (*p < '0' || *p > '9') continue;
                char *end;
                if (strtol(p, &end, 10) > REGEX_MAX_BOUND) return "a repetition bound above 100";
                p = end - 1;
            }
            if (!*p) return NULL;
        }
        if (quant && after_quant) return "a quantifier on a quantifier (such as a++ or a*{2})";
        after_quant = quant;
    }
    return NULL;
}

int am_matchers_add(struct am_matchers *m, const char *name, enum am_match_op op, const char *value,
                    char *err, size_t errlen)
{
    if (!label_name_valid(name, strlen(name))) {
        snprintf(err, errlen, "invalid label name \"%.100s\" in a matcher", name);
        return -1;
    }
    const char *shape = (op == AM_MATCH_RE || op == AM_MATCH_NRE) ? regex_shape(value) : NULL;
    if (shape) {
        snprintf(err, errlen, "bad regex \"%.100s\" for label %s: %s", value, name, shape);
        return -1;
    }
    struct am_matcher one = {.name = xstrdup(name), .op = op, .value = xstrdup(value)};
    if (op == AM_MATCH_RE || op == AM_MATCH_NRE) {
        char *anchored = xasprintf("^(%s)$", value);
        int rc = regcomp(&one.re, anchored, REG_EXTENDED | REG_NOSUB);
        free(anchored);
        if (rc != 0) {
            char msg[128];
            regerror(rc, &one.re, msg, sizeof(msg));
            snprintf(err, errlen, "bad regex \"%.100s\" for label %s: %s", value, name, msg);
            free(one.name);
            free(one.value);
            return -1;
        }
    }
    m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
    m->v[m->n++] = one;
    return 0;
}

int am_matchers_add_spec(struct am_matchers *m, const char *name, const char *spec, char *err,
                         size_t errlen)
{
    enum am_match_op op = AM_MATCH_EQ;
    const char *value = spec;
    if (str_has_prefix(spec, "=~"))
        op = AM_MATCH_RE, value = spec + 2;
    else if (str_has_prefix(spec, "!~"))
        op = AM_MATCH_NRE, value = spec + 2;
    else if (str_has_prefix(spec, "!="))
        op = AM_MATCH_NEQ, value = spec + 2;
    else if (spec[0] == '=')
        value = spec + 1;
    return am_matchers_add(m, name, op, value, err, errlen);
}

void am_matchers_free(struct am_matchers *m)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->v[i].op == AM_MATCH_RE || m->v[i].op == AM_MATCH_NRE) regfree(&m->v[i].re);
        free(m->v[i].name);
        free(m->v[i].value);
    }
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

static bool match_value(const struct am_matcher *m, const char *v)
{
    switch (m->op) {
    case AM_MATCH_EQ: return strcmp(v, m->value) == 0;
    case AM_MATCH_NEQ: return strcmp(v, m->value) != 0;
    case AM_MATCH_RE: return regexec(&m->re, v, 0, NULL, 0) == 0;
    case AM_MATCH_NRE: return regexec(&m->re, v, 0, NULL, 0) != 0;
    }
    return false;
}

bool am_matcher_matches_empty(const struct am_matcher *m)
{
    return match_value(m, "");
}

/* The unescaped value of `name` in labels, in small or a malloc'd buffer; "" when absent. */
static char *label_value(const char *labels, size_t len, const char *name, char *small,
                         size_t smallsz)
{
    size_t pos = 0, nl, vl, want = strlen(name);
    const char *n, *v;
    while (labels_next(labels, len, &pos, &n, &nl, &v, &vl)) {
        if (nl != want || memcmp(n, name, nl) != 0) continue;
        char *out = vl < smallsz ? small : xmalloc(vl + 1);
        out[textparse_unescape(out, v, vl)] = '\0';
        return out;
    }
    small[0] = '\0';
    return small;
}

bool am_matchers_match(const struct am_matchers *m, const char *labels)
{
    size_t len = strlen(labels);
    for (size_t i = 0; i < m->n; i++) {
        char small[256];
        char *v = label_value(labels, len, m->v[i].name, small, sizeof(small));
        bool hit = match_value(&m->v[i], v);
        if (v != small) free(v);
        if (!hit) return false;
    }
    return true;
}

char *am_matchers_text(const struct am_matchers *m)
{
    static const char *const ops[] = {"=", "!=", "=~", "!~"};
    struct buf b;
    buf_init(&b, 0);
    buf_putc(&b, '{');
    for (size_t i = 0; i < m->n; i++) {
        buf_printf(&b, "%s%s%s\"", i ? ", " : "", m->v[i].name, ops[m->v[i].op]);
        label_value_escape(&b, m->v[i].value, strlen(m->v[i].value));
        buf_putc(&b, '"');
    }
    buf_putc(&b, '}');
    return buf_steal(&b, NULL);
}
