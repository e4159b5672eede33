/* web_config.h: Prometheus exporter-toolkit's web config file (--web.config.file): TLS for the
 * main listener, basic auth users with bcrypt hashes, and extra response headers.
 *
 * The format is exporter-toolkit's (docs/web-configuration.md): YAML with tls_server_config,
 * http_server_config and basic_auth_users. Unknown keys, duplicate keys and bad values are
 * refused with file:line, as the rest of drwatch's config is. A parsed file is immutable and
 * refcounted, so HTTP threads may keep using one while a reload replaces it. */
#ifndef DRWATCH_WEB_CONFIG_H
#define DRWATCH_WEB_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define WEB_CONFIG_MAX_BYTES   (1024 * 1024) /* the file */
#define WEB_CONFIG_MAX_USERS   1024
#define WEB_CONFIG_MAX_PEM     (1024 * 1024) /* a cert, key or CA file */
#define WEB_CONFIG_MAX_CIPHERS 32

/* Go's crypto/tls ClientAuthType, by exporter-toolkit's names. */
enum web_client_auth {
    WEB_NO_CLIENT_CERT,
    WEB_REQUEST_CLIENT_CERT,
    WEB_REQUIRE_ANY_CLIENT_CERT,
    WEB_VERIFY_CLIENT_CERT_IF_GIVEN,
    WEB_REQUIRE_AND_VERIFY_CLIENT_CERT,
};

struct web_pair {
    char *name, *value;
};

struct web_config {
    atomic_int refs;
    bool tls;                                    /* tls_server_config is there: serve HTTPS */
    char *cert_file, *key_file, *client_ca_file; /* resolved against the file's directory */
    enum web_client_auth client_auth;
    int min_version, max_version; /* 10..13: TLS 1.0..1.3; defaults 12 and 13 */
    /* cipher_suites as GnuTLS takes them: the ciphers, key exchanges and MACs of the listed
     * suites, "+X:+Y" each; empty strings when none were listed (the library's defaults). */
    char *ciphers, *kx, *macs;
    bool prefer_server;                /* prefer_server_cipher_suites (default true) */
    char *cert_pem, *key_pem, *ca_pem; /* the files' text, read by web_config_load */
    struct web_pair *users;            /* basic_auth_users: name, bcrypt hash */
    size_t nusers;
    struct web_pair *headers; /* http_server_config.headers */
    size_t nheaders;
};

/* Parses text (len bytes; name is the file's name for messages, dir its directory for
 * relative paths, or NULL). Does not read the files it names. Returns 0 with *out (refs 1),
 * or -1 with err filled as "name:line: what was expected". */
int web_config_parse(const char *text, size_t len, const char *name, const char *dir,
                     struct web_config **out, char *err, size_t errlen);
/* Reads and parses path, then reads the cert, key and CA files it names (each capped at
 * WEB_CONFIG_MAX_PEM). Returns 0 with *out, or -1 with err filled. */
int web_config_load(const char *path, struct web_config **out, char *err, size_t errlen);

struct web_config *web_config_ref(struct web_config *c);
void web_config_unref(struct web_config *c); /* NULL-safe; frees with the last reference */

/* The GnuTLS priority string for c's versions and ciphers (malloc'd). */
char *web_config_priorities(const struct web_config *c);
/* Whether hash looks like a bcrypt hash ($2a$, $2b$ or $2y$, cost 4..31, 60 characters). */
bool web_bcrypt_hash_valid(const char *hash);

#endif
