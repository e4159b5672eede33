/* test_fluentd.c: FluentD monitor_agent bodies (tests/data/fluentd/<case>.json) through
 * fluentd_map into golden /metrics text (<case>.prom), or into the failure reason named by
 * <case>.err. The cases cover the reference sample, each version's defaults (1.19.2 with
 * config and retry, 1.19.3 without, 1.18 without the 1.19 counters, 1.13 without emit_records
 * on inputs), buffered and unbuffered outputs, time-keyed buffers, odd types, and malformed
 * bodies. Also: the plugin cap.
 *
 * Run from the repository root. DRWATCH_UPDATE_GOLDEN=1 rewrites the golden files from the
 * current output; review the diff before committing it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fluentd.h"
#include "golden.h"
#include "registry.h"
#include "tap.h"
#include "xalloc.h"

#define DIR_ "tests/data/fluentd/"

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
    struct fluentd_map_opts o = {.site = "gold", .target = "fluentd-0"};
    struct fluentd_map_stats st;
    struct metric_set *set = mset_new();
    const char *reason = NULL;
    char err[300] = "";
    int rc = fluentd_map(body ? body : "", body ? strlen(body) : 0, &o, set, &st, &reason, err,
                         sizeof(err));
    if (want_err) {
        want_err[strcspn(want_err, "\n")] = '\0';
        ok(rc < 0 && reason && strcmp(reason, want_err) == 0, "%s: refused as %s (%s: %s)", name,
           want_err, reason ? reason : "accepted", err);
        ok(mset_sample_count(set) == 0, "%s: no samples from a refused body", name);
    } else {
        if (!ok(rc == 0, "%s: accepted", name)) diag("%s: %s", reason, err);
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

static void test_stats(void)
{
    char *body = golden_slurp(DIR_ "fluentd-1.19.2-defaults.json");
    struct fluentd_map_opts o = {.site = "golddr", .target = "t", .max_plugins = 2};
    struct fluentd_map_stats st;
    const char *reason;
    char err[200];
    struct metric_set *set = mset_new();
    int rc = fluentd_map(body, strlen(body), &o, set, &st, &reason, err, sizeof(err));
    ok(rc == 0 && st.plugins == 2 && st.truncated, "max_plugins 2: two exported, truncated");
    char *got = golden_render_text(set);
    ok(got && !strstr(got, "out_es"), "the third plugin (out_es) is not exported");
    free(got);
    mset_unref(set);
    set = mset_new();
    o.max_plugins = 0;
    must(fluentd_map(body, strlen(body), &o, set, &st, &reason, err, sizeof(err)));
    ok(st.plugins == 5 && !st.truncated && st.retry_state,
       "1.19.2 defaults: five plugins, retry state shown");
    mset_unref(set);
    free(body);
    body = golden_slurp(DIR_ "reference-1.19.3.json");
    set = mset_new();
    must(fluentd_map(body, strlen(body), &o, set, &st, &reason, err, sizeof(err)));
    ok(st.plugins == 4 && !st.retry_state, "1.19.3 defaults: no retry state, nothing invented");
    mset_unref(set);
    free(body);
    body = golden_slurp(DIR_ "odd-types.json");
    set = mset_new();
    must(fluentd_map(body, strlen(body), &o, set, &st, &reason, err, sizeof(err)));
    ok(st.skipped == 6, "entries without a string plugin_id are skipped (%zu)", st.skipped);
    mset_unref(set);
    free(body);
}

int main(void)
{
    run_all();
    test_stats();
    return done_testing();
}
