// Internal (cross-folder) contract of the optional CUDA backend (kernels/cuda/, built with
// -DQS_CUDA=ON): device information for the hardware descriptor, correctness entry points
// that run one GEMM/conv on host buffers (for tests), and the timing API that
// `qsearch lut build --target cuda` calls.
//
// Every function exists in every build. Without -DQS_CUDA=ON they are stubs
// (kernels/base/cuda-stub.c) that return QS_STATUS_UNSUPPORTED with the message
// "built without CUDA (-DQS_CUDA=ON)"; with it, a machine without a usable device gets
// QS_STATUS_UNSUPPORTED_HW ("no CUDA device: ..."). Callers therefore only need:
//
//     struct qs_diag d;
//     if (qs__cuda_available(&d) != QS_STATUS_OK) { report d.msg; skip or fail }
//
// What runs (kernels/cuda/README.md has the details):
//   fp32 GEMM       cuBLASLt, fp32 compute (no TF32: results match the CPU within rounding)
//   int8 GEMM       cuBLASLt IMMA (s8 x s8 -> s32, tensor cores), then a CUDA kernel applies
//                   the qs_qgemm_params epilogue (per-channel scale, bias, zero point, clamp,
//                   qs_requant_fp32 rounding): bit-exact with qs__qgemm_ref
//   conv fp32       cuDNN (when found at build time), else im2col + the fp32 GEMM
//   conv int8       im2col on the device + the int8 GEMM (so it is exact, like the CPU)
//   2:4 sparse      cuSPARSELt when the toolkit has it (else QS_STATUS_UNSUPPORTED)
//   unstructured    cuSPARSE SpMM on CSR weights (fp32; int8 CSR x int8 -> int32)
//
// All calls are serialised by one process-wide lock around one lazily created context
// (handles, stream, events); qs__cuda_shutdown() releases it. Not async-signal-safe.
#pragma once

#include "kernels/internal.h"
#include "kernels/qgemm.h"

#include <stdbool.h>
#include <stdint.h>

/// True when this library was built with -DQS_CUDA=ON (says nothing about a device).
QS_INTERNAL bool qs__cuda_built(void);

/// QS_STATUS_OK when a CUDA device can be used; UNSUPPORTED when built without CUDA,
/// UNSUPPORTED_HW when no device or driver is present (diag says which), CUDA for other
/// runtime errors. Cheap after the first call.
QS_INTERNAL enum qs_status qs__cuda_available(struct qs_diag *diag);

/// The device used (ordinal 0, or the one named by the environment variable QS_CUDA_DEVICE).
struct qs_cuda_device_info {
    int ordinal;
    char name[256];          ///< "NVIDIA H100 80GB HBM3"
    int sm_count;            ///< multiprocessors
    int cc_major, cc_minor;  ///< compute capability
    int driver_version;      ///< cudaDriverGetVersion: 1000 * major + 10 * minor (13000)
    int runtime_version;     ///< cudaRuntimeGetVersion, same encoding
    uint64_t total_mem;      ///< bytes of device memory
    size_t cublaslt_version; ///< cublasLtGetVersion()
    size_t cudnn_version;    ///< cudnnGetVersion(); 0 when built without cuDNN
    int cusparse_version;    ///< cusparseGetProperty(MAJOR) * 1000 + MINOR * 10 ...
    bool has_cudnn, has_cusparselt;
    /// "cuBLASLt 130000, cuDNN 91300, cuSPARSE 12600" for logs and table headers.
    char libraries[128];
};
QS_INTERNAL enum qs_status qs__cuda_device_info(struct qs_cuda_device_info *out,
                                                struct qs_diag *diag);

/// Frees the process-wide context (device buffers, handles). Safe to call at any time,
/// also when nothing was created; a later call re-creates it.
QS_INTERNAL void qs__cuda_shutdown(void);

// ---- Layers -------------------------------------------------------------------------------

enum qs_cuda_op {
    QS_CUDA_OP_GEMM = 0,  ///< Y[m][n] = X[m][k] * W[n][k]^T (a fully connected layer)
    QS_CUDA_OP_CONV = 1,  ///< 2-D NCHW convolution, groups supported (depthwise included)
};

/// Sparsity pattern of the weights (the kernels floor cannot see sparse/'s enum).
enum qs_cuda_pattern {
    QS_CUDA_PATTERN_DENSE = 0,         ///< sparsity ignored
    QS_CUDA_PATTERN_UNSTRUCTURED = 1,  ///< cuSPARSE CSR SpMM at the given sparsity
    QS_CUDA_PATTERN_2_4 = 2,           ///< cuSPARSELt 2:4 (sparsity is 0.5 by definition)
};

/// One layer to time. Precision: w_bits <= 8 and a_bits <= 8 run the int8 path (uint8
/// activations with a zero point, int8 weights, per-channel scales, uint8 output, i.e. what
/// a QLinearConv/QLinearMatMul runs); anything else runs fp32 (a GPU has no faster path for
/// weight-only int8 here). Sparsity in [0, 1) with pattern UNSTRUCTURED or 2_4.
struct qs_cuda_layer {
    enum qs_cuda_op op;
    int w_bits, a_bits;
    float sparsity;
    enum qs_cuda_pattern pattern;
    // GEMM: m rows (batch x tokens), k reduction, n output features.
    int64_t m, k, n;
    // CONV: batch, input channels/height/width, output channels, kernel, stride, padding
    // (top = bottom, left = right), dilation, groups. The output size is derived.
    int64_t batch, c_in, h, w, c_out, kh, kw, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
        groups;
};

/// Checks a layer description (positive dims, groups divide channels, output size >= 1,
/// bits in 1..32, sparsity in [0, 1)); INVALID_ARG with a message otherwise.
QS_INTERNAL enum qs_status qs__cuda_layer_check(const struct qs_cuda_layer *layer,
                                                struct qs_diag *diag);

/// Result of one timing: statistics over `runs` timed runs (after warm-up), each the
/// elapsed time between two CUDA events around one launch sequence of the layer (epilogue
/// and, for int8 conv, im2col included; host transfers excluded).
struct qs_cuda_timing {
    double median_ms, p10_ms, p90_ms, min_ms, mean_ms;
    int runs;
    /// What ran: "cublaslt-i8", "cublaslt-f32", "cudnn-f32", "im2col+cublaslt-i8",
    /// "cusparse-csr-f32", "cusparselt-2:4-i8", ...
    char kernel[48];
};

/// Times one layer: allocates device buffers with random contents (fixed seed), picks the
/// algorithm (cuBLASLt heuristic, cuDNN's fastest), runs max(3, repeats / 10) warm-up
/// launches, then `repeats` (>= 1) timed ones. UNSUPPORTED (with a reason) for a
/// combination with no kernel here (2:4 without cuSPARSELt, ...); the caller records it as a
/// miss. Thread-safe (serialised).
QS_INTERNAL enum qs_status qs__cuda_time_layer(const struct qs_cuda_layer *layer, int repeats,
                                               struct qs_cuda_timing *out,
                                               struct qs_diag *diag);

// ---- Correctness entry points (host buffers in, host buffers out; for tests) --------------

/// fp32 GEMM: y[i * n + j] = sum_k x[i * k + kk] * w[j * k + kk] + (bias ? bias[j] : 0).
QS_INTERNAL enum qs_status qs__cuda_gemm_f32(int64_t m, int64_t k, int64_t n, const float *x,
                                             const float *w, const float *bias, float *y,
                                             struct qs_diag *diag);

/// int8 GEMM in qs__qgemm_run's orientation with dense strides: X is [K][P] (x_stride_k = P,
/// x_stride_p = 1) when `x_kp`, else [P][K]; C is written [N][P] when `c_np`, else [P][N].
/// The epilogue follows `params` exactly (U8, S8, F32 or S32 output): the result equals
/// qs__qgemm_ref bit for bit.
QS_INTERNAL enum qs_status qs__cuda_qgemm(size_t n, size_t k, size_t p, const int8_t *w,
                                          const uint8_t *x, bool x_kp, void *c, bool c_np,
                                          const struct qs_qgemm_params *params,
                                          struct qs_diag *diag);

/// fp32 convolution, NCHW (x: [batch][c_in][h][w], w: [c_out][c_in/groups][kh][kw], y:
/// [batch][c_out][oh][ow]); bias may be NULL. Fields of `layer` other than the conv shape
/// are ignored.
QS_INTERNAL enum qs_status qs__cuda_conv_f32(const struct qs_cuda_layer *layer, const float *x,
                                             const float *w, const float *bias, float *y,
                                             struct qs_diag *diag);

/// int8 convolution (groups == 1), NCHW uint8 input with zero point params->x_zp, int8
/// weights, output as params says, [batch][c_out][oh][ow]: padding cells read x_zp (they
/// contribute 0), like the CPU's im2col path.
QS_INTERNAL enum qs_status qs__cuda_qconv(const struct qs_cuda_layer *layer, const uint8_t *x,
                                          const int8_t *w, void *y,
                                          const struct qs_qgemm_params *params,
                                          struct qs_diag *diag);

/// Sparse fp32 GEMM with the same contract as qs__cuda_gemm_f32, where the zeros of w are
/// skipped: pattern UNSTRUCTURED (cuSPARSE CSR) or 2_4 (cuSPARSELt; w must be 2:4 along k).
QS_INTERNAL enum qs_status qs__cuda_spgemm_f32(enum qs_cuda_pattern pattern, int64_t m,
                                               int64_t k, int64_t n, const float *x,
                                               const float *w, const float *bias, float *y,
                                               struct qs_diag *diag);
