// Bad inputs to `qsearch eval` / `inspect`: every one must fail with a non-zero exit code
// and exactly one line on stderr that names the offending file; nothing may crash.
#include "cli-test.h"

// Deterministic junk (xorshift), so a failure reproduces.
static void junk(unsigned char *p, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        p[i] = (unsigned char)seed;
    }
}

int main(void) {
    const char *model = cli_demo("digits_cnn.onnx");
    const char *x = cli_demo("digits_test_x.npy"), *y = cli_demo("digits_test_y.npy");
    struct cli_run r;

    // Missing model file.
    const char *missing = cli_tmp("does-not-exist.onnx");
    r = CLI_RUN("eval", missing, "--inputs", x);
    CLI_EXPECT_ERROR(r, 2, "does-not-exist.onnx");
    cli_run_free(&r);
    r = CLI_RUN("inspect", missing);
    CLI_EXPECT_ERROR(r, 2, "does-not-exist.onnx");
    cli_run_free(&r);

    // Random bytes that are not a ModelProto (a few seeds: protobuf may parse some junk).
    for (uint32_t seed = 1; seed <= 4; seed++) {
        unsigned char buf[4096];
        junk(buf, sizeof buf, seed * 2654435761u);
        const char *garbage = cli_tmp("garbage.onnx");
        cli_write(garbage, buf, sizeof buf);
        r = CLI_RUN("eval", garbage, "--inputs", x, "--labels", y);
        CLI_EXPECT_ERROR(r, 2, "garbage.onnx");
        cli_run_free(&r);
        r = CLI_RUN("inspect", garbage);
        CLI_EXPECT_ERROR(r, 2, "garbage.onnx");
        cli_run_free(&r);
    }

    // An empty file and a model cut at several points.
    size_t size;
    char *bytes = cli_slurp(model, &size);
    const size_t cuts[] = {0, 7, size / 3, size / 2, size - 100, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        const char *cut = cli_tmp("truncated.onnx");
        cli_write(cut, bytes, cuts[i]);
        r = CLI_RUN("eval", cut, "--inputs", x, "--labels", y);
        if (r.code == 0) fprintf(stderr, "cut at %zu of %zu bytes was accepted\n", cuts[i], size);
        CLI_EXPECT_ERROR(r, 2, "truncated.onnx");
        cli_run_free(&r);
    }
    free(bytes);

    // Missing input and label files.
    const char *nox = cli_tmp("no-inputs.npy");
    r = CLI_RUN("eval", model, "--inputs", nox, "--labels", y);
    CLI_EXPECT_ERROR(r, 2, "no-inputs.npy");
    cli_run_free(&r);
    r = CLI_RUN("eval", model, "--inputs", x, "--labels", cli_tmp("no-labels.npy"));
    CLI_EXPECT_ERROR(r, 2, "no-labels.npy");
    cli_run_free(&r);

    // Inputs of the wrong sample shape: [10,1,7,7] and [10,64] for a [N,1,8,8] model.
    static float zeros[360 * 64];
    const char *shape7 = cli_tmp("shape7.npy");
    cli_write_npy(shape7, "<f4", 4, (const int64_t[]){10, 1, 7, 7}, zeros, 10 * 49 * 4);
    r = CLI_RUN("eval", model, "--inputs", shape7);
    CLI_EXPECT_ERROR(r, 2, "shape7.npy");
    cli_run_free(&r);
    const char *flat = cli_tmp("flat.npy");
    cli_write_npy(flat, "<f4", 2, (const int64_t[]){10, 65}, zeros, 10 * 65 * 4);
    r = CLI_RUN("eval", model, "--inputs", flat);
    CLI_EXPECT(r, r.code != 0 && cli_count_lines(r.err) == 1 && strstr(r.err, "flat.npy"));
    cli_run_free(&r);

    // A .npy whose header promises more data than the file holds.
    const char *shortnpy = cli_tmp("short.npy");
    cli_write_npy(shortnpy, "<f4", 4, (const int64_t[]){360, 1, 8, 8}, zeros, 1000);
    r = CLI_RUN("eval", model, "--inputs", shortnpy);
    CLI_EXPECT_ERROR(r, 2, "short.npy");
    cli_run_free(&r);

    // Wrong dtypes: complex inputs (no qsearch equivalent), fractional float labels.
    const char *cplx = cli_tmp("complex.npy");
    cli_write_npy(cplx, "<c8", 4, (const int64_t[]){5, 1, 8, 8}, zeros, 5 * 64 * 8 / 2);
    r = CLI_RUN("eval", model, "--inputs", cplx);
    CLI_EXPECT(r, r.code != 0 && cli_count_lines(r.err) == 1 && strstr(r.err, "complex.npy"));
    cli_run_free(&r);
    const char *fl = cli_tmp("frac-labels.npy");
    float frac[360];
    for (int i = 0; i < 360; i++) frac[i] = 0.5f;
    cli_write_npy(fl, "<f4", 1, (const int64_t[]){360}, frac, sizeof frac);
    r = CLI_RUN("eval", model, "--inputs", x, "--labels", fl);
    CLI_EXPECT_ERROR(r, 2, "frac-labels.npy");
    cli_run_free(&r);

    // Labels: a count that differs from the inputs', and a class the model does not have.
    unsigned char lab[360];
    memset(lab, 3, sizeof lab);
    const char *fewer = cli_tmp("fewer-labels.npy");
    cli_write_npy(fewer, "|u1", 1, (const int64_t[]){359}, lab, 359);
    r = CLI_RUN("eval", model, "--inputs", x, "--labels", fewer);
    CLI_EXPECT_ERROR(r, 2, "fewer-labels.npy");
    cli_run_free(&r);
    lab[200] = 10;
    const char *range = cli_tmp("range-labels.npy");
    cli_write_npy(range, "|u1", 1, (const int64_t[]){360}, lab, 360);
    r = CLI_RUN("eval", model, "--inputs", x, "--labels", range);
    CLI_EXPECT_ERROR(r, 2, "range-labels.npy");
    cli_run_free(&r);

    // A bad preprocessing string and a spec that names no known format.
    r = CLI_RUN("eval", model, "--inputs", x, "--preprocess", "scale=banana");
    CLI_EXPECT(r, r.code == 2 && cli_count_lines(r.err) == 1);
    cli_run_free(&r);
    r = CLI_RUN("eval", model, "--inputs", "raw:nothing.bin:float99:3x3");
    CLI_EXPECT(r, r.code == 2 && cli_count_lines(r.err) == 1 && strstr(r.err, "nothing.bin"));
    cli_run_free(&r);

    // Two --inputs for a one-input model.
    r = CLI_RUN("eval", model, "--inputs", x, "--inputs", x);
    CLI_EXPECT_ERROR(r, 2, "digits_cnn.onnx");
    cli_run_free(&r);
    return 0;
}
