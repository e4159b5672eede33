/* selector.c: label matching over canonical label text and family lookup in a snapshot (see
 * selector.h). Equality compares escaped bytes, so the common case needs no unescaping.
 * Regexes are Prometheus' (RE2 syntax), compiled by promregex.c. Core: the rules read snapshots
 * with it, switchover reads its observations with it, and /federate will select with it. */
#include "selector.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    struct matcher m = {.name = xstrdup(label), .op = op, .value = xstrdup(value)};
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

static bool match_one(const struct matcher *m, const char *labels, size_t len)
{
    size_t vl = 0;
    const char *v = labels_find(labels, len, m->name, &vl);
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
    buf_init(&b, CAP_SELECTOR_TEXT);
    buf_puts(&b, s->name);
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
