/* manager_int.h: the alert manager's insides, shared by manager.c (store, groups, flushes),
 * manager_config.c (the config section and plans), manager_state.c (what survives a restart)
 * and manager_api.c (the silences API). Not for use outside alerts/manager*.c. */
#ifndef DRWATCH_MANAGER_INT_H
#define DRWATCH_MANAGER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "manager.h"
#include "matcher.h"
#include "notifier.h"
#include "outbox.h"
#include "silence.h"
#include "xalloc.h"

#define AM_MAX_TYPES          16     /* notifier types a receiver may choose from */
#define AM_MAX_ALERTS         10000  /* alerts in the store; more are dropped and counted */
#define AM_MAX_GROUPS         10000  /* aggregation groups */
#define AM_RESOLVED_RETENTION 900.0  /* resolved alerts are kept this long (as the rules) */
#define AM_NFLOG_RETENTION    432000 /* 120h, as Alertmanager's --data.retention */
#define AM_STATE_FILE         "state.json"
#define AM_TOUCH_SAVE_EVERY   30.0 /* save only updatedAt changes at most this often */

/* ---- the config section as loaded ---- */

struct am_route_cfg {
    char *receiver;
    struct cfg_strings group_by;
    int64_t group_wait_ms, group_interval_ms, repeat_interval_ms;
    struct cfg_labels matchers;
    bool cont;
    struct cfg_list routes; /* of struct am_route_cfg */
    bool group_by_set, group_wait_set, group_interval_set, repeat_interval_set;
};

struct am_receiver_cfg {
    char *name;
    bool send_resolved;
    int64_t max_alerts;
    int64_t timeout_ms;
    void *types[AM_MAX_TYPES]; /* one per notifier_table entry; the one given is non-NULL */
};

struct am_inhibit_cfg {
    struct cfg_labels source_matchers, target_matchers;
    struct cfg_strings equal;
};

struct alerting_config {
    char *external_url, *grafana_url, *api_token_file, *data_dir, *templates_dir;
    int64_t resolve_timeout_ms;
    int64_t outbox_max_entries, outbox_max_bytes;
    int64_t retry_min_ms, retry_max_ms;
    struct am_route_cfg route;
    struct cfg_list receivers;     /* of struct am_receiver_cfg */
    struct cfg_list inhibit_rules; /* of struct am_inhibit_cfg */
};

/* ---- a checked plan ---- */

struct am_route {
    struct am_route *parent;
    struct am_route **kids;
    size_t nkids;
    struct am_matchers matchers;
    bool cont;
    size_t receiver; /* index into plan->receivers */
    char **group_by;
    size_t ngroup_by;
    bool group_all; /* group_by = { "..." } */
    double group_wait, group_interval, repeat_interval;
    char *key; /* Alertmanager's route key: {}/{matchers}/... */
};

struct am_receiver {
    char *name;
    const struct notifier_ops *ops;
    void *state;
    bool send_resolved;
    size_t max_alerts; /* 0: all */
    int64_t timeout_ms;
};

struct am_inhibit {
    struct am_matchers source, target;
    char **equal;
    size_t nequal;
};

struct am_plan {
    char *external_url, *grafana_url, *data_dir, *templates_dir;
    char *token; /* the API token, or NULL: changes through the API are refused */
    double resolve_timeout;
    size_t outbox_max_entries, outbox_max_bytes;
    double retry_min, retry_max;
    struct am_route *root;
    struct am_receiver *receivers;
    size_t nreceivers;
    struct am_inhibit *inhibit;
    size_t ninhibit;
};

/* ---- the manager ---- */

struct am_group {
    const struct am_route *route;
    char *key;    /* group key: route key ":" {labels} */
    char *labels; /* the group labels, canonical text */
    uint64_t hash;
    uint64_t *fps; /* member alerts */
    size_t n, cap;
    double next_flush;
    bool flushed;
};

/* Alertmanager's notification log: what a receiver was last told about a group. */
struct am_nflog {
    char *receiver, *group_key;
    uint64_t *firing, *resolved;
    size_t nfiring, nresolved;
    double at;
};

struct am_manager {
    struct am_plan *plan;
    struct manager_env env;
    struct loop_timer *timer;
    manager_clock_fn clock;
    void *clock_arg;
    struct am_alert *alerts; /* the store, sorted by fingerprint */
    size_t nalerts, alerts_cap;
    struct am_group **groups;
    size_t ngroups;
    struct am_nflog *nflog;
    size_t nnflog;
    struct silences *silences;
    struct outbox *outbox;
    char *state_path;
    bool dirty;   /* alerts or the log changed: save now */
    bool touched; /* only updatedAt changed: save now and then */
    double last_save;
    double next_maintenance; /* store and log clean-up */
    bool ticking;
    uint64_t alerts_dropped, groups_dropped, render_failures;
    uint64_t labels_dropped; /* routings refused: group labels over CAP_LABELS_TEXT */
    struct complaint save_complaint, render_complaint, outbox_complaint;
};

/* manager_config.c */
DRW_MUST_CHECK struct am_receiver *am_plan_receiver(const struct am_plan *p, const char *name);

/* manager_state.c */
DRW_MUST_CHECK struct am_nflog *am_nflog_find(struct am_manager *m, const char *receiver,
                                              const char *group_key);
void am_nflog_set(struct am_manager *m, const char *receiver, const char *group_key,
                  const uint64_t *firing, size_t nfiring, const uint64_t *resolved,
                  size_t nresolved, double at);
void am_nflog_gc(struct am_manager *m, double now);
void am_nflog_free_all(struct am_manager *m);
/* Writes alerts and the notification log if they changed (or were touched long enough ago). */
void am_state_save(struct am_manager *m, double now, bool force);
/* Reads them back at start; restored alerts count from now for resolve_timeout. */
void am_state_load(struct am_manager *m, double now);

/* manager.c */
DRW_MUST_CHECK struct am_alert *am_store_find(const struct am_manager *m, uint64_t fp);
DRW_MUST_CHECK struct am_alert *am_store_put(struct am_manager *m, const struct am_alert *a);
void am_reschedule(struct am_manager *m);

#endif
