/* actions.h: the catalogue of what a plan step may do, with the arguments each takes. Plans
 * (plan.h) are checked against it when they load, so that a typo in a plan file is a file:line
 * error at start, not a failed step at 3 a.m. The actuators (one file each) implement these
 * actions; this table is what `drwatch plan` prints and what the least-privilege Role lists.
 *
 *   tfvars          the tfvars Secret's in_recovery / in_maintenance flags (stringData)
 *   health_api      scale the health API (and its PDB's minAvailable): what the GSLB monitors
 *   maintenance     Keycloak's Service to the maintenance page (or back), restart that page,
 *                   the portal's banner; cosmetic, best-effort by default
 *   kong_restart    rollout-restart the Kong control plane; best-effort by default
 *   patroni_demote  make this site's cluster a standby cluster of the other site (Patroni
 *                   PATCH /config standby_cluster, pg_rewind where needed); waits until the
 *                   leader is a standby leader
 *   patroni_promote make this site's cluster a primary (standby_cluster: null); refused by the
 *                   promotion guard until the other site is fenced or cut off (guards.h)
 *   patroni_rebuild rebuild this site's cluster from the other site's leader (deletes its
 *                   volumes): destructive, runs only where a plan marks it and the guard agrees
 *   tekton_deploy   trigger the deploy pipeline (EventListener, signed) and follow its run
 *   tell_peer       ask the peer to follow with the same transition */
#ifndef DRWATCH_ACTIONS_H
#define DRWATCH_ACTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sw_arg_type { SW_ARG_BOOL, SW_ARG_INT, SW_ARG_SITE };

struct sw_action_arg {
    const char *name;
    enum sw_arg_type type;
    bool required;
    long min, max; /* SW_ARG_INT */
};

struct sw_action {
    const char *name;
    const char *summary; /* one line, for plan listings */
    const struct sw_action_arg *args;
    size_t nargs;
    int64_t timeout_ms; /* default for a step */
    bool best_effort;   /* default: cosmetic steps never block a failover */
    bool destructive;   /* always marked, whatever the plan says */
    bool promotes;      /* makes this site's database writable: the promotion guard holds it */
};

#define SW_ACTION_COUNT 9

/* The action named name, or NULL. */
const struct sw_action *sw_action_find(const char *name);
/* The i-th action of the catalogue (i < SW_ACTION_COUNT), and an action's position. */
const struct sw_action *sw_action_at(size_t i);
size_t sw_action_index(const struct sw_action *a);
/* "tfvars, health_api, ...": every name, for error messages. */
const char *sw_action_names(void);

#endif
