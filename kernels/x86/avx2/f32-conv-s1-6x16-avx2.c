// AVX2+FMA stride-1 implicit-GEMM convolution: a 6x16 tile (6 output channels x 16
// consecutive flat positions, 12 accumulators) over k = c_in * taps steps, each step two
// unaligned input loads shifted by the tap offset and six weight broadcasts from the
// packed block. No im2col: taps read the (padded) input directly. Bias and the activation
// clamp are applied in registers before the store; the last partial tile stores masked.
// Reads up to 16 - (p_end - p0) floats past the last position of a tile (see f32.h).
#include "kernels/f32.h"
#include "kernels/x86/avx2/f32-avx2.h"

enum { MR = 6 };

static inline void store_row(float *dst, __m256 v0, __m256 v1, float b, __m256 vlo,
                             __m256 vhi, size_t np) {
    const __m256 vb = _mm256_set1_ps(b);
    v0 = _mm256_min_ps(vhi, _mm256_max_ps(vlo, _mm256_add_ps(v0, vb)));
    v1 = _mm256_min_ps(vhi, _mm256_max_ps(vlo, _mm256_add_ps(v1, vb)));
    if (np == 16) {
        _mm256_storeu_ps(dst, v0);
        _mm256_storeu_ps(dst + 8, v1);
    } else if (np > 8) {
        _mm256_storeu_ps(dst, v0);
        _mm256_maskstore_ps(dst + 8, qs__avx2_tail_mask(np - 8), v1);
    } else {
        _mm256_maskstore_ps(dst, qs__avx2_tail_mask(np), v0);
    }
}

void qs__f32_conv_s1__avx2(const struct qs_f32_conv_s1 *cv, const float *x, const float *wpk,
                           const float *bias, float lo, float hi, size_t p_begin, size_t p_end,
                           float *y, size_t ldy) {
    const size_t k = cv->c_in * cv->taps, taps = cv->taps, plane = cv->plane;
    const int64_t *off = cv->off;
    QS_ASSERT(cv->mr == MR);
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (size_t p0 = p_begin; p0 < p_end; p0 += QS_F32_CONV_NR) {
        const size_t np = p_end - p0 < QS_F32_CONV_NR ? p_end - p0 : QS_F32_CONV_NR;
        for (size_t mb = 0; mb < cv->m; mb += MR) {
            const float *w = wpk + mb * k;
            __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00,
                   c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
            for (size_t c = 0; c < cv->c_in; c++) {
                const float *xc = x + c * plane + p0;
                for (size_t t = 0; t < taps; t++, w += MR) {
                    const float *xb = xc + off[t];
                    const __m256 b0 = _mm256_loadu_ps(xb), b1 = _mm256_loadu_ps(xb + 8);
                    __m256 a = _mm256_broadcast_ss(w);
                    c00 = _mm256_fmadd_ps(a, b0, c00);
                    c01 = _mm256_fmadd_ps(a, b1, c01);
                    a = _mm256_broadcast_ss(w + 1);
                    c10 = _mm256_fmadd_ps(a, b0, c10);
                    c11 = _mm256_fmadd_ps(a, b1, c11);
                    a = _mm256_broadcast_ss(w + 2);
                    c20 = _mm256_fmadd_ps(a, b0, c20);
                    c21 = _mm256_fmadd_ps(a, b1, c21);
                    a = _mm256_broadcast_ss(w + 3);
                    c30 = _mm256_fmadd_ps(a, b0, c30);
                    c31 = _mm256_fmadd_ps(a, b1, c31);
                    a = _mm256_broadcast_ss(w + 4);
                    c40 = _mm256_fmadd_ps(a, b0, c40);
                    c41 = _mm256_fmadd_ps(a, b1, c41);
                    a = _mm256_broadcast_ss(w + 5);
                    c50 = _mm256_fmadd_ps(a, b0, c50);
                    c51 = _mm256_fmadd_ps(a, b1, c51);
                }
            }
            const size_t rows = cv->m - mb < MR ? cv->m - mb : MR;
            float *yb = y + mb * ldy + p0;
            const float *bb = bias ? bias + mb : NULL;
            // Rows past m were computed from zero weights and are dropped here.
            store_row(yb, c00, c01, bb ? bb[0] : 0.0f, vlo, vhi, np);
            if (rows > 1) store_row(yb + ldy, c10, c11, bb ? bb[1] : 0.0f, vlo, vhi, np);
            if (rows > 2) store_row(yb + 2 * ldy, c20, c21, bb ? bb[2] : 0.0f, vlo, vhi, np);
            if (rows > 3) store_row(yb + 3 * ldy, c30, c31, bb ? bb[3] : 0.0f, vlo, vhi, np);
            if (rows > 4) store_row(yb + 4 * ldy, c40, c41, bb ? bb[4] : 0.0f, vlo, vhi, np);
            if (rows > 5) store_row(yb + 5 * ldy, c50, c51, bb ? bb[5] : 0.0f, vlo, vhi, np);
        }
    }
}
