/* executor.h: runs one plan at a time, step by step, on the event loop, journaled.
 *
 * A step goes through up to three phases, each done by the step's actuator without blocking
 * the loop: check (is it done already?), act, and poll (until its wait condition holds). The
 * step has one deadline from its begin record. Around them the executor enforces, whatever
 * the plan says, the safety rules of guards.h: an action that promotes runs only once the
 * promotion guard passes (polled until the deadline: the other site may still be demoting), and
 * a destructive action only when the destructive guard passes at that moment.
 *
 * A step that fails (an error, its deadline, or a guard that never let it act) runs its
 * fallback if it has one; a best-effort step that fails is recorded and the plan goes on;
 * otherwise the plan stops there, failed: nothing after it runs (maintenance stays on where an
 * earlier step put it), and the failure is a metric and a fact for the rules to alert on.
 *
 * Every step is journaled before and after (run_journal.h). After a crash the executor finds
 * the unfinished run and resumes it with the same plan (by hash): a step in doubt is checked
 * first; if it is destructive and its check cannot tell it finished, the run stops instead. */
#ifndef DRWATCH_EXECUTOR_H
#define DRWATCH_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guards.h"
#include "plan.h"
#include "registry.h"
#include "run_journal.h"
#include "timeline.h"
#include "world.h"

struct loop;
struct sw_phase;

enum sw_outcome {
    SW_DONE,     /* check: already done; act: done; poll: the wait is over */
    SW_NOT_DONE, /* check: not done yet; poll: keep waiting */
    SW_ERROR,    /* the step fails, with the detail */
};

/* One actuator implements one action of the catalogue (actions.h). Each phase ends with
 * exactly one sw_phase_done, from inside the call or later from a loop callback, unless
 * cancel is called first (then never). poll may be NULL: the action needs no wait. */
struct actuator_ops {
    const char *action;
    void (*check)(struct sw_phase *ph);
    void (*act)(struct sw_phase *ph);
    void (*poll)(struct sw_phase *ph);
    void (*cancel)(struct sw_phase *ph); /* drop what is in flight; NULL when nothing can be */
    /* What it does on the Kubernetes API, as "apiGroup resource verb" ("" for the core group,
     * "apps deployments/scale patch"), NULL-terminated; NULL when nothing. The least-privilege
     * Role is the union of these (deploy/ and its test check it). */
    const char *const *rbac;
    /* The namespace rbac applies in, as the switchover config's `namespaces` key names it:
     * "tools", "solution" or "tekton" (NULL with rbac NULL). */
    const char *rbac_namespace;
};

const struct sw_step *sw_phase_step(const struct sw_phase *ph);
/* The world as observed now (refreshed before each phase). */
const struct sw_world *sw_phase_world(const struct sw_phase *ph);
void *sw_phase_env(const struct sw_phase *ph); /* sw_exec_env.actuator_env */
const char *sw_phase_run_id(const struct sw_phase *ph);
/* The run the step belongs to: its id, from, to, force and what asked for it (source). */
const struct sw_run_start *sw_phase_run(const struct sw_phase *ph);
/* Per-phase scratch for the actuator (e.g. its request in flight); NULL at each phase start. */
void **sw_phase_slot(struct sw_phase *ph);
/* A note the actuator keeps across the phases of one step (what its check or act saw, for the
 * detail its poll ends with): SW_NOTE_MAX bytes, NUL-terminated, "" when the step begins,
 * also when it begins again after a restart. */
#define SW_NOTE_MAX 160
char *sw_phase_note(struct sw_phase *ph);
/* Writes mark (capped at SW_MARK_MAX - 1 bytes) to the journal, fsynced, for this step: what
 * the actuator must find again if the process dies before the step ends, such as "a trigger
 * is about to leave" and then the id it got. Call it before the outside effect it stands for.
 * Returns 0, or -errno with err filled (the actuator should then not do what it was about to:
 * a restart could not know of it). */
int sw_phase_mark(struct sw_phase *ph, const char *mark, char *err, size_t errlen);
/* The step's last mark: "" when the step begins, except when it begins again after a restart
 * that cut it short: then the mark journaled before the restart, so that the actuator's act
 * follows what the first attempt started instead of starting it again. */
const char *sw_phase_marked(const struct sw_phase *ph);
/* Seconds since the step began (again, after a restart). */
double sw_phase_step_seconds(const struct sw_phase *ph);
/* When the run began (Unix seconds, the same after a restart): a check tells a change this run
 * made from an older one by it. */
double sw_phase_run_started(const struct sw_phase *ph);
void sw_phase_done(struct sw_phase *ph, enum sw_outcome o, const char *detail);

struct sw_exec_env {
    struct loop *loop;
    const char *data_dir; /* for the journal */
    enum sw_site site;
    const struct actuator_ops *const *actuators;
    size_t nactuators;
    void *actuator_env;
    struct sw_guard_policy guards;
    int64_t poll_ms; /* between polls and guard checks (default 1000) */
    /* The world now, for guards and actuators; called on the loop. */
    void (*observe)(void *arg, struct sw_world *out);
    void *observe_arg;
    /* Called on the loop when a run finishes (to write the state, answer the API...). */
    void (*finished)(void *arg, const struct sw_run_start *run, enum sw_result r,
                     const char *detail);
    void *finished_arg;
    double (*clock)(void *arg); /* Unix seconds; NULL: the wall clock */
    void *clock_arg;
};

struct sw_executor;

/* Opens the journal and reads what it holds. Returns NULL with err filled when the journal
 * cannot be opened. */
struct sw_executor *sw_exec_new(const struct sw_exec_env *env, char *err, size_t errlen);
/* Cancels a step in flight (the journal keeps it in doubt for the next start) and frees.
 * NULL-safe. */
void sw_exec_free(struct sw_executor *x);

/* Journals a note (a refusal, with its reason). Returns 0, or -errno with err filled. */
int sw_exec_note(struct sw_executor *x, const char *kind, const char *to, enum sw_source source,
                 const char *reason, char *err, size_t errlen);

/* What the journal held at start. */
const struct sw_replayed *sw_exec_replayed(const struct sw_executor *x);

/* Starts plan (copied) for run (id, from, to, source, reason: the caller fills them; the rest
 * is taken from the plan). Returns 0, or -EBUSY while a run is going, or -errno with err
 * filled when the start cannot be journaled (then nothing ran). */
int sw_exec_start(struct sw_executor *x, const struct sw_plan *plan, const struct sw_run_start *run,
                  char *err, size_t errlen);
/* Resumes the unfinished run the journal holds, with its plan (which must hash the same).
 * Returns 0 when a run goes on, 1 when there is nothing to resume, -1 with err filled when
 * the run cannot go on (it is then finished as stopped, and reported through finished). */
int sw_exec_resume(struct sw_executor *x, const struct sw_plans *plans, char *err, size_t errlen);

bool sw_exec_busy(const struct sw_executor *x);
/* The run going on (NULL when idle), and its step (index and depth). */
const struct sw_run_start *sw_exec_current(const struct sw_executor *x, size_t *step,
                                           size_t *depth);
/* What a run did, step by step, for GET /api/v1/plans/<id>: the run going on, or the last one
 * that finished in this process. */
struct sw_step_record {
    char action[32];
    char name[96];
    bool begun, ended;
    size_t depth; /* 0 the step, 1 its fallback... (the last one that ran) */
    enum sw_result result;
    double seconds;
    char detail[200];
};
struct sw_run_record {
    struct sw_run_start start;
    bool finished;
    enum sw_result result;
    char detail[300];
    double finished_at;
    bool resumed; /* the run went on after a restart: the steps it had ended before it are
                     as the journal recorded them (their end records) */
    size_t nsteps;
    struct sw_step_record steps[SW_MAX_STEPS];
};
/* The record of run id, or NULL when it is neither the run going on nor the last finished. */
const struct sw_run_record *sw_exec_record(const struct sw_executor *x, const char *id);

/* When the last run finished (Unix seconds; 0 never): the cooldown starts there. */
double sw_exec_last_finished(const struct sw_executor *x);
/* The last run that finished in this process, or NULL. */
const struct sw_run_record *sw_exec_last(const struct sw_executor *x);

/* Each transition's timeline (timeline.h): the executor begins one for every run that has a
 * requested_at, marks plan_started, maintenance_off, plan_ended and the RPO exposure at a
 * promotion, and the world's milestones each time it observes; sw_exec_watch marks them from
 * every published world, after the plan's end too, until the timeline closes. Each is
 * journaled at its plan's end and when it closes, so the last SW_TIMELINES_MAX outlive a
 * restart. */
void sw_exec_watch(struct sw_executor *x, const struct sw_world *w);
/* The last timelines, newest first; the one of run id, or NULL. */
const struct sw_timelines *sw_exec_timelines(const struct sw_executor *x);
const struct sw_timeline *sw_exec_timeline(const struct sw_executor *x, const char *id);

/* Adds drwatch_action_steps_total{action,result}, drwatch_action_step_duration_seconds{action}
 * (the last), drwatch_transition_in_progress, drwatch_transition_info and the timelines'
 * drwatch_transition_milestone_seconds, _requested_timestamp_seconds, _rpo_bytes and
 * _rpo_seconds to m. */
void sw_exec_metrics(const struct sw_executor *x, struct metric_set *m);

#endif
