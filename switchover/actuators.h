/* actuators.h: the one table of actuators (STYLE.md: one pluggable unit per file, one static
 * table), one act_*.c per action of the catalogue (actions.h). An action without an actuator
 * here cannot be in a plan that runs: the executor refuses to start it and says which. */
#ifndef DRWATCH_ACTUATORS_H
#define DRWATCH_ACTUATORS_H

#include <stddef.h>

#include "executor.h"

extern const struct actuator_ops tfvars_actuator;
extern const struct actuator_ops health_api_actuator;
extern const struct actuator_ops maintenance_actuator;
extern const struct actuator_ops kong_restart_actuator;
extern const struct actuator_ops patroni_rebuild_actuator;
extern const struct actuator_ops tell_peer_actuator;

extern const struct actuator_ops *const actuator_table[];
extern const size_t actuator_table_len;

/* The actuators, one line per file. */
extern const struct actuator_ops patroni_demote_actuator,
    patroni_promote_actuator; /* act_patroni.c */

#endif
