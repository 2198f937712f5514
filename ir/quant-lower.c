// Quantization annotations and the two forms a quantized graph takes:
//   - the integer form a session runs (QLinearConv & co. on uint8 tensors, quantize and
//     dequantize only at precision boundaries), and
//   - the QDQ form written to ONNX (the fp32 graph with QuantizeLinear/DequantizeLinear
//     pairs), which other runtimes turn into the same integer ops.
// Both are built from one analysis of the annotated graph, so that every tensor has the
// same quantization parameters in both and the engine computes what the export ships.
#include "ir/ir-impl.h"

#include <math.h>
#include <stdio.h>

enum { QDQ_OPSET = 13 };  // per-axis QuantizeLinear/DequantizeLinear

// --- Annotations -------------------------------------------------------------------------

enum qs_status qs_graph_set_tensor_qparams(qs_graph_t *g, int id, const struct qs_tensor_qparams *q,
                                           struct qs_diag *diag) {
    if (id < 0 || id >= g->n_tensors)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "tensor id %d out of range", id);
    bool u8 = q->dtype == QS_DTYPE_U8, s8 = q->dtype == QS_DTYPE_I8;
    if (!(u8 || s8) || !(q->scale > 0) || !isfinite(q->scale) ||
        q->zero_point < (u8 ? 0 : -128) || q->zero_point > (u8 ? 255 : 127))
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "tensor '%s': invalid quantization parameters (scale %g, zero point %d, %s)",
                        g->tensors[id]->name, q->scale, (int)q->zero_point, qs_dtype_name(q->dtype));
    g->tensors[id]->q = *q;
    g->tensors[id]->has_q = true;
    return QS_STATUS_OK;
}

const struct qs_tensor_qparams *qs_graph_tensor_qparams(const qs_graph_t *g, int id) {
    if (id < 0 || id >= g->n_tensors || !g->tensors[id]->has_q) return NULL;
    return &g->tensors[id]->q;
}

static qs_node *layer_node(const qs_graph_t *g, int layer) {
    struct qs_layer_info li;
    if (qs_graph_layer_info(g, layer, &li) != QS_STATUS_OK) return NULL;
    return g->nodes[li.node];
}

enum qs_status qs_graph_set_layer_quant(qs_graph_t *g, int layer, const struct qs_layer_quant *lq,
                                        struct qs_diag *diag) {
    qs_node *n = layer_node(g, layer);
    if (!n) return qs__diag(diag, QS_STATUS_INVALID_ARG, "layer %d out of range", layer);
    if ((lq->w_bits != 8 && lq->w_bits != 32) || (lq->a_bits != 8 && lq->a_bits != 32))
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "layer '%s': bits must be 8 or 32", n->name);
    if (lq->w_bits == 8 && (!lq->weights || !lq->w_scales || lq->w_scale_count < 1))
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "layer '%s': int8 weights or scales missing",
                        n->name);
    n->annot.q = *lq;
    n->annot.w_bits = lq->w_bits;
    n->annot.a_bits = lq->a_bits;
    n->annot.packed = lq->packed;
    return QS_STATUS_OK;
}

void qs_graph_clear_quant(qs_graph_t *g) {
    for (int i = 0; i < g->n_nodes; i++) {
        qs_node *n = g->nodes[i];
        memset(&n->annot.q, 0, sizeof n->annot.q);
        n->annot.w_bits = n->annot.a_bits = 32;
        n->annot.packed = NULL;
    }
    for (int t = 0; t < g->n_tensors; t++) g->tensors[t]->has_q = false;
}

bool qs_graph_is_quantized(const qs_graph_t *g) {
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->annot.w_bits == 8 || g->nodes[i]->annot.a_bits == 8) return true;
    return false;
}

// --- Analysis ----------------------------------------------------------------------------

enum mode {
    M_FLOAT = 0,  // fp32 op on fp32 tensors
    M_LAYER_Q,    // w8a8 layer on the integer kernels
    M_LAYER_W8,   // weight-only int8: dequantized weights, fp32 compute
    M_LAYER_A8,   // int8 activations, fp32 weights: quantize-dequantize the input
    M_PASS_Q,     // moves uint8 bytes unchanged (MaxPool, Reshape, Concat of equal params...)
    M_RELU_Q,     // Relu on uint8: clamp at the zero point
    M_ADD_Q,      // QLinearAdd (possibly with the following Relu fused)
    M_CONCAT_Q,   // QLinearConcat (inputs with different parameters)
    M_POOL_Q,     // QLinearGlobalAveragePool / QLinearAveragePool
    M_FUSED,      // a Relu folded into the M_ADD_Q before it
};

typedef struct {
    const qs_graph_t *g;
    enum mode *mode;           // per node
    bool *hasq;                // per tensor: exists as uint8 in the integer form
    struct qs_tensor_qparams *qp;     // per tensor: its parameters there
    bool *float_out;           // per node (M_LAYER_Q Gemm): writes fp32 directly
} analysis;

static bool is_passthrough(const qs_node *n) {
    switch (n->op) {
    case QS_OP_MAXPOOL: return n->n_outputs == 1;
    case QS_OP_RESHAPE: case QS_OP_FLATTEN: case QS_OP_SQUEEZE: case QS_OP_UNSQUEEZE:
    case QS_OP_TRANSPOSE: case QS_OP_IDENTITY: case QS_OP_SLICE:
        return true;
    case QS_OP_PAD: {  // constant mode with value 0: the uint8 pad value is the zero point
        const char *mode = qs__attr_s(n, "mode", "constant");
        if (strcmp(mode, "constant") != 0) return false;
        if (n->opset < 11) return qs__attr_f(n, "value", 0.0f) == 0.0f;
        if (n->n_inputs > 2 && n->inputs[2]) {
            const qs_tensor *c = n->inputs[2];
            return c->is_initializer && c->v.numel == 1 && qs__view_get_f64(&c->v, 0) == 0.0;
        }
        return true;
    }
    default:
        return false;
    }
}

static bool same_q(const struct qs_tensor_qparams *a, const struct qs_tensor_qparams *b) {
    return a->scale == b->scale && a->zero_point == b->zero_point && a->dtype == b->dtype;
}

static int single_consumer(const qs_graph_t *g, const qs_tensor *t, int *node_out) {
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i]->n_inputs; k++)
            if (g->nodes[i]->inputs[k] == t) {
                count++;
                *node_out = i;
            }
    for (int i = 0; i < g->n_outputs; i++) count += g->outputs[i] == t ? 2 : 0;
    return count == 1;
}

// Is `t` consumed by an op that can take it as uint8?
static bool consumed_as_q(const analysis *a, const qs_tensor *t) {
    const qs_graph_t *g = a->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const qs_node *n = g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] == t) {
                if (n->annot.w_bits == 8 && n->annot.a_bits == 8) return true;
                if (is_passthrough(n) || n->op == QS_OP_ADD || n->op == QS_OP_CONCAT ||
                    n->op == QS_OP_GLOBALAVERAGEPOOL || n->op == QS_OP_AVERAGEPOOL ||
                    n->op == QS_OP_RELU || n->op == QS_OP_MAXPOOL)
                    return true;
            }
    }
    return false;
}

static enum qs_status need_q(const qs_tensor *t, struct qs_diag *diag) {
    if (t->has_q) return QS_STATUS_OK;
    return qs__diag(diag, QS_STATUS_INVALID_STATE,
                    "tensor '%s' has no quantization parameters: calibrate the model first",
                    t->name);
}

static enum qs_status analyse(analysis *a, struct qs_diag *diag) {
    const qs_graph_t *g = a->g;
    enum qs_status st;
    // Tensors an int8 layer reads get quantized where they are produced.
    for (int i = 0; i < g->n_nodes; i++) {
        const qs_node *n = g->nodes[i];
        if (n->annot.a_bits == 8) {
            if ((st = need_q(n->inputs[0], diag))) return st;
            a->hasq[n->inputs[0]->id] = true;
            a->qp[n->inputs[0]->id] = n->inputs[0]->q;
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const qs_node *n = g->nodes[i];
        const qs_tensor *x = n->n_inputs ? n->inputs[0] : NULL, *y = n->outputs[0];
        if (a->mode[i] == M_FUSED) continue;
        if (n->annot.w_bits == 8 && n->annot.a_bits == 8) {
            a->mode[i] = M_LAYER_Q;
            // A Gemm whose result no integer op reads writes fp32 directly (the logits).
            if (n->op == QS_OP_GEMM && !consumed_as_q(a, y)) {
                a->float_out[i] = true;
                continue;
            }
            if ((st = need_q(y, diag))) return st;
            a->hasq[y->id] = true;
            a->qp[y->id] = y->q;
            continue;
        }
        if (n->annot.w_bits == 8) {
            a->mode[i] = M_LAYER_W8;
            continue;
        }
        if (n->annot.a_bits == 8) {
            if ((st = need_q(x, diag))) return st;
            a->mode[i] = M_LAYER_A8;
            continue;
        }
        if (!x || !a->hasq[x->id]) continue;
        if (is_passthrough(n)) {
            a->mode[i] = M_PASS_Q;
            a->hasq[y->id] = true;
            a->qp[y->id] = a->qp[x->id];
        } else if (n->op == QS_OP_RELU) {
            a->mode[i] = M_RELU_Q;
            a->hasq[y->id] = true;
            a->qp[y->id] = a->qp[x->id];
        } else if (n->op == QS_OP_ADD && n->n_inputs == 2 && n->inputs[1] &&
                   a->hasq[n->inputs[1]->id] && y->has_q &&
                   qs__numel(n->inputs[0]->v.rank, n->inputs[0]->v.dims) ==
                       qs__numel(n->inputs[1]->v.rank, n->inputs[1]->v.dims)) {
            a->mode[i] = M_ADD_Q;
            a->hasq[y->id] = true;
            a->qp[y->id] = y->q;
            int c = -1;
            // Add -> Relu (ResNet blocks): one QLinearAdd with the Relu's parameters and
            // a clamp at its zero point.
            if (single_consumer(g, y, &c) && g->nodes[c]->op == QS_OP_RELU &&
                g->nodes[c]->outputs[0]->has_q) {
                const qs_tensor *r = g->nodes[c]->outputs[0];
                a->mode[c] = M_FUSED;
                a->qp[y->id] = r->q;
                a->hasq[r->id] = true;
                a->qp[r->id] = r->q;
            }
        } else if (n->op == QS_OP_CONCAT) {
            bool all = true, equal = true;
            for (int k = 0; k < n->n_inputs; k++) {
                all &= n->inputs[k] && a->hasq[n->inputs[k]->id];
                if (all) equal &= same_q(&a->qp[n->inputs[k]->id], &a->qp[x->id]);
            }
            if (!all) continue;
            if (equal) {
                a->mode[i] = M_PASS_Q;
                a->qp[y->id] = a->qp[x->id];
            } else {
                if (!y->has_q) continue;
                a->mode[i] = M_CONCAT_Q;
                a->qp[y->id] = y->q;
            }
            a->hasq[y->id] = true;
        } else if ((n->op == QS_OP_GLOBALAVERAGEPOOL || n->op == QS_OP_AVERAGEPOOL) && y->has_q) {
            a->mode[i] = M_POOL_Q;
            a->hasq[y->id] = true;
            a->qp[y->id] = y->q;
        }
    }
    return QS_STATUS_OK;
}

// --- Building the lowered graphs ----------------------------------------------------------

typedef struct {
    const qs_graph_t *g;
    qs_graph_t *L;
    analysis a;
    qs_tensor **fl, **qt;      // per g tensor: its fp32 / uint8 form in L
    qs_tensor **scale, **zp;   // per g tensor: scalar initializers of qp[t]
    struct qs_diag *diag;
    bool qdq;                  // building the export form
    int counter;
} lower;

static qs_tensor *new_tensor(lower *l, const char *base, const char *suffix) {
    char name[512];
    snprintf(name, sizeof name, "%s%s", base, suffix);
    return qs__graph_add_tensor(l->L, name);
}

// An initializer owned by L (copied) or borrowed from g.
static qs_tensor *add_init(lower *l, const char *base, const char *suffix, enum qs_dtype dt,
                           int rank, const int64_t *dims, const void *data, bool copy) {
    qs_tensor *t = new_tensor(l, base, suffix);
    if (!t) return NULL;
    qs__view_set_shape(&t->v, dt, rank, dims);
    size_t bytes = qs__view_bytes(&t->v);
    if (copy) {
        void *p = qs__aligned_alloc(bytes);
        if (!p) return NULL;
        if (bytes) memcpy(p, data, bytes);
        t->v.data = p;
        t->owns_data = true;
    } else {
        t->v.data = (void *)data;
    }
    t->v.is_const = true;
    t->is_initializer = true;
    return t;
}

static qs_node *add_node(lower *l, const char *name, const char *op_type, const char *domain,
                         int opset, int n_in, int n_out) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", name);
    qs_node *n = qs__graph_add_node(l->L, buf, op_type, n_in, n_out);
    if (!n) return NULL;
    if (domain[0] && !(n->domain = qs__arena_strdup(&l->L->arena, domain))) return NULL;
    n->op = qs__op_lookup(n->domain, op_type);
    n->opset = opset;
    n->attrs = NULL;
    n->n_attrs = 0;
    return n;
}

// Attributes are shared with g (which outlives L); tensor attributes get a borrowed copy so
// that destroying L never frees g's data.
static bool copy_attrs(lower *l, qs_node *dst, const qs_node *src) {
    dst->n_attrs = src->n_attrs;
    dst->attrs = qs__arena_alloc(&l->L->arena, sizeof(struct qs_attr) * (size_t)(src->n_attrs + 1));
    if (!dst->attrs) return false;
    for (int i = 0; i < src->n_attrs; i++) {
        dst->attrs[i] = src->attrs[i];
        if (src->attrs[i].t) {
            qs_tensor *t = qs__arena_alloc(&l->L->arena, sizeof *t);
            if (!t) return false;
            *t = *src->attrs[i].t;
            t->owns_data = false;
            dst->attrs[i].t = t;
        }
    }
    return true;
}

static bool set_attr_int(lower *l, qs_node *n, const char *name, int64_t v) {
    struct qs_attr *na = qs__arena_alloc(&l->L->arena, sizeof *na * (size_t)(n->n_attrs + 1));
    if (!na) return false;
    int k = 0;
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) != 0) na[k++] = n->attrs[i];
    na[k].name = qs__arena_strdup(&l->L->arena, name);
    na[k].type = QS_ATTR_INT;
    na[k].i = v;
    n->attrs = na;
    n->n_attrs = k + 1;
    return na[k].name != NULL;
}

static bool qinits(lower *l, const qs_tensor *t) {
    if (l->scale[t->id]) return true;
    const struct qs_tensor_qparams *q = &l->a.qp[t->id];
    uint8_t zp8 = (uint8_t)(q->dtype == QS_DTYPE_U8 ? q->zero_point : (int8_t)q->zero_point);
    l->scale[t->id] = add_init(l, t->name, "_scale", QS_DTYPE_F32, 0, NULL, &q->scale, true);
    l->zp[t->id] = add_init(l, t->name, "_zero_point", q->dtype, 0, NULL, &zp8, true);
    return l->scale[t->id] && l->zp[t->id];
}

static qs_tensor *get_float(lower *l, const qs_tensor *t);

static qs_tensor *get_q(lower *l, const qs_tensor *t) {
    if (!qinits(l, t)) return NULL;  // callers read l->scale/zp of t next
    if (l->qt[t->id]) return l->qt[t->id];
    qs_tensor *f = get_float(l, t);
    if (!f || !qinits(l, t)) return NULL;
    qs_tensor *q = new_tensor(l, t->name, "_quantized");
    qs_node *n = q ? add_node(l, q->name, "QuantizeLinear", "", QDQ_OPSET, 3, 1) : NULL;
    if (!n) return NULL;
    n->inputs[0] = f;
    n->inputs[1] = l->scale[t->id];
    n->inputs[2] = l->zp[t->id];
    n->outputs[0] = q;
    return l->qt[t->id] = q;
}

static qs_tensor *dequantize(lower *l, const qs_tensor *t, qs_tensor *q, const char *name) {
    if (!qinits(l, t)) return NULL;
    qs_tensor *f = qs__graph_add_tensor(l->L, name);
    qs_node *n = f ? add_node(l, f->name, "DequantizeLinear", "", QDQ_OPSET, 3, 1) : NULL;
    if (!n) return NULL;
    n->inputs[0] = q;
    n->inputs[1] = l->scale[t->id];
    n->inputs[2] = l->zp[t->id];
    n->outputs[0] = f;
    return f;
}

static qs_tensor *get_float(lower *l, const qs_tensor *t) {
    if (l->fl[t->id]) return l->fl[t->id];
    if (t->is_initializer) {
        qs_tensor *c = qs__graph_add_tensor(l->L, t->name);
        if (!c) return NULL;
        c->v = t->v;
        c->owns_data = false;
        c->is_initializer = true;
        return l->fl[t->id] = c;
    }
    if (!l->qt[t->id]) {
        qs__diag(l->diag, QS_STATUS_INTERNAL, "tensor '%s' has no form in the lowered graph",
                 t->name);
        return NULL;
    }
    return l->fl[t->id] = dequantize(l, t, l->qt[t->id], t->name);
}

// In the QDQ form, a tensor that exists as uint8 in the engine gets Q -> DQ right after its
// producer; consumers read the DQ output, which keeps the original name.
static qs_tensor *qdq_after(lower *l, const qs_tensor *t, qs_tensor *pre) {
    if (!qinits(l, t)) return NULL;
    qs_tensor *q = new_tensor(l, t->name, "_quantized");
    qs_node *n = q ? add_node(l, q->name, "QuantizeLinear", "", QDQ_OPSET, 3, 1) : NULL;
    if (!n) return NULL;
    n->inputs[0] = pre;
    n->inputs[1] = l->scale[t->id];
    n->inputs[2] = l->zp[t->id];
    n->outputs[0] = q;
    l->qt[t->id] = q;
    return l->fl[t->id] = dequantize(l, t, q, t->name);
}

// Weight-side initializers of an int8 layer: int8 weights, scales, zero points, bias.
typedef struct {
    qs_tensor *w, *w_scale, *w_zp, *bias, *bias_scale, *bias_zp;
} qweights;

static enum qs_status weight_inits(lower *l, const qs_node *n, qweights *qw) {
    const struct qs_layer_quant *lq = &n->annot.q;
    const qs_tensor *w = n->inputs[1];
    memset(qw, 0, sizeof *qw);
    int64_t nsc = lq->w_scale_count;
    int8_t *zeros = qs__calloc((size_t)nsc, 1);
    if (!zeros) return QS_STATUS_NOMEM;
    qw->w = add_init(l, w->name, "_quantized", QS_DTYPE_I8, w->v.rank, w->v.dims, lq->weights, false);
    qw->w_scale = add_init(l, w->name, "_scale", QS_DTYPE_F32, nsc > 1, &nsc, lq->w_scales, true);
    qw->w_zp = add_init(l, w->name, "_zero_point", QS_DTYPE_I8, nsc > 1, &nsc, zeros, true);
    qs__free(zeros);
    if (!qw->w || !qw->w_scale || !qw->w_zp) return QS_STATUS_NOMEM;
    const qs_tensor *b = n->n_inputs > 2 ? n->inputs[2] : NULL;
    if (b && lq->bias && n->annot.a_bits == 8) {
        int64_t nb = b->v.numel;
        qw->bias = add_init(l, b->name, "_quantized", QS_DTYPE_I32, 1, &nb, lq->bias, false);
        if (!qw->bias) return QS_STATUS_NOMEM;
        if (l->qdq) {  // bias scale s_x * s_w[n], zero point 0
            float *bs = qs__malloc(sizeof(float) * (size_t)nb);
            int32_t *bz = qs__calloc((size_t)nb, sizeof(int32_t));
            if (!bs || !bz) {
                qs__free(bs);
                qs__free(bz);
                return QS_STATUS_NOMEM;
            }
            float sx = l->a.qp[n->inputs[0]->id].scale;
            for (int64_t i = 0; i < nb; i++) bs[i] = sx * lq->w_scales[nsc > 1 ? i : 0];
            qw->bias_scale = add_init(l, b->name, "_scale", QS_DTYPE_F32, 1, &nb, bs, true);
            qw->bias_zp = add_init(l, b->name, "_zero_point", QS_DTYPE_I32, 1, &nb, bz, true);
            qs__free(bs);
            qs__free(bz);
            if (!qw->bias_scale || !qw->bias_zp) return QS_STATUS_NOMEM;
        }
    }
    return QS_STATUS_OK;
}

// DequantizeLinear of a constant (weights or bias) in the QDQ form or for weight-only layers.
static qs_tensor *dq_const(lower *l, const char *name, qs_tensor *q, qs_tensor *s, qs_tensor *z,
                           int axis) {
    qs_tensor *f = qs__graph_add_tensor(l->L, name);
    qs_node *n = f ? add_node(l, f->name, "DequantizeLinear", "", QDQ_OPSET, 3, 1) : NULL;
    if (!n) return NULL;
    n->inputs[0] = q;
    n->inputs[1] = s;
    n->inputs[2] = z;
    n->outputs[0] = f;
    if (s->v.rank == 1 && !set_attr_int(l, n, "axis", axis)) return NULL;
    return f;
}

// Axis of the output channel in a layer's weight tensor.
static int weight_axis(const qs_node *n) {
    if (n->op == QS_OP_CONV) return 0;
    if (n->op == QS_OP_GEMM) return qs__attr_i(n, "transB", 0) ? 0 : 1;
    return n->inputs[1]->v.rank - 1;  // MatMul: columns of B
}

// Copies node n as a float op: inputs in fp32, outputs keep their names.
static qs_node *copy_float(lower *l, const qs_node *n, int n_in) {
    qs_node *m = add_node(l, n->name, n->op_type, n->domain, n->opset, n_in, n->n_outputs);
    if (!m || !copy_attrs(l, m, n)) return NULL;
    // Written at opset 13, where Softmax's default axis is -1 instead of 1: keep the axis
    // explicit (check_opset13 made sure the two meanings agree on this shape).
    if (l->qdq && n->opset < 13 && (n->op == QS_OP_SOFTMAX || n->op == QS_OP_LOGSOFTMAX) &&
        !set_attr_int(l, m, "axis", qs__attr_i(n, "axis", 1)))
        return NULL;
    m->act = n->act;
    for (int k = 0; k < n_in && k < n->n_inputs; k++)
        if (n->inputs[k] && !(m->inputs[k] = get_float(l, n->inputs[k]))) return NULL;
    return m;
}

static enum qs_status set_float_outputs(lower *l, const qs_node *n, qs_node *m) {
    for (int o = 0; o < n->n_outputs; o++) {
        if (!n->outputs[o]) continue;
        qs_tensor *t = qs__graph_add_tensor(l->L, n->outputs[o]->name);
        if (!t) return QS_STATUS_NOMEM;
        m->outputs[o] = l->fl[n->outputs[o]->id] = t;
    }
    return QS_STATUS_OK;
}

// Outputs of a copied fp32 op; in the QDQ form a tensor the engine keeps as uint8 gets
// Q -> DQ after it, so that other runtimes quantize it with the same parameters.
static enum qs_status finish_outputs(lower *l, const qs_node *n, qs_node *m) {
    const qs_tensor *y = n->outputs[0];
    if (!l->qdq || !l->a.hasq[y->id]) return set_float_outputs(l, n, m);
    for (int o = 1; o < n->n_outputs; o++)
        if (n->outputs[o]) return QS_STATUS_UNSUPPORTED;
    qs_tensor *pre = new_tensor(l, y->name, "_prequant");
    if (!pre) return QS_STATUS_NOMEM;
    m->outputs[0] = pre;
    return qdq_after(l, y, pre) ? QS_STATUS_OK : QS_STATUS_NOMEM;
}

static enum qs_status lower_layer_q(lower *l, int i) {
    const qs_node *n = l->g->nodes[i];
    const qs_tensor *x = n->inputs[0], *y = n->outputs[0];
    qweights qw;
    enum qs_status st = weight_inits(l, n, &qw);
    if (st) return st;
    qs_tensor *xq = get_q(l, x);
    if (!xq) return QS_STATUS_NOMEM;
    bool fout = l->a.float_out[i];
    if (!fout && !qinits(l, y)) return QS_STATUS_NOMEM;
    qs_node *m;
    if (n->op == QS_OP_CONV) {
        m = add_node(l, n->name, "QLinearConv", "", QS_MAX(n->opset, 10), 9, 1);
        if (!m || !copy_attrs(l, m, n)) return QS_STATUS_NOMEM;
        qs_tensor *in[9] = {xq, l->scale[x->id], l->zp[x->id], qw.w, qw.w_scale, qw.w_zp,
                            l->scale[y->id], l->zp[y->id], qw.bias};
        memcpy(m->inputs, in, sizeof in);
    } else if (n->op == QS_OP_GEMM) {
        // onnxruntime's QGemm: A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp; without
        // y_scale/y_zp it writes fp32.
        m = add_node(l, n->name, "QGemm", "com.microsoft", 1, fout ? 7 : 9, 1);
        if (!m || !copy_attrs(l, m, n)) return QS_STATUS_NOMEM;
        qs_tensor *in[9] = {xq, l->scale[x->id], l->zp[x->id], qw.w, qw.w_scale, qw.w_zp,
                            qw.bias, fout ? NULL : l->scale[y->id], fout ? NULL : l->zp[y->id]};
        memcpy(m->inputs, in, sizeof(qs_tensor *) * (size_t)m->n_inputs);
    } else {
        m = add_node(l, n->name, "QLinearMatMul", "", QS_MAX(n->opset, 10), 8, 1);
        if (!m || !copy_attrs(l, m, n)) return QS_STATUS_NOMEM;
        qs_tensor *in[8] = {xq, l->scale[x->id], l->zp[x->id], qw.w, qw.w_scale, qw.w_zp,
                            l->scale[y->id], l->zp[y->id]};
        memcpy(m->inputs, in, sizeof in);
    }
    m->act = n->act;
    m->annot.packed = n->annot.packed;
    qs_tensor *out = fout ? qs__graph_add_tensor(l->L, y->name) : new_tensor(l, y->name, "_quantized");
    if (!out) return QS_STATUS_NOMEM;
    m->outputs[0] = out;
    if (fout) l->fl[y->id] = out;
    else l->qt[y->id] = out;
    return QS_STATUS_OK;
}

// QDQ form of an int8 layer: DQ(Q(x)) -> op with DQ(weights) [and DQ(bias)] -> Q -> DQ.
static enum qs_status lower_layer_qdq(lower *l, int i) {
    const qs_node *n = l->g->nodes[i];
    const qs_tensor *y = n->outputs[0];
    qweights qw;
    enum qs_status st = weight_inits(l, n, &qw);
    if (st) return st;
    qs_node *m = copy_float(l, n, n->n_inputs);
    if (!m) return QS_STATUS_NOMEM;
    char name[512];
    snprintf(name, sizeof name, "%s_dequantized", n->inputs[1]->name);
    if (!(m->inputs[1] = dq_const(l, name, qw.w, qw.w_scale, qw.w_zp, weight_axis(n))))
        return QS_STATUS_NOMEM;
    if (qw.bias) {
        snprintf(name, sizeof name, "%s_dequantized", n->inputs[2]->name);
        if (!(m->inputs[2] = dq_const(l, name, qw.bias, qw.bias_scale, qw.bias_zp, 0)))
            return QS_STATUS_NOMEM;
    }
    if (l->a.float_out[i]) return set_float_outputs(l, n, m);
    qs_tensor *pre = new_tensor(l, y->name, "_prequant");
    if (!pre) return QS_STATUS_NOMEM;
    m->outputs[0] = pre;
    return qdq_after(l, y, pre) ? QS_STATUS_OK : QS_STATUS_NOMEM;
}

static enum qs_status lower_node(lower *l, int i) {
    const qs_graph_t *g = l->g;
    const qs_node *n = g->nodes[i];
    const qs_tensor *x = n->n_inputs ? n->inputs[0] : NULL, *y = n->outputs[0];
    qs_node *m;
    char name[512];
    switch (l->a.mode[i]) {
    case M_FUSED:
        return QS_STATUS_OK;
    case M_LAYER_Q:
        return l->qdq ? lower_layer_qdq(l, i) : lower_layer_q(l, i);
    case M_LAYER_W8: {
        qweights qw;
        enum qs_status st = weight_inits(l, n, &qw);
        if (st) return st;
        if (!(m = copy_float(l, n, n->n_inputs))) return QS_STATUS_NOMEM;
        snprintf(name, sizeof name, "%s_dequantized", n->inputs[1]->name);
        if (!(m->inputs[1] = dq_const(l, name, qw.w, qw.w_scale, qw.w_zp, weight_axis(n))))
            return QS_STATUS_NOMEM;
        return finish_outputs(l, n, m);
    }
    case M_LAYER_A8: {
        // Fake-quantized input (there is no integer kernel for fp32 weights).
        qs_tensor *xq = get_q(l, x);
        if (!xq) return QS_STATUS_NOMEM;
        snprintf(name, sizeof name, "%s_fakequant", x->name);
        qs_tensor *xf = dequantize(l, x, xq, name);
        if (!xf || !(m = copy_float(l, n, n->n_inputs))) return QS_STATUS_NOMEM;
        m->inputs[0] = xf;
        return finish_outputs(l, n, m);
    }
    default:
        break;
    }
    if (l->qdq) {
        // The export form runs every other op in fp32; tensors the engine keeps as uint8
        // get Q -> DQ after their producer so that other runtimes quantize them the same way.
        const qs_node *fuse = NULL;
        int c = -1;
        if (l->a.mode[i] == M_ADD_Q && single_consumer(g, y, &c) && l->a.mode[c] == M_FUSED)
            fuse = g->nodes[c];
        if (!(m = copy_float(l, n, n->n_inputs))) return QS_STATUS_NOMEM;
        if (fuse) {  // Add -> Relu -> Q -> DQ
            qs_tensor *sum = qs__graph_add_tensor(l->L, y->name);
            if (!sum) return QS_STATUS_NOMEM;
            m->outputs[0] = l->fl[y->id] = sum;
            const qs_tensor *r = fuse->outputs[0];
            qs_node *rn = add_node(l, fuse->name, "Relu", "", fuse->opset, 1, 1);
            qs_tensor *pre = new_tensor(l, r->name, "_prequant");
            if (!rn || !pre) return QS_STATUS_NOMEM;
            rn->inputs[0] = sum;
            rn->outputs[0] = pre;
            return qdq_after(l, r, pre) ? QS_STATUS_OK : QS_STATUS_NOMEM;
        }
        return finish_outputs(l, n, m);
    }
    switch (l->a.mode[i]) {
    case M_PASS_Q: {
        if (!(m = add_node(l, n->name, n->op_type, n->domain, n->opset, n->n_inputs, 1)) ||
            !copy_attrs(l, m, n))
            return QS_STATUS_NOMEM;
        if (n->op == QS_OP_CONCAT) {
            for (int k = 0; k < n->n_inputs; k++)
                if (!(m->inputs[k] = get_q(l, n->inputs[k]))) return QS_STATUS_NOMEM;
        } else {
            if (!(m->inputs[0] = get_q(l, x))) return QS_STATUS_NOMEM;
            for (int k = 1; k < n->n_inputs; k++)
                if (n->inputs[k] && !(m->inputs[k] = get_float(l, n->inputs[k]))) return QS_STATUS_NOMEM;
            if (n->op == QS_OP_PAD && n->opset >= 11) {  // pad with the zero point
                if (!qinits(l, x)) return QS_STATUS_NOMEM;
                if (m->n_inputs < 3) {
                    qs_tensor **in = qs__arena_alloc(&l->L->arena, sizeof(qs_tensor *) * 4);
                    if (!in) return QS_STATUS_NOMEM;
                    memcpy(in, m->inputs, sizeof(qs_tensor *) * (size_t)m->n_inputs);
                    m->inputs = in;
                    m->n_inputs = 3;
                }
                m->inputs[2] = l->zp[x->id];
            }
        }
        qs_tensor *out = new_tensor(l, y->name, "_quantized");
        if (!out) return QS_STATUS_NOMEM;
        m->outputs[0] = l->qt[y->id] = out;
        if (n->op == QS_OP_PAD && n->opset < 11) return QS_STATUS_UNSUPPORTED;
        return QS_STATUS_OK;
    }
    case M_RELU_Q: {
        // Relu on uint8 = Clip(q, zero_point, 255).
        if (!qinits(l, x)) return QS_STATUS_NOMEM;
        uint8_t hi = 255;
        qs_tensor *top = add_init(l, y->name, "_clip_max", QS_DTYPE_U8, 0, NULL, &hi, true);
        qs_tensor *out = new_tensor(l, y->name, "_quantized");
        if (!top || !out || !(m = add_node(l, n->name, "Clip", "", 13, 3, 1))) return QS_STATUS_NOMEM;
        if (!(m->inputs[0] = get_q(l, x))) return QS_STATUS_NOMEM;
        m->inputs[1] = l->zp[x->id];
        m->inputs[2] = top;
        m->outputs[0] = l->qt[y->id] = out;
        return QS_STATUS_OK;
    }
    case M_ADD_Q: {
        const qs_tensor *b = n->inputs[1];
        const qs_tensor *res = y;
        int c = -1;
        bool relu = single_consumer(g, y, &c) && l->a.mode[c] == M_FUSED;
        if (relu) res = g->nodes[c]->outputs[0];
        qs_tensor *aq = get_q(l, x), *bq = get_q(l, b);
        if (!aq || !bq || !qinits(l, x) || !qinits(l, b) || !qinits(l, res)) return QS_STATUS_NOMEM;
        if (!(m = add_node(l, n->name, "QLinearAdd", "com.microsoft", 1, 8, 1))) return QS_STATUS_NOMEM;
        qs_tensor *in[8] = {aq, l->scale[x->id], l->zp[x->id], bq, l->scale[b->id], l->zp[b->id],
                            l->scale[res->id], l->zp[res->id]};
        memcpy(m->inputs, in, sizeof in);
        if (relu) {
            m->act.kind = QS_ACT_RELU;
            m->act.lo = 0.0f;
            m->act.hi = INFINITY;
        }
        qs_tensor *out = new_tensor(l, res->name, "_quantized");
        if (!out) return QS_STATUS_NOMEM;
        m->outputs[0] = l->qt[res->id] = out;
        if (relu) l->qt[y->id] = NULL;
        return QS_STATUS_OK;
    }
    case M_CONCAT_Q: {
        if (!qinits(l, y)) return QS_STATUS_NOMEM;
        if (!(m = add_node(l, n->name, "QLinearConcat", "com.microsoft", 1, 2 + 3 * n->n_inputs, 1)) ||
            !copy_attrs(l, m, n))
            return QS_STATUS_NOMEM;
        m->inputs[0] = l->scale[y->id];
        m->inputs[1] = l->zp[y->id];
        for (int k = 0; k < n->n_inputs; k++) {
            const qs_tensor *t = n->inputs[k];
            if (!(m->inputs[2 + 3 * k] = get_q(l, t)) || !qinits(l, t)) return QS_STATUS_NOMEM;
            m->inputs[3 + 3 * k] = l->scale[t->id];
            m->inputs[4 + 3 * k] = l->zp[t->id];
        }
        qs_tensor *out = new_tensor(l, y->name, "_quantized");
        if (!out) return QS_STATUS_NOMEM;
        m->outputs[0] = l->qt[y->id] = out;
        return QS_STATUS_OK;
    }
    case M_POOL_Q: {
        bool global = n->op == QS_OP_GLOBALAVERAGEPOOL;
        if (!qinits(l, x) || !qinits(l, y)) return QS_STATUS_NOMEM;
        if (!(m = add_node(l, n->name, global ? "QLinearGlobalAveragePool" : "QLinearAveragePool",
                           "com.microsoft", 1, 5, 1)) ||
            !copy_attrs(l, m, n))
            return QS_STATUS_NOMEM;
        if (!(m->inputs[0] = get_q(l, x))) return QS_STATUS_NOMEM;
        m->inputs[1] = l->scale[x->id];
        m->inputs[2] = l->zp[x->id];
        m->inputs[3] = l->scale[y->id];
        m->inputs[4] = l->zp[y->id];
        if (global && !set_attr_int(l, m, "channels_last", 0)) return QS_STATUS_NOMEM;
        qs_tensor *out = new_tensor(l, y->name, "_quantized");
        if (!out) return QS_STATUS_NOMEM;
        m->outputs[0] = l->qt[y->id] = out;
        return QS_STATUS_OK;
    }
    default:
        if (!(m = copy_float(l, n, n->n_inputs))) return QS_STATUS_NOMEM;
        return finish_outputs(l, n, m);
    }
}

// The QDQ form needs opset 13 for per-axis (de)quantization, and an ONNX file has one
// opset per domain: ops whose meaning changed before 13 cannot be carried over as they are.
static enum qs_status check_opset13(const qs_graph_t *g, struct qs_diag *diag) {
    for (int i = 0; i < g->n_nodes; i++) {
        const qs_node *n = g->nodes[i];
        if (n->opset >= 13) continue;
        bool bad = false;
        switch (n->op) {
        case QS_OP_SPLIT: case QS_OP_SQUEEZE: case QS_OP_UNSQUEEZE: case QS_OP_REDUCESUM:
        case QS_OP_CLIP: case QS_OP_PAD: case QS_OP_DROPOUT:
            bad = true;
            break;
        case QS_OP_SLICE:
            bad = n->opset < 10;
            break;
        case QS_OP_SOFTMAX: case QS_OP_LOGSOFTMAX: {
            // Same result when the dims after the axis (other than the last) are all 1.
            const qs_view *x = &n->inputs[0]->v;
            int64_t axis = qs__attr_i(n, "axis", 1);
            if (axis < 0) axis += x->rank;
            for (int d = (int)axis + 1; d < x->rank; d++) bad |= x->dims[d] != 1;
            break;
        }
        default:
            break;
        }
        if (bad)
            return qs__diag(diag, QS_STATUS_UNSUPPORTED,
                            "node '%s' (%s) of opset %d cannot be written at opset 13, which "
                            "per-channel QDQ needs", n->name, n->op_type, n->opset);
    }
    return QS_STATUS_OK;
}

static enum qs_status build(const qs_graph_t *g, bool qdq, qs_graph_t **out, struct qs_diag *diag) {
    if (qdq && g->opset < QDQ_OPSET) {
        enum qs_status st = check_opset13(g, diag);
        if (st) return st;
    }
    lower l = {.g = g, .diag = diag, .qdq = qdq};
    enum qs_status st = QS_STATUS_NOMEM;
    size_t nt = (size_t)QS_MAX(g->n_tensors, 1), nn = (size_t)QS_MAX(g->n_nodes, 1);
    l.a.g = g;
    l.a.mode = qs__calloc(nn, sizeof *l.a.mode);
    l.a.float_out = qs__calloc(nn, sizeof(bool));
    l.a.hasq = qs__calloc(nt, sizeof(bool));
    l.a.qp = qs__calloc(nt, sizeof *l.a.qp);
    l.fl = qs__calloc(nt, sizeof *l.fl);
    l.qt = qs__calloc(nt, sizeof *l.qt);
    l.scale = qs__calloc(nt, sizeof *l.scale);
    l.zp = qs__calloc(nt, sizeof *l.zp);
    if (!l.a.mode || !l.a.float_out || !l.a.hasq || !l.a.qp || !l.fl || !l.qt || !l.scale || !l.zp)
        goto done;
    if ((st = analyse(&l.a, diag)) != QS_STATUS_OK) goto done;
    st = QS_STATUS_NOMEM;
    if (qs__graph_create(&l.L) != QS_STATUS_OK) goto done;
    qs_graph_t *L = l.L;
    L->path = qs__arena_strdup(&L->arena, g->path ? g->path : "");
    L->producer_name = qs__arena_strdup(&L->arena, "qsearch");
    L->producer_version = qs__arena_strdup(&L->arena, QS_VERSION_STRING);
    L->graph_name = qs__arena_strdup(&L->arena, g->graph_name ? g->graph_name : "graph");
    L->ir_version = QS_MAX(g->ir_version, 7);
    L->opset = g->opset;
    L->n_opsets = 2;
    L->opset_domains = qs__arena_alloc(&L->arena, sizeof(char *) * 2);
    L->opset_versions = qs__arena_alloc(&L->arena, sizeof(int64_t) * 2);
    L->inputs = qs__arena_alloc(&L->arena, sizeof(qs_tensor *) * (size_t)(g->n_inputs + 1));
    L->outputs = qs__arena_alloc(&L->arena, sizeof(qs_tensor *) * (size_t)(g->n_outputs + 1));
    if (!L->path || !L->producer_name || !L->producer_version || !L->graph_name ||
        !L->opset_domains || !L->opset_versions || !L->inputs || !L->outputs)
        goto done;
    L->opset_domains[0] = qs__arena_strdup(&L->arena, "");
    L->opset_versions[0] = qdq ? QS_MAX(g->opset, QDQ_OPSET) : g->opset;
    L->opset_domains[1] = qs__arena_strdup(&L->arena, "com.microsoft");
    L->opset_versions[1] = 1;
    if (!L->opset_domains[0] || !L->opset_domains[1]) goto done;
    if (qdq) L->opset = (int)L->opset_versions[0];
    for (int i = 0; i < g->n_inputs; i++) {
        const qs_tensor *t = g->inputs[i];
        qs_tensor *c = qs__graph_add_tensor(L, t->name);
        if (!c) goto done;
        c->v = t->v;
        c->is_input = true;
        c->decl_rank = t->decl_rank;
        memcpy(c->decl_dims, t->decl_dims, sizeof c->decl_dims);
        memcpy(c->dim_param, t->dim_param, sizeof c->dim_param);
        L->inputs[L->n_inputs++] = l.fl[t->id] = c;
        // In the QDQ form a quantized graph input gets Q -> DQ at once.
        if (qdq && l.a.hasq[t->id] && !qdq_after(&l, t, c)) goto done;
    }
    for (int i = 0; i < g->n_nodes; i++)
        if ((st = lower_node(&l, i)) != QS_STATUS_OK) {
            if (st == QS_STATUS_UNSUPPORTED)
                qs__diag(diag, st, "node '%s' (%s): cannot run it in int8", g->nodes[i]->name,
                         g->nodes[i]->op_type);
            goto done;
        }
    st = QS_STATUS_NOMEM;
    for (int i = 0; i < g->n_outputs; i++) {
        const qs_tensor *t = g->outputs[i];
        qs_tensor *f = get_float(&l, t);
        if (!f) goto done;
        f->is_output = true;
        f->decl_rank = t->decl_rank;
        memcpy(f->decl_dims, t->decl_dims, sizeof f->decl_dims);
        memcpy(f->dim_param, t->dim_param, sizeof f->dim_param);
        L->outputs[L->n_outputs++] = f;
    }
    // Drops what no node reads, e.g. the fp32 copies of weights that were replaced by their
    // int8 form.
    qs__graph_remove_nodes(L, NULL);
    if ((st = qs__graph_toposort(L, diag)) != QS_STATUS_OK) goto done;
    if ((st = qs__graph_infer_shapes(L, diag)) != QS_STATUS_OK) goto done;
    *out = L;
    l.L = NULL;
done:
    if (st == QS_STATUS_NOMEM) qs__diag(diag, st, "out of memory lowering the quantized graph");
    qs_graph_destroy(l.L);
    qs__free(l.a.mode);
    qs__free(l.a.float_out);
    qs__free(l.a.hasq);
    qs__free(l.a.qp);
    qs__free(l.fl);
    qs__free(l.qt);
    qs__free(l.scale);
    qs__free(l.zp);
    return st;
}

enum qs_status qs__graph_lower_quant(const qs_graph_t *g, qs_graph_t **out, struct qs_diag *diag) {
    return build(g, false, out, diag);
}

enum qs_status qs__graph_lower_qdq(const qs_graph_t *g, qs_graph_t **out, struct qs_diag *diag) {
    return build(g, true, out, diag);
}
