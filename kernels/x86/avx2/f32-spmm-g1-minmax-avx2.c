// AVX2+FMA fp32 SpMM, one output row per group (CSR): the AVX-512 kernel's scheme in ymm
// (kernels/x86/avx512/f32-spmm-g1-minmax-avx512.c): column tiles of 64/32/16/8 and a
// masked tail, accumulators in registers over the row's non-zeros, two accumulator sets
// for tiles of at most 32 columns.
#include "kernels/ref/spmm-impl.h"

#include <immintrin.h>

static inline __attribute__((always_inline)) __m256 ld(const float *p, bool masked,
                                                       __m256i mask) {
    return masked ? _mm256_maskload_ps(p, mask) : _mm256_loadu_ps(p);
}

static inline __attribute__((always_inline)) void tile(size_t nv, bool masked, __m256i mask,
                                                       const float *x, size_t ldx,
                                                       const uint32_t *col, const float *v,
                                                       size_t cnt, float bias, __m256 vlo,
                                                       __m256 vhi, float *c) {
    __m256 a[8], b[8];
#pragma GCC unroll 8
    for (size_t r = 0; r < nv; r++) a[r] = _mm256_set1_ps(bias), b[r] = _mm256_setzero_ps();
    size_t e = 0;
    if (nv <= 4) {
        for (; e + 2 <= cnt; e += 2) {
            const float *x0 = x + (size_t)col[e] * ldx, *x1 = x + (size_t)col[e + 1] * ldx;
            const __m256 w0 = _mm256_broadcast_ss(v + e), w1 = _mm256_broadcast_ss(v + e + 1);
#pragma GCC unroll 8
            for (size_t r = 0; r < nv; r++) {
                a[r] = _mm256_fmadd_ps(w0, ld(x0 + 8 * r, masked, mask), a[r]);
                b[r] = _mm256_fmadd_ps(w1, ld(x1 + 8 * r, masked, mask), b[r]);
            }
        }
    }
    for (; e < cnt; e++) {
        const float *x0 = x + (size_t)col[e] * ldx;
        const __m256 w0 = _mm256_broadcast_ss(v + e);
#pragma GCC unroll 8
        for (size_t r = 0; r < nv; r++)
            a[r] = _mm256_fmadd_ps(w0, ld(x0 + 8 * r, masked, mask), a[r]);
    }
#pragma GCC unroll 8
    for (size_t r = 0; r < nv; r++) {
        __m256 o = nv <= 4 ? _mm256_add_ps(a[r], b[r]) : a[r];
        o = _mm256_min_ps(vhi, _mm256_max_ps(vlo, o));
        if (masked)
            _mm256_maskstore_ps(c + 8 * r, mask, o);
        else
            _mm256_storeu_ps(c + 8 * r, o);
    }
}

#define SWEEP(NV, MASKED)                                                                   \
    for (size_t i = g0; i < g1; i++) {                                                      \
        const size_t p0 = w->ptr[i];                                                        \
        tile(NV, MASKED, mask, call->x + j, call->ldx, w->col + p0, w->vf + p0,              \
             w->ptr[i + 1] - p0, call->bias ? call->bias[i] : 0.0f, vlo, vhi,               \
             call->c + i * call->ldc + j);                                                  \
    }

void qs_f32_spmm_minmax_ukernel_g1__avx2(const struct qs_spmm_f32_call *call, size_t g0,
                                         size_t g1, size_t n0, size_t n1) {
    const qs_spmm_weights *w = call->w;
    const __m256 vlo = _mm256_set1_ps(call->lo), vhi = _mm256_set1_ps(call->hi);
    __m256i mask = _mm256_setzero_si256();
    size_t j = n0;
    for (; j + 64 <= n1; j += 64) SWEEP(8, false)
    if (j + 32 <= n1) { SWEEP(4, false) j += 32; }
    if (j + 16 <= n1) { SWEEP(2, false) j += 16; }
    if (j + 8 <= n1) { SWEEP(1, false) j += 8; }
    if (j < n1) {
        mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n1 - j)),
                                  _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        SWEEP(1, true)
    }
}
