/* executor.c: one run at a time, one step at a time, each phase on the loop (see executor.h).
 *
 * A phase's outcome never continues the run from inside the actuator's call: sw_phase_done
 * records it and a zero-delay timer (x->next) takes it from there, so an actuator that answers
 * at once and one that answers a minute later go through the same code. The step's deadline is
 * a second timer. Every decision that moves the run is journaled before anything it allows
 * happens: a begin before a step's first phase, an end before the next step or the finish. */
#include "executor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "loop.h"
#include "strutil.h"
#include "xalloc.h"

enum phase { PH_CHECK, PH_GUARD, PH_ACT, PH_POLL };

struct sw_phase {
    struct run *run;
    void *slot;
    bool in_flight;
};

struct run {
    struct sw_executor *x;
    struct sw_plan *plan; /* owned copy */
    struct sw_run_start start;
    size_t step, depth;
    const struct sw_step *cur; /* plan->steps[step], then depth fallbacks down */
    enum phase phase;
    struct sw_phase ph;
    struct sw_world world;
    bool doubt;       /* this step began before a restart and never ended */
    bool has_outcome; /* a phase answered; x->next takes it */
    enum sw_outcome out;
    char detail[256];
    char note[SW_NOTE_MAX]; /* the actuator's, for the step */
    char mark[SW_MARK_MAX]; /* the actuator's journaled mark, for the step */
    int64_t began_ms;
    double began_at;
    struct sw_run_record rec;
};

struct sw_executor {
    struct sw_exec_env env;
    char *data_dir;
    struct sw_run_journal *j;
    struct sw_replayed replayed;
    struct run *run;
    struct loop_timer *next, *deadline;
    double last_finished;
    struct sw_run_record last; /* the last run that finished in this process */
    bool have_last;
    struct sw_timelines tl; /* the last transitions' timelines, the running one's first */
    uint64_t steps[SW_ACTION_COUNT][SW_RESULT_COUNT];
    double last_seconds[SW_ACTION_COUNT];
    bool ran[SW_ACTION_COUNT];
};

static void start_step(struct run *r);
static void finish(struct run *r, enum sw_result res, const char *detail);

static double now_s(const struct sw_executor *x)
{
    return x->env.clock ? x->env.clock(x->env.clock_arg) : time_wall_s();
}

static const struct actuator_ops *ops_of(const struct sw_executor *x, const struct sw_action *a)
{
    for (size_t i = 0; i < x->env.nactuators; i++)
        if (strcmp(x->env.actuators[i]->action, a->name) == 0) return x->env.actuators[i];
    return NULL;
}

/* ---- what actuators see ---- */

const struct sw_step *sw_phase_step(const struct sw_phase *ph)
{
    return ph->run->cur;
}

const struct sw_world *sw_phase_world(const struct sw_phase *ph)
{
    return &ph->run->world;
}

void *sw_phase_env(const struct sw_phase *ph)
{
    return ph->run->x->env.actuator_env;
}

const char *sw_phase_run_id(const struct sw_phase *ph)
{
    return ph->run->start.id;
}

const struct sw_run_start *sw_phase_run(const struct sw_phase *ph)
{
    return &ph->run->start;
}

void **sw_phase_slot(struct sw_phase *ph)
{
    return &ph->slot;
}

char *sw_phase_note(struct sw_phase *ph)
{
    return ph->run->note;
}

int sw_phase_mark(struct sw_phase *ph, const char *mark, char *err, size_t errlen)
{
    struct run *r = ph->run;
    char clean[SW_MARK_MAX];
    str_utf8_clean(clean, sizeof(clean), mark ? mark : "");
    int rc =
        sw_journal_mark(r->x->j, r->start.id, r->step, r->depth, clean, now_s(r->x), err, errlen);
    if (rc == 0) memcpy(r->mark, clean, sizeof(r->mark));
    return rc;
}

const char *sw_phase_marked(const struct sw_phase *ph)
{
    return ph->run->mark;
}

double sw_phase_step_seconds(const struct sw_phase *ph)
{
    return (double)(time_mono_ms() - ph->run->began_ms) / 1000.0;
}

double sw_phase_run_started(const struct sw_phase *ph)
{
    return ph->run->start.at;
}

void sw_phase_done(struct sw_phase *ph, enum sw_outcome o, const char *detail)
{
    struct run *r = ph->run;
    if (!ph->in_flight) return; /* a contract breach: answered twice, or after cancel */
    ph->in_flight = false;
    r->has_outcome = true;
    r->out = o;
    /* Details quote outside answers: keep them valid UTF-8 for the journal's JSON and the API. */
    str_utf8_clean(r->detail, sizeof(r->detail), detail ? detail : "");
    loop_timer_start(r->x->next, 0);
}

/* ---- timelines ---- */

static struct sw_timeline *timeline_of(struct run *r)
{
    return sw_timelines_find(&r->x->tl, r->start.id);
}

/* Journals t (at its plan's end, and when it closes): what survives a restart. */
static void timeline_save(struct sw_executor *x, const struct sw_timeline *t)
{
    char err[256];
    if (sw_journal_timeline(x->j, t, err, sizeof(err)) < 0)
        log_error("switchover", "run %s: its timeline: %s", t->id, err);
}

static void timeline_begin(struct sw_executor *x, const struct sw_run_start *s)
{
    if (s->requested_at <= 0 || sw_timelines_find(&x->tl, s->id)) return; /* a fence */
    struct sw_timeline t;
    sw_timeline_begin(&t, s->id, s->from, s->to, s->source, s->at, s->requested_at);
    (void)sw_timelines_put(&x->tl, &t);
}

/* What the world shows of the running run's milestones, each time the executor observes it. */
static void timeline_observe(struct run *r)
{
    struct sw_timeline *t = timeline_of(r);
    if (t) (void)sw_timeline_observe(t, &r->world);
}

/* A step's end that is a milestone: maintenance off. */
static void timeline_step(struct run *r, enum sw_result res, double at)
{
    struct sw_timeline *t = timeline_of(r);
    if (t && (res == SW_RESULT_OK || res == SW_RESULT_ALREADY) &&
        strcmp(r->cur->action->name, "maintenance") == 0 && !sw_step_arg(r->cur, "on", 1))
        (void)sw_timeline_mark(t, SW_MS_MAINTENANCE_OFF, at);
}

void sw_exec_watch(struct sw_executor *x, const struct sw_world *w)
{
    for (size_t i = 0; i < x->tl.n; i++) {
        struct sw_timeline *t = &x->tl.t[i];
        if (t->closed) continue;
        (void)sw_timeline_observe(t, w);
        if (sw_timeline_close_due(t, w->now)) timeline_save(x, t);
    }
}

const struct sw_timelines *sw_exec_timelines(const struct sw_executor *x)
{
    return &x->tl;
}

const struct sw_timeline *sw_exec_timeline(const struct sw_executor *x, const char *id)
{
    return sw_timelines_find((struct sw_timelines *)&x->tl, id);
}

/* ---- phases ---- */

static void run_phase(struct run *r)
{
    struct sw_executor *x = r->x;
    x->env.observe(x->env.observe_arg, &r->world);
    timeline_observe(r);
    const struct actuator_ops *ops = ops_of(x, r->cur->action);
    r->ph = (struct sw_phase){.run = r, .in_flight = true};
    r->has_outcome = false;
    switch (r->phase) {
    case PH_CHECK: ops->check(&r->ph); break;
    case PH_ACT: ops->act(&r->ph); break;
    case PH_POLL: ops->poll(&r->ph); break;
    case PH_GUARD: break; /* guards are the executor's, not an actuator's */
    }
}

/* The safety rules, in C: true when the action may go ahead now. A destructive action that
 * the guard refuses fails at once; a promotion waits (the other site may be demoting). */
static bool guard_passes(struct run *r, bool *wait)
{
    struct sw_executor *x = r->x;
    x->env.observe(x->env.observe_arg, &r->world);
    r->world.self = x->env.site;
    timeline_observe(r);
    char why[256];
    bool ok = true;
    *wait = false;
    if (r->cur->action->promotes) {
        ok = sw_guard_promote(&r->world, &x->env.guards, why, sizeof(why));
        *wait = !ok;
    }
    if (ok && (r->cur->action->destructive || r->cur->destructive))
        ok = sw_guard_destructive(&r->world, r->cur->destructive, &x->env.guards, why, sizeof(why));
    if (!ok) snprintf(r->detail, sizeof(r->detail), "guard: %.240s", why);
    struct sw_timeline *t = ok && r->cur->action->promotes ? timeline_of(r) : NULL;
    if (t) sw_timeline_promoted(t, &r->world); /* the RPO exposure: what promoting now loses */
    return ok;
}

static void cancel_phase(struct run *r)
{
    if (!r->ph.in_flight) return;
    const struct actuator_ops *ops = ops_of(r->x, r->cur->action);
    r->ph.in_flight = false;
    if (ops->cancel) ops->cancel(&r->ph);
}

/* ---- steps ---- */

static const struct sw_step *step_at(const struct sw_plan *pl, size_t step, size_t depth)
{
    const struct sw_step *st = step < pl->nsteps ? &pl->steps[step] : NULL;
    for (size_t d = 0; st && d < depth; d++) st = st->fallback;
    return st;
}

static void count(struct sw_executor *x, const struct sw_step *st, enum sw_result res,
                  double seconds)
{
    size_t a = sw_action_index(st->action);
    x->steps[a][res]++;
    x->last_seconds[a] = seconds;
    x->ran[a] = true;
}

/* Where the run goes after step (at depth) ended with res: 1 with step and depth set, or 0 when
 * the run is over (*over says how). */
static int next_position(const struct sw_plan *pl, size_t *step, size_t *depth, enum sw_result res,
                         enum sw_result *over)
{
    const struct sw_step *st = step_at(pl, *step, *depth);
    if (res == SW_RESULT_FAILED || res == SW_RESULT_REFUSED) {
        if (st && st->fallback) {
            ++*depth;
            return 1;
        }
        if (!pl->steps[*step].best_effort) {
            *over = SW_RESULT_FAILED;
            return 0;
        }
    }
    ++*step;
    *depth = 0;
    *over = SW_RESULT_OK;
    return *step < pl->nsteps;
}

static void end_step(struct run *r, enum sw_result res, const char *detail)
{
    struct sw_executor *x = r->x;
    loop_timer_stop(x->deadline);
    char err[256];
    double secs = (double)(time_mono_ms() - r->began_ms) / 1000.0;
    count(x, r->cur, res, secs);
    timeline_step(r, res, now_s(x));
    struct sw_step_record *sr = &r->rec.steps[r->step];
    sr->ended = true;
    sr->depth = r->depth;
    sr->result = res;
    sr->seconds = secs;
    snprintf(sr->detail, sizeof(sr->detail), "%s", detail ? detail : "");
    log_info("switchover", "run %s step %zu.%zu %s: %s%s%s", r->start.id, r->step + 1, r->depth,
             r->cur->action->name, sw_result_name(res), detail && detail[0] ? ": " : "",
             detail ? detail : "");
    if (sw_journal_end(x->j, r->start.id, r->step, r->depth, r->cur->action->name, res, detail,
                       now_s(x), secs, err, sizeof(err)) < 0) {
        finish(r, SW_RESULT_STOPPED, err); /* nothing more may happen unrecorded */
        return;
    }
    enum sw_result over;
    if (next_position(r->plan, &r->step, &r->depth, res, &over)) {
        r->doubt = false;
        start_step(r);
        return;
    }
    char why[300];
    snprintf(why, sizeof(why), "step %s: %s", r->cur->action->name, detail ? detail : "");
    finish(r, over, over == SW_RESULT_OK ? "" : why);
}

static void start_step(struct run *r)
{
    struct sw_executor *x = r->x;
    char err[256];
    r->cur = step_at(r->plan, r->step, r->depth);
    struct sw_step_record *sr = &r->rec.steps[r->step];
    sr->begun = true;
    sr->ended = false;
    sr->depth = r->depth;
    r->note[0] = '\0';
    r->began_ms = time_mono_ms();
    r->began_at = now_s(x);
    if (!r->doubt) r->mark[0] = '\0';
    /* A step begun again after a restart keeps its mark: journaled again after the new begin,
     * so that a second restart finds it too. */
    if (sw_journal_begin(x->j, r->start.id, r->step, r->depth, r->cur->action->name, r->began_at,
                         err, sizeof(err)) < 0 ||
        (r->mark[0] && sw_journal_mark(x->j, r->start.id, r->step, r->depth, r->mark, r->began_at,
                                       err, sizeof(err)) < 0)) {
        finish(r, SW_RESULT_STOPPED, err);
        return;
    }
    r->phase = PH_CHECK;
    loop_timer_start(x->deadline, r->cur->timeout_ms);
    run_phase(r);
}

/* ---- moving on ---- */

static void after_check(struct run *r)
{
    if (r->out == SW_DONE) return end_step(r, SW_RESULT_ALREADY, r->detail);
    if (r->doubt && (r->cur->action->destructive || r->cur->destructive)) {
        /* It began before a restart and its check cannot say it ended: running it again
         * could destroy what the first attempt built. A person decides. */
        char why[300];
        snprintf(why, sizeof(why),
                 "destructive step %s was in progress at a restart and is not "
                 "known to have finished: stopped, maintenance stays on",
                 r->cur->action->name);
        /* Counted as the step's outcome, so that TransitionFailed (on
         * drwatch_action_steps_total{result="stopped"}) alerts: found by lab_faults2.t, where
         * the stopped run showed in the journal and the API but no alert fired. */
        count(r->x, r->cur, SW_RESULT_STOPPED, (double)(time_mono_ms() - r->began_ms) / 1000.0);
        struct sw_step_record *sr = &r->rec.steps[r->step];
        sr->ended = true;
        sr->result = SW_RESULT_STOPPED;
        snprintf(sr->detail, sizeof(sr->detail), "%.199s", why);
        return finish(r, SW_RESULT_STOPPED, why);
    }
    bool guarded = r->cur->action->promotes || r->cur->action->destructive || r->cur->destructive;
    r->phase = guarded ? PH_GUARD : PH_ACT;
    if (guarded)
        loop_timer_start(r->x->next, 0);
    else
        run_phase(r);
}

static void on_guard(struct run *r)
{
    bool wait;
    if (guard_passes(r, &wait)) {
        r->phase = PH_ACT;
        return run_phase(r);
    }
    if (!wait) return end_step(r, SW_RESULT_REFUSED, r->detail);
    /* The API and the status page show the running step's record: say what it waits for
     * (end_step replaces it with the outcome). */
    struct sw_step_record *sr = &r->rec.steps[r->step];
    snprintf(sr->detail, sizeof(sr->detail), "waiting for the %.180s", r->detail);
    loop_timer_start(r->x->next, r->x->env.poll_ms); /* the deadline ends the wait */
}

static void on_next(void *arg)
{
    struct sw_executor *x = arg;
    struct run *r = x->run;
    if (!r) return;
    if (r->phase == PH_GUARD) return on_guard(r);
    if (!r->has_outcome) { /* a poll's pause is over */
        if (r->phase == PH_POLL) run_phase(r);
        return;
    }
    r->has_outcome = false;
    if (r->out == SW_ERROR) return end_step(r, SW_RESULT_FAILED, r->detail);
    switch (r->phase) {
    case PH_CHECK: after_check(r); break;
    case PH_ACT:
        if (!ops_of(x, r->cur->action)->poll) return end_step(r, SW_RESULT_OK, r->detail);
        r->phase = PH_POLL;
        run_phase(r);
        break;
    case PH_POLL:
        if (r->out == SW_DONE) return end_step(r, SW_RESULT_OK, r->detail);
        loop_timer_start(x->next, x->env.poll_ms);
        break;
    case PH_GUARD: break;
    }
}

static void on_deadline(void *arg)
{
    struct sw_executor *x = arg;
    struct run *r = x->run;
    if (!r) return;
    loop_timer_stop(x->next);
    cancel_phase(r);
    char why[300];
    if (r->phase == PH_GUARD) {
        snprintf(why, sizeof(why), "not allowed within %.0fs: %s",
                 (double)r->cur->timeout_ms / 1000.0, r->detail);
        return end_step(r, SW_RESULT_REFUSED, why);
    }
    snprintf(why, sizeof(why), "timed out after %.0fs%s%s", (double)r->cur->timeout_ms / 1000.0,
             r->detail[0] ? ": " : "", r->detail);
    end_step(r, SW_RESULT_FAILED, why);
}

/* ---- runs ---- */

static void run_free(struct run *r)
{
    if (!r) return;
    sw_plan_free(r->plan);
    free(r);
}

static void finish(struct run *r, enum sw_result res, const char *detail)
{
    struct sw_executor *x = r->x;
    char err[256];
    loop_timer_stop(x->next);
    loop_timer_stop(x->deadline);
    cancel_phase(r);
    double at = now_s(x);
    if (sw_journal_finish(x->j, r->start.id, res, detail, at, err, sizeof(err)) < 0)
        log_error("switchover", "run %s: %s", r->start.id, err);
    x->last_finished = at;
    struct sw_timeline *t = timeline_of(r);
    if (t) {
        sw_timeline_end(t, res, at);
        (void)sw_timeline_close_due(t, at);
        timeline_save(x, t);
    }
    r->rec.finished = true;
    r->rec.result = res;
    r->rec.finished_at = at;
    snprintf(r->rec.detail, sizeof(r->rec.detail), "%s", detail ? detail : "");
    r->rec.start = r->start;
    x->last = r->rec;
    x->have_last = true;
    log_info("switchover", "run %s %s -> %s finished: %s%s%s", r->start.id,
             sw_state_name(r->start.from), sw_state_name(r->start.to), sw_result_name(res),
             detail && detail[0] ? ": " : "", detail ? detail : "");
    x->run = NULL;
    if (x->env.finished) x->env.finished(x->env.finished_arg, &r->start, res, detail);
    run_free(r);
}

/* Every action of the plan has an actuator: a plan that cannot finish does not start. */
static int check_actuators(const struct sw_executor *x, const struct sw_plan *pl, char *err,
                           size_t errlen)
{
    for (size_t i = 0; i < pl->nsteps; i++) {
        for (const struct sw_step *st = &pl->steps[i]; st; st = st->fallback) {
            if (ops_of(x, st->action)) continue;
            snprintf(err, errlen, "no actuator for %s", st->action->name);
            return -ENOSYS;
        }
    }
    return 0;
}

static struct run *run_new(struct sw_executor *x, const struct sw_plan *plan,
                           const struct sw_run_start *start)
{
    struct run *r = xcalloc(1, sizeof(*r));
    r->x = x;
    r->plan = sw_plan_copy(plan);
    r->start = *start;
    r->start.site = plan->site;
    r->start.force = plan->force;
    r->start.nsteps = plan->nsteps;
    r->start.plan_hash = sw_plan_hash(plan);
    r->rec.start = r->start;
    r->rec.nsteps = plan->nsteps;
    for (size_t i = 0; i < plan->nsteps; i++) {
        snprintf(r->rec.steps[i].action, sizeof(r->rec.steps[i].action), "%s",
                 plan->steps[i].action->name);
        snprintf(r->rec.steps[i].name, sizeof(r->rec.steps[i].name), "%s", plan->steps[i].name);
    }
    return r;
}

int sw_exec_start(struct sw_executor *x, const struct sw_plan *plan, const struct sw_run_start *run,
                  char *err, size_t errlen)
{
    if (x->run) {
        snprintf(err, errlen, "run %s is going on", x->run->start.id);
        return -EBUSY;
    }
    int rc = check_actuators(x, plan, err, errlen);
    if (rc < 0) return rc;
    struct run *r = run_new(x, plan, run);
    if (!r->start.at) r->start.at = now_s(x);
    rc = sw_journal_start(x->j, &r->start, err, errlen);
    if (rc < 0) {
        run_free(r);
        return rc;
    }
    x->run = r;
    timeline_begin(x, &r->start);
    log_info("switchover", "run %s: %s -> %s on %s (%s: %s)", r->start.id,
             sw_state_name(r->start.from), sw_state_name(r->start.to), sw_site_name(r->start.site),
             sw_source_name(r->start.source), r->start.reason);
    if (plan->nsteps == 0) {
        finish(r, SW_RESULT_OK, "nothing to do on this site");
        return 0;
    }
    start_step(r);
    return 0;
}

/* Where the replayed run goes on: its step in doubt, or after its last ended step as
 * end_step would have gone. Returns 1 with the position, 0 when the run had ended all it
 * could (res says how), -1 when the journal names a step the plan does not have. */
static int resume_position(const struct sw_replayed *rp, const struct sw_plan *pl, size_t *step,
                           size_t *depth, enum sw_result *res)
{
    *res = SW_RESULT_OK;
    if (rp->in_doubt) {
        *step = rp->doubt_step;
        *depth = rp->doubt_depth;
        return step_at(pl, *step, *depth) ? 1 : -1;
    }
    if (!rp->have_end) {
        *step = *depth = 0;
        return 1;
    }
    *step = rp->end_step;
    *depth = rp->end_depth;
    if (!step_at(pl, *step, *depth)) return -1;
    return next_position(pl, step, depth, rp->end_result, res);
}

_Static_assert(SW_JOURNAL_MAX_STEPS == SW_MAX_STEPS, "the replay keeps every step of a plan");

/* The steps the run ended before the restart, as the journal has them: without them a resumed
 * run's record (GET /api/v1/plans/<id>) showed them pending, as if they had never run. */
static void recall_ended(struct sw_run_record *rec, const struct sw_replayed *rp)
{
    for (size_t i = 0; i < rec->nsteps && i < SW_JOURNAL_MAX_STEPS; i++) {
        const struct sw_replayed_step *rs = &rp->steps[i];
        if (!rs->ended) continue;
        struct sw_step_record *sr = &rec->steps[i];
        sr->begun = sr->ended = true;
        sr->depth = rs->depth;
        sr->result = rs->result;
        sr->seconds = rs->seconds;
        snprintf(sr->detail, sizeof(sr->detail), "%s", rs->detail);
    }
}

int sw_exec_resume(struct sw_executor *x, const struct sw_plans *plans, char *err, size_t errlen)
{
    const struct sw_replayed *rp = &x->replayed;
    if (x->run || !rp->have_run || rp->finished) return 1;
    const struct sw_run_start *s = &rp->start;
    const struct sw_plan *pl = sw_plans_get(plans, s->site, s->from, s->to, s->force);
    struct sw_plan empty = {.site = s->site, .from = s->from, .to = s->to, .force = s->force};
    struct run *r = run_new(x, pl ? pl : &empty, s);
    r->start = *s;
    x->run = r;
    timeline_begin(x, &r->start);
    size_t step, depth;
    enum sw_result res;
    int pos = -1;
    if (!pl || sw_plan_hash(pl) != s->plan_hash)
        snprintf(err, errlen, "the plan for %s -> %s changed since run %s started",
                 sw_state_name(s->from), sw_state_name(s->to), s->id);
    else if ((pos = resume_position(rp, pl, &step, &depth, &res)) < 0)
        snprintf(err, errlen, "the journal names a step the plan does not have");
    if (pos < 0) {
        char why[400];
        snprintf(why, sizeof(why), "not resumed after a restart: %s; maintenance stays on", err);
        finish(r, SW_RESULT_STOPPED, why);
        return -1;
    }
    log_warn("switchover", "run %s was cut short by a restart: resuming", s->id);
    r->rec.resumed = true; /* also when only its finish is left: it went on after the restart */
    recall_ended(&r->rec, rp);
    if (pos == 0) {
        finish(r, res, res == SW_RESULT_OK ? "" : "a step had failed before the restart");
        return 0;
    }
    r->step = step;
    r->depth = depth;
    r->doubt = rp->in_doubt;
    if (r->doubt) snprintf(r->mark, sizeof(r->mark), "%s", rp->doubt_mark);
    start_step(r);
    return 0;
}

struct sw_executor *sw_exec_new(const struct sw_exec_env *env, char *err, size_t errlen)
{
    struct sw_executor *x = xcalloc(1, sizeof(*x));
    x->env = *env;
    if (x->env.poll_ms <= 0) x->env.poll_ms = 1000;
    x->data_dir = xstrdup(env->data_dir);
    x->env.data_dir = x->data_dir;
    x->j = sw_journal_open(x->data_dir, &x->replayed, err, errlen);
    if (!x->j) {
        sw_exec_free(x);
        return NULL;
    }
    x->last_finished = x->replayed.last_finished_at;
    x->tl = x->replayed.timelines;
    x->next = loop_timer_new(env->loop, on_next, x);
    x->deadline = loop_timer_new(env->loop, on_deadline, x);
    if (x->replayed.corrupt)
        log_warn("switchover", "journal: %zu damaged records skipped", x->replayed.corrupt);
    return x;
}

void sw_exec_free(struct sw_executor *x)
{
    if (!x) return;
    if (x->run) cancel_phase(x->run);
    run_free(x->run);
    loop_timer_free(x->next);
    loop_timer_free(x->deadline);
    sw_journal_free(x->j);
    free(x->data_dir);
    free(x);
}

int sw_exec_note(struct sw_executor *x, const char *kind, const char *to, enum sw_source source,
                 const char *reason, char *err, size_t errlen)
{
    return sw_journal_note(x->j, kind, to, source, reason, now_s(x), err, errlen);
}

const struct sw_replayed *sw_exec_replayed(const struct sw_executor *x)
{
    return &x->replayed;
}

bool sw_exec_busy(const struct sw_executor *x)
{
    return x->run != NULL;
}

const struct sw_run_start *sw_exec_current(const struct sw_executor *x, size_t *step, size_t *depth)
{
    if (!x->run) return NULL;
    if (step) *step = x->run->step;
    if (depth) *depth = x->run->depth;
    return &x->run->start;
}

const struct sw_run_record *sw_exec_record(const struct sw_executor *x, const char *id)
{
    if (x->run && strcmp(x->run->start.id, id) == 0) {
        x->run->rec.start = x->run->start;
        return &x->run->rec;
    }
    if (x->have_last && strcmp(x->last.start.id, id) == 0) return &x->last;
    return NULL;
}

double sw_exec_last_finished(const struct sw_executor *x)
{
    return x->last_finished;
}

const struct sw_run_record *sw_exec_last(const struct sw_executor *x)
{
    return x->have_last ? &x->last : NULL;
}

/* drwatch_transition_duration_seconds: the last finished run's, from this process or, after a
 * restart, from the journal's replay, so that the figure outlives the process that ran it. */
static void transition_duration(const struct sw_executor *x, struct metric_set *m)
{
    const struct sw_run_start *s = NULL;
    enum sw_result res = SW_RESULT_OK;
    double end = 0;
    if (x->have_last) {
        s = &x->last.start;
        res = x->last.result;
        end = x->last.finished_at;
    } else if (x->replayed.have_run && x->replayed.finished) {
        s = &x->replayed.start;
        res = x->replayed.result;
        end = x->replayed.finished_at;
    }
    struct metric_family *f =
        mset_family(m, "drwatch_transition_duration_seconds", METRIC_GAUGE,
                    "How long this site's last finished transition took, from its request's "
                    "acceptance to its end, by from, to and result (ok, failed, stopped).");
    mset_family_set_unit(m, f, "seconds");
    if (!s || end < s->at) return;
    mset_addv(m, f, end - s->at, "from", sw_state_name(s->from), "to", sw_state_name(s->to),
              "result", sw_result_name(res), (const char *)NULL);
}

/* The last SW_TIMELINES_MAX transitions: labels plan and to, so the series stay bounded. */
static void timeline_metrics(const struct sw_executor *x, struct metric_set *m)
{
    struct metric_family *ms = mset_family(
        m, "drwatch_transition_milestone_seconds", METRIC_GAUGE,
        "Seconds from a transition's request to each milestone of its recovery this site saw "
        "(plan_started, primary_writable, health_up, gslb_answering, maintenance_off, "
        "plan_ended), for this site's last transitions, by plan (run id), to and milestone.");
    mset_family_set_unit(m, ms, "seconds");
    struct metric_family *req = mset_family(
        m, "drwatch_transition_requested_timestamp_seconds", METRIC_GAUGE,
        "When each of this site's last transitions was requested (Unix seconds), by plan and to.");
    mset_family_set_unit(m, req, "seconds");
    struct metric_family *rb = mset_family(
        m, "drwatch_transition_rpo_bytes", METRIC_GAUGE,
        "WAL the other site held beyond this one when this site's promotion passed its guard "
        "(the data a promotion then would lose), for this site's last transitions that promoted.");
    mset_family_set_unit(m, rb, "bytes");
    struct metric_family *rs = mset_family(
        m, "drwatch_transition_rpo_seconds", METRIC_GAUGE,
        "This site's replay lag when its promotion passed its guard, for this site's last "
        "transitions that promoted.");
    mset_family_set_unit(m, rs, "seconds");
    for (size_t i = 0; i < x->tl.n; i++) {
        const struct sw_timeline *t = &x->tl.t[i];
        const char *to = sw_state_name(t->to);
        mset_addv(m, req, t->at[SW_MS_REQUESTED], "plan", t->id, "to", to, (const char *)NULL);
        for (int k = SW_MS_PLAN_STARTED; k < SW_MS_COUNT; k++) {
            double v = sw_timeline_since_request(t, (enum sw_milestone)k);
            if (v >= 0)
                mset_addv(m, ms, v, "plan", t->id, "to", to, "milestone",
                          sw_milestone_name((enum sw_milestone)k), (const char *)NULL);
        }
        if (t->rpo_bytes >= 0)
            mset_addv(m, rb, t->rpo_bytes, "plan", t->id, "to", to, (const char *)NULL);
        if (t->rpo_seconds >= 0)
            mset_addv(m, rs, t->rpo_seconds, "plan", t->id, "to", to, (const char *)NULL);
    }
}

void sw_exec_metrics(const struct sw_executor *x, struct metric_set *m)
{
    struct metric_family *steps =
        mset_family(m, "drwatch_action_steps_total", METRIC_COUNTER,
                    "Plan steps this drwatch ended, by action and result (ok, already: its check "
                    "found it done, failed, refused: a safety guard held it back, stopped).");
    struct metric_family *dur = mset_family(m, "drwatch_action_step_duration_seconds", METRIC_GAUGE,
                                            "How long the last step of an action took.");
    mset_family_set_unit(m, dur, "seconds");
    for (size_t a = 0; a < SW_ACTION_COUNT; a++) {
        const char *name = sw_action_at(a)->name;
        for (int res = 0; res < SW_RESULT_COUNT; res++)
            mset_addv(m, steps, (double)x->steps[a][res], "action", name, "result",
                      sw_result_name((enum sw_result)res), (const char *)NULL);
        if (x->ran[a]) mset_addv(m, dur, x->last_seconds[a], "action", name, (const char *)NULL);
    }
    transition_duration(x, m);
    timeline_metrics(x, m);
    mset_addv(m,
              mset_family(m, "drwatch_transition_in_progress", METRIC_GAUGE,
                          "1 while this site runs a transition's plan, else 0."),
              x->run ? 1.0 : 0.0, (const char *)NULL);
    if (!x->run) return;
    const struct sw_run_start *s = &x->run->start;
    struct metric_family *info = mset_family(m, "drwatch_transition_info", METRIC_GAUGE,
                                             "The transition this site is running: from, to, "
                                             "the plan's run id and what asked for it (trigger).");
    mset_addv(m, info, 1.0, "from", sw_state_name(s->from), "to", sw_state_name(s->to), "plan",
              s->id, "trigger", sw_source_name(s->source), (const char *)NULL);
}
