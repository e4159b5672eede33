/* test_alertstate.c: the alert state machine against Prometheus 2.42's
 * rules/alerting.go (Eval) and rules/manager.go (RestoreForState), as
 * timelines: which label sets the expression returns at each evaluation, and
 * every instance's state, active_at and resolved_at after it. Pending to firing
 * after `for` (at once for for = 0), resolved when absent (kept 15 minutes,
 * then dropped), a pending alert that disappears is forgotten, keep_firing_for
 * holds a firing alert and is reset when the condition returns, a resolved
 * alert that comes back is a new alert, value and annotations follow the last
 * evaluation, duplicate label sets are refused, and many instances stay fast.
 * Then the `for` restore after a restart. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alertstate.h"
#include "tap.h"
#include "xalloc.h"

/* Instance "x" has the canonical labels alertname="A",i="x". */
static char *labels_of(const char *name)
{
    return xasprintf("alertname=\"A\",i=\"%s\"", name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every instance as "x:P@0" (pending, active at 0), "x:F@0" (firing) or
 * "x:I@0/r240" (resolved at 240), sorted, space-separated. */
static const char *summary(const struct alert_rule_state *rs)
{
    static char out[4096];
    char *parts[64] = {0};
    size_t n = alertstate_count(rs);
    if (n > ARRAY_LEN(parts)) n = ARRAY_LEN(parts);
    for (size_t i = 0; i < n; i++) {
        const struct alert_instance *a = alertstate_at(rs, i);
        const char *q = strstr(a->labels, "i=\"");
        char name[32];
        snprintf(name, sizeof(name), "%.*s", q ? (int)strcspn(q + 3, "\"") : 1, q ? q + 3 : "?");
        char st = a->state == ALERT_PENDING ? 'P' : a->state == ALERT_FIRING ? 'F' : 'I';
        if (a->state == ALERT_INACTIVE)
            parts[i] = xasprintf("%s:%c@%g/r%g", name, st, a->active_at, a->resolved_at);
        else
            parts[i] = xasprintf("%s:%c@%g", name, st, a->active_at);
    }
    qsort(parts, n, sizeof(char *), cmp_str);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i) strcat(out, " ");
        strcat(out, parts[i]);
        free(parts[i]);
    }
    return out;
}

/* Applies one evaluation: present is a space-separated list of instance names.
 */
static int eval_names(struct alert_rule_state *rs, double t, double for_s, double keep_s,
                      const char *present, double value)
{
    struct alert_element els[64];
    char *owned[64];
    size_t n = 0;
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", present);
    for (char *save, *tok = strtok_r(copy, " ", &save); tok && n < 64;
         tok = strtok_r(NULL, " ", &save)) {
        owned[n] = labels_of(tok);
        els[n] = (struct alert_element){.labels = owned[n], .value = value};
        n++;
    }
    int rc = alertstate_update(rs, t, for_s, keep_s, els, n);
    for (size_t i = 0; i < n; i++) free(owned[i]);
    return rc;
}

struct step {
    double t;
    const char *present;
    const char *want;
};

static void run_timeline(const char *name, double for_s, double keep_s, const struct step *steps,
                         size_t n)
{
    struct alert_rule_state *rs = alertstate_new();
    for (size_t i = 0; i < n; i++) {
        is_int(eval_names(rs, steps[i].t, for_s, keep_s, steps[i].present, 1), 0, "%s: t=%g update",
               name, steps[i].t);
        is_str(summary(rs), steps[i].want, "%s: t=%g [%s] -> %s", name, steps[i].t,
               steps[i].present, steps[i].want[0] ? steps[i].want : "(nothing)");
    }
    alertstate_free(rs);
}

#define TIMELINE(name, for_s, keep_s, ...)                            \
    do {                                                              \
        static const struct step steps_[] = {__VA_ARGS__};            \
        run_timeline(name, for_s, keep_s, steps_, ARRAY_LEN(steps_)); \
    } while (0)

static void test_timelines(void)
{
    TIMELINE("for 2m", 120, 0, {0, "a", "a:P@0"}, {60, "a", "a:P@0"},
             {119, "a", "a:P@0"},                          /* t - active_at = 119 < 120 */
             {120, "a", "a:F@0"},                          /* >= for: fires */
             {180, "a", "a:F@0"}, {240, "", "a:I@0/r240"}, /* absent: resolved, kept */
             {300, "", "a:I@0/r240"},                      /* resolved_at stays */
             {1140, "", "a:I@0/r240"}, /* 900 s after resolving: not more than the retention */
             {1141, "", ""});          /* 901 s: dropped */
    TIMELINE("for 0 fires at once", 0, 0, {0, "a", "a:F@0"}, {60, "a b", "a:F@0 b:F@60"},
             {120, "b", "a:I@0/r120 b:F@60"});
    TIMELINE("a pending alert that disappears is forgotten", 300, 0, {0, "a", "a:P@0"},
             {60, "", ""}, {120, "a", "a:P@120"}, /* back: a new active_at */
             {420, "a", "a:F@120"});
    TIMELINE("resolved and back: a new alert", 60, 0, {0, "a", "a:P@0"}, {60, "a", "a:F@0"},
             {120, "", "a:I@0/r120"}, {180, "a", "a:P@180"}, {240, "a", "a:F@180"});
    TIMELINE("resolved and back with for 0: firing again at once", 0, 0, {0, "a", "a:F@0"},
             {60, "", "a:I@0/r60"}, {120, "a", "a:F@120"});
    TIMELINE("keep_firing_for holds a firing alert", 0, 120, {0, "a", "a:F@0"},
             {60, "", "a:F@0"},       /* held since 60 */
             {120, "", "a:F@0"},      /* 60 < 120 */
             {180, "", "a:I@0/r180"}, /* 120: not < 120: resolved now */
             {240, "", "a:I@0/r180"}, {1080, "", "a:I@0/r180"}, {1081, "", ""});
    TIMELINE("keep_firing_for resets when the condition returns", 0, 120, {0, "a", "a:F@0"},
             {60, "", "a:F@0"}, {120, "a", "a:F@0"}, /* back: the hold is reset */
             {180, "", "a:F@0"},                     /* held again from 180 */
             {240, "", "a:F@0"},                     /* 60 < 120: the old hold would end */
             {300, "", "a:I@0/r300"});
    TIMELINE("keep_firing_for does not hold a pending alert", 120, 600, {0, "a", "a:P@0"},
             {60, "", ""});
    TIMELINE("keep_firing_for after for", 60, 60, {0, "a", "a:P@0"}, {60, "a", "a:F@0"},
             {120, "", "a:F@0"}, {180, "", "a:I@0/r180"}, {240, "a", "a:P@240"});
    TIMELINE("independent instances", 60, 0, {0, "a", "a:P@0"}, {30, "a b", "a:P@0 b:P@30"},
             {60, "a b", "a:F@0 b:P@30"}, {90, "b c", "a:I@0/r90 b:F@30 c:P@90"},
             {120, "", "a:I@0/r90 b:I@30/r120"});
    TIMELINE("an absent inactive alert stays resolved at its first time", 0, 300, {0, "a", "a:F@0"},
             {10, "", "a:F@0"}, {400, "", "a:I@0/r400"}, {500, "", "a:I@0/r400"});
}

static void test_values_and_annotations(void)
{
    struct alert_rule_state *rs = alertstate_new();
    const char *names[] = {"summary", "description"};
    const char *v1[] = {"load 1", "first"}, *v2[] = {"load 2", "second"};
    struct alert_element e = {"alertname=\"A\"", 1, names, v1, 2};
    is_int(alertstate_update(rs, 0, 60, 0, &e, 1), 0, "first evaluation");
    struct alert_instance *a = alertstate_find(rs, "alertname=\"A\"");
    ok(a && a->value == 1 && a->nannotations == 2, "value and annotations recorded");
    if (!a) return;
    is_str(a->annotation_values[0], "load 1", "annotation value");
    e = (struct alert_element){"alertname=\"A\"", 2, names, v2, 2};
    must(alertstate_update(rs, 30, 60, 0, &e, 1));
    a = alertstate_find(rs, "alertname=\"A\"");
    ok(a->value == 2 && a->active_at == 0, "pending: value follows, active_at stays");
    is_str(a->annotation_values[1], "second", "pending: annotations follow");
    e = (struct alert_element){"alertname=\"A\"", 3, names, v1, 1};
    must(alertstate_update(rs, 60, 60, 0, &e, 1));
    a = alertstate_find(rs, "alertname=\"A\"");
    ok(a->state == ALERT_FIRING && a->value == 3 && a->fired_at == 60,
       "firing: value follows, fired_at set");
    is_int(a->nannotations, 1, "annotations replaced as a whole");
    is_str(a->annotation_names[0], "summary", "the one annotation left");
    must(alertstate_update(rs, 120, 60, 0, NULL, 0));
    a = alertstate_find(rs, "alertname=\"A\"");
    ok(a->state == ALERT_INACTIVE && a->value == 3 && a->nannotations == 1,
       "resolved: the last value and annotations are kept for the resolution");
    e = (struct alert_element){"alertname=\"A\"", 4, NULL, NULL, 0};
    must(alertstate_update(rs, 180, 60, 0, &e, 1));
    a = alertstate_find(rs, "alertname=\"A\"");
    ok(a->state == ALERT_PENDING && a->value == 4 && a->nannotations == 0 && a->fired_at == 0 &&
           a->resolved_at == 0 && a->active_at == 180,
       "back after resolving: everything new");
    ok(alertstate_find(rs, "alertname=\"B\"") == NULL, "find: unknown labels");
    alertstate_free(rs);
}

static void test_duplicates(void)
{
    struct alert_rule_state *rs = alertstate_new();
    is_int(eval_names(rs, 0, 60, 0, "a b", 1), 0, "two instances");
    is_int(eval_names(rs, 60, 60, 0, "a c c", 1), -EEXIST,
           "the same label set twice is refused (ErrDuplicateAlertLabelSet)");
    is_str(summary(rs), "a:P@0 b:P@0", "and nothing changed");
    is_int(eval_names(rs, 60, 60, 0, "a b", 1), 0, "the next good evaluation applies");
    is_str(summary(rs), "a:F@0 b:F@0", "as if the refused one never happened");
    is_int(eval_names(rs, 70, 60, 0, "x y z x", 1), -EEXIST,
           "duplicates far apart are refused too");
    alertstate_free(rs);
    alertstate_free(NULL);
    ok(1, "alertstate_free(NULL) is fine");
}

static void test_names(void)
{
    is_str(alert_state_name(ALERT_INACTIVE), "inactive", "inactive");
    is_str(alert_state_name(ALERT_PENDING), "pending", "pending");
    is_str(alert_state_name(ALERT_FIRING), "firing", "firing");
    ok(alert_fingerprint("a=\"1\"") == alert_fingerprint("a=\"1\""), "fingerprint is stable");
    ok(alert_fingerprint("a=\"1\"") != alert_fingerprint("a=\"2\""), "and tells label sets apart");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_many(void)
{
    enum { N = 20000 };
    char **labels = xcalloc(N, sizeof(char *));
    struct alert_element *els = xcalloc(N, sizeof(*els));
    for (size_t i = 0; i < N; i++) {
        labels[i] = xasprintf("alertname=\"Many\",instance=\"host-%05zu:9100\"", i);
        els[i] = (struct alert_element){.labels = labels[i], .value = (double)i};
    }
    struct alert_rule_state *rs = alertstate_new();
    double t0 = now_s();
    is_int(alertstate_update(rs, 0, 60, 0, els, N), 0, "%d instances", N);
    is_int(alertstate_count(rs), N, "all of them kept");
    /* Evens only (reversed order), then all again. */
    struct alert_element *evens = xcalloc(N / 2, sizeof(*evens));
    for (size_t i = 0; i < N / 2; i++) evens[i] = els[N - 2 - 2 * i];
    must(alertstate_update(rs, 30, 60, 0, evens, N / 2));
    is_int(alertstate_count(rs), N / 2, "the pending odd ones are forgotten");
    must(alertstate_update(rs, 60, 60, 0, els, N));
    is_int(alertstate_count(rs), N, "back to all");
    size_t firing = 0, pending = 0, right_value = 0;
    for (size_t i = 0; i < alertstate_count(rs); i++) {
        const struct alert_instance *a = alertstate_at(rs, i);
        firing += a->state == ALERT_FIRING && a->active_at == 0;
        pending += a->state == ALERT_PENDING && a->active_at == 60;
        struct alert_instance *f = alertstate_find(rs, a->labels);
        right_value +=
            f == a && labels[(size_t)a->value] && strcmp(labels[(size_t)a->value], a->labels) == 0;
    }
    is_int(firing, N / 2, "the evens fire (active since 0)");
    is_int(pending, N / 2, "the odds are new (active since 60)");
    is_int(right_value, N, "every instance has its own value, and find finds it");
    ok(alertstate_at(rs, N) == NULL, "alertstate_at past the end is NULL");
    for (int k = 0; k < 20; k++) must(alertstate_update(rs, 90 + k, 60, 0, els, N));
    must(alertstate_update(rs, 200, 60, 0, NULL, 0));
    is_int(alertstate_count(rs), N / 2, "all absent: the firing ones resolve, the pending go");
    double took = now_s() - t0;
    ok(took < 2.0, "24 evaluations of %d instances in %.3f s (hashed, not quadratic)", N, took);
    /* A duplicate at the far end of a large evaluation is still found. */
    els[N - 1].labels = labels[0];
    is_int(alertstate_update(rs, 300, 60, 0, els, N), -EEXIST, "a duplicate among %d is refused",
           N);
    is_int(alertstate_count(rs), N / 2, "and nothing changed");
    alertstate_free(rs);
    for (size_t i = 0; i < N; i++) free(labels[i]);
    free(labels);
    free(els);
    free(evens);
}

/* RestoreForState: one instance, seen at the first evaluation after the restart
 * (now), with its active_at from before (saved) and the last time the state was
 * saved (down). */
struct restore_case {
    const char *what;
    double for_s, grace_s, saved, down, now;
    const char *want_state; /* right after the restore */
    double want_active_at;
    double fires_at; /* the first later evaluation time (step 100) at which it
                        fires */
};

static void test_restore(void)
{
    static const struct restore_case cases[] = {
        /* Time spent pending before the outage counts; the outage does not. */
        {"1h for, 1000 s pending, 300 s down", 3600, 600, 0, 1000, 1300, "pending", 300, 3900},
        /* Less than the grace period left: fires no sooner than grace after the
           restart. */
        {"300 s left < 10m grace", 3600, 600, 0, 3300, 3600, "pending", 600, 4200},
        {"1 s left < 10m grace", 3600, 600, 0, 3599, 7000, "pending", 4000, 7600},
        /* It had fired: it fires again at once. */
        {"fired before the restart", 3600, 600, 0, 4000, 4500, "firing", 0, 4500},
        {"exactly for pending before the restart", 3600, 600, 0, 3600, 3700, "firing", 0, 3700},
        /* for == grace: restored (only for < grace is skipped). */
        {"for == grace, 100 s left", 600, 600, 0, 500, 1000, "pending", 1000, 1600},
        /* for < grace: Prometheus skips the restore; the alert waits `for` again.
         */
        {"for 5m < 10m grace, fired before", 300, 600, 0, 1000, 1200, "pending", 1200, 1500},
        {"for 5m < 10m grace, pending before", 300, 600, 0, 200, 1200, "pending", 1200, 1500},
        /* for 0: nothing to restore, it fired at the first evaluation. */
        {"for 0", 0, 600, 0, 100, 200, "firing", 200, 200},
        /* No grace period: remaining time only. */
        {"no grace, 100 s left", 3600, 0, 0, 3500, 5000, "pending", 1500, 5100},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const struct restore_case *c = &cases[i];
        struct alert_rule_state *rs = alertstate_new();
        struct alert_element e = {.labels = "alertname=\"R\"", .value = 1};
        must(alertstate_update(rs, c->now, c->for_s, 0, &e, 1));
        struct alert_instance *a = alertstate_find(rs, e.labels);
        alertstate_restore(a, c->now, c->for_s, c->saved, c->down, c->grace_s);
        a = alertstate_find(rs, e.labels);
        is_str(alert_state_name(a->state), c->want_state, "restore: %s: state", c->what);
        ok(a->active_at == c->want_active_at, "restore: %s: active_at %g (want %g)", c->what,
           a->active_at, c->want_active_at);
        double fired = a->state == ALERT_FIRING ? c->now : -1;
        for (double t = c->now + 100; fired < 0 && t < c->now + 20000; t += 100) {
            must(alertstate_update(rs, t, c->for_s, 0, &e, 1));
            if (alertstate_find(rs, e.labels)->state == ALERT_FIRING) fired = t;
        }
        ok(fired == c->fires_at, "restore: %s: fires at %g (want %g)", c->what, fired, c->fires_at);
        alertstate_free(rs);
    }

    /* Only a fresh pending instance is restored; a firing one is left alone. */
    struct alert_rule_state *rs = alertstate_new();
    struct alert_element e = {.labels = "alertname=\"R\"", .value = 1};
    must(alertstate_update(rs, 100, 0, 0, &e, 1));
    struct alert_instance *a = alertstate_find(rs, e.labels);
    alertstate_restore(a, 100, 3600, 0, 50, 600);
    ok(a->state == ALERT_FIRING && a->active_at == 100, "a firing instance is not touched");
    alertstate_free(rs);
    /* restored is set when active_at came from the state file. */
    rs = alertstate_new();
    must(alertstate_update(rs, 1300, 3600, 0, &e, 1));
    a = alertstate_find(rs, e.labels);
    alertstate_restore(a, 1300, 3600, 0, 1000, 600);
    ok(a->restored, "restored is set");
    must(alertstate_update(rs, 1360, 3600, 0, &e, 1));
    ok(alertstate_find(rs, e.labels)->active_at == 300, "the restored active_at is kept");
    alertstate_free(rs);
}

int main(void)
{
    test_timelines();
    test_values_and_annotations();
    test_duplicates();
    test_names();
    test_many();
    test_restore();
    return done_testing();
}
