/* buf.h: a growable byte buffer with a hard cap, modelled on curl's dynbuf: every buffer
 * is created with its cap (caps.h names them), and an append past the cap fails with -E2BIG and
 * leaves the buffer as it was. */
#ifndef DRWATCH_BUF_H
#define DRWATCH_BUF_H

#include <stddef.h>

/* A growable byte buffer. `max` caps its length (0: no cap); an append past the cap fails
 * with -E2BIG and leaves the buffer as it was. data is NUL-terminated when non-NULL. */
struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the data to the caller (who frees it) and leaves the buffer empty. */
char *buf_steal(struct buf *b, size_t *len);

#endif
