// Helpers shared by the neural-network ops: dtype checks, the fused activation and the
// sliding-window geometry of Conv and the pools (ONNX auto_pad, pads, ceil_mode rules).
#include "ir/ops/nn-impl.h"

enum qs_status qs__nn_require(const qs_kctx *k, int n) {
    for (int i = 0; i < n; i++)
        if (i >= k->n_in || !k->in[i])
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "input %d is missing", i);
    return QS_STATUS_OK;
}

enum qs_status qs__nn_check_f32(const qs_kctx *k, int i, const char *what) {
    const qs_view *v = i < k->n_in ? k->in[i] : NULL;
    // A float16/float64 model still has shapes; a session refuses it at this same check.
    bool shape_ok = k->shapes_only && v &&
                    (v->dtype == QS_DTYPE_F16 || v->dtype == QS_DTYPE_BF16 || v->dtype == QS_DTYPE_F64);
    if (v && v->dtype != QS_DTYPE_F32 && !shape_ok)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "%s has type %s; only float32 is supported",
                           what, qs_dtype_name(v->dtype));
    return QS_STATUS_OK;
}

void qs__nn_act_bounds(const qs_kctx *k, float *lo, float *hi) {
    *lo = -INFINITY;
    *hi = INFINITY;
    if (k->node->act.kind != QS_ACT_NONE) {
        *lo = k->node->act.lo;
        *hi = k->node->act.hi;
    }
}

enum qs_status qs__nn_ints(const qs_kctx *k, const char *name, int nsp, int64_t def,
                           int64_t min, int64_t *out) {
    int n = 0;
    const int64_t *v = qs__attr_ints(k->node, name, &n);
    if (!v) {
        for (int i = 0; i < nsp; i++) out[i] = def;
        return QS_STATUS_OK;
    }
    if (n != nsp)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "attribute '%s' has %d values, expected %d",
                           name, n, nsp);
    for (int i = 0; i < nsp; i++) {
        if (v[i] < min)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "attribute '%s' has value %lld below %lld",
                               name, (long long)v[i], (long long)min);
        out[i] = v[i];
    }
    return QS_STATUS_OK;
}

static int64_t ceil_div(int64_t a, int64_t b) {
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

enum qs_status qs__nn_window(const qs_kctx *k, enum qs_nn_window_kind kind, int nsp,
                             const int64_t *in_sp, const int64_t *kernel,
                             struct qs_f32_window *win) {
    if (nsp < 1 || nsp > 3)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                           "%d spatial dimensions (1 to 3 are supported)", nsp);
    int64_t strides[3], dil[3], pads[6];
    enum qs_status st;
    if ((st = qs__nn_ints(k, "strides", nsp, 1, 1, strides)) != QS_STATUS_OK) return st;
    if ((st = qs__nn_ints(k, "dilations", nsp, 1, 1, dil)) != QS_STATUS_OK) return st;
    if ((st = qs__nn_ints(k, "pads", 2 * nsp, 0, 0, pads)) != QS_STATUS_OK) return st;
    const char *ap = qs__attr_s(k->node, "auto_pad", "NOTSET");
    bool same_upper = strcmp(ap, "SAME_UPPER") == 0, same_lower = strcmp(ap, "SAME_LOWER") == 0;
    bool valid = strcmp(ap, "VALID") == 0;
    if (!same_upper && !same_lower && !valid && strcmp(ap, "NOTSET") != 0 && ap[0])
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "unknown auto_pad '%s'", ap);
    bool ceil_mode = kind == QS_NN_POOL && qs__attr_i(k->node, "ceil_mode", 0) != 0;

    qs__f32_window_init(win);
    for (int i = 0; i < nsp; i++) {
        const int j = 3 - nsp + i;
        const int64_t in = in_sp[i], s = strides[i], ek = (kernel[i] - 1) * dil[i] + 1;
        if (kernel[i] < 1)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "kernel size %lld in spatial dim %d",
                               (long long)kernel[i], i);
        int64_t out, begin = 0, end = 0;
        if (same_upper || same_lower) {
            out = ceil_div(in, s);
            int64_t total = QS_MAX((out - 1) * s + ek - in, 0);
            begin = same_upper ? total / 2 : total - total / 2;
            end = total - begin;
        } else if (valid) {
            out = in >= ek ? (in - ek) / s + 1 : 0;
        } else {
            begin = pads[i];
            end = pads[nsp + i];
            int64_t span = in + begin + end - ek;
            out = span < 0 ? 0 : ceil_mode ? ceil_div(span, s) + 1 : span / s + 1;
            // ceil_mode never starts a window in the end padding.
            if (ceil_mode && out > 0 && (out - 1) * s >= in + begin) out--;
        }
        if (out < 1)
            return QS_NODE_ERR(k, QS_STATUS_PARSE,
                               "window (kernel %lld, dilation %lld) does not fit spatial dim %d "
                               "of size %lld with pads %lld+%lld",
                               (long long)kernel[i], (long long)dil[i], i, (long long)in,
                               (long long)begin, (long long)end);
        win->in[j] = in;
        win->out[j] = out;
        win->k[j] = kernel[i];
        win->stride[j] = s;
        win->dil[j] = dil[i];
        win->pad[j] = begin;
        win->pad_end[j] = end;
    }
    return QS_STATUS_OK;
}

enum qs_status qs__nn_conv_geometry(const qs_kctx *k, const qs_view *x, const qs_view *w,
                                    int64_t *group_out, struct qs_f32_window *win) {
    if (x->rank < 3)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "input has rank %d, expected [N, C, spatial...]",
                           x->rank);
    if (w->rank != x->rank)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "weight has rank %d, input has rank %d", w->rank,
                           x->rank);
    const int64_t group = qs__attr_i(k->node, "group", 1);
    if (group < 1 || w->dims[0] % group != 0 || x->dims[1] != w->dims[1] * group)
        return QS_NODE_ERR(k, QS_STATUS_PARSE,
                           "input has %lld channels, weight [%lld, %lld, ...] with group %lld",
                           (long long)x->dims[1], (long long)w->dims[0], (long long)w->dims[1],
                           (long long)group);
    const int nsp = x->rank - 2;
    int nk = 0;
    const int64_t *ks = qs__attr_ints(k->node, "kernel_shape", &nk);
    if (ks) {
        bool ok = nk == nsp;
        for (int i = 0; ok && i < nsp; i++) ok = ks[i] == w->dims[2 + i];
        if (!ok) return QS_NODE_ERR(k, QS_STATUS_PARSE, "kernel_shape does not match weight");
    }
    *group_out = group;
    return qs__nn_window(k, QS_NN_CONV, nsp, x->dims + 2, w->dims + 2, win);
}
