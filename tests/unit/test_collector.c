/* test_collector.c: collector_targets_make, the one place targets are made from the config:
 * collectors without a section are skipped unless enabled by default, each collector sees
 * only its own targets (two collectors may name a target alike), and a refusal leaves nothing
 * made and every state freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "config.h"
#include "tap.h"

struct fake_config {
    char *name;
    int refuse;
};

static const struct cfg_key fake_keys[] = {
    {.name = "name", .type = CFG_STRING, .def = "t", .offset = offsetof(struct fake_config, name)},
    {.name = "refuse",
     .type = CFG_INT,
     .def = "0",
     .offset = offsetof(struct fake_config, refuse),
     .max = 1},
    CFG_END,
};

static int live_states;

static int fake_create(const void *config, const struct collector_env *env, struct target_list *out,
                       char *err, size_t errlen)
{
    (void)env;
    const struct fake_config *c = config;
    for (size_t i = 0; i < out->n; i++) {
        if (strcmp(out->v[i].name, c->name) == 0) {
            snprintf(err, errlen, "two targets named %s", c->name);
            return -1;
        }
    }
    live_states++;
    target_list_add(out, malloc(1), c->name, "gold", 1000, 500);
    if (c->refuse) {
        snprintf(err, errlen, "refused after making one target");
        return -1;
    }
    return 0;
}

static void fake_free(void *state)
{
    live_states--;
    free(state);
}

static void fake_start(void *state, struct scrape *s)
{
    (void)state, (void)s;
}

#define FAKE(id, by_default)                                           \
    static const struct collector_ops id = {                           \
        .name = #id,                                                   \
        .module = {#id, fake_keys, sizeof(struct fake_config), false}, \
        .enabled_by_default = by_default,                              \
        .create = fake_create,                                         \
        .start = fake_start,                                           \
        .free = fake_free,                                             \
    }
FAKE(one, false);
FAKE(two, false);
FAKE(always, true);

static const struct collector_ops *const table[] = {&one, &two, &always};

static struct config *load(const char *src)
{
    const struct cfg_module *mods[] = {&one.module, &two.module, &always.module};
    char err[256];
    struct config *c = config_load_buffer(src, strlen(src), "test.lua", mods, 3, err, sizeof(err));
    if (!c) diag("%s", err);
    return c;
}

int main(void)
{
    char err[256];
    struct target_list tl;
    struct config *c = load("one = { name = \"k8s-gold\" }\ntwo = { name = \"k8s-gold\" }\n");
    int rc = collector_targets_make(table, 3, c, NULL, &tl, err, sizeof(err));
    is_int(rc, 0, "two collectors may each have a target named k8s-gold");
    is_int(tl.n, 3, "one target each, and one from the collector enabled by default");
    ok(tl.n == 3 && tl.v[0].ops == &one && tl.v[1].ops == &two && tl.v[2].ops == &always,
       "in table order, each with its collector's ops");
    collector_targets_free(&tl);
    is_int(live_states, 0, "freeing the list frees every state");
    config_free(c);

    c = load("two = { name = \"x\" }\n");
    rc = collector_targets_make(table, 3, c, NULL, &tl, err, sizeof(err));
    ok(rc == 0 && tl.n == 2 && tl.v[0].ops == &two, "a collector without a section makes nothing");
    collector_targets_free(&tl);
    config_free(c);

    c = load("one = { name = \"a\" }\ntwo = { name = \"b\", refuse = 1 }\n");
    rc = collector_targets_make(table, 3, c, NULL, &tl, err, sizeof(err));
    ok(rc == -1 && strcmp(err, "refused after making one target") == 0,
       "a refusal is returned with the collector's reason");
    ok(tl.n == 0 && tl.v == NULL, "and nothing is made");
    is_int(live_states, 0, "every state made before the refusal is freed");
    config_free(c);
    return done_testing();
}
