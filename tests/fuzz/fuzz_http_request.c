/* fuzz_http_request.c: arbitrary bytes as the head of an HTTP request ("METHOD URI VERSION",
 * then "Name: value" lines), through what drwatch itself decides from it before reading a
 * body (http_route.h): the request-line check, the framing, routing, credentials and body
 * size against a route table like the daemon's, and the /metrics negotiation of every header
 * value. Invariants: every verdict is one of the answers drwatch gives, with its text; a
 * request let through names a route that takes its method, within its body cap; two
 * Content-Lengths, or one with Transfer-Encoding, are always refused and closed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_auth.h"
#include "http_route.h"

#define MAX_LINES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void route_fn(void *ctx, const struct http_request *req, struct http_reply *rep)
{
    (void)ctx, (void)req, (void)rep;
}

static const char *OFF = "403 forbidden: /-/reload is off\n";

/* Checks what a verdict may be. */
static void check(const struct http_route *routes, size_t n, const struct http_head *h,
                  const struct http_verdict *v)
{
    size_t cl = 0, te = 0;
    for (size_t i = 0; i < h->nheaders; i++) {
        cl += strcasecmp(h->headers[i].key, "Content-Length") == 0;
        te += strcasecmp(h->headers[i].key, "Transfer-Encoding") == 0;
    }
    if ((cl > 1 || (cl && te)) && !(v->status == 400 && v->close)) abort();
    switch (v->status) {
    case 0:
        if (!v->route || v->route < routes || v->route >= routes + n) abort();
        if (!strstr(v->route->methods, h->method)) abort();
        if (v->body && !v->skip_body &&
            (v->chunked ? v->route->max_body == 0 : v->body_len > v->route->max_body))
            abort();
        return;
    case 401:
        if (!v->unauthorized) abort();
        break;
    case 405:
        if (!v->allow[0]) abort();
        break;
    case 400:
    case 403:
    case 404:
    case 413:
    case 414:
    case 501: break;
    default: abort();
    }
    char code[8];
    snprintf(code, sizeof(code), "%u ", v->status);
    if (strncmp(v->text, code, 4) != 0 || !memchr(v->text, '\0', sizeof(v->text))) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    /* The request line, then header lines; a line without a colon is skipped, as MHD would
     * refuse the request before drwatch saw it. */
    char *save = NULL, *words = NULL, *line = strtok_r(text, "\r\n", &save);
    char *method = line ? strtok_r(line, " ", &words) : NULL;
    char *uri = method ? strtok_r(NULL, " ", &words) : NULL;
    struct http_kv hv[MAX_LINES];
    size_t nh = 0;
    for (char *l; nh < MAX_LINES && (l = strtok_r(NULL, "\r\n", &save));) {
        char *colon = strchr(l, ':');
        if (!colon) continue;
        *colon = '\0';
        char *value = colon + 1;
        while (*value == ' ' || *value == '\t') value++;
        hv[nh++] = (struct http_kv){l, value};
    }
    struct http_token *token = http_token_new("--web.token-file");
    struct http_token *unset = http_token_new("alerting.api_token_file");
    http_token_set(token, "s3cret");
    const struct http_route routes[] = {
        {.path = "/metrics", .methods = "GET,HEAD", .stat = HANDLER_METRICS},
        {.path = "/-/healthy", .methods = "GET,HEAD", .fn = route_fn},
        {.path = "/federate", .methods = "GET,HEAD", .flags = HTTP_ON_WORKER, .fn = route_fn},
        {.path = "/-/reload",
         .methods = "POST,PUT",
         .flags = HTTP_ON_LOOP | HTTP_SAME_SITE_WITHOUT_TOKEN,
         .token = token,
         .fn = route_fn},
        {.path = "/-/off", .methods = "POST", .off = OFF, .fn = route_fn},
        {.path = "/-/open",
         .methods = "POST",
         .flags = HTTP_SAME_SITE_WITHOUT_TOKEN,
         .token = unset,
         .max_body = 16,
         .fn = route_fn},
        {.path = "/api/v1/silences",
         .methods = "GET,HEAD,POST,DELETE",
         .max_body = 65536,
         .token = token,
         .fn = route_fn},
    };
    size_t nroutes = sizeof(routes) / sizeof(routes[0]);
    struct http_verdict v;
    if (method && uri && http_uri_check(uri, &v) == 0) {
        char *q = strchr(uri, '?');
        if (q) *q = '\0';
        struct http_head h = {.method = method, .path = uri, .headers = hv, .nheaders = nh};
        http_decide(routes, nroutes, &h, &v);
        check(routes, nroutes, &h, &v);
    } else if (method && uri && v.status != 400 && v.status != 414) {
        abort();
    }
    for (size_t i = 0; i < nh; i++) {
        enum expo_format f = http_negotiate_format(hv[i].value);
        if (f != EXPO_TEXT && f != EXPO_OPENMETRICS) abort();
        (void)http_accepts_gzip(hv[i].value);
        (void)http_cross_site(hv[i].value, i ? hv[i - 1].value : NULL, hv[0].value);
    }
    http_token_free(token);
    http_token_free(unset);
    free(text);
    return 0;
}
