// AVX-512F column-stride-2 convolution over output channels (struct qs_f32_conv_oc in
// kernels/f32.h; scalar reference in kernels/ref/f32-conv-oc-ref.c): an 8 x 32 tile, one
// position group (up to 8 columns of one output row) x 32 output channels in two vectors.
// Each step loads the two weight vectors of one input channel and tap and broadcasts the
// group's 8 input cells, fixed displacements (2 floats apart) from one pointer. The
// epilogue transposes the 16 accumulators into one vector per channel pair (channel k in
// lanes 0..7, channel 16 + k in lanes 8..15), adds the residual, clamps and stores.
//
// Why over output channels: the strided convs of CIFAR ResNets (8x8 and 16x16 outputs)
// filled 80% and 94% of the stride-1 kernel's position lanes and needed their image split
// into stride phases by gathers; here every lane is useful whenever c_out is a multiple of
// 32, and the image is only padded (row copies). A 16 x 16 tile (two groups, 16
// broadcasts per weight vector) ran at 88 GMAC/s on the 32-to-64-channel conv of
// ResNet-20; this shape has the stride-1 kernel's mix of 2 loads and 8 broadcasts per 16
// multiply-adds.
#include "kernels/f32.h"
#include "kernels/x86/avx512/f32-avx512.h"

#include <immintrin.h>
#include <math.h>

#define LANES(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

void qs__f32_conv_oc__avx512(const struct qs_f32_conv_oc *cv, const float *xp,
                             const float *wpk, const float *bias, float lo, float hi,
                             size_t g_begin, size_t g_end, float *y) {
    const size_t gpr = (cv->ow + 7) / 8, k = cv->c_in * cv->taps, out = cv->oh * cv->ow;
    const size_t taps = cv->taps, plane = cv->plane;
    const int64_t *off = cv->off;
    // Infinite bounds skip their clamp; a NaN bound clamps nothing (max/min return the
    // accumulator), as the reference's comparisons do.
    const bool clo = !(lo == -INFINITY), chi = !(hi == INFINITY);
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (size_t gi = g_begin; gi < g_end; gi++) {
        const size_t r = gi / gpr, c0 = gi % gpr * 8;
        const float *xg = xp + r * cv->sh * cv->wp + 2 * c0;  // lane 0, channel 0, offset 0
        const size_t yo = r * cv->ow + c0;
        const __mmask8 kn = (__mmask8)((1u << QS_MIN(8, cv->ow - c0)) - 1);
        for (size_t mb = 0; mb < cv->m; mb += QS_F32_CONV_OC_MR) {
            const size_t rows = QS_MIN(QS_F32_CONV_OC_MR, cv->m - mb);
            const float *w = wpk + mb * k;
            const __m512 va = bias ? _mm512_maskz_loadu_ps(
                                         (__mmask16)((1u << QS_MIN(rows, 16)) - 1), bias + mb)
                                   : _mm512_setzero_ps();
            const __m512 vb = bias && rows > 16
                                  ? _mm512_maskz_loadu_ps((__mmask16)((1u << (rows - 16)) - 1),
                                                          bias + mb + 16)
                                  : _mm512_setzero_ps();
#define INIT(j) __m512 a##j = va, b##j = vb;
            LANES(INIT)
#undef INIT
            const float *xc = xg;
            for (size_t c = 0; c < cv->c_in; c++, xc += plane)
                for (size_t t = 0; t < taps; t++, w += QS_F32_CONV_OC_MR) {
                    const __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + 16);
                    const float *p = xc + off[t];
#define STEP(j)                                           \
    {                                                     \
        const __m512 xv = _mm512_set1_ps(p[2 * (j)]);     \
        a##j = _mm512_fmadd_ps(xv, w0, a##j);             \
        b##j = _mm512_fmadd_ps(xv, w1, b##j);             \
    }
                    LANES(STEP)
#undef STEP
                }
            __m512 v[16] = {a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7};
            qs__avx512_transpose16(v);  // v[ch]: channel ch in lanes 0..7, ch + 16 in 8..15
            for (size_t ch = 0; ch < rows; ch++) {
                __m256 o = ch < 16 ? _mm512_castps512_ps256(v[ch])
                                   : _mm512_extractf32x8_ps(v[ch - 16], 1);
                float *yc = y + (mb + ch) * out + yo;
                if (cv->sum) o = _mm256_add_ps(o, _mm256_maskz_loadu_ps(kn, cv->sum + (yc - y)));
                if (clo) o = _mm256_max_ps(vlo, o);
                if (chi) o = _mm256_min_ps(vhi, o);
                _mm256_mask_storeu_ps(yc, kn, o);
            }
        }
    }
}
