/* collector_env.h: what a collector may use, filled by main and valid while its targets live.
 * The core's collector interface (exporter/collector.h) only passes this on; it is defined
 * here because it names parts the core must not know, such as the site model. */
#ifndef DRWATCH_COLLECTOR_ENV_H
#define DRWATCH_COLLECTOR_ENV_H

#include <stdint.h>

#include "collector.h"

struct loop;
struct httpc;
struct drwatch_stats;
struct keep;
struct peerview;
struct peer_server_stats;

struct collector_env {
    struct loop *loop;
    struct httpc *http;
    const char *site;                  /* the site this drwatch runs in */
    const struct drwatch_stats *stats; /* daemon counters, for the self collector */
    int64_t default_interval_ms;
    int64_t fast_interval_ms;                   /* for GSLB, Patroni and peer (DESIGN.md) */
    struct keep *keep;                          /* what targets remember across reloads (keep.h) */
    struct peerview *peerview;                  /* what this site serves its peer (peer_view.h) */
    const struct peer_server_stats *peer_stats; /* the peer listener's counters */
};

#endif
