/* http_auth.c: token holders and the cross-site test (see http_auth.h). A holder is a mutex
 * and a copy: the loop replaces the token on reload while HTTP threads compare against it. */
#include "http_auth.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fileio.h"
#include "xalloc.h"

struct http_token {
    pthread_mutex_t lock;
    char *token; /* NULL: none */
    char *source;
};

struct http_token *http_token_new(const char *source)
{
    struct http_token *t = xcalloc(1, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    t->source = xstrdup(source);
    return t;
}

static void wipe(char *s)
{
    if (s) memset(s, 0, strlen(s));
    free(s);
}

void http_token_free(struct http_token *t)
{
    if (!t) return;
    wipe(t->token);
    free(t->source);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

void http_token_set(struct http_token *t, const char *token)
{
    char *copy = token && token[0] ? xstrdup(token) : NULL;
    pthread_mutex_lock(&t->lock);
    char *old = t->token;
    t->token = copy;
    pthread_mutex_unlock(&t->lock);
    wipe(old);
}

int http_token_load(struct http_token *t, const char *path, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc = file_read_all(path, HTTP_TOKEN_MAX, &text, &len);
    if (rc < 0) {
        snprintf(err, errlen, "token file %s: %s", path,
                 rc == -E2BIG ? "over 4096 bytes" : strerror(-rc));
        return -1;
    }
    while (len && isspace((unsigned char)text[len - 1])) text[--len] = '\0';
    if (len == 0 || strlen(text) != len) {
        snprintf(err, errlen, "token file %s: %s", path,
                 len ? "holds a NUL byte" : "is empty (a token is required)");
        wipe(text);
        return -1;
    }
    http_token_set(t, text);
    wipe(text);
    return 0;
}

const char *http_token_source(const struct http_token *t)
{
    return t->source;
}

/* Compares in time that depends only on the length of want. */
static bool equal_const_time(const char *given, size_t glen, const char *want)
{
    size_t wlen = strlen(want);
    unsigned char diff = glen != wlen;
    for (size_t i = 0; i < wlen; i++)
        diff |= (unsigned char)want[i] ^ (unsigned char)(i < glen ? given[i] : 0);
    return diff == 0;
}

/* The credentials of "Bearer <token>" (trailing white space dropped), or NULL. */
static const char *bearer(const char *authorization, size_t *len)
{
    const char *p = authorization;
    *len = 0;
    if (!p || strncasecmp(p, "Bearer ", 7) != 0) return NULL;
    p += 7;
    while (*p == ' ') p++;
    *len = strlen(p);
    while (*len && isspace((unsigned char)p[*len - 1])) --*len;
    return p;
}

bool http_bearer_matches(const char *authorization, const char *want)
{
    size_t len;
    const char *p = bearer(authorization, &len);
    return want && p && len && equal_const_time(p, len, want);
}

enum http_auth http_token_check(const struct http_token *t, const char *authorization)
{
    size_t len;
    const char *p = bearer(authorization, &len);
    struct http_token *m = (struct http_token *)t; /* the lock is not part of the value */
    pthread_mutex_lock(&m->lock);
    enum http_auth r = !m->token                            ? HTTP_AUTH_UNSET
                       : len == 0                           ? HTTP_AUTH_MISSING
                       : equal_const_time(p, len, m->token) ? HTTP_AUTH_OK
                                                            : HTTP_AUTH_WRONG;
    pthread_mutex_unlock(&m->lock);
    return r;
}

/* Origin is "scheme://host[:port]"; same origin when host[:port] is the Host header. */
static bool origin_is_host(const char *origin, const char *host)
{
    const char *a = NULL;
    if (strncasecmp(origin, "http://", 7) == 0) a = origin + 7;
    if (strncasecmp(origin, "https://", 8) == 0) a = origin + 8;
    return a && host && *a && strcasecmp(a, host) == 0;
}

bool http_cross_site(const char *origin, const char *sec_fetch_site, const char *host)
{
    if (sec_fetch_site && strcasecmp(sec_fetch_site, "same-origin") != 0 &&
        strcasecmp(sec_fetch_site, "none") != 0)
        return true;
    return origin && !origin_is_host(origin, host);
}
