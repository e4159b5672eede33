/* fuzz_tekton_outcome.c: arbitrary bytes through tekton_outcome_read, which reads the
 * Kubernetes API's PipelineRunList for the deploy actuator, with the event id of the corpus'
 * runs: the names it keeps go into a PATCH path, so each must be a DNS subdomain, and the
 * texts kept for details must be NUL-terminated and free of control bytes. */
#include <stdint.h>
#include <string.h>

#include "act_tekton_wire.h"
#include "k8s.h"

static void check_text(const char *s, size_t size)
{
    if (strlen(s) >= size) __builtin_trap();
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tekton_outcome o;
    char err[256];
    if (tekton_outcome_read((const char *)data, size, "ev-1", &o, err, sizeof(err)) < 0) return 0;
    if (o.state != TEKTON_RUN_NONE && !k8s_name_valid(o.name, true)) __builtin_trap();
    if ((o.state == TEKTON_RUN_NONE) != (o.runs == 0)) __builtin_trap();
    if (o.nunfinished > TEKTON_MAX_RUNS || o.nunfinished > o.runs) __builtin_trap();
    if (o.state == TEKTON_RUN_PENDING && o.nunfinished == 0) __builtin_trap();
    for (size_t i = 0; i < o.nunfinished; i++)
        if (!k8s_name_valid(o.unfinished[i], true)) __builtin_trap();
    check_text(o.reason, sizeof(o.reason));
    check_text(o.message, sizeof(o.message));
    return 0;
}
