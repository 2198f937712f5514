// Helpers shared by the shape and data-movement ops (ir/ops/shape*.c, movement.c,
// resize.c): a strided N-d copy that turns contiguous runs into memcpy, fills, reading
// constant integer inputs, and axis normalization. Only those files include this.
#pragma once

#include "ir/ir-impl.h"

// A strided copy may need two dims per tensor axis (Tile, DepthToSpace) plus a spare.
#define QS_COPY_MAX_DIMS (2 * QS_MAX_RANK + 2)

// dst[sum_k i_k * dst_stride[k]] = src[sum_k i_k * src_stride[k]] for every index i in
// dims. Strides are in elements; source strides may be 0 (broadcast) or negative (reversed
// slices). Destination positions must not overlap.
typedef struct qs_copy_desc {
    int rank;
    size_t esize;
    int64_t dims[QS_COPY_MAX_DIMS];
    int64_t src_stride[QS_COPY_MAX_DIMS];
    int64_t dst_stride[QS_COPY_MAX_DIMS];
} qs_copy_desc;

/// Merges contiguous dims, copies contiguous inner runs with memcpy and transposes with
/// cache tiles; splits the work over `pool` when it is large.
QS_INTERNAL void qs__copy_strided(const qs_copy_desc *d, void *dst, const void *src,
                                  qs_pool_t *pool);
/// Element-by-element reference of qs__copy_strided (for tests).
QS_INTERNAL void qs__copy_strided_ref(const qs_copy_desc *d, void *dst, const void *src);

/// Row-major strides (in elements) of a tensor of `rank` dims.
QS_INTERNAL void qs__contig_strides(int rank, const int64_t *dims, int64_t *strides);
/// Writes `n` copies of the `esize`-byte value at `value` to dst.
QS_INTERNAL void qs__fill(void *dst, const void *value, size_t esize, int64_t n);
/// Converts v to one element of dtype dt at out (bool: v != 0). False when dt has no
/// numeric representation (string, undefined).
QS_INTERNAL bool qs__scalar_store(enum qs_dtype dt, double v, void *out);
/// Copies `bytes` from src to dst unless they are the same buffer (aliased ops).
QS_INTERNAL void qs__copy_or_alias(void *dst, const void *src, size_t bytes, qs_pool_t *pool);
/// Runs task over [0, n) on the pool when the work (`bytes` moved) is worth splitting,
/// inline otherwise.
QS_INTERNAL void qs__parallel(qs_pool_t *pool, size_t n, size_t bytes, qs_pool_task task,
                              void *ctx);

/// Normalizes axis (negative counts from the end) into [0, rank); false when outside.
static inline bool qs__norm_axis(int64_t axis, int rank, int *out) {
    if (axis < -rank || axis >= rank) return false;
    *out = (int)(axis < 0 ? axis + rank : axis);
    return true;
}

/// Reads the integer values of constant input `i` (any integer dtype, at most `max`
/// values) into out. Fails with UNSUPPORTED naming the input when it is not constant,
/// or PARSE when it holds more than `max` values.
QS_INTERNAL enum qs_status qs__const_ints(const qs_kctx *k, int i, const char *what,
                                          int64_t *out, int max, int *n_out);
/// True when input i is present (not an absent optional input) and not empty.
static inline bool qs__has_input(const qs_kctx *k, int i) {
    return i < k->n_in && k->in[i] != NULL && k->in[i]->numel > 0;
}
/// The name of input i for messages ("" when absent).
QS_INTERNAL const char *qs__input_name(const qs_kctx *k, int i);
/// Fails with UNSUPPORTED when the dtype has no fixed element size (strings).
QS_INTERNAL enum qs_status qs__check_sized(const qs_kctx *k, enum qs_dtype dt);
