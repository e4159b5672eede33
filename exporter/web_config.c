/* web_config.c: exporter-toolkit's web config file, read with libyaml's document API into an
 * immutable struct web_config (see web_config.h).
 *
 * Each section is a table of keys with a parser each, so a key drwatch does not know is
 * refused with its line, as yaml.v2's UnmarshalStrict does for exporter-toolkit. Keys of the
 * format that drwatch cannot honour (inline certificates, SAN allow-lists, curves, rate
 * limits) are refused too rather than silently ignored: a file that asks for a restriction
 * must not run without it. Go's cipher suite names become the GnuTLS key exchanges, ciphers
 * and MACs they are made of, because GnuTLS priorities name those parts, not suites. */
#include "web_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "buf.h"
#include "fileio.h"
#include "xalloc.h"

struct wparse {
    yaml_document_t doc;
    const char *name, *dir;
    char *err;
    size_t errlen;
    struct web_config *c;
    bool ciphers_listed;
    struct buf ciphers, kx, macs;
};

typedef int (*key_fn)(struct wparse *p, yaml_node_t *v);
struct key {
    const char *name;
    key_fn fn;
};

__attribute__((format(printf, 3, 4))) static int fail(struct wparse *p, const yaml_node_t *n,
                                                      const char *fmt, ...)
{
    int k = snprintf(p->err, p->errlen, "%s:%zu: ", p->name, n ? n->start_mark.line + 1 : 1);
    if (k < 0 || (size_t)k >= p->errlen) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + k, p->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

static yaml_node_t *node(struct wparse *p, int id)
{
    return yaml_document_get_node(&p->doc, id);
}

/* A scalar's text, or NULL for YAML's null (an empty value, ~, null). */
static int scalar(struct wparse *p, yaml_node_t *n, const char *what, const char **out)
{
    if (n->type != YAML_SCALAR_NODE) return fail(p, n, "%s must be a string", what);
    const char *s = (const char *)n->data.scalar.value;
    bool plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (strlen(s) != n->data.scalar.length) return fail(p, n, "%s holds a NUL byte", what);
    *out = plain && (!*s || !strcmp(s, "~") || !strcmp(s, "null")) ? NULL : s;
    return 0;
}

static int boolean(struct wparse *p, yaml_node_t *n, const char *what, bool *out)
{
    const char *s;
    if (scalar(p, n, what, &s) < 0) return -1;
    if (s && !strcmp(s, "true"))
        *out = true;
    else if (s && !strcmp(s, "false"))
        *out = false;
    else if (s)
        return fail(p, n, "%s must be true or false, not \"%s\"", what, s);
    return 0;
}

/* Walks a mapping, refusing duplicate keys and keys not in keys[]. */
static int mapping(struct wparse *p, yaml_node_t *m, const char *what, const struct key *keys)
{
    if (m->type == YAML_SCALAR_NODE && !m->data.scalar.value[0]) return 0; /* empty: null */
    if (m->type != YAML_MAPPING_NODE) return fail(p, m, "%s must be a mapping", what);
    for (yaml_node_pair_t *i = m->data.mapping.pairs.start; i < m->data.mapping.pairs.top; i++) {
        yaml_node_t *k = node(p, i->key);
        if (k->type != YAML_SCALAR_NODE) return fail(p, k, "a key of %s must be a string", what);
        const char *name = (const char *)k->data.scalar.value;
        for (yaml_node_pair_t *j = m->data.mapping.pairs.start; j < i; j++) {
            yaml_node_t *o = node(p, j->key);
            if (o->type == YAML_SCALAR_NODE && !strcmp((const char *)o->data.scalar.value, name))
                return fail(p, k, "%s: key \"%s\" already set", what, name);
        }
        const struct key *kk = keys;
        while (kk->name && strcmp(kk->name, name)) kk++;
        if (!kk->name) return fail(p, k, "%s: unknown key \"%s\"", what, name);
        if (!kk->fn) /* exporter-toolkit's, but not honoured: refused, never ignored */
            return fail(p, k, "%s: %s is not supported by drwatch", what, name);
        if (kk->fn(p, node(p, i->value)) < 0) return -1;
    }
    return 0;
}

/* ---- tls_server_config ---- */

static int path_key(struct wparse *p, yaml_node_t *v, const char *what, char **out)
{
    const char *s;
    if (scalar(p, v, what, &s) < 0) return -1;
    free(*out);
    *out = !s ? NULL : (s[0] == '/' || !p->dir) ? xstrdup(s) : xasprintf("%s/%s", p->dir, s);
    if (s) p->c->tls = true;
    return 0;
}

static int k_cert_file(struct wparse *p, yaml_node_t *v)
{
    return path_key(p, v, "cert_file", &p->c->cert_file);
}

static int k_key_file(struct wparse *p, yaml_node_t *v)
{
    return path_key(p, v, "key_file", &p->c->key_file);
}

static int k_client_ca_file(struct wparse *p, yaml_node_t *v)
{
    return path_key(p, v, "client_ca_file", &p->c->client_ca_file);
}

static const char *const client_auth_names[] = {"NoClientCert", "RequestClientCert",
                                                "RequireAnyClientCert", "VerifyClientCertIfGiven",
                                                "RequireAndVerifyClientCert"};

static int k_client_auth_type(struct wparse *p, yaml_node_t *v)
{
    const char *s;
    if (scalar(p, v, "client_auth_type", &s) < 0) return -1;
    if (!s) s = "NoClientCert";
    if (!strcmp(s, "RequireClientCert")) s = "RequireAnyClientCert"; /* exporter-toolkit's alias */
    for (size_t i = 0; i < sizeof(client_auth_names) / sizeof(*client_auth_names); i++) {
        if (!strcmp(s, client_auth_names[i])) {
            p->c->client_auth = (enum web_client_auth)i;
            return 0;
        }
    }
    return fail(p, v,
                "client_auth_type: invalid ClientAuth \"%s\": expected NoClientCert, "
                "RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven or "
                "RequireAndVerifyClientCert",
                s);
}

static int version(struct wparse *p, yaml_node_t *v, const char *what, int *out)
{
    const char *s;
    if (scalar(p, v, what, &s) < 0) return -1;
    if (!s) return 0;
    if (strlen(s) == 5 && !strncmp(s, "TLS1", 4) && s[4] >= '0' && s[4] <= '3') {
        *out = 10 + (s[4] - '0');
        return 0;
    }
    return fail(p, v, "%s: unknown TLS version \"%s\": expected TLS10, TLS11, TLS12 or TLS13", what,
                s);
}

static int k_min_version(struct wparse *p, yaml_node_t *v)
{
    return version(p, v, "min_version", &p->c->min_version);
}

static int k_max_version(struct wparse *p, yaml_node_t *v)
{
    return version(p, v, "max_version", &p->c->max_version);
}

/* Go's crypto/tls.CipherSuites(), as GnuTLS key exchange, cipher and MAC. Go ignores the
 * TLS 1.3 suites in cipher_suites (they are not configurable there); so does drwatch. */
static const struct suite {
    const char *go, *kx, *cipher, *mac;
} suites[] = {
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "RSA", "AES-128-CBC", "SHA1"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "RSA", "AES-256-CBC", "SHA1"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "RSA", "AES-128-GCM", "AEAD"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "RSA", "AES-256-GCM", "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA", "AES-128-CBC", "SHA1"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA", "AES-256-CBC", "SHA1"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA", "AES-128-CBC", "SHA1"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA", "AES-256-CBC", "SHA1"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA", "AES-128-GCM", "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA", "AES-256-GCM", "AEAD"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA", "AES-128-GCM", "AEAD"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA", "AES-256-GCM", "AEAD"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA", "CHACHA20-POLY1305", "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA", "CHACHA20-POLY1305", "AEAD"},
    {"TLS_AES_128_GCM_SHA256", NULL, NULL, NULL},
    {"TLS_AES_256_GCM_SHA384", NULL, NULL, NULL},
    {"TLS_CHACHA20_POLY1305_SHA256", NULL, NULL, NULL},
};

/* Appends ":+item" to b unless it is there already. */
static void add_part(struct buf *b, const char *item)
{
    char want[64];
    snprintf(want, sizeof(want), "+%s:", item);
    char have[512];
    snprintf(have, sizeof(have), "%.*s:", (int)b->len, b->data ? b->data : "");
    if (strstr(have, want)) return;
    (void)buf_printf(b, "%s+%s", b->len ? ":" : "", item);
}

static int k_cipher_suites(struct wparse *p, yaml_node_t *v)
{
    if (v->type == YAML_SCALAR_NODE && !v->data.scalar.value[0]) return 0;
    if (v->type != YAML_SEQUENCE_NODE) return fail(p, v, "cipher_suites must be a list");
    yaml_node_item_t *it = v->data.sequence.items.start;
    if (v->data.sequence.items.top - it > WEB_CONFIG_MAX_CIPHERS)
        return fail(p, v, "cipher_suites: more than %d", WEB_CONFIG_MAX_CIPHERS);
    for (; it < v->data.sequence.items.top; it++) {
        yaml_node_t *n = node(p, *it);
        const char *s;
        if (scalar(p, n, "a cipher suite", &s) < 0) return -1;
        size_t i = 0, ns = sizeof(suites) / sizeof(*suites);
        while (i < ns && (!s || strcmp(suites[i].go, s))) i++;
        if (i == ns) return fail(p, n, "cipher_suites: unknown cipher \"%s\"", s ? s : "");
        p->ciphers_listed = true;
        if (!suites[i].kx) continue;
        add_part(&p->kx, suites[i].kx);
        add_part(&p->ciphers, suites[i].cipher);
        add_part(&p->macs, suites[i].mac);
    }
    return 0;
}

static int k_prefer_server(struct wparse *p, yaml_node_t *v)
{
    return boolean(p, v, "prefer_server_cipher_suites", &p->c->prefer_server);
}

static int k_tls(struct wparse *p, yaml_node_t *v)
{
    static const struct key keys[] = {{"cert_file", k_cert_file},
                                      {"key_file", k_key_file},
                                      {"client_auth_type", k_client_auth_type},
                                      {"client_ca_file", k_client_ca_file},
                                      {"min_version", k_min_version},
                                      {"max_version", k_max_version},
                                      {"cipher_suites", k_cipher_suites},
                                      {"prefer_server_cipher_suites", k_prefer_server},
                                      {"cert", NULL},
                                      {"key", NULL},
                                      {"client_ca", NULL},
                                      {"client_allowed_sans", NULL},
                                      {"curve_preferences", NULL},
                                      {NULL, NULL}};
    return mapping(p, v, "tls_server_config", keys);
}

/* ---- http_server_config ---- */

/* exporter-toolkit's allow-list (web/handler.go extraHTTPHeaders): other headers are drwatch's
 * to set, and these two take only the values browsers understand. */
static const struct {
    const char *name, *values[3];
} header_rules[] = {
    {"Strict-Transport-Security", {NULL}},
    {"X-Content-Type-Options", {"nosniff", NULL}},
    {"X-Frame-Options", {"deny", "sameorigin", NULL}},
    {"X-XSS-Protection", {NULL}},
    {"Content-Security-Policy", {NULL}},
};

static int header_check(struct wparse *p, yaml_node_t *k, const char *name, const char *value)
{
    size_t i = 0, n = sizeof(header_rules) / sizeof(*header_rules);
    while (i < n && strcmp(header_rules[i].name, name)) i++;
    if (i == n) return fail(p, k, "headers: HTTP header \"%s\" can not be configured", name);
    for (const char *c = value; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return fail(p, k, "headers: %s holds a control character", name);
    if (!header_rules[i].values[0]) return 0;
    for (const char *const *a = header_rules[i].values; *a; a++)
        if (!strcasecmp(*a, value)) return 0;
    return fail(p, k, "headers: invalid value for %s: expected %s%s%s, got \"%s\"", name,
                header_rules[i].values[0], header_rules[i].values[1] ? " or " : "",
                header_rules[i].values[1] ? header_rules[i].values[1] : "", value);
}

/* A mapping of strings to strings (headers, basic_auth_users) into pairs; check vets each. */
static int pairs(struct wparse *p, yaml_node_t *m, const char *what, size_t max,
                 struct web_pair **out, size_t *n,
                 int (*check)(struct wparse *, yaml_node_t *, const char *, const char *))
{
    if (m->type == YAML_SCALAR_NODE && !m->data.scalar.value[0]) return 0;
    if (m->type != YAML_MAPPING_NODE) return fail(p, m, "%s must be a mapping", what);
    size_t total = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
    if (total > max) return fail(p, m, "%s: more than %zu entries", what, max);
    *out = xcalloc(total + 1, sizeof(**out));
    for (yaml_node_pair_t *i = m->data.mapping.pairs.start; i < m->data.mapping.pairs.top; i++) {
        yaml_node_t *k = node(p, i->key);
        const char *name, *value;
        if (scalar(p, k, what, &name) < 0 || scalar(p, node(p, i->value), what, &value) < 0)
            return -1;
        if (!name) name = "";
        for (size_t j = 0; j < *n; j++)
            if (!strcmp((*out)[j].name, name))
                return fail(p, k, "%s: key \"%s\" already set", what, name);
        if (check(p, k, name, value ? value : "") < 0) return -1;
        if (!value) continue; /* unset */
        (*out)[*n].name = xstrdup(name);
        (*out)[(*n)++].value = xstrdup(value);
    }
    return 0;
}

static int k_headers(struct wparse *p, yaml_node_t *v)
{
    return pairs(p, v, "headers", 16, &p->c->headers, &p->c->nheaders, header_check);
}

static int k_http2(struct wparse *p, yaml_node_t *v)
{
    bool ignored; /* libmicrohttpd speaks HTTP/1.1 only */
    return boolean(p, v, "http2", &ignored);
}

static int k_http(struct wparse *p, yaml_node_t *v)
{
    static const struct key keys[] = {{"headers", k_headers}, {"http2", k_http2}, {NULL, NULL}};
    return mapping(p, v, "http_server_config", keys);
}

/* ---- basic_auth_users ---- */

bool web_bcrypt_hash_valid(const char *h)
{
    static const char b64[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    if (strlen(h) != 60 || h[0] != '$' || h[1] != '2' || !strchr("aby", h[2]) || h[3] != '$')
        return false;
    if (h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9' || h[6] != '$') return false;
    int cost = (h[4] - '0') * 10 + (h[5] - '0');
    if (cost < 4 || cost > 31) return false;
    for (const char *c = h + 7; *c; c++)
        if (!strchr(b64, *c)) return false;
    return true;
}

static int user_check(struct wparse *p, yaml_node_t *k, const char *name, const char *hash)
{
    if (!web_bcrypt_hash_valid(hash))
        return fail(p, k,
                    "basic_auth_users: the password of \"%s\" is not a bcrypt hash "
                    "($2y$10$... from htpasswd -nBC 10)",
                    name);
    return 0;
}

static int k_users(struct wparse *p, yaml_node_t *v)
{
    return pairs(p, v, "basic_auth_users", WEB_CONFIG_MAX_USERS, &p->c->users, &p->c->nusers,
                 user_check);
}

/* ---- the file ---- */

/* What exporter-toolkit checks across keys (web/tls_config.go). */
static int check_tls(struct wparse *p, yaml_node_t *root)
{
    struct web_config *c = p->c;
    if (c->min_version > c->max_version) /* also without TLS: the file says something wrong */
        return fail(p, root, "tls_server_config: min_version is above max_version");
    if (c->client_auth != WEB_NO_CLIENT_CERT) c->tls = true;
    if (!c->tls) return 0;
    if (!c->cert_file) return fail(p, root, "tls_server_config: missing cert_file");
    if (!c->key_file) return fail(p, root, "tls_server_config: missing key_file");
    if (c->client_ca_file && c->client_auth == WEB_NO_CLIENT_CERT)
        return fail(p, root,
                    "tls_server_config: client CA's have been configured without a Client Auth "
                    "Policy (client_auth_type)");
    bool verify = c->client_auth == WEB_VERIFY_CLIENT_CERT_IF_GIVEN ||
                  c->client_auth == WEB_REQUIRE_AND_VERIFY_CLIENT_CERT;
    if (verify && !c->client_ca_file)
        return fail(p, root, "tls_server_config: client_auth_type %s needs client_ca_file",
                    client_auth_names[c->client_auth]);
    return 0;
}

static int parse_root(struct wparse *p)
{
    yaml_node_t *root = yaml_document_get_root_node(&p->doc);
    if (!root) return 0; /* an empty file: no TLS, no users */
    static const struct key keys[] = {{"tls_server_config", k_tls},
                                      {"http_server_config", k_http},
                                      {"basic_auth_users", k_users},
                                      {"rate_limit", NULL},
                                      {NULL, NULL}};
    if (mapping(p, root, "the web config", keys) < 0) return -1;
    if (check_tls(p, root) < 0) return -1;
    if (p->ciphers_listed && !p->kx.len)
        return fail(p, root, "cipher_suites: only TLS 1.3 suites, which Go does not configure");
    if (p->ciphers_listed && p->c->max_version == 13) { /* TLS 1.3 keeps its own three */
        add_part(&p->ciphers, "AES-128-GCM");
        add_part(&p->ciphers, "AES-256-GCM");
        add_part(&p->ciphers, "CHACHA20-POLY1305");
        add_part(&p->macs, "AEAD");
    }
    p->c->ciphers = xstrdup(p->ciphers.len ? p->ciphers.data : "");
    p->c->kx = xstrdup(p->kx.len ? p->kx.data : "");
    p->c->macs = xstrdup(p->macs.len ? p->macs.data : "");
    return 0;
}

int web_config_parse(const char *text, size_t len, const char *name, const char *dir,
                     struct web_config **out, char *err, size_t errlen)
{
    struct wparse p = {.name = name, .dir = dir, .err = err, .errlen = errlen};
    p.c = xcalloc(1, sizeof(*p.c));
    atomic_init(&p.c->refs, 1);
    p.c->min_version = 12;
    p.c->max_version = 13;
    p.c->prefer_server = true;
    buf_init(&p.ciphers, 512);
    buf_init(&p.kx, 512);
    buf_init(&p.macs, 512);
    yaml_parser_t yp;
    yaml_parser_initialize(&yp);
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    int rc = -1;
    if (!yaml_parser_load(&yp, &p.doc)) {
        snprintf(err, errlen, "%s:%zu: %s", name, yp.problem_mark.line + 1,
                 yp.problem ? yp.problem : "bad YAML");
        yaml_parser_delete(&yp);
        goto done;
    }
    yaml_parser_delete(&yp);
    rc = parse_root(&p);
    yaml_document_delete(&p.doc);
done:
    buf_free(&p.ciphers);
    buf_free(&p.kx);
    buf_free(&p.macs);
    if (rc < 0) {
        web_config_unref(p.c);
        return -1;
    }
    *out = p.c;
    return 0;
}

/* Reads one PEM file named by the config into *out. */
static int read_pem(const char *what, const char *path, char **out, char *err, size_t errlen)
{
    if (!path) return 0;
    size_t len;
    int rc = file_read_all(path, WEB_CONFIG_MAX_PEM, out, &len);
    if (rc == 0) return 0;
    char why[128];
    snprintf(err, errlen, "tls_server_config: cannot read %s %s: %s", what, path,
             file_read_error(rc, WEB_CONFIG_MAX_PEM, why, sizeof(why)));
    return -1;
}

int web_config_load(const char *path, struct web_config **out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc = file_read_all(path, WEB_CONFIG_MAX_BYTES, &text, &len);
    if (rc < 0) {
        char why[128];
        snprintf(err, errlen, "%s: %s", path,
                 file_read_error(rc, WEB_CONFIG_MAX_BYTES, why, sizeof(why)));
        return -1;
    }
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : NULL;
    struct web_config *c = NULL;
    rc = web_config_parse(text, len, path, dir, &c, err, errlen);
    free(text);
    free(dir);
    if (rc == 0 && (read_pem("cert_file", c->cert_file, &c->cert_pem, err, errlen) < 0 ||
                    read_pem("key_file", c->key_file, &c->key_pem, err, errlen) < 0 ||
                    read_pem("client_ca_file", c->client_ca_file, &c->ca_pem, err, errlen) < 0))
        rc = -1;
    if (rc < 0) {
        web_config_unref(c);
        return -1;
    }
    *out = c;
    return 0;
}

struct web_config *web_config_ref(struct web_config *c)
{
    if (c) atomic_fetch_add(&c->refs, 1);
    return c;
}

static void pairs_free(struct web_pair *v, size_t n, bool wipe)
{
    for (size_t i = 0; v && i < n; i++) {
        if (wipe) explicit_bzero(v[i].value, strlen(v[i].value));
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
}

void web_config_unref(struct web_config *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
    free(c->cert_file);
    free(c->key_file);
    free(c->client_ca_file);
    free(c->ciphers);
    free(c->kx);
    free(c->macs);
    free(c->cert_pem);
    if (c->key_pem) explicit_bzero(c->key_pem, strlen(c->key_pem));
    free(c->key_pem);
    free(c->ca_pem);
    pairs_free(c->users, c->nusers, true);
    pairs_free(c->headers, c->nheaders, false);
    free(c);
}

char *web_config_priorities(const struct web_config *c)
{
    struct buf b;
    buf_init(&b, 4096);
    (void)buf_puts(&b, "NORMAL:-VERS-ALL");
    for (int v = c->min_version; v <= c->max_version; v++)
        (void)buf_printf(&b, ":+VERS-TLS1.%d", v - 10);
    if (c->kx && c->kx[0])
        (void)buf_printf(&b, ":-CIPHER-ALL:%s:-MAC-ALL:%s:-KX-ALL:%s", c->ciphers, c->macs, c->kx);
    if (c->prefer_server) (void)buf_puts(&b, ":%SERVER_PRECEDENCE");
    return buf_steal(&b, NULL);
}
