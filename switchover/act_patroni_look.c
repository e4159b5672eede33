/* act_patroni_look.c: Patroni's answers read and judged for the Patroni actuators (see
 * act_patroni_look.h). Uses jansson only: no I/O, no clock, so every verdict can be tested
 * from canned documents (reference: patroni.md sections 2, 4 and 6; 3.0.2 and 4.x forms). */
#include "act_patroni_look.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"

#define PREVIEW 60 /* bytes of an unexpected body quoted in a detail */

void pat_look_clear(struct pat_look *lk)
{
    if (!lk) return;
    json_decref(lk->config);
    json_decref(lk->leader);
    json_decref(lk->node);
    json_decref(lk->env);
    memset(lk, 0, sizeof(*lk));
}

/* The start of a body, printable ASCII only: it goes into a detail, the journal and a log. */
static void preview(const char *body, size_t len, char *out, size_t outlen)
{
    size_t n = 0;
    for (size_t i = 0; i < len && i < PREVIEW && n + 1 < outlen; i++) {
        unsigned char c = (unsigned char)body[i];
        out[n++] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
    }
    out[n] = '\0';
}

/* The body as a JSON object, or NULL with err saying what it was. */
static json_t *load_object(const char *body, size_t len, const char *what, char *err, size_t errlen)
{
    json_error_t je;
    char seen[PREVIEW + 1];
    json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
    if (root && json_is_object(root)) return root;
    preview(body ? body : "", len, seen, sizeof(seen));
    snprintf(err, errlen, "%s: %s: \"%s\"", what, root ? "JSON but not an object" : "not JSON",
             seen);
    json_decref(root);
    return NULL;
}

static const char *str_at(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

int pat_read_config(struct pat_look *lk, const char *body, size_t len, char *err, size_t errlen)
{
    json_t *root = load_object(body, len, "GET /config", err, errlen);
    if (!root) return -1;
    json_t *sc = json_object_get(root, "standby_cluster");
    if (sc && !json_is_object(sc) && !json_is_null(sc)) {
        snprintf(err, errlen, "GET /config: standby_cluster is neither an object nor null");
        json_decref(root);
        return -1;
    }
    json_decref(lk->config);
    lk->config = root;
    return 0;
}

/* A member as Patroni lists it: a name, a role, and an http(s) api_url. */
static int member_ok(const json_t *m, char *err, size_t errlen)
{
    const char *url = str_at(m, "api_url");
    if (!json_is_object(m) || !str_at(m, "name") || !str_at(m, "role")) {
        snprintf(err, errlen, "GET /cluster: a member without a name or a role");
        return -1;
    }
    if (!url || (!str_has_prefix(url, "http://") && !str_has_prefix(url, "https://"))) {
        snprintf(err, errlen, "GET /cluster: member %.64s has no http(s) api_url",
                 str_at(m, "name"));
        return -1;
    }
    return 0;
}

int pat_read_cluster(struct pat_look *lk, const char *body, size_t len, char *err, size_t errlen)
{
    json_t *root = load_object(body, len, "GET /cluster", err, errlen);
    if (!root) return -1;
    json_t *members = json_object_get(root, "members"), *leader = NULL;
    size_t i;
    json_t *m;
    if (!json_is_array(members)) {
        snprintf(err, errlen, "GET /cluster: no members list");
        json_decref(root);
        return -1;
    }
    json_array_foreach(members, i, m)
    {
        const char *role = str_at(m, "role");
        if (!str_eq(role, "leader") && !str_eq(role, "standby_leader")) continue;
        if (member_ok(m, err, errlen) < 0) {
            json_decref(root);
            return -1;
        }
        leader = m;
        break;
    }
    json_decref(lk->leader);
    lk->leader = json_incref(leader);
    lk->cluster_read = true;
    json_decref(root);
    return 0;
}

int pat_read_node(struct pat_look *lk, const char *body, size_t len, char *err, size_t errlen)
{
    json_t *root = load_object(body, len, "the leader's status document", err, errlen);
    if (!root) return -1;
    if (!str_at(root, "state") || !str_at(root, "role")) {
        snprintf(err, errlen, "the leader's status document has no state or role");
        json_decref(root);
        return -1;
    }
    json_decref(lk->node);
    lk->node = root;
    return 0;
}

int pat_read_env(struct pat_look *lk, const char *body, size_t len, char *err, size_t errlen)
{
    json_t *root = load_object(body, len, "GET the env ConfigMap", err, errlen);
    if (!root) return -1;
    json_t *data = json_object_get(root, "data");
    if (data && !json_is_object(data)) {
        snprintf(err, errlen, "GET the env ConfigMap: data is not an object");
        json_decref(root);
        return -1;
    }
    json_decref(lk->env);
    lk->env = data ? json_incref(data) : json_object();
    json_decref(root);
    return 0;
}

const char *pat_leader_name(const struct pat_look *lk)
{
    const char *n = lk->leader ? str_at(lk->leader, "name") : NULL;
    return n ? n : "";
}

const char *pat_leader_url(const struct pat_look *lk)
{
    return lk->leader ? str_at(lk->leader, "api_url") : NULL;
}

/* ---- what Patroni's config says ---- */

/* A port as Patroni may keep it: a number or a string of digits; -1 otherwise. */
static long port_of(const json_t *v)
{
    if (json_is_integer(v)) return (long)json_integer_value(v);
    const char *s = json_string_value(v);
    char *end;
    long p = s && *s ? strtol(s, &end, 10) : -1;
    return s && *s && *end == '\0' ? p : -1;
}

/* An optional string key equal to want (NULL: absent or null). */
static bool opt_eq(const json_t *o, const char *key, const char *want)
{
    const json_t *v = json_object_get(o, key);
    if (!want) return !v || json_is_null(v);
    return str_eq(json_string_value(v), want);
}

static bool follows(const json_t *sc, const struct pat_follow *f)
{
    return json_is_object(sc) && str_eq(str_at(sc, "host"), f->host) &&
           port_of(json_object_get(sc, "port")) == f->port &&
           opt_eq(sc, "primary_slot_name", f->slot) && opt_eq(sc, "restore_command", f->restore);
}

/* "host:port slot s" of a standby_cluster, for details. */
static void describe(const json_t *sc, char *out, size_t outlen)
{
    if (!json_is_object(sc)) {
        snprintf(out, outlen, "no standby_cluster");
        return;
    }
    const char *slot = str_at(sc, "primary_slot_name");
    snprintf(out, outlen, "standby_cluster %.80s:%ld%s%.64s",
             str_at(sc, "host") ? str_at(sc, "host") : "(no host)",
             port_of(json_object_get(sc, "port")), slot ? " slot " : "", slot ? slot : "");
}

int pat_read_patch_answer(const char *body, size_t len, const struct pat_follow *f, char *err,
                          size_t errlen)
{
    json_t *root = load_object(body, len, "PATCH /config's answer", err, errlen);
    if (!root) return -1;
    json_t *sc = json_object_get(root, "standby_cluster");
    bool ok = f ? follows(sc, f) : !sc || json_is_null(sc);
    if (!ok) {
        char has[200];
        describe(sc, has, sizeof(has));
        snprintf(err, errlen, "PATCH /config answered 200, but the new config has %s", has);
    }
    json_decref(root);
    return ok ? 0 : -1;
}

char *pat_demote_body(const struct pat_follow *f)
{
    json_t *o = json_pack("{s:{s:s, s:I, s:s?, s:s?, s:[s]}}", "standby_cluster", "host", f->host,
                          "port", (json_int_t)f->port, "primary_slot_name", f->slot,
                          "restore_command", f->restore, "create_replica_methods", "basebackup");
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

char *pat_env_body(const struct pat_follow *f)
{
    char port[24] = "";
    if (f) snprintf(port, sizeof(port), "%ld", f->port);
    json_t *o =
        json_pack("{s:{s:s, s:s}}", "data", "STANDBY_HOST", f ? f->host : "", "STANDBY_PORT", port);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* ---- verdicts ---- */

static bool writable(const char *role)
{
    return str_eq(role, "master") || str_eq(role, "primary");
}

/* Whether the standby leader gets WAL from the other site. Patroni 3.0.4+ says so itself
 * (replication_state). 3.0.2 does not; there the WAL receiver's flush position tells:
 * PostgreSQL sets it to the start of the segment it asks for when it restarts streaming, so a
 * standby that has received nothing since its restart shows received < replayed. */
static bool streaming(const json_t *node, char *why, size_t whylen)
{
    const char *rs = str_at(node, "replication_state");
    if (rs) {
        snprintf(why, whylen, "replication_state %.40s", rs);
        return str_eq(rs, "streaming");
    }
    json_t *x = json_object_get(node, "xlog");
    json_t *rcv = json_object_get(x, "received_location"),
           *rep = json_object_get(x, "replayed_location");
    if (!json_is_integer(rcv) || !json_is_integer(rep)) {
        snprintf(why, whylen, "no WAL positions in its status document");
        return false;
    }
    snprintf(why, whylen, "received up to %" JSON_INTEGER_FORMAT ", replayed %" JSON_INTEGER_FORMAT,
             json_integer_value(rcv), json_integer_value(rep));
    return json_integer_value(rcv) >= json_integer_value(rep);
}

static enum pat_verdict env_verdict(const struct pat_look *lk, const char *host, const char *port,
                                    char *detail, size_t len)
{
    const char *h = str_at(lk->env, "STANDBY_HOST"), *p = str_at(lk->env, "STANDBY_PORT");
    if (str_eq(h ? h : "", host) && str_eq(p ? p : "", port)) return PAT_DONE;
    snprintf(detail, len, "the env ConfigMap says STANDBY_HOST=\"%.80s\" STANDBY_PORT=\"%.16s\"",
             h ? h : "", p ? p : "");
    return PAT_WAIT;
}

/* The leader as a standby of f: running, read-only, and streaming when it can. */
static enum pat_verdict standby_verdict(const struct pat_look *lk, const struct pat_follow *f,
                                        bool other_primary, char *detail, size_t len)
{
    const char *name = pat_leader_name(lk), *role = str_at(lk->node, "role"),
               *state = str_at(lk->node, "state");
    char why[120];
    if (writable(role)) {
        snprintf(detail, len, "%.64s is still a writable primary (role %s)", name, role);
        return PAT_WAIT;
    }
    if (!str_eq(state, "running")) {
        snprintf(detail, len, "%.64s's PostgreSQL is %.40s (role %.32s)", name, state, role);
        return PAT_STALL;
    }
    if (!str_eq(role, "standby_leader")) {
        snprintf(detail, len, "%.64s is %.32s, not yet the standby leader", name, role);
        return PAT_WAIT;
    }
    if (!other_primary) {
        snprintf(detail, len,
                 "%.64s is a read-only standby leader following %.80s:%ld (that site is not a "
                 "writable primary yet: streaming starts once it is promoted)",
                 name, f->host, f->port);
        return PAT_DONE;
    }
    bool on = streaming(lk->node, why, sizeof(why));
    snprintf(detail, len, "%.64s is a read-only standby leader %s %.80s:%ld (%s)", name,
             on ? "streaming from" : "not streaming from", f->host, f->port, why);
    return on ? PAT_DONE : PAT_STALL;
}

enum pat_verdict pat_judge_demoted(const struct pat_look *lk, const struct pat_follow *f,
                                   bool other_primary, char *detail, size_t len)
{
    if (lk->config) {
        json_t *sc = json_object_get(lk->config, "standby_cluster");
        if (!follows(sc, f)) {
            char has[200];
            describe(sc, has, sizeof(has));
            snprintf(detail, len, "the config has %s; wanted %.80s:%ld%s%.64s", has, f->host,
                     f->port, f->slot ? " slot " : "", f->slot ? f->slot : "");
            return PAT_WAIT;
        }
    }
    if (lk->cluster_read && !lk->leader) {
        snprintf(detail, len, "no member holds the leader lock");
        return PAT_STALL;
    }
    if (!lk->node) {
        snprintf(detail, len, "the leader's status is unknown");
        return PAT_WAIT;
    }
    enum pat_verdict v = standby_verdict(lk, f, other_primary, detail, len);
    if (v != PAT_DONE || !lk->env) return v;
    char port[24];
    snprintf(port, sizeof(port), "%ld", f->port);
    return env_verdict(lk, f->host, port, detail, len);
}

enum pat_verdict pat_judge_promoted(const struct pat_look *lk, char *detail, size_t len)
{
    json_t *sc = lk->config ? json_object_get(lk->config, "standby_cluster") : NULL;
    if (json_is_object(sc)) {
        char has[200];
        describe(sc, has, sizeof(has));
        snprintf(detail, len, "the config still has a %s", has);
        return PAT_WAIT;
    }
    if (!lk->leader || !lk->node) {
        snprintf(detail, len, "%s",
                 lk->leader ? "the leader's status is unknown" : "no member holds the leader lock");
        return PAT_WAIT;
    }
    const char *name = pat_leader_name(lk), *role = str_at(lk->node, "role"),
               *state = str_at(lk->node, "state");
    if (!writable(role) || !str_eq(state, "running")) {
        snprintf(detail, len, "%.64s is %.32s (%.40s), not yet a writable primary", name, role,
                 state);
        return PAT_WAIT;
    }
    snprintf(detail, len, "%.64s is a writable primary", name);
    if (!lk->env) return PAT_DONE;
    return env_verdict(lk, "", "", detail, len);
}
