/* act_tekton.c: the tekton_deploy actuator. It triggers the deploy pipeline as the old
 * switchover agent did (a GitHub push signed with the EventListener's secret,
 * switchover-plans.md §0.1) and follows the PipelineRun that trigger starts through this
 * site's Kubernetes API, with the old agent's retry rules (§2) but not its faults: the outcome
 * is the Succeeded condition found by its type, Tekton's own PipelineRunTimeout is a failure,
 * a run with another event id never counts, and a hung attempt is cancelled even when its run
 * was never seen (then there is nothing to PATCH, and it still counts as failed).
 *
 * act sends the first trigger. poll, every poll interval, lists the runs labelled with the
 * current event id (tekton.dev/v1, else v1beta1 where v1 is not served) and decides with the
 * rules of act_tekton_wire.h: done, wait, cancel a hung attempt (PATCH spec.status =
 * CancelledRunFinally, merge-patch, in the version the run was found in), back off after a
 * failed attempt, send the trigger again (only the trigger: no other step of the plan), or
 * give up naming the last reason and the attempts. What spans the phases is a struct deploy
 * owned by the act_env's step holder; each phase points its slot at it, so that cancel finds
 * the request in flight.
 *
 * check: a deploy has no "already done". But a trigger is never sent twice for one attempt,
 * also across a kill -9: before each trigger the step's journal mark (executor.h
 * sw_phase_mark, act_tekton_wire.h tekton_mark) says one is about to leave, and once the
 * listener answers, its event id. A step begun again after a restart finds that mark and its
 * act follows the run instead of triggering: by the event id when it was journaled; when the
 * process died between the POST and the journaled answer, by the first run labelled with any
 * event id created since the trigger left (less CLOCK_SLACK_S), adopted and journaled as its
 * own. (A trigger someone else sent in that window would be taken for ours: it deploys the same
 * ref.) When no run shows within ORPHAN_GRACE_MS of the lost trigger (attempt_timeout if
 * shorter), it never reached the listener: it is sent now, as the first act would have.
 * When the step ends by its deadline, the run in flight is left to Tekton: no phase is left to
 * answer a PATCH.
 *
 * Uses: act_tekton_wire (formats, rules), exporter/http_client, exporter/k8s, exporter/fileio.
 */
#include "act_tekton.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act_env.h"
#include "act_tekton_wire.h"
#include "buf.h"
#include "caps.h"
#include "clock.h"
#include "fileio.h"
#include "http_client.h"
#include "k8s.h"
#include "log.h"
#include "xalloc.h"

#define LOG        "switchover"
#define DETAIL_MAX 256 /* what the executor keeps of a phase's detail */
/* Between this host's clock and the apiserver's, for adopting a run a lost trigger made. */
#define CLOCK_SLACK_S 2.0
/* How long a lost trigger's run is looked for before the trigger is sent again (at most
 * attempt_timeout): a listener makes its run within a second or two of the POST, and a trigger
 * the kill stopped before it left makes none. */
#define ORPHAN_GRACE_MS 10000

static const char *const api_versions[] = {"v1", "v1beta1"};

enum deploy_state { DEPLOY_IN_FLIGHT, DEPLOY_BACKOFF };

/* One tekton_deploy step's state across its phases. */
struct deploy {
    struct act_env *env;
    struct sw_phase *ph; /* the phase waiting for its answer; NULL between phases */
    bool acting;         /* ph is the act phase (the first trigger) */
    char *run_id;        /* with step: whose state this is */
    const struct sw_step *step;
    struct tekton_policy policy;
    struct tekton_attempts at;
    enum deploy_state state;
    char event_id[TEKTON_EVENT_ID_MAX]; /* of the attempt in flight */
    bool orphan; /* its trigger left before a restart and its answer was lost: no event id */
    int64_t orphan_until_ms;  /* then sent again if no run shows by this time */
    double first_at, sent_at; /* wall clock of the first and the current trigger, for the mark */
    size_t version;           /* api_versions[version] lists the runs */
    struct buf body;          /* the push body, signed once */
    char sig1[TEKTON_SIG_MAX], sig256[TEKTON_SIG_MAX];
    struct httpc_req *post; /* a trigger in flight */
    char *post_token;
    struct k8s_req *k8s; /* a LIST or a cancel PATCH in flight */
    struct tekton_outcome seen;
    size_t cancelling;      /* the next of seen.unfinished to PATCH */
    char cancel_error[120]; /* the first cancel that failed, "" when none */
    char last_failure[300]; /* why the last failed attempt failed */
};

static void deploy_free(void *p)
{
    struct deploy *d = p;
    if (!d) return;
    httpc_cancel(d->post);
    k8s_cancel(d->k8s);
    free(d->post_token);
    free(d->run_id);
    buf_free(&d->body);
    free(d);
}

/* Ends the phase waiting on d; when the step ends with it, d is freed first (so detail is
 * copied: it may point into d). */
static void answer(struct deploy *d, enum sw_outcome o, const char *detail, bool step_ends)
{
    char copy[DETAIL_MAX];
    snprintf(copy, sizeof(copy), "%s", detail);
    struct sw_phase *ph = d->ph;
    d->ph = NULL;
    if (step_ends && d->env->step.p == d) act_env_step_drop(d->env);
    if (ph) sw_phase_done(ph, o, copy);
}

/* The start of a reply body for a detail: capped, control bytes as spaces. */
static void body_start(char *out, size_t outlen, const char *body, size_t len)
{
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < outlen; i++)
        out[k++] = ((unsigned char)body[i] < 0x20 || body[i] == 0x7f) ? ' ' : body[i];
    out[k] = '\0';
    if (k == 0) snprintf(out, outlen, "(empty body)");
}

/* ---- settings ---- */

/* "" when the step can run, else why it cannot, for its detail. */
static const char *not_configured(const struct act_env *e)
{
    const struct act_tekton *tk = e->cfg ? e->cfg->tekton : NULL;
    if (!tk) return "not configured: the switchover section has no tekton table";
    if (!tk->hmac_secret_file)
        return "not configured: tekton.hmac_secret_file is not set (the EventListener checks "
               "X-Hub-Signature; an empty file is the empty secret)";
    if (!e->have_k8s)
        return "not configured: no kubernetes table, so the PipelineRun cannot be followed";
    if (!e->ns.tekton || !k8s_name_valid(e->ns.tekton, false))
        return "not configured: namespaces.tekton (or tools, or kubernetes' namespace) does "
               "not name the namespace of the PipelineRuns";
    return "";
}

/* Signs d's body with the secret of path, read again for every step (secrets rotate); the
 * file's trailing line ends are not part of the secret. */
static int sign(struct deploy *d, const char *path, char *err, size_t errlen)
{
    char *secret = NULL, why[64];
    size_t len = 0;
    int rc = file_read_all(path, CAP_SECRET_FILE, &secret, &len);
    if (rc < 0) {
        snprintf(err, errlen, "tekton.hmac_secret_file %s: %s", path,
                 file_read_error(rc, CAP_SECRET_FILE, why, sizeof(why)));
        return -1;
    }
    size_t keylen = len;
    while (keylen && (secret[keylen - 1] == '\n' || secret[keylen - 1] == '\r')) keylen--;
    rc = tekton_sign(secret, keylen, d->body.data, d->body.len, d->sig1, d->sig256);
    explicit_bzero(secret, len);
    free(secret);
    if (rc < 0) snprintf(err, errlen, "the trigger cannot be signed: OpenSSL refused the HMAC");
    return rc < 0 ? -1 : 0;
}

static struct deploy *deploy_new(struct sw_phase *ph, char *err, size_t errlen)
{
    struct act_env *e = sw_phase_env(ph);
    const struct act_tekton *tk = e->cfg->tekton;
    struct deploy *d = xcalloc(1, sizeof(*d));
    d->env = e;
    d->run_id = xstrdup(sw_phase_run_id(ph));
    d->step = sw_phase_step(ph);
    d->policy = (struct tekton_policy){.retries = tk->retries,
                                       .retry_interval_ms = tk->retry_interval_ms,
                                       .total_cap_ms = tk->total_cap_ms,
                                       .attempt_timeout_ms = tk->attempt_timeout_ms};
    buf_init(&d->body, CAP_TRIGGER_BODY);
    int rc = tekton_push_body(&d->body, tk->ref, tk->repo);
    if (rc < 0) {
        snprintf(err, errlen, "the push body cannot be made: %s",
                 rc == -EINVAL ? "tekton.ref or tekton.repo is not valid UTF-8"
                               : "tekton.ref and tekton.repo are too long");
        deploy_free(d);
        return NULL;
    }
    if (sign(d, tk->hmac_secret_file, err, errlen) < 0) {
        deploy_free(d);
        return NULL;
    }
    return d;
}

/* The state act left for this step, or NULL. */
static struct deploy *deploy_of(struct sw_phase *ph)
{
    const struct act_env *e = sw_phase_env(ph);
    struct deploy *d = e->step.free == deploy_free ? e->step.p : NULL;
    if (!d || d->step != sw_phase_step(ph) || strcmp(d->run_id, sw_phase_run_id(ph)) != 0)
        return NULL;
    return d;
}

/* ---- the mark: what a restart must know of the attempt in flight ---- */

static int mark(struct deploy *d, char *err, size_t errlen)
{
    struct tekton_mark m = {
        .attempts = (long long)d->at.attempts, .first_at = d->first_at, .sent_at = d->sent_at};
    snprintf(m.event_id, sizeof(m.event_id), "%s", d->event_id);
    char text[SW_MARK_MAX], why[200];
    tekton_mark_write(&m, text, sizeof(text));
    if (!d->ph || sw_phase_mark(d->ph, text, why, sizeof(why)) == 0) return 0;
    snprintf(err, errlen, "the trigger cannot be journaled, so it is not sent: %.180s", why);
    return -1;
}

/* The monotonic time of wall-clock time at (from before a restart). */
static int64_t mono_of(double at)
{
    return time_mono_ms() - (int64_t)((time_wall_s() - at) * 1000.0);
}

/* ---- the trigger ---- */

static void on_trigger(void *arg, const struct httpc_result *r);

static int trigger_start(struct deploy *d, char *err, size_t errlen)
{
    const struct act_tekton *tk = d->env->cfg->tekton;
    struct httpc_opts o;
    d->orphan = false;
    d->event_id[0] = '\0';
    d->sent_at = time_wall_s();
    if (mark(d, err, errlen) < 0) return -1;
    free(d->post_token);
    d->post_token = NULL;
    if (http_target_opts(&tk->http, tk->http.url, &o, &d->post_token, err, errlen) < 0) return -1;
    char sig1[TEKTON_SIG_MAX + 32], sig256[TEKTON_SIG_MAX + 32];
    snprintf(sig1, sizeof(sig1), "X-Hub-Signature: %s", d->sig1);
    snprintf(sig256, sizeof(sig256), "X-Hub-Signature-256: %s", d->sig256);
    const char *headers[] = {"Accept: application/json",
                             "Content-Type: application/json",
                             "X-GitHub-Event: push",
                             sig1,
                             sig256,
                             NULL};
    o.method = "POST";
    o.body = d->body.data;
    o.body_len = d->body.len;
    o.headers = headers; /* copied by httpc_start, as are the URL and the body */
    d->post = httpc_start(d->env->http, &o, on_trigger, d);
    if (!d->post) {
        snprintf(err, errlen, "the HTTP client refused the request to %s", tk->http.url);
        return -1;
    }
    return 0;
}

/* Why a trigger was not accepted, into out; 0 with the event id in d when it was. */
static int trigger_result(struct deploy *d, const struct httpc_result *r, char *out, size_t outlen)
{
    const char *what = d->acting ? "trigger" : "the retry's trigger";
    char why[160];
    if (!r->ok) {
        snprintf(out, outlen, "%s: the POST to the EventListener failed (%s: %.150s)", what,
                 r->reason, r->error ? r->error : "");
        return -1;
    }
    if (r->status < 200 || r->status > 299) {
        body_start(why, sizeof(why), r->body, r->body_len);
        snprintf(out, outlen, "%s: the EventListener answered HTTP %ld%s: %s", what, r->status,
                 r->status == 401 || r->status == 403 ? " (is hmac_secret_file its secret?)" : "",
                 why);
        return -1;
    }
    if (tekton_reply_event_id(r->body, r->body_len, d->event_id, why, sizeof(why)) < 0) {
        snprintf(out, outlen, "%s: HTTP %ld from the EventListener, but %s", what, r->status, why);
        return -1;
    }
    return 0;
}

static void on_trigger(void *arg, const struct httpc_result *r)
{
    struct deploy *d = arg;
    d->post = NULL; /* freed by httpc after this call */
    free(d->post_token);
    d->post_token = NULL;
    char detail[DETAIL_MAX];
    if (trigger_result(d, r, detail, sizeof(detail)) < 0) return answer(d, SW_ERROR, detail, true);
    int64_t now = time_mono_ms();
    if (d->at.attempts++ == 0) {
        d->at.first_ms = now;
        d->first_at = d->sent_at;
    }
    d->at.trigger_ms = now;
    if (mark(d, detail, sizeof(detail)) < 0) return answer(d, SW_ERROR, detail, true);
    d->state = DEPLOY_IN_FLIGHT; /* d->version stays: what the API serves does not change */
    snprintf(detail, sizeof(detail),
             "attempt %lld of at most %lld: the EventListener accepted the trigger (HTTP %ld), "
             "event %s",
             (long long)d->at.attempts, (long long)d->policy.retries + 1, r->status, d->event_id);
    log_info(LOG, "tekton_deploy: %s", detail);
    answer(d, d->acting ? SW_DONE : SW_NOT_DONE, detail, false);
}

/* ---- failed attempts ---- */

/* The attempt in flight failed (why): back off for a retry, or give up. */
static void attempt_failed(struct deploy *d, const char *why)
{
    const char *limit;
    int64_t now = time_mono_ms();
    snprintf(d->last_failure, sizeof(d->last_failure), "%s", why);
    char detail[DETAIL_MAX];
    if (tekton_after_failure(&d->policy, &d->at, now, &limit) == TEKTON_GIVE_UP) {
        snprintf(detail, sizeof(detail), "the deploy failed after %lld attempt(s) (%s): %.150s",
                 (long long)d->at.attempts, limit, d->last_failure);
        return answer(d, SW_ERROR, detail, true);
    }
    d->state = DEPLOY_BACKOFF;
    d->at.retry_at_ms = now + d->policy.retry_interval_ms;
    snprintf(detail, sizeof(detail), "attempt %lld failed: %.150s; retry in %gs",
             (long long)d->at.attempts, d->last_failure,
             (double)d->policy.retry_interval_ms / 1000.0);
    log_warn(LOG, "tekton_deploy: %s", detail);
    answer(d, SW_NOT_DONE, detail, false);
}

static void on_cancelled(void *arg, const struct k8s_response *r);

/* PATCHes the next unfinished run of the hung attempt; when none is left, the attempt has
 * failed. */
static void cancel_next(struct deploy *d)
{
    const struct tekton_outcome *s = &d->seen;
    char why[300], err[160];
    if (d->cancelling < s->nunfinished) {
        static const char body[] = "{\"spec\":{\"status\":\"CancelledRunFinally\"}}";
        char *path =
            xasprintf("/apis/tekton.dev/%s/namespaces/%s/pipelineruns/%s", api_versions[d->version],
                      d->env->ns.tekton, s->unfinished[d->cancelling]);
        struct k8s_call call = {.method = "PATCH",
                                .path = path,
                                .content_type = "application/merge-patch+json",
                                .body = body,
                                .body_len = sizeof(body) - 1};
        d->k8s = k8s_request(d->env->http, &d->env->k8s, &call, on_cancelled, d, err, sizeof(err));
        free(path);
        if (d->k8s) return;
        on_cancelled(d, &(struct k8s_response){.detail = err});
        return;
    }
    double secs = (double)d->policy.attempt_timeout_ms / 1000.0;
    if (d->orphan)
        snprintf(why, sizeof(why),
                 "no PipelineRun appeared within %gs of the trigger sent before the restart", secs);
    else if (s->runs == 0)
        snprintf(why, sizeof(why), "no PipelineRun carried event %s within %gs", d->event_id, secs);
    else
        snprintf(why, sizeof(why), "run %.80s still %.40s after %gs%s%.80s", s->name,
                 s->reason[0] ? s->reason : "unreconciled", secs,
                 d->cancel_error[0] ? "; its cancel failed: " : ": cancelled", d->cancel_error);
    attempt_failed(d, why);
}

static void on_cancelled(void *arg, const struct k8s_response *r)
{
    struct deploy *d = arg;
    d->k8s = NULL; /* freed by k8s.c after this call */
    if (!r->ok && !d->cancel_error[0])
        snprintf(d->cancel_error, sizeof(d->cancel_error), "%s", r->detail ? r->detail : "?");
    if (!r->ok)
        log_warn(LOG, "tekton_deploy: cancelling run %s: %s", d->seen.unfinished[d->cancelling],
                 r->detail ? r->detail : "?");
    d->cancelling++;
    cancel_next(d);
}

/* ---- following the run ---- */

static void on_listed(void *arg, const struct k8s_response *r);

static int list_start(struct deploy *d, char *err, size_t errlen)
{
    struct buf path;
    buf_init(&path, CAP_URL_PATH);
    (void)buf_printf(&path, "/apis/tekton.dev/%s/namespaces/%s/pipelineruns?labelSelector=",
                     api_versions[d->version], d->env->ns.tekton);
    /* An orphan's runs are any with an event id: on_listed picks one by its creation time. */
    (void)k8s_query_escape(&path, d->orphan ? TEKTON_EVENT_ID_LABEL : TEKTON_EVENT_ID_LABEL "=");
    if (!d->orphan) (void)k8s_query_escape(&path, d->event_id);
    int rc = buf_error(&path);
    if (rc == 0) {
        struct k8s_call call = {.path = path.data};
        d->k8s = k8s_request(d->env->http, &d->env->k8s, &call, on_listed, d, err, errlen);
        rc = d->k8s ? 0 : -1;
    } else { /* a namespace and a label value: not reached */
        snprintf(err, errlen, "the list path is longer than %zu bytes", (size_t)CAP_URL_PATH);
    }
    buf_free(&path);
    return rc;
}

/* What the reading of the runs means for the attempt. */
static void judge(struct deploy *d)
{
    const struct tekton_outcome *s = &d->seen;
    const char *limit;
    char detail[DETAIL_MAX];
    if (d->orphan && s->runs == 0 && time_mono_ms() >= d->orphan_until_ms) {
        /* No run since the lost trigger left: it never reached the listener. Send it as the
         * act before the restart would have; the lost one is no attempt. */
        d->at.attempts--;
        log_info(LOG,
                 "tekton_deploy: run %s: no PipelineRun was made since the trigger left "
                 "before the restart: triggering now",
                 d->run_id);
        if (trigger_start(d, detail, sizeof(detail)) == 0) return;
        return answer(d, SW_ERROR, detail, true);
    }
    switch (tekton_judge_attempt(&d->policy, &d->at, s->state, time_mono_ms(), &limit)) {
    case TEKTON_DONE:
        snprintf(detail, sizeof(detail), "PipelineRun %.80s succeeded (%s) on attempt %lld",
                 s->name, s->reason, (long long)d->at.attempts);
        return answer(d, SW_DONE, detail, true);
    case TEKTON_CANCEL:
        d->cancelling = 0;
        d->cancel_error[0] = '\0';
        return cancel_next(d);
    case TEKTON_BACKOFF:
    case TEKTON_GIVE_UP: {
        char why[300];
        snprintf(why, sizeof(why), "run %.80s %.40s: %.80s", s->name,
                 s->reason[0] ? s->reason : "failed", s->message);
        return attempt_failed(d, why);
    }
    default: break;
    }
    if (s->runs == 0)
        snprintf(detail, sizeof(detail), "attempt %lld: no PipelineRun carries event %s yet",
                 (long long)d->at.attempts, d->event_id);
    else
        snprintf(detail, sizeof(detail), "attempt %lld: PipelineRun %.80s is %s",
                 (long long)d->at.attempts, s->name, s->reason[0] ? s->reason : "not reconciled");
    answer(d, SW_NOT_DONE, detail, false);
}

/* An orphan's run, if the list shows one created since its trigger left: its event id becomes
 * the attempt's (and is journaled). -1 with detail filled when it cannot be journaled. */
static int adopt(struct deploy *d, const struct k8s_response *r, char *detail, size_t len)
{
    char id[TEKTON_EVENT_ID_MAX], err[200];
    double since = (double)(long long)d->sent_at - CLOCK_SLACK_S;
    if (tekton_event_since(r->body, r->body_len, since, id, err, sizeof(err)) != 1) return 0;
    d->orphan = false;
    snprintf(d->event_id, sizeof(d->event_id), "%s", id);
    log_info(LOG,
             "tekton_deploy: run %s: following event %s, whose trigger left before the "
             "restart",
             d->run_id, id);
    return mark(d, detail, len);
}

static void on_listed(void *arg, const struct k8s_response *r)
{
    struct deploy *d = arg;
    d->k8s = NULL; /* freed by k8s.c after this call */
    char detail[DETAIL_MAX], err[200];
    if (!r->ok && r->status == 404 && d->version == 0) {
        d->version = 1; /* Tekton before 0.43 serves only v1beta1 */
        if (list_start(d, err, sizeof(err)) == 0) return;
        snprintf(detail, sizeof(detail), "listing PipelineRuns: %s", err);
        return answer(d, SW_NOT_DONE, detail, false);
    }
    if (!r->ok) {
        /* Refused or not served: no later poll gets another answer. Anything else (a timeout,
         * a 5xx, a 429) may pass; the step's deadline bounds the wait. */
        bool lasting = r->status == 401 || r->status == 403 || r->status == 404;
        snprintf(detail, sizeof(detail), "listing PipelineRuns in %s (tekton.dev/%s): %.180s",
                 d->env->ns.tekton, api_versions[d->version], r->detail ? r->detail : "?");
        return answer(d, lasting ? SW_ERROR : SW_NOT_DONE, detail, lasting);
    }
    if (d->orphan && adopt(d, r, detail, sizeof(detail)) < 0)
        return answer(d, SW_ERROR, detail, true);
    if (tekton_outcome_read(r->body, r->body_len, d->event_id, &d->seen, err, sizeof(err)) < 0) {
        snprintf(detail, sizeof(detail), "listing PipelineRuns: %s", err);
        return answer(d, SW_NOT_DONE, detail, false);
    }
    judge(d);
}

/* ---- the phases ---- */

static void tekton_check(struct sw_phase *ph)
{
    sw_phase_done(ph, SW_NOT_DONE,
                  sw_phase_marked(ph)[0]
                      ? "a deploy is never done already: the step follows its trigger sent "
                        "before the restart"
                      : "a deploy is never done already: the step triggers the pipeline");
}

/* act of a step begun again after a restart whose mark says a trigger left: follow it. */
static void follow_marked(struct deploy *d, const struct tekton_mark *m)
{
    char detail[DETAIL_MAX];
    d->orphan = !m->event_id[0];
    snprintf(d->event_id, sizeof(d->event_id), "%s", m->event_id);
    /* An orphan counts as an attempt the listener accepted: it may have been. */
    d->at.attempts = m->attempts + (d->orphan ? 1 : 0);
    d->first_at = m->first_at > 0 ? m->first_at : m->sent_at;
    d->sent_at = m->sent_at;
    d->at.first_ms = mono_of(d->first_at);
    d->at.trigger_ms = mono_of(d->sent_at);
    int64_t grace = d->policy.attempt_timeout_ms < ORPHAN_GRACE_MS ? d->policy.attempt_timeout_ms
                                                                   : ORPHAN_GRACE_MS;
    d->orphan_until_ms = d->at.trigger_ms + grace;
    d->state = DEPLOY_IN_FLIGHT;
    if (d->orphan)
        snprintf(detail, sizeof(detail),
                 "attempt %lld: its trigger left before the restart and its answer was lost: "
                 "looking for the run it made instead of triggering again",
                 (long long)d->at.attempts);
    else
        snprintf(detail, sizeof(detail),
                 "attempt %lld: its trigger was accepted before the restart (event %s): "
                 "following that run instead of triggering again",
                 (long long)d->at.attempts, d->event_id);
    log_warn(LOG, "tekton_deploy: run %s: %s", d->run_id, detail);
    answer(d, SW_DONE, detail, false);
}

static void tekton_act(struct sw_phase *ph)
{
    struct act_env *e = sw_phase_env(ph);
    char err[DETAIL_MAX];
    const char *why = not_configured(e);
    if (*why) return sw_phase_done(ph, SW_ERROR, why);
    struct deploy *d = deploy_new(ph, err, sizeof(err));
    if (!d) return sw_phase_done(ph, SW_ERROR, err);
    act_env_step_set(e, d, deploy_free);
    *sw_phase_slot(ph) = d;
    d->ph = ph;
    d->acting = true;
    struct tekton_mark m;
    if (sw_phase_marked(ph)[0] && tekton_mark_read(sw_phase_marked(ph), &m) == 0)
        return follow_marked(d, &m);
    if (trigger_start(d, err, sizeof(err)) < 0) answer(d, SW_ERROR, err, true);
}

static void poll_backoff(struct deploy *d)
{
    char detail[DETAIL_MAX], err[200];
    switch (tekton_judge_backoff(&d->policy, &d->at, time_mono_ms())) {
    case TEKTON_RETRIGGER:
        if (trigger_start(d, err, sizeof(err)) == 0) return;
        snprintf(detail, sizeof(detail), "retry: %s", err);
        return answer(d, SW_ERROR, detail, true);
    case TEKTON_GIVE_UP:
        snprintf(detail, sizeof(detail),
                 "the deploy failed after %lld attempt(s) (no retry could start within "
                 "total_cap): %.150s",
                 (long long)d->at.attempts, d->last_failure);
        return answer(d, SW_ERROR, detail, true);
    default:
        snprintf(detail, sizeof(detail), "attempt %lld failed: %.150s; retry in %gs",
                 (long long)d->at.attempts, d->last_failure,
                 (double)(d->at.retry_at_ms - time_mono_ms()) / 1000.0);
        return answer(d, SW_NOT_DONE, detail, false);
    }
}

static void tekton_poll(struct sw_phase *ph)
{
    struct deploy *d = deploy_of(ph);
    if (!d) /* a contract breach: poll without this step's act */
        return sw_phase_done(ph, SW_ERROR, "no trigger of this step to follow");
    *sw_phase_slot(ph) = d;
    d->ph = ph;
    d->acting = false;
    if (d->state == DEPLOY_BACKOFF) return poll_backoff(d);
    char err[200], detail[DETAIL_MAX];
    if (list_start(d, err, sizeof(err)) == 0) return;
    snprintf(detail, sizeof(detail), "listing PipelineRuns: %s", err);
    answer(d, SW_NOT_DONE, detail, false);
}

/* The phase's request is dropped with the step's state: a cancelled phase means the step
 * ended (its deadline) or the executor is going away. */
static void tekton_cancel(struct sw_phase *ph)
{
    struct deploy *d = *sw_phase_slot(ph);
    if (!d) return;
    d->ph = NULL;
    if (d->env->step.p == d) act_env_step_drop(d->env);
}

static const char *const tekton_rbac[] = {"tekton.dev pipelineruns list",
                                          "tekton.dev pipelineruns patch", NULL};

const struct actuator_ops tekton_deploy_actuator = {.action = "tekton_deploy",
                                                    .check = tekton_check,
                                                    .act = tekton_act,
                                                    .poll = tekton_poll,
                                                    .cancel = tekton_cancel,
                                                    .rbac = tekton_rbac,
                                                    .rbac_namespace = "tekton"};
