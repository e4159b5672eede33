/* transition.h: the DR states of the pair, the transitions between them, and the judgement of a
 * transition request against what this site knows. Pure: no I/O, no clock of its own.
 *
 * States, as the switchover-state ConfigMap's last_stable_state names them (compatible with
 * the old agent): independent (the ConfigMap holds none), active-passive (Gold serves, GoldDR
 * is a standby cluster offered to the GSLB as fallback), golddr-primary (GoldDR serves, Gold is
 * withdrawn), gold-standby (GoldDR serves and Gold is a standby cluster of it),
 * golddr-maintenance (Gold serves; GoldDR runs standalone, withdrawn, for maintenance).
 *
 * The transitions, each asked for on one site and confirmed with the peer where the other
 * site's state matters (the old agent's handshake, with an explicit yes or no):
 *
 *   to                  from                         who                confirm: peer must be
 *   golddr-primary      active-passive               person, or auto    (none; the peer is told)
 *   gold-standby        golddr-primary               person             golddr-primary, idle
 *   active-passive      gold-standby                 person             gold-standby, idle
 *   golddr-maintenance  active-passive               person             active-passive, idle
 *   active-passive      golddr-maintenance           person             golddr-maintenance, idle
 *   active-passive      independent (pairing)        person             independent or
 *                                                                       active-passive, idle
 *   active-passive      any (active-passive-force)   person, force      (none: break-glass)
 *
 * Only active-passive -> golddr-primary may be automatic. The exit from golddr-maintenance is
 * an ordinary transition (the old agent needed two manual edits and a force). */
#ifndef DRWATCH_TRANSITION_H
#define DRWATCH_TRANSITION_H

#include <stdbool.h>
#include <stddef.h>

enum sw_state {
    SW_INDEPENDENT,
    SW_ACTIVE_PASSIVE,
    SW_GOLDDR_PRIMARY,
    SW_GOLD_STANDBY,
    SW_GOLDDR_MAINTENANCE,
    SW_STATE_COUNT
};

enum sw_site { SW_GOLD, SW_GOLDDR, SW_SITE_COUNT };

/* Where a request came from: drwatch_transition_requests_total{source}. */
enum sw_source {
    SW_SOURCE_CONFIGMAP, /* a person wrote `transition` (the old agent's interface) */
    SW_SOURCE_API,       /* POST /api/v1/transition with the bearer token */
    SW_SOURCE_AUTOMATION,
    SW_SOURCE_PEER, /* the other site asked this one to follow */
    SW_SOURCE_COUNT
};

/* "independent", "active-passive", ... */
const char *sw_state_name(enum sw_state s);
/* Reads a state name. "" is independent (the old agent's bootstrap label). The old agent's
 * in-progress labels ("gold-standby-partial", "active-passive-partial") are -EAGAIN: a plan of
 * the old agent was cut short, and a person must look. Anything else is -EINVAL. */
int sw_state_parse(const char *text, enum sw_state *out);
const char *sw_site_name(enum sw_site s); /* "gold", "golddr" */
int sw_site_parse(const char *text, enum sw_site *out);
const char *sw_source_name(enum sw_source s);

/* A transition request. `to` is a target name as written: a state, or "active-passive-force"
 * (then force is implied). */
struct sw_request {
    char to[32];
    char reason[256]; /* why, from the person or the rule; shown in the journal */
    enum sw_source source;
    bool force;   /* break-glass: skips the source-state and peer checks, never the safety
                     rules (guards.h) */
    bool dry_run; /* plan and answer, execute nothing */
};

/* What this site knows when it judges a request. */
struct sw_view {
    enum sw_site site;
    enum sw_state state;   /* this site's last stable state */
    bool state_unreadable; /* the ConfigMap holds a label drwatch cannot take (e.g. -partial) */
    bool plan_running;     /* one plan at a time */
    bool automation;       /* automation = true in the config */
    bool in_cooldown;      /* a transition ended less than the cooldown ago */
};

enum sw_verdict {
    SW_ACCEPT,  /* make the plan (and confirm with the peer first when confirm is set) */
    SW_NOTHING, /* already there: clear the request, touch nothing else */
    SW_REFUSE,  /* refused with reason; touches nothing */
};

struct sw_decision {
    enum sw_verdict verdict;
    enum sw_state from, to;
    bool force;
    bool confirm;         /* ask the peer before acting */
    unsigned peer_may_be; /* when confirm: the peer's state must be one of these (bit 1 << s),
                             with nothing pending there */
    bool tell_peer;       /* the peer follows: send it the transition after acting */
    char reason[256];     /* for a refusal (and a one-line summary otherwise) */
    bool malformed;       /* refused because `to` names no target (not because of the state) */
};

/* Judges r against v. Fills d; never fails. */
void sw_judge(const struct sw_view *v, const struct sw_request *r, struct sw_decision *d);

/* The peer's side of a confirmation: whether this site, in state `mine` with `pending` set
 * when a transition is asked for or running here, agrees to the peer's transition that needs
 * it in one of the states of `may_be` (bit 1 << s). Returns true, or false with the reason
 * filled (the "no" is sent back: a refusal is never silence). */
bool sw_confirm(enum sw_state mine, bool pending, unsigned may_be, char *reason, size_t reasonlen);

/* The transition table's edges, for those that need one entry per transition (plans). */
size_t sw_edge_count(void);
void sw_edge_get(size_t i, enum sw_state *from, enum sw_state *to);

/* "gold-standby or golddr-primary": the states of a mask, for messages. */
void sw_states_text(unsigned mask, char *out, size_t outlen);

#endif
