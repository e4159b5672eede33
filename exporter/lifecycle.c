/* lifecycle.c: /-/healthy, /-/ready and /-/reload (see lifecycle.h). The reload route runs on
 * the loop (HTTP_ON_LOOP), where the config is applied; the other two only read atomics. */
#include "lifecycle.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "clock.h"
#include "http_server.h"
#include "loop.h"
#include "xalloc.h"

struct lifecycle {
    const struct loop *loop;
    atomic_bool ready;
    lifecycle_reload_fn reload;
    void *arg;
};

struct lifecycle *lifecycle_new(struct loop *l, lifecycle_reload_fn reload, void *arg)
{
    struct lifecycle *lc = xcalloc(1, sizeof(*lc));
    lc->reload = reload;
    lc->arg = arg;
    lc->loop = l;
    return lc;
}

void lifecycle_free(struct lifecycle *lc)
{
    free(lc);
}

void lifecycle_set_ready(struct lifecycle *lc)
{
    atomic_store(&lc->ready, true);
}

bool lifecycle_is_ready(const struct lifecycle *lc)
{
    return atomic_load(&((struct lifecycle *)lc)->ready);
}

static void route_healthy(void *ctx, const struct http_request *req, struct http_reply *rep)
{
    (void)req;
    struct lifecycle *lc = ctx;
    int64_t age = time_mono_ms() - loop_polled_ms(lc->loop);
    if (age > LIFECYCLE_UNHEALTHY_MS) {
        rep->status = 503;
        (void)buf_printf(&rep->body,
                         "drwatch is unhealthy: the event loop has not polled for I/O for %.1fs\n",
                         (double)age / 1000.0);
        return;
    }
    (void)buf_puts(&rep->body, "drwatch is healthy.\n");
}

static void route_ready(void *ctx, const struct http_request *req, struct http_reply *rep)
{
    (void)req;
    if (!lifecycle_is_ready(ctx)) {
        rep->status = 503;
        (void)buf_puts(&rep->body,
                       "drwatch is not ready: the first collection is still running.\n");
        return;
    }
    (void)buf_puts(&rep->body, "drwatch is ready.\n");
}

/* On the loop thread. */
static void route_reload(void *ctx, const struct http_request *req, struct http_reply *rep)
{
    (void)req;
    struct lifecycle *lc = ctx;
    char err[1024];
    if (lc->reload(lc->arg, err, sizeof(err)) < 0) {
        rep->status = 500;
        (void)buf_printf(&rep->body, "failed to reload config: %s\n", err);
        return;
    }
    (void)buf_puts(&rep->body, "config reloaded\n");
}

void lifecycle_add_routes(struct lifecycle *lc, struct http_server *s, bool enable_reload,
                          const struct http_token *token)
{
    http_route_add(s, &(struct http_route){.path = "/-/healthy",
                                           .methods = "GET,HEAD",
                                           .stat = HANDLER_HEALTHY,
                                           .fn = route_healthy,
                                           .ctx = lc});
    http_route_add(s, &(struct http_route){.path = "/-/ready",
                                           .methods = "GET,HEAD",
                                           .stat = HANDLER_READY,
                                           .fn = route_ready,
                                           .ctx = lc});
    /* A reload takes no body: max_body 0 refuses any with 413 unread. */
    http_route_add(s, &(struct http_route){
                          .path = "/-/reload",
                          .methods = "POST,PUT",
                          .stat = HANDLER_RELOAD,
                          .flags = HTTP_ON_LOOP | HTTP_SAME_SITE_WITHOUT_TOKEN,
                          .token = token,
                          .off = enable_reload ? NULL
                                               : "403 forbidden: /-/reload is off; start drwatch "
                                                 "with --web.enable-lifecycle to serve it (SIGHUP "
                                                 "reloads in any case)\n",
                          .fn = route_reload,
                          .ctx = lc});
}
