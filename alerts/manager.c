/* manager.c: the alert manager's core (see manager.h): the alert store, routing, aggregation
 * groups and their flushes, muting (silences, inhibition), Alertmanager's dedupe against the
 * notification log, rendering, and the hand-over to the outbox.
 *
 * It follows Alertmanager's dispatch/ and notify/ closely, in one thread and without
 * goroutines: a group is a route plus the values of its group_by labels; it keeps the
 * fingerprints of its alerts (the store keeps the alerts) and the time of its next flush. A
 * flush is the notification pipeline of notify.go run synchronously: MuteStage (silenced or
 * inhibited alerts are left out), DedupStage (needsUpdate against the log), RetryStage's
 * send_resolved filter, then render and outbox_append (the outbox does the retrying), then
 * SetNotifiesStage. After a flush that did not fail, the group forgets its resolved alerts.
 * Differences: an empty group is removed at its next flush rather than by a 30 s maintenance
 * sweep, and a resolved alert that the store does not know is ignored. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "caps.h"
#include "clock.h"
#include "durable.h"
#include "hash.h"
#include "loop.h"
#include "manager_int.h"
#include "strutil.h"
#include "xalloc.h"

#define MAX_MATCHED_ROUTES 64
#define MAINTENANCE_EVERY  60.0

static double real_clock(void *arg)
{
    (void)arg;
    return time_wall_s();
}

double manager_now(const struct am_manager *m)
{
    return m->clock(m->clock_arg);
}

static double outbox_clock(void *arg)
{
    return manager_now(arg);
}

void manager_set_clock(struct am_manager *m, manager_clock_fn fn, void *arg)
{
    m->clock = fn ? fn : real_clock;
    m->clock_arg = arg;
}

/* ---- the store ---- */

static size_t store_lower(const struct am_manager *m, uint64_t fp)
{
    size_t lo = 0, hi = m->nalerts;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->alerts[mid].fingerprint < fp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct am_alert *am_store_find(const struct am_manager *m, uint64_t fp)
{
    size_t i = store_lower(m, fp);
    return i < m->nalerts && m->alerts[i].fingerprint == fp ? &m->alerts[i] : NULL;
}

struct am_alert *am_store_put(struct am_manager *m, const struct am_alert *a)
{
    size_t i = store_lower(m, a->fingerprint);
    if (i < m->nalerts && m->alerts[i].fingerprint == a->fingerprint) {
        am_alert_free(&m->alerts[i]);
        am_alert_copy(&m->alerts[i], a);
        return &m->alerts[i];
    }
    if (m->nalerts >= AM_MAX_ALERTS) {
        if (m->alerts_dropped++ == 0)
            log_error("alerting", "more than %d alerts: further new alerts are dropped",
                      AM_MAX_ALERTS);
        return NULL;
    }
    if (m->nalerts == m->alerts_cap) {
        m->alerts_cap = m->alerts_cap ? m->alerts_cap * 2 : 64;
        m->alerts = xrealloc(m->alerts, m->alerts_cap * sizeof(*m->alerts));
    }
    memmove(m->alerts + i + 1, m->alerts + i, (m->nalerts - i) * sizeof(*m->alerts));
    m->nalerts++;
    am_alert_copy(&m->alerts[i], a);
    return &m->alerts[i];
}

static void store_remove_at(struct am_manager *m, size_t i)
{
    am_alert_free(&m->alerts[i]);
    memmove(m->alerts + i, m->alerts + i + 1, (m->nalerts - i - 1) * sizeof(*m->alerts));
    m->nalerts--;
}

/* ---- routing and groups ---- */

/* Alertmanager's Route.Match: the deepest matching routes, siblings tried in order until one
 * matches that does not say continue. */
static size_t route_match(const struct am_route *r, const char *labels, const struct am_route **out,
                          size_t n, size_t cap)
{
    if (!am_matchers_match(&r->matchers, labels)) return n;
    size_t start = n;
    for (size_t i = 0; i < r->nkids; i++) {
        size_t before = n;
        n = route_match(r->kids[i], labels, out, n, cap);
        if (n > before && !r->kids[i]->cont) break;
    }
    if (n == start && n < cap) out[n++] = r;
    return n;
}

/* The group labels of an alert on route r, as canonical text; NULL when they are over
 * CAP_LABELS_TEXT (a cut text would put the alert in another group). */
static char *group_labels(const struct am_route *r, const char *labels)
{
    if (r->group_all) return xstrdup(labels);
    struct label_pair pairs[64];
    struct buf vals[64];
    size_t n = 0;
    bool too_long = false;
    struct am_alert tmp = {.labels = (char *)labels};
    for (size_t i = 0; i < r->ngroup_by && n < ARRAY_LEN(pairs); i++) {
        buf_init(&vals[n], CAP_LABELS_TEXT);
        bool found = am_alert_label(&tmp, r->group_by[i], &vals[n]);
        too_long |= buf_error(&vals[n]) != 0;
        if (found && vals[n].len) {
            pairs[n] = (struct label_pair){r->group_by[i], vals[n].data};
            n++;
        } else {
            buf_free(&vals[n]);
        }
    }
    struct buf out;
    buf_init(&out, CAP_LABELS_TEXT);
    /* The names are route settings checked at load: only the cap fails here. */
    if (!too_long) too_long = labels_format(&out, pairs, n) < 0;
    for (size_t i = 0; i < n; i++) buf_free(&vals[i]);
    buf_putc(&out, '\0'); /* never NULL, also for no labels */
    if (too_long || buf_error(&out)) {
        buf_free(&out);
        return NULL;
    }
    return buf_steal(&out, NULL);
}

/* Alertmanager's LabelSet.String(): {a="x", b="y"}. */
static void labelset_string(struct buf *out, const char *labels)
{
    size_t pos = 0, nl, vl, len = strlen(labels);
    const char *n, *v;
    bool first = true;
    buf_putc(out, '{');
    while (labels_next(labels, len, &pos, &n, &nl, &v, &vl)) {
        if (!first) buf_puts(out, ", ");
        first = false;
        buf_append(out, n, nl);
        buf_puts(out, "=\"");
        buf_append(out, v, vl);
        buf_putc(out, '"');
    }
    buf_putc(out, '}');
}

static void group_free(struct am_group *g)
{
    if (!g) return;
    free(g->key);
    free(g->labels);
    free(g->fps);
    free(g);
}

static void groups_free_all(struct am_manager *m)
{
    for (size_t i = 0; i < m->ngroups; i++) group_free(m->groups[i]);
    free(m->groups);
    m->groups = NULL;
    m->ngroups = 0;
}

/* Counts (and logs once) an alert that is not routed because its group labels are over
 * CAP_LABELS_TEXT. */
static void labels_too_long(struct am_manager *m)
{
    if (m->labels_dropped++ == 0)
        log_error("alerting", "an alert's group labels are over %zu bytes: it is not routed",
                  (size_t)CAP_LABELS_TEXT);
}

static struct am_group *group_get(struct am_manager *m, const struct am_route *r,
                                  const char *glabels, double now)
{
    struct buf key;
    buf_init(&key, CAP_LABELS_TEXT);
    buf_printf(&key, "%s:", r->key);
    labelset_string(&key, glabels);
    if (buf_error(&key)) { /* a cut key could name another group */
        buf_free(&key);
        labels_too_long(m);
        return NULL;
    }
    uint64_t h = hash_bytes(key.data, key.len, 0x67726f7570ULL);
    for (size_t i = 0; i < m->ngroups; i++) {
        struct am_group *g = m->groups[i];
        if (g->hash == h && g->route == r && strcmp(g->key, key.data) == 0) {
            buf_free(&key);
            return g;
        }
    }
    if (m->ngroups >= AM_MAX_GROUPS) {
        if (m->groups_dropped++ == 0)
            log_error("alerting", "more than %d groups: alerts of further groups are dropped",
                      AM_MAX_GROUPS);
        buf_free(&key);
        return NULL;
    }
    struct am_group *g = xcalloc(1, sizeof(*g));
    g->route = r;
    g->key = buf_steal(&key, NULL);
    g->labels = xstrdup(glabels);
    g->hash = h;
    g->next_flush = now + r->group_wait;
    m->groups = xrealloc(m->groups, (m->ngroups + 1) * sizeof(*m->groups));
    m->groups[m->ngroups++] = g;
    return g;
}

static bool group_has(const struct am_group *g, uint64_t fp)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->fps[i] == fp) return true;
    return false;
}

static void group_remove(struct am_group *g, uint64_t fp)
{
    for (size_t i = 0; i < g->n; i++) {
        if (g->fps[i] != fp) continue;
        g->fps[i] = g->fps[--g->n];
        return;
    }
}

/* Dispatcher.processAlert for every route the alert matches. */
static void route_alert(struct am_manager *m, const struct am_alert *a, double now)
{
    const struct am_route *routes[MAX_MATCHED_ROUTES];
    size_t n = route_match(m->plan->root, a->labels, routes, 0, ARRAY_LEN(routes));
    for (size_t i = 0; i < n; i++) {
        char *gl = group_labels(routes[i], a->labels);
        if (!gl) {
            labels_too_long(m);
            continue;
        }
        struct am_group *g = group_get(m, routes[i], gl, now);
        free(gl);
        if (!g) continue;
        if (!group_has(g, a->fingerprint)) {
            if (g->n == g->cap) {
                g->cap = g->cap ? g->cap * 2 : 8;
                g->fps = xrealloc(g->fps, g->cap * sizeof(*g->fps));
            }
            g->fps[g->n++] = a->fingerprint;
        }
        /* aggrGroup.insert: an alert older than group_wait flushes a new group at once. */
        if (!g->flushed && a->starts_at + routes[i]->group_wait < now && g->next_flush > now)
            g->next_flush = now;
    }
}

static void rebuild_groups(struct am_manager *m, double now)
{
    groups_free_all(m);
    for (size_t i = 0; i < m->nalerts; i++) route_alert(m, &m->alerts[i], now);
}

/* ---- muting ---- */

static bool same_label(const struct am_alert *a, const struct am_alert *b, const char *name,
                       struct buf *va, struct buf *vb)
{
    /* Absent and empty are the same (both leave the buffer empty); a value over the cap
     * cannot be compared, so it is never the same: no inhibition on a guess. */
    if (!am_alert_label(a, name, va) && buf_error(va)) return false;
    if (!am_alert_label(b, name, vb) && buf_error(vb)) return false;
    return va->len == vb->len && (va->len == 0 || memcmp(va->data, vb->data, va->len) == 0);
}

/* What mutes alerts during one round of flushes (or one metrics update), in which the store
 * does not change: the firing alerts that match each inhibition rule's source side are found
 * once, so that muting n alerts costs n times the sources rather than n times the store. */
struct mute {
    const struct am_manager *m;
    double now;
    const struct am_alert **src; /* rule r's sources: src[start[r]] .. src[start[r + 1] - 1] */
    size_t *start;
};

static void mute_init(struct mute *mu, const struct am_manager *m, double now)
{
    size_t nr = m->plan->ninhibit, n = 0, cap = 0;
    *mu = (struct mute){.m = m, .now = now, .start = xcalloc(nr + 1, sizeof(size_t))};
    for (size_t r = 0; r < nr; r++) {
        mu->start[r] = n;
        for (size_t i = 0; i < m->nalerts; i++) {
            const struct am_alert *s = &m->alerts[i];
            if (am_alert_resolved(s, now) ||
                !am_matchers_match(&m->plan->inhibit[r].source, s->labels))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                mu->src = xrealloc(mu->src, cap * sizeof(*mu->src));
            }
            mu->src[n++] = s;
        }
    }
    mu->start[nr] = n;
}

static void mute_free(struct mute *mu)
{
    free(mu->src);
    free(mu->start);
}

/* Inhibitor.Mutes: a firing source alert with the equal labels mutes a target alert; an
 * alert that matches both sides is not inhibited by alerts that do too. */
static bool inhibited(const struct mute *mu, const struct am_alert *a)
{
    const struct am_plan *p = mu->m->plan;
    struct buf va, vb;
    buf_init(&va, CAP_LABELS_TEXT);
    buf_init(&vb, CAP_LABELS_TEXT);
    bool hit = false;
    for (size_t r = 0; r < p->ninhibit && !hit; r++) {
        const struct am_inhibit *rule = &p->inhibit[r];
        if (mu->start[r] == mu->start[r + 1] || !am_matchers_match(&rule->target, a->labels))
            continue;
        bool both = am_matchers_match(&rule->source, a->labels);
        for (size_t i = mu->start[r]; i < mu->start[r + 1] && !hit; i++) {
            const struct am_alert *s = mu->src[i];
            if (both && am_matchers_match(&rule->target, s->labels)) continue;
            bool eq = true;
            for (size_t k = 0; k < rule->nequal && eq; k++)
                eq = same_label(a, s, rule->equal[k], &va, &vb);
            hit = eq;
        }
    }
    buf_free(&va);
    buf_free(&vb);
    return hit;
}

static bool muted(const struct mute *mu, const struct am_alert *a)
{
    return silences_mutes(mu->m->silences, a->labels, mu->now) || inhibited(mu, a);
}

/* ---- a flush ---- */

static bool is_subset(const uint64_t *set, size_t nset, const uint64_t *sub, size_t nsub)
{
    for (size_t i = 0; i < nsub; i++) {
        bool found = false;
        for (size_t k = 0; k < nset && !found; k++) found = set[k] == sub[i];
        if (!found) return false;
    }
    return true;
}

/* DedupStage.needsUpdate. */
static bool needs_update(const struct am_nflog *e, const uint64_t *firing, size_t nfiring,
                         const uint64_t *resolved, size_t nresolved, bool send_resolved,
                         double repeat, double now)
{
    if (!e) return nfiring > 0;
    if (!is_subset(e->firing, e->nfiring, firing, nfiring)) return true;
    if (nfiring == 0) return e->nfiring > 0;
    if (send_resolved && !is_subset(e->resolved, e->nresolved, resolved, nresolved)) return true;
    return e->at < now - repeat;
}

static int alert_order(const void *pa, const void *pb, void *arg)
{
    const struct am_alert *a = pa, *b = pb;
    double now = *(const double *)arg;
    bool ra = am_alert_resolved(a, now), rb = am_alert_resolved(b, now);
    if (ra != rb) return ra ? 1 : -1;
    return strcmp(a->labels, b->labels);
}

/* The labels (or annotations) every alert has with the same value, from the first's pairs. */
static size_t common_pairs(const struct label_pair *first, size_t nfirst,
                           const struct am_alert *alerts, size_t n, bool annotations,
                           struct label_pair *out, struct arena *ar)
{
    size_t k = 0;
    for (size_t i = 0; i < nfirst; i++) {
        bool all = true;
        for (size_t j = 1; j < n && all; j++) {
            if (annotations) {
                bool found = false;
                for (size_t q = 0; q < alerts[j].nannotations && !found; q++)
                    found = strcmp(alerts[j].annotations[q].name, first[i].name) == 0 &&
                            strcmp(alerts[j].annotations[q].value, first[i].value) == 0;
                all = found;
            } else {
                struct label_pair *lp;
                size_t nl = am_labels_pairs(alerts[j].labels, ar, &lp);
                bool found = false;
                for (size_t q = 0; q < nl && !found; q++)
                    found = strcmp(lp[q].name, first[i].name) == 0 &&
                            strcmp(lp[q].value, first[i].value) == 0;
                all = found;
            }
        }
        if (all) out[k++] = first[i];
    }
    return k;
}

/* The outbox refuses a payload over its own constant (outbox.h, kept while outbox.c is
 * rewritten elsewhere): the two must agree, or a payload that fits here is refused there. */
_Static_assert(OUTBOX_MAX_PAYLOAD == CAP_NOTIFY_PAYLOAD, "the payload caps differ");

/* %.*s of s cut to max bytes on a UTF-8 boundary. */
#define CUT(s, max) (int)str_utf8_cut((s), strlen(s), (max)), (s)

/* The text sent when a template fails. Small by construction, so that it always fits the
 * payload's cap: the group key and each alert's labels are cut to a few KiB, and lines stop
 * after 60000 bytes (the first line gives the count of them all). */
static void fallback_text(const struct notification *n, struct payload *p)
{
    buf_reset(&p->body);
    buf_printf(&p->body, "[%s] %zu alert(s) for %.*s (group %.*s)\n", n->status, n->nalerts,
               CUT(n->receiver, 1024), CUT(n->group_key, 4096));
    for (size_t i = 0; i < n->nalerts && p->body.len < 60000; i++)
        buf_printf(&p->body, "- %s {%.*s}\n",
                   am_alert_resolved(&n->alerts[i], n->now) ? "resolved" : "firing",
                   CUT(n->alerts[i].labels, 2048));
    snprintf(p->content_type, sizeof(p->content_type), "text/plain; charset=utf-8");
}

/* Renders the alerts (sorted, truncated) for the group's receiver and queues the payload.
 * Returns 0 once the notification is durable in the outbox. */
static int notify(struct am_manager *m, const struct am_group *g, const struct am_receiver *recv,
                  struct am_alert *alerts, size_t n, double now)
{
    qsort_r(alerts, n, sizeof(*alerts), alert_order, &now);
    size_t truncated = 0;
    if (recv->max_alerts && n > recv->max_alerts) {
        truncated = n - recv->max_alerts;
        n = recv->max_alerts;
    }
    struct arena ar;
    arena_init(&ar);
    struct label_pair *gl, *first, *common_l, *common_a;
    size_t ngl = am_labels_pairs(g->labels, &ar, &gl);
    size_t nfirst = am_labels_pairs(alerts[0].labels, &ar, &first);
    common_l = arena_alloc(&ar, (nfirst + 1) * sizeof(*common_l));
    common_a = arena_alloc(&ar, (alerts[0].nannotations + 1) * sizeof(*common_a));
    size_t ncl = common_pairs(first, nfirst, alerts, n, false, common_l, &ar);
    size_t nca =
        common_pairs(alerts[0].annotations, alerts[0].nannotations, alerts, n, true, common_a, &ar);
    bool any_firing = false;
    uint64_t content = 0x636f6e74656e74ULL;
    for (size_t i = 0; i < n; i++) {
        bool res = am_alert_resolved(&alerts[i], now);
        any_firing |= !res;
        uint64_t item[2] = {alerts[i].fingerprint, res};
        content = hash_bytes(item, sizeof(item), content);
        if (!res) alerts[i].ends_at = 0; /* as Alertmanager's flush shows firing alerts */
    }
    struct notification note = {.receiver = recv->name,
                                .group_key = g->key,
                                .status = any_firing ? "firing" : "resolved",
                                .group_labels = gl,
                                .ngroup_labels = ngl,
                                .common_labels = common_l,
                                .ncommon_labels = ncl,
                                .common_annotations = common_a,
                                .ncommon_annotations = nca,
                                .alerts = alerts,
                                .nalerts = n,
                                .external_url = m->plan->external_url,
                                .grafana_url = m->plan->grafana_url,
                                .now = now,
                                .truncated_alerts = truncated};
    struct payload p = {0};
    buf_init(&p.body, CAP_NOTIFY_PAYLOAD);
    uint64_t who =
        hash_bytes(g->key, strlen(g->key), hash_bytes(recv->name, strlen(recv->name), 1));
    snprintf(p.dedupe_key, sizeof(p.dedupe_key), "%016llx-%016llx-%lld", (unsigned long long)who,
             (unsigned long long)content, (long long)llround(now * 1000.0));
    char err[512] = "";
    if (recv->ops->render(recv->state, &note, &p, err, sizeof(err)) < 0) {
        m->render_failures++;
        log_complain(&m->render_complaint, LOG_ERROR, "alerting",
                     "receiver %s: rendering failed, sending plain text instead: %s", recv->name,
                     err);
        fallback_text(&note, &p);
    } else {
        log_complain_clear(&m->render_complaint, "alerting", "rendering works again");
    }
    int rc = outbox_append(m->outbox, recv->name, &p, err, sizeof(err));
    if (rc < 0)
        log_complain(&m->outbox_complaint, LOG_ERROR, "alerting",
                     "receiver %s: cannot queue a notification (tried again at the next flush): "
                     "%s",
                     recv->name, err);
    else
        log_complain_clear(&m->outbox_complaint, "alerting", "notifications are queued again");
    buf_free(&p.body);
    arena_free(&ar);
    return rc;
}

/* One flush of a group: the notification pipeline. */
static void flush_group(struct am_manager *m, struct am_group *g, const struct mute *mu)
{
    double now = mu->now;
    const struct am_route *r = g->route;
    const struct am_receiver *recv = &m->plan->receivers[r->receiver];
    g->next_flush = now + r->group_interval;
    g->flushed = true;
    struct am_alert *sent = xcalloc(g->n + 1, sizeof(*sent)); /* shallow copies */
    uint64_t *firing = xcalloc(g->n + 1, sizeof(uint64_t));
    uint64_t *resolved = xcalloc(g->n + 1, sizeof(uint64_t));
    uint64_t *forget = xcalloc(g->n + 1, sizeof(uint64_t));
    size_t nsent = 0, nfiring = 0, nresolved = 0, nforget = 0;
    for (size_t i = 0; i < g->n;) {
        const struct am_alert *a = am_store_find(m, g->fps[i]);
        if (!a) {
            g->fps[i] = g->fps[--g->n];
            continue;
        }
        i++;
        bool res = am_alert_resolved(a, now);
        if (res) forget[nforget++] = a->fingerprint;
        if (muted(mu, a)) continue;
        if (res)
            resolved[nresolved++] = a->fingerprint;
        else
            firing[nfiring++] = a->fingerprint;
        sent[nsent++] = *a;
    }
    bool ok = true;
    if (nsent) {
        const struct am_nflog *e = am_nflog_find(m, recv->name, g->key);
        if (needs_update(e, firing, nfiring, resolved, nresolved, recv->send_resolved,
                         r->repeat_interval, now)) {
            if (!recv->send_resolved) { /* RetryStage: resolved alerts are not sent */
                size_t k = 0;
                for (size_t i = 0; i < nsent; i++)
                    if (!am_alert_resolved(&sent[i], now)) sent[k++] = sent[i];
                nsent = k;
            }
            if (nsent) ok = notify(m, g, recv, sent, nsent, now) == 0;
            if (ok) {
                am_nflog_set(m, recv->name, g->key, firing, nfiring, resolved, nresolved, now);
                m->dirty = true;
            }
        }
    }
    if (ok)
        for (size_t i = 0; i < nforget; i++) group_remove(g, forget[i]);
    free(sent);
    free(firing);
    free(resolved);
    free(forget);
}

static int group_due_order(const void *pa, const void *pb)
{
    const struct am_group *a = *(const struct am_group *const *)pa;
    const struct am_group *b = *(const struct am_group *const *)pb;
    return a->next_flush < b->next_flush ? -1 : a->next_flush > b->next_flush;
}

/* Flushes every group that is due, earliest first; removes the empty ones. */
static void flush_due(struct am_manager *m, double now)
{
    struct am_group **due = xmalloc((m->ngroups + 1) * sizeof(*due));
    size_t n = 0;
    for (size_t i = 0; i < m->ngroups; i++)
        if (m->groups[i]->next_flush <= now) due[n++] = m->groups[i];
    qsort(due, n, sizeof(*due), group_due_order);
    struct mute mu;
    mute_init(&mu, m, now);
    for (size_t i = 0; i < n; i++) {
        if (due[i]->n == 0) continue;
        flush_group(m, due[i], &mu);
        due[i] = NULL;
    }
    mute_free(&mu);
    size_t kept = 0;
    for (size_t i = 0; i < m->ngroups; i++) {
        struct am_group *g = m->groups[i];
        bool remove = false;
        for (size_t k = 0; k < n && !remove; k++) remove = due[k] == g;
        if (remove)
            group_free(g);
        else
            m->groups[kept++] = g;
    }
    m->ngroups = kept;
    free(due);
}

/* ---- time ---- */

/* Alerts the rules stopped reporting resolve after resolve_timeout. */
static void expire_stale(struct am_manager *m, double now)
{
    for (size_t i = 0; i < m->nalerts; i++) {
        struct am_alert *a = &m->alerts[i];
        if (a->ends_at == 0 && a->updated_at + m->plan->resolve_timeout <= now) {
            a->ends_at = a->updated_at + m->plan->resolve_timeout;
            m->dirty = true;
            log_info("alerting", "alert {%s} was not reported for %.0fs: resolved", a->labels,
                     m->plan->resolve_timeout);
        }
    }
}

/* Forgets resolved alerts past retention that no group holds any more. */
static void store_gc(struct am_manager *m, double now)
{
    for (size_t i = 0; i < m->nalerts;) {
        const struct am_alert *a = &m->alerts[i];
        bool keep = !(a->ends_at > 0 && a->ends_at + AM_RESOLVED_RETENTION < now);
        for (size_t g = 0; g < m->ngroups && !keep; g++)
            keep = group_has(m->groups[g], a->fingerprint);
        if (keep) {
            i++;
        } else {
            store_remove_at(m, i);
            m->dirty = true;
        }
    }
}

double manager_next_due(const struct am_manager *m)
{
    double due = m->next_maintenance;
    for (size_t i = 0; i < m->ngroups; i++)
        if (m->groups[i]->next_flush < due) due = m->groups[i]->next_flush;
    for (size_t i = 0; i < m->nalerts; i++) {
        double t = m->alerts[i].updated_at + m->plan->resolve_timeout;
        if (m->alerts[i].ends_at == 0 && t < due) due = t;
    }
    if (!m->env.loop) {
        double t = outbox_next_due(m->outbox);
        if (t < due) due = t;
    }
    return due;
}

static void on_timer(void *arg)
{
    manager_tick(arg);
}

void am_reschedule(struct am_manager *m)
{
    if (!m->timer || m->ticking) return;
    double wait = (manager_next_due(m) - manager_now(m)) * 1000.0;
    if (!isfinite(wait) || wait > 3600000.0) wait = 3600000.0;
    loop_timer_start(m->timer, wait <= 0 ? 0 : (int64_t)ceil(wait));
}

void manager_tick(struct am_manager *m)
{
    m->ticking = true;
    double now = manager_now(m);
    expire_stale(m, now);
    flush_due(m, now);
    if (now >= m->next_maintenance) {
        m->next_maintenance = now + MAINTENANCE_EVERY;
        store_gc(m, now);
        am_nflog_gc(m, now);
        if (silences_gc(m->silences, now)) {
            char err[512];
            if (silences_save(m->silences, err, sizeof(err)) < 0) log_error("alerting", "%s", err);
        }
    }
    am_state_save(m, now, false);
    if (!m->env.loop) outbox_tick(m->outbox);
    m->ticking = false;
    am_reschedule(m);
}

/* ---- alerts in ---- */

static bool same_alert(const struct am_alert *a, const struct am_alert *b)
{
    if (a->starts_at != b->starts_at || a->ends_at != b->ends_at ||
        strcmp(a->labels, b->labels) != 0 || a->nannotations != b->nannotations)
        return false;
    if ((a->generator_url == NULL) != (b->generator_url == NULL) ||
        (a->generator_url && strcmp(a->generator_url, b->generator_url) != 0))
        return false;
    for (size_t i = 0; i < a->nannotations; i++)
        if (strcmp(a->annotations[i].name, b->annotations[i].name) != 0 ||
            strcmp(a->annotations[i].value, b->annotations[i].value) != 0)
            return false;
    return true;
}

void manager_push(struct am_manager *m, const struct am_alert *alerts, size_t n)
{
    double now = manager_now(m);
    char *generator = xasprintf("%s/api/v1/alerts", m->plan->external_url);
    for (size_t i = 0; i < n; i++) {
        struct am_alert in = alerts[i];
        if (!in.labels) continue;
        if (!in.fingerprint) in.fingerprint = am_fingerprint(in.labels);
        if (!in.generator_url) in.generator_url = generator;
        in.updated_at = now;
        struct am_alert *cur = am_store_find(m, in.fingerprint);
        if (!cur && in.ends_at > 0) continue; /* resolved, and never seen firing */
        if (cur && same_alert(cur, &in)) {
            cur->updated_at = now;
            cur->value = in.value;
            m->touched = true;
            continue;
        }
        struct am_alert *stored = am_store_put(m, &in);
        if (!stored) continue;
        route_alert(m, stored, now);
        m->dirty = true;
    }
    free(generator);
    am_state_save(m, now, false);
    am_reschedule(m);
}

/* ---- life ---- */

static void bind_senders(struct am_manager *m)
{
    const struct am_plan *p = m->plan;
    struct outbox_sender *s = xcalloc(p->nreceivers + 1, sizeof(*s));
    for (size_t i = 0; i < p->nreceivers; i++)
        s[i] = (struct outbox_sender){p->receivers[i].name, p->receivers[i].ops,
                                      p->receivers[i].state, p->receivers[i].timeout_ms};
    outbox_configure(m->outbox, p->outbox_max_entries, p->outbox_max_bytes, p->retry_min,
                     p->retry_max);
    outbox_set_senders(m->outbox, s, p->nreceivers);
    free(s);
}

struct am_manager *manager_new(struct am_plan *plan, const struct manager_env *env, char *err,
                               size_t errlen)
{
    struct am_manager *m = xcalloc(1, sizeof(*m));
    m->plan = plan;
    m->env = *env;
    manager_set_clock(m, env->clock, env->clock_arg);
    int rc = durable_dir_ensure(NULL, plan->data_dir);
    if (rc < 0) {
        snprintf(err, errlen, "alerting data_dir %s: cannot create: %s", plan->data_dir,
                 strerror(-rc));
        goto fail;
    }
    m->state_path = xasprintf("%s/%s", plan->data_dir, AM_STATE_FILE);
    char *sil_path = xasprintf("%s/%s", plan->data_dir, SILENCE_FILE);
    m->silences = silences_new(sil_path);
    char why[512];
    if (silences_load(m->silences, why, sizeof(why)) < 0) {
        char *aside = xasprintf("%s.corrupt", sil_path);
        log_error("alerting", "%s; starting without silences, the file is kept as %s", why, aside);
        if (rename(sil_path, aside) < 0) log_error("alerting", "%s: %s", aside, strerror(errno));
        free(aside);
    }
    free(sil_path);
    struct outbox_opts o = {.dir = plan->data_dir,
                            .loop = env->loop,
                            .max_entries = plan->outbox_max_entries,
                            .max_bytes = plan->outbox_max_bytes,
                            .backoff_min_s = plan->retry_min,
                            .backoff_max_s = plan->retry_max,
                            .clock = outbox_clock,
                            .clock_arg = m};
    m->outbox = outbox_open(&o, err, errlen);
    if (!m->outbox) goto fail;
    double now = manager_now(m);
    am_state_load(m, now);
    if (env->loop) m->timer = loop_timer_new(env->loop, on_timer, m);
    m->next_maintenance = now + MAINTENANCE_EVERY;
    bind_senders(m);
    rebuild_groups(m, now);
    am_reschedule(m);
    return m;
fail:
    manager_free(m);
    return NULL;
}

void manager_apply(struct am_manager *m, struct am_plan *plan)
{
    groups_free_all(m);
    struct am_plan *old = m->plan;
    m->plan = plan;
    bind_senders(m); /* cancels sends in flight through the old notifiers */
    manager_plan_free(old);
    rebuild_groups(m, manager_now(m));
    am_reschedule(m);
}

void manager_save(struct am_manager *m)
{
    if (m) am_state_save(m, manager_now(m), true);
}

void manager_free(struct am_manager *m)
{
    if (!m) return;
    outbox_free(m->outbox); /* first: it cancels sends through the plan's notifiers */
    groups_free_all(m);
    manager_plan_free(m->plan);
    for (size_t i = 0; i < m->nalerts; i++) am_alert_free(&m->alerts[i]);
    free(m->alerts);
    am_nflog_free_all(m);
    silences_free(m->silences);
    loop_timer_free(m->timer);
    free(m->state_path);
    free(m);
}

/* ---- what it shows ---- */

size_t manager_group_count(const struct am_manager *m)
{
    return m->ngroups;
}

size_t manager_alert_count(const struct am_manager *m)
{
    return m->nalerts;
}

#define NO_MORE_LABELS ((const char *)NULL)

struct metric_set *manager_metrics(struct am_manager *m)
{
    double now = manager_now(m);
    struct metric_set *set = mset_new();
    outbox_metrics(m->outbox, set);
    size_t active = 0, suppressed = 0;
    struct mute mu;
    mute_init(&mu, m, now);
    for (size_t i = 0; i < m->nalerts; i++) {
        if (am_alert_resolved(&m->alerts[i], now)) continue;
        if (muted(&mu, &m->alerts[i]))
            suppressed++;
        else
            active++;
    }
    mute_free(&mu);
    struct metric_family *f =
        mset_family(set, "drwatch_alerts", METRIC_GAUGE,
                    "Firing alerts the alert manager holds, by state: active, or suppressed by a "
                    "silence or an inhibition rule.");
    mset_addv(set, f, (double)active, "state", "active", NO_MORE_LABELS);
    mset_addv(set, f, (double)suppressed, "state", "suppressed", NO_MORE_LABELS);
    f = mset_family(set, "drwatch_silences", METRIC_GAUGE, "Silences by state.");
    static const enum silence_state states[] = {SILENCE_ACTIVE, SILENCE_PENDING, SILENCE_EXPIRED};
    for (size_t i = 0; i < ARRAY_LEN(states); i++)
        mset_addv(set, f, (double)silences_count(m->silences, states[i], now), "state",
                  silence_state_name(states[i]), NO_MORE_LABELS);
    mset_addv(set,
              mset_family(set, "drwatch_alert_groups", METRIC_GAUGE,
                          "Aggregation groups the alert manager keeps (route and group_by "
                          "values)."),
              (double)m->ngroups, NO_MORE_LABELS);
    mset_addv(set,
              mset_family(set, "drwatch_notification_render_failures_total", METRIC_COUNTER,
                          "Notifications whose template failed; a plain-text fallback was sent "
                          "instead."),
              (double)m->render_failures, NO_MORE_LABELS);
    f = mset_family(set, "drwatch_alerts_dropped_total", METRIC_COUNTER,
                    "Alerts the alert manager could not keep, by reason (alerts_limit: 10000 "
                    "alerts, groups_limit: 10000 groups).");
    mset_addv(set, f, (double)m->alerts_dropped, "reason", "alerts_limit", NO_MORE_LABELS);
    mset_addv(set, f, (double)m->groups_dropped, "reason", "groups_limit", NO_MORE_LABELS);
    mset_addv(set, f, (double)m->labels_dropped, "reason", "labels_too_long", NO_MORE_LABELS);
    mset_seal(set);
    return set;
}
