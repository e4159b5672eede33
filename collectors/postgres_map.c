/* postgres_map.c: the PostgreSQL collector's result sets to metrics (see postgres.h).
 *
 * The RPO figures of a standby need the primary's current position, which the standby does
 * not have. Two sources are combined, both lower bounds of where the primary is now: the
 * standby's own WAL receiver (latest_end_lsn, the sender's end of WAL in its last message,
 * while it streams), and the primary of the same system identifier that another target of
 * this drwatch saw (the walpos board, from that target's latest scrape). The larger wins.
 *
 * Replay lag in seconds: now() - pg_last_xact_replay_timestamp() grows while an idle primary
 * commits nothing (postgres.md, "RPO / lag pitfalls"). So a standby whose replay position has
 * reached the primary's is 0 seconds behind, whatever that timestamp says; one that has not is
 * behind by at most the age of the last replayed commit, and at most the time since it was last
 * seen caught up (every commit it misses came later): the smaller of the two is exported. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "postgres.h"
#include "strutil.h"
#include "xalloc.h"

#define LABEL_MAX 256

/* ---- reading result sets ---- */

static int col(const struct pg_rows *r, const char *name)
{
    for (size_t i = 0; i < r->ncols; i++)
        if (strcmp(r->names[i], name) == 0) return (int)i;
    return -1;
}

static const char *cell(const struct pg_rows *r, size_t row, int c)
{
    return c < 0 || row >= r->nrows ? NULL : r->cells[row * r->ncols + (size_t)c];
}

static char *text_at(const struct pg_rows *r, size_t row, int c)
{
    const char *s = cell(r, row, c);
    if (!s) return NULL;
    return xstrndup(s, str_utf8_cut(s, strlen(s), LABEL_MAX));
}

static struct pg_opt_i64 i64_at(const struct pg_rows *r, size_t row, int c)
{
    const char *s = cell(r, row, c);
    struct pg_opt_i64 o = {0};
    if (!s || !*s) return o;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == 0 && *end == '\0') o = (struct pg_opt_i64){true, v};
    return o;
}

static struct pg_opt_f64 f64_at(const struct pg_rows *r, size_t row, int c)
{
    const char *s = cell(r, row, c);
    struct pg_opt_f64 o = {0};
    if (!s || !*s) return o;
    char *end;
    double v = strtod(s, &end);
    if (*end == '\0' && v == v) o = (struct pg_opt_f64){true, v};
    return o;
}

static bool bool_at(const struct pg_rows *r, size_t row, int c)
{
    const char *s = cell(r, row, c);
    return s && strcmp(s, "t") == 0;
}

/* Looks every wanted column up; fails on the first missing one. */
static int need(const struct pg_rows *r, const char *const *names, int *out, size_t n,
                const char **reason, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if ((out[i] = col(r, names[i])) < 0) {
            *reason = "bad_result";
            snprintf(err, errlen, "no column \"%s\" in the result", names[i]);
            return -1;
        }
    }
    return 0;
}

static int parse_status(const struct pg_rows *r, struct pg_obs *o, const char **reason, char *err,
                        size_t errlen)
{
    static const char *const names[] = {
        "in_recovery", "server_version_num", "system_identifier", "timeline",      "flush_lsn",
        "receive_lsn", "replay_lsn",         "last_replay_ts",    "replay_paused", "now"};
    int c[ARRAY_LEN(names)];
    if (need(r, names, c, ARRAY_LEN(names), reason, err, errlen) < 0) return -1;
    if (r->nrows != 1 || !cell(r, 0, c[0])) {
        *reason = "bad_result";
        snprintf(err, errlen, "the status query gave %zu rows, not 1", r->nrows);
        return -1;
    }
    o->in_recovery = bool_at(r, 0, c[0]);
    struct pg_opt_i64 v = i64_at(r, 0, c[1]);
    o->server_version = v.ok ? v.v : 0;
    o->sysid = text_at(r, 0, c[2]);
    o->timeline = i64_at(r, 0, c[3]);
    o->flush_lsn = i64_at(r, 0, c[4]);
    o->receive_lsn = i64_at(r, 0, c[5]);
    o->replay_lsn = i64_at(r, 0, c[6]);
    o->last_replay_ts = f64_at(r, 0, c[7]);
    o->replay_paused = bool_at(r, 0, c[8]);
    o->now = f64_at(r, 0, c[9]);
    return 0;
}

static int parse_receiver(const struct pg_rows *r, struct pg_obs *o, const char **reason, char *err,
                          size_t errlen)
{
    static const char *const names[] = {"status",         "received_tli",         "slot_name",
                                        "sender_host",    "sender_port",          "flushed_lsn",
                                        "latest_end_lsn", "last_msg_receipt_time"};
    int c[ARRAY_LEN(names)];
    if (need(r, names, c, ARRAY_LEN(names), reason, err, errlen) < 0) return -1;
    if (r->nrows == 0) return 0;
    o->has_receiver = true;
    o->receiver.status = text_at(r, 0, c[0]);
    o->receiver.tli = i64_at(r, 0, c[1]);
    o->receiver.slot_name = text_at(r, 0, c[2]);
    o->receiver.sender_host = text_at(r, 0, c[3]);
    o->receiver.sender_port = text_at(r, 0, c[4]);
    o->receiver.flushed_lsn = i64_at(r, 0, c[5]);
    o->receiver.latest_end_lsn = i64_at(r, 0, c[6]);
    o->receiver.last_msg_receipt = f64_at(r, 0, c[7]);
    return 0;
}

static int parse_standbys(const struct pg_rows *r, struct pg_obs *o, const char **reason, char *err,
                          size_t errlen)
{
    static const char *const names[] = {"application_name", "client_addr", "state",
                                        "sync_state",       "flush_lsn",   "replay_lsn",
                                        "replay_lag"};
    int c[ARRAY_LEN(names)];
    if (need(r, names, c, ARRAY_LEN(names), reason, err, errlen) < 0) return -1;
    for (size_t i = 0; i < r->nrows && o->nstandbys < POSTGRES_MAX_ROWS; i++) {
        struct pg_standby_row *s = &o->standbys[o->nstandbys++];
        s->application_name = text_at(r, i, c[0]);
        s->client_addr = text_at(r, i, c[1]);
        s->state = text_at(r, i, c[2]);
        s->sync_state = text_at(r, i, c[3]);
        s->flush_lsn = i64_at(r, i, c[4]);
        s->replay_lsn = i64_at(r, i, c[5]);
        s->replay_lag = f64_at(r, i, c[6]);
    }
    return 0;
}

static int parse_slots(const struct pg_rows *r, struct pg_obs *o, const char **reason, char *err,
                       size_t errlen)
{
    static const char *const names[] = {"slot_name",   "slot_type",  "active",
                                        "restart_lsn", "wal_status", "safe_wal_size"};
    int c[ARRAY_LEN(names)];
    if (need(r, names, c, ARRAY_LEN(names), reason, err, errlen) < 0) return -1;
    for (size_t i = 0; i < r->nrows && o->nslots < POSTGRES_MAX_ROWS; i++) {
        if (!cell(r, i, c[0])) continue;
        struct pg_slot_row *s = &o->slots[o->nslots++];
        s->slot_name = text_at(r, i, c[0]);
        s->slot_type = text_at(r, i, c[1]);
        s->active = bool_at(r, i, c[2]);
        s->restart_lsn = i64_at(r, i, c[3]);
        s->wal_status = text_at(r, i, c[4]);
        s->safe_wal_size = i64_at(r, i, c[5]);
    }
    return 0;
}

int postgres_parse(const struct pg_rows *sets, size_t nsets, struct pg_obs *o, const char **reason,
                   char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    if (nsets != 4) {
        *reason = "bad_result";
        snprintf(err, errlen, "%zu result sets, not 4", nsets);
        return -1;
    }
    if (parse_status(&sets[0], o, reason, err, errlen) < 0 ||
        parse_receiver(&sets[1], o, reason, err, errlen) < 0 ||
        parse_standbys(&sets[2], o, reason, err, errlen) < 0 ||
        parse_slots(&sets[3], o, reason, err, errlen) < 0) {
        postgres_obs_clear(o);
        return -1;
    }
    return 0;
}

void postgres_obs_clear(struct pg_obs *o)
{
    if (!o) return;
    free(o->sysid);
    free(o->receiver.status);
    free(o->receiver.slot_name);
    free(o->receiver.sender_host);
    free(o->receiver.sender_port);
    for (size_t i = 0; i < o->nstandbys; i++) {
        free(o->standbys[i].application_name);
        free(o->standbys[i].client_addr);
        free(o->standbys[i].state);
        free(o->standbys[i].sync_state);
    }
    for (size_t i = 0; i < o->nslots; i++) {
        free(o->slots[i].slot_name);
        free(o->slots[i].slot_type);
        free(o->slots[i].wal_status);
    }
    memset(o, 0, sizeof(*o));
}

/* ---- metrics ---- */

#define EVERY " Collected every fast_interval (5s by default)."

static const struct family_def F_INFO = {
    "drwatch_postgres_info", METRIC_INFO, NULL,
    "The server's version (server_version_num) and database system identifier (the same on a "
    "primary and its physical standbys, so it pairs gold with golddr)."};
static const struct family_def F_IN_RECOVERY = {
    "drwatch_postgres_in_recovery", METRIC_GAUGE, NULL,
    "pg_is_in_recovery(): 1 on a standby (a Patroni standby leader too), 0 on a writable "
    "primary. Two targets of one system identifier at 0 means two primaries." EVERY};
static const struct family_def F_TIMELINE = {
    "drwatch_postgres_timeline", METRIC_GAUGE, NULL,
    "The server's timeline: from its current WAL file on a primary, from its last restartpoint "
    "on a standby."};
static const struct family_def F_FLUSH = {
    "drwatch_postgres_wal_flush_lsn_bytes", METRIC_GAUGE, "bytes",
    "A primary's WAL flush position (pg_current_wal_flush_lsn()) "
    "as a byte offset."};
static const struct family_def F_RECEIVE = {
    "drwatch_postgres_wal_receive_lsn_bytes", METRIC_GAUGE, "bytes",
    "A standby's last WAL position received and flushed (pg_last_wal_receive_lsn()), bytes."};
static const struct family_def F_REPLAY = {
    "drwatch_postgres_wal_replay_lsn_bytes", METRIC_GAUGE, "bytes",
    "A standby's last WAL position replayed (pg_last_wal_replay_lsn()), bytes."};
static const struct family_def F_REPLAY_TS = {
    "drwatch_postgres_last_replay_timestamp_seconds", METRIC_GAUGE, "seconds",
    "Commit time on the primary of the last transaction a standby replayed "
    "(pg_last_xact_replay_timestamp(), Unix time)."};
static const struct family_def F_PAUSED = {"drwatch_postgres_replay_paused", METRIC_GAUGE, NULL,
                                           "1 if WAL replay is paused on this standby "
                                           "(pg_is_wal_replay_paused())."};
static const struct family_def F_PRIMARY_LSN = {
    "drwatch_postgres_primary_lsn_bytes", METRIC_GAUGE, "bytes",
    "The primary's WAL position a standby's lag is measured against: the larger of its WAL "
    "receiver's latest_end_lsn (while streaming) and the flush position of the primary with "
    "the same system identifier that another postgres target of this drwatch saw in its "
    "latest scrape."};
static const struct family_def F_RECEIVE_LAG = {
    "drwatch_postgres_receive_lag_bytes", METRIC_GAUGE, "bytes",
    "WAL a standby has not yet received from its primary: drwatch_postgres_primary_lsn_bytes "
    "minus pg_last_wal_receive_lsn(), floored at 0. The live RPO exposure in bytes (what "
    "losing the primary now would lose); a lower bound, as the primary's position is."};
static const struct family_def F_REPLAY_LAG = {
    "drwatch_postgres_replay_lag_bytes", METRIC_GAUGE, "bytes",
    "WAL a standby has not yet replayed: drwatch_postgres_primary_lsn_bytes minus "
    "pg_last_wal_replay_lsn(), floored at 0 (returns to 0 once replay catches up)."};
static const struct family_def F_REPLAY_LAG_S = {
    "drwatch_postgres_replay_lag_seconds", METRIC_GAUGE, "seconds",
    "How far a standby's replayed data is behind its primary in time: 0 when its replay "
    "position has reached the primary's (an idle primary does not make it grow), otherwise the "
    "smaller of now() - pg_last_xact_replay_timestamp() and the time since it was last seen "
    "caught up." EVERY};
static const struct family_def F_RCV_INFO = {
    "drwatch_postgres_wal_receiver_info", METRIC_INFO, NULL,
    "A standby's WAL receiver (pg_stat_wal_receiver): status, and where it streams from "
    "(sender_host, sender_port, slot_name): on a standby leader, the other site's primary."};
static const struct family_def F_RCV_STREAMING = {
    "drwatch_postgres_wal_receiver_streaming", METRIC_GAUGE, NULL,
    "1 if a standby's WAL receiver is streaming, 0 if it is in another state or not running."};
static const struct family_def F_RCV_AGE = {
    "drwatch_postgres_wal_receiver_last_message_age_seconds", METRIC_GAUGE, "seconds",
    "Seconds since the WAL receiver last heard from its sender (server clock); grows while the "
    "link to the primary is down, even when the primary is idle."};
static const struct family_def F_REPL_INFO = {
    "drwatch_postgres_replication_info", METRIC_INFO, NULL,
    "Each standby streaming from this server (pg_stat_replication): application_name (Patroni "
    "sets the member name), client_addr, state and sync_state."};
static const struct family_def F_REPL_N = {
    "drwatch_postgres_replication_standbys", METRIC_GAUGE, NULL,
    "Walsenders connected to this server (pg_stat_replication "
    "rows, at most 64 exported)."};
static const struct family_def F_REPL_FLUSH = {
    "drwatch_postgres_replication_flush_lag_bytes", METRIC_GAUGE, "bytes",
    "Bytes a connected standby has not yet flushed, against this server's position (flush LSN "
    "on a primary, receive LSN on a cascading standby): its RPO exposure as the primary sees "
    "it."};
static const struct family_def F_REPL_REPLAY = {
    "drwatch_postgres_replication_replay_lag_bytes", METRIC_GAUGE, "bytes",
    "Bytes a connected standby has not yet replayed, against this server's position."};
static const struct family_def F_REPL_REPLAY_S = {
    "drwatch_postgres_replication_replay_lag_seconds", METRIC_GAUGE, "seconds",
    "pg_stat_replication.replay_lag of a connected standby (0 when it is caught up and "
    "PostgreSQL reports NULL)."};
static const struct family_def F_SLOT_INFO = {
    "drwatch_postgres_slot_info", METRIC_INFO, NULL,
    "Each replication slot: type and wal_status (PG 13+)."};
static const struct family_def F_SLOT_ACTIVE = {
    "drwatch_postgres_slot_active", METRIC_GAUGE, NULL,
    "1 if a replication slot is in use by a connected standby; an inactive slot retains WAL."};
static const struct family_def F_SLOT_RETAINED = {
    "drwatch_postgres_slot_retained_bytes", METRIC_GAUGE, "bytes",
    "WAL a slot holds back: this server's position minus the slot's restart_lsn. For the DR "
    "slot it bounds how far the standby cluster is behind, even while disconnected."};
static const struct family_def F_SLOT_SAFE = {
    "drwatch_postgres_slot_safe_wal_size_bytes", METRIC_GAUGE, "bytes",
    "Bytes that can still be written before the slot loses WAL (safe_wal_size, PG 13+, only "
    "with max_slot_wal_keep_size)."};

static const char *nz(const char *s)
{
    return s ? s : "";
}

/* Differences of two Unix times, to the microsecond the server gives (no 5.037666082382202). */
static double usec(double x)
{
    return round(x * 1e6) / 1e6;
}

static double diff0(int64_t a, int64_t b)
{
    return a > b ? (double)(a - b) : 0;
}

/* The primary's position as this standby can best know it; false when unknown. */
static bool primary_position(const struct pg_obs *o, const struct walpos *board, double now_wall,
                             double max_age, int64_t *pos)
{
    bool known = false;
    if (o->has_receiver && o->receiver.latest_end_lsn.ok &&
        str_has_prefix(nz(o->receiver.status), "streaming")) {
        *pos = o->receiver.latest_end_lsn.v;
        known = true;
    }
    int64_t lsn;
    double age;
    int64_t tl = o->has_receiver && o->receiver.tli.ok ? o->receiver.tli.v
                 : o->timeline.ok                      ? o->timeline.v
                                                       : 0;
    if (board && walpos_primary(board, o->sysid, tl, now_wall, max_age, &lsn, &age) &&
        (!known || lsn > *pos)) {
        *pos = lsn;
        known = true;
    }
    return known;
}

static void emit_standby(struct metric_set *s, const struct label_pair *l, const struct pg_obs *o,
                         struct postgres_memory *mem, const struct walpos *board, double now_wall,
                         double max_age)
{
    if (o->receive_lsn.ok) mset_put(s, &F_RECEIVE, (double)o->receive_lsn.v, l, 2);
    if (o->replay_lsn.ok) mset_put(s, &F_REPLAY, (double)o->replay_lsn.v, l, 2);
    if (o->last_replay_ts.ok) mset_put(s, &F_REPLAY_TS, o->last_replay_ts.v, l, 2);
    mset_put(s, &F_PAUSED, o->replay_paused, l, 2);
    bool streaming = o->has_receiver && strcmp(nz(o->receiver.status), "streaming") == 0;
    mset_put(s, &F_RCV_STREAMING, streaming, l, 2);
    if (o->has_receiver) {
        MSET_PUT(s, &F_RCV_INFO, 1, l[0], l[1], {"status", nz(o->receiver.status)},
                 {"sender_host", nz(o->receiver.sender_host)},
                 {"sender_port", nz(o->receiver.sender_port)},
                 {"slot_name", nz(o->receiver.slot_name)});
        if (o->receiver.last_msg_receipt.ok && o->now.ok)
            mset_put(s, &F_RCV_AGE,
                     o->now.v > o->receiver.last_msg_receipt.v
                         ? usec(o->now.v - o->receiver.last_msg_receipt.v)
                         : 0,
                     l, 2);
    }
    int64_t primary = 0;
    bool known = primary_position(o, board, now_wall, max_age, &primary);
    if (known) {
        mset_put(s, &F_PRIMARY_LSN, (double)primary, l, 2);
        if (o->receive_lsn.ok) mset_put(s, &F_RECEIVE_LAG, diff0(primary, o->receive_lsn.v), l, 2);
        if (o->replay_lsn.ok) mset_put(s, &F_REPLAY_LAG, diff0(primary, o->replay_lsn.v), l, 2);
    }
    if (!o->now.ok || !o->replay_lsn.ok) return;
    if (known && o->replay_lsn.v >= primary) {
        mem->caught_up_at = o->now.v;
        mset_put(s, &F_REPLAY_LAG_S, 0, l, 2);
        return;
    }
    double lag = -1;
    if (o->last_replay_ts.ok) lag = o->now.v - o->last_replay_ts.v;
    if (mem->caught_up_at > 0 && (lag < 0 || o->now.v - mem->caught_up_at < lag))
        lag = o->now.v - mem->caught_up_at;
    if (o->last_replay_ts.ok || mem->caught_up_at > 0)
        mset_put(s, &F_REPLAY_LAG_S, lag > 0 ? usec(lag) : 0, l, 2);
}

static void emit_walsenders(struct metric_set *s, const struct label_pair *l,
                            const struct pg_obs *o)
{
    struct pg_opt_i64 ref = o->in_recovery ? o->receive_lsn : o->flush_lsn;
    mset_put(s, &F_REPL_N, (double)o->nstandbys, l, 2);
    for (size_t i = 0; i < o->nstandbys; i++) {
        const struct pg_standby_row *r = &o->standbys[i];
        const char *app = nz(r->application_name);
        MSET_PUT(s, &F_REPL_INFO, 1, l[0], l[1], {"application_name", app},
                 {"client_addr", nz(r->client_addr)}, {"state", nz(r->state)},
                 {"sync_state", nz(r->sync_state)});
        const struct label_pair la[] = {l[0], l[1], {"application_name", app}};
        if (ref.ok && r->flush_lsn.ok)
            mset_put(s, &F_REPL_FLUSH, diff0(ref.v, r->flush_lsn.v), la, 3);
        bool replay_known = ref.ok && r->replay_lsn.ok;
        if (replay_known) mset_put(s, &F_REPL_REPLAY, diff0(ref.v, r->replay_lsn.v), la, 3);
        if (r->replay_lag.ok)
            mset_put(s, &F_REPL_REPLAY_S, r->replay_lag.v, la, 3);
        else if (replay_known && r->replay_lsn.v >= ref.v)
            mset_put(s, &F_REPL_REPLAY_S, 0, la, 3);
    }
    for (size_t i = 0; i < o->nslots; i++) {
        const struct pg_slot_row *r = &o->slots[i];
        const struct label_pair ls[] = {l[0], l[1], {"slot_name", r->slot_name}};
        MSET_PUT(s, &F_SLOT_INFO, 1, l[0], l[1], {"slot_name", r->slot_name},
                 {"slot_type", nz(r->slot_type)}, {"wal_status", nz(r->wal_status)});
        mset_put(s, &F_SLOT_ACTIVE, r->active, ls, 3);
        struct pg_opt_i64 pos = o->in_recovery ? o->replay_lsn : o->flush_lsn;
        if (pos.ok && r->restart_lsn.ok)
            mset_put(s, &F_SLOT_RETAINED, diff0(pos.v, r->restart_lsn.v), ls, 3);
        if (r->safe_wal_size.ok) mset_put(s, &F_SLOT_SAFE, (double)r->safe_wal_size.v, ls, 3);
    }
}

void postgres_emit(struct metric_set *set, const char *site, const char *target,
                   const struct pg_obs *o, struct postgres_memory *mem, struct walpos *board,
                   const void *owner, double now_wall, double max_age)
{
    const struct label_pair l[] = {{"site", site}, {"target", target}};
    char sv[24];
    snprintf(sv, sizeof(sv), "%lld", (long long)o->server_version);
    MSET_PUT(set, &F_INFO, 1, l[0], l[1], {"server_version", sv},
             {"system_identifier", nz(o->sysid)});
    mset_put(set, &F_IN_RECOVERY, o->in_recovery, l, 2);
    if (o->timeline.ok) mset_put(set, &F_TIMELINE, (double)o->timeline.v, l, 2);
    if (board) {
        walpos_drop(board, owner);
        if (!o->in_recovery && o->flush_lsn.ok)
            walpos_post(board, owner, o->sysid, o->timeline.ok ? o->timeline.v : 0, o->flush_lsn.v,
                        now_wall);
    }
    if (!o->in_recovery) {
        if (o->flush_lsn.ok) mset_put(set, &F_FLUSH, (double)o->flush_lsn.v, l, 2);
    } else {
        emit_standby(set, l, o, mem, board, now_wall, max_age);
    }
    emit_walsenders(set, l, o);
}
