/* luabox.h: a sandboxed Lua 5.4 state with an explicit budget (STYLE.md, Lua).
 *
 * - A counting allocator with a hard cap: past it, allocations fail and Lua raises a memory
 *   error; the outcome is reported as LUABOX_NOMEM even if a script's pcall caught it.
 * - A count hook that checks a monotonic deadline. Once past it, every hook call raises
 *   again, so a pcall in the script cannot swallow the timeout.
 * - Environments built from allow-lists (luabox_new_env), never by removing things from
 *   luaL_openlibs. Scripts load in text mode only.
 * Used by the config loader and by the rules engine. */
#ifndef DRWATCH_LUABOX_H
#define DRWATCH_LUABOX_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

enum luabox_outcome { LUABOX_OK, LUABOX_ERROR, LUABOX_TIMEOUT, LUABOX_NOMEM };

struct luabox;

/* A new state whose heap is capped at mem_limit bytes. Returns NULL if even the base state
 * does not fit. */
struct luabox *luabox_new(size_t mem_limit);
void luabox_free(struct luabox *b); /* NULL-safe */
lua_State *luabox_state(struct luabox *b);
size_t luabox_mem_used(const struct luabox *b);

/* Pushes a fresh environment table holding only safe functions: assert, error, ipairs, next,
 * pairs, pcall, rawequal, rawlen, select, tonumber, tostring, type, xpcall, and copies of
 * string, table, math, utf8 and os.{time, clock, date}. The caller adds its own API. */
void luabox_new_env(struct luabox *b);

/* Loads src (text only) as chunk `name` ("@file" for files) and sets its first upvalue
 * (_ENV) to the table at env_index. Returns LUABOX_OK with the function pushed, or
 * LUABOX_ERROR with the message in err. */
enum luabox_outcome luabox_load(struct luabox *b, const char *src, size_t len, const char *name,
                                int env_index, char *err, size_t errlen);

/* The one wrapper around lua_pcall: runs the function below nargs arguments with a deadline
 * of timeout_ms, adding a traceback position to errors. Returns the outcome; on failure err
 * holds "source:line: message" and nothing is left on the stack. */
enum luabox_outcome luabox_call(struct luabox *b, int nargs, int nresults, int64_t timeout_ms,
                                char *err, size_t errlen);

const char *luabox_outcome_name(enum luabox_outcome o);

#endif
