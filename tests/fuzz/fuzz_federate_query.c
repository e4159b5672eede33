/* fuzz_federate_query.c: arbitrary bytes as the query string of GET /federate
 * ("match[]=up&match[]=%7Bjob%3D%22x%22%7D&..."), split and URL-decoded as libmicrohttpd does
 * (& and =, %hh, + as a space), through federate_query_parse (and so selector_parse and the
 * regex translation), then federate_render over a small snapshot in all four variants.
 * Invariants: a refusal says why; an accepted query has 1 to CAP_FEDERATE_MATCHES selectors
 * and renders; no more series come out than the snapshot has; the text answer parses again;
 * the gzip answers decode to the plain ones; a match[] that selects every series, added to any
 * accepted query, renders what /metrics does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "buf.h"
#include "caps.h"
#include "federate.h"
#include "http_route.h"
#include "registry.h"
#include "textparse.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct snapshot *snap;

static void build_snapshot(void)
{
    struct metric_set *s = mset_new();
    struct metric_family *f = mset_family(s, "up", METRIC_GAUGE, "Up.");
    mset_addv(s, f, 1, "job", "kong", "instance", "a b", NULL);
    mset_addv(s, f, 0, "job", "x\"y\\z\n", NULL);
    f = mset_family(s, "lat_seconds", METRIC_HISTOGRAM, "Latency.");
    struct label_pair b1[] = {{"le", "1"}}, b2[] = {{"le", "+Inf"}};
    mset_add(s, f, SUFFIX_BUCKET, b1, 1, 1);
    mset_add(s, f, SUFFIX_BUCKET, b2, 1, 2);
    mset_add(s, f, SUFFIX_SUM, NULL, 0, 0.5);
    mset_add(s, f, SUFFIX_COUNT, NULL, 0, 2);
    f = mset_family(s, "rpc_seconds", METRIC_SUMMARY, "RPCs.");
    struct label_pair q[] = {{"quantile", "0.9"}};
    mset_add(s, f, SUFFIX_NONE, q, 1, 0.1);
    mset_add(s, f, SUFFIX_COUNT, NULL, 0, 3);
    f = mset_family(s, "reqs_total", METRIC_COUNTER, "Requests.");
    mset_addv(s, f, 5, "code", "200", NULL);
    f = mset_family(s, "reqs", METRIC_GAUGE, "A gauge named like the counter.");
    mset_addv(s, f, 1, NULL);
    f = mset_family(s, "state", METRIC_STATESET, "A stateset.");
    mset_addv(s, f, 1, "state", "on", NULL);
    mset_addv(s, f, 0, "state", "off", NULL);
    f = mset_family(s, "build_info", METRIC_INFO, "An info.");
    mset_addv(s, f, 1, "version", "1", NULL);
    snap = snapshot_new(&s, 1, 1);
    mset_unref(s);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes s in place as libmicrohttpd 0.9.75 does: + is a space, %hh a byte (a % without two
 * hex digits stays as it is). */
static void url_decode(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        int hi, lo;
        if (*r == '+') {
            *w++ = ' ';
        } else if (*r == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

static char *gunzip(const struct buf *b, size_t *len)
{
    z_stream z = {0};
    if (inflateInit2(&z, 15 + 16) != Z_OK) abort();
    size_t cap = 1 << 20;
    char *out = xmalloc(cap);
    z.next_in = (Bytef *)b->data;
    z.avail_in = (uInt)b->len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    if (inflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    *len = cap - z.avail_out;
    inflateEnd(&z);
    return out;
}

/* Renders q in every variant and checks them; returns the plain text of format f0. */
static void check_render(const struct federate_query *q, struct buf plain[2])
{
    for (int f = 0; f < 2; f++) {
        size_t series = 0, len;
        buf_init(&plain[f], CAP_FEDERATE_REPLY);
        if (federate_render(q, snap, (enum expo_format)f, false, &plain[f], &series) != 0) abort();
        if (series > snapshot_series(snap)) abort();
        struct buf gz;
        buf_init(&gz, CAP_FEDERATE_REPLY);
        if (federate_render(q, snap, (enum expo_format)f, true, &gz, NULL) != 0) abort();
        char *back = gunzip(&gz, &len);
        if (len != plain[f].len || (len && memcmp(back, plain[f].data, len) != 0)) abort();
        free(back);
        buf_free(&gz);
    }
    struct textparse_opts o = {.strict = false};
    struct textparse_error err;
    if (textparse_run(plain[0].data ? plain[0].data : "", plain[0].len,
                      &(struct textparse_handler){0}, NULL, &o, &err, NULL) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!snap) build_snapshot();
    if (size > 16384) return 0; /* the server takes 8 KiB of request line */
    char *text = xstrndup((const char *)data, size);
    struct http_kv args[HTTP_MAX_QUERY_ARGS + 1];
    size_t n = 0;
    for (char *save = NULL, *p = strtok_r(text, "&", &save); p && n < HTTP_MAX_QUERY_ARGS;
         p = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(p, '=');
        if (eq) *eq = '\0';
        url_decode(p);
        if (eq) url_decode(eq + 1);
        args[n++] = (struct http_kv){p, eq ? eq + 1 : ""};
    }
    struct federate_query *q;
    char err[1024] = "";
    if (federate_query_parse(args, n, &q, err, sizeof(err)) < 0) {
        if (q != NULL || err[0] == '\0') abort();
    } else {
        size_t count = federate_query_count(q);
        if (count < 1 || count > CAP_FEDERATE_MATCHES) abort();
        struct buf plain[2];
        check_render(q, plain);
        buf_free(&plain[0]);
        buf_free(&plain[1]);
        federate_query_free(q);
        /* With a selector of everything added, the answer is /metrics. */
        if (count < CAP_FEDERATE_MATCHES) {
            args[n++] = (struct http_kv){"match[]", "{__name__=~\".*\",__name__!=\"\"}"};
            if (federate_query_parse(args, n, &q, err, sizeof(err)) == 0) {
                check_render(q, plain);
                for (int f = 0; f < 2; f++) {
                    const char *want;
                    size_t len;
                    if (snapshot_render(snap, (enum expo_format)f, false, &want, &len) != 0 ||
                        len != plain[f].len || memcmp(want, plain[f].data, len) != 0)
                        abort();
                    buf_free(&plain[f]);
                }
                federate_query_free(q);
            } else if (!strstr(err, "bytes in all")) {
                abort(); /* only the length cap may refuse it */
            }
        }
    }
    free(text);
    return 0;
}
