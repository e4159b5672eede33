/* leader.c: see leader.h. One timer and at most one request in flight: every retry_period a
 * GET of the Lease, then, when lease.h says so, a POST (create) or a PUT (renew, take over)
 * carrying the resourceVersion read, so that of two replicas racing only one write lands
 * (the other gets 409 and reads again). While leading, the timer also fires at the renew
 * deadline, whatever a request in flight is doing: a partition that makes requests hang
 * stops the leader as surely as one that makes them fail. Uses k8s.h, lease.h, the loop. */
#include "leader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "lease.h"
#include "log.h"
#include "loop.h"
#include "registry.h"
#include "status_page.h"
#include "xalloc.h"

static const struct cfg_key leader_k8s_keys[] = {K8S_TARGET_KEYS(struct leader_k8s, t), CFG_END};

static const struct cfg_key leader_keys[] = {
    {.name = "enabled",
     .type = CFG_BOOL,
     .offset = offsetof(struct leader_config, enabled),
     .def = "false",
     .expect = "true to elect one acting replica through a Lease"},
    {.name = "lease_name",
     .type = CFG_STRING,
     .offset = offsetof(struct leader_config, lease_name),
     .def = "drwatch",
     .expect = "the Lease's name, a DNS subdomain"},
    {.name = "identity",
     .type = CFG_STRING,
     .offset = offsetof(struct leader_config, identity),
     .expect = "this replica's holderIdentity (default: $POD_NAME, else the host name)"},
    {.name = "lease_duration",
     .type = CFG_DURATION,
     .offset = offsetof(struct leader_config, lease_duration_ms),
     .def = "15s",
     .expect = "whole seconds, 1s to 1h: how long a Lease not renewed still holds",
     .min = 1000,
     .max = 3600000},
    {.name = "renew_deadline",
     .type = CFG_DURATION,
     .offset = offsetof(struct leader_config, renew_deadline_ms),
     .def = "10s",
     .expect = "100ms to 1h, under lease_duration: a leader that cannot renew within it stops",
     .min = 100,
     .max = 3600000},
    {.name = "retry_period",
     .type = CFG_DURATION,
     .offset = offsetof(struct leader_config, retry_period_ms),
     .def = "2s",
     .expect = "50ms to 1h, under renew_deadline: how often the Lease is read",
     .min = 50,
     .max = 3600000},
    {.name = "kubernetes",
     .type = CFG_OPTIONAL,
     .offset = offsetof(struct leader_config, kubernetes),
     .sub = leader_k8s_keys,
     .sub_size = sizeof(struct leader_k8s),
     .expect = "the API server holding the Lease (default: the pod's own, its namespace)"},
    CFG_END,
};

const struct cfg_module leader_module = {"leader_election", leader_keys,
                                         sizeof(struct leader_config), false};

const char *const leader_rbac[] = {"coordination.k8s.io leases get",
                                   "coordination.k8s.io leases create",
                                   "coordination.k8s.io leases update", NULL};

enum lerr { LERR_CONFLICT, LERR_HTTP, LERR_TRANSPORT, LERR_INVALID, LERR_COUNT };
static const char *const lerr_names[] = {"conflict", "http", "transport", "invalid"};

struct leader {
    bool enabled, leading, stopping;
    struct loop *loop;
    struct httpc *http;
    struct k8s_client k8s;
    char identity[LEASE_HOLDER_MAX + 1];
    char *lease_name;
    int64_t duration_ms, deadline_ms, retry_ms;
    leader_change_fn on_change;
    void *arg;
    struct loop_timer *timer;
    struct k8s_req *req;
    int64_t sent_ms;    /* when the write in flight was sent */
    int64_t renewed_ms; /* when the last successful write was sent */
    struct lease_observation obs;
    uint64_t changes, errors[LERR_COUNT];
    struct complaint failing;
    void (*done)(void *arg); /* leader_stop's */
    int release_tries;
    void *done_arg;
};

/* ---- config ---- */

/* The identity: the key, else $POD_NAME, else the host name. */
static int identity_of(const struct leader_config *c, char *out, size_t outlen)
{
    const char *pod = getenv("POD_NAME");
    if (c->identity)
        snprintf(out, outlen, "%s", c->identity);
    else if (pod && *pod)
        snprintf(out, outlen, "%s", pod);
    else if (gethostname(out, outlen) < 0)
        out[0] = '\0';
    out[outlen - 1] = '\0';
    size_t n = strlen(out);
    return n > 0 && n <= LEASE_HOLDER_MAX ? 0 : -EINVAL;
}

static int client_of(const struct leader_config *c, const char *site, struct k8s_client *out,
                     char *err, size_t errlen)
{
    struct k8s_target def = {0};
    for (int i = 0; drwatch_sites[i]; i++)
        if (strcmp(drwatch_sites[i], site) == 0) def.http.site = i;
    return k8s_client_init(out, c->kubernetes ? &c->kubernetes->t : &def, NULL, err, errlen);
}

int leader_check(const struct leader_config *c, const char *site, char *err, size_t errlen)
{
    char id[LEASE_HOLDER_MAX + 2], why[512];
    struct k8s_client k;
    const char *bad = NULL;
    if (!c->enabled) return 0;
    if (c->lease_duration_ms % 1000)
        bad = "lease_duration must be whole seconds (leaseDurationSeconds)";
    else if (c->renew_deadline_ms >= c->lease_duration_ms)
        bad = "renew_deadline must be shorter than lease_duration (a leader that cannot renew "
              "must stop before the Lease can expire at another replica)";
    else if (c->retry_period_ms >= c->renew_deadline_ms)
        bad = "retry_period must be shorter than renew_deadline";
    else if (!k8s_name_valid(c->lease_name, true))
        bad = "lease_name must be a DNS subdomain ([a-z0-9.-], at most 253)";
    else if (identity_of(c, id, sizeof(id)) < 0)
        bad = "no identity: set identity, or POD_NAME (the downward API), at most 253 bytes";
    if (bad) {
        snprintf(err, errlen, "leader_election: %s", bad);
        return -1;
    }
    if (client_of(c, site, &k, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "leader_election.kubernetes: %s", why);
        return -1;
    }
    k8s_client_clear(&k);
    return 0;
}

/* ---- leading and stepping down ---- */

static void set_leading(struct leader *l, bool leading, const char *why)
{
    if (l->leading == leading) return;
    l->leading = leading;
    l->changes++;
    if (leading)
        log_info("leader", "%s leads: it holds Lease %s/%s (%s)", l->identity, l->k8s.namespace,
                 l->lease_name, why);
    else
        log_warn("leader", "%s stops acting: %s", l->identity, why);
    if (l->on_change) l->on_change(l->arg, leading);
}

static void arm(struct leader *l)
{
    int64_t delay = l->retry_ms;
    if (l->leading) {
        int64_t left = l->renewed_ms + l->deadline_ms - time_mono_ms();
        if (left < delay) delay = left > 0 ? left : 0;
    }
    loop_timer_start(l->timer, delay);
}

static void count_error(struct leader *l, enum lerr e, const char *what, const char *detail)
{
    l->errors[e]++;
    log_complain(&l->failing, e == LERR_CONFLICT ? LOG_INFO : LOG_WARN, "leader",
                 "Lease %s/%s: %s: %s", l->k8s.namespace, l->lease_name, what, detail);
}

static char *lease_path(const struct leader *l, bool named)
{
    return named ? xasprintf("/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s",
                             l->k8s.namespace, l->lease_name)
                 : xasprintf("/apis/coordination.k8s.io/v1/namespaces/%s/leases", l->k8s.namespace);
}

static void start(struct leader *l, const char *method, bool named, const char *body,
                  k8s_done_fn fn)
{
    char *path = lease_path(l, named), err[300];
    struct k8s_call call = {.method = method,
                            .path = path,
                            .content_type = body ? "application/json" : NULL,
                            .body = body,
                            .body_len = body ? strlen(body) : 0,
                            .timeout_ms = l->deadline_ms};
    l->req = k8s_request(l->http, &l->k8s, &call, fn, l, err, sizeof(err));
    if (!l->req) count_error(l, LERR_TRANSPORT, "cannot send", err);
    free(path);
}

/* ---- the write ---- */

static void on_written(void *arg, const struct k8s_response *r)
{
    struct leader *l = arg;
    l->req = NULL;
    struct lease_record rec;
    char err[200];
    if (!r->ok) {
        bool lost = r->status == 409; /* Conflict on a PUT, AlreadyExists on a POST */
        count_error(l, lost ? LERR_CONFLICT : (r->status ? LERR_HTTP : LERR_TRANSPORT),
                    lost ? "another replica wrote first" : "write failed", r->detail);
        return;
    }
    if (lease_record_parse(r->body, r->body_len, &rec, err, sizeof(err)) < 0) {
        count_error(l, LERR_INVALID, "the written Lease reads back wrong", err);
        return;
    }
    log_complain_clear(&l->failing, "leader", "Lease %s/%s: written again", l->k8s.namespace,
                       l->lease_name);
    lease_observe(&l->obs, &rec, time_mono_ms());
    if (lease_must_stop(l->sent_ms, l->deadline_ms, time_mono_ms())) return; /* answered late */
    l->renewed_ms = l->sent_ms;
    set_leading(l, true, rec.transitions ? "took it over" : "acquired it");
    arm(l);
}

static void write_lease(struct leader *l, enum lease_action a)
{
    struct lease_record next;
    lease_next(&l->obs, a, l->identity, l->duration_ms / 1000, time_wall_s(), &next);
    char *body = lease_record_json(l->k8s.namespace, l->lease_name, &next);
    l->sent_ms = time_mono_ms();
    start(l, a == LEASE_CREATE ? "POST" : "PUT", a != LEASE_CREATE, body, on_written);
    free(body);
}

/* ---- the read ---- */

static void on_read(void *arg, const struct k8s_response *r)
{
    struct leader *l = arg;
    l->req = NULL;
    struct lease_record rec;
    char err[200];
    if (r->status == 404) {
        lease_observe(&l->obs, NULL, time_mono_ms());
    } else if (!r->ok) {
        count_error(l, r->status ? LERR_HTTP : LERR_TRANSPORT, "read failed", r->detail);
        return;
    } else if (lease_record_parse(r->body, r->body_len, &rec, err, sizeof(err)) < 0) {
        count_error(l, LERR_INVALID, "cannot read it", err);
        return;
    } else {
        lease_observe(&l->obs, &rec, time_mono_ms());
    }
    enum lease_action a = lease_decide(&l->obs, l->identity, time_mono_ms());
    if (a != LEASE_WAIT) {
        write_lease(l, a);
        return;
    }
    char why[LEASE_HOLDER_MAX + 64];
    snprintf(why, sizeof(why), "%s holds the Lease", l->obs.rec.holder);
    set_leading(l, false, why);
}

static void on_timer(void *arg)
{
    struct leader *l = arg;
    if (l->leading && lease_must_stop(l->renewed_ms, l->deadline_ms, time_mono_ms()))
        set_leading(l, false, "no renew of the Lease succeeded within renew_deadline");
    if (!l->req) start(l, "GET", true, NULL, on_read);
    arm(l);
}

/* ---- the handle ---- */

struct leader *leader_new(const struct leader_config *c, const struct leader_env *env, char *err,
                          size_t errlen)
{
    struct leader *l = xcalloc(1, sizeof(*l));
    l->leading = !c->enabled;
    if (!c->enabled) return l;
    if (leader_check(c, env->site, err, errlen) < 0 ||
        client_of(c, env->site, &l->k8s, err, errlen) < 0) {
        free(l);
        return NULL;
    }
    l->enabled = true;
    (void)identity_of(c, l->identity, sizeof(l->identity));
    l->lease_name = xstrdup(c->lease_name);
    l->duration_ms = c->lease_duration_ms;
    l->deadline_ms = c->renew_deadline_ms;
    l->retry_ms = c->retry_period_ms;
    l->loop = env->loop;
    l->http = env->http;
    l->on_change = env->on_change;
    l->arg = env->arg;
    l->timer = loop_timer_new(l->loop, on_timer, l);
    loop_timer_start(l->timer, 0);
    log_info("leader", "%s elects through Lease %s/%s (lease %lld ms, renew deadline %lld ms)",
             l->identity, l->k8s.namespace, l->lease_name, (long long)l->duration_ms,
             (long long)l->deadline_ms);
    return l;
}

void leader_free(struct leader *l)
{
    if (!l) return;
    k8s_cancel(l->req);
    loop_timer_free(l->timer);
    k8s_client_clear(&l->k8s);
    free(l->lease_name);
    free(l);
}

bool leader_is_leader(const struct leader *l)
{
    return !l || l->leading;
}

bool leader_enabled(const struct leader *l)
{
    return l && l->enabled;
}

static void send_release(struct leader *l);

static void release_done(struct leader *l)
{
    if (l->done) l->done(l->done_arg);
}

/* The release met a version it had not seen: a renew cancelled by leader_stop may have landed
 * after all. Read again; release once more if the Lease is still this replica's. */
static void on_release_read(void *arg, const struct k8s_response *r)
{
    struct leader *l = arg;
    l->req = NULL;
    struct lease_record rec;
    char err[200];
    if (r->ok && lease_record_parse(r->body, r->body_len, &rec, err, sizeof(err)) == 0 &&
        strcmp(rec.holder, l->identity) == 0) {
        lease_observe(&l->obs, &rec, time_mono_ms());
        send_release(l);
        return;
    }
    release_done(l);
}

static void on_released(void *arg, const struct k8s_response *r)
{
    struct leader *l = arg;
    l->req = NULL;
    if (r->ok) {
        log_info("leader", "%s released Lease %s/%s", l->identity, l->k8s.namespace, l->lease_name);
    } else if (r->status == 409 && l->release_tries < 3) {
        start(l, "GET", true, NULL, on_release_read);
        if (l->req) return;
    } else {
        log_warn("leader", "%s could not release Lease %s/%s: %s (it expires instead)", l->identity,
                 l->k8s.namespace, l->lease_name, r->detail);
    }
    release_done(l);
}

static void send_release(struct leader *l)
{
    struct lease_record rel;
    lease_release(&l->obs, time_wall_s(), &rel);
    char *body = lease_record_json(l->k8s.namespace, l->lease_name, &rel);
    l->release_tries++;
    start(l, "PUT", true, body, on_released);
    free(body);
    if (!l->req) release_done(l);
}

void leader_stop(struct leader *l, void (*done)(void *arg), void *arg)
{
    if (!l || !l->enabled || l->stopping) {
        if (done) done(arg);
        return;
    }
    l->stopping = true;
    loop_timer_stop(l->timer);
    k8s_cancel(l->req);
    l->req = NULL;
    bool held = l->leading;
    set_leading(l, false, "stopping");
    if (!held) {
        if (done) done(arg);
        return;
    }
    l->done = done;
    l->done_arg = arg;
    send_release(l);
}

/* ---- what it shows ---- */

struct metric_set *leader_metrics(const struct leader *l)
{
    struct metric_set *m = mset_new();
    mset_addv(m,
              mset_family(m, "drwatch_leader", METRIC_GAUGE,
                          "1 when this replica acts (executes plans, writes the state ConfigMap, "
                          "sends notifications): it holds the Lease, or leader election is off."),
              leader_is_leader(l) ? 1.0 : 0.0, (const char *)NULL);
    if (leader_enabled(l)) {
        mset_addv(m,
                  mset_family(m, "drwatch_leader_changes_total", METRIC_COUNTER,
                              "Times this replica started or stopped acting as the leader."),
                  (double)l->changes, (const char *)NULL);
        struct metric_family *f =
            mset_family(m, "drwatch_leader_lease_errors_total", METRIC_COUNTER,
                        "Failed reads and writes of the Lease, by reason: conflict (another "
                        "replica wrote first), http, transport, invalid.");
        for (int e = 0; e < LERR_COUNT; e++)
            mset_addv(m, f, (double)l->errors[e], "reason", lerr_names[e], (const char *)NULL);
    }
    mset_seal(m);
    return m;
}

void leader_page_html(void *arg, struct buf *b)
{
    const struct leader *l = *(struct leader *const *)arg;
    if (!leader_enabled(l)) {
        (void)buf_puts(b, "<p>Leader election is off: this process always acts.</p>\n");
        return;
    }
    (void)buf_puts(b, "<p>This replica, <code>");
    status_page_put_html(b, l->identity);
    (void)buf_printf(b, "</code>, %s. Lease <code>", l->leading ? "<b>leads</b>" : "follows");
    status_page_put_html(b, l->k8s.namespace);
    (void)buf_puts(b, "/");
    status_page_put_html(b, l->lease_name);
    (void)buf_puts(b, "</code> is held by <code>");
    status_page_put_html(b, l->obs.present && l->obs.rec.holder[0] ? l->obs.rec.holder : "nobody");
    (void)buf_printf(b, "</code> (%lld transitions).</p>\n", (long long)l->obs.rec.transitions);
}
