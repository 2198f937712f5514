// Scalar references of the sliding-window kernels (depthwise conv, max/average pooling)
// over one plane or volume, in the generic 3-D geometry of struct qs_f32_window.
#include "kernels/f32.h"

#include <math.h>

void qs__f32_window_init(struct qs_f32_window *w) {
    for (int i = 0; i < 3; i++) {
        w->in[i] = w->out[i] = w->k[i] = w->stride[i] = w->dil[i] = 1;
        w->pad[i] = w->pad_end[i] = 0;
    }
}

int64_t qs__f32_window_in_size(const struct qs_f32_window *w) {
    return w->in[0] * w->in[1] * w->in[2];
}
int64_t qs__f32_window_out_size(const struct qs_f32_window *w) {
    return w->out[0] * w->out[1] * w->out[2];
}
int64_t qs__f32_window_k_size(const struct qs_f32_window *w) {
    return w->k[0] * w->k[1] * w->k[2];
}

// Input coordinate of output o, tap t in dim i (may be outside [0, in)).
static inline int64_t coord(const struct qs_f32_window *w, int i, int64_t o, int64_t t) {
    return o * w->stride[i] - w->pad[i] + t * w->dil[i];
}

void qs__f32_dwconv_ref(const struct qs_f32_window *win, const float *x, const float *w,
                        float bias, float lo, float hi, float *y) {
    const int64_t H = win->in[1], W = win->in[2];
    for (int64_t od = 0; od < win->out[0]; od++)
        for (int64_t oh = 0; oh < win->out[1]; oh++)
            for (int64_t ow = 0; ow < win->out[2]; ow++) {
                float acc = bias;
                for (int64_t kd = 0; kd < win->k[0]; kd++) {
                    int64_t id = coord(win, 0, od, kd);
                    if (id < 0 || id >= win->in[0]) continue;
                    for (int64_t kh = 0; kh < win->k[1]; kh++) {
                        int64_t ih = coord(win, 1, oh, kh);
                        if (ih < 0 || ih >= H) continue;
                        for (int64_t kw = 0; kw < win->k[2]; kw++) {
                            int64_t iw = coord(win, 2, ow, kw);
                            if (iw < 0 || iw >= W) continue;
                            acc += w[(kd * win->k[1] + kh) * win->k[2] + kw] *
                                   x[(id * H + ih) * W + iw];
                        }
                    }
                }
                acc = acc < lo ? lo : acc;
                acc = acc > hi ? hi : acc;
                *y++ = acc;
            }
}

void qs__f32_maxpool_ref(const struct qs_f32_window *win, const float *x, float *y) {
    const int64_t H = win->in[1], W = win->in[2];
    for (int64_t od = 0; od < win->out[0]; od++)
        for (int64_t oh = 0; oh < win->out[1]; oh++)
            for (int64_t ow = 0; ow < win->out[2]; ow++) {
                float m = -INFINITY;
                for (int64_t kd = 0; kd < win->k[0]; kd++) {
                    int64_t id = coord(win, 0, od, kd);
                    if (id < 0 || id >= win->in[0]) continue;
                    for (int64_t kh = 0; kh < win->k[1]; kh++) {
                        int64_t ih = coord(win, 1, oh, kh);
                        if (ih < 0 || ih >= H) continue;
                        for (int64_t kw = 0; kw < win->k[2]; kw++) {
                            int64_t iw = coord(win, 2, ow, kw);
                            if (iw < 0 || iw >= W) continue;
                            float v = x[(id * H + ih) * W + iw];
                            m = v > m ? v : m;
                        }
                    }
                }
                *y++ = m;
            }
}

// Number of window taps of output o in dim i that fall inside [lo_lim, hi_lim).
static int64_t taps_in(const struct qs_f32_window *w, int i, int64_t o, int64_t lo_lim,
                       int64_t hi_lim) {
    int64_t n = 0;
    for (int64_t t = 0; t < w->k[i]; t++) {
        int64_t c = coord(w, i, o, t);
        n += c >= lo_lim && c < hi_lim;
    }
    return n;
}

void qs__f32_avgpool_ref(const struct qs_f32_window *win, bool count_include_pad,
                         const float *x, float *y) {
    const int64_t H = win->in[1], W = win->in[2];
    for (int64_t od = 0; od < win->out[0]; od++)
        for (int64_t oh = 0; oh < win->out[1]; oh++)
            for (int64_t ow = 0; ow < win->out[2]; ow++) {
                float s = 0.0f;
                for (int64_t kd = 0; kd < win->k[0]; kd++) {
                    int64_t id = coord(win, 0, od, kd);
                    if (id < 0 || id >= win->in[0]) continue;
                    for (int64_t kh = 0; kh < win->k[1]; kh++) {
                        int64_t ih = coord(win, 1, oh, kh);
                        if (ih < 0 || ih >= H) continue;
                        for (int64_t kw = 0; kw < win->k[2]; kw++) {
                            int64_t iw = coord(win, 2, ow, kw);
                            if (iw < 0 || iw >= W) continue;
                            s += x[(id * H + ih) * W + iw];
                        }
                    }
                }
                int64_t o[3] = {od, oh, ow}, cnt = 1;
                for (int i = 0; i < 3; i++) {
                    cnt *= count_include_pad
                               ? taps_in(win, i, o[i], -win->pad[i],
                                         win->in[i] + win->pad_end[i])
                               : taps_in(win, i, o[i], 0, win->in[i]);
                }
                *y++ = cnt > 0 ? s / (float)cnt : 0.0f;
            }
}
