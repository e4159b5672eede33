/* fuzz_web_config.c: arbitrary bytes as a --web.config.file (exporter/web_config.h). The
 * parser does more than libyaml: key tables, cross-key checks, Go cipher names to GnuTLS
 * parts, header and bcrypt checks. Invariants: a refusal has a message that starts with the
 * file's name and a line; what parses has both cert and key when TLS is on, versions in
 * 10..13 in order, at most the capped numbers of users and headers, every user's hash valid,
 * and a priority string GnuTLS's syntax starts with. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct web_config *c = NULL;
    char err[512] = "";
    if (web_config_parse((const char *)data, size, "w.yml", "/d", &c, err, sizeof(err)) < 0) {
        if (strncmp(err, "w.yml:", 6) != 0 || c) abort();
        return 0;
    }
    if (c->tls && (!c->cert_file || !c->key_file)) abort();
    if (c->min_version < 10 || c->max_version > 13 || c->min_version > c->max_version) abort();
    if (c->nusers > WEB_CONFIG_MAX_USERS || c->nheaders > 16) abort();
    for (size_t i = 0; i < c->nusers; i++)
        if (!web_bcrypt_hash_valid(c->users[i].value)) abort();
    char *prio = web_config_priorities(c);
    if (strncmp(prio, "NORMAL:-VERS-ALL:+VERS-TLS1.", 28) != 0) abort();
    free(prio);
    web_config_unref(c);
    return 0;
}
