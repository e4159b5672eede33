/* fuzz_configmap.c: arbitrary bytes through configmap_map, the function the configmap
 * collector uses on a ConfigMap GET body (twice, so the resourceVersion tracking runs), and
 * configmap_parse_ts on the bytes as a timestamp; the samples are rendered in both formats. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "configmap.h"
#include "registry.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct configmap_view v = {
        .site = "gold", .target = "fuzz", .namespace = "ops", .configmap = "switchover-state-x"};
    struct configmap_track tr = {0};
    for (int pass = 0; pass < 2; pass++) {
        struct metric_set *set = mset_new();
        struct configmap_obs_flags fl;
        const char *reason;
        char err[256];
        if (configmap_map(pass ? NULL : (const char *)data, size, &v, &tr, 1e9, set, &fl, &reason,
                          err, sizeof(err)) == 0) {
            struct snapshot *snap = snapshot_new(&set, 1, 1);
            const char *out;
            size_t len;
            /* Only that nothing crashes is asked here: the results are dropped on purpose. */
            DRW_IGNORE(snapshot_render(snap, EXPO_TEXT, false, &out, &len));
            DRW_IGNORE(snapshot_render(snap, EXPO_OPENMETRICS, false, &out, &len));
            snapshot_unref(snap);
        }
        mset_unref(set);
    }
    char *s = xstrndup((const char *)data, size < 64 ? size : 64);
    double t;
    DRW_IGNORE(configmap_parse_ts(s, &t));
    free(s);
    return 0;
}
