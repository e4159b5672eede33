/* snapshot.c: merges the current metric set of every producer into one immutable view, and
 * renders each exposition variant (text or OpenMetrics, plain or gzip) at most once, on first
 * use or when the publisher pre-renders what scrapers asked for last time.
 *
 * Merge rules, per family name, in set order: a family without samples says nothing and
 * claims nothing (a textfile HELP placeholder must not decide the type); the first family
 * with samples decides the type, and later ones of another type are left out and counted as
 * conflicts. A set refuses duplicate series, but two sets can both have one: the first set
 * keeps it, the later copy is left out and counted as a conflict too, because an exposition
 * with a series twice is one Prometheus refuses samples of.
 *
 * Rendering is per family: each variant is a list of pieces (render_piece), one per family,
 * served as an iovec without being concatenated. A new snapshot takes over the pieces of the
 * previous one for every family whose parts are the very same objects (a collector whose set
 * did not change, such as a textfile directory nobody touched), so a publish re-renders only
 * what changed: with a 100k-series textfile and drwatch's own metrics changing every 5 s, that
 * is a few hundred lines instead of 12 MB. Gzip pieces are raw deflate segments joined between
 * a gzip header and a trailer with the combined crc32. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "buf.h"
#include "caps.h"
#include "hash.h"
#include "registry.h"
#include "xalloc.h"

/* A rendered family, shared by consecutive snapshots. */
struct piece {
    atomic_int refs;
    struct render_piece rp;
};

struct variant {
    pthread_mutex_t lock;
    atomic_bool done;
    int rc;
    struct piece **pieces; /* per view, then the tail; NULL: not rendered yet */
    unsigned char gz_head[10], gz_trail[10];
    struct iovec *iov;
    size_t niov, total;
    struct buf flat; /* the body in one piece, made only for snapshot_render */
    atomic_bool flat_done;
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
    snapshot_merge(s);
    for (int f = 0; f < 2; f++) {
        for (int g = 0; g < 2; g++) {
            struct variant *v = &s->variants[f][g];
            pthread_mutex_init(&v->lock, NULL);
            atomic_init(&v->done, false);
            atomic_init(&v->flat_done, false);
            buf_init(&v->flat, CAP_EXPOSITION);
            v->pieces = xcalloc(s->nviews + 1, sizeof(*v->pieces));
        }
    }
    return s;
}

static void piece_unref(struct piece *p)
{
    if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1) return;
    buf_free(&p->rp.data);
    free(p);
}

static bool same_parts(const struct family_view *a, const struct family_view *b)
{
    if (a->nparts != b->nparts) return false;
    for (size_t i = 0; i < a->nparts; i++)
        if (a->parts[i] != b->parts[i]) return false;
    return true;
}

/* Takes over prev's pieces of every family whose parts are the same objects (and, in
 * OpenMetrics, whose rendering depends on nothing that changed). Both view lists are sorted. */
static void reuse_pieces(struct snapshot *s, const struct snapshot *prev)
{
    size_t j = 0;
    for (size_t i = 0; i < s->nviews; i++) {
        const struct family_view *v = &s->views[i];
        while (j < prev->nviews && strcmp(prev->views[j].parts[0]->name, v->parts[0]->name) < 0)
            j++;
        if (j == prev->nviews) return;
        if (!same_parts(v, &prev->views[j])) continue;
        for (int f = 0; f < 2; f++) {
            for (int g = 0; g < 2; g++) {
                const struct variant *pv = &prev->variants[f][g];
                struct piece *p = atomic_load(&pv->done) ? pv->pieces[j] : NULL;
                if (!p) continue;
                if (f == EXPO_OPENMETRICS && p->rp.om_key != render_om_key(s->views, s->nviews, i))
                    continue;
                atomic_fetch_add(&p->refs, 1);
                s->variants[f][g].pieces[i] = p;
            }
        }
    }
}

struct snapshot *snapshot_new_reusing(struct metric_set *const *sets, size_t nsets,
                                      uint64_t generation, const struct snapshot *prev)
{
    struct snapshot *s = snapshot_new(sets, nsets, generation);
    if (prev) reuse_pieces(s, prev);
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
            struct variant *v = &s->variants[f][g];
            pthread_mutex_destroy(&v->lock);
            for (size_t i = 0; i <= s->nviews; i++) piece_unref(v->pieces[i]);
            free(v->pieces);
            free(v->iov);
            buf_free(&v->flat);
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

/* Renders what the variant does not have yet and lays the pieces out as an iovec. */
static int variant_build(struct snapshot *s, struct variant *v, enum expo_format f, bool gzip)
{
    for (size_t i = 0; i <= s->nviews; i++) {
        if (v->pieces[i]) continue;
        struct piece *p = xcalloc(1, sizeof(*p));
        atomic_init(&p->refs, 1);
        buf_init(&p->rp.data, CAP_EXPOSITION);
        int rc = render_piece(&p->rp, f, gzip, s->views, s->nviews, i);
        v->pieces[i] = p;
        if (rc) return rc;
    }
    v->iov = xmalloc((s->nviews + 3) * sizeof(*v->iov));
    if (gzip) {
        render_gzip_header(v->gz_head);
        v->iov[v->niov++] = (struct iovec){v->gz_head, sizeof(v->gz_head)};
    }
    uint32_t crc = 0;
    uint64_t plain = 0;
    for (size_t i = 0; i <= s->nviews; i++) {
        const struct render_piece *rp = &v->pieces[i]->rp;
        if (!rp->data.len) continue;
        v->iov[v->niov++] = (struct iovec){rp->data.data, rp->data.len};
        crc = render_crc_combine(crc, rp->crc, rp->plain_len);
        plain += rp->plain_len;
    }
    if (gzip) {
        render_gzip_trailer(v->gz_trail, crc, plain);
        v->iov[v->niov++] = (struct iovec){v->gz_trail, sizeof(v->gz_trail)};
    }
    for (size_t i = 0; i < v->niov; i++) v->total += v->iov[i].iov_len;
    return 0;
}

int snapshot_render_iov(struct snapshot *s, enum expo_format f, bool gzip, const struct iovec **iov,
                        size_t *niov, size_t *total)
{
    struct variant *v = &s->variants[f == EXPO_OPENMETRICS][gzip];
    if (!atomic_load_explicit(&v->done, memory_order_acquire)) {
        pthread_mutex_lock(&v->lock);
        if (!atomic_load_explicit(&v->done, memory_order_relaxed)) {
            v->rc = variant_build(s, v, f, gzip);
            atomic_store_explicit(&v->done, true, memory_order_release);
        }
        pthread_mutex_unlock(&v->lock);
    }
    if (v->rc) return v->rc;
    *iov = v->iov;
    *niov = v->niov;
    *total = v->total;
    return 0;
}

int snapshot_render(struct snapshot *s, enum expo_format f, bool gzip, const char **data,
                    size_t *len)
{
    const struct iovec *iov;
    size_t n, total;
    int rc = snapshot_render_iov(s, f, gzip, &iov, &n, &total);
    if (rc) return rc;
    struct variant *v = &s->variants[f == EXPO_OPENMETRICS][gzip];
    if (!atomic_load_explicit(&v->flat_done, memory_order_acquire)) {
        pthread_mutex_lock(&v->lock);
        if (!atomic_load_explicit(&v->flat_done, memory_order_relaxed)) {
            /* One reservation for the whole: past the cap the body is refused, never cut. The
             * appends then fit; a failure would stay in the buffer's error, checked below. */
            if (buf_reserve(&v->flat, total) == 0)
                for (size_t i = 0; i < n; i++)
                    (void)buf_append(&v->flat, iov[i].iov_base, iov[i].iov_len);
            atomic_store_explicit(&v->flat_done, true, memory_order_release);
        }
        pthread_mutex_unlock(&v->lock);
    }
    rc = buf_error(&v->flat);
    if (rc) return rc;
    *data = v->flat.len ? v->flat.data : "";
    *len = v->flat.len;
    return 0;
}

bool snapshot_variant_used(const struct snapshot *s, enum expo_format f, bool gzip)
{
    return atomic_load_explicit(&s->variants[f == EXPO_OPENMETRICS][gzip].done,
                                memory_order_acquire);
}
