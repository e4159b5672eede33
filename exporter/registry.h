/* registry.h: metric sets (one producer's samples) and snapshots (what /metrics serves).
 *
 * A metric_set is built by one thread (a collector on the loop), then sealed and shared
 * read-only, reference counted. Labels are stored once per series as canonical text: pairs
 * sorted by name, values escaped as the exposition formats want (\\, \" and \n), without
 * braces, e.g. `code="200",service="a"`. Rendering is then a memcpy, and two series are the
 * same exactly when family, suffix and label text are equal.
 *
 * A snapshot takes references to the current set of every producer, merges their families by
 * name, and renders each exposition variant at most once (snapshot_render). */
#ifndef DRWATCH_REGISTRY_H
#define DRWATCH_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "metric.h"
#include "textparse.h"
#include "xalloc.h"

struct metric_sample {
    const char *labels; /* canonical label text, arena-owned, "" for none */
    uint32_t labels_len;
    uint8_t suffix; /* enum metric_suffix */
    double value;
};

struct metric_family {
    const char *name; /* as in text 0.0.4: counters keep _total, info keeps _info */
    const char *help; /* unescaped */
    const char *unit; /* NULL, or e.g. "seconds" (OpenMetrics UNIT) */
    enum metric_type type;
    struct metric_sample *samples;
    size_t nsamples, cap;
    uint32_t set_index; /* position in its set; the set's own bookkeeping */
};

struct label_pair {
    const char *name;
    const char *value; /* unescaped */
};

struct metric_set;

struct metric_set *mset_new(void);
void mset_ref(struct metric_set *s);
/* Drops a reference; the last one frees the set. NULL-safe. */
void mset_unref(struct metric_set *s);

/* Gets the family `name`, creating it. Returns NULL if it exists with another type (help
 * and unit of the first call are kept), or for a name that is not a valid metric name. */
DRW_MUST_CHECK struct metric_family *mset_family(struct metric_set *s, const char *name,
                                                 enum metric_type type, const char *help);
DRW_MUST_CHECK struct metric_family *mset_family_find(const struct metric_set *s, const char *name,
                                                      size_t name_len);
void mset_family_set_unit(struct metric_set *s, struct metric_family *f, const char *unit);

/* A family described once, in a collector's static table: name, type, unit and HELP. */
struct family_def {
    const char *name;
    enum metric_type type;
    const char *unit; /* or NULL */
    const char *help;
};

/* The family of d in s, made with its HELP and unit on first use; NULL on a type clash. */
DRW_MUST_CHECK struct metric_family *mset_family_of(struct metric_set *s,
                                                    const struct family_def *d);
/* Adds a sample of d's family (mset_add's rules); returns its result, -EINVAL on a clash. */
int mset_put(struct metric_set *s, const struct family_def *d, double value,
             const struct label_pair *labels, size_t nlabels);
/* mset_put with the labels written in place: MSET_PUT(s, &F_X, v, {"site", site}, ...). */
#define MSET_PUT(s, d, v, ...)                                \
    do {                                                      \
        const struct label_pair mset_l_[] = {__VA_ARGS__};    \
        mset_put((s), (d), (v), mset_l_, ARRAY_LEN(mset_l_)); \
    } while (0)

/* Adds a sample with unescaped label values. A label with an empty value is left out, as
 * Prometheus drops it on ingestion (x{a=""} and x are one series). Returns 0, -EEXIST when the
 * series is already in the set (the set keeps the first), or -EINVAL for a NULL family, an
 * invalid or reserved (__*) label name, a label given twice, a suffix the family's type does
 * not have, or -E2BIG for labels over CAP_LABELS_TEXT.
 * The adders are not DRW_MUST_CHECK, like buf's appenders: a refused sample is dropped and the
 * set goes on, which is the soft failure wanted for one odd series; a caller that must know
 * (textfile counts duplicates) checks. */
int mset_add(struct metric_set *s, struct metric_family *f, enum metric_suffix suffix,
             const struct label_pair *labels, size_t nlabels, double value);
/* Convenience: labels as name, value, ..., NULL. */
int mset_addv(struct metric_set *s, struct metric_family *f, double value, ...)
    __attribute__((sentinel));
/* Adds a sample as the text parser reported it (values still escaped). Optional extra labels
 * (unescaped, e.g. site) are merged in; a parsed label of the same name is replaced. */
int mset_add_parsed(struct metric_set *s, struct metric_family *f, const struct tp_sample *ps,
                    const struct label_pair *extra, size_t nextra);

/* Says the set is complete: drops what only adding needs (the duplicate index, spare array
 * room), about a quarter of a large set. Adding later still works (the index is rebuilt). */
void mset_seal(struct metric_set *s);

size_t mset_family_count(const struct metric_set *s);
struct metric_family *mset_family_at(const struct metric_set *s, size_t i);
size_t mset_sample_count(const struct metric_set *s);
/* Bytes the set holds (arena, arrays, index), for self-metrics. */
size_t mset_memory_bytes(const struct metric_set *s);
/* Arena helpers for producers that attach strings to a set's lifetime. */
char *mset_strdup(struct metric_set *s, const char *str);

/* Escapes a label value into out (the text format rules). Past out's cap it appends nothing
 * and out keeps the error (buf.h: checked once with buf_error). */
void label_value_escape(struct buf *out, const char *v, size_t n);
/* Undoes the escaping of v[0..n): out (reset first) holds the plain value, NUL-terminated.
 * Returns 0, or -E2BIG (also out's error) when the value is over out's cap. */
DRW_MUST_CHECK int label_value_unescape(struct buf *out, const char *v, size_t n);

/* Writes pairs as canonical label text into out (reset first): sorted by name, values
 * escaped, empty values left out. Returns 0, -EINVAL for an invalid or repeated name, or
 * -E2BIG over out's cap. (Not yet DRW_MUST_CHECK: rules/evaluate.c, rewritten elsewhere,
 * drops its result in one place.) */
int labels_format(struct buf *out, const struct label_pair *pairs, size_t n);

/* Walks canonical label text: on each call sets name and the still-escaped value of the next
 * pair and advances *pos. Returns false at the end. */
bool labels_next(const char *text, size_t len, size_t *pos, const char **name, size_t *name_len,
                 const char **value, size_t *value_len);
/* The still-escaped value of label `name` in canonical text and its length, or NULL when
 * absent. */
DRW_MUST_CHECK const char *labels_find(const char *labels, size_t len, const char *name,
                                       size_t *vlen);
/* The value of label `name` in canonical text, unescaped into out (reset first). Returns
 * false when the label is absent, and also when its value is over out's cap (out then keeps
 * the error: a caller that must tell the two apart asks buf_error). */
bool labels_get(const char *labels, size_t len, const char *name, struct buf *out);

/* ---- snapshots ---- */

enum expo_format { EXPO_TEXT, EXPO_OPENMETRICS };

#define EXPO_CONTENT_TYPE_TEXT        "text/plain; version=0.0.4; charset=utf-8"
#define EXPO_CONTENT_TYPE_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

struct snapshot;

/* Builds a snapshot from sets (each gets a reference; NULL entries are skipped). Families of
 * the same name merge; when types disagree the first set wins and the rest of that family
 * is left out, and a series present in two sets is kept from the first: both are counted in
 * snapshot_conflicts. */
struct snapshot *snapshot_new(struct metric_set *const *sets, size_t nsets, uint64_t generation);
void snapshot_ref(struct snapshot *s);
void snapshot_unref(struct snapshot *s); /* NULL-safe */
uint64_t snapshot_generation(const struct snapshot *s);
size_t snapshot_conflicts(const struct snapshot *s);
size_t snapshot_series(const struct snapshot *s);

/* Like snapshot_new, and takes over prev's rendered pieces of every family that did not
 * change, so that only what changed is rendered again. prev may be NULL. */
struct snapshot *snapshot_new_reusing(struct metric_set *const *sets, size_t nsets,
                                      uint64_t generation, const struct snapshot *prev);

struct iovec;
/* The body of one variant as an iovec, rendering it on first use (thread-safe); what /metrics
 * serves. The memory lives as long as the snapshot. Returns 0 or a negative errno. Not
 * DRW_MUST_CHECK: a publisher calls it only to render ahead what scrapers will ask for, and
 * the scrape that serves the variant gets the same error again. */
int snapshot_render_iov(struct snapshot *s, enum expo_format f, bool gzip, const struct iovec **iov,
                        size_t *niov, size_t *total);
/* The same body in one contiguous buffer (made on first use, for tests and tools). */
DRW_MUST_CHECK int snapshot_render(struct snapshot *s, enum expo_format f, bool gzip,
                                   const char **data, size_t *len);
/* Whether a variant has been rendered, so a publisher can pre-render what scrapers used. */
bool snapshot_variant_used(const struct snapshot *s, enum expo_format f, bool gzip);

/* A family as the snapshot merged it: metadata from the first part, samples from all parts
 * (one per set that has the family), in set order. */
struct family_view {
    const struct metric_family *const *parts;
    size_t nparts;
};

/* The merged families in name order, valid as long as the snapshot. */
const struct family_view *snapshot_families(const struct snapshot *s, size_t *n);

/* One family rendered on its own, so that snapshots can reuse what did not change: plain
 * text, or a raw deflate segment ending in a full flush (byte-aligned, not final), which can be
 * concatenated with others between a gzip header and trailer into one valid gzip stream (as
 * pigz does). crc and plain_len are of the text. */
struct render_piece {
    struct buf data;
    uint32_t crc;
    uint64_t plain_len;
    uint32_t om_key; /* what the OpenMetrics text depends on beyond the family itself */
};

/* Renders view i of fams (i == n: the tail, "# EOF" for OpenMetrics, empty for text) into
 * out->data, which must be empty. Returns 0, or -EIO if zlib fails. */
DRW_MUST_CHECK int render_piece(struct render_piece *out, enum expo_format f, bool gzip,
                                const struct family_view *fams, size_t n, size_t i);
/* The om_key render_piece would record for view i: two views with equal parts and equal keys
 * render the same OpenMetrics text. */
uint32_t render_om_key(const struct family_view *fams, size_t n, size_t i);
void render_gzip_header(unsigned char out[10]);
/* The final empty deflate block, then crc32 and length of the whole text (gzip trailer). */
void render_gzip_trailer(unsigned char out[10], uint32_t crc, uint64_t len);
uint32_t render_crc_combine(uint32_t a, uint32_t b, uint64_t b_len);

/* Renders families in format f into out, gzip-compressed when gzip is set. Returns 0, or
 * -E2BIG when out's cap is reached, or -EIO when zlib fails. */
DRW_MUST_CHECK int render_exposition(struct buf *out, enum expo_format f, bool gzip,
                                     const struct family_view *fams, size_t n);
/* Renders views[0..nviews) the same way, as families among fams[0..n) (a snapshot's whole
 * list, in which views are subsets of families: /federate): a family's OpenMetrics name and type
 * are decided against fams, so that it keeps those /metrics gives it. views must be in name
 * order, each named like the family of fams it is a subset of. */
DRW_MUST_CHECK int render_exposition_subset(struct buf *out, enum expo_format f, bool gzip,
                                            const struct family_view *views, size_t nviews,
                                            const struct family_view *fams, size_t n);

#endif
