// Ops that only change the shape (Reshape, Flatten, Squeeze, Unsqueeze, Identity,
// Dropout), ops whose value is known from shapes (Shape, Size) or attributes (Constant),
// and generators (ConstantOfShape, Range, EyeLike).
#include "ir/ops/shape-impl.h"

#include <math.h>

static enum qs_status copy_run(qs_kctx *k) {
    qs__copy_or_alias(k->out[0]->data, k->in[0]->data, qs__view_bytes(k->in[0]), k->pool);
    return QS_STATUS_OK;
}

static void dims_str(const qs_view *v, char *buf, size_t n) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < v->rank && used + 1 < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? "x%lld" : "%lld",
                                 (long long)v->dims[i]);
    if (v->rank == 0) snprintf(buf, n, "scalar");
}

// ---------------------------------------------------------------------------------------
// Reshape

static enum qs_status reshape_infer(qs_kctx *k) {
    const qs_view *x = k->in[0];
    int64_t shape[QS_MAX_RANK];
    int n;
    enum qs_status st = qs__const_ints(k, 1, "shape", shape, QS_MAX_RANK, &n);
    if (st != QS_STATUS_OK) return st;
    bool allowzero = k->node->opset >= 14 && qs__attr_i(k->node, "allowzero", 0) != 0;
    int64_t dims[QS_MAX_RANK], known = 1;
    int infer_at = -1;
    for (int i = 0; i < n; i++) {
        int64_t d = shape[i];
        if (d == 0 && !allowzero) {
            if (i >= x->rank)
                return QS_NODE_ERR(k, QS_STATUS_PARSE, "shape[%d] = 0 copies a dim the input "
                                   "(rank %d) does not have", i, x->rank);
            d = x->dims[i];
        } else if (d == -1) {
            if (infer_at >= 0)
                return QS_NODE_ERR(k, QS_STATUS_PARSE, "shape has more than one -1");
            infer_at = i;
            d = 1;
        } else if (d < 0) {
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "shape[%d] = %lld is invalid", i,
                               (long long)d);
        }
        dims[i] = d;
        if (i != infer_at) known *= d;
    }
    char buf[128];
    dims_str(x, buf, sizeof buf);
    if (infer_at >= 0) {
        if (known == 0 || x->numel % known != 0)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "cannot reshape %s (%lld elements) with a "
                               "-1 dim next to dims of product %lld", buf,
                               (long long)x->numel, (long long)known);
        dims[infer_at] = x->numel / known;
    } else if (known != x->numel) {
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "cannot reshape %s (%lld elements) into a shape "
                           "of %lld elements", buf, (long long)x->numel, (long long)known);
    }
    qs__view_set_shape(k->out[0], x->dtype, n, dims);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_reshape = {
    .name = "Reshape", .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = reshape_infer, .run = copy_run, .alias_input0 = true,
};

// ---------------------------------------------------------------------------------------
// Flatten

static enum qs_status flatten_infer(qs_kctx *k) {
    const qs_view *x = k->in[0];
    int64_t axis = qs__attr_i(k->node, "axis", 1);
    if (axis < 0) axis += x->rank;
    if (axis < 0 || axis > x->rank)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %lld is outside [-%d, %d]",
                           (long long)qs__attr_i(k->node, "axis", 1), x->rank, x->rank);
    int64_t dims[2] = {qs__numel((int)axis, x->dims), 1};
    dims[1] = qs__numel(x->rank - (int)axis, x->dims + axis);
    qs__view_set_shape(k->out[0], x->dtype, 2, dims);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_flatten = {
    .name = "Flatten", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = flatten_infer, .run = copy_run, .alias_input0 = true,
};

// ---------------------------------------------------------------------------------------
// Squeeze / Unsqueeze: axes are an attribute before opset 13, an input from 13.

static enum qs_status read_axes(qs_kctx *k, int64_t *axes, int *n, bool *given) {
    *n = 0;
    *given = false;
    if (k->node->opset < 13) {
        int na;
        const int64_t *a = qs__attr_ints(k->node, "axes", &na);
        if (!a) return QS_STATUS_OK;
        if (na > QS_MAX_RANK)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "too many axes (%d)", na);
        memcpy(axes, a, (size_t)na * sizeof *axes);
        *n = na;
        *given = true;
        return QS_STATUS_OK;
    }
    if (k->n_in < 2 || k->in[1] == NULL) return QS_STATUS_OK;
    *given = true;
    return qs__const_ints(k, 1, "axes", axes, QS_MAX_RANK, n);
}

static enum qs_status squeeze_infer(qs_kctx *k) {
    const qs_view *x = k->in[0];
    int64_t axes[QS_MAX_RANK];
    int n;
    bool given;
    enum qs_status st = read_axes(k, axes, &n, &given);
    if (st != QS_STATUS_OK) return st;
    bool drop[QS_MAX_RANK] = {false};
    if (!given || n == 0) {  // no axes (or an empty list): every dim of size 1
        for (int i = 0; i < x->rank; i++) drop[i] = x->dims[i] == 1;
    }
    for (int i = 0; i < n; i++) {
        int a;
        if (!qs__norm_axis(axes[i], x->rank, &a))
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %lld is outside the input's rank %d",
                               (long long)axes[i], x->rank);
        if (x->dims[a] != 1)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "cannot squeeze axis %d of size %lld", a,
                               (long long)x->dims[a]);
        drop[a] = true;
    }
    int64_t dims[QS_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (!drop[i]) dims[r++] = x->dims[i];
    qs__view_set_shape(k->out[0], x->dtype, r, dims);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_squeeze = {
    .name = "Squeeze", .min_inputs = 1, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = squeeze_infer, .run = copy_run, .alias_input0 = true,
};

static enum qs_status unsqueeze_infer(qs_kctx *k) {
    const qs_view *x = k->in[0];
    int64_t axes[QS_MAX_RANK];
    int n;
    bool given;
    enum qs_status st = read_axes(k, axes, &n, &given);
    if (st != QS_STATUS_OK) return st;
    if (!given)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "axes are required");
    int r = x->rank + n;
    if (r > QS_MAX_RANK)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "output rank %d exceeds %d", r,
                           QS_MAX_RANK);
    bool ins[QS_MAX_RANK] = {false};
    for (int i = 0; i < n; i++) {
        int a;
        if (!qs__norm_axis(axes[i], r, &a))
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %lld is outside the output's rank %d",
                               (long long)axes[i], r);
        if (ins[a]) return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %d is repeated", a);
        ins[a] = true;
    }
    int64_t dims[QS_MAX_RANK];
    for (int i = 0, j = 0; i < r; i++) dims[i] = ins[i] ? 1 : x->dims[j++];
    qs__view_set_shape(k->out[0], x->dtype, r, dims);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_unsqueeze = {
    .name = "Unsqueeze", .min_inputs = 1, .max_inputs = 2, .min_outputs = 1,
    .max_outputs = 1, .infer = unsqueeze_infer, .run = copy_run, .alias_input0 = true,
};

// ---------------------------------------------------------------------------------------
// Identity / Dropout (inference: the identity; the mask is all true)

static enum qs_status identity_infer(qs_kctx *k) {
    const qs_view *x = k->in[0];
    enum qs_status st = qs__check_sized(k, x->dtype);
    if (st != QS_STATUS_OK) return st;
    qs__view_set_shape(k->out[0], x->dtype, x->rank, x->dims);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_identity = {
    .name = "Identity", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = identity_infer, .run = copy_run, .alias_input0 = true,
};

static bool has_output(const qs_kctx *k, int i) {
    return i < k->n_out && k->out[i] != NULL;
}

static enum qs_status dropout_infer(qs_kctx *k) {
    enum qs_status st = identity_infer(k);
    if (st != QS_STATUS_OK) return st;
    const qs_view *x = k->in[0];
    if (k->node->opset >= 12 && k->n_in >= 3 && k->in[2] != NULL) {
        const qs_view *t = k->in[2];
        if (!t->is_const)
            return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "training_mode (input '%s') must be "
                               "constant", qs__input_name(k, 2));
        if (t->numel > 0 && qs__view_get_i64(t, 0) != 0) {
            // Training mode drops at random unless the ratio is 0.
            double ratio = 0.5;
            if (k->in[1] != NULL && k->in[1]->numel > 0) {
                if (!k->in[1]->is_const)
                    return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "training-mode Dropout "
                                       "needs a constant ratio");
                ratio = qs__view_get_f64(k->in[1], 0);
            }
            if (ratio != 0)
                return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "training-mode Dropout (random) "
                                   "is not supported");
        }
    }
    if (has_output(k, 1)) {
        // Before opset 10 the mask has the input's type.
        enum qs_dtype mt = k->node->opset < 10 ? x->dtype : QS_DTYPE_BOOL;
        qs__view_set_shape(k->out[1], mt, x->rank, x->dims);
    }
    return QS_STATUS_OK;
}

static enum qs_status dropout_run(qs_kctx *k) {
    copy_run(k);
    if (has_output(k, 1)) {
        qs_view *m = k->out[1];
        unsigned char one[8];
        qs__scalar_store(m->dtype, 1.0, one);
        qs__fill(m->data, one, qs_dtype_size(m->dtype), m->numel);
    }
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_dropout = {
    .name = "Dropout", .min_inputs = 1, .max_inputs = 3, .min_outputs = 1, .max_outputs = 2,
    .infer = dropout_infer, .run = dropout_run, .alias_input0 = true,
};

// ---------------------------------------------------------------------------------------
// Shape / Size: values known from the input's shape, so constant at inference time.

static void shape_range(const qs_kctx *k, int rank, int64_t *start, int64_t *end) {
    int64_t s = 0, e = rank;
    if (k->node->opset >= 15) {
        s = qs__attr_i(k->node, "start", 0);
        e = qs__attr_i(k->node, "end", rank);
    }
    if (s < 0) s += rank;
    if (e < 0) e += rank;
    *start = QS_MAX(0, QS_MIN(s, rank));
    *end = QS_MAX(0, QS_MIN(e, rank));
    if (*end < *start) *end = *start;
}

static void shape_write(const qs_kctx *k, int64_t *out) {
    int64_t s, e;
    shape_range(k, k->in[0]->rank, &s, &e);
    for (int64_t i = s; i < e; i++) out[i - s] = k->in[0]->dims[i];
}

static void set_const(qs_kctx *k, qs_view *out) {
    if (k->alloc_const == NULL) return;
    void *p = k->alloc_const(k, qs__view_bytes(out));
    if (p == NULL) return;  // then the value is computed at run time
    out->data = p;
    out->is_const = true;
}

static enum qs_status shape_infer(qs_kctx *k) {
    int64_t s, e;
    shape_range(k, k->in[0]->rank, &s, &e);
    int64_t n = e - s;
    qs__view_set_shape(k->out[0], QS_DTYPE_I64, 1, &n);
    set_const(k, k->out[0]);
    if (k->out[0]->is_const) shape_write(k, k->out[0]->data);
    return QS_STATUS_OK;
}

static enum qs_status shape_run(qs_kctx *k) {
    shape_write(k, k->out[0]->data);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_shape = {
    .name = "Shape", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = shape_infer, .run = shape_run,
};

static enum qs_status size_infer(qs_kctx *k) {
    qs__view_set_shape(k->out[0], QS_DTYPE_I64, 0, NULL);
    set_const(k, k->out[0]);
    if (k->out[0]->is_const) *(int64_t *)k->out[0]->data = k->in[0]->numel;
    return QS_STATUS_OK;
}

static enum qs_status size_run(qs_kctx *k) {
    *(int64_t *)k->out[0]->data = k->in[0]->numel;
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_size = {
    .name = "Size", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = size_infer, .run = size_run,
};

// ---------------------------------------------------------------------------------------
// Constant

// Finds the value attribute; writes shape/dtype, and the value when dst is not NULL.
static enum qs_status constant_value(qs_kctx *k, qs_view *out, void *dst) {
    const qs_node *n = k->node;
    const struct qs_attr *a;
    if ((a = qs__attr(n, "value")) != NULL && a->type == QS_ATTR_TENSOR && a->t != NULL) {
        const qs_view *v = &a->t->v;
        enum qs_status st = qs__check_sized(k, v->dtype);
        if (st != QS_STATUS_OK) return st;
        if (out) qs__view_set_shape(out, v->dtype, v->rank, v->dims);
        if (dst && v->numel > 0) memcpy(dst, v->data, qs__view_bytes(v));
        return QS_STATUS_OK;
    }
    if ((a = qs__attr(n, "value_float")) != NULL) {
        if (out) qs__view_set_shape(out, QS_DTYPE_F32, 0, NULL);
        if (dst) memcpy(dst, &a->f, sizeof(float));
        return QS_STATUS_OK;
    }
    if ((a = qs__attr(n, "value_floats")) != NULL) {
        int64_t len = a->n;
        if (out) qs__view_set_shape(out, QS_DTYPE_F32, 1, &len);
        if (dst && len > 0) memcpy(dst, a->floats, (size_t)len * sizeof(float));
        return QS_STATUS_OK;
    }
    if ((a = qs__attr(n, "value_int")) != NULL) {
        if (out) qs__view_set_shape(out, QS_DTYPE_I64, 0, NULL);
        if (dst) memcpy(dst, &a->i, sizeof(int64_t));
        return QS_STATUS_OK;
    }
    if ((a = qs__attr(n, "value_ints")) != NULL) {
        int64_t len = a->n;
        if (out) qs__view_set_shape(out, QS_DTYPE_I64, 1, &len);
        if (dst && len > 0) memcpy(dst, a->ints, (size_t)len * sizeof(int64_t));
        return QS_STATUS_OK;
    }
    if (qs__attr(n, "sparse_value") || qs__attr(n, "value_string") ||
        qs__attr(n, "value_strings"))
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "sparse and string constants are not "
                           "supported");
    return QS_NODE_ERR(k, QS_STATUS_PARSE, "no value attribute");
}

static enum qs_status constant_infer(qs_kctx *k) {
    enum qs_status st = constant_value(k, k->out[0], NULL);
    if (st != QS_STATUS_OK) return st;
    set_const(k, k->out[0]);
    if (k->out[0]->is_const) constant_value(k, NULL, k->out[0]->data);
    return QS_STATUS_OK;
}

static enum qs_status constant_run(qs_kctx *k) {
    return constant_value(k, NULL, k->out[0]->data);
}

const struct qs_op_def qs__opdef_constant = {
    .name = "Constant", .min_inputs = 0, .max_inputs = 0, .min_outputs = 1, .max_outputs = 1,
    .infer = constant_infer, .run = constant_run,
};

// ---------------------------------------------------------------------------------------
// ConstantOfShape

static enum qs_status cos_value(qs_kctx *k, enum qs_dtype *dt, const void **value) {
    static const float zero = 0;
    const struct qs_attr *a = qs__attr(k->node, "value");
    *dt = QS_DTYPE_F32;
    *value = &zero;
    if (a == NULL) return QS_STATUS_OK;
    if (a->type != QS_ATTR_TENSOR || a->t == NULL || a->t->v.numel != 1)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "value must be a one-element tensor");
    *dt = a->t->v.dtype;
    *value = a->t->v.data;
    return qs__check_sized(k, *dt);
}

static enum qs_status cos_infer(qs_kctx *k) {
    int64_t dims[QS_MAX_RANK];
    int n;
    enum qs_status st = qs__const_ints(k, 0, "shape", dims, QS_MAX_RANK, &n);
    if (st != QS_STATUS_OK) return st;
    for (int i = 0; i < n; i++)
        if (dims[i] < 0)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "shape[%d] = %lld is negative", i,
                               (long long)dims[i]);
    enum qs_dtype dt;
    const void *v;
    if ((st = cos_value(k, &dt, &v)) != QS_STATUS_OK) return st;
    qs__view_set_shape(k->out[0], dt, n, dims);
    return QS_STATUS_OK;
}

static enum qs_status cos_run(qs_kctx *k) {
    enum qs_dtype dt;
    const void *v;
    enum qs_status st = cos_value(k, &dt, &v);
    if (st != QS_STATUS_OK) return st;
    qs__fill(k->out[0]->data, v, qs_dtype_size(dt), k->out[0]->numel);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_constantofshape = {
    .name = "ConstantOfShape", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1,
    .max_outputs = 1, .infer = cos_infer, .run = cos_run,
};

// ---------------------------------------------------------------------------------------
// Range

static bool is_float(enum qs_dtype dt) {
    return dt == QS_DTYPE_F32 || dt == QS_DTYPE_F64 || dt == QS_DTYPE_F16 ||
           dt == QS_DTYPE_BF16;
}

static enum qs_status range_infer(qs_kctx *k) {
    for (int i = 0; i < 3; i++) {
        if (!k->in[i]->is_const || k->in[i]->numel != 1)
            return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "input %d '%s' must be a constant "
                               "scalar: it decides the output length", i,
                               qs__input_name(k, i));
    }
    enum qs_dtype dt = k->in[0]->dtype;
    enum qs_status st = qs__check_sized(k, dt);
    if (st != QS_STATUS_OK) return st;
    int64_t n;
    if (is_float(dt)) {
        double s = qs__view_get_f64(k->in[0], 0), l = qs__view_get_f64(k->in[1], 0);
        double d = qs__view_get_f64(k->in[2], 0);
        if (d == 0 || !isfinite(s) || !isfinite(l) || !isfinite(d))
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "invalid range (%g, %g, %g)", s, l, d);
        double c = ceil((l - s) / d);
        n = c > 0 ? (int64_t)c : 0;
    } else {
        int64_t s = qs__view_get_i64(k->in[0], 0), l = qs__view_get_i64(k->in[1], 0);
        int64_t d = qs__view_get_i64(k->in[2], 0);
        if (d == 0) return QS_NODE_ERR(k, QS_STATUS_PARSE, "delta is 0");
        int64_t span = l - s;
        // ceil(span / d) with truncating division.
        n = span / d + ((span % d != 0) && ((span > 0) == (d > 0)));
        if (n < 0) n = 0;
    }
    qs__view_set_shape(k->out[0], dt, 1, &n);
    return QS_STATUS_OK;
}

static enum qs_status range_run(qs_kctx *k) {
    qs_view *o = k->out[0];
    size_t es = qs_dtype_size(o->dtype);
    char *p = o->data;
    if (is_float(o->dtype)) {
        double s = qs__view_get_f64(k->in[0], 0), d = qs__view_get_f64(k->in[2], 0);
        for (int64_t i = 0; i < o->numel; i++)
            qs__scalar_store(o->dtype, s + (double)i * d, p + (size_t)i * es);
    } else {
        int64_t s = qs__view_get_i64(k->in[0], 0), d = qs__view_get_i64(k->in[2], 0);
        for (int64_t i = 0; i < o->numel; i++) {
            int64_t v = s + i * d;
            if (o->dtype == QS_DTYPE_I64 || o->dtype == QS_DTYPE_U64)
                memcpy(p + (size_t)i * es, &v, 8);
            else
                qs__scalar_store(o->dtype, (double)v, p + (size_t)i * es);
        }
    }
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_range = {
    .name = "Range", .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = range_infer, .run = range_run,
};

// ---------------------------------------------------------------------------------------
// EyeLike

static enum qs_status eyelike_infer(qs_kctx *k) {
    const qs_view *x = k->in[0];
    if (x->rank != 2)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "input must be 2-D, not rank %d", x->rank);
    enum qs_dtype dt = (enum qs_dtype)qs__attr_i(k->node, "dtype", x->dtype);
    enum qs_status st = qs__check_sized(k, dt);
    if (st != QS_STATUS_OK) return st;
    qs__view_set_shape(k->out[0], dt, 2, x->dims);
    return QS_STATUS_OK;
}

static enum qs_status eyelike_run(qs_kctx *k) {
    qs_view *o = k->out[0];
    size_t es = qs_dtype_size(o->dtype);
    int64_t rows = o->dims[0], cols = o->dims[1];
    int64_t diag = qs__attr_i(k->node, "k", 0);
    unsigned char one[8];
    qs__scalar_store(o->dtype, 1.0, one);
    if (o->numel > 0) memset(o->data, 0, qs__view_bytes(o));
    for (int64_t i = 0; i < rows; i++) {
        int64_t j = i + diag;
        if (j >= 0 && j < cols) memcpy((char *)o->data + (size_t)(i * cols + j) * es, one, es);
    }
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_eyelike = {
    .name = "EyeLike", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = eyelike_infer, .run = eyelike_run,
};
