// Private to kernels/cuda/: sparse weights x dense activations through cuSPARSE (CSR SpMM).
#pragma once

#include "kernels/cuda/cuda-impl.h"

/// C (n x m, column-major) = A (n x k, CSR of the nonzeros of a dense [n][k] matrix) x
/// B (k x m, column-major with ld k, i.e. [m][k] row-major). fp32: float in and out; int8:
/// int8 A and B, int32 C (exact). Descriptors are bound to the device pointers given here.
struct qs_cuda_spmm {
    bool int8;
    int64_t n, k, m, nnz;
    cusparseSpMatDescr_t a;
    cusparseDnMatDescr_t b, c;
    void *buf;
    cusparseSpMMAlg_t alg;
};
QS_INTERNAL enum qs_status qs__cuda_spmm_init(struct qs_cuda_ctx *ctx, struct qs_cuda_bufs *bufs,
                                              struct qs_cuda_spmm *s, bool int8, int64_t n,
                                              int64_t k, int64_t m, const void *host_w,
                                              const void *dev_b, void *dev_c,
                                              struct qs_diag *diag);
QS_INTERNAL enum qs_status qs__cuda_spmm_run(struct qs_cuda_ctx *ctx, const struct qs_cuda_spmm *s,
                                             struct qs_diag *diag);
QS_INTERNAL void qs__cuda_spmm_destroy(struct qs_cuda_spmm *s);
/// The reason 2:4 sparsity cannot run in this build (cuSPARSELt missing or not wired).
QS_INTERNAL enum qs_status qs__cuda_no_2_4(struct qs_diag *diag);
