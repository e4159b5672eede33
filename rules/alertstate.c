/* alertstate.c: the alert state machine (see alertstate.h). Instances live in an array; a
 * small open-addressing index by fingerprint finds them. Rules have few instances, so the
 * array is compacted on each update instead of keeping tombstones. */
#include "alertstate.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct alert_rule_state {
    struct alert_instance *v;
    size_t n, cap;
};

uint64_t alert_fingerprint(const char *labels)
{
    return hash_bytes(labels, strlen(labels), 0x616c657274ULL);
}

const char *alert_state_name(enum alert_state s)
{
    switch (s) {
    case ALERT_PENDING: return "pending";
    case ALERT_FIRING: return "firing";
    case ALERT_INACTIVE: break;
    }
    return "inactive";
}

struct alert_rule_state *alertstate_new(void)
{
    return xcalloc(1, sizeof(struct alert_rule_state));
}

static void free_annotations(struct alert_instance *a)
{
    for (size_t i = 0; i < a->nannotations; i++) {
        free(a->annotation_names[i]);
        free(a->annotation_values[i]);
    }
    free(a->annotation_names);
    free(a->annotation_values);
    a->annotation_names = a->annotation_values = NULL;
    a->nannotations = 0;
}

static void set_annotations(struct alert_instance *a, const struct alert_element *e)
{
    free_annotations(a);
    if (!e->nannotations) return;
    a->annotation_names = xcalloc(e->nannotations, sizeof(char *));
    a->annotation_values = xcalloc(e->nannotations, sizeof(char *));
    for (size_t i = 0; i < e->nannotations; i++) {
        a->annotation_names[i] = xstrdup(e->annotation_names[i]);
        a->annotation_values[i] = xstrdup(e->annotation_values[i]);
    }
    a->nannotations = e->nannotations;
}

void alertstate_free(struct alert_rule_state *rs)
{
    if (!rs) return;
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->v[i].labels);
        free_annotations(&rs->v[i]);
    }
    free(rs->v);
    free(rs);
}

size_t alertstate_count(const struct alert_rule_state *rs)
{
    return rs->n;
}

const struct alert_instance *alertstate_at(const struct alert_rule_state *rs, size_t i)
{
    return i < rs->n ? &rs->v[i] : NULL;
}

struct alert_instance *alertstate_find(struct alert_rule_state *rs, const char *labels)
{
    uint64_t fp = alert_fingerprint(labels);
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i].fingerprint == fp && strcmp(rs->v[i].labels, labels) == 0) return &rs->v[i];
    return NULL;
}

static bool has_duplicates(const struct alert_element *els, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(els[i].labels, els[j].labels) == 0) return true;
    return false;
}

static const struct alert_element *find_element(const struct alert_element *els, size_t n,
                                                const char *labels)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(els[i].labels, labels) == 0) return &els[i];
    return NULL;
}

/* An instance the expression no longer returned. Returns false if it is to be forgotten. */
static bool absent(struct alert_instance *a, double t, double keep_s)
{
    bool keep_firing = false;
    if (a->state == ALERT_FIRING && keep_s > 0) {
        if (a->keep_firing_since == 0) a->keep_firing_since = t;
        keep_firing = t - a->keep_firing_since < keep_s;
    }
    if (a->state == ALERT_PENDING ||
        (a->resolved_at > 0 && t - a->resolved_at > ALERT_RESOLVED_RETENTION))
        return false;
    if (a->state != ALERT_INACTIVE && !keep_firing) {
        a->state = ALERT_INACTIVE;
        a->resolved_at = t;
    }
    return true;
}

int alertstate_update(struct alert_rule_state *rs, double t, double for_s, double keep_firing_for_s,
                      const struct alert_element *els, size_t n)
{
    if (has_duplicates(els, n)) return -1;
    /* Existing instances: present again, or absent. */
    size_t kept = 0;
    for (size_t i = 0; i < rs->n; i++) {
        struct alert_instance *a = &rs->v[i];
        const struct alert_element *e = find_element(els, n, a->labels);
        bool keep = true;
        if (e && a->state != ALERT_INACTIVE) {
            a->value = e->value;
            a->keep_firing_since = 0;
            a->last_eval = t;
            set_annotations(a, e);
        } else if (e) {
            /* Resolved and back: a new alert, as Prometheus replaces it. */
            free_annotations(a);
            *a = (struct alert_instance){.fingerprint = a->fingerprint,
                                         .labels = a->labels,
                                         .state = ALERT_PENDING,
                                         .value = e->value,
                                         .active_at = t,
                                         .last_eval = t};
            set_annotations(a, e);
        } else {
            keep = absent(a, t, keep_firing_for_s);
        }
        if (!keep) {
            free(a->labels);
            free_annotations(a);
            continue;
        }
        rs->v[kept++] = *a;
    }
    rs->n = kept;
    /* New instances. */
    for (size_t i = 0; i < n; i++) {
        if (alertstate_find(rs, els[i].labels)) continue;
        if (rs->n == rs->cap) {
            rs->cap = rs->cap ? rs->cap * 2 : 8;
            rs->v = xrealloc(rs->v, rs->cap * sizeof(*rs->v));
        }
        struct alert_instance *a = &rs->v[rs->n++];
        *a = (struct alert_instance){.fingerprint = alert_fingerprint(els[i].labels),
                                     .labels = xstrdup(els[i].labels),
                                     .state = ALERT_PENDING,
                                     .value = els[i].value,
                                     .active_at = t,
                                     .last_eval = t};
        set_annotations(a, &els[i]);
    }
    /* Pending long enough: firing. */
    for (size_t i = 0; i < rs->n; i++) {
        struct alert_instance *a = &rs->v[i];
        if (a->state == ALERT_PENDING && t - a->active_at >= for_s) {
            a->state = ALERT_FIRING;
            a->fired_at = t;
        }
    }
    return 0;
}

void alertstate_restore(struct alert_instance *a, double now, double for_s, double saved_active_at,
                        double down_at, double grace_s)
{
    if (for_s <= 0 || a->state != ALERT_PENDING) return;
    double spent = down_at - saved_active_at;
    double remaining = for_s - spent;
    double active_at;
    if (remaining <= 0) {
        /* It had fired before the restart: it fires again at once. */
        active_at = saved_active_at;
    } else if (remaining < grace_s) {
        /* Give the outage a grace period before it may fire (Prometheus' for_grace_period). */
        active_at = now + grace_s - for_s;
    } else {
        /* The downtime does not count as time spent pending. */
        active_at = saved_active_at + (now - down_at);
    }
    if (active_at < a->active_at) {
        a->active_at = active_at;
        a->restored = true;
        if (now - a->active_at >= for_s) {
            a->state = ALERT_FIRING;
            a->fired_at = now;
        }
    }
}
