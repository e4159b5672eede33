/* act_kong_restart.c: the kong_restart actuator. After a failover the Kong control plane is
 * restarted so that it starts again against the database and configuration of the site's new
 * role. The old agent's KONG_RESTART is one call, a rollout restart as kubectl makes it: PATCH
 * apis/apps/v1/namespaces/<solution>/deployments/<kong> setting the pod template's annotation
 * kubectl.kubernetes.io/restartedAt to now (the old agent's format: UTC, microseconds, Z). The
 * old agent swallowed its errors; the plans make the step best-effort instead, so a failure is
 * recorded and alerted on while the failover goes on.
 *
 * A restart is an event, not a state: a later transition restarts again. What check guards
 * against is doing it twice in one run: the annotation at or after this run's start (which the
 * journal keeps across a drwatch restart) and the rollout over -> done. act patches the
 * annotation; poll waits until the rollout is over: the controller has observed the new
 * generation and every pod runs the new template, ready, with no old one left. Uses:
 * act_k8s.h, timeparse.h. */
#include <stdio.h>
#include <string.h>

#include "act_k8s.h"
#include "actuators.h"
#include "timeparse.h"

static const char *const kong_rbac[] = {"apps deployments get", "apps deployments patch", NULL};

#define DEPLOYMENT "/apis/apps/v1/namespaces/%s/deployments/%s"

static const char *kong(struct act_op *op)
{
    return act_op_env(op)->names.kong;
}

static struct act_op *start(struct sw_phase *ph)
{
    const struct act_env *e = sw_phase_env(ph);
    struct act_op *op = act_op_new(ph, 0, e->ns.solution, "namespaces.solution");
    if (op && !act_op_name_ok(op, e->names.kong, "names.kong")) return NULL;
    return op;
}

/* Whether the pod template was restarted since this run began. */
static bool restarted_in_run(struct act_op *op, const struct act_workload *w)
{
    double at;
    if (!w->restarted_at ||
        timeparse_iso(w->restarted_at, strlen(w->restarted_at), TIMEPARSE_NAIVE_UTC, &at) < 0)
        return false;
    return at >= sw_phase_run_started(act_op_phase(op));
}

static void on_checked(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)r;
    struct act_workload w;
    act_workload_read(obj, &w);
    char seen[160];
    act_workload_text(&w, seen, sizeof(seen));
    if (restarted_in_run(op, &w) && act_workload_settled(&w))
        return act_op_end(op, SW_DONE, "%s was restarted at %s in this run and rolled out: %s",
                          kong(op), w.restarted_at, seen);
    act_op_end(op, SW_NOT_DONE, "%s: last restarted %s; %s", kong(op),
               w.restarted_at ? w.restarted_at : "never", seen);
}

static void kong_check(struct sw_phase *ph)
{
    struct act_op *op = start(ph);
    if (!op) return;
    act_op_call(op, "GET", NULL, 0, on_checked, DEPLOYMENT, act_op_ns(op), kong(op));
}

static void on_patched(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)r;
    struct act_workload w;
    act_workload_read(obj, &w);
    act_op_end(op, SW_DONE, "restart of %s asked at %s (generation %lld)", kong(op),
               act_op_note(op), (long long)w.generation);
}

static void kong_act(struct sw_phase *ph)
{
    struct act_op *op = start(ph);
    if (!op) return;
    json_t *patch = act_restart_patch(act_op_note(op), SW_NOTE_MAX);
    act_op_call(op, "PATCH", patch, 0, on_patched, DEPLOYMENT, act_op_ns(op), kong(op));
}

static void on_polled(struct act_op *op, const struct k8s_response *r, json_t *obj)
{
    (void)r;
    struct act_workload w;
    act_workload_read(obj, &w);
    char seen[160];
    act_workload_text(&w, seen, sizeof(seen));
    if (act_workload_settled(&w))
        return act_op_end(op, SW_DONE, "%s restarted and rolled out after %.1fs: %s", kong(op),
                          sw_phase_step_seconds(act_op_phase(op)), seen);
    act_op_end(op, SW_NOT_DONE, "%s rolling out: %s", kong(op), seen);
}

static void kong_poll(struct sw_phase *ph)
{
    struct act_op *op = start(ph);
    if (!op) return;
    act_op_call(op, "GET", NULL, 0, on_polled, DEPLOYMENT, act_op_ns(op), kong(op));
}

const struct actuator_ops kong_restart_actuator = {
    .action = "kong_restart",
    .check = kong_check,
    .act = kong_act,
    .poll = kong_poll,
    .cancel = act_op_cancel,
    .rbac = kong_rbac,
    .rbac_namespace = "solution",
};
