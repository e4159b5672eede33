/* tekton.h: Tekton PipelineRuns through the Kubernetes API: the parsing and mapping the tekton
 * collector uses (exposed for its unit tests and fuzz target), and the lookup of the run that a
 * Triggers EventListener started for a given event id, which the switchover executor uses to
 * follow the deploy it triggered.
 *
 * PipelineRuns are read from tekton.dev/v1 and, where that is not served (Tekton < 0.43),
 * tekton.dev/v1beta1: the fields read here are the same in both. */
#ifndef DRWATCH_TEKTON_H
#define DRWATCH_TEKTON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "http_client.h"
#include "k8s.h"
#include "registry.h"
#include "xalloc.h"

/* One PipelineRun, as much as drwatch needs of it. Strings are owned by the tekton_runs arena;
 * times are Unix seconds, NAN when absent. */
struct tekton_run {
    const char *name;
    const char *pipeline; /* spec.pipelineRef.name, else label tekton.dev/pipeline, else
                             "anonymous" */
    const char *status;   /* the Succeeded condition's status: "True", "False" or "Unknown"
                             (also when the controller has not reconciled the run yet) */
    const char *reason;   /* the condition's reason, "" when none */
    const char *message;  /* the condition's message (capped), "" when none */
    const char *event_id; /* label triggers.tekton.dev/triggers-eventid, "" when none */
    double created, start, completion;
};

struct tekton_runs {
    struct arena arena;
    struct tekton_run *v;
    size_t n, cap;
    size_t skipped; /* items that were not PipelineRun objects with a name */
    bool truncated; /* more runs than max_runs were listed */
};

void tekton_runs_init(struct tekton_runs *r);
void tekton_runs_clear(struct tekton_runs *r); /* frees everything; init again to reuse */

/* Parses one PipelineRunList page into r, keeping at most max_runs runs in all (then sets
 * r->truncated). *cont is the page's continue token ("" on the last page), arena-owned.
 * Returns 0, or -1 with *reason ("bad_json", "bad_body") and a detail in err. */
DRW_MUST_CHECK int tekton_page_parse(const char *body, size_t len, struct tekton_runs *r,
                                     size_t max_runs, const char **cont, const char **reason,
                                     char *err, size_t errlen);

/* The newest run in r (by start time, else creation time; ties by name), or NULL. */
DRW_MUST_CHECK const struct tekton_run *tekton_runs_newest(const struct tekton_runs *r);

struct tekton_map_opts {
    const char *site, *target, *namespace; /* labels */
    const char *api_version;               /* "v1" or "v1beta1" */
    size_t max_pipelines;                  /* pipelines given their own series; 0: 200 */
};

/* Adds the samples for the listed runs. Returns how many runs were left out of the
 * per-pipeline families because their pipeline was past max_pipelines (they still count in
 * drwatch_tekton_pipelineruns). */
size_t tekton_runs_metrics(const struct tekton_runs *r, const struct tekton_map_opts *o,
                           struct metric_set *set);

/* ---- the run started by a trigger event ---- */

enum tekton_find_status {
    TEKTON_FIND_FOUND,     /* run is the newest run labelled with the event id */
    TEKTON_FIND_NOT_FOUND, /* no PipelineRun carries it (yet: the EventListener creates runs
                              asynchronously after its 202, so callers poll) */
    TEKTON_FIND_ERROR,     /* reason and detail say why (as errors_total reasons) */
};

struct tekton_find_result {
    enum tekton_find_status status;
    const struct tekton_run *run; /* FOUND only */
    size_t matches;               /* runs with this event id (a listener may start several) */
    const char *api_version;      /* the version that answered */
    const char *reason, *detail;  /* ERROR only */
};

/* Valid only during the callback. */
typedef void (*tekton_find_fn)(void *arg, const struct tekton_find_result *r);

struct tekton_find;

/* Lists the PipelineRuns of c's namespace labelled triggers.tekton.dev/triggers-eventid=
 * event_id (v1, falling back to v1beta1 on 404) and calls fn once, later, on the loop. c must
 * stay valid until then (or tekton_find_cancel). timeout_ms: per request, 0 for c's timeout.
 * Returns NULL with err filled (fn never called) when event_id is not a valid label value or
 * the request cannot start. */
DRW_MUST_CHECK struct tekton_find *tekton_find_run_by_event(struct httpc *h,
                                                            const struct k8s_client *c,
                                                            const char *event_id,
                                                            int64_t timeout_ms, tekton_find_fn fn,
                                                            void *arg, char *err, size_t errlen);
void tekton_find_cancel(struct tekton_find *f); /* NULL-safe; fn is not called */

#endif
