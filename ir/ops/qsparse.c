// Sparse int8 layers (ir/ops/qsparse.h): packing W - w_zp for the int8 SpMM kernels when
// the dispatcher says they pay, and the run (fully connected layers transpose A into the
// scratch and the result back, as the kernels work weight-major).
#include "ir/ops/qsparse.h"
#include "kernels/spmm.h"

#define TRANSPOSE_MACS 100.0

struct qs_qsparse {
    qs_spmm_weights *sp;
    size_t m, k, n;
    bool fc;
    size_t xt_bytes, ct_bytes;  // fc scratch: X^T [k][n] bytes, C^T [m][n] outputs
};

void qs__qsparse_destroy(struct qs_qsparse *s) {
    if (!s) return;
    qs__spmm_weights_destroy(s->sp);
    qs__free(s);
}

enum qs_status qs__qsparse_prepare(qs_kctx *k, size_t m, size_t kk, size_t n, const void *data,
                                   enum qs_dtype dt, size_t ldw_n, size_t ldw_k,
                                   const qs_view *w_zp, bool zp_per_row, bool fc,
                                   struct qs_qsparse **out, size_t *scratch_bytes) {
    *out = NULL;
    *scratch_bytes = 0;
    const char *env = getenv("QS_SPMM");
    if ((env && strcmp(env, "never") == 0) || m == 0 || kk == 0 || n == 0 || !data)
        return QS_STATUS_OK;
    if (dt != QS_DTYPE_I8 && dt != QS_DTYPE_U8) return QS_STATUS_OK;
    int8_t *w = qs__malloc(m * kk);
    if (!w) return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    size_t nnz = 0;
    bool fits = true;
    for (size_t j = 0; j < m && fits; j++) {
        const int32_t zp = qs__qlin_zp(w_zp, zp_per_row ? (int64_t)j : 0);
        for (size_t t = 0; t < kk; t++) {
            const size_t i = j * ldw_n + t * ldw_k;
            int32_t v = (dt == QS_DTYPE_I8 ? ((const int8_t *)data)[i]
                                           : ((const uint8_t *)data)[i]) - zp;
            fits = fits && v >= -128 && v <= 127;
            w[j * kk + t] = (int8_t)v;
            nnz += v != 0;
        }
    }
    // A fully connected layer also pays for the scalar byte transposes around the kernel:
    // about TRANSPOSE_MACS integer-GEMM multiply-adds per element moved (qgemm runs about
    // 100 GMAC/s here), a share of the dense time of (m + k) / (m k).
    double be = qs__spmm_break_even_density(QS_SPMM_PEER_QGEMM, QS_SPARSE_CSR, m, kk, n);
    if (fc) be *= 1.0 - TRANSPOSE_MACS * (double)(m + kk) / ((double)m * (double)kk);
    const bool forced = env && strcmp(env, "always") == 0;
    enum qs_status st = QS_STATUS_OK;
    if (fits && nnz < m * kk && (forced || (double)nnz < be * (double)(m * kk))) {
        struct qs_qsparse *s = qs__calloc(1, sizeof *s);
        if (!s) {
            st = QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
        } else if ((st = qs__spmm_pack_q8(QS_SPARSE_CSR, m, kk, w, kk, &s->sp)) != QS_STATUS_OK) {
            qs__free(s);
            st = QS_NODE_ERR(k, st, "packing sparse weights");
        } else {
            s->m = m, s->k = kk, s->n = n, s->fc = fc;
            s->xt_bytes = fc ? (kk * n + 63) / 64 * 64 : 0;
            s->ct_bytes = fc ? (sizeof(int32_t) * m * n + 63) / 64 * 64 : 0;
            *scratch_bytes = s->xt_bytes + s->ct_bytes + qs__spmm_scratch_size(s->sp, n);
            *out = s;
            qs__log(QS_LOG_DEBUG, "%s '%s': sparse int8, %.1f%% zeros, %s", k->node->op_type,
                    k->node->name, 100.0 * (1.0 - (double)nnz / (double)(m * kk)),
                    qs__spmm_kernel_name(s->sp));
        }
    }
    qs__free(w);
    return st;
}

// dst[j][i] = src[i][j] for r x c elements of es bytes.
static void transpose(size_t r, size_t c, size_t es, const void *src, size_t lds, void *dst,
                      size_t ldd) {
    enum { B = 32 };
    const char *s = src;
    char *d = dst;
    for (size_t i0 = 0; i0 < r; i0 += B)
        for (size_t j0 = 0; j0 < c; j0 += B)
            for (size_t i = i0; i < QS_MIN(r, i0 + B); i++)
                for (size_t j = j0; j < QS_MIN(c, j0 + B); j++) {
                    if (es == 1) d[j * ldd + i] = s[i * lds + j];
                    else memcpy(d + (j * ldd + i) * es, s + (i * lds + j) * es, es);
                }
}

void qs__qsparse_run(const struct qs_qsparse *s, const uint8_t *x, size_t ldx, void *y,
                     size_t ldy, const struct qs_qgemm_params *p, void *scratch,
                     qs_pool_t *pool) {
    char *scr = scratch;
    if (!s->fc) {
        qs__spmm_q8_run(s->sp, s->n, x, ldx, y, ldy, p, scr, pool);
        return;
    }
    const size_t es = p->out_type == QS_QOUT_U8 || p->out_type == QS_QOUT_S8 ? 1 : 4;
    uint8_t *xt = (uint8_t *)scr;
    char *ct = scr + s->xt_bytes;
    transpose(s->n, s->k, 1, x, ldx, xt, s->n);
    qs__spmm_q8_run(s->sp, s->n, xt, s->n, ct, s->n, p, scr + s->xt_bytes + s->ct_bytes, pool);
    transpose(s->m, s->n, es, ct, s->n, y, ldy);
}
