/* http_conns.h: the HTTP server's open connections and the limits on them: how many at once
 * (Prometheus' --web.max-connections), how many from one client, and how long a request may
 * take to arrive (--web.read-timeout), so that strangers cannot hold what scrapers and the
 * collectors need: connection slots, memory and file descriptors.
 *
 * The read timeout is a deadline, not an idle timer: a request (line, head and body) must
 * have arrived whole within it from when the connection was accepted or its previous answer
 * sent. libmicrohttpd's own timeout restarts at every byte, so a client sending one byte a
 * second would hold a connection for ever; here a watchdog thread shuts down (shutdown(2))
 * every connection past its deadline, and libmicrohttpd closes it as if the peer had.
 *
 * When every slot is taken, a new connection takes the slot of the one that has waited longest
 * for a whole request (an idle keep-alive connection, or the slowest sender), which is shut
 * down: slow connections cannot keep a scraper out, however many there are. Only when every
 * connection is being answered is a new one refused. A client over its own limit is refused.
 *
 * Limits are checked twice: when a connection is offered (libmicrohttpd's accept policy: a
 * refused one costs nothing but the accept) and, authoritatively under the lock, when it is
 * registered, since the HTTP threads accept in parallel. Every refusal and every connection
 * drwatch closes is counted by reason in struct drwatch_stats. */
#ifndef DRWATCH_HTTP_CONNS_H
#define DRWATCH_HTTP_CONNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stats.h"

#define HTTP_DEFAULT_MAX_CONNECTIONS 512 /* Prometheus' default */
#define HTTP_DEFAULT_MAX_PER_CLIENT  64
#define HTTP_DEFAULT_READ_TIMEOUT_MS 10000
/* File descriptors kept for everything but HTTP connections (collectors' sockets, the peer
 * listener, files, libraries): the connection cap must leave them free. */
#define HTTP_FD_RESERVE      256
#define HTTP_MIN_CONNECTIONS 16 /* fewer leaves the server unusable: refuse to start */
/* Connections shut down to make room that libmicrohttpd has not closed yet (each still holds
 * its socket): past it, new connections are refused instead. Within HTTP_FD_RESERVE. */
#define HTTP_EVICTING_MAX 32

struct http_limits {
    unsigned max_connections; /* at once, from everyone */
    unsigned max_per_client;  /* at once, from one IPv4 address or IPv6 /64; 0: no limit */
    int64_t read_timeout_ms;  /* a request must arrive whole within this */
};

/* Fits l->max_connections under an open-file limit of fd_limit, leaving HTTP_FD_RESERVE.
 * Returns 0 with note "" (it fits) or saying how it was lowered, or -1 with note saying why
 * there is no room (fewer than HTTP_MIN_CONNECTIONS). */
int http_limits_fit(struct http_limits *l, uint64_t fd_limit, char *note, size_t notelen);
/* Raises this process's soft open-file limit to its hard limit, then http_limits_fit. */
int http_limits_fit_process(struct http_limits *l, char *note, size_t notelen);

struct http_conns;
struct http_conn;

/* Owns every struct http_conn it hands out until http_conns_close. Writes st's
 * http_connection* fields. */
struct http_conns *http_conns_new(const struct http_limits *l, struct drwatch_stats *st);
void http_conns_free(struct http_conns *cs); /* NULL-safe; after every connection closed */

/* Whether a connection from addr may be accepted now (evicting another if that makes room);
 * a refusal is counted. Any thread. */
bool http_conns_admit(struct http_conns *cs, const struct sockaddr *addr);
/* Registers an accepted connection (its socket fd) with its read deadline running. When a
 * limit was reached meanwhile, the connection is refused: counted, its socket shut down,
 * and http_conn_refused says so (the server then answers nothing). */
struct http_conn *http_conns_open(struct http_conns *cs, const struct sockaddr *addr, int fd);
/* libmicrohttpd closed it (before closing its socket): forgets and frees c. NULL-safe. */
void http_conns_close(struct http_conns *cs, struct http_conn *c);
bool http_conn_refused(const struct http_conn *c);

/* The request line has arrived. */
void http_conn_request_started(struct http_conn *c);
/* The request has been read whole: no deadline while it is handled and answered. */
void http_conn_request_read(struct http_conn *c);
/* Its answer is sent: the next request must arrive within the read timeout. */
void http_conn_answered(struct http_conns *cs, struct http_conn *c);

/* Shuts down every connection past its deadline, counting each as read_timeout (a request
 * was under way, or none was ever answered) or idle (an answered keep-alive connection sent
 * nothing whole since). Returns how many. Any thread. */
size_t http_conns_reap(struct http_conns *cs, int64_t now_ms);

#endif
