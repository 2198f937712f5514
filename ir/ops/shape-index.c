// Ops driven by index tensors: Gather, GatherElements, GatherND, ScatterElements (and the
// older Scatter), ScatterND, OneHot, Compress; and CumSum. Indices out of range are data
// errors found at run time: QS_STATUS_INVALID_ARG with a message.
#include "ir/ops/shape-impl.h"

static bool is_int_dtype(enum qs_dtype dt) {
    switch (dt) {
    case QS_DTYPE_I8: case QS_DTYPE_U8: case QS_DTYPE_I16: case QS_DTYPE_U16:
    case QS_DTYPE_I32: case QS_DTYPE_U32: case QS_DTYPE_I64: case QS_DTYPE_U64:
        return true;
    default:
        return false;
    }
}

static enum qs_status check_indices_dtype(const qs_kctx *k, int i) {
    if (!is_int_dtype(k->in[i]->dtype))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "indices (input %d '%s') must be integers, not "
                           "%s", i, qs__input_name(k, i), qs_dtype_name(k->in[i]->dtype));
    return QS_STATUS_OK;
}

static inline int64_t index_at(const qs_view *v, int64_t i) {
    if (v->dtype == QS_DTYPE_I64) return ((const int64_t *)v->data)[i];
    if (v->dtype == QS_DTYPE_I32) return ((const int32_t *)v->data)[i];
    return qs__view_get_i64(v, i);
}

// Checks every index against [-n, n) (negative counts from the end).
static enum qs_status check_range(const qs_kctx *k, const qs_view *idx, int64_t n, int axis) {
    for (int64_t i = 0; i < idx->numel; i++) {
        int64_t v = index_at(idx, i);
        if (v < -n || v >= n)
            return QS_NODE_ERR(k, QS_STATUS_INVALID_ARG, "index %lld (element %lld of '%s') "
                               "is out of range [-%lld, %lld) for axis %d", (long long)v,
                               (long long)i, qs__input_name(k, 1), (long long)n,
                               (long long)n, axis);
    }
    return QS_STATUS_OK;
}

// ---------------------------------------------------------------------------------------
// Gather

static enum qs_status gather_infer(qs_kctx *k) {
    const qs_view *x = k->in[0], *idx = k->in[1];
    int axis = 0;
    enum qs_status st = qs__check_sized(k, x->dtype);
    if (st == QS_STATUS_OK) st = check_indices_dtype(k, 1);
    if (st != QS_STATUS_OK) return st;
    int64_t a = qs__attr_i(k->node, "axis", 0);
    if (!qs__norm_axis(a, x->rank, &axis))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %lld is outside the input's rank %d",
                           (long long)a, x->rank);
    int r = x->rank - 1 + idx->rank;
    if (r > QS_MAX_RANK)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "output rank %d exceeds %d", r,
                           QS_MAX_RANK);
    int64_t dims[QS_MAX_RANK];
    int j = 0;
    for (int i = 0; i < axis; i++) dims[j++] = x->dims[i];
    for (int i = 0; i < idx->rank; i++) dims[j++] = idx->dims[i];
    for (int i = axis + 1; i < x->rank; i++) dims[j++] = x->dims[i];
    qs__view_set_shape(k->out[0], x->dtype, r, dims);
    return QS_STATUS_OK;
}

struct gather_job {
    const qs_view *idx;
    const char *x;
    char *y;
    int64_t n_idx, axis_dim;
    size_t block;  // bytes per index
};

static void gather_task(void *ctx, size_t begin, size_t end) {
    const struct gather_job *j = ctx;
    const size_t blk = j->block;
    for (size_t it = begin; it < end; it++) {
        int64_t o = (int64_t)it / j->n_idx, t = (int64_t)it % j->n_idx;
        int64_t v = index_at(j->idx, t);
        if (v < 0) v += j->axis_dim;
        const char *src = j->x + (size_t)(o * j->axis_dim + v) * blk;
        char *dst = j->y + it * blk;
        switch (blk) {
        case 4: memcpy(dst, src, 4); break;
        case 8: memcpy(dst, src, 8); break;
        default: memcpy(dst, src, blk);
        }
    }
}

static enum qs_status gather_run(qs_kctx *k) {
    const qs_view *x = k->in[0], *idx = k->in[1];
    int axis = 0;
    qs__norm_axis(qs__attr_i(k->node, "axis", 0), x->rank, &axis);
    enum qs_status st = check_range(k, idx, x->dims[axis], axis);
    if (st != QS_STATUS_OK) return st;
    int64_t outer = qs__numel(axis, x->dims);
    int64_t inner = qs__numel(x->rank - axis - 1, x->dims + axis + 1);
    struct gather_job j = {
        .idx = idx, .x = x->data, .y = k->out[0]->data, .n_idx = idx->numel,
        .axis_dim = x->dims[axis], .block = (size_t)inner * qs_dtype_size(x->dtype),
    };
    if (k->out[0]->numel == 0) return QS_STATUS_OK;
    qs__parallel(k->pool, (size_t)(outer * idx->numel), qs__view_bytes(k->out[0]),
                 gather_task, &j);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_gather = {
    .name = "Gather", .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = gather_infer, .run = gather_run,
};

// ---------------------------------------------------------------------------------------
// GatherElements / ScatterElements / Scatter: one index per element along `axis`.

static enum qs_status elements_check(qs_kctx *k, const qs_view *data, const qs_view *idx,
                                     int *axis) {
    enum qs_status st = qs__check_sized(k, data->dtype);
    if (st == QS_STATUS_OK) st = check_indices_dtype(k, 1);
    if (st != QS_STATUS_OK) return st;
    int64_t a = qs__attr_i(k->node, "axis", 0);
    if (!qs__norm_axis(a, data->rank, axis))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %lld is outside the data's rank %d",
                           (long long)a, data->rank);
    if (idx->rank != data->rank)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "indices have rank %d, data has rank %d",
                           idx->rank, data->rank);
    for (int i = 0; i < idx->rank; i++)
        if (i != *axis && idx->dims[i] > data->dims[i])
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "indices dim %d (%lld) exceeds the data's "
                               "(%lld)", i, (long long)idx->dims[i], (long long)data->dims[i]);
    return QS_STATUS_OK;
}

// Runs BODY for every position ii of the indices tensor with doff = the element offset in
// the data of that position with its `axis` coordinate replaced by the index (an odometer
// over the indices' dims; indices are range-checked before).
#define ELEM_WALK(data, idx, axis, BODY)                                         \
    do {                                                                         \
        int64_t ds_[QS_MAX_RANK], pos_[QS_MAX_RANK] = {0}, base_ = 0;            \
        qs__contig_strides((data)->rank, (data)->dims, ds_);                     \
        const int r_ = (idx)->rank;                                              \
        const int64_t ad_ = (data)->dims[axis];                                  \
        for (int64_t ii = 0; ii < (idx)->numel; ii++) {                          \
            int64_t v_ = index_at((idx), ii);                                    \
            if (v_ < 0) v_ += ad_;                                               \
            int64_t doff = base_ + v_ * ds_[axis];                               \
            BODY;                                                                \
            for (int q_ = r_ - 1; q_ >= 0; q_--) {                               \
                if (q_ != (axis)) base_ += ds_[q_];                              \
                if (++pos_[q_] < (idx)->dims[q_]) break;                         \
                if (q_ != (axis)) base_ -= ds_[q_] * pos_[q_];                   \
                pos_[q_] = 0;                                                    \
            }                                                                    \
        }                                                                        \
    } while (0)

static enum qs_status gather_elements_infer(qs_kctx *k) {
    int axis = 0;
    enum qs_status st = elements_check(k, k->in[0], k->in[1], &axis);
    if (st != QS_STATUS_OK) return st;
    qs__view_set_shape(k->out[0], k->in[0]->dtype, k->in[1]->rank, k->in[1]->dims);
    return QS_STATUS_OK;
}

static enum qs_status gather_elements_run(qs_kctx *k) {
    const qs_view *x = k->in[0], *idx = k->in[1];
    int axis = 0;
    qs__norm_axis(qs__attr_i(k->node, "axis", 0), x->rank, &axis);
    enum qs_status st = check_range(k, idx, x->dims[axis], axis);
    if (st != QS_STATUS_OK) return st;
    const size_t es = qs_dtype_size(x->dtype);
    const char *src = x->data;
    char *dst = k->out[0]->data;
    ELEM_WALK(x, idx, axis, memcpy(dst + (size_t)ii * es, src + (size_t)doff * es, es));
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_gatherelements = {
    .name = "GatherElements", .min_inputs = 2, .max_inputs = 2, .min_outputs = 1,
    .max_outputs = 1, .infer = gather_elements_infer, .run = gather_elements_run,
};

// Scatter reductions (opset 16/18): none, add, mul, max, min.
enum reduction { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static bool reducible(enum qs_dtype dt) {
    return dt == QS_DTYPE_F32 || dt == QS_DTYPE_F64 || dt == QS_DTYPE_I32 ||
           dt == QS_DTYPE_I64 || dt == QS_DTYPE_I8 || dt == QS_DTYPE_U8;
}

static enum qs_status read_reduction(qs_kctx *k, enum qs_dtype dt, enum reduction *r) {
    const char *s = qs__attr_s(k->node, "reduction", "none");
    if (strcmp(s, "none") == 0) *r = RED_NONE;
    else if (strcmp(s, "add") == 0) *r = RED_ADD;
    else if (strcmp(s, "mul") == 0) *r = RED_MUL;
    else if (strcmp(s, "max") == 0) *r = RED_MAX;
    else if (strcmp(s, "min") == 0) *r = RED_MIN;
    else return QS_NODE_ERR(k, QS_STATUS_PARSE, "unknown reduction '%s'", s);
    if (*r != RED_NONE && !reducible(dt))
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "reduction '%s' on %s is not supported",
                           s, qs_dtype_name(dt));
    return QS_STATUS_OK;
}

#define REDUCE_T(T)                                                            \
    do {                                                                       \
        T *d_ = dst;                                                           \
        const T *s_ = src;                                                     \
        for (int64_t i = 0; i < n; i++) {                                      \
            T a_ = d_[i], b_ = s_[i];                                          \
            switch (red) {                                                     \
            case RED_ADD: d_[i] = (T)(a_ + b_); break;                         \
            case RED_MUL: d_[i] = (T)(a_ * b_); break;                         \
            case RED_MAX: d_[i] = a_ > b_ ? a_ : b_; break;                    \
            case RED_MIN: d_[i] = a_ < b_ ? a_ : b_; break;                    \
            default: d_[i] = b_;                                               \
            }                                                                  \
        }                                                                      \
    } while (0)

// dst[i] = reduce(dst[i], src[i]) for n elements.
static void reduce_into(enum qs_dtype dt, enum reduction red, void *dst, const void *src,
                        int64_t n) {
    if (red == RED_NONE) {
        memcpy(dst, src, (size_t)n * qs_dtype_size(dt));
        return;
    }
    switch (dt) {
    case QS_DTYPE_F32: REDUCE_T(float); break;
    case QS_DTYPE_F64: REDUCE_T(double); break;
    case QS_DTYPE_I32: REDUCE_T(int32_t); break;
    case QS_DTYPE_I64: REDUCE_T(int64_t); break;
    case QS_DTYPE_I8: REDUCE_T(int8_t); break;
    case QS_DTYPE_U8: REDUCE_T(uint8_t); break;
    default: QS_ASSERT(!"reduction dtype checked at infer");
    }
}

static enum qs_status scatter_elements_infer(qs_kctx *k) {
    const qs_view *x = k->in[0], *idx = k->in[1], *upd = k->in[2];
    int axis = 0;
    enum reduction red;
    enum qs_status st = elements_check(k, x, idx, &axis);
    if (st == QS_STATUS_OK) st = read_reduction(k, x->dtype, &red);
    if (st != QS_STATUS_OK) return st;
    if (upd->dtype != x->dtype || upd->rank != idx->rank ||
        memcmp(upd->dims, idx->dims, (size_t)idx->rank * sizeof(int64_t)) != 0)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "updates must have the indices' shape and the "
                           "data's type");
    qs__view_set_shape(k->out[0], x->dtype, x->rank, x->dims);
    return QS_STATUS_OK;
}

static enum qs_status scatter_elements_run(qs_kctx *k) {
    const qs_view *x = k->in[0], *idx = k->in[1], *upd = k->in[2];
    qs_view *y = k->out[0];
    int axis = 0;
    enum reduction red;
    qs__norm_axis(qs__attr_i(k->node, "axis", 0), x->rank, &axis);
    enum qs_status st = read_reduction(k, x->dtype, &red);
    if (st == QS_STATUS_OK) st = check_range(k, idx, x->dims[axis], axis);
    if (st != QS_STATUS_OK) return st;
    qs__copy_or_alias(y->data, x->data, qs__view_bytes(x), k->pool);
    const size_t es = qs_dtype_size(x->dtype);
    const char *src = upd->data;
    char *dst = y->data;
    ELEM_WALK(x, idx, axis,
              reduce_into(x->dtype, red, dst + (size_t)doff * es, src + (size_t)ii * es, 1));
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_scatterelements = {
    .name = "ScatterElements", .min_inputs = 3, .max_inputs = 3, .min_outputs = 1,
    .max_outputs = 1, .infer = scatter_elements_infer, .run = scatter_elements_run,
};
const struct qs_op_def qs__opdef_scatter = {
    .name = "Scatter", .min_inputs = 3, .max_inputs = 3, .min_outputs = 1,
    .max_outputs = 1, .infer = scatter_elements_infer, .run = scatter_elements_run,
};

// ---------------------------------------------------------------------------------------
// GatherND / ScatterND: the last indices dim addresses a slice of the data.

struct nd_shape {
    int64_t b;          // batch dims count
    int64_t m;          // index tuple length
    int64_t batches;    // product of the batch dims
    int64_t lookups;    // index tuples per batch
    int64_t block;      // elements per slice
};

static enum qs_status nd_shape(qs_kctx *k, const qs_view *x, const qs_view *idx, int64_t b,
                               struct nd_shape *s) {
    enum qs_status st = qs__check_sized(k, x->dtype);
    if (st == QS_STATUS_OK) st = check_indices_dtype(k, 1);
    if (st != QS_STATUS_OK) return st;
    if (idx->rank < 1 || b < 0 || b >= idx->rank || b >= x->rank)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "invalid indices rank %d or batch_dims %lld",
                           idx->rank, (long long)b);
    s->b = b;
    s->m = idx->dims[idx->rank - 1];
    if (s->m < 1 || s->m > x->rank - b)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "index tuples of length %lld address a data "
                           "tensor of rank %d", (long long)s->m, x->rank);
    for (int i = 0; i < b; i++)
        if (idx->dims[i] != x->dims[i])
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "batch dim %d differs", i);
    s->batches = qs__numel((int)b, x->dims);
    s->lookups = qs__numel(idx->rank - 1 - (int)b, idx->dims + b);
    s->block = qs__numel(x->rank - (int)(b + s->m), x->dims + b + s->m);
    return QS_STATUS_OK;
}

// Element offset in the data (within one batch) of lookup `t`, or -1 when out of range.
static int64_t nd_offset(const qs_view *x, const qs_view *idx, const struct nd_shape *s,
                         int64_t t) {
    int64_t off = 0;
    for (int64_t j = 0; j < s->m; j++) {
        int64_t d = x->dims[s->b + j];
        int64_t v = index_at(idx, t * s->m + j);
        if (v < 0) v += d;
        if (v < 0 || v >= d) return -1;
        off = off * d + v;
    }
    return off * s->block;
}

static enum qs_status nd_check(qs_kctx *k, const qs_view *x, const qs_view *idx,
                               const struct nd_shape *s) {
    for (int64_t t = 0; t < s->batches * s->lookups; t++)
        if (nd_offset(x, idx, s, t) < 0)
            return QS_NODE_ERR(k, QS_STATUS_INVALID_ARG, "index tuple %lld of '%s' is out of "
                               "range", (long long)t, qs__input_name(k, 1));
    return QS_STATUS_OK;
}

static enum qs_status gathernd_infer(qs_kctx *k) {
    const qs_view *x = k->in[0], *idx = k->in[1];
    struct nd_shape s = {0};
    enum qs_status st = nd_shape(k, x, idx, qs__attr_i(k->node, "batch_dims", 0), &s);
    if (st != QS_STATUS_OK) return st;
    int64_t dims[QS_MAX_RANK];
    int r = 0;
    for (int i = 0; i < idx->rank - 1; i++) dims[r++] = idx->dims[i];
    if (r + x->rank - (s.b + s.m) > QS_MAX_RANK)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "output rank exceeds %d", QS_MAX_RANK);
    for (int i = (int)(s.b + s.m); i < x->rank; i++) dims[r++] = x->dims[i];
    qs__view_set_shape(k->out[0], x->dtype, r, dims);
    return QS_STATUS_OK;
}

static enum qs_status gathernd_run(qs_kctx *k) {
    const qs_view *x = k->in[0], *idx = k->in[1];
    struct nd_shape s = {0};
    enum qs_status st = nd_shape(k, x, idx, qs__attr_i(k->node, "batch_dims", 0), &s);
    if (st == QS_STATUS_OK) st = nd_check(k, x, idx, &s);
    if (st != QS_STATUS_OK) return st;
    const size_t es = qs_dtype_size(x->dtype), blk = (size_t)s.block * es;
    const int64_t per_batch = x->numel / QS_MAX(s.batches, 1);
    char *dst = k->out[0]->data;
    for (int64_t bi = 0; bi < s.batches; bi++) {
        const char *src = (const char *)x->data + (size_t)(bi * per_batch) * es;
        for (int64_t t = 0; t < s.lookups; t++) {
            int64_t off = nd_offset(x, idx, &s, bi * s.lookups + t);
            memcpy(dst, src + (size_t)off * es, blk);
            dst += blk;
        }
    }
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_gathernd = {
    .name = "GatherND", .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = gathernd_infer, .run = gathernd_run,
};

static enum qs_status scatternd_infer(qs_kctx *k) {
    const qs_view *x = k->in[0], *idx = k->in[1], *upd = k->in[2];
    struct nd_shape s = {0};
    enum reduction red;
    enum qs_status st = nd_shape(k, x, idx, 0, &s);
    if (st == QS_STATUS_OK) st = read_reduction(k, x->dtype, &red);
    if (st != QS_STATUS_OK) return st;
    if (upd->dtype != x->dtype || upd->numel != s.lookups * s.block)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "updates do not match the indices and data");
    qs__view_set_shape(k->out[0], x->dtype, x->rank, x->dims);
    return QS_STATUS_OK;
}

static enum qs_status scatternd_run(qs_kctx *k) {
    const qs_view *x = k->in[0], *idx = k->in[1], *upd = k->in[2];
    struct nd_shape s = {0};
    enum reduction red;
    enum qs_status st = nd_shape(k, x, idx, 0, &s);
    if (st == QS_STATUS_OK) st = read_reduction(k, x->dtype, &red);
    if (st == QS_STATUS_OK) st = nd_check(k, x, idx, &s);
    if (st != QS_STATUS_OK) return st;
    qs__copy_or_alias(k->out[0]->data, x->data, qs__view_bytes(x), k->pool);
    const size_t es = qs_dtype_size(x->dtype);
    for (int64_t t = 0; t < s.lookups; t++) {
        int64_t off = nd_offset(x, idx, &s, t);
        reduce_into(x->dtype, red, (char *)k->out[0]->data + (size_t)off * es,
                    (const char *)upd->data + (size_t)(t * s.block) * es, s.block);
    }
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_scatternd = {
    .name = "ScatterND", .min_inputs = 3, .max_inputs = 3, .min_outputs = 1,
    .max_outputs = 1, .infer = scatternd_infer, .run = scatternd_run,
};

// ---------------------------------------------------------------------------------------
// OneHot

static enum qs_status onehot_infer(qs_kctx *k) {
    const qs_view *idx = k->in[0], *depth = k->in[1], *values = k->in[2];
    if (!depth->is_const || depth->numel != 1)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "depth (input '%s') must be a constant "
                           "scalar: it decides the output shape", qs__input_name(k, 1));
    enum qs_status st = qs__check_sized(k, values->dtype);
    if (st != QS_STATUS_OK) return st;
    if (values->numel != 2)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "values must hold [off, on]");
    int64_t d = (int64_t)qs__view_get_f64(depth, 0);
    if (d < 1) return QS_NODE_ERR(k, QS_STATUS_PARSE, "depth %lld is < 1", (long long)d);
    int r = idx->rank + 1, axis;
    if (r > QS_MAX_RANK)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "output rank %d exceeds %d", r,
                           QS_MAX_RANK);
    if (!qs__norm_axis(qs__attr_i(k->node, "axis", -1), r, &axis))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis is outside the output's rank %d", r);
    int64_t dims[QS_MAX_RANK];
    for (int i = 0, j = 0; i < r; i++) dims[i] = i == axis ? d : idx->dims[j++];
    qs__view_set_shape(k->out[0], values->dtype, r, dims);
    return QS_STATUS_OK;
}

static enum qs_status onehot_run(qs_kctx *k) {
    const qs_view *idx = k->in[0], *values = k->in[2];
    qs_view *y = k->out[0];
    int axis = 0;
    qs__norm_axis(qs__attr_i(k->node, "axis", -1), y->rank, &axis);
    const int64_t depth = y->dims[axis];
    const size_t es = qs_dtype_size(y->dtype);
    const char *off_on = values->data;
    qs__fill(y->data, off_on, es, y->numel);
    int64_t inner = qs__numel(y->rank - axis - 1, y->dims + axis + 1);
    for (int64_t i = 0; i < idx->numel; i++) {
        int64_t v = (int64_t)qs__view_get_f64(idx, i);
        if (v < 0) v += depth;
        if (v < 0 || v >= depth) continue;  // out of range: the row stays `off`
        int64_t o = i / inner, in = i % inner;
        memcpy((char *)y->data + (size_t)((o * depth + v) * inner + in) * es, off_on + es, es);
    }
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_onehot = {
    .name = "OneHot", .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = onehot_infer, .run = onehot_run,
};

// ---------------------------------------------------------------------------------------
// Compress: the kept count depends on the condition's values, so it must be constant.

static enum qs_status compress_infer(qs_kctx *k) {
    const qs_view *x = k->in[0], *c = k->in[1];
    enum qs_status st = qs__check_sized(k, x->dtype);
    if (st != QS_STATUS_OK) return st;
    if (!c->is_const)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "condition (input '%s') must be constant: "
                           "it decides the output shape", qs__input_name(k, 1));
    if (c->rank != 1) return QS_NODE_ERR(k, QS_STATUS_PARSE, "condition must be 1-D");
    const struct qs_attr *a = qs__attr(k->node, "axis");
    int axis = -1;
    if (a && !qs__norm_axis(a->i, x->rank, &axis))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %lld is outside rank %d", (long long)a->i,
                           x->rank);
    int64_t len = axis < 0 ? x->numel : x->dims[axis];
    if (c->numel > len)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "condition is longer than the selected axis");
    int64_t kept = 0;
    for (int64_t i = 0; i < c->numel; i++) kept += qs__view_get_i64(c, i) != 0;
    if (axis < 0) {
        qs__view_set_shape(k->out[0], x->dtype, 1, &kept);
    } else {
        int64_t dims[QS_MAX_RANK];
        memcpy(dims, x->dims, sizeof dims);
        dims[axis] = kept;
        qs__view_set_shape(k->out[0], x->dtype, x->rank, dims);
    }
    return QS_STATUS_OK;
}

static enum qs_status compress_run(qs_kctx *k) {
    const qs_view *x = k->in[0], *c = k->in[1];
    const struct qs_attr *a = qs__attr(k->node, "axis");
    int axis = -1;
    if (a) qs__norm_axis(a->i, x->rank, &axis);
    const size_t es = qs_dtype_size(x->dtype);
    int64_t outer = 1, len = x->numel, inner = 1;
    if (axis >= 0) {
        outer = qs__numel(axis, x->dims);
        len = x->dims[axis];
        inner = qs__numel(x->rank - axis - 1, x->dims + axis + 1);
    }
    const size_t blk = (size_t)inner * es;
    char *dst = k->out[0]->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < c->numel; i++) {
            if (qs__view_get_i64(c, i) == 0) continue;
            memcpy(dst, (const char *)x->data + (size_t)(o * len + i) * blk, blk);
            dst += blk;
        }
    }
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_compress = {
    .name = "Compress", .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = compress_infer, .run = compress_run,
};

// ---------------------------------------------------------------------------------------
// CumSum

static bool cumsum_dtype(enum qs_dtype dt) {
    return dt == QS_DTYPE_F32 || dt == QS_DTYPE_F64 || dt == QS_DTYPE_I32 ||
           dt == QS_DTYPE_I64 || dt == QS_DTYPE_U32 || dt == QS_DTYPE_U64;
}

static enum qs_status cumsum_infer(qs_kctx *k) {
    const qs_view *x = k->in[0];
    if (!cumsum_dtype(x->dtype))
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "%s is not supported",
                           qs_dtype_name(x->dtype));
    if (k->in[1]->numel != 1)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis must be a scalar");
    if (k->in[1]->is_const) {
        int axis = 0;
        if (!qs__norm_axis(qs__view_get_i64(k->in[1], 0), x->rank, &axis))
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis is outside rank %d", x->rank);
    }
    qs__view_set_shape(k->out[0], x->dtype, x->rank, x->dims);
    return QS_STATUS_OK;
}

// Rows of `inner` elements along the axis: out_row[j] = out_row[j-1] + in_row[j or j-1].
#define CUMSUM_T(T)                                                                  \
    do {                                                                             \
        const T *xp = x->data;                                                       \
        T *yp = y->data;                                                             \
        for (int64_t o = 0; o < outer; o++) {                                        \
            for (int64_t s = 0; s < n; s++) {                                        \
                int64_t j = rev ? n - 1 - s : s, prev = rev ? j + 1 : j - 1;         \
                T *yr = yp + (o * n + j) * inner;                                    \
                const T *xr = xp + (o * n + j) * inner;                              \
                if (s == 0) {                                                        \
                    for (int64_t i = 0; i < inner; i++) yr[i] = excl ? (T)0 : xr[i]; \
                    continue;                                                        \
                }                                                                    \
                const T *yq = yp + (o * n + prev) * inner;                           \
                const T *xq = excl ? xp + (o * n + prev) * inner : xr;               \
                for (int64_t i = 0; i < inner; i++) yr[i] = (T)(yq[i] + xq[i]);      \
            }                                                                        \
        }                                                                            \
    } while (0)

static enum qs_status cumsum_run(qs_kctx *k) {
    const qs_view *x = k->in[0];
    qs_view *y = k->out[0];
    int axis = 0;
    if (!qs__norm_axis(qs__view_get_i64(k->in[1], 0), x->rank, &axis))
        return QS_NODE_ERR(k, QS_STATUS_INVALID_ARG, "axis is outside rank %d", x->rank);
    const bool excl = qs__attr_i(k->node, "exclusive", 0) != 0;
    const bool rev = qs__attr_i(k->node, "reverse", 0) != 0;
    const int64_t outer = qs__numel(axis, x->dims), n = x->dims[axis];
    const int64_t inner = qs__numel(x->rank - axis - 1, x->dims + axis + 1);
    switch (x->dtype) {
    case QS_DTYPE_F32: CUMSUM_T(float); break;
    case QS_DTYPE_F64: CUMSUM_T(double); break;
    case QS_DTYPE_I32: CUMSUM_T(int32_t); break;
    case QS_DTYPE_I64: CUMSUM_T(int64_t); break;
    case QS_DTYPE_U32: CUMSUM_T(uint32_t); break;
    case QS_DTYPE_U64: CUMSUM_T(uint64_t); break;
    default: QS_ASSERT(!"dtype checked at infer");
    }
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_cumsum = {
    .name = "CumSum", .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = cumsum_infer, .run = cumsum_run,
};
