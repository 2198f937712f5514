// Portable int8 SpMM microkernel (one row per group, entries in quads): exact int32
// accumulation from init = bias - x_zp * wsum, then the qgemm epilogue.
#include "kernels/ref/spmm-impl.h"

enum { TILE = 32 };

void qs_qu8_qc8w_spmm_minmax_ukernel_g1__scalar(const struct qs_spmm_q8_call *call, size_t g0,
                                               size_t g1, size_t n0, size_t n1) {
    const qs_spmm_weights *w = call->w;
    const size_t es = qs__qout_size(call->p.out_type);
    int32_t acc[TILE];
    for (size_t i = g0; i < g1; i++) {
        const uint32_t *col = w->col + w->ptr[i];
        const int8_t *v = w->vq + w->ptr[i];
        const size_t cnt = w->ptr[i + 1] - w->ptr[i];
        for (size_t j0 = n0; j0 < n1; j0 += TILE) {
            size_t nr = QS_MIN((size_t)TILE, n1 - j0);
            for (size_t j = 0; j < nr; j++) acc[j] = call->p.init[i];
            for (size_t e = 0; e < cnt; e++) {
                const uint8_t *xr = call->x + col[e] * call->ldx + j0;
                uint32_t wv = (uint32_t)(int32_t)v[e];
                for (size_t j = 0; j < nr; j++)
                    acc[j] = (int32_t)((uint32_t)acc[j] + wv * (uint32_t)xr[j]);
            }
            char *dst = (char *)call->c + (i * call->ldc + j0) * es;
            qs__spmm_q8_store_row(nr, acc, i, dst, &call->p);
        }
    }
}
