// Node and layer descriptions for `qsearch inspect` and the search agents' state.
#include "ir/ir-impl.h"

static const qs_view *in_view(const qs_node *n, int i) {
    return i < n->n_inputs && n->inputs[i] ? &n->inputs[i]->v : NULL;
}

static bool is_const_input(const qs_node *n, int i) {
    return i < n->n_inputs && n->inputs[i] && n->inputs[i]->is_initializer;
}

int64_t qs__node_flops(const qs_graph_t *g, const qs_node *n) {
    (void)g;
    const qs_view *out = n->n_outputs && n->outputs[0] ? &n->outputs[0]->v : NULL;
    const qs_view *x = in_view(n, 0), *w = in_view(n, 1);
    if (!out) return 0;
    switch (n->op) {
    case QS_OP_QLINEARCONV:  // the weight is input 3; counted like Conv (one MAC = 2)
        w = in_view(n, 3);
        if (!w || w->rank < 2) return 0;
        return 2 * out->numel * (w->numel / QS_MAX(w->dims[0], 1));
    case QS_OP_QLINEARMATMUL:
    case QS_OP_MATMULINTEGER:
        return x && x->rank >= 1 ? 2 * out->numel * x->dims[x->rank - 1] : 0;
    case QS_OP_QGEMM:
        if (!x || x->rank != 2) return 0;
        return 2 * out->numel * (qs__attr_i(n, "transA", 0) ? x->dims[0] : x->dims[1]);
    case QS_OP_CONVINTEGER:
    case QS_OP_CONV:  // every output element: a dot product over C_in/group x kernel
        if (!w || w->rank < 2) return 0;
        return 2 * out->numel * (w->numel / QS_MAX(w->dims[0], 1));
    case QS_OP_CONV_TRANSPOSE:
        if (!w || !x || w->rank < 2) return 0;
        return 2 * x->numel * (w->numel / QS_MAX(w->dims[0], 1));
    case QS_OP_GEMM: {
        if (!x || x->rank != 2) return 0;
        int64_t k = qs__attr_i(n, "transA", 0) ? x->dims[0] : x->dims[1];
        return 2 * out->numel * k;
    }
    case QS_OP_MATMUL:
        if (!x || x->rank < 1) return 0;
        return 2 * out->numel * x->dims[x->rank - 1];
    case QS_OP_MAXPOOL:
    case QS_OP_AVERAGEPOOL: {
        int nk = 0;
        const int64_t *k = qs__attr_ints(n, "kernel_shape", &nk);
        int64_t area = 1;
        for (int i = 0; i < nk; i++) area *= k[i];
        return out->numel * area;
    }
    case QS_OP_GLOBALAVERAGEPOOL:
    case QS_OP_GLOBALMAXPOOL:
        return x ? x->numel : 0;
    default:
        return out->numel;
    }
}

static void fill_info(const qs_tensor *t, struct qs_tensor_info *info) {
    memset(info, 0, sizeof *info);
    info->name = t->name;
    info->id = t->id;
    info->dtype = t->v.dtype;
    info->rank = t->v.rank;
    memcpy(info->dims, t->v.dims, sizeof(int64_t) * (size_t)t->v.rank);
}

enum qs_status qs_graph_node_info(const qs_graph_t *g, int i, struct qs_node_info *info) {
    if (i < 0 || i >= g->n_nodes) return QS_STATUS_INVALID_ARG;
    const qs_node *n = g->nodes[i];
    memset(info, 0, sizeof *info);
    info->name = n->name;
    info->op_type = n->op_type;
    info->n_inputs = n->n_inputs;
    info->n_outputs = n->n_outputs;
    for (int k = 0; k < n->n_inputs; k++) {
        if (k < 4 && n->inputs[k]) fill_info(n->inputs[k], &info->inputs[k]);
        if (is_const_input(n, k)) info->params += n->inputs[k]->v.numel;
    }
    for (int k = 0; k < n->n_outputs && k < 2; k++)
        if (n->outputs[k]) fill_info(n->outputs[k], &info->outputs[k]);
    info->flops = qs__node_flops(g, n);
    info->fused_activation = n->act.kind == QS_ACT_RELU ? "Relu"
                             : n->act.kind == QS_ACT_CLIP ? "Clip" : NULL;
    return QS_STATUS_OK;
}

// A layer is a node that carries weights the search can quantize or prune.
static bool is_layer(const qs_node *n) {
    switch (n->op) {
    case QS_OP_CONV: return is_const_input(n, 1);
    case QS_OP_GEMM: return is_const_input(n, 1);
    case QS_OP_MATMUL: return is_const_input(n, 1) || is_const_input(n, 0);
    default: return false;
    }
}

int qs_graph_layer_count(const qs_graph_t *g) {
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) c += is_layer(g->nodes[i]);
    return c;
}

enum qs_status qs_graph_layer_info(const qs_graph_t *g, int li, struct qs_layer_info *info) {
    if (li < 0) return QS_STATUS_INVALID_ARG;
    for (int i = 0; i < g->n_nodes; i++) {
        const qs_node *n = g->nodes[i];
        if (!is_layer(n) || li--) continue;
        memset(info, 0, sizeof *info);
        info->node = i;
        info->name = n->name;
        info->kernel_h = info->kernel_w = info->stride_h = info->stride_w = 1;
        info->groups = 1;
        info->in_h = info->in_w = info->out_h = info->out_w = 1;
        const qs_view *x = in_view(n, 0), *w = in_view(n, 1), *y = &n->outputs[0]->v;
        for (int k = 0; k < n->n_inputs; k++)
            if (is_const_input(n, k)) info->params += n->inputs[k]->v.numel;
        info->flops = qs__node_flops(g, n);
        if (n->op == QS_OP_CONV) {
            info->kind = QS_LAYER_CONV;
            info->groups = qs__attr_i(n, "group", 1);
            info->c_out = w->dims[0];
            info->c_in = w->rank > 1 ? w->dims[1] * info->groups : 0;
            info->depthwise = info->groups > 1 && info->groups == info->c_in &&
                              info->groups == info->c_out;
            if (w->rank > 2) info->kernel_h = w->dims[2];
            if (w->rank > 3) info->kernel_w = w->dims[3];
            int ns = 0;
            const int64_t *s = qs__attr_ints(n, "strides", &ns);
            if (ns > 0) info->stride_h = s[0];
            if (ns > 1) info->stride_w = s[1];
            if (x && x->rank > 2) info->in_h = x->dims[2];
            if (x && x->rank > 3) info->in_w = x->dims[3];
            if (y->rank > 2) info->out_h = y->dims[2];
            if (y->rank > 3) info->out_w = y->dims[3];
        } else if (n->op == QS_OP_GEMM) {
            info->kind = QS_LAYER_GEMM;
            bool tb = qs__attr_i(n, "transB", 0) != 0;
            info->w_axis = tb ? 0 : 1;
            if (w->rank == 2) {
                info->c_in = tb ? w->dims[1] : w->dims[0];
                info->c_out = tb ? w->dims[0] : w->dims[1];
            }
        } else {
            info->kind = QS_LAYER_MATMUL;
            const qs_view *c = is_const_input(n, 1) ? w : x;
            info->w_axis = c->rank - 1;
            if (c->rank >= 2) {
                info->c_in = c->dims[c->rank - 2];
                info->c_out = c->dims[c->rank - 1];
            }
            info->in_h = info->out_h = y->rank >= 2 ? y->numel / QS_MAX(y->dims[y->rank - 1], 1) : 1;
        }
        return QS_STATUS_OK;
    }
    return QS_STATUS_INVALID_ARG;
}

int qs_graph_tensor_count(const qs_graph_t *g) { return g->n_tensors; }

enum qs_status qs_graph_tensor(const qs_graph_t *g, int id, struct qs_tensor_info *info,
                               const void **data) {
    if (id < 0 || id >= g->n_tensors) return QS_STATUS_INVALID_ARG;
    const qs_tensor *t = g->tensors[id];
    if (info) fill_info(t, info);
    if (data) *data = t->is_initializer ? t->v.data : NULL;
    return QS_STATUS_OK;
}
