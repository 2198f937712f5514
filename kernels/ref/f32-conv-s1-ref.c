// Scalar reference of the stride-1 implicit-GEMM convolution and its weight packing
// (see struct qs_f32_conv_s1 in kernels/f32.h).
#include "kernels/f32.h"

size_t qs__f32_conv_s1_packed_size(size_t m, size_t k, size_t mr) {
    return (m + mr - 1) / mr * mr * k;
}

void qs__f32_conv_s1_pack(size_t m, size_t k, size_t mr, const float *w, float *out) {
    for (size_t b = 0; b < m; b += mr)
        for (size_t j = 0; j < k; j++)
            for (size_t r = 0; r < mr; r++)
                *out++ = b + r < m ? w[(b + r) * k + j] : 0.0f;
}

void qs__f32_conv_s1_ref(const struct qs_f32_conv_s1 *cv, const float *x, const float *wpk,
                         const float *bias, float lo, float hi, size_t p_begin, size_t p_end,
                         float *y, size_t ldy) {
    const size_t k = cv->c_in * cv->taps, row = cv->row;
    const size_t out_w = row && cv->out_w && cv->out_w < row ? cv->out_w : row;
    for (size_t m = 0; m < cv->m; m++) {
        const size_t mr = cv->mr;
        const float *wb = wpk + m / mr * mr * k + m % mr;
        for (size_t p = p_begin; p < p_end; p++) {
            const size_t r = row ? p / row : 0, col = row ? p % row : p;
            if (row && col >= out_w) continue;  // a padded column: never stored
            float acc = bias ? bias[m] : 0.0f;
            for (size_t c = 0; c < cv->c_in; c++)
                for (size_t t = 0; t < cv->taps; t++) {
                    if (cv->dy) {
                        // Implicit padding: the cell is outside the image.
                        const int64_t rr = (int64_t)r + cv->dy[t], cc = (int64_t)col + cv->dx[t];
                        if (rr < 0 || rr >= (int64_t)cv->h || cc < 0 || cc >= (int64_t)row)
                            continue;
                    }
                    acc += wb[(c * cv->taps + t) * mr] *
                           x[(int64_t)(c * cv->plane + p) + cv->off[t]];
                }
            const size_t idx = m * ldy + (row ? r * out_w + col : p);
            if (cv->sum) acc += cv->sum[idx];
            acc = acc < lo ? lo : acc;
            y[idx] = acc > hi ? hi : acc;
        }
    }
}
