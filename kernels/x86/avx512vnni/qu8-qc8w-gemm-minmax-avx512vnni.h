// Private to kernels/x86/avx512vnni: the AVX-512 VNNI GEMM tile, templated on MR (channels)
// and NRV (16-pixel vectors), instantiated by the qu8-qc8w-gemm-*-avx512vnni.c files.
//
// Per group of 4 k: NRV vectors of packed activations (16 pixels x 4 uint8 each) are loaded
// once, every channel's 4 weights are broadcast, and vpdpbusd (u8 x s8 -> s32, exact)
// accumulates. The epilogue converts, scales, clamps and rounds in float exactly as
// qs_requant_fp32 (clamping before the conversion with integer bounds gives the same
// result as clamping after it; cvtps2dq rounds half to even) and stores with masks.
#pragma once

#include "kernels/qgemm-ukernel.h"

#include <immintrin.h>

#define QS_INLINE static inline __attribute__((always_inline))

QS_INLINE void store_row_avx512(__m512i acc, size_t m, char *row, __mmask16 mask,
                                const struct qs_qgemm_ukernel_params *p) {
    switch (p->out_type) {
    case QS_QOUT_U8:
    case QS_QOUT_S8: {
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(p->scale[m]));
        // max(f, lo) keeps lo for NaN, like the saturation in qs_requant_fp32.
        f = _mm512_min_ps(_mm512_max_ps(f, _mm512_set1_ps(p->qmin_f)), _mm512_set1_ps(p->qmax_f));
        __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), _mm512_set1_epi32(p->out_zp));
        _mm_mask_storeu_epi8(row, mask, _mm512_cvtepi32_epi8(q));
        break;
    }
    case QS_QOUT_F32: {
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(p->scale[m]));
        f = _mm512_add_ps(f, _mm512_set1_ps(p->fbias[m]));
        // (lo > f ? lo : f) then (hi < f ? hi : f): the scalar epilogue's order and ties.
        f = _mm512_min_ps(_mm512_set1_ps(p->fmax), _mm512_max_ps(_mm512_set1_ps(p->fmin), f));
        _mm512_mask_storeu_ps(row, mask, f);
        break;
    }
    case QS_QOUT_S32:
        _mm512_mask_storeu_epi32(row, mask, acc);
        break;
    }
}

// Rows 4b..4b+3 of a channels x pixels tile (16 dword lanes each) to 16 pixel-major pieces:
// lane L of out[q] holds the 4 rows' values of pixel 4L + q.
QS_INLINE void transpose_4x16(const __m512i *r, __m512i *out) {
    __m512i t0 = _mm512_unpacklo_epi32(r[0], r[1]), t1 = _mm512_unpackhi_epi32(r[0], r[1]);
    __m512i t2 = _mm512_unpacklo_epi32(r[2], r[3]), t3 = _mm512_unpackhi_epi32(r[2], r[3]);
    out[0] = _mm512_unpacklo_epi64(t0, t2);
    out[1] = _mm512_unpackhi_epi64(t0, t2);
    out[2] = _mm512_unpacklo_epi64(t1, t3);
    out[3] = _mm512_unpackhi_epi64(t1, t3);
}

// The epilogue of a 16 x 16 tile into an output whose channels are contiguous (a fully
// connected layer's C[p][n]): the same arithmetic as store_row_avx512, then 4x16
// transposes so that every pixel gets one (masked) store per 4 channels, or one for all
// 16 channels of a byte output.
QS_INLINE void store_tile_transposed_16x16(const __m512i acc[16], size_t mr, size_t nr, void *c,
                                           size_t c_stride_p,
                                           const struct qs_qgemm_ukernel_params *p) {
    __m512i rows[16];
    switch (p->out_type) {
    case QS_QOUT_U8:
    case QS_QOUT_S8: {
        const __m512 lo = _mm512_set1_ps(p->qmin_f), hi = _mm512_set1_ps(p->qmax_f);
        const __m512i zp = _mm512_set1_epi32(p->out_zp), byte = _mm512_set1_epi32(0xff);
        // Four channels' bytes per dword: rows[b] lane j = channels 4b..4b+3 of pixel j.
        for (size_t b = 0; b < 4; b++) {
            __m512i word = _mm512_setzero_si512();
            for (size_t i = 0; i < 4; i++) {
                size_t m = 4 * b + i;
                __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[m]), _mm512_set1_ps(p->scale[m]));
                f = _mm512_min_ps(_mm512_max_ps(f, lo), hi);
                __m512i q = _mm512_and_si512(_mm512_add_epi32(_mm512_cvtps_epi32(f), zp), byte);
                word = _mm512_or_si512(word, _mm512_slli_epi32(q, (unsigned)(8 * i)));
            }
            rows[b] = word;
        }
        __m512i t[4];
        transpose_4x16(rows, t);
        const __mmask16 cm = (__mmask16)(mr >= 16 ? 0xffff : (1u << mr) - 1);
        for (size_t j = 0; j < nr; j++) {
            __m128i v = _mm512_extracti32x4_epi32(t[j % 4], 0);
            switch (j / 4) {
            case 1: v = _mm512_extracti32x4_epi32(t[j % 4], 1); break;
            case 2: v = _mm512_extracti32x4_epi32(t[j % 4], 2); break;
            case 3: v = _mm512_extracti32x4_epi32(t[j % 4], 3); break;
            default: break;
            }
            _mm_mask_storeu_epi8((char *)c + j * c_stride_p, cm, v);
        }
        return;
    }
    case QS_QOUT_F32: {
        const __m512 fmin = _mm512_set1_ps(p->fmin), fmax = _mm512_set1_ps(p->fmax);
        for (size_t m = 0; m < 16; m++) {
            __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[m]), _mm512_set1_ps(p->scale[m]));
            f = _mm512_add_ps(f, _mm512_set1_ps(p->fbias[m]));
            f = _mm512_min_ps(fmax, _mm512_max_ps(fmin, f));
            rows[m] = _mm512_castps_si512(f);
        }
        break;
    }
    case QS_QOUT_S32:
        for (size_t m = 0; m < 16; m++) rows[m] = acc[m];
        break;
    }
    // 32-bit outputs: per group of 4 channels, one 16-byte store per pixel.
    for (size_t b = 0; b < 4 && 4 * b < mr; b++) {
        __m512i t[4];
        transpose_4x16(rows + 4 * b, t);
        size_t left = mr - 4 * b;
        const __mmask8 cm = (__mmask8)(left >= 4 ? 0xf : (1u << left) - 1);
        char *col = (char *)c + 16 * b;
        for (size_t j = 0; j < nr; j++) {
            __m128i v = _mm512_extracti32x4_epi32(t[j % 4], 0);
            switch (j / 4) {
            case 1: v = _mm512_extracti32x4_epi32(t[j % 4], 1); break;
            case 2: v = _mm512_extracti32x4_epi32(t[j % 4], 2); break;
            case 3: v = _mm512_extracti32x4_epi32(t[j % 4], 3); break;
            default: break;
            }
            _mm_mask_storeu_epi32(col + j * c_stride_p, cm, v);
        }
    }
}

QS_INLINE void gemm_tile_avx512vnni(size_t MR, size_t NRV, size_t mr, size_t nr, size_t kc,
                                    const void *w, const void *x, void *c, size_t c_stride_n,
                                    size_t c_stride_p, const struct qs_qgemm_ukernel_params *p) {
    // Fixed-size arrays indexed by constants after unrolling: GCC keeps them in registers.
    __m512i acc[16][4];
#pragma GCC unroll 16
    for (size_t m = 0; m < MR; m++) {
        __m512i v = _mm512_set1_epi32(p->init[m]);
#pragma GCC unroll 4
        for (size_t v2 = 0; v2 < NRV; v2++) acc[m][v2] = v;
    }
    const int32_t *pw = w;
    const __m512i *px = x;
    for (size_t g = 0; g < kc; g += 4) {
        __m512i xv[4];
#pragma GCC unroll 4
        for (size_t v = 0; v < NRV; v++) xv[v] = _mm512_load_si512(px + v);
#pragma GCC unroll 16
        for (size_t m = 0; m < MR; m++) {
#pragma GCC unroll 4
            for (size_t v = 0; v < NRV; v++) {
                // The weight group as an embedded broadcast operand ({1to16}): on Zen 4/5 a
                // separate vpbroadcastd costs a vector-pipe slot and the loop runs about
                // 1.5x slower. GCC shares one vpbroadcastd between the vectors, hence asm.
                __asm__("vpdpbusd %[w]%{1to16%}, %[x], %[acc]"
                        : [acc] "+v"(acc[m][v])
                        : [x] "v"(xv[v]), [w] "m"(pw[m]));
            }
        }
        pw += MR;
        px += NRV;
    }
    size_t es = qs__qout_size(p->out_type);
    if (c_stride_p == es) {
#pragma GCC unroll 16
        for (size_t m = 0; m < MR; m++) {
            if (m >= mr) break;
            char *row = (char *)c + m * c_stride_n;
#pragma GCC unroll 4
            for (size_t v = 0; v < NRV; v++) {
                size_t left = nr > 16 * v ? nr - 16 * v : 0;
                if (!left) break;
                __mmask16 mask = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
                store_row_avx512(acc[m][v], m, row + 16 * v * es, mask, p);
            }
        }
        return;
    }
    if (c_stride_n == es && MR == 16 && NRV == 1) {
        // A copy: taking the address of acc itself would keep it in memory in the loop.
        __m512i rows[16];
#pragma GCC unroll 16
        for (size_t m = 0; m < 16; m++) rows[m] = acc[m][0];
        store_tile_transposed_16x16(rows, mr, nr, c, c_stride_p, p);
        return;
    }
    int32_t tile[16][64];
#pragma GCC unroll 16
    for (size_t m = 0; m < MR; m++)
#pragma GCC unroll 4
        for (size_t v = 0; v < NRV; v++) _mm512_storeu_si512(&tile[m][16 * v], acc[m][v]);
    qs__qgemm_store_tile(mr, nr, &tile[0][0], 64, c, c_stride_n, c_stride_p, p);
}
