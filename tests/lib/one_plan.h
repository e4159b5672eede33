/* one_plan.h: a complete plan file (every edge of the transition table, both sites, and the
 * break-glass plans) in which only the active-passive -> golddr-primary plan (golddr's, or the
 * sites asked for) has steps,
 * for the executor's and the actuators' tests and the executor benchmark. Header-only. */
#ifndef DRWATCH_ONE_PLAN_H
#define DRWATCH_ONE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "buf.h"
#include "plan.h"
#include "transition.h"

/* Appends the plan file to b: the active-passive -> golddr-primary plan of each site in the
 * bit mask sites (1u << SW_GOLDDR, ...) has steps (Lua step { ... } entries); all others none. */
static __attribute__((unused)) void one_plan_text(struct buf *b, unsigned sites, const char *steps)
{
    for (size_t e = 0; e <= sw_edge_count(); e++) {
        enum sw_state from = SW_INDEPENDENT, to = SW_ACTIVE_PASSIVE;
        bool force = e == sw_edge_count();
        if (!force) sw_edge_get(e, &from, &to);
        for (int s = 0; s < SW_SITE_COUNT; s++) {
            bool mine = !force && (sites & (1u << s)) && from == SW_ACTIVE_PASSIVE &&
                        to == SW_GOLDDR_PRIMARY;
            (void)buf_printf(b,
                             "plan { site = \"%s\", from = \"%s\", to = \"%s\", steps = { %s } }\n",
                             sw_site_name((enum sw_site)s), force ? "force" : sw_state_name(from),
                             sw_state_name(to), mine ? steps : "");
        }
    }
}

/* The plans of one_plan_text for sites, loaded as file name; NULL with err filled when the
 * loader refuses them (or the text did not fit). */
static __attribute__((unused)) struct sw_plans *
one_plan_load_for(unsigned sites, const char *steps, const char *name, char *err, size_t errlen)
{
    struct buf b;
    buf_init(&b, 1 << 16);
    one_plan_text(&b, sites, steps);
    struct sw_plans *p = NULL;
    if (buf_error(&b))
        snprintf(err, errlen, "the plan file does not fit 64 KiB");
    else
        p = sw_plans_load_buffer(b.data, b.len, name, err, errlen);
    buf_free(&b);
    return p;
}

/* golddr's plan has steps. */
static __attribute__((unused)) struct sw_plans *one_plan_load(const char *steps, const char *name,
                                                              char *err, size_t errlen)
{
    return one_plan_load_for(1u << SW_GOLDDR, steps, name, err, errlen);
}

/* That one plan of p. */
static __attribute__((unused)) const struct sw_plan *one_plan_get(const struct sw_plans *p)
{
    return sw_plans_get(p, SW_GOLDDR, SW_ACTIVE_PASSIVE, SW_GOLDDR_PRIMARY, false);
}

#endif
