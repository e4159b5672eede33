/* fuzz_fluentd.c: arbitrary bytes through fluentd_map, the function the FluentD collector
 * uses to turn a monitor_agent body into samples, then rendered in both formats (so the
 * registry and renderers see whatever label values the mapping lets through). */
#include <stdint.h>
#include <stdlib.h>

#include "fluentd.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct metric_set *set = mset_new();
    struct fluentd_map_opts o = {.site = "gold", .target = "fuzz", .max_plugins = 50};
    struct fluentd_map_stats st;
    const char *reason;
    char err[256];
    if (fluentd_map((const char *)data, size, &o, set, &st, &reason, err, sizeof(err)) == 0) {
        struct snapshot *snap = snapshot_new(&set, 1, 1);
        const char *out;
        size_t len;
        /* Only that nothing crashes is asked here: the results are dropped on purpose. */
        DRW_IGNORE(snapshot_render(snap, EXPO_TEXT, false, &out, &len));
        DRW_IGNORE(snapshot_render(snap, EXPO_OPENMETRICS, false, &out, &len));
        snapshot_unref(snap);
        if (st.plugins > 50) abort();
    }
    mset_unref(set);
    return 0;
}
