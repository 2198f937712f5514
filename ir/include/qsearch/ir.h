// qsearch/ir.h: the graph IR, ONNX import/export, graph passes and the executor.
//
// Overview
//   qs_graph_t holds an ONNX model as tensors and nodes in topological order, owned by the
//   graph. Shapes are inferred at load time with every symbolic dimension bound to 1 (the
//   batch of a classifier); a session binds the real batch and re-infers.
//
//       struct qs_diag diag;
//       qs_graph_t *g;
//       if (qs_graph_load_onnx("m.onnx", &g, &diag) != QS_STATUS_OK) puts(diag.msg);
//       qs_graph_optimize(g, QS_PASS_DEFAULT, &diag);
//       struct qs_session_options so = qs_session_options_default();
//       so.batch = 32;
//       qs_session_t *s;
//       qs_session_create(g, &so, &s, &diag);
//       float *x = qs_session_input_data(s, 0);      // fill 32 samples
//       qs_session_run(s, &diag);
//       const float *y = qs_session_output_data(s, 0);
//       qs_session_destroy(s);
//       qs_graph_destroy(g);
//
//   A session plans every activation buffer once; qs_session_run never allocates.
#pragma once

#include "qsearch/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qs_graph qs_graph_t;
typedef struct qs_session qs_session_t;

/// Shape and type of a graph input/output or of any tensor. dims[i] < 0 means symbolic
/// (only for graph inputs/outputs as declared in the file; inferred shapes bind them to 1).
struct qs_tensor_info {
    const char *name;  ///< Owned by the graph; valid until the graph is destroyed.
    int id;            ///< index of the tensor in its graph (stable until the graph changes)
    enum qs_dtype dtype;
    int rank;
    int64_t dims[QS_MAX_RANK];
};

/// Loads an ONNX model (opsets 7..21, default domain). External-data initializers are read
/// from files beside the model. Fails with QS_STATUS_IO (missing/unreadable file),
/// QS_STATUS_PARSE (not an ONNX model, truncated, dangling tensor names, bad attributes),
/// QS_STATUS_UNSUPPORTED (the message lists every unsupported op with its node names) or
/// QS_STATUS_NOMEM. On success the graph has inferred shapes. `diag` may be NULL.
QS_API enum qs_status qs_graph_load_onnx(const char *path, qs_graph_t **graph_out,
                                         struct qs_diag *diag);
/// Same as qs_graph_load_onnx from a serialized ModelProto. `name` is used in messages and
/// `base_dir` (may be NULL) to resolve external data. The buffer is not kept.
QS_API enum qs_status qs_graph_load_onnx_buffer(const void *data, size_t size,
                                                const char *name, const char *base_dir,
                                                qs_graph_t **graph_out,
                                                struct qs_diag *diag);
/// Writes the graph as an ONNX ModelProto with every initializer embedded (raw_data). The
/// file is written to a temporary name and renamed, so a failure leaves no partial file.
QS_API enum qs_status qs_graph_save_onnx(const qs_graph_t *graph, const char *path,
                                         struct qs_diag *diag);
/// Frees the graph and everything it owns. NULL is a no-op.
QS_API void qs_graph_destroy(qs_graph_t *graph);

/// Graph passes, as flags for qs_graph_optimize.
enum qs_pass {
    QS_PASS_FOLD_CONSTANTS = 1u << 0,   ///< evaluate nodes whose inputs are all constant
    QS_PASS_REMOVE_IDENTITY = 1u << 1,  ///< Identity and inference-mode Dropout
    QS_PASS_FOLD_BATCHNORM = 1u << 2,   ///< BatchNormalization into the Conv/Gemm before it
    QS_PASS_FUSE_ACTIVATION = 1u << 3,  ///< Relu/Clip into the Conv/Gemm/MatMul before it
    QS_PASS_ELIMINATE_DEAD = 1u << 4,   ///< nodes and initializers no output depends on
    QS_PASS_DEFAULT = 0x1f,
};
/// Runs the passes in `passes` (enum qs_pass flags) in a fixed order and re-infers shapes.
/// Outputs are unchanged up to float rounding (BatchNorm folding changes rounding).
QS_API enum qs_status qs_graph_optimize(qs_graph_t *graph, uint32_t passes,
                                        struct qs_diag *diag);

QS_API int qs_graph_opset(const qs_graph_t *graph);
QS_API int qs_graph_input_count(const qs_graph_t *graph);
QS_API int qs_graph_output_count(const qs_graph_t *graph);
/// Declared shape of graph input/output `i` (symbolic dims < 0). Returns INVALID_ARG for a
/// bad index.
QS_API enum qs_status qs_graph_input_info(const qs_graph_t *graph, int i,
                                          struct qs_tensor_info *info_out);
QS_API enum qs_status qs_graph_output_info(const qs_graph_t *graph, int i,
                                           struct qs_tensor_info *info_out);

/// One node as `qsearch inspect` shows it: shapes are those inferred at batch 1.
struct qs_node_info {
    const char *name;     ///< Owned by the graph.
    const char *op_type;  ///< ONNX op type, owned by the graph.
    int n_inputs, n_outputs;
    struct qs_tensor_info inputs[4];   ///< the first min(n_inputs, 4)
    struct qs_tensor_info outputs[2];  ///< the first min(n_outputs, 2)
    int64_t params;  ///< elements of constant inputs (weights, biases)
    int64_t flops;   ///< floating-point operations at batch 1 (multiply-add = 2)
    const char *fused_activation;  ///< "Relu", "Clip" or NULL
};
QS_API int qs_graph_node_count(const qs_graph_t *graph);
QS_API enum qs_status qs_graph_node_info(const qs_graph_t *graph, int i,
                                         struct qs_node_info *info_out);

/// Number of tensors (ids run from 0) and the shape (at batch 1) and constant data of one:
/// data is the initializer's (owned by the graph) or NULL for activations. INVALID_ARG for
/// a bad id.
QS_API int qs_graph_tensor_count(const qs_graph_t *graph);
QS_API enum qs_status qs_graph_tensor(const qs_graph_t *graph, int tensor_id,
                                      struct qs_tensor_info *info_out, const void **data_out);

/// Quantizable layers (Conv, Gemm, MatMul with a constant operand) and the features the
/// search agents embed.
enum qs_layer_kind { QS_LAYER_CONV = 0, QS_LAYER_GEMM = 1, QS_LAYER_MATMUL = 2 };
struct qs_layer_info {
    int node;  ///< index for qs_graph_node_info
    const char *name;
    enum qs_layer_kind kind;
    bool depthwise;
    int64_t c_in, c_out;     ///< input/output channels (features for Gemm/MatMul)
    int64_t kernel_h, kernel_w, stride_h, stride_w;  ///< 1 for Gemm/MatMul
    int64_t groups;
    int64_t in_h, in_w;      ///< input feature map (Gemm: 1x1; MatMul: rows x 1)
    int64_t out_h, out_w;
    int64_t params;          ///< weight + bias elements
    int64_t flops;           ///< at batch 1
    int w_axis;              ///< axis of the output channels in the weight tensor
};
QS_API int qs_graph_layer_count(const qs_graph_t *graph);
QS_API enum qs_status qs_graph_layer_info(const qs_graph_t *graph, int i,
                                          struct qs_layer_info *info_out);

/// Per-layer precision and sparsity: what the search proposes and what quant/ and sparse/
/// apply. It lives here, below both, because both read it. A layer not listed stays fp32
/// and dense.
struct qs_layer_policy {
    int w_bits;        ///< 8 or 32
    int a_bits;        ///< 8 or 32
    float sparsity;    ///< fraction of weights pruned, 0 .. 0.95
    char pattern[16];  ///< "unstructured" (default), "2:4", "4:8", "block1x4", ...
};
/// True for the patterns policies accept: "unstructured", "channel", "N:M" (0 < N < M <=
/// 16) and "blockRxC" (R*C <= 4096).
QS_API bool qs_policy_pattern_valid(const char *pattern);
/// w_bits = a_bits = 32, sparsity 0, pattern "unstructured".
QS_API struct qs_layer_policy qs_layer_policy_default(void);

typedef struct qs_policy qs_policy_t;
QS_API enum qs_status qs_policy_create(qs_policy_t **policy_out);
QS_API void qs_policy_destroy(qs_policy_t *policy);
/// Adds or replaces the entry of `layer` (a node name; copied). INVALID_ARG for values out
/// of range (bits other than 8/32, sparsity outside [0, 0.95], unknown pattern).
QS_API enum qs_status qs_policy_set(qs_policy_t *policy, const char *layer,
                                    const struct qs_layer_policy *lp, struct qs_diag *diag);
/// The entry of `layer`, or NULL when the layer is not listed. Owned by the policy.
QS_API const struct qs_layer_policy *qs_policy_get(const qs_policy_t *policy, const char *layer);
QS_API int qs_policy_count(const qs_policy_t *policy);
/// Entry i in insertion order; name and lp owned by the policy. INVALID_ARG for a bad i.
QS_API enum qs_status qs_policy_entry(const qs_policy_t *policy, int i, const char **name_out,
                                      const struct qs_layer_policy **lp_out);
/// Reads a policy file (YAML or JSON):
///     layers:
///       conv1: {w_bits: 8, a_bits: 8}
///       fc:    {w_bits: 8, a_bits: 32, sparsity: 0.5, pattern: "2:4"}
/// Keys left out take their defaults. Errors (IO, PARSE) name the file, line and column.
QS_API enum qs_status qs_policy_load(const char *path, qs_policy_t **policy_out,
                                     struct qs_diag *diag);
/// Writes the policy in the format above (temporary file + rename).
QS_API enum qs_status qs_policy_save(const qs_policy_t *policy, const char *path,
                                     struct qs_diag *diag);
/// Checks that every listed name is a quantizable layer of `graph` (qs_graph_layer_info);
/// PARSE naming the first unknown layer otherwise.
QS_API enum qs_status qs_policy_check(const qs_policy_t *policy, const qs_graph_t *graph,
                                      struct qs_diag *diag);

/// Weights of one layer: the data it runs with now and the data as loaded (and optimized).
struct qs_layer_weights {
    int w_tensor, b_tensor;        ///< tensor ids; b_tensor is -1 when the layer has no bias
    int64_t w_numel, b_numel;
    const float *w, *b;            ///< current data (the file's, or an override)
    const float *w_file, *b_file;  ///< the graph's own data
};
/// INVALID_ARG for a bad index, UNSUPPORTED when the weights are not constant float32.
QS_API enum qs_status qs_graph_layer_weights(const qs_graph_t *graph, int layer,
                                             struct qs_layer_weights *out, struct qs_diag *diag);
/// Makes layer `layer` run with `w` (w_numel floats, same layout as the file's weight) and
/// `b` (b_numel floats) instead of its own constants: sparse/ sets pruned or reconstructed
/// weights, bias correction a corrected bias. NULL restores the graph's own. The arrays are
/// borrowed and must stay alive and unchanged while set; sessions, calibration, quant/ and
/// the ONNX export all read them. Set overrides after qs_graph_optimize (which restores the
/// graph's own data first) and before creating sessions. INVALID_ARG when `b` is given for
/// a layer without bias; UNSUPPORTED when the layer's weight tensor is shared with another
/// node (it would change both).
QS_API enum qs_status qs_graph_set_layer_weights(qs_graph_t *graph, int layer, const float *w,
                                                 const float *b, struct qs_diag *diag);
/// Every layer back to the graph's own weights and biases.
QS_API void qs_graph_restore_weights(qs_graph_t *graph);

/// Quantization of one activation tensor (set by quant/ from calibration): real value =
/// (q - zero_point) * scale, q stored as dtype (QS_DTYPE_U8, or QS_DTYPE_I8 for symmetric).
struct qs_tensor_qparams {
    float scale;
    int32_t zero_point;
    enum qs_dtype dtype;
};
/// Sets or replaces the quantization parameters of tensor `tensor_id`. INVALID_ARG for a
/// bad id, a non-finite or non-positive scale, or a zero point outside the dtype's range.
QS_API enum qs_status qs_graph_set_tensor_qparams(qs_graph_t *graph, int tensor_id,
                                                  const struct qs_tensor_qparams *q,
                                                  struct qs_diag *diag);
/// The parameters of tensor `tensor_id`, or NULL when it has none.
QS_API const struct qs_tensor_qparams *qs_graph_tensor_qparams(const qs_graph_t *graph, int tensor_id);

/// How one quantizable layer runs. Arrays are borrowed: the caller (quant/'s weight cache)
/// keeps them alive and unchanged for as long as the graph, and every session or export
/// made from it, exists.
struct qs_layer_quant {
    int w_bits, a_bits;         ///< 8 or 32 each; 32/32 = plain fp32
    const int8_t *weights;      ///< w_bits 8: int8 weights, same shape as the fp32 weight
    const float *w_scales;      ///< w_bits 8: per output channel ([c_out]) or per tensor ([1])
    int w_scale_count;          ///< c_out or 1
    const int32_t *bias;        ///< w8a8: int32 bias round(b / (s_x * s_w[n])) or NULL
    const void *packed;         ///< w8a8: kernel-packed weights (qs_qgemm_weights) or NULL
};
/// Annotates layer `layer` (an index for qs_graph_layer_info). A w8a8 layer needs
/// qparams on its input and output tensors by the time a session is created.
QS_API enum qs_status qs_graph_set_layer_quant(qs_graph_t *graph, int layer,
                                               const struct qs_layer_quant *lq,
                                               struct qs_diag *diag);
/// Drops every layer annotation and tensor qparams (the graph is plain fp32 again).
QS_API void qs_graph_clear_quant(qs_graph_t *graph);
/// True when any layer is annotated with 8 bits: sessions then run the integer form (int8
/// layers on integer kernels, quantize/dequantize only at precision boundaries), and
/// qs_graph_save_onnx writes the standard QDQ form.
QS_API bool qs_graph_is_quantized(const qs_graph_t *graph);

/// Session options. Start from qs_session_options_default().
struct qs_session_options {
    size_t struct_size;
    int batch;    ///< binds dim 0 of every input whose dim 0 is symbolic or 1; 0 = as declared
    int threads;  ///< worker threads (and OpenBLAS threads); 1 = single thread
    /// Run an fp32 Conv and the residual Add (and Relu) after it as one node (default
    /// true; QS_FUSE_ADD=0 in the environment turns it off for every session).
    bool fuse_add;
};
QS_API struct qs_session_options qs_session_options_default(void);

/// Compiles `graph` for execution: binds the batch, re-infers shapes, folds constants,
/// prepares every node (weights packed) and plans all activation buffers in one arena.
/// The graph must outlive the session and must not change while it exists.
/// Fails with PARSE/UNSUPPORTED when the graph cannot take the requested batch (for
/// example a Reshape to a constant shape of batch 1), or NOMEM.
QS_API enum qs_status qs_session_create(qs_graph_t *graph,
                                        const struct qs_session_options *options,
                                        qs_session_t **session_out, struct qs_diag *diag);
QS_API void qs_session_destroy(qs_session_t *session);
/// Shape of input/output `i` as bound in this session (no symbolic dims).
QS_API enum qs_status qs_session_input_info(const qs_session_t *s, int i,
                                            struct qs_tensor_info *info_out);
QS_API enum qs_status qs_session_output_info(const qs_session_t *s, int i,
                                             struct qs_tensor_info *info_out);
/// The buffer of input `i` (owned by the session, valid until it is destroyed): write the
/// input here before qs_session_run. NULL for a bad index.
QS_API void *qs_session_input_data(qs_session_t *s, int i);
/// Output `i` of the last run (owned by the session, overwritten by the next run).
QS_API const void *qs_session_output_data(const qs_session_t *s, int i);
/// Runs the graph once. Does not allocate. Fails only on data errors that shapes cannot
/// catch (for example a Gather index out of range), with QS_STATUS_INVALID_ARG.
QS_API enum qs_status qs_session_run(qs_session_t *s, struct qs_diag *diag);
/// Called by qs_session_run for every graph input (before the first node) and for every
/// output of every node right after it ran, with the bound shape and the data (valid only
/// during the call). Calibration uses it to observe each activation once per run.
typedef void (*qs_session_observer)(void *user, const struct qs_tensor_info *info,
                                    const void *data);
/// Installs (or, with fn NULL, removes) the observer of `s`. Not thread-safe with a run.
QS_API void qs_session_set_observer(qs_session_t *s, qs_session_observer fn, void *user);
/// Bytes of the activation arena and of packed/folded constants, for reports.
QS_API size_t qs_session_arena_bytes(const qs_session_t *s);

// =======================================================================================
// Profiling: the nodes a session really executes, timed one by one (latency tables).
// =======================================================================================

/// Most inputs/outputs described per node (QLinearConcat has 2 + 3 per input).
#define QS_PROF_MAX_IO 8
/// One node as executed (after quantization lowering, fusion and constant folding), or a
/// graph node with qs_graph_node_prof_info (shapes at batch 1).
struct qs_prof_node {
    const char *name;     ///< owned by the (session's) graph
    const char *op_type;  ///< executed op: "QLinearConv", "Conv", "QuantizeLinear", ...
    /// Index for qs_graph_layer_info of the graph the session was created from when this
    /// node runs a quantizable layer (int8 or fp32), else -1.
    int layer;
    int n_inputs, n_outputs;  ///< real counts; the arrays hold the first QS_PROF_MAX_IO
    struct qs_tensor_info inputs[QS_PROF_MAX_IO];  ///< name NULL for an absent input
    bool input_const[QS_PROF_MAX_IO];  ///< constant (weights, scales, folded values)
    struct qs_tensor_info outputs[2];
    bool has_window;      ///< Conv/pool-like op: the attributes below are meaningful
    int64_t kernel[2], stride[2], pads[4], dilation[2];  ///< 2-D (1-D ops: [1] = 1)
    int64_t group;
    /// "Relu", "Clip", NULL, or in sessions "Add" / "Add+Relu": a Conv with the residual
    /// Add (and the Relu after it) fused; its 4th input is the Add's other operand.
    const char *fused_activation;
    /// Fraction of zero weights of a layer node as the session runs it (int8 weights for
    /// QLinear ops); 0 for other nodes and in qs_graph_node_prof_info (which stays cheap).
    float weight_sparsity;
    int w_bits, a_bits;     ///< the layer's precision (32 for fp32 and non-layer ops)
};
/// Graph node `i` (index for qs_graph_node_info) described as above, shapes at batch 1;
/// layer is the node's layer index in this graph, bits from its annotation.
QS_API enum qs_status qs_graph_node_prof_info(const qs_graph_t *graph, int i,
                                              struct qs_prof_node *info_out);
/// Number of nodes a run of `s` executes, in execution order.
QS_API int qs_session_exec_count(const qs_session_t *s);
/// Executed node `i` with the shapes bound in this session. INVALID_ARG for a bad index.
QS_API enum qs_status qs_session_exec_info(const qs_session_t *s, int i,
                                           struct qs_prof_node *info_out);
/// Runs `s` once like qs_session_run (same results, observer included, no allocation)
/// and writes the wall time of each executed node in nanoseconds to ns_out[0 ..
/// qs_session_exec_count(s)) and, when total_ns_out is not NULL, of the whole run.
QS_API enum qs_status qs_session_run_profiled(qs_session_t *s, int64_t *ns_out,
                                              int64_t *total_ns_out, struct qs_diag *diag);

#ifdef __cplusplus
}
#endif
