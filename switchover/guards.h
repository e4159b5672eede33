/* guards.h: the safety rules, in C, that hold whatever a plan, a rule or a person asks.
 *
 * 1. Promotion (sw_guard_promote). This site's database may become a writable primary only when
 *    the other site is fenced — withdrawn from the GSLB (every resolver's answer excludes it for
 *    `samples` samples) and its leader observed not writable — or unreachable with the GSLB
 *    answer excluding it for `samples` samples. When the other site is reachable (a planned
 *    transition), it must also have replayed everything the old primary wrote (RPO 0). Two
 *    writable primaries are then impossible: the other one is either seen read-only, or cut off
 *    from traffic and from the GSLB. Whichever path, the other site's PostgreSQL must not be
 *    seen writable over SQL (the postgres collector, when it targets that site and has
 *    answered within fresh_s): Patroni's REST API can hang while PostgreSQL goes on taking
 *    writes, and the site would then look unreachable.
 * 2. Fencing (sw_guard_fence). A site that the pair's state makes the standby, and whose own
 *    leader is writable (Gold coming back after an unplanned failover), must withdraw from the
 *    GSLB and demote itself at once. Fencing never waits for a person.
 * 3. Destructive steps (sw_guard_destructive). Rebuilding this site's database from the peer
 *    runs only if the plan marks the step, the peer's database is a freshly verified healthy
 *    leader, and it holds everything this site had: its WAL position is at or past this site's
 *    last one, or (positions unknown) this site's replication lag was under the bound.
 *
 * Each guard returns true when the action may go ahead; otherwise false with the reason, which
 * names the fact that failed and its value (the journal and the refusal carry it). */
#ifndef DRWATCH_GUARDS_H
#define DRWATCH_GUARDS_H

#include <stdbool.h>
#include <stddef.h>

#include "world.h"

struct sw_guard_policy {
    uint64_t samples; /* consecutive GSLB samples that make an answer count (default 3) */
    double fresh_s;   /* an observation older than this is unknown (default 15 s) */
    double max_lag_s; /* the RPO bound for a destructive step (default 30 s) */
};

/* Whether every resolver's answer excludes `site` (and none is an error) for p->samples. */
bool sw_gslb_excludes(const struct sw_world *w, enum sw_site site, const struct sw_guard_policy *p,
                      char *why, size_t whylen);

/* db (a site of w) answered pg_is_in_recovery() false over SQL within p->fresh_s. */
bool sw_sql_writable(const struct sw_world *w, const struct sw_db *db,
                     const struct sw_guard_policy *p);

bool sw_guard_promote(const struct sw_world *w, const struct sw_guard_policy *p, char *why,
                      size_t whylen);

/* Whether `pair` (the newest state known from the peer, the ConfigMap or the journal) makes
 * this site the standby. */
bool sw_site_should_be_standby(enum sw_state pair, enum sw_site site);

/* True when this site must fence itself now (the reason says why); false otherwise. */
bool sw_guard_fence(const struct sw_world *w, enum sw_state pair, char *why, size_t whylen);

bool sw_guard_destructive(const struct sw_world *w, bool marked, const struct sw_guard_policy *p,
                          char *why, size_t whylen);

#endif
