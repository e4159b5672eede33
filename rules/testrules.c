/* testrules.c: `drwatch test-rules FILE...`, in the spirit (and the file format) of
 * `promtool test rules`.
 *
 * A test file is promtool's YAML: rule_files (here: drwatch Lua rule files), evaluation_interval,
 * and tests with input_series in promtool's series notation ("1+2x10", "_", "stale", "3x5") and
 * alert_rule_test entries (eval_time, alertname, exp_alerts with exp_labels and
 * exp_annotations), and, drwatch's own, transition_rule_test entries (eval_time,
 * exp_transition: the target the evaluation asks for, "" for none; optionally exp_rule and
 * exp_reason). The engine is evaluated at every evaluation_interval from time 0 up to the last
 * eval_time, as promtool does, so `for` and keep_firing_for play out the same way; at an
 * eval_time the firing alerts of that name must be exactly the expected ones, and the
 * transition request the expected one. Instant queries
 * see the newest sample within 5 minutes (Prometheus' lookback); range functions see the raw
 * samples. The report and exit code follow promtool: "SUCCESS", or "FAILED:" with exp and got,
 * and exit 1. promql_expr_test is not supported (there is no PromQL here) and is reported. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "alertstate.h"
#include "buf.h"
#include "caps.h"
#include "hash.h"
#include "numtext.h"
#include "rules.h"
#include "testrules.h"
#include "textparse.h"
#include "xalloc.h"

#define LOOKBACK_S 300.0

/* ---- a small YAML tree on libyaml's document API ---- */

struct ydoc {
    yaml_document_t doc;
    bool loaded;
};

static yaml_node_t *ynode(struct ydoc *d, int id)
{
    return id ? yaml_document_get_node(&d->doc, id) : NULL;
}

static yaml_node_t *yget(struct ydoc *d, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = ynode(d, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
            return ynode(d, p->value);
    }
    return NULL;
}

static const char *yscalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static size_t ylen(yaml_node_t *seq)
{
    return seq && seq->type == YAML_SEQUENCE_NODE
               ? (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start)
               : 0;
}

static yaml_node_t *yat(struct ydoc *d, yaml_node_t *seq, size_t i)
{
    return ynode(d, seq->data.sequence.items.start[i]);
}

static int ydoc_load(struct ydoc *d, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open", path);
        return -1;
    }
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    int ok = yaml_parser_load(&p, &d->doc);
    if (!ok)
        snprintf(err, errlen, "%s:%zu: %s", path, p.problem_mark.line + 1,
                 p.problem ? p.problem : "YAML error");
    yaml_parser_delete(&p);
    fclose(f);
    d->loaded = ok;
    return ok ? 0 : -1;
}

/* ---- input series ---- */

enum point_kind { P_VALUE, P_OMITTED, P_STALE };

struct point {
    enum point_kind kind;
    double v;
};

struct input_series {
    char *name;
    struct label_pair *labels; /* strings owned here */
    size_t nlabels;
    struct point *p;
    size_t n;
};

static void push_point(struct input_series *s, enum point_kind k, double v)
{
    s->p = xrealloc(s->p, (s->n + 1) * sizeof(*s->p));
    s->p[s->n++] = (struct point){k, v};
}

static int parse_number(const char *t, size_t n, double *v)
{
    return textparse_float(t, n, v);
}

/* One token of promtool's series notation: a, a+bxN, a-bxN, axN, _, _xN, stale. */
static int expand_token(struct input_series *s, const char *t, size_t n)
{
    if (n == 5 && strncmp(t, "stale", 5) == 0) {
        push_point(s, P_STALE, 0);
        return 0;
    }
    const char *x = memchr(t, 'x', n);
    if (t[0] == '_') {
        long reps = 1;
        if (x)
            reps = strtol(x + 1, NULL, 10);
        else if (n != 1)
            return -1;
        for (long i = 0; i < reps; i++) push_point(s, P_OMITTED, 0);
        return 0;
    }
    if (!x) {
        double v;
        if (parse_number(t, n, &v) < 0) return -1;
        push_point(s, P_VALUE, v);
        return 0;
    }
    char *end;
    long reps = strtol(x + 1, &end, 10);
    if (end != t + n || reps < 0 || reps > 1000000) return -1;
    /* The start may be signed; the step follows after a '+' or '-' past the first char. */
    size_t split = 0;
    for (size_t i = 1; t + i < x; i++)
        if ((t[i] == '+' || t[i] == '-') && t[i - 1] != 'e' && t[i - 1] != 'E') split = i;
    double a, b = 0;
    if (parse_number(t, split ? split : (size_t)(x - t), &a) < 0) return -1;
    if (split && parse_number(t + split, (size_t)(x - t - split), &b) < 0) return -1;
    for (long i = 0; i <= reps; i++) push_point(s, P_VALUE, a + b * (double)i);
    return 0;
}

static int tp_sample_cb(void *arg, const struct tp_sample *ps)
{
    struct input_series *s = arg;
    s->name = xstrndup(ps->name, ps->name_len);
    s->labels = xcalloc(ps->nlabels ? ps->nlabels : 1, sizeof(*s->labels));
    for (size_t i = 0; i < ps->nlabels; i++) {
        char *v = xmalloc(ps->labels[i].value_len + 1);
        textparse_unescape(v, ps->labels[i].value, ps->labels[i].value_len);
        s->labels[i] = (struct label_pair){xstrndup(ps->labels[i].name, ps->labels[i].name_len), v};
    }
    s->nlabels = ps->nlabels;
    return 0;
}

static int parse_series(struct input_series *s, const char *series, const char *values, char *err,
                        size_t errlen)
{
    char *line = xasprintf("%s 0\n", series);
    static const struct textparse_handler h = {.sample = tp_sample_cb};
    struct textparse_error te;
    int rc = textparse_run(line, strlen(line), &h, s, NULL, &te, NULL);
    free(line);
    if (rc || !s->name) {
        snprintf(err, errlen, "bad series \"%s\": %s", series, te.msg);
        return -1;
    }
    for (const char *p = values; *p;) {
        while (*p == ' ' || *p == '\t' || *p == '\n') p++;
        const char *e = p;
        while (*e && *e != ' ' && *e != '\t' && *e != '\n') e++;
        if (e > p && expand_token(s, p, (size_t)(e - p)) < 0) {
            snprintf(err, errlen, "bad value \"%.*s\" for %s", (int)(e - p), p, series);
            return -1;
        }
        p = e;
    }
    return 0;
}

static void free_series(struct input_series *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < s[i].nlabels; k++)
            free((char *)s[i].labels[k].name), free((char *)s[i].labels[k].value);
        free(s[i].labels);
        free(s[i].name);
        free(s[i].p);
    }
    free(s);
}

/* The snapshot at time t: lookback (instant) or exact samples only (raw). */
static struct snapshot *snapshot_at(const struct input_series *s, size_t n, double interval,
                                    double t, bool raw)
{
    struct metric_set *m = mset_new();
    for (size_t i = 0; i < n; i++) {
        long idx = (long)floor(t / interval + 1e-9);
        if (idx >= (long)s[i].n) idx = (long)s[i].n - 1;
        const struct point *found = NULL;
        for (long k = idx; k >= 0; k--) {
            double at = (double)k * interval;
            if (at > t + 1e-9) continue;
            if (raw && fabs(at - t) > 1e-9) break;
            if (t - at > LOOKBACK_S + 1e-9) break;
            if (s[i].p[k].kind == P_OMITTED) continue;
            found = &s[i].p[k];
            break;
        }
        if (!found || found->kind == P_STALE) continue;
        struct metric_family *f = mset_family(m, s[i].name, METRIC_UNTYPED, "");
        mset_add(m, f, SUFFIX_NONE, s[i].labels, s[i].nlabels, found->v);
    }
    struct snapshot *snap = snapshot_new(&m, 1, 0);
    mset_unref(m);
    return snap;
}

/* ---- expectations ---- */

struct alert_set {
    char **labels; /* {a="b", c="d"} as Prometheus prints label sets */
    char **annotations;
    size_t n;
};

static void set_add(struct alert_set *s, char *labels, char *annotations)
{
    s->labels = xrealloc(s->labels, (s->n + 1) * sizeof(char *));
    s->annotations = xrealloc(s->annotations, (s->n + 1) * sizeof(char *));
    s->labels[s->n] = labels;
    s->annotations[s->n++] = annotations;
}

static void set_free(struct alert_set *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->labels[i]), free(s->annotations[i]);
    free(s->labels);
    free(s->annotations);
    *s = (struct alert_set){0};
}

/* Prints pairs sorted by name as {a="b", c="d"}. The texts are compared as sets: a set over
 * the cap is named by a hash of all of it, so that two cut texts cannot compare equal. */
static char *print_pairs(struct label_pair *p, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(p[j - 1].name, p[j].name) > 0; j--) {
            struct label_pair t = p[j];
            p[j] = p[j - 1];
            p[j - 1] = t;
        }
    struct buf b;
    buf_init(&b, CAP_LABELS_TEXT);
    buf_putc(&b, '{');
    for (size_t i = 0; i < n; i++) {
        buf_printf(&b, "%s%s=\"", i ? ", " : "", p[i].name);
        label_value_escape(&b, p[i].value, strlen(p[i].value));
        buf_putc(&b, '"');
    }
    buf_putc(&b, '}');
    if (buf_error(&b)) {
        uint64_t h = 1;
        for (size_t i = 0; i < n; i++)
            h = hash_bytes(p[i].value, strlen(p[i].value) + 1,
                           hash_bytes(p[i].name, strlen(p[i].name) + 1, h));
        buf_free(&b);
        return xasprintf("{labels over %zu bytes, hash %016llx}", (size_t)CAP_LABELS_TEXT,
                         (unsigned long long)h);
    }
    return buf_steal(&b, NULL);
}

static char *print_map(struct ydoc *d, yaml_node_t *map, const char *alertname)
{
    struct label_pair p[128];
    size_t n = 0;
    if (map && map->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *it = map->data.mapping.pairs.start;
             it < map->data.mapping.pairs.top && n < 127; it++) {
            const char *k = yscalar(ynode(d, it->key)), *v = yscalar(ynode(d, it->value));
            if (k && v) p[n++] = (struct label_pair){k, v};
        }
    }
    if (alertname) p[n++] = (struct label_pair){"alertname", alertname};
    return print_pairs(p, n);
}

struct collect_ctx {
    const char *alertname;
    struct alert_set *got;
};

static void collect_firing(void *arg, const char *alertname, const char *labels,
                           const char *const *ann_names, const char *const *ann_values, size_t nann,
                           enum alert_state state, double value)
{
    (void)value;
    struct collect_ctx *c = arg;
    if (state != ALERT_FIRING || strcmp(alertname, c->alertname) != 0) return;
    struct label_pair p[128];
    size_t n = 0, pos = 0, nl, vl, len = strlen(labels);
    const char *name, *val;
    char *owned[128];
    while (n < 128 && labels_next(labels, len, &pos, &name, &nl, &val, &vl)) {
        char *v = xmalloc(vl + 1);
        textparse_unescape(v, val, vl);
        owned[n] = v;
        p[n++] = (struct label_pair){xstrndup(name, nl), v};
    }
    char *ls = print_pairs(p, n);
    for (size_t i = 0; i < n; i++) free((char *)p[i].name), free(owned[i]);
    struct label_pair a[64] = {{0}};
    size_t na = nann < 64 ? nann : 64;
    for (size_t i = 0; i < na; i++) a[i] = (struct label_pair){ann_names[i], ann_values[i]};
    set_add(c->got, ls, print_pairs(a, na));
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted "labels\nannotations" strings of a set, to compare two sets. */
static char **set_keys(const struct alert_set *s)
{
    char **k = xcalloc(s->n ? s->n : 1, sizeof(char *));
    for (size_t i = 0; i < s->n; i++) k[i] = xasprintf("%s\n%s", s->labels[i], s->annotations[i]);
    qsort(k, s->n, sizeof(char *), str_cmp);
    return k;
}

static bool sets_equal(const struct alert_set *a, const struct alert_set *b)
{
    if (a->n != b->n) return false;
    char **ka = set_keys(a), **kb = set_keys(b);
    bool eq = true;
    for (size_t i = 0; i < a->n; i++) eq = eq && strcmp(ka[i], kb[i]) == 0;
    for (size_t i = 0; i < a->n; i++) free(ka[i]), free(kb[i]);
    free(ka);
    free(kb);
    return eq;
}

static void print_set(FILE *out, const char *what, const struct alert_set *s)
{
    fprintf(out, "        %s:[", what);
    char **k = set_keys(s);
    for (size_t i = 0; i < s->n; i++) {
        char *nl = strchr(k[i], '\n');
        *nl = '\0';
        fprintf(out, "\n            %zu:\n              Labels:%s\n              Annotations:%s", i,
                k[i], nl + 1);
        free(k[i]);
    }
    free(k);
    fprintf(out, "%s]%s\n", s->n ? "\n            " : "", strcmp(what, "exp") == 0 ? ", " : "");
}

/* ---- running the tests of a file ---- */

struct alert_test {
    double eval_time;
    const char *eval_text;
    const char *alertname;
    yaml_node_t *exp;
};

/* One transition_rule_test entry: what the evaluation at eval_time asks for. */
struct transition_test {
    double eval_time;
    const char *eval_text;
    const char *exp;        /* the expected target, "" for no request */
    const char *exp_rule;   /* the rule that asks, or NULL: not checked */
    const char *exp_reason; /* its reason, or NULL: not checked */
};

static int parse_duration_s(const char *text, double *out)
{
    int64_t ms;
    if (!text || parse_duration_ms(text, &ms) < 0) return -1;
    *out = (double)ms / 1000.0;
    return 0;
}

static void expected_set(struct ydoc *d, const struct alert_test *at, struct alert_set *exp)
{
    for (size_t i = 0; i < ylen(at->exp); i++) {
        yaml_node_t *e = yat(d, at->exp, i);
        set_add(exp, print_map(d, yget(d, e, "exp_labels"), at->alertname),
                print_map(d, yget(d, e, "exp_annotations"), NULL));
    }
}

/* ---- --timeline: drwatch's whole alert timeline as promtool alert_rule_test entries ---- */

static void yaml_string(struct buf *y, const char *s)
{
    json_t *j = json_string(s);
    char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    buf_puts(y, text ? text : "\"\"");
    free(text);
    json_decref(j);
}

struct timeline_ctx {
    struct buf *y;
    struct rules_engine *e;
    double t;
    char **done; /* alertnames already written for this step */
    size_t ndone;
    const char *alertname;
};

static void timeline_alert(void *arg, const char *alertname, const char *labels,
                           const char *const *ann_names, const char *const *ann_values, size_t nann,
                           enum alert_state state, double value)
{
    (void)value;
    struct timeline_ctx *c = arg;
    if (state != ALERT_FIRING || strcmp(alertname, c->alertname) != 0) return;
    buf_puts(c->y, "\n          - exp_labels: {");
    size_t pos = 0, nl, vl, len = strlen(labels), n = 0;
    const char *name, *val;
    while (labels_next(labels, len, &pos, &name, &nl, &val, &vl)) {
        if (nl == 9 && memcmp(name, "alertname", 9) == 0) continue;
        char *k = xstrndup(name, nl), *v = xmalloc(vl + 1);
        textparse_unescape(v, val, vl);
        buf_puts(c->y, n++ ? ", " : "");
        yaml_string(c->y, k);
        buf_puts(c->y, ": ");
        yaml_string(c->y, v);
        free(k);
        free(v);
    }
    buf_puts(c->y, "}\n            exp_annotations: {");
    for (size_t i = 0; i < nann; i++) {
        buf_puts(c->y, i ? ", " : "");
        yaml_string(c->y, ann_names[i]);
        buf_puts(c->y, ": ");
        yaml_string(c->y, ann_values[i]);
    }
    buf_puts(c->y, "}");
}

static void timeline_rule(void *arg, const char *alertname)
{
    struct timeline_ctx *c = arg;
    for (size_t i = 0; i < c->ndone; i++)
        if (strcmp(c->done[i], alertname) == 0) return;
    c->done = xrealloc(c->done, (c->ndone + 1) * sizeof(char *));
    c->done[c->ndone++] = xstrdup(alertname);
    buf_printf(c->y, "      - eval_time: %.0fs\n        alertname: ", c->t);
    yaml_string(c->y, alertname);
    buf_puts(c->y, "\n        exp_alerts:");
    size_t before = c->y->len;
    c->alertname = alertname;
    rules_each_alert(c->e, timeline_alert, c);
    if (c->y->len == before) buf_puts(c->y, " []");
    buf_puts(c->y, "\n");
}

static void timeline_step(struct buf *y, struct rules_engine *e, double t)
{
    struct timeline_ctx c = {.y = y, .e = e, .t = t};
    rules_each_rule(e, timeline_rule, &c);
    for (size_t i = 0; i < c.ndone; i++) free(c.done[i]);
    free(c.done);
}

/* The test's own settings and series, copied, for the timeline file. */
static void timeline_header(struct buf *y, struct ydoc *d, yaml_node_t *test)
{
    const char *interval = yscalar(yget(d, test, "interval"));
    buf_puts(y, "  - interval: ");
    yaml_string(y, interval ? interval : "1m");
    buf_puts(y, "\n    input_series:\n");
    yaml_node_t *inputs = yget(d, test, "input_series");
    for (size_t i = 0; i < ylen(inputs); i++) {
        yaml_node_t *s = yat(d, inputs, i);
        const char *values = yscalar(yget(d, s, "values"));
        buf_puts(y, "      - series: ");
        yaml_string(y, yscalar(yget(d, s, "series")));
        buf_puts(y, "\n        values: ");
        yaml_string(y, values ? values : "");
        buf_puts(y, "\n");
    }
    buf_puts(y, "    alert_rule_test:\n");
}

/* The test's input_series, parsed; NULL with err filled when one is bad. */
static struct input_series *read_inputs(struct ydoc *d, yaml_node_t *test, size_t *n, char *err,
                                        size_t errlen)
{
    yaml_node_t *inputs = yget(d, test, "input_series");
    *n = ylen(inputs);
    struct input_series *in = xcalloc(*n ? *n : 1, sizeof(*in));
    for (size_t i = 0; i < *n; i++) {
        yaml_node_t *s = yat(d, inputs, i);
        const char *series = yscalar(yget(d, s, "series"));
        const char *values = yscalar(yget(d, s, "values"));
        if (!series || parse_series(&in[i], series, values ? values : "", err, errlen) < 0) {
            if (!series) snprintf(err, errlen, "input_series %zu has no series", i + 1);
            free_series(in, *n);
            return NULL;
        }
    }
    return in;
}

/* The test's alert_rule_test entries (texts borrowed from the document); max_t grows to the
 * latest eval_time. Returns 0, or -1 with err filled. */
static int read_alert_tests(struct ydoc *d, yaml_node_t *test, struct alert_test **out, size_t *n,
                            double *max_t, char *err, size_t errlen)
{
    yaml_node_t *tests = yget(d, test, "alert_rule_test");
    *n = ylen(tests);
    *out = xcalloc(*n ? *n : 1, sizeof(**out));
    for (size_t i = 0; i < *n; i++) {
        yaml_node_t *t = yat(d, tests, i);
        struct alert_test *at = &(*out)[i];
        at->eval_text = yscalar(yget(d, t, "eval_time"));
        at->alertname = yscalar(yget(d, t, "alertname"));
        at->exp = yget(d, t, "exp_alerts");
        if (parse_duration_s(at->eval_text, &at->eval_time) < 0 || !at->alertname) {
            snprintf(err, errlen, "alert_rule_test %zu: bad eval_time or alertname", i + 1);
            return -1;
        }
        if (at->eval_time > *max_t) *max_t = at->eval_time;
    }
    return 0;
}

/* The test's transition_rule_test entries, as read_alert_tests. A missing exp_transition is
 * "" (no request), as a missing exp_alerts is no alert. */
static int read_transition_tests(struct ydoc *d, yaml_node_t *test, struct transition_test **out,
                                 size_t *n, double *max_t, char *err, size_t errlen)
{
    yaml_node_t *tests = yget(d, test, "transition_rule_test");
    *n = ylen(tests);
    *out = xcalloc(*n ? *n : 1, sizeof(**out));
    for (size_t i = 0; i < *n; i++) {
        yaml_node_t *t = yat(d, tests, i), *exp = yget(d, t, "exp_transition");
        struct transition_test *tt = &(*out)[i];
        tt->eval_text = yscalar(yget(d, t, "eval_time"));
        tt->exp = exp ? yscalar(exp) : "";
        tt->exp_rule = yscalar(yget(d, t, "exp_rule"));
        tt->exp_reason = yscalar(yget(d, t, "exp_reason"));
        if (parse_duration_s(tt->eval_text, &tt->eval_time) < 0 || !tt->exp) {
            snprintf(err, errlen,
                     "transition_rule_test %zu: bad eval_time or exp_transition (a target "
                     "state, or \"\" for none)",
                     i + 1);
            return -1;
        }
        if (tt->eval_time > *max_t) *max_t = tt->eval_time;
    }
    return 0;
}

/* Whether the evaluation at t (steps eval_interval apart) is the one a test at eval_time reads,
 * as promtool picks it. */
static bool due(double t, double eval_interval, double eval_time)
{
    return t <= eval_time + 1e-9 && eval_time < t + eval_interval - 1e-9;
}

static void failed(FILE *out, int *failures)
{
    if ((*failures)++ == 0) fprintf(out, "  FAILED:\n");
}

static void check_alerts(struct ydoc *d, struct rules_engine *e, const struct alert_test *at,
                         FILE *out, int *failures)
{
    struct alert_set exp = {0}, got = {0};
    expected_set(d, at, &exp);
    struct collect_ctx c = {at->alertname, &got};
    rules_each_alert(e, collect_firing, &c);
    if (!sets_equal(&exp, &got)) {
        failed(out, failures);
        fprintf(out, "    alertname: %s, time: %s, \n", at->alertname, at->eval_text);
        print_set(out, "exp", &exp);
        print_set(out, "got", &got);
    }
    set_free(&exp);
    set_free(&got);
}

static void check_transition(struct rules_engine *e, const struct transition_test *tt, FILE *out,
                             int *failures)
{
    struct rules_transition got;
    bool have = rules_transition_request(e, &got);
    if (strcmp(have ? got.to : "", tt->exp) == 0 &&
        (!tt->exp_rule || (have && strcmp(got.rule, tt->exp_rule) == 0)) &&
        (!tt->exp_reason || (have && strcmp(got.reason, tt->exp_reason) == 0)))
        return;
    failed(out, failures);
    fprintf(out, "    transition, time: %s, \n        exp: %s", tt->eval_text,
            tt->exp[0] ? tt->exp : "none");
    if (tt->exp_rule) fprintf(out, ", rule: %s", tt->exp_rule);
    if (tt->exp_reason) fprintf(out, ", reason: \"%s\"", tt->exp_reason);
    fprintf(out, ", \n        got: %s", have ? got.to : "none");
    if (have) fprintf(out, ", rule: %s, reason: \"%s\"", got.rule, got.reason);
    fprintf(out, "\n");
}

static int run_test(struct ydoc *d, yaml_node_t *test, const struct rules_config *rc,
                    const char *dir, double eval_interval, FILE *out, struct buf *timeline,
                    char *err, size_t errlen)
{
    double interval = eval_interval, max_t = 0;
    if (yscalar(yget(d, test, "interval")) &&
        parse_duration_s(yscalar(yget(d, test, "interval")), &interval) < 0)
        return snprintf(err, errlen, "bad interval"), -2;
    size_t nin, nt, ntt;
    struct input_series *in = read_inputs(d, test, &nin, err, errlen);
    if (!in) return -2;
    struct alert_test *at = NULL;
    struct transition_test *tt = NULL;
    struct rules_engine *e = NULL;
    if (read_alert_tests(d, test, &at, &nt, &max_t, err, errlen) == 0 &&
        read_transition_tests(d, test, &tt, &ntt, &max_t, err, errlen) == 0) {
        if (yget(d, test, "promql_expr_test"))
            fprintf(out, "  (promql_expr_test skipped: drwatch rules are Lua, there is no "
                         "PromQL)\n");
        if (timeline) timeline_header(timeline, d, test);
        e = rules_new(rc, dir, err, errlen);
    }
    int failures = e ? 0 : -2;
    for (long step = 0; e && (double)step * eval_interval <= max_t + 1e-9; step++) {
        double t = (double)step * eval_interval;
        struct snapshot *inst = snapshot_at(in, nin, interval, t, false);
        struct snapshot *raw = snapshot_at(in, nin, interval, t, true);
        rules_eval(e, t, inst, raw);
        snapshot_unref(inst);
        snapshot_unref(raw);
        if (timeline) {
            timeline_step(timeline, e, t);
            continue;
        }
        for (size_t i = 0; i < nt; i++)
            if (due(t, eval_interval, at[i].eval_time)) check_alerts(d, e, &at[i], out, &failures);
        for (size_t i = 0; i < ntt; i++)
            if (due(t, eval_interval, tt[i].eval_time)) check_transition(e, &tt[i], out, &failures);
    }
    rules_free(e);
    free(at);
    free(tt);
    free_series(in, nin);
    return failures;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
}

/* One test file: returns 0 when every test passed, 1 when one failed, 2 when the file is bad.
 * With timeline set, writes the timeline file there instead of checking. */
static int test_file(const char *path, FILE *out, struct buf *timeline)
{
    if (!timeline) fprintf(out, "Unit Testing:  %s\n", path);
    struct ydoc d = {0};
    char err[1024];
    if (ydoc_load(&d, path, err, sizeof(err)) < 0) {
        fprintf(out, "  FAILED:\n    %s\n", err);
        return 2;
    }
    yaml_node_t *root = yaml_document_get_root_node(&d.doc);
    yaml_node_t *files = yget(&d, root, "rule_files");
    struct rules_config rc = {
        .timeout_ms = 5000, .memory_limit = 64 << 20, .max_history_points = 10000000};
    rc.files.n = ylen(files);
    rc.files.v = xcalloc(rc.files.n ? rc.files.n : 1, sizeof(char *));
    for (size_t i = 0; i < rc.files.n; i++) rc.files.v[i] = (char *)yscalar(yat(&d, files, i));
    double eval_interval = 60;
    const char *ei = yscalar(yget(&d, root, "evaluation_interval"));
    int status = 0;
    if (ei && parse_duration_s(ei, &eval_interval) < 0) {
        fprintf(out, "  FAILED:\n    bad evaluation_interval \"%s\"\n", ei);
        status = 2;
    }
    char *dir = dir_of(path);
    yaml_node_t *tests = yget(&d, root, "tests");
    if (timeline) {
        buf_puts(timeline, "# The alert timeline drwatch computed (drwatch test-rules --timeline)\n"
                           "rule_files:\n");
        for (size_t i = 0; i < rc.files.n; i++) {
            buf_puts(timeline, "  - ");
            yaml_string(timeline, rc.files.v[i]);
            buf_puts(timeline, "\n");
        }
        buf_printf(timeline, "evaluation_interval: %.0fs\ntests:\n", eval_interval);
    }
    for (size_t i = 0; i < ylen(tests) && status != 2; i++) {
        int rc_test = run_test(&d, yat(&d, tests, i), &rc, dir, eval_interval, out, timeline, err,
                               sizeof(err));
        if (rc_test == -2) {
            fprintf(out, "  FAILED:\n    %s\n", err);
            status = 2;
        } else if (rc_test > 0) {
            status = 1;
        }
    }
    if (status == 0 && !timeline) fprintf(out, "  SUCCESS\n");
    free(dir);
    free(rc.files.v);
    yaml_document_delete(&d.doc);
    return status;
}

int testrules_main(int argc, char **argv)
{
    bool timeline = argc >= 1 && strcmp(argv[0], "--timeline") == 0;
    if (timeline) argc--, argv++;
    if (argc < 1 || (timeline && argc != 1)) {
        fprintf(stderr, "usage: drwatch test-rules FILE...\n"
                        "       drwatch test-rules --timeline FILE   (the alert timeline, as a "
                        "promtool test file)\n");
        return 2;
    }
    if (timeline) {
        struct buf y;
        buf_init(&y, CAP_TESTRULES_OUTPUT);
        int rc = test_file(argv[0], stderr, &y);
        if (rc == 0 && buf_error(&y)) { /* the appends of the timeline are checked here */
            fprintf(stderr, "%s: the timeline is larger than %zu bytes\n", argv[0], y.max);
            rc = 1;
        }
        if (rc == 0) fwrite(y.data, 1, y.len, stdout);
        buf_free(&y);
        return rc ? 1 : 0;
    }
    int worst = 0;
    for (int i = 0; i < argc; i++) {
        int rc = test_file(argv[i], stdout, NULL);
        fprintf(stdout, "\n");
        if (rc > worst) worst = rc;
    }
    return worst ? 1 : 0;
}
