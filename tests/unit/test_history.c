/* test_history.c: the range functions against PromQL 2.42's promql/functions.go, on series
 * computed by hand: extrapolatedRate (rate, increase, delta) with counter resets, the
 * extrapolation threshold and the zero-point rule; irate with a reset; the *_over_time
 * functions (Kahan sums and the incremental mean, NaN in min and max). Ranges include both
 * ends ([t - range, t], as Prometheus 2.x). Then the bookkeeping: pruning, the point cap and
 * its counted refusals, and the per-track hash index with thousands of series. */
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "tap.h"
#include "xalloc.h"

struct result {
    char labels[64];
    double value;
};

struct results {
    struct result r[8];
    size_t n;
};

static void collect(void *arg, const char *labels, size_t len, double value)
{
    struct results *rs = arg;
    if (rs->n == ARRAY_LEN(rs->r)) return;
    snprintf(rs->r[rs->n].labels, sizeof(rs->r[0].labels), "%.*s", (int)len, labels);
    rs->r[rs->n++].value = value;
}

/* A track with one series: the points (t, v), as recorded one evaluation after another. */
static struct history *one_series(struct track **tr, const double *t, const double *v, size_t n)
{
    struct history *h = history_new(100000);
    int is_new;
    *tr = history_track(h, "x", 3600, &is_new);
    for (size_t i = 0; i < n; i++) history_record(h, *tr, t[i], "a=\"1\"", 5, v[i]);
    return h;
}

/* fn over the series at time t with range; NAN when there is no result. */
static double eval1(const struct track *tr, enum range_fn fn, double t, double range)
{
    struct results rs = {0};
    history_eval(tr, fn, t, range, collect, &rs);
    return rs.n ? rs.r[0].value : NAN;
}

static bool near(double got, double want)
{
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return fabs(got - want) <= 1e-12 * (fabs(want) > 1 ? fabs(want) : 1);
}

#define IS_NEAR(got, want, ...)                                                      \
    do {                                                                             \
        double g_ = (got), w_ = (want);                                              \
        if (!ok(near(g_, w_), __VA_ARGS__)) diag("  got %.17g, want %.17g", g_, w_); \
    } while (0)

static void test_rate(void)
{
    struct track *tr;
    /* 1/s, samples at the range's both ends: no extrapolation at all. */
    {
        double t[] = {0, 15, 30, 45, 60}, v[] = {0, 15, 30, 45, 60};
        struct history *h = one_series(&tr, t, v, 5);
        IS_NEAR(eval1(tr, RANGE_RATE, 60, 60), 1, "rate over [0,60] of 0..60: 1");
        IS_NEAR(eval1(tr, RANGE_INCREASE, 60, 60), 60, "increase: 60");
        IS_NEAR(eval1(tr, RANGE_DELTA, 60, 60), 60, "delta: 60");
        IS_NEAR(eval1(tr, RANGE_IRATE, 60, 60), 1, "irate: 1");
        /* [30,60]: three samples, the first exactly at t - range (included). */
        IS_NEAR(eval1(tr, RANGE_COUNT, 60, 30), 3, "[t-30, t] includes the sample at t-30");
        IS_NEAR(eval1(tr, RANGE_INCREASE, 60, 30), 30, "increase over [30,60]: 30");
        IS_NEAR(eval1(tr, RANGE_COUNT, 60, 29.999), 2, "a hair less: the sample at 30 is out");
        /* At t = 45 the sample at 60 is in the future: out. */
        IS_NEAR(eval1(tr, RANGE_COUNT, 45, 45), 4, "samples after t are left out");
        IS_NEAR(eval1(tr, RANGE_RATE, 0, 60), NAN, "one sample: no rate");
        IS_NEAR(eval1(tr, RANGE_IRATE, 0, 60), NAN, "one sample: no irate");
        IS_NEAR(eval1(tr, RANGE_DELTA, 100, 10), NAN, "no sample in range: no delta");
        IS_NEAR(eval1(tr, RANGE_COUNT, 100, 10), NAN, "nor count_over_time");
        history_free(h);
    }
    /* Samples 10 s in from each end: extrapolated by the whole gap (10 < 1.1 * 10). */
    {
        double t[] = {10, 20, 30, 40, 50}, v[] = {100, 110, 120, 130, 140};
        struct history *h = one_series(&tr, t, v, 5);
        /* sampled 40, avg step 10, threshold 11; to start 10, to end 10: 40 * 60 / 40. Zero
         * point: 40 * 100/40 = 100 from the first sample, beyond the start: no effect. */
        IS_NEAR(eval1(tr, RANGE_INCREASE, 60, 60), 60, "increase extrapolated to 60");
        IS_NEAR(eval1(tr, RANGE_RATE, 60, 60), 1, "rate 1");
        IS_NEAR(eval1(tr, RANGE_DELTA, 60, 60), 60, "delta extrapolated to 60");
        history_free(h);
    }
    /* Far from the start: half a step there; the counter's zero point limits it. */
    {
        double t[] = {30, 40, 50}, v[] = {10, 20, 30};
        struct history *h = one_series(&tr, t, v, 3);
        /* Counter: sampled 20, step 10, threshold 11. to start 30 (> 11) but the zero point is
         * 20 * 10/20 = 10 before the first sample, < 30: to start = 10 (< 11: all of it).
         * to end 10. increase = 20 * (20 + 10 + 10) / 20 = 40; rate = 40 / 60. */
        IS_NEAR(eval1(tr, RANGE_INCREASE, 60, 60), 40, "increase: the zero point limits it");
        IS_NEAR(eval1(tr, RANGE_RATE, 60, 60), 40.0 / 60, "rate: 40/60");
        /* Gauge: no zero point: 30 > 11, so half a step (5): 20 * (20 + 5 + 10) / 20 = 35. */
        IS_NEAR(eval1(tr, RANGE_DELTA, 60, 60), 35, "delta: half a step at the start");
        /* t = 80: to end 30 > 11 too: 20 * (20 + 10 + 5) / 20 = 35; counter start as before
         * ([20,80]: to start 10). */
        IS_NEAR(eval1(tr, RANGE_INCREASE, 80, 60), 35, "increase: half a step at the end");
        history_free(h);
    }
    /* The zero point with a first sample of 0 ends the extrapolation at that sample. */
    {
        double t[] = {20, 30, 40}, v[] = {0, 5, 10};
        struct history *h = one_series(&tr, t, v, 3);
        /* to start 20 would be > 11 anyway; zero point 0: to start 0. to end 20 > 11: 5.
         * 10 * (20 + 0 + 5) / 20 = 12.5 */
        IS_NEAR(eval1(tr, RANGE_INCREASE, 60, 60), 12.5,
                "a counter starting at 0 is not "
                "extrapolated before its first sample");
        history_free(h);
    }
    /* A negative first value (not a counter, but asked as one): no zero point. */
    {
        double t[] = {10, 20, 30}, v[] = {-10, 0, 10};
        struct history *h = one_series(&tr, t, v, 3);
        /* result 20 (no reset: -10 < 0 is the start), to start 10 (< 11), to end 30 (> 11: 5):
         * 20 * (20 + 10 + 5) / 20 = 35 */
        IS_NEAR(eval1(tr, RANGE_INCREASE, 60, 60), 35, "a negative first value: no zero point");
        history_free(h);
    }
    /* Counter resets. */
    {
        double t[] = {0, 10, 20, 30, 40, 50, 60}, v[] = {5, 10, 15, 2, 7, 12, 17};
        struct history *h = one_series(&tr, t, v, 7);
        /* 17 - 5 + 15 (the reset after 15) = 27 over exactly the range. Zero point 60 * 5/27
         * = 11.1 > 0: no effect. */
        IS_NEAR(eval1(tr, RANGE_INCREASE, 60, 60), 27, "increase across a reset: 27");
        IS_NEAR(eval1(tr, RANGE_RATE, 60, 60), 0.45, "rate across a reset: 0.45");
        IS_NEAR(eval1(tr, RANGE_DELTA, 60, 60), 12, "delta ignores resets: 12");
        IS_NEAR(eval1(tr, RANGE_IRATE, 60, 60), 0.5, "irate: (17 - 12) / 10");
        IS_NEAR(eval1(tr, RANGE_IRATE, 30, 60), 0.2, "irate right after a reset: 2 / 10");
        history_free(h);
    }
    {
        double t[] = {0, 10, 20, 30, 40}, v[] = {10, 5, 3, 8, 1};
        struct history *h = one_series(&tr, t, v, 5);
        /* Resets at 5 (+10), 3 (+5) and 1 (+8): 1 - 10 + 23 = 14 over the range [0,40]. */
        IS_NEAR(eval1(tr, RANGE_INCREASE, 40, 40), 14, "several resets: 14");
        IS_NEAR(eval1(tr, RANGE_IRATE, 40, 40), 0.1, "irate on a reset: the new value / 10");
        history_free(h);
    }
}

static void test_over_time(void)
{
    struct track *tr;
    {
        double t[] = {0, 10, 20, 30, 40}, v[] = {3, 1, 4, 1, 5};
        struct history *h = one_series(&tr, t, v, 5);
        IS_NEAR(eval1(tr, RANGE_AVG, 40, 40), 2.8, "avg_over_time 2.8");
        IS_NEAR(eval1(tr, RANGE_MIN, 40, 40), 1, "min_over_time 1");
        IS_NEAR(eval1(tr, RANGE_MAX, 40, 40), 5, "max_over_time 5");
        IS_NEAR(eval1(tr, RANGE_SUM, 40, 40), 14, "sum_over_time 14");
        IS_NEAR(eval1(tr, RANGE_COUNT, 40, 40), 5, "count_over_time 5");
        IS_NEAR(eval1(tr, RANGE_LAST, 40, 40), 5, "last_over_time 5");
        IS_NEAR(eval1(tr, RANGE_LAST, 25, 40), 4, "last_over_time at 25: 4");
        IS_NEAR(eval1(tr, RANGE_MAX, 25, 15), 4, "max_over_time over [10,25]: 4");
        IS_NEAR(eval1(tr, RANGE_AVG, 10, 0), 1, "a zero range: the sample at t only");
        history_free(h);
    }
    {
        /* PromQL's min/max: a NaN is replaced by any later value, and never wins after. */
        double t[] = {0, 10, 20}, v[] = {NAN, 2, 1};
        struct history *h = one_series(&tr, t, v, 3);
        IS_NEAR(eval1(tr, RANGE_MIN, 20, 20), 1, "min_over_time(NaN, 2, 1) = 1");
        IS_NEAR(eval1(tr, RANGE_MAX, 20, 20), 2, "max_over_time(NaN, 2, 1) = 2");
        IS_NEAR(eval1(tr, RANGE_MIN, 0, 20), NAN, "min_over_time(NaN) = NaN");
        IS_NEAR(eval1(tr, RANGE_SUM, 20, 20), NAN, "sum_over_time with a NaN: NaN");
        history_free(h);
        double v2[] = {1, NAN, 2};
        h = one_series(&tr, t, v2, 3);
        IS_NEAR(eval1(tr, RANGE_MIN, 20, 20), 1, "min_over_time(1, NaN, 2) = 1");
        IS_NEAR(eval1(tr, RANGE_MAX, 20, 20), 2, "max_over_time(1, NaN, 2) = 2");
        history_free(h);
    }
    {
        /* Kahan (Neumaier) summation, as sum_over_time in 2.42: 1 + 1e100 + 1 - 1e100 = 2. */
        double t[] = {0, 10, 20, 30}, v[] = {1, 1e100, 1, -1e100};
        struct history *h = one_series(&tr, t, v, 4);
        ok(eval1(tr, RANGE_SUM, 30, 30) == 2, "sum_over_time(1, 1e100, 1, -1e100) = 2 (got %g)",
           eval1(tr, RANGE_SUM, 30, 30));
        history_free(h);
    }
    {
        /* The incremental mean does not overflow where a sum would. */
        double t[] = {0, 10, 20}, v[] = {1e308, 1e308, 1e308};
        struct history *h = one_series(&tr, t, v, 3);
        IS_NEAR(eval1(tr, RANGE_AVG, 20, 20), 1e308, "avg_over_time of 1e308s: 1e308, not +Inf");
        IS_NEAR(eval1(tr, RANGE_SUM, 20, 20), INFINITY, "sum_over_time of 1e308s: +Inf");
        history_free(h);
    }
    {
        double t[] = {0, 10, 20}, v[] = {INFINITY, 1, 2};
        struct history *h = one_series(&tr, t, v, 3);
        IS_NEAR(eval1(tr, RANGE_AVG, 20, 20), INFINITY, "avg_over_time(+Inf, 1, 2) = +Inf");
        IS_NEAR(eval1(tr, RANGE_SUM, 20, 20), INFINITY, "sum_over_time(+Inf, 1, 2) = +Inf");
        history_free(h);
        double v2[] = {INFINITY, -INFINITY, 1};
        h = one_series(&tr, t, v2, 3);
        IS_NEAR(eval1(tr, RANGE_AVG, 20, 20), NAN, "avg_over_time(+Inf, -Inf, 1) = NaN");
        history_free(h);
    }
}

static void test_series_and_tracks(void)
{
    struct history *h = history_new(100000);
    int is_new;
    struct track *a = history_track(h, "up{job=\"a\"}", 300, &is_new);
    ok(is_new == 1, "a new track");
    struct track *a2 = history_track(h, "up{job=\"a\"}", 600, &is_new);
    ok(a2 == a && is_new == 0, "the same key: the same track");
    struct track *b = history_track(h, "up{job=\"b\"}", 60, &is_new);
    ok(b != a && is_new, "another key: another track");
    is_int(history_tracks(h), 2, "two tracks");
    for (int i = 0; i <= 10; i++) {
        double t = i * 60;
        history_record(h, a, t, "i=\"1\"", 5, i);
        history_record(h, a, t, "i=\"2\"", 5, 2 * i);
        history_record(h, a, t, "i=\"2\"", 5, 99); /* the same t again: ignored */
        history_record(h, b, t, "i=\"1\"", 5, 100 + i);
        history_prune(h, t);
    }
    struct results rs = {0};
    history_eval(a, RANGE_INCREASE, 600, 600, collect, &rs);
    is_int(rs.n, 2, "two series in track a");
    bool both =
        rs.n == 2 &&
        ((strcmp(rs.r[0].labels, "i=\"1\"") == 0 && rs.r[0].value == 10 && rs.r[1].value == 20) ||
         (strcmp(rs.r[1].labels, "i=\"1\"") == 0 && rs.r[1].value == 10 && rs.r[0].value == 20));
    ok(both, "each series its own increase (10 and 20), labels kept");
    /* Pruning: track a keeps 600 s (the longest range asked), b 60 s. */
    is_int(history_points(h), 11 + 11 + 2, "a keeps [0,600] (11 points each), b [540,600] (2)");
    IS_NEAR(eval1(b, RANGE_COUNT, 600, 600), 2, "b: what is older than its range is gone");
    history_prune(h, 1201);
    is_int(history_points(h), 0, "everything old: no points");
    memset(&rs, 0, sizeof(rs));
    history_eval(a, RANGE_COUNT, 1201, 600, collect, &rs);
    is_int(rs.n, 0, "and no series");
    history_record(h, a, 1260, "i=\"3\"", 5, 1);
    IS_NEAR(eval1(a, RANGE_LAST, 1260, 60), 1, "a series after the track emptied");
    is_int(history_refused(h), 0, "nothing refused below the cap");
    history_free(h);
    history_free(NULL);
    ok(1, "history_free(NULL) is fine");
}

static void test_cap(void)
{
    struct history *h = history_new(10);
    int is_new;
    struct track *tr = history_track(h, "x", 30, &is_new);
    /* Three series, one point each per 10 s: the cap (10) is reached during the 4th round. */
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++) {
            char l[16];
            int n = snprintf(l, sizeof(l), "k=\"%d\"", k);
            history_record(h, tr, i * 10, l, (size_t)n, i);
        }
    is_int(history_points(h), 10, "at the cap: 10 points");
    is_int(history_refused(h), 2, "the two points past it are refused and counted");
    history_record(h, tr, 40, "k=\"new\"", 7, 1);
    is_int(history_refused(h), 3, "a new series past the cap is refused too");
    struct results rs = {0};
    history_eval(tr, RANGE_COUNT, 40, 40, collect, &rs);
    is_int(rs.n, 3, "the new series is not tracked");
    /* Old points make room: a series' points older than its range do not count against the
     * cap when it records again (not only after the next prune). */
    history_record(h, tr, 70, "k=\"0\"", 5, 7);
    is_int(history_refused(h), 3, "a point that replaces expired ones is accepted");
    IS_NEAR(eval1(tr, RANGE_LAST, 70, 30), 7, "and is there");
    history_prune(h, 70);
    ok(history_points(h) <= 10, "never more than the cap (%zu)", history_points(h));
    history_free(h);
}

struct many {
    size_t n, right;
    double per_i; /* the expected value is per_i * i */
};

static void check_many(void *arg, const char *labels, size_t len, double value)
{
    struct many *m = arg;
    int i = -1;
    char l[64];
    snprintf(l, sizeof(l), "%.*s", (int)len, labels);
    sscanf(l, "instance=\"host-%d:9100\"", &i);
    m->n++;
    m->right += i >= 0 && value == m->per_i * i;
}

static void record_round(struct history *h, struct track *tr, double t, int from, int step, int n,
                         double r)
{
    char l[64];
    for (int i = from; i < n; i += step) {
        int len = snprintf(l, sizeof(l), "instance=\"host-%05d:9100\",job=\"node\"", i);
        history_record(h, tr, t, l, (size_t)len, (double)i * r);
    }
}

static void test_many_series(void)
{
    enum { N = 5000, ROUNDS = 6 };
    struct history *h = history_new(1000000);
    int is_new;
    struct track *tr = history_track(h, "many", 300, &is_new);
    for (int r = 0; r < ROUNDS; r++) {
        record_round(h, tr, r * 60, 0, 1, N, r);
        history_prune(h, r * 60);
    }
    is_int(history_points(h), N * ROUNDS, "%d series x %d rounds, each point once", N, ROUNDS);
    /* increase over [0,300] of i*r for r = 0..5: 5i, exactly at the range's ends. */
    struct many m = {.per_i = 5};
    history_eval(tr, RANGE_INCREASE, 300, 300, check_many, &m);
    is_int(m.n, N, "every series has a result");
    is_int(m.right, N, "each its own (the index finds the right series every time)");
    /* The odd series stop: once their points are out of the range they are dropped. */
    for (int r = ROUNDS; r < ROUNDS + 6; r++) {
        record_round(h, tr, r * 60, 0, 2, N, r);
        history_prune(h, r * 60);
    }
    m = (struct many){.per_i = 11};
    history_eval(tr, RANGE_LAST, 660, 300, check_many, &m);
    is_int(m.n, N / 2, "the odd series are dropped");
    is_int(m.right, N / 2, "the even ones are still found (index rebuilt after dropping)");
    is_int(history_points(h), (N / 2) * 6, "points of the range only");
    /* And the odd ones come back as new series next to the old ones. */
    record_round(h, tr, 720, 0, 1, N, 12);
    m = (struct many){.per_i = 12};
    history_eval(tr, RANGE_LAST, 720, 0, check_many, &m);
    is_int(m.n, N, "all back");
    is_int(m.right, N, "all right");
    m = (struct many){.per_i = 12};
    history_eval(tr, RANGE_COUNT, 720, 300, check_many, &m);
    is_int(m.n, N, "count_over_time for all");
    history_free(h);
}

struct dropped {
    struct track *tr[4];
    size_t n;
};

static void on_dropped(void *arg, struct track *tr)
{
    struct dropped *d = arg;
    if (d->n < ARRAY_LEN(d->tr)) d->tr[d->n++] = tr;
}

static void test_drop_idle(void)
{
    struct history *h = history_new(1000);
    int is_new;
    history_prune(h, 1000);
    struct track *a = history_track(h, "a", 300, &is_new);
    struct track *b = history_track(h, "b", 7200, &is_new);
    struct track *c = history_track(h, "c", 60, &is_new);
    history_record(h, a, 1000, "i=\"1\"", 5, 1);
    history_record(h, b, 1000, "i=\"1\"", 5, 1);
    history_record(h, c, 1000, "i=\"1\"", 5, 1);
    struct dropped d = {0};
    is_int(history_drop_idle(h, 1000, on_dropped, &d), 0, "nothing idle at first");
    /* Only a is asked for from now on. */
    for (double t = 1060; t <= 4600; t += 60) {
        DRW_IGNORE(history_track(h, "a", 300, &is_new)); /* asking keeps it alive */
        history_record(h, a, t, "i=\"1\"", 5, t);
        history_prune(h, t);
    }
    is_int(history_drop_idle(h, 4600, on_dropped, &d), 0, "c idle for 3600 s: not yet");
    is_int(history_drop_idle(h, 4601, on_dropped, &d), 1, "c idle for 3601 s: dropped");
    ok(d.n == 1 && d.tr[0] == c, "the callback was given c before it was freed");
    is_int(history_tracks(h), 2, "a and b left");
    is_int(history_points(h), 6 + 1, "a's 6 points in range, b's one (c had none left)");
    is_int(history_drop_idle(h, 1000 + 14400, on_dropped, &d), 1,
           "a, not asked for 10800 s, is dropped; b (range 2 h) is kept for twice its range");
    ok(d.n == 2 && d.tr[1] == a, "the callback was given a");
    is_int(history_drop_idle(h, 1000 + 14401, on_dropped, &d), 1, "then b is dropped");
    is_int(history_points(h), 0, "their points are gone from the count");
    is_int(history_tracks(h), 0, "no tracks");
    struct track *a2 = history_track(h, "a", 300, &is_new);
    ok(is_new == 1 && a2 != NULL, "asked again: a new track");
    is_int(history_drop_idle(h, 1000 + 14401, NULL, NULL), 0, "a NULL callback is fine");
    history_free(h);
}

int main(void)
{
    test_rate();
    test_over_time();
    test_series_and_tracks();
    test_cap();
    test_many_series();
    test_drop_idle();
    return done_testing();
}
