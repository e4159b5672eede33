/* arena.c: the bump arena of arena.h. */
#include "arena.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    max_align_t data[];
};

#define ARENA_CHUNK_MIN (64 * 1024)
#define ARENA_CHUNK_MAX (1024 * 1024)

void arena_init(struct arena *a)
{
    a->head = NULL;
    a->used_total = 0;
}

void arena_free(struct arena *a)
{
    struct arena_chunk *c = a->head;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used_total = 0;
}

void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    struct arena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        /* Chunks grow from 64 KiB to 1 MiB with the arena: small sets stay small, and a large
         * one is made of blocks that malloc maps and unmaps on their own (main sets the mmap
         * threshold), so freeing a big set gives its memory back to the system. */
        size_t grow = a->used_total / 4;
        if (grow < ARENA_CHUNK_MIN) grow = ARENA_CHUNK_MIN;
        if (grow > ARENA_CHUNK_MAX) grow = ARENA_CHUNK_MAX;
        size_t size = n > ARENA_CHUNK_MIN / 4 ? n : grow;
        c = xmalloc(sizeof(*c) + size);
        c->size = size;
        c->used = 0;
        if (a->head && n > ARENA_CHUNK_MIN / 4) {
            /* A big block goes behind the current chunk so its free space stays usable. */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    a->used_total += n;
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}
