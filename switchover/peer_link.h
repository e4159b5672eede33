/* peer_link.h: the switchover part's side of the peer protocol (site/peer_msg.h): sending a
 * message to the peer's drwatch over the mTLS link and taking its answer, and the counters of
 * both directions.
 *
 * A message goes as POST <peer url>/peer/v1/confirm or /peer/v1/transition with this site's
 * client certificate (the `peer` target's settings, which main hands over), stamped with a
 * fresh sequence number (peer_seq.h) and this site's name. Its outcome comes back exactly once,
 * on the loop, within the link's timeout (switchover.peer_timeout) from the send:
 *
 *   yes, no          the peer's explicit answer, which names this message's id and seq
 *   timeout          no answer within the timeout (the request was on its way: the peer may
 *                    have acted on it)
 *   unreachable      no connection could be made (refused, no route, DNS, TLS): tried again
 *                    every second, each time with a new seq, until the timeout
 *   bad_answer       an answer that is not one (not 200 or 400, not the answer format) or that
 *                    names another message: never taken for a yes
 *
 * Each outcome is counted (drwatch_peer_requests_total{kind,answer}) and logged. The
 * receiving side (switchover_peer.c) counts what each message from the peer did here
 * (drwatch_peer_messages_total{kind,answer}) through sw_peer_link_count_message.
 *
 * Ownership: the link copies its target. A call is owned by the link until its outcome is
 * delivered or it is cancelled. Loop thread. */
#ifndef DRWATCH_PEER_LINK_H
#define DRWATCH_PEER_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_client.h"
#include "http_target.h"
#include "peer_msg.h"
#include "registry.h"
#include "transition.h"

enum sw_peer_answer {
    SW_PEER_YES,
    SW_PEER_NO,
    SW_PEER_TIMEOUT,
    SW_PEER_UNREACHABLE,
    SW_PEER_BAD_ANSWER,
    SW_PEER_ANSWER_COUNT
};
/* "yes", "no", "timeout", "unreachable", "bad_answer" */
const char *sw_peer_answer_name(enum sw_peer_answer a);

/* What receiving a message did here: answered yes, no, or no because it was a replay. */
enum sw_peer_received { SW_RECEIVED_YES, SW_RECEIVED_NO, SW_RECEIVED_REPLAYED, SW_RECEIVED_COUNT };

struct sw_peer_outcome {
    enum sw_peer_answer answer;
    char id[48];      /* the id the answer named ("" when none came) */
    char reason[300]; /* the peer's reason, or what went wrong */
    char state[32];   /* the peer's state as it answered ("" unknown) */
    char run[48];     /* a transition the peer accepted: its run ("" none) */
};

typedef void (*sw_peer_done_fn)(void *arg, const struct sw_peer_outcome *o);

/* How a message travels: post body to path of the peer within timeout_ms, calling done once
 * (unless cancelled), later on the loop and never from inside post, with the HTTP result;
 * returns a handle, or NULL when it cannot start (done is then never called). The default posts
 * over HTTPS through httpc with the target's TLS settings; tests give a fake. */
struct sw_peer_transport {
    void *(*post)(void *arg, const char *path, const char *body, size_t len, int64_t timeout_ms,
                  httpc_done_fn done, void *done_arg);
    void (*cancel)(void *arg, void *req);
    void *arg;
};

struct sw_peer_link_env {
    struct loop *loop;
    struct httpc *http;
    enum sw_site site;                         /* this site */
    const char *data_dir;                      /* where peer_seq.json lives */
    const struct http_target *target;          /* the peer (copied); NULL: none configured */
    int64_t timeout_ms;                        /* an answer must come within this */
    const struct sw_peer_transport *transport; /* NULL: HTTPS to target through http */
    double (*clock)(void *arg);                /* Unix seconds; NULL: the wall clock */
    void *clock_arg;
};

struct sw_peer_link;
struct sw_peer_call;

struct sw_peer_link *sw_peer_link_new(const struct sw_peer_link_env *env);
/* Cancels every call in flight (no outcome is delivered) and frees. NULL-safe. */
void sw_peer_link_free(struct sw_peer_link *l);

/* Whether a peer is configured (a `peer` target of the other site, or a test transport). */
bool sw_peer_link_configured(const struct sw_peer_link *l);
/* The peer's site, when configured. */
enum sw_site sw_peer_link_peer_site(const struct sw_peer_link *l);
int64_t sw_peer_link_timeout_ms(const struct sw_peer_link *l);

/* Sends m: the caller fills kind, id, sender_state, to, reason and (confirm) required; the
 * link fills seq, from_site and sent. timeout_ms (0: the link's) bounds the outcome. Returns
 * the call, whose outcome fn gets once; or NULL with err filled when nothing could be sent (no
 * peer configured, the seq could not be recorded, the message not encoded): fn is then never
 * called. */
struct sw_peer_call *sw_peer_link_send(struct sw_peer_link *l, const struct peer_msg *m,
                                       int64_t timeout_ms, sw_peer_done_fn fn, void *arg, char *err,
                                       size_t errlen);
/* Drops a call in flight: its outcome is never delivered. NULL-safe. */
void sw_peer_call_cancel(struct sw_peer_call *c);

/* The receiving side: takes seq from site `from` (peer_seq.h: 0, -EALREADY for a replay with
 * *last the highest taken, -errno with err). */
int sw_peer_link_admit(struct sw_peer_link *l, enum sw_site from, uint64_t seq, uint64_t *last,
                       char *err, size_t errlen);
/* The last transition message from the peer that this site accepted: its id and the run it
 * started, so that the same message sent again (the peer's step retried after a restart)
 * gets the same answer instead of a second run. recall gives the run for id, or NULL. */
void sw_peer_link_remember(struct sw_peer_link *l, const char *id, const char *run);
const char *sw_peer_link_recall(const struct sw_peer_link *l, const char *id);
void sw_peer_link_count_message(struct sw_peer_link *l, enum peer_msg_kind kind,
                                enum sw_peer_received what);

/* drwatch_peer_requests_total{kind,answer} and drwatch_peer_messages_total{kind,answer}, every
 * series from 0. */
void sw_peer_link_metrics(const struct sw_peer_link *l, struct metric_set *m);

#endif
