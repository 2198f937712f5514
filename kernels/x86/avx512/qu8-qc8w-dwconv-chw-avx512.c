// Depthwise int8 convolution, NCHW, AVX-512BW: the AVX2 kernel's scheme
// (kernels/x86/avx2/qu8-qc8w-dwconv-chw-avx2.c) on 32 output pixels per step, with masked
// stores for the partial last chunk. Exact for the same reason: zero-extended bytes,
// vpmaddwd on interleaved tap pairs, no saturating step.
#include "kernels/qdwconv-impl.h"

#include <immintrin.h>

#define NR 32
#define MAX_TAPS 64
#define STAGE_BYTES 32768

struct epi {
    __m512i bias, zp;
    __m512 scale, flo, fhi, fbias, fmin, fmax;
};

static inline __m512i load_px(const uint8_t *p, bool s2) {
    if (s2) return _mm512_and_si512(_mm512_loadu_si512(p), _mm512_set1_epi16(0xff));
    return _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)p));
}

// lo: pixels 8L+0..3 of each 128-bit lane L, hi: pixels 8L+4..7.
static inline void madd2(__m512i a, __m512i b, __m512i wab, __m512i *lo, __m512i *hi) {
    *lo = _mm512_add_epi32(*lo, _mm512_madd_epi16(_mm512_unpacklo_epi16(a, b), wab));
    *hi = _mm512_add_epi32(*hi, _mm512_madd_epi16(_mm512_unpackhi_epi16(a, b), wab));
}

static inline void store16(const struct qs_qdw_epilogue *ep, const struct epi *e, __m512i r,
                           void *y, __mmask16 m) {
    switch (ep->type) {
    case QS_QOUT_U8:
    case QS_QOUT_S8: {
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(r), e->scale);
        f = _mm512_min_ps(_mm512_max_ps(f, e->flo), e->fhi);
        __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), e->zp);
        // q is within [lo, hi] already: plain truncation to bytes is exact for u8 and s8.
        _mm_mask_storeu_epi8(y, m, _mm512_cvtepi32_epi8(q));
        break;
    }
    case QS_QOUT_F32: {
        __m512 f = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(r), e->scale), e->fbias);
        f = _mm512_min_ps(e->fmax, _mm512_max_ps(e->fmin, f));
        _mm512_mask_storeu_ps(y, m, f);
        break;
    }
    case QS_QOUT_S32:
        _mm512_mask_storeu_epi32(y, m, r);
        break;
    }
}

static inline void store_chunk(const struct qs_qdw_epilogue *ep, const struct epi *e,
                               __m512i lo, __m512i hi, uint8_t *y, size_t n) {
    const __m512i i0 = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
    const __m512i i1 = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    __m512i r0 = _mm512_add_epi32(_mm512_permutex2var_epi64(lo, i0, hi), e->bias);
    __m512i r1 = _mm512_add_epi32(_mm512_permutex2var_epi64(lo, i1, hi), e->bias);
    __mmask16 m0 = n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1);
    __mmask16 m1 = n >= 32 ? 0xffff : n > 16 ? (__mmask16)((1u << (n - 16)) - 1) : 0;
    size_t esz = qs__qdw_elem_size(ep->type);
    store16(ep, e, r0, y, m0);
    if (m1) store16(ep, e, r1, y + 16 * esz, m1);
}

static inline void chunk_3x3(const uint8_t *const *rp, const __m512i *wv, bool s2,
                             __m512i *lo, __m512i *hi) {
    __m512i l = _mm512_setzero_si512(), h = _mm512_setzero_si512();
    madd2(load_px(rp[0], s2), load_px(rp[0] + 1, s2), wv[0], &l, &h);
    madd2(load_px(rp[0] + 2, s2), load_px(rp[1], s2), wv[1], &l, &h);
    madd2(load_px(rp[1] + 1, s2), load_px(rp[1] + 2, s2), wv[2], &l, &h);
    madd2(load_px(rp[2], s2), load_px(rp[2] + 1, s2), wv[3], &l, &h);
    madd2(load_px(rp[2] + 2, s2), _mm512_setzero_si512(), wv[4], &l, &h);
    *lo = l;
    *hi = h;
}

static inline void chunk_general(const uint8_t *const *rp, const uint8_t *trow,
                                 const size_t *tcol, const int32_t *wpair, size_t taps, bool s2,
                                 __m512i *lo, __m512i *hi) {
    __m512i l = _mm512_setzero_si512(), h = _mm512_setzero_si512();
    size_t t = 0;
    for (; t + 1 < taps; t += 2) {
        __m512i a = load_px(rp[trow[t]] + tcol[t], s2);
        __m512i b = load_px(rp[trow[t + 1]] + tcol[t + 1], s2);
        madd2(a, b, _mm512_set1_epi32(wpair[t / 2]), &l, &h);
    }
    if (t < taps)
        madd2(load_px(rp[trow[t]] + tcol[t], s2), _mm512_setzero_si512(),
              _mm512_set1_epi32(wpair[t / 2]), &l, &h);
    *lo = l;
    *hi = h;
}

void qs__qdwconv_rows__avx512(const struct qs_qdwconv_shape *s, const uint8_t *x,
                              const int8_t *w, const struct qs_qdw_epilogue *ep, void *y,
                              size_t oh0, size_t oh1) {
    const size_t kh = s->kh, kw = s->kw, taps = kh * kw, sw = s->stride_w, dw = s->dil_w;
    size_t ct, g;
    // Narrow planes waste most of a 32-pixel step; the 16-pixel kernel does them better.
    if (s->out_w <= 16) {
        qs__qdwconv_rows__avx2(s, x, w, ep, y, oh0, oh1);
        return;
    }
    if (!ep->simd_ok || sw > 2 || taps > MAX_TAPS ||
        !qs__qdw_tiles(s, NR, STAGE_BYTES, &ct, &g)) {
        qs__qdwconv_rows_ref(s, x, w, ep, y, oh0, oh1);
        return;
    }
    const bool s2 = sw == 2, k3 = kh == 3 && kw == 3 && dw == 1;
    const size_t esz = qs__qdw_elem_size(ep->type), step = NR * sw, ext = (kw - 1) * dw;
    const size_t steps = (s->out_w + NR - 1) / NR, r1 = (kh - 1) * s->dil_h + 1;
    int32_t wpair[MAX_TAPS / 2 + 1];
    uint8_t trow[MAX_TAPS];
    size_t tcol[MAX_TAPS];
    for (size_t t = 0; t < taps; t++) {
        trow[t] = (uint8_t)(t / kw);
        tcol[t] = (t % kw) * dw;
    }
    for (size_t q = 0; q < (taps + 1) / 2; q++) {
        uint32_t a = (uint16_t)(int16_t)w[2 * q];
        uint32_t b = 2 * q + 1 < taps ? (uint16_t)(int16_t)w[2 * q + 1] : 0;
        wpair[q] = (int32_t)(a | b << 16);
    }
    __m512i wv[5];
    for (size_t q = 0; q < 5 && q < (taps + 1) / 2; q++) wv[q] = _mm512_set1_epi32(wpair[q]);
    struct epi e = {
        .bias = _mm512_set1_epi32(ep->bias_zp), .zp = _mm512_set1_epi32(ep->zp),
        .scale = _mm512_set1_ps(ep->scale), .flo = _mm512_set1_ps(ep->flo),
        .fhi = _mm512_set1_ps(ep->fhi), .fbias = _mm512_set1_ps(ep->fbias),
        .fmin = _mm512_set1_ps(ep->fmin), .fmax = _mm512_set1_ps(ep->fmax),
    };
    _Alignas(64) uint8_t stage[STAGE_BYTES];
    const uint8_t *rp[MAX_TAPS];
    for (size_t a = oh0; a < oh1; a += g) {
        size_t b = QS_MIN(oh1, a + g), rows = (b - a - 1) * s->stride_h + r1;
        int64_t ih0 = (int64_t)(a * s->stride_h) - (int64_t)s->pad_top;
        for (size_t c0 = 0; c0 < steps; c0 += ct) {
            size_t c1 = QS_MIN(steps, c0 + ct), width = (c1 - c0) * step + ext;
            qs__qdw_stage(stage, s, x, ih0, rows, (int64_t)(c0 * step) - (int64_t)s->pad_left,
                          width, ep->x_zp);
            for (size_t oh = a; oh < b; oh++) {
                uint8_t *yrow = (uint8_t *)y + oh * s->out_w * esz;
                for (size_t i = 0; i < kh; i++)
                    rp[i] = stage + ((oh - a) * s->stride_h + i * s->dil_h) * width;
                for (size_t c = c0; c < c1; c++) {
                    size_t ow0 = c * NR, n = QS_MIN(NR, s->out_w - ow0);
                    __m512i lo, hi;
                    if (k3 && s2)
                        chunk_3x3(rp, wv, true, &lo, &hi);
                    else if (k3)
                        chunk_3x3(rp, wv, false, &lo, &hi);
                    else if (s2)
                        chunk_general(rp, trow, tcol, wpair, taps, true, &lo, &hi);
                    else
                        chunk_general(rp, trow, tcol, wpair, taps, false, &lo, &hi);
                    store_chunk(ep, &e, lo, hi, yrow + ow0 * esz, n);
                    for (size_t i = 0; i < kh; i++) rp[i] += step;
                }
            }
        }
    }
}
