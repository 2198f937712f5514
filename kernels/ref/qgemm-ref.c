// The integer GEMM oracle (a direct loop over the unpacked operands), the scalar epilogue
// every variant must reproduce, and the portable activation packer.
#include "kernels/qgemm-ukernel.h"

// Accumulation wraps modulo 2^32 in every variant; unsigned arithmetic makes that defined.
static inline int32_t wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }

static inline float clamp_f32(float f, float lo, float hi) {
    // The order of the tests is the one of max_ps(lo, f) then min_ps(hi, f): ties (-0.0 vs
    // 0.0) and NaN keep f.
    f = f < lo ? lo : f;
    return f > hi ? hi : f;
}

static void store_one(int32_t acc, size_t m, void *dst, const struct qs_qgemm_ukernel_params *p) {
    switch (p->out_type) {
    case QS_QOUT_U8:
        *(uint8_t *)dst = (uint8_t)qs_requant_fp32(acc, p->scale[m], p->out_zp, p->qmin, p->qmax);
        break;
    case QS_QOUT_S8:
        *(int8_t *)dst = (int8_t)qs_requant_fp32(acc, p->scale[m], p->out_zp, p->qmin, p->qmax);
        break;
    case QS_QOUT_F32: {
        float f = (float)acc * p->scale[m];
        f = f + p->fbias[m];
        *(float *)dst = clamp_f32(f, p->fmin, p->fmax);
        break;
    }
    case QS_QOUT_S32:
        *(int32_t *)dst = acc;
        break;
    }
}

void qs__qgemm_store_tile(size_t mr, size_t nr, const int32_t *acc, size_t acc_stride, void *c,
                          size_t c_stride_n, size_t c_stride_p,
                          const struct qs_qgemm_ukernel_params *params) {
    for (size_t m = 0; m < mr; m++) {
        char *row = (char *)c + m * c_stride_n;
        for (size_t j = 0; j < nr; j++) store_one(acc[m * acc_stride + j], m, row + j * c_stride_p, params);
    }
}

void qs__qgemm_ref(size_t n, size_t k, size_t p, const int8_t *w, size_t ldw, const uint8_t *x,
                   size_t x_stride_k, size_t x_stride_p, void *c, size_t c_stride_n,
                   size_t c_stride_p, const struct qs_qgemm_params *params) {
    size_t es = qs__qout_size(params->out_type);
    int32_t lo = params->qmin, hi = params->qmax;
    if (params->out_type == QS_QOUT_U8) lo = QS_MAX(lo, 0), hi = QS_MIN(hi, 255);
    if (params->out_type == QS_QOUT_S8) lo = QS_MAX(lo, -128), hi = QS_MIN(hi, 127);
    for (size_t i = 0; i < n; i++) {
        int32_t bias = params->bias ? params->bias[i] : 0;
        float fb = params->fbias ? params->fbias[i] : 0.0f;
        for (size_t j = 0; j < p; j++) {
            int32_t acc = bias;
            for (size_t kk = 0; kk < k; kk++) {
                int32_t xv = (int32_t)x[kk * x_stride_k + j * x_stride_p] - params->x_zp;
                acc = wrap_add(acc, (int32_t)w[i * ldw + kk] * xv);
            }
            char *dst = (char *)c + (i * c_stride_n + j * c_stride_p) * es;
            switch (params->out_type) {
            case QS_QOUT_U8:
                *(uint8_t *)dst = (uint8_t)qs_requant_fp32(acc, params->scale[i], params->out_zp, lo, hi);
                break;
            case QS_QOUT_S8:
                *(int8_t *)dst = (int8_t)qs_requant_fp32(acc, params->scale[i], params->out_zp, lo, hi);
                break;
            case QS_QOUT_F32: {
                float f = (float)acc * params->scale[i];
                f = f + fb;
                *(float *)dst = clamp_f32(f, params->fmin, params->fmax);
                break;
            }
            case QS_QOUT_S32:
                *(int32_t *)dst = acc;
                break;
            }
        }
    }
}

void qs__qgemm_packx_generic(const struct qs_qgemm_config *cfg, size_t k, size_t np,
                             const uint8_t *x, size_t x_stride_k, size_t x_stride_p,
                             void *packed) {
    size_t nr = cfg->nr, kr = cfg->kr, kc = QS_MAX(qs__qgemm_round_up(k, kr), kr);
    int32_t bias = cfg->x_bias;
    uint8_t *o8 = packed;
    int16_t *o16 = packed;
    size_t i = 0;
    for (size_t g = 0; g < kc; g += kr) {
        for (size_t j = 0; j < nr; j++) {
            for (size_t r = 0; r < kr; r++, i++) {
                size_t kk = g + r;
                int32_t v = kk < k && j < np ? (int32_t)x[kk * x_stride_k + j * x_stride_p] - bias : 0;
                if (cfg->x_elem == 1)
                    o8[i] = (uint8_t)v;
                else
                    o16[i] = (int16_t)v;
            }
        }
    }
}
