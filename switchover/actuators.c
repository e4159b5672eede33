/* actuators.c: the table of actuators (see actuators.h). Adding one: an act_<action>.c that
 * exports its ops, and a line here. An action without a line is refused in every plan that
 * has a step for it, with the missing action named. */
#include "actuators.h"

#include "act_tekton.h"
#include "xalloc.h"

/* One actuator per line. An action without one here is refused by the executor, with the
 * missing action named, in every plan that has it. */
// clang-format off
const struct actuator_ops *const actuator_table[] = {
    &tfvars_actuator,
    &health_api_actuator,
    &maintenance_actuator,
    &kong_restart_actuator,
    &patroni_demote_actuator,
    &patroni_promote_actuator,
    &patroni_rebuild_actuator,
    &tekton_deploy_actuator,
    &tell_peer_actuator,
};
// clang-format on

const size_t actuator_table_len = ARRAY_LEN(actuator_table);
