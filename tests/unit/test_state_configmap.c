/* test_state_configmap.c: the pure part of switchover/state_configmap.h: reading the
 * ConfigMap (a GET's body, a list's item, a watch event's object), what its data asks for
 * (the old agent's rule: a non-empty transition that differs from last_stable_state; never
 * the same request twice, never an answer forgotten), the merge-patch bodies drwatch writes,
 * the answer and progress texts, and whether the report of the last run is missing after a
 * restart. The unit's I/O is tests/integration/switchover_configmap.t (and switchover_kill.t
 * for the report written again). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_configmap.h"
#include "tap.h"

static json_t *cm(const char *rv, const char *transition, const char *label)
{
    json_t *o = json_pack("{s:s, s:{s:s, s:s}}", "kind", "ConfigMap", "metadata", "name",
                          "switchover-state-dev", "resourceVersion", rv);
    if (transition || label) {
        json_t *d = json_object();
        if (transition) json_object_set_new(d, "transition", json_string(transition));
        if (label) json_object_set_new(d, "last_stable_state", json_string(label));
        json_object_set_new(o, "data", d);
    }
    return o;
}

static struct sw_cm_view view(const char *rv, const char *transition, const char *label)
{
    struct sw_cm_view v;
    char err[200];
    json_t *o = cm(rv, transition, label);
    if (sw_cm_view_read(o, &v, err, sizeof(err)) < 0) diag("view: %s", err);
    json_decref(o);
    return v;
}

static void test_view(void)
{
    struct sw_cm_view v = view("42", "golddr-primary", "active-passive");
    ok(v.exists && v.has_data && strcmp(v.rv, "42") == 0 &&
           strcmp(v.transition, "golddr-primary") == 0 && strcmp(v.label, "active-passive") == 0,
       "a ConfigMap: its version, transition and label");
    v = view("43", NULL, NULL);
    ok(v.exists && !v.has_data && !v.transition[0] && !v.label[0],
       "one without data (the bootstrap case): exists, no data, empty label");
    char err[200];
    json_t *o = cm("44", "x", NULL);
    json_object_del(o, "kind"); /* a list's item */
    json_object_set_new(o, "data", json_pack("{s:i}", "transition", 5));
    ok(sw_cm_view_read(o, &v, err, sizeof(err)) == 0 && v.exists && v.has_data && !v.transition[0],
       "a list item without kind; a transition that is not a string reads as none");
    json_object_set_new(o, "kind", json_string("Secret"));
    ok(sw_cm_view_read(o, &v, err, sizeof(err)) < 0 && !v.exists, "not a ConfigMap: %s", err);
    json_decref(o);
    o = json_pack("{s:{s:i}}", "metadata", "resourceVersion", 7);
    ok(sw_cm_view_read(o, &v, err, sizeof(err)) < 0, "a resourceVersion that is no string: %s",
       err);
    json_decref(o);
    char big[600];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    v = view("45", big, NULL);
    ok(strlen(v.transition) == SW_CM_VALUE_MAX - 1, "a long value is cut at %d bytes",
       SW_CM_VALUE_MAX - 1);
}

static const char *ask_name(enum sw_cm_ask a)
{
    static const char *const n[] = {"idle", "seen", "answering", "same", "new"};
    return n[a];
}

static void is_ask(enum sw_cm_ask got, enum sw_cm_ask want, const char *what)
{
    is_str(ask_name(got), ask_name(want), "%s", what);
}

static void test_decide(void)
{
    struct sw_cm_memory m = {0};
    struct sw_cm_view missing = {0};
    is_ask(sw_cm_decide(&missing, &m), SW_CM_IDLE, "no ConfigMap: idle");
    struct sw_cm_view v = view("10", "", "active-passive");
    is_ask(sw_cm_decide(&v, &m), SW_CM_IDLE, "transition empty: idle");
    v = view("11", NULL, NULL);
    is_ask(sw_cm_decide(&v, &m), SW_CM_IDLE, "no data: idle (bootstrap)");
    v = view("12", "golddr-primary", "active-passive");
    is_ask(sw_cm_decide(&v, &m), SW_CM_NEW, "transition differs from the label: a request");
    v = view("12", "active-passive", "active-passive");
    is_ask(sw_cm_decide(&v, &m), SW_CM_SAME, "transition equals the label: nothing to do (§1.1)");
    v = view("12", "independent", "");
    is_ask(sw_cm_decide(&v, &m), SW_CM_NEW,
           "\"independent\" with an empty label: a request (refused later as no transition)");
    v = view("12", "bogus", "active-passive");
    is_ask(sw_cm_decide(&v, &m), SW_CM_NEW, "a value that is no transition: a request, refused");

    v = view("20", "golddr-primary", "active-passive");
    sw_cm_remember(&m, "20", "golddr-primary");
    is_ask(sw_cm_decide(&v, &m), SW_CM_ANSWERING, "handled, its answer not written: not again");
    v = view("21", "golddr-primary", "active-passive");
    is_ask(sw_cm_decide(&v, &m), SW_CM_ANSWERING,
           "a newer version still asking the same while the answer is not written (a 409 "
           "re-read): not again");
    v = view("21", "gold-standby", "active-passive");
    is_ask(sw_cm_decide(&v, &m), SW_CM_NEW, "a different request meanwhile: a new one");
    m.answering = false; /* the answer is written */
    v = view("20", "golddr-primary", "active-passive");
    is_ask(sw_cm_decide(&v, &m), SW_CM_SEEN,
           "a late event of the version handled (a watch behind a poll): not again");
    v = view("22", "golddr-primary", "active-passive");
    is_ask(sw_cm_decide(&v, &m), SW_CM_NEW,
           "after the answer cleared it, the same value written again: a new request");
    for (int i = 0; i < SW_CM_RING; i++) {
        char rv[16];
        snprintf(rv, sizeof(rv), "%d", 100 + i);
        sw_cm_remember(&m, rv, "golddr-primary");
    }
    m.answering = false;
    v = view("20", "golddr-primary", "active-passive");
    is_ask(sw_cm_decide(&v, &m), SW_CM_NEW, "the ring remembers the last 16 only");
}

static void test_bodies(void)
{
    struct sw_cm_patch p = {0};
    ok(sw_cm_patch_body(&p, "5") == NULL, "nothing to write: no body");
    p = (struct sw_cm_patch){.answer = true, .answered_at = 1718012477.9};
    snprintf(p.request, sizeof(p.request), "golddr-primary");
    snprintf(p.answer_text, sizeof(p.answer_text),
             "refused: independent cannot go to golddr-primary");
    char *b = sw_cm_patch_body(&p, "98812991");
    is_str(
        b,
        "{\"data\":{\"drwatch_answer\":\"refused: independent cannot go to golddr-primary\","
        "\"drwatch_answered_at\":\"2024-06-10T09:41:17Z\",\"drwatch_request\":\"golddr-primary\","
        "\"transition\":\"\"},\"metadata\":{\"resourceVersion\":\"98812991\"}}",
        "an answer: transition cleared, request, answer, RFC 3339 time, with the version seen");
    free(b);
    p = (struct sw_cm_patch){.progress = true};
    snprintf(p.progress_text, sizeof(p.progress_text), "step 3/6 health_api: running");
    b = sw_cm_patch_body(&p, "7");
    is_str(b,
           "{\"data\":{\"drwatch_progress\":\"step 3/6 health_api: running\"},"
           "\"metadata\":{\"resourceVersion\":\"7\"}}",
           "progress alone: transition untouched (a request written meanwhile stays)");
    free(b);
    struct sw_cm_patch done = {
        .progress = true, .stable = true, .state = SW_GOLDDR_PRIMARY, .stable_at = 1718012477};
    snprintf(done.progress_text, sizeof(done.progress_text), "done");
    sw_cm_patch_merge(&p, &done);
    b = sw_cm_patch_body(&p, "8");
    is_str(b,
           "{\"data\":{\"drwatch_progress\":\"done\",\"last_stable_state\":\"golddr-primary\","
           "\"last_stable_state_ts\":\"2024-06-10T09:41:17Z\"},\"metadata\":{\"resourceVersion\":"
           "\"8\"}}",
           "a completed plan: the label and its timestamp in the old format; a merge keeps the "
           "newer progress");
    free(b);
    struct sw_cm_patch answer = {.answer = true};
    snprintf(answer.request, sizeof(answer.request), "\"q\"\n");
    snprintf(answer.answer_text, sizeof(answer.answer_text), "x");
    sw_cm_patch_merge(&p, &answer);
    b = sw_cm_patch_body(&p, "9");
    ok(b && strstr(b, "\"drwatch_request\":\"\\\"q\\\"\\n\"") && strstr(b, "\"transition\":\"\"") &&
           strstr(b, "\"last_stable_state\":\"golddr-primary\""),
       "a merge keeps every group; what a person wrote is escaped: %s", b);
    free(b);
    struct sw_cm_patch later = {.reanswer = true, .answered_at = 1718012477};
    snprintf(later.answer_text, sizeof(later.answer_text), "refused: the peer answered no");
    b = sw_cm_patch_body(&later, "10");
    is_str(b,
           "{\"data\":{\"drwatch_answer\":\"refused: the peer answered no\","
           "\"drwatch_answered_at\":\"2024-06-10T09:41:17Z\"},\"metadata\":{\"resourceVersion\":"
           "\"10\"}}",
           "a pending request's outcome: the answer and its time only (transition untouched)");
    free(b);
    struct sw_cm_patch first = {.answer = true};
    snprintf(first.request, sizeof(first.request), "gold-standby");
    snprintf(first.answer_text, sizeof(first.answer_text), "pending: request x: awaiting");
    sw_cm_patch_merge(&first, &later);
    ok(first.answer && !first.reanswer &&
           strcmp(first.answer_text, "refused: the peer answered no") == 0,
       "an outcome merged into an answer not yet written replaces its text");
    char t[32];
    sw_cm_time_text(0, t, sizeof(t));
    is_str(t, "1970-01-01T00:00:00Z", "the old agent's timestamp format");
}

static void test_texts(void)
{
    char out[SW_CM_TEXT_MAX];
    struct sw_cm_answer a = {.verdict = SW_CM_ACCEPTED, .run_id = "golddr-1-ab12"};
    snprintf(a.reason, sizeof(a.reason), "active-passive -> golddr-primary");
    sw_cm_answer_text(&a, out, sizeof(out));
    is_str(out, "accepted: run golddr-1-ab12: active-passive -> golddr-primary", "accepted");
    a.verdict = SW_CM_REFUSED;
    snprintf(a.reason, sizeof(a.reason), "a plan is running; one plan at a time");
    sw_cm_answer_text(&a, out, sizeof(out));
    is_str(out, "refused: a plan is running; one plan at a time", "refused, with the reason");
    a.verdict = SW_CM_NOTHING;
    snprintf(a.reason, sizeof(a.reason), "already golddr-primary");
    sw_cm_answer_text(&a, out, sizeof(out));
    is_str(out, "nothing to do: already golddr-primary", "nothing to do");
    a.verdict = SW_CM_PENDING;
    snprintf(a.run_id, sizeof(a.run_id), "gold-2-cd34");
    snprintf(a.reason, sizeof(a.reason),
             "awaiting the peer's confirmation that it is golddr-primary");
    sw_cm_answer_text(&a, out, sizeof(out));
    is_str(
        out,
        "pending: request gold-2-cd34: awaiting the peer's confirmation that it is golddr-primary",
        "pending, with the request's id");

    struct sw_run_start run = {
        .id = "golddr-1-ab12", .from = SW_ACTIVE_PASSIVE, .to = SW_GOLDDR_PRIMARY, .nsteps = 3};
    struct sw_run_record rec = {.start = run, .nsteps = 3};
    const char *actions[] = {"tfvars", "patroni_demote", "health_api"};
    for (int i = 0; i < 3; i++) snprintf(rec.steps[i].action, 32, "%s", actions[i]);
    sw_cm_progress_text(&run, &rec, 2, 0, out, sizeof(out));
    is_str(out, "step 3/3 health_api: running", "a step going on");
    sw_cm_progress_text(&run, &rec, 1, 1, out, sizeof(out));
    is_str(out, "step 2/3 patroni_demote (fallback 1): running", "a fallback going on");
    sw_cm_progress_text(&run, NULL, 0, 0, out, sizeof(out));
    is_str(out, "step 1/3 ?: running", "without a record");

    sw_cm_finished_text(&run, &rec, SW_RESULT_OK, "", out, sizeof(out));
    is_str(out, "done: active-passive -> golddr-primary (run golddr-1-ab12)", "done");
    rec.steps[0].begun = rec.steps[0].ended = true;
    rec.steps[1].begun = rec.steps[1].ended = true;
    rec.steps[1].result = SW_RESULT_FAILED;
    snprintf(rec.steps[1].detail, sizeof(rec.steps[1].detail),
             "patroni_demote: not configured: the switchover section has no patroni");
    sw_cm_finished_text(&run, &rec, SW_RESULT_FAILED, "step patroni_demote: ...", out, sizeof(out));
    is_str(out,
           "failed at step 2/3 patroni_demote: not configured: the switchover section has no "
           "patroni; last_stable_state unchanged",
           "failed: the step, its place, why (the actuator's own name not said twice)");
    sw_cm_finished_text(&run, &rec, SW_RESULT_STOPPED, "not resumed after a restart", out,
                        sizeof(out));
    is_str(out, "stopped: not resumed after a restart; last_stable_state unchanged", "stopped");
    sw_cm_finished_text(&run, NULL, SW_RESULT_FAILED, "step x: y", out, sizeof(out));
    is_str(out, "failed: step x: y; last_stable_state unchanged", "failed, without a record");
}

/* Regression: a kill between a run's finish record and the PATCH of its report left the
 * ConfigMap saying "step 5/6 tekton_deploy: running" and the old last_stable_state for good,
 * though drwatch's state (its journal's) had moved on (switchover_kill.t). */
static void test_report_missing(void)
{
    json_t *o = cm("50", "", "active-passive");
    json_object_set_new(json_object_get(o, "data"), "drwatch_progress",
                        json_string("step 5/6 tekton_deploy: running"));
    struct sw_cm_view v;
    char err[200];
    ok(sw_cm_view_read(o, &v, err, sizeof(err)) == 0 &&
           strcmp(v.progress, "step 5/6 tekton_deploy: running") == 0,
       "the view reads drwatch_progress");
    json_decref(o);
    const char *done = "done: active-passive -> golddr-primary (run golddr-1-ab12)";
    ok(sw_cm_report_missing(&v, done, true),
       "it says a step is running, the run finished ok: missing");
    ok(sw_cm_report_missing(&v, "failed: step x: y; last_stable_state unchanged", false),
       "it says a step is running, the run failed: missing");
    snprintf(v.progress, sizeof(v.progress), "%s", done);
    ok(!sw_cm_report_missing(&v, done, true), "it holds the run's done: there");
    snprintf(v.progress, sizeof(v.progress), "done: independent -> active-passive (run g-0-aa)");
    ok(sw_cm_report_missing(&v, done, true), "it holds an older run's done: missing");
    ok(!sw_cm_report_missing(&v, "stopped: x; last_stable_state unchanged", false),
       "a run that did not end ok, and no step said running: left alone");
    v.progress[0] = '\0';
    ok(sw_cm_report_missing(&v, done, true), "no progress at all, the run finished ok: missing");
    v.has_data = false;
    ok(!sw_cm_report_missing(&v, done, true), "a ConfigMap without data: left alone");
    v.exists = false;
    ok(!sw_cm_report_missing(&v, done, true), "no ConfigMap: nothing to write to");
}

int main(void)
{
    test_view();
    test_decide();
    test_bodies();
    test_texts();
    test_report_missing();
    ok(sw_cm_rbac[0] && strcmp(sw_cm_rbac[0], "\"\" configmaps get") == 0 && sw_cm_rbac[3] &&
           strcmp(sw_cm_rbac[3], "\"\" configmaps patch") == 0 && !sw_cm_rbac[4],
       "rbac: \"\" configmaps get, list, watch, patch");
    return done_testing();
}
