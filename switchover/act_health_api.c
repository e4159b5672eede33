/* act_health_api.c: the health_api actuator. The GSLB offers a site while its health API
 * answers, so the health API's replicas decide whether this site is offered (2) or withdrawn
 * (0). The old agent's HEALTH(n) is two calls: PATCH
 * apis/apps/v1/namespaces/<tools>/deployments/<health_api>/scale {"spec":{"replicas":n}}, then
 * PATCH apis/policy/v1/namespaces/<tools>/poddisruptionbudgets/<health_pdb>
 * {"spec":{"minAvailable":k}}, k = 1 if n > 0 else 0 (a PDB that wants 1 of 0 pods would block
 * every node drain).
 *
 * check reads the PDB, then the Deployment: minAvailable k, spec.replicas n and the Deployment
 * settled there -> done, nothing written. A missing PDB fails the step here, before the scale
 * (the old agent failed after it, leaving the two apart). act makes the old agent's two
 * patches; poll reads the Deployment until n pods of its template are ready and no other runs
 * (or none is left, for 0). The step ends with what changed, from what check saw ("scaled to
 * 0; 2 ready -> 0 ready after 4s"), and fails at its deadline with the last status seen.
 * Uses: act_k8s.h. */
#include <stdio.h>

#include "act_k8s.h"
#include "actuators.h"

static const char *const health_rbac[] = {
    "apps deployments get",
    "apps deployments/scale patch",
    "policy poddisruptionbudgets get",
    "policy poddisruptionbudgets patch",
    NULL,
};

#define DEPLOYMENT "/apis/apps/v1/namespaces/%s/deployments/%s"
#define PDB        "/apis/policy/v1/namespaces/%s/poddisruptionbudgets/%s"

struct health {
    bool min_is_int; /* the PDB's minAvailable as check read it: a number, */
    long long min;
    char min_text[32]; /* or what else it is ("50%", "(none)") */
};

static long wanted(struct act_op *op)
{
    return sw_step_arg(sw_phase_step(act_op_phase(op)), "replicas", 0);
}

static long min_available(long n)
{
    return n > 0 ? 1 : 0;
}

static const char *deployment(struct act_op *op)
{
    return act_op_env(op)->names.health_api;
}

static const char *pdb(struct act_op *op)
{
    return act_op_env(op)->names.health_pdb;
}

static struct act_op *start(struct sw_phase *ph)
{
    const struct act_env *e = sw_phase_env(ph);
    struct act_op *op = act_op_new(ph, sizeof(struct health), e->ns.tools, "namespaces.tools");
    if (!op || !act_op_name_ok(op, e->names.health_api, "names.health_api") ||
        !act_op_name_ok(op, e->names.health_pdb, "names.health_pdb"))
        return NULL;
    return op;
}

static void on_deployment_checked(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)r;
    const struct health *h = act_op_state(op);
    long n = wanted(op), k = min_available(n);
    struct act_workload w;
    act_workload_read(obj, &w);
    char seen[160];
    act_workload_text(&w, seen, sizeof(seen));
    snprintf(act_op_note(op), SW_NOTE_MAX, "%lld ready", (long long)w.ready);
    if (w.spec == n && act_workload_settled(&w) && h->min_is_int && h->min == k)
        return act_op_end(op, SW_DONE, "already scaled to %ld (%s), PDB minAvailable %ld", n, seen,
                          k);
    act_op_end(op, SW_NOT_DONE, "%s: %s; PDB minAvailable %s (wanted: %ld, minAvailable %ld)",
               deployment(op), seen, h->min_text, n, k);
}

static void on_pdb_checked(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)r;
    struct health *h = act_op_state(op);
    json_t *min = k8s_json_path(obj, "spec", "minAvailable", K8S_END);
    h->min_is_int = json_is_integer(min);
    h->min = h->min_is_int ? (long long)json_integer_value(min) : -1;
    if (h->min_is_int)
        snprintf(h->min_text, sizeof(h->min_text), "%lld", h->min);
    else
        snprintf(h->min_text, sizeof(h->min_text), "%.20s",
                 json_is_string(min) ? json_string_value(min) : "(none)");
    act_op_call(op, "GET", NULL, 0, on_deployment_checked, DEPLOYMENT, act_op_ns(op),
                deployment(op));
}

static void health_check(struct sw_phase *ph)
{
    struct act_op *op = start(ph);
    if (!op) return;
    act_op_call(op, "GET", NULL, 0, on_pdb_checked, PDB, act_op_ns(op), pdb(op));
}

static void on_pdb_patched(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)r;
    (void)obj;
    long n = wanted(op);
    act_op_end(op, SW_DONE, "scaled %s to %ld, PDB minAvailable %ld", deployment(op), n,
               min_available(n));
}

static void on_scaled(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)r;
    (void)obj;
    json_t *patch =
        json_pack("{s:{s:I}}", "spec", "minAvailable", (json_int_t)min_available(wanted(op)));
    act_op_call(op, "PATCH", patch, 0, on_pdb_patched, PDB, act_op_ns(op), pdb(op));
}

static void health_act(struct sw_phase *ph)
{
    struct act_op *op = start(ph);
    if (!op) return;
    json_t *patch = json_pack("{s:{s:I}}", "spec", "replicas", (json_int_t)wanted(op));
    act_op_call(op, "PATCH", patch, 0, on_scaled, DEPLOYMENT "/scale", act_op_ns(op),
                deployment(op));
}

static void on_polled(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)r;
    long n = wanted(op);
    struct act_workload w;
    act_workload_read(obj, &w);
    char seen[160];
    act_workload_text(&w, seen, sizeof(seen));
    const char *before = act_op_note(op);
    if (w.spec == n && act_workload_settled(&w))
        return act_op_end(op, SW_DONE, "scaled to %ld; %s%s%lld ready after %.1fs", n, before,
                          before[0] ? " -> " : "", (long long)w.ready,
                          sw_phase_step_seconds(act_op_phase(op)));
    act_op_end(op, SW_NOT_DONE, "waiting for %s to settle at %ld: %s", deployment(op), n, seen);
}

static void health_poll(struct sw_phase *ph)
{
    struct act_op *op = start(ph);
    if (!op) return;
    act_op_call(op, "GET", NULL, 0, on_polled, DEPLOYMENT, act_op_ns(op), deployment(op));
}

const struct actuator_ops health_api_actuator = {
    .action = "health_api",
    .check = health_check,
    .act = health_act,
    .poll = health_poll,
    .cancel = act_op_cancel,
    .rbac = health_rbac,
    .rbac_namespace = "tools",
};
