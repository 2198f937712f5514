// Per-node profiling of sessions: what really runs after lowering, fusion and folding, and
// how long each node takes. Latency tables are built from these timings.
#include "ir/ir-impl.h"

#include <time.h>


static bool is_layer_op(enum qs_op op) {
    switch (op) {
    case QS_OP_CONV: case QS_OP_GEMM: case QS_OP_MATMUL: case QS_OP_QLINEARCONV:
    case QS_OP_QGEMM: case QS_OP_QLINEARMATMUL:
        return true;
    default:
        return false;
    }
}

// Input index of the weight of a layer op (-1 when none is constant).
static int weight_input(const qs_node *n, const qs_view *const *in, int n_in) {
    int w;
    switch (n->op) {
    case QS_OP_QLINEARCONV: case QS_OP_QGEMM: case QS_OP_QLINEARMATMUL: w = 3; break;
    case QS_OP_MATMUL: w = n_in > 1 && in[1] && in[1]->is_const ? 1 : 0; break;
    case QS_OP_CONV: case QS_OP_GEMM: w = 1; break;
    default: return -1;
    }
    return w < n_in && in[w] && in[w]->is_const ? w : -1;
}

static float zero_fraction(const qs_view *v) {
    if (!v->data || v->numel <= 0) return 0.0f;
    int64_t zeros = 0;
    if (v->dtype == QS_DTYPE_F32) {
        const float *p = v->data;
        for (int64_t i = 0; i < v->numel; i++) zeros += p[i] == 0.0f;
    } else if (v->dtype == QS_DTYPE_I8 || v->dtype == QS_DTYPE_U8) {
        const uint8_t *p = v->data;
        for (int64_t i = 0; i < v->numel; i++) zeros += p[i] == 0;
    } else {
        return 0.0f;
    }
    return (float)((double)zeros / (double)v->numel);
}

static void window_attrs(const qs_node *n, const qs_view *const *in, int n_in,
                         struct qs_prof_node *p) {
    bool conv = n->op == QS_OP_CONV || n->op == QS_OP_QLINEARCONV || n->op == QS_OP_CONVINTEGER;
    bool pool = n->op == QS_OP_MAXPOOL || n->op == QS_OP_AVERAGEPOOL ||
                n->op == QS_OP_QLINEARAVERAGEPOOL;
    if (!conv && !pool) return;
    p->has_window = true;
    p->kernel[0] = p->kernel[1] = p->stride[0] = p->stride[1] = 1;
    p->dilation[0] = p->dilation[1] = 1;
    p->group = 1;
    int nk = 0, ns = 0, np = 0, nd = 0;
    const int64_t *k = qs__attr_ints(n, "kernel_shape", &nk);
    const int64_t *s = qs__attr_ints(n, "strides", &ns);
    const int64_t *pd = qs__attr_ints(n, "pads", &np);
    const int64_t *d = qs__attr_ints(n, "dilations", &nd);
    if (conv && !nk) {
        int wi = n->op == QS_OP_QLINEARCONV ? 3 : 1;
        const qs_view *w = wi < n_in ? in[wi] : NULL;
        for (int i = 2; w && i < w->rank && i < 4; i++) p->kernel[i - 2] = w->dims[i];
    }
    for (int i = 0; i < nk && i < 2; i++) p->kernel[i] = k[i];
    for (int i = 0; i < ns && i < 2; i++) p->stride[i] = s[i];
    for (int i = 0; i < nd && i < 2; i++) p->dilation[i] = d[i];
    // ONNX pads: [begin..., end...]; stored as top, left, bottom, right.
    int half = np / 2;
    for (int i = 0; i < half && i < 2; i++) {
        p->pads[i] = pd[i];
        p->pads[2 + i] = pd[half + i];
    }
    if (conv) p->group = qs__attr_i(n, "group", 1);
}

static void describe(const qs_node *n, const qs_view *const *in, int n_in,
                     const qs_view *const *out, int n_out, struct qs_prof_node *p) {
    memset(p, 0, sizeof *p);
    p->name = n->name;
    p->op_type = n->op_type;
    p->layer = -1;
    p->n_inputs = n_in;
    p->n_outputs = n_out;
    for (int j = 0; j < n_in && j < QS_PROF_MAX_IO; j++) {
        if (!n->inputs[j] || !in[j]) continue;
        qs__view_info(in[j], n->inputs[j], &p->inputs[j]);
        p->input_const[j] = in[j]->is_const;
    }
    for (int j = 0; j < n_out && j < 2; j++)
        if (n->outputs[j] && out[j]) qs__view_info(out[j], n->outputs[j], &p->outputs[j]);
    window_attrs(n, in, n_in, p);
    p->fused_activation = n->act.kind == QS_ACT_RELU ? "Relu"
                          : n->act.kind == QS_ACT_CLIP ? "Clip" : NULL;
    // A session's Conv with a residual Add fused (4th input, see ir/ops/conv.c).
    if (n->op == QS_OP_CONV && n_in > 3 && n->inputs[3])
        p->fused_activation = n->act.kind == QS_ACT_RELU ? "Add+Relu" : "Add";
    p->w_bits = p->a_bits = 32;
    int w = is_layer_op(n->op) ? weight_input(n, in, n_in) : -1;
    if (w >= 0) p->weight_sparsity = zero_fraction(in[w]);
}

// As qs_graph_layer_info counts layers (ir/layers.c): Conv/Gemm with a constant weight,
// MatMul with a constant operand.
static bool is_layer_node(const qs_node *n) {
    bool c0 = n->n_inputs > 0 && n->inputs[0] && n->inputs[0]->is_initializer;
    bool c1 = n->n_inputs > 1 && n->inputs[1] && n->inputs[1]->is_initializer;
    return ((n->op == QS_OP_CONV || n->op == QS_OP_GEMM) && c1) ||
           (n->op == QS_OP_MATMUL && (c0 || c1));
}

// Layer index of the node named `name` in `g` (a layer op), or -1; its bits.
static int layer_of(const qs_graph_t *g, const char *name, int *bits_w, int *bits_a) {
    int l = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const qs_node *n = g->nodes[i];
        if (!is_layer_node(n)) continue;
        if (!strcmp(n->name, name)) {
            *bits_w = n->annot.w_bits;
            *bits_a = n->annot.a_bits;
            return l;
        }
        l++;
    }
    return -1;
}

enum qs_status qs_graph_node_prof_info(const qs_graph_t *g, int i, struct qs_prof_node *p) {
    if (!g || !p || i < 0 || i >= g->n_nodes) return QS_STATUS_INVALID_ARG;
    const qs_node *n = g->nodes[i];
    const qs_view *in[64] = {0}, *out[8] = {0};
    int n_in = QS_MIN(n->n_inputs, 64), n_out = QS_MIN(n->n_outputs, 8);
    for (int j = 0; j < n_in; j++) in[j] = n->inputs[j] ? &n->inputs[j]->v : NULL;
    for (int j = 0; j < n_out; j++) out[j] = n->outputs[j] ? &n->outputs[j]->v : NULL;
    // At graph level only initializers carry data; the view's is_const says the same.
    describe(n, in, n_in, out, n_out, p);
    p->weight_sparsity = 0.0f;  // sessions only: counting zeros costs a pass over the weights
    p->n_inputs = n->n_inputs;
    p->n_outputs = n->n_outputs;
    for (int j = 0; j < n_in && j < QS_PROF_MAX_IO; j++)
        p->input_const[j] = n->inputs[j] && n->inputs[j]->is_initializer;
    if (is_layer_op(n->op)) {
        int wb = 32, ab = 32;
        p->layer = layer_of(g, n->name, &wb, &ab);
        if (p->layer >= 0) {
            p->w_bits = wb;
            p->a_bits = ab;
        }
    }
    return QS_STATUS_OK;
}

int qs_session_exec_count(const qs_session_t *s) {
    return qs__session_parts(s).n_exec;
}

enum qs_status qs_session_exec_info(const qs_session_t *s, int i, struct qs_prof_node *p) {
    const struct qs__session_parts sp = qs__session_parts(s);
    if (i < 0 || i >= sp.n_exec || !p) return QS_STATUS_INVALID_ARG;
    const qs_kctx *k = &sp.exec[i];
    describe(k->node, (const qs_view *const *)k->in, k->n_in, (const qs_view *const *)k->out,
             k->n_out, p);
    if (is_layer_op(k->node->op)) {
        int wb = 32, ab = 32;
        p->layer = layer_of(sp.src, k->node->name, &wb, &ab);
        if (p->layer >= 0) {
            p->w_bits = wb;
            p->a_bits = ab;
        }
    }
    return QS_STATUS_OK;
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void observe(qs_session_observer fn, void *user, const qs_tensor *t, const qs_view *v) {
    struct qs_tensor_info info;
    qs__view_info(v, t, &info);
    fn(user, &info, v->data);
}

enum qs_status qs_session_run_profiled(qs_session_t *s, int64_t *ns, int64_t *total_ns,
                                       struct qs_diag *diag) {
    const struct qs__session_parts sp = qs__session_parts(s);
    qs_kctx *exec = sp.exec;
    const int n = sp.n_exec;
    qs_session_observer ob = sp.observer;
    void *user = sp.observer_user;
    int64_t t_start = now_ns();
    if (ob) {
        // Graph inputs are the first nodes' inputs; their views live in the session.
        for (int e = 0; e < n; e++)
            for (int j = 0; j < exec[e].n_in; j++) {
                const qs_tensor *t = exec[e].node->inputs[j];
                if (!t || !t->is_input) continue;
                bool seen = false;  // once per input, at its first use
                for (int f = 0; f <= e && !seen; f++)
                    for (int i = 0; i < (f < e ? exec[f].n_in : j) && !seen; i++)
                        seen = exec[f].node->inputs[i] == t;
                if (!seen) observe(ob, user, t, exec[e].in[j]);
            }
    }
    int64_t t0 = now_ns();
    for (int e = 0; e < n; e++) {
        // A fused Conv + Add runs as its separate nodes while an observer is set.
        enum qs_status st = qs__session_run_exec(s, e, diag);
        if (st != QS_STATUS_OK) return st;
        int64_t t1 = now_ns();
        if (ns) ns[e] = t1 - t0;
        if (ob) qs__session_observe_exec(s, e);
        t0 = ob ? now_ns() : t1;
    }
    if (total_ns) *total_ns = now_ns() - t_start;
    return QS_STATUS_OK;
}
