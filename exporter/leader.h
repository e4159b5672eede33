/* leader.h: leader election between the replicas of one site through a Kubernetes
 * `coordination.k8s.io/v1` Lease (lease.h decides; this unit reads and writes the Lease on the
 * loop through k8s.h, keeps time and says when this replica starts and stops acting).
 *
 * The `leader_election` section:
 *
 *     leader_election = {
 *       enabled = true,
 *       lease_name = "drwatch-gold",          -- default "drwatch"
 *       identity = "drwatch-7d9f-abcde",      -- default $POD_NAME, else the host name
 *       lease_duration = "15s", renew_deadline = "10s", retry_period = "2s",
 *       kubernetes = { site = "gold", namespace = "ops" },  -- default: the pod's own API
 *     }
 *
 * Off (no section, or enabled = false), the process is always the leader: leader_new gives
 * a handle that says so and never calls back. On, it starts as a follower, reads the Lease
 * every retry_period and acts as lease.h says; on_change(true) when it has written the Lease
 * as holder, on_change(false) when it stops: another replica holds the Lease, or no renew
 * succeeded within renew_deadline (counted from when the last successful one was sent, so it
 * stops before the other replicas can see the Lease expire), or leader_stop.
 *
 * The gate for the parts that act is leader_is_leader (NULL-safe: no elector is a leader). */
#ifndef DRWATCH_LEADER_H
#define DRWATCH_LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "k8s.h"

struct loop;
struct httpc;
struct buf;
struct metric_set;

struct leader_k8s {
    struct k8s_target t;
};

struct leader_config {
    bool enabled;
    char *lease_name;
    char *identity; /* NULL: $POD_NAME, else the host name */
    int64_t lease_duration_ms, renew_deadline_ms, retry_period_ms;
    struct leader_k8s *kubernetes; /* NULL: the pod's own API server and namespace */
};

extern const struct cfg_module leader_module;

/* Checks what the key table cannot: renew_deadline < lease_duration, retry_period <
 * renew_deadline, lease_duration in whole seconds (leaseDurationSeconds), the identity, the
 * Lease's name, and that the API target resolves. Returns 0, or -1 with "leader_election: why". */
int leader_check(const struct leader_config *c, const char *site, char *err, size_t errlen);

typedef void (*leader_change_fn)(void *arg, bool leading);

struct leader_env {
    struct loop *loop;
    struct httpc *http;
    const char *site;           /* this drwatch's site: the default API target's */
    leader_change_fn on_change; /* on the loop */
    void *arg;
};

struct leader;

/* Starts electing (the first read on the next loop turn), or, disabled, a handle that is
 * always the leader. Returns NULL with err filled when leader_check refuses c. */
struct leader *leader_new(const struct leader_config *c, const struct leader_env *env, char *err,
                          size_t errlen);
/* Cancels any request; does not release the Lease (leader_stop does). NULL-safe. */
void leader_free(struct leader *l);

/* Whether this replica may act (execute plans, write the state ConfigMap, send
 * notifications, write the data directory). True for NULL and when election is off. */
bool leader_is_leader(const struct leader *l);
bool leader_enabled(const struct leader *l);

/* A clean stop: stops acting (on_change(false) first, while the Lease is still held), then
 * releases the Lease (holderIdentity emptied, leaseDurationSeconds 1) so another replica
 * takes over at its next read; done(arg) when that is answered or failed, at most
 * renew_deadline later, or at once when not leading. Reading and renewing stop. */
void leader_stop(struct leader *l, void (*done)(void *arg), void *arg);

/* drwatch_leader, drwatch_leader_changes_total, drwatch_leader_lease_errors_total. The caller
 * owns the set. */
struct metric_set *leader_metrics(const struct leader *l);

/* What the elector does on the API, as `drwatch rbac` takes declarations ("group resource
 * verb"), NULL-terminated: in the Lease's namespace. */
extern const char *const leader_rbac[];

/* The status page's section: who this replica is and who holds the Lease. arg: struct leader
 * ** (the daemon's pointer). */
void leader_page_html(void *arg, struct buf *b);

#endif
