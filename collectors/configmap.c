/* configmap.c: the `switchover-state-<env>` ConfigMap, the operator interface that drwatch
 * shares with the existing switchover agent: `last_stable_state`, `last_stable_state_ts` and
 * `transition` (plus `maintenance`, which newer agents write). Exported as an info metric
 * whose labels are the keys' values (what rules read), the timestamp as a gauge, whether the
 * ConfigMap exists, and how often its resourceVersion changed.
 *
 * A ConfigMap that the API server says does not exist (404 with a NotFound Status) is a
 * successful scrape with drwatch_configmap_exists 0, logged once: the API answered, and
 * "nobody created the ConfigMap" (or it was deleted) is a fact about the site that rules
 * should see and alert on, distinct from "the API is unreachable or refuses us" (up 0). A 404
 * that is not a Kubernetes NotFound Status (a wrong URL, a proxy) is a failed scrape.
 *
 * Uses: exporter/k8s (API client, in-pod defaults), jansson, exporter/timeparse. */
#include "configmap.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "collector_env.h"
#include "collectors.h"
#include "k8s.h"
#include "log.h"
#include "peer_view.h"
#include "timeparse.h"
#include "xalloc.h"

#define VALUE_MAX_BYTES 256

struct configmap_target_cfg {
    struct k8s_target k8s;
    char *configmap;
};

struct configmap_config {
    char *env;
    struct cfg_list targets;
};

static const struct cfg_key configmap_target_keys[] = {
    K8S_TARGET_KEYS(struct configmap_target_cfg, k8s),
    {.name = "configmap",
     .type = CFG_STRING,
     .offset = offsetof(struct configmap_target_cfg, configmap),
     .expect = "the ConfigMap's name (default: switchover-state-<env>)"},
    CFG_END,
};

static const struct cfg_key configmap_keys[] = {
    {.name = "env",
     .type = CFG_STRING,
     .offset = offsetof(struct configmap_config, env),
     .expect = "the environment of switchover-state-<env> (dev, test, prod)"},
    {.name = "targets",
     .type = CFG_LIST,
     .required = true,
     .offset = offsetof(struct configmap_config, targets),
     .sub = configmap_target_keys,
     .sub_size = sizeof(struct configmap_target_cfg),
     .expect = "one table per site's Kubernetes API (site, url, namespace, ...)"},
    CFG_END,
};

/* ---- the mapping ---- */

int configmap_parse_ts(const char *s, double *out)
{
    size_t n = strlen(s);
    if (timeparse_iso(s, n, TIMEPARSE_NAIVE_UTC, out) == 0) return 0;
    /* Unix seconds, as "UTC, seconds" may also be read. */
    char *end;
    if (n && n < 32 && s[0] >= '0' && s[0] <= '9') {
        double v = strtod(s, &end);
        if (*end == '\0') {
            *out = v;
            return 0;
        }
    }
    return -EINVAL;
}

struct cm_families {
    struct metric_family *exists, *info, *requested, *ts, *changes, *last_change;
};

static void make_families(struct metric_set *set, struct cm_families *f)
{
    f->exists = mset_family(set, "drwatch_configmap_exists", METRIC_GAUGE,
                            "1 if the switchover-state ConfigMap exists, 0 if the API server "
                            "says it does not (404 NotFound). Collected every interval.");
    f->info = mset_family(set, "drwatch_configmap_state_info", METRIC_INFO,
                          "The switchover-state ConfigMap's keys as labels: last_stable_state, "
                          "transition (the requested target state; empty when none), "
                          "maintenance. Empty keys are left out.");
    f->requested = mset_family(set, "drwatch_configmap_transition_requested", METRIC_GAUGE,
                               "1 while the ConfigMap's transition key is set (a switchover "
                               "is requested and not yet taken or refused).");
    f->ts = mset_family(set, "drwatch_configmap_last_stable_state_timestamp_seconds", METRIC_GAUGE,
                        "When the last stable state was reached (last_stable_state_ts, Unix "
                        "time; naive timestamps are read as UTC).");
    mset_family_set_unit(set, f->ts, "seconds");
    f->changes =
        mset_family(set, "drwatch_configmap_resource_version_changes_total", METRIC_COUNTER,
                    "Changes of the ConfigMap's resourceVersion (edits, deletion, "
                    "re-creation) seen by this drwatch since it started or reloaded.");
    f->last_change =
        mset_family(set, "drwatch_configmap_last_change_timestamp_seconds", METRIC_GAUGE,
                    "When drwatch last saw the ConfigMap change (Unix time).");
    mset_family_set_unit(set, f->last_change, "seconds");
}

static void track(struct configmap_track *tr, const char *rv, double now)
{
    if (tr->seen && strcmp(tr->rv, rv) != 0) {
        tr->changes++;
        tr->last_change = now;
    }
    tr->seen = true;
    snprintf(tr->rv, sizeof(tr->rv), "%s", rv);
}

/* Checks the body is a ConfigMap (k8s_configmap_data); returns its data object (may be NULL)
 * or sets reason. */
static int check_configmap(json_t *root, json_t **data, const char **reason, char *err,
                           size_t errlen)
{
    if (k8s_configmap_data(root, data, err, errlen) < 0) {
        *reason = "bad_body";
        return -1;
    }
    return 0;
}

int configmap_map(const char *body, size_t len, const struct configmap_view *v,
                  struct configmap_track *tr, double now, struct metric_set *set,
                  struct configmap_obs_flags *fl, const char **reason, char *err, size_t errlen)
{
    memset(fl, 0, sizeof(*fl));
    json_t *root = NULL, *data = NULL;
    if (body) {
        root = k8s_json_load(body, len, err, errlen);
        if (!root) {
            *reason = "bad_json";
            return -1;
        }
        if (check_configmap(root, &data, reason, err, errlen) < 0) {
            json_decref(root);
            return -1;
        }
    }
    struct cm_families f;
    make_families(set, &f);
    struct label_pair l[7] = {{"site", v->site},
                              {"target", v->target},
                              {"namespace", v->namespace},
                              {"configmap", v->configmap}};
    mset_add(set, f.exists, SUFFIX_NONE, l, 4, root ? 1 : 0);
    const char *rv = root ? k8s_json_str(root, "metadata", "resourceVersion", K8S_END) : "";
    track(tr, rv ? rv : "", now);
    mset_add(set, f.changes, SUFFIX_NONE, l, 4, (double)tr->changes);
    if (tr->last_change > 0) mset_add(set, f.last_change, SUFFIX_NONE, l, 4, tr->last_change);
    if (root) {
        char state[VALUE_MAX_BYTES], transition[VALUE_MAX_BYTES], maint[VALUE_MAX_BYTES],
            ts[VALUE_MAX_BYTES];
        k8s_configmap_value(data, "last_stable_state", state, sizeof(state));
        k8s_configmap_value(data, "transition", transition, sizeof(transition));
        k8s_configmap_value(data, "maintenance", maint, sizeof(maint));
        l[4] = (struct label_pair){"last_stable_state", state};
        l[5] = (struct label_pair){"transition", transition};
        l[6] = (struct label_pair){"maintenance", maint};
        mset_add(set, f.info, SUFFIX_NONE, l, 7, 1);
        if (strlen(state) < sizeof(fl->last_stable_state))
            memcpy(fl->last_stable_state, state, strlen(state) + 1);
        mset_add(set, f.requested, SUFFIX_NONE, l, 4, transition[0] ? 1 : 0);
        double t;
        k8s_configmap_value(data, "last_stable_state_ts", ts, sizeof(ts));
        if (ts[0] && configmap_parse_ts(ts, &t) == 0)
            mset_add(set, f.ts, SUFFIX_NONE, l, 4, t);
        else if (ts[0])
            fl->bad_timestamp = true;
    }
    json_decref(root);
    return 0;
}

/* ---- the collector ---- */

struct configmap {
    struct k8s_client k;
    char *name; /* the ConfigMap */
    char *path;
    char *label;
    struct httpc *http;
    struct peerview *peerview; /* NULL unless this is the ConfigMap of drwatch's own site */
    struct k8s_req *req;
    struct scrape *scrape;
    struct configmap_track track;
    struct complaint missing, bad_ts;
};

static void on_response(void *arg, const struct k8s_response *r)
{
    struct configmap *c = arg;
    struct scrape *s = c->scrape;
    c->req = NULL;
    c->scrape = NULL;
    char detail[800];
    bool missing = !r->ok && r->status == 404 && strcmp(r->status_reason, "NotFound") == 0;
    if (!r->ok && !missing) {
        snprintf(detail, sizeof(detail), "GET %s: %s", c->path, r->detail ? r->detail : "");
        scrape_done(s, false, r->reason, detail);
        return;
    }
    struct configmap_view v = {.site = http_target_site(&c->k.http),
                               .target = c->label,
                               .namespace = c->k.namespace,
                               .configmap = c->name};
    struct configmap_obs_flags fl;
    const char *why;
    if (configmap_map(missing ? NULL : r->body, r->body_len, &v, &c->track, time_wall_s(),
                      scrape_set(s), &fl, &why, detail, sizeof(detail)) < 0) {
        scrape_done(s, false, why, detail);
        return;
    }
    if (missing)
        log_complain(&c->missing, LOG_WARN, "configmap",
                     "target %s: ConfigMap %s/%s is missing: %s", c->label, c->k.namespace, c->name,
                     r->detail);
    else
        log_complain_clear(&c->missing, "configmap", "target %s: ConfigMap %s/%s exists again",
                           c->label, c->k.namespace, c->name);
    if (fl.bad_timestamp) {
        scrape_count_error(s, "bad_timestamp");
        log_complain(&c->bad_ts, LOG_WARN, "configmap",
                     "target %s: last_stable_state_ts is not a timestamp drwatch reads "
                     "(ISO 8601 or Unix seconds)",
                     c->label);
    } else {
        log_complain_clear(&c->bad_ts, "configmap", "target %s: last_stable_state_ts readable",
                           c->label);
    }
    /* Until drwatch runs the state machine itself, the state its site recorded is what the
     * peer is told. */
    if (c->peerview) peerview_set_state(c->peerview, fl.last_stable_state);
    scrape_done(s, true, NULL, NULL);
}

static void configmap_start(void *state, struct scrape *s)
{
    struct configmap *c = state;
    char err[300];
    struct k8s_call call = {.path = c->path};
    c->scrape = s;
    c->req = k8s_request(c->http, &c->k, &call, on_response, c, err, sizeof(err));
    if (!c->req) {
        c->scrape = NULL;
        scrape_done(s, false, "request", err);
    }
}

static void configmap_cancel(void *state)
{
    struct configmap *c = state;
    k8s_cancel(c->req);
    c->req = NULL;
    c->scrape = NULL;
}

static void configmap_free(void *state)
{
    struct configmap *c = state;
    if (!c) return;
    configmap_cancel(c);
    k8s_client_clear(&c->k);
    free(c->name);
    free(c->path);
    free(c->label);
    free(c);
}

static struct configmap *configmap_new(const struct configmap_config *cfg,
                                       const struct configmap_target_cfg *t,
                                       const struct collector_env *env, char *err, size_t errlen)
{
    struct configmap *c = xcalloc(1, sizeof(*c));
    if (k8s_client_init(&c->k, &t->k8s, NULL, err, errlen) < 0) goto fail;
    if (t->configmap) {
        c->name = xstrdup(t->configmap);
    } else if (cfg->env) {
        c->name = xasprintf("switchover-state-%s", cfg->env);
    } else {
        snprintf(err, errlen,
                 "configmap: set env (the ConfigMap is then switchover-state-<env>) or the "
                 "target's configmap");
        goto fail;
    }
    if (!k8s_name_valid(c->name, true)) {
        snprintf(err, errlen, "configmap: \"%s\" is not a ConfigMap name ([a-z0-9.-])", c->name);
        goto fail;
    }
    c->label =
        c->k.http.name ? xstrdup(c->k.http.name) : xasprintf("%s/%s", c->k.namespace, c->name);
    c->path = xasprintf("/api/v1/namespaces/%s/configmaps/%s", c->k.namespace, c->name);
    if (!c->k.http.interval_ms) c->k.http.interval_ms = env->default_interval_ms;
    c->http = env->http;
    if (env->site && strcmp(http_target_site(&c->k.http), env->site) == 0)
        c->peerview = env->peerview;
    return c;
fail:
    configmap_free(c);
    return NULL;
}

static int configmap_create(const void *config, const struct collector_env *env,
                            struct target_list *out, char *err, size_t errlen)
{
    const struct configmap_config *cfg = config;
    const struct configmap_target_cfg *v = cfg->targets.items;
    for (size_t i = 0; i < cfg->targets.n; i++) {
        struct configmap *c = configmap_new(cfg, &v[i], env, err, errlen);
        if (!c) return -1;
        const char *site = http_target_site(&c->k.http);
        for (size_t k = 0; k < out->n; k++) {
            if (strcmp(out->v[k].name, c->label) == 0 && strcmp(out->v[k].site, site) == 0) {
                snprintf(err, errlen, "configmap: two targets in site %s are named %s", site,
                         c->label);
                configmap_free(c);
                return -1;
            }
        }
        target_list_add(out, c, c->label, site, c->k.http.interval_ms, c->k.http.timeout_ms);
    }
    return 0;
}

const struct collector_ops configmap_collector = {
    .name = "configmap",
    .module = {.name = "configmap",
               .keys = configmap_keys,
               .size = sizeof(struct configmap_config)},
    .create = configmap_create,
    .start = configmap_start,
    .cancel = configmap_cancel,
    .free = configmap_free,
};
