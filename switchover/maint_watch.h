/* maint_watch.h: whether this site is in maintenance, as observed, not as a plan last set it.
 *
 * Maintenance is what the old agent's MAINT_ON does (switchover-plans.md §0): Keycloak's HTTP
 * Service selects the maintenance page (app: keycloak-maintenance-page) instead of Keycloak,
 * so users are sent to the portal; the portal's banner has no documented read. So the Service
 * that act_maintenance.c patches (the first one names.keycloak_selector lists, in
 * namespaces.solution) is read every SW_MAINT_WATCH_MS, and its selector says on or off.
 *
 * Whether maintenance should be off comes from the pair's state: the site that serves users
 * (Gold in active-passive and golddr-maintenance, GoldDR in golddr-primary and gold-standby)
 * runs without it once a plan ends; the other site keeps it on (its plans leave it on). A
 * shipped rule (MaintenanceLeftOn) alerts when the serving site stays in maintenance with no
 * plan running. */
#ifndef DRWATCH_MAINT_WATCH_H
#define DRWATCH_MAINT_WATCH_H

#include <jansson.h>
#include <stdbool.h>

#include "registry.h"
#include "transition.h"

struct loop;
struct httpc;
struct k8s_client;

/* Fixed rather than a setting: a Service read every 10s is nothing to the API server, and the
 * alert waits minutes. */
#define SW_MAINT_WATCH_MS 10000

struct sw_maint_watch_env {
    struct loop *loop;
    struct httpc *http;
    const struct k8s_client *k8s; /* kept, not copied: it outlives the watch */
    const char *namespace;        /* copied */
    const char *selector;         /* Keycloak's Services' label selector, copied */
};

struct sw_maint_watch;

/* Starts reading at once, then every SW_MAINT_WATCH_MS. */
struct sw_maint_watch *sw_maint_watch_new(const struct sw_maint_watch_env *e);
void sw_maint_watch_free(struct sw_maint_watch *w); /* NULL-safe */

/* 1 when a Service list's first item selects the maintenance page, 0 when it selects anything
 * else, -1 when the list has no item or is not a list. */
int sw_maint_on_of(const char *body, size_t len);

/* Whether the pair's state makes site the one serving users: maintenance should be off there
 * once no plan runs. False for independent (nothing is known). */
bool sw_maint_should_be_off(enum sw_state pair, enum sw_site site);

/* Adds drwatch_maintenance_on (absent while unknown: not read yet, or the last read failed)
 * and drwatch_maintenance_should_be_off to m. w may be NULL (no Kubernetes API configured):
 * then only the latter. */
void sw_maint_watch_metrics(const struct sw_maint_watch *w, enum sw_state pair, enum sw_site site,
                            struct metric_set *m);

#endif
