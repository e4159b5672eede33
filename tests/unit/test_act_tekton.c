/* test_act_tekton.c: the tekton_deploy actuator (switchover/act_tekton.c), registered in the
 * actuator table, driven by the executor through one-step plans against two fakes:
 * tests/fakes/tekton_listener_fake.py (an EventListener that checks the signatures and makes
 * a PipelineRun per trigger, ending as told) and tests/fakes/k8s_fake.py (the API the runs are
 * followed through). Each case waits for the run's end, never for a fixed time:
 *   - success: one trigger whose body and headers are the old agent's, byte for byte;
 *   - a failed run, then a good one: two triggers, the step ok;
 *   - always failing: three triggers (1 + retries), then the step fails with the reason;
 *   - a hung run: cancelled by a merge-patch (in the version the runs were found in, also
 *     v1beta1), then retried; always hung: three cancels and the step fails;
 *   - Tekton's own PipelineRunTimeout is a failure that is retried;
 *   - the API refusing the LIST fails the step at once; refusing the cancel does not stop
 *     the retry;
 *   - a wrong secret: 401, and the step fails at once saying so; a listener that drops the
 *     event (202 and no run, as a real interceptor does): each attempt times out, then fails;
 *   - the old mock's 200 reply; settings absent: "not configured";
 *   - a step cut by its deadline mid-attempt leaves nothing that trips the next step;
 *   - resumed after a kill -9 (the journal as the killed process left it): following the
 *     journaled event id, or adopting the run a lost answer made, or (no run) triggering once.
 * And the tekton table's retry settings: the old agent's defaults, durations, a limit. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "act_env.h"
#include "actuators.h"
#include "act_tekton_wire.h"
#include "buf.h"
#include "clock.h"
#include "executor.h"
#include "fake.h"
#include "http_client.h"
#include "loop.h"
#include "one_plan.h"
#include "plan.h"
#include "switchover.h"
#include "tap.h"
#include "xalloc.h"

#define REF  "refs/heads/deploy/dev"
#define REPO "https://github.com/bcgov-dss/api-serv-infra.git"
#define NS   "ops-pipelines"

static const char reference_body[] =
    "{\"ref\": \"refs/heads/deploy/dev\", \"repository\": {\"name\": \"\", \"clone_url\": "
    "\"https://github.com/bcgov-dss/api-serv-infra.git\"}, \"head_commit\": {\"id\": \"\", "
    "\"message\": \"\", \"author\": {\"username\": \"switchover_agent\"}}}";

static struct {
    struct loop *l;
    struct httpc *h;
    int k8s_port, el_port;
    pid_t k8s_pid, el_pid;
    char k8s_url[64], el_url[64];
    char dir[64], secret[96], wrong[96];
    struct act_k8s k8s;
    struct act_tekton tk;
    struct act_config cfg;
    struct act_env env;
} T;

static struct {
    bool done;
    enum sw_result res;
    char detail[400];
} E;

static void observe(void *arg, struct sw_world *w)
{
    (void)arg;
    memset(w, 0, sizeof(*w));
}

static void finished(void *arg, const struct sw_run_start *run, enum sw_result r,
                     const char *detail)
{
    (void)arg;
    (void)run;
    E.done = true;
    E.res = r;
    snprintf(E.detail, sizeof(E.detail), "%s", detail ? detail : "");
    loop_stop(T.l);
}

/* A plan file whose golddr active-passive -> golddr-primary plan is steps (the others empty). */
static struct sw_plans *plans(const char *steps)
{
    char err[512];
    struct sw_plans *p = one_plan_load(steps, "t.lua", err, sizeof(err));
    if (!p) diag("%s", err);
    return p;
}

/* An executor on GoldDR with the real actuators, its journal in the test's directory. */
static struct sw_executor *executor_new(char *err, size_t errlen)
{
    struct sw_exec_env env = {.loop = T.l,
                              .data_dir = T.dir,
                              .site = SW_GOLDDR,
                              .actuators = actuator_table,
                              .nactuators = actuator_table_len,
                              .actuator_env = &T.env,
                              .poll_ms = 20,
                              .observe = observe,
                              .finished = finished};
    return sw_exec_new(&env, err, errlen);
}

/* Runs a one-step tekton_deploy plan (with the step's timeout) to its end. */
static void run_deploy(const char *timeout)
{
    char steps[128], err[256], journal[128];
    /* The env keeps its own copy of the settings (as in the daemon, where a plan outlives a
     * reload): make it again from what this test case set. */
    act_env_clear(&T.env);
    if (act_env_init(&T.env, &T.cfg, T.l, T.h, SW_GOLDDR, err, sizeof(err)) < 0)
        diag("act_env_init: %s", err);
    snprintf(steps, sizeof(steps), "step { \"tekton_deploy\", timeout = \"%s\" }", timeout);
    snprintf(journal, sizeof(journal), "%s/%s", T.dir, SW_JOURNAL_FILE);
    unlink(journal);
    memset(&E, 0, sizeof(E));
    struct sw_plans *p = plans(steps);
    struct sw_executor *x = executor_new(err, sizeof(err));
    struct sw_run_start s = {.from = SW_ACTIVE_PASSIVE, .to = SW_GOLDDR_PRIMARY};
    snprintf(s.id, sizeof(s.id), "run-tekton");
    const struct sw_plan *pl = p ? one_plan_get(p) : NULL;
    if (!x || !pl || sw_exec_start(x, pl, &s, err, sizeof(err)) < 0)
        diag("cannot start: %s", err);
    else if (!E.done)
        loop_run(T.l); /* until finished: the step's deadline bounds it */
    sw_exec_free(x);
    sw_plans_free(p);
}

/* ---- what the fakes saw ---- */

static json_t *get_json(int port, const char *path)
{
    char *cmd = xasprintf("curl -s http://127.0.0.1:%d%s", port, path);
    FILE *f = popen(cmd, "r");
    free(cmd);
    struct buf b;
    buf_init(&b, 64 << 20);
    char chunk[4096];
    for (size_t n; f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0;)
        (void)buf_append(&b, chunk, n);
    if (f) pclose(f);
    json_t *j = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
    buf_free(&b);
    return j ? j : json_array();
}

static const char *str_at(json_t *o, const char *k1, const char *k2)
{
    json_t *v = json_object_get(o, k1);
    if (k2) v = json_object_get(v, k2);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* The Kubernetes fake's requests of method whose path holds what. */
static size_t k8s_seen(const char *method, const char *what, json_t **last)
{
    json_t *reqs = get_json(T.k8s_port, "/__fake/requests");
    size_t i, n = 0;
    json_t *r;
    json_array_foreach(reqs, i, r)
    {
        if (strcmp(str_at(r, "method", NULL), method) != 0) continue;
        if (!strstr(str_at(r, "path", NULL), what)) continue;
        n++;
        if (last) {
            json_decref(*last);
            *last = json_incref(r);
        }
    }
    json_decref(reqs);
    return n;
}

/* Both fakes back to their start; el_state and k8s_state (JSON or NULL) set on them. */
static void scene(const char *el_state, const char *k8s_state)
{
    fake_control(T.el_port, "http", "reset", "{}");
    fake_control(T.k8s_port, "http", "reset", "{}");
    if (el_state) fake_control(T.el_port, "http", "state", el_state);
    if (k8s_state) fake_control(T.k8s_port, "http", "state", k8s_state);
}

/* ---- the cases ---- */

static void test_success(void)
{
    scene("{\"outcomes\": [\"success\"]}", NULL);
    run_deploy("30s");
    ok(E.done && E.res == SW_RESULT_OK, "a run that succeeds: the step is ok (%s)", E.detail);
    json_t *a = get_json(T.el_port, "/activity");
    is_int(json_array_size(a), 1, "one trigger was sent");
    json_t *t = json_array_get(a, 0);
    is_str(str_at(t, "body", NULL), reference_body,
           "its body is the old agent's, byte for byte (switchover-plans.md §0.1)");
    is_str(str_at(t, "headers", "X-Hub-Signature"), "sha1=e958d99e142308fae025acbccbc14f6e6a8a22f4",
           "X-Hub-Signature is the reference's vector for test-secret (the file's newline is no "
           "part of the secret)");
    is_str(str_at(t, "headers", "X-Hub-Signature-256"),
           "sha256=9428aa1492749b684cbe978eb10f794530401f5c09621078f574d895faa091a2",
           "X-Hub-Signature-256 too");
    ok(strcmp(str_at(t, "headers", "X-GitHub-Event"), "push") == 0 &&
           strcmp(str_at(t, "headers", "Accept"), "application/json") == 0 &&
           strcmp(str_at(t, "headers", "Content-Type"), "application/json") == 0,
       "X-GitHub-Event: push, Accept and Content-Type application/json");
    is_int(json_integer_value(json_object_get(t, "status")), 202, "the listener answered 202");
    char *sel = xasprintf("labelSelector=triggers.tekton.dev%%2Ftriggers-eventid%%3D%s",
                          str_at(t, "event_id", NULL));
    ok(k8s_seen("GET", sel, NULL) >= 1 && k8s_seen("PATCH", "", NULL) == 0,
       "the run was followed by a LIST with its event id's label selector, nothing patched");
    free(sel);
    json_decref(a);
}

static void test_fail_then_succeed(void)
{
    scene("{\"outcomes\": [\"fail-then-succeed\"]}", NULL);
    run_deploy("30s");
    ok(E.done && E.res == SW_RESULT_OK, "a failed run, then a good one: the step is ok (%s)",
       E.detail);
    json_t *a = get_json(T.el_port, "/activity");
    is_int(json_array_size(a), 2, "two triggers were sent");
    double gap = json_real_value(json_object_get(json_array_get(a, 1), "at")) -
                 json_real_value(json_object_get(json_array_get(a, 0), "at"));
    ok(gap >= 0.1 + 0.15, "the retry came after the run failed and retry_interval (%.3fs)", gap);
    ok(strcmp(str_at(json_array_get(a, 0), "body", NULL),
              str_at(json_array_get(a, 1), "body", NULL)) == 0,
       "the retry is the same trigger again (only the trigger)");
    json_decref(a);
}

static void test_always_fail(void)
{
    scene("{\"outcomes\": [\"fail\"]}", NULL);
    run_deploy("30s");
    ok(E.done && E.res == SW_RESULT_FAILED, "runs that always fail: the step fails");
    ok(strstr(E.detail, "3 attempt(s)") && strstr(E.detail, "no retry left") &&
           strstr(E.detail, "Failed") && strstr(E.detail, "Tasks Completed"),
       "naming the attempts and the last reason: %s", E.detail);
    json_t *a = get_json(T.el_port, "/activity");
    is_int(json_array_size(a), 3, "three triggers were sent (1 + retries 2)");
    json_decref(a);
}

static void test_tekton_timeout(void)
{
    scene("{\"outcomes\": [\"timeout\", \"success\"]}", NULL);
    run_deploy("30s");
    json_t *a = get_json(T.el_port, "/activity");
    ok(E.done && E.res == SW_RESULT_OK && json_array_size(a) == 2,
       "Tekton's own PipelineRunTimeout is a failure that is retried (%zu triggers)",
       json_array_size(a));
    json_decref(a);
}

/* The cancel PATCHes sent for the runs the listener made, in version ver. */
static void check_cancels(json_t *a, size_t want, const char *ver)
{
    size_t good = 0;
    for (size_t i = 0; i < want && i < json_array_size(a); i++) {
        char *path = xasprintf("/apis/tekton.dev/%s/namespaces/" NS "/pipelineruns/%s", ver,
                               str_at(json_array_get(a, i), "run", NULL));
        json_t *last = NULL;
        if (k8s_seen("PATCH", path, &last) == 1 &&
            strcmp(str_at(last, "body", NULL), "{\"spec\":{\"status\":\"CancelledRunFinally\"}}") ==
                0 &&
            strcmp(str_at(last, "headers", "Content-Type"), "application/merge-patch+json") == 0)
            good++;
        json_decref(last);
        free(path);
    }
    is_int(good, want, "each hung run got one merge-patch spec.status=CancelledRunFinally (%s)",
           ver);
    is_int(k8s_seen("PATCH", "", NULL), want, "and nothing else was patched");
}

static void test_hang(void)
{
    scene("{\"outcomes\": [\"hang\", \"success\"]}", NULL);
    run_deploy("30s");
    ok(E.done && E.res == SW_RESULT_OK, "a hung run, then a good one: the step is ok (%s)",
       E.detail);
    json_t *a = get_json(T.el_port, "/activity");
    is_int(json_array_size(a), 2, "the hung attempt was retried");
    check_cancels(a, 1, "v1");
    json_decref(a);

    scene("{\"outcomes\": [\"hang\"]}", NULL);
    run_deploy("30s");
    ok(E.done && E.res == SW_RESULT_FAILED && strstr(E.detail, "3 attempt(s)") &&
           strstr(E.detail, "still Running") && strstr(E.detail, "cancelled"),
       "runs that always hang: three attempts, then the step fails: %s", E.detail);
    a = get_json(T.el_port, "/activity");
    check_cancels(a, 3, "v1");
    json_decref(a);
}

static void test_v1beta1(void)
{
    scene("{\"outcomes\": [\"hang\", \"success\"]}", "{\"tekton_versions\": [\"v1beta1\"]}");
    run_deploy("30s");
    ok(E.done && E.res == SW_RESULT_OK, "Tekton serving only v1beta1: the step is ok (%s)",
       E.detail);
    is_int(k8s_seen("GET", "/apis/tekton.dev/v1/", NULL), 1,
           "v1 was asked once (404), then the runs were listed in v1beta1");
    json_t *a = get_json(T.el_port, "/activity");
    check_cancels(a, 1, "v1beta1");
    json_decref(a);
}

static void test_api_refusals(void)
{
    scene(NULL, "{\"forbidden\": [[\"list\", \"pipelineruns\"]]}");
    run_deploy("30s");
    ok(E.done && E.res == SW_RESULT_FAILED && strstr(E.detail, "Forbidden") &&
           strstr(E.detail, "cannot list"),
       "a Role without pipelineruns list: the step fails at once, saying so: %s", E.detail);

    scene("{\"outcomes\": [\"hang\", \"success\"]}",
          "{\"forbidden\": [[\"patch\", \"pipelineruns\"]]}");
    run_deploy("30s");
    json_t *a = get_json(T.el_port, "/activity");
    ok(E.done && E.res == SW_RESULT_OK && json_array_size(a) == 2,
       "a cancel the API refuses still ends the hung attempt, which is retried (%zu triggers)",
       json_array_size(a));
    json_decref(a);
}

static void test_wrong_secret(void)
{
    scene(NULL, NULL);
    char *good = T.tk.hmac_secret_file;
    T.tk.hmac_secret_file = T.wrong;
    run_deploy("30s");
    ok(E.done && E.res == SW_RESULT_FAILED && strstr(E.detail, "HTTP 401") &&
           strstr(E.detail, "hmac_secret_file"),
       "a wrong secret: 401, and the step fails at once: %s", E.detail);
    json_t *a = get_json(T.el_port, "/activity");
    is_int(json_array_size(a), 1, "after one trigger");
    ok(k8s_seen("GET", "pipelineruns", NULL) == 0, "and no run was looked for");
    json_decref(a);

    /* A real EventListener answers 202 and its interceptor drops the event. */
    scene("{\"bad_signature\": \"drop\"}", NULL);
    run_deploy("30s");
    ok(E.done && E.res == SW_RESULT_FAILED && strstr(E.detail, "no PipelineRun carried event"),
       "a listener that drops the event: each attempt times out, then the step fails: %s",
       E.detail);
    a = get_json(T.el_port, "/activity");
    ok(json_array_size(a) == 3 && k8s_seen("PATCH", "", NULL) == 0,
       "three triggers, nothing to cancel (%zu)", json_array_size(a));
    json_decref(a);
    T.tk.hmac_secret_file = good;
}

static void test_old_mock_and_settings(void)
{
    scene("{\"old_mock\": true}", NULL);
    run_deploy("30s");
    ok(E.done && E.res == SW_RESULT_OK, "the old mock's 200 {\"eventID\":...}: ok (%s)", E.detail);

    T.cfg.tekton = NULL;
    run_deploy("30s");
    ok(E.done && E.res == SW_RESULT_FAILED && strstr(E.detail, "not configured"),
       "no tekton table: the step fails: %s", E.detail);
    T.cfg.tekton = &T.tk;
    char *secret = T.tk.hmac_secret_file;
    T.tk.hmac_secret_file = NULL;
    run_deploy("30s");
    ok(E.done && E.res == SW_RESULT_FAILED && strstr(E.detail, "not configured") &&
           strstr(E.detail, "hmac_secret_file"),
       "no secret: the step fails: %s", E.detail);
    T.tk.hmac_secret_file = "/nonexistent/secret";
    run_deploy("30s");
    ok(E.done && E.res == SW_RESULT_FAILED && strstr(E.detail, "/nonexistent/secret"),
       "an unreadable secret: the step fails: %s", E.detail);
    T.tk.hmac_secret_file = secret;
}

static void test_deadline(void)
{
    scene("{\"outcomes\": [\"hang\"]}", NULL);
    run_deploy("400ms");
    ok(E.done && E.res == SW_RESULT_FAILED && strstr(E.detail, "timed out"),
       "a step cut by its deadline mid-attempt fails: %s", E.detail);
    scene("{\"outcomes\": [\"success\"]}", NULL);
    run_deploy("30s");
    ok(E.done && E.res == SW_RESULT_OK, "and the next deploy step starts afresh (%s)", E.detail);
}

/* Sends the old agent's trigger by hand, as drwatch's step did before it was killed; fills the
 * event id the listener answered. */
static void trigger_by_hand(char id[TEKTON_EVENT_ID_MAX])
{
    char *cmd =
        xasprintf("curl -s -X POST -H 'Content-Type: application/json' -H 'X-GitHub-Event: push' "
                  "-H 'X-Hub-Signature: sha1=e958d99e142308fae025acbccbc14f6e6a8a22f4' "
                  "-H 'X-Hub-Signature-256: "
                  "sha256=9428aa1492749b684cbe978eb10f794530401f5c09621078f574d895faa091a2' "
                  "--data-binary '%s' http://127.0.0.1:%d/",
                  reference_body, T.el_port);
    FILE *f = popen(cmd, "r");
    free(cmd);
    char reply[512] = "";
    size_t n = f ? fread(reply, 1, sizeof(reply) - 1, f) : 0;
    reply[n] = '\0';
    if (f) pclose(f);
    json_t *j = json_loads(reply, 0, NULL);
    snprintf(id, TEKTON_EVENT_ID_MAX, "%s", str_at(j, "eventID", NULL));
    json_decref(j);
}

/* A run killed during its tekton_deploy step: the journal holds its start, the step's begin and
 * (when mark is not NULL) the step's mark; a new executor resumes it, to its end. */
static void resume_deploy(const char *mark)
{
    char err[256], journal[128];
    act_env_clear(&T.env);
    if (act_env_init(&T.env, &T.cfg, T.l, T.h, SW_GOLDDR, err, sizeof(err)) < 0)
        diag("act_env_init: %s", err);
    snprintf(journal, sizeof(journal), "%s/%s", T.dir, SW_JOURNAL_FILE);
    unlink(journal);
    memset(&E, 0, sizeof(E));
    struct sw_plans *p = plans("step { \"tekton_deploy\", timeout = \"30s\" }");
    const struct sw_plan *pl = p ? one_plan_get(p) : NULL;
    struct sw_run_start s = {.site = SW_GOLDDR,
                             .from = SW_ACTIVE_PASSIVE,
                             .to = SW_GOLDDR_PRIMARY,
                             .plan_hash = pl ? sw_plan_hash(pl) : 0,
                             .nsteps = 1,
                             .at = time_wall_s()};
    snprintf(s.id, sizeof(s.id), "run-tekton-killed");
    struct sw_replayed rp;
    struct sw_run_journal *j = sw_journal_open(T.dir, &rp, err, sizeof(err));
    if (!j || sw_journal_start(j, &s, err, sizeof(err)) < 0 ||
        sw_journal_begin(j, s.id, 0, 0, "tekton_deploy", s.at, err, sizeof(err)) < 0 ||
        (mark && sw_journal_mark(j, s.id, 0, 0, mark, s.at, err, sizeof(err)) < 0))
        diag("journal: %s", err);
    sw_journal_free(j);
    struct sw_executor *x = executor_new(err, sizeof(err));
    if (!x || !pl || sw_exec_resume(x, p, err, sizeof(err)) != 0)
        diag("cannot resume: %s", err);
    else if (!E.done)
        loop_run(T.l);
    sw_exec_free(x);
    sw_plans_free(p);
}

/* Regression (issue 13): a kill -9 right after the trigger made a second deploy run at resume. */
static void test_resume_after_kill(void)
{
    char id[TEKTON_EVENT_ID_MAX], mark[SW_MARK_MAX];
    scene("{\"outcomes\": [\"success\"]}", NULL);
    trigger_by_hand(id);
    struct tekton_mark m = {.attempts = 1, .first_at = time_wall_s(), .sent_at = time_wall_s()};
    snprintf(m.event_id, sizeof(m.event_id), "%s", id);
    tekton_mark_write(&m, mark, sizeof(mark));
    resume_deploy(mark);
    json_t *a = get_json(T.el_port, "/activity");
    ok(E.done && E.res == SW_RESULT_OK && json_array_size(a) == 1,
       "killed after the answer was journaled: no second trigger, the step follows event %s to "
       "its end (%zu trigger(s); %s)",
       id, json_array_size(a), E.detail);
    json_decref(a);

    scene("{\"outcomes\": [\"success\"]}", NULL);
    m = (struct tekton_mark){.sent_at = time_wall_s()};
    tekton_mark_write(&m, mark, sizeof(mark));
    trigger_by_hand(id);
    resume_deploy(mark);
    a = get_json(T.el_port, "/activity");
    char *sel = xasprintf("labelSelector=triggers.tekton.dev%%2Ftriggers-eventid%%3D%s", id);
    ok(E.done && E.res == SW_RESULT_OK && json_array_size(a) == 1 && k8s_seen("GET", sel, NULL),
       "killed between the POST and its journaled answer: no second trigger, the run created "
       "since is adopted and followed by its event id (%zu trigger(s); %s)",
       json_array_size(a), E.detail);
    free(sel);
    json_decref(a);

    scene("{\"outcomes\": [\"success\"]}", NULL);
    resume_deploy(mark);
    a = get_json(T.el_port, "/activity");
    ok(E.done && E.res == SW_RESULT_OK && json_array_size(a) == 1,
       "killed before the trigger reached the listener: no run shows within the grace "
       "(attempt_timeout, shorter here), then one trigger, and the step is ok (%zu trigger(s); %s)",
       json_array_size(a), E.detail);
    json_decref(a);

    scene("{\"outcomes\": [\"success\"]}", NULL);
    resume_deploy(NULL);
    a = get_json(T.el_port, "/activity");
    ok(E.done && E.res == SW_RESULT_OK && json_array_size(a) == 1,
       "killed before the trigger's mark: the step triggers once (%zu trigger(s))",
       json_array_size(a));
    json_decref(a);
}

/* The retry settings of the tekton table: the old agent's defaults, durations, limits. */
static void test_settings(void)
{
    const struct cfg_module *mods[] = {&switchover_module};
    char err[512];
    const char *base = "switchover = { data_dir = \"/tmp\", tekton = { site = \"golddr\", url = "
                       "\"http://el:8080\", "
                       "repo = \"" REPO "\", ref = \"" REF "\"%s } }\n";
    char src[512];
    snprintf(src, sizeof(src), base, "");
    struct config *c = config_load_buffer(src, strlen(src), "t.lua", mods, 1, err, sizeof(err));
    const struct switchover_config *sc = c ? config_module(c, "switchover", NULL) : NULL;
    const struct act_tekton *tk = sc ? sc->act.tekton : NULL;
    ok(tk && tk->retries == 2 && tk->retry_interval_ms == 30000 && tk->total_cap_ms == 900000 &&
           tk->attempt_timeout_ms == 360000,
       "defaults: retries 2, retry_interval 30s, total_cap 900s, attempt_timeout 360s %s",
       c ? "" : err);
    config_free(c);
    snprintf(src, sizeof(src), base,
             ", retries = 0, retry_interval = \"0s\", total_cap = \"2m\", "
             "attempt_timeout = \"250ms\"");
    c = config_load_buffer(src, strlen(src), "t.lua", mods, 1, err, sizeof(err));
    sc = c ? config_module(c, "switchover", NULL) : NULL;
    tk = sc ? sc->act.tekton : NULL;
    ok(tk && tk->retries == 0 && tk->retry_interval_ms == 0 && tk->total_cap_ms == 120000 &&
           tk->attempt_timeout_ms == 250,
       "set: retries 0, retry_interval 0s, total_cap 2m, attempt_timeout 250ms %s", c ? "" : err);
    config_free(c);
    snprintf(src, sizeof(src), base, ", retries = 11");
    c = config_load_buffer(src, strlen(src), "t.lua", mods, 1, err, sizeof(err));
    ok(!c && strstr(err, "t.lua:1") && strstr(err, "retries"), "retries 11 is refused: %s", err);
    config_free(c);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) fputs(text, f), fclose(f);
}

static int setup(void)
{
    snprintf(T.dir, sizeof(T.dir), "/tmp/drwatch-test-act-tekton-XXXXXX");
    if (!mkdtemp(T.dir)) return -1;
    snprintf(T.secret, sizeof(T.secret), "%s/secret", T.dir);
    snprintf(T.wrong, sizeof(T.wrong), "%s/wrong", T.dir);
    write_file(T.secret, "test-secret\n");
    write_file(T.wrong, "not-the-secret");
    T.k8s_port = fake_free_port();
    snprintf(T.k8s_url, sizeof(T.k8s_url), "http://127.0.0.1:%d", T.k8s_port);
    char *k8s_args[] = {NULL};
    if ((T.k8s_pid = fake_start_args("k8s_fake.py", T.k8s_port, k8s_args)) < 0) return -1;
    do T.el_port = fake_free_port();
    while (T.el_port == T.k8s_port);
    snprintf(T.el_url, sizeof(T.el_url), "http://127.0.0.1:%d/", T.el_port);
    char *el_args[] = {"--k8s", T.k8s_url,     "--secret", "test-secret", "--namespace",
                       NS,      "--finish-ms", "150",      NULL};
    T.el_pid = fake_start_args("tekton_listener_fake.py", T.el_port, el_args);
    if (T.el_pid < 0) return -1;
    T.k8s = (struct act_k8s){
        .t = {.http = {.site = SW_GOLDDR, .url = T.k8s_url, .timeout_ms = 5000}, .namespace = NS}};
    T.tk = (struct act_tekton){.http = {.site = SW_GOLDDR, .url = T.el_url, .timeout_ms = 5000},
                               .hmac_secret_file = T.secret,
                               .repo = REPO,
                               .ref = REF,
                               .retries = 2,
                               .retry_interval_ms = 100,
                               .total_cap_ms = 15000,
                               .attempt_timeout_ms = 1000};
    T.cfg = (struct act_config){.env = "dev", .kubernetes = &T.k8s, .tekton = &T.tk};
    T.cfg.namespaces.tekton = NS;
    T.l = loop_new();
    T.h = httpc_new(T.l);
    char err[256];
    if (act_env_init(&T.env, &T.cfg, T.l, T.h, SW_GOLDDR, err, sizeof(err)) < 0) {
        diag("%s", err);
        return -1;
    }
    return 0;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (setup() < 0) {
        ok(0, "the fakes and the actuators' environment start");
        fake_stop(T.k8s_pid);
        fake_stop(T.el_pid);
        return done_testing();
    }
    test_settings();
    size_t found = 0;
    for (size_t i = 0; i < actuator_table_len; i++)
        found += strcmp(actuator_table[i]->action, "tekton_deploy") == 0;
    is_int(found, 1, "tekton_deploy has one line in the actuator table");
    test_success();
    test_fail_then_succeed();
    test_always_fail();
    test_tekton_timeout();
    test_hang();
    test_v1beta1();
    test_api_refusals();
    test_wrong_secret();
    test_old_mock_and_settings();
    test_deadline();
    test_resume_after_kill();
    act_env_clear(&T.env);
    httpc_free(T.h);
    loop_free(T.l);
    fake_stop(T.k8s_pid);
    fake_stop(T.el_pid);
    unlink(T.secret);
    unlink(T.wrong);
    char journal[128];
    snprintf(journal, sizeof(journal), "%s/%s", T.dir, SW_JOURNAL_FILE);
    unlink(journal);
    rmdir(T.dir);
    curl_global_cleanup();
    return done_testing();
}
