/* act_step.c: runs one plan step through the executor with the real actuators (actuators.c),
 * for the integration tests: the actuators' settings come from the command line, the plan is
 * this site's one-step plan, and the world the guards and actuators see is both sites' Patroni
 * as observed every 200 ms (GET /cluster, then the leader's own document: writable means role
 * master/primary, i.e. pg_is_in_recovery() false). A test tool, not a drwatch subcommand.
 *
 *   act_step --site gold --action patroni_demote --follow golddr --patroni URL
 *            [--user U --password-file F] [--slot S] [--restore-command C] [--stall-timeout MS]
 *            [--standby-host H --standby-port P] [--k8s URL --namespace NS]
 *            [--other URL] [--timeout 60s] [--patroni-timeout MS] [--data-dir DIR]
 *            [--no-watch]
 *
 * The lab has no GSLB: the world's one resolver ("lab") always answers as if the other site
 * were withdrawn, so the promotion guard rests on what Patroni shows of the other site
 * (its leader not writable, everything it wrote replayed here) or, without --other, on that
 * site being unobserved. --no-watch observes nothing (both sites unknown), so that every request
 * a fake sees is the actuator's. Prints, on stdout:
 *
 *   phases check act poll poll
 *   result ok|already|failed|refused|stopped
 *   detail <the run's detail, when it did not succeed>
 *
 * and the executor's log on stderr (each step's outcome with its detail). Exit 0 when the run
 * succeeded, 1 when not, 2 on bad arguments. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "act_env.h"
#include "act_patroni_look.h"
#include "actuators.h"
#include "buf.h"
#include "caps.h"
#include "clock.h"
#include "executor.h"
#include "http_client.h"
#include "loop.h"
#include "one_plan.h"
#include "plan.h"

#define WATCH_MS 200

/* ---- the world: both sites' Patroni, watched ---- */

struct watch {
    struct loop *loop;
    struct httpc *http;
    const char *base; /* NULL: not watched */
    struct pat_look look;
    struct httpc_req *req;
    struct loop_timer *tick;
    bool node_next; /* the next request is the leader's document */
    struct sw_db db;
};

static void watch_go(void *arg);

static void watch_fill(struct watch *w)
{
    const json_t *x = json_object_get(w->look.node, "xlog");
    const char *role = json_string_value(json_object_get(w->look.node, "role"));
    const char *state = json_string_value(json_object_get(w->look.node, "state"));
    json_t *pos = json_object_get(x, "location");
    if (!pos) pos = json_object_get(x, "replayed_location");
    w->db = (struct sw_db){.known = true,
                           .leader_present = w->look.leader != NULL,
                           .leader_writable =
                               role && (!strcmp(role, "master") || !strcmp(role, "primary")),
                           .healthy = state && !strcmp(state, "running"),
                           .lsn_known = json_is_integer(pos),
                           .lsn = (uint64_t)json_integer_value(pos),
                           .replay_lag_s = 0,
                           .observed_at = time_wall_s()};
}

static void watch_done(void *arg, const struct httpc_result *r)
{
    struct watch *w = arg;
    char err[300];
    w->req = NULL;
    bool node = w->node_next;
    int rc = !r->ok || r->status != 200 ? -1
             : node ? pat_read_node(&w->look, r->body, r->body_len, err, sizeof(err))
                    : pat_read_cluster(&w->look, r->body, r->body_len, err, sizeof(err));
    w->node_next = rc == 0 && !node && pat_leader_url(&w->look);
    if (rc == 0 && !w->node_next) watch_fill(w); /* a leaderless cluster is known too */
    if (w->node_next) return watch_go(w);
    pat_look_clear(&w->look);
    loop_timer_start(w->tick, WATCH_MS);
}

static void watch_go(void *arg)
{
    struct watch *w = arg;
    char *url = w->node_next ? xstrdup(pat_leader_url(&w->look)) : url_join(w->base, "/cluster");
    struct httpc_opts o = {.url = url, .timeout_ms = 2000};
    w->req = httpc_start(w->http, &o, watch_done, w);
    free(url);
    if (!w->req) loop_timer_start(w->tick, WATCH_MS);
}

struct world {
    enum sw_site self;
    struct watch site[SW_SITE_COUNT];
};

static void observe(void *arg, struct sw_world *out)
{
    struct world *wd = arg;
    memset(out, 0, sizeof(*out));
    out->now = time_wall_s();
    out->self = wd->self;
    for (int s = 0; s < SW_SITE_COUNT; s++) out->db[s] = wd->site[s].db;
    out->nanswers = 1;
    out->answers[0] = (struct sw_answer){
        "lab", wd->self == SW_GOLD ? GSLB_CLASS_GOLD : GSLB_CLASS_GOLDDR, 1000, out->now - 60};
}

/* ---- the step's phases, recorded ---- */

struct record {
    const struct actuator_ops *real;
    struct buf phases;
};
static struct record R; /* the wrapped actuator's phases: one run per process */

static void rec(const char *phase)
{
    (void)buf_printf(&R.phases, "%s%s", R.phases.len ? " " : "", phase);
}
static void w_check(struct sw_phase *ph)
{
    rec("check");
    R.real->check(ph);
}
static void w_act(struct sw_phase *ph)
{
    rec("act");
    R.real->act(ph);
}
static void w_poll(struct sw_phase *ph)
{
    rec("poll");
    R.real->poll(ph);
}
static void w_cancel(struct sw_phase *ph)
{
    rec("cancel");
    if (R.real->cancel) R.real->cancel(ph);
}

/* ---- the run ---- */

struct outcome {
    struct loop *loop;
    bool done;
    enum sw_result res;
    char detail[400];
};

static void finished(void *arg, const struct sw_run_start *run, enum sw_result r,
                     const char *detail)
{
    struct outcome *o = arg;
    (void)run;
    o->done = true;
    o->res = r;
    snprintf(o->detail, sizeof(o->detail), "%s", detail ? detail : "");
    loop_stop(o->loop);
}

/* A plan file whose `site` active-passive -> golddr-primary plan is the one step (the
 * executor runs steps; which transition it is does not matter here). */
static struct sw_plans *one_step_plan(enum sw_site site, const char *step)
{
    char err[512];
    struct sw_plans *p = one_plan_load_for(1u << site, step, "act_step", err, sizeof(err));
    if (!p) fprintf(stderr, "act_step: plan: %s\n", err);
    return p;
}

struct args {
    enum sw_site site, follow;
    const char *action, *timeout, *data_dir, *other, *k8s_ns;
    bool no_watch;
    struct act_config cfg;
    struct act_patroni patroni;
    struct act_standby standby;
    struct act_k8s k8s;
};

static int usage(void)
{
    fprintf(stderr, "usage: act_step --site S --action A --patroni URL [--follow S] [--user U "
                    "--password-file F] [--slot S] [--restore-command C] [--stall-timeout MS] "
                    "[--standby-host H --standby-port P] [--k8s URL --namespace NS] [--other URL] "
                    "[--timeout 60s] [--patroni-timeout MS] [--data-dir DIR] [--no-watch]\n");
    return 2;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {{"site", 1, 0, 's'},
                                         {"action", 1, 0, 'a'},
                                         {"follow", 1, 0, 'f'},
                                         {"patroni", 1, 0, 'p'},
                                         {"user", 1, 0, 'u'},
                                         {"password-file", 1, 0, 'w'},
                                         {"slot", 1, 0, 'l'},
                                         {"restore-command", 1, 0, 'r'},
                                         {"stall-timeout", 1, 0, 'S'},
                                         {"standby-host", 1, 0, 'H'},
                                         {"standby-port", 1, 0, 'P'},
                                         {"k8s", 1, 0, 'k'},
                                         {"namespace", 1, 0, 'n'},
                                         {"other", 1, 0, 'o'},
                                         {"timeout", 1, 0, 't'},
                                         {"data-dir", 1, 0, 'd'},
                                         {"patroni-timeout", 1, 0, 'T'},
                                         {"no-watch", 0, 0, 'N'},
                                         {0, 0, 0, 0}};
    int c, bad = 0;
    a->timeout = "60s";
    a->patroni.stall_timeout_ms = 120000;
    a->patroni.t.site = -1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': bad |= sw_site_parse(optarg, &a->site) < 0; break;
        case 'f': bad |= sw_site_parse(optarg, &a->follow) < 0; break;
        case 'a': a->action = optarg; break;
        case 'p': a->patroni.t.url = optarg; break;
        case 'u': a->patroni.username = optarg; break;
        case 'w': a->patroni.password_file = optarg; break;
        case 'l': a->patroni.primary_slot_name = optarg; break;
        case 'r': a->patroni.restore_command = optarg; break;
        case 'S': a->patroni.stall_timeout_ms = atol(optarg); break;
        case 'H': a->standby.host = optarg; break;
        case 'P': a->standby.port = atol(optarg); break;
        case 'k': a->k8s.t.http.url = optarg; break;
        case 'n': a->k8s_ns = optarg; break;
        case 'o': a->other = optarg; break;
        case 't': a->timeout = optarg; break;
        case 'T': a->patroni.t.timeout_ms = atol(optarg); break;
        case 'N': a->no_watch = true; break;
        case 'd': a->data_dir = optarg; break;
        default: bad = 1;
        }
    }
    return bad || !a->action || optind != argc ? -1 : 0;
}

/* The switchover section the flags describe. */
static void make_config(struct args *a)
{
    a->patroni.t.site = (int)a->site;
    a->patroni.t.max_body_bytes = 1 << 20;
    a->cfg.env = "dev";
    a->cfg.namespaces.solution = (char *)a->k8s_ns;
    if (a->patroni.t.url) a->cfg.patroni = &a->patroni;
    if (a->standby.host) a->cfg.standby = &a->standby;
    if (a->k8s.t.http.url) {
        a->k8s.t.http.site = (int)a->site;
        a->k8s.t.namespace = (char *)a->k8s_ns;
        a->cfg.kubernetes = &a->k8s;
    }
}

struct tool {
    struct args a;
    struct loop *loop;
    struct httpc *http;
    struct act_env env;
    struct world world;
    struct sw_plans *plans;
    struct sw_executor *x;
    struct outcome out;
    struct loop_timer *ready;
    struct actuator_ops wrapped;
    const struct actuator_ops *table[1];
    char dir[64];
    int64_t waited_ms;
};

/* Starts the run once every watched site has been seen: a promotion must never be judged on a
 * world that has not looked at the other site yet (an unobserved site is "unreachable"). */
static void start_when_seen(void *arg)
{
    struct tool *t = arg;
    for (int s = 0; s < SW_SITE_COUNT; s++) {
        if (!t->world.site[s].base || t->world.site[s].db.known) continue;
        if ((t->waited_ms += 50) > 20000) {
            snprintf(t->out.detail, sizeof(t->out.detail), "%s's Patroni was never observed",
                     sw_site_name((enum sw_site)s));
            return loop_stop(t->loop);
        }
        return loop_timer_start(t->ready, 50);
    }
    char err[256];
    struct sw_run_start s = {
        .from = SW_ACTIVE_PASSIVE, .to = SW_GOLDDR_PRIMARY, .source = SW_SOURCE_API};
    snprintf(s.id, sizeof(s.id), "act-step-%d", (int)getpid());
    snprintf(s.reason, sizeof(s.reason), "act_step");
    const struct sw_plan *pl =
        sw_plans_get(t->plans, t->a.site, SW_ACTIVE_PASSIVE, SW_GOLDDR_PRIMARY, false);
    if (sw_exec_start(t->x, pl, &s, err, sizeof(err)) < 0) {
        snprintf(t->out.detail, sizeof(t->out.detail), "start: %s", err);
        loop_stop(t->loop);
    }
}

static int tool_setup(struct tool *t)
{
    char err[512], step[256];
    struct args *a = &t->a;
    for (size_t i = 0; i < actuator_table_len; i++)
        if (!strcmp(actuator_table[i]->action, a->action)) R.real = actuator_table[i];
    if (!R.real) return fprintf(stderr, "act_step: no actuator %s\n", a->action), -1;
    t->wrapped = *R.real;
    t->wrapped.check = w_check;
    t->wrapped.act = w_act;
    t->wrapped.poll = R.real->poll ? w_poll : NULL;
    t->wrapped.cancel = w_cancel;
    t->table[0] = &t->wrapped;
    if (strcmp(a->action, "patroni_demote") == 0)
        snprintf(step, sizeof(step), "step { \"%s\", follow = \"%s\", timeout = \"%s\" }",
                 a->action, sw_site_name(a->follow), a->timeout);
    else
        snprintf(step, sizeof(step), "step { \"%s\", timeout = \"%s\" }", a->action, a->timeout);
    if (!(t->plans = one_step_plan(a->site, step))) return -1;
    if (act_env_init(&t->env, &a->cfg, t->loop, t->http, a->site, err, sizeof(err)) < 0)
        return fprintf(stderr, "act_step: %s\n", err), -1;
    if (!a->data_dir) {
        snprintf(t->dir, sizeof(t->dir), "/tmp/act-step-XXXXXX");
        if (!mkdtemp(t->dir)) return perror("act_step: mkdtemp"), -1;
        a->data_dir = t->dir;
    }
    struct sw_exec_env xe = {.loop = t->loop,
                             .data_dir = a->data_dir,
                             .site = a->site,
                             .actuators = t->table,
                             .nactuators = 1,
                             .actuator_env = &t->env,
                             .guards = {.samples = 3, .fresh_s = 15, .max_lag_s = 30},
                             .poll_ms = 500,
                             .observe = observe,
                             .observe_arg = &t->world,
                             .finished = finished,
                             .finished_arg = &t->out};
    if (!(t->x = sw_exec_new(&xe, err, sizeof(err))))
        return fprintf(stderr, "act_step: %s\n", err), -1;
    return 0;
}

static void watch_start(struct tool *t, enum sw_site s, const char *base)
{
    struct watch *w = &t->world.site[s];
    w->loop = t->loop;
    w->http = t->http;
    w->base = base;
    if (!base) return;
    w->tick = loop_timer_new(t->loop, watch_go, w);
    loop_timer_start(w->tick, 0);
}

static void tool_free(struct tool *t)
{
    sw_exec_free(t->x);
    sw_plans_free(t->plans);
    for (int s = 0; s < SW_SITE_COUNT; s++) {
        httpc_cancel(t->world.site[s].req);
        loop_timer_free(t->world.site[s].tick);
        pat_look_clear(&t->world.site[s].look);
    }
    loop_timer_free(t->ready);
    act_env_clear(&t->env);
    httpc_free(t->http);
    loop_free(t->loop);
    buf_free(&R.phases);
}

int main(int argc, char **argv)
{
    static struct tool t;
    if (parse_args(argc, argv, &t.a) < 0) return usage();
    make_config(&t.a);
    buf_init(&R.phases, 4096);
    t.loop = loop_new();
    t.http = httpc_new(t.loop);
    t.out.loop = t.loop;
    t.world.self = t.a.site;
    if (tool_setup(&t) < 0) {
        tool_free(&t);
        return 2;
    }
    watch_start(&t, t.a.site, t.a.no_watch ? NULL : t.a.patroni.t.url);
    watch_start(&t, sw_other(t.a.site), t.a.no_watch ? NULL : t.a.other);
    t.ready = loop_timer_new(t.loop, start_when_seen, &t);
    loop_timer_start(t.ready, 0);
    loop_run(t.loop);
    printf("phases %s\nresult %s\ndetail %s\n", R.phases.data ? R.phases.data : "",
           t.out.done ? sw_result_name(t.out.res) : "none", t.out.detail);
    int rc = t.out.done && t.out.res == SW_RESULT_OK ? 0 : 1;
    tool_free(&t);
    return rc;
}
