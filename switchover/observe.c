/* observe.c: a world from a snapshot (see observe.h). Each family is read by name with the
 * core's selector; labels say which site, resolver or probe a sample is about. A series that
 * is absent leaves its fact unknown. */
#include "observe.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "selector.h"

struct obs {
    struct sw_world *w;
    struct buf label;
};

typedef void (*obs_fn)(struct obs *o, const struct metric_sample *m);

struct obs_call {
    struct obs *o;
    obs_fn fn;
};

/* The unescaped value of label name of m into o->label; "" when absent. */
static const char *label(struct obs *o, const struct metric_sample *m, const char *name)
{
    if (!labels_get(m->labels, m->labels_len, name, &o->label) || !o->label.data) return "";
    return o->label.data;
}

static int site_label(struct obs *o, const struct metric_sample *m, const char *name)
{
    enum sw_site s;
    return sw_site_parse(label(o, m, name), &s) == 0 ? (int)s : -1;
}

static void each_cb(void *arg, const struct metric_family *f, const struct metric_sample *m)
{
    (void)f;
    struct obs_call *c = arg;
    c->fn(c->o, m);
}

static void each(const struct snapshot *snap, const char *name, struct obs *o, obs_fn fn)
{
    struct selector sel = {.name = (char *)name};
    struct obs_call c = {o, fn};
    snapshot_select(snap, &sel, each_cb, &c);
}

/* ---- databases ---- */

static struct sw_db *db_of(struct obs *o, const struct metric_sample *m)
{
    int s = site_label(o, m, "site");
    return s < 0 ? NULL : &o->w->db[s];
}

static void on_leader_present(struct obs *o, const struct metric_sample *m)
{
    struct sw_db *d = db_of(o, m);
    if (d) d->known = true, d->leader_present = m->value == 1;
}

static void on_leader_writable(struct obs *o, const struct metric_sample *m)
{
    struct sw_db *d = db_of(o, m);
    if (d) d->leader_writable = m->value == 1;
}

static void on_standby_cluster(struct obs *o, const struct metric_sample *m)
{
    struct sw_db *d = db_of(o, m);
    if (d) d->standby_cluster = m->value == 1;
}

/* healthy starts true for a site with a leader; one member not running or streaming clears it */
static void on_member(struct obs *o, const struct metric_sample *m)
{
    struct sw_db *d = db_of(o, m);
    const char *state = label(o, m, "state");
    if (d && strcmp(state, "running") != 0 && strcmp(state, "streaming") != 0) d->healthy = false;
}

static void on_lsn(struct obs *o, const struct metric_sample *m)
{
    struct sw_db *d = db_of(o, m);
    if (!d || m->value < 0) return;
    uint64_t v = (uint64_t)m->value;
    if (!d->lsn_known || v > d->lsn) d->lsn = v;
    d->lsn_known = true;
}

static void on_lag(struct obs *o, const struct metric_sample *m)
{
    struct sw_db *d = db_of(o, m);
    if (d && m->value >= 0 && (d->replay_lag_s < 0 || m->value > d->replay_lag_s))
        d->replay_lag_s = m->value;
}

static void on_in_recovery(struct obs *o, const struct metric_sample *m)
{
    struct sw_db *d = db_of(o, m);
    if (!d) return;
    d->sql_writable = d->sql_writable || m->value == 0; /* any member of the site writable */
    d->sql_known = true;
}

static void on_last_success(struct obs *o, const struct metric_sample *m)
{
    struct sw_db *d = db_of(o, m);
    const char *c = label(o, m, "collector");
    if (d && strcmp(c, "patroni") == 0 && m->value > d->observed_at) d->observed_at = m->value;
    if (d && strcmp(c, "postgres") == 0 && m->value > d->sql_observed_at)
        d->sql_observed_at = m->value;
}

static void observe_db(const struct snapshot *snap, struct obs *o)
{
    for (int s = 0; s < SW_SITE_COUNT; s++) o->w->db[s].replay_lag_s = -1;
    each(snap, "drwatch_patroni_leader_present", o, on_leader_present);
    each(snap, "drwatch_patroni_leader_writable", o, on_leader_writable);
    each(snap, "drwatch_patroni_standby_cluster", o, on_standby_cluster);
    for (int s = 0; s < SW_SITE_COUNT; s++) o->w->db[s].healthy = o->w->db[s].leader_present;
    each(snap, "drwatch_patroni_member_info", o, on_member);
    each(snap, "drwatch_postgres_wal_flush_lsn_bytes", o, on_lsn);
    each(snap, "drwatch_postgres_wal_replay_lsn_bytes", o, on_lsn);
    each(snap, "drwatch_patroni_node_xlog_location_bytes", o, on_lsn);
    each(snap, "drwatch_patroni_node_xlog_replayed_location_bytes", o, on_lsn);
    each(snap, "drwatch_postgres_replay_lag_seconds", o, on_lag);
    each(snap, "drwatch_postgres_in_recovery", o, on_in_recovery);
    each(snap, "drwatch_collector_last_success_timestamp_seconds", o, on_last_success);
}

/* ---- GSLB answers ---- */

static struct sw_answer *answer_of(struct sw_answer *v, size_t *n, const char *resolver)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(v[i].resolver, resolver) == 0) return &v[i];
    if (*n == SW_MAX_RESOLVERS) return NULL;
    struct sw_answer *a = &v[(*n)++];
    memset(a, 0, sizeof(*a));
    snprintf(a->resolver, sizeof(a->resolver), "%s", resolver);
    a->cls = GSLB_CLASS_ERROR; /* until a class series says otherwise */
    return a;
}

static struct sw_answer *mine_or_peers(struct obs *o, const struct metric_sample *m, bool peer)
{
    struct sw_world *w = o->w;
    const char *r = label(o, m, "resolver");
    return peer ? answer_of(w->peer_answers, &w->npeer_answers, r)
                : answer_of(w->answers, &w->nanswers, r);
}

static void answer_class(struct obs *o, const struct metric_sample *m, bool peer)
{
    const char *cls = label(o, m, "class");
    int c = gslb_class_parse(cls, strlen(cls));
    struct sw_answer *a = mine_or_peers(o, m, peer);
    if (a && m->value == 1 && c >= 0) a->cls = (enum gslb_class)c;
}

static void on_class(struct obs *o, const struct metric_sample *m)
{
    answer_class(o, m, false);
}

static void on_peer_class(struct obs *o, const struct metric_sample *m)
{
    answer_class(o, m, true);
}

static void on_held(struct obs *o, const struct metric_sample *m)
{
    struct sw_answer *a = mine_or_peers(o, m, false);
    if (a && m->value >= 0) a->held = (uint64_t)m->value;
}

static void on_peer_held(struct obs *o, const struct metric_sample *m)
{
    struct sw_answer *a = mine_or_peers(o, m, true);
    if (a && m->value >= 0) a->held = (uint64_t)m->value;
}

static void on_since(struct obs *o, const struct metric_sample *m)
{
    struct sw_answer *a = mine_or_peers(o, m, false);
    if (a) a->since = m->value;
}

/* ---- /health probes: a site is up when any of its probes is; down holds for the shortest
 * streak of its probes ---- */

static void probe_status(struct sw_probe *p, bool up)
{
    if (!p->known) {
        *p = (struct sw_probe){.known = true, .up = up, .held = UINT64_MAX};
        return;
    }
    if (up && !p->up) p->held = UINT64_MAX;
    p->up = p->up || up;
}

static void on_probe(struct obs *o, const struct metric_sample *m)
{
    int s = site_label(o, m, "site");
    if (s >= 0 && m->value == 1)
        probe_status(&o->w->probe[s], strcmp(label(o, m, "status"), "up") == 0);
}

static void on_peer_probe(struct obs *o, const struct metric_sample *m)
{
    int s = site_label(o, m, "probe_site");
    if (s >= 0 && m->value == 1)
        probe_status(&o->w->peer_probe[s], strcmp(label(o, m, "status"), "up") == 0);
}

static void probe_held(struct sw_probe *p, double v)
{
    if (v >= 0 && (uint64_t)v < p->held) p->held = (uint64_t)v;
}

static void on_probe_held(struct obs *o, const struct metric_sample *m)
{
    int s = site_label(o, m, "site");
    if (s >= 0) probe_held(&o->w->probe[s], m->value);
}

static void on_peer_probe_held(struct obs *o, const struct metric_sample *m)
{
    int s = site_label(o, m, "probe_site");
    if (s >= 0) probe_held(&o->w->peer_probe[s], m->value);
}

/* ---- the peer ---- */

static void on_collector_up(struct obs *o, const struct metric_sample *m)
{
    if (strcmp(label(o, m, "collector"), "peer") != 0) return;
    o->w->peer_reachable = (o->w->peer_known ? o->w->peer_reachable : true) && m->value == 1;
    o->w->peer_known = true;
}

static void on_peer_info(struct obs *o, const struct metric_sample *m)
{
    enum sw_state s;
    const char *state = label(o, m, "state");
    if (state[0] && sw_state_parse(state, &s) == 0) {
        o->w->peer_state = s;
        o->w->peer_state_known = true;
    }
}

static void observe_gslb(const struct snapshot *snap, struct obs *o)
{
    each(snap, "drwatch_gslb_answer_class", o, on_class);
    each(snap, "drwatch_gslb_class_held_samples", o, on_held);
    each(snap, "drwatch_gslb_class_since_timestamp_seconds", o, on_since);
    each(snap, "drwatch_gslb_probe_status", o, on_probe);
    each(snap, "drwatch_gslb_probe_status_held_samples", o, on_probe_held);
}

static void observe_peer(const struct snapshot *snap, struct obs *o)
{
    each(snap, "drwatch_collector_up", o, on_collector_up);
    if (!o->w->peer_reachable) return; /* what an unreachable peer said last is not its view */
    each(snap, "drwatch_peer_info", o, on_peer_info);
    each(snap, "drwatch_peer_gslb_answer_class", o, on_peer_class);
    each(snap, "drwatch_peer_gslb_class_held_samples", o, on_peer_held);
    each(snap, "drwatch_peer_probe_status", o, on_peer_probe);
    each(snap, "drwatch_peer_probe_status_held_samples", o, on_peer_probe_held);
}

void sw_observe(const struct snapshot *snap, enum sw_site self, double now, struct sw_world *w)
{
    memset(w, 0, sizeof(*w));
    w->now = now;
    w->self = self;
    struct obs o = {.w = w};
    buf_init(&o.label, 4096);
    if (snap) {
        observe_db(snap, &o);
        observe_gslb(snap, &o);
        observe_peer(snap, &o);
    }
    for (int s = 0; s < SW_SITE_COUNT; s++) {
        if (w->probe[s].held == UINT64_MAX) w->probe[s].held = 0;
        if (w->peer_probe[s].held == UINT64_MAX) w->peer_probe[s].held = 0;
    }
    buf_free(&o.label);
}
