/* switchover.c: requests, state, fencing and evidence around the executor (see switchover.h).
 *
 * Uses: transition.c (judging), plan.c (this site's plan), executor.c (running it), observe.c
 * (the world), guards.c (fencing), evidence.c (the automatic failover), peer_link.c (the
 * peer's confirmation), state_configmap.c (the ConfigMap's requests, answers and progress).
 * Nothing here does I/O of its own: the actuators do, through the executor, the peer link
 * sends the confirm message, and the ConfigMap's unit writes the ConfigMap. */
#include "switchover.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actuators.h"
#include "caps.h"
#include "clock.h"
#include "log.h"
#include "maint_watch.h"
#include "observe.h"
#include "peer_link.h"
#include "selector.h"
#include "state_configmap.h"
#include "strutil.h"
#include "xalloc.h"

#define FENCE_RETRY_S 60.0 /* after a fence that failed, before the next attempt */

/* The `to` label of drwatch_transition_requests_total: the four targets, force, anything else */
enum { TO_FORCE = SW_STATE_COUNT, TO_OTHER, TO_COUNT };
enum { REQ_ACCEPTED, REQ_NOTHING, REQ_REFUSED, REQ_COUNT };
static const char *const req_results[REQ_COUNT] = {"accepted", "nothing", "refused"};

struct switchover {
    struct switchover_config cfg;
    struct switchover_env env;
    enum sw_site site;
    struct sw_plans *plans;
    struct sw_executor *x;
    struct sw_world world;
    struct sw_evidence evidence;
    double evidence_since; /* when the evidence became complete (0: it is not): the start of
                              an automatic failover's recovery clock */
    bool label_known;      /* this site's ConfigMap label, as observed */
    enum sw_state label;
    bool run_known; /* this site's last finished plan */
    enum sw_state run_state;
    bool run_moved; /* it completed: the pair moved from run_from to run_state */
    enum sw_state run_from;
    double fence_failed_at;
    uint64_t fences;
    uint64_t requests[TO_COUNT][SW_SOURCE_COUNT][REQ_COUNT];
    struct sw_plan *fence_plan;
    bool own_act_env; /* act_env was made here from the config */
    struct act_env act_env;
    struct sw_cm *cm; /* the state ConfigMap (state_configmap.h), with a Kubernetes API */
    struct sw_maint_watch *maint; /* maintenance as observed (maint_watch.h), likewise */
    bool resume_pending;          /* a run a crash cut short: it resumes at the first observation */
    struct sw_peer_link *link;
    struct awaiting {              /* the request awaiting the peer's confirmation, or the last */
        struct sw_awaited rec;     /* what the API shows */
        struct sw_request req;     /* as asked (cleaned) */
        struct sw_decision d;      /* as judged when asked */
        struct sw_peer_call *call; /* non-NULL while it awaits */
    } await;
};

/* ---- config ---- */

static const struct cfg_key switchover_keys[] = {
    {.name = "data_dir",
     .type = CFG_STRING,
     .required = true,
     .offset = offsetof(struct switchover_config, data_dir),
     .expect = "a directory for the switchover journal (kept across restarts)"},
    {.name = "plans_file",
     .type = CFG_STRING,
     .offset = offsetof(struct switchover_config, plans_file),
     .expect = "a plan file (default: the built-in plans; see drwatch plan)"},
    {.name = "automation",
     .type = CFG_BOOL,
     .def = "false",
     .offset = offsetof(struct switchover_config, automation),
     .expect = "true to let the evidence start active-passive -> golddr-primary"},
    {.name = "cooldown",
     .type = CFG_DURATION,
     .def = "30m",
     .offset = offsetof(struct switchover_config, cooldown_ms),
     .expect = "no automatic transition this soon after another, 0s to 24h",
     .min = 0,
     .max = 86400000},
    {.name = "samples",
     .type = CFG_INT,
     .def = "3",
     .offset = offsetof(struct switchover_config, samples),
     .expect = "consecutive GSLB samples that count as evidence, 2 to 100",
     .min = 2,
     .max = 100},
    {.name = "hold",
     .type = CFG_DURATION,
     .def = "15s",
     .offset = offsetof(struct switchover_config, hold_ms),
     .expect = "how long the GSLB evidence must hold, 0s to 1h",
     .min = 0,
     .max = 3600000},
    {.name = "rpo",
     .type = CFG_DURATION,
     .def = "30s",
     .offset = offsetof(struct switchover_config, rpo_ms),
     .expect = "the replication lag bound for an automatic failover and a rebuild, 1s to 1h",
     .min = 1000,
     .max = 3600000},
    {.name = "fresh",
     .type = CFG_DURATION,
     .def = "15s",
     .offset = offsetof(struct switchover_config, fresh_ms),
     .expect = "an observation older than this is unknown, 1s to 10m",
     .min = 1000,
     .max = 600000},
    {.name = "peer_timeout",
     .type = CFG_DURATION,
     .def = "30s",
     .offset = offsetof(struct switchover_config, peer_timeout_ms),
     .expect = "how long the peer's answer to a message may take, 1s to 5m",
     .min = 1000,
     .max = 300000},
    ACT_CONFIG_KEYS(struct switchover_config, act),
    CFG_END,
};

const struct cfg_module switchover_module = {"switchover", switchover_keys,
                                             sizeof(struct switchover_config), false};

static double now_s(const struct switchover *sw)
{
    return sw->env.clock ? sw->env.clock(sw->env.clock_arg) : time_wall_s();
}

/* ---- state ---- */

enum sw_state switchover_state(const struct switchover *sw)
{
    if (sw->run_known) return sw->run_state;
    if (sw->label_known) return sw->label;
    return SW_INDEPENDENT;
}

bool switchover_busy(const struct switchover *sw)
{
    return sw_exec_busy(sw->x) || sw->resume_pending || sw->await.call || sw_cm_settling(sw->cm);
}

bool switchover_pending(const struct switchover *sw)
{
    return sw_exec_busy(sw->x) || sw->await.call;
}

const struct sw_awaited *switchover_awaited(const struct switchover *sw, const char *id)
{
    const struct sw_awaited *a = &sw->await.rec;
    if (!a->id[0]) return NULL;
    if (!id) return sw->await.call ? a : NULL;
    return strcmp(a->id, id) == 0 ? a : NULL;
}

struct sw_peer_link *switchover_peer_link(const struct switchover *sw)
{
    return sw->link;
}

const struct sw_world *switchover_world(const struct switchover *sw)
{
    return &sw->world;
}

const char *switchover_site_name(const struct switchover *sw)
{
    return sw_site_name(sw->site);
}

bool switchover_automation(const struct switchover *sw)
{
    return sw->cfg.automation;
}

const struct sw_run_start *switchover_current(const struct switchover *sw, size_t *step,
                                              size_t *depth)
{
    return sw_exec_current(sw->x, step, depth);
}

const struct sw_run_record *switchover_record(const struct switchover *sw, const char *id)
{
    return sw_exec_record(sw->x, id);
}

const struct sw_run_record *switchover_last_run(const struct switchover *sw)
{
    return sw_exec_last(sw->x);
}

const struct sw_timelines *switchover_timelines(const struct switchover *sw)
{
    return sw_exec_timelines(sw->x);
}

const struct sw_timeline *switchover_timeline(const struct switchover *sw, const char *id)
{
    return sw_exec_timeline(sw->x, id);
}

const struct sw_evidence *switchover_evidence(const struct switchover *sw)
{
    return &sw->evidence;
}

static void on_finished(void *arg, const struct sw_run_start *run, enum sw_result r,
                        const char *detail)
{
    struct switchover *sw = arg;
    bool fence = strncmp(run->id, "fence-", 6) == 0;
    sw_cm_finished(sw->cm, run, r, detail, !fence);
    if (fence) {
        if (r != SW_RESULT_OK) sw->fence_failed_at = now_s(sw);
        return; /* a fence changes no state */
    }
    sw->run_known = true;
    sw->run_state = r == SW_RESULT_OK ? run->to : run->from;
    sw->run_moved = r == SW_RESULT_OK && run->from != run->to;
    sw->run_from = run->from;
}

/* The state the journal's last finished run left. */
static void state_from_journal(struct switchover *sw)
{
    const struct sw_replayed *rp = sw_exec_replayed(sw->x);
    if (!rp->have_run || !rp->finished || strncmp(rp->start.id, "fence-", 6) == 0) return;
    sw->run_known = true;
    sw->run_state = rp->result == SW_RESULT_OK ? rp->start.to : rp->start.from;
    sw->run_moved = rp->result == SW_RESULT_OK && rp->start.from != rp->start.to;
    sw->run_from = rp->start.from;
}

/* ---- observing ---- */

struct label_read {
    struct switchover *sw;
    struct buf v;
};

static void on_state_info(void *arg, const struct metric_family *f, const struct metric_sample *m)
{
    (void)f;
    struct label_read *lr = arg;
    enum sw_site s;
    enum sw_state st;
    if (!labels_get(m->labels, m->labels_len, "site", &lr->v) || !lr->v.data ||
        sw_site_parse(lr->v.data, &s) < 0 || s != lr->sw->site)
        return;
    bool have = labels_get(m->labels, m->labels_len, "last_stable_state", &lr->v);
    if (sw_state_parse(have && lr->v.data ? lr->v.data : "", &st) == 0) {
        lr->sw->label = st;
        lr->sw->label_known = true;
    }
}

/* The pair's state: what the peer says it is when it is reachable (it may have moved while
 * this site was away), else this site's own. A peer that still publishes the state this
 * site's last completed run came from is behind that run, not ahead of it: its own part of
 * the transition (or its label's write and our next read of it) has not ended yet. Taking
 * its state then made a Gold just promoted by gold-standby -> active-passive fence itself
 * while GoldDR finished its part: no writable database on either site. */
static enum sw_state pair_state(const struct switchover *sw)
{
    if (!sw->world.peer_reachable || !sw->world.peer_state_known) return switchover_state(sw);
    if (sw->run_known && sw->run_moved && sw->world.peer_state == sw->run_from)
        return sw->run_state;
    return sw->world.peer_state;
}

static void fence(struct switchover *sw, const char *why)
{
    char err[256];
    struct sw_run_start s = {.from = switchover_state(sw),
                             .to = switchover_state(sw),
                             .source = SW_SOURCE_AUTOMATION,
                             .at = now_s(sw)};
    snprintf(s.id, sizeof(s.id), "fence-%.0f", s.at);
    snprintf(s.reason, sizeof(s.reason), "fence: %.240s", why);
    log_error("switchover", "fencing %s: %s", sw_site_name(sw->site), why);
    sw->fences++;
    if (sw_exec_start(sw->x, sw->fence_plan, &s, err, sizeof(err)) < 0) {
        log_error("switchover", "the fence could not start: %s", err);
        sw->fence_failed_at = s.at;
    }
}

static void evaluate_evidence(struct switchover *sw)
{
    enum sw_state dr = SW_INDEPENDENT;
    bool dr_known = false;
    if (sw->site == SW_GOLDDR) {
        dr = switchover_state(sw);
        dr_known = true;
    } else if (sw->world.peer_reachable && sw->world.peer_state_known) {
        dr = sw->world.peer_state;
        dr_known = true;
    }
    struct sw_evidence_input in = {.w = &sw->world,
                                   .golddr_state = dr,
                                   .golddr_state_known = dr_known,
                                   .last_transition_end = sw_exec_last_finished(sw->x)};
    struct sw_evidence_policy p = {.samples = (uint64_t)sw->cfg.samples,
                                   .hold_s = (double)sw->cfg.hold_ms / 1000.0,
                                   .rpo_s = (double)sw->cfg.rpo_ms / 1000.0,
                                   .fresh_s = (double)sw->cfg.fresh_ms / 1000.0,
                                   .cooldown_s = (double)sw->cfg.cooldown_ms / 1000.0};
    sw_evidence_eval(&in, &p, &sw->evidence);
    if (!sw->evidence.ok)
        sw->evidence_since = 0;
    else if (sw->evidence_since <= 0)
        sw->evidence_since = sw->world.now;
}

static void observe_world(void *arg, struct sw_world *out)
{
    *out = ((struct switchover *)arg)->world;
}

/* The run the journal left unfinished goes on, now that the world is observed: the check of
 * its step in doubt must see the world (a rebuild's check looks for a healthy standby), not the
 * empty one of before the first observation, which would make a finished destructive step look
 * unfinished and stop the run. */
static void resume(struct switchover *sw)
{
    char err[256];
    sw->resume_pending = false;
    if (sw_exec_resume(sw->x, sw->plans, err, sizeof(err)) < 0) log_error("switchover", "%s", err);
}

/* What switchover_metrics shows of an observation: the state, the evidence, a run going on. */
struct shown {
    enum sw_state state;
    bool busy, complete;
    bool checks[SW_CHECK_COUNT];
};

static struct shown shown_now(const struct switchover *sw)
{
    struct shown s = {
        .state = switchover_state(sw), .busy = sw_exec_busy(sw->x), .complete = sw->evidence.ok};
    for (int c = 0; c < SW_CHECK_COUNT; c++) s.checks[c] = sw->evidence.check[c].ok;
    return s;
}

static bool shown_same(const struct shown *a, const struct shown *b)
{
    if (a->state != b->state || a->busy != b->busy || a->complete != b->complete) return false;
    for (int c = 0; c < SW_CHECK_COUNT; c++)
        if (a->checks[c] != b->checks[c]) return false;
    return true;
}

bool switchover_observe(struct switchover *sw, const struct snapshot *snap)
{
    struct shown before = shown_now(sw);
    sw_observe(snap, sw->site, now_s(sw), &sw->world);
    if (snap) {
        struct label_read lr = {.sw = sw};
        buf_init(&lr.v, 4096);
        struct selector sel = {.name = "drwatch_configmap_state_info"};
        snapshot_select(snap, &sel, on_state_info, &lr);
        buf_free(&lr.v);
    }
    evaluate_evidence(sw);
    if (snap) sw_exec_watch(sw->x, &sw->world);
    if (sw->resume_pending && snap) resume(sw);
    char why[256];
    if (!sw_exec_busy(sw->x) && now_s(sw) - sw->fence_failed_at >= FENCE_RETRY_S &&
        sw_guard_fence(&sw->world, pair_state(sw), why, sizeof(why)))
        fence(sw, why);
    struct shown after = shown_now(sw);
    return !shown_same(&before, &after);
}

/* ---- requests ---- */

static int to_index(const struct sw_request *r)
{
    enum sw_state s;
    if (strcmp(r->to, "active-passive-force") == 0) return TO_FORCE;
    if (sw_state_parse(r->to, &s) == 0 && r->to[0]) return (int)s;
    return TO_OTHER;
}

static const char *to_label(int i)
{
    return i == TO_FORCE   ? "active-passive-force"
           : i == TO_OTHER ? "other"
                           : sw_state_name((enum sw_state)i);
}

/* The first evidence check that failed, as "check: what it saw". */
static void evidence_gap(const struct sw_evidence *e, char *out, size_t outlen)
{
    for (int c = 0; c < SW_CHECK_COUNT; c++) {
        if (e->check[c].ok) continue;
        snprintf(out, outlen, "%s: %s", sw_check_name((enum sw_check)c), e->check[c].detail);
        return;
    }
    snprintf(out, outlen, "complete");
}

static int refuse(struct switchover *sw, const struct sw_request *r, struct sw_reply *out,
                  unsigned status, const char *reason)
{
    char err[256];
    out->status = status;
    snprintf(out->reason, sizeof(out->reason), "%s", reason);
    sw->requests[to_index(r)][r->source][REQ_REFUSED]++;
    log_warn("switchover", "refused %s -> %.32s (%s): %s", sw_state_name(switchover_state(sw)),
             r->to, sw_source_name(r->source), reason);
    if (sw_exec_note(sw->x, "refused", r->to, r->source, reason, err, sizeof(err)) < 0)
        log_error("switchover", "%s", err);
    return -1;
}

static void new_run_id(const struct switchover *sw, char *out, size_t outlen)
{
    unsigned rnd = (unsigned)(time_mono_ms() * 2654435761u);
    snprintf(out, outlen, "%s-%.0f-%04x", sw_site_name(sw->site), now_s(sw), rnd & 0xffff);
}

/* Judges r against this site as it is now. */
static void judge(struct switchover *sw, const struct sw_request *r, struct sw_decision *d)
{
    struct sw_view v = {.site = sw->site,
                        .state = switchover_state(sw),
                        .plan_running = sw_exec_busy(sw->x) || sw->resume_pending,
                        .automation = sw->cfg.automation};
    double last = sw_exec_last_finished(sw->x);
    v.in_cooldown = last > 0 && now_s(sw) - last < (double)sw->cfg.cooldown_ms / 1000.0;
    sw_judge(&v, r, d);
}

/* Starts pl for the accepted request r under id (NULL: a new one). */
static int start_run(struct switchover *sw, const struct sw_request *r, const struct sw_decision *d,
                     const struct sw_plan *pl, const char *id, struct sw_reply *out)
{
    struct sw_run_start s = {.from = d->from, .to = d->to, .source = r->source, .at = now_s(sw)};
    /* The recovery clock starts at the request (one that awaited the peer's yes, when it came),
     * or for the automation at the evidence it acted on. */
    s.requested_at = id && sw->await.rec.since > 0 ? sw->await.rec.since : s.at;
    if (r->source == SW_SOURCE_AUTOMATION && sw->evidence_since > 0)
        s.requested_at = sw->evidence_since;
    if (id)
        snprintf(s.id, sizeof(s.id), "%s", id);
    else
        new_run_id(sw, s.id, sizeof(s.id));
    str_utf8_copy(s.reason, sizeof(s.reason), r->reason);
    char err[256];
    int rc = sw_exec_start(sw->x, pl, &s, err, sizeof(err));
    if (rc < 0) return refuse(sw, r, out, rc == -EBUSY ? 409 : 422, err);
    sw->requests[to_index(r)][r->source][REQ_ACCEPTED]++;
    out->status = 202;
    snprintf(out->run_id, sizeof(out->run_id), "%s", s.id);
    snprintf(out->reason, sizeof(out->reason), "%s", d->reason);
    return 0;
}

/* A pending request from the ConfigMap is decided: its answer there says how. */
static void tell_configmap(struct switchover *sw, const struct awaiting *a)
{
    if (a->req.source != SW_SOURCE_CONFIGMAP) return;
    struct sw_cm_answer ans = {.verdict = a->rec.status == SW_AWAIT_STARTED ? SW_CM_ACCEPTED
                                                                            : SW_CM_REFUSED};
    snprintf(ans.run_id, sizeof(ans.run_id), "%s", a->rec.id);
    snprintf(ans.reason, sizeof(ans.reason), "%s", a->rec.detail);
    sw_cm_answer_later(sw->cm, &ans);
}

/* The peer's answer o to the awaiting request's confirm message: its plan starts, or it is
 * refused. */
static void decide_confirmed(struct switchover *sw, const struct sw_peer_outcome *o)
{
    struct awaiting *a = &sw->await;
    struct sw_reply out = {0};
    char text[300], why[300];
    a->call = NULL;
    a->rec.status = SW_AWAIT_REFUSED;
    if (o->answer != SW_PEER_YES || strcmp(o->id, a->rec.id) != 0) {
        snprintf(text, sizeof(text), "%s: %.250s",
                 o->answer == SW_PEER_NO            ? "the peer answered no"
                 : o->answer == SW_PEER_TIMEOUT     ? "the peer did not answer in time"
                 : o->answer == SW_PEER_UNREACHABLE ? "the peer is unreachable"
                 : o->answer == SW_PEER_YES         ? "the peer's yes names another request"
                                                    : "the peer's answer is not usable",
                 o->reason);
        str_utf8_clean(why, sizeof(why), text); /* the cut may have split a character */
        snprintf(a->rec.detail, sizeof(a->rec.detail), "%s", why);
        (void)refuse(sw, &a->req, &out, 409, why);
        return;
    }
    struct sw_decision d;
    judge(sw, &a->req, &d); /* this site may have changed while the peer was asked */
    const struct sw_plan *pl =
        d.verdict == SW_ACCEPT ? sw_plans_get(sw->plans, sw->site, d.from, d.to, d.force) : NULL;
    if (!pl || d.from != a->d.from || d.to != a->d.to) {
        snprintf(why, sizeof(why), "the peer confirmed, but this site changed meanwhile: %.200s",
                 d.verdict == SW_REFUSE ? d.reason : "another transition now");
        snprintf(a->rec.detail, sizeof(a->rec.detail), "%s", why);
        (void)refuse(sw, &a->req, &out, 409, why);
        return;
    }
    log_info("switchover", "request %s: the peer confirmed (%s): starting %s -> %s", a->rec.id,
             o->reason, sw_state_name(d.from), sw_state_name(d.to));
    if (start_run(sw, &a->req, &d, pl, a->rec.id, &out) == 0) a->rec.status = SW_AWAIT_STARTED;
    snprintf(text, sizeof(text), "%s%.250s",
             a->rec.status == SW_AWAIT_STARTED ? "the peer confirmed: " : "",
             a->rec.status == SW_AWAIT_STARTED ? o->reason : out.reason);
    str_utf8_clean(a->rec.detail, sizeof(a->rec.detail), text);
}

static void on_confirmed(void *arg, const struct sw_peer_outcome *o)
{
    struct switchover *sw = arg;
    decide_confirmed(sw, o);
    tell_configmap(sw, &sw->await);
}

/* Asks the peer to confirm d (which needs it in one of d->peer_may_be, idle) and answers 202
 * with the request's id; the plan starts in on_confirmed. */
static int await_peer(struct switchover *sw, const struct sw_request *r,
                      const struct sw_decision *d, struct sw_reply *out)
{
    char want[128], err[256], why[400];
    sw_states_text(d->peer_may_be, want, sizeof(want));
    struct peer_msg m = {.kind = PEER_MSG_CONFIRM};
    new_run_id(sw, m.id, sizeof(m.id));
    snprintf(m.sender_state, sizeof(m.sender_state), "%s", sw_state_name(d->from));
    snprintf(m.to, sizeof(m.to), "%s", r->to);
    snprintf(m.reason, sizeof(m.reason), "%s", r->reason);
    for (int st = 0; st < SW_STATE_COUNT && m.nrequired < PEER_MSG_MAX_STATES; st++)
        if (d->peer_may_be & (1u << st))
            snprintf(m.required[m.nrequired++], sizeof(m.required[0]), "%s",
                     sw_state_name((enum sw_state)st));
    struct sw_peer_call *call =
        sw_peer_link_configured(sw->link)
            ? sw_peer_link_send(sw->link, &m, 0, on_confirmed, sw, err, sizeof(err))
            : NULL;
    if (!call) {
        snprintf(why, sizeof(why), "the peer must confirm it is %.100s, and it %.200s", want,
                 sw_peer_link_configured(sw->link) ? err : "is not configured (no peer target)");
        return refuse(sw, r, out, 409, why);
    }
    struct awaiting *a = &sw->await;
    double timeout_s = (double)sw_peer_link_timeout_ms(sw->link) / 1000.0;
    a->call = call;
    a->req = *r;
    a->d = *d;
    a->rec = (struct sw_awaited){.from = d->from,
                                 .to = d->to,
                                 .force = d->force,
                                 .source = r->source,
                                 .since = now_s(sw),
                                 .deadline = now_s(sw) + timeout_s,
                                 .status = SW_AWAIT_PENDING};
    snprintf(a->rec.id, sizeof(a->rec.id), "%s", m.id);
    snprintf(a->rec.reason, sizeof(a->rec.reason), "%s", r->reason);
    snprintf(a->rec.detail, sizeof(a->rec.detail),
             "awaiting the peer's confirmation that it is %s (within %.3gs)", want, timeout_s);
    if (sw_exec_note(sw->x, "awaiting_peer", r->to, r->source, a->rec.detail, err, sizeof(err)) < 0)
        log_error("switchover", "%s", err);
    log_info("switchover", "request %s (%s -> %s, %s): %s", m.id, sw_state_name(d->from),
             sw_state_name(d->to), sw_source_name(r->source), a->rec.detail);
    out->status = 202;
    snprintf(out->run_id, sizeof(out->run_id), "%s", m.id);
    snprintf(out->reason, sizeof(out->reason), "%s", a->rec.detail);
    return 0;
}

/* A dry run's answer to a transition that needs the peer: what would be asked. */
static void dry_run_peer_text(const struct switchover *sw, const struct sw_decision *d, char *out,
                              size_t outlen)
{
    char want[128];
    sw_states_text(d->peer_may_be, want, sizeof(want));
    bool known = sw->world.peer_reachable && sw->world.peer_state_known;
    snprintf(out, outlen, " (the peer would be asked to confirm it is %s; it shows %s)", want,
             known ? sw_state_name(sw->world.peer_state) : "no state here now");
}

/* A person's planned failover asked of GoldDR while Gold is up: GoldDR's plan promotes only
 * once Gold is read-only and withdrawn, and only Gold's plan makes it so (then tells GoldDR to
 * follow). Asked here it would wait at the promotion guard for the step's whole deadline and
 * fail with maintenance on, Gold never told: so it is refused at once, saying where to ask.
 * The automatic failover (Gold down) and a break-glass force are not affected. */
static bool gold_goes_first(const struct switchover *sw, const struct sw_request *r,
                            const struct sw_decision *d, char *why, size_t whylen)
{
    const struct sw_world *w = &sw->world;
    if (sw->site != SW_GOLDDR || d->force || d->from != SW_ACTIVE_PASSIVE ||
        d->to != SW_GOLDDR_PRIMARY ||
        (r->source != SW_SOURCE_API && r->source != SW_SOURCE_CONFIGMAP))
        return false;
    if (!w->peer_reachable || !w->db[SW_GOLD].known || !w->db[SW_GOLD].leader_writable)
        return false;
    snprintf(why, whylen,
             "gold is reachable and its database writable: ask gold for golddr-primary (its "
             "plan withdraws and demotes it, then tells golddr to promote); asked here, the "
             "promotion would wait for gold to be read-only");
    return true;
}

int switchover_request(struct switchover *sw, const struct sw_request *r, struct sw_reply *out)
{
    struct sw_decision d;
    char why[300];
    struct sw_request clean = *r; /* a person's text goes into the journal's JSON */
    str_utf8_clean(clean.reason, sizeof(clean.reason), r->reason);
    str_utf8_clean(clean.to, sizeof(clean.to), r->to);
    r = &clean;
    judge(sw, r, &d);
    out->run_id[0] = '\0';
    if (d.verdict == SW_REFUSE) return refuse(sw, r, out, d.malformed ? 422 : 409, d.reason);
    if (sw->await.call) {
        snprintf(why, sizeof(why), "request %s awaits the peer's confirmation; one at a time",
                 sw->await.rec.id);
        return refuse(sw, r, out, 409, why);
    }
    if (d.verdict == SW_ACCEPT && r->source == SW_SOURCE_AUTOMATION && !sw->evidence.ok) {
        char gap[200];
        evidence_gap(&sw->evidence, gap, sizeof(gap));
        snprintf(why, sizeof(why), "the evidence is not complete: %s", gap);
        return refuse(sw, r, out, 409, why);
    }
    if (d.verdict == SW_ACCEPT && gold_goes_first(sw, r, &d, why, sizeof(why)))
        return refuse(sw, r, out, 409, why);
    if (d.verdict == SW_NOTHING) {
        out->status = 200;
        snprintf(out->reason, sizeof(out->reason), "%s", d.reason);
        sw->requests[to_index(r)][r->source][REQ_NOTHING]++;
        return 0;
    }
    const struct sw_plan *pl = sw_plans_get(sw->plans, sw->site, d.from, d.to, d.force);
    if (!pl) return refuse(sw, r, out, 422, "no plan for this transition on this site");
    if (r->dry_run) {
        char peer[200] = "";
        if (d.confirm) dry_run_peer_text(sw, &d, peer, sizeof(peer));
        out->status = 200;
        snprintf(out->reason, sizeof(out->reason), "dry run: %.80s%s", d.reason, peer);
        (void)sw_plan_print(pl, &out->plan, true);
        return 0;
    }
    if (d.confirm) return await_peer(sw, r, &d, out);
    return start_run(sw, r, &d, pl, NULL, out);
}

/* ---- the state ConfigMap (state_configmap.h) ---- */

static void cm_request(void *arg, const struct sw_request *r, struct sw_cm_answer *a)
{
    struct sw_reply reply = {.plan = BUF_INIT(CAP_HTTP_REPLY)};
    int rc = switchover_request(arg, r, &reply);
    struct switchover *sw = arg;
    bool pending = rc == 0 && sw->await.call && strcmp(sw->await.rec.id, reply.run_id) == 0;
    a->verdict = rc < 0                ? SW_CM_REFUSED
                 : pending             ? SW_CM_PENDING
                 : reply.status == 202 ? SW_CM_ACCEPTED
                                       : SW_CM_NOTHING;
    snprintf(a->run_id, sizeof(a->run_id), "%s", reply.run_id);
    snprintf(a->reason, sizeof(a->reason), "%s", reply.reason);
    buf_free(&reply.plan);
}

static void make_state_cm(struct switchover *sw)
{
    const struct act_env *e = &sw->act_env;
    if (!sw->own_act_env || !e->have_k8s || !e->ns.tools) return;
    struct sw_cm_env ce = {.loop = sw->env.loop,
                           .http = sw->env.http,
                           .k8s = &e->k8s,
                           .namespace = e->ns.tools,
                           .name = e->names.state_configmap,
                           .x = sw->x,
                           .request = cm_request,
                           .request_arg = sw,
                           .clock = sw->env.clock,
                           .clock_arg = sw->env.clock_arg};
    sw->cm = sw_cm_new(&ce);
}

static void make_maint_watch(struct switchover *sw)
{
    const struct act_env *e = &sw->act_env;
    if (!sw->own_act_env || !e->have_k8s || !e->ns.solution || !e->names.keycloak_selector) return;
    struct sw_maint_watch_env me = {.loop = sw->env.loop,
                                    .http = sw->env.http,
                                    .k8s = &e->k8s,
                                    .namespace = e->ns.solution,
                                    .selector = e->names.keycloak_selector};
    sw->maint = sw_maint_watch_new(&me);
}

const char *const *switchover_rbac(void)
{
    return sw_cm_rbac;
}

/* ---- start, stop, metrics ---- */

/* The fence: withdraw from the GSLB, then follow the other site. Built here, not read from the
 * plan file: fencing must not depend on what an operator edited. */
static struct sw_plan *make_fence_plan(enum sw_site site)
{
    struct sw_plan pl = {.site = site, .nsteps = 2};
    struct sw_step steps[2] = {{.action = sw_action_find("health_api")},
                               {.action = sw_action_find("patroni_demote")}};
    steps[0].args[0] = (struct sw_step_arg){&steps[0].action->args[0], 0};
    steps[0].nargs = 1;
    steps[1].args[0] = (struct sw_step_arg){&steps[1].action->args[0], site == SW_GOLD};
    steps[1].nargs = 1;
    for (int i = 0; i < 2; i++) {
        steps[i].timeout_ms = steps[i].action->timeout_ms;
        snprintf(steps[i].name, sizeof(steps[i].name), "fence: %s", steps[i].action->summary);
    }
    pl.steps = steps;
    return sw_plan_copy(&pl);
}

static char *resolve(const struct switchover_env *env, const char *path)
{
    if (!path || path[0] == '/' || !env->config_dir) return path ? xstrdup(path) : NULL;
    return xasprintf("%s/%s", env->config_dir, path);
}

struct switchover *switchover_new(const struct switchover_config *c,
                                  const struct switchover_env *env, char *err, size_t errlen)
{
    struct switchover *sw = xcalloc(1, sizeof(*sw));
    sw->cfg = *c;
    sw->cfg.data_dir = resolve(env, c->data_dir);
    sw->cfg.plans_file = resolve(env, c->plans_file);
    sw->env = *env;
    if (sw_site_parse(env->site, &sw->site) < 0) {
        snprintf(err, errlen, "switchover: unknown site %s", env->site);
        goto fail;
    }
    sw->plans = sw->cfg.plans_file ? sw_plans_load(sw->cfg.plans_file, err, errlen)
                                   : sw_plans_load_default(err, errlen);
    if (!sw->plans) goto fail;
    sw->fence_plan = make_fence_plan(sw->site);
    if (!env->actuators) {
        if (act_env_init(&sw->act_env, &sw->cfg.act, env->loop, env->http, sw->site, err, errlen) <
            0)
            goto fail;
        sw->own_act_env = true;
        sw->env.actuators = actuator_table;
        sw->env.nactuators = actuator_table_len;
        sw->env.actuator_env = &sw->act_env;
    }
    struct sw_exec_env xe = {.loop = env->loop,
                             .data_dir = sw->cfg.data_dir,
                             .site = sw->site,
                             .actuators = sw->env.actuators,
                             .nactuators = sw->env.nactuators,
                             .actuator_env = sw->env.actuator_env,
                             .guards = {.samples = (uint64_t)c->samples,
                                        .fresh_s = (double)c->fresh_ms / 1000.0,
                                        .max_lag_s = (double)c->rpo_ms / 1000.0},
                             .observe = observe_world,
                             .observe_arg = sw,
                             .finished = on_finished,
                             .finished_arg = sw,
                             .clock = env->clock,
                             .clock_arg = env->clock_arg};
    sw->x = sw_exec_new(&xe, err, errlen);
    if (!sw->x) goto fail;
    struct sw_peer_link_env le = {.loop = env->loop,
                                  .http = env->http,
                                  .site = sw->site,
                                  .data_dir = sw->cfg.data_dir,
                                  .target = env->peer,
                                  .timeout_ms = c->peer_timeout_ms,
                                  .transport = env->peer_transport,
                                  .clock = env->clock,
                                  .clock_arg = env->clock_arg};
    sw->link = sw_peer_link_new(&le);
    if (sw->own_act_env) sw->act_env.peer = sw->link;
    state_from_journal(sw);
    make_state_cm(sw); /* before a resumed run can finish */
    make_maint_watch(sw);
    const struct sw_replayed *rp = sw_exec_replayed(sw->x);
    if (rp->have_run && rp->finished)
        sw_cm_last_run(sw->cm, &rp->start, rp->result, rp->detail, rp->finished_at,
                       strncmp(rp->start.id, "fence-", 6) != 0);
    sw->resume_pending = rp->have_run && !rp->finished;
    if (sw->resume_pending)
        log_info("switchover",
                 "run %s was cut short by a restart: it goes on once the world is observed "
                 "(every target collected once); until then this site is busy",
                 rp->start.id);
    return sw;
fail:
    switchover_free(sw);
    return NULL;
}

int switchover_check(const struct switchover_config *c, const struct switchover_env *env, char *err,
                     size_t errlen)
{
    enum sw_site site;
    if (sw_site_parse(env->site, &site) < 0) {
        snprintf(err, errlen, "switchover: unknown site %s", env->site);
        return -1;
    }
    char *file = resolve(env, c->plans_file);
    struct sw_plans *p =
        file ? sw_plans_load(file, err, errlen) : sw_plans_load_default(err, errlen);
    free(file);
    if (!p) return -1;
    sw_plans_free(p);
    struct act_env e;
    if (act_env_init(&e, &c->act, env->loop, env->http, site, err, errlen) < 0) return -1;
    act_env_clear(&e);
    return 0;
}

void switchover_free(struct switchover *sw)
{
    if (!sw) return;
    if (sw->await.call) {
        char err[256];
        sw_peer_call_cancel(sw->await.call);
        sw->await.call = NULL;
        if (sw_exec_note(sw->x, "refused", sw->await.req.to, sw->await.req.source,
                         "drwatch stopped while the request awaited the peer's confirmation", err,
                         sizeof(err)) < 0)
            log_error("switchover", "%s", err);
    }
    sw_cm_free(sw->cm);
    sw_maint_watch_free(sw->maint);
    sw_exec_free(sw->x); /* first: a tell_peer step in flight has a call on the link */
    sw_peer_link_free(sw->link);
    sw_plans_free(sw->plans);
    sw_plan_free(sw->fence_plan);
    if (sw->own_act_env) act_env_clear(&sw->act_env);
    free(sw->cfg.data_dir);
    free(sw->cfg.plans_file);
    free(sw);
}

void switchover_drop(struct switchover *sw)
{
    if (sw && sw->await.call) { /* switchover_free would journal its refusal */
        sw_peer_call_cancel(sw->await.call);
        sw->await.call = NULL;
    }
    switchover_free(sw);
}

/* Every series from 0, so that rate() and increase() see the first request of a kind (an alert
 * on refusals must not miss the first). */
static void requests_metrics(const struct switchover *sw, struct metric_set *m)
{
    struct metric_family *f = mset_family(
        m, "drwatch_transition_requests_total", METRIC_COUNTER,
        "Transition requests this site judged, by target, source (configmap, api, automation, "
        "peer) and result (accepted, nothing: already there, refused).");
    for (int to = 0; to < TO_COUNT; to++)
        for (int s = 0; s < SW_SOURCE_COUNT; s++)
            for (int r = 0; r < REQ_COUNT; r++)
                mset_addv(m, f, (double)sw->requests[to][s][r], "to", to_label(to), "source",
                          sw_source_name((enum sw_source)s), "result", req_results[r],
                          (const char *)NULL);
}

struct metric_set *switchover_metrics(struct switchover *sw)
{
    struct metric_set *m = mset_new();
    struct metric_family *st =
        mset_family(m, "drwatch_state", METRIC_GAUGE,
                    "This site's DR state: 1 for the current one (independent, active-passive, "
                    "golddr-primary, gold-standby, golddr-maintenance), 0 for the others.");
    enum sw_state now = switchover_state(sw);
    for (int s = 0; s < SW_STATE_COUNT; s++)
        mset_addv(m, st, s == (int)now, "state", sw_state_name((enum sw_state)s),
                  (const char *)NULL);
    mset_addv(m,
              mset_family(m, "drwatch_automation_enabled", METRIC_GAUGE,
                          "1 when the evidence may start active-passive -> golddr-primary on its "
                          "own (switchover.automation), else 0."),
              sw->cfg.automation, (const char *)NULL);
    struct metric_family *ev =
        mset_family(m, "drwatch_automation_evidence", METRIC_GAUGE,
                    "Each check of the automatic failover's evidence: 1 when it holds, 0 when not; "
                    "drwatch_automation_evidence_complete is 1 when all do.");
    for (int c = 0; c < SW_CHECK_COUNT; c++)
        mset_addv(m, ev, sw->evidence.check[c].ok, "check", sw_check_name((enum sw_check)c),
                  (const char *)NULL);
    mset_addv(m,
              mset_family(m, "drwatch_automation_evidence_complete", METRIC_GAUGE,
                          "1 when every check of the automatic failover's evidence holds."),
              sw->evidence.ok, (const char *)NULL);
    mset_addv(m,
              mset_family(m, "drwatch_fence_total", METRIC_COUNTER,
                          "Times this site fenced itself: its leader was writable while the pair's "
                          "state made it the standby."),
              (double)sw->fences, (const char *)NULL);
    requests_metrics(sw, m);
    mset_addv(m,
              mset_family(m, "drwatch_transition_awaiting_peer", METRIC_GAUGE,
                          "1 while a transition request awaits the peer's confirmation, else 0."),
              sw->await.call ? 1.0 : 0.0, (const char *)NULL);
    sw_peer_link_metrics(sw->link, m);
    sw_exec_metrics(sw->x, m);
    sw_cm_metrics(sw->cm, m);
    sw_maint_watch_metrics(sw->maint, switchover_state(sw), sw->site, m);
    mset_seal(m);
    return m;
}
