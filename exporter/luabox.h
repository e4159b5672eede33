/* luabox.h: a sandboxed Lua 5.4 state with an explicit budget (STYLE.md, Lua).
 *
 * - A counting allocator with a hard cap: past it, allocations fail and Lua raises a memory
 *   error; the outcome is reported as LUABOX_NOMEM even if a script's pcall caught it (the
 *   sandbox's pcall and xpcall re-raise memory errors and timeouts).
 * - A count hook that checks a monotonic deadline. Once past it, every hook call raises
 *   again, so a pcall in the script cannot swallow the timeout. C functions that can loop long
 *   without returning to the VM (string patterns, string.rep, table.move) are replaced by
 *   versions that check the deadline themselves (luabox_string.h).
 * - Environments built from allow-lists (luabox_new_env), never by removing things from
 *   luaL_openlibs; strings' metatable leads to the same restricted string table. Scripts load
 *   in text mode only.
 * Used by the config loader and by the rules engine. */
#ifndef DRWATCH_LUABOX_H
#define DRWATCH_LUABOX_H

#include <lua.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum luabox_outcome { LUABOX_OK, LUABOX_ERROR, LUABOX_TIMEOUT, LUABOX_NOMEM };

struct luabox;

/* A new state whose heap is capped at mem_limit bytes. Returns NULL if even the base state
 * does not fit. */
struct luabox *luabox_new(size_t mem_limit);
void luabox_free(struct luabox *b); /* NULL-safe */
lua_State *luabox_state(struct luabox *b);
/* Once *flag (which must outlive b) is true, every call with a deadline is past it: a script
 * running on one thread is stopped from another at its next budget check, and the call ends as
 * LUABOX_TIMEOUT. For stopping at shutdown without waiting out the budget. */
void luabox_set_interrupt(struct luabox *b, const atomic_bool *flag);
size_t luabox_mem_used(const struct luabox *b);

/* Pushes a fresh environment table holding only safe functions: assert, error, ipairs, next,
 * pairs, pcall, rawequal, rawlen, select, tonumber, tostring, type, xpcall, and copies of
 * string (byte, char, find, format, gmatch, gsub, len, lower, match, rep, reverse, sub, upper),
 * table, math, utf8 and os.{time, clock, date}. The caller adds its own API. If even that
 * does not fit in the heap, pushes nil (the script then fails). */
void luabox_new_env(struct luabox *b);

/* Loads src (text only) as chunk `name` ("@file" for files) and sets its first upvalue
 * (_ENV) to the table at env_index. Returns LUABOX_OK with the function pushed, or
 * LUABOX_ERROR (LUABOX_NOMEM) with "source:line: message" in err, a line even where Lua gives
 * none: bytecode is refused at line 1, nesting too deep for the parser's C stack at the line
 * where it got too deep. */
enum luabox_outcome luabox_load(struct luabox *b, const char *src, size_t len, const char *name,
                                int env_index, char *err, size_t errlen);

/* The one wrapper around lua_pcall: runs the function below nargs arguments with a deadline
 * of timeout_ms (none if <= 0), adding a position to errors. Returns the outcome; on failure
 * nothing is left on the stack and err holds "source:line: message" (LUABOX_ERROR, where a
 * line is known), "source:line: timeout: ..." (LUABOX_TIMEOUT) or "source:line: not enough
 * memory: ..." (LUABOX_NOMEM; the line of the call whose allocation failed, else where the
 * heap last grew past half the cap). */
enum luabox_outcome luabox_call(struct luabox *b, int nargs, int nresults, int64_t timeout_ms,
                                char *err, size_t errlen);

/* For C functions given to scripts that can loop long: raises the timeout error (as the count
 * hook does) once the running luabox_call is past its deadline; returns otherwise. L must be
 * a luabox state. */
void luabox_check_budget(lua_State *L);
/* lua_pcall(L, nargs, nresults, 0) for C code running inside luabox_call: an ordinary error
 * is returned (its message on the stack) for the caller to handle, but a timeout or a memory
 * error goes on up, so that luabox_call reports it as such. */
int luabox_pcall(lua_State *L, int nargs, int nresults);

const char *luabox_outcome_name(enum luabox_outcome o);

#endif
