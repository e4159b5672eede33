/* http_route.c: the decisions drwatch makes from a request's line and head (see http_route.h):
 * plain functions over strings, so that a fuzz target and unit tests need no socket. Uses the
 * token holders of http_auth.c for the credentials check. */
#include "http_route.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_auth.h"

static unsigned refuse(struct http_verdict *v, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static unsigned refuse(struct http_verdict *v, unsigned status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->text, sizeof(v->text), fmt, ap);
    va_end(ap);
    v->status = status;
    return status;
}

unsigned http_uri_check(const char *uri, struct http_verdict *v)
{
    memset(v, 0, sizeof(*v));
    size_t len = strnlen(uri, HTTP_MAX_URI + 1);
    v->close = true; /* for a refusal: libmicrohttpd has not read the head yet */
    if (len > HTTP_MAX_URI)
        return refuse(v, 414, "414 URI too long: over %d bytes\n", HTTP_MAX_URI);
    const char *q = strchr(uri, '?');
    size_t n = q && q[1] ? 1 : 0;
    for (const char *p = q ? q + 1 : ""; *p; p++) n += *p == '&';
    if (n > HTTP_MAX_QUERY_ARGS)
        return refuse(v, 400, "400 bad request: %zu query parameters, at most %d\n", n,
                      HTTP_MAX_QUERY_ARGS);
    v->close = false;
    return 0;
}

const char *http_kv_header(const struct http_kv *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(v[i].key, name) == 0) return v[i].value;
    return NULL;
}

/* s equals word, ignoring case and the blanks around s. */
static bool blank_equal(const char *s, const char *word)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(word);
    if (strncasecmp(s, word, n) != 0) return false;
    for (s += n; *s == ' ' || *s == '\t'; s++) {
    }
    return *s == '\0';
}

/* RFC 9110's token characters: what a field name is made of. */
static bool is_token(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s)))
            return false;
    return true;
}

/* Whether "chunked" is the last of a comma list of transfer codings. */
static bool chunked_last(const char *te)
{
    const char *comma = strrchr(te, ',');
    return blank_equal(comma ? comma + 1 : te, "chunked");
}

/* Content-Length and Transfer-Encoding: one way to read the body, or 400 and close (501 for a
 * coding drwatch does not decode). RFC 9112 sections 6.1 and 6.3. */
static unsigned check_framing(const struct http_head *h, struct http_verdict *v)
{
    const char *cl = NULL, *te = NULL;
    size_t ncl = 0, nte = 0;
    for (size_t i = 0; i < h->nheaders; i++) {
        const char *k = h->headers[i].key;
        if (!is_token(k)) {
            v->close = true;
            return refuse(v, 400,
                          "400 bad request: a header field name \"%.40s\" that is not a "
                          "token\n",
                          k);
        }
        if (strcasecmp(k, "Content-Length") == 0) cl = h->headers[i].value, ncl++;
        if (strcasecmp(k, "Transfer-Encoding") == 0) te = h->headers[i].value, nte++;
    }
    v->close = ncl > 1 || nte > 0; /* the refusals below; reset when the framing is fine */
    if (ncl > 1) return refuse(v, 400, "400 bad request: more than one Content-Length\n");
    if (nte && ncl)
        return refuse(v, 400, "400 bad request: Content-Length with Transfer-Encoding\n");
    if (nte > 1 || (te && !chunked_last(te)))
        return refuse(v, 400, "400 bad request: Transfer-Encoding must end in chunked\n");
    if (te && !blank_equal(te, "chunked"))
        return refuse(v, 501, "501 not implemented: Transfer-Encoding %.60s\n", te);
    v->close = false;
    if (te) {
        v->body = v->chunked = true;
    } else if (cl) {
        char *end;
        while (*cl == ' ' || *cl == '\t') cl++;
        unsigned long long n = strtoull(cl, &end, 10);
        while (*end == ' ' || *end == '\t') end++;
        if (*cl < '0' || *cl > '9' || *end || strnlen(cl, 20) > 19) {
            v->close = true;
            return refuse(v, 400, "400 bad request: Content-Length \"%.30s\"\n", cl);
        }
        v->body_len = n;
        v->body = n > 0;
    }
    return 0;
}

static bool method_allowed(const char *methods, const char *m)
{
    size_t n = strlen(m);
    for (const char *p = methods; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, m, n) == 0) return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

static bool is_read(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* "GET,HEAD" as an Allow header: "GET, HEAD". */
static void set_allow(struct http_verdict *v, const char *methods)
{
    size_t n = 0;
    for (const char *m = methods; *m && n + 3 < sizeof(v->allow); m++) {
        v->allow[n++] = *m;
        if (*m == ',') v->allow[n++] = ' ';
    }
    v->allow[n] = '\0';
}

static unsigned not_found(const struct http_route *routes, size_t n, const char *path,
                          struct http_verdict *v)
{
    int len = snprintf(v->text, sizeof(v->text), "404 not found: %.200s\nendpoints:", path);
    for (size_t i = 0; i < n && len > 0 && (size_t)len < sizeof(v->text); i++)
        len += snprintf(v->text + len, sizeof(v->text) - (size_t)len, "%s %s", i ? "," : "",
                        routes[i].path);
    if (len > 0 && (size_t)len + 1 < sizeof(v->text)) strcat(v->text, "\n");
    v->status = 404;
    return 404;
}

/* Credentials of a write to rt: its token, or (HTTP_SAME_SITE_WITHOUT_TOKEN, no token set) a
 * request that is not cross-site. */
static unsigned check_write(const struct http_route *rt, const struct http_head *h,
                            struct http_verdict *v)
{
    const struct http_kv *hd = h->headers;
    size_t n = h->nheaders;
    enum http_auth a = rt->token
                           ? http_token_check(rt->token, http_kv_header(hd, n, "Authorization"))
                           : HTTP_AUTH_UNSET;
    const char *source = rt->token ? http_token_source(rt->token) : "no token file";
    if (a == HTTP_AUTH_OK) return 0;
    if (a == HTTP_AUTH_UNSET && (rt->flags & HTTP_SAME_SITE_WITHOUT_TOKEN)) {
        if (!http_cross_site(http_kv_header(hd, n, "Origin"),
                             http_kv_header(hd, n, "Sec-Fetch-Site"),
                             http_kv_header(hd, n, "Host")))
            return 0;
        return refuse(v, 403,
                      "403 forbidden: %s %s from a page of another site is refused; set a bearer "
                      "token (%s) to call it from anywhere\n",
                      h->method, rt->path, source);
    }
    v->unauthorized = true;
    if (a == HTTP_AUTH_UNSET)
        return refuse(v, 401,
                      "401 unauthorized: %s %s needs a bearer token, and none is set (%s)\n",
                      h->method, rt->path, source);
    return refuse(v, 401, "401 unauthorized: %s %s needs Authorization: Bearer <token> (%s)\n",
                  h->method, rt->path, source);
}

bool http_path_matches(const char *route, const char *path)
{
    size_t n = strlen(route);
    if (n > 1 && route[n - 1] == '/') /* a subtree: /api/v1/plans/ takes /api/v1/plans/<id> */
        return strncmp(route, path, n) == 0 && path[n] && !strchr(path + n, '/');
    return strcmp(route, path) == 0;
}

unsigned http_decide(const struct http_route *routes, size_t n, const struct http_head *h,
                     struct http_verdict *v)
{
    memset(v, 0, sizeof(*v));
    if (check_framing(h, v)) return v->status;
    const struct http_route *rt = NULL;
    for (size_t i = 0; i < n && !rt; i++)
        if (http_path_matches(routes[i].path, h->path)) rt = &routes[i];
    if (!rt) return not_found(routes, n, h->path, v);
    v->route = rt;
    if (!method_allowed(rt->methods, h->method)) {
        set_allow(v, rt->methods);
        return refuse(v, 405, "405 method not allowed: %s accepts %s, not %.20s\n", rt->path,
                      v->allow, h->method);
    }
    if (rt->off) return refuse(v, 403, "%s", rt->off);
    bool read = is_read(h->method);
    if (!read && (rt->token || (rt->flags & HTTP_SAME_SITE_WITHOUT_TOKEN)) && check_write(rt, h, v))
        return v->status;
    if (read) {
        v->skip_body = v->body; /* a GET's body means nothing: not read, and the connection
                                   closes after the answer so that it is not taken for a request */
        return 0;
    }
    if (v->body && (v->chunked ? rt->max_body == 0 : v->body_len > rt->max_body))
        return refuse(v, 413, "413 request body over %zu bytes for %s\n", rt->max_body, rt->path);
    return 0;
}

/* ---- negotiation ---- */

/* The q value of one media range ("type/sub;a=b;q=0.5"), 1 when absent. */
static double media_q(const char *p, const char *end)
{
    for (const char *q = p; q + 2 < end; q++) {
        if (*q == ';') {
            const char *t = q + 1;
            while (t < end && *t == ' ') t++;
            if (end - t > 2 && (t[0] == 'q' || t[0] == 'Q') && t[1] == '=') return atof(t + 2);
        }
    }
    return 1.0;
}

enum expo_format http_negotiate_format(const char *accept)
{
    if (!accept) return EXPO_TEXT;
    double om = 0, text = 0;
    for (const char *p = accept; *p;) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        while (p < end && *p == ' ') p++;
        size_t n = (size_t)(end - p);
        double q = media_q(p, end);
        /* OpenMetrics 1.0.0, or OpenMetrics without a version (which means the newest). */
        if (n >= 28 && strncasecmp(p, "application/openmetrics-text", 28) == 0) {
            const char *v = strstr(p, "version=");
            if ((!v || v >= end || strncmp(v + 8, "1.0.0", 5) == 0) && q > om) om = q;
        } else if (n >= 10 && strncasecmp(p, "text/plain", 10) == 0 && q > text) {
            text = q;
        }
        p = *end ? end + 1 : end;
    }
    return om > 0 && om >= text ? EXPO_OPENMETRICS : EXPO_TEXT;
}

bool http_accepts_gzip(const char *ae)
{
    if (!ae) return false;
    for (const char *p = ae; *p;) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        while (p < end && *p == ' ') p++;
        if ((end - p >= 4 && strncasecmp(p, "gzip", 4) == 0 &&
             (p + 4 == end || p[4] == ';' || p[4] == ' ')) ||
            (end - p >= 1 && *p == '*' && (p + 1 == end || p[1] == ';')))
            return media_q(p, end) > 0;
        p = *end ? end + 1 : end;
    }
    return false;
}
