// `qsearch lut build` and `qsearch lut validate` on the shipped demo CNN: a table is built
// and loads, validation covers every drawn candidate with no estimated lookups, --rounds
// draws the same candidates as one round, and bad tables or settings fail with one line.
#include "cli-test.h"

// Candidate rows of a validate CSV (header excluded), each as "predicted|lookups|misses":
// the columns that depend only on the candidate drawn, not on the measurement.
static int csv_rows(char *csv, char cols[][64], int max) {
    int n = 0;
    char *save = NULL;
    strtok_r(csv, "\n", &save);  // header
    for (char *line; (line = strtok_r(NULL, "\n", &save)) && n < max; n++) {
        // model,candidate,measured,p10,p90,predicted,predicted_p10,error,error_p10,lookups,misses
        char *f[11] = {0}, *s2 = NULL;
        int k = 0;
        for (char *tok = strtok_r(line, ",", &s2); tok && k < 11; tok = strtok_r(NULL, ",", &s2))
            f[k++] = tok;
        ASSERT_EQ(k, 11);
        snprintf(cols[n], 64, "%s|%s|%s", f[5], f[9], f[10]);
    }
    return n;
}

int main(void) {
    const char *model = cli_demo("digits_cnn.onnx");
    // cli_tmp's buffers are reused (the runner takes some): keep copies.
    char table[4096], csv1[4096], csv2[4096], bad[4096];
    snprintf(table, sizeof table, "%s", cli_tmp("t.yaml"));
    snprintf(csv1, sizeof csv1, "%s", cli_tmp("v1.csv"));
    snprintf(csv2, sizeof csv2, "%s", cli_tmp("v2.csv"));
    snprintf(bad, sizeof bad, "%s", cli_tmp("bad.yaml"));

    struct cli_run r = CLI_RUN("lut", "build", "--target", "x86", "--model", model, "--repeats",
                               "3", "--sparsity", "0,0.5", "--mixed", "0", "-o", table);
    CLI_EXPECT(r, r.code == 0 && strstr(r.out, "entries"));
    cli_run_free(&r);

    // One round, then two interleaved rounds: same candidates, same predictions.
    r = CLI_RUN("lut", "validate", "--model", model, "--lut", table, "--random", "4",
                "--repeats", "3", "--sparsity", "0,0.5", "-o", csv1);
    CLI_EXPECT(r, r.code == 0 && strstr(r.out, "summary (median): 4 candidates"));
    CLI_EXPECT(r, strstr(r.out, "0 estimated") && !strstr(r.out, " 1 estimated"));
    cli_run_free(&r);
    r = CLI_RUN("lut", "validate", "--model", model, "--lut", table, "--random", "4",
                "--repeats", "3", "--rounds", "3", "--sparsity", "0,0.5", "-o", csv2);
    CLI_EXPECT(r, r.code == 0 && strstr(r.out, "summary (median): 4 candidates"));
    cli_run_free(&r);
    char *a = cli_slurp(csv1, NULL), *b = cli_slurp(csv2, NULL);
    char ca[8][64], cb[8][64];
    ASSERT_EQ(csv_rows(a, ca, 8), 4);
    ASSERT_EQ(csv_rows(b, cb, 8), 4);
    for (int i = 0; i < 4; i++) {
        if (strcmp(ca[i], cb[i])) fprintf(stderr, "candidate %d: %s vs %s\n", i, ca[i], cb[i]);
        ASSERT_TRUE(strcmp(ca[i], cb[i]) == 0);
    }
    free(a);
    free(b);

    // A bad row: the file and its line.
    char *t = cli_slurp(table, NULL);
    char *last = strrchr(t, ',');
    ASSERT_TRUE(last != NULL);
    *last = 0;
    char *b2 = malloc(strlen(t) + 8);
    ASSERT_TRUE(b2 != NULL);
    snprintf(b2, strlen(t) + 8, "%s,abc\n", t);
    cli_write(bad, b2, strlen(b2));
    free(b2);
    free(t);
    r = CLI_RUN("lut", "validate", "--model", model, "--lut", bad);
    CLI_EXPECT_ERROR(r, 2, "bad.yaml:");
    cli_run_free(&r);

    // Out-of-range --rounds is a usage error; building over a table measured with other
    // settings is refused and leaves it as it was.
    r = CLI_RUN("lut", "validate", "--model", model, "--lut", table, "--rounds", "0");
    CLI_EXPECT(r, r.code == 2);
    cli_run_free(&r);
    char *before = cli_slurp(table, NULL);
    r = CLI_RUN("lut", "build", "--target", "x86", "--model", model, "--repeats", "4", "-o",
                table);
    CLI_EXPECT_ERROR(r, 1, "other settings");
    cli_run_free(&r);
    char *after = cli_slurp(table, NULL);
    ASSERT_TRUE(strcmp(before, after) == 0);
    free(before);
    free(after);
    printf("ok\n");
    return 0;
}
