/* test_peer_admit.c: the handshake budget of the peer endpoint (site/peer_admit.h): who gives
 * way to a newcomer when the budget or the newcomer's address's share is full (a silent
 * connection before one that sent its ClientHello, oldest first, and only the newcomer's own
 * address's when its share is full), and how client addresses are counted (IPv4, IPv4-mapped,
 * IPv6 /64). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "peer_admit.h"
#include "tap.h"

static struct peer_addr v4(const char *text)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    inet_pton(AF_INET, text, &a->sin_addr);
    struct peer_addr out;
    peer_addr_of(&ss, &out);
    return out;
}

static struct peer_addr v6(const char *text)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    inet_pton(AF_INET6, text, &a->sin6_addr);
    struct peer_addr out;
    peer_addr_of(&ss, &out);
    return out;
}

static void addresses(void)
{
    struct peer_addr a = v4("192.0.2.1"), b = v4("192.0.2.2");
    struct peer_addr m = v6("::ffff:192.0.2.1");
    ok(peer_addr_equal(&a, &a) && !peer_addr_equal(&a, &b), "IPv4: one address each");
    ok(peer_addr_equal(&a, &m), "an IPv4-mapped IPv6 address counts as its IPv4 address");
    struct peer_addr x = v6("2001:db8:1:2::1"), y = v6("2001:db8:1:2:ffff::9");
    struct peer_addr z = v6("2001:db8:1:3::1");
    ok(peer_addr_equal(&x, &y), "IPv6: one /64 is one address");
    ok(!peer_addr_equal(&x, &z), "IPv6: another /64 is another");
    struct sockaddr_storage ss = {0};
    ss.ss_family = AF_UNIX;
    struct peer_addr u;
    peer_addr_of(&ss, &u);
    is_int(u.len, 0, "another family: an address of its own kind (length 0)");
}

static void budgets(void)
{
    struct peer_addr a = v4("192.0.2.1"), b = v4("192.0.2.2"), c = v4("192.0.2.3");
    size_t victim = 99;
    is_int(peer_admit_check(NULL, 0, &a, 1, 1, &victim), PEER_ADMIT_ROOM,
           "an empty budget has room, even for one");
    struct peer_pending p[] = {
        {a, true}, {b, false}, {a, false}, {b, true}, {a, true},
    };
    is_int(peer_admit_check(p, 5, &c, 8, 3, &victim), PEER_ADMIT_ROOM,
           "a new address under both budgets: room");
    is_int(peer_admit_check(p, 5, &b, 8, 3, &victim), PEER_ADMIT_ROOM,
           "an address under its share: room");

    is_int(peer_admit_check(p, 5, &a, 8, 3, &victim), PEER_ADMIT_EVICT_ADDRESS,
           "an address at its share gives way itself");
    is_int(victim, 2, "its oldest silent one, before its older ones that sent a ClientHello");
    struct peer_pending q[] = {{b, false}, {a, true}, {a, true}, {b, false}};
    is_int(peer_admit_check(q, 4, &a, 8, 2, &victim), PEER_ADMIT_EVICT_ADDRESS,
           "an address whose share all sent a ClientHello");
    is_int(victim, 1, "gives way its oldest, never another address's (even silent, older)");

    is_int(peer_admit_check(p, 5, &c, 5, 3, &victim), PEER_ADMIT_EVICT,
           "the whole budget full: one gives way");
    is_int(victim, 1, "the oldest silent one of any address");
    struct peer_pending r[] = {{b, true}, {a, true}, {c, true}};
    is_int(peer_admit_check(r, 3, &c, 3, 3, &victim), PEER_ADMIT_EVICT,
           "the whole budget full of ClientHellos");
    is_int(victim, 0, "the oldest gives way");
    is_int(peer_admit_check(r, 3, &b, 3, 1, &victim), PEER_ADMIT_EVICT_ADDRESS,
           "both full: the address's share is what gives");
    is_int(victim, 0, "its own connection");
}

/* After a reload lowered max_handshakes from 6 to 2: dropping as told until there is room
 * leaves one, so that the newcomer makes two; silent ones first. */
static void shrunk(void)
{
    struct peer_addr a = v4("192.0.2.1"), b = v4("192.0.2.2");
    struct peer_pending p[] = {{a, true}, {b, false}, {a, true}, {b, true}, {a, false}, {b, true}};
    size_t n = 6, victim, rounds = 0;
    bool silent_first = true;
    while (peer_admit_check(p, n, &a, 2, 8, &victim) == PEER_ADMIT_EVICT && rounds++ < 10) {
        if (rounds <= 2 && p[victim].hello) silent_first = false;
        memmove(&p[victim], &p[victim + 1], (n - victim - 1) * sizeof(p[0]));
        n--;
    }
    is_int(n, 1, "a smaller budget: dropped down to one under it");
    ok(silent_first, "the two silent ones went first");
    ok(peer_addr_equal(&p[0].addr, &b), "and then the oldest, leaving the youngest");
}

int main(void)
{
    addresses();
    budgets();
    shrunk();
    return done_testing();
}
