// 4 channels x 24 pixels, k in pairs, activations and weights widened to int16 at packing:
// vpmaddwd + vpaddd, exact for every uint8 x int8 (no int16 saturation can occur).
#define QS_YMM_XPREP(x) (x)
#define QS_YMM_DOT(acc, x, xp, w) (acc) = _mm256_add_epi32((acc), _mm256_madd_epi16((x), (w)))

#include "kernels/x86/avx2/qu8-qc8w-gemm-minmax-ymm.h"

void qs_qu8_qc8w_gemm_minmax_ukernel_4x24c2__avx2(size_t mr, size_t nr, size_t kc, const void *w,
                                                  const void *x, void *c, size_t c_stride_n,
                                                  size_t c_stride_p,
                                                  const struct qs_qgemm_ukernel_params *p) {
    // A narrow last panel computes only the vectors it needs.
    if (nr > 16)
        gemm_tile_ymm(4, 3, 3, 2, mr, nr, kc, w, x, c, c_stride_n, c_stride_p, p);
    else if (nr > 8)
        gemm_tile_ymm(4, 2, 3, 2, mr, nr, kc, w, x, c, c_stride_n, c_stride_p, p);
    else
        gemm_tile_ymm(4, 1, 3, 2, mr, nr, kc, w, x, c, c_stride_n, c_stride_p, p);
}
