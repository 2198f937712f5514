// Costs from a table: one layer, or a whole candidate. The whole-candidate cost walks the
// graph the way ir/quant-lower.c lowers it (the integer form a session runs) without
// building anything: for each node it decides the same mode (integer layer, weight-only,
// fake-quantized input, uint8 pass-through, QLinearAdd/Concat/Pool or fp32 copy) and emits
// the keys of the nodes the session would execute, including the QuantizeLinear and
// DequantizeLinear that lowering inserts at precision boundaries. The profile of a real
// session (qs_session_exec_info) gives the same keys; bench/lut checks that they agree.
// Sessions also fuse a residual Add (and the Relu after it) into the fp32 Conv before it
// (ir/passes.c, qs__match_residual_add): such a Conv is charged as that one node.
#include "latency_tables/lut-impl.h"

#include <math.h>
#include <stdio.h>

enum mode {
    M_FLOAT = 0, M_LAYER_Q, M_LAYER_W8, M_LAYER_A8, M_PASS_Q, M_RELU_Q, M_ADD_Q, M_CONCAT_Q,
    M_POOL_Q, M_FUSED,
    M_FUSED_ADD,  // an fp32 Add fused into the Conv before it (fuse_residual)
};

typedef struct {
    const qs_lut_t *lut;
    const qs_graph_t *g;
    int n_nodes, n_tensors, batch;
    struct qs_prof_node *nodes;  // per node, batch-1 shapes
    struct qs_tensor_info *tinfo;  // per tensor
    bool *is_const;              // per tensor: initializer
    int *uses;                   // per tensor: node inputs reading it (+2 per graph output)
    int *consumer;               // per tensor: the last node reading it
    int *layer_wb, *layer_ab;    // per node: bits (32 when not a layer)
    float *layer_sp;             // per node: sparsity
    const char **layer_pat;      // per node: pattern
    enum mode *mode;
    bool *hasq, *float_out, *fl, *qt;
    // results
    double ms, p10;
    int lookups, misses;
    qs_lut_node_fn fn;
    void *user;
} sim;

static bool op_is(const struct qs_prof_node *n, const char *op) { return !strcmp(n->op_type, op); }

static void scale_batch(sim *s, struct qs_tensor_info *t, bool is_const) {
    if (s->batch > 0 && !is_const && t->rank > 0 && t->dims[0] == 1) t->dims[0] = s->batch;
}

// Looks up (or estimates) one executed node and adds it to the totals.
static void charge(sim *s, const struct qs_prof_node *p, const char *pattern, float sparsity,
                   const char *name) {
    char key[LUT_KEY_MAX];
    qs__lut_key_of(p, pattern, key, sizeof key);
    const lut_entry *e = qs__lut_find(s->lut, key);
    double ms;
    bool miss;
    double p10;
    if (e) {
        ms = qs__lut_entry_ms(e, sparsity);
        p10 = qs__lut_entry_p10(e, sparsity);
        // Outside the measured sparsity range the nearest point is used, and counted.
        miss = sparsity < e->pts[0].sparsity - 1e-4f ||
               sparsity > e->pts[e->n_pts - 1].sparsity + 1e-4f;
    } else {
        ms = p10 = qs__lut_estimate(s->lut, key, sparsity);
        miss = true;
    }
    s->ms += ms;
    s->p10 += p10;
    s->lookups++;
    s->misses += miss;
    if (s->fn) s->fn(s->user, name, key, ms, miss);
}

static struct qs_tensor_info tensor_as(const sim *s, int t, enum qs_dtype dt) {
    struct qs_tensor_info i = s->tinfo[t];
    i.dtype = dt;
    if (!i.name) i.name = "";
    return i;
}

static const struct qs_tensor_info k_const = {.name = "", .dtype = QS_DTYPE_F32};

static void emit_qdq(sim *s, int t, bool quantize, const char *suffix) {
    struct qs_prof_node p;
    memset(&p, 0, sizeof p);
    p.op_type = quantize ? "QuantizeLinear" : "DequantizeLinear";
    p.layer = -1;
    p.n_inputs = 3;
    p.n_outputs = 1;
    p.inputs[0] = tensor_as(s, t, quantize ? QS_DTYPE_F32 : QS_DTYPE_U8);
    p.inputs[1] = p.inputs[2] = k_const;
    p.input_const[1] = p.input_const[2] = true;
    p.outputs[0] = tensor_as(s, t, quantize ? QS_DTYPE_U8 : QS_DTYPE_F32);
    p.w_bits = p.a_bits = 32;
    char name[300];
    snprintf(name, sizeof name, "%s%s", s->tinfo[t].name ? s->tinfo[t].name : "?", suffix);
    charge(s, &p, NULL, 0.0f, name);
}

static void get_float(sim *s, int t) {
    if (t < 0 || s->fl[t] || s->is_const[t]) return;
    if (s->qt[t]) emit_qdq(s, t, false, "");
    s->fl[t] = true;
}

static void get_q(sim *s, int t) {
    if (t < 0 || s->qt[t]) return;
    get_float(s, t);
    emit_qdq(s, t, true, "_quantized");
    s->qt[t] = true;
}

static int in_id(const struct qs_prof_node *n, int k) {
    return k < n->n_inputs && k < QS_PROF_MAX_IO && n->inputs[k].name ? n->inputs[k].id : -1;
}
static int out_id(const struct qs_prof_node *n, int k) {
    return k < n->n_outputs && k < 2 && n->outputs[k].name ? n->outputs[k].id : -1;
}

static bool is_passthrough(const sim *s, const struct qs_prof_node *n) {
    if (op_is(n, "MaxPool")) return n->n_outputs == 1;
    if (op_is(n, "Reshape") || op_is(n, "Flatten") || op_is(n, "Squeeze") ||
        op_is(n, "Unsqueeze") || op_is(n, "Transpose") || op_is(n, "Identity") || op_is(n, "Slice"))
        return true;
    if (op_is(n, "Pad")) {  // constant mode (the default) with value 0
        int c = in_id(n, 2);
        if (c < 0) return true;
        const void *data = NULL;
        struct qs_tensor_info ti;
        if (qs_graph_tensor(s->g, c, &ti, &data) != QS_STATUS_OK || !data) return false;
        if (ti.dtype == QS_DTYPE_F32) return *(const float *)data == 0.0f;
        return true;
    }
    return false;
}

static bool consumed_as_q(const sim *s, int t) {
    for (int i = 0; i < s->n_nodes; i++) {
        const struct qs_prof_node *n = &s->nodes[i];
        for (int k = 0; k < n->n_inputs && k < QS_PROF_MAX_IO; k++)
            if (in_id(n, k) == t) {
                if (s->layer_wb[i] == 8 && s->layer_ab[i] == 8) return true;
                if (is_passthrough(s, n) || op_is(n, "Add") || op_is(n, "Concat") ||
                    op_is(n, "GlobalAveragePool") || op_is(n, "AveragePool") || op_is(n, "Relu") ||
                    op_is(n, "MaxPool"))
                    return true;
            }
    }
    return false;
}

// Every non-constant float activation is calibrated (quant/ observes them all).
static bool has_q(const sim *s, int t) {
    return t >= 0 && !s->is_const[t] && s->tinfo[t].dtype == QS_DTYPE_F32;
}

static void analyse(sim *s) {
    for (int i = 0; i < s->n_nodes; i++)
        if (s->layer_ab[i] == 8 && in_id(&s->nodes[i], 0) >= 0)
            s->hasq[in_id(&s->nodes[i], 0)] = true;
    for (int i = 0; i < s->n_nodes; i++) {
        const struct qs_prof_node *n = &s->nodes[i];
        int x = in_id(n, 0), y = out_id(n, 0);
        if (s->mode[i] == M_FUSED || y < 0) continue;
        if (s->layer_wb[i] == 8 && s->layer_ab[i] == 8) {
            s->mode[i] = M_LAYER_Q;
            if (op_is(n, "Gemm") && !consumed_as_q(s, y)) {
                s->float_out[i] = true;
                continue;
            }
            s->hasq[y] = true;
            continue;
        }
        if (s->layer_wb[i] == 8) {
            s->mode[i] = M_LAYER_W8;
            continue;
        }
        if (s->layer_ab[i] == 8) {
            s->mode[i] = M_LAYER_A8;
            continue;
        }
        if (x < 0 || !s->hasq[x]) continue;
        if (is_passthrough(s, n)) {
            s->mode[i] = M_PASS_Q;
            s->hasq[y] = true;
        } else if (op_is(n, "Relu")) {
            s->mode[i] = M_RELU_Q;
            s->hasq[y] = true;
        } else if (op_is(n, "Add") && n->n_inputs == 2 && in_id(n, 1) >= 0 &&
                   s->hasq[in_id(n, 1)] && has_q(s, y) &&
                   s->tinfo[x].rank >= 0) {
            int b = in_id(n, 1);
            int64_t na = 1, nb = 1;
            for (int d = 0; d < s->tinfo[x].rank; d++) na *= s->tinfo[x].dims[d];
            for (int d = 0; d < s->tinfo[b].rank; d++) nb *= s->tinfo[b].dims[d];
            if (na != nb) continue;
            s->mode[i] = M_ADD_Q;
            s->hasq[y] = true;
            int c = s->consumer[y];
            if (s->uses[y] == 1 && c >= 0 && op_is(&s->nodes[c], "Relu") &&
                has_q(s, out_id(&s->nodes[c], 0))) {
                s->mode[c] = M_FUSED;
                s->hasq[out_id(&s->nodes[c], 0)] = true;
            }
        } else if (op_is(n, "Concat")) {
            bool all = true, equal = true;
            for (int k = 0; k < n->n_inputs && k < QS_PROF_MAX_IO; k++) {
                all &= in_id(n, k) >= 0 && s->hasq[in_id(n, k)];
                // Calibrated ranges of different tensors differ in practice.
                equal &= in_id(n, k) == x;
            }
            if (!all) continue;
            if (!equal && !has_q(s, y)) continue;
            s->mode[i] = equal ? M_PASS_Q : M_CONCAT_Q;
            s->hasq[y] = true;
        } else if ((op_is(n, "GlobalAveragePool") || op_is(n, "AveragePool")) && has_q(s, y)) {
            s->mode[i] = M_POOL_Q;
            s->hasq[y] = true;
        }
    }
}

// The node as the session runs it: input/output dtypes replaced.
// The window attributes (kernel, stride, pads, dilation, group) of `n` into `p`.
static void copy_window(struct qs_prof_node *p, const struct qs_prof_node *n) {
    p->has_window = n->has_window;
    memcpy(p->kernel, n->kernel, sizeof p->kernel);
    memcpy(p->stride, n->stride, sizeof p->stride);
    memcpy(p->pads, n->pads, sizeof p->pads);
    memcpy(p->dilation, n->dilation, sizeof p->dilation);
    p->group = n->group;
}

static struct qs_prof_node as_run(const sim *s, const struct qs_prof_node *n) {
    struct qs_prof_node p = *n;
    (void)s;
    return p;
}

static bool same_shape(const struct qs_tensor_info *a, const struct qs_tensor_info *b) {
    if (a->rank != b->rank || a->dtype != b->dtype) return false;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d]) return false;
    return true;
}

// An fp32 Conv (p: as it runs) whose output only an fp32 Add reads, with a non-constant
// operand of exactly its shape: the session runs Conv + Add (+ the Relu that alone reads
// the Add's output) as one Conv with the operand as 4th input and "Add" / "Add+Relu" as
// activation. The Add and the Relu are then not charged. Returns the tensor p writes.
static int fuse_residual(sim *s, int i, struct qs_prof_node *p) {
    const struct qs_prof_node *n = &s->nodes[i];
    const int y = out_id(n, 0);
    if (!op_is(n, "Conv") || n->fused_activation || n->n_inputs > 3 || n->n_outputs != 1 ||
        y < 0 || s->tinfo[y].dtype != QS_DTYPE_F32 || s->uses[y] != 1)
        return y;
    const int a = s->consumer[y];
    if (a <= i || s->mode[a] != M_FLOAT) return y;
    const struct qs_prof_node *an = &s->nodes[a];
    const int a0 = in_id(an, 0), a1 = in_id(an, 1), ao = out_id(an, 0);
    if (!op_is(an, "Add") || an->n_inputs != 2 || an->n_outputs != 1 || a0 < 0 || a1 < 0 ||
        ao < 0)
        return y;
    const int sum = a0 == y ? a1 : a0;
    if (sum == y || s->is_const[sum] || !same_shape(&s->tinfo[sum], &s->tinfo[y]) ||
        !same_shape(&s->tinfo[ao], &s->tinfo[y]))
        return y;
    int out = ao;
    const int r = s->uses[ao] == 1 ? s->consumer[ao] : -1;
    const struct qs_prof_node *rn = r > a ? &s->nodes[r] : NULL;
    const bool relu = rn && s->mode[r] == M_FLOAT && op_is(rn, "Relu") && rn->n_inputs == 1 &&
                      rn->n_outputs == 1 && out_id(rn, 0) >= 0 &&
                      s->tinfo[out_id(rn, 0)].dtype == QS_DTYPE_F32;
    if (relu) {
        out = out_id(rn, 0);
        s->mode[r] = M_FUSED;
    }
    // The operand's fp32 form (a DequantizeLinear) is made where the Add is (lower_node).
    s->mode[a] = M_FUSED_ADD;
    p->n_inputs = 4;
    p->inputs[3] = tensor_as(s, sum, QS_DTYPE_F32);
    p->input_const[3] = false;
    p->outputs[0] = tensor_as(s, out, QS_DTYPE_F32);
    p->fused_activation = relu ? "Add+Relu" : "Add";
    return out;
}

static void lower_layer(sim *s, int i, const char *name) {
    const struct qs_prof_node *n = &s->nodes[i];
    int x = in_id(n, 0), y = out_id(n, 0);
    float sp = s->layer_sp[i];
    const char *pat = s->layer_pat[i];
    switch (s->mode[i]) {
    case M_LAYER_Q: {
        get_q(s, x);
        int w = op_is(n, "MatMul") && !n->input_const[1] ? 0 : 1;
        struct qs_prof_node p;
        memset(&p, 0, sizeof p);
        p.name = n->name;
        p.layer = n->layer;
        copy_window(&p, n);
        p.fused_activation = n->fused_activation;
        p.inputs[0] = tensor_as(s, x, QS_DTYPE_U8);
        for (int k = 1; k < QS_PROF_MAX_IO; k++) {
            p.inputs[k] = k_const;
            p.input_const[k] = true;
        }
        p.inputs[3] = n->inputs[w];
        p.inputs[3].dtype = QS_DTYPE_I8;
        if (!p.inputs[3].name) p.inputs[3].name = "";
        bool fout = s->float_out[i];
        if (op_is(n, "Conv")) {
            p.op_type = "QLinearConv";
            p.n_inputs = 9;
        } else if (op_is(n, "Gemm")) {
            p.op_type = "QGemm";
            p.n_inputs = fout ? 7 : 9;
        } else {
            p.op_type = "QLinearMatMul";
            p.n_inputs = 8;
        }
        p.n_outputs = 1;
        p.outputs[0] = tensor_as(s, y, fout ? QS_DTYPE_F32 : QS_DTYPE_U8);
        p.w_bits = p.a_bits = 8;
        charge(s, &p, pat, sp, name);
        if (fout) s->fl[y] = true;
        else s->qt[y] = true;
        return;
    }
    case M_LAYER_A8: {
        get_q(s, x);
        emit_qdq(s, x, false, "_fakequant");
        for (int k = 0; k < n->n_inputs && k < QS_PROF_MAX_IO; k++) get_float(s, in_id(n, k));
        break;
    }
    default:  // M_LAYER_W8 and fp32 layers
        for (int k = 0; k < n->n_inputs && k < QS_PROF_MAX_IO; k++) get_float(s, in_id(n, k));
        break;
    }
    struct qs_prof_node p = as_run(s, n);
    const int out = fuse_residual(s, i, &p);
    charge(s, &p, pat, sp, name);
    for (int o = 0; o < n->n_outputs && o < 2; o++)
        if (out_id(n, o) >= 0) s->fl[out_id(n, o)] = true;
    if (out >= 0) s->fl[out] = true;
}

static void lower_node(sim *s, int i) {
    const struct qs_prof_node *n = &s->nodes[i];
    int x = in_id(n, 0), y = out_id(n, 0);
    const char *name = n->name;
    if (n->layer >= 0) {
        lower_layer(s, i, name);
        return;
    }
    struct qs_prof_node p = *n;
    switch (s->mode[i]) {
    case M_FUSED:
        return;
    case M_FUSED_ADD:
        for (int k = 0; k < n->n_inputs && k < QS_PROF_MAX_IO; k++) get_float(s, in_id(n, k));
        return;
    case M_PASS_Q:
        if (op_is(n, "Concat")) {
            for (int k = 0; k < n->n_inputs && k < QS_PROF_MAX_IO; k++) {
                get_q(s, in_id(n, k));
                p.inputs[k].dtype = QS_DTYPE_U8;
            }
        } else {
            get_q(s, x);
            p.inputs[0].dtype = QS_DTYPE_U8;
            for (int k = 1; k < n->n_inputs && k < QS_PROF_MAX_IO; k++) get_float(s, in_id(n, k));
            if (op_is(n, "Pad") && p.n_inputs < 3) {
                p.n_inputs = 3;
                p.inputs[2] = k_const;
                p.input_const[2] = true;
            }
        }
        p.n_outputs = 1;
        p.outputs[0].dtype = QS_DTYPE_U8;
        charge(s, &p, NULL, 0.0f, name);
        s->qt[y] = true;
        return;
    case M_RELU_Q:
        get_q(s, x);
        memset(&p, 0, sizeof p);
        p.op_type = "Clip";
        p.layer = -1;
        p.n_inputs = 3;
        p.n_outputs = 1;
        p.inputs[0] = tensor_as(s, x, QS_DTYPE_U8);
        p.inputs[1] = p.inputs[2] = k_const;
        p.input_const[1] = p.input_const[2] = true;
        p.outputs[0] = tensor_as(s, y, QS_DTYPE_U8);
        p.w_bits = p.a_bits = 32;
        charge(s, &p, NULL, 0.0f, name);
        s->qt[y] = true;
        return;
    case M_ADD_Q: {
        int b = in_id(n, 1), c = s->consumer[y], res = y;
        bool relu = s->uses[y] == 1 && c >= 0 && s->mode[c] == M_FUSED;
        if (relu) res = out_id(&s->nodes[c], 0);
        get_q(s, x);
        get_q(s, b);
        memset(&p, 0, sizeof p);
        p.op_type = "QLinearAdd";
        p.layer = -1;
        p.n_inputs = 8;
        p.n_outputs = 1;
        for (int k = 0; k < 8; k++) {
            p.inputs[k] = k_const;
            p.input_const[k] = true;
        }
        p.inputs[0] = tensor_as(s, x, QS_DTYPE_U8);
        p.inputs[3] = tensor_as(s, b, QS_DTYPE_U8);
        p.input_const[0] = p.input_const[3] = false;
        p.outputs[0] = tensor_as(s, res, QS_DTYPE_U8);
        p.fused_activation = relu ? "Relu" : NULL;
        p.w_bits = p.a_bits = 32;
        charge(s, &p, NULL, 0.0f, name);
        s->qt[res] = true;
        if (relu) s->qt[y] = false;
        return;
    }
    case M_CONCAT_Q: {
        memset(&p, 0, sizeof p);
        p.op_type = "QLinearConcat";
        p.layer = -1;
        p.n_inputs = 2 + 3 * n->n_inputs;
        p.n_outputs = 1;
        for (int k = 0; k < QS_PROF_MAX_IO; k++) {
            p.inputs[k] = k_const;
            p.input_const[k] = true;
        }
        for (int k = 0; k < n->n_inputs && k < QS_PROF_MAX_IO; k++) {
            get_q(s, in_id(n, k));
            if (2 + 3 * k < QS_PROF_MAX_IO) {
                p.inputs[2 + 3 * k] = tensor_as(s, in_id(n, k), QS_DTYPE_U8);
                p.input_const[2 + 3 * k] = false;
            }
        }
        p.outputs[0] = tensor_as(s, y, QS_DTYPE_U8);
        p.w_bits = p.a_bits = 32;
        charge(s, &p, NULL, 0.0f, name);
        s->qt[y] = true;
        return;
    }
    case M_POOL_Q: {
        bool global = op_is(n, "GlobalAveragePool");
        get_q(s, x);
        memset(&p, 0, sizeof p);
        p.op_type = global ? "QLinearGlobalAveragePool" : "QLinearAveragePool";
        p.layer = -1;
        p.n_inputs = 5;
        p.n_outputs = 1;
        p.inputs[0] = tensor_as(s, x, QS_DTYPE_U8);
        for (int k = 1; k < 5; k++) {
            p.inputs[k] = k_const;
            p.input_const[k] = true;
        }
        p.outputs[0] = tensor_as(s, y, QS_DTYPE_U8);
        if (!global) copy_window(&p, n);
        p.w_bits = p.a_bits = 32;
        charge(s, &p, NULL, 0.0f, name);
        s->qt[y] = true;
        return;
    }
    default:
        for (int k = 0; k < n->n_inputs && k < QS_PROF_MAX_IO; k++) get_float(s, in_id(n, k));
        charge(s, &p, NULL, 0.0f, name);
        for (int o = 0; o < n->n_outputs && o < 2; o++)
            if (out_id(n, o) >= 0) s->fl[out_id(n, o)] = true;
        return;
    }
}

static void sim_free(sim *s) {
    qs__free(s->nodes);
    qs__free(s->tinfo);
    qs__free(s->is_const);
    qs__free(s->uses);
    qs__free(s->consumer);
    qs__free(s->layer_wb);
    qs__free(s->layer_ab);
    qs__free(s->layer_sp);
    qs__free(s->layer_pat);
    qs__free(s->mode);
    qs__free(s->hasq);
    qs__free(s->float_out);
    qs__free(s->fl);
    qs__free(s->qt);
}

// Reads the graph; layer bits from `policy` (NULL: every layer w8a8, as qs_quantizer_apply).
static enum qs_status sim_init(sim *s, const qs_lut_t *lut, const qs_graph_t *g,
                               const qs_policy_t *policy, int batch, struct qs_diag *diag) {
    memset(s, 0, sizeof *s);
    s->lut = lut;
    s->g = g;
    s->n_nodes = qs_graph_node_count(g);
    s->n_tensors = qs_graph_tensor_count(g);
    s->batch = batch > 0 && batch != lut->batch ? batch : 0;
    size_t nn = (size_t)QS_MAX(s->n_nodes, 1), nt = (size_t)QS_MAX(s->n_tensors, 1);
    s->nodes = qs__calloc(nn, sizeof *s->nodes);
    s->tinfo = qs__calloc(nt, sizeof *s->tinfo);
    s->is_const = qs__calloc(nt, sizeof(bool));
    s->uses = qs__calloc(nt, sizeof(int));
    s->consumer = qs__calloc(nt, sizeof(int));
    s->layer_wb = qs__calloc(nn, sizeof(int));
    s->layer_ab = qs__calloc(nn, sizeof(int));
    s->layer_sp = qs__calloc(nn, sizeof(float));
    s->layer_pat = qs__calloc(nn, sizeof(char *));
    s->mode = qs__calloc(nn, sizeof *s->mode);
    s->hasq = qs__calloc(nt, sizeof(bool));
    s->float_out = qs__calloc(nn, sizeof(bool));
    s->fl = qs__calloc(nt, sizeof(bool));
    s->qt = qs__calloc(nt, sizeof(bool));
    if (!s->nodes || !s->tinfo || !s->is_const || !s->uses || !s->consumer || !s->layer_wb ||
        !s->layer_ab || !s->layer_sp || !s->layer_pat || !s->mode || !s->hasq || !s->float_out ||
        !s->fl || !s->qt)
        return qs__diag(diag, QS_STATUS_NOMEM, "out of memory estimating a model's latency");
    for (int t = 0; t < s->n_tensors; t++) {
        const void *data = NULL;
        qs_graph_tensor(g, t, &s->tinfo[t], &data);
        s->is_const[t] = data != NULL;
        scale_batch(s, &s->tinfo[t], s->is_const[t]);
        s->consumer[t] = -1;
    }
    for (int i = 0; i < s->n_nodes; i++) {
        struct qs_prof_node *n = &s->nodes[i];
        qs_graph_node_prof_info(g, i, n);
        for (int k = 0; k < n->n_inputs && k < QS_PROF_MAX_IO; k++) {
            if (n->inputs[k].name) scale_batch(s, &n->inputs[k], n->input_const[k]);
            int t = in_id(n, k);
            if (t >= 0) {
                s->uses[t]++;
                s->consumer[t] = i;
            }
        }
        for (int o = 0; o < 2; o++)
            if (n->outputs[o].name) scale_batch(s, &n->outputs[o], false);
        s->layer_wb[i] = s->layer_ab[i] = 32;
        s->layer_pat[i] = "unstructured";
        if (n->layer < 0) continue;
        const struct qs_layer_policy *lp = policy ? qs_policy_get(policy, n->name) : NULL;
        if (!policy) {
            s->layer_wb[i] = s->layer_ab[i] = 8;
        } else if (lp) {
            if ((lp->w_bits != 8 && lp->w_bits != 32) || (lp->a_bits != 8 && lp->a_bits != 32) ||
                !(lp->sparsity >= 0.0f && lp->sparsity < 1.0f))
                return qs__diag(diag, QS_STATUS_INVALID_ARG, "policy entry '%s': bad values",
                                n->name);
            s->layer_wb[i] = lp->w_bits;
            s->layer_ab[i] = lp->a_bits;
            s->layer_sp[i] = lp->sparsity;
            if (lp->pattern[0]) s->layer_pat[i] = lp->pattern;
        }
    }
    for (int o = 0; o < qs_graph_output_count(g); o++) {
        struct qs_tensor_info ti;
        if (qs_graph_output_info(g, o, &ti) == QS_STATUS_OK && ti.id >= 0 && ti.id < s->n_tensors)
            s->uses[ti.id] += 2;
    }
    return QS_STATUS_OK;
}

static bool any_quantized(const sim *s) {
    for (int i = 0; i < s->n_nodes; i++)
        if (s->layer_wb[i] == 8 || s->layer_ab[i] == 8) return true;
    return false;
}

enum qs_status qs_lut_model_cost_detail(const qs_lut_t *lut, const qs_graph_t *g,
                                        const qs_policy_t *policy, int batch, qs_lut_node_fn fn,
                                        void *user, struct qs_lut_estimate *est,
                                        struct qs_diag *diag) {
    if (!lut || !g || !est) return qs__diag(diag, QS_STATUS_INVALID_ARG, "NULL argument");
    sim s;
    enum qs_status st = sim_init(&s, lut, g, policy, batch, diag);
    if (st == QS_STATUS_OK) {
        s.fn = fn;
        s.user = user;
        bool quantized = any_quantized(&s);
        if (quantized) analyse(&s);
        for (int i = 0; i < qs_graph_input_count(g); i++) {
            struct qs_tensor_info ti;
            if (qs_graph_input_info(g, i, &ti) == QS_STATUS_OK && ti.id >= 0 &&
                ti.id < s.n_tensors)
                s.fl[ti.id] = true;
        }
        for (int i = 0; i < s.n_nodes; i++) lower_node(&s, i);
        if (quantized)
            for (int o = 0; o < qs_graph_output_count(g); o++) {
                struct qs_tensor_info ti;
                if (qs_graph_output_info(g, o, &ti) == QS_STATUS_OK) get_float(&s, ti.id);
            }
        // What a whole run adds to its nodes (the loop, and the interruptions a longer run
        // meets on this machine), fitted over the build's runs by the sum of the nodes.
        est->ms = s.ms + qs__lut_run_residual(lut, s.ms, s.lookups, false);
        est->p10_ms = s.p10 + qs__lut_run_residual(lut, s.p10, s.lookups, true);
        // The residuals are fitted apart, on few runs of microsecond models in a small
        // table, so away from the runs they were fitted on they can cross or undercut the
        // nodes: a run never takes less than nothing (then the nodes' own sum stands), and
        // its p10 never exceeds its median.
        if (!(est->ms > 0)) est->ms = s.ms;
        if (!(est->p10_ms > 0)) est->p10_ms = s.p10;
        est->p10_ms = fmin(est->p10_ms, est->ms);
        est->lookups = s.lookups;
        est->misses = s.misses;
    }
    sim_free(&s);
    return st;
}

enum qs_status qs_lut_model_cost(const qs_lut_t *lut, const qs_graph_t *g,
                                 const qs_policy_t *policy, int batch,
                                 struct qs_lut_estimate *est, struct qs_diag *diag) {
    return qs_lut_model_cost_detail(lut, g, policy, batch, NULL, NULL, est, diag);
}

enum qs_status qs_lut_layer_cost(const qs_lut_t *lut, const qs_graph_t *g, int layer, int w_bits,
                                 int a_bits, float sparsity, const char *pattern, double *ms_out,
                                 bool *miss_out) {
    struct qs_layer_info li;
    if (!lut || !g || !ms_out || qs_graph_layer_info(g, layer, &li) != QS_STATUS_OK ||
        (w_bits != 8 && w_bits != 32) || (a_bits != 8 && a_bits != 32) ||
        !(sparsity >= 0.0f && sparsity < 1.0f))
        return QS_STATUS_INVALID_ARG;
    sim s;
    enum qs_status st = sim_init(&s, lut, g, NULL, 0, NULL);
    if (st == QS_STATUS_OK) {
        // Only this layer is looked up; its neighbours run as it does (for a Gemm: whether
        // its int8 result is read as uint8).
        for (int i = 0; i < s.n_nodes; i++)
            if (s.nodes[i].layer >= 0) {
                s.layer_wb[i] = w_bits;
                s.layer_ab[i] = a_bits;
            }
        int i = li.node;
        s.layer_sp[i] = sparsity;
        s.layer_pat[i] = pattern && *pattern ? pattern : "unstructured";
        if (w_bits == 8 || a_bits == 8) analyse(&s);
        // The input exists in fp32 (a w8a8 layer's quantize of it is a boundary cost).
        int x = in_id(&s.nodes[i], 0);
        if (x >= 0) {
            s.fl[x] = true;
            if (w_bits == 8 && a_bits == 8) s.qt[x] = true;
        }
        lower_layer(&s, i, s.nodes[i].name);
        *ms_out = s.ms;
        if (miss_out) *miss_out = s.misses > 0;
    }
    sim_free(&s);
    return st;
}
