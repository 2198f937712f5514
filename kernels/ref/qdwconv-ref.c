// Scalar depthwise int8 convolution: the oracle of the tests (qs__qdwconv_ref, straight
// from the contract in kernels/qgemm.h) and the portable row kernel of the driver
// (qs__qdwconv_rows_ref). Sums wrap modulo 2^32, as every SIMD variant's do; for any real
// kernel size (under 65,000 taps) nothing wraps.
#include "kernels/qdwconv-impl.h"

void qs__qdwconv_rows_ref(const struct qs_qdwconv_shape *s, const uint8_t *x, const int8_t *w,
                          const struct qs_qdw_epilogue *ep, void *y, size_t oh0, size_t oh1) {
    const int32_t zp = ep->x_zp;
    for (size_t oh = oh0; oh < oh1; oh++) {
        for (size_t ow = 0; ow < s->out_w; ow++) {
            uint32_t acc = (uint32_t)ep->bias;
            for (size_t i = 0; i < s->kh; i++) {
                int64_t ih = (int64_t)(oh * s->stride_h + i * s->dil_h) - (int64_t)s->pad_top;
                if (ih < 0 || ih >= (int64_t)s->in_h) continue;
                const uint8_t *row = x + (size_t)ih * s->in_w;
                for (size_t j = 0; j < s->kw; j++) {
                    int64_t iw =
                        (int64_t)(ow * s->stride_w + j * s->dil_w) - (int64_t)s->pad_left;
                    if (iw < 0 || iw >= (int64_t)s->in_w) continue;
                    acc += (uint32_t)(((int32_t)row[iw] - zp) * (int32_t)w[i * s->kw + j]);
                }
            }
            qs__qdw_store1(ep, (int32_t)acc, y, oh * s->out_w + ow);
        }
    }
}

void qs__qdwconv_ref(const struct qs_qdwconv_shape *s, const uint8_t *x, const int8_t *w,
                     void *y, const struct qs_qgemm_params *p) {
    const size_t plane_in = s->in_h * s->in_w, plane_out = s->out_h * s->out_w;
    for (size_t ch = 0; ch < s->channels; ch++) {
        const uint8_t *xc = x + ch * plane_in;
        const int8_t *wc = w + ch * s->kh * s->kw;
        for (size_t oh = 0; oh < s->out_h; oh++) {
            for (size_t ow = 0; ow < s->out_w; ow++) {
                uint32_t acc = p->bias ? (uint32_t)p->bias[ch] : 0;
                for (size_t i = 0; i < s->kh; i++) {
                    for (size_t j = 0; j < s->kw; j++) {
                        int64_t ih = (int64_t)(oh * s->stride_h + i * s->dil_h) -
                                     (int64_t)s->pad_top;
                        int64_t iw = (int64_t)(ow * s->stride_w + j * s->dil_w) -
                                     (int64_t)s->pad_left;
                        int32_t v = p->x_zp;
                        if (ih >= 0 && ih < (int64_t)s->in_h && iw >= 0 &&
                            iw < (int64_t)s->in_w)
                            v = xc[(size_t)ih * s->in_w + (size_t)iw];
                        acc += (uint32_t)((v - p->x_zp) * wc[i * s->kw + j]);
                    }
                }
                size_t o = ch * plane_out + oh * s->out_w + ow;
                int32_t a = (int32_t)acc;
                switch (p->out_type) {
                case QS_QOUT_U8:
                    ((uint8_t *)y)[o] = (uint8_t)qs_requant_fp32(
                        a, p->scale[ch], p->out_zp, QS_MAX(p->qmin, 0), QS_MIN(p->qmax, 255));
                    break;
                case QS_QOUT_S8:
                    ((int8_t *)y)[o] = (int8_t)qs_requant_fp32(a, p->scale[ch], p->out_zp,
                                                               QS_MAX(p->qmin, -128),
                                                               QS_MIN(p->qmax, 127));
                    break;
                case QS_QOUT_F32: {
                    float f = (float)a * p->scale[ch] + (p->fbias ? p->fbias[ch] : 0.0f);
                    f = f < p->fmin ? p->fmin : f;
                    ((float *)y)[o] = f > p->fmax ? p->fmax : f;
                    break;
                }
                case QS_QOUT_S32:
                    ((int32_t *)y)[o] = a;
                    break;
                }
            }
        }
    }
}
