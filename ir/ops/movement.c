// Data-movement ops built on strided copies: Transpose, Concat, Split, Slice, Expand,
// Tile, Pad, DepthToSpace, SpaceToDepth, ReverseSequence, Trilu.
#include "ir/ops/shape-impl.h"

#include <limits.h>

// ---------------------------------------------------------------------------------------
// Transpose

static enum qs_status transpose_perm(qs_kctx *k, int *perm) {
    int r = k->in[0]->rank, n;
    const int64_t *p = qs__attr_ints(k->node, "perm", &n);
    if (p == NULL) {
        for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
        return QS_STATUS_OK;
    }
    if (n != r)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "perm has %d entries for an input of rank %d",
                           n, r);
    bool seen[QS_MAX_RANK] = {false};
    for (int i = 0; i < r; i++) {
        int a;
        if (!qs__norm_axis(p[i], r, &a) || seen[a])
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "perm is not a permutation of 0..%d", r - 1);
        seen[a] = true;
        perm[i] = a;
    }
    return QS_STATUS_OK;
}

static enum qs_status transpose_infer(qs_kctx *k) {
    const qs_view *x = k->in[0];
    int perm[QS_MAX_RANK];
    enum qs_status st = qs__check_sized(k, x->dtype);
    if (st == QS_STATUS_OK) st = transpose_perm(k, perm);
    if (st != QS_STATUS_OK) return st;
    int64_t dims[QS_MAX_RANK];
    for (int i = 0; i < x->rank; i++) dims[i] = x->dims[perm[i]];
    qs__view_set_shape(k->out[0], x->dtype, x->rank, dims);
    return QS_STATUS_OK;
}

static enum qs_status transpose_run(qs_kctx *k) {
    const qs_view *x = k->in[0];
    qs_view *y = k->out[0];
    int perm[QS_MAX_RANK];
    enum qs_status st = transpose_perm(k, perm);
    if (st != QS_STATUS_OK) return st;
    int64_t xs[QS_MAX_RANK];
    qs__contig_strides(x->rank, x->dims, xs);
    qs_copy_desc d = {.rank = y->rank, .esize = qs_dtype_size(x->dtype)};
    qs__contig_strides(y->rank, y->dims, d.dst_stride);
    for (int i = 0; i < y->rank; i++) {
        d.dims[i] = y->dims[i];
        d.src_stride[i] = xs[perm[i]];
    }
    qs__copy_strided(&d, y->data, x->data, k->pool);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_transpose = {
    .name = "Transpose", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1,
    .max_outputs = 1, .infer = transpose_infer, .run = transpose_run,
};

// ---------------------------------------------------------------------------------------
// Concat / Split: [outer, axis.., inner] blocks copied with memcpy.

static enum qs_status concat_infer(qs_kctx *k) {
    const qs_view *x0 = k->in[0];
    int axis = 0;
    int64_t a = qs__attr_i(k->node, "axis", INT64_MIN);
    if (a == INT64_MIN) return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis is required");
    if (x0->rank == 0 || !qs__norm_axis(a, x0->rank, &axis))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %lld is outside the inputs' rank %d",
                           (long long)a, x0->rank);
    enum qs_status st = qs__check_sized(k, x0->dtype);
    if (st != QS_STATUS_OK) return st;
    int64_t dims[QS_MAX_RANK];
    memcpy(dims, x0->dims, sizeof dims);
    dims[axis] = 0;
    for (int i = 0; i < k->n_in; i++) {
        const qs_view *x = k->in[i];
        if (x == NULL) return QS_NODE_ERR(k, QS_STATUS_PARSE, "input %d is empty", i);
        if (x->dtype != x0->dtype || x->rank != x0->rank)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "input %d ('%s') has another type or rank "
                               "than input 0", i, qs__input_name(k, i));
        for (int j = 0; j < x->rank; j++)
            if (j != axis && x->dims[j] != x0->dims[j])
                return QS_NODE_ERR(k, QS_STATUS_PARSE, "input %d ('%s') has dim %d = %lld, "
                                   "input 0 has %lld", i, qs__input_name(k, i), j,
                                   (long long)x->dims[j], (long long)x0->dims[j]);
        dims[axis] += x->dims[axis];
    }
    qs__view_set_shape(k->out[0], x0->dtype, x0->rank, dims);
    return QS_STATUS_OK;
}

// Shared by Concat and Split: `parts` tensors whose rows (one per outer index) are
// consecutive pieces of the whole tensor's rows.
struct blocks_job {
    qs_view *const *parts;
    int n_parts;
    char *whole;
    size_t row_bytes;
    size_t inner_bytes;  // bytes of one step along the axis
    int axis;
    bool gather;  // Concat: parts -> whole; Split: whole -> parts
};

static void blocks_task(void *ctx, size_t begin, size_t end) {
    const struct blocks_job *j = ctx;
    for (size_t o = begin; o < end; o++) {
        char *row = j->whole + o * j->row_bytes;
        for (int i = 0; i < j->n_parts; i++) {
            const qs_view *p = j->parts[i];
            if (p == NULL) continue;
            size_t b = (size_t)p->dims[j->axis] * j->inner_bytes;
            char *part = (char *)p->data + o * b;
            if (b == 0) continue;
            if (j->gather)
                memcpy(row, part, b);
            else
                memcpy(part, row, b);
            row += b;
        }
    }
}

static void blocks_run(qs_kctx *k, const qs_view *whole_v, qs_view *const *parts, int n,
                       int axis, bool gather) {
    size_t es = qs_dtype_size(whole_v->dtype);
    int64_t outer = qs__numel(axis, whole_v->dims);
    int64_t inner = qs__numel(whole_v->rank - axis - 1, whole_v->dims + axis + 1);
    struct blocks_job j = {
        .parts = parts, .n_parts = n, .whole = whole_v->data,
        .row_bytes = (size_t)(whole_v->dims[axis] * inner) * es,
        .inner_bytes = (size_t)inner * es, .axis = axis, .gather = gather,
    };
    if (whole_v->numel == 0) return;
    if (outer == 1) {
        // One row: large copies, each split over the pool.
        char *row = j.whole;
        for (int i = 0; i < n; i++) {
            const qs_view *p = parts[i];
            if (p == NULL) continue;
            size_t b = (size_t)p->dims[axis] * j.inner_bytes;
            if (gather)
                qs__copy_or_alias(row, p->data, b, k->pool);
            else
                qs__copy_or_alias(p->data, row, b, k->pool);
            row += b;
        }
        return;
    }
    qs__parallel(k->pool, (size_t)outer, qs__view_bytes(whole_v), blocks_task, &j);
}

static enum qs_status concat_run(qs_kctx *k) {
    int axis = 0;
    qs__norm_axis(qs__attr_i(k->node, "axis", 0), k->out[0]->rank, &axis);
    blocks_run(k, k->out[0], k->in, k->n_in, axis, true);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_concat = {
    .name = "Concat", .min_inputs = 1, .max_inputs = -1, .min_outputs = 1, .max_outputs = 1,
    .infer = concat_infer, .run = concat_run,
};

static enum qs_status split_infer(qs_kctx *k) {
    const qs_view *x = k->in[0];
    int axis = 0;
    int64_t a = qs__attr_i(k->node, "axis", 0);
    if (!qs__norm_axis(a, x->rank, &axis))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %lld is outside the input's rank %d",
                           (long long)a, x->rank);
    enum qs_status st = qs__check_sized(k, x->dtype);
    if (st != QS_STATUS_OK) return st;
    int n = k->n_out;
    int64_t dim = x->dims[axis];
    const int64_t *sp = NULL;
    int64_t sp_in[64];
    int ns = 0;
    if (k->node->opset < 13) {
        sp = qs__attr_ints(k->node, "split", &ns);
    } else if (k->n_in >= 2 && k->in[1] != NULL) {
        st = qs__const_ints(k, 1, "split", sp_in, (int)QS_COUNTOF(sp_in), &ns);
        if (st != QS_STATUS_OK) return st;
        sp = sp_in;
    }
    int64_t num = qs__attr_i(k->node, "num_outputs", 0);
    if (num > 0 && num != n)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "num_outputs is %lld but the node has %d "
                           "outputs", (long long)num, n);
    int64_t sum = 0;
    for (int i = 0; i < n; i++) {
        int64_t len;
        if (sp) {
            if (ns != n)
                return QS_NODE_ERR(k, QS_STATUS_PARSE, "split has %d entries for %d outputs",
                                   ns, n);
            len = sp[i];
            if (len < 0)
                return QS_NODE_ERR(k, QS_STATUS_PARSE, "split[%d] = %lld is negative", i,
                                   (long long)len);
        } else {
            // Equal chunks; the last one is smaller when the dim does not divide.
            int64_t chunk = (dim + n - 1) / n;
            len = QS_MAX(0, QS_MIN(chunk, dim - chunk * i));
        }
        sum += len;
        if (k->out[i] == NULL) continue;
        int64_t dims[QS_MAX_RANK];
        memcpy(dims, x->dims, sizeof dims);
        dims[axis] = len;
        qs__view_set_shape(k->out[i], x->dtype, x->rank, dims);
    }
    if (sum != dim)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "split sizes sum to %lld, the axis has %lld",
                           (long long)sum, (long long)dim);
    return QS_STATUS_OK;
}

static enum qs_status split_run(qs_kctx *k) {
    int axis = 0;
    qs__norm_axis(qs__attr_i(k->node, "axis", 0), k->in[0]->rank, &axis);
    blocks_run(k, k->in[0], k->out, k->n_out, axis, false);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_split = {
    .name = "Split", .min_inputs = 1, .max_inputs = 2, .min_outputs = 1, .max_outputs = INT_MAX,
    .infer = split_infer, .run = split_run,
};

// ---------------------------------------------------------------------------------------
// Slice

// Start and step of every axis, and the output dims.
static enum qs_status slice_params(qs_kctx *k, int64_t *start, int64_t *step, int64_t *dims) {
    const qs_view *x = k->in[0];
    int r = x->rank;
    int64_t st_[QS_MAX_RANK], en[QS_MAX_RANK], ax[QS_MAX_RANK], sp[QS_MAX_RANK];
    int ns, ne, na = -1, nsp = -1;
    enum qs_status st;
    if (k->node->opset < 10) {
        const int64_t *p;
        int n;
        if (!(p = qs__attr_ints(k->node, "starts", &ns)) || ns > r) goto bad_attr;
        memcpy(st_, p, (size_t)ns * sizeof *p);
        if (!(p = qs__attr_ints(k->node, "ends", &ne)) || ne > r) goto bad_attr;
        memcpy(en, p, (size_t)ne * sizeof *p);
        if ((p = qs__attr_ints(k->node, "axes", &n)) != NULL) {
            if (n > r) goto bad_attr;
            memcpy(ax, p, (size_t)n * sizeof *p);
            na = n;
        }
    } else {
        if ((st = qs__const_ints(k, 1, "starts", st_, r, &ns)) != QS_STATUS_OK) return st;
        if ((st = qs__const_ints(k, 2, "ends", en, r, &ne)) != QS_STATUS_OK) return st;
        if (k->n_in > 3 && k->in[3] != NULL &&
            (st = qs__const_ints(k, 3, "axes", ax, r, &na)) != QS_STATUS_OK)
            return st;
        if (k->n_in > 4 && k->in[4] != NULL &&
            (st = qs__const_ints(k, 4, "steps", sp, r, &nsp)) != QS_STATUS_OK)
            return st;
    }
    if (ne != ns || (na >= 0 && na != ns) || (nsp >= 0 && nsp != ns))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "starts, ends, axes and steps differ in length");
    for (int i = 0; i < r; i++) {
        start[i] = 0;
        step[i] = 1;
        dims[i] = x->dims[i];
    }
    bool seen[QS_MAX_RANK] = {false};
    for (int i = 0; i < ns; i++) {
        int a = i;
        if (na >= 0 && !qs__norm_axis(ax[i], r, &a))
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %lld is outside rank %d",
                               (long long)ax[i], r);
        if (seen[a]) return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %d is repeated", a);
        seen[a] = true;
        int64_t d = x->dims[a], s = st_[i], e = en[i], stp = nsp >= 0 ? sp[i] : 1;
        if (stp == 0) return QS_NODE_ERR(k, QS_STATUS_PARSE, "step of axis %d is 0", a);
        if (s < 0) s += d;
        if (e < 0) e += d;
        int64_t n;
        if (d == 0) {
            s = 0;
            n = 0;
        } else if (stp > 0) {
            s = QS_MAX(0, QS_MIN(s, d));
            e = QS_MAX(0, QS_MIN(e, d));
            n = e > s ? (e - s - 1) / stp + 1 : 0;
        } else {
            s = QS_MAX(0, QS_MIN(s, d - 1));
            e = QS_MAX(-1, QS_MIN(e, d - 1));
            n = s > e ? (s - e - 1) / -stp + 1 : 0;
        }
        start[a] = n > 0 ? s : 0;
        step[a] = stp;
        dims[a] = n;
    }
    return QS_STATUS_OK;
bad_attr:
    return QS_NODE_ERR(k, QS_STATUS_PARSE, "starts and ends attributes are required and "
                       "must not exceed the input's rank");
}

static enum qs_status slice_infer(qs_kctx *k) {
    const qs_view *x = k->in[0];
    int64_t start[QS_MAX_RANK], step[QS_MAX_RANK], dims[QS_MAX_RANK];
    enum qs_status st = qs__check_sized(k, x->dtype);
    if (st == QS_STATUS_OK) st = slice_params(k, start, step, dims);
    if (st != QS_STATUS_OK) return st;
    qs__view_set_shape(k->out[0], x->dtype, x->rank, dims);
    return QS_STATUS_OK;
}

static enum qs_status slice_run(qs_kctx *k) {
    const qs_view *x = k->in[0];
    qs_view *y = k->out[0];
    int64_t start[QS_MAX_RANK], step[QS_MAX_RANK], dims[QS_MAX_RANK], xs[QS_MAX_RANK];
    enum qs_status st = slice_params(k, start, step, dims);
    if (st != QS_STATUS_OK) return st;
    if (y->numel == 0) return QS_STATUS_OK;
    qs__contig_strides(x->rank, x->dims, xs);
    size_t es = qs_dtype_size(x->dtype);
    qs_copy_desc d = {.rank = x->rank, .esize = es};
    qs__contig_strides(y->rank, y->dims, d.dst_stride);
    int64_t off = 0;
    for (int i = 0; i < x->rank; i++) {
        d.dims[i] = y->dims[i];
        d.src_stride[i] = xs[i] * step[i];
        off += start[i] * xs[i];
    }
    qs__copy_strided(&d, y->data, (const char *)x->data + off * (int64_t)es, k->pool);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_slice = {
    .name = "Slice", .min_inputs = 1, .max_inputs = 5, .min_outputs = 1, .max_outputs = 1,
    .infer = slice_infer, .run = slice_run,
};

// ---------------------------------------------------------------------------------------
// Expand / Tile

static enum qs_status expand_infer(qs_kctx *k) {
    const qs_view *x = k->in[0];
    int64_t shape[QS_MAX_RANK], dims[QS_MAX_RANK];
    int n, r;
    enum qs_status st = qs__check_sized(k, x->dtype);
    if (st == QS_STATUS_OK) st = qs__const_ints(k, 1, "shape", shape, QS_MAX_RANK, &n);
    if (st != QS_STATUS_OK) return st;
    if (!qs__broadcast_shape(x->rank, x->dims, n, shape, &r, dims))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "the input does not broadcast to the shape");
    qs__view_set_shape(k->out[0], x->dtype, r, dims);
    return QS_STATUS_OK;
}

// Copies x into y, repeating it along dims where x has size 1 (numpy broadcasting).
static void broadcast_copy(const qs_view *x, qs_view *y, qs_pool_t *pool) {
    int64_t xs[QS_MAX_RANK];
    qs__contig_strides(x->rank, x->dims, xs);
    qs_copy_desc d = {.rank = y->rank, .esize = qs_dtype_size(x->dtype)};
    qs__contig_strides(y->rank, y->dims, d.dst_stride);
    int lead = y->rank - x->rank;
    for (int i = 0; i < y->rank; i++) {
        d.dims[i] = y->dims[i];
        int j = i - lead;
        d.src_stride[i] = j < 0 || x->dims[j] == 1 ? 0 : xs[j];
    }
    qs__copy_strided(&d, y->data, x->data, pool);
}

static enum qs_status expand_run(qs_kctx *k) {
    broadcast_copy(k->in[0], k->out[0], k->pool);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_expand = {
    .name = "Expand", .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = expand_infer, .run = expand_run,
};

static enum qs_status tile_infer(qs_kctx *k) {
    const qs_view *x = k->in[0];
    int64_t rep[QS_MAX_RANK], dims[QS_MAX_RANK];
    int n;
    enum qs_status st = qs__check_sized(k, x->dtype);
    if (st == QS_STATUS_OK) st = qs__const_ints(k, 1, "repeats", rep, QS_MAX_RANK, &n);
    if (st != QS_STATUS_OK) return st;
    if (n != x->rank)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "repeats has %d values for an input of rank %d",
                           n, x->rank);
    for (int i = 0; i < n; i++) {
        if (rep[i] < 0)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "repeats[%d] = %lld is negative", i,
                               (long long)rep[i]);
        dims[i] = x->dims[i] * rep[i];
    }
    qs__view_set_shape(k->out[0], x->dtype, x->rank, dims);
    return QS_STATUS_OK;
}

static enum qs_status tile_run(qs_kctx *k) {
    const qs_view *x = k->in[0];
    qs_view *y = k->out[0];
    int64_t xs[QS_MAX_RANK], ys[QS_MAX_RANK];
    qs__contig_strides(x->rank, x->dims, xs);
    qs__contig_strides(y->rank, y->dims, ys);
    // Each axis becomes (repeat, dim): out index t * dim + i reads input index i.
    qs_copy_desc d = {.rank = 2 * x->rank, .esize = qs_dtype_size(x->dtype)};
    for (int i = 0; i < x->rank; i++) {
        d.dims[2 * i] = x->dims[i] ? y->dims[i] / x->dims[i] : 0;
        d.src_stride[2 * i] = 0;
        d.dst_stride[2 * i] = x->dims[i] * ys[i];
        d.dims[2 * i + 1] = x->dims[i];
        d.src_stride[2 * i + 1] = xs[i];
        d.dst_stride[2 * i + 1] = ys[i];
    }
    qs__copy_strided(&d, y->data, x->data, k->pool);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_tile = {
    .name = "Tile", .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = tile_infer, .run = tile_run,
};

// ---------------------------------------------------------------------------------------
// Pad

enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

struct pad_params {
    enum pad_mode mode;
    int rank;
    int64_t lo[QS_MAX_RANK];    // first input index kept (negative pads crop)
    int64_t n[QS_MAX_RANK];     // input indices kept
    int64_t pb[QS_MAX_RANK];    // output positions before the kept input
    int64_t out[QS_MAX_RANK];
};

static enum qs_status pad_params(qs_kctx *k, struct pad_params *p) {
    const qs_view *x = k->in[0];
    int r = x->rank;
    const char *mode = qs__attr_s(k->node, "mode", "constant");
    if (strcmp(mode, "constant") == 0) p->mode = PAD_CONSTANT;
    else if (strcmp(mode, "reflect") == 0) p->mode = PAD_REFLECT;
    else if (strcmp(mode, "edge") == 0) p->mode = PAD_EDGE;
    else if (strcmp(mode, "wrap") == 0) p->mode = PAD_WRAP;
    else return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "mode '%s' is not supported", mode);
    int64_t pads[2 * QS_MAX_RANK], axes[QS_MAX_RANK];
    int np, na = -1;
    enum qs_status st;
    if (k->node->opset < 11) {
        const int64_t *a = qs__attr_ints(k->node, "pads", &np);
        if (a == NULL) return QS_NODE_ERR(k, QS_STATUS_PARSE, "pads attribute is required");
        if (np > 2 * r) np = 2 * r + 1;  // reported below
        else memcpy(pads, a, (size_t)np * sizeof *a);
    } else {
        st = qs__const_ints(k, 1, "pads", pads, 2 * QS_MAX_RANK, &np);
        if (st != QS_STATUS_OK) return st;
        if (k->n_in > 3 && k->in[3] != NULL) {
            st = qs__const_ints(k, 3, "axes", axes, QS_MAX_RANK, &na);
            if (st != QS_STATUS_OK) return st;
        }
    }
    int nax = na >= 0 ? na : r;
    if (np != 2 * nax)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "pads has %d values, expected %d", np, 2 * nax);
    int64_t begin[QS_MAX_RANK] = {0}, end[QS_MAX_RANK] = {0};
    for (int i = 0; i < nax; i++) {
        int a = i;
        if (na >= 0 && !qs__norm_axis(axes[i], r, &a))
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %lld is outside rank %d",
                               (long long)axes[i], r);
        begin[a] = pads[i];
        end[a] = pads[nax + i];
    }
    p->rank = r;
    for (int a = 0; a < r; a++) {
        int64_t cb = QS_MAX(0, -begin[a]), ce = QS_MAX(0, -end[a]);
        p->lo[a] = cb;
        p->n[a] = x->dims[a] - cb - ce;
        p->pb[a] = QS_MAX(0, begin[a]);
        if (p->n[a] < 0)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "negative pads remove more than axis %d "
                               "holds", a);
        p->out[a] = p->n[a] + p->pb[a] + QS_MAX(0, end[a]);
        if (p->mode != PAD_CONSTANT && p->n[a] == 0 && p->out[a] > 0)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "cannot pad an empty axis %d in mode '%s'",
                               a, mode);
    }
    return QS_STATUS_OK;
}

// Input index along an axis for output position o, or -1 for the constant.
static inline int64_t pad_map(const struct pad_params *p, int a, int64_t o) {
    int64_t i = o - p->pb[a], n = p->n[a];
    if (i >= 0 && i < n) return p->lo[a] + i;
    switch (p->mode) {
    case PAD_CONSTANT: return -1;
    case PAD_EDGE: i = i < 0 ? 0 : n - 1; break;
    case PAD_WRAP: i = ((i % n) + n) % n; break;
    case PAD_REFLECT:
        if (n == 1) {
            i = 0;
        } else {
            int64_t period = 2 * (n - 1);
            i = ((i % period) + period) % period;
            if (i >= n) i = period - i;
        }
        break;
    }
    return p->lo[a] + i;
}

static enum qs_status pad_infer(qs_kctx *k) {
    struct pad_params p;
    enum qs_status st = qs__check_sized(k, k->in[0]->dtype);
    if (st == QS_STATUS_OK) st = pad_params(k, &p);
    if (st != QS_STATUS_OK) return st;
    qs__view_set_shape(k->out[0], k->in[0]->dtype, p.rank, p.out);
    return QS_STATUS_OK;
}

struct pad_job {
    const struct pad_params *p;  // rank: axes up to the last padded one (see pad_run)
    const char *x;
    char *y;
    int64_t xs[QS_MAX_RANK];
    size_t es;
    int64_t inner;  // elements of the unpadded trailing axes merged into one position
    unsigned char value[16];
};

static void pad_task(void *ctx, size_t begin, size_t end) {
    const struct pad_job *j = ctx;
    const struct pad_params *p = j->p;
    const int last = p->rank - 1;
    const int64_t in = j->inner, w = p->out[last], es = (int64_t)j->es, ps = in * es;
    int64_t idx[QS_MAX_RANK] = {0};
    size_t rem = begin;
    for (int a = last - 1; a >= 0; a--) {
        idx[a] = (int64_t)(rem % (size_t)p->out[a]);
        rem /= (size_t)p->out[a];
    }
    for (size_t row = begin; row < end; row++) {
        char *y = j->y + (int64_t)row * w * ps;
        int64_t off = 0;
        bool fill = false;
        for (int a = 0; a < last; a++) {
            int64_t i = pad_map(p, a, idx[a]);
            if (i < 0) {
                fill = true;
                break;
            }
            off += i * j->xs[a];
        }
        if (fill) {
            qs__fill(y, j->value, j->es, w * in);
        } else {
            const char *x = j->x + off * es;
            int64_t c0 = p->pb[last], c1 = c0 + p->n[last];
            for (int64_t o = 0; o < c0; o++) {
                int64_t i = pad_map(p, last, o);
                if (i < 0) qs__fill(y + o * ps, j->value, j->es, in);
                else memcpy(y + o * ps, x + i * ps, (size_t)ps);
            }
            if (c1 > c0) memcpy(y + c0 * ps, x + p->lo[last] * ps, (size_t)((c1 - c0) * ps));
            for (int64_t o = c1; o < w; o++) {
                int64_t i = pad_map(p, last, o);
                if (i < 0) qs__fill(y + o * ps, j->value, j->es, in);
                else memcpy(y + o * ps, x + i * ps, (size_t)ps);
            }
        }
        for (int a = last - 1; a >= 0; a--) {
            if (++idx[a] < p->out[a]) break;
            idx[a] = 0;
        }
    }
}

static enum qs_status pad_run(qs_kctx *k) {
    const qs_view *x = k->in[0];
    qs_view *y = k->out[0];
    struct pad_params p;
    enum qs_status st = pad_params(k, &p);
    if (st != QS_STATUS_OK) return st;
    if (y->numel == 0) return QS_STATUS_OK;
    struct pad_job j = {.p = &p, .x = x->data, .y = y->data, .es = qs_dtype_size(x->dtype),
                        .inner = 1};
    qs__contig_strides(x->rank, x->dims, j.xs);
    memset(j.value, 0, sizeof j.value);
    if (k->node->opset < 11) {
        qs__scalar_store(x->dtype, qs__attr_f(k->node, "value", 0.0f), j.value);
    } else if (k->n_in > 2 && k->in[2] != NULL && k->in[2]->numel > 0) {
        if (k->in[2]->dtype == x->dtype)
            memcpy(j.value, k->in[2]->data, j.es);
        else
            qs__scalar_store(x->dtype, qs__view_get_f64(k->in[2], 0), j.value);
    }
    if (p.rank == 0) {
        memcpy(y->data, x->data, j.es);
        return QS_STATUS_OK;
    }
    // Trailing axes without padding or cropping are copied whole: one position of the last
    // padded axis spans them (a channel Pad of NCHW copies planes, not rows of W bytes).
    while (p.rank > 1 && p.pb[p.rank - 1] == 0 && p.lo[p.rank - 1] == 0 &&
           p.n[p.rank - 1] == p.out[p.rank - 1] && p.n[p.rank - 1] == x->dims[p.rank - 1]) {
        j.inner *= p.out[p.rank - 1];
        p.rank--;
    }
    size_t rows = (size_t)(y->numel / (p.out[p.rank - 1] * j.inner));
    qs__parallel(k->pool, rows, qs__view_bytes(y), pad_task, &j);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_pad = {
    .name = "Pad", .min_inputs = 1, .max_inputs = 4, .min_outputs = 1, .max_outputs = 1,
    .infer = pad_infer, .run = pad_run,
};

// ---------------------------------------------------------------------------------------
// DepthToSpace / SpaceToDepth: a reshape to 6-D, a transpose and a reshape back.

static enum qs_status d2s_infer(qs_kctx *k) {
    const qs_view *x = k->in[0];
    int64_t b = qs__attr_i(k->node, "blocksize", 0);
    bool to_space = strcmp(k->node->op_type, "DepthToSpace") == 0;
    enum qs_status st = qs__check_sized(k, x->dtype);
    if (st != QS_STATUS_OK) return st;
    if (x->rank != 4 || b <= 0)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "needs a 4-D input and a positive blocksize");
    int64_t dims[4] = {x->dims[0], x->dims[1], x->dims[2], x->dims[3]};
    if (to_space) {
        const char *mode = qs__attr_s(k->node, "mode", "DCR");
        if (strcmp(mode, "DCR") != 0 && strcmp(mode, "CRD") != 0)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "unknown mode '%s'", mode);
        if (dims[1] % (b * b) != 0)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "channels %lld are not a multiple of %lld",
                               (long long)dims[1], (long long)(b * b));
        dims[1] /= b * b;
        dims[2] *= b;
        dims[3] *= b;
    } else {
        if (dims[2] % b != 0 || dims[3] % b != 0)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "spatial dims are not multiples of %lld",
                               (long long)b);
        dims[1] *= b * b;
        dims[2] /= b;
        dims[3] /= b;
    }
    qs__view_set_shape(k->out[0], x->dtype, 4, dims);
    return QS_STATUS_OK;
}

static enum qs_status d2s_run(qs_kctx *k) {
    const qs_view *x = k->in[0];
    qs_view *y = k->out[0];
    int64_t b = qs__attr_i(k->node, "blocksize", 1);
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t sN = C * H * W, sC = H * W, sH = W;
    qs_copy_desc d = {.rank = 6, .esize = qs_dtype_size(x->dtype)};
    if (strcmp(k->node->op_type, "DepthToSpace") == 0) {
        // Output walked as [N, C', H, b_i, W, b_j].
        int64_t c = C / (b * b);
        bool crd = strcmp(qs__attr_s(k->node, "mode", "DCR"), "CRD") == 0;
        int64_t dims[6] = {N, c, H, b, W, b};
        int64_t ss[6] = {sN, crd ? b * b * sC : sC, sH, crd ? b * sC : b * c * sC, 1,
                         crd ? sC : c * sC};
        memcpy(d.dims, dims, sizeof dims);
        memcpy(d.src_stride, ss, sizeof ss);
    } else {
        // Output walked as [N, b_i, b_j, C, H', W'].
        int64_t dims[6] = {N, b, b, C, H / b, W / b};
        int64_t ss[6] = {sN, sH, 1, sC, b * sH, b};
        memcpy(d.dims, dims, sizeof dims);
        memcpy(d.src_stride, ss, sizeof ss);
    }
    qs__contig_strides(6, d.dims, d.dst_stride);
    qs__copy_strided(&d, y->data, x->data, k->pool);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_depthtospace = {
    .name = "DepthToSpace", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1,
    .max_outputs = 1, .infer = d2s_infer, .run = d2s_run,
};
const struct qs_op_def qs__opdef_spacetodepth = {
    .name = "SpaceToDepth", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1,
    .max_outputs = 1, .infer = d2s_infer, .run = d2s_run,
};

// ---------------------------------------------------------------------------------------
// ReverseSequence

static enum qs_status revseq_infer(qs_kctx *k) {
    const qs_view *x = k->in[0], *len = k->in[1];
    int64_t ba = qs__attr_i(k->node, "batch_axis", 1), ta = qs__attr_i(k->node, "time_axis", 0);
    enum qs_status st = qs__check_sized(k, x->dtype);
    if (st != QS_STATUS_OK) return st;
    if (x->rank < 2 || ba == ta || ba < 0 || ba > 1 || ta < 0 || ta > 1)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "needs rank >= 2 and batch/time axes 0 and 1");
    if (len->rank != 1 || len->dims[0] != x->dims[ba])
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "sequence_lens must have one value per batch");
    qs__view_set_shape(k->out[0], x->dtype, x->rank, x->dims);
    return QS_STATUS_OK;
}

static enum qs_status revseq_run(qs_kctx *k) {
    const qs_view *x = k->in[0], *len = k->in[1];
    int ta = (int)qs__attr_i(k->node, "time_axis", 0), ba = 1 - ta;
    int64_t T = x->dims[ta], B = x->dims[ba];
    size_t blk = (size_t)qs__numel(x->rank - 2, x->dims + 2) * qs_dtype_size(x->dtype);
    int64_t st = ta == 0 ? B : 1, sb = ta == 0 ? 1 : T;  // steps in blocks
    for (int64_t b = 0; b < B; b++) {
        int64_t n = qs__view_get_i64(len, b);
        if (n < 0 || n > T)
            return QS_NODE_ERR(k, QS_STATUS_INVALID_ARG, "sequence length %lld of batch %lld "
                               "is outside [0, %lld]", (long long)n, (long long)b,
                               (long long)T);
    }
    for (int64_t b = 0; b < B; b++) {
        int64_t n = qs__view_get_i64(len, b);
        for (int64_t t = 0; t < T; t++) {
            int64_t src = t < n ? n - 1 - t : t;
            memcpy((char *)k->out[0]->data + (size_t)(b * sb + t * st) * blk,
                   (const char *)x->data + (size_t)(b * sb + src * st) * blk, blk);
        }
    }
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_reversesequence = {
    .name = "ReverseSequence", .min_inputs = 2, .max_inputs = 2, .min_outputs = 1,
    .max_outputs = 1, .infer = revseq_infer, .run = revseq_run,
};

// ---------------------------------------------------------------------------------------
// Trilu

static enum qs_status trilu_infer(qs_kctx *k) {
    const qs_view *x = k->in[0];
    enum qs_status st = qs__check_sized(k, x->dtype);
    if (st != QS_STATUS_OK) return st;
    if (x->rank < 2) return QS_NODE_ERR(k, QS_STATUS_PARSE, "input rank must be >= 2");
    qs__view_set_shape(k->out[0], x->dtype, x->rank, x->dims);
    return QS_STATUS_OK;
}

static enum qs_status trilu_run(qs_kctx *k) {
    const qs_view *x = k->in[0];
    qs_view *y = k->out[0];
    bool upper = qs__attr_i(k->node, "upper", 1) != 0;
    int64_t diag = qs__has_input(k, 1) ? qs__view_get_i64(k->in[1], 0) : 0;
    int64_t R = x->dims[x->rank - 2], C = x->dims[x->rank - 1];
    int64_t mats = R * C != 0 ? x->numel / (R * C) : 0;
    size_t es = qs_dtype_size(x->dtype);
    for (int64_t m = 0; m < mats; m++) {
        for (int64_t i = 0; i < R; i++) {
            size_t off = (size_t)((m * R + i) * C) * es;
            const char *src = (const char *)x->data + off;
            char *dst = (char *)y->data + off;
            // Kept columns: [c0, c1).
            int64_t c0 = 0, c1 = C;
            if (upper)
                c0 = QS_MAX(0, QS_MIN(C, i + diag));
            else
                c1 = QS_MAX(0, QS_MIN(C, i + diag + 1));
            memset(dst, 0, (size_t)c0 * es);
            if (c1 > c0 && dst != src)
                memcpy(dst + (size_t)c0 * es, src + (size_t)c0 * es, (size_t)(c1 - c0) * es);
            memset(dst + (size_t)c1 * es, 0, (size_t)(C - c1) * es);
        }
    }
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_trilu = {
    .name = "Trilu", .min_inputs = 1, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = trilu_infer, .run = trilu_run,
};
