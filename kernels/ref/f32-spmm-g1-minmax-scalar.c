// Portable fp32 SpMM microkernel (one row per group): the reference every SIMD variant is
// compared with, and the kernel of QS_KERNELS=ref.
#include "kernels/ref/spmm-impl.h"

void qs_f32_spmm_minmax_ukernel_g1__scalar(const struct qs_spmm_f32_call *call, size_t g0,
                                           size_t g1, size_t n0, size_t n1) {
    const qs_spmm_weights *w = call->w;
    for (size_t i = g0; i < g1; i++) {
        const uint32_t *col = w->col + w->ptr[i];
        const float *v = w->vf + w->ptr[i];
        const size_t cnt = w->ptr[i + 1] - w->ptr[i];
        const float b = call->bias ? call->bias[i] : 0.0f;
        float *c = call->c + i * call->ldc;
        for (size_t j = n0; j < n1; j++) {
            float acc = b;
            for (size_t e = 0; e < cnt; e++) acc += v[e] * call->x[col[e] * call->ldx + j];
            acc = acc < call->lo ? call->lo : acc;
            c[j] = acc > call->hi ? call->hi : acc;
        }
    }
}
