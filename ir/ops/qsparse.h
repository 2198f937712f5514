// The sparse path of the int8 layers (QLinearConv 1x1, QLinearMatMul / MatMulInteger / QGemm
// with a constant B): a pruned weight (W - w_zp zero for most entries) runs on the int8
// SpMM kernels (kernels/spmm.h) when the dispatcher says they beat the integer GEMM. The op
// files call these three functions from their prepare / run / release; everything else
// lives in ir/ops/qsparse.c.
#pragma once

#include "ir/ops/qlinear-impl.h"

struct qs_qsparse;

/// At prepare. W element (j, t) (output j < m, reduction t < k) is
/// data[j * ldw_n + t * ldw_k] - w_zp[j or 0] (as qs__qlin_weights_init takes it). n: the
/// columns of one run (conv: output pixels; fc: rows of A). fc: X is A[n][k] and Y is
/// Y[n][m] (transposed around the kernel in the scratch); otherwise X[k][n] and C[m][n].
/// Sets *out to NULL (and *scratch_bytes to 0) when the layer stays dense: W - w_zp
/// outside int8, too dense for the dispatcher, or QS_SPMM=never.
QS_INTERNAL enum qs_status qs__qsparse_prepare(qs_kctx *k, size_t m, size_t kk, size_t n,
                                               const void *data, enum qs_dtype dt,
                                               size_t ldw_n, size_t ldw_k,
                                               const qs_view *w_zp, bool zp_per_row, bool fc,
                                               struct qs_qsparse **out,
                                               size_t *scratch_bytes);
/// At run: x (uint8, int8 input already flipped) with row stride ldx (elements; fc: the
/// stride of A's rows), output y with row stride ldy (elements of p->out_type; fc: of Y's
/// rows). scratch: the bytes prepare asked for.
QS_INTERNAL void qs__qsparse_run(const struct qs_qsparse *s, const uint8_t *x, size_t ldx,
                                 void *y, size_t ldy, const struct qs_qgemm_params *p,
                                 void *scratch, qs_pool_t *pool);
QS_INTERNAL void qs__qsparse_destroy(struct qs_qsparse *s);
