// AVX-512F stride-1 implicit-GEMM convolution: an 8x32 tile (8 output channels x 32 flat
// positions in two zmm per row, 16 accumulators), each step two input loads shifted by the
// tap offset and eight weight broadcasts from the packed block (mr = 8). A range's last
// tile of at most 16 positions runs an 8x16 variant instead of wasting half the lanes.
// Partial tiles use masked loads and stores, so nothing past p_end - 1 + max(off) of the
// last channel is read.
#include "kernels/f32.h"

#include <immintrin.h>

enum { MR = 8 };

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

static inline __m512 act(__m512 v, float b, __m512 vlo, __m512 vhi) {
    // max(lo, v)/min(hi, v) keep a NaN v, as the reference does.
    return _mm512_min_ps(vhi, _mm512_max_ps(vlo, _mm512_add_ps(v, _mm512_set1_ps(b))));
}

static void tile32(const struct qs_f32_conv_s1 *cv, const float *x, const float *w,
                   const float *bb, size_t rows, __m512 vlo, __m512 vhi, __mmask16 k0,
                   __mmask16 k1, float *yb, size_t ldy) {
#define DECL(r) __m512 a##r##0 = _mm512_setzero_ps(), a##r##1 = _mm512_setzero_ps();
    ROWS(DECL)
#undef DECL
    for (size_t c = 0; c < cv->c_in; c++) {
        const float *xc = x + c * cv->plane;
        for (size_t t = 0; t < cv->taps; t++, w += MR) {
            const float *xb = xc + cv->off[t];
            const __m512 b0 = _mm512_maskz_loadu_ps(k0, xb);
            const __m512 b1 = _mm512_maskz_loadu_ps(k1, xb + 16);
#define STEP(r)                                   \
    {                                             \
        const __m512 a = _mm512_set1_ps(w[r]);    \
        a##r##0 = _mm512_fmadd_ps(a, b0, a##r##0); \
        a##r##1 = _mm512_fmadd_ps(a, b1, a##r##1); \
    }
            ROWS(STEP)
#undef STEP
        }
    }
    // Rows past m were computed from zero weights and are dropped here.
#define STORE(r)                                                                     \
    if (r < rows) {                                                                  \
        const float b = bb ? bb[r] : 0.0f;                                           \
        _mm512_mask_storeu_ps(yb + r * ldy, k0, act(a##r##0, b, vlo, vhi));          \
        _mm512_mask_storeu_ps(yb + r * ldy + 16, k1, act(a##r##1, b, vlo, vhi));     \
    }
    ROWS(STORE)
#undef STORE
}

static void tile16(const struct qs_f32_conv_s1 *cv, const float *x, const float *w,
                   const float *bb, size_t rows, __m512 vlo, __m512 vhi, __mmask16 k0,
                   float *yb, size_t ldy) {
#define DECL(r) __m512 a##r = _mm512_setzero_ps();
    ROWS(DECL)
#undef DECL
    for (size_t c = 0; c < cv->c_in; c++) {
        const float *xc = x + c * cv->plane;
        for (size_t t = 0; t < cv->taps; t++, w += MR) {
            const __m512 b0 = _mm512_maskz_loadu_ps(k0, xc + cv->off[t]);
#define STEP(r) a##r = _mm512_fmadd_ps(_mm512_set1_ps(w[r]), b0, a##r);
            ROWS(STEP)
#undef STEP
        }
    }
#define STORE(r) \
    if (r < rows) _mm512_mask_storeu_ps(yb + r * ldy, k0, act(a##r, bb ? bb[r] : 0.0f, vlo, vhi));
    ROWS(STORE)
#undef STORE
}

void qs__f32_conv_s1__avx512(const struct qs_f32_conv_s1 *cv, const float *x,
                             const float *wpk, const float *bias, float lo, float hi,
                             size_t p_begin, size_t p_end, float *y, size_t ldy) {
    QS_ASSERT(cv->mr == MR);
    const size_t k = cv->c_in * cv->taps;
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (size_t p0 = p_begin; p0 < p_end; p0 += 32) {
        const size_t np = p_end - p0 < 32 ? p_end - p0 : 32;
        const __mmask16 k0 = np >= 16 ? 0xffff : (__mmask16)((1u << np) - 1);
        const __mmask16 k1 = np >= 32 ? 0xffff : np <= 16 ? 0 : (__mmask16)((1u << (np - 16)) - 1);
        for (size_t mb = 0; mb < cv->m; mb += MR) {
            const size_t rows = cv->m - mb < MR ? cv->m - mb : MR;
            const float *bb = bias ? bias + mb : NULL;
            if (np <= 16)
                tile16(cv, x + p0, wpk + mb * k, bb, rows, vlo, vhi, k0, y + mb * ldy + p0, ldy);
            else
                tile32(cv, x + p0, wpk + mb * k, bb, rows, vlo, vhi, k0, k1, y + mb * ldy + p0,
                       ldy);
        }
    }
}
