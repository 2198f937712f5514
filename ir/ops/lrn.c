// LRN (local response normalisation across channels), as in AlexNet-era models:
// y = x / (bias + alpha / size * sum_{c' in window(c)} x[c']^2) ^ beta.
#include "ir/ir-impl.h"

#include <math.h>

typedef struct {
    float alpha, beta, bias;
    int64_t size;
} lrn_state;

static enum qs_status lrn_infer(qs_kctx *k) {
    const qs_view *x = k->in[0];
    if (x->dtype != QS_DTYPE_F32) return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "input must be float32");
    if (x->rank < 3) return QS_NODE_ERR(k, QS_STATUS_PARSE, "input rank %d < 3", x->rank);
    if (qs__attr_i(k->node, "size", 0) < 1)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "attribute 'size' must be >= 1");
    qs__view_set_shape(k->out[0], x->dtype, x->rank, x->dims);
    return QS_STATUS_OK;
}

static enum qs_status lrn_prepare(qs_kctx *k, size_t *scratch) {
    lrn_state *s = qs__malloc(sizeof *s);
    if (!s) return QS_STATUS_NOMEM;
    s->alpha = qs__attr_f(k->node, "alpha", 1e-4f);
    s->beta = qs__attr_f(k->node, "beta", 0.75f);
    s->bias = qs__attr_f(k->node, "bias", 1.0f);
    s->size = qs__attr_i(k->node, "size", 1);
    k->state = s;
    *scratch = 0;
    return QS_STATUS_OK;
}

static enum qs_status lrn_run(qs_kctx *k) {
    const lrn_state *s = k->state;
    const qs_view *x = k->in[0];
    const float *in = x->data;
    float *out = k->out[0]->data;
    int64_t n = x->dims[0], c = x->dims[1], inner = x->numel / (n * c);
    // The window is [c - floor((size-1)/2), c + ceil((size-1)/2)].
    int64_t lo = (s->size - 1) / 2, hi = s->size - 1 - lo;
    float scale = s->alpha / (float)s->size;
    for (int64_t b = 0; b < n; b++)
        for (int64_t ch = 0; ch < c; ch++) {
            int64_t c0 = QS_MAX(0, ch - lo), c1 = QS_MIN(c - 1, ch + hi);
            const float *xc = in + (b * c + ch) * inner;
            float *yc = out + (b * c + ch) * inner;
            for (int64_t i = 0; i < inner; i++) {
                float sq = 0;
                for (int64_t j = c0; j <= c1; j++) {
                    float v = in[(b * c + j) * inner + i];
                    sq += v * v;
                }
                yc[i] = xc[i] / powf(s->bias + scale * sq, s->beta);
            }
        }
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_lrn = {
    .name = "LRN", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = lrn_infer, .prepare = lrn_prepare, .run = lrn_run, .release = qs__free,
};
