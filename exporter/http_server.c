/* http_server.c: libmicrohttpd with an internal epoll thread pool; /metrics from shared, refcounted
 * response objects; a route table for the rest (see http_server.h). */
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
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"
#include "buf.h"

#define HTTP_MAX_BODY (1u << 20)
#define HTTP_THREADS  4
#define MAX_ROUTES    32

struct route {
    char *path;
    char *methods;
    enum http_handler stat;
    http_route_fn fn;
    void *ctx;
};

/* What /metrics serves: a snapshot and the MHD responses made from it. Every response holds
 * a reference, dropped by MHD's free callback when the last connection using it is done. */
struct served {
    atomic_int refs;
    struct snapshot *snap;
    pthread_mutex_t lock;
    struct MHD_Response *resp[2][2]; /* [openmetrics][gzip] */
    bool retired;                    /* replaced: responses made now are not kept */
};

struct http_server {
    struct MHD_Daemon *mhd;
    struct drwatch_stats *stats;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    bool any_address;
    uint16_t port;
    pthread_mutex_t lock; /* guards current */
    struct served *current;
    struct route routes[MAX_ROUTES];
    size_t nroutes;
};

struct conn_state {
    struct buf body;
    bool too_large;
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

/* The response for a variant, made on first use. *transient is set when sv was retired
 * meanwhile: the caller then destroys its reference after queueing the response. */
static struct MHD_Response *served_response(struct served *sv, enum expo_format f, bool gzip,
                                            bool *transient)
{
    pthread_mutex_lock(&sv->lock);
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
            if (sv->retired)
                *transient = true;
            else
                sv->resp[f == EXPO_OPENMETRICS][gzip] = r;
        }
    }
    pthread_mutex_unlock(&sv->lock);
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

/* ---- negotiation ---- */

/* The q value of one media range ("type/sub;a=b;q=0.5"), 1 when absent. */
static double media_q(const char *p, const char *end)
{
    for (const char *q = p; q + 2 < end; q++) {
        if (*q == ';') {
            const char *t = q + 1;
            while (t < end && *t == ' ') t++;
            if (end - t > 2 && (t[0] == 'q' || t[0] == 'Q') && t[1] == '=') return atof(t + 2);
        }
    }
    return 1.0;
}

enum expo_format http_negotiate_format(const char *accept)
{
    if (!accept) return EXPO_TEXT;
    double om = 0, text = 0;
    for (const char *p = accept; *p;) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        while (p < end && *p == ' ') p++;
        size_t n = (size_t)(end - p);
        double q = media_q(p, end);
        /* OpenMetrics 1.0.0, or OpenMetrics without a version (which means the newest). */
        if (n >= 28 && strncasecmp(p, "application/openmetrics-text", 28) == 0) {
            const char *v = strstr(p, "version=");
            if ((!v || v >= end || strncmp(v + 8, "1.0.0", 5) == 0) && q > om) om = q;
        } else if (n >= 10 && strncasecmp(p, "text/plain", 10) == 0 && q > text) {
            text = q;
        }
        p = *end ? end + 1 : end;
    }
    return om > 0 && om >= text ? EXPO_OPENMETRICS : EXPO_TEXT;
}

bool http_accepts_gzip(const char *ae)
{
    if (!ae) return false;
    for (const char *p = ae; *p;) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        while (p < end && *p == ' ') p++;
        if ((end - p >= 4 && strncasecmp(p, "gzip", 4) == 0 &&
             (p + 4 == end || p[4] == ';' || p[4] == ' ')) ||
            (end - p >= 1 && *p == '*' && (p + 1 == end || p[1] == ';')))
            return media_q(p, end) > 0;
        p = *end ? end + 1 : end;
    }
    return false;
}

/* ---- replies ---- */

static void count(struct http_server *s, enum http_handler h, unsigned status)
{
    atomic_fetch_add_explicit(&s->stats->http_requests[h][http_code_of(status)], 1,
                              memory_order_relaxed);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, const struct http_reply *rep,
                                  const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        rep->body.len, rep->body.data ? rep->body.data : (void *)"", MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            rep->content_type ? rep->content_type : "text/plain; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(c, rep->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result simple_reply(struct http_server *s, struct MHD_Connection *c,
                                    enum http_handler h, unsigned status, const char *allow,
                                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static enum MHD_Result simple_reply(struct http_server *s, struct MHD_Connection *c,
                                    enum http_handler h, unsigned status, const char *allow,
                                    const char *fmt, ...)
{
    struct http_reply rep = {.status = status};
    buf_init(&rep.body, 0);
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    buf_puts(&rep.body, text);
    count(s, h, status);
    enum MHD_Result ret = send_reply(c, &rep, allow);
    buf_free(&rep.body);
    return ret;
}

static enum MHD_Result serve_metrics(struct http_server *s, struct MHD_Connection *c)
{
    struct served *sv = served_get(s);
    if (!sv)
        return simple_reply(s, c, HANDLER_METRICS, 503, NULL,
                            "503 service unavailable: no collection has finished yet\n");
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
    bool transient;
    struct MHD_Response *r =
        served_response(sv, http_negotiate_format(accept), http_accepts_gzip(ae), &transient);
    enum MHD_Result ret;
    if (r) {
        count(s, HANDLER_METRICS, 200);
        ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        if (transient) MHD_destroy_response(r);
    } else {
        ret = simple_reply(s, c, HANDLER_METRICS, 500, NULL,
                           "500 internal server error: rendering the metrics failed\n");
    }
    served_unref(sv);
    return ret;
}

static bool method_allowed(const char *methods, const char *m)
{
    size_t n = strlen(m);
    for (const char *p = methods; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, m, n) == 0) return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

static enum MHD_Result not_found(struct http_server *s, struct MHD_Connection *c, const char *url)
{
    struct buf list;
    buf_init(&list, 0);
    buf_puts(&list, "/metrics");
    for (size_t i = 0; i < s->nroutes; i++) buf_printf(&list, ", %s", s->routes[i].path);
    enum MHD_Result r = simple_reply(s, c, HANDLER_OTHER, 404, NULL,
                                     "404 not found: %.200s\nendpoints: %s\n", url, list.data);
    buf_free(&list);
    return r;
}

static enum MHD_Result dispatch(struct http_server *s, struct MHD_Connection *c, const char *url,
                                const char *method, struct conn_state *cs)
{
    if (strcmp(url, "/metrics") == 0) {
        if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) return serve_metrics(s, c);
        return simple_reply(s, c, HANDLER_METRICS, 405, "GET, HEAD",
                            "405 method not allowed: /metrics accepts GET, HEAD\n");
    }
    for (size_t i = 0; i < s->nroutes; i++) {
        struct route *rt = &s->routes[i];
        if (strcmp(rt->path, url) != 0) continue;
        if (!method_allowed(rt->methods, method)) {
            char allow[64];
            size_t n = 0;
            for (const char *p = rt->methods; *p && n + 3 < sizeof(allow); p++) {
                allow[n++] = *p;
                if (*p == ',') allow[n++] = ' ';
            }
            allow[n] = '\0';
            return simple_reply(s, c, rt->stat, 405, allow,
                                "405 method not allowed: %s accepts %s, not %.20s\n", rt->path,
                                allow, method);
        }
        if (cs && cs->too_large)
            return simple_reply(s, c, rt->stat, 413, NULL, "413 request body over 1 MiB\n");
        struct http_request req = {.method = method, .path = url, .conn = c};
        req.body = cs && cs->body.data ? cs->body.data : "";
        req.body_len = cs ? cs->body.len : 0;
        struct http_reply rep = {.status = 200};
        buf_init(&rep.body, 0);
        rt->fn(rt->ctx, &req, &rep);
        count(s, rt->stat, rep.status);
        enum MHD_Result ret = send_reply(c, &rep, NULL);
        buf_free(&rep.body);
        return ret;
    }
    return not_found(s, c, url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    struct http_server *s = cls;
    bool bodyless = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (bodyless) {
        /* libmicrohttpd 0.9.75 closes the connection after a response queued on the first
         * call (before it has finished reading the request): answer on the second call so
         * that scrapers keep their connection alive. */
        if (*con_cls != &bodyless_marker) {
            *con_cls = (void *)&bodyless_marker;
            return MHD_YES;
        }
        return dispatch(s, c, url, method, NULL);
    }
    struct conn_state *cs = *con_cls;
    if (!cs) {
        cs = xcalloc(1, sizeof(*cs));
        buf_init(&cs->body, HTTP_MAX_BODY);
        *con_cls = cs;
        return MHD_YES;
    }
    if (*upload_size) {
        if (buf_append(&cs->body, upload_data, *upload_size) < 0) cs->too_large = true;
        *upload_size = 0;
        return MHD_YES;
    }
    return dispatch(s, c, url, method, cs);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    struct conn_state *cs = *con_cls;
    if (!cs || *con_cls == &bodyless_marker) return;
    buf_free(&cs->body);
    free(cs);
    *con_cls = NULL;
}

/* ---- set-up ---- */

const char *http_request_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
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

struct http_server *http_server_new(const char *listen, struct drwatch_stats *stats, char *err,
                                    size_t errlen)
{
    struct http_server *s = xcalloc(1, sizeof(*s));
    s->stats = stats;
    pthread_mutex_init(&s->lock, NULL);
    if (parse_listen(s, listen, err, errlen) < 0) {
        http_server_free(s);
        return NULL;
    }
    return s;
}

void http_route_add(struct http_server *s, const char *path, const char *methods,
                    enum http_handler stat, http_route_fn fn, void *ctx)
{
    if (s->nroutes == MAX_ROUTES) abort(); /* a programming error, not a runtime condition */
    s->routes[s->nroutes++] = (struct route){xstrdup(path), xstrdup(methods), stat, fn, ctx};
}

static struct MHD_Daemon *start_mhd(struct http_server *s, unsigned flags)
{
    return MHD_start_daemon(
        flags | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, s->port, NULL,
        NULL, on_request, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)30, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        s->addrlen ? MHD_OPTION_SOCK_ADDR : MHD_OPTION_END, (struct sockaddr *)&s->addr,
        MHD_OPTION_END);
}

int http_server_start(struct http_server *s, char *err, size_t errlen)
{
    if (s->any_address) {
        s->mhd = start_mhd(s, MHD_USE_DUAL_STACK);
        if (!s->mhd) s->mhd = start_mhd(s, 0); /* no IPv6 here: IPv4 only */
    } else {
        s->mhd = start_mhd(s, s->addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    }
    if (!s->mhd) {
        snprintf(err, errlen, "cannot listen on port %u: address in use or not permitted", s->port);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    if (info) s->port = info->port;
    return 0;
}

uint16_t http_server_port(const struct http_server *s)
{
    return s->port;
}

void http_server_free(struct http_server *s)
{
    if (!s) return;
    if (s->mhd) MHD_stop_daemon(s->mhd);
    if (s->current) served_retire(s->current);
    for (size_t i = 0; i < s->nroutes; i++) {
        free(s->routes[i].path);
        free(s->routes[i].methods);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}
