/* test_shared_helpers.c: the helpers that replaced code written several times over: copying
 * an HTTP target, the Kubernetes target keys built from the HTTP ones, cutting text at a
 * UTF-8 boundary, and the one format of a config refusal. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http_target.h"
#include "k8s.h"
#include "strutil.h"
#include "tap.h"

static void test_http_target_copy(void)
{
    struct http_target src = {.site = 1,
                              .url = "https://kong.gold:8444",
                              .name = "admin",
                              .interval_ms = 15000,
                              .timeout_ms = 5000,
                              .max_body_bytes = 4096,
                              .ca_file = "/etc/ca.crt",
                              .cert_file = NULL,
                              .key_file = NULL,
                              .insecure_skip_verify = true,
                              .bearer_token_file = "/run/token"};
    struct http_target dst;
    http_target_copy(&dst, &src);
    is_str(dst.url, src.url, "copy: url");
    ok(dst.url != src.url, "copy: url is the copy's own");
    is_str(dst.name, "admin", "copy: name");
    ok(dst.name != src.name, "copy: name is the copy's own");
    is_str(dst.ca_file, "/etc/ca.crt", "copy: ca_file");
    ok(dst.cert_file == NULL && dst.key_file == NULL, "copy: absent strings stay NULL");
    is_str(dst.bearer_token_file, "/run/token", "copy: bearer_token_file");
    ok(dst.site == 1 && dst.interval_ms == 15000 && dst.timeout_ms == 5000 &&
           dst.max_body_bytes == 4096 && dst.insecure_skip_verify,
       "copy: the scalar settings");
    http_target_clear(&dst);
    ok(dst.url == NULL && dst.name == NULL && dst.site == 0, "clear: zeroes the target");
    http_target_clear(&dst);
    http_target_clear(NULL);
    ok(1, "clear: idempotent and NULL-safe");

    /* A k8s target before it is resolved has no URL. */
    struct http_target nourl = {.name = "in-pod"}, c2;
    http_target_copy(&c2, &nourl);
    ok(c2.url == NULL, "copy: a NULL url stays NULL");
    is_str(c2.name, "in-pod", "copy: without url, name still copied");
    http_target_clear(&c2);
}

struct plain_cfg {
    struct http_target http;
};
struct kube_cfg {
    struct k8s_target k8s;
};
static const struct cfg_key plain_keys[] = {HTTP_TARGET_KEYS(struct plain_cfg, http), CFG_END};
static const struct cfg_key kube_keys[] = {K8S_TARGET_KEYS(struct kube_cfg, k8s), CFG_END};

static const struct cfg_key *key_named(const struct cfg_key *keys, const char *name)
{
    for (; keys->name; keys++)
        if (strcmp(keys->name, name) == 0) return keys;
    return NULL;
}

static void test_k8s_keys(void)
{
    size_t nplain = 0, nkube = 0;
    while (plain_keys[nplain].name) nplain++;
    while (kube_keys[nkube].name) nkube++;
    is_int(nkube, nplain + 1, "k8s keys: every HTTP target key plus one");
    bool same = true;
    for (const struct cfg_key *p = plain_keys; p->name; p++) {
        const struct cfg_key *k = key_named(kube_keys, p->name);
        /* Both structs start with their http_target: the offsets agree too. */
        if (!k || k->type != p->type || k->offset != p->offset || k->min != p->min ||
            k->max != p->max || (p->def && (!k->def || strcmp(p->def, k->def) != 0))) {
            diag("key %s differs", p->name);
            same = false;
        }
    }
    ok(same, "k8s keys: same names, types, places, limits and defaults as the HTTP ones");
    const struct cfg_key *ns = key_named(kube_keys, "namespace");
    ok(ns && ns->type == CFG_STRING && ns->offset == offsetof(struct kube_cfg, k8s.namespace),
       "k8s keys: namespace");
    ok(key_named(plain_keys, "url")->required, "http keys: url required");
    ok(!key_named(kube_keys, "url")->required, "k8s keys: url optional (the in-pod default)");
    ok(strstr(key_named(kube_keys, "ca_file")->expect, "service account") != NULL,
       "k8s keys: ca_file says its in-pod default");
}

static void test_utf8_cut(void)
{
    is_int(str_utf8_cut("abc", 3, 10), 3, "cut: fits");
    is_int(str_utf8_cut("abcdef", 6, 4), 4, "cut: ASCII at max");
    is_int(str_utf8_cut("abc", 3, 0), 0, "cut: max 0");
    /* "aé" = 61 C3 A9: max 2 would split é. */
    is_int(str_utf8_cut("a\xc3\xa9z", 4, 2), 1, "cut: not inside a 2-byte character");
    is_int(str_utf8_cut("a\xc3\xa9z", 4, 3), 3, "cut: after a whole 2-byte character");
    /* "€" = E2 82 AC, "😀" = F0 9F 98 80. */
    is_int(str_utf8_cut("\xe2\x82\xac!", 4, 2), 0, "cut: not inside a 3-byte character");
    is_int(str_utf8_cut("x\xf0\x9f\x98\x80", 5, 4), 1, "cut: not inside a 4-byte character");
    is_int(str_utf8_cut("x\xf0\x9f\x98\x80y", 6, 5), 5, "cut: after a whole 4-byte character");
    is_int(str_utf8_cut("\x80\x80\x80\x80", 4, 2), 0, "cut: only continuation bytes: nothing kept");

    char out[4];
    is_int(str_utf8_copy(out, sizeof(out), "ab"), 2, "copy: fits");
    is_str(out, "ab", "copy: text");
    is_int(str_utf8_copy(out, sizeof(out), "ab\xc3\xa9"), 2, "copy: cut before a split character");
    is_str(out, "ab", "copy: cut text");
    is_int(str_utf8_copy(out, sizeof(out), "\xe2\x82\xac"), 3, "copy: a character that just fits");
    is_str(out, "\xe2\x82\xac", "copy: whole character");
    char one[1];
    is_int(str_utf8_copy(one, sizeof(one), "abc"), 0, "copy: room for the NUL only");
    is_str(one, "", "copy: empty");
}

static int refuse(char *err, size_t errlen, const char *src, const char *const *path, size_t depth,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int refuse(char *err, size_t errlen, const char *src, const char *const *path, size_t depth,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc =
        config_verror(err, errlen, "drwatch.lua", src, src ? strlen(src) : 0, path, depth, fmt, ap);
    va_end(ap);
    return rc;
}

static void test_config_error(void)
{
    const char *src = "drwatch = { site = \"gold\" }\n"
                      "kong = {\n"
                      "  targets = {\n"
                      "    { site = \"gold\", url = \"ftp://x\" },\n"
                      "  },\n"
                      "}\n";
    char err[256];
    const char *path[] = {"kong", "targets", "[1]", "url"};
    is_int(refuse(err, sizeof(err), src, path, 4, "expected %s", "a URL"), -1, "returns -1");
    is_str(err, "drwatch.lua:4: kong.targets[1].url: expected a URL", "file:line and dotted path");
    const char *computed[] = {"kong", "retries"};
    refuse(err, sizeof(err), src, computed, 2, "unknown key");
    is_str(err, "drwatch.lua:2: kong.retries: unknown key",
           "a part not in the source: the line of the nearest one that is");
    const char *nowhere[] = {"alerting", "route"};
    refuse(err, sizeof(err), src, nowhere, 2, "missing");
    is_str(err, "drwatch.lua:1: alerting.route: missing", "nothing found: no line");
    refuse(err, sizeof(err), NULL, path, 4, "checked later");
    is_str(err, "drwatch.lua:1: kong.targets[1].url: checked later", "no source: no line");
    char small[16];
    refuse(small, sizeof(small), src, path, 4, "expected a URL");
    is_int(strlen(small), sizeof(small) - 1, "a short err buffer: cut, still terminated");
}

int main(void)
{
    test_http_target_copy();
    test_k8s_keys();
    test_utf8_cut();
    test_config_error();
    return done_testing();
}
