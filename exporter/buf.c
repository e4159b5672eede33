/* buf.c: capped growable buffers with a sticky error (see buf.h). */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"

/* A buffer without a cap is a bug in drwatch, not an input problem: stop at the first use so
 * that the test suite finds it, rather than let an outside document grow it without end. */
static void no_cap(const char *file)
{
    fprintf(stderr,
            "level=error component=buf msg=\"a buffer used without a cap (buf_init with a CAP_... "
            "of caps.h)\" file=%s\n",
            file ? file : "?");
    abort();
}

void buf_init_in(struct buf *b, size_t max, const char *file)
{
    if (max == 0) no_cap(file);
    /* No buffer can be larger than half the address space: len + extra + 1 never wraps. */
    *b = (struct buf){.max = max < SIZE_MAX / 2 ? max : SIZE_MAX / 2};
}

void buf_free(struct buf *b)
{
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->err = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    b->err = 0;
    if (b->data) b->data[0] = '\0';
}

static int fail(struct buf *b, int rc)
{
    if (!b->err) b->err = rc;
    return rc;
}

int buf_reserve(struct buf *b, size_t extra)
{
    if (b->max == 0) no_cap(NULL);
    if (b->err) return b->err;
    if (extra > b->max || b->len > b->max - extra) return fail(b, -E2BIG);
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    if (cap > b->max + 1) cap = b->max + 1;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    if (b->err) return b->err;
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) return fail(b, -EINVAL);
    if ((size_t)n < sizeof(small)) return buf_append(b, small, (size_t)n);
    int rc = buf_reserve(b, (size_t)n);
    if (rc) return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int buf_error(const struct buf *b)
{
    return b->err;
}

char *buf_steal(struct buf *b, size_t *len)
{
    char *p = b->data ? b->data : xstrdup("");
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    b->err = 0;
    return p;
}
