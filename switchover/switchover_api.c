/* switchover_api.c: the switchover part's HTTP API, every route on the loop thread
 * (HTTP_ON_LOOP: the part is the loop's):
 *
 *   POST /api/v1/transition   {"to", "reason", "dry_run", "force"}; bearer token (--web.token-file)
 *                             202 {"status":"accepted","plan":"<id>"}, or 202
 *                             {"status":"awaiting_peer","plan":"<id>"} when the peer must
 *                             confirm first (the plan starts under that id once it does), 200
 *                             for a dry run (with the plan) or nothing to do, 409/422
 *                             {"status":"refused","reason"}
 *   GET  /api/v1/state        this site's state, the run going on, a request awaiting the
 *                             peer, automation
 *   GET  /api/v1/evidence     each check of the automatic failover's evidence, with its value
 *   GET  /api/v1/plans/<id>   what a run did, step by step; a request that awaited the peer:
 *                             awaiting_peer, or refused with the reason (no, timeout,
 *                             unreachable)
 *
 * A refusal is never silence: every answer says why. Without a switchover section every route
 * answers 404 saying so. */
#include "switchover_api.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "caps.h"
#include "http_server.h"
#include "switchover.h"

#define TRANSITION_MAX_BODY (4 * 1024)

static struct switchover *part(void *ctx, struct http_reply *rep)
{
    struct switchover *sw = *(struct switchover *const *)ctx;
    if (!sw) {
        rep->status = 404;
        (void)buf_puts(&rep->body, "switchover is not configured (no switchover section)\n");
    }
    return sw;
}

/* Answers o (taken) as JSON. */
static void reply_json(struct http_reply *rep, unsigned status, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    rep->status = text ? status : 500;
    rep->content_type = text ? "application/json" : NULL;
    (void)buf_puts(&rep->body, text ? text : "cannot encode the answer\n");
    (void)buf_putc(&rep->body, '\n');
    free(text);
}

static void refuse(struct http_reply *rep, unsigned status, const char *reason)
{
    reply_json(rep, status, json_pack("{s:s, s:s}", "status", "refused", "reason", reason));
}

/* Reads the request body into r; false (answered 422) when it is not what the API takes. */
static bool read_request(const struct http_request *req, struct sw_request *r,
                         struct http_reply *rep)
{
    json_error_t je;
    json_t *o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    const char *to = json_string_value(json_object_get(o, "to"));
    const char *reason = json_string_value(json_object_get(o, "reason"));
    json_t *dry = json_object_get(o, "dry_run"), *force = json_object_get(o, "force");
    bool good = json_is_object(o) && to && strlen(to) < sizeof(r->to) &&
                (!dry || json_is_boolean(dry)) && (!force || json_is_boolean(force)) &&
                (!json_object_get(o, "reason") || reason);
    if (good) {
        snprintf(r->to, sizeof(r->to), "%s", to);
        snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
        r->dry_run = json_is_true(dry);
        r->force = json_is_true(force);
        r->source = SW_SOURCE_API;
    }
    json_decref(o);
    if (!good)
        refuse(rep, 422,
               "the body must be JSON: {\"to\": \"<state>\", \"reason\": \"...\", \"dry_run\": "
               "false, \"force\": false}");
    return good;
}

static void route_transition(void *ctx, const struct http_request *req, struct http_reply *rep)
{
    struct switchover *sw = part(ctx, rep);
    struct sw_request r = {0};
    if (!sw || !read_request(req, &r, rep)) return;
    struct sw_reply out = {0};
    buf_init(&out.plan, CAP_HTTP_REPLY);
    int rc = switchover_request(sw, &r, &out);
    json_t *o;
    if (rc < 0) {
        o = json_pack("{s:s, s:s}", "status", "refused", "reason", out.reason);
    } else if (r.dry_run && out.plan.len) {
        json_t *plan = json_loadb(out.plan.data, out.plan.len, 0, NULL);
        o = json_pack("{s:s, s:s, s:o*}", "status", "dry_run", "reason", out.reason, "plan", plan);
    } else {
        const struct sw_awaited *aw = out.run_id[0] ? switchover_awaited(sw, out.run_id) : NULL;
        const char *status = aw && aw->status == SW_AWAIT_PENDING ? "awaiting_peer"
                             : out.status == 202                  ? "accepted"
                                                                  : "nothing";
        o = json_pack("{s:s, s:s, s:s}", "status", status, "plan", out.run_id, "reason",
                      out.reason);
    }
    buf_free(&out.plan);
    reply_json(rep, out.status, o);
}

static json_t *run_json(const struct sw_run_start *s)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:f}", "id", s->id, "from", sw_state_name(s->from),
                     "to", sw_state_name(s->to), "trigger", sw_source_name(s->source), "reason",
                     s->reason, "started", s->at);
}

static const char *const await_names[] = {"awaiting_peer", "started", "refused"};

static json_t *awaited_json(const struct sw_awaited *a)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:s, s:s}", "id", a->id, "from",
                     sw_state_name(a->from), "to", sw_state_name(a->to), "trigger",
                     sw_source_name(a->source), "reason", a->reason, "started", a->since,
                     "deadline", a->deadline, "status", await_names[a->status], "detail",
                     a->detail);
}

static void route_state(void *ctx, const struct http_request *req, struct http_reply *rep)
{
    (void)req;
    struct switchover *sw = part(ctx, rep);
    if (!sw) return;
    size_t step = 0, depth = 0;
    const struct sw_run_start *run = switchover_current(sw, &step, &depth);
    json_t *o = json_pack("{s:s, s:s, s:b, s:b}", "site", switchover_site_name(sw), "state",
                          sw_state_name(switchover_state(sw)), "automation",
                          switchover_automation(sw), "transition_in_progress", run != NULL);
    if (o && run) {
        json_t *r = run_json(run);
        json_object_set_new(r, "step", json_integer((json_int_t)step + 1));
        json_object_set_new(r, "fallback_depth", json_integer((json_int_t)depth));
        json_object_set_new(o, "run", r);
    }
    const struct sw_awaited *aw = switchover_awaited(sw, NULL);
    if (o && aw) json_object_set_new(o, "awaiting_peer", awaited_json(aw));
    reply_json(rep, 200, o);
}

static void route_evidence(void *ctx, const struct http_request *req, struct http_reply *rep)
{
    (void)req;
    struct switchover *sw = part(ctx, rep);
    if (!sw) return;
    const struct sw_evidence *e = switchover_evidence(sw);
    json_t *checks = json_array();
    for (int c = 0; c < SW_CHECK_COUNT; c++)
        json_array_append_new(checks,
                              json_pack("{s:s, s:b, s:s}", "check", sw_check_name((enum sw_check)c),
                                        "ok", e->check[c].ok, "saw", e->check[c].detail));
    reply_json(rep, 200,
               json_pack("{s:b, s:b, s:o}", "complete", e->ok, "automation",
                         switchover_automation(sw), "checks", checks));
}

/* {"requested_at": Unix s, "milestones": {name: seconds since the request}, "rpo_bytes",
 * "rpo_seconds" (null unknown or no promotion here), "closed"}. */
static json_t *timeline_json(const struct sw_timeline *t)
{
    json_t *ms = json_object();
    for (int m = SW_MS_PLAN_STARTED; m < SW_MS_COUNT; m++) {
        double v = sw_timeline_since_request(t, (enum sw_milestone)m);
        if (v >= 0) json_object_set_new(ms, sw_milestone_name((enum sw_milestone)m), json_real(v));
    }
    return json_pack(
        "{s:f, s:o, s:o, s:o, s:b}", "requested_at", t->at[SW_MS_REQUESTED], "milestones", ms,
        "rpo_bytes", t->rpo_bytes >= 0 ? json_real(t->rpo_bytes) : json_null(), "rpo_seconds",
        t->rpo_seconds >= 0 ? json_real(t->rpo_seconds) : json_null(), "closed", t->closed);
}

/* A run older than the last one: only its timeline is kept (the journal holds its steps). */
static void reply_timeline_only(struct http_reply *rep, const struct sw_timeline *t)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "id", t->id, "from",
                          sw_state_name(t->from), "to", sw_state_name(t->to), "trigger",
                          sw_source_name(t->source), "status",
                          t->ended ? sw_result_name((enum sw_result)t->result) : "running", "steps",
                          json_array(), "timeline", timeline_json(t));
    reply_json(rep, 200, o);
}

static void route_plan(void *ctx, const struct http_request *req, struct http_reply *rep)
{
    struct switchover *sw = part(ctx, rep);
    if (!sw) return;
    const char *id = req->path + strlen(SWITCHOVER_API_PLANS);
    const struct sw_run_record *rec = switchover_record(sw, id);
    const struct sw_awaited *aw = rec ? NULL : switchover_awaited(sw, id);
    if (aw) {
        json_t *o = awaited_json(aw);
        json_object_set_new(o, "steps", json_array());
        reply_json(rep, 200, o);
        return;
    }
    const struct sw_timeline *tl = switchover_timeline(sw, id);
    if (!rec && tl) return reply_timeline_only(rep, tl);
    if (!rec) {
        refuse(rep, 404,
               "no such run: it is neither the one going on nor the last one "
               "that finished since drwatch started (the journal holds the rest)");
        return;
    }
    json_t *steps = json_array();
    for (size_t i = 0; i < rec->nsteps; i++) {
        const struct sw_step_record *s = &rec->steps[i];
        const char *st = s->ended ? sw_result_name(s->result) : s->begun ? "running" : "pending";
        json_array_append_new(steps, json_pack("{s:s, s:s, s:s, s:I, s:f, s:s}", "action",
                                               s->action, "name", s->name, "status", st,
                                               "fallback_depth", (json_int_t)s->depth, "seconds",
                                               s->seconds, "detail", s->detail));
    }
    json_t *o = run_json(&rec->start);
    json_object_set_new(o, "status",
                        json_string(rec->finished ? sw_result_name(rec->result) : "running"));
    json_object_set_new(o, "detail", json_string(rec->detail));
    json_object_set_new(o, "resumed", json_boolean(rec->resumed));
    json_object_set_new(o, "steps", steps);
    if (tl) json_object_set_new(o, "timeline", timeline_json(tl));
    reply_json(rep, 200, o);
}

void switchover_api_add_routes(struct switchover *const *slot, const struct http_token *token,
                               struct http_server *s)
{
    http_route_add(s, &(struct http_route){.path = "/api/v1/transition",
                                           .methods = "POST",
                                           .stat = HANDLER_API,
                                           .flags = HTTP_ON_LOOP,
                                           .max_body = TRANSITION_MAX_BODY,
                                           .token = token,
                                           .fn = route_transition,
                                           .ctx = (void *)slot});
    static const struct {
        const char *path;
        http_route_fn fn;
    } reads[] = {{"/api/v1/state", route_state},
                 {"/api/v1/evidence", route_evidence},
                 {SWITCHOVER_API_PLANS, route_plan}};
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
        http_route_add(s, &(struct http_route){.path = reads[i].path,
                                               .methods = "GET,HEAD",
                                               .stat = HANDLER_API,
                                               .flags = HTTP_ON_LOOP,
                                               .fn = reads[i].fn,
                                               .ctx = (void *)slot});
}
