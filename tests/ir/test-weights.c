// Weight overrides (qs_graph_set_layer_weights): sessions, the export and quant/ see the
// override; restoring gives the original outputs back bit for bit.
#include "qsearch/ir.h"
#include "qsearch/quant.h"
#include "test.h"

#include <math.h>
#include <unistd.h>

static void run(qs_graph_t *g, const float *x, float *y) {
    struct qs_session_options so = qs_session_options_default();
    qs_session_t *s;
    ASSERT_OK(qs_session_create(g, &so, &s, NULL));
    memcpy(qs_session_input_data(s, 0), x, 64 * sizeof(float));
    ASSERT_OK(qs_session_run(s, NULL));
    memcpy(y, qs_session_output_data(s, 0), 10 * sizeof(float));
    qs_session_destroy(s);
}

int main(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/../../configs/demo/digits_cnn.onnx", qs_test_data(""));
    qs_graph_t *g;
    struct qs_diag d;
    ASSERT_OK(qs_graph_load_onnx(path, &g, &d));
    ASSERT_OK(qs_graph_optimize(g, QS_PASS_DEFAULT, &d));
    float x[64], y0[10], y1[10], y2[10];
    for (int i = 0; i < 64; i++) x[i] = (float)((i * 7) % 17) / 16.0f;
    run(g, x, y0);

    int last = qs_graph_layer_count(g) - 1;
    struct qs_layer_weights lw;
    ASSERT_OK(qs_graph_layer_weights(g, last, &lw, &d));
    ASSERT_TRUE(lw.w == lw.w_file && lw.b_tensor >= 0 && lw.b_numel == 10);
    // Zero the weights, add 1 to every bias: logits become bias + 1.
    float *w = calloc((size_t)lw.w_numel, sizeof(float)), b[10];
    for (int i = 0; i < 10; i++) b[i] = lw.b_file[i] + 1.0f;
    ASSERT_OK(qs_graph_set_layer_weights(g, last, w, b, &d));
    ASSERT_OK(qs_graph_layer_weights(g, last, &lw, &d));
    ASSERT_TRUE(lw.w == w && lw.w_file != w && lw.b == b);
    run(g, x, y1);
    for (int i = 0; i < 10; i++) ASSERT_TRUE(fabsf(y1[i] - b[i]) < 1e-6f);

    // The export writes the override.
    char out[] = "/tmp/qs-test-weights-XXXXXX.onnx";
    int fd = mkstemps(out, 5);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    ASSERT_OK(qs_graph_save_onnx(g, out, &d));
    qs_graph_t *g2;
    ASSERT_OK(qs_graph_load_onnx(out, &g2, &d));
    run(g2, x, y2);
    for (int i = 0; i < 10; i++) ASSERT_TRUE(fabsf(y2[i] - b[i]) < 1e-6f);
    qs_graph_destroy(g2);
    unlink(out);

    // A bias for a layer without one is refused; NULL restores.
    ASSERT_OK(qs_graph_set_layer_weights(g, last, NULL, NULL, &d));
    run(g, x, y2);
    ASSERT_TRUE(memcmp(y0, y2, sizeof y0) == 0);
    ASSERT_OK(qs_graph_set_layer_weights(g, last, w, NULL, &d));
    qs_graph_restore_weights(g);
    run(g, x, y2);
    ASSERT_TRUE(memcmp(y0, y2, sizeof y0) == 0);
    ASSERT_EQ(qs_graph_layer_weights(g, 99, &lw, &d), QS_STATUS_INVALID_ARG);

    // Destroying a graph with an override set frees its own data, not the borrowed array.
    ASSERT_OK(qs_graph_set_layer_weights(g, last, w, b, &d));
    qs_graph_destroy(g);
    free(w);
    puts("ok");
    return 0;
}
