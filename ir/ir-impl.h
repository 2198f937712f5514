// Internals of ir/: graph structures, the operator interface and helpers for op files.
// Only files inside ir/ (and tests) include this.
#pragma once

#include "qsearch/ir.h"
#include "kernels/internal.h"

#include <string.h>

// ---------------------------------------------------------------------------------------
// Operators. Each family file (ir/ops/<family>.def) lists QS_OP(ENUM, "OnnxName", sym)
// rows; ir/ops/<family>.c defines `const struct qs_op_def qs__opdef_<sym>`.

enum qs_op {
    QS_OP_UNKNOWN = 0,
#define QS_OP(id, name, sym) QS_OP_##id,
#include "ir/ops.def"
#undef QS_OP
    QS_OP_COUNT
};

// A tensor as one shape-inference or execution pass sees it. The graph keeps one per
// tensor (batch 1); each session keeps its own.
typedef struct qs_view {
    enum qs_dtype dtype;
    int rank;
    int64_t dims[QS_MAX_RANK];
    int64_t numel;
    void *data;     // constant data (is_const) or the planned buffer (session, at run)
    bool is_const;  // data holds the value already at inference time
} qs_view;

static inline int64_t qs__numel(int rank, const int64_t *dims) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    return n;
}
static inline void qs__view_set_shape(qs_view *v, enum qs_dtype dt, int rank, const int64_t *dims) {
    v->dtype = dt;
    v->rank = rank;
    for (int i = 0; i < rank; i++) v->dims[i] = dims[i];
    v->numel = qs__numel(rank, dims);
}
static inline size_t qs__view_bytes(const qs_view *v) {
    return (size_t)v->numel * qs_dtype_size(v->dtype);
}

enum qs_attr_type {
    QS_ATTR_FLOAT = 1, QS_ATTR_INT = 2, QS_ATTR_STRING = 3, QS_ATTR_TENSOR = 4,
    QS_ATTR_GRAPH = 5, QS_ATTR_FLOATS = 6, QS_ATTR_INTS = 7, QS_ATTR_STRINGS = 8,
};  // values are ONNX AttributeProto.AttributeType codes

struct qs_tensor;
struct qs_attr {
    const char *name;
    enum qs_attr_type type;
    float f;
    int64_t i;
    const char *s;          // STRING (NUL-terminated; s_len bytes)
    size_t s_len;
    struct qs_tensor *t;    // TENSOR (not registered in the graph's tensor list)
    int n;                  // FLOATS/INTS/STRINGS count
    float *floats;
    int64_t *ints;
    char **strings;
};

enum qs_act_kind { QS_ACT_NONE = 0, QS_ACT_RELU = 1, QS_ACT_CLIP = 2 };
// Activation fused into a Conv/Gemm/MatMul by the fusion pass: out = clamp(out, lo, hi).
struct qs_fused_act {
    enum qs_act_kind kind;
    float lo, hi;
};

// Per-node precision/sparsity annotation, set by quant/ and sparse/ (32 = fp32). On a
// lowered (integer) graph's nodes only `packed` is used: prepacked weights for the op.
struct qs_annot {
    int w_bits, a_bits;
    float sparsity;
    struct qs_layer_quant q;  // w_bits/a_bits mirror the fields above
    const void *packed;       // owned by the module that set it
};

typedef struct qs_tensor {
    char *name;
    int id;                  // index in graph->tensors
    qs_view v;               // dtype, shape at batch 1, constant data
    bool owns_data;          // v.data (or file_data) was allocated by the graph
    void *file_data;         // non-NULL while qs_graph_set_layer_weights overrides v.data:
                             // the graph's own data, restored by qs_graph_restore_weights
    bool is_initializer;     // a constant from the file or a folded result
    bool is_input, is_output;
    int64_t decl_dims[QS_MAX_RANK];  // graph inputs/outputs: as declared (-1 = symbolic)
    int decl_rank;                   // -1 when the file declares no shape
    char *dim_param[QS_MAX_RANK];    // names of symbolic dims (for export)
    int producer;            // node index, -1 for inputs/initializers
    bool has_q;              // activation quantization parameters from calibration
    struct qs_tensor_qparams q;
} qs_tensor;

typedef struct qs_node {
    char *name;
    char *op_type;
    char *domain;            // "" for the default domain
    enum qs_op op;
    int opset;               // opset version of its domain
    int n_inputs, n_outputs;
    qs_tensor **inputs;      // inputs[i] == NULL: optional input left empty
    qs_tensor **outputs;
    int n_attrs;
    struct qs_attr *attrs;
    struct qs_fused_act act;
    struct qs_annot annot;
    char *doc;               // doc_string, kept for export
} qs_node;

// Arena: bump allocation of small objects (names, node arrays, attrs) owned by a graph.
typedef struct qs_arena_block {
    struct qs_arena_block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
} qs_arena_block;
typedef struct qs_arena {
    qs_arena_block *head;
    size_t total;
} qs_arena;
QS_INTERNAL void *qs__arena_alloc(qs_arena *a, size_t size);   // zeroed, 16-aligned
QS_INTERNAL char *qs__arena_strdup(qs_arena *a, const char *s);
QS_INTERNAL char *qs__arena_strndup(qs_arena *a, const char *s, size_t n);
QS_INTERNAL void qs__arena_free(qs_arena *a);

// Name -> tensor map (open addressing).
typedef struct qs_namemap {
    size_t cap, count;
    qs_tensor **slots;
} qs_namemap;

struct qs_graph {
    qs_arena arena;
    char *path;               // for messages
    int opset;                // default domain
    int64_t ir_version;
    char *producer_name, *producer_version, *graph_name;
    int n_tensors, cap_tensors;
    qs_tensor **tensors;
    int n_nodes, cap_nodes;
    qs_node **nodes;          // topological order
    int n_inputs, n_outputs;
    qs_tensor **inputs;       // real inputs only (initializers excluded)
    qs_tensor **outputs;
    qs_namemap names;
    int n_opsets;             // opset_import entries (for export)
    char **opset_domains;
    int64_t *opset_versions;
};

/// qs_graph_load_onnx, optionally without shape inference (for callers that bind some
/// inputs as constants before inferring, such as the conformance runner).
QS_INTERNAL enum qs_status qs__graph_load_onnx_file(const char *path, bool infer,
                                                    qs_graph_t **graph_out, struct qs_diag *diag);

// Tensors and nodes.
QS_INTERNAL enum qs_status qs__graph_create(qs_graph_t **g_out);
QS_INTERNAL qs_tensor *qs__graph_find(const qs_graph_t *g, const char *name);
/// Creates a tensor with a unique name (`name`, or `name_N` when taken).
QS_INTERNAL qs_tensor *qs__graph_add_tensor(qs_graph_t *g, const char *name);
QS_INTERNAL qs_node *qs__graph_add_node(qs_graph_t *g, const char *name, const char *op_type,
                                        int n_inputs, int n_outputs);
/// Recomputes producers and sorts nodes topologically; fails on cycles.
QS_INTERNAL enum qs_status qs__graph_toposort(qs_graph_t *g, struct qs_diag *diag);
/// Drops nodes flagged in `dead` (array of n_nodes bools) and tensors nothing uses.
QS_INTERNAL void qs__graph_remove_nodes(qs_graph_t *g, const bool *dead);
/// Replaces every use of `from` by `to` (node inputs and graph outputs).
QS_INTERNAL void qs__graph_replace_uses(qs_graph_t *g, qs_tensor *from, qs_tensor *to);
/// Number of node inputs (and graph outputs) that read `t`.
QS_INTERNAL int qs__graph_use_count(const qs_graph_t *g, const qs_tensor *t);
// The public description of tensor t as bound in view v (session or profile).
QS_INTERNAL void qs__view_info(const qs_view *v, const qs_tensor *t, struct qs_tensor_info *info);
QS_INTERNAL enum qs_op qs__op_lookup(const char *domain, const char *op_type);

// Attributes (defaults when absent).
QS_INTERNAL const struct qs_attr *qs__attr(const qs_node *n, const char *name);
QS_INTERNAL int64_t qs__attr_i(const qs_node *n, const char *name, int64_t def);
QS_INTERNAL float qs__attr_f(const qs_node *n, const char *name, float def);
QS_INTERNAL const char *qs__attr_s(const qs_node *n, const char *name, const char *def);
/// INTS attribute: count in *n_out (0 and NULL when absent).
QS_INTERNAL const int64_t *qs__attr_ints(const qs_node *n, const char *name, int *n_out);
QS_INTERNAL const float *qs__attr_floats(const qs_node *n, const char *name, int *n_out);

// ---------------------------------------------------------------------------------------
// The operator interface.

// What an op function sees. in[i] is NULL for an absent optional input.
typedef struct qs_kctx {
    const qs_node *node;
    int n_in, n_out;
    qs_view *const *in;
    qs_view *const *out;
    struct qs_diag *diag;   // infer/prepare: where to explain a failure
    // infer: only shapes and types are wanted (the graph-level pass of a loaded model), so
    // ops may accept types they cannot execute, such as float16 weights in a Conv.
    bool shapes_only;
    void *state;            // set by prepare, seen by run and release
    void *scratch;          // run: 64-byte aligned, scratch_bytes from prepare
    qs_pool_t *pool;        // run: worker pool or NULL
    // infer: allocates a constant output buffer owned by the caller (for ops such as
    // Shape or Constant that know their value at inference time).
    void *(*alloc_const)(struct qs_kctx *k, size_t bytes);
    void *alloc_ctx;
} qs_kctx;

struct qs_op_def {
    const char *name;
    int min_inputs, max_inputs;     // max -1: variadic
    int min_outputs, max_outputs;
    /// Sets out[i] dtype and shape (qs__view_set_shape). May set out[i]->data +
    /// is_const through alloc_const when the value is known without running (Shape).
    /// Ops whose output shape depends on input values require those inputs constant.
    enum qs_status (*infer)(qs_kctx *k);
    /// Optional. Shapes are final and constant inputs have data; may set k->state
    /// (allocated with qs__malloc/qs__aligned_alloc, freed by release) and
    /// *scratch_bytes. Called once per session.
    enum qs_status (*prepare)(qs_kctx *k, size_t *scratch_bytes);
    /// Computes out[i]->data from in[i]->data. Must not allocate.
    enum qs_status (*run)(qs_kctx *k);
    void (*release)(void *state);
    /// Output 0 may share input 0's buffer (Reshape, Identity...): run is then a no-op
    /// when the planner aliases them, and must copy otherwise.
    bool alias_input0;
};

#define QS_OP(id, name, sym) extern const struct qs_op_def qs__opdef_##sym;
#include "ir/ops.def"
#undef QS_OP
QS_INTERNAL const struct qs_op_def *qs__op_def(enum qs_op op);
QS_INTERNAL const char *qs__op_name(enum qs_op op);

// Error helper for op files: "node 'conv1' (Conv): <message>".
#define QS_NODE_ERR(k, status, ...) qs__node_err((k), (status), __VA_ARGS__)
QS_INTERNAL enum qs_status qs__node_err(const qs_kctx *k, enum qs_status status,
                                        const char *fmt, ...) QS_PRINTF(3, 4);

// Reads element i of an integer/float constant view as int64/double (any numeric dtype).
QS_INTERNAL int64_t qs__view_get_i64(const qs_view *v, int64_t i);
QS_INTERNAL double qs__view_get_f64(const qs_view *v, int64_t i);
/// Numpy-style broadcast of two shapes into out (rank = max). Fails when incompatible.
QS_INTERNAL bool qs__broadcast_shape(int ra, const int64_t *a, int rb, const int64_t *b,
                                     int *r_out, int64_t *out);

// ---------------------------------------------------------------------------------------
// Inference driver and session internals.

// Runs shape inference (and constant folding of nodes whose inputs are all constant)
// over the whole graph. views[t] must hold graph inputs' shapes and initializers; the
// rest are filled. Folded/const buffers are allocated with alloc(ctx, bytes) and must be
// freed by the caller. fold[n] (may be NULL) is set true for nodes evaluated.
QS_INTERNAL enum qs_status qs__infer_graph(const qs_graph_t *g, qs_view *views, bool *fold,
                                           void *(*alloc)(void *ctx, size_t bytes),
                                           void *alloc_ctx, struct qs_diag *diag);
/// qs__infer_graph with k->shapes_only set for every node.
QS_INTERNAL enum qs_status qs__infer_graph_shapes_only(const qs_graph_t *g, qs_view *views,
                                                       void *(*alloc)(void *ctx, size_t bytes),
                                                       void *alloc_ctx, struct qs_diag *diag);
/// Infers shapes at batch 1 into the graph's own tensor views (dropping folded data).
QS_INTERNAL enum qs_status qs__graph_infer_shapes(qs_graph_t *g, struct qs_diag *diag);
/// The integer form of a quantized graph, as a new graph of standard ONNX (and onnxruntime
/// contrib) operators: QuantizeLinear/DequantizeLinear at precision boundaries,
/// QLinearConv/QLinearMatMul/QGemm for w8a8 layers (with node->annot.packed prepacked
/// weights), QLinearAdd/QLinearConcat/QLinearGlobalAveragePool and byte-moving ops on uint8
/// between them. Initializers of `g` are borrowed: `g` must outlive the result.
QS_INTERNAL enum qs_status qs__graph_lower_quant(const qs_graph_t *g, qs_graph_t **out,
                                                 struct qs_diag *diag);
/// The QDQ form of a quantized graph for export: the fp32 graph with QuantizeLinear +
/// DequantizeLinear pairs on every quantized activation and DequantizeLinear on int8
/// weights and int32 biases. Borrows from `g` like qs__graph_lower_quant.
QS_INTERNAL enum qs_status qs__graph_lower_qdq(const qs_graph_t *g, qs_graph_t **out,
                                               struct qs_diag *diag);
/// Floating-point operations of node i at the graph's inferred shapes.
QS_INTERNAL int64_t qs__node_flops(const qs_graph_t *g, const qs_node *n);

/// A residual Add (and the Relu after it) that a session fuses into the fp32 Conv before
/// it: out = act(conv(x) + b + sum) in one node (ir/ops/conv.c takes `sum` as a 4th input).
/// The fusion exists only in sessions: graphs (and so export, calibration and quantization
/// annotations) keep the separate nodes.
struct qs__residual_fusion {
    int conv, add, relu;  // node indices; relu -1 when the Add's output is not fused further
    qs_tensor *sum;       // the Add's other operand
    qs_tensor *out;       // what the fused node writes: the Relu's output, or the Add's
};
/// Whether node `i` of `g` (a graph a session runs; `views` its tensors as bound there) is
/// an fp32 Conv without fused activation whose output is read only by an Add, whose other
/// operand is a non-constant fp32 tensor of exactly the Conv output's shape; a Relu that
/// alone reads the Add's output (not a graph output) is taken too. Fills `f` when it is.
QS_INTERNAL bool qs__match_residual_add(const qs_graph_t *g, const qs_view *views, int i,
                                        struct qs__residual_fusion *f);

/// What a session runs, for ir/profile.c (per-node profiling and descriptions), which runs
/// the same nodes with a timer around each.
struct qs__session_parts {
    const qs_graph_t *src;
    qs_kctx *exec;
    const struct qs_op_def *const *defs;
    int n_exec;
    qs_session_observer observer;
    void *observer_user;
};
QS_INTERNAL struct qs__session_parts qs__session_parts(const qs_session_t *s);
/// Runs executed node `e`: a fused Conv + Add (+ Relu) as its separate nodes while an
/// observer is installed (so that it sees every tensor), else the node itself. Those
/// separate nodes are observed as they run (they share buffers).
QS_INTERNAL enum qs_status qs__session_run_exec(qs_session_t *s, int e, struct qs_diag *diag);
/// Calls the observer (which must be set) with the outputs of node `e` after
/// qs__session_run_exec, unless that observed them already.
QS_INTERNAL void qs__session_observe_exec(const qs_session_t *s, int e);
