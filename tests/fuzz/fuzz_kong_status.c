/* fuzz_kong_status.c: the Kong collector's /status mapping (kong_status_map, the function the
 * collector runs on the body) on arbitrary bytes, for each role, rendering what it added.
 * Invariants: nothing crashes or leaks; a refusal always says why; an accepted body gives the
 * seven server figures. Seeds: the /status bodies of tests/data/kong. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kong.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum kong_role roles[] = {KONG_TRADITIONAL, KONG_CONTROL_PLANE, KONG_DATA_PLANE};
    for (size_t r = 0; r < 3; r++) {
        struct kong_node_id id = {"gold", "fuzz", roles[r]};
        struct metric_set *set = mset_new();
        char err[200] = "";
        int rc = kong_status_map(set, &id, (const char *)data, size, err, sizeof(err));
        if (rc < 0 && !err[0]) abort();
        if (rc == 0 && mset_sample_count(set) < 7) abort();
        struct metric_set *sets[1] = {set};
        struct snapshot *snap = snapshot_new(sets, 1, 1);
        const char *out;
        size_t len;
        /* Only that nothing crashes is asked here: the results are dropped on purpose. */
        DRW_IGNORE(snapshot_render(snap, EXPO_TEXT, false, &out, &len));
        snapshot_unref(snap);
        mset_unref(set);
    }
    return 0;
}
