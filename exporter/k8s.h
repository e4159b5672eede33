/* k8s.h: a small Kubernetes API client on httpc (async, on the loop): where the API server
 * is and how to authenticate (the in-pod defaults), and requests whose non-2xx answers are
 * turned into a clear error from the apiserver's `Status` body. Collectors GET through it;
 * actuators will PATCH through it (merge-patch) the same way.
 *
 * Config: a collector's target struct embeds a struct k8s_target and lists
 * K8S_TARGET_KEYS(type, member): every HTTP_TARGET_KEYS setting plus `namespace`, with `url`
 * optional. k8s_client_init resolves it:
 *   - url: when not given, the pod's own API server: https://$KUBERNETES_SERVICE_HOST:
 *     $KUBERNETES_SERVICE_PORT (the address its certificate is issued for), or
 *     https://kubernetes.default.svc when only the service-account files are there. Outside a
 *     pod, url is required.
 *   - bearer_token_file and ca_file: the service-account token and CA (K8S_SA_DIR/token,
 *     /ca.crt) when they exist, but ONLY when the URL is the pod's own API server: this pod's
 *     token is never sent to another cluster (the other site's API needs its own token).
 *   - namespace: the pod's namespace (K8S_SA_DIR/namespace) when not given.
 * The token file is read again for every request: the kubelet rotates bound tokens in place.
 *
 * Ownership: a k8s_client owns copies of every string; k8s_client_clear frees them. A
 * response is valid only during its callback. */
#ifndef DRWATCH_K8S_H
#define DRWATCH_K8S_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http_client.h"
#include "http_target.h"

#define K8S_SA_DIR      "/var/run/secrets/kubernetes.io/serviceaccount"
#define K8S_DEFAULT_URL "https://kubernetes.default.svc"

struct k8s_target {
    struct http_target http; /* url may be NULL: the in-pod default */
    char *namespace;         /* NULL: the pod's namespace */
};

/* Every HTTP target key (url optional, in-pod defaults) plus namespace, for a struct k8s_target
 * at T.m. */
#define K8S_TARGET_KEYS(T, m)                                                                     \
    HTTP_TARGET_KEYS_WITH(                                                                        \
        T, m.http, false, "the API server's https:// URL (default in a pod: its own API server)", \
        "a PEM file of CA certificates (default in a pod: its service account's)",                \
        "a file holding a bearer token (default in a pod: its service account's)"),               \
    {                                                                                             \
        .name = "namespace", .type = CFG_STRING, .offset = offsetof(T, m.namespace),              \
        .expect = "a Kubernetes namespace (default in a pod: the pod's namespace)"                \
    }

/* A resolved target. */
struct k8s_client {
    struct http_target http; /* every string owned */
    char *namespace;
    bool in_cluster; /* url is the pod's own API server */
};

/* Resolves t (see the top of this file) into c. sa_dir: NULL for K8S_SA_DIR (tests pass their
 * own). The in-pod address comes from the environment (KUBERNETES_SERVICE_HOST, _PORT).
 * Returns 0, or -1 with "target <label>: why" in err (c is then left empty). */
DRW_MUST_CHECK int k8s_client_init(struct k8s_client *c, const struct k8s_target *t,
                                   const char *sa_dir, char *err, size_t errlen);
void k8s_client_clear(struct k8s_client *c); /* NULL-safe, idempotent */

/* RFC 1123 label (namespaces: [a-z0-9-], at most 63) or DNS subdomain (object names:
 * [a-z0-9.-], at most 253). */
bool k8s_name_valid(const char *s, bool subdomain);
/* A label value: empty, or at most 63 of [A-Za-z0-9._-] starting and ending alphanumeric. */
bool k8s_label_value_valid(const char *s);
/* Appends s percent-encoded for a query string (RFC 3986 unreserved kept). */
int k8s_query_escape(struct buf *out, const char *s);

/* ---- requests ---- */

struct k8s_call {
    const char *method;       /* NULL: GET */
    const char *path;         /* from the API root, with any query: "/api/v1/namespaces/..." */
    const char *content_type; /* for a body, e.g. "application/merge-patch+json" */
    const char *body;
    size_t body_len;
    int64_t timeout_ms; /* 0: the target's timeout (or interval) */
    /* A watch (?watch=true): each line of a 2xx answer as it arrives, with fn's arg (see
     * httpc_opts.on_line); a line is capped at CAP_K8S_WATCH_LINE. NULL: the whole body. */
    httpc_line_fn on_line;
};

struct k8s_response {
    bool ok;     /* a 2xx answer arrived */
    long status; /* HTTP status, 0 when none */
    /* When !ok: the errors_total reason (a transport reason from httpc, or "http_<code>") and
     * a line for the log: the Status reason and message ("Forbidden: configmaps \"x\" is
     * forbidden: User ..."), or curl's error, or the start of a non-Status body. */
    const char *reason;
    const char *detail;
    const char *status_reason; /* the Status body's reason ("NotFound"), "" when none */
    const char *body;          /* NUL-terminated, also for errors */
    size_t body_len;
    double retry_after_s; /* -1 when absent */
};

typedef void (*k8s_done_fn)(void *arg, const struct k8s_response *r);

struct k8s_req;

/* Starts a request; fn is called once, later, on the loop. Returns NULL (fn never called) with
 * err filled when it cannot start: the token file unreadable, curl refusing the options. */
DRW_MUST_CHECK struct k8s_req *k8s_request(struct httpc *h, const struct k8s_client *c,
                                           const struct k8s_call *call, k8s_done_fn fn, void *arg,
                                           char *err, size_t errlen);
void k8s_cancel(struct k8s_req *r); /* NULL-safe; fn is not called */

/* A Kubernetes `Status` error body. */
struct k8s_status {
    long code;
    char reason[64];   /* "NotFound", "Forbidden", ... */
    char message[512]; /* capped, control bytes replaced */
};

/* Parses body as a Status object. Returns 0, or -EINVAL when it is not one. */
DRW_MUST_CHECK int k8s_status_parse(const char *body, size_t len, struct k8s_status *out);

/* ---- watches ---- */

/* One line of a watch stream: {"type": ..., "object": {...}} (api-concepts "Efficient
 * detection of changes"). */
enum k8s_watch_type {
    K8S_WATCH_ADDED,
    K8S_WATCH_MODIFIED,
    K8S_WATCH_DELETED,
    K8S_WATCH_BOOKMARK, /* only the object's metadata.resourceVersion means anything */
    K8S_WATCH_ERROR,    /* the object is a Status: code 410 when the version is too old */
};

struct k8s_watch_event {
    enum k8s_watch_type type;
    json_t *object;            /* owned (k8s_watch_event_clear); never NULL after a parse */
    char resource_version[64]; /* the object's metadata.resourceVersion, "" when none */
    struct k8s_status status;  /* K8S_WATCH_ERROR: the Status (zeroes when not one) */
};

/* Parses one line. Returns 0, or -EINVAL with err filled ("not JSON", "no type", an unknown
 * type, an object that is not an object, a resourceVersion that is not a short string). */
DRW_MUST_CHECK int k8s_watch_parse(const char *line, size_t len, struct k8s_watch_event *out,
                                   char *err, size_t errlen);
void k8s_watch_event_clear(struct k8s_watch_event *ev); /* NULL-safe, idempotent */
const char *k8s_watch_type_name(enum k8s_watch_type t); /* "ADDED", ... */

/* ---- ConfigMaps ---- */

/* Checks root is a ConfigMap: an object with metadata, kind ConfigMap when it says (list items
 * do not), data an object, null or absent. Returns 0 with *data (NULL when there is none), or
 * -EINVAL with err filled. */
DRW_MUST_CHECK int k8s_configmap_data(json_t *root, json_t **data, char *err, size_t errlen);
/* The value of key in data: "" when data is NULL or the key is absent or not a string; cut at
 * outlen on a UTF-8 boundary. Returns out. */
const char *k8s_configmap_value(json_t *data, const char *key, char *out, size_t outlen);

/* JSON helpers for API objects. Key lists end with K8S_END (a typed NULL, as variadic
 * functions need). */
#define K8S_END ((const char *)NULL)
/* Follows object keys (NULL-terminated) from root; NULL when a step is missing or not an
 * object. */
DRW_MUST_CHECK json_t *k8s_json_path(json_t *root, ...) __attribute__((sentinel));
/* The string at the path, or NULL when absent or not a string. */
DRW_MUST_CHECK const char *k8s_json_str(json_t *root, ...) __attribute__((sentinel));
/* Parses a body with jansson's limits (no duplicate-key tricks, valid UTF-8). NULL with err
 * filled on failure. */
DRW_MUST_CHECK json_t *k8s_json_load(const char *body, size_t len, char *err, size_t errlen);

#endif
