/* maint_watch.c: this site's maintenance as observed (see maint_watch.h): a LIST of Keycloak's
 * Services on a timer, the first one's selector read. One request at a time; a failed read
 * makes the state unknown (the metric goes away) until the next one succeeds, and is logged
 * when it starts failing and when it recovers, not every time.
 * Uses: exporter/k8s, exporter/loop, jansson. Loop thread. */
#include "maint_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "k8s.h"
#include "log.h"
#include "loop.h"
#include "xalloc.h"

#define PAGE_APP "keycloak-maintenance-page" /* act_maintenance.c's */

struct sw_maint_watch {
    struct sw_maint_watch_env env;
    char *ns, *selector;
    struct loop_timer *timer;
    struct k8s_req *req;
    int on; /* -1 unknown */
    bool failing;
};

int sw_maint_on_of(const char *body, size_t len)
{
    char why[120];
    json_t *root = k8s_json_load(body, len, why, sizeof(why));
    json_t *items = json_is_object(root) ? json_object_get(root, "items") : NULL;
    json_t *svc = json_is_array(items) ? json_array_get(items, 0) : NULL;
    int on = -1;
    if (json_is_object(svc)) {
        const char *app = k8s_json_str(svc, "spec", "selector", "app", K8S_END);
        on = app && strcmp(app, PAGE_APP) == 0;
    }
    json_decref(root);
    return on;
}

bool sw_maint_should_be_off(enum sw_state pair, enum sw_site site)
{
    if (site == SW_GOLD) return pair == SW_ACTIVE_PASSIVE || pair == SW_GOLDDR_MAINTENANCE;
    return pair == SW_GOLDDR_PRIMARY || pair == SW_GOLD_STANDBY;
}

static void on_listed(void *arg, const struct k8s_response *r)
{
    struct sw_maint_watch *w = arg;
    w->req = NULL; /* freed by k8s.c after this call */
    int on = r->ok ? sw_maint_on_of(r->body, r->body_len) : -1;
    bool failing = on < 0;
    if (failing && !w->failing)
        log_warn("switchover",
                 "maintenance: cannot read Keycloak's Service in %s (%s): "
                 "drwatch_maintenance_on is unknown",
                 w->ns, r->ok ? "no Service matches names.keycloak_selector" : r->detail);
    else if (!failing && w->failing)
        log_info("switchover", "maintenance: Keycloak's Service is read again");
    w->failing = failing;
    w->on = on;
    loop_timer_start(w->timer, SW_MAINT_WATCH_MS);
}

static void on_timer(void *arg)
{
    struct sw_maint_watch *w = arg;
    struct buf path;
    char err[200];
    buf_init(&path, CAP_URL_PATH);
    (void)buf_printf(&path, "/api/v1/namespaces/%s/services?labelSelector=", w->ns);
    (void)k8s_query_escape(&path, w->selector);
    if (buf_error(&path) == 0) {
        struct k8s_call call = {.path = path.data};
        w->req = k8s_request(w->env.http, w->env.k8s, &call, on_listed, w, err, sizeof(err));
    }
    buf_free(&path);
    if (!w->req) { /* cannot even start: try again later */
        w->on = -1;
        loop_timer_start(w->timer, SW_MAINT_WATCH_MS);
    }
}

struct sw_maint_watch *sw_maint_watch_new(const struct sw_maint_watch_env *e)
{
    struct sw_maint_watch *w = xcalloc(1, sizeof(*w));
    w->env = *e;
    w->ns = xstrdup(e->namespace);
    w->selector = xstrdup(e->selector);
    w->on = -1;
    w->timer = loop_timer_new(e->loop, on_timer, w);
    loop_timer_start(w->timer, 0);
    return w;
}

void sw_maint_watch_free(struct sw_maint_watch *w)
{
    if (!w) return;
    k8s_cancel(w->req);
    loop_timer_free(w->timer);
    free(w->ns);
    free(w->selector);
    free(w);
}

void sw_maint_watch_metrics(const struct sw_maint_watch *w, enum sw_state pair, enum sw_site site,
                            struct metric_set *m)
{
    mset_addv(m,
              mset_family(m, "drwatch_maintenance_should_be_off", METRIC_GAUGE,
                          "1 when the pair's state makes this site the one serving users "
                          "(Gold in active-passive and golddr-maintenance, GoldDR in "
                          "golddr-primary and gold-standby): no maintenance once no plan runs."),
              sw_maint_should_be_off(pair, site) ? 1.0 : 0.0, (const char *)NULL);
    struct metric_family *f =
        mset_family(m, "drwatch_maintenance_on", METRIC_GAUGE,
                    "1 when this site's Keycloak Service selects the maintenance page (users "
                    "are sent to the portal), 0 when it selects Keycloak; absent while unknown.");
    if (w && w->on >= 0) mset_addv(m, f, (double)w->on, (const char *)NULL);
}
