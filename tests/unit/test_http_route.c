/* test_http_route.c: what the HTTP server decides from a request's line and head
 * (http_route.h), and how the connection cap is fitted under the open-file limit
 * (http_conns.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_conns.h"
#include "http_route.h"
#include "tap.h"

static void fn(void *ctx, const struct http_request *req, struct http_reply *rep)
{
    (void)ctx, (void)req, (void)rep;
}

static struct http_route routes[4];

static unsigned decide(const char *method, const char *path, const char *h1, const char *v1,
                       const char *h2, const char *v2, struct http_verdict *v)
{
    struct http_kv hv[3] = {{"Host", "127.0.0.1:8488"}, {h1, v1}, {h2, v2}};
    struct http_head h = {method, path, hv, h2 ? 3 : h1 ? 2 : 1};
    return http_decide(routes, 4, &h, v);
}

static void test_framing(void)
{
    struct http_verdict v;
    is_int(decide("POST", "/api", "Content-Length", "3", "Content-Length", "3", &v), 400,
           "two Content-Lengths, even equal: 400");
    ok(v.close, "... and the connection closes");
    is_int(decide("POST", "/api", "Content-Length", "3", "Transfer-Encoding", "chunked", &v), 400,
           "Content-Length with Transfer-Encoding: 400");
    is_int(decide("POST", "/api", "Transfer-Encoding", "gzip", NULL, NULL, &v), 400,
           "Transfer-Encoding not ending in chunked: 400");
    is_int(decide("POST", "/api", "Transfer-Encoding", "gzip, chunked", NULL, NULL, &v), 501,
           "gzip, chunked: 501 (a coding drwatch does not decode)");
    is_int(decide("POST", "/api", "Content-Length", "1e3", NULL, NULL, &v), 400,
           "a Content-Length that is not digits: 400");
    is_int(decide("POST", "/api", "Content Length", "3", NULL, NULL, &v), 400,
           "a field name with a space: 400");
    is_int(decide("GET", "/metrics", "Content-Length", "5", NULL, NULL, &v), 0,
           "GET with a body: served");
    ok(v.skip_body && v.route == &routes[0], "... without reading the body");
    is_int(decide("POST", "/api", "Transfer-Encoding", " Chunked ", NULL, NULL, &v), 0,
           "chunked is read");
    ok(v.body && v.chunked, "... its length unknown");
}

static void test_routes(void)
{
    struct http_verdict v;
    is_int(decide("GET", "/nope", NULL, NULL, NULL, NULL, &v), 404, "unknown path: 404");
    ok(strstr(v.text, "/metrics, /-/reload, /api, /off") != NULL, "... listing the endpoints: %s",
       v.text);
    is_int(decide("POST", "/metrics", NULL, NULL, NULL, NULL, &v), 405, "POST /metrics: 405");
    is_str(v.allow, "GET, HEAD", "... Allow: GET, HEAD");
    is_int(decide("POST", "/api", "Authorization", "Bearer s3cret", "Content-Length", "65537", &v),
           413, "a body over the route's cap: 413");
    is_int(decide("POST", "/api", "Authorization", "Bearer s3cret", "Content-Length", "65536", &v),
           0, "a body at the cap: read");
    ok(v.body && !v.chunked && v.body_len == 65536, "... its length known");
}

static void test_uri(void)
{
    struct http_verdict v;
    char uri[HTTP_MAX_URI + 2];
    memset(uri, 'a', sizeof(uri) - 1);
    uri[0] = '/';
    uri[sizeof(uri) - 1] = '\0';
    is_int(http_uri_check(uri, &v), 414, "a URI over %d bytes: 414", HTTP_MAX_URI);
    uri[HTTP_MAX_URI] = '\0';
    is_int(http_uri_check(uri, &v), 0, "at %d bytes: fine", HTTP_MAX_URI);
    char q[1024] = "/metrics?";
    for (int i = 0; i < HTTP_MAX_QUERY_ARGS; i++) strcat(q, i ? "&a" : "a");
    is_int(http_uri_check(q, &v), 0, "%d query parameters: fine", HTTP_MAX_QUERY_ARGS);
    strcat(q, "&");
    is_int(http_uri_check(q, &v), 400, "one more (even empty): 400");
    ok(v.close, "... and the connection closes");
}

static void test_fit(void)
{
    char note[512];
    struct http_limits l = {.max_connections = 512};
    is_int(http_limits_fit(&l, 1024, note, sizeof(note)), 0, "512 fit under 1024 less 256");
    ok(l.max_connections == 512 && !note[0], "... unchanged, nothing to say");
    is_int(http_limits_fit(&l, 600, note, sizeof(note)), 0, "under 600 they do not");
    ok(l.max_connections == 344 && strstr(note, "lowered from 512 to 344"), "... lowered: %s",
       note);
    is_int(http_limits_fit(&l, 256 + 15, note, sizeof(note)), -1, "room for 15: refuse to start");
    ok(strstr(note, "raise it") != NULL, "... saying what to do: %s", note);
}

int main(void)
{
    routes[0] = (struct http_route){.path = "/metrics", .methods = "GET,HEAD"};
    routes[1] = (struct http_route){.path = "/-/reload", .methods = "POST", .fn = fn};
    routes[2] =
        (struct http_route){.path = "/api", .methods = "GET,POST", .max_body = 65536, .fn = fn};
    routes[3] = (struct http_route){.path = "/off", .methods = "POST", .fn = fn};
    test_framing();
    test_routes();
    test_uri();
    test_fit();
    return done_testing();
}
