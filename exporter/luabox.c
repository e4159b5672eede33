/* luabox.c: the Lua sandbox (see luabox.h). The budget follows HAProxy's hlua.c and redis'
 * script_lua.c: a lua_Alloc that counts, and a LUA_MASKCOUNT hook that compares a monotonic
 * clock with the deadline every LUABOX_HOOK_EVERY instructions.
 *
 * Three things keep the budget honest where the hook alone would not:
 * - pcall and xpcall are replaced by versions that re-raise a timeout or a memory error, so a
 *   script cannot catch either (a memory error is only known for sure where it is caught: Lua
 *   retries a failed allocation after an emergency collection, so a failed allocation alone
 *   does not mean the script failed);
 * - C functions that can loop long without returning to the VM (string patterns, string.rep,
 *   table.move) are the budgeted ones of luabox_string.c and below, which check the deadline;
 * - past the deadline, large allocations fail, so a C function copying a lot gives up soon.
 * The string metatable's __index is the sandbox's string table too, so ("").dump and the like
 * are not reachable through a string value. */
#include "luabox.h"

#include <ctype.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "luabox_string.h"
#include "xalloc.h"

#define LUABOX_HOOK_EVERY       1000
#define LUABOX_BIG_ALLOC        (64u << 10) /* past the deadline, allocations this large fail */
#define LUABOX_STRING_KEY       "drwatch.luabox.string"
#define LUABOX_MOVE_CHECK_EVERY 4096

struct luabox {
    lua_State *L;
    size_t used, limit;
    int64_t deadline_ms; /* 0: none */
    int64_t budget_ms;
    const atomic_bool *interrupt; /* set by another thread: the deadline has come now */
    bool timed_out, out_of_memory, alloc_failed;
    bool in_call;                /* inside luabox_call: the count hook is set */
    bool heap_high, heap_check;  /* past half the cap; the hook is to note where */
    char where[LUA_IDSIZE + 32]; /* "source:line: " where the timeout was noticed */
    /* Lua raises a memory error without a message handler, so an out-of-memory report names
     * what was noted on the way: "source:line" where an allocation last failed (the call that
     * asked for too much, however large the one allocation), else where the heap last grew
     * past half the cap. */
    char fail_where[LUA_IDSIZE + 16];
    char heap_where[LUA_IDSIZE + 16];
};

static struct luabox *box_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

static bool past_deadline(struct luabox *b)
{
    return b->deadline_ms &&
           (b->timed_out || time_mono_ms() > b->deadline_ms ||
            (b->interrupt && atomic_load_explicit(b->interrupt, memory_order_relaxed)));
}

static void count_hook(lua_State *L, lua_Debug *ar);

/* Notes where the script runs when an allocation fails. Lua raises a memory error without
 * calling a message handler, so this is the last moment the place can be read. lua_getstack
 * and lua_getinfo("Sl") only read the call stack, which is consistent whenever Lua allocates;
 * they allocate nothing. */
static void note_failed_alloc(struct luabox *b)
{
    if (!b->in_call) return;
    lua_Debug ar;
    for (int level = 0; lua_getstack(b->L, level, &ar); level++) {
        if (lua_getinfo(b->L, "Sl", &ar) && ar.currentline > 0) {
            snprintf(b->fail_where, sizeof(b->fail_where), "%s:%d", ar.short_src, ar.currentline);
            return;
        }
    }
}

static void *box_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct luabox *b = ud;
    if (!ptr) osize = 0; /* for a new block osize holds the object type */
    if (nsize == 0) {
        free(ptr);
        b->used -= osize;
        return NULL;
    }
    if (nsize > osize) {
        if (nsize - osize >= LUABOX_BIG_ALLOC && b->L && past_deadline(b)) {
            b->timed_out = true;
            lua_sethook(b->L, count_hook, LUA_MASKCOUNT, 1); /* signal-safe, so fine here */
            return NULL;
        }
        if (nsize - osize > b->limit - b->used) {
            b->alloc_failed = true; /* Lua may still succeed after collecting garbage */
            note_failed_alloc(b);
            return NULL;
        }
    }
    void *p = realloc(ptr, nsize);
    if (!p) {
        b->alloc_failed = true;
        note_failed_alloc(b);
        return NULL;
    }
    b->used = b->used - osize + nsize;
    if (b->used > b->limit / 2 && !b->heap_high && b->in_call) {
        /* Note where on the next instruction: a script that fills its heap in a few
         * instructions would otherwise never meet the hook. */
        b->heap_high = b->heap_check = true;
        lua_sethook(b->L, count_hook, LUA_MASKCOUNT, 1);
    } else if (b->used < b->limit / 4) {
        b->heap_high = false;
    }
    return p;
}

/* Raises the timeout error; from now on every instruction raises it again. */
static void raise_timeout(lua_State *L, struct luabox *b, const char *where)
{
    if (!b->where[0]) snprintf(b->where, sizeof(b->where), "%s", where);
    b->timed_out = true;
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    lua_pushfstring(L, "%stimeout: script ran past its time budget (%d ms)", where,
                    (int)b->budget_ms);
    lua_error(L);
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    struct luabox *b = box_of(L);
    if (b->heap_check) {
        b->heap_check = false;
        if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
            snprintf(b->heap_where, sizeof(b->heap_where), "%s:%d", ar->short_src, ar->currentline);
        if (!b->timed_out) lua_sethook(L, count_hook, LUA_MASKCOUNT, LUABOX_HOOK_EVERY);
    }
    if (!past_deadline(b)) return;
    char where[sizeof(b->where)] = "";
    if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
        snprintf(where, sizeof(where), "%s:%d: ", ar->short_src, ar->currentline);
    raise_timeout(L, b, where);
}

void luabox_check_budget(lua_State *L)
{
    struct luabox *b = box_of(L);
    if (!past_deadline(b)) return;
    b->timed_out = true;
    char where[sizeof(b->where)] = "";
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0)
        snprintf(where, sizeof(where), "%s:%d: ", ar.short_src, ar.currentline);
    raise_timeout(L, b, where);
}

/* ---- budget-aware replacements ---- */

/* After a protected call inside the script: a timeout or a memory error goes on up. */
static void rethrow_fatal(lua_State *L, int status)
{
    struct luabox *b = box_of(L);
    if (status == LUA_ERRMEM) b->out_of_memory = true;
    if (b->timed_out || b->out_of_memory) lua_error(L); /* the error object is on top */
}

int luabox_pcall(lua_State *L, int nargs, int nresults)
{
    int status = lua_pcall(L, nargs, nresults, 0);
    if (status != LUA_OK) rethrow_fatal(L, status);
    return status;
}

static int box_pcall(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_pushboolean(L, 1); /* the first result if all goes well */
    lua_insert(L, 1);
    int status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
    if (status == LUA_OK) return lua_gettop(L);
    rethrow_fatal(L, status);
    lua_pushboolean(L, 0);
    lua_pushvalue(L, -2);
    return 2;
}

/* xpcall's message handler around the script's own: once the budget is spent the script's
 * handler is not called. (The timeout is raised from the count hook, and Lua runs message
 * handlers for it with hooks still disabled: a handler that loops would never be stopped.) */
static int xpcall_handler(lua_State *L)
{
    struct luabox *b = box_of(L);
    if (b->timed_out || b->out_of_memory) {
        lua_settop(L, 1);
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int box_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, xpcall_handler, 1);
    lua_replace(L, 2);
    /* f, handler, args -> f, handler, true, f, args: the handler stays at 2. */
    lua_pushboolean(L, 1);
    lua_pushvalue(L, 1);
    lua_rotate(L, 3, 2);
    int status = lua_pcall(L, n - 2, LUA_MULTRET, 2);
    if (status == LUA_OK) return lua_gettop(L) - 2;
    rethrow_fatal(L, status);
    lua_pushboolean(L, 0);
    lua_pushvalue(L, -2);
    return 2;
}

/* table.move(a1, f, e, t [, a2]): Lua's loops over the range even when it holds nothing. */
static int box_move(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
    lua_Integer t = luaL_checkinteger(L, 4);
    int dst = lua_isnoneornil(L, 5) ? 1 : 5;
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, dst, LUA_TTABLE);
    if (e >= f) {
        luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3, "too many elements to move");
        lua_Integer n = e - f; /* elements to move, minus one */
        luaL_argcheck(L, t <= LUA_MAXINTEGER - n, 4, "destination wrap around");
        bool forward = t > e || t <= f || (dst != 1 && !lua_compare(L, 1, dst, LUA_OPEQ));
        for (lua_Integer i = 0; i <= n; i++) {
            lua_Integer k = forward ? i : n - i;
            lua_geti(L, 1, f + k);
            lua_seti(L, dst, t + k);
            if (i % LUABOX_MOVE_CHECK_EVERY == LUABOX_MOVE_CHECK_EVERY - 1) luabox_check_budget(L);
        }
    }
    lua_pushvalue(L, dst);
    return 1;
}

/* ---- states and environments ---- */

static void copy_fields(lua_State *L, const char *const *names)
{
    for (const char *const *n = names; *n; n++) {
        lua_getfield(L, -1, *n);
        lua_setfield(L, -3, *n);
    }
}

/* Opens the libraries the allow-lists copy from (they never reach a script's _ENV whole) and
 * builds the sandbox's string table, which is also every string's __index. Protected. */
static int open_libs(lua_State *L)
{
    static const char *const str[] = {"byte",    "char", "format", "len", "lower",
                                      "reverse", "sub",  "upper",  NULL};
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 1);
    lua_settop(L, 0);
    lua_newtable(L);
    lua_getglobal(L, LUA_STRLIBNAME);
    copy_fields(L, str);
    lua_pop(L, 1);
    luabox_string_register(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, LUABOX_STRING_KEY);
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "__index");
    lua_settop(L, 0);
    return 0;
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
    lua_pushcfunction(b->L, open_libs);
    if (lua_pcall(b->L, 0, 0, 0) != LUA_OK) {
        lua_close(b->L);
        free(b);
        return NULL;
    }
    return b;
}

void luabox_free(struct luabox *b)
{
    if (!b) return;
    lua_close(b->L);
    free(b);
}

void luabox_set_interrupt(struct luabox *b, const atomic_bool *flag)
{
    b->interrupt = flag;
}

lua_State *luabox_state(struct luabox *b)
{
    return b->L;
}

size_t luabox_mem_used(const struct luabox *b)
{
    return b->used;
}

/* A new table holding copies of lib's names. */
static void copy_lib(lua_State *L, const char *lib, const char *const *names)
{
    lua_newtable(L);
    lua_getglobal(L, lib);
    copy_fields(L, names);
    lua_pop(L, 1);
}

static int build_env(lua_State *L)
{
    static const char *const base[] = {"assert",   "error",    "ipairs", "next",
                                       "pairs",    "rawequal", "rawlen", "select",
                                       "tonumber", "tostring", "type",   NULL};
    static const char *const tab[] = {"concat", "insert", "remove", "sort", "unpack", NULL};
    static const char *const mth[] = {"abs",  "ceil",       "floor", "fmod",       "huge", "log",
                                      "max",  "maxinteger", "min",   "mininteger", "modf", "pi",
                                      "sqrt", "tointeger",  "type",  "ult",        "exp",  NULL};
    static const char *const utf[] = {"char", "charpattern", "codepoint", "codes",
                                      "len",  "offset",      NULL};
    static const char *const os[] = {"time", "clock", "date", NULL};
    lua_newtable(L);
    lua_pushglobaltable(L);
    copy_fields(L, base);
    lua_pop(L, 1);
    lua_pushcfunction(L, box_pcall);
    lua_setfield(L, -2, "pcall");
    lua_pushcfunction(L, box_xpcall);
    lua_setfield(L, -2, "xpcall");
    /* The script's own copy of the sandbox's string table. */
    lua_newtable(L);
    lua_getfield(L, LUA_REGISTRYINDEX, LUABOX_STRING_KEY);
    for (lua_pushnil(L); lua_next(L, -2);) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, -5);
    }
    lua_pop(L, 1);
    lua_setfield(L, -2, "string");
    copy_lib(L, LUA_TABLIBNAME, tab);
    lua_pushcfunction(L, box_move);
    lua_setfield(L, -2, "move");
    lua_setfield(L, -2, "table");
    copy_lib(L, LUA_MATHLIBNAME, mth);
    lua_setfield(L, -2, "math");
    copy_lib(L, LUA_UTF8LIBNAME, utf);
    lua_setfield(L, -2, "utf8");
    copy_lib(L, LUA_OSLIBNAME, os);
    lua_setfield(L, -2, "os");
    return 1;
}

void luabox_new_env(struct luabox *b)
{
    lua_State *L = b->L;
    lua_pushcfunction(L, build_env);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) { /* out of memory: a nil _ENV fails the script */
        lua_pop(L, 1);
        lua_pushnil(L);
    }
}

/* Whether msg starts with a position, "source:line:". */
static bool has_position(const char *msg)
{
    const char *c = strchr(msg, ':');
    if (!c || c == msg || !isdigit((unsigned char)c[1])) return false;
    for (c++; isdigit((unsigned char)*c);) c++;
    return *c == ':';
}

/* Hands Lua the source one line at a time, line breaks counted as Lua's lexer counts them
 * ("\n", "\r", "\r\n", "\n\r"). The lexer asks for the next line only once it reads past
 * the current one, so when the parser fails without saying where (its "C stack overflow", a
 * memory error) the line being read is the number of lines handed out. */
struct line_reader {
    const char *p, *end;
    unsigned line;
};

static const char *read_line(lua_State *L, void *ud, size_t *size)
{
    (void)L;
    struct line_reader *r = ud;
    const char *s = r->p, *e = s;
    while (e < r->end && *e != '\n' && *e != '\r') e++;
    if (e < r->end) {
        char first = *e++;
        if (e < r->end && (*e == '\n' || *e == '\r') && *e != first) e++;
    }
    r->p = e;
    *size = (size_t)(e - s);
    if (e == s) return NULL; /* the end */
    r->line++;
    return s;
}

/* "32 MiB", "256 KiB": the heap cap as messages give it. */
static void limit_text(const struct luabox *b, char *out, size_t outlen)
{
    bool mib = b->limit % (1u << 20) == 0;
    snprintf(out, outlen, "%zu %s", mib ? b->limit >> 20 : b->limit >> 10, mib ? "MiB" : "KiB");
}

/* The message for a load error Lua gives without a position: what is wrong, what is allowed. */
static const char *load_reason(const struct luabox *b, int rc, const char *m, char *buf,
                               size_t buflen)
{
    if (rc == LUA_ERRMEM || !m) {
        char limit[32];
        limit_text(b, limit, sizeof(limit));
        snprintf(buf, buflen, "not enough memory to parse the file: the heap is limited to %s",
                 limit);
        return buf;
    }
    if (strcmp(m, "C stack overflow") == 0)
        return "nested too deeply (C stack overflow): Lua's parser allows about 200 levels of "
               "nested tables, parentheses, blocks and functions, and of chained unary, .. and ^ "
               "operators";
    return m;
}

enum luabox_outcome luabox_load(struct luabox *b, const char *src, size_t len, const char *name,
                                int env_index, char *err, size_t errlen)
{
    lua_State *L = b->L;
    const char *file = (name[0] == '@' || name[0] == '=') ? name + 1 : name;
    env_index = lua_absindex(L, env_index);
    /* Lua would say "attempt to load a binary chunk (mode is 't')" and no more. */
    if (len > 0 && src[0] == LUA_SIGNATURE[0]) {
        snprintf(err, errlen,
                 "%s:1: the file starts with byte 0x1B, the mark of precompiled Lua bytecode: "
                 "only Lua source text can be loaded",
                 file);
        return LUABOX_ERROR;
    }
    struct line_reader r = {.p = src, .end = src + len};
    int rc = lua_load(L, read_line, &r, name, "t");
    if (rc != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        char reason[128];
        if (m && has_position(m))
            snprintf(err, errlen, "%s", m);
        else
            snprintf(err, errlen, "%s:%u: %s", file, r.line ? r.line : 1,
                     load_reason(b, rc, m, reason, sizeof(reason)));
        lua_pop(L, 1);
        return rc == LUA_ERRMEM ? LUABOX_NOMEM : LUABOX_ERROR;
    }
    lua_pushvalue(L, env_index);
    if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
    return LUABOX_OK;
}

/* Whether msg starts with "src:<line>:". */
static bool starts_with_position(const char *msg, const char *src)
{
    size_t n = strlen(src);
    if (strncmp(msg, src, n) != 0 || msg[n] != ':' || !isdigit((unsigned char)msg[n + 1]))
        return false;
    const char *c = msg + n + 1;
    while (isdigit((unsigned char)*c)) c++;
    return *c == ':';
}

/* Message handler: every error leaves with "source:line: " of the innermost Lua function,
 * unless it already starts with that function's source and a line. */
static int add_position(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    char where[LUA_IDSIZE + 32] = "";
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
            if (msg && starts_with_position(msg, ar.short_src)) return 1;
            snprintf(where, sizeof(where), "%s:%d: ", ar.short_src, ar.currentline);
            break;
        }
    }
    if (msg)
        lua_pushfstring(L, "%s%s", where, msg);
    else
        lua_pushfstring(L, "%s(error object is a %s value)", where, luaL_typename(L, 1));
    return 1;
}

enum luabox_outcome luabox_call(struct luabox *b, int nargs, int nresults, int64_t timeout_ms,
                                char *err, size_t errlen)
{
    lua_State *L = b->L;
    int base = lua_gettop(L) - nargs;
    char src[LUA_IDSIZE] = "?";
    lua_Debug ar;
    lua_pushvalue(L, base);
    if (lua_getinfo(L, ">S", &ar)) snprintf(src, sizeof(src), "%s", ar.short_src);
    lua_pushcfunction(L, add_position);
    lua_insert(L, base);
    b->timed_out = b->out_of_memory = b->alloc_failed = false;
    b->where[0] = b->heap_where[0] = b->fail_where[0] = '\0';
    b->heap_high = b->heap_check = false;
    b->budget_ms = timeout_ms;
    b->deadline_ms = timeout_ms > 0 ? time_mono_ms() + timeout_ms : 0;
    lua_sethook(L, count_hook, LUA_MASKCOUNT, LUABOX_HOOK_EVERY);
    b->in_call = true;
    int rc = lua_pcall(L, nargs, nresults, base);
    b->in_call = false;
    lua_sethook(L, NULL, 0, 0);
    b->deadline_ms = 0;
    lua_remove(L, base);
    enum luabox_outcome o = LUABOX_OK;
    if (b->timed_out)
        o = LUABOX_TIMEOUT;
    else if (b->out_of_memory || rc == LUA_ERRMEM || (rc == LUA_ERRERR && b->alloc_failed))
        o = LUABOX_NOMEM;
    else if (rc != LUA_OK)
        o = LUABOX_ERROR;
    if (o == LUABOX_TIMEOUT) {
        snprintf(err, errlen, "%s%stimeout: script ran past its time budget (%lld ms)",
                 b->where[0] ? b->where : src, b->where[0] ? "" : ": ", (long long)timeout_ms);
    } else if (o == LUABOX_NOMEM) {
        /* The call that failed, else where the heap grew past half the cap. */
        const char *at = b->fail_where[0] ? b->fail_where : b->heap_where[0] ? b->heap_where : src;
        char limit[32];
        limit_text(b, limit, sizeof(limit));
        snprintf(err, errlen, "%s: not enough memory: the script's heap is limited to %s", at,
                 limit);
    } else if (o == LUABOX_ERROR) {
        const char *m = lua_tostring(L, -1);
        snprintf(err, errlen, "%s", m ? m : "error");
    }
    if (rc != LUA_OK)
        lua_pop(L, 1);
    else if (o != LUABOX_OK) /* the script caught the failure itself: its results don't count */
        lua_pop(L, nresults == LUA_MULTRET ? lua_gettop(L) - base + 1 : nresults);
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
