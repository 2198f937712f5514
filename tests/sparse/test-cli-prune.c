// `qsearch prune` end to end on the tiny fixtures: a policy file, --sparsity, OBS with
// calibration data, channel pruning that writes a smaller model, and clear usage errors.
#include "cli/cli-test.h"
#include "qsearch/ir.h"

#define RUN(...) cli_runv((const char *const[]){__VA_ARGS__, NULL})

static int64_t zeros_in(const char *model, const char *layer, int64_t *numel) {
    qs_graph_t *g;
    ASSERT_OK(qs_graph_load_onnx(model, &g, NULL));
    int64_t z = -1;
    for (int i = 0; i < qs_graph_layer_count(g); i++) {
        struct qs_layer_info li;
        struct qs_layer_weights lw;
        qs_graph_layer_info(g, i, &li);
        if (strcmp(li.name, layer)) continue;
        ASSERT_OK(qs_graph_layer_weights(g, i, &lw, NULL));
        z = 0;
        for (int64_t j = 0; j < lw.w_numel; j++) z += lw.w[j] == 0.0f;
        *numel = lw.w_numel;
    }
    qs_graph_destroy(g);
    return z;
}

int main(void) {
    cli_bin();
    char model[4096], x[4096];
    snprintf(model, sizeof model, "%s", qs_test_data("sparse/resnet_tiny.onnx"));
    snprintf(x, sizeof x, "%s", qs_test_data("sparse/resnet_tiny_x.npy"));
    char out[4096], pol[4096];  // cli_tmp's buffers rotate: keep copies
    snprintf(out, sizeof out, "%s", cli_tmp("pruned.onnx"));
    snprintf(pol, sizeof pol, "%s", cli_tmp("policy.yaml"));
    const char *yaml = "layers:\n  s2b2_conv1: {sparsity: 0.75}\n  s1b1_conv1: {sparsity: 0.5, "
                       "pattern: \"2:4\"}\n";
    cli_write(pol, yaml, strlen(yaml));

    struct cli_run r = RUN("prune", model, "--policy", pol, "-o", out);
    if (r.code) fprintf(stderr, "%s%s", r.out, r.err);
    ASSERT_EQ(r.code, 0);
    ASSERT_STR_CONTAINS(r.out, "2 of 9 layers pruned");
    ASSERT_STR_CONTAINS(r.out, "wrote");
    cli_run_free(&r);
    int64_t n = 0;
    ASSERT_EQ(zeros_in(out, "s2b2_conv1", &n), 1728);  // 0.75 * 16 * 144
    ASSERT_EQ(zeros_in(out, "s1b1_conv1", &n), n / 2);
    ASSERT_EQ(zeros_in(out, "s2b1_conv1", &n), 0);

    r = RUN("prune", model, "--sparsity", "0.6", "--method", "obs", "--calib", x,
            "--calib-limit", "32", "-o", out);
    if (r.code) fprintf(stderr, "%s%s", r.out, r.err);
    ASSERT_EQ(r.code, 0);
    ASSERT_STR_CONTAINS(r.out, "obs, calibrated on 32 samples");
    ASSERT_STR_CONTAINS(r.out, "7 of 9 layers pruned");
    cli_run_free(&r);
    ASSERT_EQ(zeros_in(out, "s2b1_short", &n), (int64_t)(0.6 * (double)n + 0.5));

    r = RUN("prune", model, "--sparsity", "0.6", "--method", "obs_bias_correction",
            "--sequential", "--calib", x, "-o", out);
    if (r.code) fprintf(stderr, "%s%s", r.out, r.err);
    ASSERT_EQ(r.code, 0);
    ASSERT_STR_CONTAINS(r.out, "obs_bias_correction, sequential");
    cli_run_free(&r);
    ASSERT_EQ(zeros_in(out, "s2b1_short", &n), (int64_t)(0.6 * (double)n + 0.5));

    r = RUN("prune", model, "--sparsity", "0.5", "--pattern", "channel", "-o", out);
    ASSERT_EQ(r.code, 0);
    ASSERT_STR_CONTAINS(r.out, "20 output channels removed");
    cli_run_free(&r);
    r = RUN("eval", out, "--inputs", x);
    ASSERT_EQ(r.code, 0);
    cli_run_free(&r);

    // usage errors
    r = RUN("prune", model, "-o", out);
    ASSERT_EQ(r.code, 2);
    ASSERT_STR_CONTAINS(r.err, "--sparsity");
    cli_run_free(&r);
    r = RUN("prune", model, "--sparsity", "0.5", "--method", "obs", "-o", out);
    ASSERT_EQ(r.code, 2);
    ASSERT_STR_CONTAINS(r.err, "--calib");
    cli_run_free(&r);
    r = RUN("prune", model, "--sparsity", "0.5", "--method", "obs", "--sequential", "-o", out);
    ASSERT_EQ(r.code, 2);
    ASSERT_STR_CONTAINS(r.err, "--calib");
    cli_run_free(&r);
    r = RUN("prune", model, "--sparsity", "0.99", "-o", out);
    ASSERT_EQ(r.code, 2);
    ASSERT_STR_CONTAINS(r.err, "0.99");
    cli_run_free(&r);
    r = RUN("prune", model, "--sparsity", "0.5", "--method", "random", "-o", out);
    ASSERT_EQ(r.code, 2);
    ASSERT_STR_CONTAINS(r.err, "random");
    cli_run_free(&r);
    r = RUN("prune", model, "--sparsity", "0.5", "--pattern", "3:2", "-o", out);
    ASSERT_EQ(r.code, 2);
    ASSERT_STR_CONTAINS(r.err, "3:2");
    cli_run_free(&r);
    r = RUN("prune", model, "--sparsity", "0.5", "--ignore", "conv[", "-o", out);
    ASSERT_EQ(r.code, 2);
    ASSERT_STR_CONTAINS(r.err, "conv[");
    cli_run_free(&r);
    const char *bad = "layers:\n  nonexistent: {sparsity: 0.5}\n";
    cli_write(pol, bad, strlen(bad));
    r = RUN("prune", model, "--policy", pol, "-o", out);
    ASSERT_EQ(r.code, 2);
    ASSERT_STR_CONTAINS(r.err, "nonexistent");
    cli_run_free(&r);
    printf("ok\n");
    return 0;
}
