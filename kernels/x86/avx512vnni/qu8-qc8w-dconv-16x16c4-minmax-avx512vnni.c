// Direct convolution (kernels/qgemm.h, qs__qdconv_run) on AVX-512 VNNI: the tile of 16
// channels x 16 pixels, the 8 x 32 tile that the driver runs over pairs of those where K
// is long enough, and the channel interleave of the image.
//
// The tile does the multiply-adds of qs_qu8_qc8w_gemm_minmax_ukernel_16x16c4 (vpdpbusd
// with the weights as embedded broadcasts), but each group of 4 k is one unaligned 64-byte
// load from the interleaved image at koff[g] (or two 32-byte loads, one per output row, for
// tiles of two rows of 8) instead of a packed panel: nothing is packed per tile. The
// epilogue is the GEMM's (store_row_avx512).
#include "kernels/x86/avx512vnni/qu8-qc8w-gemm-minmax-avx512vnni.h"

void qs_qu8_qc8w_dconv_minmax_ukernel_16x16c4__avx512vnni(
    size_t mr, size_t nr, size_t kc, const void *w, const uint8_t *x, const int32_t *koff,
    size_t x_row, void *c, size_t c_stride_n, size_t c_stride_p,
    const struct qs_qgemm_ukernel_params *p) {
    __m512i acc[16];
#pragma GCC unroll 16
    for (size_t m = 0; m < 16; m++) acc[m] = _mm512_set1_epi32(p->init[m]);
    const int32_t *pw = w;
    if (!x_row) {
        for (size_t g = 0; g < kc / 4; g++) {
            const __m512i xv = _mm512_loadu_si512(x + koff[g]);
#pragma GCC unroll 16
            for (size_t m = 0; m < 16; m++)
                __asm__("vpdpbusd %[w]%{1to16%}, %[x], %[acc]"
                        : [acc] "+v"(acc[m])
                        : [x] "v"(xv), [w] "m"(pw[m]));
            pw += 16;
        }
    } else {
        const uint8_t *x1 = x + x_row;
        for (size_t g = 0; g < kc / 4; g++) {
            const __m256i lo = _mm256_loadu_si256((const __m256i *)(const void *)(x + koff[g]));
            const __m256i hi = _mm256_loadu_si256((const __m256i *)(const void *)(x1 + koff[g]));
            const __m512i xv = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
#pragma GCC unroll 16
            for (size_t m = 0; m < 16; m++)
                __asm__("vpdpbusd %[w]%{1to16%}, %[x], %[acc]"
                        : [acc] "+v"(acc[m])
                        : [x] "v"(xv), [w] "m"(pw[m]));
            pw += 16;
        }
    }
    size_t es = qs__qout_size(p->out_type);
    if (c_stride_p == es) {
        const __mmask16 mask = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1);
#pragma GCC unroll 16
        for (size_t m = 0; m < 16; m++) {
            if (m >= mr) break;
            store_row_avx512(acc[m], m, (char *)c + m * c_stride_n, mask, p);
        }
        return;
    }
    int32_t tile[16][16];
#pragma GCC unroll 16
    for (size_t m = 0; m < 16; m++) _mm512_storeu_si512(&tile[m][0], acc[m]);
    qs__qgemm_store_tile(mr, nr, &tile[0][0], 16, c, c_stride_n, c_stride_p, p);
}

// Loads the 16 pixels of a k-group at x (or two rows of 8, the second x_row further).
static inline __attribute__((always_inline)) __m512i load_px16(const uint8_t *x, size_t x_row) {
    if (!x_row) return _mm512_loadu_si512(x);
    const __m256i lo = _mm256_loadu_si256((const __m256i *)(const void *)x);
    const __m256i hi = _mm256_loadu_si256((const __m256i *)(const void *)(x + x_row));
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// 8 channels x 32 pixels: two 16-pixel groups (x0, x1: any two tiles of the 16 x 16
// kernel) per k-group, each channel's 4 weights broadcast once into a register and used
// for both. Per k-group that is 2 pixel loads (4 for rows of 8) and 8 broadcasts for 16
// vpdpbusd, against 17 loads (embedded broadcasts) for 16 in the 16 x 16 tile, which the
// loads held to 85% of vpdpbusd's rate in a loop over a ResNet-20 stage-1 image (428
// against 490 GMAC/s, a synthetic loop not kept; bench/qgemm/bench-qdconv times the conv
// against peers). w is the 16-channel packed tile from channel 8 h on: the weights of
// k-group g at word 16 g + m. The same sums and epilogue as that kernel.
void qs_qu8_qc8w_dconv_minmax_ukernel_8x32c4__avx512vnni(
    size_t mr, size_t nr0, size_t nr1, size_t kc, const void *w, const uint8_t *x0,
    const uint8_t *x1, const int32_t *koff, size_t x_row, void *c0, void *c1,
    size_t c_stride_n, const struct qs_qgemm_ukernel_params *p) {
    __m512i a[8], b[8];
#pragma GCC unroll 8
    for (size_t m = 0; m < 8; m++) a[m] = b[m] = _mm512_set1_epi32(p->init[m]);
    const int32_t *pw = w;
    for (size_t g = 0; g < kc / 4; g++) {
        const __m512i xa = load_px16(x0 + koff[g], x_row), xb = load_px16(x1 + koff[g], x_row);
#pragma GCC unroll 8
        for (size_t m = 0; m < 8; m++) {
            // (asm: with the intrinsic GCC 12 copies accumulators between registers)
            const __m512i wv = _mm512_set1_epi32(pw[m]);
            __asm__("vpdpbusd %[w], %[x], %[acc]" : [acc] "+v"(a[m]) : [x] "v"(xa), [w] "v"(wv));
            __asm__("vpdpbusd %[w], %[x], %[acc]" : [acc] "+v"(b[m]) : [x] "v"(xb), [w] "v"(wv));
        }
        pw += 16;
    }
    const __mmask16 k0 = nr0 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr0) - 1);
    const __mmask16 k1 = nr1 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr1) - 1);
#pragma GCC unroll 8
    for (size_t m = 0; m < 8; m++) {
        if (m >= mr) break;
        store_row_avx512(a[m], m, (char *)c0 + m * c_stride_n, k0, p);
        store_row_avx512(b[m], m, (char *)c1 + m * c_stride_n, k1, p);
    }
}

// Stores the first n (0..4) 4-byte pixels of v.
static inline void store_px(uint8_t *dst, __m128i v, size_t n) {
    if (n >= 4) _mm_storeu_si128((__m128i *)(void *)dst, v);
    else if (n) _mm_mask_storeu_epi8(dst, (__mmask16)((1u << (4 * n)) - 1), v);
}

// 4 channel rows of 16 pixels (v) to 16 pixels x 4 channels: q[0..3] hold pixels 0-3,
// 4-7, 8-11, 12-15 (two byte unpacks, two word unpacks).
static inline __attribute__((always_inline)) void interleave4(const __m128i v[4], __m128i q[4]) {
    const __m128i ab0 = _mm_unpacklo_epi8(v[0], v[1]), ab1 = _mm_unpackhi_epi8(v[0], v[1]);
    const __m128i cd0 = _mm_unpacklo_epi8(v[2], v[3]), cd1 = _mm_unpackhi_epi8(v[2], v[3]);
    q[0] = _mm_unpacklo_epi16(ab0, cd0);
    q[1] = _mm_unpackhi_epi16(ab0, cd0);
    q[2] = _mm_unpacklo_epi16(ab1, cd1);
    q[3] = _mm_unpackhi_epi16(ab1, cd1);
}

// Stride 1, whole rows whose width divides 64 or is a multiple of 16 that 64 divides or
// divides (ResNet's 8, 16 and 32): 64 pixels per step, read as one run of the plane. Each
// 128-bit lane of the byte and word unpacks holds 16 pixels; a 4 x 4 transpose of the lanes
// (vshufi64x2) makes each 16-pixel group one 64-byte store (two of 32 bytes for rows of
// 8). Channels past `left` are zeros, as in the masked loop below (their weights are 0).
// The 16-pixel loop, masked for rows of 8 and for 3 channels, was 8% of the int8 direct
// conv's time in a search. Returns the rows done.
static size_t interleave_runs(const uint8_t *x, size_t plane, size_t left, size_t rows,
                              size_t cols, size_t pad_top, size_t pad_left, size_t wq,
                              uint8_t *dst) {
    if (cols != 8 && (cols % 16 || (cols % 64 && 64 % cols))) return 0;
    const size_t n = rows * cols / 64 * 64;  // whole rows, as 64 % cols == 0 or cols % 64 == 0
    size_t y = 0, xx = 0;
    for (size_t f = 0; f < n; f += 64) {
        __m512i v[4];
        for (size_t r = 0; r < 4; r++)
            v[r] = r < left ? _mm512_loadu_si512(x + r * plane + f) : _mm512_setzero_si512();
        const __m512i ab0 = _mm512_unpacklo_epi8(v[0], v[1]);
        const __m512i ab1 = _mm512_unpackhi_epi8(v[0], v[1]);
        const __m512i cd0 = _mm512_unpacklo_epi8(v[2], v[3]);
        const __m512i cd1 = _mm512_unpackhi_epi8(v[2], v[3]);
        const __m512i q0 = _mm512_unpacklo_epi16(ab0, cd0), q1 = _mm512_unpackhi_epi16(ab0, cd0);
        const __m512i q2 = _mm512_unpacklo_epi16(ab1, cd1), q3 = _mm512_unpackhi_epi16(ab1, cd1);
        const __m512i t0 = _mm512_shuffle_i64x2(q0, q1, 0x44);
        const __m512i t1 = _mm512_shuffle_i64x2(q2, q3, 0x44);
        const __m512i t2 = _mm512_shuffle_i64x2(q0, q1, 0xee);
        const __m512i t3 = _mm512_shuffle_i64x2(q2, q3, 0xee);
        const __m512i o[4] = {
            _mm512_shuffle_i64x2(t0, t1, 0x88), _mm512_shuffle_i64x2(t0, t1, 0xdd),
            _mm512_shuffle_i64x2(t2, t3, 0x88), _mm512_shuffle_i64x2(t2, t3, 0xdd)};
        for (size_t l = 0; l < 4; l++) {
            uint8_t *at = dst + ((y + pad_top) * wq + pad_left + xx) * 4;
            if (cols == 8) {
                _mm256_storeu_si256((__m256i *)(void *)at, _mm512_castsi512_si256(o[l]));
                _mm256_storeu_si256((__m256i *)(void *)(at + wq * 4),
                                    _mm512_extracti64x4_epi64(o[l], 1));
                y += 2;
                continue;
            }
            _mm512_storeu_si512(at, o[l]);
            if ((xx += 16) == cols) {
                xx = 0;
                y++;
            }
        }
    }
    return n / cols;
}

// Stride 2 first splits each row into its even and odd pixels (pshufb), so that q[0..1]
// are the even pixels and q[2..3] the odd ones.
void qs_qu8_dconv_interleave__avx512(const uint8_t *x, size_t plane, size_t left, size_t rows,
                                     size_t cols, size_t in_w, size_t st, size_t pad_top,
                                     size_t pad_left, size_t wq, size_t q4, uint8_t *dst) {
    const __m128i zero = _mm_setzero_si128();
    const __m128i split = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    const size_t full = left >= 4 ? cols / 16 * 16 : 0;  // columns of the unmasked loop
    size_t i = 0;
    if (st == 1 && cols == in_w)
        i = interleave_runs(x, plane, left, rows, cols, pad_top, pad_left, wq, dst);
    for (; i < rows; i++) {
        const uint8_t *row = x + i * in_w;
        const size_t y = i + pad_top;
        // (st is 1 or 2: no division per row)
        uint8_t *orow = st == 1 ? dst + y * wq * 4 : dst + (y & 1) * 2 * q4 + (y >> 1) * wq * 4;
        size_t j = 0;
        if (st == 1) {
            uint8_t *o = orow + pad_left * 4;
            for (; j < full; j += 16) {
                __m128i v[4], q[4];
                for (size_t r = 0; r < 4; r++)
                    v[r] = _mm_loadu_si128((const __m128i *)(const void *)(row + r * plane + j));
                interleave4(v, q);
                for (size_t b = 0; b < 4; b++)
                    _mm_storeu_si128((__m128i *)(void *)(o + 4 * j + 16 * b), q[b]);
            }
        } else {
            // Even pixels of the chunk land in column parity pad_left % 2, odd ones in the
            // other (j is even).
            uint8_t *oe = orow + (pad_left % 2) * q4 + (pad_left / 2) * 4;
            uint8_t *oo = orow + ((pad_left + 1) % 2) * q4 + ((pad_left + 1) / 2) * 4;
            for (; j < full; j += 16) {
                __m128i v[4], q[4];
                for (size_t r = 0; r < 4; r++)
                    v[r] = _mm_shuffle_epi8(
                        _mm_loadu_si128((const __m128i *)(const void *)(row + r * plane + j)),
                        split);
                interleave4(v, q);
                _mm_storeu_si128((__m128i *)(void *)(oe + 2 * j), q[0]);
                _mm_storeu_si128((__m128i *)(void *)(oe + 2 * j + 16), q[1]);
                _mm_storeu_si128((__m128i *)(void *)(oo + 2 * j), q[2]);
                _mm_storeu_si128((__m128i *)(void *)(oo + 2 * j + 16), q[3]);
            }
        }
        // The rest: masked loads; channels past `left` only fill lanes never stored.
        for (; j < cols; j += 16) {
            const size_t nv = QS_MIN((size_t)16, cols - j);
            const __mmask16 m = nv == 16 ? (__mmask16)0xffff : (__mmask16)((1u << nv) - 1);
            __m128i v[4], q[4];
            for (size_t r = 0; r < 4; r++) {
                v[r] = r < left ? _mm_maskz_loadu_epi8(m, row + r * plane + j) : zero;
                if (st == 2) v[r] = _mm_shuffle_epi8(v[r], split);
            }
            interleave4(v, q);
            if (st == 1) {
                uint8_t *o = orow + (pad_left + j) * 4;
                store_px(o, q[0], nv);
                store_px(o + 16, q[1], nv > 4 ? nv - 4 : 0);
                store_px(o + 32, q[2], nv > 8 ? nv - 8 : 0);
                store_px(o + 48, q[3], nv > 12 ? nv - 12 : 0);
                continue;
            }
            const size_t ne = (nv + 1) / 2, no = nv / 2;
            const size_t xe = j + pad_left, xo = xe + 1;
            uint8_t *oe = orow + (xe % 2) * q4 + (xe / 2) * 4;
            uint8_t *oo = orow + (xo % 2) * q4 + (xo / 2) * 4;
            store_px(oe, q[0], ne);
            store_px(oe + 16, q[1], ne > 4 ? ne - 4 : 0);
            store_px(oo, q[2], no);
            store_px(oo + 16, q[3], no > 4 ? no - 4 : 0);
        }
    }
}
