/* run_journal.h: what the executor writes down, and what it finds again after a crash.
 *
 * One file, data_dir/switchover.journal, on the core's journal (journal.h: each record is on
 * disk, fsynced, before the call returns; a torn tail is cut and corruption skipped at
 * replay). Records are small JSON objects, so that a person can read them with `strings`:
 *
 *   start  {id, site, from, to, force, source, reason, plan_hash, steps, at}
 *   begin  {id, step, depth, action, at}              before a step's action may touch anything
 *   mark   {id, step, depth, mark, at}                what the step's actuator must find again
 *                                                     after a restart (e.g. a trigger it sent)
 *   end    {id, step, depth, action, result, detail, at, seconds}
 *   finish {id, result, detail, at}                    the run is over, one way or another
 *   note   {kind, to, source, reason, at}              a refusal or a fence, with its reason
 *   timeline {id, from, to, source, result, ended, closed, <milestone>: at..., rpo_bytes,
 *            rpo_seconds}                            a transition's timeline (timeline.h), at its
 *                                                    plan's end and again when it closes
 *
 * depth 0 is the plan's step, 1 its fallback, 2 the fallback's fallback. Replay gives the
 * last run: whether it finished, the step that began and never ended (in doubt: its check says
 * whether its action happened), else the last step that ended and how; and how each of its
 * steps ended, for the resumed run's record; and the last SW_TIMELINES_MAX timelines, which
 * compaction keeps. */
#ifndef DRWATCH_RUN_JOURNAL_H
#define DRWATCH_RUN_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timeline.h"
#include "transition.h"

#define SW_JOURNAL_FILE "switchover.journal"

enum sw_result {
    SW_RESULT_OK,      /* a step did its action and its wait ended */
    SW_RESULT_ALREADY, /* a step's check found it done already */
    SW_RESULT_FAILED,  /* a step failed or timed out; a run failed */
    SW_RESULT_REFUSED, /* a guard held a step back until its timeout */
    SW_RESULT_STOPPED, /* a run stopped after a restart where going on was unsafe */
    SW_RESULT_COUNT
};
const char *sw_result_name(enum sw_result r); /* "ok", "already", ... */

struct sw_run_start {
    char id[48];
    enum sw_site site;
    enum sw_state from, to;
    bool force;
    enum sw_source source;
    char reason[256];
    uint32_t plan_hash;
    size_t nsteps;
    double at;
    /* When the request arrived (before a wait for the peer's confirmation), Unix seconds; 0
     * for a run nobody asked for (a fence), which has no timeline. */
    double requested_at;
};

/* An actuator's mark of its step (executor.h sw_phase_mark), with its NUL. */
#define SW_MARK_MAX 200

/* Steps of the last run the replay keeps the end of (a plan has at most SW_MAX_STEPS, plan.h). */
#define SW_JOURNAL_MAX_STEPS 32

/* A step of the last run as its last end record says it ended. */
struct sw_replayed_step {
    bool ended;
    size_t depth;
    enum sw_result result;
    double seconds;
    char detail[200];
};

/* What replay found of the last run. */
struct sw_replayed {
    bool have_run; /* the journal holds a run */
    struct sw_run_start start;
    bool finished;
    enum sw_result result; /* when finished */
    double finished_at;
    char detail[300]; /* the finish record's detail, when finished */
    bool in_doubt;    /* a step began and never ended: resume at it, through its check */
    size_t doubt_step, doubt_depth;
    char doubt_action[32];
    char doubt_mark[SW_MARK_MAX]; /* the step in doubt's last mark record, "" none */
    bool have_end; /* else: the last step that ended, for the executor to go on from as it
                      would have (a fallback, the next step, or the end of the run) */
    size_t end_step, end_depth;
    enum sw_result end_result;
    /* Each step of the run that ended, by index (below SW_JOURNAL_MAX_STEPS): what a resumed
     * run's record shows for the steps it ended before the restart. */
    struct sw_replayed_step steps[SW_JOURNAL_MAX_STEPS];
    double last_finished_at;       /* of the newest finished run (the cooldown), 0 none */
    struct sw_timelines timelines; /* the last ones journaled, newest first */
    size_t records, corrupt;       /* what replay read */
};

struct sw_run_journal;

/* Opens data_dir/switchover.journal (created if missing) and replays it into *found. Returns
 * NULL with err filled when the file cannot be opened or read. */
struct sw_run_journal *sw_journal_open(const char *data_dir, struct sw_replayed *found, char *err,
                                       size_t errlen);
void sw_journal_free(struct sw_run_journal *j); /* NULL-safe */

/* Each returns 0 once the record is on disk, or -errno with err filled. */
int sw_journal_start(struct sw_run_journal *j, const struct sw_run_start *s, char *err,
                     size_t errlen);
int sw_journal_begin(struct sw_run_journal *j, const char *id, size_t step, size_t depth,
                     const char *action, double at, char *err, size_t errlen);
/* A mark belongs to the step that began last (id, step, depth); replay keeps the last one of
 * the step in doubt. */
int sw_journal_mark(struct sw_run_journal *j, const char *id, size_t step, size_t depth,
                    const char *mark, double at, char *err, size_t errlen);
int sw_journal_end(struct sw_run_journal *j, const char *id, size_t step, size_t depth,
                   const char *action, enum sw_result r, const char *detail, double at,
                   double seconds, char *err, size_t errlen);
int sw_journal_finish(struct sw_run_journal *j, const char *id, enum sw_result r,
                      const char *detail, double at, char *err, size_t errlen);
int sw_journal_timeline(struct sw_run_journal *j, const struct sw_timeline *t, char *err,
                        size_t errlen);
int sw_journal_note(struct sw_run_journal *j, const char *kind, const char *to,
                    enum sw_source source, const char *reason, double at, char *err, size_t errlen);

/* Replays bytes as a journal file would be (for the fuzz target and tests): the same parse. */
void sw_journal_replay_bytes(const void *data, size_t len, struct sw_replayed *found);

#endif
