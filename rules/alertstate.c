/* alertstate.c: the alert state machine (see alertstate.h). Instances live in an array, compacted
 * on each update instead of keeping tombstones; an open-addressing index by fingerprint, made
 * again after each update, finds them. An update hashes its elements once, which finds
 * duplicates and matches the instances in linear time: a rule may return thousands of series. */
#include "alertstate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "xalloc.h"

struct alert_rule_state {
    struct alert_instance *v;
    size_t n, cap;
    uint32_t *idx; /* instance number + 1, 0 for empty */
    size_t idx_cap;
};

/* An open-addressing table of item numbers + 1 with room for n items. */
static uint32_t *table_new(size_t n, size_t *cap)
{
    size_t c = 16;
    while (c < n * 2 + 2) c *= 2;
    *cap = c;
    return xcalloc(c, sizeof(uint32_t));
}

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
    free(rs->idx);
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
    if (!rs->idx_cap) return NULL;
    uint64_t fp = alert_fingerprint(labels);
    for (size_t j = fp & (rs->idx_cap - 1); rs->idx[j]; j = (j + 1) & (rs->idx_cap - 1)) {
        struct alert_instance *a = &rs->v[rs->idx[j] - 1];
        if (a->fingerprint == fp && strcmp(a->labels, labels) == 0) return a;
    }
    return NULL;
}

static void index_rebuild(struct alert_rule_state *rs)
{
    free(rs->idx);
    rs->idx = table_new(rs->n, &rs->idx_cap);
    for (size_t i = 0; i < rs->n; i++) {
        size_t j = rs->v[i].fingerprint & (rs->idx_cap - 1);
        while (rs->idx[j]) j = (j + 1) & (rs->idx_cap - 1);
        rs->idx[j] = (uint32_t)i + 1;
    }
}

/* The elements of one evaluation, hashed by fingerprint. */
struct element_table {
    const struct alert_element *els;
    uint64_t *fp;
    bool *matched;
    uint32_t *slots;
    size_t cap;
};

/* Hashes els; returns -1 if two have the same labels. */
static int elements_hash(struct element_table *et, const struct alert_element *els, size_t n)
{
    et->els = els;
    et->fp = xcalloc(n ? n : 1, sizeof(uint64_t));
    et->matched = xcalloc(n ? n : 1, sizeof(bool));
    et->slots = table_new(n, &et->cap);
    for (size_t i = 0; i < n; i++) {
        et->fp[i] = alert_fingerprint(els[i].labels);
        size_t j = et->fp[i] & (et->cap - 1);
        for (; et->slots[j]; j = (j + 1) & (et->cap - 1)) {
            size_t k = et->slots[j] - 1;
            if (et->fp[k] == et->fp[i] && strcmp(els[k].labels, els[i].labels) == 0) return -EEXIST;
        }
        et->slots[j] = (uint32_t)i + 1;
    }
    return 0;
}

static void elements_free(struct element_table *et)
{
    free(et->fp);
    free(et->matched);
    free(et->slots);
}

/* The element with an instance's labels (marked as matched), or NULL. */
static const struct alert_element *elements_find(struct element_table *et,
                                                 const struct alert_instance *a)
{
    for (size_t j = a->fingerprint & (et->cap - 1); et->slots[j]; j = (j + 1) & (et->cap - 1)) {
        size_t k = et->slots[j] - 1;
        if (et->fp[k] == a->fingerprint && strcmp(et->els[k].labels, a->labels) == 0) {
            et->matched[k] = true;
            return &et->els[k];
        }
    }
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

/* An existing instance in this evaluation: present again (e), or absent. Returns false if it
 * is to be forgotten. */
static bool update_existing(struct alert_instance *a, const struct alert_element *e, double t,
                            double keep_firing_for_s)
{
    if (!e) return absent(a, t, keep_firing_for_s);
    if (a->state != ALERT_INACTIVE) {
        a->value = e->value;
        a->keep_firing_since = 0;
        a->last_eval = t;
    } else { /* resolved and back: a new alert, as Prometheus replaces it */
        free_annotations(a);
        *a = (struct alert_instance){.fingerprint = a->fingerprint,
                                     .labels = a->labels,
                                     .state = ALERT_PENDING,
                                     .value = e->value,
                                     .active_at = t,
                                     .last_eval = t};
    }
    set_annotations(a, e);
    return true;
}

static void add_new(struct alert_rule_state *rs, const struct alert_element *e, uint64_t fp,
                    double t)
{
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 8;
        rs->v = xrealloc(rs->v, rs->cap * sizeof(*rs->v));
    }
    struct alert_instance *a = &rs->v[rs->n++];
    *a = (struct alert_instance){.fingerprint = fp,
                                 .labels = xstrdup(e->labels),
                                 .state = ALERT_PENDING,
                                 .value = e->value,
                                 .active_at = t,
                                 .last_eval = t};
    set_annotations(a, e);
}

int alertstate_update(struct alert_rule_state *rs, double t, double for_s, double keep_firing_for_s,
                      const struct alert_element *els, size_t n)
{
    struct element_table et;
    if (elements_hash(&et, els, n) < 0) {
        elements_free(&et);
        return -EEXIST;
    }
    size_t kept = 0;
    for (size_t i = 0; i < rs->n; i++) {
        struct alert_instance *a = &rs->v[i];
        if (update_existing(a, elements_find(&et, a), t, keep_firing_for_s)) {
            rs->v[kept++] = *a;
        } else {
            free(a->labels);
            free_annotations(a);
        }
    }
    rs->n = kept;
    for (size_t i = 0; i < n; i++)
        if (!et.matched[i]) add_new(rs, &els[i], et.fp[i], t);
    for (size_t i = 0; i < rs->n; i++) { /* pending long enough: firing */
        struct alert_instance *a = &rs->v[i];
        if (a->state == ALERT_PENDING && t - a->active_at >= for_s) {
            a->state = ALERT_FIRING;
            a->fired_at = t;
        }
    }
    elements_free(&et);
    index_rebuild(rs);
    return 0;
}

void alertstate_restore(struct alert_instance *a, double now, double for_s, double saved_active_at,
                        double down_at, double grace_s)
{
    /* Prometheus skips rules whose `for` is shorter than the grace period: waiting `for` again
     * is then shorter than any grace. Only a fresh instance (pending since now) is restored. */
    if (for_s <= 0 || for_s < grace_s || a->state != ALERT_PENDING) return;
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
    a->active_at = active_at;
    a->restored = true;
    if (now - a->active_at >= for_s) {
        a->state = ALERT_FIRING;
        a->fired_at = now;
    }
}
