// Private to kernels/cuda/: the plain structs and extern "C" launchers shared between the
// C sources and cuda-kernels.cu (this header is valid C and C++ and includes nothing of
// qsearch, so that nvcc never sees kernels/internal.h).
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QS_CUDA_HIDDEN __attribute__((visibility("hidden")))

/// Device epilogue arrays for one int8 layer (n channels), built on the host from the
/// qs_qgemm_params and the weights (qs__cuda_qepi_init): corr[n] is added to the int32
/// accumulator first (bias and zero-point correction; the GEMM path hands the activations to
/// cuBLASLt as int8 x ^ 0x80 = x - 128).
struct qs_cuda_qepi {
    int out_type;  // enum qs_qout
    int32_t *corr;
    float *scale, *fbias;  // fbias may be NULL
    int32_t out_zp, qmin, qmax;  // qmin/qmax already intersected with the output range
    float fmin, fmax;
};

// ---- Launchers (cuda-kernels.cu); all asynchronous on `stream`, return a cudaError_t ----

/// y[i] = x[i] ^ 0x80 for i < count (uint8 -> int8 minus 128).
QS_CUDA_HIDDEN int qs__cuda_launch_flip(void *stream, const uint8_t *x, int8_t *y, size_t count);
/// Copies rows of `cols` bytes into rows of `ld` bytes, zero-filling [cols, ld); XORs 0x80
/// into the copied bytes when `flip`. src rows are `cols` apart.
QS_CUDA_HIDDEN int qs__cuda_launch_pad_rows(void *stream, const void *src, void *dst,
                                            size_t rows, size_t cols, size_t ld, int flip);
/// The int8 epilogue over the int32 accumulators acc (column-major, acc[col * acc_ld + row])
/// into out (column-major rows x cols, out[col * rows + row], element type of e->out_type):
/// channel = row when `chan_is_row`, else col. Arithmetic as qs__qgemm_ref (round half
/// even, no fused multiply-add).
QS_CUDA_HIDDEN int qs__cuda_launch_qepilogue(void *stream, const int32_t *acc, int64_t acc_ld,
                                             void *out, int64_t rows, int64_t cols,
                                             int chan_is_row, const struct qs_cuda_qepi *e);
/// y[i] += bias[channel(i)] (fp32, same indexing as the epilogue).
QS_CUDA_HIDDEN int qs__cuda_launch_bias_f32(void *stream, float *y, int64_t rows, int64_t cols,
                                            int chan_is_row, const float *bias);
/// im2col of one group of an NCHW image batch into rows of a [P][ldk] matrix, P = batch *
/// oh * ow (p = (b * oh + y) * ow + x), k = (c * kh + i) * kw + j over the group's channels
/// [c0, c0 + cg), zero-filled in [cg * kh * kw, ldk). Elements are bytes (uint8 in, int8 out
/// with ^0x80, padding cells = pad_value ^ 0x80) when `u8`, else floats (padding 0).
struct qs_cuda_im2col {
    int64_t batch, c_in, h, w, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, c0, cg, ldk;
    int u8;
    uint8_t pad_value;
};
QS_CUDA_HIDDEN int qs__cuda_launch_im2col(void *stream, const struct qs_cuda_im2col *g,
                                          const void *x, void *cols);
/// Depthwise int8 conv (groups == c_in == c_out), NCHW, int32 accumulation of
/// (x - x_zp) * w (padding contributes 0) then the epilogue with chan = channel; output
/// [batch][c][oh][ow].
QS_CUDA_HIDDEN int qs__cuda_launch_qdwconv(void *stream, const struct qs_cuda_im2col *g,
                                           const uint8_t *x, const int8_t *w, void *y,
                                           const struct qs_cuda_qepi *e, uint8_t x_zp);
#ifdef __cplusplus
}
#endif
