#!/usr/bin/env python3
"""Hostile and careless configs: `drwatch check-config FILE` refuses every one with exactly one
line `FILE:LINE: reason`, exit code 1, within a deadline, and never crashes.

Regression for the reliability issue in which 5 of 24 hostile configs were refused without a
file:line: a C-stack overflow in Lua's parser (deep nesting), out of memory inside one string.rep
or gsub call, a file over 1 MiB and bytecode. The cases are generated here; each names what it
guards. The file sits in a directory with a long name, so that every refusal also shows the
whole path where Lua itself would shorten it ("...tail/c.lua")."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import BIN, Tap, tmpdir  # noqa: E402

DEADLINE = 20  # seconds per run: the sandbox's own budget is 2 s
H = 'drwatch = { site = "gold" }\n'  # line 1 of most cases: a valid config so far
MIB = 1 << 20

t = Tap()
d = os.path.join(tmpdir(), "a-directory-with-a-name-long-enough-that-lua-shortens-the-path")
os.mkdir(d)


def deep(opener, closer, n=300):
    return opener * n + closer * n


# (what it guards, file contents, expected line: an int, a (first, last) range or None for
# any, and a regular expression the reason must match).
REFUSED = [
    # -- the C stack: Lua's parser and C functions that call back into Lua --
    ("deeply nested tables", H + "local t = " + deep("{", "}") + "\n", 2, r"nest"),
    ("deeply nested tables, one per line", H + "local t =\n" + deep("{\n", "}\n"), (3, 302),
     r"nest"),
    ("deeply nested parentheses", H + "local x = " + deep("(", ")") + "1\n", 2, r"nest"),
    ("a long chain of unary minus", H + "local x = " + "- " * 300 + "1\n", 2, r"nest"),
    ("a long chain of not", H + "local x = " + "not " * 300 + "true\n", 2, r"nest"),
    ("a long right-associative .. chain", H + "local x = 'a'" + " .. 'a'" * 300 + "\n", 2,
     r"nest"),
    ("a long right-associative ^ chain", H + "local x = 2" + " ^ 2" * 300 + "\n", 2, r"nest"),
    ("deeply nested do blocks", H + "do " * 300 + "end " * 300 + "\n", 2, r"nest"),
    ("deeply nested functions",
     H + "local f = " + "function() return " * 300 + "1" + " end" * 300 + "\n", 2, r"nest"),
    ("recursion through gsub's callback",
     H + "local function f(s) return (s:gsub('.', f)) end\nf('x')\n", 2, r"stack overflow"),
    ("recursion through table.sort's comparator",
     H + "local function f()\n  table.sort({3, 2, 1}, function(a, b) f() return a < b end)\n"
     "end\nf()\n", 3, r"stack overflow"),
    ("Lua's own stack overflowing (varargs)",
     H + "local function f(...) return 1 + f(1, ...) end\nf()\n", 2,
     r"stack overflow|not enough memory"),
    ("deep recursion", H + "local function f(n) return f(n + 1) + 1 end\nf(1)\n", 2,
     r"stack overflow|not enough memory"),
    # -- memory: one call asking for more than the heap cap, and growth over time --
    ("one string.rep of 100 MiB", H + "local s = string.rep('x', 100 * 1024 * 1024)\n", 2,
     r"not enough memory.*32 MiB"),
    ("one ('x'):rep(2^62) with a separator", H + "local s = ('x'):rep(1 << 62, ',')\n", 2,
     r"not enough memory|too large"),
    ("one gsub growing its result past the cap",
     H + "local s = string.rep('x', 1 << 20)\nlocal t = s:gsub('x', string.rep('y', 64))\n", 3,
     r"not enough memory"),
    ("one concatenation past the cap",
     H + "local s = string.rep('x', 12 << 20)\nlocal t = s .. s\n", 3, r"not enough memory"),
    ("one string.format past the cap",
     H + "local s = string.rep('x', 12 << 20)\nlocal t = string.format('%s%s%s', s, s, s)\n", 3,
     r"not enough memory"),
    ("one table.concat past the cap",
     H + "local t = {}\nfor i = 1, 12 do t[i] = string.rep('x', 1 << 20) end\n"
     "local s = table.concat(t) .. table.concat(t) .. table.concat(t)\n", 4,
     r"not enough memory"),
    ("one os.date with a huge format", H + "local s = os.date(string.rep('%c', 2e6))\n", 2,
     r"not enough memory"),
    ("a huge table", H + "local t = {}\nfor i = 1, 1e9 do t[i] = i end\n", 3,
     r"not enough memory|timeout"),
    ("a huge string built in a loop", H + "local s = 'x'\nwhile true do s = s .. s end\n", 3,
     r"not enough memory"),
    ("out of memory caught by pcall in a loop",
     H + "local t = {}\nwhile true do\n  pcall(function() t[#t + 1] = ('x'):rep(1e5) end)\nend\n",
     (3, 4), r"not enough memory"),
    # -- time --
    ("an infinite loop", H + "while true do end\n", 2, r"timeout"),
    ("a goto loop", H + "::top:: goto top\n", 2, r"timeout"),
    ("an infinite loop inside pcall, in a loop",
     H + "while true do pcall(function() while true do end end) end\n", 2, r"timeout"),
    ("a backtracking pattern", H + "local s = string.rep('a', 1e5):find('.-.-.-.-.-.-.-b')\n",
     2, r"timeout"),
    # -- errors raised on purpose --
    ("error() with a table value", H + "error({ code = 1 })\n", 2, r"table value"),
    ("error() with nil", H + "error()\n", 2, r"nil value"),
    ("error() with a message at level 0", H + "\nerror('stop here', 0)\n", 3, r"stop here"),
    ("an error message with terminal escapes and a newline",
     H + "error('bad\\27[2J\\nc.lua:1: fake')\n", 2, r"bad"),
    ("an error message of 10 MB", H + "error(string.rep('e', 10e6))\n", 2, r"eee"),
    # -- what the sandbox leaves out --
    ("string.format('%99999d')", H + "local s = string.format('%99999d', 1)\n", 2,
     r"invalid conversion"),
    ("coroutines (left suspended)",
     H + "local co = coroutine.create(function() coroutine.yield() end)\ncoroutine.resume(co)\n",
     2, r"undefined variable 'coroutine'"),
    ("os.exit", H + "os.exit(0)\n", 2, r"nil value \(field 'exit'\)"),
    ("os.execute", H + "os.execute('touch /tmp/drwatch-pwned')\n", 2,
     r"nil value \(field 'execute'\)"),
    ("io.open", H + "local f = io.open('/etc/passwd')\n", 2, r"undefined variable 'io'"),
    ("load of a text chunk", H + "load('drwatch = nil')()\n", 2, r"undefined variable 'load'"),
    ("require of another file", H + "local other = require('other')\n", 2,
     r"undefined variable 'require'"),
    ("dofile of another file", H + "dofile('other.lua')\n", 2, r"undefined variable 'dofile'"),
    ("setmetatable on _ENV", H + "setmetatable(_ENV, {})\n", 2,
     r"undefined variable 'setmetatable'"),
    ("the strings' metatable", H + "getmetatable('').__index = {}\n", 2,
     r"undefined variable 'getmetatable'"),
    ("collectgarbage", H + "collectgarbage('stop')\n", 2,
     r"undefined variable 'collectgarbage'"),
    ("a __close variable", H + "do local x <close> = 42 end\n", 2, r"non-closable"),
    ("_ENV set to nil", H + "_ENV = nil\nx = 1\n", 3, r"nil value"),
    ("table.unpack of 10^8 values", H + "local a = table.unpack({}, 1, 1e8)\n", 2,
     r"too many results"),
    # -- the file itself --
    ("a file of 1 MiB and one byte", H + "-- " + "x" * (MIB - len(H) - 3) + "\n", 1,
     r"1 MiB"),
    ("a 10 MB single line", H + "local s = '" + "x" * (10 * 1000 * 1000) + "'\n", 1,
     r"1 MiB"),
    ("bytecode", "\x1bLuaT\x00\x19\x93\r\n\x1a\n\x04\x08\x08xV", 1, r"bytecode.*text"),
    ("bytecode after a UTF-8 byte order mark", "\ufeff\x1bLuaT\x00\x19\x93\r\n", 1,
     r"bytecode.*text"),
    ("a terminal escape as the first byte", "\x1b[31m" + H, 1, r"bytecode.*text"),
    ("NUL bytes in the code", H + "local x = 1\x00\x00\n", 2, r"unexpected symbol"),
    ("a NUL byte inside a string value", H + 'textfile = { directory = "/tmp\\0/x" }\n', 2,
     r"NUL"),
    ("invalid UTF-8 in the code", H + "local x = \udcff\n", 2, r"unexpected symbol"),
    ("an unfinished long string", H + "local s = [[\nnever closed\n", 4, r"unfinished"),
    ("too many local variables",
     H + "local " + ", ".join("a%d" % i for i in range(250)) + " = 1\n", 2, r"too many local"),
    ("an empty file", "", 1, r"missing section"),
    ("only a comment", "-- nothing here\n", 1, r"missing section"),
    ("the sections set through a local _ENV", "local _ENV = {}\ndrwatch = { site = 'gold' }\n",
     None, r"missing section"),
    ("a section that is a function", "drwatch = function() end\n", 1, r"expected a table"),
    ("lone CR line breaks", 'drwatch = { site = "gold" }\rtextfile = { directory = 3 }\r', 2,
     r"expected a string"),
    ("a key of a megabyte", H + "textfile = { [string.rep('k', 1e6)] = 1 }\n", 2,
     r"unknown key"),
]

# Hostile-looking configs that are valid: accepted, and as quickly.
ACCEPTED = [
    ("a file of exactly 1 MiB", H + "-- " + "x" * (MIB - len(H) - 4) + "\n"),
    ("NUL bytes and invalid UTF-8 in a comment", H + "-- \x00\udcff\udcfe\n"),
    ("an error caught by pcall", H + "local ok = pcall(error, 'x')\n"),
    ("the C stack overflowing inside pcall", H + "local function f() return pcall(f) end\nf()\n"),
]

ESC = re.compile(r"[\x00-\x1f\x7f]")


def run(name, text):
    path = os.path.join(d, name)
    with open(path, "w", encoding="utf-8", errors="surrogateescape", newline="") as f:
        f.write(text)
    start = time.monotonic()
    try:
        r = subprocess.run([BIN, "check-config", path], capture_output=True, timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        return path, None, "", time.monotonic() - start
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    return path, r.returncode, out, time.monotonic() - start


def line_ok(got, want):
    if want is None:
        return True
    if isinstance(want, tuple):
        return want[0] <= got <= want[1]
    return got == want


bad = []
for i, (what, text, want_line, reason) in enumerate(REFUSED):
    path, rc, out, took = run("c%02d.lua" % i, text)
    first = out.split("\n", 1)[0]
    m = re.match(re.escape(path) + r":(\d+): (.+)$", first)
    problems = []
    if rc is None:
        problems.append("still running after %d s" % DEADLINE)
    elif rc < 0:
        problems.append("crashed (signal %d)" % -rc)
    elif rc != 1:
        problems.append("exit code %d, not 1" % rc)
    if rc is not None:
        if not m:
            problems.append("no %s:LINE: at the start" % path)
        elif not line_ok(int(m.group(1)), want_line):
            problems.append("line %s, expected %s" % (m.group(1), want_line))
        if m and not re.search(reason, m.group(2)):
            problems.append("the reason does not match /%s/" % reason)
        if out.count("\n") != 1 or ESC.search(out.rstrip("\n")):
            problems.append("not one line of printable text")
        if len(out) > 2000:
            problems.append("%d bytes of output" % len(out))
    if not t.ok(not problems, "refused with file:line: %s (%.1f s)" % (what, took)):
        t.diag("  " + "; ".join(problems))
        t.diag("  got: %r" % out[:300])
        bad.append(what)

for i, (what, text) in enumerate(ACCEPTED):
    path, rc, out, took = run("ok%02d.lua" % i, text)
    if not t.ok(rc == 0, "accepted: %s (%.1f s)" % (what, took)):
        t.diag("  rc %s, got: %r" % (rc, out[:300]))
        bad.append(what)

# A config path that is not a file: a FIFO nobody writes to must not block the check.
fifo = os.path.join(d, "fifo.lua")
os.mkfifo(fifo)
try:
    r = subprocess.run([BIN, "check-config", fifo], capture_output=True, timeout=DEADLINE)
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    ok = r.returncode == 1 and re.match(re.escape(fifo) + r":1: .*regular file", out)
except subprocess.TimeoutExpired:
    ok, out = False, "still running after %d s" % DEADLINE
if not t.ok(ok, "a FIFO as the config file is refused at once"):
    t.diag("  got: %r" % out[:300])
    bad.append("a FIFO as the config file")

t.diag("%d of %d hostile configs handled as expected" % (len(REFUSED) + len(ACCEPTED) + 1 -
                                                        len(bad), len(REFUSED) + len(ACCEPTED) + 1))
t.done()
