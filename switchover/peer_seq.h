/* peer_seq.h: the sequence numbers of the peer protocol (site/peer_msg.h), kept across restarts
 * in data_dir/peer_seq.json:
 *
 *     {"sent": 1712345678123457, "seen": {"gold": 1712345601000000}}
 *
 * sent is the last seq this site put on a message; the next is above it and above the wall
 * clock in microseconds, so the numbers keep growing also when the file is lost (a new data
 * directory) as long as the clock does not go back by more than the time since the last
 * message. seen is, per peer site, the highest seq accepted from it: a message whose seq is
 * not above it is a replay and is refused. Each number is on disk (durable.h: temp file,
 * fsync, rename) before the message goes out or is acted on, so a crash can skip numbers but
 * never reuse or forget one.
 *
 * A file that cannot be read as above (damage) is replaced at the next write; until then its
 * seen numbers are taken to be the wall clock at open: a replay of anything sent before is
 * refused, at the price of refusing a peer whose clock is behind this one until it catches up.
 *
 * Loop thread; one per switchover part. */
#ifndef DRWATCH_PEER_SEQ_H
#define DRWATCH_PEER_SEQ_H

#include <stddef.h>
#include <stdint.h>

#include "transition.h"

#define SW_PEER_SEQ_FILE "peer_seq.json"

struct sw_peer_seq;

/* Reads data_dir/peer_seq.json (a missing file is a fresh start) at wall time now. Never
 * fails: damage is logged and handled as above. */
struct sw_peer_seq *sw_peer_seq_open(const char *data_dir, double now);
void sw_peer_seq_free(struct sw_peer_seq *s); /* NULL-safe */

/* The seq for the next message sent at wall time now, on disk before it returns. Returns 0
 * with *out set, or -errno with err filled (then nothing may be sent). */
int sw_peer_seq_next(struct sw_peer_seq *s, double now, uint64_t *out, char *err, size_t errlen);

/* Takes seq from site `from` when it is above every seq taken from it before, on disk before it
 * returns 0. -EALREADY: a replay (*last, when not NULL, is the highest taken); -errno with err
 * filled when it cannot be recorded (then the message must be refused). */
int sw_peer_seq_admit(struct sw_peer_seq *s, enum sw_site from, uint64_t seq, uint64_t *last,
                      char *err, size_t errlen);

/* The last seq sent, and the highest taken from site (0: none). */
uint64_t sw_peer_seq_sent(const struct sw_peer_seq *s);
uint64_t sw_peer_seq_seen(const struct sw_peer_seq *s, enum sw_site from);

#endif
