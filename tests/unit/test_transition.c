/* test_transition.c: the DR transition table and the judgement of requests (switchover/
 * transition.h), table-driven: every target from every state and source, automation only for
 * active-passive -> golddr-primary and only when on and out of cooldown, confirmation with the
 * peer where the other site's state matters, break-glass force, one plan at a time, and the
 * peer's yes or no. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "transition.h"

#define AP  SW_ACTIVE_PASSIVE
#define DRP SW_GOLDDR_PRIMARY
#define GS  SW_GOLD_STANDBY
#define DRM SW_GOLDDR_MAINTENANCE
#define IND SW_INDEPENDENT

struct judge_case {
    enum sw_state from;
    const char *to;
    enum sw_source source;
    enum sw_verdict want;
    bool confirm;
    unsigned peer_may_be;
    const char *reason_has; /* a piece of the reason */
};

static const struct judge_case cases[] = {
    /* the drill cycle, asked for by a person through the ConfigMap */
    {AP, "golddr-primary", SW_SOURCE_CONFIGMAP, SW_ACCEPT, false, 0, "active-passive -> golddr"},
    {DRP, "gold-standby", SW_SOURCE_CONFIGMAP, SW_ACCEPT, true, 1u << DRP, NULL},
    {GS, "active-passive", SW_SOURCE_API, SW_ACCEPT, true, 1u << GS, NULL},
    /* maintenance and its explicit exit */
    {AP, "golddr-maintenance", SW_SOURCE_API, SW_ACCEPT, true, 1u << AP, NULL},
    {DRM, "active-passive", SW_SOURCE_CONFIGMAP, SW_ACCEPT, true, 1u << DRM, NULL},
    /* pairing a fresh install */
    {IND, "active-passive", SW_SOURCE_API, SW_ACCEPT, true, (1u << IND) | (1u << AP), NULL},
    /* a peer's follow-up is not confirmed again */
    {DRP, "gold-standby", SW_SOURCE_PEER, SW_ACCEPT, false, 1u << DRP, NULL},
    /* refusals say what would be accepted */
    {GS, "golddr-primary", SW_SOURCE_API, SW_REFUSE, false, 0,
     "from gold-standby drwatch goes to active-passive"},
    {DRP, "active-passive", SW_SOURCE_API, SW_REFUSE, false, 0,
     "golddr-primary cannot go to active-passive"},
    {DRM, "golddr-primary", SW_SOURCE_API, SW_REFUSE, false, 0, "cannot go to golddr-primary"},
    {IND, "golddr-primary", SW_SOURCE_CONFIGMAP, SW_REFUSE, false, 0, "from independent"},
    {AP, "bogus", SW_SOURCE_CONFIGMAP, SW_REFUSE, false, 0, "\"bogus\" is not a transition"},
    {AP, "", SW_SOURCE_CONFIGMAP, SW_REFUSE, false, 0, "is not a transition"},
    {AP, "independent", SW_SOURCE_API, SW_REFUSE, false, 0, "is not a transition"},
    {AP, "test-ping-pong", SW_SOURCE_CONFIGMAP, SW_REFUSE, false, 0, "is not a transition"},
    /* already there */
    {DRP, "golddr-primary", SW_SOURCE_CONFIGMAP, SW_NOTHING, false, 0, "already golddr-primary"},
    /* automation: only the one transition */
    {AP, "golddr-primary", SW_SOURCE_AUTOMATION, SW_ACCEPT, false, 0, NULL},
    {DRP, "gold-standby", SW_SOURCE_AUTOMATION, SW_REFUSE, false, 0,
     "only active-passive -> golddr-primary may be automatic"},
    {GS, "active-passive", SW_SOURCE_AUTOMATION, SW_REFUSE, false, 0, "may be automatic"},
    {AP, "golddr-maintenance", SW_SOURCE_AUTOMATION, SW_REFUSE, false, 0, "may be automatic"},
    {AP, "active-passive-force", SW_SOURCE_AUTOMATION, SW_REFUSE, false, 0,
     "automation may not force"},
    /* break-glass */
    {DRM, "active-passive-force", SW_SOURCE_API, SW_ACCEPT, false, 0, "break-glass"},
    {IND, "active-passive-force", SW_SOURCE_CONFIGMAP, SW_ACCEPT, false, 0, "break-glass"},
};

static void test_table(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct judge_case *c = &cases[i];
        struct sw_view v = {.site = SW_GOLD, .state = c->from, .automation = true};
        struct sw_request r = {.source = c->source};
        snprintf(r.to, sizeof(r.to), "%s", c->to);
        struct sw_decision d;
        sw_judge(&v, &r, &d);
        bool good = d.verdict == c->want && d.confirm == c->confirm &&
                    (!c->confirm || d.peer_may_be == c->peer_may_be) &&
                    (!c->reason_has || strstr(d.reason, c->reason_has));
        if (!ok(good, "%s -> %s asked by %s: %s", sw_state_name(c->from), c->to,
                sw_source_name(c->source),
                c->want == SW_ACCEPT    ? "accepted"
                : c->want == SW_NOTHING ? "nothing to do"
                                        : "refused"))
            diag("verdict %d confirm %d mask %#x reason: %s", d.verdict, d.confirm, d.peer_may_be,
                 d.reason);
    }
}

static void test_conditions(void)
{
    struct sw_request r = {.to = "golddr-primary", .source = SW_SOURCE_AUTOMATION};
    struct sw_decision d;
    struct sw_view v = {.site = SW_GOLDDR, .state = AP, .automation = false};
    sw_judge(&v, &r, &d);
    ok(d.verdict == SW_REFUSE && strstr(d.reason, "automation is off"),
       "automation off: the automatic failover is refused and the reason says so");
    v.automation = true;
    v.in_cooldown = true;
    sw_judge(&v, &r, &d);
    ok(d.verdict == SW_REFUSE && strstr(d.reason, "cooldown"), "within the cooldown: refused");
    r.source = SW_SOURCE_API;
    sw_judge(&v, &r, &d);
    ok(d.verdict == SW_ACCEPT, "the cooldown holds back automation, not a person");
    v.plan_running = true;
    sw_judge(&v, &r, &d);
    ok(d.verdict == SW_REFUSE && strstr(d.reason, "one plan at a time"),
       "a plan is running: every request is refused, one plan at a time");
    snprintf(r.to, sizeof(r.to), "active-passive-force");
    sw_judge(&v, &r, &d);
    ok(d.verdict == SW_REFUSE, "even break-glass waits for the running plan");

    struct sw_view u = {.site = SW_GOLD, .state = GS, .state_unreadable = true};
    snprintf(r.to, sizeof(r.to), "active-passive");
    sw_judge(&u, &r, &d);
    ok(d.verdict == SW_REFUSE && strstr(d.reason, "cannot be read"),
       "an unreadable label (an old agent's -partial) is refused with what to do");
    snprintf(r.to, sizeof(r.to), "active-passive-force");
    sw_judge(&u, &r, &d);
    ok(d.verdict == SW_ACCEPT && d.force && d.tell_peer,
       "break-glass takes it, and tells the peer");
    r.force = true;
    snprintf(r.to, sizeof(r.to), "gold-standby");
    sw_judge(&u, &r, &d);
    ok(d.verdict == SW_REFUSE && strstr(d.reason, "only to active-passive"),
       "force with another target is refused");
}

static void test_confirm(void)
{
    char why[256];
    ok(sw_confirm(DRP, false, 1u << DRP, why, sizeof(why)), "yes: golddr-primary, nothing pending");
    ok(!sw_confirm(DRP, true, 1u << DRP, why, sizeof(why)) && strstr(why, "asked for or running"),
       "no, with the reason: a transition is pending here");
    ok(!sw_confirm(AP, false, 1u << GS, why, sizeof(why)) &&
           strcmp(why, "this site is active-passive, not gold-standby") == 0,
       "no, with the reason: the wrong state (%s)", why);
    ok(sw_confirm(AP, false, (1u << IND) | (1u << AP), why, sizeof(why)), "yes: one of two states");
}

static void test_names(void)
{
    enum sw_state s;
    ok(sw_state_parse("", &s) == 0 && s == IND, "an empty label is independent (bootstrap)");
    ok(sw_state_parse("gold-standby-partial", &s) == -EAGAIN,
       "the old agent's -partial labels are told apart from junk");
    ok(sw_state_parse("Gold-Standby", &s) == -EINVAL, "names are exact");
    for (int i = 0; i < SW_STATE_COUNT; i++)
        ok(sw_state_parse(sw_state_name((enum sw_state)i), &s) == 0 && s == (enum sw_state)i,
           "%s reads back", sw_state_name((enum sw_state)i));
    char t[128];
    sw_states_text((1u << IND) | (1u << AP), t, sizeof(t));
    is_str(t, "independent or active-passive", "a mask of states reads as text");
}

int main(void)
{
    test_table();
    test_conditions();
    test_confirm();
    test_names();
    return done_testing();
}
