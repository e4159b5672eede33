/* fuzz_k8s_status.c: arbitrary bytes through k8s_status_parse (every non-2xx answer of the
 * Kubernetes API goes through it before it reaches a log line) and timeparse_iso (every API
 * and FluentD timestamp). */
#include <stdint.h>
#include <string.h>

#include "k8s.h"
#include "timeparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct k8s_status st;
    if (k8s_status_parse((const char *)data, size, &st) == 0) {
        if (strlen(st.message) >= sizeof(st.message) || strlen(st.reason) >= sizeof(st.reason))
            __builtin_trap();
        for (const char *p = st.message; *p; p++)
            if ((unsigned char)*p < 0x20) __builtin_trap();
    }
    double t;
    /* Only that nothing crashes is asked here: the results are dropped on purpose. */
    DRW_IGNORE(timeparse_iso((const char *)data, size, 0, &t));
    DRW_IGNORE(timeparse_iso((const char *)data, size, TIMEPARSE_NAIVE_UTC, &t));
    return 0;
}
