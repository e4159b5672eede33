/* test_keep.c: the store of what collectors remember across reloads (exporter/keep.h). */
#include <stddef.h>
#include <stdint.h>

#include "keep.h"
#include "tap.h"

struct counter {
    int value;
    int init_calls;
};

static void counter_init(void *mem)
{
    struct counter *c = mem;
    c->value = 100;
    c->init_calls++;
}

int main(void)
{
    struct keep *k = keep_new();
    struct counter *a = keep_get(k, "gslb:system", sizeof(*a), counter_init);
    ok(a && a->value == 100 && a->init_calls == 1, "new memory is zeroed and initialised");
    a->value = 7;
    /* A reload: the new target asks for the same key before the old one lets go. */
    struct counter *b = keep_get(k, "gslb:system", sizeof(*b), counter_init);
    ok(b == a && b->value == 7 && b->init_calls == 1, "the same key gives the same memory back");
    is_int(keep_refs(a), 2, "held twice");
    keep_put(k, a);
    is_int(keep_refs(b), 1, "the old target's reference is gone, the new one's stays");
    struct counter *c = keep_get(k, "gslb:10.0.0.53:53", sizeof(*c), counter_init);
    ok(c != b && c->value == 100, "another key, other memory");
    ok(((uintptr_t)c & (_Alignof(max_align_t) - 1)) == 0, "memory is aligned for any type");
    keep_put(k, b);
    struct counter *d = keep_get(k, "gslb:system", sizeof(*d), counter_init);
    ok(d->value == 100 && d->init_calls == 1, "once every reference is gone, the key starts over");
    keep_put(k, NULL); /* NULL-safe */
    keep_put(k, c);
    keep_free(k); /* frees d, still held: valgrind and ASan see no leak */
    keep_free(NULL);
    return done_testing();
}
