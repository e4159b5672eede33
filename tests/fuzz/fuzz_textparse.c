/* fuzz_textparse.c: the text-format parser on arbitrary bytes, in both modes, feeding a metric
 * set and rendering it (so the registry's canonical labels and the renderers see what the
 * parser accepts). Invariant checked: whatever the parser accepts renders and re-parses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "textparse.h"
#include "xalloc.h"

struct ctx {
    struct metric_set *set;
};

static int on_sample(void *arg, const struct tp_sample *s)
{
    struct ctx *c = arg;
    char *name = xstrndup(s->name, s->family_len);
    struct metric_family *f = mset_family(c->set, name, s->family_type, "fuzz");
    if (f) mset_add_parsed(c->set, f, s, NULL, 0);
    free(name);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct textparse_handler h = {.sample = on_sample};
    for (int strict = 0; strict < 2; strict++) {
        struct ctx c = {.set = mset_new()};
        struct textparse_opts o = {.strict = strict};
        struct textparse_error err;
        int rc = textparse_run((const char *)data, size, &h, &c, &o, &err, NULL);
        if (rc == 0) {
            struct metric_set *sets[1] = {c.set};
            struct snapshot *snap = snapshot_new(sets, 1, 1);
            const char *out;
            size_t len;
            if (snapshot_render(snap, EXPO_TEXT, false, &out, &len) == 0) {
                /* What we render must parse again (tolerant mode: families may repeat). */
                struct textparse_opts t = {.strict = false};
                if (textparse_run(out, len, &(struct textparse_handler){0}, NULL, &t, &err, NULL) !=
                    0)
                    abort();
            }
            /* Only that nothing crashes is asked here: the results are dropped on purpose. */
            DRW_IGNORE(snapshot_render(snap, EXPO_OPENMETRICS, true, &out, &len));
            snapshot_unref(snap);
        }
        mset_unref(c.set);
    }
    return 0;
}
