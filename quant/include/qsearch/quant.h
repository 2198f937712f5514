// qsearch/quant.h: quantization parameters, calibration, and quantization policies.
//
// Overview
//   Integer tensors follow ONNX QuantizeLinear/DequantizeLinear:
//       q = saturate(round_half_to_even(x / scale) + zero_point),   x' = (q - zero_point) * scale
//   Weights are int8, symmetric (zero point 0), narrow range [-127, 127], one scale per
//   output channel (or per tensor). Activations are uint8 asymmetric (default) or int8
//   symmetric, one scale per tensor. Biases are int32 with scale s_in * s_w[n].
//
//   Calibration observes every float32 activation of a graph during fp32 runs over a
//   calibration set, with state whose size does not depend on the number of samples
//   (running min/max, per-batch averages and a growing histogram). Every calibration method
//   (minmax, avg, EMA, percentile, KL, MSE, EMD) is derived afterwards from the same
//   statistics, so comparing methods costs no new pass over the data:
//
//       struct qs_calib_options co = qs_calib_options_default();
//       qs_calib_t *cal;
//       qs_calib_create(graph, &co, &cal, &diag);
//       const char *specs[] = {"cifar10:calib.bin"};
//       struct qs_preprocess pp;
//       qs_preprocess_parse("imagenet", &pp, &diag);
//       qs_calib_run_files(cal, specs, 1, &pp, 0, &diag);   // one fp32 pass, streamed
//       struct qs_calib_method m = qs_calib_method_default(QS_CALIB_KL);
//       double lo, hi;
//       int i = qs_calib_find(cal, "conv1_output");         // or qs_calib_find_id(cal, id)
//       qs_calib_range(cal, i, &m, &lo, &hi, &diag);
//       struct qs_qparams p;
//       qs_qparams_from_range(lo, hi, QS_DTYPE_U8, 8, false, &p, &diag);
//       qs_calib_destroy(cal);
//
// Thread safety: functions on distinct objects may run concurrently. An observer or a
// calibration object must not be updated from two threads at once; qs_*_range on an
// object that is not being updated is reentrant.
#pragma once

#include "qsearch/common.h"
#include "qsearch/data.h"
#include "qsearch/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

// =======================================================================================
// Parameters and calibration
// =======================================================================================

// ---------------------------------------------------------------------------------------
// Quantization parameters.

/// Affine quantization of one tensor or one channel: q = clamp(round_half_even(x / scale)
/// + zero_point, qmin, qmax) and x' = (q - zero_point) * scale.
struct qs_qparams {
    float scale;         ///< > 0 and finite
    int32_t zero_point;  ///< in [qmin, qmax]
    int32_t qmin, qmax;  ///< the integer range (e.g. 0..255, -128..127, -127..127)
};

/// Integer range of `bits` (2..8) stored in `dtype`: QS_DTYPE_U8 gives [0, 2^bits - 1];
/// QS_DTYPE_I8 gives [-2^(bits-1), 2^(bits-1) - 1], or [-(2^(bits-1) - 1), 2^(bits-1) - 1]
/// with `narrow` (the symmetric weight range, [-127, 127] at 8 bits).
/// @retval QS_STATUS_INVALID_ARG  another dtype, or bits outside 2..8.
QS_API enum qs_status qs_qrange(enum qs_dtype dtype, int bits, bool narrow, int32_t *qmin_out,
                                int32_t *qmax_out);

/// Scale and zero point that map the real range [lo, hi] onto the integer range of
/// (dtype, bits, narrow) as qs_qrange defines it. The range is first widened to contain 0,
/// so that 0 is exactly representable. QS_DTYPE_I8 is symmetric: the range becomes
/// [-max(|lo|, |hi|), +max(|lo|, |hi|)], scale = 2 max / (qmax - qmin) and the zero point
/// is the middle of the integer range (0 for int8). QS_DTYPE_U8 is asymmetric: scale =
/// (hi - lo) / (qmax - qmin) and zero_point = qmin - lo / scale, nudged (rounded half to
/// even) to an integer and clamped, as onnxruntime's quantize_static computes them. A
/// degenerate range (hi - lo too small for a normal float scale, e.g. [0, 0]) gives scale 1.
/// The scale is computed in double and rounded to float once.
/// @retval QS_STATUS_INVALID_ARG  lo > hi, or bad dtype/bits.
/// @retval QS_STATUS_NUMERIC      lo or hi is not finite, or the scale overflows a float.
QS_API enum qs_status qs_qparams_from_range(double lo, double hi, enum qs_dtype dtype, int bits,
                                            bool narrow, struct qs_qparams *params_out,
                                            struct qs_diag *diag);

/// Quantizes one value as ONNX QuantizeLinear does (x / scale in float, round half to even,
/// add the zero point, saturate to [qmin, qmax]). NaN maps to the zero point.
QS_API int32_t qs_quantize_value(float x, const struct qs_qparams *p);
/// (q - zero_point) * scale in float, as ONNX DequantizeLinear.
QS_API float qs_dequantize_value(int32_t q, const struct qs_qparams *p);

/// Quantizes `n` floats to uint8 (p->qmin >= 0, p->qmax <= 255) as qs_quantize_value.
QS_API void qs_quantize_row_u8(const float *x, size_t n, const struct qs_qparams *p, uint8_t *y);
/// Quantizes `n` floats to int8 (p->qmin >= -128, p->qmax <= 127) as qs_quantize_value.
QS_API void qs_quantize_row_s8(const float *x, size_t n, const struct qs_qparams *p, int8_t *y);
/// Dequantizes `n` uint8 values: y = (q - zero_point) * scale.
QS_API void qs_dequantize_row_u8(const uint8_t *q, size_t n, const struct qs_qparams *p,
                                 float *y);
/// Dequantizes `n` int8 values.
QS_API void qs_dequantize_row_s8(const int8_t *q, size_t n, const struct qs_qparams *p,
                                 float *y);

/// Quantizes a weight matrix W [n_out][k] (row stride k) to int8 symmetric with zero point 0,
/// range [-(2^(bits-1) - 1), 2^(bits-1) - 1] (narrow: [-127, 127] at 8 bits). With
/// `per_channel`, row r gets scale max|W[r]| / qmax and scales_out receives n_out values;
/// otherwise one scale max|W| / qmax is written to scales_out[0]. A row (tensor) of zeros
/// gets scale 1. `q_out` receives n_out * k values. Nothing is kept.
/// @retval QS_STATUS_INVALID_ARG  bits outside 2..8.
/// @retval QS_STATUS_NUMERIC      a weight is not finite (the message gives its row).
QS_API enum qs_status qs_quantize_weights_s8(const float *w, int64_t n_out, int64_t k,
                                             bool per_channel, int bits, int8_t *q_out,
                                             float *scales_out, struct qs_diag *diag);

/// int32 bias of an integer layer: bias_q[i] = round_half_even(bias[i] / (s_in * s_w[i]))
/// saturated to int32, where s_in * s_w[i] is computed in float (the scale that a QDQ
/// export writes for the bias). `s_w` holds `n` scales, or one when `per_channel` is false.
/// @retval QS_STATUS_NUMERIC  a bias is not finite or a scale product is not positive and
///                            finite.
QS_API enum qs_status qs_quantize_bias(const float *bias, size_t n, float s_in, const float *s_w,
                                       bool per_channel, int32_t *bias_out,
                                       struct qs_diag *diag);

/// A real multiplier m as a Q31 fixed-point multiplier and a right shift, as gemmlowp and
/// TFLite's QuantizeMultiplier: m ~= multiplier * 2^-31 * 2^-right_shift with multiplier in
/// [2^30, 2^31) (or 0 when m == 0 or m < 2^-32). right_shift is in [-31, 31]; a negative
/// value is a left shift (m >= 1).
struct qs_fixed_multiplier {
    int32_t multiplier;
    int32_t right_shift;
};
/// Converts `m` (0 <= m < 2^31). The relative error of the multiplier is at most 2^-31.
/// @retval QS_STATUS_INVALID_ARG  m negative, not finite or >= 2^31.
QS_API enum qs_status qs_quantize_multiplier(double m, struct qs_fixed_multiplier *out);
/// Reference fixed-point requantization of an int32 accumulator with gemmlowp's (and
/// TFLite's classic MultiplyByQuantizedMultiplier) two roundings:
/// SaturatingRoundingDoublingHighMul(acc << left_shift, multiplier), then a rounding right
/// shift (ties away from zero), then + zero_point, clamped to [qmin, qmax]. The two roundings
/// put the result one away from the exact product when the first lands on a tie of the
/// second (about 2^-(right_shift+1) of the values). The oracle for NEON kernels built on
/// vqrdmulh + vrshl.
QS_API int32_t qs_requant_fixed_ref(int32_t acc, const struct qs_fixed_multiplier *m,
                                    int32_t zero_point, int32_t qmin, int32_t qmax);
/// The same with a single rounding (TFLite's TFLITE_SINGLE_ROUNDING, XNNPACK's "rndnu"):
/// (acc << left_shift) * multiplier / 2^(31 + right_shift) rounded to nearest, ties toward
/// +infinity, in 64-bit arithmetic; it differs from the exact product only at ties.
QS_API int32_t qs_requant_fixed_single_ref(int32_t acc, const struct qs_fixed_multiplier *m,
                                           int32_t zero_point, int32_t qmin, int32_t qmax);

// ---------------------------------------------------------------------------------------
// Observers: streaming statistics of one tensor.

/// Calibration methods. Each derives a real range [lo, hi] (lo <= 0 <= hi) from the same
/// statistics:
///   MINMAX      [min, max] of every value seen.
///   AVG         mean over batches of the per-batch min and max (int8: of the per-batch
///               abs-max), PaddleSlim `avg`.
///   EMA         bias-corrected moving average of the per-batch min/max (int8: abs-max),
///               PaddleSlim `moving_average_abs_max`: state = r*state + 1,
///               accum = r*accum + v, value = accum / state, with r the momentum.
///   PERCENTILE  the `percentile` quantile of the histogram (PaddleSlim `hist`,
///               hist_percent): int8 on |x|; uint8 on each sign separately (zeros count on
///               both sides), so a post-Relu tensor gets [0, q_p(x)].
///   KL          TensorRT entropy calibration (as NVIDIA's pytorch-quantization): for every
///               candidate threshold from `levels` bins up, the clipped histogram (outliers
///               folded into its last bin) is merged into `levels` groups and the threshold
///               minimising KL(P || Q) wins. Exact zeros are left out of the histogram (the
///               Relu spike; pytorch-quantization sets bins[0] = bins[1]). levels =
///               2^(bits-1) for int8 (on |x|) and for each side of a uint8 tensor with both
///               signs, 2^bits for a one-signed uint8 tensor (post-Relu: [0, t], 256
///               levels).
///   MSE         grid search of the clip range minimising the expected squared error of
///               quantize-dequantize, computed from the histogram for the actual quantizer
///               (dtype, bits): the range is scaled by s on a geometric grid from 1 down
///               to 0.01, refined linearly, and for uint8 tensors with both signs each end
///               is then refined alone.
///   EMD         the same search over s in [0.3, 1] (step 0.01, PaddleSlim's grid)
///               minimising |mean(x) - mean(x')| + |std(x) - std(x')| between the
///               histogram and its quantize-dequantize image.
enum qs_calib_algo {
    QS_CALIB_MINMAX = 0,
    QS_CALIB_AVG = 1,
    QS_CALIB_EMA = 2,
    QS_CALIB_PERCENTILE = 3,
    QS_CALIB_KL = 4,
    QS_CALIB_MSE = 5,
    QS_CALIB_EMD = 6,
    QS_CALIB_ALGO_COUNT
};
/// "minmax", "avg", "ema", "percentile", "kl", "mse", "emd"; "unknown" otherwise.
QS_API const char *qs_calib_algo_name(enum qs_calib_algo algo);
/// Parses the names above (case-insensitive; "hist" = percentile, "entropy" = kl,
/// "moving_average_abs_max" = ema, "abs_max" = minmax).
/// @retval QS_STATUS_INVALID_ARG  unknown name (the message lists the valid ones).
QS_API enum qs_status qs_calib_algo_parse(const char *name, enum qs_calib_algo *algo_out,
                                          struct qs_diag *diag);

/// How to derive a range. Start from qs_calib_method_default().
struct qs_calib_method {
    enum qs_calib_algo algo;
    enum qs_dtype dtype;  ///< QS_DTYPE_U8 (asymmetric, default) or QS_DTYPE_I8 (symmetric)
    int bits;             ///< 2..8 (default 8): levels for KL, the quantizer of MSE/EMD
    double percentile;    ///< PERCENTILE: quantile in (0, 1], default 0.9999
};
QS_API struct qs_calib_method qs_calib_method_default(enum qs_calib_algo algo);

/// Options of observers and calibration. Start from qs_calib_options_default().
struct qs_calib_options {
    size_t struct_size;
    /// Bins of the histograms over [0, max|x|]: each sign has 2*bins bins over [0, R) where
    /// R is the smallest power of two above max|x|, so at least `bins` cover the data.
    /// Power of two in 128..65536; default 2048. 0 keeps no histogram: only minmax, avg
    /// and EMA can then be derived, and observing is the min/max scan alone.
    int bins;
    double ema_momentum;  ///< EMA momentum r in [0, 1); default 0.9 (PaddleSlim moving_rate)
    int batch;            ///< qs_calib_run_*: samples per fp32 run; default 32
    int threads;          ///< qs_calib_run_*: session threads (as qs_session_options); default 1
};
QS_API struct qs_calib_options qs_calib_options_default(void);

/// Streaming statistics of one tensor: min, max, per-batch averages, EMA and a growing
/// histogram (the range doubles when needed, merging bins, so no sample is stored). The
/// histogram and min/max do not depend on how the data is split into batches; AVG and EMA
/// do, by definition. The state size is fixed at creation.
typedef struct qs_observer qs_observer_t;

/// Creates an empty observer. `options` may be NULL (defaults).
/// @retval QS_STATUS_INVALID_ARG  bad options (bins, momentum).
/// @retval QS_STATUS_NOMEM        allocation failed.
QS_API enum qs_status qs_observer_create(const struct qs_calib_options *options,
                                         qs_observer_t **observer_out, struct qs_diag *diag);
/// Frees the observer. NULL is a no-op.
QS_API void qs_observer_destroy(qs_observer_t *ob);
/// Adds one batch of `n` values (n may be 0: the batch is ignored). Does not allocate.
/// A batch holding a NaN or an infinity is refused: QS_STATUS_NUMERIC, nothing is added.
QS_API enum qs_status qs_observer_update(qs_observer_t *ob, const float *x, size_t n,
                                         struct qs_diag *diag);
/// Derives the range [lo, hi] (lo <= 0 <= hi) of `method` (NULL = minmax, uint8). Allocates
/// temporary buffers for the histogram methods.
/// @retval QS_STATUS_INVALID_STATE  nothing was observed yet.
/// @retval QS_STATUS_INVALID_ARG    bad method (algo, dtype, bits, percentile).
/// @retval QS_STATUS_NUMERIC        a GSL routine failed.
/// @retval QS_STATUS_NOMEM          allocation failed.
QS_API enum qs_status qs_observer_range(const qs_observer_t *ob,
                                        const struct qs_calib_method *method, double *lo_out,
                                        double *hi_out, struct qs_diag *diag);
/// Number of values and batches observed.
QS_API uint64_t qs_observer_count(const qs_observer_t *ob);
QS_API uint64_t qs_observer_batches(const qs_observer_t *ob);
/// Bytes of state held (constant for the observer's lifetime).
QS_API size_t qs_observer_state_bytes(const qs_observer_t *ob);

// ---------------------------------------------------------------------------------------
// Calibration of a graph.

/// One observer per float32 activation of a graph: every graph input and every node output
/// whose inferred dtype is float32 (constants excluded).
typedef struct qs_calib qs_calib_t;

/// Creates the observers of `graph`. The graph must outlive the calibration object and must
/// not change while it exists (tensor ids index the observers). `options` may be NULL.
/// @retval QS_STATUS_INVALID_ARG  bad options.
/// @retval QS_STATUS_NOMEM        allocation failed.
QS_API enum qs_status qs_calib_create(qs_graph_t *graph, const struct qs_calib_options *options,
                                      qs_calib_t **calib_out, struct qs_diag *diag);
/// Frees it. The sessions it observed must no longer run (or must have their observer
/// removed). NULL is a no-op.
QS_API void qs_calib_destroy(qs_calib_t *calib);

/// Installs the calibration hook on `session` (which must run the calibration's graph):
/// every later qs_session_run feeds each observed tensor once. Remove it with
/// qs_session_set_observer(session, NULL, NULL).
QS_API void qs_calib_observe(qs_calib_t *calib, qs_session_t *session);
/// Number of valid samples of the next runs (the first `rows` of dim 0); 0 = all of them
/// (the default). For a partial last batch: rows beyond it hold padding that must not be
/// observed. Tensors whose dim 0 is the session batch (or a multiple of it) are cut to the
/// same fraction; others are observed whole.
QS_API void qs_calib_set_valid_rows(qs_calib_t *calib, int64_t rows);
/// First error met by the hook since creation (QS_STATUS_NUMERIC for a non-finite value,
/// naming the tensor), or QS_STATUS_OK. Later batches of a failed tensor are ignored.
QS_API enum qs_status qs_calib_status(const qs_calib_t *calib, struct qs_diag *diag);

/// Runs the graph in fp32 over samples [0, limit) of `ds` (limit 0 = all), options->batch
/// samples per run, observing every activation. `pp` (may be NULL) preprocesses input 0;
/// other inputs are only converted. The dataset's inputs feed the graph inputs in order.
/// @retval QS_STATUS_INVALID_ARG  the dataset does not fit the graph's inputs.
/// @retval QS_STATUS_NUMERIC      a non-finite activation (the message names the tensor).
/// Other statuses from qs_session_create and qs_session_run.
QS_API enum qs_status qs_calib_run_dataset(qs_calib_t *calib, const struct qs_dataset *ds,
                                           const struct qs_preprocess *pp, int64_t limit,
                                           struct qs_diag *diag);
/// As qs_calib_run_dataset on the data of `n_specs` input specs (qsearch/data.h syntax),
/// streamed: CIFAR-10 binary files and uncompressed .npy files are read one batch at a
/// time, so the peak memory does not depend on the number of samples. Other specs are
/// loaded whole.
QS_API enum qs_status qs_calib_run_files(qs_calib_t *calib, const char *const *specs,
                                         int n_specs, const struct qs_preprocess *pp,
                                         int64_t limit, struct qs_diag *diag);

/// Number of observed tensors and their shape at batch 1 (info->id is the tensor id).
QS_API int qs_calib_tensor_count(const qs_calib_t *calib);
QS_API enum qs_status qs_calib_tensor_info(const qs_calib_t *calib, int i,
                                           struct qs_tensor_info *info_out);
/// Index (for qs_calib_tensor_info) of the tensor named `name`, or -1.
QS_API int qs_calib_find(const qs_calib_t *calib, const char *name);
/// Index of the tensor whose graph id (struct qs_tensor_info.id) is `tensor_id`, or -1.
QS_API int qs_calib_find_id(const qs_calib_t *calib, int tensor_id);
/// The observer of tensor `i` (0 <= i < qs_calib_tensor_count), owned by the calibration.
QS_API const qs_observer_t *qs_calib_observer(const qs_calib_t *calib, int i);
/// Range of tensor `i` under `method`, as qs_observer_range; the message names the tensor.
/// @retval QS_STATUS_INVALID_ARG    bad index or method.
/// @retval QS_STATUS_INVALID_STATE  the tensor was never observed (e.g. folded away).
/// @retval QS_STATUS_NUMERIC        the tensor met a non-finite value.
QS_API enum qs_status qs_calib_range(const qs_calib_t *calib, int i,
                                     const struct qs_calib_method *method, double *lo_out,
                                     double *hi_out, struct qs_diag *diag);
/// Samples observed by qs_calib_run_* (or rows declared valid by the hook's runs).
QS_API int64_t qs_calib_samples(const qs_calib_t *calib);
/// Bytes of observer state held (independent of the number of samples).
QS_API size_t qs_calib_state_bytes(const qs_calib_t *calib);

// =======================================================================================
// Policies and their application
// =======================================================================================

/// Options of a quantizer. Start from qs_quant_options_default().
struct qs_quant_options {
    size_t struct_size;
    struct qs_calib_method method;  ///< how activation ranges are derived (default MINMAX)
    bool per_channel;               ///< weight scales per output channel (default true)
};
QS_API struct qs_quant_options qs_quant_options_default(void);

/// Turns calibration statistics and per-layer policies into annotations of a graph (see
/// qs_graph_set_layer_quant in qsearch/ir.h): sessions then run the int8 layers on the
/// integer kernels and qs_graph_save_onnx writes the QDQ model. Activation parameters are
/// derived once at creation; int8 weights, scales and biases are computed the first time a
/// layer is quantized and cached, so applying another policy costs only what changed.
typedef struct qs_quantizer qs_quantizer_t;

/// `graph` is the graph `calib` observed (same tensor ids); both must outlive the quantizer,
/// and the graph must not be changed otherwise while annotated. Sets the parameters of every
/// calibrated activation on the graph.
/// @retval QS_STATUS_INVALID_STATE  calib observed nothing.
/// @retval QS_STATUS_NUMERIC        a range or weight is not finite (the message names it).
QS_API enum qs_status qs_quantizer_create(qs_graph_t *graph, const qs_calib_t *calib,
                                          const struct qs_quant_options *options,
                                          qs_quantizer_t **quantizer_out, struct qs_diag *diag);
/// Frees the quantizer and clears the graph's annotations (which point into its cache).
QS_API void qs_quantizer_destroy(qs_quantizer_t *quantizer);
/// Annotates every layer of the graph as `policy` says (layers not listed: fp32); replaces
/// the previous policy's annotations. `policy` may be NULL: every layer w8a8.
/// @retval QS_STATUS_PARSE  a policy name is not a quantizable layer of the graph.
QS_API enum qs_status qs_quantizer_apply(qs_quantizer_t *quantizer, const qs_policy_t *policy,
                                         struct qs_diag *diag);
/// Bytes of the model under the current annotations: int8 weights, their scales and int32
/// biases for quantized layers, fp32 for everything else (every initializer counted once).
QS_API size_t qs_quantizer_model_bytes(const qs_quantizer_t *quantizer);

#ifdef __cplusplus
}
#endif
