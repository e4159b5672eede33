/* rulelib.c: the API a rule file sees (documented in rules/README.md).
 *
 *   alert(name, spec)                       declare an alert (while the file loads)
 *   transition(name, spec)                  declare a transition request (transition_rules.c)
 *   series(name [, matchers])               the instant vector: { {labels=..., value=...}, ... }
 *   value(name [, matchers])                the first selected sample's value, or nil
 *   rate(name [, matchers], range)          and increase, delta, irate, avg_over_time,
 *                                           min_over_time, max_over_time, sum_over_time,
 *                                           count_over_time, last_over_time: PromQL's
 *   sum(vec [, by]) count min max avg       aggregation by a list of label names
 *   filter(vec, fn)  any(vec)  absent(vec)  time()  duration("5m")
 *   intersect(a, b)  unless(a, b)           PromQL's `a and b`, `a unless b` (all labels)
 *   facts()                                 the observations a DR decision reads, as a table
 *
 * Matchers are a table of label = "value" (equality), "!=value", "=~regex" or "!~regex".
 * Everything reads the snapshot being evaluated; nothing writes anywhere. Parsed selectors are
 * cached per file, so a regex is compiled once, not at every evaluation. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "engine_int.h"
#include "numtext.h"
#include "strutil.h"
#include "template.h"
#include "textparse.h"
#include "xalloc.h"

#define SELECTOR_CACHE_MAX 1024
#define RULE_MAX_LABELS    31 /* labels (severity included) or annotations of one alert */

static struct rule_file *file_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* ---- selectors ---- */

struct pair {
    const char *k, *v;
};

static int pair_cmp(const void *a, const void *b)
{
    return strcmp(((const struct pair *)a)->k, ((const struct pair *)b)->k);
}

static void parse_matcher(const char *spec, enum match_op *op, const char **value)
{
    *op = MATCH_EQ;
    *value = spec;
    if (str_has_prefix(spec, "=~"))
        *op = MATCH_RE, *value = spec + 2;
    else if (str_has_prefix(spec, "!~"))
        *op = MATCH_NRE, *value = spec + 2;
    else if (str_has_prefix(spec, "!="))
        *op = MATCH_NEQ, *value = spec + 2;
    else if (spec[0] == '=')
        *value = spec + 1;
}

/* The selector for name and the matchers table at midx (0: none), from the file's cache. */
static const struct selector *get_selector(lua_State *L, int nidx, int midx)
{
    struct rule_file *f = file_of(L);
    const char *name = luaL_checkstring(L, nidx);
    if (!metric_name_valid(name, strlen(name))) luaL_error(L, "invalid metric name \"%s\"", name);
    struct pair pairs[32] = {{0}};
    size_t n = 0;
    if (midx) {
        luaL_checktype(L, midx, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, midx)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "matchers must be label = \"value\" strings");
            if (n == ARRAY_LEN(pairs)) luaL_error(L, "too many matchers");
            pairs[n++] = (struct pair){lua_tostring(L, -2), lua_tostring(L, -1)};
            lua_pop(L, 1); /* the strings stay alive: the table holds them */
        }
        qsort(pairs, n, sizeof(*pairs), pair_cmp);
    }
    struct buf key;
    buf_init(&key, CAP_SELECTOR_TEXT);
    buf_puts(&key, name);
    for (size_t i = 0; i < n; i++) buf_printf(&key, "\x01%s\x02%s", pairs[i].k, pairs[i].v);
    if (buf_error(&key)) { /* a cut key would find another selector in the cache */
        buf_free(&key);
        luaL_error(L, "matchers longer than %zu bytes", (size_t)CAP_SELECTOR_TEXT);
    }
    for (size_t i = 0; i < f->nselectors; i++) {
        if (strcmp(f->selectors[i].key, key.data) == 0) {
            buf_free(&key);
            return &f->selectors[i].sel;
        }
    }
    struct selector sel = {.name = xstrdup(name)};
    char err[256];
    for (size_t i = 0; i < n; i++) {
        enum match_op op;
        const char *value;
        parse_matcher(pairs[i].v, &op, &value);
        if (selector_add(&sel, pairs[i].k, op, value, err, sizeof(err)) < 0) {
            selector_free(&sel);
            buf_free(&key);
            luaL_error(L, "%s", err);
        }
    }
    /* A rule that builds matchers from what it sees (a time, an instance) would grow the cache
     * without end, outside the Lua heap cap: past SELECTOR_CACHE_MAX it starts over. The
     * selectors handed out before are not used again after this call returns. */
    if (f->nselectors == SELECTOR_CACHE_MAX) rulelib_free_file_caches(f);
    f->selectors = xrealloc(f->selectors, (f->nselectors + 1) * sizeof(*f->selectors));
    f->selectors[f->nselectors] = (struct cached_selector){buf_steal(&key, NULL), sel};
    return &f->selectors[f->nselectors++].sel;
}

void rulelib_free_file_caches(struct rule_file *f)
{
    for (size_t i = 0; i < f->nselectors; i++) {
        free(f->selectors[i].key);
        selector_free(&f->selectors[i].sel);
    }
    free(f->selectors);
    f->selectors = NULL;
    f->nselectors = 0;
}

/* ---- samples as Lua tables ---- */

/* Pushes {k = v, ...} for canonical label text. */
static void push_labels(lua_State *L, const char *labels, size_t len)
{
    lua_createtable(L, 0, 4);
    size_t pos = 0, nl, vl;
    const char *name, *value;
    char small[256];
    while (labels_next(labels, len, &pos, &name, &nl, &value, &vl)) {
        char *plain = vl < sizeof(small) ? small : xmalloc(vl + 1);
        size_t pl = textparse_unescape(plain, value, vl);
        lua_pushlstring(L, name, nl);
        lua_pushlstring(L, plain, pl);
        if (plain != small) free(plain);
        lua_rawset(L, -3);
    }
}

static void push_sample(lua_State *L, const char *labels, size_t len, double value)
{
    lua_createtable(L, 0, 2);
    push_labels(L, labels, len);
    lua_setfield(L, -2, "labels");
    lua_pushnumber(L, value);
    lua_setfield(L, -2, "value");
}

struct collect {
    lua_State *L;
    lua_Integer n;
    bool first_only;
    bool found;
    double value;
};

static void collect_sample(void *arg, const struct metric_family *fam,
                           const struct metric_sample *m)
{
    (void)fam;
    struct collect *c = arg;
    if (c->first_only) {
        if (!c->found) c->found = true, c->value = m->value;
        return;
    }
    push_sample(c->L, m->labels, m->labels_len, m->value);
    lua_rawseti(c->L, -2, ++c->n);
}

static int l_series(lua_State *L)
{
    struct rules_engine *e = file_of(L)->engine;
    const struct selector *sel = get_selector(L, 1, lua_isnoneornil(L, 2) ? 0 : 2);
    lua_newtable(L);
    struct collect c = {.L = L};
    if (e->instant) snapshot_select(e->instant, sel, collect_sample, &c);
    return 1;
}

static int l_value(lua_State *L)
{
    struct rules_engine *e = file_of(L)->engine;
    const struct selector *sel = get_selector(L, 1, lua_isnoneornil(L, 2) ? 0 : 2);
    struct collect c = {.L = L, .first_only = true};
    if (e->instant) snapshot_select(e->instant, sel, collect_sample, &c);
    if (c.found)
        lua_pushnumber(L, c.value);
    else
        lua_pushnil(L);
    return 1;
}

/* ---- range functions ---- */

static double check_duration(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TNUMBER) {
        double s = lua_tonumber(L, idx);
        if (!(s > 0 && s < 1e9)) luaL_error(L, "a range must be a positive number of seconds");
        return s;
    }
    const char *text = luaL_checkstring(L, idx);
    int64_t ms;
    if (parse_duration_ms(text, &ms) < 0 || ms <= 0)
        luaL_error(L, "bad duration \"%s\" (expected e.g. \"30s\", \"5m\", \"1h\")", text);
    return (double)ms / 1000.0;
}

static void record_sample(void *arg, const struct metric_family *fam, const struct metric_sample *m)
{
    (void)fam;
    void **a = arg;
    struct rules_engine *e = a[0];
    history_record(e->history, a[1], e->t, m->labels, m->labels_len, m->value);
}

static void record_one(struct rules_engine *e, struct tracked *tk)
{
    void *arg[2] = {e, tk->tr};
    if (e->raw) snapshot_select(e->raw, &tk->sel, record_sample, arg);
}

/* history_drop_idle freed tr: forget its tracked selector too. */
static void forget_tracked(void *arg, struct track *tr)
{
    struct rules_engine *e = arg;
    for (size_t i = 0; i < e->ntracked; i++) {
        if (e->tracked[i].tr != tr) continue;
        selector_free(&e->tracked[i].sel);
        e->tracked[i] = e->tracked[--e->ntracked];
        return;
    }
}

void rulelib_record_history(struct rules_engine *e)
{
    for (size_t i = 0; i < e->ntracked; i++) record_one(e, &e->tracked[i]);
    history_prune(e->history, e->t);
    history_drop_idle(e->history, e->t, forget_tracked, e);
}

/* The tracked copy of sel, made (and recorded at once) on first use. NULL when sel's text is
 * over its cap. */
static struct track *track_for(struct rules_engine *e, const struct selector *sel, double range)
{
    char *key = selector_text(sel);
    if (!key) return NULL;
    int is_new;
    struct track *tr = history_track(e->history, key, range, &is_new);
    free(key);
    if (!is_new) return tr;
    struct tracked tk = {.tr = tr, .sel = {.name = xstrdup(sel->name)}};
    char err[128];
    /* A copy of matchers that selector_add accepted once: it accepts them again. */
    for (size_t i = 0; i < sel->n; i++)
        DRW_IGNORE(
            selector_add(&tk.sel, sel->m[i].name, sel->m[i].op, sel->m[i].value, err, sizeof(err)));
    e->tracked = xrealloc(e->tracked, (e->ntracked + 1) * sizeof(*e->tracked));
    e->tracked[e->ntracked++] = tk;
    record_one(e, &e->tracked[e->ntracked - 1]);
    return tr;
}

static void push_range_result(void *arg, const char *labels, size_t len, double value)
{
    struct collect *c = arg;
    push_sample(c->L, labels, len, value);
    lua_rawseti(c->L, -2, ++c->n);
}

static int l_range(lua_State *L)
{
    struct rules_engine *e = file_of(L)->engine;
    enum range_fn fn = (enum range_fn)lua_tointeger(L, lua_upvalueindex(2));
    int top = lua_gettop(L);
    if (top < 2) luaL_error(L, "expected (name [, matchers], range)");
    double range = check_duration(L, top);
    const struct selector *sel = get_selector(L, 1, top == 3 ? 2 : 0);
    struct track *tr = track_for(e, sel, range);
    if (!tr)
        return luaL_error(L, "the selector is longer than %zu bytes", (size_t)CAP_SELECTOR_TEXT);
    lua_newtable(L);
    struct collect c = {.L = L};
    history_eval(tr, fn, e->t, range, push_range_result, &c);
    return 1;
}

static int l_time(lua_State *L)
{
    lua_pushnumber(L, file_of(L)->engine->t);
    return 1;
}

static int l_duration(lua_State *L)
{
    lua_pushnumber(L, check_duration(L, 1));
    return 1;
}

/* ---- alert() ---- */

static int l_alert(lua_State *L)
{
    struct rule_file *f = file_of(L);
    const char *name = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!f->loading) return luaL_error(L, "alert() declares alerts while the file loads only");
    if (!metric_name_valid(name, strlen(name)) || strchr(name, ':'))
        return luaL_error(L, "alert name \"%s\" is not a valid metric name", name);
    struct rule_alert a = {.name = xstrdup(name), .expr_ref = LUA_NOREF};
    for (size_t i = 0; i < f->nalerts; i++)
        if (strcmp(f->alerts[i].name, name) == 0) a.ordinal++;
    char err[512];
    if (rulelib_read_alert(f, L, 2, &a, err, sizeof(err)) < 0) {
        free(a.name);
        return luaL_error(L, "alert \"%s\": %s", name, err);
    }
    f->alerts = xrealloc(f->alerts, (f->nalerts + 1) * sizeof(*f->alerts));
    f->alerts[f->nalerts++] = a;
    return 0;
}

static int read_duration_field(lua_State *L, int idx, const char *field, double *out, char *err,
                               size_t errlen)
{
    lua_getfield(L, idx, field);
    int rc = 0;
    if (lua_type(L, -1) == LUA_TNUMBER) {
        *out = lua_tonumber(L, -1);
        if (!(*out >= 0 && *out < 1e9)) rc = -1;
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        int64_t ms;
        rc = parse_duration_ms(lua_tostring(L, -1), &ms);
        if (rc == 0) *out = (double)ms / 1000.0;
    } else if (!lua_isnil(L, -1)) {
        rc = -1;
    }
    if (rc) snprintf(err, errlen, "%s: expected a duration such as \"5m\" or seconds", field);
    lua_pop(L, 1);
    return rc ? -1 : 0;
}

/* Reads a table of name = template (or function, when fns is set) into parallel arrays. */
static int read_string_map(lua_State *L, int idx, const char *field, char ***names, char ***tmpls,
                           int **refs, size_t *n, char *err, size_t errlen)
{
    lua_getfield(L, idx, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (!lua_istable(L, -1)) {
        snprintf(err, errlen, "%s: expected a table of name = \"text\"", field);
        lua_pop(L, 1);
        return -1;
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        bool fn = refs && lua_isfunction(L, -1);
        if (lua_type(L, -2) != LUA_TSTRING || (!fn && lua_type(L, -1) != LUA_TSTRING)) {
            snprintf(err, errlen, "%s: expected name = \"text\"%s", field,
                     refs ? " or name = function(labels, value)" : "");
            lua_pop(L, 3);
            return -1;
        }
        const char *k = lua_tostring(L, -2);
        if (!label_name_valid(k, strlen(k))) {
            snprintf(err, errlen, "%s: \"%s\" is not a valid label name", field, k);
            lua_pop(L, 3);
            return -1;
        }
        char terr[300];
        if (!fn && template_check(lua_tostring(L, -1), terr, sizeof(terr)) < 0) {
            snprintf(err, errlen, "%s.%s: %s", field, k, terr);
            lua_pop(L, 3);
            return -1;
        }
        if (*n == RULE_MAX_LABELS) {
            snprintf(err, errlen, "%s: more than %d entries", field, RULE_MAX_LABELS);
            lua_pop(L, 3);
            return -1;
        }
        *names = xrealloc(*names, (*n + 1) * sizeof(char *));
        *tmpls = xrealloc(*tmpls, (*n + 1) * sizeof(char *));
        if (refs) *refs = xrealloc(*refs, (*n + 1) * sizeof(int));
        (*names)[*n] = xstrdup(k);
        (*tmpls)[*n] = fn ? NULL : xstrdup(lua_tostring(L, -1));
        if (refs)
            (*refs)[*n] = fn ? luaL_ref(L, LUA_REGISTRYINDEX) : (lua_pop(L, 1), LUA_NOREF);
        else
            lua_pop(L, 1);
        (*n)++;
    }
    lua_pop(L, 1);
    return 0;
}

static const char *const spec_fields[] = {"expr",   "for",         "for_",     "keep_firing_for",
                                          "labels", "annotations", "severity", NULL};

static int check_fields(lua_State *L, int idx, char *err, size_t errlen)
{
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        bool known = false;
        for (size_t i = 0; spec_fields[i] && lua_type(L, -1) == LUA_TSTRING; i++)
            if (strcmp(spec_fields[i], lua_tostring(L, -1)) == 0) known = true;
        if (!known) {
            snprintf(err, errlen,
                     "unknown field \"%s\" (known: expr, for, keep_firing_for, "
                     "labels, annotations, severity)",
                     lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
            lua_pop(L, 1);
            return -1;
        }
    }
    return 0;
}

int rulelib_read_alert(struct rule_file *f, lua_State *L, int idx, struct rule_alert *a, char *err,
                       size_t errlen)
{
    (void)f;
    idx = lua_absindex(L, idx);
    if (check_fields(L, idx, err, errlen) < 0) return -1;
    lua_getfield(L, idx, "expr");
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        snprintf(err, errlen, "expr: expected a function returning the alerting series");
        return -1;
    }
    a->expr_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    double for_s = 0, for2 = 0;
    if (read_duration_field(L, idx, "for", &for_s, err, errlen) < 0 ||
        read_duration_field(L, idx, "for_", &for2, err, errlen) < 0 ||
        read_duration_field(L, idx, "keep_firing_for", &a->keep_firing_for_s, err, errlen) < 0)
        return -1;
    a->for_s = for_s ? for_s : for2;
    if (read_string_map(L, idx, "labels", &a->label_names, &a->label_tmpls, NULL, &a->nlabels, err,
                        errlen) < 0 ||
        read_string_map(L, idx, "annotations", &a->ann_names, &a->ann_tmpls, &a->ann_refs, &a->nann,
                        err, errlen) < 0)
        return -1;
    lua_getfield(L, idx, "severity");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            snprintf(err, errlen, "severity: expected a string such as \"critical\"");
            return -1;
        }
        for (size_t i = 0; i < a->nlabels; i++) {
            if (strcmp(a->label_names[i], "severity") == 0) {
                lua_pop(L, 1);
                snprintf(err, errlen, "severity is given twice (field and label)");
                return -1;
            }
        }
        if (a->nlabels == RULE_MAX_LABELS) {
            lua_pop(L, 1);
            snprintf(err, errlen, "labels: more than %d entries with severity", RULE_MAX_LABELS);
            return -1;
        }
        a->label_names = xrealloc(a->label_names, (a->nlabels + 1) * sizeof(char *));
        a->label_tmpls = xrealloc(a->label_tmpls, (a->nlabels + 1) * sizeof(char *));
        a->label_names[a->nlabels] = xstrdup("severity");
        a->label_tmpls[a->nlabels++] = xstrdup(lua_tostring(L, -1));
    }
    lua_pop(L, 1);
    return 0;
}

/* ---- the environment ---- */

/* Aggregations are plain Lua over the vectors the C functions return. */
static const char prelude[] =
    "local function key_of(labels, by)\n"
    "  local parts, out = {}, {}\n"
    "  for i, k in ipairs(by or {}) do\n"
    "    local v = labels[k] or ''\n"
    "    parts[i] = v\n"
    "    if v ~= '' then out[k] = v end\n"
    "  end\n"
    "  return table.concat(parts, '\\0'), out\n"
    "end\n"
    "local function aggregate(vec, by, first, step, finish)\n"
    "  local groups, order = {}, {}\n"
    "  for _, s in ipairs(vec or {}) do\n"
    "    local key, labels = key_of(s.labels or {}, by)\n"
    "    local g = groups[key]\n"
    "    if g then g.acc = step(g.acc, s.value); g.n = g.n + 1\n"
    "    else g = {labels = labels, acc = first(s.value), n = 1}; groups[key] = g;"
    " order[#order + 1] = key end\n"
    "  end\n"
    "  local out = {}\n"
    "  for i, key in ipairs(order) do\n"
    "    local g = groups[key]\n"
    "    out[i] = {labels = g.labels, value = finish and finish(g.acc, g.n) or g.acc}\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local function id(v) return v end\n"
    "local function add(a, v) return a + v end\n"
    "sum = function(vec, by) return aggregate(vec, by, id, add) end\n"
    "count = function(vec, by) return aggregate(vec, by, function() return 1 end,"
    " function(a) return a + 1 end) end\n"
    "avg = function(vec, by) return aggregate(vec, by, id, add,"
    " function(a, n) return a / n end) end\n"
    "min = function(vec, by) return aggregate(vec, by, id, function(a, v)"
    " if v < a or a ~= a then return v end return a end) end\n"
    "max = function(vec, by) return aggregate(vec, by, id, function(a, v)"
    " if v > a or a ~= a then return v end return a end) end\n"
    "filter = function(vec, fn)\n"
    "  local out = {}\n"
    "  for _, s in ipairs(vec or {}) do if fn(s) then out[#out + 1] = s end end\n"
    "  return out\n"
    "end\n"
    "local function label_key(labels)\n"
    "  local keys = {}\n"
    "  for k in pairs(labels or {}) do keys[#keys + 1] = k end\n"
    "  table.sort(keys)\n"
    "  local parts = {}\n"
    "  for i, k in ipairs(keys) do parts[i] = k .. '\\1' .. labels[k] end\n"
    "  return table.concat(parts, '\\2')\n"
    "end\n"
    "local function keyset(vec)\n"
    "  local set = {}\n"
    "  for _, s in ipairs(vec or {}) do set[label_key(s.labels)] = true end\n"
    "  return set\n"
    "end\n"
    "intersect = function(a, b)\n"
    "  local set, out = keyset(b), {}\n"
    "  for _, s in ipairs(a or {}) do if set[label_key(s.labels)] then out[#out + 1] = s end end\n"
    "  return out\n"
    "end\n"
    "unless = function(a, b)\n"
    "  local set, out = keyset(b), {}\n"
    "  for _, s in ipairs(a or {}) do if not set[label_key(s.labels)] then out[#out + 1] = s end "
    "end\n"
    "  return out\n"
    "end\n"
    "facts = function()\n"
    "  local f = { gslb = {}, patroni = {}, dr_state = {}, dr_state_since = {}, transition = {} }\n"
    "  for _, s in ipairs(series('drwatch_gslb_answer_class')) do\n"
    "    if s.value == 1 then f.gslb[s.labels.resolver or ''] = s.labels.class end\n"
    "  end\n"
    "  local peer = series('drwatch_collector_up', { collector = 'peer' })\n"
    "  if #peer > 0 then\n"
    "    f.peer_reachable = true\n"
    "    for _, s in ipairs(peer) do if s.value == 0 then f.peer_reachable = false end end\n"
    "  end\n"
    "  for _, s in ipairs(series('drwatch_peer_info')) do\n"
    "    if (s.labels.state or '') ~= '' then f.peer_state = s.labels.state end\n"
    "  end\n"
    "  local function site_of(s)\n"
    "    local site = s.labels.site or ''\n"
    "    f.patroni[site] = f.patroni[site] or {}\n"
    "    return f.patroni[site]\n"
    "  end\n"
    "  for _, s in ipairs(series('drwatch_patroni_leader_present')) do\n"
    "    site_of(s).leader_present = s.value == 1 end\n"
    "  for _, s in ipairs(series('drwatch_patroni_leader_writable')) do\n"
    "    site_of(s).writable = s.value == 1 end\n"
    "  for _, s in ipairs(series('drwatch_patroni_standby_cluster')) do\n"
    "    site_of(s).standby_cluster = s.value == 1 end\n"
    "  for _, s in ipairs(series('drwatch_configmap_state_info')) do\n"
    "    local site = s.labels.site or ''\n"
    "    f.dr_state[site] = s.labels.last_stable_state\n"
    "    if (s.labels.transition or '') ~= '' then f.transition[site] = s.labels.transition end\n"
    "  end\n"
    "  for _, s in ipairs(series('drwatch_configmap_last_stable_state_timestamp_seconds')) do\n"
    "    f.dr_state_since[s.labels.site or ''] = s.value end\n"
    "  return f\n"
    "end\n"
    "any = function(vec) return vec ~= nil and #vec > 0 end\n"
    "absent = function(vec) return vec == nil or #vec == 0 end\n";

static int strict_index(lua_State *L)
{
    return luaL_error(L, "undefined variable '%s' (rule files declare helpers with 'local')",
                      luaL_tolstring(L, 2, NULL));
}

static int strict_newindex(lua_State *L)
{
    return luaL_error(L, "cannot set global '%s' (rule files declare helpers with 'local')",
                      luaL_tolstring(L, 2, NULL));
}

static void set_fn(lua_State *L, struct rule_file *f, const char *name, lua_CFunction fn)
{
    lua_pushlightuserdata(L, f);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, -2, name);
}

int rulelib_push_env(struct rule_file *f, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        enum range_fn fn;
    } ranges[] = {{"rate", RANGE_RATE},
                  {"increase", RANGE_INCREASE},
                  {"delta", RANGE_DELTA},
                  {"irate", RANGE_IRATE},
                  {"avg_over_time", RANGE_AVG},
                  {"min_over_time", RANGE_MIN},
                  {"max_over_time", RANGE_MAX},
                  {"sum_over_time", RANGE_SUM},
                  {"count_over_time", RANGE_COUNT},
                  {"last_over_time", RANGE_LAST}};
    lua_State *L = luabox_state(f->box);
    luabox_new_env(f->box);
    int env = lua_gettop(L);
    set_fn(L, f, "alert", l_alert);
    set_fn(L, f, "transition", transition_rules_declare);
    set_fn(L, f, "series", l_series);
    set_fn(L, f, "value", l_value);
    set_fn(L, f, "time", l_time);
    set_fn(L, f, "duration", l_duration);
    for (size_t i = 0; i < ARRAY_LEN(ranges); i++) {
        lua_pushlightuserdata(L, f);
        lua_pushinteger(L, ranges[i].fn);
        lua_pushcclosure(L, l_range, 2);
        lua_setfield(L, env, ranges[i].name);
    }
    if (luabox_load(f->box, prelude, sizeof(prelude) - 1, "=rules prelude", env, err, errlen) !=
            LUABOX_OK ||
        luabox_call(f->box, 0, 0, 1000, err, errlen) != LUABOX_OK)
        return -1;
    lua_getfield(L, env, "facts"); /* a transition's reason function is given facts() */
    f->facts_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    lua_pushcfunction(L, strict_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, strict_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, env);
    return 0;
}
