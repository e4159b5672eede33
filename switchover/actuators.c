/* actuators.c: the table of actuators (see actuators.h). Adding one: an act_<action>.c that
 * exports its ops, and a line here. */
#include "actuators.h"

#include "xalloc.h"

/* One actuator per line. An action without a line here is refused in any plan that runs,
 * with the missing action named. */
// clang-format off
const struct actuator_ops *const actuator_table[] = {
    &act_patroni_demote,
    &act_patroni_promote,
};
// clang-format on

const size_t actuator_table_len = ARRAY_LEN(actuator_table);
