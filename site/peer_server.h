/* peer_server.h: the peer endpoint, a TLS listener of its own that demands a client certificate.
 *
 * The other site's drwatch fetches GET /peer/v1/view (peer_view.h) here, and sends its
 * transition messages, POST /peer/v1/confirm and /peer/v1/transition (peer_msg.h: a JSON body
 * of at most PEER_MSG_MAX bytes with a Content-Length), which the registered handler answers
 * with an explicit yes or no (200; 400 for a message that cannot be read, 411 without a
 * Content-Length, 413 past the cap). A client is served only
 * if its certificate chains to client_ca_file (purpose TLS client) AND names one of
 * allowed_clients: a subjectAltName DNS name (case-insensitive) or URI (exact), or, for a
 * certificate without DNS and URI names, its subject CN. Anything else is refused during the
 * handshake, before a byte of the view is sent, and counted by reason; each reason is logged
 * once while it repeats. Every connection does a full handshake (no session resumption or
 * tickets), so each request is checked against the current CA and identities.
 *
 * It runs on the loop with non-blocking OpenSSL sockets: the view it serves lives on the loop,
 * so nothing is shared across threads. One request per connection (Connection: close). The
 * handler answers on the loop, at once: the message's answer goes back on its connection.
 *
 * Whether the peer is reachable feeds DR decisions, so strangers must not be able to lock it
 * out. A connection is a stranger's until the handshake has verified the client's certificate:
 * until then it counts in a budget of its own (max_handshakes, of which one client address may
 * hold max_handshakes_per_address; peer_admit.h) under a short deadline (handshake_timeout),
 * and when that budget is full the connection that has shown the least gives way to the
 * newcomer (one that sent no ClientHello, else the oldest), counted as evicted or
 * address_evicted. A verified client moves to the budget of authenticated connections
 * (max_connections; past it: too_many_connections), which strangers never touch, and must be
 * done within timeout of connecting. The kernel holds a connection until its first bytes come
 * (TCP_DEFER_ACCEPT, 1 s), so a silent one costs nothing until then, and a real client's
 * ClientHello is there when it is accepted. When accept fails for
 * want of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), the listener stops accepting
 * for 100 ms, doubling up to 1 s while it lasts, and counts each pause; the clients wait in the
 * kernel's backlog meanwhile.
 *
 * Config (section `peer_listen`, whose keys the peer_listen collector declares):
 *     peer_listen = { address = ":8489", cert_file = "...", key_file = "...",
 *                     client_ca_file = "...", allowed_clients = { "drwatch.golddr.example" } }
 * main starts it when the section is present; --web.peer-listen-address overrides address.
 * Reloads are two-phase (prepare, then commit or free) so that a bad certificate keeps the
 * running listener and the whole old config. */
#ifndef DRWATCH_PEER_SERVER_H
#define DRWATCH_PEER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "log.h"
#include "loop.h"

#define PEER_LISTEN_SECTION "peer_listen"
#define PEER_VIEW_PATH      "/peer/v1/view"

struct peer_listen_config {
    char *address; /* "host:port", ":port" (every address) or "[v6]:port" */
    char *cert_file, *key_file;
    char *client_ca_file;
    struct cfg_strings allowed_clients;
    int64_t timeout_ms;                 /* per connection: handshake, request and response */
    int64_t max_connections;            /* authenticated ones at once; more are closed */
    int64_t handshake_timeout_ms;       /* until the client is verified (at most timeout_ms) */
    int64_t max_handshakes;             /* connections not yet verified, at once */
    int64_t max_handshakes_per_address; /* of those, from one address (IPv6: one /64) */
};

extern const struct cfg_key peer_listen_keys[];

enum peer_refusal {
    PEER_REFUSED_NO_CERTIFICATE,
    PEER_REFUSED_BAD_CA,          /* the chain does not lead to client_ca_file */
    PEER_REFUSED_EXPIRED,         /* or not yet valid */
    PEER_REFUSED_BAD_CERTIFICATE, /* anything else: not for TLS clients, bad signature... */
    PEER_REFUSED_WRONG_IDENTITY,
    PEER_REFUSED_HANDSHAKE, /* not TLS, no common protocol, dropped mid-handshake */
    PEER_REFUSED_TIMEOUT,
    PEER_REFUSED_TOO_MANY_CONNECTIONS, /* authenticated, past max_connections */
    PEER_REFUSED_EVICTED,              /* in the handshake, gave way: max_handshakes */
    PEER_REFUSED_ADDRESS_EVICTED,      /* the same, max_handshakes_per_address */
    PEER_REFUSED_COUNT
};

enum peer_response {
    PEER_RESP_200,
    PEER_RESP_400,
    PEER_RESP_404,
    PEER_RESP_405,
    PEER_RESP_411, /* a message without a Content-Length */
    PEER_RESP_413, /* a message larger than PEER_MSG_MAX */
    PEER_RESP_503, /* this replica is not its site's leader: ask again */
    PEER_RESP_COUNT
};

/* The listener's counters, owned by the daemon so that they survive reloads and listener
 * restarts; loop thread only. */
struct peer_server_stats {
    bool listening;
    char address[128]; /* as configured */
    uint16_t port;     /* bound */
    uint64_t refused[PEER_REFUSED_COUNT];
    uint64_t responses[PEER_RESP_COUNT];
    double last_served;    /* wall clock of the last 200, 0 when never */
    double cert_not_after; /* expiry of the served certificate, 0 when unknown */
    /* refusals are logged once while they repeat, and cleared after a quiet minute */
    struct complaint complaints[PEER_REFUSED_COUNT];
    double last_refused[PEER_REFUSED_COUNT]; /* monotonic */
    /* times accepting paused because accept failed (EMFILE...); logged once while it lasts */
    uint64_t accept_paused;
    struct complaint accept_complaint;
};

struct peerview;
struct peer_msg;
struct peer_answer;

/* Who answers the peer's messages (peer_msg.h): the switchover part, through a function main
 * registers (site/ does not know the switchover part). answer is called on the loop with a
 * message that parsed, and identity the names of the client's verified certificate; it fills
 * a (id, seq and site are set already) with an explicit yes or no and a reason, at once. */
struct peer_msg_handler {
    void (*answer)(void *arg, const struct peer_msg *m, const char *identity,
                   struct peer_answer *a);
    void *arg;
};

/* What the listener uses; owned by the daemon, valid while the listener lives. */
struct peer_server_env {
    struct loop *loop;
    const char *site; /* the site this drwatch runs in, served in the view */
    struct peer_server_stats *stats;
    const struct peerview *view;
    /* NULL: every message is answered "no": this site takes part in no transition */
    const struct peer_msg_handler *messages;
};
const char *peer_refusal_name(enum peer_refusal r);
const char *peer_response_code(enum peer_response r);

/* Checks a section as start-up would (files, PEM, key matching the certificate, identities),
 * without listening. Returns 0, or -1 with err filled. */
int peer_listen_check(const struct peer_listen_config *c, char *err, size_t errlen);

struct peer_server;
struct peer_server_plan;

/* Phase one of (re)configuring the listener: c is the section or NULL (no listener), address
 * overrides c->address when non-NULL. Loads the TLS material and binds the address unless cur
 * already listens there. Returns 0 with *out set (a plan to commit or free), or -1 with err. */
int peer_server_prepare(const struct peer_server *cur, const struct peer_listen_config *c,
                        const char *address, struct peer_server_plan **out, char *err,
                        size_t errlen);
/* Phase two: makes *s what the plan says (starting, changing or stopping it) and consumes p. */
void peer_server_commit(struct peer_server **s, const struct peer_server_env *env,
                        struct peer_server_plan *p);
void peer_server_plan_free(struct peer_server_plan *p); /* NULL-safe */
/* Closes the listener and every connection. NULL-safe. */
void peer_server_free(struct peer_server *s);

#endif
