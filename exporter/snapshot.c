/* snapshot.c: merges the current metric set of every producer into one immutable view, and
 * renders each exposition variant (text or OpenMetrics, plain or gzip) at most once, on first
 * use or when the publisher pre-renders what scrapers asked for last time. */
#include <errno.h>
#include <pthread.h>
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
        s->series += mset_sample_count(s->sets[i]);
    }
    qsort(refs, n, sizeof(*refs), part_cmp);
    s->parts = xmalloc((n ? n : 1) * sizeof(*s->parts));
    s->views = xmalloc((n ? n : 1) * sizeof(*s->views));
    size_t np = 0;
    for (size_t i = 0; i < n;) {
        struct family_view *v = &s->views[s->nviews++];
        const struct metric_family *first = refs[i].fam;
        v->parts = &s->parts[np];
        v->nparts = 0;
        for (; i < n && strcmp(refs[i].fam->name, first->name) == 0; i++) {
            if (refs[i].fam->type != first->type) {
                s->conflicts++;
                continue;
            }
            s->parts[np++] = refs[i].fam;
            v->nparts++;
        }
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
