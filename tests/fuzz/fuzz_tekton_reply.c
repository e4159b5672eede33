/* fuzz_tekton_reply.c: arbitrary bytes through tekton_reply_event_id, which reads the
 * EventListener's answer to the deploy trigger; an id it accepts goes into a label selector,
 * so it must be a non-empty label value, NUL-terminated within its buffer. */
#include <stdint.h>
#include <string.h>

#include "act_tekton_wire.h"
#include "k8s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char id[TEKTON_EVENT_ID_MAX], err[256];
    if (tekton_reply_event_id((const char *)data, size, id, err, sizeof(err)) == 0) {
        if (!id[0] || strlen(id) >= sizeof(id) || !k8s_label_value_valid(id)) __builtin_trap();
    } else if (id[0] || !err[0]) {
        __builtin_trap();
    }
    return 0;
}
