// Reductions: ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare, ArgMax,
// ArgMin.
//
// The input dims are collapsed into runs of kept and reduced dims (size-1 dims dropped).
// A single reduced run between kept ones, [O, R, I] with I > 1, is reduced a row at a
// time into the output (vectorized over I); everything else reduces each output element
// over its reduced coordinates, with the innermost reduced run as one (usually contiguous)
// row. Work is split over output elements.
#include "ir/ops/ew-impl.h"


enum rkind { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LSE, R_SUMSQ };

struct rplan {
    enum rkind kind;
    int64_t rcount;  // elements reduced into each output
    // [O, R, I] layout (col path): simple && I > 1.
    bool simple;
    int64_t O, R, I;
    // generic: kept dims (their sizes and input strides, outer to inner) and reduced dims.
    int nk, nr;
    int64_t kdim[QS_MAX_RANK], kstr[QS_MAX_RANK];
    int64_t rdim[QS_MAX_RANK], rstr[QS_MAX_RANK];
};

// ---------------------------------------------------------------------------------------
// Typed kernels. Row functions reduce MAP(x) over n elements spaced by `stride` (n >= 1);
// column functions combine R rows of `n` contiguous elements (stride I) into out.

#define MAP_ID(v) (v)
#define MAP_ABS(v) ((v) < 0 ? -(v) : (v))
#define MAP_SQR(v) ((v) * (v))
#define COMB_ADD(a, b) ((a) + (b))
#define COMB_MUL(a, b) ((a) * (b))
// NaN propagates (numpy max/min).
#define COMB_MAX(a, b) (((b) > (a) || (b) != (b)) ? (b) : (a))
#define COMB_MIN(a, b) (((b) < (a) || (b) != (b)) ? (b) : (a))
#define ICOMB_MAX(a, b) ((b) > (a) ? (b) : (a))
#define ICOMB_MIN(a, b) ((b) < (a) ? (b) : (a))

#define DEF_ROW(DT, T, tag, COMB, MAP)                                                   \
    static T row_##DT##_##tag(const T *x, int64_t n, int64_t stride) {                  \
        if (stride == 1 && n >= 16) {                                                   \
            T acc[8];                                                                   \
            for (int j = 0; j < 8; j++) acc[j] = MAP(x[j]);                             \
            int64_t i = 8;                                                              \
            for (; i + 8 <= n; i += 8)                                                  \
                for (int j = 0; j < 8; j++) acc[j] = COMB(acc[j], MAP(x[i + j]));       \
            T r = COMB(COMB(COMB(acc[0], acc[1]), COMB(acc[2], acc[3])),                \
                       COMB(COMB(acc[4], acc[5]), COMB(acc[6], acc[7])));               \
            for (; i < n; i++) r = COMB(r, MAP(x[i]));                                  \
            return r;                                                                   \
        }                                                                               \
        T r = MAP(x[0]);                                                                \
        for (int64_t i = 1; i < n; i++) r = COMB(r, MAP(x[i * stride]));                \
        return r;                                                                       \
    }                                                                                   \
    static void col_##DT##_##tag(const T *x, int64_t R, int64_t I, T *out, int64_t n) { \
        for (int64_t j = 0; j < n; j++) out[j] = MAP(x[j]);                             \
        for (int64_t r = 1; r < R; r++) {                                               \
            const T *xr = x + r * I;                                                    \
            for (int64_t j = 0; j < n; j++) out[j] = COMB(out[j], MAP(xr[j]));          \
        }                                                                               \
    }

// Float types: every reduction in T. Integer types: sums and products wrap through the
// unsigned type (numpy wraps too); L2/LogSum/LogSumExp/Mean finish in double.
#define DEF_FLOAT_REDUCE(DT, T)                 \
    static inline T DT##_add(T a, T b) { return a + b; } \
    static inline T DT##_mul(T a, T b) { return a * b; } \
    static inline T DT##_max(T a, T b) { return COMB_MAX(a, b); } \
    static inline T DT##_min(T a, T b) { return COMB_MIN(a, b); } \
    DEF_ROW(DT, T, sum, COMB_ADD, MAP_ID)       \
    DEF_ROW(DT, T, l1, COMB_ADD, MAP_ABS)       \
    DEF_ROW(DT, T, sq, COMB_ADD, MAP_SQR)       \
    DEF_ROW(DT, T, max, COMB_MAX, MAP_ID)       \
    DEF_ROW(DT, T, min, COMB_MIN, MAP_ID)       \
    DEF_ROW(DT, T, prod, COMB_MUL, MAP_ID)

#define DEF_INT_REDUCE(DT, T, UT)                                                         \
    static inline T DT##_add(T a, T b) { return (T)((UT)a + (UT)b); }                     \
    static inline T DT##_mul(T a, T b) { return (T)((UT)a * (UT)b); }                     \
    static inline T DT##_abs(T a) { return a < (T)1 && a != 0 ? (T)(0 - (UT)a) : a; }     \
    static inline T DT##_sqr(T a) { return DT##_mul(a, a); }                              \
    static inline T DT##_max(T a, T b) { return ICOMB_MAX(a, b); }                        \
    static inline T DT##_min(T a, T b) { return ICOMB_MIN(a, b); }                        \
    DEF_ROW(DT, T, sum, DT##_add, MAP_ID)                                                 \
    DEF_ROW(DT, T, l1, DT##_add, DT##_abs)                                                \
    DEF_ROW(DT, T, sq, DT##_add, DT##_sqr)                                                \
    DEF_ROW(DT, T, max, ICOMB_MAX, MAP_ID)                                                \
    DEF_ROW(DT, T, min, ICOMB_MIN, MAP_ID)                                                \
    DEF_ROW(DT, T, prod, DT##_mul, MAP_ID)

DEF_FLOAT_REDUCE(F32, float)
DEF_FLOAT_REDUCE(F64, double)
DEF_INT_REDUCE(I32, int32_t, uint32_t)
DEF_INT_REDUCE(I64, int64_t, uint64_t)
DEF_INT_REDUCE(U8, uint8_t, uint32_t)
DEF_INT_REDUCE(U32, uint32_t, uint32_t)
DEF_INT_REDUCE(U64, uint64_t, uint64_t)
DEF_INT_REDUCE(I8, int8_t, uint32_t)

// sum(exp(x - m)) for LogSumExp, in double.
#define DEF_EXPSUM(DT, T)                                                                 \
    static double expsum_##DT(const T *x, int64_t n, int64_t stride, double m) {          \
        double s = 0;                                                                     \
        for (int64_t i = 0; i < n; i++) s += exp((double)x[i * stride] - m);              \
        return s;                                                                         \
    }

// Per-type driver: reduces outputs [o0, o1) of plan p.
#define DEF_REDUCE_DRIVER(DT, T)                                                          \
    DEF_EXPSUM(DT, T)                                                                     \
    static T row_##DT(enum rkind kind, const T *x, int64_t n, int64_t stride) {           \
        switch (kind) {                                                                   \
        case R_L1: return row_##DT##_l1(x, n, stride);                                    \
        case R_L2: case R_SUMSQ: return row_##DT##_sq(x, n, stride);                      \
        case R_MAX: case R_LSE: return row_##DT##_max(x, n, stride);                      \
        case R_MIN: return row_##DT##_min(x, n, stride);                                  \
        case R_PROD: return row_##DT##_prod(x, n, stride);                                \
        default: return row_##DT##_sum(x, n, stride);                                     \
        }                                                                                 \
    }                                                                                     \
    static T comb_##DT(enum rkind kind, T a, T b) {                                       \
        switch (kind) {                                                                   \
        case R_MAX: case R_LSE: return DT##_max(a, b);                                    \
        case R_MIN: return DT##_min(a, b);                                                \
        case R_PROD: return DT##_mul(a, b);                                               \
        default: return DT##_add(a, b);                                                   \
        }                                                                                 \
    }                                                                                     \
    static void reduce_##DT(const struct rplan *p, const void *xv, void *outv, int64_t o0, \
                            int64_t o1) {                                                 \
        const T *x = xv;                                                                  \
        T *out = outv;                                                                    \
        const enum rkind kind = p->kind;                                                  \
        if (p->simple && kind != R_LSE) {                                                 \
            for (int64_t o = o0 / p->I; o * p->I < o1; o++) {                             \
                int64_t j0 = QS_MAX(o0 - o * p->I, 0), j1 = QS_MIN(o1 - o * p->I, p->I);  \
                const T *xo = x + o * p->R * p->I + j0;                                   \
                T *y = out + o * p->I + j0;                                               \
                switch (kind) {                                                           \
                case R_L1: col_##DT##_l1(xo, p->R, p->I, y, j1 - j0); break;              \
                case R_L2: case R_SUMSQ: col_##DT##_sq(xo, p->R, p->I, y, j1 - j0); break; \
                case R_MAX: col_##DT##_max(xo, p->R, p->I, y, j1 - j0); break;            \
                case R_MIN: col_##DT##_min(xo, p->R, p->I, y, j1 - j0); break;            \
                case R_PROD: col_##DT##_prod(xo, p->R, p->I, y, j1 - j0); break;          \
                default: col_##DT##_sum(xo, p->R, p->I, y, j1 - j0); break;               \
                }                                                                         \
            }                                                                             \
        } else {                                                                          \
            const int64_t rin = p->rdim[p->nr - 1], rs = p->rstr[p->nr - 1];              \
            for (int64_t o = o0; o < o1; o++) {                                           \
                int64_t base = 0, rem = o;                                                \
                for (int d = p->nk - 1; d >= 0; d--) {                                    \
                    base += (rem % p->kdim[d]) * p->kstr[d];                              \
                    rem /= p->kdim[d];                                                    \
                }                                                                         \
                int64_t idx[QS_MAX_RANK] = {0}, off = 0;                                  \
                T acc = row_##DT(kind, x + base, rin, rs);                                \
                for (;;) {                                                                \
                    int d = p->nr - 2;                                                    \
                    for (; d >= 0; d--) {                                                 \
                        off += p->rstr[d];                                                \
                        if (++idx[d] < p->rdim[d]) break;                                 \
                        off -= idx[d] * p->rstr[d];                                       \
                        idx[d] = 0;                                                       \
                    }                                                                     \
                    if (d < 0) break;                                                     \
                    acc = comb_##DT(kind, acc, row_##DT(kind, x + base + off, rin, rs));  \
                }                                                                         \
                if (kind == R_LSE) {                                                      \
                    double m = (double)acc, s = 0;                                        \
                    if (isinf(m)) {                                                       \
                        out[o] = acc;                                                     \
                        continue;                                                         \
                    }                                                                     \
                    memset(idx, 0, sizeof idx);                                           \
                    off = 0;                                                              \
                    s = expsum_##DT(x + base, rin, rs, m);                                \
                    for (;;) {                                                            \
                        int d = p->nr - 2;                                                \
                        for (; d >= 0; d--) {                                             \
                            off += p->rstr[d];                                            \
                            if (++idx[d] < p->rdim[d]) break;                             \
                            off -= idx[d] * p->rstr[d];                                   \
                            idx[d] = 0;                                                   \
                        }                                                                 \
                        if (d < 0) break;                                                 \
                        s += expsum_##DT(x + base + off, rin, rs, m);                     \
                    }                                                                     \
                    acc = (T)(m + log(s));                                                \
                }                                                                         \
                out[o] = acc;                                                             \
            }                                                                             \
        }                                                                                 \
        /* Finishing steps that need the whole sum. */                                    \
        const double cnt = (double)p->rcount;                                             \
        switch (kind) {                                                                   \
        case R_MEAN:                                                                      \
            for (int64_t o = o0; o < o1; o++) out[o] = (T)(out[o] / (T)cnt);              \
            break;                                                                        \
        case R_L2:                                                                        \
            for (int64_t o = o0; o < o1; o++) out[o] = (T)sqrt((double)out[o]);           \
            break;                                                                        \
        case R_LOGSUM:                                                                    \
            for (int64_t o = o0; o < o1; o++) out[o] = (T)log((double)out[o]);            \
            break;                                                                        \
        default: break;                                                                   \
        }                                                                                 \
    }

DEF_REDUCE_DRIVER(F32, float)
DEF_REDUCE_DRIVER(F64, double)
DEF_REDUCE_DRIVER(I32, int32_t)
DEF_REDUCE_DRIVER(I64, int64_t)
DEF_REDUCE_DRIVER(U8, uint8_t)
DEF_REDUCE_DRIVER(U32, uint32_t)
DEF_REDUCE_DRIVER(U64, uint64_t)
DEF_REDUCE_DRIVER(I8, int8_t)

typedef void (*reduce_fn)(const struct rplan *p, const void *x, void *out, int64_t o0,
                          int64_t o1);
static const reduce_fn reduce_fns[QS_EW_NDT] = {
    [QS_DTYPE_F32] = reduce_F32, [QS_DTYPE_F64] = reduce_F64, [QS_DTYPE_I32] = reduce_I32,
    [QS_DTYPE_I64] = reduce_I64, [QS_DTYPE_U8] = reduce_U8,   [QS_DTYPE_U32] = reduce_U32,
    [QS_DTYPE_U64] = reduce_U64, [QS_DTYPE_I8] = reduce_I8,
};

// ---------------------------------------------------------------------------------------
// Axes and shapes.

struct rop {
    const char *name;
    enum rkind kind;
    int axes_input_opset;  // the opset from which axes come from input 1
};

// Fills mask[d] for reduced dims. Empty axes mean every dim, or none when
// noop_with_empty_axes is set (each output is then its own element, mapped: |x| for L1...).
static enum qs_status reduce_axes(qs_kctx *k, const struct rop *op, bool at_infer, bool *mask) {
    const qs_view *x = k->in[0];
    int r = x->rank, n = 0;
    int64_t axes[QS_MAX_RANK * 2];
    if (k->node->opset >= op->axes_input_opset) {
        const qs_view *a = k->n_in > 1 ? k->in[1] : NULL;
        if (a && a->numel > 0) {
            if (!a->data || (at_infer && !a->is_const))
                return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                                   "axes must be a constant (the output shape depends on it)");
            if (a->dtype != QS_DTYPE_I64 && a->dtype != QS_DTYPE_I32)
                return QS_NODE_ERR(k, QS_STATUS_PARSE, "axes must be int64, not %s",
                                   qs_dtype_name(a->dtype));
            if (a->numel > (int64_t)QS_COUNTOF(axes))
                return QS_NODE_ERR(k, QS_STATUS_PARSE, "too many axes (%lld)", (long long)a->numel);
            n = (int)a->numel;
            for (int i = 0; i < n; i++) axes[i] = qs__view_get_i64(a, i);
        }
    } else {
        const int64_t *at = qs__attr_ints(k->node, "axes", &n);
        if (n > (int)QS_COUNTOF(axes))
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "too many axes (%d)", n);
        for (int i = 0; i < n; i++) axes[i] = at[i];
    }
    if (n == 0) {
        bool nop = qs__attr_i(k->node, "noop_with_empty_axes", 0) != 0;
        for (int d = 0; d < r; d++) mask[d] = !nop;
        return QS_STATUS_OK;
    }
    for (int d = 0; d < r; d++) mask[d] = false;
    for (int i = 0; i < n; i++) {
        int64_t a = axes[i];
        if (a < -r || a >= r)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %lld is out of range for rank %d",
                               (long long)a, r);
        mask[a < 0 ? a + r : a] = true;
    }
    return QS_STATUS_OK;
}

static enum qs_status reduce_infer(qs_kctx *k, const struct rop *op) {
    const qs_view *x = k->in[0];
    if ((unsigned)x->dtype >= QS_EW_NDT || !reduce_fns[x->dtype])
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "%s is not supported for %s", op->name,
                           qs_dtype_name(x->dtype));
    bool mask[QS_MAX_RANK];
    enum qs_status st = reduce_axes(k, op, true, mask);
    if (st) return st;
    bool keep = qs__attr_i(k->node, "keepdims", 1) != 0;
    int64_t dims[QS_MAX_RANK];
    int r = 0;
    for (int d = 0; d < x->rank; d++) {
        if (!mask[d])
            dims[r++] = x->dims[d];
        else if (keep)
            dims[r++] = 1;
    }
    qs__view_set_shape(k->out[0], x->dtype, r, dims);
    return QS_STATUS_OK;
}

static void make_plan(struct rplan *p, enum rkind kind, const qs_view *x, const bool *mask) {
    // Collapse: drop size-1 dims, merge neighbours of the same kind.
    int64_t cd[QS_MAX_RANK], cs[QS_MAX_RANK];
    bool cr[QS_MAX_RANK];
    int m = 0;
    int64_t stride = 1, st[QS_MAX_RANK];
    for (int d = x->rank - 1; d >= 0; d--) {
        st[d] = stride;
        stride *= x->dims[d];
    }
    p->kind = kind;
    p->rcount = 1;
    for (int d = 0; d < x->rank; d++) {
        if (mask[d]) p->rcount *= x->dims[d];
        if (x->dims[d] == 1) continue;
        if (m > 0 && cr[m - 1] == mask[d]) {
            cd[m - 1] *= x->dims[d];
            cs[m - 1] = st[d];
        } else {
            cd[m] = x->dims[d];
            cs[m] = st[d];
            cr[m] = mask[d];
            m++;
        }
    }
    p->nk = p->nr = 0;
    for (int i = 0; i < m; i++) {
        if (cr[i]) {
            p->rdim[p->nr] = cd[i];
            p->rstr[p->nr++] = cs[i];
        } else {
            p->kdim[p->nk] = cd[i];
            p->kstr[p->nk++] = cs[i];
        }
    }
    if (p->nr == 0) {  // nothing to reduce: each output is its own element
        p->rdim[0] = 1;
        p->rstr[0] = 1;
        p->nr = 1;
    }
    // [O, R, I] with I > 1?
    p->simple = false;
    if (p->nr == 1 && m >= 2 && !cr[m - 1]) {
        int ri = cr[0] ? 0 : 1;
        if (cr[ri] && m == ri + 2) {
            p->simple = true;
            p->O = ri ? cd[0] : 1;
            p->R = cd[ri];
            p->I = cd[ri + 1];
        }
    }
}

struct reduce_ctx {
    reduce_fn fn;
    const struct rplan *p;
    const void *x;
    void *out;
};

static void reduce_task(void *c, int64_t begin, int64_t end) {
    const struct reduce_ctx *r = c;
    r->fn(r->p, r->x, r->out, begin, end);
}

static enum qs_status reduce_run(qs_kctx *k, const struct rop *op) {
    const qs_view *x = k->in[0];
    qs_view *y = k->out[0];
    bool mask[QS_MAX_RANK];
    enum qs_status st = reduce_axes(k, op, false, mask);
    if (st) return st;
    if (y->numel == 0) return QS_STATUS_OK;
    if (x->numel == 0) {  // empty reduction: the identity of the operation
        double v = 0;
        switch (op->kind) {
        case R_MAX: case R_LSE: case R_LOGSUM: v = -INFINITY; break;
        case R_MIN: v = INFINITY; break;
        case R_PROD: v = 1; break;
        case R_MEAN: v = NAN; break;
        default: break;
        }
        for (int64_t i = 0; i < y->numel; i++) qs__ew_store_f64(y->dtype, y->data, i, v);
        return QS_STATUS_OK;
    }
    struct rplan p;
    make_plan(&p, op->kind, x, mask);
    struct reduce_ctx c = {reduce_fns[x->dtype], &p, x->data, y->data};
    int64_t grain = QS_MAX(1, QS_EW_GRAIN_CHEAP / QS_MAX(p.rcount, 1));
    qs__ew_parallel(k->pool, y->numel, grain, reduce_task, &c);
    return QS_STATUS_OK;
}

#define REDUCE_DEF(sym, NAME, KIND, OPSET)                                               \
    static const struct rop sym##_rop = {NAME, KIND, OPSET};                             \
    static enum qs_status sym##_infer(qs_kctx *k) { return reduce_infer(k, &sym##_rop); } \
    static enum qs_status sym##_run(qs_kctx *k) { return reduce_run(k, &sym##_rop); }    \
    const struct qs_op_def qs__opdef_##sym = {                                            \
        .name = NAME, .min_inputs = 1, .max_inputs = 2, .min_outputs = 1,                \
        .max_outputs = 1, .infer = sym##_infer, .run = sym##_run,                         \
    };

REDUCE_DEF(reducesum, "ReduceSum", R_SUM, 13)
REDUCE_DEF(reducemean, "ReduceMean", R_MEAN, 18)
REDUCE_DEF(reducemax, "ReduceMax", R_MAX, 18)
REDUCE_DEF(reducemin, "ReduceMin", R_MIN, 18)
REDUCE_DEF(reduceprod, "ReduceProd", R_PROD, 18)
REDUCE_DEF(reducel1, "ReduceL1", R_L1, 18)
REDUCE_DEF(reducel2, "ReduceL2", R_L2, 18)
REDUCE_DEF(reducelogsum, "ReduceLogSum", R_LOGSUM, 18)
REDUCE_DEF(reducelogsumexp, "ReduceLogSumExp", R_LSE, 18)
REDUCE_DEF(reducesumsquare, "ReduceSumSquare", R_SUMSQ, 18)

// ---------------------------------------------------------------------------------------
// ArgMax / ArgMin: int64 index along `axis` of the first (or, with select_last_index, the
// last) extreme value.

#define DEF_ARG(DT, T)                                                                    \
    static void arg_##DT(const T *x, int64_t R, int64_t I, int64_t *out, int64_t o0,      \
                         int64_t o1, bool is_max, bool last) {                            \
        for (int64_t q = o0; q < o1; q++) {                                               \
            const T *v = x + (q / I) * R * I + q % I;                                     \
            T best = v[0];                                                                \
            int64_t bi = 0;                                                               \
            for (int64_t r = 1; r < R; r++) {                                             \
                T e = v[r * I];                                                           \
                bool take = is_max ? (last ? e >= best : e > best)                        \
                                   : (last ? e <= best : e < best);                       \
                if (take) {                                                               \
                    best = e;                                                             \
                    bi = r;                                                               \
                }                                                                         \
            }                                                                             \
            out[q] = bi;                                                                  \
        }                                                                                 \
    }
#define DEF_ARG_ROW(DT, T, ...) DEF_ARG(DT, T)
QS_EW_NUM_TYPES(DEF_ARG_ROW, 0)

// float16/bfloat16 are stored as uint16 but compare as floats.
static void arg_h(enum qs_dtype dt, const uint16_t *x, int64_t R, int64_t I, int64_t *out,
                  int64_t o0, int64_t o1, bool is_max, bool last) {
    for (int64_t q = o0; q < o1; q++) {
        const uint16_t *v = x + (q / I) * R * I + q % I;
        float best = (float)qs__ew_load_f64(dt, v, 0);
        int64_t bi = 0;
        for (int64_t r = 1; r < R; r++) {
            float e = (float)qs__ew_load_f64(dt, v, r * I);
            bool take = is_max ? (last ? e >= best : e > best) : (last ? e <= best : e < best);
            if (take) {
                best = e;
                bi = r;
            }
        }
        out[q] = bi;
    }
}

struct arg_ctx {
    enum qs_dtype dt;
    const void *x;
    int64_t R, I;
    int64_t *out;
    bool is_max, last;
};

static void arg_task(void *c, int64_t b, int64_t e) {
    const struct arg_ctx *a = c;
    switch (a->dt) {
#define ARG_CASE(DT, T, CT, LD, ...)                                                      \
    case QS_DTYPE_##DT:                                                                   \
        if (sizeof(T) == sizeof(CT))                                                      \
            arg_##DT(a->x, a->R, a->I, a->out, b, e, a->is_max, a->last);                 \
        else                                                                              \
            arg_h(a->dt, a->x, a->R, a->I, a->out, b, e, a->is_max, a->last);             \
        break;
        QS_EW_NUM_TYPES(ARG_CASE, 0)
#undef ARG_CASE
    default: break;
    }
}

static int arg_axis(const qs_kctx *k) {
    int64_t a = qs__attr_i(k->node, "axis", 0);
    int r = k->in[0]->rank;
    return (int)(a < 0 ? a + r : a);
}

static enum qs_status arg_infer(qs_kctx *k) {
    const qs_view *x = k->in[0];
    if (!qs__ew_is_float(x->dtype) && !qs__ew_is_int(x->dtype))
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "not supported for %s",
                           qs_dtype_name(x->dtype));
    int64_t a = qs__attr_i(k->node, "axis", 0);
    if (a < -x->rank || a >= x->rank || x->rank == 0)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %lld is out of range for rank %d",
                           (long long)a, x->rank);
    int ax = arg_axis(k);
    if (x->dims[ax] == 0)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "cannot take the arg of an empty axis");
    bool keep = qs__attr_i(k->node, "keepdims", 1) != 0;
    int64_t dims[QS_MAX_RANK];
    int r = 0;
    for (int d = 0; d < x->rank; d++) {
        if (d != ax)
            dims[r++] = x->dims[d];
        else if (keep)
            dims[r++] = 1;
    }
    qs__view_set_shape(k->out[0], QS_DTYPE_I64, r, dims);
    return QS_STATUS_OK;
}

static enum qs_status arg_run(qs_kctx *k, bool is_max) {
    const qs_view *x = k->in[0];
    int ax = arg_axis(k);
    int64_t I = 1;
    for (int d = ax + 1; d < x->rank; d++) I *= x->dims[d];
    struct arg_ctx c = {x->dtype, x->data, x->dims[ax], I, k->out[0]->data, is_max,
                        qs__attr_i(k->node, "select_last_index", 0) != 0};
    int64_t grain = QS_MAX(1, QS_EW_GRAIN_CHEAP / QS_MAX(c.R, 1));
    qs__ew_parallel(k->pool, k->out[0]->numel, grain, arg_task, &c);
    return QS_STATUS_OK;
}

static enum qs_status argmax_run(qs_kctx *k) { return arg_run(k, true); }
static enum qs_status argmin_run(qs_kctx *k) { return arg_run(k, false); }

const struct qs_op_def qs__opdef_argmax = {
    .name = "ArgMax", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = arg_infer, .run = argmax_run,
};
const struct qs_op_def qs__opdef_argmin = {
    .name = "ArgMin", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1,
    .infer = arg_infer, .run = argmin_run,
};
