/* test_act_tekton_wire.c: the tekton_deploy actuator's wire formats and retry rules
 * (switchover/act_tekton_wire.h), without a network: the push body byte for byte as the old
 * agent's Python json.dumps wrote it (and its escaping of what a config could hold), the
 * signatures against the reference's vectors, the EventListener's reply (202 from Tekton
 * Triggers, 200 from the old mock, and what is refused), the outcome of an event's runs read
 * from the Succeeded condition by its type in v1 and v1beta1 lists, and the retry, cap and
 * hang decisions as tables of cases plus whole timelines with the old agent's defaults. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "act_tekton_wire.h"
#include "buf.h"
#include "caps.h"
#include "tap.h"

/* switchover-plans.md §0.1: the compose values give a 210-byte body. */
#define REF  "refs/heads/deploy/dev"
#define REPO "https://github.com/bcgov-dss/api-serv-infra.git"
static const char reference_body[] =
    "{\"ref\": \"refs/heads/deploy/dev\", \"repository\": {\"name\": \"\", \"clone_url\": "
    "\"https://github.com/bcgov-dss/api-serv-infra.git\"}, \"head_commit\": {\"id\": \"\", "
    "\"message\": \"\", \"author\": {\"username\": \"switchover_agent\"}}}";

static void test_body(void)
{
    struct buf b;
    buf_init(&b, CAP_TRIGGER_BODY);
    ok(tekton_push_body(&b, REF, REPO) == 0, "the push body is made");
    is_int(b.len, 210, "it is 210 bytes, as the reference says");
    is_str(b.data, reference_body, "byte for byte Python's json.dumps of the old agent's dict");

    /* Python: json.dumps({"ref": "refs/heads/d\u00e9ploy\u2028\U0001F600\x01\x7f/\\\"\n\t\b\f\r",
     * ...}) with clone_url "x". */
    buf_reset(&b);
    ok(tekton_push_body(
           &b, "refs/heads/d\xc3\xa9ploy\xe2\x80\xa8\xf0\x9f\x98\x80\x01\x7f/\\\"\n\t\b\f\r",
           "x") == 0,
       "a ref with non-ASCII, control bytes and quotes is written");
    is_str(
        b.data,
        "{\"ref\": \"refs/heads/d\\u00e9ploy\\u2028\\ud83d\\ude00\\u0001\\u007f/\\\\\\\"\\n\\t\\b"
        "\\f\\r\", \"repository\": {\"name\": \"\", \"clone_url\": \"x\"}, \"head_commit\": "
        "{\"id\": \"\", \"message\": \"\", \"author\": {\"username\": \"switchover_agent\"}}}",
        "escaped as Python does: \\u with lowercase hex, surrogate pairs, / kept as is");

    const char *bad[] = {"\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80", "\xff"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        buf_reset(&b);
        is_int(tekton_push_body(&b, "refs/heads/x", bad[i]), -EINVAL,
               "invalid UTF-8 %zu (overlong, surrogate, cut, past U+10FFFF, 0xff) is refused", i);
    }
    buf_free(&b);
}

static void test_signatures(void)
{
    char s1[TEKTON_SIG_MAX], s256[TEKTON_SIG_MAX];
    const size_t n = sizeof(reference_body) - 1;
    ok(tekton_sign("", 0, reference_body, n, s1, s256) == 0, "signed with the empty secret");
    is_str(s1, "sha1=f9309cade7fbe65b7e4302bb42e78e2b9994c38c",
           "X-Hub-Signature with the empty secret is the reference's vector");
    /* sha256 vectors: Python's hmac.new(key, body, hashlib.sha256), as the reference made the
     * sha1 ones. */
    is_str(s256, "sha256=09db127c1fad8be4579d8b818782086bb805bbcf1fb92b4fc808e31869748377",
           "X-Hub-Signature-256 with the empty secret");
    ok(tekton_sign("test-secret", 11, reference_body, n, s1, s256) == 0, "signed with a secret");
    is_str(s1, "sha1=e958d99e142308fae025acbccbc14f6e6a8a22f4",
           "X-Hub-Signature with test-secret is the reference's vector");
    is_str(s256, "sha256=9428aa1492749b684cbe978eb10f794530401f5c09621078f574d895faa091a2",
           "X-Hub-Signature-256 with test-secret");
}

static void test_reply(void)
{
    char id[TEKTON_EVENT_ID_MAX], err[256];
    const char *real = "{\"eventListener\":\"ops-listener\",\"namespace\":\"ops-pipelines\","
                       "\"eventListenerUID\":\"ea71a6e4-9531-43a1-94fe-6136515d938c\","
                       "\"eventID\":\"14a657c3-6816-45bf-b214-4afdaefc4ebd\"}\n";
    ok(tekton_reply_event_id(real, strlen(real), id, err, sizeof(err)) == 0,
       "Tekton Triggers' 202 body (with json.Encoder's newline) is read");
    is_str(id, "14a657c3-6816-45bf-b214-4afdaefc4ebd", "its eventID");
    const char *mock = "{\"eventID\":\"0000-0000-0000\"}";
    ok(tekton_reply_event_id(mock, strlen(mock), id, err, sizeof(err)) == 0 &&
           strcmp(id, "0000-0000-0000") == 0,
       "the old mock's 200 body is read");

    struct {
        const char *body, *why;
    } bad[] = {
        {"", "not JSON"},
        {"EventListener Timeout!\n", "not JSON"},
        {"[\"eventID\"]", "not a JSON object"},
        {"{\"eventListener\":\"x\"}", "no eventID string"},
        {"{\"eventID\":42}", "no eventID string"},
        {"{\"eventID\":\"\"}", "is not a Kubernetes label value"},
        {"{\"eventID\":\"a,b=c\"}", "is not a Kubernetes label value"},
        {"{\"eventID\":\"a\\u0000b\"}", "not JSON"},
        {"{\"eventID\":\"-leading-dash\"}", "is not a Kubernetes label value"},
        {"{\"eventID\":\"0123456789012345678901234567890123456789012345678901234567890123\"}",
         "is not a Kubernetes label value"},
        {"{\"eventID\":\"a\",\"eventID\":\"b\"}", "not JSON"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        int rc = tekton_reply_event_id(bad[i].body, strlen(bad[i].body), id, err, sizeof(err));
        ok(rc < 0 && strstr(err, bad[i].why) && id[0] == '\0', "reply %zu refused: %s", i, err);
    }
}

/* ---- the outcome of an event's runs ---- */

#define EV    "14a657c3-6816-45bf-b214-4afdaefc4ebd"
#define OTHER "7d1f6b90-3c2e-4b8a-9a51-0f3e2d4c5b6a"

/* One PipelineRun item of apiVersion ver, labelled with event id, with conditions (JSON). */
static void item(struct buf *b, const char *ver, const char *name, const char *event,
                 const char *conditions)
{
    (void)buf_printf(b,
                     "%s{\"apiVersion\":\"tekton.dev/%s\",\"kind\":\"PipelineRun\","
                     "\"metadata\":{\"name\":\"%s\",\"namespace\":\"ops-pipelines\",\"labels\":{"
                     "\"tekton.dev/pipeline\":\"deploy\","
                     "\"triggers.tekton.dev/triggers-eventid\":\"%s\"}},"
                     "\"spec\":{\"pipelineRef\":{\"name\":\"deploy\"}},"
                     "\"status\":{\"conditions\":%s}}",
                     b->len && b->data[b->len - 1] == '}' ? "," : "", ver, name, event, conditions);
}

#define COND(st, reason) "{\"type\":\"Succeeded\",\"status\":\"" st "\",\"reason\":\"" reason "\"}"

struct outcome_case {
    const char *what;
    const char *ver;
    const char *runs[3][3]; /* name, event id, conditions */
    enum tekton_run_state want;
    const char *name, *reason;
    size_t runs_counted, unfinished;
};

static const struct outcome_case outcome_cases[] = {
    {"v1: the run succeeded",
     "v1",
     {{"deploy-a", EV, "[" COND("True", "Succeeded") "]"}},
     TEKTON_RUN_SUCCEEDED,
     "deploy-a",
     "Succeeded",
     1,
     0},
    {"v1beta1: succeeded with skipped tasks (Completed)",
     "v1beta1",
     {{"deploy-a", EV, "[" COND("True", "Completed") "]"}},
     TEKTON_RUN_SUCCEEDED,
     "deploy-a",
     "Completed",
     1,
     0},
    {"the Succeeded condition is found by type, not at index 0 (v1)",
     "v1",
     {{"deploy-a", EV,
       "[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"Ready\"}," COND("Unknown",
                                                                              "Running") "]"}},
     TEKTON_RUN_PENDING,
     "deploy-a",
     "Running",
     1,
     1},
    {"a failure behind another condition type (v1beta1)",
     "v1beta1",
     {{"deploy-a", EV,
       "[{\"type\":\"Other\",\"status\":\"True\"}," COND("False", "PipelineRunTimeout") "]"}},
     TEKTON_RUN_FAILED,
     "deploy-a",
     "PipelineRunTimeout",
     1,
     0},
    {"Failed",
     "v1",
     {{"deploy-a", EV, "[" COND("False", "Failed") "]"}},
     TEKTON_RUN_FAILED,
     "deploy-a",
     "Failed",
     1,
     0},
    {"False/Cancelled",
     "v1",
     {{"deploy-a", EV, "[" COND("False", "Cancelled") "]"}},
     TEKTON_RUN_FAILED,
     "deploy-a",
     "Cancelled",
     1,
     0},
    {"Unknown/Cancelled (cancel asked, not done) is unfinished",
     "v1",
     {{"deploy-a", EV, "[" COND("Unknown", "Cancelled") "]"}},
     TEKTON_RUN_PENDING,
     "deploy-a",
     "Cancelled",
     1,
     1},
    {"no conditions yet (not reconciled)",
     "v1",
     {{"deploy-a", EV, "[]"}},
     TEKTON_RUN_PENDING,
     "deploy-a",
     "",
     1,
     1},
    {"a run with another event id never counts",
     "v1",
     {{"deploy-old", OTHER, "[" COND("False", "Failed") "]"},
      {"deploy-b", EV, "[" COND("Unknown", "Running") "]"},
      {"deploy-older", OTHER, "[" COND("True", "Succeeded") "]"}},
     TEKTON_RUN_PENDING,
     "deploy-b",
     "Running",
     1,
     1},
    {"only other events' runs: none",
     "v1",
     {{"deploy-old", OTHER, "[" COND("True", "Succeeded") "]"}},
     TEKTON_RUN_NONE,
     "",
     "",
     0,
     0},
    {"two runs of the event: one unfinished keeps it pending",
     "v1",
     {{"deploy-a", EV, "[" COND("True", "Succeeded") "]"},
      {"deploy-b", EV, "[" COND("Unknown", "Running") "]"}},
     TEKTON_RUN_PENDING,
     "deploy-b",
     "Running",
     2,
     1},
    {"two runs of the event: one failure fails it",
     "v1",
     {{"deploy-a", EV, "[" COND("Unknown", "Running") "]"},
      {"deploy-b", EV, "[" COND("False", "Failed") "]"}},
     TEKTON_RUN_FAILED,
     "deploy-b",
     "Failed",
     2,
     1},
    {"a run without a valid name is skipped",
     "v1",
     {{"Not_A_Name", EV, "[" COND("False", "Failed") "]"}},
     TEKTON_RUN_NONE,
     "",
     "",
     0,
     0},
};

static void test_outcome_cases(void)
{
    char err[256];
    for (size_t i = 0; i < ARRAY_LEN(outcome_cases); i++) {
        const struct outcome_case *c = &outcome_cases[i];
        struct buf b;
        buf_init(&b, 1 << 16);
        (void)buf_printf(&b,
                         "{\"apiVersion\":\"tekton.dev/%s\",\"kind\":\"PipelineRunList\","
                         "\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[",
                         c->ver);
        for (size_t r = 0; r < 3 && c->runs[r][0]; r++)
            item(&b, c->ver, c->runs[r][0], c->runs[r][1], c->runs[r][2]);
        (void)buf_puts(&b, "]}");
        struct tekton_outcome o;
        int rc = tekton_outcome_read(b.data, b.len, EV, &o, err, sizeof(err));
        ok(rc == 0 && o.state == c->want && strcmp(o.name, c->name) == 0 &&
               strcmp(o.reason, c->reason) == 0 && o.runs == c->runs_counted &&
               o.nunfinished == c->unfinished,
           "%s: %s %s (%s), %zu run(s), %zu unfinished", c->what, tekton_run_state_name(o.state),
           o.name, o.reason, o.runs, o.nunfinished);
        buf_free(&b);
    }
}

static void test_outcome_documents(void)
{
    char err[256];
    struct tekton_outcome o;
    /* tekton.md §4's sample list, whose first run carries EV and succeeded. */
    const char *ref = "{\"apiVersion\":\"tekton.dev/v1\",\"kind\":\"PipelineRunList\","
                      "\"metadata\":{\"continue\":\"\",\"resourceVersion\":\"98812345\"},"
                      "\"items\":[{\"apiVersion\":\"tekton.dev/v1\",\"kind\":\"PipelineRun\","
                      "\"metadata\":{\"name\":\"switchover-golddr-8x2kq\",\"namespace\":"
                      "\"ops-pipelines\",\"labels\":{\"tekton.dev/pipeline\":\"switchover\","
                      "\"triggers.tekton.dev/triggers-eventid\":\"" EV "\"}},"
                      "\"status\":{\"conditions\":[{\"type\":\"Succeeded\",\"status\":\"True\","
                      "\"reason\":\"Succeeded\",\"message\":\"Tasks Completed: 4 (Failed: 0, "
                      "Cancelled 0), Skipped: 0\"}]}},"
                      "{\"metadata\":{\"name\":\"deploy-kong-config-7hd2m\"},\"status\":{}}]}";
    ok(tekton_outcome_read(ref, strlen(ref), EV, &o, err, sizeof(err)) == 0 &&
           o.state == TEKTON_RUN_SUCCEEDED && strstr(o.message, "Tasks Completed: 4"),
       "the reference's sample list: succeeded, with its message (%s)", o.message);
    const char *empty = "{\"kind\":\"PipelineRunList\",\"items\":[]}";
    ok(tekton_outcome_read(empty, strlen(empty), EV, &o, err, sizeof(err)) == 0 &&
           o.state == TEKTON_RUN_NONE,
       "an empty list: no run yet");
    const char *odd = "{\"items\":[1,\"x\",null,{\"metadata\":[]},{\"metadata\":{\"labels\":3}}]}";
    ok(tekton_outcome_read(odd, strlen(odd), EV, &o, err, sizeof(err)) == 0 &&
           o.state == TEKTON_RUN_NONE,
       "items that are not runs are skipped");
    const char *bad[] = {"", "{\"kind\":\"Status\",\"code\":403}", "[]", "{\"items\":{}}",
                         "{\"items\":[" /* cut */};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        ok(tekton_outcome_read(bad[i], strlen(bad[i]), EV, &o, err, sizeof(err)) < 0,
           "body %zu is not a PipelineRunList: %s", i, err);
}

/* ---- the retry rules ---- */

#define S(x) ((int64_t)(x)*1000)
static const struct tekton_policy defaults = {
    .retries = 2, .retry_interval_ms = S(30), .total_cap_ms = S(900), .attempt_timeout_ms = S(360)};

struct rule_case {
    const char *what;
    int kind; /* 0 judge_attempt, 1 judge_backoff */
    int64_t retries;
    int64_t attempts, first, trigger, retry_at; /* seconds */
    enum tekton_run_state seen;
    int64_t now;
    enum tekton_verdict want;
};

static const struct rule_case rule_cases[] = {
    {"succeeded: done", 0, 2, 1, 0, 0, 0, TEKTON_RUN_SUCCEEDED, 10, TEKTON_DONE},
    {"succeeded on the last attempt past the cap: done", 0, 2, 3, 0, 850, 0, TEKTON_RUN_SUCCEEDED,
     1200, TEKTON_DONE},
    {"running within attempt_timeout: wait", 0, 2, 1, 0, 0, 0, TEKTON_RUN_PENDING, 359,
     TEKTON_WAIT},
    {"running at attempt_timeout: cancel", 0, 2, 1, 0, 0, 0, TEKTON_RUN_PENDING, 360,
     TEKTON_CANCEL},
    {"no run yet: wait", 0, 2, 1, 0, 0, 0, TEKTON_RUN_NONE, 100, TEKTON_WAIT},
    {"no run at attempt_timeout: cancel (nothing to PATCH, still a failure)", 0, 2, 1, 0, 0, 0,
     TEKTON_RUN_NONE, 360, TEKTON_CANCEL},
    {"the timeout counts from this attempt's trigger, not the first", 0, 2, 2, 0, 400, 0,
     TEKTON_RUN_PENDING, 700, TEKTON_WAIT},
    {"first attempt failed: back off", 0, 2, 1, 0, 0, 0, TEKTON_RUN_FAILED, 60, TEKTON_BACKOFF},
    {"second attempt failed: back off", 0, 2, 2, 0, 90, 0, TEKTON_RUN_FAILED, 200, TEKTON_BACKOFF},
    {"third attempt failed with retries 2: give up", 0, 2, 3, 0, 300, 0, TEKTON_RUN_FAILED, 400,
     TEKTON_GIVE_UP},
    {"retries 0: the first failure gives up", 0, 0, 1, 0, 0, 0, TEKTON_RUN_FAILED, 10,
     TEKTON_GIVE_UP},
    {"a retry that would start at the cap: give up now", 0, 2, 2, 0, 500, 0, TEKTON_RUN_FAILED, 870,
     TEKTON_GIVE_UP},
    {"a retry that starts just within the cap: back off", 0, 2, 2, 0, 500, 0, TEKTON_RUN_FAILED,
     869, TEKTON_BACKOFF},
    {"backing off: wait", 1, 2, 1, 0, 0, 90, TEKTON_RUN_NONE, 89, TEKTON_WAIT},
    {"the pause is over: trigger again", 1, 2, 1, 0, 0, 90, TEKTON_RUN_NONE, 90, TEKTON_RETRIGGER},
    {"polled late: trigger again", 1, 2, 1, 0, 0, 90, TEKTON_RUN_NONE, 95, TEKTON_RETRIGGER},
    {"a retry scheduled at the cap: give up", 1, 2, 2, 0, 0, 900, TEKTON_RUN_NONE, 900,
     TEKTON_GIVE_UP},
};

static void test_rule_cases(void)
{
    for (size_t i = 0; i < ARRAY_LEN(rule_cases); i++) {
        const struct rule_case *c = &rule_cases[i];
        struct tekton_policy p = defaults;
        p.retries = c->retries;
        struct tekton_attempts a = {.attempts = c->attempts,
                                    .first_ms = S(c->first),
                                    .trigger_ms = S(c->trigger),
                                    .retry_at_ms = S(c->retry_at)};
        const char *why = NULL;
        enum tekton_verdict v = c->kind == 0
                                    ? tekton_judge_attempt(&p, &a, c->seen, S(c->now), &why)
                                    : tekton_judge_backoff(&p, &a, S(c->now));
        ok(v == c->want, "%s: %s%s%s", c->what, tekton_verdict_name(v), why && *why ? ", " : "",
           why ? why : "");
    }
    const char *why = "";
    struct tekton_attempts a = {.attempts = 3};
    enum tekton_verdict v = tekton_after_failure(&defaults, &a, 0, &why);
    ok(v == TEKTON_GIVE_UP && strcmp(why, "no retry left") == 0, "giving up says which limit: %s",
       why);
    a.attempts = 1;
    v = tekton_after_failure(&defaults, &a, S(880), &why);
    ok(v == TEKTON_GIVE_UP && strstr(why, "total_cap"), "or: %s", why);
}

/* A whole step under policy p: every attempt ends run_s after its trigger (fails, or with
 * hang never ends and is cancelled at attempt_timeout); returns the triggers sent, and in
 * *gave_up_at when the step gave up (seconds after the first trigger). */
static int64_t timeline(const struct tekton_policy *p, int64_t run_s, bool hang,
                        int64_t *gave_up_at)
{
    struct tekton_attempts a = {.attempts = 1, .first_ms = 0, .trigger_ms = 0};
    for (int64_t now = 0; now < S(3600); now += S(1)) {
        enum tekton_verdict v;
        if (a.retry_at_ms > a.trigger_ms) {
            v = tekton_judge_backoff(p, &a, now);
            if (v == TEKTON_RETRIGGER) a = (struct tekton_attempts){a.attempts + 1, 0, now, 0};
        } else {
            bool failed = !hang && now - a.trigger_ms >= S(run_s);
            v = tekton_judge_attempt(p, &a, failed ? TEKTON_RUN_FAILED : TEKTON_RUN_PENDING, now,
                                     NULL);
            if (v == TEKTON_CANCEL) v = tekton_after_failure(p, &a, now, NULL);
            if (v == TEKTON_BACKOFF) a.retry_at_ms = now + p->retry_interval_ms;
        }
        if (v == TEKTON_GIVE_UP) {
            *gave_up_at = now / 1000;
            return a.attempts;
        }
    }
    return -1;
}

static void test_timelines(void)
{
    int64_t at = 0;
    is_int(timeline(&defaults, 60, false, &at), 3,
           "runs that fail after 60s: three triggers (1 + retries)");
    is_int(at, 60 + 30 + 60 + 30 + 60, "the step gives up when the third fails (%llds)",
           (long long)at);
    is_int(timeline(&defaults, 0, true, &at), 3, "hung runs: each cancelled at 360s, three in all");
    is_int(at, 360 + 30 + 360 + 30 + 360, "the third hang ends it at %llds", (long long)at);
    is_int(timeline(&defaults, 400, false, &at), 3,
           "runs that would fail after 400s are cancelled at 360s first (%llds)", (long long)at);
    struct tekton_policy more = defaults;
    more.retries = 5;
    is_int(timeline(&more, 350, false, &at), 3,
           "with retries 5, the cap still ends it: no fourth trigger could start by 900s");
    is_int(at, 350 + 30 + 350 + 30 + 350, "it gives up when the third fails (%llds)",
           (long long)at);
    more.retries = 5;
    more.total_cap_ms = S(120); /* the old compose setting */
    is_int(timeline(&more, 20, false, &at), 3,
           "cap 120s, runs failing after 20s: a fourth trigger would start at 150s, so three");
    is_int(at, 120, "and it gives up when the third fails, at %llds", (long long)at);
}

/* A restart's way back to its trigger: the mark's round trip, and the run a lost answer made. */
static void test_mark_and_since(void)
{
    struct tekton_mark m = {.attempts = 2, .first_at = 1765000000.25, .sent_at = 1765000031.5},
                       back;
    char text[200];
    tekton_mark_write(&m, text, sizeof(text));
    ok(tekton_mark_read(text, &back) == 0 && back.attempts == 2 && back.sent_at == m.sent_at &&
           back.first_at == m.first_at && back.event_id[0] == '\0',
       "a mark before the answer reads back, with no event id (%s)", text);
    snprintf(m.event_id, sizeof(m.event_id), "14a657c3-6816-45bf-b214-4afdaefc4ebd");
    tekton_mark_write(&m, text, sizeof(text));
    ok(tekton_mark_read(text, &back) == 0 && strcmp(back.event_id, m.event_id) == 0,
       "a mark with the answer's event id reads back (%s)", text);
    ok(tekton_mark_read("tekton attempts=1 first=1 sent=2 event=a b", &back) < 0 &&
           tekton_mark_read("tekton attempts=1 first=1 sent=0 event=-", &back) < 0 &&
           tekton_mark_read("rebuild started", &back) < 0 &&
           tekton_mark_read("tekton attempts=1 first=1 sent=2 event=bad/label", &back) < 0,
       "a mark it did not write is refused (trailing text, no send time, another actuator's, "
       "an event id that is no label value)");

    static const char list[] =
        "{\"items\": ["
        "{\"metadata\": {\"name\": \"old\", \"creationTimestamp\": \"2025-12-06T05:33:10Z\","
        " \"labels\": {\"" TEKTON_EVENT_ID_LABEL "\": \"e-old\"}}},"
        "{\"metadata\": {\"name\": \"later\", \"creationTimestamp\": \"2025-12-06T05:33:30Z\","
        " \"labels\": {\"" TEKTON_EVENT_ID_LABEL "\": \"e-later\"}}},"
        "{\"metadata\": {\"name\": \"ours\", \"creationTimestamp\": \"2025-12-06T05:33:21Z\","
        " \"labels\": {\"" TEKTON_EVENT_ID_LABEL "\": \"e-ours\"}}},"
        "{\"metadata\": {\"name\": \"nolabel\", \"creationTimestamp\": \"2025-12-06T05:33:20Z\"}}"
        "]}";
    char id[TEKTON_EVENT_ID_MAX], err[200];
    double t0 = 1764999200.0; /* 2025-12-06T05:33:20Z */
    is_int(tekton_event_since(list, strlen(list), t0, id, err, sizeof(err)), 1,
           "a run created since the trigger left is found");
    is_str(id, "e-ours",
           "the first one created since, not an older or a later one, nor one "
           "without an event id");
    is_int(tekton_event_since(list, strlen(list), t0 + 60, id, err, sizeof(err)), 0,
           "none created since: none");
    ok(tekton_event_since("{}", 2, t0, id, err, sizeof(err)) < 0 && strstr(err, "items"),
       "not a list: an error (%s)", err);
}

int main(void)
{
    test_body();
    test_signatures();
    test_reply();
    test_outcome_cases();
    test_outcome_documents();
    test_rule_cases();
    test_timelines();
    test_mark_and_since();
    return done_testing();
}
