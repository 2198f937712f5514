// Dense GEMM through cuBLASLt: the "TN" plan shared by every caller, the int8 epilogue
// arrays, and the host-buffer entry points qs__cuda_gemm_f32 and qs__cuda_qgemm.
#include "kernels/cuda/cuda-impl.h"

#include <string.h>

size_t qs__cuda_qout_size(int out_type) {
    return out_type == QS_QOUT_U8 || out_type == QS_QOUT_S8 ? 1 : 4;
}

void qs__cuda_gemm_destroy(struct qs_cuda_gemm *g) {
    if (g->la) cublasLtMatrixLayoutDestroy(g->la);
    if (g->lb) cublasLtMatrixLayoutDestroy(g->lb);
    if (g->ld) cublasLtMatrixLayoutDestroy(g->ld);
    if (g->desc) cublasLtMatmulDescDestroy(g->desc);
    memset(g, 0, sizeof *g);
}

enum qs_status qs__cuda_gemm_init(struct qs_cuda_ctx *ctx, struct qs_cuda_gemm *g, bool int8,
                                  int64_t rows, int64_t cols, int64_t k, int64_t lda,
                                  int64_t ldb, const float *dev_bias, struct qs_diag *diag) {
    memset(g, 0, sizeof *g);
    g->int8 = int8;
    g->rows = rows, g->cols = cols, g->k = k, g->lda = lda, g->ldb = ldb;
    g->ldd = int8 ? (rows + 3) & ~(int64_t)3 : rows;
    cudaDataType_t ab = int8 ? CUDA_R_8I : CUDA_R_32F, dt = int8 ? CUDA_R_32I : CUDA_R_32F;
    // int8: exact int32 accumulation on the tensor cores (IMMA). fp32: plain fp32 math,
    // not TF32, so that results match the CPU within fp32 rounding.
    cublasComputeType_t ct = int8 ? CUBLAS_COMPUTE_32I : CUBLAS_COMPUTE_32F;
    cudaDataType_t st_t = int8 ? CUDA_R_32I : CUDA_R_32F;
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    enum qs_status st;
    if ((st = qs__cuda_blas(cublasLtMatmulDescCreate(&g->desc, ct, st_t), diag,
                            "cublasLtMatmulDescCreate")) ||
        (st = qs__cuda_blas(cublasLtMatmulDescSetAttribute(g->desc, CUBLASLT_MATMUL_DESC_TRANSA,
                                                           &ta, sizeof ta),
                            diag, "cublasLt TRANSA")) ||
        (st = qs__cuda_blas(cublasLtMatmulDescSetAttribute(g->desc, CUBLASLT_MATMUL_DESC_TRANSB,
                                                           &tb, sizeof tb),
                            diag, "cublasLt TRANSB")))
        goto fail;
    if (dev_bias && !int8) {
        cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        if ((st = qs__cuda_blas(cublasLtMatmulDescSetAttribute(
                                    g->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi),
                                diag, "cublasLt EPILOGUE")) ||
            (st = qs__cuda_blas(cublasLtMatmulDescSetAttribute(g->desc,
                                                               CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                               &dev_bias, sizeof dev_bias),
                                diag, "cublasLt BIAS_POINTER")))
            goto fail;
        g->has_bias = true;
    }
    // Column-major layouts: A is k x ldd (lda), B is k x cols (ldb), D is ldd x cols.
    if ((st = qs__cuda_blas(cublasLtMatrixLayoutCreate(&g->la, ab, (uint64_t)k, (uint64_t)g->ldd,
                                                       lda),
                            diag, "cublasLtMatrixLayoutCreate(A)")) ||
        (st = qs__cuda_blas(cublasLtMatrixLayoutCreate(&g->lb, ab, (uint64_t)k, (uint64_t)cols,
                                                       ldb),
                            diag, "cublasLtMatrixLayoutCreate(B)")) ||
        (st = qs__cuda_blas(cublasLtMatrixLayoutCreate(&g->ld, dt, (uint64_t)g->ldd,
                                                       (uint64_t)cols, g->ldd),
                            diag, "cublasLtMatrixLayoutCreate(D)")))
        goto fail;
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    size_t ws = ctx->workspace_size;
    if ((st = qs__cuda_blas(cublasLtMatmulPreferenceCreate(&pref), diag,
                            "cublasLtMatmulPreferenceCreate")) ||
        (st = qs__cuda_blas(cublasLtMatmulPreferenceSetAttribute(
                                pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws),
                            diag, "cublasLt MAX_WORKSPACE_BYTES")) ||
        (st = qs__cuda_blas(cublasLtMatmulAlgoGetHeuristic(ctx->lt, g->desc, g->la, g->lb,
                                                           g->ld, g->ld, pref, 1, &res, &found),
                            diag, "cublasLtMatmulAlgoGetHeuristic"))) {
        if (pref) cublasLtMatmulPreferenceDestroy(pref);
        goto fail;
    }
    cublasLtMatmulPreferenceDestroy(pref);
    if (found < 1) {
        st = qs__diag(diag, QS_STATUS_UNSUPPORTED,
                      "cuBLASLt has no %s kernel for %lld x %lld x %lld on this device",
                      int8 ? "int8" : "fp32", (long long)rows, (long long)cols, (long long)k);
        goto fail;
    }
    g->algo = res.algo;
    return QS_STATUS_OK;
fail:
    qs__cuda_gemm_destroy(g);
    return st;
}

enum qs_status qs__cuda_gemm_run(struct qs_cuda_ctx *ctx, const struct qs_cuda_gemm *g,
                                 const void *a, const void *b, void *d, struct qs_diag *diag) {
    int32_t one_i = 1, zero_i = 0;
    float one_f = 1.0f, zero_f = 0.0f;
    const void *alpha = g->int8 ? (const void *)&one_i : (const void *)&one_f;
    const void *beta = g->int8 ? (const void *)&zero_i : (const void *)&zero_f;
    return qs__cuda_blas(cublasLtMatmul(ctx->lt, g->desc, alpha, a, g->la, b, g->lb, beta, d,
                                        g->ld, d, g->ld, &g->algo, ctx->workspace,
                                        ctx->workspace_size, ctx->stream),
                         diag, "cublasLtMatmul");
}

enum qs_status qs__cuda_qepi_init(struct qs_cuda_ctx *ctx, struct qs_cuda_bufs *b,
                                  struct qs_cuda_qepi *e, size_t n, size_t k, const int8_t *w,
                                  size_t ldw, bool zp_correction,
                                  const struct qs_qgemm_params *params, struct qs_diag *diag) {
    memset(e, 0, sizeof *e);
    e->out_type = (int)params->out_type;
    int32_t lo = params->qmin, hi = params->qmax;
    if (params->out_type == QS_QOUT_U8) lo = QS_MAX(lo, 0), hi = QS_MIN(hi, 255);
    if (params->out_type == QS_QOUT_S8) lo = QS_MAX(lo, -128), hi = QS_MIN(hi, 127);
    e->qmin = lo, e->qmax = hi, e->out_zp = params->out_zp;
    e->fmin = params->fmin, e->fmax = params->fmax;
    int32_t *corr = qs__malloc(QS_MAX(n, 1) * sizeof *corr);
    if (!corr) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    int32_t zc = zp_correction ? 128 - (int32_t)params->x_zp : 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t s = params->bias ? (uint32_t)params->bias[i] : 0;
        if (zc) {
            int32_t rs = 0;
            for (size_t kk = 0; kk < k; kk++) rs += w[i * ldw + kk];
            s += (uint32_t)rs * (uint32_t)zc;  // wraps modulo 2^32 like the accumulator
        }
        corr[i] = (int32_t)s;
    }
    void *dc = NULL, *ds = NULL, *df = NULL;
    bool f32 = params->out_type == QS_QOUT_F32, s32 = params->out_type == QS_QOUT_S32;
    enum qs_status st = qs__cuda_upload(ctx, b, corr, n * sizeof *corr, &dc, diag);
    if (!st && !s32) st = qs__cuda_upload(ctx, b, params->scale, n * sizeof(float), &ds, diag);
    if (!st && f32 && params->fbias)
        st = qs__cuda_upload(ctx, b, params->fbias, n * sizeof(float), &df, diag);
    // The upload is asynchronous: wait before the host array goes away.
    if (!st) st = qs__cuda_rt(cudaStreamSynchronize(ctx->stream), diag, "cudaStreamSynchronize");
    qs__free(corr);
    if (st) return st;
    e->corr = dc, e->scale = ds, e->fbias = df;
    return QS_STATUS_OK;
}

enum qs_status qs__cuda_gemm_f32(int64_t m, int64_t k, int64_t n, const float *x,
                                 const float *w, const float *bias, float *y,
                                 struct qs_diag *diag) {
    if (m < 1 || k < 1 || n < 1)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "cuda gemm: empty shape");
    struct qs_cuda_ctx *ctx;
    enum qs_status st = qs__cuda_ctx_acquire(&ctx, diag);
    if (st) return st;
    struct qs_cuda_bufs b = {0};
    struct qs_cuda_gemm g = {0};
    void *dx, *dw, *dy, *db = NULL;
    size_t fs = sizeof(float);
    if ((st = qs__cuda_upload(ctx, &b, x, (size_t)(m * k) * fs, &dx, diag)) ||
        (st = qs__cuda_upload(ctx, &b, w, (size_t)(n * k) * fs, &dw, diag)) ||
        (st = qs__cuda_alloc(&b, (size_t)(m * n) * fs, &dy, diag)) ||
        (bias && (st = qs__cuda_upload(ctx, &b, bias, (size_t)n * fs, &db, diag))))
        goto done;
    // D (n x m, column-major) = y [m][n] row-major: rows are the output features.
    if ((st = qs__cuda_gemm_init(ctx, &g, false, n, m, k, k, k, db, diag)) ||
        (st = qs__cuda_gemm_run(ctx, &g, dw, dx, dy, diag)))
        goto done;
    st = qs__cuda_download(ctx, y, dy, (size_t)(m * n) * fs, diag);
done:
    qs__cuda_gemm_destroy(&g);
    cudaStreamSynchronize(ctx->stream);
    qs__cuda_free_all(&b);
    qs__cuda_ctx_release();
    return st;
}

enum qs_status qs__cuda_qgemm(size_t n, size_t k, size_t p, const int8_t *w, const uint8_t *x,
                              bool x_kp, void *c, bool c_np,
                              const struct qs_qgemm_params *params, struct qs_diag *diag) {
    if (n < 1 || k < 1 || p < 1)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "cuda qgemm: empty shape");
    // cuBLASLt's IMMA kernels want k (the leading dimension of both operands) a multiple
    // of 4: pad with zeros, which add nothing.
    size_t kp = (k + 3) & ~(size_t)3, p4 = (p + 3) & ~(size_t)3, n4 = (n + 3) & ~(size_t)3;
    uint8_t *xt = NULL;
    if (x_kp) {  // the device wants X as [P][K]
        xt = qs__malloc(p * k);
        if (!xt) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
        for (size_t kk = 0; kk < k; kk++)
            for (size_t j = 0; j < p; j++) xt[j * k + kk] = x[kk * p + j];
        x = xt;
    }
    struct qs_cuda_ctx *ctx;
    enum qs_status st = qs__cuda_ctx_acquire(&ctx, diag);
    if (st) {
        qs__free(xt);
        return st;
    }
    struct qs_cuda_bufs b = {0};
    struct qs_cuda_gemm g = {0};
    struct qs_cuda_qepi e;
    size_t es = qs__cuda_qout_size(params->out_type);
    void *dx, *dxp, *dw, *dwp, *dacc, *dc;
    if ((st = qs__cuda_upload(ctx, &b, x, p * k, &dx, diag)) ||
        (st = qs__cuda_upload(ctx, &b, w, n * k, &dw, diag)) ||
        // Zeroed: rows beyond p (or n) up to a multiple of 4 stay zero (cuda-impl.h).
        (st = qs__cuda_upload(ctx, &b, NULL, p4 * kp, &dxp, diag)) ||
        (st = qs__cuda_upload(ctx, &b, NULL, n4 * kp, &dwp, diag)) ||
        (st = qs__cuda_alloc(&b, QS_MAX(p4 * n, n4 * p) * sizeof(int32_t), &dacc, diag)) ||
        (st = qs__cuda_alloc(&b, n * p * es, &dc, diag)) ||
        (st = qs__cuda_qepi_init(ctx, &b, &e, n, k, w, k, true, params, diag)))
        goto done;
    if ((st = qs__cuda_rt(qs__cuda_launch_pad_rows(ctx->stream, dx, dxp, p, k, kp, 1), diag,
                          "pad activations")) ||
        (st = qs__cuda_rt(qs__cuda_launch_pad_rows(ctx->stream, dw, dwp, n, k, kp, 0), diag,
                          "pad weights")))
        goto done;
    // c_np: D is p x n column-major = C [N][P]; else n x p = C [P][N].
    if (c_np) {
        if ((st = qs__cuda_gemm_init(ctx, &g, true, (int64_t)p, (int64_t)n, (int64_t)kp,
                                     (int64_t)kp, (int64_t)kp, NULL, diag)) ||
            (st = qs__cuda_gemm_run(ctx, &g, dxp, dwp, dacc, diag)))
            goto done;
    } else {
        if ((st = qs__cuda_gemm_init(ctx, &g, true, (int64_t)n, (int64_t)p, (int64_t)kp,
                                     (int64_t)kp, (int64_t)kp, NULL, diag)) ||
            (st = qs__cuda_gemm_run(ctx, &g, dwp, dxp, dacc, diag)))
            goto done;
    }
    int64_t rows = c_np ? (int64_t)p : (int64_t)n, cols = c_np ? (int64_t)n : (int64_t)p;
    if ((st = qs__cuda_rt(qs__cuda_launch_qepilogue(ctx->stream, dacc, g.ldd, dc, rows, cols,
                                                    !c_np, &e),
                          diag, "int8 epilogue")))
        goto done;
    st = qs__cuda_download(ctx, c, dc, n * p * es, diag);
done:
    qs__cuda_gemm_destroy(&g);
    cudaStreamSynchronize(ctx->stream);
    qs__cuda_free_all(&b);
    qs__cuda_ctx_release();
    qs__free(xt);
    return st;
}
