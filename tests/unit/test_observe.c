/* test_observe.c: the switchover part's world read from a snapshot (switchover/observe.h):
 * the series the Patroni, PostgreSQL, GSLB and peer collectors publish become each site's
 * database, each resolver's answer with its streak, each site's probe, and the peer's view;
 * what is absent stays unknown, and an unreachable peer's last words are not taken. */
#include <math.h>
#include <string.h>

#include "observe.h"
#include "tap.h"

static struct metric_set *m;

static void put(const char *name, double v, const char *k1, const char *v1, const char *k2,
                const char *v2, const char *k3, const char *v3)
{
    struct metric_family *f = mset_family(m, name, METRIC_GAUGE, "test");
    struct label_pair l[3] = {{k1, v1}, {k2, v2}, {k3, v3}};
    size_t n = k3 ? 3 : k2 ? 2 : k1 ? 1 : 0;
    mset_add(m, f, SUFFIX_NONE, l, n, v);
}

static struct snapshot *failover_snapshot(bool peer_up)
{
    m = mset_new();
    put("drwatch_patroni_leader_present", 1, "site", "golddr", NULL, NULL, NULL, NULL);
    put("drwatch_patroni_leader_writable", 0, "site", "golddr", NULL, NULL, NULL, NULL);
    put("drwatch_patroni_standby_cluster", 1, "site", "golddr", NULL, NULL, NULL, NULL);
    put("drwatch_patroni_member_info", 1, "site", "golddr", "member", "dr0", "state", "streaming");
    put("drwatch_patroni_member_info", 1, "site", "golddr", "member", "dr1", "state", "running");
    put("drwatch_postgres_wal_replay_lsn_bytes", 5000, "site", "golddr", "target", "a", NULL, NULL);
    put("drwatch_postgres_wal_replay_lsn_bytes", 4000, "site", "golddr", "target", "b", NULL, NULL);
    put("drwatch_postgres_replay_lag_seconds", 0.5, "site", "golddr", NULL, NULL, NULL, NULL);
    put("drwatch_collector_last_success_timestamp_seconds", 9999, "collector", "patroni", "site",
        "golddr", NULL, NULL);
    put("drwatch_collector_last_success_timestamp_seconds", 5000, "collector", "patroni", "site",
        "gold", NULL, NULL);
    put("drwatch_patroni_leader_present", 0, "site", "gold", NULL, NULL, NULL, NULL);
    put("drwatch_postgres_in_recovery", 1, "site", "golddr", "target", "a", NULL, NULL);
    put("drwatch_postgres_in_recovery", 0, "site", "gold", "target", "g1", NULL, NULL);
    put("drwatch_postgres_in_recovery", 1, "site", "gold", "target", "g2", NULL, NULL);
    put("drwatch_collector_last_success_timestamp_seconds", 9998, "collector", "postgres", "site",
        "gold", NULL, NULL);
    const char *classes[] = {"gold", "golddr", "both", "none", "unknown", "error"};
    for (int i = 0; i < 6; i++) {
        put("drwatch_gslb_answer_class", i == 1, "resolver", "10.0.0.53", "class", classes[i], NULL,
            NULL);
        put("drwatch_gslb_answer_class", i == 5, "resolver", "10.0.1.53", "class", classes[i], NULL,
            NULL);
    }
    put("drwatch_gslb_class_held_samples", 5, "resolver", "10.0.0.53", NULL, NULL, NULL, NULL);
    put("drwatch_gslb_class_held_samples", 2, "resolver", "10.0.1.53", NULL, NULL, NULL, NULL);
    put("drwatch_gslb_class_since_timestamp_seconds", 9900, "resolver", "10.0.0.53", NULL, NULL,
        NULL, NULL);
    put("drwatch_gslb_probe_status", 1, "site", "gold", "probe", "p1", "status", "down");
    put("drwatch_gslb_probe_status", 0, "site", "gold", "probe", "p1", "status", "up");
    put("drwatch_gslb_probe_status", 1, "site", "gold", "probe", "p2", "status", "wrong_body");
    put("drwatch_gslb_probe_status_held_samples", 7, "site", "gold", "probe", "p1", NULL, NULL);
    put("drwatch_gslb_probe_status_held_samples", 4, "site", "gold", "probe", "p2", NULL, NULL);
    put("drwatch_gslb_probe_status", 1, "site", "golddr", "probe", "p1", "status", "up");
    put("drwatch_collector_up", peer_up, "collector", "peer", "site", "gold", NULL, NULL);
    put("drwatch_peer_info", 1, "site", "gold", "state", "active-passive", NULL, NULL);
    put("drwatch_peer_gslb_answer_class", 1, "site", "gold", "resolver", "10.1.0.53", "class",
        "golddr");
    put("drwatch_peer_gslb_class_held_samples", 9, "site", "gold", "resolver", "10.1.0.53", NULL,
        NULL);
    put("drwatch_peer_probe_status", 1, "site", "gold", "probe_site", "gold", "status", "down");
    struct snapshot *s = snapshot_new(&m, 1, 1);
    mset_unref(m);
    return s;
}

static const struct sw_answer *find(const struct sw_answer *a, size_t n, const char *r)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i].resolver, r) == 0) return &a[i];
    return NULL;
}

int main(void)
{
    struct sw_world w;
    struct snapshot *s = failover_snapshot(false);
    sw_observe(s, SW_GOLDDR, 10000, &w);
    const struct sw_db *dr = &w.db[SW_GOLDDR], *g = &w.db[SW_GOLD];
    ok(w.self == SW_GOLDDR && w.now == 10000, "self and now as given");
    ok(dr->known && dr->leader_present && !dr->leader_writable && dr->standby_cluster,
       "golddr: a standby cluster with a (standby) leader");
    ok(dr->healthy, "every golddr member running or streaming: healthy");
    ok(dr->lsn_known && dr->lsn == 5000, "the furthest position of the site's targets: 5000");
    ok(dr->replay_lag_s == 0.5 && dr->observed_at == 9999, "lag and when Patroni last answered");
    ok(g->known && !g->leader_present && !g->lsn_known && g->replay_lag_s < 0 &&
           g->observed_at == 5000,
       "gold: no leader, no position, lag unknown, last seen long ago");
    ok(g->sql_known && g->sql_writable && g->sql_observed_at == 9998,
       "gold over SQL: one of its targets is not in recovery (writable), read at 9998");
    ok(dr->sql_known && !dr->sql_writable && dr->sql_observed_at == 0,
       "golddr over SQL: in recovery; no postgres success series, so never fresh");
    ok(w.nanswers == 2, "two resolvers");
    const struct sw_answer *a = find(w.answers, w.nanswers, "10.0.0.53");
    const struct sw_answer *b = find(w.answers, w.nanswers, "10.0.1.53");
    ok(a && a->cls == GSLB_CLASS_GOLDDR && a->held == 5 && a->since == 9900,
       "resolver 10.0.0.53: golddr for 5 samples since 9900");
    ok(b && b->cls == GSLB_CLASS_ERROR && b->held == 2, "resolver 10.0.1.53: error");
    ok(w.probe[SW_GOLD].known && !w.probe[SW_GOLD].up && w.probe[SW_GOLD].held == 4,
       "gold's probes all fail: down, for the shorter streak (4)");
    ok(w.probe[SW_GOLDDR].known && w.probe[SW_GOLDDR].up, "golddr's probe is up");
    ok(w.peer_known && !w.peer_reachable && !w.peer_state_known && w.npeer_answers == 0,
       "peer unreachable: its last view is not taken");
    snapshot_unref(s);

    s = failover_snapshot(true);
    sw_observe(s, SW_GOLDDR, 10000, &w);
    a = find(w.peer_answers, w.npeer_answers, "10.1.0.53");
    ok(w.peer_reachable && w.peer_state_known && w.peer_state == SW_ACTIVE_PASSIVE,
       "peer reachable: its state");
    ok(a && a->cls == GSLB_CLASS_GOLDDR && a->held == 9, "and its own resolver's answer");
    ok(w.peer_probe[SW_GOLD].known && !w.peer_probe[SW_GOLD].up, "and its probe of gold");
    snapshot_unref(s);

    sw_observe(NULL, SW_GOLD, 1, &w);
    ok(!w.db[0].known && !w.db[1].known && w.nanswers == 0 && !w.peer_known,
       "nothing published yet: everything unknown");
    return done_testing();
}
