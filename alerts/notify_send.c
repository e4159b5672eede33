/* notify_send.c: sending a stored payload for the notifiers (notify_lib.h): one job per send,
 * one httpc request per destination (an Alertmanager cluster has several), a classifier per
 * notifier type, and one result for the outbox. The receiver's error text is kept (capped)
 * and every secret the notifier registered is redacted from it before anyone sees it.
 * A job that cannot even start ends through a zero-delay timer, so that done never runs
 * inside send(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "notify_lib.h"
#include "strutil.h"
#include "xalloc.h"

#define DETAIL_MAX 2048 /* bytes of receiver text kept for the log and the outbox */

struct send_req {
    struct send_job *job;
    struct httpc_req *req; /* NULL once ended */
    enum send_outcome outcome;
    const char *reason;
    char reason_buf[48];
    double retry_after;
};

struct send_job {
    struct sender *s;
    struct send_job *prev, *next;
    struct send_req *reqs;
    size_t n, pending;
    sender_classify_fn classify;
    void *classify_arg;
    notifier_done_fn done;
    void *arg;
    struct buf detail;
    struct loop_timer *defer;
};

void sender_init(struct sender *s, const struct notifier_env *env, const char *component)
{
    *s = (struct sender){.loop = env->loop, .http = env->http, .component = component};
}

void sender_add_secret(struct sender *s, const char *secret)
{
    for (size_t i = 0; i < SENDER_MAX_SECRETS; i++) {
        if (!s->secrets[i]) {
            s->secrets[i] = secret;
            return;
        }
    }
}

static void job_unlink(struct send_job *j)
{
    struct sender *s = j->s;
    if (j->prev)
        j->prev->next = j->next;
    else if (s->jobs == j)
        s->jobs = j->next;
    if (j->next) j->next->prev = j->prev;
    j->prev = j->next = NULL;
}

static void job_free(struct send_job *j)
{
    for (size_t i = 0; i < j->n; i++) httpc_cancel(j->reqs[i].req);
    loop_timer_free(j->defer);
    buf_free(&j->detail);
    free(j->reqs);
    free(j);
}

/* Combines the requests' outcomes and reports them. */
static void job_finish(struct send_job *j)
{
    struct send_result res = {.outcome = SEND_FAIL, .retry_after_s = -1, .reason = "error"};
    const struct send_req *pick = NULL;
    for (size_t i = 0; i < j->n; i++) {
        const struct send_req *r = &j->reqs[i];
        if (r->outcome == SEND_OK) {
            pick = r;
            break;
        }
        if (!pick || (r->outcome == SEND_RETRY && pick->outcome == SEND_FAIL)) pick = r;
    }
    if (pick) {
        res.outcome = pick->outcome;
        res.reason = pick->reason ? pick->reason : "error";
    }
    if (res.outcome == SEND_RETRY) {
        for (size_t i = 0; i < j->n; i++)
            if (j->reqs[i].outcome == SEND_RETRY && j->reqs[i].retry_after > res.retry_after_s)
                res.retry_after_s = j->reqs[i].retry_after;
    }
    for (size_t i = 0; i < SENDER_MAX_SECRETS; i++) render_redact(&j->detail, j->s->secrets[i]);
    res.detail = j->detail.data ? j->detail.data : "";
    job_unlink(j);
    notifier_done_fn done = j->done;
    void *arg = j->arg;
    done(arg, &res);
    job_free(j);
}

static void on_defer(void *arg)
{
    job_finish(arg);
}

static void add_detail(struct send_job *j, size_t i, const char *text, size_t len)
{
    if (!len) return;
    struct buf *d = &j->detail;
    if (d->len >= DETAIL_MAX) return;
    if (d->len) buf_puts(d, "; ");
    if (j->n > 1) buf_printf(d, "[%zu] ", i);
    size_t room = DETAIL_MAX > d->len ? DETAIL_MAX - d->len : 0;
    buf_append(d, text, str_utf8_cut(text, len, room));
}

static void on_http_done(void *arg, const struct httpc_result *r)
{
    struct send_req *q = arg;
    struct send_job *j = q->job;
    size_t i = (size_t)(q - j->reqs);
    struct buf detail;
    buf_init(&detail, CAP_SEND_DETAIL); /* classify adds a curl error or a few KiB of body */
    q->retry_after = -1;
    q->outcome = j->classify(j->classify_arg, r, &q->reason, q->reason_buf, sizeof(q->reason_buf),
                             &q->retry_after, &detail);
    if (q->outcome != SEND_OK) {
        /* Collapse the body onto one line for logs. */
        for (size_t k = 0; k < detail.len; k++)
            if (detail.data[k] == '\n' || detail.data[k] == '\r') detail.data[k] = ' ';
        add_detail(j, i, detail.data ? detail.data : "", detail.len);
    }
    buf_free(&detail);
    q->req = NULL; /* httpc frees it after this callback */
    if (--j->pending == 0) job_finish(j);
}

static struct send_job *job_new(struct sender *s, size_t n, notifier_done_fn done, void *arg)
{
    struct send_job *j = xcalloc(1, sizeof(*j));
    j->s = s;
    j->n = n;
    j->reqs = xcalloc(n ? n : 1, sizeof(*j->reqs));
    j->done = done;
    j->arg = arg;
    buf_init(&j->detail, CAP_SEND_DETAIL); /* add_detail keeps it under DETAIL_MAX */
    j->next = s->jobs;
    if (s->jobs) s->jobs->prev = j;
    s->jobs = j;
    return j;
}

/* Reports the job's outcome on the loop, after the caller has returned. */
static void job_defer(struct send_job *j)
{
    j->defer = loop_timer_new(j->s->loop, on_defer, j);
    loop_timer_start(j->defer, 0);
}

void sender_refuse(struct sender *s, const char *reason, const char *detail, notifier_done_fn done,
                   void *arg)
{
    struct send_job *j = job_new(s, 1, done, arg);
    j->reqs[0] = (struct send_req){.job = j, .outcome = SEND_FAIL, .reason = reason};
    add_detail(j, 0, detail, strlen(detail));
    job_defer(j);
}

void sender_start(struct sender *s, const struct httpc_opts *opts, size_t n,
                  sender_classify_fn classify, void *classify_arg, notifier_done_fn done, void *arg)
{
    struct send_job *j = job_new(s, n, done, arg);
    j->classify = classify;
    j->classify_arg = classify_arg;
    for (size_t i = 0; i < n; i++) {
        struct send_req *q = &j->reqs[i];
        q->job = j;
        q->outcome = SEND_RETRY;
        q->reason = "start";
        q->retry_after = -1;
        j->pending++;
        q->req = httpc_start(s->http, &opts[i], on_http_done, q);
        if (!q->req) {
            j->pending--;
            static const char msg[] = "the request could not be started (bad URL or options)";
            add_detail(j, i, msg, sizeof(msg) - 1);
        }
    }
    if (j->pending == 0) {
        if (n == 0) j->reqs[0] = (struct send_req){.outcome = SEND_FAIL, .reason = "config"};
        if (n == 0) j->n = 1;
        job_defer(j);
    }
}

void sender_cancel(struct sender *s)
{
    while (s->jobs) {
        struct send_job *j = s->jobs;
        job_unlink(j);
        job_free(j);
    }
}
