// `qsearch eval` on the shipped demo (digits CNN, 360 test digits): the documented accuracy
// at several batch sizes, --limit, and --out writing every output as one .npy.
#include "cli-test.h"

// The demo's reference: 359 of 360 correct with PyTorch and onnxruntime.
#define DEMO_TOP1 "top-1       99.72 % (359/360)"

int main(void) {
    const char *model = cli_demo("digits_cnn.onnx");
    const char *x = cli_demo("digits_test_x.npy"), *y = cli_demo("digits_test_y.npy");

    // Default batch (32: 11 full batches and a partial one), 1 and a prime size.
    const char *batches[] = {NULL, "1", "7", "360", "1000"};
    for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++) {
        struct cli_run r = batches[i]
                               ? CLI_RUN("eval", model, "--inputs", x, "--labels", y, "--threads",
                                         "1", "--batch", batches[i])
                               : CLI_RUN("eval", model, "--inputs", x, "--labels", y);
        CLI_EXPECT(r, r.code == 0);
        CLI_EXPECT(r, strstr(r.out, DEMO_TOP1) != NULL);
        CLI_EXPECT(r, strstr(r.out, "top-5       100.00 %") != NULL);
        CLI_EXPECT(r, strstr(r.out, "images/s") && strstr(r.out, "ms/batch"));
        // stderr is not a terminal here: no progress bar, no noise.
        CLI_EXPECT(r, r.err[0] == 0);
        cli_run_free(&r);
    }

    // --limit: the first 100 samples only.
    struct cli_run r = CLI_RUN("eval", model, "-i", x, "-l", y, "-n", "100", "-b", "16");
    CLI_EXPECT(r, r.code == 0 && strstr(r.out, "/100)") && strstr(r.out, "7 batches of 16"));
    cli_run_free(&r);

    // Without labels: throughput only.
    r = CLI_RUN("eval", model, "--inputs", x, "--threads", "2");
    CLI_EXPECT(r, r.code == 0 && !strstr(r.out, "top-1") && strstr(r.out, "images/s"));
    cli_run_free(&r);

    // --out: [360,10] float32 logits whose argmax gives the same 359 hits, whatever the batch.
    const char *out1 = cli_tmp("logits-b1.npy"), *out32 = cli_tmp("logits-b32.npy");
    r = CLI_RUN("eval", model, "--inputs", x, "--batch", "1", "--out", out1);
    CLI_EXPECT(r, r.code == 0 && strstr(r.out, "[360,10]"));
    cli_run_free(&r);
    r = CLI_RUN("eval", model, "--inputs", x, "--batch", "32", "-o", out32, "-q");
    CLI_EXPECT(r, r.code == 0 && r.err[0] == 0);
    cli_run_free(&r);
    size_t n1, n32, ny;
    char *a = cli_slurp(out1, &n1), *b = cli_slurp(out32, &n32), *lab = cli_slurp(y, &ny);
    ASSERT_TRUE(n1 == n32 && n1 > 360 * 10 * 4);
    ASSERT_TRUE(memcmp(a, "\x93NUMPY", 6) == 0);
    ASSERT_STR_CONTAINS(a + 10, "'descr': '<f4'");
    ASSERT_STR_CONTAINS(a + 10, "'shape': (360, 10)");
    const float *la = (const float *)(a + n1 - 360 * 10 * 4);
    const float *lb = (const float *)(b + n32 - 360 * 10 * 4);
    const unsigned char *labels = (const unsigned char *)lab + ny - 360;
    int hits = 0;
    for (int i = 0; i < 360; i++) {
        int best = 0;
        for (int j = 0; j < 10; j++) {
            float d = la[i * 10 + j] - lb[i * 10 + j];
            // Batch 1 and 32 may block the GEMMs differently: rounding only.
            ASSERT_TRUE(d < 1e-4f && d > -1e-4f);
            if (la[i * 10 + j] > la[i * 10 + best]) best = j;
        }
        hits += best == labels[i];
    }
    ASSERT_EQ(hits, 359);
    free(a);
    free(b);
    free(lab);

    // A --out into a folder that does not exist: found before running, nothing written.
    r = CLI_RUN("eval", model, "--inputs", x, "--out", cli_tmp("no/such/dir/o.npy"));
    CLI_EXPECT_ERROR(r, 2, "no/such/dir/o.npy");
    CLI_EXPECT(r, !strstr(r.out, "throughput"));
    cli_run_free(&r);
    return 0;
}
