/* matcher.c: Alertmanager-style label matchers over canonical label text (see matcher.h).
 * Uses the registry's label walker and the text parser's unescape; nothing else. */
#include "matcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "promregex.h"
#include "registry.h"
#include "strutil.h"
#include "textparse.h"
#include "xalloc.h"

int am_matchers_add(struct am_matchers *m, const char *name, enum am_match_op op, const char *value,
                    char *err, size_t errlen)
{
    if (!label_name_valid(name, strlen(name))) {
        snprintf(err, errlen, "invalid label name \"%.100s\" in a matcher", name);
        return -1;
    }
    struct am_matcher one = {.name = xstrdup(name), .op = op, .value = xstrdup(value)};
    if (op == AM_MATCH_RE || op == AM_MATCH_NRE) {
        char msg[200];
        if (promregex_compile(&one.re, value, msg, sizeof(msg)) < 0) {
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
    buf_init(&b, CAP_SELECTOR_TEXT);
    buf_putc(&b, '{');
    for (size_t i = 0; i < m->n; i++) {
        buf_printf(&b, "%s%s%s\"", i ? ", " : "", m->v[i].name, ops[m->v[i].op]);
        label_value_escape(&b, m->v[i].value, strlen(m->v[i].value));
        buf_putc(&b, '"');
    }
    buf_putc(&b, '}');
    if (buf_error(&b)) { /* the appends above are checked here: a cut text is another key */
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}
