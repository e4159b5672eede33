/* test_web_config.c: the web config file (web_config.c) and what is checked with it
 * (web_auth.c): every key, refusals with file:line, the GnuTLS priorities made of Go's
 * cipher suite names, bcrypt verification (hashes made here with crypt_gensalt_rn), the
 * cache of verified credentials, and reloading a changed file. */
#include <crypt.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "web_auth.h"
#include "web_config.h"
#include "xalloc.h"

#define HASH_A "$2y$04$abcdefghijklmnopqrstuuWW2lzVGPFEShZhvOcuYXqt9sxtuTdWC"
static const char hash_a[] = HASH_A;

/* A bcrypt hash of password at cost 4 (fast), made by libxcrypt. */
static char *bcrypt_of(const char *password)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    if (!crypt_gensalt_rn("$2b$", 4, NULL, 0, salt, sizeof(salt))) abort();
    struct crypt_data cd = {0};
    const char *h = crypt_rn(password, salt, &cd, sizeof(cd));
    if (!h || h[0] == '*') abort();
    return xstrdup(h);
}

static struct web_config *parse(const char *text, char *err, size_t errlen)
{
    struct web_config *c = NULL;
    err[0] = '\0';
    if (web_config_parse(text, strlen(text), "web.yml", "/etc/drwatch", &c, err, errlen) < 0)
        return NULL;
    return c;
}

static void test_every_key(void)
{
    char err[512];
    char *text = xasprintf("tls_server_config:\n"
                           "  cert_file: server.crt\n"
                           "  key_file: /abs/server.key\n"
                           "  client_auth_type: RequireAndVerifyClientCert\n"
                           "  client_ca_file: ca.crt\n"
                           "  min_version: TLS13\n"
                           "  max_version: TLS13\n"
                           "  prefer_server_cipher_suites: false\n"
                           "http_server_config:\n"
                           "  http2: false\n"
                           "  headers:\n"
                           "    X-Frame-Options: sameorigin\n"
                           "    Strict-Transport-Security: max-age=31536000\n"
                           "    X-XSS-Protection:\n"
                           "basic_auth_users:\n"
                           "  alice: '%s'\n",
                           hash_a);
    struct web_config *c = parse(text, err, sizeof(err));
    free(text);
    if (!ok(c != NULL, "every key parses")) {
        diag("%s", err);
        return;
    }
    ok(c->tls, "tls_server_config turns TLS on");
    is_str(c->cert_file, "/etc/drwatch/server.crt", "cert_file resolves against the file's dir");
    is_str(c->key_file, "/abs/server.key", "an absolute key_file stays");
    is_str(c->client_ca_file, "/etc/drwatch/ca.crt", "client_ca_file");
    is_int(c->client_auth, WEB_REQUIRE_AND_VERIFY_CLIENT_CERT, "client_auth_type");
    is_int(c->min_version, 13, "min_version");
    is_int(c->max_version, 13, "max_version");
    ok(!c->prefer_server, "prefer_server_cipher_suites");
    is_int(c->nheaders, 2, "headers: a blank one is unset");
    is_str(c->headers[0].name, "X-Frame-Options", "header name");
    is_str(c->headers[0].value, "sameorigin", "header value");
    is_int(c->nusers, 1, "one user");
    is_str(c->users[0].name, "alice", "user name");
    is_str(c->users[0].value, hash_a, "user hash");
    char *prio = web_config_priorities(c);
    is_str(prio, "NORMAL:-VERS-ALL:+VERS-TLS1.3", "priorities: versions, no server precedence");
    free(prio);
    web_config_unref(c);

    c = parse("", err, sizeof(err));
    ok(c && !c->tls && !c->nusers && !c->nheaders, "an empty file: nothing asked");
    web_config_unref(c);
}

static void test_ciphers(void)
{
    char err[512];
    struct web_config *c = parse("tls_server_config:\n"
                                 "  cert_file: a\n"
                                 "  key_file: b\n"
                                 "  cipher_suites:\n"
                                 "    - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n"
                                 "    - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n"
                                 "    - TLS_AES_128_GCM_SHA256\n",
                                 err, sizeof(err));
    if (!ok(c != NULL, "cipher_suites parse")) {
        diag("%s", err);
        return;
    }
    char *prio = web_config_priorities(c);
    is_str(prio,
           "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
           "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-RSA:+ECDHE-ECDSA:%SERVER_PRECEDENCE",
           "Go's suites become GnuTLS parts; TLS 1.3 keeps its ciphers");
    gnutls_priority_t pc;
    const char *where;
    ok(gnutls_priority_init(&pc, prio, &where) == 0, "GnuTLS takes the priorities");
    gnutls_priority_deinit(pc);
    free(prio);
    web_config_unref(c);
}

static void test_refusals(void)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"tls_server_config:\n  cert_file: a\n  key_file: b\n  cert_fiel: c\n",
         "web.yml:4: tls_server_config: unknown key \"cert_fiel\""},
        {"basic_auth_users: {}\nfoo: 1\n", "web.yml:2: the web config: unknown key \"foo\""},
        {"tls_server_config:\n  key_file: b\n", "web.yml:1: tls_server_config: missing cert_file"},
        {"tls_server_config:\n  cert_file: a\n", "web.yml:1: tls_server_config: missing key_file"},
        {"tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Maybe\n",
         "web.yml:4: client_auth_type: invalid ClientAuth \"Maybe\": expected NoClientCert, "
         "RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven or "
         "RequireAndVerifyClientCert"},
        {"tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n",
         "web.yml:1: tls_server_config: client CA's have been configured without a Client Auth "
         "Policy (client_auth_type)"},
        {"tls_server_config:\n  cert_file: a\n  key_file: b\n"
         "  client_auth_type: RequireAndVerifyClientCert\n",
         "web.yml:1: tls_server_config: client_auth_type RequireAndVerifyClientCert needs "
         "client_ca_file"},
        {"tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS14\n",
         "web.yml:4: min_version: unknown TLS version \"TLS14\": expected TLS10, TLS11, TLS12 or "
         "TLS13"},
        {"tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n"
         "  max_version: TLS12\n",
         "web.yml:1: tls_server_config: min_version is above max_version"},
        /* Found by fuzz_web_config: without TLS the versions went unchecked. */
        {"tls_server_config:\n  cert_file:\n  max_version: TLS10\n",
         "web.yml:1: tls_server_config: min_version is above max_version"},
        {"tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_FOO]\n",
         "web.yml:4: cipher_suites: unknown cipher \"TLS_FOO\""},
        {"tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: x\n",
         "web.yml:4: cipher_suites must be a list"},
        {"tls_server_config:\n  cert_file: a\n  key_file: b\n"
         "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
         "web.yml:1: cipher_suites: only TLS 1.3 suites, which Go does not configure"},
        {"tls_server_config:\n  cert: |\n    x\n",
         "web.yml:2: tls_server_config: cert is not supported by drwatch"},
        {"rate_limit:\n  burst: 1\n", "web.yml:1: the web config: rate_limit is not supported by "
                                      "drwatch"},
        {"http_server_config:\n  headers:\n    Server: drwatch\n",
         "web.yml:3: headers: HTTP header \"Server\" can not be configured"},
        {"http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
         "web.yml:3: headers: invalid value for X-Frame-Options: expected deny or sameorigin, got "
         "\"allow\""},
        {"http_server_config:\n  http2: maybe\n",
         "web.yml:2: http2 must be true or false, not \"maybe\""},
        {"basic_auth_users:\n  bob: secret\n",
         "web.yml:2: basic_auth_users: the password of \"bob\" is not a bcrypt hash ($2y$10$... "
         "from htpasswd -nBC 10)"},
        {"basic_auth_users:\n  bob: '" HASH_A "'\n  bob: '" HASH_A "'\n",
         "web.yml:3: basic_auth_users: key \"bob\" already set"},
        {"tls_server_config:\n  cert_file: a\n  cert_file: b\n",
         "web.yml:3: tls_server_config: key \"cert_file\" already set"},
        {"basic_auth_users: [a]\n", "web.yml:1: basic_auth_users must be a mapping"},
        {"- a\n", "web.yml:1: the web config must be a mapping"},
        {"a: [\n", "web.yml:2: did not find expected node content"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char err[512];
        struct web_config *c = parse(cases[i].text, err, sizeof(err));
        ok(c == NULL, "refused: %s", cases[i].want);
        is_str(err, cases[i].want, "message %zu", i);
        web_config_unref(c);
    }
    ok(web_bcrypt_hash_valid(hash_a), "a bcrypt hash is one");
    ok(!web_bcrypt_hash_valid("$2y$03$abcdefghijklmnopqrstuuWW2lzVGPFEShZhvOcuYXqt9sxtuTdWC"),
       "cost 3 is not");
    ok(!web_bcrypt_hash_valid("$1$abc$def"), "MD5-crypt is not");
}

static char *basic_header(const char *userpass)
{
    gnutls_datum_t in = {(unsigned char *)userpass, (unsigned)strlen(userpass)}, out;
    if (gnutls_base64_encode2(&in, &out) < 0) abort();
    char *h = xasprintf("Basic %.*s", (int)out.size, out.data);
    gnutls_free(out.data);
    return h;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_basic_auth(void)
{
    char *h1 = bcrypt_of("s3cret"), *h2 = bcrypt_of("n3w");
    ok(web_bcrypt_matches("s3cret", h1), "bcrypt: the password matches its hash");
    ok(!web_bcrypt_matches("s3creT", h1), "bcrypt: another does not");
    ok(!web_bcrypt_matches("s3cret", "*0"), "bcrypt: a failed crypt does not");

    char dir[] = "/tmp/test_web_config.XXXXXX";
    if (!mkdtemp(dir)) abort();
    char *path = xasprintf("%s/web.yml", dir);
    char *text = xasprintf("basic_auth_users:\n  alice: '%s'\n", h1);
    write_file(path, text);
    free(text);
    struct web_auth *w = web_auth_new(path);
    char err[512];
    bool tls_changed;
    is_int(web_auth_reload(w, false, &tls_changed, err, sizeof(err)), 1, "first load");
    is_int(web_auth_reload(w, false, &tls_changed, err, sizeof(err)), 0, "unchanged: not read");
    struct web_config *c = web_auth_get(w);
    char *good = basic_header("alice:s3cret"), *bad = basic_header("alice:wrong");
    char *nouser = basic_header("bob:s3cret"), *nocolon = basic_header("alice");
    is_int(web_auth_basic(w, c, good), WEB_BASIC_OK, "the right password");
    is_int(web_auth_basic(w, c, good), WEB_BASIC_OK, "again (from the cache)");
    is_int(web_auth_basic(w, c, bad), WEB_BASIC_WRONG, "a wrong password");
    is_int(web_auth_basic(w, c, nouser), WEB_BASIC_WRONG, "an unknown user");
    is_int(web_auth_basic(w, c, NULL), WEB_BASIC_MISSING, "no header");
    is_int(web_auth_basic(w, c, "Bearer abc"), WEB_BASIC_MISSING, "another scheme");
    is_int(web_auth_basic(w, c, nocolon), WEB_BASIC_MISSING, "no colon");
    is_int(web_auth_basic(w, c, "Basic !!!"), WEB_BASIC_MISSING, "not base64");
    web_config_unref(c);

    /* A new hash: the old password stops working although it was cached. */
    text = xasprintf("basic_auth_users:\n  alice: '%s'\n  carol: '%s'\n", h2, h2);
    write_file(path, text);
    free(text);
    is_int(web_auth_reload(w, true, &tls_changed, err, sizeof(err)), 1, "reloaded");
    ok(!tls_changed, "no TLS either way");
    c = web_auth_get(w);
    is_int(web_auth_basic(w, c, good), WEB_BASIC_WRONG, "the old password no longer works");
    char *fresh = basic_header("alice:n3w");
    is_int(web_auth_basic(w, c, fresh), WEB_BASIC_OK, "the new one does");
    web_config_unref(c);

    write_file(path, "basic_auth_users:\n  alice: nope\n");
    is_int(web_auth_reload(w, true, &tls_changed, err, sizeof(err)), -1, "a bad file is refused");
    ok(strstr(err, "web.yml:2:") != NULL, "with file:line: %s", err);
    c = web_auth_get(w);
    is_int(web_auth_basic(w, c, fresh), WEB_BASIC_OK, "the config in force stays");
    web_config_unref(c);

    unlink(path);
    is_int(web_auth_reload(w, false, &tls_changed, err, sizeof(err)), -1, "a file gone: refused");
    is_int(web_auth_reload(w, false, &tls_changed, err, sizeof(err)), 0,
           "... once, not at every check");
    web_auth_free(w);
    rmdir(dir);
    free(path);
    free(good);
    free(bad);
    free(nouser);
    free(nocolon);
    free(fresh);
    free(h1);
    free(h2);
}

/* The cache holds at most WEB_AUTH_CACHE_MAX credentials and still answers right past it. */
static void test_cache_cap(void)
{
    char *h = bcrypt_of("pw");
    char dir[] = "/tmp/test_web_config.XXXXXX";
    if (!mkdtemp(dir)) abort();
    char *path = xasprintf("%s/web.yml", dir);
    char *text = xasprintf("basic_auth_users:\n  u: '%s'\n", h);
    write_file(path, text);
    free(text);
    struct web_auth *w = web_auth_new(path);
    char err[512];
    bool tls_changed;
    must(web_auth_reload(w, true, &tls_changed, err, sizeof(err)) != 1);
    struct web_config *c = web_auth_get(w);
    char *good = basic_header("u:pw");
    int oks = 0;
    for (int i = 0; i < WEB_AUTH_CACHE_MAX + 4; i++) oks += web_auth_basic(w, c, good) == 0;
    is_int(oks, WEB_AUTH_CACHE_MAX + 4, "the same credentials, many times");
    web_config_unref(c);
    web_auth_free(w);
    unlink(path);
    rmdir(dir);
    free(path);
    free(good);
    free(h);
}

/* A certificate rewritten in place (cert-manager's rotation) is a change the once-a-second
 * check sees, with the web config itself untouched; once applied, it is no change any more. */
static void test_cert_rotation(void)
{
    char dir[] = "/tmp/test_web_config.XXXXXX";
    if (!mkdtemp(dir)) abort();
    char *path = xasprintf("%s/web.yml", dir), *crt = xasprintf("%s/s.crt", dir);
    char *key = xasprintf("%s/s.key", dir);
    write_file(path, "tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n");
    write_file(crt, "cert one\n");
    write_file(key, "key one\n");
    struct web_auth *w = web_auth_new(path);
    char err[512];
    bool tls_changed;
    is_int(web_auth_reload(w, false, &tls_changed, err, sizeof(err)), 1, "rotation: first load");
    is_int(web_auth_reload(w, false, &tls_changed, err, sizeof(err)), 0, "rotation: unchanged");
    write_file(crt, "cert number two\n"); /* same inode, another size */
    is_int(web_auth_reload(w, false, &tls_changed, err, sizeof(err)), 1,
           "the cert file rewritten in place: read again");
    ok(tls_changed, "... a TLS change");
    struct web_config *c = web_auth_get(w);
    ok(c && !strcmp(c->cert_pem, "cert number two\n"), "... with the new contents");
    web_auth_tls_applied(w, c);
    web_config_unref(c);
    is_int(web_auth_reload(w, false, &tls_changed, err, sizeof(err)), 0, "then unchanged");
    write_file(key, "key number two\n");
    is_int(web_auth_reload(w, false, &tls_changed, err, sizeof(err)), 1, "the key file too");
    ok(tls_changed, "... a TLS change against what was applied");
    is_int(web_auth_reload(w, true, &tls_changed, err, sizeof(err)), 1, "forced");
    ok(tls_changed, "... still differs from what the listener runs (not applied)");
    web_auth_free(w);
    unlink(path);
    unlink(crt);
    unlink(key);
    rmdir(dir);
    free(path);
    free(crt);
    free(key);
}

int main(void)
{
    test_every_key();
    test_ciphers();
    test_refusals();
    test_basic_auth();
    test_cache_cap();
    test_cert_rotation();
    return done_testing();
}
