/* lifecycle.h: Prometheus' lifecycle endpoints for the daemon: GET /-/healthy (the loop serves
 * I/O), GET /-/ready (every target has been collected once) and POST /-/reload (apply the
 * config file again, on the loop).
 *
 * /-/reload changes what drwatch does, so like Prometheus it is off unless asked for
 * (--web.enable-lifecycle: 403 saying so otherwise; SIGHUP always reloads). When on, it takes
 * the bearer token of --web.token-file, or without one only requests that are not
 * cross-site, so that no web page a user visits can make their browser reload drwatch.
 *
 * Liveness is the time the loop last returned from epoll_wait (loop_polled_ms, at least once a
 * second while it runs): /-/healthy answers 503 once that is older than LIFECYCLE_UNHEALTHY_MS.
 * A timer would not do: timers can run while sockets starve, which is the failure to see. */
#ifndef DRWATCH_LIFECYCLE_H
#define DRWATCH_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>

struct loop;
struct http_server;
struct http_token;

#define LIFECYCLE_UNHEALTHY_MS 10000

/* Applies the config again; returns 0, or -1 with err filled (the old config stays). Runs on
 * the loop thread. */
typedef int (*lifecycle_reload_fn)(void *arg, char *err, size_t errlen);

struct lifecycle;

/* /-/healthy watches l; reload is what POST /-/reload runs. */
struct lifecycle *lifecycle_new(struct loop *l, lifecycle_reload_fn reload, void *arg);
void lifecycle_free(struct lifecycle *lc); /* NULL-safe */

/* Adds /-/healthy, /-/ready and /-/reload to s (whose loop is the one watched). /-/reload is
 * served only when enable_reload; token (borrowed, outlives s) is the bearer token it needs. */
void lifecycle_add_routes(struct lifecycle *lc, struct http_server *s, bool enable_reload,
                          const struct http_token *token);

/* From now on /-/ready answers 200. Any thread. */
void lifecycle_set_ready(struct lifecycle *lc);
bool lifecycle_is_ready(const struct lifecycle *lc);

#endif
