// Convolution and transposed convolution, plus naive oracles for the tests.
//
// Packed path (every group-1 conv whose weights are constant, packed once in prepare):
// 3x3 stride-1 convs with enough channels run Winograd F(4x4, 3x3) (kernels/ref/f32-wino.c).
// For the others the implicit-GEMM kernel (conv_s1) runs over the image itself (stride 1,
// same width: padding taps masked per lane), over a zero-padded copy (other stride-1
// convs), over the stride phases of the padded image (strided convs), or over im2col
// columns (the rest); see "Packed paths" below. Bias, the fused residual and the
// activation are applied in registers before the store.
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
// Packed paths: every group-1 conv whose weights are constant, packed once for the table's
// conv_mr (the same packing serves all of them).
//
//  S1_DIRECT  stride 1 and the output as wide as the input (same padding, 1x1 unpadded):
//             the kernel reads x in place; taps that fall in the padding are masked per
//             lane (tables with conv_s1_rows; unpadded 1x1 convs need no mask). No copy.
//  S1_PADDED  other stride-1 1-D/2-D convs: x is copied into a zero-padded image where
//             every tap is a constant shift; the kernel skips the padded columns when it
//             stores (conv_s1_rows), else they are computed into scratch and dropped.
//  PHASE      strided 1-D/2-D convs whose kernel spans the stride (conv_s1_rows): the
//             padded image is split into its stride phases (sh * sw planes, a
//             space-to-depth), where every tap is again a constant shift of one plane: a
//             3x3 stride-2 conv becomes a stride-1 conv with 2x2 shifts over 4 planes.
//  OC         column-stride-2 2-D convs in tables with conv_oc: x is copied into a
//             zero-padded image and conv_oc runs over output channels (no dropped
//             columns, no stride phases; packed with mr = QS_F32_CONV_OC_MR).
//  IM2COL     the rest: im2col (skipped for 1x1 stride-1 unpadded), then the kernel as a
//             1x1 conv with c_in * kvol "channels".

enum packed_path { P_S1_DIRECT, P_S1_PADDED, P_PHASE, P_OC, P_IM2COL };

struct pgeom {
    enum packed_path path;
    int64_t hq, wq;      // rows and columns of one plane of the kernel's input
    int64_t plane;       // floats per input channel of the kernel's input
    int64_t n;           // flat positions the kernel runs over (OC: position groups)
    int64_t row;         // positions per row (0: plain flat positions)
    int64_t taps, maxoff;
    bool masked;         // implicit padding (dy/dx)
    bool rows;           // the kernel takes row geometry and sum (conv_s1_rows)
    bool drop_copy;      // padded columns computed into scratch, then dropped by a copy
    size_t in_floats, out_floats;  // scratch: kernel input, dropped-column output
    int64_t off[64];
    int32_t dy[64], dx[64];
};

static const struct qs_f32_kernels *conv_table(const struct qs_f32_conv_desc *d) {
    return d->kt ? d->kt : qs__f32_kernels();
}

static size_t align16(int64_t n) {
    return ((size_t)n + 15) & ~(size_t)15;
}

// conv_oc takes strided convs with at least OC_MIN_C_OUT output channels (its lanes are
// output channels, 32 per tile, so fewer leave some idle), at least OC_MIN_TAPS taps and
// OC_MIN_K multiply-adds per output: it copies the whole image, which a short sum does not
// repay. Single thread, against the stride phases: 3x3 16->32 and 32->64 (CIFAR ResNet,
// K 144, 288) and 64->128 (K 576) 1.1-1.5x faster; SqueezeNet's 3x3 3->64 (K 27) 0.93x,
// 1x1 64->128 and 128->256 0.8x.
#define OC_MIN_C_OUT 32
#define OC_MIN_TAPS 4
#define OC_MIN_K 128

static void pgeom_init(const struct qs_f32_conv_desc *d, struct pgeom *g) {
    const struct qs_f32_kernels *kt = conv_table(d);
    const struct qs_f32_window *w = &d->win;
    memset(g, 0, sizeof *g);
    const int64_t taps = w->k[1] * w->k[2];
    const int64_t ekh = (w->k[1] - 1) * w->dil[1] + 1, ekw = (w->k[2] - 1) * w->dil[2] + 1;
    const int64_t sh = w->stride[1], sw = w->stride[2];
    const bool flat = w->in[0] == 1 && w->k[0] == 1 && w->out[0] == 1 && taps <= 64;
    const bool s1 = sh == 1 && sw == 1;
    const bool plain_1x1 = taps == 1 && w->pad[1] == 0 && w->pad[2] == 0 &&
                           w->out[1] == w->in[1] && w->out[2] == w->in[2];
    g->taps = taps;
    g->rows = kt->conv_s1_rows;
    if (flat && s1 && (plain_1x1 || (g->rows && w->out[2] == w->in[2]))) {
        g->path = P_S1_DIRECT;
        g->hq = w->in[1];
        g->wq = w->in[2];
        g->plane = g->hq * g->wq;
        g->n = w->out[1] * g->wq;
        g->row = plain_1x1 ? 0 : g->wq;
        g->masked = !plain_1x1;
        for (int64_t kh = 0, t = 0; kh < w->k[1]; kh++)
            for (int64_t kw = 0; kw < w->k[2]; kw++, t++) {
                g->dy[t] = (int32_t)(kh * w->dil[1] - w->pad[1]);
                g->dx[t] = (int32_t)(kw * w->dil[2] - w->pad[2]);
                g->off[t] = g->dy[t] * g->wq + g->dx[t];
            }
        return;
    }
    if (flat && sw == 2 && kt->conv_oc && d->c_out >= OC_MIN_C_OUT && taps >= OC_MIN_TAPS &&
        d->c_in * taps >= OC_MIN_K) {
        g->path = P_OC;
        // The padded image: every cell a tap reads, and all of x (pad_image copies it).
        g->hq = QS_MAX(sh * (w->out[1] - 1) + ekh, w->pad[1] + w->in[1]);
        g->wq = QS_MAX(2 * (w->out[2] - 1) + ekw, w->pad[2] + w->in[2]);
        g->plane = g->hq * g->wq;
        g->n = w->out[1] * ((w->out[2] + 7) / 8);
        for (int64_t kh = 0, t = 0; kh < w->k[1]; kh++)
            for (int64_t kw = 0; kw < w->k[2]; kw++, t++)
                g->off[t] = kh * w->dil[1] * g->wq + kw * w->dil[2];
        // Lanes of a group past the row's end read up to 14 floats beyond the last plane.
        g->in_floats = align16(d->c_in * g->plane + 16);
        return;
    }
    if (flat && (s1 || (g->rows && ekh >= sh && ekw >= sw))) {
        g->path = s1 ? P_S1_PADDED : P_PHASE;
        // Plane size: the padded image (stride 1) or one of its phases.
        g->hq = w->out[1] - 1 + (ekh + sh - 1) / sh;
        g->wq = w->out[2] - 1 + (ekw + sw - 1) / sw;
        g->plane = sh * sw * g->hq * g->wq;
        g->n = w->out[1] * g->wq;
        g->row = g->wq;
        for (int64_t kh = 0, t = 0; kh < w->k[1]; kh++)
            for (int64_t kw = 0; kw < w->k[2]; kw++, t++) {
                const int64_t rr = kh * w->dil[1], cc = kw * w->dil[2];
                g->off[t] = ((rr % sh * sw + cc % sw) * g->hq + rr / sh) * g->wq + cc / sw;
                g->maxoff = QS_MAX(g->maxoff, g->off[t]);
            }
        g->drop_copy = !g->rows && g->wq != w->out[2];
        g->in_floats = align16(d->c_in * g->plane + g->maxoff + 2 * QS_F32_CONV_NR);
        g->out_floats = g->drop_copy ? (size_t)d->c_out * align16(g->n) : 0;
        return;
    }
    g->path = P_IM2COL;
    g->taps = 1;
    g->n = qs__f32_window_out_size(w);
    g->plane = g->n;
    if (!is_pointwise(w))
        // Slack for the kernel's reads past the last column tile.
        g->in_floats = (size_t)(d->c_in * qs__f32_window_k_size(w) * g->n) + QS_F32_CONV_NR;
}

// Rows per packed weight block of the path the conv takes (Winograd aside).
static size_t packed_mr(const struct qs_f32_conv_desc *d) {
    struct pgeom g;
    pgeom_init(d, &g);
    return g.path == P_OC ? QS_F32_CONV_OC_MR : conv_table(d)->conv_mr;
}

size_t qs__f32_conv_packed_size(const struct qs_f32_conv_desc *d) {
    if (d->groups != 1) return 0;
    struct qs_f32_wino wg;
    if (qs__f32_wino_plan(d, &wg)) return qs__f32_wino_packed_size(&wg);
    return qs__f32_conv_s1_packed_size((size_t)d->c_out,
                                       (size_t)(d->c_in * qs__f32_window_k_size(&d->win)),
                                       packed_mr(d));
}

void qs__f32_conv_pack(const struct qs_f32_conv_desc *d, const float *w, float *packed) {
    struct qs_f32_wino wg;
    if (qs__f32_wino_plan(d, &wg)) {
        qs__f32_wino_pack(&wg, w, packed);
        return;
    }
    qs__f32_conv_s1_pack((size_t)d->c_out, (size_t)(d->c_in * qs__f32_window_k_size(&d->win)),
                         packed_mr(d), w, packed);
}

size_t qs__f32_conv_scratch_bytes(const struct qs_f32_conv_desc *d, bool packed) {
    if (packed && d->groups == 1) {
        struct qs_f32_wino wg;
        if (qs__f32_wino_plan(d, &wg)) return sizeof(float) * qs__f32_wino_scratch_floats(&wg);
        struct pgeom g;
        pgeom_init(d, &g);
        return sizeof(float) * (g.in_floats + g.out_floats);
    }
    if ((!packed && qs__f32_conv_is_depthwise(d)) || is_pointwise(&d->win)) return 0;
    int64_t k = d->c_in / d->groups * qs__f32_window_k_size(&d->win);
    return sizeof(float) * (size_t)(k * qs__f32_window_out_size(&d->win));
}

// x (one image) into the zero-padded image of the S1_PADDED and OC paths, the tail zeroed.
// Plain loops rather than memcpy/memset per row: rows are short (32 floats in a CIFAR
// ResNet), and the two library calls per row took 30% as long as the strided conv kernel
// they fed (perf, ResNet-20's 16-to-32-channel conv).
static void pad_image(const struct qs_f32_conv_desc *d, const struct pgeom *g,
                      const float *x, float *xp) {
    const struct qs_f32_window *w = &d->win;
    const int64_t H = w->in[1], W = w->in[2], pt = w->pad[1], pl = w->pad[2];
    const int64_t wq = g->wq, pr = wq - W - pl;
    float *p = xp;
    for (int64_t c = 0; c < d->c_in; c++) {
        const float *xc = x + c * H * W;
        for (int64_t i = 0; i < pt * wq + pl; i++) *p++ = 0.0f;
        for (int64_t h = 0; h < H; h++) {
            const float *src = xc + h * W;
            for (int64_t j = 0; j < W; j++) p[j] = src[j];
            p += W;
            // Right pad of this row and left pad of the next, in one go.
            const int64_t gap = h + 1 < H ? pr + pl : pr;
            for (int64_t j = 0; j < gap; j++) p[j] = 0.0f;
            p += gap;
        }
        const int64_t rest = (g->hq - pt - H) * wq;
        for (int64_t i = 0; i < rest; i++) *p++ = 0.0f;
    }
    memset(p, 0, sizeof(float) * (g->in_floats - (size_t)(p - xp)));
}

// x (one image) into the stride phases of its padded image: plane (a, b) of channel c
// holds padded[i * sh + a][j * sw + b] for i < hq, j < wq.
static void phase_split(const struct qs_f32_conv_desc *d, const struct pgeom *g,
                        const float *x, float *xp) {
    const struct qs_f32_window *w = &d->win;
    const int64_t H = w->in[1], W = w->in[2], pt = w->pad[1], pl = w->pad[2];
    const int64_t sh = w->stride[1], sw = w->stride[2];
    float *p = xp;
    for (int64_t c = 0; c < d->c_in; c++)
        for (int64_t a = 0; a < sh; a++)
            for (int64_t b = 0; b < sw; b++) {
                // Columns j with 0 <= j * sw + b - pl < W.
                const int64_t j_lo = QS_MIN(QS_MAX(ceil_div(pl - b, sw), 0), g->wq);
                const int64_t j_hi = QS_MAX(QS_MIN(ceil_div(W + pl - b, sw), g->wq), j_lo);
                for (int64_t i = 0; i < g->hq; i++, p += g->wq) {
                    const int64_t ih = i * sh + a - pt;
                    if (ih < 0 || ih >= H) {
                        memset(p, 0, sizeof(float) * (size_t)g->wq);
                        continue;
                    }
                    const float *src = x + (c * H + ih) * W + b - pl;
                    for (int64_t j = 0; j < j_lo; j++) p[j] = 0.0f;
                    // Stride 2 spelled out so that the compiler vectorizes it.
                    if (sw == 2)
                        for (int64_t j = j_lo; j < j_hi; j++) p[j] = src[2 * j];
                    else
                        for (int64_t j = j_lo; j < j_hi; j++) p[j] = src[j * sw];
                    for (int64_t j = j_hi; j < g->wq; j++) p[j] = 0.0f;
                }
            }
}

void qs__f32_add_clamp(size_t n, float *y, const float *s, float lo, float hi) {
    for (size_t i = 0; i < n; i++) {
        float v = y[i] + s[i];
        v = v < lo ? lo : v;
        y[i] = v > hi ? hi : v;
    }
}

struct s1_task {
    const struct qs_f32_kernels *kt;
    const struct qs_f32_conv_s1 *cv;
    const struct qs_f32_conv_oc *oc;  // the OC path instead of cv
    const float *x, *wpk, *b;
    float lo, hi;
    float *y;
    size_t ldy, n;
};

static void s1_run(void *ctx, size_t begin, size_t end) {
    const struct s1_task *t = ctx;
    if (t->oc) {  // tiles are position groups
        t->kt->conv_oc(t->oc, t->x, t->wpk, t->b, t->lo, t->hi, begin, end, t->y);
        return;
    }
    size_t p0 = begin * QS_F32_CONV_NR, p1 = end * QS_F32_CONV_NR;
    t->kt->conv_s1(t->cv, t->x, t->wpk, t->b, t->lo, t->hi, p0, p1 < t->n ? p1 : t->n, t->y,
                   t->ldy);
}

static void conv_packed(const struct qs_f32_conv_desc *d, const float *x, const float *wpk,
                        const float *b, const float *sum, float *y, void *scratch,
                        qs_pool_t *pool) {
    const struct qs_f32_kernels *kt = conv_table(d);
    struct pgeom g;
    pgeom_init(d, &g);
    const struct qs_f32_window *w = &d->win;
    const int64_t inv = qs__f32_window_in_size(w), outv = qs__f32_window_out_size(w);
    const int64_t k_ch = g.path == P_IM2COL ? d->c_in * qs__f32_window_k_size(w) : d->c_in;
    struct qs_f32_conv_s1 cv = {.m = (size_t)d->c_out, .c_in = (size_t)k_ch,
                                .taps = (size_t)g.taps, .off = g.off,
                                .plane = (size_t)g.plane, .mr = kt->conv_mr};
    if (g.rows && g.path != P_IM2COL) {
        cv.row = (size_t)g.row;
        cv.out_w = (size_t)w->out[2];
        if (g.masked) {
            cv.h = (size_t)g.hq;
            cv.dy = g.dy;
            cv.dx = g.dx;
        }
    }
    // The residual goes into the kernel's epilogue when it can take it; otherwise the
    // kernel stores unclamped values and qs__f32_add_clamp finishes.
    const bool sum_in_kernel = sum && (g.path == P_OC || (g.rows && !g.drop_copy));
    struct qs_f32_conv_oc oc = {.m = (size_t)d->c_out, .c_in = (size_t)d->c_in,
                                .taps = (size_t)g.taps, .off = g.off, .plane = (size_t)g.plane,
                                .wp = (size_t)g.wq, .sh = (size_t)w->stride[1],
                                .oh = (size_t)w->out[1], .ow = (size_t)w->out[2]};
    const bool sum_after = sum && !sum_in_kernel;
    float *xs = scratch, *yt = (float *)scratch + g.in_floats;
    const size_t tiles = g.path == P_OC ? (size_t)g.n
                                        : ((size_t)g.n + QS_F32_CONV_NR - 1) / QS_F32_CONV_NR;
    for (int64_t n = 0; n < d->batch; n++) {
        const float *xn = x + n * d->c_in * inv;
        float *yn = y + n * d->c_out * outv;
        const float *xk = xn;
        switch (g.path) {
        case P_S1_DIRECT: break;
        case P_S1_PADDED:
        case P_OC: pad_image(d, &g, xn, xs), xk = xs; break;
        case P_PHASE: phase_split(d, &g, xn, xs), xk = xs; break;
        case P_IM2COL:
            if (!is_pointwise(w)) qs__f32_im2col(w, d->c_in, xn, xs), xk = xs;
            break;
        }
        cv.sum = sum_in_kernel ? sum + n * d->c_out * outv : NULL;
        oc.sum = cv.sum;
        struct s1_task t = {kt, &cv, g.path == P_OC ? &oc : NULL, xk, wpk, b,
                            sum_after ? -INFINITY : d->lo, sum_after ? INFINITY : d->hi,
                            g.drop_copy ? yt : yn,
                            g.drop_copy ? align16(g.n) : (size_t)outv, (size_t)g.n};
        if (n + 1 < d->batch && g.path == P_OC) {
            // The next image into L2 while this one computes: the copy reads it from L3
            // (a layer's batch is larger than L2) and nothing overlaps that with compute.
            // ResNet-20's strided convs at batch 100: 1.49 -> 1.31 ms and 1.24 -> 1.18 ms.
            const char *nx = (const char *)(xn + d->c_in * inv);
            for (size_t o = 0; o < sizeof(float) * (size_t)(d->c_in * inv); o += 64)
                __builtin_prefetch(nx + o, 0, 2);
        }
        qs__pool_run(pool, tiles, s1_run, &t);
        if (g.drop_copy) {
            // Drop the columns that only exist in the padded width.
            for (int64_t m = 0; m < d->c_out; m++)
                for (int64_t oh = 0; oh < w->out[1]; oh++)
                    memcpy(yn + (m * w->out[1] + oh) * w->out[2],
                           yt + (size_t)m * align16(g.n) + (size_t)(oh * g.wq),
                           sizeof(float) * (size_t)w->out[2]);
        }
        if (sum_after)
            qs__f32_add_clamp((size_t)(d->c_out * outv), yn, sum + n * d->c_out * outv, d->lo, d->hi);
    }
}

void qs__f32_conv(const struct qs_f32_conv_desc *d, const float *x, const float *w,
                  const float *wpk, const float *b, const float *sum, float *y, void *scratch,
                  qs_pool_t *pool) {
    const struct qs_f32_kernels *kt = conv_table(d);
    if (wpk && d->groups == 1) {
        struct qs_f32_wino wg;
        if (qs__f32_wino_plan(d, &wg))
            qs__f32_wino_run(d, &wg, x, wpk, b, sum, y, scratch, pool);
        else
            conv_packed(d, x, wpk, b, sum, y, scratch, pool);
        return;
    }
    // Without the kernels' epilogue the residual is added last, before the clamp.
    const float lo = sum ? -INFINITY : d->lo, hi = sum ? INFINITY : d->hi;
    const int64_t outv = qs__f32_window_out_size(&d->win);
    if (qs__f32_conv_is_depthwise(d)) {
        struct qs_f32_conv_desc dd = *d;
        dd.lo = lo;
        dd.hi = hi;
        struct dw_task t = {&dd, kt, x, w, b, y};
        qs__pool_run(pool, (size_t)(d->batch * d->c_out), dw_run, &t);
    } else {
        const int64_t inv = qs__f32_window_in_size(&d->win);
        const int64_t cig = d->c_in / d->groups, cog = d->c_out / d->groups;
        const int64_t K = cig * qs__f32_window_k_size(&d->win);
        const bool pointwise = is_pointwise(&d->win);
        const bool epilogue = b || lo > -INFINITY || hi < INFINITY;
        float *col = scratch;
        for (int64_t n = 0; n < d->batch; n++)
            for (int64_t g = 0; g < d->groups; g++) {
                const float *xg = x + (n * d->c_in + g * cig) * inv;
                float *yg = y + (n * d->c_out + g * cog) * outv;
                if (!pointwise) qs__f32_im2col(&d->win, cig, xg, col);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cog, (int)outv,
                            (int)K, 1.0f, w + g * cog * K, (int)K, pointwise ? xg : col,
                            (int)outv, 0.0f, yg, (int)outv);
                if (epilogue)
                    kt->bias_act((size_t)cog, (size_t)outv, yg, (size_t)outv,
                                 b ? b + g * cog : NULL, lo, hi);
            }
    }
    if (sum) qs__f32_add_clamp((size_t)(d->batch * d->c_out * outv), y, sum, d->lo, d->hi);
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
