// Internal (cross-folder) contract of the integer GEMM and depthwise kernels: what quant/ and
// the int8 ops in ir/ call. The microkernels, packing layouts and per-ISA configs behind
// these entry points are private to kernels/ (see kernels/README.md).
//
// The product is always written in the orientation of an NCHW convolution:
//
//     C[n][p] = out( sum_k (X[k][p] - x_zp) * W[n][k] + bias[n] )
//
// n: output channel (0..N), k: reduction (0..K, C_in*kh*kw for a conv), p: output pixel or
// row (0..P). W is int8 (symmetric weights, narrow range [-127, 127] by default, any int8
// accepted), X is uint8 with zero point x_zp (int8 symmetric activations are handed over as
// uint8 by flipping the sign bit, with x_zp = 128). Every variant is bit-exact with the
// scalar reference for every input, including saturation edges: no kernel may saturate an
// intermediate (AVX2 variants that use vpmaddubsw must keep pair sums in int16 range, e.g. by
// the xor-0x80/sign trick, and are tested at 255 x -128).
#pragma once

#include "kernels/internal.h"

enum qs_qout {
    QS_QOUT_U8 = 0,   // y = clamp(round_half_even(acc * scale[n]) + out_zp, qmin, qmax)
    QS_QOUT_S8 = 1,   // same, int8 storage
    QS_QOUT_F32 = 2,  // y = clamp(acc * scale[n] + fbias[n], fmin, fmax)  (dequantized)
    QS_QOUT_S32 = 3,  // y = acc (raw accumulator; scale/bias ignored except int32 bias)
};

/// Epilogue of one GEMM call. Arrays are indexed by output channel n and must hold N values
/// (the caller passes per-tensor values replicated). Not kept after the call.
/// Preconditions (asserted): scale finite; for U8/S8 out_zp lies in the output type's range
/// and qmin <= qmax after both are intersected with that range (the run does the
/// intersection, so [INT32_MIN, INT32_MAX] means "no extra clamp"). The int32 accumulation
/// wraps modulo 2^32 (only reachable for K > 66,000), identically in every variant.
struct qs_qgemm_params {
    enum qs_qout out_type;
    uint8_t x_zp;
    const int32_t *bias;   // [N] or NULL: added to the int32 accumulator
    const float *scale;    // [N]: s_x * s_w[n] / s_y for U8/S8, s_x * s_w[n] for F32
    const float *fbias;    // [N] or NULL: F32 only
    int32_t out_zp;
    int32_t qmin, qmax;    // U8/S8 clamp, in the output integer domain (fused Relu/Clip)
    float fmin, fmax;      // F32 clamp
};

/// Rounding of the U8/S8 epilogue, shared by every variant: float product, then round
/// half to even (as lrintf in the default rounding mode and cvtps2dq), then add the zero
/// point and clamp. This is what ONNX QuantizeLinear and onnxruntime's QLinearConv do.
/// Products beyond the int32 range (and NaN, from a NaN scale) saturate before the zero
/// point is added; the arithmetic after the product is exact (64-bit), so no zero point or
/// bound can overflow.
static inline int32_t qs_requant_fp32(int32_t acc, float scale, int32_t zp, int32_t lo, int32_t hi) {
    float f = (float)acc * scale;
    // Adding and subtracting 1.5 * 2^23 rounds half to even for |f| < 2^22; larger floats
    // are integers or halves that every caller clamps far away anyway.
    f = f < 4194304.0f && f > -4194304.0f ? (f + 12582912.0f) - 12582912.0f : f;
    int64_t q = f >= 2147483648.0f ? INT32_MAX : f >= -2147483648.0f ? (int64_t)f : INT32_MIN;
    q += zp;
    return q < lo ? lo : q > hi ? hi : (int32_t)q;
}

/// Packed int8 weights for one layer, with per-row sums for the zero-point correction and
/// the kernel chosen for this CPU. Created once per (layer, bits); immutable afterwards, so
/// one packed object may be used by many threads and sessions at once.
typedef struct qs_qgemm_weights qs_qgemm_weights;

/// Packs W [N][K] (row stride ldw elements; W may be NULL when N == 0) into a new object
/// owned by the caller (qs__qgemm_weights_destroy); W is not kept. Returns NOMEM or OK
/// (*out untouched on failure). The microkernel is chosen once per process from the CPU
/// features (kernels/README.md: QS_KERNELS=ref forces the scalar reference, QS_KERNELS=avx2
/// caps the level) and logged at QS_LOG_INFO. Thread-safe.
QS_INTERNAL enum qs_status qs__qgemm_pack(size_t n, size_t k, const int8_t *w, size_t ldw,
                                          qs_qgemm_weights **out);
/// Frees a packed object; NULL is a no-op.
QS_INTERNAL void qs__qgemm_weights_destroy(qs_qgemm_weights *w);
/// Heap bytes held by a packed object (for memory accounting; 0 for NULL).
QS_INTERNAL size_t qs__qgemm_weights_bytes(const qs_qgemm_weights *w);
/// "qs_qu8_qc8w_gemm_minmax_ukernel_16x16c4__avx512vnni" or similar, for logs and benches.
QS_INTERNAL const char *qs__qgemm_kernel_name(const qs_qgemm_weights *w);

/// Scratch bytes qs__qgemm_run needs for P columns: per-channel epilogue arrays and the
/// packed activations. Independent of the thread count; any alignment is accepted.
QS_INTERNAL size_t qs__qgemm_scratch_size(const qs_qgemm_weights *w, size_t p);

/// C = W x X with the epilogue above. X[k][p] is at x[k * x_stride_k + p * x_stride_p]
/// (bytes); C[n][p] at c[n * c_stride_n + p * c_stride_p] (elements of the output type).
/// A conv passes its im2col buffer (x_stride_k = P, x_stride_p = 1) and its NCHW output
/// (c_stride_n = P, c_stride_p = 1); a fully connected layer passes its row-major input
/// (x_stride_k = 1, x_stride_p = K) and output (c_stride_n = 1, c_stride_p = N).
/// Any other strides work too (more slowly). Does not allocate; splits work over `pool`
/// (may be NULL); many calls may share one packed object concurrently, each with its own
/// scratch. C must not overlap X or the scratch.
QS_INTERNAL void qs__qgemm_run(const qs_qgemm_weights *w, size_t p, const uint8_t *x,
                               size_t x_stride_k, size_t x_stride_p, void *c,
                               size_t c_stride_n, size_t c_stride_p,
                               const struct qs_qgemm_params *params, void *scratch,
                               qs_pool_t *pool);

/// Depthwise int8 convolution, NCHW, one image: for every channel ch,
///   y[ch][oh][ow] = out( sum_{i,j} (x[ch][ih][iw] - x_zp) * w[ch][i][j] + bias[ch] )
/// with ih = oh*sh - pt + i*dh, iw = ow*sw - pl + j*dw; taps outside the image read x_zp
/// (contribute 0). w is [C][kh][kw] int8. Output type and epilogue as in qs__qgemm_run
/// (c_stride_n/p are not used: the output is dense NCHW).
struct qs_qdwconv_shape {
    size_t channels, in_h, in_w, out_h, out_w, kh, kw;
    size_t stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
};
QS_INTERNAL size_t qs__qdwconv_scratch_size(const struct qs_qdwconv_shape *s);
QS_INTERNAL void qs__qdwconv_run(const struct qs_qdwconv_shape *s, const uint8_t *x,
                                 const int8_t *w, void *y, const struct qs_qgemm_params *params,
                                 void *scratch, qs_pool_t *pool);

/// Convolution as an implicit GEMM (one image, one group, NCHW, 2-D; 1-D as in_h = kh = 1):
/// the product of qs__qgemm_run with K = channels * kh * kw (k = (c * kh + i) * kw + j, the
/// order of an ONNX weight [M][C][kh][kw]) and P = out_h * out_w, where X[k][p] is the input
/// byte tap (i, j) of output pixel p reads: x[c][oh*sh - pt + i*dh][ow*sw - pl + j*dw] ^ flip,
/// or x_zp outside the image. The activation panels are packed straight from the image (no
/// im2col buffer). flip is 0x80 for int8 input (params->x_zp is then the flipped zero point).
struct qs_qconv_shape {
    size_t channels, in_h, in_w, out_h, out_w, kh, kw;
    size_t stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
    uint8_t flip;
    const void *rows;  // NULL, or this shape's table from qs__qgemm_conv_rows (kept by the
                       // caller: saves rebuilding it in the scratch on every run)
};
/// Bytes of a shape's row table, and filling one (any alignment; 8-byte aligned is best).
QS_INTERNAL size_t qs__qgemm_conv_rows_bytes(const struct qs_qconv_shape *s);
QS_INTERNAL void qs__qgemm_conv_rows(const struct qs_qconv_shape *s, void *rows);
/// True when qs__qgemm_conv_run takes this shape with these weights (K matches, at most 64
/// taps, offsets within int32) and, if `fast`, when the weights' variant has a vectorized
/// panel packer for it (otherwise im2col + qs__qgemm_run is faster).
QS_INTERNAL bool qs__qgemm_conv_supported(const qs_qgemm_weights *w,
                                          const struct qs_qconv_shape *s, bool fast);
/// Scratch bytes of qs__qgemm_conv_run (as qs__qgemm_scratch_size for out_h * out_w).
QS_INTERNAL size_t qs__qgemm_conv_scratch_size(const qs_qgemm_weights *w,
                                               const struct qs_qconv_shape *s);
/// y[n][p] at c[n * c_stride_n + p] (elements of the output type). Preconditions: supported
/// (asserted). Does not allocate; splits work over `pool`.
QS_INTERNAL void qs__qgemm_conv_run(const qs_qgemm_weights *w, const struct qs_qconv_shape *s,
                                    const uint8_t *x, void *c, size_t c_stride_n,
                                    const struct qs_qgemm_params *params, void *scratch,
                                    qs_pool_t *pool);

/// Direct convolution (stride 1, dilation 1, one group, NCHW uint8 input, 2-D): per image
/// the input is copied once into a padded, channel-interleaved layout (x[c/4][h][w][c%4],
/// borders and missing channels at x_zp: C4 x (in_h + pads) x (in_w + pads) x 4 bytes) and
/// the microkernel reads every group of 4 channels x NR pixels of a tap straight from it.
/// The implicit GEMM above packs K x P bytes per image instead (9x the image for 3x3), which
/// costs about as much as the multiply-adds when there are few output channels. Output
/// tiles are runs of one output row, so narrow rows waste lanes: see qs__qdconv_supported.
/// The results are those of qs__qgemm_conv_run (the same exact int32 sums and epilogue).
typedef struct qs_qdconv qs_qdconv;
/// True when `s` (flip 0, stride 1, dilation 1) can run directly with `n` output channels;
/// with `fast`, only where it beats the implicit GEMM (the AVX-512 VNNI kernel, output rows
/// that fill at least 3/4 of their 16-pixel tiles).
QS_INTERNAL bool qs__qdconv_supported(const struct qs_qconv_shape *s, size_t n, bool fast);
/// Packs w [n][channels * kh * kw] (ONNX order, zero point already subtracted) for shape s
/// (copied; s->rows unused). `cfg_name` NULL picks the best variant (as qs__qgemm_pack);
/// otherwise the microkernel of that name (tests). NOMEM, UNSUPPORTED_HW or INVALID_ARG.
QS_INTERNAL enum qs_status qs__qdconv_create(const struct qs_qconv_shape *s, size_t n,
                                             const int8_t *w, const char *cfg_name,
                                             qs_qdconv **out);
QS_INTERNAL void qs__qdconv_destroy(qs_qdconv *d);
/// The variant's microkernel name (logs, tests).
QS_INTERNAL const char *qs__qdconv_kernel_name(const qs_qdconv *d);
QS_INTERNAL size_t qs__qdconv_scratch_size(const qs_qdconv *d);
/// For each of n_img images x + b * x_img ([channels][in_h][in_w]): y[n][p] at
/// c[b * c_img + n * c_stride_n + p] (elements of the output type). One epilogue setup and
/// one fill of the padding serve every image. Does not allocate; splits output rows over
/// `pool`.
QS_INTERNAL void qs__qdconv_run(const qs_qdconv *d, const uint8_t *x, size_t x_img,
                                size_t n_img, void *c, size_t c_img, size_t c_stride_n,
                                const struct qs_qgemm_params *params, void *scratch,
                                qs_pool_t *pool);
