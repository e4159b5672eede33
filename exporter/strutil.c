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

/* The length of the well-formed UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len = c < 0x80             ? 1
                 : (c & 0xE0) == 0xC0 ? 2
                 : (c & 0xF0) == 0xE0 ? 3
                 : (c & 0xF8) == 0xF0 ? 4
                                      : 0;
    if (!len || len > n) return 0;
    unsigned cp = len == 1 ? c : c & (0xFF >> (len + 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

size_t str_utf8_clean(char *out, size_t outlen, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), o = 0;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq(p + i, n - i);
        bool control = len == 1 && (p[i] < 0x20 || p[i] == 0x7F) && p[i] != '\t';
        size_t w = (len && !control) ? len : 1;
        if (o + w >= outlen) break;
        if (len && !control)
            memcpy(out + o, p + i, len);
        else
            out[o] = '?';
        o += w;
        i += len ? len : 1;
    }
    out[o] = '\0';
    return o;
}
