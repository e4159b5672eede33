/* postgres.c: the PostgreSQL collector: one target per site's database server, queried over
 * libpq without ever blocking the loop (exporter/pgconn).
 *
 * Each scrape runs POSTGRES_QUERY (postgres.h) on a kept connection. The connection carries a
 * statement_timeout and default_transaction_read_only, the password is read from its file at
 * each connection attempt, and failed attempts back off exponentially up to
 * reconnect_backoff_max: a scrape during the wait fails at once with reason "backoff". A host
 * given by name is resolved with c-ares (exporter/dns) before each new connection, since libpq
 * would resolve it with a blocking call.
 *
 * The targets of one config share a walpos board: the primary posts its flush position there
 * and the other site's standby measures its lag against it (postgres_map.c says how).
 *
 * Uses: exporter/pgconn, exporter/dns, exporter/walpos, postgres_map.c. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "clock.h"
#include "collector_env.h"
#include "collectors.h"
#include "dns.h"
#include "http_target.h"
#include "pgconn.h"
#include "postgres.h"
#include "xalloc.h"

static const char *const sslmodes[] = {"prefer",    "disable",     "allow", "require",
                                       "verify-ca", "verify-full", NULL};

struct pg_target_cfg {
    int site;
    char *name, *host, *dbname, *user, *password_file, *sslrootcert;
    int64_t port;
    int sslmode;
    int64_t interval_ms, timeout_ms, statement_timeout_ms, backoff_max_ms;
};

struct pg_cfg {
    struct cfg_list targets;
};

static const struct cfg_key pg_target_keys[] = {
    {.name = "site",
     .type = CFG_ENUM,
     .offset = offsetof(struct pg_target_cfg, site),
     .choices = drwatch_sites,
     .required = true,
     .expect = "the site this server belongs to"},
    {.name = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct pg_target_cfg, name),
     .expect = "the target label (default: host:port)"},
    {.name = "host",
     .type = CFG_STRING,
     .offset = offsetof(struct pg_target_cfg, host),
     .required = true,
     .expect = "an IP address or a host name (resolved without blocking)"},
    {.name = "port",
     .type = CFG_INT,
     .offset = offsetof(struct pg_target_cfg, port),
     .def = "5432",
     .expect = "a TCP port",
     .min = 1,
     .max = 65535},
    {.name = "dbname",
     .type = CFG_STRING,
     .offset = offsetof(struct pg_target_cfg, dbname),
     .def = "postgres",
     .expect = "a database name"},
    {.name = "user",
     .type = CFG_STRING,
     .offset = offsetof(struct pg_target_cfg, user),
     .required = true,
     .expect = "a role with pg_monitor"},
    {.name = "password_file",
     .type = CFG_STRING,
     .offset = offsetof(struct pg_target_cfg, password_file),
     .expect = "a file holding the password (read at each connection)"},
    {.name = "sslmode",
     .type = CFG_ENUM,
     .offset = offsetof(struct pg_target_cfg, sslmode),
     .choices = sslmodes,
     .def = "prefer",
     .expect = "libpq's sslmode"},
    {.name = "sslrootcert",
     .type = CFG_STRING,
     .offset = offsetof(struct pg_target_cfg, sslrootcert),
     .expect = "a PEM file of CA certificates (verify-ca, verify-full)"},
    {.name = "interval",
     .type = CFG_DURATION,
     .offset = offsetof(struct pg_target_cfg, interval_ms),
     .expect = "1s to 1h",
     .min = 1000,
     .max = 3600000},
    {.name = "timeout",
     .type = CFG_DURATION,
     .offset = offsetof(struct pg_target_cfg, timeout_ms),
     .expect = "100ms to 1h, at most the interval (connection included)",
     .min = 100,
     .max = 3600000},
    {.name = "statement_timeout",
     .type = CFG_DURATION,
     .offset = offsetof(struct pg_target_cfg, statement_timeout_ms),
     .expect = "the server-side statement_timeout, 10ms to 1h (default: 80% of the timeout)",
     .min = 10,
     .max = 3600000},
    {.name = "reconnect_backoff_max",
     .type = CFG_DURATION,
     .offset = offsetof(struct pg_target_cfg, backoff_max_ms),
     .def = "30s",
     .expect = "the longest wait between connection attempts, 1s to 1h",
     .min = 1000,
     .max = 3600000},
    CFG_END,
};

static const struct cfg_key pg_keys[] = {
    {.name = "targets",
     .type = CFG_LIST,
     .offset = offsetof(struct pg_cfg, targets),
     .sub = pg_target_keys,
     .sub_size = sizeof(struct pg_target_cfg),
     .required = true,
     .expect = "one table per server: { site = ..., host = ..., user = ..., password_file = ... }"},
    CFG_END,
};

struct pg_target {
    char *label, *site, *host;
    struct pgconn *conn;
    struct dns *dns;
    bool dns_pending; /* an A query is out; its answer serves whichever scrape runs then */
    int64_t timeout_ms;
    double max_age;
    struct walpos *board;
    struct postgres_memory mem;
    struct scrape *scrape;
};

/* ---- a scrape ---- */

static void on_result(void *arg, const struct pgconn_result *r)
{
    struct pg_target *t = arg;
    struct scrape *s = t->scrape;
    t->scrape = NULL;
    if (!s) return;
    if (!r->ok) {
        scrape_done(s, false, r->reason, r->error);
        return;
    }
    struct pg_rows sets[PGCONN_MAX_RESULTS];
    const char **names[PGCONN_MAX_RESULTS] = {0};
    const char **cells[PGCONN_MAX_RESULTS] = {0};
    for (int i = 0; i < r->nresults; i++) {
        PGresult *res = r->results[i];
        size_t nc = (size_t)PQnfields(res), nr = (size_t)PQntuples(res);
        names[i] = xcalloc(nc + 1, sizeof(char *));
        cells[i] = xcalloc(nc * nr + 1, sizeof(char *));
        for (size_t c = 0; c < nc; c++) names[i][c] = PQfname(res, (int)c);
        for (size_t row = 0; row < nr; row++)
            for (size_t c = 0; c < nc; c++)
                cells[i][row * nc + c] =
                    PQgetisnull(res, (int)row, (int)c) ? NULL : PQgetvalue(res, (int)row, (int)c);
        sets[i] = (struct pg_rows){.ncols = nc, .nrows = nr, .names = names[i], .cells = cells[i]};
    }
    struct pg_obs *o = xcalloc(1, sizeof(*o));
    const char *reason = NULL;
    char err[200];
    if (postgres_parse(sets, (size_t)r->nresults, o, &reason, err, sizeof(err)) < 0) {
        scrape_done(s, false, reason, err);
    } else {
        postgres_emit(scrape_set(s), t->site, t->label, o, &t->mem, t->board, t, time_wall_s(),
                      t->max_age);
        scrape_done(s, true, NULL, NULL);
    }
    postgres_obs_clear(o);
    free(o);
    for (int i = 0; i < r->nresults; i++) free(names[i]), free(cells[i]);
}

static void run_query(struct pg_target *t)
{
    /* -EBUSY (on_result is then not called) while another query is out: not expected, as
     * pg_cancel abandons the query of a cancelled scrape; if it happens, this scrape fails now
     * rather than wait for its deadline. */
    if (pgconn_query(t->conn, POSTGRES_QUERY, t->timeout_ms, on_result, t) < 0 && t->scrape) {
        struct scrape *s = t->scrape;
        t->scrape = NULL;
        scrape_done(s, false, "busy", "the previous query is still running");
    }
}

static void on_dns(void *arg, const struct dns_answer *a)
{
    struct pg_target *t = arg;
    t->dns_pending = false;
    if (!t->scrape) return; /* the scrape was cancelled at its deadline */
    if (a->naddrs == 0) {
        char detail[300];
        snprintf(detail, sizeof(detail), "resolving %s: %s (%s)", t->host, a->status,
                 a->detail ? a->detail : "");
        struct scrape *s = t->scrape;
        t->scrape = NULL;
        scrape_done(s, false, "dns", detail);
        return;
    }
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a->addrs[0], ip, sizeof(ip));
    pgconn_set_hostaddr(t->conn, ip);
    run_query(t);
}

static void pg_start(void *state, struct scrape *s)
{
    struct pg_target *t = state;
    t->scrape = s;
    if (t->dns && !pgconn_connected(t->conn) && pgconn_backoff_left_ms(t->conn) == 0) {
        if (!t->dns_pending) {
            t->dns_pending = true;
            dns_query_a(t->dns, t->host, on_dns, t);
        }
        return;
    }
    run_query(t);
}

static void pg_cancel(void *state)
{
    struct pg_target *t = state;
    t->scrape = NULL;
    pgconn_cancel(t->conn);
}

/* ---- config ---- */

static void pg_free(void *state)
{
    struct pg_target *t = state;
    if (!t) return;
    pgconn_free(t->conn);
    dns_free(t->dns); /* a pending query is dropped without its callback */
    walpos_unref(t->board);
    free(t->label);
    free(t->site);
    free(t->host);
    free(t);
}

/* Appends key='value' to a conninfo, quoted as libpq wants. */
static void conninfo_add(struct buf *b, const char *key, const char *value)
{
    if (!value) return;
    buf_printf(b, "%s%s='", b->len ? " " : "", key);
    for (const char *p = value; *p; p++) {
        if (*p == '\'' || *p == '\\') buf_putc(b, '\\');
        buf_putc(b, *p);
    }
    buf_putc(b, '\'');
}

static bool is_ip(const char *host)
{
    unsigned char a[16];
    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

static int check_target(const struct pg_target_cfg *c, const char *label, char *err, size_t errlen)
{
    if (c->interval_ms && c->timeout_ms > c->interval_ms) {
        snprintf(err, errlen, "target %s: timeout is longer than the interval", label);
        return -1;
    }
    const char *files[] = {c->password_file, c->sslrootcert};
    const char *what[] = {"password_file", "sslrootcert"};
    for (size_t i = 0; i < 2; i++) {
        if (files[i] && access(files[i], R_OK) != 0) {
            snprintf(err, errlen, "target %s: %s %s is not readable", label, what[i], files[i]);
            return -1;
        }
    }
    if (strchr(c->host, ',')) {
        snprintf(err, errlen, "target %s: one host per target", label);
        return -1;
    }
    return 0;
}

/* The target's libpq conninfo (caller frees), or NULL when the settings make it longer than
 * CAP_PG_CONNINFO. */
static char *conninfo(const struct pg_target_cfg *c, int64_t timeout)
{
    int64_t st = c->statement_timeout_ms ? c->statement_timeout_ms : timeout * 8 / 10;
    struct buf ci;
    buf_init(&ci, CAP_PG_CONNINFO);
    conninfo_add(&ci, "host", c->host);
    buf_printf(&ci, " port=%lld", (long long)c->port);
    conninfo_add(&ci, "dbname", c->dbname);
    conninfo_add(&ci, "user", c->user);
    conninfo_add(&ci, "sslmode", sslmodes[c->sslmode]);
    conninfo_add(&ci, "sslrootcert", c->sslrootcert);
    buf_puts(&ci, " application_name=drwatch gssencmode=disable");
    buf_printf(&ci, " options='-c statement_timeout=%lld -c default_transaction_read_only=on'",
               (long long)(st > 0 ? st : 1));
    if (buf_error(&ci)) { /* a cut conninfo would connect with other settings */
        buf_free(&ci);
        return NULL;
    }
    return buf_steal(&ci, NULL);
}

/* Takes label and ci. */
static struct pg_target *make_target(const struct pg_target_cfg *c, const struct collector_env *env,
                                     int64_t interval, int64_t timeout, char *label, char *ci)
{
    struct pg_target *t = xcalloc(1, sizeof(*t));
    t->label = label;
    t->site = xstrdup(drwatch_sites[c->site]);
    t->host = xstrdup(c->host);
    t->timeout_ms = timeout;
    t->max_age = 3.0 * (double)interval / 1000.0;
    t->conn = pgconn_new(env->loop, ci);
    free(ci);
    pgconn_set_password_file(t->conn, c->password_file);
    pgconn_set_backoff(t->conn, 1000, c->backoff_max_ms);
    /* A host name is resolved with c-ares, not by libpq's blocking getaddrinfo. */
    if (strcmp(c->host, "localhost") == 0) /* c-ares' ares_query does not read /etc/hosts */
        pgconn_set_hostaddr(t->conn, "127.0.0.1");
    else if (!is_ip(c->host))
        t->dns = dns_new(env->loop, &(struct dns_opts){0}, NULL, 0);
    return t;
}

static int pg_create(const void *config, const struct collector_env *env, struct target_list *out,
                     char *err, size_t errlen)
{
    const struct pg_cfg *cfg = config;
    const struct pg_target_cfg *items = cfg->targets.items;
    for (size_t i = 0; i < cfg->targets.n; i++) {
        char *label = items[i].name ? xstrdup(items[i].name)
                                    : xasprintf("%s:%lld", items[i].host, (long long)items[i].port);
        int rc = check_target(&items[i], label, err, errlen);
        free(label);
        if (rc < 0) return -1;
    }
    struct walpos *board = walpos_new();
    for (size_t i = 0; i < cfg->targets.n; i++) {
        const struct pg_target_cfg *c = &items[i];
        int64_t interval = c->interval_ms ? c->interval_ms : env->fast_interval_ms;
        int64_t timeout = c->timeout_ms ? c->timeout_ms : interval;
        if (timeout > interval) timeout = interval;
        char *label =
            c->name ? xstrdup(c->name) : xasprintf("%s:%lld", c->host, (long long)c->port);
        char *ci = conninfo(c, timeout);
        if (!ci) {
            snprintf(err, errlen, "target %s: the connection settings are longer than %zu bytes",
                     label, (size_t)CAP_PG_CONNINFO);
            free(label);
            walpos_unref(board);
            return -1;
        }
        struct pg_target *t = make_target(c, env, interval, timeout, label, ci);
        walpos_ref(board);
        t->board = board;
        target_list_add(out, t, t->label, t->site, interval, timeout);
    }
    walpos_unref(board);
    return 0;
}

const struct collector_ops postgres_collector = {
    .name = "postgres",
    .module = {.name = "postgres", .keys = pg_keys, .size = sizeof(struct pg_cfg)},
    .create = pg_create,
    .start = pg_start,
    .cancel = pg_cancel,
    .free = pg_free,
};
