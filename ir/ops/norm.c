// BatchNormalization (inference mode), LayerNormalization (with the optional Mean and
// InvStdDev outputs) and InstanceNormalization.
#include "ir/ops/nn-impl.h"

static void release_state(void *state) {
    qs__free(state);
}

// Checks that input i is a float32 vector of n elements.
static enum qs_status check_vec(qs_kctx *k, int i, const char *what, int64_t n) {
    enum qs_status st = qs__nn_check_f32(k, i, what);
    if (st != QS_STATUS_OK) return st;
    const qs_view *v = k->in[i];
    if (v->numel != n || v->rank != 1)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "%s must have shape [%lld]", what, (long long)n);
    return QS_STATUS_OK;
}

// ---------------------------------------------------------------------------------------
// BatchNormalization: y = (x - mean) / sqrt(var + eps) * scale + bias per channel.

static enum qs_status bn_check(qs_kctx *k) {
    enum qs_status st;
    if ((st = qs__nn_require(k, 5)) != QS_STATUS_OK ||
        (st = qs__nn_check_f32(k, 0, "input X")) != QS_STATUS_OK)
        return st;
    if (qs__attr_i(k->node, "training_mode", 0) != 0)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "training_mode=1 is not supported");
    for (int o = 1; o < k->n_out; o++)
        if (k->out[o])
            return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                               "the training outputs (running/saved mean and variance) are not "
                               "supported");
    if (k->node->opset < 9 && qs__attr_i(k->node, "spatial", 1) == 0)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "spatial=0 is not supported");
    const qs_view *x = k->in[0];
    if (x->rank < 2)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "input has rank %d, expected [N, C, ...]",
                           x->rank);
    static const char *const names[] = {"", "scale", "bias B", "mean", "var"};
    for (int i = 1; i < 5; i++)
        if ((st = check_vec(k, i, names[i], x->dims[1])) != QS_STATUS_OK) return st;
    return QS_STATUS_OK;
}

static enum qs_status bn_infer(qs_kctx *k) {
    enum qs_status st = bn_check(k);
    if (st != QS_STATUS_OK) return st;
    qs__view_set_shape(k->out[0], k->in[0]->dtype, k->in[0]->rank, k->in[0]->dims);
    return QS_STATUS_OK;
}

static enum qs_status bn_prepare(qs_kctx *k, size_t *scratch) {
    enum qs_status st = bn_check(k);
    if (st != QS_STATUS_OK) return st;
    *scratch = 2 * sizeof(float) * (size_t)k->in[0]->dims[1];
    return QS_STATUS_OK;
}

struct plane_task {
    const struct qs_f32_kernels *kt;
    const float *x, *scale, *shift;
    float *y;
    int64_t c, plane;
    float eps;
};

static void bn_task(void *ctx, size_t begin, size_t end) {
    const struct plane_task *t = ctx;
    for (size_t p = begin; p < end; p++) {
        int64_t c = (int64_t)p % t->c, off = (int64_t)p * t->plane;
        t->kt->affine_rows(1, (size_t)t->plane, t->x + off, t->y + off, t->scale + c,
                           t->shift + c);
    }
}

static enum qs_status bn_run(qs_kctx *k) {
    const qs_view *x = k->in[0];
    const int64_t c = x->dims[1], plane = c ? x->numel / (x->dims[0] * c) : 0;
    if (x->numel == 0) return QS_STATUS_OK;
    const float *s = k->in[1]->data, *b = k->in[2]->data, *m = k->in[3]->data,
                *v = k->in[4]->data;
    const double eps = qs__attr_f(k->node, "epsilon", 1e-5f);
    float *scale = k->scratch, *shift = scale + c;
    for (int64_t i = 0; i < c; i++) {
        double sc = s[i] / sqrt((double)v[i] + eps);
        scale[i] = (float)sc;
        shift[i] = (float)(b[i] - m[i] * sc);
    }
    struct plane_task t = {qs__f32_kernels(), x->data, scale, shift, k->out[0]->data, c, plane,
                           0.0f};
    qs__pool_run(k->pool, (size_t)(x->dims[0] * c), bn_task, &t);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_batchnorm = {
    .name = "BatchNormalization",
    .min_inputs = 5, .max_inputs = 5, .min_outputs = 1, .max_outputs = 5,
    .infer = bn_infer, .prepare = bn_prepare, .run = bn_run,
};

// ---------------------------------------------------------------------------------------
// InstanceNormalization: per (n, c) plane, y = (x - mean) * rstd * scale[c] + B[c].

static enum qs_status in_check(qs_kctx *k) {
    enum qs_status st;
    if ((st = qs__nn_require(k, 3)) != QS_STATUS_OK ||
        (st = qs__nn_check_f32(k, 0, "input X")) != QS_STATUS_OK)
        return st;
    const qs_view *x = k->in[0];
    if (x->rank < 2)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "input has rank %d, expected [N, C, ...]",
                           x->rank);
    if ((st = check_vec(k, 1, "scale", x->dims[1])) != QS_STATUS_OK ||
        (st = check_vec(k, 2, "bias B", x->dims[1])) != QS_STATUS_OK)
        return st;
    return QS_STATUS_OK;
}

static enum qs_status in_infer(qs_kctx *k) {
    enum qs_status st = in_check(k);
    if (st != QS_STATUS_OK) return st;
    qs__view_set_shape(k->out[0], k->in[0]->dtype, k->in[0]->rank, k->in[0]->dims);
    return QS_STATUS_OK;
}

static void in_task(void *ctx, size_t begin, size_t end) {
    const struct plane_task *t = ctx;
    for (size_t p = begin; p < end; p++) {
        int64_t c = (int64_t)p % t->c, off = (int64_t)p * t->plane;
        float mean, rstd;
        t->kt->moments(1, (size_t)t->plane, t->x + off, t->eps, &mean, &rstd);
        float sc = t->scale[c] * rstd, sh = t->shift[c] - mean * sc;
        t->kt->affine_rows(1, (size_t)t->plane, t->x + off, t->y + off, &sc, &sh);
    }
}

static enum qs_status in_run(qs_kctx *k) {
    const qs_view *x = k->in[0];
    if (x->numel == 0) return QS_STATUS_OK;
    const int64_t c = x->dims[1], plane = x->numel / (x->dims[0] * c);
    struct plane_task t = {qs__f32_kernels(), x->data, k->in[1]->data, k->in[2]->data,
                           k->out[0]->data, c, plane,
                           qs__attr_f(k->node, "epsilon", 1e-5f)};
    qs__pool_run(k->pool, (size_t)(x->dims[0] * c), in_task, &t);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_instancenorm = {
    .name = "InstanceNormalization",
    .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = in_infer, .run = in_run,
};

// ---------------------------------------------------------------------------------------
// LayerNormalization over dims [axis, rank): rows = prod(dims[:axis]), n = the rest.

struct ln_state {
    int64_t rows, n;
    bool expand_scale, expand_bias;  // Scale/B broadcast to n values in scratch
};

static enum qs_status ln_setup(qs_kctx *k, int *axis_out, struct ln_state *s) {
    enum qs_status st;
    if ((st = qs__nn_require(k, 2)) != QS_STATUS_OK ||
        (st = qs__nn_check_f32(k, 0, "input X")) != QS_STATUS_OK ||
        (st = qs__nn_check_f32(k, 1, "Scale")) != QS_STATUS_OK ||
        (st = qs__nn_check_f32(k, 2, "bias B")) != QS_STATUS_OK)
        return st;
    const qs_view *x = k->in[0];
    int64_t axis = qs__attr_i(k->node, "axis", -1);
    if (axis < 0) axis += x->rank;
    if (axis < 0 || axis >= x->rank)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %lld out of range for rank %d",
                           (long long)qs__attr_i(k->node, "axis", -1), x->rank);
    *axis_out = (int)axis;
    s->rows = qs__numel((int)axis, x->dims);
    s->n = qs__numel(x->rank - (int)axis, x->dims + axis);
    // Scale and B broadcast (numpy rules) to the normalized dims.
    for (int i = 1; i <= 2; i++) {
        const qs_view *v = i < k->n_in ? k->in[i] : NULL;
        if (!v) continue;
        bool ok = v->rank <= x->rank - axis;
        for (int d = 0; ok && d < v->rank; d++) {
            int64_t want = x->dims[x->rank - v->rank + d];
            ok = v->dims[d] == want || v->dims[d] == 1;
        }
        if (!ok)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "%s does not broadcast to the normalized "
                               "shape", i == 1 ? "Scale" : "B");
        if (i == 1) s->expand_scale = v->numel != s->n;
        else s->expand_bias = v->numel != s->n;
    }
    return QS_STATUS_OK;
}

static enum qs_status ln_infer(qs_kctx *k) {
    struct ln_state s = {0};
    int axis = 0;
    enum qs_status st = ln_setup(k, &axis, &s);
    if (st != QS_STATUS_OK) return st;
    const qs_view *x = k->in[0];
    qs__view_set_shape(k->out[0], k->in[0]->dtype, x->rank, x->dims);
    int64_t dims[QS_MAX_RANK];
    for (int d = 0; d < x->rank; d++) dims[d] = d < axis ? x->dims[d] : 1;
    for (int o = 1; o < k->n_out && o < 3; o++)
        if (k->out[o]) qs__view_set_shape(k->out[o], QS_DTYPE_F32, x->rank, dims);
    return QS_STATUS_OK;
}

static enum qs_status ln_prepare(qs_kctx *k, size_t *scratch) {
    struct ln_state *s = qs__calloc(1, sizeof *s);
    if (!s) return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    k->state = s;
    int axis = 0;
    enum qs_status st = ln_setup(k, &axis, s);
    if (st != QS_STATUS_OK) return st;
    // [scale n][bias n][mean rows][rstd rows], each part 64-byte aligned.
    size_t n = ((size_t)s->n + 15) & ~(size_t)15, r = ((size_t)s->rows + 15) & ~(size_t)15;
    *scratch = sizeof(float) * (2 * n + 2 * r);
    return QS_STATUS_OK;
}

// Writes v broadcast to the trailing `rank` dims of x (the normalized dims) into dst.
static void expand(const qs_view *v, const qs_view *x, int axis, float *dst) {
    const int nr = x->rank - axis;
    const int64_t *nd = x->dims + axis;
    int64_t n = qs__numel(nr, nd), strides[QS_MAX_RANK], acc = 1;
    for (int d = nr - 1; d >= 0; d--) {
        int vd = d - (nr - v->rank);
        strides[d] = vd < 0 || v->dims[vd] == 1 ? 0 : acc;
        if (vd >= 0) acc *= v->dims[vd];
    }
    const float *src = v->data;
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, off = 0;
        for (int d = nr - 1; d >= 0; d--) {
            off += (rem % nd[d]) * strides[d];
            rem /= nd[d];
        }
        dst[i] = src[off];
    }
}

struct ln_task {
    const struct qs_f32_kernels *kt;
    const float *x, *scale, *bias;
    float *y, *mean, *rstd;
    int64_t n;
    float eps;
};

static void ln_task_run(void *ctx, size_t begin, size_t end) {
    const struct ln_task *t = ctx;
    const size_t rows = end - begin, n = (size_t)t->n;
    t->kt->moments(rows, n, t->x + begin * n, t->eps, t->mean + begin, t->rstd + begin);
    t->kt->layernorm(rows, n, t->x + begin * n, t->mean + begin, t->rstd + begin, t->scale,
                     t->bias, t->y + begin * n);
}

static enum qs_status ln_run(qs_kctx *k) {
    const struct ln_state *s = k->state;
    const qs_view *x = k->in[0], *sv = k->in[1], *bv = k->n_in > 2 ? k->in[2] : NULL;
    if (s->rows == 0 || s->n == 0) return QS_STATUS_OK;
    int64_t axis = qs__attr_i(k->node, "axis", -1);
    if (axis < 0) axis += x->rank;
    size_t n = ((size_t)s->n + 15) & ~(size_t)15, r = ((size_t)s->rows + 15) & ~(size_t)15;
    float *scr = k->scratch;
    const float *scale = sv->data, *bias = bv ? bv->data : NULL;
    if (s->expand_scale) {
        expand(sv, x, (int)axis, scr);
        scale = scr;
    }
    if (bv && s->expand_bias) {
        expand(bv, x, (int)axis, scr + n);
        bias = scr + n;
    }
    float *mean = k->n_out > 1 && k->out[1] ? k->out[1]->data : scr + 2 * n;
    float *rstd = k->n_out > 2 && k->out[2] ? k->out[2]->data : scr + 2 * n + r;
    struct ln_task t = {qs__f32_kernels(), x->data, scale, bias, k->out[0]->data, mean, rstd,
                        s->n, qs__attr_f(k->node, "epsilon", 1e-5f)};
    qs__pool_run(k->pool, (size_t)s->rows, ln_task_run, &t);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_layernorm = {
    .name = "LayerNormalization",
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 3,
    .infer = ln_infer, .prepare = ln_prepare, .run = ln_run, .release = release_state,
};
