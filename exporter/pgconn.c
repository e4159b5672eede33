/* pgconn.c: libpq on the loop (see pgconn.h). The socket can change while connecting (libpq
 * tries each address in turn), so the watch follows PQsocket() after every poll.
 *
 * Connections start with PQconnectStartParams: the conninfo goes in as an expanded dbname and
 * the password (read from its file at each attempt) and hostaddr follow it, so they override
 * the conninfo without ever being written into a string that could be logged. */
#include "pgconn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "clock.h"
#include "fileio.h"
#include "xalloc.h"

enum pg_state { PG_IDLE, PG_CONNECTING, PG_SENDING, PG_READING };

struct pgconn {
    struct loop *loop;
    char *conninfo;
    char *password_file;
    char *hostaddr;
    PGconn *conn;
    enum pg_state state;
    int fd;
    struct loop_watch *watch;
    struct loop_timer *deadline;
    char *sql;
    pgconn_done_fn fn;
    void *arg;
    double started;
    bool connecting; /* this query opened the connection */
    PGresult *results[PGCONN_MAX_RESULTS];
    int nresults;
    /* reconnection backoff */
    int64_t backoff_min_ms, backoff_max_ms;
    unsigned failures;       /* failed connection attempts in a row */
    int64_t next_attempt_ms; /* monotonic; 0: now */
    char last_connect_error[256];
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
    for (char *p = c->error; *p; p++)
        if (*p == '\n') *p = ' '; /* libpq's multi-line messages make one log line */
}

static void clear_results(struct pgconn *c)
{
    for (int i = 0; i < c->nresults; i++) PQclear(c->results[i]);
    c->nresults = 0;
}

/* Books a failed or successful connection attempt for the backoff. */
static void note_attempt(struct pgconn *c, bool failed)
{
    if (!failed) {
        c->failures = 0;
        c->next_attempt_ms = 0;
        return;
    }
    c->failures++;
    snprintf(c->last_connect_error, sizeof(c->last_connect_error), "%.200s", c->error);
    if (c->backoff_max_ms <= 0) return;
    int64_t wait = c->backoff_min_ms > 0 ? c->backoff_min_ms : 1000;
    for (unsigned i = 1; i < c->failures && wait < c->backoff_max_ms; i++) wait *= 2;
    if (wait > c->backoff_max_ms) wait = c->backoff_max_ms;
    c->next_attempt_ms = time_mono_ms() + wait;
}

/* Ends the query: calls back once, then forgets it. */
static void finish(struct pgconn *c, bool ok, const char *reason)
{
    loop_timer_stop(c->deadline);
    bool while_connecting = c->state == PG_CONNECTING;
    if (while_connecting && strcmp(reason, "backoff") != 0)
        note_attempt(c, !ok);
    else if (c->connecting && ok)
        note_attempt(c, false);
    struct pgconn_result r = {.ok = ok,
                              .reason = ok ? NULL : reason,
                              .error = ok ? NULL : c->error,
                              .res = c->nresults ? c->results[c->nresults - 1] : NULL,
                              .results = c->results,
                              .nresults = c->nresults,
                              .duration_s = time_mono_s() - c->started,
                              .connected = c->connecting};
    if (!ok && strcmp(reason, "query") != 0)
        close_conn(c);
    else if (c->conn)
        watch_fd(c, 0); /* idle: nothing to wait for until the next query */
    c->state = PG_IDLE;
    pgconn_done_fn fn = c->fn;
    void *arg = c->arg;
    free(c->sql);
    c->sql = NULL;
    c->fn = NULL;
    fn(arg, &r);
    clear_results(c);
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
        note_attempt(c, false);
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
            PGresult *last = c->nresults ? c->results[c->nresults - 1] : NULL;
            ExecStatusType st = last ? PQresultStatus(last) : PGRES_FATAL_ERROR;
            bool ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
            if (!ok) set_error(c, last ? PQresultErrorMessage(last) : "no result");
            finish(c, ok, "query");
            return;
        }
        if (c->nresults == PGCONN_MAX_RESULTS) {
            /* Keep the last one (an error ends a multi-statement query). */
            PQclear(c->results[PGCONN_MAX_RESULTS - 1]);
            c->nresults--;
        }
        c->results[c->nresults++] = r;
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

void pgconn_set_password_file(struct pgconn *c, const char *path)
{
    free(c->password_file);
    c->password_file = path ? xstrdup(path) : NULL;
}

void pgconn_set_hostaddr(struct pgconn *c, const char *ip)
{
    free(c->hostaddr);
    c->hostaddr = ip ? xstrdup(ip) : NULL;
}

void pgconn_set_backoff(struct pgconn *c, int64_t min_ms, int64_t max_ms)
{
    c->backoff_min_ms = min_ms;
    c->backoff_max_ms = max_ms;
}

void pgconn_cancel(struct pgconn *c)
{
    if (c->state == PG_IDLE) return;
    loop_timer_stop(c->deadline);
    close_conn(c);
    clear_results(c);
    free(c->sql);
    c->sql = NULL;
    c->fn = NULL;
    c->state = PG_IDLE;
}

void pgconn_free(struct pgconn *c)
{
    if (!c) return;
    pgconn_cancel(c);
    close_conn(c);
    loop_timer_free(c->deadline);
    free(c->conninfo);
    free(c->password_file);
    free(c->hostaddr);
    free(c);
}

/* Reads the password file; returns a malloc'd password or NULL with c->error set. */
static char *read_password(struct pgconn *c)
{
    char *pw = NULL;
    size_t len = 0;
    int rc = file_read_all(c->password_file, CAP_SECRET_FILE, &pw, &len);
    if (rc < 0) {
        char why[64];
        snprintf(c->error, sizeof(c->error), "password_file %s: %s", c->password_file,
                 file_read_error(rc, CAP_SECRET_FILE, why, sizeof(why)));
        return NULL;
    }
    while (len && (pw[len - 1] == '\n' || pw[len - 1] == '\r')) pw[--len] = '\0';
    return pw;
}

static void start_connect(struct pgconn *c)
{
    const char *keys[4] = {"dbname", NULL, NULL, NULL};
    const char *vals[4] = {c->conninfo, NULL, NULL, NULL};
    int n = 1;
    char *pw = NULL;
    c->state = PG_CONNECTING;
    c->connecting = true;
    if (c->password_file) {
        pw = read_password(c);
        if (!pw) {
            finish(c, false, "password_file");
            return;
        }
        keys[n] = "password";
        vals[n++] = pw;
    }
    if (c->hostaddr) {
        keys[n] = "hostaddr";
        vals[n++] = c->hostaddr;
    }
    c->conn = PQconnectStartParams(keys, vals, 1);
    if (pw) {
        explicit_bzero(pw, strlen(pw));
        free(pw);
    }
    if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
        set_error(c, c->conn ? PQerrorMessage(c->conn) : "out of memory");
        finish(c, false, "connect");
        return;
    }
    watch_fd(c, LOOP_WRITE); /* libpq: after PQconnectStart, wait for writability first */
}

int pgconn_query(struct pgconn *c, const char *sql, int64_t timeout_ms, pgconn_done_fn fn,
                 void *arg)
{
    if (c->state != PG_IDLE) return -EBUSY;
    c->sql = xstrdup(sql);
    c->fn = fn;
    c->arg = arg;
    c->started = time_mono_s();
    c->connecting = false;
    loop_timer_start(c->deadline, timeout_ms > 0 ? timeout_ms : 5000);
    if (c->conn && PQstatus(c->conn) == CONNECTION_OK) {
        send_query(c);
        return 0;
    }
    close_conn(c);
    int64_t left = pgconn_backoff_left_ms(c);
    if (left > 0) {
        snprintf(c->error, sizeof(c->error),
                 "next connection attempt in %.1fs (%u failed in a row; last: %.200s)",
                 (double)left / 1000.0, c->failures, c->last_connect_error);
        c->state = PG_CONNECTING;
        finish(c, false, "backoff");
        return 0;
    }
    start_connect(c);
    return 0;
}

bool pgconn_busy(const struct pgconn *c)
{
    return c->state != PG_IDLE;
}

bool pgconn_connected(const struct pgconn *c)
{
    return c->conn && c->state != PG_CONNECTING && PQstatus(c->conn) == CONNECTION_OK;
}

int pgconn_server_version(const struct pgconn *c)
{
    return c->conn && PQstatus(c->conn) == CONNECTION_OK ? PQserverVersion(c->conn) : 0;
}

int64_t pgconn_backoff_left_ms(const struct pgconn *c)
{
    if (!c->next_attempt_ms) return 0;
    int64_t left = c->next_attempt_ms - time_mono_ms();
    return left > 0 ? left : 0;
}
