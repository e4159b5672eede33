/* snapshot.c: merges the current metric set of every producer into one immutable view, and
 * renders each exposition variant (text or OpenMetrics, plain or gzip) at most once, on first
 * use or when the publisher pre-renders what scrapers asked for last time.
 *
 * Merge rules, per family name, in set order: a family without samples says nothing and
 * claims nothing (a textfile HELP placeholder must not decide the type); the first family
 * with samples decides the type, and later ones of another type are left out and counted as
 * conflicts. A set refuses duplicate series, but two sets can both have one: the first set
 * keeps it, the later copy is left out and counted as a conflict too, because an exposition
 * with a series twice is one Prometheus refuses samples of. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

struct variant {
    pthread_mutex_t lock;
    atomic_bool done;
    int rc;
    struct buf body;
};

struct snapshot {
    atomic_int refs;
    uint64_t generation;
    struct metric_set **sets;
    size_t nsets;
    struct family_view *views;
    size_t nviews;
    const struct metric_family **parts; /* storage behind views[].parts */
    struct metric_family **merged;      /* families rebuilt without cross-set duplicates */
    size_t nmerged;
    size_t conflicts, series;
    struct variant variants[2][2]; /* [format][gzip] */
};

struct part_ref {
    const struct metric_family *fam;
    size_t order;
};

static int part_cmp(const void *a, const void *b)
{
    const struct part_ref *x = a, *y = b;
    int c = strcmp(x->fam->name, y->fam->name);
    if (c) return c;
    return (x->order > y->order) - (x->order < y->order);
}

static bool sample_same(const struct metric_sample *a, const struct metric_sample *b)
{
    return a->suffix == b->suffix && a->labels_len == b->labels_len &&
           memcmp(a->labels, b->labels, a->labels_len) == 0;
}

/* A family found in several sets: leaves out the series an earlier set already has. Rare, so
 * the common case only builds a hash table and throws it away. */
static void view_dedup(struct snapshot *s, struct family_view *v, const struct metric_family **p)
{
    size_t total = 0, cap = 16;
    for (size_t i = 0; i < v->nparts; i++) total += p[i]->nsamples;
    while (cap < total * 2) cap *= 2;
    struct slot {
        uint64_t hash;
        const struct metric_sample *m;
    } *tab = xcalloc(cap, sizeof(*tab));
    bool *drop = NULL;
    size_t dups = 0, idx = 0;
    for (size_t i = 0; i < v->nparts; i++) {
        for (size_t j = 0; j < p[i]->nsamples; j++, idx++) {
            const struct metric_sample *m = &p[i]->samples[j];
            uint64_t h = hash_bytes(m->labels, m->labels_len, m->suffix) | 1;
            size_t k = h & (cap - 1);
            while (tab[k].hash && !(tab[k].hash == h && sample_same(tab[k].m, m)))
                k = (k + 1) & (cap - 1);
            if (!tab[k].hash) {
                tab[k] = (struct slot){h, m};
                continue;
            }
            if (!drop) drop = xcalloc(total, sizeof(*drop));
            drop[idx] = true;
            dups++;
        }
    }
    free(tab);
    if (!dups) return;
    struct metric_family *f = xmalloc(sizeof(*f));
    *f = *p[0];
    f->nsamples = 0;
    f->cap = total - dups;
    f->samples = xmalloc(f->cap * sizeof(*f->samples));
    idx = 0;
    for (size_t i = 0; i < v->nparts; i++)
        for (size_t j = 0; j < p[i]->nsamples; j++, idx++)
            if (!drop[idx]) f->samples[f->nsamples++] = p[i]->samples[j];
    free(drop);
    s->merged = xrealloc(s->merged, (s->nmerged + 1) * sizeof(*s->merged));
    s->merged[s->nmerged++] = f;
    p[0] = f;
    v->nparts = 1;
    s->conflicts += dups;
}

static void snapshot_merge(struct snapshot *s)
{
    size_t total = 0;
    for (size_t i = 0; i < s->nsets; i++) total += mset_family_count(s->sets[i]);
    struct part_ref *refs = xmalloc((total ? total : 1) * sizeof(*refs));
    size_t n = 0;
    for (size_t i = 0; i < s->nsets; i++) {
        for (size_t f = 0; f < mset_family_count(s->sets[i]); f++) {
            refs[n] = (struct part_ref){mset_family_at(s->sets[i], f), n};
            n++;
        }
    }
    qsort(refs, n, sizeof(*refs), part_cmp);
    s->parts = xmalloc((n ? n : 1) * sizeof(*s->parts));
    s->views = xmalloc((n ? n : 1) * sizeof(*s->views));
    size_t np = 0;
    for (size_t i = 0, end; i < n; i = end) {
        const char *name = refs[i].fam->name;
        size_t win = SIZE_MAX;
        for (end = i; end < n && strcmp(refs[end].fam->name, name) == 0; end++)
            if (win == SIZE_MAX && refs[end].fam->nsamples) win = end;
        if (win == SIZE_MAX) win = i; /* all empty: keep the first, it renders nothing */
        struct family_view *v = &s->views[s->nviews++];
        size_t first = np;
        s->parts[np++] = refs[win].fam;
        for (size_t k = win + 1; k < end; k++) {
            const struct metric_family *f = refs[k].fam;
            if (!f->nsamples) continue;
            if (f->type != refs[win].fam->type) {
                s->conflicts++;
                continue;
            }
            s->parts[np++] = f;
        }
        v->parts = &s->parts[first];
        v->nparts = np - first;
        if (v->nparts > 1) view_dedup(s, v, &s->parts[first]);
        for (size_t k = 0; k < v->nparts; k++) s->series += v->parts[k]->nsamples;
    }
    free(refs);
}

struct snapshot *snapshot_new(struct metric_set *const *sets, size_t nsets, uint64_t generation)
{
    struct snapshot *s = xcalloc(1, sizeof(*s));
    atomic_init(&s->refs, 1);
    s->generation = generation;
    s->sets = xmalloc((nsets ? nsets : 1) * sizeof(*s->sets));
    for (size_t i = 0; i < nsets; i++) {
        if (!sets[i]) continue;
        mset_ref(sets[i]);
        s->sets[s->nsets++] = sets[i];
    }
    for (int f = 0; f < 2; f++) {
        for (int g = 0; g < 2; g++) {
            pthread_mutex_init(&s->variants[f][g].lock, NULL);
            atomic_init(&s->variants[f][g].done, false);
            buf_init(&s->variants[f][g].body, 0);
        }
    }
    snapshot_merge(s);
    return s;
}

void snapshot_ref(struct snapshot *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void snapshot_unref(struct snapshot *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
    for (int f = 0; f < 2; f++) {
        for (int g = 0; g < 2; g++) {
            pthread_mutex_destroy(&s->variants[f][g].lock);
            buf_free(&s->variants[f][g].body);
        }
    }
    for (size_t i = 0; i < s->nmerged; i++) {
        free(s->merged[i]->samples);
        free(s->merged[i]);
    }
    free(s->merged);
    for (size_t i = 0; i < s->nsets; i++) mset_unref(s->sets[i]);
    free(s->sets);
    free(s->views);
    free(s->parts);
    free(s);
}

uint64_t snapshot_generation(const struct snapshot *s)
{
    return s->generation;
}

size_t snapshot_conflicts(const struct snapshot *s)
{
    return s->conflicts;
}

size_t snapshot_series(const struct snapshot *s)
{
    return s->series;
}

const struct family_view *snapshot_families(const struct snapshot *s, size_t *n)
{
    *n = s->nviews;
    return s->views;
}

int snapshot_render(struct snapshot *s, enum expo_format f, bool gzip, const char **data,
                    size_t *len)
{
    struct variant *v = &s->variants[f == EXPO_OPENMETRICS][gzip];
    if (!atomic_load_explicit(&v->done, memory_order_acquire)) {
        pthread_mutex_lock(&v->lock);
        if (!atomic_load_explicit(&v->done, memory_order_relaxed)) {
            v->rc = render_exposition(&v->body, f, gzip, s->views, s->nviews);
            atomic_store_explicit(&v->done, true, memory_order_release);
        }
        pthread_mutex_unlock(&v->lock);
    }
    if (v->rc) return v->rc;
    *data = v->body.data ? v->body.data : "";
    *len = v->body.len;
    return 0;
}

bool snapshot_variant_used(const struct snapshot *s, enum expo_format f, bool gzip)
{
    return atomic_load_explicit(&s->variants[f == EXPO_OPENMETRICS][gzip].done,
                                memory_order_acquire);
}
