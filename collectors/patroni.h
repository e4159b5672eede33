/* patroni.h: the Patroni collector's mapping from REST API bodies to metrics, kept apart from
 * its I/O (collectors/patroni.c) so that unit tests and the fuzzer feed it canned bodies.
 *
 * Three documents per site: each member's status document (GET /leader: the /patroni JSON,
 * with 200 when the member holds the leader lock and 503 when it does not), the cluster view
 * (GET /cluster) and the dynamic configuration (GET /config). Patroni 3.x and 4.x are both
 * read: the primary's role is "master" before 4.0 and "primary" since, and is exported as
 * "primary" either way.
 *
 * Ownership: the parse functions fill a struct whose strings they allocate; the matching
 * _clear frees them (NULL-safe, and safe on a zeroed struct). */
#ifndef DRWATCH_PATRONI_H
#define DRWATCH_PATRONI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "walpos.h"
#include "xalloc.h"

#define PATRONI_MAX_DEPTH   32  /* JSON nesting accepted */
#define PATRONI_MAX_MEMBERS 64  /* members exported from /cluster; more are counted, not shown */
#define PATRONI_MAX_LABEL   256 /* bytes kept of a string that becomes a label value */

/* A member's own status document. */
struct patroni_node {
    char *role; /* normalized: "master" -> "primary" */
    char *state, *scope, *name, *version, *replication_state, *sysid;
    int64_t timeline, server_version; /* 0 when absent */
    bool has_location, has_received, has_replayed, has_replayed_ts, has_replay_paused;
    int64_t location, received, replayed; /* bytes */
    double replayed_ts;                   /* Unix time */
    bool replay_paused, pause, pending_restart, cluster_unlocked;
    bool has_dcs_last_seen;
    double dcs_last_seen;
};

struct patroni_member {
    char *name, *role, *state, *api_url;
    int64_t timeline; /* 0 when absent */
    bool has_lag;     /* false when absent or "unknown" */
    int64_t lag;
    bool pending_restart;
};

struct patroni_cluster {
    char *scope; /* 4.x only */
    bool pause;
    struct patroni_member *members;
    size_t nmembers;
    size_t dropped; /* members past PATRONI_MAX_MEMBERS */
};

struct patroni_config {
    bool standby; /* a standby_cluster section is set */
    char *host, *port, *slot, *restore_command;
};

/* Each returns 0, or -1 with a short reason ("bad_json", "too_deep", "unexpected_json") in
 * *reason and what went wrong in err. */
DRW_MUST_CHECK int patroni_parse_node(const char *body, size_t len, struct patroni_node *out,
                                      const char **reason, char *err, size_t errlen);
DRW_MUST_CHECK int patroni_parse_cluster(const char *body, size_t len, struct patroni_cluster *out,
                                         const char **reason, char *err, size_t errlen);
DRW_MUST_CHECK int patroni_parse_config(const char *body, size_t len, struct patroni_config *out,
                                        const char **reason, char *err, size_t errlen);
void patroni_node_clear(struct patroni_node *n);
void patroni_cluster_clear(struct patroni_cluster *c);
void patroni_config_clear(struct patroni_config *c);

/* What one scrape of one site saw. */
struct patroni_endpoint_view {
    const char *url;                 /* the member's REST API base URL */
    bool up;                         /* its status document parsed */
    int leader_status;               /* HTTP status of GET /leader (200 or 503) */
    const struct patroni_node *node; /* when up */
    const char *known_name;          /* member name learnt from an earlier scrape, or NULL */
};

struct patroni_view {
    const char *site;
    const struct patroni_endpoint_view *endpoints;
    size_t nendpoints;
    const struct patroni_cluster *cluster; /* NULL: /cluster failed on every endpoint */
    const struct patroni_config *config;   /* NULL: /config failed on every endpoint */
};

/* The member label of an endpoint's document: the name Patroni 4 gives, else the /cluster
 * member whose api_url is the endpoint's URL, else known_name, else the URL. */
const char *patroni_member_name(const struct patroni_view *v,
                                const struct patroni_endpoint_view *e);

/* Adds the view's samples to set. board (may be NULL) receives the primaries seen here as
 * owner, and gives the primary position that standbys' lag is measured against; positions
 * older than max_age seconds are not used. now is wall-clock seconds. */
void patroni_emit(struct metric_set *set, const struct patroni_view *v, struct walpos *board,
                  const void *owner, double now, double max_age);

#endif
