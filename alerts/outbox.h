/* outbox.h: the durable queue between the alert manager and the notifiers.
 *
 * Every rendered notification is appended to an append-only log file (data_dir/outbox.log)
 * and fsynced before outbox_append returns; only then may it be sent. A send that succeeds
 * appends a removal record (fsynced too); one that fails for good (SEND_FAIL) is removed and
 * counted; one that may be retried waits with exponential backoff and jitter (backoff_min
 * doubling up to backoff_max), or for the receiver's Retry-After. Each receiver sends one
 * notification at a time, in the order they were queued, so a slow or dead receiver delays
 * only its own notifications. On open, the log is replayed: every entry without a removal
 * record is pending again (at least once: a send cut by a crash is sent again); a torn last
 * record (a crash in the middle of a write) is cut off; a damaged record with intact ones after
 * it (a bad block, not a crash) is skipped and counted, and the records after it are kept. The
 * log (an exporter/journal.h journal) is compacted when every entry is done, when removed
 * entries make up most of it, or after replay skipped damage.
 *
 * Caps: at most max_entries entries and max_bytes of payloads; past either, the oldest entry
 * is dropped (counted as result "dropped") rather than filling the disk.
 *
 * Time comes from a clock the caller gives (the manager's; virtual in tests). With a loop the
 * outbox runs its own timer; without one (tests) the caller calls outbox_tick when
 * outbox_next_due says. Everything runs on one thread.
 *
 * Ownership: the outbox owns its entries; it borrows the senders' notifier states, which must
 * outlive the binding (outbox_set_senders with other senders, or outbox_free, ends it). */
#ifndef DRWATCH_OUTBOX_H
#define DRWATCH_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "notifier.h"
#include "registry.h"

#define OUTBOX_FILE        "outbox.log"
#define OUTBOX_MAX_PAYLOAD (1u << 20) /* one rendered notification */

typedef double (*outbox_clock_fn)(void *arg);

struct outbox_opts {
    const char *dir;   /* created if missing */
    struct loop *loop; /* NULL: the caller drives outbox_tick */
    size_t max_entries;
    size_t max_bytes;
    double backoff_min_s, backoff_max_s;
    outbox_clock_fn clock; /* Unix seconds */
    void *clock_arg;
    uint64_t seed; /* jitter; 0: from the time */
};

/* A receiver the outbox may send to. */
struct outbox_sender {
    const char *receiver; /* copied */
    const struct notifier_ops *ops;
    void *state;
    int64_t timeout_ms;
};

struct outbox;

/* Opens (or creates) the log in o->dir and replays it. Returns NULL with err filled when the
 * directory or file cannot be made, read or written. Nothing is sent before
 * outbox_set_senders. */
struct outbox *outbox_open(const struct outbox_opts *o, char *err, size_t errlen);
/* Cancels sends in flight (their entries stay pending on disk) and frees. NULL-safe. */
void outbox_free(struct outbox *ob);

/* Replaces the receivers: sends in flight to the old ones are cancelled (and start again with
 * the new binding of the same name); pending entries for a receiver no longer configured are
 * dropped, counted as result "no_receiver" and logged. */
void outbox_set_senders(struct outbox *ob, const struct outbox_sender *s, size_t n);

/* Changes the caps and the backoff (a reload); entries over a lower cap are dropped at the
 * next append. */
void outbox_configure(struct outbox *ob, size_t max_entries, size_t max_bytes, double backoff_min,
                      double backoff_max);

/* Appends p for receiver durably (written and fsynced) and queues it. Returns 0, or a
 * negative errno with err filled (nothing queued: -E2BIG for a payload over
 * OUTBOX_MAX_PAYLOAD, or a write or fsync error). */
int outbox_append(struct outbox *ob, const char *receiver, const struct payload *p, char *err,
                  size_t errlen);

/* Starts due sends and handles deadlines: for callers without a loop. */
void outbox_tick(struct outbox *ob);
/* When outbox_tick has something to do next (Unix seconds), or INFINITY. */
double outbox_next_due(const struct outbox *ob);

size_t outbox_pending(const struct outbox *ob);
/* Enqueue time of the oldest pending entry, or 0 when empty. */
double outbox_oldest(const struct outbox *ob);

/* The retry delay after `attempt` failed attempts (1, 2, ...): backoff_min * 2^(attempt-1)
 * capped at backoff_max, of which a random part in [half, all] is taken (jitter, u in [0, 1));
 * a Retry-After (>= 0) is honoured instead, capped at an hour. */
double outbox_retry_delay(double backoff_min, double backoff_max, unsigned attempt,
                          double retry_after, double u);

/* Adds drwatch_notifications_total, drwatch_notification_latency_seconds,
 * drwatch_outbox_entries, drwatch_outbox_oldest_age_seconds, drwatch_outbox_write_errors_total
 * and drwatch_outbox_corrupt_records_total to m. */
void outbox_metrics(const struct outbox *ob, struct metric_set *m);

#endif
