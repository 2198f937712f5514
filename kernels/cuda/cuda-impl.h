// Private to kernels/cuda/: the process-wide context, error mapping, device buffers, the
// cuBLASLt GEMM plan shared by the GEMM, conv and timing code, and the launchers of the
// CUDA kernels in cuda-kernels.cu (extern "C", plain types only, so that this header is C).
#pragma once

#include "kernels/cuda.h"
#include "kernels/cuda/cuda-launch.h"

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <cusparse.h>
#ifdef QS_HAVE_CUDNN
#include <cudnn.h>
#endif

struct qs_cuda_ctx {
    int device;
    cudaStream_t stream;
    cudaEvent_t ev0, ev1;
    cublasLtHandle_t lt;
    void *workspace;  // cuBLASLt workspace
    size_t workspace_size;
    cusparseHandle_t sp;
#ifdef QS_HAVE_CUDNN
    cudnnHandle_t dnn;
#endif
    struct qs_cuda_device_info info;
};

/// Locks the process-wide context, creating it on first use. On OK the caller must call
/// qs__cuda_ctx_release() once; on failure nothing is held.
QS_INTERNAL enum qs_status qs__cuda_ctx_acquire(struct qs_cuda_ctx **ctx, struct qs_diag *diag);
QS_INTERNAL void qs__cuda_ctx_release(void);

/// Maps an error of the runtime / cuBLAS / cuSPARSE / cuDNN to a status and a diag naming
/// `what`; OK passes through.
QS_INTERNAL enum qs_status qs__cuda_rt(cudaError_t e, struct qs_diag *diag, const char *what);
QS_INTERNAL enum qs_status qs__cuda_blas(cublasStatus_t e, struct qs_diag *diag,
                                         const char *what);
QS_INTERNAL enum qs_status qs__cuda_sparse(cusparseStatus_t e, struct qs_diag *diag,
                                           const char *what);
#ifdef QS_HAVE_CUDNN
QS_INTERNAL enum qs_status qs__cuda_dnn(cudnnStatus_t e, struct qs_diag *diag,
                                        const char *what);
#endif

/// Device buffers of one call, freed together (at most QS_CUDA_MAX_BUFS).
#define QS_CUDA_MAX_BUFS 16
struct qs_cuda_bufs {
    void *p[QS_CUDA_MAX_BUFS];
    int n;
};
/// cudaMalloc of `size` bytes (at least 1, 256-byte aligned), remembered in `b`.
QS_INTERNAL enum qs_status qs__cuda_alloc(struct qs_cuda_bufs *b, size_t size, void **out,
                                          struct qs_diag *diag);
QS_INTERNAL void qs__cuda_free_all(struct qs_cuda_bufs *b);
/// Host -> device copy into a new buffer (NULL src: zero-filled).
QS_INTERNAL enum qs_status qs__cuda_upload(struct qs_cuda_ctx *ctx, struct qs_cuda_bufs *b,
                                           const void *src, size_t size, void **out,
                                           struct qs_diag *diag);
QS_INTERNAL enum qs_status qs__cuda_download(struct qs_cuda_ctx *ctx, void *dst,
                                             const void *src, size_t size,
                                             struct qs_diag *diag);

/// One cuBLASLt matmul in the "TN" form that the int8 tensor-core kernels need:
///     D[col][row] = sum_k A[row][k] * B[col][k]      (row < rows, col < cols)
/// with A [rows][lda] and B [cols][ldb] row-major (k contiguous), D column-major
/// (D + col * ldd + row). int8: A, B int8, D int32 (exact, wrapping); the IMMA kernels need
/// k, lda, ldb and the row count multiples of 4, so callers pad k with zeros and allocate A
/// with ldd = round_up(rows, 4) rows whose extra rows are zero, and D with ldd x cols.
/// fp32: ldd = rows; A, B, D float, fp32 compute (no TF32), optional bias[row] added
/// through the cuBLASLt epilogue.
struct qs_cuda_gemm {
    bool int8;
    int64_t rows, cols, k, lda, ldb, ldd;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, ld;
    cublasLtMatmulAlgo_t algo;
    bool has_bias;
};
QS_INTERNAL enum qs_status qs__cuda_gemm_init(struct qs_cuda_ctx *ctx, struct qs_cuda_gemm *g,
                                              bool int8, int64_t rows, int64_t cols,
                                              int64_t k, int64_t lda, int64_t ldb,
                                              const float *dev_bias, struct qs_diag *diag);
QS_INTERNAL enum qs_status qs__cuda_gemm_run(struct qs_cuda_ctx *ctx,
                                             const struct qs_cuda_gemm *g, const void *a,
                                             const void *b, void *d, struct qs_diag *diag);
QS_INTERNAL void qs__cuda_gemm_destroy(struct qs_cuda_gemm *g);

/// Uploads the epilogue arrays of an int8 layer (struct qs_cuda_qepi, cuda-launch.h) into
/// buffers of `b`: corr[n] = bias[n], plus (128 - x_zp) * sum_k w[n][k] when
/// `zp_correction` (the GEMM path, whose activations are x ^ 0x80; the depthwise kernel
/// subtracts x_zp itself). w: [n][ldw], only read when zp_correction.
QS_INTERNAL enum qs_status qs__cuda_qepi_init(struct qs_cuda_ctx *ctx, struct qs_cuda_bufs *b,
                                              struct qs_cuda_qepi *e, size_t n, size_t k,
                                              const int8_t *w, size_t ldw, bool zp_correction,
                                              const struct qs_qgemm_params *params,
                                              struct qs_diag *diag);
/// Host side of qs_requant output sizes.
QS_INTERNAL size_t qs__cuda_qout_size(int out_type);

