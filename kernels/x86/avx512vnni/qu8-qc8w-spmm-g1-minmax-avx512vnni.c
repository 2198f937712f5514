// AVX-512 VNNI int8 SpMM, one output row per group: the row's entries come in quads (packed
// so, zero-weight padding), and for each quad the four X rows (64 columns, uint8) are
// interleaved bytewise into dwords (x[k0][n], x[k1][n], x[k2][n], x[k3][n]) with two rounds
// of unpacks, so one vpdpbusd against the broadcast quad of weights adds four exact
// products per column (u8 x s8, no saturation). The unpacks leave lane L of accumulator j
// holding columns 16L + 4j .. 4j+3; a 4x4 transpose of 128-bit lanes restores the order
// before the vector epilogue (qgemm's: clamp the float product to [qmin - zp, qmax - zp],
// round to nearest even, add the zero point). The last tile is masked.
#include "kernels/ref/spmm-impl.h"

#include <immintrin.h>
#include <string.h>

static inline void store16(__m512i acc, size_t row, __mmask16 mask, void *dst,
                           const struct qs_qgemm_ukernel_params *p) {
    switch (p->out_type) {
    case QS_QOUT_U8:
    case QS_QOUT_S8: {
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(p->scale[row]));
        f = _mm512_min_ps(_mm512_max_ps(f, _mm512_set1_ps(p->qmin_f)), _mm512_set1_ps(p->qmax_f));
        __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), _mm512_set1_epi32(p->out_zp));
        _mm512_mask_cvtepi32_storeu_epi8(dst, mask, q);
        break;
    }
    case QS_QOUT_F32: {
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(p->scale[row]));
        f = _mm512_add_ps(f, _mm512_set1_ps(p->fbias[row]));
        f = _mm512_max_ps(_mm512_set1_ps(p->fmin), f);
        f = _mm512_min_ps(_mm512_set1_ps(p->fmax), f);
        _mm512_mask_storeu_ps(dst, mask, f);
        break;
    }
    case QS_QOUT_S32:
        _mm512_mask_storeu_epi32(dst, mask, acc);
        break;
    }
}

void qs_qu8_qc8w_spmm_minmax_ukernel_g1__avx512vnni(const struct qs_spmm_q8_call *call,
                                                   size_t g0, size_t g1, size_t n0,
                                                   size_t n1) {
    const qs_spmm_weights *w = call->w;
    const size_t es = qs__qout_size(call->p.out_type), ldx = call->ldx;
    for (size_t j = n0; j < n1; j += 64) {
        const size_t nr = QS_MIN((size_t)64, n1 - j);
        const __mmask64 km = nr == 64 ? ~(__mmask64)0 : (((__mmask64)1 << nr) - 1);
        const uint8_t *x = call->x + j;
        for (size_t i = g0; i < g1; i++) {
            const uint32_t *col = w->col + w->ptr[i];
            const int8_t *v = w->vq + w->ptr[i];
            const size_t cnt = w->ptr[i + 1] - w->ptr[i];
            __m512i a0 = _mm512_set1_epi32(call->p.init[i]), a1 = a0, a2 = a0, a3 = a0;
            for (size_t e = 0; e < cnt; e += 4) {
                const __m512i r0 = _mm512_maskz_loadu_epi8(km, x + (size_t)col[e] * ldx);
                const __m512i r1 = _mm512_maskz_loadu_epi8(km, x + (size_t)col[e + 1] * ldx);
                const __m512i r2 = _mm512_maskz_loadu_epi8(km, x + (size_t)col[e + 2] * ldx);
                const __m512i r3 = _mm512_maskz_loadu_epi8(km, x + (size_t)col[e + 3] * ldx);
                int32_t quad;
                memcpy(&quad, v + e, 4);
                const __m512i wv = _mm512_set1_epi32(quad);
                const __m512i t0 = _mm512_unpacklo_epi8(r0, r1), t1 = _mm512_unpackhi_epi8(r0, r1);
                const __m512i t2 = _mm512_unpacklo_epi8(r2, r3), t3 = _mm512_unpackhi_epi8(r2, r3);
                a0 = _mm512_dpbusd_epi32(a0, _mm512_unpacklo_epi16(t0, t2), wv);
                a1 = _mm512_dpbusd_epi32(a1, _mm512_unpackhi_epi16(t0, t2), wv);
                a2 = _mm512_dpbusd_epi32(a2, _mm512_unpacklo_epi16(t1, t3), wv);
                a3 = _mm512_dpbusd_epi32(a3, _mm512_unpackhi_epi16(t1, t3), wv);
            }
            const __m512i u0 = _mm512_shuffle_i32x4(a0, a1, 0x44);
            const __m512i u1 = _mm512_shuffle_i32x4(a2, a3, 0x44);
            const __m512i u2 = _mm512_shuffle_i32x4(a0, a1, 0xEE);
            const __m512i u3 = _mm512_shuffle_i32x4(a2, a3, 0xEE);
            const __m512i o[4] = {_mm512_shuffle_i32x4(u0, u1, 0x88),
                                  _mm512_shuffle_i32x4(u0, u1, 0xDD),
                                  _mm512_shuffle_i32x4(u2, u3, 0x88),
                                  _mm512_shuffle_i32x4(u2, u3, 0xDD)};
            char *dst = (char *)call->c + (i * call->ldc + j) * es;
            for (size_t l = 0; l < 4 && 16 * l < nr; l++) {
                size_t cnt_l = QS_MIN((size_t)16, nr - 16 * l);
                __mmask16 m16 = cnt_l == 16 ? 0xFFFF : (__mmask16)((1u << cnt_l) - 1);
                store16(o[l], i, m16, dst + 16 * l * es, &call->p);
            }
        }
    }
}
