// QLinearMatMul (opset 10), MatMulInteger (opset 10) and com.microsoft QGemm, the form
// onnxruntime's quantize_static writes for Gemm layers in the QOperator format.
//  - QLinearMatMul / MatMulInteger: numpy batch broadcasting, 1-D operands; b scale and
//    zero point per tensor or per column; MatMulInteger's a zero point per tensor or per row.
//  - QGemm: Y = requant(alpha * a_scale * b_scale * (A' - a_zp)(B' - b_zp) + C) with int32
//    C of shape [], [N] or [1, N]; uint8/int8 output with y_scale/y_zero_point, else float32
//    (scale alpha * a_scale * b_scale, divided by y_scale when only that is given).
// A constant B is packed once per batch matrix; a B known only at run time (a product of two
// activations) is widened into scratch and takes the exact generic loop. The product runs in
// the GEMM orientation C[n][p] with p a row of A (x_stride_k = 1) and n a column of Y.
#include "ir/ops/qlinear-impl.h"
#include "ir/ops/qsparse.h"

enum mm_kind { MM_QLINEAR, MM_INTEGER, MM_QGEMM };

struct mm_io {
    int a, as, az, b, bs, bz, c, ys, yz;  // input indices, -1 when the op has none
};
static const struct mm_io mm_io[] = {
    [MM_QLINEAR] = {0, 1, 2, 3, 4, 5, -1, 6, 7},
    [MM_INTEGER] = {0, -1, 2, 1, -1, 3, -1, -1, -1},
    [MM_QGEMM] = {0, 1, 2, 3, 4, 5, 6, 7, 8},
};

struct qmm {
    enum mm_kind kind;
    int64_t m, n, k;
    bool ta, tb;                   // QGemm
    int nbd;                       // broadcast batch dims
    int64_t bdims[QS_MAX_RANK];
    int64_t astr[QS_MAX_RANK], bstr[QS_MAX_RANK];  // element strides per batch dim
    int64_t batch, b_mats;         // output batches, distinct B matrices
    enum qs_dtype at, bt, yt;
    // prepare
    struct qs_qlin_weights *wb;    // [b_mats] when B is constant
    float *scale;                  // [n]
    int32_t *bias;                 // [n] or NULL
    int32_t *zp_row;               // [m] per-row zero points of A (MatMulInteger) or NULL
    struct qs_qgemm_params params;
    uint8_t flip;
    bool merge;                    // one product over batch * m rows
    size_t a_bytes;                // scratch: flipped A (int8 input)
    size_t wide_bytes;             // scratch: widened B (B not constant)
    struct qs_qsparse *sp;         // pruned constant B on the sparse kernels, or NULL
};

static const qs_view *in_idx(const qs_kctx *k, int i) {
    return i >= 0 && i < k->n_in ? k->in[i] : NULL;
}

static bool is_8bit(enum qs_dtype dt) {
    return dt == QS_DTYPE_U8 || dt == QS_DTYPE_I8;
}

static enum qs_status mm_desc(qs_kctx *k, enum mm_kind kind, struct qmm *d, int *rank_out,
                              int64_t *dims_out) {
    memset(d, 0, sizeof *d);
    d->kind = kind;
    const struct mm_io *io = &mm_io[kind];
    enum qs_status st = QS_STATUS_OK;
    const int need[] = {io->a, io->b, io->as, io->bs};
    for (int i = 0; i < (kind == MM_INTEGER ? 2 : 4); i++)
        if (need[i] >= k->n_in || !k->in[need[i]])
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "input %d is missing", need[i]);
    const qs_view *a = k->in[io->a], *b = k->in[io->b];
    if (!is_8bit(a->dtype) || !is_8bit(b->dtype))
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                           "A %s and B %s: only uint8 and int8 are supported",
                           qs_dtype_name(a->dtype), qs_dtype_name(b->dtype));
    d->at = a->dtype;
    d->bt = b->dtype;
    const int ra = a->rank, rb = b->rank;
    if (kind == MM_QGEMM) {
        if (ra != 2 || rb != 2)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "A and B must be 2-D (ranks %d and %d)", ra,
                               rb);
        d->ta = qs__attr_i(k->node, "transA", 0) != 0;
        d->tb = qs__attr_i(k->node, "transB", 0) != 0;
        d->m = d->ta ? a->dims[1] : a->dims[0];
        d->k = d->ta ? a->dims[0] : a->dims[1];
        const int64_t kb = d->tb ? b->dims[1] : b->dims[0];
        d->n = d->tb ? b->dims[0] : b->dims[1];
        if (kb != d->k)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "inner dimensions differ: %lld and %lld",
                               (long long)d->k, (long long)kb);
        d->batch = d->b_mats = 1;
        *rank_out = 2;
        dims_out[0] = d->m;
        dims_out[1] = d->n;
    } else {
        if (ra < 1 || rb < 1)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "operands must have rank >= 1 (%d and %d)",
                               ra, rb);
        d->m = ra >= 2 ? a->dims[ra - 2] : 1;
        d->k = a->dims[ra - 1];
        const int64_t kb = rb >= 2 ? b->dims[rb - 2] : b->dims[0];
        d->n = rb >= 2 ? b->dims[rb - 1] : 1;
        if (kb != d->k)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "inner dimensions differ: %lld and %lld",
                               (long long)d->k, (long long)kb);
        const int na = ra > 2 ? ra - 2 : 0, nb = rb > 2 ? rb - 2 : 0;
        if (!qs__broadcast_shape(na, a->dims, nb, b->dims, &d->nbd, d->bdims))
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "batch dimensions do not broadcast");
        int64_t sa = d->m * d->k, sb = d->k * d->n;
        d->batch = 1;
        d->b_mats = 1;
        for (int i = d->nbd - 1; i >= 0; i--) {
            const int ia = i - (d->nbd - na), ib = i - (d->nbd - nb);
            const int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
            d->astr[i] = da == 1 ? 0 : sa;
            d->bstr[i] = db == 1 ? 0 : sb;
            sa *= da;
            sb *= db;
            d->batch *= d->bdims[i];
            d->b_mats *= db;
        }
        int r = 0;
        for (int i = 0; i < d->nbd; i++) dims_out[r++] = d->bdims[i];
        if (ra >= 2) dims_out[r++] = d->m;
        if (rb >= 2) dims_out[r++] = d->n;
        *rank_out = r;
    }
    if (d->m > INT32_MAX || d->n > INT32_MAX || d->k > INT32_MAX)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "matrix product too large");

    // Scales, zero points, output type.
    const qs_view *yz = in_idx(k, io->yz), *ys = in_idx(k, io->ys), *c = in_idx(k, io->c);
    if (kind == MM_INTEGER) {
        const qs_view *az = in_idx(k, io->az);
        if (az && az->numel != 1 && !(az->rank == 1 && az->dims[0] == d->m))
            return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                               "a_zero_point must be a scalar or [%lld] (per row)",
                               (long long)d->m);
        if (az && az->dtype != d->at)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "a_zero_point has type %s, A has %s",
                               qs_dtype_name(az->dtype), qs_dtype_name(d->at));
        if ((st = qs__qlin_check_zp(k, io->bz, "b_zero_point", d->bt, d->n)) != QS_STATUS_OK)
            return st;
        d->yt = QS_DTYPE_I32;
        return QS_STATUS_OK;
    }
    if ((st = qs__qlin_check_scale(k, io->as, "a_scale", 0)) != QS_STATUS_OK ||
        (st = qs__qlin_check_zp(k, io->az, "a_zero_point", d->at, 0)) != QS_STATUS_OK ||
        (st = qs__qlin_check_scale(k, io->bs, "b_scale", d->n)) != QS_STATUS_OK ||
        (st = qs__qlin_check_zp(k, io->bz, "b_zero_point", d->bt, d->n)) != QS_STATUS_OK ||
        (st = qs__qlin_check_scale(k, io->ys, "y_scale", 0)) != QS_STATUS_OK)
        return st;
    if (kind == MM_QLINEAR && (!ys || !yz))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "y_scale and y_zero_point are required");
    if (yz) {
        if (!is_8bit(yz->dtype))
            return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                               "y_zero_point has type %s (uint8 or int8 expected)",
                               qs_dtype_name(yz->dtype));
        if ((st = qs__qlin_check_zp(k, io->yz, "y_zero_point", yz->dtype, 0)) != QS_STATUS_OK)
            return st;
        d->yt = yz->dtype;
    } else {
        d->yt = QS_DTYPE_F32;
    }
    if (c) {
        bool ok = c->dtype == QS_DTYPE_I32 && c->rank <= 2;
        if (ok && c->numel != 1)
            ok = (c->rank == 1 && c->dims[0] == d->n) ||
                 (c->rank == 2 && c->dims[0] == 1 && c->dims[1] == d->n);
        if (!ok)
            return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                               "C must be int32 of shape [], [%lld] or [1, %lld]",
                               (long long)d->n, (long long)d->n);
    }
    return QS_STATUS_OK;
}

static enum qs_status mm_infer(qs_kctx *k, enum mm_kind kind) {
    struct qmm d;
    int r = 0;
    int64_t dims[QS_MAX_RANK + 2];
    enum qs_status st = mm_desc(k, kind, &d, &r, dims);
    if (st != QS_STATUS_OK) return st;
    if (r > QS_MAX_RANK) return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "output rank too large");
    qs__view_set_shape(k->out[0], d.yt, r, dims);
    return QS_STATUS_OK;
}

static void mm_release(void *state) {
    struct qmm *d = state;
    if (!d) return;
    if (d->wb)
        for (int64_t i = 0; i < d->b_mats; i++) qs__qlin_weights_free(&d->wb[i]);
    qs__free(d->wb);
    qs__free(d->scale);
    qs__free(d->bias);
    qs__free(d->zp_row);
    qs__qsparse_destroy(d->sp);
    qs__free(d);
}

// Element offsets of A and B for output batch t.
static void batch_offsets(const struct qmm *d, int64_t t, int64_t *oa, int64_t *ob) {
    int64_t rem = t;
    *oa = *ob = 0;
    for (int i = d->nbd - 1; i >= 0; i--) {
        const int64_t idx = rem % d->bdims[i];
        rem /= d->bdims[i];
        *oa += idx * d->astr[i];
        *ob += idx * d->bstr[i];
    }
}

static enum qs_status mm_prepare(qs_kctx *k, size_t *scratch_bytes, enum mm_kind kind) {
    struct qmm *d = qs__calloc(1, sizeof *d);
    if (!d) return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    k->state = d;
    int r = 0;
    int64_t dims[QS_MAX_RANK + 2];
    enum qs_status st = mm_desc(k, kind, d, &r, dims);
    if (st != QS_STATUS_OK) return st;
    const struct mm_io *io = &mm_io[kind];
    const int last = kind == MM_QGEMM ? 8 : kind == MM_QLINEAR ? 7 : 3;
    for (int i = 1; i <= last && i < k->n_in; i++)
        if (i != io->b && k->in[i] && !k->in[i]->is_const)
            return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                               "input %d (scale, zero point or bias) must be a constant", i);
    const size_t n = (size_t)d->n, kk = (size_t)d->k, m = (size_t)d->m;
    const qs_view *b = k->in[io->b], *az = in_idx(k, io->az), *bz = in_idx(k, io->bz);
    const qs_view *ys = in_idx(k, io->ys), *yz = in_idx(k, io->yz), *c = in_idx(k, io->c);

    d->flip = d->at == QS_DTYPE_I8 ? 0x80 : 0;
    const bool per_row = az && az->numel > 1;
    d->params.x_zp = (uint8_t)(qs__qlin_zp(az, 0) ^ d->flip);
    if (per_row) {
        if (!(d->zp_row = qs__malloc(sizeof(int32_t) * m + 1)))
            return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
        for (size_t i = 0; i < m; i++)
            d->zp_row[i] = (qs__qlin_zp(az, (int64_t)i) ^ d->flip) & 0xff;
    }
    if (!(d->scale = qs__malloc(sizeof(float) * n + 1)))
        return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    d->params.fmin = -INFINITY;
    d->params.fmax = INFINITY;
    if (kind == MM_INTEGER) {
        d->params.out_type = QS_QOUT_S32;
        for (size_t j = 0; j < n; j++) d->scale[j] = 1.0f;
    } else {
        const float as = qs__qlin_scale(k->in[io->as], 0);
        const float alpha = kind == MM_QGEMM ? qs__attr_f(k->node, "alpha", 1.0f) : 1.0f;
        for (size_t j = 0; j < n; j++) {
            const float bs = qs__qlin_scale(k->in[io->bs], (int64_t)j);
            // The order of onnxruntime: QGemm alpha * a * b [/ y], QLinearMatMul a * b / y.
            float s = kind == MM_QGEMM ? alpha * as * bs : as * bs;
            if (ys) s /= qs__qlin_scale(ys, 0);
            d->scale[j] = s;
        }
        if (yz) {
            d->params.out_type = d->yt == QS_DTYPE_U8 ? QS_QOUT_U8 : QS_QOUT_S8;
            d->params.out_zp = qs__qlin_zp(yz, 0);
            qs__qlin_range(d->yt, &d->params.qmin, &d->params.qmax);
            qs__qlin_act_clamp(k, qs__qlin_scale(ys, 0), d->params.out_zp, &d->params.qmin,
                               &d->params.qmax);
        } else {
            d->params.out_type = QS_QOUT_F32;
            if (k->node->act.kind != QS_ACT_NONE) {
                d->params.fmin = k->node->act.lo;
                d->params.fmax = k->node->act.hi;
            }
        }
        if (c) {
            if (!(d->bias = qs__malloc(sizeof(int32_t) * n + 1)))
                return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
            for (size_t j = 0; j < n; j++)
                d->bias[j] = ((const int32_t *)c->data)[c->numel == 1 ? 0 : j];
        }
    }
    d->params.scale = d->scale;
    d->params.bias = d->bias;

    // B as W[n][k]: element (j, t) of batch matrix i.
    const size_t ldw_n = kind == MM_QGEMM && d->tb ? kk : 1;
    const size_t ldw_k = kind == MM_QGEMM && d->tb ? 1 : n;
    if (b->is_const) {
        if (!(d->wb = qs__calloc((size_t)d->b_mats, sizeof *d->wb)))
            return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
        const size_t es = qs_dtype_size(d->bt);
        for (int64_t i = 0; i < d->b_mats; i++) {
            const char *bi = (const char *)b->data + (size_t)i * n * kk * es;
            st = qs__qlin_weights_init(&d->wb[i], n, kk, bi, d->bt, ldw_n, ldw_k, bz,
                                       bz && bz->numel > 1, per_row);
            if (st != QS_STATUS_OK) return QS_NODE_ERR(k, st, "out of memory packing weights");
        }
    } else {
        d->wide_bytes = (sizeof(int32_t) * n * kk + 63) & ~(size_t)63;
    }
    // One product over all rows when B is shared and A's batches are contiguous.
    bool b_shared = true, a_dense = true;
    int64_t expect = d->m * d->k;
    for (int i = d->nbd - 1; i >= 0; i--) {
        b_shared &= d->bstr[i] == 0;
        a_dense &= d->astr[i] == expect || d->bdims[i] == 1;
        expect *= d->bdims[i];
    }
    d->merge = b_shared && a_dense && !per_row && !d->ta;
    const qs_view *a = k->in[io->a];
    d->a_bytes = d->flip ? ((size_t)a->numel + 63) & ~(size_t)63 : 0;
    const size_t rows = d->merge ? (size_t)d->batch * m : m;
    size_t gs = 0;
    for (int64_t i = 0; d->wb && i < d->b_mats; i++)
        gs = QS_MAX(gs, qs__qlin_gemm_scratch(&d->wb[i], rows));
    *scratch_bytes = d->a_bytes + d->wide_bytes + gs;
    if (d->merge && d->wb && d->b_mats == 1) {  // pruned B: sparse kernels when they pay
        size_t ss = 0;
        st = qs__qsparse_prepare(k, n, kk, rows, b->data, d->bt, ldw_n, ldw_k, bz,
                                 bz && bz->numel > 1, true, &d->sp, &ss);
        *scratch_bytes = QS_MAX(*scratch_bytes, d->a_bytes + ss);
    }
    return st;
}

static enum qs_status mm_run(qs_kctx *k) {
    const struct qmm *d = k->state;
    const struct mm_io *io = &mm_io[d->kind];
    const qs_view *av = k->in[io->a], *bv = k->in[io->b];
    const size_t n = (size_t)d->n, kk = (size_t)d->k, m = (size_t)d->m;
    const size_t ys = qs_dtype_size(d->yt);
    char *y = k->out[0]->data;
    const uint8_t *a = av->data;
    char *scr = k->scratch;
    if (d->flip) {
        qs__qlin_flip_copy((uint8_t *)scr, a, (size_t)av->numel);
        a = (const uint8_t *)scr;
    }
    int32_t *wide = (int32_t *)(scr + d->a_bytes);
    void *gscratch = scr + d->a_bytes + d->wide_bytes;
    if (d->batch == 0 || m == 0 || n == 0) return QS_STATUS_OK;
    if (d->sp) {
        qs__qsparse_run(d->sp, a, kk, y, n, &d->params, scr + d->a_bytes, k->pool);
        return QS_STATUS_OK;
    }
    // X[t][p] = A[p][t]: x_stride_k 1, x_stride_p K (transA: A is [K][M]).
    const size_t sk = d->ta ? m : 1, sp = d->ta ? 1 : kk;
    const qs_view *bz = in_idx(k, io->bz);
    const size_t ldw_n = d->kind == MM_QGEMM && d->tb ? kk : 1;
    const size_t ldw_k = d->kind == MM_QGEMM && d->tb ? 1 : n;
    struct qs_qlin_weights tmp = {n, kk, NULL, wide};
    int64_t widened = -1;  // offset of the B matrix in `wide`
    for (int64_t t = 0; t < d->batch; t++) {
        int64_t oa, ob;
        batch_offsets(d, t, &oa, &ob);
        const struct qs_qlin_weights *w = &tmp;
        if (d->wb) {
            w = &d->wb[ob / (int64_t)(n * kk)];
        } else if (ob != widened) {
            const char *bd = (const char *)bv->data + (size_t)ob * qs_dtype_size(d->bt);
            qs__qlin_widen(wide, n, kk, bd, d->bt, ldw_n, ldw_k, bz, bz && bz->numel > 1);
            widened = ob;
        }
        if (d->merge) {  // every batch at once
            qs__qlin_gemm_run(w, (size_t)d->batch * m, a, sk, sp, NULL, y, 1, n, &d->params,
                              gscratch, k->pool);
            break;
        }
        qs__qlin_gemm_run(w, m, a + oa, sk, sp, d->zp_row, y + (size_t)t * m * n * ys, 1, n,
                          &d->params, gscratch, k->pool);
    }
    return QS_STATUS_OK;
}

static enum qs_status qlinearmatmul_infer(qs_kctx *k) {
    return mm_infer(k, MM_QLINEAR);
}
static enum qs_status qlinearmatmul_prepare(qs_kctx *k, size_t *scratch_bytes) {
    return mm_prepare(k, scratch_bytes, MM_QLINEAR);
}
static enum qs_status matmulinteger_infer(qs_kctx *k) {
    return mm_infer(k, MM_INTEGER);
}
static enum qs_status matmulinteger_prepare(qs_kctx *k, size_t *scratch_bytes) {
    return mm_prepare(k, scratch_bytes, MM_INTEGER);
}
static enum qs_status qgemm_infer(qs_kctx *k) {
    return mm_infer(k, MM_QGEMM);
}
static enum qs_status qgemm_prepare(qs_kctx *k, size_t *scratch_bytes) {
    return mm_prepare(k, scratch_bytes, MM_QGEMM);
}

const struct qs_op_def qs__opdef_qlinearmatmul = {
    .name = "QLinearMatMul",
    .min_inputs = 8, .max_inputs = 8, .min_outputs = 1, .max_outputs = 1,
    .infer = qlinearmatmul_infer, .prepare = qlinearmatmul_prepare, .run = mm_run,
    .release = mm_release,
};

const struct qs_op_def qs__opdef_matmulinteger = {
    .name = "MatMulInteger",
    .min_inputs = 2, .max_inputs = 4, .min_outputs = 1, .max_outputs = 1,
    .infer = matmulinteger_infer, .prepare = matmulinteger_prepare, .run = mm_run,
    .release = mm_release,
};

const struct qs_op_def qs__opdef_qgemm = {
    .name = "QGemm",
    .min_inputs = 6, .max_inputs = 9, .min_outputs = 1, .max_outputs = 1,
    .infer = qgemm_infer, .prepare = qgemm_prepare, .run = mm_run, .release = mm_release,
};
