// qsearch/lut.h: hardware latency tables: descriptor, format, lookup, whole-model cost.
//
// Overview
//   A latency table holds the measured time of every node the executor really runs (after
//   lowering and fusion) for one machine: QLinearConv, Conv, QuantizeLinear, MaxPool,
//   QLinearAdd... keyed by a canonical key (op type, input/output dtypes and shapes, weight
//   shape, kernel/stride/pad/dilation/groups, fused activation, sparsity pattern) with the
//   weight sparsity as an interpolation axis. `qsearch lut build` measures it with the real
//   executor (per-node profiling, pinned, after warm-up) and `qsearch lut validate` checks
//   its whole-model sums against measured runs.
//
//       qs_lut_t *lut;
//       if (qs_lut_load("latency_tables/x86-epyc.yaml", &lut, &diag)) puts(diag.msg);
//       if (qs_lut_check_host(lut, false, &diag)) puts(diag.msg);   // other machine: refused
//       struct qs_lut_estimate est;
//       qs_lut_model_cost(lut, graph, policy, 1, &est, &diag);     // once per candidate
//       printf("%.3f ms, %d of %d lookups estimated\n", est.ms, est.misses, est.lookups);
//       qs_lut_destroy(lut);
//
// File format (text, UTF-8): a YAML header (libyaml) ending with the document end marker
// "...", then one CSV row per entry (header row first):
//
//       qsearch_lut: 1
//       descriptor: {target: x86, arch: x86_64, cpu_model: "...", isa: "...", ...}
//       measurement: {batch: 1, threads: 1, repeats: 50, ...}
//       ...
//       op,inputs,outputs,weight,attrs,act,pattern,w_bits,a_bits,sparsity,ms,p10_ms,p90_ms,runs
//       QLinearConv,u8:1x16x32x32,u8:1x16x32x32,16x16x3x3,k3x3 s1x1 p1.1.1.1 d1x1 g1,Relu,...
//
// Misses: a key that is not in the table is estimated from the table's own entries of the
// same op type (a least-squares fit of time against work and bytes; nearest neighbour over
// normalised features when the fit is not possible) and counted as a miss; a cost is never
// silently zero.
//
// Thread safety: a loaded table is immutable; lookups on it may run concurrently.
#pragma once

#include "qsearch/common.h"
#include "qsearch/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qs_lut qs_lut_t;

/// The machine (and build) a table was measured on. Strings are NUL-terminated; "unknown"
/// where not readable.
struct qs_lut_hw {
    char target[16];      ///< "x86", "arm" or "cuda"
    char arch[16];        ///< "x86_64", "aarch64"
    char cpu_model[96];   ///< brand string (CUDA: the device name)
    char isa[128];        ///< ISA of the selected kernels, e.g. "int8:avx512vnni fp32:avx512f"
    char os[96];          ///< "Linux 6.1.0-18-amd64"
    char compiler[64];    ///< compiler of this build
    char build_id[64];    ///< qsearch version and build date
    char governor[32];    ///< cpufreq governor of the first CPU used
    int cores;            ///< physical cores of the machine
    int threads;          ///< worker threads the measurement used
    int numa_nodes;
    int64_t l1d_bytes, l2_bytes, l3_bytes;  ///< per core (L1d, L2) and the largest L3
    double freq_mhz;      ///< current (or maximum) frequency of the first CPU used; 0 unknown
};

/// Describes the running machine for `target` ("x86", "arm" or "cuda"; NULL: this CPU's
/// architecture) measuring with `threads` worker threads.
/// @retval QS_STATUS_INVALID_ARG    unknown target.
/// @retval QS_STATUS_UNSUPPORTED_HW the target is not this machine's architecture.
QS_API enum qs_status qs_lut_host_descriptor(const char *target, int threads,
                                             struct qs_lut_hw *hw_out, struct qs_diag *diag);

/// Loads and validates a table. Errors name the file and line: QS_STATUS_IO (unreadable),
/// QS_STATUS_PARSE (bad YAML, missing header field, bad row: wrong column count, unknown
/// op, negative or non-finite time, p10 > median > p90, sparsity outside [0, 1), duplicate
/// key), QS_STATUS_NOMEM.
QS_API enum qs_status qs_lut_load(const char *path, qs_lut_t **lut_out, struct qs_diag *diag);
QS_API void qs_lut_destroy(qs_lut_t *lut);

/// Refuses (QS_STATUS_UNSUPPORTED_HW, the message names the field and both values) a table
/// whose descriptor does not match the running machine: target/architecture, CPU model,
/// kernel ISA, or more threads than the machine has cores. With `force` the mismatch is only
/// logged as a warning and QS_STATUS_OK is returned. Differences in OS, compiler, build,
/// governor or frequency are logged as warnings only.
QS_API enum qs_status qs_lut_check_host(const qs_lut_t *lut, bool force, struct qs_diag *diag);

/// The table's descriptor and measurement settings.
QS_API const struct qs_lut_hw *qs_lut_descriptor(const qs_lut_t *lut);
QS_API int qs_lut_batch(const qs_lut_t *lut);
QS_API int qs_lut_entry_count(const qs_lut_t *lut);

/// Time of quantizable layer `layer` (index for qs_graph_layer_info) of `graph` run as
/// (w_bits, a_bits) with `sparsity` of pattern `pattern` (NULL = "unstructured"), at the
/// table's batch: the layer's own kernel (QLinearConv/QGemm/QLinearMatMul for 8/8, the fp32
/// op otherwise; w8a32 runs on dequantized weights, w32a8 adds the quantize/dequantize of
/// its input). The quantize/dequantize at precision boundaries between layers belong to
/// qs_lut_model_cost. Sparsity between measured points is interpolated linearly (clamped
/// at the ends). *miss_out is true when any part was estimated.
/// @retval QS_STATUS_INVALID_ARG bad layer index, bits or sparsity.
QS_API enum qs_status qs_lut_layer_cost(const qs_lut_t *lut, const qs_graph_t *graph, int layer,
                                        int w_bits, int a_bits, float sparsity,
                                        const char *pattern, double *ms_out, bool *miss_out);

/// Whole-model estimate: the sum over every node the executor would run for `policy`
/// (NULL: every layer w8a8, as qs_quantizer_apply; layers a policy does not list: fp32),
/// including the ops that are never quantized and the QuantizeLinear /
/// DequantizeLinear that lowering inserts at precision boundaries, plus what a whole run
/// adds to its nodes on the measured machine (the loop, and the interruptions a longer run
/// meets: the table's residual curve by the sum of the nodes, fitted by the build from its
/// own runs). `lookups` counts the nodes looked up and `misses` those estimated.
struct qs_lut_estimate {
    double ms;
    int lookups;
    int misses;
    /// The same sum over the entries' 10th percentiles: the estimate to compare with a
    /// best-case (p10) measurement on a machine shared with other work.
    double p10_ms;
};
/// `graph` is the optimized fp32 graph the search works on (annotations are ignored: the
/// policy decides). `batch` 0 means the table's batch; another batch than the table's makes
/// every shape a miss. Does not create a session; costs well under a millisecond per
/// hundred nodes.
/// @retval QS_STATUS_INVALID_ARG bad policy entry; QS_STATUS_NOMEM.
QS_API enum qs_status qs_lut_model_cost(const qs_lut_t *lut, const qs_graph_t *graph,
                                        const qs_policy_t *policy, int batch,
                                        struct qs_lut_estimate *estimate_out,
                                        struct qs_diag *diag);

/// Per-node detail of the last qs_lut_model_cost-style estimate, for `lut validate`:
/// calls `fn` once per predicted node with its canonical key, its time and whether it
/// missed. Same arguments and results as qs_lut_model_cost.
typedef void (*qs_lut_node_fn)(void *user, const char *node_name, const char *key, double ms,
                               bool miss);
QS_API enum qs_status qs_lut_model_cost_detail(const qs_lut_t *lut, const qs_graph_t *graph,
                                               const qs_policy_t *policy, int batch,
                                               qs_lut_node_fn fn, void *user,
                                               struct qs_lut_estimate *estimate_out,
                                               struct qs_diag *diag);

/// Canonical key of an executed node as the profiling API reports it (qsearch/ir.h,
/// struct qs_prof_node); the same string qs_lut_model_cost_detail reports. Returns the
/// length as snprintf does.
QS_API size_t qs_lut_node_key(const struct qs_prof_node *node, char *buf, size_t size);

// ---------------------------------------------------------------------------------------
// Building tables (used by `qsearch lut build`).

/// Options of qs_lut_build. Start from qs_lut_build_options_default().
struct qs_lut_build_options {
    size_t struct_size;
    const char *target;        ///< "x86" (default on x86_64), "arm" or "cuda"
    int threads;               ///< worker threads (default 1)
    int repeats;               ///< profiled runs per configuration (default 50)
    int warmup;                ///< runs before timing (default 5)
    int batch;                 ///< default 1
    const int *bits;           ///< bit widths to combine for w and a (default {8, 32})
    int n_bits;
    const float *sparsity;     ///< sparsity levels (default {0})
    int n_sparsity;
    const char *pattern;       ///< default "unstructured"
    int mixed;                 ///< random mixed policies per model and sparsity (default 4)
    uint64_t seed;             ///< of the mixed policies (default 1)
    /// Called after each configuration with done/total (for a progress bar); may be NULL.
    void (*progress)(void *user, int done, int total, const char *what);
    void *progress_user;
};
QS_API struct qs_lut_build_options qs_lut_build_options_default(void);

/// Measures the models in `models` (ONNX paths) and writes the table to `out_path`
/// (written to a temporary file and renamed after every configuration, so an interrupted
/// build leaves a valid partial table). An existing partial table with the same settings
/// is resumed: configurations it lists as done are skipped.
/// @retval QS_STATUS_INVALID_ARG bad options; QS_STATUS_INVALID_STATE an existing table with
///         other settings; statuses of loading, quantizing and running the models.
QS_API enum qs_status qs_lut_build(const char *const *models, int n_models,
                                   const struct qs_lut_build_options *options,
                                   const char *out_path, struct qs_diag *diag);

// ---------------------------------------------------------------------------------------
// Measuring candidates (used by `qsearch lut build` and `qsearch lut validate`).

/// A model prepared for timing: loaded, optimized, calibrated on synthetic inputs (timings do
/// not depend on the data; the calibration only gives every activation its parameters) and
/// with a pruner (sparse/) for the policies' sparsity.
typedef struct qs_lut_model qs_lut_model_t;
QS_API enum qs_status qs_lut_model_open(const char *onnx_path, int batch, int threads,
                                        qs_lut_model_t **model_out, struct qs_diag *diag);
QS_API void qs_lut_model_close(qs_lut_model_t *model);
/// The optimized graph (for layer names, qs_lut_model_cost). Owned by the model.
QS_API const qs_graph_t *qs_lut_model_graph(const qs_lut_model_t *model);

/// What qs_lut_validate_policy measured and predicted for one candidate.
struct qs_lut_measurement {
    double measured_ms;  ///< median of the plain runs (qs_session_run)
    double p10_ms, p90_ms;
    int runs;
    double predicted_ms; ///< qs_lut_model_cost
    double predicted_p10_ms;  ///< its p10_ms
    int lookups, misses;
};
/// Per node: measured (median of profiled runs; -1 when the session does not run a node of
/// that name) and predicted (-1 when the estimate has no node of that name).
typedef void (*qs_lut_compare_fn)(void *user, const char *node, const char *key,
                                  double measured_ms, double predicted_ms, bool miss);
/// Runs `model` under `policy` (NULL: every layer w8a8), pinned, after warm-up: `repeats`
/// plain runs for the total and `repeats` profiled runs for the per-node times, and
/// compares them with the table's estimate. `fn` may be NULL.
QS_API enum qs_status qs_lut_validate_policy(const qs_lut_t *lut, qs_lut_model_t *model,
                                             const qs_policy_t *policy, int repeats,
                                             qs_lut_compare_fn fn, void *user,
                                             struct qs_lut_measurement *out,
                                             struct qs_diag *diag);

#ifdef __cplusplus
}
#endif
