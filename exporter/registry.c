/* registry.c: metric sets. Strings live in one arena per set and are freed with it; sample
 * arrays grow with realloc. Two open-addressing indexes make lookups O(1): family by name,
 * and series by (family, suffix, canonical labels) so that a duplicate is refused, not
 * emitted twice.
 *
 * Canonical label text leaves out labels with an empty value: Prometheus drops them on
 * ingestion (labels.Builder), so `x{a=""}` and `x` are one series and must not both be
 * exposed. */
#include "registry.h"
#include "arena.h"
#include "buf.h"
#include "caps.h"
#include "hash.h"
#include "textparse.h"
#include "xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct series_slot {
    uint64_t hash; /* 0: empty */
    uint32_t fam;
    uint32_t sample;
};

struct metric_set {
    atomic_int refs;
    struct arena arena;
    struct metric_family **fams;
    size_t nfams, fams_cap;
    uint32_t *fam_index; /* family number + 1, 0 for empty */
    size_t fam_index_cap;
    struct series_slot *series;
    size_t series_cap, nseries;
    struct buf scratch; /* canonical labels of the sample being added */
};

/* One label while its canonical text is built: value either raw (already escaped, from the
 * parser) or plain (escaped on the way out). */
struct label_in {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
    bool escaped;
    bool extra; /* from mset_add_parsed's extra labels: replaces a parsed label */
};

struct metric_set *mset_new(void)
{
    struct metric_set *s = xcalloc(1, sizeof(*s));
    atomic_init(&s->refs, 1);
    arena_init(&s->arena);
    buf_init(&s->scratch, CAP_LABELS_TEXT);
    return s;
}

void mset_ref(struct metric_set *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void mset_unref(struct metric_set *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
    for (size_t i = 0; i < s->nfams; i++) free(s->fams[i]->samples);
    free(s->fams);
    free(s->fam_index);
    free(s->series);
    buf_free(&s->scratch);
    arena_free(&s->arena);
    free(s);
}

char *mset_strdup(struct metric_set *s, const char *str)
{
    return arena_strdup(&s->arena, str);
}

/* ---- family index ---- */

static void fam_index_insert(uint32_t *idx, size_t cap, const struct metric_family *f, uint32_t num)
{
    size_t mask = cap - 1;
    size_t i = hash_bytes(f->name, strlen(f->name), 0) & mask;
    while (idx[i]) i = (i + 1) & mask;
    idx[i] = num + 1;
}

struct metric_family *mset_family_find(const struct metric_set *s, const char *name,
                                       size_t name_len)
{
    if (!s->fam_index_cap) return NULL;
    size_t mask = s->fam_index_cap - 1;
    for (size_t i = hash_bytes(name, name_len, 0) & mask; s->fam_index[i]; i = (i + 1) & mask) {
        struct metric_family *f = s->fams[s->fam_index[i] - 1];
        if (strncmp(f->name, name, name_len) == 0 && f->name[name_len] == '\0') return f;
    }
    return NULL;
}

struct metric_family *mset_family(struct metric_set *s, const char *name, enum metric_type type,
                                  const char *help)
{
    size_t name_len = strlen(name);
    struct metric_family *f = mset_family_find(s, name, name_len);
    if (f) return f->type == type ? f : NULL;
    /* A bad name would make the whole exposition unparsable: refuse it here, once. */
    if (!metric_name_valid(name, name_len)) return NULL;
    if (s->nfams == s->fams_cap) {
        s->fams_cap = s->fams_cap ? s->fams_cap * 2 : 16;
        s->fams = xrealloc(s->fams, s->fams_cap * sizeof(*s->fams));
    }
    if ((s->nfams + 1) * 2 > s->fam_index_cap) {
        size_t cap = s->fam_index_cap ? s->fam_index_cap * 2 : 32;
        free(s->fam_index);
        s->fam_index = xcalloc(cap, sizeof(*s->fam_index));
        s->fam_index_cap = cap;
        for (size_t i = 0; i < s->nfams; i++)
            fam_index_insert(s->fam_index, cap, s->fams[i], (uint32_t)i);
    }
    f = arena_alloc(&s->arena, sizeof(*f));
    *f = (struct metric_family){.name = arena_strdup(&s->arena, name),
                                .help = arena_strdup(&s->arena, help ? help : ""),
                                .type = type,
                                .set_index = (uint32_t)s->nfams};
    s->fams[s->nfams] = f;
    fam_index_insert(s->fam_index, s->fam_index_cap, f, (uint32_t)s->nfams);
    s->nfams++;
    return f;
}

struct metric_family *mset_family_of(struct metric_set *s, const struct family_def *d)
{
    struct metric_family *f = mset_family(s, d->name, d->type, d->help);
    if (f && d->unit && !f->unit) mset_family_set_unit(s, f, d->unit);
    return f;
}

int mset_put(struct metric_set *s, const struct family_def *d, double value,
             const struct label_pair *labels, size_t nlabels)
{
    struct metric_family *f = mset_family_of(s, d);
    return f ? mset_add(s, f, SUFFIX_NONE, labels, nlabels, value) : -EINVAL;
}

void mset_family_set_unit(struct metric_set *s, struct metric_family *f, const char *unit)
{
    f->unit = unit ? arena_strdup(&s->arena, unit) : NULL;
}

size_t mset_family_count(const struct metric_set *s)
{
    return s->nfams;
}

struct metric_family *mset_family_at(const struct metric_set *s, size_t i)
{
    return i < s->nfams ? s->fams[i] : NULL;
}

size_t mset_sample_count(const struct metric_set *s)
{
    return s->nseries;
}

size_t mset_memory_bytes(const struct metric_set *s)
{
    size_t n = sizeof(*s) + s->arena.used_total + s->series_cap * sizeof(*s->series) +
               s->fam_index_cap * sizeof(*s->fam_index) + s->fams_cap * sizeof(*s->fams) +
               s->scratch.cap;
    for (size_t i = 0; i < s->nfams; i++) n += s->fams[i]->cap * sizeof(struct metric_sample);
    return n;
}

/* ---- series ---- */

/* Writes v escaped for a label value (\\, \" and \n) at p, which has room for 2 * n; returns
 * the end. */
static char *value_escape_to(char *p, const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == '\\' || c == '"' || c == '\n') {
            *p++ = '\\';
            c = c == '\n' ? 'n' : c;
        }
        *p++ = c;
    }
    return p;
}

void label_value_escape(struct buf *out, const char *v, size_t n)
{
    if (buf_reserve(out, 2 * n) < 0) return;
    out->len = (size_t)(value_escape_to(out->data + out->len, v, n) - out->data);
    out->data[out->len] = '\0';
}

int label_value_unescape(struct buf *out, const char *v, size_t n)
{
    buf_reset(out);
    int rc = buf_reserve(out, n); /* unescaping never lengthens */
    if (rc) return rc;
    out->len = textparse_unescape(out->data, v, n);
    out->data[out->len] = '\0';
    return 0;
}

static int label_cmp(const struct label_in *a, const struct label_in *b)
{
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(a->name, b->name, n);
    return c ? c : (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

static int labels_canonical(struct buf *out, struct label_in *l, size_t n);

int labels_format(struct buf *out, const struct label_pair *pairs, size_t n)
{
    struct label_in small[32], *l = n <= 32 ? small : xmalloc(n * sizeof(*l));
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const char *v = pairs[i].value ? pairs[i].value : "";
        l[i] = (struct label_in){pairs[i].name, strlen(pairs[i].name), v, strlen(v), false, false};
        if (!label_name_valid(l[i].name, l[i].name_len)) rc = -EINVAL;
    }
    if (rc == 0) rc = labels_canonical(out, l, n);
    if (l != small) free(l);
    return rc;
}

/* Sorts by name (insertion sort: label sets are small, and it is stable) and writes the
 * canonical text, without the labels whose value is empty. Two labels of the same name are an
 * error (-EINVAL), except that an extra label replaces a parsed one. */
static int labels_canonical(struct buf *out, struct label_in *l, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct label_in key = l[i];
        size_t j = i;
        while (j > 0 && label_cmp(&l[j - 1], &key) > 0) {
            l[j] = l[j - 1];
            j--;
        }
        l[j] = key;
    }
    /* One reservation for the longest text (escaping at most doubles a value), then plain
     * copies: this runs for every sample of every scrape. */
    size_t need = 0;
    for (size_t i = 0; i < n; i++)
        need += l[i].name_len + 4 + (l[i].escaped ? 1 : 2) * l[i].value_len;
    buf_reset(out);
    int rc = buf_reserve(out, need);
    if (rc) return rc;
    char *p = out->data;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && label_cmp(&l[i], &l[i + 1]) == 0) {
            if (l[i].extra || !l[i + 1].extra) return -EINVAL;
            continue; /* the extra label that follows wins */
        }
        if (l[i].value_len == 0) continue;
        if (p != out->data) *p++ = ',';
        memcpy(p, l[i].name, l[i].name_len);
        p += l[i].name_len;
        *p++ = '=';
        *p++ = '"';
        p = l[i].escaped ? (char *)memcpy(p, l[i].value, l[i].value_len) + l[i].value_len
                         : value_escape_to(p, l[i].value, l[i].value_len);
        *p++ = '"';
    }
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
    return 0;
}

/* A label a producer may set: a valid name that is not reserved (__ prefix). */
static bool label_name_usable(const char *name, size_t len)
{
    return label_name_valid(name, len) && !(len >= 2 && name[0] == '_' && name[1] == '_');
}

/* Which suffixes a family's samples may have: histograms _bucket, _sum and _count, summaries
 * their quantiles, _sum and _count, every other type the bare name. */
static bool suffix_fits(enum metric_type t, enum metric_suffix sfx)
{
    switch (sfx) {
    case SUFFIX_NONE: return t != METRIC_HISTOGRAM;
    case SUFFIX_BUCKET: return t == METRIC_HISTOGRAM;
    case SUFFIX_SUM:
    case SUFFIX_COUNT: return t == METRIC_HISTOGRAM || t == METRIC_SUMMARY;
    }
    return false;
}

static uint32_t family_number(const struct metric_set *s, const struct metric_family *f)
{
    return f->set_index < s->nfams && s->fams[f->set_index] == f ? f->set_index : UINT32_MAX;
}

const char *labels_find(const char *labels, size_t len, const char *name, size_t *vlen)
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
    const char *v = labels_find(labels, len, name, &vl);
    buf_reset(out);
    return v && label_value_unescape(out, v, vl) == 0;
}

bool labels_next(const char *text, size_t len, size_t *pos, const char **name, size_t *name_len,
                 const char **value, size_t *value_len)
{
    size_t i = *pos;
    if (i < len && text[i] == ',') i++;
    if (i >= len) return false;
    size_t n0 = i;
    while (i < len && text[i] != '=') i++;
    if (i + 1 >= len || text[i + 1] != '"') return false; /* not canonical text */
    *name = text + n0;
    *name_len = i - n0;
    i += 2; /* past =" */
    size_t v0 = i;
    while (i < len && text[i] != '"') i += text[i] == '\\' ? 2 : 1;
    if (i >= len) return false; /* no closing quote */
    *value = text + v0;
    *value_len = i - v0;
    *pos = i + 1;
    return true;
}

static void series_grow(struct metric_set *s)
{
    size_t cap = s->series_cap ? s->series_cap * 2 : 256;
    struct series_slot *slots = xcalloc(cap, sizeof(*slots));
    for (size_t i = 0; i < s->series_cap; i++) {
        if (!s->series[i].hash) continue;
        size_t j = s->series[i].hash & (cap - 1);
        while (slots[j].hash) j = (j + 1) & (cap - 1);
        slots[j] = s->series[i];
    }
    free(s->series);
    s->series = slots;
    s->series_cap = cap;
}

static uint64_t series_hash(const char *labels, size_t len, uint32_t fnum,
                            enum metric_suffix suffix)
{
    return hash_bytes(labels, len, ((uint64_t)fnum << 8) | (uint64_t)suffix) | 1;
}

/* Rebuilds the duplicate index that mset_seal dropped, for a set that grows again. */
static void series_reindex(struct metric_set *s)
{
    size_t cap = 256;
    while (cap * 3 < (s->nseries + 1) * 4) cap *= 2;
    s->series = xcalloc(cap, sizeof(*s->series));
    s->series_cap = cap;
    for (uint32_t fnum = 0; fnum < s->nfams; fnum++) {
        const struct metric_family *f = s->fams[fnum];
        for (uint32_t k = 0; k < f->nsamples; k++) {
            const struct metric_sample *m = &f->samples[k];
            uint64_t h = series_hash(m->labels, m->labels_len, fnum, m->suffix);
            size_t j = h & (cap - 1);
            while (s->series[j].hash) j = (j + 1) & (cap - 1);
            s->series[j] = (struct series_slot){.hash = h, .fam = fnum, .sample = k};
        }
    }
}

void mset_seal(struct metric_set *s)
{
    free(s->series);
    s->series = NULL;
    s->series_cap = 0;
    buf_free(&s->scratch);
    for (size_t i = 0; i < s->nfams; i++) {
        struct metric_family *f = s->fams[i];
        if (f->cap > f->nsamples) {
            f->samples = f->nsamples ? xrealloc(f->samples, f->nsamples * sizeof(*f->samples))
                                     : (free(f->samples), NULL);
            f->cap = f->nsamples;
        }
    }
}

static int series_insert(struct metric_set *s, struct metric_family *f, enum metric_suffix suffix,
                         double value)
{
    if (!s->series_cap && s->nseries) series_reindex(s);
    /* f may be NULL when mset_family refused it: the sample is refused too, not a crash. */
    uint32_t fnum = f ? family_number(s, f) : UINT32_MAX;
    if (fnum == UINT32_MAX || !suffix_fits(f->type, suffix)) return -EINVAL;
    if ((s->nseries + 1) * 4 > s->series_cap * 3) series_grow(s);
    const char *lt = s->scratch.data ? s->scratch.data : "";
    size_t ll = s->scratch.len;
    uint64_t h = series_hash(lt, ll, fnum, suffix);
    size_t mask = s->series_cap - 1, i = h & mask;
    for (; s->series[i].hash; i = (i + 1) & mask) {
        const struct series_slot *sl = &s->series[i];
        if (sl->hash != h || sl->fam != fnum) continue;
        const struct metric_sample *o = &f->samples[sl->sample];
        if (o->suffix == suffix && o->labels_len == ll && memcmp(o->labels, lt, ll) == 0)
            return -EEXIST;
    }
    if (f->nsamples == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->samples = xrealloc(f->samples, f->cap * sizeof(*f->samples));
    }
    struct metric_sample *m = &f->samples[f->nsamples];
    m->labels = ll ? arena_strndup(&s->arena, lt, ll) : "";
    m->labels_len = (uint32_t)ll;
    m->suffix = (uint8_t)suffix;
    m->value = value;
    s->series[i] = (struct series_slot){.hash = h, .fam = fnum, .sample = (uint32_t)f->nsamples};
    f->nsamples++;
    s->nseries++;
    return 0;
}

int mset_add(struct metric_set *s, struct metric_family *f, enum metric_suffix suffix,
             const struct label_pair *labels, size_t nlabels, double value)
{
    struct label_in small[16], *l = nlabels <= 16 ? small : xmalloc(nlabels * sizeof(*l));
    int rc = 0;
    for (size_t i = 0; i < nlabels; i++) {
        l[i] = (struct label_in){.name = labels[i].name,
                                 .name_len = strlen(labels[i].name),
                                 .value = labels[i].value ? labels[i].value : "",
                                 .value_len = labels[i].value ? strlen(labels[i].value) : 0};
        if (!label_name_usable(l[i].name, l[i].name_len)) rc = -EINVAL;
    }
    if (rc == 0) rc = labels_canonical(&s->scratch, l, nlabels);
    if (rc == 0) rc = series_insert(s, f, suffix, value);
    if (l != small) free(l);
    return rc;
}

int mset_addv(struct metric_set *s, struct metric_family *f, double value, ...)
{
    struct label_pair pairs[16];
    size_t n = 0;
    va_list ap;
    va_start(ap, value);
    for (const char *name; (name = va_arg(ap, const char *)) != NULL;) {
        const char *v = va_arg(ap, const char *);
        if (n == ARRAY_LEN(pairs)) {
            va_end(ap);
            return -E2BIG;
        }
        pairs[n++] = (struct label_pair){name, v};
    }
    va_end(ap);
    return mset_add(s, f, SUFFIX_NONE, pairs, n, value);
}

int mset_add_parsed(struct metric_set *s, struct metric_family *f, const struct tp_sample *ps,
                    const struct label_pair *extra, size_t nextra)
{
    size_t n = ps->nlabels + nextra;
    struct label_in small[32], *l = n <= 32 ? small : xmalloc(n * sizeof(*l));
    int rc = 0;
    /* Parsed names and values were checked by the parser (textparse_run): not again. */
    for (size_t i = 0; i < ps->nlabels; i++) {
        const struct tp_label *pl = &ps->labels[i];
        l[i] = (struct label_in){pl->name, pl->name_len, pl->value, pl->value_len, true, false};
    }
    /* Extra labels come after the parsed ones so that, after the stable sort, they win. */
    for (size_t i = 0; i < nextra; i++) {
        const char *v = extra[i].value ? extra[i].value : "";
        l[ps->nlabels + i] =
            (struct label_in){extra[i].name, strlen(extra[i].name), v, strlen(v), false, true};
        if (!label_name_usable(extra[i].name, strlen(extra[i].name))) rc = -EINVAL;
    }
    if (rc == 0) rc = labels_canonical(&s->scratch, l, n);
    if (rc == 0) rc = series_insert(s, f, ps->suffix, ps->value);
    if (l != small) free(l);
    return rc;
}
