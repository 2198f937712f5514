// Graph passes: each pass on small graphs built here through the internal API (node counts
// before/after, rewired names, outputs unchanged), then the whole pipeline on the real
// models in shared/data (skipped when absent), including ResNet-20 and digits-cnn with
// BatchNormalization nodes inserted after every Conv/Gemm to exercise BN folding.
#include "ir/ir-impl.h"
#include "graph-build.h"
#include "ir/onnx/onnx-impl.h"
#include "test.h"

#include <math.h>

static void quiet_log(enum qs_log_level level, const char *msg, void *user) {
    (void)level, (void)msg, (void)user;
}

static int count_op(const qs_graph_t *g, enum qs_op op) {
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) c += g->nodes[i]->op == op;
    return c;
}

static const qs_node *producer(const qs_graph_t *g, const char *tensor) {
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i]->n_outputs; k++)
            if (g->nodes[i]->outputs[k] && !strcmp(g->nodes[i]->outputs[k]->name, tensor))
                return g->nodes[i];
    return NULL;
}

static bool have_ops(const enum qs_op *ops, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!qs__op_def(ops[i])) {
            printf("  (op %s not available)\n", qs__op_name(ops[i]));
            return false;
        }
    return true;
}
#define NEED_OPS(...)                                                                  \
    have_ops((const enum qs_op[]){__VA_ARGS__}, QS_COUNTOF(((enum qs_op[]){__VA_ARGS__})))

// ---------------------------------------------------------------------------------------
// Running graphs.

// Runs g at `batch` with inputs from `vals` (NULL: deterministic noise for F32 inputs).
static void run(qs_graph_t *g, int batch, const qs_tensor *vals, outputs *out) {
    struct qs_session_options so = qs_session_options_default();
    so.batch = batch;
    qs_session_t *s = NULL;
    struct qs_diag diag = {{0}};
    if (qs_session_create(g, &so, &s, &diag) != QS_STATUS_OK) {
        fprintf(stderr, "session: %s\n", diag.msg);
        exit(1);
    }
    for (int i = 0; i < qs_graph_input_count(g); i++) {
        struct qs_tensor_info info;
        ASSERT_OK(qs_session_input_info(s, i, &info));
        int64_t n = qs__numel(info.rank, info.dims);
        void *p = qs_session_input_data(s, i);
        if (vals) {
            ASSERT_EQ(qs__view_bytes(&vals[i].v), (size_t)n * qs_dtype_size(info.dtype));
            memcpy(p, vals[i].v.data, qs__view_bytes(&vals[i].v));
        } else {
            ASSERT_EQ(info.dtype, QS_DTYPE_F32);
            uint32_t save = rng;
            rng = 777u + (uint32_t)i;
            for (int64_t k = 0; k < n; k++) ((float *)p)[k] = frand(-1.0f, 1.0f);
            rng = save;
        }
    }
    if (qs_session_run(s, &diag) != QS_STATUS_OK) {
        fprintf(stderr, "run: %s\n", diag.msg);
        exit(1);
    }
    grab(s, out);
    ASSERT_EQ(out->n, qs_graph_output_count(g));
    qs_session_destroy(s);
}

// Runs g, optimizes it with `passes`, runs again and compares.
static void check_pass(qs_graph_t *g, uint32_t passes, int batch, double rtol, const char *what) {
    outputs before, after;
    run(g, batch, NULL, &before);
    struct qs_diag diag = {{0}};
    if (qs_graph_optimize(g, passes, &diag) != QS_STATUS_OK) {
        fprintf(stderr, "%s: optimize: %s\n", what, diag.msg);
        exit(1);
    }
    run(g, batch, NULL, &after);
    compare(&before, &after, rtol, what);
    outputs_free(&before);
    outputs_free(&after);
}

// ---------------------------------------------------------------------------------------
// 1. Constant folding with PyTorch-style Shape -> Gather -> Unsqueeze -> Concat chains.

// y = Reshape(x, [dim0(x), dim1(x), -1]) * (k1 + k2). batch_decl: declared dim 0.
static qs_graph_t *shape_chain_graph(int64_t batch_decl) {
    qs_graph_t *g = new_graph(13);
    int64_t xd[4] = {batch_decl, 3, 4, 4};
    qs_tensor *x = input(g, "x", 4, xd);
    qs_tensor *s = NODE(g, "Shape", "shape", "s", x)->outputs[0];
    qs_tensor *i0 = init_i64(g, "i0", 0, 1, (int64_t[]){0});
    qs_tensor *i1 = init_i64(g, "i1", 0, 1, (int64_t[]){1});
    qs_tensor *b = NODE(g, "Gather", "gather_b", "b", s, i0)->outputs[0];
    qs_tensor *c = NODE(g, "Gather", "gather_c", "c", s, i1)->outputs[0];
    qs_tensor *ax = init_i64(g, "axes", 1, 1, (int64_t[]){0});
    qs_tensor *bu = NODE(g, "Unsqueeze", "unsq_b", "bu", b, ax)->outputs[0];
    qs_tensor *cu = NODE(g, "Unsqueeze", "unsq_c", "cu", c, ax)->outputs[0];
    qs_tensor *m1 = init_i64(g, "minus1", 1, 1, (int64_t[]){-1});
    qs_node *cat = NODE(g, "Concat", "concat", "shp", bu, cu, m1);
    attr_i(cat, "axis", 0);
    qs_tensor *r = NODE(g, "Reshape", "reshape", "r", x, cat->outputs[0])->outputs[0];
    qs_tensor *k1 = init_f32(g, "k1", 1, (int64_t[]){1}, 1, 2);
    qs_tensor *k2 = init_f32(g, "k2", 1, (int64_t[]){1}, 1, 2);
    qs_tensor *k = NODE(g, "Add", "addk", "k", k1, k2)->outputs[0];
    output(g, NODE(g, "Mul", "mul", "y", r, k)->outputs[0]);
    finish(g);
    return g;
}

static void test_fold_constants(void) {
    if (!NEED_OPS(QS_OP_SHAPE, QS_OP_GATHER, QS_OP_UNSQUEEZE, QS_OP_CONCAT, QS_OP_RESHAPE,
                  QS_OP_ADD, QS_OP_MUL)) {
        printf("fold constants: skipped\n");
        return;
    }
    struct qs_diag diag = {{0}};
    // Symbolic batch: the channel chain and k fold, the batch chain must stay.
    qs_graph_t *g = shape_chain_graph(-1);
    ASSERT_EQ(g->n_nodes, 9);
    outputs b3, a3;
    run(g, 3, NULL, &b3);
    check_pass(g, QS_PASS_FOLD_CONSTANTS, 1, 0, "fold (symbolic batch)");
    ASSERT_EQ(g->n_nodes, 6);  // Shape, Gather b, Unsqueeze b, Concat, Reshape, Mul
    ASSERT_TRUE(producer(g, "b") && producer(g, "bu") && producer(g, "shp"));
    ASSERT_TRUE(!producer(g, "cu") && !producer(g, "k"));
    const qs_tensor *cu = qs__graph_find(g, "cu");
    ASSERT_TRUE(cu && cu->is_initializer && cu->owns_data && ((int64_t *)cu->v.data)[0] == 3);
    ASSERT_TRUE(!qs__graph_find(g, "i1") && !qs__graph_find(g, "k1"));  // no longer used
    run(g, 3, NULL, &a3);  // still follows the batch
    compare(&b3, &a3, 0, "fold (symbolic batch) at batch 3");
    ASSERT_EQ(a3.dims[0][0], 3);
    outputs_free(&b3);
    outputs_free(&a3);
    qs_graph_destroy(g);

    // Batch declared 1: sessions rebind it, so the batch chain stays too.
    g = shape_chain_graph(1);
    check_pass(g, QS_PASS_FOLD_CONSTANTS, 1, 0, "fold (batch 1)");
    ASSERT_EQ(g->n_nodes, 6);
    run(g, 2, NULL, &a3);
    ASSERT_EQ(a3.dims[0][0], 2);
    outputs_free(&a3);
    qs_graph_destroy(g);

    // Fixed batch: the whole chain is a constant of the model.
    g = shape_chain_graph(4);
    check_pass(g, QS_PASS_FOLD_CONSTANTS, 0, 0, "fold (fixed batch)");
    ASSERT_EQ(g->n_nodes, 2);  // Reshape, Mul
    ASSERT_EQ(count_op(g, QS_OP_RESHAPE), 1);
    ASSERT_TRUE(qs__graph_find(g, "shp")->is_initializer);
    // A second run finds nothing more to do.
    ASSERT_OK(qs_graph_optimize(g, QS_PASS_FOLD_CONSTANTS, &diag));
    ASSERT_EQ(g->n_nodes, 2);
    qs_graph_destroy(g);
    printf("fold constants: ok\n");
}

// ---------------------------------------------------------------------------------------
// 2. Identity / Dropout removal.

static void test_remove_identity(void) {
    if (!NEED_OPS(QS_OP_IDENTITY, QS_OP_DROPOUT, QS_OP_RELU, QS_OP_SIGMOID)) {
        printf("remove identity: skipped\n");
        return;
    }
    qs_graph_t *g = new_graph(13);
    qs_tensor *x = input(g, "x", 2, (int64_t[]){-1, 8});
    qs_tensor *a = NODE(g, "Identity", "id1", "a", x)->outputs[0];
    qs_tensor *r = NODE(g, "Relu", "relu", "r", a)->outputs[0];
    qs_node *drop = NODE(g, "Dropout", "drop", "d", r);
    output(g, drop->outputs[0]);  // the producer (Relu) must write "d" afterwards
    output(g, NODE(g, "Identity", "id_io", "x2", x)->outputs[0]);  // input -> output: kept
    qs_tensor *s = NODE(g, "Sigmoid", "sig", "s", r)->outputs[0];
    qs_tensor *i2 = NODE(g, "Identity", "id2", "i2", s)->outputs[0];
    qs_tensor *i3 = NODE(g, "Identity", "id3", "i3", i2)->outputs[0];  // chain into an output
    output(g, i3);
    finish(g);
    ASSERT_EQ(g->n_nodes, 7);
    check_pass(g, QS_PASS_REMOVE_IDENTITY, 2, 0, "remove identity");
    ASSERT_EQ(g->n_nodes, 3);  // Relu, Identity(x -> x2), Sigmoid
    ASSERT_EQ(count_op(g, QS_OP_DROPOUT), 0);
    ASSERT_EQ(count_op(g, QS_OP_IDENTITY), 1);
    ASSERT_TRUE(strcmp(producer(g, "d")->name, "relu") == 0);
    ASSERT_TRUE(strcmp(producer(g, "i3")->name, "sig") == 0);
    struct qs_tensor_info info;
    ASSERT_OK(qs_graph_output_info(g, 0, &info));
    ASSERT_TRUE(strcmp(info.name, "d") == 0);
    ASSERT_OK(qs_graph_output_info(g, 1, &info));
    ASSERT_TRUE(strcmp(info.name, "x2") == 0);
    ASSERT_OK(qs_graph_output_info(g, 2, &info));
    ASSERT_TRUE(strcmp(info.name, "i3") == 0);
    ASSERT_TRUE(!qs__graph_find(g, "a") && !qs__graph_find(g, "r"));
    qs_graph_destroy(g);

    // A Dropout whose mask is used is not an identity.
    g = new_graph(13);
    x = input(g, "x", 2, (int64_t[]){1, 8});
    qs_node *dn = qs__graph_add_node(g, "drop", "Dropout", 1, 2);
    dn->inputs[0] = x;
    dn->outputs[0] = qs__graph_add_tensor(g, "d");
    dn->outputs[1] = qs__graph_add_tensor(g, "mask");
    output(g, dn->outputs[0]);
    output(g, dn->outputs[1]);
    finish(g);
    ASSERT_OK(qs_graph_optimize(g, QS_PASS_REMOVE_IDENTITY, NULL));
    ASSERT_EQ(g->n_nodes, 1);
    qs_graph_destroy(g);
    printf("remove identity: ok\n");
}

// ---------------------------------------------------------------------------------------
// 3. BatchNormalization folding.

static qs_node *batchnorm(qs_graph_t *g, const char *name, qs_tensor *x, int64_t c,
                          const char *out) {
    char n1[64], n2[64], n3[64], n4[64];
    snprintf(n1, sizeof n1, "%s.gamma", name);
    snprintf(n2, sizeof n2, "%s.beta", name);
    snprintf(n3, sizeof n3, "%s.mean", name);
    snprintf(n4, sizeof n4, "%s.var", name);
    int64_t d[1] = {c};
    qs_node *bn = NODE(g, "BatchNormalization", name, out, x, init_f32(g, n1, 1, d, 0.5f, 1.5f),
                       init_f32(g, n2, 1, d, -0.2f, 0.2f), init_f32(g, n3, 1, d, -0.2f, 0.2f),
                       init_f32(g, n4, 1, d, 0.5f, 1.5f));
    attr_f(bn, "epsilon", 1e-3f);
    return bn;
}

static void test_fold_batchnorm(void) {
    if (!NEED_OPS(QS_OP_CONV, QS_OP_GEMM, QS_OP_BATCHNORM, QS_OP_RELU)) {
        printf("fold batchnorm: skipped\n");
        return;
    }
    qs_graph_t *g = new_graph(13);
    qs_tensor *x = input(g, "x", 4, (int64_t[]){-1, 3, 8, 8});
    qs_tensor *w1 = init_f32(g, "w1", 4, (int64_t[]){4, 3, 3, 3}, -0.5f, 0.5f);
    qs_tensor *b1 = init_f32(g, "b1", 1, (int64_t[]){4}, -0.5f, 0.5f);
    qs_node *c1 = NODE(g, "Conv", "conv1", "c1", x, w1, b1);
    attr_ints(g, c1, "pads", 4, (int64_t[]){1, 1, 1, 1});
    qs_tensor *y1 = batchnorm(g, "bn1", c1->outputs[0], 4, "y1")->outputs[0];
    output(g, NODE(g, "Relu", "relu1", "r1", y1)->outputs[0]);
    // No bias; grouped; the BN output is a graph output (its name must survive).
    qs_tensor *w2 = init_f32(g, "w2", 4, (int64_t[]){6, 1, 1, 1}, -1, 1);
    qs_node *c2 = NODE(g, "Conv", "conv2", "c2", x, w2);
    attr_i(c2, "group", 3);
    output(g, batchnorm(g, "bn2", c2->outputs[0], 6, "y2")->outputs[0]);
    // conv3 shares w1/b1 and has no BN: its output must not change.
    output(g, NODE(g, "Conv", "conv3", "y3", x, w1, b1)->outputs[0]);
    // A Conv whose output has a second reader is left alone.
    qs_tensor *w4 = init_f32(g, "w4", 4, (int64_t[]){6, 3, 1, 1}, -1, 1);
    qs_tensor *c4 = NODE(g, "Conv", "conv4", "c4", x, w4)->outputs[0];
    output(g, batchnorm(g, "bn4", c4, 6, "y4")->outputs[0]);
    output(g, c4);
    finish(g);
    ASSERT_EQ(g->n_nodes, 8);
    check_pass(g, QS_PASS_FOLD_BATCHNORM, 2, 1e-5, "fold batchnorm (conv)");
    ASSERT_EQ(g->n_nodes, 6);
    ASSERT_EQ(count_op(g, QS_OP_BATCHNORM), 1);
    const qs_node *p = producer(g, "y1");
    ASSERT_TRUE(p && strcmp(p->name, "conv1") == 0 && p->inputs[1] != qs__graph_find(g, "w1"));
    p = producer(g, "y2");
    ASSERT_TRUE(p && strcmp(p->name, "conv2") == 0 && p->n_inputs == 3 && p->inputs[2]);
    p = producer(g, "y3");
    ASSERT_TRUE(p->inputs[1] == qs__graph_find(g, "w1") && p->inputs[2] == qs__graph_find(g, "b1"));
    ASSERT_TRUE(!qs__graph_find(g, "c1") && !qs__graph_find(g, "bn1.gamma"));
    qs_graph_destroy(g);

    // Gemm: transB 0 with a bias, transB 1 without (and alpha, beta != 1).
    g = new_graph(13);
    x = input(g, "x", 2, (int64_t[]){-1, 6});
    qs_node *g1 = NODE(g, "Gemm", "gemm1", "g1", x, init_f32(g, "wa", 2, (int64_t[]){6, 5}, -1, 1),
                       init_f32(g, "ca", 1, (int64_t[]){5}, -1, 1));
    output(g, batchnorm(g, "bna", g1->outputs[0], 5, "ya")->outputs[0]);
    qs_node *g2 = NODE(g, "Gemm", "gemm2", "g2", x, init_f32(g, "wb", 2, (int64_t[]){7, 6}, -1, 1));
    attr_i(g2, "transB", 1);
    attr_f(g2, "alpha", 0.5f);
    attr_f(g2, "beta", 2.0f);
    output(g, batchnorm(g, "bnb", g2->outputs[0], 7, "yb")->outputs[0]);
    qs_node *g3 = NODE(g, "Gemm", "gemm3", "g3", x, init_f32(g, "wc", 2, (int64_t[]){6, 4}, -1, 1),
                       init_f32(g, "cc", 2, (int64_t[]){1, 4}, -1, 1));
    attr_f(g3, "beta", 0.5f);
    output(g, batchnorm(g, "bnc", g3->outputs[0], 4, "yc")->outputs[0]);
    finish(g);
    check_pass(g, QS_PASS_FOLD_BATCHNORM, 3, 1e-5, "fold batchnorm (gemm)");
    ASSERT_EQ(g->n_nodes, 3);
    ASSERT_EQ(count_op(g, QS_OP_BATCHNORM), 0);
    qs_graph_destroy(g);
    printf("fold batchnorm: ok\n");
}

// ---------------------------------------------------------------------------------------
// 4. Activation fusion.

static void test_fuse_activation(void) {
    if (!NEED_OPS(QS_OP_CONV, QS_OP_GEMM, QS_OP_MATMUL, QS_OP_RELU, QS_OP_CLIP, QS_OP_ADD,
                  QS_OP_GLOBALAVERAGEPOOL, QS_OP_FLATTEN)) {
        printf("fuse activation: skipped\n");
        return;
    }
    qs_graph_t *g = new_graph(13);
    qs_tensor *x = input(g, "x", 4, (int64_t[]){-1, 3, 8, 8});
    qs_node *c1 = NODE(g, "Conv", "conv1", "c1", x,
                       init_f32(g, "w1", 4, (int64_t[]){4, 3, 3, 3}, -0.5f, 0.5f),
                       init_f32(g, "b1", 1, (int64_t[]){4}, -0.5f, 0.5f));
    attr_ints(g, c1, "pads", 4, (int64_t[]){1, 1, 1, 1});
    qs_tensor *r1 = NODE(g, "Relu", "relu1", "r1", c1->outputs[0])->outputs[0];
    qs_tensor *c2 = NODE(g, "Conv", "conv2", "c2", r1,
                         init_f32(g, "w2", 4, (int64_t[]){4, 4, 1, 1}, -1, 1))->outputs[0];
    qs_tensor *r2 = NODE(g, "Clip", "clip2", "r2", c2, init_f32_scalar(g, "lo", 0.0f),
                         init_f32_scalar(g, "hi", 0.25f))->outputs[0];
    // conv3's output is read twice: not fused.
    qs_tensor *c3 = NODE(g, "Conv", "conv3", "c3", r2,
                         init_f32(g, "w3", 4, (int64_t[]){4, 4, 1, 1}, -1, 1))->outputs[0];
    qs_tensor *r3 = NODE(g, "Relu", "relu3", "r3", c3)->outputs[0];
    qs_tensor *s3 = NODE(g, "Add", "add3", "s3", r3, c3)->outputs[0];
    qs_tensor *gp = NODE(g, "GlobalAveragePool", "gap", "gp", s3)->outputs[0];
    qs_tensor *fl = NODE(g, "Flatten", "flat", "fl", gp)->outputs[0];
    qs_tensor *gm = NODE(g, "Gemm", "fc", "gm", fl,
                         init_f32(g, "wf", 2, (int64_t[]){4, 5}, -1, 1))->outputs[0];
    output(g, NODE(g, "Relu", "relu_out", "logits", gm)->outputs[0]);  // graph output name
    // MatMul -> Clip with only a max; a Clip without bounds.
    qs_tensor *mm = NODE(g, "MatMul", "mm", "mmo", fl,
                         init_f32(g, "wm", 2, (int64_t[]){4, 3}, -1, 1))->outputs[0];
    qs_node *clip = qs__graph_add_node(g, "clip_max", "Clip", 3, 1);
    clip->inputs[0] = mm;
    clip->inputs[2] = init_f32_scalar(g, "hi2", 0.1f);
    clip->outputs[0] = qs__graph_add_tensor(g, "mclip");
    output(g, clip->outputs[0]);
    // A Relu after a graph-output Conv is not fused (the Conv output must stay visible).
    qs_tensor *c5 = NODE(g, "Conv", "conv5", "c5", x,
                         init_f32(g, "w5", 4, (int64_t[]){2, 3, 1, 1}, -1, 1))->outputs[0];
    output(g, c5);
    output(g, NODE(g, "Relu", "relu5", "r5", c5)->outputs[0]);
    finish(g);
    ASSERT_EQ(g->n_nodes, 15);
    check_pass(g, QS_PASS_FUSE_ACTIVATION, 2, 0, "fuse activation");
    ASSERT_EQ(g->n_nodes, 11);
    const qs_node *p = producer(g, "r1");
    ASSERT_TRUE(p && p->op == QS_OP_CONV && p->act.kind == QS_ACT_RELU);
    p = producer(g, "r2");
    ASSERT_TRUE(p && p->op == QS_OP_CONV && p->act.kind == QS_ACT_CLIP);
    ASSERT_TRUE(p->act.lo == 0.0f && p->act.hi == 0.25f);
    ASSERT_TRUE(producer(g, "c3")->act.kind == QS_ACT_NONE);
    p = producer(g, "logits");
    ASSERT_TRUE(p && p->op == QS_OP_GEMM && p->act.kind == QS_ACT_RELU);
    p = producer(g, "mclip");
    ASSERT_TRUE(p && p->op == QS_OP_MATMUL && p->act.kind == QS_ACT_CLIP);
    ASSERT_TRUE(isinf(p->act.lo) && p->act.lo < 0 && p->act.hi == 0.1f);
    ASSERT_TRUE(producer(g, "c5")->act.kind == QS_ACT_NONE);
    struct qs_node_info ni;
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i]->name, "conv1")) {
            ASSERT_OK(qs_graph_node_info(g, i, &ni));
            ASSERT_TRUE(ni.fused_activation && !strcmp(ni.fused_activation, "Relu"));
        }
    qs_graph_destroy(g);

    // Opset 10: Clip bounds are attributes.
    g = new_graph(10);
    x = input(g, "x", 2, (int64_t[]){-1, 6});
    gm = NODE(g, "Gemm", "fc", "gm", x, init_f32(g, "wf", 2, (int64_t[]){6, 5}, -1, 1))->outputs[0];
    qs_node *c = NODE(g, "Clip", "clip", "y", gm);
    attr_f(c, "min", -0.5f);
    attr_f(c, "max", 0.5f);
    output(g, c->outputs[0]);
    finish(g);
    check_pass(g, QS_PASS_FUSE_ACTIVATION, 2, 0, "fuse activation (opset 10)");
    ASSERT_EQ(g->n_nodes, 1);
    ASSERT_TRUE(g->nodes[0]->act.kind == QS_ACT_CLIP && g->nodes[0]->act.lo == -0.5f);
    qs_graph_destroy(g);
    printf("fuse activation: ok\n");
}

// ---------------------------------------------------------------------------------------
// 5. Dead-node elimination, and the default pipeline on one graph.

static void test_eliminate_dead(void) {
    if (!NEED_OPS(QS_OP_RELU, QS_OP_SIGMOID, QS_OP_ADD)) {
        printf("eliminate dead: skipped\n");
        return;
    }
    qs_graph_t *g = new_graph(13);
    qs_tensor *x = input(g, "x", 2, (int64_t[]){-1, 4});
    output(g, NODE(g, "Relu", "relu", "r", x)->outputs[0]);
    qs_tensor *s = NODE(g, "Sigmoid", "sig", "s", x)->outputs[0];
    NODE(g, "Add", "add", "a", s, init_f32(g, "bias", 1, (int64_t[]){4}, 0, 1));
    init_f32(g, "junk", 1, (int64_t[]){16}, 0, 1);
    finish(g);
    ASSERT_EQ(g->n_nodes, 3);
    check_pass(g, QS_PASS_ELIMINATE_DEAD, 2, 0, "eliminate dead");
    ASSERT_EQ(g->n_nodes, 1);
    ASSERT_TRUE(!qs__graph_find(g, "junk") && !qs__graph_find(g, "bias"));
    ASSERT_TRUE(!qs__graph_find(g, "s"));
    ASSERT_TRUE(qs__graph_find(g, "x"));
    ASSERT_EQ(qs_graph_optimize(g, 1u << 20, NULL), QS_STATUS_INVALID_ARG);
    qs_graph_destroy(g);
    printf("eliminate dead: ok\n");
}

// Conv -> Identity -> BN -> Relu -> Reshape(Constant shape), and a dead Shape branch.
static qs_graph_t *pipeline_graph(void) {
    rng = 99;
    qs_graph_t *g = new_graph(13);
    qs_tensor *x = input(g, "x", 4, (int64_t[]){-1, 3, 6, 6});
    qs_tensor *c = NODE(g, "Conv", "conv", "c", x,
                        init_f32(g, "w", 4, (int64_t[]){4, 3, 3, 3}, -0.5f, 0.5f))->outputs[0];
    qs_tensor *i = NODE(g, "Identity", "id", "i", c)->outputs[0];
    qs_tensor *b = batchnorm(g, "bn", i, 4, "b")->outputs[0];
    qs_tensor *r = NODE(g, "Relu", "relu", "r", b)->outputs[0];
    qs_node *k = node(g, "Constant", "const", 0, NULL, "shape");
    qs_tensor *kt = qs__arena_alloc(&g->arena, sizeof *kt);
    kt->name = "value";
    qs__view_set_shape(&kt->v, QS_DTYPE_I64, 1, (int64_t[]){2});
    kt->v.data = qs__aligned_alloc(16);
    ((int64_t *)kt->v.data)[0] = 0, ((int64_t *)kt->v.data)[1] = -1;
    kt->v.is_const = true;
    kt->owns_data = true;
    k->attrs[k->n_attrs++] = (struct qs_attr){.name = "value", .type = QS_ATTR_TENSOR, .t = kt};
    output(g, NODE(g, "Reshape", "reshape", "y", r, k->outputs[0])->outputs[0]);
    qs_tensor *sh = NODE(g, "Shape", "shape_dead", "sh", r)->outputs[0];
    NODE(g, "Gather", "gather_dead", "gd", sh, init_i64(g, "gi", 0, 1, (int64_t[]){1}));
    finish(g);
    return g;
}

static void test_pipeline(void) {
    if (!NEED_OPS(QS_OP_CONV, QS_OP_BATCHNORM, QS_OP_RELU, QS_OP_IDENTITY, QS_OP_CONSTANT,
                  QS_OP_RESHAPE, QS_OP_SHAPE, QS_OP_GATHER)) {
        printf("pipeline: skipped\n");
        return;
    }
    qs_graph_t *g = pipeline_graph();
    ASSERT_EQ(g->n_nodes, 8);
    check_pass(g, QS_PASS_DEFAULT, 2, 1e-5, "default pipeline");
    ASSERT_EQ(g->n_nodes, 2);  // Conv(+BN, Relu fused) -> Reshape
    ASSERT_TRUE(g->nodes[0]->op == QS_OP_CONV && g->nodes[0]->act.kind == QS_ACT_RELU);
    ASSERT_TRUE(qs__graph_find(g, "shape")->is_initializer);
    qs_graph_destroy(g);
    printf("pipeline: ok\n");
}

// Allocation n fails, for n = 1, 2, ... until optimize succeeds: every failure must be
// QS_STATUS_NOMEM, leave a graph that still runs and gives the same outputs, and leak
// nothing (checked by ASan builds).
static long oom_countdown = -1;
static void *oom_malloc(void *ctx, size_t n) {
    (void)ctx;
    if (oom_countdown == 0) return NULL;
    if (oom_countdown > 0) oom_countdown--;
    return malloc(n);
}
static void *oom_realloc(void *ctx, void *p, size_t n) {
    (void)ctx;
    if (oom_countdown == 0) return NULL;
    if (oom_countdown > 0) oom_countdown--;
    return realloc(p, n);
}
static void oom_free(void *ctx, void *p) {
    (void)ctx;
    free(p);
}

static void test_oom(void) {
    if (!NEED_OPS(QS_OP_CONV, QS_OP_BATCHNORM, QS_OP_RELU, QS_OP_IDENTITY, QS_OP_CONSTANT,
                  QS_OP_RESHAPE, QS_OP_SHAPE, QS_OP_GATHER)) {
        printf("out of memory: skipped\n");
        return;
    }
    const struct qs_allocator oom = {oom_malloc, oom_realloc, oom_free, NULL};
    qs_set_allocator(&oom);
    qs_graph_t *g = pipeline_graph();
    outputs ref;
    run(g, 2, NULL, &ref);
    qs_graph_destroy(g);
    int failures = 0;
    for (long n = 0;; n++) {
        g = pipeline_graph();
        oom_countdown = n;
        enum qs_status st = qs_graph_optimize(g, QS_PASS_DEFAULT, NULL);
        oom_countdown = -1;
        if (st == QS_STATUS_OK) {
            qs_graph_destroy(g);
            break;
        }
        ASSERT_EQ(st, QS_STATUS_NOMEM);
        failures++;
        outputs got;
        run(g, 2, NULL, &got);
        compare(&ref, &got, 1e-5, "graph after a failed optimize");
        outputs_free(&got);
        qs_graph_destroy(g);
    }
    outputs_free(&ref);
    qs_set_allocator(NULL);
    printf("out of memory: %d allocation failures handled\n", failures);
}

// ---------------------------------------------------------------------------------------
// Real models.

static bool read_pb(const char *path, qs_tensor *t) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, got, buf);
    free(buf);
    if (!tp) return false;
    memset(t, 0, sizeof *t);
    struct qs_diag diag;
    enum qs_status st = qs__tensor_from_proto(tp, NULL, t, &diag);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return st == QS_STATUS_OK;
}

// Inserts a BatchNormalization with random statistics after every Conv/Gemm whose output
// has one reader (so folding applies), keeping tensor names of the original.
static int insert_batchnorms(qs_graph_t *g) {
    int added = 0, n0 = g->n_nodes;
    for (int i = 0; i < n0; i++) {
        qs_node *p = g->nodes[i];
        if (p->op != QS_OP_CONV && p->op != QS_OP_GEMM) continue;
        qs_tensor *y = p->outputs[0];
        if (y->is_output) continue;
        char name[256];
        snprintf(name, sizeof name, "%s_pre_bn", y->name);
        qs_tensor *pre = qs__graph_add_tensor(g, name);
        p->outputs[0] = pre;
        snprintf(name, sizeof name, "bn_after_%s", p->name);
        qs_node *bn = qs__graph_add_node(g, name, "BatchNormalization", 5, 1);
        bn->inputs[0] = pre;
        bn->outputs[0] = y;
        int64_t c = y->v.dims[1];
        const char *suffix[4] = {"gamma", "beta", "mean", "var"};
        const float lo[4] = {0.8f, -0.05f, -0.05f, 0.8f}, hi[4] = {1.2f, 0.05f, 0.05f, 1.2f};
        for (int k = 0; k < 4; k++) {
            char tn[300];
            snprintf(tn, sizeof tn, "%s.%s", name, suffix[k]);
            bn->inputs[1 + k] = init_f32(g, tn, 1, (int64_t[]){c}, lo[k], hi[k]);
        }
        added++;
    }
    finish(g);
    return added;
}

static void test_real_models(void) {
    static const struct {
        const char *model, *set;
        int batch, bn;  // bn: insert BatchNorms first
        uint32_t passes;
    } cases[] = {
        {"mnist-8/mnist-8.onnx", "mnist-8/test_data_set_0", 0, 0, QS_PASS_DEFAULT},
        {"cifar10-resnet/cifar10_resnet20.onnx", "cifar10-resnet/resnet20_test_data_set_0", 8, 0,
         QS_PASS_DEFAULT},
        {"cifar10-resnet/cifar10_resnet20.onnx", "cifar10-resnet/resnet20_test_data_set_0", 8, 1,
         QS_PASS_FOLD_BATCHNORM},
        {"cifar10-resnet/cifar10_resnet20.onnx", "cifar10-resnet/resnet20_test_data_set_0", 8, 1,
         QS_PASS_DEFAULT},
        {"squeezenet1.1/squeezenet1.1_fp32.onnx", NULL, 0, 0, QS_PASS_DEFAULT},
        {"sst2-tiny-transformer/sst2_tiny_transformer.onnx",
         "sst2-tiny-transformer/test_data_set_0", 8, 0, QS_PASS_DEFAULT},
        {"digits-cnn/digits_cnn.onnx", NULL, 4, 1, QS_PASS_DEFAULT},
        {"mnist-tiny-cnn/mnist_tiny_14x14.onnx", NULL, 0, 0, QS_PASS_DEFAULT},
        // Weights made by ConstantOfShape nodes: folding makes them initializers, then the
        // 49 BatchNorms fold into the Convs.
        {"onnx-light-models/light_shufflenet/model.onnx",
         "onnx-light-models/light_shufflenet/test_data_set_0", 0, 0, QS_PASS_DEFAULT},
    };
    int ran = 0;
    for (size_t c = 0; c < QS_COUNTOF(cases); c++) {
        const char *path = qs_test_shared(cases[c].model);
        if (!path) continue;
        struct qs_diag diag = {{0}};
        qs_graph_t *g = NULL;
        if (qs_graph_load_onnx(path, &g, &diag) != QS_STATUS_OK) {
            printf("%s: not loadable yet (%s), skipped\n", cases[c].model, diag.msg);
            continue;
        }
        qs_tensor vals[4];
        memset(vals, 0, sizeof vals);
        int n_in = qs_graph_input_count(g);
        const char *set = cases[c].set ? qs_test_shared(cases[c].set) : NULL;
        bool have_vals = set != NULL && n_in <= 4;
        for (int i = 0; have_vals && i < n_in; i++) {
            char p[4096];
            snprintf(p, sizeof p, "%s/input_%d.pb", set, i);
            have_vals = read_pb(p, &vals[i]);
        }
        int bns = cases[c].bn ? insert_batchnorms(g) : 0;
        int n_before = g->n_nodes;
        outputs before, after;
        run(g, cases[c].batch, have_vals ? vals : NULL, &before);
        if (qs_graph_optimize(g, cases[c].passes, &diag) != QS_STATUS_OK) {
            fprintf(stderr, "%s: optimize: %s\n", cases[c].model, diag.msg);
            exit(1);
        }
        run(g, cases[c].batch, have_vals ? vals : NULL, &after);
        bool bn_folding = cases[c].passes & QS_PASS_FOLD_BATCHNORM;
        compare(&before, &after, bn_folding ? 1e-5 : 1e-6, cases[c].model);
        int fused = 0;
        for (int i = 0; i < g->n_nodes; i++) fused += g->nodes[i]->act.kind != QS_ACT_NONE;
        printf("%s%s: %d -> %d nodes (%d BatchNorm inserted, %d fused activations), outputs "
               "match\n", cases[c].model, bns ? " +BN" : "", n_before, g->n_nodes, bns, fused);
        if (bn_folding) ASSERT_EQ(count_op(g, QS_OP_BATCHNORM), 0);
        ASSERT_TRUE(g->n_nodes <= n_before);
        if (cases[c].passes & QS_PASS_REMOVE_IDENTITY) ASSERT_EQ(count_op(g, QS_OP_DROPOUT), 0);
        outputs_free(&before);
        outputs_free(&after);
        for (int i = 0; i < 4; i++) qs__aligned_free(vals[i].v.data);
        qs_graph_destroy(g);
        ran++;
    }
    if (!ran) printf("real models: skipped (QS_SHARED_DATA absent)\n");
}

int main(void) {
    qs_set_log_callback(quiet_log, NULL, QS_LOG_ERROR);
    test_fold_constants();
    test_remove_identity();
    test_fold_batchnorm();
    test_fuse_activation();
    test_eliminate_dead();
    test_pipeline();
    test_oom();
    test_real_models();
    printf("passes: all checks passed\n");
    return 0;
}
