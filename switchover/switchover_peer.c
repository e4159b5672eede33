/* switchover_peer.c: the answers this site gives its peer's messages (see switchover.h,
 * switchover_peer_message; the wire format is site/peer_msg.h).
 *
 * Before anything else a message must come from the other site and carry a sequence number
 * above every one taken from it (peer_link.h records it on disk first): a replay is refused
 * and counted as such. Then:
 *   confirm     yes only when sw_confirm agrees: this site is in one of the required states
 *               with nothing pending here (no plan running, no request awaiting the peer).
 *               The sender's transition, as the message states it, must also be one the
 *               transition table has, needing this site in exactly those states: a peer with
 *               another table (another version) is told no rather than guessed at.
 *   transition  a request from SW_SOURCE_PEER through switchover_request, judged by the same
 *               table and guards as a person's: yes when it started a run (named in the answer)
 *               or found this site there already, no with the refusal's reason. The same
 *               message id sent again after it was accepted gets the same answer, not a
 *               second run.
 * Every message is logged with what it did. Uses only switchover.h and the peer link. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "peer_link.h"
#include "peer_msg.h"
#include "strutil.h"
#include "switchover.h"

/* The states of m's required list as a mask; -1 with why when one is not a state. */
static int required_mask(const struct peer_msg *m, unsigned *mask, char *why, size_t whylen)
{
    *mask = 0;
    for (size_t i = 0; i < m->nrequired; i++) {
        enum sw_state st;
        if (sw_state_parse(m->required[i], &st) < 0) {
            snprintf(why, whylen, "\"%s\" is not a state this site knows", m->required[i]);
            return -1;
        }
        *mask |= 1u << st;
    }
    return 0;
}

/* Whether the sender's transition, as m states it, needs this site in exactly mask. */
static bool table_agrees(const struct peer_msg *m, enum sw_site from, unsigned mask, char *why,
                         size_t whylen)
{
    if (!m->to[0]) return true; /* not said: the required states speak for themselves */
    struct sw_request r = {.source = SW_SOURCE_API};
    snprintf(r.to, sizeof(r.to), "%s", m->to);
    struct sw_view v = {.site = from};
    struct sw_decision d = {.verdict = SW_REFUSE};
    if (sw_state_parse(m->sender_state, &v.state) == 0) sw_judge(&v, &r, &d);
    char want[128], have[128];
    if (d.verdict != SW_ACCEPT || !d.confirm) {
        snprintf(why, whylen, "%s -> %s is not a transition that needs this site's confirmation",
                 m->sender_state, m->to);
        return false;
    }
    if (d.peer_may_be == mask) return true;
    sw_states_text(d.peer_may_be, want, sizeof(want));
    sw_states_text(mask, have, sizeof(have));
    snprintf(why, whylen, "%s -> %s needs this site %.60s, not %.60s (another drwatch version?)",
             m->sender_state, m->to, want, have);
    return false;
}

static bool answer_confirm(struct switchover *sw, const struct peer_msg *m, enum sw_site from,
                           struct peer_answer *a)
{
    unsigned mask;
    if (required_mask(m, &mask, a->reason, sizeof(a->reason)) < 0 ||
        !table_agrees(m, from, mask, a->reason, sizeof(a->reason)))
        return false;
    /* Pending is a plan running or a request awaiting: a write to the state ConfigMap still on
     * its way (a finished run's label, an answer) is not, and GET /api/v1/state shows this
     * site idle meanwhile; refusing then refused a person who asked right after a run. */
    return sw_confirm(switchover_state(sw), switchover_pending(sw), mask, a->reason,
                      sizeof(a->reason));
}

static bool answer_transition(struct switchover *sw, const struct peer_msg *m,
                              struct peer_answer *a)
{
    struct sw_peer_link *l = switchover_peer_link(sw);
    const char *run = sw_peer_link_recall(l, m->id);
    if (run) {
        snprintf(a->run, sizeof(a->run), "%s", run);
        snprintf(a->reason, sizeof(a->reason), "accepted before: run %s", run);
        return true;
    }
    struct sw_request r = {.source = SW_SOURCE_PEER};
    snprintf(r.to, sizeof(r.to), "%s", m->to);
    snprintf(r.reason, sizeof(r.reason), "%s asks (its run %s)%s%.150s", m->from_site, m->id,
             m->reason[0] ? ": " : "", m->reason);
    struct sw_reply out = {.plan = BUF_INIT(PEER_MSG_MAX)};
    int rc = switchover_request(sw, &r, &out);
    buf_free(&out.plan);
    if (rc < 0) {
        snprintf(a->reason, sizeof(a->reason), "%.250s", out.reason);
        return false;
    }
    if (out.run_id[0]) {
        snprintf(a->run, sizeof(a->run), "%s", out.run_id);
        sw_peer_link_remember(l, m->id, out.run_id);
        snprintf(a->reason, sizeof(a->reason), "accepted: run %s (%.150s)", out.run_id, out.reason);
    } else {
        snprintf(a->reason, sizeof(a->reason), "nothing to do: %.230s", out.reason);
    }
    return true;
}

void switchover_peer_message(struct switchover *sw, const struct peer_msg *m, const char *identity,
                             struct peer_answer *a)
{
    struct sw_peer_link *l = switchover_peer_link(sw);
    enum sw_site self, from;
    enum sw_peer_received what = SW_RECEIVED_NO;
    uint64_t last = 0;
    char err[256];
    a->yes = false;
    (void)sw_site_parse(switchover_site_name(sw), &self);
    snprintf(a->site, sizeof(a->site), "%s", switchover_site_name(sw));
    if (sw_site_parse(m->from_site, &from) < 0 || from == self) {
        snprintf(a->reason, sizeof(a->reason), "from_site \"%s\" is not this site's peer (%s)",
                 m->from_site, sw_site_name(sw_other(self)));
    } else {
        int rc = sw_peer_link_admit(l, from, m->seq, &last, err, sizeof(err));
        if (rc == -EALREADY) {
            what = SW_RECEIVED_REPLAYED;
            snprintf(a->reason, sizeof(a->reason),
                     "replayed: seq %llu is not above %llu, the last taken from %s",
                     (unsigned long long)m->seq, (unsigned long long)last, m->from_site);
        } else if (rc < 0) {
            snprintf(a->reason, sizeof(a->reason), "%.250s", err);
        } else {
            a->yes = m->kind == PEER_MSG_CONFIRM ? answer_confirm(sw, m, from, a)
                                                 : answer_transition(sw, m, a);
            what = a->yes ? SW_RECEIVED_YES : SW_RECEIVED_NO;
        }
    }
    snprintf(a->state, sizeof(a->state), "%s", sw_state_name(switchover_state(sw)));
    char text[sizeof(a->reason)];
    str_utf8_clean(text, sizeof(text), a->reason); /* a cut may have split a character */
    memcpy(a->reason, text, sizeof(text));
    sw_peer_link_count_message(l, m->kind, what);
    log_msg(what == SW_RECEIVED_YES ? LOG_INFO : LOG_WARN, "switchover",
            "peer %s (%s) %s %s seq %llu%s%s: answered %s: %s", m->from_site, identity,
            peer_msg_kind_name(m->kind), m->id, (unsigned long long)m->seq, m->to[0] ? " to " : "",
            m->to, a->yes ? "yes" : "no", a->reason);
}
