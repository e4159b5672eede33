/* arena.h: a bump allocator: many small allocations freed together (metric sets). Never
 * returns NULL: it is core data and aborts on out-of-memory like xalloc.h. */
#ifndef DRWATCH_ARENA_H
#define DRWATCH_ARENA_H

#include <stddef.h>

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

#endif
