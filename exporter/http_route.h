/* http_route.h: what an HTTP route is, and what drwatch decides about a request from its head
 * alone, before it reads a byte of its body. The decisions are plain functions over copied
 * strings (no socket, no libmicrohttpd), so that tests/fuzz/fuzz_http_request.c reaches all
 * of them. In the order the server makes them:
 *
 *   1. the request line (http_uri_check): its length and the number of query parameters;
 *   2. the head (http_decide): the framing (Content-Length, Transfer-Encoding), the route
 *      (404, 405), the route's switch and credentials (403, 401), the declared body size (413);
 *   3. for /metrics, the negotiation of Accept and Accept-Encoding.
 *
 * Ambiguous framing is refused with 400 and the connection closed: a proxy in front may
 * frame the request differently (two Content-Lengths, Content-Length with Transfer-Encoding),
 * and whatever drwatch read as "the next request" would be smuggled past it. */
#ifndef DRWATCH_HTTP_ROUTE_H
#define DRWATCH_HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "registry.h"
#include "stats.h"

struct http_token;

struct http_kv {
    const char *key, *value;
};

/* A request as a route handler sees it: everything copied out of libmicrohttpd, so that a
 * handler may run on the loop thread while the connection is suspended. */
struct http_request {
    const char *method;
    const char *path;
    const char *body; /* NUL-terminated, "" when none */
    size_t body_len;
    const struct http_kv *headers, *args; /* header fields and query parameters */
    size_t nheaders, nargs;
};

struct http_reply {
    unsigned status;              /* 200 unless the handler says otherwise */
    const char *content_type;     /* default "text/plain; charset=utf-8" */
    const char *content_encoding; /* NULL, or "gzip" for a body the handler compressed */
    const char *vary;             /* NULL, or the request headers the answer depends on */
    struct buf body; /* capped at CAP_HTTP_REPLY; a handler may put a buffer of its own here */
};

typedef void (*http_route_fn)(void *ctx, const struct http_request *req, struct http_reply *rep);

/* Route flags. */
enum {
    /* The handler runs on the loop thread (it reads loop-owned state): the connection is
     * suspended, the request queued to the loop, and the answer sent when the loop has run
     * it. No HTTP thread waits meanwhile, so /metrics never queues behind such a route. If
     * the loop does not take the request within HTTP_LOOP_DEADLINE_MS, the answer is 503. */
    HTTP_ON_LOOP = 1u,
    /* While the route's token holder has no token, writes are open to requests that are not
     * cross-site (http_cross_site); without this flag they are refused (401). */
    HTTP_SAME_SITE_WITHOUT_TOKEN = 2u,
    /* The handler runs on the server's worker thread, one request at a time: for a handler
     * that may take long (/federate renders a selection of the snapshot), so that no
     * libmicrohttpd thread waits for it, and so no /metrics scrape either. The connection is
     * suspended and the request queued as for HTTP_ON_LOOP (HTTP_WORKER_QUEUE_MAX, then 503;
     * not taken within HTTP_WORKER_DEADLINE_MS: 503). Not with HTTP_ON_LOOP. */
    HTTP_ON_WORKER = 4u,
};

struct http_route {
    const char *path;       /* exact match; a path ending in '/' takes one segment after it */
    const char *methods;    /* a comma list such as "GET,HEAD" */
    enum http_handler stat; /* counted under this handler */
    unsigned flags;         /* HTTP_ON_LOOP, HTTP_SAME_SITE_WITHOUT_TOKEN, HTTP_ON_WORKER */
    size_t max_body;        /* a longer request body is refused with 413 before it is read */
    /* Writes (every method but GET and HEAD) need "Authorization: Bearer <token>", checked
     * before the body is read (401 otherwise). NULL: the route checks no credentials. The
     * holder is borrowed and outlives the server. */
    const struct http_token *token;
    /* Set: the route is switched off, and every request it would take is answered 403 with
     * this text (which says how to switch it on), before the body is read. */
    const char *off;
    http_route_fn fn; /* NULL only for the server's own /metrics */
    void *ctx;
};

/* What a request line may hold. A longer URI is answered 414, more query parameters 400,
 * at once. Within both, libmicrohttpd 0.9.75's 32 KiB per-connection pool always has room
 * for the parameters (56 bytes each); past it, 0.9.75 queues its own 431 and then loses it,
 * leaving the client without an answer until the connection times out. */
#define HTTP_MAX_URI        (8 * 1024)
#define HTTP_MAX_QUERY_ARGS 128
/* Header fields a request may carry (431 past it): all of them are copied for the checks. */
#define HTTP_MAX_HEADERS 128

/* The verdict of http_uri_check or http_decide. status 0: go on (read the body if one is
 * declared, then run the route); otherwise answer status with text at once. */
struct http_verdict {
    unsigned status;
    const struct http_route *route; /* the route asked for, or NULL (404, or refused earlier) */
    bool close;        /* answer and close: what follows on the connection cannot be trusted */
    bool unauthorized; /* a 401: the answer carries WWW-Authenticate: Bearer */
    bool body;         /* a body is declared (Content-Length > 0, or chunked) */
    bool chunked;      /* ... of unknown length (Transfer-Encoding: chunked) */
    bool skip_body;    /* GET or HEAD with a body: answer without reading it, then close */
    uint64_t body_len; /* the declared Content-Length */
    char allow[64];    /* the Allow header of a 405: "GET, HEAD" */
    char text[1024];   /* the answer's text */
};

/* Checks the raw request target (path and query, as sent). Returns the status for v (0, 400
 * or 414). */
unsigned http_uri_check(const char *uri, struct http_verdict *v);

/* The head of a request as http_decide reads it. */
struct http_head {
    const char *method, *path;
    const struct http_kv *headers; /* every header field, in the order sent */
    size_t nheaders;
};

/* Decides what h gets before its body is read, against routes[0..n). Fills v and returns
 * v->status. */
unsigned http_decide(const struct http_route *routes, size_t n, const struct http_head *h,
                     struct http_verdict *v);

/* Whether path is route's: equal, or for a route ending in '/' (/api/v1/plans/), that prefix
 * and one non-empty segment more (/api/v1/plans/<id>). */
bool http_path_matches(const char *route, const char *path);

/* A header field (name case-insensitive), or NULL. */
const char *http_kv_header(const struct http_kv *v, size_t n, const char *name);

/* Negotiation for /metrics: the format an Accept header asks for, and whether an
 * Accept-Encoding header accepts gzip. NULL means the header is absent. */
enum expo_format http_negotiate_format(const char *accept);
bool http_accepts_gzip(const char *accept_encoding);

#endif
