/* scheduler.c: jobs, scrapes, deadlines and the drwatch_collector_* families (see scheduler.h).
 *
 * A scrape is a small object between the scheduler and a collector. It outlives neither: the
 * scheduler frees it when the collector calls scrape_done or when the deadline cancels it. */
#include "scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "xalloc.h"

#define MAX_REASONS 16

struct job_stats {
    bool up;
    bool ran;
    double duration_s;
    double last_success; /* wall clock seconds, 0 when never */
    struct {
        char reason[40];
        uint64_t count;
    } errors[MAX_REASONS];
    size_t nerrors;
    struct complaint complaint;
    char complaint_reason[40]; /* the reason last logged: a new reason is logged again */
};

struct job {
    struct sched *sched;
    const struct collector_ops *ops;
    struct collector_target t;
    struct loop_timer *timer, *deadline;
    struct scrape *running;
    struct metric_set *current; /* the last good scrape's samples, or NULL */
    struct job_stats st;
};

struct scrape {
    struct job *job;
    struct metric_set *set;
    double started;
};

struct sched {
    struct loop *loop;
    sched_publish_fn publish;
    void *arg;
    struct job **jobs;
    size_t njobs;
    struct loop_timer *publish_timer;
};

/* ---- errors ---- */

static void count_error(struct job_stats *st, const char *reason)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < st->nerrors; i++) {
            if (strcmp(st->errors[i].reason, reason) == 0) {
                st->errors[i].count++;
                return;
            }
        }
        if (st->nerrors < MAX_REASONS - 1 || pass == 1) break;
        reason = "other"; /* the last slot is kept for every further reason */
    }
    snprintf(st->errors[st->nerrors].reason, sizeof(st->errors[0].reason), "%s", reason);
    st->errors[st->nerrors++].count = 1;
}

/* ---- publishing ---- */

static void add_job_series(struct metric_set *m, struct metric_family *f, const struct job *j,
                           double v)
{
    struct label_pair l[3] = {
        {"collector", j->ops->name}, {"target", j->t.name}, {"site", j->t.site}};
    mset_add(m, f, SUFFIX_NONE, l, j->t.site[0] ? 3 : 2, v);
}

static struct metric_set *status_set(const struct sched *s)
{
    struct metric_set *m = mset_new();
    struct metric_family *up =
        mset_family(m, "drwatch_collector_up", METRIC_GAUGE,
                    "1 if the last scrape of this collector target succeeded, 0 if it failed.");
    struct metric_family *dur =
        mset_family(m, "drwatch_collector_scrape_duration_seconds", METRIC_GAUGE,
                    "How long the last scrape of this target took.");
    mset_family_set_unit(m, dur, "seconds");
    struct metric_family *last =
        mset_family(m, "drwatch_collector_last_success_timestamp_seconds", METRIC_GAUGE,
                    "When this target was last scraped successfully (Unix time); shows staleness.");
    mset_family_set_unit(m, last, "seconds");
    struct metric_family *err = mset_family(m, "drwatch_collector_errors_total", METRIC_COUNTER,
                                            "Scrape errors of this target, by reason.");
    struct metric_family *iv = mset_family(m, "drwatch_collector_interval_seconds", METRIC_GAUGE,
                                           "How often this target is scraped.");
    mset_family_set_unit(m, iv, "seconds");
    struct metric_family *to =
        mset_family(m, "drwatch_collector_timeout_seconds", METRIC_GAUGE,
                    "How long a scrape of this target may take before it counts as a timeout.");
    mset_family_set_unit(m, to, "seconds");
    for (size_t i = 0; i < s->njobs; i++) {
        const struct job *j = s->jobs[i];
        add_job_series(m, iv, j, (double)j->t.interval_ms / 1000.0);
        add_job_series(m, to, j, (double)j->t.timeout_ms / 1000.0);
        if (!j->st.ran) continue;
        add_job_series(m, up, j, j->st.up);
        add_job_series(m, dur, j, j->st.duration_s);
        if (j->st.last_success > 0) add_job_series(m, last, j, j->st.last_success);
        for (size_t e = 0; e < j->st.nerrors; e++) {
            struct label_pair l[4] = {{"collector", j->ops->name},
                                      {"target", j->t.name},
                                      {"reason", j->st.errors[e].reason},
                                      {"site", j->t.site}};
            mset_add(m, err, SUFFIX_NONE, l, j->t.site[0] ? 4 : 3, (double)j->st.errors[e].count);
        }
    }
    return m;
}

static void do_publish(void *arg)
{
    struct sched *s = arg;
    struct metric_set **sets = xmalloc((s->njobs + 1) * sizeof(*sets));
    size_t n = 0;
    for (size_t i = 0; i < s->njobs; i++)
        if (s->jobs[i]->current) sets[n++] = s->jobs[i]->current;
    struct metric_set *status = status_set(s);
    sets[n++] = status;
    s->publish(s->arg, sets, n);
    mset_unref(status);
    free(sets);
}

static void schedule_publish(struct sched *s)
{
    if (!loop_timer_active(s->publish_timer))
        loop_timer_start(s->publish_timer, SCHED_PUBLISH_DELAY_MS);
}

/* ---- scrapes ---- */

struct metric_set *scrape_set(struct scrape *sc)
{
    return sc->set;
}

void scrape_reuse_set(struct scrape *sc, struct metric_set *set)
{
    mset_ref(set);
    mset_unref(sc->set);
    sc->set = set;
}

const char *scrape_target_site(const struct scrape *sc)
{
    return sc->job->t.site;
}

void scrape_count_error(struct scrape *sc, const char *reason)
{
    count_error(&sc->job->st, reason);
}

static void scrape_finish(struct scrape *sc, bool ok, const char *reason, const char *detail)
{
    struct job *j = sc->job;
    j->running = NULL;
    loop_timer_stop(j->deadline);
    j->st.ran = true;
    j->st.up = ok;
    j->st.duration_s = time_mono_s() - sc->started;
    mset_unref(j->current);
    if (ok) {
        mset_seal(sc->set);
        j->current = sc->set;
        j->st.last_success = time_wall_s();
        log_complain_clear(&j->st.complaint, j->ops->name, "target %s recovered", j->t.name);
    } else {
        /* A failed target's samples are dropped, not served stale: up says what happened. */
        j->current = NULL;
        mset_unref(sc->set);
        const char *why = reason ? reason : "error";
        count_error(&j->st, why);
        /* Logged once while it repeats, and again when the reason changes (403 then 401). */
        if (j->st.complaint.active && strcmp(j->st.complaint_reason, why) != 0)
            j->st.complaint.active = false;
        snprintf(j->st.complaint_reason, sizeof(j->st.complaint_reason), "%s", why);
        log_complain(&j->st.complaint, LOG_WARN, j->ops->name, "target %s failed: %s%s%s",
                     j->t.name, why, detail ? ": " : "", detail ? detail : "");
    }
    free(sc);
    schedule_publish(j->sched);
}

void scrape_done(struct scrape *sc, bool ok, const char *reason, const char *detail)
{
    scrape_finish(sc, ok, reason, detail);
}

static void on_deadline(void *arg)
{
    struct job *j = arg;
    if (!j->running) return;
    if (j->ops->cancel) j->ops->cancel(j->t.state);
    char detail[64];
    snprintf(detail, sizeof(detail), "no answer within %.3gs", (double)j->t.timeout_ms / 1000.0);
    scrape_finish(j->running, false, "timeout", detail);
}

static void on_job_timer(void *arg)
{
    struct job *j = arg;
    loop_timer_start(j->timer, j->t.interval_ms);
    if (j->running) return; /* cannot happen while timeout <= interval; be safe */
    struct scrape *sc = xcalloc(1, sizeof(*sc));
    sc->job = j;
    sc->set = mset_new();
    sc->started = time_mono_s();
    j->running = sc;
    loop_timer_start(j->deadline, j->t.timeout_ms);
    j->ops->start(j->t.state, sc);
}

/* ---- jobs ---- */

static struct job *job_new(struct sched *s, struct collector_target *t)
{
    struct job *j = xcalloc(1, sizeof(*j));
    j->sched = s;
    j->ops = t->ops;
    j->t = *t;
    j->timer = loop_timer_new(s->loop, on_job_timer, j);
    j->deadline = loop_timer_new(s->loop, on_deadline, j);
    return j;
}

static void job_free(struct job *j)
{
    if (j->running) {
        if (j->ops->cancel) j->ops->cancel(j->t.state);
        mset_unref(j->running->set);
        free(j->running);
    }
    loop_timer_free(j->timer);
    loop_timer_free(j->deadline);
    j->ops->free(j->t.state);
    mset_unref(j->current);
    free(j->t.name);
    free(j->t.site);
    free(j);
}

static bool same_identity(const struct job *a, const struct job *b)
{
    return a->ops == b->ops && strcmp(a->t.name, b->t.name) == 0 &&
           strcmp(a->t.site, b->t.site) == 0;
}

struct sched *sched_new(struct loop *l, sched_publish_fn publish, void *arg)
{
    struct sched *s = xcalloc(1, sizeof(*s));
    s->loop = l;
    s->publish = publish;
    s->arg = arg;
    s->publish_timer = loop_timer_new(l, do_publish, s);
    return s;
}

void sched_free(struct sched *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->njobs; i++) job_free(s->jobs[i]);
    free(s->jobs);
    loop_timer_free(s->publish_timer);
    free(s);
}

void sched_apply(struct sched *s, struct target_list *targets)
{
    size_t n = targets->n;
    struct job **jobs = xcalloc(n + 1, sizeof(*jobs));
    for (size_t i = 0; i < n; i++) jobs[i] = job_new(s, &targets->v[i]);
    free(targets->v);
    *targets = (struct target_list){0};
    for (size_t i = 0; i < n; i++) {
        for (size_t o = 0; o < s->njobs; o++) {
            struct job *old = s->jobs[o];
            if (!old || !same_identity(old, jobs[i])) continue;
            jobs[i]->st = old->st;
            jobs[i]->current = old->current;
            old->current = NULL;
            break;
        }
    }
    for (size_t o = 0; o < s->njobs; o++) job_free(s->jobs[o]);
    free(s->jobs);
    s->jobs = jobs;
    s->njobs = n;
    for (size_t i = 0; i < n; i++) loop_timer_start(jobs[i]->timer, 0);
    schedule_publish(s);
}

void sched_request_publish(struct sched *s)
{
    schedule_publish(s);
}

bool sched_all_ran(const struct sched *s)
{
    for (size_t i = 0; i < s->njobs; i++)
        if (!s->jobs[i]->st.ran) return false;
    return true;
}

size_t sched_job_count(const struct sched *s)
{
    return s->njobs;
}
