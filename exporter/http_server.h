/* http_server.h: drwatch's HTTP server (libmicrohttpd, its own threads).
 *
 * /metrics serves the last published snapshot. Each exposition variant of a snapshot becomes
 * one MHD response object, made on first use and queued to every scrape until the next
 * snapshot replaces it, so a scrape costs what serving a static buffer costs and never waits
 * for a collection. Other endpoints are routes: a path, the methods it accepts and a handler
 * that fills a reply. Unknown paths get 404 and wrong methods 405 with an Allow header, both
 * with a body that says what exists. Handlers run on MHD threads and must be thread-safe. */
#ifndef DRWATCH_HTTP_SERVER_H
#define DRWATCH_HTTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "registry.h"
#include "stats.h"
#include "buf.h"

struct http_server;

struct http_request {
    const char *method;
    const char *path;
    const char *body; /* POST/PUT/DELETE body, NUL-terminated, "" when none */
    size_t body_len;
    void *conn; /* struct MHD_Connection, for http_request_header */
};

struct http_reply {
    unsigned status;          /* 200 unless the handler says otherwise */
    const char *content_type; /* default "text/plain; charset=utf-8" */
    struct buf body;
};

typedef void (*http_route_fn)(void *ctx, const struct http_request *req, struct http_reply *rep);

/* Binds listen ("host:port", ":port" for every address, "[::1]:port"; port 0 picks one).
 * Returns NULL with err filled when the address is bad or taken. */
struct http_server *http_server_new(const char *listen, struct drwatch_stats *stats, char *err,
                                    size_t errlen);
/* Adds a route before http_server_start. methods is a comma list such as "GET,HEAD". */
void http_route_add(struct http_server *s, const char *path, const char *methods,
                    enum http_handler stat, http_route_fn fn, void *ctx);
int http_server_start(struct http_server *s, char *err, size_t errlen);
/* Stops the threads and frees everything. NULL-safe. */
void http_server_free(struct http_server *s);
uint16_t http_server_port(const struct http_server *s);

/* Makes snap what /metrics serves (takes a reference). Thread-safe. */
void http_publish(struct http_server *s, struct snapshot *snap);
/* A reference to what /metrics serves now, or NULL; the caller unrefs it. */
struct snapshot *http_current_snapshot(struct http_server *s);

/* A request header, or NULL. */
const char *http_request_header(const struct http_request *req, const char *name);

/* Negotiation, exposed for tests: the format an Accept header asks for, and whether an
 * Accept-Encoding header accepts gzip. */
enum expo_format http_negotiate_format(const char *accept);
bool http_accepts_gzip(const char *accept_encoding);

#endif
