/* http_server.c: libmicrohttpd with an internal epoll thread pool; /metrics from shared, refcounted
 * response objects; a route table for the rest (see http_server.h).
 *
 * Every request is decided from its line and head first (http_route.h): the URI when MHD has
 * read the request line (the URI log callback, which runs before MHD parses the query), the
 * rest on the first call of on_request, before any body is read. A refusal queued on that
 * first call makes MHD close the connection after the answer without reading further, which
 * is what a refused body and ambiguous framing need. Connections are admitted, registered,
 * timed and closed through http_conns.h; a watchdog thread enforces their read deadlines.
 *
 * A request for a route is copied out of MHD (method, path, headers, query, body) into a
 * struct pending. Plain routes run at once on the MHD thread. HTTP_ON_LOOP routes suspend the
 * connection and queue the pending request to the loop; the loop runs the handler and resumes
 * the connection, and MHD calls on_request once more to send the answer. HTTP_ON_WORKER routes
 * go the same way to the server's worker thread, which runs them one at a time. A small reaper
 * thread answers 503 for what the loop or the worker has not taken by its deadline, so a
 * stalled loop never leaves a client waiting forever, and no MHD thread ever waits for the
 * loop, or for a long handler (/federate) to finish. */
#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "clock.h"
#include "log.h"
#include "loop.h"
#include "web_auth.h"
#include "xalloc.h"

#define HTTP_THREADS   4
#define MAX_ROUTES     32
#define REAP_TICK_MS   250         /* how often read deadlines are checked */
#define MHD_POOL_BYTES (32 * 1024) /* per connection: the request line, head, parsed values */
/* How long a daemon replaced by a TLS change serves its open connections at most: longer
 * than MHD's idle timeout and the loop's deadline, so only a client that keeps a connection
 * busy all that time has it closed (between answers, or cutting one short). */
#define RETIRE_MAX_MS 60000

/* What /metrics serves: a snapshot and the MHD responses made from it. Every response holds
 * a reference, dropped by MHD's free callback when the last connection using it is done. */
struct served {
    atomic_int refs;
    struct snapshot *snap;
    pthread_mutex_t lock;
    struct MHD_Response *resp[2][2]; /* [openmetrics][gzip] */
    bool retired;                    /* replaced: responses made now are not kept */
};

/* Requests waiting for the loop or the worker, oldest first. */
struct pqueue {
    struct pending *head, *tail;
    size_t len;
};

/* A daemon replaced by a TLS change (http_server_set_tls): it accepts nothing more and serves
 * its open connections until the last one closes; the watchdog then stops it. It keeps the
 * TLS settings it was started with. */
struct retired {
    struct MHD_Daemon *mhd;
    struct web_config *tls;
    char *tls_priorities;
    struct retired *next;
    int64_t until_ms; /* stopped then even with connections open */
};

struct http_server {
    struct MHD_Daemon *mhd;
    unsigned mhd_flags; /* the address flags it was started with, for its successors */
    struct drwatch_stats *stats;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    bool any_address;
    uint16_t port;
    pthread_mutex_t lock; /* guards current */
    struct served *current;
    struct http_route routes[MAX_ROUTES]; /* routes[0] is /metrics, served here */
    size_t nroutes;
    struct http_limits lim;
    struct http_conns *conns;
    atomic_size_t body_bytes; /* reserved for request bodies, at most CAP_HTTP_BODY_TOTAL */
    /* Requests for HTTP_ON_LOOP and HTTP_ON_WORKER routes, oldest first, guarded by qlock. */
    struct loop *loop;
    struct loop_async *async;
    pthread_mutex_t qlock;
    pthread_cond_t qcond; /* wakes the watchdog */
    struct pqueue loopq, workq;
    size_t suspended;            /* connections queued or running (suspended), under qlock */
    struct MHD_Daemon *stopping; /* a retired daemon being stopped: it may suspend nothing */
    bool reaper_stop;
    pthread_cond_t wcond; /* wakes the worker */
    pthread_t worker;
    bool worker_stop, worker_running;
    pthread_t reaper; /* the watchdog: loop deadlines and read deadlines */
    bool reaper_running;
    int64_t next_reap_ms;
    /* --web.config.file: basic auth, headers and client certificates are checked per request
     * with the config in force; tls is the one the current daemon (mhd) was started with, read
     * by MHD threads under lock. retired: the daemons it replaced, under lock. */
    struct web_auth *web;
    struct web_config *tls;
    char *tls_priorities;
    struct retired *retired;
    atomic_int_fast64_t last_refusal_log_ms;
};

enum pending_stage { PENDING_READING, PENDING_QUEUED, PENDING_RUNNING, PENDING_ANSWERED };

/* One request other than a plain GET or HEAD of /metrics, from its first call (or its URI)
 * to on_completed. */
struct pending {
    struct http_server *s;
    struct MHD_Connection *conn;
    const struct http_route *rt; /* NULL: answered without a handler (a refusal) */
    enum http_handler stat;      /* what the answer is counted under */
    enum pending_stage stage;    /* qlock guards it while the request is queued or running */
    int64_t deadline_ms;
    struct pending *next;
    char *method;    /* req.method */
    char *path;      /* req.path: the request's path (a route ending in '/' takes what follows) */
    char allow[64];  /* the Allow header of a 405 */
    void *blocks[2]; /* the copies of headers and query (copy_values) */
    struct http_request req;
    struct buf body;
    size_t reserved; /* of the server's body_bytes */
    bool too_large;
    bool close;        /* answer with Connection: close */
    bool unauthorized; /* answer with WWW-Authenticate: Bearer */
    bool basic;        /* answer with WWW-Authenticate: Basic (basic_auth_users) */
    struct http_reply rep;
};

/* What *con_cls points at between the two calls for a GET or HEAD (no state to keep). */
static const char bodyless_marker;

/* ---- served snapshots ---- */

static void served_unref(struct served *sv)
{
    if (!sv || atomic_fetch_sub(&sv->refs, 1) != 1) return;
    snapshot_unref(sv->snap);
    pthread_mutex_destroy(&sv->lock);
    free(sv);
}

static void response_released(void *cls)
{
    served_unref(cls);
}

/* Drops the server's hold on the responses; MHD frees each when its connections finish. */
static void served_retire(struct served *sv)
{
    pthread_mutex_lock(&sv->lock);
    sv->retired = true;
    for (int f = 0; f < 2; f++) {
        for (int g = 0; g < 2; g++) {
            if (sv->resp[f][g]) MHD_destroy_response(sv->resp[f][g]);
            sv->resp[f][g] = NULL;
        }
    }
    pthread_mutex_unlock(&sv->lock);
    served_unref(sv);
}

/* The web config's http_server_config.headers, on every answer. */
static void add_web_headers(struct http_server *s, struct MHD_Response *r)
{
    struct web_config *c = s->web ? web_auth_get(s->web) : NULL;
    for (size_t i = 0; c && i < c->nheaders; i++)
        MHD_add_response_header(r, c->headers[i].name, c->headers[i].value);
    web_config_unref(c);
}

/* The response for a variant, made on first use; sv->lock must be held, and stays held while
 * the caller queues the response: a publish retires sv (destroying its responses) under that
 * lock, and MHD_queue_response takes a reference of its own, so the response cannot be
 * destroyed between being found and being queued. *transient is set when sv was retired
 * meanwhile: the caller then destroys its reference after queueing the response. The web
 * config's headers are those of that moment: a reload's reach /metrics with the next snapshot. */
static struct MHD_Response *served_response(struct http_server *s, struct served *sv,
                                            enum expo_format f, bool gzip, bool *transient)
{
    struct MHD_Response *r = sv->resp[f == EXPO_OPENMETRICS][gzip];
    *transient = false;
    if (!r) {
        const struct iovec *iov;
        size_t n, total;
        if (snapshot_render_iov(sv->snap, f, gzip, &iov, &n, &total) == 0) {
            /* MHD copies the vector, not the pieces, which the snapshot keeps alive. */
            struct MHD_IoVec *mv = xmalloc((n ? n : 1) * sizeof(*mv));
            for (size_t i = 0; i < n; i++)
                mv[i] = (struct MHD_IoVec){iov[i].iov_base, iov[i].iov_len};
            atomic_fetch_add(&sv->refs, 1);
            r = MHD_create_response_from_iovec(mv, (unsigned)n, response_released, sv);
            free(mv);
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                    f == EXPO_OPENMETRICS ? EXPO_CONTENT_TYPE_OPENMETRICS
                                                          : EXPO_CONTENT_TYPE_TEXT);
            MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept, Accept-Encoding");
            if (gzip) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
            add_web_headers(s, r);
            if (sv->retired)
                *transient = true;
            else
                sv->resp[f == EXPO_OPENMETRICS][gzip] = r;
        }
    }
    return r;
}

void http_publish(struct http_server *s, struct snapshot *snap)
{
    struct served *sv = xcalloc(1, sizeof(*sv));
    atomic_init(&sv->refs, 1);
    snapshot_ref(snap);
    sv->snap = snap;
    pthread_mutex_init(&sv->lock, NULL);
    pthread_mutex_lock(&s->lock);
    struct served *old = s->current;
    s->current = sv;
    pthread_mutex_unlock(&s->lock);
    if (old) served_retire(old);
}

static struct served *served_get(struct http_server *s)
{
    pthread_mutex_lock(&s->lock);
    struct served *sv = s->current;
    if (sv) atomic_fetch_add(&sv->refs, 1);
    pthread_mutex_unlock(&s->lock);
    return sv;
}

struct snapshot *http_current_snapshot(struct http_server *s)
{
    struct served *sv = served_get(s);
    if (!sv) return NULL;
    struct snapshot *snap = sv->snap;
    snapshot_ref(snap);
    served_unref(sv);
    return snap;
}

/* ---- replies ---- */

static void count(struct http_server *s, enum http_handler h, unsigned status)
{
    atomic_fetch_add_explicit(&s->stats->http_requests[h][http_code_of(status)], 1,
                              memory_order_relaxed);
}

/* The connection's record (http_conns.h), or NULL. */
static struct http_conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

/* The request is read whole (or will not be read): its read deadline stops. */
static void request_read(struct MHD_Connection *c)
{
    struct http_conn *hc = conn_of(c);
    if (hc) http_conn_request_read(hc);
}

/* Queues rep as the answer; its body is handed to MHD, not copied (a /federate answer may be
 * large), and rep->body is empty afterwards. */
static enum MHD_Result send_reply(struct http_server *s, struct MHD_Connection *c,
                                  struct http_reply *rep, const char *allow, bool close,
                                  const char *challenge)
{
    struct MHD_Response *r;
    if (rep->body.len) {
        size_t len;
        char *data = buf_steal(&rep->body, &len);
        r = MHD_create_response_from_buffer_with_free_callback(len, data, free);
    } else {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            rep->content_type ? rep->content_type : "text/plain; charset=utf-8");
    if (rep->content_encoding)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, rep->content_encoding);
    if (rep->vary) MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, rep->vary);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (challenge) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, challenge);
    add_web_headers(s, r);
    if (close) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    request_read(c);
    enum MHD_Result ret = MHD_queue_response(c, rep->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result simple_reply(struct http_server *s, struct MHD_Connection *c,
                                    enum http_handler h, unsigned status, const char *text)
{
    struct http_reply rep = {.status = status};
    buf_init(&rep.body, CAP_HTTP_ERROR);
    (void)buf_puts(&rep.body, text);
    count(s, h, status);
    enum MHD_Result ret = send_reply(s, c, &rep, NULL, false, NULL);
    buf_free(&rep.body);
    return ret;
}

static enum MHD_Result serve_metrics(struct http_server *s, struct MHD_Connection *c)
{
    struct served *sv = served_get(s);
    if (!sv)
        return simple_reply(s, c, HANDLER_METRICS, 503,
                            "503 service unavailable: no collection has finished yet\n");
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
    bool transient;
    pthread_mutex_lock(&sv->lock);
    struct MHD_Response *r =
        served_response(s, sv, http_negotiate_format(accept), http_accepts_gzip(ae), &transient);
    enum MHD_Result ret = MHD_NO;
    if (r) {
        count(s, HANDLER_METRICS, 200);
        request_read(c);
        ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        if (transient) MHD_destroy_response(r);
    }
    pthread_mutex_unlock(&sv->lock);
    if (!r) {
        ret = simple_reply(s, c, HANDLER_METRICS, 500,
                           "500 internal server error: rendering the metrics failed\n");
    }
    served_unref(sv);
    return ret;
}

/* ---- pending requests ---- */

static void reply_text(struct http_reply *rep, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_text(struct http_reply *rep, unsigned status, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    rep->status = status;
    rep->content_type = rep->content_encoding = rep->vary = NULL;
    buf_reset(&rep->body);
    (void)buf_puts(&rep->body, text);
}

/* Copies of a request's header fields or query parameters: one block holding the array and
 * the strings, sized in a first pass. At most max values are copied; *over says there were
 * more. */
struct kv_copy {
    size_t n, max, bytes;
    bool over;
    struct http_kv *v;
    char *next;
};

static enum MHD_Result kv_measure(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    struct kv_copy *k = cls;
    if (k->n == k->max) {
        k->over = true;
        return MHD_NO;
    }
    k->n++;
    k->bytes += strlen(key) + strlen(value ? value : "") + 2;
    return MHD_YES;
}

static char *kv_put(struct kv_copy *k, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = memcpy(k->next, s, n);
    k->next += n;
    return p;
}

static enum MHD_Result kv_fill(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    struct kv_copy *k = cls;
    if (k->n == k->max) return MHD_NO;
    struct http_kv *e = &k->v[k->n++];
    e->key = kv_put(k, key);
    e->value = kv_put(k, value ? value : "");
    return MHD_YES;
}

/* Returns the block (the caller frees it), with *out and *n filled. */
static void *copy_values(struct MHD_Connection *c, enum MHD_ValueKind kind, size_t max,
                         const struct http_kv **out, size_t *n, bool *over)
{
    struct kv_copy k = {.max = max};
    MHD_get_connection_values(c, kind, kv_measure, &k);
    void *block = xmalloc(k.n * sizeof(struct http_kv) + k.bytes + 1);
    k.v = block;
    k.next = (char *)block + k.n * sizeof(struct http_kv);
    k.n = 0;
    MHD_get_connection_values(c, kind, kv_fill, &k);
    *out = k.v;
    *n = k.n;
    if (over) *over = k.over;
    return block;
}

static struct pending *pending_new(struct http_server *s, struct MHD_Connection *c)
{
    struct pending *p = xcalloc(1, sizeof(*p));
    p->s = s;
    p->conn = c;
    p->stat = HANDLER_OTHER;
    buf_init(&p->body, 1);
    buf_init(&p->rep.body, CAP_HTTP_REPLY);
    p->rep.status = 200;
    return p;
}

static void pending_free(struct pending *p)
{
    struct http_server *s = p->s;
    if (p->reserved) {
        size_t now = atomic_fetch_sub(&s->body_bytes, p->reserved) - p->reserved;
        atomic_store(&s->stats->http_body_bytes, now);
    }
    free(p->method);
    free(p->path);
    free(p->blocks[0]);
    free(p->blocks[1]);
    buf_free(&p->body);
    buf_free(&p->rep.body);
    free(p);
}

/* Sets aside n bytes of CAP_HTTP_BODY_TOTAL for p's body, or returns false. */
static bool reserve_body(struct pending *p, size_t n)
{
    struct http_server *s = p->s;
    size_t before = atomic_fetch_add(&s->body_bytes, n);
    if (n > CAP_HTTP_BODY_TOTAL || before > CAP_HTTP_BODY_TOTAL - n) {
        atomic_fetch_sub(&s->body_bytes, n);
        atomic_fetch_add(&s->stats->http_bodies_refused, 1);
        return false;
    }
    p->reserved = n;
    atomic_store(&s->stats->http_body_bytes, before + n);
    return true;
}

/* The handler of p's route on the calling thread. */
static void pending_run(struct pending *p)
{
    p->req.body = p->body.data ? p->body.data : "";
    p->req.body_len = p->body.len;
    p->rt->fn(p->rt->ctx, &p->req, &p->rep);
}

/* ---- the loop queue ---- */

static void queue_push(struct pqueue *q, struct pending *p)
{
    p->next = NULL;
    if (q->tail)
        q->tail->next = p;
    else
        q->head = p;
    q->tail = p;
    q->len++;
}

static struct pending *queue_pop(struct pqueue *q)
{
    struct pending *p = q->head;
    if (!p) return NULL;
    q->head = p->next;
    if (!q->head) q->tail = NULL;
    q->len--;
    return p;
}

/* Suspends p's connection and puts p on q (the loop's or the worker's) with a deadline. Under
 * qlock. Returns false (p untouched) when q holds max already or the server is closing. */
static bool queue_add(struct http_server *s, struct pqueue *q, struct pending *p, size_t max,
                      int64_t deadline_ms)
{
    if (s->reaper_stop || s->worker_stop || q->len >= max) return false;
    if (s->stopping) {
        const union MHD_ConnectionInfo *d =
            MHD_get_connection_info(p->conn, MHD_CONNECTION_INFO_DAEMON);
        if (!d || d->daemon == s->stopping) return false;
    }
    MHD_suspend_connection(p->conn);
    s->suspended++;
    p->stage = PENDING_QUEUED;
    p->deadline_ms = time_mono_ms() + deadline_ms;
    queue_push(q, p);
    if (q->len == 1) pthread_cond_signal(&s->qcond); /* the watchdog watches the head */
    return true;
}

/* Hands p to the loop. Returns false (p untouched) when the queue is full or the server is
 * closing. */
static bool queue_for_loop(struct http_server *s, struct pending *p)
{
    pthread_mutex_lock(&s->qlock);
    bool ok = queue_add(s, &s->loopq, p, HTTP_LOOP_QUEUE_MAX, HTTP_LOOP_DEADLINE_MS);
    pthread_mutex_unlock(&s->qlock);
    if (ok) loop_async_send(s->async);
    return ok;
}

/* Hands p to the worker, the same way. */
static bool queue_for_worker(struct http_server *s, struct pending *p)
{
    pthread_mutex_lock(&s->qlock);
    bool ok = queue_add(s, &s->workq, p, HTTP_WORKER_QUEUE_MAX, HTTP_WORKER_DEADLINE_MS);
    if (ok) pthread_cond_signal(&s->wcond);
    pthread_mutex_unlock(&s->qlock);
    return ok;
}

/* Loop thread: runs every queued request, then gives each connection back to MHD. */
static void on_loop_requests(void *arg)
{
    struct http_server *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->qlock);
        struct pending *p = queue_pop(&s->loopq);
        if (p) p->stage = PENDING_RUNNING;
        pthread_mutex_unlock(&s->qlock);
        if (!p) return;
        pending_run(p);
        pthread_mutex_lock(&s->qlock);
        p->stage = PENDING_ANSWERED;
        pthread_mutex_unlock(&s->qlock);
        MHD_resume_connection(p->conn); /* p belongs to the connection again */
        pthread_mutex_lock(&s->qlock);
        s->suspended--; /* after the resume: a daemon stopped from now on resumes it first */
        pthread_mutex_unlock(&s->qlock);
    }
}

/* The worker thread: runs the requests of HTTP_ON_WORKER routes one at a time, then gives
 * each connection back to MHD. */
static void *worker_main(void *arg)
{
    struct http_server *s = arg;
    pthread_mutex_lock(&s->qlock);
    while (!s->worker_stop) {
        struct pending *p = queue_pop(&s->workq);
        if (!p) {
            pthread_cond_wait(&s->wcond, &s->qlock);
            continue;
        }
        p->stage = PENDING_RUNNING;
        pthread_mutex_unlock(&s->qlock);
        pending_run(p);
        pthread_mutex_lock(&s->qlock);
        p->stage = PENDING_ANSWERED;
        MHD_resume_connection(p->conn); /* p belongs to the connection again */
        s->suspended--;
    }
    pthread_mutex_unlock(&s->qlock);
    return NULL;
}

/* Answers 503 for requests of q that who (the loop, the worker) has not taken by their
 * deadline. Under qlock. */
static void expire_requests(struct http_server *s, struct pqueue *q, const char *who,
                            int deadline_ms, int64_t now)
{
    for (struct pending *p; (p = q->head) && p->deadline_ms <= now;) {
        queue_pop(q);
        reply_text(&p->rep, 503,
                   "503 service unavailable: drwatch's %s did not take this "
                   "request within %ds; see the log\n",
                   who, deadline_ms / 1000);
        p->stage = PENDING_ANSWERED;
        log_warn("http", "%s %s: the %s did not take it in time: answered 503", p->req.method,
                 p->req.path, who);
        MHD_resume_connection(p->conn);
        s->suspended--;
    }
}

/* The watchdog: answers loop requests past their deadline, and every REAP_TICK_MS shuts
 * down the connections past their read deadline. */
static void retired_free(struct retired *r)
{
    MHD_stop_daemon(r->mhd);
    web_config_unref(r->tls);
    free(r->tls_priorities);
    free(r);
}

/* Takes the first retired daemon that may stop now off the list: one without connections (none
 * can come: it no longer listens), or any when all is set (the server stops, no connection
 * is suspended any more). Returns NULL, or in *overdue one past its RETIRE_MAX_MS (left on
 * the list: it may stop only while no connection is suspended). */
static struct retired *retired_take(struct http_server *s, bool all, struct retired **overdue)
{
    int64_t now = time_mono_ms();
    *overdue = NULL;
    pthread_mutex_lock(&s->lock);
    struct retired *r = NULL;
    for (struct retired **pp = &s->retired; *pp; pp = &(*pp)->next) {
        const union MHD_DaemonInfo *i =
            MHD_get_daemon_info((*pp)->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (all || (i && i->num_connections == 0)) {
            r = *pp;
            *pp = r->next;
            break;
        }
        if (now >= (*pp)->until_ms) *overdue = *pp;
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

/* Stops the retired daemons that are done (see retired_take), and one overdue daemon when no
 * connection is suspended: MHD aborts when a stopped daemon has one, so it may suspend none
 * while it stops (queue_add refuses them: 503). Watchdog thread, or http_server_free. */
static void stop_retired(struct http_server *s, bool all)
{
    struct retired *r, *overdue;
    while ((r = retired_take(s, all, &overdue))) retired_free(r);
    if (!overdue) return;
    pthread_mutex_lock(&s->qlock);
    bool can = s->suspended == 0;
    if (can) s->stopping = overdue->mhd;
    pthread_mutex_unlock(&s->qlock);
    if (!can) return;
    pthread_mutex_lock(&s->lock);
    for (struct retired **pp = &s->retired; *pp; pp = &(*pp)->next)
        if (*pp == overdue) {
            *pp = overdue->next;
            break;
        }
    pthread_mutex_unlock(&s->lock);
    log_info("http", "closing the connections a replaced TLS listener still served after %d s",
             RETIRE_MAX_MS / 1000);
    retired_free(overdue);
    pthread_mutex_lock(&s->qlock);
    s->stopping = NULL;
    pthread_mutex_unlock(&s->qlock);
}

static void *reaper_main(void *arg)
{
    struct http_server *s = arg;
    pthread_mutex_lock(&s->qlock);
    while (!s->reaper_stop) {
        int64_t now = time_mono_ms();
        expire_requests(s, &s->loopq, "loop", HTTP_LOOP_DEADLINE_MS, now);
        expire_requests(s, &s->workq, "HTTP worker", HTTP_WORKER_DEADLINE_MS, now);
        if (now >= s->next_reap_ms) {
            s->next_reap_ms = now + REAP_TICK_MS;
            pthread_mutex_unlock(&s->qlock); /* never hold both locks */
            http_conns_reap(s->conns, now);
            stop_retired(s, false);
            pthread_mutex_lock(&s->qlock);
            continue;
        }
        int64_t until_ms = s->next_reap_ms;
        for (const struct pqueue *q = &s->loopq; q; q = q == &s->loopq ? &s->workq : NULL)
            if (q->head && q->head->deadline_ms < until_ms) until_ms = q->head->deadline_ms;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        int64_t wait = until_ms - now;
        until.tv_sec += wait / 1000;
        until.tv_nsec += (wait % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&s->qcond, &s->qlock, &until);
    }
    pthread_mutex_unlock(&s->qlock);
    return NULL;
}

/* ---- MHD callbacks ---- */

static enum MHD_Result answer(struct pending *p)
{
    count(p->s, p->rt ? p->rt->stat : p->stat, p->rep.status);
    return send_reply(p->s, p->conn, &p->rep, p->allow[0] ? p->allow : NULL, p->close,
                      p->basic          ? "Basic"
                      : p->unauthorized ? "Bearer"
                                        : NULL);
}

/* The request is complete (or its body is not read): answer a refusal, run a plain route, or
 * queue a loop route. */
static enum MHD_Result dispatch(struct pending *p)
{
    request_read(p->conn);
    if (!p->rt) return answer(p);
    if (p->too_large) {
        reply_text(&p->rep, 413, "413 request body over %zu bytes for %s\n", p->rt->max_body,
                   p->rt->path);
        return answer(p);
    }
    if (p->rt->flags & HTTP_ON_WORKER) {
        if (queue_for_worker(p->s, p)) return MHD_YES;
        reply_text(&p->rep, 503,
                   "503 service unavailable: %d requests already wait for drwatch's HTTP "
                   "worker\n",
                   HTTP_WORKER_QUEUE_MAX);
        return answer(p);
    }
    if (!(p->rt->flags & HTTP_ON_LOOP)) {
        pending_run(p);
        return answer(p);
    }
    if (queue_for_loop(p->s, p)) return MHD_YES;
    reply_text(&p->rep, 503,
               "503 service unavailable: %d requests already wait for drwatch's "
               "loop\n",
               HTTP_LOOP_QUEUE_MAX);
    return answer(p);
}

/* Makes p the refusal of verdict v. */
static void refuse(struct pending *p, const struct http_verdict *v)
{
    reply_text(&p->rep, v->status, "%s", v->text);
    snprintf(p->allow, sizeof(p->allow), "%s", v->allow);
    p->close = v->close;
    p->unauthorized = v->unauthorized;
    if (v->route) p->stat = v->route->stat;
    p->stage = PENDING_ANSWERED;
}

/* Takes the route v chose: copies the query and sets aside room for the body. Returns false
 * when p was refused instead. */
static bool accept_route(struct pending *p, const struct http_verdict *v)
{
    const struct http_route *rt = v->route;
    p->rt = rt;
    p->blocks[1] = copy_values(p->conn, MHD_GET_ARGUMENT_KIND, HTTP_MAX_QUERY_ARGS, &p->req.args,
                               &p->req.nargs, NULL);
    if (!v->body || v->skip_body) return true;
    /* A chunked body may take the route's whole cap; a declared one, its length. */
    size_t n = v->chunked ? rt->max_body : (size_t)v->body_len;
    if (reserve_body(p, n)) {
        buf_free(&p->body);
        buf_init(&p->body, n);
        return true;
    }
    p->rt = NULL;
    p->stat = rt->stat;
    p->close = true;
    p->stage = PENDING_ANSWERED;
    reply_text(&p->rep, 503,
               "503 service unavailable: request bodies already hold %zu bytes, the most "
               "drwatch takes at once; try again\n",
               (size_t)CAP_HTTP_BODY_TOTAL);
    return false;
}

/* Counts a refusal of the web config's checks, and logs one a minute at most: a stranger can
 * make them at will. */
static void web_refused(struct http_server *s, struct MHD_Connection *c, enum http_auth_failure why)
{
    atomic_fetch_add(&s->stats->http_auth_failures[why], 1);
    int64_t now = time_mono_ms();
    int_fast64_t last = atomic_load(&s->last_refusal_log_ms);
    if ((last && now - last < 60000) ||
        !atomic_compare_exchange_strong(&s->last_refusal_log_ms, &last, now))
        return;
    const union MHD_ConnectionInfo *a =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host[INET6_ADDRSTRLEN] = "?";
    const struct sockaddr *sa = a ? a->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof(host));
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof(host));
    log_warn("http",
             "refused a request from %s: %s (each refusal is counted in "
             "drwatch_http_auth_failures_total; logged once a minute at most)",
             host, http_auth_failure_name(why));
}

/* The web config's checks of a request: its client certificate (against the client_auth_type
 * of the current daemon's TLS settings, also for a connection a retired daemon still serves:
 * a stricter setting applies at once), then its Basic credentials (against the config in force).
 * Returns 0 to go on, 401 with v made the refusal, or -1 to close the connection: a certificate
 * that a Go server would have refused in the handshake gets no answer either. */
static int web_gate(struct http_server *s, struct MHD_Connection *c, struct http_verdict *v)
{
    if (!s->web) return 0;
    pthread_mutex_lock(&s->lock);
    enum web_client_auth ca = s->tls ? s->tls->client_auth : WEB_NO_CLIENT_CERT;
    pthread_mutex_unlock(&s->lock);
    if (ca != WEB_NO_CLIENT_CERT) {
        const union MHD_ConnectionInfo *i =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        enum web_peer pr = web_tls_peer(i ? i->tls_session : NULL, ca);
        if (pr != WEB_PEER_OK) {
            web_refused(s, c,
                        pr == WEB_PEER_MISSING ? HTTP_AUTH_CLIENT_CERT_MISSING
                                               : HTTP_AUTH_CLIENT_CERT_INVALID);
            return -1;
        }
    }
    struct web_config *cfg = web_auth_get(s->web);
    int rc = 0;
    if (cfg && cfg->nusers) {
        const char *auth =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        enum web_basic b = web_auth_basic(s->web, cfg, auth);
        if (b != WEB_BASIC_OK) {
            web_refused(s, c,
                        b == WEB_BASIC_MISSING ? HTTP_AUTH_NO_CREDENTIALS
                                               : HTTP_AUTH_WRONG_CREDENTIALS);
            v->status = 401;
            v->unauthorized = false;
            v->allow[0] = '\0';
            snprintf(v->text, sizeof(v->text), "401 unauthorized: %s\n",
                     b == WEB_BASIC_MISSING ? "basic auth required" : "wrong user or password");
            rc = 401;
        }
    }
    web_config_unref(cfg);
    return rc;
}

/* The first call for a request: its head is in. Decides it before any body is read. A
 * refusal of a request with a body (or untrusted framing) is answered now, which makes MHD
 * close the connection without reading on; other refusals wait for the next call, so that
 * the connection stays open. */
static enum MHD_Result first_call(struct http_server *s, struct MHD_Connection *c, const char *url,
                                  const char *method, void **con_cls)
{
    struct http_head h = {.method = method, .path = url};
    bool over;
    void *block = copy_values(c, MHD_HEADER_KIND, HTTP_MAX_HEADERS, &h.headers, &h.nheaders, &over);
    struct http_verdict v;
    if (over) {
        memset(&v, 0, sizeof(v));
        v.status = 431;
        v.close = true;
        snprintf(v.text, sizeof(v.text), "431 request header fields too large: over %d\n",
                 HTTP_MAX_HEADERS);
    } else {
        http_decide(s->routes, s->nroutes, &h, &v);
    }
    int gate = over ? 0 : web_gate(s, c, &v);
    if (gate < 0) {
        free(block);
        return MHD_NO;
    }
    if (v.status == 0 && !v.route->fn) { /* GET or HEAD /metrics */
        free(block);
        if (v.skip_body) return serve_metrics(s, c);
        *con_cls = (void *)&bodyless_marker;
        return MHD_YES;
    }
    struct pending *p = pending_new(s, c);
    *con_cls = p;
    p->blocks[0] = block;
    p->req.headers = h.headers;
    p->req.nheaders = h.nheaders;
    p->req.method = p->method = xstrdup(method);
    p->req.path = p->path = xstrdup(url);
    if (v.status) {
        refuse(p, &v);
        p->basic = gate == 401;
    } else if (accept_route(p, &v) && v.skip_body)
        return dispatch(p);
    if (p->stage == PENDING_ANSWERED && (v.body || p->close)) return answer(p);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    struct http_server *s = cls;
    /* libmicrohttpd 0.9.75 closes the connection after a response queued on the first call
     * (before it has finished reading the request): what is accepted is answered on a later
     * call so that clients keep their connection alive. */
    if (*con_cls == &bodyless_marker) return serve_metrics(s, c);
    struct pending *p = *con_cls;
    if (!p) {
        struct http_conn *hc = conn_of(c);
        if (hc && http_conn_refused(hc)) return MHD_NO;
        return first_call(s, c, url, method, con_cls);
    }
    if (p->stage == PENDING_ANSWERED) return answer(p);
    if (p->stage != PENDING_READING) return MHD_YES; /* suspended: not called */
    if (*upload_size) {
        if (p->rt && buf_append(&p->body, upload_data, *upload_size) < 0) p->too_large = true;
        *upload_size = 0;
        return MHD_YES;
    }
    return dispatch(p);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct http_server *s = cls;
    struct http_conn *hc = conn_of(c);
    if (hc) http_conn_answered(s->conns, hc);
    struct pending *p = *con_cls;
    *con_cls = NULL;
    if (!p || (const void *)p == &bodyless_marker) return;
    pending_free(p);
}

/* The request line is in, its query not yet parsed: the one moment to refuse a query that
 * would exhaust MHD's per-connection pool (see HTTP_MAX_QUERY_ARGS). The refusal becomes the
 * request's pending answer, sent on the first call. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct http_server *s = cls;
    struct http_conn *hc = conn_of(c);
    if (hc) http_conn_request_started(hc);
    struct http_verdict v;
    if (http_uri_check(uri, &v) == 0) return NULL;
    /* MHD 0.9.75 passes its own writable copy of the line and parses the query from it after
     * this call: ending the text after the '?' leaves it nothing to parse. */
    char *q = strchr(uri, '?');
    if (q) q[1] = '\0';
    struct pending *p = pending_new(s, c);
    refuse(p, &v);
    return p;
}

static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
    (void)len;
    struct http_server *s = cls;
    return http_conns_admit(s->conns, addr) ? MHD_YES : MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        http_conns_close(s->conns, *socket_context);
        *socket_context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *fd =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *a =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    *socket_context =
        http_conns_open(s->conns, a ? a->client_addr : NULL, fd ? fd->connect_fd : -1);
}

/* libmicrohttpd's own messages: what a stranger can trigger at will (malformed requests,
 * resets), so they go to the debug level instead of stderr. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http_server *s = cls;
    /* libmicrohttpd 0.9.75 has no callback for a failed TLS handshake (a plain-HTTP client,
     * a client that refuses our certificate, a protocol or cipher mismatch); this message,
     * logged where gnutls_handshake fails, is the one sign of it. */
    if (strstr(fmt, "handshake message out of context"))
        atomic_fetch_add(&s->stats->http_tls_handshake_errors, 1);
    if (!log_enabled(LOG_DEBUG)) return;
    char text[512];
    vsnprintf(text, sizeof(text), fmt, ap);
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == ' ')) text[--n] = '\0';
    log_debug("http", "libmicrohttpd: %s", text);
}

/* ---- set-up ---- */

static const char *kv_find(const struct http_kv *v, size_t n, const char *name, bool nocase)
{
    for (size_t i = 0; i < n; i++)
        if ((nocase ? strcasecmp(v[i].key, name) : strcmp(v[i].key, name)) == 0) return v[i].value;
    return NULL;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
    return kv_find(req->headers, req->nheaders, name, true);
}

const char *http_request_arg(const struct http_request *req, const char *name)
{
    return kv_find(req->args, req->nargs, name, false);
}

static int parse_listen(struct http_server *s, const char *listen, char *err, size_t errlen)
{
    const char *colon = strrchr(listen, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon[1] == '\0' || *end || port < 0 || port > 65535) {
        snprintf(err, errlen, "bad listen address \"%s\": expected host:port, :port or [v6]:port",
                 listen);
        return -1;
    }
    s->port = (uint16_t)port;
    size_t hl = (size_t)(colon - listen);
    char host[128];
    if (hl >= sizeof(host)) hl = sizeof(host) - 1;
    memcpy(host, listen, hl);
    host[hl] = '\0';
    if (hl == 0) {
        s->any_address = true;
        return 0;
    }
    struct sockaddr_in *v4 = (struct sockaddr_in *)&s->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&s->addr;
    if (host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) == 1) {
            v6->sin6_family = AF_INET6;
            v6->sin6_port = htons(s->port);
            s->addrlen = sizeof(*v6);
            return 0;
        }
    } else if (strcmp(host, "localhost") == 0 || inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        if (strcmp(host, "localhost") == 0) v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        v4->sin_family = AF_INET;
        v4->sin_port = htons(s->port);
        s->addrlen = sizeof(*v4);
        return 0;
    }
    snprintf(err, errlen, "bad listen address \"%s\": the host must be an IP address", listen);
    return -1;
}

struct http_server *http_server_new(const char *listen, const struct http_limits *lim,
                                    struct drwatch_stats *stats, struct loop *loop, char *err,
                                    size_t errlen)
{
    struct http_server *s = xcalloc(1, sizeof(*s));
    s->stats = stats;
    s->loop = loop;
    s->lim = *lim;
    s->conns = http_conns_new(lim, stats);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->qlock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->qcond, &ca);
    pthread_cond_init(&s->wcond, NULL);
    pthread_condattr_destroy(&ca);
    /* /metrics is a route for the decisions (404 list, 405, framing) but served here. */
    http_route_add(s, &(struct http_route){
                          .path = "/metrics", .methods = "GET,HEAD", .stat = HANDLER_METRICS});
    if (parse_listen(s, listen, err, errlen) < 0) {
        http_server_free(s);
        return NULL;
    }
    return s;
}

void http_route_add(struct http_server *s, const struct http_route *r)
{
    /* Both are programming errors, not runtime conditions. */
    if (s->nroutes == MAX_ROUTES || ((r->flags & HTTP_ON_LOOP) && !s->loop) ||
        ((r->flags & HTTP_ON_LOOP) && (r->flags & HTTP_ON_WORKER)))
        abort();
    struct http_route *c = &s->routes[s->nroutes++];
    *c = *r;
    c->path = xstrdup(r->path);
    c->methods = xstrdup(r->methods);
    c->off = r->off ? xstrdup(r->off) : NULL;
}

void http_server_set_web(struct http_server *s, struct web_auth *w)
{
    s->web = w;
    struct web_config *c = web_auth_get(w);
    if (c && c->tls) {
        s->tls = c;
        s->tls_priorities = web_config_priorities(c);
    } else {
        web_config_unref(c);
    }
}

/* libmicrohttpd's TLS options for s->tls (an empty list without it). MHD asks GnuTLS for a
 * client certificate only when it has a trust list: RequestClientCert and RequireAnyClientCert
 * without client_ca_file give it the server's own certificate, whose names then go out as
 * the acceptable issuers; any certificate is taken (web_tls_peer decides). */
static void tls_options(const struct web_config *c, char *prio, struct MHD_OptionItem o[5],
                        unsigned *flags)
{
    size_t n = 0;
    if (c) {
        *flags |= MHD_USE_TLS;
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, c->cert_pem};
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, c->key_pem};
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, prio};
        if (c->client_auth != WEB_NO_CLIENT_CERT)
            o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0,
                                             c->ca_pem ? c->ca_pem : c->cert_pem};
    }
    o[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

/* Starts a daemon with TLS c (NULL: plain HTTP) on the listening socket fd, or on a new one
 * bound to s's address when fd is -1. */
static struct MHD_Daemon *start_mhd(struct http_server *s, unsigned flags,
                                    const struct web_config *c, char *prio, int fd)
{
    struct MHD_OptionItem tls[5];
    tls_options(c, prio, tls, &flags);
    /* MHD splits its connection limit evenly between its threads, and each refuses past its
     * share without telling us: set high enough that http_conns always decides first. */
    unsigned mhd_limit = HTTP_THREADS * (s->lim.max_connections + 16);
    /* MHD's idle timeout restarts at every byte; the read deadline (http_conns) is what
     * bounds a request. This one closes what stalls while an answer is being sent. */
    unsigned idle_s = (unsigned)((s->lim.read_timeout_ms + 999) / 1000) + 1;
    return MHD_start_daemon(
        flags | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
            MHD_ALLOW_SUSPEND_RESUME,
        s->port, on_accept, s, on_request, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)HTTP_THREADS, MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MHD_POOL_BYTES, MHD_OPTION_CONNECTION_TIMEOUT,
        idle_s, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_ARRAY, tls,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        s->addrlen ? MHD_OPTION_SOCK_ADDR : MHD_OPTION_END, (struct sockaddr *)&s->addr,
        MHD_OPTION_END);
}

int http_server_start(struct http_server *s, char *err, size_t errlen)
{
    if (s->loop) s->async = loop_async_new(s->loop, on_loop_requests, s);
    if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0) {
        snprintf(err, errlen, "cannot start a thread: %s", strerror(errno));
        return -1;
    }
    s->reaper_running = true;
    if (pthread_create(&s->worker, NULL, worker_main, s) != 0) {
        snprintf(err, errlen, "cannot start a thread: %s", strerror(errno));
        return -1;
    }
    s->worker_running = true;
    if (s->any_address) {
        s->mhd_flags = MHD_USE_DUAL_STACK;
        s->mhd = start_mhd(s, s->mhd_flags, s->tls, s->tls_priorities, -1);
        if (!s->mhd) { /* no IPv6 here: IPv4 only */
            s->mhd_flags = 0;
            s->mhd = start_mhd(s, s->mhd_flags, s->tls, s->tls_priorities, -1);
        }
    } else {
        s->mhd_flags = s->addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0;
        s->mhd = start_mhd(s, s->mhd_flags, s->tls, s->tls_priorities, -1);
    }
    if (!s->mhd) {
        snprintf(err, errlen, "cannot listen on port %u: address in use or not permitted", s->port);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    if (info) s->port = info->port;
    return 0;
}

/* The new daemon starts on a duplicate of the listening socket before the current one is
 * quiesced: if it cannot start, nothing has changed; once it runs, there is never a moment
 * without a listener, and no port to race for. Both accept for that instant, which is
 * harmless: what the old one takes is served with the old certificate. The old one keeps
 * serving its open connections (keep-alive ones too: a client loses nothing) until they
 * close; MHD's idle timeout bounds the idle ones. */
int http_server_set_tls(struct http_server *s, struct web_config *c, char *err, size_t errlen)
{
    if (!s->mhd) {
        snprintf(err, errlen, "the listener has not started");
        return -1;
    }
    const union MHD_DaemonInfo *li = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_LISTEN_FD);
    int fd = li ? dup(li->listen_fd) : -1;
    if (fd < 0) {
        snprintf(err, errlen, "cannot duplicate the listening socket: %s", strerror(errno));
        return -1;
    }
    struct web_config *tls = c && c->tls ? web_config_ref(c) : NULL;
    char *prio = tls ? web_config_priorities(tls) : NULL;
    struct MHD_Daemon *d = start_mhd(s, s->mhd_flags, tls, prio, fd);
    if (!d) {
        close(fd);
        web_config_unref(tls);
        free(prio);
        snprintf(err, errlen, "libmicrohttpd cannot start a listener with the new TLS settings");
        return -1;
    }
    MHD_socket old_fd = MHD_quiesce_daemon(s->mhd);
    if (old_fd != MHD_INVALID_SOCKET) close(old_fd);
    struct retired *r = xcalloc(1, sizeof(*r));
    pthread_mutex_lock(&s->lock);
    *r = (struct retired){s->mhd, s->tls, s->tls_priorities, s->retired,
                          time_mono_ms() + RETIRE_MAX_MS};
    s->retired = r;
    s->mhd = d;
    s->tls = tls;
    s->tls_priorities = prio;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

uint16_t http_server_port(const struct http_server *s)
{
    return s->port;
}

/* Stops the watchdog and the worker (which finishes the request it runs) and answers 503 for
 * every request still queued, so that no connection is suspended when MHD stops (it aborts if
 * one is). New loop and worker requests are refused from now on. */
static void drain_queues(struct http_server *s)
{
    pthread_mutex_lock(&s->qlock);
    s->reaper_stop = s->worker_stop = true;
    pthread_cond_broadcast(&s->qcond);
    pthread_cond_broadcast(&s->wcond);
    pthread_mutex_unlock(&s->qlock);
    if (s->reaper_running) pthread_join(s->reaper, NULL);
    if (s->worker_running) pthread_join(s->worker, NULL);
    s->reaper_running = s->worker_running = false;
    pthread_mutex_lock(&s->qlock);
    for (struct pending *p; (p = queue_pop(&s->loopq)) || (p = queue_pop(&s->workq));) {
        reply_text(&p->rep, 503, "503 service unavailable: drwatch is stopping\n");
        p->stage = PENDING_ANSWERED;
        MHD_resume_connection(p->conn);
        s->suspended--;
    }
    pthread_mutex_unlock(&s->qlock);
}

void http_server_free(struct http_server *s)
{
    if (!s) return;
    drain_queues(s);
    if (s->mhd) MHD_stop_daemon(s->mhd); /* closes every connection: http_conns empties */
    stop_retired(s, true);
    loop_async_free(s->async);
    if (s->current) served_retire(s->current);
    for (size_t i = 0; i < s->nroutes; i++) {
        free((char *)s->routes[i].path);
        free((char *)s->routes[i].methods);
        free((char *)s->routes[i].off);
    }
    http_conns_free(s->conns);
    web_config_unref(s->tls);
    free(s->tls_priorities);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->qlock);
    pthread_cond_destroy(&s->qcond);
    pthread_cond_destroy(&s->wcond);
    free(s);
}
