/* test_guards.c: the safety rules (switchover/guards.h) and the automatic failover's evidence
 * (switchover/evidence.h) on worlds built here: promotion only with the other site fenced or
 * unreachable and withdrawn, and with everything replayed when it is reachable; fencing a
 * writable leader that the pair's state makes the standby; destructive steps only when marked
 * and safe; and evidence that no resolver fault, empty or two-address answer can supply. */
#include <stdio.h>
#include <string.h>

#include "evidence.h"
#include "guards.h"
#include "tap.h"

static const struct sw_guard_policy gp = {.samples = 3, .fresh_s = 15, .max_lag_s = 30};
static const struct sw_evidence_policy ep = {
    .samples = 3, .hold_s = 15, .rpo_s = 30, .cooldown_s = 600, .fresh_s = 15};

/* Gold is down and withdrawn; GoldDR (self) is a caught-up standby cluster. */
static struct sw_world failover_world(void)
{
    struct sw_world w = {.now = 10000, .self = SW_GOLDDR, .peer_known = true};
    w.db[SW_GOLDDR] = (struct sw_db){.known = true,
                                     .leader_present = true,
                                     .standby_cluster = true,
                                     .healthy = true,
                                     .lsn_known = true,
                                     .lsn = 5000,
                                     .replay_lag_s = 0.5,
                                     .observed_at = 9999};
    w.nanswers = 2;
    w.answers[0] = (struct sw_answer){"10.0.0.53", GSLB_CLASS_GOLDDR, 5, 9900};
    w.answers[1] = (struct sw_answer){"10.0.1.53", GSLB_CLASS_GOLDDR, 4, 9950};
    w.probe[SW_GOLD] = (struct sw_probe){.known = true, .up = false, .held = 6};
    w.probe[SW_GOLDDR] = (struct sw_probe){.known = true, .up = true, .held = 100};
    return w;
}

static void test_promote(void)
{
    char why[256];
    struct sw_world w = failover_world();
    ok(sw_guard_promote(&w, &gp, why, sizeof(why)) && strstr(why, "unreachable"),
       "gold unreachable and excluded by every resolver for 3+ samples: promote (%s)", why);
    w.answers[1].held = 2;
    ok(!sw_guard_promote(&w, &gp, why, sizeof(why)) && strstr(why, "10.0.1.53"),
       "one resolver short of 3 samples: no (%s)", why);
    w.answers[1] = (struct sw_answer){"10.0.1.53", GSLB_CLASS_ERROR, 50, 1};
    ok(!sw_guard_promote(&w, &gp, why, sizeof(why)), "a resolver error never shows gold withdrawn");
    w.answers[1] = (struct sw_answer){"10.0.1.53", GSLB_CLASS_BOTH, 50, 1};
    ok(!sw_guard_promote(&w, &gp, why, sizeof(why)),
       "a two-address answer never shows gold withdrawn");
    w.answers[1] = (struct sw_answer){"10.0.1.53", GSLB_CLASS_NONE, 50, 1};
    ok(sw_guard_promote(&w, &gp, why, sizeof(why)),
       "an empty answer does exclude gold (both down)");
    w.nanswers = 0;
    ok(!sw_guard_promote(&w, &gp, why, sizeof(why)) && strstr(why, "no GSLB resolver"),
       "without resolvers nothing can show gold withdrawn");

    /* planned: gold reachable */
    w = failover_world();
    w.db[SW_GOLD] = (struct sw_db){.known = true,
                                   .leader_present = true,
                                   .leader_writable = true,
                                   .healthy = true,
                                   .lsn_known = true,
                                   .lsn = 5000,
                                   .observed_at = 9999};
    ok(!sw_guard_promote(&w, &gp, why, sizeof(why)) && strstr(why, "writable"),
       "gold reachable and writable: never two writable primaries (%s)", why);
    w.db[SW_GOLD].leader_writable = false;
    w.db[SW_GOLD].standby_cluster = true;
    w.db[SW_GOLD].lsn = 6000;
    ok(!sw_guard_promote(&w, &gp, why, sizeof(why)) && strstr(why, "RPO 0"),
       "gold demoted, but golddr has not replayed all gold wrote: wait (%s)", why);
    w.db[SW_GOLDDR].lsn = 6000;
    ok(sw_guard_promote(&w, &gp, why, sizeof(why)), "demoted, withdrawn, replayed: promote (%s)",
       why);
    w.answers[0].cls = GSLB_CLASS_GOLD;
    ok(!sw_guard_promote(&w, &gp, why, sizeof(why)),
       "gold read-only but still answered by the GSLB: no");
    w = failover_world();
    w.db[SW_GOLD] = (struct sw_db){.known = true, .leader_writable = true, .observed_at = 9000};
    ok(sw_guard_promote(&w, &gp, why, sizeof(why)),
       "an observation older than fresh_s counts as unreachable (GSLB rule applies)");
}

static void test_fence(void)
{
    char why[256];
    struct sw_world w = {.now = 100, .self = SW_GOLD};
    w.db[SW_GOLD] = (struct sw_db){.known = true, .leader_present = true, .leader_writable = true};
    ok(sw_guard_fence(&w, SW_GOLDDR_PRIMARY, why, sizeof(why)) && strstr(why, "golddr-primary"),
       "gold writable while the pair is golddr-primary: fence now (%s)", why);
    ok(sw_guard_fence(&w, SW_GOLD_STANDBY, why, sizeof(why)), "and while gold-standby");
    ok(!sw_guard_fence(&w, SW_ACTIVE_PASSIVE, why, sizeof(why)),
       "gold writable in active-passive: fine");
    w.self = SW_GOLDDR;
    w.db[SW_GOLDDR] = w.db[SW_GOLD];
    ok(sw_guard_fence(&w, SW_ACTIVE_PASSIVE, why, sizeof(why)),
       "golddr writable in active-passive: fence");
    ok(!sw_guard_fence(&w, SW_GOLDDR_MAINTENANCE, why, sizeof(why)),
       "golddr writable in golddr-maintenance is the point of it (withdrawn)");
    w.db[SW_GOLDDR].known = false;
    ok(!sw_guard_fence(&w, SW_ACTIVE_PASSIVE, why, sizeof(why)),
       "unknown is never a reason to act");
}

static void test_destructive(void)
{
    char why[256];
    struct sw_world w = {.now = 100, .self = SW_GOLD};
    w.db[SW_GOLDDR] = (struct sw_db){.known = true,
                                     .leader_present = true,
                                     .leader_writable = true,
                                     .healthy = true,
                                     .lsn_known = true,
                                     .lsn = 900,
                                     .observed_at = 99};
    w.db[SW_GOLD] =
        (struct sw_db){.known = true, .lsn_known = true, .lsn = 800, .replay_lag_s = -1};
    ok(!sw_guard_destructive(&w, false, &gp, why, sizeof(why)), "not marked destructive: never");
    ok(sw_guard_destructive(&w, true, &gp, why, sizeof(why)),
       "marked, peer a healthy leader holding all gold had: rebuild (%s)", why);
    w.db[SW_GOLD].lsn = 1000;
    ok(!sw_guard_destructive(&w, true, &gp, why, sizeof(why)) && strstr(why, "less than"),
       "gold holds WAL golddr does not: wiping would lose it (%s)", why);
    w.db[SW_GOLD].lsn_known = false;
    w.db[SW_GOLD].replay_lag_s = 45;
    ok(!sw_guard_destructive(&w, true, &gp, why, sizeof(why)) && strstr(why, "over"),
       "positions unknown and lag over the bound: no");
    w.db[SW_GOLD].replay_lag_s = 2;
    ok(sw_guard_destructive(&w, true, &gp, why, sizeof(why)), "lag under the bound: yes");
    w.db[SW_GOLDDR].healthy = false;
    ok(!sw_guard_destructive(&w, true, &gp, why, sizeof(why)), "peer not healthy: no");
    w.db[SW_GOLDDR].healthy = true;
    w.db[SW_GOLDDR].observed_at = 10;
    ok(!sw_guard_destructive(&w, true, &gp, why, sizeof(why)), "peer not freshly verified: no");
}

static bool evidence(const struct sw_world *w, enum sw_state dr, double last_end,
                     struct sw_evidence *e)
{
    struct sw_evidence_input in = {
        .w = w, .golddr_state = dr, .golddr_state_known = true, .last_transition_end = last_end};
    sw_evidence_eval(&in, &ep, e);
    return e->ok;
}

static void test_evidence(void)
{
    struct sw_evidence e;
    struct sw_world w = failover_world();
    ok(evidence(&w, SW_ACTIVE_PASSIVE, 0, &e), "the full evidence, peer unreachable: go");
    ok(e.check[SW_CHECK_PEER_AGREES].ok &&
           strstr(e.check[SW_CHECK_PEER_AGREES].detail, "unreachable"),
       "peer_agrees passes as 'the peer is unreachable'");
    static const enum gslb_class bad[] = {GSLB_CLASS_ERROR, GSLB_CLASS_NONE, GSLB_CLASS_BOTH,
                                          GSLB_CLASS_UNKNOWN, GSLB_CLASS_GOLD};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        w = failover_world();
        w.answers[1].cls = bad[i];
        w.answers[1].held = 100;
        ok(!evidence(&w, SW_ACTIVE_PASSIVE, 0, &e) && !e.check[SW_CHECK_GSLB_GOLDDR_ALONE].ok,
           "one resolver answering %s can never supply the evidence", gslb_class_name(bad[i]));
    }
    w = failover_world();
    w.answers[0].since = 9995;
    ok(!evidence(&w, SW_ACTIVE_PASSIVE, 0, &e), "held 3 samples but under hold_s seconds: not yet");
    w = failover_world();
    w.probe[SW_GOLD].up = true;
    ok(!evidence(&w, SW_ACTIVE_PASSIVE, 0, &e) && !e.check[SW_CHECK_GOLD_PROBE_DOWN_HERE].ok,
       "gold's /health answers from here: no");
    w = failover_world();
    w.peer_reachable = true;
    w.peer_probe[SW_GOLD] = (struct sw_probe){.known = true, .up = true, .held = 9};
    w.npeer_answers = 1;
    w.peer_answers[0] = (struct sw_answer){"10.1.0.53", GSLB_CLASS_GOLD, 9, 1};
    ok(!evidence(&w, SW_ACTIVE_PASSIVE, 0, &e) && !e.check[SW_CHECK_GOLD_PROBE_DOWN_PEER].ok &&
           !e.check[SW_CHECK_PEER_AGREES].ok,
       "the peer still reaches gold and its resolver answers gold: a local fault, no failover");
    w.peer_probe[SW_GOLD].up = false;
    w.peer_answers[0] = (struct sw_answer){"10.1.0.53", GSLB_CLASS_GOLDDR, 9, 1};
    ok(evidence(&w, SW_ACTIVE_PASSIVE, 0, &e), "the peer agrees: go");
    /* Regression (gslb_scenarios.t): the peer's answers carry no start time (since 0), and
     * peer_agrees said "gold for 6 samples, 1796669230s". */
    w.peer_answers[0] = (struct sw_answer){"10.1.0.53", GSLB_CLASS_GOLD, 6, 0};
    ok(!evidence(&w, SW_ACTIVE_PASSIVE, 0, &e) && !e.check[SW_CHECK_PEER_AGREES].ok &&
           strcmp(e.check[SW_CHECK_PEER_AGREES].detail, "resolver 10.1.0.53: gold for 6 samples") ==
               0,
       "the peer's answer without a start time shows no age (%s)",
       e.check[SW_CHECK_PEER_AGREES].detail);
    w.peer_answers[0] = (struct sw_answer){"10.1.0.53", GSLB_CLASS_GOLDDR, 9, 0};
    ok(evidence(&w, SW_ACTIVE_PASSIVE, 0, &e), "  ... and agreeing, it counts by its samples");
    /* Regression (tests/scenarios/gslb_scenarios.t, test_switch_to_dr): only Gold's health
     * API down, its database writable and reachable; every other check held, so automation
     * started a failover whose promotion could only wait for a Gold nobody demotes. */
    w = failover_world();
    w.db[SW_GOLD] = (struct sw_db){
        .known = true, .leader_present = true, .leader_writable = true, .healthy = true};
    ok(!evidence(&w, SW_ACTIVE_PASSIVE, 0, &e) && !e.check[SW_CHECK_GOLD_DB_NOT_WRITABLE].ok &&
           strstr(e.check[SW_CHECK_GOLD_DB_NOT_WRITABLE].detail, "writable"),
       "gold's leader writable and reachable: no (%s)",
       e.check[SW_CHECK_GOLD_DB_NOT_WRITABLE].detail);
    for (int c = 0; c < SW_CHECK_COUNT; c++)
        if (c != SW_CHECK_GOLD_DB_NOT_WRITABLE)
            ok(e.check[c].ok, "  ... and it is the only check that fails (%s holds)",
               sw_check_name((enum sw_check)c));
    w.db[SW_GOLD].leader_writable = false;
    ok(evidence(&w, SW_ACTIVE_PASSIVE, 0, &e), "gold's leader read-only: go");
    w.db[SW_GOLD].known = false;
    ok(evidence(&w, SW_ACTIVE_PASSIVE, 0, &e) &&
           strstr(e.check[SW_CHECK_GOLD_DB_NOT_WRITABLE].detail, "unreachable"),
       "gold's database unreachable: go (%s)", e.check[SW_CHECK_GOLD_DB_NOT_WRITABLE].detail);
    w = failover_world();
    ok(!evidence(&w, SW_GOLDDR_MAINTENANCE, 0, &e) &&
           !e.check[SW_CHECK_GOLDDR_NOT_IN_MAINTENANCE].ok,
       "golddr in maintenance: no");
    w.db[SW_GOLDDR].replay_lag_s = 31;
    ok(!evidence(&w, SW_ACTIVE_PASSIVE, 0, &e) && !e.check[SW_CHECK_LAG_UNDER_RPO].ok,
       "lag over the RPO bound: no (%s)", e.check[SW_CHECK_LAG_UNDER_RPO].detail);
    w = failover_world();
    ok(!evidence(&w, SW_ACTIVE_PASSIVE, 9800, &e) && !e.check[SW_CHECK_COOLDOWN].ok,
       "a transition ended 200s ago, cooldown 600s: no");
    ok(evidence(&w, SW_ACTIVE_PASSIVE, 9000, &e), "ended 1000s ago: go");
    for (int c = 0; c < SW_CHECK_COUNT; c++)
        ok(e.check[c].detail[0] != '\0', "check %s says what it saw",
           sw_check_name((enum sw_check)c));
}

/* Gold's Patroni REST API hangs while its PostgreSQL goes on taking writes (issue 13): Gold
 * then looks unreachable, and every resolver excluding it would have let GoldDR promote beside
 * a live primary. The postgres collector's own look at Gold decides while it is fresh. */
static void test_rest_hung(void)
{
    char why[256];
    struct sw_world w = failover_world();
    w.db[SW_GOLD] =
        (struct sw_db){.sql_known = true, .sql_writable = true, .sql_observed_at = w.now - 2};
    ok(!sw_guard_promote(&w, &gp, why, sizeof(why)) && strstr(why, "PostgreSQL takes writes"),
       "gold's Patroni silent, its PostgreSQL writable over SQL 2s ago: no promotion (%s)", why);
    w.db[SW_GOLD].known = true;
    w.db[SW_GOLD].observed_at = w.now;
    ok(!sw_guard_promote(&w, &gp, why, sizeof(why)) && strstr(why, "PostgreSQL takes writes"),
       "Patroni saying read-only does not outweigh PostgreSQL's own word (%s)", why);
    w.db[SW_GOLD] =
        (struct sw_db){.sql_known = true, .sql_writable = true, .sql_observed_at = w.now - 16};
    ok(sw_guard_promote(&w, &gp, why, sizeof(why)),
       "its last SQL look older than fresh (16s > 15s): unreachable, and excluded: promote (%s)",
       why);
    w.db[SW_GOLD].sql_observed_at = w.now - 1;
    w.db[SW_GOLD].sql_writable = false;
    ok(sw_guard_promote(&w, &gp, why, sizeof(why)), "PostgreSQL in recovery over SQL: promote (%s)",
       why);

    struct sw_evidence e;
    w.db[SW_GOLD] =
        (struct sw_db){.sql_known = true, .sql_writable = true, .sql_observed_at = w.now - 2};
    ok(!evidence(&w, SW_ACTIVE_PASSIVE, 0, &e) && !e.check[SW_CHECK_GOLD_DB_NOT_WRITABLE].ok &&
           strstr(e.check[SW_CHECK_GOLD_DB_NOT_WRITABLE].detail, "Patroni does not answer"),
       "the evidence: gold_db_not_writable fails too (%s)",
       e.check[SW_CHECK_GOLD_DB_NOT_WRITABLE].detail);
    w.db[SW_GOLD].sql_observed_at = w.now - 16;
    ok(evidence(&w, SW_ACTIVE_PASSIVE, 0, &e), "  ... and passes once that look is stale (%s)",
       e.check[SW_CHECK_GOLD_DB_NOT_WRITABLE].detail);
}

int main(void)
{
    test_promote();
    test_fence();
    test_destructive();
    test_evidence();
    test_rest_hung();
    return done_testing();
}
