// AVX-512F fp32 SpMM, four output rows per group (4x1 / 8x1 blocks): every X vector loaded
// for a non-zero column feeds four rows, so a 64-column tile runs 16 FMAs per 4 loads and
// 4 broadcasts (FMA-bound instead of load-bound). Tiles of 64/32/16 columns and a masked
// tail; rows past M in the last group are computed and not stored.
#include "kernels/ref/spmm-impl.h"

#include <immintrin.h>

static inline __attribute__((always_inline)) void tile(size_t nv, __mmask16 tail,
                                                       const float *x, size_t ldx,
                                                       const uint32_t *col, const float *v,
                                                       size_t cnt, const float *bias,
                                                       size_t rows, __m512 vlo, __m512 vhi,
                                                       float *c, size_t ldc) {
    __m512 a[4][4];
#pragma GCC unroll 4
    for (size_t m = 0; m < 4; m++) {
        const __m512 b = _mm512_set1_ps(bias && m < rows ? bias[m] : 0.0f);
#pragma GCC unroll 4
        for (size_t r = 0; r < nv; r++) a[m][r] = b;
    }
    for (size_t e = 0; e < cnt; e++) {
        const float *x0 = x + (size_t)col[e] * ldx;
        __m512 xv[4];
#pragma GCC unroll 4
        for (size_t r = 0; r < nv; r++)
            xv[r] = tail ? _mm512_maskz_loadu_ps(tail, x0 + 16 * r) : _mm512_loadu_ps(x0 + 16 * r);
#pragma GCC unroll 4
        for (size_t m = 0; m < 4; m++) {
            const __m512 wv = _mm512_set1_ps(v[e * 4 + m]);
#pragma GCC unroll 4
            for (size_t r = 0; r < nv; r++) a[m][r] = _mm512_fmadd_ps(wv, xv[r], a[m][r]);
        }
    }
#pragma GCC unroll 4
    for (size_t m = 0; m < 4; m++) {
        if (m >= rows) break;
#pragma GCC unroll 4
        for (size_t r = 0; r < nv; r++) {
            __m512 o = _mm512_min_ps(vhi, _mm512_max_ps(vlo, a[m][r]));
            if (tail)
                _mm512_mask_storeu_ps(c + m * ldc + 16 * r, tail, o);
            else
                _mm512_storeu_ps(c + m * ldc + 16 * r, o);
        }
    }
}

#define SWEEP(NV, TAIL)                                                                    \
    for (size_t i = g0; i < g1; i++) {                                                     \
        const size_t p0 = w->ptr[i], row = i * 4;                                          \
        tile(NV, TAIL, call->x + j, call->ldx, w->col + p0, w->vf + p0 * 4,                \
             w->ptr[i + 1] - p0, call->bias ? call->bias + row : NULL,                    \
             QS_MIN((size_t)4, w->m - row), vlo, vhi, call->c + row * call->ldc + j,       \
             call->ldc);                                                                   \
    }

void qs_f32_spmm_minmax_ukernel_g4__avx512(const struct qs_spmm_f32_call *call, size_t g0,
                                           size_t g1, size_t n0, size_t n1) {
    const qs_spmm_weights *w = call->w;
    const __m512 vlo = _mm512_set1_ps(call->lo), vhi = _mm512_set1_ps(call->hi);
    size_t j = n0;
    for (; j + 64 <= n1; j += 64) SWEEP(4, 0)
    if (j + 32 <= n1) { SWEEP(2, 0) j += 32; }
    if (j + 16 <= n1) { SWEEP(1, 0) j += 16; }
    if (j < n1) {
        const __mmask16 m = (__mmask16)((1u << (n1 - j)) - 1);
        SWEEP(1, m)
    }
}
