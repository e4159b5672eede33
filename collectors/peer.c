/* peer.c: the client side of the mTLS peer link. Fetches the other site's view
 * (GET <url>/peer/v1/view, site/peer_view.h) with this drwatch's client certificate and
 * exports the round trip, the clock skew, the peer's version and state, and the peer's own GSLB
 * view and probes as drwatch_peer_*.
 *
 * Reachability is drwatch_collector_up{collector="peer",site=<peer's site>}: a peer that cannot
 * be reached (connect, tls, timeout), answers other than 200, or sends a view that is not one
 * (bad_json, bad_view, wrong_site) fails the scrape with that reason, and its samples go.
 * The peer's certificate is verified against ca_file and the URL's host name by libcurl, and
 * the peer verifies ours (site/peer_server.h), so both ends are authenticated.
 *
 * Uses: exporter/httpc, exporter/target (HTTP settings), site/peer_view (the mapping). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "clock.h"
#include "collector_env.h"
#include "collectors.h"
#include "http_client.h"
#include "http_target.h"
#include "peer.h"
#include "peer_server.h"
#include "peer_view.h"
#include "strutil.h"
#include "xalloc.h"

struct peer_target_config {
    struct http_target http;
};

struct peer_config {
    struct cfg_list targets;
};

static const struct cfg_key peer_target_keys[] = {
    HTTP_TARGET_KEYS(struct peer_target_config, http),
    CFG_END,
};

static const struct cfg_key peer_keys[] = {
    {.name = "targets",
     .type = CFG_LIST,
     .required = true,
     .offset = offsetof(struct peer_config, targets),
     .sub = peer_target_keys,
     .sub_size = sizeof(struct peer_target_config),
     .expect = "{ { site = \"golddr\", url = \"https://<peer>:8489\", ca_file = ..., "
               "cert_file = ..., key_file = ... } }"},
    CFG_END,
};

const struct http_target *peer_config_target(const void *section, const char *site)
{
    const struct peer_config *c = section;
    const struct peer_target_config *tv = c ? c->targets.items : NULL;
    for (size_t i = 0; tv && i < c->targets.n; i++)
        if (!site || strcmp(http_target_site(&tv[i].http), site) != 0) return &tv[i].http;
    return NULL;
}

struct peer {
    struct httpc *http;
    struct http_target t; /* strings owned */
    char *url;            /* base + PEER_VIEW_PATH */
    size_t max_body;
    struct scrape *scrape;
    struct httpc_req *req;
    double started_wall;
};

static void on_view(void *arg, const struct httpc_result *r)
{
    struct peer *p = arg;
    struct scrape *s = p->scrape;
    p->req = NULL;
    p->scrape = NULL;
    if (!s) return;
    if (!r->ok) {
        scrape_done(s, false, r->reason, r->error);
        return;
    }
    if (r->status != 200) {
        char reason[32], detail[160];
        http_status_reason(r->status, reason, sizeof(reason));
        snprintf(detail, sizeof(detail), "%s answered %ld: %.100s", p->url, r->status, r->body);
        scrape_done(s, false, reason, detail);
        return;
    }
    const char *reason = NULL;
    char detail[300];
    double mid = p->started_wall + r->duration_s / 2;
    if (peerview_to_metrics(r->body, r->body_len, http_target_site(&p->t), mid, r->duration_s,
                            scrape_set(s), &reason, detail, sizeof(detail)) < 0) {
        scrape_done(s, false, reason, detail);
        return;
    }
    scrape_done(s, true, NULL, NULL);
}

static void peer_start(void *state, struct scrape *s)
{
    struct peer *p = state;
    struct httpc_opts o;
    char *token = NULL, err[256];
    if (http_target_opts(&p->t, p->url, &o, &token, err, sizeof(err)) < 0) {
        scrape_done(s, false, "token", err);
        return;
    }
    const char *headers[] = {"Accept: application/json", NULL};
    o.headers = headers;
    if (o.max_body > p->max_body) o.max_body = p->max_body;
    p->scrape = s;
    p->started_wall = time_wall_s();
    p->req = httpc_start(p->http, &o, on_view, p);
    free(token);
    if (!p->req && p->scrape) {
        p->scrape = NULL;
        scrape_done(s, false, "transport", "the HTTP client refused the request");
    }
}

static void peer_cancel(void *state)
{
    struct peer *p = state;
    httpc_cancel(p->req);
    p->req = NULL;
    p->scrape = NULL;
}

static void peer_free(void *state)
{
    struct peer *p = state;
    if (!p) return;
    peer_cancel(p);
    http_target_clear(&p->t);
    free(p->url);
    free(p);
}

static int check_target(const struct peer_target_config *tc, const struct collector_env *env,
                        char *err, size_t errlen)
{
    const struct http_target *h = &tc->http;
    if (http_target_check(h, err, errlen) < 0) return -1;
    const char *label = http_target_label(h);
    if (!str_has_prefix(h->url, "https://")) {
        snprintf(err, errlen, "peer: target %s: the peer link is mTLS: url must be https://",
                 label);
        return -1;
    }
    if (!h->cert_file) {
        snprintf(err, errlen,
                 "peer: target %s: cert_file and key_file are required (the peer only serves "
                 "clients with a certificate)",
                 label);
        return -1;
    }
    if (env->site && strcmp(http_target_site(h), env->site) == 0) {
        snprintf(err, errlen,
                 "peer: target %s: site is %s, the site this drwatch runs in; the peer is the "
                 "other site",
                 label, env->site);
        return -1;
    }
    return 0;
}

static int peer_create(const void *config, const struct collector_env *env, struct target_list *out,
                       char *err, size_t errlen)
{
    const struct peer_config *c = config;
    const struct peer_target_config *tv = c->targets.items;
    for (size_t i = 0; i < c->targets.n; i++) {
        if (check_target(&tv[i], env, err, errlen) < 0) return -1;
        for (size_t k = 0; k < i; k++) {
            if (strcmp(http_target_label(&tv[k].http), http_target_label(&tv[i].http)) == 0) {
                snprintf(err, errlen, "peer: target %s is listed twice",
                         http_target_label(&tv[i].http));
                return -1;
            }
        }
    }
    for (size_t i = 0; i < c->targets.n; i++) {
        const struct http_target *h = &tv[i].http;
        struct peer *p = xcalloc(1, sizeof(*p));
        p->http = env->http;
        http_target_copy(&p->t, h);
        p->url = url_join(h->url, PEER_VIEW_PATH);
        p->max_body = CAP_PEER_VIEW;
        int64_t interval = h->interval_ms ? h->interval_ms : env->fast_interval_ms;
        p->t.interval_ms = interval; /* the request's timeout defaults to it */
        target_list_add(out, p, http_target_label(h), http_target_site(h), interval,
                        h->timeout_ms ? h->timeout_ms : interval);
    }
    return 0;
}

const struct collector_ops peer_collector = {
    .name = "peer",
    .module = {.name = "peer", .keys = peer_keys, .size = sizeof(struct peer_config)},
    .create = peer_create,
    .start = peer_start,
    .cancel = peer_cancel,
    .free = peer_free,
};
