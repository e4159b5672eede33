/* fuzz_config.c: the config loader on arbitrary bytes: config_load_buffer with a schema that
 * has every CFG_* type (the bytes run as Lua in the sandbox, then go through the conversion),
 * and config_locate with a few fixed key paths (its tokenizer sees every byte). Invariants:
 * nothing crashes or leaks; a refusal always has a message that starts with the file name; a
 * line config_locate gives exists in the input. Note: an input that loops runs for the
 * sandbox's whole 2 s budget.
 *
 * Each input may fill a 32 MiB Lua heap. Under ASan the allocator keeps what was freed (per
 * size class, plus its quarantine), so the fuzzer's RSS climbs past libFuzzer's default
 * 2 GiB limit without any leak (the live heap stays under 60 MB, and a build without ASan
 * stays under 100 MB RSS). LLVMFuzzerInitialize raises the limit to 6 GiB unless the command
 * line sets one. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

struct fz_item {
    char *name;
    int64_t port;
    bool on;
};

struct fz_sub {
    int64_t n;
    double x;
    char *s;
};

struct fz_main {
    char *name;
    bool flag;
    int64_t count;
    double ratio;
    int64_t interval_ms;
    int mode;
    struct fz_sub sub;
    struct cfg_list items;
    struct cfg_strings tags;
    struct cfg_labels labels;
};

struct fz_other {
    int64_t level;
    int64_t wait_ms;
};

static const char *const fz_modes[] = {"a", "b", "c", NULL};

static const struct cfg_key fz_item_keys[] = {
    {.name = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct fz_item, name),
     .required = true},
    {.name = "port",
     .type = CFG_INT,
     .offset = offsetof(struct fz_item, port),
     .def = "80",
     .min = 1,
     .max = 65535},
    {.name = "on", .type = CFG_BOOL, .offset = offsetof(struct fz_item, on), .def = "true"},
    CFG_END,
};

static const struct cfg_key fz_sub_keys[] = {
    {.name = "n", .type = CFG_INT, .offset = offsetof(struct fz_sub, n), .def = "3"},
    {.name = "x",
     .type = CFG_NUMBER,
     .offset = offsetof(struct fz_sub, x),
     .def = "0.5",
     .min = -1,
     .max = 1,
     .expect = "between -1 and 1"},
    {.name = "s", .type = CFG_STRING, .offset = offsetof(struct fz_sub, s), .def = "dflt"},
    CFG_END,
};

static const struct cfg_key fz_main_keys[] = {
    {.name = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct fz_main, name),
     .required = true,
     .expect = "a name"},
    {.name = "flag", .type = CFG_BOOL, .offset = offsetof(struct fz_main, flag)},
    {.name = "count",
     .type = CFG_INT,
     .offset = offsetof(struct fz_main, count),
     .def = "5",
     .min = 0,
     .max = 100},
    {.name = "ratio", .type = CFG_NUMBER, .offset = offsetof(struct fz_main, ratio)},
    {.name = "interval",
     .type = CFG_DURATION,
     .offset = offsetof(struct fz_main, interval_ms),
     .def = "15s",
     .min = 1000,
     .max = 3600000,
     .expect = "1s to 1h"},
    {.name = "mode",
     .type = CFG_ENUM,
     .offset = offsetof(struct fz_main, mode),
     .def = "b",
     .choices = fz_modes},
    {.name = "sub", .type = CFG_TABLE, .offset = offsetof(struct fz_main, sub), .sub = fz_sub_keys},
    {.name = "items",
     .type = CFG_LIST,
     .offset = offsetof(struct fz_main, items),
     .sub = fz_item_keys,
     .sub_size = sizeof(struct fz_item)},
    {.name = "tags", .type = CFG_STRINGS, .offset = offsetof(struct fz_main, tags)},
    {.name = "labels", .type = CFG_LABELS, .offset = offsetof(struct fz_main, labels)},
    CFG_END,
};

static const struct cfg_key fz_other_keys[] = {
    {.name = "level", .type = CFG_INT, .offset = offsetof(struct fz_other, level)},
    {.name = "wait", .type = CFG_DURATION, .offset = offsetof(struct fz_other, wait_ms)},
    CFG_END,
};

static const struct cfg_module fz_main_module = {"main", fz_main_keys, sizeof(struct fz_main),
                                                 true};
static const struct cfg_module fz_other_module = {"other", fz_other_keys, sizeof(struct fz_other),
                                                  false};
static const struct cfg_module *const fz_mods[] = {&fz_main_module, &fz_other_module};

static unsigned count_lines(const char *s, size_t n)
{
    unsigned lines = 1;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n' || (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n'))) lines++;
    return lines;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char rss_flag[] = "-rss_limit_mb=6144";
    static char *args[256];
    if (*argc < 1 || *argc + 1 >= (int)(sizeof(args) / sizeof(args[0]))) return 0;
    /* Right after the program name, so that a -rss_limit_mb given by the user comes later and
     * wins. */
    args[0] = (*argv)[0];
    args[1] = rss_flag;
    for (int i = 1; i < *argc; i++) args[i + 1] = (*argv)[i];
    args[*argc + 1] = NULL;
    (*argc)++;
    *argv = args;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const paths[][4] = {
        {"main", NULL},
        {"main", "name", NULL},
        {"main", "items", "[2]", "port"},
        {"main", "labels", "bad-name", NULL},
        {"other", "[1]", NULL},
    };
    if (size > (1u << 20)) return 0;
    const char *src = (const char *)data;
    unsigned lines = count_lines(src, size);
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        size_t depth = 0;
        while (depth < 4 && paths[i][depth]) depth++;
        if (config_locate(src, size, paths[i], depth) > lines) abort();
    }
    char err[1024];
    err[0] = '\0';
    struct config *c = config_load_buffer(src, size, "fuzz.lua", fz_mods, 2, err, sizeof(err));
    if (c) {
        bool present;
        const struct fz_main *m = config_module(c, "main", &present);
        /* The schema's promises: a required string is there, ranges hold, lists are whole. */
        if (!m || !m->name || m->count < 0 || m->count > 100) abort();
        if (m->interval_ms < 1000 || m->interval_ms > 3600000) abort();
        if (m->mode < 0 || m->mode > 2 || !(m->sub.x >= -1 && m->sub.x <= 1)) abort();
        for (size_t i = 0; i < m->items.n; i++)
            if (!((const struct fz_item *)m->items.items)[i].name) abort();
        for (size_t i = 0; i < m->tags.n; i++)
            if (!m->tags.v[i]) abort();
        for (size_t i = 0; i < m->labels.n; i++)
            if (!m->labels.names[i][0] || !m->labels.values[i]) abort();
        config_free(c);
    } else if (strncmp(err, "fuzz.lua", 8) != 0) {
        abort();
    }
    return 0;
}
