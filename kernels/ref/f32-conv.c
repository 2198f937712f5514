// Convolution and transposed convolution, plus naive oracles for the tests.
//
// Packed path (every group-1 conv whose weights are constant, packed once in prepare):
// stride-1 1-D/2-D convs copy the input into a zero-padded image once and run the
// implicit-GEMM kernel (conv_s1) on it, so every tap is a constant shift of the flat image
// and nothing like im2col is materialized; other group-1 convs run im2col and the same
// kernel as a 1x1 conv over the columns. Bias and the fused activation are applied in
// registers before the store.
// Unpacked path (weights computed at run time, grouped convs): depthwise convs run the
// direct kernel; the rest im2col + cblas_sgemm per image and group (the ONNX weight layout
// is already the row-major A operand) and one bias + activation pass over the output.
// ConvTranspose: cblas_sgemm into columns, then col2im.
#include "kernels/f32.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

// ceil(a / b) for b > 0 and any sign of a.
static inline int64_t ceil_div(int64_t a, int64_t b) {
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}
static inline int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

// Output range [lo, hi) of dim i for which tap t reads inside the input.
static void valid_range(const struct qs_f32_window *w, int i, int64_t t, int64_t *lo,
                        int64_t *hi) {
    int64_t off = w->pad[i] - t * w->dil[i];  // coord = o*stride - off
    *lo = clamp64(ceil_div(off, w->stride[i]), 0, w->out[i]);
    *hi = clamp64(ceil_div(w->in[i] + off, w->stride[i]), *lo, w->out[i]);
}

void qs__f32_im2col(const struct qs_f32_window *win, int64_t channels, const float *x,
                    float *col) {
    const int64_t D = win->in[0], H = win->in[1], W = win->in[2];
    const int64_t OD = win->out[0], OH = win->out[1], OW = win->out[2];
    const int64_t sw = win->stride[2];
    for (int64_t c = 0; c < channels; c++)
        for (int64_t kd = 0; kd < win->k[0]; kd++)
            for (int64_t kh = 0; kh < win->k[1]; kh++)
                for (int64_t kw = 0; kw < win->k[2]; kw++) {
                    int64_t d_lo, d_hi, h_lo, h_hi, w_lo, w_hi;
                    valid_range(win, 0, kd, &d_lo, &d_hi);
                    valid_range(win, 1, kh, &h_lo, &h_hi);
                    valid_range(win, 2, kw, &w_lo, &w_hi);
                    const int64_t w0 = w_lo * sw - win->pad[2] + kw * win->dil[2];
                    for (int64_t od = 0; od < OD; od++) {
                        if (od < d_lo || od >= d_hi) {
                            memset(col, 0, sizeof(float) * (size_t)(OH * OW));
                            col += OH * OW;
                            continue;
                        }
                        int64_t id = od * win->stride[0] - win->pad[0] + kd * win->dil[0];
                        for (int64_t oh = 0; oh < OH; oh++, col += OW) {
                            if (oh < h_lo || oh >= h_hi) {
                                memset(col, 0, sizeof(float) * (size_t)OW);
                                continue;
                            }
                            int64_t ih = oh * win->stride[1] - win->pad[1] + kh * win->dil[1];
                            const float *src = x + ((c * D + id) * H + ih) * W + w0;
                            for (int64_t o = 0; o < w_lo; o++) col[o] = 0.0f;
                            if (sw == 1) {
                                memcpy(col + w_lo, src, sizeof(float) * (size_t)(w_hi - w_lo));
                            } else {
                                for (int64_t o = w_lo; o < w_hi; o++)
                                    col[o] = src[(o - w_lo) * sw];
                            }
                            for (int64_t o = w_hi; o < OW; o++) col[o] = 0.0f;
                        }
                    }
                }
}

void qs__f32_col2im_add(const struct qs_f32_window *win, int64_t channels, const float *col,
                        float *y) {
    const int64_t D = win->in[0], H = win->in[1], W = win->in[2];
    const int64_t OD = win->out[0], OH = win->out[1], OW = win->out[2];
    const int64_t sw = win->stride[2];
    for (int64_t c = 0; c < channels; c++)
        for (int64_t kd = 0; kd < win->k[0]; kd++)
            for (int64_t kh = 0; kh < win->k[1]; kh++)
                for (int64_t kw = 0; kw < win->k[2]; kw++) {
                    int64_t d_lo, d_hi, h_lo, h_hi, w_lo, w_hi;
                    valid_range(win, 0, kd, &d_lo, &d_hi);
                    valid_range(win, 1, kh, &h_lo, &h_hi);
                    valid_range(win, 2, kw, &w_lo, &w_hi);
                    const int64_t w0 = w_lo * sw - win->pad[2] + kw * win->dil[2];
                    for (int64_t od = d_lo; od < d_hi; od++) {
                        int64_t id = od * win->stride[0] - win->pad[0] + kd * win->dil[0];
                        for (int64_t oh = h_lo; oh < h_hi; oh++) {
                            int64_t ih = oh * win->stride[1] - win->pad[1] + kh * win->dil[1];
                            float *dst = y + ((c * D + id) * H + ih) * W + w0;
                            const float *src = col + (od * OH + oh) * OW;
                            for (int64_t o = w_lo; o < w_hi; o++) dst[(o - w_lo) * sw] += src[o];
                        }
                    }
                    col += OD * OH * OW;
                }
}

bool qs__f32_conv_is_depthwise(const struct qs_f32_conv_desc *d) {
    return d->groups > 1 && d->groups == d->c_in && d->groups == d->c_out &&
           d->win.in[0] == 1 && d->win.k[0] == 1 && d->win.out[0] == 1;
}

static bool is_pointwise(const struct qs_f32_window *w) {
    for (int i = 0; i < 3; i++)
        if (w->k[i] != 1 || w->stride[i] != 1 || w->pad[i] != 0 || w->in[i] != w->out[i])
            return false;
    return true;
}

struct dw_task {
    const struct qs_f32_conv_desc *d;
    const struct qs_f32_kernels *kt;
    const float *x, *w, *b;
    float *y;
};

static void dw_run(void *ctx, size_t begin, size_t end) {
    const struct dw_task *t = ctx;
    const struct qs_f32_conv_desc *d = t->d;
    const int64_t inv = qs__f32_window_in_size(&d->win);
    const int64_t outv = qs__f32_window_out_size(&d->win);
    const int64_t kv = qs__f32_window_k_size(&d->win);
    for (size_t p = begin; p < end; p++) {
        int64_t c = (int64_t)p % d->c_out;
        t->kt->dwconv(&d->win, t->x + (int64_t)p * inv, t->w + c * kv, t->b ? t->b[c] : 0.0f,
                      d->lo, d->hi, t->y + (int64_t)p * outv);
    }
}

// ---------------------------------------------------------------------------------------
// Stride-1 implicit GEMM (groups 1, strides 1, 1-D/2-D). The input is copied once into a
// zero-padded image (skipped for unpadded 1x1 convs), every tap is then a constant shift
// of the flat padded image, and the kernel reads it directly: no im2col, no B packing, and
// bias + activation are applied before the store.

struct s1_geom {
    int64_t hp, wp, plane, n;  // padded rows/cols, floats per channel, flat positions
    int64_t taps, maxoff;
    bool direct_in;            // read x as is (unpadded 1x1)
    bool direct_out;           // no dropped columns: write y as is
};

// The packed path takes every group-1 conv: stride-1 1-D/2-D ones read the padded image
// directly, the rest run im2col and then the same kernel as a 1x1 conv over the columns.
static bool packed_eligible(const struct qs_f32_conv_desc *d) {
    return d->groups == 1;
}

static bool s1_eligible(const struct qs_f32_conv_desc *d) {
    const struct qs_f32_window *w = &d->win;
    return d->groups == 1 && w->in[0] == 1 && w->k[0] == 1 && w->out[0] == 1 &&
           w->stride[1] == 1 && w->stride[2] == 1 && w->k[1] * w->k[2] <= 64;
}

static void s1_geom(const struct qs_f32_conv_desc *d, struct s1_geom *g) {
    const struct qs_f32_window *w = &d->win;
    const int64_t ekh = (w->k[1] - 1) * w->dil[1], ekw = (w->k[2] - 1) * w->dil[2];
    g->hp = w->out[1] + ekh;
    g->wp = w->out[2] + ekw;
    g->plane = g->hp * g->wp;
    g->n = w->out[1] * g->wp;
    g->taps = w->k[1] * w->k[2];
    g->maxoff = ekh * g->wp + ekw;
    g->direct_in = g->taps == 1 && g->hp == w->in[1] && g->wp == w->in[2];
    g->direct_out = g->wp == w->out[2];
}

static size_t align16(int64_t n) {
    return ((size_t)n + 15) & ~(size_t)15;
}

size_t qs__f32_conv_packed_size(const struct qs_f32_conv_desc *d) {
    if (!packed_eligible(d)) return 0;
    return qs__f32_conv_s1_packed_size((size_t)d->c_out,
                                       (size_t)(d->c_in * qs__f32_window_k_size(&d->win)),
                                       qs__f32_kernels()->conv_mr);
}

void qs__f32_conv_pack(const struct qs_f32_conv_desc *d, const float *w, float *packed) {
    qs__f32_conv_s1_pack((size_t)d->c_out, (size_t)(d->c_in * qs__f32_window_k_size(&d->win)),
                         qs__f32_kernels()->conv_mr, w, packed);
}

// Scratch layout of the s1 path: [padded input][output with dropped columns].
static void s1_scratch(const struct qs_f32_conv_desc *d, const struct s1_geom *g,
                       size_t *in_floats, size_t *out_floats) {
    *in_floats = g->direct_in ? 0 : align16(d->c_in * g->plane + g->maxoff + 2 * QS_F32_CONV_NR);
    *out_floats = g->direct_out ? 0 : (size_t)d->c_out * align16(g->n);
}

size_t qs__f32_conv_scratch_bytes(const struct qs_f32_conv_desc *d, bool packed) {
    if (packed && s1_eligible(d)) {
        struct s1_geom g;
        size_t a, b;
        s1_geom(d, &g);
        s1_scratch(d, &g, &a, &b);
        return sizeof(float) * (a + b);
    }
    if ((!packed && qs__f32_conv_is_depthwise(d)) || is_pointwise(&d->win)) return 0;
    int64_t k = d->c_in / d->groups * qs__f32_window_k_size(&d->win);
    // Slack for the packed kernel's reads past the last column tile.
    return sizeof(float) * ((size_t)(k * qs__f32_window_out_size(&d->win)) + QS_F32_CONV_NR);
}

static void pad_image(const struct qs_f32_conv_desc *d, const struct s1_geom *g,
                      const float *x, float *xp, size_t floats) {
    const struct qs_f32_window *w = &d->win;
    const int64_t H = w->in[1], W = w->in[2], pt = w->pad[1], pl = w->pad[2];
    const int64_t pr = g->wp - W - pl;
    float *p = xp;
    for (int64_t c = 0; c < d->c_in; c++) {
        const float *xc = x + c * H * W;
        memset(p, 0, sizeof(float) * (size_t)(pt * g->wp + pl));
        p += pt * g->wp + pl;
        for (int64_t h = 0; h < H; h++) {
            memcpy(p, xc + h * W, sizeof(float) * (size_t)W);
            p += W;
            // Right pad of this row and left pad of the next, in one go.
            int64_t gap = h + 1 < H ? pr + pl : pr;
            memset(p, 0, sizeof(float) * (size_t)gap);
            p += gap;
        }
        int64_t rest = (g->hp - pt - H) * g->wp;
        memset(p, 0, sizeof(float) * (size_t)rest);
        p += rest;
    }
    memset(p, 0, sizeof(float) * (floats - (size_t)(p - xp)));
}

struct s1_task {
    const struct qs_f32_kernels *kt;
    const struct qs_f32_conv_s1 *cv;
    const float *x, *wpk, *b;
    float lo, hi;
    float *y;
    size_t ldy, n;
};

static void s1_run(void *ctx, size_t begin, size_t end) {
    const struct s1_task *t = ctx;
    size_t p0 = begin * QS_F32_CONV_NR, p1 = end * QS_F32_CONV_NR;
    t->kt->conv_s1(t->cv, t->x, t->wpk, t->b, t->lo, t->hi, p0, p1 < t->n ? p1 : t->n, t->y,
                   t->ldy);
}

static void conv_s1(const struct qs_f32_conv_desc *d, const float *x, const float *wpk,
                    const float *b, float *y, void *scratch, qs_pool_t *pool) {
    struct s1_geom g;
    size_t in_floats, out_floats;
    s1_geom(d, &g);
    s1_scratch(d, &g, &in_floats, &out_floats);
    int64_t off[64];
    int64_t *offs = g.taps <= 64 ? off : NULL;
    QS_ASSERT(offs);  // callers take this path only for kernels of at most 64 taps
    for (int64_t kh = 0, t = 0; kh < d->win.k[1]; kh++)
        for (int64_t kw = 0; kw < d->win.k[2]; kw++)
            offs[t++] = kh * d->win.dil[1] * g.wp + kw * d->win.dil[2];
    const struct qs_f32_conv_s1 cv = {(size_t)d->c_out, (size_t)d->c_in, (size_t)g.taps, offs,
                                      (size_t)g.plane, qs__f32_kernels()->conv_mr};
    float *xp = scratch, *yt = (float *)scratch + in_floats;
    const int64_t inv = qs__f32_window_in_size(&d->win);
    const int64_t outv = qs__f32_window_out_size(&d->win), ow = d->win.out[2];
    const size_t tiles = ((size_t)g.n + QS_F32_CONV_NR - 1) / QS_F32_CONV_NR;
    for (int64_t n = 0; n < d->batch; n++) {
        const float *xn = x + n * d->c_in * inv;
        float *yn = y + n * d->c_out * outv;
        if (!g.direct_in) pad_image(d, &g, xn, xp, in_floats);
        struct s1_task t = {qs__f32_kernels(), &cv, g.direct_in ? xn : xp, wpk, b, d->lo, d->hi,
                            g.direct_out ? yn : yt, g.direct_out ? (size_t)g.n : align16(g.n),
                            (size_t)g.n};
        qs__pool_run(pool, tiles, s1_run, &t);
        if (!g.direct_out) {
            // Drop the columns that only exist in the padded width.
            for (int64_t m = 0; m < d->c_out; m++)
                for (int64_t oh = 0; oh < d->win.out[1]; oh++)
                    memcpy(yn + (m * d->win.out[1] + oh) * ow,
                           yt + (size_t)m * align16(g.n) + (size_t)(oh * g.wp),
                           sizeof(float) * (size_t)ow);
        }
    }
}

// Any other group-1 conv: im2col (skipped for 1x1 stride-1 unpadded), then the packed
// kernel as a 1x1 conv with k = c_in * kvol "channels" of outv positions each.
static void conv_im2col_packed(const struct qs_f32_conv_desc *d, const float *x,
                               const float *wpk, const float *b, float *y, void *scratch,
                               qs_pool_t *pool) {
    const int64_t inv = qs__f32_window_in_size(&d->win);
    const int64_t outv = qs__f32_window_out_size(&d->win);
    const int64_t K = d->c_in * qs__f32_window_k_size(&d->win);
    const bool pointwise = is_pointwise(&d->win);
    const int64_t off0 = 0;
    const struct qs_f32_conv_s1 cv = {(size_t)d->c_out, (size_t)K, 1, &off0, (size_t)outv,
                                      qs__f32_kernels()->conv_mr};
    const size_t tiles = ((size_t)outv + QS_F32_CONV_NR - 1) / QS_F32_CONV_NR;
    for (int64_t n = 0; n < d->batch; n++) {
        const float *xn = x + n * d->c_in * inv;
        if (!pointwise) qs__f32_im2col(&d->win, d->c_in, xn, scratch);
        struct s1_task t = {qs__f32_kernels(), &cv, pointwise ? xn : scratch, wpk, b, d->lo,
                            d->hi, y + n * d->c_out * outv, (size_t)outv, (size_t)outv};
        qs__pool_run(pool, tiles, s1_run, &t);
    }
}

void qs__f32_conv(const struct qs_f32_conv_desc *d, const float *x, const float *w,
                  const float *wpk, const float *b, float *y, void *scratch, qs_pool_t *pool) {
    const struct qs_f32_kernels *kt = qs__f32_kernels();
    if (wpk && s1_eligible(d)) {
        conv_s1(d, x, wpk, b, y, scratch, pool);
        return;
    }
    if (wpk && packed_eligible(d)) {
        conv_im2col_packed(d, x, wpk, b, y, scratch, pool);
        return;
    }
    if (qs__f32_conv_is_depthwise(d)) {
        struct dw_task t = {d, kt, x, w, b, y};
        qs__pool_run(pool, (size_t)(d->batch * d->c_out), dw_run, &t);
        return;
    }
    const int64_t inv = qs__f32_window_in_size(&d->win);
    const int64_t outv = qs__f32_window_out_size(&d->win);
    const int64_t cig = d->c_in / d->groups, cog = d->c_out / d->groups;
    const int64_t K = cig * qs__f32_window_k_size(&d->win);
    const bool pointwise = is_pointwise(&d->win);
    const bool epilogue = b || d->lo > -INFINITY || d->hi < INFINITY;
    float *col = scratch;
    for (int64_t n = 0; n < d->batch; n++)
        for (int64_t g = 0; g < d->groups; g++) {
            const float *xg = x + (n * d->c_in + g * cig) * inv;
            float *yg = y + (n * d->c_out + g * cog) * outv;
            if (!pointwise) qs__f32_im2col(&d->win, cig, xg, col);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cog, (int)outv, (int)K,
                        1.0f, w + g * cog * K, (int)K, pointwise ? xg : col, (int)outv, 0.0f,
                        yg, (int)outv);
            if (epilogue)
                kt->bias_act((size_t)cog, (size_t)outv, yg, (size_t)outv, b ? b + g * cog : NULL,
                             d->lo, d->hi);
        }
}

void qs__f32_conv_direct_ref(const struct qs_f32_conv_desc *d, const float *x,
                             const float *w, const float *b, float *y) {
    const struct qs_f32_window *wn = &d->win;
    const int64_t inv = qs__f32_window_in_size(wn), kv = qs__f32_window_k_size(wn);
    const int64_t cig = d->c_in / d->groups, cog = d->c_out / d->groups;
    for (int64_t n = 0; n < d->batch; n++)
        for (int64_t co = 0; co < d->c_out; co++) {
            const int64_t g = co / cog;
            for (int64_t od = 0; od < wn->out[0]; od++)
                for (int64_t oh = 0; oh < wn->out[1]; oh++)
                    for (int64_t ow = 0; ow < wn->out[2]; ow++) {
                        double acc = b ? b[co] : 0.0;
                        for (int64_t ci = 0; ci < cig; ci++) {
                            const float *xc = x + (n * d->c_in + g * cig + ci) * inv;
                            const float *wc = w + (co * cig + ci) * kv;
                            for (int64_t kd = 0; kd < wn->k[0]; kd++) {
                                int64_t id = od * wn->stride[0] - wn->pad[0] + kd * wn->dil[0];
                                if (id < 0 || id >= wn->in[0]) continue;
                                for (int64_t kh = 0; kh < wn->k[1]; kh++) {
                                    int64_t ih =
                                        oh * wn->stride[1] - wn->pad[1] + kh * wn->dil[1];
                                    if (ih < 0 || ih >= wn->in[1]) continue;
                                    for (int64_t kw = 0; kw < wn->k[2]; kw++) {
                                        int64_t iw =
                                            ow * wn->stride[2] - wn->pad[2] + kw * wn->dil[2];
                                        if (iw < 0 || iw >= wn->in[2]) continue;
                                        acc += (double)wc[(kd * wn->k[1] + kh) * wn->k[2] + kw] *
                                               xc[(id * wn->in[1] + ih) * wn->in[2] + iw];
                                    }
                                }
                            }
                        }
                        float v = (float)acc;
                        v = v < d->lo ? d->lo : v;
                        *y++ = v > d->hi ? d->hi : v;
                    }
        }
}

size_t qs__f32_conv_transpose_scratch_bytes(const struct qs_f32_conv_desc *d) {
    int64_t m = d->c_out / d->groups * qs__f32_window_k_size(&d->win);
    return sizeof(float) * (size_t)(m * qs__f32_window_out_size(&d->win));
}

void qs__f32_conv_transpose(const struct qs_f32_conv_desc *d, const float *x,
                            const float *w, const float *b, float *y, void *scratch) {
    const struct qs_f32_kernels *kt = qs__f32_kernels();
    const int64_t yv = qs__f32_window_in_size(&d->win);   // output image
    const int64_t xv = qs__f32_window_out_size(&d->win);  // input image
    const int64_t kv = qs__f32_window_k_size(&d->win);
    const int64_t cig = d->c_in / d->groups, cog = d->c_out / d->groups;
    const int64_t M = cog * kv;
    float *col = scratch;
    for (int64_t n = 0; n < d->batch; n++)
        for (int64_t g = 0; g < d->groups; g++) {
            const float *xg = x + (n * d->c_in + g * cig) * xv;
            float *yg = y + (n * d->c_out + g * cog) * yv;
            // col[cog*kv, xv] = w_g^T * x_g where w_g is [cig, cog*kv].
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)M, (int)xv, (int)cig, 1.0f,
                        w + g * cig * M, (int)M, xg, (int)xv, 0.0f, col, (int)xv);
            memset(yg, 0, sizeof(float) * (size_t)(cog * yv));
            qs__f32_col2im_add(&d->win, cog, col, yg);
            kt->bias_act((size_t)cog, (size_t)yv, yg, (size_t)yv, b ? b + g * cog : NULL, d->lo,
                         d->hi);
        }
}

void qs__f32_conv_transpose_direct_ref(const struct qs_f32_conv_desc *d, const float *x,
                                       const float *w, const float *b, float *y) {
    const struct qs_f32_window *wn = &d->win;
    const int64_t yv = qs__f32_window_in_size(wn), xv = qs__f32_window_out_size(wn);
    const int64_t kv = qs__f32_window_k_size(wn);
    const int64_t cig = d->c_in / d->groups, cog = d->c_out / d->groups;
    for (int64_t n = 0; n < d->batch; n++)
        for (int64_t co = 0; co < d->c_out; co++) {
            float *yc = y + (n * d->c_out + co) * yv;
            for (int64_t i = 0; i < yv; i++) yc[i] = b ? b[co] : 0.0f;
        }
    for (int64_t n = 0; n < d->batch; n++)
        for (int64_t ci = 0; ci < d->c_in; ci++) {
            const int64_t g = ci / cig;
            const float *xc = x + (n * d->c_in + ci) * xv;
            for (int64_t col = 0; col < cog; col++) {
                const int64_t co = g * cog + col;
                float *yc = y + (n * d->c_out + co) * yv;
                const float *wc = w + (ci * cog + col) * kv;
                for (int64_t od = 0; od < wn->out[0]; od++)
                    for (int64_t oh = 0; oh < wn->out[1]; oh++)
                        for (int64_t ow = 0; ow < wn->out[2]; ow++) {
                            float xvv = xc[(od * wn->out[1] + oh) * wn->out[2] + ow];
                            for (int64_t kd = 0; kd < wn->k[0]; kd++) {
                                int64_t id = od * wn->stride[0] - wn->pad[0] + kd * wn->dil[0];
                                if (id < 0 || id >= wn->in[0]) continue;
                                for (int64_t kh = 0; kh < wn->k[1]; kh++) {
                                    int64_t ih =
                                        oh * wn->stride[1] - wn->pad[1] + kh * wn->dil[1];
                                    if (ih < 0 || ih >= wn->in[1]) continue;
                                    for (int64_t kw = 0; kw < wn->k[2]; kw++) {
                                        int64_t iw =
                                            ow * wn->stride[2] - wn->pad[2] + kw * wn->dil[2];
                                        if (iw < 0 || iw >= wn->in[2]) continue;
                                        yc[(id * wn->in[1] + ih) * wn->in[2] + iw] +=
                                            xvv * wc[(kd * wn->k[1] + kh) * wn->k[2] + kw];
                                    }
                                }
                            }
                        }
            }
        }
    const int64_t total = d->batch * d->c_out * yv;
    for (int64_t i = 0; i < total; i++) {
        float v = y[i] < d->lo ? d->lo : y[i];
        y[i] = v > d->hi ? d->hi : v;
    }
}
