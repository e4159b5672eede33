/* rules_runner.h: evaluates the rules on a thread of their own, on a schedule that the loop keeps.
 *
 * Every interval the loop takes the snapshot to evaluate and hands it to the runner's thread,
 * which evaluates the engine over it and writes the state file (which fsyncs) there. When it is
 * done it wakes the loop (loop_async), where the result callback reads what the evaluation made
 * (alert instances for the alert manager, rules_alerts_json) and the runner keeps a reference to
 * its metric set. An evaluation that is due while the previous one still runs is skipped and
 * counted (drwatch_rule_evaluations_missed_total, as Prometheus'
 * prometheus_rule_group_iterations_missed_total), never queued: a rule slower than its interval
 * makes the rules late, never the loop, so collectors, the API on the loop and signals go on.
 *
 * Ownership: the runner owns the engine. While an evaluation runs the engine is the runner
 * thread's alone; otherwise it is the loop's, which reads it only inside the result callback.
 * A new engine (a reload) or none replaces it when no evaluation runs, so it waits for the
 * running one to end, and the loop does not wait meanwhile: the swap happens when the result
 * comes back. rules_take_state carries alert states and range history over. */
#ifndef DRWATCH_RULES_RUNNER_H
#define DRWATCH_RULES_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "rules.h"

struct loop;
struct rules_runner;

/* How soon the runner asks again for a snapshot that was not there yet. */
#define RULES_RUNNER_RETRY_MS 200

/* A new reference to the snapshot to evaluate, or NULL while the rules must not run yet (not
 * every target has been collected once: rules must not see an empty world at start and call it
 * an outage). Loop thread. */
typedef struct snapshot *(*rules_runner_snapshot_fn)(void *arg);
/* After each evaluation, on the loop thread: e is the engine, borrowed for the call and idle.
 * Called with e NULL once the rules are removed. */
typedef void (*rules_runner_result_fn)(void *arg, struct rules_engine *e);

struct rules_runner_env {
    struct loop *loop;
    rules_runner_snapshot_fn snapshot;
    rules_runner_result_fn result;
    void *arg;
};

/* Starts the runner's thread, with no engine yet. NULL with err filled if the thread cannot
 * start. Call it with the signals that the loop handles already blocked. */
struct rules_runner *rules_runner_new(const struct rules_runner_env *env, char *err, size_t errlen);
/* Stops a running evaluation at once (rules_interrupt), joins the thread, frees the engine.
 * Loop thread, while the loop does not run. NULL-safe. */
void rules_runner_free(struct rules_runner *r);

/* Makes e (taken over; NULL: no rules) the engine, evaluated every interval_ms and first at
 * once. Now when no evaluation runs, otherwise when it ends; a later call before then replaces
 * this one. Loop thread. */
void rules_runner_set_engine(struct rules_runner *r, struct rules_engine *e, int64_t interval_ms);

/* New references to the last evaluation's metric set (rules_metrics) and to the runner's own
 * (drwatch_rule_evaluations_missed_total); either is NULL when there is none. Loop thread. */
void rules_runner_metrics(struct rules_runner *r, struct metric_set **engine_set,
                          struct metric_set **runner_set);

#endif
