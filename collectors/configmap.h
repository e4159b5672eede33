/* configmap.h: the configmap collector's mapping from the switchover-state ConfigMap (the
 * operator interface of the existing switchover agent) to samples, exposed for its unit tests
 * and fuzz target (the collector itself is configmap_collector in collectors.h). */
#ifndef DRWATCH_CONFIGMAP_H
#define DRWATCH_CONFIGMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "xalloc.h"

struct configmap_view {
    const char *site, *target, *namespace, *configmap; /* labels */
};

/* What the collector remembers between scrapes of one target. Zero it to start. */
struct configmap_track {
    bool seen;   /* observed at least once (existing or not) */
    char rv[72]; /* the last resourceVersion, "" while missing */
    uint64_t changes;
    double last_change; /* wall time of the last change seen, 0 for none */
};

struct configmap_obs_flags {
    bool bad_timestamp;         /* last_stable_state_ts was set but not a time drwatch reads */
    char last_stable_state[64]; /* "" when missing, empty or longer than this */
};

/* Adds the samples of a ConfigMap GET body, or of a missing ConfigMap when body is NULL; now
 * is the wall clock (for the change timestamp). Returns 0, or -1 with *reason ("bad_json",
 * "bad_body") and a detail in err. */
DRW_MUST_CHECK int configmap_map(const char *body, size_t len, const struct configmap_view *v,
                                 struct configmap_track *tr, double now, struct metric_set *set,
                                 struct configmap_obs_flags *fl, const char **reason, char *err,
                                 size_t errlen);

/* last_stable_state_ts as the existing agent writes it (Python's naive isoformat, UTC:
 * "2022-05-17T22:45:04.591398"), RFC 3339, or Unix seconds. Returns 0 or -EINVAL. */
DRW_MUST_CHECK int configmap_parse_ts(const char *s, double *out);

#endif
