// Scalar microkernel: 4 channels x 8 pixels, k in groups of 4, uint8 activations (x_bias 0).
// The portable fallback; its epilogue is qs__qgemm_store_tile.
#include "kernels/qgemm-ukernel.h"

void qs_qu8_qc8w_gemm_minmax_ukernel_4x8c4__scalar(size_t mr, size_t nr, size_t kc,
                                                   const void *w, const void *x, void *c,
                                                   size_t c_stride_n, size_t c_stride_p,
                                                   const struct qs_qgemm_ukernel_params *params) {
    enum { MR = 4, NR = 8, KR = 4 };
    // uint32 accumulators: the sum wraps modulo 2^32 as in every other variant.
    uint32_t acc[MR][NR];
    for (size_t m = 0; m < MR; m++)
        for (size_t j = 0; j < NR; j++) acc[m][j] = (uint32_t)params->init[m];
    const int8_t *pw = w;
    const uint8_t *px = x;
    for (size_t g = 0; g < kc; g += KR, pw += MR * KR, px += NR * KR) {
        for (size_t m = 0; m < MR; m++) {
            for (size_t j = 0; j < NR; j++) {
                int32_t s = 0;
                for (size_t r = 0; r < KR; r++) s += (int32_t)pw[m * KR + r] * (int32_t)px[j * KR + r];
                acc[m][j] += (uint32_t)s;
            }
        }
    }
    int32_t out[MR][NR];
    for (size_t m = 0; m < MR; m++)
        for (size_t j = 0; j < NR; j++) out[m][j] = (int32_t)acc[m][j];
    qs__qgemm_store_tile(mr, nr, &out[0][0], NR, c, c_stride_n, c_stride_p, params);
}
