/* kong.c: the Kong collector. One scheduler target per Kong node; a scrape fetches the node's
 * /status, its /clustering/data-planes (control planes only) and the Prometheus plugin's
 * /metrics at the same time, and ends when all three are in: any failure fails the scrape with
 * a reason naming the endpoint ("status_http_500", "metrics_bad_body", "data_planes_timeout").
 * The bodies become samples in collectors/kong_map.c.
 *
 * Request summaries are per site and service, so they cannot come from one node's scrape: each
 * node keeps its last /metrics observation and the window between its last two, and one more
 * target per site ("summary") merges the fresh windows of that site's nodes on the same
 * interval. A node's window is dropped as soon as one of its scrapes fails. Observation and
 * window are kept across reloads (exporter/keep.h), keyed by site, label and URL, so that a reload
 * does not blank the summaries for two intervals.
 *
 * Uses: exporter/httpc (requests), exporter/target (HTTP settings), collectors/kong_map.c and
 * collectors/kong_metrics.c (the mappings). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "collector_env.h"
#include "collectors.h"
#include "http_target.h"
#include "keep.h"
#include "kong.h"
#include "log.h"
#include "xalloc.h"

#define SUMMARY_TARGET "summary"

static const char *const kong_roles[] = {"traditional", "control_plane", "data_plane", NULL};

struct kong_target_config {
    struct http_target http;
    int role; /* enum kong_role, in the order of kong_roles */
    bool passthrough;
    char *status_path;
    char *metrics_path;
    char *data_planes_path;
};

struct kong_config {
    struct cfg_list targets;
};

static const struct cfg_key kong_target_keys[] = {
    HTTP_TARGET_KEYS(struct kong_target_config, http),
    {.name = "role",
     .type = CFG_ENUM,
     .offset = offsetof(struct kong_target_config, role),
     .choices = kong_roles,
     .def = "traditional",
     .expect = "the node's Kong role: traditional, control_plane or data_plane"},
    {.name = "passthrough",
     .type = CFG_BOOL,
     .offset = offsetof(struct kong_target_config, passthrough),
     .expect = "true to re-export every /metrics sample with site and instance labels"},
    {.name = "status_path",
     .type = CFG_STRING,
     .offset = offsetof(struct kong_target_config, status_path),
     .def = "/status",
     .expect = "the path of /status (\"\" to skip it)"},
    {.name = "metrics_path",
     .type = CFG_STRING,
     .offset = offsetof(struct kong_target_config, metrics_path),
     .def = "/metrics",
     .expect = "the path of the Prometheus plugin's /metrics (\"\" to skip it)"},
    {.name = "data_planes_path",
     .type = CFG_STRING,
     .offset = offsetof(struct kong_target_config, data_planes_path),
     .def = "/clustering/data-planes",
     .expect = "the control plane's data-plane list (\"\" to skip it)"},
    CFG_END,
};

static const struct cfg_key kong_keys[] = {
    {.name = "targets",
     .type = CFG_LIST,
     .offset = offsetof(struct kong_config, targets),
     .sub = kong_target_keys,
     .sub_size = sizeof(struct kong_target_config),
     .required = true,
     .expect = "one table per Kong node: { site = \"gold\", url = \"https://...\", ... }"},
    CFG_END,
};

/* ---- state ---- */

enum endpoint { EP_STATUS, EP_DATA_PLANES, EP_METRICS, EP_COUNT };
static const char *const ep_names[EP_COUNT] = {"status", "data_planes", "metrics"};

struct node;

/* What the targets of one config share: every node, for the site summaries. */
struct kong_shared {
    int refs;
    struct node **nodes;
    size_t n;
};

enum state_kind { KIND_NODE, KIND_SUMMARY };

struct call {
    struct node *node;
    enum endpoint ep;
    struct httpc_req *req;
    bool done, failed;
    char reason[48];
    char detail[240];
};

/* What a node keeps across scrapes, and across reloads so that a reload does not restart its
 * request rates and ratios: its last /metrics observation and the window to the one before. */
struct node_memory {
    struct kong_obs *prev;
    double prev_t; /* monotonic seconds when prev's body arrived */
    struct kong_window win;
    bool win_valid;
    struct complaint capped;
};

static void node_memory_fini(void *mem)
{
    struct node_memory *m = mem;
    kong_obs_free(m->prev);
    kong_window_clear(&m->win);
}

struct node {
    enum state_kind kind; /* first: ops->free tells nodes from summaries by it */
    struct kong_shared *shared;
    struct httpc *httpc;
    struct loop *loop;
    struct http_target http; /* strings owned */
    char *label;
    struct kong_node_id id;
    bool passthrough;
    char *url[EP_COUNT]; /* NULL: not fetched */
    int64_t timeout_ms;
    /* the scrape in flight */
    struct scrape *s;
    struct call calls[EP_COUNT];
    int pending;
    char *token;
    struct kong_obs *obs; /* this scrape's /metrics */
    double obs_t;
    struct node_memory *mem; /* across scrapes and reloads (exporter/keep.h) */
    struct keep *keep;
    /* The last scrape was cancelled: at its deadline, or because a reload replaces this node.
     * Its window is left out of the summaries, but kept in memory for the node that replaces
     * it (a timeout is the scheduler's to report; the next good scrape clears this). */
    bool cancelled;
};

struct summary {
    enum state_kind kind;
    struct kong_shared *shared;
    int site;
};

static void shared_unref(struct kong_shared *sh)
{
    if (!sh || --sh->refs > 0) return;
    free(sh->nodes);
    free(sh);
}

/* ---- a scrape ---- */

static void node_reset_scrape(struct node *n)
{
    for (int e = 0; e < EP_COUNT; e++) {
        httpc_cancel(n->calls[e].req);
        n->calls[e] = (struct call){.node = n, .ep = (enum endpoint)e};
    }
    n->pending = 0;
    n->s = NULL;
    free(n->token);
    n->token = NULL;
    kong_obs_free(n->obs);
    n->obs = NULL;
}

static void call_fail(struct call *c, const char *what, const char *detail)
{
    c->failed = true;
    snprintf(c->reason, sizeof(c->reason), "%s_%s", ep_names[c->ep], what);
    snprintf(c->detail, sizeof(c->detail), "%s: %s", c->node->url[c->ep], detail ? detail : what);
}

/* Turns one answer into samples; returns -1 with c marked failed. */
static int call_map(struct call *c, const struct httpc_result *r)
{
    struct node *n = c->node;
    struct metric_set *set = scrape_set(n->s);
    char err[200];
    int rc = 0;
    switch (c->ep) {
    case EP_STATUS:
        rc = kong_status_map(set, &n->id, r->body, r->body_len, err, sizeof(err));
        if (rc < 0) call_fail(c, "bad_json", err);
        break;
    case EP_DATA_PLANES: {
        struct kong_dp_result res;
        rc = kong_data_planes_map(set, &n->id, r->body, r->body_len, time_wall_s(), &res, err,
                                  sizeof(err));
        if (rc < 0) call_fail(c, "bad_json", err);
        if (rc == 0 && res.truncated) scrape_count_error(n->s, "data_planes_truncated");
        break;
    }
    case EP_METRICS:
        n->obs = kong_obs_new();
        n->obs_t = time_mono_s(); /* when the counters were read, near enough */
        rc = kong_metrics_map(set, &n->id, n->passthrough, r->body, r->body_len, n->obs, err,
                              sizeof(err));
        if (rc < 0) {
            call_fail(c, "bad_body", err);
            kong_obs_free(n->obs);
            n->obs = NULL;
        }
        break;
    case EP_COUNT: break;
    }
    return rc;
}

/* Everything is in: rotate the observations, publish, and end the scrape. */
static void node_finish(struct node *n)
{
    struct scrape *s = n->s;
    const struct call *bad = NULL;
    for (int e = 0; e < EP_COUNT && !bad; e++)
        if (n->calls[e].failed) bad = &n->calls[e];
    if (n->obs) {
        if (!bad && n->mem->prev && n->obs_t > n->mem->prev_t) {
            kong_window_compute(&n->mem->win, n->mem->prev, n->obs, n->obs_t - n->mem->prev_t);
            n->mem->win_valid = true;
        }
        if (kong_obs_capped(n->obs)) {
            scrape_count_error(s, "metrics_capped");
            log_complain(&n->mem->capped, LOG_WARN, "kong",
                         "target %s: more than %d services or %d latency bounds per service; "
                         "the rest is left out of the summaries",
                         n->label, KONG_MAX_SERVICES, KONG_MAX_BUCKETS);
        } else {
            log_complain_clear(&n->mem->capped, "kong", "target %s: services back under the cap",
                               n->label);
        }
        kong_obs_free(n->mem->prev);
        n->mem->prev = n->obs;
        n->mem->prev_t = n->obs_t;
        n->obs = NULL;
    }
    if (bad) {
        n->mem->win_valid = false;
        char reason[48], detail[240];
        snprintf(reason, sizeof(reason), "%s", bad->reason);
        snprintf(detail, sizeof(detail), "%s", bad->detail);
        node_reset_scrape(n);
        scrape_done(s, false, reason, detail);
        return;
    }
    n->cancelled = false;
    kong_node_info_add(scrape_set(s), &n->id, n->url[EP_METRICS] ? n->mem->prev : NULL);
    node_reset_scrape(n);
    scrape_done(s, true, NULL, NULL);
}

static void on_answer(void *arg, const struct httpc_result *r)
{
    struct call *c = arg;
    struct node *n = c->node;
    c->req = NULL;
    c->done = true;
    if (!r->ok) {
        call_fail(c, r->reason ? r->reason : "transport", r->error);
    } else if (r->status < 200 || r->status > 299) {
        char reason[24], detail[120];
        http_status_reason(r->status, reason, sizeof(reason));
        /* Kong's errors are {"message": "..."}: show the start of it. */
        snprintf(detail, sizeof(detail), "HTTP %ld: %.80s", r->status, r->body);
        for (char *p = detail; *p; p++)
            if (*p < ' ' || *p > '~') *p = ' ';
        call_fail(c, reason, detail);
    } else {
        call_map(c, r);
    }
    if (--n->pending == 0) node_finish(n);
}

static void node_start(struct node *n, struct scrape *s)
{
    node_reset_scrape(n);
    n->s = s;
    char err[300];
    struct httpc_opts o;
    if (http_target_opts(&n->http, n->url[EP_STATUS] ? n->url[EP_STATUS] : "", &o, &n->token, err,
                         sizeof(err)) < 0) {
        node_reset_scrape(n);
        n->mem->win_valid = false;
        scrape_done(s, false, "token_file", err);
        return;
    }
    /* Each request ends a little before the scheduler's deadline, so that a slow endpoint is
     * named in the reason instead of a bare "timeout". */
    int64_t margin = n->timeout_ms / 5 < 100 ? n->timeout_ms / 5 : 100;
    o.timeout_ms = n->timeout_ms - margin;
    for (int e = 0; e < EP_COUNT; e++)
        if (n->url[e]) n->pending++;
    for (int e = 0; e < EP_COUNT; e++) {
        if (!n->url[e]) continue;
        struct call *c = &n->calls[e];
        o.url = n->url[e];
        c->req = httpc_start(n->httpc, &o, on_answer, c);
        if (!c->req) {
            c->done = true;
            call_fail(c, "transport", "the HTTP client refused the request");
            n->pending--;
        }
    }
    /* Every request was refused: nothing will call back. */
    if (n->pending == 0) node_finish(n);
}

static void node_free(struct node *n)
{
    node_reset_scrape(n);
    for (size_t i = 0; n->shared && i < n->shared->n; i++)
        if (n->shared->nodes[i] == n) n->shared->nodes[i] = NULL;
    shared_unref(n->shared);
    keep_put(n->keep, n->mem);
    for (int e = 0; e < EP_COUNT; e++) free(n->url[e]);
    http_target_clear(&n->http);
    free(n->label);
    free(n);
}

/* ---- the site summary ---- */

static void summary_start(struct summary *sm, struct scrape *s)
{
    const struct kong_shared *sh = sm->shared;
    const struct kong_window **w = xmalloc((sh->n ? sh->n : 1) * sizeof(*w));
    size_t n = 0;
    for (size_t i = 0; i < sh->n; i++) {
        const struct node *nd = sh->nodes[i];
        if (nd && nd->id.site == drwatch_sites[sm->site] && nd->mem->win_valid && !nd->cancelled)
            w[n++] = &nd->mem->win;
    }
    kong_summary_add(scrape_set(s), drwatch_sites[sm->site], w, n);
    free(w);
    scrape_done(s, true, NULL, NULL);
}

/* ---- collector ops ---- */

static void kong_start(void *state, struct scrape *s)
{
    if (*(enum state_kind *)state == KIND_SUMMARY)
        summary_start(state, s);
    else
        node_start(state, s);
}

static void kong_cancel(void *state)
{
    if (*(enum state_kind *)state != KIND_NODE) return;
    struct node *n = state;
    n->cancelled = true;
    node_reset_scrape(n);
}

static void kong_free(void *state)
{
    if (!state) return;
    if (*(enum state_kind *)state == KIND_NODE) {
        node_free(state);
        return;
    }
    struct summary *sm = state;
    shared_unref(sm->shared);
    free(sm);
}

/* The URL of one endpoint: base URL, path, and the query Kong needs. NULL when skipped. */
static char *endpoint_url(const struct kong_target_config *t, enum endpoint e)
{
    const char *path = e == EP_STATUS                  ? t->status_path
                       : e == EP_METRICS               ? t->metrics_path
                       : t->role == KONG_CONTROL_PLANE ? t->data_planes_path
                                                       : NULL;
    if (!path || !*path) return NULL;
    const char *query = e == EP_STATUS ? "unit=b" : e == EP_DATA_PLANES ? "size=1000" : NULL;
    char *joined = url_join(t->http.url, path);
    if (!query) return joined;
    char *u = xasprintf("%s%c%s", joined, strchr(path, '?') ? '&' : '?', query);
    free(joined);
    return u;
}

static struct node *node_new(const struct kong_target_config *t, const struct collector_env *env,
                             struct kong_shared *sh, int64_t timeout_ms)
{
    struct node *n = xcalloc(1, sizeof(*n));
    n->kind = KIND_NODE;
    n->httpc = env->http;
    n->loop = env->loop;
    http_target_copy(&n->http, &t->http);
    n->label = xstrdup(http_target_label(&t->http));
    n->id = (struct kong_node_id){
        .site = drwatch_sites[t->http.site], .target = n->label, .role = (enum kong_role)t->role};
    n->passthrough = t->passthrough;
    n->timeout_ms = timeout_ms;
    for (int e = 0; e < EP_COUNT; e++) n->url[e] = endpoint_url(t, (enum endpoint)e);
    for (int e = 0; e < EP_COUNT; e++)
        n->calls[e] = (struct call){.node = n, .ep = (enum endpoint)e};
    /* The label too: two targets may name one URL (a node scraped twice), never one label. */
    char *key = xasprintf("kong/%s/%s/%s", drwatch_sites[t->http.site], n->label, t->http.url);
    n->keep = env->keep;
    n->mem = keep_get(env->keep, key, sizeof(*n->mem), NULL, node_memory_fini);
    free(key);
    n->shared = sh;
    sh->refs++;
    sh->nodes = xrealloc(sh->nodes, (sh->n + 1) * sizeof(*sh->nodes));
    sh->nodes[sh->n++] = n;
    return n;
}

/* What the schema cannot check, before anything is made. */
static int kong_check(const struct kong_config *c, char *err, size_t errlen)
{
    const struct kong_target_config *v = c->targets.items;
    if (c->targets.n == 0) {
        snprintf(err, errlen, "kong: targets is empty");
        return -1;
    }
    for (size_t i = 0; i < c->targets.n; i++) {
        const struct kong_target_config *t = &v[i];
        const char *label = http_target_label(&t->http);
        if (http_target_check(&t->http, err, errlen) < 0) return -1;
        if (strcmp(label, SUMMARY_TARGET) == 0) {
            snprintf(err, errlen, "kong: target name \"%s\" is taken by the site summaries",
                     SUMMARY_TARGET);
            return -1;
        }
        bool dp = t->role == KONG_CONTROL_PLANE && *t->data_planes_path;
        if (!*t->status_path && !*t->metrics_path && !dp) {
            snprintf(err, errlen, "kong: target %s: status_path and metrics_path are both empty",
                     label);
            return -1;
        }
        for (size_t k = 0; k < i; k++) {
            if (v[k].http.site == t->http.site &&
                strcmp(http_target_label(&v[k].http), label) == 0) {
                snprintf(err, errlen,
                         "kong: two targets named %s in site %s (set name = \"...\" to tell them "
                         "apart)",
                         label, drwatch_sites[t->http.site]);
                return -1;
            }
        }
    }
    return 0;
}

static int kong_create(const void *config, const struct collector_env *env, struct target_list *out,
                       char *err, size_t errlen)
{
    const struct kong_config *c = config;
    if (kong_check(c, err, errlen) < 0) return -1;
    const struct kong_target_config *v = c->targets.items;
    struct kong_shared *sh = xcalloc(1, sizeof(*sh));
    sh->refs = 1;
    int64_t summary_interval[2] = {0, 0};
    for (size_t i = 0; i < c->targets.n; i++) {
        const struct kong_target_config *t = &v[i];
        int64_t interval = t->http.interval_ms ? t->http.interval_ms : env->default_interval_ms;
        int64_t timeout =
            t->http.timeout_ms && t->http.timeout_ms < interval ? t->http.timeout_ms : interval;
        struct node *n = node_new(t, env, sh, timeout);
        target_list_add(out, n, n->label, n->id.site, interval, timeout);
        int site = t->http.site;
        if (*t->metrics_path && (!summary_interval[site] || interval < summary_interval[site]))
            summary_interval[site] = interval;
    }
    for (int site = 0; site < 2; site++) {
        if (!summary_interval[site]) continue;
        struct summary *sm = xcalloc(1, sizeof(*sm));
        sm->kind = KIND_SUMMARY;
        sm->shared = sh;
        sm->site = site;
        sh->refs++;
        target_list_add(out, sm, SUMMARY_TARGET, drwatch_sites[site], summary_interval[site],
                        summary_interval[site]);
    }
    shared_unref(sh);
    return 0;
}

const struct collector_ops kong_collector = {
    .name = "kong",
    .module = {.name = "kong", .keys = kong_keys, .size = sizeof(struct kong_config)},
    .create = kong_create,
    .start = kong_start,
    .cancel = kong_cancel,
    .free = kong_free,
};
