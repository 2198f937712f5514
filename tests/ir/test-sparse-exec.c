// The sparse executor path (ir/ops/conv.c, ir/ops/gemm.c): a model with every layer kind it
// takes (tests/fixtures/spmm/sparse_layers.onnx: Conv 1x1 + Relu, Conv 3x3 padded, Conv
// without bias, Gemm transB + bias, MatMul on 2-D and 3-D activations) is pruned through
// qs_graph_set_layer_weights (90% unstructured by magnitude, then 4x1 blocks); the layers
// must run sparse (QS_SPMM=always; the executor's debug log names each one) and give the
// dense result (QS_SPMM=never) within fp32 tolerance; the dispatcher's own choice too;
// and the unpruned model never runs sparse. The int8 layers (sparse_qlinear.onnx:
// QLinearConv 1x1 and QLinearMatMul with 90%-zero weights, ir/ops/qsparse.c) give the dense
// integer kernels' result bit for bit.
#include "qsearch/ir.h"
#include "test.h"

#include <math.h>

static int g_sparse_layers;
static char g_formats[1024];

static void on_log(enum qs_log_level level, const char *msg, void *user) {
    (void)user;
    if (level == QS_LOG_DEBUG && strstr(msg, "': sparse ")) {
        g_sparse_layers++;
        const char *f = strstr(msg, "': sparse ") + 10;
        strncat(g_formats, f, strcspn(f, ","));
        strncat(g_formats, " ", sizeof g_formats - strlen(g_formats) - 1);
    }
}

enum { NX = 3 * 32 * 10 * 10, NT = 2 * 37 * 64, NY = 3 * 40, NY2 = 2 * 37 * 48 };

static void run(qs_graph_t *g, const char *mode, const float *x, const float *tok, float *y,
                float *y2) {
    setenv("QS_SPMM", mode, 1);
    g_sparse_layers = 0;
    g_formats[0] = 0;
    struct qs_session_options so = qs_session_options_default();
    qs_session_t *s;
    struct qs_diag d;
    ASSERT_OK(qs_session_create(g, &so, &s, &d));
    memcpy(qs_session_input_data(s, 0), x, sizeof(float) * NX);
    memcpy(qs_session_input_data(s, 1), tok, sizeof(float) * NT);
    ASSERT_OK(qs_session_run(s, &d));
    memcpy(y, qs_session_output_data(s, 0), sizeof(float) * NY);
    memcpy(y2, qs_session_output_data(s, 1), sizeof(float) * NY2);
    qs_session_destroy(s);
    unsetenv("QS_SPMM");
}

static void expect_close(const float *a, const float *b, int n, const char *what) {
    double scale = 0;
    for (int i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
    for (int i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= 1e-4 * (scale + 1e-3))) {
            fprintf(stderr, "%s: element %d: %.9g vs dense %.9g (max |y| %.3g)\n", what, i,
                    a[i], b[i], scale);
            exit(1);
        }
}

static int cmp_abs(const void *a, const void *b) {
    float x = fabsf(*(const float *)a), y = fabsf(*(const float *)b);
    return x < y ? -1 : x > y;
}

// Zeros the `frac` smallest-magnitude weights (blocks of `bh` output rows x 1 when bh > 1,
// by the block's largest magnitude).
static float *prune(const struct qs_layer_weights *lw, int64_t rows, double frac, int bh) {
    const int64_t n = lw->w_numel, cols = n / rows;
    float *w = malloc(sizeof(float) * (size_t)n), *mag = malloc(sizeof(float) * (size_t)n);
    memcpy(w, lw->w_file, sizeof(float) * (size_t)n);
    int64_t units = 0;
    for (int64_t r0 = 0; r0 < rows; r0 += bh)
        for (int64_t c = 0; c < cols; c++) {
            float m = 0;
            for (int64_t r = r0; r < r0 + bh && r < rows; r++) m = fmaxf(m, fabsf(w[r * cols + c]));
            mag[units++] = m;
        }
    float *sorted = malloc(sizeof(float) * (size_t)units);
    memcpy(sorted, mag, sizeof(float) * (size_t)units);
    qsort(sorted, (size_t)units, sizeof(float), cmp_abs);
    float thr = sorted[(size_t)(frac * (double)units)];
    int64_t u = 0;
    for (int64_t r0 = 0; r0 < rows; r0 += bh)
        for (int64_t c = 0; c < cols; c++, u++)
            if (mag[u] < thr)
                for (int64_t r = r0; r < r0 + bh && r < rows; r++) w[r * cols + c] = 0.0f;
    free(mag), free(sorted);
    return w;
}

enum { QX = 2 * 64 * 8 * 8, QA = 40 * 128, QY = 2 * 96 * 8 * 8, QY2 = 40 * 80 };

static void run_q(qs_graph_t *g, const char *mode, const uint8_t *x, const uint8_t *a,
                  uint8_t *y, uint8_t *y2) {
    setenv("QS_SPMM", mode, 1);
    g_sparse_layers = 0;
    g_formats[0] = 0;
    struct qs_session_options so = qs_session_options_default();
    qs_session_t *s;
    struct qs_diag d;
    ASSERT_OK(qs_session_create(g, &so, &s, &d));
    memcpy(qs_session_input_data(s, 0), x, QX);
    memcpy(qs_session_input_data(s, 1), a, QA);
    ASSERT_OK(qs_session_run(s, &d));
    memcpy(y, qs_session_output_data(s, 0), QY);
    memcpy(y2, qs_session_output_data(s, 1), QY2);
    qs_session_destroy(s);
    unsetenv("QS_SPMM");
}

static void test_int8(void) {
    qs_graph_t *g;
    struct qs_diag d;
    ASSERT_OK(qs_graph_load_onnx(qs_test_data("spmm/sparse_qlinear.onnx"), &g, &d));
    static uint8_t x[QX], a[QA], yd[QY], y2d[QY2], ys[QY], y2s[QY2];
    for (int i = 0; i < QX; i++) x[i] = (uint8_t)((i * 73 + 11) % 256);
    for (int i = 0; i < QA; i++) a[i] = (uint8_t)((i * 151 + 7) % 256);
    run_q(g, "never", x, a, yd, y2d);
    ASSERT_EQ(g_sparse_layers, 0);
    run_q(g, "always", x, a, ys, y2s);
    printf("int8: %d layers ran sparse\n", g_sparse_layers);
    ASSERT_EQ(g_sparse_layers, 2);
    ASSERT_TRUE(memcmp(yd, ys, QY) == 0 && memcmp(y2d, y2s, QY2) == 0);
    run_q(g, "auto", x, a, ys, y2s);
    ASSERT_TRUE(memcmp(yd, ys, QY) == 0 && memcmp(y2d, y2s, QY2) == 0);
    qs_graph_destroy(g);
}

int main(void) {
    const char *path = qs_test_data("spmm/sparse_layers.onnx");
    qs_graph_t *g;
    struct qs_diag d;
    ASSERT_OK(qs_graph_load_onnx(path, &g, &d));
    ASSERT_OK(qs_graph_optimize(g, QS_PASS_DEFAULT, &d));
    qs_set_log_callback(on_log, NULL, QS_LOG_DEBUG);

    float *x = malloc(sizeof(float) * NX), *tok = malloc(sizeof(float) * NT);
    for (int i = 0; i < NX; i++) x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    for (int i = 0; i < NT; i++) tok[i] = (float)((i * 53) % 97) / 48.0f - 1.0f;
    float yd[NY], ys[NY], y2d[NY2], y2s[NY2];

    // Dense weights: the dispatcher never picks sparse.
    run(g, "auto", x, tok, ys, y2s);
    ASSERT_EQ(g_sparse_layers, 0);

    const int layers = qs_graph_layer_count(g);
    float *pruned[16] = {0};
    int n_pruned = 0;
    for (int pass = 0; pass < 2; pass++) {
        const int bh = pass == 0 ? 1 : 4;
        for (int i = 0; i < layers && i < 16; i++) {
            struct qs_layer_weights lw;
            struct qs_layer_info li;
            if (qs_graph_layer_weights(g, i, &lw, &d) != QS_STATUS_OK) continue;
            ASSERT_OK(qs_graph_layer_info(g, i, &li));
            // Rows = output channels: dim 0 of a Conv weight, the last dim of MatMul's B
            // (handled as [K][N]: prune columns of it as "rows" of the transpose), Gemm's
            // transB weight [N][K] rows.
            const int64_t rows = li.w_axis == 0 ? li.c_out : lw.w_numel / li.c_out;
            free(pruned[i]);
            pruned[i] = prune(&lw, rows, 0.9, li.w_axis == 0 ? bh : 1);
            ASSERT_OK(qs_graph_set_layer_weights(g, i, pruned[i], NULL, &d));
            n_pruned += pass == 0;
        }
        ASSERT_TRUE(n_pruned == 6);
        run(g, "never", x, tok, yd, y2d);
        ASSERT_EQ(g_sparse_layers, 0);
        run(g, "always", x, tok, ys, y2s);
        printf("pass %d: %d layers ran sparse (%s)\n", pass, g_sparse_layers, g_formats);
        ASSERT_EQ(g_sparse_layers, n_pruned);
        if (pass == 1) ASSERT_STR_CONTAINS(g_formats, "bsr-4x1");
        expect_close(ys, yd, NY, "y (sparse)");
        expect_close(y2s, y2d, NY2, "y2 (sparse)");
        run(g, "auto", x, tok, ys, y2s);
        printf("pass %d: dispatcher chose sparse for %d layers\n", pass, g_sparse_layers);
        expect_close(ys, yd, NY, "y (dispatcher)");
        expect_close(y2s, y2d, NY2, "y2 (dispatcher)");
    }
    test_int8();
    qs_set_log_callback(NULL, NULL, QS_LOG_WARN);
    qs_graph_restore_weights(g);
    qs_graph_destroy(g);
    for (int i = 0; i < 16; i++) free(pruned[i]);
    free(x), free(tok);
    printf("sparse exec: ok\n");
    return 0;
}
