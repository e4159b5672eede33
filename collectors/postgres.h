/* postgres.h: the PostgreSQL collector's query and the mapping from its result sets to
 * metrics, kept apart from the libpq I/O (collectors/postgres.c) so that unit tests feed it
 * canned rows.
 *
 * One query string with four statements, run on every target whatever its role (each is safe
 * on a primary and on a standby): the server's role and WAL positions, its WAL receiver
 * (standby), its walsenders (pg_stat_replication: primary, or a cascading standby) and its
 * replication slots. Columns are read by name; LSNs come as byte offsets and times as Unix
 * seconds, computed by the server, so no pg_lsn or timestamp text is parsed here.
 *
 * Ownership: postgres_parse fills a struct whose strings it allocates; postgres_obs_clear frees
 * them (safe on a zeroed struct). */
#ifndef DRWATCH_POSTGRES_H
#define DRWATCH_POSTGRES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "walpos.h"
#include "xalloc.h"

#define POSTGRES_MAX_ROWS 64 /* walsenders and slots exported per scrape (LIMIT in the SQL) */

/* The statements, in the order postgres_parse expects their result sets. The CASEs keep the
 * primary-only functions (pg_current_wal_*) from running on a standby, where they raise. */
#define POSTGRES_QUERY                                                                        \
    "SELECT pg_is_in_recovery() AS in_recovery,"                                              \
    " current_setting('server_version_num') AS server_version_num,"                           \
    " (SELECT system_identifier FROM pg_control_system()) AS system_identifier,"              \
    " CASE WHEN pg_is_in_recovery() THEN (SELECT timeline_id FROM pg_control_checkpoint())"   \
    "  ELSE ('x' || substr(pg_walfile_name(pg_current_wal_flush_lsn()), 1, 8))::bit(32)::int" \
    " END AS timeline,"                                                                       \
    " CASE WHEN pg_is_in_recovery() THEN NULL"                                                \
    "  ELSE pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '0/0')::bigint END AS flush_lsn,"     \
    " pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0')::bigint AS receive_lsn,"              \
    " pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint AS replay_lsn,"                \
    " extract(epoch FROM pg_last_xact_replay_timestamp()) AS last_replay_ts,"                 \
    " CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS replay_paused,"     \
    " extract(epoch FROM statement_timestamp()) AS now;"                                      \
    "SELECT status, received_tli, slot_name, sender_host, sender_port,"                       \
    " pg_wal_lsn_diff(coalesce(to_jsonb(w) ->> 'flushed_lsn',"                                \
    "  to_jsonb(w) ->> 'received_lsn')::pg_lsn, '0/0')::bigint AS flushed_lsn,"               \
    " pg_wal_lsn_diff(latest_end_lsn, '0/0')::bigint AS latest_end_lsn,"                      \
    " extract(epoch FROM last_msg_receipt_time) AS last_msg_receipt_time"                     \
    " FROM pg_stat_wal_receiver w;"                                                           \
    "SELECT application_name, client_addr, state, sync_state,"                                \
    " pg_wal_lsn_diff(flush_lsn, '0/0')::bigint AS flush_lsn,"                                \
    " pg_wal_lsn_diff(replay_lsn, '0/0')::bigint AS replay_lsn,"                              \
    " extract(epoch FROM replay_lag) AS replay_lag"                                           \
    " FROM pg_stat_replication ORDER BY application_name, pid LIMIT 64;"                      \
    "SELECT slot_name, slot_type, active,"                                                    \
    " pg_wal_lsn_diff(restart_lsn, '0/0')::bigint AS restart_lsn,"                            \
    " to_jsonb(s) ->> 'wal_status' AS wal_status,"                                            \
    " to_jsonb(s) ->> 'safe_wal_size' AS safe_wal_size"                                       \
    " FROM pg_replication_slots s ORDER BY slot_name LIMIT 64"

/* One result set as text cells: cells[row * ncols + col], NULL for SQL NULL. */
struct pg_rows {
    size_t ncols, nrows;
    const char *const *names;
    const char *const *cells;
};

struct pg_opt_i64 {
    bool ok;
    int64_t v;
};
struct pg_opt_f64 {
    bool ok;
    double v;
};

struct pg_standby_row {
    char *application_name, *client_addr, *state, *sync_state;
    struct pg_opt_i64 flush_lsn, replay_lsn;
    struct pg_opt_f64 replay_lag;
};

struct pg_slot_row {
    char *slot_name, *slot_type, *wal_status;
    bool active;
    struct pg_opt_i64 restart_lsn, safe_wal_size;
};

struct pg_obs {
    bool in_recovery;
    int64_t server_version;
    char *sysid;
    struct pg_opt_i64 timeline, flush_lsn, receive_lsn, replay_lsn;
    struct pg_opt_f64 last_replay_ts, now;
    bool replay_paused;
    bool has_receiver;
    struct {
        char *status, *slot_name, *sender_host, *sender_port;
        struct pg_opt_i64 tli, flushed_lsn, latest_end_lsn;
        struct pg_opt_f64 last_msg_receipt;
    } receiver;
    struct pg_standby_row standbys[POSTGRES_MAX_ROWS];
    size_t nstandbys;
    struct pg_slot_row slots[POSTGRES_MAX_ROWS];
    size_t nslots;
};

/* Reads the four result sets. Returns 0, or -1 with reason "bad_result" and why in err (a
 * missing column, no status row). */
DRW_MUST_CHECK int postgres_parse(const struct pg_rows *sets, size_t nsets, struct pg_obs *o,
                                  const char **reason, char *err, size_t errlen);
void postgres_obs_clear(struct pg_obs *o);

/* What a target remembers between scrapes. */
struct postgres_memory {
    double caught_up_at; /* server time the standby was last seen caught up, 0: never */
};

/* Adds the observation's samples to set (labels site and target), posts a primary's position
 * on board (as owner) and measures a standby against the board's primary of the same system.
 * now_wall is drwatch's clock (for the board); the server's own clock dates the lags. */
void postgres_emit(struct metric_set *set, const char *site, const char *target,
                   const struct pg_obs *o, struct postgres_memory *mem, struct walpos *board,
                   const void *owner, double now_wall, double max_age);

#endif
