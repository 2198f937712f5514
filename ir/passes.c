// Graph passes behind qs_graph_optimize, run in a fixed order:
//   1. constant folding        nodes whose outputs are known at load time -> initializers
//   2. Identity/Dropout removal
//   3. BatchNormalization folding into the Conv/Gemm before it
//   4. activation fusion       Relu/Clip after Conv/Gemm/MatMul -> node->act
//   5. dead-node elimination   nodes and initializers no graph output depends on
// then the graph is re-sorted and its shapes re-inferred.
//
// Every rewrite keeps the names of graph outputs: when the node that produces a graph
// output goes away, the node before it is made to write that output tensor instead.
//
// Also here: the match of a residual Add that sessions fuse into the fp32 Conv before it
// (qs__match_residual_add), which is not a graph rewrite.

#include "ir/ir-impl.h"

#include <math.h>

// ---------------------------------------------------------------------------------------
// Helpers.

static bool is_graph_output(const qs_graph_t *g, const qs_tensor *t) {
    if (t->is_output) return true;
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == t) return true;
    return false;
}

static bool is_const_init(const qs_tensor *t) {
    return t && t->is_initializer && (t->v.data || t->v.numel == 0);
}

static bool is_f32_init(const qs_tensor *t) {
    return is_const_init(t) && t->v.dtype == QS_DTYPE_F32 && t->v.data;
}

// Node index of the only node reading `t`, or -1 (none, several, or a graph output).
static int sole_consumer(const qs_graph_t *g, const qs_tensor *t) {
    if (is_graph_output(g, t) || qs__graph_use_count(g, t) != 1) return -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const qs_node *n = g->nodes[i];
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j] == t) return i;
    }
    return -1;
}

// True when optional output `i` of `n` is absent or read by nobody.
static bool output_unused(const qs_graph_t *g, const qs_node *n, int i) {
    if (i >= n->n_outputs || !n->outputs[i]) return true;
    return !is_graph_output(g, n->outputs[i]) && qs__graph_use_count(g, n->outputs[i]) == 0;
}

// A new graph-owned F32 initializer shaped like `shape_of` (or 1-D [n] when NULL).
static qs_tensor *new_f32_init(qs_graph_t *g, const char *name, const qs_view *shape_of,
                               int64_t n) {
    qs_tensor *t = qs__graph_add_tensor(g, name);
    if (!t) return NULL;
    int64_t dims1[1] = {n};
    if (shape_of) qs__view_set_shape(&t->v, QS_DTYPE_F32, shape_of->rank, shape_of->dims);
    else qs__view_set_shape(&t->v, QS_DTYPE_F32, 1, dims1);
    t->v.data = qs__aligned_alloc(qs__view_bytes(&t->v));
    if (!t->v.data) return NULL;  // the tensor stays, unused, and is dropped later
    t->v.is_const = true;
    t->owns_data = true;
    t->is_initializer = true;
    t->producer = -1;
    t->decl_rank = -1;
    return t;
}

static char *concat_name(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *s = qs__malloc(la + lb + 1);
    if (!s) return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

// qs__graph_remove_nodes frees the data of tensors that go away but not the tensors held
// by the attributes of removed nodes (Constant's value), which qs_graph_destroy would only
// find on nodes still in the graph: free them here.
static void remove_dead(qs_graph_t *g, const bool *dead, int n_dead) {
    if (n_dead == 0) return;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!dead[i]) continue;
        qs_node *n = g->nodes[i];
        for (int a = 0; a < n->n_attrs; a++) {
            qs_tensor *t = n->attrs[a].t;
            if (!t || !t->owns_data) continue;
            qs__aligned_free(t->v.data);
            t->v.data = NULL;
            t->owns_data = false;
        }
    }
    qs__graph_remove_nodes(g, dead);
}

// ---------------------------------------------------------------------------------------
// 1. Constant folding.
//
// The inference driver evaluates every node whose inputs are constant, and ops such as
// Shape produce constants from shapes alone. A Shape of an activation is only a constant
// of the model when it does not involve the batch (or another symbolic dimension): such
// values are folded only when a second run, with those dimensions bound to another value,
// gives the same bytes. When that run cannot be inferred (a Reshape to a fixed batch-1
// shape), anything derived from the shape of an activation is kept.

typedef struct alloc_list {
    void **p;
    size_t n, cap;
    bool failed;
} alloc_list;

static void *list_alloc(void *ctx, size_t bytes) {
    alloc_list *l = ctx;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        void **np = qs__realloc(l->p, ncap * sizeof(void *));
        if (!np) {
            l->failed = true;
            return NULL;
        }
        l->p = np;
        l->cap = ncap;
    }
    void *p = qs__aligned_alloc(bytes ? bytes : 1);
    if (!p) {
        l->failed = true;
        return NULL;
    }
    l->p[l->n++] = p;
    return p;
}

static void list_free(alloc_list *l) {
    for (size_t i = 0; i < l->n; i++) qs__aligned_free(l->p[i]);
    qs__free(l->p);
    *l = (alloc_list){0};
}

// Dimension d of graph input t varies with the batch: symbolic, or dim 0 declared as 1
// (sessions bind dim 0 of such inputs to the requested batch).
static bool dim_varies(const qs_tensor *t, int d) {
    if (t->decl_rank != t->v.rank || d >= t->decl_rank) return false;
    return t->decl_dims[d] < 0 || (d == 0 && t->decl_dims[0] == 1);
}

static bool graph_has_varying_dims(const qs_graph_t *g) {
    for (int i = 0; i < g->n_inputs; i++)
        for (int d = 0; d < g->inputs[i]->v.rank; d++)
            if (dim_varies(g->inputs[i], d)) return true;
    return false;
}

// Views for qs__infer_graph: initializers with their data, graph inputs with their varying
// dimensions bound to `bind` (0: as inferred at load time).
static void seed_views(const qs_graph_t *g, qs_view *views, int64_t bind) {
    for (int i = 0; i < g->n_tensors; i++) {
        const qs_tensor *t = g->tensors[i];
        memset(&views[i], 0, sizeof(views[i]));
        if (!t) continue;
        if (t->is_initializer) {
            views[i] = t->v;
        } else if (t->is_input) {
            views[i] = t->v;
            views[i].data = NULL;
            views[i].is_const = false;
            if (bind > 0) {
                for (int d = 0; d < t->v.rank; d++)
                    if (dim_varies(t, d)) views[i].dims[d] = bind;
                views[i].numel = qs__numel(views[i].rank, views[i].dims);
            }
        }
    }
}

static bool view_known(const qs_view *v) {
    return v->is_const && (v->data || v->numel == 0) && qs_dtype_size(v->dtype) > 0;
}

static bool views_equal(const qs_view *a, const qs_view *b) {
    if (!view_known(a) || !view_known(b) || a->dtype != b->dtype || a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return false;
    size_t bytes = qs__view_bytes(a);
    return bytes == 0 || memcmp(a->data, b->data, bytes) == 0;
}

static enum qs_status fold_constants(qs_graph_t *g, int *n_folded, struct qs_diag *diag) {
    *n_folded = 0;
    if (g->n_nodes == 0) return QS_STATUS_OK;
    enum qs_status st = QS_STATUS_NOMEM;
    size_t nt = (size_t)g->n_tensors, nn = (size_t)g->n_nodes;
    qs_view *v1 = qs__calloc(nt ? nt : 1, sizeof(qs_view));
    qs_view *v2 = qs__calloc(nt ? nt : 1, sizeof(qs_view));
    bool *pending = qs__calloc(nn, sizeof(bool));  // tainted candidates
    bool *dead = qs__calloc(nn, sizeof(bool));
    bool *taint = qs__calloc(nt ? nt : 1, sizeof(bool));
    void **copies = qs__calloc(nt ? nt : 1, sizeof(void *));
    alloc_list a1 = {0}, a2 = {0};
    if (!v1 || !v2 || !pending || !dead || !taint || !copies) goto done;

    seed_views(g, v1, 0);
    st = qs__infer_graph(g, v1, NULL, list_alloc, &a1, diag);
    if (a1.failed) st = QS_STATUS_NOMEM;
    if (st != QS_STATUS_OK) goto done;

    // Candidates: nodes whose outputs are all known (and not graph outputs). Those whose
    // value comes from the shape of an activation are "tainted" and need the second run.
    bool varying = graph_has_varying_dims(g);
    int n_pending = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const qs_node *n = g->nodes[i];
        bool all_const = n->n_outputs > 0, any_out = false, in_nonconst = false,
             in_taint = false, is_out = false;
        for (int j = 0; j < n->n_inputs; j++) {
            const qs_tensor *t = n->inputs[j];
            if (!t) continue;
            if (!view_known(&v1[t->id])) in_nonconst = true;
            if (taint[t->id]) in_taint = true;
        }
        for (int j = 0; j < n->n_outputs; j++) {
            const qs_tensor *t = n->outputs[j];
            if (!t) continue;
            any_out = true;
            if (!view_known(&v1[t->id])) all_const = false;
            if (is_graph_output(g, t)) is_out = true;
        }
        if (!any_out || !all_const) continue;
        bool tainted = varying && (in_taint || in_nonconst);
        if (tainted)
            for (int j = 0; j < n->n_outputs; j++)
                if (n->outputs[j]) taint[n->outputs[j]->id] = true;
        if (is_out) continue;
        if (tainted) {
            pending[i] = true;
            n_pending++;
        } else {
            dead[i] = true;
        }
    }
    if (n_pending > 0) {
        struct qs_diag d2 = {{0}};
        seed_views(g, v2, 3);
        enum qs_status st2 = qs__infer_graph(g, v2, NULL, list_alloc, &a2, &d2);
        if (a2.failed) {
            st = QS_STATUS_NOMEM;
            goto done;
        }
        if (st2 != QS_STATUS_OK)
            qs__log(QS_LOG_DEBUG, "fold: graph does not infer at another batch (%s); "
                    "keeping values derived from activation shapes", d2.msg);
        for (int i = 0; st2 == QS_STATUS_OK && i < g->n_nodes; i++) {
            if (!pending[i]) continue;
            const qs_node *n = g->nodes[i];
            bool same = true;
            for (int j = 0; j < n->n_outputs && same; j++) {
                const qs_tensor *t = n->outputs[j];
                if (t && !views_equal(&v1[t->id], &v2[t->id])) same = false;
            }
            dead[i] = same;
        }
    }

    // Copy every folded value first, so that a failed allocation leaves the graph as it was.
    st = QS_STATUS_NOMEM;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!dead[i]) continue;
        const qs_node *n = g->nodes[i];
        for (int j = 0; j < n->n_outputs; j++) {
            const qs_tensor *t = n->outputs[j];
            if (!t) continue;
            size_t bytes = qs__view_bytes(&v1[t->id]);
            copies[t->id] = qs__aligned_alloc(bytes ? bytes : 1);
            if (!copies[t->id]) goto done;
            if (bytes) memcpy(copies[t->id], v1[t->id].data, bytes);
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (!dead[i]) continue;
        qs_node *n = g->nodes[i];
        for (int j = 0; j < n->n_outputs; j++) {
            qs_tensor *t = n->outputs[j];
            if (!t) continue;
            if (t->owns_data) qs__aligned_free(t->v.data);
            t->v = v1[t->id];
            t->v.data = copies[t->id];
            t->v.is_const = true;
            copies[t->id] = NULL;
            t->owns_data = true;
            t->is_initializer = true;
            t->producer = -1;
        }
        (*n_folded)++;
    }
    remove_dead(g, dead, *n_folded);
    st = QS_STATUS_OK;
done:
    if (copies)
        for (size_t i = 0; i < nt; i++) qs__aligned_free(copies[i]);
    list_free(&a1);
    list_free(&a2);
    qs__free(v1);
    qs__free(v2);
    qs__free(pending);
    qs__free(dead);
    qs__free(taint);
    qs__free(copies);
    if (st == QS_STATUS_NOMEM) return qs__diag(diag, st, "constant folding: out of memory");
    return st;
}

// ---------------------------------------------------------------------------------------
// 2. Identity and inference-mode Dropout removal.

static bool dropout_is_identity(const qs_graph_t *g, const qs_node *n) {
    if (n->opset < 7 && qs__attr_i(n, "is_test", 0) == 0) return false;
    if (n->n_inputs >= 3 && n->inputs[2]) {  // training_mode (opset 12+)
        const qs_tensor *tm = n->inputs[2];
        if (!is_const_init(tm) || tm->v.numel != 1 || qs__view_get_i64(&tm->v, 0) != 0)
            return false;
    }
    for (int i = 1; i < n->n_outputs; i++)
        if (!output_unused(g, n, i)) return false;
    return true;
}

// Index of the node that writes `t` (scan: producers go stale while a pass rewires).
static int producer_of(const qs_graph_t *g, const qs_tensor *t, int *slot) {
    for (int i = 0; i < g->n_nodes; i++) {
        const qs_node *n = g->nodes[i];
        for (int j = 0; j < n->n_outputs; j++)
            if (n->outputs[j] == t) {
                if (slot) *slot = j;
                return i;
            }
    }
    return -1;
}

// Makes the producer of `from` write `to` instead, so that `to` (a graph output, or the
// output of a node being removed) keeps its name. `from` must be read by nobody else after.
static void retarget_output(qs_graph_t *g, qs_tensor *from, qs_tensor *to) {
    int slot = 0;
    int p = producer_of(g, from, &slot);
    QS_ASSERT(p >= 0);
    g->nodes[p]->outputs[slot] = to;
    to->producer = p;
    from->producer = -1;
}

static enum qs_status remove_identities(qs_graph_t *g, int *n_removed, struct qs_diag *diag) {
    *n_removed = 0;
    bool *dead = qs__calloc((size_t)g->n_nodes + 1, sizeof(bool));
    if (!dead) return qs__diag(diag, QS_STATUS_NOMEM, "identity removal: out of memory");
    for (int i = 0; i < g->n_nodes; i++) {
        qs_node *n = g->nodes[i];
        if (n->op != QS_OP_IDENTITY && n->op != QS_OP_DROPOUT) continue;
        if (n->op == QS_OP_DROPOUT && !dropout_is_identity(g, n)) continue;
        if (n->n_inputs < 1 || n->n_outputs < 1 || !n->inputs[0] || !n->outputs[0]) continue;
        qs_tensor *x = n->inputs[0], *y = n->outputs[0];
        if (x == y) continue;
        if (!is_graph_output(g, y)) {
            qs__graph_replace_uses(g, y, x);
        } else {
            // y keeps its name: the producer of x writes y directly, when x is an ordinary
            // activation that is not itself a graph output.
            if (is_graph_output(g, x) || x->is_input || x->is_initializer) continue;
            if (producer_of(g, x, NULL) < 0) continue;
            retarget_output(g, x, y);
            qs__graph_replace_uses(g, x, y);
        }
        dead[i] = true;
        (*n_removed)++;
    }
    remove_dead(g, dead, *n_removed);
    qs__free(dead);
    return QS_STATUS_OK;
}

// ---------------------------------------------------------------------------------------
// 3. BatchNormalization folding.
//
// y = (x - mean) * s + beta with s = gamma / sqrt(var + eps), per channel (dim 1). When x
// is the output of a Conv (weights [M, C/g, kh, kw]) or a Gemm (channel = column), the
// scale goes into the weights and the shift into the bias. New initializers are always
// created, so weights shared with other nodes are never changed.

typedef struct bn_params {
    int64_t c;
    const float *gamma, *beta, *mean, *var;
    double eps;
} bn_params;

static bool bn_get_params(const qs_graph_t *g, const qs_node *bn, bn_params *p) {
    if (bn->n_inputs < 5 || bn->n_outputs < 1 || !bn->inputs[0] || !bn->outputs[0])
        return false;
    const qs_tensor *x = bn->inputs[0];
    if (x->v.dtype != QS_DTYPE_F32 || x->v.rank < 2) return false;
    if (qs__attr_i(bn, "training_mode", 0) != 0) return false;
    if (bn->opset < 9 && qs__attr_i(bn, "spatial", 1) != 1) return false;
    for (int i = 1; i < bn->n_outputs; i++)
        if (!output_unused(g, bn, i)) return false;
    p->c = x->v.dims[1];
    for (int i = 1; i <= 4; i++) {
        const qs_tensor *t = bn->inputs[i];
        if (!is_f32_init(t) || t->v.numel != p->c) return false;
    }
    p->gamma = bn->inputs[1]->v.data;
    p->beta = bn->inputs[2]->v.data;
    p->mean = bn->inputs[3]->v.data;
    p->var = bn->inputs[4]->v.data;
    p->eps = qs__attr_f(bn, "epsilon", 1e-5f);
    for (int64_t i = 0; i < p->c; i++)
        if (!(p->var[i] + p->eps > 0)) return false;
    return true;
}

// Gives `n` a third input slot (bias) when it has fewer.
static bool ensure_three_inputs(qs_graph_t *g, qs_node *n) {
    if (n->n_inputs >= 3) return true;
    qs_tensor **in = qs__arena_alloc(&g->arena, 3 * sizeof(qs_tensor *));
    if (!in) return false;
    for (int i = 0; i < n->n_inputs; i++) in[i] = n->inputs[i];
    n->inputs = in;
    n->n_inputs = 3;
    return true;
}

// Outcome of one attempt: folded, not applicable, or out of memory.
enum fold_result { FOLD_DONE, FOLD_SKIP, FOLD_NOMEM };

static enum fold_result fold_bn_into(qs_graph_t *g, qs_node *p, const bn_params *bn) {
    bool gemm = p->op == QS_OP_GEMM;
    if (p->n_inputs < 2 || !is_f32_init(p->inputs[1])) return FOLD_SKIP;
    const qs_tensor *w = p->inputs[1];
    const qs_tensor *b = p->n_inputs >= 3 ? p->inputs[2] : NULL;
    int64_t c = bn->c;
    bool trans_b = false;
    double gbeta = 1.0;
    if (gemm) {
        if (w->v.rank != 2 || p->outputs[0]->v.rank != 2) return FOLD_SKIP;
        trans_b = qs__attr_i(p, "transB", 0) != 0;
        if ((trans_b ? w->v.dims[0] : w->v.dims[1]) != c) return FOLD_SKIP;
        gbeta = qs__attr_f(p, "beta", 1.0f);
        if (gbeta == 0.0) return FOLD_SKIP;
        if (b && (!is_f32_init(b) || (b->v.numel != c && b->v.numel != 1) || b->v.rank > 2))
            return FOLD_SKIP;
    } else {
        if (w->v.rank < 3 || w->v.dims[0] != c) return FOLD_SKIP;
        if (b && (!is_f32_init(b) || b->v.numel != c)) return FOLD_SKIP;
    }

    char *wname = concat_name(w->name, "_bnfold");
    char *bname = concat_name(b ? b->name : w->name, b ? "_bnfold" : "_bias_bnfold");
    qs_tensor *nw = wname ? new_f32_init(g, wname, &w->v, 0) : NULL;
    // A Gemm bias that was a broadcast scalar becomes per-column.
    bool keep_bshape = b && b->v.numel == c;
    qs_tensor *nb = nw && bname ? new_f32_init(g, bname, keep_bshape ? &b->v : NULL, c) : NULL;
    qs__free(wname);
    qs__free(bname);
    if (!nw || !nb || !nw->v.data || !nb->v.data) return FOLD_NOMEM;
    if (!ensure_three_inputs(g, p)) return FOLD_NOMEM;

    const float *wsrc = w->v.data;
    float *wdst = nw->v.data, *bdst = nb->v.data;
    const float *bsrc = b ? b->v.data : NULL;
    int64_t numel = w->v.numel;
    for (int64_t m = 0; m < c; m++) {
        double s = bn->gamma[m] / sqrt((double)bn->var[m] + bn->eps);
        double bias = bsrc ? bsrc[b->v.numel == 1 ? 0 : m] : 0.0;
        if (gemm) {
            // beta_g * b' = s * (beta_g * b - mean) + beta_bn.
            bdst[m] = (float)((s * (gbeta * bias - bn->mean[m]) + bn->beta[m]) / gbeta);
        } else {
            bdst[m] = (float)((bias - bn->mean[m]) * s + bn->beta[m]);
        }
        if (!gemm || trans_b) {
            int64_t k = numel / c;  // rows of the weight are output channels
            for (int64_t i = 0; i < k; i++) wdst[m * k + i] = (float)(wsrc[m * k + i] * s);
        } else {
            int64_t k = numel / c;  // [K, N]: column m
            for (int64_t i = 0; i < k; i++) wdst[i * c + m] = (float)(wsrc[i * c + m] * s);
        }
    }
    p->inputs[1] = nw;
    p->inputs[2] = nb;
    return FOLD_DONE;
}

static enum qs_status fold_batchnorms(qs_graph_t *g, int *n_folded, struct qs_diag *diag) {
    *n_folded = 0;
    bool *dead = qs__calloc((size_t)g->n_nodes + 1, sizeof(bool));
    if (!dead) return qs__diag(diag, QS_STATUS_NOMEM, "BatchNorm folding: out of memory");
    enum qs_status st = QS_STATUS_OK;
    for (int i = 0; i < g->n_nodes; i++) {
        qs_node *bn = g->nodes[i];
        bn_params prm;
        if (bn->op != QS_OP_BATCHNORM || !bn_get_params(g, bn, &prm)) continue;
        qs_tensor *x = bn->inputs[0], *y = bn->outputs[0];
        if (sole_consumer(g, x) != i) continue;
        int slot = 0;
        int pi = producer_of(g, x, &slot);
        if (pi < 0 || slot != 0 || dead[pi]) continue;
        qs_node *p = g->nodes[pi];
        if ((p->op != QS_OP_CONV && p->op != QS_OP_GEMM) || p->act.kind != QS_ACT_NONE)
            continue;
        enum fold_result r = fold_bn_into(g, p, &prm);
        if (r == FOLD_NOMEM) {
            st = qs__diag(diag, QS_STATUS_NOMEM, "BatchNorm folding: out of memory");
            break;
        }
        if (r != FOLD_DONE) continue;
        retarget_output(g, x, y);
        dead[i] = true;
        (*n_folded)++;
    }
    remove_dead(g, dead, *n_folded);
    qs__free(dead);
    return st;
}

// ---------------------------------------------------------------------------------------
// 4. Activation fusion.

static bool clip_bounds(const qs_node *n, float *lo, float *hi) {
    *lo = -INFINITY;
    *hi = INFINITY;
    if (n->opset < 11) {
        *lo = qs__attr_f(n, "min", -INFINITY);
        *hi = qs__attr_f(n, "max", INFINITY);
    } else {
        for (int i = 1; i <= 2 && i < n->n_inputs; i++) {
            const qs_tensor *t = n->inputs[i];
            if (!t) continue;
            if (!is_const_init(t) || t->v.numel != 1 || !t->v.data) return false;
            float v = (float)qs__view_get_f64(&t->v, 0);
            if (i == 1) *lo = v;
            else *hi = v;
        }
    }
    return !isnan(*lo) && !isnan(*hi) && *lo <= *hi;
}

static enum qs_status fuse_activations(qs_graph_t *g, int *n_fused, struct qs_diag *diag) {
    *n_fused = 0;
    bool *dead = qs__calloc((size_t)g->n_nodes + 1, sizeof(bool));
    if (!dead) return qs__diag(diag, QS_STATUS_NOMEM, "activation fusion: out of memory");
    for (int i = 0; i < g->n_nodes; i++) {
        qs_node *p = g->nodes[i];
        if (p->op != QS_OP_CONV && p->op != QS_OP_GEMM && p->op != QS_OP_MATMUL) continue;
        if (p->act.kind != QS_ACT_NONE || p->n_outputs < 1 || !p->outputs[0]) continue;
        qs_tensor *y = p->outputs[0];
        if (y->v.dtype != QS_DTYPE_F32) continue;
        int ci = sole_consumer(g, y);
        if (ci < 0 || dead[ci]) continue;
        qs_node *a = g->nodes[ci];
        if (a->n_inputs < 1 || a->inputs[0] != y || a->n_outputs < 1 || !a->outputs[0])
            continue;
        struct qs_fused_act act = {QS_ACT_NONE, 0, 0};
        if (a->op == QS_OP_RELU) {
            act = (struct qs_fused_act){QS_ACT_RELU, 0.0f, INFINITY};
        } else if (a->op == QS_OP_CLIP) {
            float lo, hi;
            if (!clip_bounds(a, &lo, &hi)) continue;
            act = (struct qs_fused_act){QS_ACT_CLIP, lo, hi};
        } else {
            continue;
        }
        p->act = act;
        retarget_output(g, y, a->outputs[0]);
        dead[ci] = true;
        (*n_fused)++;
    }
    remove_dead(g, dead, *n_fused);
    qs__free(dead);
    return QS_STATUS_OK;
}

// ---------------------------------------------------------------------------------------
// Residual Add fusion (sessions only, see qs__residual_fusion in ir/ir-impl.h).
//
// Not a graph rewrite: calibration observes the Conv's own output and int8 lowering turns
// the Add into a QLinearAdd, so graphs keep the nodes and a session runs the match as one.
// A Conv with a fused activation is never taken: act(conv) + sum != act(conv + sum).

static bool same_shape(const qs_view *a, const qs_view *b) {
    if (a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

bool qs__match_residual_add(const qs_graph_t *g, const qs_view *views, int i,
                            struct qs__residual_fusion *f) {
    const qs_node *c = g->nodes[i];
    if (c->op != QS_OP_CONV || c->act.kind != QS_ACT_NONE || c->n_inputs < 2 ||
        c->n_inputs > 3 || c->n_outputs != 1 || !c->outputs[0] || !c->inputs[0] ||
        !c->inputs[1])
        return false;
    const qs_tensor *y = c->outputs[0];
    const qs_view *vy = &views[y->id];
    if (vy->dtype != QS_DTYPE_F32 || vy->is_const) return false;
    const int ai = sole_consumer(g, y);  // -1 for a graph output
    if (ai <= i) return false;
    const qs_node *a = g->nodes[ai];
    if (a->op != QS_OP_ADD || a->n_inputs != 2 || a->n_outputs != 1 || !a->outputs[0] ||
        !a->inputs[0] || !a->inputs[1])
        return false;
    qs_tensor *sum = a->inputs[0] == y ? a->inputs[1] : a->inputs[0];
    if (sum == y) return false;
    // Exactly the Conv's shape: the kernels add element by element, without broadcasting.
    const qs_view *vs = &views[sum->id], *va = &views[a->outputs[0]->id];
    if (vs->dtype != QS_DTYPE_F32 || vs->is_const || !same_shape(vs, vy) ||
        va->dtype != QS_DTYPE_F32 || !same_shape(va, vy))
        return false;
    *f = (struct qs__residual_fusion){i, ai, -1, sum, a->outputs[0]};
    const int ri = sole_consumer(g, a->outputs[0]);
    if (ri > ai) {
        const qs_node *r = g->nodes[ri];
        if (r->op == QS_OP_RELU && r->n_inputs == 1 && r->n_outputs == 1 && r->outputs[0] &&
            views[r->outputs[0]->id].dtype == QS_DTYPE_F32) {
            f->relu = ri;
            f->out = r->outputs[0];
        }
    }
    return true;
}

// ---------------------------------------------------------------------------------------
// 5. Dead-node elimination (nodes are in topological order, so one backward sweep).

static enum qs_status eliminate_dead(qs_graph_t *g, int *n_removed, struct qs_diag *diag) {
    *n_removed = 0;
    bool *live = qs__calloc((size_t)g->n_tensors + 1, sizeof(bool));
    bool *dead = qs__calloc((size_t)g->n_nodes + 1, sizeof(bool));
    if (!live || !dead) {
        qs__free(live);
        qs__free(dead);
        return qs__diag(diag, QS_STATUS_NOMEM, "dead-node elimination: out of memory");
    }
    for (int i = 0; i < g->n_outputs; i++) live[g->outputs[i]->id] = true;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const qs_node *n = g->nodes[i];
        bool needed = false;
        for (int j = 0; j < n->n_outputs; j++)
            if (n->outputs[j] && live[n->outputs[j]->id]) needed = true;
        if (!needed) {
            dead[i] = true;
            (*n_removed)++;
            continue;
        }
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j]) live[n->inputs[j]->id] = true;
    }
    remove_dead(g, dead, *n_removed);
    // Drops initializers nothing reads, also when no node died.
    if (*n_removed == 0) qs__graph_remove_nodes(g, NULL);
    qs__free(live);
    qs__free(dead);
    return QS_STATUS_OK;
}

// ---------------------------------------------------------------------------------------

QS_API enum qs_status qs_graph_optimize(qs_graph_t *graph, uint32_t passes,
                                        struct qs_diag *diag) {
    if (!graph) return qs__diag(diag, QS_STATUS_INVALID_ARG, "qs_graph_optimize: graph is NULL");
    if (passes & ~(uint32_t)QS_PASS_DEFAULT)
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "qs_graph_optimize: unknown pass flags 0x%x",
                        (unsigned)(passes & ~(uint32_t)QS_PASS_DEFAULT));
    qs_graph_t *g = graph;
    qs_graph_restore_weights(g);  // passes rewrite constants in place: never borrowed ones
    int folded = 0, identities = 0, bns = 0, fused = 0, dead = 0;
    enum qs_status st = QS_STATUS_OK;
    if (passes & QS_PASS_FOLD_CONSTANTS) st = fold_constants(g, &folded, diag);
    if (st == QS_STATUS_OK && (passes & QS_PASS_REMOVE_IDENTITY))
        st = remove_identities(g, &identities, diag);
    if (st == QS_STATUS_OK && (passes & QS_PASS_FOLD_BATCHNORM))
        st = fold_batchnorms(g, &bns, diag);
    if (st == QS_STATUS_OK && (passes & QS_PASS_FUSE_ACTIVATION))
        st = fuse_activations(g, &fused, diag);
    if (st == QS_STATUS_OK && (passes & QS_PASS_ELIMINATE_DEAD))
        st = eliminate_dead(g, &dead, diag);
    if (st == QS_STATUS_OK) st = qs__graph_toposort(g, diag);
    if (st == QS_STATUS_OK) st = qs__graph_infer_shapes(g, diag);
    if (st != QS_STATUS_OK) {
        qs__graph_remove_nodes(g, NULL);  // tensors a failed rewrite left unused
        qs__log(QS_LOG_ERROR, "failed to optimize graph '%s': %s", g->path ? g->path : "",
                diag ? diag->msg : qs_status_str(st));
        return st;
    }
    qs__log(QS_LOG_INFO,
            "optimized '%s': %d constants folded, %d Identity/Dropout removed, "
            "%d BatchNorm folded, %d activations fused, %d dead nodes removed; %d nodes",
            g->path ? g->path : "", folded, identities, bns, fused, dead, g->n_nodes);
    return QS_STATUS_OK;
}
