// Private to kernels/cuda/: one convolution prepared for repeated launches (the timer runs
// it many times; the host-buffer entry points once).
#pragma once

#include "kernels/cuda/cuda-impl.h"

struct qs_cuda_conv {
    struct qs_cuda_layer layer;
    bool int8, dw, use_dnn;
    const char *kind;  // "cudnn-f32", "im2col+cublaslt-i8", "direct-dwconv-i8", ...
    int64_t oh, ow, p, cg, cog, k, kp;  // p = batch * oh * ow; kp: k padded (int8: to 4)
    struct qs_cuda_im2col im2col;
    struct qs_cuda_gemm gemm;  // one group: D (p x cog) = cols x W_g^T
    struct qs_cuda_qepi epi;
    uint8_t x_zp;
    void *wpad, *cols;  // device: int8 weights padded to kp; im2col buffer
    int32_t *acc;       // device: int8 accumulators [c_out][gemm.ldd]
#ifdef QS_HAVE_CUDNN
    cudnnTensorDescriptor_t xd, yd, bd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    cudnnConvolutionFwdAlgo_t algo;
#endif
};

/// Fills the geometry fields of `cv` (sizes, im2col) from a checked layer; nothing else.
/// int8: k padded to 4 and byte im2col with padding value x_zp.
QS_INTERNAL void qs__cuda_conv_geometry(struct qs_cuda_conv *cv, const struct qs_cuda_layer *l,
                                        bool int8, uint8_t x_zp);
/// Prepares `layer` (fp32, or int8 with `params`; host_w: the int8 weights, read for the
/// zero-point correction). Device intermediates go into `b`. find: let cuDNN time its
/// algorithms (the timer) instead of its heuristic. On failure call qs__cuda_conv_destroy.
QS_INTERNAL enum qs_status qs__cuda_conv_init(struct qs_cuda_ctx *ctx, struct qs_cuda_bufs *b,
                                              struct qs_cuda_conv *cv,
                                              const struct qs_cuda_layer *layer, bool int8,
                                              const int8_t *host_w,
                                              const struct qs_qgemm_params *params, bool find,
                                              struct qs_diag *diag);
/// Once per weight upload, before qs__cuda_conv_run (int8: pads the weights' k).
QS_INTERNAL enum qs_status qs__cuda_conv_prepare_weights(struct qs_cuda_ctx *ctx,
                                                         struct qs_cuda_conv *cv,
                                                         const void *dev_w,
                                                         struct qs_diag *diag);
/// Launches the convolution on ctx->stream (asynchronous). x NCHW, w [c_out][cg][kh][kw];
/// y NCHW from cuDNN and the depthwise kernel, [c_out][batch][oh][ow] from the im2col paths
/// (qs__cuda_conv_output_cnhw). bias: fp32 only, device, may be NULL.
QS_INTERNAL enum qs_status qs__cuda_conv_run(struct qs_cuda_ctx *ctx, struct qs_cuda_conv *cv,
                                             const void *x, const void *w, const float *bias,
                                             void *y, struct qs_diag *diag);
QS_INTERNAL bool qs__cuda_conv_output_cnhw(const struct qs_cuda_conv *cv);
QS_INTERNAL void qs__cuda_conv_destroy(struct qs_cuda_conv *cv);
