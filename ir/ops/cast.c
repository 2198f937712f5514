// Cast and CastLike between float32/float64/float16/bfloat16, the integer types and bool.
// Float to integer truncates toward zero (NaN gives 0, values past int64 saturate, then
// narrower types wrap as numpy's astype does on x86); anything to bool is x != 0.
#include "ir/ops/ew-impl.h"

static inline int64_t f2i(double v) {
    if (!(v == v)) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}
static inline uint64_t f2u64(double v) {
    if (v >= 18446744073709551615.0) return UINT64_MAX;
    if (v >= 9223372036854775808.0) return (uint64_t)v;
    return (uint64_t)f2i(v);
}

// X(DT, T, CT, LD, ST, SK, DK, ...): SK is how the type reads (F float, I integer), DK how
// it is written (F float, I integer, U uint64, B bool).
#define CAST_TYPES(X, ...)                                                                \
    X(F32, float, float, QS_EW_ID, QS_EW_ID, F, F, __VA_ARGS__)                          \
    X(F64, double, double, QS_EW_ID, QS_EW_ID, F, F, __VA_ARGS__)                        \
    X(F16, uint16_t, float, qs__ew_f16_to_f32, qs__ew_f32_to_f16, F, F, __VA_ARGS__)     \
    X(BF16, uint16_t, float, qs__ew_bf16_to_f32, qs__ew_f32_to_bf16, F, F, __VA_ARGS__)  \
    X(I8, int8_t, int8_t, QS_EW_ID, QS_EW_ID, I, I, __VA_ARGS__)                         \
    X(U8, uint8_t, uint8_t, QS_EW_ID, QS_EW_ID, I, I, __VA_ARGS__)                       \
    X(I16, int16_t, int16_t, QS_EW_ID, QS_EW_ID, I, I, __VA_ARGS__)                      \
    X(U16, uint16_t, uint16_t, QS_EW_ID, QS_EW_ID, I, I, __VA_ARGS__)                    \
    X(I32, int32_t, int32_t, QS_EW_ID, QS_EW_ID, I, I, __VA_ARGS__)                      \
    X(U32, uint32_t, uint32_t, QS_EW_ID, QS_EW_ID, I, I, __VA_ARGS__)                    \
    X(I64, int64_t, int64_t, QS_EW_ID, QS_EW_ID, I, I, __VA_ARGS__)                      \
    X(U64, uint64_t, uint64_t, QS_EW_ID, QS_EW_ID, I, U, __VA_ARGS__)                    \
    X(BOOL, uint8_t, uint8_t, QS_EW_ID, QS_EW_ID, I, B, __VA_ARGS__)
// The same list under another name, so that it can be expanded inside the first.
#define CAST_TYPES2(X, ...)                                                               \
    X(F32, float, float, QS_EW_ID, QS_EW_ID, F, F, __VA_ARGS__)                          \
    X(F64, double, double, QS_EW_ID, QS_EW_ID, F, F, __VA_ARGS__)                        \
    X(F16, uint16_t, float, qs__ew_f16_to_f32, qs__ew_f32_to_f16, F, F, __VA_ARGS__)     \
    X(BF16, uint16_t, float, qs__ew_bf16_to_f32, qs__ew_f32_to_bf16, F, F, __VA_ARGS__)  \
    X(I8, int8_t, int8_t, QS_EW_ID, QS_EW_ID, I, I, __VA_ARGS__)                         \
    X(U8, uint8_t, uint8_t, QS_EW_ID, QS_EW_ID, I, I, __VA_ARGS__)                       \
    X(I16, int16_t, int16_t, QS_EW_ID, QS_EW_ID, I, I, __VA_ARGS__)                      \
    X(U16, uint16_t, uint16_t, QS_EW_ID, QS_EW_ID, I, I, __VA_ARGS__)                    \
    X(I32, int32_t, int32_t, QS_EW_ID, QS_EW_ID, I, I, __VA_ARGS__)                      \
    X(U32, uint32_t, uint32_t, QS_EW_ID, QS_EW_ID, I, I, __VA_ARGS__)                    \
    X(I64, int64_t, int64_t, QS_EW_ID, QS_EW_ID, I, I, __VA_ARGS__)                      \
    X(U64, uint64_t, uint64_t, QS_EW_ID, QS_EW_ID, I, U, __VA_ARGS__)                    \
    X(BOOL, uint8_t, uint8_t, QS_EW_ID, QS_EW_ID, I, B, __VA_ARGS__)

// CONV_<SK>_<DK>(v, DT, DCT, DST): v read from the source, written as DT.
#define CONV_F_F(v, DT, DCT, DST) DST((DCT)(v))
#define CONV_F_I(v, DT, DCT, DST) ((DT)f2i(v))
#define CONV_F_U(v, DT, DCT, DST) f2u64(v)
#define CONV_F_B(v, DT, DCT, DST) ((v) != 0)
#define CONV_I_F(v, DT, DCT, DST) DST((DCT)(v))
#define CONV_I_I(v, DT, DCT, DST) ((DT)(v))
#define CONV_I_U(v, DT, DCT, DST) ((uint64_t)(v))
#define CONV_I_B(v, DT, DCT, DST) ((v) != 0)
#define CONV(SK, DK) CONV_##SK##_##DK
#define CONV_X(SK, DK) CONV(SK, DK)

typedef void (*cast_fn)(int64_t n, const void *in, void *out);

#define CAST_ONE(DDT, DT, DCT, DLD, DST, DSK, DDK, SDT, ST, SLD, SSK)                  \
    static void cast_##SDT##_##DDT(int64_t n, const void *in_, void *out_) {            \
        const ST *in = in_;                                                             \
        DT *o = out_;                                                                   \
        for (int64_t i = 0; i < n; i++) o[i] = CONV_X(SSK, DDK)(SLD(in[i]), DT, DCT, DST); \
    }
#define CAST_ROW(SDT, ST, SCT, SLD, SST, SSK, SDK, ...) \
    CAST_TYPES2(CAST_ONE, SDT, ST, SLD, SSK)
CAST_TYPES(CAST_ROW, 0)

#define TAB_ONE(DDT, DT, DCT, DLD, DST, DSK, DDK, SDT) [QS_DTYPE_##DDT] = cast_##SDT##_##DDT,
#define TAB_ROW(SDT, ...) [QS_DTYPE_##SDT] = {CAST_TYPES2(TAB_ONE, SDT)},
static const cast_fn cast_tab[QS_EW_NDT][QS_EW_NDT] = {CAST_TYPES(TAB_ROW, 0)};

static enum qs_status cast_check(qs_kctx *k, enum qs_dtype from, int64_t to) {
    if (to < 0 || to >= QS_EW_NDT || (unsigned)from >= QS_EW_NDT ||
        !cast_tab[from][to])
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                           "cast from %s to %s (type %lld) is not supported",
                           qs_dtype_name(from), qs_dtype_name((enum qs_dtype)to), (long long)to);
    qs__view_set_shape(k->out[0], (enum qs_dtype)to, k->in[0]->rank, k->in[0]->dims);
    return QS_STATUS_OK;
}

struct cast_ctx {
    cast_fn fn;
    const char *in;
    char *out;
    size_t isz, osz;
};

static void cast_task(void *c, int64_t begin, int64_t end) {
    const struct cast_ctx *p = c;
    p->fn(end - begin, p->in + (size_t)begin * p->isz, p->out + (size_t)begin * p->osz);
}

static enum qs_status cast_exec(qs_kctx *k) {
    const qs_view *x = k->in[0];
    qs_view *y = k->out[0];
    if (x->dtype == y->dtype) {
        if (x->data != y->data) memcpy(y->data, x->data, qs__view_bytes(y));
        return QS_STATUS_OK;
    }
    struct cast_ctx c = {cast_tab[x->dtype][y->dtype], x->data, y->data,
                         qs_dtype_size(x->dtype), qs_dtype_size(y->dtype)};
    qs__ew_parallel(k->pool, y->numel, QS_EW_GRAIN_CHEAP, cast_task, &c);
    return QS_STATUS_OK;
}

static enum qs_status cast_infer(qs_kctx *k) {
    const struct qs_attr *to = qs__attr(k->node, "to");
    if (!to) return QS_NODE_ERR(k, QS_STATUS_PARSE, "attribute 'to' is missing");
    return cast_check(k, k->in[0]->dtype, to->i);
}

static enum qs_status castlike_infer(qs_kctx *k) {
    return cast_check(k, k->in[0]->dtype, k->in[1]->dtype);
}

const struct qs_op_def qs__opdef_cast = {
    .name = "Cast", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = cast_infer, .run = cast_exec,
};

const struct qs_op_def qs__opdef_castlike = {
    .name = "CastLike", .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = castlike_infer, .run = cast_exec,
};
