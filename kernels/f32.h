// fp32 kernels of the executor: convolution (im2col + OpenBLAS sgemm, depthwise direct),
// pooling, normalization and softmax helpers. Internal to libqsearch.
//
// Layout is NCHW throughout. Spatial geometry is always described in three dimensions
// (depth, height, width) with the real spatial dims right-aligned: a 2-D op has depth 1,
// kernel 1, stride 1, dilation 1 and pad 0 in dimension 0, a 1-D op likewise in 0 and 1.
//
// Every fast kernel has a scalar reference (`*_ref`, kernels/ref/) with the same contract;
// qs__f32_kernels() picks the best set for this CPU once (AVX-512F conv on top of AVX2+FMA,
// or AVX2+FMA, when built with QS_ENABLE_AVX2 and the CPU has them; the environment
// variable QS_KERNELS=ref forces the references, QS_KERNELS=avx2 caps at AVX2). Kernels
// never allocate; none reads input past numel + QS_EXTRA_BYTES.
#pragma once

#include "kernels/internal.h"

#include <stdbool.h>
#include <stdint.h>

/// A sliding window over one image plane (or volume), as used by conv and pooling.
/// in: input spatial size; out: output spatial size; pad: padding before each dim;
/// pad_end: padding after (pooling with count_include_pad counts window cells up to
/// in + pad + pad_end; cells beyond that, which ceil_mode can create, never count).
struct qs_f32_window {
    int64_t in[3], out[3], k[3], stride[3], dil[3], pad[3], pad_end[3];
};

/// Sets every dim to the identity (size 1, kernel 1, stride 1, dilation 1, no padding).
QS_INTERNAL void qs__f32_window_init(struct qs_f32_window *w);
QS_INTERNAL int64_t qs__f32_window_in_size(const struct qs_f32_window *w);
QS_INTERNAL int64_t qs__f32_window_out_size(const struct qs_f32_window *w);
QS_INTERNAL int64_t qs__f32_window_k_size(const struct qs_f32_window *w);

/// Stride-1 convolution as an implicit GEMM over a flat input: output position p of
/// channel m is sum over c < c_in, t < taps of w[m][c][t] * x[c * plane + p + off[t]].
/// A 2-D conv maps onto it with x padded to rows of Wp = W + pads, p = oh * Wp + ow and
/// off[t] = kh * dil_h * Wp + kw * dil_w (positions with ow >= OW are computed and
/// dropped). Weights are packed by qs__f32_conv_s1_pack into blocks of `mr` rows, the
/// table's conv_mr. Callers split position ranges at multiples of QS_F32_CONV_NR.
///
/// Row geometry (tables with conv_s1_rows; fields zero = plain flat positions): with
/// row > 0 position p is (r, col) = (p / row, p % row) and
///  - out_w (0 < out_w < row): only columns col < out_w are stored, at y index
///    r * out_w + col (the padded columns are never written, no copy needed);
///  - dy/dx (not NULL): implicit zero padding. Tap t contributes to (r, col) only when
///    0 <= r + dy[t] < h and 0 <= col + dx[t] < row (off[t] must be dy[t] * row + dx[t]),
///    so an unpadded image is read in place; reads of skipped cells never happen.
/// sum (not NULL): y = clamp(acc + bias + sum[same index as y], lo, hi) (a fused residual
/// Add; sum must not overlap y).
#define QS_F32_CONV_NR 16
struct qs_f32_conv_s1 {
    size_t m, c_in, taps;
    const int64_t *off;  ///< taps offsets, in floats
    size_t plane;        ///< floats between input channels
    size_t mr;           ///< rows per packed weight block (the kernel's conv_mr)
    size_t row, out_w, h;
    const int32_t *dy, *dx;
    const float *sum;
};

/// Column-stride-2 2-D convolution vectorized over output channels (tables with conv_oc):
/// the image comes zero-padded, c_in planes of `plane` floats in rows of `wp`, and output
/// (r, col) of channel m is
///   bias[m] + sum over c < c_in, t < taps of w[m][c][t] * xp[c * plane + sh * r * wp +
///   2 * col + off[t]]
/// taken in that order (channels outer, taps inner, one fused multiply-add each), then
/// + sum[m][r][col] when sum is not NULL, then clamped to [lo, hi]; y and sum are
/// [m][oh * ow]. Why: the stride phases of the implicit-GEMM path waste the lanes of
/// dropped columns and partial tiles (8 x 8 outputs: 64 of 80) and copy the image with
/// stride-2 gathers; here every lane is an output channel. Positions are taken in groups of
/// at most 8 consecutive columns of one output row, ceil(ow / 8) per row, numbered row by
/// row; the kernel runs groups [g_begin, g_end). Weights are packed by
/// qs__f32_conv_s1_pack with mr = QS_F32_CONV_OC_MR. Reads xp up to 16 floats past the
/// last plane.
struct qs_f32_conv_oc {
    size_t m, c_in, taps;
    const int64_t *off;  ///< tap offsets in the padded plane, in floats
    size_t plane, wp;    ///< floats between channels, between padded rows
    size_t sh;           ///< row stride
    size_t oh, ow;
    const float *sum;
};
#define QS_F32_CONV_OC_MR 32

/// Winograd F(4x4, 3x3) convolution (kernels/ref/f32-wino.c): 3x3, stride 1, dilation 1,
/// groups 1, 2-D. The output is cut into 4x4 tiles, th x tw per image; the tile in tile row
/// r and column j reads the 6x6 input patch at row 4r - pt, column 4j - pl (zero outside
/// the image). Tiles are taken in chunks of whole tile rows (bands), ldt tiles at most, and
/// every point xi = 6 * row + column of the 6x6 transform domain is one GEMM:
///   V[xi][t][c]  t < ldt, c < ci_pad    B^T d B of tile t's patch, channel c
///   U[xi][c][o]  c < ci_pad, o < co_pad  G g G^T of the weights (packed once; zero padded)
///   M[xi][t][o]  sum over c < c_in of V[xi][t][c] * U[xi][c][o]
/// and y = A^T M A + bias (+ sum), clamped. ci_pad / co_pad are c_in / c_out rounded up to
/// 16. V[xi] starts at v + xi * vstride, M[xi] at m + xi * mstride, U[xi] at
/// u + xi * ci_pad * co_pad.
struct qs_f32_wino {
    size_t c_in, c_out, ci_pad, co_pad;
    size_t h, w, oh, ow;  ///< input and output image
    size_t pt, pl;        ///< padding before the rows / the columns
    size_t th, tw;        ///< tile rows and columns per image
    size_t bands;         ///< tile rows per chunk
    size_t ldt;           ///< tiles per chunk (bands * tw rounded up to 16)
    size_t vstride, mstride;  ///< floats between V[xi] and V[xi + 1], M[xi] and M[xi + 1]
    size_t wp;            ///< work row: 16-channel vectors per row (>= 4 tw + 2, round16(4 tw))
};

/// Per-plane kernels and row kernels, one table per ISA.
struct qs_f32_kernels {
    const char *isa;  ///< "ref", "avx2" or "avx512"
    size_t conv_mr;   ///< weight rows per packed block that conv_s1 expects
    bool conv_s1_rows;  ///< conv_s1 takes the row geometry (row/out_w/dy/dx) and sum
    /// y[r*ldy + j] = clamp(y[r*ldy + j] + bias[r], lo, hi) for r < rows, j < n.
    /// bias may be NULL (then only the clamp); lo/hi may be -INFINITY/INFINITY.
    void (*bias_act)(size_t rows, size_t n, float *y, size_t ldy, const float *bias,
                     float lo, float hi);
    /// y[r*n + j] = x[r*n + j] * scale[r] + shift[r]  (x may equal y).
    void (*affine_rows)(size_t rows, size_t n, const float *x, float *y, const float *scale,
                        const float *shift);
    /// Depthwise convolution of one plane: y = clamp(bias + sum w * x, lo, hi) over the
    /// window `win` (w: k[0]*k[1]*k[2] weights). Padding cells read as 0.
    void (*dwconv)(const struct qs_f32_window *win, const float *x, const float *w,
                   float bias, float lo, float hi, float *y);
    /// Stride-1 conv (struct qs_f32_conv_s1) for positions [p_begin, p_end) of all m
    /// channels: y[m * ldy + p] = clamp(bias[m] + sum, lo, hi) (bias may be NULL).
    /// Reads x up to index (c_in - 1) * plane + roundup(p_end, NR) + max(off) - 1
    /// (the AVX-512 kernel: p_end + max(off) - 1, and only cells it uses).
    void (*conv_s1)(const struct qs_f32_conv_s1 *cv, const float *x, const float *wpk,
                    const float *bias, float lo, float hi, size_t p_begin, size_t p_end,
                    float *y, size_t ldy);
    /// Column-stride-2 conv over output channels (struct qs_f32_conv_oc) for position
    /// groups [g_begin, g_end) of all m channels; NULL in tables without it.
    void (*conv_oc)(const struct qs_f32_conv_oc *cv, const float *xp, const float *wpk,
                    const float *bias, float lo, float hi, size_t g_begin, size_t g_end,
                    float *y);
    /// Winograd takes convs with at least this many input and output channels (fewer
    /// leave the transforms unshared; measured per table, bench/f32-wino).
    size_t wino_min_c;
    /// Winograd stages (struct qs_f32_wino); NULL in tables without them.
    /// Both transforms take tile rows r0 .. r1 - 1 of one image, whose tiles are rows
    /// t0 .. t0 + (r1 - r0) * tw - 1 of V / M, and a work buffer of
    /// (4 (r1 - r0) + 2) * wp * 16 floats.
    /// wino_input: V[xi][t][c] of those tiles from the image x (NCHW), every c < ci_pad
    /// (channels past c_in are zero).
    void (*wino_input)(const struct qs_f32_wino *g, const float *x, size_t r0, size_t r1,
                       size_t t0, float *v, float *work);
    /// wino_gemm: M[xi] for one xi (v, u, m point at its matrices), tiles t < nt (a
    /// multiple of 16), every o < co_pad.
    void (*wino_gemm)(const struct qs_f32_wino *g, size_t nt, const float *v, const float *u,
                      float *m);
    /// wino_output: output rows 4 r0 .. 4 r1 - 1 (those < oh) of the image y (NCHW):
    /// y = clamp(A^T M A + bias + sum, lo, hi); bias (c_out values) and sum (shaped like
    /// y, not overlapping it) may be NULL.
    void (*wino_output)(const struct qs_f32_wino *g, const float *m, size_t r0, size_t r1,
                        size_t t0, const float *bias, const float *sum, float lo, float hi,
                        float *y, float *work);
    /// Max pooling of one plane; padding cells are ignored.
    void (*maxpool)(const struct qs_f32_window *win, const float *x, float *y);
    /// Average pooling of one plane; the divisor counts in-image cells only, or with
    /// count_include_pad also padding cells up to in + pad_end.
    void (*avgpool)(const struct qs_f32_window *win, bool count_include_pad,
                    const float *x, float *y);
    /// y[r] = mean (or max) of x[r*n .. r*n + n).
    void (*row_mean)(size_t rows, size_t n, const float *x, float *y);
    void (*row_max)(size_t rows, size_t n, const float *x, float *y);
    /// Softmax (or log-softmax) of each row of n elements (x may equal y).
    void (*softmax)(size_t rows, size_t n, const float *x, float *y, bool log);
    /// mean[r] and rstd[r] = 1/sqrt(var + eps) of each row (population variance).
    void (*moments)(size_t rows, size_t n, const float *x, float eps, float *mean,
                    float *rstd);
    /// y[r*n + j] = (x[r*n + j] - mean[r]) * rstd[r] * gamma[j] + beta[j]; beta may be NULL.
    void (*layernorm)(size_t rows, size_t n, const float *x, const float *mean,
                      const float *rstd, const float *gamma, const float *beta, float *y);
};

/// The table selected for this CPU (never NULL; thread-safe after the first call).
QS_INTERNAL const struct qs_f32_kernels *qs__f32_kernels(void);
/// The scalar references.
QS_INTERNAL const struct qs_f32_kernels *qs__f32_kernels_ref(void);
/// The AVX2+FMA table, or NULL when it was not built or the CPU lacks AVX2/FMA.
QS_INTERNAL const struct qs_f32_kernels *qs__f32_kernels_avx2(void);
/// The AVX2 table with the AVX-512F stride-1 conv and max pooling, or NULL when not built
/// or supported.
QS_INTERNAL const struct qs_f32_kernels *qs__f32_kernels_avx512(void);

// Scalar references (kernels/ref/f32-*.c).
QS_INTERNAL void qs__f32_bias_act_ref(size_t rows, size_t n, float *y, size_t ldy,
                                      const float *bias, float lo, float hi);
QS_INTERNAL void qs__f32_affine_rows_ref(size_t rows, size_t n, const float *x, float *y,
                                         const float *scale, const float *shift);
QS_INTERNAL void qs__f32_dwconv_ref(const struct qs_f32_window *win, const float *x,
                                    const float *w, float bias, float lo, float hi, float *y);
QS_INTERNAL void qs__f32_maxpool_ref(const struct qs_f32_window *win, const float *x,
                                     float *y);
QS_INTERNAL void qs__f32_conv_s1_ref(const struct qs_f32_conv_s1 *cv, const float *x,
                                     const float *wpk, const float *bias, float lo, float hi,
                                     size_t p_begin, size_t p_end, float *y, size_t ldy);
QS_INTERNAL void qs__f32_conv_oc_ref(const struct qs_f32_conv_oc *cv, const float *xp,
                                     const float *wpk, const float *bias, float lo, float hi,
                                     size_t g_begin, size_t g_end, float *y);
/// Floats of the packed weights of an m x k matrix (k = c_in * taps).
QS_INTERNAL size_t qs__f32_conv_s1_packed_size(size_t m, size_t k, size_t mr);
/// Packs w[m][k] (row-major) into blocks of mr rows: out[b][k][mr], rows past m zero.
QS_INTERNAL void qs__f32_conv_s1_pack(size_t m, size_t k, size_t mr, const float *w,
                                      float *out);
QS_INTERNAL void qs__f32_wino_input_ref(const struct qs_f32_wino *g, const float *x, size_t r0,
                                       size_t r1, size_t t0, float *v, float *work);
QS_INTERNAL void qs__f32_wino_gemm_ref(const struct qs_f32_wino *g, size_t nt, const float *v,
                                      const float *u, float *m);
QS_INTERNAL void qs__f32_wino_output_ref(const struct qs_f32_wino *g, const float *m,
                                        size_t r0, size_t r1, size_t t0, const float *bias,
                                        const float *sum, float lo, float hi, float *y,
                                        float *work);
QS_INTERNAL void qs__f32_avgpool_ref(const struct qs_f32_window *win, bool count_include_pad,
                                     const float *x, float *y);
QS_INTERNAL void qs__f32_row_mean_ref(size_t rows, size_t n, const float *x, float *y);
QS_INTERNAL void qs__f32_row_max_ref(size_t rows, size_t n, const float *x, float *y);
QS_INTERNAL void qs__f32_softmax_ref(size_t rows, size_t n, const float *x, float *y,
                                     bool log);
QS_INTERNAL void qs__f32_moments_ref(size_t rows, size_t n, const float *x, float eps,
                                     float *mean, float *rstd);
QS_INTERNAL void qs__f32_layernorm_ref(size_t rows, size_t n, const float *x,
                                       const float *mean, const float *rstd,
                                       const float *gamma, const float *beta, float *y);
/// Softmax over the middle axis of [outer, n, inner] (inner > 1; no fast path needed).
QS_INTERNAL void qs__f32_softmax_strided_ref(size_t outer, size_t n, size_t inner,
                                             const float *x, float *y, bool log);

// AVX2+FMA versions (kernels/x86/avx2/f32-*.c), same contracts. 3-D windows fall back to
// the references inside.
#if defined(QS_ENABLE_AVX2)
QS_INTERNAL void qs__f32_bias_act__avx2(size_t rows, size_t n, float *y, size_t ldy,
                                        const float *bias, float lo, float hi);
QS_INTERNAL void qs__f32_affine_rows__avx2(size_t rows, size_t n, const float *x, float *y,
                                           const float *scale, const float *shift);
QS_INTERNAL void qs__f32_dwconv__avx2(const struct qs_f32_window *win, const float *x,
                                      const float *w, float bias, float lo, float hi,
                                      float *y);
QS_INTERNAL void qs__f32_maxpool__avx2(const struct qs_f32_window *win, const float *x,
                                       float *y);
QS_INTERNAL void qs__f32_conv_s1__avx2(const struct qs_f32_conv_s1 *cv, const float *x,
                                       const float *wpk, const float *bias, float lo,
                                       float hi, size_t p_begin, size_t p_end, float *y,
                                       size_t ldy);
QS_INTERNAL void qs__f32_wino_input__avx2(const struct qs_f32_wino *g, const float *x,
                                         size_t r0, size_t r1, size_t t0, float *v,
                                         float *work);
QS_INTERNAL void qs__f32_wino_gemm__avx2(const struct qs_f32_wino *g, size_t nt,
                                        const float *v, const float *u, float *m);
QS_INTERNAL void qs__f32_wino_output__avx2(const struct qs_f32_wino *g, const float *m,
                                          size_t r0, size_t r1, size_t t0,
                                          const float *bias, const float *sum, float lo,
                                          float hi, float *y, float *work);
QS_INTERNAL void qs__f32_avgpool__avx2(const struct qs_f32_window *win,
                                       bool count_include_pad, const float *x, float *y);
QS_INTERNAL void qs__f32_row_mean__avx2(size_t rows, size_t n, const float *x, float *y);
QS_INTERNAL void qs__f32_row_max__avx2(size_t rows, size_t n, const float *x, float *y);
QS_INTERNAL void qs__f32_softmax__avx2(size_t rows, size_t n, const float *x, float *y,
                                       bool log);
QS_INTERNAL void qs__f32_moments__avx2(size_t rows, size_t n, const float *x, float eps,
                                       float *mean, float *rstd);
QS_INTERNAL void qs__f32_layernorm__avx2(size_t rows, size_t n, const float *x,
                                         const float *mean, const float *rstd,
                                         const float *gamma, const float *beta, float *y);
#endif
#if defined(QS_ENABLE_AVX512)
// AVX-512F (kernels/x86/avx512/): the stride-1 conv (no over-read past p_end), the
// column-stride-2 conv over output channels, the Winograd stages and max pooling.
QS_INTERNAL void qs__f32_conv_s1__avx512(const struct qs_f32_conv_s1 *cv, const float *x,
                                         const float *wpk, const float *bias, float lo,
                                         float hi, size_t p_begin, size_t p_end, float *y,
                                         size_t ldy);
QS_INTERNAL void qs__f32_conv_oc__avx512(const struct qs_f32_conv_oc *cv, const float *xp,
                                         const float *wpk, const float *bias, float lo,
                                         float hi, size_t g_begin, size_t g_end, float *y);
QS_INTERNAL void qs__f32_wino_input__avx512(const struct qs_f32_wino *g, const float *x,
                                           size_t r0, size_t r1, size_t t0, float *v,
                                           float *work);
QS_INTERNAL void qs__f32_wino_gemm__avx512(const struct qs_f32_wino *g, size_t nt,
                                          const float *v, const float *u, float *m);
QS_INTERNAL void qs__f32_wino_output__avx512(const struct qs_f32_wino *g, const float *m,
                                            size_t r0, size_t r1, size_t t0,
                                            const float *bias, const float *sum, float lo,
                                            float hi, float *y, float *work);
/// 2-D max pooling with row strides 1 and 2 (the rest: the AVX2 kernel).
QS_INTERNAL void qs__f32_maxpool__avx512(const struct qs_f32_window *win, const float *x,
                                         float *y);
#endif

// ---------------------------------------------------------------------------------------
// Convolution (kernels/ref/f32-conv.c). One description serves Conv and ConvTranspose.

struct qs_f32_conv_desc {
    int64_t batch, c_in, c_out, groups;
    /// Conv: in = input spatial, out = output spatial.
    /// ConvTranspose: the adjoint conv, so in = the OUTPUT spatial size (the image the
    /// columns are scattered into) and out = the INPUT spatial size.
    struct qs_f32_window win;
    float lo, hi;  ///< fused activation clamp (-INFINITY/INFINITY when none)
    /// Kernel table (NULL: qs__f32_kernels()). Packing, scratch size and the run must see
    /// the same table; tests set it to run every table on one machine.
    const struct qs_f32_kernels *kt;
};

/// y[i] = clamp(y[i] + s[i], lo, hi) for i < n: a fused residual Add (and its clamp) after
/// a kernel that has no residual input.
QS_INTERNAL void qs__f32_add_clamp(size_t n, float *y, const float *s, float lo, float hi);
/// True when the description is a depthwise conv the direct kernel takes
/// (groups == c_in == c_out, at most 2 spatial dims).
QS_INTERNAL bool qs__f32_conv_is_depthwise(const struct qs_f32_conv_desc *d);
/// Floats of packed weights when the conv can take the packed path (groups 1: stride-1
/// and strided 1-D/2-D convs as an implicit GEMM over the image, its padded copy or its
/// stride phases, the others as im2col and the same kernel); 0 when it cannot.
QS_INTERNAL size_t qs__f32_conv_packed_size(const struct qs_f32_conv_desc *d);
/// Packs w (ONNX layout) for that path into `packed` (qs__f32_conv_packed_size floats).
QS_INTERNAL void qs__f32_conv_pack(const struct qs_f32_conv_desc *d, const float *w,
                                   float *packed);
/// Scratch bytes qs__f32_conv needs (64-byte aligned buffer), with or without packed
/// weights.
QS_INTERNAL size_t qs__f32_conv_scratch_bytes(const struct qs_f32_conv_desc *d, bool packed);
/// y[N, c_out, out...] = act(conv(x[N, c_in, in...], w) + b + sum). w in ONNX layout
/// [c_out, c_in/groups, k...]; b (c_out values) and sum (a residual shaped like y, the
/// Add fused into the conv; must not overlap y) may be NULL. With packed weights (wpk not NULL)
/// the packed kernels run; otherwise depthwise convs run the direct kernel and the rest
/// im2col + cblas_sgemm. `pool` (may be NULL) spreads the own kernels.
QS_INTERNAL void qs__f32_conv(const struct qs_f32_conv_desc *d, const float *x,
                              const float *w, const float *wpk, const float *b,
                              const float *sum, float *y, void *scratch, qs_pool_t *pool);
/// Winograd F(4x4, 3x3) (kernels/ref/f32-wino.c): fills g and returns true when the conv
/// takes that path with its table (3x3, stride 1, dilation 1, groups 1, 2-D, both channel
/// counts at least the table's wino_min_c, outputs at least 2x2, at least 32 tiles of 4x4
/// outputs over the batch).
QS_INTERNAL bool qs__f32_wino_plan(const struct qs_f32_conv_desc *d, struct qs_f32_wino *g);
/// Floats of U (36 * ci_pad * co_pad), and the packing of w (ONNX layout) into it.
QS_INTERNAL size_t qs__f32_wino_packed_size(const struct qs_f32_wino *g);
QS_INTERNAL void qs__f32_wino_pack(const struct qs_f32_wino *g, const float *w, float *u);
/// Scratch floats of one run: V and M of a chunk and the work buffers of its segments.
QS_INTERNAL size_t qs__f32_wino_scratch_floats(const struct qs_f32_wino *g);
/// y = clamp(conv(x, w) + b + sum, lo, hi) for d->batch images, from U.
QS_INTERNAL void qs__f32_wino_run(const struct qs_f32_conv_desc *d, const struct qs_f32_wino *g,
                                  const float *x, const float *u, const float *b,
                                  const float *sum, float *y, float *scratch, qs_pool_t *pool);
/// The same by direct summation (test oracle; slow).
QS_INTERNAL void qs__f32_conv_direct_ref(const struct qs_f32_conv_desc *d, const float *x,
                                         const float *w, const float *b, float *y);

/// ConvTranspose: y[N, c_out, win.in...] from x[N, c_in, win.out...], w in ONNX layout
/// [c_in, c_out/groups, k...], b may be NULL; activation clamp applied last.
QS_INTERNAL size_t qs__f32_conv_transpose_scratch_bytes(const struct qs_f32_conv_desc *d);
QS_INTERNAL void qs__f32_conv_transpose(const struct qs_f32_conv_desc *d, const float *x,
                                        const float *w, const float *b, float *y,
                                        void *scratch);
QS_INTERNAL void qs__f32_conv_transpose_direct_ref(const struct qs_f32_conv_desc *d,
                                                   const float *x, const float *w,
                                                   const float *b, float *y);

/// col[(c*kvol + kk) * outvol + o] = x[c, window position] (0 in padding), for one image
/// of `channels` channels.
QS_INTERNAL void qs__f32_im2col(const struct qs_f32_window *win, int64_t channels,
                                const float *x, float *col);
/// The adjoint: y[c, position] += col[...] for every in-image position.
QS_INTERNAL void qs__f32_col2im_add(const struct qs_f32_window *win, int64_t channels,
                                    const float *col, float *y);
