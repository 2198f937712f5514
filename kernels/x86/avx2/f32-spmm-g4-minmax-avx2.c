// AVX2+FMA fp32 SpMM, four output rows per group (4x1 / 8x1 blocks): each X vector feeds
// four rows (the AVX-512 g4 kernel in ymm). Tiles of 24/16/8 columns (12 accumulators at
// most, 16 ymm registers) and a masked tail.
#include "kernels/ref/spmm-impl.h"

#include <immintrin.h>

static inline __attribute__((always_inline)) void tile(size_t nv, bool masked, __m256i mask,
                                                       const float *x, size_t ldx,
                                                       const uint32_t *col, const float *v,
                                                       size_t cnt, const float *bias,
                                                       size_t rows, __m256 vlo, __m256 vhi,
                                                       float *c, size_t ldc) {
    __m256 a[4][3];
#pragma GCC unroll 4
    for (size_t m = 0; m < 4; m++) {
        const __m256 b = _mm256_set1_ps(bias && m < rows ? bias[m] : 0.0f);
#pragma GCC unroll 3
        for (size_t r = 0; r < nv; r++) a[m][r] = b;
    }
    for (size_t e = 0; e < cnt; e++) {
        const float *x0 = x + (size_t)col[e] * ldx;
        __m256 xv[3];
#pragma GCC unroll 3
        for (size_t r = 0; r < nv; r++)
            xv[r] = masked ? _mm256_maskload_ps(x0 + 8 * r, mask) : _mm256_loadu_ps(x0 + 8 * r);
#pragma GCC unroll 4
        for (size_t m = 0; m < 4; m++) {
            const __m256 wv = _mm256_broadcast_ss(v + e * 4 + m);
#pragma GCC unroll 3
            for (size_t r = 0; r < nv; r++) a[m][r] = _mm256_fmadd_ps(wv, xv[r], a[m][r]);
        }
    }
#pragma GCC unroll 4
    for (size_t m = 0; m < 4; m++) {
        if (m >= rows) break;
#pragma GCC unroll 3
        for (size_t r = 0; r < nv; r++) {
            __m256 o = _mm256_min_ps(vhi, _mm256_max_ps(vlo, a[m][r]));
            if (masked)
                _mm256_maskstore_ps(c + m * ldc + 8 * r, mask, o);
            else
                _mm256_storeu_ps(c + m * ldc + 8 * r, o);
        }
    }
}

#define SWEEP(NV, MASKED)                                                                  \
    for (size_t i = g0; i < g1; i++) {                                                     \
        const size_t p0 = w->ptr[i], row = i * 4;                                          \
        tile(NV, MASKED, mask, call->x + j, call->ldx, w->col + p0, w->vf + p0 * 4,        \
             w->ptr[i + 1] - p0, call->bias ? call->bias + row : NULL,                    \
             QS_MIN((size_t)4, w->m - row), vlo, vhi, call->c + row * call->ldc + j,       \
             call->ldc);                                                                   \
    }

void qs_f32_spmm_minmax_ukernel_g4__avx2(const struct qs_spmm_f32_call *call, size_t g0,
                                         size_t g1, size_t n0, size_t n1) {
    const qs_spmm_weights *w = call->w;
    const __m256 vlo = _mm256_set1_ps(call->lo), vhi = _mm256_set1_ps(call->hi);
    __m256i mask = _mm256_setzero_si256();
    size_t j = n0;
    for (; j + 24 <= n1; j += 24) SWEEP(3, false)
    if (j + 16 <= n1) { SWEEP(2, false) j += 16; }
    if (j + 8 <= n1) { SWEEP(1, false) j += 8; }
    if (j < n1) {
        mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n1 - j)),
                                  _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        SWEEP(1, true)
    }
}
