/* actuators.c: the table of actuators (see actuators.h). Adding one: an act_<action>.c that
 * exports its ops, and a line here. */
#include "actuators.h"

#include "xalloc.h"

/* One actuator per line. The table is empty until the first act_*.c lands: every plan with
 * a step is refused until then, with the missing action named. */
// clang-format off
const struct actuator_ops *const actuator_table[] = {
    NULL,
};
// clang-format on

const size_t actuator_table_len = 0;
