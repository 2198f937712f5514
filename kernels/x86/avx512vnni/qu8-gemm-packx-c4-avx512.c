// Activation packer of the AVX-512 VNNI GEMMs: c4 bytes (x_bias 0), NR a multiple of 16 up
// to 64. Rows of X contiguous in p (im2col, NCHW) interleave 4 at a time; pixels contiguous
// in k (a fully connected layer's row-major input) go through 16x16 dword transposes.
// Partial panels and the k tail use masked loads (never reading past the data); other
// layouts go to the portable packer.
#include "kernels/qgemm-ukernel.h"

#include <immintrin.h>

// 16 rows of 16 dwords to 16 columns (r[c] = old column c).
static inline void transpose_16x16(__m512i r[16]) {
    __m512i t[16], u[16];
    for (size_t a = 0; a < 8; a++) {
        t[2 * a] = _mm512_unpacklo_epi32(r[2 * a], r[2 * a + 1]);
        t[2 * a + 1] = _mm512_unpackhi_epi32(r[2 * a], r[2 * a + 1]);
    }
    // u[4b + q] lane L: rows 4b..4b+3 of column 4L + q.
    for (size_t b = 0; b < 4; b++) {
        u[4 * b] = _mm512_unpacklo_epi64(t[4 * b], t[4 * b + 2]);
        u[4 * b + 1] = _mm512_unpackhi_epi64(t[4 * b], t[4 * b + 2]);
        u[4 * b + 2] = _mm512_unpacklo_epi64(t[4 * b + 1], t[4 * b + 3]);
        u[4 * b + 3] = _mm512_unpackhi_epi64(t[4 * b + 1], t[4 * b + 3]);
    }
    // Column 4L + q gathers lane L of u[q], u[4 + q], u[8 + q], u[12 + q].
    for (size_t q = 0; q < 4; q++) {
        __m512i v0 = _mm512_shuffle_i32x4(u[q], u[4 + q], 0x44);
        __m512i v1 = _mm512_shuffle_i32x4(u[q], u[4 + q], 0xee);
        __m512i v2 = _mm512_shuffle_i32x4(u[8 + q], u[12 + q], 0x44);
        __m512i v3 = _mm512_shuffle_i32x4(u[8 + q], u[12 + q], 0xee);
        r[q] = _mm512_shuffle_i32x4(v0, v2, 0x88);
        r[4 + q] = _mm512_shuffle_i32x4(v0, v2, 0xdd);
        r[8 + q] = _mm512_shuffle_i32x4(v1, v3, 0x88);
        r[12 + q] = _mm512_shuffle_i32x4(v1, v3, 0xdd);
    }
}

// X[k][j] at x[k + j * x_stride_p]: a pixel's 4 k of a group are one dword already.
static void pack_k_contiguous(size_t nr, size_t k, size_t np, const uint8_t *x,
                              size_t x_stride_p, uint8_t *o) {
    size_t groups = (QS_MAX(k, (size_t)1) + 3) / 4;
    for (size_t g0 = 0; g0 < groups; g0 += 16) {
        size_t left = k > 4 * g0 ? k - 4 * g0 : 0;
        __mmask64 km = left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
        size_t ng = QS_MIN((size_t)16, groups - g0);
        for (size_t v = 0; v < nr / 16; v++) {
            __m512i r[16];
            for (size_t j = 0; j < 16; j++) {
                size_t pj = 16 * v + j;
                r[j] = pj < np ? _mm512_maskz_loadu_epi8(km, x + pj * x_stride_p + 4 * g0)
                               : _mm512_setzero_si512();
            }
            transpose_16x16(r);
            for (size_t g = 0; g < ng; g++)
                _mm512_store_si512(o + (g0 + g) * nr * 4 + 64 * v, r[g]);
        }
    }
}

void qs_qu8_gemm_packx_c4__avx512(const struct qs_qgemm_config *cfg, size_t k, size_t np,
                                  const uint8_t *x, size_t x_stride_k, size_t x_stride_p,
                                  void *packed) {
    size_t nr = cfg->nr;
    if (nr % 16 || nr > 64 || cfg->kr != 4 || cfg->x_elem != 1 || cfg->x_bias ||
        (x_stride_p != 1 && x_stride_k != 1)) {
        qs__qgemm_packx_generic(cfg, k, np, x, x_stride_k, x_stride_p, packed);
        return;
    }
    if (x_stride_p != 1) {
        pack_k_contiguous(nr, k, np, x, x_stride_p, packed);
        return;
    }
    __mmask16 mask[4];
    for (size_t v = 0; v < nr / 16; v++) {
        size_t left = np > 16 * v ? QS_MIN(np - 16 * v, (size_t)16) : 0;
        mask[v] = (__mmask16)((1u << left) - 1);
    }
    uint8_t *o = packed;
    for (size_t g = 0; g < QS_MAX(k, (size_t)1); g += 4) {
        const uint8_t *r0 = x + g * x_stride_k;
        // Rows past k read nothing (empty mask) and pack as zeros.
        __mmask16 live[4];
        for (size_t i = 0; i < 4; i++) live[i] = g + i < k ? 0xffff : 0;
        for (size_t v = 0; v < nr / 16; v++, o += 64) {
            const uint8_t *p = r0 + 16 * v;
            __m128i a = _mm_maskz_loadu_epi8(mask[v] & live[0], p);
            __m128i b = _mm_maskz_loadu_epi8(mask[v] & live[1], p + x_stride_k);
            __m128i c = _mm_maskz_loadu_epi8(mask[v] & live[2], p + 2 * x_stride_k);
            __m128i d = _mm_maskz_loadu_epi8(mask[v] & live[3], p + 3 * x_stride_k);
            __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
            __m128i cd0 = _mm_unpacklo_epi8(c, d), cd1 = _mm_unpackhi_epi8(c, d);
            _mm_store_si128((__m128i *)o, _mm_unpacklo_epi16(ab0, cd0));
            _mm_store_si128((__m128i *)(o + 16), _mm_unpackhi_epi16(ab0, cd0));
            _mm_store_si128((__m128i *)(o + 32), _mm_unpacklo_epi16(ab1, cd1));
            _mm_store_si128((__m128i *)(o + 48), _mm_unpackhi_epi16(ab1, cd1));
        }
    }
}
