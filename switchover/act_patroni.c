/* act_patroni.c: the patroni_demote and patroni_promote actuators (executor.h). Demote makes
 * this site's Patroni cluster a standby cluster of the other site's primary; promote makes it a
 * primary again. Both go through Patroni's REST API the way patronictl demote-cluster and
 * promote-cluster do (PATCH /config standby_cluster, patroni.md section 6), then, with
 * Kubernetes, set STANDBY_HOST/STANDBY_PORT in Patroni's env-vars ConfigMap so that a Spilo pod
 * that bootstraps again keeps what was decided. Nothing is wiped: rewinding an old primary is
 * Patroni's (use_pg_rewind); rebuilding is the plan's destructive fallback, not this.
 *
 * Each phase is one op in the phase's slot: a short chain of requests on the loop (the GETs of
 * a look, act_patroni_look.h, or act's PATCHes), then a verdict. A demotion's poll holds its
 * phase while the leader is stopped, missing, or not streaming from the other site's primary,
 * looking again every second, and fails the step once that lasts stall_timeout: Patroni could
 * not finish (pg_rewind failed or is off, PostgreSQL cannot start), and the plan's fallback
 * takes over sooner than at the step's deadline.
 *
 * The promotion guard (never two writable primaries) is the executor's: it does not call
 * promote's act until the other site is fenced or cut off (guards.h). It is not repeated here.
 *
 * Uses: http_client (every call with the Patroni target's timeout), k8s, act_env, jansson,
 * OpenSSL's base64 for the basic-auth header. Loop thread. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act_env.h"
#include "act_patroni_look.h"
#include "actuators.h"
#include "caps.h"
#include "fileio.h"
#include "http_client.h"
#include "http_target.h"
#include "k8s.h"
#include "loop.h"
#include "world.h"
#include "xalloc.h"

/* A call's timeout when the Patroni target sets neither timeout nor interval. */
#define PAT_TIMEOUT_MS 10000
/* Between looks while a demotion stalls. */
#define PAT_RELOOK_MS 1000

/* The parts of a phase, done lowest first. */
enum {
    P_CONFIG = 1,     /* GET /config */
    P_CLUSTER = 2,    /* GET /cluster */
    P_NODE = 4,       /* GET the leader's api_url */
    P_ENV = 8,        /* GET the env ConfigMap */
    P_PATCH = 16,     /* PATCH /config */
    P_ENV_PATCH = 32, /* PATCH the env ConfigMap */
};

enum op_kind { OP_CHECK, OP_ACT, OP_POLL };

struct pat_op {
    struct sw_phase *ph;
    const struct act_env *e;
    bool promote;
    enum op_kind kind;
    unsigned parts_left, part; /* the parts still to read (P_* bits); the one in flight */
    struct pat_follow follow;
    struct pat_look look;
    struct httpc_req *req;
    struct k8s_req *kreq;
    struct loop_timer *again; /* the next look of a stalled demotion */
    int64_t stalled_since;    /* loop ms; 0 while not stalled */
    char path[512];           /* the env ConfigMap's API path */
};

static void op_next(struct pat_op *op);

static void op_free(struct pat_op *op)
{
    if (!op) return;
    httpc_cancel(op->req);
    k8s_cancel(op->kreq);
    loop_timer_free(op->again);
    pat_look_clear(&op->look);
    free(op);
}

/* Ends the phase: the op is gone before the executor hears of it. */
static void op_end(struct pat_op *op, enum sw_outcome o, const char *detail)
{
    struct sw_phase *ph = op->ph;
    char d[256];
    snprintf(d, sizeof(d), "%s", detail);
    *sw_phase_slot(ph) = NULL;
    op_free(op);
    sw_phase_done(ph, o, d);
}

static int64_t call_timeout(const struct http_target *t)
{
    if (t->timeout_ms > 0) return t->timeout_ms;
    return t->interval_ms > 0 ? t->interval_ms : PAT_TIMEOUT_MS;
}

/* ---- requests to Patroni ---- */

/* "Authorization: Basic ..." from the configured user and password file, or NULL with err
 * filled when the file cannot be read. The password is wiped from memory after use. */
static char *basic_auth(const struct act_patroni *p, char *err, size_t errlen)
{
    char *pw = NULL, why[64];
    size_t n;
    int rc = file_read_all(p->password_file, CAP_SECRET_FILE, &pw, &n);
    if (rc < 0) {
        snprintf(err, errlen, "patroni password_file %s: %s", p->password_file,
                 file_read_error(rc, CAP_SECRET_FILE, why, sizeof(why)));
        return NULL;
    }
    while (n && (pw[n - 1] == '\n' || pw[n - 1] == '\r')) pw[--n] = '\0';
    char *plain = xasprintf("%s:%s", p->username, pw);
    size_t len = strlen(plain);
    unsigned char *b64 = xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock(b64, (const unsigned char *)plain, (int)len);
    char *h = xasprintf("Authorization: Basic %s", (const char *)b64);
    OPENSSL_cleanse(pw, n);
    OPENSSL_cleanse(plain, len);
    OPENSSL_cleanse(b64, strlen((char *)b64));
    free(pw);
    free(plain);
    free(b64);
    return h;
}

static const char *part_name(unsigned part)
{
    switch (part) {
    case P_CONFIG: return "GET /config";
    case P_CLUSTER: return "GET /cluster";
    case P_NODE: return "GET the leader's status";
    case P_PATCH: return "PATCH /config";
    case P_ENV: return "GET the env ConfigMap";
    default: return "PATCH the env ConfigMap";
    }
}

/* What a status other than 200 means, as patroni.md section 6 and 8 say. */
static const char *status_meaning(long status)
{
    switch (status) {
    case 401:
    case 403: return "refused: check patroni.username and password_file";
    case 409: return "its DCS changed under the request (a concurrent config change)";
    case 502: return "the cluster has no config in its DCS";
    case 503: return "the config key is missing from its DCS, or the DCS is unreachable";
    default: return "unexpected";
    }
}

/* The printable ASCII of a body's start (an error page), for a detail. */
static void printable(const char *body, size_t len, char *out, size_t outlen)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < outlen; i++) {
        unsigned char c = (unsigned char)body[i];
        if (c >= 0x20 && c < 0x7f) out[n++] = (char)c;
    }
    out[n] = '\0';
}

static void on_http(void *arg, const struct httpc_result *r);

static int start_http(struct pat_op *op, char *err, size_t errlen)
{
    const struct act_patroni *p = op->e->cfg->patroni;
    bool patch = op->part == P_PATCH;
    char *url = op->part == P_NODE
                    ? xstrdup(pat_leader_url(&op->look))
                    : url_join(p->t.url, op->part == P_CLUSTER ? "/cluster" : "/config");
    char *token = NULL, *auth = NULL, *body = NULL;
    struct httpc_opts o;
    int rc = -1;
    if (http_target_opts(&p->t, url, &o, &token, err, errlen) < 0) goto done;
    /* The leader's api_url comes from the DCS: it never gets this site's credentials. */
    if (op->part == P_NODE) o.bearer_token = NULL;
    o.timeout_ms = call_timeout(&p->t);
    if (patch && p->username && !(auth = basic_auth(p, err, errlen))) goto done;
    const char *headers[] = {"Content-Type: application/json", auth, NULL};
    if (patch) {
        body = op->promote ? xstrdup(PAT_PROMOTE_BODY) : pat_demote_body(&op->follow);
        o.method = "PATCH";
        o.body = body;
        o.body_len = strlen(body);
        o.headers = headers;
    }
    op->req = httpc_start(op->e->http, &o, on_http, op);
    if (!op->req) snprintf(err, errlen, "%s: the HTTP client refused %s", part_name(op->part), url);
    rc = op->req ? 0 : -1;
done:
    if (auth) OPENSSL_cleanse(auth, strlen(auth));
    free(auth);
    free(token);
    free(body);
    free(url);
    return rc;
}

/* Reads a 200 answer into the look (or checks the PATCH's). Returns 0, or -1 with err. */
static int read_answer(struct pat_op *op, const struct httpc_result *r, char *err, size_t errlen)
{
    switch (op->part) {
    case P_CONFIG: return pat_read_config(&op->look, r->body, r->body_len, err, errlen);
    case P_CLUSTER: return pat_read_cluster(&op->look, r->body, r->body_len, err, errlen);
    case P_NODE: return pat_read_node(&op->look, r->body, r->body_len, err, errlen);
    default:
        return pat_read_patch_answer(r->body, r->body_len, op->promote ? NULL : &op->follow, err,
                                     errlen);
    }
}

static void on_http(void *arg, const struct httpc_result *r)
{
    struct pat_op *op = arg;
    char err[300];
    op->req = NULL;
    if (!r->ok) {
        snprintf(err, sizeof(err), "%s: no answer from Patroni (%s: %.160s)", part_name(op->part),
                 r->reason ? r->reason : "transport", r->error ? r->error : "");
        /* A poll waits through it (a member's API may be restarting); the deadline bounds it. */
        return op_end(op, op->kind == OP_POLL ? SW_NOT_DONE : SW_ERROR, err);
    }
    if (r->status != 200) {
        char seen[64];
        printable(r->body, r->body_len, seen, sizeof(seen));
        snprintf(err, sizeof(err), "%s: Patroni answered %ld, %s: \"%s\"", part_name(op->part),
                 r->status, status_meaning(r->status), seen);
        return op_end(op, SW_ERROR, err);
    }
    if (read_answer(op, r, err, sizeof(err)) < 0) return op_end(op, SW_ERROR, err);
    op->parts_left &= ~op->part;
    op_next(op);
}

/* ---- the env-vars ConfigMap ---- */

static void on_k8s(void *arg, const struct k8s_response *r)
{
    struct pat_op *op = arg;
    char err[300];
    op->kreq = NULL;
    if (!r->ok) {
        snprintf(err, sizeof(err), "%s %s/%s: %.200s", part_name(op->part), op->e->ns.solution,
                 op->e->names.patroni_env, r->detail ? r->detail : "failed");
        return op_end(op, SW_ERROR, err);
    }
    if (op->part == P_ENV && pat_read_env(&op->look, r->body, r->body_len, err, sizeof(err)) < 0)
        return op_end(op, SW_ERROR, err);
    op->parts_left &= ~op->part;
    op_next(op);
}

static int start_k8s(struct pat_op *op, char *err, size_t errlen)
{
    const struct act_env *e = op->e;
    char *body = op->part == P_ENV_PATCH ? pat_env_body(op->promote ? NULL : &op->follow) : NULL;
    struct k8s_call call = {.method = body ? "PATCH" : NULL,
                            .path = op->path,
                            .content_type = body ? "application/merge-patch+json" : NULL,
                            .body = body,
                            .body_len = body ? strlen(body) : 0,
                            .timeout_ms = call_timeout(&e->k8s.http)};
    op->kreq = k8s_request(e->http, &e->k8s, &call, on_k8s, op, err, errlen);
    free(body);
    return op->kreq ? 0 : -1;
}

/* ---- verdicts ---- */

/* Whether the world shows the other site's leader writable: then a standby of it must
 * stream; before then Patroni cannot (its conninfo asks for a read-write server). */
static bool other_primary(const struct pat_op *op)
{
    const struct sw_db *o = &sw_phase_world(op->ph)->db[sw_other(op->e->site)];
    return o->known && o->leader_writable;
}

static void on_again(void *arg)
{
    struct pat_op *op = arg;
    pat_look_clear(&op->look);
    op->parts_left = P_CLUSTER | P_NODE;
    op_next(op);
}

/* A demotion's poll found it stalled: look again, or fail once it has lasted the bound. */
static void stalled(struct pat_op *op, const char *detail)
{
    int64_t now = loop_now(op->e->loop), bound = op->e->cfg->patroni->stall_timeout_ms;
    char why[400];
    if (!op->stalled_since) op->stalled_since = now;
    if (now - op->stalled_since >= bound) {
        snprintf(why, sizeof(why),
                 "no demotion after %llds (pg_rewind failed or is off, or PostgreSQL cannot "
                 "start: see Patroni's log): %s",
                 (long long)(bound / 1000), detail);
        return op_end(op, SW_ERROR, why);
    }
    if (!op->again) op->again = loop_timer_new(op->e->loop, on_again, op);
    loop_timer_start(op->again, PAT_RELOOK_MS);
}

#define NO_K8S_NOTE "no Kubernetes configured: env ConfigMap not updated"

static void act_done(struct pat_op *op)
{
    char d[400], env[160];
    const struct act_env *e = op->e;
    if (e->have_k8s)
        snprintf(env, sizeof(env), "env ConfigMap %s/%s %s", e->ns.solution, e->names.patroni_env,
                 op->promote ? "blanked" : "updated");
    else
        snprintf(env, sizeof(env), "%s", NO_K8S_NOTE);
    if (op->promote)
        snprintf(d, sizeof(d), "standby_cluster removed; %s", env);
    else
        snprintf(d, sizeof(d), "standby_cluster follows %.80s:%ld; %s", op->follow.host,
                 op->follow.port, env);
    op_end(op, SW_DONE, d);
}

static void op_judge(struct pat_op *op)
{
    char d[256];
    if (op->kind == OP_ACT) return act_done(op);
    enum pat_verdict v =
        op->promote ? pat_judge_promoted(&op->look, d, sizeof(d))
                    : pat_judge_demoted(&op->look, &op->follow, other_primary(op), d, sizeof(d));
    if (v == PAT_DONE) {
        /* The step's detail is its last phase's: the note must outlive act's. */
        char note[400];
        snprintf(note, sizeof(note), "%s%s", op->e->have_k8s ? "" : NO_K8S_NOTE "; ", d);
        return op_end(op, SW_DONE, note);
    }
    if (v == PAT_STALL && op->kind == OP_POLL) return stalled(op, d);
    op_end(op, SW_NOT_DONE, d);
}

static void op_next(struct pat_op *op)
{
    char err[300];
    op->part = op->parts_left & (~op->parts_left + 1);      /* the lowest part left */
    if (op->part == P_NODE && !pat_leader_url(&op->look)) { /* /cluster showed no leader */
        op->parts_left &= ~(unsigned)P_NODE;
        op->part = op->parts_left & (~op->parts_left + 1);
    }
    if (!op->parts_left) return op_judge(op);
    bool k8s = op->part == P_ENV || op->part == P_ENV_PATCH;
    if ((k8s ? start_k8s(op, err, sizeof(err)) : start_http(op, err, sizeof(err))) < 0)
        op_end(op, SW_ERROR, err);
}

/* ---- phases ---- */

/* Whether the settings this action needs are there; else why not, for the step's detail. */
static bool configured(const struct act_env *e, const struct sw_phase *ph, bool promote, char *why,
                       size_t whylen)
{
    const char *a = promote ? "patroni_promote" : "patroni_demote";
    const struct sw_step *st = sw_phase_step(ph);
    if (!e->cfg->patroni) {
        snprintf(why, whylen,
                 "%s: not configured: the switchover section has no patroni "
                 "(this site's Patroni REST API)",
                 a);
        return false;
    }
    if (!promote && !e->cfg->standby) {
        snprintf(why, whylen,
                 "%s: not configured: the switchover section has no standby "
                 "(the other site's primary to follow)",
                 a);
        return false;
    }
    if (!promote && sw_step_arg(st, "follow", sw_other(e->site)) != (long)sw_other(e->site)) {
        snprintf(why, whylen, "%s: follow = %s is this site", a, sw_site_name(e->site));
        return false;
    }
    if (e->have_k8s && (!e->ns.solution || !k8s_name_valid(e->ns.solution, false) ||
                        !k8s_name_valid(e->names.patroni_env, true))) {
        snprintf(why, whylen,
                 "%s: not configured: namespaces.solution (where Patroni's env "
                 "ConfigMap lives) is missing or not a valid name",
                 a);
        return false;
    }
    return true;
}

static unsigned parts_of(enum op_kind kind, bool k8s)
{
    switch (kind) {
    case OP_CHECK: return P_CONFIG | P_CLUSTER | P_NODE | (k8s ? P_ENV : 0u);
    case OP_ACT: return P_PATCH | (k8s ? P_ENV_PATCH : 0u);
    default: return P_CLUSTER | P_NODE;
    }
}

static void op_start(struct sw_phase *ph, bool promote, enum op_kind kind)
{
    const struct act_env *e = sw_phase_env(ph);
    char why[256];
    if (!configured(e, ph, promote, why, sizeof(why))) return sw_phase_done(ph, SW_ERROR, why);
    struct pat_op *op = xcalloc(1, sizeof(*op));
    op->ph = ph;
    op->e = e;
    op->promote = promote;
    op->kind = kind;
    op->parts_left = parts_of(kind, e->have_k8s);
    if (!promote)
        op->follow = (struct pat_follow){.host = e->cfg->standby->host,
                                         .port = (long)e->cfg->standby->port,
                                         .slot = e->cfg->patroni->primary_slot_name,
                                         .restore = e->cfg->patroni->restore_command};
    if (e->have_k8s)
        snprintf(op->path, sizeof(op->path), "/api/v1/namespaces/%s/configmaps/%s", e->ns.solution,
                 e->names.patroni_env);
    *sw_phase_slot(ph) = op;
    op_next(op);
}

static void pat_cancel(struct sw_phase *ph)
{
    struct pat_op *op = *sw_phase_slot(ph);
    *sw_phase_slot(ph) = NULL;
    op_free(op);
}

static void demote_check(struct sw_phase *ph)
{
    op_start(ph, false, OP_CHECK);
}
static void demote_act(struct sw_phase *ph)
{
    op_start(ph, false, OP_ACT);
}
static void demote_poll(struct sw_phase *ph)
{
    op_start(ph, false, OP_POLL);
}
static void promote_check(struct sw_phase *ph)
{
    op_start(ph, true, OP_CHECK);
}
static void promote_act(struct sw_phase *ph)
{
    op_start(ph, true, OP_ACT);
}
static void promote_poll(struct sw_phase *ph)
{
    op_start(ph, true, OP_POLL);
}

/* Both read and patch the env-vars ConfigMap (check reads it, act patches it). */
static const char *const pat_rbac[] = {"\"\" configmaps get", "\"\" configmaps patch", NULL};

const struct actuator_ops patroni_demote_actuator = {.action = "patroni_demote",
                                                     .check = demote_check,
                                                     .act = demote_act,
                                                     .poll = demote_poll,
                                                     .cancel = pat_cancel,
                                                     .rbac = pat_rbac,
                                                     .rbac_namespace = "solution"};

const struct actuator_ops patroni_promote_actuator = {.action = "patroni_promote",
                                                      .check = promote_check,
                                                      .act = promote_act,
                                                      .poll = promote_poll,
                                                      .cancel = pat_cancel,
                                                      .rbac = pat_rbac,
                                                      .rbac_namespace = "solution"};
