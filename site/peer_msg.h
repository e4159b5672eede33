/* peer_msg.h: the messages one drwatch sends its peer over the mTLS link to agree on a DR
 * transition, and the answer each gets; both ways (encode and parse), pure, so that they are
 * fuzzed (tests/fuzz/fuzz_peer_msg.c) and tested without sockets.
 *
 * The old agent's handshake had no ids, no negative answer and no expiry (switchover-plans.md
 * §3): a "yes" carrying any item was executed, a "no" was silence. Here every message carries
 * the requester's id (its request or run id) and a sequence number, and every message gets an
 * explicit answer naming that id:
 *
 *   POST /peer/v1/confirm     "are you in one of these states, with nothing pending?"
 *     {"format":"drwatch-peer-msg/1","kind":"confirm","id":"gold-1712345678-0a1b",
 *      "seq":1712345678123456,"from_site":"gold","sender_state":"golddr-primary",
 *      "required_states":["golddr-primary"],"to":"gold-standby","reason":"...",
 *      "sent":1712345678.12}
 *   POST /peer/v1/transition  "follow me with this transition" (judged there like any request)
 *     {"format":"drwatch-peer-msg/1","kind":"transition","id":"gold-1712345678-0a1b",
 *      "seq":...,"from_site":"gold","sender_state":"active-passive","to":"golddr-primary",
 *      "reason":"...","sent":...}
 *   the answer, always (200; 400 for a message that could not be read):
 *     {"format":"drwatch-peer-answer/1","id":"gold-1712345678-0a1b","seq":1712345678123456,
 *      "site":"golddr","answer":"yes"|"no","reason":"...","state":"golddr-primary",
 *      "run":"golddr-1712345679-77aa"}          (run: a transition that started one)
 *
 * seq is a per-sender counter that only grows, kept across restarts by the sender; a receiver
 * refuses a seq not above the last it accepted from that peer (a replay). id and seq are echoed
 * so that the requester acts only on the answer to its own stored request. Unknown keys are
 * ignored, so either side can grow; what is read is checked for shape and capped: ids are
 * 1-47 bytes of [A-Za-z0-9._:-], states and sites lower-case names, reasons at most 255 bytes
 * of UTF-8 (control characters become '?'), at most PEER_MSG_MAX_STATES required states, and
 * the whole body at most PEER_MSG_MAX bytes (the endpoint refuses more before reading it). */
#ifndef DRWATCH_PEER_MSG_H
#define DRWATCH_PEER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PEER_MSG_FORMAT      "drwatch-peer-msg/1"
#define PEER_ANSWER_FORMAT   "drwatch-peer-answer/1"
#define PEER_CONFIRM_PATH    "/peer/v1/confirm"
#define PEER_TRANSITION_PATH "/peer/v1/transition"
#define PEER_MSG_MAX         4096 /* a message body or an answer, in bytes */
#define PEER_MSG_MAX_STATES  8
#define PEER_MSG_SEQ_MAX     9007199254740991ull /* 2^53 - 1: exact in every JSON reader */

enum peer_msg_kind { PEER_MSG_CONFIRM, PEER_MSG_TRANSITION, PEER_MSG_KIND_COUNT };

struct peer_msg {
    enum peer_msg_kind kind;
    char id[48];
    uint64_t seq; /* 1 .. PEER_MSG_SEQ_MAX */
    char from_site[16];
    char sender_state[32];
    char to[32];      /* transition: the target asked for; confirm: what the sender means to do
                         ("" when not said) */
    char reason[256]; /* "" when not said */
    char required[PEER_MSG_MAX_STATES][32]; /* confirm: the states the receiver must be in */
    size_t nrequired;                       /* confirm: 1 .. PEER_MSG_MAX_STATES */
    double sent;                            /* the sender's wall clock, 0 when not said */
};

struct peer_answer {
    char id[48]; /* the message's ("" when the message could not be read) */
    uint64_t seq;
    char site[16]; /* the answering site ("" when not said) */
    bool yes;
    char reason[256];
    char state[32]; /* the answering site's state ("" unknown: null) */
    char run[48];   /* a transition accepted: the run it started ("" none) */
    /* Not on the wire: the answering process is not its site's leader (a follower replica);
     * the listener answers 503 so that the sender tries again, on a new connection, which
     * the peer Service may send to the leader. */
    bool elsewhere;
};

/* "confirm", "transition"; the path of each. */
const char *peer_msg_kind_name(enum peer_msg_kind k);
const char *peer_msg_path(enum peer_msg_kind k);
/* The kind whose path is path; -1 for none. */
int peer_msg_kind_of_path(const char *path);

/* Reads a message of kind `kind` (the path it came to) from body[0..len), which need not be
 * NUL-terminated. Returns 0 with *out filled, or -1 with err saying what is wrong (*out then
 * holds the id when one could be read, for the answer). */
int peer_msg_parse(const char *body, size_t len, enum peer_msg_kind kind, struct peer_msg *out,
                   char *err, size_t errlen);
/* Reads an answer. Returns 0 with *out filled, or -1 with err. */
int peer_answer_parse(const char *body, size_t len, struct peer_answer *out, char *err,
                      size_t errlen);

/* Appends the JSON of m (or a) to out. Strings must be what the parser accepts (callers clean
 * outside text first). Returns 0, -EINVAL for a field the parser would refuse, or the buffer's
 * error. */
DRW_MUST_CHECK int peer_msg_encode(const struct peer_msg *m, struct buf *out);
DRW_MUST_CHECK int peer_answer_encode(const struct peer_answer *a, struct buf *out);

/* Whether s is an id the messages carry (1-47 bytes of [A-Za-z0-9._:-]). */
bool peer_msg_id_ok(const char *s);

#endif
