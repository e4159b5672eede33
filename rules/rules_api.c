/* rules_api.c: the published /api/v1/alerts document (see rules_api.h), guarded by a mutex
 * because the loop publishes and HTTP threads read, and the status page's alerts section,
 * made from the same document so that the page and the API never disagree. */
#include "rules_api.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http_server.h"
#include "status_page.h"
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

/* ---- the status page's section ---- */

static void alert_labels(struct buf *b, json_t *labels)
{
    const char *k;
    json_t *v;
    bool first = true;
    json_object_foreach(labels, k, v)
    {
        if (strcmp(k, "alertname") == 0 || !json_is_string(v)) continue;
        (void)buf_puts(b, first ? "" : ", ");
        status_page_put_html(b, k);
        (void)buf_puts(b, "=");
        status_page_put_html(b, json_string_value(v));
        first = false;
    }
}

static void alert_row(struct buf *b, json_t *a)
{
    json_t *labels = json_object_get(a, "labels"), *ann = json_object_get(a, "annotations");
    const char *name = json_string_value(json_object_get(labels, "alertname"));
    const char *state = json_string_value(json_object_get(a, "state"));
    const char *since = json_string_value(json_object_get(a, "activeAt"));
    const char *summary = json_string_value(json_object_get(ann, "summary"));
    if (!summary) summary = json_string_value(json_object_get(ann, "description"));
    bool firing = state && strcmp(state, "firing") == 0;
    (void)buf_puts(b, "<tr><td><b>");
    status_page_put_html(b, name ? name : "?");
    (void)buf_printf(b, "</b></td><td class=\"%s\">", firing ? "bad" : "warn");
    status_page_put_html(b, state ? state : "?");
    (void)buf_puts(b, "</td><td>");
    alert_labels(b, labels);
    (void)buf_puts(b, "</td><td>");
    status_page_put_html(b, summary ? summary : "");
    (void)buf_puts(b, "</td><td>");
    status_page_put_html(b, since ? since : "");
    (void)buf_puts(b, "</td></tr>\n");
}

/* Firing alerts first, then pending, each in the document's order. */
static void alerts_table(struct buf *b, json_t *alerts)
{
    (void)buf_puts(b, "<div class=\"scroll\"><table><tr><th>alert</th><th>state</th>"
                      "<th>labels</th><th>summary</th><th>active since</th></tr>\n");
    size_t shown = 0, i;
    json_t *a;
    for (int pass = 0; pass < 2; pass++) json_array_foreach(alerts, i, a)
        {
            const char *st = json_string_value(json_object_get(a, "state"));
            bool firing = st && strcmp(st, "firing") == 0;
            if (firing != (pass == 0)) continue;
            if (shown++ < RULES_PAGE_ALERTS_MAX) alert_row(b, a);
        }
    (void)buf_puts(b, "</table></div>\n");
    if (shown > RULES_PAGE_ALERTS_MAX)
        (void)buf_printf(b, "<p class=\"muted\">%zu more: see /api/v1/alerts.</p>\n",
                         shown - RULES_PAGE_ALERTS_MAX);
}

void rules_api_page_html(void *arg, struct buf *b)
{
    struct rules_api *a = arg;
    pthread_mutex_lock(&a->lock);
    json_t *doc = a->json ? json_loads(a->json, 0, NULL) : NULL;
    bool rules = a->json != NULL;
    pthread_mutex_unlock(&a->lock);
    json_t *alerts = json_object_get(json_object_get(doc, "data"), "alerts");
    size_t n = json_array_size(alerts), firing = 0, i;
    json_t *al;
    json_array_foreach(alerts, i, al)
    {
        const char *st = json_string_value(json_object_get(al, "state"));
        firing += st && strcmp(st, "firing") == 0;
    }
    if (!rules)
        (void)buf_puts(b, "<p class=\"muted\">No rules loaded (or not evaluated yet).</p>\n");
    else if (!n)
        (void)buf_puts(b, "<p class=\"ok\">No alert is firing or pending.</p>\n");
    else {
        (void)buf_printf(b, "<p><span class=\"%s\">%zu firing</span>, %zu pending.</p>\n",
                         firing ? "bad" : "ok", firing, n - firing);
        alerts_table(b, alerts);
    }
    json_decref(doc);
}
