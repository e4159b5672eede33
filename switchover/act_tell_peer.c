/* act_tell_peer.c: the tell_peer actuator: asks the peer's drwatch to follow with the same
 * transition (the old agent's PEER(transition_to ...)), through the peer link (peer_link.h).
 *
 * check: a run the peer asked for has nothing to tell (the peer is the one that asked: telling
 * it back would only be refused while its own run goes on), and a peer that already publishes
 * the target state (its view over the mTLS link) needs no telling. act sends a transition
 * message carrying the run's id, this site's state (the run's from) and the target, with the
 * break-glass as "active-passive-force"; the peer judges it with its own table and guards, and
 * the step ends with its answer: yes (it started its run, or was there already) is done, a no
 * fails the step with the peer's reason, and so do a timeout, an unreachable peer and an answer
 * that names another message. The message is bounded by the step's deadline. A restart in the
 * middle sends the same run id again, which the peer answers as before (switchover_peer.c).
 * Uses: peer_link.h, act_env.h (the link). */
#include <stdio.h>

#include "act_env.h"
#include "actuators.h"
#include "peer_link.h"

#define MARGIN_MS 500 /* the message's outcome comes this much before the step's deadline */

static void tell_check(struct sw_phase *ph)
{
    const struct sw_run_start *run = sw_phase_run(ph);
    const struct sw_world *w = sw_phase_world(ph);
    char detail[160];
    if (run->source == SW_SOURCE_PEER)
        return sw_phase_done(ph, SW_DONE, "the peer asked for this transition: nothing to tell");
    if (w->peer_reachable && w->peer_state_known && w->peer_state == run->to) {
        snprintf(detail, sizeof(detail), "the peer is %s already (its published state)",
                 sw_state_name(run->to));
        return sw_phase_done(ph, SW_DONE, detail);
    }
    sw_phase_done(ph, SW_NOT_DONE, "the peer is to be told");
}

static void on_answer(void *arg, const struct sw_peer_outcome *o)
{
    struct sw_phase *ph = arg;
    char detail[360];
    *sw_phase_slot(ph) = NULL;
    if (o->answer == SW_PEER_YES) {
        snprintf(detail, sizeof(detail), "the peer follows: %s", o->reason);
        return sw_phase_done(ph, SW_DONE, detail);
    }
    snprintf(detail, sizeof(detail), "%s: %s",
             o->answer == SW_PEER_NO ? "the peer refused" : sw_peer_answer_name(o->answer),
             o->reason);
    sw_phase_done(ph, SW_ERROR, detail);
}

static void tell_act(struct sw_phase *ph)
{
    const struct act_env *e = sw_phase_env(ph);
    const struct sw_run_start *run = sw_phase_run(ph);
    char err[256];
    if (!e->peer || !sw_peer_link_configured(e->peer))
        return sw_phase_done(ph, SW_ERROR,
                             "no peer is configured (a `peer` target of the other site)");
    struct peer_msg m = {.kind = PEER_MSG_TRANSITION};
    snprintf(m.id, sizeof(m.id), "%s", run->id);
    snprintf(m.sender_state, sizeof(m.sender_state), "%s", sw_state_name(run->from));
    snprintf(m.to, sizeof(m.to), "%s",
             run->force ? "active-passive-force" : sw_state_name(run->to));
    snprintf(m.reason, sizeof(m.reason), "%s", run->reason);
    int64_t left = sw_phase_step(ph)->timeout_ms - (int64_t)(sw_phase_step_seconds(ph) * 1000.0);
    left -= MARGIN_MS;
    struct sw_peer_call *call =
        sw_peer_link_send(e->peer, &m, left > 1000 ? left : 1000, on_answer, ph, err, sizeof(err));
    if (!call) return sw_phase_done(ph, SW_ERROR, err);
    *sw_phase_slot(ph) = call;
}

static void tell_cancel(struct sw_phase *ph)
{
    void **slot = sw_phase_slot(ph);
    sw_peer_call_cancel(*slot);
    *slot = NULL;
}

const struct actuator_ops tell_peer_actuator = {
    .action = "tell_peer",
    .check = tell_check,
    .act = tell_act,
    .poll = NULL,
    .cancel = tell_cancel,
    .rbac = NULL,
};
