// Integer GEMM microkernel for AArch64 with the dotprod extension (Armv8.2+; compiled with
// -march=armv8.2-a+dotprod, selected only when the CPU reports it): 8 channels x 8 pixels,
// k in groups of 4 (KR = 4), any int8 weight.
//
// sdot multiplies int8 by int8, so activations are packed signed, x - 128 (x ^ 0x80,
// x_bias = 128); the driver starts the accumulators at bias + (128 - x_zp) * sum(w), so the
// result is the exact sum of (x - x_zp) * w. One sdot adds four products of magnitude at
// most 128 * 128 into an int32 lane: exact, nothing saturates. (usdot would take the uint8
// activations as they are, but it needs i8mm, which many dotprod cores lack.) Epilogue:
// kernels/arm/qgemm-neon.h.
//
// Packing (kernels/qgemm-ukernel.h, KR = 4): weight tile = per group of 4 k, channels 0-3
// then 4-7, 4 bytes each (two 16-byte vectors); activation panel = per group, pixels 0-3 then
// 4-7, 4 bytes each. vdotq_laneq_s32(acc, x, w, lane) then adds, for the 4 pixels of x,
// their dot product with the 4 weights of channel `lane`.
#include "kernels/arm/qgemm-neon.h"

void qs_qu8_qc8w_gemm_minmax_ukernel_8x8c4__neondot(size_t mr, size_t nr, size_t kc,
                                                    const void *w, const void *x, void *c,
                                                    size_t c_stride_n, size_t c_stride_p,
                                                    const struct qs_qgemm_ukernel_params *params) {
    const int8_t *pw = w, *px = x;
    const int32_t *init = params->init;
    // Named accumulators (not an array) so that they stay in registers.
    int32x4_t a0 = vdupq_n_s32(init[0]), a1 = a0, a2 = vdupq_n_s32(init[1]), a3 = a2;
    int32x4_t a4 = vdupq_n_s32(init[2]), a5 = a4, a6 = vdupq_n_s32(init[3]), a7 = a6;
    int32x4_t a8 = vdupq_n_s32(init[4]), a9 = a8, a10 = vdupq_n_s32(init[5]), a11 = a10;
    int32x4_t a12 = vdupq_n_s32(init[6]), a13 = a12, a14 = vdupq_n_s32(init[7]), a15 = a14;
    for (size_t g = 0; g < kc; g += 4, pw += 32, px += 32) {
        const int8x16_t w0 = vld1q_s8(pw), w1 = vld1q_s8(pw + 16);
        const int8x16_t x0 = vld1q_s8(px), x1 = vld1q_s8(px + 16);
        a0 = vdotq_laneq_s32(a0, x0, w0, 0);
        a1 = vdotq_laneq_s32(a1, x1, w0, 0);
        a2 = vdotq_laneq_s32(a2, x0, w0, 1);
        a3 = vdotq_laneq_s32(a3, x1, w0, 1);
        a4 = vdotq_laneq_s32(a4, x0, w0, 2);
        a5 = vdotq_laneq_s32(a5, x1, w0, 2);
        a6 = vdotq_laneq_s32(a6, x0, w0, 3);
        a7 = vdotq_laneq_s32(a7, x1, w0, 3);
        a8 = vdotq_laneq_s32(a8, x0, w1, 0);
        a9 = vdotq_laneq_s32(a9, x1, w1, 0);
        a10 = vdotq_laneq_s32(a10, x0, w1, 1);
        a11 = vdotq_laneq_s32(a11, x1, w1, 1);
        a12 = vdotq_laneq_s32(a12, x0, w1, 2);
        a13 = vdotq_laneq_s32(a13, x1, w1, 2);
        a14 = vdotq_laneq_s32(a14, x0, w1, 3);
        a15 = vdotq_laneq_s32(a15, x1, w1, 3);
    }
    const int32x4_t acc[16] = {a0, a1, a2, a3, a4, a5, a6, a7,
                               a8, a9, a10, a11, a12, a13, a14, a15};
    qs__neon_qgemm_store_8x8(mr, nr, acc, c, c_stride_n, c_stride_p, params);
}
