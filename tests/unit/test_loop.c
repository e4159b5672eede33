/* test_loop.c: the event loop: timer order and cancellation, fd watches (including deleting a
 * watch from another watch's callback in the same batch), wake-ups from other threads, timers
 * that cannot keep the loop from polling, and the poll time /-/healthy reads. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "clock.h"
#include "loop.h"
#include "tap.h"

struct order {
    struct loop *loop;
    int seen[8];
    int n;
};

struct tick {
    struct order *o;
    int id;
};

static void on_tick(void *arg)
{
    struct tick *t = arg;
    t->o->seen[t->o->n++] = t->id;
    if (t->o->n == 3) loop_stop(t->o->loop);
}

static void test_timer_order(void)
{
    struct order o = {.loop = loop_new()};
    struct tick ticks[4] = {{&o, 1}, {&o, 2}, {&o, 3}, {&o, 4}};
    struct loop_timer *t[4];
    int64_t delays[4] = {30, 10, 20, 5};
    int64_t t0 = time_mono_ms(); /* before the timers start: they count from their start */
    for (int i = 0; i < 4; i++) {
        t[i] = loop_timer_new(o.loop, on_tick, &ticks[i]);
        loop_timer_start(t[i], delays[i]);
    }
    loop_timer_stop(t[3]); /* cancelled: must never fire */
    ok(!loop_timer_active(t[3]), "a stopped timer is inactive");
    loop_run(o.loop);
    int64_t took = time_mono_ms() - t0;
    ok(o.n == 3 && o.seen[0] == 2 && o.seen[1] == 3 && o.seen[2] == 1,
       "timers fire in due order, the cancelled one never (%d %d %d)", o.seen[0], o.seen[1],
       o.seen[2]);
    ok(took >= 29 && took < 1000, /* 29: both clocks are read in whole milliseconds */
       "the last timer fired after its delay (%lld ms)", (long long)took);
    for (int i = 0; i < 4; i++) loop_timer_free(t[i]);
    loop_free(o.loop);
}

struct pipes {
    struct loop *loop;
    struct loop_watch *a, *b;
    int reads_a, reads_b;
};

static void on_a(void *arg, int fd, unsigned ev)
{
    struct pipes *p = arg;
    char c;
    (void)ev;
    if (read(fd, &c, 1) == 1) p->reads_a++;
    /* Delete the other watch even though its event may be pending in this batch. */
    loop_watch_del(p->b);
    p->b = NULL;
    loop_stop(p->loop);
}

static void on_b(void *arg, int fd, unsigned ev)
{
    struct pipes *p = arg;
    char c;
    (void)ev;
    if (read(fd, &c, 1) == 1) p->reads_b++;
    loop_watch_del(p->a);
    p->a = NULL;
    loop_stop(p->loop);
}

static void test_watch_delete_in_batch(void)
{
    struct pipes p = {.loop = loop_new()};
    int pa[2], pb[2];
    if (pipe(pa) || pipe(pb)) abort();
    p.a = loop_watch_add(p.loop, pa[0], LOOP_READ, on_a, &p);
    p.b = loop_watch_add(p.loop, pb[0], LOOP_READ, on_b, &p);
    if (write(pa[1], "x", 1) != 1 || write(pb[1], "y", 1) != 1) abort();
    loop_run(p.loop);
    ok(p.reads_a + p.reads_b == 1, "exactly one callback ran; the deleted watch did not");
    loop_watch_del(p.a);
    loop_watch_del(p.b);
    close(pa[0]), close(pa[1]), close(pb[0]), close(pb[1]);
    loop_free(p.loop);
}

struct async_test {
    struct loop *loop;
    struct loop_async *async;
    int runs;
};

static void on_async(void *arg)
{
    struct async_test *a = arg;
    a->runs++;
    loop_stop(a->loop);
}

static void *sender(void *arg)
{
    struct async_test *a = arg;
    usleep(20000);
    for (int i = 0; i < 100; i++) loop_async_send(a->async);
    return NULL;
}

static void test_async(void)
{
    struct async_test a = {.loop = loop_new()};
    a.async = loop_async_new(a.loop, on_async, &a);
    pthread_t th;
    pthread_create(&th, NULL, sender, &a);
    loop_run(a.loop);
    pthread_join(th, NULL);
    ok(a.runs >= 1 && a.runs <= 2, "100 sends from another thread coalesce (%d runs)", a.runs);
    loop_async_free(a.async);
    loop_free(a.loop);
}

static void on_stop(void *arg)
{
    loop_stop(arg);
}

static void test_zero_delay_and_restart(void)
{
    struct loop *l = loop_new();
    struct loop_timer *t = loop_timer_new(l, on_stop, l);
    loop_timer_start(t, 5000);
    loop_timer_start(t, 0); /* restart earlier: must not also fire at 5 s */
    int64_t t0 = time_mono_ms();
    loop_run(l);
    ok(time_mono_ms() - t0 < 1000, "a restarted timer fires at its new time");
    ok(!loop_timer_active(t), "a fired timer is inactive");
    uint64_t it = loop_iterations(l);
    ok(it >= 1, "the loop counts its iterations (%llu)", (unsigned long long)it);
    loop_timer_free(t);
    loop_free(l);
}

/* ---- a timer slower than its delay must not keep the loop from polling ---- */

struct busy {
    struct loop_timer *t;
    int64_t delay_ms;
    int runs;
};

/* 20 ms of work, then again after delay_ms: always overdue when re-armed. */
static void on_busy(void *arg)
{
    struct busy *b = arg;
    b->runs++;
    int64_t end = time_mono_ms() + 20;
    while (time_mono_ms() < end) continue;
    loop_timer_start(b->t, b->delay_ms);
}

struct io_seen {
    struct loop *loop;
    atomic_bool done;
    int reads;
};

static void on_readable(void *arg, int fd, unsigned ev)
{
    struct io_seen *s = arg;
    char c;
    (void)ev;
    if (read(fd, &c, 1) == 1) s->reads++;
    loop_stop(s->loop);
}

/* A livelocked loop never returns: fail the test instead of hanging prove. */
static void *watchdog(void *arg)
{
    struct io_seen *s = arg;
    for (int i = 0; i < 200 && !atomic_load(&s->done); i++) usleep(50000);
    if (atomic_load(&s->done)) return NULL;
    printf("not ok - the loop did not poll its fd within 10 s: timers livelocked it\n");
    fflush(stdout);
    _exit(1);
}

static void test_overdue_timers_let_io_in(void)
{
    /* Regression: a timer whose callback took longer than its delay (a rule slower than its
     * evaluation interval) livelocked the loop: it ran timers while the heap's top was due and
     * loop_timer_start refreshed the time, so epoll_wait was never reached and sockets,
     * cross-thread requests and loop_stop starved. */
    struct io_seen seen = {.loop = loop_new()};
    struct busy slow = {.delay_ms = 5}, zero = {.delay_ms = 0};
    slow.t = loop_timer_new(seen.loop, on_busy, &slow);
    zero.t = loop_timer_new(seen.loop, on_busy, &zero);
    int p[2];
    if (pipe(p)) abort();
    struct loop_watch *w = loop_watch_add(seen.loop, p[0], LOOP_READ, on_readable, &seen);
    loop_timer_start(slow.t, 0);
    loop_timer_start(zero.t, 0);
    pthread_t th;
    pthread_create(&th, NULL, watchdog, &seen);
    if (write(p[1], "x", 1) != 1) abort();
    loop_run(seen.loop);
    atomic_store(&seen.done, true);
    pthread_join(th, NULL);
    ok(seen.reads == 1, "a readable fd is served while timers are overdue whenever re-armed");
    ok(slow.runs >= 1 && zero.runs >= 1 && slow.runs <= 2 && zero.runs <= 2,
       "each re-armed timer ran at most once per turn before the fd was served (%d, %d)", slow.runs,
       zero.runs);
    loop_watch_del(w);
    loop_timer_free(slow.t);
    loop_timer_free(zero.t);
    close(p[0]), close(p[1]);
    loop_free(seen.loop);
}

/* ---- the poll time ---- */

struct poll_watch {
    struct loop *loop;
    int64_t from;
    bool moved;
};

static void *wait_for_poll(void *arg)
{
    struct poll_watch *pw = arg;
    for (int i = 0; i < 200 && !pw->moved; i++) {
        pw->moved = loop_polled_ms(pw->loop) > pw->from;
        if (!pw->moved) usleep(25000);
    }
    loop_stop(pw->loop);
    return NULL;
}

static void test_idle_loop_polls(void)
{
    struct loop *l = loop_new();
    struct poll_watch pw = {.loop = l};
    usleep(2000); /* so that a return from epoll_wait shows as a later millisecond */
    pw.from = loop_polled_ms(l);
    pthread_t th;
    pthread_create(&th, NULL, wait_for_poll, &pw);
    loop_run(l); /* nothing to do: no fd, no timer */
    pthread_join(th, NULL);
    ok(pw.moved, "an idle loop returns from epoll_wait at least every LOOP_MAX_WAIT_MS");
    loop_free(l);
}

struct stall {
    struct loop *loop;
    int64_t polled_before, polled_during;
};

static void on_stall(void *arg)
{
    struct stall *s = arg;
    s->polled_before = loop_polled_ms(s->loop);
    int64_t end = time_mono_ms() + 50;
    while (time_mono_ms() < end) continue;
    s->polled_during = loop_polled_ms(s->loop);
    loop_stop(s->loop);
}

static void test_poll_time_stands_still_in_a_callback(void)
{
    struct stall s = {.loop = loop_new()};
    struct loop_timer *t = loop_timer_new(s.loop, on_stall, &s);
    loop_timer_start(t, 0);
    loop_run(s.loop);
    ok(s.polled_before == s.polled_during && time_mono_ms() - s.polled_during >= 50,
       "loop_polled_ms does not move while a callback holds the loop");
    loop_timer_free(t);
    loop_free(s.loop);
}

int main(void)
{
    test_timer_order();
    test_watch_delete_in_batch();
    test_async();
    test_zero_delay_and_restart();
    test_overdue_timers_let_io_in();
    test_idle_loop_polls();
    test_poll_time_stands_still_in_a_callback();
    return done_testing();
}
