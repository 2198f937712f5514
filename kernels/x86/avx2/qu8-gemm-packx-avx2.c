// Activation packers for the AVX2-class integer GEMMs (any NR that is a multiple of 8):
// c4 bytes (x_bias 0, or 128: x ^ 0x80) for vpdpbusd and sign-trick kernels, c2 int16 (x_bias 0) for vpmaddwd kernels.
// Rows of X contiguous in p (x_stride_p == 1, the im2col / NCHW case) interleave 4 or 2 rows
// with unpack instructions; pixels contiguous in k (x_stride_k == 1, a fully connected
// layer's row-major input) go through 8x8 dword transposes; other layouts go to the
// portable packer.
#include "kernels/qgemm-ukernel.h"

#include <immintrin.h>
#include <string.h>

// Row k of the panel, or zeros past K; a partial panel is copied into `tmp` (zero-padded).
static const uint8_t *row_at(const uint8_t *x, size_t k, size_t kk, size_t sk, size_t np,
                             size_t nr, uint8_t *tmp, const uint8_t *zeros) {
    if (kk >= k) return zeros;
    if (np == nr) return x + kk * sk;
    memcpy(tmp, x + kk * sk, np);
    return tmp;
}

// 8 rows of 8 dwords to 8 columns (r[c] = old column c).
static inline void transpose_8x8(__m256i r[8]) {
    __m256i t[8], u[8];
    for (size_t a = 0; a < 4; a++) {
        t[2 * a] = _mm256_unpacklo_epi32(r[2 * a], r[2 * a + 1]);
        t[2 * a + 1] = _mm256_unpackhi_epi32(r[2 * a], r[2 * a + 1]);
    }
    // u[4b + q] lane L: rows 4b..4b+3 of column 4L + q.
    for (size_t b = 0; b < 2; b++) {
        u[4 * b] = _mm256_unpacklo_epi64(t[4 * b], t[4 * b + 2]);
        u[4 * b + 1] = _mm256_unpackhi_epi64(t[4 * b], t[4 * b + 2]);
        u[4 * b + 2] = _mm256_unpacklo_epi64(t[4 * b + 1], t[4 * b + 3]);
        u[4 * b + 3] = _mm256_unpackhi_epi64(t[4 * b + 1], t[4 * b + 3]);
    }
    for (size_t q = 0; q < 4; q++) {
        r[q] = _mm256_permute2x128_si256(u[q], u[4 + q], 0x20);
        r[4 + q] = _mm256_permute2x128_si256(u[q], u[4 + q], 0x31);
    }
}

// X[k][j] at x[k + j * x_stride_p]: 8 groups of 8 pixels per transpose. A group is 4 bytes
// (c4) or 2 bytes widened to two int16 (c2); past k and np everything packs as 0.
static void pack_k_contiguous(size_t nr, size_t kr, size_t k, size_t np, const uint8_t *x,
                              size_t x_stride_p, uint8_t *o) {
    size_t groups = (QS_MAX(k, (size_t)1) + kr - 1) / kr, span = 8 * kr;  // k bytes per block
    for (size_t g0 = 0; g0 < groups; g0 += 8) {
        size_t left = k > g0 * kr ? k - g0 * kr : 0, ng = QS_MIN((size_t)8, groups - g0);
        for (size_t v = 0; v < nr / 8; v++) {
            __m256i r[8];
            for (size_t j = 0; j < 8; j++) {
                size_t pj = 8 * v + j;
                const uint8_t *src = x + pj * x_stride_p + g0 * kr;
                uint8_t tmp[32] = {0};
                if (pj >= np) {
                    r[j] = _mm256_setzero_si256();
                    continue;
                }
                if (left < span) {
                    memcpy(tmp, src, left);
                    src = tmp;
                }
                r[j] = kr == 4 ? _mm256_loadu_si256((const __m256i *)src)
                               : _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)src));
            }
            transpose_8x8(r);
            for (size_t g = 0; g < ng; g++)
                _mm256_store_si256((__m256i *)(o + (g0 + g) * nr * 4 + 32 * v), r[g]);
        }
    }
}

void qs_qu8_gemm_packx_c4__avx2(const struct qs_qgemm_config *cfg, size_t k, size_t np,
                                const uint8_t *x, size_t x_stride_k, size_t x_stride_p,
                                void *packed) {
    size_t nr = cfg->nr;
    if (nr % 8 || nr > 64 || cfg->kr != 4 || cfg->x_elem != 1 ||
        (cfg->x_bias != 0 && cfg->x_bias != 128) || (x_stride_p != 1 && x_stride_k != 1) ||
        (x_stride_p != 1 && cfg->x_bias)) {
        qs__qgemm_packx_generic(cfg, k, np, x, x_stride_k, x_stride_p, packed);
        return;
    }
    if (x_stride_p != 1) {
        pack_k_contiguous(nr, 4, k, np, x, x_stride_p, packed);
        return;
    }
    // x - 128 as int8 is x ^ 0x80; rows past k must pack as 0 after the flip, so they read
    // 0x80 before it.
    const uint8_t pad = cfg->x_bias ? 0x80 : 0;
    const __m128i flip = _mm_set1_epi8((char)pad);
    uint8_t zeros[64], tmp[4][64];
    memset(zeros, pad, sizeof zeros);
    memset(tmp, 0, sizeof tmp);
    uint8_t *o = packed;
    // Whole groups up to kc (at least one group, also for k == 0), zeros past k.
    for (size_t g = 0; g < QS_MAX(k, (size_t)1); g += 4) {
        const uint8_t *r[4];
        for (size_t i = 0; i < 4; i++) r[i] = row_at(x, k, g + i, x_stride_k, np, nr, tmp[i], zeros);
        size_t j = 0;
        for (; j + 16 <= nr; j += 16, o += 64) {
            __m128i r0 = _mm_loadu_si128((const __m128i *)(r[0] + j));
            __m128i r1 = _mm_loadu_si128((const __m128i *)(r[1] + j));
            __m128i r2 = _mm_loadu_si128((const __m128i *)(r[2] + j));
            __m128i r3 = _mm_loadu_si128((const __m128i *)(r[3] + j));
            __m128i a0 = _mm_unpacklo_epi8(r0, r1), a1 = _mm_unpackhi_epi8(r0, r1);
            __m128i b0 = _mm_unpacklo_epi8(r2, r3), b1 = _mm_unpackhi_epi8(r2, r3);
            _mm_storeu_si128((__m128i *)o, _mm_xor_si128(_mm_unpacklo_epi16(a0, b0), flip));
            _mm_storeu_si128((__m128i *)(o + 16), _mm_xor_si128(_mm_unpackhi_epi16(a0, b0), flip));
            _mm_storeu_si128((__m128i *)(o + 32), _mm_xor_si128(_mm_unpacklo_epi16(a1, b1), flip));
            _mm_storeu_si128((__m128i *)(o + 48), _mm_xor_si128(_mm_unpackhi_epi16(a1, b1), flip));
        }
        if (j < nr) {
            __m128i r0 = _mm_loadl_epi64((const __m128i *)(r[0] + j));
            __m128i r1 = _mm_loadl_epi64((const __m128i *)(r[1] + j));
            __m128i r2 = _mm_loadl_epi64((const __m128i *)(r[2] + j));
            __m128i r3 = _mm_loadl_epi64((const __m128i *)(r[3] + j));
            __m128i a0 = _mm_unpacklo_epi8(r0, r1), b0 = _mm_unpacklo_epi8(r2, r3);
            _mm_storeu_si128((__m128i *)o, _mm_xor_si128(_mm_unpacklo_epi16(a0, b0), flip));
            _mm_storeu_si128((__m128i *)(o + 16), _mm_xor_si128(_mm_unpackhi_epi16(a0, b0), flip));
            o += 32;
        }
    }
}

void qs_qu8_gemm_packx_c2__avx2(const struct qs_qgemm_config *cfg, size_t k, size_t np,
                                const uint8_t *x, size_t x_stride_k, size_t x_stride_p,
                                void *packed) {
    size_t nr = cfg->nr;
    if (nr % 8 || nr > 64 || cfg->kr != 2 || cfg->x_elem != 2 || cfg->x_bias ||
        (x_stride_p != 1 && x_stride_k != 1)) {
        qs__qgemm_packx_generic(cfg, k, np, x, x_stride_k, x_stride_p, packed);
        return;
    }
    if (x_stride_p != 1) {
        pack_k_contiguous(nr, 2, k, np, x, x_stride_p, packed);
        return;
    }
    uint8_t zeros[64] = {0}, tmp[2][64] = {{0}};
    uint8_t *o = packed;
    for (size_t g = 0; g < QS_MAX(k, (size_t)1); g += 2) {
        const uint8_t *r0 = row_at(x, k, g, x_stride_k, np, nr, tmp[0], zeros);
        const uint8_t *r1 = row_at(x, k, g + 1, x_stride_k, np, nr, tmp[1], zeros);
        size_t j = 0;
        for (; j + 16 <= nr; j += 16, o += 64) {
            __m128i a = _mm_loadu_si128((const __m128i *)(r0 + j));
            __m128i b = _mm_loadu_si128((const __m128i *)(r1 + j));
            _mm256_storeu_si256((__m256i *)o, _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(a, b)));
            _mm256_storeu_si256((__m256i *)(o + 32), _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(a, b)));
        }
        if (j < nr) {
            __m128i a = _mm_loadl_epi64((const __m128i *)(r0 + j));
            __m128i b = _mm_loadl_epi64((const __m128i *)(r1 + j));
            _mm256_storeu_si256((__m256i *)o, _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(a, b)));
            o += 32;
        }
    }
}
