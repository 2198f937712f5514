// End to end int8 post-training quantization through the CLI, as a user runs it, on
// ResNet-20 (CIFAR-10) and 500 test images (every 20th, so 50 per class):
//   1. `qsearch quantize` (all 1,000 calibration images) writes the QDQ model;
//   2. `qsearch eval --calib` runs the all-int8 model on the integer kernels: its top-1 must
//      lose at most 1 point against fp32 on the same images;
//   3. `qsearch eval OUT.onnx` re-imports the exported QDQ model (run as float fake-quant):
//      its top-1 label must agree with the integer engine's on >= 99% of the images.
// Needs no python. Skips without ../shared/data or QS_BIN, and in sanitizer builds (the
// integer evaluation is slow there; the plain build runs it).
#include "test.h"

#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

enum { N_SAMPLES = 500, STRIDE = 20, N_CLASSES = 10, REC = 3073 };

static char tmpdir[1024];

static void cleanup(void) {
    if (!tmpdir[0]) return;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
}

static const char *tmp(const char *name) {
    static char buf[8][1200];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 1200, "%s/%s", tmpdir, name);
    return p;
}

// Runs a shell command; on failure prints it with its output and fails the test.
static void run(const char *cmd) {
    char full[16384];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    ASSERT_TRUE(p != NULL);
    char out[8192];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    if (rc != 0) {
        fprintf(stderr, "command failed (status %d): %s\n%s\n", rc, cmd, out);
        exit(1);
    }
}

// Every STRIDE-th record of the CIFAR-10 binary (sorted by class) into a new file, and
// their labels.
static void write_subset(const char *src, const char *dst, uint8_t *labels) {
    FILE *in = fopen(src, "rb");
    ASSERT_TRUE(in != NULL);
    FILE *out = fopen(dst, "wb");
    ASSERT_TRUE(out != NULL);
    static uint8_t rec[REC];
    for (int i = 0; i < N_SAMPLES; i++) {
        ASSERT_EQ(fseek(in, (long)i * STRIDE * REC, SEEK_SET), 0);
        ASSERT_EQ(fread(rec, 1, REC, in), REC);
        ASSERT_TRUE(rec[0] < N_CLASSES);
        labels[i] = rec[0];
        ASSERT_EQ(fwrite(rec, 1, REC, out), REC);
    }
    fclose(in);
    ASSERT_EQ(fclose(out), 0);
}

// Reads a float32 [N_SAMPLES, N_CLASSES] .npy (as `eval -o` writes it) and returns the
// argmax of each row.
static void load_top1(const char *path, int *top1) {
    FILE *f = fopen(path, "rb");
    ASSERT_TRUE(f != NULL);
    uint8_t pre[12];
    ASSERT_EQ(fread(pre, 1, 10, f), 10);
    ASSERT_TRUE(memcmp(pre, "\x93NUMPY", 6) == 0);
    size_t hlen;
    if (pre[6] == 1) {
        hlen = pre[8] | (size_t)pre[9] << 8;
    } else {
        ASSERT_EQ(fread(pre + 10, 1, 2, f), 2);
        hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    }
    char header[1024];
    ASSERT_TRUE(hlen < sizeof header);
    ASSERT_EQ(fread(header, 1, hlen, f), hlen);
    header[hlen] = 0;
    ASSERT_STR_CONTAINS(header, "'<f4'");
    ASSERT_STR_CONTAINS(header, "False");  // C order
    char shape[64];
    snprintf(shape, sizeof shape, "(%d, %d)", N_SAMPLES, N_CLASSES);
    ASSERT_STR_CONTAINS(header, shape);
    static float y[N_SAMPLES * N_CLASSES];
    ASSERT_EQ(fread(y, sizeof(float), N_SAMPLES * N_CLASSES, f), N_SAMPLES * N_CLASSES);
    fclose(f);
    for (int i = 0; i < N_SAMPLES; i++) {
        const float *r = y + i * N_CLASSES;
        int best = 0;
        for (int c = 1; c < N_CLASSES; c++)
            if (r[c] > r[best]) best = c;
        top1[i] = best;
    }
}

static int correct(const int *top1, const uint8_t *labels) {
    int n = 0;
    for (int i = 0; i < N_SAMPLES; i++) n += top1[i] == labels[i];
    return n;
}

int main(void) {
#ifdef QS_SANITIZE_BUILD
    QS_TEST_SKIP("int8 end-to-end runs are skipped in sanitizer builds (the plain build runs "
                 "them)");
#endif
    const char *bin = getenv("QS_BIN");
    const char *model = qs_test_shared("cifar10-resnet/cifar10_resnet20.onnx");
    const char *calib = qs_test_shared("cifar10-calib-train-1000/cifar10_train1000_decoded.bin");
    const char *test = qs_test_shared("cifar10-test-jpeg/cifar10_test_decoded.bin");
    if (!model || !calib || !test) QS_TEST_SKIP("../shared/data (CIFAR-10 ResNet) not found");
    if (!bin || access(bin, X_OK) != 0) QS_TEST_SKIP("QS_BIN not set (run via ctest)");

    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/qs-quant-e2e-XXXXXX", t && *t ? t : "/tmp");
    ASSERT_TRUE(mkdtemp(tmpdir) != NULL);
    atexit(cleanup);

    static uint8_t labels[N_SAMPLES];
    write_subset(test, tmp("test500.bin"), labels);

    char cmd[8192];
    const char *in = tmp("test500.bin");
    snprintf(cmd, sizeof cmd,
             "'%s' quantize '%s' --calib 'cifar10:%s' --preprocess imagenet --batch 100 --quiet "
             "-o '%s'",
             bin, model, calib, tmp("r20_qdq.onnx"));
    run(cmd);
    // fp32, the integer engine and the re-imported QDQ model, on the same 500 images.
    snprintf(cmd, sizeof cmd,
             "'%s' eval '%s' --inputs 'cifar10:%s' --preprocess imagenet --batch 100 --quiet "
             "-o '%s'",
             bin, model, in, tmp("fp32.npy"));
    run(cmd);
    snprintf(cmd, sizeof cmd,
             "'%s' eval '%s' --calib 'cifar10:%s' --inputs 'cifar10:%s' --preprocess imagenet "
             "--batch 100 --quiet -o '%s'",
             bin, model, calib, in, tmp("int8.npy"));
    run(cmd);
    snprintf(cmd, sizeof cmd,
             "'%s' eval '%s' --inputs 'cifar10:%s' --preprocess imagenet --batch 100 --quiet "
             "-o '%s'",
             bin, tmp("r20_qdq.onnx"), in, tmp("qdq.npy"));
    run(cmd);

    static int fp32[N_SAMPLES], int8[N_SAMPLES], qdq[N_SAMPLES];
    load_top1(tmp("fp32.npy"), fp32);
    load_top1(tmp("int8.npy"), int8);
    load_top1(tmp("qdq.npy"), qdq);
    int c_fp32 = correct(fp32, labels), c_int8 = correct(int8, labels);
    int c_qdq = correct(qdq, labels), agree = 0;
    for (int i = 0; i < N_SAMPLES; i++) agree += int8[i] == qdq[i];
    printf("resnet20, %d images: top-1 fp32 %d, int8 engine %d, QDQ re-import %d; "
           "int8 engine vs QDQ top-1 agreement %d/%d\n",
           N_SAMPLES, c_fp32, c_int8, c_qdq, agree, N_SAMPLES);

    int failed = 0;
    // fp32 documented on these images' full set: 81.03 %; the subset must look like it.
    if (c_fp32 < N_SAMPLES * 70 / 100) {
        fprintf(stderr, "fp32 top-1 %d/%d is implausibly low\n", c_fp32, N_SAMPLES);
        failed++;
    }
    // At most 1 point lost: 1 % of 500 = 5 images.
    if (c_fp32 - c_int8 > N_SAMPLES / 100) {
        fprintf(stderr, "int8 loses %d images (> %d) against fp32\n", c_fp32 - c_int8,
                N_SAMPLES / 100);
        failed++;
    }
    if (agree * 100 < N_SAMPLES * 99) {
        fprintf(stderr, "int8 engine and re-imported QDQ agree on %d/%d (< 99%%)\n", agree,
                N_SAMPLES);
        failed++;
    }
    printf("%d passed, %d failed\n", 3 - failed, failed);
    return failed != 0;
}
