/* patroni.c: the Patroni collector: one target per site's Patroni cluster, reading each
 * member's REST API.
 *
 * A target lists the member URLs of one cluster (url, then member_urls). Every scrape asks
 * each member, all at once, for its status document through the documented health check
 * GET /leader (the /patroni JSON, 200 when the member holds the leader lock, 503 when not),
 * and for GET /cluster and GET /config; the first member (in config order) whose /cluster and
 * /config answered gives the cluster view. Asking every member keeps the site's view when
 * one member is down or hung, and the per-member documents give what /cluster lacks (the
 * standby leader's WAL positions, pending restart, DCS contact). The target is up while at
 * least one document answered; a member that did not is drwatch_patroni_endpoint_up 0 and
 * counted in drwatch_collector_errors_total{reason}.
 *
 * Patroni answers HTTP/1.0 without Content-Length (the body ends at close), which libcurl
 * reads as it should. Each request gets 80% of the target's timeout, so that a hung member is
 * reported as that member's timeout before the scheduler's deadline drops the whole scrape.
 *
 * The targets of one config share a walpos board (site/walpos.h): each posts the
 * primaries it saw, so that the standby cluster's standby leader is told how far it is behind
 * the other site's primary.
 *
 * Uses: exporter/httpc (requests), exporter/target (HTTP settings), patroni_map.c (bodies to
 * metrics). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "collector_env.h"
#include "collectors.h"
#include "http_client.h"
#include "http_target.h"
#include "log.h"
#include "patroni.h"
#include "strutil.h"
#include "xalloc.h"

#define PATRONI_MAX_URLS 16

struct patroni_target_cfg {
    struct http_target http;
    struct cfg_strings member_urls;
};

struct patroni_cfg {
    struct cfg_list targets;
};

static const struct cfg_key patroni_target_keys[] = {
    HTTP_TARGET_KEYS(struct patroni_target_cfg, http),
    {.name = "member_urls",
     .type = CFG_STRINGS,
     .offset = offsetof(struct patroni_target_cfg, member_urls),
     .expect = "the REST API URLs of the cluster's other members"},
    CFG_END,
};

static const struct cfg_key patroni_keys[] = {
    {.name = "targets",
     .type = CFG_LIST,
     .offset = offsetof(struct patroni_cfg, targets),
     .sub = patroni_target_keys,
     .sub_size = sizeof(struct patroni_target_cfg),
     .required = true,
     .expect = "one table per site's Patroni cluster: { site = ..., url = ..., member_urls = "
               "{...} }"},
    CFG_END,
};

enum req_kind { REQ_LEADER, REQ_CLUSTER, REQ_CONFIG, REQ_KINDS };
static const char *const req_paths[REQ_KINDS] = {"/leader", "/cluster", "/config"};

struct patroni_target;

struct preq {
    struct patroni_target *t;
    enum req_kind kind;
    size_t ep;
    struct httpc_req *r;
    bool ok;
    int status;
    const char *reason;
    char reason_buf[24]; /* "http_<status>" */
    char detail[300];
};

struct endpoint {
    char *url;
    char *name; /* member name learnt from a scrape, keeps the label stable without /cluster */
    struct patroni_node node;
    struct patroni_cluster cluster;
    struct patroni_config config;
    struct complaint complaint;
};

struct patroni_target {
    struct http_target http; /* own copies of the strings it uses */
    struct endpoint *eps;
    size_t neps;
    struct httpc *client;
    struct walpos *board;
    double max_age;
    struct scrape *scrape;
    struct preq *reqs; /* neps * REQ_KINDS */
    size_t pending;
    struct complaint cluster_complaint;
};

/* ---- one request ---- */

static bool status_accepted(enum req_kind k, long status)
{
    return status == 200 || (k == REQ_LEADER && status == 503);
}

static void req_parse(struct preq *q, const struct httpc_result *r)
{
    struct endpoint *e = &q->t->eps[q->ep];
    char err[200];
    int rc;
    if (q->kind == REQ_LEADER)
        rc = patroni_parse_node(r->body, r->body_len, &e->node, &q->reason, err, sizeof(err));
    else if (q->kind == REQ_CLUSTER)
        rc = patroni_parse_cluster(r->body, r->body_len, &e->cluster, &q->reason, err, sizeof(err));
    else
        rc = patroni_parse_config(r->body, r->body_len, &e->config, &q->reason, err, sizeof(err));
    if (rc < 0) {
        snprintf(q->detail, sizeof(q->detail), "GET %s%s: %s", e->url, req_paths[q->kind], err);
        return;
    }
    q->ok = true;
}

static void finish_scrape(struct patroni_target *t);

static void on_response(void *arg, const struct httpc_result *r)
{
    struct preq *q = arg;
    struct patroni_target *t = q->t;
    const char *url = t->eps[q->ep].url;
    q->r = NULL;
    q->status = (int)r->status;
    if (!r->ok) {
        q->reason = r->reason;
        snprintf(q->detail, sizeof(q->detail), "GET %s%s: %s", url, req_paths[q->kind],
                 r->error ? r->error : r->reason);
    } else if (!status_accepted(q->kind, r->status)) {
        http_status_reason(r->status, q->reason_buf, sizeof(q->reason_buf));
        q->reason = q->reason_buf;
        snprintf(q->detail, sizeof(q->detail), "GET %s%s: HTTP %ld", url, req_paths[q->kind],
                 r->status);
    } else {
        req_parse(q, r);
    }
    if (--t->pending == 0) finish_scrape(t);
}

/* ---- the scrape ---- */

static void clear_docs(struct patroni_target *t)
{
    for (size_t i = 0; i < t->neps; i++) {
        patroni_node_clear(&t->eps[i].node);
        patroni_cluster_clear(&t->eps[i].cluster);
        patroni_config_clear(&t->eps[i].config);
    }
}

/* The first request of this kind that succeeded, in config order, or NULL. */
static const struct preq *first_ok(const struct patroni_target *t, enum req_kind k)
{
    for (size_t i = 0; i < t->neps; i++)
        if (t->reqs[i * REQ_KINDS + k].ok) return &t->reqs[i * REQ_KINDS + k];
    return NULL;
}

/* Counts and logs what failed while the scrape as a whole did not. */
static void report_partial(struct patroni_target *t, struct scrape *s)
{
    for (size_t i = 0; i < t->neps; i++) {
        const struct preq *q = &t->reqs[i * REQ_KINDS + REQ_LEADER];
        if (q->ok) {
            log_complain_clear(&t->eps[i].complaint, "patroni", "member %s answers again",
                               t->eps[i].url);
            continue;
        }
        scrape_count_error(s, q->reason);
        log_complain(&t->eps[i].complaint, LOG_WARN, "patroni", "member %s: %s (%s)", t->eps[i].url,
                     q->reason, q->detail);
    }
    for (enum req_kind k = REQ_CLUSTER; k < REQ_KINDS; k++) {
        if (first_ok(t, k)) continue;
        const struct preq *q = &t->reqs[k];
        scrape_count_error(s, q->reason);
        log_complain(&t->cluster_complaint, LOG_WARN, "patroni", "site %s: %s on every member: %s",
                     http_target_site(&t->http), req_paths[k], q->detail);
    }
    if (first_ok(t, REQ_CLUSTER) && first_ok(t, REQ_CONFIG))
        log_complain_clear(&t->cluster_complaint, "patroni",
                           "site %s: /cluster and /config answer again",
                           http_target_site(&t->http));
}

static void finish_scrape(struct patroni_target *t)
{
    struct scrape *s = t->scrape;
    t->scrape = NULL;
    bool any = false;
    for (size_t i = 0; i < t->neps * REQ_KINDS; i++) any |= t->reqs[i].ok;
    if (!any) {
        const struct preq *q = &t->reqs[REQ_LEADER];
        clear_docs(t);
        scrape_done(s, false, q->reason, q->detail);
        return;
    }
    struct patroni_endpoint_view views[PATRONI_MAX_URLS];
    for (size_t i = 0; i < t->neps; i++) {
        const struct preq *q = &t->reqs[i * REQ_KINDS + REQ_LEADER];
        views[i] = (struct patroni_endpoint_view){.url = t->eps[i].url,
                                                  .up = q->ok,
                                                  .leader_status = q->status,
                                                  .node = &t->eps[i].node,
                                                  .known_name = t->eps[i].name};
    }
    const struct preq *c = first_ok(t, REQ_CLUSTER), *g = first_ok(t, REQ_CONFIG);
    struct patroni_view v = {.site = http_target_site(&t->http),
                             .endpoints = views,
                             .nendpoints = t->neps,
                             .cluster = c ? &t->eps[c->ep].cluster : NULL,
                             .config = g ? &t->eps[g->ep].config : NULL};
    report_partial(t, s);
    patroni_emit(scrape_set(s), &v, t->board, t, time_wall_s(), t->max_age);
    for (size_t i = 0; i < t->neps; i++) {
        const char *name = views[i].up ? patroni_member_name(&v, &views[i]) : NULL;
        if (name && name != t->eps[i].url && name != t->eps[i].name) {
            free(t->eps[i].name);
            t->eps[i].name = xstrdup(name);
        }
    }
    clear_docs(t);
    scrape_done(s, true, NULL, NULL);
}

static void patroni_cancel(void *state)
{
    struct patroni_target *t = state;
    for (size_t i = 0; i < t->neps * REQ_KINDS; i++) {
        httpc_cancel(t->reqs[i].r);
        t->reqs[i].r = NULL;
    }
    t->pending = 0;
    t->scrape = NULL;
    clear_docs(t);
}

static void patroni_start(void *state, struct scrape *s)
{
    struct patroni_target *t = state;
    t->scrape = s;
    t->pending = 0;
    for (size_t i = 0; i < t->neps * REQ_KINDS; i++)
        t->reqs[i] = (struct preq){.t = t,
                                   .kind = (enum req_kind)(i % REQ_KINDS),
                                   .ep = i / REQ_KINDS,
                                   .reason = "transport"};
    /* Start them all first; a refused start completes synchronously below. */
    size_t n = t->neps * REQ_KINDS;
    t->pending = n + 1;
    for (size_t i = 0; i < n; i++) {
        struct preq *q = &t->reqs[i];
        char *url = url_join(t->eps[q->ep].url, req_paths[q->kind]);
        struct httpc_opts o;
        char *token = NULL, err[200];
        if (http_target_opts(&t->http, url, &o, &token, err, sizeof(err)) < 0) {
            q->reason = "token";
            snprintf(q->detail, sizeof(q->detail), "%s", err);
            t->pending--;
        } else {
            int64_t timeout = o.timeout_ms * 8 / 10;
            o.timeout_ms = timeout < 100 ? 100 : timeout;
            q->r = httpc_start(t->client, &o, on_response, q);
            if (!q->r) {
                snprintf(q->detail, sizeof(q->detail), "GET %s: refused by libcurl", url);
                t->pending--;
            }
        }
        free(token);
        free(url);
    }
    if (--t->pending == 0) finish_scrape(t);
}

/* ---- config ---- */

static void patroni_free(void *state)
{
    struct patroni_target *t = state;
    if (!t) return;
    if (t->reqs) patroni_cancel(t);
    for (size_t i = 0; i < t->neps; i++) free(t->eps[i].url), free(t->eps[i].name);
    free(t->eps);
    free(t->reqs);
    http_target_clear(&t->http);
    walpos_unref(t->board);
    free(t);
}

static int check_target(const struct patroni_target_cfg *c, char *err, size_t errlen)
{
    if (http_target_check(&c->http, err, errlen) < 0) return -1;
    if (c->member_urls.n + 1 > PATRONI_MAX_URLS) {
        snprintf(err, errlen, "target %s: at most %d member URLs", http_target_label(&c->http),
                 PATRONI_MAX_URLS);
        return -1;
    }
    for (size_t i = 0; i < c->member_urls.n; i++) {
        const char *u = c->member_urls.v[i];
        if (!str_has_prefix(u, "http://") && !str_has_prefix(u, "https://")) {
            snprintf(err, errlen, "target %s: member_urls[%zu] must start with http:// or https://",
                     http_target_label(&c->http), i + 1);
            return -1;
        }
    }
    return 0;
}

static int patroni_create(const void *config, const struct collector_env *env,
                          struct target_list *out, char *err, size_t errlen)
{
    const struct patroni_cfg *cfg = config;
    const struct patroni_target_cfg *items = cfg->targets.items;
    for (size_t i = 0; i < cfg->targets.n; i++)
        if (check_target(&items[i], err, errlen) < 0) return -1;
    struct walpos *board = walpos_new();
    for (size_t i = 0; i < cfg->targets.n; i++) {
        const struct patroni_target_cfg *c = &items[i];
        struct patroni_target *t = xcalloc(1, sizeof(*t));
        http_target_copy(&t->http, &c->http);
        if (!t->http.interval_ms) t->http.interval_ms = env->fast_interval_ms;
        if (!t->http.timeout_ms) t->http.timeout_ms = t->http.interval_ms;
        t->neps = c->member_urls.n + 1;
        t->eps = xcalloc(t->neps, sizeof(*t->eps));
        t->eps[0].url = xstrdup(c->http.url);
        for (size_t k = 0; k < c->member_urls.n; k++)
            t->eps[k + 1].url = xstrdup(c->member_urls.v[k]);
        t->reqs = xcalloc(t->neps * REQ_KINDS, sizeof(*t->reqs));
        t->client = env->http;
        walpos_ref(board);
        t->board = board;
        t->max_age = 3.0 * (double)t->http.interval_ms / 1000.0;
        target_list_add(out, t, http_target_label(&t->http), http_target_site(&t->http),
                        t->http.interval_ms, t->http.timeout_ms);
    }
    walpos_unref(board);
    return 0;
}

const struct collector_ops patroni_collector = {
    .name = "patroni",
    .module = {.name = "patroni", .keys = patroni_keys, .size = sizeof(struct patroni_cfg)},
    .create = patroni_create,
    .start = patroni_start,
    .cancel = patroni_cancel,
    .free = patroni_free,
};
