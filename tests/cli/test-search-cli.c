// `qsearch search` and `qsearch --objective X` as nightly jobs use them: the shipped demo
// finishes with 0 or 3 and writes every output; kill -9 in the middle then --resume gives
// the journal of an uninterrupted run; a malformed config exits 2 naming file and line; a
// failing external evaluator fails its episodes and the search goes on.
#include "cli-test.h"

#include <signal.h>
#include <time.h>

static int count_lines(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

static void expect_outputs(const char *dir) {
    const char *files[] = {"best_policy.yaml", "results.json", "episodes.csv", "model.qdq.onnx",
                           "report.html", "config.yaml"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        if (access(p, R_OK) != 0) fprintf(stderr, "missing %s\n", p);
        ASSERT_TRUE(access(p, R_OK) == 0);
    }
}

static void test_default_demo(void) {
    const char *dir = cli_tmp("demo");
    struct cli_run r = CLI_RUN("--objective", "compress_first", "-o", dir, "--episodes", "30");
    CLI_EXPECT(r, r.code == 0 || r.code == 3);
    CLI_EXPECT(r, strstr(r.out, "best") != NULL);
    CLI_EXPECT(r, strstr(r.out, "thresholds") != NULL);
    // Quiet in a pipe: no progress line on stderr.
    CLI_EXPECT(r, r.err[0] == 0);
    expect_outputs(dir);
    char p[4200];
    snprintf(p, sizeof p, "%s/episodes.csv", dir);
    ASSERT_EQ(count_lines(p), 31);
    cli_run_free(&r);
}

// Runs the search in the background and kills it with SIGKILL once its journal holds
// `lines` lines; returns the exit status seen (128 + 9 when killed).
static int run_and_kill(const char *const *argv, const char *journal, int lines) {
    pid_t pid = cli_spawn(argv, NULL, NULL);
    int status = 0;
    for (int i = 0; i < 60000; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (count_lines(journal) >= lines) break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_kill_resume(void) {
    const char *full = cli_tmp("full"), *cut = cli_tmp("cut");
    struct cli_run r = CLI_RUN("search", "-o", full, "--episodes", "60", "--seed", "11", "-q");
    CLI_EXPECT(r, r.code == 0 || r.code == 3);
    cli_run_free(&r);

    char journal[4200];
    snprintf(journal, sizeof journal, "%s/episodes.csv", cut);
    const char *argv[] = {"search", "-o", cut, "--episodes", "60", "--seed", "11", "-q", NULL};
    int code = run_and_kill(argv, journal, 25);
    ASSERT_EQ(code, 128 + SIGKILL);
    int before = count_lines(journal) - 1;
    ASSERT_TRUE(before >= 24 && before < 60);

    r = CLI_RUN("search", "--resume", cut, "-q");
    CLI_EXPECT(r, r.code == 0 || r.code == 3);
    cli_run_free(&r);
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/episodes.csv", full);
    snprintf(b, sizeof b, "%s/episodes.csv", cut);
    char *ja = cli_slurp(a, NULL), *jb = cli_slurp(b, NULL);
    if (strcmp(ja, jb) != 0) fprintf(stderr, "journals differ:\n%s\n---\n%s\n", ja, jb);
    ASSERT_TRUE(strcmp(ja, jb) == 0);
    free(ja);
    free(jb);
    expect_outputs(cut);
    // The resumed process evaluated only the episodes the journal lacked (the interrupted
    // one included): the others were replayed from the journal.
    snprintf(b, sizeof b, "%s/results.json", cut);
    char *res = cli_slurp(b, NULL);
    char want[64];
    snprintf(want, sizeof want, "\"run\": %d,", 60 - before);
    ASSERT_STR_CONTAINS(res, want);
    free(res);

    // --resume of a folder without a run is a usage error.
    r = CLI_RUN("search", "--resume", cli_tmp("nothing-here"));
    CLI_EXPECT_ERROR(r, 2, "nothing-here");
    cli_run_free(&r);
}

static void test_bad_config(void) {
    const char *cfg = cli_tmp("bad.yaml");
    const char text[] = "model: digits.onnx\nsearch:\n  max_episode: 10\n  bogus_key: 3\n";
    cli_write(cfg, text, sizeof text - 1);
    struct cli_run r = CLI_RUN("search", "--config", cfg);
    CLI_EXPECT_ERROR(r, 2, "bad.yaml:4");
    cli_run_free(&r);

    const char text2[] = "search:\n  max_episode: [1\n";
    cli_write(cfg, text2, sizeof text2 - 1);
    r = CLI_RUN("search", "--config", cfg);
    CLI_EXPECT_ERROR(r, 2, "bad.yaml:");
    cli_run_free(&r);

    // A bad flag value is a usage error too.
    r = CLI_RUN("--objective", "fastest", "-o", cli_tmp("x"));
    CLI_EXPECT(r, r.code == 2);
    cli_run_free(&r);
}

static void test_external_failures(void) {
    // Fails every third call (the first call is the fp32 baseline, which succeeds).
    const char *script = cli_tmp("eval.sh"), *counter = cli_tmp("count");
    char sh[8192];
    snprintf(sh, sizeof sh,
             "n=$(cat '%s' 2>/dev/null || echo 0)\necho $((n + 1)) > '%s'\n"
             "test -s \"$1\" || exit 4\n"
             "if [ $((n %% 3)) -eq 2 ]; then echo oops >&2; exit 1; fi\n"
             "if [ $((n %% 3)) -eq 1 ] && [ $n -gt 5 ]; then echo not-a-number; exit 0; fi\n"
             "echo 0.9$n\n", counter, counter);
    cli_write(script, sh, strlen(sh));
    char cfg_text[8192];
    snprintf(cfg_text, sizeof cfg_text,
             "model: %s\ncalib_data: [%s]\ncalib_count: 100\nmetric: external\n"
             "eval_command: sh %s\nmax_episode: 12\nsparsity_candidates: [0, 0.5]\n"
             "max_acc_drop: null\n",
             cli_demo("digits_cnn.onnx"), cli_demo("digits_test_x.npy"), script);
    const char *cfg = cli_tmp("ext.yaml");
    cli_write(cfg, cfg_text, strlen(cfg_text));
    const char *dir = cli_tmp("ext");
    struct cli_run r = CLI_RUN("search", "--config", cfg, "-o", dir, "-q");
    CLI_EXPECT(r, r.code == 0 || r.code == 3);
    cli_run_free(&r);
    char p[4200];
    snprintf(p, sizeof p, "%s/episodes.csv", dir);
    char *j = cli_slurp(p, NULL);
    ASSERT_EQ(cli_count_lines(j), 13);
    int failed = 0, ok = 0;
    for (char *s = j; (s = strstr(s, ",failed,")); s++) failed++;
    for (char *s = j; (s = strstr(s, ",ok,")); s++) ok++;
    if (failed < 3 || ok < 3) fprintf(stderr, "%s\n", j);
    ASSERT_TRUE(failed >= 3);
    ASSERT_TRUE(ok >= 3);
    ASSERT_STR_CONTAINS(j, "exited with status 1");
    ASSERT_STR_CONTAINS(j, "not one number");
    free(j);
}

int main(void) {
    cli_bin();
    test_default_demo();
    test_kill_resume();
    test_bad_config();
    test_external_failures();
    printf("ok\n");
    return 0;
}
