// The search configuration: defaults, the shipped examples, every kind of bad input
// (each message names FILE:LINE:COLUMN), CLI overrides, path resolution, the YAML/JSON
// echo, the embedded demo, `qsearch config` and that configs/README.md is up to date.
#include "test.h"

#include "search/config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

// The repository root, from this file's (absolute) path.
static const char *repo(const char *rel) {
    static char buf[4][4096];
    static int k;
    char *p = buf[k++ % 4];
    const char *cut = strstr(__FILE__, "/tests/search/test-config.c");
    ASSERT_TRUE(cut != NULL);
    snprintf(p, 4096, "%.*s/%s", (int)(cut - __FILE__), __FILE__, rel);
    return p;
}

static char *to_string(int (*fn)(const struct qs_search_config *, FILE *),
                       const struct qs_search_config *cfg) {
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ(fn(cfg, f), 0);
    fclose(f);
    return buf;
}

static char *json_of(const struct qs_search_config *cfg) {
    return to_string(qs__config_write_json, cfg);
}

// The JSON from "model" on (the source differs between loads of the same config).
static const char *body(const char *json) {
    const char *p = strstr(json, "\"model\"");
    ASSERT_TRUE(p != NULL);
    return p;
}

static void test_defaults(void) {
    struct qs_search_config cfg;
    ASSERT_OK(qs__config_defaults(&cfg));
    ASSERT_EQ(cfg.max_episode, 300);
    ASSERT_EQ(cfg.num_warmup, 20);
    ASSERT_EQ(cfg.hidden1, 300);
    ASSERT_EQ(cfg.hidden2, 300);
    ASSERT_TRUE(cfg.lr_actor == 1e-4 && cfg.lr_critic == 1e-3);
    ASSERT_TRUE(cfg.tau == 0.01 && cfg.discount == 1.0 && cfg.init_delta == 0.5);
    ASSERT_TRUE(cfg.delta_decay == 0.99);
    ASSERT_EQ(cfg.ddpg_batch, 64);
    ASSERT_EQ(cfg.n_w_bits, 2);
    ASSERT_EQ(cfg.w_bits[0], 8);
    ASSERT_EQ(cfg.w_bits[1], 32);
    ASSERT_EQ(cfg.n_a_bits, 2);
    ASSERT_EQ(cfg.a_bits[1], 32);
    ASSERT_EQ(cfg.n_sparsity, 1);
    ASSERT_TRUE(cfg.sparsity[0] == 0.0f && !cfg.sparsity_continuous);
    ASSERT_EQ(cfg.reward_type, QS_REWARD_COMPRESS_FIRST);
    ASSERT_EQ(cfg.algorithm, QS_ALGO_DDPG);
    ASSERT_EQ(cfg.metric, QS_EVAL_TOP1);
    ASSERT_EQ(cfg.objective_keys, QS_OBJ_ACCURACY | QS_OBJ_COMPRESS);
    ASSERT_TRUE(cfg.acc_threshold < 0 && cfg.max_acc_drop == 0.01);
    ASSERT_TRUE(cfg.latency_threshold_ms <= 0 && cfg.compress_threshold <= 0);
    ASSERT_TRUE(cfg.latency_budget_ms <= 0 && cfg.size_budget_bytes <= 0);
    ASSERT_TRUE(cfg.flops_budget <= 0 && cfg.bops_budget <= 0);
    ASSERT_TRUE(cfg.time_budget_s == 0 && cfg.patience == 0 && !cfg.stop_early);
    ASSERT_TRUE(!strcmp(cfg.calib_method, "minmax"));
    ASSERT_TRUE(!strcmp(cfg.sparsity_pattern, "unstructured"));
    ASSERT_TRUE(!strcmp(cfg.prune_method, "magnitude"));
    ASSERT_TRUE(!strcmp(cfg.target, "auto"));
    ASSERT_TRUE(cfg.model == NULL && cfg.lut == NULL && cfg.eval_command == NULL);
    ASSERT_TRUE(cfg.output_dir && cfg.output_dir[0] == '/');  // resolved against the cwd
    ASSERT_EQ(cfg.threads, 1);
    ASSERT_TRUE(cfg.penalty == 5.0);

    // The defaults miss only what a search must be told: the model and the data.
    struct qs_diag diag;
    ASSERT_EQ(qs__config_validate(&cfg, &diag), QS_STATUS_INVALID_ARG);
    ASSERT_STR_CONTAINS(diag.msg, "'model' is not set");
    ASSERT_OK(qs__config_set(&cfg, "model", "m.onnx", &diag));
    ASSERT_OK(qs__config_set(&cfg, "eval_data", "[x.npy]", &diag));
    ASSERT_OK(qs__config_set(&cfg, "eval_labels", "y.npy", &diag));
    ASSERT_OK(qs__config_validate(&cfg, &diag));
    ASSERT_TRUE(strcmp(cfg.target, "auto") != 0);  // resolved to the host
    qs__config_free(&cfg);
    qs__config_free(&cfg);  // a freed (zeroed) config is accepted again

    // `qsearch config --defaults` reads back to exactly the defaults.
    ASSERT_OK(qs__config_defaults(&cfg));
    char *def_json = json_of(&cfg);
    char *yaml = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&yaml, &size);
    ASSERT_EQ(qs__config_write_defaults(f), 0);
    fclose(f);
    struct qs_search_config back;
    ASSERT_OK(qs__config_load_string(yaml, "defaults.yaml", &back, &diag));
    char *back_json = json_of(&back);
    if (strcmp(body(def_json), body(back_json))) {
        fprintf(stderr, "defaults:  %s\nread back: %s\n", def_json, back_json);
        ASSERT_TRUE(0);
    }
    ASSERT_STR_CONTAINS(yaml, "# search agent [ddpg, random, exhaustive or evolution]");
    free(yaml);
    free(def_json);
    free(back_json);
    qs__config_free(&back);
    qs__config_free(&cfg);
}

static void test_examples(void) {
    static const char *const files[] = {"digits-demo.yaml", "resnet56-compress-first.yaml",
                                        "resnet20-ddpg.yaml", "sst2-latency.yaml",
                                        "nightly.yaml"};
    struct qs_diag diag;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "configs/%s", files[i]);
        struct qs_search_config cfg;
        enum qs_status st = qs__config_load(repo(rel), &cfg, &diag);
        if (!st) st = qs__config_validate(&cfg, &diag);
        if (st) {
            fprintf(stderr, "%s: %s\n", files[i], diag.msg);
            ASSERT_OK(st);
        }
        // Paths resolve against configs/.
        ASSERT_TRUE(cfg.model[0] == '/');
        ASSERT_STR_CONTAINS(cfg.base_dir, "/configs");
        // The echo as YAML reads back to the same config, from any folder.
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        ASSERT_EQ(qs__config_write_yaml(&cfg, f, true), 0);
        fclose(f);
        struct qs_search_config back;
        ASSERT_OK(qs__config_load_string(buf, "/tmp/elsewhere/config.yaml", &back, &diag));
        if (qs__config_validate(&back, &diag)) fprintf(stderr, "%s\n", diag.msg);
        ASSERT_OK(qs__config_validate(&back, &diag));
        char *a = json_of(&cfg), *b = json_of(&back);
        if (strcmp(body(a), body(b))) {
            fprintf(stderr, "%s\n  loaded:    %s\n  read back: %s\n", files[i], a, b);
            ASSERT_TRUE(0);
        }
        // Where ../shared/data is present, every input file of the examples exists, the
        // shipped latency table included.
        if (qs_test_shared("cifar10-resnet"))
            ASSERT_OK(qs__config_check_files(&cfg, &diag));
        free(a);
        free(b);
        free(buf);
        qs__config_free(&back);
        qs__config_free(&cfg);
    }
    // Specific values of one example.
    struct qs_search_config cfg;
    ASSERT_OK(qs__config_load(repo("configs/nightly.yaml"), &cfg, &diag));
    ASSERT_TRUE(cfg.time_budget_s == 7200 && cfg.patience == 50 && cfg.stop_early);
    ASSERT_TRUE(cfg.seed == 20261122u);
    ASSERT_EQ(cfg.n_sparsity, 3);
    ASSERT_TRUE(cfg.sparsity[2] == 0.5f);
    ASSERT_STR_CONTAINS(cfg.eval_data[0], "cifar10:/");
    ASSERT_STR_CONTAINS(cfg.eval_data[0], "/shared/data/cifar10-test-jpeg/");
    ASSERT_TRUE(strstr(cfg.eval_data[0], "..") == NULL);  // leading ../ folded into the base
    qs__config_free(&cfg);
    ASSERT_OK(qs__config_load(repo("configs/resnet20-ddpg.yaml"), &cfg, &diag));
    ASSERT_TRUE(cfg.sparsity_continuous && cfg.sparsity_min == 0.0f && cfg.sparsity_max == 0.7f);
    ASSERT_TRUE(cfg.size_budget_bytes == 200e3 && cfg.skip_first_last);
    ASSERT_EQ(cfg.reward_type, QS_REWARD_HAQ);
    ASSERT_EQ(cfg.objective_keys, QS_OBJ_ACCURACY | QS_OBJ_COMPRESS | QS_OBJ_FLOPS);
    qs__config_free(&cfg);
}

// Loads `yaml` as "bad.yaml" and expects `status` with a message containing `where` and
// `what`.
static void expect_bad(const char *yaml, enum qs_status status, const char *where,
                       const char *what) {
    struct qs_search_config cfg;
    struct qs_diag diag = {{0}};
    enum qs_status st = qs__config_load_string(yaml, "bad.yaml", &cfg, &diag);
    if (st == QS_STATUS_OK) st = qs__config_validate(&cfg, &diag);
    if (st != status || !strstr(diag.msg, where) || !strstr(diag.msg, what)) {
        fprintf(stderr, "config:\n%s\nstatus %d (want %d), message: %s\nwant '%s' and '%s'\n",
                yaml, (int)st, (int)status, diag.msg, where, what);
        exit(1);
    }
    qs__config_free(&cfg);
}

#define OK_DATA "model: m.onnx\ndata: {eval_data: [x.npy], eval_labels: y.npy}\n"

static void test_bad_input(void) {
    // Unknown keys, with a suggestion when one is close.
    expect_bad(OK_DATA "reward: haq\n", QS_STATUS_PARSE, "bad.yaml:3:1:", "unknown key 'reward'");
    expect_bad("objective:\n  rewardtype: haq\n", QS_STATUS_PARSE, "bad.yaml:2:3:",
               "unknown key 'rewardtype' (did you mean 'reward_type'?)");
    expect_bad("objective:\n  foo: 1\n", QS_STATUS_PARSE, "bad.yaml:2:3:",
               "unknown key 'foo' in section 'objective' (keys: objective_keys");
    expect_bad("hardware:\n  seed: 3\n", QS_STATUS_PARSE, "bad.yaml:2:3:",
               "key 'seed' belongs in section 'search'");
    expect_bad("search:\n  seed: 3\nseed: 4\n", QS_STATUS_PARSE, "bad.yaml:3:1:",
               "key 'seed' given twice (first at line 2)");
    // Wrong types.
    expect_bad("search:\n  max_episode: [1, 2]\n", QS_STATUS_PARSE, "bad.yaml:2:16:",
               "max_episode: expects an integer, got a list");
    expect_bad("search:\n  max_episode: lots\n", QS_STATUS_PARSE, "bad.yaml:2:16:",
               "max_episode: expects an integer in [1, 100000000], got 'lots'");
    expect_bad("search: 3\n", QS_STATUS_PARSE, "bad.yaml:1:9:",
               "section 'search' must be a mapping");
    expect_bad("search:\n  stop_early: maybe\n", QS_STATUS_PARSE, "bad.yaml:2:15:",
               "stop_early: expects true or false, got 'maybe'");
    expect_bad("data:\n  eval_data: {a: 1}\n", QS_STATUS_PARSE, "bad.yaml:2:14:",
               "eval_data: expects a list, got a mapping");
    expect_bad("- model: x\n", QS_STATUS_PARSE, "bad.yaml:1:1:", "a config file is a mapping");
    // Out of range.
    expect_bad("ddpg:\n  tau: 1.5\n", QS_STATUS_PARSE, "bad.yaml:2:8:",
               "tau: 1.5 is out of range [0, 1]");
    expect_bad("search:\n  max_episode: 0\n", QS_STATUS_PARSE, "bad.yaml:2:16:",
               "expects an integer in [1, 100000000], got '0'");
    expect_bad("search_space:\n  sparsity_candidates: [0, 0.99]\n", QS_STATUS_PARSE,
               "bad.yaml:2:28:", "0.99 is out of range [0, 0.95]");
    expect_bad("search_space:\n  sparsity_range: [0.5, 0.2]\n", QS_STATUS_PARSE,
               "bad.yaml:2:19:", "expects lo < hi");
    expect_bad("search_space:\n  bit_candidates: [4, 8]\n", QS_STATUS_PARSE, "bad.yaml:2:20:",
               "bit width '4' is not supported (8 or 32)");
    expect_bad("search_space:\n  sparsity_candidates: [0.5, 0.5]\n", QS_STATUS_PARSE,
               "bad.yaml:2:30:", "0.5 listed twice");
    expect_bad("search:\n  time_budget: 10x\n", QS_STATUS_PARSE, "bad.yaml:2:16:",
               "time_budget: expects seconds or a duration");
    expect_bad("budgets:\n  size_budget: 4XB\n", QS_STATUS_PARSE, "bad.yaml:2:16:",
               "size_budget: expects a number with an optional suffix");
    // Bad enum / choice values.
    expect_bad("objective:\n  reward_type: fastest\n", QS_STATUS_PARSE, "bad.yaml:2:16:",
               "unknown value 'fastest' (acc_first, compress_first, custom, haq, nncf or amc)");
    expect_bad("objective:\n  objective_keys: [accuracy, speed]\n", QS_STATUS_PARSE,
               "bad.yaml:2:30:", "unknown objective 'speed'");
    expect_bad("hardware:\n  target: gpu\n", QS_STATUS_PARSE, "bad.yaml:2:11:",
               "unknown value 'gpu' (auto, x86, arm or cuda)");
    expect_bad("search_space:\n  sparsity_pattern: 4:2\n", QS_STATUS_PARSE, "bad.yaml:2:21:",
               "unknown sparsity pattern '4:2'");
    expect_bad("data:\n  calib_method: best\n", QS_STATUS_PARSE, "bad.yaml:2:17:",
               "unknown value 'best'");
    expect_bad("data:\n  preprocess: scale=abc\n", QS_STATUS_PARSE, "bad.yaml:2:15:",
               "preprocess:");
    expect_bad("search_space:\n  ignore: [\"conv(\"]\n", QS_STATUS_PARSE, "bad.yaml:2:12:",
               "is not a valid regular expression");
    // Malformed YAML.
    expect_bad("search:\n  max_episode: [1, 2\n", QS_STATUS_PARSE, "bad.yaml:3:1:",
               "YAML syntax error");
    expect_bad("search:\n\tmax_episode: 3\n", QS_STATUS_PARSE, "bad.yaml:2:", "YAML syntax error");
    expect_bad("model: a\n---\nmodel: b\n", QS_STATUS_PARSE, "bad.yaml:2:1:",
               "a second YAML document");
    // Cross-field checks name the key that decided.
    expect_bad(OK_DATA "search: {algorithm: exhaustive}\nsearch_space: {sparsity_range: [0, "
               "0.5]}\n", QS_STATUS_INVALID_ARG, "bad.yaml:3:10:",
               "exhaustive search needs discrete choices");
    expect_bad(OK_DATA "objective:\n  objective_keys: [accuracy, latency]\n",
               QS_STATUS_INVALID_ARG, "bad.yaml:4:3:",
               "objective_keys uses latency, which needs a latency table");
    expect_bad(OK_DATA "budgets: {latency_budget: 3}\n", QS_STATUS_INVALID_ARG, "bad.yaml:3:11:",
               "latency_budget uses latency");
    expect_bad("model: m.onnx\ndata: {eval_data: [x.npy]}\n", QS_STATUS_INVALID_ARG,
               "bad.yaml", "metric top1 needs 'eval_labels'");
    expect_bad(OK_DATA "data: {metric: external}\n", QS_STATUS_PARSE, "bad.yaml:3:1:",
               "key 'data' given twice");
    expect_bad("model: m.onnx\ndata:\n  eval_data: [x.npy]\n  metric: external\n",
               QS_STATUS_INVALID_ARG, "bad.yaml:4:3:", "metric external needs 'eval_command'");
    expect_bad(OK_DATA "data_x: 1\n", QS_STATUS_PARSE, "bad.yaml:3:1:",
               "unknown key 'data_x' (did you mean 'data'?)");
    expect_bad(OK_DATA "thresholds: {acc_threshold: 70}\n", QS_STATUS_INVALID_ARG,
               "bad.yaml:3:14:", "accuracy is a fraction");
    expect_bad(OK_DATA "search_space: {tie_bits: true, w_bit_candidates: [8]}\n",
               QS_STATUS_INVALID_ARG, "bad.yaml:3:16:", "tie_bits needs the same");
    expect_bad(OK_DATA "search_space: {bit_candidates: [8]}\n", QS_STATUS_INVALID_ARG,
               "bad.yaml:3:16:", "the search space has one candidate");
    expect_bad(OK_DATA "objective: {objective_keys: [compress_ratio]}\n", QS_STATUS_INVALID_ARG,
               "bad.yaml:3:13:", "objective_keys must include accuracy");
    expect_bad(OK_DATA "data_section_typo: {}\ncalib_portion: 0.5\ncalib_count: 10\n",
               QS_STATUS_PARSE, "bad.yaml:3:1:", "unknown key 'data_section_typo'");
    expect_bad(OK_DATA "calib_portion: 0.5\ncalib_count: 10\n", QS_STATUS_INVALID_ARG,
               "bad.yaml:3:1:", "give calib_portion or calib_count, not both");
    // A missing file, and a folder.
    struct qs_search_config cfg;
    struct qs_diag diag;
    ASSERT_EQ(qs__config_load("/nonexistent/run.yaml", &cfg, &diag), QS_STATUS_IO);
    ASSERT_STR_CONTAINS(diag.msg, "/nonexistent/run.yaml: cannot open config");
    qs__config_free(&cfg);
    ASSERT_EQ(qs__config_load("/tmp", &cfg, &diag), QS_STATUS_IO);
    ASSERT_STR_CONTAINS(diag.msg, "/tmp: is a folder");
    qs__config_free(&cfg);
    // A missing input file is found by the file check, at the key's line.
    ASSERT_OK(qs__config_load_string("model: /nonexistent/m.onnx\n", "bad.yaml", &cfg, &diag));
    ASSERT_EQ(qs__config_check_files(&cfg, &diag), QS_STATUS_IO);
    ASSERT_STR_CONTAINS(diag.msg, "bad.yaml:1:1: model: cannot read '/nonexistent/m.onnx'");
    qs__config_free(&cfg);
    // An empty file is the defaults.
    ASSERT_OK(qs__config_load_string("", "empty.yaml", &cfg, &diag));
    ASSERT_EQ(cfg.max_episode, 300);
    qs__config_free(&cfg);
}

static void test_overrides(void) {
    struct qs_search_config cfg;
    struct qs_diag diag;
    ASSERT_OK(qs__config_load(repo("configs/resnet56-compress-first.yaml"), &cfg, &diag));
    // The CLI flags: --objective, --episodes, --time-budget, --seed, --target, --lut, -o.
    ASSERT_OK(qs__config_set(&cfg, "reward_type", "acc_first", &diag));
    ASSERT_EQ(cfg.reward_type, QS_REWARD_ACC_FIRST);
    ASSERT_OK(qs__config_set(&cfg, "objective.reward_type", "haq", &diag));
    ASSERT_EQ(cfg.reward_type, QS_REWARD_HAQ);
    ASSERT_OK(qs__config_set(&cfg, "max_episode", "50", &diag));
    ASSERT_EQ(cfg.max_episode, 50);
    ASSERT_OK(qs__config_set(&cfg, "time_budget", "10m", &diag));
    ASSERT_TRUE(cfg.time_budget_s == 600);
    ASSERT_OK(qs__config_set(&cfg, "time_budget", "1h30m", &diag));
    ASSERT_TRUE(cfg.time_budget_s == 5400);
    ASSERT_OK(qs__config_set(&cfg, "time_budget", "90s", &diag));
    ASSERT_TRUE(cfg.time_budget_s == 90);
    ASSERT_OK(qs__config_set(&cfg, "time_budget", "45", &diag));
    ASSERT_TRUE(cfg.time_budget_s == 45);
    ASSERT_OK(qs__config_set(&cfg, "seed", "18446744073709551615", &diag));
    ASSERT_TRUE(cfg.seed == UINT64_MAX);
    ASSERT_OK(qs__config_set(&cfg, "target", "arm", &diag));
    ASSERT_TRUE(!strcmp(cfg.target, "arm"));
    // Paths from the command line are relative to the current directory.
    char cwd[4096], want[4200];
    ASSERT_TRUE(getcwd(cwd, sizeof cwd) != NULL);
    ASSERT_OK(qs__config_set(&cfg, "lut", "tables/my table#1.yaml", &diag));
    snprintf(want, sizeof want, "%s/tables/my table#1.yaml", cwd);
    ASSERT_TRUE(!strcmp(cfg.lut, want));
    ASSERT_OK(qs__config_set(&cfg, "output_dir", "/tmp/run1", &diag));
    ASSERT_TRUE(!strcmp(cfg.output_dir, "/tmp/run1"));
    ASSERT_OK(qs__config_set(&cfg, "lut", "", &diag));  // empty = unset
    ASSERT_TRUE(cfg.lut == NULL);
    ASSERT_OK(qs__config_set(&cfg, "size_budget", "4MiB", &diag));
    ASSERT_TRUE(cfg.size_budget_bytes == 4194304.0);
    ASSERT_OK(qs__config_set(&cfg, "flops_budget", "1.5G", &diag));
    ASSERT_TRUE(cfg.flops_budget == 1.5e9);
    ASSERT_OK(qs__config_set(&cfg, "size_budget", "null", &diag));
    ASSERT_TRUE(cfg.size_budget_bytes < 0);
    ASSERT_OK(qs__config_set(&cfg, "sparsity_candidates", "[0.5, 0, 0.25]", &diag));
    ASSERT_EQ(cfg.n_sparsity, 3);
    ASSERT_TRUE(cfg.sparsity[0] == 0 && cfg.sparsity[1] == 0.25f && cfg.sparsity[2] == 0.5f);
    ASSERT_OK(qs__config_set(&cfg, "objective_keys", "[accuracy, flops]", &diag));
    ASSERT_EQ(cfg.objective_keys, QS_OBJ_ACCURACY | QS_OBJ_FLOPS);
    ASSERT_OK(qs__config_set(&cfg, "stop_early", "no", &diag));
    ASSERT_TRUE(!cfg.stop_early);
    // Bad overrides name the key (no file position).
    ASSERT_EQ(qs__config_set(&cfg, "max_episode", "many", &diag), QS_STATUS_INVALID_ARG);
    ASSERT_TRUE(!strcmp(diag.msg, "max_episode: expects an integer in [1, 100000000], got "
                                  "'many'"));
    ASSERT_EQ(qs__config_set(&cfg, "reward_type", "best", &diag), QS_STATUS_INVALID_ARG);
    ASSERT_STR_CONTAINS(diag.msg, "reward_type: unknown value 'best'");
    ASSERT_EQ(qs__config_set(&cfg, "episodes", "5", &diag), QS_STATUS_INVALID_ARG);
    ASSERT_STR_CONTAINS(diag.msg, "unknown config key 'episodes'");
    ASSERT_EQ(qs__config_set(&cfg, "hardware.seed", "5", &diag), QS_STATUS_INVALID_ARG);
    ASSERT_EQ(qs__config_set(&cfg, "bit_candidates", "[8, 32", &diag), QS_STATUS_INVALID_ARG);
    ASSERT_STR_CONTAINS(diag.msg, "bit_candidates: cannot read '[8, 32'");
    ASSERT_EQ(cfg.max_episode, 50);  // unchanged by the failures
    // A cross-field error caused by an override has no file position but names the file.
    ASSERT_OK(qs__config_set(&cfg, "latency_threshold", "2", &diag));
    ASSERT_EQ(qs__config_validate(&cfg, &diag), QS_STATUS_INVALID_ARG);
    ASSERT_STR_CONTAINS(diag.msg, "resnet56-compress-first.yaml: latency_threshold uses latency");
    qs__config_free(&cfg);

    // A validated config written as YAML reads back and validates again (run folders'
    // config.yaml for --resume), calib_portion included.
    ASSERT_OK(qs__config_load_string(OK_DATA "calib_portion: 0.25\nsparsity_range: [0, 0.5]\n",
                                     NULL, &cfg, &diag));
    ASSERT_OK(qs__config_validate(&cfg, &diag));
    ASSERT_EQ(cfg.calib_count, 0);
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    ASSERT_EQ(qs__config_write_yaml(&cfg, f, false), 0);
    fclose(f);
    struct qs_search_config back;
    ASSERT_OK(qs__config_load_string(buf, "/x/config.yaml", &back, &diag));
    if (qs__config_validate(&back, &diag)) fprintf(stderr, "%s\n%s\n", buf, diag.msg);
    ASSERT_OK(qs__config_validate(&back, &diag));
    ASSERT_TRUE(back.calib_portion == 0.25 && back.sparsity_continuous);
    free(buf);
    qs__config_free(&back);
    qs__config_free(&cfg);

    // bit_candidates sets both sides unless one was given on its own, in any order.
    ASSERT_OK(qs__config_load_string("search_space:\n  w_bit_candidates: [8]\n"
                                     "  bit_candidates: [8, 32]\n  tie_bits: false\n", NULL,
                                     &cfg, &diag));
    ASSERT_EQ(cfg.n_w_bits, 1);
    ASSERT_EQ(cfg.w_bits[0], 8);
    ASSERT_EQ(cfg.n_a_bits, 2);
    qs__config_free(&cfg);
    ASSERT_OK(qs__config_load_string("bit_candidates: [32, 8]\na_bit_candidates: 32\n", NULL,
                                     &cfg, &diag));
    ASSERT_EQ(cfg.n_w_bits, 2);
    ASSERT_EQ(cfg.w_bits[0], 8);  // sorted
    ASSERT_EQ(cfg.n_a_bits, 1);
    ASSERT_EQ(cfg.a_bits[0], 32);
    qs__config_free(&cfg);
}

static void test_paths(void) {
    struct qs_search_config cfg;
    struct qs_diag diag;
    const char *yaml =
        "model: m.onnx\n"
        "data:\n"
        "  calib_data: [\"cifar10:data/train.bin\"]\n"
        "  eval_data: [\"raw:x.u8:uint8:10x3\", \"ids.i64:int64:10x64\", /abs/x.npy, "
        "./here.npy]\n"
        "  eval_labels: \"cifar10-labels:data/t.bin\"\n"
        "hardware: {lut: ../tables/x86.yaml}\n"
        "output_dir: out\n";
    ASSERT_OK(qs__config_load_string(yaml, "/nonexistent-dir/cfg/run.yaml", &cfg, &diag));
    ASSERT_TRUE(!strcmp(cfg.model, "/nonexistent-dir/cfg/m.onnx"));
    ASSERT_TRUE(!strcmp(cfg.calib_data[0], "cifar10:/nonexistent-dir/cfg/data/train.bin"));
    ASSERT_TRUE(!strcmp(cfg.eval_data[0], "raw:/nonexistent-dir/cfg/x.u8:uint8:10x3"));
    ASSERT_TRUE(!strcmp(cfg.eval_data[1], "/nonexistent-dir/cfg/ids.i64:int64:10x64"));
    ASSERT_TRUE(!strcmp(cfg.eval_data[2], "/abs/x.npy"));
    ASSERT_TRUE(!strcmp(cfg.eval_data[3], "/nonexistent-dir/cfg/here.npy"));
    ASSERT_EQ(cfg.n_eval_data, 4);
    ASSERT_TRUE(!strcmp(cfg.eval_labels, "cifar10-labels:/nonexistent-dir/cfg/data/t.bin"));
    ASSERT_TRUE(!strcmp(cfg.lut, "/nonexistent-dir/tables/x86.yaml"));
    ASSERT_TRUE(!strcmp(cfg.output_dir, "/nonexistent-dir/cfg/out"));
    ASSERT_TRUE(!strcmp(cfg.base_dir, "/nonexistent-dir/cfg"));
    qs__config_free(&cfg);
    ASSERT_OK(qs__config_load_string("model: ../../../../x/../m.onnx\n", "/a/b/c.yaml", &cfg,
                                     &diag));
    ASSERT_TRUE(!strcmp(cfg.model, "/../../x/../m.onnx"));  // only leading ../ are folded
    qs__config_free(&cfg);
    // A single spec may be written as a scalar.
    ASSERT_OK(qs__config_load_string("data: {eval_data: /a/x.npy}\n", NULL, &cfg, &diag));
    ASSERT_EQ(cfg.n_eval_data, 1);
    qs__config_free(&cfg);
}

static void test_json(void) {
    struct qs_search_config cfg;
    struct qs_diag diag;
    ASSERT_OK(qs__config_load_string("model: \"/m \\\"q\\\".onnx\"\nsearch: {seed: 3}\n", NULL,
                                     &cfg, &diag));
    char *j = json_of(&cfg);
    ASSERT_STR_CONTAINS(j, "\"model\": \"/m \\\"q\\\".onnx\"");
    ASSERT_STR_CONTAINS(j, "\"search\": {\"algorithm\": \"ddpg\", \"max_episode\": 300");
    ASSERT_STR_CONTAINS(j, "\"seed\": 3}");
    ASSERT_STR_CONTAINS(j, "\"acc_threshold\": null, \"max_acc_drop\": 0.01");
    ASSERT_STR_CONTAINS(j, "\"objective_keys\": [\"accuracy\", \"compress_ratio\"]");
    ASSERT_STR_CONTAINS(j, "\"bit_candidates\": [8, 32]");
    // Balanced braces and brackets outside strings, one object.
    int depth = 0;
    bool in_str = false;
    for (const char *p = j; *p; p++) {
        if (in_str) {
            if (*p == '\\') p++;
            else if (*p == '"') in_str = false;
            continue;
        }
        if (*p == '"') in_str = true;
        if (*p == '{' || *p == '[') depth++;
        if (*p == '}' || *p == ']') depth--;
        ASSERT_TRUE(depth >= 0);
        if (depth == 0) ASSERT_TRUE(p[1] == 0);
    }
    ASSERT_EQ(depth, 0);
    free(j);
    qs__config_free(&cfg);
}

static void test_demo(void) {
    struct qs_search_config cfg;
    struct qs_diag diag;
    ASSERT_OK(qs__config_embedded_default(&cfg, &diag));
    ASSERT_OK(qs__config_validate(&cfg, &diag));
    ASSERT_OK(qs__config_check_files(&cfg, &diag));
    ASSERT_STR_CONTAINS(cfg.model, "configs/demo/digits_cnn.onnx");
    ASSERT_EQ(cfg.calib_count, 100);
    ASSERT_EQ(cfg.eval_offset, 100);
    ASSERT_TRUE(cfg.max_episode <= 100 && cfg.threads == 1);
    ASSERT_EQ(cfg.reward_type, QS_REWARD_COMPRESS_FIRST);
    ASSERT_TRUE(strstr(cfg.output_dir, "/configs/demo") == NULL);
    // The file version of the demo is the same search.
    struct qs_search_config file;
    ASSERT_OK(qs__config_load(repo("configs/digits-demo.yaml"), &file, &diag));
    ASSERT_OK(qs__config_validate(&file, &diag));
    char *a = json_of(&cfg), *b = json_of(&file);
    if (strcmp(body(a), body(b))) {
        fprintf(stderr, "embedded: %s\nfile:     %s\n", a, b);
        ASSERT_TRUE(0);
    }
    free(a);
    free(b);
    qs__config_free(&file);
    qs__config_free(&cfg);
    // QSEARCH_DEMO_DIR comes first; nowhere to be found is an IO error listing the places.
    setenv("QSEARCH_DEMO_DIR", repo("configs/demo"), 1);
    ASSERT_OK(qs__config_embedded_default(&cfg, &diag));
    qs__config_free(&cfg);
    unsetenv("QSEARCH_DEMO_DIR");
}

static void test_readme(void) {
    char *gen = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&gen, &size);
    ASSERT_EQ(qs__config_write_readme(f), 0);
    fclose(f);
    ASSERT_STR_CONTAINS(gen, "| `reward_type` |");
    ASSERT_STR_CONTAINS(gen, "## Rewards");
    FILE *r = fopen(repo("configs/README.md"), "rb");
    if (!r) {
        fprintf(stderr, "configs/README.md is missing: run "
                        "'qsearch config --readme > configs/README.md'\n");
        exit(1);
    }
    char *have = malloc(size + 2);
    size_t n = fread(have, 1, size + 1, r);
    fclose(r);
    if (n != size || memcmp(have, gen, size) != 0) {
        fprintf(stderr, "configs/README.md is out of date: run "
                        "'qsearch config --readme > configs/README.md'\n");
        exit(1);
    }
    free(have);
    free(gen);
}

// The command: `qsearch config --check` exit codes and messages.
static void test_cli(void) {
    const char *bin = getenv("QS_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        printf("note: QS_BIN not set, CLI part skipped\n");
        return;
    }
    char path[] = "/tmp/qs-test-config-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("model: m.onnx\nsearch:\n  max_episode: -3\n", f);
    fclose(f);
    char cmd[8400], out[2048] = "";
    snprintf(cmd, sizeof cmd, "'%s' config --check '%s' 2>&1", bin, path);
    FILE *p = popen(cmd, "r");
    ASSERT_TRUE(p != NULL);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    ASSERT_EQ(WEXITSTATUS(rc), 2);
    char want[200];
    snprintf(want, sizeof want, "qsearch: error: %s:3:16: max_episode:", path);
    ASSERT_STR_CONTAINS(out, want);
    // A good config (the demo as a file): exit 0 and the reward formula.
    snprintf(cmd, sizeof cmd, "'%s' config --check '%s' 2>&1", bin,
             repo("configs/digits-demo.yaml"));
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    rc = pclose(p);
    if (WEXITSTATUS(rc) != 0) fprintf(stderr, "%s\n", out);
    ASSERT_EQ(WEXITSTATUS(rc), 0);
    ASSERT_STR_CONTAINS(out, "digits-demo.yaml: ok");
    ASSERT_STR_CONTAINS(out, "compress_first: R = E + (acc - acc0) if acc >= A");
    // --defaults is a complete YAML config (the checker then asks for a model).
    snprintf(cmd, sizeof cmd, "'%s' config --defaults > '%s' && '%s' config --check '%s' 2>&1",
             bin, path, bin, path);
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    rc = pclose(p);
    ASSERT_EQ(WEXITSTATUS(rc), 2);
    ASSERT_STR_CONTAINS(out, "'model' is not set");
    // No mode is a usage error.
    snprintf(cmd, sizeof cmd, "'%s' config 2>&1", bin);
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    rc = pclose(p);
    ASSERT_EQ(WEXITSTATUS(rc), 2);
    ASSERT_STR_CONTAINS(out, "needs one of --defaults, --readme or --check FILE");
    unlink(path);
}

static int load_config(const char *text, void *user, char *why, size_t why_size) {
    (void)user;
    struct qs_search_config cfg;
    struct qs_diag diag = {{0}};
    enum qs_status st = qs__config_load_string(text, "mut.yaml", &cfg, &diag);
    if (st == QS_STATUS_OK) st = qs__config_validate(&cfg, &diag);
    qs__config_free(&cfg);
    if (st == QS_STATUS_OK) return 0;
    if ((st == QS_STATUS_PARSE || st == QS_STATUS_INVALID_ARG) && strstr(diag.msg, "mut.yaml"))
        return 1;
    snprintf(why, why_size, "status %d, '%.400s'", (int)st, diag.msg);
    return -1;
}

// Random damage to a shipped config (bytes replaced by YAML punctuation, dropped, lines
// repeated, the text cut short) loads and validates, or fails with a message naming the
// file; never a crash (the sanitizer round runs this too). Seeded.
static void test_mutations(void) {
    FILE *f = fopen(repo("configs/digits-demo.yaml"), "rb");
    ASSERT_TRUE(f != NULL);
    char base[8192];
    size_t n = fread(base, 1, sizeof base - 1, f);
    fclose(f);
    base[n] = 0;
    ASSERT_TRUE(n > 100 && n < sizeof base / 2);
    qs_test_mutations(base, ":-[]{},#'\"\n 0a.&*!|>%@", 0xc0f1ull, true, load_config, NULL);
}

int main(void) {
    test_defaults();
    test_examples();
    test_bad_input();
    test_mutations();
    test_overrides();
    test_paths();
    test_json();
    test_demo();
    test_readme();
    test_cli();
    printf("ok\n");
    return 0;
}
