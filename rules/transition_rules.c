/* transition_rules.c: transition(name, spec), the rule that asks for a DR transition, and its
 * evaluation (see rules.h, rules_transition_request).
 *
 * A transition rule is data a file declares while it loads: the target, a `when` function, a
 * reason (text, or a function given facts()) and an optional evidence function. Every
 * evaluation runs each transition rule's `when` after the file's alerts, in the file's sandbox
 * and under what is left of the file's time budget. The first rule whose `when` is true (files
 * in load order, rules in file order) and whose reason and evidence can be made becomes the
 * evaluation's one request; the others that are true are counted as suppressed, so a rule that
 * always loses shows. A failing rule is counted and logged as a failing alert expr is, and makes
 * no request: a request comes only from a rule that ran whole. `when` must return a boolean (nil
 * is false): a number would be true in Lua whatever its value, which is no way to decide a
 * failover.
 *
 * The engine never acts on the request: main.c hands it to the switchover part, which judges
 * it against its own state, its automation switch and its own evidence.
 *
 * Uses: luabox (every call under the budget), engine_int.h (the file and the engine). */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "clock.h"
#include "engine_int.h"
#include "metric.h"
#include "xalloc.h"

#define EVIDENCE_MAX 64 /* check = value pairs one evidence table may hold */

/* ---- declaring ---- */

static void free_transition(lua_State *L, struct rule_transition *t)
{
    int refs[] = {t->when_ref, t->reason_ref, t->evidence_ref};
    for (size_t i = 0; L && i < ARRAY_LEN(refs); i++)
        if (refs[i] != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, refs[i]);
    free(t->name);
    free(t->to);
    free(t->reason_text);
}

void transition_rules_free(lua_State *L, struct rule_file *f)
{
    for (size_t i = 0; i < f->ntransitions; i++) free_transition(L, &f->transitions[i]);
    free(f->transitions);
    f->transitions = NULL;
    f->ntransitions = 0;
}

static int check_fields(lua_State *L, int idx, char *err, size_t errlen)
{
    static const char *const known[] = {"to", "when", "reason", "evidence"};
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        bool ok = false;
        for (size_t i = 0; i < ARRAY_LEN(known) && lua_type(L, -1) == LUA_TSTRING; i++)
            ok = ok || strcmp(known[i], lua_tostring(L, -1)) == 0;
        if (!ok) {
            snprintf(err, errlen, "unknown field \"%s\" (known: to, when, reason, evidence)",
                     lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
            lua_pop(L, 1);
            return -1;
        }
    }
    return 0;
}

/* A target as the switchover part names states: a-z, 0-9 and '-'. The rules do not know the
 * states (they are the switchover part's); it refuses what is not one. */
static bool target_valid(const char *s, size_t n)
{
    if (n == 0 || n > RULES_TRANSITION_TO_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

/* The function in field (required, or LUA_NOREF when absent) as a registry reference. */
static int read_function(lua_State *L, int idx, const char *field, bool required, int *ref,
                         char *err, size_t errlen)
{
    lua_getfield(L, idx, field);
    if (lua_isnil(L, -1) && !required) {
        lua_pop(L, 1);
        return 0;
    }
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        snprintf(err, errlen, "%s: expected a function", field);
        return -1;
    }
    *ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* Reads the spec at idx into t. Everything that can raise a Lua error comes before the C
 * copies, so that an error leaves nothing of t allocated but registry references. */
static int read_spec(lua_State *L, int idx, struct rule_transition *t, char *err, size_t errlen)
{
    if (check_fields(L, idx, err, errlen) < 0) return -1;
    lua_getfield(L, idx, "to");
    size_t to_len = 0, reason_len = 0;
    const char *to = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &to_len) : NULL;
    lua_pop(L, 1); /* the spec table holds the string */
    if (!to || !target_valid(to, to_len)) {
        snprintf(err, errlen,
                 "to: expected the target state, such as \"golddr-primary\" (a-z, "
                 "0-9 and '-', at most %d bytes)",
                 RULES_TRANSITION_TO_MAX);
        return -1;
    }
    if (read_function(L, idx, "when", true, &t->when_ref, err, errlen) < 0 ||
        read_function(L, idx, "evidence", false, &t->evidence_ref, err, errlen) < 0)
        return -1;
    lua_getfield(L, idx, "reason");
    const char *reason = NULL;
    if (lua_isfunction(L, -1)) {
        t->reason_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
        if (lua_type(L, -1) == LUA_TSTRING) reason = lua_tolstring(L, -1, &reason_len);
        lua_pop(L, 1);
        if (!reason || reason_len == 0 || reason_len > CAP_TRANSITION_TEXT) {
            snprintf(err, errlen,
                     "reason: expected a text (at most %zu bytes) or a "
                     "function(facts) returning one",
                     (size_t)CAP_TRANSITION_TEXT);
            return -1;
        }
    }
    t->to = xstrndup(to, to_len);
    if (reason) t->reason_text = xstrndup(reason, reason_len);
    return 0;
}

int transition_rules_declare(lua_State *L)
{
    struct rule_file *f = lua_touserdata(L, lua_upvalueindex(1));
    const char *name = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!f->loading)
        return luaL_error(L, "transition() declares transition rules while the file loads only");
    if (!metric_name_valid(name, strlen(name)) || strchr(name, ':'))
        return luaL_error(L, "transition name \"%s\" is not a valid metric name", name);
    for (size_t i = 0; i < f->ntransitions; i++)
        if (strcmp(f->transitions[i].name, name) == 0)
            return luaL_error(L, "transition \"%s\" is declared twice in this file", name);
    struct rule_transition t = {
        .when_ref = LUA_NOREF, .reason_ref = LUA_NOREF, .evidence_ref = LUA_NOREF};
    char err[512];
    if (read_spec(L, 2, &t, err, sizeof(err)) < 0) {
        free_transition(L, &t);
        return luaL_error(L, "transition \"%s\": %s", name, err);
    }
    t.name = xstrdup(name);
    f->transitions = xrealloc(f->transitions, (f->ntransitions + 1) * sizeof(*f->transitions));
    f->transitions[f->ntransitions++] = t;
    return 0;
}

/* ---- evaluating ---- */

static int64_t left_ms(int64_t deadline)
{
    int64_t left = deadline - time_mono_ms();
    return left > 0 ? left : 1;
}

/* Runs t's when; *fired is whether it returned true. */
static enum luabox_outcome run_when(struct rule_file *f, const struct rule_transition *t,
                                    int64_t deadline, bool *fired, char *err, size_t errlen)
{
    lua_State *L = luabox_state(f->box);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->when_ref);
    enum luabox_outcome o = luabox_call(f->box, 0, 1, left_ms(deadline), err, errlen);
    if (o != LUABOX_OK) return o;
    int type = lua_type(L, -1);
    *fired = type == LUA_TBOOLEAN && lua_toboolean(L, -1);
    if (type == LUA_TBOOLEAN || type == LUA_TNIL) return LUABOX_OK;
    snprintf(err, errlen, "when returned a %s; it must return true or false (nil is false)",
             lua_typename(L, type));
    return LUABOX_ERROR;
}

/* The reason: t's text, or its function called with facts(). */
static enum luabox_outcome make_reason(struct rule_file *f, const struct rule_transition *t,
                                       int64_t deadline, char **out, char *err, size_t errlen)
{
    if (t->reason_text) {
        *out = xstrdup(t->reason_text);
        return LUABOX_OK;
    }
    lua_State *L = luabox_state(f->box);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->reason_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, f->facts_ref);
    enum luabox_outcome o = luabox_call(f->box, 0, 1, left_ms(deadline), err, errlen);
    if (o == LUABOX_OK) o = luabox_call(f->box, 1, 1, left_ms(deadline), err, errlen);
    if (o != LUABOX_OK) return o; /* the caller resets the stack */
    size_t len = 0;
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    if (!s) {
        snprintf(err, errlen, "reason returned a %s; it must return a text",
                 lua_typename(L, lua_type(L, -1)));
        return LUABOX_ERROR;
    }
    if (len == 0 || len > CAP_TRANSITION_TEXT) {
        snprintf(err, errlen, "reason returned %s; it must be 1 to %zu bytes",
                 len ? "an over-long text" : "an empty text", (size_t)CAP_TRANSITION_TEXT);
        return LUABOX_ERROR;
    }
    *out = xstrndup(s, len);
    return LUABOX_OK;
}

struct evidence_pair {
    const char *check, *value; /* value NULL: the number is in number (pairs move when sorted) */
    char number[40];
};

static int evidence_cmp(const void *a, const void *b)
{
    return strcmp(((const struct evidence_pair *)a)->check,
                  ((const struct evidence_pair *)b)->check);
}

/* Reads the value at the top of the stack into p (strings stay owned by the table). */
static int evidence_value(lua_State *L, struct evidence_pair *p)
{
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: p->value = lua_tostring(L, -1); return 0;
    case LUA_TBOOLEAN: p->value = lua_toboolean(L, -1) ? "true" : "false"; return 0;
    case LUA_TNUMBER:
        if (lua_isinteger(L, -1))
            snprintf(p->number, sizeof(p->number), "%lld", (long long)lua_tointeger(L, -1));
        else
            snprintf(p->number, sizeof(p->number), "%.15g", lua_tonumber(L, -1));
        p->value = NULL;
        return 0;
    default: return -1;
    }
}

/* format_evidence(buf, table): the table as "check=value, ..." sorted by check, into the
 * struct buf given as light userdata. Run protected (luabox_call): it reads Lua values. */
static int format_evidence(lua_State *L)
{
    struct buf *b = lua_touserdata(L, 1);
    if (lua_isnil(L, 2)) return 0;
    if (!lua_istable(L, 2))
        return luaL_error(L, "evidence returned a %s; it must return a table of check = value",
                          luaL_typename(L, 2));
    struct evidence_pair pairs[EVIDENCE_MAX] = {{0}};
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_error(L, "evidence: checks are named by strings");
        if (n == EVIDENCE_MAX) return luaL_error(L, "evidence: more than %d checks", EVIDENCE_MAX);
        pairs[n].check = lua_tostring(L, -2);
        if (evidence_value(L, &pairs[n]) < 0)
            return luaL_error(L, "evidence.%s is a %s; values are strings, numbers or booleans",
                              pairs[n].check, luaL_typename(L, -1));
        n++;
        lua_pop(L, 1);
    }
    qsort(pairs, n, sizeof(*pairs), evidence_cmp);
    for (size_t i = 0; i < n; i++)
        buf_printf(b, "%s%s=%s", i ? ", " : "", pairs[i].check,
                   pairs[i].value ? pairs[i].value : pairs[i].number);
    if (buf_error(b))
        return luaL_error(L, "evidence is longer than %zu bytes", (size_t)CAP_TRANSITION_TEXT);
    return 0;
}

/* The evidence as text: "" without an evidence function. */
static enum luabox_outcome make_evidence(struct rule_file *f, const struct rule_transition *t,
                                         int64_t deadline, char **out, char *err, size_t errlen)
{
    if (t->evidence_ref == LUA_NOREF) {
        *out = xstrdup("");
        return LUABOX_OK;
    }
    lua_State *L = luabox_state(f->box);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->evidence_ref);
    enum luabox_outcome o = luabox_call(f->box, 0, 1, left_ms(deadline), err, errlen);
    if (o != LUABOX_OK) return o;
    struct buf b;
    buf_init(&b, CAP_TRANSITION_TEXT);
    /* The result is on the stack: format_evidence(&b, result). */
    lua_pushcfunction(L, format_evidence);
    lua_insert(L, -2);
    lua_pushlightuserdata(L, &b);
    lua_insert(L, -2);
    o = luabox_call(f->box, 2, 0, left_ms(deadline), err, errlen);
    if (o == LUABOX_OK)
        *out = buf_steal(&b, NULL);
    else
        buf_free(&b);
    return o;
}

/* Runs t: when, then (for the evaluation's first rule that is true) its reason and evidence. */
static enum luabox_outcome eval_one(struct rules_engine *e, struct rule_file *f,
                                    struct rule_transition *t, int64_t deadline)
{
    lua_State *L = luabox_state(f->box);
    int top = lua_gettop(L);
    char err[512] = "", *reason = NULL, *evidence = NULL;
    bool fired = false;
    enum luabox_outcome o = run_when(f, t, deadline, &fired, err, sizeof(err));
    if (o == LUABOX_OK && fired && !e->request_rule) {
        o = make_reason(f, t, deadline, &reason, err, sizeof(err));
        if (o == LUABOX_OK) o = make_evidence(f, t, deadline, &evidence, err, sizeof(err));
    }
    lua_settop(L, top);
    if (o != LUABOX_OK) {
        free(reason);
        if (atomic_load(&e->interrupted)) return o; /* stopped, not failed */
        t->failures[o]++;
        log_complain(&t->complaint, LOG_WARN, "rules", "transition %s (%s): %s: %s", t->name,
                     f->path, luabox_outcome_name(o), err);
        return o;
    }
    log_complain_clear(&t->complaint, "rules", "transition %s (%s) evaluates again", t->name,
                       f->path);
    if (!fired) return LUABOX_OK;
    if (e->request_rule) {
        t->suppressed++;
        return LUABOX_OK;
    }
    t->requests++;
    e->request_rule = t;
    e->request_file = f;
    e->request_reason = reason;
    e->request_evidence = evidence;
    return LUABOX_OK;
}

enum luabox_outcome transition_rules_eval(struct rules_engine *e, struct rule_file *f,
                                          int64_t deadline)
{
    enum luabox_outcome worst = LUABOX_OK;
    for (size_t i = 0; i < f->ntransitions; i++) {
        enum luabox_outcome o = eval_one(e, f, &f->transitions[i], deadline);
        if (o > worst) worst = o;
    }
    return worst;
}

void transition_rules_clear(struct rules_engine *e)
{
    free(e->request_reason);
    free(e->request_evidence);
    e->request_rule = NULL;
    e->request_file = NULL;
    e->request_reason = e->request_evidence = NULL;
}

bool rules_transition_request(const struct rules_engine *e, struct rules_transition *out)
{
    if (!e->request_rule) return false;
    *out = (struct rules_transition){.file = e->request_file->path,
                                     .rule = e->request_rule->name,
                                     .to = e->request_rule->to,
                                     .reason = e->request_reason,
                                     .evidence = e->request_evidence};
    return true;
}

void transition_rules_take_state(struct rules_engine *e, struct rules_engine *old)
{
    for (size_t i = 0; i < e->nfiles; i++) {
        const struct rule_file *f = &e->files[i];
        for (size_t k = 0; k < old->nfiles; k++) {
            const struct rule_file *o = &old->files[k];
            if (strcmp(f->path, o->path) != 0) continue;
            for (size_t a = 0; a < f->ntransitions; a++)
                for (size_t b = 0; b < o->ntransitions; b++)
                    if (strcmp(f->transitions[a].name, o->transitions[b].name) == 0)
                        f->transitions[a].complaint = o->transitions[b].complaint;
        }
    }
}

/* ---- metrics ---- */

void transition_rules_metrics(struct metric_set *m, const struct rule_file *f)
{
    if (!f->ntransitions) return;
    struct metric_family *req = mset_family(
        m, "drwatch_rule_transition_requests_total", METRIC_COUNTER,
        "Evaluations in which each transition rule made the transition request (the first rule, "
        "in file order, whose when was true); the switchover part judges it.");
    struct metric_family *sup =
        mset_family(m, "drwatch_rule_transition_suppressed_total", METRIC_COUNTER,
                    "Evaluations in which a transition rule's when was true but an earlier rule "
                    "made the request (one request per evaluation).");
    struct metric_family *fl = mset_family(
        m, "drwatch_rule_transition_failures_total", METRIC_COUNTER,
        "Failed evaluations of each transition rule (its when, reason or evidence), by outcome "
        "(error, timeout, out_of_memory); a failed rule makes no request.");
    for (size_t i = 0; i < f->ntransitions; i++) {
        const struct rule_transition *t = &f->transitions[i];
        mset_addv(m, req, (double)t->requests, "file", f->path, "rule", t->name, "to", t->to,
                  (const char *)NULL);
        mset_addv(m, sup, (double)t->suppressed, "file", f->path, "rule", t->name, "to", t->to,
                  (const char *)NULL);
        for (int o = 1; o < 4; o++)
            if (t->failures[o])
                mset_addv(m, fl, (double)t->failures[o], "file", f->path, "rule", t->name,
                          "outcome", luabox_outcome_name((enum luabox_outcome)o),
                          (const char *)NULL);
    }
}
