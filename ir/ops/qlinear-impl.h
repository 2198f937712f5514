// Internals shared by the int8 operator files (ir/ops/qlinear*.c): reading scales and zero
// points, the ONNX rounding of QuantizeLinear, and the integer GEMM/depthwise front end the
// QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger and QGemm ops run through.
//
// The front end takes weights as ONNX gives them (int8 or uint8, zero point per tensor or per
// output channel). When W - w_zp fits int8 (always for symmetric int8 weights and for uint8
// weights around 128) they are packed once for kernels/qgemm.h; otherwise an exact generic
// loop keeps W - w_zp as int32. Either way the result is bit-exact with the ONNX definition:
// the int32 accumulator of sum_k (x - x_zp) * (w - w_zp) + bias, then the epilogue of
// struct qs_qgemm_params.
#pragma once

#include "ir/ops/nn-impl.h"
#include "kernels/qgemm.h"

// ---------------------------------------------------------------------------------------
// Scales, zero points, rounding.

/// True for the integer types a quantized tensor may have (uint8, int8, uint16, int16).
QS_INTERNAL bool qs__qlin_is_q(enum qs_dtype dt);
/// The representable range of an integer type (for int32: INT32_MIN..INT32_MAX).
QS_INTERNAL void qs__qlin_range(enum qs_dtype dt, int32_t *lo, int32_t *hi);

/// Checks input i (when present) is a float32 scale with 1 element, or (per_axis > 0) with 1
/// or per_axis elements, all finite and > 0 (values are checked only when constant).
QS_INTERNAL enum qs_status qs__qlin_check_scale(const qs_kctx *k, int i, const char *what,
                                                int64_t per_axis);
/// Checks input i (when present) is a zero point of type dt with 1 or per_axis elements.
QS_INTERNAL enum qs_status qs__qlin_check_zp(const qs_kctx *k, int i, const char *what,
                                             enum qs_dtype dt, int64_t per_axis);
/// Fails with UNSUPPORTED unless inputs [first, last] that are present hold constants
/// (scales and zero points are baked in at prepare).
QS_INTERNAL enum qs_status qs__qlin_require_const(const qs_kctx *k, int first, int last);

/// Scale element i of a view (element 0 when it has one value).
static inline float qs__qlin_scale(const qs_view *s, int64_t i) {
    const float *f = s->data;
    return f[s->numel == 1 ? 0 : i];
}
/// Zero point element i of a view (element 0 when it has one value; 0 for an absent one).
QS_INTERNAL int32_t qs__qlin_zp(const qs_view *zp, int64_t i);

/// onnxruntime's QuantizeLinear of one value: x / scale in float, clamped to
/// [lo - zp, hi - zp] (NaN becomes lo - zp, as maxps does), rounded half to even, plus zp.
static inline int32_t qs__qlin_quantize(float x, float scale, int32_t zp, int32_t lo,
                                        int32_t hi) {
    float v = x / scale;
    const float flo = (float)(lo - zp), fhi = (float)(hi - zp);
    v = v > flo ? v : flo;
    v = v < fhi ? v : fhi;
    // |v| <= 2^17 here: adding and subtracting 1.5 * 2^23 rounds half to even.
    v = (v + 12582912.0f) - 12582912.0f;
    return (int32_t)v + zp;
}

/// The integer clamp of a fused Relu/Clip on an output quantized with (scale, zp) in [lo, hi].
QS_INTERNAL void qs__qlin_act_clamp(const qs_kctx *k, float scale, int32_t zp, int32_t *lo,
                                    int32_t *hi);

/// Stores one value through the epilogue of `p` (acc already holds the bias) at y[i].
static inline void qs__qlin_store(const struct qs_qgemm_params *p, size_t n, int32_t acc,
                                  void *y, size_t i) {
    switch (p->out_type) {
    case QS_QOUT_U8:
        ((uint8_t *)y)[i] = (uint8_t)qs_requant_fp32(acc, p->scale[n], p->out_zp, p->qmin, p->qmax);
        break;
    case QS_QOUT_S8:
        ((int8_t *)y)[i] = (int8_t)qs_requant_fp32(acc, p->scale[n], p->out_zp, p->qmin, p->qmax);
        break;
    case QS_QOUT_F32: {
        float v = (float)acc * p->scale[n] + (p->fbias ? p->fbias[n] : 0.0f);
        ((float *)y)[i] = v < p->fmin ? p->fmin : v > p->fmax ? p->fmax : v;
        break;
    }
    case QS_QOUT_S32:
        ((int32_t *)y)[i] = acc;
        break;
    }
}

// ---------------------------------------------------------------------------------------
// Integer GEMM front end: C[n][p] = out(sum_k (X[k][p] - x_zp) * (W[n][k] - w_zp[n]) + b[n]).

struct qs_qlin_weights {
    size_t n, k;
    qs_qgemm_weights *packed;  // W - w_zp fits int8: the qgemm kernels
    int32_t *wide;             // otherwise [n][k] W - w_zp for the generic loop
};

/// Prepares W [n][k] (element (i, j) at w[i * ldw_n + j * ldw_k], elements of type dt: int8
/// or uint8) with zero points w_zp (NULL: 0; else one value, or one per row when
/// zp_per_row). generic: always take the generic loop (needed for per-column x zero points).
/// NOMEM or OK.
QS_INTERNAL enum qs_status qs__qlin_weights_init(struct qs_qlin_weights *w, size_t n, size_t k,
                                                 const void *data, enum qs_dtype dt,
                                                 size_t ldw_n, size_t ldw_k,
                                                 const qs_view *w_zp, bool zp_per_row,
                                                 bool generic);
QS_INTERNAL void qs__qlin_weights_free(struct qs_qlin_weights *w);
/// Fills dst [n][k] with W - w_zp (arguments as in qs__qlin_weights_init): the generic form
/// of weights known only at run time, used as struct qs_qlin_weights {n, k, NULL, dst}.
QS_INTERNAL void qs__qlin_widen(int32_t *dst, size_t n, size_t k, const void *data,
                                enum qs_dtype dt, size_t ldw_n, size_t ldw_k,
                                const qs_view *w_zp, bool zp_per_row);
/// Scratch bytes of qs__qlin_gemm_run for p columns.
QS_INTERNAL size_t qs__qlin_gemm_scratch(const struct qs_qlin_weights *w, size_t p);
/// The product above for p columns; strides as in qs__qgemm_run. x_zp_col (NULL or [p])
/// replaces params->x_zp per column (MatMulInteger's per-row zero point of A; generic loop
/// only). Does not allocate.
QS_INTERNAL void qs__qlin_gemm_run(const struct qs_qlin_weights *w, size_t p, const uint8_t *x,
                                   size_t x_stride_k, size_t x_stride_p, const int32_t *x_zp_col,
                                   void *c, size_t c_stride_n, size_t c_stride_p,
                                   const struct qs_qgemm_params *params, void *scratch,
                                   qs_pool_t *pool);
/// Depthwise front end (qs__qdwconv_run contract).
QS_INTERNAL size_t qs__qlin_dwconv_scratch(const struct qs_qdwconv_shape *s);
QS_INTERNAL void qs__qlin_dwconv_run(const struct qs_qdwconv_shape *s, const uint8_t *x,
                                     const int8_t *w, void *y,
                                     const struct qs_qgemm_params *params, void *scratch,
                                     qs_pool_t *pool);

/// Copies n bytes, flipping the sign bit (int8 <-> uint8 with zero point + 128).
QS_INTERNAL void qs__qlin_flip_copy(uint8_t *dst, const void *src, size_t n);

// ---------------------------------------------------------------------------------------
// 8-bit max pooling (for MaxPool on uint8/int8 tensors, which move no scale).

/// Max pooling of one plane of uint8 (is_signed false) or int8 values; padding cells are
/// ignored. Same geometry as the f32 kernel table's maxpool.
QS_INTERNAL void qs__q8_maxpool(const struct qs_f32_window *win, bool is_signed, const void *x,
                                void *y);
