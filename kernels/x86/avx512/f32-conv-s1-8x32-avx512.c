// AVX-512F stride-1 implicit-GEMM convolution: an 8x32 tile (8 output channels x 32 flat
// positions in two zmm per row, 16 accumulators), each step two input loads shifted by the
// tap offset and eight weight broadcasts from the packed block (mr = 8). A tile of at most
// 16 positions runs an 8x16 variant instead of wasting half the lanes. The accumulators
// start from the bias; the residual, the clamp and the store follow in registers.
//
// Lanes past p_end, lanes of padded columns that are dropped (out_w) and, in masked mode
// (dy/dx), lanes whose tap falls in the implicit zero padding read nothing (masked
// loads), so an unpadded image is read in place and a tap that is padding for the whole
// tile (the first and last rows of a 32-wide image) is skipped outright. Where all lanes
// read, loads are plain: masked loads that miss the cache are several times slower on
// Zen 5. In masked mode taps run in the outer loop so that their masks stay in mask
// registers over the channel loop; otherwise channels run outer (few channels, many taps:
// the stride phases of SqueezeNet's conv1).
//
// Loop order: positions are taken in chunks whose input fits in L2; within a chunk each
// 8-row weight block (K * 32 bytes, L1-resident) sweeps all tiles, so weights are read from
// memory once per chunk however many tiles there are (SqueezeNet's conv10: 2 MB of weights,
// 169 positions). Splitting the channels into L1-sized blocks with partial sums in y was
// measured slower on conv10.
#include "kernels/f32.h"

#include <immintrin.h>
#include <math.h>

enum { MR = 8, NT = 32, MAX_TAPS = 64, CHUNK_TILES = 64, CHANNEL_BLOCK = 64 };
// Input bytes of a position chunk kept in L2 while the weight blocks sweep it.
#define CHUNK_BYTES (512u * 1024u)

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

struct tile {
    size_t p0, np;
    size_t o0;            // y index of the first stored lane (compressed stores)
    __mmask16 st0, st1;   // stored lanes
    bool compress;        // dropped columns inside: compress the stored lanes
    __mmask16 k[MAX_TAPS][2];
};

static const int32_t iota_tbl[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                     11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                     22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

static void tile_setup(const struct qs_f32_conv_s1 *cv, size_t p0, size_t np, struct tile *ti) {
    const __mmask16 t0 = np >= 16 ? 0xffff : (__mmask16)((1u << np) - 1);
    const __mmask16 t1 =
        np >= 32 ? 0xffff : np <= 16 ? 0 : (__mmask16)((1u << (np - 16)) - 1);
    ti->p0 = p0;
    ti->np = np;
    ti->o0 = p0;
    ti->st0 = t0;
    ti->st1 = t1;
    ti->compress = false;
    if (!cv->row) {
        for (size_t t = 0; t < cv->taps; t++) {
            ti->k[t][0] = t0;
            ti->k[t][1] = t1;
        }
        return;
    }
    // Row and column of every lane: start from p0's and wrap the columns row by row.
    const int32_t row = (int32_t)cv->row;
    const int32_t r0 = (int32_t)(p0 / cv->row), c0 = (int32_t)(p0 % cv->row);
    const __m512i vrow = _mm512_set1_epi32(row), one = _mm512_set1_epi32(1);
    __m512i col0 = _mm512_add_epi32(_mm512_set1_epi32(c0), _mm512_loadu_si512(iota_tbl));
    __m512i col1 = _mm512_add_epi32(_mm512_set1_epi32(c0), _mm512_loadu_si512(iota_tbl + 16));
    __m512i rr0 = _mm512_set1_epi32(r0), rr1 = rr0;
    for (;;) {
        const __mmask16 m0 = _mm512_cmpge_epi32_mask(col0, vrow);
        const __mmask16 m1 = _mm512_cmpge_epi32_mask(col1, vrow);
        if (!(m0 | m1)) break;
        col0 = _mm512_mask_sub_epi32(col0, m0, col0, vrow);
        col1 = _mm512_mask_sub_epi32(col1, m1, col1, vrow);
        rr0 = _mm512_mask_add_epi32(rr0, m0, rr0, one);
        rr1 = _mm512_mask_add_epi32(rr1, m1, rr1, one);
    }
    __mmask16 v0 = t0, v1 = t1;
    if (cv->out_w && cv->out_w < cv->row) {
        const __m512i ow = _mm512_set1_epi32((int32_t)cv->out_w);
        v0 &= _mm512_cmplt_epi32_mask(col0, ow);
        v1 &= _mm512_cmplt_epi32_mask(col1, ow);
        ti->st0 = v0;
        ti->st1 = v1;
        ti->compress = true;
        ti->o0 = (size_t)r0 * cv->out_w + ((size_t)c0 < cv->out_w ? (size_t)c0 : cv->out_w);
    }
    if (!cv->dy) {
        for (size_t t = 0; t < cv->taps; t++) {
            ti->k[t][0] = v0;
            ti->k[t][1] = v1;
        }
        return;
    }
    const __m512i vh = _mm512_set1_epi32((int32_t)cv->h);
    for (size_t t = 0; t < cv->taps; t++) {
        const __m512i dy = _mm512_set1_epi32(cv->dy[t]), dx = _mm512_set1_epi32(cv->dx[t]);
        // Unsigned compares: a negative row or column wraps to a huge value.
        ti->k[t][0] = v0 & _mm512_cmplt_epu32_mask(_mm512_add_epi32(rr0, dy), vh) &
                      _mm512_cmplt_epu32_mask(_mm512_add_epi32(col0, dx), vrow);
        ti->k[t][1] = v1 & _mm512_cmplt_epu32_mask(_mm512_add_epi32(rr1, dy), vh) &
                      _mm512_cmplt_epu32_mask(_mm512_add_epi32(col1, dx), vrow);
    }
}

struct epi {
    const float *sum;
    __m512 vlo, vhi;
    bool lo, hi;  // clamp below / above (an infinite bound is skipped)
    float *y;
    size_t ldy;
};

// sum + clamp of one output row of a tile (the bias was the accumulators' start value),
// then the store, compressed when the tile holds dropped columns. max(lo, v)/min(hi, v)
// keep a NaN v, as the reference does.
static inline void store_row(const struct epi *e, const struct tile *ti, size_t m, __m512 a0,
                             __m512 a1, bool two) {
    float *yr = e->y + m * e->ldy;
    const float *sr = e->sum ? e->sum + m * e->ldy : NULL;
    __mmask16 s0 = ti->st0, s1 = ti->st1;
    size_t i0 = ti->p0, i1 = ti->p0 + 16;
    if (ti->compress) {
        const unsigned n0 = (unsigned)__builtin_popcount(s0);
        const unsigned n1 = (unsigned)__builtin_popcount(s1);
        a0 = _mm512_maskz_compress_ps(s0, a0);
        a1 = _mm512_maskz_compress_ps(s1, a1);
        i0 = ti->o0;
        i1 = ti->o0 + n0;
        s0 = (__mmask16)((1u << n0) - 1);
        s1 = (__mmask16)((1u << n1) - 1);
    }
    if (sr) a0 = _mm512_add_ps(a0, _mm512_maskz_loadu_ps(s0, sr + i0));
    if (e->lo) a0 = _mm512_max_ps(e->vlo, a0);
    if (e->hi) a0 = _mm512_min_ps(e->vhi, a0);
    _mm512_mask_storeu_ps(yr + i0, s0, a0);
    if (!two) return;
    if (sr) a1 = _mm512_add_ps(a1, _mm512_maskz_loadu_ps(s1, sr + i1));
    if (e->lo) a1 = _mm512_max_ps(e->vlo, a1);
    if (e->hi) a1 = _mm512_min_ps(e->vhi, a1);
    _mm512_mask_storeu_ps(yr + i1, s1, a1);
}

// One 8 x 32 (two = true) or 8 x 16 tile: accumulators start from the bias, every input
// channel and tap, then the epilogue.
static inline __attribute__((always_inline)) void
tile(const struct qs_f32_conv_s1 *cv, const float *x, const float *w, const float *bv,
     size_t rows, const struct tile *ti, const struct epi *e, size_t mb, bool two) {
#define INIT(r) __m512 a##r##0 = _mm512_set1_ps(bv[r]), a##r##1 = a##r##0;
    ROWS(INIT)
#undef INIT
    const size_t taps = cv->taps, plane = cv->plane, wstep = taps * MR;
    x += ti->p0;
#define STEP2(r)                                    \
    {                                               \
        const __m512 a = _mm512_set1_ps(wt[r]);     \
        a##r##0 = _mm512_fmadd_ps(a, b0, a##r##0);  \
        a##r##1 = _mm512_fmadd_ps(a, b1, a##r##1);  \
    }
#define STEP1(r) a##r##0 = _mm512_fmadd_ps(_mm512_set1_ps(wt[r]), b0, a##r##0);
    if (!cv->dy && taps > 1) {
        // Every tap reads the same lanes: channels outer, taps inner, one mask pair (the
        // strided convs' phases, with few channels: SqueezeNet's conv1 has 3).
        const __mmask16 k0 = ti->k[0][0], k1 = two ? ti->k[0][1] : 0;
        const bool full = k0 == 0xffff && (!two || k1 == 0xffff);
        const float *xc = x, *wt = w;
        for (size_t c = 0; c < cv->c_in; c++, xc += plane) {
            for (size_t t = 0; t < taps; t++, wt += MR) {
                const float *xb = xc + cv->off[t];
                // Plain loads where all lanes read: masked loads that miss the cache are
                // several times slower on Zen 5.
                const __m512 b0 = full ? _mm512_loadu_ps(xb) : _mm512_maskz_loadu_ps(k0, xb);
                if (two) {
                    const __m512 b1 = full ? _mm512_loadu_ps(xb + 16)
                                           : _mm512_maskz_loadu_ps(k1, xb + 16);
                    ROWS(STEP2)
                } else {
                    ROWS(STEP1)
                }
            }
        }
    } else {
        // Implicit padding: taps outer so that their masks stay in registers, channels
        // inner in blocks that keep the tile's input rows in L1 (also 1x1 convs).
        for (size_t cb = 0; cb < cv->c_in; cb += CHANNEL_BLOCK) {
            const size_t ce = cv->c_in - cb < CHANNEL_BLOCK ? cv->c_in : cb + CHANNEL_BLOCK;
            for (size_t t = 0; t < taps; t++) {
                const __mmask16 k0 = ti->k[t][0], k1 = two ? ti->k[t][1] : 0;
                if (!(k0 | k1)) continue;  // the tap is padding for the whole tile
                const float *xb = x + (int64_t)(cb * plane) + cv->off[t];
                const float *wt = w + (cb * taps + t) * MR;
                if (k0 == 0xffff && (!two || k1 == 0xffff)) {
                    for (size_t c = cb; c < ce; c++, xb += plane, wt += wstep) {
                        const __m512 b0 = _mm512_loadu_ps(xb);
                        if (two) {
                            const __m512 b1 = _mm512_loadu_ps(xb + 16);
                            ROWS(STEP2)
                        } else {
                            ROWS(STEP1)
                        }
                    }
                } else {
                    for (size_t c = cb; c < ce; c++, xb += plane, wt += wstep) {
                        const __m512 b0 = _mm512_maskz_loadu_ps(k0, xb);
                        if (two) {
                            const __m512 b1 = _mm512_maskz_loadu_ps(k1, xb + 16);
                            ROWS(STEP2)
                        } else {
                            ROWS(STEP1)
                        }
                    }
                }
            }
        }
    }
#undef STEP1
#undef STEP2
    // Rows past m were computed from zero weights and are dropped here.
#define STORE(r) \
    if (r < rows) store_row(e, ti, mb + r, a##r##0, a##r##1, two);
    ROWS(STORE)
#undef STORE
}

static void tile32(const struct qs_f32_conv_s1 *cv, const float *x, const float *w,
                   const float *bv, size_t rows, const struct tile *ti, const struct epi *e,
                   size_t mb) {
    tile(cv, x, w, bv, rows, ti, e, mb, true);
}

static void tile16(const struct qs_f32_conv_s1 *cv, const float *x, const float *w,
                   const float *bv, size_t rows, const struct tile *ti, const struct epi *e,
                   size_t mb) {
    tile(cv, x, w, bv, rows, ti, e, mb, false);
}

void qs__f32_conv_s1__avx512(const struct qs_f32_conv_s1 *cv, const float *x,
                             const float *wpk, const float *bias, float lo, float hi,
                             size_t p_begin, size_t p_end, float *y, size_t ldy) {
    QS_ASSERT(cv->mr == MR && cv->taps <= MAX_TAPS);
    const size_t k = cv->c_in * cv->taps;
    // NaN bounds are kept (they make every output NaN, as in the reference).
    const struct epi e = {cv->sum, _mm512_set1_ps(lo), _mm512_set1_ps(hi),
                          !(lo == -INFINITY), !(hi == INFINITY), y, ldy};
    // Equal chunks of at most max_chunk tiles: a short last chunk would stream all the
    // weights again for a few positions.
    size_t max_chunk = CHUNK_BYTES / (sizeof(float) * (cv->c_in ? cv->c_in : 1)) / NT;
    max_chunk = max_chunk < 1 ? 1 : max_chunk > CHUNK_TILES ? CHUNK_TILES : max_chunk;
    const size_t n_tiles = (p_end - p_begin + NT - 1) / NT;
    const size_t n_chunks = (n_tiles + max_chunk - 1) / max_chunk;
    const size_t chunk = n_chunks ? (n_tiles + n_chunks - 1) / n_chunks : 1;
    struct tile tiles[CHUNK_TILES];
    for (size_t c0 = p_begin; c0 < p_end; c0 += chunk * NT) {
        const size_t c1 = p_end - c0 < chunk * NT ? p_end : c0 + chunk * NT;
        size_t nt = 0;
        for (size_t p0 = c0; p0 < c1; p0 += NT, nt++)
            tile_setup(cv, p0, c1 - p0 < NT ? c1 - p0 : NT, &tiles[nt]);
        for (size_t mb = 0; mb < cv->m; mb += MR) {
            const size_t rows = cv->m - mb < MR ? cv->m - mb : MR;
            const float *w = wpk + mb * k;
            float bv[MR];
            for (size_t r = 0; r < MR; r++) bv[r] = bias && r < rows ? bias[mb + r] : 0.0f;
            for (size_t i = 0; i < nt; i++) {
                if (tiles[i].np <= 16) tile16(cv, x, w, bv, rows, &tiles[i], &e, mb);
                else tile32(cv, x, w, bv, rows, &tiles[i], &e, mb);
            }
        }
    }
}
