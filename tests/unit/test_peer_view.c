/* test_peer_view.c: the peer view (site/peer_view.h) both ways. A peer's documents
 * (tests/data/peer/<case>.json) through peerview_to_metrics into golden /metrics text
 * (<case>.prom) or into the failure reason named by <case>.err: every class and probe status,
 * unknown keys ignored, and malformed, oversized, mistyped, out-of-range, duplicate-key and
 * wrong-site documents refused. Then this site's view rendered and read back, including after
 * an entry is dropped from the middle of the table.
 *
 * Run from the repository root. DRWATCH_UPDATE_GOLDEN=1 rewrites the golden files from the
 * current output; review the diff before committing it. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "golden.h"
#include "peer_view.h"
#include "registry.h"
#include "tap.h"
#include "xalloc.h"

#define DIR_       "tests/data/peer/"
#define LOCAL_TIME 1794999999.75 /* the documents say 1795000000.5: skew 0.75 s */

static void golden(const char *name, const char *got)
{
    char *path = xasprintf(DIR_ "%s.prom", name);
    golden_check(path, got, "%s: /metrics as golden", name);
    free(path);
}

static void run_case(const char *name)
{
    char *path = xasprintf(DIR_ "%s.json", name), *errpath = xasprintf(DIR_ "%s.err", name);
    char *body = golden_slurp(path), *want_err = golden_slurp(errpath);
    struct metric_set *set = mset_new();
    const char *reason = NULL;
    char detail[300] = "";
    int rc = peerview_to_metrics(body ? body : "", body ? strlen(body) : 0, "golddr", LOCAL_TIME,
                                 0.0125, set, &reason, detail, sizeof(detail));
    if (want_err) {
        want_err[strcspn(want_err, "\n")] = '\0';
        ok(rc < 0 && reason && strcmp(reason, want_err) == 0, "%s: refused as %s (%s: %s)", name,
           want_err, reason ? reason : "accepted", detail);
    } else {
        if (!ok(rc == 0, "%s: accepted", name)) diag("%s: %s", reason, detail);
        char *got = golden_render_text(set);
        golden(name, got);
        free(got);
    }
    mset_unref(set);
    free(body);
    free(want_err);
    free(path);
    free(errpath);
}

static void run_cases(void)
{
    char *names[256];
    int n = golden_cases(DIR_, ".json", names, 256);
    if (!ok(n >= 0, "%s exists (run from the repository root)", DIR_)) return;
    for (int i = 0; i < n; i++) {
        run_case(names[i]);
        free(names[i]);
    }
    ok(n >= 20, "%d documents tried", n);
}

/* Looks a series up in rendered text: its value, or -1. */
static double series(const char *text, const char *s)
{
    const char *p = strstr(text, s);
    return p && p[strlen(s)] == ' ' ? strtod(p + strlen(s) + 1, NULL) : -1;
}

static void test_roundtrip(void)
{
    struct peerview *view = peerview_new();
    int owners[3];
    const char *names[3] = {"system", "10.0.0.53:53", "10.0.0.54:53"};
    const char *classes[3] = {"gold", "error", "golddr"};
    for (int i = 0; i < 3; i++) {
        struct peerview_lookup l = {.name = "ggw.glb.test",
                                    .resolver = names[i],
                                    .class_name = classes[i],
                                    .status = i == 1 ? "servfail" : "ok",
                                    .ttl = i == 1 ? -1 : 30,
                                    .held = (uint64_t)(10 + i),
                                    .changes = 1,
                                    .since = 1795000000 - 60,
                                    .observed = 1795000000 - 1,
                                    .duration_s = 0.002};
        l.naddrs = i == 1 ? 0 : 1;
        inet_pton(AF_INET, "142.34.229.4", &l.addrs[0]);
        peerview_put_lookup(view, &owners[i], &l);
    }
    struct peerview_probe p = {.site = "gold",
                               .probe = "https://142.34.229.4/health",
                               .status = "wrong_body",
                               .reason = "body_mismatch",
                               .http_status = 200,
                               .held = 7,
                               .observed = 1795000000 - 2,
                               .duration_s = 0.02};
    int probe_owner;
    peerview_put_probe(view, &probe_owner, &p);
    peerview_drop(view, &owners[1]); /* from the middle: the later entries move */
    peerview_set_state(view, "golddr-primary");
    struct buf out;
    buf_init(&out, 1 << 20);
    ok(peerview_render(view, &out, "gold", 1795000000) == 0 &&
           strstr(out.data, "\"format\":\"drwatch-peer-view/1\""),
       "the view renders");
    ok(!strstr(out.data, "10.0.0.53:53") && strstr(out.data, "10.0.0.54:53"),
       "a dropped entry is gone and the one after it intact");
    struct metric_set *set = mset_new();
    const char *reason = NULL;
    char detail[300] = "";
    int rc = peerview_to_metrics(out.data, out.len, "gold", 1795000000, 0.01, set, &reason, detail,
                                 sizeof(detail));
    if (!ok(rc == 0, "this site's view reads back")) diag("%s: %s", reason, detail);
    char *text = golden_render_text(set);
    ok(series(text, "drwatch_peer_gslb_answer_class{class=\"golddr\",resolver=\"10.0.0.54:53\","
                    "site=\"gold\"}") == 1,
       "its classes come through");
    ok(series(text, "drwatch_peer_gslb_class_held_samples{resolver=\"system\",site=\"gold\"}") ==
           10,
       "held samples come through");
    ok(series(text, "drwatch_peer_probe_status{probe=\"https://142.34.229.4/health\","
                    "probe_site=\"gold\",site=\"gold\",status=\"wrong_body\"}") == 1,
       "probe statuses come through");
    ok(strstr(text, "state=\"golddr-primary\"") != NULL, "and the DR state");
    ok(series(text, "drwatch_peer_clock_skew_seconds{site=\"gold\"}") == 0,
       "no skew with one clock");
    free(text);
    mset_unref(set);
    buf_free(&out);

    /* The table is capped: more owners than PEERVIEW_MAX_LOOKUPS are left out, softly. */
    peerview_free(view);
    view = peerview_new();
    int many[PEERVIEW_MAX_LOOKUPS + 5];
    for (size_t i = 0; i < ARRAY_LEN(many); i++) {
        char r[16];
        snprintf(r, sizeof(r), "r%zu", i);
        peerview_put_lookup(view, &many[i],
                            &(struct peerview_lookup){
                                .resolver = r, .class_name = "gold", .status = "ok", .ttl = -1});
    }
    buf_init(&out, 1 << 20);
    must(peerview_render(view, &out, "gold", 1795000000));
    set = mset_new();
    rc = peerview_to_metrics(out.data, out.len, "gold", 1795000000, 0.01, set, &reason, detail,
                             sizeof(detail));
    ok(rc == 0 && strstr(out.data, "\"r31\"") && !strstr(out.data, "\"r32\""),
       "the view keeps at most %d lookups and still reads back", PEERVIEW_MAX_LOOKUPS);
    mset_unref(set);
    buf_free(&out);
    peerview_free(view);
}

int main(void)
{
    run_cases();
    test_roundtrip();
    return done_testing();
}
