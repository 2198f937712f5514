// AVX2+FMA fp32 GEMM (kernels/f32.h, gemm): tiles of 6 rows x 16 columns in 12 registers;
// per k, two loads of B's row and six broadcasts of A (any strides). Each lane sums in k
// order with one FMA per product, as qs__f32_gemm_ref.
#include "kernels/f32.h"

#include <immintrin.h>

#define QS_INLINE static inline __attribute__((always_inline))

static inline __m256i tail_mask(size_t n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n > 8 ? 8 : n)), idx);
}

QS_INLINE void tile(size_t MR, size_t k, const float *a, size_t rsa, size_t csa,
                    const float *b, size_t ldb, float *c, size_t ldc, bool acc, __m256i m0,
                    __m256i m1) {
    __m256 s0[6], s1[6];
#pragma GCC unroll 6
    for (size_t i = 0; i < MR; i++) {
        s0[i] = acc ? _mm256_maskload_ps(c + i * ldc, m0) : _mm256_setzero_ps();
        s1[i] = acc ? _mm256_maskload_ps(c + i * ldc + 8, m1) : _mm256_setzero_ps();
    }
    for (size_t p = 0; p < k; p++) {
        const __m256 b0 = _mm256_maskload_ps(b + p * ldb, m0);
        const __m256 b1 = _mm256_maskload_ps(b + p * ldb + 8, m1);
        const float *ap = a + p * csa;
#pragma GCC unroll 6
        for (size_t i = 0; i < MR; i++) {
            const __m256 av = _mm256_broadcast_ss(ap + i * rsa);
            s0[i] = _mm256_fmadd_ps(av, b0, s0[i]);
            s1[i] = _mm256_fmadd_ps(av, b1, s1[i]);
        }
    }
#pragma GCC unroll 6
    for (size_t i = 0; i < MR; i++) {
        _mm256_maskstore_ps(c + i * ldc, m0, s0[i]);
        _mm256_maskstore_ps(c + i * ldc + 8, m1, s1[i]);
    }
}

void qs__f32_gemm__avx2(size_t m, size_t n, size_t k, const float *a, size_t rsa, size_t csa,
                        const float *b, size_t ldb, float *c, size_t ldc, bool acc) {
    for (size_t j = 0; j < n; j += 16) {
        const size_t nv = n - j < 16 ? n - j : 16;
        const __m256i m0 = tail_mask(nv), m1 = tail_mask(nv > 8 ? nv - 8 : 0);
        size_t i = 0;
        for (; i + 6 <= m; i += 6)
            tile(6, k, a + i * rsa, rsa, csa, b + j, ldb, c + i * ldc + j, ldc, acc, m0, m1);
        for (; i + 3 <= m; i += 3)
            tile(3, k, a + i * rsa, rsa, csa, b + j, ldb, c + i * ldc + j, ldc, acc, m0, m1);
        for (; i < m; i++)
            tile(1, k, a + i * rsa, rsa, csa, b + j, ldb, c + i * ldc + j, ldc, acc, m0, m1);
    }
}
