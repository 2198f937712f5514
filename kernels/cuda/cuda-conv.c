// Convolution: cuDNN for fp32 (when built with it), im2col on the device + cuBLASLt for the
// rest (int8 always, so that it is exact like the CPU; a direct kernel for int8 depthwise).
// The plan (struct qs_cuda_conv) is shared by qs__cuda_conv_f32/qs__cuda_qconv and the timer.
#include "kernels/cuda/cuda-conv.h"

#include <string.h>

void qs__cuda_conv_destroy(struct qs_cuda_conv *cv) {
    qs__cuda_gemm_destroy(&cv->gemm);
#ifdef QS_HAVE_CUDNN
    if (cv->xd) cudnnDestroyTensorDescriptor(cv->xd);
    if (cv->yd) cudnnDestroyTensorDescriptor(cv->yd);
    if (cv->bd) cudnnDestroyTensorDescriptor(cv->bd);
    if (cv->wd) cudnnDestroyFilterDescriptor(cv->wd);
    if (cv->cd) cudnnDestroyConvolutionDescriptor(cv->cd);
#endif
    memset(cv, 0, sizeof *cv);
}

#ifdef QS_HAVE_CUDNN
static enum qs_status dnn_init(struct qs_cuda_ctx *ctx, struct qs_cuda_conv *cv, bool find,
                               struct qs_diag *diag) {
    const struct qs_cuda_layer *l = &cv->layer;
    enum qs_status st;
    if ((st = qs__cuda_dnn(cudnnCreateTensorDescriptor(&cv->xd), diag, "cudnn x")) ||
        (st = qs__cuda_dnn(cudnnCreateTensorDescriptor(&cv->yd), diag, "cudnn y")) ||
        (st = qs__cuda_dnn(cudnnCreateTensorDescriptor(&cv->bd), diag, "cudnn bias")) ||
        (st = qs__cuda_dnn(cudnnCreateFilterDescriptor(&cv->wd), diag, "cudnn w")) ||
        (st = qs__cuda_dnn(cudnnCreateConvolutionDescriptor(&cv->cd), diag, "cudnn conv")))
        return st;
    if ((st = qs__cuda_dnn(cudnnSetTensor4dDescriptor(cv->xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                                      (int)l->batch, (int)l->c_in, (int)l->h,
                                                      (int)l->w),
                           diag, "cudnnSetTensor4dDescriptor(x)")) ||
        (st = qs__cuda_dnn(cudnnSetTensor4dDescriptor(cv->yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                                      (int)l->batch, (int)l->c_out, (int)cv->oh,
                                                      (int)cv->ow),
                           diag, "cudnnSetTensor4dDescriptor(y)")) ||
        (st = qs__cuda_dnn(cudnnSetTensor4dDescriptor(cv->bd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                                      1, (int)l->c_out, 1, 1),
                           diag, "cudnnSetTensor4dDescriptor(bias)")) ||
        (st = qs__cuda_dnn(cudnnSetFilter4dDescriptor(cv->wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW,
                                                      (int)l->c_out, (int)(l->c_in / l->groups),
                                                      (int)l->kh, (int)l->kw),
                           diag, "cudnnSetFilter4dDescriptor")) ||
        (st = qs__cuda_dnn(cudnnSetConvolution2dDescriptor(
                               cv->cd, (int)l->pad_h, (int)l->pad_w, (int)l->stride_h,
                               (int)l->stride_w, (int)l->dil_h, (int)l->dil_w,
                               CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                           diag, "cudnnSetConvolution2dDescriptor")) ||
        (st = qs__cuda_dnn(cudnnSetConvolutionGroupCount(cv->cd, (int)l->groups), diag,
                           "cudnnSetConvolutionGroupCount")) ||
        // FMA math: no TF32, so that fp32 results match the CPU within fp32 rounding.
        (st = qs__cuda_dnn(cudnnSetConvolutionMathType(cv->cd, CUDNN_FMA_MATH), diag,
                           "cudnnSetConvolutionMathType")))
        return st;
    cudnnConvolutionFwdAlgoPerf_t perf[8];
    int found = 0;
    // find: cuDNN times every algorithm (what a deployment would pick); otherwise its
    // heuristic, which needs no device time (the correctness path).
    st = find ? qs__cuda_dnn(cudnnFindConvolutionForwardAlgorithm(ctx->dnn, cv->xd, cv->wd, cv->cd,
                                                                  cv->yd, 8, &found, perf),
                             diag, "cudnnFindConvolutionForwardAlgorithm")
              : qs__cuda_dnn(cudnnGetConvolutionForwardAlgorithm_v7(
                                 ctx->dnn, cv->xd, cv->wd, cv->cd, cv->yd, 8, &found, perf),
                             diag, "cudnnGetConvolutionForwardAlgorithm_v7");
    if (st) return st;
    for (int i = 0; i < found; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > ctx->workspace_size)
            continue;
        cv->algo = perf[i].algo;
        return QS_STATUS_OK;
    }
    return qs__diag(diag, QS_STATUS_UNSUPPORTED, "cuDNN has no algorithm for this convolution "
                    "within a %zu-byte workspace", ctx->workspace_size);
}
#endif

void qs__cuda_conv_geometry(struct qs_cuda_conv *cv, const struct qs_cuda_layer *l, bool int8,
                            uint8_t x_zp) {
    cv->layer = *l;
    cv->int8 = int8;
    cv->oh = (l->h + 2 * l->pad_h - (l->kh - 1) * l->dil_h - 1) / l->stride_h + 1;
    cv->ow = (l->w + 2 * l->pad_w - (l->kw - 1) * l->dil_w - 1) / l->stride_w + 1;
    cv->p = l->batch * cv->oh * cv->ow;
    cv->cg = l->c_in / l->groups;
    cv->cog = l->c_out / l->groups;
    cv->k = cv->cg * l->kh * l->kw;
    cv->kp = int8 ? (cv->k + 3) & ~(int64_t)3 : cv->k;
    struct qs_cuda_im2col *g = &cv->im2col;
    g->batch = l->batch, g->c_in = l->c_in, g->h = l->h, g->w = l->w, g->kh = l->kh;
    g->kw = l->kw, g->oh = cv->oh, g->ow = cv->ow, g->sh = l->stride_h, g->sw = l->stride_w;
    g->ph = l->pad_h, g->pw = l->pad_w, g->dh = l->dil_h, g->dw = l->dil_w, g->cg = cv->cg;
    g->c0 = 0, g->ldk = cv->kp, g->u8 = int8, g->pad_value = x_zp;
}

enum qs_status qs__cuda_conv_init(struct qs_cuda_ctx *ctx, struct qs_cuda_bufs *b,
                                  struct qs_cuda_conv *cv, const struct qs_cuda_layer *layer,
                                  bool int8, const int8_t *host_w,
                                  const struct qs_qgemm_params *params, bool find,
                                  struct qs_diag *diag) {
    memset(cv, 0, sizeof *cv);
    enum qs_status st = qs__cuda_layer_check(layer, diag);
    if (st) return st;
    if (layer->op != QS_CUDA_OP_CONV)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "cuda conv: layer is not a convolution");
    const struct qs_cuda_layer *l = layer;
    qs__cuda_conv_geometry(cv, layer, int8, int8 ? params->x_zp : 0);
    if (int8) {
        cv->dw = l->groups == l->c_in && l->groups == l->c_out;
        if ((st = qs__cuda_qepi_init(ctx, b, &cv->epi, (size_t)l->c_out, (size_t)cv->k, host_w,
                                     (size_t)cv->k, !cv->dw, params, diag)))
            return st;
        cv->x_zp = params->x_zp;
        if (cv->dw) {
            cv->kind = "direct-dwconv-i8";
            return QS_STATUS_OK;
        }
        cv->kind = "im2col+cublaslt-i8";
        if ((st = qs__cuda_gemm_init(ctx, &cv->gemm, true, cv->p, cv->cog, cv->kp, cv->kp,
                                     cv->kp, NULL, diag)))
            return st;
        // The columns have gemm.ldd >= p rows; the extra ones stay zero (cuda-impl.h).
        int64_t ldd = cv->gemm.ldd;
        if ((st = qs__cuda_alloc(b, (size_t)(l->c_out * cv->kp), &cv->wpad, diag)) ||
            (st = qs__cuda_upload(ctx, b, NULL, (size_t)(ldd * cv->kp), &cv->cols, diag)) ||
            (st = qs__cuda_alloc(b, (size_t)(ldd * l->c_out) * 4, (void **)&cv->acc, diag)))
            return st;
        return QS_STATUS_OK;
    }
#ifdef QS_HAVE_CUDNN
    cv->use_dnn = true;
    cv->kind = "cudnn-f32";
    return dnn_init(ctx, cv, find, diag);
#else
    cv->kind = "im2col+cublaslt-f32";
    if ((st = qs__cuda_alloc(b, (size_t)(cv->p * cv->k) * 4, &cv->cols, diag))) return st;
    return qs__cuda_gemm_init(ctx, &cv->gemm, false, cv->p, cv->cog, cv->k, cv->k, cv->k, NULL,
                              diag);
#endif
}

enum qs_status qs__cuda_conv_prepare_weights(struct qs_cuda_ctx *ctx, struct qs_cuda_conv *cv,
                                             const void *dev_w, struct qs_diag *diag) {
    if (!cv->int8 || cv->dw) return QS_STATUS_OK;
    return qs__cuda_rt(qs__cuda_launch_pad_rows(ctx->stream, dev_w, cv->wpad,
                                                (size_t)cv->layer.c_out, (size_t)cv->k,
                                                (size_t)cv->kp, 0),
                       diag, "pad conv weights");
}

enum qs_status qs__cuda_conv_run(struct qs_cuda_ctx *ctx, struct qs_cuda_conv *cv,
                                 const void *x, const void *w, const float *bias, void *y,
                                 struct qs_diag *diag) {
    const struct qs_cuda_layer *l = &cv->layer;
    enum qs_status st;
    if (cv->int8 && cv->dw)
        return qs__cuda_rt(qs__cuda_launch_qdwconv(ctx->stream, &cv->im2col, x, w, y, &cv->epi,
                                                   cv->x_zp),
                           diag, "int8 depthwise conv");
#ifdef QS_HAVE_CUDNN
    if (cv->use_dnn) {
        float one = 1.0f, zero = 0.0f;
        if ((st = qs__cuda_dnn(cudnnConvolutionForward(ctx->dnn, &one, cv->xd, x, cv->wd, w,
                                                       cv->cd, cv->algo, ctx->workspace,
                                                       ctx->workspace_size, &zero, cv->yd, y),
                               diag, "cudnnConvolutionForward")))
            return st;
        if (!bias) return QS_STATUS_OK;
        return qs__cuda_dnn(cudnnAddTensor(ctx->dnn, &one, cv->bd, bias, &one, cv->yd, y), diag,
                            "cudnnAddTensor");
    }
#endif
    size_t es = cv->int8 ? 1 : 4;
    for (int64_t gi = 0; gi < l->groups; gi++) {
        cv->im2col.c0 = gi * cv->cg;
        if ((st = qs__cuda_rt(qs__cuda_launch_im2col(ctx->stream, &cv->im2col, x, cv->cols),
                              diag, "im2col")))
            return st;
        // D (p x cog, column-major) = channels [gi * cog, ...) of the [c_out][p] output.
        const char *wg = (const char *)(cv->int8 ? cv->wpad : w) + gi * cv->cog * cv->kp * es;
        void *dg = cv->int8 ? (void *)(cv->acc + gi * cv->cog * cv->gemm.ldd)
                            : (void *)((float *)y + gi * cv->cog * cv->p);
        if ((st = qs__cuda_gemm_run(ctx, &cv->gemm, cv->cols, wg, dg, diag))) return st;
    }
    if (cv->int8)
        return qs__cuda_rt(qs__cuda_launch_qepilogue(ctx->stream, cv->acc, cv->gemm.ldd, y,
                                                     cv->p, l->c_out, 0, &cv->epi),
                           diag, "int8 epilogue");
    if (!bias) return QS_STATUS_OK;
    return qs__cuda_rt(qs__cuda_launch_bias_f32(ctx->stream, y, cv->p, l->c_out, 0, bias), diag,
                       "bias");
}

bool qs__cuda_conv_output_cnhw(const struct qs_cuda_conv *cv) {
    return !cv->use_dnn && !(cv->int8 && cv->dw);
}

// [c][batch][pix] -> [batch][c][pix] on the host (the im2col paths write channel-major).
static void cnhw_to_nchw(const void *src, void *dst, int64_t batch, int64_t c, int64_t pix,
                         size_t es) {
    for (int64_t ci = 0; ci < c; ci++)
        for (int64_t bi = 0; bi < batch; bi++)
            memcpy((char *)dst + ((bi * c + ci) * pix) * es,
                   (const char *)src + ((ci * batch + bi) * pix) * es, (size_t)pix * es);
}

static enum qs_status conv_host(const struct qs_cuda_layer *layer, bool int8, const void *x,
                                const void *w, const float *bias, void *y,
                                const struct qs_qgemm_params *params, struct qs_diag *diag) {
    enum qs_status st = qs__cuda_layer_check(layer, diag);
    if (st) return st;
    struct qs_cuda_ctx *ctx;
    if ((st = qs__cuda_ctx_acquire(&ctx, diag))) return st;
    const struct qs_cuda_layer *l = layer;
    struct qs_cuda_bufs b = {0};
    struct qs_cuda_conv cv;
    memset(&cv, 0, sizeof cv);
    size_t xe = int8 ? 1 : 4, ye = int8 ? qs__cuda_qout_size(params->out_type) : 4;
    void *dx, *dw, *dy, *db = NULL, *tmp = NULL;
    size_t nx = (size_t)(l->batch * l->c_in * l->h * l->w);
    size_t nw = (size_t)(l->c_out * (l->c_in / l->groups) * l->kh * l->kw);
    if ((st = qs__cuda_conv_init(ctx, &b, &cv, layer, int8, w, params, false, diag)))
        goto done;
    size_t ny = (size_t)(cv.p * l->c_out);
    if ((st = qs__cuda_upload(ctx, &b, x, nx * xe, &dx, diag)) ||
        (st = qs__cuda_upload(ctx, &b, w, nw * xe, &dw, diag)) ||
        (st = qs__cuda_alloc(&b, ny * ye, &dy, diag)) ||
        (bias && (st = qs__cuda_upload(ctx, &b, bias, (size_t)l->c_out * 4, &db, diag))) ||
        (st = qs__cuda_conv_prepare_weights(ctx, &cv, dw, diag)) ||
        (st = qs__cuda_conv_run(ctx, &cv, dx, dw, db, dy, diag)))
        goto done;
    if (qs__cuda_conv_output_cnhw(&cv) && l->batch > 1) {
        if (!(tmp = qs__malloc(ny * ye))) {
            st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
            goto done;
        }
        if ((st = qs__cuda_download(ctx, tmp, dy, ny * ye, diag))) goto done;
        cnhw_to_nchw(tmp, y, l->batch, l->c_out, cv.oh * cv.ow, ye);
    } else {
        st = qs__cuda_download(ctx, y, dy, ny * ye, diag);
    }
done:
    qs__cuda_conv_destroy(&cv);
    cudaStreamSynchronize(ctx->stream);
    qs__cuda_free_all(&b);
    qs__cuda_ctx_release();
    qs__free(tmp);
    return st;
}

enum qs_status qs__cuda_conv_f32(const struct qs_cuda_layer *layer, const float *x,
                                 const float *w, const float *bias, float *y,
                                 struct qs_diag *diag) {
    return conv_host(layer, false, x, w, bias, y, NULL, diag);
}

enum qs_status qs__cuda_qconv(const struct qs_cuda_layer *layer, const uint8_t *x,
                              const int8_t *w, void *y, const struct qs_qgemm_params *params,
                              struct qs_diag *diag) {
    return conv_host(layer, true, x, w, NULL, y, params, diag);
}
