/* test_loop.c: the event loop: timer order and cancellation, fd watches (including deleting a
 * watch from another watch's callback in the same batch), and wake-ups from other threads. */
#include <pthread.h>
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

int main(void)
{
    test_timer_order();
    test_watch_delete_in_batch();
    test_async();
    test_zero_delay_and_restart();
    return done_testing();
}
