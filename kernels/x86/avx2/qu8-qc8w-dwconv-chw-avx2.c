// Depthwise int8 convolution, NCHW, AVX2: 16 output pixels of one row per step, stride 1 or
// 2 along the width (any other stride, or more than 64 taps, takes the scalar rows).
//
// Exactness: input bytes are zero-extended to int16 (0..255), two taps are interleaved and
// multiplied by their int16 weights with vpmaddwd, which forms x_a*w_a + x_b*w_b exactly in
// int32 (|.| <= 2*255*128): nothing saturates.
//
// Tiles of the output are computed from a staged copy of their input (see
// kernels/qdwconv-impl.h); the last partial step of a row stores through a buffer.
#include "kernels/qdwconv-impl.h"

#include <immintrin.h>

#define NR 16
#define MAX_TAPS 64
#define STAGE_BYTES 16384

struct epi {
    __m256i bias, zp;
    __m256 scale, flo, fhi, fbias, fmin, fmax;
};

// 16 pixels' bytes of one tap as int16, in pixel order: stride 1 reads bytes p[0..15],
// stride 2 the even bytes of p[0..31].
static inline __m256i load_px(const uint8_t *p, bool s2) {
    if (s2)
        return _mm256_and_si256(_mm256_loadu_si256((const __m256i *)p), _mm256_set1_epi16(0xff));
    return _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p));
}

// Adds taps a and b (weights packed in wab as int16 pairs) to the accumulators: lo holds
// pixels 0-3 and 8-11, hi pixels 4-7 and 12-15 (the in-lane order of unpack).
static inline void madd2(__m256i a, __m256i b, __m256i wab, __m256i *lo, __m256i *hi) {
    *lo = _mm256_add_epi32(*lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), wab));
    *hi = _mm256_add_epi32(*hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), wab));
}

static inline void store_chunk(const struct qs_qdw_epilogue *ep, const struct epi *e,
                               __m256i lo, __m256i hi, void *y, size_t n) {
    // Back to pixel order: r0 = pixels 0-7, r1 = pixels 8-15.
    __m256i r0 = _mm256_add_epi32(_mm256_permute2x128_si256(lo, hi, 0x20), e->bias);
    __m256i r1 = _mm256_add_epi32(_mm256_permute2x128_si256(lo, hi, 0x31), e->bias);
    _Alignas(32) uint8_t tmp[NR * 4];
    void *dst = n == NR ? y : tmp;
    switch (ep->type) {
    case QS_QOUT_U8:
    case QS_QOUT_S8: {
        __m256 f0 = _mm256_mul_ps(_mm256_cvtepi32_ps(r0), e->scale);
        __m256 f1 = _mm256_mul_ps(_mm256_cvtepi32_ps(r1), e->scale);
        f0 = _mm256_min_ps(_mm256_max_ps(f0, e->flo), e->fhi);
        f1 = _mm256_min_ps(_mm256_max_ps(f1, e->flo), e->fhi);
        __m256i q0 = _mm256_add_epi32(_mm256_cvtps_epi32(f0), e->zp);
        __m256i q1 = _mm256_add_epi32(_mm256_cvtps_epi32(f1), e->zp);
        // Values are already within [lo, hi]: the saturating packs only narrow.
        __m256i p16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);
        __m128i a = _mm256_castsi256_si128(p16), b = _mm256_extracti128_si256(p16, 1);
        __m128i p8 = ep->type == QS_QOUT_U8 ? _mm_packus_epi16(a, b) : _mm_packs_epi16(a, b);
        _mm_storeu_si128((__m128i *)dst, p8);
        break;
    }
    case QS_QOUT_F32: {
        __m256 f0 = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(r0), e->scale), e->fbias);
        __m256 f1 = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(r1), e->scale), e->fbias);
        // max(fmin, v) then min(fmax, .): v when equal, as the reference's comparisons.
        f0 = _mm256_min_ps(e->fmax, _mm256_max_ps(e->fmin, f0));
        f1 = _mm256_min_ps(e->fmax, _mm256_max_ps(e->fmin, f1));
        _mm256_storeu_ps((float *)dst, f0);
        _mm256_storeu_ps((float *)dst + 8, f1);
        break;
    }
    case QS_QOUT_S32:
        _mm256_storeu_si256((__m256i *)dst, r0);
        _mm256_storeu_si256((__m256i *)dst + 1, r1);
        break;
    }
    if (n != NR) memcpy(y, tmp, n * qs__qdw_elem_size(ep->type));
}

// 3x3, dilation 1 along the width: taps paired (00,01) (02,10) (11,12) (20,21) (22,-).
static inline void chunk_3x3(const uint8_t *const *rp, const __m256i *wv, bool s2,
                             __m256i *lo, __m256i *hi) {
    __m256i l = _mm256_setzero_si256(), h = _mm256_setzero_si256();
    madd2(load_px(rp[0], s2), load_px(rp[0] + 1, s2), wv[0], &l, &h);
    madd2(load_px(rp[0] + 2, s2), load_px(rp[1], s2), wv[1], &l, &h);
    madd2(load_px(rp[1] + 1, s2), load_px(rp[1] + 2, s2), wv[2], &l, &h);
    madd2(load_px(rp[2], s2), load_px(rp[2] + 1, s2), wv[3], &l, &h);
    madd2(load_px(rp[2] + 2, s2), _mm256_setzero_si256(), wv[4], &l, &h);
    *lo = l;
    *hi = h;
}

static inline void chunk_general(const uint8_t *const *rp, const uint8_t *trow,
                                 const size_t *tcol, const int32_t *wpair, size_t taps, bool s2,
                                 __m256i *lo, __m256i *hi) {
    __m256i l = _mm256_setzero_si256(), h = _mm256_setzero_si256();
    size_t t = 0;
    for (; t + 1 < taps; t += 2) {
        __m256i a = load_px(rp[trow[t]] + tcol[t], s2);
        __m256i b = load_px(rp[trow[t + 1]] + tcol[t + 1], s2);
        madd2(a, b, _mm256_set1_epi32(wpair[t / 2]), &l, &h);
    }
    if (t < taps)
        madd2(load_px(rp[trow[t]] + tcol[t], s2), _mm256_setzero_si256(),
              _mm256_set1_epi32(wpair[t / 2]), &l, &h);
    *lo = l;
    *hi = h;
}

void qs__qdwconv_rows__avx2(const struct qs_qdwconv_shape *s, const uint8_t *x, const int8_t *w,
                            const struct qs_qdw_epilogue *ep, void *y, size_t oh0, size_t oh1) {
    const size_t kh = s->kh, kw = s->kw, taps = kh * kw, sw = s->stride_w, dw = s->dil_w;
    size_t ct, g;
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
    __m256i wv[5];
    for (size_t q = 0; q < 5 && q < (taps + 1) / 2; q++) wv[q] = _mm256_set1_epi32(wpair[q]);
    struct epi e = {
        .bias = _mm256_set1_epi32(ep->bias_zp), .zp = _mm256_set1_epi32(ep->zp),
        .scale = _mm256_set1_ps(ep->scale), .flo = _mm256_set1_ps(ep->flo),
        .fhi = _mm256_set1_ps(ep->fhi), .fbias = _mm256_set1_ps(ep->fbias),
        .fmin = _mm256_set1_ps(ep->fmin), .fmax = _mm256_set1_ps(ep->fmax),
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
                    __m256i lo, hi;
                    // Literal strides, so that each call inlines with its loads resolved.
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
