/* dns.h: A-record lookups with c-ares on the loop.
 *
 * One struct dns is one resolver configuration (the system's, or explicit servers), with its
 * own timeout and tries. Answers report every A record with its TTL, and failures are told
 * apart (NXDOMAIN, SERVFAIL, REFUSED, timeout...): an error is never an empty answer. */
#ifndef DRWATCH_DNS_H
#define DRWATCH_DNS_H

#include <netinet/in.h>
#include <stddef.h>

#include "loop.h"
#include "xalloc.h"

struct dns;

struct dns_opts {
    const char *servers; /* "ip[:port],..." or NULL for the system's resolv.conf */
    int timeout_ms;      /* per try; 0 means 2000 */
    int tries;           /* 0 means 2 */
};

#define DNS_MAX_ADDRS 32

struct dns_answer {
    const char *status; /* "ok", "nodata", "nxdomain", "servfail", "refused", "timeout",
                           "formerr", "connrefused", "error" */
    const char *detail; /* c-ares' text for the status */
    struct in_addr addrs[DNS_MAX_ADDRS];
    int ttls[DNS_MAX_ADDRS];
    size_t naddrs;
    double duration_s;
};

typedef void (*dns_done_fn)(void *arg, const struct dns_answer *a);

/* Fills a from a reply to an A query (the wire bytes c-ares hands over) and c-ares' status for
 * it: the status word, and with ARES_SUCCESS every A record (CNAMEs followed) with its TTL; a
 * reply with no A record is "nodata", one that does not parse "error". Outside input: fuzzed. */
void dns_answer_parse(int status, const unsigned char *abuf, int alen, struct dns_answer *a);

/* Returns NULL with a message in err when the options are refused (bad server list). */
DRW_MUST_CHECK struct dns *dns_new(struct loop *l, const struct dns_opts *o, char *err,
                                   size_t errlen);
/* Cancels pending queries without calling their callbacks. NULL-safe. */
void dns_free(struct dns *d);
/* Starts an A query for name; fn runs once on the loop thread (possibly before this returns,
 * when c-ares fails the query at once). */
void dns_query_a(struct dns *d, const char *name, dns_done_fn fn, void *arg);
/* Drops every pending query of d without calling its callback (a deadline passed); d stays
 * usable. NULL-safe. */
void dns_cancel(struct dns *d);
/* The resolver's servers as c-ares has them ("ip:port,..."), in out; "" when unknown. */
void dns_servers(const struct dns *d, char *out, size_t outlen);

#endif
