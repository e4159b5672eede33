/* fake_actuators.h: actuators for every action of the catalogue that record each call
 * ("check:tfvars act:tfvars poll:tfvars ...") and answer as the test says (fail one action's
 * act, find one done already, or done only in an observed world, hang one's poll or act,
 * answer one act later from a timer), for
 * the executor's and the switchover part's unit tests. Header-only; one test binary includes
 * it once. F.later must be made on the test's loop (fake_init). */
#ifndef DRWATCH_FAKE_ACTUATORS_H
#define DRWATCH_FAKE_ACTUATORS_H

#include <stdbool.h>
#include <string.h>

#include "buf.h"
#include "executor.h"
#include "loop.h"

struct fake {
    struct loop *loop;
    struct buf calls;         /* "check:tfvars act:tfvars ..." */
    const char *fail_act;     /* this action's act errors */
    const char *done_already; /* this action's check says done */
    const char *done_if_seen; /* this action's check says done only in an observed world (this
                                 site's database known), as a rebuild's does */
    const char *hang;         /* this action's poll never ends */
    const char *hang_act;     /* this action's act never answers */
    int polls_before_done;    /* each poll says not done this many times */
    int polls;
    struct loop_timer *later; /* an act answered asynchronously */
    struct sw_phase *pending;
};

static struct fake F;

static void record(const char *phase, struct sw_phase *ph)
{
    (void)buf_printf(&F.calls, "%s%s:%s", F.calls.len ? " " : "", phase,
                     sw_phase_step(ph)->action->name);
}

static bool is(const char *want, struct sw_phase *ph)
{
    return want && strcmp(want, sw_phase_step(ph)->action->name) == 0;
}

static void fake_check(struct sw_phase *ph)
{
    record("check", ph);
    const struct sw_world *w = sw_phase_world(ph);
    bool done = is(F.done_already, ph) || (is(F.done_if_seen, ph) && w->db[w->self].known);
    sw_phase_done(ph, done ? SW_DONE : SW_NOT_DONE, "checked");
}

static void on_later(void *arg)
{
    (void)arg;
    struct sw_phase *ph = F.pending;
    F.pending = NULL;
    sw_phase_done(ph, SW_DONE, "acted later");
}

static void fake_act(struct sw_phase *ph)
{
    record("act", ph);
    if (is(F.hang_act, ph)) return;
    if (is(F.fail_act, ph)) return sw_phase_done(ph, SW_ERROR, "the fake says no");
    if (strcmp(sw_phase_step(ph)->action->name, "tfvars") == 0) {
        F.pending = ph; /* one answer comes later, from a timer */
        loop_timer_start(F.later, 5);
        return;
    }
    sw_phase_done(ph, SW_DONE, "acted");
}

static void fake_poll(struct sw_phase *ph)
{
    record("poll", ph);
    if (is(F.hang, ph)) return sw_phase_done(ph, SW_NOT_DONE, "still waiting");
    if (F.polls++ < F.polls_before_done) return sw_phase_done(ph, SW_NOT_DONE, "not yet");
    sw_phase_done(ph, SW_DONE, "waited");
}

static void fake_cancel(struct sw_phase *ph)
{
    record("cancel", ph);
    if (F.pending == ph) {
        loop_timer_stop(F.later);
        F.pending = NULL;
    }
}

#define FAKE_OPS(n)                                                           \
    {                                                                         \
        .action = n, .check = fake_check, .act = fake_act, .poll = fake_poll, \
        .cancel = fake_cancel, .rbac = NULL                                   \
    }
static const struct actuator_ops fakes[] = {
    FAKE_OPS("tfvars"),          FAKE_OPS("health_api"),     FAKE_OPS("maintenance"),
    FAKE_OPS("kong_restart"),    FAKE_OPS("patroni_demote"), FAKE_OPS("patroni_promote"),
    FAKE_OPS("patroni_rebuild"), FAKE_OPS("tekton_deploy"),  FAKE_OPS("tell_peer"),
};
static const struct actuator_ops *const table[] = {&fakes[0], &fakes[1], &fakes[2],
                                                   &fakes[3], &fakes[4], &fakes[5],
                                                   &fakes[6], &fakes[7], &fakes[8]};

static void fake_init(struct loop *l)
{
    buf_init(&F.calls, 1 << 16);
    F.loop = l;
    F.later = loop_timer_new(l, on_later, NULL);
}

static void fake_fini(void)
{
    loop_timer_free(F.later);
    buf_free(&F.calls);
}

#endif
