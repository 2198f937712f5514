// NEON fp32 SpMM, one output row per group (CSR), Paddle Lite's N blocking in q-register
// widths: column tiles of 32 (8 accumulators), 16, 8 and 4 (two accumulator sets so the FMA
// latency does not bound them), then single columns. Each non-zero is one weight and
// nv fused multiply-adds (vfmaq_n_f32) against the X row.
#include "kernels/ref/spmm-impl.h"

#include <arm_neon.h>

static inline __attribute__((always_inline)) void tile(size_t nv, const float *x, size_t ldx,
                                                       const uint32_t *col, const float *v,
                                                       size_t cnt, float bias,
                                                       float32x4_t vlo, float32x4_t vhi,
                                                       float *c) {
    float32x4_t a[8], b[8];
#pragma GCC unroll 8
    for (size_t r = 0; r < nv; r++) a[r] = vdupq_n_f32(bias), b[r] = vdupq_n_f32(0.0f);
    size_t e = 0;
    if (nv <= 4) {
        for (; e + 2 <= cnt; e += 2) {
            const float *x0 = x + (size_t)col[e] * ldx, *x1 = x + (size_t)col[e + 1] * ldx;
#pragma GCC unroll 8
            for (size_t r = 0; r < nv; r++) {
                a[r] = vfmaq_n_f32(a[r], vld1q_f32(x0 + 4 * r), v[e]);
                b[r] = vfmaq_n_f32(b[r], vld1q_f32(x1 + 4 * r), v[e + 1]);
            }
        }
    }
    for (; e < cnt; e++) {
        const float *x0 = x + (size_t)col[e] * ldx;
#pragma GCC unroll 8
        for (size_t r = 0; r < nv; r++) a[r] = vfmaq_n_f32(a[r], vld1q_f32(x0 + 4 * r), v[e]);
    }
#pragma GCC unroll 8
    for (size_t r = 0; r < nv; r++) {
        float32x4_t o = nv <= 4 ? vaddq_f32(a[r], b[r]) : a[r];
        // vmaxq/vminq propagate NaN; the reference keeps f when a comparison is false.
        o = vbslq_f32(vcltq_f32(o, vlo), vlo, o);
        o = vbslq_f32(vcgtq_f32(o, vhi), vhi, o);
        vst1q_f32(c + 4 * r, o);
    }
}

#define SWEEP(NV)                                                                          \
    for (size_t i = g0; i < g1; i++) {                                                     \
        const size_t p0 = w->ptr[i];                                                       \
        tile(NV, call->x + j, call->ldx, w->col + p0, w->vf + p0, w->ptr[i + 1] - p0,      \
             call->bias ? call->bias[i] : 0.0f, vlo, vhi, call->c + i * call->ldc + j);    \
    }

void qs_f32_spmm_minmax_ukernel_g1__neon(const struct qs_spmm_f32_call *call, size_t g0,
                                         size_t g1, size_t n0, size_t n1) {
    const qs_spmm_weights *w = call->w;
    const float32x4_t vlo = vdupq_n_f32(call->lo), vhi = vdupq_n_f32(call->hi);
    size_t j = n0;
    for (; j + 32 <= n1; j += 32) SWEEP(8)
    if (j + 16 <= n1) { SWEEP(4) j += 16; }
    if (j + 8 <= n1) { SWEEP(2) j += 8; }
    if (j + 4 <= n1) { SWEEP(1) j += 4; }
    if (j < n1) qs_f32_spmm_minmax_ukernel_g1__scalar(call, g0, g1, j, n1);
}
