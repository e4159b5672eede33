/* transition.c: state names, the transition table and the judgement of requests (see transition.h).
 * The table is data, so that the documentation, the judge and the tests read one thing. */
#include "transition.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "xalloc.h"

static const char *const state_names[SW_STATE_COUNT] = {
    "independent", "active-passive", "golddr-primary", "gold-standby", "golddr-maintenance"};
static const char *const site_names[SW_SITE_COUNT] = {"gold", "golddr"};
static const char *const source_names[SW_SOURCE_COUNT] = {"configmap", "api", "automation", "peer"};

#define BIT(s) (1u << (s))

/* One allowed transition. */
struct edge {
    enum sw_state from, to;
    bool automatic;       /* may come from automation */
    unsigned peer_may_be; /* confirm with the peer unless 0 */
};

static const struct edge edges[] = {
    {SW_ACTIVE_PASSIVE, SW_GOLDDR_PRIMARY, true, 0},
    {SW_GOLDDR_PRIMARY, SW_GOLD_STANDBY, false, BIT(SW_GOLDDR_PRIMARY)},
    {SW_GOLD_STANDBY, SW_ACTIVE_PASSIVE, false, BIT(SW_GOLD_STANDBY)},
    {SW_ACTIVE_PASSIVE, SW_GOLDDR_MAINTENANCE, false, BIT(SW_ACTIVE_PASSIVE)},
    {SW_GOLDDR_MAINTENANCE, SW_ACTIVE_PASSIVE, false, BIT(SW_GOLDDR_MAINTENANCE)},
    {SW_INDEPENDENT, SW_ACTIVE_PASSIVE, false, BIT(SW_INDEPENDENT) | BIT(SW_ACTIVE_PASSIVE)},
};

const char *sw_state_name(enum sw_state s)
{
    return (unsigned)s < SW_STATE_COUNT ? state_names[s] : "unknown";
}

const char *sw_site_name(enum sw_site s)
{
    return (unsigned)s < SW_SITE_COUNT ? site_names[s] : "unknown";
}

const char *sw_source_name(enum sw_source s)
{
    return (unsigned)s < SW_SOURCE_COUNT ? source_names[s] : "unknown";
}

int sw_state_parse(const char *text, enum sw_state *out)
{
    if (!text[0]) {
        *out = SW_INDEPENDENT;
        return 0;
    }
    for (int s = 0; s < SW_STATE_COUNT; s++) {
        if (strcmp(text, state_names[s]) == 0) {
            *out = (enum sw_state)s;
            return 0;
        }
    }
    size_t n = strlen(text);
    if (n > 8 && strcmp(text + n - 8, "-partial") == 0) return -EAGAIN;
    return -EINVAL;
}

int sw_site_parse(const char *text, enum sw_site *out)
{
    for (int s = 0; s < SW_SITE_COUNT; s++) {
        if (strcmp(text, site_names[s]) == 0) {
            *out = (enum sw_site)s;
            return 0;
        }
    }
    return -EINVAL;
}

void sw_states_text(unsigned mask, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (int s = 0; s < SW_STATE_COUNT && n < outlen; s++) {
        if (!(mask & BIT(s))) continue;
        int w = snprintf(out + n, outlen - n, "%s%s", n ? " or " : "", state_names[s]);
        if (w < 0) break;
        n += (size_t)w;
    }
}

size_t sw_edge_count(void)
{
    return ARRAY_LEN(edges);
}

void sw_edge_get(size_t i, enum sw_state *from, enum sw_state *to)
{
    *from = edges[i].from;
    *to = edges[i].to;
}

static const struct edge *find_edge(enum sw_state from, enum sw_state to)
{
    for (size_t i = 0; i < ARRAY_LEN(edges); i++)
        if (edges[i].from == from && edges[i].to == to) return &edges[i];
    return NULL;
}

/* The targets reachable from `from`, for a refusal that says what would be accepted. */
static void targets_text(enum sw_state from, char *out, size_t outlen)
{
    unsigned mask = 0;
    for (size_t i = 0; i < ARRAY_LEN(edges); i++)
        if (edges[i].from == from) mask |= BIT(edges[i].to);
    if (mask)
        sw_states_text(mask, out, outlen);
    else
        snprintf(out, outlen, "nothing");
}

__attribute__((format(printf, 2, 3))) static void refuse(struct sw_decision *d, const char *fmt,
                                                         ...);
static void refuse(struct sw_decision *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
    va_end(ap);
    d->verdict = SW_REFUSE;
}

/* Reads r->to into d->to and d->force; false (refused) when it names no target. */
static bool read_target(const struct sw_request *r, struct sw_decision *d)
{
    d->force = r->force;
    if (strcmp(r->to, "active-passive-force") == 0) {
        d->to = SW_ACTIVE_PASSIVE;
        d->force = true;
        return true;
    }
    enum sw_state to;
    if (r->to[0] && sw_state_parse(r->to, &to) == 0 && to != SW_INDEPENDENT) {
        d->to = to;
        return true;
    }
    d->malformed = true;
    refuse(d,
           "\"%.40s\" is not a transition: ask for active-passive, golddr-primary, "
           "gold-standby, golddr-maintenance or active-passive-force",
           r->to);
    return false;
}

/* Break-glass: only a person, only to active-passive. */
static void judge_force(const struct sw_view *v, const struct sw_request *r, struct sw_decision *d)
{
    if (r->source == SW_SOURCE_AUTOMATION)
        return refuse(d, "automation may not force a transition");
    if (d->to != SW_ACTIVE_PASSIVE)
        return refuse(d, "force applies only to active-passive (break-glass), not to %s",
                      sw_state_name(d->to));
    d->verdict = SW_ACCEPT;
    d->tell_peer = r->source != SW_SOURCE_PEER;
    snprintf(d->reason, sizeof(d->reason),
             "break-glass: %s -> active-passive without the source-state and peer checks",
             v->state_unreadable ? "(unreadable state)" : sw_state_name(v->state));
}

void sw_judge(const struct sw_view *v, const struct sw_request *r, struct sw_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->from = v->state;
    if (!read_target(r, d)) return;
    if (v->plan_running) return refuse(d, "a plan is running; one plan at a time");
    if (d->force) return judge_force(v, r, d);
    if (v->state_unreadable)
        return refuse(d, "this site's state label cannot be read (an old agent's -partial "
                         "label?): look, then use active-passive-force if the pair is whole");
    if (d->to == v->state) {
        d->verdict = SW_NOTHING;
        snprintf(d->reason, sizeof(d->reason), "already %s", sw_state_name(v->state));
        return;
    }
    const struct edge *e = find_edge(v->state, d->to);
    if (!e) {
        char ok[128];
        targets_text(v->state, ok, sizeof(ok));
        return refuse(d, "%s cannot go to %s; from %s drwatch goes to %s", sw_state_name(v->state),
                      sw_state_name(d->to), sw_state_name(v->state), ok);
    }
    if (r->source == SW_SOURCE_AUTOMATION) {
        if (!e->automatic)
            return refuse(d, "only active-passive -> golddr-primary may be automatic");
        if (!v->automation) return refuse(d, "automation is off (automation = false)");
        if (v->in_cooldown) return refuse(d, "a transition ended within the cooldown");
    }
    d->verdict = SW_ACCEPT;
    /* The peer asked us to follow: it has confirmed with us already, and needs no telling. */
    d->confirm = e->peer_may_be != 0 && r->source != SW_SOURCE_PEER;
    d->peer_may_be = e->peer_may_be;
    d->tell_peer = r->source != SW_SOURCE_PEER;
    snprintf(d->reason, sizeof(d->reason), "%s -> %s", sw_state_name(v->state),
             sw_state_name(d->to));
}

bool sw_confirm(enum sw_state mine, bool pending, unsigned may_be, char *reason, size_t reasonlen)
{
    char want[128];
    sw_states_text(may_be, want, sizeof(want));
    if (pending) {
        snprintf(reason, reasonlen, "a transition is asked for or running here");
        return false;
    }
    if (!(may_be & BIT(mine))) {
        snprintf(reason, reasonlen, "this site is %s, not %s", sw_state_name(mine), want);
        return false;
    }
    snprintf(reason, reasonlen, "this site is %s with nothing pending", sw_state_name(mine));
    return true;
}
