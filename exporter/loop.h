/* loop.h: the one event loop (epoll + timerfd) that every collector runs on.
 *
 * Nothing on the loop blocks: curl multi (http_client.h), c-ares (dns.h) and libpq (pgconn.h)
 * register their sockets and timers here. The loop runs on one thread; only loop_async_send,
 * loop_stop, loop_iterations and loop_polled_ms may be called from other threads.
 *
 * Every turn polls: it waits in epoll_wait (at most LOOP_MAX_WAIT_MS), then runs the ready
 * watches, the asyncs sent and the timers that were due when their run began. A timer started
 * from a callback, even with delay 0 or already overdue, runs in a later turn, so a callback
 * that takes longer than its timer's delay slows the loop but never stops it polling. */
#ifndef DRWATCH_LOOP_H
#define DRWATCH_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#define LOOP_READ  1u
#define LOOP_WRITE 2u
#define LOOP_ERROR 4u /* reported, never asked for: EPOLLERR or EPOLLHUP */

/* The longest epoll_wait: an idle loop still returns this often (see loop_polled_ms). */
#define LOOP_MAX_WAIT_MS 1000

struct loop;
struct loop_watch;
struct loop_timer;
struct loop_async;

typedef void (*loop_io_fn)(void *arg, int fd, unsigned events);
typedef void (*loop_fn)(void *arg);

struct loop *loop_new(void);
/* Frees the loop; every watch, timer and async must be gone already. NULL-safe. */
void loop_free(struct loop *l);

/* Runs until loop_stop (which it then forgets, so it can run again). Returns 0, or -errno
 * if epoll fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l); /* any thread */
/* Monotonic milliseconds, read once per loop iteration. */
int64_t loop_now(const struct loop *l);
/* How many times the loop has woken up. Any thread. */
uint64_t loop_iterations(const struct loop *l);
/* When epoll_wait last returned (monotonic ms, time_mono_ms), at least every
 * LOOP_MAX_WAIT_MS while the loop runs and is not held by a callback: how /-/healthy tells
 * that the loop still serves I/O. Any thread. */
int64_t loop_polled_ms(const struct loop *l);

/* Watches fd for events (LOOP_READ | LOOP_WRITE). The watch is owned by the caller and ends
 * with loop_watch_del, which is safe from inside any callback. Returns NULL on epoll failure. */
struct loop_watch *loop_watch_add(struct loop *l, int fd, unsigned events, loop_io_fn fn,
                                  void *arg);
int loop_watch_set(struct loop_watch *w, unsigned events);
void loop_watch_del(struct loop_watch *w); /* NULL-safe */

/* One-shot timers; start again from the callback to repeat. The delay counts from the call;
 * a timer started from a callback waits for the next turn, whatever its delay. */
struct loop_timer *loop_timer_new(struct loop *l, loop_fn fn, void *arg);
void loop_timer_start(struct loop_timer *t, int64_t delay_ms);
void loop_timer_stop(struct loop_timer *t);
bool loop_timer_active(const struct loop_timer *t);
void loop_timer_free(struct loop_timer *t); /* NULL-safe; stops it first */

/* Cross-thread wake-up: fn runs on the loop thread soon after loop_async_send, once for any
 * number of sends before it runs. */
struct loop_async *loop_async_new(struct loop *l, loop_fn fn, void *arg);
void loop_async_send(struct loop_async *a); /* any thread */
void loop_async_free(struct loop_async *a); /* NULL-safe */

#endif
