/* pgconn.h: one PostgreSQL connection driven by the loop through libpq's non-blocking API
 * (PQconnectStart/PQconnectPoll, PQsendQuery, PQconsumeInput): it never blocks the loop.
 *
 * One query at a time. The connection is opened on the first query and kept; if it breaks, or
 * a query outlives its deadline, it is closed and the next query opens a new one. libpq
 * resolves host names with a blocking getaddrinfo, so configs should give an IP address
 * (host=127.0.0.1 or hostaddr=...). */
#ifndef DRWATCH_PGCONN_H
#define DRWATCH_PGCONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "loop.h"

struct pgconn;

struct pgconn_result {
    bool ok;
    const char *reason; /* on failure: "connect", "timeout", "query", "connection" */
    const char *error;  /* libpq's message, trimmed */
    PGresult *res;      /* the last result of the query; valid during the callback */
    double duration_s;  /* connect (if needed) plus query */
};

typedef void (*pgconn_done_fn)(void *arg, const struct pgconn_result *r);

/* conninfo is libpq's ("host=127.0.0.1 port=5432 dbname=postgres user=drwatch ..."). */
struct pgconn *pgconn_new(struct loop *l, const char *conninfo);
/* Closes the connection; a query in flight is dropped without its callback. NULL-safe. */
void pgconn_free(struct pgconn *c);

/* Runs sql (one statement) within timeout_ms, connecting first if needed. fn runs once on
 * the loop thread. Returns 0, or -EBUSY while another query is in flight. */
int pgconn_query(struct pgconn *c, const char *sql, int64_t timeout_ms, pgconn_done_fn fn,
                 void *arg);
/* Abandons the query in flight (no callback) and closes the connection. */
void pgconn_cancel(struct pgconn *c);
bool pgconn_busy(const struct pgconn *c);
/* The server version as libpq reports it (e.g. 150018), 0 when not connected. */
int pgconn_server_version(const struct pgconn *c);

#endif
