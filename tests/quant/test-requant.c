// Fixed-point requantization (Q31 multiplier + shift, gemmlowp semantics) against exact
// integer arithmetic, exhaustively over shifts and zero points, then the error of that step
// against the float multiplier it replaces (the fp32 epilogue of kernels/qgemm.h and the
// exact real product), with a table of RMSE ceilings per output bit width, per tensor and
// per channel.
#include "quant/quant-impl.h"
#include "kernels/qgemm.h"
#include "test.h"

#include <math.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next_u32(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}
static double drand(double lo, double hi) { return lo + (hi - lo) * (next_u32() / 4294967296.0); }

// acc * multiplier / 2^(31 + right_shift), rounded to nearest with ties away from zero,
// exactly (a left shift saturates acc * 2^left to int32 first, as the reference does).
// *tie is set when the product lies exactly half way between two integers.
static int64_t exact_fixed(int32_t acc, const struct qs_fixed_multiplier *m, bool *tie) {
    int left = m->right_shift < 0 ? -m->right_shift : 0;
    int sh = 31 + (m->right_shift > 0 ? m->right_shift : 0);
    __int128 x = (__int128)acc * ((__int128)1 << left);
    if (x > INT32_MAX) x = INT32_MAX;
    if (x < INT32_MIN) x = INT32_MIN;
    __int128 p = x * m->multiplier;
    __int128 mag = p < 0 ? -p : p;
    __int128 q = (mag + ((__int128)1 << (sh - 1))) >> sh;
    *tie = (mag & (((__int128)1 << sh) - 1)) == ((__int128)1 << (sh - 1));
    return (int64_t)(p < 0 ? -q : q);
}

static int32_t clamp32(int64_t v, int32_t lo, int32_t hi) {
    return v < lo ? lo : v > hi ? hi : (int32_t)v;
}

// Exhaustive over right shifts (and left shifts) and every zero point of uint8 and int8
// outputs: the two-step gemmlowp rounding is within 1 of the exact product.
static void test_exhaustive(void) {
    int32_t accs[400];
    int n_acc = 0;
    const int32_t edges[] = {0, 1, -1, 2, -2, 127, -128, 255, 1 << 15, -(1 << 15),
                             INT32_MAX, INT32_MIN, INT32_MAX - 1, INT32_MIN + 1};
    for (size_t i = 0; i < QS_COUNTOF(edges); i++) accs[n_acc++] = edges[i];
    while (n_acc < 400) {
        int bits = 1 + (int)(next_u32() % 31);
        int32_t v = (int32_t)(next_u32() & ((1u << bits) - 1));
        accs[n_acc++] = next_u32() % 2 ? v : -v;
    }
    long long total = 0, differ = 0;
    for (int rs = -8; rs <= 31; rs++) {
        int32_t mults[6] = {1 << 30, INT32_MAX, 0, 0, 0, 0};
        for (int i = 2; i < 6; i++) mults[i] = (int32_t)((1u << 30) | (next_u32() >> 2));
        for (int mi = 0; mi < 6; mi++) {
            struct qs_fixed_multiplier m = {mults[mi], rs};
            for (int type = 0; type < 2; type++) {
                int32_t qmin = type ? -128 : 0, qmax = type ? 127 : 255;
                for (int32_t zp = qmin; zp <= qmax; zp++) {
                    for (int a = 0; a < n_acc; a++) {
                        int32_t got = qs_requant_fixed_ref(accs[a], &m, zp, qmin, qmax);
                        bool tie;
                        int64_t ex = exact_fixed(accs[a], &m, &tie);
                        int32_t want = clamp32(ex + zp, qmin, qmax);
                        // Single rounding: exact, ties toward +infinity.
                        int32_t single = qs_requant_fixed_single_ref(accs[a], &m, zp, qmin, qmax);
                        int32_t want1 = tie && ex < 0 ? clamp32(ex + 1 + zp, qmin, qmax) : want;
                        if (single != want1) {
                            fprintf(stderr, "single: acc %d mult %d shift %d zp %d: %d != %d\n",
                                    accs[a], m.multiplier, rs, zp, single, want1);
                            exit(1);
                        }
                        if (abs(got - want) > 1) {
                            fprintf(stderr,
                                    "acc %d mult %d shift %d zp %d: got %d, exact %d\n",
                                    accs[a], m.multiplier, rs, zp, got, want);
                            exit(1);
                        }
                        total++;
                        differ += got != want;
                    }
                }
            }
        }
    }
    // gemmlowp rounds twice (the doubling high multiply, then the shift): when the first
    // rounding lands on a tie of the second, the result is one away from the exact one.
    printf("exhaustive: %lld cases, %lld (%.3f%%) off by one (double rounding)\n", total,
           differ, 100.0 * differ / total);
    ASSERT_TRUE(differ * 100 < total);
    // Exact small cases: 10 * 0.5 = 5; -3 * 0.5 = -1.5 -> -2 (ties away from zero) at
    // shift 1 through the rounding shift; 7 * 0.75 = 5.25 -> 5.
    struct qs_fixed_multiplier half = {1 << 30, 0}, quarter = {1 << 30, 1};
    ASSERT_EQ(qs_requant_fixed_ref(10, &half, 0, -128, 127), 5);
    ASSERT_EQ(qs_requant_fixed_ref(-6, &quarter, 0, -128, 127), -2);  // -1.5
    ASSERT_EQ(qs_requant_fixed_ref(6, &quarter, 0, -128, 127), 2);    // 1.5
    ASSERT_EQ(qs_requant_fixed_ref(1000, &half, 10, 0, 255), 255);
    ASSERT_EQ(qs_requant_fixed_ref(-1000, &half, 10, 0, 255), 0);
    struct qs_fixed_multiplier m075;
    ASSERT_OK(qs_quantize_multiplier(0.75, &m075));
    ASSERT_EQ(qs_requant_fixed_ref(7, &m075, 3, 0, 255), 8);
    // A left shift saturates acc * 2^31 to int32 before the (just below 1) multiplier.
    struct qs_fixed_multiplier big = {INT32_MAX, -31};
    ASSERT_EQ(qs_requant_fixed_ref(1 << 20, &big, 0, INT32_MIN, INT32_MAX), INT32_MAX - 1);
    ASSERT_EQ(qs_requant_fixed_ref(INT32_MIN, &big, 0, INT32_MIN, INT32_MAX), INT32_MIN + 1);
}

// The error of replacing the float multiplier by the fixed-point one, on outputs of `bits`
// bits (uint8 storage, zero point in the middle): RMSE in output units of (fixed - float
// epilogue) and of (fixed - exact real product), per tensor (one multiplier) or per channel
// (64 multipliers spread over 2^-6 .. 2^6 around a base).
typedef struct {
    double rms_vs_fp32, rms_vs_real;  // gemmlowp
    double rms1_vs_fp32;              // single rounding
    double max_vs_real;
} err_stats;

static err_stats measure(int bits, bool per_channel) {
    int32_t qmax = (1 << bits) - 1, zp = (qmax + 1) / 2;
    double s_fp = 0, s_real = 0, s1 = 0, mx = 0;
    long n = 0;
    for (int layer = 0; layer < 40; layer++) {
        double base = exp2(drand(-20, -4));  // s_x * s_w / s_y of typical layers
        for (int ch = 0; ch < 64; ch++) {
            double m = per_channel ? base * exp2(drand(-6, 6)) : base;
            struct qs_fixed_multiplier fm;
            ASSERT_OK(qs_quantize_multiplier(m, &fm));
            float mf = (float)m;
            // Accumulators over the output range (zero point in the middle), about 20% beyond.
            double span = 0.6 * (qmax + 1) / m;
            for (int i = 0; i < 200; i++) {
                double a = drand(-span, span);
                if (fabs(a) > 2147483647.0) continue;
                int32_t acc = (int32_t)a;
                int32_t fx = qs_requant_fixed_ref(acc, &fm, zp, 0, qmax);
                int32_t fl = qs_requant_fp32(acc, mf, zp, 0, qmax);
                int32_t f1 = qs_requant_fixed_single_ref(acc, &fm, zp, 0, qmax);
                s1 += (double)(f1 - fl) * (f1 - fl);
                double real = (double)acc * m + zp;
                double rc = real < 0 ? 0 : real > qmax ? qmax : real;
                s_fp += (double)(fx - fl) * (fx - fl);
                s_real += (fx - rc) * (fx - rc);
                mx = fmax(mx, fabs(fx - rc));
                n++;
            }
        }
    }
    return (err_stats){sqrt(s_fp / n), sqrt(s_real / n), sqrt(s1 / n), mx};
}

static void test_error_table(void) {
    // Ceilings per output bit width 2..8, [per tensor, per channel]. Against the real product
    // the error is the rounding itself (uniform, RMSE 1/sqrt(12) = 0.289 where nothing
    // clamps; less with the clamped values). Against the fp32 epilogue, single rounding
    // differs only at ties; gemmlowp's double rounding differs on about 2^-(shift+1) of the
    // values, more for the larger per-channel multipliers (smaller shifts).
    static const struct {
        int bits;
        double gl_fp32[2], single_fp32[2], gl_real[2];
    } ceil[] = {
        {2, {0.060, 0.100}, {0.005, 0.005}, {0.235, 0.235}},
        {3, {0.060, 0.100}, {0.005, 0.005}, {0.255, 0.255}},
        {4, {0.065, 0.105}, {0.005, 0.005}, {0.265, 0.265}},
        {5, {0.065, 0.105}, {0.005, 0.005}, {0.270, 0.270}},
        {6, {0.065, 0.105}, {0.005, 0.005}, {0.270, 0.272}},
        {7, {0.065, 0.105}, {0.005, 0.005}, {0.272, 0.275}},
        {8, {0.065, 0.105}, {0.005, 0.005}, {0.272, 0.275}},
    };
    printf("RMSE in output steps      per tensor                  per channel\n");
    printf("bits   gemmlowp-fp32 single-fp32 gemmlowp-real | gemmlowp-fp32 single-fp32 "
           "gemmlowp-real\n");
    for (size_t i = 0; i < QS_COUNTOF(ceil); i++) {
        rng = 0x2545f4914f6cdd1dull;  // the same multipliers and accumulators for every row
        err_stats t = measure(ceil[i].bits, false);
        rng = 0x2545f4914f6cdd1dull;
        err_stats c = measure(ceil[i].bits, true);
        printf("%4d   %13.5f %11.5f %13.5f | %13.5f %11.5f %13.5f\n", ceil[i].bits,
               t.rms_vs_fp32, t.rms1_vs_fp32, t.rms_vs_real, c.rms_vs_fp32, c.rms1_vs_fp32,
               c.rms_vs_real);
        ASSERT_TRUE(t.rms_vs_fp32 <= ceil[i].gl_fp32[0]);
        ASSERT_TRUE(c.rms_vs_fp32 <= ceil[i].gl_fp32[1]);
        ASSERT_TRUE(t.rms1_vs_fp32 <= ceil[i].single_fp32[0]);
        ASSERT_TRUE(c.rms1_vs_fp32 <= ceil[i].single_fp32[1]);
        ASSERT_TRUE(t.rms_vs_real <= ceil[i].gl_real[0]);
        ASSERT_TRUE(c.rms_vs_real <= ceil[i].gl_real[1]);
        // Never more than one step beyond the rounding itself from the exact result.
        ASSERT_TRUE(t.max_vs_real <= 1.5 + 1e-6);
        ASSERT_TRUE(c.max_vs_real <= 1.5 + 1e-6);
    }
}

int main(void) {
    test_exhaustive();
    test_error_table();
    printf("ok\n");
    return 0;
}
