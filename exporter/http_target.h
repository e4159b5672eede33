/* http_target.h: what every HTTP-scraped target has in common: its site, URL, interval, timeout,
 * body cap, TLS settings and bearer-token auth, as config keys and as httpc options.
 *
 * A collector's target struct embeds a struct http_target and lists HTTP_TARGET_KEYS(type,
 * member) among its config keys, so every collector reads these settings the same way:
 *
 *     struct kong_target { struct http_target http; bool passthrough; };
 *     static const struct cfg_key kong_target_keys[] = {
 *         HTTP_TARGET_KEYS(struct kong_target, http),
 *         {.name = "passthrough", ...},
 *         CFG_END,
 *     };
 */
#ifndef DRWATCH_HTTP_TARGET_H
#define DRWATCH_HTTP_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http_client.h"
#include "xalloc.h"

/* The two sites, in the order of the `site` enum. */
extern const char *const drwatch_sites[];

struct http_target {
    int site;               /* index into drwatch_sites */
    char *url;              /* base URL */
    char *name;             /* the target label; defaults to the URL */
    int64_t interval_ms;    /* 0: the collector's default */
    int64_t timeout_ms;     /* 0: the interval */
    int64_t max_body_bytes; /* response cap */
    char *ca_file;          /* NULL: the system's CAs */
    char *cert_file;        /* client certificate (mTLS) */
    char *key_file;
    bool insecure_skip_verify;
    char *bearer_token_file; /* read at every scrape: tokens rotate */
};

/* The keys of a struct http_target at T.m. The parameters are what differs by kind of target:
 * whether url is required and the texts of the keys that have a default elsewhere (url,
 * ca_file, bearer_token_file); K8S_TARGET_KEYS (k8s.h) is this list with in-pod defaults, so
 * the two cannot drift apart. */
#define HTTP_TARGET_KEYS_WITH(T, m, url_required, url_expect, ca_expect, token_expect) \
    {.name = "site",                                                                   \
     .type = CFG_ENUM,                                                                 \
     .offset = offsetof(T, m.site),                                                    \
     .choices = drwatch_sites,                                                         \
     .required = true,                                                                 \
     .expect = "the site this target belongs to"},                                     \
        {.name = "url",                                                                \
         .type = CFG_STRING,                                                           \
         .offset = offsetof(T, m.url),                                                 \
         .required = (url_required),                                                   \
         .expect = (url_expect)},                                                      \
        {.name = "name",                                                               \
         .type = CFG_STRING,                                                           \
         .offset = offsetof(T, m.name),                                                \
         .expect = "the target label (default: the URL)"},                             \
        {.name = "interval",                                                           \
         .type = CFG_DURATION,                                                         \
         .offset = offsetof(T, m.interval_ms),                                         \
         .expect = "1s to 1h",                                                         \
         .min = 1000,                                                                  \
         .max = 3600000},                                                              \
        {.name = "timeout",                                                            \
         .type = CFG_DURATION,                                                         \
         .offset = offsetof(T, m.timeout_ms),                                          \
         .expect = "100ms to 1h, at most the interval",                                \
         .min = 100,                                                                   \
         .max = 3600000},                                                              \
        {.name = "max_body_bytes",                                                     \
         .type = CFG_INT,                                                              \
         .offset = offsetof(T, m.max_body_bytes),                                      \
         .def = "16777216",                                                            \
         .expect = "the largest response accepted, 1 KiB to 1 GiB",                    \
         .min = 1024,                                                                  \
         .max = 1 << 30},                                                              \
        {.name = "ca_file",                                                            \
         .type = CFG_STRING,                                                           \
         .offset = offsetof(T, m.ca_file),                                             \
         .expect = (ca_expect)},                                                       \
        {.name = "cert_file",                                                          \
         .type = CFG_STRING,                                                           \
         .offset = offsetof(T, m.cert_file),                                           \
         .expect = "a PEM client certificate, with key_file"},                         \
        {.name = "key_file",                                                           \
         .type = CFG_STRING,                                                           \
         .offset = offsetof(T, m.key_file),                                            \
         .expect = "the PEM key of cert_file"},                                        \
        {.name = "insecure_skip_verify",                                               \
         .type = CFG_BOOL,                                                             \
         .offset = offsetof(T, m.insecure_skip_verify),                                \
         .expect = "true to skip certificate verification (tests only)"},              \
    {                                                                                  \
        .name = "bearer_token_file", .type = CFG_STRING,                               \
        .offset = offsetof(T, m.bearer_token_file), .expect = (token_expect)           \
    }

#define HTTP_TARGET_KEYS(T, m)                                      \
    HTTP_TARGET_KEYS_WITH(T, m, true, "an http:// or https:// URL", \
                          "a PEM file of CA certificates", "a file holding a bearer token")

/* Checks what the schema cannot: the URL's scheme, cert and key given together, files
 * readable. Returns 0, or -1 with "target <label>: why" in err. */
DRW_MUST_CHECK int http_target_check(const struct http_target *t, char *err, size_t errlen);

/* Copies src into dst with dst's own copy of every string (url may be NULL, as in a k8s target
 * before it is resolved). dst owns them until http_target_clear. */
void http_target_copy(struct http_target *dst, const struct http_target *src);
/* Frees the strings of a copy and zeroes t. NULL-safe and idempotent. */
void http_target_clear(struct http_target *t);

/* The target label: name, or the URL. */
const char *http_target_label(const struct http_target *t);
const char *http_target_site(const struct http_target *t);

/* Fills o for a request to url (the caller's; usually the base URL plus a path). Reads the
 * bearer token file into *token (the caller frees it; NULL when none). Returns 0, or -1 with
 * err filled when the token file cannot be read. */
DRW_MUST_CHECK int http_target_opts(const struct http_target *t, const char *url,
                                    struct httpc_opts *o, char **token, char *err, size_t errlen);

/* The errors_total reason for an HTTP status that is not a success: "http_<code>". */
void http_status_reason(long status, char *out, size_t outlen);

/* base + path, without doubling or dropping the slash between them. Caller frees. */
char *url_join(const char *base, const char *path);

#endif
