/* state_configmap.c: the switchover-state ConfigMap as the operator interface (see
 * state_configmap.h): what its data asks for, the answers and progress drwatch writes there,
 * and the I/O that keeps both current on the loop.
 *
 * Reading: one read at a time, of three kinds. A list (with a fieldSelector on the name, so
 * that a missing ConfigMap still gives a resourceVersion) starts a watch from its version; the
 * watch goes on from the last version it delivered when it ends at its timeoutSeconds, and
 * lists again on 410 Gone, on an ERROR event or a line it cannot read, and when the stream
 * drops. While neither a list nor a watch works, a GET every poll_ms stands in for the watch,
 * and the list is tried again with a growing pause (up to SW_CM_BACKOFF_MS).
 *
 * Writing: what is to be written is merged into one pending patch, and one PATCH is in flight
 * at a time, with the resourceVersion of the last observation. A 409 sends the patch back to
 * pending and reads the ConfigMap again: the next observation decides again (a request that
 * changed is a new request; one that stayed is still the one being answered) and the patch
 * goes out with the new version. Other failures are retried with a pause.
 *
 * Progress is read from the executor once per tick (sw_exec_current): a step change makes one
 * write. Uses: exporter/k8s (the API client, watch lines), jansson, executor.h (the runs). */
#include "state_configmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "loop.h"
#include "strutil.h"
#include "xalloc.h"

#define CM_CALL_TIMEOUT_MS 10000 /* a list, GET or PATCH */
#define CM_ERRORS_MAX      32    /* distinct {call, reason} pairs counted; then "other" */

const char *const sw_cm_rbac[] = {"\"\" configmaps get", "\"\" configmaps list",
                                  "\"\" configmaps watch", "\"\" configmaps patch", NULL};

/* ---- the pure part ---- */

int sw_cm_view_read(json_t *obj, struct sw_cm_view *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_t *data;
    if (k8s_configmap_data(obj, &data, err, errlen) < 0) return -EINVAL;
    json_t *rv = k8s_json_path(obj, "metadata", "resourceVersion", K8S_END);
    if (rv && (!json_is_string(rv) || json_string_length(rv) >= sizeof(out->rv))) {
        snprintf(err, errlen, "a ConfigMap whose resourceVersion is not a short string");
        return -EINVAL;
    }
    out->exists = true;
    out->has_data = data && json_object_size(data) > 0;
    if (rv) memcpy(out->rv, json_string_value(rv), json_string_length(rv) + 1);
    k8s_configmap_value(data, "transition", out->transition, sizeof(out->transition));
    k8s_configmap_value(data, "last_stable_state", out->label, sizeof(out->label));
    k8s_configmap_value(data, "drwatch_progress", out->progress, sizeof(out->progress));
    return 0;
}

bool sw_cm_report_missing(const struct sw_cm_view *v, const char *report, bool ok)
{
    if (!v->exists || !v->has_data) return false;
    if (strncmp(v->progress, "step ", 5) == 0) return true;
    return ok && strcmp(v->progress, report) != 0;
}

enum sw_cm_ask sw_cm_decide(const struct sw_cm_view *v, const struct sw_cm_memory *m)
{
    if (!v->exists || !v->transition[0]) return SW_CM_IDLE;
    if (m->answering && strcmp(m->answering_value, v->transition) == 0) return SW_CM_ANSWERING;
    for (size_t i = 0; i < SW_CM_RING; i++)
        if (m->handled[i].rv[0] && strcmp(m->handled[i].rv, v->rv) == 0 &&
            strcmp(m->handled[i].value, v->transition) == 0)
            return SW_CM_SEEN;
    if (strcmp(v->transition, v->label) == 0) return SW_CM_SAME;
    return SW_CM_NEW;
}

void sw_cm_remember(struct sw_cm_memory *m, const char *rv, const char *value)
{
    snprintf(m->handled[m->next].rv, sizeof(m->handled[0].rv), "%s", rv);
    snprintf(m->handled[m->next].value, sizeof(m->handled[0].value), "%s", value);
    m->next = (m->next + 1) % SW_CM_RING;
    m->answering = true;
    snprintf(m->answering_value, sizeof(m->answering_value), "%s", value);
}

void sw_cm_time_text(double t, char *out, size_t outlen)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *sw_cm_patch_body(const struct sw_cm_patch *p, const char *rv)
{
    if (!p->answer && !p->reanswer && !p->progress && !p->stable) return NULL;
    char at[32];
    json_t *data = json_object();
    if (p->answer) {
        sw_cm_time_text(p->answered_at, at, sizeof(at));
        json_object_set_new(data, "transition", json_string(""));
        json_object_set_new(data, "drwatch_request", json_string(p->request));
        json_object_set_new(data, "drwatch_answer", json_string(p->answer_text));
        json_object_set_new(data, "drwatch_answered_at", json_string(at));
    } else if (p->reanswer) {
        sw_cm_time_text(p->answered_at, at, sizeof(at));
        json_object_set_new(data, "drwatch_answer", json_string(p->answer_text));
        json_object_set_new(data, "drwatch_answered_at", json_string(at));
    }
    if (p->progress) json_object_set_new(data, "drwatch_progress", json_string(p->progress_text));
    if (p->stable) {
        sw_cm_time_text(p->stable_at, at, sizeof(at));
        json_object_set_new(data, "last_stable_state", json_string(sw_state_name(p->state)));
        json_object_set_new(data, "last_stable_state_ts", json_string(at));
    }
    json_t *root = json_pack("{s:{s:s}, s:o}", "metadata", "resourceVersion", rv, "data", data);
    char *body = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    return body;
}

void sw_cm_patch_merge(struct sw_cm_patch *into, const struct sw_cm_patch *from)
{
    if (from->answer) {
        into->answer = true;
        memcpy(into->request, from->request, sizeof(into->request));
        memcpy(into->answer_text, from->answer_text, sizeof(into->answer_text));
        into->answered_at = from->answered_at;
    }
    if (from->reanswer) { /* inside a full answer not yet written, it replaces its text */
        into->reanswer = !into->answer;
        memcpy(into->answer_text, from->answer_text, sizeof(into->answer_text));
        into->answered_at = from->answered_at;
    }
    if (from->progress) {
        into->progress = true;
        memcpy(into->progress_text, from->progress_text, sizeof(into->progress_text));
    }
    if (from->stable) {
        into->stable = true;
        into->state = from->state;
        into->stable_at = from->stable_at;
    }
}

void sw_cm_answer_text(const struct sw_cm_answer *a, char *out, size_t outlen)
{
    switch (a->verdict) {
    case SW_CM_ACCEPTED: snprintf(out, outlen, "accepted: run %s: %s", a->run_id, a->reason); break;
    case SW_CM_NOTHING: snprintf(out, outlen, "nothing to do: %s", a->reason); break;
    case SW_CM_REFUSED: snprintf(out, outlen, "refused: %s", a->reason); break;
    case SW_CM_PENDING:
        snprintf(out, outlen, "pending: request %s: %s", a->run_id, a->reason);
        break;
    }
}

/* "patroni_demote" or "patroni_demote (fallback 1)": a step of rec, or "?" without one. */
static void step_name(const struct sw_run_record *rec, size_t step, size_t depth, char *out,
                      size_t outlen)
{
    const char *action = rec && step < rec->nsteps ? rec->steps[step].action : "?";
    if (depth)
        snprintf(out, outlen, "%s (fallback %zu)", action, depth);
    else
        snprintf(out, outlen, "%s", action);
}

void sw_cm_progress_text(const struct sw_run_start *run, const struct sw_run_record *rec,
                         size_t step, size_t depth, char *out, size_t outlen)
{
    char name[64];
    step_name(rec, step, depth, name, sizeof(name));
    snprintf(out, outlen, "step %zu/%zu %s: running", step + 1, run->nsteps, name);
}

void sw_cm_finished_text(const struct sw_run_start *run, const struct sw_run_record *rec,
                         enum sw_result r, const char *detail, char *out, size_t outlen)
{
    if (r == SW_RESULT_OK) {
        snprintf(out, outlen, "done: %s -> %s (run %s)", sw_state_name(run->from),
                 sw_state_name(run->to), run->id);
        return;
    }
    /* The step that ended the run: the last one that began. */
    size_t at = rec ? rec->nsteps : 0;
    while (at > 0 && !rec->steps[at - 1].begun) at--;
    if (r == SW_RESULT_FAILED && at > 0 && rec->steps[at - 1].ended) {
        const struct sw_step_record *s = &rec->steps[at - 1];
        const char *why = s->detail[0] ? s->detail : sw_result_name(s->result);
        size_t n = strlen(s->action);
        if (strncmp(why, s->action, n) == 0 && strncmp(why + n, ": ", 2) == 0)
            why += n + 2; /* the actuators name themselves first */
        char name[64];
        step_name(rec, at - 1, s->depth, name, sizeof(name));
        snprintf(out, outlen, "failed at step %zu/%zu %s: %.200s; last_stable_state unchanged", at,
                 rec->nsteps, name, why);
        return;
    }
    snprintf(out, outlen, "%s: %.250s; last_stable_state unchanged", sw_result_name(r),
             detail && detail[0] ? detail : "(no detail)");
}

/* ---- the unit ---- */

enum conn { CONN_WAITING, CONN_LISTING, CONN_WATCHING };
enum call { CALL_LIST, CALL_WATCH, CALL_GET, CALL_PATCH, CALL_COUNT };
static const char *const call_names[CALL_COUNT] = {"list", "watch", "get", "patch"};

struct sw_cm {
    struct sw_cm_env env;
    char *ns, *name, *path, *list_path;
    char reason[128]; /* the requests' reason: "ConfigMap switchover-state-<env>" */
    struct sw_cm_view view;
    bool seen; /* view holds an observation */
    struct sw_cm_memory mem;
    struct sw_cm_patch pending, inflight;
    bool need_read; /* a PATCH got 409: nothing goes out until a GET has read it again */
    enum conn conn;
    struct k8s_req *list_req, *watch_req, *get_req, *patch_req;
    char watch_rv[64]; /* where the next watch starts */
    int64_t watch_started_ms, resync_at_ms, patch_at_ms;
    int64_t settle_until_ms; /* an answer or a finished run's write was queued (sw_cm_settling) */
    bool watch_saw;          /* the watch delivered something */
    unsigned failures;       /* reads that failed in a row: the pause before listing again */
    unsigned patch_failures;
    struct loop_timer *tick;
    char progress_last[SW_CM_TEXT_MAX]; /* the progress text last queued */
    bool last_run;                      /* last_report waits for the first observation */
    bool last_run_ok;
    struct sw_cm_patch last_report; /* the report of the run finished before this process */
    struct complaint read_c, patch_c, missing_c, bootstrap_c;
    struct {
        enum call call;
        char reason[32];
        uint64_t n;
    } errors[CM_ERRORS_MAX];
    size_t nerrors;
    uint64_t other[CALL_COUNT]; /* errors of reasons past CM_ERRORS_MAX */
};

static void start_list(struct sw_cm *c);
static void flush(struct sw_cm *c);

static double now_s(const struct sw_cm *c)
{
    return c->env.clock ? c->env.clock(c->env.clock_arg) : time_wall_s();
}

static void count_error(struct sw_cm *c, enum call call, const char *reason)
{
    size_t i = 0;
    if (!reason || !reason[0]) reason = "unknown";
    while (i < c->nerrors && (c->errors[i].call != call || strcmp(c->errors[i].reason, reason)))
        i++;
    if (i == CM_ERRORS_MAX) {
        c->other[call]++;
        return;
    }
    if (i == c->nerrors) {
        c->nerrors++;
        c->errors[i].call = call;
        snprintf(c->errors[i].reason, sizeof(c->errors[i].reason), "%s", reason);
    }
    c->errors[i].n++;
}

static struct k8s_req *call_api(struct sw_cm *c, enum call call, const struct k8s_call *k,
                                k8s_done_fn fn)
{
    char err[300];
    struct k8s_req *r = k8s_request(c->env.http, c->env.k8s, k, fn, c, err, sizeof(err));
    if (!r) {
        count_error(c, call, "request");
        log_complain(&c->read_c, LOG_WARN, "switchover", "ConfigMap %s/%s: %s: %s", c->ns, c->name,
                     call_names[call], err);
    }
    return r;
}

/* ---- answering ---- */

static void queue(struct sw_cm *c, const struct sw_cm_patch *p)
{
    sw_cm_patch_merge(&c->pending, p);
    flush(c);
}

/* The progress of the run going on, queued when it changed. */
static void progress_check(struct sw_cm *c)
{
    size_t step, depth;
    const struct sw_run_start *run = sw_exec_current(c->env.x, &step, &depth);
    if (!run) return;
    struct sw_cm_patch p = {.progress = true};
    sw_cm_progress_text(run, sw_exec_record(c->env.x, run->id), step, depth, p.progress_text,
                        sizeof(p.progress_text));
    if (strcmp(p.progress_text, c->progress_last) == 0) return;
    snprintf(c->progress_last, sizeof(c->progress_last), "%s", p.progress_text);
    queue(c, &p);
}

/* A run from this ConfigMap going on towards what `value` asks: the same request again (its
 * answer was lost to a restart, or a person wrote it twice). */
static const struct sw_run_start *same_run(const struct sw_cm *c, const char *value)
{
    const struct sw_run_start *run = sw_exec_current(c->env.x, NULL, NULL);
    enum sw_state to;
    if (!run || run->source != SW_SOURCE_CONFIGMAP) return NULL;
    if (strcmp(value, "active-passive-force") == 0) return run->force ? run : NULL;
    return sw_state_parse(value, &to) == 0 && !run->force && run->to == to ? run : NULL;
}

static void answer(struct sw_cm *c, enum sw_cm_ask ask)
{
    struct sw_cm_answer a = {0};
    const struct sw_run_start *run;
    const char *value = c->view.transition;
    if (ask == SW_CM_SAME) {
        a.verdict = SW_CM_NOTHING;
        snprintf(a.reason, sizeof(a.reason), "last_stable_state is %.200s already", c->view.label);
    } else if ((run = same_run(c, value))) {
        a.verdict = SW_CM_ACCEPTED;
        snprintf(a.run_id, sizeof(a.run_id), "%s", run->id);
        snprintf(a.reason, sizeof(a.reason), "%s -> %s, going on", sw_state_name(run->from),
                 sw_state_name(run->to));
    } else {
        struct sw_request r = {.source = SW_SOURCE_CONFIGMAP};
        char head[sizeof(r.to) - 3];
        size_t n = strlen(value);
        if (n < sizeof(r.to)) { /* longer is no target: keep its start to say so */
            memcpy(r.to, value, n + 1);
        } else {
            str_utf8_copy(head, sizeof(head), value);
            snprintf(r.to, sizeof(r.to), "%s...", head);
        }
        snprintf(r.reason, sizeof(r.reason), "%s", c->reason);
        c->env.request(c->env.request_arg, &r, &a);
    }
    struct sw_cm_patch p = {.answer = true, .answered_at = now_s(c)};
    snprintf(p.request, sizeof(p.request), "%s", value);
    sw_cm_answer_text(&a, p.answer_text, sizeof(p.answer_text));
    log_info("switchover", "ConfigMap %s/%s asks for %s: %s", c->ns, c->name, value, p.answer_text);
    sw_cm_remember(&c->mem, c->view.rv, value);
    sw_cm_patch_merge(&c->pending, &p);
    c->settle_until_ms = time_mono_ms() + SW_CM_SETTLE_MS;
    progress_check(c); /* an accepted run has begun its first step: in the same write */
    flush(c);
}

static void observe(struct sw_cm *c, const struct sw_cm_view *v)
{
    bool first = c->last_run; /* the last run's report is weighed once, against the first */
    c->last_run = false;
    c->view = *v;
    c->seen = true;
    if (!v->exists) {
        log_complain(&c->missing_c, LOG_WARN, "switchover",
                     "ConfigMap %s/%s does not exist: drwatch never creates it, so no transition "
                     "can be asked for there; this site's state is its journal's, else "
                     "independent",
                     c->ns, c->name);
        if (c->mem.answering || c->pending.answer)
            log_warn("switchover", "ConfigMap %s/%s went away before the answer to %s was written",
                     c->ns, c->name, c->mem.answering_value);
        c->mem.answering = false;
        c->pending.answer = false;
        return;
    }
    log_complain_clear(&c->missing_c, "switchover", "ConfigMap %s/%s exists", c->ns, c->name);
    if (!v->has_data)
        log_complain(&c->bootstrap_c, LOG_INFO, "switchover",
                     "ConfigMap %s/%s has no data: the old agent's bootstrap case; an empty "
                     "last_stable_state reads as independent, and drwatch writes nothing there "
                     "until a transition is asked for or a run reports",
                     c->ns, c->name);
    else
        log_complain_clear(&c->bootstrap_c, "switchover", "ConfigMap %s/%s has data", c->ns,
                           c->name);
    /* Before a request's answer, whose own write goes on top of it. */
    if (first && sw_cm_report_missing(v, c->last_report.progress_text, c->last_run_ok)) {
        log_warn("switchover",
                 "ConfigMap %s/%s does not hold the report of the last run (a restart came "
                 "before it was written): writing it now: %s",
                 c->ns, c->name, c->last_report.progress_text);
        sw_cm_patch_merge(&c->pending, &c->last_report);
    }
    enum sw_cm_ask ask = sw_cm_decide(v, &c->mem);
    if (ask == SW_CM_NEW || ask == SW_CM_SAME) answer(c, ask);
    flush(c);
}

/* ---- writing ---- */

static int64_t backoff_ms(unsigned failures)
{
    int64_t ms = 1000;
    for (unsigned i = 1; i < failures && ms < SW_CM_BACKOFF_MS; i++) ms *= 2;
    return ms < SW_CM_BACKOFF_MS ? ms : SW_CM_BACKOFF_MS;
}

/* The patch that went out did not land: what it carried is pending again, under anything
 * queued since (which is newer). */
static void unsend(struct sw_cm *c)
{
    struct sw_cm_patch newer = c->pending;
    c->pending = c->inflight;
    sw_cm_patch_merge(&c->pending, &newer);
    c->inflight = (struct sw_cm_patch){0};
}

static void start_get(struct sw_cm *c);

static void on_patch(void *arg, const struct k8s_response *r)
{
    struct sw_cm *c = arg;
    c->patch_req = NULL;
    if (r->ok) {
        if (c->inflight.answer && !c->pending.answer &&
            strcmp(c->mem.answering_value, c->inflight.request) == 0)
            c->mem.answering = false;
        c->inflight = (struct sw_cm_patch){0};
        c->patch_failures = 0;
        log_complain_clear(&c->patch_c, "switchover", "ConfigMap %s/%s: written again", c->ns,
                           c->name);
        char err[200];
        struct sw_cm_view v;
        json_t *obj = k8s_json_load(r->body, r->body_len, err, sizeof(err));
        if (obj && sw_cm_view_read(obj, &v, err, sizeof(err)) == 0)
            observe(c, &v);
        else
            flush(c);
        json_decref(obj);
        return;
    }
    unsend(c);
    count_error(c, CALL_PATCH, r->reason);
    if (r->status == 409) { /* it changed since it was read: read it and decide again */
        c->need_read = true;
        if (++c->patch_failures > 1) /* not the ordinary race: do not spin */
            c->patch_at_ms = time_mono_ms() + backoff_ms(c->patch_failures - 1);
        if (!c->get_req) start_get(c);
        return;
    }
    if (r->status == 404 && strcmp(r->status_reason, "NotFound") == 0) {
        observe(c, &(struct sw_cm_view){0});
        return;
    }
    c->patch_failures++;
    c->patch_at_ms = time_mono_ms() + backoff_ms(c->patch_failures);
    log_complain(&c->patch_c, LOG_WARN, "switchover",
                 "ConfigMap %s/%s: PATCH: %s (again in %lld ms)", c->ns, c->name,
                 r->detail ? r->detail : "", (long long)backoff_ms(c->patch_failures));
}

static void flush(struct sw_cm *c)
{
    if (c->patch_req || c->need_read || !c->view.exists || !c->view.rv[0] ||
        time_mono_ms() < c->patch_at_ms)
        return;
    char *body = sw_cm_patch_body(&c->pending, c->view.rv);
    if (!body) return;
    c->inflight = c->pending;
    c->pending = (struct sw_cm_patch){0};
    struct k8s_call k = {.method = "PATCH",
                         .path = c->path,
                         .content_type = "application/merge-patch+json",
                         .body = body,
                         .body_len = strlen(body),
                         .timeout_ms = CM_CALL_TIMEOUT_MS};
    c->patch_req = call_api(c, CALL_PATCH, &k, on_patch);
    free(body);
    if (!c->patch_req) {
        unsend(c);
        c->patch_at_ms = time_mono_ms() + backoff_ms(++c->patch_failures);
    }
}

/* ---- reading ---- */

static void read_failed(struct sw_cm *c, enum call call, const char *reason, const char *detail)
{
    count_error(c, call, reason);
    c->failures++;
    c->conn = CONN_WAITING;
    c->resync_at_ms = time_mono_ms() + backoff_ms(c->failures);
    log_complain(&c->read_c, LOG_WARN, "switchover",
                 "ConfigMap %s/%s: %s: %s; reading it every %lld ms until a watch works again",
                 c->ns, c->name, call_names[call], detail ? detail : reason,
                 (long long)c->env.poll_ms);
}

static void read_ok(struct sw_cm *c)
{
    c->failures = 0;
    log_complain_clear(&c->read_c, "switchover", "ConfigMap %s/%s: watched again", c->ns, c->name);
}

static void on_get(void *arg, const struct k8s_response *r)
{
    struct sw_cm *c = arg;
    c->get_req = NULL;
    char err[200];
    struct sw_cm_view v = {0};
    if (!r->ok && r->status == 404 && strcmp(r->status_reason, "NotFound") == 0) {
        c->need_read = false;
        observe(c, &v);
        return;
    }
    json_t *obj = r->ok ? k8s_json_load(r->body, r->body_len, err, sizeof(err)) : NULL;
    if (obj && sw_cm_view_read(obj, &v, err, sizeof(err)) == 0) {
        c->need_read = false;
        observe(c, &v);
    } else {
        count_error(c, CALL_GET, r->ok ? "bad_body" : r->reason);
    }
    json_decref(obj);
}

static void start_get(struct sw_cm *c)
{
    struct k8s_call k = {.path = c->path, .timeout_ms = CM_CALL_TIMEOUT_MS};
    c->get_req = call_api(c, CALL_GET, &k, on_get);
}

static void stop_watch(struct sw_cm *c)
{
    k8s_cancel(c->watch_req);
    c->watch_req = NULL;
}

static void on_watch_line(void *arg, const char *line, size_t len)
{
    struct sw_cm *c = arg;
    struct k8s_watch_event ev;
    struct sw_cm_view v;
    char err[300];
    if (k8s_watch_parse(line, len, &ev, err, sizeof(err)) < 0) {
        stop_watch(c);
        return read_failed(c, CALL_WATCH, "bad_event", err);
    }
    if (ev.resource_version[0])
        snprintf(c->watch_rv, sizeof(c->watch_rv), "%s", ev.resource_version);
    switch (ev.type) {
    case K8S_WATCH_ERROR:
        stop_watch(c);
        count_error(c, CALL_WATCH, ev.status.code == 410 ? "gone" : "error_event");
        if (ev.status.code == 410 && c->failures == 0) {
            log_info("switchover",
                     "ConfigMap %s/%s: the watch's version is too old (410 %s): "
                     "listing again",
                     c->ns, c->name, ev.status.reason);
            c->failures++; /* a second 410 in a row waits */
            start_list(c);
        } else {
            read_failed(c, CALL_WATCH, ev.status.code == 410 ? "gone" : "error_event",
                        ev.status.message);
        }
        break;
    case K8S_WATCH_BOOKMARK:
        c->watch_saw = true;
        read_ok(c);
        break;
    case K8S_WATCH_DELETED:
        c->watch_saw = true;
        observe(c, &(struct sw_cm_view){0});
        break;
    case K8S_WATCH_ADDED:
    case K8S_WATCH_MODIFIED:
        c->watch_saw = true;
        read_ok(c);
        if (sw_cm_view_read(ev.object, &v, err, sizeof(err)) == 0) {
            observe(c, &v);
        } else {
            stop_watch(c);
            read_failed(c, CALL_WATCH, "bad_event", err);
        }
        break;
    }
    k8s_watch_event_clear(&ev);
}

static void start_watch(struct sw_cm *c);

static void on_watch_done(void *arg, const struct k8s_response *r)
{
    struct sw_cm *c = arg;
    c->watch_req = NULL;
    bool quick = time_mono_ms() - c->watch_started_ms < 1000 && !c->watch_saw;
    if (r->ok && !quick) { /* its timeoutSeconds: go on from where it was */
        read_ok(c);
        return start_watch(c);
    }
    if (!r->ok && r->status == 410) { /* an apiserver that says so in the status */
        count_error(c, CALL_WATCH, "gone");
        return start_list(c);
    }
    read_failed(c, CALL_WATCH, r->ok ? "ended_at_once" : r->reason,
                r->ok ? "the stream ended at once" : r->detail);
}

static void start_watch(struct sw_cm *c)
{
    char *path = xasprintf("%s&watch=true&allowWatchBookmarks=true&timeoutSeconds=%d"
                           "&resourceVersion=%s",
                           c->list_path, SW_CM_WATCH_S, c->watch_rv);
    struct k8s_call k = {
        .path = path, .timeout_ms = (SW_CM_WATCH_S + 15) * 1000, .on_line = on_watch_line};
    c->conn = CONN_WATCHING;
    c->watch_started_ms = time_mono_ms();
    c->watch_saw = false;
    c->watch_req = call_api(c, CALL_WATCH, &k, on_watch_done);
    free(path);
    if (!c->watch_req) read_failed(c, CALL_WATCH, "request", "the watch could not start");
}

/* The list's one item (or none) and its resourceVersion. */
static int read_list(const char *body, size_t len, struct sw_cm_view *v, char *rv, size_t rvlen,
                     char *err, size_t errlen)
{
    json_t *root = k8s_json_load(body, len, err, errlen);
    json_t *items = json_object_get(root, "items");
    const char *lrv = k8s_json_str(root, "metadata", "resourceVersion", K8S_END);
    int rc = -EINVAL;
    memset(v, 0, sizeof(*v));
    if (!root) return rc;
    if (items && !json_is_array(items) && !json_is_null(items)) {
        snprintf(err, errlen, "a list whose items are not an array");
    } else if (!lrv || strlen(lrv) >= rvlen) {
        snprintf(err, errlen, "a list without a short resourceVersion");
    } else if (json_array_size(items) == 0 ||
               sw_cm_view_read(json_array_get(items, 0), v, err, errlen) == 0) {
        snprintf(rv, rvlen, "%s", lrv);
        rc = 0;
    }
    json_decref(root);
    return rc;
}

static void on_list(void *arg, const struct k8s_response *r)
{
    struct sw_cm *c = arg;
    c->list_req = NULL;
    char err[300];
    struct sw_cm_view v;
    if (!r->ok) return read_failed(c, CALL_LIST, r->reason, r->detail);
    if (read_list(r->body, r->body_len, &v, c->watch_rv, sizeof(c->watch_rv), err, sizeof(err)) < 0)
        return read_failed(c, CALL_LIST, "bad_body", err);
    start_watch(c); /* before observing: an answer's own write then comes back on it */
    observe(c, &v);
}

static void start_list(struct sw_cm *c)
{
    stop_watch(c);
    c->conn = CONN_LISTING;
    struct k8s_call k = {.path = c->list_path, .timeout_ms = CM_CALL_TIMEOUT_MS};
    c->list_req = call_api(c, CALL_LIST, &k, on_list);
    if (!c->list_req) read_failed(c, CALL_LIST, "request", "the list could not start");
}

static void on_tick(void *arg)
{
    struct sw_cm *c = arg;
    loop_timer_start(c->tick, c->env.poll_ms);
    progress_check(c);
    if (c->need_read && !c->get_req) start_get(c);
    if (c->conn == CONN_WAITING) {
        if (time_mono_ms() >= c->resync_at_ms)
            start_list(c);
        else if (!c->get_req)
            start_get(c);
    }
    flush(c);
}

/* ---- start, stop, metrics ---- */

struct sw_cm *sw_cm_new(const struct sw_cm_env *env)
{
    struct sw_cm *c = xcalloc(1, sizeof(*c));
    c->env = *env;
    if (c->env.poll_ms <= 0) c->env.poll_ms = 1000;
    c->ns = xstrdup(env->namespace);
    c->name = xstrdup(env->name);
    c->env.namespace = c->ns;
    c->env.name = c->name;
    c->path = xasprintf("/api/v1/namespaces/%s/configmaps/%s", c->ns, c->name);
    c->list_path = xasprintf("/api/v1/namespaces/%s/configmaps?fieldSelector=metadata.name%%3D%s",
                             c->ns, c->name);
    snprintf(c->reason, sizeof(c->reason), "ConfigMap %.100s", c->name);
    c->tick = loop_timer_new(env->loop, on_tick, c);
    loop_timer_start(c->tick, c->env.poll_ms);
    start_list(c);
    return c;
}

void sw_cm_free(struct sw_cm *c)
{
    if (!c) return;
    k8s_cancel(c->list_req);
    k8s_cancel(c->watch_req);
    k8s_cancel(c->get_req);
    k8s_cancel(c->patch_req);
    loop_timer_free(c->tick);
    free(c->ns);
    free(c->name);
    free(c->path);
    free(c->list_path);
    free(c);
}

void sw_cm_answer_later(struct sw_cm *c, const struct sw_cm_answer *a)
{
    if (!c) return;
    struct sw_cm_patch p = {.reanswer = true, .answered_at = now_s(c)};
    sw_cm_answer_text(a, p.answer_text, sizeof(p.answer_text));
    log_info("switchover", "ConfigMap %s/%s: the pending request is decided: %s", c->ns, c->name,
             p.answer_text);
    c->settle_until_ms = time_mono_ms() + SW_CM_SETTLE_MS;
    queue(c, &p);
}

void sw_cm_finished(struct sw_cm *c, const struct sw_run_start *run, enum sw_result r,
                    const char *detail, bool changes_state)
{
    if (!c) return;
    struct sw_cm_patch p = {.progress = true};
    sw_cm_finished_text(run, sw_exec_record(c->env.x, run->id), r, detail, p.progress_text,
                        sizeof(p.progress_text));
    snprintf(c->progress_last, sizeof(c->progress_last), "%s", p.progress_text);
    if (r == SW_RESULT_OK && changes_state) {
        p.stable = true;
        p.state = run->to;
        p.stable_at = now_s(c);
    }
    c->settle_until_ms = time_mono_ms() + SW_CM_SETTLE_MS;
    queue(c, &p);
}

void sw_cm_last_run(struct sw_cm *c, const struct sw_run_start *run, enum sw_result r,
                    const char *detail, double finished_at, bool changes_state)
{
    if (!c) return;
    struct sw_cm_patch p = {.progress = true};
    sw_cm_finished_text(run, NULL, r, detail, p.progress_text, sizeof(p.progress_text));
    if (r == SW_RESULT_OK && changes_state) {
        p.stable = true;
        p.state = run->to;
        p.stable_at = finished_at;
    }
    c->last_report = p;
    c->last_run = true;
    c->last_run_ok = r == SW_RESULT_OK;
}

bool sw_cm_settling(const struct sw_cm *c)
{
    if (!c || time_mono_ms() >= c->settle_until_ms) return false;
    const struct sw_cm_patch *p = &c->pending;
    return c->patch_req || p->answer || p->progress || p->stable;
}

void sw_cm_metrics(const struct sw_cm *c, struct metric_set *m)
{
    if (!c) return;
    mset_addv(m,
              mset_family(m, "drwatch_switchover_configmap_watch_up", METRIC_GAUGE,
                          "1 while drwatch watches the switchover-state ConfigMap (a request is "
                          "seen at once), 0 while it falls back to reading it every second."),
              c->conn == CONN_WATCHING && c->watch_req, (const char *)NULL);
    struct metric_family *f = mset_family(
        m, "drwatch_switchover_configmap_errors_total", METRIC_COUNTER,
        "Failed calls on the switchover-state ConfigMap, by call (list, watch, get, patch) and "
        "reason (a transport reason, http_<code>, gone: a watch's version was too old, "
        "bad_event, bad_body).");
    for (size_t i = 0; i < c->nerrors; i++)
        mset_addv(m, f, (double)c->errors[i].n, "call", call_names[c->errors[i].call], "reason",
                  c->errors[i].reason, (const char *)NULL);
    for (int i = 0; i < CALL_COUNT; i++)
        if (c->other[i])
            mset_addv(m, f, (double)c->other[i], "call", call_names[i], "reason", "other",
                      (const char *)NULL);
}
