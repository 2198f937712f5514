// AVX2+FMA row kernels: bias + activation epilogue, per-row affine, row mean/max,
// softmax and normalization. 8 floats per vector; tails use masked loads/stores, so no
// kernel touches memory outside its rows.
#include "kernels/f32.h"
#include "kernels/x86/avx2/f32-avx2.h"

#include <math.h>

void qs__f32_bias_act__avx2(size_t rows, size_t n, float *y, size_t ldy, const float *bias,
                            float lo, float hi) {
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (size_t r = 0; r < rows; r++) {
        const __m256 vb = _mm256_set1_ps(bias ? bias[r] : 0.0f);
        float *p = y + r * ldy;
        size_t j = 0;
        // max(lo, v) / min(hi, v) return v when v is NaN, as the reference does.
        for (; j + 32 <= n; j += 32) {
            __m256 a = _mm256_add_ps(_mm256_loadu_ps(p + j), vb);
            __m256 b = _mm256_add_ps(_mm256_loadu_ps(p + j + 8), vb);
            __m256 c = _mm256_add_ps(_mm256_loadu_ps(p + j + 16), vb);
            __m256 d = _mm256_add_ps(_mm256_loadu_ps(p + j + 24), vb);
            _mm256_storeu_ps(p + j, _mm256_min_ps(vhi, _mm256_max_ps(vlo, a)));
            _mm256_storeu_ps(p + j + 8, _mm256_min_ps(vhi, _mm256_max_ps(vlo, b)));
            _mm256_storeu_ps(p + j + 16, _mm256_min_ps(vhi, _mm256_max_ps(vlo, c)));
            _mm256_storeu_ps(p + j + 24, _mm256_min_ps(vhi, _mm256_max_ps(vlo, d)));
        }
        for (; j + 8 <= n; j += 8) {
            __m256 a = _mm256_add_ps(_mm256_loadu_ps(p + j), vb);
            _mm256_storeu_ps(p + j, _mm256_min_ps(vhi, _mm256_max_ps(vlo, a)));
        }
        if (j < n) {
            __m256i m = qs__avx2_tail_mask(n - j);
            __m256 a = _mm256_add_ps(_mm256_maskload_ps(p + j, m), vb);
            _mm256_maskstore_ps(p + j, m, _mm256_min_ps(vhi, _mm256_max_ps(vlo, a)));
        }
    }
}

void qs__f32_affine_rows__avx2(size_t rows, size_t n, const float *x, float *y,
                               const float *scale, const float *shift) {
    for (size_t r = 0; r < rows; r++) {
        const __m256 s = _mm256_set1_ps(scale[r]), t = _mm256_set1_ps(shift[r]);
        const float *px = x + r * n;
        float *py = y + r * n;
        size_t j = 0;
        for (; j + 16 <= n; j += 16) {
            __m256 a = _mm256_fmadd_ps(_mm256_loadu_ps(px + j), s, t);
            __m256 b = _mm256_fmadd_ps(_mm256_loadu_ps(px + j + 8), s, t);
            _mm256_storeu_ps(py + j, a);
            _mm256_storeu_ps(py + j + 8, b);
        }
        for (; j + 8 <= n; j += 8)
            _mm256_storeu_ps(py + j, _mm256_fmadd_ps(_mm256_loadu_ps(px + j), s, t));
        if (j < n) {
            __m256i m = qs__avx2_tail_mask(n - j);
            _mm256_maskstore_ps(py + j, m, _mm256_fmadd_ps(_mm256_maskload_ps(px + j, m), s, t));
        }
    }
}

static float row_sum(size_t n, const float *p) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + j));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + j + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + j + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + j + 24));
    }
    for (; j + 8 <= n; j += 8) a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + j));
    if (j < n) a1 = _mm256_add_ps(a1, _mm256_maskload_ps(p + j, qs__avx2_tail_mask(n - j)));
    return qs__avx2_hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

static float row_max(size_t n, const float *p) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 a0 = ninf, a1 = ninf, a2 = ninf, a3 = ninf;
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        a0 = _mm256_max_ps(a0, _mm256_loadu_ps(p + j));
        a1 = _mm256_max_ps(a1, _mm256_loadu_ps(p + j + 8));
        a2 = _mm256_max_ps(a2, _mm256_loadu_ps(p + j + 16));
        a3 = _mm256_max_ps(a3, _mm256_loadu_ps(p + j + 24));
    }
    for (; j + 8 <= n; j += 8) a0 = _mm256_max_ps(a0, _mm256_loadu_ps(p + j));
    if (j < n) {
        __m256i m = qs__avx2_tail_mask(n - j);
        a1 = _mm256_max_ps(a1, _mm256_blendv_ps(ninf, _mm256_maskload_ps(p + j, m),
                                                _mm256_castsi256_ps(m)));
    }
    return qs__avx2_hmax(_mm256_max_ps(_mm256_max_ps(a0, a1), _mm256_max_ps(a2, a3)));
}

void qs__f32_row_mean__avx2(size_t rows, size_t n, const float *x, float *y) {
    for (size_t r = 0; r < rows; r++) y[r] = row_sum(n, x + r * n) / (float)n;
}

void qs__f32_row_max__avx2(size_t rows, size_t n, const float *x, float *y) {
    for (size_t r = 0; r < rows; r++) y[r] = row_max(n, x + r * n);
}

void qs__f32_softmax__avx2(size_t rows, size_t n, const float *x, float *y, bool log) {
    for (size_t r = 0; r < rows; r++) {
        const float *px = x + r * n;
        float *py = y + r * n;
        const float m = row_max(n, px);
        const __m256 vm = _mm256_set1_ps(m);
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
        size_t j = 0;
        // Log-softmax needs only the sum, so it never writes the exponentials (y may be x).
        for (; j + 16 <= n; j += 16) {
            __m256 e0 = qs__avx2_exp(_mm256_sub_ps(_mm256_loadu_ps(px + j), vm));
            __m256 e1 = qs__avx2_exp(_mm256_sub_ps(_mm256_loadu_ps(px + j + 8), vm));
            acc0 = _mm256_add_ps(acc0, e0);
            acc1 = _mm256_add_ps(acc1, e1);
            if (!log) {
                _mm256_storeu_ps(py + j, e0);
                _mm256_storeu_ps(py + j + 8, e1);
            }
        }
        for (; j + 8 <= n; j += 8) {
            __m256 e0 = qs__avx2_exp(_mm256_sub_ps(_mm256_loadu_ps(px + j), vm));
            acc0 = _mm256_add_ps(acc0, e0);
            if (!log) _mm256_storeu_ps(py + j, e0);
        }
        if (j < n) {
            __m256i mk = qs__avx2_tail_mask(n - j);
            __m256 e0 = qs__avx2_exp(_mm256_sub_ps(_mm256_maskload_ps(px + j, mk), vm));
            e0 = _mm256_and_ps(e0, _mm256_castsi256_ps(mk));
            acc0 = _mm256_add_ps(acc0, e0);
            if (!log) _mm256_maskstore_ps(py + j, mk, e0);
        }
        const float s = qs__avx2_hsum(_mm256_add_ps(acc0, acc1));
        if (log) {
            const __m256 sub = _mm256_set1_ps(m + logf(s));
            for (j = 0; j + 8 <= n; j += 8)
                _mm256_storeu_ps(py + j, _mm256_sub_ps(_mm256_loadu_ps(px + j), sub));
            if (j < n) {
                __m256i mk = qs__avx2_tail_mask(n - j);
                _mm256_maskstore_ps(py + j, mk,
                                    _mm256_sub_ps(_mm256_maskload_ps(px + j, mk), sub));
            }
        } else {
            const __m256 inv = _mm256_set1_ps(1.0f / s);
            for (j = 0; j + 8 <= n; j += 8)
                _mm256_storeu_ps(py + j, _mm256_mul_ps(_mm256_loadu_ps(py + j), inv));
            if (j < n) {
                __m256i mk = qs__avx2_tail_mask(n - j);
                _mm256_maskstore_ps(py + j, mk, _mm256_mul_ps(_mm256_maskload_ps(py + j, mk), inv));
            }
        }
    }
}

void qs__f32_moments__avx2(size_t rows, size_t n, const float *x, float eps, float *mean,
                           float *rstd) {
    for (size_t r = 0; r < rows; r++) {
        const float *p = x + r * n;
        const float m = row_sum(n, p) / (float)n;
        const __m256 vm = _mm256_set1_ps(m);
        __m256 a0 = _mm256_setzero_ps(), a1 = a0;
        size_t j = 0;
        // Two passes (sum of squared deviations) keep the variance accurate when the mean
        // is large compared with the spread.
        for (; j + 16 <= n; j += 16) {
            __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(p + j), vm);
            __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(p + j + 8), vm);
            a0 = _mm256_fmadd_ps(d0, d0, a0);
            a1 = _mm256_fmadd_ps(d1, d1, a1);
        }
        for (; j + 8 <= n; j += 8) {
            __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(p + j), vm);
            a0 = _mm256_fmadd_ps(d0, d0, a0);
        }
        if (j < n) {
            __m256i mk = qs__avx2_tail_mask(n - j);
            __m256 d0 = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(p + j, mk), vm),
                                      _mm256_castsi256_ps(mk));
            a1 = _mm256_fmadd_ps(d0, d0, a1);
        }
        const float var = qs__avx2_hsum(_mm256_add_ps(a0, a1)) / (float)n;
        mean[r] = m;
        rstd[r] = 1.0f / sqrtf(var + eps);
    }
}

void qs__f32_layernorm__avx2(size_t rows, size_t n, const float *x, const float *mean,
                             const float *rstd, const float *gamma, const float *beta,
                             float *y) {
    for (size_t r = 0; r < rows; r++) {
        const float *px = x + r * n;
        float *py = y + r * n;
        const __m256 vm = _mm256_set1_ps(mean[r]), vs = _mm256_set1_ps(rstd[r]);
        size_t j = 0;
        for (; j + 8 <= n; j += 8) {
            __m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(px + j), vm), vs),
                                     _mm256_loadu_ps(gamma + j));
            if (beta) v = _mm256_add_ps(v, _mm256_loadu_ps(beta + j));
            _mm256_storeu_ps(py + j, v);
        }
        if (j < n) {
            __m256i mk = qs__avx2_tail_mask(n - j);
            __m256 v = _mm256_mul_ps(
                _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(px + j, mk), vm), vs),
                _mm256_maskload_ps(gamma + j, mk));
            if (beta) v = _mm256_add_ps(v, _mm256_maskload_ps(beta + j, mk));
            _mm256_maskstore_ps(py + j, mk, v);
        }
    }
}
