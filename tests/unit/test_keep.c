/* test_keep.c: the store of what collectors remember across reloads (exporter/keep.h). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "keep.h"
#include "tap.h"

struct counter {
    int value;
    int init_calls;
    void *heap;
};

static int finis; /* how many times counter_fini ran */

static void counter_init(void *mem)
{
    struct counter *c = mem;
    c->value = 100;
    c->init_calls++;
    c->heap = malloc(16); /* what fini must free: ASan tells when it does not */
}

static void counter_fini(void *mem)
{
    free(((struct counter *)mem)->heap);
    finis++;
}

int main(void)
{
    struct keep *k = keep_new();
    struct counter *a = keep_get(k, "gslb:system", sizeof(*a), counter_init, counter_fini);
    ok(a && a->value == 100 && a->init_calls == 1, "new memory is zeroed and initialised");
    a->value = 7;
    /* A reload: the new target asks for the same key before the old one lets go. */
    struct counter *b = keep_get(k, "gslb:system", sizeof(*b), counter_init, counter_fini);
    ok(b == a && b->value == 7 && b->init_calls == 1, "the same key gives the same memory back");
    is_int(keep_refs(a), 2, "held twice");
    keep_put(k, a);
    is_int(keep_refs(b), 1, "the old target's reference is gone, the new one's stays");
    is_int(finis, 0, "and fini has not run");
    struct counter *c = keep_get(k, "gslb:10.0.0.53:53", sizeof(*c), counter_init, counter_fini);
    ok(c != b && c->value == 100, "another key, other memory");
    ok(((uintptr_t)c & (_Alignof(max_align_t) - 1)) == 0, "memory is aligned for any type");
    keep_put(k, b);
    struct counter *d = keep_get(k, "gslb:system", sizeof(*d), counter_init, counter_fini);
    is_int(finis, 1, "the last reference ran fini");
    ok(d->value == 100 && d->init_calls == 1, "once every reference is gone, the key starts over");
    keep_put(k, NULL); /* NULL-safe */
    keep_put(k, c);
    keep_free(k); /* frees d, still held, with its fini: ASan sees no leak */
    is_int(finis, 3, "keep_free runs fini for what was left");
    keep_free(NULL);
    return done_testing();
}
