/* observe.h: the switchover part's view of the two sites (world.h), read from a published
 * snapshot: the Patroni and PostgreSQL collectors' series for each site's database, the GSLB
 * collector's answers and probes, and the peer collector's view of the other site. Switchover
 * never reads collectors; it reads what they published, like any scraper. */
#ifndef DRWATCH_OBSERVE_H
#define DRWATCH_OBSERVE_H

#include "registry.h"
#include "world.h"

/* Fills *w (zeroed first) from snap, as seen by `self` at `now` (Unix seconds). snap may be
 * NULL (nothing published yet): everything is then unknown. */
void sw_observe(const struct snapshot *snap, enum sw_site self, double now, struct sw_world *w);

#endif
