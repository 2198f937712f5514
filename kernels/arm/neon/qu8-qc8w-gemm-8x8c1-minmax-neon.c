// Integer GEMM microkernel for AArch64 without dotprod: 8 channels x 8 pixels, k one at a
// time (KR = 1), uint8 activations (x_bias 0), any int8 weight.
//
// Per k the 8 activations and 8 weights are widened to int16 and every weight lane is
// multiplied into the pixel vector with smlal (int16 x int16 -> int32): each product is
// exact (|x * w| <= 255 * 128) and nothing saturates, so the sums are the exact int32
// accumulators (wrapping like every variant only past K ~ 66,000). Epilogue:
// kernels/arm/qgemm-neon.h.
//
// Packing (kernels/qgemm-ukernel.h, KR = 1): weight tile = for k, the 8 channels' int8;
// activation panel = for k, the 8 pixels' uint8.
#include "kernels/arm/qgemm-neon.h"

// a(2m), a(2m+1) += x (8 pixels) * w[m] for the 8 channels m. The accumulators are named
// variables (not an array) so that they stay in registers.
#define QS_MLAL_8X8(xv, wv)                                                 \
    do {                                                                    \
        const int16x4_t xl_ = vget_low_s16(xv);                             \
        a0 = vmlal_laneq_s16(a0, xl_, wv, 0);                               \
        a1 = vmlal_high_laneq_s16(a1, xv, wv, 0);                           \
        a2 = vmlal_laneq_s16(a2, xl_, wv, 1);                               \
        a3 = vmlal_high_laneq_s16(a3, xv, wv, 1);                           \
        a4 = vmlal_laneq_s16(a4, xl_, wv, 2);                               \
        a5 = vmlal_high_laneq_s16(a5, xv, wv, 2);                           \
        a6 = vmlal_laneq_s16(a6, xl_, wv, 3);                               \
        a7 = vmlal_high_laneq_s16(a7, xv, wv, 3);                           \
        a8 = vmlal_laneq_s16(a8, xl_, wv, 4);                               \
        a9 = vmlal_high_laneq_s16(a9, xv, wv, 4);                           \
        a10 = vmlal_laneq_s16(a10, xl_, wv, 5);                             \
        a11 = vmlal_high_laneq_s16(a11, xv, wv, 5);                         \
        a12 = vmlal_laneq_s16(a12, xl_, wv, 6);                             \
        a13 = vmlal_high_laneq_s16(a13, xv, wv, 6);                         \
        a14 = vmlal_laneq_s16(a14, xl_, wv, 7);                             \
        a15 = vmlal_high_laneq_s16(a15, xv, wv, 7);                         \
    } while (0)

void qs_qu8_qc8w_gemm_minmax_ukernel_8x8c1__neon(size_t mr, size_t nr, size_t kc,
                                                 const void *w, const void *x, void *c,
                                                 size_t c_stride_n, size_t c_stride_p,
                                                 const struct qs_qgemm_ukernel_params *params) {
    const int8_t *pw = w;
    const uint8_t *px = x;
    const int32_t *init = params->init;
    int32x4_t a0 = vdupq_n_s32(init[0]), a1 = a0, a2 = vdupq_n_s32(init[1]), a3 = a2;
    int32x4_t a4 = vdupq_n_s32(init[2]), a5 = a4, a6 = vdupq_n_s32(init[3]), a7 = a6;
    int32x4_t a8 = vdupq_n_s32(init[4]), a9 = a8, a10 = vdupq_n_s32(init[5]), a11 = a10;
    int32x4_t a12 = vdupq_n_s32(init[6]), a13 = a12, a14 = vdupq_n_s32(init[7]), a15 = a14;
    size_t k = kc;
    for (; k >= 2; k -= 2, pw += 16, px += 16) {
        const int8x16_t w8 = vld1q_s8(pw);
        const uint8x16_t x8 = vld1q_u8(px);
        const int16x8_t w0 = vmovl_s8(vget_low_s8(w8)), w1 = vmovl_high_s8(w8);
        const int16x8_t x0 = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(x8)));
        const int16x8_t x1 = vreinterpretq_s16_u16(vmovl_high_u8(x8));
        QS_MLAL_8X8(x0, w0);
        QS_MLAL_8X8(x1, w1);
    }
    if (k) {
        const int16x8_t w0 = vmovl_s8(vld1_s8(pw));
        const int16x8_t x0 = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(px)));
        QS_MLAL_8X8(x0, w0);
    }
    const int32x4_t acc[16] = {a0, a1, a2, a3, a4, a5, a6, a7,
                               a8, a9, a10, a11, a12, a13, a14, a15};
    qs__neon_qgemm_store_8x8(mr, nr, acc, c, c_stride_n, c_stride_p, params);
}

void qs_qu8_gemm_packx_8c1__neon(const struct qs_qgemm_config *cfg, size_t k, size_t np,
                                 const uint8_t *x, size_t x_stride_k, size_t x_stride_p,
                                 void *packed) {
    // The im2col case (pixels contiguous, a full panel): one 8-byte row copy per k.
    if (np != 8 || x_stride_p != 1 || cfg->x_bias != 0) {
        qs__qgemm_packx_generic(cfg, k, np, x, x_stride_k, x_stride_p, packed);
        return;
    }
    uint8_t *o = packed;
    for (size_t kk = 0; kk < k; kk++) vst1_u8(o + 8 * kk, vld1_u8(x + kk * x_stride_k));
}
