/* strutil.h: small string predicates, and cutting outside text to a cap without splitting a
 * UTF-8 character (labels, notification texts: a cut must never leave half a character). */
#ifndef DRWATCH_STRUTIL_H
#define DRWATCH_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>

bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);

/* How many bytes of s[0..len) to keep so that it is at most max bytes and not cut inside a
 * UTF-8 sequence: len when it fits, else max backed up to the start of the sequence that
 * crosses it. Invalid UTF-8 is not repaired, only never made worse. */
size_t str_utf8_cut(const char *s, size_t len, size_t max);
/* Copies the NUL-terminated s into out[outlen] (outlen > 0), cut by str_utf8_cut to leave room
 * for the NUL. Returns the bytes copied. */
size_t str_utf8_copy(char *out, size_t outlen, const char *s);

/* Copies s into out[outlen] (outlen > 0) as valid, printable UTF-8: every byte that is not
 * part of a well-formed sequence (RFC 3629: no overlongs, no surrogates, nothing past
 * U+10FFFF) and every control character but tab becomes '?', and the copy is cut at a
 * character to fit. For outside text that goes into JSON (jansson refuses invalid UTF-8) or a
 * log line. Returns the bytes written. */
size_t str_utf8_clean(char *out, size_t outlen, const char *s);

#endif
