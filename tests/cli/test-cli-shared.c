// `qsearch eval` on shared real data (skipped when ../shared/data is absent): MNIST-8, whose
// batch is fixed to 1 by a constant Reshape, read from gzip IDX files. --batch 32 must fall
// back to batch 1 with one note on stderr and give the documented 98.91 %.
#include "cli-test.h"

int main(void) {
    const char *model = qs_test_shared("mnist-8/mnist-8.onnx");
    const char *x = qs_test_shared("mnist-test/t10k-images-idx3-ubyte.gz");
    const char *y = qs_test_shared("mnist-test/t10k-labels-idx1-ubyte.gz");
    if (!model || !x || !y) QS_TEST_SKIP("mnist-8 or mnist-test not in QS_SHARED_DATA");

    struct cli_run r = CLI_RUN("eval", model, "--inputs", x, "--labels", y, "--batch", "32",
                               "--threads", "1");
    CLI_EXPECT(r, r.code == 0);
    CLI_EXPECT(r, strstr(r.out, "top-1       98.91 % (9891/10000)") != NULL);
    CLI_EXPECT(r, strstr(r.out, "10000 batches of 1") != NULL);
    CLI_EXPECT(r, cli_count_lines(r.err) == 1 && strncmp(r.err, "qsearch: note: ", 15) == 0);
    CLI_EXPECT(r, strstr(r.err, "batch 1") != NULL);
    cli_run_free(&r);

    // --quiet drops the note, not the results.
    r = CLI_RUN("eval", model, "-i", x, "-l", y, "-b", "8", "-t", "1", "-n", "500", "-q");
    CLI_EXPECT(r, r.code == 0 && r.err[0] == 0 && strstr(r.out, "/500)"));
    cli_run_free(&r);
    return 0;
}
