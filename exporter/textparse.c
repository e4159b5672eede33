/* textparse.c: the Prometheus text format 0.0.4 parser (see textparse.h).
 *
 * One pass, line by line, no allocation per sample: labels are slices of the input and the
 * only table is the set of family names seen, needed to know which family a `_bucket`, `_sum`
 * or `_count` sample belongs to and whether TYPE came before the samples. Error texts follow
 * prometheus/common expfmt/text_parse.go so that users can search for them. */
#include "textparse.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

enum { FAM_HELP = 1, FAM_TYPE = 2, FAM_SAMPLES = 4 };

struct fam {
    const char *name; /* NULL marks an empty slot */
    size_t len;
    uint64_t hash;
    enum metric_type type;
    unsigned flags;
};

struct parser {
    const char *line_start;
    unsigned line;
    const struct textparse_handler *h;
    void *ctx;
    bool strict;
    size_t max_labels;
    struct textparse_error *err;
    struct textparse_stats *stats;
    struct fam *fams;
    size_t fam_cap, fam_n;
    struct tp_label *labels;
    /* The last sample name and how it resolved: consecutive samples usually share it. */
    const char *last_name;
    size_t last_len;
    struct fam *last_fam;
    enum metric_suffix last_suffix;
};

void textparse_error_set(struct textparse_error *err, unsigned line, const char *fmt, ...)
{
    if (!err) return;
    err->line = line;
    err->col = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

static int fail(struct parser *ps, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *ps, const char *at, const char *fmt, ...)
{
    if (ps->err) {
        ps->err->line = ps->line;
        ps->err->col = at ? (unsigned)(at - ps->line_start) + 1 : 0;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
        va_end(ap);
    }
    return TEXTPARSE_ESYNTAX;
}

/* ---- family table (open addressing, keys point into the input) ---- */

static struct fam *fam_find(struct parser *ps, const char *name, size_t len, uint64_t hash)
{
    if (!ps->fam_cap) return NULL;
    size_t mask = ps->fam_cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        struct fam *f = &ps->fams[i];
        if (!f->name) return NULL;
        if (f->hash == hash && f->len == len && memcmp(f->name, name, len) == 0) return f;
    }
}

static struct fam *fam_add(struct parser *ps, const char *name, size_t len, uint64_t hash)
{
    if ((ps->fam_n + 1) * 2 > ps->fam_cap) {
        size_t cap = ps->fam_cap ? ps->fam_cap * 2 : 64;
        struct fam *slots = xcalloc(cap, sizeof(*slots));
        for (size_t i = 0; i < ps->fam_cap; i++) {
            struct fam *f = &ps->fams[i];
            if (!f->name) continue;
            size_t j = f->hash & (cap - 1);
            while (slots[j].name) j = (j + 1) & (cap - 1);
            slots[j] = *f;
        }
        free(ps->fams);
        ps->fams = slots;
        ps->fam_cap = cap;
        ps->last_fam = NULL; /* pointers into the old table are gone */
    }
    size_t mask = ps->fam_cap - 1, i = hash & mask;
    while (ps->fams[i].name) i = (i + 1) & mask;
    struct fam *f = &ps->fams[i];
    *f = (struct fam){.name = name, .len = len, .hash = hash, .type = METRIC_UNTYPED};
    ps->fam_n++;
    if (ps->stats) ps->stats->families++;
    return f;
}

static struct fam *fam_get(struct parser *ps, const char *name, size_t len)
{
    uint64_t hash = hash_bytes(name, len, 0);
    struct fam *f = fam_find(ps, name, len, hash);
    return f ? f : fam_add(ps, name, len, hash);
}

/* ---- lexical helpers ---- */

static const char *skip_blank(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    return p;
}

static const char *token_end(const char *p, const char *end)
{
    while (p < end && *p != ' ' && *p != '\t') p++;
    return p;
}

static bool is_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == ':';
}

static bool has_high_bytes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) return true;
    return false;
}

int textparse_float(const char *s, size_t n, double *out)
{
    if (n == 0 || n > 64) return -1;
    /* Fast path: an optionally signed integer of up to 15 digits is exact as a double. */
    size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (i < n && n - i <= 15) {
        int64_t v = 0;
        size_t k = i;
        while (k < n && s[k] >= '0' && s[k] <= '9') v = v * 10 + (s[k++] - '0');
        if (k == n && k > i) {
            *out = s[0] == '-' ? -(double)v : (double)v;
            return 0;
        }
    }
    char tmp[65];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    const char *word = tmp + i;
    if (strcasecmp(word, "inf") == 0 || strcasecmp(word, "infinity") == 0) {
        *out = tmp[0] == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    if (i == 0 && strcasecmp(word, "nan") == 0) { /* Go refuses a signed NaN */
        *out = NAN;
        return 0;
    }
    /* strtod knows more than Go's ParseFloat: refuse "nan(...)", "infinit", hex without a
     * binary exponent, and leading blanks, which Go refuses too. */
    for (size_t k = i; k < n; k++) {
        char c = tmp[k];
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' ||
              c == '+' || c == 'x' || c == 'X' || c == 'p' || c == 'P' ||
              (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return -1;
    }
    bool hex = n - i > 2 && word[0] == '0' && (word[1] == 'x' || word[1] == 'X');
    if (hex ? !strpbrk(word, "pP") : strpbrk(word, "xXpPabcdfABCDF") != NULL) return -1;
    char *endp;
    errno = 0;
    double v = strtod(tmp, &endp);
    if (endp != tmp + n || endp == tmp) return -1;
    if (errno == ERANGE && isinf(v)) return -1; /* Go: "value out of range" */
    *out = v;
    return 0;
}

size_t textparse_unescape(char *dst, const char *src, size_t src_len)
{
    size_t n = 0;
    for (size_t i = 0; i < src_len; i++) {
        if (src[i] == '\\' && i + 1 < src_len) {
            char c = src[++i];
            dst[n++] = c == 'n' ? '\n' : c;
        } else {
            dst[n++] = src[i];
        }
    }
    dst[n] = '\0';
    return n;
}

/* ---- metadata lines ---- */

static int parse_help(struct parser *ps, const char *p, const char *end)
{
    const char *name = p, *ne = token_end(p, end);
    if (ne == name) return fail(ps, p, "HELP line without a metric name");
    if (!metric_name_valid(name, (size_t)(ne - name)))
        return fail(ps, name, "invalid metric name \"%.*s\" in HELP line", (int)(ne - name),
                    name);
    const char *text = skip_blank(ne, end);
    for (const char *q = text; q < end; q++) {
        if (*q != '\\') continue;
        if (q + 1 >= end || (q[1] != '\\' && q[1] != 'n'))
            return fail(ps, q, "invalid escape sequence '\\%.*s' in HELP text", q + 1 < end,
                        q + 1);
        q++;
    }
    size_t tlen = (size_t)(end - text);
    if (has_high_bytes(text, tlen) && !utf8_valid(text, tlen))
        return fail(ps, text, "HELP text for %.*s is not valid UTF-8", (int)(ne - name), name);
    struct fam *f = fam_get(ps, name, (size_t)(ne - name));
    if (f->flags & FAM_HELP) {
        if (ps->strict)
            return fail(ps, name, "second HELP line for metric name \"%.*s\"", (int)f->len,
                        f->name);
        if (ps->stats) ps->stats->repeated_metadata++;
        return 0;
    }
    f->flags |= FAM_HELP;
    return ps->h->help ? ps->h->help(ps->ctx, name, f->len, text, tlen, ps->line) : 0;
}

static int parse_type_word(const char *p, size_t n, enum metric_type *t)
{
    static const struct {
        const char *word;
        enum metric_type type;
    } words[] = {{"counter", METRIC_COUNTER},
                 {"gauge", METRIC_GAUGE},
                 {"histogram", METRIC_HISTOGRAM},
                 {"summary", METRIC_SUMMARY},
                 {"untyped", METRIC_UNTYPED}};
    for (size_t i = 0; i < ARRAY_LEN(words); i++) {
        if (strlen(words[i].word) == n && strncasecmp(words[i].word, p, n) == 0) {
            *t = words[i].type;
            return 0;
        }
    }
    return -1;
}

static int parse_type(struct parser *ps, const char *p, const char *end)
{
    const char *name = p, *ne = token_end(p, end);
    if (ne == name) return fail(ps, p, "TYPE line without a metric name");
    size_t nlen = (size_t)(ne - name);
    if (!metric_name_valid(name, nlen))
        return fail(ps, name, "invalid metric name \"%.*s\" in TYPE line", (int)nlen, name);
    const char *w = skip_blank(ne, end), *we = token_end(w, end);
    enum metric_type t;
    if (w == we) return fail(ps, w, "TYPE line for \"%.*s\" without a type", (int)nlen, name);
    if (parse_type_word(w, (size_t)(we - w), &t) < 0)
        return fail(ps, w, "unknown metric type \"%.*s\"", (int)(we - w), w);
    if (skip_blank(we, end) != end)
        return fail(ps, skip_blank(we, end), "unexpected text after the type in TYPE line");
    struct fam *f = fam_get(ps, name, nlen);
    if (f->flags & FAM_TYPE) {
        if (ps->strict || f->type != t)
            return fail(ps, name, "second TYPE line for metric name \"%.*s\"", (int)nlen, name);
        if (ps->stats) ps->stats->repeated_metadata++;
        return 0;
    }
    if (f->flags & FAM_SAMPLES)
        return fail(ps, name, "TYPE line for \"%.*s\" reported after its samples", (int)nlen,
                    name);
    f->type = t;
    f->flags |= FAM_TYPE;
    ps->last_name = NULL; /* a cached resolution may depend on this family's type */
    return ps->h->type ? ps->h->type(ps->ctx, name, nlen, t, ps->line) : 0;
}

static int parse_comment(struct parser *ps, const char *p, const char *end)
{
    p = skip_blank(p + 1, end);
    const char *we = token_end(p, end);
    size_t wl = (size_t)(we - p);
    if (wl == 4 && memcmp(p, "HELP", 4) == 0) return parse_help(ps, skip_blank(we, end), end);
    if (wl == 4 && memcmp(p, "TYPE", 4) == 0) return parse_type(ps, skip_blank(we, end), end);
    return 0; /* any other comment is ignored (Patroni's "# Values:" line relies on it) */
}

/* ---- sample lines ---- */

static int parse_label_value(struct parser *ps, const char **pp, const char *end,
                             struct tp_label *l)
{
    const char *p = *pp;
    if (p >= end || *p != '"')
        return fail(ps, p, "expected '\"' to start the value of label \"%.*s\"",
                    (int)l->name_len, l->name);
    const char *v = ++p;
    bool high = false;
    for (; p < end && *p != '"'; p++) {
        if ((unsigned char)*p >= 0x80) high = true;
        if (*p != '\\') continue;
        if (p + 1 >= end || (p[1] != '\\' && p[1] != '"' && p[1] != 'n'))
            return fail(ps, p, "invalid escape sequence '\\%.*s' in label value", p + 1 < end,
                        p + 1);
        p++;
    }
    if (p >= end)
        return fail(ps, p, "unexpected end of line in the value of label \"%.*s\"",
                    (int)l->name_len, l->name);
    l->value = v;
    l->value_len = (size_t)(p - v);
    if (high && !utf8_valid(v, l->value_len))
        return fail(ps, v, "invalid label value for \"%.*s\": not valid UTF-8",
                    (int)l->name_len, l->name);
    *pp = p + 1;
    return 0;
}

static int parse_labels(struct parser *ps, const char **pp, const char *end, size_t *nout)
{
    const char *p = *pp + 1; /* past '{' */
    size_t n = 0;
    for (;;) {
        p = skip_blank(p, end);
        if (p < end && *p == '}') break;
        const char *ln = p;
        while (p < end && is_name_char((unsigned char)*p)) p++;
        size_t llen = (size_t)(p - ln);
        if (!label_name_valid(ln, llen)) {
            if (p >= end) return fail(ps, p, "unexpected end of line in label set");
            return fail(ps, ln, "invalid label name \"%.*s\"", (int)(llen ? llen : 1), ln);
        }
        if (llen == 8 && memcmp(ln, "__name__", 8) == 0)
            return fail(ps, ln, "label name \"__name__\" is reserved");
        for (size_t i = 0; i < n; i++)
            if (ps->labels[i].name_len == llen && memcmp(ps->labels[i].name, ln, llen) == 0)
                return fail(ps, ln, "duplicate label names: \"%.*s\"", (int)llen, ln);
        if (n == ps->max_labels)
            return fail(ps, ln, "too many labels (more than %zu)", ps->max_labels);
        struct tp_label *l = &ps->labels[n];
        l->name = ln;
        l->name_len = llen;
        p = skip_blank(p, end);
        if (p >= end || *p != '=')
            return fail(ps, p, "expected '=' after label name \"%.*s\"", (int)llen, ln);
        p = skip_blank(p + 1, end);
        int rc = parse_label_value(ps, &p, end, l);
        if (rc) return rc;
        n++;
        p = skip_blank(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}') break;
        return fail(ps, p, "expected ',' or '}' after a label value");
    }
    *pp = p + 1;
    *nout = n;
    return 0;
}

static const struct tp_label *find_label(const struct tp_sample *s, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < s->nlabels; i++)
        if (s->labels[i].name_len == n && memcmp(s->labels[i].name, name, n) == 0)
            return &s->labels[i];
    return NULL;
}

/* Decides which family a sample name belongs to: its own, or a histogram or summary that
 * it extends with _bucket, _sum or _count. */
static void resolve_family(struct parser *ps, const char *name, size_t len, struct fam **fam,
                           enum metric_suffix *suffix)
{
    if (ps->last_name && ps->last_fam && ps->last_len == len &&
        memcmp(ps->last_name, name, len) == 0) {
        *fam = ps->last_fam;
        *suffix = ps->last_suffix;
        return;
    }
    uint64_t hash = hash_bytes(name, len, 0);
    struct fam *f = fam_find(ps, name, len, hash);
    *suffix = SUFFIX_NONE;
    if (!f || f->type == METRIC_UNTYPED) {
        static const enum metric_suffix sfx[] = {SUFFIX_BUCKET, SUFFIX_SUM, SUFFIX_COUNT};
        for (size_t i = 0; i < ARRAY_LEN(sfx); i++) {
            const char *t = metric_suffix_text(sfx[i]);
            size_t tl = strlen(t);
            if (len <= tl || memcmp(name + len - tl, t, tl) != 0) continue;
            struct fam *g = fam_find(ps, name, len - tl, hash_bytes(name, len - tl, 0));
            if (g && (g->type == METRIC_HISTOGRAM ||
                      (g->type == METRIC_SUMMARY && sfx[i] != SUFFIX_BUCKET))) {
                f = g;
                *suffix = sfx[i];
            }
            break;
        }
    }
    if (!f) f = fam_add(ps, name, len, hash);
    *fam = f;
    ps->last_name = name;
    ps->last_len = len;
    ps->last_fam = f;
    ps->last_suffix = *suffix;
}

static int check_typed_sample(struct parser *ps, const struct tp_sample *s, const char *at)
{
    if (s->family_type == METRIC_HISTOGRAM) {
        if (s->suffix == SUFFIX_NONE)
            return fail(ps, at, "histogram \"%.*s\" sample needs a _bucket, _sum or _count name",
                        (int)s->family_len, s->name);
        if (s->suffix == SUFFIX_BUCKET) {
            const struct tp_label *le = find_label(s, "le");
            double v;
            if (!le)
                return fail(ps, at, "histogram bucket \"%.*s\" without an 'le' label",
                            (int)s->name_len, s->name);
            if (textparse_float(le->value, le->value_len, &v) < 0)
                return fail(ps, le->value, "expected float as value for 'le' label, got \"%.*s\"",
                            (int)le->value_len, le->value);
        }
        if (s->suffix != SUFFIX_SUM && s->value < 0)
            return fail(ps, at, "negative bucket population for histogram \"%.*s\"",
                        (int)s->family_len, s->name);
    } else if (s->family_type == METRIC_SUMMARY && s->suffix == SUFFIX_NONE) {
        const struct tp_label *q = find_label(s, "quantile");
        double v;
        if (!q)
            return fail(ps, at, "summary \"%.*s\" sample without a 'quantile' label",
                        (int)s->name_len, s->name);
        if (textparse_float(q->value, q->value_len, &v) < 0)
            return fail(ps, q->value, "expected float as value for 'quantile' label, got \"%.*s\"",
                        (int)q->value_len, q->value);
    }
    return 0;
}

static int parse_timestamp(struct parser *ps, const char *p, const char *e, int64_t *out)
{
    const char *q = p;
    bool neg = q < e && *q == '-';
    if (q < e && (*q == '-' || *q == '+')) q++;
    if (q == e) return fail(ps, p, "expected integer as timestamp, got \"%.*s\"", (int)(e - p), p);
    uint64_t v = 0;
    for (; q < e; q++) {
        if (*q < '0' || *q > '9' || v > (uint64_t)INT64_MAX / 10)
            return fail(ps, p, "expected integer as timestamp, got \"%.*s\"", (int)(e - p), p);
        v = v * 10 + (uint64_t)(*q - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return fail(ps, p, "timestamp \"%.*s\" out of range", (int)(e - p), p);
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

static int parse_sample(struct parser *ps, const char *p, const char *end)
{
    struct tp_sample s = {.name = p, .labels = ps->labels, .line = ps->line};
    while (p < end && is_name_char((unsigned char)*p)) p++;
    s.name_len = (size_t)(p - s.name);
    if (!metric_name_valid(s.name, s.name_len) || (p < end && *p != ' ' && *p != '\t' &&
                                                   *p != '{'))
        return fail(ps, s.name, "invalid metric name \"%.*s\"", (int)(token_end(s.name, end) -
                                                                      s.name), s.name);
    const char *after = p; /* end of the name, or of the label set */
    p = skip_blank(p, end);
    if (p < end && *p == '{') {
        int rc = parse_labels(ps, &p, end, &s.nlabels);
        if (rc) return rc;
        after = p;
    }
    const char *v = skip_blank(after, end);
    if (v == after && v < end) return fail(ps, v, "expected a blank before the sample value");
    const char *ve = token_end(v, end);
    if (v == ve) return fail(ps, v, "expected a value for \"%.*s\"", (int)s.name_len, s.name);
    if (textparse_float(v, (size_t)(ve - v), &s.value) < 0)
        return fail(ps, v, "expected float as value, got \"%.*s\"", (int)(ve - v), v);
    const char *t = skip_blank(ve, end);
    if (t < end) {
        const char *te = token_end(t, end);
        int rc = parse_timestamp(ps, t, te, &s.timestamp_ms);
        if (rc) return rc;
        s.has_timestamp = true;
        if (skip_blank(te, end) != end)
            return fail(ps, skip_blank(te, end), "spurious string after timestamp");
    }
    struct fam *f;
    resolve_family(ps, s.name, s.name_len, &f, &s.suffix);
    s.family_len = f->len;
    s.family_type = f->type;
    f->flags |= FAM_SAMPLES;
    int rc = check_typed_sample(ps, &s, s.name);
    if (rc) return rc;
    if (ps->stats) ps->stats->samples++;
    return ps->h->sample ? ps->h->sample(ps->ctx, &s) : 0;
}

int textparse_run(const char *buf, size_t len, const struct textparse_handler *h, void *ctx,
                  const struct textparse_opts *opts, struct textparse_error *err,
                  struct textparse_stats *stats)
{
    struct parser ps = {.h = h, .ctx = ctx, .err = err, .stats = stats};
    ps.strict = opts && opts->strict;
    ps.max_labels = opts && opts->max_labels ? opts->max_labels : 128;
    ps.labels = xmalloc(ps.max_labels * sizeof(*ps.labels));
    if (err) err->msg[0] = '\0';
    const char *p = buf, *end = buf + len;
    const char *zero = len ? memchr(buf, '\0', len) : NULL; /* binary garbage, found in one go */
    int rc = 0;
    while (p < end && rc == 0) {
        ps.line++;
        ps.line_start = p;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            rc = fail(&ps, end, "unexpected end of input stream: the last line has no newline");
            break;
        }
        const char *le = nl;
        if (le > p && le[-1] == '\r') le--; /* tolerate CRLF from hand-edited files */
        const char *q = skip_blank(p, le);
        if (zero && zero < nl) rc = fail(&ps, zero, "NUL byte in input");
        else if (q == le) rc = 0;
        else if (*q == '#') rc = parse_comment(&ps, q, le);
        else rc = parse_sample(&ps, q, le);
        p = nl + 1;
    }
    if (stats) stats->lines = ps.line;
    free(ps.labels);
    free(ps.fams);
    return rc;
}
