// AVX-512F max pooling of one 2-D plane, 16 outputs of a row at a time, all in registers:
// the window's in-image rows are reduced (max) over the up to three input vectors the 16
// outputs span, out-of-image columns loading as -inf through masked loads, then every
// horizontal tap is one or two permutes of those vectors (stride 2 picks the even lanes).
// A row buffer would be simpler but reloading just-stored vectors at unaligned offsets
// defeats store-to-load forwarding and ran 3x slower. Row strides 1 and 2 with a window
// that fits those three vectors (15 * stride + (KW - 1) * dil < 48); the rest goes to the
// AVX2 kernel. Reads stay inside the input plane.
#include "kernels/f32.h"

#include <immintrin.h>
#include <math.h>

enum { MAX_KH = 64, MAX_KW = 33 };

static inline __mmask16 tail_mask(int64_t n) {
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

// Lanes whose column c0 + i lies in [0, W).
static inline __mmask16 col_mask(int64_t c0, int64_t W) {
    if (c0 >= 0) return tail_mask(W - c0);
    if (c0 <= -16) return 0;
    return (__mmask16)(tail_mask(W - c0) & ~tail_mask(-c0));
}

// The common 3x3 stride-2 window (dilation 1): per 16 outputs the three rows are reduced
// over two new vectors, the vector after them is carried to the next block, and the taps
// are the even lanes, the odd lanes, and the even lanes shifted by one (valignd). A row
// outside the image repeats an inside one (max is idempotent).
static void pool3x3s2(const struct qs_f32_window *win, const float *x, float *y) {
    const int64_t H = win->in[1], W = win->in[2], OH = win->out[1], OW = win->out[2];
    const int64_t ph = win->pad[1], pw = win->pad[2];
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                         28, 30);
    const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
    for (int64_t oh = 0; oh < OH; oh++) {
        float *yr = y + oh * OW;
        const float *r[3];
        int nr = 0;
        for (int64_t kh = 0; kh < 3; kh++) {
            const int64_t ih = oh * 2 - ph + kh;
            if (ih >= 0 && ih < H) r[nr++] = x + ih * W;
        }
        if (nr == 0) {
            for (int64_t ow = 0; ow < OW; ow += 16)
                _mm512_mask_storeu_ps(yr + ow, tail_mask(OW - ow), ninf);
            continue;
        }
        for (int i = nr; i < 3; i++) r[i] = r[0];
// Whole vectors inside the row load plainly (masked loads that miss the cache are several
// times slower on Zen 5), the row's ends masked with -inf.
#define VMAX(c)                                                                     \
    ({                                                                              \
        const int64_t c_ = (c);                                                     \
        __m512 v_;                                                                  \
        if (c_ >= 0 && c_ + 16 <= W) {                                              \
            v_ = _mm512_max_ps(_mm512_max_ps(_mm512_loadu_ps(r[0] + c_),            \
                                             _mm512_loadu_ps(r[1] + c_)),           \
                               _mm512_loadu_ps(r[2] + c_));                         \
        } else {                                                                    \
            const __mmask16 m_ = col_mask(c_, W);                                   \
            v_ = _mm512_max_ps(_mm512_max_ps(_mm512_mask_loadu_ps(ninf, m_, r[0] + c_), \
                                             _mm512_mask_loadu_ps(ninf, m_, r[1] + c_)), \
                               _mm512_mask_loadu_ps(ninf, m_, r[2] + c_));          \
        }                                                                           \
        v_;                                                                         \
    })
        __m512 v0 = VMAX(-pw);
        for (int64_t ow = 0; ow < OW; ow += 16) {
            const int64_t c0 = ow * 2 - pw;
            const __m512 v1 = VMAX(c0 + 16), v2 = VMAX(c0 + 32);
            const __m512 e = _mm512_permutex2var_ps(v0, ev, v1);
            const __m512 o = _mm512_permutex2var_ps(v0, od, v1);
            const __m512 e2 = _mm512_castsi512_ps(
                _mm512_alignr_epi32(_mm512_castps_si512(v2), _mm512_castps_si512(e), 1));
            _mm512_mask_storeu_ps(yr + ow, tail_mask(OW - ow),
                                  _mm512_max_ps(_mm512_max_ps(e, o), e2));
            v0 = v2;
        }
#undef VMAX
    }
}

void qs__f32_maxpool__avx512(const struct qs_f32_window *win, const float *x, float *y) {
    const int64_t H = win->in[1], W = win->in[2], OH = win->out[1], OW = win->out[2];
    const int64_t KH = win->k[1], KW = win->k[2], sh = win->stride[1], sw = win->stride[2];
    const int64_t dh = win->dil[1], dw = win->dil[2], ph = win->pad[1], pw = win->pad[2];
    const int64_t span = (KW - 1) * dw;
    const bool ok = win->in[0] == 1 && win->out[0] == 1 && win->k[0] == 1 && sw <= 2 &&
                    KH <= MAX_KH && KW <= MAX_KW && 15 * sw + span < 48;
    if (!ok) {
        qs__f32_maxpool__avx2(win, x, y);
        return;
    }
    if (KH == 3 && KW == 3 && sh == 2 && sw == 2 && dh == 1 && dw == 1) {
        pool3x3s2(win, x, y);
        return;
    }
    // Per tap: lanes i read column i * sw + kw * dw of the three vectors v0|v1|v2: one
    // permute over v0|v1, and for lanes past column 31 a second one from v2.
    __m512i idx_a[MAX_KW], idx_b[MAX_KW];
    __mmask16 from_b[MAX_KW];
    const int nv = (int)((15 * sw + span + 16) / 16);
    for (int64_t kw = 0; kw < KW; kw++) {
        int32_t a[16], b[16];
        __mmask16 m = 0;
        for (int i = 0; i < 16; i++) {
            const int32_t c = (int32_t)(i * sw + kw * dw);
            a[i] = c & 31;
            b[i] = c & 15;
            if (c >= 32) m |= (__mmask16)(1u << i);
        }
        idx_a[kw] = _mm512_loadu_si512(a);
        idx_b[kw] = _mm512_loadu_si512(b);
        from_b[kw] = m;
    }
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (int64_t oh = 0; oh < OH; oh++) {
        const float *rows[MAX_KH];
        int nr = 0;
        for (int64_t kh = 0; kh < KH; kh++) {
            const int64_t ih = oh * sh - ph + kh * dh;
            if (ih >= 0 && ih < H) rows[nr++] = x + ih * W;
        }
        float *yr = y + oh * OW;
        for (int64_t ow = 0; ow < OW; ow += 16) {
            const int64_t c0 = ow * sw - pw;
            __m512 v[3] = {ninf, ninf, ninf};
            for (int q = 0; q < nv; q++) {
                const __mmask16 m = col_mask(c0 + 16 * q, W);
                if (!m) continue;
                __m512 acc = ninf;
                // Masked lanes never touch memory: their addresses may lie outside the row.
                for (int r = 0; r < nr; r++)
                    acc = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, m, rows[r] + c0 + 16 * q),
                                        acc);
                v[q] = acc;
            }
            __m512 out = ninf;
            for (int64_t kw = 0; kw < KW; kw++) {
                __m512 t = _mm512_permutex2var_ps(v[0], idx_a[kw], v[1]);
                if (from_b[kw]) t = _mm512_mask_permutexvar_ps(t, from_b[kw], idx_b[kw], v[2]);
                out = _mm512_max_ps(t, out);
            }
            _mm512_mask_storeu_ps(yr + ow, tail_mask(OW - ow), out);
        }
    }
}
