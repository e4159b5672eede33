/* peer_listener_stats.c: the server side of the peer link, as metrics. The `peer_listen` section is
 * declared here (its keys are site/peer_server.h's, and main starts the listener from it);
 * this collector exports the listener's counters: requests served, clients refused by reason,
 * pauses of accepting, when the peer last fetched this site's view, and when the served
 * certificate expires.
 *
 * Uses: site/peer_server (keys, checks and the counters the daemon keeps). */
#include <stdio.h>
#include <stdlib.h>

#include "collector_env.h"
#include "collectors.h"
#include "peer_server.h"
#include "xalloc.h"

struct peer_listen {
    char *address;
    const struct peer_server_stats *stats; /* the daemon's */
};

static struct metric_family *gauge(struct metric_set *m, const char *name, const char *help,
                                   const char *unit)
{
    struct metric_family *f = mset_family(m, name, METRIC_GAUGE, help);
    if (unit) mset_family_set_unit(m, f, unit);
    return f;
}

static void peer_listen_start(void *state, struct scrape *s)
{
    const struct peer_listen *p = state;
    const struct peer_server_stats *st = p->stats;
    struct metric_set *m = scrape_set(s);
    mset_addv(m,
              gauge(m, "drwatch_peer_listener_up",
                    "1 while the mTLS peer endpoint listens, else 0.", NULL),
              st->listening, LABELS_END);
    struct metric_family *rf = mset_family(
        m, "drwatch_peer_listener_refused_total", METRIC_COUNTER,
        "Clients the mTLS peer endpoint refused, by reason (no_certificate, bad_ca, "
        "expired, bad_certificate, wrong_identity, handshake, timeout, too_many_connections, "
        "evicted, address_evicted).");
    for (int r = 0; r < PEER_REFUSED_COUNT; r++)
        mset_addv(m, rf, (double)st->refused[r], "reason", peer_refusal_name((enum peer_refusal)r),
                  LABELS_END);
    mset_addv(m,
              mset_family(m, "drwatch_peer_listener_accept_paused_total", METRIC_COUNTER,
                          "Times the mTLS peer endpoint stopped accepting connections for a "
                          "moment (100 ms, doubling to 1 s while it lasts) because accept "
                          "failed for want of file descriptors or memory."),
              (double)st->accept_paused, LABELS_END);
    struct metric_family *qf = mset_family(
        m, "drwatch_peer_listener_responses_total", METRIC_COUNTER,
        "Responses of the mTLS peer endpoint to authenticated clients, by status code.");
    for (int c = 0; c < PEER_RESP_COUNT; c++)
        mset_addv(m, qf, (double)st->responses[c], "code",
                  peer_response_code((enum peer_response)c), LABELS_END);
    if (st->last_served > 0)
        mset_addv(m,
                  gauge(m, "drwatch_peer_listener_last_served_timestamp_seconds",
                        "When the peer last fetched this site's view (Unix time).", "seconds"),
                  st->last_served, LABELS_END);
    if (st->cert_not_after > 0)
        mset_addv(m,
                  gauge(m, "drwatch_peer_listener_certificate_expiry_timestamp_seconds",
                        "When the certificate the peer endpoint serves expires (Unix time).",
                        "seconds"),
                  st->cert_not_after, LABELS_END);
    scrape_done(s, true, NULL, NULL);
}

static int peer_listen_create(const void *config, const struct collector_env *env,
                              struct target_list *out, char *err, size_t errlen)
{
    const struct peer_listen_config *c = config;
    if (peer_listen_check(c, err, errlen) < 0) return -1;
    struct peer_listen *p = xcalloc(1, sizeof(*p));
    p->address = xstrdup(c->address ? c->address : "");
    p->stats = env->peer_stats;
    target_list_add(out, p, "listener", env->site, env->fast_interval_ms, env->fast_interval_ms);
    return 0;
}

static void peer_listen_free(void *state)
{
    struct peer_listen *p = state;
    if (!p) return;
    free(p->address);
    free(p);
}

const struct collector_ops peer_listen_collector = {
    .name = "peer_listen",
    .module = {.name = PEER_LISTEN_SECTION,
               .keys = peer_listen_keys,
               .size = sizeof(struct peer_listen_config)},
    .create = peer_listen_create,
    .start = peer_listen_start,
    .free = peer_listen_free,
};
