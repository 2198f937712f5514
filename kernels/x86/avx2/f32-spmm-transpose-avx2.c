// AVX2 fp32 transpose for the fully connected SpMM path (ir/ops/gemm.c moves activations
// into and results out of the kernels' weight-major orientation): 8x8 blocks in registers
// (unpack, shuffle, 128-bit permute), 32x32 tiles for the cache, scalar edges.
#include "kernels/ref/spmm-impl.h"

#include <immintrin.h>

static inline void tr8x8(const float *s, size_t lds, float *d, size_t ldd) {
    const __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + lds);
    const __m256 r2 = _mm256_loadu_ps(s + 2 * lds), r3 = _mm256_loadu_ps(s + 3 * lds);
    const __m256 r4 = _mm256_loadu_ps(s + 4 * lds), r5 = _mm256_loadu_ps(s + 5 * lds);
    const __m256 r6 = _mm256_loadu_ps(s + 6 * lds), r7 = _mm256_loadu_ps(s + 7 * lds);
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(d + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(d + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(d + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(d + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(d + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(d + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(d + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}

void qs__spmm_transpose_f32__avx2(size_t r, size_t c, const float *src, size_t lds, float *dst,
                                  size_t ldd) {
    enum { T = 32 };
    for (size_t i0 = 0; i0 < r; i0 += T)
        for (size_t j0 = 0; j0 < c; j0 += T) {
            const size_t i1 = QS_MIN(r, i0 + T), j1 = QS_MIN(c, j0 + T);
            size_t i = i0;
            for (; i + 8 <= i1; i += 8) {
                size_t j = j0;
                for (; j + 8 <= j1; j += 8) tr8x8(src + i * lds + j, lds, dst + j * ldd + i, ldd);
                for (; j < j1; j++)
                    for (size_t ii = i; ii < i + 8; ii++) dst[j * ldd + ii] = src[ii * lds + j];
            }
            for (; i < i1; i++)
                for (size_t j = j0; j < j1; j++) dst[j * ldd + i] = src[i * lds + j];
        }
}
