// OBS (SparseGPT) reconstruction and bias correction reduce a layer's output error against
// magnitude pruning on a synthetic layer with correlated, off-centre inputs; OBS keeps the
// exact count, the N:M groups and whole blocks.
#include "qsearch/sparse.h"
#include "test.h"

#include <math.h>

enum { M = 32, K = 64, ROWS = 1024 };
static uint64_t rng_state;
static double grand(void) {  // Box-Muller on xorshift64*
    double u[2];
    for (int i = 0; i < 2; i++) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        u[i] = ((double)((rng_state * 2685821657736338717ull) >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

static float X[ROWS][K], W[M][K];
static double H[K * K], mu[K];

// sum over rows of ||(W - W') x + db||^2
static double out_error(const float *w1, const double *db) {
    double e = 0.0;
    for (int r = 0; r < ROWS; r++)
        for (int i = 0; i < M; i++) {
            double d = db ? db[i] : 0.0;
            for (int j = 0; j < K; j++) d += ((double)W[i][j] - w1[i * K + j]) * X[r][j];
            e += d * d;
        }
    return e;
}

static struct qs_prune_pattern pattern(const char *s) {
    struct qs_prune_pattern p;
    ASSERT_OK(qs_prune_pattern_parse(s, &p, NULL));
    return p;
}

int main(void) {
    const char *env = getenv("QS_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : 77;
    printf("seed %llu (QS_TEST_SEED)\n", (unsigned long long)seed);
    rng_state = seed | 1;
    static double A[K][K];
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) A[i][j] = grand() / sqrt((double)K) + (i == j ? 1.0 : 0.0);
    for (int r = 0; r < ROWS; r++) {
        double z[K];
        for (int j = 0; j < K; j++) z[j] = grand();
        for (int j = 0; j < K; j++) {
            double v = 0.5 + 0.3 * (j % 5);  // off-centre inputs (as after a Relu)
            for (int i = 0; i < K; i++) v += z[i] * A[i][j];
            X[r][j] = (float)v;
        }
    }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < K; j++) W[i][j] = (float)grand();
    for (int r = 0; r < ROWS; r++)
        for (int i = 0; i < K; i++) {
            mu[i] += X[r][i] / (double)ROWS;
            for (int j = 0; j < K; j++) H[i * K + j] += (double)X[r][i] * X[r][j];
        }

    static const char *pats[] = {"unstructured", "2:4", "4:8", "block1x4", "block4x1"};
    static const float ratios[] = {0.3f, 0.5f, 0.7f};
    for (size_t pi = 0; pi < sizeof pats / sizeof pats[0]; pi++)
        for (size_t ri = 0; ri < 3; ri++) {
            struct qs_prune_pattern p = pattern(pats[pi]);
            if (p.kind == QS_PATTERN_NM && ri != 1) continue;
            float s = ratios[ri];
            static float wm[M * K], wo[M * K];
            static uint8_t mask[M * K];
            memcpy(wm, W, sizeof wm);
            memcpy(wo, W, sizeof wo);
            ASSERT_OK(qs_prune_magnitude(wm, M, K, &p, s, NULL, NULL));
            ASSERT_OK(qs_prune_obs(wo, M, K, H, &p, s, 0.01f, 16, mask, NULL));
            double em = out_error(wm, NULL), eo = out_error(wo, NULL);
            // bias correction: db = (W - W') mu
            double db[M];
            for (int i = 0; i < M; i++) {
                db[i] = 0.0;
                for (int j = 0; j < K; j++) db[i] -= ((double)W[i][j] - wm[i * K + j]) * mu[j];
            }
            double eb = out_error(wm, db);
            int64_t zm = 0, zo = 0;
            for (int i = 0; i < M * K; i++) {
                zm += wm[i] == 0.0f;
                zo += wo[i] == 0.0f;
                ASSERT_TRUE(mask[i] == (wo[i] != 0.0f));
            }
            printf("%-12s %.1f  magnitude %.4g  +bias correction %.4g  obs %.4g  (zeros %lld/%lld)\n",
                   pats[pi], (double)s, em, eb, eo, (long long)zm, (long long)zo);
            ASSERT_TRUE(eb < em);
            ASSERT_TRUE(eo < 0.8 * em);
            if (p.kind == QS_PATTERN_UNSTRUCTURED) {
                ASSERT_EQ(zo, (int64_t)floor(s * M * K + 0.5));
                ASSERT_EQ(zm, zo);
            }
            if (p.kind == QS_PATTERN_NM)
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < K; j += p.m) {
                        int nz = 0;
                        for (int q = 0; q < p.m; q++) nz += wo[i * K + j + q] != 0.0f;
                        ASSERT_EQ(nz, p.n);
                    }
            if (p.kind == QS_PATTERN_BLOCK) {
                int64_t zb = 0, nb = 0;
                for (int r0 = 0; r0 < M; r0 += p.r)
                    for (int c0 = 0; c0 < K; c0 += p.c) {
                        int z = 0;
                        for (int r = r0; r < r0 + p.r; r++)
                            for (int c = c0; c < c0 + p.c; c++) z += wo[r * K + c] == 0.0f;
                        ASSERT_TRUE(z == 0 || z == p.r * p.c);
                        zb += z == p.r * p.c;
                        nb++;
                    }
                ASSERT_EQ(zb, (int64_t)floor(s * (double)nb + 0.5));
            }
        }
    // errors
    struct qs_diag d;
    struct qs_prune_pattern ch = pattern("channel");
    static float w[M * K];
    ASSERT_EQ(qs_prune_obs(w, M, K, H, &ch, 0.5f, 0.01f, 16, NULL, &d), QS_STATUS_UNSUPPORTED);
    struct qs_prune_pattern un = pattern("unstructured");
    ASSERT_EQ(qs_prune_obs(w, M, K, H, &un, 0.99f, 0.01f, 16, NULL, &d), QS_STATUS_INVALID_ARG);
    ASSERT_EQ(qs_prune_obs(w, M, K, H, &un, 0.5f, -1.0f, 16, NULL, &d), QS_STATUS_INVALID_ARG);
    // a singular H (an input that is always zero) still works: its weights become zero
    static double h0[K * K];
    memcpy(h0, H, sizeof h0);
    for (int j = 0; j < K; j++) h0[5 * K + j] = h0[j * K + 5] = 0.0;
    memcpy(w, W, sizeof w);
    ASSERT_OK(qs_prune_obs(w, M, K, h0, &un, 0.5f, 0.01f, 16, NULL, &d));
    for (int i = 0; i < M; i++) ASSERT_TRUE(w[i * K + 5] == 0.0f);
    printf("ok\n");
    return 0;
}
