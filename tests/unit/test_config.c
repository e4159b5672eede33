/* test_config.c: the config loader (config.c, config_locate.c) and the Lua sandbox (luabox.c,
 * luabox_string.c). Data-driven: a test schema with every CFG_* type, configs that must be
 * refused with the exact "file:line: path: message", configs that must load with the values
 * they say, config_locate on tricky sources, and the sandbox's budget (timeouts that pcall
 * cannot swallow, out-of-memory that pcall cannot hide, the heap cap, positions in errors).
 * The budgeted string functions are checked against Lua's own on the same inputs. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "clock.h"
#include "config.h"
#include "luabox.h"
#include "tap.h"
#include "xalloc.h"

/* ---- the test schema ---- */

struct target {
    char *name;
    int64_t port;
    bool tls;
};

struct limits {
    int64_t max_conn;
    double ratio;
};

struct app_config {
    char *name;
    bool enabled;
    int64_t retries;
    double ratio;
    int64_t timeout_ms;
    int mode;
    struct limits limits;
    struct cfg_list targets;
    struct cfg_strings tags;
    struct cfg_labels labels;
    double free_number;
    int64_t free_duration_ms;
};

struct extra_config {
    int64_t level;
    char *note;
};

/* An optional section with a required key: off when absent, checked when present. */
struct opt_config {
    char *url;
};

static const char *const modes[] = {"fast", "safe", "off", NULL};

static const struct cfg_key target_keys[] = {
    {.name = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct target, name),
     .required = true,
     .expect = "target name"},
    {.name = "port",
     .type = CFG_INT,
     .offset = offsetof(struct target, port),
     .required = true,
     .expect = "TCP port, 1 to 65535",
     .min = 1,
     .max = 65535},
    {.name = "tls", .type = CFG_BOOL, .offset = offsetof(struct target, tls), .def = "false"},
    CFG_END,
};

static const struct cfg_key limits_keys[] = {
    {.name = "max_conn",
     .type = CFG_INT,
     .offset = offsetof(struct limits, max_conn),
     .def = "100",
     .min = 1,
     .max = 1000},
    {.name = "ratio", .type = CFG_NUMBER, .offset = offsetof(struct limits, ratio), .def = "0.25"},
    CFG_END,
};

static const struct cfg_key app_keys[] = {
    {.name = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct app_config, name),
     .required = true,
     .expect = "the application name"},
    {.name = "enabled",
     .type = CFG_BOOL,
     .offset = offsetof(struct app_config, enabled),
     .def = "true"},
    {.name = "retries",
     .type = CFG_INT,
     .offset = offsetof(struct app_config, retries),
     .def = "3",
     .expect = "0 to 10 retries",
     .min = 0,
     .max = 10},
    {.name = "ratio",
     .type = CFG_NUMBER,
     .offset = offsetof(struct app_config, ratio),
     .def = "0.5",
     .expect = "a fraction, 0 to 1",
     .min = 0,
     .max = 1},
    {.name = "timeout",
     .type = CFG_DURATION,
     .offset = offsetof(struct app_config, timeout_ms),
     .def = "5s",
     .expect = "100ms to 1m",
     .min = 100,
     .max = 60000},
    {.name = "mode",
     .type = CFG_ENUM,
     .offset = offsetof(struct app_config, mode),
     .def = "safe",
     .choices = modes},
    {.name = "limits",
     .type = CFG_TABLE,
     .offset = offsetof(struct app_config, limits),
     .sub = limits_keys},
    {.name = "targets",
     .type = CFG_LIST,
     .offset = offsetof(struct app_config, targets),
     .sub = target_keys,
     .sub_size = sizeof(struct target),
     .expect = "targets to watch"},
    {.name = "tags",
     .type = CFG_STRINGS,
     .offset = offsetof(struct app_config, tags),
     .expect = "tag names"},
    {.name = "labels", .type = CFG_LABELS, .offset = offsetof(struct app_config, labels)},
    {.name = "free_number", .type = CFG_NUMBER, .offset = offsetof(struct app_config, free_number)},
    {.name = "free_duration",
     .type = CFG_DURATION,
     .offset = offsetof(struct app_config, free_duration_ms)},
    CFG_END,
};

static const struct cfg_key extra_keys[] = {
    {.name = "level", .type = CFG_INT, .offset = offsetof(struct extra_config, level), .def = "7"},
    {.name = "note",
     .type = CFG_STRING,
     .offset = offsetof(struct extra_config, note),
     .def = "none"},
    CFG_END,
};

static const struct cfg_key opt_keys[] = {
    {.name = "url",
     .type = CFG_STRING,
     .offset = offsetof(struct opt_config, url),
     .required = true,
     .expect = "where to look"},
    CFG_END,
};

static const struct cfg_module app_module = {"app", app_keys, sizeof(struct app_config), true};
static const struct cfg_module extra_module = {"extra", extra_keys, sizeof(struct extra_config),
                                               false};
static const struct cfg_module opt_module = {"opt", opt_keys, sizeof(struct opt_config), false};
static const struct cfg_module *const mods[] = {&app_module, &extra_module, &opt_module};
#define NMODS (sizeof(mods) / sizeof(mods[0]))

#define KNOWN_APP_KEYS                                                              \
    "name, enabled, retries, ratio, timeout, mode, limits, targets, tags, labels, " \
    "free_number, free_duration"
#define SECTIONS        "sections are: app, extra, opt; helpers must be declared 'local'"
#define NOMEM_MSG       "not enough memory: the script's heap is limited to 32 MiB"
#define NOMEM_AT(where) where ": " NOMEM_MSG
#define BYTECODE_MSG                                                                         \
    "the file starts with byte 0x1B, the mark of precompiled Lua bytecode: only Lua source " \
    "text can be loaded"

static struct config *load(const char *src, char *err, size_t errlen)
{
    err[0] = '\0';
    return config_load_buffer(src, strlen(src), "test.lua", mods, NMODS, err, errlen);
}

/* ---- refused configs ---- */

struct refusal {
    const char *what;
    const char *src;
    const char *want;
};

static const struct refusal refusals[] = {
    {"unknown section, listing the sections", "app = { name = \"x\" }\nfoo = 1\n",
     "test.lua:2: unknown section 'foo' (" SECTIONS ")"},
    {"unknown key, listing the known keys", "app = {\n  name = \"x\",\n  nmae = \"y\",\n}\n",
     "test.lua:3: app.nmae: unknown key (known keys: " KNOWN_APP_KEYS ")"},
    {"unknown key in a nested table", "app = {\n  name = \"x\",\n  limits = { max = 1 },\n}\n",
     "test.lua:3: app.limits.max: unknown key (known keys: max_conn, ratio)"},
    {"unknown positional key in a section", "app = { name = \"x\", 42 }\n",
     "test.lua:1: app[1]: unknown key (known keys: " KNOWN_APP_KEYS ")"},
    {"section that is not a table", "app = \"x\"\n",
     "test.lua:1: app: expected a table { key = value, ... }, got string"},
    {"string: wrong type", "app = { name = 5 }\n",
     "test.lua:1: app.name: expected a string (the application name), got an integer"},
    {"bool: wrong type", "app = { name = \"x\", enabled = \"yes\" }\n",
     "test.lua:1: app.enabled: expected true or false, got string"},
    {"int: wrong type", "app = { name = \"x\", retries = \"3\" }\n",
     "test.lua:1: app.retries: expected an integer (0 to 10 retries), got string"},
    {"int: not integral", "app = { name = \"x\", retries = 2.5 }\n",
     "test.lua:1: app.retries: expected an integer (0 to 10 retries), got 2.5"},
    {"int: above max", "app = { name = \"x\", retries = 11 }\n",
     "test.lua:1: app.retries: 11 is out of range (0 to 10 retries)"},
    {"int: below min, no expect text: the range is given",
     "app = { name = \"x\", limits = { max_conn = 0 } }\n",
     "test.lua:1: app.limits.max_conn: 0 is out of range: expected 1 to 1000"},
    {"number: wrong type", "app = { name = \"x\", ratio = \"half\" }\n",
     "test.lua:1: app.ratio: expected a number (a fraction, 0 to 1), got string"},
    {"number: out of range", "app = { name = \"x\", ratio = 1.5 }\n",
     "test.lua:1: app.ratio: 1.5 is out of range (a fraction, 0 to 1)"},
    /* regression: NaN compared false with both limits and passed the range check */
    {"number: NaN", "app = { name = \"x\", ratio = 0/0 }\n",
     "test.lua:1: app.ratio: expected a finite number (a fraction, 0 to 1), got -nan"},
    {"number: infinity", "app = { name = \"x\", free_number = 1/0 }\n",
     "test.lua:1: app.free_number: expected a finite number, got inf"},
    {"duration: wrong type", "app = { name = \"x\", timeout = true }\n",
     "test.lua:1: app.timeout: expected a duration (100ms to 1m), got boolean"},
    {"duration: bad text", "app = { name = \"x\", timeout = \"fast\" }\n",
     "test.lua:1: app.timeout: expected a duration such as \"15s\", \"1m30s\" or \"500ms\", "
     "got \"fast\""},
    {"duration: fractions are not duration text", "app = { name = \"x\", timeout = \"1.5s\" }\n",
     "test.lua:1: app.timeout: expected a duration such as \"15s\", \"1m30s\" or \"500ms\", "
     "got \"1.5s\""},
    {"duration: a number without unit in a string", "app = { name = \"x\", timeout = \"15\" }\n",
     "test.lua:1: app.timeout: expected a duration such as \"15s\", \"1m30s\" or \"500ms\", "
     "got \"15\""},
    /* regression: the parts' sum overflowed int64 (undefined behaviour) */
    {"duration: text that overflows",
     "app = { name = \"x\", free_duration = \"5000000000000000s5000000000000000s\" }\n",
     "test.lua:1: app.free_duration: expected a duration such as \"15s\", \"1m30s\" or "
     "\"500ms\", got \"5000000000000000s5000000000000000s\""},
    {"duration: units out of order", "app = { name = \"x\", timeout = \"30s1m\" }\n",
     "test.lua:1: app.timeout: expected a duration such as \"15s\", \"1m30s\" or \"500ms\", "
     "got \"30s1m\""},
    {"duration: text above max", "app = { name = \"x\", timeout = \"2m\" }\n",
     "test.lua:1: app.timeout: \"2m\" is out of range (100ms to 1m)"},
    {"duration: seconds below min", "app = { name = \"x\", timeout = 0.05 }\n",
     "test.lua:1: app.timeout: 0.05 is out of range (100ms to 1m)"},
    /* regression: negative, infinite and NaN seconds were accepted (llround of garbage) */
    {"duration: negative seconds", "app = { name = \"x\", free_duration = -1 }\n",
     "test.lua:1: app.free_duration: expected a duration of 0 or more seconds, got -1"},
    {"duration: infinite seconds", "app = { name = \"x\", free_duration = math.huge }\n",
     "test.lua:1: app.free_duration: expected a duration of 0 or more seconds, got inf"},
    {"enum: bad value, listing the choices", "app = { name = \"x\", mode = \"fastest\" }\n",
     "test.lua:1: app.mode: expected one of \"fast\", \"safe\", \"off\", got \"fastest\""},
    {"enum: wrong type", "app = { name = \"x\", mode = 1 }\n",
     "test.lua:1: app.mode: expected one of \"fast\", \"safe\", \"off\", got an integer"},
    {"missing required key", "app = {\n  enabled = true,\n}\n",
     "test.lua:1: app.name: missing, and required (the application name)"},
    /* regression: C saw the string up to its NUL, and "a\0b" quietly became "a" */
    {"a NUL byte in a string value", "app = { name = \"a\\0b\" }\n",
     "test.lua:1: app.name: the string has a NUL byte (\\0) at byte 2: expected text without "
     "NUL"},
    {"a NUL byte in a list item", "app = { name = \"x\", tags = { \"ok\", \"x\\0\" } }\n",
     "test.lua:1: app.tags[2]: the string has a NUL byte (\\0) at byte 2: expected text without "
     "NUL"},
    /* regression: an error() message wrote terminal escapes and extra lines */
    {"control characters in a message are escaped", "\nerror(\"a\\27[2J\\nb\\tc\")\n",
     "test.lua:2: a\\027[2J\\nb\\009c"},
    /* regression: a missing section was refused without a line */
    {"required section absent", "extra = { level = 1 }\n",
     "test.lua:1: app: missing section (required: app = { ... })"},
    {"optional section present without its required key", "app = { name = \"x\" }\nopt = { }\n",
     "test.lua:2: opt.url: missing, and required (where to look)"},
    {"table: wrong type", "app = { name = \"x\", limits = 5 }\n",
     "test.lua:1: app.limits: expected a table, got an integer"},
    {"list with named keys",
     "app = {\n  name = \"x\",\n  targets = {\n    name = \"a\",\n  },\n}\n",
     "test.lua:4: app.targets.name: expected a list of tables ({ {...}, {...} }), found a "
     "named key"},
    {"list item not a table", "app = {\n  name = \"x\",\n  targets = { \"a\" },\n}\n",
     "test.lua:3: app.targets[1]: expected a table (targets to watch), got string"},
    {"list: not a table", "app = { name = \"x\", targets = \"a\" }\n",
     "test.lua:1: app.targets: expected a list of tables ({ {...}, {...} }) (targets to "
     "watch), got string"},
    {"error inside list item 2 of a multi-line list points at the item's key",
     "app = {\n"
     "  name = \"x\",\n"
     "  targets = {\n"
     "    { name = \"a\", port = 1 },\n"
     "    {\n"
     "      name = \"b\",\n"
     "      port = 70000,\n"
     "    },\n"
     "  },\n"
     "}\n",
     "test.lua:7: app.targets[2].port: 70000 is out of range (TCP port, 1 to 65535)"},
    {"missing key inside list item 2 points at the item",
     "app = {\n  name = \"x\",\n  targets = {\n    { name = \"a\", port = 1 },\n"
     "    { name = \"b\" },\n  },\n}\n",
     "test.lua:5: app.targets[2].port: missing, and required (TCP port, 1 to 65535)"},
    {"strings: an item of the wrong type",
     "app = {\n  name = \"x\",\n  tags = {\n    \"a\",\n    2,\n  },\n}\n",
     "test.lua:5: app.tags[2]: expected a string (tag names), got an integer"},
    {"strings: not a table", "app = { name = \"x\", tags = \"a\" }\n",
     "test.lua:1: app.tags: expected a list of strings ({ \"...\", \"...\" }) (tag names), "
     "got string"},
    /* regression: a hole made the border ambiguous and the message said "named key" */
    {"strings: a hole", "app = {\n  name = \"x\",\n  tags = { \"a\", nil, \"c\" },\n}\n",
     "test.lua:3: app.tags[2]: missing item: expected a list of strings ({ \"...\", \"...\" }) "
     "without holes (nil)"},
    /* regression: a sparse index sized the allocation */
    {"strings: a far index", "app = { name = \"x\", tags = { [1000000000] = \"a\" } }\n",
     "test.lua:1: app.tags[1]: missing item: expected a list of strings ({ \"...\", \"...\" }) "
     "without holes (nil)"},
    {"labels: a value that is not a string",
     "app = {\n  name = \"x\",\n  labels = {\n    env = 1,\n  },\n}\n",
     "test.lua:4: app.labels.env: expected a string value, got an integer"},
    {"labels: a name that is not a label name",
     "app = {\n  name = \"x\",\n  labels = {\n    [\"bad-name\"] = \"v\",\n  },\n}\n",
     "test.lua:4: app.labels.bad-name: expected a label name ([a-zA-Z_][a-zA-Z0-9_]*, not "
     "starting with \"__\")"},
    {"labels: a reserved name", "app = { name = \"x\", labels = { __name__ = \"v\" } }\n",
     "test.lua:1: app.labels.__name__: expected a label name ([a-zA-Z_][a-zA-Z0-9_]*, not "
     "starting with \"__\")"},
    {"labels: a positional value", "app = { name = \"x\", labels = { \"v\" } }\n",
     "test.lua:1: app.labels[1]: expected label = \"value\", found a key that is not a name"},
    {"labels: wrong type", "app = { name = \"x\", labels = \"env=prod\" }\n",
     "test.lua:1: app.labels: expected a table of label = \"value\", got string"},
    {"Lua syntax error: the line comes from Lua", "app = {\n  name = \"x\"\n  enabled = true,\n}\n",
     "test.lua:3: '}' expected (to close '{' at line 1) near 'enabled'"},
    {"runtime error", "local x\n\napp = { name = x.y }\n",
     "test.lua:3: attempt to index a nil value (local 'x')"},
    {"error() from the config", "app = { name = \"x\" }\nerror(\"custom failure\")\n",
     "test.lua:2: custom failure"},
    {"error() with a table value", "error({})\n", "test.lua:1: (error object is a table value)"},
    {"reading an undefined global", "app = {\n  name = nmae,\n}\n",
     "test.lua:2: undefined variable 'nmae' (helpers must be declared 'local')"},
    {"assigning an unknown global", "app = { name = \"x\" }\nretries = 3\n",
     "test.lua:2: unknown section 'retries' (" SECTIONS ")"},
    {"a helper declared without local",
     "function helper(n)\n  return n\nend\napp = { name = helper(\"x\") }\n",
     "test.lua:1: unknown section 'helper' (" SECTIONS ")"},
    {"env() of an unset variable without default",
     "app = { name = env(\"DRWATCH_TEST_SURELY_UNSET\") }\n",
     "test.lua:1: environment variable 'DRWATCH_TEST_SURELY_UNSET' is not set"},
    {"an infinite loop stops at the 2 s budget", "app = { name = \"x\" }\nwhile true do end\n",
     "test.lua:2: timeout: script ran past its time budget (2000 ms)"},
    /* regression: one allocation past the cap was refused without a line */
    {"memory bomb: string.rep", "local s = string.rep(\"x\", 64 * 1024 * 1024)\n",
     NOMEM_AT("test.lua:1")},
    {"memory bomb: doubling a string", "local s = \"x\"\nwhile true do s = s .. s end\n",
     NOMEM_AT("test.lua:2")},
    {"memory bomb: table growth", "local t = {}\nfor i = 1, 1e9 do t[i] = { i } end\n",
     NOMEM_AT("test.lua:2")},
    {"memory bomb caught by pcall is still out of memory",
     "local ok = pcall(string.rep, \"x\", 1 << 30)\napp = { name = tostring(ok) }\n",
     NOMEM_AT("test.lua:1")},
    {"no io", "io.write(\"x\")\n",
     "test.lua:1: undefined variable 'io' (helpers must be declared 'local')"},
    {"no os.execute", "os.execute(\"true\")\n",
     "test.lua:1: attempt to call a nil value (field 'execute')"},
    {"no os.exit", "os.exit(1)\n", "test.lua:1: attempt to call a nil value (field 'exit')"},
    {"no os.getenv (env() is the way)", "local v = os.getenv(\"HOME\")\n",
     "test.lua:1: attempt to call a nil value (field 'getenv')"},
    {"no require", "local m = require(\"os\")\n",
     "test.lua:1: undefined variable 'require' (helpers must be declared 'local')"},
    {"no load", "local f = load(\"return 1\")\n",
     "test.lua:1: undefined variable 'load' (helpers must be declared 'local')"},
    {"no loadstring", "local f = loadstring(\"return 1\")\n",
     "test.lua:1: undefined variable 'loadstring' (helpers must be declared 'local')"},
    {"no dofile", "dofile(\"/etc/passwd\")\n",
     "test.lua:1: undefined variable 'dofile' (helpers must be declared 'local')"},
    {"no loadfile", "loadfile(\"/etc/passwd\")\n",
     "test.lua:1: undefined variable 'loadfile' (helpers must be declared 'local')"},
    {"no debug", "debug.sethook()\n",
     "test.lua:1: undefined variable 'debug' (helpers must be declared 'local')"},
    {"no package", "local p = package.loaded\n",
     "test.lua:1: undefined variable 'package' (helpers must be declared 'local')"},
    {"no getmetatable", "local mt = getmetatable(\"\")\n",
     "test.lua:1: undefined variable 'getmetatable' (helpers must be declared 'local')"},
    {"no setmetatable", "setmetatable({}, {})\n",
     "test.lua:1: undefined variable 'setmetatable' (helpers must be declared 'local')"},
    {"no rawset", "rawset(_ENV, \"x\", 1)\n",
     "test.lua:1: undefined variable 'rawset' (helpers must be declared 'local')"},
    {"no collectgarbage", "collectgarbage()\n",
     "test.lua:1: undefined variable 'collectgarbage' (helpers must be declared 'local')"},
    {"no coroutine", "coroutine.wrap(print)\n",
     "test.lua:1: undefined variable 'coroutine' (helpers must be declared 'local')"},
    {"no string.dump", "local b = string.dump(function() end)\n",
     "test.lua:1: attempt to call a nil value (field 'dump')"},
    /* regression: strings' metatable led to the whole string library */
    {"no string.dump through a string value", "local b = (\"\"):dump()\n",
     "test.lua:1: attempt to call a nil value (method 'dump')"},
    {"bytecode input is refused (text mode only)", "\x1bLua\x54\x00\x19\x93\r\n\x1a\n",
     "test.lua:1: " BYTECODE_MSG},
    {"a later section.key statement is where the value comes from",
     "app = {\n  name = \"x\",\n  retries = 1,\n}\napp.retries = 20\n",
     "test.lua:5: app.retries: 20 is out of range (0 to 10 retries)"},
    {"a computed value falls back to the enclosing key",
     "local function n() return 20 end\napp = {\n  name = \"x\",\n  limits = { max_conn = n() "
     "* 100 },\n}\n",
     "test.lua:4: app.limits.max_conn: 2000 is out of range: expected 1 to 1000"},
    {"of two equal keys in a constructor the last counts",
     "app = {\n  name = \"x\",\n  retries = 1,\n  retries = 12,\n}\n",
     "test.lua:4: app.retries: 12 is out of range (0 to 10 retries)"},
    {"comments, long strings and look-alikes do not fool config_locate",
     "--[[ app = {\n  retries = 99 } ]]\n"
     "-- app = { retries = 98 }\n"
     "local doc = [==[\n  app = { retries = 42 } }}} {{{\n]==]\n"
     "local s = \"app = { retries = \\\"{\\\" }\"\n"
     "app = {\n"
     "  name = \"x\", -- retries = 11\n"
     "  note = [[ retries = 1 ]],\n"
     "  retries = 11,\n"
     "}\n",
     "test.lua:10: app.note: unknown key (known keys: " KNOWN_APP_KEYS ")"},
    {"[\"key\"] = syntax is located",
     "app = {\n  [\"name\"] = \"x\",\n  [\"retries\"] =\n    20,\n}\n",
     "test.lua:3: app.retries: 20 is out of range (0 to 10 retries)"},
    {"a function body in a value does not end the field",
     "app = {\n  name = \"x\",\n  f = function() local a, retries = 1, 2 return a end,\n}\n",
     "test.lua:3: app.f: unknown key (known keys: " KNOWN_APP_KEYS ")"},
};

static void test_refusals(void)
{
    for (size_t i = 0; i < ARRAY_LEN(refusals); i++) {
        const struct refusal *r = &refusals[i];
        char err[1024];
        int64_t t0 = time_mono_ms();
        struct config *c = load(r->src, err, sizeof(err));
        int64_t ms = time_mono_ms() - t0;
        ok(c == NULL, "refused: %s", r->what);
        is_str(err, r->want, "  the message says where and what was expected");
        if (ms > 3000) diag("  took %lld ms", (long long)ms);
        ok(ms < 3000, "  and within the time budget");
        config_free(c);
    }
}

/* ---- accepted configs ---- */

static void test_defaults(void)
{
    char err[1024];
    struct config *c = load("app = { name = \"x\" }\n", err, sizeof(err));
    if (!ok(c != NULL, "a minimal config loads")) {
        diag("%s", err);
        return;
    }
    bool present = true;
    const struct app_config *a = config_module(c, "app", &present);
    ok(present, "app is present");
    is_str(a->name, "x", "name");
    ok(a->enabled, "enabled defaults to true");
    is_int(a->retries, 3, "retries defaults to 3");
    ok(a->ratio == 0.5, "ratio defaults to 0.5");
    is_int(a->timeout_ms, 5000, "timeout defaults to 5s");
    is_int(a->mode, 1, "mode defaults to safe");
    is_int(a->limits.max_conn, 100, "absent nested table: defaults (max_conn)");
    ok(a->limits.ratio == 0.25, "absent nested table: defaults (ratio)");
    is_int(a->targets.n, 0, "no targets");
    is_int(a->tags.n, 0, "no tags");
    is_int(a->labels.n, 0, "no labels");
    const struct extra_config *e = config_module(c, "extra", &present);
    ok(!present, "extra is absent");
    is_int(e->level, 7, "absent section: int default");
    is_str(e->note, "none", "absent section: string default");
    ok(config_module(c, "nope", &present) == NULL && !present, "unknown module: NULL");
    is_str(config_path(c), "test.lua", "config_path is the name");
    config_free(c);
}

static void test_full(void)
{
    static const char src[] =
        "\xef\xbb\xbf-- a full config (with a UTF-8 byte order mark)\n"
        "local function target(name, port, tls)\n"
        "  return { name = name, port = port, tls = tls }\n"
        "end\n"
        "local list = {}\n"
        "for i = 1, 3 do list[#list + 1] = target(\"t\" .. i, 8000 + i, i == 2) end\n"
        "app = {\n"
        "  name = env(\"DRWATCH_TEST_NAME\", \"fallback\"),\n"
        "  enabled = false,\n"
        "  retries = 10.0,\n"
        "  ratio = 1,\n"
        "  timeout = \"1m\",\n"
        "  mode = \"off\",\n"
        "  limits = { max_conn = 1000, ratio = -2.5 },\n"
        "  targets = list,\n"
        "  tags = { \"a\", \"b\" .. \"c\" },\n"
        "  labels = { zone = \"z1\", env = env(\"DRWATCH_TEST_SURELY_UNSET\", \"prod\"), a_1 = "
        "\"\" },\n"
        "  free_number = -1e300,\n"
        "  free_duration = \"1h1m1s1ms\",\n"
        "}\n"
        "extra = { level = app.retries * 2, note = [[ {a = 1} ]] }\n"
        "app.tags[#app.tags + 1] = \"d\"\n";
    setenv("DRWATCH_TEST_NAME", "from-env", 1);
    char err[1024];
    struct config *c = load(src, err, sizeof(err));
    unsetenv("DRWATCH_TEST_NAME");
    if (!ok(c != NULL, "a full config with helpers, loops and env() loads")) {
        diag("%s", err);
        return;
    }
    const struct app_config *a = config_module(c, "app", NULL);
    is_str(a->name, "from-env", "env() reads the environment");
    ok(!a->enabled, "bool false");
    is_int(a->retries, 10, "an integral float is an integer");
    ok(a->ratio == 1.0, "an integer is a number");
    is_int(a->timeout_ms, 60000, "\"1m\"");
    is_int(a->mode, 2, "enum off");
    is_int(a->limits.max_conn, 1000, "nested int");
    ok(a->limits.ratio == -2.5, "nested number");
    is_int(a->targets.n, 3, "a list built by a loop");
    if (a->targets.n == 3) {
        const struct target *t = a->targets.items;
        is_str(t[0].name, "t1", "list item 1 name");
        is_int(t[2].port, 8003, "list item 3 port");
        ok(!t[0].tls && t[1].tls && !t[2].tls, "list item bools (default and set)");
    }
    is_int(a->tags.n, 3, "strings, one added by a statement");
    if (a->tags.n == 3) {
        is_str(a->tags.v[1], "bc", "computed string");
        is_str(a->tags.v[2], "d", "appended string");
    }
    is_int(a->labels.n, 3, "labels");
    if (a->labels.n == 3) {
        is_str(a->labels.names[0], "a_1", "labels sorted by name (1)");
        is_str(a->labels.names[1], "env", "labels sorted by name (2)");
        is_str(a->labels.values[1], "prod", "env() default");
        is_str(a->labels.values[0], "", "empty label value");
    }
    ok(a->free_number == -1e300, "number without a range");
    is_int(a->free_duration_ms, 3661001, "\"1h1m1s1ms\"");
    const struct extra_config *e = config_module(c, "extra", NULL);
    is_int(e->level, 20, "a value computed from another section");
    is_str(e->note, " {a = 1} ", "a long string with braces");
    config_free(c);
}

static void test_durations(void)
{
    static const struct {
        const char *value;
        int64_t ms;
    } cases[] = {
        {"\"15s\"", 15000}, {"\"1m30s\"", 90000}, {"\"500ms\"", 500},  {"\"100ms\"", 100},
        {"2", 2000},        {"0.25", 250},        {"60", 60000},       {"\"1m\"", 60000},
        {"0", 0},           {"\"0s\"", 0},        {"\"2h\"", 7200000}, {"\"1d\"", 86400000},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char src[128], err[512];
        snprintf(src, sizeof(src), "app = { name = \"x\", free_duration = %s }\n", cases[i].value);
        struct config *c = load(src, err, sizeof(err));
        if (!ok(c != NULL, "duration %s loads", cases[i].value)) {
            diag("%s", err);
            continue;
        }
        const struct app_config *a = config_module(c, "app", NULL);
        is_int(a->free_duration_ms, cases[i].ms, "duration %s is %lld ms", cases[i].value,
               (long long)cases[i].ms);
        config_free(c);
    }
}

static void test_accepted_misc(void)
{
    static const struct {
        const char *what, *src;
    } cases[] = {
        {"[\"key\"] = syntax", "app = { [\"name\"] = \"x\", [\"retries\"] = 2 }\n"},
        {"a section built up by statements", "app = {}\napp.name = \"x\"\napp.retries = 4\n"},
        {"_ENV.section", "_ENV.app = { name = \"x\" }\n"},
        {"semicolons and trailing separators", "app = { name = \"x\"; retries = 1; };\n"},
        {"of two equal keys the last counts", "app = { name = 5, name = \"x\" }\n"},
        {"an empty list and empty labels", "app = { name = \"x\", targets = {}, labels = {} }\n"},
        {"pcall of an ordinary error is fine",
         "local ok, e = pcall(error, \"x\")\napp = { name = e }\n"},
        {"string functions", "app = { name = (\"a,b,c\"):gsub(\",\", \";\"):upper() }\n"},
        {"CRLF line ends", "app = {\r\n  name = \"x\",\r\n}\r\n"},
        /* regression: an allocation that failed once and succeeded after Lua's emergency
         * collection made the whole config "out of memory" */
        {"churning garbage near the heap cap",
         "for i = 1, 4 do local s = string.rep(\"x\", 12 * 1024 * 1024) end\n"
         "app = { name = \"x\" }\n"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char err[1024];
        struct config *c = load(cases[i].src, err, sizeof(err));
        if (!ok(c != NULL, "accepted: %s", cases[i].what)) diag("%s", err);
        config_free(c);
    }
    char err[512];
    struct config *c = load("app = { [\"name\"] = \"x\", [\"retries\"] = 2 }\n", err, 512);
    if (c)
        is_int(((const struct app_config *)config_module(c, "app", NULL))->retries, 2,
               "[\"retries\"] = 2 is read");
    config_free(c);
}

/* Lua shortens long source names; messages must carry the whole one. */
static void test_long_name(void)
{
    char name[200], want[400], err[1024];
    memset(name, 'd', 150);
    strcpy(name + 150, "/drwatch.lua");
    const char *src = "app = { name = \"x\" }\nwhile nope do end\n";
    struct config *c = config_load_buffer(src, strlen(src), name, mods, NMODS, err, sizeof(err));
    snprintf(want, sizeof(want),
             "%s:2: undefined variable 'nope' (helpers must be declared "
             "'local')",
             name);
    ok(c == NULL, "refused with a long file name");
    is_str(err, want, "  the whole file name is in the runtime error");
    src = "app = {\n";
    c = config_load_buffer(src, strlen(src), name, mods, NMODS, err, sizeof(err));
    snprintf(want, sizeof(want), "%s:2: unexpected symbol near <eof>", name);
    is_str(err, want, "  and in the syntax error");
    config_free(c);
}

/* ---- config_locate ---- */

struct locate_case {
    const char *what;
    const char *src;
    const char *path[4];
    unsigned want;
};

static const struct locate_case locates[] = {
    {"top level", "x = 1\napp = {\n  name = 1,\n}\n", {"app"}, 2},
    {"a key", "app = {\n  name = 1,\n}\n", {"app", "name"}, 2},
    {"a missing key gives the table", "app = {\n  name = 1,\n}\n", {"app", "port"}, 1},
    {"nothing", "x = 1\n", {"app"}, 0},
    {"local is not a section", "local app = {\n name = 1 }\n", {"app", "name"}, 0},
    {"field access is not a section", "t.app = {\n name = 1 }\n", {"app", "name"}, 0},
    {"inside a block is not found",
     "if true then\n  app = { name = 1 }\nend\n",
     {"app", "name"},
     0},
    {"the last assignment wins",
     "app = { name = 1 }\n\napp = {\n  name = 2 }\n",
     {"app", "name"},
     4},
    {"a statement a.b = ", "app = { name = 1 }\napp.name = 2\n", {"app", "name"}, 2},
    {"a statement for another key does not count",
     "app = {\n name = 1 }\napp.port = 2\n",
     {"app", "name"},
     2},
    {"a[\"b\"] = statement", "app = {}\napp[\"name\"] = 2\n", {"app", "name"}, 2},
    {"positional items", "l = {\n  { a = 1 },\n  {\n    a = 2 },\n}\n", {"l", "[2]", "a"}, 4},
    {"positional items skip keyed fields",
     "l = { k = 1,\n \"x\",\n [\"a\" .. \"b\"] = 1,\n \"y\" }\n",
     {"l", "[2]"},
     4},
    {"explicit [2] = ", "l = {\n  [2] = 5,\n}\n", {"l", "[2]"}, 2},
    {"[2.0] is [2]", "l = {\n  [2.0] = 5,\n}\n", {"l", "[2]"}, 2},
    {"[true] = ", "l = {\n  [true] = 5,\n}\n", {"l", "[true]"}, 2},
    {"escapes in a key",
     "t = {\n  [\"na\\x6de\"] = 1,\n  [\"\\110\\97me2\"] = 2 }\n",
     {"t", "name2"},
     3},
    {"\\u{} in a key", "t = {\n  [\"caf\\u{E9}\"] = 1 }\n", {"t", "caf\xc3\xa9"}, 2},
    {"a long-string key", "t = {\n  [ [[odd key]] ] = 1 }\n", {"t", "odd key"}, 2},
    {"\\z and \\<newline> in a string count lines",
     "s = \"a\\z\n   b\\\n c\"\nt = {\n  k = 1 }\n",
     {"t", "k"},
     5},
    {"an escaped quote does not end a string", "s = \"a\\\"{\"\nt = {\n  k = 1 }\n", {"t", "k"}, 3},
    {"long comments count lines", "--[==[\n}\n]]\n]==]\nt = {\n  k = 1 }\n", {"t", "k"}, 6},
    {"CR LF", "t = {\r\n  a = 1,\r\n  k = 2 }\r\n", {"t", "k"}, 3},
    {"lone CR", "t = {\r  a = 1,\r  k = 2 }\r", {"t", "k"}, 3},
    {"== is not =", "t = {\n  k == 1,\n  k = 2 }\n", {"t", "k"}, 3},
    {"numbers with exponents", "t = { 1e-5, 0x1p-4,\n  k = 1 }\n", {"t", "k"}, 2},
    {"functions in values",
     "t = { f = function() local k = 1 return {k = 2} end,\n  k = 3 }\n",
     {"t", "k"},
     2},
    {"unfinished: [", "app = {[", {"app", "x"}, 1},
    {"unfinished: [[", "app = {[[", {"app", "x"}, 1},
    {"unfinished: string", "app = { name = \"abc", {"app", "name"}, 1},
    {"unfinished: escape at the end", "app = { [\"a\\", {"app", "a"}, 1},
    {"stray closers", "end end } ) ]\napp = {\n name = 1 }\n", {"app", "name"}, 3},
    {"empty", "", {"app"}, 0},
};

static void test_locate(void)
{
    for (size_t i = 0; i < ARRAY_LEN(locates); i++) {
        const struct locate_case *l = &locates[i];
        size_t depth = 0;
        while (depth < 4 && l->path[depth]) depth++;
        is_int(config_locate(l->src, strlen(l->src), l->path, depth), l->want, "locate: %s",
               l->what);
    }
    const char *p[] = {"app"};
    is_int(config_locate("app = 1", 7, p, 0), 0, "locate: depth 0");
    /* Exactly at a power of two tokens, so that reading past the end would be caught. */
    char buf[600];
    size_t n = 0;
    for (int i = 0; i < 252; i++) buf[n++] = ';';
    memcpy(buf + n, "app={[", 6);
    n += 6;
    const char *q[] = {"app", "x"};
    is_int(config_locate(buf, n, q, 2), 1, "locate: lookahead at the end of the tokens");
}

/* ---- files ---- */

static void test_files(void)
{
    char dir[] = "/tmp/drwatch-test-config-XXXXXX";
    if (!ok(mkdtemp(dir) != NULL, "temp dir")) return;
    char *good = xasprintf("%s/good.lua", dir), *bad = xasprintf("%s/bad.lua", dir);
    char *big = xasprintf("%s/big.lua", dir), *none = xasprintf("%s/none.lua", dir);
    FILE *f = fopen(good, "w");
    fputs("app = {\n  name = \"file\",\n}\n", f);
    fclose(f);
    f = fopen(bad, "w");
    fputs("app = {\n  name = \"file\",\n  retries = -1,\n}\n", f);
    fclose(f);
    f = fopen(big, "w");
    fputs("app = { name = \"x\" }\n", f);
    for (int i = 0; i < 1100; i++) {
        char line[1025];
        memset(line, '-', 1023);
        line[1023] = '\n';
        line[1024] = '\0';
        fputs(line, f);
    }
    fclose(f);
    char err[1024], want[512];
    struct config *c = config_load(good, mods, NMODS, err, sizeof(err));
    ok(c != NULL, "a real file loads");
    if (c) {
        is_str(((const struct app_config *)config_module(c, "app", NULL))->name, "file",
               "  with its values");
        is_str(config_path(c), good, "  config_path is the file");
    }
    config_free(c);
    c = config_load(bad, mods, NMODS, err, sizeof(err));
    snprintf(want, sizeof(want), "%s:3: app.retries: -1 is out of range (0 to 10 retries)", bad);
    ok(c == NULL, "a bad file is refused");
    is_str(err, want, "  with file:line");
    c = config_load(none, mods, NMODS, err, sizeof(err));
    snprintf(want, sizeof(want), "%s: cannot read: No such file or directory", none);
    ok(c == NULL, "a missing file is refused");
    is_str(err, want, "  saying so");
    c = config_load(big, mods, NMODS, err, sizeof(err));
    /* regression: refused without a line or the limit */
    snprintf(want, sizeof(want),
             "%s:1: the file is larger than 1 MiB (1126421 bytes): a config may be at most 1 MiB "
             "(1048576 bytes); keep large data in the files it names",
             big);
    ok(c == NULL, "a file over 1 MiB is refused");
    is_str(err, want, "  saying so");
    c = config_load(dir, mods, NMODS, err, sizeof(err));
    ok(c == NULL && strstr(err, "cannot read") != NULL, "a directory is refused: %s", err);
    unlink(good);
    unlink(bad);
    unlink(big);
    rmdir(dir);
    free(good);
    free(bad);
    free(big);
    free(none);
}

/* ---- the sandbox itself ---- */

static size_t probe_max_used;
static struct luabox *probe_box;

static int probe_mem(lua_State *L)
{
    size_t u = luabox_mem_used(probe_box);
    if (u > probe_max_used) probe_max_used = u;
    lua_pushinteger(L, (lua_Integer)u);
    return 1;
}

struct box_run {
    enum luabox_outcome o;
    char err[512];
    int64_t ms;
    size_t used;
    char result[512];
};

static struct box_run run_box(const char *src, size_t cap, int64_t timeout_ms)
{
    struct box_run r = {.o = LUABOX_ERROR};
    struct luabox *b = luabox_new(cap);
    if (!b) {
        snprintf(r.err, sizeof(r.err), "luabox_new failed");
        return r;
    }
    lua_State *L = luabox_state(b);
    probe_box = b;
    probe_max_used = 0;
    luabox_new_env(b);
    lua_pushcfunction(L, probe_mem);
    lua_setfield(L, -2, "mem_used");
    int64_t t0 = time_mono_ms();
    r.o = luabox_load(b, src, strlen(src), "@box.lua", -1, r.err, sizeof(r.err));
    if (r.o == LUABOX_OK) {
        r.o = luabox_call(b, 0, 1, timeout_ms, r.err, sizeof(r.err));
        if (r.o == LUABOX_OK) {
            const char *s = lua_tostring(L, -1);
            snprintf(r.result, sizeof(r.result), "%s", s ? s : "(not a string)");
            lua_pop(L, 1);
        }
    }
    r.ms = time_mono_ms() - t0;
    r.used = luabox_mem_used(b);
    is_int(lua_gettop(L), 1, "  the stack holds only the environment afterwards");
    luabox_free(b);
    return r;
}

static void test_box_timeouts(void)
{
    static const struct {
        const char *what, *src, *want;
    } cases[] = {
        {"a plain loop", "local n = 0\nwhile true do n = n + 1 end\n",
         "box.lua:2: timeout: script ran past its time budget (50 ms)"},
        {"pcall catching the timeout in a loop",
         "while true do\n  pcall(function() while true do end end)\nend\n",
         "box.lua:2: timeout: script ran past its time budget (50 ms)"},
        {"pcall of error in a loop", "for i = 1, math.maxinteger do\n  pcall(error, i)\nend\n",
         NULL},
        {"xpcall with a handler that loops",
         "while true do\n  xpcall(function() while true do end end, function() while true do "
         "end end)\nend\n",
         NULL},
        /* regression: the timeout is raised in the count hook, and Lua ran the script's
         * message handler from there with hooks disabled: a looping handler never stopped */
        {"xpcall whose handler loops after an ordinary error",
         "while true do\n  xpcall(error, function() while true do end end, \"x\")\nend\n", NULL},
        {"a loop inside a pcall'd error handler chain",
         "local function f() return pcall(f) end\nwhile true do f() end\n", NULL},
        /* regression: these ran in C without returning to the VM and ignored the deadline */
        {"string.rep of empty strings", "return string.rep(\"\", math.maxinteger)\n", "ok"},
        {"string.rep of empty strings with a loop", "while true do string.rep(\"\", 1e6) end\n",
         NULL},
        {"table.move over a huge empty range", "table.move({}, 1, math.maxinteger - 1, 1, {})\n",
         NULL},
        {"a backtracking pattern",
         "return string.find(string.rep(\"a\", 40), string.rep(\"a*\", 40) .. \"b\")\n",
         "box.lua:1: timeout: script ran past its time budget (50 ms)"},
        {"a backtracking pattern through a string method",
         "local s = (\"a\"):rep(40)\nreturn s:match((\"a-\"):rep(40) .. \"$b\")\n", NULL},
        {"a backtracking gsub in pcall",
         "while true do pcall(string.gsub, (\"a\"):rep(30), (\"a*\"):rep(30) .. \"b\", \"\") end\n",
         NULL},
        {"gmatch over a long subject",
         "for m in ((\"a\"):rep(30)):gmatch((\"a?\"):rep(30) .. \"b\") do end\n", NULL},
        {"concatenating large strings",
         "local s = (\"x\"):rep(1e6)\nwhile true do local t = s "
         ".. s end\n",
         NULL},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct box_run r = run_box(cases[i].src, 32u << 20, 50);
        bool want_ok = cases[i].want && strcmp(cases[i].want, "ok") == 0;
        if (want_ok) {
            ok(r.o == LUABOX_OK, "box: %s is fine (%s)", cases[i].what, r.err);
        } else {
            is_str(luabox_outcome_name(r.o), "timeout", "box: %s: timeout", cases[i].what);
            if (cases[i].want)
                is_str(r.err, cases[i].want, "  message");
            else
                ok(strstr(r.err, "timeout: script ran past its time budget (50 ms)") != NULL,
                   "  message: %s", r.err);
        }
        ok(r.ms < 1000, "  stopped in %lld ms", (long long)r.ms);
    }
}

static void test_box_memory(void)
{
    const size_t cap = 4u << 20;
    static const struct {
        const char *what, *src;
        enum luabox_outcome want;
        const char *where; /* what an out-of-memory report names: where the allocation that
                            * failed was asked for, however large (regression: a single
                            * allocation past the cap used to give no line) */
    } cases[] = {
        {"string.rep past the cap", "return string.rep(\"x\", 8 * 1024 * 1024)\n", LUABOX_NOMEM,
         "box.lua:1"},
        {"table growth", "local t = {}\nfor i = 1, 1e9 do t[i] = mem_used() end\n", LUABOX_NOMEM,
         "box.lua:2"},
        {"pcall catching out-of-memory",
         "local ok, e = pcall(string.rep, \"x\", 8 * 1024 * 1024)\nreturn tostring(ok)\n",
         LUABOX_NOMEM, "box.lua:1"},
        {"pcall catching out-of-memory in a loop",
         "local t = {}\nwhile true do\n  pcall(function() t[#t + 1] = (\"x\"):rep(1e5) .. #t "
         "end)\nend\n",
         LUABOX_NOMEM, "box.lua:3"},
        {"xpcall catching out-of-memory",
         "return tostring(xpcall(string.rep, function(e) return e end, \"x\", 1 << 30))\n",
         LUABOX_NOMEM, "box.lua:1"},
        /* regression: a failed allocation retried after an emergency collection was counted
         * as out-of-memory although the script went on fine */
        {"churning garbage near the cap",
         "for i = 1, 60 do local s = string.rep(\"x\", 1500000) end\nreturn \"done\"\n", LUABOX_OK,
         NULL},
        /* Lua's stack grows past the 4 MiB heap before its own 1M-slot limit */
        {"deep recursion", "local function f(n) return 1 + f(n + 1) end\nreturn f(1)\n",
         LUABOX_NOMEM, "box.lua:1"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct box_run r = run_box(cases[i].src, cap, 2000);
        is_str(luabox_outcome_name(r.o), luabox_outcome_name(cases[i].want), "box: %s",
               cases[i].what);
        if (r.o == LUABOX_NOMEM) {
            char want[160];
            snprintf(want, sizeof(want),
                     "%s: not enough memory: the script's heap is limited to 4 MiB",
                     cases[i].where);
            is_str(r.err, want, "  message names %s", cases[i].where);
        } else if (r.o != LUABOX_OK)
            diag("  %s", r.err);
        ok(r.used <= cap && probe_max_used <= cap,
           "  luabox_mem_used stayed under the cap "
           "(%zu, max seen %zu)",
           r.used, probe_max_used);
    }
    /* Tiny caps: NULL or a working box, never a panic. */
    for (size_t c = 256; c <= (256u << 10); c *= 4) {
        struct luabox *b = luabox_new(c);
        if (b) {
            luabox_new_env(b);
            char err[256];
            const char *src = "return 1";
            enum luabox_outcome o = luabox_load(b, src, strlen(src), "=tiny", -1, err, 256);
            if (o == LUABOX_OK) o = luabox_call(b, 0, 0, 100, err, sizeof(err));
            ok(luabox_mem_used(b) <= c, "a %zu-byte box runs or fails softly (%s)", c,
               luabox_outcome_name(o));
        } else {
            ok(1, "a %zu-byte box is refused", c);
        }
        luabox_free(b);
    }
    luabox_free(NULL);
    ok(1, "luabox_free(NULL)");
}

/* Regression: Lua's parser stops deep nesting with "C stack overflow" and no position, so such a
 * file was refused without a line. One "{" per line: the line is where the nesting got too
 * deep (about 200 levels, with line 1 holding "local t =", so near line 200). */
static void test_box_parser_depth(void)
{
    struct buf src;
    buf_init(&src, 16 << 20);
    buf_puts(&src, "local t =\n");
    for (int i = 0; i < 300; i++) buf_puts(&src, "{\n");
    for (int i = 0; i < 300; i++) buf_puts(&src, "}\n");
    struct box_run r = run_box(src.data, 4u << 20, 1000);
    int line = 0;
    sscanf(r.err, "box.lua:%d:", &line);
    ok(r.o == LUABOX_ERROR && line > 150 && line <= 301 && strstr(r.err, "nested too deeply"),
       "box: nesting past the parser's C stack is refused at its line: %s", r.err);
    buf_free(&src);
}

static void test_box_positions(void)
{
    static const struct {
        const char *what, *src, *want;
    } cases[] = {
        {"a runtime error in a function",
         "local function f()\n  local t = nil\n  return t.x\nend\nreturn f()\n",
         "box.lua:3: attempt to index a nil value (local 't')"},
        {"error() with a string", "\nerror(\"boom\")\n", "box.lua:2: boom"},
        {"error() at level 0 still gets a position", "\n\nerror(\"bare\", 0)\n", "box.lua:3: bare"},
        {"error() with a table", "error({ code = 1 })\n",
         "box.lua:1: (error object is a table value)"},
        {"error() with a number", "error(42, 0)\n", "box.lua:1: 42"},
        {"a bad argument to a C function", "\nreturn string.rep()\n",
         "box.lua:2: bad argument #1 to 'rep' (string expected, got no value)"},
        {"a bad argument to a budgeted string function", "return (\"x\"):find(\"%\")\n",
         "box.lua:1: malformed pattern (ends with '%')"},
        {"a syntax error", "local x = = 1\n", "box.lua:1: unexpected symbol near '='"},
        /* regression: bytecode was refused without a line or a word on what is allowed */
        {"bytecode", "\x1bLua", "box.lua:1: " BYTECODE_MSG},
        {"sandbox: no print", "print(1)\n",
         "box.lua:1: attempt to call a nil value (global 'print')"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct box_run r = run_box(cases[i].src, 4u << 20, 1000);
        is_str(luabox_outcome_name(r.o), "error", "box: %s is an error", cases[i].what);
        is_str(r.err, cases[i].want, "  with source:line:");
    }
    struct box_run r = run_box("return (\"abc\"):upper() .. tostring(math.pi > 3) .. "
                               "os.date(\"!%Y\", 0) .. #string.rep(\"ab\", 3, \",\")",
                               4u << 20, 1000);
    is_str(r.result, "ABCtrue19708", "the allowed library works (%s)", r.err);
    r = run_box("local ok, a, b = pcall(function(x, y) return x + y, x * y end, 3, 4)\n"
                "local ok2, e = xpcall(error, function(m) return \"handled \" .. m end, "
                "\"m\", 0)\n"
                "return tostring(ok) .. a .. b .. tostring(ok2) .. e\n",
                4u << 20, 1000);
    is_str(r.result, "true712falsehandled m", "pcall and xpcall return what Lua's do (%s)", r.err);
    r = run_box("local t = table.move({1, 2, 3}, 1, 3, 2)\n"
                "local u = table.move({1, 2, 3}, 2, 3, 1, {9})\n"
                "return table.concat(t, \",\") .. \";\" .. table.concat(u, \",\")\n",
                4u << 20, 1000);
    is_str(r.result, "1,1,2,3;2,3", "table.move moves (%s)", r.err);
    test_box_parser_depth();
}

/* ---- the budgeted string functions against Lua's own ---- */

static const char diff_prelude[] =
    "local function ser(ok, ...)\n"
    "  local out = { tostring(ok) }\n"
    "  for i = 1, select('#', ...) do\n"
    "    local v = select(i, ...)\n"
    "    out[#out + 1] = type(v) .. ':' .. tostring(v)\n"
    "  end\n"
    "  return table.concat(out, '|')\n"
    "end\n"
    "local function all(f, ...)\n"
    "  local out = {}\n"
    "  for a, b, c in f(...) do out[#out + 1] = tostring(a) .. ',' .. tostring(b) .. ',' .. "
    "tostring(c) end\n"
    "  return table.concat(out, ';')\n"
    "end\n"
    "local S, P = ...\n"
    "local R = {}\n"
    "R[1] = ser(pcall(string.find, S, P))\n"
    "R[2] = ser(pcall(string.find, S, P, 2))\n"
    "R[3] = ser(pcall(string.find, S, P, -3, true))\n"
    "R[4] = ser(pcall(string.match, S, P))\n"
    "R[5] = ser(pcall(string.match, S, P, -2))\n"
    "R[6] = ser(pcall(string.gsub, S, P, '<%0>'))\n"
    "R[7] = ser(pcall(string.gsub, S, P, '%1%%', 2))\n"
    "R[8] = ser(pcall(string.gsub, S, P, { a = 'A', ab = false }))\n"
    "R[9] = ser(pcall(string.gsub, S, P, function(x, y) if y then return y .. x end end))\n"
    "R[10] = ser(pcall(all, string.gmatch, S, P))\n"
    "R[11] = ser(pcall(all, string.gmatch, S, P, 3))\n"
    "R[12] = ser(pcall(string.rep, S, 3, P))\n"
    "return table.concat(R, '\\n')\n";

static int diff_native(lua_State *N, const char *s, size_t ls, const char *p, size_t lp, char **out)
{
    if (luaL_loadbufferx(N, diff_prelude, sizeof(diff_prelude) - 1, "=t", "t") != LUA_OK) return -1;
    lua_pushlstring(N, s, ls);
    lua_pushlstring(N, p, lp);
    if (lua_pcall(N, 2, 1, 0) != LUA_OK) {
        *out = xasprintf("native error: %s", lua_tostring(N, -1));
    } else {
        *out = xstrdup(lua_tostring(N, -1));
    }
    lua_pop(N, 1);
    return 0;
}

static int diff_box(struct luabox *b, const char *s, size_t ls, const char *p, size_t lp,
                    char **out)
{
    lua_State *L = luabox_state(b);
    char err[512];
    luabox_new_env(b);
    if (luabox_load(b, diff_prelude, sizeof(diff_prelude) - 1, "=t", -1, err, sizeof(err)) !=
        LUABOX_OK) {
        lua_pop(L, 1);
        return -1;
    }
    lua_remove(L, -2);
    lua_pushlstring(L, s, ls);
    lua_pushlstring(L, p, lp);
    if (luabox_call(b, 2, 1, 2000, err, sizeof(err)) != LUABOX_OK) {
        *out = xasprintf("native error: %s", err);
    } else {
        *out = xstrdup(lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    return 0;
}

static uint32_t rng_state = 12345;

static uint32_t rng(uint32_t n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) % n;
}

static void test_string_differential(void)
{
#define LIT(x) x, sizeof(x) - 1
    static const struct {
        const char *s;
        size_t ls;
        const char *p;
        size_t lp;
    } fixed[] = {
        {LIT("hello world from lua"), LIT("(%w+) (%w+)")},
        {LIT("key = value"), LIT("^(%w+)%s*=%s*(%w+)$")},
        {LIT("  trim me  "), LIT("^%s*(.-)%s*$")},
        {LIT("f(a(b)c)d"), LIT("%b()")},
        {LIT("THE (quick) fox"), LIT("%f[%a]%a+")},
        {LIT("hello"), LIT("()ll()")},
        {LIT("abcabc"), LIT("(abc)%1")},
        {LIT("x = [[y]]"), LIT("[%[%]]+")},
        {LIT("a.b-c"), LIT("[.-]")},
        {LIT("a]b"), LIT("[]]")},
        {LIT("a^b"), LIT("[^^]")},
        {LIT("a-b"), LIT("[a-]")},
        {LIT("2024-01-02"), LIT("(%d+)-(%d+)-(%d+)")},
        {LIT("aaa"), LIT("a-b")},
        {LIT("aaa"), LIT("a-$")},
        {LIT("aaa"), LIT("^a?a?a?a?$")},
        {LIT(""), LIT("")},
        {LIT("abc"), LIT("")},
        {LIT("abc"), LIT("^")},
        {LIT("abc"), LIT("$")},
        {LIT("a$b"), LIT("$b")},
        {LIT("abc"), LIT("%")},
        {LIT("abc"), LIT("[a")},
        {LIT("abc"), LIT("[%")},
        {LIT("abc"), LIT("(a")},
        {LIT("abc"), LIT("a)")},
        {LIT("abc"), LIT("%1")},
        {LIT("abc"), LIT("(a)%2")},
        {LIT("abc"), LIT("%b")},
        {LIT("abc"), LIT("%ba")},
        {LIT("abc"), LIT("%f")},
        {LIT("abc"), LIT("%fa")},
        {LIT("abc"), LIT("%g%G%p%P%c%C%x%X%u%U%l%L%z")},
        {LIT("a\0b\0c"), LIT("%z")},
        {LIT("a\0b"), LIT("\0")},
        {LIT("a\0b"), LIT("[\0]")},
        {LIT("one two  three"), LIT("%S+")},
        {LIT("x"), LIT("((((((((((((((((((((((((((((((((x))))))))))))))))))))))))))))))))")},
        {LIT("x"), LIT("(((((((((((((((((((((((((((((((x)))))))))))))))))))))))))))))))")},
        {LIT("hello"), LIT("()")},
        {LIT("hello"), LIT("(h)(e)(l)(l)(o)")},
        {LIT("abc"), LIT("%0")},
        {LIT("\xff\x80 high"), LIT("[\x80-\xff]+")},
    };
    lua_State *N = luaL_newstate();
    luaL_openlibs(N);
    struct luabox *b = luabox_new(32u << 20);
    size_t same = 0, total = 0;
    char *first_diff = NULL;
    for (size_t i = 0; i < ARRAY_LEN(fixed) + 3000; i++) {
        char sbuf[16], pbuf[16];
        const char *s, *p;
        size_t ls, lp;
        if (i < ARRAY_LEN(fixed)) {
            s = fixed[i].s;
            ls = fixed[i].ls;
            p = fixed[i].p;
            lp = fixed[i].lp;
        } else { /* random patterns from pieces, random subjects from a small alphabet */
            static const char *const pieces[] = {
                "a",  "b",    ".",     "%a", "%d", "[ab]", "[^a]", "*", "+", "-", "?",  "(",    ")",
                "()", "%b()", "%f[a]", "%1", "^",  "$",    "%",    "[", "]", "1", "%s", "[%a-]"};
            static const char alphabet[] = "aab(1) ]";
            lp = 0;
            for (uint32_t n = 1 + rng(5); n > 0; n--) {
                const char *piece = pieces[rng(ARRAY_LEN(pieces))];
                size_t l = strlen(piece);
                if (lp + l >= sizeof(pbuf)) break;
                memcpy(pbuf + lp, piece, l);
                lp += l;
            }
            ls = rng(9);
            for (size_t k = 0; k < ls; k++) sbuf[k] = alphabet[rng(sizeof(alphabet) - 1)];
            s = sbuf;
            p = pbuf;
        }
        char *want = NULL, *got = NULL;
        if (diff_native(N, s, ls, p, lp, &want) == 0 && diff_box(b, s, ls, p, lp, &got) == 0) {
            total++;
            if (strcmp(want, got) == 0)
                same++;
            else if (!first_diff)
                first_diff = xasprintf("subject \"%.*s\" pattern \"%.*s\":\n%s\n-- vs --\n%s",
                                       (int)ls, s, (int)lp, p, want, got);
        }
        free(want);
        free(got);
        lua_settop(luabox_state(b), 0);
    }
    ok(total > 3000 && same == total,
       "the budgeted find/match/gmatch/gsub/rep agree with Lua's on %zu of %zu inputs", same,
       total);
    if (first_diff) diag("first difference: %s", first_diff);
    free(first_diff);
    luabox_free(b);
    lua_close(N);
}

/* ---- optional tables, presence, nesting (for schemas made at run time: alerts/) ---- */

struct plug_a {
    char *url;
    int64_t n;
};

struct plug_b {
    bool on;
};

struct node {
    char *name;
    int64_t wait_ms;
    struct cfg_list kids;
    bool wait_set;
};

struct tree_config {
    void *a, *b; /* CFG_OPTIONAL */
    struct node root;
};

static const struct cfg_key plug_a_keys[] = {
    {.name = "url", .type = CFG_STRING, .offset = offsetof(struct plug_a, url), .required = true},
    {.name = "n", .type = CFG_INT, .offset = offsetof(struct plug_a, n), .def = "5"},
    CFG_END,
};

static const struct cfg_key plug_b_keys[] = {
    {.name = "on", .type = CFG_BOOL, .offset = offsetof(struct plug_b, on), .required = true},
    CFG_END,
};

#define NODE_NKEYS 4
static const struct cfg_key node_keys[NODE_NKEYS];
static const struct cfg_key node_keys[NODE_NKEYS] = {
    {.name = "name", .type = CFG_STRING, .offset = offsetof(struct node, name)},
    {.name = "wait",
     .type = CFG_DURATION,
     .offset = offsetof(struct node, wait_ms),
     .present_at = CFG_PRESENT_AT(struct node, wait_set)},
    {.name = "kids",
     .type = CFG_LIST,
     .offset = offsetof(struct node, kids),
     .sub = node_keys,
     .sub_size = sizeof(struct node)},
    CFG_END,
};

static const struct cfg_key tree_keys[] = {
    {.name = "a",
     .type = CFG_OPTIONAL,
     .offset = offsetof(struct tree_config, a),
     .sub = plug_a_keys,
     .sub_size = sizeof(struct plug_a)},
    {.name = "b",
     .type = CFG_OPTIONAL,
     .offset = offsetof(struct tree_config, b),
     .sub = plug_b_keys,
     .sub_size = sizeof(struct plug_b)},
    {.name = "root",
     .type = CFG_TABLE,
     .offset = offsetof(struct tree_config, root),
     .sub = node_keys},
    CFG_END,
};

static const struct cfg_module tree_module = {"tree", tree_keys, sizeof(struct tree_config), true};

static struct config *load_tree(const char *src, char *err, size_t errlen)
{
    const struct cfg_module *const tm[] = {&tree_module};
    err[0] = '\0';
    return config_load_buffer(src, strlen(src), "test.lua", tm, 1, err, errlen);
}

static void test_optional(void)
{
    char err[1024];
    struct config *c = load_tree("tree = { a = { url = \"u\" },\n"
                                 "  root = { wait = \"0s\", kids = { { name = \"k\" } } } }\n",
                                 err, sizeof(err));
    if (!ok(c != NULL, "optional tables: a config with one of two loads")) {
        diag("%s", err);
        return;
    }
    const struct tree_config *t = config_module(c, "tree", NULL);
    const struct plug_a *a = t->a;
    ok(a && strcmp(a->url, "u") == 0 && a->n == 5, "the given one is allocated, defaults filled");
    ok(t->b == NULL, "the absent one is NULL (its required key is not asked for)");
    const struct node *kid = t->root.kids.items;
    ok(t->root.wait_set && t->root.wait_ms == 0, "presence recorded for a key given as 0s");
    ok(t->root.kids.n == 1 && !kid[0].wait_set && strcmp(kid[0].name, "k") == 0,
       "and not recorded for an absent key (a child that would inherit it)");
    config_free(c);
    static const struct refusal bad[] = {
        {"an optional table is checked when present", "tree = {\n  a = { n = 1 } }\n",
         "test.lua:2: tree.a.url: missing, and required"},
        {"an optional table must be a table", "tree = { b = true }\n",
         "test.lua:1: tree.b: expected a table, got boolean"},
        {"a table that contains itself", "local r = {}\nr.kids = { r }\ntree = { root = r }\n",
         "nested too deeply (a table that contains itself?)"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        c = load_tree(bad[i].src, err, sizeof(err));
        ok(c == NULL && strstr(err, bad[i].want), "refused: %s", bad[i].what);
        if (!strstr(err, bad[i].want)) diag("got: %s", err);
        config_free(c);
    }
    /* 20 levels of routes nest fine. */
    struct buf deep;
    buf_init(&deep, CAP_CONFIG_FILE);
    buf_puts(&deep, "tree = { root = ");
    for (int i = 0; i < 20; i++) buf_puts(&deep, "{ kids = { ");
    buf_puts(&deep, "{ name = \"leaf\" }");
    for (int i = 0; i < 20; i++) buf_puts(&deep, " } }");
    buf_puts(&deep, " }\n");
    c = load_tree(deep.data, err, sizeof(err));
    ok(c != NULL, "20 nested levels load");
    if (!c) diag("%s", err);
    config_free(c);
    buf_free(&deep);
}

int main(void)
{
    int64_t t0 = time_mono_ms();
    static const struct {
        const char *name;
        void (*fn)(void);
    } parts[] = {
        {"refusals", test_refusals},
        {"defaults", test_defaults},
        {"full", test_full},
        {"durations", test_durations},
        {"accepted", test_accepted_misc},
        {"long names", test_long_name},
        {"config_locate", test_locate},
        {"files", test_files},
        {"sandbox timeouts", test_box_timeouts},
        {"sandbox memory", test_box_memory},
        {"sandbox positions", test_box_positions},
        {"string functions vs Lua's", test_string_differential},
        {"optional tables", test_optional},
    };
    for (size_t i = 0; i < ARRAY_LEN(parts); i++) {
        int64_t t = time_mono_ms();
        parts[i].fn();
        diag("%s: %lld ms", parts[i].name, (long long)(time_mono_ms() - t));
    }
    diag("took %lld ms", (long long)(time_mono_ms() - t0));
    return done_testing();
}
