// Helpers of the int8 ops (ir/ops/qlinear-impl.h): scale and zero-point checks, the fused
// activation as an integer clamp, the GEMM/depthwise front end with its exact generic loop,
// and 8-bit max pooling.
#include "ir/ops/qlinear-impl.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <limits.h>

bool qs__qlin_is_q(enum qs_dtype dt) {
    return dt == QS_DTYPE_U8 || dt == QS_DTYPE_I8 || dt == QS_DTYPE_U16 || dt == QS_DTYPE_I16;
}

void qs__qlin_range(enum qs_dtype dt, int32_t *lo, int32_t *hi) {
    switch (dt) {
    case QS_DTYPE_U8: *lo = 0, *hi = 255; break;
    case QS_DTYPE_I8: *lo = -128, *hi = 127; break;
    case QS_DTYPE_U16: *lo = 0, *hi = 65535; break;
    case QS_DTYPE_I16: *lo = -32768, *hi = 32767; break;
    default: *lo = INT32_MIN, *hi = INT32_MAX; break;
    }
}

static const qs_view *opt_in(const qs_kctx *k, int i) {
    return i < k->n_in ? k->in[i] : NULL;
}

enum qs_status qs__qlin_check_scale(const qs_kctx *k, int i, const char *what,
                                    int64_t per_axis) {
    const qs_view *s = opt_in(k, i);
    if (!s) return QS_STATUS_OK;
    if (s->dtype != QS_DTYPE_F32)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "%s has type %s; only float32 is supported",
                           what, qs_dtype_name(s->dtype));
    if (s->numel != 1 && (per_axis <= 0 || s->numel != per_axis || s->rank > 1))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "%s has %lld values, expected 1%s%.0lld", what,
                           (long long)s->numel, per_axis > 0 ? " or " : "",
                           (long long)(per_axis > 0 ? per_axis : 0));
    if (s->is_const && s->data)
        for (int64_t j = 0; j < s->numel; j++) {
            float v = ((const float *)s->data)[j];
            if (!(v > 0.0f) || !isfinite(v))
                return QS_NODE_ERR(k, QS_STATUS_INVALID_ARG,
                                   "%s[%lld] = %g: scales must be positive and finite", what,
                                   (long long)j, (double)v);
        }
    return QS_STATUS_OK;
}

enum qs_status qs__qlin_check_zp(const qs_kctx *k, int i, const char *what, enum qs_dtype dt,
                                 int64_t per_axis) {
    const qs_view *z = opt_in(k, i);
    if (!z) return QS_STATUS_OK;
    if (z->dtype != dt)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "%s has type %s, expected %s", what,
                           qs_dtype_name(z->dtype), qs_dtype_name(dt));
    if (z->numel != 1 && (per_axis <= 0 || z->numel != per_axis || z->rank > 1))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "%s has %lld values, expected 1%s%.0lld", what,
                           (long long)z->numel, per_axis > 0 ? " or " : "",
                           (long long)(per_axis > 0 ? per_axis : 0));
    return QS_STATUS_OK;
}

enum qs_status qs__qlin_require_const(const qs_kctx *k, int first, int last) {
    for (int i = first; i <= last && i < k->n_in; i++)
        if (k->in[i] && !k->in[i]->is_const)
            return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                               "input %d (scale, zero point or bias) must be a constant", i);
    return QS_STATUS_OK;
}

int32_t qs__qlin_zp(const qs_view *zp, int64_t i) {
    if (!zp) return 0;
    if (zp->numel == 1) i = 0;
    switch (zp->dtype) {
    case QS_DTYPE_U8: return ((const uint8_t *)zp->data)[i];
    case QS_DTYPE_I8: return ((const int8_t *)zp->data)[i];
    case QS_DTYPE_U16: return ((const uint16_t *)zp->data)[i];
    case QS_DTYPE_I16: return ((const int16_t *)zp->data)[i];
    case QS_DTYPE_I32: return ((const int32_t *)zp->data)[i];
    default: return 0;
    }
}

void qs__qlin_act_clamp(const qs_kctx *k, float scale, int32_t zp, int32_t *lo, int32_t *hi) {
    const struct qs_fused_act *a = &k->node->act;
    if (a->kind == QS_ACT_NONE) return;
    // Quantizing a bound saturates into [lo, hi], so an infinite bound leaves it unchanged.
    int32_t qlo = isnan(a->lo) ? *lo : qs__qlin_quantize(a->lo, scale, zp, *lo, *hi);
    int32_t qhi = isnan(a->hi) ? *hi : qs__qlin_quantize(a->hi, scale, zp, *lo, *hi);
    *lo = QS_MAX(*lo, qlo);
    *hi = QS_MIN(*hi, qhi);
    if (*hi < *lo) *hi = *lo;  // an empty Clip range outputs its lower bound
}

void qs__qlin_flip_copy(uint8_t *dst, const void *src, size_t n) {
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++) dst[i] = s[i] ^ 0x80;
}

// ---------------------------------------------------------------------------------------
// Weights.

enum qs_status qs__qlin_weights_init(struct qs_qlin_weights *w, size_t n, size_t k,
                                     const void *data, enum qs_dtype dt, size_t ldw_n,
                                     size_t ldw_k, const qs_view *w_zp, bool zp_per_row,
                                     bool generic) {
    memset(w, 0, sizeof *w);
    w->n = n;
    w->k = k;
    const bool is_signed = dt == QS_DTYPE_I8;
    bool fits = !generic;
    for (size_t i = 0; i < n && fits; i++) {
        const int32_t z = qs__qlin_zp(w_zp, zp_per_row ? (int64_t)i : 0);
        for (size_t j = 0; j < k && fits; j++) {
            const size_t o = i * ldw_n + j * ldw_k;
            int32_t v = (is_signed ? ((const int8_t *)data)[o] : ((const uint8_t *)data)[o]) - z;
            fits = v >= -128 && v <= 127;
        }
    }
    if (fits) {
        int8_t *tmp = qs__malloc(n * k + 1);
        if (!tmp) return QS_STATUS_NOMEM;
        for (size_t i = 0; i < n; i++) {
            const int32_t z = qs__qlin_zp(w_zp, zp_per_row ? (int64_t)i : 0);
            for (size_t j = 0; j < k; j++) {
                const size_t o = i * ldw_n + j * ldw_k;
                tmp[i * k + j] = (int8_t)((is_signed ? ((const int8_t *)data)[o]
                                                     : ((const uint8_t *)data)[o]) - z);
            }
        }
        enum qs_status st = qs__qgemm_pack(n, k, tmp, k, &w->packed);
        qs__free(tmp);
        return st;
    }
    if (!(w->wide = qs__malloc(sizeof(int32_t) * (n * k + 1)))) return QS_STATUS_NOMEM;
    qs__qlin_widen(w->wide, n, k, data, dt, ldw_n, ldw_k, w_zp, zp_per_row);
    return QS_STATUS_OK;
}

void qs__qlin_widen(int32_t *dst, size_t n, size_t k, const void *data, enum qs_dtype dt,
                    size_t ldw_n, size_t ldw_k, const qs_view *w_zp, bool zp_per_row) {
    const bool is_signed = dt == QS_DTYPE_I8;
    for (size_t i = 0; i < n; i++) {
        const int32_t z = qs__qlin_zp(w_zp, zp_per_row ? (int64_t)i : 0);
        for (size_t j = 0; j < k; j++) {
            const size_t o = i * ldw_n + j * ldw_k;
            dst[i * k + j] =
                (is_signed ? ((const int8_t *)data)[o] : ((const uint8_t *)data)[o]) - z;
        }
    }
}

void qs__qlin_weights_free(struct qs_qlin_weights *w) {
    if (!w) return;
    qs__qgemm_weights_destroy(w->packed);
    qs__free(w->wide);
    w->packed = NULL;
    w->wide = NULL;
}

size_t qs__qlin_gemm_scratch(const struct qs_qlin_weights *w, size_t p) {
    return w->packed ? qs__qgemm_scratch_size(w->packed, p) : 0;
}

// ---------------------------------------------------------------------------------------
// The generic loop: exact int32 arithmetic (wrapping, as the kernels do) for any W - w_zp.
// Work is split in blocks of GENERIC_PB columns, each with its accumulators on the stack.

#define GENERIC_PB 64

struct generic_ctx {
    const struct qs_qlin_weights *w;
    size_t p;
    const uint8_t *x;
    size_t sk, sp;
    const int32_t *zp_col;
    void *c;
    size_t csn, csp;
    const struct qs_qgemm_params *params;
};

static void generic_task(void *ctx, size_t begin, size_t end) {
    const struct generic_ctx *g = ctx;
    const struct qs_qgemm_params *pr = g->params;
    const size_t kk = g->w->k;
    for (size_t blk = begin; blk < end; blk++) {
        const size_t p0 = blk * GENERIC_PB, pn = QS_MIN(GENERIC_PB, g->p - p0);
        int32_t zp[GENERIC_PB];
        for (size_t j = 0; j < pn; j++) zp[j] = g->zp_col ? g->zp_col[p0 + j] : pr->x_zp;
        for (size_t n = 0; n < g->w->n; n++) {
            uint32_t acc[GENERIC_PB];
            const uint32_t b = pr->bias ? (uint32_t)pr->bias[n] : 0;
            for (size_t j = 0; j < pn; j++) acc[j] = b;
            const int32_t *wr = g->w->wide + n * kk;
            for (size_t t = 0; t < kk; t++) {
                const uint32_t wv = (uint32_t)wr[t];
                if (!wv) continue;
                const uint8_t *xr = g->x + t * g->sk + p0 * g->sp;
                if (g->sp == 1)
                    for (size_t j = 0; j < pn; j++) acc[j] += (uint32_t)(xr[j] - zp[j]) * wv;
                else
                    for (size_t j = 0; j < pn; j++)
                        acc[j] += (uint32_t)(xr[j * g->sp] - zp[j]) * wv;
            }
            for (size_t j = 0; j < pn; j++)
                qs__qlin_store(pr, n, (int32_t)acc[j], g->c, n * g->csn + (p0 + j) * g->csp);
        }
    }
}

void qs__qlin_gemm_run(const struct qs_qlin_weights *w, size_t p, const uint8_t *x,
                       size_t x_stride_k, size_t x_stride_p, const int32_t *x_zp_col, void *c,
                       size_t c_stride_n, size_t c_stride_p,
                       const struct qs_qgemm_params *params, void *scratch, qs_pool_t *pool) {
    if (p == 0 || w->n == 0) return;
    if (w->packed) {
        QS_ASSERT(!x_zp_col);
        qs__qgemm_run(w->packed, p, x, x_stride_k, x_stride_p, c, c_stride_n, c_stride_p,
                      params, scratch, pool);
        return;
    }
    QS_ASSERT(w->wide);
    struct generic_ctx g = {w, p, x, x_stride_k, x_stride_p, x_zp_col, c,
                            c_stride_n, c_stride_p, params};
    qs__pool_run(pool, (p + GENERIC_PB - 1) / GENERIC_PB, generic_task, &g);
}

// ---------------------------------------------------------------------------------------
// Depthwise.

size_t qs__qlin_dwconv_scratch(const struct qs_qdwconv_shape *s) {
    return qs__qdwconv_scratch_size(s);
}

void qs__qlin_dwconv_run(const struct qs_qdwconv_shape *s, const uint8_t *x, const int8_t *w,
                         void *y, const struct qs_qgemm_params *params, void *scratch,
                         qs_pool_t *pool) {
    qs__qdwconv_run(s, x, w, y, params, scratch, pool);
}

// ---------------------------------------------------------------------------------------
// 8-bit max pooling.

// Valid taps [t0, t1) of output o along axis i: the window positions inside the input.
static void tap_range(const struct qs_f32_window *w, int i, int64_t o, int64_t *t0, int64_t *t1) {
    int64_t b = o * w->stride[i] - w->pad[i], d = w->dil[i], n = w->in[i];
    int64_t lo = b < 0 ? (-b + d - 1) / d : 0, hi = w->k[i];
    if (b + (hi - 1) * d >= n) hi = b >= n ? 0 : (n - 1 - b) / d + 1;
    *t0 = lo;
    *t1 = hi > lo ? hi : lo;
}

// The tap ranges are computed once per output row and column, so the inner loops read
// rows without bounds checks (a per-tap check made this the hottest loop of int8 SqueezeNet).
void qs__q8_maxpool(const struct qs_f32_window *win, bool is_signed, const void *x, void *y) {
    const int64_t H = win->in[1], W = win->in[2];
    const uint8_t *xu = x;
    uint8_t *yu = y;
    // Signed values compare as unsigned after flipping the sign bit.
    const uint8_t flip = is_signed ? 0x80 : 0;
    const int64_t sw = win->stride[2], dw = win->dil[2], pw = win->pad[2];
    // 2-D windows without dilation: the max over the window's rows first (one pass over
    // each input row that the compiler vectorizes), then over the columns of that row.
    // The row max sits at tmp[pw + i] with zeros around it: 0 is the smallest (flipped)
    // value, so padding taps drop out of the column max without range checks, and a window
    // of padding only gives 0 as the general loop does.
    const int64_t OW = win->out[2], kw_n = win->k[2];
    const int64_t span = QS_MAX((OW - 1) * sw + kw_n, pw + W);
    if (win->in[0] == 1 && win->k[0] == 1 && win->dil[1] == 1 && dw == 1 && span <= 4096) {
        uint8_t tmp[4096];
        memset(tmp, 0, (size_t)span);
        uint8_t *rm = tmp + pw;
        for (int64_t oh = 0; oh < win->out[1]; oh++) {
            int64_t h0, h1;
            tap_range(win, 1, oh, &h0, &h1);
            if (h0 >= h1) {
                memset(rm, 0, (size_t)W);
            } else {
                const uint8_t *r0 = xu + (oh * win->stride[1] - win->pad[1] + h0) * W;
                for (int64_t i = 0; i < W; i++) rm[i] = r0[i] ^ flip;
            }
            for (int64_t kh = h0 + 1; kh < h1; kh++) {
                const uint8_t *row = xu + (oh * win->stride[1] - win->pad[1] + kh) * W;
                for (int64_t i = 0; i < W; i++) {
                    const uint8_t v = row[i] ^ flip;
                    rm[i] = v > rm[i] ? v : rm[i];
                }
            }
            if (kw_n == 3 && sw == 2) {  // SqueezeNet's and most CNNs' pools
                int64_t ow = 0;
#if defined(__SSE2__)
                // 16 outputs: m = max(t[i], t[i + 1]) for 32 i, then max of its even and
                // odd bytes: max(t[2o], t[2o + 1]) and max(t[2o + 1], t[2o + 2]). The last
                // byte read is tmp[2 * OW] < span.
                const __m128i lo8 = _mm_set1_epi16(0xff), fv = _mm_set1_epi8((char)flip);
                for (; ow + 16 <= OW; ow += 16) {
                    const uint8_t *t = tmp + 2 * ow;
                    const __m128i m0 = _mm_max_epu8(_mm_loadu_si128((const __m128i *)t),
                                                    _mm_loadu_si128((const __m128i *)(t + 1)));
                    const __m128i m1 = _mm_max_epu8(_mm_loadu_si128((const __m128i *)(t + 16)),
                                                    _mm_loadu_si128((const __m128i *)(t + 17)));
                    const __m128i ev =
                        _mm_packus_epi16(_mm_and_si128(m0, lo8), _mm_and_si128(m1, lo8));
                    const __m128i od =
                        _mm_packus_epi16(_mm_srli_epi16(m0, 8), _mm_srli_epi16(m1, 8));
                    _mm_storeu_si128((__m128i *)(yu + ow), _mm_xor_si128(_mm_max_epu8(ev, od), fv));
                }
#endif
                for (; ow < OW; ow++) {
                    const uint8_t *t = tmp + 2 * ow;
                    const uint8_t a = t[0] > t[1] ? t[0] : t[1];
                    yu[ow] = (a > t[2] ? a : t[2]) ^ flip;
                }
            } else {
                for (int64_t ow = 0; ow < OW; ow++) {
                    const uint8_t *t = tmp + ow * sw;
                    uint8_t m = 0;
                    for (int64_t kw = 0; kw < kw_n; kw++) m = t[kw] > m ? t[kw] : m;
                    yu[ow] = m ^ flip;
                }
            }
            yu += OW;
        }
        return;
    }
    for (int64_t od = 0; od < win->out[0]; od++) {
        int64_t d0, d1;
        tap_range(win, 0, od, &d0, &d1);
        for (int64_t oh = 0; oh < win->out[1]; oh++) {
            int64_t h0, h1;
            tap_range(win, 1, oh, &h0, &h1);
            for (int64_t ow = 0; ow < win->out[2]; ow++) {
                int64_t w0, w1;
                tap_range(win, 2, ow, &w0, &w1);
                const int64_t iw0 = ow * sw - pw;
                uint8_t m = 0;
                for (int64_t kd = d0; kd < d1; kd++) {
                    const int64_t id = od * win->stride[0] - win->pad[0] + kd * win->dil[0];
                    for (int64_t kh = h0; kh < h1; kh++) {
                        const int64_t ih = oh * win->stride[1] - win->pad[1] + kh * win->dil[1];
                        const uint8_t *row = xu + (id * H + ih) * W + iw0;
                        for (int64_t kw = w0; kw < w1; kw++) {
                            const uint8_t v = row[kw * dw] ^ flip;
                            m = v > m ? v : m;
                        }
                    }
                }
                *yu++ = m ^ flip;
            }
        }
    }
}
