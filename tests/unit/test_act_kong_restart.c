/* test_act_kong_restart.c: the kong_restart actuator (switchover/act_kong_restart.c) run as
 * one-step plans through the executor against tests/fakes/k8s_fake.py: it makes exactly the old
 * agent's call (the pod template's restartedAt, in its format) and the step ends only once the
 * fake's controller has rolled the change out (observedGeneration, every pod updated and
 * ready, no old one left); a new run restarts again (a restart is an event), but a run cut
 * short by a crash after the restart is resumed through the check, which finds it restarted
 * in this run and rolled out, and writes nothing more; its declared rbac is enough; and since
 * plans make it best-effort, a refused patch (403), a missing Deployment (404), a conflict
 * (409), a hung API server and a rollout that never finishes are recorded as the step's failure
 * with the reason while the run goes on. */
#include "act_test.h"

#define KONG "/apis/apps/v1/namespaces/gateway/deployments/konghc-kong"
#define STEP "step { \"kong_restart\", timeout = \"5s\" }"
#define RESTART                                                                     \
    "PATCH " KONG " merge {\"spec\":{\"template\":{\"metadata\":{\"annotations\":{" \
    "\"kubectl.kubernetes.io/restartedAt\":\"STAMP\"}}}}}"

static void new_journal(void)
{
    char *path = xasprintf("%s/%s", T.dir, SW_JOURNAL_FILE);
    unlink(path);
    free(path);
    act_test_clear_writes();
}

static bool rolled_out(void)
{
    json_t *d = act_test_get(KONG);
    json_t *st = json_object_get(d, "status");
    long long gen =
        json_integer_value(json_object_get(json_object_get(d, "metadata"), "generation"));
    bool done = json_integer_value(json_object_get(st, "observedGeneration")) == gen &&
                json_integer_value(json_object_get(st, "updatedReplicas")) == 2 &&
                json_integer_value(json_object_get(st, "replicas")) == 2 &&
                json_integer_value(json_object_get(st, "readyReplicas")) == 2 && gen > 1;
    json_decref(d);
    return done;
}

static bool patched(void)
{
    char *w = act_test_writes();
    bool yes = w[0] != '\0';
    free(w);
    return yes;
}

static void test_restart(void)
{
    act_test_reset();
    is_int(act_test_run(STEP), SW_RESULT_OK, "the restart runs: %s", T.detail);
    char *w = act_test_writes(), *s = act_test_steps();
    is_str(w, RESTART " -> 200", "exactly the old agent's call, its stamp in the old format");
    ok(strncmp(s, "kong_restart ok: konghc-kong restarted and rolled out after ", 60) == 0 &&
           strstr(s, "2 of 2 ready, 2 updated, 2 running, generation 2 observed"),
       "the step ends once rolled out: %s", s);
    ok(rolled_out(), "and the fake agrees");
    free(w);
    free(s);

    new_journal();
    is_int(act_test_run(STEP), SW_RESULT_OK, "a new run: %s", T.detail);
    w = act_test_writes();
    is_str(w, RESTART " -> 200", "restarts again: a restart is an event of each transition");
    free(w);
}

static void test_resume(void)
{
    act_test_reset();
    char err[300];
    struct sw_plans *p = act_test_plans(STEP, err, sizeof(err));
    ok(act_test_crash(act_test_the_plan(p), patched), "a run crashes once it has restarted Kong");
    ok(act_test_loop_until(rolled_out, 5), "the rollout goes on without drwatch");
    is_int(act_test_resume(p), SW_RESULT_OK, "the run resumes: %s", T.detail);
    char *w = act_test_writes(), *s = act_test_steps();
    is_str(w, RESTART " -> 200", "Kong was restarted once, not again");
    ok(strncmp(s, "kong_restart already: konghc-kong was restarted at ", 51) == 0 &&
           strstr(s, " in this run and rolled out"),
       "the check found this run's restart: %s", s);
    free(w);
    free(s);
    sw_plans_free(p);
}

static void test_rbac(void)
{
    act_test_reset();
    char *rbac = act_test_rbac_state("kong_restart");
    is_str(rbac, "{\"rbac\":[\"apps deployments get\",\"apps deployments patch\"]}",
           "it declares get and patch on deployments");
    act_test_control(rbac);
    free(rbac);
    is_int(act_test_run(STEP), SW_RESULT_OK, "with only those allowed, it runs: %s", T.detail);
    char *s = act_test_steps();
    ok(strncmp(s, "kong_restart ok:", 16) == 0, "and the step is ok: %s", s);
    free(s);
    act_test_rbac_each_needed("kong_restart", STEP);
}

/* The plan's step is best-effort: the run goes on, the journal says the step failed. */
static void expect_failure(const char *steps, const char *what, const char *step_part,
                           const char *writes)
{
    enum sw_result r = act_test_run(steps);
    char *w = act_test_writes(), *s = act_test_steps();
    ok(r == SW_RESULT_OK && strncmp(s, "kong_restart failed: ", 21) == 0 && strstr(s, step_part),
       "%s: the step fails, the run goes on (%s)", what, s);
    is_str(w, writes, "%s: the writes", what);
    free(w);
    free(s);
}

static void test_failures(void)
{
    act_test_reset();
    act_test_control("{\"rbac\": [\"apps deployments get\"]}");
    expect_failure(STEP, "patch forbidden",
                   "PATCH deployments/konghc-kong: Forbidden: deployments.apps \"konghc-kong\" is "
                   "forbidden: User \"system:serviceaccount:ops:drwatch\" cannot patch resource "
                   "\"deployments\"",
                   RESTART " -> 403");

    act_test_reset();
    act_test_control("{\"delete\": [[\"deployments\", \"gateway\", \"konghc-kong\"]]}");
    expect_failure(STEP, "no Kong Deployment",
                   "GET deployments/konghc-kong: NotFound: deployments.apps \"konghc-kong\" not "
                   "found",
                   "");

    act_test_reset();
    act_test_mode("{\"path\": \"" KONG "\", \"method\": \"PATCH\", \"mode\": \"status\", "
                  "\"status\": 409}");
    expect_failure(STEP, "a conflict",
                   "PATCH deployments/konghc-kong: Conflict: Operation cannot be fulfilled on "
                   "deployments.apps \"konghc-kong\"",
                   RESTART " -> 409");

    act_test_reset();
    act_test_mode("{\"path\": \"" KONG "\", \"mode\": \"hang\"}");
    expect_failure(STEP, "a hung API server",
                   "GET deployments/konghc-kong: timeout (Operation timed out after", "");

    act_test_reset();
    act_test_control("{\"unready\": [\"deployments/gateway/konghc-kong\"]}");
    expect_failure("step { \"kong_restart\", timeout = \"1s\" }", "a rollout that never ends",
                   "timed out after 1s: konghc-kong rolling out: 2 of 2 ready, 2 updated, 4 "
                   "running",
                   RESTART " -> 200");
}

int main(void)
{
    if (!act_test_start(false)) return done_testing();
    test_restart();
    test_resume();
    test_rbac();
    test_failures();
    act_test_stop();
    return done_testing();
}
