/* test_executor.c: the plan executor (switchover/executor.h) on a real event loop with fake
 * actuators that record every call: steps run in order through check, act and poll; a step
 * found done is not acted; a failed step stops the plan unless it is best-effort or has a
 * fallback; a deadline ends a step that hangs; a promotion waits for the guard and is refused
 * at its deadline if the guard never passes; a destructive fallback runs only when the
 * destructive guard agrees; and after a "crash" (the executor freed in the middle of a step)
 * the journal resumes the run at the step in doubt through its check, stops a destructive step
 * in doubt, and refuses to resume with a plan that changed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "executor.h"
#include "loop.h"
#include "selector.h"
#include "tap.h"
#include "xalloc.h"

#include "fake_actuators.h"
#include "one_plan.h"

/* ---- the world the guards see ---- */

struct fake_world {
    int observations;
    int fenced_after; /* gold is seen demoted and withdrawn from this observation on; -1 never */
    bool peer_healthy;
};
static struct fake_world W;

static void observe(void *arg, struct sw_world *w)
{
    (void)arg;
    memset(w, 0, sizeof(*w));
    w->now = 1000;
    w->self = SW_GOLDDR;
    bool fenced = W.fenced_after >= 0 && W.observations++ >= W.fenced_after;
    w->db[SW_GOLD] = (struct sw_db){.known = true,
                                    .leader_present = true,
                                    .leader_writable = !fenced,
                                    .healthy = W.peer_healthy,
                                    .lsn_known = true,
                                    .lsn = 100,
                                    .observed_at = 1000};
    w->db[SW_GOLDDR] = (struct sw_db){
        .known = true, .lsn_known = true, .lsn = 100, .replay_lag_s = 1, .observed_at = 1000};
    w->nanswers = 1;
    w->answers[0] = (struct sw_answer){"r1", fenced ? GSLB_CLASS_GOLDDR : GSLB_CLASS_GOLD, 9, 1};
}

/* ---- running ---- */

struct ended {
    bool done;
    enum sw_result res;
    char detail[400];
};
static struct ended E;

static void finished(void *arg, const struct sw_run_start *run, enum sw_result r,
                     const char *detail)
{
    (void)run;
    E.done = true;
    E.res = r;
    snprintf(E.detail, sizeof(E.detail), "%s", detail ? detail : "");
    loop_stop(arg);
}

static char dir[] = "/tmp/drwatch-test-executor-XXXXXX";

static struct sw_executor *executor(struct loop *l)
{
    struct sw_exec_env env = {.loop = l,
                              .data_dir = dir,
                              .site = SW_GOLDDR,
                              .actuators = table,
                              .nactuators = 9,
                              .guards = {.samples = 3, .fresh_s = 15, .max_lag_s = 30},
                              .poll_ms = 5,
                              .observe = observe,
                              .finished = finished,
                              .finished_arg = l};
    char err[256];
    struct sw_executor *x = sw_exec_new(&env, err, sizeof(err));
    if (!x) diag("%s", err);
    return x;
}

/* A complete plan file whose golddr active-passive -> golddr-primary plan is steps. */
static struct sw_plans *plans(const char *steps)
{
    char err[512];
    struct sw_plans *p = one_plan_load(steps, "t.lua", err, sizeof(err));
    if (!p) diag("%s", err);
    return p;
}

static void reset(void)
{
    buf_reset(&F.calls);
    F.fail_act = F.done_already = F.hang = F.hang_act = NULL;
    F.polls_before_done = F.polls = 0;
    memset(&E, 0, sizeof(E));
    W = (struct fake_world){.fenced_after = 0, .peer_healthy = true};
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, SW_JOURNAL_FILE);
    unlink(path);
}

static struct sw_run_start run_start(const char *id)
{
    struct sw_run_start s = {
        .from = SW_ACTIVE_PASSIVE, .to = SW_GOLDDR_PRIMARY, .source = SW_SOURCE_API};
    snprintf(s.id, sizeof(s.id), "%s", id);
    snprintf(s.reason, sizeof(s.reason), "a test");
    return s;
}

/* Runs the plan to its end on a fresh executor; returns the calls made. */
static const char *run(struct loop *l, const char *steps)
{
    struct sw_plans *p = plans(steps);
    struct sw_executor *x = executor(l);
    char err[256];
    struct sw_run_start s = run_start("run-1");
    if (sw_exec_start(x, one_plan_get(p), &s, err, sizeof(err)) < 0) diag("%s", err);
    if (!E.done) loop_run(l);
    sw_exec_free(x);
    sw_plans_free(p);
    return F.calls.data ? F.calls.data : "";
}

#define TWO_STEPS                                                       \
    "step { \"tfvars\", in_recovery = true, in_maintenance = false }, " \
    "step { \"health_api\", replicas = 2 }"

static void test_runs(struct loop *l)
{
    reset();
    is_str(run(l, TWO_STEPS),
           "check:tfvars act:tfvars poll:tfvars check:health_api act:health_api "
           "poll:health_api",
           "steps run in order: check, act (one answers later, from a timer), poll");
    ok(E.done && E.res == SW_RESULT_OK, "and the run finishes ok");

    reset();
    F.done_already = "tfvars";
    is_str(run(l, TWO_STEPS), "check:tfvars check:health_api act:health_api poll:health_api",
           "a step whose check finds it done is not acted on (idempotent)");

    reset();
    F.polls_before_done = 3;
    is_str(run(l, "step { \"health_api\", replicas = 2 }"),
           "check:health_api act:health_api poll:health_api poll:health_api poll:health_api "
           "poll:health_api",
           "poll goes on until the wait is over");

    reset();
    F.fail_act = "tfvars";
    is_str(run(l, TWO_STEPS), "check:tfvars act:tfvars", "a failed step stops the plan");
    ok(E.res == SW_RESULT_FAILED && strstr(E.detail, "the fake says no"),
       "the run fails with the step's reason (%s)", E.detail);

    reset();
    F.fail_act = "maintenance";
    is_str(run(l, "step { \"maintenance\", on = true }, step { \"health_api\", replicas = 2 }"),
           "check:maintenance act:maintenance check:health_api act:health_api poll:health_api",
           "a best-effort step that fails does not stop the plan");
    ok(E.res == SW_RESULT_OK, "the run still finishes ok");

    reset();
    F.hang = "health_api";
    run(l, "step { \"health_api\", replicas = 2, timeout = \"100ms\" }, step { \"kong_restart\" }");
    ok(E.res == SW_RESULT_FAILED && strstr(E.detail, "timed out"),
       "a step that never ends fails at its deadline (%s)", E.detail);
    ok(!strstr(F.calls.data, "kong_restart"), "and nothing after it runs");

    reset();
    F.hang_act = "health_api";
    run(l, "step { \"health_api\", replicas = 2, timeout = \"100ms\" }");
    ok(strstr(F.calls.data, "cancel:health_api") && E.res == SW_RESULT_FAILED,
       "an action in flight at the deadline is cancelled");
}

/* Reads the running step's record from a timer, as the API does while a run goes on. */
struct peek {
    struct sw_executor *x;
    struct loop *loop;
    bool seen;
    char detail[200];
};

static void peek_record(void *arg)
{
    struct peek *pk = arg;
    const struct sw_run_record *rec = sw_exec_record(pk->x, "run-w");
    if (!rec || rec->steps[0].ended) return;
    pk->seen = true;
    snprintf(pk->detail, sizeof(pk->detail), "%s", rec->steps[0].detail);
}

static void test_guards(struct loop *l)
{
    reset();
    W.fenced_after = 4;
    is_str(run(l, "step { \"patroni_promote\" }"),
           "check:patroni_promote act:patroni_promote poll:patroni_promote",
           "a promotion waits for the guard, then acts");
    ok(E.res == SW_RESULT_OK && W.observations > 4, "once gold is seen demoted and withdrawn");

    reset();
    W.fenced_after = -1;
    run(l, "step { \"patroni_promote\", timeout = \"100ms\" }");
    ok(E.res == SW_RESULT_FAILED && !strstr(F.calls.data, "act:") &&
           strstr(E.detail, "not allowed within") && strstr(E.detail, "writable"),
       "gold stays writable: the promotion never acts, and the reason says why (%s)", E.detail);

    /* Bug found by the two-site lab (lab_drill.t's note on asking GoldDR): a promotion that
     * waits for the guard showed an empty detail in GET /api/v1/plans/<id> and on the status
     * page for as long as it waited (up to 10 minutes), so on-call could not see why. */
    reset();
    W.fenced_after = -1;
    {
        struct sw_plans *p = plans("step { \"patroni_promote\", timeout = \"300ms\" }");
        struct sw_executor *x = executor(l);
        char err[256];
        struct sw_run_start s = run_start("run-w");
        struct peek pk = {.x = x, .loop = l};
        struct loop_timer *tm = loop_timer_new(l, peek_record, &pk);
        loop_timer_start(tm, 100);
        if (sw_exec_start(x, one_plan_get(p), &s, err, sizeof(err)) < 0) diag("%s", err);
        if (!E.done) loop_run(l);
        loop_timer_free(tm);
        sw_exec_free(x);
        sw_plans_free(p);
        ok(pk.seen && strstr(pk.detail, "waiting for the guard") &&
               strstr(pk.detail, "gold's leader is writable"),
           "while a promotion waits, its step's record says for what (%s)", pk.detail);
    }

    reset();
    W.fenced_after = -1; /* gold the writable leader golddr rebuilds from */
    F.fail_act = "patroni_demote";
    is_str(run(l, "step { \"patroni_demote\", follow = \"gold\", fallback = step { "
                  "\"patroni_rebuild\", from = \"gold\", destructive = true } }"),
           "check:patroni_demote act:patroni_demote check:patroni_rebuild act:patroni_rebuild "
           "poll:patroni_rebuild",
           "the demotion fails: its destructive fallback runs, the guard agreeing");

    reset();
    W.fenced_after = -1;
    F.fail_act = "patroni_demote";
    W.peer_healthy = false;
    run(l, "step { \"patroni_demote\", follow = \"gold\", fallback = step { "
           "\"patroni_rebuild\", from = \"gold\", destructive = true } }");
    ok(!strstr(F.calls.data, "act:patroni_rebuild") && E.res == SW_RESULT_FAILED &&
           strstr(E.detail, "healthy leader"),
       "with the peer not a healthy leader the rebuild never acts (%s)", E.detail);
}

/* Starts the plan and frees the executor when the first step of `action` is acting (a crash:
 * nothing is journaled past its begin). */
static void crash_at(struct loop *l, const struct sw_plan *pl, const char *action)
{
    F.hang_act = action;
    struct sw_executor *x = executor(l);
    char err[256];
    struct sw_run_start s = run_start("run-crash");
    sw_exec_start(x, pl, &s, err, sizeof(err));
    /* hang_act never answers: run the loop until the act is recorded */
    for (int i = 0; i < 200 && !strstr(F.calls.data ? F.calls.data : "", "act:"); i++) {
        struct loop_timer *t = loop_timer_new(l, (loop_fn)loop_stop, l);
        loop_timer_start(t, 5);
        loop_run(l);
        loop_timer_free(t);
    }
    sw_exec_free(x);
    F.hang_act = NULL;
}

/* drwatch_action_steps_total{action,result="stopped"} as x exports it. */
static void add_value(void *arg, const struct metric_family *f, const struct metric_sample *m)
{
    (void)f;
    struct buf b;
    buf_init(&b, 256);
    if (labels_get(m->labels, m->labels_len, "result", &b) && b.data &&
        strcmp(b.data, "stopped") == 0)
        *(double *)arg += m->value;
    buf_free(&b);
}

static double stopped_steps(const struct sw_executor *x, const char *action)
{
    struct metric_set *ms = mset_new();
    sw_exec_metrics(x, ms);
    struct snapshot *snap = snapshot_new(&ms, 1, 1);
    mset_unref(ms);
    struct selector sel = {.name = xstrdup("drwatch_action_steps_total")};
    char err[128];
    double v = 0;
    if (selector_add(&sel, "action", MATCH_EQ, action, err, sizeof(err)) == 0)
        snapshot_select(snap, &sel, add_value, &v);
    selector_free(&sel);
    snapshot_unref(snap);
    return v;
}

static void test_resume(struct loop *l)
{
    reset();
    struct sw_plans *p = plans("step { \"kong_restart\" }, step { \"health_api\", replicas = 2 }, "
                               "step { \"tell_peer\" }");
    crash_at(l, one_plan_get(p), "health_api");
    struct sw_executor *x = executor(l);
    const struct sw_replayed *rp = sw_exec_replayed(x);
    ok(rp->have_run && !rp->finished && rp->in_doubt && rp->doubt_step == 1,
       "the journal holds the run, unfinished, with step 2 in doubt");
    buf_reset(&F.calls);
    F.done_already = "health_api";
    char err[256];
    ok(sw_exec_resume(x, p, err, sizeof(err)) == 0, "it resumes");
    if (!E.done) loop_run(l);
    is_str(F.calls.data, "check:health_api check:tell_peer act:tell_peer poll:tell_peer",
           "at the step in doubt, through its check (done: not acted again), then on");
    ok(E.res == SW_RESULT_OK, "and finishes ok");
    /* Regression (lab_faults.t): the resumed run's record showed the steps it had ended before
     * the kill as pending, so GET /api/v1/plans/<id> said a run that went through them had
     * never run them. */
    const struct sw_run_record *rr = sw_exec_record(x, "run-crash");
    ok(rr && rr->resumed && rr->steps[0].begun && rr->steps[0].ended &&
           rr->steps[0].result == SW_RESULT_OK && rr->steps[0].depth == 0 && rr->steps[1].ended &&
           rr->steps[1].result == SW_RESULT_ALREADY && rr->steps[2].ended &&
           rr->steps[2].result == SW_RESULT_OK,
       "its record shows the step ended before the crash as the journal has it (ok), then "
       "the step in doubt (already) and the rest");
    sw_exec_free(x);
    x = executor(l);
    ok(sw_exec_replayed(x)->finished && sw_exec_resume(x, p, err, sizeof(err)) == 1,
       "a finished run is not resumed again");
    sw_exec_free(x);
    sw_plans_free(p);

    reset();
    W.fenced_after = -1;
    p = plans("step { \"patroni_rebuild\", from = \"gold\", destructive = true }");
    crash_at(l, one_plan_get(p), "patroni_rebuild");
    x = executor(l);
    sw_exec_resume(x, p, err, sizeof(err));
    if (!E.done) loop_run(l);
    ok(E.res == SW_RESULT_STOPPED && strstr(E.detail, "destructive step patroni_rebuild") &&
           !strstr(F.calls.data + strlen("check:patroni_rebuild act:patroni_rebuild"),
                   "act:patroni_rebuild"),
       "a destructive step in doubt is not run again: the run stops (%s)", E.detail);
    ok(stopped_steps(x, "patroni_rebuild") == 1,
       "and the step counts as stopped, which TransitionFailed alerts on");
    sw_exec_free(x);
    sw_plans_free(p);

    /* Regression: a run whose every step had ended when drwatch was killed (the kill came
     * between the last end record and the finish) was finished by the restart but its record
     * said resumed: false (switchover_kill.t, the end of the last step). */
    reset();
    p = plans("step { \"kong_restart\" }");
    struct sw_run_start s = run_start("run-ended");
    s.nsteps = 1;
    s.plan_hash = sw_plan_hash(one_plan_get(p));
    s.site = SW_GOLDDR;
    struct sw_replayed rp0;
    struct sw_run_journal *j = sw_journal_open(dir, &rp0, err, sizeof(err));
    ok(j && sw_journal_start(j, &s, err, sizeof(err)) == 0 &&
           sw_journal_begin(j, s.id, 0, 0, "kong_restart", 1, err, sizeof(err)) == 0 &&
           sw_journal_end(j, s.id, 0, 0, "kong_restart", SW_RESULT_OK, "", 2, 1, err,
                          sizeof(err)) == 0,
       "a journal whose run ended its last step and never finished");
    sw_journal_free(j);
    buf_reset(&F.calls);
    x = executor(l);
    ok(sw_exec_resume(x, p, err, sizeof(err)) == 0 && E.done && E.res == SW_RESULT_OK &&
           !(F.calls.data && F.calls.data[0]),
       "the restart finishes it ok, running nothing (%s)", F.calls.data ? F.calls.data : "");
    const struct sw_run_record *rec = sw_exec_record(x, "run-ended");
    ok(rec && rec->finished && rec->result == SW_RESULT_OK && rec->resumed,
       "and its record says it was resumed");
    sw_exec_free(x);
    x = executor(l);
    ok(sw_exec_replayed(x)->finished, "the finish is journaled");
    sw_exec_free(x);
    sw_plans_free(p);

    reset();
    p = plans("step { \"kong_restart\" }, step { \"health_api\", replicas = 2 }");
    crash_at(l, one_plan_get(p), "health_api");
    sw_plans_free(p);
    p = plans("step { \"kong_restart\" }, step { \"health_api\", replicas = 0 }");
    x = executor(l);
    ok(sw_exec_resume(x, p, err, sizeof(err)) == -1 && E.res == SW_RESULT_STOPPED &&
           strstr(E.detail, "changed"),
       "a plan that changed since the run started is not resumed (%s)", E.detail);
    sw_exec_free(x);
    x = executor(l);
    ok(sw_exec_replayed(x)->finished && sw_exec_replayed(x)->result == SW_RESULT_STOPPED &&
           strstr(sw_exec_replayed(x)->detail, "changed since run run-crash started"),
       "and the stop is journaled, with its detail (%s)", sw_exec_replayed(x)->detail);
    sw_exec_free(x);
    sw_plans_free(p);
}

/* An actuator's mark (what a tekton_deploy trigger journals) comes back to the step begun again
 * after a restart, and again after a second restart in the middle of that step. */
static void test_mark_survives(struct loop *l)
{
    reset();
    struct sw_plans *p = plans("step { \"kong_restart\" }, step { \"health_api\", replicas = 2 }");
    struct sw_run_start s = run_start("run-marked");
    s.nsteps = 2;
    s.plan_hash = sw_plan_hash(one_plan_get(p));
    s.site = SW_GOLDDR;
    char err[256];
    struct sw_replayed rp0;
    struct sw_run_journal *j = sw_journal_open(dir, &rp0, err, sizeof(err));
    ok(j && sw_journal_start(j, &s, err, sizeof(err)) == 0 &&
           sw_journal_begin(j, s.id, 1, 0, "health_api", 1, err, sizeof(err)) == 0 &&
           sw_journal_mark(j, s.id, 0, 0, "not this step's", 1, err, sizeof(err)) == 0 &&
           sw_journal_mark(j, s.id, 1, 0, "sent=1 event=e1", 2, err, sizeof(err)) == 0,
       "a journal whose step 2 began and was marked (and a mark for another step)");
    sw_journal_free(j);
    struct sw_executor *x = executor(l);
    ok(strcmp(sw_exec_replayed(x)->doubt_mark, "sent=1 event=e1") == 0 &&
           sw_exec_replayed(x)->corrupt > 0,
       "replay keeps the step in doubt's mark; a mark of a step that is not the one in doubt "
       "counts as damaged");
    F.hang_act = "health_api";
    sw_exec_resume(x, p, err, sizeof(err));
    for (int i = 0; i < 200 && !strstr(F.calls.data ? F.calls.data : "", "act:"); i++) {
        struct loop_timer *t = loop_timer_new(l, (loop_fn)loop_stop, l);
        loop_timer_start(t, 5);
        loop_run(l);
        loop_timer_free(t);
    }
    sw_exec_free(x); /* the second kill, in the middle of the step begun again */
    F.hang_act = NULL;
    x = executor(l);
    ok(sw_exec_replayed(x)->in_doubt && sw_exec_replayed(x)->doubt_step == 1 &&
           strcmp(sw_exec_replayed(x)->doubt_mark, "sent=1 event=e1") == 0,
       "after a second restart the mark is still there (journaled again after the new begin)");
    sw_exec_free(x);
    sw_plans_free(p);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    struct loop *l = loop_new();
    fake_init(l);
    test_runs(l);
    test_guards(l);
    test_resume(l);
    test_mark_survives(l);
    fake_fini();
    loop_free(l);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) diag("could not remove %s", dir);
    return done_testing();
}
