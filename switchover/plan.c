/* plan.c: loading, checking and printing plan files (see plan.h).
 *
 * The file runs once in a luabox with two functions of ours. step{} checks one step against
 * the action catalogue as it is called, so that an error names the line of that step, and
 * returns a handle (an integer); plan{} takes the handles of its steps. Everything is built in
 * C structs owned by struct sw_plans; the Lua state is gone once the file has run. */
#include "plan.h"

#include <errno.h>
#include <jansson.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "luabox.h"
#include "numtext.h"
#include "xalloc.h"

#define PLANS_MAX       64
#define STEPS_MAX       512 /* step{} calls in one file */
#define PLAN_FILE_MAX   (256 * 1024)
#define PLAN_MEM_LIMIT  (8u << 20)
#define PLAN_TIMEOUT_MS 1000

/* Ownership: every step{} is one allocation in made[], kept until sw_plans_free; a plan's
 * steps array holds copies, whose fallback pointers lead back into made[]. */
struct sw_plans {
    char *source;
    struct sw_plan plans[PLANS_MAX];
    size_t nplans;
    /* every step{} made, and whether a plan or a fallback took it */
    struct sw_step *made[STEPS_MAX];
    bool taken[STEPS_MAX];
    size_t nmade;
};

static struct sw_plans *plans_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

static unsigned caller_line(lua_State *L)
{
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar) && ar.currentline > 0)
        return (unsigned)ar.currentline;
    return 0;
}

/* ---- step{} ---- */

static const char *arg_names(const struct sw_action *a, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < a->nargs && n < outlen; i++)
        n += (size_t)snprintf(out + n, outlen - n, "%s%s", i ? ", " : "", a->args[i].name);
    if (!a->nargs) snprintf(out, outlen, "no arguments");
    return out;
}

/* Reads the value at the top of the stack as spec says, into arg. */
static void read_arg(lua_State *L, const struct sw_action *a, const struct sw_action_arg *spec,
                     struct sw_step_arg *arg)
{
    arg->spec = spec;
    switch (spec->type) {
    case SW_ARG_BOOL:
        if (!lua_isboolean(L, -1))
            luaL_error(L, "%s: %s must be true or false", a->name, spec->name);
        arg->value = lua_toboolean(L, -1);
        break;
    case SW_ARG_INT: {
        int isint;
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (!isint || v < spec->min || v > spec->max)
            luaL_error(L, "%s: %s must be a whole number from %d to %d", a->name, spec->name,
                       (int)spec->min, (int)spec->max);
        arg->value = (long)v;
        break;
    }
    case SW_ARG_SITE: {
        enum sw_site s;
        const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        if (sw_site_parse(v, &s) < 0)
            luaL_error(L, "%s: %s must be \"gold\" or \"golddr\"", a->name, spec->name);
        arg->value = s;
        break;
    }
    }
}

static struct sw_step *step_of_handle(lua_State *L, struct sw_plans *p, int idx, const char *what)
{
    int isint;
    lua_Integer h = lua_tointegerx(L, idx, &isint);
    if (!isint || h < 1 || (size_t)h > p->nmade)
        luaL_error(L, "%s must be made by step { ... }", what);
    if (p->taken[h - 1])
        luaL_error(L, "%s: a step may be used once (make another step { ... })", what);
    p->taken[h - 1] = true;
    return p->made[h - 1];
}

/* One key of a step table other than the action (at stack top: key at -2, value at -1). */
static void step_key(lua_State *L, struct sw_plans *p, struct sw_step *st)
{
    const struct sw_action *a = st->action;
    if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "%s: arguments are name = value", a->name);
    const char *k = lua_tostring(L, -2);
    if (strcmp(k, "name") == 0) {
        snprintf(st->name, sizeof(st->name), "%s", luaL_checkstring(L, -1));
    } else if (strcmp(k, "timeout") == 0) {
        const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        if (parse_duration_ms(v, &st->timeout_ms) < 0 || st->timeout_ms <= 0)
            luaL_error(L, "%s: timeout must be a duration such as \"90s\" or \"5m\"", a->name);
    } else if (strcmp(k, "best_effort") == 0 || strcmp(k, "destructive") == 0) {
        if (!lua_isboolean(L, -1)) luaL_error(L, "%s: %s must be true or false", a->name, k);
        *(k[0] == 'b' ? &st->best_effort : &st->destructive) = lua_toboolean(L, -1);
    } else if (strcmp(k, "fallback") == 0) {
        st->fallback = step_of_handle(L, p, -1, "fallback");
    } else {
        const struct sw_action_arg *spec = NULL;
        for (size_t i = 0; i < a->nargs; i++)
            if (strcmp(a->args[i].name, k) == 0) spec = &a->args[i];
        char names[160];
        if (!spec) {
            luaL_error(L,
                       "%s: unknown argument '%s' (it takes %s; and name, timeout, "
                       "best_effort, destructive, fallback)",
                       a->name, k, arg_names(a, names, sizeof(names)));
            return; /* not reached: luaL_error does not return */
        }
        read_arg(L, a, spec, &st->args[st->nargs++]);
    }
}

static int arg_cmp(const void *a, const void *b)
{
    const struct sw_action_arg *x = ((const struct sw_step_arg *)a)->spec;
    const struct sw_action_arg *y = ((const struct sw_step_arg *)b)->spec;
    return x < y ? -1 : x > y;
}

/* Checks what only the whole step shows, and puts its arguments in the catalogue's order
 * (Lua's table order is not the file's). */
static void step_check(lua_State *L, struct sw_step *st)
{
    qsort(st->args, st->nargs, sizeof(st->args[0]), arg_cmp);
    const struct sw_action *a = st->action;
    for (size_t i = 0; i < a->nargs; i++) {
        bool have = false;
        for (size_t j = 0; j < st->nargs; j++) have |= st->args[j].spec == &a->args[i];
        if (a->args[i].required && !have)
            luaL_error(L, "%s: %s is required", a->name, a->args[i].name);
    }
    if (a->destructive && !st->destructive)
        luaL_error(L, "%s: %s; mark it destructive = true where a plan means it", a->name,
                   a->summary);
}

static int lua_step(lua_State *L)
{
    struct sw_plans *p = plans_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    if (p->nmade == STEPS_MAX) luaL_error(L, "more than %d steps", STEPS_MAX);
    lua_rawgeti(L, 1, 1);
    const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    const struct sw_action *a = sw_action_find(name);
    if (!a)
        return luaL_error(L, "step: \"%s\" is not an action (actions: %s)", name,
                          sw_action_names());
    lua_pop(L, 1);
    struct sw_step *st = xcalloc(1, sizeof(*st));
    p->made[p->nmade++] = st; /* owned by p from here, even if this call fails */
    st->action = a;
    st->timeout_ms = a->timeout_ms;
    st->best_effort = a->best_effort;
    /* destructive stays false until the plan says so: step_check refuses an unmarked
     * destructive action. */
    st->line = caller_line(L);
    snprintf(st->name, sizeof(st->name), "%s", a->summary);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (!(lua_type(L, -2) == LUA_TNUMBER && lua_tointeger(L, -2) == 1)) {
            if (lua_type(L, -2) == LUA_TNUMBER)
                luaL_error(L, "%s: one action per step (arguments are name = value)", a->name);
            if (st->nargs == SW_MAX_ARGS) luaL_error(L, "%s: too many arguments", a->name);
            step_key(L, p, st);
        }
        lua_pop(L, 1);
    }
    step_check(L, st);
    lua_pushinteger(L, (lua_Integer)p->nmade);
    return 1;
}

/* ---- plan{} ---- */

static enum sw_state field_state(lua_State *L, const char *key, bool *force)
{
    lua_getfield(L, 1, key);
    const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    enum sw_state s = SW_INDEPENDENT;
    if (force && v && strcmp(v, "force") == 0) {
        *force = true;
        s = SW_INDEPENDENT;
    } else if (!v || sw_state_parse(v, &s) < 0 || (!force && s == SW_INDEPENDENT)) {
        luaL_error(L, "plan: %s must be a state name%s", key, force ? " or \"force\"" : "");
    }
    lua_pop(L, 1);
    return s;
}

static void plan_steps(lua_State *L, struct sw_plans *p, struct sw_plan *pl)
{
    lua_getfield(L, 1, "steps");
    if (!lua_istable(L, -1)) luaL_error(L, "plan: steps = { step {...}, ... } is required");
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    if (n > SW_MAX_STEPS) luaL_error(L, "plan: more than %d steps", SW_MAX_STEPS);
    pl->steps = xcalloc((size_t)n + 1, sizeof(*pl->steps));
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        struct sw_step *st = step_of_handle(L, p, -1, "a plan's step");
        pl->steps[pl->nsteps++] = *st; /* a copy; its fallback stays in p->made */
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static int lua_plan(lua_State *L)
{
    struct sw_plans *p = plans_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    if (p->nplans == PLANS_MAX) luaL_error(L, "more than %d plans", PLANS_MAX);
    struct sw_plan pl = {.line = caller_line(L)};
    lua_getfield(L, 1, "site");
    const char *site = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    if (sw_site_parse(site, &pl.site) < 0)
        luaL_error(L, "plan: site must be \"gold\" or \"golddr\"");
    lua_pop(L, 1);
    pl.from = field_state(L, "from", &pl.force);
    pl.to = field_state(L, "to", NULL);
    if (sw_plans_get(p, pl.site, pl.from, pl.to, pl.force))
        luaL_error(L, "plan: %s's plan for %s -> %s is declared twice", sw_site_name(pl.site),
                   pl.force ? "force" : sw_state_name(pl.from), sw_state_name(pl.to));
    struct sw_plan *slot = &p->plans[p->nplans++];
    *slot = pl;
    plan_steps(L, p, slot);
    return 0;
}

/* ---- loading ---- */

void sw_plans_free(struct sw_plans *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nplans; i++) free(p->plans[i].steps);
    for (size_t i = 0; i < p->nmade; i++) free(p->made[i]);
    free(p->source);
    free(p);
}

const char *sw_plans_source(const struct sw_plans *p)
{
    return p->source;
}

const struct sw_plan *sw_plans_get(const struct sw_plans *p, enum sw_site site, enum sw_state from,
                                   enum sw_state to, bool force)
{
    for (size_t i = 0; i < p->nplans; i++) {
        const struct sw_plan *pl = &p->plans[i];
        if (pl->site == site && pl->to == to && pl->force == force && (force || pl->from == from))
            return pl;
    }
    return NULL;
}

/* Every transition of the table, and the break-glass one, needs a plan on both sites. */
static int check_complete(const struct sw_plans *p, const char *name, char *err, size_t errlen)
{
    for (size_t e = 0; e <= sw_edge_count(); e++) {
        enum sw_state from = SW_INDEPENDENT, to = SW_ACTIVE_PASSIVE;
        bool force = e == sw_edge_count();
        if (!force) sw_edge_get(e, &from, &to);
        for (int s = 0; s < SW_SITE_COUNT; s++) {
            if (sw_plans_get(p, (enum sw_site)s, from, to, force)) continue;
            snprintf(err, errlen,
                     "%s: no plan for %s in %s -> %s (every transition needs a plan "
                     "on each site, even an empty one)",
                     name, sw_site_name((enum sw_site)s), force ? "force" : sw_state_name(from),
                     sw_state_name(to));
            return -1;
        }
    }
    for (size_t i = 0; i < p->nmade; i++) {
        if (p->taken[i]) continue;
        snprintf(err, errlen, "%s:%u: a step that no plan uses", name, p->made[i]->line);
        return -1;
    }
    return 0;
}

struct sw_plans *sw_plans_load_buffer(const char *src, size_t len, const char *name, char *err,
                                      size_t errlen)
{
    struct sw_plans *p = xcalloc(1, sizeof(*p));
    p->source = xstrdup(name);
    struct luabox *box = luabox_new(PLAN_MEM_LIMIT);
    int rc = -1;
    if (!box) {
        snprintf(err, errlen, "%s: cannot make a Lua state", name);
        goto done;
    }
    lua_State *L = luabox_state(box);
    luabox_new_env(box);
    int env = lua_gettop(L);
    lua_pushlightuserdata(L, p);
    lua_pushcclosure(L, lua_plan, 1);
    lua_setfield(L, env, "plan");
    lua_pushlightuserdata(L, p);
    lua_pushcclosure(L, lua_step, 1);
    lua_setfield(L, env, "step");
    char chunk[256];
    snprintf(chunk, sizeof(chunk), "@%s", name);
    if (luabox_load(box, src, len, chunk, env, err, errlen) != LUABOX_OK) goto done;
    if (luabox_call(box, 0, 0, PLAN_TIMEOUT_MS, err, errlen) != LUABOX_OK) goto done;
    rc = check_complete(p, name, err, errlen);
done:
    luabox_free(box);
    if (rc < 0) {
        sw_plans_free(p);
        return NULL;
    }
    return p;
}

struct sw_plans *sw_plans_load(const char *path, char *err, size_t errlen)
{
    char *src;
    size_t len;
    int rc = file_read_all(path, PLAN_FILE_MAX, &src, &len);
    if (rc < 0) {
        snprintf(err, errlen, "%s:1: %s", path,
                 rc == -E2BIG ? "a plan file is at most 256 KiB" : strerror(-rc));
        return NULL;
    }
    struct sw_plans *p = sw_plans_load_buffer(src, len, path, err, errlen);
    free(src);
    return p;
}

long sw_step_arg(const struct sw_step *st, const char *name, long def)
{
    for (size_t i = 0; i < st->nargs; i++)
        if (strcmp(st->args[i].spec->name, name) == 0) return st->args[i].value;
    return def;
}

/* ---- printing ---- */

static void arg_text(const struct sw_step_arg *a, char *out, size_t outlen)
{
    switch (a->spec->type) {
    case SW_ARG_BOOL: snprintf(out, outlen, "%s", a->value ? "true" : "false"); break;
    case SW_ARG_INT: snprintf(out, outlen, "%ld", a->value); break;
    case SW_ARG_SITE: snprintf(out, outlen, "%s", sw_site_name((enum sw_site)a->value)); break;
    }
}

static void duration_text(int64_t ms, char *out, size_t outlen)
{
    if (ms % 60000 == 0)
        snprintf(out, outlen, "%lldm", (long long)(ms / 60000));
    else
        snprintf(out, outlen, "%llds", (long long)(ms / 1000));
}

static int print_step_text(const struct sw_step *st, struct buf *out)
{
    char v[32], t[32];
    int rc = buf_printf(out, "%s: %s", st->name, st->action->name);
    for (size_t i = 0; i < st->nargs && rc == 0; i++) {
        arg_text(&st->args[i], v, sizeof(v));
        rc = buf_printf(out, " %s=%s", st->args[i].spec->name, v);
    }
    duration_text(st->timeout_ms, t, sizeof(t));
    if (rc == 0)
        rc = buf_printf(out, "  [%s%stimeout %s]\n", st->destructive ? "DESTRUCTIVE, " : "",
                        st->best_effort ? "best-effort, " : "", t);
    return rc;
}

static json_t *step_json(const struct sw_step *st)
{
    json_t *args = json_object();
    for (size_t i = 0; i < st->nargs; i++) {
        const struct sw_step_arg *a = &st->args[i];
        json_t *v = a->spec->type == SW_ARG_BOOL ? json_boolean(a->value)
                    : a->spec->type == SW_ARG_INT
                        ? json_integer(a->value)
                        : json_string(sw_site_name((enum sw_site)a->value));
        json_object_set_new(args, a->spec->name, v);
    }
    json_t *o = json_pack("{s:s, s:s, s:o, s:f, s:b, s:b, s:i}", "action", st->action->name, "name",
                          st->name, "args", args, "timeout_seconds",
                          (double)st->timeout_ms / 1000.0, "best_effort", st->best_effort,
                          "destructive", st->destructive, "line", (int)st->line);
    if (o && st->fallback) json_object_set_new(o, "fallback", step_json(st->fallback));
    return o;
}

static int print_json(const struct sw_plan *pl, struct buf *out)
{
    json_t *steps = json_array();
    for (size_t i = 0; i < pl->nsteps; i++) json_array_append_new(steps, step_json(&pl->steps[i]));
    json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:o}", "site", sw_site_name(pl->site), "from",
                          pl->force ? "any" : sw_state_name(pl->from), "to", sw_state_name(pl->to),
                          "force", pl->force, "steps", steps);
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text) return -ENOMEM;
    int rc = buf_printf(out, "%s\n", text);
    free(text);
    return rc;
}

int sw_plan_print(const struct sw_plan *pl, struct buf *out, bool json)
{
    if (json) return print_json(pl, out);
    int rc = buf_printf(out, "%s: %s -> %s%s\n", sw_site_name(pl->site),
                        pl->force ? "any" : sw_state_name(pl->from), sw_state_name(pl->to),
                        pl->force ? " (break-glass: active-passive-force)" : "");
    if (pl->nsteps == 0 && rc == 0) rc = buf_puts(out, "  (nothing to do on this site)\n");
    for (size_t i = 0; i < pl->nsteps && rc == 0; i++) {
        rc = buf_printf(out, "  %zu. ", i + 1);
        if (rc == 0) rc = print_step_text(&pl->steps[i], out);
        for (const struct sw_step *f = pl->steps[i].fallback; f && rc == 0; f = f->fallback) {
            rc = buf_puts(out, "     if it fails: ");
            if (rc == 0) rc = print_step_text(f, out);
        }
    }
    return rc;
}

/* ---- copies and hashes ---- */

static struct sw_step *copy_chain(const struct sw_step *st)
{
    if (!st) return NULL;
    struct sw_step *c = xmalloc(sizeof(*c));
    *c = *st;
    c->fallback = copy_chain(st->fallback);
    return c;
}

struct sw_plan *sw_plan_copy(const struct sw_plan *pl)
{
    struct sw_plan *c = xmalloc(sizeof(*c));
    *c = *pl;
    c->steps = xcalloc(pl->nsteps + 1, sizeof(*c->steps));
    for (size_t i = 0; i < pl->nsteps; i++) {
        c->steps[i] = pl->steps[i];
        c->steps[i].fallback = copy_chain(pl->steps[i].fallback);
    }
    return c;
}

void sw_plan_free(struct sw_plan *pl)
{
    if (!pl) return;
    for (size_t i = 0; i < pl->nsteps; i++) {
        for (struct sw_step *f = pl->steps[i].fallback; f;) {
            struct sw_step *next = f->fallback;
            free(f);
            f = next;
        }
    }
    free(pl->steps);
    free(pl);
}

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 16777619u;
    return h;
}

static uint32_t hash_step(uint32_t h, const struct sw_step *st)
{
    for (; st; st = st->fallback) {
        h = fnv(h, st->action->name, strlen(st->action->name) + 1);
        for (size_t i = 0; i < st->nargs; i++) {
            h = fnv(h, st->args[i].spec->name, strlen(st->args[i].spec->name) + 1);
            h = fnv(h, &st->args[i].value, sizeof(st->args[i].value));
        }
        unsigned char marks[2] = {st->best_effort, st->destructive};
        h = fnv(h, marks, sizeof(marks));
        h = fnv(h, &st->timeout_ms, sizeof(st->timeout_ms));
        h = fnv(h, "|", 1);
    }
    return h;
}

uint32_t sw_plan_hash(const struct sw_plan *pl)
{
    uint32_t h = 2166136261u;
    unsigned char id[4] = {(unsigned char)pl->site, (unsigned char)pl->from, (unsigned char)pl->to,
                           pl->force};
    h = fnv(h, id, sizeof(id));
    for (size_t i = 0; i < pl->nsteps; i++) h = hash_step(h, &pl->steps[i]);
    return h;
}
