/* alertstate.h: Prometheus' alert state machine for one alerting rule, in plain C.
 *
 * Each evaluation hands in the elements the rule's expression returned (a label set, already
 * merged with the rule's labels and alertname, and a value). Instances are kept by label set:
 * new ones start pending; a pending one fires once it has been active for `for`; one that is no
 * longer returned turns inactive (resolved), unless it was firing and keep_firing_for holds it
 * a while longer. Resolved instances are kept for ALERT_RESOLVED_RETENTION so that delivery can
 * send the resolution; a pending one that disappears is simply forgotten. This follows
 * rules/alerting.go in Prometheus 2.42+ (including keep_firing_for). */
#ifndef DRWATCH_ALERTSTATE_H
#define DRWATCH_ALERTSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules.h" /* enum alert_state */
#include "xalloc.h"

#define ALERT_RESOLVED_RETENTION 900.0 /* seconds, as Prometheus' resolvedRetention */

struct alert_instance {
    uint64_t fingerprint;
    char *labels; /* canonical label text (sorted, escaped), alertname included */
    char **annotation_names;
    char **annotation_values;
    size_t nannotations;
    enum alert_state state;
    double value;
    double active_at;         /* when the condition was first seen (eval time, Unix s) */
    double fired_at;          /* 0 until it fires */
    double resolved_at;       /* 0 while active */
    double keep_firing_since; /* 0 unless held by keep_firing_for */
    double last_eval;         /* the last evaluation that saw it active */
    bool restored;            /* active_at came from the state file */
};

/* One element of an evaluation: owned by the caller. */
struct alert_element {
    const char *labels; /* canonical label text, alertname included */
    double value;
    const char *const *annotation_names;
    const char *const *annotation_values;
    size_t nannotations;
};

struct alert_rule_state;

struct alert_rule_state *alertstate_new(void);
void alertstate_free(struct alert_rule_state *rs); /* NULL-safe */

/* Applies one evaluation at time t. Returns 0, or -EEXIST if two elements have the same label set
 * (as Prometheus refuses: "vector contains metrics with the same labelset after applying alert
 * labels"), in which case nothing changes. */
DRW_MUST_CHECK int alertstate_update(struct alert_rule_state *rs, double t, double for_s,
                                     double keep_firing_for_s, const struct alert_element *els,
                                     size_t n);

/* Every instance, active or kept as resolved. Valid until the next update. */
size_t alertstate_count(const struct alert_rule_state *rs);
const struct alert_instance *alertstate_at(const struct alert_rule_state *rs, size_t i);
/* Instance lookup by label text, or NULL (hashed). */
DRW_MUST_CHECK struct alert_instance *alertstate_find(struct alert_rule_state *rs,
                                                      const char *labels);

/* Restores the `for` progress of an instance seen before a restart (see rules/evaluate.c):
 * saved_active_at is when it became active, down_at the last time it was saved. Follows
 * Prometheus' RestoreForState: time spent pending before the outage counts; if what remains
 * is less than grace_s, it fires no sooner than grace_s from now; if it had fired, it fires
 * again at once (at this evaluation). Only an instance pending since now is restored, and
 * nothing is restored for a rule whose `for` is shorter than grace_s (as Prometheus: it waits
 * `for` again) or zero. Sets a->restored when active_at was changed. */
void alertstate_restore(struct alert_instance *a, double now, double for_s, double saved_active_at,
                        double down_at, double grace_s);

uint64_t alert_fingerprint(const char *labels);
const char *alert_state_name(enum alert_state s);

#endif
