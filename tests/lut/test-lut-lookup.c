// Latency lookups: the nodes qs_lut_model_cost predicts are the nodes a session runs (for
// fp32, int8 and mixed policies with sparsity), sparsity interpolation, miss counting and
// estimates, and refusal of a table from another machine.
#include "lut-test-util.h"

#include "latency_tables/measure.h"
#include "qsearch/cpu.h"

#include <math.h>

typedef struct {
    char keys[256][LUT_KEY_MAX];
    int n;
    double min_ms;
} keyset;

static void collect(void *user, const char *name, const char *key, double ms, bool miss) {
    keyset *k = user;
    (void)name;
    (void)miss;
    ASSERT_TRUE(k->n < 256);
    snprintf(k->keys[k->n++], LUT_KEY_MAX, "%s", key);
    if (ms < k->min_ms) k->min_ms = ms;
}

static int cmp_key(const void *a, const void *b) { return strcmp(a, b); }

static qs_policy_t *random_policy(const qs_graph_t *g, uint64_t seed, bool sparse) {
    qs_policy_t *p;
    ASSERT_OK(qs_policy_create(&p));
    for (int l = 0; l < qs_graph_layer_count(g); l++) {
        struct qs_layer_info li;
        ASSERT_OK(qs_graph_layer_info(g, l, &li));
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        struct qs_layer_policy lp = qs_layer_policy_default();
        lp.w_bits = (seed >> 33) & 1 ? 8 : 32;
        lp.a_bits = (seed >> 34) & 1 ? 8 : 32;
        lp.sparsity = sparse && ((seed >> 35) & 1) ? 0.5f : 0.0f;
        ASSERT_OK(qs_policy_set(p, li.name, &lp, NULL));
    }
    return p;
}

// The predicted keys equal the keys of the nodes the session executes (as multisets).
static void check_prediction(qs_lut_t *lut, qs_lut_model_t *m, const qs_policy_t *policy,
                             const char *what) {
    struct qs_diag d = {{0}};
    static keyset pred, real;
    pred.n = real.n = 0;
    pred.min_ms = INFINITY;
    struct qs_lut_estimate est;
    ASSERT_OK(qs_lut_model_cost_detail(lut, qs_lut_model_graph(m), policy, 0, collect, &pred,
                                       &est, &d));
    qs_quantizer_t *q;
    qs_session_t *s;
    if (qs__lut_model_session(m, policy, true, &q, &s, &d) != QS_STATUS_OK) {
        fprintf(stderr, "%s: %s\n", what, d.msg);
        exit(1);
    }
    for (int e = 0; e < qs_session_exec_count(s); e++) {
        struct qs_prof_node pn;
        ASSERT_OK(qs_session_exec_info(s, e, &pn));
        ASSERT_TRUE(real.n < 256);
        qs_lut_node_key(&pn, real.keys[real.n++], LUT_KEY_MAX);
    }
    qs_session_destroy(s);
    qs_quantizer_destroy(q);
    qsort(pred.keys, (size_t)pred.n, LUT_KEY_MAX, cmp_key);
    qsort(real.keys, (size_t)real.n, LUT_KEY_MAX, cmp_key);
    bool same = pred.n == real.n;
    for (int i = 0; same && i < pred.n; i++) same = !strcmp(pred.keys[i], real.keys[i]);
    if (!same) {
        fprintf(stderr, "%s: predicted %d nodes, the session runs %d\n", what, pred.n, real.n);
        for (int i = 0; i < pred.n; i++) fprintf(stderr, "  pred %s\n", pred.keys[i]);
        for (int i = 0; i < real.n; i++) fprintf(stderr, "  real %s\n", real.keys[i]);
        exit(1);
    }
    ASSERT_EQ(est.lookups, pred.n);
    if (!(est.ms > 0 && est.p10_ms > 0 && est.p10_ms <= est.ms + 1e-9)) {
        fprintf(stderr, "%s: estimate %.6f ms, p10 %.6f ms: want 0 < p10 <= median\n", what,
                est.ms, est.p10_ms);
        exit(1);
    }
    ASSERT_TRUE(pred.min_ms >= 0);
}

static void test_prediction_matches_executor(void) {
    struct qs_diag d = {{0}};
    qs_lut_t *lut;
    ASSERT_OK(qs_lut_load(tiny_table(), &lut, &d));
    qs_lut_model_t *m;
    ASSERT_OK(qs_lut_model_open(tiny_model(), 1, 1, &m, &d));
    const qs_graph_t *g = qs_lut_model_graph(m);
    qs_policy_t *fp32;
    ASSERT_OK(qs_policy_create(&fp32));
    check_prediction(lut, m, fp32, "fp32");
    check_prediction(lut, m, NULL, "all int8");
    struct qs_lut_estimate est;
    ASSERT_OK(qs_lut_model_cost(lut, g, fp32, 0, &est, &d));
    ASSERT_EQ(est.misses, 0);  // the build measured this policy
    {
        // And the fp32 policy with the residual Add fusion off (the build's extra job):
        // the plain Add and Relu keys a block with an int8 Conv may leave in fp32.
        qs_quantizer_t *q;
        qs_session_t *s;
        ASSERT_OK(qs__lut_model_session(m, fp32, false, &q, &s, &d));
        int adds = 0;
        for (int e = 0; e < qs_session_exec_count(s); e++) {
            struct qs_prof_node pn;
            ASSERT_OK(qs_session_exec_info(s, e, &pn));
            char key[LUT_KEY_MAX];
            qs_lut_node_key(&pn, key, sizeof key);
            adds += !strcmp(pn.op_type, "Add");
            if (!qs__lut_find(lut, key)) {
                fprintf(stderr, "unfused fp32 node not in the table: %s\n", key);
                exit(1);
            }
        }
        ASSERT_TRUE(adds > 0);
        qs_session_destroy(s);
        qs_quantizer_destroy(q);
    }
    for (uint64_t k = 0; k < 12; k++) {
        char what[32];
        snprintf(what, sizeof what, "mixed policy %d", (int)k);
        qs_policy_t *p = random_policy(g, k + 1, k % 2);
        check_prediction(lut, m, p, what);
        qs_policy_destroy(p);
    }
    qs_policy_destroy(fp32);
    qs_lut_model_close(m);
    qs_lut_destroy(lut);
}

// Number of nodes an fp32 session of g runs (a residual Add is fused into its Conv).
static int exec_count(qs_graph_t *g) {
    struct qs_diag d;
    qs_session_t *s;
    ASSERT_OK(qs_session_create(g, NULL, &s, &d));
    int n = qs_session_exec_count(s);
    qs_session_destroy(s);
    return n;
}

// A hand-made table: every node an fp32 session runs at 1 ms, layer "down1" at 1.1 ms dense
// and 1 ms at sparsity 0.5, "down2" 1 ms dense and 2 ms at 0.5; `skip` (op type) left out.
static const char *hand_table(qs_graph_t *g, const char *cpu, const char *skip) {
    const struct qs_cpu_info *ci = qs_cpu_info_get();
    struct qs_lut_hw hw;
    struct qs_diag d;
    ASSERT_OK(qs_lut_host_descriptor(NULL, 1, &hw, &d));
    static char text[65536];
    int n = snprintf(text, sizeof text,
                     "qsearch_lut: 1\ndescriptor:\n  target: \"%s\"\n  arch: \"%s\"\n"
                     "  cpu_model: \"%s\"\n  isa: \"%s\"\nmeasurement:\n  batch: 1\n"
                     "  threads: 1\n...\n" LUT_CSV_HEADER "\n", hw.target, hw.arch,
                     cpu ? cpu : hw.cpu_model, hw.isa);
    (void)ci;
    qs_session_t *s;
    ASSERT_OK(qs_session_create(g, NULL, &s, &d));
    for (int i = 0; i < qs_session_exec_count(s); i++) {
        struct qs_prof_node pn;
        ASSERT_OK(qs_session_exec_info(s, i, &pn));
        if (skip && !strcmp(pn.op_type, skip)) continue;
        char key[LUT_KEY_MAX];
        qs_lut_node_key(&pn, key, sizeof key);
        if (!strcmp(pn.name, "down1")) {
            n += snprintf(text + n, sizeof text - (size_t)n,
                          "%s,32,32,0,1.1,1.1,1.1,5\n%s,32,32,0.5,1,1,1,5\n", key, key);
        } else if (!strcmp(pn.name, "down2")) {  // a kernel switch between 0 and 0.5
            n += snprintf(text + n, sizeof text - (size_t)n,
                          "%s,32,32,0,1,1,1,5\n%s,32,32,0.5,2,2,2,5\n", key, key);
        } else {
            n += snprintf(text + n, sizeof text - (size_t)n, "%s,32,32,0,1,1,1,5\n", key);
        }
    }
    qs_session_destroy(s);
    const char *p = tmp_path(cpu ? "other.yaml" : skip ? "skip.yaml" : "hand.yaml");
    write_file(p, text);
    return p;
}

static int layer_index(const qs_graph_t *g, const char *name) {
    for (int l = 0; l < qs_graph_layer_count(g); l++) {
        struct qs_layer_info li;
        ASSERT_OK(qs_graph_layer_info(g, l, &li));
        if (!strcmp(li.name, name)) return l;
    }
    return -1;
}

// The fp32 estimate of g from the hand table with extra header lines (residual curves).
static void curve_estimate(qs_graph_t *g, const char *lines, struct qs_lut_estimate *est) {
    struct qs_diag d = {{0}};
    FILE *f = fopen(hand_table(g, NULL, NULL), "r");
    ASSERT_TRUE(f != NULL);
    static char text[65536], with[65600];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = 0;
    char *at = strstr(text, "  threads: 1\n");
    ASSERT_TRUE(at != NULL);
    at += strlen("  threads: 1\n");
    snprintf(with, sizeof with, "%.*s%s%s", (int)(at - text), text, lines, at);
    const char *cp = tmp_path("curve.yaml");
    write_file(cp, with);
    qs_lut_t *cl;
    ASSERT_OK(qs_lut_load(cp, &cl, &d));
    qs_policy_t *dense;
    ASSERT_OK(qs_policy_create(&dense));
    ASSERT_OK(qs_lut_model_cost(cl, g, dense, 0, est, &d));
    qs_policy_destroy(dense);
    qs_lut_destroy(cl);
}

static void test_interpolation_and_misses(void) {
    struct qs_diag d = {{0}};
    qs_graph_t *g;
    ASSERT_OK(qs_graph_load_onnx(tiny_model(), &g, &d));
    ASSERT_OK(qs_graph_optimize(g, QS_PASS_DEFAULT, &d));
    int nodes = exec_count(g), down1 = layer_index(g, "down1");
    ASSERT_TRUE(down1 >= 0);
    qs_lut_t *lut;
    ASSERT_OK(qs_lut_load(hand_table(g, NULL, NULL), &lut, &d));
    ASSERT_OK(qs_lut_check_host(lut, false, &d));
    double ms;
    bool miss;
    ASSERT_OK(qs_lut_layer_cost(lut, g, down1, 32, 32, 0.25f, NULL, &ms, &miss));
    ASSERT_TRUE(fabs(ms - 1.05) < 1e-6 && !miss);
    ASSERT_OK(qs_lut_layer_cost(lut, g, down1, 32, 32, 0.4f, NULL, &ms, &miss));
    ASSERT_TRUE(fabs(ms - 1.02) < 1e-6 && !miss);
    // Points 2x apart are a kernel switch: the nearer point, not a slope.
    int down2 = layer_index(g, "down2");
    ASSERT_OK(qs_lut_layer_cost(lut, g, down2, 32, 32, 0.2f, NULL, &ms, &miss));
    ASSERT_TRUE(fabs(ms - 1.0) < 1e-9 && !miss);
    ASSERT_OK(qs_lut_layer_cost(lut, g, down2, 32, 32, 0.3f, NULL, &ms, &miss));
    ASSERT_TRUE(fabs(ms - 2.0) < 1e-9 && !miss);
    ASSERT_OK(qs_lut_layer_cost(lut, g, down1, 32, 32, 0.5f, "unstructured", &ms, &miss));
    ASSERT_TRUE(fabs(ms - 1.0) < 1e-9 && !miss);
    ASSERT_OK(qs_lut_layer_cost(lut, g, down1, 32, 32, 0.8f, NULL, &ms, &miss));
    ASSERT_TRUE(fabs(ms - 1.0) < 1e-9 && miss);  // beyond the measured range: counted
    ASSERT_OK(qs_lut_layer_cost(lut, g, down1, 8, 32, 0.0f, NULL, &ms, &miss));
    ASSERT_TRUE(fabs(ms - 1.1) < 1e-9 && !miss);  // weight-only int8 runs the fp32 kernel
    ASSERT_OK(qs_lut_layer_cost(lut, g, down1, 8, 8, 0.0f, NULL, &ms, &miss));
    ASSERT_TRUE(ms > 0 && miss);  // no QLinearConv in the table: estimated, never 0
    ASSERT_EQ(qs_lut_layer_cost(lut, g, 999, 8, 8, 0.0f, NULL, &ms, &miss), QS_STATUS_INVALID_ARG);
    ASSERT_EQ(qs_lut_layer_cost(lut, g, down1, 4, 8, 0.0f, NULL, &ms, &miss),
              QS_STATUS_INVALID_ARG);

    qs_policy_t *p;
    ASSERT_OK(qs_policy_create(&p));
    struct qs_lut_estimate est;
    ASSERT_OK(qs_lut_model_cost(lut, g, p, 0, &est, &d));
    ASSERT_EQ(est.lookups, nodes);
    ASSERT_EQ(est.misses, 0);
    ASSERT_TRUE(fabs(est.ms - (nodes + 0.1)) < 1e-9);
    struct qs_layer_policy lp = qs_layer_policy_default();
    lp.sparsity = 0.5f;
    ASSERT_OK(qs_policy_set(p, "down1", &lp, &d));
    ASSERT_OK(qs_lut_model_cost(lut, g, p, 0, &est, &d));
    ASSERT_TRUE(fabs(est.ms - nodes) < 1e-9 && est.misses == 0);
    // int8 everywhere: the table has no integer node; every one of them is a counted miss
    // with a positive estimate.
    keyset ks = {.min_ms = INFINITY};
    ASSERT_OK(qs_lut_model_cost_detail(lut, g, NULL, 0, collect, &ks, &est, &d));
    ASSERT_TRUE(est.misses > 0 && est.misses <= est.lookups && ks.min_ms > 0);
    // A batch the table was not measured at: every node misses.
    ASSERT_OK(qs_lut_model_cost(lut, g, p, 4, &est, &d));
    ASSERT_EQ(est.misses, est.lookups);
    ASSERT_TRUE(est.ms > 0);
    qs_lut_destroy(lut);

    // A residual curve in the header: the estimate adds it at the sum of the entries,
    // interpolated between knots; the p10 estimate has no curve of its own here.
    double sum = nodes + 0.1;
    curve_estimate(g, "  run_residual: [[1, 0], [101, 2]]\n", &est);
    ASSERT_TRUE(fabs(est.ms - (sum + 2.0 * (sum - 1) / 100)) < 1e-9);
    ASSERT_TRUE(fabs(est.p10_ms - sum) < 1e-9);
    // Curves fitted apart on a noisy machine (CI, stop 12) can cross: a p10 residual above
    // the median's stops at the median, and a residual that would make the run free leaves
    // the nodes' own sum.
    curve_estimate(g, "  run_residual_p10: [[1, 50], [101, 50]]\n", &est);
    ASSERT_TRUE(fabs(est.ms - sum) < 1e-9 && fabs(est.p10_ms - est.ms) < 1e-9);
    curve_estimate(g, "  run_residual: [[1, -1000], [101, -1000]]\n", &est);
    ASSERT_TRUE(fabs(est.ms - sum) < 1e-9 && fabs(est.p10_ms - sum) < 1e-9);

    // One op type missing from the table: only its node misses, estimated above zero.
    ASSERT_OK(qs_lut_load(hand_table(g, NULL, "MaxPool"), &lut, &d));
    qs_policy_t *fp32;
    ASSERT_OK(qs_policy_create(&fp32));
    ASSERT_OK(qs_lut_model_cost(lut, g, fp32, 0, &est, &d));
    ASSERT_EQ(est.misses, 1);
    ASSERT_EQ(est.lookups, nodes);
    ASSERT_TRUE(est.ms > nodes - 1 + 0.1);  // (nodes - 1) hits, down1 at 1.1, MaxPool > 0
    qs_lut_destroy(lut);

    // Another machine: refused unless forced.
    ASSERT_OK(qs_lut_load(hand_table(g, "Imaginary CPU 9000", NULL), &lut, &d));
    ASSERT_EQ(qs_lut_check_host(lut, false, &d), QS_STATUS_UNSUPPORTED_HW);
    ASSERT_STR_CONTAINS(d.msg, "cpu_model");
    ASSERT_STR_CONTAINS(d.msg, "Imaginary CPU 9000");
    ASSERT_OK(qs_lut_check_host(lut, true, &d));
    qs_lut_destroy(lut);
    // The measured table fits this machine.
    ASSERT_OK(qs_lut_load(tiny_table(), &lut, &d));
    ASSERT_OK(qs_lut_check_host(lut, false, &d));
    qs_lut_destroy(lut);
    qs_policy_destroy(p);
    qs_policy_destroy(fp32);
    qs_graph_destroy(g);
}

static void test_resume(void) {
    // A table whose settings differ is not resumed (nor overwritten).
    struct qs_diag d = {{0}};
    struct qs_lut_build_options o = qs_lut_build_options_default();
    o.repeats = 4;  // tiny_table used 3
    const char *models[] = {tiny_model()};
    ASSERT_EQ(qs_lut_build(models, 1, &o, tiny_table(), &d), QS_STATUS_INVALID_STATE);
    ASSERT_STR_CONTAINS(d.msg, "other settings");
    // Same settings: everything is done already, nothing is measured again.
    static const float sp[] = {0.0f, 0.5f};
    o.repeats = 3;
    o.warmup = 1;
    o.mixed = 3;
    o.sparsity = sp;
    o.n_sparsity = 2;
    qs_lut_t *before, *after;
    ASSERT_OK(qs_lut_load(tiny_table(), &before, &d));
    ASSERT_OK(qs_lut_build(models, 1, &o, tiny_table(), &d));
    ASSERT_OK(qs_lut_load(tiny_table(), &after, &d));
    ASSERT_EQ(qs_lut_entry_count(before), qs_lut_entry_count(after));
    ASSERT_EQ(before->n_jobs, after->n_jobs);
    for (int i = 0; i < before->n_entries; i++) {
        const lut_entry *e = qs__lut_find(after, before->entries[i].key);
        ASSERT_TRUE(e && e->pts[0].ms == before->entries[i].pts[0].ms);
    }
    qs_lut_destroy(before);
    qs_lut_destroy(after);
}

int main(void) {
    if (access(tiny_model(), R_OK) != 0) QS_TEST_SKIP("fixture %s missing", tiny_model());
    test_prediction_matches_executor();
    test_interpolation_and_misses();
    test_resume();
    cleanup_tmp();
    printf("ok\n");
    return 0;
}
