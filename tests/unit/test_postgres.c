/* test_postgres.c: the PostgreSQL mapping, data-driven: each tests/data/postgres/<case>.rows
 * holds the four result sets of POSTGRES_QUERY as text cells ('|'-separated, \N for NULL),
 * plus what the other targets posted on the board and what the target remembers; the rendered
 * /metrics must equal <case>.prom (DRWATCH_UPDATE_GOLDEN=1 rewrites them). Then the refusals, and
 * the caught-up memory across two scrapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "postgres.h"
#include "registry.h"
#include "tap.h"
#include "xalloc.h"

#define DATA      "tests/data/postgres"
#define MAX_CELLS 512

struct rowset {
    const char *names[32];
    const char *cells[MAX_CELLS];
    size_t ncols, nrows;
};

struct cse {
    struct rowset rs[4];
    size_t nsets;
    double now_wall;
    struct walpos *board;
    struct postgres_memory mem;
    int other;
};

static size_t split(char *line, const char **out, size_t max)
{
    size_t n = 0;
    for (char *p = line;; p++) {
        char *bar = strchr(p, '|');
        if (bar) *bar = '\0';
        if (n < max) out[n++] = strcmp(p, "\\N") == 0 ? NULL : p;
        if (!bar) break;
        p = bar;
    }
    return n;
}

/* Parses the .rows text (modified in place; cells point into it). */
static void parse_case(char *text, struct cse *c)
{
    int in_set = -1;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char sysid[64];
        long long tl, lsn;
        double seen;
        if (line[0] == '#') continue;
        if (sscanf(line, "now_wall %lf", &c->now_wall) == 1) continue;
        if (sscanf(line, "memory %lf", &c->mem.caught_up_at) == 1) continue;
        if (sscanf(line, "board %63s %lld %lld %lf", sysid, &tl, &lsn, &seen) == 4) {
            walpos_post(c->board, &c->other, sysid, tl, lsn, seen);
            continue;
        }
        if (strcmp(line, "set") == 0) {
            in_set = (int)c->nsets++;
            continue;
        }
        if (in_set < 0 || in_set > 3) continue;
        struct rowset *r = &c->rs[in_set];
        if (!r->ncols) {
            r->ncols = split(line, r->names, 32);
        } else if ((r->nrows + 1) * r->ncols <= MAX_CELLS) {
            size_t n = split(line, r->cells + r->nrows * r->ncols, r->ncols);
            if (n == r->ncols) r->nrows++;
        }
    }
}

static char *emit_case(struct cse *c, const char *site, int *rc, const char **reason)
{
    struct pg_rows sets[4];
    for (size_t i = 0; i < c->nsets && i < 4; i++)
        sets[i] = (struct pg_rows){.ncols = c->rs[i].ncols,
                                   .nrows = c->rs[i].nrows,
                                   .names = c->rs[i].names,
                                   .cells = c->rs[i].cells};
    struct pg_obs *o = xcalloc(1, sizeof(*o));
    char err[200];
    *rc = postgres_parse(sets, c->nsets, o, reason, err, sizeof(err));
    char *out = NULL;
    if (*rc == 0) {
        struct metric_set *set = mset_new();
        postgres_emit(set, site, "db", o, &c->mem, c->board, c, c->now_wall, 15);
        out = golden_render_text(set);
        mset_unref(set);
    } else {
        diag("%s: %s", *reason, err);
    }
    postgres_obs_clear(o);
    free(o);
    return out;
}

static void run_case(const char *name)
{
    char *path = xasprintf("%s/%s.rows", DATA, name), *text = golden_slurp(path);
    if (!ok(text != NULL, "%s read", path)) return;
    struct cse *c = xcalloc(1, sizeof(*c));
    c->board = walpos_new();
    parse_case(text, c);
    int rc;
    const char *reason;
    char *got = emit_case(c, strncmp(name, "gold-", 5) == 0 ? "gold" : "golddr", &rc, &reason);
    ok(rc == 0, "%s.rows parses", name);
    char *golden = xasprintf("%s/%s.prom", DATA, name);
    golden_check(golden, got, "%s.rows: /metrics as expected", name);
    free(golden);
    free(got);
    walpos_unref(c->board);
    free(c);
    free(text);
    free(path);
}

static void test_cases(void)
{
    char *names[64];
    int n = golden_cases(DATA, ".rows", names, 64);
    if (!ok(n >= 0, "%s exists", DATA)) return;
    ok(n >= 5, "%d golden cases", n);
    for (int i = 0; i < n; i++) {
        run_case(names[i]);
        free(names[i]);
    }
}

static const char *status_cols =
    "in_recovery|server_version_num|system_identifier|timeline|flush_lsn|receive_lsn|"
    "replay_lsn|last_replay_ts|replay_paused|now";
static const char *tail_sets = "set\nstatus|received_tli|slot_name|sender_host|sender_port|"
                               "flushed_lsn|latest_end_lsn|last_msg_receipt_time\nset\n"
                               "application_name|client_addr|state|sync_state|flush_lsn|"
                               "replay_lsn|replay_lag\nset\nslot_name|slot_type|active|"
                               "restart_lsn|wal_status|safe_wal_size\n";

static const char *reason_of(const char *text)
{
    char *copy = xstrdup(text);
    struct cse *c = xcalloc(1, sizeof(*c));
    c->board = walpos_new();
    parse_case(copy, c);
    int rc;
    const char *reason = "ok";
    char *out = emit_case(c, "golddr", &rc, &reason);
    free(out);
    walpos_unref(c->board);
    free(c);
    free(copy);
    return rc == 0 ? "ok" : reason;
}

static void test_refusals(void)
{
    char *t = xasprintf("set\n%s\nt|150018|1|1|\\N|1|1|\\N|f|100\n", status_cols);
    is_str(reason_of(t), "bad_result", "one result set instead of four is refused");
    free(t);
    t = xasprintf("set\nin_recovery|now\nt|1\n%s", tail_sets);
    is_str(reason_of(t), "bad_result", "a status row without its columns is refused");
    free(t);
    t = xasprintf("set\n%s\n%s", status_cols, tail_sets);
    is_str(reason_of(t), "bad_result", "no status row is refused");
    free(t);
    t = xasprintf("set\n%s\nt|x|1|y|\\N|zz|1|\\N|f|100\n%s", status_cols, tail_sets);
    is_str(reason_of(t), "ok", "unparsable numbers are treated as NULL");
    free(t);
}

/* Two scrapes of a standby: caught up, then behind with an hour-old last commit: the lag is
 * the time since it was caught up, not the hour. */
static void test_memory(void)
{
    struct cse *c = xcalloc(1, sizeof(*c));
    c->board = walpos_new();
    char *t = xasprintf("now_wall 5000\nboard 42 1 1000 4999\nset\n%s\n"
                        "t|150018|42|1|\\N|1000|1000|1400|f|5000\n%s",
                        status_cols, tail_sets);
    parse_case(t, c);
    int rc;
    const char *reason;
    char *out = emit_case(c, "golddr", &rc, &reason);
    ok(out && strstr(out, "drwatch_postgres_replay_lag_seconds{site=\"golddr\",target=\"db\"} 0\n"),
       "caught up: 0 s although the last commit is 3600 s old");
    ok(c->mem.caught_up_at == 5000, "the time it was caught up is remembered");
    free(out);
    free(t);
    struct postgres_memory mem = c->mem;
    walpos_unref(c->board);
    memset(c, 0, sizeof(*c));
    c->board = walpos_new();
    c->mem = mem;
    t = xasprintf("now_wall 5010\nboard 42 1 9000 5009\nset\n%s\n"
                  "t|150018|42|1|\\N|1000|1000|1400|f|5010\n%s",
                  status_cols, tail_sets);
    parse_case(t, c);
    out = emit_case(c, "golddr", &rc, &reason);
    ok(out &&
           strstr(out, "drwatch_postgres_replay_lag_seconds{site=\"golddr\",target=\"db\"} 10\n"),
       "behind: 10 s since caught up, not 3610 s since the last commit");
    ok(out &&
           strstr(out, "drwatch_postgres_replay_lag_bytes{site=\"golddr\",target=\"db\"} 8000\n"),
       "8000 bytes behind the primary on the board");
    free(out);
    free(t);
    walpos_unref(c->board);
    free(c);
}

int main(void)
{
    test_cases();
    test_refusals();
    test_memory();
    return done_testing();
}
