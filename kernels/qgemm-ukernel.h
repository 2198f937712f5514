// Private to kernels/: the microkernel contract behind kernels/qgemm.h. Microkernels, their
// packing layouts, the per-ISA configs and the helpers every variant shares. quant/ and ir/
// use kernels/qgemm.h only; tests and benchmarks may use this header to reach one variant.
//
// Orientation (as in kernels/qgemm.h): C[n][p] = sum_k W[n][k] * (X[k][p] - x_zp) + bias[n].
// A microkernel computes one tile of MR output channels x NR pixels over the whole of K:
// the channels are the rows of the tile, the pixels its columns, so a row of the tile is
// contiguous in an NCHW output. (XNNPACK's MR counts activation rows; ours counts channels.)
//
// Packed weights (created once by qs__qgemm_pack): N is padded to a multiple of MR, K to
// kc = round_up(K, KR). Tile t (channels t*MR .. t*MR+MR-1) starts at byte
// t * qs__qgemm_wtile_bytes(cfg, kc), a multiple of 64 from a 64-byte aligned base, and
// holds, for g = 0 .. kc/KR-1, for m = 0 .. MR-1, for r = 0 .. KR-1, the element
// W[t*MR+m][g*KR+r] (0 past N or K) as int8 (w_elem 1) or int16 (w_elem 2).
//
// Packed activations (per call, in the caller's scratch): panel q (pixels q*NR .. q*NR+NR-1)
// starts at byte q * qs__qgemm_xpanel_bytes(cfg, kc), 64-byte aligned, and holds for
// g = 0 .. kc/KR-1, for j = 0 .. NR-1, for r = 0 .. KR-1 the element
// X[g*KR+r][q*NR+j] - x_bias (0 past K or P) as a byte (x_elem 1: with x_bias 0 an uint8,
// with x_bias 128 an int8, i.e. x ^ 0x80) or as int16 (x_elem 2).
//
// Accumulators start at init[m] = bias[n] + (x_bias - x_zp) * wsum[n] (wsum: row sums of W,
// kept in the packed weights), so sum_k W * (X - x_bias) + init is the exact accumulator
// sum_k W * (X - x_zp) + bias for every x_bias; all of it modulo 2^32.
#pragma once

#include "kernels/qgemm.h"
#include "qsearch/cpu.h"

/// Epilogue of one tile, prepared by the driver. Per-channel arrays point at the tile's
/// first channel and hold MR readable values (padded), whatever mr is.
struct qs_qgemm_ukernel_params {
    const int32_t *init;   // [MR] initial accumulators (see above)
    const float *scale;    // [MR]
    const float *fbias;    // [MR] (zeros when the call had none)
    enum qs_qout out_type;
    int32_t out_zp;
    int32_t qmin, qmax;    // U8/S8 clamp, already intersected with the type's range
    float qmin_f, qmax_f;  // qmin - out_zp, qmax - out_zp (exact in float)
    float fmin, fmax;      // F32 clamp
};

/// Computes the tile C[0..mr)[0..nr) (channels x pixels) at c: element (m, j) is at
/// c + m * c_stride_n + j * c_stride_p, strides in BYTES, elements of the output type.
///   1 <= mr <= MR, 1 <= nr <= NR: rows/columns past them are never written (they may be
///   computed); kc is a multiple of KR, >= KR; w is one packed weight tile, x one packed
///   activation panel (layouts above; both 64-byte aligned, readable for their full size).
/// Every output must equal qs__qgemm_store_tile's for the exact int32 accumulators.
typedef void (*qs_qgemm_ukernel_fn)(size_t mr, size_t nr, size_t kc, const void *w,
                                    const void *x, void *c, size_t c_stride_n,
                                    size_t c_stride_p,
                                    const struct qs_qgemm_ukernel_params *params);

struct qs_qgemm_config;
/// Packs one activation panel: np (1..NR) pixels starting at x, all kc rows (rows k >= K and
/// pixels j >= np are written as 0). X[k][j] is at x[k * x_stride_k + j * x_stride_p].
typedef void (*qs_qgemm_packx_fn)(const struct qs_qgemm_config *cfg, size_t k, size_t np,
                                  const uint8_t *x, size_t x_stride_k, size_t x_stride_p,
                                  void *packed);

/// Rank of a kernel level for QS_KERNELS=<level> (a cap: the best variant at or below it).
enum qs_qgemm_level {
    QS_QGEMM_LEVEL_SCALAR = 0,
    QS_QGEMM_LEVEL_AVX2 = 10,
    QS_QGEMM_LEVEL_NEON = 10,
    QS_QGEMM_LEVEL_AVXVNNI = 20,
    QS_QGEMM_LEVEL_NEONDOT = 20,
    QS_QGEMM_LEVEL_AVX512VNNI = 30,
    QS_QGEMM_LEVEL_NEONI8MM = 30,
};

/// One microkernel and everything the driver needs to feed it. Rows come from
/// kernels/qgemm.inc, best first.
struct qs_qgemm_config {
    const char *name;          // the microkernel's function name; the part after "__" is
                               // its level's name for QS_KERNELS ("avx2", "neondot", ...)
    enum qs_qgemm_level level;
    uint64_t isa;              // QS_ISA_* bits the CPU must have
    qs_qgemm_ukernel_fn ukernel;
    qs_qgemm_packx_fn packx;   // qs__qgemm_packx_generic or a faster one with its output
    uint8_t mr, nr, kr;
    uint8_t w_elem, x_elem;    // bytes per packed element: 1 or 2
    int16_t x_bias;            // packed activation = x - x_bias (0 or 128)
    int16_t w_min;             // smallest weight handled exactly (-128, or -127 for kernels
                               // that negate weights); pack skips a variant otherwise
};

/// Every compiled variant (the rows of kernels/qgemm.inc that this build has), best first.
QS_INTERNAL const struct qs_qgemm_config *qs__qgemm_configs(size_t *count);
/// True when the running CPU has everything `cfg` needs.
QS_INTERNAL bool qs__qgemm_config_supported(const struct qs_qgemm_config *cfg);
/// The variant qs__qgemm_pack uses for weights >= w_min: the first supported row, capped by
/// QS_KERNELS (a level name, or a microkernel name to force one). Chosen once per process
/// (per w_min class) and logged at QS_LOG_INFO. Never NULL (the scalar row accepts all).
QS_INTERNAL const struct qs_qgemm_config *qs__qgemm_config_get(int w_min);
/// The microkernel config of a packed weight object.
QS_INTERNAL const struct qs_qgemm_config *qs__qgemm_weights_config(const qs_qgemm_weights *w);

/// qs__qgemm_pack with an explicit variant (tests, benchmarks). Returns UNSUPPORTED_HW when
/// the CPU lacks it, INVALID_ARG when a weight is below cfg->w_min, NOMEM.
QS_INTERNAL enum qs_status qs__qgemm_pack_config(const struct qs_qgemm_config *cfg, size_t n,
                                                 size_t k, const int8_t *w, size_t ldw,
                                                 qs_qgemm_weights **out);

/// The oracle: a direct triple loop over the unpacked operands with the same epilogue
/// (qs_requant_fp32 and friends). Tests compare every variant with it bit for bit.
QS_INTERNAL void qs__qgemm_ref(size_t n, size_t k, size_t p, const int8_t *w, size_t ldw,
                               const uint8_t *x, size_t x_stride_k, size_t x_stride_p,
                               void *c, size_t c_stride_n, size_t c_stride_p,
                               const struct qs_qgemm_params *params);

/// The scalar epilogue: writes the mr x nr tile of exact accumulators acc (row m at
/// acc + m * acc_stride) to c like a microkernel does. SIMD kernels use it for tiles whose
/// output layout their vector stores do not cover.
QS_INTERNAL void qs__qgemm_store_tile(size_t mr, size_t nr, const int32_t *acc,
                                      size_t acc_stride, void *c, size_t c_stride_n,
                                      size_t c_stride_p,
                                      const struct qs_qgemm_ukernel_params *params);

/// The portable packer of the layout above, for any cfg and strides.
QS_INTERNAL void qs__qgemm_packx_generic(const struct qs_qgemm_config *cfg, size_t k,
                                         size_t np, const uint8_t *x, size_t x_stride_k,
                                         size_t x_stride_p, void *packed);

/// One activation panel of an implicit-GEMM convolution (qs__qgemm_conv_run), prepared by
/// the driver: element (k, j) is x[rows[k].off + pix[j]] ^ flip when bit j of
/// valid[rows[k].tap] is set, else x_zp (the packed value is that minus x_bias; pixels
/// j >= np have no valid bit). rows[k].off = c * plane + tap offset for k = c * taps + tap;
/// the row table is the same for every panel of a call. step is 1 or 2 when
/// pix[j] = pix[0] + step * j for every j < np (the panel reads each tap as one contiguous
/// or stride-2 run), else 0.
enum { QS_QCONV_MAX_TAPS = 64, QS_QCONV_MAX_NR = 64 };
struct qs_qconv_row {
    int32_t off, tap;
};
struct qs_qconv_panel {
    const uint8_t *x;              // channel 0 of the group's input
    const struct qs_qconv_row *rows;  // [k]
    size_t k, taps, np;
    uint8_t x_zp, flip;
    int step;
    const int32_t *pix;            // [np]: offset of pixel j's tap (0, 0); may lie outside
    const uint64_t *valid;         // [taps]
};
/// Packs one conv panel in cfg's activation layout (as cfg->packx would pack the explicit
/// im2col rows of the panel; bytes of pixels past np hold unspecified values).
typedef void (*qs_qconv_packx_fn)(const struct qs_qgemm_config *cfg,
                                  const struct qs_qconv_panel *cp, void *packed);
/// The portable conv packer (any cfg), and the vectorized one for the c4 byte layout.
QS_INTERNAL void qs__qconv_packx_generic(const struct qs_qgemm_config *cfg,
                                         const struct qs_qconv_panel *cp, void *packed);
#if (defined(__x86_64__) || defined(_M_X64)) && QS_ENABLE_AVX512VNNI
QS_INTERNAL void qs_qu8_conv_packx_c4__avx512(const struct qs_qgemm_config *cfg,
                                              const struct qs_qconv_panel *cp, void *packed);
#endif

/// Direct convolution (qs__qdconv_run): a microkernel of the c4 byte layout (kr 4, w_elem 1,
/// x_bias 0) whose k-group g reads its NR x 4 activation bytes (pixel j at + 4 j) at
/// x + koff[g] instead of from a packed panel; with x_row != 0 the tile is two output rows
/// of NR / 2 pixels and pixels j >= NR / 2 are read at + x_row + 4 (j - NR / 2) instead.
/// Otherwise as qs_qgemm_ukernel_fn.
typedef void (*qs_qdconv_ukernel_fn)(size_t mr, size_t nr, size_t kc, const void *w,
                                     const uint8_t *x, const int32_t *koff, size_t x_row,
                                     void *c, size_t c_stride_n, size_t c_stride_p,
                                     const struct qs_qgemm_ukernel_params *params);
/// Copies rows [0, rows) x columns [0, cols) of channels 4 cg .. 4 cg + 3 of an image with
/// rows of in_w bytes (x: channel 4 cg; channels `plane` bytes apart; channels >= `left`
/// are left alone: the caller filled everything with the zero point) to the stride phase
/// planes of the group at dst: image pixel (i, j) is padded pixel (y, x) = (i + pad_top,
/// j + pad_left), stored at dst + ((y % st) * st + x % st) * q4 + ((y / st) * wq + x / st) * 4
/// + c % 4. The portable one and the AVX-512 one.
typedef void (*qs_qdconv_interleave_fn)(const uint8_t *x, size_t plane, size_t left,
                                        size_t rows, size_t cols, size_t in_w, size_t st,
                                        size_t pad_top, size_t pad_left, size_t wq, size_t q4,
                                        uint8_t *dst);
QS_INTERNAL void qs__qdconv_interleave_scalar(const uint8_t *x, size_t plane, size_t left,
                                              size_t rows, size_t cols, size_t in_w,
                                              size_t st, size_t pad_top, size_t pad_left,
                                              size_t wq, size_t q4, uint8_t *dst);
#if (defined(__x86_64__) || defined(_M_X64)) && QS_ENABLE_AVX512VNNI
QS_INTERNAL void qs_qu8_qc8w_dconv_minmax_ukernel_16x16c4__avx512vnni(
    size_t mr, size_t nr, size_t kc, const void *w, const uint8_t *x, const int32_t *koff,
    size_t x_row, void *c, size_t c_stride_n, size_t c_stride_p,
    const struct qs_qgemm_ukernel_params *p);
/// Two 16-pixel tiles of the 16 x 16 kernel at x0 / c0 and x1 / c1 (nr0, nr1 pixels) for
/// channels 8 h .. 8 h + mr - 1 (mr <= 8) of a packed 16-channel tile (w: its word 8 h).
QS_INTERNAL void qs_qu8_qc8w_dconv_minmax_ukernel_8x32c4__avx512vnni(
    size_t mr, size_t nr0, size_t nr1, size_t kc, const void *w, const uint8_t *x0,
    const uint8_t *x1, const int32_t *koff, size_t x_row, void *c0, void *c1,
    size_t c_stride_n, const struct qs_qgemm_ukernel_params *p);
QS_INTERNAL void qs_qu8_dconv_interleave__avx512(const uint8_t *x, size_t plane, size_t left,
                                                 size_t rows, size_t cols, size_t in_w,
                                                 size_t st, size_t pad_top, size_t pad_left,
                                                 size_t wq, size_t q4, uint8_t *dst);
#endif

static inline size_t qs__qgemm_round_up(size_t v, size_t m) { return (v + m - 1) / m * m; }
/// Bytes of one packed weight tile / activation panel for kc packed rows (64-byte multiple).
static inline size_t qs__qgemm_wtile_bytes(const struct qs_qgemm_config *cfg, size_t kc) {
    return qs__qgemm_round_up((size_t)cfg->mr * kc * cfg->w_elem, 64);
}
static inline size_t qs__qgemm_xpanel_bytes(const struct qs_qgemm_config *cfg, size_t kc) {
    return qs__qgemm_round_up((size_t)cfg->nr * kc * cfg->x_elem, 64);
}

/// Output element size of a qs_qout type.
static inline size_t qs__qout_size(enum qs_qout t) {
    return t == QS_QOUT_U8 || t == QS_QOUT_S8 ? 1 : 4;
}

/// Declarations of every microkernel and packer named in kernels/qgemm.inc.
#define QS_QGEMM_UKERNEL(level, isa, ukernel, packx, mr, nr, kr, w_elem, x_elem, x_bias, \
                         w_min)                                                         \
    QS_INTERNAL void ukernel(size_t, size_t, size_t, const void *, const void *, void *,  \
                             size_t, size_t, const struct qs_qgemm_ukernel_params *);     \
    QS_INTERNAL void packx(const struct qs_qgemm_config *, size_t, size_t, const uint8_t *, \
                           size_t, size_t, void *);
#include "kernels/qgemm.inc"
#undef QS_QGEMM_UKERNEL
