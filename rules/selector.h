/* selector.h: instant-vector selectors over a snapshot, as PromQL's `name{label op "value"}`.
 *
 * Matchers are =, !=, =~ and !~; a regex is POSIX extended and anchored at both ends, as
 * Prometheus anchors RE2. A missing label matches as the empty string (so {a=""} selects series
 * without a). A name may address a histogram's or summary's _bucket, _sum or _count samples. */
#ifndef DRWATCH_SELECTOR_H
#define DRWATCH_SELECTOR_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "registry.h"

enum match_op { MATCH_EQ, MATCH_NEQ, MATCH_RE, MATCH_NRE };

struct matcher {
    char *name;
    enum match_op op;
    char *value;         /* unescaped */
    char *value_escaped; /* as in canonical label text, for = and != */
    regex_t re;
};

struct selector {
    char *name;
    struct matcher *m;
    size_t n;
};

/* Adds a matcher; for regexes, compiles it. Returns 0, or -1 with err filled. */
int selector_add(struct selector *s, const char *label, enum match_op op, const char *value,
                 char *err, size_t errlen);
void selector_free(struct selector *s); /* frees matchers and name, not s */
bool selector_match_labels(const struct selector *s, const char *labels, size_t len);

/* Calls fn for every sample of snap that sel selects. */
typedef void (*select_fn)(void *arg, const struct metric_family *f, const struct metric_sample *m);
void snapshot_select(const struct snapshot *snap, const struct selector *sel, select_fn fn,
                     void *arg);

/* The value of label `name` in canonical label text, unescaped into out (cleared first).
 * Returns false when the label is absent. */
bool labels_get(const char *labels, size_t len, const char *name, struct buf *out);

/* A canonical selector text (name{a="x",b=~"y"}), for keys and messages. Caller frees. */
char *selector_text(const struct selector *s);

#endif
