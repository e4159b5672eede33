/* evidence.h: the evidence that may start the one automatic transition, active-passive ->
 * golddr-primary, checked one by one so that on-call sees why drwatch did or did not fail
 * over (GET /api/v1/evidence, drwatch_automation_evidence{check}).
 *
 * The evidence is built so that a resolver fault, an empty answer or a two-address answer can
 * never supply it: every configured resolver must answer GoldDR alone (class golddr, never
 * both, none, unknown or error) for `samples` consecutive samples and at least `hold_s`
 * seconds; Gold's /health probe fails from here, and from the peer when the peer is reachable;
 * the peer agrees (its own resolvers answer GoldDR alone) or is unreachable; Gold's database is
 * not a writable leader as seen from here (read-only, or unreachable: GoldDR's promotion guard
 * could pass, and no Gold nobody demotes keeps taking writes), Patroni's word checked against
 * PostgreSQL's own (the postgres collector, when fresh: a hung REST API is not a dead primary);
 * GoldDR is not in maintenance; GoldDR's replication lag is under the RPO bound; and no transition
 * ran within the cooldown. */
#ifndef DRWATCH_EVIDENCE_H
#define DRWATCH_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>

#include "world.h"

enum sw_check {
    SW_CHECK_GSLB_GOLDDR_ALONE,
    SW_CHECK_GOLD_PROBE_DOWN_HERE,
    SW_CHECK_GOLD_PROBE_DOWN_PEER,
    SW_CHECK_PEER_AGREES,
    SW_CHECK_GOLD_DB_NOT_WRITABLE,
    SW_CHECK_GOLDDR_NOT_IN_MAINTENANCE,
    SW_CHECK_LAG_UNDER_RPO,
    SW_CHECK_COOLDOWN,
    SW_CHECK_COUNT
};

struct sw_evidence_policy {
    uint64_t samples; /* default 3 */
    double hold_s;    /* default 15 s */
    double rpo_s;     /* default 30 s */
    double cooldown_s;
    double fresh_s; /* an SQL look at Gold older than this is unknown (the switchover's fresh) */
};

/* What the checks need beyond the world. */
struct sw_evidence_input {
    const struct sw_world *w;
    enum sw_state golddr_state; /* GoldDR's label, as its ConfigMap or the peer says */
    bool golddr_state_known;
    double last_transition_end; /* Unix seconds; 0 never */
};

struct sw_evidence {
    bool ok; /* every check passed */
    struct {
        bool ok;
        char detail[160]; /* the value it saw */
    } check[SW_CHECK_COUNT];
};

/* "gslb_golddr_alone", "gold_probe_down_here", ... (the check label). */
const char *sw_check_name(enum sw_check c);

void sw_evidence_eval(const struct sw_evidence_input *in, const struct sw_evidence_policy *p,
                      struct sw_evidence *out);

#endif
