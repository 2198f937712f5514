// Activation packer of the 8-pixel, KR = 4 layout with x_bias 128 (the NEON-dotprod GEMM):
// per group of 4 k, pixels 0-7 with their 4 bytes x ^ 0x80 each, 0 past K. Plain NEON (the
// packer needs no dotprod). The im2col case (pixels contiguous, a full panel) interleaves
// four rows with zips; anything else goes to the generic packer.
#include "kernels/qgemm-ukernel.h"

#include <arm_neon.h>

void qs_qu8_gemm_packx_8c4__neon(const struct qs_qgemm_config *cfg, size_t k, size_t np,
                                 const uint8_t *x, size_t x_stride_k, size_t x_stride_p,
                                 void *packed) {
    if (np != 8 || x_stride_p != 1 || cfg->x_bias != 128 || cfg->kr != 4 || cfg->nr != 8) {
        qs__qgemm_packx_generic(cfg, k, np, x, x_stride_k, x_stride_p, packed);
        return;
    }
    const uint8x8_t flip = vdup_n_u8(0x80);
    uint8_t *o = packed;
    for (size_t g = 0; g < k; g += 4, o += 32) {
        // Rows past K pack as 0 (= x - 128 for x = 128).
        uint8x8_t r[4];
        for (size_t i = 0; i < 4; i++)
            r[i] = g + i < k ? veor_u8(vld1_u8(x + (g + i) * x_stride_k), flip) : vdup_n_u8(0);
        // r0 r1 interleaved: halfword j = (r0[j], r1[j]); likewise r2 r3; then halfwords
        // interleaved: word j = (r0[j], r1[j], r2[j], r3[j]).
        uint8x8x2_t z01 = vzip_u8(r[0], r[1]), z23 = vzip_u8(r[2], r[3]);
        uint16x8_t h01 = vreinterpretq_u16_u8(vcombine_u8(z01.val[0], z01.val[1]));
        uint16x8_t h23 = vreinterpretq_u16_u8(vcombine_u8(z23.val[0], z23.val[1]));
        vst1q_u8(o, vreinterpretq_u8_u16(vzip1q_u16(h01, h23)));
        vst1q_u8(o + 16, vreinterpretq_u8_u16(vzip2q_u16(h01, h23)));
    }
}
