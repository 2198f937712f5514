// Quantization parameters: integer ranges, scale/zero point from a range (0 included,
// zero point nudged half to even, degenerate ranges), QuantizeLinear rounding (ties, clamps,
// division rather than reciprocal), rows, int8 weights, int32 biases and the fixed-point
// multiplier conversion.
#include "quant/quant-impl.h"
#include "test.h"

#include <float.h>
#include <math.h>

static uint32_t rng = 12345;
static uint32_t next_u32(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}
static float frand(float lo, float hi) {
    return lo + (hi - lo) * (float)(next_u32() >> 8) / 16777216.0f;
}

static void test_qrange(void) {
    int32_t lo, hi;
    ASSERT_OK(qs_qrange(QS_DTYPE_U8, 8, false, &lo, &hi));
    ASSERT_EQ(lo, 0); ASSERT_EQ(hi, 255);
    ASSERT_OK(qs_qrange(QS_DTYPE_I8, 8, false, &lo, &hi));
    ASSERT_EQ(lo, -128); ASSERT_EQ(hi, 127);
    ASSERT_OK(qs_qrange(QS_DTYPE_I8, 8, true, &lo, &hi));
    ASSERT_EQ(lo, -127); ASSERT_EQ(hi, 127);
    for (int b = 2; b <= 8; b++) {
        ASSERT_OK(qs_qrange(QS_DTYPE_U8, b, false, &lo, &hi));
        ASSERT_EQ(hi - lo, (1 << b) - 1);
        ASSERT_OK(qs_qrange(QS_DTYPE_I8, b, true, &lo, &hi));
        ASSERT_EQ(lo, -hi); ASSERT_EQ(hi, (1 << (b - 1)) - 1);
    }
    ASSERT_EQ(qs_qrange(QS_DTYPE_U8, 1, false, &lo, &hi), QS_STATUS_INVALID_ARG);
    ASSERT_EQ(qs_qrange(QS_DTYPE_I8, 9, false, &lo, &hi), QS_STATUS_INVALID_ARG);
    ASSERT_EQ(qs_qrange(QS_DTYPE_F32, 8, false, &lo, &hi), QS_STATUS_INVALID_ARG);
}

static struct qs_qparams params(double lo, double hi, enum qs_dtype dt, int bits, bool narrow) {
    struct qs_qparams p;
    struct qs_diag d;
    if (qs_qparams_from_range(lo, hi, dt, bits, narrow, &p, &d) != QS_STATUS_OK) {
        fprintf(stderr, "qparams [%g, %g]: %s\n", lo, hi, d.msg);
        exit(1);
    }
    return p;
}

static void test_qparams(void) {
    struct qs_qparams p = params(-64, 191, QS_DTYPE_U8, 8, false);
    ASSERT_TRUE(p.scale == 1.0f); ASSERT_EQ(p.zero_point, 64);
    ASSERT_EQ(p.qmin, 0); ASSERT_EQ(p.qmax, 255);
    // Zero point nudging, ties to even: 2-bit [0, 3] with scale 1.
    p = params(-1.5, 1.5, QS_DTYPE_U8, 2, false);
    ASSERT_TRUE(p.scale == 1.0f); ASSERT_EQ(p.zero_point, 2);
    p = params(-2.5, 0.5, QS_DTYPE_U8, 2, false);
    ASSERT_TRUE(p.scale == 1.0f); ASSERT_EQ(p.zero_point, 2);
    p = params(-0.5, 2.5, QS_DTYPE_U8, 2, false);
    ASSERT_TRUE(p.scale == 1.0f); ASSERT_EQ(p.zero_point, 0);
    // Ranges are widened to contain 0.
    p = params(2, 6, QS_DTYPE_U8, 8, false);
    ASSERT_EQ(p.zero_point, 0); ASSERT_TRUE(p.scale == (float)(6.0 / 255));
    p = params(-6, -2, QS_DTYPE_U8, 8, false);
    ASSERT_EQ(p.zero_point, 255); ASSERT_TRUE(p.scale == (float)(6.0 / 255));
    // Symmetric int8: the larger magnitude on both sides, zero point 0.
    p = params(-1, 3, QS_DTYPE_I8, 8, false);
    ASSERT_EQ(p.zero_point, 0); ASSERT_TRUE(p.scale == (float)(6.0 / 255));
    ASSERT_EQ(p.qmin, -128);
    p = params(-1, 3, QS_DTYPE_I8, 8, true);
    ASSERT_EQ(p.zero_point, 0); ASSERT_TRUE(p.scale == (float)(3.0 / 127));
    ASSERT_EQ(p.qmin, -127);
    // Degenerate ranges.
    p = params(0, 0, QS_DTYPE_U8, 8, false);
    ASSERT_TRUE(p.scale == 1.0f); ASSERT_EQ(p.zero_point, 0);
    p = params(0, 0, QS_DTYPE_I8, 8, true);
    ASSERT_TRUE(p.scale == 1.0f); ASSERT_EQ(p.zero_point, 0);
    p = params(0, 1e-45, QS_DTYPE_U8, 8, false);
    ASSERT_TRUE(p.scale == 1.0f);
    p = params(5, 5, QS_DTYPE_U8, 8, false);
    ASSERT_EQ(p.zero_point, 0); ASSERT_TRUE(p.scale == (float)(5.0 / 255));
    // Errors.
    struct qs_diag d;
    ASSERT_EQ(qs_qparams_from_range(1, -1, QS_DTYPE_U8, 8, false, &p, &d), QS_STATUS_INVALID_ARG);
    ASSERT_EQ(qs_qparams_from_range(NAN, 1, QS_DTYPE_U8, 8, false, &p, &d), QS_STATUS_NUMERIC);
    ASSERT_EQ(qs_qparams_from_range(0, INFINITY, QS_DTYPE_U8, 8, false, &p, &d),
              QS_STATUS_NUMERIC);
    ASSERT_EQ(qs_qparams_from_range(0, 1e300, QS_DTYPE_U8, 8, false, &p, &d), QS_STATUS_NUMERIC);
    ASSERT_EQ(qs_qparams_from_range(0, 1, QS_DTYPE_I32, 8, false, &p, &d), QS_STATUS_INVALID_ARG);
    // Random ranges: 0 is exact, the ends map to within one step of the integer ends, and
    // the zero point is an integer of the range.
    for (int i = 0; i < 100000; i++) {
        double lo = -exp(frand(-20, 10)) * (i % 7 == 0 ? 0 : 1);
        double hi = exp(frand(-20, 10)) * (i % 11 == 0 ? 0 : 1);
        int bits = 2 + i % 7;
        enum qs_dtype dt = i % 2 ? QS_DTYPE_U8 : QS_DTYPE_I8;
        p = params(lo, hi, dt, bits, false);
        ASSERT_TRUE(p.zero_point >= p.qmin && p.zero_point <= p.qmax);
        ASSERT_EQ(qs_quantize_value(0.0f, &p), p.zero_point);
        ASSERT_TRUE(qs_dequantize_value(qs_quantize_value(0.0f, &p), &p) == 0.0f);
        if (dt == QS_DTYPE_U8 && p.scale != 1.0f) {
            ASSERT_TRUE(abs(qs_quantize_value((float)lo, &p) - p.qmin) <= 1);
            ASSERT_TRUE(abs(qs_quantize_value((float)hi, &p) - p.qmax) <= 1);
        }
    }
}

static void test_rounding(void) {
    struct qs_qparams p = {1.0f, 0, -128, 127};
    static const float x[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f, -127.5f, 0.49999997f};
    static const int32_t want[] = {0, 2, 2, 0, -2, -2, 126, -128, 0};
    for (size_t i = 0; i < QS_COUNTOF(x); i++) ASSERT_EQ(qs_quantize_value(x[i], &p), want[i]);
    // Clamps, infinities and NaN (to the zero point).
    ASSERT_EQ(qs_quantize_value(200.0f, &p), 127);
    ASSERT_EQ(qs_quantize_value(-200.0f, &p), -128);
    ASSERT_EQ(qs_quantize_value(INFINITY, &p), 127);
    ASSERT_EQ(qs_quantize_value(-INFINITY, &p), -128);
    ASSERT_EQ(qs_quantize_value(NAN, &p), 0);
    ASSERT_EQ(qs_quantize_value(3e38f, &p), 127);
    struct qs_qparams n = {1.0f, 0, -127, 127};
    ASSERT_EQ(qs_quantize_value(-200.0f, &n), -127);
    struct qs_qparams u = {0.5f, 128, 0, 255};
    ASSERT_EQ(qs_quantize_value(-64.25f, &u), 0);   // -128.5 -> -128, + 128
    ASSERT_EQ(qs_quantize_value(-64.75f, &u), 0);   // clamped
    ASSERT_EQ(qs_quantize_value(0.25f, &u), 128);   // 0.5 -> 0
    ASSERT_EQ(qs_quantize_value(0.75f, &u), 130);   // 1.5 -> 2
    ASSERT_EQ(qs_quantize_value(NAN, &u), 128);
    // Against libm: x / scale (not x * (1 / scale)), nearbyintf, + zp, saturate. Values are
    // drawn near ties, where a reciprocal or a different rounding shows.
    int differ = 0;
    for (int i = 0; i < 2000000; i++) {
        float s = exp2f(frand(-12, 4)) * (1.0f + frand(0, 1));
        int32_t zp = (int32_t)(next_u32() % 256);
        struct qs_qparams q = {s, zp, 0, 255};
        float k = (float)((int)(next_u32() % 600) - 300) + 0.5f;
        float xv = i % 2 ? k * s : frand(-300, 300) * s;
        if (i % 4 == 1) xv = nextafterf(xv, next_u32() % 2 ? INFINITY : -INFINITY);
        float v = nearbyintf(xv / s) + (float)zp;
        int32_t want1 = v < 0 ? 0 : v > 255 ? 255 : (int32_t)v;
        int32_t got = qs_quantize_value(xv, &q);
        if (got != want1) {
            fprintf(stderr, "x %.9g scale %.9g zp %d: got %d, want %d\n", (double)xv, (double)s,
                    zp, got, want1);
            exit(1);
        }
        float r = nearbyintf(xv * (1.0f / s)) + (float)zp;
        differ += (r < 0 ? 0 : r > 255 ? 255 : (int32_t)r) != want1;
    }
    // The reciprocal really rounds differently somewhere, so the check above has teeth.
    printf("reciprocal differs from division on %d of 2000000 values\n", differ);
    ASSERT_TRUE(differ > 0);
}

static void test_rows(void) {
    enum { N = 1000 };
    float x[N], y[N];
    uint8_t qu[N];
    int8_t qs[N];
    for (int i = 0; i < N; i++) x[i] = frand(-3, 3);
    x[0] = NAN, x[1] = INFINITY, x[2] = -INFINITY;
    struct qs_qparams pu = params(-2, 2.5, QS_DTYPE_U8, 8, false);
    struct qs_qparams ps = params(-2, 2.5, QS_DTYPE_I8, 8, false);
    qs_quantize_row_u8(x, N, &pu, qu);
    qs_quantize_row_s8(x, N, &ps, qs);
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(qu[i], qs_quantize_value(x[i], &pu));
        ASSERT_EQ(qs[i], qs_quantize_value(x[i], &ps));
    }
    qs_dequantize_row_u8(qu, N, &pu, y);
    for (int i = 0; i < N; i++) ASSERT_TRUE(y[i] == ((float)(qu[i] - pu.zero_point)) * pu.scale);
    qs_dequantize_row_s8(qs, N, &ps, y);
    for (int i = 3; i < N; i++) {
        ASSERT_TRUE(y[i] == (float)qs[i] * ps.scale);
        if (fabsf(x[i]) <= 2.5f) ASSERT_TRUE(fabsf(y[i] - x[i]) <= 0.5f * ps.scale * 1.0001f);
    }
}

static void test_weights(void) {
    const float w[3][4] = {{1.0f, -2.0f, 0.5f, 0.0f}, {0, 0, 0, 0}, {0.25f, 0.125f, -0.0625f, 0}};
    int8_t q[12];
    float s[3];
    struct qs_diag d;
    ASSERT_OK(qs_quantize_weights_s8(&w[0][0], 3, 4, true, 8, q, s, &d));
    ASSERT_TRUE(s[0] == 2.0f / 127.0f); ASSERT_TRUE(s[1] == 1.0f);
    ASSERT_TRUE(s[2] == (float)(0.25 / 127));
    static const int8_t want[12] = {64, -127, 32, 0, 0, 0, 0, 0, 127, 64, -32, 0};
    for (int i = 0; i < 12; i++) ASSERT_EQ(q[i], want[i]);
    ASSERT_OK(qs_quantize_weights_s8(&w[0][0], 3, 4, false, 8, q, s, &d));
    ASSERT_TRUE(s[0] == 2.0f / 127.0f);
    ASSERT_EQ(q[1], -127); ASSERT_EQ(q[8], 16); ASSERT_EQ(q[10], -4);
    // 4 bits: [-7, 7].
    const float w4[4] = {0.875f, -1.75f, 0.4375f, 0.625f};  // scale 0.25 exactly
    ASSERT_OK(qs_quantize_weights_s8(w4, 1, 4, true, 4, q, s, &d));
    ASSERT_TRUE(s[0] == 0.25f);
    // 3.5 -> 4, -7, 1.75 -> 2, 2.5 -> 2
    ASSERT_EQ(q[0], 4); ASSERT_EQ(q[1], -7); ASSERT_EQ(q[2], 2); ASSERT_EQ(q[3], 2);
    float bad[2] = {1.0f, NAN};
    ASSERT_EQ(qs_quantize_weights_s8(bad, 1, 2, true, 8, q, s, &d), QS_STATUS_NUMERIC);
    ASSERT_STR_CONTAINS(d.msg, "row 0");
    ASSERT_EQ(qs_quantize_weights_s8(bad, 1, 2, true, 9, q, s, &d), QS_STATUS_INVALID_ARG);
}

static void test_bias(void) {
    const float b[6] = {1.0f, 0.5f, 1.5f, 2.5f, -2.5f, 1e10f};
    const float sw[6] = {0.25f, 2, 2, 2, 2, 2};
    int32_t q[6];
    struct qs_diag d;
    ASSERT_OK(qs_quantize_bias(b, 1, 0.5f, sw, true, q, &d));
    ASSERT_EQ(q[0], 8);
    ASSERT_OK(qs_quantize_bias(b + 1, 5, 0.5f, sw + 1, true, q, &d));
    ASSERT_EQ(q[0], 0); ASSERT_EQ(q[1], 2); ASSERT_EQ(q[2], 2); ASSERT_EQ(q[3], -2);
    ASSERT_EQ(q[4], INT32_MAX);
    ASSERT_OK(qs_quantize_bias(b, 2, 0.5f, sw, false, q, &d));
    ASSERT_EQ(q[0], 8); ASSERT_EQ(q[1], 4);
    // The scale product is the float one a QDQ export writes.
    float s_in = 0.1f, s_w = 0.3f, bv = 7.77f;
    ASSERT_OK(qs_quantize_bias(&bv, 1, s_in, &s_w, false, q, &d));
    ASSERT_EQ(q[0], (int32_t)nearbyint((double)bv / (double)(s_in * s_w)));
    float nanb = NAN, zero = 0.0f;
    ASSERT_EQ(qs_quantize_bias(&nanb, 1, 1, &s_w, false, q, &d), QS_STATUS_NUMERIC);
    ASSERT_EQ(qs_quantize_bias(b, 1, 1, &zero, false, q, &d), QS_STATUS_NUMERIC);
}

static void test_multiplier(void) {
    struct qs_fixed_multiplier m;
    ASSERT_OK(qs_quantize_multiplier(0.5, &m));
    ASSERT_EQ(m.multiplier, 1 << 30); ASSERT_EQ(m.right_shift, 0);
    ASSERT_OK(qs_quantize_multiplier(0.75, &m));
    ASSERT_EQ(m.multiplier, 1610612736); ASSERT_EQ(m.right_shift, 0);
    ASSERT_OK(qs_quantize_multiplier(1.0, &m));
    ASSERT_EQ(m.multiplier, 1 << 30); ASSERT_EQ(m.right_shift, -1);
    ASSERT_OK(qs_quantize_multiplier(0.001, &m));
    ASSERT_EQ(m.right_shift, 9);  // 0.001 = 0.512 * 2^-9
    // Mantissa rounding up to 2^31 moves to the next power of two.
    ASSERT_OK(qs_quantize_multiplier(1.0 - ldexp(1, -40), &m));
    ASSERT_EQ(m.multiplier, 1 << 30); ASSERT_EQ(m.right_shift, -1);
    ASSERT_OK(qs_quantize_multiplier(0.0, &m));
    ASSERT_EQ(m.multiplier, 0);
    ASSERT_OK(qs_quantize_multiplier(ldexp(1, -40), &m));
    ASSERT_EQ(m.multiplier, 0); ASSERT_EQ(m.right_shift, 0);
    ASSERT_EQ(qs_quantize_multiplier(-0.5, &m), QS_STATUS_INVALID_ARG);
    ASSERT_EQ(qs_quantize_multiplier(NAN, &m), QS_STATUS_INVALID_ARG);
    ASSERT_EQ(qs_quantize_multiplier(ldexp(1, 31), &m), QS_STATUS_INVALID_ARG);
    // Relative error of the multiplier <= 2^-31 over many values.
    for (int i = 0; i < 1000000; i++) {
        double v = exp2(frand(-31, 30)) * (1 + frand(0, 1));
        ASSERT_OK(qs_quantize_multiplier(v, &m));
        ASSERT_TRUE(m.multiplier >= (1 << 30));
        double back = ldexp((double)m.multiplier, -31 - m.right_shift);
        ASSERT_TRUE(fabs(back - v) <= v * ldexp(1, -31));
    }
}

static void test_algo_names(void) {
    enum qs_calib_algo a;
    struct qs_diag d;
    for (int i = 0; i < QS_CALIB_ALGO_COUNT; i++) {
        ASSERT_OK(qs_calib_algo_parse(qs_calib_algo_name((enum qs_calib_algo)i), &a, &d));
        ASSERT_EQ(a, i);
    }
    ASSERT_OK(qs_calib_algo_parse("hist", &a, &d)); ASSERT_EQ(a, QS_CALIB_PERCENTILE);
    ASSERT_OK(qs_calib_algo_parse("Entropy", &a, &d)); ASSERT_EQ(a, QS_CALIB_KL);
    ASSERT_OK(qs_calib_algo_parse("moving_average_abs_max", &a, &d)); ASSERT_EQ(a, QS_CALIB_EMA);
    ASSERT_EQ(qs_calib_algo_parse("median", &a, &d), QS_STATUS_INVALID_ARG);
    ASSERT_STR_CONTAINS(d.msg, "median");
}

int main(void) {
    test_qrange();
    test_qparams();
    test_rounding();
    test_rows();
    test_weights();
    test_bias();
    test_multiplier();
    test_algo_names();
    printf("ok\n");
    return 0;
}
