/* strutil.c: string predicates and UTF-8-safe cuts (see strutil.h). */
#include "strutil.h"

#include <string.h>

bool str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_suffix(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

size_t str_utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max) return len;
    size_t n = max;
    /* s[max] exists (len > max): if it continues a sequence (10xxxxxx), that sequence started
     * before max and would be cut; drop it whole. */
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    return n;
}

size_t str_utf8_copy(char *out, size_t outlen, const char *s)
{
    size_t n = str_utf8_cut(s, strlen(s), outlen - 1);
    memcpy(out, s, n);
    out[n] = '\0';
    return n;
}
