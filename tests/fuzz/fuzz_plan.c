/* fuzz_plan.c: plan files on arbitrary bytes (sw_plans_load_buffer runs them in the sandbox
 * and checks every step against the action catalogue). Invariants: nothing crashes or leaks;
 * a refusal's message starts with the file name; a plan that loads prints, as text and as
 * JSON, for every transition without failing. Note: an input that loops runs for the
 * sandbox's whole 1 s budget. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512] = "";
    struct sw_plans *p =
        sw_plans_load_buffer((const char *)data, size, "fuzz.lua", err, sizeof(err));
    if (!p) {
        if (strncmp(err, "fuzz.lua", 8) != 0) abort();
        return 0;
    }
    struct buf out;
    buf_init(&out, 1 << 22);
    for (size_t e = 0; e < sw_edge_count(); e++) {
        enum sw_state from, to;
        sw_edge_get(e, &from, &to);
        for (int s = 0; s < SW_SITE_COUNT; s++) {
            const struct sw_plan *pl = sw_plans_get(p, (enum sw_site)s, from, to, false);
            if (!pl || sw_plan_print(pl, &out, false) < 0 || sw_plan_print(pl, &out, true) < 0)
                abort();
            buf_reset(&out);
        }
    }
    buf_free(&out);
    sw_plans_free(p);
    return 0;
}
