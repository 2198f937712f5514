// Internals shared by the neural-network op files (conv.c, gemm.c, pool.c, norm.c,
// softmax.c): input checks, the fused activation and the conv/pool window geometry.
#pragma once

#include "ir/ir-impl.h"
#include "kernels/f32.h"

#include <math.h>

/// Fails with PARSE unless inputs 0..n-1 are present.
QS_INTERNAL enum qs_status qs__nn_require(const qs_kctx *k, int n);
/// Fails with UNSUPPORTED unless input i (when present) is float32.
QS_INTERNAL enum qs_status qs__nn_check_f32(const qs_kctx *k, int i, const char *what);
/// The clamp of the node's fused activation: (-inf, inf) when none.
QS_INTERNAL void qs__nn_act_bounds(const qs_kctx *k, float *lo, float *hi);
/// Reads the ints attribute `name` (nsp values, or default `def` for each when absent) and
/// fails with PARSE when it has another length or a value below `min`.
QS_INTERNAL enum qs_status qs__nn_ints(const qs_kctx *k, const char *name, int nsp,
                                       int64_t def, int64_t min, int64_t *out);

enum qs_nn_window_kind { QS_NN_CONV, QS_NN_POOL };
/// Fills win for `nsp` spatial dims (1..3) from in_sp (input spatial sizes) and kernel,
/// reading strides, dilations, pads, auto_pad and (pools) ceil_mode. Output sizes must be
/// positive. Spatial dims are right-aligned into the 3 of the window.
QS_INTERNAL enum qs_status qs__nn_window(const qs_kctx *k, enum qs_nn_window_kind kind,
                                         int nsp, const int64_t *in_sp, const int64_t *kernel,
                                         struct qs_f32_window *win);
/// Checks the shapes of a convolution (input [N, C, spatial...], weight [M, C/group,
/// kernel...] of the same rank, kernel_shape matching the weight), reads `group` and fills
/// the sliding window. Shared by Conv and the integer convolutions.
QS_INTERNAL enum qs_status qs__nn_conv_geometry(const qs_kctx *k, const qs_view *x,
                                                const qs_view *w, int64_t *group_out,
                                                struct qs_f32_window *win);
