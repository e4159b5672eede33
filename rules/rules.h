/* rules.h: the rules engine. Lua rule files, sandboxed (exporter/luabox.h), evaluated every
 * cycle over the last published snapshot; alerts with Prometheus' semantics (alertstate.h).
 *
 * A rule file declares alerts with alert(name, spec), and transition requests with
 * transition(name, spec), and reads observations through a small read-only API (series,
 * value, rate..., sum/min/max/count/avg, facts, time); see rules/README.md.
 * Each file has its own Lua state, heap cap and time budget: a file that errors, loops or
 * allocates without end is stopped and reported with file:line, and the other files and the
 * daemon go on. The engine owns its alert states; rules_take_state carries them (and the range
 * history) over a reload, and the state file carries `for` progress over a restart. */
#ifndef DRWATCH_RULES_H
#define DRWATCH_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "registry.h"
#include "xalloc.h"

struct rules_config {
    struct cfg_strings files;       /* paths or globs, relative to the config file */
    int64_t evaluation_interval_ms; /* 0: drwatch.fast_interval */
    int64_t timeout_ms;             /* per file and evaluation */
    int64_t memory_limit;           /* per file heap */
    int64_t max_history_points;
    char *state_file; /* NULL: alert `for` progress is not kept over restarts */
    int64_t for_grace_period_ms;
    int64_t outage_tolerance_ms;
};

extern const struct cfg_module rules_module;

struct rules_engine;

/* Loads the rule files (paths relative to base_dir). Returns NULL with "file:line: why" in err
 * when a file is refused: a syntax error, an alert spec that is wrong, a file that fails or
 * runs out of budget while loading. */
DRW_MUST_CHECK struct rules_engine *rules_new(const struct rules_config *c, const char *base_dir,
                                              char *err, size_t errlen);
void rules_free(struct rules_engine *e); /* NULL-safe */

/* Moves alert states (matched by file and alert name) and the range history from old into e;
 * old is left empty but still valid to free. */
void rules_take_state(struct rules_engine *e, struct rules_engine *old);

/* Evaluates every rule at time t (Unix seconds). instant is what instant queries see; raw is
 * what range functions record (the same snapshot in the daemon; test-rules gives raw samples
 * and a lookback view separately). Either may be NULL (no series). */
void rules_eval(struct rules_engine *e, double t, const struct snapshot *instant,
                const struct snapshot *raw);

/* Any thread: stops the rules_eval running on another thread at its Lua's next budget check
 * (within some thousand instructions), and every later one likewise. The rules it
 * did not finish keep their alert state and are neither counted nor logged as failed. For
 * stopping the daemon without waiting out the rules' time budgets. */
void rules_interrupt(struct rules_engine *e);

/* A new reference to the metric set of the last evaluation: drwatch_alert (as Prometheus'
 * ALERTS), drwatch_alert_for_state, and the outcome of every rule file. NULL before the first. */
struct metric_set *rules_metrics(struct rules_engine *e);

/* The active alerts as Prometheus' GET /api/v1/alerts answers them. Caller frees. Thread-safe
 * (made at evaluation time). */
char *rules_alerts_json(struct rules_engine *e);

/* Writes the active alerts' `for` progress to the state file (if configured) with
 * durable_replace: a crash leaves the old file or the new one. Returns 0, or -1 with err
 * filled. */
DRW_MUST_CHECK int rules_save_state(struct rules_engine *e, double now, char *err, size_t errlen);
/* Reads it back at start: alerts that become active again within the outage tolerance get their
 * `for` progress back (Prometheus' for-state restore). Returns how many entries were read. */
DRW_MUST_CHECK int rules_load_state(struct rules_engine *e, double now, char *err, size_t errlen);

/* An alert instance's state, as Prometheus has it (an inactive instance that fired is
 * resolved). */
enum alert_state { ALERT_INACTIVE, ALERT_PENDING, ALERT_FIRING };

/* For test-rules: every instance of every alert rule, with its state and labels. */
typedef void (*rules_alert_fn)(void *arg, const char *alertname, const char *labels,
                               const char *const *ann_names, const char *const *ann_values,
                               size_t nann, enum alert_state state, double value);
void rules_each_alert(struct rules_engine *e, rules_alert_fn fn, void *arg);

/* Every alert instance with its timestamps, for the alert manager (main.c feeds it). */
struct rules_alert_view {
    const char *alertname;
    const char *labels; /* canonical label text, alertname included */
    const char *const *ann_names;
    const char *const *ann_values;
    size_t nann;
    enum alert_state state;
    double value;
    double active_at, fired_at, resolved_at; /* Unix seconds; 0 when not (yet) */
};
typedef void (*rules_instance_fn)(void *arg, const struct rules_alert_view *a);
void rules_each_instance(struct rules_engine *e, rules_instance_fn fn, void *arg);

/* The transition request of the last evaluation: the first transition rule (files in the
 * order they were loaded, rules in the order a file declares them) whose `when` returned true
 * and whose reason and evidence could be made. One per evaluation at most; the others whose
 * `when` was true are counted as suppressed. The engine only decides: the caller hands the
 * request to the switchover part, which judges it. */
struct rules_transition {
    const char *file;     /* the rule file */
    const char *rule;     /* the transition rule's name */
    const char *to;       /* the target as the rule wrote it: at most RULES_TRANSITION_TO_MAX
                             bytes of a-z, 0-9 and '-' (the switchover part judges it) */
    const char *reason;   /* the rule's reason, at most CAP_TRANSITION_TEXT bytes */
    const char *evidence; /* "check=value, ..." sorted by check, or "" without an evidence
                             function */
};
#define RULES_TRANSITION_TO_MAX 31

/* Fills out and returns true when the last rules_eval made a transition request, else returns
 * false. The strings are the engine's, valid until the next rules_eval or rules_free: in the
 * daemon, read them in the rules runner's result callback. */
bool rules_transition_request(const struct rules_engine *e, struct rules_transition *out);

/* Every alert rule's name (once per rule, in file order). */
void rules_each_rule(struct rules_engine *e, void (*fn)(void *arg, const char *alertname),
                     void *arg);

int64_t rules_evaluation_interval_ms(const struct rules_engine *e);
size_t rules_count(const struct rules_engine *e);

#endif
