/* fuzz_kong_metrics.c: the Kong collector's /metrics path on arbitrary bytes: the input is
 * split at its first NUL byte into two bodies (without one, both are the input), each parsed by
 * kong_metrics_map with passthrough on (as the collector does), then the window between them is
 * computed both ways (the second way makes every counter look reset) and the site summary
 * merged from the two windows. Invariants: nothing crashes or leaks; a refusal says why; the
 * summary's rates are never negative and its 5xx ratio stays within [0, 1]; everything renders,
 * and the rendered text parses again. Seeds: the /metrics bodies of tests/data/kong, alone and
 * in pairs. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kong.h"
#include "registry.h"
#include "textparse.h"

static struct kong_obs *parse(struct metric_set *set, const char *body, size_t len)
{
    struct kong_node_id id = {"gold", "fuzz", KONG_TRADITIONAL};
    struct kong_obs *o = kong_obs_new();
    char err[200] = "";
    if (kong_metrics_map(set, &id, true, body, len, o, err, sizeof(err)) == 0) return o;
    if (!err[0]) abort();
    kong_obs_free(o);
    return NULL;
}

static void check_family(struct metric_set *set, const char *name, double lo, double hi)
{
    struct metric_family *f = mset_family_find(set, name, strlen(name));
    for (size_t i = 0; f && i < f->nsamples; i++) {
        double v = f->samples[i].value;
        if (isfinite(v) && (v < lo || v > hi)) abort();
    }
}

static void render_check(struct metric_set *set)
{
    struct metric_set *sets[1] = {set};
    struct snapshot *snap = snapshot_new(sets, 1, 1);
    const char *out;
    size_t len;
    if (snapshot_render(snap, EXPO_TEXT, false, &out, &len) == 0) {
        struct textparse_opts t = {.strict = false};
        struct textparse_error err;
        if (textparse_run(out, len, NULL, NULL, &t, &err, NULL) != 0) abort();
    }
    snapshot_unref(snap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *a = (const char *)data, *b = a;
    size_t alen = size, blen = size;
    const char *nul = memchr(data, 0, size);
    if (nul) {
        alen = (size_t)(nul - a);
        b = nul + 1;
        blen = size - alen - 1;
    }
    struct metric_set *set = mset_new();
    struct kong_obs *oa = parse(set, a, alen), *ob = parse(NULL, b, blen);
    if (oa && ob) {
        struct kong_window w[2] = {{0}, {0}};
        kong_window_compute(&w[0], oa, ob, 15);
        kong_window_compute(&w[1], ob, oa, 0.5);
        const struct kong_window *wp[2] = {&w[0], &w[1]};
        struct metric_set *sum = mset_new();
        kong_summary_add(sum, "gold", wp, 2);
        check_family(sum, "drwatch_kong_service_requests_per_second", 0, INFINITY);
        check_family(sum, "drwatch_kong_service_5xx_per_second", 0, INFINITY);
        check_family(sum, "drwatch_kong_service_5xx_ratio", 0, 1);
        render_check(sum);
        mset_unref(sum);
        kong_window_clear(&w[0]);
        kong_window_clear(&w[1]);
    }
    render_check(set);
    kong_obs_free(oa);
    kong_obs_free(ob);
    mset_unref(set);
    return 0;
}
