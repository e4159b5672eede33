/* luabox_string.h: the sandbox's versions of the string functions that can run long in C.
 *
 * Lua's own string.find, match, gmatch, gsub and rep never return to the VM while they work,
 * so the count hook cannot stop a pathological call: ("a"):rep(40):find(("a*"):rep(40) .. "b")
 * backtracks for ages, and string.rep("", math.maxinteger) loops without allocating. These
 * versions have the same results and error messages (Lua 5.4 patterns, reference manual
 * §6.4.1) but count their steps and call luabox_check_budget() every few thousand, so the
 * script's deadline holds inside them too. Used by luabox.c only. */
#ifndef DRWATCH_LUABOX_STRING_H
#define DRWATCH_LUABOX_STRING_H

#include <lua.h>

/* Sets find, gmatch, gsub, match and rep in the table on top of the stack. */
void luabox_string_register(lua_State *L);

#endif
