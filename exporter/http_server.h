/* http_server.h: drwatch's HTTP server (libmicrohttpd, its own threads).
 *
 * /metrics serves the last published snapshot. Each exposition variant of a snapshot becomes
 * one MHD response object, made on first use and queued to every scrape until the next
 * snapshot replaces it, so a scrape costs what serving a static buffer costs and never waits
 * for a collection. Other endpoints are routes: a path, the methods it accepts and a handler
 * that fills a reply. Unknown paths get 404 and wrong methods 405 with an Allow header, both
 * with a body that says what exists. Handlers run on MHD threads and must be thread-safe,
 * unless their route says HTTP_ON_LOOP (the loop runs them) or HTTP_ON_WORKER (the server's
 * own worker thread runs them, one at a time).
 *
 * What a stranger can make the server hold is bounded: connections (at once, per client, and
 * in time: http_conns.h), the request line and head (http_route.h, and libmicrohttpd's 32 KiB
 * per connection), and bodies: each route's max_body, checked with its credentials before a
 * body is read, and CAP_HTTP_BODY_TOTAL across all connections (503 past it).
 *
 * With a web config (http_server_set_web) the listener speaks TLS, and every request passes
 * its checks (client certificate, basic auth) before anything else is decided. */
#ifndef DRWATCH_HTTP_SERVER_H
#define DRWATCH_HTTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "http_conns.h"
#include "http_route.h"
#include "registry.h"
#include "stats.h"
#include "web_config.h"

struct http_server;
struct loop;
struct web_auth;

#define HTTP_LOOP_DEADLINE_MS 30000
#define HTTP_LOOP_QUEUE_MAX   64 /* requests waiting for the loop; more are answered 503 */
/* Requests of HTTP_ON_WORKER routes waiting for the worker, and how long one may wait (a
 * Prometheus scrape gives up after 10 s by default). */
#define HTTP_WORKER_QUEUE_MAX   16
#define HTTP_WORKER_DEADLINE_MS 10000

/* Binds listen ("host:port", ":port" for every address, "[::1]:port"; port 0 picks one) with
 * the connection limits lim (copied; see http_conns.h). Routes with HTTP_ON_LOOP run on
 * loop. Returns NULL with err filled when the address is bad. */
struct http_server *http_server_new(const char *listen, const struct http_limits *lim,
                                    struct drwatch_stats *stats, struct loop *loop, char *err,
                                    size_t errlen);
/* Serves what the web config w asks (web_auth.h; borrowed, it must outlive the server):
 * TLS as its config at this call says (http_server_set_tls changes it), basic auth, client
 * certificates and headers as the config in force says at each request. Before http_server_start.
 */
void http_server_set_web(struct http_server *s, struct web_auth *w);
/* Serves TLS as c says from now on (c->tls false or c NULL: plain HTTP), for new connections;
 * open ones finish with the settings they began with. c must have passed web_tls_check.
 * Returns 0, or -1 with err filled and the settings in force kept. After http_server_start,
 * from one thread at a time (the loop). */
int http_server_set_tls(struct http_server *s, struct web_config *c, char *err, size_t errlen);
/* Adds a route (copied) before http_server_start. */
void http_route_add(struct http_server *s, const struct http_route *r);
int http_server_start(struct http_server *s, char *err, size_t errlen);
/* Stops the threads, answers what still waits for the loop with 503, and frees everything.
 * Call it while the loop is not running. NULL-safe. */
void http_server_free(struct http_server *s);
uint16_t http_server_port(const struct http_server *s);

/* Makes snap what /metrics serves (takes a reference). Thread-safe. */
void http_publish(struct http_server *s, struct snapshot *snap);
/* A reference to what /metrics serves now, or NULL; the caller unrefs it. */
struct snapshot *http_current_snapshot(struct http_server *s);

/* A request header (name case-insensitive) or query parameter (exact), or NULL. */
const char *http_request_header(const struct http_request *req, const char *name);
const char *http_request_arg(const struct http_request *req, const char *name);

#endif
