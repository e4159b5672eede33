/* kong_metrics.c: the Prometheus plugin's /metrics for the Kong collector (see kong.h): the
 * body is read by drwatch's own text parser in tolerant mode (Kong with stream listeners
 * repeats HELP and TYPE), re-exported as it is when passthrough is on, and its request counters
 * and request-latency buckets are kept per series (2.8: kong_http_status and
 * kong_latency{type="request"}; 3.x: kong_http_requests_total and kong_request_latency_ms, both
 * in milliseconds) so that two observations of a node give its increases, like PromQL's
 * increase(), and the windows of a site's nodes merge into per-service rates, 5xx ratio and
 * latency quantiles as histogram_quantile would estimate them.
 *
 * Uses: exporter/textparse (parser), exporter/registry (sets), collectors/kong_map.c
 * (families). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "kong.h"
#include "textparse.h"
#include "xalloc.h"

/* ---- /metrics: observations ---- */

enum obs_kind { OBS_REQUESTS = 1, OBS_BUCKET = 2 };

struct obs_series {
    uint64_t key; /* the series: family and label set */
    double value;
    double bound; /* OBS_BUCKET: le in seconds */
    uint32_t svc;
    uint8_t kind;
    uint8_t is5xx;
};

/* Service names to dense indexes (open addressing). */
struct name_index {
    char **names;
    size_t n;
    uint32_t *slots; /* index + 1, 0 empty */
    size_t cap;
};

struct kong_obs {
    struct obs_series *v;
    size_t n, cap;
    struct name_index svc;
    bool capped;
    char version[64];
    char node_id[64];
    size_t samples;
};

static void name_index_free(struct name_index *x)
{
    for (size_t i = 0; i < x->n; i++) free(x->names[i]);
    free(x->names);
    free(x->slots);
}

/* The index of name, adding it; -1 when KONG_MAX_SERVICES are there already. */
static long name_index_get(struct name_index *x, const char *name, size_t len)
{
    if ((x->n + 1) * 2 > x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 64;
        uint32_t *slots = xcalloc(cap, sizeof(*slots));
        for (size_t i = 0; i < x->n; i++) {
            size_t j = hash_bytes(x->names[i], strlen(x->names[i]), 0) & (cap - 1);
            while (slots[j]) j = (j + 1) & (cap - 1);
            slots[j] = (uint32_t)i + 1;
        }
        free(x->slots);
        x->slots = slots;
        x->cap = cap;
    }
    size_t j = hash_bytes(name, len, 0) & (x->cap - 1);
    for (; x->slots[j]; j = (j + 1) & (x->cap - 1)) {
        const char *s = x->names[x->slots[j] - 1];
        if (strncmp(s, name, len) == 0 && s[len] == '\0') return x->slots[j] - 1;
    }
    if (x->n >= KONG_MAX_SERVICES) return -1;
    x->names = xrealloc(x->names, (x->n + 1) * sizeof(*x->names));
    x->names[x->n] = xstrndup(name, len);
    x->slots[j] = (uint32_t)++x->n;
    return (long)x->n - 1;
}

struct kong_obs *kong_obs_new(void)
{
    return xcalloc(1, sizeof(struct kong_obs));
}

void kong_obs_free(struct kong_obs *o)
{
    if (!o) return;
    free(o->v);
    name_index_free(&o->svc);
    free(o);
}

bool kong_obs_capped(const struct kong_obs *o)
{
    return o->capped;
}

const char *kong_obs_version(const struct kong_obs *o)
{
    return o->version;
}

const char *kong_obs_node_id(const struct kong_obs *o)
{
    return o->node_id;
}

size_t kong_obs_samples(const struct kong_obs *o)
{
    return o->samples;
}

/* ---- /metrics: the parse ---- */

struct mctx {
    struct metric_set *set;
    struct kong_obs *o;
    bool passthrough;
    struct label_pair extra[2];
    const char *help_name, *help; /* the last HELP line, for the family that follows it */
    size_t help_name_len, help_len;
    const char *last_name; /* the family of the previous sample, to skip the lookup */
    size_t last_len;
    struct metric_family *last_fam;
};

static bool name_is(const struct tp_sample *s, const char *name)
{
    size_t n = strlen(name);
    return s->name_len == n && memcmp(s->name, name, n) == 0;
}

static const struct tp_label *label(const struct tp_sample *s, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < s->nlabels; i++)
        if (s->labels[i].name_len == n && memcmp(s->labels[i].name, name, n) == 0)
            return &s->labels[i];
    return NULL;
}

static bool label_is(const struct tp_sample *s, const char *name, const char *value)
{
    const struct tp_label *l = label(s, name);
    size_t n = strlen(value);
    return l && l->value_len == n && memcmp(l->value, value, n) == 0;
}

/* Copies a label value, unescaped and cut to fit, into out. */
static void label_copy(const struct tp_sample *s, const char *name, char *out, size_t outlen)
{
    const struct tp_label *l = label(s, name);
    out[0] = '\0';
    if (!l || l->value_len >= outlen) return;
    textparse_unescape(out, l->value, l->value_len);
}

/* A key for the series that does not depend on the order of its labels. */
static uint64_t series_key(const struct tp_sample *s)
{
    uint64_t h = hash_bytes(s->name, s->name_len, 0x6b6f6e67);
    for (size_t i = 0; i < s->nlabels; i++) {
        const struct tp_label *l = &s->labels[i];
        uint64_t lh = hash_bytes(l->value, l->value_len, hash_bytes(l->name, l->name_len, 1));
        h += lh * 0x9e3779b97f4a7c15ULL + (lh >> 29);
    }
    return h;
}

static void obs_record(struct mctx *c, const struct tp_sample *s, enum obs_kind kind)
{
    struct kong_obs *o = c->o;
    if (!isfinite(s->value) || s->value < 0) return;
    double bound = 0;
    if (kind == OBS_BUCKET) {
        const struct tp_label *le = label(s, "le");
        if (!le || textparse_float(le->value, le->value_len, &bound) < 0 || isnan(bound)) return;
        bound /= 1000.0; /* Kong's buckets are in milliseconds */
    }
    const struct tp_label *svc = label(s, "service");
    char small[256];
    size_t vlen = svc ? svc->value_len : 0;
    char *name = vlen < sizeof(small) ? small : xmalloc(vlen + 1);
    size_t nlen = svc ? textparse_unescape(name, svc->value, svc->value_len) : 0;
    name[nlen] = '\0';
    long idx = name_index_get(&o->svc, name, nlen);
    if (name != small) free(name);
    if (idx < 0) {
        o->capped = true;
        return;
    }
    const struct tp_label *code = label(s, "code");
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 256;
        o->v = xrealloc(o->v, o->cap * sizeof(*o->v));
    }
    o->v[o->n++] = (struct obs_series){
        .key = series_key(s),
        .value = s->value,
        .bound = bound,
        .svc = (uint32_t)idx,
        .kind = (uint8_t)kind,
        .is5xx = code && code->value_len == 3 && code->value[0] == '5',
    };
}

static void passthrough_add(struct mctx *c, const struct tp_sample *s)
{
    struct metric_family *f = c->last_fam;
    if (!f || c->last_len != s->family_len || memcmp(c->last_name, s->name, s->family_len)) {
        f = mset_family_find(c->set, s->name, s->family_len);
        if (!f) {
            char *name = xstrndup(s->name, s->family_len);
            char *help = NULL;
            if (c->help_name_len == s->family_len &&
                memcmp(c->help_name, s->name, s->family_len) == 0) {
                help = xmalloc(c->help_len + 1);
                help[textparse_unescape(help, c->help, c->help_len)] = '\0';
            }
            f = mset_family(c->set, name, s->family_type, help ? help : "");
            free(help);
            free(name);
        }
        c->last_fam = f;
        c->last_name = s->name;
        c->last_len = s->family_len;
    }
    /* A family of another type (an untyped sample before a TYPE line) is left out. */
    if (f && f->type == s->family_type) mset_add_parsed(c->set, f, s, c->extra, 2);
}

static int on_help(void *ctx, const char *name, size_t len, const char *text, size_t tlen,
                   unsigned line)
{
    (void)line;
    struct mctx *c = ctx;
    c->help_name = name;
    c->help_name_len = len;
    c->help = text;
    c->help_len = tlen;
    return 0;
}

static int on_sample(void *ctx, const struct tp_sample *s)
{
    struct mctx *c = ctx;
    c->o->samples++;
    if (c->passthrough) passthrough_add(c, s);
    if (name_is(s, "kong_http_requests_total") || name_is(s, "kong_http_status"))
        obs_record(c, s, OBS_REQUESTS);
    else if (name_is(s, "kong_request_latency_ms_bucket") ||
             (name_is(s, "kong_latency_bucket") && label_is(s, "type", "request")))
        obs_record(c, s, OBS_BUCKET);
    else if (name_is(s, "kong_node_info")) {
        label_copy(s, "version", c->o->version, sizeof(c->o->version));
        label_copy(s, "node_id", c->o->node_id, sizeof(c->o->node_id));
    }
    return 0;
}

int kong_metrics_map(struct metric_set *set, const struct kong_node_id *id, bool passthrough,
                     const char *body, size_t len, struct kong_obs *o, char *err, size_t errlen)
{
    struct mctx c = {.set = set,
                     .o = o,
                     .passthrough = passthrough && set,
                     .extra = {{"site", id->site}, {"instance", id->target}}};
    static const struct textparse_handler h = {.help = on_help, .sample = on_sample};
    struct textparse_opts opts = {.strict = false};
    struct textparse_error te;
    int rc = textparse_run(body, len, &h, &c, &opts, &te, NULL);
    if (rc != 0) return kong_fail(err, errlen, "line %u column %u: %s", te.line, te.col, te.msg);
    if (set) kong_add(set, F_METRICS_SAMPLES, id, (double)o->samples, NULL, 0);
    return 0;
}

/* ---- windows ---- */

void kong_window_clear(struct kong_window *w)
{
    for (size_t i = 0; i < w->n; i++) {
        free(w->svc[i].name);
        free(w->svc[i].bound);
        free(w->svc[i].count);
    }
    free(w->svc);
    *w = (struct kong_window){0};
}

/* Adds inc to the bucket of bound b, inserting it in order (up to KONG_MAX_BUCKETS). */
static void bucket_add(struct kong_svc_window *sw, double b, double inc)
{
    size_t i = 0;
    while (i < sw->nbuckets && sw->bound[i] < b) i++;
    if (i < sw->nbuckets && sw->bound[i] == b) {
        sw->count[i] += inc;
        return;
    }
    if (sw->nbuckets == KONG_MAX_BUCKETS) return;
    if (!sw->bound) {
        sw->bound = xmalloc(KONG_MAX_BUCKETS * sizeof(double));
        sw->count = xmalloc(KONG_MAX_BUCKETS * sizeof(double));
    }
    memmove(sw->bound + i + 1, sw->bound + i, (sw->nbuckets - i) * sizeof(double));
    memmove(sw->count + i + 1, sw->count + i, (sw->nbuckets - i) * sizeof(double));
    sw->bound[i] = b;
    sw->count[i] = inc;
    sw->nbuckets++;
}

/* prev's series by key, for the increases (open addressing; index + 1, 0 empty). */
struct key_table {
    uint32_t *slots;
    size_t cap;
};

static void key_table_build(struct key_table *t, const struct kong_obs *o)
{
    t->cap = 16;
    while (t->cap < o->n * 2) t->cap *= 2;
    t->slots = xcalloc(t->cap, sizeof(*t->slots));
    for (size_t i = 0; i < o->n; i++) {
        size_t j = o->v[i].key & (t->cap - 1);
        while (t->slots[j]) {
            if (o->v[t->slots[j] - 1].key == o->v[i].key) break; /* a repeated series */
            j = (j + 1) & (t->cap - 1);
        }
        if (!t->slots[j]) t->slots[j] = (uint32_t)i + 1;
    }
}

static const struct obs_series *key_table_find(const struct key_table *t, const struct kong_obs *o,
                                               uint64_t key)
{
    for (size_t j = key & (t->cap - 1); t->slots[j]; j = (j + 1) & (t->cap - 1))
        if (o->v[t->slots[j] - 1].key == key) return &o->v[t->slots[j] - 1];
    return NULL;
}

void kong_window_compute(struct kong_window *w, const struct kong_obs *prev,
                         const struct kong_obs *cur, double seconds)
{
    kong_window_clear(w);
    w->seconds = seconds;
    w->n = cur->svc.n;
    w->svc = w->n ? xcalloc(w->n, sizeof(*w->svc)) : NULL;
    for (size_t i = 0; i < w->n; i++) w->svc[i].name = xstrdup(cur->svc.names[i]);
    struct key_table t;
    key_table_build(&t, prev);
    for (size_t i = 0; i < cur->n; i++) {
        const struct obs_series *c = &cur->v[i];
        const struct obs_series *p = key_table_find(&t, prev, c->key);
        /* Like increase(): a counter that went down was reset, and counts from zero. A series
         * new since prev counts from zero too: Kong creates it at its first request. */
        double inc = p && c->value >= p->value ? c->value - p->value : c->value;
        struct kong_svc_window *sw = &w->svc[c->svc];
        if (c->kind == OBS_REQUESTS) {
            sw->requests += inc;
            if (c->is5xx) sw->errors += inc;
        } else {
            bucket_add(sw, c->bound, inc);
        }
    }
    free(t.slots);
}

/* ---- quantiles ---- */

double kong_histogram_quantile(double q, const double *bound, const double *count, size_t n)
{
    if (isnan(q)) return NAN;
    if (q < 0) return -INFINITY;
    if (q > 1) return INFINITY;
    if (n < 2 || !(isinf(bound[n - 1]) && bound[n - 1] > 0)) return NAN;
    /* Buckets must be cumulative: a count below the one before it is raised to it. */
    double *c = xmalloc(n * sizeof(*c));
    for (size_t i = 0; i < n; i++) c[i] = i && !(count[i] >= c[i - 1]) ? c[i - 1] : count[i];
    double obs = c[n - 1], v = NAN;
    if (!(obs > 0) || isnan(c[0])) goto done;
    double rank = q * obs;
    size_t b = 0;
    while (b < n - 1 && c[b] < rank) b++;
    if (b == n - 1) {
        v = bound[n - 2];
        goto done;
    }
    if (b == 0 && bound[0] <= 0) {
        v = bound[0];
        goto done;
    }
    double start = 0, end = bound[b], cnt = c[b];
    if (b > 0) {
        start = bound[b - 1];
        cnt -= c[b - 1];
        rank -= c[b - 1];
    }
    v = cnt > 0 ? start + (end - start) * (rank / cnt) : start;
done:
    free(c);
    return v;
}

/* ---- site summaries ---- */

/* The node's cumulative count at x, interpolated linearly inside a bucket as
 * histogram_quantile does (nothing is known past the last finite bound). */
static double cdf_at(const struct kong_svc_window *s, double x)
{
    size_t n = s->nbuckets, j = 0;
    if (isinf(x) && x > 0) return s->count[n - 1];
    while (j < n && s->bound[j] < x) j++;
    if (j == n) return s->count[n - 1];
    if (s->bound[j] == x) return s->count[j];
    if (isinf(s->bound[j])) return j ? s->count[j - 1] : 0;
    double lo = j ? s->bound[j - 1] : 0, clo = j ? s->count[j - 1] : 0;
    if (x <= lo || s->bound[j] <= lo) return clo;
    return clo + (s->count[j] - clo) * (x - lo) / (s->bound[j] - lo);
}

static bool has_histogram(const struct kong_svc_window *s)
{
    return s->nbuckets >= 2 && isinf(s->bound[s->nbuckets - 1]) && s->bound[s->nbuckets - 1] > 0;
}

static int double_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The merged latency of one service over the nodes' windows, as a rate per second: the union
 * of their bounds, each node's count at every bound interpolated and divided by its window. */
static void summary_latency(struct metric_set *set, const char *site, const char *service,
                            const struct kong_svc_window *const *sw, const double *secs, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (has_histogram(sw[i])) total += sw[i]->nbuckets;
    if (!total) return;
    double *grid = xmalloc(total * sizeof(*grid)), *cum = xcalloc(total, sizeof(*cum));
    size_t g = 0;
    for (size_t i = 0; i < n; i++)
        if (has_histogram(sw[i]))
            for (size_t b = 0; b < sw[i]->nbuckets; b++) grid[g++] = sw[i]->bound[b];
    qsort(grid, g, sizeof(*grid), double_cmp);
    size_t u = 0;
    for (size_t i = 0; i < g; i++)
        if (u == 0 || grid[i] != grid[u - 1]) grid[u++] = grid[i];
    for (size_t i = 0; i < n; i++) {
        if (!has_histogram(sw[i])) continue;
        for (size_t k = 0; k < u; k++) cum[k] += cdf_at(sw[i], grid[k]) / secs[i];
    }
    static const char *const qtext[KONG_SUMMARY_QUANTILES_N] = {"0.5", "0.9", "0.99"};
    static const double qs[KONG_SUMMARY_QUANTILES_N] = {0.5, 0.9, 0.99};
    for (size_t k = 0; k < KONG_SUMMARY_QUANTILES_N; k++) {
        double v = kong_histogram_quantile(qs[k], grid, cum, u);
        if (isnan(v)) continue;
        struct label_pair l[3] = {{"site", site}, {"service", service}, {"quantile", qtext[k]}};
        mset_add(set, kong_family(set, F_SVC_LATENCY), SUFFIX_NONE, l, 3, v);
    }
    free(grid);
    free(cum);
}

void kong_summary_add(struct metric_set *set, const char *site, const struct kong_window *const *w,
                      size_t n)
{
    struct label_pair sl = {"site", site};
    mset_add(set, kong_family(set, F_SUMMARY_NODES), SUFFIX_NONE, &sl, 1, (double)n);
    /* Services in order of first appearance over the nodes; at[s * n + i] is service s's
     * entry in node i's window, or -1. */
    struct name_index names = {0};
    long *at = NULL;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += w[i]->n;
    if (total) at = xmalloc(total * (n ? n : 1) * sizeof(*at));
    for (size_t i = 0; i < total * n; i++) at[i] = -1;
    for (size_t i = 0; i < n; i++) {
        if (!(w[i]->seconds > 0)) continue;
        for (size_t k = 0; k < w[i]->n; k++) {
            long s = name_index_get(&names, w[i]->svc[k].name, strlen(w[i]->svc[k].name));
            if (s >= 0 && at[(size_t)s * n + i] < 0) at[(size_t)s * n + i] = (long)k;
        }
    }
    const struct kong_svc_window **sw = xmalloc((n ? n : 1) * sizeof(*sw));
    double *secs = xmalloc((n ? n : 1) * sizeof(*secs));
    for (size_t s = 0; s < names.n; s++) {
        size_t m = 0;
        double rps = 0, eps = 0;
        for (size_t i = 0; i < n; i++) {
            long k = at[s * n + i];
            if (k < 0) continue;
            sw[m] = &w[i]->svc[k];
            secs[m++] = w[i]->seconds;
            rps += w[i]->svc[k].requests / w[i]->seconds;
            eps += w[i]->svc[k].errors / w[i]->seconds;
        }
        struct label_pair l[2] = {{"site", site}, {"service", names.names[s]}};
        mset_add(set, kong_family(set, F_SVC_RPS), SUFFIX_NONE, l, 2, rps);
        mset_add(set, kong_family(set, F_SVC_EPS), SUFFIX_NONE, l, 2, eps);
        mset_add(set, kong_family(set, F_SVC_RATIO), SUFFIX_NONE, l, 2, rps > 0 ? eps / rps : 0);
        summary_latency(set, site, names.names[s], sw, secs, m);
    }
    free(at);
    free(sw);
    free(secs);
    name_index_free(&names);
}
