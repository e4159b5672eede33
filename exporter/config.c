/* config.c: runs the config file in a Lua sandbox, then converts each module's table into its
 * C struct by the module's key schema. Every refusal carries file:line (config_locate.c) and
 * says what was expected. The sandbox has a 32 MiB heap and a 2 s budget: a config cannot hang
 * or exhaust the daemon. The conversion runs in protected mode too (it pushes strings on a
 * heap the script may have filled), so a memory error there is a refusal, not a panic. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "luabox.h"
#include "numtext.h"
#include "xalloc.h"

#define CONFIG_MAX_BYTES  (1u << 20)
#define CONFIG_MEM_LIMIT  (32u << 20)
#define CONFIG_TIMEOUT_MS 2000
#define PATH_MAX_DEPTH    12
#define PATH_PART_MAX     128

struct module_slot {
    const struct cfg_module *mod;
    void *data;
    bool present;
};

struct config {
    char *path;
    struct module_slot *mods;
    size_t nmods;
};

/* Conversion context: where we are in the file, for messages. */
struct conv {
    lua_State *L;
    const char *src;
    size_t len;
    const char *file;
    char *err;
    size_t errlen;
    size_t depth;
    char path[PATH_MAX_DEPTH][PATH_PART_MAX];
    bool absent; /* converting the defaults of a section the file does not have */
};

static void path_push(struct conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void path_push(struct conv *c, const char *fmt, ...)
{
    if (c->depth < PATH_MAX_DEPTH) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->path[c->depth], sizeof(c->path[0]), fmt, ap);
        va_end(ap);
    }
    c->depth++;
}

static void path_pop(struct conv *c)
{
    c->depth--;
}

static int conv_fail(struct conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int conv_fail(struct conv *c, const char *fmt, ...)
{
    const char *parts[PATH_MAX_DEPTH];
    size_t depth = c->depth < PATH_MAX_DEPTH ? c->depth : PATH_MAX_DEPTH;
    for (size_t i = 0; i < depth; i++) parts[i] = c->path[i];
    va_list ap;
    va_start(ap, fmt);
    config_verror(c->err, c->errlen, c->file, c->src, c->len, parts, depth, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *lua_type_desc(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TNUMBER) return lua_isinteger(L, idx) ? "an integer" : "a number";
    return luaL_typename(L, idx);
}

static int conv_table(struct conv *c, int idx, const struct cfg_key *keys, void *dst);

static int expect_type(struct conv *c, const struct cfg_key *k, int idx, int type, const char *what)
{
    if (lua_type(c->L, idx) == type) return 0;
    return conv_fail(c, "expected %s%s%s%s, got %s", what, k->expect ? " (" : "",
                     k->expect ? k->expect : "", k->expect ? ")" : "", lua_type_desc(c->L, idx));
}

/* C sees a string only up to its first NUL byte: "/data\0/x" would quietly become "/data". */
static int expect_text(struct conv *c, int idx)
{
    size_t len;
    const char *s = lua_tolstring(c->L, idx, &len);
    size_t at = strlen(s);
    if (at == len) return 0;
    return conv_fail(c, "the string has a NUL byte (\\0) at byte %zu: expected text without NUL",
                     at + 1);
}

/* A duration in milliseconds as people write it: "1h", "1m30s", "1s500ms", "0s". */
static void format_duration(int64_t ms, char *out, size_t outlen)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    size_t n = 0;
    out[0] = '\0';
    if (ms < 0) {
        snprintf(out, outlen, "%lldms", (long long)ms);
        return;
    }
    for (size_t i = 0; i < ARRAY_LEN(units) && n < outlen; i++) {
        if (ms < units[i].ms && !(ms == 0 && i == 2 && n == 0)) continue;
        n += (size_t)snprintf(out + n, outlen - n, "%lld%s", (long long)(ms / units[i].ms),
                              units[i].unit);
        ms %= units[i].ms;
    }
}

static void format_limit(const struct cfg_key *k, double v, char *out, size_t outlen)
{
    if (k->type == CFG_DURATION)
        format_duration((int64_t)v, out, outlen);
    else
        snprintf(out, outlen, "%.15g", v);
}

/* Refuses v when the key has a range and v is outside it; shown is v as the file wrote it. */
static int check_range(struct conv *c, const struct cfg_key *k, double v, const char *shown)
{
    if (!(k->max > k->min) || (v >= k->min && v <= k->max)) return 0;
    if (k->expect) return conv_fail(c, "%s is out of range (%s)", shown, k->expect);
    char lo[48], hi[48];
    format_limit(k, k->min, lo, sizeof(lo));
    format_limit(k, k->max, hi, sizeof(hi));
    return conv_fail(c, "%s is out of range: expected %s to %s", shown, lo, hi);
}

static int conv_duration(struct conv *c, const struct cfg_key *k, int idx, void *dst)
{
    lua_State *L = c->L;
    int64_t ms;
    char shown[96];
    if (lua_type(L, idx) == LUA_TNUMBER) {
        double v = lua_tonumber(L, idx);
        snprintf(shown, sizeof(shown), "%.15g", v);
        /* Seconds; past ~292 million years the milliseconds no longer fit in 64 bits. */
        if (!(v >= 0 && v <= 9e15))
            return conv_fail(c, "expected a duration of 0 or more seconds%s%s%s, got %s",
                             k->expect ? " (" : "", k->expect ? k->expect : "",
                             k->expect ? ")" : "", shown);
        ms = (int64_t)llround(v * 1000.0);
    } else if (lua_type(L, idx) == LUA_TSTRING) {
        const char *s = lua_tostring(L, idx);
        if (strlen(s) != lua_rawlen(L, idx) || parse_duration_ms(s, &ms) < 0)
            return conv_fail(c,
                             "expected a duration such as \"15s\", \"1m30s\" or \"500ms\","
                             " got \"%.60s\"",
                             s);
        snprintf(shown, sizeof(shown), "\"%.60s\"", s);
    } else {
        return expect_type(c, k, idx, LUA_TSTRING, "a duration");
    }
    if (check_range(c, k, (double)ms, shown)) return -1;
    *(int64_t *)dst = ms;
    return 0;
}

static int conv_number_like(struct conv *c, const struct cfg_key *k, int idx, void *dst)
{
    lua_State *L = c->L;
    if (k->type == CFG_DURATION) return conv_duration(c, k, idx, dst);
    if (expect_type(c, k, idx, LUA_TNUMBER, k->type == CFG_INT ? "an integer" : "a number"))
        return -1;
    double v = lua_tonumber(L, idx);
    char shown[64];
    if (lua_isinteger(L, idx))
        snprintf(shown, sizeof(shown), "%lld", (long long)lua_tointeger(L, idx));
    else
        snprintf(shown, sizeof(shown), "%.15g", v);
    if (k->type == CFG_INT) {
        lua_Integer i;
        if (!lua_isinteger(L, idx) && (v != floor(v) || fabs(v) > 9e15))
            return conv_fail(c, "expected an integer%s%s%s, got %s", k->expect ? " (" : "",
                             k->expect ? k->expect : "", k->expect ? ")" : "", shown);
        i = lua_isinteger(L, idx) ? lua_tointeger(L, idx) : (lua_Integer)v;
        if (check_range(c, k, (double)i, shown)) return -1;
        *(int64_t *)dst = (int64_t)i;
        return 0;
    }
    if (!isfinite(v))
        return conv_fail(c, "expected a finite number%s%s%s, got %s", k->expect ? " (" : "",
                         k->expect ? k->expect : "", k->expect ? ")" : "", shown);
    if (check_range(c, k, v, shown)) return -1;
    *(double *)dst = v;
    return 0;
}

static int conv_enum(struct conv *c, const struct cfg_key *k, int idx, void *dst)
{
    char list[256] = "";
    size_t n = 0;
    for (size_t i = 0; k->choices[i] && n < sizeof(list); i++)
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s\"%s\"", i ? ", " : "", k->choices[i]);
    if (lua_type(c->L, idx) != LUA_TSTRING)
        return conv_fail(c, "expected one of %s, got %s", list, lua_type_desc(c->L, idx));
    if (expect_text(c, idx)) return -1;
    const char *s = lua_tostring(c->L, idx);
    for (int i = 0; k->choices[i]; i++) {
        if (strcmp(s, k->choices[i]) == 0) {
            *(int *)dst = i;
            return 0;
        }
    }
    return conv_fail(c, "expected one of %s, got \"%.60s\"", list, s);
}

/* Pushes a non-string key to the path as "[key]". */
static void path_push_key(struct conv *c, int idx)
{
    lua_State *L = c->L;
    if (lua_type(L, idx) == LUA_TSTRING) {
        path_push(c, "%s", lua_tostring(L, idx));
    } else {
        path_push(c, "[%s]", luaL_tolstring(L, idx, NULL));
        lua_pop(L, 1);
    }
}

/* The length of the list at idx: every key must be 1..n with none missing. */
static int list_length(struct conv *c, int idx, const char *what, size_t *len)
{
    lua_State *L = c->L;
    size_t count = 0;
    lua_Integer max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
            path_push_key(c, -1);
            int rc = conv_fail(c, "expected %s, found a named key", what);
            path_pop(c);
            lua_pop(L, 1);
            return rc;
        }
        count++;
        if (lua_tointeger(L, -1) > max) max = lua_tointeger(L, -1);
    }
    if ((lua_Integer)count != max) { /* a hole: the first one is at count + 1 at the latest */
        size_t i = 1;
        while (lua_rawgeti(L, idx, (lua_Integer)i) != LUA_TNIL) {
            lua_pop(L, 1);
            i++;
        }
        lua_pop(L, 1);
        path_push(c, "[%zu]", i);
        int rc = conv_fail(c, "missing item: expected %s without holes (nil)", what);
        path_pop(c);
        return rc;
    }
    *len = count;
    return 0;
}

static int conv_list(struct conv *c, const struct cfg_key *k, int idx, void *dst)
{
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    const char *what = k->type == CFG_LIST ? "a list of tables ({ {...}, {...} })"
                                           : "a list of strings ({ \"...\", \"...\" })";
    if (expect_type(c, k, idx, LUA_TTABLE, what)) return -1;
    size_t n = 0;
    if (list_length(c, idx, what, &n)) return -1;
    if (k->type == CFG_STRINGS) {
        struct cfg_strings *out = dst;
        out->v = xcalloc(n ? n : 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, idx, (lua_Integer)i + 1);
            path_push(c, "[%zu]", i + 1);
            int rc = expect_type(c, k, -1, LUA_TSTRING, "a string");
            if (rc == 0) rc = expect_text(c, -1);
            if (rc == 0) out->v[out->n++] = xstrdup(lua_tostring(L, -1));
            path_pop(c);
            lua_pop(L, 1);
            if (rc) return rc;
        }
        return 0;
    }
    struct cfg_list *out = dst;
    out->items = xcalloc(n ? n : 1, k->sub_size);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        path_push(c, "[%zu]", i + 1);
        out->n++; /* counted before conversion so config_free releases a half-filled item */
        int rc = expect_type(c, k, -1, LUA_TTABLE, "a table");
        if (rc == 0) rc = conv_table(c, -1, k->sub, (char *)out->items + i * k->sub_size);
        path_pop(c);
        lua_pop(L, 1);
        if (rc) return rc;
    }
    return 0;
}

/* A Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*, and not "__..." (reserved). */
static bool label_name_ok(const char *s, size_t len)
{
    if (len == 0 || strlen(s) != len || isdigit((unsigned char)s[0])) return false;
    if (len >= 2 && s[0] == '_' && s[1] == '_') return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_') return false;
    return true;
}

static int conv_labels(struct conv *c, const struct cfg_key *k, int idx, void *dst)
{
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    if (expect_type(c, k, idx, LUA_TTABLE, "a table of label = \"value\"")) return -1;
    struct cfg_labels *out = dst;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int rc = 0;
        path_push_key(c, -2);
        if (lua_type(L, -2) != LUA_TSTRING)
            rc = conv_fail(c, "expected label = \"value\", found a key that is not a name");
        else if (!label_name_ok(lua_tostring(L, -2), lua_rawlen(L, -2)))
            rc = conv_fail(c, "expected a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting "
                              "with \"__\")");
        else if (lua_type(L, -1) != LUA_TSTRING)
            rc = conv_fail(c, "expected a string value, got %s", lua_type_desc(L, -1));
        else
            rc = expect_text(c, -1);
        path_pop(c);
        if (rc) {
            lua_pop(L, 2);
            return rc;
        }
        out->names = xrealloc(out->names, (out->n + 1) * sizeof(char *));
        out->values = xrealloc(out->values, (out->n + 1) * sizeof(char *));
        out->names[out->n] = xstrdup(lua_tostring(L, -2));
        out->values[out->n] = xstrdup(lua_tostring(L, -1));
        out->n++;
        lua_pop(L, 1);
    }
    /* Sorted by name, so that the result does not depend on Lua's table order. */
    for (size_t i = 1; i < out->n; i++) {
        for (size_t j = i; j > 0 && strcmp(out->names[j - 1], out->names[j]) > 0; j--) {
            char *t = out->names[j];
            out->names[j] = out->names[j - 1];
            out->names[j - 1] = t;
            t = out->values[j];
            out->values[j] = out->values[j - 1];
            out->values[j - 1] = t;
        }
    }
    return 0;
}

static int conv_value(struct conv *c, const struct cfg_key *k, int idx, void *dst)
{
    lua_State *L = c->L;
    switch (k->type) {
    case CFG_STRING:
        if (expect_type(c, k, idx, LUA_TSTRING, "a string") || expect_text(c, idx)) return -1;
        free(*(char **)dst);
        *(char **)dst = xstrdup(lua_tostring(L, idx));
        return 0;
    case CFG_BOOL:
        if (expect_type(c, k, idx, LUA_TBOOLEAN, "true or false")) return -1;
        *(bool *)dst = lua_toboolean(L, idx);
        return 0;
    case CFG_INT:
    case CFG_NUMBER:
    case CFG_DURATION: return conv_number_like(c, k, idx, dst);
    case CFG_ENUM: return conv_enum(c, k, idx, dst);
    case CFG_TABLE:
        if (expect_type(c, k, idx, LUA_TTABLE, "a table")) return -1;
        return conv_table(c, idx, k->sub, dst);
    case CFG_LIST:
    case CFG_STRINGS: return conv_list(c, k, idx, dst);
    case CFG_LABELS: return conv_labels(c, k, idx, dst);
    case CFG_OPTIONAL:
        if (expect_type(c, k, idx, LUA_TTABLE, "a table")) return -1;
        if (!*(void **)dst) *(void **)dst = xcalloc(1, k->sub_size ? k->sub_size : 1);
        return conv_table(c, idx, k->sub, *(void **)dst);
    }
    return -1;
}

/* Pushes a key's default as the Lua value the file would have written. */
static void push_default(lua_State *L, const struct cfg_key *k)
{
    switch (k->type) {
    case CFG_BOOL: lua_pushboolean(L, strcmp(k->def, "true") == 0); break;
    case CFG_INT: lua_pushinteger(L, strtoll(k->def, NULL, 10)); break;
    case CFG_NUMBER: lua_pushnumber(L, strtod(k->def, NULL)); break;
    default: lua_pushstring(L, k->def); break;
    }
}

static const struct cfg_key *find_key(const struct cfg_key *keys, const char *name)
{
    for (const struct cfg_key *k = keys; k->name; k++)
        if (strcmp(k->name, name) == 0) return k;
    return NULL;
}

static int check_unknown_keys(struct conv *c, int idx, const struct cfg_key *keys)
{
    lua_State *L = c->L;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING && find_key(keys, lua_tostring(L, -1))) continue;
        char known[400] = "";
        size_t n = 0;
        for (const struct cfg_key *k = keys; k->name && n < sizeof(known); k++)
            n += (size_t)snprintf(known + n, sizeof(known) - n, "%s%s", n ? ", " : "", k->name);
        path_push_key(c, -1);
        int rc = conv_fail(c, "unknown key (known keys: %s)", known);
        path_pop(c);
        lua_pop(L, 1);
        return rc;
    }
    return 0;
}

static int conv_table(struct conv *c, int idx, const struct cfg_key *keys, void *dst)
{
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    if (c->depth > CFG_MAX_DEPTH || !lua_checkstack(L, 8)) /* each level holds a few slots */
        return conv_fail(c, "nested too deeply (a table that contains itself?)");
    if (check_unknown_keys(c, idx, keys)) return -1;
    for (const struct cfg_key *k = keys; k->name; k++) {
        void *field = (char *)dst + k->offset;
        lua_pushstring(L, k->name);
        lua_rawget(L, idx);
        path_push(c, "%s", k->name);
        int rc = 0;
        if (!lua_isnil(L, -1)) {
            rc = conv_value(c, k, -1, field);
            if (k->present_at) *(bool *)((char *)dst + k->present_at - 1) = true;
        } else if (k->required && !c->absent) {
            rc = conv_fail(c, "missing, and required%s%s%s", k->expect ? " (" : "",
                           k->expect ? k->expect : "", k->expect ? ")" : "");
        } else if (k->type == CFG_TABLE) {
            lua_newtable(L);
            rc = conv_table(c, -1, k->sub, field);
            lua_pop(L, 1);
        } else if (k->def) {
            push_default(L, k);
            rc = conv_value(c, k, -1, field);
            lua_pop(L, 1);
        }
        path_pop(c);
        lua_pop(L, 1);
        if (rc) return rc;
    }
    return 0;
}

/* ---- freeing by schema ---- */

static void free_by_keys(const struct cfg_key *keys, void *data)
{
    for (const struct cfg_key *k = keys; k->name; k++) {
        void *f = (char *)data + k->offset;
        if (k->type == CFG_STRING) {
            free(*(char **)f);
        } else if (k->type == CFG_TABLE) {
            free_by_keys(k->sub, f);
        } else if (k->type == CFG_OPTIONAL) {
            if (*(void **)f) free_by_keys(k->sub, *(void **)f);
            free(*(void **)f);
        } else if (k->type == CFG_LIST) {
            struct cfg_list *l = f;
            for (size_t i = 0; i < l->n; i++)
                free_by_keys(k->sub, (char *)l->items + i * k->sub_size);
            free(l->items);
        } else if (k->type == CFG_STRINGS) {
            struct cfg_strings *s = f;
            for (size_t i = 0; i < s->n; i++) free(s->v[i]);
            free(s->v);
        } else if (k->type == CFG_LABELS) {
            struct cfg_labels *l = f;
            for (size_t i = 0; i < l->n; i++) free(l->names[i]), free(l->values[i]);
            free(l->names);
            free(l->values);
        }
    }
}

void config_free(struct config *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->nmods; i++) {
        if (c->mods[i].data) free_by_keys(c->mods[i].mod->keys, c->mods[i].data);
        free(c->mods[i].data);
    }
    free(c->mods);
    free(c->path);
    free(c);
}

const void *config_module(const struct config *c, const char *name, bool *present)
{
    for (size_t i = 0; i < c->nmods; i++) {
        if (strcmp(c->mods[i].mod->name, name) != 0) continue;
        if (present) *present = c->mods[i].present;
        return c->mods[i].data;
    }
    if (present) *present = false;
    return NULL;
}

const char *config_path(const struct config *c)
{
    return c->path;
}

/* ---- the sandbox the file runs in ---- */

static int env_index(lua_State *L)
{
    return luaL_error(L, "undefined variable '%s' (helpers must be declared 'local')",
                      luaL_tolstring(L, 2, NULL));
}

static int env_newindex(lua_State *L)
{
    lua_getfield(L, lua_upvalueindex(1), luaL_tolstring(L, 2, NULL));
    bool known = !lua_isnil(L, -1);
    lua_pop(L, 2);
    if (!known)
        return luaL_error(L,
                          "unknown section '%s' (sections are: %s; helpers must be "
                          "declared 'local')",
                          luaL_tolstring(L, 2, NULL), lua_tostring(L, lua_upvalueindex(2)));
    lua_rawset(L, 1);
    return 0;
}

/* env(name [, default]): an environment variable, so one file can serve both sites. */
static int env_getenv(lua_State *L)
{
    const char *v = getenv(luaL_checkstring(L, 1));
    if (v)
        lua_pushstring(L, v);
    else if (lua_gettop(L) >= 2)
        lua_pushvalue(L, 2);
    else
        return luaL_error(L, "environment variable '%s' is not set", lua_tostring(L, 1));
    return 1;
}

static void push_config_env(struct luabox *box, const struct cfg_module *const *mods, size_t n)
{
    lua_State *L = luabox_state(box);
    luabox_new_env(box);
    lua_pushcfunction(L, env_getenv);
    lua_setfield(L, -2, "env");
    lua_newtable(L); /* metatable */
    lua_pushcfunction(L, env_index);
    lua_setfield(L, -2, "__index");
    lua_newtable(L); /* set of section names, upvalue 1 */
    char names[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, mods[i]->name);
        len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", i ? ", " : "",
                                mods[i]->name);
        if (len >= sizeof(names)) len = sizeof(names) - 1;
    }
    lua_pushstring(L, names);
    lua_pushcclosure(L, env_newindex, 2);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
}

static int convert_modules(struct conv *c, struct config *cfg, int env)
{
    lua_State *L = c->L;
    for (size_t i = 0; i < cfg->nmods; i++) {
        struct module_slot *m = &cfg->mods[i];
        lua_pushstring(L, m->mod->name);
        lua_rawget(L, env);
        m->present = !lua_isnil(L, -1);
        if (!m->present) {
            lua_pop(L, 1);
            lua_newtable(L);
        }
        path_push(c, "%s", m->mod->name);
        /* A section the file leaves out is off: its defaults are filled in, but its required
         * keys are not asked for. */
        c->absent = !m->present && !m->mod->required;
        int rc = 0;
        if (!m->present && m->mod->required)
            rc = conv_fail(c, "missing section (required: %s = { ... })", m->mod->name);
        else if (lua_type(L, -1) != LUA_TTABLE)
            rc =
                conv_fail(c, "expected a table { key = value, ... }, got %s", lua_type_desc(L, -1));
        else
            rc = conv_table(c, -1, m->mod->keys, m->data);
        c->absent = false;
        path_pop(c);
        lua_pop(L, 1);
        if (rc) return rc;
    }
    return 0;
}

struct convert_call {
    struct conv *c;
    struct config *cfg;
    int rc;
};

/* lua_pcall'd with the convert_call and the environment table. */
static int convert_protected(lua_State *L)
{
    struct convert_call *cc = lua_touserdata(L, 1);
    lua_gc(L, LUA_GCCOLLECT); /* what the script left as garbage is headroom for this */
    cc->rc = convert_modules(cc->c, cc->cfg, 2);
    return 0;
}

/* Lua shortens source names past LUA_IDSIZE ("...tail/drwatch.lua"): put the whole name back
 * in err wherever Lua wrote the short one. */
static void restore_source_name(lua_State *L, const char *chunk, const char *name, char *err,
                                size_t errlen)
{
    lua_Debug ar;
    if (luaL_loadbufferx(L, "", 0, chunk, "t") != LUA_OK) {
        lua_pop(L, 1);
        return;
    }
    if (!lua_getinfo(L, ">S", &ar) || strcmp(ar.short_src, name) == 0) return;
    size_t slen = strlen(ar.short_src);
    char *out = xcalloc(1, errlen);
    size_t n = 0;
    for (const char *p = err; *p && n + 1 < errlen;) {
        if (strncmp(p, ar.short_src, slen) == 0 && p[slen] == ':') {
            n += (size_t)snprintf(out + n, errlen - n, "%s", name);
            if (n >= errlen) n = errlen - 1;
            p += slen;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    memcpy(err, out, n + 1);
    free(out);
}

/* Converts the sections the script left in the environment at env, in protected mode; 0 or -1
 * with err. */
static int convert_sections(lua_State *L, int env, struct conv *c, struct config *cfg)
{
    struct convert_call cc = {.c = c, .cfg = cfg, .rc = -1};
    lua_pushcfunction(L, convert_protected);
    lua_pushlightuserdata(L, &cc);
    lua_pushvalue(L, env);
    int status = lua_pcall(L, 2, 0, 0);
    if (status == LUA_OK) return cc.rc;
    /* c still holds the key being read when the error came. */
    if (status == LUA_ERRMEM || !lua_tostring(L, -1))
        conv_fail(c, "not enough memory to read this value: the config's heap is limited to "
                     "32 MiB");
    else
        conv_fail(c, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1;
}

/* A refusal is one line of text: control characters that came from the file (an error()
 * message with terminal escapes or line breaks) are shown as Lua escapes, \n or \027. */
static void escape_controls(char *err, size_t errlen)
{
    size_t n = strlen(err), o = 0;
    char *out = xmalloc(4 * n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)err[i];
        if (ch == '\n')
            o += (size_t)sprintf(out + o, "\\n");
        else if (ch < 0x20 || ch == 0x7F)
            o += (size_t)sprintf(out + o, "\\%03u", ch);
        else
            out[o++] = (char)ch;
    }
    out[o] = '\0';
    snprintf(err, errlen, "%s", out);
    free(out);
}

struct config *config_load_buffer(const char *src, size_t len, const char *name,
                                  const struct cfg_module *const *mods, size_t nmods, char *err,
                                  size_t errlen)
{
    struct config *cfg = xcalloc(1, sizeof(*cfg));
    cfg->path = xstrdup(name);
    cfg->nmods = nmods;
    cfg->mods = xcalloc(nmods ? nmods : 1, sizeof(*cfg->mods));
    for (size_t i = 0; i < nmods; i++) {
        cfg->mods[i].mod = mods[i];
        cfg->mods[i].data = xcalloc(1, mods[i]->size ? mods[i]->size : 1);
    }
    if (len >= 3 && memcmp(src, "\xef\xbb\xbf", 3) == 0) { /* a UTF-8 byte order mark */
        src += 3;
        len -= 3;
    }
    struct luabox *box = luabox_new(CONFIG_MEM_LIMIT);
    if (!box) {
        snprintf(err, errlen, "%s: cannot create the Lua state", name);
        config_free(cfg);
        return NULL;
    }
    lua_State *L = luabox_state(box);
    push_config_env(box, mods, nmods);
    int env = lua_gettop(L);
    char *chunk = xasprintf("@%s", name);
    struct conv c = {.L = L, .src = src, .len = len, .file = name, .err = err, .errlen = errlen};
    int rc = -1;
    if (luabox_load(box, src, len, chunk, env, err, errlen) == LUABOX_OK &&
        luabox_call(box, 0, 0, CONFIG_TIMEOUT_MS, err, errlen) == LUABOX_OK)
        rc = convert_sections(L, env, &c, cfg);
    else
        restore_source_name(L, chunk, name, err, errlen);
    free(chunk);
    luabox_free(box);
    if (rc) {
        escape_controls(err, errlen);
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* Refuses what is not a regular file before opening it: opening a FIFO that nobody writes to
 * would wait for ever (and a reload would wait on the loop). */
static int check_file_kind(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) < 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) return 0;
    snprintf(err, errlen, "%s:1: not a regular file (%s): a config is a Lua text file", path,
             S_ISFIFO(st.st_mode)   ? "a FIFO"
             : S_ISSOCK(st.st_mode) ? "a socket"
                                    : "a device");
    return -1;
}

struct config *config_load(const char *path, const struct cfg_module *const *mods, size_t nmods,
                           char *err, size_t errlen)
{
    char *src;
    size_t len;
    if (check_file_kind(path, err, errlen) < 0) return NULL;
    int rc = file_read_all(path, CONFIG_MAX_BYTES, &src, &len);
    if (rc == -E2BIG) {
        struct stat st;
        char size[48] = "";
        if (stat(path, &st) == 0)
            snprintf(size, sizeof(size), " (%lld bytes)", (long long)st.st_size);
        snprintf(err, errlen,
                 "%s:1: the file is larger than 1 MiB%s: a config may be at most "
                 "1 MiB (1048576 bytes); keep large data in the files it names",
                 path, size);
        return NULL;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
        return NULL;
    }
    struct config *c = config_load_buffer(src, len, path, mods, nmods, err, errlen);
    free(src);
    return c;
}
