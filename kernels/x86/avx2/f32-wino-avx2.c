// AVX2+FMA stages of the Winograd F(4x4, 3x3) convolution (struct qs_f32_wino in
// kernels/f32.h; driver and scalar references in kernels/ref/f32-wino.c), a port of the
// AVX-512 stages (kernels/x86/avx512/f32-wino-avx512.c) to 16 ymm registers.
//
// The data layout is the driver's: channels in blocks of 16 (V and M rows, the work
// buffer's 16-float cells), each block handled as two 8-float ymm halves, so B^T d B and
// A^T M A are plain vector arithmetic on one half at a time.
//  - input: the six image rows of a tile row are transposed, 16 channels x 8 pixels at a
//    time (two 8x8 transposes), into a band buffer [6][columns][16] (zero outside the
//    image), then every tile reads its 6x6 patch from it and stores 36 transformed cells.
//    A half with no real channel (c_in % 16 <= 8) is stored as zeros, untransformed.
//  - GEMM: M[xi] = V[xi] U[xi], a 6 tiles x 16 channels register tile (12 accumulators,
//    two weight vectors, one broadcast V element per row and step).
//  - output: A^T M A per tile plus the bias into a buffer of 16-channel cells per output
//    pixel, then 8 pixels at a time transposed into one 8-pixel run per channel, the
//    residual added, clamped and stored with full-width stores.
#include "kernels/f32.h"
#include "kernels/x86/avx2/f32-avx2.h"

#include <math.h>
#include <string.h>

// Floats per cell of the work buffers: one 16-channel block.
enum { CELL = 16 };

static const float g_zeros[8];

static inline void bt6(const __m256 d[6], __m256 t[6]) {
    const __m256 four = _mm256_set1_ps(4.0f), five = _mm256_set1_ps(5.0f);
    const __m256 two = _mm256_set1_ps(2.0f);
    const __m256 a = _mm256_fnmadd_ps(four, d[2], d[4]), b = _mm256_fnmadd_ps(four, d[1], d[3]);
    const __m256 c = _mm256_sub_ps(d[4], d[2]), e = _mm256_sub_ps(d[3], d[1]);
    t[0] = _mm256_fnmadd_ps(five, d[2], _mm256_fmadd_ps(four, d[0], d[4]));
    t[1] = _mm256_add_ps(a, b);
    t[2] = _mm256_sub_ps(a, b);
    t[3] = _mm256_fmadd_ps(two, e, c);
    t[4] = _mm256_fnmadd_ps(two, e, c);
    t[5] = _mm256_fnmadd_ps(five, d[3], _mm256_fmadd_ps(four, d[1], d[5]));
}

static inline void at6(const __m256 m[6], __m256 o[4]) {
    const __m256 s12 = _mm256_add_ps(m[1], m[2]), d12 = _mm256_sub_ps(m[1], m[2]);
    const __m256 s34 = _mm256_add_ps(m[3], m[4]), d34 = _mm256_sub_ps(m[3], m[4]);
    o[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), s34);
    o[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), d34, d12);
    o[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), s34, s12);
    o[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.0f), d34, d12), m[5]);
}

// r[i] = column i of the 8 x 8 matrix whose row j is the 8 floats at p[j]. The 128-bit
// lane exchange is done by the loads (rows j and j + 4 share a register), which leaves
// 16 in-lane shuffles instead of 24 shuffles.
static inline void transpose8(const float *const p[8], __m256 r[8]) {
    for (int h = 0; h < 2; h++) {  // columns 4h .. 4h + 3
        __m256 t[4], u[4];
        for (int j = 0; j < 4; j++)
            t[j] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p[j] + 4 * h)),
                                        _mm_loadu_ps(p[j + 4] + 4 * h), 1);
        u[0] = _mm256_unpacklo_ps(t[0], t[1]);
        u[1] = _mm256_unpackhi_ps(t[0], t[1]);
        u[2] = _mm256_unpacklo_ps(t[2], t[3]);
        u[3] = _mm256_unpackhi_ps(t[2], t[3]);
        r[4 * h + 0] = _mm256_shuffle_ps(u[0], u[2], 0x44);
        r[4 * h + 1] = _mm256_shuffle_ps(u[0], u[2], 0xee);
        r[4 * h + 2] = _mm256_shuffle_ps(u[1], u[3], 0x44);
        r[4 * h + 3] = _mm256_shuffle_ps(u[1], u[3], 0xee);
    }
}

// One half (8 channels) of a tile: B^T d B of the 6x6 patch of cells at patch (ld floats
// between buffer rows), the 36 results stored at vt + xi * vstride.
static inline void tile_input(const float *patch, size_t ld, float *vt, size_t vstride) {
    __m256 t[6][6], d[6], o[6];
    for (int k = 0; k < 6; k++) {  // columns: B^T d
        for (int i = 0; i < 6; i++) d[i] = _mm256_loadu_ps(patch + (size_t)i * ld + k * CELL);
        bt6(d, o);
        for (int i = 0; i < 6; i++) t[i][k] = o[i];
    }
    for (int i = 0; i < 6; i++) {  // rows: (B^T d) B
        bt6(t[i], o);
        for (int l = 0; l < 6; l++) _mm256_storeu_ps(vt + (size_t)(i * 6 + l) * vstride, o[l]);
    }
}

void qs__f32_wino_input__avx2(const struct qs_f32_wino *g, const float *x, size_t r0,
                              size_t r1, size_t t0, float *v, float *work) {
    const size_t wp = g->wp, rows = 4 * (r1 - r0) + 2, ld = wp * CELL;
    const size_t vstride = g->vstride, plane = g->h * g->w;
    const __m256 zero = _mm256_setzero_ps();
    // buf[i][col]: 16 channels of image row 4 r0 - pt + i, column col - pl; zero outside
    // the image. The padding cells are the same for every channel block: zeroed once.
    float *buf = work;
    const int64_t first = (int64_t)(4 * r0) - (int64_t)g->pt;  // image row of buf row 0
    const size_t ih0 = first < 0 ? 0 : (size_t)first;
    const size_t ih1 = QS_MIN(g->h, (size_t)(first + (int64_t)rows));
    for (size_t i = 0; i < rows; i++) {
        float *row = buf + i * ld;
        const int64_t ih = first + (int64_t)i;
        const bool in = ih >= (int64_t)ih0 && ih < (int64_t)ih1;
        for (size_t col = 0; col < wp; col++)
            if (!in || col < g->pl || col >= g->pl + g->w) {
                _mm256_storeu_ps(row + col * CELL, zero);
                _mm256_storeu_ps(row + col * CELL + 8, zero);
            }
    }
    const size_t nf = ih1 > ih0 ? (ih1 - ih0) * g->w : 0;  // floats per channel
    const size_t i0 = ih1 > ih0 ? (size_t)((int64_t)ih0 - first) : 0;
    for (size_t cb = 0; cb < g->ci_pad; cb += 16) {
        const size_t nc = g->c_in > cb ? QS_MIN(g->c_in - cb, (size_t)16) : 0;
        const size_t nh = nc > 8 ? 2 : 1;  // halves with real channels (a block has >= 1)
        // The segment's image rows are contiguous in x, so 8 pixels at a time are loaded
        // across row ends with plain loads; the last block is moved back to end at nf
        // (rewriting a few cells with the same values) instead of masking.
        const float *src = x + cb * plane + ih0 * g->w;
        if (nf >= 8) {
            size_t i = i0, col = 0;  // buf row and image column of pixel f0
            for (size_t f0 = 0; f0 < nf; f0 += 8) {
                if (f0 + 8 > nf) {
                    f0 = nf - 8;
                    i = i0 + f0 / g->w, col = f0 % g->w;
                }
                __m256 r[2][8];
                for (size_t h = 0; h < nh; h++) {
                    const float *p[8];
                    for (size_t k = 0; k < 8; k++)
                        p[k] = 8 * h + k < nc ? src + (8 * h + k) * plane + f0 : g_zeros;
                    transpose8(p, r[h]);
                }
                for (size_t k = 0; k < 8; k++) {
                    float *cell = buf + i * ld + (g->pl + col) * CELL;
                    _mm256_storeu_ps(cell, r[0][k]);
                    if (nh == 2) _mm256_storeu_ps(cell + 8, r[1][k]);
                    if (++col == g->w) col = 0, i++;
                }
            }
        } else if (nf > 0) {  // fewer than 8 pixels in all: through a zeroed copy
            float tmp[16][8] = {{0}};
            for (size_t k = 0; k < nc; k++) memcpy(tmp[k], src + k * plane, nf * sizeof(float));
            __m256 r[2][8];
            for (size_t h = 0; h < nh; h++) {
                const float *p[8];
                for (size_t k = 0; k < 8; k++) p[k] = tmp[8 * h + k];
                transpose8(p, r[h]);
            }
            size_t i = i0, col = 0;
            for (size_t k = 0; k < nf; k++) {
                float *cell = buf + i * ld + (g->pl + col) * CELL;
                _mm256_storeu_ps(cell, r[0][k]);
                if (nh == 2) _mm256_storeu_ps(cell + 8, r[1][k]);
                if (++col == g->w) col = 0, i++;
            }
        }
        for (size_t r = r0; r < r1; r++)
            for (size_t j = 0; j < g->tw; j++) {
                const float *patch = buf + 4 * (r - r0) * ld + 4 * j * CELL;
                float *vt = v + (t0 + (r - r0) * g->tw + j) * g->ci_pad + cb;
                tile_input(patch, ld, vt, vstride);
                if (nh == 2) tile_input(patch + 8, ld, vt + 8, vstride);
                else
                    for (size_t xi = 0; xi < 36; xi++)
                        _mm256_storeu_ps(vt + xi * vstride + 8, zero);
            }
    }
}

// M rows t .. t + R - 1, columns o .. o + 15 (two vectors): R x 2 accumulators, each
// step two weight vectors and R broadcast V elements.
#define ROWS6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define ROWS4(X) X(0) X(1) X(2) X(3)
#define ROWS2(X) X(0) X(1)
#define ROWS1(X) X(0)
#define GEMM_INIT(r) __m256 a##r##0 = _mm256_setzero_ps(), a##r##1 = a##r##0;
#define GEMM_STEP(r)                                                 \
    {                                                                \
        const __m256 a = _mm256_broadcast_ss(v + (r) * ldv + c);     \
        a##r##0 = _mm256_fmadd_ps(a, b0, a##r##0);                   \
        a##r##1 = _mm256_fmadd_ps(a, b1, a##r##1);                   \
    }
#define GEMM_STORE(r)                             \
    _mm256_storeu_ps(m + (r) * ldm, a##r##0);     \
    _mm256_storeu_ps(m + (r) * ldm + 8, a##r##1);
#define GEMM_TILE(NAME, ROWS)                                                               \
    static inline void NAME(size_t k, const float *v, size_t ldv, const float *u, size_t ldu, \
                            float *m, size_t ldm) {                                         \
        ROWS(GEMM_INIT)                                                                     \
        for (size_t c = 0; c < k; c++) {                                                    \
            const __m256 b0 = _mm256_loadu_ps(u + c * ldu);                                 \
            const __m256 b1 = _mm256_loadu_ps(u + c * ldu + 8);                             \
            ROWS(GEMM_STEP)                                                                 \
        }                                                                                   \
        ROWS(GEMM_STORE)                                                                    \
    }
GEMM_TILE(gemm_6x16, ROWS6)
GEMM_TILE(gemm_4x16, ROWS4)
GEMM_TILE(gemm_2x16, ROWS2)
GEMM_TILE(gemm_1x16, ROWS1)
#undef GEMM_TILE
#undef GEMM_STORE
#undef GEMM_STEP
#undef GEMM_INIT

void qs__f32_wino_gemm__avx2(const struct qs_f32_wino *g, size_t nt, const float *v,
                             const float *u, float *m) {
    const size_t ldv = g->ci_pad, ldu = g->co_pad, k = g->c_in;
    // Column blocks outside: the block's weight panel (c_in x 16) stays in L1 while the
    // tiles stream past it.
    for (size_t o = 0; o < g->co_pad; o += 16) {
        size_t t = 0;
        for (; t + 6 <= nt; t += 6)
            gemm_6x16(k, v + t * ldv, ldv, u + o, ldu, m + t * ldu + o, ldu);
        if (nt - t >= 4) {
            gemm_4x16(k, v + t * ldv, ldv, u + o, ldu, m + t * ldu + o, ldu);
            t += 4;
        }
        if (nt - t >= 2) {
            gemm_2x16(k, v + t * ldv, ldv, u + o, ldu, m + t * ldu + o, ldu);
            t += 2;
        }
        if (nt - t >= 1) gemm_1x16(k, v + t * ldv, ldv, u + o, ldu, m + t * ldu + o, ldu);
    }
}

// One half (8 channels) of a tile: A^T m A of the 36 vectors at mt + xi * mstride plus
// the bias, output rows p < rows stored as cells of out (ld floats between rows).
static inline void tile_output(const float *mt, size_t mstride, size_t rows, __m256 vb,
                               float *out, size_t ld) {
    __m256 z[4][6], mm[6], o[4];
    for (int l = 0; l < 6; l++) {  // columns: A^T m
        for (int i = 0; i < 6; i++) mm[i] = _mm256_loadu_ps(mt + (size_t)(i * 6 + l) * mstride);
        at6(mm, o);
        for (int p = 0; p < 4; p++) z[p][l] = o[p];
    }
    for (size_t p = 0; p < rows; p++) {  // rows: (A^T m) A, plus the bias
        at6(z[p], o);
        for (size_t q = 0; q < 4; q++)
            _mm256_storeu_ps(out + p * ld + q * CELL, _mm256_add_ps(o[q], vb));
    }
}

void qs__f32_wino_output__avx2(const struct qs_f32_wino *g, const float *m, size_t r0,
                               size_t r1, size_t t0, const float *bias, const float *sum,
                               float lo, float hi, float *y, float *work) {
    const size_t mstride = g->mstride, plane = g->oh * g->ow, ld = g->wp * CELL;
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    const bool clo = !(lo == -INFINITY), chi = !(hi == INFINITY);
    float *buf = work;  // [4 (r1 - r0)][wp] cells: 16 channels per output pixel
    const size_t orows = QS_MIN(g->oh, 4 * r1) - 4 * r0, nf = orows * g->ow;
    const size_t base = 4 * r0 * g->ow;
    for (size_t ob = 0; ob < g->c_out; ob += 16) {
        const size_t no = QS_MIN(g->c_out - ob, (size_t)16), nh = no > 8 ? 2 : 1;
        __m256 vb[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        if (bias)
            for (size_t h = 0; h < nh; h++)
                vb[h] = _mm256_maskload_ps(bias + ob + 8 * h,
                                           qs__avx2_tail_mask(QS_MIN(no - 8 * h, (size_t)8)));
        for (size_t r = r0; r < r1; r++) {
            const size_t rows = QS_MIN(g->oh - 4 * r, (size_t)4);
            for (size_t j = 0; j < g->tw; j++) {
                const float *mt = m + (t0 + (r - r0) * g->tw + j) * g->co_pad + ob;
                float *bt = buf + 4 * (r - r0) * ld + 4 * j * CELL;
                for (size_t h = 0; h < nh; h++)
                    tile_output(mt + 8 * h, mstride, rows, vb[h], bt + 8 * h, ld);
            }
        }
        // Back to NCHW: the segment's output rows are contiguous in y, so 8 pixels at a
        // time (across row ends) are transposed into one vector per channel, then the
        // residual, the clamp and full-width stores; the last block is moved back to end
        // at nf (storing a few pixels twice, with the same values) instead of masking.
        const size_t step = nf >= 8 ? 8 : nf;
        size_t p = 0, col = 0;  // buf row and column of flat pixel f0
        for (size_t f0 = 0; f0 < nf; f0 += step) {
            if (f0 + step > nf) {
                f0 = nf - step;
                p = f0 / g->ow, col = f0 % g->ow;
            }
            const float *cells[8];
            for (size_t k = 0; k < 8; k++) {
                cells[k] = k < step ? buf + p * ld + col * CELL : NULL;
                if (k < step && ++col == g->ow) col = 0, p++;
            }
            for (size_t h = 0; h < nh; h++) {
                const float *pp[8];
                for (size_t k = 0; k < 8; k++) pp[k] = cells[k] ? cells[k] + 8 * h : g_zeros;
                __m256 rr[8];
                transpose8(pp, rr);
                const size_t nch = QS_MIN(no - 8 * h, (size_t)8);
                for (size_t c = 0; c < nch; c++) {
                    const size_t off = (ob + 8 * h + c) * plane + base + f0;
                    __m256 a = rr[c];
                    if (step == 8) {
                        if (sum) a = _mm256_add_ps(a, _mm256_loadu_ps(sum + off));
                        if (clo) a = _mm256_max_ps(vlo, a);
                        if (chi) a = _mm256_min_ps(vhi, a);
                        _mm256_storeu_ps(y + off, a);
                    } else {  // fewer than 8 pixels in the whole segment
                        const __m256i mk = qs__avx2_tail_mask(step);
                        if (sum) a = _mm256_add_ps(a, _mm256_maskload_ps(sum + off, mk));
                        if (clo) a = _mm256_max_ps(vlo, a);
                        if (chi) a = _mm256_min_ps(vhi, a);
                        float tmp[8];
                        _mm256_storeu_ps(tmp, a);
                        memcpy(y + off, tmp, step * sizeof(float));
                    }
                }
            }
        }
    }
}
