/* keep.h: what collectors remember across config reloads, by key.
 *
 * A reload builds the new targets before it frees the old ones. A target that asks for the
 * key of something it observes (a resolver of a GSLB name, a probe URL) gets back the same
 * memory the old target had, so counters, streaks and "logged once" complaints go on instead
 * of starting over. The store is owned by the daemon and outlives every target; loop thread
 * only. */
#ifndef DRWATCH_KEEP_H
#define DRWATCH_KEEP_H

#include <stddef.h>

struct keep;

struct keep *keep_new(void);
/* Frees the store and whatever its users still hold (they must be gone). NULL-safe. */
void keep_free(struct keep *k);

/* Returns the memory kept under key, size bytes, with one more reference. New memory is zeroed
 * and then given to init (when not NULL); fini (when not NULL) frees what it holds before the
 * memory goes. A key must always be asked for with one size, init and fini. */
void *keep_get(struct keep *k, const char *key, size_t size, void (*init)(void *mem),
               void (*fini)(void *mem));
/* How many references mem has (1: the caller's is the last). */
int keep_refs(const void *mem);
/* Drops a reference; the last one frees the memory. NULL-safe. */
void keep_put(struct keep *k, void *mem);

#endif
