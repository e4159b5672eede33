/* history.h: a bounded short history of the series rules ask range functions about.
 *
 * Only what rules need is kept: a selector becomes "tracked" the first time a rule asks for a
 * range over it (rate(x[5m]) tracks x for 5 minutes), and from then on every evaluation records
 * the values of the series it selects. Points older than the longest range asked are dropped,
 * and the total number of points is capped: past the cap new series are not tracked and the
 * refusals are counted. The range functions compute as PromQL does (extrapolated rate,
 * increase and delta; *_over_time), over samples in [t - range, t]. */
#ifndef DRWATCH_HISTORY_H
#define DRWATCH_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "xalloc.h"

struct history;
struct track;

enum range_fn {
    RANGE_RATE,
    RANGE_INCREASE,
    RANGE_DELTA,
    RANGE_IRATE,
    RANGE_AVG,
    RANGE_MIN,
    RANGE_MAX,
    RANGE_SUM,
    RANGE_COUNT,
    RANGE_LAST,
};

struct history *history_new(size_t max_points);
void history_free(struct history *h); /* NULL-safe */

/* The track for a selector key (its canonical text), made on first use; range_s raises how
 * long its points are kept. New tracks report is_new so the caller can record them at once. */
DRW_MUST_CHECK struct track *history_track(struct history *h, const char *key, double range_s,
                                           int *is_new);
/* Records one series' value at time t; a t at or before the series' last point is ignored.
 * The series' points older than the track's range are dropped first, so that only points
 * some range can still use count against the cap; past the cap the point (or the new series)
 * is refused and counted in history_refused. */
void history_record(struct history *h, struct track *tr, double t, const char *labels,
                    size_t labels_len, double v);
/* Drops points no range needs any more, and series without points. Call after recording. */
void history_prune(struct history *h, double now);

/* Calls fn for every series of the track that has a result for fn at time t over range_s,
 * from the points in [t - range_s, t] (both ends included, as Prometheus 2.x): rate, increase
 * and delta need two points, irate two, the others one. */
typedef void (*range_result_fn)(void *arg, const char *labels, size_t labels_len, double value);
void history_eval(const struct track *tr, enum range_fn fn, double t, double range_s,
                  range_result_fn out, void *arg);

/* Drops the tracks that no rule asked for (history_track) in the last twice their range, and
 * at least HISTORY_IDLE_MIN seconds: a rule that builds matchers from what it sees (one
 * selector per instance, per time...) would otherwise leave a track behind for each. dropped
 * (may be NULL) is called with each track before it is freed, so the caller can forget it.
 * Returns how many were dropped. */
#define HISTORY_IDLE_MIN 3600.0
typedef void (*track_dropped_fn)(void *arg, struct track *tr);
size_t history_drop_idle(struct history *h, double now, track_dropped_fn dropped, void *arg);

size_t history_points(const struct history *h);
uint64_t history_refused(const struct history *h);
size_t history_tracks(const struct history *h);

#endif
