/* test_tekton.c: PipelineRunList pages (tests/data/tekton/<case>.json: the reference sample,
 * the fake's seed in v1 and v1beta1, unreconciled runs, odd items, many reasons, malformed
 * bodies) through tekton_page_parse and tekton_runs_metrics into golden /metrics text
 * (<case>.prom) or the reason in <case>.err; paging and the run cap; and
 * tekton_find_run_by_event against tests/fakes/k8s_fake.py (found, v1beta1 fallback, not
 * found, refused token, a bad event id, cancellation).
 *
 * Run from the repository root. DRWATCH_UPDATE_GOLDEN=1 rewrites the golden files. */
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"
#include "golden.h"
#include "http_client.h"
#include "k8s.h"
#include "loop.h"
#include "tap.h"
#include "tekton.h"
#include "xalloc.h"

#define DIR_ "tests/data/tekton/"

static void golden(const char *name, const char *got)
{
    char *path = xasprintf(DIR_ "%s.prom", name);
    golden_check(path, got, "%s: /metrics as golden", name);
    free(path);
}

static const struct tekton_map_opts opts = {
    .site = "golddr", .target = "ops-pipelines", .namespace = "ops-pipelines", .api_version = "v1"};

static void run_case(const char *name)
{
    char *path = xasprintf(DIR_ "%s.json", name), *errpath = xasprintf(DIR_ "%s.err", name);
    char *body = golden_slurp(path), *want_err = golden_slurp(errpath);
    struct tekton_runs runs;
    tekton_runs_init(&runs);
    const char *cont, *reason = NULL;
    char err[300];
    int rc = tekton_page_parse(body ? body : "", body ? strlen(body) : 0, &runs, 5000, &cont,
                               &reason, err, sizeof(err));
    if (want_err) {
        want_err[strcspn(want_err, "\n")] = '\0';
        ok(rc < 0 && reason && strcmp(reason, want_err) == 0, "%s: refused as %s (%s: %s)", name,
           want_err, reason ? reason : "accepted", err);
    } else {
        if (!ok(rc == 0, "%s: accepted", name)) diag("%s", err);
        struct metric_set *set = mset_new();
        struct tekton_map_opts o = opts;
        if (strstr(name, "v1beta1")) o.api_version = "v1beta1";
        tekton_runs_metrics(&runs, &o, set);
        char *got = golden_render_text(set);
        golden(name, got);
        free(got);
        mset_unref(set);
    }
    tekton_runs_clear(&runs);
    free(body);
    free(want_err);
    free(path);
    free(errpath);
}

static void run_all(void)
{
    char *names[256];
    int n = golden_cases(DIR_, ".json", names, 256);
    if (!ok(n >= 0, "data directory " DIR_)) return;
    ok(n >= 10, "%d cases", n);
    for (int i = 0; i < n; i++) {
        run_case(names[i]);
        free(names[i]);
    }
}

static void test_paging_and_caps(void)
{
    char *body = golden_slurp(DIR_ "fake-seed-v1.json");
    struct tekton_runs runs;
    tekton_runs_init(&runs);
    const char *cont, *reason;
    char err[200];
    must(tekton_page_parse(body, strlen(body), &runs, 5000, &cont, &reason, err, sizeof(err)));
    must(tekton_page_parse(body, strlen(body), &runs, 5000, &cont, &reason, err, sizeof(err)));
    ok(runs.n == 10 && !runs.truncated, "two pages accumulate (%zu runs)", runs.n);
    const struct tekton_run *newest = tekton_runs_newest(&runs);
    ok(newest && strcmp(newest->name, "deploy-kong-config-7hd2m") == 0,
       "the newest run is the one started last (%s)", newest ? newest->name : "none");
    tekton_runs_clear(&runs);
    tekton_runs_init(&runs);
    must(tekton_page_parse(body, strlen(body), &runs, 3, &cont, &reason, err, sizeof(err)));
    ok(runs.n == 3 && runs.truncated, "max_runs 3 keeps three and says truncated");
    tekton_runs_clear(&runs);
    free(body);

    body = xstrdup("{\"kind\":\"PipelineRunList\",\"metadata\":{\"continue\":\"abc\"},"
                   "\"items\":[]}");
    tekton_runs_init(&runs);
    must(tekton_page_parse(body, strlen(body), &runs, 10, &cont, &reason, err, sizeof(err)));
    ok(strcmp(cont, "abc") == 0, "the continue token is returned");
    tekton_runs_clear(&runs);
    free(body);

    body = golden_slurp(DIR_ "many-reasons.json");
    tekton_runs_init(&runs);
    must(tekton_page_parse(body, strlen(body), &runs, 5000, &cont, &reason, err, sizeof(err)));
    struct metric_set *set = mset_new();
    struct tekton_map_opts o = opts;
    o.max_pipelines = 2;
    size_t dropped = tekton_runs_metrics(&runs, &o, set);
    ok(dropped == 26, "max_pipelines 2 of 3: the third pipeline's 26 runs left out (%zu)", dropped);
    mset_unref(set);
    tekton_runs_clear(&runs);
    free(body);
}

/* ---- the event lookup against the fake API server ---- */

struct found {
    struct loop *loop;
    int calls;
    enum tekton_find_status status;
    char name[128], reason[64], detail[512], api[16], pipeline[64], run_status[16];
    size_t matches;
};

static void on_found(void *arg, const struct tekton_find_result *r)
{
    struct found *f = arg;
    f->calls++;
    f->status = r->status;
    f->matches = r->matches;
    snprintf(f->api, sizeof(f->api), "%s", r->api_version ? r->api_version : "");
    snprintf(f->name, sizeof(f->name), "%s", r->run ? r->run->name : "");
    snprintf(f->pipeline, sizeof(f->pipeline), "%s", r->run ? r->run->pipeline : "");
    snprintf(f->run_status, sizeof(f->run_status), "%s", r->run ? r->run->status : "");
    snprintf(f->reason, sizeof(f->reason), "%s", r->reason ? r->reason : "");
    snprintf(f->detail, sizeof(f->detail), "%s", r->detail ? r->detail : "");
    loop_stop(f->loop);
}

static struct found find(struct loop *l, struct httpc *h, const struct k8s_client *c,
                         const char *id)
{
    struct found f = {.loop = l};
    char err[200];
    struct tekton_find *tf =
        tekton_find_run_by_event(h, c, id, 3000, on_found, &f, err, sizeof(err));
    if (tf) loop_run(l);
    return f;
}

static void test_find(void)
{
    int port = fake_free_port();
    char *args[] = {"--token", "s3cret", NULL};
    pid_t pid = fake_start_args("k8s_fake.py", port, args);
    if (!ok(pid > 0, "k8s fake started on port %d", port)) return;
    char tokfile[] = "/tmp/drwatch-test-token-XXXXXX";
    int fd = mkstemp(tokfile);
    if (write(fd, "s3cret\n", 7) != 7) diag("token write failed");
    close(fd);
    struct k8s_target t = {.namespace = "ops-pipelines"};
    t.http.url = xasprintf("http://127.0.0.1:%d", port);
    t.http.bearer_token_file = tokfile;
    t.http.max_body_bytes = 1 << 20;
    struct k8s_client c;
    char err[300];
    int rc = k8s_client_init(&c, &t, "/nonexistent", err, sizeof(err));
    ok(rc == 0, "client for %s: %s", t.http.url, rc == 0 ? "ok" : err);
    struct loop *l = loop_new();
    struct httpc *h = httpc_new(l);

    struct found f = find(l, h, &c, "14a657c3-6816-45bf-b214-4afdaefc4ebd");
    ok(f.calls == 1 && f.status == TEKTON_FIND_FOUND &&
           strcmp(f.name, "switchover-golddr-8x2kq") == 0 && strcmp(f.run_status, "True") == 0 &&
           strcmp(f.pipeline, "switchover") == 0 && f.matches == 1 && strcmp(f.api, "v1") == 0,
       "the run of an event id is found (%s %s %s, %zu match)", f.name, f.run_status, f.api,
       f.matches);
    f = find(l, h, &c, "00000000-0000-0000-0000-000000000000");
    ok(f.calls == 1 && f.status == TEKTON_FIND_NOT_FOUND && f.matches == 0,
       "an event id without a run is not found");
    fake_control(port, "http", "state", "{\"tekton_versions\": [\"v1beta1\"]}");
    f = find(l, h, &c, "7d1f6b90-3c2e-4b8a-9a51-0f3e2d4c5b6a");
    ok(f.status == TEKTON_FIND_FOUND && strcmp(f.api, "v1beta1") == 0 &&
           strcmp(f.name, "switchover-golddr-c4nc1") == 0 && strcmp(f.run_status, "False") == 0,
       "where v1 is not served, v1beta1 answers (%s, %s)", f.api, f.name);
    fake_control(port, "http", "state", "{\"tekton_versions\": [], \"token\": \"other\"}");
    f = find(l, h, &c, "7d1f6b90-3c2e-4b8a-9a51-0f3e2d4c5b6a");
    ok(f.status == TEKTON_FIND_ERROR && strcmp(f.reason, "http_401") == 0 &&
           strcmp(f.detail, "Unauthorized") == 0,
       "a refused token is an error with the API's message (%s: %s)", f.reason, f.detail);
    fake_control(port, "http", "state", "{\"tekton_versions\": [], \"token\": \"s3cret\"}");
    f = find(l, h, &c, "7d1f6b90-3c2e-4b8a-9a51-0f3e2d4c5b6a");
    ok(f.status == TEKTON_FIND_ERROR && strcmp(f.reason, "http_404") == 0,
       "no Tekton at all: http_404 (%s: %s)", f.reason, f.detail);
    struct found none = {.loop = l};
    ok(!tekton_find_run_by_event(h, &c, "a=b,c", 1000, on_found, &none, err, sizeof(err)) &&
           strstr(err, "not a Kubernetes label value"),
       "an event id that could change the selector is refused: %s", err);
    fake_control(port, "http", "reset", "{}");
    fake_control(port, "http", "mode", "{\"path\": \"*\", \"mode\": \"slow\", \"ms\": 300}");
    struct tekton_find *tf = tekton_find_run_by_event(h, &c, "14a657c3-6816-45bf-b214-4afdaefc4ebd",
                                                      3000, on_found, &none, err, sizeof(err));
    tekton_find_cancel(tf);
    ok(none.calls == 0, "a cancelled lookup never calls back");

    httpc_free(h);
    loop_free(l);
    k8s_client_clear(&c);
    free(t.http.url);
    unlink(tokfile);
    fake_stop(pid);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    run_all();
    test_paging_and_caps();
    test_find();
    curl_global_cleanup();
    return done_testing();
}
