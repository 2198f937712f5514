// Helpers for the fp32 kernel tests: a seeded generator, guarded buffers and tolerant
// comparison with a message that names the case.
#pragma once

#include "kernels/f32.h"
#include "test.h"

#include <math.h>
#include <stdint.h>

static uint64_t f32t_state = 0x9e3779b97f4a7c15ull;

static inline void f32t_seed(uint64_t s) {
    f32t_state = s * 0x9e3779b97f4a7c15ull + 1;
}
static inline uint32_t f32t_u32(void) {
    f32t_state ^= f32t_state << 13;
    f32t_state ^= f32t_state >> 7;
    f32t_state ^= f32t_state << 17;
    return (uint32_t)(f32t_state >> 11);
}
/// Uniform integer in [lo, hi].
static inline int64_t f32t_int(int64_t lo, int64_t hi) {
    return lo + (int64_t)(f32t_u32() % (uint32_t)(hi - lo + 1));
}
/// Uniform float in [-1, 1).
static inline float f32t_float(void) {
    return (float)(f32t_u32() & 0xffffff) / 8388608.0f - 1.0f;
}

#define F32T_GUARD 32
#define F32T_CANARY 12345.678f

/// A buffer of n floats with F32T_GUARD canary floats after it (and QS_EXTRA_BYTES of
/// slack beyond, as the library guarantees for its own buffers).
static inline float *f32t_alloc(size_t n) {
    float *p = qs__aligned_alloc(sizeof(float) * (n + F32T_GUARD));
    ASSERT_TRUE(p != NULL);
    for (size_t i = 0; i < n + F32T_GUARD; i++) p[i] = F32T_CANARY;
    return p;
}
static inline void f32t_fill(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = f32t_float();
}
static inline void f32t_check_guard(const float *p, size_t n, const char *what) {
    for (size_t i = n; i < n + F32T_GUARD; i++)
        if (p[i] != F32T_CANARY) {
            fprintf(stderr, "%s: wrote past the end (index %zu of %zu)\n", what, i, n);
            exit(1);
        }
}

/// Fails unless |got - want| <= atol + rtol * |want| everywhere (NaNs must match).
static inline void f32t_near(const float *got, const float *want, size_t n, float atol,
                             float rtol, const char *what) {
    for (size_t i = 0; i < n; i++) {
        float g = got[i], w = want[i];
        if ((isnan(w) && isnan(g)) || g == w) continue;
        if (!(fabsf(g - w) <= atol + rtol * fabsf(w))) {
            fprintf(stderr, "%s: element %zu of %zu: got %.9g, want %.9g\n", what, i, n, g, w);
            exit(1);
        }
    }
}
