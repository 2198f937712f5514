// Broadcasting binary arithmetic: Add, Sub, Mul, Div, Pow, Min, Max, Sum, Mean, Mod,
// BitShift, PRelu; and the broadcast walker and helpers the other elementwise files share
// (ew-impl.h).
#include "ir/ops/ew-impl.h"


// ---------------------------------------------------------------------------------------
// Generic element access (slow paths only).

double qs__ew_load_f64(enum qs_dtype dt, const void *p, int64_t i) {
    switch (dt) {
    case QS_DTYPE_F32: return ((const float *)p)[i];
    case QS_DTYPE_F64: return ((const double *)p)[i];
    case QS_DTYPE_F16: return qs__ew_f16_to_f32(((const uint16_t *)p)[i]);
    case QS_DTYPE_BF16: return qs__ew_bf16_to_f32(((const uint16_t *)p)[i]);
    case QS_DTYPE_I8: return ((const int8_t *)p)[i];
    case QS_DTYPE_U8: return ((const uint8_t *)p)[i];
    case QS_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0;
    case QS_DTYPE_I16: return ((const int16_t *)p)[i];
    case QS_DTYPE_U16: return ((const uint16_t *)p)[i];
    case QS_DTYPE_I32: return ((const int32_t *)p)[i];
    case QS_DTYPE_U32: return ((const uint32_t *)p)[i];
    case QS_DTYPE_I64: return (double)((const int64_t *)p)[i];
    case QS_DTYPE_U64: return (double)((const uint64_t *)p)[i];
    default: return 0;
    }
}

static int64_t load_i64(enum qs_dtype dt, const void *p, int64_t i) {
    switch (dt) {
    case QS_DTYPE_I8: return ((const int8_t *)p)[i];
    case QS_DTYPE_U8: return ((const uint8_t *)p)[i];
    case QS_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0;
    case QS_DTYPE_I16: return ((const int16_t *)p)[i];
    case QS_DTYPE_U16: return ((const uint16_t *)p)[i];
    case QS_DTYPE_I32: return ((const int32_t *)p)[i];
    case QS_DTYPE_U32: return ((const uint32_t *)p)[i];
    case QS_DTYPE_I64: return ((const int64_t *)p)[i];
    case QS_DTYPE_U64: return (int64_t)((const uint64_t *)p)[i];
    default: return 0;
    }
}

// Integer stores wrap (two's complement), as numpy's astype does.
static void store_i64(enum qs_dtype dt, void *p, int64_t i, int64_t v) {
    switch (dt) {
    case QS_DTYPE_I8: ((int8_t *)p)[i] = (int8_t)v; break;
    case QS_DTYPE_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case QS_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case QS_DTYPE_I16: ((int16_t *)p)[i] = (int16_t)v; break;
    case QS_DTYPE_U16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case QS_DTYPE_I32: ((int32_t *)p)[i] = (int32_t)v; break;
    case QS_DTYPE_U32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case QS_DTYPE_I64: ((int64_t *)p)[i] = v; break;
    case QS_DTYPE_U64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    default: break;
    }
}

// Float to integer truncates toward zero; NaN gives 0 and values outside int64 saturate
// (C leaves both undefined).
static int64_t f64_to_i64(double v) {
    if (!(v == v)) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

void qs__ew_store_f64(enum qs_dtype dt, void *p, int64_t i, double v) {
    switch (dt) {
    case QS_DTYPE_F32: ((float *)p)[i] = (float)v; break;
    case QS_DTYPE_F64: ((double *)p)[i] = v; break;
    case QS_DTYPE_F16: ((uint16_t *)p)[i] = qs__ew_f32_to_f16((float)v); break;
    case QS_DTYPE_BF16: ((uint16_t *)p)[i] = qs__ew_f32_to_bf16((float)v); break;
    case QS_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case QS_DTYPE_U64:
        if (v >= 9223372036854775808.0)
            ((uint64_t *)p)[i] = v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v;
        else
            ((uint64_t *)p)[i] = (uint64_t)f64_to_i64(v);
        break;
    default: store_i64(dt, p, i, f64_to_i64(v)); break;
    }
}

// ---------------------------------------------------------------------------------------
// Broadcast walker.

void qs__ew_bcast_init(qs__ew_bcast *b, int out_rank, const int64_t *out_dims, int n_in,
                       const int *in_rank, const int64_t *const *in_dims) {
    QS_ASSERT(n_in >= 1 && n_in <= QS_EW_MAX_IN && out_rank <= QS_MAX_RANK);
    int64_t full[QS_EW_MAX_IN][QS_MAX_RANK];
    for (int k = 0; k < n_in; k++) {
        int64_t st = 1;
        for (int d = out_rank - 1; d >= 0; d--) {
            int id = d - (out_rank - in_rank[k]);
            int64_t dim = id >= 0 ? in_dims[k][id] : 1;
            full[k][d] = dim == 1 ? 0 : st;
            st *= dim;
        }
    }
    b->n_in = n_in;
    b->numel = qs__numel(out_rank, out_dims);
    int r = 0;
    for (int d = 0; d < out_rank; d++) {
        if (out_dims[d] == 1) continue;
        bool merge = r > 0;
        for (int k = 0; k < n_in && merge; k++)
            merge = b->str[k][r - 1] == full[k][d] * out_dims[d];
        if (merge) {
            b->dims[r - 1] *= out_dims[d];
            for (int k = 0; k < n_in; k++) b->str[k][r - 1] = full[k][d];
        } else {
            b->dims[r] = out_dims[d];
            for (int k = 0; k < n_in; k++) b->str[k][r] = full[k][d];
            r++;
        }
    }
    if (r == 0) {  // a single element
        b->dims[0] = 1;
        for (int k = 0; k < n_in; k++) b->str[k][0] = 0;
        r = 1;
    }
    b->rank = r;
}

void qs__ew_bcast_walk(const qs__ew_bcast *b, const void *const *in, const size_t *in_esize,
                       void *out, size_t out_esize, int64_t begin, int64_t end,
                       qs__ew_row_fn fn, const void *params) {
    const int r = b->rank, nk = b->n_in;
    const int64_t inner = b->dims[r - 1];
    int64_t idx[QS_MAX_RANK], off[QS_EW_MAX_IN] = {0}, s[QS_EW_MAX_IN];
    int64_t rem = begin;
    for (int d = r - 1; d >= 0; d--) {
        idx[d] = rem % b->dims[d];
        rem /= b->dims[d];
        for (int k = 0; k < nk; k++) off[k] += idx[d] * b->str[k][d];
    }
    for (int k = 0; k < nk; k++) s[k] = b->str[k][r - 1];
    const void *ptr[QS_EW_MAX_IN];
    for (int64_t pos = begin; pos < end;) {
        int64_t n = QS_MIN(inner - idx[r - 1], end - pos);
        for (int k = 0; k < nk; k++)
            ptr[k] = (const char *)in[k] + (size_t)off[k] * in_esize[k];
        fn(n, ptr, s, (char *)out + (size_t)pos * out_esize, params);
        pos += n;
        idx[r - 1] += n;
        for (int k = 0; k < nk; k++) off[k] += n * s[k];
        for (int d = r - 1; d > 0 && idx[d] == b->dims[d]; d--) {
            for (int k = 0; k < nk; k++) off[k] += b->str[k][d - 1] - idx[d] * b->str[k][d];
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
}

struct par_ctx {
    qs__ew_range_fn fn;
    void *ctx;
    int64_t n, block;
};

static void par_task(void *c, size_t begin, size_t end) {
    const struct par_ctx *p = c;
    int64_t lo = (int64_t)begin * p->block, hi = QS_MIN((int64_t)end * p->block, p->n);
    if (lo < hi) p->fn(p->ctx, lo, hi);
}

void qs__ew_parallel(qs_pool_t *pool, int64_t n, int64_t grain, qs__ew_range_fn fn,
                     void *ctx) {
    if (n <= 0) return;
    int threads = pool ? qs__pool_threads(pool) : 1;
    if (threads <= 1 || n < 2 * grain) {
        fn(ctx, 0, n);
        return;
    }
    // A few blocks per thread keep the load balanced when threads finish unevenly.
    int64_t nblocks = QS_MIN((n + grain - 1) / grain, (int64_t)threads * 4);
    int64_t block = ((n + nblocks - 1) / nblocks + 63) & ~(int64_t)63;
    struct par_ctx p = {fn, ctx, n, block};
    qs__pool_run(pool, (size_t)((n + block - 1) / block), par_task, &p);
}

struct bcast_ctx {
    const qs__ew_bcast *b;
    const void *const *in;
    const size_t *esize;
    void *out;
    size_t out_esize;
    qs__ew_row_fn fn;
    const void *params;
};

static void bcast_task(void *c, int64_t begin, int64_t end) {
    const struct bcast_ctx *p = c;
    qs__ew_bcast_walk(p->b, p->in, p->esize, p->out, p->out_esize, begin, end, p->fn,
                      p->params);
}

void qs__ew_bcast_run(qs_pool_t *pool, const qs_view *out, int n_in, const qs_view *const *in,
                      qs__ew_row_fn fn, const void *params, int64_t grain) {
    if (out->numel == 0) return;
    int rank[QS_EW_MAX_IN];
    const int64_t *dims[QS_EW_MAX_IN];
    const void *data[QS_EW_MAX_IN];
    size_t esize[QS_EW_MAX_IN];
    for (int k = 0; k < n_in; k++) {
        rank[k] = in[k]->rank;
        dims[k] = in[k]->dims;
        data[k] = in[k]->data;
        esize[k] = qs_dtype_size(in[k]->dtype);
    }
    qs__ew_bcast b;
    qs__ew_bcast_init(&b, out->rank, out->dims, n_in, rank, dims);
    struct bcast_ctx c = {&b, data, esize, out->data, qs_dtype_size(out->dtype), fn, params};
    qs__ew_parallel(pool, out->numel, grain, bcast_task, &c);
}

bool qs__ew_unidir(int rs, const int64_t *s, int rd, const int64_t *d) {
    if (rs > rd) return false;
    for (int i = 0; i < rs; i++) {
        int64_t a = s[rs - 1 - i], b = d[rd - 1 - i];
        if (a != b && a != 1) return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------
// infer helpers.

enum qs_status qs__ew_same_dtype(qs_kctx *k, int first, int last) {
    const qs_view *ref = k->in[first];
    for (int i = first + 1; i <= last; i++) {
        if (k->in[i] && k->in[i]->dtype != ref->dtype)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "input %d is %s but input %d is %s", i,
                               qs_dtype_name(k->in[i]->dtype), first,
                               qs_dtype_name(ref->dtype));
    }
    return QS_STATUS_OK;
}

enum qs_status qs__ew_infer_bcast(qs_kctx *k, int n, enum qs_dtype dt) {
    int r = k->in[0]->rank;
    int64_t dims[QS_MAX_RANK];
    memcpy(dims, k->in[0]->dims, sizeof(int64_t) * (size_t)r);
    for (int i = 1; i < n; i++) {
        const qs_view *v = k->in[i];
        int64_t tmp[QS_MAX_RANK];
        int rt;
        if (!qs__broadcast_shape(r, dims, v->rank, v->dims, &rt, tmp)) {
            char a[160], b[160];
            int la = 0, lb = 0;
            for (int d = 0; d < r && la < 140; d++)
                la += snprintf(a + la, sizeof a - (size_t)la, "%s%lld", d ? "," : "",
                               (long long)dims[d]);
            a[la] = 0;
            for (int d = 0; d < v->rank && lb < 140; d++)
                lb += snprintf(b + lb, sizeof b - (size_t)lb, "%s%lld", d ? "," : "",
                               (long long)v->dims[d]);
            b[lb] = 0;
            return QS_NODE_ERR(k, QS_STATUS_PARSE,
                               "input shapes [%s] and [%s] (input %d) do not broadcast", a, b, i);
        }
        r = rt;
        memcpy(dims, tmp, sizeof(int64_t) * (size_t)r);
    }
    qs__view_set_shape(k->out[0], dt, r, dims);
    return QS_STATUS_OK;
}

enum qs_status qs__ew_binop_infer(qs_kctx *k, const qs__ew_binop *op) {
    // Before opset 7, broadcast=1 with an axis aligned B at that axis instead of the end.
    if (k->node->opset < 7 && qs__attr_i(k->node, "broadcast", 0) && qs__attr(k->node, "axis"))
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                           "the legacy broadcast/axis attributes (opset < 7) are not supported");
    enum qs_status st = qs__ew_same_dtype(k, 0, 1);
    if (st) return st;
    enum qs_dtype dt = k->in[0]->dtype;
    if ((unsigned)dt >= QS_EW_NDT || !op->fn[dt])
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "%s is not supported for %s", op->name,
                           qs_dtype_name(dt));
    return qs__ew_infer_bcast(k, 2, op->to_bool ? QS_DTYPE_BOOL : dt);
}

enum qs_status qs__ew_binop_run(qs_kctx *k, const qs__ew_binop *op, const void *params) {
    const qs_view *in[2] = {k->in[0], k->in[1]};
    qs__ew_bcast_run(k->pool, k->out[0], 2, in, op->fn[k->in[0]->dtype], params,
                     QS_EW_GRAIN_CHEAP);
    return QS_STATUS_OK;
}

// ---------------------------------------------------------------------------------------
// Arithmetic kernels. OP(x, y, T, WT, SG) macros: float ones compute in CT, integer ones
// wrap through WT and never trap (division by zero gives 0 as numpy does, INT_MIN / -1
// wraps).

#define F_ADD(x, y, T, WT, SG) ((x) + (y))
#define F_SUB(x, y, T, WT, SG) ((x) - (y))
#define F_MUL(x, y, T, WT, SG) ((x) * (y))
#define F_DIV(x, y, T, WT, SG) ((x) / (y))
// NaN propagates as in numpy's minimum/maximum.
#define F_MIN(x, y, T, WT, SG) (((x) < (y) || (x) != (x)) ? (x) : (y))
#define F_MAX(x, y, T, WT, SG) (((x) > (y) || (x) != (x)) ? (x) : (y))
#define F_PRELU(x, y, T, WT, SG) ((x) < 0 ? (x) * (y) : (x))
#define F_FMOD(x, y, T, WT, SG) fmod_ct(x, y)
#define F_PYMOD(x, y, T, WT, SG) pymod_ct(x, y)

// v < 0 written so that unsigned types draw no always-false warning.
#define IS_NEG(v, T) ((v) < (T)1 && (v) != (T)0)
#define I_ADD(x, y, T, WT, SG) ((T)((WT)(x) + (WT)(y)))
#define I_SUB(x, y, T, WT, SG) ((T)((WT)(x) - (WT)(y)))
#define I_MUL(x, y, T, WT, SG) ((T)((WT)(x) * (WT)(y)))
#define I_DIV(x, y, T, WT, SG) \
    ((y) == 0 ? (T)0 : (SG && (y) == (T)-1) ? (T)(0 - (WT)(x)) : (T)((x) / (y)))
#define I_MIN(x, y, T, WT, SG) ((x) < (y) ? (x) : (y))
#define I_MAX(x, y, T, WT, SG) ((x) > (y) ? (x) : (y))
#define I_PRELU(x, y, T, WT, SG) (IS_NEG(x, T) ? I_MUL(x, y, T, WT, SG) : (x))
// C remainder (sign of the dividend), as fmod=1.
#define I_FMOD(x, y, T, WT, SG) \
    ((y) == 0 || (SG && (y) == (T)-1) ? (T)0 : (T)((x) % (y)))
// Python remainder (sign of the divisor), as fmod=0.
#define I_PYMOD(x, y, T, WT, SG)                                                        \
    ((y) == 0 || (SG && (y) == (T)-1)                                             \
         ? (T)0                                                                         \
         : (T)((SG && (x) % (y) != 0 && (IS_NEG((x) % (y), T) != IS_NEG(y, T))) \
                   ? (x) % (y) + (y)                                                    \
                   : (x) % (y)))
#define U_SHL(x, y, T, WT, SG) ((y) >= (T)(sizeof(T) * 8) ? (T)0 : (T)((WT)(x) << (y)))
#define U_SHR(x, y, T, WT, SG) ((y) >= (T)(sizeof(T) * 8) ? (T)0 : (T)((x) >> (y)))

static inline float fmod_f(float x, float y) { return fmodf(x, y); }
static inline double fmod_d(double x, double y) { return fmod(x, y); }
#define fmod_ct(x, y) _Generic((x), float: fmod_f, double: fmod_d)(x, y)
static inline float pymod_f(float x, float y) {
    float r = fmodf(x, y);
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}
static inline double pymod_d(double x, double y) {
    double r = fmod(x, y);
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}
#define pymod_ct(x, y) _Generic((x), float: pymod_f, double: pymod_d)(x, y)

#define DEF_ARITH_OP(op, NAME, FOP, IOP)                      \
    QS_EW_FLOAT_TYPES(QS_EW_DEF_ARITH, op, FOP)               \
    QS_EW_INT_TYPES(QS_EW_DEF_ARITH, op, IOP)                 \
    static const qs__ew_binop op##_desc = {                   \
        NAME, false,                                          \
        {QS_EW_FLOAT_TYPES(QS_EW_TAB_ENTRY, op, FOP)          \
         QS_EW_INT_TYPES(QS_EW_TAB_ENTRY, op, IOP)}};

DEF_ARITH_OP(add, "Add", F_ADD, I_ADD)
DEF_ARITH_OP(sub, "Sub", F_SUB, I_SUB)
DEF_ARITH_OP(mul, "Mul", F_MUL, I_MUL)
DEF_ARITH_OP(div, "Div", F_DIV, I_DIV)
DEF_ARITH_OP(min, "Min", F_MIN, I_MIN)
DEF_ARITH_OP(max, "Max", F_MAX, I_MAX)
DEF_ARITH_OP(prelu, "PRelu", F_PRELU, I_PRELU)
DEF_ARITH_OP(fmod, "Mod", F_FMOD, I_FMOD)
DEF_ARITH_OP(pymod, "Mod", F_PYMOD, I_PYMOD)

QS_EW_UINT_TYPES(QS_EW_DEF_ARITH, shl, U_SHL)
QS_EW_UINT_TYPES(QS_EW_DEF_ARITH, shr, U_SHR)
static const qs__ew_binop shl_desc = {"BitShift", false,
                                      {QS_EW_UINT_TYPES(QS_EW_TAB_ENTRY, shl, U_SHL)}};
static const qs__ew_binop shr_desc = {"BitShift", false,
                                      {QS_EW_UINT_TYPES(QS_EW_TAB_ENTRY, shr, U_SHR)}};

QS_EW_BINOP_DEF(add, "Add", add_desc)
QS_EW_BINOP_DEF(sub, "Sub", sub_desc)
QS_EW_BINOP_DEF(mul, "Mul", mul_desc)
QS_EW_BINOP_DEF(div, "Div", div_desc)

// ---------------------------------------------------------------------------------------
// Mod (fmod attribute), BitShift (direction attribute).

static const qs__ew_binop *mod_desc(const qs_kctx *k) {
    return qs__attr_i(k->node, "fmod", 0) ? &fmod_desc : &pymod_desc;
}
static enum qs_status mod_infer(qs_kctx *k) { return qs__ew_binop_infer(k, mod_desc(k)); }
static enum qs_status mod_run(qs_kctx *k) { return qs__ew_binop_run(k, mod_desc(k), NULL); }
const struct qs_op_def qs__opdef_mod = {
    .name = "Mod", .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = mod_infer, .run = mod_run,
};

static const qs__ew_binop *shift_desc(const qs_kctx *k) {
    const char *dir = qs__attr_s(k->node, "direction", "");
    if (strcmp(dir, "LEFT") == 0) return &shl_desc;
    if (strcmp(dir, "RIGHT") == 0) return &shr_desc;
    return NULL;
}
static enum qs_status bitshift_infer(qs_kctx *k) {
    const qs__ew_binop *d = shift_desc(k);
    if (!d)
        return QS_NODE_ERR(k, QS_STATUS_PARSE,
                           "direction must be \"LEFT\" or \"RIGHT\", not \"%s\"",
                           qs__attr_s(k->node, "direction", ""));
    return qs__ew_binop_infer(k, d);
}
static enum qs_status bitshift_run(qs_kctx *k) {
    return qs__ew_binop_run(k, shift_desc(k), NULL);
}
const struct qs_op_def qs__opdef_bitshift = {
    .name = "BitShift", .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = bitshift_infer, .run = bitshift_run,
};

// ---------------------------------------------------------------------------------------
// PRelu: the slope broadcasts to X (unidirectionally).

static enum qs_status prelu_infer(qs_kctx *k) {
    const qs_view *x0 = k->in[0], *s0 = k->in[1];
    // PRelu-6 applied a 1-D slope along the channel axis, which numpy rules cannot express.
    if (k->node->opset < 7 && s0->rank == 1 && x0->rank > 2 && s0->dims[0] > 1 &&
        !qs__ew_unidir(s0->rank, s0->dims, x0->rank, x0->dims))
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                           "opset-6 per-channel slope broadcasting is not supported");
    enum qs_status st = qs__ew_binop_infer(k, &prelu_desc);
    if (st) return st;
    const qs_view *x = k->in[0], *s = k->in[1];
    if (!qs__ew_unidir(s->rank, s->dims, x->rank, x->dims)) {
        return QS_NODE_ERR(k, QS_STATUS_PARSE,
                           "slope of rank %d does not broadcast to X of rank %d",
                           s->rank, x->rank);
    }
    return QS_STATUS_OK;
}
static enum qs_status prelu_run(qs_kctx *k) { return qs__ew_binop_run(k, &prelu_desc, NULL); }
const struct qs_op_def qs__opdef_prelu = {
    .name = "PRelu", .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = prelu_infer, .run = prelu_run,
};

// ---------------------------------------------------------------------------------------
// Variadic Sum, Mean, Min, Max: out = in0 op in1, then out = out op in_k. Later steps read
// the output in place, element for element, which the row kernels allow.

static enum qs_status variadic_infer(qs_kctx *k, const qs__ew_binop *op, bool float_only) {
    enum qs_status st = qs__ew_same_dtype(k, 0, k->n_in - 1);
    if (st) return st;
    enum qs_dtype dt = k->in[0]->dtype;
    if ((unsigned)dt >= QS_EW_NDT || !op->fn[dt] || (float_only && !qs__ew_is_float(dt)))
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "not supported for %s", qs_dtype_name(dt));
    for (int i = 0; i < k->n_in; i++)
        if (!k->in[i]) return QS_NODE_ERR(k, QS_STATUS_PARSE, "input %d is empty", i);
    return qs__ew_infer_bcast(k, k->n_in, dt);
}

static enum qs_status variadic_run(qs_kctx *k, const qs__ew_binop *op) {
    qs_view *out = k->out[0];
    qs__ew_row_fn fn = op->fn[out->dtype];
    if (k->n_in == 1) {
        if (out->data != k->in[0]->data) memcpy(out->data, k->in[0]->data, qs__view_bytes(out));
        return QS_STATUS_OK;
    }
    const qs_view *in[2] = {k->in[0], k->in[1]};
    qs__ew_bcast_run(k->pool, out, 2, in, fn, NULL, QS_EW_GRAIN_CHEAP);
    for (int i = 2; i < k->n_in; i++) {
        const qs_view *acc[2] = {out, k->in[i]};
        qs__ew_bcast_run(k->pool, out, 2, acc, fn, NULL, QS_EW_GRAIN_CHEAP);
    }
    return QS_STATUS_OK;
}

static enum qs_status sum_infer(qs_kctx *k) { return variadic_infer(k, &add_desc, false); }
static enum qs_status sum_run(qs_kctx *k) { return variadic_run(k, &add_desc); }
static enum qs_status min_infer(qs_kctx *k) { return variadic_infer(k, &min_desc, false); }
static enum qs_status min_run(qs_kctx *k) { return variadic_run(k, &min_desc); }
static enum qs_status max_infer(qs_kctx *k) { return variadic_infer(k, &max_desc, false); }
static enum qs_status max_run(qs_kctx *k) { return variadic_run(k, &max_desc); }
static enum qs_status mean_infer(qs_kctx *k) { return variadic_infer(k, &add_desc, true); }

static enum qs_status mean_run(qs_kctx *k) {
    enum qs_status st = variadic_run(k, &add_desc);
    if (st) return st;
    qs_view *out = k->out[0];
    const double n = k->n_in;
    if (out->dtype == QS_DTYPE_F32) {
        float *o = out->data;
        const float nf = (float)n;
        for (int64_t i = 0; i < out->numel; i++) o[i] /= nf;
    } else {
        for (int64_t i = 0; i < out->numel; i++)
            qs__ew_store_f64(out->dtype, out->data, i,
                             qs__ew_load_f64(out->dtype, out->data, i) / n);
    }
    return QS_STATUS_OK;
}

#define VARIADIC_DEF(sym, NAME)                                                         \
    const struct qs_op_def qs__opdef_##sym = {                                          \
        .name = NAME, .min_inputs = 1, .max_inputs = -1, .min_outputs = 1,             \
        .max_outputs = 1, .infer = sym##_infer, .run = sym##_run,                       \
    };
VARIADIC_DEF(sum, "Sum")
VARIADIC_DEF(mean, "Mean")
VARIADIC_DEF(min, "Min")
VARIADIC_DEF(max, "Max")

// ---------------------------------------------------------------------------------------
// Pow. The exponent may have another numeric type than the base (opset 12+); the output
// has the base's type. float32^float32 runs on powf, with the scalar exponents that
// models use (x^2 in LayerNorm decompositions, x^0.5, x^3 in tanh-GELU) as plain
// arithmetic; every other combination goes through double (int^int exactly in int64).

static void pow_f32(int64_t n, const void *const *in, const int64_t *s, void *out,
                    const void *params) {
    const float *a = in[0], *b = in[1];
    float *o = out;
    (void)params;
    for (int64_t i = 0; i < n; i++) o[i] = powf(a[i * s[0]], b[i * s[1]]);
}

static void pow_f64(int64_t n, const void *const *in, const int64_t *s, void *out,
                    const void *params) {
    const double *a = in[0], *b = in[1];
    double *o = out;
    (void)params;
    for (int64_t i = 0; i < n; i++) o[i] = pow(a[i * s[0]], b[i * s[1]]);
}

static int64_t ipow(int64_t base, int64_t e) {
    if (e < 0) return base == 1 ? 1 : base == -1 ? ((e & 1) ? -1 : 1) : 0;
    uint64_t r = 1, b = (uint64_t)base;
    while (e) {
        if (e & 1) r *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)r;
}

struct pow_params {
    enum qs_dtype ta, tb;
};

static void pow_generic(int64_t n, const void *const *in, const int64_t *s, void *out,
                        const void *params) {
    const struct pow_params *p = params;
    if (qs__ew_is_int(p->ta) && qs__ew_is_int(p->tb)) {
        for (int64_t i = 0; i < n; i++)
            store_i64(p->ta, out, i,
                      ipow(load_i64(p->ta, in[0], i * s[0]), load_i64(p->tb, in[1], i * s[1])));
    } else {
        for (int64_t i = 0; i < n; i++)
            qs__ew_store_f64(p->ta, out, i,
                             pow(qs__ew_load_f64(p->ta, in[0], i * s[0]),
                                 qs__ew_load_f64(p->tb, in[1], i * s[1])));
    }
}

struct pow_scalar {
    const float *x;
    float *o;
    float e;
};

static void pow_scalar_task(void *c, int64_t begin, int64_t end) {
    const struct pow_scalar *p = c;
    const float *x = p->x;
    float *o = p->o;
    if (p->e == 2.0f) {
        for (int64_t i = begin; i < end; i++) o[i] = x[i] * x[i];
    } else if (p->e == 3.0f) {
        for (int64_t i = begin; i < end; i++) o[i] = x[i] * x[i] * x[i];
    } else if (p->e == 1.0f) {
        for (int64_t i = begin; i < end; i++) o[i] = x[i];
    } else if (p->e == 0.5f) {
        // powf(-inf, 0.5) is +inf where sqrtf gives NaN.
        for (int64_t i = begin; i < end; i++) o[i] = x[i] == -INFINITY ? INFINITY : sqrtf(x[i]);
    } else {
        for (int64_t i = begin; i < end; i++) o[i] = powf(x[i], p->e);
    }
}

static bool is_pow_type(enum qs_dtype dt) { return qs__ew_is_float(dt) || qs__ew_is_int(dt); }

static enum qs_status pow_infer(qs_kctx *k) {
    if (k->node->opset < 7 && qs__attr_i(k->node, "broadcast", 0) && qs__attr(k->node, "axis"))
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                           "the legacy broadcast/axis attributes (opset < 7) are not supported");
    enum qs_dtype ta = k->in[0]->dtype, tb = k->in[1]->dtype;
    if (!is_pow_type(ta) || !is_pow_type(tb))
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "Pow is not supported for %s ^ %s",
                           qs_dtype_name(ta), qs_dtype_name(tb));
    return qs__ew_infer_bcast(k, 2, ta);
}

static enum qs_status pow_run(qs_kctx *k) {
    const qs_view *a = k->in[0], *b = k->in[1];
    qs_view *out = k->out[0];
    if (a->dtype == QS_DTYPE_F32 && b->numel == 1 && a->numel == out->numel &&
        (b->dtype == QS_DTYPE_F32 || qs__ew_is_int(b->dtype))) {
        double e = qs__ew_load_f64(b->dtype, b->data, 0);
        if ((double)(float)e == e) {
            struct pow_scalar p = {a->data, out->data, (float)e};
            bool cheap = p.e == 2.0f || p.e == 3.0f || p.e == 1.0f || p.e == 0.5f;
            qs__ew_parallel(k->pool, out->numel, cheap ? QS_EW_GRAIN_CHEAP : QS_EW_GRAIN_MATH,
                            pow_scalar_task, &p);
            return QS_STATUS_OK;
        }
    }
    const qs_view *in[2] = {a, b};
    struct pow_params p = {a->dtype, b->dtype};
    qs__ew_row_fn fn = pow_generic;
    if (a->dtype == QS_DTYPE_F32 && b->dtype == QS_DTYPE_F32) fn = pow_f32;
    if (a->dtype == QS_DTYPE_F64 && b->dtype == QS_DTYPE_F64) fn = pow_f64;
    qs__ew_bcast_run(k->pool, out, 2, in, fn, &p, QS_EW_GRAIN_MATH);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_pow = {
    .name = "Pow", .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = pow_infer, .run = pow_run,
};
