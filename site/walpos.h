/* walpos.h: a small board where the targets of one collector post the WAL positions of the
 * primaries they saw, so that a standby seen by another target (the other site) can be told
 * how many bytes it is behind its primary.
 *
 * A primary and its standby clusters share the PostgreSQL system identifier (the standby is a
 * physical copy), so positions are matched on it, and on the timeline when several primaries
 * share it (after a promotion). Positions from different scrapes are not simultaneous: a
 * primary's position is a lower bound of where it is now, so lags computed from it are too.
 *
 * Ownership: walpos_new returns one reference; every target holding the board takes its own
 * (walpos_ref) and drops it with walpos_unref, the last of which frees the board. The loop
 * thread is the only user: no locking. */
#ifndef DRWATCH_WALPOS_H
#define DRWATCH_WALPOS_H

#include <stdbool.h>
#include <stdint.h>

#define WALPOS_MAX_ENTRIES 64

struct walpos;

struct walpos *walpos_new(void);
void walpos_ref(struct walpos *b);
void walpos_unref(struct walpos *b); /* NULL-safe */

/* Forgets every position posted by owner (call before posting a scrape's new ones). */
void walpos_drop(struct walpos *b, const void *owner);
/* Posts a primary's WAL position (bytes) seen at wall time now. Ignored when sysid is empty
 * or the board is full. */
void walpos_post(struct walpos *b, const void *owner, const char *sysid, int64_t timeline,
                 int64_t lsn, double now);
/* The freshest primary position for sysid seen within max_age seconds of now. With several
 * primaries of that system, the one on `timeline` wins (timeline <= 0: any), then the highest
 * position. Returns true and fills *lsn and *age_s. */
bool walpos_primary(const struct walpos *b, const char *sysid, int64_t timeline, double now,
                    double max_age, int64_t *lsn, double *age_s);
/* How many distinct owners saw a primary of sysid within max_age (a promoted standby makes
 * two). */
int walpos_primaries(const struct walpos *b, const char *sysid, double now, double max_age);

#endif
