/* act_k8s.c: the Kubernetes actuators' shared machinery (see act_k8s.h): one op per phase,
 * holding the one call, HTTP request or pause in flight, so that cancelling a phase is freeing
 * its op.
 *
 * Uses: exporter/k8s (requests, Status errors, JSON helpers), exporter/http_target and httpc
 * (the portal), the loop's timers, jansson. */
#include "act_k8s.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_client.h"
#include "http_target.h"
#include "loop.h"
#include "xalloc.h"

struct act_op {
    struct sw_phase *ph;
    const struct act_env *env;
    const char *ns;
    void *state;
    struct k8s_req *req;     /* a Kubernetes call in flight */
    struct httpc_req *http;  /* the portal call in flight */
    struct loop_timer *wait; /* a pause */
    act_op_fn fn;
    act_op_next_fn next;
    act_portal_fn portal_fn;
    long tolerate;
    char what[200]; /* "PATCH deployments/x/scale": what a failed call names */
    char *token;    /* the portal's bearer token, while its call runs */
    char *url;
};

struct act_op *act_op_new(struct sw_phase *ph, size_t size, const char *ns, const char *ns_key)
{
    const struct act_env *e = sw_phase_env(ph);
    if (!e->have_k8s) {
        sw_phase_done(ph, SW_ERROR, "not configured: no Kubernetes API (switchover.kubernetes)");
        return NULL;
    }
    if (!ns) {
        char why[160];
        snprintf(why, sizeof(why), "not configured: switchover.%s is not set", ns_key);
        sw_phase_done(ph, SW_ERROR, why);
        return NULL;
    }
    struct act_op *op = xcalloc(1, sizeof(*op));
    op->ph = ph;
    op->env = e;
    op->ns = ns;
    op->state = xcalloc(1, size ? size : 1);
    *sw_phase_slot(ph) = op;
    return op;
}

void *act_op_state(struct act_op *op)
{
    return op->state;
}

struct sw_phase *act_op_phase(struct act_op *op)
{
    return op->ph;
}

const struct act_env *act_op_env(const struct act_op *op)
{
    return op->env;
}

const char *act_op_ns(const struct act_op *op)
{
    return op->ns;
}

char *act_op_note(struct act_op *op)
{
    return sw_phase_note(op->ph);
}

static void op_free(struct act_op *op)
{
    k8s_cancel(op->req);
    httpc_cancel(op->http);
    loop_timer_free(op->wait);
    *sw_phase_slot(op->ph) = NULL;
    free(op->token);
    free(op->url);
    free(op->state);
    free(op);
}

void act_op_end(struct act_op *op, enum sw_outcome o, const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    struct sw_phase *ph = op->ph;
    op_free(op);
    sw_phase_done(ph, o, detail);
}

void act_op_cancel(struct sw_phase *ph)
{
    struct act_op *op = *sw_phase_slot(ph);
    if (op) op_free(op);
}

/* ---- Kubernetes calls ---- */

static void on_k8s(void *arg, const struct k8s_response *r)
{
    struct act_op *op = arg;
    op->req = NULL; /* k8s.c frees it once this returns */
    bool any = op->tolerate == ACT_ANY;
    if (!r->ok && !any && !(op->tolerate && r->status == op->tolerate)) {
        if (r->status > 0)
            act_op_end(op, SW_ERROR, "%s: %s", op->what, r->detail);
        else
            act_op_end(op, SW_ERROR, "%s: %s (%s)", op->what, r->reason, r->detail);
        return;
    }
    json_t *body = NULL;
    if (r->body_len) {
        char err[160];
        body = k8s_json_load(r->body, r->body_len, err, sizeof(err));
        if (!body && !(any && !r->ok)) {
            act_op_end(op, SW_ERROR, "%s: the answer is not JSON: %s", op->what, err);
            return;
        }
    }
    op->fn(op, r, body); /* may free op */
    json_decref(body);
}

/* "METHOD <what follows /namespaces/<ns>/ in path>", or the whole path. */
static void name_call(struct act_op *op, const char *method, const char *path)
{
    const char *p = strstr(path, "/namespaces/");
    const char *rest = p ? strchr(p + strlen("/namespaces/"), '/') : NULL;
    snprintf(op->what, sizeof(op->what), "%.8s %.180s", method, rest ? rest + 1 : path);
}

void act_op_call(struct act_op *op, const char *method, json_t *body, long tolerate, act_op_fn fn,
                 const char *fmt, ...)
{
    char path[2048], err[300];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    bool patch = strcmp(method, "PATCH") == 0; /* a patch whose body could not be made */
    if (n < 0 || (size_t)n >= sizeof(path) || (patch && !text)) {
        free(text);
        act_op_end(op, SW_ERROR, "%s: the request cannot be made (a path of %d bytes, or no body)",
                   method, n);
        return;
    }
    name_call(op, method, path);
    const struct k8s_client *c = &op->env->k8s;
    struct k8s_call call = {.method = method,
                            .path = path,
                            .content_type = text ? ACT_MERGE_PATCH : NULL,
                            .body = text,
                            .body_len = text ? strlen(text) : 0,
                            .timeout_ms =
                                c->http.timeout_ms > 0 ? c->http.timeout_ms : ACT_CALL_TIMEOUT_MS};
    op->fn = fn;
    op->tolerate = tolerate;
    op->req = k8s_request(op->env->http, c, &call, on_k8s, op, err, sizeof(err));
    free(text); /* the request has its copy */
    if (!op->req) act_op_end(op, SW_ERROR, "%s: %s", op->what, err);
}

bool act_op_name_ok(struct act_op *op, const char *name, const char *key)
{
    if (k8s_name_valid(name, true)) return true;
    act_op_end(op, SW_ERROR, "not configured: switchover.%s \"%.60s\" is not an object name", key,
               name);
    return false;
}

/* ---- pauses ---- */

static void on_wait(void *arg)
{
    struct act_op *op = arg;
    op->next(op);
}

void act_op_wait(struct act_op *op, int64_t ms, act_op_next_fn fn)
{
    if (!op->wait) op->wait = loop_timer_new(op->env->loop, on_wait, op);
    if (ms <= 0) ms = op->env->wait_ms > 0 ? op->env->wait_ms : ACT_WAIT_MS;
    op->next = fn;
    loop_timer_start(op->wait, ms);
}

/* ---- the portal ---- */

static void on_portal(void *arg, const struct httpc_result *hr)
{
    struct act_op *op = arg;
    op->http = NULL;
    free(op->token);
    op->token = NULL;
    if (!hr->ok) {
        act_op_end(op, SW_ERROR, "%s: %s (%s)", op->what, hr->reason, hr->error);
        return;
    }
    json_t *root = hr->status == 200 ? json_loadb(hr->body, hr->body_len, 0, NULL) : NULL;
    json_t *state = json_object_get(root, "state");
    if (!json_is_boolean(state)) {
        int n = (int)(hr->body_len < 60 ? hr->body_len : 60);
        json_decref(root);
        if (hr->status != 200)
            act_op_end(op, SW_ERROR, "%s: HTTP %ld: %.*s", op->what, hr->status, n, hr->body);
        else
            act_op_end(op, SW_ERROR, "%s: the answer is not {\"state\": <bool>}: %.*s", op->what, n,
                       hr->body);
        return;
    }
    bool on = json_is_true(state);
    json_decref(root);
    op->portal_fn(op, on);
}

void act_op_portal(struct act_op *op, bool on, act_portal_fn fn)
{
    const struct act_http *portal = op->env->cfg ? op->env->cfg->portal : NULL;
    if (!portal) {
        act_op_end(op, SW_ERROR, "not configured: no portal (switchover.portal)");
        return;
    }
    const struct http_target *t = &portal->t;
    snprintf(op->what, sizeof(op->what), "portal PUT /maintenance/%s", on ? "true" : "false");
    free(op->url);
    op->url = url_join(t->url, on ? "/maintenance/true" : "/maintenance/false");
    struct httpc_opts o;
    char err[300];
    free(op->token);
    if (http_target_opts(t, op->url, &o, &op->token, err, sizeof(err)) < 0) {
        act_op_end(op, SW_ERROR, "%s: %s", op->what, err);
        return;
    }
    static const char *const headers[] = {"Accept: application/json", NULL};
    o.method = "PUT";
    o.headers = headers;
    o.timeout_ms = t->timeout_ms > 0 ? t->timeout_ms : ACT_PORTAL_TIMEOUT_MS;
    op->portal_fn = fn;
    op->http = httpc_start(op->env->http, &o, on_portal, op);
    if (!op->http) act_op_end(op, SW_ERROR, "%s: the HTTP client refused it", op->what);
}

/* ---- workloads ---- */

static int64_t int_at(json_t *root, const char *a, const char *b, int64_t def)
{
    json_t *v = k8s_json_path(root, a, b, K8S_END);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

void act_workload_read(json_t *obj, struct act_workload *w)
{
    w->generation = int_at(obj, "metadata", "generation", 0);
    w->observed = int_at(obj, "status", "observedGeneration", 0);
    w->spec = int_at(obj, "spec", "replicas", 1);
    w->replicas = int_at(obj, "status", "replicas", 0);
    w->updated = int_at(obj, "status", "updatedReplicas", 0);
    w->ready = int_at(obj, "status", "readyReplicas", 0);
    w->restarted_at =
        k8s_json_str(obj, "spec", "template", "metadata", "annotations", ACT_RESTARTED_AT, K8S_END);
}

bool act_workload_settled(const struct act_workload *w)
{
    return w->observed >= w->generation && w->replicas == w->spec && w->updated == w->spec &&
           w->ready == w->spec;
}

void act_workload_text(const struct act_workload *w, char *out, size_t outlen)
{
    snprintf(out, outlen, "%lld of %lld ready, %lld updated, %lld running, generation %lld %s",
             (long long)w->ready, (long long)w->spec, (long long)w->updated, (long long)w->replicas,
             (long long)w->generation,
             w->observed >= w->generation ? "observed" : "not yet observed");
}

void act_restart_stamp(char *out, size_t outlen)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char day[32];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%06ldZ", day, ts.tv_nsec / 1000);
}

json_t *act_restart_patch(char *stamp, size_t stamplen)
{
    act_restart_stamp(stamp, stamplen);
    return json_pack("{s:{s:{s:{s:{s:s}}}}}", "spec", "template", "metadata", "annotations",
                     ACT_RESTARTED_AT, stamp);
}
