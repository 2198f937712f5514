// Magnitude masks: exact counts (uniform), aggregate counts (global), N:M in every group,
// block and channel masks, and clear errors for bad patterns and ratios.
#include "qsearch/sparse.h"
#include "test.h"

#include <math.h>

static uint64_t rng_state;
static float frand(void) {  // xorshift64*, uniform in [-1, 1)
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (float)((rng_state * 2685821657736338717ull) >> 40) / (float)(1 << 23) - 1.0f;
}

static float *rand_mat(int64_t n) {
    float *w = malloc((size_t)n * sizeof *w);
    for (int64_t i = 0; i < n; i++) w[i] = frand();
    return w;
}

static struct qs_prune_pattern pattern(const char *s) {
    struct qs_prune_pattern p;
    struct qs_diag d;
    if (qs_prune_pattern_parse(s, &p, &d)) {
        fprintf(stderr, "pattern '%s': %s\n", s, d.msg);
        exit(1);
    }
    return p;
}

static void test_uniform(void) {
    static const int64_t shapes[][2] = {{1, 1}, {3, 7}, {16, 144}, {64, 576}, {10, 16}};
    static const float ratios[] = {0.0f, 0.1f, 0.3f, 0.5f, 0.7f, 0.9f, 0.95f};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t r = 0; r < sizeof ratios / sizeof ratios[0]; r++) {
            int64_t m = shapes[s][0], k = shapes[s][1], n = m * k;
            float *w = rand_mat(n), *w0 = malloc((size_t)n * sizeof *w0);
            uint8_t *mask = malloc((size_t)n);
            memcpy(w0, w, (size_t)n * sizeof *w);
            struct qs_prune_pattern p = pattern("unstructured");
            ASSERT_OK(qs_prune_magnitude(w, m, k, &p, ratios[r], mask, NULL));
            int64_t zeros = 0;
            float max_pruned = 0.0f, min_kept = INFINITY;
            for (int64_t i = 0; i < n; i++) {
                if (mask[i]) {
                    ASSERT_TRUE(w[i] == w0[i]);
                    min_kept = fminf(min_kept, fabsf(w0[i]));
                } else {
                    ASSERT_TRUE(w[i] == 0.0f);
                    max_pruned = fmaxf(max_pruned, fabsf(w0[i]));
                    zeros++;
                }
            }
            if (zeros != (int64_t)floor(ratios[r] * (double)n + 0.5)) {
                fprintf(stderr, "seed %llu: %lldx%lld at %g: %lld zeros\n",
                        (unsigned long long)rng_state, (long long)m, (long long)k,
                        (double)ratios[r], (long long)zeros);
                exit(1);
            }
            ASSERT_TRUE(max_pruned <= min_kept);
            free(w);
            free(w0);
            free(mask);
        }
}

static void test_global(void) {
    int64_t numel[3] = {1000, 5000, 300};
    float *w[3];
    for (int i = 0; i < 3; i++) {
        w[i] = rand_mat(numel[i]);
        for (int64_t j = 0; j < numel[i]; j++) w[i][j] *= (float)(i + 1);  // different scales
    }
    float thr;
    ASSERT_OK(qs_prune_global_threshold((const float *const *)w, numel, 3, 0.6f, &thr, NULL));
    int64_t z = 0, zl[3] = {0};
    for (int i = 0; i < 3; i++)
        for (int64_t j = 0; j < numel[i]; j++) zl[i] += fabsf(w[i][j]) <= thr;
    z = zl[0] + zl[1] + zl[2];
    ASSERT_EQ(z, (int64_t)floor(0.6 * 6300 + 0.5));
    ASSERT_TRUE(zl[0] > zl[2] * 3);  // the small-scale layer is pruned hardest
    ASSERT_TRUE((double)zl[0] / 1000.0 > (double)zl[1] / 5000.0);
    for (int i = 0; i < 3; i++) free(w[i]);
}

static void check_nm(const char *pat, int n_keep, int gm, int64_t m, int64_t k, bool obs_like,
                     const float *w) {
    (void)pat;
    (void)obs_like;
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < k; j += gm) {
            int g = (int)(k - j < gm ? k - j : gm), nz = 0;
            for (int q = 0; q < g; q++) nz += w[r * k + j + q] != 0.0f;
            int want = g < n_keep ? g : n_keep;
            if (nz != want) {
                fprintf(stderr, "%s: row %lld group %lld has %d non-zeros (want %d)\n", pat,
                        (long long)r, (long long)j, nz, want);
                exit(1);
            }
        }
}

static void test_nm(void) {
    static const struct { const char *p; int n, m; } cases[] = {{"2:4", 2, 4}, {"4:8", 4, 8},
                                                               {"1:4", 1, 4}};
    for (size_t c = 0; c < 3; c++) {
        int64_t m = 13, k = 42;  // a partial last group
        float *w = rand_mat(m * k), *w0 = malloc((size_t)(m * k) * sizeof *w0);
        memcpy(w0, w, (size_t)(m * k) * sizeof *w);
        struct qs_prune_pattern p = pattern(cases[c].p);
        ASSERT_EQ(p.kind, QS_PATTERN_NM);
        ASSERT_OK(qs_prune_magnitude(w, m, k, &p, 0.5f, NULL, NULL));
        check_nm(cases[c].p, cases[c].n, cases[c].m, m, k, false, w);
        // the kept ones are the largest of their group
        for (int64_t r = 0; r < m; r++)
            for (int64_t j = 0; j < k; j += cases[c].m)
                for (int64_t a = j; a < j + cases[c].m && a < k; a++)
                    for (int64_t b = j; b < j + cases[c].m && b < k; b++)
                        if (w[r * k + a] == 0.0f && w[r * k + b] != 0.0f)
                            ASSERT_TRUE(fabsf(w0[r * k + a]) <= fabsf(w0[r * k + b]));
        free(w);
        free(w0);
    }
}

static void test_blocks(void) {
    static const struct { const char *p; int r, c; } cases[] = {
        {"block1x4", 1, 4}, {"block4x1", 4, 1}, {"block8x1", 8, 1}, {"block32x32", 32, 32}};
    for (size_t c = 0; c < 4; c++) {
        int64_t m = 70, k = 150;  // blocks clipped at both edges
        float *w = rand_mat(m * k), *w0 = malloc((size_t)(m * k) * sizeof *w0);
        memcpy(w0, w, (size_t)(m * k) * sizeof *w);
        struct qs_prune_pattern p = pattern(cases[c].p);
        ASSERT_OK(qs_prune_magnitude(w, m, k, &p, 0.5f, NULL, NULL));
        int64_t zb = 0, nb = 0;
        for (int64_t r0 = 0; r0 < m; r0 += cases[c].r)
            for (int64_t c0 = 0; c0 < k; c0 += cases[c].c) {
                int zeros = 0, cells = 0;
                for (int64_t r = r0; r < r0 + cases[c].r && r < m; r++)
                    for (int64_t j = c0; j < c0 + cases[c].c && j < k; j++) {
                        cells++;
                        if (w[r * k + j] == 0.0f) zeros++;
                        else ASSERT_TRUE(w[r * k + j] == w0[r * k + j]);
                    }
                ASSERT_TRUE(zeros == 0 || zeros == cells);  // whole blocks only
                zb += zeros == cells;
                nb++;
            }
        ASSERT_EQ(zb, (int64_t)floor(0.5 * (double)nb + 0.5));
        free(w);
        free(w0);
    }
    // channel: whole rows
    int64_t m = 20, k = 9;
    float *w = rand_mat(m * k);
    for (int64_t j = 0; j < k; j++) w[3 * k + j] *= 0.01f;  // row 3 is the weakest
    struct qs_prune_pattern p = pattern("channel");
    ASSERT_OK(qs_prune_magnitude(w, m, k, &p, 0.25f, NULL, NULL));
    int rows = 0;
    for (int64_t r = 0; r < m; r++) {
        int z = 0;
        for (int64_t j = 0; j < k; j++) z += w[r * k + j] == 0.0f;
        ASSERT_TRUE(z == 0 || z == k);
        rows += z == k;
    }
    ASSERT_EQ(rows, 5);
    for (int64_t j = 0; j < k; j++) ASSERT_TRUE(w[3 * k + j] == 0.0f);
    free(w);
}

static void test_errors(void) {
    struct qs_prune_pattern p;
    struct qs_diag d;
    static const char *bad[] = {"4:2", "2:4x", "block0x4", "blockx", "dense", "2:32", "block1x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_EQ(qs_prune_pattern_parse(bad[i], &p, &d), QS_STATUS_INVALID_ARG);
        ASSERT_STR_CONTAINS(d.msg, bad[i]);
        ASSERT_STR_CONTAINS(d.msg, "2:4");
    }
    float w[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    p = pattern("unstructured");
    ASSERT_EQ(qs_prune_magnitude(w, 2, 4, &p, 0.96f, NULL, &d), QS_STATUS_INVALID_ARG);
    ASSERT_STR_CONTAINS(d.msg, "0.95");
    ASSERT_EQ(qs_prune_magnitude(w, 2, 4, &p, -0.1f, NULL, &d), QS_STATUS_INVALID_ARG);
    ASSERT_EQ(qs_prune_magnitude(w, 0, 4, &p, 0.5f, NULL, &d), QS_STATUS_INVALID_ARG);
    enum qs_prune_method m;
    ASSERT_EQ(qs_prune_method_parse("l1", &m, &d), QS_STATUS_INVALID_ARG);
    ASSERT_STR_CONTAINS(d.msg, "'l1'");
    ASSERT_STR_CONTAINS(d.msg, "obs");
    ASSERT_OK(qs_prune_method_parse("SparseGPT", &m, NULL));
    ASSERT_EQ(m, QS_PRUNE_OBS);
    ASSERT_OK(qs_prune_method_parse("bias_correction", &m, NULL));
    ASSERT_EQ(m, QS_PRUNE_BIAS_CORRECTION);
}

int main(void) {
    const char *env = getenv("QS_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : 0x5eed5eedull;
    printf("seed %llu (QS_TEST_SEED)\n", (unsigned long long)seed);
    rng_state = seed | 1;
    test_uniform();
    test_global();
    test_nm();
    test_blocks();
    test_errors();
    printf("ok\n");
    return 0;
}
