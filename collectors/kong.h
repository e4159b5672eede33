/* kong.h: the Kong collector's mappings from response bodies to samples (kong_map.c,
 * kong_metrics.c), shared by the collector (collectors/kong.c), its unit tests and its fuzz
 * targets.
 *
 * Each mapping reads one whole body and either adds its samples to a metric set and returns 0,
 * or returns -1 with a short explanation in err and leaves the set with whatever it had added
 * (the caller drops the set of a failed scrape). Nothing here does I/O or keeps global state.
 *
 * The request summaries work in three steps: kong_metrics_map records the request counters
 * and request-latency buckets of one /metrics body in a struct kong_obs; kong_window_compute
 * turns two observations of the same node into increases over the time between them, per
 * series (a counter that went down was reset and counts from zero, and so does a series that
 * is new: Kong creates it at its first request; Prometheus' increase() would skip that one); and
 * kong_summary_add merges the windows of a site's nodes into per-service rates, 5xx ratio and
 * latency quantiles. */
#ifndef DRWATCH_KONG_H
#define DRWATCH_KONG_H

#include <stdbool.h>
#include <stddef.h>

#include "registry.h"
#include "xalloc.h"

enum kong_role { KONG_TRADITIONAL, KONG_CONTROL_PLANE, KONG_DATA_PLANE };

/* Caps on what one body may make us hold or export; beyond them the rest is left out and the
 * mapping says so (kong_obs.capped, kong_dp_result.truncated). */
#define KONG_MAX_SERVICES        10000
#define KONG_MAX_BUCKETS         64 /* distinct latency bounds per service */
#define KONG_MAX_DICTS           256
#define KONG_MAX_WORKERS         1024
#define KONG_MAX_DATA_PLANES     1000 /* also the page size asked of the control plane */
#define KONG_DP_FRESH_SECONDS    90.0 /* three of Kong's 30 s cluster pings */
#define KONG_SUMMARY_QUANTILES_N 3

/* Which node a mapping describes: the labels on its samples. */
struct kong_node_id {
    const char *site;   /* "gold" or "golddr" */
    const char *target; /* the target label */
    enum kong_role role;
};

/* GET /status (Admin or Status API), any Kong version, memory as numbers (?unit=b) or as
 * strings with a KiB/MiB/GiB unit. */
DRW_MUST_CHECK int kong_status_map(struct metric_set *set, const struct kong_node_id *id,
                                   const char *body, size_t len, char *err, size_t errlen);

struct kong_dp_result {
    size_t rows;    /* data planes listed */
    bool truncated; /* more than KONG_MAX_DATA_PLANES, or the answer had a next page */
};

/* GET /clustering/data-planes of a control plane. now is the wall clock (Unix seconds), for
 * the last-seen age. */
DRW_MUST_CHECK int kong_data_planes_map(struct metric_set *set, const struct kong_node_id *id,
                                        const char *body, size_t len, double now,
                                        struct kong_dp_result *res, char *err, size_t errlen);

/* ---- /metrics ---- */

struct kong_obs;

/* drwatch_kong_node_info of the node; o (the last /metrics observation) may be NULL. */
void kong_node_info_add(struct metric_set *set, const struct kong_node_id *id,
                        const struct kong_obs *o);

struct kong_obs *kong_obs_new(void);
void kong_obs_free(struct kong_obs *o);                 /* NULL-safe */
bool kong_obs_capped(const struct kong_obs *o);         /* services or buckets left out */
const char *kong_obs_version(const struct kong_obs *o); /* from kong_node_info, or "" */
const char *kong_obs_node_id(const struct kong_obs *o);
size_t kong_obs_samples(const struct kong_obs *o);

/* Parses a Prometheus-plugin body (2.8 or 3.x names, tolerant of repeated HELP/TYPE) into o,
 * which must be fresh. When passthrough is set, every sample is also added to set under its
 * own name with `site` and `instance` (the target label) added. set may be NULL otherwise. */
DRW_MUST_CHECK int kong_metrics_map(struct metric_set *set, const struct kong_node_id *id,
                                    bool passthrough, const char *body, size_t len,
                                    struct kong_obs *o, char *err, size_t errlen);

/* What one node served per service between two observations. */
struct kong_svc_window {
    char *name;
    double requests; /* increase of all request counters of the service */
    double errors;   /* the 5xx part of it */
    size_t nbuckets; /* request-latency buckets: bounds in seconds, ascending, +Inf last */
    double *bound;
    double *count; /* cumulative increase per bound */
};

struct kong_window {
    struct kong_svc_window *svc;
    size_t n;
    double seconds; /* the time between the two observations */
};

/* Fills w (freed first) with the increases from prev to cur over seconds (> 0). */
void kong_window_compute(struct kong_window *w, const struct kong_obs *prev,
                         const struct kong_obs *cur, double seconds);
void kong_window_clear(struct kong_window *w);

/* Adds the per-site, per-service summary families from the windows of one site's nodes (n
 * may be 0: then only drwatch_kong_site_nodes is added). */
void kong_summary_add(struct metric_set *set, const char *site, const struct kong_window *const *w,
                      size_t n);

/* The q-quantile of a histogram of cumulative counts at ascending upper bounds (the last one
 * +Inf), estimated as PromQL's histogram_quantile does: linear within the bucket, the lower
 * bound of the first bucket taken as 0. NaN when there are no observations or no +Inf bucket. */
double kong_histogram_quantile(double q, const double *bound, const double *count, size_t n);

/* ---- internal to the Kong collector's files ---- */

/* Every family the collector exports; their names and HELP are in kong_map.c. */
enum kong_fam {
    F_NODE_INFO,
    F_CONNECTIONS,
    F_CONN_ACCEPTED,
    F_CONN_HANDLED,
    F_REQUESTS,
    F_DATASTORE,
    F_CONFIG_HASH,
    F_CONFIG_LOADED,
    F_LUA_VM,
    F_DICT,
    F_DICT_CAP,
    F_METRICS_SAMPLES,
    F_DP_COUNT,
    F_DP_INFO,
    F_DP_SEEN,
    F_DP_AGE,
    F_DP_IN_SYNC,
    F_DP_CERT,
    F_CLUSTER_HASH,
    F_SVC_RPS,
    F_SVC_EPS,
    F_SVC_RATIO,
    F_SVC_LATENCY,
    F_SUMMARY_NODES,
};

/* The family, created in set with its HELP and unit on first use. */
struct metric_family *kong_family(struct metric_set *set, enum kong_fam which);
/* Adds a sample of family `which` labelled site, target and the extra pairs (at most 10). */
void kong_add(struct metric_set *set, enum kong_fam which, const struct kong_node_id *id, double v,
              const struct label_pair *extra, size_t nextra);
/* Formats err and returns -1. */
int kong_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
