/* loop.c: epoll for sockets, one timerfd for a binary heap of timers, one eventfd for
 * cross-thread wake-ups. Shaped after redis' ae.c and curl's ephiperfifo.c example.
 *
 * A watch deleted during dispatch is only marked dead and freed after the batch, because its
 * event may still be waiting in the array epoll_wait filled.
 *
 * Every turn goes through epoll_wait. A turn runs the timers that were due when it began,
 * never one (re)started during it: a timer whose callback takes longer than its delay is
 * overdue each time it is re-armed, and running timers "while the heap's top is due" then
 * never returned to epoll_wait, so sockets, cross-thread requests and signals starved. The
 * wait itself is capped at LOOP_MAX_WAIT_MS so that the time it last returned, which
 * /-/healthy reads, keeps moving on an idle loop. */
#include "loop.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "xalloc.h"

struct loop_watch {
    struct loop *loop;
    int fd;
    loop_io_fn fn;
    void *arg;
    bool dead;
    struct loop_watch *next_dead;
};

struct loop_timer {
    struct loop *loop;
    loop_fn fn;
    void *arg;
    int64_t due;
    uint64_t started_in; /* the timer run it was started during: it waits for a later one */
    size_t heap_pos;     /* SIZE_MAX when not in the heap */
};

struct loop_async {
    struct loop *loop;
    loop_fn fn;
    void *arg;
    atomic_bool pending;
    struct loop_async *next;
};

struct loop {
    int epfd, tfd, efd;
    atomic_bool stop;
    int64_t now;
    uint64_t timer_runs; /* run_due_timers calls, to tell timers started during one */
    atomic_uint_fast64_t iterations;
    atomic_int_fast64_t polled_ms; /* when epoll_wait last returned; read by other threads */
    struct loop_timer **heap;
    size_t nheap, heap_cap;
    int64_t armed_due; /* what the timerfd is set to, INT64_MAX when disarmed */
    struct loop_watch *dead;
    struct loop_async *asyncs;
};

/* Sentinels stored in epoll data for the loop's own descriptors. */
static char timer_tag, async_tag;

static void update_now(struct loop *l)
{
    l->now = time_mono_ms();
}

struct loop *loop_new(void)
{
    struct loop *l = xcalloc(1, sizeof(*l));
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->epfd < 0 || l->tfd < 0 || l->efd < 0) {
        log_error("loop", "cannot create epoll/timerfd/eventfd: %s", strerror(errno));
        loop_free(l);
        return NULL;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &timer_tag};
    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->tfd, &ev);
    ev.data.ptr = &async_tag;
    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->efd, &ev);
    l->armed_due = INT64_MAX;
    update_now(l);
    atomic_init(&l->polled_ms, l->now);
    return l;
}

static void free_dead(struct loop *l)
{
    while (l->dead) {
        struct loop_watch *w = l->dead;
        l->dead = w->next_dead;
        free(w);
    }
}

void loop_free(struct loop *l)
{
    if (!l) return;
    free_dead(l);
    if (l->epfd >= 0) close(l->epfd);
    if (l->tfd >= 0) close(l->tfd);
    if (l->efd >= 0) close(l->efd);
    free(l->heap);
    free(l);
}

int64_t loop_now(const struct loop *l)
{
    return l->now;
}

uint64_t loop_iterations(const struct loop *l)
{
    return atomic_load_explicit(&((struct loop *)l)->iterations, memory_order_relaxed);
}

int64_t loop_polled_ms(const struct loop *l)
{
    return atomic_load_explicit(&((struct loop *)l)->polled_ms, memory_order_relaxed);
}

void loop_stop(struct loop *l)
{
    atomic_store(&l->stop, true);
    uint64_t one = 1;
    ssize_t w = write(l->efd, &one, sizeof(one));
    (void)w; /* the eventfd counter cannot overflow from a few writes */
}

/* ---- watches ---- */

static uint32_t to_epoll(unsigned events)
{
    return ((events & LOOP_READ) ? EPOLLIN : 0u) | ((events & LOOP_WRITE) ? EPOLLOUT : 0u);
}

struct loop_watch *loop_watch_add(struct loop *l, int fd, unsigned events, loop_io_fn fn, void *arg)
{
    struct loop_watch *w = xcalloc(1, sizeof(*w));
    *w = (struct loop_watch){.loop = l, .fd = fd, .fn = fn, .arg = arg};
    struct epoll_event ev = {.events = to_epoll(events), .data.ptr = w};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        log_error("loop", "epoll_ctl add fd %d: %s", fd, strerror(errno));
        free(w);
        return NULL;
    }
    return w;
}

int loop_watch_set(struct loop_watch *w, unsigned events)
{
    struct epoll_event ev = {.events = to_epoll(events), .data.ptr = w};
    return epoll_ctl(w->loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0 ? -errno : 0;
}

void loop_watch_del(struct loop_watch *w)
{
    if (!w) return;
    /* The fd may already be closed (curl closes before telling us); EBADF is fine then. */
    epoll_ctl(w->loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    w->dead = true;
    w->next_dead = w->loop->dead;
    w->loop->dead = w;
}

/* ---- timers: a binary min-heap on due time ---- */

static void heap_swap(struct loop *l, size_t a, size_t b)
{
    struct loop_timer *t = l->heap[a];
    l->heap[a] = l->heap[b];
    l->heap[b] = t;
    l->heap[a]->heap_pos = a;
    l->heap[b]->heap_pos = b;
}

static void heap_up(struct loop *l, size_t i)
{
    while (i > 0 && l->heap[(i - 1) / 2]->due > l->heap[i]->due) {
        heap_swap(l, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(struct loop *l, size_t i)
{
    for (;;) {
        size_t c = 2 * i + 1, m = i;
        if (c < l->nheap && l->heap[c]->due < l->heap[m]->due) m = c;
        if (c + 1 < l->nheap && l->heap[c + 1]->due < l->heap[m]->due) m = c + 1;
        if (m == i) return;
        heap_swap(l, i, m);
        i = m;
    }
}

static void heap_remove(struct loop *l, struct loop_timer *t)
{
    size_t i = t->heap_pos;
    t->heap_pos = SIZE_MAX;
    if (--l->nheap == i) return;
    l->heap[i] = l->heap[l->nheap];
    l->heap[i]->heap_pos = i;
    heap_down(l, i);
    heap_up(l, i);
}

static void timerfd_rearm(struct loop *l)
{
    int64_t due = l->nheap ? l->heap[0]->due : INT64_MAX;
    if (due == l->armed_due) return;
    l->armed_due = due;
    struct itimerspec its = {0};
    if (due != INT64_MAX) {
        if (due <= 0) due = 1;
        its.it_value.tv_sec = due / 1000;
        its.it_value.tv_nsec = (due % 1000) * 1000000;
    }
    timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

struct loop_timer *loop_timer_new(struct loop *l, loop_fn fn, void *arg)
{
    struct loop_timer *t = xcalloc(1, sizeof(*t));
    *t = (struct loop_timer){.loop = l, .fn = fn, .arg = arg, .heap_pos = SIZE_MAX};
    return t;
}

void loop_timer_start(struct loop_timer *t, int64_t delay_ms)
{
    struct loop *l = t->loop;
    if (t->heap_pos != SIZE_MAX) heap_remove(l, t);
    /* From now, not from when the turn began (a callback may have run long); loop_now stays
     * as the turn read it. */
    t->due = time_mono_ms() + (delay_ms > 0 ? delay_ms : 0);
    t->started_in = l->timer_runs;
    if (l->nheap == l->heap_cap) {
        l->heap_cap = l->heap_cap ? l->heap_cap * 2 : 32;
        l->heap = xrealloc(l->heap, l->heap_cap * sizeof(*l->heap));
    }
    t->heap_pos = l->nheap;
    l->heap[l->nheap++] = t;
    heap_up(l, t->heap_pos);
    timerfd_rearm(l);
}

void loop_timer_stop(struct loop_timer *t)
{
    if (t->heap_pos == SIZE_MAX) return;
    heap_remove(t->loop, t);
    timerfd_rearm(t->loop);
}

bool loop_timer_active(const struct loop_timer *t)
{
    return t->heap_pos != SIZE_MAX;
}

void loop_timer_free(struct loop_timer *t)
{
    if (!t) return;
    loop_timer_stop(t);
    free(t);
}

static void run_due_timers(struct loop *l)
{
    uint64_t expirations;
    ssize_t r = read(l->tfd, &expirations, sizeof(expirations));
    (void)r;                  /* EAGAIN when a rearm raced the read: the heap below is the truth */
    l->armed_due = INT64_MAX; /* the expired setting is spent */
    update_now(l);
    /* Only what was due on entry; a timer started meanwhile (even with delay 0) is left for
     * the next turn, after epoll_wait, and so are due ones behind it in the heap. */
    uint64_t run = ++l->timer_runs;
    int64_t entry = l->now;
    while (l->nheap && l->heap[0]->due <= entry && l->heap[0]->started_in != run) {
        struct loop_timer *t = l->heap[0];
        heap_remove(l, t);
        t->fn(t->arg);
    }
    timerfd_rearm(l);
}

/* ---- async ---- */

struct loop_async *loop_async_new(struct loop *l, loop_fn fn, void *arg)
{
    struct loop_async *a = xcalloc(1, sizeof(*a));
    a->loop = l;
    a->fn = fn;
    a->arg = arg;
    atomic_init(&a->pending, false);
    a->next = l->asyncs;
    l->asyncs = a;
    return a;
}

void loop_async_send(struct loop_async *a)
{
    if (atomic_exchange(&a->pending, true)) return;
    uint64_t one = 1;
    ssize_t w = write(a->loop->efd, &one, sizeof(one));
    (void)w;
}

void loop_async_free(struct loop_async *a)
{
    if (!a) return;
    for (struct loop_async **p = &a->loop->asyncs; *p; p = &(*p)->next) {
        if (*p == a) {
            *p = a->next;
            break;
        }
    }
    free(a);
}

static void run_asyncs(struct loop *l)
{
    uint64_t n;
    ssize_t r = read(l->efd, &n, sizeof(n));
    (void)r;
    for (struct loop_async *a = l->asyncs; a;) {
        struct loop_async *next = a->next; /* fn may free a */
        if (atomic_exchange(&a->pending, false)) a->fn(a->arg);
        a = next;
    }
}

/* ---- run ---- */

int loop_run(struct loop *l)
{
    struct epoll_event evs[64];
    while (!atomic_load(&l->stop)) {
        int n = epoll_wait(l->epfd, evs, (int)ARRAY_LEN(evs), LOOP_MAX_WAIT_MS);
        if (n < 0) {
            if (errno == EINTR) continue;
            log_error("loop", "epoll_wait: %s", strerror(errno));
            return -errno;
        }
        update_now(l);
        atomic_store_explicit(&l->polled_ms, l->now, memory_order_relaxed);
        atomic_fetch_add_explicit(&l->iterations, 1, memory_order_relaxed);
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == &timer_tag) {
                run_due_timers(l);
                continue;
            }
            if (tag == &async_tag) {
                run_asyncs(l);
                continue;
            }
            struct loop_watch *w = tag;
            if (w->dead) continue;
            unsigned events = ((evs[i].events & EPOLLIN) ? LOOP_READ : 0u) |
                              ((evs[i].events & EPOLLOUT) ? LOOP_WRITE : 0u) |
                              ((evs[i].events & (EPOLLERR | EPOLLHUP)) ? LOOP_ERROR : 0u);
            w->fn(w->arg, w->fd, events);
        }
        free_dead(l);
    }
    atomic_store(&l->stop, false); /* spent: a later loop_run runs again (tests do) */
    return 0;
}
