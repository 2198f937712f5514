// AVX-512F stages of the Winograd F(4x4, 3x3) convolution (struct qs_f32_wino in
// kernels/f32.h; driver and scalar references in kernels/ref/f32-wino.c).
//
// The transforms run with 16 channels per vector: one vector per point of a tile, so
// B^T d B and A^T M A are plain vector arithmetic and V and M rows are whole vectors.
//  - input: the segment's image rows (contiguous in x) are transposed 16 floats at a time,
//    across row ends, into a buffer [rows][columns][16 channels] (zero outside the image);
//    every tile reads its 6x6 patch from it and stores its 36 transformed vectors.
//  - GEMM: M[xi] = V[xi] U[xi] with weight rows in registers: 8 tiles x 32 channels
//    (16 accumulators) or 16 tiles x 16 channels; V elements are broadcast.
//  - output: A^T M A plus the bias per tile into a buffer [rows][columns][16 channels],
//    then 16 pixels at a time (across row ends) transposed into one vector per channel,
//    the residual and the clamp, and full-width stores.
#include "kernels/f32.h"
#include "kernels/x86/avx512/f32-avx512.h"

#include <immintrin.h>
#include <math.h>

static inline void bt6(const __m512 d[6], __m512 t[6]) {
    const __m512 four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f);
    const __m512 two = _mm512_set1_ps(2.0f);
    const __m512 a = _mm512_fnmadd_ps(four, d[2], d[4]), b = _mm512_fnmadd_ps(four, d[1], d[3]);
    const __m512 c = _mm512_sub_ps(d[4], d[2]), e = _mm512_sub_ps(d[3], d[1]);
    t[0] = _mm512_fnmadd_ps(five, d[2], _mm512_fmadd_ps(four, d[0], d[4]));
    t[1] = _mm512_add_ps(a, b);
    t[2] = _mm512_sub_ps(a, b);
    t[3] = _mm512_fmadd_ps(two, e, c);
    t[4] = _mm512_fnmadd_ps(two, e, c);
    t[5] = _mm512_fnmadd_ps(five, d[3], _mm512_fmadd_ps(four, d[1], d[5]));
}

static inline void at6(const __m512 m[6], __m512 o[4]) {
    const __m512 s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);
    const __m512 s34 = _mm512_add_ps(m[3], m[4]), d34 = _mm512_sub_ps(m[3], m[4]);
    o[0] = _mm512_add_ps(_mm512_add_ps(m[0], s12), s34);
    o[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), d34, d12);
    o[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), s34, s12);
    o[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), d34, d12), m[5]);
}

// 16 channels (k < nc; the rest zero) of n <= 16 columns of one image row, from the
// row's start src (channel k at src + k * plane), transposed: r[col] = 16 channels.
// Plain loads: masked loads that miss the cache are several times slower on Zen 5.
static inline void load_block(const float *src, size_t plane, size_t nc, size_t n,
                              __m512 r[16]) {
    const __mmask16 mk = (__mmask16)((1u << n) - 1);
    for (size_t k = 0; k < 16; k++) {
        const float *p = src + k * plane;
        r[k] = k >= nc ? _mm512_setzero_ps()
               : n == 16 ? _mm512_loadu_ps(p)
               : n == 8 ? _mm512_zextps256_ps512(_mm256_loadu_ps(p))
                        : _mm512_maskz_loadu_ps(mk, p);
    }
    qs__avx512_transpose16(r);
}

void qs__f32_wino_input__avx512(const struct qs_f32_wino *g, const float *x, size_t r0,
                                size_t r1, size_t t0, float *v, float *work) {
    const size_t wp = g->wp, rows = 4 * (r1 - r0) + 2;
    const size_t vstride = g->vstride, plane = g->h * g->w;
    __m512 *buf = (__m512 *)work;
    const __m512 zero = _mm512_setzero_ps();
    for (size_t cb = 0; cb < g->ci_pad; cb += 16) {
        const size_t nc = g->c_in - cb < 16 ? g->c_in - cb : 16;
        // buf[i][col]: 16 channels of image row 4 r0 - pt + i, column col - pl; zero
        // outside the image. The segment's image rows are contiguous in x, so they are
        // loaded 16 floats at a time across row ends (full vectors for 8-wide images).
        const int64_t first = (int64_t)(4 * r0) - (int64_t)g->pt;  // image row of buf row 0
        const size_t ih0 = first < 0 ? 0 : (size_t)first;
        const size_t ih1 = QS_MIN(g->h, (size_t)(first + (int64_t)rows));
        for (size_t i = 0; i < rows; i++) {
            __m512 *row = buf + i * wp;
            const int64_t ih = first + (int64_t)i;
            if (ih < (int64_t)ih0 || ih >= (int64_t)ih1) {
                for (size_t col = 0; col < wp; col++) row[col] = zero;
                continue;
            }
            for (size_t col = 0; col < g->pl; col++) row[col] = zero;
            for (size_t col = g->pl + g->w; col < wp; col++) row[col] = zero;
        }
        if (ih1 > ih0) {
            const size_t nf = (ih1 - ih0) * g->w;
            const float *src = x + cb * plane + ih0 * g->w;
            size_t i = (size_t)((int64_t)ih0 - first), col = 0;  // buf row and image column
            for (size_t f0 = 0; f0 < nf; f0 += 16) {
                const size_t n = nf - f0 < 16 ? nf - f0 : 16;
                __m512 rr[16];
                load_block(src + f0, plane, nc, n, rr);
                for (size_t k = 0; k < n; k++) {
                    buf[i * wp + g->pl + col] = rr[k];
                    if (++col == g->w) col = 0, i++;
                }
            }
        }
        for (size_t r = r0; r < r1; r++)
            for (size_t j = 0; j < g->tw; j++) {
                const __m512 *patch = buf + 4 * (r - r0) * wp + 4 * j;
                __m512 t[6][6], d[6], o[6];
                for (int k = 0; k < 6; k++) {  // columns: B^T d
                    for (int i = 0; i < 6; i++) d[i] = patch[(size_t)i * wp + (size_t)k];
                    bt6(d, o);
                    for (int i = 0; i < 6; i++) t[i][k] = o[i];
                }
                float *vt = v + (t0 + (r - r0) * g->tw + j) * g->ci_pad + cb;
                for (int i = 0; i < 6; i++) {  // rows: (B^T d) B
                    bt6(t[i], o);
                    for (int l = 0; l < 6; l++)
                        _mm512_storeu_ps(vt + (size_t)(i * 6 + l) * vstride, o[l]);
                }
            }
    }
}

// M rows t0..t0+7, columns o0..o0+31 (two vectors) or t0..t0+15 x o0..o0+15.
#define ROWS8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define ROWS16(X) ROWS8(X) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

static inline __attribute__((always_inline)) void
gemm_8x32(size_t k, const float *v, size_t ldv, const float *u, size_t ldu,
          float *m, size_t ldm) {
#define INIT(r) __m512 a##r##0 = _mm512_setzero_ps(), a##r##1 = a##r##0;
    ROWS8(INIT)
#undef INIT
    for (size_t c = 0; c < k; c++) {
        const __m512 b0 = _mm512_loadu_ps(u + c * ldu), b1 = _mm512_loadu_ps(u + c * ldu + 16);
#define STEP(r)                                              \
    {                                                        \
        const __m512 a = _mm512_set1_ps(v[(r) * ldv + c]);   \
        a##r##0 = _mm512_fmadd_ps(a, b0, a##r##0);           \
        a##r##1 = _mm512_fmadd_ps(a, b1, a##r##1);           \
    }
        ROWS8(STEP)
#undef STEP
    }
#define STORE(r)                                     \
    _mm512_storeu_ps(m + (r) * ldm, a##r##0);        \
    _mm512_storeu_ps(m + (r) * ldm + 16, a##r##1);
    ROWS8(STORE)
#undef STORE
}

static inline __attribute__((always_inline)) void
gemm_16x16(size_t k, const float *v, size_t ldv, const float *u, size_t ldu,
           float *m, size_t ldm) {
#define INIT(r) __m512 a##r = _mm512_setzero_ps();
    ROWS16(INIT)
#undef INIT
    for (size_t c = 0; c < k; c++) {
        const __m512 b0 = _mm512_loadu_ps(u + c * ldu);
#define STEP(r) a##r = _mm512_fmadd_ps(_mm512_set1_ps(v[(r) * ldv + c]), b0, a##r);
        ROWS16(STEP)
#undef STEP
    }
#define STORE(r) _mm512_storeu_ps(m + (r) * ldm, a##r);
    ROWS16(STORE)
#undef STORE
}

// The row stride of V as a compile-time constant for the usual channel counts: 16 row
// addresses then fold into displacements from one register instead of 16 index registers
// (x86 has too few: the generic 16-row loop moved indices from vector registers each step).
#define GEMM_ALL(LDV)                                                                 \
    do {                                                                              \
        size_t o = 0;                                                                 \
        for (; o + 32 <= g->co_pad; o += 32)                                          \
            for (size_t t = 0; t < nt; t += 8)                                        \
                gemm_8x32(g->c_in, v + t * (LDV), (LDV), u + o, ldu, m + t * ldu + o, \
                          ldu);                                                       \
        if (o < g->co_pad)                                                            \
            for (size_t t = 0; t < nt; t += 16)                                       \
                gemm_16x16(g->c_in, v + t * (LDV), (LDV), u + o, ldu, m + t * ldu + o, \
                           ldu);                                                      \
    } while (0)

void qs__f32_wino_gemm__avx512(const struct qs_f32_wino *g, size_t nt, const float *v,
                               const float *u, float *m) {
    const size_t ldu = g->co_pad;
    switch (g->ci_pad) {
    case 16: GEMM_ALL(16); break;
    case 32: GEMM_ALL(32); break;
    case 64: GEMM_ALL(64); break;
    default: GEMM_ALL(g->ci_pad); break;
    }
}
#undef GEMM_ALL

void qs__f32_wino_output__avx512(const struct qs_f32_wino *g, const float *m, size_t r0,
                                 size_t r1, size_t t0, const float *bias, const float *sum,
                                 float lo, float hi, float *y, float *work) {
    const size_t mstride = g->mstride, plane = g->oh * g->ow, wp = g->wp;
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    const bool clo = !(lo == -INFINITY), chi = !(hi == INFINITY);
    __m512 *buf = (__m512 *)work;  // [4 (r1 - r0)][wp]: 16 channels per output pixel
    for (size_t ob = 0; ob < g->c_out; ob += 16) {
        const size_t no = g->c_out - ob < 16 ? g->c_out - ob : 16;
        const __m512 vb = bias ? _mm512_maskz_loadu_ps((__mmask16)((1u << no) - 1), bias + ob)
                               : _mm512_setzero_ps();
        for (size_t r = r0; r < r1; r++) {
            const size_t rows = g->oh - 4 * r < 4 ? g->oh - 4 * r : 4;
            for (size_t j = 0; j < g->tw; j++) {
                __m512 z[4][6], mm[6], o[4];
                const float *mt = m + (t0 + (r - r0) * g->tw + j) * g->co_pad + ob;
                for (int l = 0; l < 6; l++) {  // columns: A^T m
                    for (int i = 0; i < 6; i++)
                        mm[i] = _mm512_loadu_ps(mt + (size_t)(i * 6 + l) * mstride);
                    at6(mm, o);
                    for (int p = 0; p < 4; p++) z[p][l] = o[p];
                }
                __m512 *bt = buf + 4 * (r - r0) * wp + 4 * j;
                for (size_t p = 0; p < rows; p++) {  // rows: (A^T m) A, plus the bias
                    at6(z[p], o);
                    for (size_t q = 0; q < 4; q++) bt[p * wp + q] = _mm512_add_ps(o[q], vb);
                }
            }
        }
        // Back to NCHW: the segment's output rows are contiguous in y, so 16 pixels at a
        // time (across row ends) are transposed into one vector per channel, then the
        // residual, the clamp and full-width stores.
        const size_t orows = QS_MIN(g->oh, 4 * r1) - 4 * r0, nf = orows * g->ow;
        const size_t base = 4 * r0 * g->ow;
        size_t p = 0, col = 0;  // buf row and column of flat pixel f0
        for (size_t f0 = 0; f0 < nf; f0 += 16) {
            const size_t n = nf - f0 < 16 ? nf - f0 : 16;
            const __mmask16 mk = (__mmask16)((1u << n) - 1);
            __m512 rr[16];
            for (size_t k = 0; k < 16; k++) {
                rr[k] = k < n ? buf[p * wp + col] : _mm512_setzero_ps();
                if (k < n && ++col == g->ow) col = 0, p++;
            }
            qs__avx512_transpose16(rr);
            for (size_t c = 0; c < no; c++) {
                const size_t off = (ob + c) * plane + base + f0;
                __m512 a = rr[c];
                if (sum)
                    a = _mm512_add_ps(a, n == 16 ? _mm512_loadu_ps(sum + off)
                                                 : _mm512_maskz_loadu_ps(mk, sum + off));
                if (clo) a = _mm512_max_ps(vlo, a);
                if (chi) a = _mm512_min_ps(vhi, a);
                if (n == 16) _mm512_storeu_ps(y + off, a);
                else _mm512_mask_storeu_ps(y + off, mk, a);
            }
        }
    }
}
