/* notify_test.h: for the notifier tests (test_notify_msteams.c, test_notify_email.c,
 * test_notify_alertmanager.c): canned notifications, running one send to its end on a loop, small
 * files, goldens and a GET through httpc. Header-only; include after tap.h. */
#ifndef DRWATCH_TEST_NOTIFY_H
#define DRWATCH_TEST_NOTIFY_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alert.h"
#include "buf.h"
#include "caps.h"
#include "config.h"
#include "fileio.h"
#include "http_client.h"
#include "loop.h"
#include "notifier.h"
#include "xalloc.h"

/* A notifier made from one receiver's settings, written as Lua the way the alerting section
 * gives them ("url = '...', to = { ... }"): the loaded config (which its strings point into) and
 * the notifier's state, NULL when the loader or create refused them (why in err). */
struct nt_made {
    struct config *cfg;
    void *state;
};

static struct nt_made __attribute__((unused))
nt_make(const struct notifier_ops *ops, const struct notifier_env *env, const char *body, char *err,
        size_t errlen)
{
    struct nt_made m = {0};
    static struct cfg_module mod; /* the config keeps a pointer to it */
    mod = (struct cfg_module){.name = ops->type, .keys = ops->keys, .size = ops->config_size};
    const struct cfg_module *mods[] = {&mod};
    char *src = xasprintf("%s = { %s }", ops->type, body);
    m.cfg = config_load_buffer(src, strlen(src), "test.lua", mods, 1, err, errlen);
    free(src);
    if (m.cfg && ops->create(config_module(m.cfg, ops->type, NULL), env, &m.state, err, errlen) < 0)
        m.state = NULL;
    return m;
}

static void __attribute__((unused)) nt_unmake(const struct notifier_ops *ops, struct nt_made *m)
{
    ops->free(m->state);
    config_free(m->cfg);
}

/* Whether the settings are refused (by the loader or by create). */
static bool __attribute__((unused))
nt_refused(const struct notifier_ops *ops, const struct notifier_env *env, const char *body,
           char *err, size_t errlen)
{
    struct nt_made m = nt_make(ops, env, body, err, errlen);
    bool no = m.state == NULL;
    nt_unmake(ops, &m);
    return no;
}

/* A canned group: 2 firing PatroniStandbyLagHigh-like alerts and 1 resolved, at a fixed
 * time, with group labels {alertname} and common labels {alertname, severity}. */
struct nt_group {
    struct am_alert alerts[3];
    struct label_pair ann[3][3];
    struct label_pair group[1], common[2], common_ann[1];
    struct notification n;
};

#define NT_NOW 1718012741.0 /* 2024-06-10T09:45:41Z */

static void __attribute__((unused)) nt_group_init(struct nt_group *g)
{
    static const char *const labels[3] = {
        "alertname=\"PatroniStandbyLagHigh\",scope=\"pg-golddr\",severity=\"critical\","
        "site=\"golddr\"",
        "alertname=\"PatroniStandbyLagHigh\",scope=\"pg-gold\",severity=\"critical\","
        "site=\"gold\"",
        "alertname=\"PatroniStandbyLagHigh\",scope=\"pg_gold_2\",severity=\"critical\","
        "site=\"gold\""};
    memset(g, 0, sizeof(*g));
    for (int i = 0; i < 3; i++) {
        struct am_alert *a = &g->alerts[i];
        a->labels = (char *)labels[i];
        a->fingerprint = am_fingerprint(labels[i]);
        g->ann[i][0] = (struct label_pair){"summary", i == 0 ? "Standby leader pg-golddr-0 is 48 "
                                                               "MiB behind the primary"
                                                             : "Standby lag <b>high</b> & rising"};
        g->ann[i][1] = (struct label_pair){"runbook_url", "https://runbooks.example/patroni#lag"};
        g->ann[i][2] = (struct label_pair){"description", "RPO at risk: \"lag\" > 16 MiB\n"
                                                          "second line ünïcödé"};
        a->annotations = g->ann[i];
        a->nannotations = 3;
        a->value = i == 0 ? 50331648 : 0.25 * (i + 1);
        a->starts_at = 1718012460.0 - i * 60;
        a->ends_at = i == 2 ? 1718012700.5 : 0;
        a->updated_at = NT_NOW;
        a->generator_url = (char *)"http://drwatch.example:8488/#alerts";
    }
    g->group[0] = (struct label_pair){"alertname", "PatroniStandbyLagHigh"};
    g->common[0] = (struct label_pair){"alertname", "PatroniStandbyLagHigh"};
    g->common[1] = (struct label_pair){"severity", "critical"};
    g->common_ann[0] = (struct label_pair){"runbook_url", "https://runbooks.example/patroni#lag"};
    g->n = (struct notification){.receiver = "dba-teams",
                                 .group_key = "{}:{alertname=\"PatroniStandbyLagHigh\"}",
                                 .status = "firing",
                                 .group_labels = g->group,
                                 .ngroup_labels = 1,
                                 .common_labels = g->common,
                                 .ncommon_labels = 2,
                                 .common_annotations = g->common_ann,
                                 .ncommon_annotations = 1,
                                 .alerts = g->alerts,
                                 .nalerts = 3,
                                 .external_url = "http://drwatch.example:8488",
                                 .grafana_url = "https://grafana.example/d/drwatch",
                                 .now = NT_NOW};
}

/* A big group: n alerts with distinct labels and annotations of ann_bytes bytes each. */
struct nt_big {
    struct am_alert *alerts;
    struct label_pair *ann;
    char **strings;
    size_t nstrings;
    struct label_pair group[1];
    struct notification n;
};

static char *nt_keep(struct nt_big *b, char *s)
{
    b->strings = xrealloc(b->strings, (b->nstrings + 1) * sizeof(char *));
    b->strings[b->nstrings++] = s;
    return s;
}

static void __attribute__((unused)) nt_big_init(struct nt_big *b, size_t n, size_t ann_bytes)
{
    memset(b, 0, sizeof(*b));
    b->alerts = xcalloc(n, sizeof(*b->alerts));
    b->ann = xcalloc(n * 2, sizeof(*b->ann));
    char *filler = nt_keep(b, xmalloc(ann_bytes + 1));
    for (size_t i = 0; i < ann_bytes; i++) filler[i] = (char)('a' + i % 26);
    filler[ann_bytes] = '\0';
    for (size_t i = 0; i < n; i++) {
        struct am_alert *a = &b->alerts[i];
        a->labels = nt_keep(b, xasprintf("alertname=\"KongDataPlaneStale\",dp=\"kong-dp-%04zu\","
                                         "site=\"golddr\"",
                                         i));
        a->fingerprint = am_fingerprint(a->labels);
        b->ann[2 * i] =
            (struct label_pair){"summary", nt_keep(b, xasprintf("DP %04zu is stale", i))};
        b->ann[2 * i + 1] = (struct label_pair){"description", filler};
        a->annotations = &b->ann[2 * i];
        a->nannotations = 2;
        a->value = (double)i;
        a->starts_at = NT_NOW - 600;
    }
    b->group[0] = (struct label_pair){"alertname", "KongDataPlaneStale"};
    b->n = (struct notification){.receiver = "ops",
                                 .group_key = "{}:{alertname=\"KongDataPlaneStale\"}",
                                 .status = "firing",
                                 .group_labels = b->group,
                                 .ngroup_labels = 1,
                                 .common_labels = b->group,
                                 .ncommon_labels = 1,
                                 .alerts = b->alerts,
                                 .nalerts = n,
                                 .external_url = "http://drwatch.example:8488",
                                 .now = NT_NOW};
}

static void __attribute__((unused)) nt_big_free(struct nt_big *b)
{
    for (size_t i = 0; i < b->nstrings; i++) free(b->strings[i]);
    free(b->strings);
    free(b->alerts);
    free(b->ann);
}

/* ---- sending ---- */

struct nt_result {
    int done;
    enum send_outcome outcome;
    double retry_after;
    char reason[64];
    char detail[4096];
    struct loop *loop;
};

static void nt_on_done(void *arg, const struct send_result *r)
{
    struct nt_result *res = arg;
    res->done++;
    res->outcome = r->outcome;
    res->retry_after = r->retry_after_s;
    snprintf(res->reason, sizeof(res->reason), "%s", r->reason ? r->reason : "");
    snprintf(res->detail, sizeof(res->detail), "%s", r->detail ? r->detail : "");
    loop_stop(res->loop);
}

static void nt_on_guard(void *arg)
{
    loop_stop(arg);
}

/* Sends p and runs the loop until done (or guard_ms passes: res.done stays 0). */
__attribute__((unused)) static struct nt_result nt_send(struct loop *l,
                                                        const struct notifier_ops *ops, void *state,
                                                        const struct payload *p, int64_t guard_ms)
{
    struct nt_result res = {.loop = l, .retry_after = -2};
    struct loop_timer *guard = loop_timer_new(l, nt_on_guard, l);
    loop_timer_start(guard, guard_ms);
    ops->send(state, p, nt_on_done, &res);
    loop_run(l);
    loop_timer_free(guard);
    if (!res.done) ops->cancel(state);
    return res;
}

__attribute__((unused)) static const char *nt_outcome_name(enum send_outcome o)
{
    return o == SEND_OK ? "ok" : o == SEND_RETRY ? "retry" : "fail";
}

/* ---- files and HTTP ---- */

static void __attribute__((unused)) nt_write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(content, f);
    fclose(f);
}

/* Compares got with the golden file; with UPDATE_GOLDEN=1 in the environment, writes it. */
static int __attribute__((unused)) nt_golden(const char *path, const char *got, size_t len)
{
    if (getenv("UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "w");
        if (!f) return 0;
        fwrite(got, 1, len, f);
        fclose(f);
        return 1;
    }
    char *want = NULL;
    size_t wlen = 0;
    if (file_read_all(path, 16u << 20, &want, &wlen) < 0) return 0;
    int same = wlen == len && memcmp(want, got, len) == 0;
    free(want);
    return same;
}

struct nt_get {
    struct loop *loop;
    long status;
    struct buf body;
};

static void nt_on_get(void *arg, const struct httpc_result *r)
{
    struct nt_get *g = arg;
    g->status = r->status;
    buf_append(&g->body, r->body, r->body_len);
    loop_stop(g->loop);
}

/* GET or POST url; returns the body (the caller frees it), or NULL. */
__attribute__((unused)) static char *nt_http(struct loop *l, struct httpc *h, const char *method,
                                             const char *url, const char *body)
{
    struct nt_get g = {.loop = l};
    buf_init(&g.body, CAP_HTTP_BODY);
    const char *headers[] = {"Content-Type: application/json", NULL};
    struct httpc_opts o = {.method = method,
                           .url = url,
                           .headers = headers,
                           .body = body,
                           .body_len = body ? strlen(body) : 0,
                           .timeout_ms = 5000};
    if (!httpc_start(h, &o, nt_on_get, &g)) return NULL;
    loop_run(l);
    if (!g.body.data) return xstrdup("");
    return g.body.data;
}

#endif
