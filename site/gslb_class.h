/* gslb_class.h: what a GSLB observation means: the class of a DNS answer by the sites' addresses,
 * the class of a site's /health probe, and how long a class has held (gslb.md, DESIGN.md).
 *
 * Pure functions without I/O, shared by the gslb collector, the peer view and their tests.
 *
 * Answer classes: an answer whose every address is a Gold address is `gold`, every address a
 * GoldDR one `golddr`, addresses of both sites `both` (a misconfigured GSLB has answered total
 * outage that way; never "first address wins"), an answer with no address (NOERROR, no A
 * record) `none`, an answer with an address of neither site `unknown`, and every failure
 * (NXDOMAIN, SERVFAIL, REFUSED, timeout...) `error`: an error is never an answer. */
#ifndef DRWATCH_GSLB_CLASS_H
#define DRWATCH_GSLB_CLASS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xalloc.h"

enum gslb_class {
    GSLB_CLASS_GOLD,
    GSLB_CLASS_GOLDDR,
    GSLB_CLASS_BOTH,
    GSLB_CLASS_NONE,
    GSLB_CLASS_UNKNOWN,
    GSLB_CLASS_ERROR,
    GSLB_CLASS_COUNT
};

enum gslb_probe_status {
    GSLB_PROBE_UP,
    GSLB_PROBE_DOWN,
    GSLB_PROBE_WRONG_BODY,
    GSLB_PROBE_STATUS_COUNT
};

/* The "iamalive" page the F5 monitor expects (gslb.md). */
#define GSLB_IAMALIVE_BODY "<html><body>iamalive</body></html>"

/* The configured addresses of each site (borrowed). */
struct gslb_sites {
    const struct in_addr *gold;
    size_t ngold;
    const struct in_addr *golddr;
    size_t ngolddr;
};

/* "gold", "golddr", "both", "none", "unknown", "error". */
const char *gslb_class_name(enum gslb_class c);
/* The class named by the n bytes at s, or -1. */
DRW_MUST_CHECK int gslb_class_parse(const char *s, size_t n);
/* "up", "down", "wrong_body". */
const char *gslb_probe_status_name(enum gslb_probe_status p);
DRW_MUST_CHECK int gslb_probe_status_parse(const char *s, size_t n);

/* The site an address belongs to: "gold", "golddr", or NULL for neither. */
DRW_MUST_CHECK const char *gslb_address_site(const struct gslb_sites *s, struct in_addr a);

/* Classifies a lookup: status as dns.h reports it ("ok", "nodata", "nxdomain", ...) and the
 * addresses of the answer. */
enum gslb_class gslb_answer_classify(const struct gslb_sites *s, const char *status,
                                     const struct in_addr *addrs, size_t naddrs);

/* Classifies a /health response as the F5 monitor would: a transport failure or a status other
 * than 2xx is down; a 2xx whose body, without trailing white space, is not expect is
 * wrong_body (so is a body over the cap: something else answers there); else up. reason gets
 * a short stable word: "ok", the transport reason ("timeout", "connect", "tls"...),
 * "http_<status>", "body_mismatch" or "body_too_large". */
enum gslb_probe_status gslb_probe_classify(bool transport_ok, const char *transport_reason,
                                           long status, const char *body, size_t body_len,
                                           const char *expect, char *reason, size_t reasonlen);

/* How long a value (a class, a probe status) has held. Zero it to start. */
struct gslb_streak {
    int value;        /* -1 before the first sample */
    uint64_t held;    /* consecutive samples with this value, this one included */
    uint64_t changes; /* times the value changed (the first sample is not a change) */
    double since;     /* when the value started (the caller's clock) */
};

void gslb_streak_init(struct gslb_streak *s);
/* Records a sample; returns true when it changed the value. */
bool gslb_streak_add(struct gslb_streak *s, int value, double now);

#endif
