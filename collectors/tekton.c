/* tekton.c: Tekton PipelineRuns of one namespace through the Kubernetes API: counts by the
 * Succeeded condition's status and reason, a histogram of finished runs' durations, the
 * newest run of each pipeline, and (tekton.h) the lookup of the run a trigger event started.
 *
 * Each scrape lists the namespace's runs page by page (limit/continue) up to max_runs,
 * keeping a few strings and times per run, never the pages. tekton.dev/v1 is asked first; on a
 * 404 the other version is tried and the one that answers is remembered. An expired continue
 * token (410 Gone) restarts the listing once. Everything is computed from the runs the API
 * lists now (Tekton prunes old runs), so the counts and the histogram describe that window,
 * not the namespace's history: the controller's own metrics are the history.
 *
 * Uses: exporter/k8s (API client), jansson, exporter/timeparse. */
#include "tekton.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "caps.h"
#include "clock.h"
#include "collector_env.h"
#include "collectors.h"
#include "log.h"
#include "numtext.h"
#include "strutil.h"
#include "timeparse.h"
#include "xalloc.h"

#define NAME_MAX_BYTES     253
#define REASON_MAX_BYTES   128
#define MESSAGE_MAX_BYTES  512
#define MAX_STATUS_REASONS 64
#define DEFAULT_PIPELINES  200
#define FIND_LIMIT         50
#define LABEL_PIPELINE     "tekton.dev/pipeline"
#define LABEL_EVENT_ID     "triggers.tekton.dev/triggers-eventid"

static const char *const api_versions[] = {"v1", "v1beta1"};

/* The controller's own buckets (pipelinerunmetrics), so both histograms compare. */
static const double buckets[] = {10,   30,   60,    300,   900,   1800,
                                 3600, 5400, 10800, 21600, 43200, 86400};
#define NBUCKETS ARRAY_LEN(buckets)

/* ---- parsing ---- */

void tekton_runs_init(struct tekton_runs *r)
{
    memset(r, 0, sizeof(*r));
    arena_init(&r->arena);
}

void tekton_runs_clear(struct tekton_runs *r)
{
    arena_free(&r->arena);
    free(r->v);
    memset(r, 0, sizeof(*r));
}

/* An arena copy of s capped at max bytes (at a UTF-8 boundary). */
static const char *capped(struct tekton_runs *r, const char *s, size_t max)
{
    if (!s) return "";
    return arena_strndup(&r->arena, s, str_utf8_cut(s, strlen(s), max));
}

static double api_time(json_t *v)
{
    double t;
    if (!json_is_string(v) || timeparse_iso(json_string_value(v), json_string_length(v), 0, &t) < 0)
        return NAN;
    return t;
}

static json_t *succeeded_condition(json_t *item)
{
    json_t *conds = k8s_json_path(item, "status", "conditions", K8S_END);
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        const char *type = k8s_json_str(c, "type", K8S_END);
        if (type && strcmp(type, "Succeeded") == 0) return c;
    }
    return NULL;
}

static const char *condition_status(json_t *cond)
{
    const char *s = k8s_json_str(cond, "status", K8S_END);
    if (s && strcmp(s, "True") == 0) return "True"; /* static: the JSON goes away */
    if (s && strcmp(s, "False") == 0) return "False";
    return "Unknown"; /* also for a run not reconciled yet: treat it as pending */
}

static bool parse_run(struct tekton_runs *r, json_t *item, struct tekton_run *run)
{
    const char *name = k8s_json_str(item, "metadata", "name", K8S_END);
    if (!name || !*name) return false;
    json_t *labels = k8s_json_path(item, "metadata", "labels", K8S_END);
    const char *pipeline = k8s_json_str(item, "spec", "pipelineRef", "name", K8S_END);
    if (!pipeline || !*pipeline) pipeline = k8s_json_str(labels, LABEL_PIPELINE, K8S_END);
    if (!pipeline || !*pipeline) pipeline = "anonymous";
    json_t *cond = succeeded_condition(item);
    run->name = capped(r, name, NAME_MAX_BYTES);
    run->pipeline = capped(r, pipeline, NAME_MAX_BYTES);
    run->status = condition_status(cond);
    run->reason = capped(r, k8s_json_str(cond, "reason", K8S_END), REASON_MAX_BYTES);
    run->message = capped(r, k8s_json_str(cond, "message", K8S_END), MESSAGE_MAX_BYTES);
    run->event_id = capped(r, k8s_json_str(labels, LABEL_EVENT_ID, K8S_END), 63);
    run->created = api_time(k8s_json_path(item, "metadata", "creationTimestamp", K8S_END));
    run->start = api_time(k8s_json_path(item, "status", "startTime", K8S_END));
    run->completion = api_time(k8s_json_path(item, "status", "completionTime", K8S_END));
    return true;
}

int tekton_page_parse(const char *body, size_t len, struct tekton_runs *r, size_t max_runs,
                      const char **cont, const char **reason, char *err, size_t errlen)
{
    *cont = "";
    json_t *root = k8s_json_load(body, len, err, errlen);
    if (!root) {
        *reason = "bad_json";
        return -1;
    }
    json_t *items = json_object_get(root, "items");
    const char *kind = k8s_json_str(root, "kind", K8S_END);
    if (!json_is_array(items) || (kind && !str_has_suffix(kind, "List"))) {
        *reason = "bad_body";
        snprintf(err, errlen, "expected a PipelineRunList ({\"items\":[...]}), got %s%s",
                 kind ? "kind " : "something else", kind ? kind : "");
        json_decref(root);
        return -1;
    }
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        if (r->n >= max_runs) {
            r->truncated = true;
            break;
        }
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 64;
            r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
        }
        if (json_is_object(item) && parse_run(r, item, &r->v[r->n]))
            r->n++;
        else
            r->skipped++;
    }
    const char *c = k8s_json_str(root, "metadata", "continue", K8S_END);
    if (c && *c) {
        if (r->n >= max_runs)
            r->truncated = true;
        else
            *cont = arena_strdup(&r->arena, c);
    }
    json_decref(root);
    return 0;
}

static double run_time(const struct tekton_run *run)
{
    return isnan(run->start) ? run->created : run->start;
}

/* Whether a is newer than b. NAN times are the oldest. */
static bool newer(const struct tekton_run *a, const struct tekton_run *b)
{
    double ta = run_time(a), tb = run_time(b);
    if (isnan(ta) != isnan(tb)) return isnan(tb);
    if (!isnan(ta) && ta != tb) return ta > tb;
    return strcmp(a->name, b->name) > 0;
}

const struct tekton_run *tekton_runs_newest(const struct tekton_runs *r)
{
    const struct tekton_run *best = NULL;
    for (size_t i = 0; i < r->n; i++)
        if (!best || newer(&r->v[i], best)) best = &r->v[i];
    return best;
}

/* ---- metrics ---- */

struct status_count {
    const char *status, *reason;
    size_t n;
};

struct pipeline_stats {
    const char *name;
    const struct tekton_run *newest;
    struct {
        uint64_t bucket[NBUCKETS];
        uint64_t count;
        double sum;
    } dur[2]; /* [0] False, [1] True */
};

struct tk_families {
    struct metric_family *runs, *duration, *last_info, *last_start, *last_completion, *truncated,
        *api;
};

static void make_families(struct metric_set *set, struct tk_families *f)
{
    f->runs = mset_family(
        set, "drwatch_tekton_pipelineruns", METRIC_GAUGE,
        "PipelineRuns the API lists in the namespace now, by the Succeeded condition's status "
        "(True, False, Unknown; runs not reconciled yet count as Unknown) and reason. Computed "
        "from the runs listed at each interval, not a history.");
    f->duration = mset_family(
        set, "drwatch_tekton_pipelinerun_duration_seconds", METRIC_HISTOGRAM,
        "Durations (completionTime - startTime) of the finished PipelineRuns the API lists now, "
        "by pipeline and status (True succeeded, False failed). Computed from the runs listed "
        "at each interval (a window that Tekton's pruning decides), not a history.");
    mset_family_set_unit(set, f->duration, "seconds");
    f->last_info = mset_family(
        set, "drwatch_tekton_pipeline_last_run_info", METRIC_INFO,
        "The newest PipelineRun of each pipeline (by start time): its name, status, reason and "
        "trigger event id (label triggers.tekton.dev/triggers-eventid).");
    f->last_start =
        mset_family(set, "drwatch_tekton_pipeline_last_run_start_timestamp_seconds", METRIC_GAUGE,
                    "When the newest PipelineRun of each pipeline started (Unix time; its "
                    "creation time until the controller starts it).");
    mset_family_set_unit(set, f->last_start, "seconds");
    f->last_completion = mset_family(
        set, "drwatch_tekton_pipeline_last_run_completion_timestamp_seconds", METRIC_GAUGE,
        "When the newest PipelineRun of each pipeline finished (Unix time), once it has.");
    mset_family_set_unit(set, f->last_completion, "seconds");
    f->truncated = mset_family(set, "drwatch_tekton_list_truncated", METRIC_GAUGE,
                               "1 if the namespace held more PipelineRuns than max_runs and "
                               "only the first max_runs were counted.");
    f->api = mset_family(set, "drwatch_tekton_api_info", METRIC_INFO,
                         "The tekton.dev API version the PipelineRuns were read from (v1, or "
                         "v1beta1 where v1 is not served).");
}

static void count_status(struct status_count *sc, size_t *nsc, const struct tekton_run *run)
{
    const char *reason = run->reason;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < *nsc; i++) {
            if (strcmp(sc[i].status, run->status) == 0 && strcmp(sc[i].reason, reason) == 0) {
                sc[i].n++;
                return;
            }
        }
        if (*nsc < MAX_STATUS_REASONS - 3) break;
        reason = "other"; /* the last slots take every further reason */
    }
    if (*nsc == MAX_STATUS_REASONS) return;
    sc[(*nsc)++] = (struct status_count){run->status, reason, 1};
}

static struct pipeline_stats *pipeline_get(struct pipeline_stats *ps, size_t *nps, size_t max,
                                           const char *name, size_t *dropped)
{
    for (size_t i = 0; i < *nps; i++)
        if (strcmp(ps[i].name, name) == 0) return &ps[i];
    if (*nps == max) {
        (*dropped)++;
        return NULL;
    }
    memset(&ps[*nps], 0, sizeof(ps[0]));
    ps[*nps].name = name;
    return &ps[(*nps)++];
}

static void observe(struct pipeline_stats *p, const struct tekton_run *run)
{
    if (!p->newest || newer(run, p->newest)) p->newest = run;
    bool ok = strcmp(run->status, "True") == 0;
    if ((!ok && strcmp(run->status, "False") != 0) || isnan(run->start) || isnan(run->completion) ||
        run->completion < run->start)
        return;
    double d = run->completion - run->start;
    for (size_t b = 0; b < NBUCKETS; b++)
        if (d <= buckets[b]) p->dur[ok].bucket[b]++;
    p->dur[ok].count++;
    p->dur[ok].sum += d;
}

static void add_histogram(struct metric_set *set, struct metric_family *f,
                          const struct pipeline_stats *p, struct label_pair *l, size_t nl)
{
    static const char *const status[2] = {"False", "True"};
    for (int s = 0; s < 2; s++) {
        if (!p->dur[s].count) continue;
        l[nl] = (struct label_pair){"status", status[s]};
        char le[32];
        for (size_t b = 0; b <= NBUCKETS; b++) {
            if (b < NBUCKETS)
                fmt_double(le, buckets[b]);
            else
                snprintf(le, sizeof(le), "+Inf");
            l[nl + 1] = (struct label_pair){"le", le};
            mset_add(set, f, SUFFIX_BUCKET, l, nl + 2,
                     (double)(b < NBUCKETS ? p->dur[s].bucket[b] : p->dur[s].count));
        }
        mset_add(set, f, SUFFIX_SUM, l, nl + 1, p->dur[s].sum);
        mset_add(set, f, SUFFIX_COUNT, l, nl + 1, (double)p->dur[s].count);
    }
}

static void add_newest(struct metric_set *set, const struct tk_families *f,
                       const struct pipeline_stats *p, struct label_pair *l, size_t nl)
{
    const struct tekton_run *run = p->newest;
    struct label_pair info[9];
    memcpy(info, l, nl * sizeof(*l));
    info[nl] = (struct label_pair){"name", run->name};
    info[nl + 1] = (struct label_pair){"status", run->status};
    info[nl + 2] = (struct label_pair){"reason", run->reason};
    info[nl + 3] = (struct label_pair){"event_id", run->event_id};
    mset_add(set, f->last_info, SUFFIX_NONE, info, nl + 4, 1);
    if (!isnan(run_time(run))) mset_add(set, f->last_start, SUFFIX_NONE, l, nl, run_time(run));
    if (!isnan(run->completion))
        mset_add(set, f->last_completion, SUFFIX_NONE, l, nl, run->completion);
}

size_t tekton_runs_metrics(const struct tekton_runs *r, const struct tekton_map_opts *o,
                           struct metric_set *set)
{
    struct tk_families f;
    make_families(set, &f);
    size_t max = o->max_pipelines ? o->max_pipelines : DEFAULT_PIPELINES;
    struct status_count sc[MAX_STATUS_REASONS];
    size_t nsc = 0, nps = 0, dropped = 0;
    struct pipeline_stats *ps = xcalloc(max, sizeof(*ps));
    for (size_t i = 0; i < r->n; i++) {
        count_status(sc, &nsc, &r->v[i]);
        struct pipeline_stats *p = pipeline_get(ps, &nps, max, r->v[i].pipeline, &dropped);
        if (p) observe(p, &r->v[i]);
    }
    struct label_pair l[6] = {
        {"site", o->site}, {"target", o->target}, {"namespace", o->namespace}};
    for (size_t i = 0; i < nsc; i++) {
        l[3] = (struct label_pair){"status", sc[i].status};
        l[4] = (struct label_pair){"reason", sc[i].reason};
        mset_add(set, f.runs, SUFFIX_NONE, l, 5, (double)sc[i].n);
    }
    for (size_t i = 0; i < nps; i++) {
        l[3] = (struct label_pair){"pipeline", ps[i].name};
        add_histogram(set, f.duration, &ps[i], l, 4);
        add_newest(set, &f, &ps[i], l, 4);
    }
    mset_add(set, f.truncated, SUFFIX_NONE, l, 3, r->truncated ? 1 : 0);
    l[3] = (struct label_pair){"api_version", o->api_version};
    mset_add(set, f.api, SUFFIX_NONE, l, 4, 1);
    free(ps);
    return dropped;
}

/* ---- listing ---- */

/* NULL when the path is longer than CAP_URL_PATH (a continue token from the API server, or the
 * configured selector, is that long). */
static char *list_path(const char *version, const char *ns, size_t limit, const char *selector,
                       const char *cont)
{
    struct buf b;
    buf_init(&b, CAP_URL_PATH);
    buf_printf(&b, "/apis/tekton.dev/%s/namespaces/%s/pipelineruns?limit=%zu", version, ns, limit);
    if (selector && *selector) {
        buf_puts(&b, "&labelSelector=");
        k8s_query_escape(&b, selector);
    }
    if (cont && *cont) {
        buf_puts(&b, "&continue=");
        k8s_query_escape(&b, cont);
    }
    if (buf_error(&b)) { /* the appends above are checked here: a cut path asks another list */
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

/* ---- the collector ---- */

struct tekton_target_cfg {
    struct k8s_target k8s;
    char *label_selector;
    int64_t page_size, max_runs, max_pipelines;
};

struct tekton_config {
    struct cfg_list targets;
};

static const struct cfg_key tekton_target_keys[] = {
    K8S_TARGET_KEYS(struct tekton_target_cfg, k8s),
    {.name = "label_selector",
     .type = CFG_STRING,
     .offset = offsetof(struct tekton_target_cfg, label_selector),
     .expect = "a Kubernetes label selector limiting the runs listed"},
    {.name = "page_size",
     .type = CFG_INT,
     .def = "500",
     .offset = offsetof(struct tekton_target_cfg, page_size),
     .expect = "runs per list request (limit), 1 to 5000",
     .min = 1,
     .max = 5000},
    {.name = "max_runs",
     .type = CFG_INT,
     .def = "5000",
     .offset = offsetof(struct tekton_target_cfg, max_runs),
     .expect = "the most runs listed per scrape, 1 to 100000",
     .min = 1,
     .max = 100000},
    {.name = "max_pipelines",
     .type = CFG_INT,
     .def = "200",
     .offset = offsetof(struct tekton_target_cfg, max_pipelines),
     .expect = "the most pipelines given their own series, 1 to 10000",
     .min = 1,
     .max = 10000},
    CFG_END,
};

static const struct cfg_key tekton_keys[] = {
    {.name = "targets",
     .type = CFG_LIST,
     .required = true,
     .offset = offsetof(struct tekton_config, targets),
     .sub = tekton_target_keys,
     .sub_size = sizeof(struct tekton_target_cfg),
     .expect = "one table per site's Kubernetes API and namespace (site, url, namespace, ...)"},
    CFG_END,
};

struct tekton {
    struct k8s_client k;
    char *label;
    char *selector;
    size_t page_size, max_runs, max_pipelines;
    int version; /* index into api_versions that answered last */
    struct httpc *http;
    /* the scrape in flight */
    struct k8s_req *req;
    struct scrape *scrape;
    struct tekton_runs runs;
    int tried; /* versions that answered 404 in this scrape (bits) */
    bool restarted;
    char *cont;
    int64_t deadline_ms;
    struct complaint truncated;
};

static void scrape_end(struct tekton *t)
{
    tekton_runs_clear(&t->runs);
    free(t->cont);
    t->cont = NULL;
    t->req = NULL;
    t->scrape = NULL;
}

static void fail(struct tekton *t, const char *reason, const char *detail)
{
    struct scrape *s = t->scrape;
    scrape_end(t);
    scrape_done(s, false, reason, detail);
}

static void request_page(struct tekton *t);

static void finish(struct tekton *t)
{
    struct scrape *s = t->scrape;
    struct tekton_map_opts o = {.site = http_target_site(&t->k.http),
                                .target = t->label,
                                .namespace = t->k.namespace,
                                .api_version = api_versions[t->version],
                                .max_pipelines = t->max_pipelines};
    size_t dropped = tekton_runs_metrics(&t->runs, &o, scrape_set(s));
    if (t->runs.truncated) scrape_count_error(s, "too_many_runs");
    if (dropped) scrape_count_error(s, "too_many_pipelines");
    if (t->runs.truncated || dropped)
        log_complain(&t->truncated, LOG_WARN, "tekton",
                     "target %s: over max_runs (%zu) or max_pipelines (%zu); counting the "
                     "first",
                     t->label, t->max_runs, t->max_pipelines);
    else
        log_complain_clear(&t->truncated, "tekton", "target %s: under the caps again", t->label);
    scrape_end(t);
    scrape_done(s, true, NULL, NULL);
}

static void on_page(void *arg, const struct k8s_response *r)
{
    struct tekton *t = arg;
    t->req = NULL;
    char detail[900];
    if (!r->ok) {
        if (r->status == 404 && !t->cont && !(t->tried & (1 << (1 - t->version)))) {
            /* This version is not served: try the other one, and remember it if it works. */
            t->tried |= 1 << t->version;
            t->version = 1 - t->version;
            request_page(t);
            return;
        }
        if (r->status == 410 && t->cont && !t->restarted) {
            /* The continue token expired: list again from the start, once. */
            t->restarted = true;
            tekton_runs_clear(&t->runs);
            tekton_runs_init(&t->runs);
            free(t->cont);
            t->cont = NULL;
            request_page(t);
            return;
        }
        snprintf(detail, sizeof(detail), "list %s PipelineRuns in %s: %s", api_versions[t->version],
                 t->k.namespace, r->detail ? r->detail : "");
        fail(t, r->reason, detail);
        return;
    }
    const char *cont, *reason;
    if (tekton_page_parse(r->body, r->body_len, &t->runs, t->max_runs, &cont, &reason, detail,
                          sizeof(detail)) < 0) {
        fail(t, reason, detail);
        return;
    }
    free(t->cont);
    t->cont = *cont ? xstrdup(cont) : NULL;
    if (t->cont)
        request_page(t);
    else
        finish(t);
}

static void request_page(struct tekton *t)
{
    char err[300];
    char *path =
        list_path(api_versions[t->version], t->k.namespace, t->page_size, t->selector, t->cont);
    if (!path) {
        fail(t, "request", "the list path (label selector and continue token) is too long");
        return;
    }
    int64_t left = t->deadline_ms - time_mono_ms();
    struct k8s_call call = {.path = path, .timeout_ms = left > 0 ? left : 1};
    t->req = k8s_request(t->http, &t->k, &call, on_page, t, err, sizeof(err));
    free(path);
    if (!t->req) fail(t, "request", err);
}

static void tekton_start(void *state, struct scrape *s)
{
    struct tekton *t = state;
    t->scrape = s;
    t->tried = 0;
    t->restarted = false;
    tekton_runs_init(&t->runs);
    int64_t timeout = t->k.http.timeout_ms ? t->k.http.timeout_ms : t->k.http.interval_ms;
    t->deadline_ms = time_mono_ms() + timeout;
    request_page(t);
}

static void tekton_cancel(void *state)
{
    struct tekton *t = state;
    if (!t->scrape) return;
    k8s_cancel(t->req);
    scrape_end(t);
}

static void tekton_free(void *state)
{
    struct tekton *t = state;
    if (!t) return;
    tekton_cancel(t);
    k8s_client_clear(&t->k);
    free(t->label);
    free(t->selector);
    free(t);
}

static int tekton_create(const void *config, const struct collector_env *env,
                         struct target_list *out, char *err, size_t errlen)
{
    const struct tekton_config *cfg = config;
    const struct tekton_target_cfg *v = cfg->targets.items;
    for (size_t i = 0; i < cfg->targets.n; i++) {
        struct tekton *t = xcalloc(1, sizeof(*t));
        if (k8s_client_init(&t->k, &v[i].k8s, NULL, err, errlen) < 0) {
            free(t);
            return -1;
        }
        t->label = xstrdup(t->k.http.name ? t->k.http.name : t->k.namespace);
        t->selector = v[i].label_selector ? xstrdup(v[i].label_selector) : NULL;
        t->page_size = (size_t)v[i].page_size;
        t->max_runs = (size_t)v[i].max_runs;
        t->max_pipelines = (size_t)v[i].max_pipelines;
        if (!t->k.http.interval_ms) t->k.http.interval_ms = env->default_interval_ms;
        t->http = env->http;
        const char *site = http_target_site(&t->k.http);
        for (size_t k = 0; k < out->n; k++) {
            if (strcmp(out->v[k].name, t->label) == 0 && strcmp(out->v[k].site, site) == 0) {
                snprintf(err, errlen, "tekton: two targets in site %s are named %s", site,
                         t->label);
                tekton_free(t);
                return -1;
            }
        }
        target_list_add(out, t, t->label, site, t->k.http.interval_ms, t->k.http.timeout_ms);
    }
    return 0;
}

const struct collector_ops tekton_collector = {
    .name = "tekton",
    .module = {.name = "tekton", .keys = tekton_keys, .size = sizeof(struct tekton_config)},
    .create = tekton_create,
    .start = tekton_start,
    .cancel = tekton_cancel,
    .free = tekton_free,
};

/* ---- the run started by a trigger event ---- */

struct tekton_find {
    struct httpc *http;
    const struct k8s_client *k;
    char *event_id;
    int64_t timeout_ms;
    int version;
    struct k8s_req *req;
    tekton_find_fn fn;
    void *arg;
};

static void find_free(struct tekton_find *f)
{
    free(f->event_id);
    free(f);
}

static struct k8s_req *find_request(struct tekton_find *f, char *err, size_t errlen);

static void find_report(struct tekton_find *f, const struct tekton_find_result *res)
{
    f->fn(f->arg, res);
    find_free(f);
}

static void on_find(void *arg, const struct k8s_response *r)
{
    struct tekton_find *f = arg;
    f->req = NULL;
    struct tekton_find_result res = {.status = TEKTON_FIND_ERROR,
                                     .api_version = api_versions[f->version]};
    char err[300];
    if (!r->ok && r->status == 404 && f->version == 0) {
        f->version = 1;
        f->req = find_request(f, err, sizeof(err));
        if (f->req) return;
        res.reason = "request";
        res.detail = err;
        find_report(f, &res);
        return;
    }
    if (!r->ok) {
        res.reason = r->reason;
        res.detail = r->detail;
        find_report(f, &res);
        return;
    }
    struct tekton_runs runs;
    tekton_runs_init(&runs);
    const char *cont, *reason;
    if (tekton_page_parse(r->body, r->body_len, &runs, FIND_LIMIT, &cont, &reason, err,
                          sizeof(err)) < 0) {
        res.reason = reason;
        res.detail = err;
    } else {
        /* Only runs that really carry the label count, whatever the server filtered. */
        size_t keep = 0;
        for (size_t i = 0; i < runs.n; i++)
            if (strcmp(runs.v[i].event_id, f->event_id) == 0) runs.v[keep++] = runs.v[i];
        runs.n = keep;
        res.matches = keep;
        res.run = tekton_runs_newest(&runs);
        res.status = res.run ? TEKTON_FIND_FOUND : TEKTON_FIND_NOT_FOUND;
    }
    find_report(f, &res);
    tekton_runs_clear(&runs);
}

static struct k8s_req *find_request(struct tekton_find *f, char *err, size_t errlen)
{
    char *selector = xasprintf("%s=%s", LABEL_EVENT_ID, f->event_id);
    char *path = list_path(api_versions[f->version], f->k->namespace, FIND_LIMIT, selector, NULL);
    if (!path) { /* the event id is a label value (63 bytes at most): not reached */
        snprintf(err, errlen, "the list path is longer than %zu bytes", (size_t)CAP_URL_PATH);
        free(selector);
        return NULL;
    }
    struct k8s_call call = {.path = path, .timeout_ms = f->timeout_ms};
    struct k8s_req *req = k8s_request(f->http, f->k, &call, on_find, f, err, errlen);
    free(path);
    free(selector);
    return req;
}

struct tekton_find *tekton_find_run_by_event(struct httpc *h, const struct k8s_client *c,
                                             const char *event_id, int64_t timeout_ms,
                                             tekton_find_fn fn, void *arg, char *err, size_t errlen)
{
    if (!event_id || !*event_id || !k8s_label_value_valid(event_id)) {
        snprintf(err, errlen, "event id \"%.80s\" is not a Kubernetes label value",
                 event_id ? event_id : "(null)");
        return NULL;
    }
    struct tekton_find *f = xcalloc(1, sizeof(*f));
    *f = (struct tekton_find){.http = h,
                              .k = c,
                              .event_id = xstrdup(event_id),
                              .timeout_ms = timeout_ms,
                              .fn = fn,
                              .arg = arg};
    f->req = find_request(f, err, errlen);
    if (!f->req) {
        find_free(f);
        return NULL;
    }
    return f;
}

void tekton_find_cancel(struct tekton_find *f)
{
    if (!f) return;
    k8s_cancel(f->req);
    find_free(f);
}
