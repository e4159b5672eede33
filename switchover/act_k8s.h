/* act_k8s.h: what the actuators that act on Kubernetes share (act_tfvars.c, act_health_api.c,
 * act_maintenance.c, act_kong_restart.c, act_patroni_rebuild.c): a phase's work as a chain of
 * calls made one at a time, each with a timeout and answered on the loop; pauses between reads;
 * the one plain HTTP call (the portal); and what a Deployment's or StatefulSet's status says.
 *
 * A phase with work to do makes a struct act_op (act_op_new), which lives in the phase's slot
 * until the phase ends (act_op_end) or the executor cancels it (act_op_cancel is every such
 * actuator's cancel). A call whose answer is not one the caller takes (a 2xx, or the one status
 * it tolerates) ends the phase with SW_ERROR and "<METHOD> <resource>/<name>: <the apiserver's
 * reason and message>", so callbacks see only the answers they expect. Every function that
 * starts something (act_op_call, act_op_wait, act_op_portal) or ends the op may free it: call
 * it last, and keep nothing of op after it.
 *
 * Writes are PATCHes with Content-Type application/merge-patch+json (RFC 7386) for every kind,
 * the scale subresource included. The actuators' patches touch only maps and scalars (replicas,
 * minAvailable, a selector, an annotation, data and stringData), where a strategic merge patch
 * gives the same object; merge-patch is defined outside Kubernetes, is what the reference and
 * `kubectl scale` send to /scale, is accepted for custom resources too, and its rule that null
 * removes a key is the one the old agent's selector patches rely on.
 *
 * Loop thread only. */
#ifndef DRWATCH_ACT_K8S_H
#define DRWATCH_ACT_K8S_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "act_env.h"
#include "executor.h"
#include "k8s.h"

#define ACT_MERGE_PATCH       "application/merge-patch+json"
#define ACT_CALL_TIMEOUT_MS   10000 /* a Kubernetes call, unless the target sets its timeout */
#define ACT_PORTAL_TIMEOUT_MS 5000  /* the portal, unless its target sets one */
#define ACT_WAIT_MS           1000  /* between reads while a phase waits, unless act_env says */

struct act_op;

/* A call's answer: r is a 2xx or the tolerated status; body is r's body parsed (NULL when it is
 * empty), borrowed for the call. */
typedef void (*act_op_fn)(struct act_op *op, const struct k8s_response *r, json_t *body);
typedef void (*act_op_next_fn)(struct act_op *op);
/* The portal's answer: 200 with {"state": <bool>}. */
typedef void (*act_portal_fn)(struct act_op *op, bool state);

/* Makes the phase's op, with size bytes of zeroed state for the actuator (act_op_state). When
 * this site has no Kubernetes API or ns is NULL, ends the phase with SW_ERROR "not configured:
 * ..." (naming ns_key, the setting that gives ns) and returns NULL. */
struct act_op *act_op_new(struct sw_phase *ph, size_t size, const char *ns, const char *ns_key);
void *act_op_state(struct act_op *op);
struct sw_phase *act_op_phase(struct act_op *op);
const struct act_env *act_op_env(const struct act_op *op);
const char *act_op_ns(const struct act_op *op);
/* The note of the step (sw_phase_note). */
char *act_op_note(struct act_op *op);

/* METHOD on the path made from fmt (from the API root: "/apis/apps/v1/namespaces/%s/..."), with
 * body (a JSON object, sent as ACT_MERGE_PATCH; taken: its reference is dropped) or NULL.
 * tolerate: a status that fn also gets (404 for a DELETE of what may be gone), ACT_ANY for every
 * answer (fn then gets failures too: r->ok false, body NULL unless it is JSON), or 0. */
#define ACT_ANY (-1L)
void act_op_call(struct act_op *op, const char *method, json_t *body, long tolerate, act_op_fn fn,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Calls fn after ms (0: the environment's wait, ACT_WAIT_MS by default). */
void act_op_wait(struct act_op *op, int64_t ms, act_op_next_fn fn);
/* PUT <portal url>/maintenance/<on> through httpc with the portal target's TLS and token
 * settings; ends the phase with SW_ERROR "not configured: portal" when there is none, and on
 * any answer but 200 with a JSON {"state": <bool>}. */
void act_op_portal(struct act_op *op, bool on, act_portal_fn fn);

/* Whether name (the setting `key`) is a Kubernetes object name; when not, ends the phase with
 * SW_ERROR and returns false. */
bool act_op_name_ok(struct act_op *op, const char *name, const char *key);

/* Ends the phase with o and the detail (printf-style), and frees op. */
void act_op_end(struct act_op *op, enum sw_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The actuators' cancel: drops the call or pause in flight and frees the op. NULL-safe. */
void act_op_cancel(struct sw_phase *ph);

/* A Deployment's or StatefulSet's spec and status (absent counts are 0, as the Go types omit
 * them; an absent spec.replicas is the API's default, 1). */
struct act_workload {
    int64_t generation, observed; /* metadata.generation, status.observedGeneration */
    int64_t spec;                 /* spec.replicas */
    int64_t replicas, updated, ready;
    const char *restarted_at; /* the pod template's kubectl.kubernetes.io/restartedAt or NULL;
                                 valid as long as the body */
};
void act_workload_read(json_t *obj, struct act_workload *w);
/* The controller has seen the last change and every pod runs the current template, ready,
 * and there is no other pod: a scale (to 0 too) or a rollout is over. */
bool act_workload_settled(const struct act_workload *w);
/* "2 of 3 ready, 3 updated, 3 running, generation 4 observed 4", for details. */
void act_workload_text(const struct act_workload *w, char *out, size_t outlen);

/* The annotation a rollout restart sets on the pod template (kubectl's). */
#define ACT_RESTARTED_AT "kubectl.kubernetes.io/restartedAt"
/* The time as the old agent writes restartedAt: UTC, ISO 8601, microseconds and a Z
 * ("2024-06-10T09:41:17.591398Z"). */
void act_restart_stamp(char *out, size_t outlen);
/* The merge-patch body of a rollout restart, stamped now; *stamp gets the stamp. */
json_t *act_restart_patch(char *stamp, size_t stamplen);

#endif
