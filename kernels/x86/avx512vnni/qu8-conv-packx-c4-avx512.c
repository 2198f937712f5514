// Activation packer of the AVX-512 VNNI GEMMs for implicit-GEMM convolutions: the c4 byte
// layout (x_bias 0) of qs_qu8_gemm_packx_c4__avx512, read straight from the NCHW image.
// Per tap and 16-pixel vector the panel knows which pixels lie inside the image (a mask);
// in panels whose pixels read runs of step 1 or 2, every row of 16 pixels is one masked
// load (step 2: a 32-byte load whose even bytes vpmovwb keeps) and a blend with the zero
// point. Masked-off lanes are never read, so loads may start before or end past the plane.
// Other panels (strided convolutions whose panel wraps an output row) and the last group
// of rows when K % 4 != 0 go through the portable packer's per-byte logic.
#include "kernels/qgemm-ukernel.h"

#include <immintrin.h>

#define QS_INLINE static inline __attribute__((always_inline))

// Bits 0..15 of m to the even bits of a 32-bit mask.
static inline uint32_t spread_even(uint32_t m) {
    m = (m | m << 8) & 0x00ff00ffu;
    m = (m | m << 4) & 0x0f0f0f0fu;
    m = (m | m << 2) & 0x33333333u;
    return (m | m << 1) & 0x55555555u;
}

struct vec_masks {
    __mmask16 m16[QS_QCONV_MAX_TAPS];
    __mmask32 m32[QS_QCONV_MAX_TAPS];
};

// fill is the zero point, sign-flipped back for int8 input (the flip applies to every lane).
QS_INLINE __m128i load_row(int step, bool flip, const uint8_t *src, const struct vec_masks *vm,
                           int32_t tap, __m128i fill) {
    const __mmask16 m = vm->m16[tap];
    __m128i raw;
    if (step == 1) {
        raw = _mm_mask_loadu_epi8(fill, m, src);  // padding lanes keep the zero point
    } else {
        raw = _mm256_cvtepi16_epi8(_mm256_maskz_loadu_epi8(vm->m32[tap], src));
        raw = _mm_mask_mov_epi8(fill, m, raw);
    }
    return flip ? _mm_xor_si128(raw, _mm_set1_epi8((char)0x80)) : raw;
}

// Groups [0, full) of 4 live rows, every pixel vector.
QS_INLINE void pack_runs(int step, bool flip, const struct qs_qconv_panel *cp, size_t nv,
                         const struct vec_masks *vm, size_t full, uint8_t *o) {
    const __m128i zpv = _mm_set1_epi8((char)(cp->x_zp ^ (flip ? 0x80 : 0)));
    const uint8_t *base[4];
    for (size_t v = 0; v < nv; v++)  // pixel vectors without a pixel read nothing (masks 0)
        base[v] = (const uint8_t *)((uintptr_t)cp->x +
                                    (uintptr_t)(intptr_t)(16 * v < cp->np ? cp->pix[16 * v] : 0));
    const struct qs_qconv_row *row = cp->rows;
    for (size_t g = 0; g < full; g++, row += 4) {
        for (size_t v = 0; v < nv; v++, o += 64) {
            const uint8_t *b = base[v];
            // uintptr_t arithmetic: the start of a run may lie before the buffer.
#define SRC(i) ((const uint8_t *)((uintptr_t)b + (uintptr_t)(intptr_t)row[i].off))
            __m128i r0 = load_row(step, flip, SRC(0), &vm[v], row[0].tap, zpv);
            __m128i r1 = load_row(step, flip, SRC(1), &vm[v], row[1].tap, zpv);
            __m128i r2 = load_row(step, flip, SRC(2), &vm[v], row[2].tap, zpv);
            __m128i r3 = load_row(step, flip, SRC(3), &vm[v], row[3].tap, zpv);
#undef SRC
            __m128i a0 = _mm_unpacklo_epi8(r0, r1), a1 = _mm_unpackhi_epi8(r0, r1);
            __m128i b0 = _mm_unpacklo_epi8(r2, r3), b1 = _mm_unpackhi_epi8(r2, r3);
            _mm_store_si128((__m128i *)o, _mm_unpacklo_epi16(a0, b0));
            _mm_store_si128((__m128i *)(o + 16), _mm_unpackhi_epi16(a0, b0));
            _mm_store_si128((__m128i *)(o + 32), _mm_unpacklo_epi16(a1, b1));
            _mm_store_si128((__m128i *)(o + 48), _mm_unpackhi_epi16(a1, b1));
        }
    }
}

// Groups [g0, kc/4) element by element (the portable packer's rule).
static void pack_bytes(const struct qs_qconv_panel *cp, size_t nr, size_t g0, size_t kc,
                       uint8_t *packed) {
    for (size_t kk = 4 * g0; kk < kc; kk++) {
        const bool live = kk < cp->k;
        const uint8_t *xr = live ? cp->x + cp->rows[kk].off : cp->x;
        const uint64_t valid = live ? cp->valid[cp->rows[kk].tap] : 0;
        for (size_t j = 0; j < nr; j++) {
            uint8_t v = 0;
            if (live && j < cp->np)
                v = (valid >> j) & 1 ? (uint8_t)(xr[cp->pix[j]] ^ cp->flip) : cp->x_zp;
            packed[(kk / 4) * nr * 4 + j * 4 + kk % 4] = v;
        }
    }
}

void qs_qu8_conv_packx_c4__avx512(const struct qs_qgemm_config *cfg,
                                  const struct qs_qconv_panel *cp, void *packed) {
    const size_t nr = cfg->nr, nv = nr / 16;
    if (nr % 16 || nr > 64 || cfg->kr != 4 || cfg->x_elem != 1 || cfg->x_bias) {
        qs__qconv_packx_generic(cfg, cp, packed);
        return;
    }
    const size_t kc = QS_MAX(qs__qgemm_round_up(cp->k, 4), (size_t)4);
    const size_t full = cp->step ? cp->k / 4 : 0;
    if (full) {
        struct vec_masks vm[4];
        for (size_t v = 0; v < nv; v++)
            for (size_t t = 0; t < cp->taps; t++) {
                vm[v].m16[t] = (__mmask16)(cp->valid[t] >> (16 * v));
                if (cp->step == 2) vm[v].m32[t] = (__mmask32)spread_even(vm[v].m16[t]);
            }
        uint8_t *o = packed;
        if (cp->step == 1 && !cp->flip) pack_runs(1, false, cp, nv, vm, full, o);
        else if (cp->step == 1) pack_runs(1, true, cp, nv, vm, full, o);
        else if (!cp->flip) pack_runs(2, false, cp, nv, vm, full, o);
        else pack_runs(2, true, cp, nv, vm, full, o);
    }
    pack_bytes(cp, nr, full, kc, packed);
}
