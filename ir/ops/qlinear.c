// QuantizeLinear (opsets 10-21: per tensor, per axis from 13, blocked from 21),
// DequantizeLinear (same) and DynamicQuantizeLinear (11), with onnxruntime's arithmetic:
// quantize divides by the scale in float32, rounds half to even and saturates; dequantize
// is (float)(x - zp) * scale. The com.microsoft QuantizeLinear/DequantizeLinear contrib ops
// share these definitions (per-axis always allowed).
#include "ir/ops/qlinear-impl.h"
#include "qsearch/cpu.h"

static bool ms_domain(const qs_kctx *k) {
    return k->node->domain && strcmp(k->node->domain, "com.microsoft") == 0;
}

// Layout of a scale tensor over x: per tensor, per axis, or blocked along the axis.
struct qlayout {
    int64_t outer, dim, inner;  // x as [outer][dim][inner] around the axis
    int64_t block;              // 0: per tensor or per axis; > 0: blocks of `block` along axis
    bool per_axis;              // one scale per index along the axis (or per block)
};

static enum qs_status read_layout(qs_kctx *k, const qs_view *x, const qs_view *s,
                                  struct qlayout *l) {
    const qs_node *n = k->node;
    const bool axis_ok = n->opset >= 13 || ms_domain(k);
    const int64_t block = n->opset >= 21 && !ms_domain(k) ? qs__attr_i(n, "block_size", 0) : 0;
    memset(l, 0, sizeof *l);
    l->outer = 1;
    l->dim = x->numel;
    l->inner = 1;
    if (block < 0) return QS_NODE_ERR(k, QS_STATUS_PARSE, "block_size %lld", (long long)block);
    if (s->numel == 1 && s->rank <= 1 && block == 0) {
        l->dim = 1;
        l->inner = x->numel;
        return QS_STATUS_OK;
    }
    if (!axis_ok)
        return QS_NODE_ERR(k, QS_STATUS_PARSE,
                           "scale has %lld values; opset %d allows only a scalar scale",
                           (long long)s->numel, n->opset);
    int64_t axis = qs__attr_i(n, "axis", 1);
    if (axis < 0) axis += x->rank;
    if (axis < 0 || axis >= x->rank)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %lld out of range for rank %d",
                           (long long)qs__attr_i(n, "axis", 1), x->rank);
    l->outer = qs__numel((int)axis, x->dims);
    l->dim = x->dims[axis];
    l->inner = qs__numel(x->rank - (int)axis - 1, x->dims + axis + 1);
    l->per_axis = true;
    if (block == 0) {
        if (s->rank != 1 || s->dims[0] != l->dim)
            return QS_NODE_ERR(k, QS_STATUS_PARSE,
                               "per-axis scale must have shape [%lld] (axis %lld)",
                               (long long)l->dim, (long long)axis);
        return QS_STATUS_OK;
    }
    l->block = block;
    bool ok = s->rank == x->rank;
    for (int i = 0; ok && i < x->rank; i++)
        ok = s->dims[i] == (i == axis ? (x->dims[i] + block - 1) / block : x->dims[i]);
    if (!ok)
        return QS_NODE_ERR(k, QS_STATUS_PARSE,
                           "blocked scale must have the shape of the input with dim %lld "
                           "divided by block_size %lld (rounded up)",
                           (long long)axis, (long long)block);
    return QS_STATUS_OK;
}

// Index in the scale tensor of x[o][a][i].
static inline int64_t scale_index(const struct qlayout *l, int64_t o, int64_t a, int64_t i) {
    if (!l->per_axis) return 0;
    if (!l->block) return a;
    const int64_t nb = (l->dim + l->block - 1) / l->block;
    return (o * nb + a / l->block) * l->inner + i;
}

static enum qs_status check_zp_shape(qs_kctx *k, const qs_view *zp, const qs_view *s) {
    if (!zp) return QS_STATUS_OK;
    bool ok = zp->numel == s->numel && (zp->rank == s->rank || zp->numel == 1);
    for (int i = 0; ok && i < zp->rank && zp->rank == s->rank; i++) ok = zp->dims[i] == s->dims[i];
    if (!ok) return QS_NODE_ERR(k, QS_STATUS_PARSE, "zero point and scale have different shapes");
    return QS_STATUS_OK;
}

// ---------------------------------------------------------------------------------------
// QuantizeLinear.

static enum qs_status quantize_infer(qs_kctx *k) {
    const qs_view *x = k->in[0], *s = k->in[1], *zp = k->n_in > 2 ? k->in[2] : NULL;
    if (x->dtype != QS_DTYPE_F32)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                           "input has type %s; only float32 is supported",
                           qs_dtype_name(x->dtype));
    if (s->dtype != QS_DTYPE_F32)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                           "y_scale has type %s; only float32 is supported",
                           qs_dtype_name(s->dtype));
    enum qs_dtype out = QS_DTYPE_U8;
    if (zp) {
        out = zp->dtype;
    } else if (k->node->opset >= 21) {
        int64_t od = qs__attr_i(k->node, "output_dtype", 0);
        if (od) out = (enum qs_dtype)od;
    }
    if (!qs__qlin_is_q(out))
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                           "output type %s (only uint8, int8, uint16 and int16 are supported)",
                           qs_dtype_name(out));
    struct qlayout l;
    enum qs_status st = read_layout(k, x, s, &l);
    if (st == QS_STATUS_OK) st = check_zp_shape(k, zp, s);
    if (st != QS_STATUS_OK) return st;
    qs__view_set_shape(k->out[0], out, x->rank, x->dims);
    return QS_STATUS_OK;
}

#define QUANTIZE_LOOP(T)                                                                   \
    do {                                                                                   \
        T *y = k->out[0]->data;                                                            \
        for (int64_t o = 0; o < l.outer; o++)                                              \
            for (int64_t a = 0; a < l.dim; a++) {                                          \
                const int64_t base = (o * l.dim + a) * l.inner;                            \
                if (!l.block) {                                                            \
                    const int64_t si = scale_index(&l, o, a, 0);                           \
                    const float sc = sd[si];                                               \
                    const int32_t z = qs__qlin_zp(zp, si);                                 \
                    for (int64_t i = 0; i < l.inner; i++)                                  \
                        y[base + i] = (T)qs__qlin_quantize(xd[base + i], sc, z, lo, hi);   \
                } else {                                                                   \
                    for (int64_t i = 0; i < l.inner; i++) {                                \
                        const int64_t si = scale_index(&l, o, a, i);                       \
                        y[base + i] = (T)qs__qlin_quantize(xd[base + i], sd[si],           \
                                                           qs__qlin_zp(zp, si), lo, hi);   \
                    }                                                                      \
                }                                                                          \
            }                                                                              \
    } while (0)

// The per-tensor uint8 case (a model's input) on 16 lanes: qs__qlin_quantize's operations
// in the same order, so the same bits as the loop above.
#if defined(__x86_64__) && defined(__GNUC__) && defined(QS_ENABLE_AVX2)
#define QLIN_AVX512 1
__attribute__((target("avx512f,avx512bw,avx512vl,avx2,prefer-vector-width=512")))
static void quantize_u8_avx512(const float *x, uint8_t *y, int64_t n, float scale, int32_t zp,
                               int32_t lo, int32_t hi) {
    for (int64_t i = 0; i < n; i++) y[i] = (uint8_t)qs__qlin_quantize(x[i], scale, zp, lo, hi);
}

// Whether the 16-lane QuantizeLinear and DequantizeLinear paths run here (QS_KERNELS=ref or
// avx2 turns them off).
static bool qlin_avx512(void) {
    const uint64_t z = QS_ISA_X86_AVX512F | QS_ISA_X86_AVX512BW | QS_ISA_X86_AVX512VL;
    const char *env = getenv("QS_KERNELS");
    return (qs_cpu_info_get()->isa_flags & z) == z &&
           !(env && (!strcmp(env, "ref") || !strcmp(env, "avx2")));
}
#endif

static enum qs_status quantize_run(qs_kctx *k) {
    const qs_view *x = k->in[0], *s = k->in[1], *zp = k->n_in > 2 ? k->in[2] : NULL;
    struct qlayout l;
    enum qs_status st = read_layout(k, x, s, &l);
    if (st != QS_STATUS_OK) return st;
    const float *xd = x->data, *sd = s->data;
    int32_t lo, hi;
    qs__qlin_range(k->out[0]->dtype, &lo, &hi);
#ifdef QLIN_AVX512
    if (k->out[0]->dtype == QS_DTYPE_U8 && l.outer == 1 && l.dim == 1 && !l.block &&
        qlin_avx512()) {
        quantize_u8_avx512(xd, k->out[0]->data, l.inner, sd[0], qs__qlin_zp(zp, 0), lo, hi);
        return QS_STATUS_OK;
    }
#endif
    switch (k->out[0]->dtype) {
    case QS_DTYPE_U8: QUANTIZE_LOOP(uint8_t); break;
    case QS_DTYPE_I8: QUANTIZE_LOOP(int8_t); break;
    case QS_DTYPE_U16: QUANTIZE_LOOP(uint16_t); break;
    case QS_DTYPE_I16: QUANTIZE_LOOP(int16_t); break;
    default: QS_ASSERT(!"output type checked at infer");
    }
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_quantizelinear = {
    .name = "QuantizeLinear",
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = quantize_infer, .run = quantize_run,
};

// ---------------------------------------------------------------------------------------
// DequantizeLinear.

static enum qs_status dequantize_infer(qs_kctx *k) {
    const qs_view *x = k->in[0], *s = k->in[1], *zp = k->n_in > 2 ? k->in[2] : NULL;
    if (!qs__qlin_is_q(x->dtype) && x->dtype != QS_DTYPE_I32)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                           "input has type %s (uint8, int8, uint16, int16 and int32 are "
                           "supported)", qs_dtype_name(x->dtype));
    if (s->dtype != QS_DTYPE_F32)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                           "x_scale has type %s; only float32 is supported",
                           qs_dtype_name(s->dtype));
    if (zp && zp->dtype != x->dtype)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "x_zero_point has type %s, input has %s",
                           qs_dtype_name(zp->dtype), qs_dtype_name(x->dtype));
    struct qlayout l;
    enum qs_status st = read_layout(k, x, s, &l);
    if (st == QS_STATUS_OK) st = check_zp_shape(k, zp, s);
    if (st != QS_STATUS_OK) return st;
    qs__view_set_shape(k->out[0], QS_DTYPE_F32, x->rank, x->dims);
    return QS_STATUS_OK;
}

#define DEQUANTIZE_LOOP(T)                                                                 \
    do {                                                                                   \
        const T *xd = x->data;                                                             \
        for (int64_t o = 0; o < l.outer; o++)                                              \
            for (int64_t a = 0; a < l.dim; a++) {                                          \
                const int64_t base = (o * l.dim + a) * l.inner;                            \
                if (!l.block) {                                                            \
                    const int64_t si = scale_index(&l, o, a, 0);                           \
                    const float sc = sd[si];                                               \
                    const int32_t z = qs__qlin_zp(zp, si);                                 \
                    for (int64_t i = 0; i < l.inner; i++)                                  \
                        y[base + i] = (float)((int32_t)xd[base + i] - z) * sc;             \
                } else {                                                                   \
                    for (int64_t i = 0; i < l.inner; i++) {                                \
                        const int64_t si = scale_index(&l, o, a, i);                       \
                        y[base + i] =                                                      \
                            (float)((int32_t)xd[base + i] - qs__qlin_zp(zp, si)) * sd[si]; \
                    }                                                                      \
                }                                                                          \
            }                                                                              \
    } while (0)

// The per-tensor uint8 case (an int8 layer's output going into an fp32 one) on 16 lanes:
// the loop above's operations, so the same bits. Scalar SSE2 code, it was 2% of a search
// over int8/fp32 policies of ResNet-20.
#ifdef QLIN_AVX512
__attribute__((target("avx512f,avx512bw,avx512vl,avx2,prefer-vector-width=512")))
static void dequantize_u8_avx512(const uint8_t *x, float *y, int64_t n, float scale,
                                 int32_t zp) {
    for (int64_t i = 0; i < n; i++) y[i] = (float)((int32_t)x[i] - zp) * scale;
}
#endif

static enum qs_status dequantize_run(qs_kctx *k) {
    const qs_view *x = k->in[0], *s = k->in[1], *zp = k->n_in > 2 ? k->in[2] : NULL;
    struct qlayout l;
    enum qs_status st = read_layout(k, x, s, &l);
    if (st != QS_STATUS_OK) return st;
    const float *sd = s->data;
    float *y = k->out[0]->data;
#ifdef QLIN_AVX512
    if (x->dtype == QS_DTYPE_U8 && l.outer == 1 && l.dim == 1 && !l.block && qlin_avx512()) {
        dequantize_u8_avx512(x->data, y, l.inner, sd[0], qs__qlin_zp(zp, 0));
        return QS_STATUS_OK;
    }
#endif
    switch (x->dtype) {
    case QS_DTYPE_U8: DEQUANTIZE_LOOP(uint8_t); break;
    case QS_DTYPE_I8: DEQUANTIZE_LOOP(int8_t); break;
    case QS_DTYPE_U16: DEQUANTIZE_LOOP(uint16_t); break;
    case QS_DTYPE_I16: DEQUANTIZE_LOOP(int16_t); break;
    case QS_DTYPE_I32: {
        // int32 has no zero point in ONNX (it must be 0); wrap like onnxruntime if one is given.
        const int32_t *xd = x->data;
        for (int64_t o = 0; o < l.outer; o++)
            for (int64_t a = 0; a < l.dim; a++) {
                const int64_t base = (o * l.dim + a) * l.inner;
                for (int64_t i = 0; i < l.inner; i++) {
                    const int64_t si = scale_index(&l, o, a, i);
                    int32_t v = (int32_t)((uint32_t)xd[base + i] - (uint32_t)qs__qlin_zp(zp, si));
                    y[base + i] = (float)v * sd[si];
                }
            }
        break;
    }
    default: QS_ASSERT(!"input type checked at infer");
    }
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_dequantizelinear = {
    .name = "DequantizeLinear",
    .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = dequantize_infer, .run = dequantize_run,
};

// ---------------------------------------------------------------------------------------
// DynamicQuantizeLinear: y_scale = (max(0, max x) - min(0, min x)) / 255, y_zero_point =
// round(clamp(-min / y_scale, 0, 255)), y = QuantizeLinear(x, y_scale, y_zero_point).

static enum qs_status dynq_infer(qs_kctx *k) {
    const qs_view *x = k->in[0];
    if (x->dtype != QS_DTYPE_F32)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                           "input has type %s; only float32 is supported",
                           qs_dtype_name(x->dtype));
    qs__view_set_shape(k->out[0], QS_DTYPE_U8, x->rank, x->dims);
    if (k->n_out > 1 && k->out[1]) qs__view_set_shape(k->out[1], QS_DTYPE_F32, 0, NULL);
    if (k->n_out > 2 && k->out[2]) qs__view_set_shape(k->out[2], QS_DTYPE_U8, 0, NULL);
    return QS_STATUS_OK;
}

static enum qs_status dynq_run(qs_kctx *k) {
    const qs_view *x = k->in[0];
    const float *xd = x->data;
    float mn = 0.0f, mx = 0.0f;
    for (int64_t i = 0; i < x->numel; i++) {
        mn = xd[i] < mn ? xd[i] : mn;
        mx = xd[i] > mx ? xd[i] : mx;
    }
    float scale = (mx - mn) / 255.0f;
    int32_t zp = 0;
    uint8_t *y = k->out[0]->data;
    if (scale > 0.0f && isfinite(scale)) {
        float z = 0.0f - mn / scale;
        z = z < 0.0f ? 0.0f : z > 255.0f ? 255.0f : z;
        zp = (int32_t)nearbyintf(z);
        for (int64_t i = 0; i < x->numel; i++)
            y[i] = (uint8_t)qs__qlin_quantize(xd[i], scale, zp, 0, 255);
    } else {
        memset(y, 0, (size_t)x->numel);  // x is all zeros (or not finite)
    }
    if (k->n_out > 1 && k->out[1]) *(float *)k->out[1]->data = scale;
    if (k->n_out > 2 && k->out[2]) *(uint8_t *)k->out[2]->data = (uint8_t)zp;
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_dynamicquantizelinear = {
    .name = "DynamicQuantizeLinear",
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 3,
    .infer = dynq_infer, .run = dynq_run,
};
