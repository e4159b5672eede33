/* hash.h: a fast seeded 64-bit hash for hash tables. */
#ifndef DRWATCH_HASH_H
#define DRWATCH_HASH_H

#include <stddef.h>
#include <stdint.h>

/* A fast seeded 64-bit hash for hash tables (not for anything an attacker must not collide). */
uint64_t hash_bytes(const void *p, size_t n, uint64_t seed);

#endif
