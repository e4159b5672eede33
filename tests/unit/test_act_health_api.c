/* test_act_health_api.c: the health_api actuator (switchover/act_health_api.c) run as one-step
 * plans through the executor against tests/fakes/k8s_fake.py, whose controller moves one pod
 * every 30 ms: scaling to 0 makes exactly the old agent's two merge-patches (the scale
 * subresource, then the PDB's minAvailable) and the step ends only once no pod is left, saying
 * what it saw ("scaled to 0; 2 ready -> 0 ready after ..."); run again, its check finds it done
 * and writes nothing; scaling back to 2 waits for 2 ready; its declared rbac is enough; a
 * missing PDB fails the check before the scale is touched (the old agent scaled first); a
 * refused scale (403), a conflict on the PDB (409), a hung API server and a missing namespace
 * setting fail with the reason; and a Deployment whose pods never become ready fails the step
 * at its deadline with the last status seen. */
#include "act_test.h"

#define DEPLOY "/apis/apps/v1/namespaces/ops/deployments/bcgov-health-api-dev-generic-api"
#define PDB \
    "/apis/policy/v1/namespaces/ops/poddisruptionbudgets/bcgov-health-api-dev-generic-api-pdb"
#define SCALE_TO_0                                                                          \
    "PATCH " DEPLOY "/scale merge {\"spec\":{\"replicas\":0}} -> 200\nPATCH " PDB " merge " \
    "{\"spec\":{\"minAvailable\":0}} -> 200"

static void new_journal(void)
{
    char *path = xasprintf("%s/%s", T.dir, SW_JOURNAL_FILE);
    unlink(path);
    free(path);
    act_test_clear_writes();
}

static long long status_of(const char *field)
{
    json_t *d = act_test_get(DEPLOY);
    long long v = json_integer_value(json_object_get(json_object_get(d, "status"), field));
    json_decref(d);
    return v;
}

static void test_scale(void)
{
    act_test_reset();
    is_int(act_test_run("step { \"health_api\", replicas = 0, timeout = \"5s\" }"), SW_RESULT_OK,
           "scale to 0: %s", T.detail);
    char *w = act_test_writes(), *s = act_test_steps();
    is_str(w, SCALE_TO_0, "exactly the old agent's calls: scale, then the PDB");
    ok(strncmp(s, "health_api ok: scaled to 0; 2 ready -> 0 ready after ", 53) == 0,
       "the step says what changed: %s", s);
    free(w);
    free(s);
    ok(status_of("replicas") == 0 && status_of("readyReplicas") == 0,
       "it ended only once no pod was left");

    new_journal();
    is_int(act_test_run("step { \"health_api\", replicas = 0, timeout = \"5s\" }"), SW_RESULT_OK,
           "run again: %s", T.detail);
    w = act_test_writes();
    s = act_test_steps();
    is_str(w, "", "the second run writes nothing");
    ok(strncmp(s, "health_api already: already scaled to 0 (0 of 0 ready", 53) == 0 &&
           strstr(s, "PDB minAvailable 0"),
       "its check found it done: %s", s);
    free(w);
    free(s);

    new_journal();
    is_int(act_test_run("step { \"health_api\", replicas = 2, timeout = \"5s\" }"), SW_RESULT_OK,
           "scale back to 2: %s", T.detail);
    w = act_test_writes();
    s = act_test_steps();
    is_str(w,
           "PATCH " DEPLOY "/scale merge {\"spec\":{\"replicas\":2}} -> 200\nPATCH " PDB
           " merge {\"spec\":{\"minAvailable\":1}} -> 200",
           "scale 2, minAvailable 1");
    ok(strncmp(s, "health_api ok: scaled to 2; 0 ready -> 2 ready after ", 53) == 0 &&
           status_of("readyReplicas") == 2,
       "it ended once 2 were ready: %s", s);
    free(w);
    free(s);
}

static void test_rbac(void)
{
    act_test_reset();
    char *rbac = act_test_rbac_state("health_api");
    is_str(rbac,
           "{\"rbac\":[\"apps deployments get\",\"apps deployments/scale patch\","
           "\"policy poddisruptionbudgets get\",\"policy poddisruptionbudgets patch\"]}",
           "it declares what it uses");
    act_test_control(rbac);
    free(rbac);
    is_int(act_test_run("step { \"health_api\", replicas = 0, timeout = \"5s\" }"), SW_RESULT_OK,
           "with only those allowed, it runs: %s", T.detail);
    act_test_rbac_each_needed("health_api", "step { \"health_api\", replicas = 0, timeout = "
                                            "\"5s\" }");
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

#define TO_0 "step { \"health_api\", replicas = 0, timeout = \"5s\" }"

static void test_failures(void)
{
    act_test_reset();
    act_test_control("{\"delete\": [[\"poddisruptionbudgets\", \"ops\", "
                     "\"bcgov-health-api-dev-generic-api-pdb\"]]}");
    expect_failure(TO_0, "a missing PDB",
                   "GET poddisruptionbudgets/bcgov-health-api-dev-generic-api-pdb: NotFound: "
                   "poddisruptionbudgets.policy \"bcgov-health-api-dev-generic-api-pdb\" not found",
                   "");
    ok(status_of("readyReplicas") == 2, "and the scale was not touched");

    act_test_reset();
    act_test_control("{\"rbac\": [\"apps deployments get\", \"policy poddisruptionbudgets get\", "
                     "\"policy poddisruptionbudgets patch\"]}");
    expect_failure(TO_0, "scale forbidden",
                   "PATCH deployments/bcgov-health-api-dev-generic-api/scale: Forbidden: "
                   "deployments.apps \"bcgov-health-api-dev-generic-api\" is forbidden: User "
                   "\"system:serviceaccount:ops:drwatch\" cannot patch resource "
                   "\"deployments/scale\" in API group \"apps\"",
                   "PATCH " DEPLOY "/scale merge {\"spec\":{\"replicas\":0}} -> 403");

    act_test_reset();
    act_test_mode("{\"path\": \"" PDB "\", \"method\": \"PATCH\", \"mode\": \"status\", "
                  "\"status\": 409}");
    expect_failure(TO_0, "a conflict on the PDB",
                   "PATCH poddisruptionbudgets/bcgov-health-api-dev-generic-api-pdb: Conflict: "
                   "Operation cannot be fulfilled on poddisruptionbudgets.policy",
                   "PATCH " DEPLOY "/scale merge {\"spec\":{\"replicas\":0}} -> 200\nPATCH " PDB
                   " merge {\"spec\":{\"minAvailable\":0}} -> 409");

    act_test_reset();
    act_test_mode("{\"path\": \"" DEPLOY "\", \"mode\": \"hang\"}");
    expect_failure(TO_0, "a hung API server",
                   "GET deployments/bcgov-health-api-dev-generic-api: timeout (Operation timed "
                   "out after 10",
                   "");

    act_test_reset();
    /* No tools namespace given, and none from the Kubernetes target (outside a pod). */
    char *tools = T.cfg.namespaces.tools, *k8s_ns = T.k8s.t.namespace;
    T.cfg.namespaces.tools = NULL;
    T.k8s.t.namespace = NULL;
    expect_failure(TO_0, "no tools namespace", "not configured: ", "");
    T.cfg.namespaces.tools = tools;
    T.k8s.t.namespace = k8s_ns;
}

static void test_never_ready(void)
{
    act_test_reset();
    act_test_control("{\"unready\": [\"deployments/ops/bcgov-health-api-dev-generic-api\"]}");
    is_int(act_test_run(TO_0), SW_RESULT_OK, "pods that never get ready still go: %s", T.detail);
    new_journal();
    expect_failure("step { \"health_api\", replicas = 2, timeout = \"1s\" }",
                   "a Deployment that never becomes ready",
                   "timed out after 1s: waiting for bcgov-health-api-dev-generic-api to settle at "
                   "2: 0 of 2 ready, 2 updated, 2 running",
                   "PATCH " DEPLOY "/scale merge {\"spec\":{\"replicas\":2}} -> 200\nPATCH " PDB
                   " merge {\"spec\":{\"minAvailable\":1}} -> 200");
}

int main(void)
{
    if (!act_test_start(false)) return done_testing();
    test_scale();
    test_rbac();
    test_failures();
    test_never_ready();
    act_test_stop();
    return done_testing();
}
