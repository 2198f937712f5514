// QLinearConv (opset 10) and ConvInteger (opset 10): 1-D to 3-D, groups, strides, pads,
// dilations, auto_pad; uint8 or int8 input, weights and output; weight scales and zero
// points per tensor or per output channel; int32 bias; the node's fused Relu/Clip as an
// integer clamp. Weights are packed once at prepare. Per image and group the op runs
//  - depthwise (group == C == M, 1-D/2-D): the int8 depthwise kernel, NCHW in and out;
//  - 1x1, stride 1, no padding, uint8 input: the GEMM straight on the NCHW input;
//  - 2-D (or 1-D), stride 1, one group, uint8 input, rows that fill the kernel's tiles: the
//    direct convolution (qs__qdconv_run: the image is interleaved by 4 channels once and
//    the kernel reads its taps from that, nothing packed per tile);
//  - 2-D (or 1-D) with a kernel variant that packs conv panels itself: the implicit GEMM
//    (qs__qgemm_conv_run: panels packed straight from the image, no im2col buffer);
//  - otherwise: im2col tiles of at most ~1 MiB (padding taps read the zero point, int8
//    input is flipped to uint8) and the GEMM, writing the NCHW output in place.
// QS_CONV_IM2COL=1 in the environment forces the im2col path (benchmarks, A/B checks);
// QS_CONV_DIRECT=0 turns the direct convolution off (the implicit GEMM instead).
// ConvInteger is the same product with the raw int32 accumulator as output.
#include "ir/ops/qlinear-impl.h"
#include "ir/ops/qsparse.h"

#include <limits.h>

enum { QC_X, QC_XS, QC_XZ, QC_W, QC_WS, QC_WZ, QC_YS, QC_YZ, QC_B };  // QLinearConv inputs
enum { CI_X, CI_W, CI_XZ, CI_WZ };                                     // ConvInteger inputs

#define IM2COL_TILE_BYTES ((size_t)1 << 20)

struct qconv {
    bool integer;  // ConvInteger
    int nsp;
    struct qs_f32_window win;
    int64_t batch, c_in, c_out, groups;
    size_t cg, mg, kvol, kg, p, in_plane;
    enum qs_dtype xt, wt, yt;
    // prepare
    bool dw, direct, implicit;
    struct qs_qconv_shape cs;    // implicit GEMM geometry (one group)
    void *conv_rows;             // its row table (cs.rows)
    struct qs_qlin_weights *wg;  // [groups]
    int8_t *dw_w;                // depthwise [C][kh][kw]
    struct qs_qdwconv_shape dws;
    float *scale;                // [M]
    int32_t *bias;               // [M] or NULL
    struct qs_qgemm_params params;
    uint8_t flip;                // 0x80 for int8 input
    size_t pt;                   // im2col columns per tile
    size_t col_bytes;            // im2col buffer (or flipped input for depthwise)
    struct qs_qsparse *sp;       // pruned 1x1 weights on the sparse kernels, or NULL
    qs_qdconv *dconv;            // the direct convolution, or NULL
};

static const qs_view *in_opt(const qs_kctx *k, int i) {
    return i < k->n_in ? k->in[i] : NULL;
}

static bool is_8bit(enum qs_dtype dt) {
    return dt == QS_DTYPE_U8 || dt == QS_DTYPE_I8;
}

static enum qs_status conv_desc(qs_kctx *k, bool integer, struct qconv *d) {
    memset(d, 0, sizeof *d);
    d->integer = integer;
    const int ix = integer ? CI_X : QC_X, iw = integer ? CI_W : QC_W;
    enum qs_status st = qs__nn_require(k, integer ? 2 : 8);
    if (st != QS_STATUS_OK) return st;
    const qs_view *x = k->in[ix], *w = k->in[iw];
    if (!is_8bit(x->dtype) || !is_8bit(w->dtype))
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                           "input %s and weight %s: only uint8 and int8 are supported",
                           qs_dtype_name(x->dtype), qs_dtype_name(w->dtype));
    int64_t group;
    if ((st = qs__nn_conv_geometry(k, x, w, &group, &d->win)) != QS_STATUS_OK) return st;
    const int nsp = x->rank - 2;
    const int64_t m = w->dims[0];
    if (integer) {
        if ((st = qs__qlin_check_zp(k, CI_XZ, "x_zero_point", x->dtype, 0)) != QS_STATUS_OK ||
            (st = qs__qlin_check_zp(k, CI_WZ, "w_zero_point", w->dtype, m)) != QS_STATUS_OK)
            return st;
        d->yt = QS_DTYPE_I32;
    } else {
        const qs_view *yz = k->in[QC_YZ], *b = in_opt(k, QC_B);
        if ((st = qs__qlin_check_scale(k, QC_XS, "x_scale", 0)) != QS_STATUS_OK ||
            (st = qs__qlin_check_zp(k, QC_XZ, "x_zero_point", x->dtype, 0)) != QS_STATUS_OK ||
            (st = qs__qlin_check_scale(k, QC_WS, "w_scale", m)) != QS_STATUS_OK ||
            (st = qs__qlin_check_zp(k, QC_WZ, "w_zero_point", w->dtype, m)) != QS_STATUS_OK ||
            (st = qs__qlin_check_scale(k, QC_YS, "y_scale", 0)) != QS_STATUS_OK)
            return st;
        if (!is_8bit(yz->dtype))
            return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                               "y_zero_point has type %s (uint8 or int8 expected)",
                               qs_dtype_name(yz->dtype));
        if ((st = qs__qlin_check_zp(k, QC_YZ, "y_zero_point", yz->dtype, 0)) != QS_STATUS_OK)
            return st;
        if (b && (b->dtype != QS_DTYPE_I32 || b->rank != 1 || b->dims[0] != m))
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "bias must be int32 [%lld], got %s of %lld",
                               (long long)m, qs_dtype_name(b->dtype), (long long)b->numel);
        d->yt = yz->dtype;
    }
    d->nsp = nsp;
    d->batch = x->dims[0];
    d->c_in = x->dims[1];
    d->c_out = m;
    d->groups = group;
    d->xt = x->dtype;
    d->wt = w->dtype;
    d->cg = (size_t)(d->c_in / group);
    d->mg = (size_t)(m / group);
    d->kvol = (size_t)qs__f32_window_k_size(&d->win);
    d->kg = d->cg * d->kvol;
    d->p = (size_t)qs__f32_window_out_size(&d->win);
    d->in_plane = (size_t)qs__f32_window_in_size(&d->win);
    if (d->kg > INT_MAX || d->p > INT_MAX)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "convolution too large");
    return QS_STATUS_OK;
}

static enum qs_status conv_infer_common(qs_kctx *k, bool integer) {
    struct qconv d;
    enum qs_status st = conv_desc(k, integer, &d);
    if (st != QS_STATUS_OK) return st;
    int64_t dims[QS_MAX_RANK];
    dims[0] = d.batch;
    dims[1] = d.c_out;
    for (int i = 0; i < d.nsp; i++) dims[2 + i] = d.win.out[3 - d.nsp + i];
    qs__view_set_shape(k->out[0], d.yt, d.nsp + 2, dims);
    return QS_STATUS_OK;
}

static enum qs_status qlinearconv_infer(qs_kctx *k) {
    return conv_infer_common(k, false);
}
static enum qs_status convinteger_infer(qs_kctx *k) {
    return conv_infer_common(k, true);
}

static void conv_release(void *state) {
    struct qconv *d = state;
    if (!d) return;
    if (d->wg)
        for (int64_t g = 0; g < d->groups; g++) qs__qlin_weights_free(&d->wg[g]);
    qs__free(d->wg);
    qs__free(d->dw_w);
    qs__qsparse_destroy(d->sp);
    qs__qdconv_destroy(d->dconv);
    qs__free(d->conv_rows);
    qs__free(d->scale);
    qs__free(d->bias);
    qs__free(d);
}

// A view of `zp` starting at element `off` (per-channel zero points of one group).
static qs_view zp_slice(const qs_view *zp, size_t off) {
    qs_view v = *zp;
    if (zp->numel > 1) v.data = (char *)zp->data + off * qs_dtype_size(zp->dtype);
    return v;
}

// The direct convolution's weights: W - w_zp as int8 (left NULL when some value does not
// fit, or the kernels cannot take them: the implicit GEMM runs instead).
static enum qs_status make_dconv(qs_kctx *k, struct qconv *d, const qs_view *w,
                                 const qs_view *wz) {
    const size_t m = (size_t)d->c_out, kg = d->kg;
    int8_t *wd = qs__malloc(m * kg + 1);
    if (!wd) return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    const bool w_signed = d->wt == QS_DTYPE_I8;
    bool fits = true;
    for (size_t c = 0; c < m && fits; c++) {
        const int32_t zp = wz ? qs__qlin_zp(wz, (int64_t)c) : 0;
        for (size_t i = 0; i < kg && fits; i++) {
            int32_t v = (w_signed ? ((const int8_t *)w->data)[c * kg + i]
                                  : ((const uint8_t *)w->data)[c * kg + i]) - zp;
            fits = v >= -128 && v <= 127;
            wd[c * kg + i] = (int8_t)v;
        }
    }
    enum qs_status st = QS_STATUS_OK;
    if (fits) {
        st = qs__qdconv_create(&d->cs, m, wd, NULL, &d->dconv);
        if (st == QS_STATUS_UNSUPPORTED_HW || st == QS_STATUS_INVALID_ARG) st = QS_STATUS_OK;
    }
    qs__free(wd);
    return st == QS_STATUS_OK ? st : QS_NODE_ERR(k, st, "out of memory packing weights");
}

static enum qs_status conv_prepare_common(qs_kctx *k, size_t *scratch_bytes, bool integer) {
    struct qconv *d = qs__calloc(1, sizeof *d);
    if (!d) return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    k->state = d;
    enum qs_status st = conv_desc(k, integer, d);
    if (st != QS_STATUS_OK) return st;
    const int iw = integer ? CI_W : QC_W;
    const qs_view *w = k->in[iw];
    if (!w->is_const)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "the weight must be a constant");
    if ((st = qs__qlin_require_const(k, integer ? CI_XZ : QC_XS, integer ? CI_WZ : QC_B)) !=
        QS_STATUS_OK)
        return st;
    const qs_view *xz = in_opt(k, integer ? CI_XZ : QC_XZ);
    const qs_view *wz = in_opt(k, integer ? CI_WZ : QC_WZ);
    const size_t m = (size_t)d->c_out;

    // Epilogue.
    d->flip = d->xt == QS_DTYPE_I8 ? 0x80 : 0;
    d->params.x_zp = (uint8_t)(qs__qlin_zp(xz, 0) ^ d->flip);
    if (!(d->scale = qs__malloc(sizeof(float) * m + 1)))
        return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    if (integer) {
        d->params.out_type = QS_QOUT_S32;
        for (size_t i = 0; i < m; i++) d->scale[i] = 1.0f;
    } else {
        const float xs = qs__qlin_scale(k->in[QC_XS], 0), ys = qs__qlin_scale(k->in[QC_YS], 0);
        for (size_t i = 0; i < m; i++)
            d->scale[i] = xs * qs__qlin_scale(k->in[QC_WS], (int64_t)i) / ys;
        d->params.out_type = d->yt == QS_DTYPE_U8 ? QS_QOUT_U8 : QS_QOUT_S8;
        d->params.out_zp = qs__qlin_zp(k->in[QC_YZ], 0);
        qs__qlin_range(d->yt, &d->params.qmin, &d->params.qmax);
        qs__qlin_act_clamp(k, ys, d->params.out_zp, &d->params.qmin, &d->params.qmax);
        const qs_view *b = in_opt(k, QC_B);
        if (b) {
            if (!(d->bias = qs__malloc(sizeof(int32_t) * m + 1)))
                return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
            memcpy(d->bias, b->data, sizeof(int32_t) * m);
        }
    }
    d->params.scale = d->scale;
    d->params.bias = d->bias;
    d->params.fmin = -INFINITY;
    d->params.fmax = INFINITY;

    // Depthwise when every channel is its own group and W - w_zp fits int8.
    const struct qs_f32_window *win = &d->win;
    bool dw = d->cg == 1 && d->mg == 1 && win->in[0] == 1 && win->k[0] == 1 && win->out[0] == 1;
    const bool w_signed = d->wt == QS_DTYPE_I8;
    const size_t kv = d->kvol;
    for (size_t c = 0; dw && c < m; c++)
        for (size_t t = 0; dw && t < kv; t++) {
            int32_t v = (w_signed ? ((const int8_t *)w->data)[c * kv + t]
                                  : ((const uint8_t *)w->data)[c * kv + t]) -
                        qs__qlin_zp(wz, (int64_t)c);
            dw = v >= -128 && v <= 127;
        }
    size_t scratch = 0;
    if (dw) {
        d->dw = true;
        if (!(d->dw_w = qs__malloc(m * kv + 1)))
            return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
        for (size_t c = 0; c < m; c++)
            for (size_t t = 0; t < kv; t++)
                d->dw_w[c * kv + t] =
                    (int8_t)((w_signed ? ((const int8_t *)w->data)[c * kv + t]
                                       : ((const uint8_t *)w->data)[c * kv + t]) -
                             qs__qlin_zp(wz, (int64_t)c));
        d->dws = (struct qs_qdwconv_shape){
            .channels = m, .in_h = (size_t)win->in[1], .in_w = (size_t)win->in[2],
            .out_h = (size_t)win->out[1], .out_w = (size_t)win->out[2],
            .kh = (size_t)win->k[1], .kw = (size_t)win->k[2],
            .stride_h = (size_t)win->stride[1], .stride_w = (size_t)win->stride[2],
            .dil_h = (size_t)win->dil[1], .dil_w = (size_t)win->dil[2],
            .pad_top = (size_t)win->pad[1], .pad_left = (size_t)win->pad[2]};
        d->col_bytes = d->flip ? ((size_t)d->c_in * d->in_plane + 63) & ~(size_t)63 : 0;
        scratch = d->col_bytes + qs__qlin_dwconv_scratch(&d->dws);
        *scratch_bytes = scratch;
        return QS_STATUS_OK;
    }

    if (!(d->wg = qs__calloc((size_t)d->groups, sizeof *d->wg)))
        return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    const size_t es = qs_dtype_size(d->wt);
    for (int64_t g = 0; g < d->groups; g++) {
        const size_t off = (size_t)g * d->mg;
        qs_view zs;
        if (wz) zs = zp_slice(wz, off);
        st = qs__qlin_weights_init(&d->wg[g], d->mg, d->kg,
                                   (const char *)w->data + off * d->kg * es, d->wt, d->kg, 1,
                                   wz ? &zs : NULL, wz && wz->numel > 1, false);
        if (st != QS_STATUS_OK) return QS_NODE_ERR(k, st, "out of memory packing weights");
    }
    bool direct = d->flip == 0;
    for (int i = 0; i < 3 && direct; i++)
        direct = win->k[i] == 1 && win->stride[i] == 1 && win->pad[i] == 0 &&
                 win->pad_end[i] == 0;
    d->direct = direct;
    if (direct && d->groups == 1) {  // pruned weights: sparse kernels when they pay
        st = qs__qsparse_prepare(k, m, d->kg, d->p, w->data, d->wt, d->kg, 1, wz,
                                 wz && wz->numel > 1, false, &d->sp, scratch_bytes);
        if (st != QS_STATUS_OK || d->sp) return st;
    }
    if (!direct && win->in[0] == 1 && win->k[0] == 1 && win->out[0] == 1 && win->pad[0] == 0) {
        d->cs = (struct qs_qconv_shape){
            .channels = d->cg, .in_h = (size_t)win->in[1], .in_w = (size_t)win->in[2],
            .out_h = (size_t)win->out[1], .out_w = (size_t)win->out[2],
            .kh = (size_t)win->k[1], .kw = (size_t)win->k[2],
            .stride_h = (size_t)win->stride[1], .stride_w = (size_t)win->stride[2],
            .dil_h = (size_t)win->dil[1], .dil_w = (size_t)win->dil[2],
            .pad_top = (size_t)win->pad[1], .pad_left = (size_t)win->pad[2], .flip = d->flip};
        const char *env = getenv("QS_CONV_IM2COL");
        bool ok = !(env && env[0] == '1');
        const char *denv = getenv("QS_CONV_DIRECT");
        if (ok && !(denv && denv[0] == '0') && d->groups == 1 &&
            qs__qdconv_supported(&d->cs, m, true)) {
            if ((st = make_dconv(k, d, w, wz)) != QS_STATUS_OK) return st;
            if (d->dconv) {
                *scratch_bytes = qs__qdconv_scratch_size(d->dconv);
                return QS_STATUS_OK;
            }
        }
        for (int64_t g = 0; g < d->groups && ok; g++)
            ok = d->wg[g].packed && qs__qgemm_conv_supported(d->wg[g].packed, &d->cs, true);
        if (ok) {
            if (!(d->conv_rows = qs__malloc(qs__qgemm_conv_rows_bytes(&d->cs) + 1)))
                return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
            qs__qgemm_conv_rows(&d->cs, d->conv_rows);
            d->cs.rows = d->conv_rows;
            d->implicit = true;
            size_t gs = 0;
            for (int64_t g = 0; g < d->groups; g++)
                gs = QS_MAX(gs, qs__qgemm_conv_scratch_size(d->wg[g].packed, &d->cs));
            *scratch_bytes = gs;
            return QS_STATUS_OK;
        }
    }
    size_t cols = d->p;
    if (!direct) {
        d->pt = d->p;
        if (d->kg * d->pt > IM2COL_TILE_BYTES)
            d->pt = QS_MIN(d->p, QS_MAX((size_t)256, (IM2COL_TILE_BYTES / d->kg) & ~(size_t)63));
        d->col_bytes = (d->kg * d->pt + 63) & ~(size_t)63;
        cols = d->pt;
    }
    size_t gs = 0;
    for (int64_t g = 0; g < d->groups; g++) gs = QS_MAX(gs, qs__qlin_gemm_scratch(&d->wg[g], cols));
    *scratch_bytes = d->col_bytes + gs;
    return QS_STATUS_OK;
}

static enum qs_status qlinearconv_prepare(qs_kctx *k, size_t *scratch_bytes) {
    return conv_prepare_common(k, scratch_bytes, false);
}
static enum qs_status convinteger_prepare(qs_kctx *k, size_t *scratch_bytes) {
    return conv_prepare_common(k, scratch_bytes, true);
}

// ---------------------------------------------------------------------------------------
// im2col: row r = (c, td, th, tw) of the group's K rows holds, for every output position p
// in [p0, p0 + pn), the input byte that tap reads (x_zp outside the image, sign bit flipped
// for int8 input). Output positions are walked row by row without divisions; a tap's valid
// output columns [ow_lo, ow_hi) are the same for every output row.

struct im2col_ctx {
    const struct qconv *d;
    const uint8_t *x;  // the group's first input channel
    size_t p0, pn;
    uint8_t *col;      // [kg][pn]
};

// memset for the few bytes of an edge (usually one or two): no call for those.
static inline void fill(uint8_t *dst, uint8_t v, int64_t n) {
    if (n <= 0) return;
    if (n <= 2) {
        dst[0] = v;
        dst[n - 1] = v;
        return;
    }
    memset(dst, v, (size_t)n);
}

static inline void copy_flip(uint8_t *dst, const uint8_t *src, size_t n, uint8_t flip) {
    if (!flip) {
        memcpy(dst, src, n);
        return;
    }
    for (size_t i = 0; i < n; i++) dst[i] = src[i] ^ 0x80;
}

static inline void gather_flip(uint8_t *dst, const uint8_t *src, size_t n, int64_t s,
                               uint8_t flip) {
    if (s == 2) {  // the common strided case, in a loop the compiler vectorizes
        for (size_t i = 0; i < n; i++) dst[i] = src[2 * i] ^ flip;
        return;
    }
    for (size_t i = 0; i < n; i++) dst[i] = src[(int64_t)i * s] ^ flip;
}

// Stride 1 and an output row as wide as the input row: position p reads x[p + off] for a
// fixed off, so a tap is one long copy plus the zero point where it leaves the image.
static void im2col_row_shift(const struct im2col_ctx *ic, const uint8_t *xplane, int64_t dy,
                             int64_t dx, uint8_t *dst) {
    const struct qs_f32_window *w = &ic->d->win;
    const uint8_t zp = ic->d->params.x_zp, flip = ic->d->flip;
    const int64_t W = w->in[2], H = w->in[1];
    const int64_t p0 = (int64_t)ic->p0, p1 = p0 + (int64_t)ic->pn;
    // Output rows whose input row exists, as positions, clipped to the tile.
    const int64_t a = QS_MAX(p0, QS_MAX(-dy, 0) * W), b = QS_MIN(p1, QS_MIN(H - dy, H) * W);
    if (a >= b) {
        memset(dst, zp, ic->pn);
        return;
    }
    const int64_t off = dy * W + dx;
    // Source indices must stay inside the plane; cells clipped here are edge columns.
    const int64_t ca = QS_MAX(a, -off), cb = QS_MIN(b, H * W - off);
    if (ca > p0) memset(dst, zp, (size_t)(ca - p0));
    if (cb > ca) copy_flip(dst + (ca - p0), xplane + ca + off, (size_t)(cb - ca), flip);
    if (p1 > cb) memset(dst + (cb - p0), zp, (size_t)(p1 - cb));
    if (dx == 0) return;
    // Columns that wrapped into the neighbouring input row: |dx| columns, each a strided
    // run of single bytes through the copied rows.
    const int64_t c_lo = dx > 0 ? W - dx : 0, c_hi = dx > 0 ? W : -dx;
    for (int64_t col = QS_MAX(c_lo, 0); col < QS_MIN(c_hi, W); col++) {
        int64_t q = a - a % W + col;
        if (q < a) q += W;
        for (; q < b; q += W) dst[q - p0] = zp;
    }
}

static void im2col_task(void *ctx, size_t begin, size_t end) {
    const struct im2col_ctx *ic = ctx;
    const struct qconv *d = ic->d;
    const struct qs_f32_window *w = &d->win;
    const uint8_t zp = d->params.x_zp, flip = d->flip;
    const int64_t ow_n = w->out[2], oh_n = w->out[1];
    const int64_t s = w->stride[2], in_w = w->in[2];
    const bool shift = w->in[0] == 1 && w->k[0] == 1 && w->out[0] == 1 && w->stride[1] == 1 &&
                       s == 1 && ow_n == in_w && oh_n == w->in[1];
    const int64_t p0 = (int64_t)ic->p0;
    const int64_t ow_start = p0 % ow_n, row_start = p0 / ow_n;
    // Row r is channel c, tap (td, th, tw); advanced without divisions.
    size_t c = begin / d->kvol;
    const size_t t0 = begin % d->kvol;
    int64_t tw = (int64_t)t0 % w->k[2], th = (int64_t)t0 / w->k[2] % w->k[1];
    int64_t td = (int64_t)t0 / (w->k[2] * w->k[1]);
    for (size_t r = begin; r < end; r++) {
        if (r > begin && ++tw == w->k[2]) {
            tw = 0;
            if (++th == w->k[1]) {
                th = 0;
                if (++td == w->k[0]) {
                    td = 0;
                    c++;
                }
            }
        }
        const uint8_t *xc = ic->x + c * d->in_plane;
        uint8_t *dst = ic->col + r * ic->pn;
        const int64_t base = tw * w->dil[2] - w->pad[2];  // iw = ow * s + base
        if (shift) {
            im2col_row_shift(ic, xc, th * w->dil[1] - w->pad[1], base, dst);
            continue;
        }
        // Output columns whose tap lands inside the row: 0 <= ow * s + base < in_w.
        const int64_t ow_lo = base < 0 ? (-base + s - 1) / s : 0;
        const int64_t ow_hi = in_w - 1 - base < 0 ? 0 : QS_MIN(ow_n, (in_w - 1 - base) / s + 1);
        int64_t ow = ow_start, oh = row_start % oh_n, od = row_start / oh_n;
        size_t p = 0;
        while (p < ic->pn) {
            const size_t seg = QS_MIN((size_t)(ow_n - ow), ic->pn - p);
            uint8_t *o = dst + p;
            const int64_t id = od * w->stride[0] - w->pad[0] + td * w->dil[0];
            const int64_t ih = oh * w->stride[1] - w->pad[1] + th * w->dil[1];
            if (id < 0 || id >= w->in[0] || ih < 0 || ih >= w->in[1] || ow_lo >= ow_hi) {
                memset(o, zp, seg);
            } else {
                const uint8_t *xr = xc + (id * w->in[1] + ih) * in_w;
                const int64_t e = ow + (int64_t)seg;  // columns [ow, e) of this output row
                const int64_t lo = QS_MIN(QS_MAX(ow, ow_lo), e), hi = QS_MAX(QS_MIN(e, ow_hi), lo);
                fill(o, zp, lo - ow);
                if (s == 1) copy_flip(o + (lo - ow), xr + lo + base, (size_t)(hi - lo), flip);
                else gather_flip(o + (lo - ow), xr + lo * s + base, (size_t)(hi - lo), s, flip);
                fill(o + (hi - ow), zp, e - hi);
            }
            p += seg;
            ow = 0;
            if (++oh == oh_n) {
                oh = 0;
                od++;
            }
        }
    }
}

static enum qs_status conv_run(qs_kctx *k) {
    const struct qconv *d = k->state;
    const bool integer = d->integer;
    const uint8_t *x = k->in[integer ? CI_X : QC_X]->data;
    char *y = k->out[0]->data;
    const size_t ys = qs_dtype_size(d->yt), m = (size_t)d->c_out;
    const size_t x_img = (size_t)d->c_in * d->in_plane, y_img = m * d->p;
    uint8_t *col = k->scratch;
    void *gscratch = (char *)k->scratch + d->col_bytes;
    if (d->dconv) {  // (one group only) all images in one call
        struct qs_qgemm_params pg = d->params;
        pg.scale = d->scale;
        pg.bias = d->bias;
        qs__qdconv_run(d->dconv, x, x_img, (size_t)d->batch, y, y_img, d->p, &pg, k->scratch,
                       k->pool);
        return QS_STATUS_OK;
    }
    for (int64_t b = 0; b < d->batch; b++) {
        const uint8_t *xb = x + (size_t)b * x_img;
        char *yb = y + (size_t)b * y_img * ys;
        if (d->dw) {
            const uint8_t *src = xb;
            if (d->flip) {
                qs__qlin_flip_copy(col, xb, x_img);
                src = col;
            }
            qs__qlin_dwconv_run(&d->dws, src, d->dw_w, yb, &d->params, gscratch, k->pool);
            continue;
        }
        for (int64_t g = 0; g < d->groups; g++) {
            struct qs_qgemm_params pg = d->params;
            const size_t off = (size_t)g * d->mg;
            pg.scale = d->scale + off;
            pg.bias = d->bias ? d->bias + off : NULL;
            const uint8_t *xg = xb + (size_t)g * d->cg * d->in_plane;
            char *yg = yb + off * d->p * ys;
            if (d->sp) {
                qs__qsparse_run(d->sp, xg, d->p, yg, d->p, &pg, k->scratch, k->pool);
                continue;
            }
            if (d->implicit) {
                qs__qgemm_conv_run(d->wg[g].packed, &d->cs, xg, yg, d->p, &pg, k->scratch,
                                   k->pool);
                continue;
            }
            if (d->direct) {
                qs__qlin_gemm_run(&d->wg[g], d->p, xg, d->in_plane, 1, NULL, yg, d->p, 1, &pg,
                                  gscratch, k->pool);
                continue;
            }
            for (size_t p0 = 0; p0 < d->p; p0 += d->pt) {
                const size_t pn = QS_MIN(d->pt, d->p - p0);
                struct im2col_ctx ic = {d, xg, p0, pn, col};
                qs__pool_run(k->pool, d->kg, im2col_task, &ic);
                qs__qlin_gemm_run(&d->wg[g], pn, col, pn, 1, NULL, yg + p0 * ys, d->p, 1, &pg,
                                  gscratch, k->pool);
            }
        }
    }
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_qlinearconv = {
    .name = "QLinearConv",
    .min_inputs = 8, .max_inputs = 9, .min_outputs = 1, .max_outputs = 1,
    .infer = qlinearconv_infer, .prepare = qlinearconv_prepare, .run = conv_run,
    .release = conv_release,
};

const struct qs_op_def qs__opdef_convinteger = {
    .name = "ConvInteger",
    .min_inputs = 2, .max_inputs = 4, .min_outputs = 1, .max_outputs = 1,
    .infer = convinteger_infer, .prepare = convinteger_prepare, .run = conv_run,
    .release = conv_release,
};
