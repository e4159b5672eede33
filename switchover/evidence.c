/* evidence.c: the automatic failover's evidence, one check at a time (see evidence.h). Each
 * check writes what it saw, passed or not, so that a refusal and an alert can say exactly
 * which fact is missing. */
#include "evidence.h"

#include <stdio.h>

static const char *const check_names[SW_CHECK_COUNT] = {
    "gslb_golddr_alone",    "gold_probe_down_here",      "gold_probe_down_peer", "peer_agrees",
    "gold_db_not_writable", "golddr_not_in_maintenance", "lag_under_rpo",        "cooldown"};

const char *sw_check_name(enum sw_check c)
{
    return (unsigned)c < SW_CHECK_COUNT ? check_names[c] : "unknown";
}

/* Every answer is golddr alone, held long enough by samples and by time. */
static bool golddr_alone(const struct sw_answer *a, size_t n, double now,
                         const struct sw_evidence_policy *p, char *d, size_t dlen)
{
    if (n == 0) {
        snprintf(d, dlen, "no resolver answered");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        /* The peer's view says how many samples an answer held, not since when (since 0):
         * then only the samples count, and no age is shown (it showed the whole epoch, seen
         * in tests/scenarios/gslb_scenarios.t's peer_agrees). */
        bool since_known = a[i].since > 0;
        if (a[i].cls != GSLB_CLASS_GOLDDR || a[i].held < p->samples ||
            (since_known && now - a[i].since < p->hold_s)) {
            if (since_known)
                snprintf(d, dlen, "resolver %s: %s for %llu samples, %.0fs", a[i].resolver,
                         gslb_class_name(a[i].cls), (unsigned long long)a[i].held,
                         now - a[i].since);
            else
                snprintf(d, dlen, "resolver %s: %s for %llu samples", a[i].resolver,
                         gslb_class_name(a[i].cls), (unsigned long long)a[i].held);
            return false;
        }
    }
    snprintf(d, dlen, "%zu resolvers answer golddr alone for %llu+ samples", n,
             (unsigned long long)p->samples);
    return true;
}

static bool probe_down(const struct sw_probe *pr, const struct sw_evidence_policy *p, char *d,
                       size_t dlen)
{
    if (!pr->known) {
        snprintf(d, dlen, "not probed");
        return false;
    }
    snprintf(d, dlen, "%s for %llu samples", pr->up ? "up" : "down", (unsigned long long)pr->held);
    return !pr->up && pr->held >= p->samples;
}

static void check_peer(const struct sw_world *w, const struct sw_evidence_policy *p,
                       struct sw_evidence *out)
{
    char *d1 = out->check[SW_CHECK_GOLD_PROBE_DOWN_PEER].detail;
    char *d2 = out->check[SW_CHECK_PEER_AGREES].detail;
    size_t n = sizeof(out->check[0].detail);
    if (!w->peer_reachable) {
        snprintf(d1, n, w->peer_known ? "the peer is unreachable" : "no peer is configured");
        snprintf(d2, n, "%s", d1);
        out->check[SW_CHECK_GOLD_PROBE_DOWN_PEER].ok = true;
        out->check[SW_CHECK_PEER_AGREES].ok = true;
        return;
    }
    out->check[SW_CHECK_GOLD_PROBE_DOWN_PEER].ok = probe_down(&w->peer_probe[SW_GOLD], p, d1, n);
    out->check[SW_CHECK_PEER_AGREES].ok =
        golddr_alone(w->peer_answers, w->npeer_answers, w->now, p, d2, n);
}

/* Gold's leader must not take writes as seen from here. Only Gold's own plan demotes it, and
 * GoldDR's promotion guard waits for it read-only (or unreachable): a failover started while
 * it is writable would wait at that guard until its deadline and fail with maintenance on.
 * Found by the two-site lab (tests/scenarios/gslb_scenarios.t, test_switch_to_dr): with only
 * Gold's health API down every other check held and automation started that failover. */
static bool gold_db_not_writable(const struct sw_db *g, double now,
                                 const struct sw_evidence_policy *p, char *d, size_t dlen)
{
    if (g->sql_known && g->sql_writable && now - g->sql_observed_at <= p->fresh_s) {
        snprintf(d, dlen,
                 "gold's PostgreSQL takes writes (pg_is_in_recovery() false, seen %.0fs ago)%s",
                 now - g->sql_observed_at,
                 g->known ? "" : ", though its Patroni does not answer: it is not down");
        return false;
    }
    if (!g->known) {
        snprintf(d, dlen, "gold's database is unreachable");
        return true;
    }
    if (g->leader_writable) {
        snprintf(d, dlen,
                 "gold's leader is writable and reachable: only gold's plan demotes it (ask "
                 "gold for golddr-primary)");
        return false;
    }
    snprintf(d, dlen, "gold's database takes no writes (%s)",
             g->leader_present ? "its leader is read-only" : "no leader");
    return true;
}

void sw_evidence_eval(const struct sw_evidence_input *in, const struct sw_evidence_policy *p,
                      struct sw_evidence *out)
{
    const struct sw_world *w = in->w;
    size_t n = sizeof(out->check[0].detail);
    out->check[SW_CHECK_GSLB_GOLDDR_ALONE].ok = golddr_alone(
        w->answers, w->nanswers, w->now, p, out->check[SW_CHECK_GSLB_GOLDDR_ALONE].detail, n);
    out->check[SW_CHECK_GOLD_PROBE_DOWN_HERE].ok =
        probe_down(&w->probe[SW_GOLD], p, out->check[SW_CHECK_GOLD_PROBE_DOWN_HERE].detail, n);
    check_peer(w, p, out);
    out->check[SW_CHECK_GOLD_DB_NOT_WRITABLE].ok = gold_db_not_writable(
        &w->db[SW_GOLD], w->now, p, out->check[SW_CHECK_GOLD_DB_NOT_WRITABLE].detail, n);
    char *d = out->check[SW_CHECK_GOLDDR_NOT_IN_MAINTENANCE].detail;
    out->check[SW_CHECK_GOLDDR_NOT_IN_MAINTENANCE].ok =
        in->golddr_state_known && in->golddr_state != SW_GOLDDR_MAINTENANCE;
    snprintf(d, n, "golddr is %s",
             in->golddr_state_known ? sw_state_name(in->golddr_state) : "unknown");
    const struct sw_db *dr = &w->db[SW_GOLDDR];
    d = out->check[SW_CHECK_LAG_UNDER_RPO].detail;
    out->check[SW_CHECK_LAG_UNDER_RPO].ok = dr->replay_lag_s >= 0 && dr->replay_lag_s < p->rpo_s;
    if (dr->replay_lag_s < 0)
        snprintf(d, n, "golddr's replay lag is unknown");
    else
        snprintf(d, n, "golddr's replay lag %.1fs, bound %.0fs", dr->replay_lag_s, p->rpo_s);
    d = out->check[SW_CHECK_COOLDOWN].detail;
    double since = in->last_transition_end > 0 ? w->now - in->last_transition_end : -1;
    out->check[SW_CHECK_COOLDOWN].ok = since < 0 || since >= p->cooldown_s;
    if (since < 0)
        snprintf(d, n, "no transition yet");
    else
        snprintf(d, n, "the last transition ended %.0fs ago, cooldown %.0fs", since, p->cooldown_s);
    out->ok = true;
    for (int c = 0; c < SW_CHECK_COUNT; c++) out->ok = out->ok && out->check[c].ok;
}
