// Shape inference over a whole graph, with constant folding of nodes whose inputs are all
// known. Used at load time (batch 1, into the graph's own views) and by every session.
#include "ir/ir-impl.h"

typedef struct {
    void *(*alloc)(void *ctx, size_t bytes);
    void *ctx;
} const_alloc;

static void *kctx_alloc(qs_kctx *k, size_t bytes) {
    const const_alloc *ca = k->alloc_ctx;
    return ca->alloc(ca->ctx, bytes ? bytes : 1);
}

// Evaluates a node at inference time: prepare, run with a temporary scratch, release.
static enum qs_status fold_node(const struct qs_op_def *def, qs_kctx *k, const const_alloc *ca) {
    for (int o = 0; o < k->n_out; o++) {
        qs_view *v = k->out[o];
        if (!v || v->is_const) continue;
        if (!(v->data = ca->alloc(ca->ctx, qs__view_bytes(v) + 1))) return QS_STATUS_NOMEM;
    }
    size_t scratch = 0;
    enum qs_status st = QS_STATUS_OK;
    k->state = NULL;
    if (def->prepare) st = def->prepare(k, &scratch);
    void *buf = NULL;
    if (st == QS_STATUS_OK && scratch && !(buf = qs__aligned_alloc(scratch))) st = QS_STATUS_NOMEM;
    k->scratch = buf;
    k->pool = NULL;
    if (st == QS_STATUS_OK) st = def->run(k);
    if (def->release && k->state) def->release(k->state);
    k->state = NULL;
    k->scratch = NULL;
    qs__aligned_free(buf);
    for (int o = 0; o < k->n_out; o++)
        if (k->out[o]) k->out[o]->is_const = true;
    return st;
}

static enum qs_status infer_graph(const qs_graph_t *g, qs_view *views, bool *fold,
                                  void *(*alloc)(void *ctx, size_t bytes), void *alloc_ctx,
                                  bool shapes_only, struct qs_diag *diag) {
    const_alloc ca = {alloc, alloc_ctx};
    qs_view *in[64], *out[16];
    for (int i = 0; i < g->n_nodes; i++) {
        const qs_node *n = g->nodes[i];
        const struct qs_op_def *def = qs__op_def(n->op);
        if (!def)
            return qs__diag(diag, QS_STATUS_UNSUPPORTED, "node '%s': unsupported op %s",
                            n->name, n->op_type);
        if (n->n_inputs > (int)QS_COUNTOF(in) || n->n_outputs > (int)QS_COUNTOF(out))
            return qs__diag(diag, QS_STATUS_UNSUPPORTED, "node '%s' (%s): too many inputs/outputs",
                            n->name, n->op_type);
        bool all_const = true;
        for (int k = 0; k < n->n_inputs; k++) {
            in[k] = n->inputs[k] ? &views[n->inputs[k]->id] : NULL;
            if (in[k] && !in[k]->is_const) all_const = false;
        }
        for (int k = 0; k < n->n_outputs; k++) {
            out[k] = n->outputs[k] ? &views[n->outputs[k]->id] : NULL;
            if (out[k]) memset(out[k], 0, sizeof *out[k]);
        }
        qs_kctx k = {
            .node = n, .n_in = n->n_inputs, .n_out = n->n_outputs, .in = in, .out = out,
            .diag = diag, .alloc_const = kctx_alloc, .alloc_ctx = &ca,
            .shapes_only = shapes_only,
        };
        enum qs_status st = def->infer(&k);
        if (st != QS_STATUS_OK) return st;
        bool any_const = false;
        for (int o = 0; o < n->n_outputs; o++) {
            if (!out[o]) continue;
            if (out[o]->dtype == QS_DTYPE_UNDEFINED)
                return qs__diag(diag, QS_STATUS_INTERNAL, "node '%s' (%s): output %d has no type",
                                n->name, n->op_type, o);
            out[o]->numel = qs__numel(out[o]->rank, out[o]->dims);
            any_const |= out[o]->is_const;
        }
        if (fold) fold[i] = any_const;
        if (all_const && !any_const) {
            if ((st = fold_node(def, &k, &ca)) != QS_STATUS_OK) {
                if (st == QS_STATUS_NOMEM) qs__diag(diag, st, "out of memory folding node '%s'", n->name);
                return st;
            }
            if (fold) fold[i] = true;
        }
    }
    return QS_STATUS_OK;
}

enum qs_status qs__infer_graph(const qs_graph_t *g, qs_view *views, bool *fold,
                               void *(*alloc)(void *ctx, size_t bytes), void *alloc_ctx,
                               struct qs_diag *diag) {
    return infer_graph(g, views, fold, alloc, alloc_ctx, false, diag);
}

enum qs_status qs__infer_graph_shapes_only(const qs_graph_t *g, qs_view *views,
                                           void *(*alloc)(void *ctx, size_t bytes),
                                           void *alloc_ctx, struct qs_diag *diag) {
    return infer_graph(g, views, NULL, alloc, alloc_ctx, true, diag);
}

// A list of blocks freed together: the folded values of one inference pass.
typedef struct tmp_block {
    struct tmp_block *next;
    _Alignas(64) unsigned char data[];
} tmp_block;

static void *tmp_alloc(void *ctx, size_t bytes) {
    tmp_block **head = ctx;
    tmp_block *b = qs__aligned_alloc(sizeof *b + bytes);
    if (!b) return NULL;
    b->next = *head;
    *head = b;
    return b->data;
}

static void tmp_free(tmp_block *b) {
    while (b) {
        tmp_block *n = b->next;
        qs__aligned_free(b);
        b = n;
    }
}

enum qs_status qs__graph_infer_shapes(qs_graph_t *g, struct qs_diag *diag) {
    qs_view *views = qs__calloc((size_t)QS_MAX(g->n_tensors, 1), sizeof *views);
    if (!views) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    for (int t = 0; t < g->n_tensors; t++) {
        qs_tensor *x = g->tensors[t];
        if (x->is_initializer) {
            views[t] = x->v;
            views[t].is_const = true;
        }
    }
    for (int i = 0; i < g->n_inputs; i++) {
        qs_tensor *x = g->inputs[i];
        qs_view *v = &views[x->id];
        int64_t dims[QS_MAX_RANK];
        for (int d = 0; d < x->decl_rank; d++) dims[d] = x->decl_dims[d] < 0 ? 1 : x->decl_dims[d];
        qs__view_set_shape(v, x->v.dtype, x->decl_rank, dims);
    }
    tmp_block *blocks = NULL;
    enum qs_status st = qs__infer_graph_shapes_only(g, views, tmp_alloc, &blocks, diag);
    if (st == QS_STATUS_OK) {
        for (int t = 0; t < g->n_tensors; t++) {
            qs_tensor *x = g->tensors[t];
            if (x->is_initializer) continue;
            x->v = views[t];
            x->v.data = NULL;  // folded values are not kept: the graph stays as in the file
            x->v.is_const = false;
        }
    }
    tmp_free(blocks);
    qs__free(views);
    return st;
}
