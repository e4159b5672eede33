/* http_target.c: the settings every HTTP-scraped target shares (see http_target.h). */
#include "http_target.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"
#include "fileio.h"
#include "strutil.h"
#include "xalloc.h"

const char *const drwatch_sites[] = {"gold", "golddr", NULL};

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void http_target_copy(struct http_target *dst, const struct http_target *src)
{
    *dst = *src;
    dst->url = dup_or_null(src->url);
    dst->name = dup_or_null(src->name);
    dst->ca_file = dup_or_null(src->ca_file);
    dst->cert_file = dup_or_null(src->cert_file);
    dst->key_file = dup_or_null(src->key_file);
    dst->bearer_token_file = dup_or_null(src->bearer_token_file);
}

void http_target_clear(struct http_target *t)
{
    if (!t) return;
    free(t->url);
    free(t->name);
    free(t->ca_file);
    free(t->cert_file);
    free(t->key_file);
    free(t->bearer_token_file);
    memset(t, 0, sizeof(*t));
}

const char *http_target_label(const struct http_target *t)
{
    return t->name && *t->name ? t->name : t->url;
}

const char *http_target_site(const struct http_target *t)
{
    return drwatch_sites[t->site];
}

static int check_file(const char *what, const char *path, const struct http_target *t, char *err,
                      size_t errlen)
{
    if (!path || access(path, R_OK) == 0) return 0;
    snprintf(err, errlen, "target %s: %s %s: %s", http_target_label(t), what, path,
             strerror(errno));
    return -1;
}

int http_target_check(const struct http_target *t, char *err, size_t errlen)
{
    if (!str_has_prefix(t->url, "http://") && !str_has_prefix(t->url, "https://")) {
        snprintf(err, errlen, "target %s: url must start with http:// or https://",
                 http_target_label(t));
        return -1;
    }
    if (!t->cert_file != !t->key_file) {
        snprintf(err, errlen, "target %s: cert_file and key_file go together",
                 http_target_label(t));
        return -1;
    }
    if (t->interval_ms && t->timeout_ms > t->interval_ms) {
        snprintf(err, errlen, "target %s: timeout is longer than the interval",
                 http_target_label(t));
        return -1;
    }
    if (check_file("ca_file", t->ca_file, t, err, errlen) ||
        check_file("cert_file", t->cert_file, t, err, errlen) ||
        check_file("key_file", t->key_file, t, err, errlen) ||
        check_file("bearer_token_file", t->bearer_token_file, t, err, errlen))
        return -1;
    return 0;
}

int http_target_opts(const struct http_target *t, const char *url, struct httpc_opts *o,
                     char **token, char *err, size_t errlen)
{
    *token = NULL;
    *o = (struct httpc_opts){.url = url,
                             .timeout_ms = t->timeout_ms ? t->timeout_ms : t->interval_ms,
                             .max_body = (size_t)t->max_body_bytes,
                             .accept_gzip = 1,
                             .tls = {.ca_file = t->ca_file,
                                     .cert_file = t->cert_file,
                                     .key_file = t->key_file,
                                     .insecure = t->insecure_skip_verify}};
    if (!t->bearer_token_file) return 0;
    size_t len;
    int rc = file_read_all(t->bearer_token_file, CAP_SECRET_FILE, token, &len);
    if (rc < 0) {
        char why[64];
        snprintf(err, errlen, "bearer_token_file %s: %s", t->bearer_token_file,
                 file_read_error(rc, CAP_SECRET_FILE, why, sizeof(why)));
        return -1;
    }
    while (len &&
           ((*token)[len - 1] == '\n' || (*token)[len - 1] == '\r' || (*token)[len - 1] == ' '))
        (*token)[--len] = '\0';
    o->bearer_token = *token;
    return 0;
}

void http_status_reason(long status, char *out, size_t outlen)
{
    snprintf(out, outlen, "http_%ld", status);
}

char *url_join(const char *base, const char *path)
{
    size_t bl = strlen(base);
    bool bs = bl && base[bl - 1] == '/', ps = path[0] == '/';
    if (bs && ps) return xasprintf("%.*s%s", (int)(bl - 1), base, path);
    if (!bs && !ps && *path) return xasprintf("%s/%s", base, path);
    return xasprintf("%s%s", base, path);
}
