/* test_act_patroni_rebuild.c: the patroni_rebuild actuator (switchover/act_patroni_rebuild.c)
 * run as a one-step plan through the executor against tests/fakes/k8s_fake.py (its controller
 * moving one pod every 100 ms here, and keeping a claim its pod uses): golddr rebuilt from gold
 * makes the old agent's calls in the order the actuator's header gives (scale to 0; only once
 * no pod is left, STANDBY_HOST/PORT; DELETE the three claims and the DCS config; once the
 * claims are gone, scale back to 3), the claims the StatefulSet then makes are new ones, and
 * the step ends only when the StatefulSet is settled at 3 AND the world shows golddr a healthy
 * standby; run again, the check finds it done and nothing is touched; a claim or config already
 * gone is a 404 taken in stride; its declared rbac is enough.
 *
 * Only a step marked destructive reaches it: the plan loader refuses an unmarked rebuild with
 * file:line, a plan that gets past the loader unmarked is refused by the executor's guard, and
 * so is a marked one while gold is not a healthy leader; none of them writes anything. And it
 * fails with the reason on a refused DELETE (403: the run stops, the cluster stopped and
 * pointed at gold with its data partly gone, as the journal says), a conflict on the scale
 * (409), a hung API server, a rebuild from its own site, no standby configured, and a
 * StatefulSet whose pods never become ready (at the step's deadline). */
#include "act_test.h"

#define STS      "/apis/apps/v1/namespaces/gateway/statefulsets/patroni-spilo"
#define ENV_CM   "/api/v1/namespaces/gateway/configmaps/patroni-spilo-env-vars"
#define DCS_CM   "/api/v1/namespaces/gateway/configmaps/patroni-spilo-config"
#define CLAIM    "/api/v1/namespaces/gateway/persistentvolumeclaims/storage-volume-patroni-spilo-"
#define STEP     "step { \"patroni_rebuild\", from = \"gold\", destructive = true, timeout = \"10s\" }"
#define SCALE(n) "PATCH " STS "/scale merge {\"spec\":{\"replicas\":" #n "}}"
#define POINT                                                                 \
    "PATCH " ENV_CM " merge {\"data\":{\"STANDBY_HOST\":\"gold-db.example\"," \
    "\"STANDBY_PORT\":\"5432\"}}"
#define REBUILT                                                              \
    SCALE(0)                                                                 \
    " -> 200\n" POINT " -> 200\nDELETE " CLAIM "0 - - -> 200\nDELETE " CLAIM \
    "1 - - -> 200\nDELETE " CLAIM "2 - - -> 200\nDELETE " DCS_CM             \
    " - - -> 200\n" SCALE(3) " -> 200"

static void new_journal(void)
{
    char *path = xasprintf("%s/%s", T.dir, SW_JOURNAL_FILE);
    unlink(path);
    free(path);
    act_test_clear_writes();
    act_test_world_default();
}

static const char *str_at(json_t *j, const char *a, const char *b)
{
    return json_string_value(json_object_get(json_object_get(j, a), b));
}

static void test_rebuild(void)
{
    act_test_reset();
    act_test_control("{\"delay_ms\": 100}");
    T.standby_after = 40; /* Patroni reports a standby only a while after the pods are back */
    is_int(act_test_run(STEP), SW_RESULT_OK, "golddr is rebuilt from gold: %s", T.detail);
    char *w = act_test_writes(), *s = act_test_steps();
    is_str(w, REBUILT, "the old agent's calls, in this actuator's order");
    ok(act_test_write_time(1) - act_test_write_time(0) >= 0.25,
       "STANDBY_HOST is set only once the pods are gone (%.2fs after the scale to 0)",
       act_test_write_time(1) - act_test_write_time(0));
    ok(strncmp(s, "patroni_rebuild ok: rebuilt as a standby of gold-db.example:5432 after ", 71) ==
               0 &&
           strstr(s, "3 of 3 ready, 3 updated, 3 running") &&
           strstr(s, "3 ready before; 3 claims deleted, 0 already gone; patroni-spilo-config "
                     "deleted"),
       "the step says what it did: %s", s);
    ok(T.observations > T.standby_after, "it ended only once Patroni showed a healthy standby");
    free(w), free(s);
    json_t *env = act_test_get(ENV_CM), *dcs = act_test_get(DCS_CM), *c0 = act_test_get(CLAIM "0");
    ok(strcmp(str_at(env, "data", "STANDBY_HOST"), "gold-db.example") == 0 &&
           strcmp(str_at(env, "data", "STANDBY_PORT"), "5432") == 0,
       "the env ConfigMap points at gold's primary");
    ok(json_integer_value(json_object_get(dcs, "code")) == 404, "the DCS config is gone");
    ok(str_at(c0, "spec", "volumeName") && strcmp(str_at(c0, "spec", "volumeName"), "pvc-seed-0"),
       "pod 0's claim is a new one (%s)", str_at(c0, "spec", "volumeName"));
    json_decref(env), json_decref(dcs), json_decref(c0);

    new_journal();
    is_int(act_test_run(STEP), SW_RESULT_OK, "run again: %s", T.detail);
    w = act_test_writes();
    s = act_test_steps();
    is_str(w, "", "nothing is touched");
    ok(strncmp(s,
               "patroni_rebuild already: already a healthy standby of gold-db.example:5432: 3 "
               "of 3 ready",
               85) == 0,
       "the check found it done: %s", s);
    free(w), free(s);
}

static void test_gone_already(void)
{
    act_test_reset();
    act_test_control("{\"delete\": [[\"persistentvolumeclaims\", \"gateway\", "
                     "\"storage-volume-patroni-spilo-2\"], [\"configmaps\", \"gateway\", "
                     "\"patroni-spilo-config\"]]}");
    is_int(act_test_run(STEP), SW_RESULT_OK, "a claim and the config already gone: %s", T.detail);
    char *w = act_test_writes(), *s = act_test_steps();
    ok(strstr(w, "DELETE " CLAIM "2 - - -> 404\nDELETE " DCS_CM " - - -> 404\n" SCALE(3)) != NULL,
       "their 404s are taken in stride");
    ok(strstr(s, "2 claims deleted, 1 already gone; patroni-spilo-config already gone") != NULL,
       "and said: %s", s);
    free(w), free(s);
}

static void test_rbac(void)
{
    act_test_reset();
    char *rbac = act_test_rbac_state("patroni_rebuild");
    is_str(rbac,
           "{\"rbac\":[\"apps statefulsets get\",\"apps statefulsets/scale patch\",\"\\\"\\\" "
           "configmaps get\",\"\\\"\\\" configmaps patch\",\"\\\"\\\" configmaps delete\","
           "\"\\\"\\\" persistentvolumeclaims get\",\"\\\"\\\" persistentvolumeclaims delete\"]}",
           "it declares what it uses");
    act_test_control(rbac);
    free(rbac);
    is_int(act_test_run(STEP), SW_RESULT_OK, "with only those allowed: %s", T.detail);
    act_test_rbac_each_needed("patroni_rebuild", STEP);
}

static void test_destructive_only(void)
{
    act_test_reset();
    char err[512];
    struct sw_plans *p =
        act_test_plans("step { \"patroni_rebuild\", from = \"gold\" }", err, sizeof(err));
    ok(!p && strstr(err, "t.lua:") && strstr(err, "patroni_rebuild") &&
           strstr(err, "destructive = true"),
       "the loader refuses an unmarked rebuild: %s", p ? "(loaded)" : err);
    sw_plans_free(p);

    p = act_test_plans(STEP, err, sizeof(err));
    struct sw_plan *pl = sw_plan_copy(act_test_the_plan(p));
    pl->steps[0].destructive = false; /* a plan that got past the loader unmarked */
    enum sw_result r = act_test_run_plan(pl);
    char *w = act_test_writes(), *s = act_test_steps();
    ok(r == SW_RESULT_FAILED && strstr(s, "patroni_rebuild refused: guard: the plan does not mark "
                                          "this step destructive"),
       "the executor's guard refuses it unmarked: %s", s);
    is_str(w, "", "nothing is written");
    free(w), free(s);
    sw_plan_free(pl);

    new_journal();
    T.world.db[SW_GOLD].healthy = false;
    r = act_test_run_plan(act_test_the_plan(p));
    w = act_test_writes();
    s = act_test_steps();
    ok(r == SW_RESULT_FAILED &&
           strstr(s, "patroni_rebuild refused: guard: gold's database is not a freshly verified "
                     "healthy leader"),
       "marked, but gold is not a healthy leader: refused (%s)", s);
    is_str(w, "", "nothing is written");
    free(w), free(s);
    sw_plans_free(p);
}

static void expect_failure(const char *steps, const char *what, const char *detail_part,
                           const char *writes)
{
    enum sw_result r = act_test_run(steps);
    char *w = act_test_writes();
    ok(r == SW_RESULT_FAILED && strstr(T.detail, detail_part), "%s: the step fails (%s)", what,
       T.detail);
    is_str(w, writes, "%s: the writes", what);
    free(w);
}

static void test_failures(void)
{
    act_test_reset();
    act_test_control("{\"rbac\": [\"apps statefulsets get\", \"apps statefulsets/scale patch\", "
                     "\"\\\"\\\" configmaps get\", \"\\\"\\\" configmaps patch\"]}");
    expect_failure(STEP, "a refused DELETE",
                   "DELETE persistentvolumeclaims/storage-volume-patroni-spilo-0: Forbidden: "
                   "persistentvolumeclaims \"storage-volume-patroni-spilo-0\" is forbidden",
                   SCALE(0) " -> 200\n" POINT " -> 200\nDELETE " CLAIM "0 - - -> 403");

    act_test_reset();
    act_test_mode("{\"path\": \"" STS "/scale\", \"method\": \"PATCH\", \"mode\": \"status\", "
                  "\"status\": 409}");
    expect_failure(STEP, "a conflict on the scale",
                   "PATCH statefulsets/patroni-spilo/scale: Conflict: Operation cannot be "
                   "fulfilled on statefulsets.apps \"patroni-spilo\"",
                   SCALE(0) " -> 409");

    act_test_reset();
    act_test_mode("{\"path\": \"" STS "\", \"mode\": \"hang\"}");
    expect_failure(STEP, "a hung API server",
                   "GET statefulsets/patroni-spilo: timeout (Operation timed out after 10", "");

    act_test_reset();
    expect_failure("step { \"patroni_rebuild\", from = \"golddr\", destructive = true, "
                   "timeout = \"10s\" }",
                   "a rebuild from itself", "a rebuild from golddr: golddr rebuilds only from gold",
                   "");

    act_test_reset();
    T.cfg.standby = NULL;
    expect_failure(STEP, "no standby configured", "not configured: no standby (switchover.standby",
                   "");
    T.cfg.standby = &T.standby;

    act_test_reset();
    act_test_control("{\"unready\": [\"statefulsets/gateway/patroni-spilo\"]}");
    expect_failure("step { \"patroni_rebuild\", from = \"gold\", destructive = true, "
                   "timeout = \"2s\" }",
                   "pods that never become ready",
                   "timed out after 2s: waiting: patroni-spilo: 0 of 3 ready, 1 updated, 1 "
                   "running",
                   REBUILT);
}

int main(void)
{
    if (!act_test_start(false)) return done_testing();
    test_rebuild();
    test_gone_already();
    test_rbac();
    test_destructive_only();
    test_failures();
    act_test_stop();
    return done_testing();
}
