// ONNX export: qs_graph -> Onnx__ModelProto -> file.
//
// Every protobuf-c message is built in a scratch arena that lives for the duration of the
// call, pointing at the graph's own strings and tensor data where possible (nothing is
// copied on little-endian hosts), then packed once into a heap buffer and written to a
// temporary file that is renamed over the target only when everything succeeded.
//
// Activations fused by the optimizer (node->act) are not standard ONNX, so they are
// written back out as a separate Relu or Clip node after the producing node.

#include "ir/ir-impl.h"

#include "onnx/onnx.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct export_ctx {
    const qs_graph_t *g;
    qs_arena arena;
    struct qs_diag *diag;
    bool nomem;
    enum qs_status err;  // set with the message in diag when a conversion fails
    // Names invented for fused activations, checked so that they stay unique.
    int n_names, cap_names;
    char **names;
    // Nodes and initializers grow past the graph's counts when activations are unfused.
    int n_nodes, cap_nodes;
    Onnx__NodeProto **nodes;
    int n_inits, cap_inits;
    Onnx__TensorProto **inits;
} export_ctx;

static void *xalloc(export_ctx *c, size_t size) {
    void *p = qs__arena_alloc(&c->arena, size ? size : 1);
    if (!p) c->nomem = true;
    return p;
}

static char *xstrdup(export_ctx *c, const char *s) {
    char *p = qs__arena_strdup(&c->arena, s ? s : "");
    if (!p) c->nomem = true;
    return p;
}

// Grows an arena-backed pointer array (old blocks stay in the arena until the end).
static bool push_ptr(export_ctx *c, void ***arr, int *n, int *cap, void *p) {
    if (*n == *cap) {
        int ncap = *cap ? *cap * 2 : 64;
        void **na = xalloc(c, (size_t)ncap * sizeof(void *));
        if (!na) return false;
        if (*n) memcpy(na, *arr, (size_t)*n * sizeof(void *));
        *arr = na;
        *cap = ncap;
    }
    (*arr)[(*n)++] = p;
    return true;
}

static bool name_taken(const export_ctx *c, const char *name) {
    if (qs__graph_find(c->g, name)) return true;
    for (int i = 0; i < c->n_names; i++)
        if (strcmp(c->names[i], name) == 0) return true;
    return false;
}

// A tensor name "<base><suffix>[_k]" that no graph tensor and no earlier invented name uses.
static char *unique_name(export_ctx *c, const char *base, const char *suffix) {
    size_t len = strlen(base) + strlen(suffix) + 24;
    char *buf = xalloc(c, len);
    if (!buf) return NULL;
    snprintf(buf, len, "%s%s", base, suffix);
    for (int k = 1; name_taken(c, buf); k++) snprintf(buf, len, "%s%s_%d", base, suffix, k);
    if (!push_ptr(c, (void ***)&c->names, &c->n_names, &c->cap_names, buf)) return NULL;
    return buf;
}

static bool host_little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

// TensorProto with dims, data_type and raw_data (little-endian, as ONNX requires).
static Onnx__TensorProto *make_tensor(export_ctx *c, const char *name, const qs_view *v) {
    Onnx__TensorProto *tp = xalloc(c, sizeof(*tp));
    if (!tp) return NULL;
    onnx__tensor_proto__init(tp);
    if (name) tp->name = (char *)name;
    tp->has_data_type = 1;
    tp->data_type = (int32_t)v->dtype;
    tp->n_dims = (size_t)v->rank;
    if (v->rank > 0) {
        tp->dims = xalloc(c, (size_t)v->rank * sizeof(int64_t));
        if (!tp->dims) return NULL;
        memcpy(tp->dims, v->dims, (size_t)v->rank * sizeof(int64_t));
    }
    size_t esize = qs_dtype_size(v->dtype);
    if (esize == 0 && v->numel > 0) {
        c->err = qs__diag(c->diag, QS_STATUS_UNSUPPORTED, "tensor '%s': cannot export dtype %s",
                          name ? name : "", qs_dtype_name(v->dtype));
        return NULL;
    }
    size_t bytes = (size_t)v->numel * esize;
    tp->has_raw_data = 1;
    tp->raw_data.len = bytes;
    if (bytes == 0) return tp;
    if (!v->data) {
        c->err = qs__diag(c->diag, QS_STATUS_INTERNAL, "tensor '%s' has no data",
                          name ? name : "");
        return NULL;
    }
    if (host_little_endian() || esize == 1) {
        tp->raw_data.data = (uint8_t *)v->data;
    } else {
        uint8_t *sw = xalloc(c, bytes);
        if (!sw) return NULL;
        const uint8_t *src = v->data;
        for (size_t i = 0; i < bytes; i += esize)
            for (size_t j = 0; j < esize; j++) sw[i + j] = src[i + esize - 1 - j];
        tp->raw_data.data = sw;
    }
    return tp;
}

static Onnx__TensorProto *make_scalar_f32(export_ctx *c, const char *name, float value) {
    float *p = xalloc(c, sizeof(float));
    if (!p) return NULL;
    *p = value;
    qs_view v = {.dtype = QS_DTYPE_F32, .rank = 0, .numel = 1, .data = p, .is_const = true};
    return make_tensor(c, name, &v);
}

static Onnx__AttributeProto *make_attr(export_ctx *c, const qs_node *n, const struct qs_attr *a) {
    Onnx__AttributeProto *ap = xalloc(c, sizeof(*ap));
    if (!ap) return NULL;
    onnx__attribute_proto__init(ap);
    ap->name = (char *)a->name;
    ap->has_type = 1;
    ap->type = (Onnx__AttributeProto__AttributeType)a->type;
    switch (a->type) {
    case QS_ATTR_FLOAT:
        ap->has_f = 1;
        ap->f = a->f;
        break;
    case QS_ATTR_INT:
        ap->has_i = 1;
        ap->i = a->i;
        break;
    case QS_ATTR_STRING:
        ap->has_s = 1;
        ap->s.data = (uint8_t *)(a->s ? a->s : "");
        ap->s.len = a->s ? a->s_len : 0;
        break;
    case QS_ATTR_TENSOR:
        if (!a->t) goto unsupported;
        ap->t = make_tensor(c, a->t->name, &a->t->v);
        if (!ap->t) return NULL;
        break;
    case QS_ATTR_FLOATS:
        ap->n_floats = (size_t)a->n;
        ap->floats = a->floats;
        break;
    case QS_ATTR_INTS:
        ap->n_ints = (size_t)a->n;
        ap->ints = a->ints;
        break;
    case QS_ATTR_STRINGS:
        ap->n_strings = (size_t)a->n;
        if (a->n > 0) {
            ap->strings = xalloc(c, (size_t)a->n * sizeof(ProtobufCBinaryData));
            if (!ap->strings) return NULL;
            for (int i = 0; i < a->n; i++) {
                const char *s = a->strings[i] ? a->strings[i] : "";
                ap->strings[i].data = (uint8_t *)s;
                ap->strings[i].len = strlen(s);
            }
        }
        break;
    default:
        goto unsupported;
    }
    return ap;
unsupported:
    c->err = qs__diag(c->diag, QS_STATUS_UNSUPPORTED,
                      "node '%s' (%s): cannot export attribute '%s' of type %d", n->name,
                      n->op_type, a->name, (int)a->type);
    return NULL;
}

static Onnx__NodeProto *new_node(export_ctx *c, const char *name, const char *op_type,
                                 const char *domain, size_t n_in, size_t n_out) {
    Onnx__NodeProto *np = xalloc(c, sizeof(*np));
    if (!np) return NULL;
    onnx__node_proto__init(np);
    np->name = (char *)name;
    np->op_type = (char *)op_type;
    if (domain && domain[0]) np->domain = (char *)domain;
    np->n_input = n_in;
    np->n_output = n_out;
    np->input = xalloc(c, (n_in ? n_in : 1) * sizeof(char *));
    np->output = xalloc(c, (n_out ? n_out : 1) * sizeof(char *));
    if (!np->input || !np->output) return NULL;
    return np;
}

// The Relu/Clip node that carries a fused activation; `pre` is the producer's new output.
static bool emit_activation(export_ctx *c, const qs_node *n, const char *pre, const char *out) {
    const struct qs_fused_act *act = &n->act;
    const char *base = n->name && n->name[0] ? n->name : out;
    if (act->kind == QS_ACT_RELU) {
        Onnx__NodeProto *np = new_node(c, unique_name(c, base, "_relu"), "Relu", "", 1, 1);
        if (!np || !np->name) return false;
        np->input[0] = (char *)pre;
        np->output[0] = (char *)out;
        return push_ptr(c, (void ***)&c->nodes, &c->n_nodes, &c->cap_nodes, np);
    }
    QS_ASSERT(act->kind == QS_ACT_CLIP);
    float lo = act->lo, hi = act->hi;
    int opset = c->g->opset;
    if (opset < 11) {
        Onnx__NodeProto *np = new_node(c, unique_name(c, base, "_clip"), "Clip", "", 1, 1);
        if (!np || !np->name) return false;
        np->input[0] = (char *)pre;
        np->output[0] = (char *)out;
        np->n_attribute = 0;
        np->attribute = xalloc(c, 2 * sizeof(*np->attribute));
        if (!np->attribute) return false;
        static const char *const names[2] = {"min", "max"};
        const float vals[2] = {isinf(lo) ? -FLT_MAX : lo, isinf(hi) ? FLT_MAX : hi};
        for (int i = 0; i < 2; i++) {
            Onnx__AttributeProto *ap = xalloc(c, sizeof(*ap));
            if (!ap) return false;
            onnx__attribute_proto__init(ap);
            ap->name = (char *)names[i];
            ap->has_type = 1;
            ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
            ap->has_f = 1;
            ap->f = vals[i];
            np->attribute[np->n_attribute++] = ap;
        }
        return push_ptr(c, (void ***)&c->nodes, &c->n_nodes, &c->cap_nodes, np);
    }
    // Opset 11+: min and max are (optional) inputs, given as scalar initializers.
    bool has_lo = !(isinf(lo) && lo < 0), has_hi = !(isinf(hi) && hi > 0);
    Onnx__NodeProto *np = new_node(c, unique_name(c, base, "_clip"), "Clip", "",
                                   has_hi ? 3 : has_lo ? 2 : 1, 1);
    if (!np || !np->name) return false;
    np->input[0] = (char *)pre;
    np->output[0] = (char *)out;
    if (has_lo) {
        char *name = unique_name(c, out, "_clip_min");
        Onnx__TensorProto *tp = name ? make_scalar_f32(c, name, lo) : NULL;
        if (!tp || !push_ptr(c, (void ***)&c->inits, &c->n_inits, &c->cap_inits, tp))
            return false;
        np->input[1] = name;
    }
    if (has_hi) {
        if (!has_lo) np->input[1] = xstrdup(c, "");  // empty name: min left out
        char *name = unique_name(c, out, "_clip_max");
        Onnx__TensorProto *tp = name ? make_scalar_f32(c, name, hi) : NULL;
        if (!tp || !push_ptr(c, (void ***)&c->inits, &c->n_inits, &c->cap_inits, tp))
            return false;
        np->input[2] = name;
    }
    return push_ptr(c, (void ***)&c->nodes, &c->n_nodes, &c->cap_nodes, np);
}

static bool emit_node(export_ctx *c, const qs_node *n) {
    Onnx__NodeProto *np = new_node(c, n->name, n->op_type, n->domain, (size_t)n->n_inputs,
                                   (size_t)n->n_outputs);
    if (!np) return false;
    // Trailing absent optional inputs are dropped; inner ones keep their slot as "".
    int n_in = n->n_inputs;
    while (n_in > 0 && !n->inputs[n_in - 1]) n_in--;
    np->n_input = (size_t)n_in;
    for (int i = 0; i < n_in; i++)
        np->input[i] = n->inputs[i] ? n->inputs[i]->name : xstrdup(c, "");
    for (int i = 0; i < n->n_outputs; i++)
        np->output[i] = n->outputs[i] ? n->outputs[i]->name : xstrdup(c, "");
    if (n->doc && n->doc[0]) np->doc_string = n->doc;
    if (n->n_attrs > 0) {
        np->attribute = xalloc(c, (size_t)n->n_attrs * sizeof(*np->attribute));
        if (!np->attribute) return false;
        for (int i = 0; i < n->n_attrs; i++) {
            np->attribute[i] = make_attr(c, n, &n->attrs[i]);
            if (!np->attribute[i]) return false;
        }
        np->n_attribute = (size_t)n->n_attrs;
    }
    if (c->nomem) return false;
    bool fused = n->act.kind != QS_ACT_NONE && n->n_outputs >= 1 && n->outputs[0];
    if (!fused) return push_ptr(c, (void ***)&c->nodes, &c->n_nodes, &c->cap_nodes, np);
    char *pre = unique_name(c, n->outputs[0]->name, "_preact");
    if (!pre) return false;
    np->output[0] = pre;
    if (!push_ptr(c, (void ***)&c->nodes, &c->n_nodes, &c->cap_nodes, np)) return false;
    return emit_activation(c, n, pre, n->outputs[0]->name);
}

// ValueInfoProto for a graph input/output: declared shape when the file had one, with
// symbolic dimensions written back as their dim_param (or left unset when unnamed).
static Onnx__ValueInfoProto *make_value_info(export_ctx *c, const qs_tensor *t, bool full) {
    Onnx__ValueInfoProto *vi = xalloc(c, sizeof(*vi));
    Onnx__TypeProto *tp = xalloc(c, sizeof(*tp));
    Onnx__TypeProto__Tensor *tt = xalloc(c, sizeof(*tt));
    if (!vi || !tp || !tt) return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    vi->name = t->name;
    vi->type = tp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = (int32_t)t->v.dtype;
    int rank = full ? t->v.rank : t->decl_rank;
    if (rank < 0) return vi;
    Onnx__TensorShapeProto *sp = xalloc(c, sizeof(*sp));
    if (!sp) return NULL;
    onnx__tensor_shape_proto__init(sp);
    tt->shape = sp;
    sp->n_dim = (size_t)rank;
    if (rank == 0) return vi;
    sp->dim = xalloc(c, (size_t)rank * sizeof(*sp->dim));
    if (!sp->dim) return NULL;
    for (int i = 0; i < rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = xalloc(c, sizeof(*d));
        if (!d) return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        int64_t dim = full ? t->v.dims[i] : t->decl_dims[i];
        if (dim >= 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dim;
        } else if (!full && t->dim_param[i] && t->dim_param[i][0]) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = t->dim_param[i];
        }
        sp->dim[i] = d;
    }
    return vi;
}

// Lowest IR version that can carry `opset` of the default domain.
static int64_t min_ir_version(int opset) {
    if (opset <= 8) return 3;
    if (opset == 9) return 4;
    if (opset == 10) return 5;
    if (opset == 11) return 6;
    if (opset <= 14) return 7;
    if (opset <= 18) return 8;
    if (opset <= 20) return 9;
    return 10;
}

static enum qs_status build_model(export_ctx *c, Onnx__ModelProto *m) {
    const qs_graph_t *g = c->g;
    onnx__model_proto__init(m);
    int64_t ir = QS_MAX(g->ir_version, min_ir_version(g->opset));
    m->has_ir_version = 1;
    m->ir_version = ir;
    m->producer_name = g->producer_name && g->producer_name[0] ? g->producer_name
                                                               : (char *)"qsearch";
    m->producer_version = g->producer_name && g->producer_name[0] ? g->producer_version
                                                                  : (char *)QS_VERSION_STRING;

    // opset_import: as imported; a hand-built graph gets its default-domain opset.
    int n_ops = g->n_opsets > 0 ? g->n_opsets : 1;
    m->opset_import = xalloc(c, (size_t)n_ops * sizeof(*m->opset_import));
    if (!m->opset_import) return QS_STATUS_NOMEM;
    for (int i = 0; i < n_ops; i++) {
        Onnx__OperatorSetIdProto *op = xalloc(c, sizeof(*op));
        if (!op) return QS_STATUS_NOMEM;
        onnx__operator_set_id_proto__init(op);
        if (g->n_opsets > 0) {
            op->domain = g->opset_domains[i] ? g->opset_domains[i] : (char *)"";
            op->version = g->opset_versions[i];
        } else {
            op->domain = (char *)"";
            op->version = g->opset;
        }
        op->has_version = 1;
        m->opset_import[i] = op;
    }
    m->n_opset_import = (size_t)n_ops;

    Onnx__GraphProto *gp = xalloc(c, sizeof(*gp));
    if (!gp) return QS_STATUS_NOMEM;
    onnx__graph_proto__init(gp);
    m->graph = gp;
    gp->name = g->graph_name && g->graph_name[0] ? g->graph_name : (char *)"qsearch";

    for (int i = 0; i < g->n_nodes; i++)
        if (!emit_node(c, g->nodes[i])) return c->nomem ? QS_STATUS_NOMEM : c->err;

    // Initializers (graph-owned tensors first, then the ones invented for activations).
    int n_graph_inits = 0;
    for (int i = 0; i < g->n_tensors; i++)
        if (g->tensors[i] && g->tensors[i]->is_initializer) n_graph_inits++;
    int n_extra = c->n_inits;
    gp->initializer = xalloc(c, (size_t)(n_graph_inits + n_extra + 1) * sizeof(void *));
    if (!gp->initializer) return QS_STATUS_NOMEM;
    for (int i = 0; i < g->n_tensors; i++) {
        const qs_tensor *t = g->tensors[i];
        if (!t || !t->is_initializer) continue;
        Onnx__TensorProto *tp = make_tensor(c, t->name, &t->v);
        if (!tp) return c->nomem ? QS_STATUS_NOMEM : c->err;
        gp->initializer[gp->n_initializer++] = tp;
    }
    for (int i = 0; i < n_extra; i++) gp->initializer[gp->n_initializer++] = c->inits[i];

    // IR < 4 requires every initializer to be listed among the graph inputs as well.
    bool list_inits = ir < 4;
    size_t n_in = (size_t)g->n_inputs + (list_inits ? (size_t)(n_graph_inits + n_extra) : 0);
    gp->input = xalloc(c, (n_in + 1) * sizeof(void *));
    if (!gp->input) return QS_STATUS_NOMEM;
    for (int i = 0; i < g->n_inputs; i++) {
        Onnx__ValueInfoProto *vi = make_value_info(c, g->inputs[i], false);
        if (!vi) return QS_STATUS_NOMEM;
        gp->input[gp->n_input++] = vi;
    }
    if (list_inits) {
        for (int i = 0; i < g->n_tensors; i++) {
            const qs_tensor *t = g->tensors[i];
            if (!t || !t->is_initializer) continue;
            Onnx__ValueInfoProto *vi = make_value_info(c, t, true);
            if (!vi) return QS_STATUS_NOMEM;
            gp->input[gp->n_input++] = vi;
        }
        for (int i = 0; i < n_extra; i++) {
            qs_tensor tmp = {.name = c->inits[i]->name, .v = {.dtype = QS_DTYPE_F32}};
            Onnx__ValueInfoProto *vi = make_value_info(c, &tmp, true);
            if (!vi) return QS_STATUS_NOMEM;
            gp->input[gp->n_input++] = vi;
        }
    }
    gp->output = xalloc(c, ((size_t)g->n_outputs + 1) * sizeof(void *));
    if (!gp->output) return QS_STATUS_NOMEM;
    for (int i = 0; i < g->n_outputs; i++) {
        Onnx__ValueInfoProto *vi = make_value_info(c, g->outputs[i], false);
        if (!vi) return QS_STATUS_NOMEM;
        gp->output[gp->n_output++] = vi;
    }
    gp->node = c->nodes;
    gp->n_node = (size_t)c->n_nodes;
    return c->nomem ? QS_STATUS_NOMEM : QS_STATUS_OK;
}

static enum qs_status write_file(const char *path, const uint8_t *buf, size_t len,
                                 struct qs_diag *diag) {
    size_t plen = strlen(path);
    char *tmp = qs__malloc(plen + 16);
    if (!tmp) return qs__diag(diag, QS_STATUS_NOMEM, "'%s': out of memory", path);
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        qs__free(tmp);
        return qs__diag(diag, QS_STATUS_IO, "'%s': %s", path, strerror(e));
    }
    // mkstemp creates the file 0600; a model is an ordinary document.
    (void)fchmod(fd, 0644);
    size_t off = 0;
    int err = 0;
    while (off < len) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            err = errno;
            break;
        }
        off += (size_t)w;
    }
    if (!err && fsync(fd) != 0 && errno != EINVAL && errno != EROFS) err = errno;
    if (close(fd) != 0 && !err) err = errno;
    if (!err && rename(tmp, path) != 0) err = errno;
    if (err) {
        unlink(tmp);
        qs__free(tmp);
        return qs__diag(diag, QS_STATUS_IO, "'%s': %s", path, strerror(err));
    }
    qs__free(tmp);
    return QS_STATUS_OK;
}

QS_API enum qs_status qs_graph_save_onnx(const qs_graph_t *graph, const char *path,
                                         struct qs_diag *diag) {
    struct qs_diag local;
    if (!diag) diag = &local;
    diag->msg[0] = '\0';
    if (!graph || !path || !path[0])
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "qs_graph_save_onnx: %s",
                        !graph ? "graph is NULL" : "empty path");
    // A quantized graph is written in its standard QDQ form.
    qs_graph_t *qdq = NULL;
    if (qs_graph_is_quantized(graph)) {
        enum qs_status lst = qs__graph_lower_qdq(graph, &qdq, diag);
        if (lst != QS_STATUS_OK) {
            qs__diag_prefix(diag, "'%s': ", path);
            return lst;
        }
        graph = qdq;
    }
    export_ctx c = {.g = graph, .diag = diag, .err = QS_STATUS_INTERNAL};
    Onnx__ModelProto model;
    uint8_t *buf = NULL;
    enum qs_status st = build_model(&c, &model);
    if (st == QS_STATUS_NOMEM) {
        qs__diag(diag, st, "'%s': out of memory building the ONNX model", path);
        goto done;
    }
    if (st != QS_STATUS_OK) {
        qs__diag_prefix(diag, "'%s': ", path);
        goto done;
    }
    size_t len = onnx__model_proto__get_packed_size(&model);
    buf = qs__malloc(len ? len : 1);
    if (!buf) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "'%s': out of memory (%zu bytes)", path, len);
        goto done;
    }
    size_t packed = onnx__model_proto__pack(&model, buf);
    QS_ASSERT(packed == len);
    st = write_file(path, buf, len, diag);
done:
    if (st != QS_STATUS_OK) qs__log(QS_LOG_ERROR, "failed to save ONNX graph %s", diag->msg);
    qs__free(buf);
    qs__arena_free(&c.arena);
    qs_graph_destroy(qdq);
    return st;
}
