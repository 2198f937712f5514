// Unary math and activations: Sqrt, Exp, Log, Erf, Neg, Abs, Reciprocal, Relu, LeakyRelu,
// Clip, Sigmoid, HardSigmoid, HardSwish, Tanh, Gelu and the extra ops (rounding, trig,
// Softplus, Elu, Selu...), plus IsNaN/IsInf/Not.
//
// Each kernel expression is written once over a compute type CT and instantiated for
// float32 (float, libm's *f functions through <tgmath.h>), float64, and float16/bfloat16
// (computed in float, rounded once). Integer kernels exist where ONNX allows ints.
#include "ir/ops/ew-impl.h"

#include <tgmath.h>

struct uparams {
    double a, b, g;  // op attributes (alpha, beta, gamma / lambd, bias)
    int flags;
};

typedef void (*urow_fn)(int64_t n, const void *in, void *out, const struct uparams *p);

struct unop {
    const char *name;
    int64_t grain;
    bool to_bool;
    void (*params)(const qs_node *n, struct uparams *p);  // NULL: no attributes
    urow_fn fn[QS_EW_NDT];
};

// A kernel `name` computing o[i] = ST(EXPR) with x = LD(in[i]) of compute type CT. EXPR
// may use A, B, G (the attributes in CT), F (flags), and, for integers, WT and SG.
#define UKERNEL(name, T, CT_, LD, ST, WT_, SG_, OT, EXPR)                                \
    static void name(int64_t n, const void *in_, void *out_, const struct uparams *p) { \
        typedef CT_ CT;                                                                 \
        typedef WT_ WT;                                                                 \
        enum { SG = SG_ };                                                              \
        const T *in = in_;                                                              \
        OT *o = out_;                                                                   \
        const CT A = (CT)p->a, B = (CT)p->b, G = (CT)p->g;                              \
        const int F = p->flags;                                                         \
        (void)A, (void)B, (void)G, (void)F, (void)sizeof(WT), (void)SG;                 \
        for (int64_t i = 0; i < n; i++) {                                               \
            CT x = LD(in[i]);                                                           \
            o[i] = ST(EXPR);                                                            \
        }                                                                               \
    }

#define UK_ROW(DT, T, CT, LD, ST, WT, SG, op, EXPR) \
    UKERNEL(op##_##DT, T, CT, LD, ST, WT, SG, T, EXPR)
#define UK_BOOL(DT, T, CT, LD, ST, WT, SG, op, EXPR) \
    UKERNEL(op##_##DT, T, CT, LD, QS_EW_ID, WT, SG, uint8_t, EXPR)
#define UK_TAB(DT, T, CT, LD, ST, WT, SG, op, EXPR) [QS_DTYPE_##DT] = op##_##DT,

// Float-only op `op` with expression EXPR; PARAMS reads the attributes (or NULL).
#define FLOAT_OP(op, NAME, GRAIN, PARAMS, EXPR)                                \
    QS_EW_FLOAT_TYPES(UK_ROW, op, EXPR)                                        \
    static const struct unop op##_op = {NAME, GRAIN, false, PARAMS,            \
                                        {QS_EW_FLOAT_TYPES(UK_TAB, op, EXPR)}};
// Float and signed-integer op (integers use IEXPR).
#define SIGNED_OP(op, NAME, GRAIN, PARAMS, EXPR, IEXPR)                        \
    QS_EW_FLOAT_TYPES(UK_ROW, op, EXPR)                                        \
    QS_EW_SINT_TYPES(UK_ROW, op, IEXPR)                                        \
    static const struct unop op##_op = {NAME, GRAIN, false, PARAMS,            \
                                        {QS_EW_FLOAT_TYPES(UK_TAB, op, EXPR)   \
                                         QS_EW_SINT_TYPES(UK_TAB, op, IEXPR)}};
// Float and every integer type.
#define NUM_OP(op, NAME, GRAIN, PARAMS, EXPR, IEXPR)                           \
    QS_EW_FLOAT_TYPES(UK_ROW, op, EXPR)                                        \
    QS_EW_INT_TYPES(UK_ROW, op, IEXPR)                                         \
    static const struct unop op##_op = {NAME, GRAIN, false, PARAMS,            \
                                        {QS_EW_FLOAT_TYPES(UK_TAB, op, EXPR)   \
                                         QS_EW_INT_TYPES(UK_TAB, op, IEXPR)}};

#define CHEAP QS_EW_GRAIN_CHEAP
#define MATH QS_EW_GRAIN_MATH

// Integer helpers: wrapping negation, and x < 0 without always-false warnings on unsigned.
#define INEG(x) ((CT)(0 - (WT)(x)))
#define INEGATIVE(x) ((x) < (CT)1 && (x) != (CT)0)

// Clamp to [0, 1] keeping NaN.
#define CLAMP01(v) ((v) < 0 ? (CT)0 : (v) > 1 ? (CT)1 : (v))

static inline float softplus_f(float x) {
    return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x));
}
static inline double softplus_d(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
#define SOFTPLUS(x) _Generic((x), float: softplus_f, double: softplus_d)(x)

// Attribute readers.
static void p_leaky(const qs_node *n, struct uparams *p) { p->a = qs__attr_f(n, "alpha", 0.01f); }
static void p_alpha1(const qs_node *n, struct uparams *p) { p->a = qs__attr_f(n, "alpha", 1.0f); }
static void p_selu(const qs_node *n, struct uparams *p) {
    p->a = qs__attr_f(n, "alpha", 1.67326319217681884765625f);
    p->g = qs__attr_f(n, "gamma", 1.05070102214813232421875f);
}
static void p_hardsigmoid(const qs_node *n, struct uparams *p) {
    p->a = qs__attr_f(n, "alpha", 0.2f);
    p->b = qs__attr_f(n, "beta", 0.5f);
}
static void p_shrink(const qs_node *n, struct uparams *p) {
    p->a = qs__attr_f(n, "lambd", 0.5f);
    p->b = qs__attr_f(n, "bias", 0.0f);
}
static void p_isinf(const qs_node *n, struct uparams *p) {
    p->flags = (qs__attr_i(n, "detect_negative", 1) ? 1 : 0) |
               (qs__attr_i(n, "detect_positive", 1) ? 2 : 0);
}

// ---------------------------------------------------------------------------------------
// The ops.

FLOAT_OP(k_sqrt, "Sqrt", CHEAP, NULL, sqrt(x))
FLOAT_OP(k_exp, "Exp", MATH, NULL, exp(x))
FLOAT_OP(k_log, "Log", MATH, NULL, log(x))
FLOAT_OP(k_erf, "Erf", MATH, NULL, erf(x))
FLOAT_OP(k_reciprocal, "Reciprocal", CHEAP, NULL, (CT)1 / x)
FLOAT_OP(k_sigmoid, "Sigmoid", MATH, NULL, (CT)1 / ((CT)1 + exp(-x)))
FLOAT_OP(k_hardsigmoid, "HardSigmoid", CHEAP, p_hardsigmoid, CLAMP01(A * x + B))
FLOAT_OP(k_hardswish, "HardSwish", CHEAP, NULL, x * CLAMP01(x * (CT)(1.0 / 6.0) + (CT)0.5))
FLOAT_OP(k_tanh, "Tanh", MATH, NULL, tanh(x))
FLOAT_OP(k_gelu, "Gelu", MATH, NULL, (CT)0.5 * x * ((CT)1 + erf(x * (CT)0.70710678118654752440)))
FLOAT_OP(k_gelu_tanh, "Gelu", MATH, NULL,
         (CT)0.5 * x *
             ((CT)1 + tanh((CT)0.79788456080286535588 * (x + (CT)0.044715 * x * x * x))))
FLOAT_OP(k_leakyrelu, "LeakyRelu", CHEAP, p_leaky, x < 0 ? A * x : x)
FLOAT_OP(k_floor, "Floor", CHEAP, NULL, floor(x))
FLOAT_OP(k_ceil, "Ceil", CHEAP, NULL, ceil(x))
// rint rounds halves to even in the default rounding mode, as ONNX Round requires.
FLOAT_OP(k_round, "Round", CHEAP, NULL, rint(x))
FLOAT_OP(k_sin, "Sin", MATH, NULL, sin(x))
FLOAT_OP(k_cos, "Cos", MATH, NULL, cos(x))
FLOAT_OP(k_tan, "Tan", MATH, NULL, tan(x))
FLOAT_OP(k_asin, "Asin", MATH, NULL, asin(x))
FLOAT_OP(k_acos, "Acos", MATH, NULL, acos(x))
FLOAT_OP(k_atan, "Atan", MATH, NULL, atan(x))
FLOAT_OP(k_sinh, "Sinh", MATH, NULL, sinh(x))
FLOAT_OP(k_cosh, "Cosh", MATH, NULL, cosh(x))
FLOAT_OP(k_asinh, "Asinh", MATH, NULL, asinh(x))
FLOAT_OP(k_acosh, "Acosh", MATH, NULL, acosh(x))
FLOAT_OP(k_atanh, "Atanh", MATH, NULL, atanh(x))
FLOAT_OP(k_softplus, "Softplus", MATH, NULL, SOFTPLUS(x))
FLOAT_OP(k_softsign, "Softsign", CHEAP, NULL, x / ((CT)1 + fabs(x)))
FLOAT_OP(k_elu, "Elu", MATH, p_alpha1, x < 0 ? A * expm1(x) : x)
FLOAT_OP(k_selu, "Selu", MATH, p_selu, x <= 0 ? G * (A * exp(x) - A) : G * x)
FLOAT_OP(k_celu, "Celu", MATH, p_alpha1, x > 0 ? x : A * expm1(x / A))
FLOAT_OP(k_thresholdedrelu, "ThresholdedRelu", CHEAP, p_alpha1, x > A ? x : (CT)0)
FLOAT_OP(k_mish, "Mish", MATH, NULL, x * tanh(SOFTPLUS(x)))
FLOAT_OP(k_shrink, "Shrink", CHEAP, p_shrink, x < -A ? x + B : x > A ? x - B : (CT)0)

SIGNED_OP(k_neg, "Neg", CHEAP, NULL, -x, INEG(x))
SIGNED_OP(k_relu, "Relu", CHEAP, NULL, x < 0 ? (CT)0 : x, INEGATIVE(x) ? (CT)0 : x)
NUM_OP(k_abs, "Abs", CHEAP, NULL, fabs(x), INEGATIVE(x) ? INEG(x) : x)
NUM_OP(k_sign, "Sign", CHEAP, NULL, x > 0 ? (CT)1 : x < 0 ? (CT)-1 : x,
       x > 0 ? (CT)1 : INEGATIVE(x) ? (CT)-1 : (CT)0)

QS_EW_FLOAT_TYPES(UK_BOOL, k_isnan, x != x)
QS_EW_FLOAT_TYPES(UK_BOOL, k_isinf, ((F & 1) && x == -INFINITY) || ((F & 2) && x == INFINITY))
QS_EW_BOOL_TYPE(UK_BOOL, k_not, !x)
static const struct unop k_isnan_op = {"IsNaN", CHEAP, true, NULL,
                                       {QS_EW_FLOAT_TYPES(UK_TAB, k_isnan, 0)}};
static const struct unop k_isinf_op = {"IsInf", CHEAP, true, p_isinf,
                                       {QS_EW_FLOAT_TYPES(UK_TAB, k_isinf, 0)}};
static const struct unop k_not_op = {"Not", CHEAP, true, NULL,
                                     {QS_EW_BOOL_TYPE(UK_TAB, k_not, 0)}};

// ---------------------------------------------------------------------------------------
// Driver.

static enum qs_status unary_infer(qs_kctx *k, const struct unop *op) {
    enum qs_dtype dt = k->in[0]->dtype;
    if ((unsigned)dt >= QS_EW_NDT || !op->fn[dt])
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "%s is not supported for %s", op->name,
                           qs_dtype_name(dt));
    qs__view_set_shape(k->out[0], op->to_bool ? QS_DTYPE_BOOL : dt, k->in[0]->rank,
                       k->in[0]->dims);
    return QS_STATUS_OK;
}

struct unary_ctx {
    urow_fn fn;
    const char *in;
    char *out;
    size_t isz, osz;
    const struct uparams *p;
};

static void unary_task(void *c, int64_t begin, int64_t end) {
    const struct unary_ctx *u = c;
    u->fn(end - begin, u->in + (size_t)begin * u->isz, u->out + (size_t)begin * u->osz, u->p);
}

static enum qs_status unary_run(qs_kctx *k, const struct unop *op) {
    struct uparams p = {0};
    if (op->params) op->params(k->node, &p);
    const qs_view *x = k->in[0];
    qs_view *y = k->out[0];
    struct unary_ctx c = {op->fn[x->dtype], x->data, y->data, qs_dtype_size(x->dtype),
                          qs_dtype_size(y->dtype), &p};
    qs__ew_parallel(k->pool, y->numel, op->grain, unary_task, &c);
    return QS_STATUS_OK;
}

#define UNARY_DEF(sym, NAME, opdesc)                                                     \
    static enum qs_status sym##_infer(qs_kctx *k) { return unary_infer(k, &opdesc); }  \
    static enum qs_status sym##_run(qs_kctx *k) { return unary_run(k, &opdesc); }      \
    const struct qs_op_def qs__opdef_##sym = {                                           \
        .name = NAME, .min_inputs = 1, .max_inputs = 1, .min_outputs = 1,               \
        .max_outputs = 1, .infer = sym##_infer, .run = sym##_run,                        \
    };

UNARY_DEF(sqrt, "Sqrt", k_sqrt_op)
UNARY_DEF(exp, "Exp", k_exp_op)
UNARY_DEF(log, "Log", k_log_op)
UNARY_DEF(erf, "Erf", k_erf_op)
UNARY_DEF(neg, "Neg", k_neg_op)
UNARY_DEF(abs, "Abs", k_abs_op)
UNARY_DEF(reciprocal, "Reciprocal", k_reciprocal_op)
UNARY_DEF(relu, "Relu", k_relu_op)
UNARY_DEF(leakyrelu, "LeakyRelu", k_leakyrelu_op)
UNARY_DEF(sigmoid, "Sigmoid", k_sigmoid_op)
UNARY_DEF(hardsigmoid, "HardSigmoid", k_hardsigmoid_op)
UNARY_DEF(hardswish, "HardSwish", k_hardswish_op)
UNARY_DEF(tanh, "Tanh", k_tanh_op)
UNARY_DEF(floor, "Floor", k_floor_op)
UNARY_DEF(ceil, "Ceil", k_ceil_op)
UNARY_DEF(round, "Round", k_round_op)
UNARY_DEF(sign, "Sign", k_sign_op)
UNARY_DEF(sin, "Sin", k_sin_op)
UNARY_DEF(cos, "Cos", k_cos_op)
UNARY_DEF(tan, "Tan", k_tan_op)
UNARY_DEF(asin, "Asin", k_asin_op)
UNARY_DEF(acos, "Acos", k_acos_op)
UNARY_DEF(atan, "Atan", k_atan_op)
UNARY_DEF(sinh, "Sinh", k_sinh_op)
UNARY_DEF(cosh, "Cosh", k_cosh_op)
UNARY_DEF(asinh, "Asinh", k_asinh_op)
UNARY_DEF(acosh, "Acosh", k_acosh_op)
UNARY_DEF(atanh, "Atanh", k_atanh_op)
UNARY_DEF(softplus, "Softplus", k_softplus_op)
UNARY_DEF(softsign, "Softsign", k_softsign_op)
UNARY_DEF(elu, "Elu", k_elu_op)
UNARY_DEF(selu, "Selu", k_selu_op)
UNARY_DEF(celu, "Celu", k_celu_op)
UNARY_DEF(thresholdedrelu, "ThresholdedRelu", k_thresholdedrelu_op)
UNARY_DEF(mish, "Mish", k_mish_op)
UNARY_DEF(shrink, "Shrink", k_shrink_op)
UNARY_DEF(isnan, "IsNaN", k_isnan_op)
UNARY_DEF(isinf, "IsInf", k_isinf_op)
UNARY_DEF(not, "Not", k_not_op)

// Gelu (opset 20): approximate = "none" (erf) or "tanh".
static const struct unop *gelu_op(const qs_kctx *k) {
    const char *a = qs__attr_s(k->node, "approximate", "none");
    if (strcmp(a, "none") == 0) return &k_gelu_op;
    if (strcmp(a, "tanh") == 0) return &k_gelu_tanh_op;
    return NULL;
}
static enum qs_status gelu_infer(qs_kctx *k) {
    const struct unop *op = gelu_op(k);
    if (!op)
        return QS_NODE_ERR(k, QS_STATUS_PARSE,
                           "approximate must be \"none\" or \"tanh\", not \"%s\"",
                           qs__attr_s(k->node, "approximate", ""));
    return unary_infer(k, op);
}
static enum qs_status gelu_run(qs_kctx *k) { return unary_run(k, gelu_op(k)); }
const struct qs_op_def qs__opdef_gelu = {
    .name = "Gelu", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = gelu_infer, .run = gelu_run,
};

// ---------------------------------------------------------------------------------------
// Clip: bounds from the min/max attributes before opset 11 (float types only), from the
// optional scalar inputs from opset 11 (any numeric type; they may change per run).

struct clip_params {
    bool has_lo, has_hi;
    unsigned char lo[8], hi[8];  // bounds stored in the input's element type
};

typedef void (*clip_fn)(int64_t n, const void *in, void *out, const struct clip_params *p);

#define CLIP_KERNEL(DT, T, CT, LD, ST, WT, SG, ...)                                      \
    static void clip_##DT(int64_t n, const void *in_, void *out_, const struct clip_params *p) { \
        const T *in = in_;                                                              \
        T *o = out_;                                                                    \
        T lo_t, hi_t;                                                                   \
        memcpy(&lo_t, p->lo, sizeof(T));                                                \
        memcpy(&hi_t, p->hi, sizeof(T));                                                \
        const CT lo = LD(lo_t), hi = LD(hi_t);                                          \
        if (p->has_lo && p->has_hi) {                                                   \
            for (int64_t i = 0; i < n; i++) {                                           \
                CT x = LD(in[i]);                                                       \
                x = x < lo ? lo : x;                                                    \
                o[i] = ST(x > hi ? hi : x);                                             \
            }                                                                           \
        } else if (p->has_lo) {                                                         \
            for (int64_t i = 0; i < n; i++) {                                           \
                CT x = LD(in[i]);                                                       \
                o[i] = ST(x < lo ? lo : x);                                             \
            }                                                                           \
        } else if (p->has_hi) {                                                         \
            for (int64_t i = 0; i < n; i++) {                                           \
                CT x = LD(in[i]);                                                       \
                o[i] = ST(x > hi ? hi : x);                                             \
            }                                                                           \
        } else {                                                                        \
            for (int64_t i = 0; i < n; i++) o[i] = in[i];                               \
        }                                                                               \
    }
#define CLIP_TAB(DT, ...) [QS_DTYPE_##DT] = clip_##DT,
QS_EW_NUM_TYPES(CLIP_KERNEL, 0)
static const clip_fn clip_fns[QS_EW_NDT] = {QS_EW_NUM_TYPES(CLIP_TAB, 0)};

static enum qs_status clip_infer(qs_kctx *k) {
    enum qs_dtype dt = k->in[0]->dtype;
    if ((unsigned)dt >= QS_EW_NDT || !clip_fns[dt])
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "Clip is not supported for %s",
                           qs_dtype_name(dt));
    if (k->node->opset < 11 && !qs__ew_is_float(dt))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "Clip before opset 11 takes float types only");
    for (int i = 1; i < k->n_in; i++) {
        const qs_view *b = k->in[i];
        if (!b) continue;
        if (b->dtype != dt)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "%s bound is %s but the input is %s",
                               i == 1 ? "min" : "max", qs_dtype_name(b->dtype),
                               qs_dtype_name(dt));
        if (b->numel > 1)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "%s bound has %lld elements, expected a scalar",
                               i == 1 ? "min" : "max", (long long)b->numel);
    }
    qs__view_set_shape(k->out[0], dt, k->in[0]->rank, k->in[0]->dims);
    return QS_STATUS_OK;
}

static void clip_set_bound(enum qs_dtype dt, unsigned char *dst, double v) {
    switch (dt) {
    case QS_DTYPE_F32: {
        float f = (float)v;
        memcpy(dst, &f, 4);
        break;
    }
    case QS_DTYPE_F64: memcpy(dst, &v, 8); break;
    case QS_DTYPE_F16: {
        uint16_t h = qs__ew_f32_to_f16((float)v);
        memcpy(dst, &h, 2);
        break;
    }
    case QS_DTYPE_BF16: {
        uint16_t h = qs__ew_f32_to_bf16((float)v);
        memcpy(dst, &h, 2);
        break;
    }
    default: break;
    }
}

struct clip_ctx {
    clip_fn fn;
    const char *in;
    char *out;
    size_t esz;
    const struct clip_params *p;
};

static void clip_task(void *c, int64_t begin, int64_t end) {
    const struct clip_ctx *u = c;
    u->fn(end - begin, u->in + (size_t)begin * u->esz, u->out + (size_t)begin * u->esz, u->p);
}

static enum qs_status clip_run(qs_kctx *k) {
    const qs_view *x = k->in[0];
    enum qs_dtype dt = x->dtype;
    size_t esz = qs_dtype_size(dt);
    struct clip_params p = {0};
    if (k->node->opset < 11) {
        const struct qs_attr *lo = qs__attr(k->node, "min"), *hi = qs__attr(k->node, "max");
        p.has_lo = lo != NULL;
        p.has_hi = hi != NULL;
        if (lo) clip_set_bound(dt, p.lo, lo->f);
        if (hi) clip_set_bound(dt, p.hi, hi->f);
    } else {
        if (k->n_in > 1 && k->in[1] && k->in[1]->numel == 1) {
            p.has_lo = true;
            memcpy(p.lo, k->in[1]->data, esz);
        }
        if (k->n_in > 2 && k->in[2] && k->in[2]->numel == 1) {
            p.has_hi = true;
            memcpy(p.hi, k->in[2]->data, esz);
        }
    }
    struct clip_ctx c = {clip_fns[dt], x->data, k->out[0]->data, esz, &p};
    qs__ew_parallel(k->pool, x->numel, QS_EW_GRAIN_CHEAP, clip_task, &c);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_clip = {
    .name = "Clip", .min_inputs = 1, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = clip_infer, .run = clip_run,
};
