// `qsearch eval` reproduces the accuracies documented in ../shared/data (the exact counts
// onnxruntime measured). This runs the CLI as a user would, so it checks loading,
// preprocessing, batching and the fp32 engine together. Skips without ../shared, and in
// sanitizer builds (where the 50,000 CIFAR evaluations would dominate CI time).
#include "test.h"

#include <stdbool.h>
#include <sys/wait.h>

typedef struct {
    const char *name, *model, *inputs, *labels, *preprocess, *batch, *want;
    const char *inputs2;  // a second model input, or NULL
} eval_case;

// Counts from the data folders' READMEs (onnxruntime-node 1.30.0).
static const eval_case cases[] = {
    {"mnist-8", "mnist-8/mnist-8.onnx", "mnist-test/t10k-images-idx3-ubyte.gz",
     "mnist-test/t10k-labels-idx1-ubyte.gz", "none", "1", "(9891/10000)", NULL},
    {"mnist-tiny-cnn", "mnist-tiny-cnn/mnist_tiny_14x14.onnx",
     "raw:@mnist-tiny-cnn/mnist_test_14x14_binarized.u8:uint8:10000x1x14x14",
     "mnist-test/t10k-labels-idx1-ubyte.gz", "none", "1", "(9575/10000)", NULL},
    {"digits-cnn", "digits-cnn/digits_cnn.onnx", "raw:@digits-cnn/digits_test_x.f32:float32:360x1x8x8",
     "raw:@digits-cnn/digits_test_y.u8:uint8", "none", "64", "(359/360)", NULL},
    {"resnet20", "cifar10-resnet/cifar10_resnet20.onnx", "cifar10:@cifar10-test-jpeg/cifar10_test_decoded.bin",
     "cifar10-labels:@cifar10-test-jpeg/cifar10_test_decoded.bin", "imagenet", "100", "(8103/10000)", NULL},
    {"resnet32", "cifar10-resnet/cifar10_resnet32.onnx", "cifar10:@cifar10-test-jpeg/cifar10_test_decoded.bin",
     "cifar10-labels:@cifar10-test-jpeg/cifar10_test_decoded.bin", "imagenet", "100", "(8256/10000)", NULL},
    {"resnet44", "cifar10-resnet/cifar10_resnet44.onnx", "cifar10:@cifar10-test-jpeg/cifar10_test_decoded.bin",
     "cifar10-labels:@cifar10-test-jpeg/cifar10_test_decoded.bin", "imagenet", "100", "(8267/10000)", NULL},
    {"resnet56", "cifar10-resnet/cifar10_resnet56.onnx", "cifar10:@cifar10-test-jpeg/cifar10_test_decoded.bin",
     "cifar10-labels:@cifar10-test-jpeg/cifar10_test_decoded.bin", "imagenet", "100", "(8320/10000)", NULL},
    {"squeezenet1.1", "squeezenet1.1/squeezenet1.1_fp32.onnx",
     "raw:@imagenet-val-100/val100_rgb_224x224_nhwc.u8:uint8:100x224x224x3",
     "raw:@imagenet-val-100/val100_labels.u16:uint16", "caffe,layout=nhwc", "10", "(59/100)", NULL},
    {"sst2-tiny", "sst2-tiny-transformer/sst2_tiny_transformer.onnx",
     "raw:@sst2-tiny-transformer/sst2_dev_input_ids.i64:int64:872x64",
     "raw:@sst2-tiny-transformer/sst2_dev_labels.u8:uint8", "none", "64", "(690/872)",
     "raw:@sst2-tiny-transformer/sst2_dev_attention_mask.f32:float32:872x64"},
};

// Replaces '@' in a spec by the shared data root (specs carry prefixes before the path).
static void expand(const char *spec, const char *root, char *out, size_t n) {
    const char *at = strchr(spec, '@');
    if (at)
        snprintf(out, n, "%.*s%s/%s", (int)(at - spec), spec, root, at + 1);
    else
        snprintf(out, n, "%s/%s", root, spec);
}

int main(void) {
#ifdef QS_SANITIZE_BUILD
    QS_TEST_SKIP("accuracy runs are skipped in sanitizer builds (they run in the plain build)");
#endif
#ifdef QS_SCALAR_BUILD
    QS_TEST_SKIP("accuracy runs are skipped with -DQS_ENABLE_AVX2=OFF (scalar kernels take "
                 "over ten minutes for the 50,000 images; they run in the default build)");
#endif
    const char *root = getenv("QS_SHARED_DATA"), *bin = getenv("QS_BIN");
    if (!root || !qs_test_shared("cifar10-resnet/cifar10_resnet20.onnx"))
        QS_TEST_SKIP("../shared/data not found");
    if (!bin) QS_TEST_SKIP("QS_BIN not set");
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const eval_case *c = &cases[i];
        char model[4096], in[4096], in2[4200] = "", lab[4096], cmd[20000];
        expand(c->model, root, model, sizeof model);
        expand(c->inputs, root, in, sizeof in);
        if (c->inputs2) {
            char tmp[4096];
            expand(c->inputs2, root, tmp, sizeof tmp);
            snprintf(in2, sizeof in2, " --inputs '%s'", tmp);
        }
        expand(c->labels, root, lab, sizeof lab);
        snprintf(cmd, sizeof cmd,
                 "'%s' eval '%s' --inputs '%s'%s --labels '%s' --preprocess '%s' --batch %s "
                 "--threads 2 --quiet 2>&1",
                 bin, model, in, in2, lab, c->preprocess, c->batch);
        FILE *p = popen(cmd, "r");
        ASSERT_TRUE(p);
        char line[1024], top1[1024] = "", all[8192] = "";
        while (fgets(line, sizeof line, p)) {
            if (!strncmp(line, "top-1", 5)) snprintf(top1, sizeof top1, "%s", line);
            if (strlen(all) + strlen(line) < sizeof all) strcat(all, line);
        }
        int rc = pclose(p);
        bool ok = rc == 0 && strstr(top1, c->want);
        if (!ok) printf("command: %s\nexit status %d, output:\n%s", cmd, rc, all);
        printf("%-14s %s want %s: %s", c->name, ok ? "ok  " : "FAIL", c->want,
               top1[0] ? top1 : "(no top-1 line)\n");
        if (ok) passed++;
        else failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
