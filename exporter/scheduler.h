/* scheduler.h: runs every collector target on its interval, on the loop, all concurrently, and
 * publishes what they found.
 *
 * Each target ("job") starts at once, then every interval; its scrape has a deadline (the
 * target's timeout, never more than its interval). When scrapes finish, the scheduler gathers
 * the last good set of every job plus its own drwatch_collector_* families and hands them to
 * the publish callback, at most once per SCHED_PUBLISH_DELAY_MS so that a burst of concurrent
 * scrapes makes one snapshot. */
#ifndef DRWATCH_SCHEDULER_H
#define DRWATCH_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>

#include "collector.h"
#include "loop.h"
#include "registry.h"

#define SCHED_PUBLISH_DELAY_MS 50

struct sched;

/* Receives the sets to publish (borrowed: take references to keep them). */
typedef void (*sched_publish_fn)(void *arg, struct metric_set *const *sets, size_t n);

struct sched *sched_new(struct loop *l, sched_publish_fn publish, void *arg);
/* Cancels every scrape and frees every target. NULL-safe. */
void sched_free(struct sched *s);

/* Replaces the jobs with targets (collector_targets_make), taking them over and leaving the
 * list empty. Jobs with the same collector, target and site keep their counters and last
 * samples. */
void sched_apply(struct sched *s, struct target_list *targets);

/* Publishes soon (within SCHED_PUBLISH_DELAY_MS) even if no scrape finished: for producers
 * outside the scheduler, such as the rules engine, whose output goes into the snapshot. */
void sched_request_publish(struct sched *s);

/* True once every job has finished at least one scrape. */
bool sched_all_ran(const struct sched *s);
size_t sched_job_count(const struct sched *s);

#endif
