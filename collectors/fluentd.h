/* fluentd.h: the FluentD collector's mapping from a monitor_agent /api/plugins.json body to
 * samples, exposed for its unit tests and fuzz target (the collector itself is
 * fluentd_collector in collectors.h). */
#ifndef DRWATCH_FLUENTD_H
#define DRWATCH_FLUENTD_H

#include <stdbool.h>
#include <stddef.h>

#include "registry.h"
#include "xalloc.h"

struct fluentd_map_opts {
    const char *site;   /* site label */
    const char *target; /* target label */
    size_t max_plugins; /* plugins exported at most; 0: 1000 */
};

struct fluentd_map_stats {
    size_t plugins;   /* plugin objects exported */
    size_t skipped;   /* entries that were not plugin objects (no plugin_id) */
    bool truncated;   /* more than max_plugins */
    bool retry_state; /* some plugin carried a `retry` object (include_retry) */
};

/* Adds the samples of body to set. Returns 0, or -1 with *reason ("bad_json": not JSON;
 * "bad_body": JSON but not {"plugins":[...]}) and a detail in err. */
DRW_MUST_CHECK int fluentd_map(const char *body, size_t len, const struct fluentd_map_opts *o,
                               struct metric_set *set, struct fluentd_map_stats *st,
                               const char **reason, char *err, size_t errlen);

#endif
