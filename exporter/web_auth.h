/* web_auth.h: the web config in force (web_config.h) and what the HTTP server checks with it:
 * basic auth against bcrypt hashes, and a TLS client's certificate.
 *
 * The loop loads and reloads the file (web_auth_reload); HTTP threads take a reference to the
 * config in force for one request (web_auth_get) and check credentials (web_auth_basic). A
 * reload that fails keeps the config in force. TLS settings are the listener's: a reload that
 * changes them (or the files' contents) says so, and the loop hands them to the listener. */
#ifndef DRWATCH_WEB_AUTH_H
#define DRWATCH_WEB_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "web_config.h"

#define WEB_AUTH_CACHE_MAX  256 /* verified credentials remembered */
#define WEB_AUTH_HEADER_MAX 4096

struct web_auth;

/* A holder for the file at path (copied), with nothing loaded. */
struct web_auth *web_auth_new(const char *path);
void web_auth_free(struct web_auth *w); /* NULL-safe */
const char *web_auth_path(const struct web_auth *w);

/* Reads the file when force is set or when its size, mtime or inode, or those of the cert,
 * key or CA file it names, changed since the last read (a stat each). Returns 1 when a new config
 * is in force, 0 when nothing changed, or -1 with err filled (the old config stays). *tls_changed
 * says the new file's TLS settings (or the files' contents) differ from those the listener runs
 * with: the first config, or the last one given to web_auth_tls_applied. Loop thread (or before the
 * server starts). */
int web_auth_reload(struct web_auth *w, bool force, bool *tls_changed, char *err, size_t errlen);
/* The listener now runs with c's TLS settings (a reference is kept). Loop thread. */
void web_auth_tls_applied(struct web_auth *w, struct web_config *c);

/* The config in force, with a reference the caller drops (web_config_unref); NULL before the
 * first load. Any thread. */
struct web_config *web_auth_get(struct web_auth *w);

enum web_basic {
    WEB_BASIC_OK,
    WEB_BASIC_MISSING, /* no Basic credentials (or unreadable ones) */
    WEB_BASIC_WRONG,   /* an unknown user or a wrong password */
};
/* Checks an Authorization header (NULL when absent) against c's users. A verified user,
 * hash and password are remembered (a keyed digest, never the password), so that a scraper
 * pays bcrypt once, not every few seconds. An unknown user costs what a known one does. Any
 * thread. */
enum web_basic web_auth_basic(struct web_auth *w, const struct web_config *c,
                              const char *authorization);

/* Whether c's TLS settings work: the key pair loads and matches, the CA file holds
 * certificates, GnuTLS takes the priority string. Returns 0, or -1 with err filled. */
int web_tls_check(const struct web_config *c, char *err, size_t errlen);

enum web_peer {
    WEB_PEER_OK,
    WEB_PEER_MISSING, /* the client_auth_type requires a certificate and none was sent */
    WEB_PEER_INVALID, /* the certificate does not verify against client_ca_file */
};
/* Checks a TLS client (session: its gnutls_session_t) as client_auth_type a asks. Any thread. */
enum web_peer web_tls_peer(void *session, enum web_client_auth a);

/* Whether bcrypt hash is the hash of password (libxcrypt), compared in constant time. */
bool web_bcrypt_matches(const char *password, const char *hash);

#endif
