// Private to kernels/x86: the 256-bit integer GEMM tile, templated on MR (channels), NRV
// (8-pixel vectors) and KR, instantiated by the AVX2 (vpmaddwd on int16, KR 2) and AVX-VNNI
// (vpdpbusd ymm on bytes, KR 4) files. The includer defines QS_YMM_XPREP(x), an operand
// derived once per loaded activation vector (or x itself), and QS_YMM_DOT(acc, x, xp, w),
// the exact dot-product-accumulate of one packed group.
//
// The epilogue reproduces qs_requant_fp32 in float (integer bounds applied before
// cvtps2dq, which rounds half to even, give the same result as after it). Full tiles with
// contiguous rows store vectors; partial tiles and other layouts go through
// qs__qgemm_store_tile.
#pragma once

#include "kernels/qgemm-ukernel.h"

#include <immintrin.h>
#include <string.h>

#define QS_INLINE static inline __attribute__((always_inline))

QS_INLINE __m256i requant_ymm(__m256i acc, __m256 scale, __m256 lo, __m256 hi, __m256i zp) {
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), scale);
    f = _mm256_min_ps(_mm256_max_ps(f, lo), hi);  // max(f, lo) maps NaN to lo
    return _mm256_add_epi32(_mm256_cvtps_epi32(f), zp);
}

// Stores 8*nrv requantized bytes of one row (nrv <= 4).
QS_INLINE void store_bytes_ymm(char *row, const __m256i *q, size_t nrv, bool is_signed) {
    __m256i q3 = nrv > 3 ? q[3] : q[nrv - 1];
    __m256i a = _mm256_packs_epi32(q[0], nrv > 1 ? q[1] : q[0]);
    __m256i b = _mm256_packs_epi32(nrv > 2 ? q[2] : q[0], q3);
    __m256i bytes = is_signed ? _mm256_packs_epi16(a, b) : _mm256_packus_epi16(a, b);
    bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    if (nrv == 4) {
        _mm256_storeu_si256((__m256i *)row, bytes);
    } else if (nrv == 3) {
        _mm_storeu_si128((__m128i *)row, _mm256_castsi256_si128(bytes));
        _mm_storel_epi64((__m128i *)(row + 16), _mm256_extracti128_si256(bytes, 1));
    } else if (nrv == 2) {
        _mm_storeu_si128((__m128i *)row, _mm256_castsi256_si128(bytes));
    } else {
        _mm_storel_epi64((__m128i *)row, _mm256_castsi256_si128(bytes));
    }
}

// The epilogue of a 4-channel tile into an output whose channels are contiguous (a fully
// connected layer's C[p][n]): per 8 pixels, the 4 channels' bytes merge into one dword per
// pixel, or 4 x 8 dwords transpose into one 16-byte store per pixel.
QS_INLINE void store_tile_transposed_4(const __m256i acc[4][4], size_t nrv, size_t nr, void *c,
                                       size_t c_stride_p,
                                       const struct qs_qgemm_ukernel_params *p) {
    for (size_t v = 0; v < nrv; v++) {
        size_t n8 = QS_MIN((size_t)8, nr - 8 * v);
        char *dst = (char *)c + 8 * v * c_stride_p;
        if (p->out_type == QS_QOUT_U8 || p->out_type == QS_QOUT_S8) {
            const __m256 lo = _mm256_set1_ps(p->qmin_f), hi = _mm256_set1_ps(p->qmax_f);
            const __m256i zp = _mm256_set1_epi32(p->out_zp), byte = _mm256_set1_epi32(0xff);
            __m256i word = _mm256_setzero_si256();
            for (size_t m = 0; m < 4; m++) {
                __m256i q = requant_ymm(acc[m][v], _mm256_set1_ps(p->scale[m]), lo, hi, zp);
                q = _mm256_slli_epi32(_mm256_and_si256(q, byte), (int)(8 * m));
                word = _mm256_or_si256(word, q);
            }
            uint32_t words[8];
            _mm256_storeu_si256((__m256i *)words, word);
            for (size_t j = 0; j < n8; j++) memcpy(dst + j * c_stride_p, &words[j], 4);
            continue;
        }
        __m256i r[4];
        for (size_t m = 0; m < 4; m++) {
            if (p->out_type == QS_QOUT_S32) {
                r[m] = acc[m][v];
                continue;
            }
            __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[m][v]), _mm256_set1_ps(p->scale[m]));
            f = _mm256_add_ps(f, _mm256_set1_ps(p->fbias[m]));
            f = _mm256_min_ps(_mm256_set1_ps(p->fmax), _mm256_max_ps(_mm256_set1_ps(p->fmin), f));
            r[m] = _mm256_castps_si256(f);
        }
        __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
        __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
        // u[q] holds pixel q in its low half and pixel q + 4 in its high half.
        __m256i u[4] = {_mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2),
                        _mm256_unpacklo_epi64(t1, t3), _mm256_unpackhi_epi64(t1, t3)};
        for (size_t j = 0; j < n8; j++) {
            __m128i h = j < 4 ? _mm256_castsi256_si128(u[j]) : _mm256_extracti128_si256(u[j - 4], 1);
            _mm_storeu_si128((__m128i *)(dst + j * c_stride_p), h);
        }
    }
}

// NRV vectors of a panel NRP vectors wide are computed (NRV < NRP for narrow last panels).
QS_INLINE void gemm_tile_ymm(size_t MR, size_t NRV, size_t NRP, size_t KR, size_t mr, size_t nr,
                             size_t kc, const void *w, const void *x, void *c, size_t c_stride_n,
                             size_t c_stride_p, const struct qs_qgemm_ukernel_params *p) {
    // Fixed-size arrays indexed by constants after unrolling: GCC keeps them in registers.
    __m256i acc[8][4];
#pragma GCC unroll 8
    for (size_t m = 0; m < MR; m++) {
        __m256i v = _mm256_set1_epi32(p->init[m]);
#pragma GCC unroll 4
        for (size_t v2 = 0; v2 < NRV; v2++) acc[m][v2] = v;
    }
    const int32_t *pw = w;  // one 32-bit group (KR weights) per channel and step
    const __m256i *px = x;
    for (size_t g = 0; g < kc; g += KR) {
        __m256i xv[4], xa[4];
        (void)xa;
#pragma GCC unroll 4
        for (size_t v = 0; v < NRV; v++) {
            xv[v] = _mm256_load_si256(px + v);
            xa[v] = QS_YMM_XPREP(xv[v]);
        }
#pragma GCC unroll 8
        for (size_t m = 0; m < MR; m++) {
            __m256i wb = _mm256_set1_epi32(pw[m]);
#pragma GCC unroll 4
            for (size_t v = 0; v < NRV; v++) QS_YMM_DOT(acc[m][v], xv[v], xa[v], wb);
        }
        pw += MR;
        px += NRP;
    }
    size_t es = qs__qout_size(p->out_type);
    if (nr == 8 * NRV && c_stride_p == es) {
        const __m256 lo = _mm256_set1_ps(p->qmin_f), hi = _mm256_set1_ps(p->qmax_f);
        const __m256i zp = _mm256_set1_epi32(p->out_zp);
#pragma GCC unroll 8
        for (size_t m = 0; m < MR; m++) {
            if (m >= mr) break;
            char *row = (char *)c + m * c_stride_n;
            switch (p->out_type) {
            case QS_QOUT_U8:
            case QS_QOUT_S8: {
                __m256i q[4];
                const __m256 scale = _mm256_set1_ps(p->scale[m]);
#pragma GCC unroll 4
                for (size_t v = 0; v < NRV; v++) q[v] = requant_ymm(acc[m][v], scale, lo, hi, zp);
                store_bytes_ymm(row, q, NRV, p->out_type == QS_QOUT_S8);
                break;
            }
            case QS_QOUT_F32: {
                const __m256 scale = _mm256_set1_ps(p->scale[m]);
                const __m256 fb = _mm256_set1_ps(p->fbias[m]);
                const __m256 fmin = _mm256_set1_ps(p->fmin), fmax = _mm256_set1_ps(p->fmax);
#pragma GCC unroll 4
                for (size_t v = 0; v < NRV; v++) {
                    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[m][v]), scale);
                    f = _mm256_add_ps(f, fb);
                    // (lo > f ? lo : f) then (hi < f ? hi : f): the scalar order and ties.
                    f = _mm256_min_ps(fmax, _mm256_max_ps(fmin, f));
                    _mm256_storeu_ps((float *)row + 8 * v, f);
                }
                break;
            }
            case QS_QOUT_S32:
#pragma GCC unroll 4
                for (size_t v = 0; v < NRV; v++) _mm256_storeu_si256((__m256i *)row + v, acc[m][v]);
                break;
            }
        }
        return;
    }
    if (MR == 4 && mr == 4 && c_stride_n == es) {
        // A copy: taking the address of acc itself would keep it in memory in the loop.
        __m256i rows[4][4];
#pragma GCC unroll 4
        for (size_t m = 0; m < 4; m++)
#pragma GCC unroll 4
            for (size_t v = 0; v < NRV; v++) rows[m][v] = acc[m][v];
        store_tile_transposed_4(rows, NRV, nr, c, c_stride_p, p);
        return;
    }
    int32_t tile[8][32];
#pragma GCC unroll 8
    for (size_t m = 0; m < MR; m++)
#pragma GCC unroll 4
        for (size_t v = 0; v < NRV; v++) _mm256_storeu_si256((__m256i *)&tile[m][8 * v], acc[m][v]);
    qs__qgemm_store_tile(mr, nr, &tile[0][0], 32, c, c_stride_n, c_stride_p, p);
}
