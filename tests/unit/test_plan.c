/* test_plan.c: plan files (switchover/plan.h). The built-in plans load, cover every transition
 * on both sites, keep the old agent's order where drwatch keeps it, promote only after the
 * other site demotes, and mark the volume-wiping rebuild destructive and only as a fallback.
 * Every mistake an operator can make in a plan file is refused with file:line and what is
 * wrong. Printing for people and as JSON. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "plan.h"
#include "tap.h"

static int step_index(const struct sw_plan *pl, const char *action)
{
    for (size_t i = 0; i < pl->nsteps; i++)
        if (strcmp(pl->steps[i].action->name, action) == 0) return (int)i;
    return -1;
}

static void test_default(void)
{
    char err[512];
    struct sw_plans *p = sw_plans_load_default(err, sizeof(err));
    if (!ok(p != NULL, "the built-in plans load")) {
        diag("%s", err);
        return;
    }
    const struct sw_plan *g = sw_plans_get(p, SW_GOLD, SW_ACTIVE_PASSIVE, SW_GOLDDR_PRIMARY, false);
    const struct sw_plan *d =
        sw_plans_get(p, SW_GOLDDR, SW_ACTIVE_PASSIVE, SW_GOLDDR_PRIMARY, false);
    ok(g && d, "failover: a plan for each site");
    if (g && d) {
        ok(step_index(g, "health_api") < step_index(g, "patroni_demote") &&
               step_index(g, "patroni_demote") >= 0,
           "gold withdraws from the GSLB, then its database follows golddr");
        ok(step_index(g, "patroni_promote") < 0, "gold never promotes in a failover");
        ok(step_index(d, "patroni_promote") > step_index(d, "health_api") &&
               step_index(d, "tekton_deploy") > step_index(d, "patroni_promote"),
           "golddr: offered to the GSLB, promoted, then the deploy pipeline");
        ok(g->steps[step_index(g, "maintenance")].best_effort &&
               g->steps[step_index(g, "kong_restart")].best_effort,
           "the maintenance page and the Kong restart never block a failover");
    }
    const struct sw_plan *s = sw_plans_get(p, SW_GOLD, SW_GOLDDR_PRIMARY, SW_GOLD_STANDBY, false);
    int demote = s ? step_index(s, "patroni_demote") : -1;
    ok(demote >= 0 && !s->steps[demote].destructive && s->steps[demote].fallback &&
           s->steps[demote].fallback->destructive &&
           strcmp(s->steps[demote].fallback->action->name, "patroni_rebuild") == 0,
       "gold-standby: pg_rewind-style demotion first, the destructive rebuild only as fallback");
    for (size_t e = 0; e < sw_edge_count(); e++) {
        enum sw_state from, to;
        sw_edge_get(e, &from, &to);
        for (int site = 0; site < SW_SITE_COUNT; site++) {
            const struct sw_plan *pl = sw_plans_get(p, (enum sw_site)site, from, to, false);
            bool rebuild_plain = false;
            for (size_t i = 0; pl && i < pl->nsteps; i++)
                rebuild_plain |= pl->steps[i].action->destructive;
            ok(pl && !rebuild_plain,
               "%s %s -> %s: a plan, with no destructive step outside a "
               "fallback",
               sw_site_name((enum sw_site)site), sw_state_name(from), sw_state_name(to));
        }
    }
    ok(sw_plans_get(p, SW_GOLD, SW_GOLDDR_MAINTENANCE, SW_ACTIVE_PASSIVE, true) != NULL,
       "the break-glass plan is found from any state");
    const struct sw_plan *m =
        sw_plans_get(p, SW_GOLDDR, SW_ACTIVE_PASSIVE, SW_GOLDDR_MAINTENANCE, false);
    ok(m && step_index(m, "patroni_promote") < 0,
       "golddr-maintenance keeps golddr's database a standby: never two writable primaries");
    sw_plans_free(p);
}

/* A minimal complete file: every transition with an empty plan on each site, then extra. */
static char *complete(const char *extra, const char *skip)
{
    struct buf b;
    buf_init(&b, 1 << 16);
    for (size_t e = 0; e <= sw_edge_count(); e++) {
        enum sw_state from = SW_INDEPENDENT, to = SW_ACTIVE_PASSIVE;
        bool force = e == sw_edge_count();
        if (!force) sw_edge_get(e, &from, &to);
        for (int s = 0; s < SW_SITE_COUNT; s++) {
            char line[200];
            snprintf(line, sizeof(line),
                     "plan { site = \"%s\", from = \"%s\", to = \"%s\", steps = {} }\n",
                     sw_site_name((enum sw_site)s), force ? "force" : sw_state_name(from),
                     sw_state_name(to));
            if (skip && strstr(line, skip)) continue;
            (void)buf_puts(&b, line);
        }
    }
    (void)buf_puts(&b, extra);
    return buf_steal(&b, NULL);
}

static void refused(const char *extra, const char *skip, const char *want, const char *what)
{
    char err[512] = "";
    char *src = complete(extra, skip);
    struct sw_plans *p = sw_plans_load_buffer(src, strlen(src), "plans.lua", err, sizeof(err));
    if (!ok(!p && strstr(err, want), "refused: %s", what)) diag("got: %s", p ? "(loaded)" : err);
    sw_plans_free(p);
    free(src);
}

#define L29 "\n\n\n\n\n\n\n\n\n\n\n\n\n\n" /* 14 plan lines, then these: line 29 */

static void test_refusals(void)
{
    char err[512];
    char *src = complete("", NULL);
    struct sw_plans *p = sw_plans_load_buffer(src, strlen(src), "plans.lua", err, sizeof(err));
    ok(p != NULL, "a file with every transition, even with empty plans, loads");
    sw_plans_free(p);
    free(src);
    refused("", "golddr-maintenance\", to = \"active-passive\"",
            "plans.lua: no plan for gold in golddr-maintenance -> active-passive",
            "a transition without a plan");
    refused(L29 "x = step { \"rm_rf\" }", NULL, "plans.lua:29: step: \"rm_rf\" is not an action",
            "an unknown action, with its line");
    refused(L29 "x = step { \"tfvars\", in_recovery = true, in_maintenanse = false }", NULL,
            "plans.lua:29: tfvars: unknown argument 'in_maintenanse' (it takes in_recovery, "
            "in_maintenance",
            "a misspelt argument, with what it takes");
    refused(L29 "x = step { \"tfvars\", in_recovery = \"true\", in_maintenance = false }", NULL,
            "plans.lua:29: tfvars: in_recovery must be true or false", "a string for a boolean");
    refused(L29 "x = step { \"tfvars\", in_recovery = true }", NULL,
            "plans.lua:29: tfvars: in_maintenance is required", "a missing argument");
    refused(L29 "x = step { \"health_api\", replicas = 2.5 }", NULL,
            "replicas must be a whole number from 0 to 20", "a fraction where a count goes");
    refused(L29 "x = step { \"patroni_demote\", follow = \"dr\" }", NULL,
            "follow must be \"gold\" or \"golddr\"", "a site that does not exist");
    refused(L29 "x = step { \"patroni_rebuild\", from = \"gold\" }", NULL,
            "plans.lua:29: patroni_rebuild: rebuild this cluster from the other site's leader "
            "(wipes its volumes); mark it destructive = true",
            "a destructive action not marked destructive");
    refused(L29 "x = step { \"health_api\", replicas = 0, timeout = \"soon\" }", NULL,
            "timeout must be a duration", "a timeout that is not a duration");
    refused(
        L29
        "plan { site = \"gold\", from = \"active-passive\", to = \"golddr-primary\", steps = {} }",
        NULL,
        "plans.lua:29: plan: gold's plan for active-passive -> golddr-primary is declared twice",
        "a plan declared twice");
    refused(L29 "local s = step { \"kong_restart\" }\n"
                "plan { site = \"gold\", from = \"x\", to = \"y\", steps = { s, s } }",
            NULL, "plans.lua:30: plan: from must be a state name", "a state that does not exist");
    refused(L29 "local s = step { \"kong_restart\" }\n"
                "x = step { \"health_api\", replicas = 1, fallback = s }\n"
                "y = step { \"health_api\", replicas = 1, fallback = s }",
            NULL, "plans.lua:31: fallback: a step may be used once", "one step used twice");
    refused(L29 "x = step { \"kong_restart\" }", NULL, "plans.lua:29: a step that no plan uses",
            "a step no plan uses");
    refused(L29 "x = step { \"kong_restart\", \"health_api\" }", NULL, "one action per step",
            "two actions in one step");
    refused(L29 "plan {", NULL, "plans.lua:", "a syntax error");
    refused(L29 "while true do end", NULL, "timeout", "a plan file that never ends");
}

static void test_print(void)
{
    char err[512];
    struct sw_plans *p = sw_plans_load_default(err, sizeof(err));
    const struct sw_plan *s = sw_plans_get(p, SW_GOLD, SW_GOLDDR_PRIMARY, SW_GOLD_STANDBY, false);
    struct buf out;
    buf_init(&out, 1 << 20);
    ok(sw_plan_print(s, &out, false) == 0 &&
           strstr(out.data, "gold: golddr-primary -> gold-standby\n") &&
           strstr(out.data, "  1. ") && strstr(out.data, "     if it fails: ") &&
           strstr(out.data, "[DESTRUCTIVE, timeout 30m]"),
       "text: numbered steps, the fallback under its step, the destructive mark");
    buf_reset(&out);
    ok(sw_plan_print(s, &out, true) == 0, "JSON");
    json_t *j = json_loads(out.data, 0, NULL);
    json_t *steps = json_object_get(j, "steps");
    ok(j && json_array_size(steps) == s->nsteps &&
           json_is_object(json_object_get(json_array_get(steps, 2), "fallback")),
       "the JSON reads back with every step and the fallback");
    json_decref(j);
    buf_free(&out);
    sw_plans_free(p);
}

int main(void)
{
    test_default();
    test_refusals();
    test_print();
    return done_testing();
}
