/* test_http_route.c: what the HTTP server decides from a request's line and head
 * (http_route.h), its token holders and cross-site test (http_auth.h), and how the connection
 * cap is fitted under the open-file limit (http_conns.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_auth.h"
#include "http_conns.h"
#include "http_route.h"
#include "tap.h"

static void fn(void *ctx, const struct http_request *req, struct http_reply *rep)
{
    (void)ctx, (void)req, (void)rep;
}

static struct http_token *token;
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
    is_int(decide("POST", "/api", "Transfer-Encoding", " Chunked ", NULL, NULL, &v), 401,
           "chunked is read (then the token is checked)");
}

static void test_routes(void)
{
    struct http_verdict v;
    is_int(decide("GET", "/nope", NULL, NULL, NULL, NULL, &v), 404, "unknown path: 404");
    ok(strstr(v.text, "/metrics, /-/reload, /api, /off") != NULL, "... listing the endpoints: %s",
       v.text);
    is_int(decide("POST", "/metrics", NULL, NULL, NULL, NULL, &v), 405, "POST /metrics: 405");
    is_str(v.allow, "GET, HEAD", "... Allow: GET, HEAD");
    is_int(decide("POST", "/off", "Content-Length", "99", NULL, NULL, &v), 403,
           "a route switched off: 403 before its body");
    is_str(v.text, "403 off\n", "... with its text");
    is_int(decide("POST", "/api", "Authorization", "Bearer s3cret", "Content-Length", "65537", &v),
           413, "a body over the route's cap: 413");
    is_int(decide("POST", "/api", "Authorization", "Bearer s3cret", "Content-Length", "65536", &v),
           0, "a body at the cap: read");
    ok(v.body && !v.chunked && v.body_len == 65536, "... its length known");
    is_int(decide("GET", "/api", NULL, NULL, NULL, NULL, &v), 0, "GET needs no token");
}

static void test_credentials(void)
{
    struct http_verdict v;
    is_int(decide("POST", "/api", NULL, NULL, NULL, NULL, &v), 401, "no token: 401");
    ok(v.unauthorized && strstr(v.text, "--web.token-file"), "... saying where it comes from");
    is_int(decide("POST", "/api", "Authorization", "Bearer s3cre", NULL, NULL, &v), 401,
           "a prefix of the token: 401");
    is_int(decide("POST", "/api", "Authorization", "bearer   s3cret  ", NULL, NULL, &v), 0,
           "the scheme in any case, blanks around the token: accepted");
    is_int(decide("POST", "/-/reload", "Authorization", "Bearer s3cret", NULL, NULL, &v), 0,
           "a same-site route with its token set takes the token");
    is_int(decide("POST", "/-/reload", NULL, NULL, NULL, NULL, &v), 401, "... and needs it");
    http_token_set(token, NULL);
    is_int(decide("POST", "/-/reload", NULL, NULL, NULL, NULL, &v), 0,
           "no token set: a request with neither Origin nor Sec-Fetch-Site passes");
    is_int(decide("POST", "/-/reload", "Origin", "http://evil.example", NULL, NULL, &v), 403,
           "... one from another origin is refused");
    is_int(decide("POST", "/-/reload", "Origin", "http://127.0.0.1:8488", "Sec-Fetch-Site",
                  "same-origin", &v),
           0, "... one from drwatch's own page passes");
    is_int(decide("POST", "/api", NULL, NULL, NULL, NULL, &v), 401,
           "a token route without its token set refuses every write");
    http_token_set(token, "s3cret");
    ok(http_cross_site(NULL, "cross-site", NULL) && http_cross_site(NULL, "same-site", NULL) &&
           !http_cross_site(NULL, "none", NULL) && http_cross_site("null", NULL, "h") &&
           !http_cross_site("HTTPS://H:1", NULL, "h:1") && http_cross_site("http://h", NULL, NULL),
       "http_cross_site: Sec-Fetch-Site, Origin null, scheme and case, no Host");
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

static void test_token_file(void)
{
    char path[] = "/tmp/test_http_route_XXXXXX", err[256];
    int fd = mkstemp(path);
    struct http_token *t = http_token_new("--web.token-file");
    ok(write(fd, " \n\t\n", 4) == 4 && http_token_load(t, path, err, sizeof(err)) < 0 &&
           strstr(err, "empty"),
       "an empty token file is refused: %s", err);
    is_int(http_token_check(t, "Bearer x"), HTTP_AUTH_UNSET, "... and no token is set");
    FILE *f = fopen(path, "w");
    fputs("tok en\r\n", f);
    fclose(f);
    is_int(http_token_load(t, path, err, sizeof(err)), 0, "a token file with a newline");
    is_int(http_token_check(t, "Bearer tok en"), HTTP_AUTH_OK, "... is the text without it");
    is_int(http_token_check(t, "Basic dG9rOmVu"), HTTP_AUTH_MISSING, "Basic is not Bearer");
    unlink(path);
    ok(http_token_load(t, path, err, sizeof(err)) < 0, "a missing file: %s", err);
    is_int(http_token_check(t, "Bearer tok en"), HTTP_AUTH_OK, "... keeps the token");
    close(fd);
    http_token_free(t);
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

static void test_path_matches(void)
{
    ok(http_path_matches("/metrics", "/metrics"), "an exact route takes its path");
    ok(!http_path_matches("/metrics", "/metrics/x") && !http_path_matches("/metrics", "/metric"),
       "and nothing else");
    ok(http_path_matches("/api/v1/plans/", "/api/v1/plans/gold-1-abcd"),
       "a route ending in / takes one segment after it");
    ok(!http_path_matches("/api/v1/plans/", "/api/v1/plans/") &&
           !http_path_matches("/api/v1/plans/", "/api/v1/plans/a/b") &&
           !http_path_matches("/api/v1/plans/", "/api/v1/plansx"),
       "but not an empty segment, two segments, or a longer name");
    ok(http_path_matches("/", "/") && !http_path_matches("/", "/x"), "/ is exact");
}

int main(void)
{
    test_path_matches();
    token = http_token_new("--web.token-file");
    http_token_set(token, "s3cret");
    routes[0] = (struct http_route){.path = "/metrics", .methods = "GET,HEAD"};
    routes[1] = (struct http_route){.path = "/-/reload",
                                    .methods = "POST",
                                    .flags = HTTP_SAME_SITE_WITHOUT_TOKEN,
                                    .token = token,
                                    .fn = fn};
    routes[2] = (struct http_route){
        .path = "/api", .methods = "GET,POST", .max_body = 65536, .token = token, .fn = fn};
    routes[3] =
        (struct http_route){.path = "/off", .methods = "POST", .off = "403 off\n", .fn = fn};
    test_framing();
    test_routes();
    test_credentials();
    test_uri();
    test_token_file();
    test_fit();
    http_token_free(token);
    return done_testing();
}
