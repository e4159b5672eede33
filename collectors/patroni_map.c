/* patroni_map.c: Patroni REST API bodies to metrics (see patroni.h), with jansson.
 *
 * Bodies come from the outside world: nesting is checked before jansson sees the body, strings
 * that become label values are cut to PATRONI_MAX_LABEL bytes, and /cluster members past
 * PATRONI_MAX_MEMBERS are counted, not exported. A field of the wrong type is treated as
 * absent; only a body that is not a JSON object of the expected shape is refused.
 *
 * Field meanings and version differences: ../shared/reference/patroni.md (sections 2, 4, 6). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector.h"
#include "patroni.h"
#include "strutil.h"
#include "xalloc.h"

/* ---- JSON helpers ---- */

/* Nesting depth of a JSON text, counted outside strings; stops early past max. */
static int json_depth_exceeds(const char *s, size_t len, int max)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max) return 1;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 0;
}

static json_t *load_object(const char *body, size_t len, const char **reason, char *err,
                           size_t errlen)
{
    if (json_depth_exceeds(body, len, PATRONI_MAX_DEPTH)) {
        *reason = "too_deep";
        snprintf(err, errlen, "JSON nested deeper than %d levels", PATRONI_MAX_DEPTH);
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    if (!root) {
        *reason = "bad_json";
        snprintf(err, errlen, "not JSON: %s at line %d column %d", je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        *reason = "unexpected_json";
        snprintf(err, errlen, "not a JSON object");
        return NULL;
    }
    return root;
}

/* A copy of a string member, cut to PATRONI_MAX_LABEL bytes on a UTF-8 boundary; NULL when
 * absent or not a string. */
static char *get_str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) return NULL;
    const char *s = json_string_value(v);
    return xstrndup(s, str_utf8_cut(s, json_string_length(v), PATRONI_MAX_LABEL));
}

static bool get_int(const json_t *o, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) { /* not what Patroni sends, but harmless when in range */
        double d = json_real_value(v);
        if (!(d > -9.2e18 && d < 9.2e18)) return false;
        *out = (int64_t)d;
        return true;
    }
    return false;
}

static bool get_bool(const json_t *o, const char *key)
{
    return json_is_true(json_object_get(o, key));
}

/* Patroni renders timestamps with Python's str(datetime): "2024-06-10 09:45:39.998120+00:00"
 * (ISO 8601 with a 'T' is accepted too). Returns false when s is not such a time. */
static bool parse_py_time(const char *s, double *out)
{
    struct tm tm = {0};
    int used = 0;
    if (sscanf(s, "%4d-%2d-%2d%*1[ T]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6 ||
        used == 0)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const char *p = s + used;
    double frac = 0, scale = 0.1;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10) frac += (*p - '0') * scale;
    }
    long offset = 0;
    if (*p == '+' || *p == '-') {
        int hh = 0, mm = 0;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) < 1) return false;
        offset = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
    } else if (*p != 'Z' && *p != '\0') {
        return false;
    }
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return false;
    *out = (double)(t - offset) + frac;
    return true;
}

/* ---- /patroni (and every health check) ---- */

int patroni_parse_node(const char *body, size_t len, struct patroni_node *out, const char **reason,
                       char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(body, len, reason, err, errlen);
    if (!root) return -1;
    out->role = get_str(root, "role");
    out->state = get_str(root, "state");
    if (!out->role || !out->state) {
        json_decref(root);
        patroni_node_clear(out);
        *reason = "unexpected_json";
        snprintf(err, errlen, "no \"role\" or \"state\": not a Patroni status document");
        return -1;
    }
    if (strcmp(out->role, "master") == 0) { /* Patroni < 4.0 */
        free(out->role);
        out->role = xstrdup("primary");
    }
    out->replication_state = get_str(root, "replication_state");
    out->sysid = get_str(root, "database_system_identifier");
    get_int(root, "timeline", &out->timeline);
    get_int(root, "server_version", &out->server_version);
    const json_t *x = json_object_get(root, "xlog");
    if (json_is_object(x)) {
        out->has_location = get_int(x, "location", &out->location);
        out->has_received = get_int(x, "received_location", &out->received);
        out->has_replayed = get_int(x, "replayed_location", &out->replayed);
        char *ts = get_str(x, "replayed_timestamp");
        out->has_replayed_ts = ts && parse_py_time(ts, &out->replayed_ts);
        free(ts);
        const json_t *p = json_object_get(x, "paused");
        out->has_replay_paused = json_is_boolean(p);
        out->replay_paused = json_is_true(p);
    }
    out->pause = get_bool(root, "pause");
    out->pending_restart = get_bool(root, "pending_restart");
    out->cluster_unlocked = get_bool(root, "cluster_unlocked");
    int64_t seen;
    if ((out->has_dcs_last_seen = get_int(root, "dcs_last_seen", &seen)))
        out->dcs_last_seen = (double)seen;
    const json_t *p = json_object_get(root, "patroni");
    if (json_is_object(p)) {
        out->scope = get_str(p, "scope");
        out->name = get_str(p, "name"); /* 4.x; absent in 3.0.2 */
        out->version = get_str(p, "version");
    }
    json_decref(root);
    return 0;
}

void patroni_node_clear(struct patroni_node *n)
{
    if (!n) return;
    free(n->role);
    free(n->state);
    free(n->scope);
    free(n->name);
    free(n->version);
    free(n->replication_state);
    free(n->sysid);
    memset(n, 0, sizeof(*n));
}

/* ---- /cluster ---- */

static void parse_member(const json_t *m, struct patroni_member *out)
{
    out->name = get_str(m, "name");
    out->role = get_str(m, "role");
    out->state = get_str(m, "state");
    out->api_url = get_str(m, "api_url");
    get_int(m, "timeline", &out->timeline);
    out->has_lag = get_int(m, "lag", &out->lag); /* "unknown" is not an integer */
    out->pending_restart = get_bool(m, "pending_restart");
}

int patroni_parse_cluster(const char *body, size_t len, struct patroni_cluster *out,
                          const char **reason, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(body, len, reason, err, errlen);
    if (!root) return -1;
    const json_t *members = json_object_get(root, "members");
    if (!json_is_array(members)) {
        json_decref(root);
        *reason = "unexpected_json";
        snprintf(err, errlen, "no \"members\" array: not a Patroni /cluster document");
        return -1;
    }
    out->scope = get_str(root, "scope");
    out->pause = get_bool(root, "pause");
    size_t n = json_array_size(members);
    out->members =
        xcalloc(n < PATRONI_MAX_MEMBERS ? n + 1 : PATRONI_MAX_MEMBERS, sizeof(*out->members));
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_array_get(members, i);
        if (!json_is_object(m) || !json_is_string(json_object_get(m, "name"))) continue;
        if (out->nmembers == PATRONI_MAX_MEMBERS) {
            out->dropped++;
            continue;
        }
        parse_member(m, &out->members[out->nmembers++]);
    }
    json_decref(root);
    return 0;
}

void patroni_cluster_clear(struct patroni_cluster *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->nmembers; i++) {
        free(c->members[i].name);
        free(c->members[i].role);
        free(c->members[i].state);
        free(c->members[i].api_url);
    }
    free(c->members);
    free(c->scope);
    memset(c, 0, sizeof(*c));
}

/* ---- /config ---- */

int patroni_parse_config(const char *body, size_t len, struct patroni_config *out,
                         const char **reason, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(body, len, reason, err, errlen);
    if (!root) return -1;
    const json_t *sc = json_object_get(root, "standby_cluster");
    if (json_is_object(sc)) {
        out->standby = true;
        out->host = get_str(sc, "host");
        int64_t port;
        if (get_int(sc, "port", &port))
            out->port = xasprintf("%lld", (long long)port);
        else
            out->port = get_str(sc, "port");
        out->slot = get_str(sc, "primary_slot_name");
        out->restore_command = get_str(sc, "restore_command");
    }
    json_decref(root);
    return 0;
}

void patroni_config_clear(struct patroni_config *c)
{
    if (!c) return;
    free(c->host);
    free(c->port);
    free(c->slot);
    free(c->restore_command);
    memset(c, 0, sizeof(*c));
}

/* ---- metrics ---- */

#define INTERVAL_NOTE " Collected every fast_interval (5s by default)."

static const struct family_def F_CLUSTER_UP = {
    "drwatch_patroni_cluster_up", METRIC_GAUGE, NULL,
    "1 if GET /cluster answered on one of the site's member URLs, 0 if on none (Patroni reads "
    "it from the DCS: it fails while etcd is unreachable)." INTERVAL_NOTE};
static const struct family_def F_CONFIG_UP = {
    "drwatch_patroni_config_up", METRIC_GAUGE, NULL,
    "1 if GET /config (the dynamic configuration in the DCS) answered on one of the site's "
    "member URLs, 0 if on none; without it the standby_cluster metrics are absent."};
static const struct family_def F_MEMBERS = {
    "drwatch_patroni_cluster_members", METRIC_GAUGE, NULL,
    "Members of the Patroni cluster as GET /cluster lists them."};
static const struct family_def F_LEADER_PRESENT = {
    "drwatch_patroni_leader_present", METRIC_GAUGE, NULL,
    "1 if a member of this site's Patroni cluster holds the leader lock (role leader or "
    "standby_leader in GET /cluster; when /cluster fails, a member's GET /leader answering 200), "
    "0 if none does."};
static const struct family_def F_LEADER_WRITABLE = {
    "drwatch_patroni_leader_writable", METRIC_GAUGE, NULL,
    "1 if this site's Patroni leader is a read-write primary (role leader, not standby_leader), "
    "0 otherwise. Summed over both sites, more than 1 means two writable primaries (split "
    "brain), the worst DR alarm."};
static const struct family_def F_PAUSED = {
    "drwatch_patroni_paused", METRIC_GAUGE, NULL,
    "1 if the Patroni cluster is in maintenance mode (pause: automatic failover is off)."};
static const struct family_def F_STANDBY = {
    "drwatch_patroni_standby_cluster", METRIC_GAUGE, NULL,
    "1 if the dynamic configuration (GET /config) has a standby_cluster section, i.e. this "
    "site's cluster replicates from another site; 0 if it runs as a primary cluster."};
static const struct family_def F_STANDBY_INFO = {
    "drwatch_patroni_standby_cluster_info", METRIC_INFO, NULL,
    "Where the standby_cluster section of GET /config points: host, port and "
    "primary_slot_name (present only while standby_cluster is set)."};
static const struct family_def F_MEMBER_INFO = {
    "drwatch_patroni_member_info", METRIC_INFO, NULL,
    "Each member of the cluster as GET /cluster reports it: role (leader, standby_leader, "
    "replica, sync_standby...) and state (running, streaming, stopped...)."};
static const struct family_def F_MEMBER_TIMELINE = {
    "drwatch_patroni_member_timeline", METRIC_GAUGE, NULL,
    "The member's PostgreSQL timeline, from GET /cluster."};
static const struct family_def F_MEMBER_LAG = {
    "drwatch_patroni_member_lag_bytes", METRIC_GAUGE, "bytes",
    "Bytes a replica is behind its own cluster's leader, from GET /cluster (absent for the "
    "leader, the standby leader, and while Patroni says \"unknown\"; see "
    "drwatch_patroni_node_replay_lag_bytes for the standby leader)."};
static const struct family_def F_MEMBER_PENDING = {
    "drwatch_patroni_member_pending_restart", METRIC_GAUGE, NULL,
    "1 if the member needs a restart to apply a changed setting, from GET /cluster."};
static const struct family_def F_ENDPOINT_UP = {
    "drwatch_patroni_endpoint_up", METRIC_GAUGE, NULL,
    "1 if the member REST API at this URL answered its status document (GET /leader, 200 or "
    "503 with the JSON of /patroni), 0 if not (down, hung, or an unexpected answer)."};
static const struct family_def F_NODE_INFO = {
    "drwatch_patroni_node_info", METRIC_INFO, NULL,
    "A member's own status (GET /leader at its URL): role (primary, replica, standby_leader; "
    "\"master\" from Patroni < 4 is reported as primary), PostgreSQL state, replication_state, "
    "Patroni version and the database system identifier (the same in a primary cluster and its "
    "standby cluster)."};
static const struct family_def F_NODE_LEADER = {
    "drwatch_patroni_node_leader_check", METRIC_GAUGE, NULL,
    "1 if the member's health check GET /leader answered 200 (it holds the leader lock, as "
    "primary or standby leader), 0 if 503."};
static const struct family_def F_NODE_TIMELINE = {"drwatch_patroni_node_timeline", METRIC_GAUGE,
                                                  NULL,
                                                  "The member's PostgreSQL timeline, from its own "
                                                  "status document."};
static const struct family_def F_NODE_LOCATION = {
    "drwatch_patroni_node_xlog_location_bytes", METRIC_GAUGE, "bytes",
    "A primary's WAL flush position (xlog.location), as a byte offset."};
static const struct family_def F_NODE_RECEIVED = {
    "drwatch_patroni_node_xlog_received_location_bytes", METRIC_GAUGE, "bytes",
    "A replica's or standby leader's received WAL position (xlog.received_location), bytes."};
static const struct family_def F_NODE_REPLAYED = {
    "drwatch_patroni_node_xlog_replayed_location_bytes", METRIC_GAUGE, "bytes",
    "A replica's or standby leader's replayed WAL position (xlog.replayed_location), bytes."};
static const struct family_def F_NODE_REPLAYED_TS = {
    "drwatch_patroni_node_xlog_replayed_timestamp_seconds", METRIC_GAUGE, "seconds",
    "Commit time on the primary of the last transaction replayed here (Unix time; absent "
    "until one has been replayed)."};
static const struct family_def F_NODE_REPLAY_PAUSED = {
    "drwatch_patroni_node_replay_paused", METRIC_GAUGE, NULL,
    "1 if WAL replay is paused on this replica or standby leader (xlog.paused)."};
static const struct family_def F_NODE_REPLAY_LAG = {
    "drwatch_patroni_node_replay_lag_bytes", METRIC_GAUGE, "bytes",
    "Bytes this replica or standby leader has replayed behind its primary: the primary's "
    "xlog.location (found by database system identifier and timeline among the sites this "
    "drwatch watches, the other site's from its latest scrape) minus xlog.replayed_location, "
    "floored at 0. Positions from two scrapes: approximate, a lower bound."};
static const struct family_def F_NODE_RECEIVE_LAG = {
    "drwatch_patroni_node_receive_lag_bytes", METRIC_GAUGE, "bytes",
    "Bytes this replica or standby leader has received behind its primary (WAL that a loss "
    "of the primary would lose): like drwatch_patroni_node_replay_lag_bytes, with "
    "xlog.received_location."};
static const struct family_def F_NODE_PENDING = {
    "drwatch_patroni_node_pending_restart", METRIC_GAUGE, NULL,
    "1 if the member says a restart is pending, from its own status document."};
static const struct family_def F_NODE_UNLOCKED = {
    "drwatch_patroni_node_cluster_unlocked", METRIC_GAUGE, NULL,
    "1 if the member sees no leader lock in the DCS (cluster_unlocked)."};
static const struct family_def F_NODE_DCS_SEEN = {
    "drwatch_patroni_node_dcs_last_seen_timestamp_seconds", METRIC_GAUGE, "seconds",
    "When the member last reached the DCS (dcs_last_seen, Unix time on the member's clock); it "
    "stops moving while etcd is unreachable."};

static bool str_is(const char *s, const char *want)
{
    return s && strcmp(s, want) == 0;
}

const char *patroni_member_name(const struct patroni_view *v, const struct patroni_endpoint_view *e)
{
    if (e->node->name && *e->node->name) return e->node->name;
    if (v->cluster) {
        size_t ul = strlen(e->url);
        while (ul && e->url[ul - 1] == '/') ul--;
        for (size_t i = 0; i < v->cluster->nmembers; i++) {
            const char *api = v->cluster->members[i].api_url;
            if (api && strncmp(api, e->url, ul) == 0 &&
                (api[ul] == '\0' || strcmp(api + ul, "/") == 0 ||
                 strcmp(api + ul, "/patroni") == 0))
                return v->cluster->members[i].name;
        }
    }
    return e->known_name && *e->known_name ? e->known_name : e->url;
}

static const char *view_scope(const struct patroni_view *v)
{
    if (v->cluster && v->cluster->scope) return v->cluster->scope;
    for (size_t i = 0; i < v->nendpoints; i++)
        if (v->endpoints[i].up && v->endpoints[i].node->scope) return v->endpoints[i].node->scope;
    return "";
}

static void emit_cluster(struct metric_set *s, const struct patroni_view *v, const char *scope)
{
    const char *site = v->site;
    bool present = false, writable = false, paused = false;
    if (v->cluster) {
        paused = v->cluster->pause;
        for (size_t i = 0; i < v->cluster->nmembers; i++) {
            const char *role = v->cluster->members[i].role;
            present |= str_is(role, "leader") || str_is(role, "standby_leader");
            writable |= str_is(role, "leader");
        }
    }
    for (size_t i = 0; i < v->nendpoints; i++) {
        const struct patroni_endpoint_view *e = &v->endpoints[i];
        if (!e->up) continue;
        paused |= e->node->pause;
        if (!v->cluster && e->leader_status == 200) {
            present = true;
            writable |= str_is(e->node->role, "primary");
        }
    }
    MSET_PUT(s, &F_CLUSTER_UP, v->cluster != NULL, {"site", site}, {"scope", scope});
    MSET_PUT(s, &F_CONFIG_UP, v->config != NULL, {"site", site}, {"scope", scope});
    MSET_PUT(s, &F_LEADER_PRESENT, present, {"site", site}, {"scope", scope});
    MSET_PUT(s, &F_LEADER_WRITABLE, writable, {"site", site}, {"scope", scope});
    MSET_PUT(s, &F_PAUSED, paused, {"site", site}, {"scope", scope});
    if (v->cluster)
        MSET_PUT(s, &F_MEMBERS, (double)(v->cluster->nmembers + v->cluster->dropped),
                 {"site", site}, {"scope", scope});
    if (v->config) {
        MSET_PUT(s, &F_STANDBY, v->config->standby, {"site", site}, {"scope", scope});
        if (v->config->standby)
            MSET_PUT(s, &F_STANDBY_INFO, 1, {"site", site}, {"scope", scope},
                     {"host", v->config->host ? v->config->host : ""},
                     {"port", v->config->port ? v->config->port : ""},
                     {"primary_slot_name", v->config->slot ? v->config->slot : ""});
    }
}

static void emit_members(struct metric_set *s, const struct patroni_view *v, const char *scope)
{
    if (!v->cluster) return;
    for (size_t i = 0; i < v->cluster->nmembers; i++) {
        const struct patroni_member *m = &v->cluster->members[i];
        const struct label_pair l[] = {{"site", v->site}, {"scope", scope}, {"member", m->name}};
        MSET_PUT(s, &F_MEMBER_INFO, 1, {"site", v->site}, {"scope", scope}, {"member", m->name},
                 {"role", m->role ? m->role : ""}, {"state", m->state ? m->state : ""});
        if (m->timeline > 0) mset_put(s, &F_MEMBER_TIMELINE, (double)m->timeline, l, 3);
        if (m->has_lag) mset_put(s, &F_MEMBER_LAG, (double)(m->lag > 0 ? m->lag : 0), l, 3);
        mset_put(s, &F_MEMBER_PENDING, m->pending_restart, l, 3);
    }
}

static void emit_node(struct metric_set *s, const struct patroni_view *v,
                      const struct patroni_endpoint_view *e, const char *scope,
                      const struct walpos *board, double now, double max_age)
{
    const struct patroni_node *n = e->node;
    const char *member = patroni_member_name(v, e);
    const struct label_pair l[] = {{"site", v->site}, {"scope", scope}, {"member", member}};
    char sv[24] = "";
    if (n->server_version > 0) snprintf(sv, sizeof(sv), "%lld", (long long)n->server_version);
    MSET_PUT(s, &F_NODE_INFO, 1, {"site", v->site}, {"scope", scope}, {"member", member},
             {"endpoint", e->url}, {"role", n->role}, {"state", n->state},
             {"replication_state", n->replication_state ? n->replication_state : ""},
             {"version", n->version ? n->version : ""}, {"server_version", sv},
             {"system_identifier", n->sysid ? n->sysid : ""});
    mset_put(s, &F_NODE_LEADER, e->leader_status == 200, l, 3);
    if (n->timeline > 0) mset_put(s, &F_NODE_TIMELINE, (double)n->timeline, l, 3);
    if (n->has_location) mset_put(s, &F_NODE_LOCATION, (double)n->location, l, 3);
    if (n->has_received) mset_put(s, &F_NODE_RECEIVED, (double)n->received, l, 3);
    if (n->has_replayed) mset_put(s, &F_NODE_REPLAYED, (double)n->replayed, l, 3);
    if (n->has_replayed_ts) mset_put(s, &F_NODE_REPLAYED_TS, n->replayed_ts, l, 3);
    if (n->has_replay_paused) mset_put(s, &F_NODE_REPLAY_PAUSED, n->replay_paused, l, 3);
    mset_put(s, &F_NODE_PENDING, n->pending_restart, l, 3);
    mset_put(s, &F_NODE_UNLOCKED, n->cluster_unlocked, l, 3);
    if (n->has_dcs_last_seen) mset_put(s, &F_NODE_DCS_SEEN, n->dcs_last_seen, l, 3);
    int64_t primary;
    double age;
    if (board && (n->has_replayed || n->has_received) && !str_is(n->role, "primary") &&
        walpos_primary(board, n->sysid, n->timeline, now, max_age, &primary, &age)) {
        if (n->has_replayed)
            mset_put(s, &F_NODE_REPLAY_LAG,
                     (double)(primary > n->replayed ? primary - n->replayed : 0), l, 3);
        if (n->has_received)
            mset_put(s, &F_NODE_RECEIVE_LAG,
                     (double)(primary > n->received ? primary - n->received : 0), l, 3);
    }
}

void patroni_emit(struct metric_set *set, const struct patroni_view *v, struct walpos *board,
                  const void *owner, double now, double max_age)
{
    const char *scope = view_scope(v);
    if (board) {
        walpos_drop(board, owner);
        for (size_t i = 0; i < v->nendpoints; i++) {
            const struct patroni_endpoint_view *e = &v->endpoints[i];
            if (e->up && str_is(e->node->role, "primary") && e->node->has_location)
                walpos_post(board, owner, e->node->sysid, e->node->timeline, e->node->location,
                            now);
        }
    }
    emit_cluster(set, v, scope);
    emit_members(set, v, scope);
    for (size_t i = 0; i < v->nendpoints; i++) {
        const struct patroni_endpoint_view *e = &v->endpoints[i];
        MSET_PUT(set, &F_ENDPOINT_UP, e->up, {"site", v->site}, {"endpoint", e->url});
        if (e->up) emit_node(set, v, e, scope, board, now, max_age);
    }
}
