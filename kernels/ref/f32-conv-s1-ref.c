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

// Accumulates in y, one output channel at a time, over runs of positions that are
// contiguous in both x and y (a row's kept columns, minus the cells a tap reads as
// padding), so that the inner loops are plain and vectorizable. Per element the sum is
// bias, then channels and taps in order.
void qs__f32_conv_s1_ref(const struct qs_f32_conv_s1 *cv, const float *x, const float *wpk,
                         const float *bias, float lo, float hi, size_t p_begin, size_t p_end,
                         float *y, size_t ldy) {
    const size_t k = cv->c_in * cv->taps, mr = cv->mr;
    // Plain positions are one row as long as the range.
    const int64_t row = cv->row ? (int64_t)cv->row : (int64_t)p_end;
    const int64_t out_w = cv->row && cv->out_w && cv->out_w < cv->row ? (int64_t)cv->out_w : row;
    const int64_t pb = (int64_t)p_begin, pe = (int64_t)p_end;
    for (size_t m = 0; m < cv->m; m++) {
        const float *wb = wpk + m / mr * mr * k + m % mr;
        float *ym = y + m * ldy;
        for (int pass = 0; pass < 3; pass++) {
            // pass 0: bias; pass 1: every channel and tap; pass 2: sum and clamp.
            const size_t n_ct = pass == 1 ? k : 1;
            for (size_t ct = 0; ct < n_ct; ct++) {
                const size_t c = ct / cv->taps, t = ct % cv->taps;
                const float wv = wb[ct * mr];
                for (int64_t r = pb / row; r * row < pe; r++) {
                    // Columns of row r inside [p_begin, p_end) and kept.
                    int64_t c0 = QS_MAX(pb - r * row, 0), c1 = QS_MIN(pe - r * row, out_w);
                    if (pass == 1 && cv->dy) {
                        const int64_t rr = r + cv->dy[t];
                        if (rr < 0 || rr >= (int64_t)cv->h) continue;
                        c0 = QS_MAX(c0, -(int64_t)cv->dx[t]);
                        c1 = QS_MIN(c1, row - cv->dx[t]);
                    }
                    if (c0 >= c1) continue;
                    float *yr = ym + r * out_w;
                    if (pass == 0) {
                        const float b = bias ? bias[m] : 0.0f;
                        for (int64_t col = c0; col < c1; col++) yr[col] = b;
                    } else if (pass == 1) {
                        const float *xr = x + (int64_t)(c * cv->plane) + r * row + cv->off[t];
                        for (int64_t col = c0; col < c1; col++) yr[col] += wv * xr[col];
                    } else {
                        const float *sr = cv->sum ? cv->sum + m * ldy + r * out_w : NULL;
                        if (sr)
                            for (int64_t col = c0; col < c1; col++) yr[col] += sr[col];
                        for (int64_t col = c0; col < c1; col++) {
                            const float v = yr[col] < lo ? lo : yr[col];
                            yr[col] = v > hi ? hi : v;
                        }
                    }
                }
            }
        }
    }
}
