// Small graphs built through the internal IR API, for the ir/ tests (test-passes.c,
// test-fuse-add.c): a seeded generator, inputs, initializers, nodes with attributes,
// outputs, and finish() (toposort + shape inference).
#pragma once

#include "ir/ir-impl.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GB_UNUSED __attribute__((unused))

static uint32_t rng = 1;
GB_UNUSED static float frand(float lo, float hi) {
    rng = rng * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)((rng >> 8) & 0xffffff) / 16777216.0f;
}

GB_UNUSED static qs_graph_t *new_graph(int opset) {
    qs_graph_t *g = NULL;
    ASSERT_OK(qs__graph_create(&g));
    g->opset = opset;
    g->ir_version = 7;
    g->path = qs__arena_strdup(&g->arena, "test");
    g->inputs = qs__arena_alloc(&g->arena, 8 * sizeof(qs_tensor *));
    g->outputs = qs__arena_alloc(&g->arena, 8 * sizeof(qs_tensor *));
    ASSERT_TRUE(g->inputs && g->outputs);
    return g;
}

// dims[i] < 0: symbolic (bound to 1 at load time).
GB_UNUSED static qs_tensor *input(qs_graph_t *g, const char *name, int rank, const int64_t *dims) {
    qs_tensor *t = qs__graph_add_tensor(g, name);
    ASSERT_TRUE(t);
    t->is_input = true;
    t->v.dtype = QS_DTYPE_F32;
    t->decl_rank = rank;
    for (int i = 0; i < rank; i++) {
        t->decl_dims[i] = dims[i];
        if (dims[i] < 0) t->dim_param[i] = qs__arena_strdup(&g->arena, "N");
    }
    g->inputs[g->n_inputs++] = t;
    return t;
}

GB_UNUSED static qs_tensor *init_raw(qs_graph_t *g, const char *name, enum qs_dtype dt, int rank,
                           const int64_t *dims) {
    qs_tensor *t = qs__graph_add_tensor(g, name);
    ASSERT_TRUE(t);
    qs__view_set_shape(&t->v, dt, rank, dims);
    t->v.data = qs__aligned_alloc(qs__view_bytes(&t->v) + 1);
    ASSERT_TRUE(t->v.data);
    t->v.is_const = true;
    t->owns_data = true;
    t->is_initializer = true;
    return t;
}

// F32 initializer with values uniform in [lo, hi).
GB_UNUSED static qs_tensor *init_f32(qs_graph_t *g, const char *name, int rank, const int64_t *dims,
                           float lo, float hi) {
    qs_tensor *t = init_raw(g, name, QS_DTYPE_F32, rank, dims);
    for (int64_t i = 0; i < t->v.numel; i++) ((float *)t->v.data)[i] = frand(lo, hi);
    return t;
}

GB_UNUSED static qs_tensor *init_f32_scalar(qs_graph_t *g, const char *name, float v) {
    qs_tensor *t = init_raw(g, name, QS_DTYPE_F32, 0, NULL);
    *(float *)t->v.data = v;
    return t;
}

GB_UNUSED static qs_tensor *init_i64(qs_graph_t *g, const char *name, int rank, int64_t n,
                           const int64_t *vals) {
    int64_t dims[1] = {n};
    qs_tensor *t = init_raw(g, name, QS_DTYPE_I64, rank, dims);
    memcpy(t->v.data, vals, sizeof(int64_t) * (size_t)(rank ? n : 1));
    return t;
}

GB_UNUSED static qs_node *node(qs_graph_t *g, const char *op, const char *name, int n_in,
                     qs_tensor *const *ins, const char *out) {
    qs_node *n = qs__graph_add_node(g, name, op, n_in, 1);
    ASSERT_TRUE(n);
    for (int i = 0; i < n_in; i++) n->inputs[i] = ins[i];
    n->outputs[0] = qs__graph_add_tensor(g, out);
    ASSERT_TRUE(n->outputs[0]);
    n->attrs = qs__arena_alloc(&g->arena, 8 * sizeof(struct qs_attr));
    ASSERT_TRUE(n->attrs);
    return n;
}
#define NODE(g, op, name, out, ...)                                                   \
    node((g), (op), (name), (int)QS_COUNTOF(((qs_tensor *[]){__VA_ARGS__})),          \
         (qs_tensor *[]){__VA_ARGS__}, (out))

GB_UNUSED static void attr_i(qs_node *n, const char *name, int64_t v) {
    n->attrs[n->n_attrs++] = (struct qs_attr){.name = name, .type = QS_ATTR_INT, .i = v};
}
GB_UNUSED static void attr_f(qs_node *n, const char *name, float v) {
    n->attrs[n->n_attrs++] = (struct qs_attr){.name = name, .type = QS_ATTR_FLOAT, .f = v};
}
GB_UNUSED static void attr_ints(qs_graph_t *g, qs_node *n, const char *name, int k,
                                const int64_t *v) {
    int64_t *p = qs__arena_alloc(&g->arena, sizeof(int64_t) * (size_t)k);
    memcpy(p, v, sizeof(int64_t) * (size_t)k);
    n->attrs[n->n_attrs++] =
        (struct qs_attr){.name = name, .type = QS_ATTR_INTS, .n = k, .ints = p};
}

GB_UNUSED static void output(qs_graph_t *g, qs_tensor *t) {
    t->is_output = true;
    g->outputs[g->n_outputs++] = t;
}

GB_UNUSED static void finish(qs_graph_t *g) {
    struct qs_diag diag = {{0}};
    if (qs__graph_toposort(g, &diag) != QS_STATUS_OK ||
        qs__graph_infer_shapes(g, &diag) != QS_STATUS_OK) {
        fprintf(stderr, "building test graph: %s\n", diag.msg);
        exit(1);
    }
}


// ---------------------------------------------------------------------------------------
// Outputs of a run, copied out of the session, and their comparison.

typedef struct outputs {
    int n;
    float *data[8];
    int64_t numel[8];
    int rank[8];
    int64_t dims[8][QS_MAX_RANK];
} outputs;

GB_UNUSED static void outputs_free(outputs *o) {
    for (int i = 0; i < o->n; i++) free(o->data[i]);
    memset(o, 0, sizeof *o);
}

// Copies every (fp32) output of the last run of s.
GB_UNUSED static void grab(qs_session_t *s, outputs *o) {
    memset(o, 0, sizeof *o);
    for (int i = 0; i < 8; i++) {
        struct qs_tensor_info info;
        if (qs_session_output_info(s, i, &info) != QS_STATUS_OK) break;
        ASSERT_EQ(info.dtype, QS_DTYPE_F32);
        o->numel[i] = qs__numel(info.rank, info.dims);
        o->rank[i] = info.rank;
        memcpy(o->dims[i], info.dims, sizeof info.dims);
        o->data[i] = malloc(sizeof(float) * (size_t)o->numel[i] + 1);
        ASSERT_TRUE(o->data[i]);
        memcpy(o->data[i], qs_session_output_data(s, i), sizeof(float) * (size_t)o->numel[i]);
        o->n++;
    }
}

// max |a - b| <= rtol * max(max |a|, 1e-3) for every output (rtol 0: bit-exact).
GB_UNUSED static void compare(const outputs *a, const outputs *b, double rtol,
                              const char *what) {
    ASSERT_EQ(a->n, b->n);
    for (int o = 0; o < a->n; o++) {
        ASSERT_EQ(a->numel[o], b->numel[o]);
        ASSERT_EQ(a->rank[o], b->rank[o]);
        for (int d = 0; d < a->rank[o]; d++) ASSERT_EQ(a->dims[o][d], b->dims[o][d]);
        double maxa = 1e-3, maxd = 0;
        for (int64_t i = 0; i < a->numel[o]; i++) {
            maxa = fmax(maxa, fabs(a->data[o][i]));
            double d = fabs((double)a->data[o][i] - b->data[o][i]);
            if (isnan(d) || (rtol == 0 && d != 0)) maxd = INFINITY;
            maxd = fmax(maxd, d);
        }
        if (!(maxd <= rtol * maxa)) {
            fprintf(stderr, "%s: output %d differs: max abs diff %g, max abs %g, rtol %g\n", what,
                    o, maxd, maxa, rtol);
            exit(1);
        }
    }
}

