/* xalloc.h: allocation for core data: aborting allocators (STYLE.md: core allocations may
 * abort on out-of-memory; anything sized by the outside world goes through a capped struct buf
 * (buf.h) instead). */
#ifndef DRWATCH_XALLOC_H
#define DRWATCH_XALLOC_H

#include <stddef.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a malloc'd string formatted like printf; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
