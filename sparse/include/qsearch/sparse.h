// qsearch/sparse.h: pruning (magnitude, N:M, block, channel), post-training accuracy
// recovery (bias correction, OBS / SparseGPT-style reconstruction) and honest byte counts.
//
// Overview
//   A pruner belongs to one graph. It never changes the graph's own constants: the pruned
//   (and reconstructed) weights are handed to the graph as weight overrides
//   (qs_graph_set_layer_weights), which sessions, calibration, quant/ and the ONNX export
//   all read. Pruned weights are cached per (layer, sparsity, pattern), so a search that
//   alternates candidates pays for each layer setting once.
//
//       struct qs_prune_options po = qs_prune_options_default();
//       po.method = QS_PRUNE_OBS;
//       qs_pruner_t *pr;
//       qs_pruner_create(graph, &po, &pr, &diag);          // after qs_graph_optimize
//       qs_pruner_calibrate(pr, &ds, &pp, 512, &diag);      // bias correction / OBS only
//       qs_pruner_apply(pr, policy, &diag);                 // sets the overrides
//       ... sessions, qs_quantizer_apply, qs_graph_save_onnx ...
//       qs_pruner_destroy(pr);                              // restores the graph's weights
//
// Weight view. Every layer's weight is seen as a matrix W[m][k]: m the output channels
// (features), k the reduction. Conv weights [Cout][Cin/g][kh][kw] are rows of
// k = Cin/g*kh*kw in file order; Gemm with transB and MatMul constants are transposed as
// needed. N:M groups and blocks are taken in this view: "2:4" keeps 2 of every 4
// consecutive k in a row (a partial last group keeps min(its size, N)); "blockRxC" blocks
// are R rows x C consecutive k (clipped at the edges), ranked by their mean square; "channel"
// zeroes whole rows (lowest L2 norm), leaving the bias, which is what removing the channel
// and folding its constant output into the next layer gives (qs_prune_shrink_onnx removes
// them from a saved model).
//
// Sparsity semantics per pattern (struct qs_layer_policy in qsearch/ir.h):
//   unstructured  exactly round(sparsity * m * k) weights are zero after pruning (ties by
//                 index; weights that were already zero count), or, with options.global,
//                 one magnitude threshold over every listed layer such that the listed
//                 layers together reach the weighted mean of their sparsities.
//   N:M           the pattern fixes the density N/M; sparsity > 0 only switches it on.
//   blockRxC      round(sparsity * blocks) blocks are zeroed.
//   channel       round(sparsity * m) rows are zeroed.
//
// Thread safety: distinct pruners may be used concurrently; one pruner is not thread-safe.
#pragma once

#include "qsearch/common.h"
#include "qsearch/data.h"
#include "qsearch/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

/// How pruned weights are chosen and corrected.
enum qs_prune_method {
    QS_PRUNE_MAGNITUDE = 0,        ///< smallest |w| (block/channel: smallest L2 norm)
    QS_PRUNE_BIAS_CORRECTION = 1,  ///< magnitude, then b' = b + W E[x] - W' E[x'] per channel
    QS_PRUNE_OBS = 2,              ///< SparseGPT: OBS saliency w^2/[H^-1]_ii and updates
    QS_PRUNE_OBS_BIAS_CORRECTION = 3,  ///< OBS, then the bias correction of the outputs' mean
    QS_PRUNE_METHOD_COUNT
};
/// "magnitude", "bias_correction", "obs", "obs_bias_correction"; "unknown" otherwise.
QS_API const char *qs_prune_method_name(enum qs_prune_method m);
/// Parses the names above (case-insensitive; "bc" = bias_correction, "sparsegpt" = obs,
/// "obs_bc" = obs_bias_correction).
/// @retval QS_STATUS_INVALID_ARG  unknown name (the message lists the valid ones).
QS_API enum qs_status qs_prune_method_parse(const char *name, enum qs_prune_method *out,
                                            struct qs_diag *diag);

/// Options of a pruner. Start from qs_prune_options_default().
struct qs_prune_options {
    size_t struct_size;
    enum qs_prune_method method;  ///< default QS_PRUNE_MAGNITUDE
    /// Unstructured layers share one magnitude threshold (see the overview). Default false.
    bool global;
    bool skip_first;      ///< never prune the first layer (default true)
    bool skip_last;       ///< never prune the last layer (default true)
    bool skip_depthwise;  ///< never prune depthwise convolutions (default true)
    bool conv1x1_only;    ///< prune only 1x1 convolutions and Gemm/MatMul (default false)
    /// Layers never pruned: each entry is a node name or a POSIX extended regular expression
    /// that must match the whole name. Copied at creation. Default none.
    const char *const *ignore;
    int n_ignore;
    /// OBS: dampening added to the diagonal of H, as a fraction of its mean (default 0.01).
    float damp;
    /// OBS: columns processed per lazy-update block (default 128; rounded up to a multiple
    /// of the pattern's M or C).
    int block_size;
    /// Calibration: at most this many input rows (conv: patches) per layer are added to H,
    /// sampled evenly from each batch; 0 = all. Default 0.
    int64_t max_rows_per_batch;
    int batch;    ///< calibration samples per run (default 32)
    int threads;  ///< calibration session threads (default 1)
};
QS_API struct qs_prune_options qs_prune_options_default(void);

typedef struct qs_pruner qs_pruner_t;

/// Creates a pruner for `graph` (which must outlive it; call after qs_graph_optimize).
/// @retval QS_STATUS_INVALID_ARG  bad options (damp, block size, an ignore entry that is
///                                not a valid regular expression; the message names it).
/// @retval QS_STATUS_NOMEM        allocation failed.
QS_API enum qs_status qs_pruner_create(qs_graph_t *graph, const struct qs_prune_options *options,
                                       qs_pruner_t **pruner_out, struct qs_diag *diag);
/// Restores the graph's own weights and frees the pruner and its cache. NULL is a no-op.
QS_API void qs_pruner_destroy(qs_pruner_t *pruner);

/// True when the skip rules allow pruning layer `layer` (qs_graph_layer_info index).
QS_API bool qs_pruner_layer_prunable(const qs_pruner_t *pruner, int layer);

/// Collects calibration statistics of every prunable layer's input on the dense model
/// (overrides removed for the run): the mean of the input rows (bias correction) and, for
/// OBS, H = X^T X over input rows (conv inputs unfolded into patches). Runs the graph over
/// samples [0, limit) of `ds` (limit 0 = all); `pp` (may be NULL) preprocesses input 0.
/// Needed before qs_pruner_apply with the bias-correction or OBS methods; drops the cache.
/// Bias correction uses b' = b + W E[x] - W' E[x'], where E[x] is the input mean of this
/// first (dense) calibration and E[x'] that of the latest (qs_pruner_apply_sequential).
/// @retval QS_STATUS_INVALID_ARG  the dataset does not fit the graph's inputs.
/// @retval QS_STATUS_NOMEM        H does not fit in memory (the message names the layer).
QS_API enum qs_status qs_pruner_calibrate(qs_pruner_t *pruner, const struct qs_dataset *ds,
                                          const struct qs_preprocess *pp, int64_t limit,
                                          struct qs_diag *diag);

/// Sets the graph's weight overrides for `policy`: every listed prunable layer with
/// sparsity > 0 runs with its pruned (and corrected) weights; every other layer gets its
/// own weights back. Layers refused by the skip rules stay dense (logged at info). NULL
/// policy: everything dense. Call before creating sessions or quantizing.
/// @retval QS_STATUS_PARSE          a policy name is not a layer of the graph.
/// @retval QS_STATUS_INVALID_STATE  bias correction / OBS without qs_pruner_calibrate.
/// @retval QS_STATUS_NUMERIC        H could not be factored even after extra dampening.
QS_API enum qs_status qs_pruner_apply(qs_pruner_t *pruner, const qs_policy_t *policy,
                                      struct qs_diag *diag);

/// Sequential pruning of one policy (SparseGPT's layer-by-layer order; not for a search,
/// the statistics then depend on the policy): every layer is pruned in graph order from
/// statistics collected on the model whose earlier layers are already pruned. With OBS the
/// dense model runs beside it (a temporary copy written to /tmp) and each layer is first
/// refitted to the dense outputs from its pruned inputs (W <- W C H^-1, C = sum x_dense x^T),
/// then pruned by OBS; bias correction targets the dense model's output mean. One fp32 run
/// of the calibration data (two with OBS) per distinct layer input. Needs a previous
/// qs_pruner_calibrate and leaves the pruner uncalibrated (calibrate again before another
/// apply); ends with the overrides of `policy` set. Magnitude: as qs_pruner_apply.
/// UNSUPPORTED with options.global.
QS_API enum qs_status qs_pruner_apply_sequential(qs_pruner_t *pruner, const qs_policy_t *policy,
                                                 const struct qs_dataset *ds,
                                                 const struct qs_preprocess *pp, int64_t limit,
                                                 struct qs_diag *diag);

/// What the last qs_pruner_apply did to one layer.
struct qs_prune_layer_stats {
    bool pruned;           ///< false: the layer runs dense
    float sparsity;        ///< achieved fraction of zero weights
    int64_t numel, zeros;  ///< weight elements and zeros among them
    /// Relative output error ||(W - W')X||^2 / ||WX||^2 on the calibration inputs (from H),
    /// or -1 when not calibrated.
    double rel_error;
    double seconds;        ///< time spent computing this entry (0 when it came from cache)
    size_t work_bytes;     ///< peak temporary memory of the computation
};
/// INVALID_ARG for a bad layer index.
QS_API enum qs_status qs_pruner_layer_stats(const qs_pruner_t *pruner, int layer,
                                            struct qs_prune_layer_stats *out);

/// Bytes of the whole model as a file holds it under `policy` (NULL: dense fp32): for
/// every layer the cheapest of dense or its sparse format (CSR, delta CSR, BSR, N:M) at
/// w_bits/8 bytes per value, counting every index, row pointer and metadata bit, plus its
/// bias (fp32, or int32 for int8 weights) and its per-channel scales when w_bits is 8;
/// every other initializer at its own element size. Sparse counts follow the policy
/// (round(sparsity * numel) zeros). Returns 0 and fills `diag` when the policy names a
/// tensor the graph lacks or a layer's weights are not float32.
QS_API size_t qs_model_bytes(const qs_graph_t *graph, const qs_policy_t *policy,
                             struct qs_diag *diag);

/// Structured pruning as a graph rewrite: reads the ONNX model `in_path` (typically the
/// qs_graph_save_onnx of a graph whose "channel"-pattern layers were pruned by a pruner, so
/// their pruned output channels are all-zero rows) and writes `out_path` where each such
/// Conv loses its all-zero output channels and every consumer loses the matching input
/// channels, the removed channels' constant output act(bias) folded into the consumers'
/// biases (exact except where a consumer's zero padding meets it). Residual connections
/// are respected: a Conv is shrunk only when its output (through at most one element-wise
/// activation: Relu, Clip, LeakyRelu, Sigmoid, Tanh) feeds nothing but group-1 Convs with
/// biases, so channels that reach an Add, a pooling, a Concat or a graph output stay (as
/// zeros). `removed_out` (may be NULL) gets the number of channels removed. The output is
/// written to a temporary file and renamed. IO, PARSE (not ONNX) or NOMEM.
QS_API enum qs_status qs_prune_shrink_onnx(const char *in_path, const char *out_path,
                                           const qs_policy_t *policy, int64_t *removed_out,
                                           struct qs_diag *diag);

// ---------------------------------------------------------------------------------------
// Matrix-level pruning (what the pruner runs per layer; exposed for tools and tests).

/// Parsed sparsity pattern.
struct qs_prune_pattern {
    enum { QS_PATTERN_UNSTRUCTURED, QS_PATTERN_NM, QS_PATTERN_BLOCK, QS_PATTERN_CHANNEL } kind;
    int n, m;  ///< N:M: keep n of every m
    int r, c;  ///< block: r rows x c reduction elements
};
/// Parses "unstructured" (or ""), "N:M", "blockRxC", "channel".
/// @retval QS_STATUS_INVALID_ARG  anything else (the message lists the valid forms).
QS_API enum qs_status qs_prune_pattern_parse(const char *s, struct qs_prune_pattern *out,
                                             struct qs_diag *diag);

/// Magnitude pruning of W[m][k] (row-major) in place as the overview defines it;
/// mask_out (m*k bytes, may be NULL) gets 1 for kept weights. `sparsity` in [0, 0.95].
/// @retval QS_STATUS_INVALID_ARG  sparsity out of range or empty matrix.
QS_API enum qs_status qs_prune_magnitude(float *w, int64_t m, int64_t k,
                                         const struct qs_prune_pattern *pattern, float sparsity,
                                         uint8_t *mask_out, struct qs_diag *diag);
/// Magnitude threshold t such that pruning |w| <= t over all `n_mats` matrices zeroes
/// round(sparsity * total) weights in aggregate (ties may add a few).
QS_API enum qs_status qs_prune_global_threshold(const float *const *w, const int64_t *numel,
                                                int n_mats, float sparsity,
                                                float *threshold_out, struct qs_diag *diag);
/// SparseGPT / OBS reconstruction of W[m][k] in place given H = X^T X [k][k] (row-major
/// double; not modified): prunes to `pattern`/`sparsity` column block by column block by
/// w^2 / [H^-1]_ii and updates the remaining weights to minimise ||(W - W')X||^2.
/// `damp` is the fraction of mean(diag H) added to the diagonal, `block_size` the lazy
/// block width. Channel patterns are not supported (UNSUPPORTED). The Cholesky factors
/// come from LAPACK (OpenBLAS); NUMERIC when H is not positive definite after 10x extra
/// dampening.
QS_API enum qs_status qs_prune_obs(float *w, int64_t m, int64_t k, const double *h,
                                   const struct qs_prune_pattern *pattern, float sparsity,
                                   float damp, int block_size, uint8_t *mask_out,
                                   struct qs_diag *diag);

#ifdef __cplusplus
}
#endif
