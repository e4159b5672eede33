/* test_timeline.c: a transition's recovery timeline (switchover/timeline.c): each milestone the
 * first moment it is seen, never before the plan's start; the window after the plan's end;
 * the RPO exposure at promotion; the last SW_TIMELINES_MAX kept; and the journal's timeline
 * records replayed after a restart (run_journal.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_journal.h"
#include "tap.h"
#include "timeline.h"

static struct sw_world world(double now)
{
    struct sw_world w = {.now = now, .self = SW_GOLDDR};
    for (int s = 0; s < SW_SITE_COUNT; s++) w.db[s].replay_lag_s = -1;
    w.nanswers = 1;
    w.answers[0].cls = GSLB_CLASS_GOLD;
    return w;
}

static void writable(struct sw_world *w, enum sw_site s, bool yes)
{
    w->db[s] = (struct sw_db){.known = true,
                              .leader_present = true,
                              .leader_writable = yes,
                              .standby_cluster = !yes,
                              .replay_lag_s = -1};
}

static struct sw_timeline failover(void)
{
    struct sw_timeline t;
    sw_timeline_begin(&t, "golddr-1", SW_ACTIVE_PASSIVE, SW_GOLDDR_PRIMARY, SW_SOURCE_PEER, 100,
                      98);
    return t;
}

static void milestones(void)
{
    struct sw_timeline t = failover();
    is_int(sw_state_primary(SW_GOLDDR_PRIMARY), SW_GOLDDR, "golddr serves in golddr-primary");
    is_int(sw_state_primary(SW_GOLD_STANDBY), SW_GOLDDR, "and in gold-standby");
    is_int(sw_state_primary(SW_ACTIVE_PASSIVE), SW_GOLD, "gold in active-passive");
    is_int(sw_state_primary(SW_INDEPENDENT), -1, "nobody in particular when independent");
    ok(sw_timeline_since_request(&t, SW_MS_PLAN_STARTED) == 2.0,
       "plan_started: 2 s after the request");
    ok(sw_timeline_since_request(&t, SW_MS_PRIMARY_WRITABLE) < 0, "nothing else yet");

    struct sw_world w = world(99);
    writable(&w, SW_GOLDDR, true);
    ok(!sw_timeline_observe(&t, &w), "a world from before the plan's start marks nothing");
    w = world(101);
    writable(&w, SW_GOLDDR, false);
    w.probe[SW_GOLDDR] = (struct sw_probe){.known = true, .up = true};
    ok(sw_timeline_observe(&t, &w) && t.at[SW_MS_HEALTH_UP] == 101 &&
           !t.at[SW_MS_PRIMARY_WRITABLE] && !t.at[SW_MS_GSLB_ANSWERING],
       "golddr's /health up at 101; still a standby, the GSLB still on gold");
    w.now = 104;
    w.answers[0].cls = GSLB_CLASS_GOLDDR;
    ok(sw_timeline_observe(&t, &w) && t.at[SW_MS_GSLB_ANSWERING] == 104 &&
           t.at[SW_MS_HEALTH_UP] == 101,
       "the GSLB answers golddr at 104; health_up keeps its first moment");
    w.now = 105;
    w.db[SW_GOLDDR].lsn_known = w.db[SW_GOLD].lsn_known = true;
    w.db[SW_GOLDDR].lsn = 1000;
    w.db[SW_GOLD].lsn = 1000;
    w.db[SW_GOLDDR].replay_lag_s = 9;
    sw_timeline_promoted(&t, &w);
    ok(t.rpo_bytes == 0 && t.rpo_seconds == 0,
       "a planned promotion: RPO 0 bytes, 0 s (a lag figure behind its samples loses nothing)");
    w.now = 106;
    writable(&w, SW_GOLDDR, true);
    ok(sw_timeline_observe(&t, &w) && t.at[SW_MS_PRIMARY_WRITABLE] == 106,
       "golddr writable at 106");
    w.now = 107;
    w.probe[SW_GOLDDR].up = false;
    ok(!sw_timeline_observe(&t, &w), "a later world moves nothing (first moments only)");
    ok(sw_timeline_mark(&t, SW_MS_MAINTENANCE_OFF, 110) &&
           !sw_timeline_mark(&t, SW_MS_MAINTENANCE_OFF, 111),
       "maintenance_off marked once");
    ok(!sw_timeline_close_due(&t, 200), "not closed before its plan's end");
    sw_timeline_end(&t, SW_RESULT_OK, 112);
    ok(t.ended && t.result == SW_RESULT_OK && sw_timeline_since_request(&t, SW_MS_PLAN_ENDED) == 14,
       "plan_ended 14 s after the request");
    ok(sw_timeline_close_due(&t, 112) && t.closed, "every world milestone seen: closed at once");
    w.now = 300;
    ok(!sw_timeline_observe(&t, &w), "a closed timeline takes nothing more");
}

static void window(void)
{
    struct sw_timeline t;
    sw_timeline_begin(&t, "gold-1", SW_ACTIVE_PASSIVE, SW_GOLDDR_PRIMARY, SW_SOURCE_API, 50, 0);
    ok(t.at[SW_MS_REQUESTED] == 50, "no request time: the run's start");
    sw_timeline_end(&t, SW_RESULT_OK, 60);
    ok(!sw_timeline_close_due(&t, 60), "gold's plan ended before golddr was writable: still open");
    struct sw_world w = world(70);
    writable(&w, SW_GOLDDR, true);
    ok(sw_timeline_observe(&t, &w) && t.at[SW_MS_PRIMARY_WRITABLE] == 70,
       "after the plan's end, golddr writable at 70 is marked");
    ok(!sw_timeline_close_due(&t, 60 + SW_TIMELINE_WINDOW_S - 1), "open within the window");
    ok(sw_timeline_close_due(&t, 60 + SW_TIMELINE_WINDOW_S), "closed once the window is over");
    ok(t.at[SW_MS_GSLB_ANSWERING] == 0, "what was never seen stays unreached");

    sw_timeline_begin(&t, "gold-2", SW_GOLDDR_PRIMARY, SW_GOLD_STANDBY, SW_SOURCE_API, 50, 60);
    ok(t.at[SW_MS_REQUESTED] == 50, "a request time after the start (a clock step): the start");

    /* An unplanned promotion: the other site's last position is ahead of ours. */
    w = world(80);
    w.db[SW_GOLDDR].lsn_known = w.db[SW_GOLD].lsn_known = true;
    w.db[SW_GOLDDR].lsn = 4096;
    w.db[SW_GOLD].lsn = 4096 + 512;
    w.db[SW_GOLDDR].replay_lag_s = 2.5;
    sw_timeline_promoted(&t, &w);
    ok(t.rpo_bytes == 512 && t.rpo_seconds == 2.5, "a forced promotion: 512 bytes, 2.5 s");
    w.db[SW_GOLD].lsn_known = false;
    w.db[SW_GOLDDR].replay_lag_s = -1;
    sw_timeline_promoted(&t, &w);
    ok(t.rpo_bytes < 0 && t.rpo_seconds < 0, "unknown positions: unknown, never 0");
}

static void ring(void)
{
    struct sw_timelines ts = {0};
    char id[16];
    for (int i = 1; i <= SW_TIMELINES_MAX + 2; i++) {
        struct sw_timeline t;
        snprintf(id, sizeof(id), "run-%d", i);
        sw_timeline_begin(&t, id, SW_ACTIVE_PASSIVE, SW_GOLDDR_PRIMARY, SW_SOURCE_API, i, i);
        (void)sw_timelines_put(&ts, &t);
    }
    snprintf(id, sizeof(id), "run-%d", SW_TIMELINES_MAX + 2);
    ok(ts.n == SW_TIMELINES_MAX && strcmp(ts.t[0].id, id) == 0 && !sw_timelines_find(&ts, "run-2"),
       "the last %d kept, newest first", SW_TIMELINES_MAX);
    struct sw_timeline again = *sw_timelines_find(&ts, "run-4");
    again.closed = true;
    (void)sw_timelines_put(&ts, &again);
    ok(ts.n == SW_TIMELINES_MAX && strcmp(ts.t[0].id, "run-4") == 0 && ts.t[0].closed &&
           sw_timelines_find(&ts, "run-3"),
       "putting one again replaces it, dropping nothing");
}

static void journal(void)
{
    char dir[] = "/tmp/drwatch-test-timeline-XXXXXX", err[256];
    if (!mkdtemp(dir)) {
        ok(0, "mkdtemp");
        return;
    }
    struct sw_replayed rp;
    struct sw_run_journal *j = sw_journal_open(dir, &rp, err, sizeof(err));
    struct sw_timeline t = failover();
    t.at[SW_MS_GSLB_ANSWERING] = 104.5;
    t.rpo_bytes = 0;
    sw_timeline_end(&t, SW_RESULT_OK, 112);
    struct sw_run_start s = {.id = "next",
                             .from = SW_GOLDDR_PRIMARY,
                             .to = SW_GOLD_STANDBY,
                             .at = 120,
                             .requested_at = 119,
                             .nsteps = 1};
    ok(j && sw_journal_timeline(j, &t, err, sizeof(err)) == 0 &&
           sw_journal_start(j, &s, err, sizeof(err)) == 0,
       "a timeline, then the next run's start, journaled");
    t.closed = true;
    t.at[SW_MS_PRIMARY_WRITABLE] = 106;
    ok(sw_journal_timeline(j, &t, err, sizeof(err)) == 0, "the timeline again when it closes");
    sw_journal_free(j);
    j = sw_journal_open(dir, &rp, err, sizeof(err));
    const struct sw_timeline *r = rp.timelines.n ? &rp.timelines.t[0] : NULL;
    ok(j && rp.timelines.n == 1 && r && strcmp(r->id, "golddr-1") == 0 && r->closed &&
           r->to == SW_GOLDDR_PRIMARY && r->source == SW_SOURCE_PEER && r->ended &&
           r->result == SW_RESULT_OK,
       "replayed after a restart: one timeline, its last record (%zu)", rp.timelines.n);
    ok(r && r->at[SW_MS_REQUESTED] == 98 && r->at[SW_MS_GSLB_ANSWERING] == 104.5 &&
           r->at[SW_MS_PRIMARY_WRITABLE] == 106 && r->at[SW_MS_MAINTENANCE_OFF] == 0 &&
           r->rpo_bytes == 0 && r->rpo_seconds < 0,
       "with its moments and RPO (unknown stays unknown)");
    ok(rp.have_run && strcmp(rp.start.id, "next") == 0 && rp.start.requested_at == 119,
       "a run's start keeps its requested_at; a start does not drop the timelines");
    sw_journal_free(j);
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, SW_JOURNAL_FILE);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    milestones();
    window();
    ring();
    journal();
    return done_testing();
}
