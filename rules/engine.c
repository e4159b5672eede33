/* engine.c: loads rule files and evaluates them every cycle (see rules.h).
 *
 * An evaluation records the range history of the tracked selectors, then runs every alert's
 * expr in its file's sandbox through luabox_call, with what is left of the file's time budget,
 * then the file's transition rules (transition_rules.c) under the same budget.
 * A failing expr leaves its alerts as they were (as Prometheus does when a query fails) and is
 * counted and logged once while it repeats. What expr returns becomes alert elements: labels
 * of the sample (its name left out) plus the rule's labels (templated) plus alertname, and the
 * annotations (templates or Lua functions) expanded with the sample's labels and value. The
 * output is a metric set (drwatch_alert, drwatch_alert_for_state, outcomes) and a JSON body for
 * GET /api/v1/alerts, made once per evaluation. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <jansson.h>
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine_int.h"
#include "fileio.h"
#include "template.h"
#include "textparse.h"
#include "xalloc.h"

#define LOAD_TIMEOUT_MS 2000

static const struct cfg_key rules_keys[] = {
    {.name = "files",
     .type = CFG_STRINGS,
     .offset = offsetof(struct rules_config, files),
     .expect = "rule files or globs, relative to the config file"},
    {.name = "evaluation_interval",
     .type = CFG_DURATION,
     .offset = offsetof(struct rules_config, evaluation_interval_ms),
     .expect = "how often rules run, 1s to 1h (default: drwatch.fast_interval)",
     .min = 1000,
     .max = 3600000},
    {.name = "timeout",
     .type = CFG_DURATION,
     .def = "1s",
     .offset = offsetof(struct rules_config, timeout_ms),
     .expect = "the time budget of one rule file per evaluation, 10ms to 30s",
     .min = 10,
     .max = 30000},
    {.name = "memory_limit",
     .type = CFG_INT,
     .def = "33554432",
     .offset = offsetof(struct rules_config, memory_limit),
     .expect = "the heap cap of one rule file in bytes, 1 MiB to 1 GiB",
     .min = 1 << 20,
     .max = 1 << 30},
    {.name = "max_history_points",
     .type = CFG_INT,
     .def = "2000000",
     .offset = offsetof(struct rules_config, max_history_points),
     .expect = "points kept for range functions (rate, *_over_time), 1000 to 100000000",
     .min = 1000,
     .max = 100000000},
    {.name = "state_file",
     .type = CFG_STRING,
     .offset = offsetof(struct rules_config, state_file),
     .expect = "where alert `for` progress is kept over restarts"},
    {.name = "for_grace_period",
     .type = CFG_DURATION,
     .def = "10m",
     .offset = offsetof(struct rules_config, for_grace_period_ms),
     .expect = "after a restart, the least time before a restored alert may fire"},
    {.name = "outage_tolerance",
     .type = CFG_DURATION,
     .def = "1h",
     .offset = offsetof(struct rules_config, outage_tolerance_ms),
     .expect = "the longest downtime after which `for` progress is still restored"},
    CFG_END,
};

const struct cfg_module rules_module = {
    .name = "rules", .keys = rules_keys, .size = sizeof(struct rules_config)};

/* ---- loading ---- */

static void free_alert(lua_State *L, struct rule_alert *a)
{
    if (L && a->expr_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, a->expr_ref);
    for (size_t i = 0; i < a->nlabels; i++) free(a->label_names[i]), free(a->label_tmpls[i]);
    for (size_t i = 0; i < a->nann; i++) {
        if (L && a->ann_refs[i] != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, a->ann_refs[i]);
        free(a->ann_names[i]);
        free(a->ann_tmpls[i]);
    }
    free(a->label_names);
    free(a->label_tmpls);
    free(a->ann_names);
    free(a->ann_tmpls);
    free(a->ann_refs);
    alertstate_free(a->state);
    free(a->name);
}

static void free_file(struct rule_file *f)
{
    lua_State *L = f->box ? luabox_state(f->box) : NULL;
    for (size_t i = 0; i < f->nalerts; i++) free_alert(L, &f->alerts[i]);
    free(f->alerts);
    transition_rules_free(L, f);
    rulelib_free_file_caches(f);
    luabox_free(f->box);
    free(f->path);
}

static int load_file(struct rules_engine *e, struct rule_file *f, const char *path, char *err,
                     size_t errlen)
{
    *f = (struct rule_file){.engine = e, .path = xstrdup(path)};
    char *src;
    size_t len;
    int rc = file_read_all(path, 4u << 20, &src, &len);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot read: %s", path,
                 rc == -E2BIG ? "larger than 4 MiB" : strerror(-rc));
        return -1;
    }
    f->box = luabox_new(e->memory_limit);
    if (f->box) luabox_set_interrupt(f->box, &e->interrupted);
    if (!f->box || rulelib_push_env(f, err, errlen) < 0) {
        if (f->box)
            snprintf(err + strlen(err), errlen - strlen(err), " (%s)", path);
        else
            snprintf(err, errlen, "%s: cannot create a Lua state", path);
        free(src);
        return -1;
    }
    char chunk[1024];
    snprintf(chunk, sizeof(chunk), "@%s", path);
    f->loading = true;
    enum luabox_outcome o = luabox_load(f->box, src, len, chunk, -1, err, errlen);
    if (o == LUABOX_OK) o = luabox_call(f->box, 0, 0, LOAD_TIMEOUT_MS, err, errlen);
    f->loading = false;
    lua_settop(luabox_state(f->box), 0);
    free(src);
    if (o != LUABOX_OK) return -1;
    for (size_t i = 0; i < f->nalerts; i++) f->alerts[i].state = alertstate_new();
    return 0;
}

/* Expands each files entry (a path or a glob) relative to base_dir. */
static int expand_files(const struct cfg_strings *files, const char *base_dir, glob_t *g, char *err,
                        size_t errlen)
{
    memset(g, 0, sizeof(*g));
    for (size_t i = 0; i < files->n; i++) {
        const char *p = files->v[i];
        char *full = p[0] == '/' || !base_dir ? xstrdup(p) : xasprintf("%s/%s", base_dir, p);
        int rc = glob(full, (i ? GLOB_APPEND : 0) | GLOB_ERR, NULL, g);
        bool pattern = strpbrk(p, "*?[") != NULL;
        if (rc == GLOB_NOMATCH && !pattern) {
            snprintf(err, errlen, "rule file %s: %s", full, strerror(ENOENT));
            free(full);
            return -1;
        }
        if (rc != 0 && rc != GLOB_NOMATCH) {
            snprintf(err, errlen, "rule files %s: cannot be listed", full);
            free(full);
            return -1;
        }
        free(full);
    }
    return 0;
}

struct rules_engine *rules_new(const struct rules_config *c, const char *base_dir, char *err,
                               size_t errlen)
{
    struct rules_engine *e = xcalloc(1, sizeof(*e));
    e->interval_ms = c->evaluation_interval_ms;
    e->timeout_ms = c->timeout_ms ? c->timeout_ms : 1000;
    e->memory_limit = c->memory_limit ? (size_t)c->memory_limit : 32u << 20;
    e->state_file = c->state_file ? xstrdup(c->state_file) : NULL;
    e->grace_s = (double)(c->for_grace_period_ms ? c->for_grace_period_ms : 600000) / 1000.0;
    e->outage_s = (double)(c->outage_tolerance_ms ? c->outage_tolerance_ms : 3600000) / 1000.0;
    e->history = history_new(c->max_history_points ? (size_t)c->max_history_points : 2000000);
    pthread_mutex_init(&e->json_lock, NULL);
    glob_t g;
    if (expand_files(&c->files, base_dir, &g, err, errlen) < 0) {
        globfree(&g);
        rules_free(e);
        return NULL;
    }
    e->files = xcalloc(g.gl_pathc ? g.gl_pathc : 1, sizeof(*e->files));
    for (size_t i = 0; i < g.gl_pathc; i++) {
        if (load_file(e, &e->files[e->nfiles++], g.gl_pathv[i], err, errlen) < 0) {
            globfree(&g);
            rules_free(e);
            return NULL;
        }
    }
    globfree(&g);
    return e;
}

void rules_free(struct rules_engine *e)
{
    if (!e) return;
    transition_rules_clear(e);
    for (size_t i = 0; i < e->nfiles; i++) free_file(&e->files[i]);
    free(e->files);
    for (size_t i = 0; i < e->ntracked; i++) selector_free(&e->tracked[i].sel);
    free(e->tracked);
    history_free(e->history);
    for (size_t i = 0; i < e->nrestore; i++)
        free(e->restore[i].rule_key), free(e->restore[i].labels);
    free(e->restore);
    mset_unref(e->out);
    pthread_mutex_destroy(&e->json_lock);
    free(e->json);
    free(e->state_file);
    free(e);
}

static struct rule_alert *find_alert(struct rules_engine *e, const char *path, const char *name,
                                     int ordinal)
{
    for (size_t i = 0; i < e->nfiles; i++) {
        if (strcmp(e->files[i].path, path) != 0) continue;
        for (size_t k = 0; k < e->files[i].nalerts; k++) {
            struct rule_alert *a = &e->files[i].alerts[k];
            if (strcmp(a->name, name) == 0 && a->ordinal == ordinal) return a;
        }
    }
    return NULL;
}

void rules_take_state(struct rules_engine *e, struct rules_engine *old)
{
    for (size_t i = 0; i < e->nfiles; i++) {
        for (size_t k = 0; k < e->files[i].nalerts; k++) {
            struct rule_alert *a = &e->files[i].alerts[k];
            struct rule_alert *o = find_alert(old, e->files[i].path, a->name, a->ordinal);
            if (!o) continue;
            alertstate_free(a->state);
            a->state = o->state;
            o->state = alertstate_new();
            a->complaint = o->complaint;
        }
    }
    transition_rules_take_state(e, old);
    /* The range history moves whole; the tracked selectors with it. */
    history_free(e->history);
    e->history = old->history;
    old->history = history_new(1000);
    for (size_t i = 0; i < e->ntracked; i++) selector_free(&e->tracked[i].sel);
    free(e->tracked);
    e->tracked = old->tracked;
    e->ntracked = old->ntracked;
    old->tracked = NULL;
    old->ntracked = 0;
}

void rules_each_rule(struct rules_engine *e, void (*fn)(void *arg, const char *alertname),
                     void *arg)
{
    for (size_t i = 0; i < e->nfiles; i++)
        for (size_t k = 0; k < e->files[i].nalerts; k++) fn(arg, e->files[i].alerts[k].name);
}

void rules_interrupt(struct rules_engine *e)
{
    atomic_store(&e->interrupted, true);
}

int64_t rules_evaluation_interval_ms(const struct rules_engine *e)
{
    return e->interval_ms;
}

size_t rules_count(const struct rules_engine *e)
{
    size_t n = 0;
    for (size_t i = 0; i < e->nfiles; i++) n += e->files[i].nalerts;
    return n;
}
