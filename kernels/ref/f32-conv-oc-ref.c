// Scalar reference of the column-stride-2 convolution over output channels (struct
// qs_f32_conv_oc in kernels/f32.h). Per output: the bias, then channels and taps in order
// with one fused multiply-add each (fmaf), then the residual and the clamp, as the AVX-512
// kernel computes them, so the two agree bit for bit.
#include "kernels/f32.h"

#include <math.h>

void qs__f32_conv_oc_ref(const struct qs_f32_conv_oc *cv, const float *xp, const float *wpk,
                         const float *bias, float lo, float hi, size_t g_begin, size_t g_end,
                         float *y) {
    const size_t gpr = (cv->ow + 7) / 8, k = cv->c_in * cv->taps, out = cv->oh * cv->ow;
    for (size_t gi = g_begin; gi < g_end; gi++) {
        const size_t r = gi / gpr, c0 = gi % gpr * 8, n = QS_MIN(8, cv->ow - c0);
        for (size_t m = 0; m < cv->m; m++) {
            const float *w = wpk + m / QS_F32_CONV_OC_MR * QS_F32_CONV_OC_MR * k +
                             m % QS_F32_CONV_OC_MR;
            for (size_t j = 0; j < n; j++) {
                const float *xq = xp + r * cv->sh * cv->wp + 2 * (c0 + j);
                float acc = bias ? bias[m] : 0.0f;
                for (size_t c = 0; c < cv->c_in; c++)
                    for (size_t t = 0; t < cv->taps; t++)
                        acc = fmaf(xq[c * cv->plane + (size_t)cv->off[t]],
                                   w[(c * cv->taps + t) * QS_F32_CONV_OC_MR], acc);
                const size_t at = m * out + r * cv->ow + c0 + j;
                if (cv->sum) acc += cv->sum[at];
                acc = acc < lo ? lo : acc;
                y[at] = acc > hi ? hi : acc;
            }
        }
    }
}
