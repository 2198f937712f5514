// Quantization parameters: integer ranges, scale/zero point from a real range, quantize and
// dequantize rows, int8 weights, int32 biases, and fixed-point multipliers.
#include "quant/quant-impl.h"

#include <float.h>
#include <math.h>

enum qs_status qs_qrange(enum qs_dtype dtype, int bits, bool narrow, int32_t *qmin_out,
                         int32_t *qmax_out) {
    if (bits < 2 || bits > 8) return QS_STATUS_INVALID_ARG;
    int32_t lo, hi;
    if (dtype == QS_DTYPE_U8) {
        lo = 0;
        hi = (1 << bits) - 1;
    } else if (dtype == QS_DTYPE_I8) {
        hi = (1 << (bits - 1)) - 1;
        lo = narrow ? -hi : -hi - 1;
    } else {
        return QS_STATUS_INVALID_ARG;
    }
    *qmin_out = lo;
    *qmax_out = hi;
    return QS_STATUS_OK;
}

enum qs_status qs_qparams_from_range(double lo, double hi, enum qs_dtype dtype, int bits,
                                     bool narrow, struct qs_qparams *params_out,
                                     struct qs_diag *diag) {
    int32_t qmin, qmax;
    if (qs_qrange(dtype, bits, narrow, &qmin, &qmax) != QS_STATUS_OK)
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "quantization parameters: unsupported type %s with %d bits",
                        qs_dtype_name(dtype), bits);
    if (!isfinite(lo) || !isfinite(hi))
        return qs__diag(diag, QS_STATUS_NUMERIC,
                        "quantization parameters: range [%g, %g] is not finite", lo, hi);
    if (lo > hi)
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "quantization parameters: empty range [%g, %g]", lo, hi);
    // 0 must be exactly representable (zero padding, Relu outputs).
    lo = fmin(lo, 0.0);
    hi = fmax(hi, 0.0);
    bool symmetric = dtype == QS_DTYPE_I8;
    if (symmetric) {
        double a = fmax(-lo, hi);
        lo = -a;
        hi = a;
    }
    double s = (hi - lo) / (double)(qmax - qmin);
    struct qs_qparams p = {1.0f, 0, qmin, qmax};
    if (s > FLT_MAX)
        return qs__diag(diag, QS_STATUS_NUMERIC,
                        "quantization parameters: range [%g, %g] overflows a float scale", lo,
                        hi);
    if ((float)s < FLT_MIN) {
        // Degenerate range: every value is 0, which any zero point represents.
        p.scale = 1.0f;
        p.zero_point = symmetric ? (int32_t)nearbyint((qmin + qmax) / 2.0) : qmin;
    } else {
        p.scale = (float)s;
        if (symmetric) {
            p.zero_point = (int32_t)nearbyint((qmin + qmax) / 2.0);
        } else {
            double zp = nearbyint((double)qmin - lo / (double)p.scale);
            p.zero_point = (int32_t)fmin(fmax(zp, qmin), qmax);
        }
    }
    *params_out = p;
    return QS_STATUS_OK;
}

// Quantization in float as ONNX QuantizeLinear: x / scale (a division, not a multiplication by
// the reciprocal, which rounds differently), clamped in the integer domain before rounding
// (equivalent since the bounds are integers) so that the rounding trick stays exact.
static inline float quantize_f(float x, float scale, float zp, float lo, float hi) {
    float v = x / scale;
    v = v != v ? 0.0f : v;
    v = v < lo - zp ? lo - zp : v;
    v = v > hi - zp ? hi - zp : v;
    return qs__round_half_even(v) + zp;
}

int32_t qs_quantize_value(float x, const struct qs_qparams *p) {
    return (int32_t)quantize_f(x, p->scale, (float)p->zero_point, (float)p->qmin,
                               (float)p->qmax);
}

float qs_dequantize_value(int32_t q, const struct qs_qparams *p) {
    return (float)(q - p->zero_point) * p->scale;
}

void qs_quantize_row_u8(const float *x, size_t n, const struct qs_qparams *p, uint8_t *y) {
    QS_ASSERT(p->qmin >= 0 && p->qmax <= 255);
    float s = p->scale, zp = (float)p->zero_point, lo = (float)p->qmin, hi = (float)p->qmax;
    for (size_t i = 0; i < n; i++) y[i] = (uint8_t)(int32_t)quantize_f(x[i], s, zp, lo, hi);
}

void qs_quantize_row_s8(const float *x, size_t n, const struct qs_qparams *p, int8_t *y) {
    QS_ASSERT(p->qmin >= -128 && p->qmax <= 127);
    float s = p->scale, zp = (float)p->zero_point, lo = (float)p->qmin, hi = (float)p->qmax;
    for (size_t i = 0; i < n; i++) y[i] = (int8_t)(int32_t)quantize_f(x[i], s, zp, lo, hi);
}

void qs_dequantize_row_u8(const uint8_t *q, size_t n, const struct qs_qparams *p, float *y) {
    float s = p->scale;
    int32_t zp = p->zero_point;
    for (size_t i = 0; i < n; i++) y[i] = (float)((int32_t)q[i] - zp) * s;
}

void qs_dequantize_row_s8(const int8_t *q, size_t n, const struct qs_qparams *p, float *y) {
    float s = p->scale;
    int32_t zp = p->zero_point;
    for (size_t i = 0; i < n; i++) y[i] = (float)((int32_t)q[i] - zp) * s;
}

enum qs_status qs_quantize_weights_s8(const float *w, int64_t n_out, int64_t k,
                                      bool per_channel, int bits, int8_t *q_out,
                                      float *scales_out, struct qs_diag *diag) {
    int32_t qmin, qmax;
    if (qs_qrange(QS_DTYPE_I8, bits, true, &qmin, &qmax) != QS_STATUS_OK)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "weight quantization: %d bits", bits);
    double tensor_max = 0.0;
    for (int64_t r = 0; r < n_out; r++) {
        double m = 0.0;
        const float *row = w + r * k;
        for (int64_t i = 0; i < k; i++) {
            if (!isfinite(row[i]))
                return qs__diag(diag, QS_STATUS_NUMERIC,
                                "weight quantization: non-finite weight in row %lld",
                                (long long)r);
            m = fmax(m, fabs((double)row[i]));
        }
        if (per_channel) {
            struct qs_qparams p;
            enum qs_status st = qs_qparams_from_range(-m, m, QS_DTYPE_I8, bits, true, &p, diag);
            if (st != QS_STATUS_OK) return st;
            scales_out[r] = p.scale;
        }
        tensor_max = fmax(tensor_max, m);
    }
    if (!per_channel) {
        struct qs_qparams p;
        enum qs_status st =
            qs_qparams_from_range(-tensor_max, tensor_max, QS_DTYPE_I8, bits, true, &p, diag);
        if (st != QS_STATUS_OK) return st;
        scales_out[0] = p.scale;
    }
    for (int64_t r = 0; r < n_out; r++) {
        struct qs_qparams p = {per_channel ? scales_out[r] : scales_out[0], 0, qmin, qmax};
        qs_quantize_row_s8(w + r * k, (size_t)k, &p, q_out + r * k);
    }
    return QS_STATUS_OK;
}

enum qs_status qs_quantize_bias(const float *bias, size_t n, float s_in, const float *s_w,
                                bool per_channel, int32_t *bias_out, struct qs_diag *diag) {
    for (size_t i = 0; i < n; i++) {
        // The product in float is the scale a QDQ export stores for the bias.
        float s = s_in * s_w[per_channel ? i : 0];
        if (!(s > 0.0f) || !isfinite(s))
            return qs__diag(diag, QS_STATUS_NUMERIC,
                            "bias quantization: scale %g * %g of channel %zu is not positive "
                            "and finite",
                            (double)s_in, (double)s_w[per_channel ? i : 0], i);
        if (!isfinite(bias[i]))
            return qs__diag(diag, QS_STATUS_NUMERIC,
                            "bias quantization: non-finite bias at channel %zu", i);
        double q = nearbyint((double)bias[i] / (double)s);
        bias_out[i] = q >= 2147483647.0 ? INT32_MAX : q <= -2147483648.0 ? INT32_MIN : (int32_t)q;
    }
    return QS_STATUS_OK;
}

enum qs_status qs_quantize_multiplier(double m, struct qs_fixed_multiplier *out) {
    if (!(m >= 0.0) || !(m < 2147483648.0)) return QS_STATUS_INVALID_ARG;
    if (m == 0.0) {
        *out = (struct qs_fixed_multiplier){0, 0};
        return QS_STATUS_OK;
    }
    int e;
    double q = frexp(m, &e);  // m = q * 2^e, q in [0.5, 1)
    int64_t fixed = (int64_t)llround(q * 2147483648.0);  // ties away, as TfLiteRound
    if (fixed == (INT64_C(1) << 31)) {
        fixed /= 2;
        e++;
    }
    if (e < -31) {
        // Below 2^-32 every product with an int32 rounds to 0 or +-1; TFLite flushes it.
        *out = (struct qs_fixed_multiplier){0, 0};
        return QS_STATUS_OK;
    }
    QS_ASSERT(e <= 31);
    *out = (struct qs_fixed_multiplier){(int32_t)fixed, -e};
    return QS_STATUS_OK;
}

// gemmlowp SaturatingRoundingDoublingHighMul: (a * b * 2 + 2^31) >> 32 with ties
// away from zero, saturating the single overflow case INT32_MIN * INT32_MIN.
static int32_t srdhm(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? (INT64_C(1) << 30) : 1 - (INT64_C(1) << 30);
    return (int32_t)((ab + nudge) / (INT64_C(1) << 31));
}

// gemmlowp RoundingDivideByPOT: x / 2^e rounded to nearest, ties away from zero.
static int32_t rdbpot(int32_t x, int e) {
    if (e == 0) return x;
    int64_t mask = (INT64_C(1) << e) - 1;
    int64_t rem = (int64_t)x & mask;
    int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (int32_t)(((int64_t)x >> e) + (rem > threshold ? 1 : 0));
}

// acc << left_shift saturated to int32: TFLite multiplies without a check; saturating keeps
// the references defined everywhere.
static int32_t shift_left_sat(int32_t acc, const struct qs_fixed_multiplier *m) {
    int left = m->right_shift < 0 ? -m->right_shift : 0;
    int64_t x = (int64_t)acc * (INT64_C(1) << left);
    return x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : (int32_t)x;
}

static int32_t add_clamp(int64_t y, int32_t zero_point, int32_t qmin, int32_t qmax) {
    y += zero_point;
    return y < qmin ? qmin : y > qmax ? qmax : (int32_t)y;
}

int32_t qs_requant_fixed_ref(int32_t acc, const struct qs_fixed_multiplier *m,
                             int32_t zero_point, int32_t qmin, int32_t qmax) {
    int right = m->right_shift > 0 ? m->right_shift : 0;
    int32_t y = rdbpot(srdhm(shift_left_sat(acc, m), m->multiplier), right);
    return add_clamp(y, zero_point, qmin, qmax);
}

int32_t qs_requant_fixed_single_ref(int32_t acc, const struct qs_fixed_multiplier *m,
                                    int32_t zero_point, int32_t qmin, int32_t qmax) {
    int sh = 31 + (m->right_shift > 0 ? m->right_shift : 0);
    // |x * multiplier| < 2^62: exact in int64; >> is a floor, so adding half rounds ties up.
    int64_t p = (int64_t)shift_left_sat(acc, m) * m->multiplier;
    return add_clamp((p + (INT64_C(1) << (sh - 1))) >> sh, zero_point, qmin, qmax);
}
