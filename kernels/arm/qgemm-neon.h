// Private to kernels/arm: the NEON epilogue of the 8-channel x 8-pixel integer GEMM tiles
// (kernels/qgemm-ukernel.h contract), shared by the NEON and NEON-dotprod microkernels.
// Plain Advanced SIMD, so it compiles for both.
//
// Bit-exact with qs__qgemm_store_tile: U8/S8 clamp the float product to [qmin_f, qmax_f]
// (exact integers, since out_zp lies in the type's range), round with fcvtns (to nearest,
// ties to even) and add out_zp, which is qs_requant_fp32 for every input; F32 multiplies,
// then adds (never fused: ISO C mode keeps contraction off) and clamps with compares in the
// reference's order, so -0/+0 ties and NaN keep the value as there.
#pragma once

#include "kernels/qgemm-ukernel.h"

#include <arm_neon.h>
#include <string.h>

/// acc[2 * m + h] holds pixels 4h..4h+3 of channel m (exact int32 accumulators).
static inline void qs__neon_qgemm_store_8x8(size_t mr, size_t nr, const int32x4_t *acc,
                                            void *c, size_t c_stride_n, size_t c_stride_p,
                                            const struct qs_qgemm_ukernel_params *p) {
    const size_t esz = qs__qout_size(p->out_type);
    // Whole rows of an NCHW output are stored in place; anything else through a buffer.
    const bool direct = nr == 8 && c_stride_p == esz;
    _Alignas(16) uint8_t tmp[8 * 8 * 4];
    switch (p->out_type) {
    case QS_QOUT_U8:
    case QS_QOUT_S8: {
        const float32x4_t lo = vdupq_n_f32(p->qmin_f), hi = vdupq_n_f32(p->qmax_f);
        const int16x8_t zp = vdupq_n_s16((int16_t)p->out_zp);
        for (size_t m = 0; m < mr; m++) {
            const float32x4_t s = vdupq_n_f32(p->scale[m]);
            float32x4_t f0 = vmulq_f32(vcvtq_f32_s32(acc[2 * m]), s);
            float32x4_t f1 = vmulq_f32(vcvtq_f32_s32(acc[2 * m + 1]), s);
            f0 = vminq_f32(vmaxq_f32(f0, lo), hi);
            f1 = vminq_f32(vmaxq_f32(f1, lo), hi);
            // |q| <= 510 after the clamp: int16 holds q + zp exactly.
            int16x8_t q = vcombine_s16(vmovn_s32(vcvtnq_s32_f32(f0)),
                                       vmovn_s32(vcvtnq_s32_f32(f1)));
            q = vaddq_s16(q, zp);
            uint8_t *dst = direct ? (uint8_t *)c + m * c_stride_n : tmp + m * 8;
            if (p->out_type == QS_QOUT_U8)
                vst1_u8(dst, vqmovun_s16(q));
            else
                vst1_s8((int8_t *)dst, vqmovn_s16(q));
        }
        break;
    }
    case QS_QOUT_F32: {
        const float32x4_t lo = vdupq_n_f32(p->fmin), hi = vdupq_n_f32(p->fmax);
        for (size_t m = 0; m < mr; m++) {
            const float32x4_t s = vdupq_n_f32(p->scale[m]), b = vdupq_n_f32(p->fbias[m]);
            float *dst = direct ? (float *)((uint8_t *)c + m * c_stride_n) : (float *)tmp + m * 8;
            for (size_t h = 0; h < 2; h++) {
                float32x4_t f = vaddq_f32(vmulq_f32(vcvtq_f32_s32(acc[2 * m + h]), s), b);
                f = vbslq_f32(vcltq_f32(f, lo), lo, f);
                f = vbslq_f32(vcgtq_f32(f, hi), hi, f);
                vst1q_f32(dst + 4 * h, f);
            }
        }
        break;
    }
    case QS_QOUT_S32:
        for (size_t m = 0; m < mr; m++) {
            int32_t *dst =
                direct ? (int32_t *)((uint8_t *)c + m * c_stride_n) : (int32_t *)tmp + m * 8;
            vst1q_s32(dst, acc[2 * m]);
            vst1q_s32(dst + 4, acc[2 * m + 1]);
        }
        break;
    }
    if (direct) return;
    for (size_t m = 0; m < mr; m++) {
        uint8_t *row = (uint8_t *)c + m * c_stride_n;
        if (c_stride_p == esz) {
            memcpy(row, tmp + m * 8 * esz, nr * esz);
            continue;
        }
        for (size_t j = 0; j < nr; j++) memcpy(row + j * c_stride_p, tmp + (m * 8 + j) * esz, esz);
    }
}
