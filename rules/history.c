/* history.c: per-track series with time-ordered points, and PromQL's range functions over them
 * (promql/functions.go in 2.42: extrapolatedRate, instantValue, aggrOverTime with Kahan sums
 * and the incremental mean). A series drops its points older than its track's range whenever
 * it records, so the point cap counts only what some range can still use. */
#include "history.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "xalloc.h"

struct point {
    double t, v;
};

struct hseries {
    char *labels;
    size_t labels_len;
    uint64_t hash;
    struct point *p;
    size_t start, n, cap; /* live points are p[start .. start+n) */
};

struct track {
    char *key;
    double range_s;
    double last_asked; /* the evaluation time of the last history_track call for it */
    struct hseries *s;
    size_t ns, cap;
    uint32_t *idx; /* open addressing: series number + 1, 0 for empty */
    size_t idx_cap;
};

struct history {
    struct track **t;
    size_t nt;
    double now; /* the latest time recorded or pruned at */
    size_t points, max_points;
    uint64_t refused;
};

struct history *history_new(size_t max_points)
{
    struct history *h = xcalloc(1, sizeof(*h));
    h->max_points = max_points;
    return h;
}

static void track_free(struct history *h, struct track *tr)
{
    for (size_t k = 0; k < tr->ns; k++) {
        h->points -= tr->s[k].n;
        free(tr->s[k].labels);
        free(tr->s[k].p);
    }
    free(tr->s);
    free(tr->idx);
    free(tr->key);
    free(tr);
}

void history_free(struct history *h)
{
    if (!h) return;
    for (size_t i = 0; i < h->nt; i++) track_free(h, h->t[i]);
    free(h->t);
    free(h);
}

struct track *history_track(struct history *h, const char *key, double range_s, int *is_new)
{
    *is_new = 0;
    for (size_t i = 0; i < h->nt; i++) {
        if (strcmp(h->t[i]->key, key) == 0) {
            if (range_s > h->t[i]->range_s) h->t[i]->range_s = range_s;
            h->t[i]->last_asked = h->now;
            return h->t[i];
        }
    }
    struct track *tr = xcalloc(1, sizeof(*tr));
    tr->key = xstrdup(key);
    tr->range_s = range_s;
    tr->last_asked = h->now;
    h->t = xrealloc(h->t, (h->nt + 1) * sizeof(*h->t));
    h->t[h->nt++] = tr;
    *is_new = 1;
    return tr;
}

static void index_rebuild(struct track *tr)
{
    size_t cap = 16;
    while (cap < tr->ns * 2 + 2) cap *= 2;
    free(tr->idx);
    tr->idx = xcalloc(cap, sizeof(*tr->idx));
    tr->idx_cap = cap;
    for (size_t i = 0; i < tr->ns; i++) {
        size_t j = tr->s[i].hash & (cap - 1);
        while (tr->idx[j]) j = (j + 1) & (cap - 1);
        tr->idx[j] = (uint32_t)i + 1;
    }
}

static struct hseries *find_series(struct track *tr, const char *labels, size_t len, uint64_t hash)
{
    if (!tr->idx_cap) return NULL;
    for (size_t j = hash & (tr->idx_cap - 1); tr->idx[j]; j = (j + 1) & (tr->idx_cap - 1)) {
        struct hseries *s = &tr->s[tr->idx[j] - 1];
        if (s->hash == hash && s->labels_len == len && memcmp(s->labels, labels, len) == 0)
            return s;
    }
    return NULL;
}

void history_record(struct history *h, struct track *tr, double t, const char *labels,
                    size_t labels_len, double v)
{
    if (t > h->now) h->now = t;
    uint64_t hash = hash_bytes(labels, labels_len, 0);
    struct hseries *s = find_series(tr, labels, labels_len, hash);
    if (!s) {
        if (h->points >= h->max_points) {
            h->refused++;
            return;
        }
        if (tr->ns == tr->cap) {
            tr->cap = tr->cap ? tr->cap * 2 : 8;
            tr->s = xrealloc(tr->s, tr->cap * sizeof(*tr->s));
        }
        s = &tr->s[tr->ns++];
        *s = (struct hseries){
            .labels = xstrndup(labels, labels_len), .labels_len = labels_len, .hash = hash};
        if (tr->ns * 2 + 2 > tr->idx_cap) {
            index_rebuild(tr);
        } else {
            size_t j = hash & (tr->idx_cap - 1);
            while (tr->idx[j]) j = (j + 1) & (tr->idx_cap - 1);
            tr->idx[j] = (uint32_t)tr->ns;
        }
    }
    if (s->n && s->p[s->start + s->n - 1].t >= t) return; /* already recorded at t */
    while (s->n && s->p[s->start].t < t - tr->range_s) {  /* expired: make room first */
        s->start++;
        s->n--;
        h->points--;
    }
    if (h->points >= h->max_points) {
        h->refused++;
        return;
    }
    if (s->start + s->n == s->cap) {
        if (s->start > s->cap / 2) { /* slide the live points down instead of growing */
            memmove(s->p, s->p + s->start, s->n * sizeof(*s->p));
            s->start = 0;
        } else {
            s->cap = s->cap ? s->cap * 2 : 16;
            s->p = xrealloc(s->p, s->cap * sizeof(*s->p));
        }
    }
    s->p[s->start + s->n++] = (struct point){t, v};
    h->points++;
}

void history_prune(struct history *h, double now)
{
    if (now > h->now) h->now = now;
    for (size_t i = 0; i < h->nt; i++) {
        struct track *tr = h->t[i];
        size_t kept = 0;
        for (size_t k = 0; k < tr->ns; k++) {
            struct hseries *s = &tr->s[k];
            while (s->n && s->p[s->start].t < now - tr->range_s) {
                s->start++;
                s->n--;
                h->points--;
            }
            if (s->n == 0) {
                free(s->labels);
                free(s->p);
                continue;
            }
            tr->s[kept++] = *s;
        }
        if (kept != tr->ns) {
            tr->ns = kept;
            index_rebuild(tr);
        }
    }
}

size_t history_drop_idle(struct history *h, double now, track_dropped_fn dropped, void *arg)
{
    size_t kept = 0, n = 0;
    if (now > h->now) h->now = now;
    for (size_t i = 0; i < h->nt; i++) {
        struct track *tr = h->t[i];
        double idle = tr->range_s * 2 > HISTORY_IDLE_MIN ? tr->range_s * 2 : HISTORY_IDLE_MIN;
        if (now - tr->last_asked <= idle) {
            h->t[kept++] = tr;
            continue;
        }
        if (dropped) dropped(arg, tr);
        track_free(h, tr);
        n++;
    }
    h->nt = kept;
    return n;
}

/* PromQL's extrapolatedRate over the points in [t - range, t]. */
static bool extrapolated(const struct point *p, size_t n, double t, double range, bool counter,
                         bool per_second, double *out)
{
    if (n < 2) return false;
    double result = p[n - 1].v - p[0].v;
    if (counter) {
        double last = 0;
        for (size_t i = 0; i < n; i++) {
            if (p[i].v < last) result += last;
            last = p[i].v;
        }
    }
    double to_start = p[0].t - (t - range), to_end = t - p[n - 1].t;
    double sampled = p[n - 1].t - p[0].t, avg_step = sampled / (double)(n - 1);
    if (counter && result > 0 && p[0].v >= 0) {
        double to_zero = sampled * (p[0].v / result);
        if (to_zero < to_start) to_start = to_zero;
    }
    double threshold = avg_step * 1.1, interval = sampled;
    interval += to_start < threshold ? to_start : avg_step / 2;
    interval += to_end < threshold ? to_end : avg_step / 2;
    result *= interval / sampled;
    if (per_second) result /= range;
    *out = result;
    return true;
}

/* Go's kahanSumInc (Neumaier's variant), as PromQL sums. */
static double kahan_inc(double inc, double sum, double *c)
{
    double t = sum + inc;
    if (fabs(sum) >= fabs(inc))
        *c += (sum - t) + inc;
    else
        *c += (inc - t) + sum;
    return t;
}

/* avg_over_time in 2.42: an incremental mean (no overflow where a sum would), Kahan-summed. */
static double avg_over_time(const struct point *p, size_t n)
{
    double mean = 0, c = 0, count = 0;
    for (size_t i = 0; i < n; i++) {
        double v = p[i].v;
        count++;
        if (isinf(mean)) {
            if (isinf(v) && (mean > 0) == (v > 0)) continue; /* Inf of the same sign */
            if (!isinf(v) && !isnan(v)) continue;            /* Inf += x - Inf would be NaN */
        }
        mean = kahan_inc(v / count - mean / count, mean, &c);
    }
    return isinf(mean) ? mean : mean + c;
}

static bool over_time(enum range_fn fn, const struct point *p, size_t n, double *out)
{
    if (n == 0) return false;
    double acc = p[0].v, c = 0;
    switch (fn) {
    case RANGE_MIN:
        for (size_t i = 0; i < n; i++)
            if (p[i].v < acc || isnan(acc)) acc = p[i].v;
        break;
    case RANGE_MAX:
        for (size_t i = 0; i < n; i++)
            if (p[i].v > acc || isnan(acc)) acc = p[i].v;
        break;
    case RANGE_SUM:
        acc = 0;
        for (size_t i = 0; i < n; i++) acc = kahan_inc(p[i].v, acc, &c);
        if (!isinf(acc)) acc += c;
        break;
    case RANGE_AVG: acc = avg_over_time(p, n); break;
    case RANGE_COUNT: acc = (double)n; break;
    default: acc = p[n - 1].v; break; /* RANGE_LAST */
    }
    *out = acc;
    return true;
}

static bool compute(enum range_fn fn, const struct point *p, size_t n, double t, double range,
                    double *out)
{
    switch (fn) {
    case RANGE_RATE: return extrapolated(p, n, t, range, true, true, out);
    case RANGE_INCREASE: return extrapolated(p, n, t, range, true, false, out);
    case RANGE_DELTA: return extrapolated(p, n, t, range, false, false, out);
    case RANGE_IRATE: {
        if (n < 2) return false;
        const struct point *a = &p[n - 2], *b = &p[n - 1];
        double d = b->v < a->v ? b->v : b->v - a->v; /* a counter reset */
        if (b->t == a->t) return false;
        *out = d / (b->t - a->t);
        return true;
    }
    default: return over_time(fn, p, n, out);
    }
}

void history_eval(const struct track *tr, enum range_fn fn, double t, double range_s,
                  range_result_fn out, void *arg)
{
    for (size_t k = 0; k < tr->ns; k++) {
        const struct hseries *s = &tr->s[k];
        const struct point *p = s->p + s->start;
        size_t lo = 0, hi = s->n;
        while (lo < s->n && p[lo].t < t - range_s) lo++;
        while (hi > lo && p[hi - 1].t > t) hi--;
        double v;
        if (compute(fn, p + lo, hi - lo, t, range_s, &v)) out(arg, s->labels, s->labels_len, v);
    }
}

size_t history_points(const struct history *h)
{
    return h->points;
}

uint64_t history_refused(const struct history *h)
{
    return h->refused;
}

size_t history_tracks(const struct history *h)
{
    return h->nt;
}
