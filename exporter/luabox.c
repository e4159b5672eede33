/* luabox.c: the Lua sandbox (see luabox.h). The budget follows HAProxy's hlua.c and redis'
 * script_lua.c: a lua_Alloc that counts, and a LUA_MASKCOUNT hook that compares a monotonic
 * clock with the deadline every LUABOX_HOOK_EVERY instructions. */
#include "luabox.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define LUABOX_HOOK_EVERY 1000

struct luabox {
    lua_State *L;
    size_t used, limit;
    int64_t deadline_ms; /* 0: none */
    bool timed_out, out_of_memory;
};

static void *box_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct luabox *b = ud;
    if (!ptr) osize = 0; /* for a new block osize holds the object type */
    if (nsize == 0) {
        free(ptr);
        b->used -= osize;
        return NULL;
    }
    if (nsize > osize && b->used + (nsize - osize) > b->limit) {
        b->out_of_memory = true;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p) {
        b->out_of_memory = true;
        return NULL;
    }
    b->used = b->used - osize + nsize;
    return p;
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct luabox *b;
    lua_getallocf(L, (void **)&b);
    if (!b->deadline_ms) return;
    if (b->timed_out || time_mono_ms() > b->deadline_ms) {
        b->timed_out = true;
        /* From now on every instruction raises, so a script's own pcall cannot recover. */
        lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "timeout: script ran past its time budget");
    }
}

struct luabox *luabox_new(size_t mem_limit)
{
    struct luabox *b = xcalloc(1, sizeof(*b));
    b->limit = mem_limit;
    b->L = lua_newstate(box_alloc, b);
    if (!b->L) {
        free(b);
        return NULL;
    }
    /* Only the libraries the allow-lists copy from; they never reach a script's _ENV whole. */
    luaL_requiref(b->L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(b->L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(b->L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(b->L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(b->L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    luaL_requiref(b->L, LUA_OSLIBNAME, luaopen_os, 1);
    lua_settop(b->L, 0);
    return b;
}

void luabox_free(struct luabox *b)
{
    if (!b) return;
    lua_close(b->L);
    free(b);
}

lua_State *luabox_state(struct luabox *b)
{
    return b->L;
}

size_t luabox_mem_used(const struct luabox *b)
{
    return b->used;
}

static void copy_fields(lua_State *L, const char *lib, const char *const *names)
{
    lua_newtable(L);
    lua_getglobal(L, lib);
    for (const char *const *n = names; *n; n++) {
        lua_getfield(L, -1, *n);
        lua_setfield(L, -3, *n);
    }
    lua_pop(L, 1);
}

void luabox_new_env(struct luabox *b)
{
    static const char *const base[] = {"assert", "error", "ipairs", "next", "pairs", "pcall",
                                       "rawequal", "rawlen", "select", "tonumber", "tostring",
                                       "type", "xpcall", NULL};
    static const char *const str[] = {"byte", "char", "find", "format", "gmatch", "gsub", "len",
                                      "lower", "match", "rep", "reverse", "sub", "upper", NULL};
    static const char *const tab[] = {"concat", "insert", "move", "remove", "sort", "unpack",
                                      NULL};
    static const char *const mth[] = {"abs", "ceil", "floor", "fmod", "huge", "log", "max",
                                      "maxinteger", "min", "mininteger", "modf", "pi", "sqrt",
                                      "tointeger", "type", "ult", "exp", NULL};
    static const char *const utf[] = {"char", "charpattern", "codepoint", "codes", "len",
                                      "offset", NULL};
    static const char *const os[] = {"time", "clock", "date", NULL};
    lua_State *L = b->L;
    lua_newtable(L);
    lua_pushglobaltable(L);
    for (const char *const *n = base; *n; n++) {
        lua_getfield(L, -1, *n);
        lua_setfield(L, -3, *n);
    }
    lua_pop(L, 1);
    copy_fields(L, "string", str);
    lua_setfield(L, -2, "string");
    copy_fields(L, "table", tab);
    lua_setfield(L, -2, "table");
    copy_fields(L, "math", mth);
    lua_setfield(L, -2, "math");
    copy_fields(L, "utf8", utf);
    lua_setfield(L, -2, "utf8");
    copy_fields(L, "os", os);
    lua_setfield(L, -2, "os");
}

enum luabox_outcome luabox_load(struct luabox *b, const char *src, size_t len, const char *name,
                                int env_index, char *err, size_t errlen)
{
    lua_State *L = b->L;
    env_index = lua_absindex(L, env_index);
    int rc = luaL_loadbufferx(L, src, len, name, "t");
    if (rc != LUA_OK) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return rc == LUA_ERRMEM ? LUABOX_NOMEM : LUABOX_ERROR;
    }
    lua_pushvalue(L, env_index);
    lua_setupvalue(L, -2, 1);
    return LUABOX_OK;
}

static int traceback_position(lua_State *L)
{
    /* Keep the message as Lua made it ("source:line: msg"); non-string errors get a type. */
    if (!lua_isstring(L, 1)) lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    return 1;
}

enum luabox_outcome luabox_call(struct luabox *b, int nargs, int nresults, int64_t timeout_ms,
                                char *err, size_t errlen)
{
    lua_State *L = b->L;
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, traceback_position);
    lua_insert(L, base);
    b->timed_out = b->out_of_memory = false;
    b->deadline_ms = timeout_ms > 0 ? time_mono_ms() + timeout_ms : 0;
    lua_sethook(L, count_hook, LUA_MASKCOUNT, LUABOX_HOOK_EVERY);
    int rc = lua_pcall(L, nargs, nresults, base);
    lua_sethook(L, NULL, 0, 0);
    b->deadline_ms = 0;
    lua_remove(L, base);
    enum luabox_outcome o = LUABOX_OK;
    if (b->timed_out) o = LUABOX_TIMEOUT;
    else if (b->out_of_memory || rc == LUA_ERRMEM) o = LUABOX_NOMEM;
    else if (rc != LUA_OK) o = LUABOX_ERROR;
    if (rc != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        snprintf(err, errlen, "%s", m ? m : "not enough memory");
        lua_pop(L, 1);
    } else if (o != LUABOX_OK) {
        /* The script caught the failure itself and returned: its results don't count. */
        snprintf(err, errlen, "%s", o == LUABOX_TIMEOUT ? "timeout: script ran past its time budget"
                                                        : "not enough memory");
        lua_pop(L, nresults == LUA_MULTRET ? lua_gettop(L) - base + 1 : nresults);
    }
    return o;
}

const char *luabox_outcome_name(enum luabox_outcome o)
{
    switch (o) {
    case LUABOX_OK: return "ok";
    case LUABOX_ERROR: return "error";
    case LUABOX_TIMEOUT: return "timeout";
    case LUABOX_NOMEM: return "out_of_memory";
    }
    return "error";
}
