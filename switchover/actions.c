/* actions.c: the catalogue of plan actions (see actions.h). */
#include "actions.h"

#include <string.h>

#include "xalloc.h"

#define MIN(x) (x * 60000)

static const struct sw_action_arg tfvars_args[] = {
    {"in_recovery", SW_ARG_BOOL, true, 0, 0},
    {"in_maintenance", SW_ARG_BOOL, true, 0, 0},
};
static const struct sw_action_arg health_args[] = {{"replicas", SW_ARG_INT, true, 0, 20}};
static const struct sw_action_arg maintenance_args[] = {{"on", SW_ARG_BOOL, true, 0, 0}};
static const struct sw_action_arg follow_args[] = {{"follow", SW_ARG_SITE, true, 0, 0}};
static const struct sw_action_arg rebuild_args[] = {{"from", SW_ARG_SITE, true, 0, 0}};

#define ARGS(a) .args = a, .nargs = ARRAY_LEN(a)

#define ACTION(n, sum, a, ms, ...)                                  \
    {                                                               \
        .name = n, .summary = sum, a, .timeout_ms = ms, __VA_ARGS__ \
    }
#define NOARGS .args = NULL, .nargs = 0

static const struct sw_action actions[] = {
    ACTION("tfvars", "set the tfvars flags in_recovery and in_maintenance", ARGS(tfvars_args),
           30000),
    ACTION("health_api", "scale the health API the GSLB monitors (and its PDB)", ARGS(health_args),
           MIN(3)),
    ACTION("maintenance", "maintenance page and portal banner on or off", ARGS(maintenance_args),
           60000, .best_effort = true),
    ACTION("kong_restart", "rollout-restart the Kong control plane", NOARGS, MIN(5),
           .best_effort = true),
    ACTION("patroni_demote", "make this cluster a standby cluster of the other site",
           ARGS(follow_args), MIN(5)),
    ACTION("patroni_promote", "make this cluster the primary (once the other site is fenced)",
           NOARGS, MIN(10), .promotes = true),
    ACTION("patroni_rebuild",
           "rebuild this cluster from the other site's leader (wipes its volumes)",
           ARGS(rebuild_args), MIN(30), .destructive = true),
    /* The pipeline's own retries (3 attempts within total_cap, each up to attempt_timeout:
     * 900 s + 360 s by default) must end inside the step's deadline. */
    ACTION("tekton_deploy", "run the deploy pipeline and wait for its outcome", NOARGS, MIN(25)),
    ACTION("tell_peer", "ask the peer to follow with the same transition", NOARGS, 30000),
};

const struct sw_action *sw_action_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(actions); i++)
        if (strcmp(actions[i].name, name) == 0) return &actions[i];
    return NULL;
}

_Static_assert(ARRAY_LEN(actions) == SW_ACTION_COUNT, "SW_ACTION_COUNT is the catalogue's size");

const struct sw_action *sw_action_at(size_t i)
{
    return &actions[i];
}

size_t sw_action_index(const struct sw_action *a)
{
    return (size_t)(a - actions);
}

const char *sw_action_names(void)
{
    return "tfvars, health_api, maintenance, kong_restart, patroni_demote, patroni_promote, "
           "patroni_rebuild, tekton_deploy, tell_peer";
}
