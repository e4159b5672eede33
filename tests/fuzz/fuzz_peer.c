/* fuzz_peer.c: arbitrary bytes through peerview_to_metrics, the function the peer collector
 * uses to turn the other site's view into drwatch_peer_* samples, then rendered in both formats
 * (so the registry and renderers see whatever label values the mapping lets through).
 * Invariant: an accepted document never yields more series than the caps allow. */
#include <stdint.h>
#include <stdlib.h>

#include "peer_view.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct metric_set *set = mset_new();
    const char *reason = NULL;
    char detail[300];
    if (peerview_to_metrics((const char *)data, size, "golddr", 1795000000, 0.01, set, &reason,
                            detail, sizeof(detail)) == 0) {
        /* 3 per document, 9 per lookup, 5 per probe */
        if (mset_sample_count(set) > 3 + 9 * PEERVIEW_MAX_LOOKUPS + 5 * PEERVIEW_MAX_PROBES)
            abort();
        struct snapshot *snap = snapshot_new(&set, 1, 1);
        const char *out;
        size_t len;
        /* Only that nothing crashes is asked here: the results are dropped on purpose. */
        DRW_IGNORE(snapshot_render(snap, EXPO_TEXT, false, &out, &len));
        DRW_IGNORE(snapshot_render(snap, EXPO_OPENMETRICS, false, &out, &len));
        snapshot_unref(snap);
    } else if (!reason) {
        abort(); /* a refusal always says why */
    }
    mset_unref(set);
    return 0;
}
