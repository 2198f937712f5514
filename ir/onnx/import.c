// ONNX ModelProto -> qs_graph. Follows the constructor shape of STYLE §5.5: any failure
// destroys the half-built graph and leaves *graph_out untouched.
#include "ir/onnx/onnx-impl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

enum { QS_OPSET_MIN = 6, QS_OPSET_MAX = 21 };

static bool dtype_known(int32_t dt) {
    switch (dt) {
    case QS_DTYPE_F32: case QS_DTYPE_U8: case QS_DTYPE_I8: case QS_DTYPE_U16:
    case QS_DTYPE_I16: case QS_DTYPE_I32: case QS_DTYPE_I64: case QS_DTYPE_BOOL:
    case QS_DTYPE_F16: case QS_DTYPE_F64: case QS_DTYPE_U32: case QS_DTYPE_U64:
    case QS_DTYPE_BF16:
        return true;
    default:
        return false;
    }
}

static enum qs_status read_external(const Onnx__TensorProto *tp, const char *base_dir,
                                    void *dst, size_t bytes, const char *what,
                                    struct qs_diag *diag) {
    const char *loc = NULL;
    long long offset = 0, length = -1;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const char *k = tp->external_data[i]->key, *v = tp->external_data[i]->value;
        if (!k || !v) continue;
        if (strcmp(k, "location") == 0) loc = v;
        else if (strcmp(k, "offset") == 0) offset = strtoll(v, NULL, 10);
        else if (strcmp(k, "length") == 0) length = strtoll(v, NULL, 10);
    }
    if (!loc || !loc[0])
        return qs__diag(diag, QS_STATUS_PARSE, "tensor '%s': external data without a location", what);
    if (loc[0] == '/' || strstr(loc, ".."))
        return qs__diag(diag, QS_STATUS_PARSE,
                        "tensor '%s': external data location '%s' must be a relative path "
                        "inside the model's folder", what, loc);
    if (offset < 0 || (length >= 0 && (size_t)length != bytes))
        return qs__diag(diag, QS_STATUS_PARSE,
                        "tensor '%s': external data length %lld does not match its shape "
                        "(%zu bytes)", what, length, bytes);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", base_dir && base_dir[0] ? base_dir : ".", loc);
    FILE *f = fopen(path, "rb");
    if (!f)
        return qs__diag(diag, QS_STATUS_IO, "tensor '%s': cannot open external data '%s': %s",
                        what, path, strerror(errno));
    enum qs_status st = QS_STATUS_OK;
    if (fseek(f, (long)offset, SEEK_SET) != 0 || fread(dst, 1, bytes, f) != bytes)
        st = qs__diag(diag, QS_STATUS_IO,
                      "tensor '%s': external data file '%s' is shorter than offset %lld + "
                      "%zu bytes", what, path, offset, bytes);
    fclose(f);
    return st;
}

enum qs_status qs__tensor_from_proto(const Onnx__TensorProto *tp, const char *base_dir,
                                     qs_tensor *t, struct qs_diag *diag) {
    const char *what = tp->name && tp->name[0] ? tp->name : "(unnamed)";
    int32_t dt = tp->has_data_type ? tp->data_type : 0;
    if (!dtype_known(dt))
        return qs__diag(diag, dt == QS_DTYPE_STRING ? QS_STATUS_UNSUPPORTED : QS_STATUS_PARSE,
                        "tensor '%s': %s element type %d", what,
                        dt == QS_DTYPE_STRING ? "unsupported" : "unknown", (int)dt);
    if (tp->n_dims > QS_MAX_RANK)
        return qs__diag(diag, QS_STATUS_UNSUPPORTED, "tensor '%s': rank %zu exceeds %d", what,
                        tp->n_dims, QS_MAX_RANK);
    int64_t numel = 1;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0 || (tp->dims[i] > 0 && numel > INT64_MAX / 16 / tp->dims[i]))
            return qs__diag(diag, QS_STATUS_PARSE, "tensor '%s': invalid dimension %lld", what,
                            (long long)tp->dims[i]);
        numel *= tp->dims[i];
    }
    size_t esz = qs_dtype_size((enum qs_dtype)dt), bytes = (size_t)numel * esz;
    qs__view_set_shape(&t->v, (enum qs_dtype)dt, (int)tp->n_dims, tp->dims);
    void *data = qs__aligned_alloc(bytes);
    if (!data) return qs__diag(diag, QS_STATUS_NOMEM, "tensor '%s': out of memory (%zu bytes)", what, bytes);
    enum qs_status st = QS_STATUS_OK;
    size_t have = 0;
    bool external = tp->has_data_location &&
                    tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    if (external) {
        st = read_external(tp, base_dir, data, bytes, what, diag);
        have = (size_t)numel;
    } else if (tp->has_raw_data) {
        if (tp->raw_data.len != bytes) {
            st = qs__diag(diag, QS_STATUS_PARSE,
                          "tensor '%s': raw_data has %zu bytes, its shape needs %zu", what,
                          tp->raw_data.len, bytes);
        } else {
            if (bytes) memcpy(data, tp->raw_data.data, bytes);
            have = (size_t)numel;
        }
    } else {
        switch (dt) {
        case QS_DTYPE_F32:
            have = tp->n_float_data;
            if (have == (size_t)numel && bytes) memcpy(data, tp->float_data, bytes);
            break;
        case QS_DTYPE_F64:
            have = tp->n_double_data;
            if (have == (size_t)numel && bytes) memcpy(data, tp->double_data, bytes);
            break;
        case QS_DTYPE_I64:
            have = tp->n_int64_data;
            if (have == (size_t)numel && bytes) memcpy(data, tp->int64_data, bytes);
            break;
        case QS_DTYPE_U32: case QS_DTYPE_U64:
            have = tp->n_uint64_data;
            if (have == (size_t)numel)
                for (int64_t i = 0; i < numel; i++) {
                    if (dt == QS_DTYPE_U32) ((uint32_t *)data)[i] = (uint32_t)tp->uint64_data[i];
                    else ((uint64_t *)data)[i] = tp->uint64_data[i];
                }
            break;
        default:  // int32_data carries every narrower type (float16 as its bit pattern).
            have = tp->n_int32_data;
            if (have == (size_t)numel)
                for (int64_t i = 0; i < numel; i++) {
                    int32_t x = tp->int32_data[i];
                    switch (esz) {
                    case 1: ((uint8_t *)data)[i] = (uint8_t)x; break;
                    case 2: ((uint16_t *)data)[i] = (uint16_t)x; break;
                    default: ((int32_t *)data)[i] = x; break;
                    }
                }
            break;
        }
        if (have != (size_t)numel)
            st = qs__diag(diag, QS_STATUS_PARSE,
                          "tensor '%s': has %zu values, its shape needs %lld", what, have,
                          (long long)numel);
    }
    if (st != QS_STATUS_OK) {
        qs__aligned_free(data);
        return st;
    }
    t->v.data = data;
    t->v.is_const = true;
    t->owns_data = true;
    return QS_STATUS_OK;
}

static enum qs_status parse_attr(qs_graph_t *g, const Onnx__AttributeProto *ap,
                                 struct qs_attr *a, const char *base_dir,
                                 struct qs_diag *diag) {
    a->name = qs__arena_strdup(&g->arena, ap->name ? ap->name : "");
    if (!a->name) return QS_STATUS_NOMEM;
    int type = ap->has_type ? (int)ap->type : 0;
    if (type == 0) {  // IR < 2 files leave the type out: infer it from the field set.
        if (ap->n_ints) type = QS_ATTR_INTS;
        else if (ap->n_floats) type = QS_ATTR_FLOATS;
        else if (ap->n_strings) type = QS_ATTR_STRINGS;
        else if (ap->t) type = QS_ATTR_TENSOR;
        else if (ap->g) type = QS_ATTR_GRAPH;
        else if (ap->has_s) type = QS_ATTR_STRING;
        else if (ap->has_f) type = QS_ATTR_FLOAT;
        else type = QS_ATTR_INT;
    }
    a->type = (enum qs_attr_type)type;
    switch (type) {
    case QS_ATTR_FLOAT: a->f = ap->f; break;
    case QS_ATTR_INT: a->i = ap->i; break;
    case QS_ATTR_STRING:
        a->s = qs__arena_strndup(&g->arena, (const char *)ap->s.data, ap->s.len);
        a->s_len = ap->s.len;
        if (!a->s) return QS_STATUS_NOMEM;
        break;
    case QS_ATTR_FLOATS:
        a->n = (int)ap->n_floats;
        a->floats = qs__arena_alloc(&g->arena, sizeof(float) * ap->n_floats + 1);
        if (!a->floats) return QS_STATUS_NOMEM;
        if (ap->n_floats) memcpy(a->floats, ap->floats, sizeof(float) * ap->n_floats);
        break;
    case QS_ATTR_INTS:
        a->n = (int)ap->n_ints;
        a->ints = qs__arena_alloc(&g->arena, sizeof(int64_t) * ap->n_ints + 1);
        if (!a->ints) return QS_STATUS_NOMEM;
        if (ap->n_ints) memcpy(a->ints, ap->ints, sizeof(int64_t) * ap->n_ints);
        break;
    case QS_ATTR_STRINGS:
        a->n = (int)ap->n_strings;
        a->strings = qs__arena_alloc(&g->arena, sizeof(char *) * ap->n_strings + 1);
        if (!a->strings) return QS_STATUS_NOMEM;
        for (size_t i = 0; i < ap->n_strings; i++)
            if (!(a->strings[i] = qs__arena_strndup(&g->arena, (const char *)ap->strings[i].data,
                                                    ap->strings[i].len)))
                return QS_STATUS_NOMEM;
        break;
    case QS_ATTR_TENSOR: {
        if (!ap->t) return qs__diag(diag, QS_STATUS_PARSE, "attribute '%s' has no tensor", a->name);
        qs_tensor *t = qs__arena_alloc(&g->arena, sizeof *t);
        if (!t) return QS_STATUS_NOMEM;
        t->name = qs__arena_strdup(&g->arena, ap->t->name ? ap->t->name : a->name);
        t->id = -1;
        t->producer = -1;
        t->decl_rank = -1;
        t->is_initializer = true;
        a->t = t;
        return qs__tensor_from_proto(ap->t, base_dir, t, diag);
    }
    default:  // graphs and sparse tensors: kept by type only; ops that need them are unknown
        break;
    }
    return QS_STATUS_OK;
}

static enum qs_status declare_value(qs_graph_t *g, qs_tensor *t, const Onnx__ValueInfoProto *vi,
                                    bool required, struct qs_diag *diag) {
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
        if (!required) return QS_STATUS_OK;
        return qs__diag(diag, QS_STATUS_UNSUPPORTED,
                        "graph value '%s' is not a tensor (sequences, maps and optionals "
                        "are not supported)", t->name);
    }
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    int32_t dt = tt->has_elem_type ? tt->elem_type : 0;
    if (required && !dtype_known(dt))
        return qs__diag(diag, QS_STATUS_UNSUPPORTED, "graph input '%s' has unsupported element "
                        "type %d", t->name, (int)dt);
    t->v.dtype = (enum qs_dtype)dt;
    t->decl_rank = -1;
    if (tt->shape) {
        if (tt->shape->n_dim > QS_MAX_RANK)
            return qs__diag(diag, QS_STATUS_UNSUPPORTED, "graph value '%s' has rank %zu > %d",
                            t->name, tt->shape->n_dim, QS_MAX_RANK);
        t->decl_rank = (int)tt->shape->n_dim;
        for (size_t i = 0; i < tt->shape->n_dim; i++) {
            const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
            t->decl_dims[i] = -1;
            if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
                d->dim_value >= 0)
                t->decl_dims[i] = d->dim_value;
            else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                     d->dim_param)
                t->dim_param[i] = qs__arena_strdup(&g->arena, d->dim_param);
        }
    }
    return QS_STATUS_OK;
}

// Collects "Foo (nodes a, b), Bar (node c)" for every unknown op.
static void report_unsupported(const qs_graph_t *g, const Onnx__GraphProto *gp,
                               struct qs_diag *diag) {
    char msg[sizeof diag->msg];
    size_t len = (size_t)snprintf(msg, sizeof msg, "unsupported ops: ");
    bool *done = qs__calloc(gp->n_node + 1, sizeof(bool));
    int kinds = 0;
    for (size_t i = 0; i < gp->n_node && done; i++) {
        const qs_node *n = g->nodes[i];
        if (n->op != QS_OP_UNKNOWN || done[i]) continue;
        if (len < sizeof msg)
            len += (size_t)snprintf(msg + len, sizeof msg - len, "%s%s%s%s (", kinds ? ", " : "",
                                    n->domain[0] ? n->domain : "", n->domain[0] ? "." : "",
                                    n->op_type);
        kinds++;
        int cnt = 0, total = 0;
        for (size_t j = i; j < gp->n_node; j++)
            total += g->nodes[j]->op == QS_OP_UNKNOWN && !strcmp(g->nodes[j]->op_type, n->op_type) &&
                     !strcmp(g->nodes[j]->domain, n->domain);
        for (size_t j = i; j < gp->n_node; j++) {
            const qs_node *m = g->nodes[j];
            if (m->op != QS_OP_UNKNOWN || strcmp(m->op_type, n->op_type) != 0 ||
                strcmp(m->domain, n->domain) != 0)
                continue;
            done[j] = true;
            if (len < sizeof msg)
                len += (size_t)snprintf(msg + len, sizeof msg - len, "%s'%s'",
                                        cnt++ ? ", " : total > 1 ? "nodes " : "node ",
                                        m->name);
        }
        if (len < sizeof msg) len += (size_t)snprintf(msg + len, sizeof msg - len, ")");
    }
    qs__free(done);
    qs__diag(diag, QS_STATUS_UNSUPPORTED, "%s", msg);
}

static enum qs_status build_graph(qs_graph_t *g, const Onnx__ModelProto *m,
                                  const char *base_dir, bool infer, struct qs_diag *diag) {
    const Onnx__GraphProto *gp = m->graph;
    enum qs_status st;
    if (!gp) return qs__diag(diag, QS_STATUS_PARSE, "model has no graph");
    g->ir_version = m->has_ir_version ? m->ir_version : 0;
    g->producer_name = qs__arena_strdup(&g->arena, m->producer_name);
    g->producer_version = qs__arena_strdup(&g->arena, m->producer_version);
    g->graph_name = qs__arena_strdup(&g->arena, gp->name);
    g->opset = -1;
    g->n_opsets = (int)m->n_opset_import;
    g->opset_domains = qs__arena_alloc(&g->arena, sizeof(char *) * (m->n_opset_import + 1));
    g->opset_versions = qs__arena_alloc(&g->arena, sizeof(int64_t) * (m->n_opset_import + 1));
    if (!g->producer_name || !g->producer_version || !g->graph_name || !g->opset_domains ||
        !g->opset_versions)
        return QS_STATUS_NOMEM;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const char *dom = m->opset_import[i]->domain ? m->opset_import[i]->domain : "";
        g->opset_domains[i] = qs__arena_strdup(&g->arena, dom);
        g->opset_versions[i] = m->opset_import[i]->version;
        if (!g->opset_domains[i]) return QS_STATUS_NOMEM;
        if (!dom[0] || strcmp(dom, "ai.onnx") == 0) g->opset = (int)m->opset_import[i]->version;
    }
    if (g->opset < 0 && m->n_opset_import == 0 && g->ir_version > 0 && g->ir_version < 3)
        g->opset = 1;  // IR v1/v2 files predate opset_import
    if (g->opset < QS_OPSET_MIN || g->opset > QS_OPSET_MAX)
        return qs__diag(diag, QS_STATUS_UNSUPPORTED,
                        g->opset < 0 ? "model imports no default-domain opset%.0d (supported: %d-%d)"
                                     : "default-domain opset %d is not supported (supported: %d-%d)",
                        g->opset < 0 ? 0 : g->opset, QS_OPSET_MIN, QS_OPSET_MAX);

    // Initializers first: older exporters also list them among the graph inputs.
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        const char *name = tp->name ? tp->name : "";
        if (!name[0]) return qs__diag(diag, QS_STATUS_PARSE, "initializer %zu has no name", i);
        if (qs__graph_find(g, name))
            return qs__diag(diag, QS_STATUS_PARSE, "initializer '%s' is defined twice", name);
        qs_tensor *t = qs__graph_add_tensor(g, name);
        if (!t) return QS_STATUS_NOMEM;
        t->is_initializer = true;
        if ((st = qs__tensor_from_proto(tp, base_dir, t, diag)) != QS_STATUS_OK) return st;
    }
    if (gp->n_sparse_initializer)
        return qs__diag(diag, QS_STATUS_UNSUPPORTED, "sparse initializers are not supported");

    g->inputs = qs__arena_alloc(&g->arena, sizeof(qs_tensor *) * (gp->n_input + 1));
    g->outputs = qs__arena_alloc(&g->arena, sizeof(qs_tensor *) * (gp->n_output + 1));
    if (!g->inputs || !g->outputs) return QS_STATUS_NOMEM;
    for (size_t i = 0; i < gp->n_input; i++) {
        const char *name = gp->input[i]->name ? gp->input[i]->name : "";
        qs_tensor *t = qs__graph_find(g, name);
        if (t && t->is_initializer) continue;  // a constant with a default: not an input
        if (t) return qs__diag(diag, QS_STATUS_PARSE, "graph input '%s' is listed twice", name);
        if (!name[0]) return qs__diag(diag, QS_STATUS_PARSE, "graph input %zu has no name", i);
        if (!(t = qs__graph_add_tensor(g, name))) return QS_STATUS_NOMEM;
        t->is_input = true;
        if ((st = declare_value(g, t, gp->input[i], true, diag)) != QS_STATUS_OK) return st;
        if (t->decl_rank < 0)
            return qs__diag(diag, QS_STATUS_UNSUPPORTED,
                            "graph input '%s' declares no shape", name);
        g->inputs[g->n_inputs++] = t;
    }

    // Node outputs are created before inputs are resolved so that a file whose nodes are
    // not in topological order still loads (the sort below fixes the order).
    bool unsupported = false;
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        const char *op_type = np->op_type ? np->op_type : "";
        char gen[256];
        const char *name = np->name;
        if (!name || !name[0]) {
            snprintf(gen, sizeof gen, "%s_%zu", op_type[0] ? op_type : "node", i);
            name = gen;
        }
        if (!op_type[0]) return qs__diag(diag, QS_STATUS_PARSE, "node '%s' has no op_type", name);
        qs_node *n = qs__graph_add_node(g, name, op_type, (int)np->n_input, (int)np->n_output);
        if (!n) return QS_STATUS_NOMEM;
        if (np->domain && !(n->domain = qs__arena_strdup(&g->arena, np->domain)))
            return QS_STATUS_NOMEM;
        if (np->doc_string && np->doc_string[0] &&
            !(n->doc = qs__arena_strdup(&g->arena, np->doc_string)))
            return QS_STATUS_NOMEM;
        n->op = qs__op_lookup(n->domain, op_type);
        unsupported |= n->op == QS_OP_UNKNOWN;
        for (size_t o = 0; o < np->n_output; o++) {
            const char *on = np->output[o] ? np->output[o] : "";
            if (!on[0]) continue;  // optional output left out
            if (qs__graph_find(g, on))
                return qs__diag(diag, QS_STATUS_PARSE,
                                "node '%s' (%s) output '%s' is already defined by another "
                                "node, initializer or input", name, op_type, on);
            qs_tensor *t = qs__graph_add_tensor(g, on);
            if (!t) return QS_STATUS_NOMEM;
            n->outputs[o] = t;
        }
    }
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        qs_node *n = g->nodes[i];
        for (size_t k = 0; k < np->n_input; k++) {
            const char *in = np->input[k] ? np->input[k] : "";
            if (!in[0]) continue;  // optional input left empty
            if (!(n->inputs[k] = qs__graph_find(g, in)))
                return qs__diag(diag, QS_STATUS_PARSE,
                                "node '%s' (%s) input '%s' is not produced by any node, "
                                "initializer or graph input", n->name, n->op_type, in);
        }
        n->n_attrs = (int)np->n_attribute;
        n->attrs = qs__arena_alloc(&g->arena, sizeof(struct qs_attr) * (np->n_attribute + 1));
        if (!n->attrs) return QS_STATUS_NOMEM;
        for (size_t a = 0; a < np->n_attribute; a++) {
            if ((st = parse_attr(g, np->attribute[a], &n->attrs[a], base_dir, diag)) != QS_STATUS_OK) {
                qs__diag_prefix(diag, "node '%s' (%s): ", n->name, n->op_type);
                return st;
            }
        }
    }
    if (unsupported) {
        report_unsupported(g, gp, diag);
        return QS_STATUS_UNSUPPORTED;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        qs_node *n = g->nodes[i];
        const struct qs_op_def *def = qs__op_def(n->op);
        int n_in = n->n_inputs, n_out = n->n_outputs;
        while (n_in > 0 && !n->inputs[n_in - 1]) n_in--;  // trailing empties are absent
        while (n_out > 0 && !n->outputs[n_out - 1]) n_out--;
        bool bad = n_in < def->min_inputs || (def->max_inputs >= 0 && n_in > def->max_inputs);
        for (int k = 0; k < def->min_inputs && k < n_in && !bad; k++) bad = !n->inputs[k];
        if (bad) {
            char want[64];
            if (def->max_inputs < 0) snprintf(want, sizeof want, "at least %d", def->min_inputs);
            else if (def->max_inputs == def->min_inputs) snprintf(want, sizeof want, "%d", def->min_inputs);
            else snprintf(want, sizeof want, "%d to %d", def->min_inputs, def->max_inputs);
            return qs__diag(diag, QS_STATUS_PARSE,
                            "node '%s' (%s) has %d input%s (%s required), expects %s",
                            n->name, n->op_type, n_in, n_in == 1 ? "" : "s",
                            n_in < def->min_inputs ? "missing" : "some empty", want);
        }
        if (n_out < def->min_outputs || (def->max_outputs >= 0 && n_out > def->max_outputs) ||
            !n->outputs[0])
            return qs__diag(diag, QS_STATUS_PARSE, "node '%s' (%s) has %d outputs, expects %d to %d",
                            n->name, n->op_type, n_out, def->min_outputs, def->max_outputs);
        n->n_inputs = n_in;
        n->n_outputs = n_out;
    }
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = gp->output[i]->name ? gp->output[i]->name : "";
        qs_tensor *t = qs__graph_find(g, name);
        if (!t)
            return qs__diag(diag, QS_STATUS_PARSE,
                            "graph output '%s' is not produced by any node or input", name);
        t->is_output = true;
        if ((st = declare_value(g, t, gp->output[i], false, diag)) != QS_STATUS_OK) return st;
        g->outputs[g->n_outputs++] = t;
    }
    if (g->n_outputs == 0) return qs__diag(diag, QS_STATUS_PARSE, "graph has no outputs");
    if ((st = qs__graph_toposort(g, diag)) != QS_STATUS_OK) return st;
    return infer ? qs__graph_infer_shapes(g, diag) : QS_STATUS_OK;
}

static enum qs_status load_buffer(const void *data, size_t size, const char *name,
                                  const char *base_dir, bool infer, qs_graph_t **graph_out,
                                  struct qs_diag *diag) {
    if (!name) name = "(buffer)";
    if (!data || !graph_out) return qs__diag(diag, QS_STATUS_INVALID_ARG, "'%s': no data", name);
    qs_graph_t *g = NULL;
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, data);
    if (!m)
        return qs__diag(diag, QS_STATUS_PARSE,
                        "'%s': not a valid ONNX model (protobuf decoding failed: the file is "
                        "truncated or not a ModelProto)", name);
    enum qs_status st = qs__graph_create(&g);
    if (st == QS_STATUS_OK && !(g->path = qs__arena_strdup(&g->arena, name))) st = QS_STATUS_NOMEM;
    if (st == QS_STATUS_OK) st = build_graph(g, m, base_dir, infer, diag);
    onnx__model_proto__free_unpacked(m, NULL);
    if (st != QS_STATUS_OK) {
        if (st == QS_STATUS_NOMEM) qs__diag(diag, st, "out of memory");
        qs__diag_prefix(diag, "'%s': ", name);
        qs_graph_destroy(g);
        return st;
    }
    *graph_out = g;
    return QS_STATUS_OK;
}

enum qs_status qs_graph_load_onnx_buffer(const void *data, size_t size, const char *name,
                                         const char *base_dir, qs_graph_t **graph_out,
                                         struct qs_diag *diag) {
    return load_buffer(data, size, name, base_dir, true, graph_out, diag);
}

enum qs_status qs__graph_load_onnx_file(const char *path, bool infer, qs_graph_t **graph_out,
                                        struct qs_diag *diag) {
    if (!path) return qs__diag(diag, QS_STATUS_INVALID_ARG, "no model path");
    FILE *f = fopen(path, "rb");
    if (!f) return qs__diag(diag, QS_STATUS_IO, "'%s': cannot open: %s", path, strerror(errno));
    struct stat st_;
    if (fstat(fileno(f), &st_) != 0 || !S_ISREG(st_.st_mode)) {
        fclose(f);
        return qs__diag(diag, QS_STATUS_IO, "'%s': not a regular file", path);
    }
    size_t size = (size_t)st_.st_size;
    void *buf = qs__malloc(size ? size : 1);
    if (!buf) {
        fclose(f);
        return qs__diag(diag, QS_STATUS_NOMEM, "'%s': out of memory reading %zu bytes", path, size);
    }
    size_t got = fread(buf, 1, size, f);
    fclose(f);
    if (got != size) {
        qs__free(buf);
        return qs__diag(diag, QS_STATUS_IO, "'%s': read error", path);
    }
    if (size == 0) {
        qs__free(buf);
        return qs__diag(diag, QS_STATUS_PARSE, "'%s': empty file, not an ONNX model", path);
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    enum qs_status st = load_buffer(buf, size, path, dir, infer, graph_out, diag);
    qs__free(buf);
    return st;
}

enum qs_status qs_graph_load_onnx(const char *path, qs_graph_t **graph_out, struct qs_diag *diag) {
    return qs__graph_load_onnx_file(path, true, graph_out, diag);
}
