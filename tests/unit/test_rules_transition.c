/* test_rules_transition.c: transition rules in the engine (rules/transition_rules.c). A rule
 * whose `when` is true makes the evaluation's request with its target, name, reason and
 * evidence; the first in file order (and file load order) wins and the others are counted as
 * suppressed; a `when` that errors, returns a number, loops or allocates without end is counted
 * and logged as a failure, makes no request and leaves the next rules and the file's alerts
 * evaluating; a reason function is given facts(); a spec that is wrong refuses the file with
 * file:line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules.h"
#include "tap.h"

static char dir[] = "/tmp/drwatch-test-transition-XXXXXX";

static void write_file(const char *name, const char *src)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(src, f) < 0 || fclose(f) != 0) abort();
}

/* An engine of the given rule files (written first), with a 200 ms budget per file; NULL
 * with err filled when a file is refused. */
static struct rules_engine *engine(const char *const *names, const char *const *srcs, size_t n,
                                   char *err, size_t errlen)
{
    char *files[4];
    for (size_t i = 0; i < n; i++) {
        write_file(names[i], srcs[i]);
        files[i] = (char *)names[i];
    }
    struct rules_config rc = {.timeout_ms = 200,
                              .memory_limit = 4 << 20,
                              .max_history_points = 10000,
                              .files = {.v = files, .n = n}};
    return rules_new(&rc, dir, err, errlen);
}

static struct rules_engine *one(const char *src)
{
    char err[512];
    const char *name = "t.lua";
    struct rules_engine *e = engine(&name, &src, 1, err, sizeof(err));
    if (!e) diag("%s", err);
    return e;
}

/* A snapshot holding x=vx, y=vy and a GSLB answer class for resolver "system". */
static struct snapshot *world(double vx, double vy)
{
    struct metric_set *m = mset_new();
    struct metric_family *fx = mset_family(m, "x", METRIC_GAUGE, "");
    struct metric_family *fy = mset_family(m, "y", METRIC_GAUGE, "");
    struct metric_family *fg = mset_family(m, "drwatch_gslb_answer_class", METRIC_GAUGE, "");
    mset_addv(m, fx, vx, (const char *)NULL);
    mset_addv(m, fy, vy, (const char *)NULL);
    mset_addv(m, fg, 1, "resolver", "system", "class", "golddr", (const char *)NULL);
    struct snapshot *s = snapshot_new(&m, 1, 1);
    mset_unref(m);
    return s;
}

static void eval(struct rules_engine *e, double t, double vx, double vy)
{
    struct snapshot *s = world(vx, vy);
    rules_eval(e, t, s, s);
    snapshot_unref(s);
}

/* Whether the engine's metrics hold text (a whole sample line or part of one). */
static bool metric_has(struct rules_engine *e, const char *text)
{
    struct metric_set *ms = rules_metrics(e);
    struct snapshot *snap = snapshot_new(&ms, 1, 1);
    const char *body;
    size_t len;
    bool found = snapshot_render(snap, EXPO_TEXT, false, &body, &len) == 0 && strstr(body, text);
    if (!found) diag("no \"%s\" in:\n%s", text, body);
    snapshot_unref(snap);
    mset_unref(ms);
    return found;
}

static const char *to_of(struct rules_engine *e)
{
    struct rules_transition t;
    return rules_transition_request(e, &t) ? t.to : NULL;
}

static void test_request(void)
{
    struct rules_engine *e = one("transition('Failover', {\n"
                                 "  to = 'golddr-primary',\n"
                                 "  when = function() return value('x') == 1 end,\n"
                                 "  reason = 'x is 1',\n"
                                 "})\n"
                                 "transition('WhenNil', {\n"
                                 "  to = 'active-passive', when = function() end, reason = 'r',\n"
                                 "})\n");
    if (!ok(e != NULL, "a file with transition rules loads")) return;
    struct rules_transition t;
    ok(!rules_transition_request(e, &t), "before an evaluation: no request");
    eval(e, 100, 0, 0);
    ok(!rules_transition_request(e, &t), "when false (and nil): no request");
    eval(e, 105, 1, 0);
    ok(rules_transition_request(e, &t), "when true: a request");
    is_str(t.to, "golddr-primary", "its target");
    is_str(t.rule, "Failover", "its rule");
    is_str(t.reason, "x is 1", "its reason, a text");
    is_str(t.evidence, "", "no evidence function: empty evidence");
    ok(strstr(t.file, "/t.lua") != NULL, "and its file (%s)", t.file);
    ok(metric_has(e, "drwatch_rule_transition_requests_total{file=\""),
       "drwatch_rule_transition_requests_total is there");
    char want[256];
    snprintf(want, sizeof(want),
             "drwatch_rule_transition_requests_total{file=\"%s/t.lua\",rule=\"Failover\","
             "to=\"golddr-primary\"} 1",
             dir);
    ok(metric_has(e, want), "and counts the request");
    eval(e, 110, 0, 0);
    ok(!rules_transition_request(e, &t), "the next evaluation with when false: none again");
    rules_free(e);
}

static void test_first_wins(void)
{
    static const char *const names[] = {"a.lua", "b.lua"};
    static const char *const srcs[] = {"transition('A1', { to = 'golddr-primary', reason = 'a1',\n"
                                       "  when = function() return value('x') == 1 end })\n"
                                       "transition('A2', { to = 'gold-standby', reason = 'a2',\n"
                                       "  when = function() return value('y') == 1 end })\n",
                                       "transition('B1', { to = 'active-passive', reason = 'b1',\n"
                                       "  when = function() return true end })\n"};
    char err[512];
    struct rules_engine *e = engine(names, srcs, 2, err, sizeof(err));
    if (!ok(e != NULL, "two files with transition rules load")) {
        diag("%s", err);
        return;
    }
    eval(e, 100, 1, 1);
    is_str(to_of(e), "golddr-primary", "three rules true: the first in file order wins");
    eval(e, 105, 0, 1);
    is_str(to_of(e), "gold-standby", "the first one false: the second of the file");
    eval(e, 110, 0, 0);
    is_str(to_of(e), "active-passive", "none of the first file: the next file's");
    char want[256];
    snprintf(want, sizeof(want),
             "drwatch_rule_transition_suppressed_total{file=\"%s/b.lua\",rule=\"B1\","
             "to=\"active-passive\"} 2",
             dir);
    ok(metric_has(e, want), "the later file's rule, true each time, was suppressed twice");
    snprintf(want, sizeof(want),
             "drwatch_rule_transition_suppressed_total{file=\"%s/a.lua\",rule=\"A2\","
             "to=\"gold-standby\"} 1",
             dir);
    ok(metric_has(e, want), "the second rule was suppressed once, by the first");
    snprintf(want, sizeof(want),
             "drwatch_rule_transition_requests_total{file=\"%s/a.lua\",rule=\"A1\","
             "to=\"golddr-primary\"} 1",
             dir);
    ok(metric_has(e, want), "the first made one request");
    rules_free(e);
}

static void test_failures(void)
{
    struct rules_engine *e = one("alert('Still', { expr = function() return true end })\n"
                                 "transition('Errs', { to = 'golddr-primary', reason = 'r',\n"
                                 "  when = function() local t = nil; return t.x end })\n"
                                 "transition('Number', { to = 'golddr-primary', reason = 'r',\n"
                                 "  when = function() return value('x') end })\n"
                                 "transition('BadReason', { to = 'golddr-primary',\n"
                                 "  when = function() return true end,\n"
                                 "  reason = function() return 42 end })\n"
                                 "transition('BadEvidence', { to = 'golddr-primary',\n"
                                 "  when = function() return true end, reason = 'r',\n"
                                 "  evidence = function() return { x = {} } end })\n"
                                 "transition('Works', { to = 'active-passive', reason = 'ok',\n"
                                 "  when = function() return true end })\n");
    if (!ok(e != NULL, "a file with failing transition rules loads")) return;
    eval(e, 100, 1, 0);
    struct rules_transition t;
    ok(rules_transition_request(e, &t) && strcmp(t.rule, "Works") == 0,
       "the failing rules make no request; the next true one does (%s)",
       rules_transition_request(e, &t) ? t.rule : "none");
    char want[256];
    static const char *const failing[] = {"Errs", "Number", "BadReason", "BadEvidence"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(want, sizeof(want),
                 "drwatch_rule_transition_failures_total{file=\"%s/t.lua\",outcome=\"error\","
                 "rule=\"%s\"} 1",
                 dir, failing[i]);
        ok(metric_has(e, want), "%s is counted as an error", failing[i]);
    }
    snprintf(want, sizeof(want),
             "drwatch_rule_evaluations_total{file=\"%s/t.lua\",outcome=\"error\"} 1", dir);
    ok(metric_has(e, want), "the file's evaluation counts as error (the worst of its rules)");
    ok(metric_has(e, "drwatch_alert{alertname=\"Still\",alertstate=\"firing\"} 1"),
       "the file's alert still evaluates");
    rules_free(e);
}

static void test_reason_and_evidence(void)
{
    struct rules_engine *e = one("transition('WithFacts', {\n"
                                 "  to = 'golddr-primary',\n"
                                 "  when = function() return true end,\n"
                                 "  reason = function(facts)\n"
                                 "    return 'resolver system answers ' .. facts.gslb.system\n"
                                 "  end,\n"
                                 "  evidence = function()\n"
                                 "    return { x = value('x'), held = true, where = 'gold',\n"
                                 "             ratio = 0.25 }\n"
                                 "  end,\n"
                                 "})\n");
    if (!ok(e != NULL, "a transition with a reason and an evidence function loads")) return;
    eval(e, 100, 3, 0);
    struct rules_transition t;
    if (!ok(rules_transition_request(e, &t), "it asks")) return;
    is_str(t.reason, "resolver system answers golddr", "the reason function is given facts()");
    is_str(t.evidence, "held=true, ratio=0.25, where=gold, x=3",
           "the evidence: check=value, sorted by check");
    rules_free(e);
}

static void test_budget(void)
{
    static const char *const names[] = {"a.lua", "b.lua", "c.lua"};
    static const char *const srcs[] = {
        "transition('Loops', { to = 'golddr-primary', reason = 'r',\n"
        "  when = function() while true do end end })\n",
        "transition('Hog', { to = 'golddr-primary', reason = 'r',\n"
        "  when = function() local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(64) .. i end end "
        "})\n",
        "transition('After', { to = 'active-passive', reason = 'r',\n"
        "  when = function() return true end })\n"};
    char err[512];
    struct rules_engine *e = engine(names, srcs, 3, err, sizeof(err));
    if (!ok(e != NULL, "files with a looping and a hogging transition rule load")) {
        diag("%s", err);
        return;
    }
    eval(e, 100, 0, 0);
    is_str(to_of(e), "active-passive", "a looping and a hogging when: the other file's rule asks");
    char want[256];
    snprintf(want, sizeof(want),
             "drwatch_rule_transition_failures_total{file=\"%s/a.lua\",outcome=\"timeout\","
             "rule=\"Loops\"} 1",
             dir);
    ok(metric_has(e, want), "the loop is stopped at the file's budget: timeout");
    snprintf(want, sizeof(want),
             "drwatch_rule_transition_failures_total{file=\"%s/b.lua\",outcome=\"out_of_memory\","
             "rule=\"Hog\"} 1",
             dir);
    ok(metric_has(e, want), "the allocation at the heap cap: out_of_memory");
    rules_free(e);
}

static void refused(const char *src, const char *want, const char *what)
{
    char err[512] = "";
    const char *name = "bad.lua";
    struct rules_engine *e = engine(&name, &src, 1, err, sizeof(err));
    ok(!e && strstr(err, want) && strstr(err, "bad.lua:"), "%s: refused with file:line (%s)", what,
       err);
    rules_free(e);
}

static void test_refusals(void)
{
    refused("transition('T', { to = 'golddr-primary', when = function() end, reason = 'r',\n"
            "  for_ = '1m' })\n",
            "unknown field \"for_\"", "an unknown field");
    refused("transition('T', { to = 'Golddr Primary', when = function() end, reason = 'r' })\n",
            "to: expected the target state", "a target that is no state name");
    refused("transition('T', { to = 'golddr-primary', reason = 'r' })\n",
            "when: expected a function", "no when");
    refused("transition('T', { to = 'golddr-primary', when = function() end })\n",
            "reason: expected a text", "no reason");
    refused("transition('T', { to = 'golddr-primary', when = function() end, reason = 'r' })\n"
            "transition('T', { to = 'active-passive', when = function() end, reason = 'r' })\n",
            "declared twice", "a name declared twice");
    refused("transition('T', { to = 'golddr-primary', when = function() end, reason = 'r',\n"
            "  evidence = 'x' })\n",
            "evidence: expected a function", "evidence that is no function");
    refused("transition('no good', { to = 'golddr-primary', when = function() end,\n"
            "  reason = 'r' })\n",
            "not a valid metric name", "a name that is no metric name");
    struct rules_engine *e = one("transition('Late', { to = 'golddr-primary', reason = 'r',\n"
                                 "  when = function()\n"
                                 "    transition('More', { to = 'x', reason = 'r',\n"
                                 "      when = function() return true end })\n"
                                 "    return true\n"
                                 "  end })\n");
    if (!e) return;
    eval(e, 100, 0, 0);
    char want[256];
    snprintf(want, sizeof(want),
             "drwatch_rule_transition_failures_total{file=\"%s/t.lua\",outcome=\"error\","
             "rule=\"Late\"} 1",
             dir);
    ok(metric_has(e, want), "transition() during an evaluation is an error of the rule");
    rules_free(e);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    test_request();
    test_first_wins();
    test_failures();
    test_reason_and_evidence();
    test_budget();
    test_refusals();
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) diag("could not remove %s", dir);
    return done_testing();
}
