// Internal header of sparse/ (never installed): the weight view of a layer and helpers
// shared by the pruning, reconstruction and accounting files.
#pragma once

#include "kernels/internal.h"
#include "qsearch/sparse.h"

/// A layer's weight seen as W[m][k] (see qsearch/sparse.h, "Weight view").
struct qs__wview {
    int64_t m, k;
    bool transposed;  ///< the file holds W^T ([k][m]: Gemm without transB, MatMul B)
};
/// The view of layer `layer`, or UNSUPPORTED (batched constant, constant MatMul A, ...).
QS_INTERNAL enum qs_status qs__sparse_wview(const qs_graph_t *g, int layer,
                                            struct qs__wview *v, struct qs_diag *diag);
/// File layout <-> W[m][k] (row-major).
QS_INTERNAL void qs__sparse_to_rows(const struct qs__wview *v, const float *file, float *w);
QS_INTERNAL void qs__sparse_from_rows(const struct qs__wview *v, const float *w, float *file);

/// round(x) for the counts of the overview: nearest, ties up, as int64.
QS_INTERNAL int64_t qs__sparse_count(double sparsity, int64_t n);
/// Sort key of a non-negative score and an index: ascending score, ties by index.
static inline uint64_t qs__sparse_key(float score, uint32_t idx) {
    union { float f; uint32_t u; } c = {score};
    return ((uint64_t)c.u << 32) | idx;
}
QS_INTERNAL void qs__sparse_sort_keys(uint64_t *keys, size_t n);
/// Least-squares refit of W[m][k] in place: W <- W C (H + d I)^-1, the dense weights that
/// best reproduce the dense model's outputs (inputs x_dense, C = sum x_dense x^T) from this
/// model's inputs x (H = sum x x^T); d = damp * mean(diag H).
QS_INTERNAL enum qs_status qs__sparse_fit_dense(float *w, int64_t m, int64_t k, const double *c,
                                                const double *h, float damp,
                                                struct qs_diag *diag);
