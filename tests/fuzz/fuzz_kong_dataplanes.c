/* fuzz_kong_dataplanes.c: the Kong collector's /clustering/data-planes mapping
 * (kong_data_planes_map) on arbitrary bytes, rendering what it added. Invariants: nothing
 * crashes or leaks; a refusal always says why; an accepted body lists at most
 * KONG_MAX_DATA_PLANES rows and gives one info series per distinct row id at most. Seeds: the
 * data-plane bodies of tests/data/kong. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kong.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kong_node_id id = {"golddr", "fuzz", KONG_CONTROL_PLANE};
    struct metric_set *set = mset_new();
    char err[200] = "";
    struct kong_dp_result res;
    int rc = kong_data_planes_map(set, &id, (const char *)data, size, 1718012400.0, &res, err,
                                  sizeof(err));
    if (rc < 0 && !err[0]) abort();
    if (rc == 0) {
        if (res.rows > KONG_MAX_DATA_PLANES) abort();
        const char *name = "drwatch_kong_data_plane_info";
        struct metric_family *f = mset_family_find(set, name, strlen(name));
        if (f && f->nsamples > res.rows) abort();
    }
    struct metric_set *sets[1] = {set};
    struct snapshot *snap = snapshot_new(sets, 1, 1);
    const char *out;
    size_t len;
    /* Only that nothing crashes is asked here: the results are dropped on purpose. */
    DRW_IGNORE(snapshot_render(snap, EXPO_OPENMETRICS, false, &out, &len));
    snapshot_unref(snap);
    mset_unref(set);
    return 0;
}
