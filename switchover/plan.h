/* plan.h: DR plans as data. A plan file (switchover/plans/default.lua, or the config's
 * plans_file) declares, for each transition and site, the ordered steps that site runs:
 *
 *     plan { site = "gold", from = "active-passive", to = "golddr-primary", steps = {
 *         step { "tfvars", in_recovery = true, in_maintenance = false },
 *         step { "health_api", replicas = 0, name = "withdraw gold from the GSLB" },
 *         step { "patroni_demote", follow = "golddr",
 *                fallback = step { "patroni_rebuild", from = "golddr", destructive = true } },
 *     } }
 *
 * Each step names an action of the catalogue (actions.h) with its arguments, and may set name,
 * timeout (a duration), best_effort (on failure: go on and alert) and destructive; a fallback
 * step runs when its step fails. The file runs once in the Lua sandbox; every refusal (an
 * unknown action, a missing or mistyped argument, a plan declared twice, a destructive action
 * not marked so) is "file:line: reason". `drwatch plan` and the API's dry run print a plan and
 * execute nothing. */
#ifndef DRWATCH_PLAN_H
#define DRWATCH_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions.h"
#include "buf.h"
#include "transition.h"

#define SW_MAX_STEPS 32 /* steps in one plan */
#define SW_MAX_ARGS  4  /* arguments of one step */

struct sw_step_arg {
    const struct sw_action_arg *spec;
    long value; /* SW_ARG_BOOL: 0 or 1; SW_ARG_INT; SW_ARG_SITE: enum sw_site */
};

struct sw_step {
    const struct sw_action *action;
    char name[96]; /* the plan's name for it, or the action's summary */
    struct sw_step_arg args[SW_MAX_ARGS];
    size_t nargs;
    int64_t timeout_ms;
    bool best_effort;
    bool destructive;
    unsigned line;            /* where the plan file declares it */
    struct sw_step *fallback; /* owned; NULL when none */
};

struct sw_plan {
    enum sw_site site;
    enum sw_state from, to;
    bool force; /* the break-glass plan ("from = force") */
    struct sw_step *steps;
    size_t nsteps;
    unsigned line;
};

struct sw_plans;

/* Loads a plan file. Returns NULL with "file:line: reason" in err when it is refused. */
struct sw_plans *sw_plans_load(const char *path, char *err, size_t errlen);
struct sw_plans *sw_plans_load_buffer(const char *src, size_t len, const char *name, char *err,
                                      size_t errlen);
/* The default plans built into the binary (switchover/plans/default.lua). */
#define SW_DEFAULT_PLANS_NAME "switchover/plans/default.lua"
struct sw_plans *sw_plans_load_default(char *err, size_t errlen);
void sw_plans_free(struct sw_plans *p); /* NULL-safe */
const char *sw_plans_source(const struct sw_plans *p);

/* The plan `site` runs for from -> to (force: the break-glass plan), or NULL when the file has
 * none. Valid as long as p. */
const struct sw_plan *sw_plans_get(const struct sw_plans *p, enum sw_site site, enum sw_state from,
                                   enum sw_state to, bool force);

/* A deep copy of pl (its steps and their fallbacks), owned by the caller: a running plan keeps
 * it whatever a reload does to the file. */
struct sw_plan *sw_plan_copy(const struct sw_plan *pl);
void sw_plan_free(struct sw_plan *pl); /* a copy; NULL-safe */
/* A hash of what the plan does (actions, arguments, marks, timeouts, in order): a run found in
 * the journal resumes only with the plan it started with. */
uint32_t sw_plan_hash(const struct sw_plan *pl);

/* An argument's value, or def when the step has none. */
long sw_step_arg(const struct sw_step *st, const char *name, long def);

/* Appends the plan for people (one numbered line per step, with its arguments, timeout and
 * marks) or as JSON for tools. Returns 0, or -E2BIG at out's cap. */
int sw_plan_print(const struct sw_plan *pl, struct buf *out, bool json);

#endif
