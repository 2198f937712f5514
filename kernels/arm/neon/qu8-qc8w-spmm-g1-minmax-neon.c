// NEON int8 SpMM, one output row per group: 16 columns of uint8 X widened to int16
// (vmovl_u8; 0..255 fits), multiplied by the int8 weight and accumulated into four int32x4
// (vmlal_n_s16 / vmlal_high_n_s16, modular like the reference), then the scalar qgemm
// epilogue. Tail columns run the scalar kernel.
#include "kernels/ref/spmm-impl.h"

#include <arm_neon.h>

void qs_qu8_qc8w_spmm_minmax_ukernel_g1__neon(const struct qs_spmm_q8_call *call, size_t g0,
                                             size_t g1, size_t n0, size_t n1) {
    const qs_spmm_weights *w = call->w;
    const size_t es = qs__qout_size(call->p.out_type), ldx = call->ldx;
    int32_t acc[16];
    size_t j = n0;
    for (; j + 16 <= n1; j += 16) {
        const uint8_t *x = call->x + j;
        for (size_t i = g0; i < g1; i++) {
            const uint32_t *col = w->col + w->ptr[i];
            const int8_t *v = w->vq + w->ptr[i];
            const size_t cnt = w->ptr[i + 1] - w->ptr[i];
            int32x4_t a0 = vdupq_n_s32(call->p.init[i]), a1 = a0, a2 = a0, a3 = a0;
            for (size_t e = 0; e < cnt; e++) {
                const uint8x16_t xr = vld1q_u8(x + (size_t)col[e] * ldx);
                const int16x8_t lo = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(xr)));
                const int16x8_t hi = vreinterpretq_s16_u16(vmovl_high_u8(xr));
                const int16_t wv = v[e];
                a0 = vmlal_n_s16(a0, vget_low_s16(lo), wv);
                a1 = vmlal_high_n_s16(a1, lo, wv);
                a2 = vmlal_n_s16(a2, vget_low_s16(hi), wv);
                a3 = vmlal_high_n_s16(a3, hi, wv);
            }
            vst1q_s32(acc, a0), vst1q_s32(acc + 4, a1), vst1q_s32(acc + 8, a2);
            vst1q_s32(acc + 12, a3);
            qs__spmm_q8_store_row(16, acc, i, (char *)call->c + (i * call->ldc + j) * es, &call->p);
        }
    }
    if (j < n1) qs_qu8_qc8w_spmm_minmax_ukernel_g1__scalar(call, g0, g1, j, n1);
}
