/* notify_template.c: notification templates in Lua (notify_lib.h). A template file runs once in its
 * own luabox (32 MiB heap, strict globals, no io/os beyond time/date) and returns a table of
 * functions. For each render, C builds the notification as plain Lua tables, a small prelude
 * wraps them in read-only proxies whose pairs() walks keys in sorted order (Lua's own table
 * order changes from run to run, and payloads must be the same bytes every time), and each
 * call runs under TMPL_TIMEOUT_MS. Cards come back as tables and are encoded to JSON here,
 * keys sorted, in protected mode so that a full heap is a template error and not a panic.
 *
 * Helpers given to templates: html(s), md(s), truncate(s, bytes), rfc3339(t), duration(s),
 * urlencode(s), json_null, json_array(t), json_object(t). */
#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "fileio.h"
#include "luabox.h"
#include "notify_lib.h"
#include "numtext.h"
#include "strutil.h"
#include "xalloc.h"

#define JSON_MAX_DEPTH 48
#define ELLIPSIS       "\xe2\x80\xa6" /* … */

struct tmpl {
    struct luabox *box;
    int fns_ref;    /* the table the template returned */
    int freeze_ref; /* the prelude's freeze function */
    int view_ref;   /* the notification of the current tmpl_begin, or LUA_NOREF */
    char path[512];
};

static const char prelude[] =
    "local setmetatable, next, type, error, sort = ...\n"
    "local function ro() error('the notification is read-only', 2) end\n"
    "local function before(a, b)\n"
    "  local ta, tb = type(a), type(b)\n"
    "  if ta ~= tb then return ta < tb end\n"
    "  return a < b\n"
    "end\n"
    "local freeze\n"
    "freeze = function(t, seen)\n"
    "  seen = seen or {}\n"
    "  if seen[t] then return seen[t] end\n"
    "  local keys\n"
    "  local p = setmetatable({}, {\n"
    "    __index = t, __newindex = ro, __metatable = 'read-only',\n"
    "    __len = function() return #t end,\n"
    "    __pairs = function()\n"
    "      if not keys then\n"
    "        keys = {}\n"
    "        for k in next, t do keys[#keys + 1] = k end\n"
    "        sort(keys, before)\n"
    "      end\n"
    "      local i = 0\n"
    "      return function()\n"
    "        i = i + 1\n"
    "        local k = keys[i]\n"
    "        if k ~= nil then return k, t[k] end\n"
    "      end, nil, nil\n"
    "    end,\n"
    "  })\n"
    "  seen[t], seen[p] = p, p\n"
    "  for k, v in next, t do if type(v) == 'table' then t[k] = freeze(v, seen) end end\n"
    "  return p\n"
    "end\n"
    "return function(t) return freeze(t) end\n";

static const char JSON_ARRAY_KEY[] = "drwatch.tmpl.json_array";
static const char JSON_OBJECT_KEY[] = "drwatch.tmpl.json_object";

/* ---- helpers for templates ---- */

static int l_html(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '&': luaL_addstring(&b, "&amp;"); break;
        case '<': luaL_addstring(&b, "&lt;"); break;
        case '>': luaL_addstring(&b, "&gt;"); break;
        case '"': luaL_addstring(&b, "&quot;"); break;
        case '\'': luaL_addstring(&b, "&#39;"); break;
        default: luaL_addchar(&b, s[i]);
        }
    }
    luaL_pushresult(&b);
    return 1;
}

/* Markdown as Teams renders it: characters that would start emphasis, code or links are
 * escaped with a backslash. */
static int l_md(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < len; i++) {
        if (s[i] && strchr("\\*_`[]~", s[i])) luaL_addchar(&b, '\\');
        luaL_addchar(&b, s[i]);
    }
    luaL_pushresult(&b);
    return 1;
}

static int l_truncate(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_Integer max = luaL_checkinteger(L, 2);
    if (max < 0) max = 0;
    if ((size_t)max >= len) {
        lua_settop(L, 1);
        return 1;
    }
    size_t room = (size_t)max > strlen(ELLIPSIS) ? (size_t)max - strlen(ELLIPSIS) : 0;
    size_t keep = str_utf8_cut(s, len, room);
    lua_pushlstring(L, s, keep);
    if ((size_t)max >= strlen(ELLIPSIS)) {
        lua_pushliteral(L, ELLIPSIS);
        lua_concat(L, 2);
    }
    return 1;
}

static int l_rfc3339(lua_State *L)
{
    char out[40];
    render_rfc3339(luaL_checknumber(L, 1), out, sizeof(out));
    lua_pushstring(L, out);
    return 1;
}

/* "3d 4h", "2h 5m", "1m 30s", "45s", "0s": the two largest units. */
static int l_duration(lua_State *L)
{
    double s = luaL_checknumber(L, 1);
    if (!isfinite(s) || s < 0) s = 0;
    static const struct {
        const char *unit;
        double secs;
    } units[] = {{"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}};
    char out[64] = "";
    size_t n = 0;
    int shown = 0;
    double left = floor(s);
    if (left > 1e12) left = 1e12;
    for (size_t i = 0; i < ARRAY_LEN(units) && shown < 2; i++) {
        double q = floor(left / units[i].secs);
        if (q < 1 && !(shown == 0 && i == ARRAY_LEN(units) - 1)) {
            if (shown) shown = 2; /* "1h 0m" reads worse than "1h" */
            continue;
        }
        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%.0f%s", shown ? " " : "", q,
                              units[i].unit);
        left -= q * units[i].secs;
        shown++;
    }
    lua_pushstring(L, out);
    return 1;
}

static int l_urlencode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            (c && strchr("-_.~", c))) {
            luaL_addchar(&b, (char)c);
        } else {
            char hex[4];
            snprintf(hex, sizeof(hex), "%%%02X", c);
            luaL_addstring(&b, hex);
        }
    }
    luaL_pushresult(&b);
    return 1;
}

static int mark_table(lua_State *L, const char *key)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, key);
    lua_setmetatable(L, 1);
    return 1;
}

static int l_json_array(lua_State *L)
{
    return mark_table(L, JSON_ARRAY_KEY);
}

static int l_json_object(lua_State *L)
{
    return mark_table(L, JSON_OBJECT_KEY);
}

static int strict_index(lua_State *L)
{
    return luaL_error(L, "undefined variable '%s' (templates declare helpers with 'local')",
                      luaL_tolstring(L, 2, NULL));
}

static int strict_newindex(lua_State *L)
{
    return luaL_error(L, "cannot set global '%s' (templates declare helpers with 'local')",
                      luaL_tolstring(L, 2, NULL));
}

/* Protected: adds the helpers to the environment at index 1 and makes it strict. */
static int setup_env(lua_State *L)
{
    static const luaL_Reg fns[] = {{"html", l_html},
                                   {"md", l_md},
                                   {"truncate", l_truncate},
                                   {"rfc3339", l_rfc3339},
                                   {"duration", l_duration},
                                   {"urlencode", l_urlencode},
                                   {"json_array", l_json_array},
                                   {"json_object", l_json_object},
                                   {NULL, NULL}};
    lua_settop(L, 1);
    luaL_setfuncs(L, fns, 0);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, 1, "json_null");
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, JSON_ARRAY_KEY);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, JSON_OBJECT_KEY);
    lua_newtable(L);
    lua_pushcfunction(L, strict_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, strict_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, 1);
    return 0;
}

/* ---- loading ---- */

static int load_prelude(struct tmpl *t, char *err, size_t errlen)
{
    lua_State *L = luabox_state(t->box);
    luabox_new_env(t->box);
    int env = lua_gettop(L);
    if (luabox_load(t->box, prelude, sizeof(prelude) - 1, "=template prelude", env, err, errlen) !=
        LUABOX_OK) {
        lua_settop(L, env - 1);
        return -1;
    }
    lua_pushglobaltable(L);
    lua_getfield(L, -1, "setmetatable");
    lua_getfield(L, -2, "next");
    lua_getfield(L, -3, "type");
    lua_getfield(L, -4, "error");
    lua_getfield(L, -5, "table");
    lua_getfield(L, -1, "sort");
    lua_remove(L, -2);
    lua_remove(L, -6); /* the global table */
    if (luabox_call(t->box, 5, 1, 1000, err, errlen) != LUABOX_OK) {
        lua_settop(L, env - 1);
        return -1;
    }
    t->freeze_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, env - 1);
    return 0;
}

static int check_functions(struct tmpl *t, const char *const *need, char *err, size_t errlen)
{
    lua_State *L = luabox_state(t->box);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->fns_ref);
    for (const char *const *n = need; n && *n; n++) {
        lua_getfield(L, -1, *n);
        int ty = lua_type(L, -1);
        lua_pop(L, 1);
        if (ty != LUA_TFUNCTION) {
            snprintf(err, errlen, "%s: the returned table has no function '%s'", t->path, *n);
            lua_pop(L, 1);
            return -1;
        }
    }
    lua_pop(L, 1);
    return 0;
}

int tmpl_open(const char *dir, const char *file, const char *const *need, struct tmpl **out,
              char *err, size_t errlen)
{
    *out = NULL;
    struct tmpl *t = xcalloc(1, sizeof(*t));
    t->fns_ref = t->freeze_ref = t->view_ref = LUA_NOREF;
    if (!file) file = "default.lua";
    if (file[0] == '/' || !dir || !*dir)
        snprintf(t->path, sizeof(t->path), "%s", file);
    else
        snprintf(t->path, sizeof(t->path), "%s/%s", dir, file);
    char *src = NULL;
    size_t len = 0;
    int rc = file_read_all(t->path, CAP_TEMPLATE_FILE, &src, &len);
    if (rc < 0) {
        char why[64];
        snprintf(err, errlen, "%s: %s", t->path,
                 file_read_error(rc, CAP_TEMPLATE_FILE, why, sizeof(why)));
        goto fail;
    }
    t->box = luabox_new(TMPL_MEM_LIMIT);
    if (!t->box) {
        snprintf(err, errlen, "%s: cannot make a Lua state", t->path);
        goto fail;
    }
    lua_State *L = luabox_state(t->box);
    if (load_prelude(t, err, errlen) < 0) goto fail;
    luabox_new_env(t->box);
    int env = lua_gettop(L);
    lua_pushcfunction(L, setup_env);
    lua_pushvalue(L, env);
    if (luabox_call(t->box, 1, 0, 1000, err, errlen) != LUABOX_OK) goto fail;
    char chunk[520];
    snprintf(chunk, sizeof(chunk), "@%s", t->path);
    if (luabox_load(t->box, src, len, chunk, env, err, errlen) != LUABOX_OK) goto fail;
    if (luabox_call(t->box, 0, 1, 2000, err, errlen) != LUABOX_OK) goto fail;
    if (!lua_istable(L, -1)) {
        snprintf(err, errlen, "%s: the template must return a table of functions", t->path);
        goto fail;
    }
    t->fns_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, 0);
    if (check_functions(t, need, err, errlen) < 0) goto fail;
    free(src);
    *out = t;
    return 0;
fail:
    free(src);
    tmpl_free(t);
    return -1;
}

void tmpl_free(struct tmpl *t)
{
    if (!t) return;
    luabox_free(t->box);
    free(t);
}

/* ---- the notification as Lua tables ---- */

struct view_args {
    const struct notification *n;
    const struct tmpl_limits *lim;
};

static void set_str(lua_State *L, const char *key, const char *v)
{
    if (!v) return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, key);
}

static void set_num(lua_State *L, const char *key, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, key);
}

static void set_int(lua_State *L, const char *key, uint64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, key);
}

/* Pushes a value cut at max bytes (with an ellipsis). */
static void push_cut(lua_State *L, const char *v, size_t len, size_t max)
{
    if (len <= max) {
        lua_pushlstring(L, v, len);
        return;
    }
    size_t room = max > strlen(ELLIPSIS) ? max - strlen(ELLIPSIS) : 0;
    lua_pushlstring(L, v, str_utf8_cut(v, len, room));
    lua_pushliteral(L, ELLIPSIS);
    lua_concat(L, 2);
}

static void push_pairs(lua_State *L, const struct label_pair *p, size_t n, size_t max)
{
    lua_createtable(L, 0, (int)(n < 64 ? n : 64));
    for (size_t i = 0; i < n; i++) {
        if (!p[i].name || !p[i].value) continue;
        push_cut(L, p[i].value, strlen(p[i].value), max);
        lua_setfield(L, -2, p[i].name);
    }
}

static int set_label(void *arg, const char *name, size_t name_len, const char *value,
                     size_t value_len)
{
    lua_State *L = arg;
    lua_pushlstring(L, name, name_len);
    lua_pushlstring(L, value, value_len);
    lua_rawset(L, -3);
    return 0;
}

static bool alert_resolved(const struct am_alert *a, double now)
{
    return a->ends_at > 0 && a->ends_at <= now;
}

static void push_alert(lua_State *L, const struct am_alert *a, double now, size_t max)
{
    lua_createtable(L, 0, 12);
    bool resolved = alert_resolved(a, now);
    set_str(L, "status", resolved ? "resolved" : "firing");
    lua_newtable(L);
    if (a->labels && render_labels_each(a->labels, set_label, L) < 0)
        luaL_error(L, "an alert's label value is over %zu bytes", (size_t)CAP_LABELS_TEXT);
    lua_getfield(L, -1, "alertname");
    lua_setfield(L, -3, "alertname");
    lua_setfield(L, -2, "labels");
    push_pairs(L, a->annotations, a->nannotations, max);
    lua_setfield(L, -2, "annotations");
    set_num(L, "value", a->value);
    char text[40];
    fmt_double(text, a->value);
    set_str(L, "value_text", text);
    set_num(L, "starts_at", a->starts_at);
    set_num(L, "ends_at", resolved ? a->ends_at : 0);
    snprintf(text, sizeof(text), "%016llx", (unsigned long long)a->fingerprint);
    set_str(L, "fingerprint", text);
    set_str(L, "generator_url", a->generator_url ? a->generator_url : "");
}

/* Protected: builds the notification and freezes it. Upvalue: the freeze function. */
static int build_view(lua_State *L)
{
    const struct view_args *va = lua_touserdata(L, 1);
    const struct notification *n = va->n;
    size_t shown = n->nalerts < va->lim->max_alerts ? n->nalerts : va->lim->max_alerts;
    size_t max = va->lim->annotation_max;
    lua_settop(L, 0);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_createtable(L, 0, 20);
    set_str(L, "receiver", n->receiver ? n->receiver : "");
    set_str(L, "status", n->status ? n->status : "firing");
    set_str(L, "group_key", n->group_key ? n->group_key : "");
    set_str(L, "external_url", n->external_url ? n->external_url : "");
    set_str(L, "grafana_url", n->grafana_url ? n->grafana_url : "");
    set_num(L, "now", n->now);
    push_pairs(L, n->group_labels, n->ngroup_labels, SIZE_MAX);
    lua_setfield(L, -2, "group_labels");
    push_pairs(L, n->common_labels, n->ncommon_labels, SIZE_MAX);
    lua_setfield(L, -2, "common_labels");
    push_pairs(L, n->common_annotations, n->ncommon_annotations, max);
    lua_setfield(L, -2, "common_annotations");
    size_t nfiring = 0, nresolved = 0;
    for (size_t i = 0; i < n->nalerts; i++) {
        if (alert_resolved(&n->alerts[i], n->now))
            nresolved++;
        else
            nfiring++;
    }
    lua_createtable(L, (int)shown, 0); /* alerts */
    lua_createtable(L, 0, 0);          /* firing */
    lua_createtable(L, 0, 0);          /* resolved */
    int alerts = lua_gettop(L) - 2;
    lua_Integer nf = 0, nr = 0;
    for (size_t i = 0; i < shown; i++) {
        push_alert(L, &n->alerts[i], n->now, max);
        bool resolved = alert_resolved(&n->alerts[i], n->now);
        lua_pushvalue(L, -1);
        lua_rawseti(L, resolved ? alerts + 2 : alerts + 1, resolved ? ++nr : ++nf);
        lua_rawseti(L, alerts, (lua_Integer)i + 1);
        if (i % 64 == 63) luabox_check_budget(L);
    }
    lua_setfield(L, alerts - 1, "resolved");
    lua_setfield(L, alerts - 1, "firing");
    lua_setfield(L, alerts - 1, "alerts");
    set_int(L, "num_firing", nfiring);
    set_int(L, "num_resolved", nresolved);
    set_int(L, "num_alerts", n->nalerts + n->truncated_alerts);
    set_int(L, "truncated_alerts", n->truncated_alerts + (n->nalerts - shown));
    lua_call(L, 1, 1);
    return 1;
}

int tmpl_begin(struct tmpl *t, const struct notification *n, const struct tmpl_limits *lim,
               char *err, size_t errlen)
{
    lua_State *L = luabox_state(t->box);
    struct view_args va = {.n = n, .lim = lim};
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->freeze_ref);
    lua_pushcclosure(L, build_view, 1);
    lua_pushlightuserdata(L, &va);
    if (luabox_call(t->box, 1, 1, TMPL_TIMEOUT_MS, err, errlen) != LUABOX_OK) return -1;
    t->view_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

void tmpl_end(struct tmpl *t)
{
    lua_State *L = luabox_state(t->box);
    luaL_unref(L, LUA_REGISTRYINDEX, t->view_ref);
    t->view_ref = LUA_NOREF;
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT);
}

/* Pushes the template's fn and the view; returns the outcome of calling it (one result). */
static int call_fn(struct tmpl *t, const char *fn, char *err, size_t errlen)
{
    lua_State *L = luabox_state(t->box);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->fns_ref);
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        snprintf(err, errlen, "%s: no function '%s'", t->path, fn);
        return -1;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->view_ref);
    if (luabox_call(t->box, 1, 1, TMPL_TIMEOUT_MS, err, errlen) != LUABOX_OK) return -1;
    return 0;
}

int tmpl_string(struct tmpl *t, const char *fn, struct buf *out, char *err, size_t errlen)
{
    lua_State *L = luabox_state(t->box);
    if (call_fn(t, fn, err, errlen) < 0) return -1;
    int rc = 0;
    if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        if (buf_append(out, s, len) < 0) {
            snprintf(err, errlen, "%s: %s() returned more than the payload cap", t->path, fn);
            rc = RENDER_TOO_BIG;
        }
    } else if (!lua_isnil(L, -1)) {
        snprintf(err, errlen, "%s: %s() must return a string, not a %s", t->path, fn,
                 luaL_typename(L, -1));
        rc = -1;
    }
    lua_pop(L, 1);
    return rc;
}

/* ---- JSON from Lua values ---- */

struct json_ctx {
    struct buf *out;
    const char *fn;
    bool too_big;
};

static void json_too_big(lua_State *L, struct json_ctx *c)
{
    c->too_big = true;
    luaL_error(L, "%s(): the card is larger than the payload cap", c->fn);
}

static void json_put(lua_State *L, struct json_ctx *c, const char *s, size_t n)
{
    if (buf_append(c->out, s, n) < 0) json_too_big(L, c);
}

static void json_value(lua_State *L, struct json_ctx *c, int idx, int depth);

static int key_cmp(const void *a, const void *b)
{
    const struct {
        const char *s;
        size_t n;
    } *x = a, *y = b;
    size_t m = x->n < y->n ? x->n : y->n;
    int r = memcmp(x->s, y->s, m);
    return r ? r : (x->n > y->n) - (x->n < y->n);
}

/* The table to encode for the value at idx: a read-only proxy's own table, else itself. Also
 * says whether a marker asked for an array (1) or an object (2). */
static int json_unwrap(lua_State *L, int idx, int *mark)
{
    *mark = 0;
    if (!lua_getmetatable(L, idx)) {
        lua_pushvalue(L, idx);
        return lua_gettop(L);
    }
    lua_getfield(L, LUA_REGISTRYINDEX, JSON_ARRAY_KEY);
    lua_getfield(L, LUA_REGISTRYINDEX, JSON_OBJECT_KEY);
    if (lua_rawequal(L, -3, -2))
        *mark = 1;
    else if (lua_rawequal(L, -3, -1))
        *mark = 2;
    lua_pop(L, 2);
    if (!*mark && lua_getfield(L, -1, "__metatable") == LUA_TSTRING &&
        strcmp(lua_tostring(L, -1), "read-only") == 0) {
        lua_pop(L, 1);
        lua_getfield(L, -1, "__index");
        lua_remove(L, -2);
        return lua_gettop(L);
    }
    if (!*mark) lua_pop(L, 1);
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    return lua_gettop(L);
}

static void json_table(lua_State *L, struct json_ctx *c, int idx, int depth)
{
    int mark;
    int t = json_unwrap(L, idx, &mark);
    lua_Integer len = (lua_Integer)lua_rawlen(L, t);
    size_t nkeys = 0;
    for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) nkeys++;
    bool array = mark == 1 || (mark == 0 && (lua_Integer)nkeys == len);
    if (array) {
        json_put(L, c, "[", 1);
        for (lua_Integer i = 1; i <= len; i++) {
            if (i > 1) json_put(L, c, ",", 1);
            lua_rawgeti(L, t, i);
            json_value(L, c, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
        }
        json_put(L, c, "]", 1);
        lua_settop(L, t - 1);
        return;
    }
    struct key {
        const char *s;
        size_t n;
    } *keys = lua_newuserdatauv(L, (nkeys ? nkeys : 1) * sizeof(*keys), 0);
    size_t k = 0;
    for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "%s(): a JSON object can only have string keys (found a %s key)", c->fn,
                       luaL_typename(L, -2));
        if (k < nkeys) {
            keys[k].s = lua_tolstring(L, -2, &keys[k].n);
            k++;
        }
    }
    qsort(keys, k, sizeof(*keys), key_cmp);
    json_put(L, c, "{", 1);
    for (size_t i = 0; i < k; i++) {
        if (i) json_put(L, c, ",", 1);
        if (render_json_string(c->out, keys[i].s, keys[i].n) < 0) json_too_big(L, c);
        json_put(L, c, ":", 1);
        lua_pushlstring(L, keys[i].s, keys[i].n);
        lua_rawget(L, t);
        json_value(L, c, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
    }
    json_put(L, c, "}", 1);
    lua_settop(L, t - 1);
}

static void json_value(lua_State *L, struct json_ctx *c, int idx, int depth)
{
    if (depth > JSON_MAX_DEPTH) luaL_error(L, "%s(): the card nests too deep", c->fn);
    luabox_check_budget(L);
    luaL_checkstack(L, 8, "card nests too deep");
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        if (render_json_string(c->out, s, n) < 0) json_too_big(L, c);
        return;
    }
    case LUA_TNUMBER: {
        char num[48];
        if (lua_isinteger(L, idx)) {
            snprintf(num, sizeof(num), "%lld", (long long)lua_tointeger(L, idx));
        } else {
            double v = lua_tonumber(L, idx);
            if (!isfinite(v))
                snprintf(num, sizeof(num), "null");
            else
                fmt_double(num, v);
        }
        json_put(L, c, num, strlen(num));
        return;
    }
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            json_put(L, c, "true", 4);
        else
            json_put(L, c, "false", 5);
        return;
    case LUA_TLIGHTUSERDATA:
        if (!lua_touserdata(L, idx)) {
            json_put(L, c, "null", 4);
            return;
        }
        break;
    case LUA_TTABLE: json_table(L, c, idx, depth); return;
    default: break;
    }
    luaL_error(L, "%s(): cannot encode a %s in JSON", c->fn, luaL_typename(L, idx));
}

/* Protected: encodes the value at 2 (arg 1: the json_ctx). */
static int encode_json(lua_State *L)
{
    struct json_ctx *c = lua_touserdata(L, 1);
    json_value(L, c, 2, 0);
    return 0;
}

int tmpl_json(struct tmpl *t, const char *fn, struct buf *out, char *err, size_t errlen)
{
    lua_State *L = luabox_state(t->box);
    if (call_fn(t, fn, err, errlen) < 0) return -1;
    if (!lua_istable(L, -1)) {
        snprintf(err, errlen, "%s: %s() must return a table, not a %s", t->path, fn,
                 luaL_typename(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    struct json_ctx c = {.out = out, .fn = fn};
    size_t before = out->len;
    lua_pushcfunction(L, encode_json);
    lua_pushlightuserdata(L, &c);
    lua_pushvalue(L, -3);
    lua_remove(L, -4);
    if (luabox_call(t->box, 2, 0, TMPL_TIMEOUT_MS, err, errlen) != LUABOX_OK) {
        out->len = before;
        if (out->data) out->data[before] = '\0';
        return c.too_big ? RENDER_TOO_BIG : -1;
    }
    return 0;
}
