/* buf.h: a growable byte buffer with a hard cap, modelled on curl's dynbuf: every buffer is
 * created with its cap (a CAP_... of caps.h), and an append past the cap fails with -E2BIG and
 * leaves the buffer as it was.
 *
 * The failure is sticky: once an append fails, the buffer keeps that error and every later
 * append fails too, until buf_reset. So a renderer makes its appends without checking each
 * one and asks buf_error once, before the text is used: the text is then either whole or
 * known to be cut, never a prefix with later pieces glued on past a hole. (The appenders still
 * return the error for callers that stop early.) buf_reserve is different: its caller writes
 * into data itself, so its result must be checked.
 *
 * Ownership: the buffer owns data; buf_free releases it, buf_steal hands it to the caller. */
#ifndef DRWATCH_BUF_H
#define DRWATCH_BUF_H

#include <stddef.h>

#include "xalloc.h"

struct buf {
    char *data; /* NUL-terminated when non-NULL */
    size_t len; /* bytes of text, without the NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* the hard cap on len; never 0 once initialised */
    int err;    /* the first failed append (-E2BIG, -EINVAL), 0 while none failed */
};

/* Starts an empty buffer capped at max bytes. max 0 (no cap) is a programming error: it
 * aborts, as does appending to a buffer that was never initialised. (A macro, so that the few
 * files still waiting for their caps can be named in buf.c: see awaiting_caps there.) */
#define buf_init(b, max) buf_init_in((b), (max), __FILE__)
void buf_init_in(struct buf *b, size_t max, const char *file);
/* The same as buf_init, for a buffer inside a struct initializer; limit must not be 0. */
/* clang-format off */
#define BUF_INIT(limit) {.max = (limit)}
/* clang-format on */
/* Frees the data; the buffer is empty again, keeps its max and forgets its error. NULL-safe. */
void buf_free(struct buf *b);
/* Empties the buffer (keeping its memory) and forgets its error. */
void buf_reset(struct buf *b);
/* Makes room for extra more bytes (and the NUL) for a caller that writes into data itself.
 * Returns 0, or -E2BIG past the cap (also recorded as the buffer's error). */
DRW_MUST_CHECK int buf_reserve(struct buf *b, size_t extra);
/* The appenders: 0, or the buffer's error (-E2BIG past the cap, -EINVAL for a bad format),
 * now or from an earlier append. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0 when every append since the last reset fit, else the first error. */
DRW_MUST_CHECK int buf_error(const struct buf *b);
/* Hands the data to the caller (who frees it; never NULL) and leaves the buffer empty. Check
 * buf_error first: the text of a buffer that overflowed is cut. */
char *buf_steal(struct buf *b, size_t *len);

#endif
