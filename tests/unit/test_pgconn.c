/* test_pgconn.c: libpq on the loop against a real PostgreSQL (tests/lib/pg_start.sh): queries,
 * SQL errors that keep the connection, deadlines that drop it, reconnection, refusal while
 * busy, a refused connection, and the loop staying responsive while a query runs; several
 * result sets, the password file, statement_timeout, and the reconnection backoff. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "fake.h"
#include "loop.h"
#include "pgconn.h"
#include "tap.h"
#include "xalloc.h"

struct q {
    struct loop *loop;
    int done;
    bool ok;
    char reason[32];
    char error[256];
    char value[64];
    double duration;
};

static void on_result(void *arg, const struct pgconn_result *r)
{
    struct q *q = arg;
    q->done++;
    q->ok = r->ok;
    q->duration = r->duration_s;
    snprintf(q->reason, sizeof(q->reason), "%s", r->reason ? r->reason : "");
    snprintf(q->error, sizeof(q->error), "%s", r->error ? r->error : "");
    q->value[0] = '\0';
    if (r->ok && r->res && PQntuples(r->res) > 0)
        snprintf(q->value, sizeof(q->value), "%s", PQgetvalue(r->res, 0, 0));
    loop_stop(q->loop);
}

static struct q run(struct loop *l, struct pgconn *c, const char *sql, int64_t timeout)
{
    struct q q = {.loop = l};
    must(pgconn_query(c, sql, timeout, on_result, &q));
    loop_run(l);
    return q;
}

struct multi_q {
    struct loop *loop;
    int n;
    char last[32];
};

static void on_multi(void *arg, const struct pgconn_result *r)
{
    struct multi_q *m = arg;
    m->n = r->ok ? r->nresults : -1;
    if (r->ok && r->nresults > 1)
        snprintf(m->last, sizeof(m->last), "%s:%d", PQgetvalue(r->results[1], 0, 0),
                 PQntuples(r->results[2]));
    loop_stop(m->loop);
}

struct ticker {
    int ticks;
};

static void on_tick(void *arg)
{
    ((struct ticker *)arg)->ticks++;
}

int main(void)
{
    char dir[] = "/tmp/dwpgXXXXXX";
    if (!mkdtemp(dir)) return 1;
    int port = fake_free_port();
    char portbuf[16];
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    char *argv[] = {"tests/lib/pg_start.sh", dir, portbuf, NULL};
    pid_t pg = spawn_ready(argv);
    if (!ok(pg > 0, "PostgreSQL started on port %d", port)) return done_testing();

    struct loop *l = loop_new();
    char conninfo[256];
    snprintf(conninfo, sizeof(conninfo),
             "host=127.0.0.1 port=%d dbname=postgres user=postgres connect_timeout=5", port);
    struct pgconn *c = pgconn_new(l, conninfo);
    struct q q = run(l, c, "select 40 + 2", 3000);
    ok(q.ok && strcmp(q.value, "42") == 0, "a query connects and answers (%s)", q.value);
    ok(pgconn_server_version(c) >= 120000, "server version %d", pgconn_server_version(c));

    q = run(l, c, "select no_such_column", 3000);
    ok(!q.ok && strcmp(q.reason, "query") == 0 && strstr(q.error, "no_such_column"),
       "an SQL error is reported as a query error: %s", q.error);
    q = run(l, c, "select 'still here'", 3000);
    ok(q.ok && strcmp(q.value, "still here") == 0, "the connection survives an SQL error");

    struct ticker tk = {0};
    struct loop_timer *t = loop_timer_new(l, on_tick, &tk);
    loop_timer_start(t, 100);
    q = run(l, c, "select pg_sleep(0.5)", 3000);
    ok(q.ok && tk.ticks == 1, "the loop keeps running while a query waits (timer fired)");

    int64_t t0 = time_mono_ms();
    q = run(l, c, "select pg_sleep(5)", 300);
    ok(!q.ok && strcmp(q.reason, "timeout") == 0 && time_mono_ms() - t0 < 2000,
       "a query past its deadline is a timeout (%lld ms)", (long long)(time_mono_ms() - t0));
    q = run(l, c, "select 7", 3000);
    ok(q.ok && strcmp(q.value, "7") == 0, "the next query reconnects");

    struct q busy = {.loop = l};
    must(pgconn_query(c, "select pg_sleep(0.1)", 3000, on_result, &busy));
    ok(pgconn_query(c, "select 1", 3000, on_result, &busy) == -EBUSY && pgconn_busy(c),
       "a second query while one runs is refused with -EBUSY");
    loop_run(l);
    ok(busy.done == 1 && busy.ok, "and the first one completes");

    must(pgconn_query(c, "select pg_sleep(0.2)", 3000, on_result, &busy));
    pgconn_cancel(c);
    ok(!pgconn_busy(c), "a cancelled query leaves the connection idle");
    q = run(l, c, "select 8", 3000);
    ok(q.ok && busy.done == 1, "no callback for the cancelled query; a new one works");

    /* Several statements: every result set comes back. */
    struct multi_q mq = {.loop = l};
    must(pgconn_query(c, "select 1; select 2, 3; select 'x' where false", 3000, on_multi, &mq));
    loop_run(l);
    ok(mq.n == 3 && strcmp(mq.last, "2:0") == 0,
       "three statements give three result sets (%d; rows of the last: %s)", mq.n, mq.last);

    /* The password comes from a file read at each connection attempt. */
    char pwfile[64];
    snprintf(pwfile, sizeof(pwfile), "%s/pw", dir);
    FILE *pf = fopen(pwfile, "w");
    if (pf) fputs("s3cret\n", pf), fclose(pf);
    q = run(l, c, "create role pwuser login password 's3cret'", 3000);
    ok(q.ok, "a role with a password");
    char ci2[256];
    snprintf(
        ci2, sizeof(ci2),
        "host=127.0.0.1 port=%d dbname=postgres user=pwuser options='-c statement_timeout=200'",
        port);
    struct pgconn *pc = pgconn_new(l, ci2);
    pgconn_set_password_file(pc, pwfile);
    q = run(l, pc, "select current_user", 3000);
    ok(q.ok && strcmp(q.value, "pwuser") == 0, "password_file: connected as pwuser (%s)",
       q.ok ? q.value : q.error);
    q = run(l, pc, "select pg_sleep(2)", 3000);
    ok(!q.ok && strcmp(q.reason, "query") == 0 && strstr(q.error, "statement timeout"),
       "statement_timeout from the conninfo options applies (%s)", q.error);
    pgconn_free(pc);
    pc = pgconn_new(l, ci2);
    pgconn_set_password_file(pc, "/nonexistent/pw");
    q = run(l, pc, "select 1", 3000);
    ok(!q.ok && strcmp(q.reason, "password_file") == 0, "an unreadable password_file: %s", q.error);
    pgconn_free(pc);

    fake_stop(pg);
    q = run(l, c, "select 1", 3000);
    ok(!q.ok && (strcmp(q.reason, "connection") == 0 || strcmp(q.reason, "connect") == 0),
       "a server that went away is reported (%s: %s)", q.reason, q.error);
    q = run(l, c, "select 1", 3000);
    ok(!q.ok && strcmp(q.reason, "connect") == 0, "a refused connection is a connect error");

    /* Backoff: after failed attempts, queries fail at once with "backoff", the wait doubles
     * up to the cap, and an attempt is made again once it is over. */
    struct pgconn *bc = pgconn_new(l, conninfo);
    pgconn_set_backoff(bc, 100, 250);
    q = run(l, bc, "select 1", 3000);
    ok(!q.ok && strcmp(q.reason, "connect") == 0, "first attempt: connect");
    int64_t left = pgconn_backoff_left_ms(bc);
    ok(left > 50 && left <= 100, "then a 100 ms wait (%lld ms left)", (long long)left);
    q = run(l, bc, "select 1", 3000);
    ok(!q.ok && strcmp(q.reason, "backoff") == 0 && q.duration < 0.01 &&
           strstr(q.error, "Connection refused"),
       "a query during the wait fails at once with reason backoff: %s", q.error);
    usleep(120 * 1000);
    q = run(l, bc, "select 1", 3000);
    ok(!q.ok && strcmp(q.reason, "connect") == 0, "after the wait, a new attempt (connect)");
    left = pgconn_backoff_left_ms(bc);
    ok(left > 150 && left <= 200, "the wait doubled (%lld ms left)", (long long)left);
    usleep(210 * 1000);
    run(l, bc, "select 1", 3000);
    left = pgconn_backoff_left_ms(bc);
    ok(left > 200 && left <= 250, "and is capped (%lld ms left)", (long long)left);
    pgconn_free(bc);

    pgconn_free(c);
    loop_timer_free(t);
    loop_free(l);
    char *rm = xasprintf("rm -rf %s", dir);
    if (system(rm) != 0) diag("could not remove %s", dir);
    free(rm);
    return done_testing();
}
