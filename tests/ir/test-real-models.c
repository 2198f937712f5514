// Every model in ../shared/data imports and shape-infers; those with reference vectors
// reproduce them (max |ours - ref| / max |ref| <= 1e-4). Skips when ../shared is absent.
#include "qsearch/data.h"
#include "qsearch/ir.h"
#include "test.h"

#include <math.h>

static const char *const structure_only[] = {
    "squeezenet1.1/squeezenet1.1_fp32.onnx",
    "squeezenet1.1/SqueezeNet_fp16.onnx",
    "digits-cnn/digits_cnn.onnx",
    "mnist-tiny-cnn/mnist_tiny_14x14.onnx",
    "onnx-light-models/light_bvlc_alexnet/model.onnx",
    "onnx-light-models/light_densenet121/model.onnx",
    "onnx-light-models/light_inception_v1/model.onnx",
    "onnx-light-models/light_inception_v2/model.onnx",
    "onnx-light-models/light_resnet50/model.onnx",
    "onnx-light-models/light_shufflenet/model.onnx",
    "onnx-light-models/light_squeezenet/model.onnx",
    "onnx-light-models/light_vgg19/model.onnx",
    "onnx-light-models/light_zfnet512/model.onnx",
};

static const struct {
    const char *model, *set;
} vectors[] = {
    {"mnist-8/mnist-8.onnx", "mnist-8/test_data_set_0"},
    {"mnist-8/mnist-8.onnx", "mnist-8/test_data_set_1"},
    {"mnist-8/mnist-8.onnx", "mnist-8/test_data_set_2"},
    {"cifar10-resnet/cifar10_resnet20.onnx", "cifar10-resnet/resnet20_test_data_set_0"},
    {"cifar10-resnet/cifar10_resnet32.onnx", "cifar10-resnet/resnet32_test_data_set_0"},
    {"cifar10-resnet/cifar10_resnet44.onnx", "cifar10-resnet/resnet44_test_data_set_0"},
    {"cifar10-resnet/cifar10_resnet56.onnx", "cifar10-resnet/resnet56_test_data_set_0"},
    {"sst2-tiny-transformer/sst2_tiny_transformer.onnx", "sst2-tiny-transformer/test_data_set_0"},
};

static int check_vectors(const char *model, const char *set, bool optimize) {
    struct qs_diag diag = {{0}};
    qs_graph_t *g;
    if (qs_graph_load_onnx(model, &g, &diag) != QS_STATUS_OK) {
        fprintf(stderr, "FAIL %s: %s\n", model, diag.msg);
        return 1;
    }
    if (optimize && qs_graph_optimize(g, QS_PASS_DEFAULT, &diag) != QS_STATUS_OK) {
        fprintf(stderr, "FAIL optimize %s: %s\n", model, diag.msg);
        qs_graph_destroy(g);
        return 1;
    }
    int n_in = qs_graph_input_count(g), fails = 0;
    struct qs_array in[8] = {{0}}, want = {0};
    char path[4096];
    for (int i = 0; i < n_in && i < 8; i++) {
        snprintf(path, sizeof path, "%s/input_%d.pb", set, i);
        ASSERT_OK(qs_array_load_pb(path, &in[i], &diag));
    }
    struct qs_session_options so = qs_session_options_default();
    so.batch = (int)in[0].dims[0];
    qs_session_t *s;
    if (qs_session_create(g, &so, &s, &diag) != QS_STATUS_OK) {
        fprintf(stderr, "FAIL session %s: %s\n", model, diag.msg);
        fails++;
        goto out;
    }
    for (int i = 0; i < n_in; i++) {
        struct qs_tensor_info info;
        ASSERT_OK(qs_session_input_info(s, i, &info));
        ASSERT_EQ(info.dtype, in[i].dtype);
        memcpy(qs_session_input_data(s, i), in[i].data, in[i].nbytes);
    }
    ASSERT_OK(qs_session_run(s, &diag));
    snprintf(path, sizeof path, "%s/output_0.pb", set);
    ASSERT_OK(qs_array_load_pb(path, &want, &diag));
    const float *got = qs_session_output_data(s, 0), *ref = want.data;
    double maxdiff = 0, maxref = 0;
    for (int64_t i = 0; i < qs_array_numel(&want); i++) {
        maxdiff = fmax(maxdiff, fabs((double)got[i] - ref[i]));
        maxref = fmax(maxref, fabs((double)ref[i]));
    }
    double rel = maxdiff / (maxref > 0 ? maxref : 1);
    printf("%-55s %s max|diff| %.3g, relative %.3g\n", set, optimize ? "optimized" : "as loaded",
           maxdiff, rel);
    if (!(rel <= 1e-4)) {
        fprintf(stderr, "FAIL %s: relative error %.3g > 1e-4\n", set, rel);
        fails++;
    }
    qs_session_destroy(s);
out:
    for (int i = 0; i < 8; i++) qs_array_free(&in[i]);
    qs_array_free(&want);
    qs_graph_destroy(g);
    return fails;
}

int main(void) {
    if (!qs_test_shared("mnist-8/mnist-8.onnx")) QS_TEST_SKIP("../shared/data not found");
    int fails = 0;
    for (size_t i = 0; i < sizeof structure_only / sizeof *structure_only; i++) {
        const char *p = qs_test_shared(structure_only[i]);
        if (!p) continue;
        struct qs_diag diag = {{0}};
        qs_graph_t *g;
        if (qs_graph_load_onnx(p, &g, &diag) != QS_STATUS_OK) {
            fprintf(stderr, "FAIL %s: %s\n", structure_only[i], diag.msg);
            fails++;
            continue;
        }
        printf("%-55s imports, %d nodes, %d layers\n", structure_only[i], qs_graph_node_count(g),
               qs_graph_layer_count(g));
        qs_graph_destroy(g);
    }
    for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) {
        const char *m = qs_test_shared(vectors[i].model), *s = qs_test_shared(vectors[i].set);
        if (!m || !s) continue;
        fails += check_vectors(m, s, false);
        fails += check_vectors(m, s, true);
    }
    printf("%d passed, %d failed\n", (int)(2 * (sizeof vectors / sizeof *vectors)) - fails, fails);
    return fails != 0;
}
