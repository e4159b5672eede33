/* guards.c: the safety rules of guards.h. Every rule reads only the world it is given, so the
 * same world always gives the same answer, in a test as in the executor. */
#include "guards.h"

#include <stdio.h>

static bool fresh(const struct sw_world *w, const struct sw_db *db, const struct sw_guard_policy *p)
{
    return db->known && w->now - db->observed_at <= p->fresh_s;
}

bool sw_gslb_excludes(const struct sw_world *w, enum sw_site site, const struct sw_guard_policy *p,
                      char *why, size_t whylen)
{
    if (w->nanswers == 0) {
        snprintf(why, whylen, "no GSLB resolver is configured: the GSLB cannot show %s withdrawn",
                 sw_site_name(site));
        return false;
    }
    enum gslb_class other_only = site == SW_GOLD ? GSLB_CLASS_GOLDDR : GSLB_CLASS_GOLD;
    for (size_t i = 0; i < w->nanswers; i++) {
        const struct sw_answer *a = &w->answers[i];
        bool excludes = a->cls == other_only || a->cls == GSLB_CLASS_NONE;
        if (!excludes || a->held < p->samples) {
            snprintf(why, whylen,
                     "resolver %s answers %s (%llu samples): not %s withdrawn for %llu samples",
                     a->resolver, gslb_class_name(a->cls), (unsigned long long)a->held,
                     sw_site_name(site), (unsigned long long)p->samples);
            return false;
        }
    }
    snprintf(why, whylen, "every resolver excludes %s for %llu samples or more", sw_site_name(site),
             (unsigned long long)p->samples);
    return true;
}

bool sw_sql_writable(const struct sw_world *w, const struct sw_db *db,
                     const struct sw_guard_policy *p)
{
    return db->sql_known && db->sql_writable && w->now - db->sql_observed_at <= p->fresh_s;
}

/* The other site is reachable: it must be read-only, withdrawn, and replayed up to here. */
static bool promote_planned(const struct sw_world *w, const struct sw_guard_policy *p, char *why,
                            size_t whylen)
{
    enum sw_site other = sw_other(w->self);
    const struct sw_db *o = &w->db[other], *me = &w->db[w->self];
    if (o->leader_writable) {
        snprintf(why, whylen, "%s's leader is writable: it must be demoted first",
                 sw_site_name(other));
        return false;
    }
    if (!sw_gslb_excludes(w, other, p, why, whylen)) return false;
    if (!o->lsn_known || !me->lsn_known || me->lsn < o->lsn) {
        snprintf(why, whylen,
                 "%s has replayed up to %llu of the %llu bytes %s wrote: wait for it (RPO 0)",
                 sw_site_name(w->self), (unsigned long long)me->lsn, (unsigned long long)o->lsn,
                 sw_site_name(other));
        return false;
    }
    snprintf(why, whylen, "%s is read-only and withdrawn, and everything it wrote is replayed",
             sw_site_name(other));
    return true;
}

bool sw_guard_promote(const struct sw_world *w, const struct sw_guard_policy *p, char *why,
                      size_t whylen)
{
    enum sw_site other = sw_other(w->self);
    /* Patroni's REST API may hang (or lag) while PostgreSQL goes on taking writes: the other
     * site then looks unreachable, and the GSLB excluding it would let this site promote
     * beside a live primary. The postgres collector's own look at it, when fresh, decides. */
    if (sw_sql_writable(w, &w->db[other], p)) {
        snprintf(why, whylen,
                 "%s's PostgreSQL takes writes (pg_is_in_recovery() false, seen %.0fs ago): it "
                 "is not fenced, whatever its Patroni says",
                 sw_site_name(other), w->now - w->db[other].sql_observed_at);
        return false;
    }
    if (fresh(w, &w->db[other], p)) return promote_planned(w, p, why, whylen);
    /* Unreachable (or not observed lately): it may still be writable, so the GSLB must show
     * it cut off from traffic. */
    if (!sw_gslb_excludes(w, other, p, why, whylen)) {
        char detail[200];
        snprintf(detail, sizeof(detail), "%s", why);
        snprintf(why, whylen, "%s is not observed and the GSLB does not exclude it: %s",
                 sw_site_name(other), detail);
        return false;
    }
    snprintf(why, whylen, "%s is unreachable and every resolver has excluded it for %llu samples",
             sw_site_name(other), (unsigned long long)p->samples);
    return true;
}

bool sw_site_should_be_standby(enum sw_state pair, enum sw_site site)
{
    if (site == SW_GOLD) return pair == SW_GOLDDR_PRIMARY || pair == SW_GOLD_STANDBY;
    return pair == SW_ACTIVE_PASSIVE;
}

bool sw_guard_fence(const struct sw_world *w, enum sw_state pair, char *why, size_t whylen)
{
    const struct sw_db *me = &w->db[w->self];
    if (!sw_site_should_be_standby(pair, w->self) || !me->known || !me->leader_writable) {
        snprintf(why, whylen, "nothing to fence");
        return false;
    }
    snprintf(why, whylen, "the pair is %s, which makes %s the standby, but its leader is writable",
             sw_state_name(pair), sw_site_name(w->self));
    return true;
}

bool sw_guard_destructive(const struct sw_world *w, bool marked, const struct sw_guard_policy *p,
                          char *why, size_t whylen)
{
    enum sw_site other = sw_other(w->self);
    const struct sw_db *o = &w->db[other], *me = &w->db[w->self];
    if (!marked) {
        snprintf(why, whylen, "the plan does not mark this step destructive");
        return false;
    }
    if (!fresh(w, o, p) || !o->healthy || !o->leader_writable) {
        snprintf(why, whylen, "%s's database is not a freshly verified healthy leader",
                 sw_site_name(other));
        return false;
    }
    /* Wiping this site must lose nothing: the peer has everything this site had, by WAL
     * position when both are known, else by this site's last replication lag. */
    if (me->lsn_known && o->lsn_known) {
        if (o->lsn < me->lsn) {
            snprintf(why, whylen, "%s has written %llu bytes, less than the %llu %s holds",
                     sw_site_name(other), (unsigned long long)o->lsn, (unsigned long long)me->lsn,
                     sw_site_name(w->self));
            return false;
        }
    } else if (me->replay_lag_s < 0 || me->replay_lag_s > p->max_lag_s) {
        snprintf(why, whylen, "replication lag %.1fs is %s the %.0fs bound", me->replay_lag_s,
                 me->replay_lag_s < 0 ? "unknown, not under" : "over", p->max_lag_s);
        return false;
    }
    snprintf(why, whylen, "%s is a healthy leader holding everything %s had", sw_site_name(other),
             sw_site_name(w->self));
    return true;
}
