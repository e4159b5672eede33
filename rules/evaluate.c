/* evaluate.c: one evaluation of every rule (see engine.c for the overview), its outputs (the
 * metric set and the /api/v1/alerts JSON), and the state file that keeps `for` progress over a
 * restart. */
#include <jansson.h>
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "clock.h"
#include "durable.h"
#include "engine_int.h"
#include "template.h"
#include "template_format.h"
#include "textparse.h"
#include "xalloc.h"

/* An alert element being built from one sample that expr returned. */
struct element {
    char *sample_labels; /* canonical, for templates */
    char *labels;        /* canonical alert labels, alertname included */
    double value;
    char **ann_values;
};

static char *rule_key(const struct rule_file *f, const struct rule_alert *a)
{
    return xasprintf("%s\x1f%s#%d", f->path, a->name, a->ordinal);
}

static bool label_lookup(void *arg, const char *name, struct buf *value)
{
    const char *labels = arg;
    return labels_get(labels, strlen(labels), name, value);
}

/* The sample table at idx: its labels as pairs (strings owned by the Lua stack) and value. */
static int read_sample(lua_State *L, int idx, struct label_pair *pairs, size_t *n, double *value,
                       char *err, size_t errlen)
{
    *n = 0;
    *value = 1;
    lua_getfield(L, idx, "value");
    if (lua_type(L, -1) == LUA_TNUMBER)
        *value = lua_tonumber(L, -1);
    else if (!lua_isnil(L, -1)) {
        snprintf(err, errlen, "a sample's value must be a number");
        lua_pop(L, 1);
        return -1;
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "labels");
    if (lua_isnil(L, -1)) return 0; /* left on the stack: the caller pops it */
    if (!lua_istable(L, -1)) {
        snprintf(err, errlen, "a sample's labels must be a table");
        return -1;
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        /* Strings only: their pointers stay valid while the table holds them. */
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
            snprintf(err, errlen, "labels must map names to strings (use tostring)");
            lua_pop(L, 2);
            return -1;
        }
        const char *k = lua_tostring(L, -2);
        if (strcmp(k, "__name__") != 0) {
            if (*n == 64) {
                snprintf(err, errlen, "more than 64 labels");
                lua_pop(L, 2);
                return -1;
            }
            pairs[(*n)++] = (struct label_pair){k, lua_tostring(L, -1)};
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* Expands the rule's labels and annotations for one sample (its table at sidx). */
static int expand(struct rule_file *f, struct rule_alert *a, int sidx, struct element *el,
                  struct label_pair *pairs, size_t n, char *err, size_t errlen)
{
    lua_State *L = luabox_state(f->box);
    struct buf b;
    buf_init(&b, CAP_LABELS_TEXT);
    if (labels_format(&b, pairs, n) < 0) {
        snprintf(err, errlen, "a sample has an invalid or repeated label name");
        buf_free(&b);
        return -1;
    }
    el->sample_labels = buf_steal(&b, NULL);
    /* Rule labels (templated) replace the sample's of the same name; then alertname. */
    struct label_pair all[64 + 32];
    char *expanded[32];
    size_t m = 0, nl = a->nlabels < 31 ? a->nlabels : 31;
    for (size_t i = 0; i < nl; i++) {
        buf_init(&b, CAP_TEMPLATE_TEXT);
        template_expand(a->label_tmpls[i], label_lookup, el->sample_labels, el->value, &b);
        expanded[i] = buf_steal(&b, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        bool overridden = strcmp(pairs[i].name, "alertname") == 0;
        for (size_t k = 0; k < nl && !overridden; k++)
            overridden = strcmp(pairs[i].name, a->label_names[k]) == 0;
        if (!overridden) all[m++] = pairs[i];
    }
    for (size_t i = 0; i < nl; i++) all[m++] = (struct label_pair){a->label_names[i], expanded[i]};
    all[m++] = (struct label_pair){"alertname", a->name};
    buf_init(&b, CAP_LABELS_TEXT);
    int lrc = labels_format(&b, all, m);
    el->labels = buf_steal(&b, NULL);
    for (size_t i = 0; i < nl; i++) free(expanded[i]);
    if (lrc < 0) {
        /* A templated label that makes the set invalid or too long fails the rule, rather
         * than firing with labels that are not the ones it declares. */
        snprintf(err, errlen,
                 "alert %s: its templated labels make an invalid or over-long label "
                 "set",
                 a->name);
        return -1;
    }
    el->ann_values = xcalloc(a->nann ? a->nann : 1, sizeof(char *));
    for (size_t i = 0; i < a->nann; i++) {
        buf_init(&b, CAP_TEMPLATE_TEXT);
        if (a->ann_tmpls[i]) {
            template_expand(a->ann_tmpls[i], label_lookup, el->sample_labels, el->value, &b);
        } else {
            /* Already inside the protected conversion, under the expr's budget. */
            lua_rawgeti(L, LUA_REGISTRYINDEX, a->ann_refs[i]);
            if (lua_istable(L, sidx))
                lua_getfield(L, sidx, "labels");
            else
                lua_pushnil(L);
            if (lua_isnil(L, -1)) lua_pop(L, 1), lua_newtable(L);
            lua_pushnumber(L, el->value);
            if (luabox_pcall(L, 2, 1) == LUA_OK) {
                buf_puts(&b, lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
            } else {
                buf_printf(&b, "<error expanding template: %s>",
                           lua_isstring(L, -1) ? lua_tostring(L, -1) : "error");
            }
            lua_pop(L, 1);
        }
        el->ann_values[i] = buf_steal(&b, NULL);
    }
    return 0;
}

static void free_elements(struct element *els, size_t n, size_t nann)
{
    for (size_t i = 0; i < n; i++) {
        free(els[i].sample_labels);
        free(els[i].labels);
        for (size_t k = 0; els[i].ann_values && k < nann; k++) free(els[i].ann_values[k]);
        free(els[i].ann_values);
    }
    free(els);
}

/* The conversion of expr's result, run protected (lua_pcall through luabox_call) because it
 * touches Lua values: a memory error or a timeout there must fail the rule, not the daemon.
 * Elements are owned by the struct, so nothing leaks when an error unwinds the conversion. */
struct conversion {
    struct rule_file *f;
    struct rule_alert *a;
    struct element *els;
    size_t n;
};

static int convert_fail(lua_State *L, const char *msg)
{
    return luaL_error(L, "%s", msg);
}

static int convert(lua_State *L)
{
    struct conversion *cv = lua_touserdata(L, 1);
    int top = 2;
    char err[300];
    if (lua_isnil(L, top) || (lua_isboolean(L, top) && !lua_toboolean(L, top))) return 0;
    bool single = lua_isboolean(L, top);
    if (!single && !lua_istable(L, top)) {
        snprintf(err, sizeof(err),
                 "expr returned a %s; it must return series (a list of "
                 "{labels=..., value=...}), one sample, true, false or nil",
                 luaL_typename(L, top));
        return convert_fail(L, err);
    }
    if (!single) {
        lua_getfield(L, top, "labels");
        lua_getfield(L, top, "value");
        single = !lua_isnil(L, -1) || !lua_isnil(L, -2);
        lua_pop(L, 2);
    }
    size_t n = single ? 1 : (size_t)lua_rawlen(L, top);
    cv->els = xcalloc(n ? n : 1, sizeof(*cv->els));
    cv->n = n;
    for (size_t i = 0; i < n; i++) {
        if (single)
            lua_pushvalue(L, top);
        else
            lua_rawgeti(L, top, (lua_Integer)i + 1);
        int sidx = lua_gettop(L);
        struct label_pair pairs[64];
        size_t np = 0;
        int rc = 0;
        if (lua_istable(L, sidx)) {
            rc = read_sample(L, sidx, pairs, &np, &cv->els[i].value, err, sizeof(err));
        } else if (lua_isboolean(L, sidx)) {
            cv->els[i].value = 1;
        } else {
            snprintf(err, sizeof(err), "element %zu of the result is a %s, not a sample", i + 1,
                     luaL_typename(L, sidx));
            rc = -1;
        }
        if (rc == 0) rc = expand(cv->f, cv->a, sidx, &cv->els[i], pairs, np, err, sizeof(err));
        if (rc) return convert_fail(L, err);
        lua_settop(L, top);
    }
    return 0;
}

static void restore_alert(struct rules_engine *e, struct rule_file *f, struct rule_alert *a)
{
    if (!e->nrestore || e->t - e->restore_saved_at > e->outage_s) return;
    char *key = rule_key(f, a);
    for (size_t i = 0; i < e->nrestore; i++) {
        if (strcmp(e->restore[i].rule_key, key) != 0) continue;
        struct alert_instance *in = alertstate_find(a->state, e->restore[i].labels);
        if (in)
            alertstate_restore(in, e->t, a->for_s, e->restore[i].active_at, e->restore_saved_at,
                               e->grace_s);
    }
    free(key);
}

static enum luabox_outcome eval_alert(struct rules_engine *e, struct rule_file *f,
                                      struct rule_alert *a, int64_t deadline)
{
    lua_State *L = luabox_state(f->box);
    char err[512];
    int64_t left = deadline - time_mono_ms();
    double t0 = time_mono_s();
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->expr_ref);
    enum luabox_outcome o = luabox_call(f->box, 0, 1, left > 0 ? left : 1, err, sizeof(err));
    struct conversion cv = {.f = f, .a = a};
    if (o == LUABOX_OK) {
        /* The result is on the stack: convert(cv, result), under the rest of the budget. */
        lua_pushcfunction(L, convert);
        lua_insert(L, -2);
        lua_pushlightuserdata(L, &cv);
        lua_insert(L, -2);
        left = deadline - time_mono_ms();
        o = luabox_call(f->box, 2, 0, left > 0 ? left : 1, err, sizeof(err));
    }
    struct element *els = cv.els;
    size_t n = cv.n;
    if (o == LUABOX_OK) {
        struct alert_element *ae = xcalloc(n ? n : 1, sizeof(*ae));
        for (size_t i = 0; i < n; i++)
            ae[i] = (struct alert_element){els[i].labels, els[i].value,
                                           (const char *const *)a->ann_names,
                                           (const char *const *)els[i].ann_values, a->nann};
        if (alertstate_update(a->state, e->t, a->for_s, a->keep_firing_for_s, ae, n) < 0) {
            snprintf(err, sizeof(err),
                     "%s: two results have the same labels once the alert's "
                     "labels are applied",
                     a->name);
            o = LUABOX_ERROR;
        }
        free(ae);
        restore_alert(e, f, a);
    }
    free_elements(els, n, a->nann);
    if (o != LUABOX_OK && atomic_load(&e->interrupted)) return o; /* stopped, not failed */
    a->last_outcome = o;
    a->last_duration = time_mono_s() - t0;
    if (o != LUABOX_OK) {
        a->failures[o]++;
        log_complain(&a->complaint, LOG_WARN, "rules", "alert %s (%s): %s: %s", a->name, f->path,
                     luabox_outcome_name(o), err);
    } else {
        log_complain_clear(&a->complaint, "rules", "alert %s (%s) evaluates again", a->name,
                           f->path);
    }
    return o;
}

static void eval_file(struct rules_engine *e, struct rule_file *f)
{
    double t0 = time_mono_s();
    int64_t deadline = time_mono_ms() + e->timeout_ms;
    enum luabox_outcome worst = LUABOX_OK;
    for (size_t i = 0; i < f->nalerts; i++) {
        enum luabox_outcome o = eval_alert(e, f, &f->alerts[i], deadline);
        if (o > worst) worst = o;
    }
    enum luabox_outcome o = transition_rules_eval(e, f, deadline);
    if (o > worst) worst = o;
    if (atomic_load(&e->interrupted)) return;
    lua_gc(luabox_state(f->box), LUA_GCSTEP, 0);
    f->evaluations[worst]++;
    f->last_duration = time_mono_s() - t0;
}

/* ---- outputs ---- */

/* Adds a sample whose labels are canonical text plus one more label. */
static void add_alert_sample(struct metric_set *m, struct metric_family *fam, const char *labels,
                             const char *extra_name, const char *extra_value, double v)
{
    struct tp_label tl[80];
    size_t n = 0, pos = 0, len = strlen(labels);
    while (n < ARRAY_LEN(tl) && labels_next(labels, len, &pos, &tl[n].name, &tl[n].name_len,
                                            &tl[n].value, &tl[n].value_len))
        n++;
    struct tp_sample ts = {.labels = tl, .nlabels = n, .value = v};
    struct label_pair extra = {extra_name, extra_value};
    mset_add_parsed(m, fam, &ts, extra_name ? &extra : NULL, extra_name ? 1 : 0);
}

static void add_file_metrics(struct metric_set *m, const struct rule_file *f)
{
    struct metric_family *ev = mset_family(
        m, "drwatch_rule_evaluations_total", METRIC_COUNTER,
        "Evaluations of each rule file, by outcome (the worst of its rules: ok, error, timeout, "
        "out_of_memory).");
    for (int o = 0; o < 4; o++)
        mset_addv(m, ev, (double)f->evaluations[o], "file", f->path, "outcome",
                  luabox_outcome_name((enum luabox_outcome)o), (const char *)NULL);
    struct metric_family *du =
        mset_family(m, "drwatch_rule_evaluation_duration_seconds", METRIC_GAUGE,
                    "How long the last evaluation of each rule file took.");
    mset_family_set_unit(m, du, "seconds");
    mset_addv(m, du, f->last_duration, "file", f->path, (const char *)NULL);
    struct metric_family *mem = mset_family(m, "drwatch_rule_memory_bytes", METRIC_GAUGE,
                                            "Heap of each rule file's Lua state.");
    mset_family_set_unit(m, mem, "bytes");
    mset_addv(m, mem, (double)luabox_mem_used(f->box), "file", f->path, (const char *)NULL);
    struct metric_family *fl = mset_family(
        m, "drwatch_rule_failures_total", METRIC_COUNTER,
        "Failed evaluations of each alert rule, by outcome (error, timeout, out_of_memory); a "
        "failed rule keeps its alerts as they were.");
    for (size_t i = 0; i < f->nalerts; i++) {
        const struct rule_alert *a = &f->alerts[i];
        for (int o = 1; o < 4; o++)
            if (a->failures[o])
                mset_addv(m, fl, (double)a->failures[o], "file", f->path, "alertname", a->name,
                          "outcome", luabox_outcome_name((enum luabox_outcome)o),
                          (const char *)NULL);
    }
}

static struct metric_set *build_metrics(struct rules_engine *e)
{
    struct metric_set *m = mset_new();
    struct metric_family *al = mset_family(
        m, "drwatch_alert", METRIC_GAUGE,
        "Active alerts (pending or firing), as Prometheus' ALERTS; labels as the alert's.");
    struct metric_family *fs = mset_family(
        m, "drwatch_alert_for_state", METRIC_GAUGE,
        "When each active alert became active (Unix time), as Prometheus' ALERTS_FOR_STATE.");
    for (size_t i = 0; i < e->nfiles; i++) {
        const struct rule_file *f = &e->files[i];
        for (size_t k = 0; k < f->nalerts; k++) {
            const struct alert_rule_state *rs = f->alerts[k].state;
            for (size_t j = 0; j < alertstate_count(rs); j++) {
                const struct alert_instance *in = alertstate_at(rs, j);
                if (in->state == ALERT_INACTIVE) continue;
                add_alert_sample(m, al, in->labels, "alertstate", alert_state_name(in->state), 1);
                add_alert_sample(m, fs, in->labels, NULL, NULL, in->active_at);
            }
        }
        add_file_metrics(m, f);
        transition_rules_metrics(m, f);
    }
    struct metric_family *hp = mset_family(m, "drwatch_rule_history_points", METRIC_GAUGE,
                                           "Points kept for range functions (rate, *_over_time).");
    mset_addv(m, hp, (double)history_points(e->history), (const char *)NULL);
    struct metric_family *hr =
        mset_family(m, "drwatch_rule_history_refused_total", METRIC_COUNTER,
                    "Points not kept for range functions because max_history_points was reached.");
    mset_addv(m, hr, (double)history_refused(e->history), (const char *)NULL);
    struct metric_family *le = mset_family(m, "drwatch_rule_last_evaluation_timestamp_seconds",
                                           METRIC_GAUGE, "When the rules were last evaluated.");
    mset_family_set_unit(m, le, "seconds");
    mset_addv(m, le, e->t, (const char *)NULL);
    mset_seal(m);
    return m;
}

static void iso_time(char *out, size_t len, double t)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    /* RFC 3339 with the fraction Go's RFC3339Nano writes: trailing zeros (and a bare dot)
     * left out, so ".5Z" and "Z" as Prometheus answers. */
    snprintf(out + n, len - n, ".%03d", (int)((t - (double)s) * 1000));
    size_t e = strlen(out);
    while (e > n && (out[e - 1] == '0' || out[e - 1] == '.')) {
        bool dot = out[e - 1] == '.';
        out[--e] = '\0';
        if (dot) break;
    }
    snprintf(out + e, len - e, "Z");
}

static json_t *labels_json(const char *labels)
{
    json_t *o = json_object();
    size_t pos = 0, nl, vl, len = strlen(labels);
    const char *name, *value;
    char small[512];
    while (labels_next(labels, len, &pos, &name, &nl, &value, &vl)) {
        char *plain = vl < sizeof(small) ? small : xmalloc(vl + 1);
        textparse_unescape(plain, value, vl);
        char *key = xstrndup(name, nl);
        json_object_set_new(o, key, json_string(plain));
        free(key);
        if (plain != small) free(plain);
    }
    return o;
}

static char *build_json(struct rules_engine *e)
{
    json_t *alerts = json_array();
    for (size_t i = 0; i < e->nfiles; i++) {
        const struct rule_file *f = &e->files[i];
        for (size_t k = 0; k < f->nalerts; k++) {
            const struct alert_rule_state *rs = f->alerts[k].state;
            for (size_t j = 0; j < alertstate_count(rs); j++) {
                const struct alert_instance *in = alertstate_at(rs, j);
                if (in->state == ALERT_INACTIVE) continue;
                json_t *ann = json_object();
                for (size_t a = 0; a < in->nannotations; a++)
                    json_object_set_new(ann, in->annotation_names[a],
                                        json_string(in->annotation_values[a]));
                char at[40], val[40];
                iso_time(at, sizeof(at), in->active_at);
                go_format_float_e(val, sizeof(val), in->value); /* as Prometheus: 1e-01 */
                json_array_append_new(alerts, json_pack("{s:o,s:o,s:s,s:s,s:s}", "labels",
                                                        labels_json(in->labels), "annotations", ann,
                                                        "state", alert_state_name(in->state),
                                                        "activeAt", at, "value", val));
            }
        }
    }
    json_t *doc = json_pack("{s:s,s:{s:o}}", "status", "success", "data", "alerts", alerts);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}

void rules_eval(struct rules_engine *e, double t, const struct snapshot *instant,
                const struct snapshot *raw)
{
    e->t = t;
    e->instant = instant;
    e->raw = raw;
    transition_rules_clear(e);
    rulelib_record_history(e);
    for (size_t i = 0; i < e->nfiles; i++) eval_file(e, &e->files[i]);
    /* Restored `for` progress is for the first evaluation after a start only. */
    for (size_t i = 0; i < e->nrestore; i++)
        free(e->restore[i].rule_key), free(e->restore[i].labels);
    free(e->restore);
    e->restore = NULL;
    e->nrestore = 0;
    mset_unref(e->out);
    e->out = build_metrics(e);
    char *json = build_json(e);
    pthread_mutex_lock(&e->json_lock);
    free(e->json);
    e->json = json;
    pthread_mutex_unlock(&e->json_lock);
    e->instant = e->raw = NULL;
}

struct metric_set *rules_metrics(struct rules_engine *e)
{
    if (e->out) mset_ref(e->out);
    return e->out;
}

char *rules_alerts_json(struct rules_engine *e)
{
    pthread_mutex_lock(&e->json_lock);
    char *copy = xstrdup(e->json ? e->json : "{\"status\":\"success\",\"data\":{\"alerts\":[]}}");
    pthread_mutex_unlock(&e->json_lock);
    return copy;
}

void rules_each_alert(struct rules_engine *e, rules_alert_fn fn, void *arg)
{
    for (size_t i = 0; i < e->nfiles; i++) {
        const struct rule_file *f = &e->files[i];
        for (size_t k = 0; k < f->nalerts; k++) {
            const struct alert_rule_state *rs = f->alerts[k].state;
            for (size_t j = 0; j < alertstate_count(rs); j++) {
                const struct alert_instance *in = alertstate_at(rs, j);
                fn(arg, f->alerts[k].name, in->labels, (const char *const *)in->annotation_names,
                   (const char *const *)in->annotation_values, in->nannotations, (int)in->state,
                   in->value);
            }
        }
    }
}

void rules_each_instance(struct rules_engine *e, rules_instance_fn fn, void *arg)
{
    for (size_t i = 0; i < e->nfiles; i++) {
        const struct rule_file *f = &e->files[i];
        for (size_t k = 0; k < f->nalerts; k++) {
            const struct alert_rule_state *rs = f->alerts[k].state;
            for (size_t j = 0; j < alertstate_count(rs); j++) {
                const struct alert_instance *in = alertstate_at(rs, j);
                struct rules_alert_view v = {
                    .alertname = f->alerts[k].name,
                    .labels = in->labels,
                    .ann_names = (const char *const *)in->annotation_names,
                    .ann_values = (const char *const *)in->annotation_values,
                    .nann = in->nannotations,
                    .state = (int)in->state,
                    .value = in->value,
                    .active_at = in->active_at,
                    .fired_at = in->fired_at,
                    .resolved_at = in->resolved_at,
                };
                fn(arg, &v);
            }
        }
    }
}

/* ---- the state file ---- */

int rules_save_state(struct rules_engine *e, double now, char *err, size_t errlen)
{
    if (!e->state_file) return 0;
    json_t *list = json_array();
    for (size_t i = 0; i < e->nfiles; i++) {
        const struct rule_file *f = &e->files[i];
        for (size_t k = 0; k < f->nalerts; k++) {
            const struct alert_rule_state *rs = f->alerts[k].state;
            char *key = rule_key(f, &f->alerts[k]);
            for (size_t j = 0; j < alertstate_count(rs); j++) {
                const struct alert_instance *in = alertstate_at(rs, j);
                if (in->state == ALERT_INACTIVE) continue;
                json_array_append_new(list, json_pack("{s:s,s:s,s:f}", "rule", key, "labels",
                                                      in->labels, "active_at", in->active_at));
            }
            free(key);
        }
    }
    json_t *doc = json_pack("{s:i,s:f,s:o}", "version", 1, "saved_at", now, "alerts", list);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!text) { /* jansson sets no errno: say what failed instead */
        snprintf(err, errlen, "%s: cannot encode the rule state", e->state_file);
        return -1;
    }
    int rc = durable_replace(e->state_file, text, strlen(text), err, errlen);
    free(text);
    return rc < 0 ? -1 : 0;
}

int rules_load_state(struct rules_engine *e, double now, char *err, size_t errlen)
{
    (void)now;
    if (!e->state_file) return 0;
    json_error_t je;
    json_t *doc = json_load_file(e->state_file, 0, &je);
    if (!doc) {
        if (access(e->state_file, F_OK) != 0) return 0; /* a first start */
        snprintf(err, errlen, "%s:%d: %s", e->state_file, je.line, je.text);
        return -1;
    }
    json_t *list = json_object_get(doc, "alerts");
    e->restore_saved_at = json_number_value(json_object_get(doc, "saved_at"));
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it)
    {
        const char *rule = json_string_value(json_object_get(it, "rule"));
        const char *labels = json_string_value(json_object_get(it, "labels"));
        json_t *at = json_object_get(it, "active_at");
        if (!rule || !labels || !json_is_number(at)) continue;
        e->restore = xrealloc(e->restore, (e->nrestore + 1) * sizeof(*e->restore));
        e->restore[e->nrestore++] =
            (struct restore_entry){xstrdup(rule), xstrdup(labels), json_number_value(at)};
    }
    json_decref(doc);
    return (int)e->nrestore;
}
