/* peer_admit.c: the handshake budget of the peer endpoint (see peer_admit.h).
 *
 * Linear scans: a budget holds a few dozen connections at most (max_handshakes is capped at
 * 256), and the check runs once per accepted connection. */
#include "peer_admit.h"

#include <netinet/in.h>
#include <string.h>

void peer_addr_of(const struct sockaddr_storage *ss, struct peer_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        out->len = 4;
        memcpy(out->bytes, &a->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) { /* a v4 client of a dual-stack socket */
            out->len = 4;
            memcpy(out->bytes, a->sin6_addr.s6_addr + 12, 4);
        } else {
            out->len = 8;
            memcpy(out->bytes, a->sin6_addr.s6_addr, 8);
        }
    }
}

bool peer_addr_equal(const struct peer_addr *a, const struct peer_addr *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* The index of the one to drop among p[0..n) (of addr only, when addr is non-NULL): the oldest
 * without a ClientHello, else the oldest. n must hold at least one that matches. */
static size_t pick(const struct peer_pending *p, size_t n, const struct peer_addr *addr)
{
    size_t oldest = n;
    for (size_t i = 0; i < n; i++) {
        if (addr && !peer_addr_equal(&p[i].addr, addr)) continue;
        if (!p[i].hello) return i;
        if (oldest == n) oldest = i;
    }
    return oldest;
}

enum peer_admit_verdict peer_admit_check(const struct peer_pending *p, size_t n,
                                         const struct peer_addr *addr, size_t max_pending,
                                         size_t max_per_address, size_t *victim)
{
    size_t same = 0;
    for (size_t i = 0; i < n; i++)
        if (peer_addr_equal(&p[i].addr, addr)) same++;
    if (same > 0 && same >= max_per_address) {
        *victim = pick(p, n, addr);
        return PEER_ADMIT_EVICT_ADDRESS;
    }
    if (n > 0 && n >= max_pending) {
        *victim = pick(p, n, NULL);
        return PEER_ADMIT_EVICT;
    }
    return PEER_ADMIT_ROOM;
}
