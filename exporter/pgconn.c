/* pgconn.c: libpq on the loop (see pgconn.h). The socket can change while connecting (libpq
 * tries each address in turn), so the watch follows PQsocket() after every poll. */
#include "pgconn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum pg_state { PG_IDLE, PG_CONNECTING, PG_SENDING, PG_READING };

struct pgconn {
    struct loop *loop;
    char *conninfo;
    PGconn *conn;
    enum pg_state state;
    int fd;
    struct loop_watch *watch;
    struct loop_timer *deadline;
    char *sql;
    pgconn_done_fn fn;
    void *arg;
    double started;
    PGresult *last;
    char error[512];
};

static void on_io(void *arg, int fd, unsigned events);

static void watch_fd(struct pgconn *c, unsigned events)
{
    int fd = c->conn ? PQsocket(c->conn) : -1;
    if (c->watch && fd != c->fd) {
        loop_watch_del(c->watch);
        c->watch = NULL;
    }
    c->fd = fd;
    if (fd < 0) return;
    if (!c->watch)
        c->watch = loop_watch_add(c->loop, fd, events, on_io, c);
    else
        loop_watch_set(c->watch, events);
}

static void close_conn(struct pgconn *c)
{
    loop_watch_del(c->watch);
    c->watch = NULL;
    c->fd = -1;
    if (c->conn) PQfinish(c->conn);
    c->conn = NULL;
}

static void set_error(struct pgconn *c, const char *msg)
{
    snprintf(c->error, sizeof(c->error), "%s", msg && *msg ? msg : "unknown error");
    size_t n = strlen(c->error);
    while (n && (c->error[n - 1] == '\n' || c->error[n - 1] == ' ')) c->error[--n] = '\0';
}

/* Ends the query: calls back once, then forgets it. */
static void finish(struct pgconn *c, bool ok, const char *reason)
{
    loop_timer_stop(c->deadline);
    struct pgconn_result r = {.ok = ok,
                              .reason = ok ? NULL : reason,
                              .error = ok ? NULL : c->error,
                              .res = c->last,
                              .duration_s = time_mono_s() - c->started};
    if (!ok && strcmp(reason, "query") != 0)
        close_conn(c);
    else if (c->conn)
        watch_fd(c, 0); /* idle: nothing to wait for until the next query */
    c->state = PG_IDLE;
    pgconn_done_fn fn = c->fn;
    void *arg = c->arg;
    PGresult *last = c->last;
    c->last = NULL;
    free(c->sql);
    c->sql = NULL;
    c->fn = NULL;
    fn(arg, &r);
    PQclear(last);
}

static void send_query(struct pgconn *c)
{
    if (!PQsendQuery(c->conn, c->sql)) {
        set_error(c, PQerrorMessage(c->conn));
        finish(c, false, "connection");
        return;
    }
    c->state = PG_SENDING;
    int rc = PQflush(c->conn);
    if (rc < 0) {
        set_error(c, PQerrorMessage(c->conn));
        finish(c, false, "connection");
        return;
    }
    if (rc == 0) c->state = PG_READING;
    watch_fd(c, rc == 0 ? LOOP_READ : LOOP_READ | LOOP_WRITE);
}

static void poll_connect(struct pgconn *c)
{
    switch (PQconnectPoll(c->conn)) {
    case PGRES_POLLING_READING: watch_fd(c, LOOP_READ); return;
    case PGRES_POLLING_WRITING: watch_fd(c, LOOP_WRITE); return;
    case PGRES_POLLING_OK:
        PQsetnonblocking(c->conn, 1);
        send_query(c);
        return;
    default:
        set_error(c, PQerrorMessage(c->conn));
        finish(c, false, "connect");
        return;
    }
}

static void read_results(struct pgconn *c)
{
    if (!PQconsumeInput(c->conn)) {
        set_error(c, PQerrorMessage(c->conn));
        finish(c, false, "connection");
        return;
    }
    while (!PQisBusy(c->conn)) {
        PGresult *r = PQgetResult(c->conn);
        if (!r) {
            ExecStatusType st = c->last ? PQresultStatus(c->last) : PGRES_FATAL_ERROR;
            bool ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
            if (!ok) set_error(c, c->last ? PQresultErrorMessage(c->last) : "no result");
            finish(c, ok, "query");
            return;
        }
        PQclear(c->last);
        c->last = r;
    }
}

static void on_io(void *arg, int fd, unsigned events)
{
    (void)fd, (void)events;
    struct pgconn *c = arg;
    if (c->state == PG_CONNECTING) {
        poll_connect(c);
    } else if (c->state == PG_SENDING) {
        int rc = PQflush(c->conn);
        if (rc < 0) {
            set_error(c, PQerrorMessage(c->conn));
            finish(c, false, "connection");
        } else if (rc == 0) {
            c->state = PG_READING;
            watch_fd(c, LOOP_READ);
        }
    } else if (c->state == PG_READING) {
        read_results(c);
    } else if (c->conn && !PQconsumeInput(c->conn)) {
        close_conn(c); /* idle and the server went away: reconnect on the next query */
    }
}

static void on_deadline(void *arg)
{
    struct pgconn *c = arg;
    if (c->state == PG_IDLE) return;
    set_error(c, c->state == PG_CONNECTING ? "no connection within the deadline"
                                           : "no answer within the deadline");
    finish(c, false, "timeout");
}

struct pgconn *pgconn_new(struct loop *l, const char *conninfo)
{
    struct pgconn *c = xcalloc(1, sizeof(*c));
    c->loop = l;
    c->conninfo = xstrdup(conninfo);
    c->fd = -1;
    c->deadline = loop_timer_new(l, on_deadline, c);
    return c;
}

void pgconn_cancel(struct pgconn *c)
{
    if (c->state == PG_IDLE) return;
    loop_timer_stop(c->deadline);
    close_conn(c);
    PQclear(c->last);
    c->last = NULL;
    free(c->sql);
    c->sql = NULL;
    c->state = PG_IDLE;
}

void pgconn_free(struct pgconn *c)
{
    if (!c) return;
    pgconn_cancel(c);
    close_conn(c);
    loop_timer_free(c->deadline);
    free(c->conninfo);
    free(c);
}

int pgconn_query(struct pgconn *c, const char *sql, int64_t timeout_ms, pgconn_done_fn fn,
                 void *arg)
{
    if (c->state != PG_IDLE) return -EBUSY;
    c->sql = xstrdup(sql);
    c->fn = fn;
    c->arg = arg;
    c->started = time_mono_s();
    loop_timer_start(c->deadline, timeout_ms > 0 ? timeout_ms : 5000);
    if (c->conn && PQstatus(c->conn) == CONNECTION_OK) {
        send_query(c);
        return 0;
    }
    close_conn(c);
    c->conn = PQconnectStart(c->conninfo);
    if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
        set_error(c, c->conn ? PQerrorMessage(c->conn) : "out of memory");
        c->state = PG_CONNECTING;
        finish(c, false, "connect");
        return 0;
    }
    c->state = PG_CONNECTING;
    watch_fd(c, LOOP_WRITE); /* libpq: after PQconnectStart, wait for writability first */
    return 0;
}

bool pgconn_busy(const struct pgconn *c)
{
    return c->state != PG_IDLE;
}

int pgconn_server_version(const struct pgconn *c)
{
    return c->conn && PQstatus(c->conn) == CONNECTION_OK ? PQserverVersion(c->conn) : 0;
}
