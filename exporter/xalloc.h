/* xalloc.h: allocation for core data, and how every drwatch function reports failure.
 *
 * The error convention (every part follows it; each header says which form a function uses):
 *   - A function that can fail returns int: 0 on success, or a negative errno-style code
 *     (-EINVAL, -E2BIG, -EIO, -errno from a system call), or -1 with the caller's err buffer
 *     (char *err, size_t errlen) filled with one line saying why. A small positive value is a
 *     documented outcome that is not an error (render_fit's 1: "nothing fits").
 *   - A function that returns a pointer says in its header when it returns NULL (on failure,
 *     with err filled; or for "not found").
 *   - Both kinds are declared DRW_MUST_CHECK: the build (-Werror) refuses a call that drops
 *     the result. Where dropping it is right, the call is wrapped in DRW_IGNORE() with a comment
 *     saying why (gcc does not accept a plain (void) cast for warn_unused_result).
 *   - Appending to a struct buf is the one exception: a buffer keeps its first failure (sticky,
 *     buf.h), so a run of appends is checked once, with buf_error, before the text is used.
 *   - Running out of memory for core data is not an error a caller handles: the x* functions
 *     below log and abort. What the outside world sizes (a scrape body, a JSON document, a
 *     template expansion, a label count) has a hard cap instead (caps.h) and fails softly: an
 *     error that is counted or reported, never a crash and never a silent cut that would lie.
 */
#ifndef DRWATCH_XALLOC_H
#define DRWATCH_XALLOC_H

#include <stddef.h>

#define DRW_MUST_CHECK __attribute__((warn_unused_result))
/* Drops a DRW_MUST_CHECK result on purpose; the call site says why in a comment. */
#define DRW_IGNORE(expr) ((void)!(expr))

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a malloc'd string formatted like printf; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
