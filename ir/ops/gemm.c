// Gemm (transA, transB, alpha, beta, C broadcast) and MatMul (numpy rules: batched,
// broadcasting, 1-D operands) through cblas_sgemm, with the node's fused activation.
// A pruned constant weight (Gemm's B, MatMul's 2-D B) runs on the sparse kernels
// (kernels/spmm.h) when the dispatcher says they beat sgemm for the shape: the kernels
// work in the weight-major orientation (Y^T = W x A^T), so the activations are transposed
// into the scratch, and the result back.
#include "ir/ops/nn-impl.h"
#include "kernels/spmm.h"

#include <cblas.h>
#include <limits.h>

static bool fits_int(int64_t a, int64_t b, int64_t c) {
    return a <= INT_MAX && b <= INT_MAX && c <= INT_MAX;
}

// ---------------------------------------------------------------------------------------
// The sparse path shared by Gemm and MatMul.

struct fc_sparse {
    qs_spmm_weights *sp;  // NULL: dense path
    size_t t, k, n;       // tokens, reduction, outputs
    size_t xt_bytes, ct_bytes, bias_bytes;  // scratch layout: X^T, C^T, bias, spmm scratch
};

static void fc_sparse_release(struct fc_sparse *f) {
    qs__spmm_weights_destroy(f->sp);
    f->sp = NULL;
}

// Cost of moving one element in the transposes around the kernel, in sgemm multiply-adds
// (sgemm: about 40 GMAC/s on one core; the AVX2 transpose several G elements/s). With it
// the SST-2 transformer's 64-wide layers run sparse from about 70% zeros, where
// bench/spmm/models.sh measured them 1.1x (70%) and 1.5x (90%) faster than dense.
#define TRANSPOSE_MACS 10.0

// w: the weight as [n][k] (row-major, alpha folded in), owned by the caller. a_t: A comes
// transposed (only the output needs a transpose).
static enum qs_status fc_sparse_prepare(qs_kctx *k, struct fc_sparse *f, const float *w,
                                        size_t t, size_t kk, size_t n, bool a_t,
                                        size_t *scratch_bytes) {
    size_t nnz = 0;
    enum qs_sparse_format fmt = qs__spmm_choose_format_f32(n, kk, w, &nnz);
    // The dispatcher's break-even is for the kernel alone; the transposes take a share of
    // the dense time that grows as the layer shrinks (small K and N: transformer blocks).
    const double moved = (double)(a_t ? n : n + kk);
    const double share = TRANSPOSE_MACS * moved / ((double)n * (double)kk);
    const double be = qs__spmm_break_even_density(QS_SPMM_PEER_SGEMM, fmt, n, kk, t) *
                      (1.0 - share);
    const char *env = getenv("QS_SPMM");
    const bool forced = env && strcmp(env, "always") == 0, never = env && strcmp(env, "never") == 0;
    if (nnz == n * kk || never || (!forced && (double)nnz >= be * (double)(n * kk)))
        return QS_STATUS_OK;
    enum qs_status st = qs__spmm_pack_f32(fmt, n, kk, w, kk, &f->sp);
    if (st != QS_STATUS_OK) return QS_NODE_ERR(k, st, "packing sparse weights");
    f->t = t, f->k = kk, f->n = n;
    f->xt_bytes = (sizeof(float) * kk * t + 63) / 64 * 64;
    f->ct_bytes = (sizeof(float) * n * t + 63) / 64 * 64;
    f->bias_bytes = (sizeof(float) * n + 63) / 64 * 64;
    *scratch_bytes = f->xt_bytes + f->ct_bytes + f->bias_bytes + qs__spmm_scratch_size(f->sp, t);
    qs__log(QS_LOG_DEBUG, "%s '%s': sparse %s, %.1f%% zeros, %s", k->node->op_type,
            k->node->name, qs__sparse_format_name(fmt),
            100.0 * (1.0 - (double)nnz / (double)(n * kk)), qs__spmm_kernel_name(f->sp));
    return QS_STATUS_OK;
}

// Y[t][n] = clamp(A x W^T + bias). A[t][k] at a (row stride lda), or with a_t A^T[k][t]
// (row stride lda) as Gemm's transA gives it. bias (n values) may be NULL.
static void fc_sparse_run(qs_kctx *k, const struct fc_sparse *f, const float *a, size_t lda,
                          bool a_t, const float *bias, float *y) {
    char *scr = k->scratch;
    float *xt = (float *)scr, *ct = (float *)(scr + f->xt_bytes);
    const float *x = a;
    size_t ldx = lda;
    if (!a_t) {
        qs__spmm_transpose_f32(f->t, f->k, a, lda, xt, f->t);
        x = xt, ldx = f->t;
    }
    float lo = -INFINITY, hi = INFINITY;
    if (k->node->act.kind != QS_ACT_NONE) qs__nn_act_bounds(k, &lo, &hi);
    qs__spmm_f32_run(f->sp, f->t, x, ldx, ct, f->t, bias, lo, hi,
                     scr + f->xt_bytes + f->ct_bytes + f->bias_bytes, k->pool);
    qs__spmm_transpose_f32(f->n, f->t, ct, f->t, y, f->n);
}

// ---------------------------------------------------------------------------------------
// Gemm: Y = alpha * A' * B' + beta * C.

struct gemm_shape {
    int64_t m, n, k;
    bool ta, tb;
};

static enum qs_status gemm_shape(qs_kctx *k, struct gemm_shape *s) {
    enum qs_status st;
    if ((st = qs__nn_require(k, 2)) != QS_STATUS_OK ||
        (st = qs__nn_check_f32(k, 0, "input A")) != QS_STATUS_OK ||
        (st = qs__nn_check_f32(k, 1, "input B")) != QS_STATUS_OK ||
        (st = qs__nn_check_f32(k, 2, "input C")) != QS_STATUS_OK)
        return st;
    const qs_view *a = k->in[0], *b = k->in[1], *c = k->n_in > 2 ? k->in[2] : NULL;
    if (a->rank != 2 || b->rank != 2)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "A and B must be 2-D (ranks %d and %d)", a->rank,
                           b->rank);
    s->ta = qs__attr_i(k->node, "transA", 0) != 0;
    s->tb = qs__attr_i(k->node, "transB", 0) != 0;
    s->m = s->ta ? a->dims[1] : a->dims[0];
    s->k = s->ta ? a->dims[0] : a->dims[1];
    int64_t kb = s->tb ? b->dims[1] : b->dims[0];
    s->n = s->tb ? b->dims[0] : b->dims[1];
    if (kb != s->k)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "inner dimensions differ: %lld and %lld",
                           (long long)s->k, (long long)kb);
    if (c) {
        const int64_t mn[2] = {s->m, s->n};
        bool ok = c->rank <= 2;
        for (int i = 0; ok && i < c->rank; i++) {
            int64_t d = c->dims[i], want = mn[2 - c->rank + i];
            ok = d == want || d == 1;
        }
        if (!ok)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "C does not broadcast to [%lld, %lld]",
                               (long long)s->m, (long long)s->n);
    }
    if (!fits_int(s->m, s->n, s->k))
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "dimensions too large for sgemm");
    return QS_STATUS_OK;
}

static enum qs_status gemm_infer(qs_kctx *k) {
    struct gemm_shape s;
    enum qs_status st = gemm_shape(k, &s);
    if (st != QS_STATUS_OK) return st;
    const int64_t dims[2] = {s.m, s.n};
    qs__view_set_shape(k->out[0], k->in[0]->dtype, 2, dims);
    return QS_STATUS_OK;
}

// Dense weights (the common case) need neither the reordered copy nor the dispatcher.
static bool has_zero(const float *w, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (w[i] == 0.0f) return true;
    return false;
}

static void gemm_release(void *state) {
    if (!state) return;
    fc_sparse_release(state);
    qs__free(state);
}

static enum qs_status gemm_prepare(qs_kctx *k, size_t *scratch_bytes) {
    struct fc_sparse *f = qs__calloc(1, sizeof *f);
    if (!f) return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    k->state = f;
    *scratch_bytes = 0;
    struct gemm_shape s;
    enum qs_status st = gemm_shape(k, &s);
    if (st != QS_STATUS_OK) return st;
    const qs_view *b = k->in[1], *c = k->n_in > 2 ? k->in[2] : NULL;
    // Sparse only for a constant B and a C that is a per-output bias (broadcast over rows).
    if (!b->is_const || !b->data || s.m == 0 || s.n == 0 || s.k == 0) return QS_STATUS_OK;
    if (c && !(c->rank <= 1 || c->dims[0] == 1)) return QS_STATUS_OK;
    const size_t n = (size_t)s.n, kk = (size_t)s.k;
    if (!has_zero(b->data, n * kk)) return QS_STATUS_OK;
    const float alpha = qs__attr_f(k->node, "alpha", 1.0f);
    float *w = qs__malloc(sizeof(float) * n * kk);
    if (!w) return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    const float *bd = b->data;
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < kk; i++)
            w[j * kk + i] = alpha * (s.tb ? bd[j * kk + i] : bd[i * n + j]);
    st = fc_sparse_prepare(k, f, w, (size_t)s.m, kk, n, s.ta, scratch_bytes);
    qs__free(w);
    return st;
}

static enum qs_status gemm_run(qs_kctx *k) {
    struct gemm_shape s;
    enum qs_status st = gemm_shape(k, &s);
    if (st != QS_STATUS_OK) return st;
    const qs_view *a = k->in[0], *b = k->in[1], *c = k->n_in > 2 ? k->in[2] : NULL;
    const float alpha = qs__attr_f(k->node, "alpha", 1.0f);
    const float beta = qs__attr_f(k->node, "beta", 1.0f);
    float *y = k->out[0]->data;
    if (s.m == 0 || s.n == 0) return QS_STATUS_OK;
    const struct fc_sparse *f = k->state;
    if (f && f->sp) {
        float *bias = NULL;
        if (c && beta != 0.0f) {
            bias = (float *)((char *)k->scratch + f->xt_bytes + f->ct_bytes);
            const float *cd = c->data;
            const int64_t cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
            for (int64_t j = 0; j < s.n; j++) bias[j] = beta * cd[cn == 1 ? 0 : j];
        }
        fc_sparse_run(k, f, a->data, (size_t)a->dims[1], s.ta, bias, y);
        return QS_STATUS_OK;
    }
    float beta_blas = 0.0f;
    if (c && beta != 0.0f) {
        // beta * C broadcast into Y, then sgemm accumulates (beta 1).
        const float *cd = c->data;
        const int64_t cm = c->rank == 2 ? c->dims[0] : 1;
        const int64_t cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
        for (int64_t i = 0; i < s.m; i++)
            for (int64_t j = 0; j < s.n; j++)
                y[i * s.n + j] = beta * cd[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
        beta_blas = 1.0f;
    }
    if (s.k > 0) {
        cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans,
                    s.tb ? CblasTrans : CblasNoTrans, (int)s.m, (int)s.n, (int)s.k, alpha,
                    a->data, (int)a->dims[1], b->data, (int)b->dims[1], beta_blas, y, (int)s.n);
    } else if (beta_blas == 0.0f) {
        memset(y, 0, sizeof(float) * (size_t)(s.m * s.n));
    }
    if (k->node->act.kind != QS_ACT_NONE) {
        float lo, hi;
        qs__nn_act_bounds(k, &lo, &hi);
        qs__f32_kernels()->bias_act((size_t)s.m, (size_t)s.n, y, (size_t)s.n, NULL, lo, hi);
    }
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_gemm = {
    .name = "Gemm",
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = gemm_infer, .prepare = gemm_prepare, .run = gemm_run, .release = gemm_release,
};

// ---------------------------------------------------------------------------------------
// MatMul.

struct matmul_shape {
    int64_t m, n, k;
    int nbd;                      // broadcast batch dims
    int64_t bdims[QS_MAX_RANK];   // output batch dims
    int64_t astr[QS_MAX_RANK];    // A/B element strides per batch dim (0 = broadcast)
    int64_t bstr[QS_MAX_RANK];
    int64_t batch;
};

static enum qs_status matmul_shape(qs_kctx *k, struct matmul_shape *s, int *rank_out,
                                   int64_t *dims_out) {
    enum qs_status st;
    if ((st = qs__nn_require(k, 2)) != QS_STATUS_OK ||
        (st = qs__nn_check_f32(k, 0, "input A")) != QS_STATUS_OK ||
        (st = qs__nn_check_f32(k, 1, "input B")) != QS_STATUS_OK)
        return st;
    const qs_view *a = k->in[0], *b = k->in[1];
    const int ra = a->rank, rb = b->rank;
    if (ra < 1 || rb < 1)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "operands must have rank >= 1 (%d and %d)", ra,
                           rb);
    s->m = ra >= 2 ? a->dims[ra - 2] : 1;
    s->k = a->dims[ra - 1];
    const int64_t kb = rb >= 2 ? b->dims[rb - 2] : b->dims[0];
    s->n = rb >= 2 ? b->dims[rb - 1] : 1;
    if (kb != s->k)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "inner dimensions differ: %lld and %lld",
                           (long long)s->k, (long long)kb);
    const int na = ra > 2 ? ra - 2 : 0, nb = rb > 2 ? rb - 2 : 0;
    int nbd = 0;
    if (!qs__broadcast_shape(na, a->dims, nb, b->dims, &nbd, s->bdims))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "batch dimensions do not broadcast");
    s->nbd = nbd;
    // Element strides of each output batch dim in A and B (0 where broadcast).
    int64_t sa = s->m * s->k, sb = s->k * s->n;
    s->batch = 1;
    for (int i = nbd - 1; i >= 0; i--) {
        int ia = i - (nbd - na), ib = i - (nbd - nb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        s->astr[i] = da == 1 ? 0 : sa;
        s->bstr[i] = db == 1 ? 0 : sb;
        sa *= da;
        sb *= db;
        s->batch *= s->bdims[i];
    }
    if (!fits_int(s->m * (s->batch ? s->batch : 1), s->n, s->k))
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "dimensions too large for sgemm");
    int r = 0;
    for (int i = 0; i < nbd; i++) dims_out[r++] = s->bdims[i];
    if (ra >= 2) dims_out[r++] = s->m;
    if (rb >= 2) dims_out[r++] = s->n;
    if (r > QS_MAX_RANK) return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "output rank too large");
    *rank_out = r;
    return QS_STATUS_OK;
}

static enum qs_status matmul_infer(qs_kctx *k) {
    struct matmul_shape s;
    int r;
    int64_t dims[QS_MAX_RANK + 2];
    enum qs_status st = matmul_shape(k, &s, &r, dims);
    if (st != QS_STATUS_OK) return st;
    qs__view_set_shape(k->out[0], k->in[0]->dtype, r, dims);
    return QS_STATUS_OK;
}

struct matmul_state {
    struct matmul_shape s;
    struct fc_sparse f;
};

static enum qs_status matmul_prepare(qs_kctx *k, size_t *scratch_bytes) {
    struct matmul_state *ms = qs__calloc(1, sizeof *ms);
    if (!ms) return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    k->state = ms;
    struct matmul_shape *s = &ms->s;
    int r;
    int64_t dims[QS_MAX_RANK + 2];
    *scratch_bytes = 0;
    enum qs_status st = matmul_shape(k, s, &r, dims);
    if (st != QS_STATUS_OK) return st;
    // Sparse for a constant 2-D weight B [K, N] shared by every batch (A contiguous).
    const qs_view *b = k->in[1];
    if (!b->is_const || !b->data || b->rank != 2 || s->batch == 0 || s->m == 0 || s->n == 0 ||
        s->k == 0)
        return QS_STATUS_OK;
    const size_t n = (size_t)s->n, kk = (size_t)s->k;
    if (!has_zero(b->data, n * kk)) return QS_STATUS_OK;
    float *w = qs__malloc(sizeof(float) * n * kk);
    if (!w) return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    qs__spmm_transpose_f32(kk, n, b->data, n, w, kk);
    st = fc_sparse_prepare(k, &ms->f, w, (size_t)(s->batch * s->m), kk, n, false,
                           scratch_bytes);
    qs__free(w);
    return st;
}

static enum qs_status matmul_run(qs_kctx *k) {
    const struct matmul_state *ms = k->state;
    const struct matmul_shape *s = &ms->s;
    const float *a = k->in[0]->data, *b = k->in[1]->data;
    float *y = k->out[0]->data;
    const int64_t m = s->m, n = s->n, kk = s->k;
    if (s->batch == 0 || m == 0 || n == 0) return QS_STATUS_OK;
    if (ms->f.sp) {
        fc_sparse_run(k, &ms->f, a, (size_t)kk, false, NULL, y);
        return QS_STATUS_OK;
    }
    if (kk == 0) {
        memset(y, 0, sizeof(float) * (size_t)(s->batch * m * n));
    } else {
        bool b_shared = true, a_dense = true;
        int64_t expect = m * kk;
        for (int i = s->nbd - 1; i >= 0; i--) {
            b_shared &= s->bstr[i] == 0;
            a_dense &= s->astr[i] == expect || s->bdims[i] == 1;
            expect *= s->bdims[i];
        }
        if (b_shared && a_dense) {
            // Every batch uses the same B and A is contiguous: one GEMM with batch*m rows.
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(s->batch * m), (int)n,
                        (int)kk, 1.0f, a, (int)kk, b, (int)n, 0.0f, y, (int)n);
        } else {
            for (int64_t t = 0; t < s->batch; t++) {
                int64_t rem = t, oa = 0, ob = 0;
                for (int i = s->nbd - 1; i >= 0; i--) {
                    int64_t idx = rem % s->bdims[i];
                    rem /= s->bdims[i];
                    oa += idx * s->astr[i];
                    ob += idx * s->bstr[i];
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)kk,
                            1.0f, a + oa, (int)kk, b + ob, (int)n, 0.0f, y + t * m * n, (int)n);
            }
        }
    }
    if (k->node->act.kind != QS_ACT_NONE) {
        float lo, hi;
        qs__nn_act_bounds(k, &lo, &hi);
        qs__f32_kernels()->bias_act((size_t)(s->batch * m), (size_t)n, y, (size_t)n, NULL, lo,
                                    hi);
    }
    return QS_STATUS_OK;
}

static void matmul_release(void *state) {
    struct matmul_state *ms = state;
    if (ms) fc_sparse_release(&ms->f);
    qs__free(state);
}

const struct qs_op_def qs__opdef_matmul = {
    .name = "MatMul",
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = matmul_infer, .prepare = matmul_prepare, .run = matmul_run,
    .release = matmul_release,
};
