// Residual Add fusion in sessions (ir/session.c, qs__match_residual_add in ir/passes.c):
// Conv -> Add(residual) [-> Relu] runs as one Conv node with the residual as 4th input.
// Small graphs built here check what fuses and what must not (a Conv with its own fused
// activation, a broadcasting Add, a Conv output read twice or being a graph output, a
// constant operand, two Convs into one Add), and that fused sessions give the outputs of
// unfused ones (option fuse_add off) within 1e-5, also on the sparse kernels, with an observer
// (which sees every tensor: the group runs unfused then), in profiled runs and through
// prefix reuse (the residual is a live value at a cut), and in the integer form of mixed
// int8/fp32 graphs. The graph itself never changes: export writes the separate nodes.
// ResNet-20 (shared/data) fuses all 9 blocks.
#include "graph-build.h"
#include "ir/ir-impl.h"
#include "ir/session-reuse.h"
#include "session-spans.h"
#include "qsearch/quant.h"
#include "test.h"

#include <math.h>
#include <unistd.h>


// ---------------------------------------------------------------------------------------
// Graph building (helpers in graph-build.h).

// F32 initializer, values uniform in [lo, hi); a fraction `zeros` of them set to 0.
static qs_tensor *init_f32z(qs_graph_t *g, const char *name, int rank, const int64_t *dims,
                            float lo, float hi, float zeros) {
    qs_tensor *t = init_raw(g, name, QS_DTYPE_F32, rank, dims);
    float *p = t->v.data;
    for (int64_t i = 0; i < t->v.numel; i++) {
        p[i] = frand(lo, hi);
        if (frand(0, 1) < zeros) p[i] = 0.0f;
    }
    return t;
}

// A c -> c conv (k x k, same padding) named `name`, writing `out`; sparse: 90% zero weights.
static qs_node *conv(qs_graph_t *g, const char *name, const char *out, qs_tensor *x, int64_t c,
                     int64_t k, bool bias, float zeros) {
    char wn[64], bn[64];
    snprintf(wn, sizeof wn, "%s_w", name);
    snprintf(bn, sizeof bn, "%s_b", name);
    qs_tensor *w = init_f32z(g, wn, 4, (int64_t[]){c, c, k, k}, -0.4f, 0.4f, zeros);
    qs_node *n = bias ? NODE(g, "Conv", name, out, x, w,
                             init_f32z(g, bn, 1, (int64_t[]){c}, -0.5f, 0.5f, 0.0f))
                      : NODE(g, "Conv", name, out, x, w);
    int64_t *pads = qs__arena_alloc(&g->arena, 4 * sizeof(int64_t));
    for (int i = 0; i < 4; i++) pads[i] = k / 2;
    n->attrs[n->n_attrs++] =
        (struct qs_attr){.name = "pads", .type = QS_ATTR_INTS, .n = 4, .ints = pads};
    return n;
}

// ---------------------------------------------------------------------------------------
// Sessions.

static qs_session_t *session(qs_graph_t *g, int batch, bool fuse) {
    struct qs_session_options so = qs_session_options_default();
    so.batch = batch;
    so.fuse_add = fuse;
    qs_session_t *s = NULL;
    struct qs_diag d = {{0}};
    enum qs_status st = qs_session_create(g, &so, &s, &d);
    if (st != QS_STATUS_OK) {
        fprintf(stderr, "session: %s\n", d.msg);
        exit(1);
    }
    return s;
}

static void fill_inputs(qs_session_t *s, uint32_t seed) {
    for (int i = 0;; i++) {
        struct qs_tensor_info info;
        if (qs_session_input_info(s, i, &info) != QS_STATUS_OK) break;
        int64_t n = qs__numel(info.rank, info.dims);
        float *p = qs_session_input_data(s, i);
        uint32_t save = rng;
        rng = seed + 77u * (uint32_t)i;
        for (int64_t k = 0; k < n; k++) p[k] = frand(-1.0f, 1.0f);
        rng = save;
    }
}

static void run_outputs(qs_session_t *s, uint32_t seed, outputs *o) {
    struct qs_diag d = {{0}};
    fill_inputs(s, seed);
    ASSERT_OK(qs_session_run(s, &d));
    grab(s, o);
}

// Executed nodes with a fused residual: their count, and the names of the residuals read.
static int fused_nodes(const qs_session_t *s, const char **sums, int max) {
    int n = 0;
    for (int e = 0; e < qs_session_exec_count(s); e++) {
        struct qs_prof_node pn;
        ASSERT_OK(qs_session_exec_info(s, e, &pn));
        bool fused = pn.fused_activation && !strncmp(pn.fused_activation, "Add", 3);
        ASSERT_EQ(fused, !strcmp(pn.op_type, "Conv") && pn.n_inputs == 4);
        if (!fused) continue;
        ASSERT_TRUE(pn.inputs[3].name && !pn.input_const[3] && pn.layer >= 0);
        if (n < max) sums[n] = pn.inputs[3].name;
        n++;
    }
    return n;
}

// What an observer saw: each tensor's name and a digest of its values.
typedef struct seen_list {
    int n;
    char name[128][64];
    uint64_t digest[128];
} seen_list;

static void watcher(void *user, const struct qs_tensor_info *info, const void *data) {
    seen_list *l = user;
    ASSERT_TRUE(l->n < 128);
    snprintf(l->name[l->n], sizeof l->name[0], "%s", info->name);
    size_t bytes = qs__numel(info->rank, info->dims) * qs_dtype_size(info->dtype);
    uint64_t h = 1469598103934665603ull;
    const unsigned char *b = data;
    for (size_t i = 0; i < bytes; i++) h = (h ^ b[i]) * 1099511628211ull;
    l->digest[l->n++] = h;
}

// Both saw the same tensors with the same bits (in any order).
static void same_seen(const seen_list *a, const seen_list *b) {
    ASSERT_EQ(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        bool found = false;
        for (int j = 0; j < b->n && !found; j++)
            found = !strcmp(a->name[i], b->name[j]) && a->digest[i] == b->digest[j];
        if (!found) fprintf(stderr, "observed '%s' differs\n", a->name[i]);
        ASSERT_TRUE(found);
    }
}

// Fused and unfused sessions of g agree (outputs within 1e-5), at batch 3, in plain,
// observed and profiled runs and with 2 threads; returns the number of fused nodes.
static int check_graph(qs_graph_t *g, const char *what) {
    qs_session_t *f = session(g, 3, true), *u = session(g, 3, false);
    const char *sums[8];
    int n_fused = fused_nodes(f, sums, 8);
    ASSERT_EQ(fused_nodes(u, sums, 0), 0);
    // Each fusion takes an Add (and maybe a Relu) along; the separate nodes kept for
    // observers fit in the memory they had.
    ASSERT_TRUE(qs_session_exec_count(f) <= qs_session_exec_count(u) - n_fused);
    ASSERT_TRUE(qs_session_arena_bytes(f) <= qs_session_arena_bytes(u));
    outputs a, b, c;
    run_outputs(u, 5, &a);
    run_outputs(f, 5, &b);
    compare(&a, &b, 1e-5, what);
    outputs_free(&b);
    // An observer sees every tensor an unfused run has, with the same bits (the group
    // runs as its separate nodes then), and the same outputs.
    static seen_list su, sf;
    su.n = sf.n = 0;
    qs_session_set_observer(u, watcher, &su);
    run_outputs(u, 5, &c);
    outputs_free(&c);
    qs_session_set_observer(f, watcher, &sf);
    run_outputs(f, 5, &b);
    same_seen(&su, &sf);
    compare(&a, &b, 1e-5, what);
    outputs_free(&b);
    // Profiled, with and without the observer.
    struct qs_diag d = {{0}};
    int64_t ns[64];
    ASSERT_TRUE(qs_session_exec_count(f) <= 64);
    sf.n = 0;
    fill_inputs(f, 5);
    ASSERT_OK(qs_session_run_profiled(f, ns, NULL, &d));
    same_seen(&su, &sf);
    qs_session_set_observer(f, NULL, NULL);
    fill_inputs(f, 5);
    ASSERT_OK(qs_session_run_profiled(f, ns, NULL, &d));
    grab(f, &b);
    compare(&a, &b, 1e-5, what);
    outputs_free(&b);
    qs_session_destroy(f);
    // Two threads.
    struct qs_session_options so = qs_session_options_default();
    so.batch = 3;
    so.threads = 2;
    ASSERT_OK(qs_session_create(g, &so, &f, &d));
    run_outputs(f, 5, &b);
    compare(&a, &b, 1e-5, what);
    outputs_free(&b);
    outputs_free(&a);
    qs_session_destroy(f);
    qs_session_destroy(u);
    return n_fused;
}

// ---------------------------------------------------------------------------------------

// Two ResNet blocks: x -> conv_a (Relu) -> conv_b + x -> Relu -> conv_c (Relu) -> conv_d,
// then Add(shortcut, conv_d) with the shortcut computed after conv_d -> Relu (graph output).
static qs_graph_t *blocks_graph(float zeros) {
    qs_graph_t *g = new_graph(13);
    qs_tensor *x = input(g, "x", 4, (int64_t[]){-1, 8, 6, 7});
    qs_node *ca = conv(g, "conv_a", "ya", x, 8, 3, true, zeros);
    ca->act = (struct qs_fused_act){QS_ACT_RELU, 0.0f, INFINITY};
    qs_tensor *yb = conv(g, "conv_b", "yb", ca->outputs[0], 8, 3, true, zeros)->outputs[0];
    qs_tensor *s1 = NODE(g, "Add", "add1", "s1", yb, x)->outputs[0];
    qs_tensor *r1 = NODE(g, "Relu", "relu1", "r1", s1)->outputs[0];
    qs_node *cc = conv(g, "conv_c", "yc", r1, 8, 1, false, zeros);
    cc->act = (struct qs_fused_act){QS_ACT_RELU, 0.0f, INFINITY};
    qs_tensor *yd = conv(g, "conv_d", "yd", cc->outputs[0], 8, 3, false, zeros)->outputs[0];
    qs_tensor *sc = NODE(g, "Sigmoid", "shortcut", "sc", r1)->outputs[0];
    qs_tensor *s2 = NODE(g, "Add", "add2", "s2", sc, yd)->outputs[0];  // residual first
    output(g, NODE(g, "Relu", "relu2", "out", s2)->outputs[0]);
    finish(g);
    return g;
}

static void test_blocks(void) {
    qs_graph_t *g = blocks_graph(0.0f);
    const int n_nodes = g->n_nodes;
    ASSERT_EQ(check_graph(g, "blocks"), 2);
    qs_session_t *s = session(g, 2, true);
    const char *sums[2];
    ASSERT_EQ(fused_nodes(s, sums, 2), 2);
    ASSERT_TRUE(!strcmp(sums[0], "x") && !strcmp(sums[1], "sc"));
    ASSERT_EQ(qs_session_exec_count(s), n_nodes - 4);
    for (int e = 0; e < qs_session_exec_count(s); e++) {
        struct qs_prof_node pn;
        ASSERT_OK(qs_session_exec_info(s, e, &pn));
        ASSERT_TRUE(strcmp(pn.op_type, "Add") && strcmp(pn.op_type, "Relu"));
        if (!strcmp(pn.name, "conv_b")) {
            ASSERT_TRUE(!strcmp(pn.fused_activation, "Add+Relu"));
            ASSERT_TRUE(!strcmp(pn.outputs[0].name, "r1") && pn.outputs[0].dims[0] == 2);
            ASSERT_TRUE(pn.inputs[3].dims[0] == 2 && pn.inputs[3].dims[3] == 7);
        }
        if (!strcmp(pn.name, "conv_d")) ASSERT_TRUE(!strcmp(pn.outputs[0].name, "out"));
    }
    // The residual "sc" is computed after conv_d: the fused node runs where the Add was.
    // Prefix reuse counts the residual as a live value: from every cut, the stored values
    // restored into another session that ran other data give the same output bits.
    qs_session_t *b = session(g, 2, true);
    struct qs_diag d = {{0}};
    const int n = qs_session_exec_count(s);
    outputs ref, got;
    run_outputs(s, 9, &ref);
    for (int c = 1; c < n; c++) {
        struct qs_session_span sa[16], sb[16];
        int la = qs__session_live(s, c, sa, 16);
        ASSERT_TRUE(la >= 1 && la <= 16);
        const struct qs__session_parts sp = qs__session_parts(s);
        if (sp.exec[c].n_in == 4) {  // the fused node reads the residual across the cut
            bool found = false;
            for (int i = 0; i < la; i++) found |= sa[i].data == sp.exec[c].in[3]->data;
            ASSERT_TRUE(found);
        }
        fill_inputs(s, 9);
        ASSERT_OK(qs__session_run_range(s, 0, c, &d));
        unsigned char *saved = spans_save(sa, la);
        fill_inputs(b, 10);
        ASSERT_OK(qs_session_run(b, &d));
        ASSERT_EQ(qs__session_live(b, c, sb, 16), la);
        spans_restore(sa, saved, sb, la);
        free(saved);
        ASSERT_OK(qs__session_run_range(b, c, n, &d));
        grab(b, &got);
        compare(&ref, &got, 0, "prefix reuse");
        outputs_free(&got);
    }
    outputs_free(&ref);
    qs_session_destroy(b);
    qs_session_destroy(s);

    // The graph keeps its nodes: the exported model has the Adds and Relus, every Conv
    // with at most 3 inputs (ONNX's Conv), and runs the same.
    char path[] = "/tmp/qs-fuse-add-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    ASSERT_EQ(g->n_nodes, n_nodes);
    ASSERT_OK(qs_graph_save_onnx(g, path, &d));
    qs_graph_t *back;
    ASSERT_OK(qs_graph_load_onnx(path, &back, &d));
    unlink(path);
    int adds = 0;
    for (int i = 0; i < back->n_nodes; i++) {
        adds += back->nodes[i]->op == QS_OP_ADD;
        if (back->nodes[i]->op == QS_OP_CONV) ASSERT_TRUE(back->nodes[i]->n_inputs <= 3);
    }
    ASSERT_EQ(adds, 2);
    ASSERT_EQ(check_graph(back, "exported blocks"), 2);
    qs_graph_destroy(back);
    qs_graph_destroy(g);

    // The same on the sparse kernels (no residual input: added after them).
    setenv("QS_SPMM", "always", 1);
    g = blocks_graph(0.9f);
    ASSERT_EQ(check_graph(g, "sparse blocks"), 2);
    qs_graph_destroy(g);
    unsetenv("QS_SPMM");
    printf("blocks: ok\n");
}

// What must not fuse.
static void test_not_fused(void) {
    qs_graph_t *g = new_graph(13);
    qs_tensor *x = input(g, "x", 4, (int64_t[]){-1, 4, 5, 5});
    // A Conv with its own activation: Relu(conv) + x != Relu(conv + x).
    qs_node *c1 = conv(g, "conv_act", "y1", x, 4, 3, true, 0.0f);
    c1->act = (struct qs_fused_act){QS_ACT_RELU, 0.0f, INFINITY};
    qs_tensor *s1 = NODE(g, "Add", "add_act", "s1", c1->outputs[0], x)->outputs[0];
    // A broadcasting Add: [N,4,1,1] + [N,4,5,5].
    qs_tensor *y2 = conv(g, "conv_bc", "y2", s1, 4, 3, true, 0.0f)->outputs[0];
    qs_tensor *gp = NODE(g, "GlobalAveragePool", "gap", "gp", x)->outputs[0];
    qs_tensor *s2 = NODE(g, "Add", "add_bc", "s2", y2, gp)->outputs[0];
    // A Conv output read twice (by the Add and a Relu).
    qs_tensor *y3 = conv(g, "conv_twice", "y3", s2, 4, 1, false, 0.0f)->outputs[0];
    qs_tensor *s3 = NODE(g, "Add", "add_twice", "s3", y3, s2)->outputs[0];
    qs_tensor *r3 = NODE(g, "Relu", "relu_twice", "r3", y3)->outputs[0];
    qs_tensor *m3 = NODE(g, "Mul", "mul", "m3", s3, r3)->outputs[0];
    // A Conv output that is a graph output.
    qs_tensor *y4 = conv(g, "conv_out", "y4", m3, 4, 3, true, 0.0f)->outputs[0];
    output(g, y4);
    qs_tensor *s4 = NODE(g, "Add", "add_out", "s4", y4, m3)->outputs[0];
    // A constant operand of the same shape (batch 1 only: the test runs at batch 1 here).
    qs_tensor *y5 = conv(g, "conv_const", "y5", s4, 4, 3, false, 0.0f)->outputs[0];
    qs_tensor *k5 = init_f32z(g, "k5", 4, (int64_t[]){1, 4, 5, 5}, -1, 1, 0.0f);
    qs_tensor *s5 = NODE(g, "Add", "add_const", "s5", y5, k5)->outputs[0];
    // Add(y, y): the residual is the Conv's own output.
    qs_tensor *y6 = conv(g, "conv_self", "y6", s5, 4, 3, false, 0.0f)->outputs[0];
    qs_tensor *s6 = NODE(g, "Add", "add_self", "s6", y6, y6)->outputs[0];
    // Two Convs into one Add: one of them takes it, the other's output is the residual;
    // the Relu after it is a graph output and still fused (it is what the node writes),
    // the Add's output also being one is not (it must exist): then only the Add fuses.
    qs_tensor *y7 = conv(g, "conv_p", "y7", s6, 4, 3, true, 0.0f)->outputs[0];
    qs_tensor *y8 = conv(g, "conv_q", "y8", s6, 4, 1, true, 0.0f)->outputs[0];
    qs_tensor *s7 = NODE(g, "Add", "add_two", "s7", y7, y8)->outputs[0];
    output(g, NODE(g, "Relu", "relu_two", "r7", s7)->outputs[0]);
    qs_tensor *y9 = conv(g, "conv_r", "y9", s6, 4, 3, true, 0.0f)->outputs[0];
    qs_tensor *s9 = NODE(g, "Add", "add_r", "s9", y9, s6)->outputs[0];
    output(g, s9);
    output(g, NODE(g, "Relu", "relu_r", "r9", s9)->outputs[0]);
    finish(g);
    qs_session_t *s = session(g, 1, true);
    int fused = 0, adds = 0, relus = 0;
    for (int e = 0; e < qs_session_exec_count(s); e++) {
        struct qs_prof_node pn;
        ASSERT_OK(qs_session_exec_info(s, e, &pn));
        adds += !strcmp(pn.op_type, "Add");
        relus += !strcmp(pn.op_type, "Relu");
        if (!pn.fused_activation || strncmp(pn.fused_activation, "Add", 3)) continue;
        fused++;
        if (!strcmp(pn.name, "conv_p") || !strcmp(pn.name, "conv_q")) {
            ASSERT_TRUE(!strcmp(pn.fused_activation, "Add+Relu"));
            ASSERT_TRUE(!strcmp(pn.inputs[3].name, strcmp(pn.name, "conv_p") ? "y7" : "y8"));
            ASSERT_TRUE(!strcmp(pn.outputs[0].name, "r7"));
        } else {
            ASSERT_TRUE(!strcmp(pn.name, "conv_r") && !strcmp(pn.fused_activation, "Add"));
            ASSERT_TRUE(!strcmp(pn.outputs[0].name, "s9"));
        }
    }
    ASSERT_EQ(fused, 2);
    ASSERT_EQ(adds, 6);
    ASSERT_EQ(relus, 2);  // relu_twice, relu_r
    qs_session_destroy(s);
    // Fused and unfused agree (batch 1: the constant operand has batch 1).
    qs_session_t *f = session(g, 1, true), *u = session(g, 1, false);
    outputs a, b;
    run_outputs(u, 3, &a);
    run_outputs(f, 3, &b);
    ASSERT_EQ(a.n, 4);
    compare(&a, &b, 1e-5, "not fused");
    outputs_free(&a);
    outputs_free(&b);
    qs_session_destroy(f);
    qs_session_destroy(u);
    qs_graph_destroy(g);
    printf("not fused: ok\n");
}

// A mixed int8/fp32 graph: the session runs its integer form, where fp32 Convs (also a
// weight-only int8 one) fuse as in fp32 graphs and int8 ones become QLinearConv. Calibration
// runs on a fused fp32 session (its observer sees the Conv outputs the int8 layers need).
static void test_mixed(void) {
    qs_graph_t *g = blocks_graph(0.0f);
    struct qs_diag d = {{0}};
    qs_calib_t *calib;
    ASSERT_OK(qs_calib_create(g, NULL, &calib, &d));
    qs_session_t *s = session(g, 4, true);
    ASSERT_EQ(fused_nodes(s, NULL, 0), 2);
    qs_calib_observe(calib, s);
    for (uint32_t r = 0; r < 3; r++) {
        fill_inputs(s, 100 + r);
        ASSERT_OK(qs_session_run(s, &d));
    }
    ASSERT_OK(qs_calib_status(calib, &d));
    qs_session_destroy(s);
    qs_quantizer_t *q;
    ASSERT_OK(qs_quantizer_create(g, calib, NULL, &q, &d));
    qs_policy_t *p;
    ASSERT_OK(qs_policy_create(&p));
    static const struct { const char *name; int w, a; } layers[] = {
        {"conv_a", 8, 8}, {"conv_b", 32, 32}, {"conv_c", 8, 8}, {"conv_d", 8, 32}};
    for (size_t i = 0; i < QS_COUNTOF(layers); i++) {
        struct qs_layer_policy lp = qs_layer_policy_default();
        lp.w_bits = layers[i].w;
        lp.a_bits = layers[i].a;
        ASSERT_OK(qs_policy_set(p, layers[i].name, &lp, &d));
    }
    ASSERT_OK(qs_quantizer_apply(q, p, &d));
    ASSERT_EQ(check_graph(g, "mixed"), 2);
    // All int8: nothing left to fuse.
    ASSERT_OK(qs_quantizer_apply(q, NULL, &d));
    ASSERT_EQ(check_graph(g, "int8"), 0);
    qs_policy_destroy(p);
    qs_quantizer_destroy(q);
    qs_calib_destroy(calib);
    qs_graph_destroy(g);
    printf("mixed: ok\n");
}

// Real models: every ResNet block of ResNet-20 (fixture: lut_tiny's residual block).
static void test_models(void) {
    const char *paths[2] = {qs_test_data("lut/lut_tiny.onnx"),
                            qs_test_shared("cifar10-resnet/cifar10_resnet20.onnx")};
    const int want[2] = {1, 9};
    for (int m = 0; m < 2; m++) {
        if (!paths[m] || access(paths[m], R_OK) != 0) {
            printf("model %d: skipped (missing)\n", m);
            continue;
        }
        qs_graph_t *g;
        struct qs_diag d = {{0}};
        ASSERT_OK(qs_graph_load_onnx(paths[m], &g, &d));
        ASSERT_OK(qs_graph_optimize(g, QS_PASS_DEFAULT, &d));
        ASSERT_EQ(check_graph(g, paths[m]), want[m]);
        qs_graph_destroy(g);
        printf("%s: ok\n", paths[m]);
    }
}

static void quiet_log(enum qs_log_level level, const char *msg, void *user) {
    (void)level, (void)msg, (void)user;
}

int main(void) {
    qs_set_log_callback(quiet_log, NULL, QS_LOG_WARN);
    test_blocks();
    test_not_fused();
    test_mixed();
    test_models();
    return 0;
}
