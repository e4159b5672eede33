/* textparse.c: the Prometheus text format 0.0.4 parser (see textparse.h).
 *
 * One pass, line by line, no allocation per sample: labels are slices of the input and the
 * only table is the set of family names seen, needed to know which family a `_bucket`, `_sum`
 * or `_count` sample belongs to and whether TYPE came before the samples. Error texts keep the
 * key phrases of prometheus/common expfmt/text_parse.go so that users can search for them,
 * and add what an operator needs to find the fault: the family, the offending text (quoted,
 * with control and invalid bytes shown as \xNN) and, for repeated metadata, the first line. */
#include "textparse.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "hash.h"
#include "xalloc.h"

enum { FAM_HELP = 1, FAM_TYPE = 2, FAM_SAMPLES = 4 };

#define TYPE_WORDS "counter, gauge, histogram, summary or untyped"

struct fam {
    const char *name; /* NULL marks an empty slot */
    size_t len;
    uint64_t hash;
    enum metric_type type;
    unsigned flags;
    unsigned help_line, type_line, sample_line; /* first of each, for messages */
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
    struct arena names; /* family names, copied: input may come in pieces (textparse_feed) */
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

/* ---- input quoted in messages ---- */

#define SHOW_MAX 40

struct shown {
    char s[SHOW_MAX * 4 + 8];
};

/* Makes n bytes of input fit for an error message: printable ASCII and valid UTF-8 as they
 * are, other bytes as \xNN, cut after SHOW_MAX bytes (at a character boundary) with "...". */
static const char *show(struct shown *b, const char *s, size_t n)
{
    bool utf8 = utf8_valid(s, n);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool cont = utf8 && (c & 0xc0) == 0x80;
        if (i >= SHOW_MAX && !cont) {
            memcpy(b->s + o, "...", 3);
            o += 3;
            break;
        }
        if ((c >= 0x20 && c < 0x7f) || (utf8 && c >= 0x80))
            b->s[o++] = (char)c;
        else
            o += (size_t)snprintf(b->s + o, 5, "\\x%02x", c);
    }
    b->s[o] = '\0';
    return b->s;
}

/* The length of the word at p (up to a blank or the end of the line), for "got ..." texts. */
static size_t word_len(const char *p, const char *end)
{
    const char *q = p;
    while (q < end && *q != ' ' && *q != '\t') q++;
    return (size_t)(q - p);
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
    *f = (struct fam){.name = arena_strndup(&ps->names, name, len),
                      .len = len,
                      .hash = hash,
                      .type = METRIC_UNTYPED};
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
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == ':';
}

static bool has_high_bytes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) return true;
    return false;
}

/* What strtod accepts beyond Go's ParseFloat is refused before it is called: "nan(...)",
 * "infinit", hex without a binary exponent, hex letters in a decimal, and blanks. Underscores
 * and anything else outside this set are refused too. */
/* Decimal digits, point, exponent and signs only. Go's ParseFloat also takes hex floats
 * ("0x1p-2") and digit separators ("1_000"), but prometheus/common's text parser refuses any
 * value holding p, P or _, so Prometheus would fail the scrape: refuse them too. */
static bool float_chars_ok(const char *word, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        char c = word[k];
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+'))
            return false;
    }
    return true;
}

int textparse_float(const char *s, size_t n, double *out)
{
    if (n == 0) return -EINVAL;
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
    const char *word = s + i;
    size_t wn = n - i;
    if ((wn == 3 && strncasecmp(word, "inf", 3) == 0) ||
        (wn == 8 && strncasecmp(word, "infinity", 8) == 0)) {
        *out = s[0] == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    if (i == 0 && n == 3 && strncasecmp(s, "nan", 3) == 0) { /* Go refuses a signed NaN */
        *out = NAN;
        return 0;
    }
    if (!float_chars_ok(word, wn)) return -EINVAL;
    /* strtod needs a terminated string: numbers are short, but Go takes any length. */
    char small[80], *tmp = n < sizeof(small) ? small : xmalloc(n + 1);
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *endp;
    errno = 0;
    double v = strtod(tmp, &endp);
    int rc = 0;
    if (endp != tmp + n || endp == tmp)
        rc = -EINVAL;
    else if (errno == ERANGE && isinf(v))
        rc = -ERANGE; /* Go: "value out of range" */
    if (tmp != small) free(tmp);
    if (rc == 0) *out = v;
    return rc;
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

static int check_help_text(struct parser *ps, const char *name, size_t nlen, const char *text,
                           const char *end)
{
    struct shown a;
    for (const char *q = text; q < end; q++) {
        if (*q != '\\') continue;
        if (q + 1 >= end)
            return fail(ps, q, "HELP text for \"%.*s\" ends with a lone backslash (write \\\\)",
                        (int)nlen, name);
        if (q[1] != '\\' && q[1] != 'n')
            return fail(ps, q,
                        "invalid escape sequence '\\%s' in HELP text for \"%.*s\" (only \\\\ "
                        "and \\n are allowed)",
                        show(&a, q + 1, 1), (int)nlen, name);
        q++;
    }
    size_t tlen = (size_t)(end - text);
    if (has_high_bytes(text, tlen) && !utf8_valid(text, tlen))
        return fail(ps, text, "HELP text for \"%.*s\" is not valid UTF-8", (int)nlen, name);
    return 0;
}

/* The metric name of a HELP or TYPE line; *ne gets its end. */
static int meta_name(struct parser *ps, const char *what, const char *p, const char *end,
                     const char **ne)
{
    struct shown a;
    *ne = token_end(p, end);
    if (*ne == p) return fail(ps, p, "%s line without a metric name", what);
    if (!metric_name_valid(p, (size_t)(*ne - p)))
        return fail(ps, p, "invalid metric name \"%s\" in %s line", show(&a, p, (size_t)(*ne - p)),
                    what);
    return 0;
}

static int parse_help(struct parser *ps, const char *p, const char *end)
{
    const char *name = p, *ne;
    int rc = meta_name(ps, "HELP", p, end, &ne);
    if (rc) return rc;
    size_t nlen = (size_t)(ne - name);
    const char *text = skip_blank(ne, end);
    rc = check_help_text(ps, name, nlen, text, end);
    if (rc) return rc;
    struct fam *f = fam_get(ps, name, nlen);
    if (f->flags & FAM_HELP) {
        /* Tolerant: a repeated HELP is dropped, whatever it says (the first one wins). */
        if (ps->strict)
            return fail(ps, name,
                        "second HELP line for metric name \"%.*s\" (the first is on line %u)",
                        (int)nlen, name, f->help_line);
        if (ps->stats) ps->stats->repeated_metadata++;
        return 0;
    }
    f->flags |= FAM_HELP;
    f->help_line = ps->line;
    return ps->h->help ? ps->h->help(ps->ctx, name, nlen, text, (size_t)(end - text), ps->line) : 0;
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

/* A TYPE line for a family that already has one: refused in strict mode, counted in tolerant
 * mode when it agrees. */
static int repeated_type(struct parser *ps, struct fam *f, const char *name, enum metric_type t)
{
    int nl = (int)f->len;
    if (ps->strict)
        return fail(ps, name, "second TYPE line for metric name \"%.*s\" (the first is on line %u)",
                    nl, name, f->type_line);
    if (f->type != t)
        return fail(ps, name,
                    "second TYPE line for metric name \"%.*s\" says %s, but line %u said %s", nl,
                    name, metric_type_name(t), f->type_line, metric_type_name(f->type));
    if (ps->stats) ps->stats->repeated_metadata++;
    return 0;
}

static int parse_type(struct parser *ps, const char *p, const char *end)
{
    struct shown a;
    const char *name = p, *ne;
    int rc = meta_name(ps, "TYPE", p, end, &ne);
    if (rc) return rc;
    int nl = (int)(ne - name);
    const char *w = skip_blank(ne, end), *we = token_end(w, end);
    enum metric_type t;
    if (w == we)
        return fail(ps, w, "TYPE line for \"%.*s\" without a type (expected " TYPE_WORDS ")", nl,
                    name);
    if (parse_type_word(w, (size_t)(we - w), &t) < 0)
        return fail(ps, w, "unknown metric type \"%s\" for \"%.*s\" (expected " TYPE_WORDS ")",
                    show(&a, w, (size_t)(we - w)), nl, name);
    const char *x = skip_blank(we, end);
    if (x != end)
        return fail(ps, x, "unexpected text \"%s\" after the type in TYPE line for \"%.*s\"",
                    show(&a, x, (size_t)(end - x)), nl, name);
    struct fam *f = fam_get(ps, name, (size_t)nl);
    if (f->flags & FAM_TYPE) return repeated_type(ps, f, name, t);
    if (f->flags & FAM_SAMPLES)
        return fail(ps, name,
                    "TYPE line for \"%.*s\" reported after samples of that family (the first is "
                    "on line %u); TYPE must come before them",
                    nl, name, f->sample_line);
    f->type = t;
    f->flags |= FAM_TYPE;
    f->type_line = ps->line;
    ps->last_name = NULL; /* a cached resolution may depend on this family's type */
    return ps->h->type ? ps->h->type(ps->ctx, name, (size_t)nl, t, ps->line) : 0;
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
    struct shown a;
    const char *p = *pp;
    int nl = (int)l->name_len;
    if (p >= end || *p != '"')
        return fail(ps, p, "expected '\"' to start the value of label \"%.*s\", got \"%s\"", nl,
                    l->name, show(&a, p, word_len(p, end)));
    const char *v = ++p;
    bool high = false;
    for (; p < end && *p != '"'; p++) {
        if ((unsigned char)*p >= 0x80) high = true;
        if (*p != '\\') continue;
        if (p + 1 >= end) {
            p = end; /* a backslash just before the line end escapes nothing */
            break;
        }
        if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
            return fail(ps, p,
                        "invalid escape sequence '\\%s' in the value of label \"%.*s\" (only "
                        "\\\\, \\\" and \\n are allowed)",
                        show(&a, p + 1, 1), nl, l->name);
        p++;
    }
    if (p >= end)
        return fail(ps, v - 1,
                    "unterminated value of label \"%.*s\": the line ends before the closing '\"'",
                    nl, l->name);
    l->value = v;
    l->value_len = (size_t)(p - v);
    if (high && !utf8_valid(v, l->value_len))
        return fail(ps, v, "invalid label value for \"%.*s\": not valid UTF-8", nl, l->name);
    *pp = p + 1;
    return 0;
}

static bool label_name_stop(char c)
{
    return c == ' ' || c == '\t' || c == '=' || c == ',' || c == '}' || c == '"' || c == '{';
}

/* One `name="value"` of a label set, stored as ps->labels[n]. */
static int parse_label(struct parser *ps, const char **pp, const char *end, size_t n,
                       const struct tp_sample *s)
{
    struct shown a;
    const char *ln = *pp, *p = ln;
    while (p < end && !label_name_stop(*p)) p++;
    size_t llen = (size_t)(p - ln);
    if (llen == 0 && p < end && *p == '"')
        return fail(ps, p, "quoted label names (text format 1.0.0) are not supported");
    if (llen == 0)
        return fail(ps, p, "expected a label name in the label set of \"%.*s\", got \"%s\"",
                    (int)s->name_len, s->name, show(&a, p, p < end ? 1 : 0));
    if (!label_name_valid(ln, llen))
        return fail(ps, ln, "invalid label name \"%s\"", show(&a, ln, llen));
    if (llen == 8 && memcmp(ln, "__name__", 8) == 0)
        return fail(ps, ln, "label name \"__name__\" is reserved");
    for (size_t i = 0; i < n; i++)
        if (ps->labels[i].name_len == llen && memcmp(ps->labels[i].name, ln, llen) == 0)
            return fail(ps, ln, "duplicate label names: \"%.*s\" appears twice in \"%.*s\"",
                        (int)llen, ln, (int)s->name_len, s->name);
    if (n == ps->max_labels)
        return fail(ps, ln, "too many labels on \"%.*s\" (the limit is %zu)", (int)s->name_len,
                    s->name, ps->max_labels);
    struct tp_label *l = &ps->labels[n];
    l->name = ln;
    l->name_len = llen;
    p = skip_blank(p, end);
    if (p >= end || *p != '=')
        return fail(ps, p, "expected '=' after label name \"%.*s\", got \"%s\"", (int)llen, ln,
                    show(&a, p, word_len(p, end)));
    p = skip_blank(p + 1, end);
    *pp = p;
    return parse_label_value(ps, pp, end, l);
}

static int parse_labels(struct parser *ps, const char **pp, const char *end, struct tp_sample *s)
{
    struct shown a;
    const char *p = *pp + 1; /* past '{' */
    size_t n = 0;
    for (;;) {
        p = skip_blank(p, end);
        if (p < end && *p == '}') break; /* `{}`, or a trailing comma */
        if (p >= end) break;
        int rc = parse_label(ps, &p, end, n, s);
        if (rc) return rc;
        n++;
        p = skip_blank(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}') break;
        if (p >= end) break;
        const struct tp_label *l = &ps->labels[n - 1];
        return fail(ps, p, "expected ',' or '}' after the value of label \"%.*s\", got \"%s\"",
                    (int)l->name_len, l->name, show(&a, p, word_len(p, end)));
    }
    if (p >= end)
        return fail(ps, p, "label set of \"%.*s\" is not closed: the line ends before '}'",
                    (int)s->name_len, s->name);
    *pp = p + 1;
    s->nlabels = n;
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
 * it extends with _bucket, _sum or _count. As in Go's TextParser, a name that is already a
 * family (from its own HELP, TYPE or earlier samples) stays its own family. */
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
    if (!f) {
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

static int check_bucket(struct parser *ps, const struct tp_sample *s, const char *at)
{
    struct shown a;
    const struct tp_label *le = find_label(s, "le");
    double v;
    if (!le)
        return fail(ps, at, "histogram bucket \"%.*s\" without an 'le' label", (int)s->name_len,
                    s->name);
    if (textparse_float(le->value, le->value_len, &v) < 0)
        return fail(ps, le->value, "expected float as value for 'le' label, got \"%s\"",
                    show(&a, le->value, le->value_len));
    if (s->value < 0)
        return fail(ps, at, "negative bucket population for histogram \"%.*s\"", (int)s->family_len,
                    s->name);
    return 0;
}

static int check_typed_sample(struct parser *ps, const struct tp_sample *s, const char *at)
{
    struct shown a;
    int fl = (int)s->family_len;
    if (s->family_type == METRIC_HISTOGRAM) {
        if (s->suffix == SUFFIX_NONE)
            return fail(ps, at,
                        "sample \"%.*s\" of histogram \"%.*s\" needs a _bucket, _sum or _count "
                        "suffix",
                        (int)s->name_len, s->name, fl, s->name);
        if (s->suffix == SUFFIX_BUCKET) return check_bucket(ps, s, at);
        if (s->suffix == SUFFIX_COUNT && s->value < 0)
            return fail(ps, at, "negative count for histogram \"%.*s\"", fl, s->name);
    } else if (s->family_type == METRIC_SUMMARY && s->suffix == SUFFIX_NONE) {
        const struct tp_label *q = find_label(s, "quantile");
        double v;
        if (!q)
            return fail(ps, at, "sample \"%.*s\" of summary \"%.*s\" has no 'quantile' label",
                        (int)s->name_len, s->name, fl, s->name);
        if (textparse_float(q->value, q->value_len, &v) < 0)
            return fail(ps, q->value, "expected float as value for 'quantile' label, got \"%s\"",
                        show(&a, q->value, q->value_len));
    }
    return 0;
}

static int parse_timestamp(struct parser *ps, const char *p, const char *e, int64_t *out)
{
    struct shown a;
    const char *q = p;
    bool neg = q < e && *q == '-';
    if (q < e && (*q == '-' || *q == '+')) q++;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    bool range = false;
    if (q == e) goto bad;
    for (; q < e; q++) {
        if (*q < '0' || *q > '9') goto bad;
        unsigned d = (unsigned)(*q - '0');
        if (v > (lim - d) / 10)
            range = true;
        else
            v = v * 10 + d;
    }
    if (range)
        return fail(ps, p, "timestamp \"%s\" out of range (int64 milliseconds)",
                    show(&a, p, (size_t)(e - p)));
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
bad:
    return fail(ps, p, "expected integer as timestamp (milliseconds), got \"%s\"",
                show(&a, p, (size_t)(e - p)));
}

/* The metric name at the start of a sample line; *pp moves past it. */
static int sample_name(struct parser *ps, const char **pp, const char *end, struct tp_sample *s)
{
    struct shown a;
    const char *p = *pp;
    s->name = p;
    while (p < end && is_name_char((unsigned char)*p)) p++;
    s->name_len = (size_t)(p - s->name);
    if (s->name_len == 0 && p + 1 < end && p[0] == '{' && p[1] == '"')
        return fail(ps, p, "quoted metric names (text format 1.0.0) are not supported");
    if (s->name_len == 0)
        return fail(ps, p, "expected a metric name at the start of the line, got \"%s\"",
                    show(&a, p, word_len(p, end)));
    if (!metric_name_valid(s->name, s->name_len) ||
        (p < end && *p != ' ' && *p != '\t' && *p != '{')) {
        const char *e = p;
        while (e < end && *e != ' ' && *e != '\t' && *e != '{') e++;
        return fail(ps, s->name, "invalid metric name \"%s\"",
                    show(&a, s->name, (size_t)(e - s->name)));
    }
    *pp = p;
    return 0;
}

/* The value and optional timestamp after the name or label set, from `after` on. */
static int sample_value(struct parser *ps, const char *after, const char *end, struct tp_sample *s)
{
    struct shown a;
    int nl = (int)s->name_len;
    const char *v = skip_blank(after, end);
    if (v == after && v < end)
        return fail(ps, v, "expected a blank before the value of \"%.*s\", got \"%s\"", nl, s->name,
                    show(&a, v, word_len(v, end)));
    const char *ve = token_end(v, end);
    if (v == ve) return fail(ps, v, "sample \"%.*s\" has no value", nl, s->name);
    if (textparse_float(v, (size_t)(ve - v), &s->value) < 0)
        return fail(ps, v, "expected float as value for \"%.*s\", got \"%s\"", nl, s->name,
                    show(&a, v, (size_t)(ve - v)));
    const char *t = skip_blank(ve, end);
    if (t == end) return 0;
    const char *te = token_end(t, end);
    int rc = parse_timestamp(ps, t, te, &s->timestamp_ms);
    if (rc) return rc;
    s->has_timestamp = true;
    const char *x = skip_blank(te, end);
    if (x != end)
        return fail(ps, x, "spurious string after timestamp: \"%s\"",
                    show(&a, x, (size_t)(end - x)));
    return 0;
}

static int parse_sample(struct parser *ps, const char *p, const char *end)
{
    struct tp_sample s = {.labels = ps->labels, .line = ps->line};
    int rc = sample_name(ps, &p, end, &s);
    if (rc) return rc;
    const char *after = p; /* end of the name, or of the label set */
    p = skip_blank(p, end);
    if (p < end && *p == '{') {
        rc = parse_labels(ps, &p, end, &s);
        if (rc) return rc;
        after = p;
    }
    rc = sample_value(ps, after, end, &s);
    if (rc) return rc;
    struct fam *f;
    resolve_family(ps, s.name, s.name_len, &f, &s.suffix);
    s.family_len = f->len;
    s.family_type = f->type;
    if (!(f->flags & FAM_SAMPLES)) f->sample_line = ps->line;
    f->flags |= FAM_SAMPLES;
    rc = check_typed_sample(ps, &s, s.name);
    if (rc) return rc;
    if (ps->stats) ps->stats->samples++;
    return ps->h->sample ? ps->h->sample(ps->ctx, &s) : 0;
}

/* One line, without its line end. */
static int parse_line(struct parser *ps, const char *p, const char *end)
{
    const char *q = skip_blank(p, end);
    if (q == end) return 0;
    if (*q == '#') return parse_comment(ps, q, end);
    return parse_sample(ps, q, end);
}

struct textparse {
    struct parser ps;
};

struct textparse *textparse_begin(const struct textparse_handler *h, void *ctx,
                                  const struct textparse_opts *opts, struct textparse_error *err,
                                  struct textparse_stats *stats)
{
    static const struct textparse_handler none;
    struct textparse *tp = xcalloc(1, sizeof(*tp));
    struct parser *ps = &tp->ps;
    *ps = (struct parser){.h = h ? h : &none, .ctx = ctx, .err = err, .stats = stats};
    ps->strict = opts && opts->strict;
    ps->max_labels = opts && opts->max_labels ? opts->max_labels : 128;
    ps->labels = xmalloc(ps->max_labels * sizeof(*ps->labels));
    arena_init(&ps->names);
    if (err) *err = (struct textparse_error){0};
    return tp;
}

int textparse_feed(struct textparse *tp, const char *buf, size_t len, size_t *consumed)
{
    struct parser *ps = &tp->ps;
    const char *p = buf, *end = buf + len;
    const char *zero = len ? memchr(buf, '\0', len) : NULL; /* binary garbage, found in one go */
    int rc = 0;
    ps->last_name = NULL; /* it pointed into the previous piece */
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) break; /* an incomplete line: the caller feeds it again with what follows */
        ps->line++;
        ps->line_start = p;
        const char *le = nl;
        if (le > p && le[-1] == '\r') le--; /* tolerate CRLF from hand-edited files */
        if (zero && zero < nl)
            rc = fail(ps, zero, "unexpected NUL byte (the input is not text)");
        else
            rc = parse_line(ps, p, le);
        p = nl + 1;
    }
    *consumed = (size_t)(p - buf);
    return rc;
}

int textparse_end(struct textparse *tp, const char *rest, size_t len)
{
    struct parser *ps = &tp->ps;
    int rc = 0;
    /* Go accepts trailing blanks after the last newline, but not a cut-off line. */
    if (len && skip_blank(rest, rest + len) != rest + len) {
        ps->line++;
        ps->line_start = rest;
        rc = fail(ps, rest + len,
                  "unexpected end of input stream: the last line has no newline (body "
                  "truncated?)");
    }
    if (ps->stats) ps->stats->lines = ps->line;
    free(ps->labels);
    free(ps->fams);
    arena_free(&ps->names);
    free(tp);
    return rc;
}

int textparse_run(const char *buf, size_t len, const struct textparse_handler *h, void *ctx,
                  const struct textparse_opts *opts, struct textparse_error *err,
                  struct textparse_stats *stats)
{
    struct textparse *tp = textparse_begin(h, ctx, opts, err, stats);
    size_t used = 0;
    int rc = textparse_feed(tp, buf, len, &used);
    int end_rc = textparse_end(tp, rc ? buf + len : buf + used, rc ? 0 : len - used);
    return rc ? rc : end_rc;
}
