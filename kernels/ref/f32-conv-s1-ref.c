// Scalar reference of the stride-1 implicit-GEMM convolution and its weight packing
// (see struct qs_f32_conv_s1 in kernels/f32.h).
#include "kernels/f32.h"

size_t qs__f32_conv_s1_packed_size(size_t m, size_t k, size_t mr) {
    return (m + mr - 1) / mr * mr * k;
}

void qs__f32_conv_s1_pack(size_t m, size_t k, size_t mr, const float *w, float *out) {
    for (size_t b = 0; b < m; b += mr)
        for (size_t j = 0; j < k; j++)
            for (size_t r = 0; r < mr; r++)
                *out++ = b + r < m ? w[(b + r) * k + j] : 0.0f;
}

void qs__f32_conv_s1_ref(const struct qs_f32_conv_s1 *cv, const float *x, const float *wpk,
                         const float *bias, float lo, float hi, size_t p_begin, size_t p_end,
                         float *y, size_t ldy) {
    const size_t k = cv->c_in * cv->taps;
    for (size_t m = 0; m < cv->m; m++) {
        const size_t mr = cv->mr;
        const float *wb = wpk + m / mr * mr * k + m % mr;
        for (size_t p = p_begin; p < p_end; p++) {
            float acc = bias ? bias[m] : 0.0f;
            for (size_t c = 0; c < cv->c_in; c++)
                for (size_t t = 0; t < cv->taps; t++)
                    acc += wb[(c * cv->taps + t) * mr] *
                           x[c * cv->plane + p + (size_t)cv->off[t]];
            acc = acc < lo ? lo : acc;
            y[m * ldy + p] = acc > hi ? hi : acc;
        }
    }
}
