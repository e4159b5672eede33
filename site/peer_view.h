/* peer_view.h: the view one drwatch gives its peer over the mTLS link, both ways.
 *
 * Serving side: the gslb collector puts its latest observation of each resolver and each
 * /health probe here after every sample; the peer listener (peer_server.h) renders the whole
 * view as one small JSON document. Reading side: the peer collector parses the other site's
 * document and turns it into drwatch_peer_* samples, so that rules can tell "my resolver is
 * broken" from "traffic moved".
 *
 * The document (format "drwatch-peer-view/1"; unknown keys are ignored, so it can grow):
 *   {"format":"drwatch-peer-view/1","site":"gold","version":"0.1.0","revision":"abc",
 *    "time":1712345678.125,"state":null,
 *    "gslb":[{"name":"api.example","resolver":"system","class":"gold","status":"ok",
 *             "addresses":["142.34.229.4"],"ttl":30,"held":12,"changes":1,
 *             "since":1712345000.5,"observed":1712345677.9,"duration":0.004}],
 *    "probes":[{"site":"gold","probe":"https://142.34.229.4/health","status":"up",
 *               "reason":"ok","http_status":200,"held":3,"changes":0,
 *               "observed":1712345677.8,"duration":0.021}]}
 *
 * "state" is the DR state of the serving site: for now the last_stable_state of its own
 * switchover-state ConfigMap (collectors/configmap.c sets it), null when unknown.
 *
 * Everything here runs on the loop thread: the collectors, the listener and the peer collector
 * all live there, so the view needs no lock. */
#ifndef DRWATCH_PEER_VIEW_H
#define DRWATCH_PEER_VIEW_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "registry.h"

#define PEERVIEW_FORMAT      "drwatch-peer-view/1"
#define PEERVIEW_MAX_LOOKUPS 32
#define PEERVIEW_MAX_PROBES  32
#define PEERVIEW_MAX_ADDRS   16
#define PEERVIEW_MAX_TEXT    256 /* longest string kept from a document */

/* One resolver's latest lookup of the GSLB name. Strings are copied by peerview_put_lookup. */
struct peerview_lookup {
    const char *name;
    const char *resolver;
    const char *class_name; /* gslb_class_name() */
    const char *status;     /* dns.h status */
    struct in_addr addrs[PEERVIEW_MAX_ADDRS];
    size_t naddrs;
    int ttl; /* smallest TTL of the answer, -1 without records */
    uint64_t held, changes;
    double since, observed, duration_s; /* wall clock seconds; duration in seconds */
};

/* One /health probe's latest result. */
struct peerview_probe {
    const char *site;
    const char *probe;  /* the probe's label (name or URL) */
    const char *status; /* gslb_probe_status_name() */
    const char *reason;
    long http_status;
    uint64_t held, changes;
    double observed, duration_s;
};

/* ---- serving side ---- */

/* The view this drwatch serves; owned by the daemon, it outlives config reloads. */
struct peerview;
struct peerview *peerview_new(void);
void peerview_free(struct peerview *v); /* NULL-safe */

/* Sets (or replaces) the lookup or probe entry of owner, an address that identifies one
 * observed thing across config reloads. Past the caps, new owners are ignored. */
void peerview_put_lookup(struct peerview *v, const void *owner, const struct peerview_lookup *l);
void peerview_put_probe(struct peerview *v, const void *owner, const struct peerview_probe *p);
/* Forgets owner's entry (its resolver or probe left the config). */
void peerview_drop(struct peerview *v, const void *owner);
/* The DR state this site is in, for the peer ("" or NULL: unknown, served as null). */
void peerview_set_state(struct peerview *v, const char *state);
/* Renders the document for site at wall time now into out. Returns 0 or -E2BIG. */
DRW_MUST_CHECK int peerview_render(const struct peerview *v, struct buf *out, const char *site,
                                   double now);

/* ---- reading side ---- */

/* Turns a peer's document into drwatch_peer_* samples in m. expect_site is the site the peer
 * must say it is; local_time is the wall clock when the peer answered (for the clock skew)
 * and rtt_s the request's round trip. Returns 0, or -1 with a short reason ("bad_json",
 * "bad_view", "wrong_site") and a detail; m may then hold some samples and must be dropped. */
DRW_MUST_CHECK int peerview_to_metrics(const char *body, size_t len, const char *expect_site,
                                       double local_time, double rtt_s, struct metric_set *m,
                                       const char **reason, char *detail, size_t detaillen);

#endif
