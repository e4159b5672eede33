/* fuzz_tekton.c: arbitrary bytes through tekton_page_parse and tekton_runs_metrics, the
 * functions the tekton collector (and the event-id lookup) use on a PipelineRunList page: the
 * input is parsed twice as two pages with small caps, so paging, truncation and the caps on
 * reasons and pipelines all run; the samples are rendered in both formats. */
#include <stdint.h>
#include <stdlib.h>

#include "registry.h"
#include "tekton.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tekton_runs runs;
    tekton_runs_init(&runs);
    const char *cont, *reason;
    char err[256];
    for (int page = 0; page < 2; page++)
        if (tekton_page_parse((const char *)data, size, &runs, 40, &cont, &reason, err,
                              sizeof(err)) < 0)
            break;
    if (runs.n > 40) abort();
    struct metric_set *set = mset_new();
    struct tekton_map_opts o = {.site = "golddr",
                                .target = "fuzz",
                                .namespace = "ops",
                                .api_version = "v1",
                                .max_pipelines = 5};
    tekton_runs_metrics(&runs, &o, set);
    /* Only that nothing crashes is asked here: the results are dropped on purpose. */
    DRW_IGNORE(tekton_runs_newest(&runs));
    struct snapshot *snap = snapshot_new(&set, 1, 1);
    const char *out;
    size_t len;
    DRW_IGNORE(snapshot_render(snap, EXPO_TEXT, false, &out, &len));
    DRW_IGNORE(snapshot_render(snap, EXPO_OPENMETRICS, false, &out, &len));
    snapshot_unref(snap);
    mset_unref(set);
    tekton_runs_clear(&runs);
    return 0;
}
