/* main.c: wires the modules together (and is the only file that does).
 *
 * The daemon: flags, the config, the loop with its scheduler and HTTP client, the HTTP
 * server, the rules runner (its own thread), signals (SIGHUP reloads, SIGTERM and SIGINT
 * stop), and where the parts meet on the loop: publishing a snapshot (to HTTP), an
 * evaluation's result (alerts to the alert manager and /api/v1/alerts, its transition request
 * to the switchover part), /-/reload (from HTTP). */
#include <ares.h>
#include <curl/curl.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "clock.h"
#include "collector_env.h"
#include "collectors.h"
#include "config.h"
#include "federate.h"
#include "http_auth.h"
#include "http_client.h"
#include "http_server.h"
#include "http_target.h"
#include "keep.h"
#include "leader.h"
#include "lifecycle.h"
#include "log.h"
#include "loop.h"
#include "manager.h"
#include "numtext.h"
#include "peer.h"
#include "peer_msg.h"
#include "peer_server.h"
#include "peer_view.h"
#include "plan_cli.h"
#include "rbac_cli.h"
#include "registry.h"
#include "rules.h"
#include "rules_api.h"
#include "rules_runner.h"
#include "scheduler.h"
#include "stats.h"
#include "switchover.h"
#include "switchover_api.h"
#include "switchover_page.h"
#include "status_page.h"
#include "status_targets.h"
#include "testrules.h"
#include "web_auth.h"
#include "xalloc.h"

/* The `drwatch` section: what this instance is and its default intervals. */
struct global_config {
    int site;
    int64_t interval_ms;
    int64_t fast_interval_ms;
};

static const struct cfg_key global_keys[] = {
    {.name = "site",
     .type = CFG_ENUM,
     .offset = offsetof(struct global_config, site),
     .choices = drwatch_sites,
     .required = true,
     .expect = "the site this drwatch runs in"},
    {.name = "interval",
     .type = CFG_DURATION,
     .def = "15s",
     .offset = offsetof(struct global_config, interval_ms),
     .expect = "default collection interval, 1s to 1h",
     .min = 1000,
     .max = 3600000},
    {.name = "fast_interval",
     .type = CFG_DURATION,
     .def = "5s",
     .offset = offsetof(struct global_config, fast_interval_ms),
     .expect = "interval for GSLB, Patroni and peer, 1s to 1h",
     .min = 1000,
     .max = 3600000},
    CFG_END,
};

static const struct cfg_module global_module = {"drwatch", global_keys,
                                                sizeof(struct global_config), true};

struct daemon {
    const char *config_path;
    char *config_dir; /* where relative paths of the alerting section resolve, or NULL */
    const char *listen;
    const char *peer_listen; /* --web.peer-listen-address, or NULL */
    struct http_limits http_limits;
    bool enable_lifecycle;            /* --web.enable-lifecycle: serve /-/reload */
    const char *token_file;           /* --web.token-file, or NULL */
    struct http_token *web_token;     /* its token: /-/reload and the API's other changes */
    struct http_token *silence_token; /* the alerting section's api_token_file */
    const char *web_config_path;      /* --web.config.file, or NULL */
    struct web_auth *web;             /* its config in force */
    struct loop_timer *web_timer;     /* looks for a changed file */
    struct peer_server *peer;
    struct peer_server_stats peer_stats;
    struct peer_msg_handler peer_messages; /* the peer's messages, to the switchover part */
    struct peerview *peerview;             /* what this site serves its peer */
    struct keep *keep;                     /* what collectors remember across reloads */
    struct loop *loop;
    struct httpc *httpc;
    struct sched *sched;
    struct http_server *http;
    struct config *cfg;
    struct collector_env env;
    struct drwatch_stats stats;
    struct loop_watch *sigwatch;
    int sigfd;
    struct lifecycle *lifecycle; /* /-/healthy, /-/ready, /-/reload */
    struct status_page_info status_page;
    uint64_t generation;
    struct rules_runner *rules;    /* owns the engine; without a rules section it has none */
    struct rules_api *rules_api;   /* /api/v1/alerts */
    struct am_manager *alerting;   /* NULL without an alerting section */
    struct switchover *switchover; /* NULL without a switchover section, or on a follower */
    struct leader *leader;         /* whether this replica acts (leader.h) */
    bool stopping;                 /* SIGTERM: releasing the Lease before the loop stops */
    bool switchover_stale;         /* the config changed while a plan ran: remake it when idle */
    struct complaint unheard;      /* the rules ask for a transition, no switchover section */
    struct complaint refused;      /* the switchover part refuses the rules' request */
};

/* ---- config ---- */

static size_t config_modules(const struct cfg_module **mods)
{
    size_t n = 0;
    mods[n++] = &global_module;
    mods[n++] = &rules_module;
    mods[n++] = manager_config_module();
    mods[n++] = &switchover_module;
    mods[n++] = &leader_module;
    for (size_t i = 0; i < collector_table_len; i++) mods[n++] = &collector_table[i]->module;
    return n;
}

static struct config *load_config(const char *path, char *err, size_t errlen)
{
    const struct cfg_module *mods[64];
    size_t n = config_modules(mods);
    return config_load(path, mods, n, err, errlen);
}

static void env_from_config(struct collector_env *env, const struct config *cfg)
{
    const struct global_config *g = config_module(cfg, "drwatch", NULL);
    env->site = drwatch_sites[g->site];
    env->default_interval_ms = g->interval_ms;
    env->fast_interval_ms = g->fast_interval_ms;
}

/* Phase one of applying cfg to the peer listener (peer_server.h). */
static int peer_prepare(struct daemon *d, const struct config *cfg, struct peer_server_plan **plan,
                        char *err, size_t errlen)
{
    bool present;
    const void *section = config_module(cfg, PEER_LISTEN_SECTION, &present);
    return peer_server_prepare(d->peer, present ? section : NULL, d->peer_listen, plan, err,
                               errlen);
}

static void peer_commit(struct daemon *d, struct peer_server_plan *plan)
{
    struct peer_server_env env = {.loop = d->loop,
                                  .site = d->env.site,
                                  .stats = &d->peer_stats,
                                  .view = d->peerview,
                                  .messages = &d->peer_messages};
    peer_server_commit(&d->peer, &env, plan);
}

/* A message from the peer (the listener read it): the switchover part answers it, or, without
 * a switchover section, a "no" that says so. */
static void on_peer_message(void *arg, const struct peer_msg *m, const char *identity,
                            struct peer_answer *a)
{
    struct daemon *d = arg;
    if (d->switchover) {
        switchover_peer_message(d->switchover, m, identity, a);
        return;
    }
    a->yes = false;
    a->elsewhere = !leader_is_leader(d->leader);
    if (a->elsewhere)
        snprintf(a->reason, sizeof(a->reason),
                 "this %s replica is not its site's leader: ask again (the leader answers)",
                 d->env.site);
    else
        snprintf(a->reason, sizeof(a->reason),
                 "%s has no switchover section: it takes part in no transition", d->env.site);
    log_warn("peer_listen", "%s message %s (seq %llu) from %s: no (%s)",
             peer_msg_kind_name(m->kind), m->id, (unsigned long long)m->seq, identity, a->reason);
}

/* ---- rules ---- */

/* Loads the rule files of cfg's rules section (relative to the config file): an engine, or
 * NULL when there is no section. Returns -1 with err filled when a rule file is refused. */
static int rules_prepare(struct daemon *d, const struct config *cfg, struct rules_engine **out,
                         char *err, size_t errlen)
{
    bool present;
    const struct rules_config *rc = config_module(cfg, "rules", &present);
    *out = NULL;
    if (!present) return 0;
    const char *slash = strrchr(d->config_path, '/');
    char *dir = slash ? xstrndup(d->config_path, (size_t)(slash - d->config_path)) : NULL;
    *out = rules_new(rc, dir, err, errlen);
    free(dir);
    return *out ? 0 : -1;
}

/* Makes e the engine (the runner carries alert states and history over from the old one). */
static void rules_commit(struct daemon *d, struct rules_engine *e)
{
    int64_t every = e ? rules_evaluation_interval_ms(e) : 0;
    rules_runner_set_engine(d->rules, e, every ? every : d->env.fast_interval_ms);
}

/* ---- alerting ---- */

static struct manager_env alerting_env(const struct daemon *d)
{
    const struct http_server *s = d->http;
    return (struct manager_env){.loop = d->loop,
                                .http = d->httpc,
                                .config_dir = d->config_dir,
                                .listen_port = s ? http_server_port(s) : 0};
}

/* Phase one of applying cfg's alerting section: a plan, and when no manager runs yet, the
 * manager made from it (its data_dir opened and replayed). */
static int alerting_prepare(struct daemon *d, const struct config *cfg, struct am_plan **plan,
                            struct am_manager **fresh, char *err, size_t errlen)
{
    struct manager_env env = alerting_env(d);
    *fresh = NULL;
    if (manager_prepare(cfg, &env, d->alerting, plan, err, errlen) < 0) return -1;
    /* A follower makes no manager: opening the data_dir replays and rewrites the outbox. */
    if (!*plan || d->alerting || !leader_is_leader(d->leader)) return 0;
    *fresh = manager_new(*plan, &env, err, errlen);
    *plan = NULL;
    return *fresh ? 0 : -1;
}

static void alerting_commit(struct daemon *d, struct am_plan *plan, struct am_manager *fresh)
{
    if (fresh) {
        d->alerting = fresh;
    } else if (plan && d->alerting) {
        manager_apply(d->alerting, plan);
    } else if (plan) {
        manager_plan_free(plan); /* a follower: the leader delivers */
    } else if (d->alerting) {
        log_info("alerting", "no alerting section any more: alert delivery stops (the outbox "
                             "stays in its data_dir)");
        manager_save(d->alerting);
        manager_free(d->alerting);
        d->alerting = NULL;
    }
}

/* ---- switchover ---- */

/* The peer's drwatch as cfg's `peer` section names it (for the peer protocol), or NULL. */
static const struct http_target *peer_target(const struct config *cfg, const char *site)
{
    bool present;
    const void *section = config_module(cfg, "peer", &present);
    return present ? peer_config_target(section, site) : NULL;
}

static struct switchover_env switchover_env_of(const struct daemon *d, const struct config *cfg,
                                               const char *site)
{
    return (struct switchover_env){.loop = d->loop,
                                   .http = d->httpc,
                                   .site = site,
                                   .config_dir = d->config_dir,
                                   .peer = peer_target(cfg, site)};
}

/* Phase one: the new section, checked (plans and actuator settings) without opening anything. */
static int switchover_prepare(struct daemon *d, const struct config *cfg,
                              const struct collector_env *env, char *err, size_t errlen)
{
    bool present;
    const struct switchover_config *c = config_module(cfg, "switchover", &present);
    if (!present) return 0;
    struct switchover_env se = switchover_env_of(d, cfg, env->site);
    return switchover_check(c, &se, err, errlen);
}

/* Makes the part anew from d->cfg, unless a plan runs: then it goes on with the settings it
 * started with, and is made anew once idle (switchover_refresh). */
static int switchover_commit(struct daemon *d)
{
    if (!leader_is_leader(d->leader)) { /* a follower acts on nothing; the leader resumes */
        if (d->stopping)                /* a clean stop: the Lease is still held */
            switchover_free(d->switchover);
        else
            switchover_drop(d->switchover);
        d->switchover = NULL;
        d->switchover_stale = false;
        return 0;
    }
    if (d->switchover && switchover_busy(d->switchover)) {
        d->switchover_stale = true;
        log_info("switchover", "a plan is running: the new settings apply when it has ended");
        return 0;
    }
    switchover_free(d->switchover);
    d->switchover = NULL;
    d->switchover_stale = false;
    bool present;
    const struct switchover_config *c = config_module(d->cfg, "switchover", &present);
    if (!present) return 0;
    char err[1024];
    struct switchover_env se = switchover_env_of(d, d->cfg, d->env.site);
    d->switchover = switchover_new(c, &se, err, sizeof(err));
    if (d->switchover) return 0;
    log_error("switchover", "%s", err);
    return -1;
}

/* On every published snapshot: the switchover part reads the world, fences, weighs evidence. */
static void switchover_refresh(struct daemon *d, const struct snapshot *snap)
{
    if (d->switchover_stale && !(d->switchover && switchover_busy(d->switchover)))
        (void)switchover_commit(d); /* a failure is logged; the part stays off until fixed */
    /* What it shows of the new world is in the next snapshot: make that one now. */
    if (d->switchover && switchover_observe(d->switchover, snap)) sched_request_publish(d->sched);
}

struct alert_batch {
    struct am_alert *v;
    size_t n, cap;
};

/* Firing and resolved alert instances as the alert manager takes them; pending ones are not
 * alerts yet. The strings are borrowed from the rules engine until the push. */
static void collect_alert(void *arg, const struct rules_alert_view *a)
{
    struct alert_batch *b = arg;
    if (a->state == ALERT_PENDING || (a->state == ALERT_INACTIVE && a->fired_at <= 0)) return;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 32;
        b->v = xrealloc(b->v, b->cap * sizeof(*b->v));
    }
    struct label_pair *ann = xcalloc(a->nann + 1, sizeof(*ann));
    for (size_t i = 0; i < a->nann; i++)
        ann[i] = (struct label_pair){a->ann_names[i], a->ann_values[i]};
    b->v[b->n++] = (struct am_alert){.labels = (char *)a->labels,
                                     .annotations = ann,
                                     .nannotations = a->nann,
                                     .value = a->value,
                                     .starts_at = a->fired_at > 0 ? a->fired_at : a->active_at,
                                     .ends_at = a->state == ALERT_INACTIVE ? a->resolved_at : 0};
}

static void feed_alerting(struct daemon *d, struct rules_engine *e)
{
    struct alert_batch b = {0};
    rules_each_instance(e, collect_alert, &b);
    manager_push(d->alerting, b.v, b.n);
    for (size_t i = 0; i < b.n; i++) free(b.v[i].annotations);
    free(b.v);
}

/* A rule's request as text: its name and reason, then its evidence. Whole for the log; in the
 * 255 bytes of sw_request.reason for the switchover journal, a cut marked, never silent. */
static void transition_reason(const struct rules_transition *t, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "rule %s: %s%s%s%s", t->rule, t->reason,
                     t->evidence[0] ? " (evidence: " : "", t->evidence, t->evidence[0] ? ")" : "");
    if (n >= (int)outlen && outlen > 4) memcpy(out + outlen - 4, "...", 4);
}

/* An evaluation's transition request goes to the switchover part, as automation: it judges it
 * (the transition table, switchover.automation, its own evidence) and logs, counts and journals
 * a refusal. The rule's side of a refusal (its reason and evidence) is logged here, once while
 * the rules keep asking in vain: they ask again at every evaluation. */
static void feed_switchover(struct daemon *d, struct rules_engine *e)
{
    struct rules_transition t;
    if (!leader_is_leader(d->leader)) return; /* the leader's rules ask */
    bool asks = rules_transition_request(e, &t);
    if (!asks || d->switchover)
        log_complain_clear(&d->unheard, "rules", "the rules' transition request is heard again");
    if (!asks || !d->switchover)
        log_complain_clear(&d->refused, "rules", "the rules' transition request is not refused");
    if (!asks) return;
    if (!d->switchover) {
        log_complain(&d->unheard, LOG_WARN, "rules",
                     "rule %s (%s) asks for %s, but there is no switchover section: ignored",
                     t.rule, t.file, t.to);
        return;
    }
    struct sw_request r = {.source = SW_SOURCE_AUTOMATION};
    snprintf(r.to, sizeof(r.to), "%s", t.to);
    transition_reason(&t, r.reason, sizeof(r.reason));
    char whole[2 * CAP_TRANSITION_TEXT + 128];
    transition_reason(&t, whole, sizeof(whole));
    struct sw_reply reply = {.plan = BUF_INIT(CAP_HTTP_REPLY)};
    if (switchover_request(d->switchover, &r, &reply) < 0) {
        log_complain(&d->refused, LOG_WARN, "rules", "%s, asking for %s: refused: %s", whole, t.to,
                     reply.reason);
    } else {
        log_complain_clear(&d->refused, "rules", "the rules' transition request is not refused");
        if (reply.run_id[0])
            log_info("rules", "%s: started %s (run %s)", whole, t.to, reply.run_id);
    }
    buf_free(&reply.plan);
}

/* What the rules evaluate: the last snapshot, once every target has been collected once. */
static struct snapshot *rules_snapshot(void *arg)
{
    struct daemon *d = arg;
    return lifecycle_is_ready(d->lifecycle) ? http_current_snapshot(d->http) : NULL;
}

/* An evaluation's result, on the loop (e is idle): alerts to the alert manager, the alerts
 * document to /api/v1/alerts, the transition request to the switchover part, the metrics into
 * the next snapshot. */
static void on_rules_result(void *arg, struct rules_engine *e)
{
    struct daemon *d = arg;
    if (e && d->alerting) feed_alerting(d, e);
    if (e) feed_switchover(d, e);
    rules_api_publish(d->rules_api, e ? rules_alerts_json(e) : NULL);
    sched_request_publish(d->sched);
}

/* ---- the web config (--web.config.file) ---- */

#define WEB_CONFIG_CHECK_MS 1000 /* how often the file's stat is looked at */

/* The web config's TLS settings or files changed: checked first, then handed to the listener
 * (new connections get them; open ones keep theirs). Bad ones keep the listener as it is,
 * logged and counted as a failed reload; they are tried again when the files change. */
static void web_tls_reload(struct daemon *d)
{
    char err[1024];
    struct web_config *c = web_auth_get(d->web);
    if (web_tls_check(c, err, sizeof(err)) < 0 ||
        http_server_set_tls(d->http, c, err, sizeof(err)) < 0) {
        atomic_store(&d->stats.web_config_last_reload_ok, 0);
        atomic_fetch_add(&d->stats.web_config_reload_failures, 1);
        log_error("web", "%s: keeping the listener's TLS settings: %s", web_auth_path(d->web), err);
    } else {
        web_auth_tls_applied(d->web, c);
        log_info("web", "%s: the listener serves the new TLS settings to new connections",
                 web_auth_path(d->web));
    }
    web_config_unref(c);
}

/* Re-reads the web config when it changed (or when force is set); a bad one is logged and
 * counted, and the one in force stays. Loop thread. */
static void web_config_reload(struct daemon *d, bool force)
{
    char err[1024];
    bool tls_changed;
    int rc = web_auth_reload(d->web, force, &tls_changed, err, sizeof(err));
    if (rc == 0) return;
    atomic_store(&d->stats.web_config_last_reload_ok, rc > 0);
    if (rc < 0) {
        atomic_fetch_add(&d->stats.web_config_reload_failures, 1);
        log_error("web", "keeping the previous web config: %s", err);
        return;
    }
    log_info("web", "loaded %s", web_auth_path(d->web));
    if (tls_changed) web_tls_reload(d);
}

static void on_web_timer(void *arg)
{
    struct daemon *d = arg;
    web_config_reload(d, false);
    loop_timer_start(d->web_timer, WEB_CONFIG_CHECK_MS);
}

/* Loads --web.config.file and checks its TLS settings. Returns 0, or -1 with err filled. */
static int web_config_start(struct daemon *d, char *err, size_t errlen)
{
    atomic_store(&d->stats.web_config_last_reload_ok, 1);
    if (!d->web_config_path) return 0;
    d->web = web_auth_new(d->web_config_path);
    bool tls_changed;
    if (web_auth_reload(d->web, true, &tls_changed, err, errlen) < 0) return -1;
    struct web_config *c = web_auth_get(d->web);
    int rc = web_tls_check(c, err, errlen);
    web_config_unref(c);
    if (rc < 0) return -1;
    http_server_set_web(d->http, d->web);
    d->web_timer = loop_timer_new(d->loop, on_web_timer, d);
    loop_timer_start(d->web_timer, WEB_CONFIG_CHECK_MS);
    return 0;
}

/* Loads the config file and applies it as a whole, or keeps the old one. Loop thread. */
static int daemon_reload(struct daemon *d, char *err, size_t errlen)
{
    struct config *cfg = load_config(d->config_path, err, errlen);
    struct peer_server_plan *plan = NULL;
    struct rules_engine *rules = NULL;
    struct am_plan *alerting = NULL;
    struct am_manager *fresh_alerting = NULL;
    int rc = -1;
    if (d->web) web_config_reload(d, true); /* on its own: its failure is its own */
    if (cfg && d->token_file && http_token_load(d->web_token, d->token_file, err, errlen) < 0) {
        config_free(cfg);
        cfg = NULL;
    }
    if (cfg && (peer_prepare(d, cfg, &plan, err, errlen) < 0 ||
                rules_prepare(d, cfg, &rules, err, errlen) < 0 ||
                alerting_prepare(d, cfg, &alerting, &fresh_alerting, err, errlen) < 0)) {
        peer_server_plan_free(plan);
        rules_free(rules);
        config_free(cfg);
        cfg = NULL;
    }
    if (cfg) {
        struct collector_env env = d->env;
        env_from_config(&env, cfg);
        struct target_list targets = {0};
        rc = switchover_prepare(d, cfg, &env, err, errlen);
        if (rc == 0)
            rc = collector_targets_make(collector_table, collector_table_len, cfg, &env, &targets,
                                        err, errlen);
        if (rc == 0) {
            sched_apply(d->sched, &targets);
            config_free(d->cfg);
            d->cfg = cfg;
            d->env = env;
            peer_commit(d, plan);
            rules_commit(d, rules);
            alerting_commit(d, alerting, fresh_alerting);
            http_token_set(d->silence_token, manager_api_token(d->alerting));
            (void)switchover_commit(d);
        } else {
            config_free(cfg);
            peer_server_plan_free(plan);
            rules_free(rules);
            manager_plan_free(alerting);
            manager_free(fresh_alerting);
        }
    }
    atomic_store(&d->stats.last_reload_ok, rc == 0);
    if (rc == 0) {
        atomic_fetch_add(&d->stats.reloads_ok, 1);
        atomic_store(&d->stats.last_reload_success, time_wall_s());
        log_info("config", "loaded %s: %zu targets", d->config_path, sched_job_count(d->sched));
    } else {
        atomic_fetch_add(&d->stats.reloads_failed, 1);
        log_error("config", "keeping the previous configuration: %s", err);
    }
    return rc;
}

static int daemon_reload_cb(void *arg, char *err, size_t errlen)
{
    return daemon_reload(arg, err, errlen);
}

/* ---- publishing (loop thread) ---- */

static void on_publish(void *arg, struct metric_set *const *sets, size_t n)
{
    struct daemon *d = arg;
    double t0 = time_mono_s();
    /* Families that did not change keep their rendering from the previous snapshot; then
     * pre-render what scrapers asked for, so that they never wait. */
    struct snapshot *prev = http_current_snapshot(d->http);
    struct metric_set **all = xmalloc((n + 5) * sizeof(*all));
    memcpy(all, sets, n * sizeof(*all));
    rules_runner_metrics(d->rules, &all[n], &all[n + 1]);
    all[n + 2] = d->alerting ? manager_metrics(d->alerting) : NULL;
    all[n + 3] = d->switchover ? switchover_metrics(d->switchover) : NULL;
    all[n + 4] = leader_metrics(d->leader);
    struct snapshot *snap = snapshot_new_reusing(all, n + 5, ++d->generation, prev);
    for (size_t i = n; i < n + 5; i++) mset_unref(all[i]);
    free(all);
    for (int f = 0; prev && f < 2; f++) {
        for (int g = 0; g < 2; g++) {
            const struct iovec *iov;
            size_t niov, total;
            if (snapshot_variant_used(prev, (enum expo_format)f, g))
                snapshot_render_iov(snap, (enum expo_format)f, g, &iov, &niov, &total);
        }
    }
    snapshot_unref(prev);
    http_publish(d->http, snap);
    atomic_fetch_add(&d->stats.snapshots_published, 1);
    atomic_store(&d->stats.snapshot_series, snapshot_series(snap));
    atomic_fetch_add(&d->stats.snapshot_conflicts_total, snapshot_conflicts(snap));
    atomic_store(&d->stats.last_publish_seconds, time_mono_s() - t0);
    if (!lifecycle_is_ready(d->lifecycle) && sched_all_ran(d->sched)) {
        lifecycle_set_ready(d->lifecycle);
        log_info("main", "ready: every target has been collected once");
    }
    /* Not before every target ran once: an empty world at start is not an outage. */
    if (lifecycle_is_ready(d->lifecycle)) switchover_refresh(d, snap);
    snapshot_unref(snap);
}

/* The Lease is released (or could not be): the loop may end. */
static void on_released(void *arg)
{
    struct daemon *d = arg;
    loop_stop(d->loop);
}

static void on_signal(void *arg, int fd, unsigned events)
{
    (void)events;
    struct daemon *d = arg;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            char err[1024];
            log_info("main", "SIGHUP: reloading %s", d->config_path);
            daemon_reload(d, err, sizeof(err));
        } else if (!d->stopping && leader_is_leader(d->leader) && leader_enabled(d->leader)) {
            log_info("main", "%s: releasing the Lease, then shutting down",
                     strsignal((int)si.ssi_signo));
            d->stopping = true;
            leader_stop(d->leader, on_released, d);
        } else {
            log_info("main", "%s: shutting down", strsignal((int)si.ssi_signo));
            d->stopping = true;
            loop_stop(d->loop);
        }
    }
}

/* ---- start and stop ---- */

static int setup_signals(struct daemon *d)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* Blocked before any thread starts, so every thread inherits the mask. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (d->sigfd < 0) return -1;
    d->sigwatch = loop_watch_add(d->loop, d->sigfd, LOOP_READ, on_signal, d);
    return d->sigwatch ? 0 : -1;
}

/* The config, the loop, the clients the collectors share, and the collectors' environment. */
static int start_base(struct daemon *d, char *err, size_t errlen)
{
    d->stats.start_time = time_wall_s();
    const char *slash = strrchr(d->config_path, '/');
    d->config_dir = slash ? xstrndup(d->config_path, (size_t)(slash - d->config_path)) : NULL;
    d->cfg = load_config(d->config_path, err, errlen);
    if (!d->cfg) {
        log_error("config", "%s", err);
        return -1;
    }
    d->loop = loop_new();
    if (!d->loop || setup_signals(d) < 0) return -1;
    d->httpc = httpc_new(d->loop);
    d->keep = keep_new();
    d->peerview = peerview_new();
    d->peer_messages = (struct peer_msg_handler){.answer = on_peer_message, .arg = d};
    d->env = (struct collector_env){.loop = d->loop,
                                    .http = d->httpc,
                                    .stats = &d->stats,
                                    .keep = d->keep,
                                    .peerview = d->peerview,
                                    .peer_stats = &d->peer_stats};
    env_from_config(&d->env, d->cfg);
    return 0;
}

/* The HTTP server (not listening yet) with every part's routes. */
static int start_http(struct daemon *d, char *err, size_t errlen)
{
    if (http_limits_fit_process(&d->http_limits, err, errlen) < 0) {
        log_error("http", "%s", err);
        return -1;
    }
    if (err[0]) log_warn("http", "%s", err);
    d->web_token = http_token_new("--web.token-file");
    d->silence_token = http_token_new("alerting.api_token_file");
    if (d->token_file && http_token_load(d->web_token, d->token_file, err, errlen) < 0) {
        log_error("http", "%s", err);
        return -1;
    }
    d->http = http_server_new(d->listen, &d->http_limits, &d->stats, d->loop, err, errlen);
    if (!d->http) {
        log_error("http", "%s", err);
        return -1;
    }
    if (web_config_start(d, err, errlen) < 0) {
        log_error("web", "%s", err);
        return -1;
    }
    d->lifecycle = lifecycle_new(d->loop, daemon_reload_cb, d);
    lifecycle_add_routes(d->lifecycle, d->http, d->enable_lifecycle, d->web_token);
    d->status_page = (struct status_page_info){.config_path = d->config_path, .site = &d->env.site};
    status_page_add_section(&d->status_page,
                            &(struct status_section){.title = "Switchover",
                                                     .render = switchover_page_html,
                                                     .arg = &d->switchover});
    status_page_add_section(&d->status_page, &(struct status_section){.title = "Leader election",
                                                                      .render = leader_page_html,
                                                                      .arg = &d->leader});
    d->rules_api = rules_api_new();
    status_page_add_section(&d->status_page, &(struct status_section){.title = "Alerts",
                                                                      .render = rules_api_page_html,
                                                                      .arg = d->rules_api});
    status_page_add_section(&d->status_page, &(struct status_section){.title = "Targets",
                                                                      .render = status_targets_html,
                                                                      .arg = d->http});
    status_page_add_route(d->http, &d->status_page);
    federate_add_route(d->http);
    rules_api_add_route(d->rules_api, d->http);
    manager_api_add_route(&d->alerting, d->silence_token, d->http);
    switchover_api_add_routes(&d->switchover, d->web_token, d->http);
    return 0;
}

/* The rules engine (its saved alert state restored) on its own thread. */
static int start_rules(struct daemon *d, char *err, size_t errlen)
{
    struct rules_engine *rules;
    if (rules_prepare(d, d->cfg, &rules, err, errlen) < 0) {
        log_error("rules", "%s", err);
        return -1;
    }
    struct rules_runner_env renv = {
        .loop = d->loop, .snapshot = rules_snapshot, .result = on_rules_result, .arg = d};
    d->rules = rules_runner_new(&renv, err, errlen);
    if (!d->rules) {
        log_error("rules", "%s", err);
        rules_free(rules);
        return -1;
    }
    if (rules && rules_load_state(rules, time_wall_s(), err, errlen) < 0)
        log_warn("rules", "alert state not restored: %s", err);
    rules_commit(d, rules);
    return 0;
}

/* This replica starts or stops acting (leader.h). Starting is a restart's recovery: the alert
 * manager replays the outbox, the switchover part resumes the run its journal holds. Stopping
 * is a crash's: the parts go without writing anything more (the Lease may be another's by
 * now), except on a clean stop, which saves the alert state while the Lease is still held. */
static void on_leader_change(void *arg, bool leading)
{
    struct daemon *d = arg;
    char err[1024];
    if (leading) {
        struct am_plan *plan;
        struct am_manager *fresh;
        if (alerting_prepare(d, d->cfg, &plan, &fresh, err, sizeof(err)) < 0) {
            log_error("alerting", "%s", err);
        } else {
            alerting_commit(d, plan, fresh);
            http_token_set(d->silence_token, manager_api_token(d->alerting));
        }
    } else {
        if (d->stopping) manager_save(d->alerting);
        manager_free(d->alerting);
        d->alerting = NULL;
    }
    (void)switchover_commit(d);
    if (d->sched) sched_request_publish(d->sched);
}

/* The elector, from the config at start (a reload does not move it): a follower makes no
 * acting part until it leads. */
static int start_leader(struct daemon *d, char *err, size_t errlen)
{
    const struct leader_config *c = config_module(d->cfg, "leader_election", NULL);
    struct leader_env env = {.loop = d->loop,
                             .http = d->httpc,
                             .site = d->env.site,
                             .on_change = on_leader_change,
                             .arg = d};
    d->leader = leader_new(c, &env, err, errlen);
    if (!d->leader) log_error("leader", "%s", err);
    return d->leader ? 0 : -1;
}

/* The parts as the config makes them: collectors, the peer listener, rules, alerting and
 * switchover, in the order a reload applies them. */
static int start_parts(struct daemon *d, char *err, size_t errlen)
{
    if (start_leader(d, err, errlen) < 0) return -1;
    d->sched = sched_new(d->loop, on_publish, d);
    struct target_list targets;
    if (collector_targets_make(collector_table, collector_table_len, d->cfg, &d->env, &targets, err,
                               errlen) < 0) {
        log_error("config", "%s", err);
        return -1;
    }
    sched_apply(d->sched, &targets);
    struct peer_server_plan *plan;
    if (peer_prepare(d, d->cfg, &plan, err, errlen) < 0) {
        log_error("peer_listen", "%s", err);
        return -1;
    }
    peer_commit(d, plan);
    if (start_rules(d, err, errlen) < 0) return -1;
    struct am_plan *alerting;
    struct am_manager *fresh_alerting;
    if (alerting_prepare(d, d->cfg, &alerting, &fresh_alerting, err, errlen) < 0) {
        log_error("alerting", "%s", err);
        return -1;
    }
    alerting_commit(d, alerting, fresh_alerting);
    http_token_set(d->silence_token, manager_api_token(d->alerting));
    return switchover_commit(d);
}

static int daemon_start(struct daemon *d)
{
    char err[1024] = "";
    if (start_base(d, err, sizeof(err)) < 0 || start_http(d, err, sizeof(err)) < 0 ||
        start_parts(d, err, sizeof(err)) < 0)
        return -1;
    atomic_store(&d->stats.last_reload_ok, 1);
    atomic_store(&d->stats.last_reload_success, time_wall_s());
    if (http_server_start(d->http, err, sizeof(err)) < 0) {
        log_error("http", "%s: %s", d->listen, err);
        return -1;
    }
    log_info("main", "drwatch %s (%s) for site %s listening on %s (port %u) with %zu targets",
             DRWATCH_VERSION, DRWATCH_REVISION, d->env.site, d->listen, http_server_port(d->http),
             sched_job_count(d->sched));
    return 0;
}

static void daemon_stop(struct daemon *d)
{
    http_server_free(d->http);   /* first: no HTTP thread may reach the loop any more */
    rules_runner_free(d->rules); /* stops a running evaluation rather than waiting it out */
    peer_server_free(d->peer);
    sched_free(d->sched);
    manager_save(d->alerting);
    manager_free(d->alerting);      /* before httpc: it cancels the notifiers' requests */
    switchover_free(d->switchover); /* before httpc: it cancels the actuators' requests */
    leader_free(d->leader);         /* before httpc: it cancels its request */
    httpc_free(d->httpc);
    rules_api_free(d->rules_api);
    lifecycle_free(d->lifecycle);
    loop_watch_del(d->sigwatch);
    loop_timer_free(d->web_timer);
    if (d->sigfd > 0) close(d->sigfd);
    loop_free(d->loop);
    http_token_free(d->web_token); /* after http_server_free: its routes borrow them */
    http_token_free(d->silence_token);
    web_auth_free(d->web); /* after http_server_free, which borrows it */
    keep_free(d->keep);    /* after sched_free: the targets hold its memories */
    peerview_free(d->peerview);
    config_free(d->cfg);
    free(d->config_dir);
}

/* ---- check-config ---- */

/* --web.config.file, for check-config: 0 or 1 after saying what is wrong. */
static int check_web_config(const char *path)
{
    char err[1024];
    struct web_config *c = NULL;
    if (web_config_load(path, &c, err, sizeof(err)) < 0 || web_tls_check(c, err, sizeof(err)) < 0) {
        web_config_unref(c);
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("%s: ok, %s, %zu basic auth users\n", path, c->tls ? "TLS" : "no TLS", c->nusers);
    web_config_unref(c);
    return 0;
}

static int check_config(const char *path, const char *web_path)
{
    char err[1024];
    if (web_path && check_web_config(web_path) != 0) return 1;
    struct config *cfg = load_config(path, err, sizeof(err));
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    /* Collectors may refuse what the schema allows (e.g. two targets with one name). */
    struct loop *l = loop_new();
    struct keep *keep = keep_new();
    struct peerview *view = peerview_new();
    struct peer_server_stats peer_stats = {0};
    struct collector_env env = {
        .loop = l, .keep = keep, .peerview = view, .peer_stats = &peer_stats};
    env_from_config(&env, cfg);
    int rc = 0;
    struct target_list tl;
    if (collector_targets_make(collector_table, collector_table_len, cfg, &env, &tl, err,
                               sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        rc = 1;
    }
    size_t targets = tl.n;
    collector_targets_free(&tl);
    bool rules_present;
    const struct rules_config *rc_rules = config_module(cfg, "rules", &rules_present);
    size_t nrules = 0;
    if (rc == 0 && rules_present) {
        const char *slash = strrchr(path, '/');
        char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : NULL;
        struct rules_engine *e = rules_new(rc_rules, dir, err, sizeof(err));
        free(dir);
        if (!e) {
            fprintf(stderr, "%s\n", err);
            rc = 1;
        }
        nrules = e ? rules_count(e) : 0;
        rules_free(e);
    }
    if (rc == 0) { /* the alerting section: routes, receivers, their notifiers */
        const char *slash = strrchr(path, '/');
        char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : NULL;
        struct httpc *hc = httpc_new(l);
        struct manager_env me = {.loop = l, .http = hc, .config_dir = dir};
        struct am_plan *ap = NULL;
        if (manager_prepare(cfg, &me, NULL, &ap, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            rc = 1;
        }
        manager_plan_free(ap);
        bool sw_present;
        const struct switchover_config *sc = config_module(cfg, "switchover", &sw_present);
        struct switchover_env se = {.loop = l, .http = hc, .site = env.site, .config_dir = dir};
        if (rc == 0 && sw_present && switchover_check(sc, &se, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            rc = 1;
        }
        httpc_free(hc);
        free(dir);
    }
    if (rc == 0 &&
        leader_check(config_module(cfg, "leader_election", NULL), env.site, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        rc = 1;
    }
    if (rc == 0)
        printf("%s: ok, site %s, %zu targets, %zu alert rules\n", path, env.site, targets, nrules);
    loop_free(l);
    keep_free(keep);
    peerview_free(view);
    config_free(cfg);
    return rc;
}

/* ---- flags ---- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: drwatch [flags]\n"
            "       drwatch [--web.config.file=FILE] check-config FILE\n"
            "       drwatch test-rules FILE...     (promtool test rules format; Lua rules)\n"
            "       drwatch plan --from STATE --to STATE [--site S] [--json]   (see plan --help)\n"
            "       drwatch rbac --tools NS --solution NS [--tekton NS]   (see rbac --help)\n"
            "\n"
            "flags:\n"
            "  --config.file=FILE           Lua config file (default drwatch.lua)\n"
            "  --web.listen-address=ADDR    where to serve /metrics and the API (default :8488)\n"
            "  --web.peer-listen-address=ADDR  where to serve the mTLS peer endpoint (default:\n"
            "                               peer_listen.address in the config, :8489)\n"
            "  --web.max-connections=N      HTTP connections at once (default 512; lowered to\n"
            "                               fit the open-file limit less 256 kept for collectors)\n"
            "  --web.max-connections-per-client=N  from one IPv4 address or IPv6 /64 (default\n"
            "                               64; 0: no per-client limit)\n"
            "  --web.read-timeout=DURATION  a request must arrive whole within this from when\n"
            "                               its connection is ready for it (default 10s)\n"
            "  --web.enable-lifecycle       serve POST /-/reload (SIGHUP always reloads)\n"
            "  --web.token-file=FILE        bearer token for changes through HTTP (/-/reload);\n"
            "                               re-read on every reload\n"
            "  --web.config.file=FILE       TLS, basic auth and headers for the listener, in\n"
            "                               Prometheus exporter-toolkit's format; re-read when\n"
            "                               it or its cert, key or CA file changes\n"
            "  --log.level=LEVEL            debug, info, warn or error (default info)\n"
            "  --version                    print the version and exit\n"
            "  --help                       this text\n");
}

/* --web.max-connections (m), --web.max-connections-per-client (M), --web.read-timeout (r).
 * Returns 0, or -1 after saying what was expected. */
static int web_flag(struct http_limits *l, int c, const char *v)
{
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    int64_t ms;
    if (c == 'r' && parse_duration_ms(v, &ms) == 0 && ms >= 1000 && ms <= 3600000) {
        l->read_timeout_ms = ms;
        return 0;
    }
    bool number = end != v && !*end && v[0] != '-' && n <= 1000000;
    if (c == 'm' && number && n >= HTTP_MIN_CONNECTIONS) {
        l->max_connections = (unsigned)n;
        return 0;
    }
    if (c == 'M' && number) {
        l->max_per_client = (unsigned)n;
        return 0;
    }
    fprintf(stderr, "drwatch: %s\n",
            c == 'r'   ? "--web.read-timeout must be a duration from 1s to 1h"
            : c == 'm' ? "--web.max-connections must be a number from 16 to 1000000"
                       : "--web.max-connections-per-client must be a number (0: no limit)");
    return -1;
}

int main(int argc, char **argv)
{
    struct daemon d = {.config_path = "drwatch.lua",
                       .listen = ":8488",
                       .sigfd = -1,
                       .http_limits = {.max_connections = HTTP_DEFAULT_MAX_CONNECTIONS,
                                       .max_per_client = HTTP_DEFAULT_MAX_PER_CLIENT,
                                       .read_timeout_ms = HTTP_DEFAULT_READ_TIMEOUT_MS}};
    static const struct option opts[] = {
        {"config.file", required_argument, NULL, 'c'},
        {"web.listen-address", required_argument, NULL, 'l'},
        {"web.peer-listen-address", required_argument, NULL, 'p'},
        {"web.max-connections", required_argument, NULL, 'm'},
        {"web.max-connections-per-client", required_argument, NULL, 'M'},
        {"web.read-timeout", required_argument, NULL, 'r'},
        {"web.enable-lifecycle", no_argument, NULL, 'L'},
        {"web.token-file", required_argument, NULL, 't'},
        {"web.config.file", required_argument, NULL, 'w'},
        {"log.level", required_argument, NULL, 'v'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    for (int c; (c = getopt_long(argc, argv, "+h", opts, NULL)) != -1;) {
        switch (c) {
        case 'c': d.config_path = optarg; break;
        case 'l': d.listen = optarg; break;
        case 'p': d.peer_listen = optarg; break;
        case 'm':
        case 'M':
        case 'r':
            if (web_flag(&d.http_limits, c, optarg) < 0) return 2;
            break;
        case 'L': d.enable_lifecycle = true; break;
        case 't': d.token_file = optarg; break;
        case 'w': d.web_config_path = optarg; break;
        case 'v':
            if (log_set_level_name(optarg) < 0) {
                fprintf(stderr, "drwatch: --log.level must be debug, info, warn or error\n");
                return 2;
            }
            break;
        case 'V': printf("drwatch %s (revision %s)\n", DRWATCH_VERSION, DRWATCH_REVISION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc && strcmp(argv[optind], "plan") == 0)
        return plan_main(argc - optind, argv + optind);
    if (optind < argc && strcmp(argv[optind], "rbac") == 0)
        return rbac_main(argc - optind, argv + optind);
    if (optind < argc && strcmp(argv[optind], "test-rules") == 0)
        return testrules_main(argc - optind - 1, argv + optind + 1);
    if (optind < argc && strcmp(argv[optind], "check-config") == 0) {
        if (optind + 2 != argc) {
            usage(stderr);
            return 2;
        }
        return check_config(argv[optind + 1], d.web_config_path);
    }
    if (optind < argc) {
        fprintf(stderr, "drwatch: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    /* Blocks of 1 MiB and more (rendered bodies, a textfile read whole, large arena chunks)
     * come from mmap and go back to the system when freed: RSS follows what is live instead
     * of glibc's high-water mark. A fixed threshold also stops glibc from raising it. */
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ares_library_init(ARES_LIB_INIT_ALL);
    int rc = daemon_start(&d) == 0 ? 0 : 1;
    if (rc == 0 && loop_run(d.loop) < 0) rc = 1;
    daemon_stop(&d);
    ares_library_cleanup();
    curl_global_cleanup();
    return rc;
}
