// Softmax and LogSoftmax. Opset < 13 coerces the input to 2-D at `axis` (default 1) and
// normalizes each row of prod(dims[axis:]) values; opset >= 13 normalizes along the single
// dim `axis` (default -1).
#include "ir/ops/nn-impl.h"

struct sm_shape {
    int64_t outer, n, inner;
};

static enum qs_status sm_shape(qs_kctx *k, struct sm_shape *s) {
    enum qs_status st;
    if ((st = qs__nn_require(k, 1)) != QS_STATUS_OK ||
        (st = qs__nn_check_f32(k, 0, "input")) != QS_STATUS_OK)
        return st;
    const qs_view *x = k->in[0];
    const bool legacy = k->node->opset < 13;
    const int64_t a0 = qs__attr_i(k->node, "axis", legacy ? 1 : -1);
    const int rank = x->rank;
    int64_t axis = a0 < 0 ? a0 + rank : a0;
    // A rank-0 input behaves as one element (ONNX allows it for the legacy form only).
    if (rank == 0) {
        s->outer = s->n = s->inner = 1;
        return QS_STATUS_OK;
    }
    if (axis < 0 || axis >= rank)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %lld out of range for rank %d",
                           (long long)a0, rank);
    s->outer = qs__numel((int)axis, x->dims);
    if (legacy) {
        s->n = qs__numel(rank - (int)axis, x->dims + axis);
        s->inner = 1;
    } else {
        s->n = x->dims[axis];
        s->inner = qs__numel(rank - (int)axis - 1, x->dims + axis + 1);
    }
    return QS_STATUS_OK;
}

static enum qs_status sm_infer(qs_kctx *k) {
    struct sm_shape s;
    enum qs_status st = sm_shape(k, &s);
    if (st != QS_STATUS_OK) return st;
    qs__view_set_shape(k->out[0], k->in[0]->dtype, k->in[0]->rank, k->in[0]->dims);
    return QS_STATUS_OK;
}

struct sm_task {
    const struct qs_f32_kernels *kt;
    const float *x;
    float *y;
    struct sm_shape s;
    bool log;
};

static void sm_task_run(void *ctx, size_t begin, size_t end) {
    const struct sm_task *t = ctx;
    const size_t n = (size_t)t->s.n, inner = (size_t)t->s.inner;
    if (inner == 1)
        t->kt->softmax(end - begin, n, t->x + begin * n, t->y + begin * n, t->log);
    else
        qs__f32_softmax_strided_ref(end - begin, n, inner, t->x + begin * n * inner,
                                    t->y + begin * n * inner, t->log);
}

static enum qs_status sm_run_kind(qs_kctx *k, bool log) {
    struct sm_task t = {qs__f32_kernels(), k->in[0]->data, k->out[0]->data, {0}, log};
    enum qs_status st = sm_shape(k, &t.s);
    if (st != QS_STATUS_OK) return st;
    if (t.s.n == 0 || t.s.outer == 0 || t.s.inner == 0) return QS_STATUS_OK;
    qs__pool_run(k->pool, (size_t)t.s.outer, sm_task_run, &t);
    return QS_STATUS_OK;
}

static enum qs_status softmax_run(qs_kctx *k) {
    return sm_run_kind(k, false);
}
static enum qs_status logsoftmax_run(qs_kctx *k) {
    return sm_run_kind(k, true);
}

const struct qs_op_def qs__opdef_softmax = {
    .name = "Softmax",
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = sm_infer, .run = softmax_run,
};

const struct qs_op_def qs__opdef_logsoftmax = {
    .name = "LogSoftmax",
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = sm_infer, .run = logsoftmax_run,
};
