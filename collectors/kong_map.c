/* kong_map.c: the Kong collector's families (names and HELP, in one table) and its JSON
 * mappings (see kong.h): /status and /clustering/data-planes read with jansson.
 *
 * Kong's quirks handled here (reference/kong.md): JSON keys in any order; empty tables as {}
 * or []; memory as numbers (?unit=b) or as "48.73 MiB" strings (Kong's default unit=m);
 * `database` gone from DB-less nodes and data planes in 3.4 (and meaningless on 2.8-3.3 data
 * planes); data-plane rows that gain fields with each version (updated_at 3.3, labels 3.5,
 * cert_details 3.6). The control plane does not publish its own configuration hash, so the
 * one most fresh data planes report stands for it (reference_hash).
 *
 * Uses: jansson, exporter/registry (sets). /metrics is in kong_metrics.c. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kong.h"
#include "textparse.h"
#include "xalloc.h"

/* ---- families ---- */

#define EVERY " Collected every interval."

/* Every family this collector exports (README.md lists them with these HELP texts). */
static const struct family_def fams[] = {
    [F_NODE_INFO] = {"drwatch_kong_node_info", METRIC_INFO, NULL,
                     "Kong node scraped by drwatch: its configured role, and the version and "
                     "node_id its Prometheus plugin reports (3.x)." EVERY},
    [F_CONNECTIONS] = {"drwatch_kong_connections", METRIC_GAUGE, NULL,
                       "Client connections of the Kong node by state (active, reading, writing, "
                       "waiting), from /status." EVERY},
    [F_CONN_ACCEPTED] = {"drwatch_kong_connections_accepted_total", METRIC_COUNTER, NULL,
                         "Client connections the Kong node accepted since it started, from "
                         "/status." EVERY},
    [F_CONN_HANDLED] = {"drwatch_kong_connections_handled_total", METRIC_COUNTER, NULL,
                        "Client connections the Kong node handled since it started (fewer than "
                        "accepted only when a resource limit was hit), from /status." EVERY},
    [F_REQUESTS] = {"drwatch_kong_requests_total", METRIC_COUNTER, NULL,
                    "Client requests the Kong node received since it started, from /status." EVERY},
    [F_DATASTORE] = {"drwatch_kong_datastore_reachable", METRIC_GAUGE, NULL,
                     "1 if the Kong node could connect to its database when /status was read, 0 "
                     "if not; absent on data planes and DB-less nodes." EVERY},
    [F_CONFIG_HASH] = {"drwatch_kong_config_hash_info", METRIC_INFO, NULL,
                       "Hash of the configuration a DB-less node or data plane runs, from "
                       "/status (32 zeros: none loaded yet)." EVERY},
    [F_CONFIG_LOADED] = {"drwatch_kong_config_loaded", METRIC_GAUGE, NULL,
                         "1 if the DB-less node or data plane has loaded a configuration (its "
                         "hash is not all zeros), 0 if not, from /status." EVERY},
    [F_LUA_VM] = {"drwatch_kong_memory_lua_vm_bytes", METRIC_GAUGE, "bytes",
                  "Lua VM heap of each Kong worker process, from /status." EVERY},
    [F_DICT] = {"drwatch_kong_memory_shared_dict_bytes", METRIC_GAUGE, "bytes",
                "Bytes in use in each Kong shared dictionary, from /status." EVERY},
    [F_DICT_CAP] = {"drwatch_kong_memory_shared_dict_capacity_bytes", METRIC_GAUGE, "bytes",
                    "Capacity of each Kong shared dictionary, from /status." EVERY},
    [F_METRICS_SAMPLES] =
        {"drwatch_kong_metrics_samples", METRIC_GAUGE, NULL,
         "Samples in the Kong node's last /metrics body (Prometheus plugin)." EVERY},
    [F_DP_COUNT] = {"drwatch_kong_data_planes", METRIC_GAUGE, NULL,
                    "Data planes a control plane lists in /clustering/data-planes (rows stay "
                    "for cluster_data_plane_purge_delay, 14 days by default)." EVERY},
    [F_DP_INFO] = {"drwatch_kong_data_plane_info", METRIC_INFO, NULL,
                   "A data plane as its control plane lists it: address, Kong version, sync "
                   "status, config hash, and the site of its cluster_dp_labels (dp_site, Kong "
                   "3.5+)." EVERY},
    [F_DP_SEEN] = {"drwatch_kong_data_plane_last_seen_timestamp_seconds", METRIC_GAUGE, "seconds",
                   "When the data plane last contacted its control plane (Unix time, the "
                   "control plane's clock)." EVERY},
    [F_DP_AGE] = {"drwatch_kong_data_plane_last_seen_age_seconds", METRIC_GAUGE, "seconds",
                  "Seconds since the data plane last contacted its control plane, as of "
                  "drwatch's scrape (data planes ping every 30 s)." EVERY},
    [F_DP_IN_SYNC] = {"drwatch_kong_data_plane_config_in_sync", METRIC_GAUGE, NULL,
                      "1 if the data plane runs the control plane's configuration (its hash "
                      "equals drwatch_kong_cluster_config_hash_info), 0 if not or if it has "
                      "none." EVERY},
    [F_DP_CERT] = {"drwatch_kong_data_plane_cert_expiry_timestamp_seconds", METRIC_GAUGE, "seconds",
                   "When the data plane's cluster client certificate expires (Unix time, Kong "
                   "3.6+)." EVERY},
    [F_CLUSTER_HASH] = {"drwatch_kong_cluster_config_hash_info", METRIC_INFO, NULL,
                        "The configuration hash taken as the control plane's: the one most data "
                        "planes seen within 90 s of the latest report (Kong does not publish "
                        "the control plane's own)." EVERY},
    [F_SVC_RPS] = {"drwatch_kong_service_requests_per_second", METRIC_GAUGE, NULL,
                   "Requests per second to the Kong service in this site: the increase of its "
                   "request counters between each node's last two scrapes, summed over the "
                   "site's Kong nodes." EVERY},
    [F_SVC_EPS] = {"drwatch_kong_service_5xx_per_second", METRIC_GAUGE, NULL,
                   "Requests per second to the Kong service in this site answered with a 5xx "
                   "status (by the upstream or by Kong), between each node's last two scrapes, "
                   "summed over the site's Kong nodes." EVERY},
    [F_SVC_RATIO] = {"drwatch_kong_service_5xx_ratio", METRIC_GAUGE, NULL,
                     "Share of the Kong service's requests in this site answered with a 5xx "
                     "status between each node's last two scrapes (0 when there were none)." EVERY},
    [F_SVC_LATENCY] = {"drwatch_kong_service_request_duration_seconds", METRIC_SUMMARY, "seconds",
                       "Request latency quantiles (0.5, 0.9, 0.99) of the Kong service in this "
                       "site between each node's last two scrapes, estimated from the plugin's "
                       "buckets of all the site's nodes as histogram_quantile does (absent "
                       "without requests or latency metrics)." EVERY},
    [F_SUMMARY_NODES] = {"drwatch_kong_site_nodes", METRIC_GAUGE, NULL,
                         "Kong nodes of this site whose last two scrapes went into the "
                         "drwatch_kong_service_* figures (a node needs two successful scrapes "
                         "in a row)." EVERY},
};

struct metric_family *kong_family(struct metric_set *set, enum kong_fam which)
{
    return mset_family_of(set, &fams[which]);
}

/* Adds a sample labelled site, target and the extra pairs. */
void kong_add(struct metric_set *set, enum kong_fam which, const struct kong_node_id *id, double v,
              const struct label_pair *extra, size_t nextra)
{
    struct label_pair l[12] = {{"site", id->site}, {"target", id->target}};
    size_t n = 2;
    for (size_t i = 0; i < nextra && n < ARRAY_LEN(l); i++) l[n++] = extra[i];
    mset_add(set, kong_family(set, which), SUFFIX_NONE, l, n, v);
}

static const char *role_name(enum kong_role r)
{
    switch (r) {
    case KONG_CONTROL_PLANE: return "control_plane";
    case KONG_DATA_PLANE: return "data_plane";
    case KONG_TRADITIONAL: break;
    }
    return "traditional";
}

int kong_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- JSON helpers ---- */

static json_t *load_json(const char *body, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    if (!root)
        kong_fail(err, errlen, "invalid JSON at line %d column %d: %s", je.line, je.column,
                  je.text);
    return root;
}

/* An object member that is present and not null, or NULL. */
static json_t *member(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return v && !json_is_null(v) ? v : NULL;
}

/* Kong's empty tables come out as {} or []: both mean "none". */
static bool empty_table(const json_t *v)
{
    return (json_is_object(v) && json_object_size(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

static bool all_zeros(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (*s != '0') return false;
    return true;
}

/* Memory as Kong's bytes_to_str gives it: a number of bytes (unit=b), or "<n.nn> KiB|MiB|GiB"
 * (unit=k/m/g, the default m on /status). Returns 0 or -1. */
static int mem_bytes(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return isfinite(*out) && *out >= 0 ? 0 : -1;
    }
    if (!json_is_string(v)) return -1;
    const char *s = json_string_value(v);
    size_t i = 0, n = json_string_length(v);
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == 0) return -1;
    if (i < n && s[i] == '.') {
        size_t d = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == d) return -1;
    }
    if (textparse_float(s, i, out) < 0) return -1;
    while (i < n && s[i] == ' ') i++;
    static const struct {
        const char *unit;
        double mult;
    } units[] = {{"", 1}, {"B", 1}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}};
    for (size_t u = 0; u < ARRAY_LEN(units); u++) {
        if (strlen(units[u].unit) == n - i && memcmp(s + i, units[u].unit, n - i) == 0) {
            *out *= units[u].mult;
            return 0;
        }
    }
    return -1;
}

/* ---- /status ---- */

static int status_server(struct metric_set *set, const struct kong_node_id *id,
                         const json_t *server, char *err, size_t errlen)
{
    static const char *const keys[] = {
        "connections_active",   "connections_reading", "connections_writing", "connections_waiting",
        "connections_accepted", "connections_handled", "total_requests"};
    double v[ARRAY_LEN(keys)];
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        json_t *x = member(server, keys[i]);
        if (!json_is_number(x) || !isfinite(json_number_value(x)))
            return kong_fail(err, errlen, "server.%s is missing or not a number", keys[i]);
        v[i] = json_number_value(x);
    }
    static const char *const states[] = {"active", "reading", "writing", "waiting"};
    for (size_t i = 0; i < 4; i++)
        kong_add(set, F_CONNECTIONS, id, v[i], &(struct label_pair){"state", states[i]}, 1);
    kong_add(set, F_CONN_ACCEPTED, id, v[4], NULL, 0);
    kong_add(set, F_CONN_HANDLED, id, v[5], NULL, 0);
    kong_add(set, F_REQUESTS, id, v[6], NULL, 0);
    return 0;
}

static int status_workers(struct metric_set *set, const struct kong_node_id *id, const json_t *w,
                          char *err, size_t errlen)
{
    if (empty_table(w)) return 0;
    if (!json_is_array(w)) return kong_fail(err, errlen, "memory.workers_lua_vms is not an array");
    size_t n = json_array_size(w);
    for (size_t i = 0; i < n && i < KONG_MAX_WORKERS; i++) {
        json_t *e = json_array_get(w, i);
        if (!json_is_object(e))
            return kong_fail(err, errlen, "memory.workers_lua_vms[%zu] is not an object", i);
        if (member(e, "err")) continue; /* Kong could not read that worker's heap */
        json_t *pid = member(e, "pid");
        double bytes;
        if (!json_is_integer(pid) || mem_bytes(member(e, "http_allocated_gc"), &bytes) < 0)
            return kong_fail(err, errlen,
                             "memory.workers_lua_vms[%zu]: no pid or http_allocated_gc", i);
        char pidtext[32];
        snprintf(pidtext, sizeof(pidtext), "%" JSON_INTEGER_FORMAT, json_integer_value(pid));
        kong_add(set, F_LUA_VM, id, bytes, &(struct label_pair){"pid", pidtext}, 1);
    }
    return 0;
}

static int status_dicts(struct metric_set *set, const struct kong_node_id *id, json_t *d, char *err,
                        size_t errlen)
{
    if (empty_table(d)) return 0;
    if (!json_is_object(d))
        return kong_fail(err, errlen, "memory.lua_shared_dicts is not an object");
    const char *name;
    json_t *e;
    size_t n = 0;
    json_object_foreach(d, name, e)
    {
        if (n++ == KONG_MAX_DICTS) break;
        double used, cap;
        if (!json_is_object(e) || mem_bytes(member(e, "allocated_slabs"), &used) < 0 ||
            mem_bytes(member(e, "capacity"), &cap) < 0)
            return kong_fail(err, errlen,
                             "memory.lua_shared_dicts.%.64s: no allocated_slabs or capacity", name);
        struct label_pair l = {"shared_dict", name};
        kong_add(set, F_DICT, id, used, &l, 1);
        kong_add(set, F_DICT_CAP, id, cap, &l, 1);
    }
    return 0;
}

static int status_rest(struct metric_set *set, const struct kong_node_id *id, json_t *root,
                       char *err, size_t errlen)
{
    json_t *db = member(root, "database");
    if (db) {
        json_t *r = json_is_object(db) ? member(db, "reachable") : NULL;
        if (!json_is_boolean(r))
            return kong_fail(err, errlen, "database.reachable is not a boolean");
        /* Data planes have no database of their own: 2.8-3.3 say reachable anyway. */
        if (id->role != KONG_DATA_PLANE) kong_add(set, F_DATASTORE, id, json_is_true(r), NULL, 0);
    }
    json_t *hash = member(root, "configuration_hash");
    if (hash) {
        if (!json_is_string(hash))
            return kong_fail(err, errlen, "configuration_hash is not a string");
        const char *h = json_string_value(hash);
        kong_add(set, F_CONFIG_HASH, id, 1, &(struct label_pair){"config_hash", h}, 1);
        kong_add(set, F_CONFIG_LOADED, id, !all_zeros(h), NULL, 0);
    }
    json_t *mem = member(root, "memory");
    if (!mem || empty_table(mem)) return 0;
    if (!json_is_object(mem)) return kong_fail(err, errlen, "memory is not an object");
    json_t *w = member(mem, "workers_lua_vms"), *d = member(mem, "lua_shared_dicts");
    if (w && status_workers(set, id, w, err, errlen) < 0) return -1;
    if (d && status_dicts(set, id, d, err, errlen) < 0) return -1;
    return 0;
}

int kong_status_map(struct metric_set *set, const struct kong_node_id *id, const char *body,
                    size_t len, char *err, size_t errlen)
{
    json_t *root = load_json(body, len, err, errlen);
    if (!root) return -1;
    int rc = -1;
    if (!json_is_object(root)) {
        kong_fail(err, errlen, "not a JSON object");
    } else {
        json_t *server = member(root, "server");
        if (!json_is_object(server))
            kong_fail(err, errlen, "no \"server\" object");
        else if (status_server(set, id, server, err, errlen) == 0)
            rc = status_rest(set, id, root, err, errlen);
    }
    json_decref(root);
    return rc;
}

/* ---- /clustering/data-planes ---- */

struct dp_row {
    const char *id, *hostname, *ip, *version, *sync_status, *hash, *site;
    double last_seen, cert_expiry;
    bool has_last_seen, has_cert;
};

/* An optional string member: NULL when absent; -1 when it has another type. */
static int opt_string(const json_t *o, const char *key, const char **out)
{
    json_t *v = member(o, key);
    *out = NULL;
    if (!v) return 0;
    if (!json_is_string(v)) return -1;
    *out = json_string_value(v);
    return 0;
}

static int opt_number(const json_t *o, const char *key, double *out, bool *has)
{
    json_t *v = member(o, key);
    *has = false;
    if (!v) return 0;
    if (!json_is_number(v) || !isfinite(json_number_value(v))) return -1;
    *out = json_number_value(v);
    *has = true;
    return 0;
}

static int dp_row_read(const json_t *o, size_t i, struct dp_row *r, char *err, size_t errlen)
{
    *r = (struct dp_row){0};
    if (!json_is_object(o)) return kong_fail(err, errlen, "data[%zu] is not an object", i);
    if (opt_string(o, "id", &r->id) < 0 || !r->id || !*r->id)
        return kong_fail(err, errlen, "data[%zu].id is missing or not a string", i);
    static const char *const keys[] = {"hostname", "ip", "version", "sync_status", "config_hash"};
    const char **dst[] = {&r->hostname, &r->ip, &r->version, &r->sync_status, &r->hash};
    for (size_t k = 0; k < ARRAY_LEN(keys); k++)
        if (opt_string(o, keys[k], dst[k]) < 0)
            return kong_fail(err, errlen, "data[%zu].%s is not a string", i, keys[k]);
    if (opt_number(o, "last_seen", &r->last_seen, &r->has_last_seen) < 0)
        return kong_fail(err, errlen, "data[%zu].last_seen is not a number", i);
    json_t *labels = member(o, "labels"), *cert = member(o, "cert_details");
    if (labels && !empty_table(labels)) {
        if (!json_is_object(labels) || opt_string(labels, "site", &r->site) < 0)
            return kong_fail(err, errlen, "data[%zu].labels is not a map of strings", i);
    }
    if (cert && !empty_table(cert)) {
        if (!json_is_object(cert) ||
            opt_number(cert, "expiry_timestamp", &r->cert_expiry, &r->has_cert) < 0)
            return kong_fail(err, errlen, "data[%zu].cert_details is not an object", i);
    }
    return 0;
}

static bool hash_usable(const char *h)
{
    return h && *h && !all_zeros(h);
}

/* The hash most data planes report among those seen within KONG_DP_FRESH_SECONDS of the
 * latest report (all of them if none is that fresh): a control plane sends one configuration
 * to every data plane, so the data planes that are in sync agree on it. Ties go to the hash
 * reported most recently, then to the smaller string. NULL when no data plane has one. */
static const char *reference_hash(const struct dp_row *r, size_t n)
{
    double latest = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (hash_usable(r[i].hash) && r[i].has_last_seen && r[i].last_seen > latest)
            latest = r[i].last_seen;
    const char *best = NULL;
    for (int pass = 0; pass < 2 && !best; pass++) {
        size_t best_n = 0;
        double best_seen = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            bool fresh = r[i].has_last_seen && r[i].last_seen >= latest - KONG_DP_FRESH_SECONDS;
            if (!hash_usable(r[i].hash) || (pass == 0 && !fresh)) continue;
            size_t cnt = 0;
            double seen = -INFINITY;
            for (size_t k = 0; k < n; k++) {
                bool kfresh =
                    r[k].has_last_seen && r[k].last_seen >= latest - KONG_DP_FRESH_SECONDS;
                if (!r[k].hash || strcmp(r[k].hash, r[i].hash) || (pass == 0 && !kfresh)) continue;
                cnt++;
                if (r[k].has_last_seen && r[k].last_seen > seen) seen = r[k].last_seen;
            }
            if (cnt > best_n || (cnt == best_n && seen > best_seen) ||
                (cnt == best_n && seen == best_seen && strcmp(r[i].hash, best) < 0)) {
                best = r[i].hash;
                best_n = cnt;
                best_seen = seen;
            }
        }
    }
    return best;
}

static void dp_row_add(struct metric_set *set, const struct kong_node_id *id,
                       const struct dp_row *r, const char *ref, double now)
{
    struct label_pair l[2] = {{"node_id", r->id}, {"hostname", r->hostname}};
    struct label_pair info[] = {
        {"node_id", r->id},      {"hostname", r->hostname},       {"ip", r->ip},
        {"version", r->version}, {"sync_status", r->sync_status}, {"config_hash", r->hash},
        {"dp_site", r->site},
    };
    kong_add(set, F_DP_INFO, id, 1, info, ARRAY_LEN(info));
    if (r->has_last_seen) {
        kong_add(set, F_DP_SEEN, id, r->last_seen, l, 2);
        kong_add(set, F_DP_AGE, id, now > r->last_seen ? now - r->last_seen : 0, l, 2);
    }
    kong_add(set, F_DP_IN_SYNC, id, ref && hash_usable(r->hash) && strcmp(r->hash, ref) == 0, l, 2);
    if (r->has_cert) kong_add(set, F_DP_CERT, id, r->cert_expiry, l, 2);
}

int kong_data_planes_map(struct metric_set *set, const struct kong_node_id *id, const char *body,
                         size_t len, double now, struct kong_dp_result *res, char *err,
                         size_t errlen)
{
    *res = (struct kong_dp_result){0};
    json_t *root = load_json(body, len, err, errlen);
    if (!root) return -1;
    int rc = -1;
    struct dp_row *rows = NULL;
    json_t *data = json_is_object(root) ? member(root, "data") : NULL;
    if (!data || !(json_is_array(data) || empty_table(data))) {
        kong_fail(err, errlen, "no \"data\" list");
        goto done;
    }
    json_t *next = member(root, "next");
    if (next && !json_is_string(next)) {
        kong_fail(err, errlen, "\"next\" is neither null nor a string");
        goto done;
    }
    size_t n = json_is_array(data) ? json_array_size(data) : 0;
    if (n > KONG_MAX_DATA_PLANES) n = KONG_MAX_DATA_PLANES, res->truncated = true;
    if (next && json_string_length(next)) res->truncated = true;
    rows = n ? xcalloc(n, sizeof(*rows)) : NULL;
    for (size_t i = 0; i < n; i++)
        if (dp_row_read(json_array_get(data, i), i, &rows[i], err, errlen) < 0) goto done;
    const char *ref = reference_hash(rows, n);
    for (size_t i = 0; i < n; i++) dp_row_add(set, id, &rows[i], ref, now);
    kong_add(set, F_DP_COUNT, id, (double)n, NULL, 0);
    if (ref) kong_add(set, F_CLUSTER_HASH, id, 1, &(struct label_pair){"config_hash", ref}, 1);
    res->rows = n;
    rc = 0;
done:
    free(rows);
    json_decref(root);
    return rc;
}

/* ---- node info ---- */

void kong_node_info_add(struct metric_set *set, const struct kong_node_id *id,
                        const struct kong_obs *o)
{
    struct label_pair l[3] = {{"role", role_name(id->role)},
                              {"version", o ? kong_obs_version(o) : NULL},
                              {"node_id", o ? kong_obs_node_id(o) : NULL}};
    kong_add(set, F_NODE_INFO, id, 1, l, 3);
}
