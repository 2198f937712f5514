// Comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual -> bool), logical
// And/Or/Xor on bool, and Where (broadcast over three inputs).
#include "ir/ops/ew-impl.h"

#define C_EQ(x, y, T, WT, SG) ((x) == (y))
#define C_LT(x, y, T, WT, SG) ((x) < (y))
#define C_GT(x, y, T, WT, SG) ((x) > (y))
#define C_LE(x, y, T, WT, SG) ((x) <= (y))
#define C_GE(x, y, T, WT, SG) ((x) >= (y))
#define L_AND(x, y, T, WT, SG) ((x) && (y))
#define L_OR(x, y, T, WT, SG) ((x) || (y))
#define L_XOR(x, y, T, WT, SG) (!(x) != !(y))

#define DEF_CMP_OP(op, NAME, OPM)                                \
    QS_EW_NUM_TYPES(QS_EW_DEF_CMP, op, OPM)                      \
    static const qs__ew_binop op##_desc = {                      \
        NAME, true, {QS_EW_NUM_TYPES(QS_EW_TAB_ENTRY, op, OPM)}};

QS_EW_NUM_TYPES(QS_EW_DEF_CMP, eq, C_EQ)
QS_EW_BOOL_TYPE(QS_EW_DEF_CMP, eq, C_EQ)
static const qs__ew_binop eq_desc = {"Equal", true,
                                     {QS_EW_NUM_TYPES(QS_EW_TAB_ENTRY, eq, C_EQ)
                                      QS_EW_BOOL_TYPE(QS_EW_TAB_ENTRY, eq, C_EQ)}};
DEF_CMP_OP(lt, "Less", C_LT)
DEF_CMP_OP(gt, "Greater", C_GT)
DEF_CMP_OP(le, "LessOrEqual", C_LE)
DEF_CMP_OP(ge, "GreaterOrEqual", C_GE)

#define DEF_LOGIC_OP(op, NAME, OPM)                              \
    QS_EW_BOOL_TYPE(QS_EW_DEF_CMP, op, OPM)                      \
    static const qs__ew_binop op##_desc = {                      \
        NAME, true, {QS_EW_BOOL_TYPE(QS_EW_TAB_ENTRY, op, OPM)}};
DEF_LOGIC_OP(land, "And", L_AND)
DEF_LOGIC_OP(lor, "Or", L_OR)
DEF_LOGIC_OP(lxor, "Xor", L_XOR)

QS_EW_BINOP_DEF(equal, "Equal", eq_desc)
QS_EW_BINOP_DEF(less, "Less", lt_desc)
QS_EW_BINOP_DEF(greater, "Greater", gt_desc)
QS_EW_BINOP_DEF(lessorequal, "LessOrEqual", le_desc)
QS_EW_BINOP_DEF(greaterorequal, "GreaterOrEqual", ge_desc)
QS_EW_BINOP_DEF(and, "And", land_desc)
QS_EW_BINOP_DEF(or, "Or", lor_desc)
QS_EW_BINOP_DEF(xor, "Xor", lxor_desc)

// ---------------------------------------------------------------------------------------
// Where(cond, X, Y): the kernels only move bytes, so one per element size serves every
// dtype.

#define WHERE_KERNEL(NB, T)                                                              \
    static void where_##NB(int64_t n, const void *const *in, const int64_t *s, void *out, \
                           const void *params) {                                          \
        const uint8_t *c = in[0];                                                       \
        const T *x = in[1], *y = in[2];                                                 \
        T *o = out;                                                                     \
        (void)params;                                                                   \
        if (s[0] && s[1] && s[2]) {                                                     \
            for (int64_t i = 0; i < n; i++) o[i] = c[i] ? x[i] : y[i];                  \
        } else if (!s[0]) {                                                             \
            const T *src = c[0] ? x : y;                                                \
            const int64_t ss = c[0] ? s[1] : s[2];                                      \
            if (ss)                                                                     \
                for (int64_t i = 0; i < n; i++) o[i] = src[i];                          \
            else                                                                        \
                for (int64_t i = 0; i < n; i++) o[i] = src[0];                          \
        } else {                                                                        \
            const int64_t sx = s[1], sy = s[2];                                         \
            for (int64_t i = 0; i < n; i++) o[i] = c[i] ? x[i * sx] : y[i * sy];        \
        }                                                                               \
    }
WHERE_KERNEL(1, uint8_t)
WHERE_KERNEL(2, uint16_t)
WHERE_KERNEL(4, uint32_t)
WHERE_KERNEL(8, uint64_t)

static enum qs_status where_infer(qs_kctx *k) {
    if (k->in[0]->dtype != QS_DTYPE_BOOL)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "condition is %s, expected bool",
                           qs_dtype_name(k->in[0]->dtype));
    enum qs_status st = qs__ew_same_dtype(k, 1, 2);
    if (st) return st;
    enum qs_dtype dt = k->in[1]->dtype;
    size_t sz = qs_dtype_size(dt);
    if (sz != 1 && sz != 2 && sz != 4 && sz != 8)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "Where is not supported for %s",
                           qs_dtype_name(dt));
    return qs__ew_infer_bcast(k, 3, dt);
}

static enum qs_status where_run(qs_kctx *k) {
    qs__ew_row_fn fn;
    switch (qs_dtype_size(k->in[1]->dtype)) {
    case 1: fn = where_1; break;
    case 2: fn = where_2; break;
    case 4: fn = where_4; break;
    default: fn = where_8; break;
    }
    const qs_view *in[3] = {k->in[0], k->in[1], k->in[2]};
    qs__ew_bcast_run(k->pool, k->out[0], 3, in, fn, NULL, QS_EW_GRAIN_CHEAP);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_where = {
    .name = "Where", .min_inputs = 3, .max_inputs = 3, .min_outputs = 1, .max_outputs = 1,
    .infer = where_infer, .run = where_run,
};
