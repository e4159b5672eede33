/* fluentd.c: FluentD's in_monitor_agent (`GET /api/plugins.json`, port 24220): per plugin the
 * buffer (queue length, queued bytes, stage, free space), flush failures (retry_count) and
 * emitted records, labelled plugin_id, type and plugin_category.
 *
 * What the body holds depends on the FluentD version: inputs and filters carry no buffer
 * fields and `retry_count: null`; outputs without a <buffer> have no buffer fields; 1.19.0
 * added write_secondary_count and drop_oldest_chunk_count; and from 1.19.3 the `retry` and
 * `config` objects are absent unless `include_retry`/`include_config` are set. So every field
 * is optional: a sample is exported for the fields a plugin has, never invented. Retry state
 * comes from the cumulative retry_count (use its rate); the `retry` object, when present,
 * adds the current run's steps and back-off.
 *
 * Every sample carries site and target (a site usually runs several FluentD pods, whose
 * plugin_ids are the same) so that two targets never give the same series.
 *
 * Uses: exporter/httpc via exporter/target (transport), jansson, exporter/timeparse. */
#include "fluentd.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector_env.h"
#include "collectors.h"
#include "http_target.h"
#include "log.h"
#include "strutil.h"
#include "timeparse.h"
#include "xalloc.h"

#define FLUENTD_PATH        "/api/plugins.json"
#define DEFAULT_MAX_PLUGINS 1000
#define LABEL_MAX_BYTES     256
#define MAX_CATEGORIES      8

struct fluentd_target_cfg {
    struct http_target http;
    int64_t max_plugins;
};

struct fluentd_config {
    struct cfg_list targets;
};

static const struct cfg_key fluentd_target_keys[] = {
    HTTP_TARGET_KEYS(struct fluentd_target_cfg, http),
    {.name = "max_plugins",
     .type = CFG_INT,
     .def = "1000",
     .offset = offsetof(struct fluentd_target_cfg, max_plugins),
     .expect = "the most plugins exported per scrape, 1 to 100000",
     .min = 1,
     .max = 100000},
    CFG_END,
};

static const struct cfg_key fluentd_keys[] = {
    {.name = "targets",
     .type = CFG_LIST,
     .required = true,
     .offset = offsetof(struct fluentd_config, targets),
     .sub = fluentd_target_keys,
     .sub_size = sizeof(struct fluentd_target_cfg),
     .expect = "the monitor_agent endpoints, one table per FluentD (site, url, ...)"},
    CFG_END,
};

/* ---- the mapping ---- */

/* A numeric field of a plugin object and the family it goes to. */
struct field {
    const char *key;
    const char *name;
    enum metric_type type;
    const char *unit;
    double scale;
    const char *help;
};

static const struct field fields[] = {
    {"buffer_queue_length", "drwatch_fluentd_buffer_queue_length", METRIC_GAUGE, NULL, 1,
     "Chunks queued for flush (buffer_queue_length), per buffered plugin; growing means the "
     "destination is slow or down. Collected every interval."},
    {"buffer_total_queued_size", "drwatch_fluentd_buffer_total_queued_bytes", METRIC_GAUGE, "bytes",
     1, "Bytes in the stage and queue buffers (buffer_total_queued_size)."},
    {"buffer_stage_length", "drwatch_fluentd_buffer_stage_length", METRIC_GAUGE, NULL, 1,
     "Staged chunks not yet queued (buffer_stage_length)."},
    {"buffer_stage_byte_size", "drwatch_fluentd_buffer_stage_bytes", METRIC_GAUGE, "bytes", 1,
     "Bytes in staged chunks (buffer_stage_byte_size)."},
    {"buffer_queue_byte_size", "drwatch_fluentd_buffer_queue_bytes", METRIC_GAUGE, "bytes", 1,
     "Bytes in queued chunks (buffer_queue_byte_size)."},
    {"buffer_available_buffer_space_ratios", "drwatch_fluentd_buffer_available_space_ratio",
     METRIC_GAUGE, "ratio", 0.01,
     "Free share of the buffer's total_limit_size, 0 to 1 (monitor_agent's percentage / 100); "
     "near 0 the plugin is about to block or drop."},
    {"buffer_oldest_timekey", "drwatch_fluentd_buffer_oldest_timekey_timestamp_seconds",
     METRIC_GAUGE, "seconds", 1,
     "Oldest time key of staged chunks (Unix time), for buffers chunked by time."},
    {"buffer_newest_timekey", "drwatch_fluentd_buffer_newest_timekey_timestamp_seconds",
     METRIC_GAUGE, "seconds", 1,
     "Newest time key of staged chunks (Unix time), for buffers chunked by time."},
    {"retry_count", "drwatch_fluentd_retries_total", METRIC_COUNTER, NULL, 1,
     "Flush failures of an output since FluentD started (retry_count, not reset when a retry "
     "succeeds): use its rate."},
    {"emit_records", "drwatch_fluentd_emit_records_total", METRIC_COUNTER, NULL, 1,
     "Records emitted to or by the plugin (emit_records; inputs and filters from 1.14)."},
    {"emit_count", "drwatch_fluentd_emits_total", METRIC_COUNTER, NULL, 1,
     "Emit calls received by an output (emit_count)."},
    {"write_count", "drwatch_fluentd_writes_total", METRIC_COUNTER, NULL, 1,
     "Chunk writes (flushes) of an output (write_count)."},
    {"write_secondary_count", "drwatch_fluentd_secondary_writes_total", METRIC_COUNTER, NULL, 1,
     "Chunk writes to the <secondary> output (write_secondary_count, FluentD 1.19+)."},
    {"rollback_count", "drwatch_fluentd_rollbacks_total", METRIC_COUNTER, NULL, 1,
     "Chunks rolled back after a failed write (rollback_count)."},
    {"slow_flush_count", "drwatch_fluentd_slow_flushes_total", METRIC_COUNTER, NULL, 1,
     "Flushes slower than slow_flush_log_threshold (slow_flush_count)."},
    {"flush_time_count", "drwatch_fluentd_flush_time_seconds_total", METRIC_COUNTER, "seconds",
     0.001, "Time spent flushing (flush_time_count, reported in ms)."},
    {"drop_oldest_chunk_count", "drwatch_fluentd_dropped_chunks_total", METRIC_COUNTER, NULL, 1,
     "Chunks dropped by overflow_action drop_oldest_chunk (FluentD 1.19+)."},
};

#define NFIELDS ARRAY_LEN(fields)

struct families {
    struct metric_family *f[NFIELDS];
    struct metric_family *retry_steps, *retry_wait, *retry_next, *plugins;
};

static void make_families(struct metric_set *set, struct families *fam)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        fam->f[i] = mset_family(set, fields[i].name, fields[i].type, fields[i].help);
        if (fields[i].unit && strcmp(fields[i].unit, "ratio") != 0)
            mset_family_set_unit(set, fam->f[i], fields[i].unit);
    }
    fam->retry_steps = mset_family(
        set, "drwatch_fluentd_retry_steps", METRIC_GAUGE,
        "Consecutive failed flush attempts in the current retry run (retry.steps; 0 when not "
        "retrying). Only when monitor_agent shows retry state: include_retry true, the "
        "default before FluentD 1.19.3.");
    fam->retry_wait =
        mset_family(set, "drwatch_fluentd_retry_wait_seconds", METRIC_GAUGE,
                    "Current retry back-off (retry.next_time - retry.start; 0 when not "
                    "retrying). Only when monitor_agent shows retry state (include_retry).");
    mset_family_set_unit(set, fam->retry_wait, "seconds");
    fam->retry_next = mset_family(
        set, "drwatch_fluentd_retry_next_timestamp_seconds", METRIC_GAUGE,
        "When the next flush retry is due (retry.next_time, Unix time), while retrying. Only "
        "when monitor_agent shows retry state (include_retry).");
    mset_family_set_unit(set, fam->retry_next, "seconds");
    fam->plugins = mset_family(set, "drwatch_fluentd_plugins", METRIC_GAUGE,
                               "Plugins monitor_agent reported, by plugin_category.");
}

struct plugin_labels {
    char plugin_id[LABEL_MAX_BYTES], type[LABEL_MAX_BYTES], category[LABEL_MAX_BYTES];
    struct label_pair l[5];
};

static bool plugin_labels(json_t *p, const struct fluentd_map_opts *o, struct plugin_labels *pl)
{
    json_t *id = json_object_get(p, "plugin_id");
    if (!json_is_string(id)) return false;
    json_t *type = json_object_get(p, "type"), *cat = json_object_get(p, "plugin_category");
    str_utf8_copy(pl->plugin_id, sizeof(pl->plugin_id), json_string_value(id));
    str_utf8_copy(pl->type, sizeof(pl->type), json_is_string(type) ? json_string_value(type) : "");
    str_utf8_copy(pl->category, sizeof(pl->category),
                  json_is_string(cat) ? json_string_value(cat) : "unknown");
    pl->l[0] = (struct label_pair){"site", o->site};
    pl->l[1] = (struct label_pair){"target", o->target};
    pl->l[2] = (struct label_pair){"plugin_id", pl->plugin_id};
    pl->l[3] = (struct label_pair){"type", pl->type};
    pl->l[4] = (struct label_pair){"plugin_category", pl->category};
    return true;
}

static bool number(json_t *v, double *out)
{
    if (!json_is_number(v)) return false; /* null (inputs' retry_count) and strings: absent */
    *out = json_number_value(v);
    return isfinite(*out);
}

static double ruby_time(json_t *v)
{
    double t;
    if (!json_is_string(v)) return NAN;
    const char *s = json_string_value(v);
    return timeparse_iso(s, json_string_length(v), 0, &t) == 0 ? t : NAN;
}

/* The `retry` object: {} when not retrying, else {start, steps, next_time}. */
static bool add_retry(struct metric_set *set, const struct families *fam, json_t *p,
                      const struct plugin_labels *pl)
{
    json_t *r = json_object_get(p, "retry");
    if (!json_is_object(r)) return false;
    double steps = 0;
    if (json_object_size(r) && !number(json_object_get(r, "steps"), &steps)) steps = NAN;
    if (!isnan(steps)) mset_add(set, fam->retry_steps, SUFFIX_NONE, pl->l, 5, steps);
    double start = ruby_time(json_object_get(r, "start"));
    double next = ruby_time(json_object_get(r, "next_time"));
    if (json_object_size(r) == 0)
        mset_add(set, fam->retry_wait, SUFFIX_NONE, pl->l, 5, 0);
    else if (!isnan(start) && !isnan(next))
        mset_add(set, fam->retry_wait, SUFFIX_NONE, pl->l, 5, next - start);
    if (!isnan(next)) mset_add(set, fam->retry_next, SUFFIX_NONE, pl->l, 5, next);
    return true;
}

struct category_count {
    char name[LABEL_MAX_BYTES];
    size_t n;
};

static void count_category(struct category_count *cc, size_t *ncc, const char *cat)
{
    for (size_t i = 0; i < *ncc; i++) {
        if (strcmp(cc[i].name, cat) == 0) {
            cc[i].n++;
            return;
        }
    }
    /* The last slot takes the rest. (>=, not ==: once "other" is in it, *ncc is the cap;
     * fuzz_fluentd found the overflow.) */
    if (*ncc >= MAX_CATEGORIES - 1) cat = "other";
    for (size_t i = 0; i < *ncc; i++) {
        if (strcmp(cc[i].name, cat) == 0) {
            cc[i].n++;
            return;
        }
    }
    snprintf(cc[*ncc].name, sizeof(cc[0].name), "%s", cat);
    cc[(*ncc)++].n = 1;
}

int fluentd_map(const char *body, size_t len, const struct fluentd_map_opts *o,
                struct metric_set *set, struct fluentd_map_stats *st, const char **reason,
                char *err, size_t errlen)
{
    memset(st, 0, sizeof(*st));
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    if (!root) {
        *reason = "bad_json";
        snprintf(err, errlen, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
        return -1;
    }
    json_t *plugins = json_object_get(root, "plugins");
    if (!json_is_array(plugins)) {
        *reason = "bad_body";
        snprintf(err, errlen, "expected {\"plugins\":[...]} (monitor_agent's /api/plugins.json)");
        json_decref(root);
        return -1;
    }
    size_t max = o->max_plugins ? o->max_plugins : DEFAULT_MAX_PLUGINS;
    struct families fam;
    make_families(set, &fam);
    struct category_count cats[MAX_CATEGORIES];
    size_t ncats = 0;
    size_t i;
    json_t *p;
    struct plugin_labels *pl = xmalloc(sizeof(*pl));
    json_array_foreach(plugins, i, p)
    {
        if (st->plugins == max) {
            st->truncated = true;
            break;
        }
        if (!json_is_object(p) || !plugin_labels(p, o, pl)) {
            st->skipped++;
            continue;
        }
        st->plugins++;
        count_category(cats, &ncats, pl->category);
        for (size_t f = 0; f < NFIELDS; f++) {
            double v;
            /* A negative counter is not one: left out rather than breaking rate(). */
            if (number(json_object_get(p, fields[f].key), &v) &&
                (v >= 0 || fields[f].type != METRIC_COUNTER))
                mset_add(set, fam.f[f], SUFFIX_NONE, pl->l, 5, v * fields[f].scale);
        }
        if (add_retry(set, &fam, p, pl)) st->retry_state = true;
    }
    free(pl);
    for (size_t c = 0; c < ncats; c++)
        mset_addv(set, fam.plugins, (double)cats[c].n, "site", o->site, "target", o->target,
                  "plugin_category", cats[c].name, LABELS_END);
    json_decref(root);
    return 0;
}

/* ---- the collector ---- */

struct fluentd {
    struct http_target t; /* strings owned */
    char *url;            /* base + /api/plugins.json */
    size_t max_plugins;
    struct httpc *http;
    struct httpc_req *req;
    struct scrape *scrape;
    char *token;
    struct complaint truncated;
};

static void fluentd_reset(struct fluentd *f)
{
    f->req = NULL;
    f->scrape = NULL;
    free(f->token);
    f->token = NULL;
}

/* A line for the log from a non-2xx answer: monitor_agent's {"message": ...} if any. */
static void status_detail(const struct httpc_result *r, char *out, size_t outlen)
{
    json_t *root = json_loadb(r->body, r->body_len, 0, NULL);
    const char *msg =
        json_is_object(root) ? json_string_value(json_object_get(root, "message")) : NULL;
    snprintf(out, outlen, "HTTP %ld%s%s%s", r->status, msg ? " \"" : "", msg ? msg : "",
             msg ? "\"" : "");
    if (r->status == 404)
        snprintf(out + strlen(out), outlen - strlen(out),
                 ": is url monitor_agent's base URL (http://host:24220)?");
    json_decref(root);
}

static void on_response(void *arg, const struct httpc_result *r)
{
    struct fluentd *f = arg;
    struct scrape *s = f->scrape;
    fluentd_reset(f);
    char detail[300], reason[32];
    if (!r->ok) {
        scrape_done(s, false, r->reason, r->error);
        return;
    }
    if (r->status < 200 || r->status > 299) {
        http_status_reason(r->status, reason, sizeof(reason));
        status_detail(r, detail, sizeof(detail));
        scrape_done(s, false, reason, detail);
        return;
    }
    struct fluentd_map_opts o = {.site = http_target_site(&f->t),
                                 .target = http_target_label(&f->t),
                                 .max_plugins = f->max_plugins};
    struct fluentd_map_stats st;
    const char *why;
    if (fluentd_map(r->body, r->body_len, &o, scrape_set(s), &st, &why, detail, sizeof(detail)) <
        0) {
        scrape_done(s, false, why, detail);
        return;
    }
    if (st.truncated) {
        scrape_count_error(s, "too_many_plugins");
        log_complain(&f->truncated, LOG_WARN, "fluentd",
                     "target %s: more than max_plugins (%zu) plugins; exporting the first",
                     http_target_label(&f->t), f->max_plugins);
    } else {
        log_complain_clear(&f->truncated, "fluentd", "target %s: plugins under max_plugins again",
                           http_target_label(&f->t));
    }
    scrape_done(s, true, NULL, NULL);
}

static void fluentd_start(void *state, struct scrape *s)
{
    struct fluentd *f = state;
    struct httpc_opts o;
    char err[300];
    if (http_target_opts(&f->t, f->url, &o, &f->token, err, sizeof(err)) < 0) {
        scrape_done(s, false, "token", err);
        return;
    }
    f->scrape = s;
    f->req = httpc_start(f->http, &o, on_response, f);
    if (!f->req) {
        fluentd_reset(f);
        scrape_done(s, false, "request", "the HTTP client refused the request");
    }
}

static void fluentd_cancel(void *state)
{
    struct fluentd *f = state;
    httpc_cancel(f->req);
    fluentd_reset(f);
}

static void fluentd_free(void *state)
{
    struct fluentd *f = state;
    if (!f) return;
    fluentd_cancel(f);
    http_target_clear(&f->t);
    free(f->url);
    free(f);
}

static int fluentd_create(const void *config, const struct collector_env *env,
                          struct target_list *out, char *err, size_t errlen)
{
    const struct fluentd_config *c = config;
    const struct fluentd_target_cfg *v = c->targets.items;
    for (size_t i = 0; i < c->targets.n; i++) {
        if (http_target_check(&v[i].http, err, errlen) < 0) return -1;
        for (size_t k = 0; k < i; k++) {
            if (v[k].http.site == v[i].http.site &&
                strcmp(http_target_label(&v[k].http), http_target_label(&v[i].http)) == 0) {
                snprintf(err, errlen, "fluentd: two targets in site %s are named %s",
                         http_target_site(&v[i].http), http_target_label(&v[i].http));
                return -1;
            }
        }
    }
    for (size_t i = 0; i < c->targets.n; i++) {
        struct fluentd *f = xcalloc(1, sizeof(*f));
        http_target_copy(&f->t, &v[i].http);
        if (!f->t.interval_ms) f->t.interval_ms = env->default_interval_ms;
        /* A URL that already names the endpoint is used as it is. */
        f->url =
            strstr(f->t.url, FLUENTD_PATH) ? xstrdup(f->t.url) : url_join(f->t.url, FLUENTD_PATH);
        f->max_plugins = (size_t)v[i].max_plugins;
        f->http = env->http;
        target_list_add(out, f, http_target_label(&f->t), http_target_site(&f->t), f->t.interval_ms,
                        f->t.timeout_ms);
    }
    return 0;
}

const struct collector_ops fluentd_collector = {
    .name = "fluentd",
    .module = {.name = "fluentd", .keys = fluentd_keys, .size = sizeof(struct fluentd_config)},
    .create = fluentd_create,
    .start = fluentd_start,
    .cancel = fluentd_cancel,
    .free = fluentd_free,
};
