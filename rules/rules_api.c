/* rules_api.c: the published /api/v1/alerts document (see rules_api.h), guarded by a mutex
 * because the loop publishes and HTTP threads read. */
#include "rules_api.h"

#include <pthread.h>
#include <stdlib.h>

#include "buf.h"
#include "http_server.h"
#include "xalloc.h"

#define NO_ALERTS "{\"status\":\"success\",\"data\":{\"alerts\":[]}}"

struct rules_api {
    pthread_mutex_t lock;
    char *json;
};

struct rules_api *rules_api_new(void)
{
    struct rules_api *a = xcalloc(1, sizeof(*a));
    pthread_mutex_init(&a->lock, NULL);
    return a;
}

void rules_api_free(struct rules_api *a)
{
    if (!a) return;
    free(a->json);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

void rules_api_publish(struct rules_api *a, char *json)
{
    pthread_mutex_lock(&a->lock);
    free(a->json);
    a->json = json;
    pthread_mutex_unlock(&a->lock);
}

static void route_alerts(void *ctx, const struct http_request *req, struct http_reply *rep)
{
    (void)req;
    struct rules_api *a = ctx;
    rep->content_type = "application/json";
    pthread_mutex_lock(&a->lock);
    if (buf_puts(&rep->body, a->json ? a->json : NO_ALERTS) < 0) {
        rep->status = 500;
        rep->content_type = NULL;
        buf_reset(&rep->body);
        (void)buf_puts(&rep->body, "the alerts document is over the reply cap\n");
    }
    pthread_mutex_unlock(&a->lock);
}

void rules_api_add_route(struct rules_api *a, struct http_server *s)
{
    http_route_add(s, &(struct http_route){.path = "/api/v1/alerts",
                                           .methods = "GET,HEAD",
                                           .stat = HANDLER_API,
                                           .fn = route_alerts,
                                           .ctx = a});
}
