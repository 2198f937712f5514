// Scalar references of the row kernels: bias + activation epilogue, per-row affine,
// row reductions, softmax and normalization moments.
#include "kernels/f32.h"

#include <math.h>

void qs__f32_bias_act_ref(size_t rows, size_t n, float *y, size_t ldy, const float *bias,
                          float lo, float hi) {
    for (size_t r = 0; r < rows; r++) {
        float b = bias ? bias[r] : 0.0f;
        float *p = y + r * ldy;
        for (size_t j = 0; j < n; j++) {
            float v = p[j] + b;
            v = v < lo ? lo : v;
            p[j] = v > hi ? hi : v;
        }
    }
}

void qs__f32_affine_rows_ref(size_t rows, size_t n, const float *x, float *y,
                             const float *scale, const float *shift) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < n; j++) y[r * n + j] = x[r * n + j] * scale[r] + shift[r];
}

void qs__f32_row_mean_ref(size_t rows, size_t n, const float *x, float *y) {
    for (size_t r = 0; r < rows; r++) {
        double s = 0.0;
        for (size_t j = 0; j < n; j++) s += x[r * n + j];
        y[r] = (float)(s / (double)n);
    }
}

void qs__f32_row_max_ref(size_t rows, size_t n, const float *x, float *y) {
    for (size_t r = 0; r < rows; r++) {
        float m = -INFINITY;
        for (size_t j = 0; j < n; j++) m = x[r * n + j] > m ? x[r * n + j] : m;
        y[r] = m;
    }
}

void qs__f32_softmax_strided_ref(size_t outer, size_t n, size_t inner, const float *x,
                                 float *y, bool log) {
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            const float *px = x + o * n * inner + i;
            float *py = y + o * n * inner + i;
            float m = -INFINITY;
            for (size_t j = 0; j < n; j++) m = px[j * inner] > m ? px[j * inner] : m;
            double s = 0.0;
            for (size_t j = 0; j < n; j++) {
                float e = expf(px[j * inner] - m);
                s += e;
                if (!log) py[j * inner] = e;
            }
            if (log) {
                float ls = (float)logf((float)s);
                for (size_t j = 0; j < n; j++) py[j * inner] = px[j * inner] - m - ls;
            } else {
                float inv = (float)(1.0 / s);
                for (size_t j = 0; j < n; j++) py[j * inner] *= inv;
            }
        }
}

void qs__f32_softmax_ref(size_t rows, size_t n, const float *x, float *y, bool log) {
    qs__f32_softmax_strided_ref(rows, n, 1, x, y, log);
}

void qs__f32_moments_ref(size_t rows, size_t n, const float *x, float eps, float *mean,
                         float *rstd) {
    for (size_t r = 0; r < rows; r++) {
        const float *p = x + r * n;
        double s = 0.0;
        for (size_t j = 0; j < n; j++) s += p[j];
        double m = s / (double)n, v = 0.0;
        for (size_t j = 0; j < n; j++) v += (p[j] - m) * (p[j] - m);
        v /= (double)n;
        mean[r] = (float)m;
        rstd[r] = (float)(1.0 / sqrt(v + (double)eps));
    }
}

void qs__f32_layernorm_ref(size_t rows, size_t n, const float *x, const float *mean,
                           const float *rstd, const float *gamma, const float *beta,
                           float *y) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < n; j++) {
            float v = (x[r * n + j] - mean[r]) * rstd[r] * gamma[j];
            y[r * n + j] = beta ? v + beta[j] : v;
        }
}
