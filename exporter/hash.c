/* hash.c: the hash of hash.h (wyhash's mixing step). */
#include "hash.h"

#include <string.h>

/* Multiply-and-fold of 64-bit words (the mixing step of wyhash): eight bytes per step where
 * FNV-1a did one, which matters when every one of 100k series is hashed at each parse. */
static inline uint64_t hash_mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = seed ^ 0x9e3779b97f4a7c15ULL ^ (uint64_t)n;
    while (n >= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + 8, 8);
        h = hash_mix(a ^ 0xa0761d6478bd642fULL, b ^ h);
        s += 16;
        n -= 16;
    }
    uint64_t a = 0, b = 0;
    if (n > 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + 8, n - 8);
    } else {
        memcpy(&a, s, n);
    }
    h = hash_mix(a ^ 0xe7037ed1a0b428dbULL, b ^ h);
    return hash_mix(h ^ 0x8ebc6af09c88c6e3ULL, 0x589965cc75374cc3ULL);
}
