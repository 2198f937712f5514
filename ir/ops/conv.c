// Conv and ConvTranspose (opsets 1..21): 1-D to 3-D, groups, dilations, strides, pads and
// auto_pad, optional bias, the fused activation of the node. Compute lives in
// kernels/ref/f32-conv.c (im2col + sgemm, depthwise direct). A pruned constant weight
// (groups 1) runs on the sparse kernels (kernels/spmm.h) when the dispatcher says they beat
// the dense path for its shape: 1x1 convs read the image in place, others go through im2col.
//
// A session that fuses a residual Add into a Conv (qs__residual_fusion) gives the node a
// 4th input, the Add's other operand: y = act(conv(x) + b + sum). ONNX's Conv has at most 3
// inputs (the importer enforces it), so only such sessions build one.
#include "ir/ops/nn-impl.h"
#include "kernels/spmm.h"

#include <limits.h>

static enum qs_status conv_desc(qs_kctx *k, struct qs_f32_conv_desc *d) {
    enum qs_status st;
    if ((st = qs__nn_require(k, 2)) != QS_STATUS_OK ||
        (st = qs__nn_check_f32(k, 0, "input X")) != QS_STATUS_OK ||
        (st = qs__nn_check_f32(k, 1, "weight W")) != QS_STATUS_OK ||
        (st = qs__nn_check_f32(k, 2, "bias B")) != QS_STATUS_OK)
        return st;
    const qs_view *x = k->in[0], *w = k->in[1], *b = k->n_in > 2 ? k->in[2] : NULL;
    int64_t group;
    if ((st = qs__nn_conv_geometry(k, x, w, &group, &d->win)) != QS_STATUS_OK) return st;
    if (b && (b->rank != 1 || b->dims[0] != w->dims[0]))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "bias must have shape [%lld]",
                           (long long)w->dims[0]);
    d->batch = x->dims[0];
    d->c_in = x->dims[1];
    d->c_out = w->dims[0];
    d->groups = group;
    d->kt = NULL;
    qs__nn_act_bounds(k, &d->lo, &d->hi);
    return QS_STATUS_OK;
}

// cblas takes int dimensions.
static enum qs_status check_blas_dims(qs_kctx *k, const struct qs_f32_conv_desc *d) {
    int64_t kv = qs__f32_window_k_size(&d->win);
    int64_t m = QS_MAX(d->c_out, d->c_in) * kv;
    if (m > INT_MAX || qs__f32_window_out_size(&d->win) > INT_MAX ||
        qs__f32_window_in_size(&d->win) > INT_MAX)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "dimensions too large for sgemm");
    return QS_STATUS_OK;
}

static void set_out(qs_kctx *k, const struct qs_f32_conv_desc *d, bool transpose) {
    const qs_view *x = k->in[0];
    int64_t dims[QS_MAX_RANK];
    dims[0] = d->batch;
    dims[1] = d->c_out;
    const int nsp = x->rank - 2;
    for (int i = 0; i < nsp; i++)
        dims[2 + i] = transpose ? d->win.in[3 - nsp + i] : d->win.out[3 - nsp + i];
    qs__view_set_shape(k->out[0], k->in[0]->dtype, x->rank, dims);
}

static enum qs_status conv_infer(qs_kctx *k) {
    struct qs_f32_conv_desc d;
    enum qs_status st = conv_desc(k, &d);
    if (st != QS_STATUS_OK) return st;
    set_out(k, &d, false);
    return QS_STATUS_OK;
}

struct conv_state {
    struct qs_f32_conv_desc d;
    float *wpk;  // packed weights for the stride-1 path, or NULL
    qs_spmm_weights *sp;  // sparse weights when the layer runs sparse, or NULL
    bool direct;          // sparse 1x1 (stride 1, no padding): X is the image itself
    size_t col_bytes;     // sparse im2col buffer at the start of the scratch
};

static void conv_release(void *state) {
    struct conv_state *s = state;
    qs__aligned_free(s->wpk);
    qs__spmm_weights_destroy(s->sp);
    qs__free(s);
}

static bool is_pointwise(const struct qs_f32_window *w) {
    for (int i = 0; i < 3; i++)
        if (w->k[i] != 1 || w->stride[i] != 1 || w->pad[i] != 0 || w->in[i] != w->out[i])
            return false;
    return true;
}

#define COPY_MACS 30.0

// Packs a pruned constant weight for the sparse kernels when they pay for this shape.
static enum qs_status sparse_prepare(qs_kctx *k, struct conv_state *s) {
    const struct qs_f32_conv_desc *d = &s->d;
    if (d->groups != 1 || !k->in[1]->is_const || !k->in[1]->data) return QS_STATUS_OK;
    const size_t m = (size_t)d->c_out, kk = (size_t)(d->c_in * qs__f32_window_k_size(&d->win));
    const size_t n = (size_t)qs__f32_window_out_size(&d->win);
    size_t nnz = 0;
    enum qs_sparse_format f = qs__spmm_choose_format_f32(m, kk, k->in[1]->data, &nnz);
    // The dense path this replaces: the packed implicit-GEMM kernels, or im2col + sgemm.
    // The dispatcher's break-even is for the kernel alone; copies of the input (im2col for
    // a k x k conv, the kernel's panel copy) cost about COPY_MACS dense multiply-adds per
    // element, a share of the dense time of copies / M: few output channels (ResNet-56's
    // 16) leave nothing to gain (bench/spmm/models.sh).
    const enum qs_spmm_peer peer =
        qs__f32_conv_packed_size(d) ? QS_SPMM_PEER_F32_CONV : QS_SPMM_PEER_SGEMM;
    const bool direct = is_pointwise(&d->win);
    const double copies = direct ? 0.5 : 1.5, share = COPY_MACS * copies / (double)m;
    double be = qs__spmm_break_even_density(peer, f, m, kk, n) * (1.0 - share);
    // im2col per image of under 128 pixels (ResNet-56's 8x8 stage) measured slower at 95%.
    if (!direct && n < 128) be = 0.0;
    // Winograd runs the dense 3x3 convs it takes 1.7-3.1x faster than the direct kernel
    // the break-even was measured against (bench/f32-wino). An estimate, not a measured
    // break-even: at 90% sparsity bench/spmm/models.sh keeps ResNet-56 dense with it
    // (dispatcher 1.01x dense, every layer forced sparse 0.39x).
    struct qs_f32_wino wg;
    if (qs__f32_wino_plan(d, &wg)) be *= 0.5;
    const char *env = getenv("QS_SPMM");
    const bool forced = env && strcmp(env, "always") == 0, never = env && strcmp(env, "never") == 0;
    if (nnz == m * kk || never || (!forced && (double)nnz >= be * (double)(m * kk)))
        return QS_STATUS_OK;
    enum qs_status st = qs__spmm_pack_f32(f, m, kk, k->in[1]->data, kk, &s->sp);
    if (st != QS_STATUS_OK) return QS_NODE_ERR(k, st, "packing sparse weights");
    s->direct = direct;
    s->col_bytes = s->direct ? 0 : (sizeof(float) * kk * n + 63) / 64 * 64;
    qs__log(QS_LOG_DEBUG, "Conv '%s': sparse %s, %.1f%% zeros, %s", k->node->name,
            qs__sparse_format_name(f), 100.0 * (1.0 - (double)nnz / (double)(m * kk)),
            qs__spmm_kernel_name(s->sp));
    return QS_STATUS_OK;
}

// The fused residual (4th input), or NULL.
static const qs_view *sum_input(const qs_kctx *k) {
    return k->n_in > 3 ? k->in[3] : NULL;
}

static enum qs_status conv_prepare(qs_kctx *k, size_t *scratch_bytes) {
    struct conv_state *s = qs__calloc(1, sizeof *s);
    if (!s) return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    k->state = s;
    enum qs_status st = conv_desc(k, &s->d);
    if (st == QS_STATUS_OK) st = check_blas_dims(k, &s->d);
    if (st != QS_STATUS_OK) return st;
    const qs_view *sum = sum_input(k), *y = k->out[0];
    if (sum && (sum->dtype != QS_DTYPE_F32 || sum->numel != y->numel || sum->rank != y->rank ||
                memcmp(sum->dims, y->dims, sizeof(int64_t) * (size_t)y->rank) != 0))
        return QS_NODE_ERR(k, QS_STATUS_INTERNAL, "fused residual is not shaped like the output");
    if ((st = sparse_prepare(k, s)) != QS_STATUS_OK) return st;
    if (s->sp) {
        *scratch_bytes = s->col_bytes + qs__spmm_scratch_size(
            s->sp, (size_t)qs__f32_window_out_size(&s->d.win));
        return QS_STATUS_OK;
    }
    // Constant weights (every real model) are packed once for the implicit-GEMM path;
    // weights computed at run time go through im2col + sgemm.
    size_t packed = qs__f32_conv_packed_size(&s->d);
    if (packed && k->in[1]->is_const && k->in[1]->data) {
        if (!(s->wpk = qs__aligned_alloc(sizeof(float) * packed)))
            return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory packing weights");
        qs__f32_conv_pack(&s->d, k->in[1]->data, s->wpk);
    }
    *scratch_bytes = qs__f32_conv_scratch_bytes(&s->d, s->wpk != NULL);
    return QS_STATUS_OK;
}

static void sparse_run(qs_kctx *k, const struct conv_state *s, const struct qs_f32_conv_desc *d,
                       const float *bias, const float *sum) {
    const size_t invol = (size_t)qs__f32_window_in_size(&d->win);
    const size_t n = (size_t)qs__f32_window_out_size(&d->win);
    const float *x = k->in[0]->data;
    float *y = k->out[0]->data, *col = k->scratch;
    void *spmm_scratch = (char *)k->scratch + s->col_bytes;
    // The sparse kernels have no residual input: with one, they store unclamped values and
    // the residual and the clamp follow, image by image while it is in cache.
    const float lo = sum ? -INFINITY : d->lo, hi = sum ? INFINITY : d->hi;
    const size_t per_image = (size_t)d->c_out * n;
    for (int64_t b = 0; b < d->batch; b++) {
        const float *xb = x + (size_t)b * (size_t)d->c_in * invol;
        if (!s->direct) {
            qs__f32_im2col(&d->win, d->c_in, xb, col);
            xb = col;
        }
        float *yb = y + (size_t)b * per_image;
        qs__spmm_f32_run(s->sp, n, xb, n, yb, n, bias, lo, hi, spmm_scratch, k->pool);
        if (sum) qs__f32_add_clamp(per_image, yb, sum + (size_t)b * per_image, d->lo, d->hi);
    }
}

static enum qs_status conv_run(qs_kctx *k) {
    const struct conv_state *s = k->state;
    // The clamp comes from the node that runs: a session that fuses a residual Add shares
    // one prepared state between the fused node and the plain Conv it runs instead while
    // an observer watches every tensor, and the two have different activations.
    struct qs_f32_conv_desc d = s->d;
    qs__nn_act_bounds(k, &d.lo, &d.hi);
    const qs_view *b = k->n_in > 2 ? k->in[2] : NULL, *sum = sum_input(k);
    const float *bias = b ? b->data : NULL, *sum_data = sum ? sum->data : NULL;
    if (s->sp) {
        sparse_run(k, s, &d, bias, sum_data);
        return QS_STATUS_OK;
    }
    qs__f32_conv(&d, k->in[0]->data, k->in[1]->data, s->wpk, bias, sum_data, k->out[0]->data,
                 k->scratch, k->pool);
    return QS_STATUS_OK;
}

static void release_state(void *state) {
    qs__free(state);
}

const struct qs_op_def qs__opdef_conv = {
    .name = "Conv",
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = conv_infer, .prepare = conv_prepare, .run = conv_run, .release = conv_release,
};

// ---------------------------------------------------------------------------------------
// ConvTranspose. The kernels see it as the adjoint of a conv whose image is the output.

static int64_t floor_div2(int64_t a) {
    return a >= 0 ? a / 2 : -((-a + 1) / 2);
}

static enum qs_status convt_desc(qs_kctx *k, struct qs_f32_conv_desc *d) {
    enum qs_status st;
    if ((st = qs__nn_require(k, 2)) != QS_STATUS_OK ||
        (st = qs__nn_check_f32(k, 0, "input X")) != QS_STATUS_OK ||
        (st = qs__nn_check_f32(k, 1, "weight W")) != QS_STATUS_OK ||
        (st = qs__nn_check_f32(k, 2, "bias B")) != QS_STATUS_OK)
        return st;
    const qs_view *x = k->in[0], *w = k->in[1], *b = k->n_in > 2 ? k->in[2] : NULL;
    if (x->rank < 3 || w->rank != x->rank)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "input rank %d and weight rank %d, expected "
                           "[N, C, spatial...] and [C, M/group, kernel...]", x->rank, w->rank);
    const int nsp = x->rank - 2;
    if (nsp > 3)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                           "%d spatial dimensions (1 to 3 are supported)", nsp);
    const int64_t group = qs__attr_i(k->node, "group", 1);
    if (group < 1 || x->dims[1] != w->dims[0] || w->dims[0] % group != 0)
        return QS_NODE_ERR(k, QS_STATUS_PARSE,
                           "input has %lld channels, weight [%lld, %lld, ...] with group %lld",
                           (long long)x->dims[1], (long long)w->dims[0], (long long)w->dims[1],
                           (long long)group);
    const int64_t c_out = w->dims[1] * group;
    if (b && (b->rank != 1 || b->dims[0] != c_out))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "bias must have shape [%lld]", (long long)c_out);
    int64_t strides[3], dil[3], pads[6], opad[3];
    if ((st = qs__nn_ints(k, "strides", nsp, 1, 1, strides)) != QS_STATUS_OK ||
        (st = qs__nn_ints(k, "dilations", nsp, 1, 1, dil)) != QS_STATUS_OK ||
        (st = qs__nn_ints(k, "output_padding", nsp, 0, 0, opad)) != QS_STATUS_OK)
        return st;
    // Pads may be negative here: output_shape can ask for more than the natural size.
    if ((st = qs__nn_ints(k, "pads", 2 * nsp, 0, INT64_MIN, pads)) != QS_STATUS_OK) return st;
    int n_os = 0;
    const int64_t *os = qs__attr_ints(k->node, "output_shape", &n_os);
    if (os && n_os != nsp && n_os != nsp + 2)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "output_shape has %d values, expected %d", n_os,
                           nsp);
    if (os) os += n_os - nsp;
    const char *ap = qs__attr_s(k->node, "auto_pad", "NOTSET");
    const bool upper = strcmp(ap, "SAME_UPPER") == 0, lower = strcmp(ap, "SAME_LOWER") == 0;
    qs__f32_window_init(&d->win);
    for (int i = 0; i < nsp; i++) {
        const int j = 3 - nsp + i;
        const int64_t in = x->dims[2 + i], ek = (w->dims[2 + i] - 1) * dil[i] + 1;
        const int64_t natural = strides[i] * (in - 1) + opad[i] + ek;
        int64_t out, begin;
        if (os || upper || lower) {
            out = os ? os[i] : in * strides[i];
            const int64_t total = natural - out;
            // As the ONNX reference: SAME_UPPER puts the smaller half first; without
            // auto_pad the explicit pads (default 0) still give the start.
            begin = upper ? floor_div2(total) : lower ? total - floor_div2(total) : pads[i];
        } else {
            begin = pads[i];
            out = natural - pads[i] - pads[nsp + i];
        }
        if (out < 1)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "output size %lld in spatial dim %d",
                               (long long)out, i);
        d->win.in[j] = out;
        d->win.out[j] = in;
        d->win.k[j] = w->dims[2 + i];
        d->win.stride[j] = strides[i];
        d->win.dil[j] = dil[i];
        d->win.pad[j] = begin;
    }
    d->batch = x->dims[0];
    d->c_in = x->dims[1];
    d->c_out = c_out;
    d->groups = group;
    d->kt = NULL;
    qs__nn_act_bounds(k, &d->lo, &d->hi);
    return QS_STATUS_OK;
}

static enum qs_status convt_infer(qs_kctx *k) {
    struct qs_f32_conv_desc d;
    enum qs_status st = convt_desc(k, &d);
    if (st != QS_STATUS_OK) return st;
    set_out(k, &d, true);
    return QS_STATUS_OK;
}

static enum qs_status convt_prepare(qs_kctx *k, size_t *scratch_bytes) {
    struct qs_f32_conv_desc *d = qs__malloc(sizeof *d);
    if (!d) return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    k->state = d;
    enum qs_status st = convt_desc(k, d);
    if (st == QS_STATUS_OK) st = check_blas_dims(k, d);
    if (st != QS_STATUS_OK) return st;
    *scratch_bytes = qs__f32_conv_transpose_scratch_bytes(d);
    return QS_STATUS_OK;
}

static enum qs_status convt_run(qs_kctx *k) {
    const struct qs_f32_conv_desc *d = k->state;
    const qs_view *b = k->n_in > 2 ? k->in[2] : NULL;
    qs__f32_conv_transpose(d, k->in[0]->data, k->in[1]->data, b ? b->data : NULL,
                           k->out[0]->data, k->scratch);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_conv_transpose = {
    .name = "ConvTranspose",
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = convt_infer, .prepare = convt_prepare, .run = convt_run, .release = release_state,
};
