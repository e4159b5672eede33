/* switchover.h: the switchover part's front door, what main.c wires: the `switchover` config
 * section, the one queue every transition request goes through (the ConfigMap, the API, the
 * automation rule, the peer) with one set of guards, the executor, and what it publishes.
 *
 * On every published snapshot (switchover_observe) the part reads the world (observe.h),
 * fences this site if the pair's state makes it the standby while its leader is writable, and
 * evaluates the automatic failover's evidence. A request is judged (transition.h) against this
 * site's state; an accepted one becomes this site's plan (plan.h), which the executor runs
 * (executor.h) unless the request is a dry run. The state is this site's last finished plan's
 * target, else the switchover-state ConfigMap's last_stable_state as observed, else
 * independent. With a Kubernetes API, the ConfigMap is also where a person asks for a
 * transition and reads the answer and the run's progress (state_configmap.h).
 *
 * A transition that needs the peer in a given state (transition.h's confirm) is decided by a
 * handshake over the peer link (peer_link.h): the request is answered at once, 202 "awaiting
 * the peer's confirmation", with its id; a confirm message carrying that id goes to the peer,
 * and the plan starts under that id only when the peer's answer names it with a yes within
 * peer_timeout and the request, judged again then, still holds. A no, a timeout or an
 * unreachable peer refuses it with that reason: journaled, counted, and shown by
 * switchover_awaited (GET /api/v1/plans/<id>). One request awaits at a time, and while it does
 * the site counts as busy (the peer is told "no" when it asks this site to confirm).
 *
 * The peer's own messages come in through switchover_peer_message (switchover_peer.c), which
 * main registers with the peer listener.
 *
 * Everything runs on the loop thread. */
#ifndef DRWATCH_SWITCHOVER_H
#define DRWATCH_SWITCHOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "act_env.h"
#include "buf.h"
#include "config.h"
#include "evidence.h"
#include "executor.h"
#include "registry.h"
#include "transition.h"

struct loop;
struct httpc;
struct http_target;
struct peer_msg;
struct peer_answer;
struct sw_peer_transport;
struct sw_peer_link;

/* The `switchover` section. */
struct switchover_config {
    char *data_dir;   /* the journal lives here */
    char *plans_file; /* NULL: the built-in plans */
    bool automation;  /* may start active-passive -> golddr-primary on evidence */
    int64_t cooldown_ms;
    int64_t samples;         /* consecutive GSLB samples that count (evidence and guards) */
    int64_t hold_ms;         /* and for at least this long (evidence) */
    int64_t rpo_ms;          /* replication lag bound (evidence, destructive guard) */
    int64_t fresh_ms;        /* an observation older than this is unknown */
    int64_t peer_timeout_ms; /* the peer's answer to a message must come within this */
    struct act_config act;   /* what the actuators act on (act_env.h) */
};

extern const struct cfg_module switchover_module;

struct switchover_env {
    struct loop *loop;
    struct httpc *http;
    const char *site;       /* this drwatch's site */
    const char *config_dir; /* where relative paths resolve, or NULL */
    /* The actuators and their environment; NULL: the built-in table (actuators.c) on an
     * act_env made from the config. Tests pass fakes. */
    const struct actuator_ops *const *actuators;
    size_t nactuators;
    void *actuator_env;
    double (*clock)(void *arg); /* NULL: the wall clock */
    void *clock_arg;
    /* The peer's drwatch: the `peer` section's target for the other site, which main hands
     * over (copied; the switchover part reads no collector's config); NULL: no peer. */
    const struct http_target *peer;
    const struct sw_peer_transport *peer_transport; /* NULL: HTTPS to peer; tests: a fake */
};

struct switchover;

/* Loads the plans and opens the journal. A run a crash cut short resumes at the first
 * switchover_observe with a snapshot, so that the check of its step in doubt reads the world
 * (main.c observes only once every target was collected once); until then the part is busy
 * (a request is refused: one plan at a time). Returns NULL with err filled when the plans are
 * refused or the journal cannot be opened. */
struct switchover *switchover_new(const struct switchover_config *c,
                                  const struct switchover_env *env, char *err, size_t errlen);
void switchover_free(struct switchover *sw); /* NULL-safe */
/* Frees sw as a crash would, writing nothing more: for a replica that stopped leading (the
 * journal may be another replica's by now). A request awaiting the peer is dropped unjournaled,
 * as a kill -9 drops it. NULL-safe. */
void switchover_drop(struct switchover *sw);
/* What switchover_new checks of c, without opening anything (check-config, a reload's first
 * phase): the plans load and the actuators' settings resolve. Returns 0, or -1 with err. */
int switchover_check(const struct switchover_config *c, const struct switchover_env *env, char *err,
                     size_t errlen);

/* Reads the world from snap (takes no reference; snap may be NULL), resumes the run a crash
 * cut short (the first time, with a snapshot), then fences and evaluates the evidence. Call
 * after each published snapshot. Returns true when what switchover_metrics shows of it
 * changed (the state, an evidence check, a run started): that snapshot was made before, so
 * the caller publishes again for the rules to see it now rather than a publish later (a whole
 * evaluation interval, when the rules ran in between). */
bool switchover_observe(struct switchover *sw, const struct snapshot *snap);

/* The answer to a request. */
struct sw_reply {
    unsigned status; /* 202 accepted (or 200 for a dry run / nothing to do), 409, 422 */
    char run_id[48]; /* when a plan started */
    char reason[300];
    struct buf plan; /* a dry run's plan, as JSON (caller inits and frees) */
};

/* Judges r and, when it is accepted and not a dry run, starts this site's plan, or, when the
 * transition needs the peer's confirmation, asks the peer and answers 202 with the request's
 * id in run_id (the plan starts later under that id, or the request is refused: see the top).
 * Never waits for the peer. Always fills out; returns 0 when accepted, awaiting the peer or
 * nothing to do, -1 when refused. A refusal touches nothing and is journaled and counted with
 * its reason. */
int switchover_request(struct switchover *sw, const struct sw_request *r, struct sw_reply *out);

/* A request that awaited the peer's confirmation. */
enum sw_await_status { SW_AWAIT_PENDING, SW_AWAIT_STARTED, SW_AWAIT_REFUSED };
struct sw_awaited {
    char id[48]; /* the request's, and the run's once it started */
    enum sw_state from, to;
    bool force;
    enum sw_source source;
    char reason[256];       /* the request's */
    double since, deadline; /* Unix seconds: asked, and the answer's latest */
    enum sw_await_status status;
    char detail[300]; /* the peer's answer, or why the request was refused */
};
/* The request awaiting the peer now (id NULL), or the one with id if it is the last that
 * awaited; NULL when none. */
const struct sw_awaited *switchover_awaited(const struct switchover *sw, const char *id);

/* This site's state, and whether it is busy: a plan runs or is to resume, a request awaits the
 * peer, or the state ConfigMap still has to be told about a request or a finished run (freeing
 * the part now would lose that write). */
enum sw_state switchover_state(const struct switchover *sw);
bool switchover_busy(const struct switchover *sw);
/* Whether a transition is pending here: a plan runs or a request awaits the peer. What the
 * peer's confirm asks; a ConfigMap write on its way is not a transition (switchover_busy). */
bool switchover_pending(const struct switchover *sw);
const char *switchover_site_name(const struct switchover *sw);
bool switchover_automation(const struct switchover *sw);
/* The run going on (NULL when none) with its step and fallback depth; a run's record. */
const struct sw_run_start *switchover_current(const struct switchover *sw, size_t *step,
                                              size_t *depth);
const struct sw_run_record *switchover_record(const struct switchover *sw, const char *id);
/* The last run that finished since drwatch started, or NULL. */
const struct sw_run_record *switchover_last_run(const struct switchover *sw);
/* This site's last transitions' timelines, newest first (executor.h); the one of run id, or
 * NULL. */
const struct sw_timelines *switchover_timelines(const struct switchover *sw);
const struct sw_timeline *switchover_timeline(const struct switchover *sw, const char *id);
/* The automatic failover's evidence as of the last observation. */
const struct sw_evidence *switchover_evidence(const struct switchover *sw);
/* Both sites as the last observation saw them (world.h). */
const struct sw_world *switchover_world(const struct switchover *sw);

/* What this part does on this site's Kubernetes API besides its actuators' (actuator_ops.rbac):
 * the state ConfigMap's "apiGroup resource verb" lines, NULL-terminated. The least-privilege
 * Role is the union of these and every actuator's. */
const char *const *switchover_rbac(void);

/* The peer's message m (parsed by the listener from the authenticated peer, whose certificate
 * names identity), answered in a (id, seq and site set by the caller) with an explicit yes or
 * no and the reason, at once: a confirm is yes only when sw_confirm agrees for this site's
 * state with nothing pending here; a transition is a request from SW_SOURCE_PEER, judged as
 * any other (yes: accepted, with its run, or already there). A seq not above the last taken
 * from the peer is refused as a replay. Each message is logged and counted. */
void switchover_peer_message(struct switchover *sw, const struct peer_msg *m, const char *identity,
                             struct peer_answer *a);
/* The part's peer link (for switchover_peer.c). */
struct sw_peer_link *switchover_peer_link(const struct switchover *sw);

/* drwatch_state{state}, drwatch_automation_enabled, drwatch_automation_evidence{check},
 * drwatch_transition_requests_total{to,source,result}, drwatch_fence_total,
 * drwatch_transition_awaiting_peer, the peer link's, the executor's and the state ConfigMap's
 * families. The caller unrefs it. */
struct metric_set *switchover_metrics(struct switchover *sw);

#endif
