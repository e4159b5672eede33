/* test_configmap.c: switchover-state ConfigMap bodies (tests/data/configmap/<case>.json, as
 * the existing agent and people write them) through configmap_map into golden /metrics text
 * (<case>.prom) or the failure reason in <case>.err; a missing ConfigMap; the resourceVersion
 * change count across edits, deletion and re-creation; and the timestamp formats read
 * (timeparse.h, and configmap_parse_ts).
 *
 * Run from the repository root. DRWATCH_UPDATE_GOLDEN=1 rewrites the golden files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "configmap.h"
#include "golden.h"
#include "registry.h"
#include "tap.h"
#include "timeparse.h"
#include "xalloc.h"

#define DIR_ "tests/data/configmap/"
#define NOW  1718013000.0

static const struct configmap_view view = {.site = "gold",
                                           .target = "ops/switchover-state-dev",
                                           .namespace = "ops",
                                           .configmap = "switchover-state-dev"};

static void golden(const char *name, const char *got)
{
    char *path = xasprintf(DIR_ "%s.prom", name);
    golden_check(path, got, "%s: /metrics as golden", name);
    free(path);
}

/* Maps body (NULL: missing) with a fresh track; returns the rendered text or NULL. */
static char *map(const char *body, const char **reason, struct configmap_obs_flags *fl)
{
    struct configmap_track tr = {0};
    struct metric_set *set = mset_new();
    char err[300];
    int rc = configmap_map(body, body ? strlen(body) : 0, &view, &tr, NOW, set, fl, reason, err,
                           sizeof(err));
    char *out = rc == 0 ? golden_render_text(set) : NULL;
    if (rc == 0) *reason = NULL;
    mset_unref(set);
    return out;
}

static void run_case(const char *name)
{
    char *path = xasprintf(DIR_ "%s.json", name), *errpath = xasprintf(DIR_ "%s.err", name);
    char *body = golden_slurp(path), *want_err = golden_slurp(errpath);
    const char *reason = NULL;
    struct configmap_obs_flags fl;
    char *got = map(body ? body : "", &reason, &fl);
    if (want_err) {
        want_err[strcspn(want_err, "\n")] = '\0';
        ok(!got && reason && strcmp(reason, want_err) == 0, "%s: refused as %s (%s)", name,
           want_err, reason ? reason : "accepted");
    } else {
        ok(got != NULL, "%s: accepted", name);
        golden(name, got ? got : "");
        ok(fl.bad_timestamp == (strcmp(name, "bad-ts") == 0), "%s: bad_timestamp flag", name);
        if (strcmp(name, "agent-golddr-primary") == 0)
            is_str(fl.last_stable_state, "golddr-primary", "%s: the state the peer is told", name);
    }
    free(got);
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
    const char *reason;
    struct configmap_obs_flags fl;
    char *got = map(NULL, &reason, &fl);
    golden("missing", got ? got : "");
    free(got);
}

/* Edits, deletion and re-creation each count once; the first observation does not. */
static void test_changes(void)
{
    static const char *const rvs[] = {"1", "1", "2", NULL, NULL, "5", "5"};
    struct configmap_track tr = {0};
    double changes = -1, last = -1;
    for (size_t i = 0; i < ARRAY_LEN(rvs); i++) {
        char *body = rvs[i] ? xasprintf("{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\","
                                        "\"resourceVersion\":\"%s\"},\"data\":{}}",
                                        rvs[i])
                            : NULL;
        struct metric_set *set = mset_new();
        struct configmap_obs_flags fl;
        const char *reason;
        char err[200];
        /* Some bodies are refused on purpose: asked is only that nothing leaks or crashes. */
        DRW_IGNORE(configmap_map(body, body ? strlen(body) : 0, &view, &tr, 1000.0 + (double)i, set,
                                 &fl, &reason, err, sizeof(err)));
        free(body);
        mset_unref(set);
    }
    changes = (double)tr.changes;
    last = tr.last_change;
    ok(changes == 3, "1 -> 1 -> 2 -> missing -> missing -> 5 -> 5: three changes (%g)", changes);
    ok(last == 1005.0, "the last change is when 5 appeared (%g)", last);
}

static void test_times(void)
{
    static const struct {
        const char *s;
        unsigned flags;
        double want; /* NAN: refused */
    } cases[] = {
        {"2024-06-10T09:41:17Z", 0, 1718012477},
        {"2024-06-10T09:41:17.25Z", 0, 1718012477.25},
        {"2024-06-10t09:41:17z", 0, 1718012477},
        {"2024-06-10T11:41:17+02:00", 0, 1718012477},
        {"2024-06-10T04:41:17-0500", 0, 1718012477},
        {"2024-06-10 09:41:17 +0000", 0, 1718012477},
        {"2024-06-10 09:41:17 UTC", 0, 1718012477},
        {"2024-06-10T09:41:17", TIMEPARSE_NAIVE_UTC, 1718012477},
        {"2022-05-17T22:45:04.591398", TIMEPARSE_NAIVE_UTC, 1652827504.591398},
        {"1970-01-01T00:00:00Z", 0, 0},
        {"1969-12-31T23:59:59Z", 0, -1},
        {"2000-02-29T00:00:00Z", 0, 951782400},
        {"2024-06-10T09:41:17", 0, NAN},
        {"2023-02-29T00:00:00Z", 0, NAN},
        {"2024-13-01T00:00:00Z", 0, NAN},
        {"2024-06-10T24:00:00Z", 0, NAN},
        {"2024-06-10T09:41Z", 0, NAN},
        {"2024-06-10T09:41:17.Z", 0, NAN},
        {"2024-06-10T09:41:17Zjunk", 0, NAN},
        {"2024-06-10T09:41:17 ", TIMEPARSE_NAIVE_UTC, NAN},
        {"2024-06-10T09:41:17+2", 0, NAN},
        {"", TIMEPARSE_NAIVE_UTC, NAN},
        {"yesterday", TIMEPARSE_NAIVE_UTC, NAN},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        double t = NAN;
        int rc = timeparse_iso(cases[i].s, strlen(cases[i].s), cases[i].flags, &t);
        if (isnan(cases[i].want))
            ok(rc < 0, "timeparse refuses \"%s\"", cases[i].s);
        else
            ok(rc == 0 && fabs(t - cases[i].want) < 1e-6, "timeparse \"%s\" = %.6f (%.6f)",
               cases[i].s, cases[i].want, t);
    }
    double t;
    ok(configmap_parse_ts("1718012477", &t) == 0 && t == 1718012477, "Unix seconds are read");
    ok(configmap_parse_ts("1718012477.5", &t) == 0 && t == 1718012477.5, "with a fraction");
    ok(configmap_parse_ts("17180x", &t) < 0, "but not junk after digits");
    ok(configmap_parse_ts("2022-05-17T22:45:04.591398", &t) == 0, "the agent's format is read");
}

int main(void)
{
    run_all();
    test_changes();
    test_times();
    return done_testing();
}
