/* peer_admit.h: which connection still in its TLS handshake gives way to a new one, at the peer
 * endpoint (site/peer_server.h).
 *
 * Until its certificate is verified a client is a stranger, so connections in the handshake
 * have a small budget of their own, apart from the authenticated ones', of which one client
 * address may hold only a share: strangers can never take an authenticated connection's slot,
 * and strangers at one address compete only with each other. A full budget makes room rather
 * than turning the newcomer away, so that a flood cannot keep the peer out: the peer's new
 * connection always starts its handshake, which takes it milliseconds. What gives way is, among
 * the newcomer's address's connections when that address holds its share, else among all: the
 * oldest that has not sent its ClientHello yet (plain TCP, a port scan, a slow sender: the peer
 * sends it at once), else the oldest.
 *
 * A pure function over the pending connections, oldest first, so that the policy is tested
 * without sockets (tests/unit/test_peer_admit.c). */
#ifndef DRWATCH_PEER_ADMIT_H
#define DRWATCH_PEER_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A client address as the budget counts it: an IPv4 address, or an IPv6 /64 (what one host or
 * one customer usually has); an IPv4-mapped IPv6 address counts as its IPv4 address. */
struct peer_addr {
    uint8_t len; /* 4 or 8; 0 for another family */
    uint8_t bytes[8];
};

void peer_addr_of(const struct sockaddr_storage *ss, struct peer_addr *out);
bool peer_addr_equal(const struct peer_addr *a, const struct peer_addr *b);

struct peer_pending {
    struct peer_addr addr;
    bool hello; /* its ClientHello came */
};

enum peer_admit_verdict {
    PEER_ADMIT_ROOM,          /* the newcomer fits */
    PEER_ADMIT_EVICT,         /* max_pending are in the handshake: drop *victim */
    PEER_ADMIT_EVICT_ADDRESS, /* the newcomer's address holds max_per_address: drop *victim */
};

/* Whether a new connection from addr fits beside the pending ones p[0..n), oldest first, with
 * at most max_pending (>= 1) in all and max_per_address (>= 1) from one address. When it does
 * not, *victim is the index in p of the one to drop. Call again after dropping it: after a
 * reload lowered a budget, more than one may have to go. */
enum peer_admit_verdict peer_admit_check(const struct peer_pending *p, size_t n,
                                         const struct peer_addr *addr, size_t max_pending,
                                         size_t max_per_address, size_t *victim);

#endif
