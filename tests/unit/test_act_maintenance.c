/* test_act_maintenance.c: the maintenance actuator (switchover/act_maintenance.c) run as one-step
 * plans through the executor against tests/fakes/k8s_fake.py and portal_fake.py (over HTTPS,
 * with a bearer token and a CA made here): maintenance on makes exactly the old agent's calls in
 * its order (restart the page, Keycloak's Service to the page with the resourceVersion it read,
 * then PUT /maintenance/true with the portal target's token), waits for the page's rollout, and
 * says what it did; run again, its check finds the Service on the page and the portal saying
 * so, and writes nothing to Kubernetes; off makes them in the other order (selector, restart,
 * portal false); its declared rbac is enough. Failures are the step's, while the run goes on
 * (plans make it best-effort): a refused restart (403) or a missing page Deployment (404) still
 * sends the Service and the banner but fails the step saying why; a page that never rolls out
 * fails it at the deadline; no matching Service, a hung API server, a portal that fails (500),
 * hangs, or answers the wrong state, and no portal configured fail it; a conflict on the
 * Service is read and patched again, three conflicts fail it and leave the portal alone. */
#include "act_test.h"

#define PAGE \
    "/apis/apps/v1/namespaces/gateway/deployments/keycloak-maintenance-redirect-generic-api"
#define SERVICE "/api/v1/namespaces/gateway/services/keycloak-http"
#define ON      "step { \"maintenance\", on = true, timeout = \"5s\" }"
#define OFF     "step { \"maintenance\", on = false, timeout = \"5s\" }"
#define RESTART                                                                     \
    "PATCH " PAGE " merge {\"spec\":{\"template\":{\"metadata\":{\"annotations\":{" \
    "\"kubectl.kubernetes.io/restartedAt\":\"STAMP\"}}}}}"
#define TO_PAGE                                                                           \
    "PATCH " SERVICE " merge {\"metadata\":{\"resourceVersion\":\"RV\"},\"spec\":{"       \
    "\"selector\":{\"app\":\"keycloak-maintenance-page\",\"app.kubernetes.io/instance\":" \
    "null,\"app.kubernetes.io/name\":null}}}"
#define TO_KEYCLOAK                                                                 \
    "PATCH " SERVICE " merge {\"metadata\":{\"resourceVersion\":\"RV\"},\"spec\":{" \
    "\"selector\":{\"app\":null,\"app.kubernetes.io/instance\":\"keycloak\","       \
    "\"app.kubernetes.io/name\":\"keycloak\"}}}"

static void new_journal(void)
{
    char *path = xasprintf("%s/%s", T.dir, SW_JOURNAL_FILE);
    unlink(path);
    free(path);
    act_test_clear_writes();
    fake_control(T.portal_port, "https", "reset", "{}");
}

static char *selector(void)
{
    json_t *svc = act_test_get(SERVICE);
    char *text = json_dumps(json_object_get(json_object_get(svc, "spec"), "selector"),
                            JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(svc);
    return text;
}

/* Whether every PUT the portal saw carried the portal target's token. */
static bool portal_token_sent(void)
{
    char *cmd = xasprintf("curl -sk https://127.0.0.1:%d/__fake/requests", T.portal_port);
    char *out = act_test_sh(cmd);
    json_t *reqs = json_loads(out, 0, NULL);
    size_t i, n = 0;
    json_t *r;
    bool all = json_array_size(reqs) > 0;
    json_array_foreach(reqs, i, r)
    {
        const char *auth =
            json_string_value(json_object_get(json_object_get(r, "headers"), "Authorization"));
        n++;
        all = all && auth && strcmp(auth, "Bearer portal-s3cret") == 0;
    }
    json_decref(reqs);
    free(out);
    free(cmd);
    return all && n > 0;
}

static void test_on_off(void)
{
    act_test_reset();
    is_int(act_test_run(ON), SW_RESULT_OK, "maintenance on: %s", T.detail);
    char *w = act_test_writes(), *s = act_test_steps(), *sel = selector();
    double portal_at;
    char *p = act_test_portal_puts(&portal_at);
    is_str(w, RESTART " -> 200\n" TO_PAGE " -> 200",
           "the old agent's calls: restart the page, then the Service's selector");
    is_str(p, "PUT /api/maintenance/true -> 200", "then the portal's banner");
    ok(portal_at > act_test_write_time(1) && act_test_write_time(1) > act_test_write_time(0),
       "in that order");
    ok(portal_token_sent(), "the portal got the portal target's bearer token, over TLS");
    is_str(sel, "{\"app\":\"keycloak-maintenance-page\"}", "the Service selects the page alone");
    ok(strncmp(s,
               "maintenance ok: Service keycloak-http -> the maintenance page, portal on; the "
               "page rolled out after ",
               93) == 0 &&
           strstr(s, "1 of 1 ready, 1 updated, 1 running, generation 2 observed"),
       "the step waited for the page's rollout: %s", s);
    free(w), free(s), free(sel), free(p);

    new_journal();
    is_int(act_test_run(ON), SW_RESULT_OK, "on again: %s", T.detail);
    w = act_test_writes();
    s = act_test_steps();
    p = act_test_portal_puts(NULL);
    is_str(w, "", "nothing is written to Kubernetes");
    is_str(p, "PUT /api/maintenance/true -> 200", "the portal is asked (its PUT is its only read)");
    is_str(s,
           "maintenance already: Service keycloak-http already selects the maintenance page and "
           "the portal says maintenance is on",
           "the check found it done");
    free(w), free(s), free(p);

    new_journal();
    is_int(act_test_run(OFF), SW_RESULT_OK, "maintenance off: %s", T.detail);
    w = act_test_writes();
    s = act_test_steps();
    sel = selector();
    p = act_test_portal_puts(&portal_at);
    is_str(w, TO_KEYCLOAK " -> 200\n" RESTART " -> 200",
           "off is the other order: the selector back, then the restart");
    is_str(p, "PUT /api/maintenance/false -> 200", "then the banner off");
    ok(portal_at > act_test_write_time(1), "last");
    is_str(sel,
           "{\"app.kubernetes.io/instance\":\"keycloak\",\"app.kubernetes.io/name\":\"keycloak\"}",
           "the Service selects Keycloak again");
    ok(strncmp(s, "maintenance ok: Service keycloak-http -> Keycloak, portal off;", 62) == 0,
       "and says so: %s", s);
    free(w), free(s), free(sel), free(p);
}

static void test_rbac(void)
{
    act_test_reset();
    char *rbac = act_test_rbac_state("maintenance");
    is_str(rbac,
           "{\"rbac\":[\"apps deployments get\",\"apps deployments patch\",\"\\\"\\\" services "
           "list\",\"\\\"\\\" services patch\"]}",
           "it declares what it uses");
    act_test_control(rbac);
    free(rbac);
    is_int(act_test_run(ON), SW_RESULT_OK, "with only those allowed: %s", T.detail);
    char *s = act_test_steps();
    ok(strncmp(s, "maintenance ok:", 15) == 0, "the step is ok: %s", s);
    free(s);
    act_test_rbac_each_needed("maintenance", ON);
}

/* The step fails (its detail has step_part), the best-effort run goes on. */
static void expect_failure(const char *steps, const char *what, const char *step_part,
                           const char *writes, const char *puts)
{
    enum sw_result r = act_test_run(steps);
    char *w = act_test_writes(), *s = act_test_steps(), *p = act_test_portal_puts(NULL);
    ok(r == SW_RESULT_OK && strncmp(s, "maintenance failed: ", 20) == 0 && strstr(s, step_part),
       "%s: the step fails, the run goes on (%s)", what, s);
    is_str(w, writes, "%s: the writes", what);
    is_str(p, puts, "%s: the portal", what);
    free(w), free(s), free(p);
}

static void test_failures(void)
{
    act_test_reset();
    act_test_control("{\"rbac\": [\"apps deployments get\", \"\\\"\\\" services list\", "
                     "\"\\\"\\\" services patch\"]}");
    expect_failure(ON, "a refused restart",
                   "the page's restart failed: Forbidden: deployments.apps "
                   "\"keycloak-maintenance-redirect-generic-api\" is forbidden: User "
                   "\"system:serviceaccount:ops:drwatch\" cannot patch resource \"deployments\"",
                   RESTART " -> 403\n" TO_PAGE " -> 200", "PUT /api/maintenance/true -> 200");

    act_test_reset();
    act_test_control("{\"delete\": [[\"deployments\", \"gateway\", "
                     "\"keycloak-maintenance-redirect-generic-api\"]]}");
    expect_failure(ON, "no maintenance page Deployment",
                   "the page's restart failed: NotFound: deployments.apps "
                   "\"keycloak-maintenance-redirect-generic-api\" not found; Service keycloak-http "
                   "-> the maintenance page, portal on",
                   RESTART " -> 404\n" TO_PAGE " -> 200", "PUT /api/maintenance/true -> 200");

    act_test_reset();
    act_test_control("{\"unready\": [\"deployments/gateway/"
                     "keycloak-maintenance-redirect-generic-api\"]}");
    expect_failure("step { \"maintenance\", on = true, timeout = \"1s\" }",
                   "a page that never rolls out",
                   "timed out after 1s: Service keycloak-http -> the maintenance page, portal on; "
                   "the page rolling out: 1 of 1 ready, 1 updated, 2 running",
                   RESTART " -> 200\n" TO_PAGE " -> 200", "PUT /api/maintenance/true -> 200");

    act_test_reset();
    act_test_mode("{\"path\": \"/api/v1/namespaces/gateway/services\", \"mode\": \"hang\"}");
    expect_failure(ON, "a hung API server",
                   "GET services?labelSelector=app.kubernetes.io%2Fcomponent%3Dhttp%2C"
                   "app.kubernetes.io%2Finstance%3Dkeycloak: timeout (Operation timed out after",
                   "", "");

    act_test_reset();
    act_test_control("{\"delete\": [[\"services\", \"gateway\", \"keycloak-http\"]]}");
    expect_failure(ON, "no Service",
                   "no Service in gateway matches "
                   "app.kubernetes.io/component=http,app.kubernetes.io/instance=keycloak",
                   "", "");

    act_test_reset();
    act_test_mode("{\"path\": \"" SERVICE "\", \"method\": \"PATCH\", \"mode\": \"status\", "
                  "\"status\": 409, \"count\": 1}");
    is_int(act_test_run(ON), SW_RESULT_OK, "one conflict: %s", T.detail);
    char *w = act_test_writes(), *s = act_test_steps();
    is_str(w, RESTART " -> 200\n" TO_PAGE " -> 409\n" TO_PAGE " -> 200",
           "one conflict: the Service is read and patched again");
    ok(strncmp(s, "maintenance ok:", 15) == 0, "and the step is ok: %s", s);
    free(w), free(s);

    act_test_reset();
    act_test_mode("{\"path\": \"" SERVICE "\", \"method\": \"PATCH\", \"mode\": \"status\", "
                  "\"status\": 409}");
    expect_failure(ON, "conflicts every time",
                   "PATCH services/keycloak-http: Conflict: Operation cannot be fulfilled on "
                   "services \"keycloak-http\"",
                   RESTART " -> 200\n" TO_PAGE " -> 409\n" TO_PAGE " -> 409\n" TO_PAGE " -> 409",
                   "");

    act_test_reset();
    fake_control(T.portal_port, "https", "mode",
                 "{\"path\": \"/api/maintenance/true\", \"mode\": \"status\", \"status\": 500}");
    expect_failure(ON, "the portal fails", "portal PUT /maintenance/true: HTTP 500",
                   RESTART " -> 200\n" TO_PAGE " -> 200", "PUT /api/maintenance/true -> 500");

    act_test_reset();
    fake_control(T.portal_port, "https", "mode",
                 "{\"path\": \"/api/maintenance/true\", \"mode\": \"hang\"}");
    expect_failure(ON, "the portal hangs", "portal PUT /maintenance/true: timeout",
                   RESTART " -> 200\n" TO_PAGE " -> 200", "PUT /api/maintenance/true -> 0");

    act_test_reset();
    fake_control(T.portal_port, "https", "state", "{\"answer\": {\"state\": false}}");
    expect_failure(ON, "the portal answers the wrong state",
                   "the portal says maintenance is off after PUT /maintenance/true",
                   RESTART " -> 200\n" TO_PAGE " -> 200", "PUT /api/maintenance/true -> 200");

    act_test_reset();
    T.cfg.portal = NULL;
    expect_failure(ON, "no portal configured", "not configured: no portal (switchover.portal)", "",
                   "");
    T.cfg.portal = &T.portal;
}

int main(void)
{
    if (!act_test_start(true)) return done_testing();
    test_on_off();
    test_rbac();
    test_failures();
    act_test_stop();
    return done_testing();
}
