// 16 channels x 16 pixels, k in groups of 4, uint8 activations; AVX-512 VNNI (vpdpbusd zmm
// with the weights as embedded broadcasts). 16 accumulators and one activation vector per
// step. On Zen 5 it beat 8x32, 4x64, 12x32, 8x48 and 10x32 (bench/qgemm, kernels/README.md).
#include "kernels/x86/avx512vnni/qu8-qc8w-gemm-minmax-avx512vnni.h"

void qs_qu8_qc8w_gemm_minmax_ukernel_16x16c4__avx512vnni(size_t mr, size_t nr, size_t kc,
                                                         const void *w, const void *x, void *c,
                                                         size_t c_stride_n, size_t c_stride_p,
                                                         const struct qs_qgemm_ukernel_params *p) {
    gemm_tile_avx512vnni(16, 1, mr, nr, kc, w, x, c, c_stride_n, c_stride_p, p);
}
