/* http_auth.h: what the HTTP server checks before a route may change anything: a bearer
 * token, and whether a browser sent the request from another site.
 *
 * A token lives in a holder that the loop sets (at start and on reload) and HTTP threads
 * read, so a route can be checked on an HTTP thread before its body is read. A browser can
 * send a cross-site POST (a form, or fetch with text/plain) without asking, but never with an
 * Authorization header it was not given: a required token is what stops cross-site requests.
 * Where a route is open without a token, Origin and Sec-Fetch-Site tell the browser's
 * cross-site requests apart (http_cross_site). */
#ifndef DRWATCH_HTTP_AUTH_H
#define DRWATCH_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_TOKEN_MAX 4096 /* bytes of a token file */

struct http_token;

/* A holder without a token. source says where its token comes from ("--web.token-file"),
 * for the answers that ask for one; it is copied. */
struct http_token *http_token_new(const char *source);
void http_token_free(struct http_token *t); /* NULL-safe; wipes the token */

/* Sets the token (copied; NULL or "" for none). Any thread. */
void http_token_set(struct http_token *t, const char *token);
/* Reads the token from path: the file's text without trailing white space. Returns 0, or -1
 * with err filled (missing, unreadable, empty, over HTTP_TOKEN_MAX): the token stays. */
int http_token_load(struct http_token *t, const char *path, char *err, size_t errlen);
const char *http_token_source(const struct http_token *t);

enum http_auth {
    HTTP_AUTH_OK,      /* the header carries the token */
    HTTP_AUTH_UNSET,   /* the holder has no token */
    HTTP_AUTH_MISSING, /* no "Bearer" credentials */
    HTTP_AUTH_WRONG,   /* another token */
};
/* Checks an Authorization header (NULL when absent) against the holder, in time that does not
 * depend on where the two differ. Any thread. */
enum http_auth http_token_check(const struct http_token *t, const char *authorization);

/* Whether an Authorization header carries "Bearer <want>", compared in constant time; false
 * when want is NULL. For a part that keeps its own token (the alerting section's). */
bool http_bearer_matches(const char *authorization, const char *want);

/* Whether a browser sent the request from another origin: Sec-Fetch-Site is there and not
 * "same-origin" or "none", or Origin is there and is not http(s)://<Host>. A request with
 * neither (curl, scripts, Prometheus) is not cross-site. Any argument may be NULL. */
bool http_cross_site(const char *origin, const char *sec_fetch_site, const char *host);

#endif
