// AVX2 int8 SpMM, one output row per group: exact u8 x s8 products through int16
// (vpmovzxbw, then vpmaddwd on the X rows of two consecutive non-zeros interleaved, with the
// two weights as one broadcast int16 pair), int32 accumulators over the row, 16 columns per
// tile. vpmaddubsw is avoided: it saturates (255 x -128 x 2). Tail columns and the epilogue
// are the scalar ones (on CPUs with AVX-512 VNNI the VNNI kernel runs instead).
#include "kernels/ref/spmm-impl.h"

#include <immintrin.h>
#include <string.h>

void qs_qu8_qc8w_spmm_minmax_ukernel_g1__avx2(const struct qs_spmm_q8_call *call, size_t g0,
                                             size_t g1, size_t n0, size_t n1) {
    const qs_spmm_weights *w = call->w;
    const size_t es = qs__qout_size(call->p.out_type), ldx = call->ldx;
    int32_t acc[16];
    size_t j = n0;
    for (; j + 16 <= n1; j += 16) {
        const uint8_t *x = call->x + j;
        for (size_t i = g0; i < g1; i++) {
            const uint32_t *col = w->col + w->ptr[i];
            const int8_t *v = w->vq + w->ptr[i];
            const size_t cnt = w->ptr[i + 1] - w->ptr[i];
            __m256i lo = _mm256_set1_epi32(call->p.init[i]), hi = lo;
            for (size_t e = 0; e < cnt; e += 2) {
                const __m256i x0 = _mm256_cvtepu8_epi16(
                    _mm_loadu_si128((const __m128i *)(x + (size_t)col[e] * ldx)));
                const __m256i x1 = _mm256_cvtepu8_epi16(
                    _mm_loadu_si128((const __m128i *)(x + (size_t)col[e + 1] * ldx)));
                const uint32_t pair = (uint32_t)(uint16_t)(int16_t)v[e] |
                                      (uint32_t)(uint16_t)(int16_t)v[e + 1] << 16;
                const __m256i wv = _mm256_set1_epi32((int32_t)pair);
                lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, x1), wv));
                hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, x1), wv));
            }
            _mm256_storeu_si256((__m256i *)acc, _mm256_permute2x128_si256(lo, hi, 0x20));
            _mm256_storeu_si256((__m256i *)(acc + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
            qs__spmm_q8_store_row(16, acc, i, (char *)call->c + (i * call->ldc + j) * es, &call->p);
        }
    }
    if (j < n1) qs_qu8_qc8w_spmm_minmax_ukernel_g1__scalar(call, g0, g1, j, n1);
}
