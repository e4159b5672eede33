/* act_tekton_wire.h: what the tekton_deploy actuator (act_tekton.c) sends and reads, as pure
 * functions that its unit tests and fuzz targets drive without a network:
 *   - the old agent's trigger, byte for byte: a GitHub push body as Python's json.dumps writes
 *     it, signed with HMAC-SHA1 and HMAC-SHA256 (switchover-plans.md §0.1);
 *   - the EventListener's reply: its eventID (tekton.md §6);
 *   - the outcome of the PipelineRuns that carry that event id, from a PipelineRunList (v1 or
 *     v1beta1: the fields read are the same), read from the Succeeded condition found by its
 *     type, never by its position (tekton.md §3);
 *   - the retry rules (switchover-plans.md §2) as decisions over monotonic times the caller
 *     passes, so that a table of cases tests them.
 * Nothing here allocates what outlives a call, except into the caller's buffer. */
#ifndef DRWATCH_ACT_TEKTON_WIRE_H
#define DRWATCH_ACT_TEKTON_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "xalloc.h"

#define TEKTON_EVENT_ID_LABEL "triggers.tekton.dev/triggers-eventid"
#define TEKTON_EVENT_ID_MAX   64  /* a label value is at most 63 bytes, plus NUL */
#define TEKTON_SIG_MAX        80  /* "sha256=" and 64 hex digits, plus NUL */
#define TEKTON_NAME_MAX       254 /* an object name is a DNS subdomain: 253 bytes, plus NUL */
#define TEKTON_MAX_RUNS       8   /* runs of one event read (a listener normally starts one) */

/* ---- the trigger ---- */

/* Appends the push body for ref and clone_url, exactly as Python's json.dumps writes the old
 * agent's dict: ", " and ": " separators, keys in the order ref, repository {name, clone_url},
 * head_commit {id, message, author {username: "switchover_agent"}}, non-ASCII as \uXXXX
 * (ensure_ascii). Returns 0, -EINVAL when ref or clone_url is not valid UTF-8 (Python's
 * strings cannot hold it either), or -E2BIG at out's cap. */
DRW_MUST_CHECK int tekton_push_body(struct buf *out, const char *ref, const char *clone_url);

/* The values of X-Hub-Signature ("sha1=<hex>") and X-Hub-Signature-256 ("sha256=<hex>") for
 * body under key (keylen may be 0: the old compose setup's empty secret). Returns 0, or -EIO
 * when OpenSSL refuses. */
DRW_MUST_CHECK int tekton_sign(const void *key, size_t keylen, const void *body, size_t len,
                               char sha1[TEKTON_SIG_MAX], char sha256[TEKTON_SIG_MAX]);

/* The eventID of an EventListener's reply (202 from Tekton Triggers, 200 from the old mock):
 * a JSON object whose eventID is a non-empty Kubernetes label value, since runs are found by
 * a label selector on it. Returns 0, or -1 with err filled. */
DRW_MUST_CHECK int tekton_reply_event_id(const char *body, size_t len,
                                         char out[TEKTON_EVENT_ID_MAX], char *err, size_t errlen);

/* ---- the runs of an event ---- */

enum tekton_run_state {
    TEKTON_RUN_NONE,      /* no run carries the event id (yet: runs are made asynchronously) */
    TEKTON_RUN_PENDING,   /* some run is unfinished and none failed */
    TEKTON_RUN_SUCCEEDED, /* every run's Succeeded condition is True */
    TEKTON_RUN_FAILED,    /* some run's Succeeded condition is False */
};

struct tekton_outcome {
    enum tekton_run_state state;
    size_t runs; /* items carrying the event id (items with another id are never counted) */
    /* The run that decides: the first failed one, else the first unfinished, else the first;
     * its condition's reason ("" when the controller has not reconciled it) and message
     * (capped, control bytes as spaces). */
    char name[TEKTON_NAME_MAX];
    char reason[128];
    char message[256];
    /* The unfinished runs (what a cancel must PATCH), the first TEKTON_MAX_RUNS. */
    size_t nunfinished;
    char unfinished[TEKTON_MAX_RUNS][TEKTON_NAME_MAX];
};

/* Reads a PipelineRunList body: the runs labelled TEKTON_EVENT_ID_LABEL=event_id, each by its
 * condition of type Succeeded ("True" succeeded, "False" failed, anything else or none
 * unfinished). Returns 0, or -1 with err filled when the body is not a list of objects. */
DRW_MUST_CHECK int tekton_outcome_read(const char *body, size_t len, const char *event_id,
                                       struct tekton_outcome *out, char *err, size_t errlen);

/* The event id of the run a lost trigger made: among the runs of a PipelineRunList labelled
 * with an event id (any), the one created first at or after since (Unix seconds; Kubernetes
 * writes creationTimestamp in whole seconds, cut down, so the caller passes since already
 * rounded down, less any clock skew it allows). Returns 1 with out filled, 0 when no such run
 * is listed, or -1 with err filled when the body is not a list of objects. */
DRW_MUST_CHECK int tekton_event_since(const char *body, size_t len, double since,
                                      char out[TEKTON_EVENT_ID_MAX], char *err, size_t errlen);

/* What the actuator journals before each trigger and after the listener's answer, so that a
 * restart follows that trigger's run instead of sending another: attempts accepted so far, the
 * first and the current trigger's wall clock (Unix seconds, 0 none) and its event id ("" while
 * the answer is not in). tekton_mark_read returns 0, or -1 for a text it did not write. */
struct tekton_mark {
    long long attempts;
    double first_at, sent_at;
    char event_id[TEKTON_EVENT_ID_MAX];
};
void tekton_mark_write(const struct tekton_mark *m, char *out, size_t outlen);
DRW_MUST_CHECK int tekton_mark_read(const char *text, struct tekton_mark *m);

/* ---- the retry rules ---- */

struct tekton_policy {
    int64_t retries;            /* triggers sent again after a failed attempt */
    int64_t retry_interval_ms;  /* between a failed attempt and its retry */
    int64_t total_cap_ms;       /* no retry starts later than this after the first trigger */
    int64_t attempt_timeout_ms; /* an attempt unfinished this long is cancelled */
};

struct tekton_attempts {
    int64_t attempts;    /* triggers the EventListener accepted so far */
    int64_t first_ms;    /* when the first was accepted (monotonic) */
    int64_t trigger_ms;  /* when the current one was */
    int64_t retry_at_ms; /* backing off: when the next trigger may go */
};

enum tekton_verdict {
    TEKTON_WAIT,      /* nothing to do before the next poll */
    TEKTON_DONE,      /* the deploy succeeded */
    TEKTON_CANCEL,    /* the attempt hung: cancel its runs; it then counts as failed */
    TEKTON_BACKOFF,   /* the attempt failed: trigger again at now + retry_interval */
    TEKTON_RETRIGGER, /* the pause is over: trigger again now */
    TEKTON_GIVE_UP,   /* failed for good: no retry left, or none could start within the cap */
};

/* While an attempt is in flight, given what its runs show now: DONE, WAIT, CANCEL when its
 * run is still unfinished (or was never made) attempt_timeout after its trigger, and for a
 * failed run what tekton_after_failure says (with *why). */
enum tekton_verdict tekton_judge_attempt(const struct tekton_policy *p,
                                         const struct tekton_attempts *a,
                                         enum tekton_run_state seen, int64_t now_ms,
                                         const char **why);
/* After an attempt failed (its run failed, or it hung and was cancelled): BACKOFF when a retry
 * is left and would start within total_cap of the first trigger, else GIVE_UP with *why (NULL
 * allowed) saying which limit ended it. */
enum tekton_verdict tekton_after_failure(const struct tekton_policy *p,
                                         const struct tekton_attempts *a, int64_t now_ms,
                                         const char **why);
/* While backing off: RETRIGGER once retry_at is reached, GIVE_UP once the cap is spent. */
enum tekton_verdict tekton_judge_backoff(const struct tekton_policy *p,
                                         const struct tekton_attempts *a, int64_t now_ms);

const char *tekton_verdict_name(enum tekton_verdict v);
const char *tekton_run_state_name(enum tekton_run_state s);

#endif
