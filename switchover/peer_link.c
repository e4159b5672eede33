/* peer_link.c: messages to the peer and their outcomes (see peer_link.h).
 *
 * A call lives from the send until its outcome: one attempt at a time, each a POST with a
 * fresh seq, and one deadline timer for the whole call, so that an outcome comes within the
 * timeout whatever the transport does. Only a failure to connect is tried again: then the
 * message never reached the peer, and the peer may be restarting; and a 503 from a replica
 * that is not its site's leader (two replicas behind the peer Service: the next connection
 * may reach the leader; the follower acted on nothing). Anything else (a timeout after the
 * request went out, a TLS refusal, an answer) ends the call. An answer is taken
 * only when it names the message's id and seq: the requester acts on the answer to its own
 * message, never on another's. Uses: exporter/httpc and http_target (the default transport),
 * site/peer_msg (the wire format), peer_seq.c (the numbers). */
#include "peer_link.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "loop.h"
#include "peer_seq.h"
#include "strutil.h"
#include "world.h"
#include "xalloc.h"

#define RETRY_MS       1000               /* between attempts that could not connect */
#define ANSWER_MAX     (4 * PEER_MSG_MAX) /* the answer body accepted (the peer's is capped) */
#define DEFAULT_MS     30000
#define ATTEMPT_MIN_MS 100 /* an attempt with less time left than this is not made */

static const char *const answer_names[SW_PEER_ANSWER_COUNT] = {"yes", "no", "timeout",
                                                               "unreachable", "bad_answer"};
static const char *const received_names[SW_RECEIVED_COUNT] = {"yes", "no", "replayed"};

struct sw_peer_call {
    struct sw_peer_link *l;
    struct sw_peer_call *prev, *next;
    struct peer_msg msg; /* seq and sent of the attempt in flight */
    int64_t deadline_ms; /* time_mono_ms */
    sw_peer_done_fn fn;
    void *arg;
    void *req; /* the attempt in flight */
    struct loop_timer *retry, *deadline;
    int attempts;
    char last_error[200];
};

struct sw_peer_link {
    struct sw_peer_link_env env;
    bool configured;
    struct http_target target; /* copy */
    struct sw_peer_transport https;
    struct sw_peer_seq *seq;
    struct sw_peer_call *calls;
    uint64_t requests[PEER_MSG_KIND_COUNT][SW_PEER_ANSWER_COUNT];
    uint64_t messages[PEER_MSG_KIND_COUNT][SW_RECEIVED_COUNT];
    char accepted_id[48], accepted_run[48]; /* the last transition taken from the peer */
};

const char *sw_peer_answer_name(enum sw_peer_answer a)
{
    return (unsigned)a < SW_PEER_ANSWER_COUNT ? answer_names[a] : "unknown";
}

static double wall(const struct sw_peer_link *l)
{
    return l->env.clock ? l->env.clock(l->env.clock_arg) : time_wall_s();
}

/* ---- the default transport: HTTPS with the peer target's settings ---- */

static void *https_post(void *arg, const char *path, const char *body, size_t len,
                        int64_t timeout_ms, httpc_done_fn done, void *done_arg)
{
    struct sw_peer_link *l = arg;
    char *url = url_join(l->target.url, path), *token = NULL, err[256];
    struct httpc_opts o;
    void *req = NULL;
    if (http_target_opts(&l->target, url, &o, &token, err, sizeof(err)) < 0) {
        log_error("switchover", "peer %s: %s", url, err);
        goto done;
    }
    static const char *const headers[] = {"Content-Type: application/json",
                                          "Accept: application/json", NULL};
    o.method = "POST";
    o.headers = headers;
    o.body = body;
    o.body_len = len;
    o.timeout_ms = timeout_ms;
    o.max_body = ANSWER_MAX;
    o.accept_gzip = 0;
    req = httpc_start(l->env.http, &o, done, done_arg);
done:
    free(url);
    free(token);
    return req;
}

static void https_cancel(void *arg, void *req)
{
    (void)arg;
    httpc_cancel(req);
}

/* ---- calls ---- */

static void call_free(struct sw_peer_call *c)
{
    struct sw_peer_link *l = c->l;
    if (c->req) l->env.transport->cancel(l->env.transport->arg, c->req);
    if (c->prev)
        c->prev->next = c->next;
    else
        l->calls = c->next;
    if (c->next) c->next->prev = c->prev;
    loop_timer_free(c->retry);
    loop_timer_free(c->deadline);
    free(c);
}

__attribute__((format(printf, 4, 5))) static void deliver(struct sw_peer_call *c,
                                                          enum sw_peer_answer a,
                                                          const struct peer_answer *ans,
                                                          const char *fmt, ...);
/* Ends c with outcome a: counts, logs, frees c, then tells the caller. */
static void deliver(struct sw_peer_call *c, enum sw_peer_answer a, const struct peer_answer *ans,
                    const char *fmt, ...)
{
    struct sw_peer_outcome o = {.answer = a};
    char text[sizeof(o.reason)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    str_utf8_clean(o.reason, sizeof(o.reason), text); /* a cut may have split a character */
    if (ans) {
        snprintf(o.id, sizeof(o.id), "%s", ans->id);
        snprintf(o.state, sizeof(o.state), "%s", ans->state);
        snprintf(o.run, sizeof(o.run), "%s", ans->run);
    }
    struct sw_peer_link *l = c->l;
    l->requests[c->msg.kind][a]++;
    log_msg(a == SW_PEER_YES || a == SW_PEER_NO ? LOG_INFO : LOG_WARN, "switchover",
            "peer %s %s %s (seq %llu, %d attempt%s): %s: %s", sw_site_name(l->env.site),
            peer_msg_kind_name(c->msg.kind), c->msg.id, (unsigned long long)c->msg.seq, c->attempts,
            c->attempts == 1 ? "" : "s", answer_names[a], o.reason);
    sw_peer_done_fn fn = c->fn;
    void *arg = c->arg;
    call_free(c);
    fn(arg, &o);
}

static int64_t left_ms(const struct sw_peer_call *c)
{
    return c->deadline_ms - time_mono_ms();
}

static void on_result(void *arg, const struct httpc_result *r);

/* One attempt: a new seq, then the POST. Returns 0, or -1 with err filled. */
static int attempt(struct sw_peer_call *c, char *err, size_t errlen)
{
    struct sw_peer_link *l = c->l;
    if (sw_peer_seq_next(l->seq, wall(l), &c->msg.seq, err, errlen) < 0) return -1;
    c->msg.sent = wall(l);
    struct buf body;
    buf_init(&body, PEER_MSG_MAX + 1);
    int rc = peer_msg_encode(&c->msg, &body);
    if (rc < 0) {
        snprintf(err, errlen, "the message cannot be encoded (%s)", strerror(-rc));
    } else {
        c->attempts++;
        c->req = l->env.transport->post(l->env.transport->arg, peer_msg_path(c->msg.kind),
                                        body.data, body.len, left_ms(c), on_result, c);
        if (!c->req) snprintf(err, errlen, "the request could not be started");
    }
    buf_free(&body);
    return c->req ? 0 : -1;
}

static void on_retry(void *arg)
{
    struct sw_peer_call *c = arg;
    char err[256];
    snprintf(err, sizeof(err), "%s", c->last_error);
    if (left_ms(c) < ATTEMPT_MIN_MS || attempt(c, err, sizeof(err)) < 0)
        deliver(c, SW_PEER_UNREACHABLE, NULL, "not reached within %.3gs: %s",
                (double)c->l->env.timeout_ms / 1000.0, err);
}

static void on_deadline(void *arg)
{
    struct sw_peer_call *c = arg;
    double s = (double)c->l->env.timeout_ms / 1000.0;
    if (c->req) return deliver(c, SW_PEER_TIMEOUT, NULL, "no answer within %.3gs", s);
    deliver(c, SW_PEER_UNREACHABLE, NULL, "not reached within %.3gs: %s", s, c->last_error);
}

/* A follower replica answered 503: the message reached a process that acts on nothing. Tried
 * again (a new seq, a new connection) until the deadline, like a refused connection. */
static void try_elsewhere(struct sw_peer_call *c, const char *body, size_t len)
{
    struct peer_answer a;
    char err[200];
    bool read = peer_answer_parse(body, len, &a, err, sizeof(err)) == 0;
    snprintf(c->last_error, sizeof(c->last_error),
             "503 from a replica that is not %s's leader%s%.120s",
             sw_site_name(sw_other(c->l->env.site)), read ? ": " : "", read ? a.reason : "");
    int64_t left = left_ms(c) - ATTEMPT_MIN_MS;
    if (left > 0) {
        loop_timer_start(c->retry, left < RETRY_MS ? left : RETRY_MS);
        return;
    }
    deliver(c, SW_PEER_UNREACHABLE, NULL, "not reached within %.3gs: %s",
            (double)c->l->env.timeout_ms / 1000.0, c->last_error);
}

/* The peer's answer body to c's message, with HTTP status. */
static void on_answer(struct sw_peer_call *c, long status, const char *body, size_t len)
{
    struct peer_answer a;
    char err[200];
    if (status == 503) return try_elsewhere(c, body, len);
    if (status != 200 && status != 400)
        return deliver(c, SW_PEER_BAD_ANSWER, NULL,
                       "the peer answered HTTP %ld (a drwatch without the peer protocol?): %.120s",
                       status, body);
    if (peer_answer_parse(body, len, &a, err, sizeof(err)) < 0)
        return deliver(c, SW_PEER_BAD_ANSWER, NULL, "the peer's answer is not one: %s", err);
    if (status == 400)
        return deliver(c, SW_PEER_BAD_ANSWER, &a, "the peer could not read the message: %s",
                       a.reason);
    if (strcmp(a.id, c->msg.id) != 0 || a.seq != c->msg.seq)
        return deliver(c, SW_PEER_BAD_ANSWER, &a,
                       "the answer names message %s (seq %llu), not %s (seq %llu): ignored",
                       a.id[0] ? a.id : "(none)", (unsigned long long)a.seq, c->msg.id,
                       (unsigned long long)c->msg.seq);
    deliver(c, a.yes ? SW_PEER_YES : SW_PEER_NO, &a, "%s", a.reason);
}

static void on_result(void *arg, const struct httpc_result *r)
{
    struct sw_peer_call *c = arg;
    c->req = NULL;
    if (r->ok) return on_answer(c, r->status, r->body ? r->body : "", r->body_len);
    const char *reason = r->reason ? r->reason : "transport";
    snprintf(c->last_error, sizeof(c->last_error), "%s: %s", reason,
             r->error ? r->error : "failed");
    bool not_sent = strcmp(reason, "connect") == 0 || strcmp(reason, "dns") == 0;
    int64_t left = left_ms(c) - ATTEMPT_MIN_MS;
    if (not_sent && left > 0) { /* the last try comes just before the deadline */
        loop_timer_start(c->retry, left < RETRY_MS ? left : RETRY_MS);
        return;
    }
    if (not_sent)
        return deliver(c, SW_PEER_UNREACHABLE, NULL, "not reached within %.3gs: %s",
                       (double)c->l->env.timeout_ms / 1000.0, c->last_error);
    if (strcmp(reason, "timeout") == 0)
        return deliver(c, SW_PEER_TIMEOUT, NULL, "no answer within %.3gs",
                       (double)c->l->env.timeout_ms / 1000.0);
    deliver(c, SW_PEER_UNREACHABLE, NULL, "%s", c->last_error);
}

struct sw_peer_call *sw_peer_link_send(struct sw_peer_link *l, const struct peer_msg *m,
                                       int64_t timeout_ms, sw_peer_done_fn fn, void *arg, char *err,
                                       size_t errlen)
{
    if (!l->configured) {
        snprintf(err, errlen, "no peer is configured (a `peer` target of the other site)");
        return NULL;
    }
    struct sw_peer_call *c = xcalloc(1, sizeof(*c));
    c->l = l;
    c->msg = *m;
    snprintf(c->msg.from_site, sizeof(c->msg.from_site), "%s", sw_site_name(l->env.site));
    c->fn = fn;
    c->arg = arg;
    int64_t t = timeout_ms > 0 && timeout_ms < l->env.timeout_ms ? timeout_ms : l->env.timeout_ms;
    c->deadline_ms = time_mono_ms() + t;
    c->retry = loop_timer_new(l->env.loop, on_retry, c);
    c->deadline = loop_timer_new(l->env.loop, on_deadline, c);
    c->next = l->calls;
    if (l->calls) l->calls->prev = c;
    l->calls = c;
    if (attempt(c, err, errlen) < 0) {
        call_free(c);
        return NULL;
    }
    loop_timer_start(c->deadline, t);
    return c;
}

void sw_peer_call_cancel(struct sw_peer_call *c)
{
    if (c) call_free(c);
}

/* ---- the link ---- */

struct sw_peer_link *sw_peer_link_new(const struct sw_peer_link_env *env)
{
    struct sw_peer_link *l = xcalloc(1, sizeof(*l));
    l->env = *env;
    l->env.data_dir = NULL; /* not kept: the seq file has its path */
    if (l->env.timeout_ms <= 0) l->env.timeout_ms = DEFAULT_MS;
    if (env->target) http_target_copy(&l->target, env->target);
    l->https = (struct sw_peer_transport){.post = https_post, .cancel = https_cancel, .arg = l};
    l->configured = env->transport || (env->target && env->target->url);
    if (!env->transport) l->env.transport = &l->https;
    l->seq = sw_peer_seq_open(env->data_dir, wall(l));
    return l;
}

void sw_peer_link_free(struct sw_peer_link *l)
{
    if (!l) return;
    while (l->calls) call_free(l->calls);
    sw_peer_seq_free(l->seq);
    http_target_clear(&l->target);
    free(l);
}

bool sw_peer_link_configured(const struct sw_peer_link *l)
{
    return l->configured;
}

enum sw_site sw_peer_link_peer_site(const struct sw_peer_link *l)
{
    return sw_other(l->env.site);
}

int64_t sw_peer_link_timeout_ms(const struct sw_peer_link *l)
{
    return l->env.timeout_ms;
}

int sw_peer_link_admit(struct sw_peer_link *l, enum sw_site from, uint64_t seq, uint64_t *last,
                       char *err, size_t errlen)
{
    return sw_peer_seq_admit(l->seq, from, seq, last, err, errlen);
}

void sw_peer_link_remember(struct sw_peer_link *l, const char *id, const char *run)
{
    snprintf(l->accepted_id, sizeof(l->accepted_id), "%s", id);
    snprintf(l->accepted_run, sizeof(l->accepted_run), "%s", run);
}

const char *sw_peer_link_recall(const struct sw_peer_link *l, const char *id)
{
    return l->accepted_id[0] && strcmp(l->accepted_id, id) == 0 ? l->accepted_run : NULL;
}

void sw_peer_link_count_message(struct sw_peer_link *l, enum peer_msg_kind kind,
                                enum sw_peer_received what)
{
    if ((unsigned)kind < PEER_MSG_KIND_COUNT && (unsigned)what < SW_RECEIVED_COUNT)
        l->messages[kind][what]++;
}

void sw_peer_link_metrics(const struct sw_peer_link *l, struct metric_set *m)
{
    struct metric_family *req = mset_family(
        m, "drwatch_peer_requests_total", METRIC_COUNTER,
        "Messages this site sent its peer (kind: confirm, transition), by outcome: the peer's "
        "answer (yes, no), timeout (no answer within switchover.peer_timeout), unreachable (no "
        "connection could be made within it), bad_answer (not an answer to that message).");
    struct metric_family *got =
        mset_family(m, "drwatch_peer_messages_total", METRIC_COUNTER,
                    "Messages from the peer this site answered (kind: confirm, transition), by "
                    "answer: yes, no, replayed (a no: its sequence number was not above the last "
                    "one taken from the peer).");
    for (int k = 0; k < PEER_MSG_KIND_COUNT; k++) {
        const char *kind = peer_msg_kind_name((enum peer_msg_kind)k);
        for (int a = 0; a < SW_PEER_ANSWER_COUNT; a++)
            mset_addv(m, req, (double)l->requests[k][a], "kind", kind, "answer", answer_names[a],
                      (const char *)NULL);
        for (int a = 0; a < SW_RECEIVED_COUNT; a++)
            mset_addv(m, got, (double)l->messages[k][a], "kind", kind, "answer", received_names[a],
                      (const char *)NULL);
    }
}
