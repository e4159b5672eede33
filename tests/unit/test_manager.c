/* test_manager.c: the alert manager (alerts/manager*.c, silence.c) on a virtual clock, with a
 * fake notifier that logs every notification it renders ("t=330 team firing A:1,A:2/r").
 *
 * Data-driven timelines: a config, a list of events (an alert fires, resolves, or stops being
 * reported; a silence is made), and the notifications expected, each at its time. Between
 * events the test "rules engine" pushes every alert it knows every 5 s, as the daemon does,
 * and the clock jumps to whatever the manager says is due next. Covered: group_wait and
 * group_interval batching, group_by (labels, "...", none), repeat_interval, resolved
 * notifications with and without send_resolved, dedupe, silences (matching, expiry, the API
 * with and without the token), inhibition (equal labels; GoldDR alerts inhibited during
 * golddr-maintenance), routing (nested, continue, matchers, inheritance), resolve_timeout,
 * max_alerts, the render fallback, a restart (state, log and silences restored, nothing sent
 * twice) and the config's refusals with file:line. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "config.h"
#include "log.h"
#include "manager.h"
#include "manager_int.h"
#include "strutil.h"
#include "tap.h"
#include "xalloc.h"

#define T0 1700000000.0

static double vnow = T0;

static double vclock(void *arg)
{
    (void)arg;
    return vnow;
}

/* ---- the fake notifier ---- */

static struct buf nlog;      /* one line per notification rendered */
static struct buf last_body; /* what the last send carried */
static char last_ctype[64];
static const char *fail_render_for; /* a receiver whose render fails */

static void describe(struct buf *b, const struct am_alert *a, double now)
{
    struct buf v;
    buf_init(&v, CAP_LABELS_TEXT);
    am_alert_label(a, "alertname", &v);
    buf_puts(b, v.data ? v.data : "?");
    if (am_alert_label(a, "id", &v)) buf_printf(b, ":%s", v.data);
    if (am_alert_resolved(a, now)) buf_puts(b, "/r");
    buf_free(&v);
}

static int fake_render(void *state, const struct notification *n, struct payload *p, char *err,
                       size_t errlen)
{
    const char *name = state;
    if (fail_render_for && strcmp(fail_render_for, name) == 0) {
        snprintf(err, errlen, "template broke");
        return -1;
    }
    struct buf line;
    buf_init(&line, CAP_NOTIFY_PAYLOAD);
    buf_printf(&line, "t=%g %s %s ", n->now - T0, n->receiver, n->status);
    for (size_t i = 0; i < n->nalerts; i++) {
        if (i) buf_putc(&line, ',');
        describe(&line, &n->alerts[i], n->now);
    }
    if (n->truncated_alerts) buf_printf(&line, " +%llu", (unsigned long long)n->truncated_alerts);
    buf_putc(&line, '\n');
    buf_puts(&nlog, line.data);
    buf_puts(&p->body, line.data);
    snprintf(p->content_type, sizeof(p->content_type), "text/x-fake");
    buf_free(&line);
    return 0;
}

static void fake_send(void *state, const struct payload *p, notifier_done_fn done, void *arg)
{
    (void)state;
    buf_reset(&last_body);
    buf_append(&last_body, p->body.data, p->body.len);
    snprintf(last_ctype, sizeof(last_ctype), "%s", p->content_type);
    struct send_result r = {.outcome = SEND_OK, .retry_after_s = -1, .reason = "ok"};
    done(arg, &r);
}

static void fake_cancel(void *state)
{
    (void)state;
}

static void fake_free(void *state)
{
    free(state);
}

static const struct notifier_ops fake_ops = {.type = "fake",
                                             .render = fake_render,
                                             .send = fake_send,
                                             .cancel = fake_cancel,
                                             .free = fake_free};

/* ---- setting up a manager from a config ---- */

struct tm_env {
    char *dir;
    struct am_manager *m;
};

/* Removes a test directory and everything in it. */
static void remove_dir(char *dir)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0) diag("could not remove %s", dir);
    free(cmd);
    free(dir);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* A fresh directory for a config, with the API token file "token" (s3cret) in it. */
static char *tmp_dir(void)
{
    char tmpl[] = "/tmp/drwatch-manager-XXXXXX";
    char *dir = xstrdup(mkdtemp(tmpl));
    char *tok = xasprintf("%s/token", dir);
    write_file(tok, "s3cret\n");
    free(tok);
    return dir;
}

/* Loads `alerting = { <body> }` (data_dir added) and makes a plan; err gets a refusal. */
static struct am_plan *plan_from(const char *dir, const char *body, const struct am_manager *cur,
                                 char *err, size_t errlen)
{
    char *path = xasprintf("%s/drwatch.lua", dir);
    char *text = xasprintf("alerting = {\n  data_dir = \"%s/data\",\n%s}\n", dir, body);
    write_file(path, text);
    const struct cfg_module *mods[] = {manager_config_module()};
    struct config *cfg = config_load(path, mods, 1, err, errlen);
    struct am_plan *plan = NULL;
    struct manager_env env = {.config_dir = dir, .listen_port = 8488};
    if (cfg && manager_prepare(cfg, &env, cur, &plan, err, errlen) < 0) plan = NULL;
    config_free(cfg);
    free(text);
    free(path);
    if (!plan) return NULL;
    for (size_t i = 0; i < plan->nreceivers; i++) { /* every receiver logs through the fake */
        struct am_receiver *r = &plan->receivers[i];
        r->ops->free(r->state);
        r->ops = &fake_ops;
        r->state = xstrdup(r->name);
    }
    return plan;
}

static struct am_manager *start(struct tm_env *e, const char *body)
{
    char err[1024] = "";
    struct am_plan *plan = plan_from(e->dir, body, NULL, err, sizeof(err));
    if (!plan) {
        diag("config refused: %s", err);
        return NULL;
    }
    struct manager_env env = {.config_dir = e->dir, .listen_port = 8488, .clock = vclock};
    e->m = manager_new(plan, &env, err, sizeof(err));
    if (!e->m) diag("manager_new: %s", err);
    return e->m;
}

/* ---- the timeline runner ---- */

enum ev_kind { FIRE, RESOLVE, RESOLVED_NEW, GONE, SILENCE, RESTART, APPLY, STOP };

struct ev {
    double t;
    enum ev_kind kind;
    const char *arg; /* labels (canonical), a silence's matchers JSON, or a config body */
    double until;    /* SILENCE: end, relative */
};

struct world_alert {
    char *labels;
    double starts, ends;
};

struct world {
    struct world_alert v[64];
    size_t n;
};

static struct world_alert *world_find(struct world *w, const char *labels)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->v[i].labels, labels) == 0) return &w->v[i];
    return NULL;
}

static void world_push(struct am_manager *m, struct world *w)
{
    struct am_alert a[64];
    struct label_pair ann = {"summary", "something is wrong"};
    for (size_t i = 0; i < w->n; i++)
        a[i] = (struct am_alert){.labels = w->v[i].labels,
                                 .annotations = &ann,
                                 .nannotations = 1,
                                 .starts_at = w->v[i].starts,
                                 .ends_at = w->v[i].ends};
    manager_push(m, a, w->n);
}

static void world_free(struct world *w)
{
    for (size_t i = 0; i < w->n; i++) free(w->v[i].labels);
    w->n = 0;
}

static void post_silence(struct am_manager *m, const char *matchers, double until)
{
    char start[AM_TIME_LEN], end[AM_TIME_LEN];
    am_time_format(vnow, start);
    am_time_format(T0 + until, end);
    char *body = xasprintf("{\"matchers\":%s,\"startsAt\":\"%s\",\"endsAt\":\"%s\","
                           "\"createdBy\":\"test\",\"comment\":\"timeline\"}",
                           matchers, start, end);
    struct manager_api_request req = {
        .method = "POST", .authorization = "Bearer s3cret", .body = body, .body_len = strlen(body)};
    struct http_reply rep = {.status = 200};
    buf_init(&rep.body, CAP_HTTP_REPLY);
    manager_silences_api(m, &req, &rep);
    if (rep.status != 200) diag("silence refused: %u %s", rep.status, rep.body.data);
    buf_free(&rep.body);
    free(body);
}

static int line_order(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    double tx = strtod(x + 2, NULL), ty = strtod(y + 2, NULL);
    if (tx != ty) return tx < ty ? -1 : 1;
    return strcmp(x, y);
}

/* The log with the lines of one time sorted (groups due together flush in any order). */
static char *sorted_log(void)
{
    char *copy = xstrdup(nlog.data ? nlog.data : "");
    char *lines[512];
    size_t n = 0;
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l && n < 512;
         l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    qsort(lines, n, sizeof(*lines), line_order);
    struct buf out;
    buf_init(&out, CAP_HTTP_REPLY);
    for (size_t i = 0; i < n; i++) buf_printf(&out, "%s\n", lines[i]);
    buf_putc(&out, '\0');
    free(copy);
    return buf_steal(&out, NULL);
}

/* Runs evs on a manager made from config until `until` (relative seconds); returns the log. */
static char *run(const char *config, const struct ev *evs, double until, struct tm_env *keep)
{
    struct tm_env e = {.dir = tmp_dir()};
    buf_reset(&nlog);
    vnow = T0;
    if (!start(&e, config)) return xstrdup("(no manager)");
    struct world w = {0};
    double next_push = T0;
    size_t i = 0;
    for (int guard = 0; guard < 200000; guard++) {
        double t = evs[i].kind == STOP ? INFINITY : T0 + evs[i].t;
        double due = e.m ? manager_next_due(e.m) : INFINITY;
        double next = fmin(t, fmin(next_push, due));
        if (next > T0 + until) break;
        vnow = next;
        bool changed = false;
        while (evs[i].kind != STOP && T0 + evs[i].t <= vnow) {
            const struct ev *ev = &evs[i++];
            struct world_alert *a = ev->arg ? world_find(&w, ev->arg) : NULL;
            changed = true;
            if (ev->kind == FIRE) {
                if (!a) {
                    a = &w.v[w.n++];
                    a->labels = xstrdup(ev->arg);
                }
                a->starts = vnow;
                a->ends = 0;
            } else if (ev->kind == RESOLVE && a) {
                a->ends = vnow;
            } else if (ev->kind == RESOLVED_NEW && !a) {
                a = &w.v[w.n++];
                *a = (struct world_alert){xstrdup(ev->arg), vnow - 10, vnow};
            } else if (ev->kind == GONE && a) {
                free(a->labels);
                *a = w.v[--w.n];
            } else if (ev->kind == SILENCE) {
                post_silence(e.m, ev->arg, ev->until);
            } else if (ev->kind == RESTART) {
                manager_save(e.m); /* a clean stop, as the daemon's */
                manager_free(e.m);
                vnow += ev->until; /* down for a while */
                next_push = vnow;
                start(&e, config);
            } else if (ev->kind == APPLY) {
                char err[1024];
                struct am_plan *p = plan_from(e.dir, ev->arg, e.m, err, sizeof(err));
                if (p)
                    manager_apply(e.m, p);
                else
                    diag("reload refused: %s", err);
            }
        }
        if (vnow >= next_push || changed) {
            world_push(e.m, &w);
            if (vnow >= next_push) next_push = vnow + 5;
        }
        if (manager_next_due(e.m) <= vnow) manager_tick(e.m);
    }
    world_free(&w);
    if (keep) {
        *keep = e;
    } else {
        manager_free(e.m);
        remove_dir(e.dir);
    }
    return sorted_log();
}

static void timeline(const char *name, const char *config, const struct ev *evs, double until,
                     const char *want)
{
    char *got = run(config, evs, until, NULL);
    is_str(got, want, "%s", name);
    free(got);
}

#define RECEIVERS                                                                                 \
    "  api_token_file = \"token\",\n"                                                             \
    "  receivers = {\n"                                                                           \
    "    { name = \"team\", webhook = { url = \"http://127.0.0.1:1/\" } },\n"                     \
    "    { name = \"quiet\", send_resolved = false, webhook = { url = \"http://127.0.0.1:1/\" } " \
    "},\n"                                                                                        \
    "    { name = \"pager\", webhook = { url = \"http://127.0.0.1:1/\" } },\n"                    \
    "    { name = \"db\", webhook = { url = \"http://127.0.0.1:1/\" } },\n"                       \
    "    { name = \"dbprod\", webhook = { url = \"http://127.0.0.1:1/\" } },\n"                   \
    "    { name = \"two\", max_alerts = 2, webhook = { url = \"http://127.0.0.1:1/\" } },\n"      \
    "  },\n"

#define A(id) "alertname=\"A\",id=\"" id "\""
#define B(id) "alertname=\"B\",id=\"" id "\""
#define END_EV       \
    {                \
        .kind = STOP \
    }

/* ---- timelines ---- */

static void test_grouping(void)
{
    const char *cfg =
        RECEIVERS "  route = { receiver = \"team\", group_by = { \"alertname\" } },\n";
    const struct ev evs[] = {{0, FIRE, A("1"), 0},    {10, FIRE, A("2"), 0},
                             {100, FIRE, A("3"), 0},  {100, FIRE, B("1"), 0},
                             {1000, FIRE, A("4"), 0}, END_EV};
    timeline("group_wait collects the first alerts, group_interval batches the next", cfg, evs,
             1500,
             "t=30 team firing A:1,A:2\n"
             "t=130 team firing B:1\n"
             "t=330 team firing A:1,A:2,A:3\n"
             "t=1230 team firing A:1,A:2,A:3,A:4\n");

    const char *all = RECEIVERS "  route = { receiver = \"team\", group_by = { \"...\" } },\n";
    const struct ev evs2[] = {{0, FIRE, A("1"), 0}, {10, FIRE, A("2"), 0}, END_EV};
    timeline("group_by { \"...\" }: one group per alert", all, evs2, 100,
             "t=30 team firing A:1\n"
             "t=40 team firing A:2\n");

    const char *none = RECEIVERS "  route = { receiver = \"team\", group_wait = \"10s\" },\n";
    const struct ev evs3[] = {{0, FIRE, A("1"), 0}, {5, FIRE, B("1"), 0}, END_EV};
    timeline("no group_by: every alert of the route in one group", none, evs3, 100,
             "t=10 team firing A:1,B:1\n");
}

static void test_repeat(void)
{
    const char *cfg = RECEIVERS "  route = { receiver = \"team\", group_by = { \"alertname\" }, "
                                "repeat_interval = \"1h\" },\n";
    const struct ev evs[] = {{0, FIRE, A("1"), 0}, END_EV};
    /* Flushes at 30 + 300k; a repeat needs the last notification older than 1h: strictly. */
    timeline("repeat_interval: an unchanged group is sent again at the first flush after it", cfg,
             evs, 8000,
             "t=30 team firing A:1\n"
             "t=3930 team firing A:1\n"
             "t=7830 team firing A:1\n");
}

static void test_resolve(void)
{
    const char *cfg =
        RECEIVERS "  route = { receiver = \"team\", group_by = { \"alertname\" } },\n";
    const struct ev evs[] = {{0, FIRE, A("1"), 0},
                             {0, FIRE, A("2"), 0},
                             {100, RESOLVE, A("2"), 0},
                             {400, RESOLVE, A("1"), 0},
                             END_EV};
    timeline("send_resolved: a resolved alert is notified with the firing ones, then all resolved",
             cfg, evs, 2000,
             "t=30 team firing A:1,A:2\n"
             "t=330 team firing A:1,A:2/r\n"
             "t=630 team resolved A:1/r\n");

    const char *quiet =
        RECEIVERS "  route = { receiver = \"quiet\", group_by = { \"alertname\" } },\n";
    const struct ev evs2[] = {{0, FIRE, A("1"), 0},      {0, FIRE, A("2"), 0},
                              {100, RESOLVE, A("2"), 0}, {400, RESOLVE, A("1"), 0},
                              {700, FIRE, A("1"), 0},    END_EV};
    timeline("send_resolved = false: nothing on resolve, and a new firing is sent again", quiet,
             evs2, 2000,
             "t=30 quiet firing A:1,A:2\n"
             "t=930 quiet firing A:1\n");

    const char *timeout =
        RECEIVERS "  resolve_timeout = \"60s\",\n"
                  "  route = { receiver = \"team\", group_by = { \"alertname\" } },\n";
    const struct ev evs3[] = {{0, FIRE, A("1"), 0}, {100, GONE, A("1"), 0}, END_EV};
    timeline("an alert no longer reported resolves after resolve_timeout", timeout, evs3, 1000,
             "t=30 team firing A:1\n"
             "t=330 team resolved A:1/r\n");
}

static void test_routing(void)
{
    const char *cfg = RECEIVERS
        "  route = {\n"
        "    receiver = \"team\", group_by = { \"alertname\" },\n"
        "    routes = {\n"
        "      { matchers = { severity = \"critical\" }, receiver = \"pager\", continue = true },\n"
        "      { matchers = { team = \"db\" }, receiver = \"db\", group_wait = \"10s\",\n"
        "        routes = { { matchers = { env = \"=~prod|staging\" }, receiver = \"dbprod\" } } "
        "},\n"
        "      { matchers = { team = \"!=web\", severity = \"!~crit.*\" }, receiver = \"quiet\" "
        "},\n"
        "    },\n"
        "  },\n";
    const struct ev evs[] = {{0, FIRE, "alertname=\"X\",severity=\"critical\",team=\"db\"", 0},
                             {0, FIRE, "alertname=\"Y\",severity=\"warning\",team=\"web\"", 0},
                             {0, FIRE, "alertname=\"Z\",env=\"prod\",team=\"db\"", 0},
                             {0, FIRE, "alertname=\"W\",severity=\"info\",team=\"ops\"", 0},
                             END_EV};
    /* X: pager (continue) and db; Y: nothing matches, the root; Z: db's child (inherits db's
     * group_wait 10s); W: the third route. */
    timeline("routes: nested, continue, =, !=, =~, !~ and inherited group_wait", cfg, evs, 100,
             "t=10 db firing X\n"
             "t=10 dbprod firing Z\n"
             "t=30 pager firing X\n"
             "t=30 quiet firing W\n"
             "t=30 team firing Y\n");

    const char *dup =
        RECEIVERS "  route = { receiver = \"team\", group_by = { \"alertname\" } },\n";
    const struct ev evs2[] = {
        {0, FIRE, A("1"), 0}, {1, FIRE, A("1"), 0}, {2, RESOLVED_NEW, A("9"), 0}, END_EV};
    timeline("dedupe: one alert per fingerprint; an unknown resolved alert is ignored", dup, evs2,
             400, "t=30 team firing A:1\n");
}

static void test_silences(void)
{
    const char *cfg =
        RECEIVERS "  route = { receiver = \"team\", group_by = { \"alertname\" } },\n";
    const struct ev evs[] = {
        {0, FIRE, A("1"), 0},
        {0, FIRE, A("2"), 0},
        {5, SILENCE, "[{\"name\":\"id\",\"value\":\"2\"}]", 500},
        {700, SILENCE, "[{\"name\":\"alertname\",\"value\":\".+\",\"isRegex\":true}]", 2000},
        {800, FIRE, B("1"), 0},
        END_EV};
    timeline("a silence mutes what it matches until it expires", cfg, evs, 3000,
             "t=30 team firing A:1\n"
             "t=630 team firing A:1,A:2\n"
             "t=2030 team firing B:1\n");
}

static void test_inhibition(void)
{
    const char *cfg = RECEIVERS
        "  route = { receiver = \"team\", group_by = { \"alertname\", \"site\" } },\n"
        "  inhibit_rules = {\n"
        "    { source_matchers = { alertname = \"GoldDRInMaintenance\" },\n"
        "      target_matchers = { site = \"golddr\" } },\n"
        "    { source_matchers = { severity = \"critical\" }, target_matchers = { severity = "
        "\"warning\" },\n"
        "      equal = { \"instance\" } },\n"
        "  },\n";
    const struct ev evs[] = {{0, FIRE, "alertname=\"GoldDRInMaintenance\",site=\"golddr\"", 0},
                             {0, FIRE, "alertname=\"ReplicationLag\",site=\"golddr\"", 0},
                             {0, FIRE, "alertname=\"KongDown\",site=\"gold\"", 0},
                             {200, RESOLVE, "alertname=\"GoldDRInMaintenance\",site=\"golddr\"", 0},
                             END_EV};
    timeline("GoldDR alerts are inhibited while golddr-maintenance fires", cfg, evs, 500,
             "t=30 team firing GoldDRInMaintenance\n"
             "t=30 team firing KongDown\n"
             "t=330 team firing ReplicationLag\n"
             "t=330 team resolved GoldDRInMaintenance/r\n");

    const struct ev evs2[] = {
        {0, FIRE, "alertname=\"Crit\",instance=\"x\",severity=\"critical\"", 0},
        {0, FIRE, "alertname=\"Warn\",id=\"x\",instance=\"x\",severity=\"warning\"", 0},
        {0, FIRE, "alertname=\"Warn\",id=\"y\",instance=\"y\",severity=\"warning\"", 0},
        END_EV};
    timeline("inhibition needs the equal labels to match", cfg, evs2, 100,
             "t=30 team firing Crit\n"
             "t=30 team firing Warn:y\n");
}

static void test_restart(void)
{
    const char *cfg =
        RECEIVERS "  route = { receiver = \"team\", group_by = { \"alertname\" } },\n";
    const struct ev evs[] = {
        {0, FIRE, A("1"), 0},      {10, SILENCE, "[{\"name\":\"id\",\"value\":\"2\"}]", 5000},
        {100, RESTART, NULL, 100}, /* down from 100 to 200 */
        {300, FIRE, A("2"), 0},    /* silenced by the silence made before the restart */
        {250, RESOLVE, A("1"), 0}, END_EV};
    /* Events must be in time order: swap the last two. */
    struct ev sorted[6];
    memcpy(sorted, evs, sizeof(evs));
    sorted[3] = evs[4];
    sorted[4] = evs[3];
    /* After the restart (at 200: down for 100 s) the group is made again and flushes at once
     * (its alert is older than group_wait): the notification log says it was sent, so nothing
     * is. A:1 resolves at 250 and is notified at the group's next flush; A:2 stays silenced. */
    timeline("a restart restores alerts, the notification log and silences", cfg, sorted, 1500,
             "t=30 team firing A:1\n"
             "t=500 team resolved A:1/r\n");

    const char *other =
        RECEIVERS "  route = { receiver = \"pager\", group_by = { \"alertname\" } },\n";
    const struct ev evs2[] = {{0, FIRE, A("1"), 0}, {100, APPLY, other, 0}, END_EV};
    timeline("a reload to another receiver notifies it at once", cfg, evs2, 200,
             "t=30 team firing A:1\n"
             "t=100 pager firing A:1\n");
    const struct ev evs3[] = {{0, FIRE, A("1"), 0}, {100, APPLY, cfg, 0}, END_EV};
    timeline("a reload with the same routes sends nothing twice", cfg, evs3, 400,
             "t=30 team firing A:1\n");
}

static void test_render(void)
{
    const char *cfg = RECEIVERS "  route = { receiver = \"two\" },\n";
    const struct ev evs[] = {
        {0, FIRE, A("1"), 0}, {0, FIRE, A("2"), 0}, {0, FIRE, A("3"), 0}, END_EV};
    timeline("max_alerts: the rest is counted as truncated", cfg, evs, 100,
             "t=30 two firing A:1,A:2 +1\n");

    fail_render_for = "team";
    const char *team = RECEIVERS "  route = { receiver = \"team\" },\n";
    const struct ev evs2[] = {{0, FIRE, A("1"), 0}, END_EV};
    struct tm_env e;
    char *got = run(team, evs2, 100, &e);
    fail_render_for = NULL;
    ok(last_body.data && str_has_prefix(last_body.data, "[firing] 1 alert(s) for team") &&
           strcmp(last_ctype, "text/plain; charset=utf-8") == 0,
       "a template that fails: a plain-text fallback is sent instead");
    struct metric_set *ms = manager_metrics(e.m);
    struct snapshot *s = snapshot_new(&ms, 1, 1);
    const char *text;
    size_t len;
    must(snapshot_render(s, EXPO_TEXT, false, &text, &len));
    ok(strstr(text, "drwatch_notification_render_failures_total 1") != NULL,
       "and counted in drwatch_notification_render_failures_total");
    ok(strstr(text, "drwatch_notifications_total{receiver=\"team\",result=\"ok\"} 1") &&
           strstr(text, "drwatch_alerts{state=\"active\"} 1") &&
           strstr(text, "drwatch_outbox_entries 0") && strstr(text, "drwatch_alert_groups 1"),
       "manager metrics: notifications, alerts, outbox, groups");
    snapshot_unref(s);
    mset_unref(ms);
    manager_free(e.m);
    remove_dir(e.dir);
    free(got);
}

/* ---- the silences API ---- */

static unsigned api(struct am_manager *m, const char *method, const char *auth, const char *id,
                    const char *body, struct buf *out)
{
    struct manager_api_request req = {.method = method,
                                      .authorization = auth,
                                      .id = id,
                                      .body = body ? body : "",
                                      .body_len = body ? strlen(body) : 0};
    struct http_reply rep = {.status = 200};
    buf_init(&rep.body, CAP_HTTP_REPLY);
    manager_silences_api(m, &req, &rep);
    buf_reset(out);
    buf_puts(out, rep.body.data ? rep.body.data : "");
    buf_free(&rep.body);
    return rep.status;
}

static void test_api(void)
{
    struct tm_env e = {.dir = tmp_dir()};
    vnow = T0;
    start(&e, RECEIVERS "  route = { receiver = \"team\" },\n");
    struct buf out;
    buf_init(&out, CAP_HTTP_REPLY);
    const char *good = "{\"matchers\":[{\"name\":\"alertname\",\"value\":\"A\"}],"
                       "\"startsAt\":\"2023-11-14T22:13:20Z\",\"endsAt\":\"2023-11-14T23:13:20Z\","
                       "\"createdBy\":\"ops\",\"comment\":\"maintenance\"}";
    is_int(api(e.m, "POST", NULL, NULL, good, &out), 401, "POST without a token: 401");
    is_int(api(e.m, "POST", "Bearer nope", NULL, good, &out), 401, "POST with a wrong token: 401");
    is_int(api(e.m, "POST", "Bearer s3cre", NULL, good, &out), 401, "a prefix of the token: 401");
    is_int(api(e.m, "POST", "Bearer s3cret", NULL, good, &out), 200, "POST with the token: 200");
    char id[64] = "";
    sscanf(out.data ? out.data : "", "{\"silenceID\":\"%36[0-9a-f-]\"}", id);
    is_int(strlen(id), 36, "the answer has the new silence's id (a UUID)");
    struct {
        const char *body, *want;
    } bad[] = {
        {"{", "not JSON"},
        {"{\"matchers\":[],\"startsAt\":\"2023-11-14T22:13:20Z\",\"endsAt\":\"2023-11-14T23:13:"
         "20Z\","
         "\"createdBy\":\"a\",\"comment\":\"b\"}",
         "matchers: expected a non-empty list"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\".*\",\"isRegex\":true}],\"startsAt\":"
         "\"2023-11-14T22:13:20Z\",\"endsAt\":\"2023-11-14T23:13:20Z\",\"createdBy\":\"a\","
         "\"comment\":\"b\"}",
         "at least one matcher must not match the empty string"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"(\",\"isRegex\":true}],\"startsAt\":"
         "\"2023-11-14T22:13:20Z\",\"endsAt\":\"2023-11-14T23:13:20Z\",\"createdBy\":\"a\","
         "\"comment\":\"b\"}",
         "bad regex"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"x\"}],\"startsAt\":\"2023-11-14T22:13:20Z\","
         "\"endsAt\":\"2023-11-14T20:00:00Z\",\"createdBy\":\"a\",\"comment\":\"b\"}",
         "endsAt is before startsAt"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"x\"}],\"startsAt\":\"2020-01-01T00:00:00Z\","
         "\"endsAt\":\"2020-01-02T00:00:00Z\",\"createdBy\":\"a\",\"comment\":\"b\"}",
         "endsAt is in the past"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"x\"}],\"startsAt\":\"yesterday\","
         "\"endsAt\":\"2023-11-14T23:13:20Z\",\"createdBy\":\"a\",\"comment\":\"b\"}",
         "startsAt: expected an RFC 3339 time"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"x\"}],\"startsAt\":\"2023-11-14T22:13:20Z\","
         "\"endsAt\":\"2023-11-14T23:13:20Z\",\"comment\":\"b\"}",
         "createdBy: required"},
        {"{\"matchers\":[{\"name\":\"1a\",\"value\":\"x\"}],\"startsAt\":\"2023-11-14T22:13:20Z\","
         "\"endsAt\":\"2023-11-14T23:13:20Z\",\"createdBy\":\"a\",\"comment\":\"b\"}",
         "invalid label name"},
        /* Regression: glibc's regcomp took gigabytes on stacked quantifiers (found by
         * fuzz_silences). */
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"go+++++l.*\",\"isRegex\":true}],"
         "\"startsAt\":\"2023-11-14T22:13:20Z\",\"endsAt\":\"2023-11-14T23:13:20Z\","
         "\"createdBy\":\"a\",\"comment\":\"b\"}",
         "invalid nested repetition operator"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"((x{100}){100}){100}\",\"isRegex\":true}],"
         "\"startsAt\":\"2023-11-14T22:13:20Z\",\"endsAt\":\"2023-11-14T23:13:20Z\","
         "\"createdBy\":\"a\",\"comment\":\"b\"}",
         "too large once repetitions are expanded"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        unsigned st = api(e.m, "POST", "Bearer s3cret", NULL, bad[i].body, &out);
        ok(st == 400 && out.data && strstr(out.data, bad[i].want),
           "a bad silence is refused with 400: %s", bad[i].want);
        if (st != 400 || !out.data || !strstr(out.data, bad[i].want))
            diag("got %u: %s", st, out.data ? out.data : "");
    }
    is_int(api(e.m, "GET", NULL, NULL, NULL, &out), 200, "GET needs no token");
    ok(out.data && strstr(out.data, id) && strstr(out.data, "\"state\":\"active\"") &&
           strstr(out.data, "\"createdBy\":\"ops\""),
       "GET lists the silence, active, with its fields");
    is_int(api(e.m, "DELETE", NULL, id, NULL, &out), 401, "DELETE without a token: 401");
    is_int(api(e.m, "DELETE", "Bearer s3cret", "no-such-id", NULL, &out), 404,
           "DELETE of an unknown id: 404");
    is_int(api(e.m, "DELETE", "Bearer s3cret", NULL, NULL, &out), 400, "DELETE without an id: 400");
    is_int(api(e.m, "DELETE", "bearer s3cret", id, NULL, &out), 200, "DELETE with ?id=: 200");
    api(e.m, "GET", NULL, NULL, NULL, &out);
    ok(out.data && strstr(out.data, "\"state\":\"expired\""), "the silence is expired now");
    char *body = xasprintf("{\"id\":\"%s\"}", id);
    is_int(api(e.m, "DELETE", "Bearer s3cret", NULL, body, &out), 200,
           "DELETE with the id in the body: 200 (already expired)");
    free(body);
    /* Updating: a pending silence is changed in place. */
    const char *later = "{\"matchers\":[{\"name\":\"alertname\",\"value\":\"B\"}],"
                        "\"startsAt\":\"2023-11-15T00:00:00Z\",\"endsAt\":\"2023-11-15T01:00:00Z\","
                        "\"createdBy\":\"ops\",\"comment\":\"later\"}";
    api(e.m, "POST", "Bearer s3cret", NULL, later, &out);
    char id2[64] = "";
    sscanf(out.data ? out.data : "", "{\"silenceID\":\"%36[0-9a-f-]\"}", id2);
    char *upd =
        xasprintf("{\"id\":\"%s\",\"matchers\":[{\"name\":\"alertname\",\"value\":\"C\"}],"
                  "\"startsAt\":\"2023-11-15T00:00:00Z\",\"endsAt\":\"2023-11-15T02:00:00Z\","
                  "\"createdBy\":\"ops\",\"comment\":\"changed\"}",
                  id2);
    api(e.m, "POST", "Bearer s3cret", NULL, upd, &out);
    ok(out.data && strstr(out.data, id2), "a pending silence is updated in place (same id)");
    free(upd);
    api(e.m, "GET", NULL, NULL, NULL, &out);
    ok(out.data && strstr(out.data, "\"comment\":\"changed\"") && strstr(out.data, "\"pending\""),
       "with its new content, still pending");
    manager_save(e.m);
    manager_free(e.m);
    /* Silences survive a restart. */
    start(&e, RECEIVERS "  route = { receiver = \"team\" },\n");
    api(e.m, "GET", NULL, NULL, NULL, &out);
    ok(out.data && strstr(out.data, id) && strstr(out.data, id2), "silences survive a restart");
    manager_free(e.m);
    /* Without api_token_file every change is refused. */
    start(&e, "  receivers = { { name = \"team\", webhook = { url = \"http://x/\" } } },\n"
              "  route = { receiver = \"team\" },\n");
    ok(api(e.m, "POST", "Bearer s3cret", NULL, good, &out) == 401 && out.data &&
           strstr(out.data, "no api_token_file"),
       "without api_token_file changes are refused, and the answer says why");
    manager_free(e.m);
    buf_free(&out);
    remove_dir(e.dir);
}

/* ---- config refusals ---- */

static void test_config(void)
{
    char *dir = tmp_dir();
    const char *rcv = "  receivers = { { name = \"a\", webhook = { url = \"http://x/\" } } },\n";
    struct {
        const char *body, *want;
    } cases[] = {
        {"  receivers = { { name = \"a\", webhook = { url = \"http://x/\" } } },\n"
         "  route = { receiver = \"a\",\n"
         "    routes = { { receiver = \"nope\" } } },\n",
         "drwatch.lua:5: alerting.route.routes[1].receiver: no receiver is named \"nope\""},
        {"  route = { receiver = \"b\" },\n",
         "drwatch.lua:4: alerting.route.receiver: no receiver is named \"b\""},
        {"  receivers = { { name = \"a\", webhook = { url = \"http://x/\" } } },\n"
         "  route = { group_by = { \"site\" } },\n",
         "alerting.route.receiver: missing, and required at the root route"},
        {"  receivers = { { name = \"a\", webhook = { url = \"http://x/\" } } },\n"
         "  route = { receiver = \"a\", routes = {\n"
         "    { matchers = { site = \"=~(gold\" } } } },\n",
         "drwatch.lua:5: alerting.route.routes[1].matchers.site: bad regex \"(gold\""},
        {"  receivers = { { name = \"a\", webhook = { url = \"http://x/\" } } },\n"
         "  route = { receiver = \"a\",\n"
         "    group_by = { \"site\", \"...\" } },\n",
         "drwatch.lua:5: alerting.route.group_by[2]: \"...\" (every label) must be the only "
         "entry of group_by"},
        {"  receivers = { { name = \"a\", webhook = { url = \"http://x/\" } } },\n"
         "  route = { receiver = \"a\", group_by = { \"site\", \"site\" } },\n",
         "alerting.route.group_by[2]: label site is listed twice"},
        {"  receivers = { { name = \"a\", webhook = { url = \"http://x/\" } } },\n"
         "  route = { receiver = \"a\", matchers = { site = \"gold\" } },\n",
         "drwatch.lua:4: alerting.route.matchers: the root route matches every alert"},
        {"  receivers = { { name = \"a\" } },\n  route = { receiver = \"a\" },\n",
         "drwatch.lua:3: alerting.receivers[1]: a receiver needs exactly one notifier type"},
        {"  receivers = { { name = \"a\", webhook = { url = \"http://x/\" },\n"
         "    msteams = { webhook_url_file = \"/nonexistent\" } } },\n"
         "  route = { receiver = \"a\" },\n",
         "a receiver needs exactly one notifier type"},
        {"  receivers = { { name = \"a\", webhook = { url = \"http://x/\" } },\n"
         "                { name = \"a\", webhook = { url = \"http://y/\" } } },\n"
         "  route = { receiver = \"a\" },\n",
         "drwatch.lua:4: alerting.receivers[2].name: receiver \"a\" is defined twice"},
        {"  receivers = { { name = \"a\", webhook = { } } },\n  route = { receiver = \"a\" },\n",
         "drwatch.lua:3: alerting.receivers[1].webhook: give one of url and url_file"},
        {"  receivers = { { name = \"a\", webhook = { url = \"ftp://x/\" } } },\n"
         "  route = { receiver = \"a\" },\n",
         "alerting.receivers[1].webhook: url: \"ftp://x/\" is not an http(s) URL"},
        {"  receivers = { { name = \"a\", webhook = { url_file = \"/nonexistent/url\" } } },\n"
         "  route = { receiver = \"a\" },\n",
         "url_file /nonexistent/url: cannot read"},
        {"  receivers = { { name = \"a\", webhook = { uri = \"http://x/\" } } },\n"
         "  route = { receiver = \"a\" },\n",
         "drwatch.lua:3: alerting.receivers[1].webhook.uri: unknown key"},
        {"  api_token_file = \"missing-token\",\n", "alerting.api_token_file: "},
        {"  inhibit_rules = { { source_matchers = { a = \"x\" }, target_matchers = { },\n"
         "    equal = { \"b\" } } },\n",
         "alerting.inhibit_rules[1].target_matchers: needs at least one matcher"},
        {"  inhibit_rules = { { source_matchers = { a = \"x\" }, target_matchers = { b = \"y\" "
         "},\n    equal = { \"not-a-label\" } } },\n",
         "alerting.inhibit_rules[1].equal[1]: \"not-a-label\" is not a label name"},
        {"  route = { receiver = \"a\", group_interval = \"0s\" },\n",
         "alerting.route.group_interval: \"0s\" is out of range"},
        /* Alertmanager drops a firing alert 5m (resolve_timeout) after it last got it; the
         * default repeat_interval (4h) would let forwarded alerts resolve while firing. */
        {"  receivers = { { name = \"a\", webhook = { url = \"http://x/\" } },\n"
         "    { name = \"am\", alertmanager = { urls = { \"http://am:9093\" } } } },\n"
         "  route = { receiver = \"a\", routes = {\n"
         "    { receiver = \"am\", matchers = { severity = \"critical\" } } } },\n",
         "drwatch.lua:6: alerting.route.routes[1]: receiver \"am\" drops a firing alert 300s after "
         "it last got one (Alertmanager's resolve_timeout, or firing_valid_for), but this route "
         "resends only every 14400s (group_interval 300s, repeat_interval 14400s): give it a "
         "route of its own with both at most 150s, or raise firing_valid_for"},
        {"  receivers = { { name = \"am\", alertmanager = { urls = { \"http://am:9093\" },\n"
         "    firing_valid_for = \"10m\" } } },\n"
         "  route = { receiver = \"am\", repeat_interval = \"6m\" },\n",
         "alerting.route: receiver \"am\" drops a firing alert 600s after it last got one"},
        {"  retry_min = \"10s\", retry_max = \"1s\",\n",
         "alerting.retry_max: is shorter than retry_min"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char err[1024] = "";
        bool has_route = strstr(cases[i].body, "route =") != NULL;
        bool has_rcv = strstr(cases[i].body, "receivers =") != NULL;
        char *body = xasprintf("%s%s%s", has_rcv ? "" : rcv, cases[i].body,
                               has_route ? "" : "  route = { receiver = \"a\" },\n");
        struct am_plan *p = plan_from(dir, body, NULL, err, sizeof(err));
        char *want = xasprintf("%s/%s", dir, cases[i].want);
        bool good = !p && (strstr(err, cases[i].want) != NULL);
        ok(good, "refused: %s", cases[i].want);
        if (!good) diag("got: %s", p ? "(accepted)" : err);
        free(want);
        free(body);
        manager_plan_free(p);
    }
    /* A routing tree that contains itself. */
    char *path = xasprintf("%s/drwatch.lua", dir);
    write_file(path, "local r = { receiver = \"a\" }\nr.routes = { r }\n"
                     "alerting = { data_dir = \"/tmp\", route = r,\n"
                     "  receivers = { { name = \"a\", webhook = { url = \"http://x/\" } } } }\n");
    const struct cfg_module *mods[] = {manager_config_module()};
    char err[1024] = "";
    struct config *c = config_load(path, mods, 1, err, sizeof(err));
    ok(!c && strstr(err, "nested too deeply"), "a routing tree that contains itself is refused");
    config_free(c);
    free(path);
    /* A good config with every key. */
    const char *full =
        "  external_url = \"https://drwatch.example/\", grafana_url = \"https://grafana/\",\n"
        "  api_token_file = \"token\", templates_dir = \"tmpl\", resolve_timeout = \"2m\",\n"
        "  outbox_max_entries = 50, outbox_max_bytes = 2097152, retry_min = \"2s\", retry_max = "
        "\"1m\",\n"
        "  receivers = { { name = \"a\", send_resolved = false, max_alerts = 5, timeout = \"3s\",\n"
        "    webhook = { url = \"http://x/\" } } },\n"
        "  route = { receiver = \"a\", group_by = { \"alertname\" }, group_wait = \"1s\",\n"
        "    group_interval = \"2s\", repeat_interval = \"3s\",\n"
        "    routes = { { matchers = { a = \"b\" }, group_wait = 0 } } },\n"
        "  inhibit_rules = { { source_matchers = { a = \"x\" }, target_matchers = { b = \"y\" }, "
        "equal = { \"c\" } } },\n";
    struct am_plan *p = plan_from(dir, full, NULL, err, sizeof(err));
    ok(p != NULL, "a config with every key loads");
    if (!p) diag("%s", err);
    if (p) {
        char *tdir = xasprintf("%s/tmpl", dir);
        ok(strcmp(p->external_url, "https://drwatch.example") == 0 &&
               strcmp(p->templates_dir, tdir) == 0 && p->resolve_timeout == 120 &&
               p->outbox_max_entries == 50 && p->retry_min == 2 && p->retry_max == 60 &&
               strcmp(p->token, "s3cret") == 0,
           "top-level values (external_url without its trailing /, paths resolved)");
        ok(p->receivers[0].send_resolved == false && p->receivers[0].max_alerts == 5 &&
               p->receivers[0].timeout_ms == 3000,
           "receiver values");
        const struct am_route *r = p->root, *k = r->kids[0];
        ok(r->group_wait == 1 && r->group_interval == 2 && r->repeat_interval == 3 &&
               k->group_wait == 0 && k->group_interval == 2 && k->ngroup_by == 1 &&
               strcmp(k->key, "{}/{a=\"b\"}") == 0,
           "a child route inherits what it does not set (group_wait 0 is set, not inherited)");
        free(tdir);
    }
    /* Defaults: Alertmanager's. */
    manager_plan_free(p);
    p = plan_from(dir,
                  "  receivers = { { name = \"a\", webhook = { url = \"http://x/\" } } },\n"
                  "  route = { receiver = \"a\" },\n",
                  NULL, err, sizeof(err));
    ok(p && p->root->group_wait == 30 && p->root->group_interval == 300 &&
           p->root->repeat_interval == 14400 && p->resolve_timeout == 300 &&
           p->receivers[0].send_resolved && p->receivers[0].timeout_ms == 10000 && !p->token,
       "defaults: group_wait 30s, group_interval 5m, repeat_interval 4h, resolve_timeout 5m");
    /* A reload may not move data_dir. */
    struct manager_env env = {.config_dir = dir};
    struct am_manager *m = p ? manager_new(p, &env, err, sizeof(err)) : NULL;
    struct am_plan *p2 = NULL;
    if (m) {
        char *path2 = xasprintf("%s/drwatch.lua", dir);
        write_file(path2, "alerting = { data_dir = \"/tmp/elsewhere\",\n"
                          "  receivers = { { name = \"a\", webhook = { url = \"http://x/\" } } },\n"
                          "  route = { receiver = \"a\" } }\n");
        struct config *c2 = config_load(path2, mods, 1, err, sizeof(err));
        int rc = c2 ? manager_prepare(c2, &env, m, &p2, err, sizeof(err)) : -1;
        ok(rc < 0 && strstr(err, "drwatch.lua:1: alerting.data_dir: cannot change on reload"),
           "a reload that moves data_dir is refused");
        if (rc == 0) diag("accepted");
        config_free(c2);
        free(path2);
    }
    manager_plan_free(p2);
    manager_free(m);
    remove_dir(dir);
}

int main(void)
{
    must(log_set_level_name("error"));
    buf_init(&nlog, CAP_HTTP_REPLY);
    buf_init(&last_body, CAP_NOTIFY_PAYLOAD);
    test_grouping();
    test_repeat();
    test_resolve();
    test_routing();
    test_silences();
    test_inhibition();
    test_restart();
    test_render();
    test_api();
    test_config();
    buf_free(&nlog);
    buf_free(&last_body);
    return done_testing();
}
