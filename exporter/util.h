/* util.h: allocation, capped growable buffers, arenas, clocks and number text.
 *
 * Ownership: xmalloc & co. abort on out-of-memory (core allocations only, STYLE.md).
 * Anything sized by the outside world goes through a struct buf with a max, which fails
 * softly with -E2BIG instead. */
#ifndef DRWATCH_UTIL_H
#define DRWATCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a malloc'd string formatted like printf; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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

/* Bump allocator: many small allocations freed together. Never returns NULL. */
struct arena_chunk;
struct arena {
    struct arena_chunk *head;
    size_t used_total;
};
void arena_init(struct arena *a);
void arena_free(struct arena *a);
void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);

/* Clocks. mono is CLOCK_MONOTONIC, for deadlines and durations; wall is for timestamps. */
int64_t time_mono_ms(void);
double time_mono_s(void);
double time_wall_s(void);

/* Writes v in Prometheus text form ("NaN", "+Inf", integers without a point, otherwise the
 * shortest text that reads back as the same double). out needs 32 bytes. Returns length. */
size_t fmt_double(char *out, double v);
/* Same, but always with a '.' or an exponent for finite values (OpenMetrics le/quantile). */
size_t fmt_double_canonical(char *out, double v);

/* Parses a Prometheus duration ("15s", "1m30s", "500ms", "2h") into milliseconds.
 * Returns 0, or -EINVAL on bad text. */
int parse_duration_ms(const char *s, int64_t *out_ms);

/* A fast seeded 64-bit hash for hash tables (not for anything an attacker must not collide). */
uint64_t hash_bytes(const void *p, size_t n, uint64_t seed);

/* Reads a whole small file (secrets, /proc) into a malloc'd NUL-terminated string, capped
 * at max bytes. Returns 0, -errno, or -E2BIG. */
int file_read_all(const char *path, size_t max, char **out, size_t *len);

bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);

#endif
