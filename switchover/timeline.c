/* timeline.c: a transition's recovery timeline (see timeline.h). Every moment is the first one
 * seen, so that a later observation (a flapping probe, a repeated poll) never moves it: the
 * figure is the RTO a person would have measured with a stopwatch. */
#include "timeline.h"

#include <stdio.h>
#include <string.h>

static const char *const names[SW_MS_COUNT] = {"requested", "plan_started",   "primary_writable",
                                               "health_up", "gslb_answering", "maintenance_off",
                                               "plan_ended"};

const char *sw_milestone_name(enum sw_milestone m)
{
    return (unsigned)m < SW_MS_COUNT ? names[m] : "unknown";
}

int sw_milestone_parse(const char *name)
{
    for (int m = 0; name && m < SW_MS_COUNT; m++)
        if (strcmp(name, names[m]) == 0) return m;
    return -1;
}

int sw_state_primary(enum sw_state s)
{
    switch (s) {
    case SW_ACTIVE_PASSIVE:
    case SW_GOLDDR_MAINTENANCE: return SW_GOLD;
    case SW_GOLDDR_PRIMARY:
    case SW_GOLD_STANDBY: return SW_GOLDDR;
    default: return -1;
    }
}

void sw_timeline_begin(struct sw_timeline *t, const char *id, enum sw_state from, enum sw_state to,
                       enum sw_source source, double started, double requested_at)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->id, sizeof(t->id), "%s", id);
    t->from = from;
    t->to = to;
    t->source = source;
    t->rpo_bytes = t->rpo_seconds = -1;
    t->at[SW_MS_PLAN_STARTED] = started;
    /* A request that arrived after the run's start is a clock that stepped: not before it. */
    t->at[SW_MS_REQUESTED] = requested_at > 0 && requested_at <= started ? requested_at : started;
}

bool sw_timeline_mark(struct sw_timeline *t, enum sw_milestone m, double at)
{
    if ((unsigned)m >= SW_MS_COUNT || t->at[m] > 0 || at <= 0) return false;
    t->at[m] = at;
    return true;
}

static bool answers_site(const struct sw_world *w, enum gslb_class want)
{
    for (size_t i = 0; i < w->nanswers; i++)
        if (w->answers[i].cls == want) return true;
    return false;
}

bool sw_timeline_observe(struct sw_timeline *t, const struct sw_world *w)
{
    int p = sw_state_primary(t->to);
    if (t->closed || p < 0 || t->at[SW_MS_PLAN_STARTED] <= 0 || w->now < t->at[SW_MS_PLAN_STARTED])
        return false;
    bool changed = false;
    const struct sw_db *db = &w->db[p];
    if (db->known && db->leader_present && db->leader_writable)
        changed |= sw_timeline_mark(t, SW_MS_PRIMARY_WRITABLE, w->now);
    if (w->probe[p].known && w->probe[p].up)
        changed |= sw_timeline_mark(t, SW_MS_HEALTH_UP, w->now);
    if (answers_site(w, p == SW_GOLD ? GSLB_CLASS_GOLD : GSLB_CLASS_GOLDDR))
        changed |= sw_timeline_mark(t, SW_MS_GSLB_ANSWERING, w->now);
    return changed;
}

void sw_timeline_promoted(struct sw_timeline *t, const struct sw_world *w)
{
    const struct sw_db *me = &w->db[w->self], *other = &w->db[sw_other(w->self)];
    t->rpo_bytes = -1;
    if (me->lsn_known && other->lsn_known)
        t->rpo_bytes = other->lsn > me->lsn ? (double)(other->lsn - me->lsn) : 0.0;
    /* Everything the other site held is replayed here: no write is lost, whatever the lag
     * figure says (it lags its own samples: the lab saw 4-9 s at 0 bytes). */
    if (t->rpo_bytes == 0)
        t->rpo_seconds = 0;
    else
        t->rpo_seconds = me->replay_lag_s >= 0 ? me->replay_lag_s : -1;
}

void sw_timeline_end(struct sw_timeline *t, int result, double at)
{
    t->ended = true;
    t->result = result;
    (void)sw_timeline_mark(t, SW_MS_PLAN_ENDED, at);
}

bool sw_timeline_close_due(struct sw_timeline *t, double now)
{
    if (t->closed || !t->ended) return false;
    bool all = sw_state_primary(t->to) < 0 ||
               (t->at[SW_MS_PRIMARY_WRITABLE] > 0 && t->at[SW_MS_HEALTH_UP] > 0 &&
                t->at[SW_MS_GSLB_ANSWERING] > 0);
    if (!all && now - t->at[SW_MS_PLAN_ENDED] < SW_TIMELINE_WINDOW_S) return false;
    t->closed = true;
    return true;
}

double sw_timeline_since_request(const struct sw_timeline *t, enum sw_milestone m)
{
    if ((unsigned)m >= SW_MS_COUNT || t->at[m] <= 0) return -1;
    double d = t->at[m] - t->at[SW_MS_REQUESTED];
    return d > 0 ? d : 0;
}

struct sw_timeline *sw_timelines_find(struct sw_timelines *ts, const char *id)
{
    for (size_t i = 0; i < ts->n; i++)
        if (strcmp(ts->t[i].id, id) == 0) return &ts->t[i];
    return NULL;
}

struct sw_timeline *sw_timelines_put(struct sw_timelines *ts, const struct sw_timeline *t)
{
    struct sw_timeline copy = *t; /* t may point into ts */
    size_t at = ts->n < SW_TIMELINES_MAX ? ts->n : SW_TIMELINES_MAX - 1;
    for (size_t i = 0; i < ts->n; i++)
        if (strcmp(ts->t[i].id, copy.id) == 0) at = i;
    if (at == ts->n) ts->n++;
    memmove(&ts->t[1], &ts->t[0], at * sizeof(ts->t[0]));
    ts->t[0] = copy;
    return &ts->t[0];
}
