// Every SpMM kernel of this build (kernels/config/spmm-config.c) against the dense oracles:
// fp32 within 1e-5 relative to sum |W||X| + |bias|, int8 bit for bit (every output type,
// zero points, clamps, -128/127 weights and 0/255 activations), on random shapes across the
// column tiles, sparsities 0-100% and every storage format (masks shaped like the format);
// the thread pool path; exact byte counts of every format on hand-checked examples; the
// dispatcher's overrides. Seeded (QS_TEST_SEED=<n> to replay); failures print the seed.
#include "xorshift-test.h"
#include "kernels/ref/spmm-impl.h"
#include "test.h"

#include <inttypes.h>
#include <math.h>
#include <time.h>

static long g_cases;

static double unif(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

#define FAIL(...)                                                                     \
    do {                                                                              \
        fprintf(stderr, "FAIL seed=%" PRIu64 ": ", g_seed);                           \
        fprintf(stderr, __VA_ARGS__);                                                 \
        fprintf(stderr, "\n(replay with QS_TEST_SEED=%" PRIu64 ")\n", g_seed);        \
        exit(1);                                                                      \
    } while (0)

// A keep-mask of M x K shaped like format f at sparsity s (fraction of zeros).
static void make_mask(enum qs_sparse_format f, size_t m, size_t k, double s, uint8_t *mask) {
    memset(mask, 0, m * k);
    switch (f) {
    case QS_SPARSE_BSR_1X4: case QS_SPARSE_BSR_4X1: case QS_SPARSE_BSR_8X1: {
        size_t bh = f == QS_SPARSE_BSR_1X4 ? 1 : f == QS_SPARSE_BSR_4X1 ? 4 : 8;
        size_t bw = f == QS_SPARSE_BSR_1X4 ? 4 : 1;
        for (size_t i0 = 0; i0 < m; i0 += bh)
            for (size_t j0 = 0; j0 < k; j0 += bw) {
                if (unif() < s) continue;
                for (size_t i = i0; i < QS_MIN(m, i0 + bh); i++)
                    for (size_t j = j0; j < QS_MIN(k, j0 + bw); j++)
                        mask[i * k + j] = unif() > 0.05;
            }
        break;
    }
    case QS_SPARSE_NM_2_4: case QS_SPARSE_NM_4_8: {
        size_t n = f == QS_SPARSE_NM_2_4 ? 2 : 4, gm = f == QS_SPARSE_NM_2_4 ? 4 : 8;
        for (size_t i = 0; i < m; i++)
            for (size_t j0 = 0; j0 < k; j0 += gm) {
                size_t len = QS_MIN(gm, k - j0), kept = 0;
                for (size_t t = 0; t < 4 * gm && kept < QS_MIN(n, len); t++) {
                    size_t j = j0 + urange(0, len - 1);
                    if (!mask[i * k + j]) mask[i * k + j] = 1, kept++;
                }
                if (unif() < s) memset(mask + i * k + j0, 0, len);  // sparser than N:M
            }
        break;
    }
    default:
        for (size_t i = 0; i < m * k; i++) mask[i] = unif() >= s;
    }
}

static const double g_sparsities[] = {0.0, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99, 1.0};

static void test_f32(const struct qs_spmm_kernel *kern, qs_pool_t *pool) {
    for (int it = 0; it < 60; it++) {
        enum qs_sparse_format f = (enum qs_sparse_format)urange(1, QS_SPARSE_FORMAT_COUNT - 1);
        double s = g_sparsities[urange(0, QS_COUNTOF(g_sparsities) - 1)];
        size_t m = urange(1, 40), k = urange(1, 300), n = urange(1, 300);
        if (it % 10 == 0) n = urange(1, 17);
        if (pool && it % 3 == 0) m = urange(40, 90), n = urange(200, 700);
        size_t ldw = k + urange(0, 3), ldx = n + urange(0, 5), ldc = n + urange(0, 5);
        uint8_t *mask = malloc(m * k + 1);
        make_mask(f, m, k, s, mask);
        float *w = calloc(m * ldw + 1, sizeof(float));
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < k; j++)
                if (mask[i * k + j]) w[i * ldw + j] = (float)(unif() * 2 - 1) + 0.01f;
        float *x = malloc(sizeof(float) * (k * ldx + 1));
        for (size_t i = 0; i < k * ldx; i++) x[i] = (float)(unif() * 4 - 2);
        float *bias = NULL;
        if (rnd() & 1) {
            bias = malloc(sizeof(float) * m);
            for (size_t i = 0; i < m; i++) bias[i] = (float)(unif() - 0.5);
        }
        float lo = -INFINITY, hi = INFINITY;
        if (rnd() % 3 == 0) lo = 0.0f;
        if (rnd() % 4 == 0) hi = 1.5f;
        float *c = malloc(sizeof(float) * (m * ldc + 1));
        float *r = malloc(sizeof(float) * (m * ldc + 1));
        for (size_t i = 0; i < m * ldc + 1; i++) c[i] = r[i] = 12345.0f;
        qs_spmm_weights *pw = NULL;
        enum qs_status st = qs__spmm_pack_f32_kernel(kern, f, m, k, w, ldw, &pw);
        if (st != QS_STATUS_OK) FAIL("%s: pack %s m=%zu k=%zu: status %d", kern->name,
                                     qs__sparse_format_name(f), m, k, st);
        size_t nnz = 0;
        for (size_t i = 0; i < m * k; i++) nnz += mask[i];
        if (qs__spmm_nnz(pw) != nnz) FAIL("%s: nnz %zu != %zu", kern->name, qs__spmm_nnz(pw), nnz);
        if (qs__spmm_format_bytes(pw) != qs__sparse_format_bytes(f, m, k, 0, mask, 4))
            FAIL("%s: format bytes differ", kern->name);
        void *scratch = (rnd() & 3) ? malloc(qs__spmm_scratch_size(pw, n)) : NULL;
        qs__spmm_f32_run(pw, n, x, ldx, c, ldc, bias, lo, hi, scratch, pool);
        free(scratch);
        qs__spmm_f32_ref(m, k, n, w, ldw, x, ldx, r, ldc, bias, lo, hi);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < ldc; j++) {
                float a = c[i * ldc + j], b = r[i * ldc + j];
                if (j >= n) {
                    if (a != 12345.0f) FAIL("%s: wrote past n at (%zu,%zu)", kern->name, i, j);
                    continue;
                }
                double mag = bias ? fabs(bias[i]) : 0.0;
                for (size_t kk = 0; kk < k; kk++) mag += fabs(w[i * ldw + kk] * x[kk * ldx + j]);
                if (!(fabs((double)a - (double)b) <= 1e-5 * mag + 1e-30))
                    FAIL("%s f32 %s s=%.2f m=%zu k=%zu n=%zu ldx=%zu ldc=%zu pool=%d: "
                         "(%zu,%zu) %.9g vs ref %.9g (mag %.3g)",
                         kern->name, qs__sparse_format_name(f), s, m, k, n, ldx, ldc,
                         pool != NULL, i, j, a, b, mag);
            }
        if (c[m * ldc] != 12345.0f) FAIL("%s: canary overwritten", kern->name);
        qs__spmm_weights_destroy(pw);
        free(mask), free(w), free(x), free(bias), free(c), free(r);
        g_cases++;
    }
}

static void test_q8(const struct qs_spmm_kernel *kern, qs_pool_t *pool) {
    static const char *qn[] = {"u8", "s8", "f32", "s32"};
    for (int it = 0; it < 80; it++) {
        enum qs_sparse_format f = (enum qs_sparse_format)urange(1, QS_SPARSE_FORMAT_COUNT - 1);
        double s = g_sparsities[urange(0, QS_COUNTOF(g_sparsities) - 1)];
        size_t m = urange(1, 40), k = urange(1, 300), n = urange(1, 300);
        if (it % 10 == 0) n = urange(1, 17);
        if (pool && it % 3 == 0) m = urange(40, 90), n = urange(200, 700);
        const bool edges = it % 5 == 1;
        size_t ldw = k + urange(0, 3), ldx = n + urange(0, 5), ldc = n + urange(0, 5);
        uint8_t *mask = malloc(m * k + 1);
        make_mask(f, m, k, s, mask);
        int8_t *w = calloc(m * ldw + 1, 1);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < k; j++)
                if (mask[i * k + j]) {
                    int8_t v = edges ? ((rnd() & 1) ? 127 : -128) : (int8_t)rnd();
                    w[i * ldw + j] = v ? v : 1;
                }
        uint8_t *x = malloc(k * ldx + 1);
        for (size_t i = 0; i < k * ldx; i++)
            x[i] = edges ? ((rnd() & 1) ? 255 : 0) : (uint8_t)rnd();
        struct qs_qgemm_params prm = {0};
        prm.out_type = (enum qs_qout)urange(0, 3);
        prm.x_zp = edges ? 0 : (uint8_t)rnd();
        int32_t *bias = malloc(sizeof(int32_t) * m);
        float *scale = malloc(sizeof(float) * m), *fb = malloc(sizeof(float) * m);
        for (size_t i = 0; i < m; i++) {
            bias[i] = (int32_t)urange(0, 20000) - 10000;
            scale[i] = (float)(unif() * 0.01 + 1e-5);
            fb[i] = (float)(unif() - 0.5);
        }
        prm.bias = (rnd() & 1) ? bias : NULL;
        prm.scale = scale;
        prm.fbias = (rnd() & 1) ? fb : NULL;
        prm.out_zp = (int32_t)urange(0, 255) - (prm.out_type == QS_QOUT_U8 ? 0 : 128);
        prm.qmin = INT32_MIN, prm.qmax = INT32_MAX;
        if (rnd() % 3 == 0) prm.qmin = prm.out_zp;  // fused Relu
        if (rnd() % 4 == 0) prm.qmax = prm.out_zp + 50;
        prm.fmin = (rnd() & 1) ? 0.0f : -INFINITY;
        prm.fmax = INFINITY;
        size_t es = qs__qout_size(prm.out_type);
        uint8_t *c = malloc(es * m * ldc + 1), *r = malloc(es * m * ldc + 1);
        memset(c, 0xA5, es * m * ldc + 1);
        memset(r, 0xA5, es * m * ldc + 1);
        qs_spmm_weights *pw = NULL;
        enum qs_status st = qs__spmm_pack_q8_kernel(kern, f, m, k, w, ldw, &pw);
        if (st != QS_STATUS_OK) FAIL("%s: pack status %d", kern->name, st);
        size_t nnz = 0;
        for (size_t i = 0; i < m * k; i++) nnz += mask[i];
        if (qs__spmm_nnz(pw) != nnz) FAIL("%s: nnz %zu != %zu", kern->name, qs__spmm_nnz(pw), nnz);
        if (qs__spmm_format_bytes(pw) != qs__sparse_format_bytes(f, m, k, 0, mask, 1))
            FAIL("%s: format bytes differ", kern->name);
        void *scratch = malloc(qs__spmm_scratch_size(pw, n));
        qs__spmm_q8_run(pw, n, x, ldx, c, ldc, &prm, scratch, pool);
        qs__spmm_q8_ref(m, k, n, w, ldw, x, ldx, r, ldc, &prm);
        if (memcmp(c, r, es * m * ldc + 1) != 0) {
            size_t b = 0;
            while (c[b] == r[b]) b++;
            FAIL("%s q8 %s out=%s s=%.2f m=%zu k=%zu n=%zu ldx=%zu ldc=%zu x_zp=%d zp=%d "
                 "q=[%d,%d] pool=%d edges=%d: first difference at element (%zu,%zu)",
                 kern->name, qs__sparse_format_name(f), qn[prm.out_type], s, m, k, n, ldx,
                 ldc, prm.x_zp, prm.out_zp, prm.qmin, prm.qmax, pool != NULL, edges,
                 b / es / ldc, b / es % ldc);
        }
        qs__spmm_weights_destroy(pw);
        free(scratch), free(mask), free(w), free(x), free(bias), free(scale), free(fb);
        free(c), free(r);
        g_cases++;
    }
}

static void test_bytes(void) {
    // 2 x 8, row 0: cols 0, 1, 7; row 1: col 3. fp32 values.
    uint8_t mask[16] = {1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0};
    ASSERT_EQ(qs__sparse_format_bytes(QS_SPARSE_DENSE, 2, 8, 0, mask, 4), 64);
    ASSERT_EQ(qs__sparse_format_bytes(QS_SPARSE_CSR, 2, 8, 0, mask, 4), 4 * 6 + 3 * 4);
    ASSERT_EQ(qs__sparse_format_bytes(QS_SPARSE_CSR, 2, 8, 4, NULL, 4), 4 * 6 + 3 * 4);
    ASSERT_EQ(qs__sparse_format_bytes(QS_SPARSE_CSR_DELTA, 2, 8, 0, mask, 4), 4 * 5 + 3 * 4);
    // 1x4 blocks: row 0 has blocks 0 and 1, row 1 block 0: 3 blocks * (16 + 2) + 3 * 4.
    ASSERT_EQ(qs__sparse_format_bytes(QS_SPARSE_BSR_1X4, 2, 8, 0, mask, 4), 3 * 18 + 12);
    // 4x1 blocks (one block row): columns 0, 1, 3, 7 -> 4 blocks * (16 + 2) + 2 * 4.
    ASSERT_EQ(qs__sparse_format_bytes(QS_SPARSE_BSR_4X1, 2, 8, 0, mask, 4), 4 * 18 + 8);
    ASSERT_EQ(qs__sparse_format_bytes(QS_SPARSE_BSR_8X1, 2, 8, 0, mask, 4), 4 * 34 + 8);
    // 2:4: 2 rows * 2 groups * 2 values = 8 values, 16 bits of positions.
    ASSERT_EQ(qs__sparse_format_bytes(QS_SPARSE_NM_2_4, 2, 8, 0, NULL, 4), 8 * 4 + 2);
    ASSERT_EQ(qs__sparse_format_bytes(QS_SPARSE_NM_4_8, 2, 8, 0, NULL, 1), 8 + 3);
    ASSERT_TRUE(qs__sparse_mask_fits(QS_SPARSE_NM_2_4, 2, 8, mask));
    uint8_t dense3[8] = {1, 1, 1, 0, 0, 0, 0, 0};
    ASSERT_TRUE(!qs__sparse_mask_fits(QS_SPARSE_NM_2_4, 1, 8, dense3));
    ASSERT_TRUE(qs__sparse_mask_fits(QS_SPARSE_NM_4_8, 1, 8, dense3));
    // Delta encoding: a gap of 600 columns costs two fillers (deltas 256 + 256 + 88).
    static uint8_t wide[1000];
    wide[0] = 1, wide[600] = 1;
    ASSERT_EQ(qs__sparse_format_bytes(QS_SPARSE_CSR_DELTA, 1, 1000, 0, wide, 4), 4 * 5 + 8);
    ASSERT_EQ(qs__sparse_format_bytes(QS_SPARSE_CSR, 1, 1000, 0, wide, 4), 2 * 6 + 8);
    size_t best = 0;
    ASSERT_EQ(qs__sparse_csr_best(1, 1000, wide, 4, &best), QS_SPARSE_CSR);
    ASSERT_EQ(best, 20);
    ASSERT_EQ(qs__sparse_csr_best(2, 8, mask, 4, &best), QS_SPARSE_CSR_DELTA);
    // Wide K: 32-bit column indices.
    ASSERT_EQ(qs__sparse_format_bytes(QS_SPARSE_CSR, 1, 70000, 10, NULL, 4), 10 * 8 + 8);
    for (int f = 0; f < QS_SPARSE_FORMAT_COUNT; f++)
        ASSERT_EQ(qs__sparse_format_parse(qs__sparse_format_name((enum qs_sparse_format)f)), f);
    ASSERT_EQ(qs__sparse_format_parse("nope"), -1);
    // An N:M pack refuses weights that break the pattern.
    float wbad[8] = {1, 1, 1, 0, 0, 0, 0, 0};
    qs_spmm_weights *pw = NULL;
    ASSERT_EQ(qs__spmm_pack_f32(QS_SPARSE_NM_2_4, 1, 8, wbad, 8, &pw), QS_STATUS_INVALID_ARG);
    ASSERT_OK(qs__spmm_pack_f32(QS_SPARSE_NM_4_8, 1, 8, wbad, 8, &pw));
    ASSERT_EQ(qs__spmm_format_bytes(pw), 4 * 4 + 2);
    qs__spmm_weights_destroy(pw);
}

static void test_transpose(void) {
    for (int it = 0; it < 40; it++) {
        size_t r = urange(1, 90), c = urange(1, 90), lds = c + urange(0, 9), ldd = r + urange(0, 9);
        float *src = malloc(sizeof(float) * r * lds), *dst = malloc(sizeof(float) * c * ldd);
        for (size_t i = 0; i < r * lds; i++) src[i] = (float)i;
        for (size_t i = 0; i < c * ldd; i++) dst[i] = -1.0f;
        qs__spmm_transpose_f32(r, c, src, lds, dst, ldd);
        for (size_t j = 0; j < c; j++)
            for (size_t i = 0; i < ldd; i++)
                if (dst[j * ldd + i] != (i < r ? src[i * lds + j] : -1.0f))
                    FAIL("transpose %zux%zu lds=%zu ldd=%zu at (%zu,%zu)", r, c, lds, ldd, j, i);
        free(src), free(dst);
    }
}

static void test_dispatch(void) {
    // Very sparse large layers pay; dense ones never do.
    ASSERT_TRUE(!qs__spmm_pays(QS_SPMM_PEER_SGEMM, QS_SPARSE_CSR, 256, 256, 784, 256 * 256));
    ASSERT_TRUE(!qs__spmm_pays(QS_SPMM_PEER_QGEMM, QS_SPARSE_CSR, 256, 256, 784, 256 * 256));
    double d = qs__spmm_break_even_density(QS_SPMM_PEER_SGEMM, QS_SPARSE_CSR, 256, 256, 784);
    ASSERT_TRUE(d >= 0.0 && d < 1.0);
    if (d > 0.02)
        ASSERT_TRUE(qs__spmm_pays(QS_SPMM_PEER_SGEMM, QS_SPARSE_CSR, 256, 256, 784, 655));
    setenv("QS_SPMM", "always", 1);
    ASSERT_TRUE(qs__spmm_pays(QS_SPMM_PEER_SGEMM, QS_SPARSE_CSR, 256, 256, 784, 256 * 256));
    setenv("QS_SPMM", "never", 1);
    ASSERT_TRUE(!qs__spmm_pays(QS_SPMM_PEER_SGEMM, QS_SPARSE_CSR, 256, 256, 784, 1));
    unsetenv("QS_SPMM");
    size_t nnz = 0;
    float w4[8 * 4] = {0};
    for (int i = 0; i < 4; i++) w4[i * 8 + 2] = 1.0f, w4[i * 8 + 5] = -2.0f;
    ASSERT_EQ(qs__spmm_choose_format_f32(4, 8, w4, &nnz), QS_SPARSE_BSR_4X1);
    ASSERT_EQ(nnz, 8);
    w4[0] = 1.0f;
    ASSERT_EQ(qs__spmm_choose_format_f32(4, 8, w4, &nnz), QS_SPARSE_CSR);
}

int main(void) {
    const char *env = getenv("QS_TEST_SEED");
    g_seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    g_state = g_seed * 2654435761u + 0x9E3779B97F4A7C15u;
    if (!g_state) g_state = 1;
    printf("seed %" PRIu64 "\n", g_seed);
    test_bytes();
    test_dispatch();
    test_transpose();
    qs_pool_t *pool = NULL;
    ASSERT_OK(qs__pool_create(2, &pool));
    size_t count;
    const struct qs_spmm_kernel *kerns = qs__spmm_kernels(&count);
    int ran = 0;
    for (size_t i = 0; i < count; i++) {
        const struct qs_spmm_kernel *kern = &kerns[i];
        if (!qs__spmm_kernel_supported(kern)) {
            printf("skip %s (CPU)\n", kern->name);
            continue;
        }
        long before = g_cases;
        for (int p = 0; p < 2; p++) {
            if (kern->f32) test_f32(kern, p ? pool : NULL);
            else test_q8(kern, p ? pool : NULL);
        }
        printf("ok   %s (%ld cases)\n", kern->name, g_cases - before);
        ran++;
    }
    qs__pool_destroy(pool);
    printf("spmm: %d kernels, %ld cases passed\n", ran, g_cases);
    return 0;
}
