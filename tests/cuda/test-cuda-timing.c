// The CUDA timing API (what `lut build --target cuda` calls): layer validation (runs in every
// build), the stubs' answer without CUDA, and on a GPU sane statistics for dense, int8,
// sparse and conv layers. Skips (77) without a GPU.
#include "cuda/cuda-test.h"

static struct qs_cuda_layer gemm(int64_t m, int64_t k, int64_t n, int bits, float sp,
                                 enum qs_cuda_pattern pat) {
    struct qs_cuda_layer l = {.op = QS_CUDA_OP_GEMM, .w_bits = bits, .a_bits = bits,
                              .sparsity = sp, .pattern = pat, .m = m, .k = k, .n = n};
    return l;
}

static struct qs_cuda_layer conv3(int64_t c, int64_t hw, int64_t co, int64_t s, int64_t g,
                                  int bits, float sp) {
    struct qs_cuda_layer l = {.op = QS_CUDA_OP_CONV, .w_bits = bits, .a_bits = bits,
                              .sparsity = sp,
                              .pattern = sp > 0 ? QS_CUDA_PATTERN_UNSTRUCTURED
                                                : QS_CUDA_PATTERN_DENSE,
                              .batch = 1, .c_in = c, .h = hw, .w = hw, .c_out = co, .kh = 3,
                              .kw = 3, .stride_h = s, .stride_w = s, .pad_h = 1, .pad_w = 1,
                              .dil_h = 1, .dil_w = 1, .groups = g};
    return l;
}

static void check_invalid(struct qs_cuda_layer l, const char *needle) {
    struct qs_diag d = {{0}};
    ASSERT_EQ(qs__cuda_layer_check(&l, &d), QS_STATUS_INVALID_ARG);
    ASSERT_STR_CONTAINS(d.msg, needle);
}

int main(void) {
    struct qs_diag d = {{0}};
    ASSERT_OK(qs__cuda_layer_check(&(struct qs_cuda_layer){.op = QS_CUDA_OP_GEMM, .w_bits = 8,
                                                           .a_bits = 32, .m = 1, .k = 1,
                                                           .n = 1},
                                   &d));
    struct qs_cuda_layer dw = conv3(16, 8, 16, 1, 16, 8, 0);
    ASSERT_OK(qs__cuda_layer_check(&dw, &d));
    check_invalid(gemm(0, 4, 4, 8, 0, QS_CUDA_PATTERN_DENSE), "GEMM dims");
    check_invalid(gemm(4, 4, 4, 0, 0, QS_CUDA_PATTERN_DENSE), "bits");
    check_invalid(gemm(4, 4, 4, 8, 1.0f, QS_CUDA_PATTERN_UNSTRUCTURED), "sparsity");
    check_invalid(conv3(6, 8, 16, 1, 4, 8, 0), "groups");
    struct qs_cuda_layer big = conv3(3, 8, 8, 1, 1, 8, 0);
    big.kh = 11;
    check_invalid(big, "larger than the padded input");

    if (!qs__cuda_built()) {
        struct qs_cuda_timing t;
        struct qs_cuda_layer l = gemm(4, 4, 4, 8, 0, QS_CUDA_PATTERN_DENSE);
        ASSERT_EQ(qs__cuda_time_layer(&l, 5, &t, &d), QS_STATUS_UNSUPPORTED);
        ASSERT_STR_CONTAINS(d.msg, "built without CUDA (-DQS_CUDA=ON)");
    }
    cuda_test_require_gpu();

    const struct qs_cuda_layer layers[] = {
        gemm(1, 512, 10, 32, 0, QS_CUDA_PATTERN_DENSE),
        gemm(128, 768, 768, 32, 0, QS_CUDA_PATTERN_DENSE),
        gemm(128, 768, 768, 8, 0, QS_CUDA_PATTERN_DENSE),
        gemm(128, 770, 768, 8, 0, QS_CUDA_PATTERN_DENSE),  // k padded to 772
        gemm(128, 768, 768, 32, 0.9f, QS_CUDA_PATTERN_UNSTRUCTURED),
        conv3(16, 32, 16, 1, 1, 32, 0),
        conv3(16, 32, 16, 1, 1, 8, 0),
        conv3(32, 16, 64, 2, 1, 8, 0),
        conv3(32, 16, 32, 1, 32, 8, 0),   // depthwise int8
        conv3(32, 16, 32, 1, 32, 32, 0),  // depthwise fp32
        conv3(64, 8, 64, 1, 1, 32, 0.7f),
    };
    for (size_t i = 0; i < QS_COUNTOF(layers); i++) {
        struct qs_cuda_timing t;
        enum qs_status st = qs__cuda_time_layer(&layers[i], 20, &t, &d);
        if (st) fprintf(stderr, "layer %zu: %s\n", i, d.msg);
        ASSERT_OK(st);
        printf("layer %zu: %-22s median %.4f ms (p10 %.4f, p90 %.4f, %d runs)\n", i, t.kernel,
               t.median_ms, t.p10_ms, t.p90_ms, t.runs);
        ASSERT_EQ(t.runs, 20);
        ASSERT_TRUE(t.min_ms > 0 && t.p10_ms >= t.min_ms && t.median_ms >= t.p10_ms &&
                    t.p90_ms >= t.median_ms);
        ASSERT_TRUE(t.kernel[0] != '\0');
    }
    // Sparse int8 may or may not be supported by this cuSPARSE; either way it says so.
    struct qs_cuda_timing t;
    struct qs_cuda_layer sq = gemm(64, 256, 256, 8, 0.8f, QS_CUDA_PATTERN_UNSTRUCTURED);
    enum qs_status st = qs__cuda_time_layer(&sq, 10, &t, &d);
    printf("sparse int8: %s\n", st ? d.msg : t.kernel);
    ASSERT_TRUE(st == QS_STATUS_OK || st == QS_STATUS_UNSUPPORTED);
    struct qs_cuda_layer s24 = gemm(64, 256, 256, 8, 0.5f, QS_CUDA_PATTERN_2_4);
    st = qs__cuda_time_layer(&s24, 10, &t, &d);
    if (st) ASSERT_STR_CONTAINS(d.msg, "cuSPARSELt");
    qs__cuda_shutdown();
    printf("ok\n");
    return 0;
}
