// CUDA GEMMs against the CPU: int8 (cuBLASLt IMMA + epilogue) bit-exact with qs__qgemm_ref for
// every output type, orientation and odd k; fp32 dense and cuSPARSE within tolerance of a
// double-precision host loop. Skips (77) without a GPU.
#include "cuda/cuda-test.h"

static void ref_gemm_f32(int64_t m, int64_t k, int64_t n, const float *x, const float *w,
                         const float *bias, float *y) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = bias ? bias[j] : 0.0;
            for (int64_t kk = 0; kk < k; kk++) s += (double)x[i * k + kk] * w[j * k + kk];
            y[i * n + j] = (float)s;
        }
}

static void test_f32(int64_t m, int64_t k, int64_t n, float sparsity, bool with_bias) {
    float *x = malloc((size_t)(m * k) * 4), *w = malloc((size_t)(n * k) * 4);
    float *b = malloc((size_t)n * 4), *y = malloc((size_t)(m * n) * 4);
    float *r = malloc((size_t)(m * n) * 4);
    ASSERT_TRUE(x && w && b && y && r);
    for (int64_t i = 0; i < m * k; i++) x[i] = cuda_test_f32();
    for (int64_t i = 0; i < n * k; i++)
        w[i] = sparsity > 0 && (cuda_test_u32() % 1000) < sparsity * 1000 ? 0.0f : cuda_test_f32();
    for (int64_t i = 0; i < n; i++) b[i] = cuda_test_f32();
    ref_gemm_f32(m, k, n, x, w, with_bias ? b : NULL, r);
    struct qs_diag d = {{0}};
    char what[96];
    float tol = 1e-5f * (float)sqrt((double)k);
    snprintf(what, sizeof what, "gemm f32 %lldx%lldx%lld", (long long)m, (long long)k,
             (long long)n);
    enum qs_status st = qs__cuda_gemm_f32(m, k, n, x, w, with_bias ? b : NULL, y, &d);
    if (st) fprintf(stderr, "%s: %s\n", what, d.msg);
    ASSERT_OK(st);
    cuda_test_close(y, r, (size_t)(m * n), tol, 1e-5f, what);
    snprintf(what, sizeof what, "spgemm f32 %lldx%lldx%lld sparsity %.2f", (long long)m,
             (long long)k, (long long)n, (double)sparsity);
    memset(y, 0, (size_t)(m * n) * 4);
    st = qs__cuda_spgemm_f32(QS_CUDA_PATTERN_UNSTRUCTURED, m, k, n, x, w, with_bias ? b : NULL,
                             y, &d);
    if (st) fprintf(stderr, "%s: %s\n", what, d.msg);
    ASSERT_OK(st);
    cuda_test_close(y, r, (size_t)(m * n), tol, 1e-5f, what);
    free(x), free(w), free(b), free(y), free(r);
}

static void test_q(size_t n, size_t k, size_t p, enum qs_qout out, bool x_kp, bool c_np) {
    int8_t *w = malloc(n * k);
    uint8_t *x = malloc(k * p);
    int32_t *bias = malloc(n * 4);
    float *scale = malloc(n * 4), *fbias = malloc(n * 4);
    size_t es = qs__qout_size(out);
    void *c = malloc(n * p * es), *r = malloc(n * p * es);
    ASSERT_TRUE(w && x && bias && scale && fbias && c && r);
    // Full ranges, including the -128 weight and the 255 x -128 extremes.
    for (size_t i = 0; i < n * k; i++) w[i] = (int8_t)cuda_test_u32();
    for (size_t i = 0; i < k * p; i++) x[i] = (uint8_t)cuda_test_u32();
    if (k > 2) x[0] = 255, w[0] = -128, x[x_kp ? p : 1] = 255, w[1] = -128;
    for (size_t i = 0; i < n; i++) {
        bias[i] = (int32_t)(cuda_test_u32() % 20001) - 10000;
        scale[i] = 1.0f / 8192 + (float)(cuda_test_u32() % 1000) / 1e6f;
        fbias[i] = cuda_test_f32();
    }
    struct qs_qgemm_params prm = {.out_type = out, .x_zp = (uint8_t)(cuda_test_u32() % 256),
                                  .bias = bias, .scale = scale, .fbias = fbias,
                                  .out_zp = out == QS_QOUT_S8 ? -5 : 7, .qmin = INT32_MIN,
                                  .qmax = INT32_MAX, .fmin = -INFINITY, .fmax = INFINITY};
    if (cuda_test_u32() % 2) prm.qmin = 20, prm.qmax = 100, prm.fmin = -2.0f, prm.fmax = 3.0f;
    size_t xsk = x_kp ? p : 1, xsp = x_kp ? 1 : k;
    size_t csn = c_np ? p : 1, csp = c_np ? 1 : n;
    qs__qgemm_ref(n, k, p, w, k, x, xsk, xsp, r, csn, csp, &prm);
    struct qs_diag d = {{0}};
    enum qs_status st = qs__cuda_qgemm(n, k, p, w, x, x_kp, c, c_np, &prm, &d);
    if (st) fprintf(stderr, "qgemm: %s\n", d.msg);
    ASSERT_OK(st);
    if (memcmp(c, r, n * p * es) != 0) {
        for (size_t i = 0; i < n * p * es; i++)
            if (((uint8_t *)c)[i] != ((uint8_t *)r)[i]) {
                fprintf(stderr, "qgemm n %zu k %zu p %zu out %d x_kp %d c_np %d: byte %zu "
                        "differs (gpu %u, cpu %u)\n", n, k, p, (int)out, x_kp, c_np, i,
                        ((uint8_t *)c)[i], ((uint8_t *)r)[i]);
                exit(1);
            }
    }
    free(w), free(x), free(bias), free(scale), free(fbias), free(c), free(r);
}

int main(void) {
    cuda_test_seed();
    cuda_test_require_gpu();
    const size_t shapes[][3] = {{1, 1, 1}, {16, 64, 32}, {7, 27, 49}, {64, 576, 256},
                                {10, 3, 5}, {33, 130, 17}, {256, 2304, 64}};
    for (size_t s = 0; s < QS_COUNTOF(shapes); s++)
        for (int out = 0; out < 4; out++)
            for (int o = 0; o < 4; o++)
                test_q(shapes[s][0], shapes[s][1], shapes[s][2], (enum qs_qout)out, o & 1,
                       (o >> 1) & 1);
    test_f32(1, 1, 1, 0.0f, false);
    test_f32(17, 33, 9, 0.5f, true);
    test_f32(64, 512, 128, 0.9f, true);
    test_f32(128, 1000, 10, 0.7f, false);
    // 2:4 reports why it cannot run instead of guessing.
    struct qs_diag d = {{0}};
    float one = 1, out1;
    enum qs_status st = qs__cuda_spgemm_f32(QS_CUDA_PATTERN_2_4, 1, 1, 1, &one, &one, NULL,
                                            &out1, &d);
    if (st != QS_STATUS_OK) ASSERT_STR_CONTAINS(d.msg, "cuSPARSELt");
    qs__cuda_shutdown();
    printf("ok\n");
    return 0;
}
