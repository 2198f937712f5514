// Observers on synthetic data with known answers: min/max, per-batch average, moving average,
// percentile of uniform data, KL / MSE clipping a Gaussian with outliers (and MSE against
// the known optimal clipping of a Gaussian), EMD bounds; the histogram's exact bins and
// rebinning; results identical whatever the batch split and order; constant state size;
// non-finite data refused.
#include "quant/quant-impl.h"
#include "test.h"

#include <gsl/gsl_errno.h>
#include <math.h>

static uint64_t rng = 7;
static double uniform(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return ((rng >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(void) {
    return sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform());
}

static qs_observer_t *make(int bins) {
    struct qs_calib_options o = qs_calib_options_default();
    if (bins) o.bins = bins;
    qs_observer_t *ob = NULL;
    struct qs_diag d;
    ASSERT_OK(qs_observer_create(&o, &ob, &d));
    return ob;
}

static void feed(qs_observer_t *ob, const float *x, size_t n, size_t batch) {
    struct qs_diag d;
    for (size_t i = 0; i < n; i += batch)
        ASSERT_OK(qs_observer_update(ob, x + i, QS_MIN(batch, n - i), &d));
}

static void range(const qs_observer_t *ob, enum qs_calib_algo algo, enum qs_dtype dt, int bits,
                  double *lo, double *hi) {
    struct qs_calib_method m = qs_calib_method_default(algo);
    m.dtype = dt;
    m.bits = bits;
    struct qs_diag d;
    if (qs_observer_range(ob, &m, lo, hi, &d) != QS_STATUS_OK) {
        fprintf(stderr, "%s: %s\n", qs_calib_algo_name(algo), d.msg);
        exit(1);
    }
    ASSERT_TRUE(*lo <= 0.0 && *hi >= 0.0);
    if (dt == QS_DTYPE_I8) ASSERT_TRUE(*lo == -*hi);
}

static bool near(double a, double b, double tol) { return fabs(a - b) <= tol; }

static void test_histogram_bins(void) {
    qs_observer_t *ob = make(128);  // 256 bins per sign
    const float a[] = {0.25f, 0.5f, 1.5f, -3.0f, 0.0f, -0.0f};
    feed(ob, a, 6, 6);
    ASSERT_EQ(ob->range_exp, 2);  // R = 4 > 3
    ASSERT_EQ(qs__obs_bin(ob, 16), 1); ASSERT_EQ(qs__obs_bin(ob, 32), 1);
    ASSERT_EQ(qs__obs_bin(ob, 96), 1); ASSERT_EQ(qs__obs_bin(ob, 256 + 192), 1);
    ASSERT_EQ(qs__obs_bin(ob, 512), 2);  // zeros, both signs
    ASSERT_EQ(qs__obs_bin(ob, 0), 0); ASSERT_EQ(qs__obs_bin(ob, 256), 0);
    const float b[] = {10.0f};
    feed(ob, b, 1, 1);  // R = 16: bins merge by 4
    ASSERT_EQ(ob->range_exp, 4);
    ASSERT_EQ(qs__obs_bin(ob, 4), 1); ASSERT_EQ(qs__obs_bin(ob, 8), 1);
    ASSERT_EQ(qs__obs_bin(ob, 24), 1); ASSERT_EQ(qs__obs_bin(ob, 160), 1);
    ASSERT_EQ(qs__obs_bin(ob, 256 + 48), 1);
    uint64_t total = 0;
    for (int i = 0; i <= 512; i++) total += qs__obs_bin(ob, (size_t)i);
    ASSERT_EQ(total, 7);
    ASSERT_EQ(qs_observer_count(ob), 7);
    ASSERT_EQ(qs_observer_batches(ob), 2);
    qs_observer_destroy(ob);
}

static bool same_state(const qs_observer_t *a, const qs_observer_t *b) {
    if (a->count != b->count || a->batches != b->batches || a->min != b->min ||
        a->max != b->max || a->sum_bmin != b->sum_bmin || a->sum_bmax != b->sum_bmax ||
        a->sum_babs != b->sum_babs || a->ema_state != b->ema_state || a->ema_min != b->ema_min ||
        a->ema_max != b->ema_max || a->ema_abs != b->ema_abs || a->has_range != b->has_range ||
        (a->has_range && a->range_exp != b->range_exp))
        return false;
    for (size_t i = 0; i <= 2 * (size_t)a->nb; i++)
        if (qs__obs_bin(a, i) != qs__obs_bin(b, i)) return false;
    return true;
}

// The vectorized scan and the two-table histogram against the scalar reference: batches of
// every length 1..70 (tails, n < 4), zeros of both signs, growth of the range, tiny values.
static void test_update_vs_ref(void) {
    qs_observer_t *fast = make(128), *ref = make(128);
    static float x[5000];
    struct qs_diag d;
    for (int rep = 0; rep < 3000; rep++) {
        size_t n = rep < 70 ? (size_t)rep + 1 : 1 + (size_t)(uniform() * 4999);
        double scale = exp2(floor(uniform() * 40 - 20)) * (rep % 500 == 7 ? 1e-35 : 1.0);
        for (size_t i = 0; i < n; i++) {
            double u = uniform();
            x[i] = u < 0.3 ? 0.0f : u < 0.35 ? -0.0f : (float)(gauss() * scale);
            if (u > 0.99) x[i] = (float)(0.75 * scale);  // runs of one bin
        }
        ASSERT_OK(qs_observer_update(fast, x, n, &d));
        ASSERT_OK(qs__observer_update_ref(ref, x, n, &d));
        if (!same_state(fast, ref)) {
            fprintf(stderr, "batch %d (n %zu): fast and reference observers differ\n", rep, n);
            exit(1);
        }
    }
    float bad[7] = {1, 2, 3, 4, 5, 6, NAN};
    ASSERT_EQ(qs_observer_update(fast, bad, 7, &d), QS_STATUS_NUMERIC);
    ASSERT_EQ(qs__observer_update_ref(ref, bad, 7, &d), QS_STATUS_NUMERIC);
    ASSERT_TRUE(same_state(fast, ref));
    qs_observer_destroy(fast);
    qs_observer_destroy(ref);
}

// KL(P || Q) of candidate i computed the direct way (pytorch-quantization's loop), or
// INFINITY where Q = 0 under P > 0.
static double kl_direct(const double *h, int n, int levels, int i) {
    static double p[1 << 16], q[1 << 16], s[1024], z[1024];
    double out = 0, ps = 0, qs = 0;
    for (int j = i; j < n; j++) out += h[j];
    for (int g = 0; g < levels; g++) s[g] = z[g] = 0;
    for (int j = 0; j < i; j++) {
        int g = (int)((int64_t)j * levels / i);
        s[g] += h[j];
        z[g] += h[j] > 0;
        p[j] = h[j];
    }
    p[i - 1] += out;
    for (int j = 0; j < i; j++) {
        int g = (int)((int64_t)j * levels / i);
        q[j] = h[j] > 0 ? s[g] / z[g] : 0;
        ps += p[j], qs += q[j];
    }
    double kl = 0;
    for (int j = 0; j < i; j++) {
        if (p[j] == 0) continue;
        if (q[j] == 0) return INFINITY;
        kl += p[j] / ps * log((p[j] / ps) / (q[j] / qs));
    }
    return kl;
}

// The prefix-sum KL search picks the candidate the direct computation ranks best.
static void test_kl_vs_direct(void) {
    static double h[3000];
    for (int rep = 0; rep < 6; rep++) {
        int n = 300 + rep * 500, levels = rep % 2 ? 128 : 256;
        for (int j = 0; j < n; j++) {
            double x = (j + 0.5) / n;
            h[j] = floor(1e5 * exp(-x * (3 + rep)) * (0.5 + uniform()));  // noisy tail
            if (uniform() < 0.05 * rep) h[j] = 0;                        // holes
        }
        h[n - 1] = 3;
        qs__hist_view v = {h, n, 0.01, 0};
        double t;
        ASSERT_OK(qs__hist_kl(&v, levels, &t));
        int chosen = (int)lround(t / 0.01);
        double best = INFINITY;
        int best_i = 0;
        for (int i = levels; i <= n; i++) {
            double kl = kl_direct(h, n, levels, i);
            if (kl <= best) best = kl, best_i = i;
        }
        double at = kl_direct(h, n, levels, chosen);
        printf("kl: %d bins, %d levels: chosen %d (kl %.9f), direct best %d (kl %.9f)\n", n,
               levels, chosen, at, best_i, best);
        ASSERT_TRUE(at <= best + 1e-9);
    }
}

static void test_minmax_avg_ema(void) {
    qs_observer_t *ob = make(0);
    double r = 0.9, state = 0, amin = 0, amax = 0, aabs = 0;
    for (int b = 1; b <= 4; b++) {
        float x[3] = {(float)-b, (float)(2 * b), 0.5f};
        feed(ob, x, 3, 3);
        state = r * state + 1, amin = r * amin - b;
        amax = r * amax + 2 * b, aabs = r * aabs + 2 * b;
    }
    double lo, hi;
    range(ob, QS_CALIB_MINMAX, QS_DTYPE_U8, 8, &lo, &hi);
    ASSERT_TRUE(lo == -4.0 && hi == 8.0);
    range(ob, QS_CALIB_MINMAX, QS_DTYPE_I8, 8, &lo, &hi);
    ASSERT_TRUE(hi == 8.0);
    range(ob, QS_CALIB_AVG, QS_DTYPE_U8, 8, &lo, &hi);
    ASSERT_TRUE(lo == -2.5 && hi == 5.0);
    range(ob, QS_CALIB_AVG, QS_DTYPE_I8, 8, &lo, &hi);
    ASSERT_TRUE(hi == 5.0);
    range(ob, QS_CALIB_EMA, QS_DTYPE_U8, 8, &lo, &hi);
    ASSERT_TRUE(near(lo, amin / state, 1e-12) && near(hi, amax / state, 1e-12));
    range(ob, QS_CALIB_EMA, QS_DTYPE_I8, 8, &lo, &hi);
    ASSERT_TRUE(near(hi, aabs / state, 1e-12));
    // The moving average leans to the last batches: between the average and the last max.
    ASSERT_TRUE(hi > 5.0 && hi < 8.0);
    qs_observer_destroy(ob);

    // Post-Relu data: every method keeps lo = 0 for uint8.
    ob = make(0);
    enum { N = 1 << 16 };
    static float x[N];
    for (int i = 0; i < N; i++) x[i] = (float)fmax(gauss(), 0.0);
    feed(ob, x, N, 1000);
    for (int a = 0; a < QS_CALIB_ALGO_COUNT; a++) {
        range(ob, (enum qs_calib_algo)a, QS_DTYPE_U8, 8, &lo, &hi);
        ASSERT_TRUE(lo == 0.0 && hi > 1.0);
    }
    qs_observer_destroy(ob);
}

static void test_percentile_uniform(void) {
    enum { N = 1 << 20 };
    static float x[N];
    for (int i = 0; i < N; i++) x[i] = (float)((i + 0.5) / N);  // uniform on [0, 1)
    qs_observer_t *ob = make(0);
    feed(ob, x, N, 4096);
    struct qs_calib_method m = qs_calib_method_default(QS_CALIB_PERCENTILE);
    struct qs_diag d;
    double lo, hi;
    for (double p = 0.9; p < 1.0; p += 0.0125) {
        m.percentile = p;
        ASSERT_OK(qs_observer_range(ob, &m, &lo, &hi, &d));
        ASSERT_TRUE(lo == 0.0 && near(hi, p, 1e-4));
    }
    m.percentile = 1.0;
    ASSERT_OK(qs_observer_range(ob, &m, &lo, &hi, &d));
    ASSERT_TRUE(hi == x[N - 1]);
    qs_observer_destroy(ob);
    // Signed uniform on [-1, 1): each side separately for uint8, |x| for int8.
    for (int i = 0; i < N; i++) x[i] = (float)(2.0 * (i + 0.5) / N - 1.0);
    ob = make(0);
    feed(ob, x, N, 5000);
    m.percentile = 0.99;
    ASSERT_OK(qs_observer_range(ob, &m, &lo, &hi, &d));
    ASSERT_TRUE(near(lo, -0.99, 1e-3) && near(hi, 0.99, 1e-3));
    m.dtype = QS_DTYPE_I8;
    ASSERT_OK(qs_observer_range(ob, &m, &lo, &hi, &d));
    ASSERT_TRUE(near(hi, 0.99, 1e-3));
    m.percentile = 0;
    ASSERT_EQ(qs_observer_range(ob, &m, &lo, &hi, &d), QS_STATUS_INVALID_ARG);
    qs_observer_destroy(ob);
}

// Mean squared error of int8 symmetric quantize-dequantize of x clipped at t.
static double exact_mse(const float *x, size_t n, double t) {
    struct qs_qparams p;
    ASSERT_OK(qs_qparams_from_range(-t, t, QS_DTYPE_I8, 8, false, &p, NULL));
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = x[i] - qs_dequantize_value(qs_quantize_value(x[i], &p), &p);
        s += e * e;
    }
    return s / n;
}

// A Gaussian (sigma 1) with a few far outliers: KL and MSE clip well inside the max.
static void test_gaussian_outliers(void) {
    enum { N = 1 << 20 };
    static float x[N];
    for (int i = 0; i < N; i++) x[i] = (float)gauss();
    x[12345] = 40.0f;
    x[54321] = -35.0f;
    qs_observer_t *ob = make(0);
    feed(ob, x, N, 10000);
    double lo, hi, t[QS_CALIB_ALGO_COUNT];
    for (int a = 0; a < QS_CALIB_ALGO_COUNT; a++) {
        range(ob, (enum qs_calib_algo)a, QS_DTYPE_I8, 8, &lo, &hi);
        t[a] = hi;
    }
    printf("gaussian + outliers, int8 thresholds: minmax %.3f avg %.3f ema %.3f "
           "percentile %.3f kl %.3f mse %.3f emd %.3f\n",
           t[0], t[1], t[2], t[3], t[4], t[5], t[6]);
    ASSERT_TRUE(t[QS_CALIB_MINMAX] == 40.0);
    ASSERT_TRUE(t[QS_CALIB_PERCENTILE] > 3.5 && t[QS_CALIB_PERCENTILE] < 4.5);
    ASSERT_TRUE(t[QS_CALIB_KL] > 2.0 && t[QS_CALIB_KL] < 10.0);
    // Two outliers weigh as much as the rounding noise of a million values, so the MSE
    // optimum sits between the Gaussian's body and the outliers; check it against the exact
    // MSE of the raw data over a grid of clip points.
    ASSERT_TRUE(t[QS_CALIB_MSE] > 3.5 && t[QS_CALIB_MSE] < 20.0);
    double best = INFINITY, best_t = 0, ours = exact_mse(x, N, t[QS_CALIB_MSE]);
    for (double c = 2.0; c <= 40.0; c += 0.25) {
        double e = exact_mse(x, N, c);
        if (e < best) best = e, best_t = c;
    }
    printf("mse threshold %.3f: exact mse %.4g; best on the grid %.3f: %.4g\n",
           t[QS_CALIB_MSE], ours, best_t, best);
    ASSERT_TRUE(ours <= best * 1.02);
    ASSERT_TRUE(t[QS_CALIB_EMD] >= 0.3 * 40.0 - 1e-9 && t[QS_CALIB_EMD] <= 40.0);
    // uint8: both sides are clipped on their own.
    range(ob, QS_CALIB_KL, QS_DTYPE_U8, 8, &lo, &hi);
    ASSERT_TRUE(lo > -10.0 && lo < -2.0 && hi > 2.0 && hi < 10.0);
    range(ob, QS_CALIB_MSE, QS_DTYPE_U8, 8, &lo, &hi);
    printf("uint8 mse range [%.3f, %.3f]\n", lo, hi);
    ASSERT_TRUE(lo > -20.0 && lo < -3.5 && hi > 3.5 && hi < 20.0);
    qs_observer_destroy(ob);
}

// MSE-optimal clipping of a Gaussian with 2^bits uniform levels (Banner et al., ACIQ):
// 1.71, 2.15, 2.55 sigma for 2, 3, 4 bits.
static void test_mse_gaussian_optimum(void) {
    enum { N = 1 << 21 };
    static float x[N];
    for (int i = 0; i < N; i++) x[i] = (float)gauss();
    qs_observer_t *ob = make(0);
    feed(ob, x, N, 1 << 16);
    static const double want[] = {1.71, 2.15, 2.55};
    for (int b = 2; b <= 4; b++) {
        double lo, hi;
        range(ob, QS_CALIB_MSE, QS_DTYPE_I8, b, &lo, &hi);
        printf("mse clip at %d bits: %.3f sigma (ACIQ %.2f)\n", b, hi, want[b - 2]);
        ASSERT_TRUE(fabs(hi / want[b - 2] - 1.0) < 0.12);
    }
    qs_observer_destroy(ob);
}

// The same values split into batches differently, and in another order, give the same
// histogram (bit for bit) and the same ranges for every split-independent method.
static void test_split_invariance(void) {
    enum { N = 100000 };
    static float x[N], rev[N];
    for (int i = 0; i < N; i++) {
        // Magnitudes grow along the array so that the range doubles many times.
        x[i] = (float)(gauss() * exp2(20.0 * i / N - 10));
        if (i % 5 == 0) x[i] = 0.0f;
        rev[N - 1 - i] = x[i];
    }
    qs_observer_t *ob[4] = {make(0), make(0), make(0), make(0)};
    feed(ob[0], x, N, N);
    feed(ob[1], x, N, 7);
    feed(ob[2], x, N, 1);
    feed(ob[3], rev, N, 1000);
    for (int k = 1; k < 4; k++) {
        for (size_t i = 0; i <= 2 * (size_t)ob[0]->nb; i++)
            ASSERT_EQ(qs__obs_bin(ob[0], i), qs__obs_bin(ob[k], i));
        ASSERT_EQ(ob[k]->range_exp, ob[0]->range_exp);
    }
    const enum qs_calib_algo algos[] = {QS_CALIB_MINMAX, QS_CALIB_PERCENTILE, QS_CALIB_KL,
                                        QS_CALIB_MSE, QS_CALIB_EMD};
    for (size_t a = 0; a < QS_COUNTOF(algos); a++)
        for (int dt = 0; dt < 2; dt++) {
            double lo0, hi0, lo, hi;
            enum qs_dtype t = dt ? QS_DTYPE_I8 : QS_DTYPE_U8;
            range(ob[0], algos[a], t, 8, &lo0, &hi0);
            for (int k = 1; k < 4; k++) {
                range(ob[k], algos[a], t, 8, &lo, &hi);
                ASSERT_TRUE(lo == lo0 && hi == hi0);
            }
        }
    for (int k = 0; k < 4; k++) qs_observer_destroy(ob[k]);
}

static void test_state_size_constant(void) {
    qs_observer_t *a = make(0), *b = make(0);
    size_t s0 = qs_observer_state_bytes(a);
    static float x[1 << 16];
    for (int i = 0; i < (1 << 16); i++) x[i] = (float)(gauss() * 1e3);
    feed(a, x, 1000, 1000);
    for (int rep = 0; rep < 200; rep++) feed(b, x, 1 << 16, 4096);
    ASSERT_EQ(qs_observer_count(b), 200ull << 16);
    ASSERT_EQ(qs_observer_state_bytes(a), s0);
    ASSERT_EQ(qs_observer_state_bytes(b), s0);
    printf("observer state: %zu bytes after 1000 and after %llu values\n", s0,
           (unsigned long long)qs_observer_count(b));
    // 2 * 2 * bins counters of 8 + 4 bytes.
    ASSERT_TRUE(s0 < 2 * 2 * 2048 * 12 + 1024);
    qs_observer_destroy(a);
    qs_observer_destroy(b);
}

static void test_errors(void) {
    qs_observer_t *ob = make(0);
    struct qs_diag d;
    double lo, hi;
    ASSERT_EQ(qs_observer_range(ob, NULL, &lo, &hi, &d), QS_STATUS_INVALID_STATE);
    float x[4] = {1, 2, NAN, 3};
    ASSERT_EQ(qs_observer_update(ob, x, 4, &d), QS_STATUS_NUMERIC);
    ASSERT_STR_CONTAINS(d.msg, "element 2");
    x[2] = -INFINITY;
    ASSERT_EQ(qs_observer_update(ob, x, 4, &d), QS_STATUS_NUMERIC);
    ASSERT_EQ(qs_observer_count(ob), 0);
    ASSERT_OK(qs_observer_update(ob, x, 0, &d));
    ASSERT_EQ(qs_observer_batches(ob), 0);
    // All zeros: every method gives [0, 0].
    float z[5] = {0};
    ASSERT_OK(qs_observer_update(ob, z, 5, &d));
    for (int a = 0; a < QS_CALIB_ALGO_COUNT; a++)
        for (int dt = 0; dt < 2; dt++) {
            range(ob, (enum qs_calib_algo)a, dt ? QS_DTYPE_I8 : QS_DTYPE_U8, 8, &lo, &hi);
            ASSERT_TRUE(lo == 0.0 && hi == 0.0);
        }
    // A single non-zero value.
    float one = -2.5f;
    ASSERT_OK(qs_observer_update(ob, &one, 1, &d));
    for (int a = 0; a < QS_CALIB_ALGO_COUNT; a++) {
        range(ob, (enum qs_calib_algo)a, QS_DTYPE_U8, 8, &lo, &hi);
        ASSERT_TRUE(hi == 0.0 && lo < 0.0 && lo >= -2.5);
    }
    struct qs_calib_method m = qs_calib_method_default(QS_CALIB_KL);
    m.bits = 9;
    ASSERT_EQ(qs_observer_range(ob, &m, &lo, &hi, &d), QS_STATUS_INVALID_ARG);
    m.bits = 8, m.dtype = QS_DTYPE_F32;
    ASSERT_EQ(qs_observer_range(ob, &m, &lo, &hi, &d), QS_STATUS_INVALID_ARG);
    m.dtype = QS_DTYPE_U8, m.algo = QS_CALIB_ALGO_COUNT;
    ASSERT_EQ(qs_observer_range(ob, &m, &lo, &hi, &d), QS_STATUS_INVALID_ARG);
    qs_observer_destroy(ob);
    struct qs_calib_options o = qs_calib_options_default();
    o.bins = 1000;
    qs_observer_t *bad = NULL;
    ASSERT_EQ(qs_observer_create(&o, &bad, &d), QS_STATUS_INVALID_ARG);
    o.bins = 2048, o.ema_momentum = 1.0;
    ASSERT_EQ(qs_observer_create(&o, &bad, &d), QS_STATUS_INVALID_ARG);
    ASSERT_TRUE(bad == NULL);
    qs_observer_destroy(NULL);
}

// bins 0: no histogram; minmax, avg and EMA are those of an observer with one, the
// threshold methods are refused, and the state is smaller.
static void test_no_histogram(void) {
    struct qs_calib_options o = qs_calib_options_default();
    o.bins = 0;
    qs_observer_t *none = NULL, *full = make(0);
    struct qs_diag d;
    ASSERT_OK(qs_observer_create(&o, &none, &d));
    enum { N = 20000 };
    static float x[N];
    for (int i = 0; i < N; i++) x[i] = (float)(gauss() * (i % 997 == 0 ? 40.0 : 1.0));
    feed(none, x, N, 700);
    feed(full, x, N, 700);
    for (int a = QS_CALIB_MINMAX; a <= QS_CALIB_EMA; a++)
        for (int dt = 0; dt < 2; dt++) {
            double lo0, hi0, lo1, hi1;
            range(none, (enum qs_calib_algo)a, dt ? QS_DTYPE_I8 : QS_DTYPE_U8, 8, &lo0, &hi0);
            range(full, (enum qs_calib_algo)a, dt ? QS_DTYPE_I8 : QS_DTYPE_U8, 8, &lo1, &hi1);
            ASSERT_TRUE(lo0 == lo1 && hi0 == hi1);
        }
    const enum qs_calib_algo hist_algos[] = {QS_CALIB_PERCENTILE, QS_CALIB_KL, QS_CALIB_MSE,
                                             QS_CALIB_EMD};
    for (size_t i = 0; i < QS_COUNTOF(hist_algos); i++) {
        struct qs_calib_method m = qs_calib_method_default(hist_algos[i]);
        double lo, hi;
        ASSERT_EQ(qs_observer_range(none, &m, &lo, &hi, &d), QS_STATUS_INVALID_STATE);
        ASSERT_STR_CONTAINS(d.msg, "histogram");
    }
    ASSERT_TRUE(qs_observer_state_bytes(none) < qs_observer_state_bytes(full) / 100);
    ASSERT_EQ(qs_observer_count(none), (uint64_t)N);
    qs_observer_destroy(none);
    qs_observer_destroy(full);
    o.bins = 64;
    ASSERT_EQ(qs_observer_create(&o, &none, &d), QS_STATUS_INVALID_ARG);
}

int main(void) {
    gsl_set_error_handler_off();
    test_no_histogram();
    test_histogram_bins();
    test_update_vs_ref();
    test_kl_vs_direct();
    test_minmax_avg_ema();
    test_percentile_uniform();
    test_gaussian_outliers();
    test_mse_gaussian_optimum();
    test_split_invariance();
    test_state_size_constant();
    test_errors();
    printf("ok\n");
    return 0;
}
