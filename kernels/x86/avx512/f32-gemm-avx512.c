// AVX-512F fp32 GEMM (kernels/f32.h, gemm): tiles of 8 rows x 32 columns in 16 registers;
// per k, two loads of B's row and eight broadcasts of A (any strides: the DDPG agent's
// MLP passes A transposed for its weight gradients). Each lane sums in k order with one
// FMA per product, as qs__f32_gemm_ref.
#include "kernels/f32.h"

#include <immintrin.h>

static inline __mmask16 tail_mask(size_t n) {
    return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

#define QS_INLINE static inline __attribute__((always_inline))

QS_INLINE void tile(size_t MR, size_t k, const float *a, size_t rsa, size_t csa,
                    const float *b, size_t ldb, float *c, size_t ldc, bool acc, __mmask16 m0,
                    __mmask16 m1) {
    __m512 s0[8], s1[8];
#pragma GCC unroll 8
    for (size_t i = 0; i < MR; i++) {
        s0[i] = acc ? _mm512_maskz_loadu_ps(m0, c + i * ldc) : _mm512_setzero_ps();
        s1[i] = acc ? _mm512_maskz_loadu_ps(m1, c + i * ldc + 16) : _mm512_setzero_ps();
    }
    for (size_t p = 0; p < k; p++) {
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, b + p * ldb);
        const __m512 b1 = _mm512_maskz_loadu_ps(m1, b + p * ldb + 16);
        const float *ap = a + p * csa;
#pragma GCC unroll 8
        for (size_t i = 0; i < MR; i++) {
            const __m512 av = _mm512_set1_ps(ap[i * rsa]);
            s0[i] = _mm512_fmadd_ps(av, b0, s0[i]);
            s1[i] = _mm512_fmadd_ps(av, b1, s1[i]);
        }
    }
#pragma GCC unroll 8
    for (size_t i = 0; i < MR; i++) {
        _mm512_mask_storeu_ps(c + i * ldc, m0, s0[i]);
        _mm512_mask_storeu_ps(c + i * ldc + 16, m1, s1[i]);
    }
}

void qs__f32_gemm__avx512(size_t m, size_t n, size_t k, const float *a, size_t rsa, size_t csa,
                          const float *b, size_t ldb, float *c, size_t ldc, bool acc) {
    for (size_t j = 0; j < n; j += 32) {
        const size_t nv = n - j < 32 ? n - j : 32;
        const __mmask16 m0 = tail_mask(nv), m1 = nv > 16 ? tail_mask(nv - 16) : 0;
        size_t i = 0;
        for (; i + 8 <= m; i += 8)
            tile(8, k, a + i * rsa, rsa, csa, b + j, ldb, c + i * ldc + j, ldc, acc, m0, m1);
        for (; i + 4 <= m; i += 4)
            tile(4, k, a + i * rsa, rsa, csa, b + j, ldb, c + i * ldc + j, ldc, acc, m0, m1);
        for (; i < m; i++)
            tile(1, k, a + i * rsa, rsa, csa, b + j, ldb, c + i * ldc + j, ldc, acc, m0, m1);
    }
}
