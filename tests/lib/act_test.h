/* act_test.h: for the Kubernetes actuators' tests (tests/unit/test_act_*.c). It starts
 * tests/fakes/k8s_fake.py (and, when asked, portal_fake.py over HTTPS with a bearer token and
 * a CA made by openssl here), points an act_env at them as a switchover section would (the old
 * agent's names for env "dev"; tools namespace ops, solution namespace gateway), and runs
 * one-step plans through the real executor with the real actuator table, on a real loop, for
 * site golddr. The world the guards and actuators see is the test's (T.world, made fresh at
 * every observation). After a run, act_test_writes() gives the fake's /activity as one line per
 * write: "METHOD path content-type body -> status" (content types as merge, smp, jsonpatch,
 * json or -; restartedAt stamps checked for the old agent's format and shown as STAMP;
 * resourceVersions shown as RV), so a
 * test compares the exact calls a step made. Header-only; one test binary includes it once. */
#ifndef DRWATCH_ACT_TEST_H
#define DRWATCH_ACT_TEST_H

#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "act_env.h"
#include "actuators.h"
#include "buf.h"
#include "clock.h"
#include "executor.h"
#include "fake.h"
#include "http_client.h"
#include "loop.h"
#include "one_plan.h"
#include "plan.h"
#include "tap.h"
#include "xalloc.h"

struct act_test {
    struct loop *loop;
    struct httpc *http;
    int k8s_port, portal_port;
    pid_t k8s_pid, portal_pid;
    char dir[64];
    struct act_config cfg;
    struct act_k8s k8s;
    struct act_http portal;
    struct act_standby standby;
    struct act_env env;
    struct sw_world world; /* what every observation returns (now and observed_at made fresh) */
    int standby_after;     /* golddr becomes a healthy standby after this many observations */
    int observations;
    /* the last run */
    bool done;
    enum sw_result res;
    char detail[400];
};

static struct act_test T;

#define ACT_TEST_MAX_OUT (1 << 20)

/* The output of a shell command (curl), or "" on failure. Caller frees. */
static __attribute__((unused)) char *act_test_sh(const char *cmd)
{
    struct buf b;
    buf_init(&b, ACT_TEST_MAX_OUT);
    FILE *p = popen(cmd, "r");
    char chunk[4096];
    size_t n;
    while (p && (n = fread(chunk, 1, sizeof(chunk), p)) > 0) (void)buf_append(&b, chunk, n);
    if (p) pclose(p);
    if (!b.data) (void)buf_puts(&b, "");
    return buf_steal(&b, NULL);
}

/* GET path from the k8s fake, parsed; NULL when it is not JSON. */
static __attribute__((unused)) json_t *act_test_get(const char *path)
{
    char *cmd = xasprintf("curl -s http://127.0.0.1:%d%s", T.k8s_port, path);
    char *out = act_test_sh(cmd);
    json_t *j = json_loads(out, 0, NULL);
    free(cmd);
    free(out);
    return j;
}

static __attribute__((unused)) void act_test_control(const char *json)
{
    fake_control(T.k8s_port, "http", "state", json);
}

static __attribute__((unused)) void act_test_mode(const char *json)
{
    fake_control(T.k8s_port, "http", "mode", json);
}

/* ---- the world ---- */

/* gold: a healthy writable leader ahead of golddr; golddr: a healthy standby unless
 * standby_after says when. */
static __attribute__((unused)) void act_test_world_default(void)
{
    memset(&T.world, 0, sizeof(T.world));
    T.world.db[SW_GOLD] = (struct sw_db){.known = true,
                                         .leader_present = true,
                                         .leader_writable = true,
                                         .healthy = true,
                                         .lsn_known = true,
                                         .lsn = 200,
                                         .replay_lag_s = -1};
    T.world.db[SW_GOLDDR] = (struct sw_db){.known = true,
                                           .leader_present = true,
                                           .standby_cluster = true,
                                           .healthy = true,
                                           .lsn_known = true,
                                           .lsn = 100,
                                           .replay_lag_s = 1};
    T.standby_after = 0;
    T.observations = 0;
}

static __attribute__((unused)) void act_test_observe(void *arg, struct sw_world *w)
{
    (void)arg;
    *w = T.world;
    w->now = time_wall_s();
    w->self = SW_GOLDDR;
    for (int s = 0; s < SW_SITE_COUNT; s++)
        if (w->db[s].known) w->db[s].observed_at = w->now;
    if (T.observations++ < T.standby_after) { /* still the old primary being rebuilt */
        w->db[SW_GOLDDR].standby_cluster = false;
        w->db[SW_GOLDDR].leader_writable = true;
    }
}

/* ---- the fakes and the environment ---- */

static __attribute__((unused)) void act_test_write(const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", T.dir, name);
    FILE *f = fopen(path, "w");
    if (f) fputs(text, f), fclose(f);
    free(path);
}

static __attribute__((unused)) bool act_test_portal_start(void)
{
    char *cmd = xasprintf("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                          "-nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
                          "-keyout %s/key.pem -out %s/ca.crt >/dev/null 2>&1",
                          T.dir, T.dir);
    int rc = system(cmd);
    free(cmd);
    if (!ok(rc == 0, "openssl made a certificate for the portal")) return false;
    act_test_write("portal-token", "portal-s3cret\n");
    T.portal_port = fake_free_port();
    char *cert = xasprintf("%s/ca.crt", T.dir), *key = xasprintf("%s/key.pem", T.dir);
    char *args[] = {"--token", "portal-s3cret", "--tls", cert, key, "--prefix", "/api", NULL};
    T.portal_pid = fake_start_args("portal_fake.py", T.portal_port, args);
    free(key);
    T.portal.t.site = SW_GOLDDR;
    T.portal.t.url = xasprintf("https://127.0.0.1:%d/api", T.portal_port);
    T.portal.t.ca_file = cert;
    T.portal.t.bearer_token_file = xasprintf("%s/portal-token", T.dir);
    T.portal.t.max_body_bytes = 1 << 20;
    T.portal.t.timeout_ms = 1000;
    T.cfg.portal = &T.portal;
    return ok(T.portal_pid > 0, "portal fake over TLS on port %d", T.portal_port);
}

/* Starts the fakes (the portal too when portal) and resolves the environment. */
static __attribute__((unused)) bool act_test_start(bool portal)
{
    snprintf(T.dir, sizeof(T.dir), "/tmp/drwatch-test-act-XXXXXX");
    if (!mkdtemp(T.dir)) return false;
    T.loop = loop_new();
    T.http = httpc_new(T.loop);
    T.k8s_port = fake_free_port();
    char *args[] = {"--delay-ms", "30", NULL};
    T.k8s_pid = fake_start_args("k8s_fake.py", T.k8s_port, args);
    if (!ok(T.k8s_pid > 0, "k8s fake on port %d", T.k8s_port)) return false;
    if (portal && !act_test_portal_start()) return false;
    T.k8s.t.http.site = SW_GOLDDR;
    T.k8s.t.http.url = xasprintf("http://127.0.0.1:%d", T.k8s_port);
    T.k8s.t.http.max_body_bytes = 1 << 20;
    T.k8s.t.http.timeout_ms = 1000;
    T.k8s.t.namespace = "ops";
    T.standby = (struct act_standby){.host = "gold-db.example", .port = 5432};
    T.cfg.env = "dev";
    T.cfg.kubernetes = &T.k8s;
    T.cfg.namespaces = (struct act_namespaces){.tools = "ops", .solution = "gateway"};
    T.cfg.standby = &T.standby;
    char err[300];
    int rc = act_env_init(&T.env, &T.cfg, T.loop, T.http, SW_GOLDDR, err, sizeof(err));
    if (!ok(rc == 0, "the actuators' environment resolves: %s", rc ? err : "ok")) return false;
    T.env.wait_ms = 20;
    act_test_world_default();
    return true;
}

static __attribute__((unused)) void act_test_stop(void)
{
    act_env_clear(&T.env);
    fake_stop(T.k8s_pid);
    fake_stop(T.portal_pid);
    httpc_free(T.http);
    loop_free(T.loop);
    free(T.k8s.t.http.url);
    free(T.portal.t.url);
    free(T.portal.t.ca_file);
    free(T.portal.t.bearer_token_file);
    char *cmd = xasprintf("rm -rf %s", T.dir);
    if (system(cmd) != 0) diag("could not remove %s", T.dir);
    free(cmd);
}

/* Back to the seed objects, no activity, no journal, the default world. */
static __attribute__((unused)) void act_test_reset(void)
{
    fake_control(T.k8s_port, "http", "reset", "{}");
    if (T.portal_pid > 0) fake_control(T.portal_port, "https", "reset", "{}");
    char *path = xasprintf("%s/%s", T.dir, SW_JOURNAL_FILE);
    unlink(path);
    free(path);
    act_test_world_default();
}

/* ---- runs ---- */

static __attribute__((unused)) void act_test_finished(void *arg, const struct sw_run_start *run,
                                                      enum sw_result r, const char *detail)
{
    (void)arg;
    (void)run;
    T.done = true;
    T.res = r;
    snprintf(T.detail, sizeof(T.detail), "%s", detail ? detail : "");
    loop_stop(T.loop);
}

static __attribute__((unused)) struct sw_executor *act_test_executor(void)
{
    struct sw_exec_env env = {.loop = T.loop,
                              .data_dir = T.dir,
                              .site = SW_GOLDDR,
                              .actuators = actuator_table,
                              .nactuators = actuator_table_len,
                              .actuator_env = &T.env,
                              .guards = {.samples = 3, .fresh_s = 15, .max_lag_s = 30},
                              .poll_ms = 20,
                              .observe = act_test_observe,
                              .finished = act_test_finished};
    char err[256];
    struct sw_executor *x = sw_exec_new(&env, err, sizeof(err));
    if (!x) diag("%s", err);
    return x;
}

/* A complete plan file whose golddr active-passive -> golddr-primary plan is steps; NULL with
 * err filled when the loader refuses it. */
static __attribute__((unused)) struct sw_plans *act_test_plans(const char *steps, char *err,
                                                               size_t errlen)
{
    return one_plan_load(steps, "t.lua", err, errlen);
}

static __attribute__((unused)) const struct sw_plan *act_test_the_plan(const struct sw_plans *p)
{
    return one_plan_get(p);
}

static __attribute__((unused)) struct sw_run_start act_test_run_start(const char *id, double at)
{
    struct sw_run_start s = {
        .from = SW_ACTIVE_PASSIVE, .to = SW_GOLDDR_PRIMARY, .source = SW_SOURCE_API, .at = at};
    snprintf(s.id, sizeof(s.id), "%s", id);
    snprintf(s.reason, sizeof(s.reason), "an actuator test");
    return s;
}

/* Runs pl to its end on a fresh executor; returns its result (T.detail says why). */
static __attribute__((unused)) enum sw_result act_test_run_plan(const struct sw_plan *pl)
{
    T.done = false;
    T.detail[0] = '\0';
    /* The env keeps its own copy of the settings (a plan outlives a reload): make it again
     * from what this test case set in T.cfg. */
    char eerr[300];
    int64_t wait_ms = T.env.wait_ms;
    act_env_clear(&T.env);
    if (act_env_init(&T.env, &T.cfg, T.loop, T.http, SW_GOLDDR, eerr, sizeof(eerr)) < 0)
        diag("act_env_init: %s", eerr);
    T.env.wait_ms = wait_ms;
    struct sw_executor *x = act_test_executor();
    char err[256];
    struct sw_run_start s = act_test_run_start("run-1", 0);
    if (!x || sw_exec_start(x, pl, &s, err, sizeof(err)) < 0) {
        diag("the run did not start: %s", x ? err : "no executor");
        snprintf(T.detail, sizeof(T.detail), "not started");
        sw_exec_free(x);
        return SW_RESULT_STOPPED;
    }
    if (!T.done) loop_run(T.loop);
    sw_exec_free(x);
    return T.res;
}

/* Runs the one-step plan steps (a plan file's step list); the result, as act_test_run_plan. */
static __attribute__((unused)) enum sw_result act_test_run(const char *steps)
{
    char err[512];
    struct sw_plans *p = act_test_plans(steps, err, sizeof(err));
    if (!p) {
        diag("plan refused: %s", err);
        return SW_RESULT_STOPPED;
    }
    enum sw_result r = act_test_run_plan(act_test_the_plan(p));
    sw_plans_free(p);
    return r;
}

/* The steps the journal says ended since the last reset, one line each: "action result:
 * detail". (The records are JSON objects in the journal's frames: each end record is found by
 * its opening bytes and parsed where it starts.) Caller frees. */
static __attribute__((unused)) char *act_test_steps(void)
{
    char *path = xasprintf("%s/%s", T.dir, SW_JOURNAL_FILE);
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    char *data = xmalloc(ACT_TEST_MAX_OUT);
    if (f) len = fread(data, 1, ACT_TEST_MAX_OUT - 1, f), fclose(f);
    data[len] = '\0';
    free(path);
    struct buf b;
    buf_init(&b, ACT_TEST_MAX_OUT);
    (void)buf_puts(&b, "");
    for (size_t off = 0; off + 6 < len; off++) {
        if (memcmp(data + off, "{\"id\":", 6) != 0) continue;
        json_t *rec = json_loadb(data + off, len - off, JSON_DISABLE_EOF_CHECK, NULL);
        const char *result = json_string_value(json_object_get(rec, "result"));
        const char *action = json_string_value(json_object_get(rec, "action"));
        if (result && action)
            (void)buf_printf(&b, "%s%s %s: %s", b.len ? "\n" : "", action, result,
                             json_string_value(json_object_get(rec, "detail")));
        json_decref(rec);
    }
    free(data);
    return buf_steal(&b, NULL);
}

/* Runs the loop in slices of ms until pred() holds or seconds pass; returns whether it held. */
static __attribute__((unused)) bool act_test_loop_until(bool (*pred)(void), double seconds)
{
    double end = time_mono_s() + seconds;
    struct loop_timer *t = loop_timer_new(T.loop, (loop_fn)loop_stop, T.loop);
    bool held = pred();
    while (!held && time_mono_s() < end) {
        loop_timer_start(t, 5);
        loop_run(T.loop);
        held = pred();
    }
    loop_timer_free(t);
    return held;
}

/* Starts pl as run "run-crash" and frees its executor (a crash: nothing journaled past what
 * was) once crashed() holds. Returns whether it did. */
static __attribute__((unused)) bool act_test_crash(const struct sw_plan *pl, bool (*crashed)(void))
{
    T.done = false;
    struct sw_executor *x = act_test_executor();
    char err[256];
    struct sw_run_start s = act_test_run_start("run-crash", 0);
    if (!x || sw_exec_start(x, pl, &s, err, sizeof(err)) < 0) {
        sw_exec_free(x);
        return false;
    }
    bool held = act_test_loop_until(crashed, 10);
    sw_exec_free(x);
    return held && !T.done;
}

/* A new executor resumes the journal's run with plans, to its end; its result. */
static __attribute__((unused)) enum sw_result act_test_resume(const struct sw_plans *plans)
{
    T.done = false;
    struct sw_executor *x = act_test_executor();
    char err[256];
    if (!x || sw_exec_resume(x, plans, err, sizeof(err)) != 0) {
        diag("not resumed: %s", x ? err : "no executor");
        sw_exec_free(x);
        return SW_RESULT_STOPPED;
    }
    if (!T.done) loop_run(T.loop);
    sw_exec_free(x);
    return T.res;
}

/* ---- what the fakes recorded ---- */

static __attribute__((unused)) const char *act_test_ctype(const char *ct)
{
    if (!ct || !*ct) return "-";
    if (strcmp(ct, "application/merge-patch+json") == 0) return "merge";
    if (strcmp(ct, "application/strategic-merge-patch+json") == 0) return "smp";
    if (strcmp(ct, "application/json-patch+json") == 0) return "jsonpatch";
    if (strcmp(ct, "application/json") == 0) return "json";
    return ct;
}

/* Replaces a restartedAt value by STAMP when it has the old agent's format (UTC, ISO 8601,
 * microseconds, Z), by BADSTAMP otherwise, and a resourceVersion by RV. */
static __attribute__((unused)) void act_test_stamps(json_t *v)
{
    static regex_t re;
    static bool made;
    if (!made)
        made = regcomp(&re,
                       "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\."
                       "[0-9]{6}Z$",
                       REG_EXTENDED | REG_NOSUB) == 0;
    const char *key;
    json_t *sub;
    if (json_is_object(v)) {
        json_object_foreach(v, key, sub)
        {
            if (strcmp(key, "resourceVersion") == 0 && json_is_string(sub))
                json_object_set_new(v, key, json_string("RV"));
            else if (strcmp(key, "kubectl.kubernetes.io/restartedAt") == 0 && json_is_string(sub))
                json_object_set_new(
                    v, key,
                    json_string(regexec(&re, json_string_value(sub), 0, NULL, 0) == 0
                                    ? "STAMP"
                                    : "BADSTAMP"));
            else
                act_test_stamps(sub);
        }
    }
}

/* The k8s fake's writes since the last reset (or clear), one line each. Caller frees. */
static __attribute__((unused)) char *act_test_writes(void)
{
    json_t *a = act_test_get("/activity");
    struct buf b;
    buf_init(&b, ACT_TEST_MAX_OUT);
    (void)buf_puts(&b, "");
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        json_t *body = json_object_get(e, "body");
        act_test_stamps(body);
        char *text = body && !json_is_null(body) ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY)
                                                 : xstrdup("-");
        (void)buf_printf(&b, "%s%s %s %s %s -> %lld", b.len ? "\n" : "",
                         json_string_value(json_object_get(e, "method")),
                         json_string_value(json_object_get(e, "path")),
                         act_test_ctype(json_string_value(json_object_get(e, "content_type"))),
                         text, (long long)json_integer_value(json_object_get(e, "status")));
        free(text);
    }
    json_decref(a);
    return buf_steal(&b, NULL);
}

static __attribute__((unused)) void act_test_clear_writes(void)
{
    act_test_control("{\"clear_activity\": true}");
}

/* The portal's PUTs, one line each ("PUT /api/maintenance/true -> 200"), with the time of the
 * first in *first (Unix seconds; 0 when none). Caller frees. */
static __attribute__((unused)) char *act_test_portal_puts(double *first)
{
    char *cmd = xasprintf("curl -sk https://127.0.0.1:%d/activity", T.portal_port);
    char *out = act_test_sh(cmd);
    json_t *a = json_loads(out, 0, NULL);
    free(cmd);
    free(out);
    struct buf b;
    buf_init(&b, ACT_TEST_MAX_OUT);
    (void)buf_puts(&b, "");
    size_t i;
    json_t *e;
    if (first) *first = 0;
    json_array_foreach(a, i, e)
    {
        if (first && i == 0) *first = json_real_value(json_object_get(e, "time"));
        (void)buf_printf(&b, "%s%s %s -> %lld", b.len ? "\n" : "",
                         json_string_value(json_object_get(e, "method")),
                         json_string_value(json_object_get(e, "path")),
                         (long long)json_integer_value(json_object_get(e, "status")));
    }
    json_decref(a);
    return buf_steal(&b, NULL);
}

/* The time of the k8s fake's i-th write (Unix seconds), 0 when there is none. */
static __attribute__((unused)) double act_test_write_time(size_t i)
{
    json_t *a = act_test_get("/activity");
    double t = json_real_value(json_object_get(json_array_get(a, i), "time"));
    json_decref(a);
    return t;
}

/* The rbac lines of the actuator for action as the fake's "rbac" state ({"rbac": [...]}).
 * Caller frees. */
static __attribute__((unused)) char *act_test_rbac_state(const char *action)
{
    json_t *list = json_array();
    for (size_t i = 0; i < actuator_table_len; i++) {
        if (strcmp(actuator_table[i]->action, action) != 0) continue;
        for (const char *const *r = actuator_table[i]->rbac; r && *r; r++)
            json_array_append_new(list, json_string(*r));
    }
    json_t *st = json_pack("{s:o}", "rbac", list);
    char *text = json_dumps(st, JSON_COMPACT);
    json_decref(st);
    return text;
}

/* For each of action's rbac lines: with all the others allowed and that one not, a run of
 * steps makes the step fail with the 403 that names its verb and resource (read from the
 * journal, as a best-effort step's failure lets the run go on). So each line is needed. */
static __attribute__((unused)) void act_test_rbac_each_needed(const char *action, const char *steps)
{
    const struct actuator_ops *ops = NULL;
    for (size_t i = 0; i < actuator_table_len; i++)
        if (strcmp(actuator_table[i]->action, action) == 0) ops = actuator_table[i];
    for (size_t skip = 0; ops && ops->rbac[skip]; skip++) {
        act_test_reset();
        json_t *list = json_array();
        for (size_t i = 0; ops->rbac[i]; i++)
            if (i != skip) json_array_append_new(list, json_string(ops->rbac[i]));
        json_t *st = json_pack("{s:o}", "rbac", list);
        char *text = json_dumps(st, JSON_COMPACT);
        act_test_control(text);
        free(text);
        json_decref(st);
        char group[64], resource[64], verb[32], want[200];
        if (sscanf(ops->rbac[skip], "%63s %63s %31s", group, resource, verb) != 3) continue;
        snprintf(want, sizeof(want), "cannot %s resource \"%s\"", verb, resource);
        (void)act_test_run(steps);
        char *s = act_test_steps();
        ok(strstr(s, " failed: ") && strstr(s, want), "%s needs \"%s\": without it, %s", action,
           ops->rbac[skip], s);
        free(s);
    }
}

#endif
