/* pgconn.h: one PostgreSQL connection driven by the loop through libpq's non-blocking API
 * (PQconnectStartParams/PQconnectPoll, PQsendQuery, PQconsumeInput): it never blocks the loop.
 *
 * One query at a time. The connection is opened on the first query and kept; if it breaks, or
 * a query outlives its deadline, it is closed and the next query opens a new one. A query
 * string may hold several statements: every result set comes back (up to PGCONN_MAX_RESULTS).
 *
 * After a failed connection attempt the next attempt waits (exponential backoff with a cap,
 * when set): a query asked for during that wait fails at once with reason "backoff", so a dead
 * server costs nothing and the wait shows up as an error reason.
 *
 * libpq resolves host names with a blocking getaddrinfo: give an IP address in the conninfo,
 * or resolve the name elsewhere (c-ares, dns.h) and pass it with pgconn_set_hostaddr. */
#ifndef DRWATCH_PGCONN_H
#define DRWATCH_PGCONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "xalloc.h"

#define PGCONN_MAX_RESULTS 8

struct pgconn;

struct pgconn_result {
    bool ok;
    const char *reason;       /* on failure: "connect", "timeout", "query", "connection", "backoff",
                                 "password_file" */
    const char *error;        /* libpq's message, trimmed */
    PGresult *res;            /* the last result of the query; valid during the callback */
    PGresult *const *results; /* every result set, in order; valid during the callback */
    int nresults;
    double duration_s; /* connect (if needed) plus query */
    bool connected;    /* this query opened a new connection */
};

typedef void (*pgconn_done_fn)(void *arg, const struct pgconn_result *r);

/* conninfo is libpq's ("host=127.0.0.1 port=5432 dbname=postgres user=drwatch ..."). */
struct pgconn *pgconn_new(struct loop *l, const char *conninfo);
/* Closes the connection; a query in flight is dropped without its callback. NULL-safe. */
void pgconn_free(struct pgconn *c);

/* The password is read from path (trailing newlines dropped) at every connection attempt, so
 * a rotated secret is picked up; NULL: none (libpq's own .pgpass rules apply). */
void pgconn_set_password_file(struct pgconn *c, const char *path);
/* Connect to this address (libpq's hostaddr) instead of resolving the conninfo's host, which
 * is still used for TLS verification. NULL: none. Applies from the next connection on. */
void pgconn_set_hostaddr(struct pgconn *c, const char *ip);
/* After n failed connection attempts in a row, wait min(min_ms * 2^(n-1), max_ms) before the
 * next one. 0, 0 (the default): no wait. */
void pgconn_set_backoff(struct pgconn *c, int64_t min_ms, int64_t max_ms);

/* Runs sql within timeout_ms, connecting first if needed. fn runs once on the loop thread,
 * possibly before pgconn_query returns (a refused start, a backoff). Returns 0, or -EBUSY
 * while another query is in flight. */
DRW_MUST_CHECK int pgconn_query(struct pgconn *c, const char *sql, int64_t timeout_ms,
                                pgconn_done_fn fn, void *arg);
/* Abandons the query in flight (no callback) and closes the connection. */
void pgconn_cancel(struct pgconn *c);
bool pgconn_busy(const struct pgconn *c);
/* Whether a connection is open (the next query will not connect). */
bool pgconn_connected(const struct pgconn *c);
/* The server version as libpq reports it (e.g. 150018), 0 when not connected. */
int pgconn_server_version(const struct pgconn *c);
/* Milliseconds until the next connection attempt is allowed, 0 when it may start now. */
int64_t pgconn_backoff_left_ms(const struct pgconn *c);

#endif
