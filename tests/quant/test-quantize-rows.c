// Quantize-dequantize round trips per bit width 2..8: int8 symmetric narrow-range weights per
// output channel and per tensor (rows of very different magnitudes, as in real layers), and
// uint8 asymmetric activations. Each RMSE must stay under its ceiling in the table.
#include "quant/quant-impl.h"
#include "test.h"

#include <math.h>

static uint64_t rng = 42;
static double uniform(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return ((rng >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(void) {
    return sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform());
}

enum { ROWS = 64, K = 1024 };

// RMSE of the round trip, each row's error measured in units of that row's standard
// deviation (so a per-tensor scale that flattens small rows shows).
static double weight_rmse(const float *w, const double *sigma, int bits, bool per_channel) {
    static int8_t q[ROWS * K];
    float scales[ROWS];
    struct qs_diag d;
    ASSERT_OK(qs_quantize_weights_s8(w, ROWS, K, per_channel, bits, q, scales, &d));
    double s = 0;
    for (int r = 0; r < ROWS; r++) {
        float sc = per_channel ? scales[r] : scales[0];
        int32_t qmax = (1 << (bits - 1)) - 1;
        for (int k = 0; k < K; k++) {
            ASSERT_TRUE(q[r * K + k] >= -qmax && q[r * K + k] <= qmax);
            double e = ((double)q[r * K + k] * sc - w[r * K + k]) / sigma[r];
            s += e * e;
        }
    }
    return sqrt(s / (ROWS * K));
}

// RMSE of uint8 activations quantized with the min/max range, in units of the range.
static double act_rmse(const float *x, size_t n, int bits) {
    float lo = x[0], hi = x[0];
    for (size_t i = 0; i < n; i++) lo = fminf(lo, x[i]), hi = fmaxf(hi, x[i]);
    struct qs_qparams p;
    struct qs_diag d;
    ASSERT_OK(qs_qparams_from_range(lo, hi, QS_DTYPE_U8, bits, false, &p, &d));
    static uint8_t q[ROWS * K];
    static float y[ROWS * K];
    qs_quantize_row_u8(x, n, &p, q);
    qs_dequantize_row_u8(q, n, &p, y);
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        ASSERT_TRUE(q[i] <= p.qmax);
        s += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
    }
    return sqrt(s / n) / ((double)hi - lo);
}

int main(void) {
    static float w[ROWS * K], x[ROWS * K];
    double sigma[ROWS];
    for (int r = 0; r < ROWS; r++) {
        sigma[r] = ldexp(1.0, r % 8 - 4);  // 1/16 .. 8
        for (int k = 0; k < K; k++) w[r * K + k] = (float)(sigma[r] * gauss());
    }
    for (int i = 0; i < ROWS * K; i++) x[i] = (float)(4 * uniform() - 1);  // [-1, 3)
    // Ceilings per bit width. Per channel, a Gaussian row of 1024 values has max ~3.3 sigma
    // and the error is close to step/sqrt(12) with step = max/qmax (2 bits has the levels
    // {-max, 0, max} only). Per tensor, the rows of sigma 1/16 share the step of the rows of
    // sigma 8 and mostly round to 0 (an error of 1 sigma) even at 8 bits. Activations:
    // uniform data, error step/sqrt(12) = 1/(sqrt(12) (2^bits - 1)) of the range.
    static const struct {
        int bits;
        double per_channel, per_tensor, act;
    } ceil[] = {
        {2, 0.95, 1.00, 0.0991}, {3, 0.37, 0.96, 0.0425}, {4, 0.16, 0.88, 0.0198},
        {5, 0.074, 0.79, 0.0096}, {6, 0.036, 0.70, 0.0047}, {7, 0.0175, 0.59, 0.00234},
        {8, 0.0087, 0.46, 0.00117},
    };
    printf("bits  weights per-channel  per-tensor | activations u8 (of range)\n");
    for (size_t i = 0; i < QS_COUNTOF(ceil); i++) {
        double pc = weight_rmse(w, sigma, ceil[i].bits, true);
        double pt = weight_rmse(w, sigma, ceil[i].bits, false);
        double ac = act_rmse(x, ROWS * K, ceil[i].bits);
        printf("%4d  %19.5f %11.5f | %10.6f\n", ceil[i].bits, pc, pt, ac);
        ASSERT_TRUE(pc <= ceil[i].per_channel);
        ASSERT_TRUE(pt <= ceil[i].per_tensor);
        ASSERT_TRUE(ac <= ceil[i].act);
        ASSERT_TRUE(pc < pt);
    }
    printf("ok\n");
    return 0;
}
