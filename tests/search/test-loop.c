// The search loop on the shipped digits demo (a few ms per candidate): the same seed gives
// the same journal, every evaluated candidate meets the budgets, and the stopping rules
// (stop_early, patience, time budget, max_episode) end the run with their reason. Also
// the journal's replay on resume with and without a checkpoint.
#include "test.h"

#include "qsearch/search.h"

#include <math.h>
#include <stdint.h>
#include <unistd.h>

static char tmpdir[1024];

static void cleanup(void) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

static const char *dir_of(const char *name) {
    static char buf[8][1200];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 1200, "%s/%s", tmpdir, name);
    return p;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    ASSERT_TRUE(b != NULL);
    ASSERT_EQ(fread(b, 1, (size_t)n, f), n);
    b[n] = 0;
    fclose(f);
    return b;
}

// Runs the embedded demo with `pairs` key/value overrides (NULL-terminated) into dir.
static enum qs_status run_demo(const char *dir, struct qs_search_result *r,
                               struct qs_diag *diag, const char *const *pairs) {
    const char *keys[32], *vals[32];
    int n = 0;
    keys[n] = "output_dir";
    vals[n++] = dir;
    for (int i = 0; pairs && pairs[i]; i += 2) {
        keys[n] = pairs[i];
        vals[n++] = pairs[i + 1];
    }
    struct qs_search_options o = qs_search_options_default();
    o.set_keys = keys;
    o.set_values = vals;
    o.n_set = n;
    memset(diag, 0, sizeof *diag);
    enum qs_status st = qs_search_run(&o, r, diag);
    if (st != QS_STATUS_OK) fprintf(stderr, "search: %s\n", diag->msg);
    return st;
}

// Column `col` (0-based) of every journal row.
static int journal_column(const char *dir, int col, double *out, int max) {
    char path[1300];
    snprintf(path, sizeof path, "%s/episodes.csv", dir);
    char *s = slurp(path);
    ASSERT_TRUE(s != NULL);
    int n = 0;
    char *line = strchr(s, '\n');
    while (line && line[1] && n < max) {
        line++;
        char *p = line;
        for (int c = 0; c < col; c++) p = strchr(p, ',') + 1;
        out[n++] = strncmp(p, "nan", 3) ? strtod(p, NULL) : NAN;
        line = strchr(line, '\n');
    }
    free(s);
    return n;
}

static void test_determinism(void) {
    struct qs_search_result a, b;
    struct qs_diag d;
    const char *kv[] = {"max_episode", "30", "seed", "5", NULL};
    ASSERT_OK(run_demo(dir_of("det-a"), &a, &d, kv));
    ASSERT_OK(run_demo(dir_of("det-b"), &b, &d, kv));
    char pa[1300], pb[1300];
    snprintf(pa, sizeof pa, "%s/episodes.csv", dir_of("det-a"));
    snprintf(pb, sizeof pb, "%s/episodes.csv", dir_of("det-b"));
    char *ja = slurp(pa), *jb = slurp(pb);
    ASSERT_TRUE(ja && jb);
    ASSERT_TRUE(strcmp(ja, jb) == 0);
    ASSERT_EQ(a.episodes, 30);
    ASSERT_TRUE(!strcmp(a.stop_reason, "max_episode"));
    // Another seed: another search.
    struct qs_search_result c;
    const char *kv2[] = {"max_episode", "30", "seed", "6", NULL};
    ASSERT_OK(run_demo(dir_of("det-c"), &c, &d, kv2));
    char pc[1300];
    snprintf(pc, sizeof pc, "%s/episodes.csv", dir_of("det-c"));
    char *jc = slurp(pc);
    ASSERT_TRUE(strcmp(ja, jc) != 0);
    // Prefix reuse restores activations instead of recomputing them: off, or with a store
    // so small that it evicts all the time, the journal is the same bytes.
    for (int i = 0; i < 2; i++) {
        struct qs_search_result e;
        const char *kv3[] = {"max_episode", "30", "seed", "5", "reuse_mb", i ? "1" : "0", NULL};
        ASSERT_OK(run_demo(dir_of(i ? "det-r1" : "det-r0"), &e, &d, kv3));
        char pe[1300];
        snprintf(pe, sizeof pe, "%s/episodes.csv", dir_of(i ? "det-r1" : "det-r0"));
        char *je = slurp(pe);
        ASSERT_TRUE(je && strcmp(ja, je) == 0);
        free(je);
    }
    free(ja);
    free(jb);
    free(jc);
    // The demo's final set is its search set (all samples): the final accuracy and reward of
    // the best are its journal row's.
    double rew[64], acc[64];
    int nr = journal_column(dir_of("det-a"), 2, rew, 64);
    ASSERT_EQ(journal_column(dir_of("det-a"), 3, acc, 64), nr);
    int hit = -1;
    for (int i = 0; i < nr && hit < 0; i++)
        if (rew[i] == a.best_reward) hit = i;
    ASSERT_TRUE(hit >= 0);
    ASSERT_TRUE(acc[hit] == a.best_accuracy);
    // Every output is there.
    const char *files[] = {"best_policy.yaml", "results.json", "episodes.csv", "model.qdq.onnx",
                           "report.html", "config.yaml"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[1300];
        snprintf(p, sizeof p, "%s/%s", dir_of("det-a"), files[i]);
        if (access(p, R_OK) != 0) fprintf(stderr, "missing %s\n", p);
        ASSERT_TRUE(access(p, R_OK) == 0);
    }
}

static void test_budgets(void) {
    // A size budget below all-int8 forces sparsity; a FLOPs budget on top. Random actions
    // propose plenty of fp32 layers, so the clamping is exercised on most episodes.
    struct qs_search_result r;
    struct qs_diag d;
    const char *kv[] = {"max_episode", "40", "algorithm", "random", "size_budget", "30000",
                        "flops_budget", "500000", "bops_budget", "2e7", NULL};
    ASSERT_OK(run_demo(dir_of("budget"), &r, &d, kv));
    double bytes[128], flops[128], bops[128];
    int n = journal_column(dir_of("budget"), 5, bytes, 128);
    ASSERT_EQ(journal_column(dir_of("budget"), 6, flops, 128), n);
    ASSERT_EQ(journal_column(dir_of("budget"), 7, bops, 128), n);
    ASSERT_EQ(n, 40);
    for (int i = 0; i < n; i++) {
        if (!(bytes[i] <= 30000 && flops[i] <= 500000 * (1 + 1e-9) && bops[i] <= 2e7 * (1 + 1e-9)))
            fprintf(stderr, "episode %d: %g bytes, %g FLOPs, %g BOPs\n", i, bytes[i], flops[i],
                    bops[i]);
        ASSERT_TRUE(bytes[i] <= 30000);
        ASSERT_TRUE(flops[i] <= 500000 * (1 + 1e-9));
        ASSERT_TRUE(bops[i] <= 2e7 * (1 + 1e-9));
    }
    // A budget no policy of the space meets is a config error, before any episode.
    const char *bad[] = {"size_budget", "1000", NULL};
    ASSERT_EQ(run_demo(dir_of("budget-bad"), &r, &d, bad), QS_STATUS_INVALID_ARG);
    ASSERT_STR_CONTAINS(d.msg, "budget");
}

static void test_stopping(void) {
    struct qs_search_result r;
    struct qs_diag d;
    // stop_early: the demo reaches one point of drop and 3x compression quickly.
    const char *early[] = {"max_episode", "200", "stop_early", "true", "max_acc_drop", "0.02",
                           "compress_threshold", "3", NULL};
    ASSERT_OK(run_demo(dir_of("early"), &r, &d, early));
    ASSERT_TRUE(!strcmp(r.stop_reason, "stop_early"));
    ASSERT_TRUE(r.episodes < 200);
    // patience: no better reward for 5 episodes after the warm-up.
    const char *pat[] = {"max_episode", "500", "patience", "5", "num_warmup", "5", NULL};
    ASSERT_OK(run_demo(dir_of("patience"), &r, &d, pat));
    ASSERT_TRUE(!strcmp(r.stop_reason, "patience"));
    ASSERT_TRUE(r.episodes < 500);
    // time budget: 1 s of a search that would take far longer.
    const char *tb[] = {"max_episode", "100000", "time_budget", "1", "algorithm", "random", NULL};
    ASSERT_OK(run_demo(dir_of("time"), &r, &d, tb));
    ASSERT_TRUE(!strcmp(r.stop_reason, "time_budget"));
    ASSERT_TRUE(r.episodes < 100000);
    // The interrupt flag: the current episode finishes and everything is written.
    static volatile sig_atomic_t stop = 1;
    struct qs_search_options o = qs_search_options_default();
    const char *k[] = {"output_dir"}, *v[] = {dir_of("stop")};
    o.set_keys = k;
    o.set_values = v;
    o.n_set = 1;
    o.stop = &stop;
    ASSERT_OK(qs_search_run(&o, &r, &d));
    ASSERT_TRUE(r.interrupted);
    ASSERT_EQ(r.episodes, 0);
}

// Resume: a run cut after 25 episodes (max_episode 25), then continued to 36, gives the
// journal of a run of 36, with and without the agent's checkpoint (saved every 10).
static void test_resume(void) {
    struct qs_search_result r;
    struct qs_diag d;
    const char *full[] = {"max_episode", "36", "seed", "3", NULL};
    ASSERT_OK(run_demo(dir_of("res-full"), &r, &d, full));
    for (int variant = 0; variant < 2; variant++) {
        const char *dir = dir_of(variant ? "res-nockpt" : "res-ckpt");
        const char *half[] = {"max_episode", "25", "seed", "3", NULL};
        ASSERT_OK(run_demo(dir, &r, &d, half));
        char p[1300];
        if (variant) {
            snprintf(p, sizeof p, "%s/checkpoint.bin", dir);
            ASSERT_EQ(remove(p), 0);
        }
        struct qs_search_options o = qs_search_options_default();
        const char *k[] = {"max_episode"}, *v[] = {"36"};
        o.resume_dir = dir;
        o.set_keys = k;
        o.set_values = v;
        o.n_set = 1;
        ASSERT_OK(qs_search_run(&o, &r, &d));
        ASSERT_EQ(r.episodes, 36);
        snprintf(p, sizeof p, "%s/episodes.csv", dir);
        char *a = slurp(p);
        snprintf(p, sizeof p, "%s/episodes.csv", dir_of("res-full"));
        char *b = slurp(p);
        ASSERT_TRUE(a && b);
        if (strcmp(a, b)) fprintf(stderr, "variant %d: journals differ\n", variant);
        ASSERT_TRUE(strcmp(a, b) == 0);
        free(a);
        free(b);
    }
}

int main(void) {
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/qs-loop-XXXXXX", t && *t ? t : "/tmp");
    ASSERT_TRUE(mkdtemp(tmpdir) != NULL);
    atexit(cleanup);
    qs_set_log_callback(NULL, NULL, QS_LOG_ERROR);
    test_determinism();
    test_budgets();
    test_stopping();
    test_resume();
    printf("ok\n");
    return 0;
}
