/* act_maintenance.c: the maintenance actuator: Keycloak's HTTP Service sent to the maintenance
 * page (which answers with a redirect to the portal) or back to Keycloak, that page restarted
 * (closing the keep-alive connections it holds), and the portal's banner. The old agent's calls:
 *
 *   MAINT_ON   (1) rollout restart of the maintenance page Deployment (restartedAt); (2) LIST
 *              Services by Keycloak's selector, take the first, PATCH its spec.selector to
 *              {app: keycloak-maintenance-page, app.kubernetes.io/instance: null,
 *              app.kubernetes.io/name: null}; (3) PUT <portal>/maintenance/true -> {"state":
 *              true}
 *   MAINT_OFF  (1) the selector back {app: null, instance: keycloak, name: keycloak}; (2) the
 *              restart; (3) PUT <portal>/maintenance/false
 *
 * The old agent swallowed a failed restart and aborted on the others; this actuator goes on
 * past a failed restart too (the selector and the banner matter more) but ends the step failed,
 * saying so. Plans make the step best-effort: it never blocks a failover, and a failure is an
 * alert, not silence. The selector patch carries the resourceVersion of the Service it read: it
 * is a read-modify-write of the Service the LIST chose, and a 409 means that Service changed in
 * between, so it is read again and patched again (at most three times).
 *
 * check: the first matching Service already selects as asked AND the portal says so -> done.
 * The portal has no documented read, only the PUT that answers with its state; setting the
 * state it must have is the question, asked only once the Service is right (and a PUT of the
 * state it holds changes nothing). poll waits for the page's rollout, when act restarted it.
 * Uses: act_k8s.h. */
#include <stdio.h>
#include <string.h>

#include "act_k8s.h"
#include "actuators.h"
#include "buf.h"
#include "caps.h"

static const char *const maintenance_rbac[] = {
    "apps deployments get",
    "apps deployments patch",
    "\"\" services list",
    "\"\" services patch",
    NULL,
};

#define PAGE_APP      "keycloak-maintenance-page"
#define KEYCLOAK      "keycloak"
#define INSTANCE      "app.kubernetes.io/instance"
#define NAME          "app.kubernetes.io/name"
#define DEPLOYMENT    "/apis/apps/v1/namespaces/%s/deployments/%s"
#define SERVICE       "/api/v1/namespaces/%s/services/%s"
#define MAX_CONFLICTS 3

enum stage { RESTART, SELECTOR, PORTAL, DONE };
static const enum stage on_order[] = {RESTART, SELECTOR, PORTAL, DONE};
static const enum stage off_order[] = {SELECTOR, RESTART, PORTAL, DONE};

struct maint {
    bool on;
    size_t at; /* in the order */
    int lists; /* LISTs made: one, then one per conflict */
    char service[256];
    char rv[64];
    char restart_failed[200]; /* why the restart failed, when it did */
};

static void next(struct act_op *op);

static const char *page(struct act_op *op)
{
    return act_op_env(op)->names.maintenance_page;
}

static const char *side(bool on)
{
    return on ? "the maintenance page" : "Keycloak";
}

static struct act_op *start(struct sw_phase *ph)
{
    const struct act_env *e = sw_phase_env(ph);
    if (!e->cfg || !e->cfg->portal) {
        sw_phase_done(ph, SW_ERROR, "not configured: no portal (switchover.portal)");
        return NULL;
    }
    struct act_op *op = act_op_new(ph, sizeof(struct maint), e->ns.solution, "namespaces.solution");
    if (!op || !act_op_name_ok(op, e->names.maintenance_page, "names.maintenance_page"))
        return NULL;
    struct maint *m = act_op_state(op);
    m->on = sw_step_arg(sw_phase_step(ph), "on", 0) != 0;
    return op;
}

/* Whether a Service's selector is as `on` wants it: the page's app and neither Keycloak key,
 * or Keycloak's two keys and no app. */
static bool selects(json_t *svc, bool on)
{
    json_t *sel = k8s_json_path(svc, "spec", "selector", K8S_END);
    const char *app = k8s_json_str(sel, "app", K8S_END);
    const char *inst = k8s_json_str(sel, INSTANCE, K8S_END);
    const char *name = k8s_json_str(sel, NAME, K8S_END);
    if (on)
        return app && strcmp(app, PAGE_APP) == 0 && !json_object_get(sel, INSTANCE) &&
               !json_object_get(sel, NAME);
    return !json_object_get(sel, "app") && inst && strcmp(inst, KEYCLOAK) == 0 && name &&
           strcmp(name, KEYCLOAK) == 0;
}

static void selector_text(json_t *svc, char *out, size_t outlen)
{
    json_t *sel = k8s_json_path(svc, "spec", "selector", K8S_END);
    char *text = json_is_object(sel) ? json_dumps(sel, JSON_COMPACT) : NULL;
    snprintf(out, outlen, "%.150s", text ? text : "nothing");
    free(text);
}

/* Lists the Services Keycloak's selector matches; fn gets the list. */
static void list_services(struct act_op *op, act_op_fn fn)
{
    struct buf q;
    buf_init(&q, CAP_URL_PATH);
    (void)k8s_query_escape(&q, act_op_env(op)->names.keycloak_selector);
    if (buf_error(&q) < 0) {
        buf_free(&q);
        return act_op_end(op, SW_ERROR, "not configured: names.keycloak_selector is too long");
    }
    ((struct maint *)act_op_state(op))->lists++;
    act_op_call(op, "GET", NULL, 0, fn, "/api/v1/namespaces/%s/services?labelSelector=%s",
                act_op_ns(op), q.data);
    buf_free(&q);
}

/* The first Service of a list (the old agent's choice), or NULL after ending the phase. */
static json_t *first_service(struct act_op *op, json_t *list)
{
    json_t *svc = json_array_get(json_object_get(list, "items"), 0);
    const char *name = k8s_json_str(svc, "metadata", "name", K8S_END);
    if (name) return svc;
    act_op_end(op, SW_ERROR, "no Service in %s matches %s", act_op_ns(op),
               act_op_env(op)->names.keycloak_selector);
    return NULL;
}

/* ---- check ---- */

static void on_portal_checked(struct act_op *op, bool state)
{
    const struct maint *m = act_op_state(op);
    if (state == m->on)
        return act_op_end(op, SW_DONE,
                          "Service %s already selects %s and the portal says "
                          "maintenance is %s",
                          m->service, side(m->on), m->on ? "on" : "off");
    act_op_end(op, SW_NOT_DONE, "Service %s selects %s, but the portal says maintenance is %s",
               m->service, side(m->on), state ? "on" : "off");
}

static void on_listed_for_check(struct act_op *op, const struct k8s_response *r, json_t *list)
{
    (void)r;
    struct maint *m = act_op_state(op);
    json_t *svc = first_service(op, list);
    if (!svc) return;
    snprintf(m->service, sizeof(m->service), "%s", k8s_json_str(svc, "metadata", "name", K8S_END));
    if (selects(svc, m->on)) return act_op_portal(op, m->on, on_portal_checked);
    char sel[160];
    selector_text(svc, sel, sizeof(sel));
    act_op_end(op, SW_NOT_DONE, "Service %s selects %s", m->service, sel);
}

static void maintenance_check(struct sw_phase *ph)
{
    struct act_op *op = start(ph);
    if (op) list_services(op, on_listed_for_check);
}

/* ---- act ---- */

static void on_restarted(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)obj;
    struct maint *m = act_op_state(op);
    if (!r->ok) snprintf(m->restart_failed, sizeof(m->restart_failed), "%s", r->detail);
    m->at++;
    next(op);
}

static void on_selector_patched(struct act_op *op, const struct k8s_response *r, json_t *obj);

static void on_listed_for_patch(struct act_op *op, const struct k8s_response *r, json_t *list)
{
    (void)r;
    struct maint *m = act_op_state(op);
    json_t *svc = first_service(op, list);
    if (!svc) return;
    const char *rv = k8s_json_str(svc, "metadata", "resourceVersion", K8S_END);
    snprintf(m->service, sizeof(m->service), "%s", k8s_json_str(svc, "metadata", "name", K8S_END));
    snprintf(m->rv, sizeof(m->rv), "%s", rv ? rv : "");
    json_t *sel = m->on ? json_pack("{s:s,s:n,s:n}", "app", PAGE_APP, INSTANCE, NAME)
                        : json_pack("{s:n,s:s,s:s}", "app", INSTANCE, KEYCLOAK, NAME, KEYCLOAK);
    json_t *patch = json_pack("{s:{s:s},s:{s:o}}", "metadata", "resourceVersion", m->rv, "spec",
                              "selector", sel);
    act_op_call(op, "PATCH", patch, 409, on_selector_patched, SERVICE, act_op_ns(op), m->service);
}

static void on_selector_patched(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)obj;
    struct maint *m = act_op_state(op);
    if (r->status == 409) { /* the Service changed since it was listed: read it again */
        if (m->lists < MAX_CONFLICTS) return list_services(op, on_listed_for_patch);
        return act_op_end(op, SW_ERROR, "PATCH services/%s: %s (%d times)", m->service, r->detail,
                          m->lists);
    }
    m->at++;
    next(op);
}

static void on_portal_set(struct act_op *op, bool state)
{
    struct maint *m = act_op_state(op);
    if (state != m->on)
        return act_op_end(op, SW_ERROR,
                          "the portal says maintenance is %s after PUT "
                          "/maintenance/%s",
                          state ? "on" : "off", m->on ? "true" : "false");
    m->at++;
    next(op);
}

static void finish_act(struct act_op *op)
{
    const struct maint *m = act_op_state(op);
    snprintf(act_op_note(op), SW_NOTE_MAX, "Service %.60s -> %s, portal %s", m->service,
             side(m->on), m->on ? "on" : "off");
    if (m->restart_failed[0]) /* the cause first: a long Status message is cut at the end */
        return act_op_end(op, SW_ERROR, "the page's restart failed: %s; %s", m->restart_failed,
                          act_op_note(op));
    act_op_end(op, SW_DONE, "%s; %s restart asked", act_op_note(op), page(op));
}

/* The restart's answer, whatever it is, goes to on_restarted: a failed one does not stop the
 * selector and the banner. */
static void restart_page(struct act_op *op)
{
    char stamp[40];
    act_op_call(op, "PATCH", act_restart_patch(stamp, sizeof(stamp)), ACT_ANY, on_restarted,
                DEPLOYMENT, act_op_ns(op), page(op));
}

static void next(struct act_op *op)
{
    struct maint *m = act_op_state(op);
    switch ((m->on ? on_order : off_order)[m->at]) {
    case RESTART: restart_page(op); break;
    case SELECTOR: list_services(op, on_listed_for_patch); break;
    case PORTAL: act_op_portal(op, m->on, on_portal_set); break;
    case DONE: finish_act(op); break;
    }
}

static void maintenance_act(struct sw_phase *ph)
{
    struct act_op *op = start(ph);
    if (op) next(op);
}

/* ---- poll: the page's rollout ---- */

static void on_polled(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)r;
    struct act_workload w;
    act_workload_read(obj, &w);
    char seen[160];
    act_workload_text(&w, seen, sizeof(seen));
    if (act_workload_settled(&w))
        return act_op_end(op, SW_DONE, "%s; the page rolled out after %.1fs: %s", act_op_note(op),
                          sw_phase_step_seconds(act_op_phase(op)), seen);
    act_op_end(op, SW_NOT_DONE, "%s; the page rolling out: %s", act_op_note(op), seen);
}

static void maintenance_poll(struct sw_phase *ph)
{
    struct act_op *op = start(ph);
    if (op) act_op_call(op, "GET", NULL, 0, on_polled, DEPLOYMENT, act_op_ns(op), page(op));
}

const struct actuator_ops maintenance_actuator = {
    .action = "maintenance",
    .check = maintenance_check,
    .act = maintenance_act,
    .poll = maintenance_poll,
    .cancel = act_op_cancel,
    .rbac = maintenance_rbac,
    .rbac_namespace = "solution",
};
