/* web_auth.c: the web config in force, its reloads, and basic auth with bcrypt (libxcrypt's
 * crypt_rn), as exporter-toolkit's web/handler.go does it.
 *
 * bcrypt is slow on purpose (about 50 ms at cost 10), and Prometheus scrapes every few seconds
 * with the same credentials: verified credentials are remembered, as exporter-toolkit does.
 * The cache holds an HMAC-SHA256 of user, hash and password under a key drawn at start, never
 * the password; the stored hash is part of it, so a reload that changes a hash makes the old
 * password miss. Only successes are kept (a stranger's guesses cannot fill it), at most
 * WEB_AUTH_CACHE_MAX, the least recently used going first. bcrypt runs one at a time, as in
 * exporter-toolkit, so a flood of wrong passwords costs at most one core. */
#include "web_auth.h"

#include <crypt.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "xalloc.h"

#define DIGEST 32

/* A hash of a password nobody has, checked for an unknown user so that answering takes what
 * a known user's wrong password takes (no user enumeration by timing). */
static const char dummy_hash[] = "$2b$10$rrp9opkw0kVf1M0o0DyLfOBKz0BMTN26cTNy1rTJKlwwbCjyc/Pc2";

struct cached {
    unsigned char digest[DIGEST];
    uint64_t used;
};

struct web_auth {
    char *path;
    pthread_mutex_t lock; /* guards cur */
    struct web_config *cur;
    struct web_config *started; /* the first config: what the listener's TLS was made from */
    struct stat seen;
    bool seen_valid;
    /* The cert, key and CA files of the last read, as they were just before it: certificates
     * are rotated by rewriting these files (cert-manager), not the config. */
    struct stat files[3];
    bool files_have[3];
    bool missing; /* the last look found no file */
    unsigned char key[DIGEST];
    pthread_mutex_t cache_lock;
    struct cached cache[WEB_AUTH_CACHE_MAX];
    size_t ncache;
    uint64_t tick;
    pthread_mutex_t bcrypt_lock;
};

struct web_auth *web_auth_new(const char *path)
{
    struct web_auth *w = xcalloc(1, sizeof(*w));
    w->path = xstrdup(path);
    pthread_mutex_init(&w->lock, NULL);
    pthread_mutex_init(&w->cache_lock, NULL);
    pthread_mutex_init(&w->bcrypt_lock, NULL);
    if (gnutls_rnd(GNUTLS_RND_KEY, w->key, sizeof(w->key)) < 0) abort();
    return w;
}

void web_auth_free(struct web_auth *w)
{
    if (!w) return;
    web_config_unref(w->cur);
    web_config_unref(w->started);
    explicit_bzero(w->key, sizeof(w->key));
    pthread_mutex_destroy(&w->lock);
    pthread_mutex_destroy(&w->cache_lock);
    pthread_mutex_destroy(&w->bcrypt_lock);
    free(w->path);
    free(w);
}

const char *web_auth_path(const struct web_auth *w)
{
    return w->path;
}

struct web_config *web_auth_get(struct web_auth *w)
{
    pthread_mutex_lock(&w->lock);
    struct web_config *c = web_config_ref(w->cur);
    pthread_mutex_unlock(&w->lock);
    return c;
}

static bool same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool tls_differs(const struct web_config *a, const struct web_config *b)
{
    if (a->tls != b->tls || a->client_auth != b->client_auth) return true;
    char *pa = web_config_priorities(a), *pb = web_config_priorities(b);
    bool differs = strcmp(pa, pb) != 0;
    free(pa);
    free(pb);
    return differs || !same_text(a->cert_pem, b->cert_pem) || !same_text(a->key_pem, b->key_pem) ||
           !same_text(a->ca_pem, b->ca_pem);
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Looks at the files the config in force names; with remember, keeps what it saw. Returns
 * whether any differs from what was kept. */
static bool files_changed(struct web_auth *w, const struct web_config *c, bool remember)
{
    const char *paths[3] = {c ? c->cert_file : NULL, c ? c->key_file : NULL,
                            c ? c->client_ca_file : NULL};
    bool changed = false;
    for (size_t i = 0; i < 3; i++) {
        struct stat st;
        bool have = paths[i] && stat(paths[i], &st) == 0;
        if (have != w->files_have[i] || (have && !same_stat(&st, &w->files[i]))) changed = true;
        if (remember) {
            w->files_have[i] = have;
            if (have) w->files[i] = st;
        }
    }
    return changed;
}

int web_auth_reload(struct web_auth *w, bool force, bool *tls_changed, char *err, size_t errlen)
{
    *tls_changed = false;
    struct stat st;
    bool have = stat(w->path, &st) == 0;
    if (!force && have && w->seen_valid && same_stat(&st, &w->seen) &&
        !files_changed(w, w->cur, false))
        return 0;
    /* A file that is gone stays reported once, not every check. */
    if (!force && !have && w->missing) return 0;
    w->missing = !have;
    /* Remembered before reading: a file that stays bad is reported once, not every check. */
    w->seen = st;
    w->seen_valid = have;
    /* The files are looked at before they are read, so a rewrite during the read is seen at
     * the next check; files the new config names anew are looked at after (a new config). */
    files_changed(w, w->cur, true);
    struct web_config *c;
    if (web_config_load(w->path, &c, err, errlen) < 0) return -1;
    if (!w->cur || !same_text(w->cur->cert_file, c->cert_file) ||
        !same_text(w->cur->key_file, c->key_file) ||
        !same_text(w->cur->client_ca_file, c->client_ca_file))
        files_changed(w, c, true);
    if (w->started)
        *tls_changed = tls_differs(w->started, c);
    else
        w->started = web_config_ref(c);
    pthread_mutex_lock(&w->lock);
    struct web_config *old = w->cur;
    w->cur = c;
    pthread_mutex_unlock(&w->lock);
    web_config_unref(old);
    pthread_mutex_lock(&w->cache_lock);
    w->ncache = 0;
    explicit_bzero(w->cache, sizeof(w->cache));
    pthread_mutex_unlock(&w->cache_lock);
    return 1;
}

void web_auth_tls_applied(struct web_auth *w, struct web_config *c)
{
    web_config_unref(w->started);
    w->started = web_config_ref(c);
}

bool web_bcrypt_matches(const char *password, const char *hash)
{
    struct crypt_data *cd = xcalloc(1, sizeof(*cd));
    const char *got = crypt_rn(password, hash, cd, (int)sizeof(*cd));
    bool ok = false;
    size_t n = strlen(hash);
    if (got && got[0] != '*' && strlen(got) == n) {
        unsigned char diff = 0;
        for (size_t i = 0; i < n; i++) diff |= (unsigned char)(got[i] ^ hash[i]);
        ok = diff == 0;
    }
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return ok;
}

/* The cache's key for these credentials: each part with its length, so no two differ only
 * in where one part ends. */
static void digest_of(const struct web_auth *w, const char *user, size_t ulen, const char *hash,
                      const char *pass, size_t plen, unsigned char out[DIGEST])
{
    size_t hlen = strlen(hash), n = ulen + hlen + plen + 64;
    char *msg = xmalloc(n);
    int k = snprintf(msg, n, "%zu:%zu:%zu:", ulen, hlen, plen);
    size_t at = (size_t)k;
    memcpy(msg + at, user, ulen);
    memcpy(msg + at + ulen, hash, hlen);
    memcpy(msg + at + ulen + hlen, pass, plen);
    if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, w->key, sizeof(w->key), msg, at + ulen + hlen + plen,
                         out) < 0)
        abort();
    explicit_bzero(msg, n);
    free(msg);
}

static bool cache_hit(struct web_auth *w, const unsigned char d[DIGEST])
{
    bool hit = false;
    pthread_mutex_lock(&w->cache_lock);
    for (size_t i = 0; i < w->ncache; i++) {
        unsigned char diff = 0;
        for (size_t j = 0; j < DIGEST; j++) diff |= (unsigned char)(w->cache[i].digest[j] ^ d[j]);
        if (diff == 0) {
            w->cache[i].used = ++w->tick;
            hit = true;
        }
    }
    pthread_mutex_unlock(&w->cache_lock);
    return hit;
}

static void cache_put(struct web_auth *w, const unsigned char d[DIGEST])
{
    pthread_mutex_lock(&w->cache_lock);
    size_t slot = w->ncache;
    if (w->ncache == WEB_AUTH_CACHE_MAX) { /* the least recently used goes */
        slot = 0;
        for (size_t i = 1; i < w->ncache; i++)
            if (w->cache[i].used < w->cache[slot].used) slot = i;
    } else {
        w->ncache++;
    }
    memcpy(w->cache[slot].digest, d, DIGEST);
    w->cache[slot].used = ++w->tick;
    pthread_mutex_unlock(&w->cache_lock);
}

/* Decodes "Basic <base64 of user:password>" into a NUL-terminated copy (gnutls_free'd by the
 * caller); returns the colon's offset, or -1. */
static long basic_decode(const char *authorization, gnutls_datum_t *out)
{
    if (!authorization || strncasecmp(authorization, "Basic ", 6) != 0) return -1;
    const char *b64 = authorization + 6;
    while (*b64 == ' ') b64++;
    size_t len = strlen(b64);
    if (len == 0 || len > WEB_AUTH_HEADER_MAX) return -1;
    gnutls_datum_t in = {.data = (unsigned char *)b64, .size = (unsigned)len};
    if (gnutls_base64_decode2(&in, out) < 0) return -1;
    char *colon = memchr(out->data, ':', out->size);
    if (!colon || memchr(out->data, '\0', out->size)) {
        explicit_bzero(out->data, out->size);
        gnutls_free(out->data);
        return -1;
    }
    return colon - (char *)out->data;
}

enum web_basic web_auth_basic(struct web_auth *w, const struct web_config *c,
                              const char *authorization)
{
    gnutls_datum_t d = {0};
    long colon = basic_decode(authorization, &d);
    if (colon < 0) return WEB_BASIC_MISSING;
    const char *user = (const char *)d.data;
    size_t ulen = (size_t)colon;
    char *pass = xstrndup((const char *)d.data + colon + 1, d.size - (size_t)colon - 1);
    size_t plen = strlen(pass);
    const char *hash = NULL;
    for (size_t i = 0; i < c->nusers && !hash; i++)
        if (strlen(c->users[i].name) == ulen && !memcmp(c->users[i].name, user, ulen))
            hash = c->users[i].value;
    unsigned char dg[DIGEST];
    digest_of(w, user, ulen, hash ? hash : dummy_hash, pass, plen, dg);
    bool ok = hash && cache_hit(w, dg);
    if (!ok) {
        pthread_mutex_lock(&w->bcrypt_lock);
        bool match = web_bcrypt_matches(pass, hash ? hash : dummy_hash);
        pthread_mutex_unlock(&w->bcrypt_lock);
        ok = hash && match;
        if (ok) cache_put(w, dg);
    }
    explicit_bzero(pass, plen);
    free(pass);
    explicit_bzero(d.data, d.size);
    gnutls_free(d.data);
    return ok ? WEB_BASIC_OK : WEB_BASIC_WRONG;
}

int web_tls_check(const struct web_config *c, char *err, size_t errlen)
{
    if (!c->tls) return 0;
    gnutls_certificate_credentials_t cred;
    if (gnutls_certificate_allocate_credentials(&cred) < 0) abort();
    gnutls_datum_t cert = {(unsigned char *)c->cert_pem, (unsigned)strlen(c->cert_pem)};
    gnutls_datum_t key = {(unsigned char *)c->key_pem, (unsigned)strlen(c->key_pem)};
    int rc = gnutls_certificate_set_x509_key_mem2(cred, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (rc < 0) {
        snprintf(err, errlen, "tls_server_config: cert_file %s with key_file %s: %s", c->cert_file,
                 c->key_file, gnutls_strerror(rc));
        goto done;
    }
    if (c->ca_pem) {
        gnutls_datum_t ca = {(unsigned char *)c->ca_pem, (unsigned)strlen(c->ca_pem)};
        rc = gnutls_certificate_set_x509_trust_mem(cred, &ca, GNUTLS_X509_FMT_PEM);
        if (rc <= 0) {
            snprintf(err, errlen, "tls_server_config: client_ca_file %s: %s", c->client_ca_file,
                     rc < 0 ? gnutls_strerror(rc) : "no certificate in it");
            rc = -1;
            goto done;
        }
    }
    char *prio = web_config_priorities(c);
    gnutls_priority_t pc;
    const char *where = NULL;
    rc = gnutls_priority_init(&pc, prio, &where);
    if (rc < 0)
        snprintf(err, errlen, "tls_server_config: GnuTLS refuses \"%s\" at \"%s\": %s", prio,
                 where ? where : "", gnutls_strerror(rc));
    else
        gnutls_priority_deinit(pc);
    free(prio);
done:
    gnutls_certificate_free_credentials(cred);
    return rc < 0 ? -1 : 0;
}

enum web_peer web_tls_peer(void *session, enum web_client_auth a)
{
    if (a == WEB_NO_CLIENT_CERT || a == WEB_REQUEST_CLIENT_CERT) return WEB_PEER_OK;
    unsigned n = 0;
    const gnutls_datum_t *certs = session ? gnutls_certificate_get_peers(session, &n) : NULL;
    if (!certs || n == 0)
        return a == WEB_VERIFY_CLIENT_CERT_IF_GIVEN ? WEB_PEER_OK : WEB_PEER_MISSING;
    if (a == WEB_REQUIRE_ANY_CLIENT_CERT) return WEB_PEER_OK;
    unsigned status = 0;
    if (gnutls_certificate_verify_peers2(session, &status) < 0 || status != 0)
        return WEB_PEER_INVALID;
    return WEB_PEER_OK;
}
