/* collector.c: making targets from the config through a table of collectors (collector.h).
 * The table itself belongs to the collectors part; main hands it over, so the core links
 * without knowing any collector. */
#include "collector.h"

#include <stdlib.h>

#include "xalloc.h"

void target_list_add(struct target_list *l, void *state, const char *name, const char *site,
                     int64_t interval_ms, int64_t timeout_ms)
{
    l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
    if (timeout_ms <= 0 || timeout_ms > interval_ms) timeout_ms = interval_ms;
    l->v[l->n++] = (struct collector_target){.state = state,
                                             .name = xstrdup(name),
                                             .site = xstrdup(site ? site : ""),
                                             .interval_ms = interval_ms,
                                             .timeout_ms = timeout_ms};
}

void collector_targets_free(struct target_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        l->v[i].ops->free(l->v[i].state);
        free(l->v[i].name);
        free(l->v[i].site);
    }
    free(l->v);
    *l = (struct target_list){0};
}

int collector_targets_make(const struct collector_ops *const *table, size_t n,
                           const struct config *cfg, const struct collector_env *env,
                           struct target_list *out, char *err, size_t errlen)
{
    struct target_list all = {0};
    *out = all;
    for (size_t c = 0; c < n; c++) {
        const struct collector_ops *ops = table[c];
        bool present;
        const void *section = config_module(cfg, ops->module.name, &present);
        if (!section || (!present && !ops->enabled_by_default)) continue;
        /* Each collector sees only its own targets (it checks their names are unique). */
        struct target_list mine = {0};
        int rc = ops->create(section, env, &mine, err, errlen);
        all.v = xrealloc(all.v, (all.n + mine.n + 1) * sizeof(*all.v));
        for (size_t i = 0; i < mine.n; i++) {
            all.v[all.n] = mine.v[i];
            all.v[all.n++].ops = ops;
        }
        free(mine.v);
        if (rc < 0) {
            collector_targets_free(&all);
            return -1;
        }
    }
    *out = all;
    return 0;
}
