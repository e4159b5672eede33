/* manager.h: the alert manager, with Alertmanager's model and defaults.
 *
 * The rules engine's firing and resolved alerts come in (manager_push, after each evaluation);
 * the manager keeps them by fingerprint, routes each through a tree of label matchers to
 * receivers, and groups them per route by the route's group_by labels ("..." for all of
 * them). A new group waits group_wait before its first notification, then flushes every
 * group_interval. At a flush, silenced and inhibited alerts are left out, and the receiver is
 * notified only when the group's firing alerts are not a subset of what it was last told, when
 * alerts resolved (with send_resolved), when everything resolved, or when repeat_interval has
 * passed (Alertmanager's DedupStage, with its notification log). A notification is rendered by
 * the receiver's notifier into a payload and handed to the durable outbox (outbox.h), which
 * sends it. Alerts no longer reported for resolve_timeout are resolved. Alerts, the
 * notification log and silences are kept in data_dir and survive restarts.
 *
 * Two phases, so that a reload applies a whole new config or none: manager_prepare checks a
 * loaded config's alerting section (file:line for every refusal) and makes its receivers'
 * notifiers; manager_new (start) or manager_apply (reload) takes the result.
 *
 * Everything runs on the loop thread (HTTP handlers pass requests over, see main.c). Time
 * comes from a clock that tests replace; with a loop, timers wake the manager when something
 * is due, and without one (tests) the caller calls manager_tick when manager_next_due says.
 *
 * Ownership: the manager copies the alerts pushed to it; it owns its plan, notifiers, store,
 * silences and outbox. */
#ifndef DRWATCH_MANAGER_H
#define DRWATCH_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "config.h"
#include "http_server.h"
#include "registry.h"
#include "xalloc.h"

#define ALERTING_SECTION "alerting"

struct loop;
struct httpc;

/* The `alerting` config section. Its receivers' schema is made from notifier_table on first
 * use (one optional key per notifier type). */
const struct cfg_module *manager_config_module(void);

typedef double (*manager_clock_fn)(void *arg); /* Unix seconds */

struct manager_env {
    struct loop *loop;      /* NULL in tests: the caller drives manager_tick */
    manager_clock_fn clock; /* NULL: the wall clock; tests give a virtual one */
    void *clock_arg;
    struct httpc *http;
    const char *config_dir; /* relative paths in the section resolve against it; NULL: cwd */
    unsigned listen_port;   /* for the default external_url */
};

struct am_plan;
struct am_manager;

/* Checks cfg's alerting section against current (the running manager, or NULL) and makes a
 * plan with its receivers' notifiers. Returns 0 with *out NULL when the file has no alerting
 * section, 0 with *out a plan, or -1 with err ("file:line: path: why", or the notifier's
 * refusal): an unknown receiver in a route, a bad matcher, group_by mixing "..." with names, a
 * receiver with no or two types, an unreadable api_token_file, a changed data_dir... */
DRW_MUST_CHECK int manager_prepare(const struct config *cfg, const struct manager_env *env,
                                   const struct am_manager *current, struct am_plan **out,
                                   char *err, size_t errlen);
void manager_plan_free(struct am_plan *p); /* NULL-safe */

/* Makes the manager from a plan (taken over, also on failure): opens data_dir, restores
 * alerts, the notification log and silences, replays the outbox. NULL with err filled when
 * data_dir cannot be used. */
DRW_MUST_CHECK struct am_manager *manager_new(struct am_plan *plan, const struct manager_env *env,
                                              char *err, size_t errlen);
/* Applies a new plan (taken over): new routes, receivers and inhibition rules; alerts,
 * silences, the notification log and the outbox stay; groups are made again (the
 * notification log keeps them from notifying twice). */
void manager_apply(struct am_manager *m, struct am_plan *plan);
/* Writes what survives a restart (the alert store and the notification log) now, changed or
 * not: the daemon calls it at a clean stop, before manager_free. NULL-safe. */
void manager_save(struct am_manager *m);
/* Cancels sends in flight (they stay in the outbox) and frees; saves nothing. NULL-safe. */
void manager_free(struct am_manager *m);

void manager_set_clock(struct am_manager *m, manager_clock_fn fn, void *arg);
double manager_now(const struct am_manager *m);

/* Takes the alerts of one rules evaluation: every firing alert (ends_at 0) and every resolved
 * one (ends_at when it resolved). Alerts are copied; a fingerprint of 0 is computed. */
void manager_push(struct am_manager *m, const struct am_alert *alerts, size_t n);

/* Runs what is due now: group flushes, resolve timeouts, clean-ups, and (without a loop) the
 * outbox. */
void manager_tick(struct am_manager *m);
/* When manager_tick has something to do next (Unix seconds), or INFINITY. */
double manager_next_due(const struct am_manager *m);

/* A new metric set: drwatch_alerts{state}, drwatch_silences{state}, drwatch_alert_groups,
 * drwatch_notifications_total{receiver,result}, drwatch_notification_latency_seconds, the
 * outbox's depth and oldest age, render failures. The caller unrefs it. */
struct metric_set *manager_metrics(struct am_manager *m);

/* GET, POST or DELETE /api/v1/silences, run on the loop thread. POST and DELETE need
 * "Authorization: Bearer <api_token_file's token>" (401 otherwise); a bad body is 400 with
 * what is wrong. DELETE takes the silence id from ?id= or from a JSON body {"id": ...}. */
struct manager_api_request {
    const char *method;
    const char *authorization; /* the header, or NULL */
    const char *id;            /* the id query parameter, or NULL */
    const char *body;
    size_t body_len;
};
void manager_silences_api(struct am_manager *m, const struct manager_api_request *req,
                          struct http_reply *rep);

/* Adds GET, POST and DELETE /api/v1/silences to s, run on the loop by manager_silences_api on
 * *slot: the daemon's manager, which a reload may replace or remove (then the answer is 404).
 * token is the holder the HTTP server checks POST and DELETE against before it reads their
 * body; keep it set to manager_api_token. slot and token must outlive s. */
void manager_api_add_route(struct am_manager *const *slot, const struct http_token *token,
                           struct http_server *s);
/* The token of api_token_file (what the silences API needs for changes), or NULL: none, or
 * no manager. The string is the manager's, valid until its next plan. */
const char *manager_api_token(const struct am_manager *m);

/* For tests: the number of groups and of alerts in the store. */
size_t manager_group_count(const struct am_manager *m);
size_t manager_alert_count(const struct am_manager *m);

#endif
