/* timeline.h: a transition's recovery timeline and its RPO exposure, as this site saw them.
 * Pure: no I/O, no clock of its own; the executor feeds it its run's moments and the worlds it
 * observes (world.h, read from the snapshot), and journals it (run_journal.h).
 *
 * The milestones, each the first moment it was seen (Unix seconds, 0 not reached):
 *   requested         the request arrived (a person's, the peer's, the automation's), before
 *                     any wait for the peer's confirmation
 *   plan_started      this site's plan started
 *   primary_writable  the database of the site that serves in the target state (its primary)
 *                     is a writable leader
 *   health_up         that site's /health probe is up (its health API answers the GSLB)
 *   gslb_answering    one of this drwatch's resolvers gets that site from the GSLB name
 *   maintenance_off   this site's plan ended its maintenance step with on = false
 *   plan_ended        this site's plan finished, whatever the result
 * The world milestones are looked for from the plan's start on, and after its end for a
 * window (the other site's plan, the GSLB's monitor may still be on their way), until each is
 * seen or the window is over: then the timeline is closed. A milestone the plan does not lead
 * to (maintenance_off in a plan that leaves it on) stays 0.
 *
 * The RPO exposure is taken when this site's promotion passes its guard: the bytes of WAL the
 * other site held beyond this one (its last observed position), and the seconds of writes that
 * loses: 0 with 0 bytes, else this site's replay lag; < 0 when unknown or when this site
 * promoted nothing. */
#ifndef DRWATCH_TIMELINE_H
#define DRWATCH_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "transition.h"
#include "world.h"

enum sw_milestone {
    SW_MS_REQUESTED,
    SW_MS_PLAN_STARTED,
    SW_MS_PRIMARY_WRITABLE,
    SW_MS_HEALTH_UP,
    SW_MS_GSLB_ANSWERING,
    SW_MS_MAINTENANCE_OFF,
    SW_MS_PLAN_ENDED,
    SW_MS_COUNT
};

const char *sw_milestone_name(enum sw_milestone m); /* "requested", "plan_started", ... */
int sw_milestone_parse(const char *name);           /* the milestone, or -1 */

/* How long after its plan's end a timeline still looks for what it has not seen. */
#define SW_TIMELINE_WINDOW_S 300.0
/* Timelines kept (the last transitions): bounded series and journal records. */
#define SW_TIMELINES_MAX 5

struct sw_timeline {
    char id[48]; /* the run's */
    enum sw_state from, to;
    enum sw_source source;
    bool ended;  /* the plan finished: result holds */
    int result;  /* enum sw_result (run_journal.h, which keeps timelines: not included here) */
    bool closed; /* nothing more will change it */
    double at[SW_MS_COUNT];
    double rpo_bytes, rpo_seconds; /* < 0 unknown, or no promotion on this site */
};

/* The site whose database serves in state s: SW_GOLD or SW_GOLDDR, or -1 (independent). */
int sw_state_primary(enum sw_state s);

/* Starts t for run id (from, to, what asked for it) started at `started`, requested at
 * requested_at (0: at its start). */
void sw_timeline_begin(struct sw_timeline *t, const char *id, enum sw_state from, enum sw_state to,
                       enum sw_source source, double started, double requested_at);
/* Records m at `at` unless it was seen before. Returns true when it changed t. */
bool sw_timeline_mark(struct sw_timeline *t, enum sw_milestone m, double at);
/* Marks the world milestones w shows, at w->now. Nothing once closed or before the plan's
 * start. Returns true when it changed t. */
bool sw_timeline_observe(struct sw_timeline *t, const struct sw_world *w);
/* The RPO exposure at this site's promotion, from the world the guard passed on. */
void sw_timeline_promoted(struct sw_timeline *t, const struct sw_world *w);
/* The plan finished with result (an enum sw_result) at `at`. */
void sw_timeline_end(struct sw_timeline *t, int result, double at);
/* Closes t when it has seen every world milestone or its window is over at now. Returns true
 * when it closed now. */
bool sw_timeline_close_due(struct sw_timeline *t, double now);
/* Seconds from the request to m, or < 0 when m was not reached. */
double sw_timeline_since_request(const struct sw_timeline *t, enum sw_milestone m);

/* The last SW_TIMELINES_MAX timelines, newest first. */
struct sw_timelines {
    struct sw_timeline t[SW_TIMELINES_MAX];
    size_t n;
};

/* Puts t first, replacing the one with its id or dropping the oldest. Returns where it is
 * now (index 0). */
struct sw_timeline *sw_timelines_put(struct sw_timelines *ts, const struct sw_timeline *t);
/* The timeline of run id, or NULL. */
struct sw_timeline *sw_timelines_find(struct sw_timelines *ts, const char *id);

#endif
