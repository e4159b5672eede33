/* state_configmap.h: this site's switchover-state-<env> ConfigMap as drwatch's operator
 * interface, the one the old switchover agent has (reference: switchover-plans.md §1.1, §4).
 *
 * A person asks for a transition by writing its target into the key `transition` (kubectl
 * patch, kubectl edit). drwatch watches the ConfigMap (a list for the resourceVersion, then a
 * watch from it; on 410 Gone or a dropped stream it lists again, and while watching fails it
 * reads the ConfigMap every second), so a request starts within a second. As the old agent
 * does, a request is a non-empty `transition` that differs from `last_stable_state`; one
 * equal to it is nothing to do. drwatch judges a request through the switchover part's front
 * door (source configmap) and answers every one in the ConfigMap, with one merge-patch that
 * carries the resourceVersion it saw (a 409 makes it read the ConfigMap again and decide
 * again):
 *
 *   transition            ""  (drwatch clears it when it takes or refuses the request, and
 *                              at no other time)
 *   drwatch_request       the request it answers, as written
 *   drwatch_answer        "accepted: run <id>: <from> -> <to>", "refused: <reason>",
 *                         "nothing to do: <reason>", or "pending: request <id>: awaiting the
 *                         peer's confirmation ..." for a transition the peer must confirm,
 *                         which becomes "accepted: run <id>: ..." or "refused: <reason>" when
 *                         the peer has answered (then only drwatch_answer and
 *                         drwatch_answered_at are written again)
 *   drwatch_answered_at   when, RFC 3339 UTC
 *
 * and keeps a run's progress there, whatever started it (at most one write per step):
 *
 *   drwatch_progress      "step 3/6 health_api: running", then "done: <from> -> <to> (run
 *                         <id>)", or "failed at step 2/3 patroni_demote: <why>;
 *                         last_stable_state unchanged", or "stopped: <why>; ..."
 *   last_stable_state     the run's target, and last_stable_state_ts (UTC,
 *                         %Y-%m-%dT%H:%M:%SZ, the old agent's format), only when a plan
 *                         completes
 *
 * A request is handled once: drwatch remembers the resourceVersion and value it handled, and
 * the answer it still has to write, across reconnects. drwatch never creates the ConfigMap,
 * never deletes a key, and writes no key but these: a missing ConfigMap, or one without data
 * (the old agent's bootstrap case, an empty label), is logged once; an empty label reads as
 * independent.
 *
 * Loop thread only. */
#ifndef DRWATCH_STATE_CONFIGMAP_H
#define DRWATCH_STATE_CONFIGMAP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "executor.h"
#include "k8s.h"
#include "registry.h"
#include "transition.h"

#define SW_CM_VALUE_MAX  256   /* a value drwatch reads or writes back, at most (cut beyond) */
#define SW_CM_TEXT_MAX   400   /* an answer or progress text */
#define SW_CM_RING       16    /* requests remembered as handled */
#define SW_CM_WATCH_S    60    /* a watch's timeoutSeconds: then it goes on from where it was */
#define SW_CM_BACKOFF_MS 30000 /* the longest pause before listing again after failures */

/* The judgement of a request, as the switchover part gave it. */
enum sw_cm_verdict { SW_CM_ACCEPTED, SW_CM_NOTHING, SW_CM_REFUSED, SW_CM_PENDING };
struct sw_cm_answer {
    enum sw_cm_verdict verdict;
    char run_id[48]; /* accepted: the run; pending: the request awaiting the peer */
    char reason[300];
};
/* Judges r (switchover_request); fills out. */
typedef void (*sw_cm_request_fn)(void *arg, const struct sw_request *r, struct sw_cm_answer *out);

/* ---- the pure part (tested on its own) ---- */

/* What the ConfigMap says, as far as drwatch reads it. */
struct sw_cm_view {
    bool exists;   /* false: the API says there is none (404, DELETED, an empty list) */
    bool has_data; /* data holds at least one key */
    char rv[64];   /* metadata.resourceVersion */
    char transition[SW_CM_VALUE_MAX];
    char label[SW_CM_VALUE_MAX];    /* last_stable_state */
    char progress[SW_CM_VALUE_MAX]; /* drwatch_progress */
};

/* Reads a ConfigMap object (a GET's body, a list's item, a watch event's object) into out
 * (exists). Returns 0, or -EINVAL with err filled when it is not a ConfigMap. */
int sw_cm_view_read(json_t *obj, struct sw_cm_view *out, char *err, size_t errlen);

/* What drwatch remembers of the requests it handled. Zero it to start. */
struct sw_cm_memory {
    struct {
        char rv[64];
        char value[SW_CM_VALUE_MAX];
    } handled[SW_CM_RING]; /* a ring */
    size_t next;
    bool answering; /* the answer to `answering_value` is not written yet */
    char answering_value[SW_CM_VALUE_MAX];
};

enum sw_cm_ask {
    SW_CM_IDLE,      /* no ConfigMap, or `transition` is empty */
    SW_CM_SEEN,      /* this version's request was handled already (a late event) */
    SW_CM_ANSWERING, /* the request whose answer is being written: not asked again */
    SW_CM_SAME,      /* `transition` equals last_stable_state: nothing to do, clear it */
    SW_CM_NEW,       /* a request to judge */
};
/* Whether v lacks the report of the journal's last finished run, whose drwatch_progress is
 * report (sw_cm_finished_text) and which ended ok or not: drwatch_progress still says a run
 * is going on ("step ...", and none is), or, for a run that ended ok, it is not that run's
 * "done: ... (run <id>)". A report lost to a crash between the finish record and its write
 * is written again once (sw_cm_last_run); a ConfigMap a person changed since is left alone. */
bool sw_cm_report_missing(const struct sw_cm_view *v, const char *report, bool ok);

/* What v asks for, given what m remembers. */
enum sw_cm_ask sw_cm_decide(const struct sw_cm_view *v, const struct sw_cm_memory *m);
/* Remembers that the request `value` seen at resourceVersion rv is handled, and that its
 * answer is to be written. */
void sw_cm_remember(struct sw_cm_memory *m, const char *rv, const char *value);

/* What one merge-patch writes; a field group is written when its flag is set. */
struct sw_cm_patch {
    bool answer;   /* transition "", drwatch_request, drwatch_answer, drwatch_answered_at */
    bool reanswer; /* drwatch_answer, drwatch_answered_at only (a pending request's outcome) */
    char request[SW_CM_VALUE_MAX];
    char answer_text[SW_CM_TEXT_MAX];
    double answered_at; /* Unix seconds */
    bool progress;      /* drwatch_progress */
    char progress_text[SW_CM_TEXT_MAX];
    bool stable; /* last_stable_state, last_stable_state_ts */
    enum sw_state state;
    double stable_at;
};
/* The merge-patch body of p, {"metadata":{"resourceVersion":rv},"data":{...}} (keys sorted),
 * or NULL when p writes nothing. Caller frees. */
char *sw_cm_patch_body(const struct sw_cm_patch *p, const char *rv);
/* Sets in into what `from` sets; what from leaves unset stays as it was in `into`. */
void sw_cm_patch_merge(struct sw_cm_patch *into, const struct sw_cm_patch *from);
/* Unix seconds as the old agent writes them: "2024-06-10T09:41:17Z". */
void sw_cm_time_text(double t, char *out, size_t outlen);
/* drwatch_answer for a: "accepted: run <id>: <reason>", "refused: <reason>", "nothing to
 * do: <reason>", "pending: request <id>: <reason>". */
void sw_cm_answer_text(const struct sw_cm_answer *a, char *out, size_t outlen);
/* drwatch_progress while run rec (may be NULL) is at step (0-based) and depth (0: the step, 1
 * its fallback, ...): "step 3/6 health_api: running". */
void sw_cm_progress_text(const struct sw_run_start *run, const struct sw_run_record *rec,
                         size_t step, size_t depth, char *out, size_t outlen);
/* drwatch_progress once run rec (may be NULL) finished with r and detail. */
void sw_cm_finished_text(const struct sw_run_start *run, const struct sw_run_record *rec,
                         enum sw_result r, const char *detail, char *out, size_t outlen);

/* ---- the unit ---- */

struct sw_cm_env {
    struct loop *loop;
    struct httpc *http;
    const struct k8s_client *k8s; /* borrowed: outlives the unit */
    const char *namespace;        /* the tools namespace (copied) */
    const char *name;             /* switchover-state-<env> (copied) */
    const struct sw_executor *x;  /* the runs whose progress is written */
    sw_cm_request_fn request;
    void *request_arg;
    double (*clock)(void *arg); /* Unix seconds; NULL: the wall clock */
    void *clock_arg;
    int64_t poll_ms; /* between reads while watching fails; 0: 1000 */
};

struct sw_cm;

/* Starts watching (the first list goes out at once). Never fails: every failure is retried,
 * logged and counted. */
struct sw_cm *sw_cm_new(const struct sw_cm_env *env);
void sw_cm_free(struct sw_cm *c); /* NULL-safe; drops what is in flight, writes nothing */

/* A run finished (the executor's finished hook): writes drwatch_progress, and when r is ok
 * and the run changes the state (a fence does not), last_stable_state and its timestamp.
 * NULL-safe. */
void sw_cm_finished(struct sw_cm *c, const struct sw_run_start *run, enum sw_result r,
                    const char *detail, bool changes_state);

/* At start: the journal's last run finished with r and detail at finished_at (Unix seconds,
 * last_stable_state_ts) before this process began. Its report (as sw_cm_finished writes it) is
 * written when the first observation of the ConfigMap lacks it (sw_cm_report_missing), else
 * dropped. NULL-safe. */
void sw_cm_last_run(struct sw_cm *c, const struct sw_run_start *run, enum sw_result r,
                    const char *detail, double finished_at, bool changes_state);

/* The request the ConfigMap's answer called pending (a's verdict was SW_CM_PENDING with this
 * run_id) is decided: drwatch_answer says a (accepted or refused) and drwatch_answered_at when.
 * NULL-safe. */
void sw_cm_answer_later(struct sw_cm *c, const struct sw_cm_answer *a);

/* Whether an answer or a finished run's write is still on its way (queued or in flight) and
 * was queued less than SW_CM_SETTLE_MS ago: freeing the unit now would drop it, so a reload
 * waits (switchover_busy). NULL-safe (false). */
#define SW_CM_SETTLE_MS 30000
bool sw_cm_settling(const struct sw_cm *c);

/* drwatch_switchover_configmap_watch_up and drwatch_switchover_configmap_errors_total{call,
 * reason} into m. NULL-safe (adds nothing). */
void sw_cm_metrics(const struct sw_cm *c, struct metric_set *m);

/* What it does on the Kubernetes API, as actuator_ops.rbac says it: "" configmaps get, list,
 * watch, patch. NULL-terminated. */
extern const char *const sw_cm_rbac[];

#endif
