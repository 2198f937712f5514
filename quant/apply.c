// Applying per-layer policies: activation parameters from calibration (once), int8 weights,
// scales and int32 biases per layer (computed on first use and cached), then annotations
// on the graph that sessions and the QDQ export read.
#include "qsearch/quant.h"
#include "kernels/internal.h"

#include <math.h>
#include <string.h>

typedef struct {
    int node;
    const char *name;
    enum qs_layer_kind kind;
    int x_id, w_id, b_id;        // tensor ids (b_id -1 without bias)
    int axis;                    // output-channel axis of the weight tensor
    int64_t n_out, k;            // output channels and reduction length
    bool ready;                  // cache filled
    const void *w_src, *b_src;   // weight/bias data the cache was filled from: an override
                                 // (qs_graph_set_layer_weights) changes them
    int8_t *wq;                  // int8 weights in the layout of the fp32 weights
    float *ws;                   // n_scales weight scales
    int n_scales;
    int32_t *bq;                 // int32 bias (NULL without bias)
    bool quantizable;            // the integer kernels can run it (else: explain in apply)
    const char *why_not;
    int w_bits, a_bits;          // as applied now
} layer_cache;

struct qs_quantizer {
    qs_graph_t *g;
    const qs_calib_t *calib;
    struct qs_quant_options opt;
    int n_layers;
    layer_cache *layers;
};

struct qs_quant_options qs_quant_options_default(void) {
    struct qs_quant_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.method = qs_calib_method_default(QS_CALIB_MINMAX);
    o.per_channel = true;
    return o;
}

void qs_quantizer_destroy(qs_quantizer_t *q) {
    if (!q) return;
    if (q->g) qs_graph_clear_quant(q->g);
    for (int i = 0; q->layers && i < q->n_layers; i++) {
        qs__free(q->layers[i].wq);
        qs__free(q->layers[i].ws);
        qs__free(q->layers[i].bq);
    }
    qs__free(q->layers);
    qs__free(q);
}

static enum qs_status describe_layer(qs_quantizer_t *q, int li, struct qs_diag *diag) {
    layer_cache *lc = &q->layers[li];
    struct qs_layer_info info;
    struct qs_node_info ni;
    enum qs_status st = qs_graph_layer_info(q->g, li, &info);
    if (st == QS_STATUS_OK) st = qs_graph_node_info(q->g, info.node, &ni);
    if (st) return qs__diag(diag, st, "layer %d: no description", li);
    lc->node = info.node;
    lc->name = info.name;
    lc->kind = info.kind;
    lc->x_id = ni.inputs[0].id;
    lc->w_id = ni.inputs[1].id;
    lc->b_id = ni.n_inputs > 2 ? ni.inputs[2].id : -1;
    lc->quantizable = true;
    const struct qs_tensor_info *w = &ni.inputs[1];
    int64_t numel = 1;
    for (int d = 0; d < w->rank; d++) numel *= w->dims[d];
    switch (info.kind) {
    case QS_LAYER_CONV:
        lc->axis = 0;
        lc->n_out = w->dims[0];
        break;
    case QS_LAYER_GEMM:
        lc->axis = info.w_axis;
        lc->n_out = info.c_out;
        break;
    case QS_LAYER_MATMUL:
        if (ni.inputs[0].id >= 0 && w->rank != 2) {
            lc->quantizable = false;
            lc->why_not = "MatMul weights of rank other than 2";
        }
        lc->axis = info.w_axis;
        lc->n_out = w->dims[w->rank - 1];
        break;
    }
    {
        const void *data;
        struct qs_tensor_info ti;
        if (qs_graph_tensor(q->g, lc->w_id, &ti, &data) != QS_STATUS_OK || !data) {
            lc->quantizable = false;
            lc->why_not = "weights are not constant";
        }
        if (info.kind == QS_LAYER_MATMUL && ni.inputs[0].id >= 0) {
            const void *a_data;
            qs_graph_tensor(q->g, ni.inputs[0].id, NULL, &a_data);
            if (a_data) {
                lc->quantizable = false;
                lc->why_not = "constant first operand";
            }
        }
    }
    lc->k = lc->n_out ? numel / lc->n_out : 0;
    if (lc->b_id >= 0) {
        struct qs_tensor_info bi;
        const void *bd;
        qs_graph_tensor(q->g, lc->b_id, &bi, &bd);
        int64_t bn = 1;
        for (int d = 0; d < bi.rank; d++) bn *= bi.dims[d];
        if (!bd || bn != lc->n_out || bi.dtype != QS_DTYPE_F32) {
            lc->quantizable = false;
            lc->why_not = "bias is not a constant vector of the output channels";
        }
    }
    if (w->dtype != QS_DTYPE_F32) {
        lc->quantizable = false;
        lc->why_not = "weights are not float32";
    }
    return QS_STATUS_OK;
}

enum qs_status qs_quantizer_create(qs_graph_t *g, const qs_calib_t *calib,
                                   const struct qs_quant_options *options,
                                   qs_quantizer_t **out, struct qs_diag *diag) {
    enum qs_status st = QS_STATUS_NOMEM;
    qs_quantizer_t *q = qs__calloc(1, sizeof *q);
    if (!q) goto error;
    q->opt = options ? *options : qs_quant_options_default();
    q->calib = calib;
    q->n_layers = qs_graph_layer_count(g);
    if (!(q->layers = qs__calloc((size_t)q->n_layers + 1, sizeof *q->layers))) goto error;
    q->g = g;
    if (qs_calib_samples(calib) <= 0) {
        st = qs__diag(diag, QS_STATUS_INVALID_STATE, "the calibration observed no sample");
        goto error;
    }
    qs_graph_clear_quant(g);
    for (int i = 0; i < qs_calib_tensor_count(calib); i++) {
        struct qs_tensor_info ti;
        double lo, hi;
        if ((st = qs_calib_tensor_info(calib, i, &ti)) != QS_STATUS_OK) goto error;
        st = qs_calib_range(calib, i, &q->opt.method, &lo, &hi, diag);
        if (st == QS_STATUS_INVALID_STATE) continue;  // never observed (folded away)
        if (st != QS_STATUS_OK) goto error;
        struct qs_qparams qp;
        if ((st = qs_qparams_from_range(lo, hi, q->opt.method.dtype, 8, false, &qp, diag)))
            goto error;
        struct qs_tensor_qparams tq = {qp.scale, qp.zero_point, q->opt.method.dtype};
        if ((st = qs_graph_set_tensor_qparams(g, ti.id, &tq, diag)) != QS_STATUS_OK) goto error;
    }
    for (int li = 0; li < q->n_layers; li++)
        if ((st = describe_layer(q, li, diag)) != QS_STATUS_OK) goto error;
    *out = q;
    return QS_STATUS_OK;
error:
    if (st == QS_STATUS_NOMEM) qs__diag(diag, st, "out of memory creating the quantizer");
    qs_quantizer_destroy(q);
    return st;
}

static const void *cur_data(const qs_quantizer_t *q, int id) {
    const void *d = NULL;
    qs_graph_tensor(q->g, id, NULL, &d);
    return d;
}

// Quantizes the weights of one layer along its output-channel axis (transposing through a
// scratch copy when that axis is not the outer one) and its bias against the input scale.
static enum qs_status fill_cache(qs_quantizer_t *q, layer_cache *lc, bool with_bias,
                                 struct qs_diag *diag) {
    const float *w;
    struct qs_tensor_info wi;
    qs_graph_tensor(q->g, lc->w_id, &wi, (const void **)&w);
    int64_t n = lc->n_out, k = lc->k, numel = n * k;
    bool per_channel = q->opt.per_channel;
    lc->n_scales = per_channel ? (int)n : 1;
    lc->wq = qs__malloc((size_t)numel + 1);
    lc->ws = qs__malloc(sizeof(float) * (size_t)lc->n_scales);
    if (!lc->wq || !lc->ws) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    enum qs_status st;
    if (lc->axis == 0) {
        st = qs_quantize_weights_s8(w, n, k, per_channel, 8, lc->wq, lc->ws, diag);
    } else {  // [k][n] -> [n][k] -> quantize -> back
        float *wt = qs__malloc(sizeof(float) * (size_t)numel + 1);
        int8_t *qt = qs__malloc((size_t)numel + 1);
        if (!wt || !qt) {
            qs__free(wt);
            qs__free(qt);
            return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
        }
        for (int64_t r = 0; r < k; r++)
            for (int64_t c = 0; c < n; c++) wt[c * k + r] = w[r * n + c];
        st = qs_quantize_weights_s8(wt, n, k, per_channel, 8, qt, lc->ws, diag);
        for (int64_t r = 0; r < k && st == QS_STATUS_OK; r++)
            for (int64_t c = 0; c < n; c++) lc->wq[r * n + c] = qt[c * k + r];
        qs__free(wt);
        qs__free(qt);
    }
    if (st) {
        qs__diag_prefix(diag, "layer '%s': ", lc->name);
        return st;
    }
    if (with_bias && lc->b_id >= 0) {
        const struct qs_tensor_qparams *xq = qs_graph_tensor_qparams(q->g, lc->x_id);
        const float *b;
        qs_graph_tensor(q->g, lc->b_id, NULL, (const void **)&b);
        if (!xq)
            return qs__diag(diag, QS_STATUS_INVALID_STATE,
                            "layer '%s': its input was not calibrated", lc->name);
        if (!(lc->bq = qs__malloc(sizeof(int32_t) * (size_t)n)))
            return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
        if ((st = qs_quantize_bias(b, (size_t)n, xq->scale, lc->ws, per_channel, lc->bq, diag))) {
            qs__diag_prefix(diag, "layer '%s': ", lc->name);
            return st;
        }
    }
    lc->w_src = w;
    lc->b_src = lc->b_id >= 0 ? cur_data(q, lc->b_id) : NULL;
    lc->ready = true;
    return QS_STATUS_OK;
}

enum qs_status qs_quantizer_apply(qs_quantizer_t *q, const qs_policy_t *policy,
                                  struct qs_diag *diag) {
    enum qs_status st;
    if (policy && (st = qs_policy_check(policy, q->g, diag)) != QS_STATUS_OK) return st;
    for (int li = 0; li < q->n_layers; li++) {
        layer_cache *lc = &q->layers[li];
        struct qs_layer_policy all8 = qs_layer_policy_default();
        all8.w_bits = all8.a_bits = 8;
        const struct qs_layer_policy *lp = policy ? qs_policy_get(policy, lc->name) : &all8;
        struct qs_layer_quant lq = {32, 32, NULL, NULL, 0, NULL, NULL};
        if (lp && (lp->w_bits == 8 || lp->a_bits == 8)) {
            if (!lc->quantizable) {
                if (policy)
                    return qs__diag(diag, QS_STATUS_UNSUPPORTED, "layer '%s' cannot be quantized: %s",
                                    lc->name, lc->why_not);
                lp = NULL;  // all-int8 default: leave what cannot run in int8 in fp32
            }
        }
        if (lp && (lp->w_bits == 8 || lp->a_bits == 8)) {
            lq.w_bits = lp->w_bits;
            lq.a_bits = lp->a_bits;
            if (lp->w_bits == 8) {
                // The int32 bias depends on the input scale: it exists for w8a8 only, and a
                // cache filled for w8a32 gains it the first time the layer runs w8a8.
                bool stale = lc->ready && (lc->w_src != cur_data(q, lc->w_id) ||
                                           (lc->b_id >= 0 && lc->b_src != cur_data(q, lc->b_id)));
                if (!lc->ready || stale || (lp->a_bits == 8 && lc->b_id >= 0 && !lc->bq)) {
                    qs__free(lc->wq);
                    qs__free(lc->ws);
                    qs__free(lc->bq);
                    lc->wq = NULL;
                    lc->ws = NULL;
                    lc->bq = NULL;
                    lc->ready = false;
                    if ((st = fill_cache(q, lc, lp->a_bits == 8, diag)) != QS_STATUS_OK) return st;
                }
                lq.weights = lc->wq;
                lq.w_scales = lc->ws;
                lq.w_scale_count = lc->n_scales;
                lq.bias = lp->a_bits == 8 ? lc->bq : NULL;
            }
        }
        if ((st = qs_graph_set_layer_quant(q->g, li, &lq, diag)) != QS_STATUS_OK) return st;
        lc->w_bits = lq.w_bits;
        lc->a_bits = lq.a_bits;
    }
    return QS_STATUS_OK;
}

size_t qs_quantizer_model_bytes(const qs_quantizer_t *q) {
    size_t bytes = 0;
    int nt = qs_graph_tensor_count(q->g);
    for (int t = 0; t < nt; t++) {
        struct qs_tensor_info ti;
        const void *data;
        if (qs_graph_tensor(q->g, t, &ti, &data) != QS_STATUS_OK || !data) continue;
        int64_t numel = 1;
        for (int d = 0; d < ti.rank; d++) numel *= ti.dims[d];
        bytes += (size_t)numel * qs_dtype_size(ti.dtype);
    }
    // Quantized layers replace fp32 weights by int8 values plus their scales (an int32 bias
    // takes as much as the fp32 one), and carry a scale and zero point (5 bytes) for each
    // quantized activation they read and write.
    for (int li = 0; li < q->n_layers; li++) {
        const layer_cache *lc = &q->layers[li];
        if (lc->w_bits == 8)
            bytes = bytes - (size_t)(lc->n_out * lc->k) * 4 + (size_t)(lc->n_out * lc->k) +
                    (size_t)lc->n_scales * 4;
        if (lc->a_bits == 8) bytes += 2 * 5;
    }
    return bytes;
}
