/* exposition.c: writes merged families as Prometheus text 0.0.4 or OpenMetrics 1.0, optionally
 * gzip-compressed on the fly.
 *
 * Output goes through a 64 KiB staging area: sample lines are written straight into it, plain
 * output is appended to the result in big blocks, gzip output is deflated block by block, so
 * the uncompressed text of a gzip variant is never held whole. The format rules are in
 * reference/prometheus-format.md §2 and §3.
 *
 * OpenMetrics is stricter than text 0.0.4 about order: the samples of one metric (a histogram's
 * buckets, _sum and _count for one label set; a summary's quantiles; a stateset's states) must
 * be contiguous, and buckets and quantiles ascending. Sets keep samples in the order they were
 * added, which for a parsed exposition such as Kong's (all buckets, then all counts, then all
 * sums) is not that order, so OpenMetrics histograms, summaries and statesets go through one
 * pass that checks it and, only when it does not hold, a sort. Text 0.0.4 is written in set
 * order as it is. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "buf.h"
#include "caps.h"
#include "hash.h"
#include "numtext.h"
#include "registry.h"
#include "strutil.h"
#include "xalloc.h"

/* Level 1 compresses repetitive metric text about 10:1 at several times the speed of the
 * default level; the body is compressed once per snapshot, so speed wins. */
#define RENDER_GZIP_LEVEL 1
#define STAGE_SIZE        (64 * 1024)
/* Room for what a sample line adds around its name and labels: braces, a blank, the value
 * (fmt_double: < 32 bytes) and the newline. */
#define LINE_EXTRA  40
#define CANON_CACHE 64

/* One le or quantile label value as written in a set, and its canonical OpenMetrics text. */
struct canon_entry {
    uint8_t raw_len, out_len;
    bool ok; /* raw parsed as a float */
    char raw[30];
    char out[32];
    double v;
};

/* A group (one metric of an OpenMetrics histogram, summary or stateset): its label text
 * without le, quantile or the state label, kept in sink.keys. */
struct group_slot {
    uint64_t hash;
    uint32_t off, len, id;
};

struct sample_ref {
    const struct metric_sample *m;
    uint32_t group, order;
    uint8_t rank; /* 0: bucket or quantile, ordered by le; 1: _sum, _count */
    double le;
};

enum sink_mode {
    SINK_PLAIN,   /* text appended to out */
    SINK_GZIP,    /* one whole gzip stream */
    SINK_SEGMENT, /* a raw deflate segment ending in a full flush, with the text's crc32 */
};

struct sink {
    struct buf *out;
    bool gzip; /* any deflating mode */
    enum sink_mode mode;
    uint32_t crc; /* SINK_SEGMENT: crc32 and length of the text that went in */
    uint64_t plain_len;
    z_stream z;
    int err;
    size_t len;
    struct canon_entry canon[CANON_CACHE];
    struct buf keys;
    struct sample_ref *refs;
    size_t refs_cap;
    char stage[STAGE_SIZE];
};

/* What every sample line of one family shares. */
struct fam_out {
    const struct family_view *v;
    const struct metric_family *f; /* metadata: the first part */
    size_t name_len;               /* of f->name, the start of every sample name */
    size_t nlen;                   /* of the family name as rendered (no _total in OM) */
    enum metric_type om_type;      /* as rendered in OpenMetrics */
    const char *canon;             /* OpenMetrics: le or quantile, written canonically */
    size_t canon_len;
    const char *group_label; /* OpenMetrics: the label that is not part of the metric */
    size_t group_label_len;
};

static void sink_deflate(struct sink *k, const char *p, size_t n, int flush)
{
    k->z.next_in = (Bytef *)p;
    k->z.avail_in = (uInt)n;
    for (;;) {
        size_t room = 64 * 1024;
        struct buf *o = k->out;
        if (o->max && o->max - o->len < room) room = o->max - o->len;
        if (room == 0 || buf_reserve(o, room) < 0) {
            k->err = -E2BIG;
            return;
        }
        k->z.next_out = (Bytef *)o->data + o->len;
        k->z.avail_out = (uInt)(o->cap - o->len - 1);
        size_t before = k->z.avail_out;
        int rc = deflate(&k->z, flush);
        if (rc == Z_STREAM_ERROR) {
            k->err = -EIO;
            return;
        }
        o->len += before - k->z.avail_out;
        o->data[o->len] = '\0';
        if (rc == Z_STREAM_END) return;
        if (flush == Z_FULL_FLUSH && k->z.avail_out > 0) return; /* flushed, byte-aligned */
        if (flush == Z_NO_FLUSH && k->z.avail_in == 0) {
            /* All input taken; a full output buffer may still leave output pending. */
            unsigned pending = 0;
            int bits = 0;
            if (k->z.avail_out > 0 || (deflatePending(&k->z, &pending, &bits) == Z_OK && !pending))
                return;
        }
    }
}

static void sink_count(struct sink *k, const char *p, size_t n)
{
    if (k->mode != SINK_SEGMENT) return;
    k->crc = (uint32_t)crc32(k->crc, (const Bytef *)p, (uInt)n);
    k->plain_len += n;
}

static void sink_flush(struct sink *k)
{
    if (k->len == 0 || k->err) return;
    sink_count(k, k->stage, k->len);
    if (k->gzip)
        sink_deflate(k, k->stage, k->len, Z_NO_FLUSH);
    else if (buf_append(k->out, k->stage, k->len) < 0)
        k->err = -E2BIG;
    k->len = 0;
}

static void sink_put(struct sink *k, const char *p, size_t n)
{
    if (n <= STAGE_SIZE - k->len) {
        memcpy(k->stage + k->len, p, n);
        k->len += n;
        return;
    }
    sink_flush(k);
    if (k->err) return;
    if (n < STAGE_SIZE) {
        memcpy(k->stage, p, n);
        k->len = n;
    } else if (k->gzip) {
        sink_count(k, p, n);
        sink_deflate(k, p, n, Z_NO_FLUSH);
    } else if (buf_append(k->out, p, n) < 0) {
        k->err = -E2BIG;
    }
}

static void sink_puts(struct sink *k, const char *s)
{
    sink_put(k, s, strlen(s));
}

/* Room for n <= STAGE_SIZE bytes at the end of the stage, to write in place and then add to
 * k->len; NULL after an error. */
static char *sink_space(struct sink *k, size_t n)
{
    if (STAGE_SIZE - k->len < n) sink_flush(k);
    return k->err ? NULL : k->stage + k->len;
}

/* HELP text: text 0.0.4 escapes backslash and newline; OpenMetrics also the double quote. */
static void put_help(struct sink *k, const char *h, bool om)
{
    const char *start = h;
    for (const char *p = h; *p; p++) {
        if (*p != '\\' && *p != '\n' && !(om && *p == '"')) continue;
        sink_put(k, start, (size_t)(p - start));
        sink_put(k, *p == '\n' ? "\\n" : (*p == '"' ? "\\\"" : "\\\\"), 2);
        start = p + 1;
    }
    sink_puts(k, start);
}

static int view_name_cmp(const void *key, const void *elem)
{
    const struct family_view *v = elem;
    return strcmp(key, v->nparts ? v->parts[0]->name : "");
}

/* Whether a family named name[0..len) is among fams (sorted by name, as snapshots are). */
static bool family_exists(const struct family_view *fams, size_t n, const char *name, size_t len)
{
    char small[256];
    char *key = len < sizeof(small) ? small : xmalloc(len + 1);
    memcpy(key, name, len);
    key[len] = '\0';
    const struct family_view *v = bsearch(key, fams, n, sizeof(*fams), view_name_cmp);
    /* Only families that render count: an empty one says nothing. */
    size_t total = 0;
    for (size_t i = 0; v && i < v->nparts; i++) total += v->parts[i]->nsamples;
    if (key != small) free(key);
    return total > 0;
}

/* The OpenMetrics family name and type for a family stored under its text 0.0.4 name. A
 * counter whose name lacks _total cannot be an OpenMetrics counter without renaming its
 * samples, so it goes out as `unknown` under the same name: a series keeps one name whichever
 * format Prometheus negotiates. The same holds for an info family without _info (a gauge), and
 * for a counter foo_total or an info foo_info when a family foo exists too, because the
 * OpenMetrics family names would clash. */
static void om_family(struct fam_out *fo, const struct family_view *fams, size_t n)
{
    const struct metric_family *f = fo->f;
    fo->om_type = f->type;
    if (f->type == METRIC_COUNTER) {
        if (fo->nlen > 6 && str_has_suffix(f->name, "_total") &&
            !family_exists(fams, n, f->name, fo->nlen - 6))
            fo->nlen -= 6;
        else
            fo->om_type = METRIC_UNTYPED;
    } else if (f->type == METRIC_INFO) {
        if (fo->nlen > 5 && str_has_suffix(f->name, "_info") &&
            !family_exists(fams, n, f->name, fo->nlen - 5))
            fo->nlen -= 5;
        else
            fo->om_type = METRIC_GAUGE;
    } else if (f->type == METRIC_HISTOGRAM || f->type == METRIC_SUMMARY) {
        fo->canon = fo->group_label = f->type == METRIC_HISTOGRAM ? "le" : "quantile";
        fo->canon_len = fo->group_label_len = strlen(fo->canon);
    } else if (f->type == METRIC_STATESET) {
        fo->group_label = f->name; /* the state label is named like the family */
        fo->group_label_len = fo->nlen;
    }
}

/* Families whose samples must be grouped by metric in OpenMetrics. */
static bool om_grouped(const struct fam_out *fo)
{
    return fo->group_label != NULL;
}

/* HELP and UNIT come from the first part that has them. */
static const char *view_help(const struct family_view *v)
{
    for (size_t i = 0; i < v->nparts; i++)
        if (v->parts[i]->help && *v->parts[i]->help) return v->parts[i]->help;
    return NULL;
}

static const char *view_unit(const struct family_view *v)
{
    for (size_t i = 0; i < v->nparts; i++)
        if (v->parts[i]->unit && *v->parts[i]->unit) return v->parts[i]->unit;
    return NULL;
}

static void put_meta_line(struct sink *k, const char *what, const char *name, size_t nlen,
                          const char *text)
{
    sink_puts(k, what);
    sink_put(k, name, nlen);
    sink_put(k, " ", 1);
    sink_puts(k, text);
    sink_put(k, "\n", 1);
}

static void put_metadata(struct sink *k, const struct fam_out *fo, enum expo_format fmt)
{
    const struct metric_family *f = fo->f;
    const char *help = view_help(fo->v);
    if (fmt == EXPO_TEXT) {
        if (help) {
            sink_puts(k, "# HELP ");
            sink_puts(k, f->name);
            sink_put(k, " ", 1);
            put_help(k, help, false);
            sink_put(k, "\n", 1);
        }
        put_meta_line(k, "# TYPE ", f->name, fo->nlen, metric_type_name(f->type));
        return;
    }
    size_t nl = fo->nlen;
    put_meta_line(k, "# TYPE ", f->name, nl, metric_type_name_openmetrics(fo->om_type));
    /* The unit must end the family name; info and stateset families have none. */
    const char *unit = view_unit(fo->v);
    size_t ul = unit ? strlen(unit) : 0;
    if (ul && fo->om_type != METRIC_INFO && fo->om_type != METRIC_STATESET && nl > ul + 1 &&
        f->name[nl - ul - 1] == '_' && memcmp(f->name + nl - ul, unit, ul) == 0)
        put_meta_line(k, "# UNIT ", f->name, nl, unit);
    if (help) {
        sink_puts(k, "# HELP ");
        sink_put(k, f->name, nl);
        sink_put(k, " ", 1);
        put_help(k, help, true);
        sink_put(k, "\n", 1);
    }
}

/* The canonical text of an le or quantile value, from a small cache: the same few bounds
 * repeat for every label set of a histogram. Values too long to cache are parsed into tmp. */
static const struct canon_entry *canon_get(struct sink *k, const char *raw, size_t n,
                                           struct canon_entry *tmp)
{
    struct canon_entry *e = tmp;
    if (n <= sizeof(e->raw)) {
        e = &k->canon[hash_bytes(raw, n, 0) & (CANON_CACHE - 1)];
        if (e->out_len && e->raw_len == n && memcmp(e->raw, raw, n) == 0) return e;
        memcpy(e->raw, raw, n);
        e->raw_len = (uint8_t)n;
    }
    e->ok = textparse_float(raw, n, &e->v) == 0;
    e->out_len = e->ok ? (uint8_t)fmt_double_canonical(e->out, e->v) : 1;
    return e;
}

/* Writes labels with the canon label's value in canonical form; returns the length. dst has
 * room for the label text plus LINE_EXTRA. */
static size_t write_labels_om(struct sink *k, char *dst, const struct metric_sample *m,
                              const struct fam_out *fo)
{
    size_t pos = 0, nl, vl, w = 0;
    const char *name, *value;
    while (labels_next(m->labels, m->labels_len, &pos, &name, &nl, &value, &vl)) {
        if (w) dst[w++] = ',';
        memcpy(dst + w, name, nl);
        w += nl;
        dst[w++] = '=';
        dst[w++] = '"';
        const struct canon_entry *e = NULL;
        struct canon_entry tmp;
        if (nl == fo->canon_len && memcmp(name, fo->canon, nl) == 0)
            e = canon_get(k, value, vl, &tmp);
        if (e && e->ok) {
            memcpy(dst + w, e->out, e->out_len);
            w += e->out_len;
        } else {
            memcpy(dst + w, value, vl);
            w += vl;
        }
        dst[w++] = '"';
    }
    return w;
}

/* Sample lines longer than the stage (label text of 64 KiB and more) go out piece by piece. */
static void put_sample_long(struct sink *k, const struct fam_out *fo, const struct metric_sample *m,
                            const char *sfx, size_t slen)
{
    sink_put(k, fo->f->name, fo->name_len);
    sink_put(k, sfx, slen);
    sink_put(k, "{", 1);
    sink_put(k, m->labels, m->labels_len);
    char num[LINE_EXTRA];
    num[0] = '}';
    num[1] = ' ';
    size_t vl = fmt_double(num + 2, m->value);
    num[2 + vl] = '\n';
    sink_put(k, num, vl + 3);
}

static void put_sample(struct sink *k, const struct fam_out *fo, const struct metric_sample *m)
{
    static const uint8_t suffix_len[] = {0, 7, 4, 6}; /* "", "_bucket", "_sum", "_count" */
    const char *name = fo->f->name;
    size_t nlen = fo->name_len; /* the sample name is the whole stored name, plus the suffix */
    const char *sfx = metric_suffix_text((enum metric_suffix)m->suffix);
    size_t slen = m->suffix < sizeof(suffix_len) ? suffix_len[m->suffix] : strlen(sfx);
    size_t need = nlen + slen + m->labels_len + LINE_EXTRA;
    bool canon = fo->canon && m->labels_len &&
                 (m->suffix == (fo->f->type == METRIC_HISTOGRAM ? SUFFIX_BUCKET : SUFFIX_NONE));
    if (canon) need += 32; /* "1" may become "1.0", "1e3" "1000.0" */
    if (need > STAGE_SIZE) {
        put_sample_long(k, fo, m, sfx, slen);
        return;
    }
    char *p = sink_space(k, need);
    if (!p) return;
    size_t w = nlen;
    memcpy(p, name, nlen);
    memcpy(p + w, sfx, slen);
    w += slen;
    if (m->labels_len) {
        p[w++] = '{';
        if (canon) {
            w += write_labels_om(k, p + w, m, fo);
        } else {
            memcpy(p + w, m->labels, m->labels_len);
            w += m->labels_len;
        }
        p[w++] = '}';
    }
    p[w++] = ' ';
    w += fmt_double(p + w, m->value);
    p[w++] = '\n';
    k->len += w;
}

/* ---- OpenMetrics grouping ---- */

static uint64_t fnv_update(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The metric a sample belongs to is its label text without the group label: [0, *a) and
 * [*b, len), and that label's value is *val. Without that label, a == b == len. */
static void group_span(const struct metric_sample *m, const struct fam_out *fo, size_t *a,
                       size_t *b, const char **val, size_t *val_len)
{
    size_t len = m->labels_len, pos = 0, nl;
    const char *name;
    *a = *b = len;
    bool hist = fo->f->type == METRIC_HISTOGRAM;
    if (m->suffix != (hist ? SUFFIX_BUCKET : SUFFIX_NONE)) return;
    while (labels_next(m->labels, len, &pos, &name, &nl, val, val_len)) {
        if (nl != fo->group_label_len || memcmp(name, fo->group_label, nl) != 0) continue;
        size_t s = (size_t)(name - m->labels), e = pos; /* e: past the closing quote */
        if (e < len)
            e++; /* and the comma after it */
        else if (s > 0)
            s--; /* or the one before it, when it is the last label */
        *a = s;
        *b = e;
        return;
    }
}

static bool group_key_equal(const struct metric_sample *m, size_t a, size_t b, const char *key,
                            size_t key_len)
{
    size_t len = m->labels_len;
    return key_len == len - (b - a) && memcmp(m->labels, key, a) == 0 &&
           memcmp(m->labels + b, key + a, len - b) == 0;
}

struct group_table {
    struct group_slot *slots;
    size_t cap, n;
};

/* The group of a label set, added when new; *key is its text in k->keys. NULL when k->keys is
 * at its cap (the render fails: a group cannot be told apart without its key). */
static const struct group_slot *group_get(struct sink *k, struct group_table *t,
                                          const struct metric_sample *m, size_t a, size_t b)
{
    uint64_t h = fnv_update(1469598103934665603ULL, m->labels, a);
    h = fnv_update(h, m->labels + b, m->labels_len - b) | 1;
    size_t i = h & (t->cap - 1);
    for (; t->slots[i].hash; i = (i + 1) & (t->cap - 1)) {
        const struct group_slot *g = &t->slots[i];
        if (g->hash == h && group_key_equal(m, a, b, k->keys.data + g->off, g->len)) return g;
    }
    if (buf_reserve(&k->keys, m->labels_len) < 0) return NULL;
    struct group_slot *g = &t->slots[i];
    g->hash = h;
    g->off = (uint32_t)k->keys.len;
    g->len = (uint32_t)(m->labels_len - (b - a));
    g->id = (uint32_t)t->n++;
    /* Reserved above: these cannot fail. */
    (void)buf_append(&k->keys, m->labels, a);
    (void)buf_append(&k->keys, m->labels + b, m->labels_len - b);
    return g;
}

static int ref_cmp(const void *x, const void *y)
{
    const struct sample_ref *a = x, *b = y;
    if (a->group != b->group) return a->group < b->group ? -1 : 1;
    if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
    if (a->rank == 0 && a->le != b->le && !(isnan(a->le) && isnan(b->le))) {
        if (isnan(a->le) || isnan(b->le)) return isnan(a->le) ? 1 : -1;
        return a->le < b->le ? -1 : 1;
    }
    return a->order < b->order ? -1 : (a->order > b->order);
}

/* Renders the samples of an OpenMetrics histogram, summary or stateset one metric after the
 * other, buckets and quantiles ascending. One pass numbers the metrics in order of first
 * appearance and checks whether the samples already come that way; only if not are they
 * sorted (stably: _sum and _count keep their order, after the buckets). */
static void put_grouped(struct sink *k, const struct fam_out *fo, size_t total)
{
    const struct family_view *v = fo->v;
    if (total > k->refs_cap) {
        k->refs_cap = total;
        k->refs = xrealloc(k->refs, total * sizeof(*k->refs));
    }
    struct group_table t = {.cap = 16};
    while (t.cap < total * 2) t.cap *= 2;
    t.slots = xcalloc(t.cap, sizeof(*t.slots));
    buf_reset(&k->keys);
    bool in_order = true, have_le = false;
    const struct group_slot *cur = NULL;
    double last_le = 0;
    uint32_t n = 0;
    for (size_t p = 0; p < v->nparts && !k->err; p++) {
        for (size_t s = 0; s < v->parts[p]->nsamples; s++, n++) {
            const struct metric_sample *m = &v->parts[p]->samples[s];
            size_t a, b, vl = 0;
            const char *val = NULL;
            group_span(m, fo, &a, &b, &val, &vl);
            if (!cur || !group_key_equal(m, a, b, k->keys.data + cur->off, cur->len)) {
                size_t before = t.n;
                cur = group_get(k, &t, m, a, b);
                if (!cur) {
                    k->err = -E2BIG;
                    break;
                }
                if (t.n == before) in_order = false; /* a metric seen before comes back */
                have_le = false;
            }
            struct sample_ref *r = &k->refs[n];
            *r = (struct sample_ref){.m = m, .group = cur->id, .order = n, .rank = 1};
            if (a != b && fo->canon) {
                struct canon_entry tmp;
                const struct canon_entry *e = canon_get(k, val, vl, &tmp);
                r->rank = 0;
                r->le = e->ok ? e->v : NAN;
                if (have_le && !(last_le < r->le)) in_order = false;
                have_le = true;
                last_le = r->le;
            }
        }
    }
    free(t.slots);
    if (k->err) return;
    if (!in_order) qsort(k->refs, n, sizeof(*k->refs), ref_cmp);
    for (uint32_t i = 0; i < n; i++) put_sample(k, fo, k->refs[i].m);
}

/* Metadata and samples of family view v; nothing for a family without samples. fams[0..n) are
 * the families it is rendered among, which decide its OpenMetrics name (om_family). */
static void render_view(struct sink *k, enum expo_format fmt, const struct family_view *v,
                        const struct family_view *fams, size_t n)
{
    size_t total = 0;
    for (size_t p = 0; p < v->nparts; p++) total += v->parts[p]->nsamples;
    if (total == 0) return; /* a family without samples says nothing */
    size_t name_len = strlen(v->parts[0]->name);
    struct fam_out fo = {.v = v, .f = v->parts[0], .name_len = name_len, .nlen = name_len};
    if (fmt == EXPO_OPENMETRICS) om_family(&fo, fams, n);
    put_metadata(k, &fo, fmt);
    if (fmt == EXPO_OPENMETRICS && total > 1 && om_grouped(&fo)) {
        put_grouped(k, &fo, total);
        return;
    }
    for (size_t p = 0; p < v->nparts; p++)
        for (size_t s = 0; s < v->parts[p]->nsamples; s++)
            put_sample(k, &fo, &v->parts[p]->samples[s]);
}

static struct sink *sink_new(struct buf *out, enum sink_mode mode)
{
    struct sink *k = xcalloc(1, sizeof(*k));
    k->out = out;
    k->mode = mode;
    k->gzip = mode != SINK_PLAIN;
    buf_init(&k->keys, CAP_EXPOSITION);
    if (k->gzip && deflateInit2(&k->z, RENDER_GZIP_LEVEL, Z_DEFLATED,
                                mode == SINK_GZIP ? 15 + 16 : -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        k->err = -EIO;
    return k;
}

/* Finishes the output and frees the sink; returns its error. */
static int sink_end(struct sink *k)
{
    sink_flush(k);
    if (k->gzip && !k->err)
        sink_deflate(k, NULL, 0, k->mode == SINK_GZIP ? Z_FINISH : Z_FULL_FLUSH);
    if (k->gzip) deflateEnd(&k->z);
    int rc = k->err;
    free(k->refs);
    buf_free(&k->keys);
    free(k);
    return rc;
}

int render_exposition_subset(struct buf *out, enum expo_format fmt, bool gzip,
                             const struct family_view *views, size_t nviews,
                             const struct family_view *fams, size_t n)
{
    struct sink *k = sink_new(out, gzip ? SINK_GZIP : SINK_PLAIN);
    for (size_t i = 0; i < nviews && !k->err; i++) render_view(k, fmt, &views[i], fams, n);
    if (fmt == EXPO_OPENMETRICS) sink_puts(k, "# EOF\n");
    return sink_end(k);
}

int render_exposition(struct buf *out, enum expo_format fmt, bool gzip,
                      const struct family_view *fams, size_t n)
{
    return render_exposition_subset(out, fmt, gzip, fams, n, fams, n);
}

int render_piece(struct render_piece *out, enum expo_format fmt, bool gzip,
                 const struct family_view *fams, size_t n, size_t i)
{
    struct sink *k = sink_new(&out->data, gzip ? SINK_SEGMENT : SINK_PLAIN);
    if (i < n) {
        out->om_key = fmt == EXPO_OPENMETRICS ? render_om_key(fams, n, i) : 0;
        render_view(k, fmt, &fams[i], fams, n);
    } else if (fmt == EXPO_OPENMETRICS) {
        sink_puts(k, "# EOF\n");
    }
    sink_flush(k);
    out->crc = k->crc;
    out->plain_len = k->gzip ? k->plain_len : out->data.len;
    if (k->gzip && k->plain_len == 0) {
        /* Nothing went in: no segment at all (not even a flush marker). */
        deflateEnd(&k->z);
        k->gzip = false;
    }
    return sink_end(k);
}

uint32_t render_om_key(const struct family_view *fams, size_t n, size_t i)
{
    const struct family_view *v = &fams[i];
    size_t name_len = strlen(v->parts[0]->name);
    struct fam_out fo = {.v = v, .f = v->parts[0], .name_len = name_len, .nlen = name_len};
    om_family(&fo, fams, n);
    return (uint32_t)(name_len - fo.nlen) << 8 | (uint32_t)fo.om_type;
}

void render_gzip_header(unsigned char out[10])
{
    static const unsigned char h[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    memcpy(out, h, sizeof(h));
}

void render_gzip_trailer(unsigned char out[10], uint32_t crc, uint64_t len)
{
    /* An empty final block of fixed Huffman codes (BFINAL=1, BTYPE=01, end-of-block). */
    out[0] = 0x03;
    out[1] = 0x00;
    for (int b = 0; b < 4; b++) {
        out[2 + b] = (unsigned char)(crc >> (8 * b));
        out[6 + b] = (unsigned char)(len >> (8 * b));
    }
}

uint32_t render_crc_combine(uint32_t a, uint32_t b, uint64_t b_len)
{
    return (uint32_t)crc32_combine(a, b, (z_off_t)b_len);
}
