/* keep.c: the store of keep.h, a list: a daemon keeps a few dozen entries at most. */
#include "keep.h"

#include <stdint.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct entry {
    struct entry *next;
    char *key;
    int refs;
    void (*fini)(void *mem);
    alignas(max_align_t) unsigned char mem[]; /* what keep_get hands out */
};

struct keep {
    struct entry *entries;
};

static struct entry *entry_of(const void *mem)
{
    return (struct entry *)(void *)((unsigned char *)(uintptr_t)mem - offsetof(struct entry, mem));
}

struct keep *keep_new(void)
{
    return xcalloc(1, sizeof(struct keep));
}

void keep_free(struct keep *k)
{
    if (!k) return;
    for (struct entry *e = k->entries, *next; e; e = next) {
        next = e->next;
        if (e->fini) e->fini(e->mem);
        free(e->key);
        free(e);
    }
    free(k);
}

void *keep_get(struct keep *k, const char *key, size_t size, void (*init)(void *mem),
               void (*fini)(void *mem))
{
    for (struct entry *e = k->entries; e; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            e->refs++;
            return e->mem;
        }
    }
    struct entry *e = xcalloc(1, sizeof(*e) + size);
    e->key = xstrdup(key);
    e->refs = 1;
    e->fini = fini;
    e->next = k->entries;
    k->entries = e;
    if (init) init(e->mem);
    return e->mem;
}

int keep_refs(const void *mem)
{
    return entry_of(mem)->refs;
}

void keep_put(struct keep *k, void *mem)
{
    if (!mem) return;
    struct entry *e = entry_of(mem);
    if (--e->refs > 0) return;
    for (struct entry **p = &k->entries; *p; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            break;
        }
    }
    if (e->fini) e->fini(e->mem);
    free(e->key);
    free(e);
}
