/* actuators.c: the table of actuators (see actuators.h). Adding one: an act_<action>.c that
 * exports its ops, and a line here. An action without a line is refused in every plan that
 * has a step for it, with the missing action named. */
#include "actuators.h"

#include "act_tekton.h"
#include "xalloc.h"

/* One actuator per line. */
// clang-format off
const struct actuator_ops *const actuator_table[] = {
    &act_patroni_demote,
    &act_patroni_promote,
    &act_tekton_deploy,
};
// clang-format on

const size_t actuator_table_len = ARRAY_LEN(actuator_table);
