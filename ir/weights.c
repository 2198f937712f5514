// Weight overrides: pruned, reconstructed or bias-corrected constants that a layer runs
// with instead of the graph's own, without copying the graph (the search swaps them per
// candidate; sparse/ caches one array per (layer, sparsity, pattern)).
#include "ir/ir-impl.h"

static qs_node *layer_node(const qs_graph_t *g, int layer, int *w_in) {
    struct qs_layer_info li;
    if (qs_graph_layer_info(g, layer, &li) != QS_STATUS_OK) return NULL;
    qs_node *n = g->nodes[li.node];
    // MatMul may carry its constant operand first.
    *w_in = n->op == QS_OP_MATMUL && !(n->inputs[1] && n->inputs[1]->is_initializer) ? 0 : 1;
    return n;
}

static qs_tensor *bias_of(const qs_node *n) {
    if (n->op == QS_OP_MATMUL || n->n_inputs < 3 || !n->inputs[2]) return NULL;
    return n->inputs[2]->is_initializer ? n->inputs[2] : NULL;
}

static const float *file_data(const qs_tensor *t) {
    return t->file_data ? t->file_data : t->v.data;
}

enum qs_status qs_graph_layer_weights(const qs_graph_t *g, int layer,
                                      struct qs_layer_weights *out, struct qs_diag *diag) {
    int wi;
    const qs_node *n = layer_node(g, layer, &wi);
    if (!n) return qs__diag(diag, QS_STATUS_INVALID_ARG, "layer %d out of range", layer);
    const qs_tensor *w = n->inputs[wi], *b = bias_of(n);
    if (!w || !w->is_initializer || w->v.dtype != QS_DTYPE_F32 ||
        (b && b->v.dtype != QS_DTYPE_F32))
        return qs__diag(diag, QS_STATUS_UNSUPPORTED,
                        "layer '%s': weights are not constant float32", n->name);
    memset(out, 0, sizeof *out);
    out->w_tensor = w->id;
    out->w_numel = w->v.numel;
    out->w = w->v.data;
    out->w_file = file_data(w);
    out->b_tensor = b ? b->id : -1;
    if (b) {
        out->b_numel = b->v.numel;
        out->b = b->v.data;
        out->b_file = file_data(b);
    }
    return QS_STATUS_OK;
}

static void set_data(qs_tensor *t, const float *d) {
    if (!d) {
        if (t->file_data) t->v.data = t->file_data;
        t->file_data = NULL;
        return;
    }
    if (!t->file_data) t->file_data = t->v.data;
    t->v.data = (void *)d;
}

enum qs_status qs_graph_set_layer_weights(qs_graph_t *g, int layer, const float *w,
                                          const float *b, struct qs_diag *diag) {
    struct qs_layer_weights lw;
    enum qs_status st = qs_graph_layer_weights(g, layer, &lw, diag);
    if (st) return st;
    int wi;
    qs_node *n = layer_node(g, layer, &wi);
    qs_tensor *bt = bias_of(n);
    if (b && !bt)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "layer '%s' has no bias to replace", n->name);
    if ((w && qs__graph_use_count(g, n->inputs[wi]) > 1) ||
        (b && qs__graph_use_count(g, bt) > 1))
        return qs__diag(diag, QS_STATUS_UNSUPPORTED,
                        "layer '%s': its weights are shared with another node", n->name);
    set_data(n->inputs[wi], w);
    if (bt) set_data(bt, b);
    return QS_STATUS_OK;
}

void qs_graph_restore_weights(qs_graph_t *g) {
    for (int i = 0; i < g->n_tensors; i++) set_data(g->tensors[i], NULL);
}
