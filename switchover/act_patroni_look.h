/* act_patroni_look.h: what the answers of a Patroni cluster's REST API mean for the
 * patroni_demote and patroni_promote actuators (act_patroni.c), apart from their I/O so that a
 * unit test can feed it canned answers.
 *
 * A look is one round of answers: the dynamic config (GET /config), the member that holds the
 * leader lock (GET /cluster), that member's own status document (GET its api_url) and, with
 * Kubernetes, the data of Patroni's env-vars ConfigMap. The pat_read_* parsers each fill their
 * part or say what was seen instead; the verdicts are pure functions of a look.
 *
 * Why the leader's own document, not only /cluster: Patroni derives a member's role in /cluster
 * from the standby_cluster key of its config, not from PostgreSQL. Right after a PATCH, /cluster
 * already says standby_leader (or leader) while PostgreSQL is still what it was, for up to a
 * loop_wait. The member's own document says `master` (3.x) or `primary` (4.x) exactly when
 * pg_is_in_recovery() is false.
 *
 * Ownership: a look holds references to the parsed documents until pat_look_clear; the bodies
 * the pat_*_body functions return are the caller's to free. */
#ifndef DRWATCH_ACT_PATRONI_LOOK_H
#define DRWATCH_ACT_PATRONI_LOOK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "xalloc.h"

/* The standby_cluster a demotion sets: the other site's primary and what Patroni needs to
 * follow it. create_replica_methods is always Patroni's built-in ["basebackup"]. */
struct pat_follow {
    const char *host;
    long port;
    const char *slot;    /* primary_slot_name, or NULL */
    const char *restore; /* restore_command, or NULL */
};

struct pat_look {
    json_t *config;    /* GET /config; NULL: not read */
    bool cluster_read; /* GET /cluster was read */
    json_t *leader;    /* its member holding the leader lock; NULL: none (or not read) */
    json_t *node;      /* the leader's own status document; NULL: not read */
    json_t *env;       /* the env-vars ConfigMap's data; NULL: not read */
};

void pat_look_clear(struct pat_look *lk); /* NULL-safe; the look is empty again */

/* Each parser reads one answer's body into lk. Returns 0, or -1 with err saying what was seen
 * (not JSON, not the expected shape), quoting the start of the body. */
DRW_MUST_CHECK int pat_read_config(struct pat_look *lk, const char *body, size_t len, char *err,
                                   size_t errlen);
DRW_MUST_CHECK int pat_read_cluster(struct pat_look *lk, const char *body, size_t len, char *err,
                                    size_t errlen);
DRW_MUST_CHECK int pat_read_node(struct pat_look *lk, const char *body, size_t len, char *err,
                                 size_t errlen);
/* A ConfigMap object (GET .../configmaps/NAME). */
DRW_MUST_CHECK int pat_read_env(struct pat_look *lk, const char *body, size_t len, char *err,
                                size_t errlen);

/* The leader member's name ("" when none) and its api_url (an http(s) URL checked by
 * pat_read_cluster; NULL when no member holds the lock). Valid as long as the look. */
const char *pat_leader_name(const struct pat_look *lk);
const char *pat_leader_url(const struct pat_look *lk);

/* Checks the answer to PATCH /config: Patroni's new config must follow f (f NULL: have no
 * standby_cluster). Returns 0, or -1 with what it holds instead in err. */
DRW_MUST_CHECK int pat_read_patch_answer(const char *body, size_t len, const struct pat_follow *f,
                                         char *err, size_t errlen);

/* The PATCH /config body of a demotion, and the merge patch of the env-vars ConfigMap
 * (STANDBY_HOST, STANDBY_PORT; f NULL: both blank, as a promotion leaves them). Caller frees. */
char *pat_demote_body(const struct pat_follow *f);
char *pat_env_body(const struct pat_follow *f);
#define PAT_PROMOTE_BODY "{\"standby_cluster\":null}"

enum pat_verdict {
    PAT_DONE,  /* what the phase waits for holds */
    PAT_WAIT,  /* not yet, in a state that is on its way */
    PAT_STALL, /* not yet, in a state that must not last: the leader not running, no leader, no
                  WAL from the other site's primary */
};

/* Whether this site's cluster follows f: the config (when read) has that standby_cluster, the
 * leader is a running, read-only standby leader that streams from the other site when that one
 * is a writable primary (other_primary; before then Patroni cannot stream from it: it asks for
 * a read-write server), and the env ConfigMap (when read) names f. detail says what holds or
 * what is missing. */
enum pat_verdict pat_judge_demoted(const struct pat_look *lk, const struct pat_follow *f,
                                   bool other_primary, char *detail, size_t len);
/* Whether it is a primary: the config (when read) has no standby_cluster, the leader is a
 * running writable primary, and the env ConfigMap (when read) is blank. Never PAT_STALL. */
enum pat_verdict pat_judge_promoted(const struct pat_look *lk, char *detail, size_t len);

#endif
