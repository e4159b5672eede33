/* test_act_tfvars.c: the tfvars actuator (switchover/act_tfvars.c) run as a one-step plan
 * through the executor against tests/fakes/k8s_fake.py: it makes exactly the old agent's call
 * (one merge-patch of the Secret's stringData, both flags) and ends with what the Secret now
 * holds, other keys untouched; run again, its check finds the flags set and writes nothing;
 * with exactly its declared rbac allowed it still succeeds; and a missing Secret (404), a
 * refused patch (403 from the fake's RBAC), a conflict (409), a hung API server (the call's
 * timeout), a body that is not JSON, and a site without a Kubernetes API each fail the step
 * with the reason. */
#include "act_test.h"

#define SECRET "/api/v1/namespaces/ops/secrets/terraform-tfvars-dev"
#define STEP   "step { \"tfvars\", in_recovery = true, in_maintenance = false, timeout = \"5s\" }"

static void new_journal(void)
{
    char *path = xasprintf("%s/%s", T.dir, SW_JOURNAL_FILE);
    unlink(path);
    free(path);
    act_test_clear_writes();
}

static const char *data_of(json_t *secret, const char *key)
{
    return json_string_value(json_object_get(json_object_get(secret, "data"), key));
}

static void test_writes(void)
{
    act_test_reset();
    is_int(act_test_run(STEP), SW_RESULT_OK, "the tfvars step runs: %s", T.detail);
    char *w = act_test_writes(), *s = act_test_steps();
    is_str(w,
           "PATCH " SECRET " merge {\"stringData\":{\"in_recovery\":\"true\","
           "\"in_maintenance\":\"false\"}} -> 200",
           "exactly the old agent's call: one merge-patch of stringData");
    is_str(s,
           "tfvars ok: the Secret terraform-tfvars-dev now holds in_recovery=true, "
           "in_maintenance=false",
           "the step says what the Secret now holds");
    free(w);
    free(s);
    json_t *sec = act_test_get(SECRET);
    ok(strcmp(data_of(sec, "in_recovery"), "dHJ1ZQ==") == 0 &&
           strcmp(data_of(sec, "in_maintenance"), "ZmFsc2U=") == 0 &&
           strcmp(data_of(sec, "region"), "Z29sZA==") == 0,
       "the Secret holds base64 true and false, its other key untouched");
    json_decref(sec);

    new_journal();
    is_int(act_test_run(STEP), SW_RESULT_OK, "run again: %s", T.detail);
    w = act_test_writes();
    s = act_test_steps();
    is_str(w, "", "the second run writes nothing");
    is_str(s,
           "tfvars already: the Secret terraform-tfvars-dev already holds in_recovery=true, "
           "in_maintenance=false",
           "its check found the flags set");
    free(w);
    free(s);
}

static void test_rbac(void)
{
    act_test_reset();
    char *rbac = act_test_rbac_state("tfvars");
    is_str(rbac, "{\"rbac\":[\"\\\"\\\" secrets get\",\"\\\"\\\" secrets patch\"]}",
           "it declares get and patch on secrets");
    act_test_control(rbac);
    free(rbac);
    is_int(act_test_run(STEP), SW_RESULT_OK, "with only those allowed, the step runs: %s",
           T.detail);
    act_test_rbac_each_needed("tfvars", STEP);
}

static void expect_failure(const char *what, const char *detail_part, const char *writes)
{
    enum sw_result r = act_test_run(STEP);
    char *w = act_test_writes();
    ok(r == SW_RESULT_FAILED && strstr(T.detail, detail_part), "%s: the step fails (%s)", what,
       T.detail);
    is_str(w, writes, "%s: the writes", what);
    free(w);
}

static void test_failures(void)
{
    act_test_reset();
    act_test_control("{\"delete\": [[\"secrets\", \"ops\", \"terraform-tfvars-dev\"]]}");
    expect_failure("a missing Secret",
                   "GET secrets/terraform-tfvars-dev: NotFound: secrets \"terraform-tfvars-dev\" "
                   "not found",
                   "");

    act_test_reset();
    act_test_control("{\"rbac\": [\"\\\"\\\" secrets get\"]}");
    expect_failure(
        "patch forbidden",
        "PATCH secrets/terraform-tfvars-dev: Forbidden: secrets \"terraform-tfvars-dev\" "
        "is forbidden: User \"system:serviceaccount:ops:drwatch\" cannot patch "
        "resource \"secrets\"",
        "PATCH " SECRET " merge {\"stringData\":{\"in_recovery\":\"true\","
        "\"in_maintenance\":\"false\"}} -> 403");

    act_test_reset();
    act_test_mode("{\"path\": \"" SECRET "\", \"method\": \"PATCH\", \"mode\": \"status\", "
                  "\"status\": 409}");
    expect_failure("a conflict",
                   "PATCH secrets/terraform-tfvars-dev: Conflict: Operation cannot be fulfilled on "
                   "secrets \"terraform-tfvars-dev\"",
                   "PATCH " SECRET " merge {\"stringData\":{\"in_recovery\":\"true\","
                   "\"in_maintenance\":\"false\"}} -> 409");

    act_test_reset();
    act_test_mode("{\"path\": \"" SECRET "\", \"method\": \"PATCH\", \"mode\": \"hang\"}");
    double t0 = time_mono_s();
    enum sw_result r = act_test_run(STEP);
    double took = time_mono_s() - t0;
    ok(r == SW_RESULT_FAILED && strstr(T.detail, "PATCH secrets/terraform-tfvars-dev: timeout") &&
           took < 4,
       "a hung API server: the call times out after the target's 1s, not the step's 5s (%.1fs: "
       "%s)",
       took, T.detail);

    act_test_reset();
    act_test_mode("{\"path\": \"" SECRET "\", \"mode\": \"garbage\"}");
    expect_failure("a body that is not JSON",
                   "GET secrets/terraform-tfvars-dev: the answer is not "
                   "JSON",
                   "");

    act_test_reset();
    T.cfg.kubernetes = NULL;
    expect_failure("no kubernetes section",
                   "not configured: no Kubernetes API (switchover.kubernetes)", "");
    T.cfg.kubernetes = &T.k8s;
}

int main(void)
{
    if (!act_test_start(false)) return done_testing();
    test_writes();
    test_rbac();
    test_failures();
    act_test_stop();
    return done_testing();
}
