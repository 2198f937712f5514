// The seeded generator of the kernel tests (xorshift64): g_seed is what a failure prints
// for replay (QS_TEST_SEED), g_state the running state each test seeds from it.
#pragma once

#include <stddef.h>
#include <stdint.h>

static uint64_t g_seed, g_state;

static inline uint64_t rnd(void) {
    g_state ^= g_state << 13;
    g_state ^= g_state >> 7;
    g_state ^= g_state << 17;
    return g_state;
}
/// Uniform in [lo, hi].
static inline size_t urange(size_t lo, size_t hi) {
    return lo + (size_t)(rnd() % (hi - lo + 1));
}
