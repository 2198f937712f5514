// Depthwise int8 convolution, NCHW, AArch64 NEON: 16 output pixels of one row per step,
// stride 1 or 2 along the width (vld2q_u8 splits even and odd bytes), other strides or more
// than 64 taps take the scalar rows.
//
// Exactness: input bytes are widened to int16 (0..255) and multiplied by the int16 weight
// with smlal into int32 (|x*w| <= 255*128): nothing saturates. Tiles of the output are
// computed from a staged copy of their input (see kernels/qdwconv-impl.h); the last partial
// step of a row stores through a buffer. The U8/S8 epilogue rounds with fcvtns (to nearest,
// ties to even) after clamping in float, as the x86 kernels do; the F32 clamp uses compares
// rather than fmax/fmin so that it treats -0/+0 exactly as the reference's comparisons.
#include "kernels/qdwconv-impl.h"

#include <arm_neon.h>

#define NR 16
#define MAX_TAPS 64
#define STAGE_BYTES 16384

struct epi {
    int32x4_t bias, zp;
    float32x4_t scale, flo, fhi, fbias, fmin, fmax;
};

struct acc {
    int32x4_t a0, a1, a2, a3;  // pixels 0-3, 4-7, 8-11, 12-15
};

static inline void mac(struct acc *r, const uint8_t *p, int16_t wt, bool s2) {
    uint8x16_t v = s2 ? vld2q_u8(p).val[0] : vld1q_u8(p);
    int16x8_t lo = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(v)));
    int16x8_t hi = vreinterpretq_s16_u16(vmovl_high_u8(v));
    r->a0 = vmlal_n_s16(r->a0, vget_low_s16(lo), wt);
    r->a1 = vmlal_high_n_s16(r->a1, lo, wt);
    r->a2 = vmlal_n_s16(r->a2, vget_low_s16(hi), wt);
    r->a3 = vmlal_high_n_s16(r->a3, hi, wt);
}

static inline int32x4_t requant(const struct epi *e, int32x4_t a) {
    float32x4_t f = vmulq_f32(vcvtq_f32_s32(a), e->scale);
    f = vminq_f32(vmaxq_f32(f, e->flo), e->fhi);
    return vaddq_s32(vcvtnq_s32_f32(f), e->zp);
}

static inline float32x4_t dequant(const struct epi *e, int32x4_t a) {
    float32x4_t f = vaddq_f32(vmulq_f32(vcvtq_f32_s32(a), e->scale), e->fbias);
    f = vbslq_f32(vcltq_f32(f, e->fmin), e->fmin, f);
    return vbslq_f32(vcgtq_f32(f, e->fmax), e->fmax, f);
}

static inline void store_chunk(const struct qs_qdw_epilogue *ep, const struct epi *e,
                               struct acc r, void *y, size_t n) {
    int32x4_t a[4] = {vaddq_s32(r.a0, e->bias), vaddq_s32(r.a1, e->bias),
                      vaddq_s32(r.a2, e->bias), vaddq_s32(r.a3, e->bias)};
    _Alignas(16) uint8_t tmp[NR * 4];
    uint8_t *dst = n == NR ? y : tmp;
    switch (ep->type) {
    case QS_QOUT_U8:
    case QS_QOUT_S8: {
        // Values are within [lo, hi] already: the saturating narrows only narrow.
        int16x8_t p0 = vcombine_s16(vqmovn_s32(requant(e, a[0])), vqmovn_s32(requant(e, a[1])));
        int16x8_t p1 = vcombine_s16(vqmovn_s32(requant(e, a[2])), vqmovn_s32(requant(e, a[3])));
        if (ep->type == QS_QOUT_U8)
            vst1q_u8(dst, vcombine_u8(vqmovun_s16(p0), vqmovun_s16(p1)));
        else
            vst1q_s8((int8_t *)dst, vcombine_s8(vqmovn_s16(p0), vqmovn_s16(p1)));
        break;
    }
    case QS_QOUT_F32:
        for (int i = 0; i < 4; i++) vst1q_f32((float *)dst + 4 * i, dequant(e, a[i]));
        break;
    case QS_QOUT_S32:
        for (int i = 0; i < 4; i++) vst1q_s32((int32_t *)dst + 4 * i, a[i]);
        break;
    }
    if (n != NR) memcpy(y, tmp, n * qs__qdw_elem_size(ep->type));
}

static inline struct acc chunk_3x3(const uint8_t *const *rp, const int16_t *wt, bool s2) {
    struct acc r = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) mac(&r, rp[i] + j, wt[3 * i + j], s2);
    return r;
}

static inline struct acc chunk_general(const uint8_t *const *rp, const uint8_t *trow,
                                       const size_t *tcol, const int16_t *wt, size_t taps,
                                       bool s2) {
    struct acc r = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
    for (size_t t = 0; t < taps; t++) mac(&r, rp[trow[t]] + tcol[t], wt[t], s2);
    return r;
}

void qs__qdwconv_rows__neon(const struct qs_qdwconv_shape *s, const uint8_t *x, const int8_t *w,
                            const struct qs_qdw_epilogue *ep, void *y, size_t oh0, size_t oh1) {
    const size_t kh = s->kh, kw = s->kw, taps = kh * kw, sw = s->stride_w, dw = s->dil_w;
    size_t ct, g;
    if (!ep->simd_ok || sw > 2 || taps > MAX_TAPS ||
        !qs__qdw_tiles(s, NR, STAGE_BYTES, &ct, &g)) {
        qs__qdwconv_rows_ref(s, x, w, ep, y, oh0, oh1);
        return;
    }
    const bool s2 = sw == 2, k3 = kh == 3 && kw == 3 && dw == 1;
    const size_t esz = qs__qdw_elem_size(ep->type), step = NR * sw, ext = (kw - 1) * dw;
    const size_t steps = (s->out_w + NR - 1) / NR, r1 = (kh - 1) * s->dil_h + 1;
    int16_t wt[MAX_TAPS];
    uint8_t trow[MAX_TAPS];
    size_t tcol[MAX_TAPS];
    for (size_t t = 0; t < taps; t++) {
        wt[t] = w[t];
        trow[t] = (uint8_t)(t / kw);
        tcol[t] = (t % kw) * dw;
    }
    struct epi e = {
        .bias = vdupq_n_s32(ep->bias_zp), .zp = vdupq_n_s32(ep->zp),
        .scale = vdupq_n_f32(ep->scale), .flo = vdupq_n_f32(ep->flo),
        .fhi = vdupq_n_f32(ep->fhi), .fbias = vdupq_n_f32(ep->fbias),
        .fmin = vdupq_n_f32(ep->fmin), .fmax = vdupq_n_f32(ep->fmax),
    };
    _Alignas(64) uint8_t stage[STAGE_BYTES];
    const uint8_t *rp[MAX_TAPS];
    for (size_t a = oh0; a < oh1; a += g) {
        size_t b = QS_MIN(oh1, a + g), rows = (b - a - 1) * s->stride_h + r1;
        int64_t ih0 = (int64_t)(a * s->stride_h) - (int64_t)s->pad_top;
        for (size_t c0 = 0; c0 < steps; c0 += ct) {
            size_t c1 = QS_MIN(steps, c0 + ct), width = (c1 - c0) * step + ext;
            qs__qdw_stage(stage, s, x, ih0, rows, (int64_t)(c0 * step) - (int64_t)s->pad_left,
                          width, ep->x_zp);
            for (size_t oh = a; oh < b; oh++) {
                uint8_t *yrow = (uint8_t *)y + oh * s->out_w * esz;
                for (size_t i = 0; i < kh; i++)
                    rp[i] = stage + ((oh - a) * s->stride_h + i * s->dil_h) * width;
                for (size_t c = c0; c < c1; c++) {
                    size_t ow0 = c * NR, n = QS_MIN(NR, s->out_w - ow0);
                    struct acc r;
                    // Literal strides, so that each call inlines with its loads resolved.
                    if (k3 && s2)
                        r = chunk_3x3(rp, wt, true);
                    else if (k3)
                        r = chunk_3x3(rp, wt, false);
                    else if (s2)
                        r = chunk_general(rp, trow, tcol, wt, taps, true);
                    else
                        r = chunk_general(rp, trow, tcol, wt, taps, false);
                    store_chunk(ep, &e, r, yrow + ow0 * esz, n);
                    for (size_t i = 0; i < kh; i++) rp[i] += step;
                }
            }
        }
    }
}
