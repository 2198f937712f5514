// 4 channels x 24 pixels, k in groups of 4, uint8 activations: AVX-VNNI vpdpbusd on ymm
// (u8 x s8 -> s32, exact), for CPUs with AVX-VNNI but no AVX-512 (Alder Lake and later).
#define QS_YMM_XPREP(x) (x)
#define QS_YMM_DOT(acc, x, xp, w) (acc) = _mm256_dpbusd_avx_epi32((acc), (x), (w))

#include "kernels/x86/avx2/qu8-qc8w-gemm-minmax-ymm.h"

void qs_qu8_qc8w_gemm_minmax_ukernel_4x24c4__avxvnni(size_t mr, size_t nr, size_t kc,
                                                     const void *w, const void *x, void *c,
                                                     size_t c_stride_n, size_t c_stride_p,
                                                     const struct qs_qgemm_ukernel_params *p) {
    // A narrow last panel computes only the vectors it needs.
    if (nr > 16)
        gemm_tile_ymm(4, 3, 3, 4, mr, nr, kc, w, x, c, c_stride_n, c_stride_p, p);
    else if (nr > 8)
        gemm_tile_ymm(4, 2, 3, 4, mr, nr, kc, w, x, c, c_stride_n, c_stride_p, p);
    else
        gemm_tile_ymm(4, 1, 3, 4, mr, nr, kc, w, x, c, c_stride_n, c_stride_p, p);
}
