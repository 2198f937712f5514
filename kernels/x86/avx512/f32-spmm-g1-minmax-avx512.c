// AVX-512F fp32 SpMM, one output row per group (CSR): a tile of 16*NV columns of one row
// stays in NV zmm accumulators over the row's non-zeros; each non-zero is one weight
// broadcast and NV fused multiply-adds with the X row loaded as the memory operand. Column
// tiles of 128/64/32/16 and a masked tail (Paddle Lite's N blocking, in zmm widths); tiles
// of at most 64 columns split the non-zeros over two accumulator sets so the FMA latency
// chain does not limit them. Column tiles run outside the rows so a K x 128 panel of X stays
// in L2 while every row of the range sweeps it.
#include "kernels/ref/spmm-impl.h"

#include <immintrin.h>

static inline __attribute__((always_inline)) void tile(size_t nv, __mmask16 tail,
                                                       const float *x, size_t ldx,
                                                       const uint32_t *col, const float *v,
                                                       size_t cnt, float bias, __m512 vlo,
                                                       __m512 vhi, float *c) {
    __m512 a[8], b[8];
#pragma GCC unroll 8
    for (size_t r = 0; r < nv; r++) a[r] = _mm512_set1_ps(bias), b[r] = _mm512_setzero_ps();
    size_t e = 0;
    if (nv <= 4) {
        for (; e + 2 <= cnt; e += 2) {
            const float *x0 = x + (size_t)col[e] * ldx, *x1 = x + (size_t)col[e + 1] * ldx;
            const __m512 w0 = _mm512_set1_ps(v[e]), w1 = _mm512_set1_ps(v[e + 1]);
#pragma GCC unroll 8
            for (size_t r = 0; r < nv; r++) {
                if (tail) {
                    a[r] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(tail, x0 + 16 * r), a[r]);
                    b[r] = _mm512_fmadd_ps(w1, _mm512_maskz_loadu_ps(tail, x1 + 16 * r), b[r]);
                } else {
                    a[r] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x0 + 16 * r), a[r]);
                    b[r] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x1 + 16 * r), b[r]);
                }
            }
        }
    }
    for (; e < cnt; e++) {
        const float *x0 = x + (size_t)col[e] * ldx;
        const __m512 w0 = _mm512_set1_ps(v[e]);
#pragma GCC unroll 8
        for (size_t r = 0; r < nv; r++)
            a[r] = _mm512_fmadd_ps(w0, tail ? _mm512_maskz_loadu_ps(tail, x0 + 16 * r)
                                            : _mm512_loadu_ps(x0 + 16 * r), a[r]);
    }
#pragma GCC unroll 8
    for (size_t r = 0; r < nv; r++) {
        __m512 o = nv <= 4 ? _mm512_add_ps(a[r], b[r]) : a[r];
        o = _mm512_min_ps(vhi, _mm512_max_ps(vlo, o));
        if (tail)
            _mm512_mask_storeu_ps(c + 16 * r, tail, o);
        else
            _mm512_storeu_ps(c + 16 * r, o);
    }
}

#define SWEEP(NV, TAIL)                                                                  \
    for (size_t i = g0; i < g1; i++) {                                                   \
        const size_t p0 = w->ptr[i];                                                     \
        tile(NV, TAIL, call->x + j, call->ldx, w->col + p0, w->vf + p0, w->ptr[i + 1] - p0, \
             call->bias ? call->bias[i] : 0.0f, vlo, vhi, call->c + i * call->ldc + j);   \
    }

void qs_f32_spmm_minmax_ukernel_g1__avx512(const struct qs_spmm_f32_call *call, size_t g0,
                                           size_t g1, size_t n0, size_t n1) {
    const qs_spmm_weights *w = call->w;
    const __m512 vlo = _mm512_set1_ps(call->lo), vhi = _mm512_set1_ps(call->hi);
    size_t j = n0;
    for (; j + 128 <= n1; j += 128) SWEEP(8, 0)
    if (j + 64 <= n1) { SWEEP(4, 0) j += 64; }
    if (j + 32 <= n1) { SWEEP(2, 0) j += 32; }
    if (j + 16 <= n1) { SWEEP(1, 0) j += 16; }
    if (j < n1) {
        const __mmask16 m = (__mmask16)((1u << (n1 - j)) - 1);
        SWEEP(1, m)
    }
}
