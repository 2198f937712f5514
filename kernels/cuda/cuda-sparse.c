// Unstructured sparse GEMM through cuSPARSE's generic SpMM on CSR weights, and the 2:4
// answer. cuSPARSELt (2:4 on the sparse tensor cores) is linked when the toolkit has it,
// but its path is not written yet (this machine's CUDA 13.0 toolkit has no cuSPARSELt to
// build or test it against), so 2:4 is reported as unsupported either way.
#include "kernels/cuda/cuda-sparse.h"

#include <string.h>

enum qs_status qs__cuda_no_2_4(struct qs_diag *diag) {
#ifdef QS_HAVE_CUSPARSELT
    return qs__diag(diag, QS_STATUS_UNSUPPORTED,
                    "2:4 sparsity on CUDA: the cuSPARSELt path is not implemented yet");
#else
    return qs__diag(diag, QS_STATUS_UNSUPPORTED,
                    "2:4 sparsity on CUDA needs cuSPARSELt, which this build did not find");
#endif
}

void qs__cuda_spmm_destroy(struct qs_cuda_spmm *s) {
    if (s->a) cusparseDestroySpMat(s->a);
    if (s->b) cusparseDestroyDnMat(s->b);
    if (s->c) cusparseDestroyDnMat(s->c);
    memset(s, 0, sizeof *s);
}

enum qs_status qs__cuda_spmm_init(struct qs_cuda_ctx *ctx, struct qs_cuda_bufs *bufs,
                                  struct qs_cuda_spmm *s, bool int8, int64_t n, int64_t k,
                                  int64_t m, const void *host_w, const void *dev_b,
                                  void *dev_c, struct qs_diag *diag) {
    memset(s, 0, sizeof *s);
    s->int8 = int8, s->n = n, s->k = k, s->m = m;
    size_t es = int8 ? 1 : 4;
    int64_t nnz = 0;
    for (int64_t i = 0; i < n * k; i++)
        nnz += int8 ? ((const int8_t *)host_w)[i] != 0 : ((const float *)host_w)[i] != 0.0f;
    if (nnz >= (INT64_C(1) << 31))
        return qs__diag(diag, QS_STATUS_UNSUPPORTED, "cuda spmm: more than 2^31 nonzeros");
    s->nnz = nnz;
    int32_t *rowptr = qs__malloc((size_t)(n + 1) * sizeof *rowptr);
    int32_t *colind = qs__malloc((size_t)QS_MAX(nnz, 1) * sizeof *colind);
    char *vals = qs__malloc((size_t)QS_MAX(nnz, 1) * es);
    enum qs_status st = QS_STATUS_OK;
    if (!rowptr || !colind || !vals) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
        goto done;
    }
    int64_t t = 0;
    for (int64_t i = 0; i < n; i++) {
        rowptr[i] = (int32_t)t;
        for (int64_t j = 0; j < k; j++) {
            const char *v = (const char *)host_w + (size_t)(i * k + j) * es;
            bool nz = int8 ? *(const int8_t *)v != 0 : *(const float *)v != 0.0f;
            if (!nz) continue;
            colind[t] = (int32_t)j;
            memcpy(vals + (size_t)t * es, v, es);
            t++;
        }
    }
    rowptr[n] = (int32_t)t;
    void *drow, *dcol, *dval;
    if ((st = qs__cuda_upload(ctx, bufs, rowptr, (size_t)(n + 1) * 4, &drow, diag)) ||
        (st = qs__cuda_upload(ctx, bufs, colind, (size_t)QS_MAX(nnz, 1) * 4, &dcol, diag)) ||
        (st = qs__cuda_upload(ctx, bufs, vals, (size_t)QS_MAX(nnz, 1) * es, &dval, diag)) ||
        (st = qs__cuda_rt(cudaStreamSynchronize(ctx->stream), diag, "cudaStreamSynchronize")))
        goto done;
    cudaDataType_t ab = int8 ? CUDA_R_8I : CUDA_R_32F, ct = int8 ? CUDA_R_32I : CUDA_R_32F;
    s->alg = CUSPARSE_SPMM_ALG_DEFAULT;
    if ((st = qs__cuda_sparse(cusparseCreateCsr(&s->a, n, k, nnz, drow, dcol, dval,
                                                CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I,
                                                CUSPARSE_INDEX_BASE_ZERO, ab),
                              diag, "cusparseCreateCsr")) ||
        (st = qs__cuda_sparse(cusparseCreateDnMat(&s->b, k, m, k, (void *)dev_b, ab,
                                                  CUSPARSE_ORDER_COL),
                              diag, "cusparseCreateDnMat(B)")) ||
        (st = qs__cuda_sparse(cusparseCreateDnMat(&s->c, n, m, n, dev_c, ct, CUSPARSE_ORDER_COL),
                              diag, "cusparseCreateDnMat(C)")))
        goto done;
    int32_t one_i = 1, zero_i = 0;
    float one_f = 1.0f, zero_f = 0.0f;
    const void *alpha = int8 ? (const void *)&one_i : (const void *)&one_f;
    const void *beta = int8 ? (const void *)&zero_i : (const void *)&zero_f;
    size_t bsize = 0;
    if ((st = qs__cuda_sparse(cusparseSpMM_bufferSize(ctx->sp, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                                      CUSPARSE_OPERATION_NON_TRANSPOSE, alpha,
                                                      s->a, s->b, beta, s->c, ct, s->alg,
                                                      &bsize),
                              diag, int8 ? "cusparseSpMM_bufferSize (int8)"
                                         : "cusparseSpMM_bufferSize")) ||
        (st = qs__cuda_alloc(bufs, bsize, &s->buf, diag)))
        goto done;
done:
    if (st) qs__cuda_spmm_destroy(s);
    qs__free(rowptr);
    qs__free(colind);
    qs__free(vals);
    return st;
}

enum qs_status qs__cuda_spmm_run(struct qs_cuda_ctx *ctx, const struct qs_cuda_spmm *s,
                                 struct qs_diag *diag) {
    int32_t one_i = 1, zero_i = 0;
    float one_f = 1.0f, zero_f = 0.0f;
    const void *alpha = s->int8 ? (const void *)&one_i : (const void *)&one_f;
    const void *beta = s->int8 ? (const void *)&zero_i : (const void *)&zero_f;
    return qs__cuda_sparse(cusparseSpMM(ctx->sp, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                        CUSPARSE_OPERATION_NON_TRANSPOSE, alpha, s->a, s->b,
                                        beta, s->c, s->int8 ? CUDA_R_32I : CUDA_R_32F, s->alg,
                                        s->buf),
                           diag, s->int8 ? "cusparseSpMM (int8)" : "cusparseSpMM");
}

enum qs_status qs__cuda_spgemm_f32(enum qs_cuda_pattern pattern, int64_t m, int64_t k,
                                   int64_t n, const float *x, const float *w,
                                   const float *bias, float *y, struct qs_diag *diag) {
    if (m < 1 || k < 1 || n < 1)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "cuda spgemm: empty shape");
    if (pattern == QS_CUDA_PATTERN_2_4) return qs__cuda_no_2_4(diag);
    if (pattern != QS_CUDA_PATTERN_UNSTRUCTURED && pattern != QS_CUDA_PATTERN_DENSE)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "cuda spgemm: unknown pattern %d",
                        (int)pattern);
    struct qs_cuda_ctx *ctx;
    enum qs_status st = qs__cuda_ctx_acquire(&ctx, diag);
    if (st) return st;
    struct qs_cuda_bufs b = {0};
    struct qs_cuda_spmm s = {0};
    void *dx, *dy, *db = NULL;
    // C = n x m column-major = y [m][n] row-major; the bias is per row of C.
    if ((st = qs__cuda_upload(ctx, &b, x, (size_t)(m * k) * 4, &dx, diag)) ||
        (st = qs__cuda_alloc(&b, (size_t)(m * n) * 4, &dy, diag)) ||
        (bias && (st = qs__cuda_upload(ctx, &b, bias, (size_t)n * 4, &db, diag))) ||
        (st = qs__cuda_spmm_init(ctx, &b, &s, false, n, k, m, w, dx, dy, diag)) ||
        (st = qs__cuda_spmm_run(ctx, &s, diag)) ||
        (db && (st = qs__cuda_rt(qs__cuda_launch_bias_f32(ctx->stream, dy, n, m, 1, db), diag,
                                 "bias"))))
        goto done;
    st = qs__cuda_download(ctx, y, dy, (size_t)(m * n) * 4, diag);
done:
    qs__cuda_spmm_destroy(&s);
    cudaStreamSynchronize(ctx->stream);
    qs__cuda_free_all(&b);
    qs__cuda_ctx_release();
    return st;
}
