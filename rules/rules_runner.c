/* rules_runner.c: the rules engine on a thread of its own (see rules_runner.h).
 *
 * The engine passes between two threads through one field, state, under one mutex:
 *   IDLE     the loop's: it may dispatch an evaluation or swap the engine;
 *   RUNNING  the runner thread's: it evaluates, writes the state file, then sets DONE and
 *            wakes the loop;
 *   DONE     the loop's again, once it sees it: it reads the result and sets IDLE.
 * Only the loop moves IDLE to RUNNING and DONE to IDLE, and only the runner thread moves
 * RUNNING to DONE, so the loop reads state under the lock and never waits on it.
 *
 * The schedule is Prometheus' rule group ticker: evaluations are due on slots interval apart,
 * and a slot that finds the previous evaluation still running (or that the loop itself was too
 * late for) is skipped and counted, never queued behind it. */
#include "rules_runner.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "loop.h"
#include "xalloc.h"

enum runner_state { RUNNER_IDLE, RUNNER_RUNNING, RUNNER_DONE };

struct rules_runner {
    struct rules_runner_env env;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    /* Under lock. */
    enum runner_state state;
    atomic_bool stop;     /* written under lock; read without it by the thread mid-evaluation */
    struct snapshot *job; /* handed over with RUNNING; the thread takes it */
    double job_t;         /* the evaluation time, Unix seconds */
    /* Whose it is depends on state (see above). */
    struct rules_engine *engine;
    /* The loop's. */
    struct loop_timer *timer;
    struct loop_async *done;
    int64_t interval_ms;
    int64_t slot_ms; /* when the next evaluation is due (monotonic); 0: as soon as it can */
    bool swap;       /* pending replaces engine once the running evaluation ends */
    struct rules_engine *pending;
    int64_t pending_interval_ms;
    uint64_t missed, missed_before; /* before: when the last evaluation started */
    struct complaint missed_complaint;
    struct metric_set *engine_out, *runner_out;
    /* The runner thread's. */
    struct complaint state_complaint;
};

static enum runner_state state_of(struct rules_runner *r)
{
    pthread_mutex_lock(&r->lock);
    enum runner_state s = r->state;
    pthread_mutex_unlock(&r->lock);
    return s;
}

/* ---- the runner thread ---- */

static void save_state(struct rules_runner *r, struct rules_engine *e, double t)
{
    char err[512];
    if (rules_save_state(e, t, err, sizeof(err)) < 0)
        log_complain(&r->state_complaint, LOG_WARN, "rules", "%s", err);
    else
        log_complain_clear(&r->state_complaint, "rules", "alert state file written again");
}

static void *runner_main(void *arg)
{
    struct rules_runner *r = arg;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (!r->stop && r->state != RUNNER_RUNNING) pthread_cond_wait(&r->wake, &r->lock);
        if (r->stop) break;
        struct rules_engine *e = r->engine;
        struct snapshot *snap = r->job;
        double t = r->job_t;
        r->job = NULL;
        pthread_mutex_unlock(&r->lock);
        rules_eval(e, t, snap, snap);
        snapshot_unref(snap);
        /* Stopped midway, the state file from the last whole evaluation stays. */
        if (!atomic_load(&r->stop)) save_state(r, e, t);
        pthread_mutex_lock(&r->lock);
        r->state = RUNNER_DONE;
        loop_async_send(r->done);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* ---- the loop's side ---- */

/* The runner's own metric set, made again whenever what it shows changes. */
static void make_runner_metrics(struct rules_runner *r)
{
    struct metric_set *m = mset_new();
    struct metric_family *f = mset_family(
        m, "drwatch_rule_evaluations_missed_total", METRIC_COUNTER,
        "Rule evaluations skipped because they could not start when due (the previous one "
        "still ran, or the loop was held up), as Prometheus' "
        "prometheus_rule_group_iterations_missed_total.");
    mset_addv(m, f, (double)r->missed, (const char *)NULL);
    mset_seal(m);
    mset_unref(r->runner_out);
    r->runner_out = m;
}

static void count_missed(struct rules_runner *r, uint64_t n)
{
    if (!n) return;
    log_complain(&r->missed_complaint, LOG_WARN, "rules",
                 "evaluations are skipped: the previous one still ran when they were due (the "
                 "rules take longer than evaluation_interval) or the loop was held up; counted "
                 "in drwatch_rule_evaluations_missed_total");
    r->missed += n;
    make_runner_metrics(r);
}

/* Arms the timer for the next slot after the one just handled (now at the latest): slots the
 * loop came too late for are counted as missed and skipped too. */
static void schedule_next(struct rules_runner *r, int64_t now)
{
    if (!r->slot_ms) r->slot_ms = now;
    r->slot_ms += r->interval_ms;
    if (r->slot_ms <= now) {
        int64_t behind = (now - r->slot_ms) / r->interval_ms + 1;
        count_missed(r, (uint64_t)behind);
        r->slot_ms += behind * r->interval_ms;
    }
    loop_timer_start(r->timer, r->slot_ms - now);
}

/* Makes e the engine, carrying the old one's state over; no evaluation may be running. */
static void commit(struct rules_runner *r, struct rules_engine *e, int64_t interval_ms)
{
    if (e && r->engine) rules_take_state(e, r->engine);
    rules_free(r->engine);
    r->engine = e;
    r->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    r->slot_ms = 0;
    mset_unref(r->engine_out); /* made by the old engine */
    r->engine_out = NULL;
    if (!e) {
        loop_timer_stop(r->timer);
        mset_unref(r->runner_out);
        r->runner_out = NULL;
        r->env.result(r->env.arg, NULL);
        return;
    }
    if (!r->runner_out) make_runner_metrics(r);
    loop_timer_start(r->timer, 0);
}

/* An evaluation came back (state DONE): its result, then a swap that waited for it. */
static void finish(struct rules_runner *r)
{
    mset_unref(r->engine_out);
    r->engine_out = rules_metrics(r->engine);
    r->env.result(r->env.arg, r->engine);
    pthread_mutex_lock(&r->lock);
    r->state = RUNNER_IDLE;
    pthread_mutex_unlock(&r->lock);
    if (r->swap) {
        r->swap = false;
        commit(r, r->pending, r->pending_interval_ms);
        r->pending = NULL;
    }
}

static void on_done(void *arg)
{
    struct rules_runner *r = arg;
    if (state_of(r) == RUNNER_DONE) finish(r);
}

static void dispatch(struct rules_runner *r, struct snapshot *snap)
{
    pthread_mutex_lock(&r->lock);
    r->job = snap;
    r->job_t = time_wall_s();
    r->state = RUNNER_RUNNING;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
}

static void on_tick(void *arg)
{
    struct rules_runner *r = arg;
    /* A result whose wake-up is still on its way is taken now rather than counted as busy. */
    if (state_of(r) == RUNNER_DONE) finish(r);
    if (!r->engine || loop_timer_active(r->timer)) return; /* finish swapped and re-armed */
    int64_t now = time_mono_ms();
    if (state_of(r) == RUNNER_RUNNING) {
        count_missed(r, 1);
        schedule_next(r, now);
        return;
    }
    struct snapshot *snap = r->env.snapshot(r->env.arg);
    if (!snap) {
        r->slot_ms = 0;
        loop_timer_start(r->timer, RULES_RUNNER_RETRY_MS);
        return;
    }
    if (r->missed == r->missed_before) /* none since the last evaluation started */
        log_complain_clear(&r->missed_complaint, "rules", "evaluations start on time again");
    r->missed_before = r->missed;
    dispatch(r, snap);
    schedule_next(r, now);
}

struct rules_runner *rules_runner_new(const struct rules_runner_env *env, char *err, size_t errlen)
{
    struct rules_runner *r = xcalloc(1, sizeof(*r));
    r->env = *env;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    r->timer = loop_timer_new(env->loop, on_tick, r);
    r->done = loop_async_new(env->loop, on_done, r);
    int rc = pthread_create(&r->thread, NULL, runner_main, r);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the rules thread: %s", strerror(rc));
        loop_timer_free(r->timer);
        loop_async_free(r->done);
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
    }
    return r;
}

void rules_runner_free(struct rules_runner *r)
{
    if (!r) return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    if (r->state == RUNNER_RUNNING) rules_interrupt(r->engine);
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    snapshot_unref(r->job); /* dispatched, never taken */
    loop_timer_free(r->timer);
    loop_async_free(r->done);
    rules_free(r->engine);
    rules_free(r->pending);
    mset_unref(r->engine_out);
    mset_unref(r->runner_out);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void rules_runner_set_engine(struct rules_runner *r, struct rules_engine *e, int64_t interval_ms)
{
    if (state_of(r) == RUNNER_IDLE) {
        commit(r, e, interval_ms);
        return;
    }
    if (r->swap) rules_free(r->pending); /* a newer config replaces the one that waited */
    r->swap = true;
    r->pending = e;
    r->pending_interval_ms = interval_ms;
}

void rules_runner_metrics(struct rules_runner *r, struct metric_set **engine_set,
                          struct metric_set **runner_set)
{
    if (r->engine_out) mset_ref(r->engine_out);
    if (r->runner_out) mset_ref(r->runner_out);
    *engine_set = r->engine_out;
    *runner_set = r->runner_out;
}
