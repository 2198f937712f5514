// MaxPool, AveragePool (1-D to 3-D; pads, auto_pad, strides, dilations, ceil_mode,
// count_include_pad), GlobalAveragePool and GlobalMaxPool. MaxPool's optional Indices
// output is not supported.
#include "ir/ops/nn-impl.h"
#include "ir/ops/qlinear-impl.h"

enum pool_kind { POOL_MAX, POOL_AVG, POOL_GAVG, POOL_GMAX };

struct pool_state {
    enum pool_kind kind;
    struct qs_f32_window win;
    bool count_include_pad;
    bool q8, q8_signed;  // MaxPool on uint8/int8 (quantized graphs): bytes, no scale
    int64_t planes;  // N * C
};

static enum qs_status pool_setup(qs_kctx *k, enum pool_kind kind, struct pool_state *s) {
    enum qs_status st;
    if ((st = qs__nn_require(k, 1)) != QS_STATUS_OK) return st;
    const qs_view *x = k->in[0];
    s->q8 = kind == POOL_MAX && (x->dtype == QS_DTYPE_U8 || x->dtype == QS_DTYPE_I8);
    s->q8_signed = x->dtype == QS_DTYPE_I8;
    if (!s->q8 && (st = qs__nn_check_f32(k, 0, "input X")) != QS_STATUS_OK) return st;
    if (x->rank < 3)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "input has rank %d, expected [N, C, spatial...]",
                           x->rank);
    const int nsp = x->rank - 2;
    s->kind = kind;
    s->planes = x->dims[0] * x->dims[1];
    s->count_include_pad = false;
    if (kind == POOL_GAVG || kind == POOL_GMAX) {
        qs__f32_window_init(&s->win);
        s->win.in[2] = qs__numel(nsp, x->dims + 2);
        return QS_STATUS_OK;
    }
    if (kind == POOL_MAX && k->n_out > 1 && k->out[1])
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "the Indices output is not supported");
    int64_t kernel[3];
    int nk = 0;
    const int64_t *ks = qs__attr_ints(k->node, "kernel_shape", &nk);
    if (!ks || nk != nsp)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "kernel_shape must have %d values", nsp);
    if (nsp > 3)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                           "%d spatial dimensions (1 to 3 are supported)", nsp);
    for (int i = 0; i < nsp; i++) kernel[i] = ks[i];
    if (kind == POOL_AVG) s->count_include_pad = qs__attr_i(k->node, "count_include_pad", 0) != 0;
    return qs__nn_window(k, QS_NN_POOL, nsp, x->dims + 2, kernel, &s->win);
}

static enum qs_status pool_infer_kind(qs_kctx *k, enum pool_kind kind) {
    struct pool_state s;
    enum qs_status st = pool_setup(k, kind, &s);
    if (st != QS_STATUS_OK) return st;
    const qs_view *x = k->in[0];
    const int nsp = x->rank - 2;
    int64_t dims[QS_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 0; i < nsp; i++)
        dims[2 + i] = (kind == POOL_GAVG || kind == POOL_GMAX) ? 1 : s.win.out[3 - nsp + i];
    qs__view_set_shape(k->out[0], k->in[0]->dtype, x->rank, dims);
    return QS_STATUS_OK;
}

static enum qs_status pool_prepare_kind(qs_kctx *k, enum pool_kind kind, size_t *scratch) {
    struct pool_state *s = qs__malloc(sizeof *s);
    if (!s) return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    k->state = s;
    *scratch = 0;
    return pool_setup(k, kind, s);
}

struct pool_task {
    const struct pool_state *s;
    const struct qs_f32_kernels *kt;
    const void *x;
    void *y;
};

static void pool_task_run(void *ctx, size_t begin, size_t end) {
    const struct pool_task *t = ctx;
    const struct pool_state *s = t->s;
    const int64_t inv = qs__f32_window_in_size(&s->win);
    const int64_t outv = qs__f32_window_out_size(&s->win);
    const float *x = t->x;
    float *y = t->y;
    switch (s->kind) {
    case POOL_GAVG:
        t->kt->row_mean(end - begin, (size_t)inv, x + begin * inv, y + begin);
        break;
    case POOL_GMAX:
        t->kt->row_max(end - begin, (size_t)inv, x + begin * inv, y + begin);
        break;
    case POOL_MAX:
        for (size_t p = begin; p < end; p++) {
            if (s->q8)
                qs__q8_maxpool(&s->win, s->q8_signed, (const uint8_t *)t->x + (int64_t)p * inv,
                               (uint8_t *)t->y + (int64_t)p * outv);
            else
                t->kt->maxpool(&s->win, x + (int64_t)p * inv, y + (int64_t)p * outv);
        }
        break;
    case POOL_AVG:
        for (size_t p = begin; p < end; p++)
            t->kt->avgpool(&s->win, s->count_include_pad, x + (int64_t)p * inv,
                           y + (int64_t)p * outv);
        break;
    }
}

static enum qs_status pool_run(qs_kctx *k) {
    const struct pool_state *s = k->state;
    struct pool_task t = {s, qs__f32_kernels(), k->in[0]->data, k->out[0]->data};
    if (qs__f32_window_in_size(&s->win) == 0) {
        // Empty planes: nothing to pool (max of nothing is -inf, mean is NaN as numpy's).
        if (s->q8) {
            memset(t.y, s->q8_signed ? 0x80 : 0, (size_t)k->out[0]->numel);
            return QS_STATUS_OK;
        }
        float v = s->kind == POOL_GAVG ? NAN : -INFINITY;
        for (int64_t i = 0; i < k->out[0]->numel; i++) ((float *)t.y)[i] = v;
        return QS_STATUS_OK;
    }
    qs__pool_run(k->pool, (size_t)s->planes, pool_task_run, &t);
    return QS_STATUS_OK;
}

static void release_state(void *state) {
    qs__free(state);
}

#define POOL_OP(sym, onnx, kind, max_out)                                                   \
    static enum qs_status sym##_infer(qs_kctx *k) { return pool_infer_kind(k, kind); }      \
    static enum qs_status sym##_prepare(qs_kctx *k, size_t *scratch) {                      \
        return pool_prepare_kind(k, kind, scratch);                                         \
    }                                                                                       \
    const struct qs_op_def qs__opdef_##sym = {                                              \
        .name = onnx, .min_inputs = 1, .max_inputs = 1, .min_outputs = 1,                   \
        .max_outputs = max_out, .infer = sym##_infer, .prepare = sym##_prepare,             \
        .run = pool_run, .release = release_state,                                          \
    };

POOL_OP(maxpool, "MaxPool", POOL_MAX, 2)
POOL_OP(averagepool, "AveragePool", POOL_AVG, 1)
POOL_OP(globalaveragepool, "GlobalAveragePool", POOL_GAVG, 1)
POOL_OP(globalmaxpool, "GlobalMaxPool", POOL_GMAX, 1)
