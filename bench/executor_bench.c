/* executor_bench.c: what the switchover executor itself costs per step (issue 13, "Measured, in
 * make bench": executor overhead per step beyond the actuator's own call, target under 5 ms).
 *
 *   executor_bench [--runs R] [--seconds S] [--poll-ms P] [DIR...]
 *
 * A real executor (switchover/executor.h) on a real loop runs a 6-step plan (tfvars,
 * health_api, maintenance, kong_restart, tekton_deploy, tell_peer: the non-guarded actions)
 * R times, with actuators that answer at once: check "not done", act "done", poll "done", each
 * through sw_phase_done from inside the call. So everything a step takes is drwatch's: the
 * zero-delay timer hops between phases, the world copied before each phase, the log lines, and
 * the step's two journal records (end, then the next step's begin), each fsynced (fdatasync).
 *
 * A step's wall time is from its check to the next step's check (act, poll, its end record,
 * the next begin record); the last step of a run is left out (its finish record and the
 * journal's compaction follow it, not a begin). The time spent inside the actuators' calls is
 * measured and subtracted: what is left is the executor's overhead. Then, on a journal of its
 * own in the same directory, begin+end record pairs are timed alone (sw_journal_begin and
 * sw_journal_end): the part of the overhead that is the disk.
 *
 * Each DIR (default: /var/tmp, where /var/lib/drwatch would be, and /dev/shm for comparison)
 * gets a fresh temporary directory, removed afterwards; its filesystem type (statfs) is
 * printed. poll_ms defaults to the daemon's (1000): an instant act's poll runs at once, never
 * after poll_ms (the executor pauses only after a poll that says "not done"), so the figure
 * holds no configured pause; --poll-ms shows it does not move. Log lines go to /dev/null
 * (stderr is restored for errors). About --seconds S (default 18) in all, split across DIRs. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "executor.h"
#include "loop.h"
#include "run_journal.h"
#include "tests/lib/one_plan.h" /* the plan file the executor tests use too */
#include "xalloc.h"

#define STEPS    6
#define MIN_RUNS 20

static const char *const step_src =
    "step { \"tfvars\", in_recovery = true, in_maintenance = false }, "
    "step { \"health_api\", replicas = 2 }, step { \"maintenance\", on = true }, "
    "step { \"kong_restart\" }, step { \"tekton_deploy\" }, step { \"tell_peer\" }";

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- instant actuators, timed ---- */

struct bench {
    size_t step;                  /* of the run going on */
    int64_t check_at[STEPS];      /* when each step's check was called */
    int64_t in_actuator[STEPS];   /* time inside the actuators' calls, per step */
    int64_t started, finished_at; /* the run: sw_exec_start, the finished callback */
    bool done;
    enum sw_result res;
};
static struct bench B;

static void answer(struct sw_phase *ph, enum sw_outcome o, int64_t t0)
{
    B.in_actuator[B.step] += now_ns() - t0;
    sw_phase_done(ph, o, "bench");
}

static void b_check(struct sw_phase *ph)
{
    int64_t t0 = now_ns();
    /* The executor gives no step index: it is the number of checks so far in this run. */
    for (B.step = 0; B.step < STEPS - 1 && B.check_at[B.step]; B.step++) {
    }
    B.check_at[B.step] = t0;
    answer(ph, SW_NOT_DONE, t0);
}

static void b_act(struct sw_phase *ph)
{
    answer(ph, SW_DONE, now_ns());
}

static void b_poll(struct sw_phase *ph)
{
    answer(ph, SW_DONE, now_ns());
}

#define OPS(n)                                                      \
    {                                                               \
        .action = n, .check = b_check, .act = b_act, .poll = b_poll \
    }
static const struct actuator_ops ops[] = {OPS("tfvars"),        OPS("health_api"),
                                          OPS("maintenance"),   OPS("kong_restart"),
                                          OPS("tekton_deploy"), OPS("tell_peer")};
static const struct actuator_ops *const table[] = {&ops[0], &ops[1], &ops[2],
                                                   &ops[3], &ops[4], &ops[5]};

/* ---- the executor's environment ---- */

static struct sw_world world;

static void observe(void *arg, struct sw_world *out)
{
    (void)arg;
    *out = world; /* as the daemon's observe_world: a copy of the last observation */
}

static void finished(void *arg, const struct sw_run_start *run, enum sw_result r,
                     const char *detail)
{
    (void)run;
    (void)detail;
    B.finished_at = now_ns();
    B.done = true;
    B.res = r;
    loop_stop(arg);
}

/* A complete plan file whose golddr active-passive -> golddr-primary plan is the bench's. */
static struct sw_plans *plans(void)
{
    char err[512];
    struct sw_plans *p = one_plan_load(step_src, "bench.lua", err, sizeof(err));
    if (!p) {
        fprintf(stderr, "executor_bench: %s\n", err);
        exit(2);
    }
    return p;
}

/* ---- figures ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

struct stats {
    double median, p99, max; /* ms */
};

/* Nearest rank, as bench/run. */
static struct stats stats_of(int64_t *v, size_t n)
{
    struct stats s = {0};
    if (!n) return s;
    qsort(v, n, sizeof(*v), cmp_i64);
    size_t r99 = (size_t)((double)n * 0.99 + 0.999999);
    s.median = (double)v[(n - 1) / 2] / 1e6;
    s.p99 = (double)v[(r99 ? r99 : 1) - 1] / 1e6;
    s.max = (double)v[n - 1] / 1e6;
    return s;
}

static const char *fs_name(const char *dir)
{
    struct statfs sf;
    if (statfs(dir, &sf) < 0) return "unknown";
    switch ((unsigned long)sf.f_type) {
    case EXT4_SUPER_MAGIC: return "ext2/3/4";
    case TMPFS_MAGIC: return "tmpfs";
    case XFS_SUPER_MAGIC: return "xfs";
    case BTRFS_SUPER_MAGIC: return "btrfs";
    case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
    case NFS_SUPER_MAGIC: return "nfs";
    case 0x2fc12fc1: return "zfs";
    default: return "other";
    }
}

static int quiet_fd = -1, stderr_fd = -1;

static void logs_off(void)
{
    fflush(stderr);
    dup2(quiet_fd, 2);
}

static void logs_on(void)
{
    fflush(stderr);
    dup2(stderr_fd, 2);
}

static void die(const char *what, const char *err)
{
    logs_on();
    fprintf(stderr, "executor_bench: %s: %s\n", what, err);
    exit(2);
}

/* ---- one directory ---- */

struct result {
    size_t runs, steps, pairs;
    struct stats step, overhead, journal, run;
    double in_actuator_us; /* per step, mean */
};

/* A journal of its own beside the executor's, for begin + end pairs timed alone. */
struct pairs {
    struct sw_run_journal *j;
    char sub[4200];
    struct sw_run_start s;
    size_t n;
};

static void pairs_open(struct pairs *p, const char *dir)
{
    char err[256];
    struct sw_replayed found;
    snprintf(p->sub, sizeof(p->sub), "%s/journal", dir);
    if (mkdir(p->sub, 0700) < 0) die(p->sub, strerror(errno));
    p->j = sw_journal_open(p->sub, &found, err, sizeof(err));
    if (!p->j) die("sw_journal_open", err);
    p->s = (struct sw_run_start){.site = SW_GOLDDR,
                                 .from = SW_ACTIVE_PASSIVE,
                                 .to = SW_GOLDDR_PRIMARY,
                                 .source = SW_SOURCE_AUTOMATION,
                                 .nsteps = 1000000,
                                 .at = 1.7e9};
    snprintf(p->s.id, sizeof(p->s.id), "golddr-1700000000-beef");
    snprintf(p->s.reason, sizeof(p->s.reason), "executor_bench");
    if (sw_journal_start(p->j, &p->s, err, sizeof(err)) < 0) die("sw_journal_start", err);
}

/* One begin + end pair, as the executor writes them; returns its time. */
static int64_t pairs_one(struct pairs *p)
{
    char err[256];
    const char *a = table[p->n % STEPS]->action;
    double at = 1.7e9 + (double)p->n;
    int64_t t0 = now_ns();
    if (sw_journal_begin(p->j, p->s.id, p->n, 0, a, at, err, sizeof(err)) < 0 ||
        sw_journal_end(p->j, p->s.id, p->n, 0, a, SW_RESULT_OK, "bench", at, 0.001, err,
                       sizeof(err)) < 0)
        die("journal", err);
    p->n++;
    return now_ns() - t0;
}

static void pairs_close(struct pairs *p)
{
    char path[4300];
    sw_journal_free(p->j);
    snprintf(path, sizeof(path), "%s/%s", p->sub, SW_JOURNAL_FILE);
    unlink(path);
    rmdir(p->sub);
}

/* Runs the plan up to runs times (at least MIN_RUNS, then while seconds last). After each run,
 * as many begin + end pairs as it had timed steps are written on the other journal, so that
 * both figures see the same disk (a test suite or a fuzzer next to the bench moves it). */
static void run_executor(const char *dir, const struct sw_plan *pl, int64_t poll_ms, size_t runs,
                         double seconds, struct result *out)
{
    struct loop *l = loop_new();
    struct sw_exec_env env = {.loop = l,
                              .data_dir = dir,
                              .site = SW_GOLDDR,
                              .actuators = table,
                              .nactuators = STEPS,
                              .guards = {.samples = 3, .fresh_s = 15, .max_lag_s = 30},
                              .poll_ms = poll_ms,
                              .observe = observe,
                              .finished = finished,
                              .finished_arg = l};
    char err[256];
    struct sw_executor *x = sw_exec_new(&env, err, sizeof(err));
    if (!x) die("sw_exec_new", err);
    struct pairs pr = {0};
    pairs_open(&pr, dir);
    int64_t *wall = xcalloc(runs * STEPS, sizeof(*wall));
    int64_t *over = xcalloc(runs * STEPS, sizeof(*over));
    int64_t *jour = xcalloc(runs * STEPS, sizeof(*jour));
    int64_t *whole = xcalloc(runs, sizeof(*whole));
    int64_t act_total = 0, t_end = now_ns() + (int64_t)(seconds * 1e9);
    size_t n = 0, r;
    for (r = 0; r < runs && (r < MIN_RUNS || now_ns() < t_end); r++) {
        struct sw_run_start s = {
            .from = SW_ACTIVE_PASSIVE, .to = SW_GOLDDR_PRIMARY, .source = SW_SOURCE_AUTOMATION};
        snprintf(s.id, sizeof(s.id), "bench-%zu", r);
        snprintf(s.reason, sizeof(s.reason), "executor_bench");
        memset(&B, 0, sizeof(B));
        B.started = now_ns();
        if (sw_exec_start(x, pl, &s, err, sizeof(err)) < 0) die("sw_exec_start", err);
        if (!B.done) loop_run(l);
        if (B.res != SW_RESULT_OK) die("run", "a run did not end ok");
        whole[r] = B.finished_at - B.started;
        for (size_t i = 0; i + 1 < STEPS; i++) {
            wall[n] = B.check_at[i + 1] - B.check_at[i];
            over[n] = wall[n] - B.in_actuator[i];
            act_total += B.in_actuator[i];
            jour[n] = pairs_one(&pr);
            n++;
        }
    }
    out->runs = r;
    out->steps = out->pairs = n;
    out->in_actuator_us = n ? (double)act_total / (double)n / 1e3 : 0;
    out->step = stats_of(wall, n);
    out->overhead = stats_of(over, n);
    out->journal = stats_of(jour, n);
    out->run = stats_of(whole, r);
    free(wall);
    free(over);
    free(jour);
    free(whole);
    pairs_close(&pr);
    sw_exec_free(x);
    loop_free(l);
}

static void measure(const char *base, const struct sw_plan *pl, int64_t poll_ms, size_t runs,
                    double seconds)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/drwatch-executor-bench-XXXXXX", base);
    if (!mkdtemp(dir)) {
        printf("  %s: cannot make a directory there (%s): skipped\n", base, strerror(errno));
        return;
    }
    struct result res = {0};
    logs_off();
    run_executor(dir, pl, poll_ms, runs, seconds, &res);
    logs_on();
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, SW_JOURNAL_FILE);
    unlink(path);
    rmdir(dir);

    printf("data dir %s (%s): %zu runs, %zu steps timed\n", base, fs_name(base), res.runs,
           res.steps);
    printf("  %-44s median %7.3f ms   p99 %7.3f ms   max %7.3f ms\n",
           "step, check to next check (wall):", res.step.median, res.step.p99, res.step.max);
    printf("  %-44s median %7.3f ms   p99 %7.3f ms   target < 5 ms: %s\n",
           "executor overhead (wall - actuators' calls):", res.overhead.median, res.overhead.p99,
           res.overhead.median < 5 && res.overhead.p99 < 5 ? "met (median and p99)"
           : res.overhead.median < 5                       ? "met (median), MISSED (p99)"
                                                           : "MISSED");
    printf("  %-44s %.1f us per step (instant fakes)\n",
           "inside the actuators' calls:", res.in_actuator_us);
    printf("  %-44s median %7.3f ms   p99 %7.3f ms   (%zu pairs)\n",
           "its two journal records (begin + end):", res.journal.median, res.journal.p99,
           res.pairs);
    printf("  %-44s %7.3f ms (overhead median - journal median)\n",
           "the rest (timers, world copies, logs):", res.overhead.median - res.journal.median);
    printf("  %-44s median %7.3f ms   p99 %7.3f ms\n",
           "whole run (start, 6 steps, finish: 14 records):", res.run.median, res.run.p99);
}

int main(int argc, char **argv)
{
    size_t runs = 200;
    double seconds = 18;
    int64_t poll_ms = 1000;
    const char *dirs[8];
    size_t ndirs = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = (size_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--poll-ms") == 0 && i + 1 < argc)
            poll_ms = strtoll(argv[++i], NULL, 10);
        else if (argv[i][0] != '-' && ndirs < 8)
            dirs[ndirs++] = argv[i];
        else {
            fprintf(stderr, "usage: executor_bench [--runs R] [--seconds S] [--poll-ms P] "
                            "[DIR...]\n");
            return 2;
        }
    }
    if (runs < MIN_RUNS) runs = MIN_RUNS;
    if (!ndirs) {
        dirs[ndirs++] = "/var/tmp";
        dirs[ndirs++] = "/dev/shm";
    }
    stderr_fd = dup(2);
    quiet_fd = open("/dev/null", O_WRONLY);
    if (stderr_fd < 0 || quiet_fd < 0) return 2;
    world.now = 1.7e9;
    world.self = SW_GOLDDR;
    struct sw_plans *p = plans();
    const struct sw_plan *pl = one_plan_get(p);
    printf("executor_bench: a %d-step plan (tfvars health_api maintenance kong_restart "
           "tekton_deploy tell_peer) of instant actuators, up to %zu runs, poll_ms %lld%s\n",
           STEPS, runs, (long long)poll_ms, poll_ms == 1000 ? " (the daemon's)" : "");
    /* The first directory (where drwatch's data would be) gets most of the time: the disk. */
    for (size_t i = 0; i < ndirs; i++)
        measure(dirs[i], pl, poll_ms, runs,
                ndirs == 1 ? seconds
                : i == 0   ? seconds * 0.75
                           : seconds * 0.25 / (double)(ndirs - 1));
    sw_plans_free(p);
    close(quiet_fd);
    close(stderr_fd);
    return 0;
}
