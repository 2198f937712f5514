// Private to the depthwise int8 kernels (kernels/ref, kernels/x86, kernels/arm,
// kernels/config): the per-channel epilogue the driver resolves, the row kernel every
// variant implements, and the helpers the SIMD variants share.
//
// Driver (kernels/config/qdwconv-config.c): splits (channel, row block) tasks over the pool,
// resolves one struct qs_qdw_epilogue per channel and calls the chosen variant's row kernel.
//
// SIMD variants tile the output (qs__qdw_tiles) and copy each tile's input into a stack
// buffer with x_zp around the image (qs__qdw_stage), so that their loops read every tap of
// every pixel without bounds checks and never read past the input. Per pixel they compute
// acc = sum over all taps of xp * w + bias_zp, xp the staged byte (x_zp outside the image),
// bias_zp = bias - x_zp * sum(w): modulo 2^32 exactly the reference's sum over the valid
// taps of (x - x_zp) * w + bias.
#pragma once

#include "kernels/qgemm.h"

#include <string.h>

/// Epilogue of one channel. lo/hi are params->qmin/qmax intersected with the range of the
/// output type (an out-of-range clamp cannot be stored anyway).
struct qs_qdw_epilogue {
    enum qs_qout type;
    uint8_t x_zp;
    int32_t bias;     // the channel's int32 bias (0 when params->bias is NULL)
    int32_t bias_zp;  // bias - x_zp * sum(w), wrapping
    float scale, fbias;
    int32_t zp, lo, hi;
    float fmin, fmax;
    // SIMD form of the U8/S8 rounding: clamp acc * scale to [flo, fhi] = [lo - zp, hi - zp]
    // in float, round half to even (cvtps2dq, fcvtns), add zp. Equal to qs_requant_fp32
    // whenever |zp| <= 2^21 (then |flo|, |fhi| < 2^22, where the reference's own rounding is
    // half to even and nothing overflows); simd_ok is false otherwise and variants use the
    // scalar rows.
    float flo, fhi;
    bool simd_ok;
};

/// Output rows [oh0, oh1) of one channel: x is the channel's input plane [in_h][in_w], w
/// its [kh][kw] weights, y its output plane [out_h][out_w] (element type from ep->type).
typedef void (*qs_qdwconv_rows_fn)(const struct qs_qdwconv_shape *s, const uint8_t *x,
                                   const int8_t *w, const struct qs_qdw_epilogue *ep, void *y,
                                   size_t oh0, size_t oh1);

struct qs_qdwconv_variant {
    const char *name;  // "ref", "avx2", "avx512", "neon"
    qs_qdwconv_rows_fn rows;
};

/// Scalar rows (the portable fallback, kernels/ref/qdwconv-ref.c). Any shape.
QS_INTERNAL void qs__qdwconv_rows_ref(const struct qs_qdwconv_shape *s, const uint8_t *x,
                                      const int8_t *w, const struct qs_qdw_epilogue *ep,
                                      void *y, size_t oh0, size_t oh1);
/// The oracle of the tests: the contract of qs__qdwconv_run computed naively, one pixel at a
/// time, straight from params (shares no code with the driver).
QS_INTERNAL void qs__qdwconv_ref(const struct qs_qdwconv_shape *s, const uint8_t *x,
                                 const int8_t *w, void *y, const struct qs_qgemm_params *params);

#if defined(__x86_64__) || defined(__i386__)
QS_INTERNAL void qs__qdwconv_rows__avx2(const struct qs_qdwconv_shape *s, const uint8_t *x,
                                        const int8_t *w, const struct qs_qdw_epilogue *ep,
                                        void *y, size_t oh0, size_t oh1);
QS_INTERNAL void qs__qdwconv_rows__avx512(const struct qs_qdwconv_shape *s, const uint8_t *x,
                                          const int8_t *w, const struct qs_qdw_epilogue *ep,
                                          void *y, size_t oh0, size_t oh1);
#endif
#if defined(__aarch64__) && QS_ENABLE_NEON
QS_INTERNAL void qs__qdwconv_rows__neon(const struct qs_qdwconv_shape *s, const uint8_t *x,
                                        const int8_t *w, const struct qs_qdw_epilogue *ep,
                                        void *y, size_t oh0, size_t oh1);
#endif

/// Variants runnable on this CPU and built in, "ref" first (at most `max`). For tests.
QS_INTERNAL size_t qs__qdwconv_variants(const struct qs_qdwconv_variant **out, size_t max);
/// The variant qs__qdwconv_run uses (chosen once; QS_KERNELS=ref or scalar forces "ref",
/// QS_KERNELS=avx2 or avxvnni caps x86 at AVX2).
QS_INTERNAL const struct qs_qdwconv_variant *qs__qdwconv_variant(void);
/// qs__qdwconv_run with a given variant.
QS_INTERNAL void qs__qdwconv_run_with(const struct qs_qdwconv_variant *v,
                                      const struct qs_qdwconv_shape *s, const uint8_t *x,
                                      const int8_t *w, void *y,
                                      const struct qs_qgemm_params *params, void *scratch,
                                      qs_pool_t *pool);

static inline size_t qs__qdw_elem_size(enum qs_qout t) {
    return t == QS_QOUT_U8 || t == QS_QOUT_S8 ? 1 : 4;
}

/// Stores y[i] = epilogue(acc), acc already holding the bias.
static inline void qs__qdw_store1(const struct qs_qdw_epilogue *ep, int32_t acc, void *y,
                                  size_t i) {
    switch (ep->type) {
    case QS_QOUT_U8:
        ((uint8_t *)y)[i] = (uint8_t)qs_requant_fp32(acc, ep->scale, ep->zp, ep->lo, ep->hi);
        break;
    case QS_QOUT_S8:
        ((int8_t *)y)[i] = (int8_t)qs_requant_fp32(acc, ep->scale, ep->zp, ep->lo, ep->hi);
        break;
    case QS_QOUT_F32: {
        // The clamp in the order of max(fmin, v) then min(fmax, v), as qs__qgemm_store_tile.
        float v = (float)acc * ep->scale + ep->fbias;
        v = v < ep->fmin ? ep->fmin : v;
        v = v > ep->fmax ? ep->fmax : v;
        ((float *)y)[i] = v;
        break;
    }
    case QS_QOUT_S32:
        ((int32_t *)y)[i] = acc;
        break;
    }
}

/// Output tiling of a staged SIMD kernel doing `nr` pixels of a row per step: tiles of *ct
/// steps by *g rows, whose input fits in stage_bytes (the step of the last pixel reads
/// nr * stride_w bytes from each tap). False when one step of one row does not fit.
static inline bool qs__qdw_tiles(const struct qs_qdwconv_shape *s, size_t nr,
                                 size_t stage_bytes, size_t *ct, size_t *g) {
    size_t steps = (s->out_w + nr - 1) / nr;
    size_t r1 = (s->kh - 1) * s->dil_h + 1, ext = (s->kw - 1) * s->dil_w;
    size_t step = nr * s->stride_w;
    if (r1 * (step + ext) > stage_bytes) return false;
    size_t c = QS_MIN(steps, (stage_bytes / r1 - ext) / step);
    *ct = c;
    *g = (stage_bytes / (c * step + ext) - r1) / s->stride_h + 1;
    return true;
}

/// Copies rows [ih0, ih0 + rows) x columns [col0, col0 + width) of the input plane x into
/// stage (row stride `width`), x_zp outside the image.
static inline void qs__qdw_stage(uint8_t *stage, const struct qs_qdwconv_shape *s,
                                 const uint8_t *x, int64_t ih0, size_t rows, int64_t col0,
                                 size_t width, uint8_t x_zp) {
    int64_t b = col0 < 0 ? 0 : col0, e = col0 + (int64_t)width;
    if (e > (int64_t)s->in_w) e = (int64_t)s->in_w;
    for (size_t r = 0; r < rows; r++) {
        uint8_t *dst = stage + r * width;
        int64_t ih = ih0 + (int64_t)r;
        if (ih < 0 || ih >= (int64_t)s->in_h || b >= e) {
            memset(dst, x_zp, width);
            continue;
        }
        if (b > col0) memset(dst, x_zp, (size_t)(b - col0));
        memcpy(dst + (b - col0), x + (size_t)ih * s->in_w + b, (size_t)(e - b));
        int64_t end = col0 + (int64_t)width;
        if (e < end) memset(dst + (e - col0), x_zp, (size_t)(end - e));
    }
}
