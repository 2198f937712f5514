// The scalar reference of the fp32 GEMM of the kernel tables (kernels/f32.h, gemm): every
// output sums its products in k order, one fused multiply-add each, so that the vector
// kernels, which do the same per lane, give the same bits.
#include "kernels/f32.h"

#include <math.h>

void qs__f32_gemm_ref(size_t m, size_t n, size_t k, const float *a, size_t rsa, size_t csa,
                      const float *b, size_t ldb, float *c, size_t ldc, bool acc) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float s = acc ? c[i * ldc + j] : 0.0f;
            for (size_t p = 0; p < k; p++) s = fmaf(a[i * rsa + p * csa], b[p * ldb + j], s);
            c[i * ldc + j] = s;
        }
}
