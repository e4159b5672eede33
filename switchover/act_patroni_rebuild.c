/* act_patroni_rebuild.c: the patroni_rebuild actuator: this site's Patroni cluster wiped and
 * rebuilt as a standby cluster of the other site's primary. It deletes the cluster's volumes:
 * the action is destructive, so the plan loader refuses a step that does not mark it, and the
 * executor runs it only where the plan marks it and the destructive guard agrees at that
 * moment (the other site a freshly verified healthy leader holding everything this site had).
 *
 * The old agent did it in two halves (REBUILD_1, then REBUILD_2 when Patroni reported a
 * healthy standby leader), with these calls: PATCH the env ConfigMap's STANDBY_HOST and
 * STANDBY_PORT to the other site's primary; scale the StatefulSet to 0 (and wait); DELETE the
 * claim of pod 0 and Patroni's DCS config ConfigMap (404 is fine); scale to 1 and wait; then
 * DELETE the claims of pods 1 and 2, scale to 3 and wait. Here it is one step, the same calls
 * in this order:
 *
 *   1. scale the StatefulSet to 0, and wait until no pod is left: a claim deleted while its pod
 *      runs is only marked (pvc-protection), and the old primary must stop before anything
 *      says it is a standby;
 *   2. STANDBY_HOST/STANDBY_PORT in the env ConfigMap, before any data goes: should the step
 *      stop after this, the stopped cluster still has its data and its DCS config (which
 *      decides its role over the env), and once the data is gone a start can only make a
 *      standby, never a fresh empty primary;
 *   3. DELETE every claim (pods 0..n-1, at least the old agent's three) and the DCS config;
 *   4. wait until the claims are gone (a claim still terminating would keep a new pod pending);
 *   5. scale back to n, the count it had (the old agent's 3 when it had none);
 *
 * and poll waits until the StatefulSet is settled at n and the world shows this site's cluster
 * a healthy standby (Patroni's standby leader and every member running or streaming).
 *
 * check: the env ConfigMap already points at the other site's primary, the StatefulSet is
 * settled with pods, and the world shows a healthy standby cluster -> done, nothing touched
 * (the old agent's skip, with the env checked too). Uses: act_k8s.h. */
#include <stdio.h>
#include <string.h>

#include "act_k8s.h"
#include "actuators.h"

static const char *const rebuild_rbac[] = {
    "apps statefulsets get",
    "apps statefulsets/scale patch",
    "\"\" configmaps get",
    "\"\" configmaps patch",
    "\"\" configmaps delete",
    "\"\" persistentvolumeclaims get",
    "\"\" persistentvolumeclaims delete",
    NULL,
};

#define STATEFULSET      "/apis/apps/v1/namespaces/%s/statefulsets/%s"
#define CONFIGMAP        "/api/v1/namespaces/%s/configmaps/%s"
#define CLAIM            "/api/v1/namespaces/%s/persistentvolumeclaims/%s%d"
#define DEFAULT_REPLICAS 3 /* the old agent's, for a StatefulSet found at 0 */

struct rebuild {
    long long n, before; /* the replicas to come back to; ready when act began */
    int claims, i;       /* claims to delete; the one being deleted or waited for */
    int deleted, absent; /* claims: DELETEs answered 200, 404 */
    bool config_absent;  /* the DCS config's DELETE answered 404 */
    char port[16];
    char env[120]; /* check: what the env ConfigMap says */
};

static const struct act_names *names(struct act_op *op)
{
    return &act_op_env(op)->names;
}

static const char *standby_host(struct act_op *op)
{
    return act_op_env(op)->cfg->standby->host;
}

/* This site's cluster as the world shows it: a healthy standby, or why not. */
static bool healthy_standby(struct act_op *op, char *why, size_t whylen)
{
    enum sw_site self = act_op_env(op)->site;
    const struct sw_db *db = &sw_phase_world(act_op_phase(op))->db[self];
    const char *site = sw_site_name(self);
    if (!db->known)
        snprintf(why, whylen, "%s's Patroni is not observed", site);
    else if (!db->standby_cluster || db->leader_writable)
        snprintf(why, whylen, "%s's cluster is not a standby cluster", site);
    else if (!db->leader_present)
        snprintf(why, whylen, "%s's cluster has no standby leader", site);
    else if (!db->healthy)
        snprintf(why, whylen, "not every member of %s's cluster is running or streaming", site);
    else
        snprintf(why, whylen, "%s's cluster is a healthy standby", site);
    return db->known && db->standby_cluster && !db->leader_writable && db->leader_present &&
           db->healthy;
}

static bool names_ok(struct act_op *op)
{
    const struct act_names *n = names(op);
    char claim0[300];
    snprintf(claim0, sizeof(claim0), "%s0", n->patroni_pvc_prefix);
    return act_op_name_ok(op, n->patroni_statefulset, "names.patroni_statefulset") &&
           act_op_name_ok(op, n->patroni_env, "names.patroni_env") &&
           act_op_name_ok(op, n->patroni_config, "names.patroni_config") &&
           act_op_name_ok(op, claim0, "names.patroni_pvc_prefix");
}

static struct act_op *start(struct sw_phase *ph)
{
    const struct act_env *e = sw_phase_env(ph);
    long from = sw_step_arg(sw_phase_step(ph), "from", -1);
    char why[200];
    if (from != (long)sw_other(e->site)) {
        snprintf(why, sizeof(why), "a rebuild from %s: %s rebuilds only from %s",
                 from >= 0 && from < SW_SITE_COUNT ? sw_site_name((enum sw_site)from) : "?",
                 sw_site_name(e->site), sw_site_name(sw_other(e->site)));
        sw_phase_done(ph, SW_ERROR, why);
        return NULL;
    }
    if (!e->cfg || !e->cfg->standby) {
        sw_phase_done(ph, SW_ERROR,
                      "not configured: no standby (switchover.standby: the other "
                      "site's primary)");
        return NULL;
    }
    struct act_op *op =
        act_op_new(ph, sizeof(struct rebuild), e->ns.solution, "namespaces.solution");
    if (!op || !names_ok(op)) return NULL;
    struct rebuild *rb = act_op_state(op);
    snprintf(rb->port, sizeof(rb->port), "%lld", (long long)e->cfg->standby->port);
    return op;
}

/* ---- check ---- */

static void on_sts_checked(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)r;
    const struct rebuild *rb = act_op_state(op);
    struct act_workload w;
    act_workload_read(obj, &w);
    char seen[160], why[160];
    act_workload_text(&w, seen, sizeof(seen));
    bool standby = healthy_standby(op, why, sizeof(why));
    bool env = rb->env[0] == '\0';
    if (env && w.spec > 0 && act_workload_settled(&w) && standby)
        return act_op_end(op, SW_DONE, "already a healthy standby of %s:%s: %s", standby_host(op),
                          rb->port, seen);
    act_op_end(op, SW_NOT_DONE, "%s%s%s; %s: %s", rb->env, env ? "" : "; ", why,
               names(op)->patroni_statefulset, seen);
}

static void on_env_checked(struct act_op *op, const struct k8s_response *r, json_t *cm)
{
    (void)r;
    struct rebuild *rb = act_op_state(op);
    const char *host = k8s_json_str(cm, "data", "STANDBY_HOST", K8S_END);
    const char *port = k8s_json_str(cm, "data", "STANDBY_PORT", K8S_END);
    if (!host || !port || strcmp(host, standby_host(op)) != 0 || strcmp(port, rb->port) != 0)
        snprintf(rb->env, sizeof(rb->env), "%s follows \"%.40s:%.8s\"", names(op)->patroni_env,
                 host ? host : "", port ? port : "");
    act_op_call(op, "GET", NULL, 0, on_sts_checked, STATEFULSET, act_op_ns(op),
                names(op)->patroni_statefulset);
}

static void rebuild_check(struct sw_phase *ph)
{
    struct act_op *op = start(ph);
    if (!op) return;
    act_op_call(op, "GET", NULL, 0, on_env_checked, CONFIGMAP, act_op_ns(op),
                names(op)->patroni_env);
}

/* ---- act, in the order of the top of this file ---- */

static void scale(struct act_op *op, long long n, act_op_fn fn)
{
    json_t *patch = json_pack("{s:{s:I}}", "spec", "replicas", (json_int_t)n);
    act_op_call(op, "PATCH", patch, 0, fn, STATEFULSET "/scale", act_op_ns(op),
                names(op)->patroni_statefulset);
}

static void on_scaled_back(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)r;
    (void)obj;
    const struct rebuild *rb = act_op_state(op);
    snprintf(act_op_note(op), SW_NOTE_MAX,
             "%lld ready before; %d claims deleted, %d already gone; %.40s %s", rb->before,
             rb->deleted, rb->absent, names(op)->patroni_config,
             rb->config_absent ? "already gone" : "deleted");
    act_op_end(op, SW_DONE, "stopped, pointed at %s:%s, wiped (%s); scaling back to %lld",
               standby_host(op), rb->port, act_op_note(op), rb->n);
}

static void wait_claim(struct act_op *op);

static void on_claim_read(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    struct rebuild *rb = act_op_state(op);
    if (r->status != 404 && !k8s_json_str(obj, "metadata", "deletionTimestamp", K8S_END))
        return act_op_end(op, SW_ERROR, "claim %s%d exists again and is not being deleted",
                          names(op)->patroni_pvc_prefix, rb->i);
    if (r->status != 404) return act_op_wait(op, 0, wait_claim); /* still terminating */
    if (++rb->i < rb->claims) return wait_claim(op);
    scale(op, rb->n, on_scaled_back);
}

static void wait_claim(struct act_op *op)
{
    const struct rebuild *rb = act_op_state(op);
    act_op_call(op, "GET", NULL, 404, on_claim_read, CLAIM, act_op_ns(op),
                names(op)->patroni_pvc_prefix, rb->i);
}

static void on_config_deleted(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)obj;
    struct rebuild *rb = act_op_state(op);
    rb->config_absent = r->status == 404;
    rb->i = 0;
    wait_claim(op);
}

static void delete_claim(struct act_op *op);

static void on_claim_deleted(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)obj;
    struct rebuild *rb = act_op_state(op);
    if (r->status == 404)
        rb->absent++;
    else
        rb->deleted++;
    if (++rb->i < rb->claims) return delete_claim(op);
    act_op_call(op, "DELETE", NULL, 404, on_config_deleted, CONFIGMAP, act_op_ns(op),
                names(op)->patroni_config);
}

static void delete_claim(struct act_op *op)
{
    const struct rebuild *rb = act_op_state(op);
    act_op_call(op, "DELETE", NULL, 404, on_claim_deleted, CLAIM, act_op_ns(op),
                names(op)->patroni_pvc_prefix, rb->i);
}

static void on_env_set(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)r;
    (void)obj;
    ((struct rebuild *)act_op_state(op))->i = 0;
    delete_claim(op);
}

static void wait_stopped(struct act_op *op);

static void on_stopping(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)r;
    struct rebuild *rb = act_op_state(op);
    struct act_workload w;
    act_workload_read(obj, &w);
    if (w.spec != 0)
        return act_op_end(op, SW_ERROR, "%s was scaled to %lld by someone else while it stopped",
                          names(op)->patroni_statefulset, (long long)w.spec);
    if (!act_workload_settled(&w)) return act_op_wait(op, 0, wait_stopped);
    json_t *patch = json_pack("{s:{s:s,s:s}}", "data", "STANDBY_HOST", standby_host(op),
                              "STANDBY_PORT", rb->port);
    act_op_call(op, "PATCH", patch, 0, on_env_set, CONFIGMAP, act_op_ns(op),
                names(op)->patroni_env);
}

static void wait_stopped(struct act_op *op)
{
    act_op_call(op, "GET", NULL, 0, on_stopping, STATEFULSET, act_op_ns(op),
                names(op)->patroni_statefulset);
}

static void on_stop_asked(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)r;
    (void)obj;
    wait_stopped(op);
}

static void on_sts_read(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)r;
    struct rebuild *rb = act_op_state(op);
    struct act_workload w;
    act_workload_read(obj, &w);
    rb->n = w.spec > 0 ? w.spec : DEFAULT_REPLICAS;
    rb->before = w.ready;
    rb->claims = (int)(rb->n > DEFAULT_REPLICAS ? rb->n : DEFAULT_REPLICAS);
    scale(op, 0, on_stop_asked);
}

static void rebuild_act(struct sw_phase *ph)
{
    struct act_op *op = start(ph);
    if (!op) return;
    act_op_call(op, "GET", NULL, 0, on_sts_read, STATEFULSET, act_op_ns(op),
                names(op)->patroni_statefulset);
}

/* ---- poll: back, and a healthy standby ---- */

static void on_polled(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)r;
    const struct rebuild *rb = act_op_state(op);
    struct act_workload w;
    act_workload_read(obj, &w);
    char seen[160], why[160];
    act_workload_text(&w, seen, sizeof(seen));
    bool standby = healthy_standby(op, why, sizeof(why));
    if (w.spec > 0 && act_workload_settled(&w) && standby)
        return act_op_end(op, SW_DONE, "rebuilt as a standby of %s:%s after %.1fs: %s; %s",
                          standby_host(op), rb->port, sw_phase_step_seconds(act_op_phase(op)), seen,
                          act_op_note(op));
    act_op_end(op, SW_NOT_DONE, "waiting: %s: %s; %s", names(op)->patroni_statefulset, seen, why);
}

static void rebuild_poll(struct sw_phase *ph)
{
    struct act_op *op = start(ph);
    if (!op) return;
    act_op_call(op, "GET", NULL, 0, on_polled, STATEFULSET, act_op_ns(op),
                names(op)->patroni_statefulset);
}

const struct actuator_ops patroni_rebuild_actuator = {
    .action = "patroni_rebuild",
    .check = rebuild_check,
    .act = rebuild_act,
    .poll = rebuild_poll,
    .cancel = act_op_cancel,
    .rbac = rebuild_rbac,
    .rbac_namespace = "solution",
};
