/* world.h: what the switchover part knows of the two sites at one moment, read from the last
 * snapshot (observe.c) and from the peer. The guards (guards.h) and the automation evidence
 * (evidence.h) are pure functions of it, so every safety decision can be tested from a table
 * and replayed from the journal, which records the world it saw.
 *
 * A value drwatch has not observed is "unknown", never a guess: every fact has a known flag,
 * and an unknown fact never satisfies a guard. */
#ifndef DRWATCH_WORLD_H
#define DRWATCH_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gslb_class.h"
#include "transition.h"

#define SW_MAX_RESOLVERS 8

/* One site's database as Patroni and PostgreSQL show it. */
struct sw_db {
    bool known;           /* Patroni answered in the last observation */
    bool leader_present;  /* a leader (or standby leader) holds the lock */
    bool leader_writable; /* a leader that takes writes: not a standby leader, not in recovery */
    bool standby_cluster; /* the cluster follows another site (standby_cluster configured) */
    bool healthy;         /* leader present and every member running or streaming */
    bool lsn_known;
    uint64_t lsn; /* the furthest WAL position the site holds: flushed on a primary, replayed on
                     a standby (the positions of one system are comparable) */
    double replay_lag_s; /* a standby: how far behind its primary it was when last compared
                            with it (the RPO exposure; it does not grow once the primary is
                            gone); < 0 unknown */
    double observed_at;  /* Unix seconds */
    /* The same database as the postgres collector sees it over SQL, apart from Patroni: its
     * REST API can hang while PostgreSQL goes on taking writes. sql_observed_at 0: never. */
    bool sql_known;         /* pg_is_in_recovery() has been read */
    bool sql_writable;      /* it said false: a primary taking writes */
    double sql_observed_at; /* the postgres collector's last success there (Unix seconds) */
};

/* One resolver's view of the GSLB name: the class of its answer and how long it held. */
struct sw_answer {
    char resolver[64];
    enum gslb_class cls;
    uint64_t held; /* consecutive samples with this class */
    double since;  /* when it started (Unix seconds) */
};

/* A /health probe of a site, as the F5 monitor sees it. */
struct sw_probe {
    bool known;
    bool up;
    uint64_t held; /* consecutive samples with this status */
};

struct sw_world {
    double now;
    enum sw_site self;
    struct sw_db db[SW_SITE_COUNT];
    struct sw_answer answers[SW_MAX_RESOLVERS]; /* this drwatch's resolvers */
    size_t nanswers;
    struct sw_probe probe[SW_SITE_COUNT];      /* from here */
    struct sw_probe peer_probe[SW_SITE_COUNT]; /* from the peer, when it is reachable */
    bool peer_reachable;
    bool peer_known; /* a peer is configured and was tried */
    struct sw_answer peer_answers[SW_MAX_RESOLVERS];
    size_t npeer_answers;
    bool peer_state_known;
    enum sw_state peer_state;
    bool peer_pending; /* a transition is asked for or running at the peer */
};

static inline enum sw_site sw_other(enum sw_site s)
{
    return s == SW_GOLD ? SW_GOLDDR : SW_GOLD;
}

#endif
