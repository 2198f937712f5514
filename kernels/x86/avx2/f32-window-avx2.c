// AVX2+FMA sliding-window kernels over one 2-D plane: depthwise conv, max pooling and
// average pooling. Eight adjacent outputs of a row are computed together for strides 1
// and 2 (stride 2 de-interleaves two loads) where every horizontal tap lies inside the
// row; border columns, other strides and 3-D windows take the scalar path. The pools
// first reduce the window's rows into one row buffer (on the stack, rows up to 4096
// wide). Reads stay inside the input plane.
#include "kernels/f32.h"
#include "kernels/x86/avx2/f32-avx2.h"

#include <math.h>

enum mode { DW, MAXP, AVGP };

static inline int64_t ceil_div(int64_t a, int64_t b) {
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}
static inline int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

static inline __m256 load_s2(const float *p) {
    __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    __m256 ev = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), _MM_SHUFFLE(3, 1, 2, 0)));
}

// Taps of output o in dim i with coordinates in [lim_lo, lim_hi).
static inline int64_t count_taps(const struct qs_f32_window *w, int i, int64_t o,
                                 int64_t lim_lo, int64_t lim_hi) {
    int64_t n = 0, c = o * w->stride[i] - w->pad[i];
    for (int64_t t = 0; t < w->k[i]; t++, c += w->dil[i]) n += c >= lim_lo && c < lim_hi;
    return n;
}

static inline float one_output(const struct qs_f32_window *win, enum mode mode, bool cip,
                               const float *x, const float *w, float bias, int64_t oh,
                               int64_t ow) {
    const int64_t H = win->in[1], W = win->in[2];
    float acc = mode == DW ? bias : mode == MAXP ? -INFINITY : 0.0f;
    for (int64_t kh = 0; kh < win->k[1]; kh++) {
        int64_t ih = oh * win->stride[1] - win->pad[1] + kh * win->dil[1];
        if (ih < 0 || ih >= H) continue;
        for (int64_t kw = 0; kw < win->k[2]; kw++) {
            int64_t iw = ow * win->stride[2] - win->pad[2] + kw * win->dil[2];
            if (iw < 0 || iw >= W) continue;
            float v = x[ih * W + iw];
            if (mode == DW)
                acc += w[kh * win->k[2] + kw] * v;
            else if (mode == MAXP)
                acc = v > acc ? v : acc;
            else
                acc += v;
        }
    }
    if (mode == AVGP) {
        int64_t cnt = cip ? count_taps(win, 1, oh, -win->pad[1], H + win->pad_end[1]) *
                                count_taps(win, 2, ow, -win->pad[2], W + win->pad_end[2])
                          : count_taps(win, 1, oh, 0, H) * count_taps(win, 2, ow, 0, W);
        acc = cnt > 0 ? acc / (float)cnt : 0.0f;
    }
    return acc;
}

enum { SEP_MAX_W = 4096 };

// vr[w] = max (or sum) over the in-image rows of output row oh's window, for every input
// column w. Returns false when no row of the window is inside the image.
static bool reduce_rows(const struct qs_f32_window *win, enum mode mode, const float *x,
                        int64_t oh, float *vr) {
    const int64_t H = win->in[1], W = win->in[2];
    bool first = true;
    for (int64_t kh = 0; kh < win->k[1]; kh++) {
        int64_t ih = oh * win->stride[1] - win->pad[1] + kh * win->dil[1];
        if (ih < 0 || ih >= H) continue;
        const float *src = x + ih * W;
        int64_t j = 0;
        if (first) {
            for (; j < W; j++) vr[j] = src[j];
            first = false;
            continue;
        }
        for (; j + 8 <= W; j += 8) {
            __m256 a = _mm256_loadu_ps(vr + j), b = _mm256_loadu_ps(src + j);
            _mm256_storeu_ps(vr + j, mode == MAXP ? _mm256_max_ps(a, b) : _mm256_add_ps(a, b));
        }
        for (; j < W; j++)
            vr[j] = mode == MAXP ? (src[j] > vr[j] ? src[j] : vr[j]) : vr[j] + src[j];
    }
    return !first;
}

// KH/KW are passed separately so that callers with constant 3x3 get unrolled copies.
static inline __attribute__((always_inline)) void
window2d(const struct qs_f32_window *win, enum mode mode, bool cip, int64_t KH, int64_t KW,
         const float *x, const float *w, float bias, float lo, float hi, float *y) {
    const int64_t H = win->in[1], W = win->in[2], OH = win->out[1], OW = win->out[2];
    const int64_t sh = win->stride[1], sw = win->stride[2], dh = win->dil[1], dw = win->dil[2];
    const int64_t ph = win->pad[1], pw = win->pad[2];
    // Columns whose taps all lie inside the row, and for stride 2 whose de-interleaving
    // loads (one element further) do too.
    const int64_t c_lo = clamp64(ceil_div(pw, sw), 0, OW);
    int64_t c_hi = clamp64(ceil_div(W + pw - (KW - 1) * dw, sw), c_lo, OW);
    if (sw == 2) c_hi = clamp64(ceil_div(W - 1 + pw - (KW - 1) * dw, 2), c_lo, c_hi);
    const bool vec = sw <= 2;
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    float vr[SEP_MAX_W];
    for (int64_t oh = 0; oh < OH; oh++) {
        float *yr = y + oh * OW;
        int64_t ow = 0;
        for (; ow < c_lo; ow++) {
            float v = one_output(win, mode, cip, x, w, bias, oh, ow);
            if (mode == DW) v = fminf(fmaxf(v, lo), hi);
            yr[ow] = v;
        }
        if (vec) {
            float div = 1.0f;
            int64_t cnt_h = 0;
            if (mode == AVGP) {
                cnt_h = cip ? count_taps(win, 1, oh, -ph, H + win->pad_end[1])
                            : count_taps(win, 1, oh, 0, H);
                div = cnt_h > 0 ? 1.0f / (float)(cnt_h * KW) : 0.0f;
            }
            const __m256 vdiv = _mm256_set1_ps(div);
            // Pools are separable: reduce the valid rows once into `vr`, then slide along
            // it, instead of reducing kh * kw taps for every output vector.
            if (mode != DW && W <= SEP_MAX_W) {
                const bool any = reduce_rows(win, mode, x, oh, vr);
                const __m256 none = _mm256_set1_ps(mode == MAXP ? -INFINITY : 0.0f);
                for (; ow + 8 <= c_hi; ow += 8) {
                    const float *row = vr + ow * sw - pw;
                    __m256 acc = none;
                    for (int64_t kw = 0; any && kw < KW; kw++) {
                        __m256 v = sw == 1 ? _mm256_loadu_ps(row + kw * dw)
                                           : load_s2(row + kw * dw);
                        acc = kw == 0 ? v : mode == MAXP ? _mm256_max_ps(acc, v)
                                                         : _mm256_add_ps(acc, v);
                    }
                    if (mode == AVGP) acc = _mm256_mul_ps(acc, vdiv);
                    _mm256_storeu_ps(yr + ow, acc);
                }
                // The rest of the row (tail and right border) from the reduced row too.
                for (; ow < OW; ow++) {
                    float acc = mode == MAXP ? -INFINITY : 0.0f;
                    for (int64_t kw = 0; any && kw < KW; kw++) {
                        int64_t iw = ow * sw - pw + kw * dw;
                        if (iw < 0 || iw >= W) continue;
                        acc = mode == MAXP ? (vr[iw] > acc ? vr[iw] : acc) : acc + vr[iw];
                    }
                    if (mode == AVGP) {
                        int64_t cnt = cnt_h * (cip ? count_taps(win, 2, ow, -pw,
                                                                W + win->pad_end[2])
                                                   : count_taps(win, 2, ow, 0, W));
                        acc = cnt > 0 ? acc / (float)cnt : 0.0f;
                    }
                    yr[ow] = acc;
                }
                continue;
            }
            for (; ow + 8 <= c_hi; ow += 8) {
                __m256 acc = mode == DW     ? _mm256_set1_ps(bias)
                             : mode == MAXP ? _mm256_set1_ps(-INFINITY)
                                            : _mm256_setzero_ps();
                for (int64_t kh = 0; kh < KH; kh++) {
                    int64_t ih = oh * sh - ph + kh * dh;
                    if (ih < 0 || ih >= H) continue;
                    const float *row = x + ih * W + ow * sw - pw;
                    for (int64_t kw = 0; kw < KW; kw++) {
                        __m256 v = sw == 1 ? _mm256_loadu_ps(row + kw * dw)
                                           : load_s2(row + kw * dw);
                        if (mode == DW)
                            acc = _mm256_fmadd_ps(_mm256_set1_ps(w[kh * KW + kw]), v, acc);
                        else if (mode == MAXP)
                            acc = _mm256_max_ps(acc, v);
                        else
                            acc = _mm256_add_ps(acc, v);
                    }
                }
                if (mode == DW) acc = _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc));
                if (mode == AVGP) acc = _mm256_mul_ps(acc, vdiv);
                _mm256_storeu_ps(yr + ow, acc);
            }
        }
        for (; ow < OW; ow++) {
            float v = one_output(win, mode, cip, x, w, bias, oh, ow);
            if (mode == DW) v = fminf(fmaxf(v, lo), hi);
            yr[ow] = v;
        }
    }
}

static bool is_2d(const struct qs_f32_window *win) {
    return win->in[0] == 1 && win->out[0] == 1 && win->k[0] == 1;
}

void qs__f32_dwconv__avx2(const struct qs_f32_window *win, const float *x, const float *w,
                          float bias, float lo, float hi, float *y) {
    if (!is_2d(win)) {
        qs__f32_dwconv_ref(win, x, w, bias, lo, hi, y);
    } else if (win->k[1] == 3 && win->k[2] == 3) {
        window2d(win, DW, false, 3, 3, x, w, bias, lo, hi, y);
    } else {
        window2d(win, DW, false, win->k[1], win->k[2], x, w, bias, lo, hi, y);
    }
}

void qs__f32_maxpool__avx2(const struct qs_f32_window *win, const float *x, float *y) {
    if (!is_2d(win)) {
        qs__f32_maxpool_ref(win, x, y);
    } else if (win->k[1] == 3 && win->k[2] == 3) {
        window2d(win, MAXP, false, 3, 3, x, NULL, 0.0f, 0.0f, 0.0f, y);
    } else {
        window2d(win, MAXP, false, win->k[1], win->k[2], x, NULL, 0.0f, 0.0f, 0.0f, y);
    }
}

void qs__f32_avgpool__avx2(const struct qs_f32_window *win, bool count_include_pad,
                           const float *x, float *y) {
    if (!is_2d(win))
        qs__f32_avgpool_ref(win, count_include_pad, x, y);
    else
        window2d(win, AVGP, count_include_pad, win->k[1], win->k[2], x, NULL, 0.0f, 0.0f,
                 0.0f, y);
}
