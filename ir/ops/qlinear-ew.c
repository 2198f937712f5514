// The onnxruntime contrib ops (domain com.microsoft) that keep a quantized graph in uint8 or
// int8 between its convolutions, with onnxruntime's x86 arithmetic so that results match it
// bit for bit in all but rare rounding ties:
//  - QLinearAdd: y = fma(a, sa/sc, fma(b, sb/sc, zc - (sa/sc*za + sb/sc*zb))) rounded half to
//    even and saturated; a broadcast operand is folded into the constant first. QLinearMul:
//    round((a - za)(b - zb) * (sa*sb/sc) + zc). Both with numpy broadcasting and the node's
//    fused Relu/Clip as an integer clamp.
//  - QLinearGlobalAveragePool: int32 sum, requantized with sx / (sy * count).
//  - QLinearAveragePool: dequantized float sums divided by the count, quantized as
//    round(v / sy + zy); a window covering the whole unpadded input is the global pool.
//  - QLinearConcat: inputs with the output's scale and zero point are copied, the others go
//    through a 256-entry requantization table.
//  - QLinearSigmoid, QLinearLeakyRelu: 256-entry tables built at prepare.
//  - QLinearSoftmax: onnxruntime's float table of exp((q - 255 + shift) * sx) and
//    round(e * floor(1 / sy) / sum) + zy per row (its int8 output saturates at 127 here).
#include "ir/ops/qlinear-impl.h"
#include "qsearch/cpu.h"

#include <float.h>

static const qs_view *in_opt(const qs_kctx *k, int i) {
    return i < k->n_in ? k->in[i] : NULL;
}

static bool is_8bit(enum qs_dtype dt) {
    return dt == QS_DTYPE_U8 || dt == QS_DTYPE_I8;
}

static enum qs_status check_8bit(const qs_kctx *k, int i, const char *what) {
    const qs_view *v = k->in[i];
    if (!is_8bit(v->dtype))
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "%s has type %s (uint8 or int8 expected)",
                           what, qs_dtype_name(v->dtype));
    return QS_STATUS_OK;
}

// Fails with PARSE unless the inputs listed in `need` (ending with -1) are present.
static enum qs_status require(const qs_kctx *k, const int *need) {
    for (; *need >= 0; need++)
        if (*need >= k->n_in || !k->in[*need])
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "input %d is missing", *need);
    return QS_STATUS_OK;
}

// Reads 8-bit element i as an int (uint8 or int8 storage).
static inline int32_t ld8(const uint8_t *p, size_t i, bool is_signed) {
    return is_signed ? (int32_t)(int8_t)p[i] : (int32_t)p[i];
}

// cvtps2dq: round half to even; out of range or NaN gives INT32_MIN.
static inline int32_t cvtps(float v) {
    if (!(v > -2147483648.0f && v < 2147483648.0f)) return INT32_MIN;
    return (int32_t)nearbyintf(v);
}

// ---------------------------------------------------------------------------------------
// QLinearAdd / QLinearMul.

enum { BA, BAS, BAZ, BB, BBS, BBZ, BCS, BCZ };

typedef void (*add_vv_fn)(const uint8_t *a, const uint8_t *b, uint8_t *y, int64_t n, bool sgn,
                          float ra, float rb, float c, float flo, float fhi);
typedef void (*add_vs_fn)(const uint8_t *a, uint8_t *y, int64_t n, bool sgn, float ra, float c,
                          float flo, float fhi);

struct qbin {
    bool mul, is_signed;
    add_vv_fn add_vv;
    add_vs_fn add_vs;
    int rank;                       // merged output dims
    int64_t dims[QS_MAX_RANK];
    int64_t sa[QS_MAX_RANK], sb[QS_MAX_RANK];  // element strides (0 = broadcast)
    float ra, rb, fixed;            // add: sa/sc, sb/sc, zc - (ra*za + rb*zb)
    float ratio;                    // mul: sa*sb/sc
    int32_t za, zb, zc, lo, hi;
};

static inline uint8_t clamp8(const struct qbin *d, int32_t v) {
    v = v < d->lo ? d->lo : v > d->hi ? d->hi : v;
    return (uint8_t)v;
}

// cvtps2dq and saturation to [flo, fhi] (integers): clamping first gives the same value and
// lets the rounding be the add-and-subtract of 1.5 * 2^23 (|v| <= 255 then); NaN becomes flo
// as cvtps2dq's INT32_MIN saturates to the low end.
static inline int32_t round_clamp(float v, float flo, float fhi) {
    v = v > flo ? v : flo;
    v = v < fhi ? v : fhi;
    return (int32_t)((v + 12582912.0f) - 12582912.0f);
}

// The QLinearAdd loops, written once and compiled twice on x86: for the baseline (fmaf is a
// library call there) and for AVX2+FMA, where fmaf is one instruction and the loops
// vectorize. Both compute the same fused products, so their results are identical.
#define ADD_KERNELS(SUFFIX, ATTR)                                                              \
    ATTR static void add_vv_##SUFFIX(const uint8_t *a, const uint8_t *b, uint8_t *y,          \
                                     int64_t n, bool sgn, float ra, float rb, float c,         \
                                     float flo, float fhi) {                                   \
        if (sgn) {                                                                             \
            const int8_t *as = (const int8_t *)a, *bs = (const int8_t *)b;                     \
            for (int64_t i = 0; i < n; i++)                                                    \
                y[i] = (uint8_t)round_clamp(fmaf((float)as[i], ra, fmaf((float)bs[i], rb, c)), \
                                            flo, fhi);                                         \
        } else {                                                                               \
            for (int64_t i = 0; i < n; i++)                                                    \
                y[i] = (uint8_t)round_clamp(fmaf((float)a[i], ra, fmaf((float)b[i], rb, c)),   \
                                            flo, fhi);                                         \
        }                                                                                      \
    }                                                                                          \
    ATTR static void add_vs_##SUFFIX(const uint8_t *a, uint8_t *y, int64_t n, bool sgn,        \
                                     float ra, float c, float flo, float fhi) {                \
        if (sgn) {                                                                             \
            const int8_t *as = (const int8_t *)a;                                              \
            for (int64_t i = 0; i < n; i++)                                                    \
                y[i] = (uint8_t)round_clamp(fmaf((float)as[i], ra, c), flo, fhi);              \
        } else {                                                                               \
            for (int64_t i = 0; i < n; i++)                                                    \
                y[i] = (uint8_t)round_clamp(fmaf((float)a[i], ra, c), flo, fhi);               \
        }                                                                                      \
    }

ADD_KERNELS(any, )
#if defined(__x86_64__) && defined(__GNUC__) && defined(QS_ENABLE_AVX2)
#define QLIN_ADD_FMA 1
ADD_KERNELS(fma, __attribute__((target("avx2,fma"))))
// The same loops on 16 lanes (a residual Add of an int8 ResNet is ~7% of its run time).
ADD_KERNELS(avx512, __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,"
                                          "prefer-vector-width=512"))))
#endif

static enum qs_status bin_shape(qs_kctx *k, int *r, int64_t *dims) {
    enum qs_status st = require(k, (const int[]){BA, BAS, BB, BBS, BCS, -1});
    if (st != QS_STATUS_OK) return st;
    const qs_view *a = k->in[BA], *b = k->in[BB];
    if ((st = check_8bit(k, BA, "A")) != QS_STATUS_OK) return st;
    if (b->dtype != a->dtype)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "A is %s, B is %s", qs_dtype_name(a->dtype),
                           qs_dtype_name(b->dtype));
    if ((st = qs__qlin_check_scale(k, BAS, "A_scale", 0)) != QS_STATUS_OK ||
        (st = qs__qlin_check_zp(k, BAZ, "A_zero_point", a->dtype, 0)) != QS_STATUS_OK ||
        (st = qs__qlin_check_scale(k, BBS, "B_scale", 0)) != QS_STATUS_OK ||
        (st = qs__qlin_check_zp(k, BBZ, "B_zero_point", a->dtype, 0)) != QS_STATUS_OK ||
        (st = qs__qlin_check_scale(k, BCS, "C_scale", 0)) != QS_STATUS_OK ||
        (st = qs__qlin_check_zp(k, BCZ, "C_zero_point", a->dtype, 0)) != QS_STATUS_OK)
        return st;
    if (!qs__broadcast_shape(a->rank, a->dims, b->rank, b->dims, r, dims))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "A and B do not broadcast");
    return QS_STATUS_OK;
}

static enum qs_status bin_infer(qs_kctx *k) {
    int r;
    int64_t dims[QS_MAX_RANK];
    enum qs_status st = bin_shape(k, &r, dims);
    if (st != QS_STATUS_OK) return st;
    qs__view_set_shape(k->out[0], k->in[BA]->dtype, r, dims);
    return QS_STATUS_OK;
}

static enum qs_status bin_prepare(qs_kctx *k, size_t *scratch_bytes, bool mul) {
    struct qbin *d = qs__calloc(1, sizeof *d);
    if (!d) return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    k->state = d;
    *scratch_bytes = 0;
    int r;
    int64_t dims[QS_MAX_RANK];
    enum qs_status st = bin_shape(k, &r, dims);
    if (st == QS_STATUS_OK) st = qs__qlin_require_const(k, BAS, BAZ);
    if (st == QS_STATUS_OK) st = qs__qlin_require_const(k, BBS, BCZ);
    if (st != QS_STATUS_OK) return st;
    const qs_view *a = k->in[BA], *b = k->in[BB];
    d->mul = mul;
    d->is_signed = a->dtype == QS_DTYPE_I8;
    // Per output dim, the strides of A and B (0 where broadcast); then merge dims that are
    // contiguous in both so that the innermost run is as long as possible.
    int64_t sa[QS_MAX_RANK], sb[QS_MAX_RANK];
    int64_t ea = 1, eb = 1;
    for (int i = r - 1; i >= 0; i--) {
        const int ia = i - (r - a->rank), ib = i - (r - b->rank);
        const int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        sa[i] = da == 1 ? 0 : ea;
        sb[i] = db == 1 ? 0 : eb;
        ea *= da;
        eb *= db;
    }
    int n = 0;
    for (int i = 0; i < r; i++) {
        if (dims[i] == 1) continue;
        if (n > 0 && d->sa[n - 1] == sa[i] * dims[i] && d->sb[n - 1] == sb[i] * dims[i]) {
            d->dims[n - 1] *= dims[i];
            d->sa[n - 1] = sa[i];
            d->sb[n - 1] = sb[i];
            continue;
        }
        d->dims[n] = dims[i];
        d->sa[n] = sa[i];
        d->sb[n] = sb[i];
        n++;
    }
    if (n == 0) {
        d->dims[0] = 1;
        d->sa[0] = d->sb[0] = 0;
        n = 1;
    }
    d->rank = n;
    const float sa_ = qs__qlin_scale(k->in[BAS], 0), sb_ = qs__qlin_scale(k->in[BBS], 0);
    const float sc = qs__qlin_scale(k->in[BCS], 0);
    d->za = qs__qlin_zp(in_opt(k, BAZ), 0);
    d->zb = qs__qlin_zp(in_opt(k, BBZ), 0);
    d->zc = qs__qlin_zp(in_opt(k, BCZ), 0);
    d->ra = sa_ / sc;
    d->rb = sb_ / sc;
    d->fixed = (float)d->zc - (d->ra * (float)d->za + d->rb * (float)d->zb);
    d->ratio = sa_ * sb_ / sc;
    qs__qlin_range(a->dtype, &d->lo, &d->hi);
    qs__qlin_act_clamp(k, sc, d->zc, &d->lo, &d->hi);
    d->add_vv = add_vv_any;
    d->add_vs = add_vs_any;
#ifdef QLIN_ADD_FMA
    const uint64_t need = QS_ISA_X86_AVX2 | QS_ISA_X86_FMA;
    const char *env = getenv("QS_KERNELS");
    if ((qs_cpu_info_get()->isa_flags & need) == need && !(env && !strcmp(env, "ref"))) {
        d->add_vv = add_vv_fma;
        d->add_vs = add_vs_fma;
        const uint64_t z = QS_ISA_X86_AVX512F | QS_ISA_X86_AVX512BW | QS_ISA_X86_AVX512VL;
        if ((qs_cpu_info_get()->isa_flags & z) == z && !(env && !strcmp(env, "avx2"))) {
            d->add_vv = add_vv_avx512;
            d->add_vs = add_vs_avx512;
        }
    }
#endif
    return QS_STATUS_OK;
}

static enum qs_status qlinearadd_prepare(qs_kctx *k, size_t *scratch_bytes) {
    return bin_prepare(k, scratch_bytes, false);
}
static enum qs_status qlinearmul_prepare(qs_kctx *k, size_t *scratch_bytes) {
    return bin_prepare(k, scratch_bytes, true);
}

// One innermost run of n elements: A steps by ia (0 or 1), B by ib.
static void bin_run_span(const struct qbin *d, const uint8_t *a, int64_t ia, const uint8_t *b,
                         int64_t ib, uint8_t *y, int64_t n) {
    const bool s = d->is_signed;
    const float flo = (float)d->lo, fhi = (float)d->hi;
    if (d->mul) {
        for (int64_t i = 0; i < n; i++) {
            const int32_t p = (ld8(a, (size_t)(i * ia), s) - d->za) *
                              (ld8(b, (size_t)(i * ib), s) - d->zb);
            y[i] = clamp8(d, cvtps((float)p * d->ratio + (float)d->zc));
        }
        return;
    }
    if (ia && ib) {
        d->add_vv(a, b, y, n, s, d->ra, d->rb, d->fixed, flo, fhi);
    } else if (ia) {
        // B is one value: folded into the constant (a multiply and an add, not fused).
        d->add_vs(a, y, n, s, d->ra, d->fixed + (float)ld8(b, 0, s) * d->rb, flo, fhi);
    } else if (ib) {
        // A is one value: onnxruntime swaps the operands.
        const float fixed = ((float)d->zc - (d->rb * (float)d->zb + d->ra * (float)d->za)) +
                            (float)ld8(a, 0, s) * d->ra;
        d->add_vs(b, y, n, s, d->rb, fixed, flo, fhi);
    } else {
        const float fixed = d->fixed + (float)ld8(b, 0, s) * d->rb;
        d->add_vs(a, y, 1, s, d->ra, fixed, flo, fhi);
        memset(y + 1, y[0], (size_t)(n - 1));
    }
}

static enum qs_status bin_run(qs_kctx *k) {
    const struct qbin *d = k->state;
    const uint8_t *a = k->in[BA]->data, *b = k->in[BB]->data;
    uint8_t *y = k->out[0]->data;
    const int r = d->rank;
    const int64_t inner = d->dims[r - 1];
    int64_t outer = 1, idx[QS_MAX_RANK] = {0};
    for (int i = 0; i < r - 1; i++) outer *= d->dims[i];
    int64_t oa = 0, ob = 0;
    for (int64_t o = 0; o < outer; o++) {
        bin_run_span(d, a + oa, d->sa[r - 1], b + ob, d->sb[r - 1], y + o * inner, inner);
        for (int i = r - 2; i >= 0; i--) {  // odometer over the outer dims
            oa += d->sa[i];
            ob += d->sb[i];
            if (++idx[i] < d->dims[i]) break;
            oa -= d->sa[i] * d->dims[i];
            ob -= d->sb[i] * d->dims[i];
            idx[i] = 0;
        }
    }
    return QS_STATUS_OK;
}

static void free_state(void *state) {
    qs__free(state);
}

const struct qs_op_def qs__opdef_qlinearadd = {
    .name = "QLinearAdd",
    .min_inputs = 7, .max_inputs = 8, .min_outputs = 1, .max_outputs = 1,
    .infer = bin_infer, .prepare = qlinearadd_prepare, .run = bin_run, .release = free_state,
};

const struct qs_op_def qs__opdef_qlinearmul = {
    .name = "QLinearMul",
    .min_inputs = 7, .max_inputs = 8, .min_outputs = 1, .max_outputs = 1,
    .infer = bin_infer, .prepare = qlinearmul_prepare, .run = bin_run, .release = free_state,
};

// ---------------------------------------------------------------------------------------
// Lookup-table activations: X, X_scale, X_zero_point, Y_scale, Y_zero_point.

enum { LX, LXS, LXZ, LYS, LYZ };

static enum qs_status lut_check(qs_kctx *k) {
    enum qs_status st = require(k, (const int[]){LX, LXS, LYS, -1});
    if (st != QS_STATUS_OK) return st;
    const enum qs_dtype dt = k->in[LX]->dtype;
    if ((st = check_8bit(k, LX, "X")) != QS_STATUS_OK ||
        (st = qs__qlin_check_scale(k, LXS, "X_scale", 0)) != QS_STATUS_OK ||
        (st = qs__qlin_check_zp(k, LXZ, "X_zero_point", dt, 0)) != QS_STATUS_OK ||
        (st = qs__qlin_check_scale(k, LYS, "Y_scale", 0)) != QS_STATUS_OK ||
        (st = qs__qlin_check_zp(k, LYZ, "Y_zero_point", dt, 0)) != QS_STATUS_OK)
        return st;
    return QS_STATUS_OK;
}

static enum qs_status lut_infer(qs_kctx *k) {
    enum qs_status st = lut_check(k);
    if (st != QS_STATUS_OK) return st;
    qs__view_set_shape(k->out[0], k->in[LX]->dtype, k->in[LX]->rank, k->in[LX]->dims);
    return QS_STATUS_OK;
}

enum lut_fn { LUT_SIGMOID, LUT_LEAKYRELU };

// table[byte] = quantize(f(dequantize(byte))), indexed by the stored byte.
static void build_table(uint8_t *table, bool is_signed, float xs, int32_t xz, float ys,
                        int32_t yz, enum lut_fn fn, float alpha) {
    int32_t lo, hi;
    qs__qlin_range(is_signed ? QS_DTYPE_I8 : QS_DTYPE_U8, &lo, &hi);
    for (int i = 0; i < 256; i++) {
        const int32_t q = is_signed ? (int32_t)(int8_t)i : i;
        const float v = (float)(q - xz) * xs;
        float f;
        if (fn == LUT_SIGMOID) f = 1.0f / (1.0f + expf(-v));
        else f = v >= 0.0f ? v : alpha * v;
        table[i] = (uint8_t)qs__qlin_quantize(f, ys, yz, lo, hi);
    }
}

static enum qs_status lut_prepare(qs_kctx *k, size_t *scratch_bytes, enum lut_fn fn) {
    uint8_t *table = qs__malloc(256);
    if (!table) return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    k->state = table;
    *scratch_bytes = 0;
    enum qs_status st = lut_check(k);
    if (st == QS_STATUS_OK) st = qs__qlin_require_const(k, LXS, LYZ);
    if (st != QS_STATUS_OK) return st;
    build_table(table, k->in[LX]->dtype == QS_DTYPE_I8, qs__qlin_scale(k->in[LXS], 0),
                qs__qlin_zp(in_opt(k, LXZ), 0), qs__qlin_scale(k->in[LYS], 0),
                qs__qlin_zp(in_opt(k, LYZ), 0), fn, qs__attr_f(k->node, "alpha", 0.01f));
    return QS_STATUS_OK;
}

static enum qs_status sigmoid_prepare(qs_kctx *k, size_t *scratch_bytes) {
    return lut_prepare(k, scratch_bytes, LUT_SIGMOID);
}
static enum qs_status leakyrelu_prepare(qs_kctx *k, size_t *scratch_bytes) {
    return lut_prepare(k, scratch_bytes, LUT_LEAKYRELU);
}

static enum qs_status lut_run(qs_kctx *k) {
    const uint8_t *table = k->state, *x = k->in[LX]->data;
    uint8_t *y = k->out[0]->data;
    for (int64_t i = 0; i < k->in[LX]->numel; i++) y[i] = table[x[i]];
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_qlinearsigmoid = {
    .name = "QLinearSigmoid",
    .min_inputs = 4, .max_inputs = 5, .min_outputs = 1, .max_outputs = 1,
    .infer = lut_infer, .prepare = sigmoid_prepare, .run = lut_run, .release = free_state,
};

const struct qs_op_def qs__opdef_qlinearleakyrelu = {
    .name = "QLinearLeakyRelu",
    .min_inputs = 4, .max_inputs = 5, .min_outputs = 1, .max_outputs = 1,
    .infer = lut_infer, .prepare = leakyrelu_prepare, .run = lut_run, .release = free_state,
};

// ---------------------------------------------------------------------------------------
// QLinearGlobalAveragePool and QLinearAveragePool: X, x_scale, x_zero_point, y_scale,
// y_zero_point; channels_last selects NHWC.

enum { PX, PXS, PXZ, PYS, PYZ };

struct qpool {
    bool global, channels_last, is_signed, count_include_pad;
    int nsp;
    struct qs_f32_window win;
    int64_t batch, channels, in_size, out_size;
    float xs, ys, gscale;
    int32_t xz, yz, lo, hi;
};

static enum qs_status pool_desc(qs_kctx *k, bool global, struct qpool *d, int *rank,
                                int64_t *dims) {
    memset(d, 0, sizeof *d);
    enum qs_status st = require(k, (const int[]){PX, PXS, PYS, -1});
    if (st != QS_STATUS_OK) return st;
    const qs_view *x = k->in[PX];
    const enum qs_dtype dt = x->dtype;
    if ((st = check_8bit(k, PX, "X")) != QS_STATUS_OK ||
        (st = qs__qlin_check_scale(k, PXS, "x_scale", 0)) != QS_STATUS_OK ||
        (st = qs__qlin_check_zp(k, PXZ, "x_zero_point", dt, 0)) != QS_STATUS_OK ||
        (st = qs__qlin_check_scale(k, PYS, "y_scale", 0)) != QS_STATUS_OK ||
        (st = qs__qlin_check_zp(k, PYZ, "y_zero_point", dt, 0)) != QS_STATUS_OK)
        return st;
    if (x->rank < 3)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "input has rank %d, expected at least 3",
                           x->rank);
    d->channels_last = qs__attr_i(k->node, "channels_last", 0) != 0;
    d->is_signed = dt == QS_DTYPE_I8;
    d->nsp = x->rank - 2;
    d->batch = x->dims[0];
    const int c_axis = d->channels_last ? x->rank - 1 : 1;
    const int sp0 = d->channels_last ? 1 : 2;
    d->channels = x->dims[c_axis];
    const int64_t *in_sp = x->dims + sp0;
    d->in_size = qs__numel(d->nsp, in_sp);
    *rank = x->rank;
    dims[0] = d->batch;
    dims[c_axis] = d->channels;
    if (global) {
        d->global = true;
        for (int i = 0; i < d->nsp; i++) dims[sp0 + i] = 1;
        d->out_size = 1;
        return QS_STATUS_OK;
    }
    if (d->nsp > 3)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "%d spatial dims (1 to 3 supported)",
                           d->nsp);
    int nk = 0;
    const int64_t *ks = qs__attr_ints(k->node, "kernel_shape", &nk);
    if (!ks || nk != d->nsp)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "kernel_shape must have %d values", d->nsp);
    if ((st = qs__nn_window(k, QS_NN_POOL, d->nsp, in_sp, ks, &d->win)) != QS_STATUS_OK)
        return st;
    for (int i = 0; i < d->nsp; i++) dims[sp0 + i] = d->win.out[3 - d->nsp + i];
    d->out_size = qs__f32_window_out_size(&d->win);
    d->count_include_pad = qs__attr_i(k->node, "count_include_pad", 0) != 0;
    // A window that is the whole unpadded input is onnxruntime's global pool.
    bool whole = true;
    for (int i = 0; i < 3 && whole; i++)
        whole = d->win.k[i] == d->win.in[i] && d->win.pad[i] == 0 && d->win.pad_end[i] == 0;
    d->global = whole;
    return QS_STATUS_OK;
}

static enum qs_status pool_infer(qs_kctx *k, bool global) {
    struct qpool d;
    int r;
    int64_t dims[QS_MAX_RANK];
    enum qs_status st = pool_desc(k, global, &d, &r, dims);
    if (st != QS_STATUS_OK) return st;
    qs__view_set_shape(k->out[0], k->in[PX]->dtype, r, dims);
    return QS_STATUS_OK;
}

static enum qs_status pool_prepare(qs_kctx *k, size_t *scratch_bytes, bool global) {
    struct qpool *d = qs__calloc(1, sizeof *d);
    if (!d) return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    k->state = d;
    *scratch_bytes = 0;
    int r;
    int64_t dims[QS_MAX_RANK];
    enum qs_status st = pool_desc(k, global, d, &r, dims);
    if (st == QS_STATUS_OK) st = qs__qlin_require_const(k, PXS, PYZ);
    if (st != QS_STATUS_OK) return st;
    d->xs = qs__qlin_scale(k->in[PXS], 0);
    d->ys = qs__qlin_scale(k->in[PYS], 0);
    d->xz = qs__qlin_zp(in_opt(k, PXZ), 0);
    d->yz = qs__qlin_zp(in_opt(k, PYZ), 0);
    d->gscale = d->xs / (d->ys * (float)d->in_size);
    qs__qlin_range(k->in[PX]->dtype, &d->lo, &d->hi);
    return QS_STATUS_OK;
}

static enum qs_status gap_prepare(qs_kctx *k, size_t *scratch_bytes) {
    return pool_prepare(k, scratch_bytes, true);
}
static enum qs_status avgpool_prepare(qs_kctx *k, size_t *scratch_bytes) {
    return pool_prepare(k, scratch_bytes, false);
}

struct pool_ctx {
    const struct qpool *d;
    const uint8_t *x;
    uint8_t *y;
};

// Tasks are (image, channel) pairs; element s of a plane is at x[base + s * step].
static void plane_geometry(const struct qpool *d, size_t t, int64_t plane, size_t *base,
                           size_t *step) {
    const int64_t b = (int64_t)t / d->channels, c = (int64_t)t % d->channels;
    if (d->channels_last) {
        *base = (size_t)(b * plane * d->channels + c);
        *step = (size_t)d->channels;
    } else {
        *base = (size_t)((b * d->channels + c) * plane);
        *step = 1;
    }
}

static void gap_task(void *ctx, size_t begin, size_t end) {
    const struct pool_ctx *pc = ctx;
    const struct qpool *d = pc->d;
    for (size_t t = begin; t < end; t++) {
        size_t xb, xs, yb, ystep;
        plane_geometry(d, t, d->in_size, &xb, &xs);
        plane_geometry(d, t, d->out_size, &yb, &ystep);
        uint32_t acc = (uint32_t)(-d->xz * (int32_t)d->in_size);
        for (int64_t s = 0; s < d->in_size; s++)
            acc += (uint32_t)ld8(pc->x, xb + (size_t)s * xs, d->is_signed);
        const int32_t q = qs_requant_fp32((int32_t)acc, d->gscale, d->yz, d->lo, d->hi);
        for (int64_t s = 0; s < d->out_size; s++) pc->y[yb + (size_t)s * ystep] = (uint8_t)q;
    }
}

static void avgpool_task(void *ctx, size_t begin, size_t end) {
    const struct pool_ctx *pc = ctx;
    const struct qpool *d = pc->d;
    const struct qs_f32_window *w = &d->win;
    const int64_t kvol = w->k[0] * w->k[1] * w->k[2];
    for (size_t t = begin; t < end; t++) {
        size_t xb, xs, yb, ys;
        plane_geometry(d, t, d->in_size, &xb, &xs);
        plane_geometry(d, t, d->out_size, &yb, &ys);
        size_t o = 0;
        for (int64_t od = 0; od < w->out[0]; od++) {
            int64_t d0 = od * w->stride[0] - w->pad[0];
            const int64_t d1 = QS_MIN(d0 + w->k[0], w->in[0]);
            d0 = QS_MAX(d0, 0);
            for (int64_t oh = 0; oh < w->out[1]; oh++) {
                int64_t h0 = oh * w->stride[1] - w->pad[1];
                const int64_t h1 = QS_MIN(h0 + w->k[1], w->in[1]);
                h0 = QS_MAX(h0, 0);
                for (int64_t ow = 0; ow < w->out[2]; ow++, o++) {
                    int64_t w0 = ow * w->stride[2] - w->pad[2];
                    const int64_t w1 = QS_MIN(w0 + w->k[2], w->in[2]);
                    w0 = QS_MAX(w0, 0);
                    float sum = 0.0f;
                    for (int64_t id = d0; id < d1; id++)
                        for (int64_t ih = h0; ih < h1; ih++)
                            for (int64_t iw = w0; iw < w1; iw++) {
                                const size_t s = (size_t)((id * w->in[1] + ih) * w->in[2] + iw);
                                sum += d->xs * (float)(ld8(pc->x, xb + s * xs, d->is_signed) -
                                                       d->xz);
                            }
                    const int64_t cnt = d->count_include_pad
                                            ? kvol
                                            : (d1 - d0) * (h1 - h0) * (w1 - w0);
                    sum /= (float)cnt;
                    int32_t q = (int32_t)nearbyintf(sum / d->ys + (float)d->yz);
                    q = q < d->lo ? d->lo : q > d->hi ? d->hi : q;
                    pc->y[yb + o * ys] = (uint8_t)q;
                }
            }
        }
    }
}

static enum qs_status pool_run(qs_kctx *k) {
    const struct qpool *d = k->state;
    struct pool_ctx pc = {d, k->in[PX]->data, k->out[0]->data};
    qs__pool_run(k->pool, (size_t)(d->batch * d->channels), d->global ? gap_task : avgpool_task,
                 &pc);
    return QS_STATUS_OK;
}

static enum qs_status gap_infer(qs_kctx *k) {
    return pool_infer(k, true);
}
static enum qs_status avgpool_infer(qs_kctx *k) {
    return pool_infer(k, false);
}

const struct qs_op_def qs__opdef_qlinearglobalaveragepool = {
    .name = "QLinearGlobalAveragePool",
    .min_inputs = 4, .max_inputs = 5, .min_outputs = 1, .max_outputs = 1,
    .infer = gap_infer, .prepare = gap_prepare, .run = pool_run, .release = free_state,
};

const struct qs_op_def qs__opdef_qlinearaveragepool = {
    .name = "QLinearAveragePool",
    .min_inputs = 4, .max_inputs = 5, .min_outputs = 1, .max_outputs = 1,
    .infer = avgpool_infer, .prepare = avgpool_prepare, .run = pool_run, .release = free_state,
};

// ---------------------------------------------------------------------------------------
// QLinearConcat: Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per input.

struct qconcat {
    int n;                 // inputs
    int axis;
    int64_t outer, inner;  // around the axis (output)
    uint8_t *tables;       // [n][256]
    bool *copy;            // [n]: same scale and zero point as the output
    float *xs;             // [n] input scales (the arithmetic requantization)
    int32_t *xz;           // [n] input zero points
    float ys, flo, fhi;    // output scale, [lo - yz, hi - yz]
    int32_t yz;
    bool is_signed;
    void (*requant)(const struct qconcat *d, int j, const uint8_t *src, uint8_t *dst,
                    int64_t n);  // NULL: the tables
};

// The tables' qs__qlin_quantize((q - xz) * xs, ys, yz, lo, hi) computed per element with
// the same float operations in the same order (so bit-identical), on 16 lanes: a table
// lookup per byte was a tenth of int8 SqueezeNet, whose fire modules concatenate outputs
// of different scales.
#if defined(__x86_64__) && defined(__GNUC__) && defined(QS_ENABLE_AVX2)
#define QLIN_CONCAT_AVX512 1
__attribute__((target("avx512f,avx512bw,avx512vl,avx2,prefer-vector-width=512")))
static void concat_requant_avx512(const struct qconcat *d, int j, const uint8_t *src,
                                  uint8_t *dst, int64_t n) {
    const float xs = d->xs[j], ys = d->ys, flo = d->flo, fhi = d->fhi;
    const int32_t xz = d->xz[j], yz = d->yz;
#define REQUANT1(q)                                                                    \
    do {                                                                               \
        float v = ((float)((q) - xz) * xs) / ys;                                       \
        v = v > flo ? v : flo;                                                         \
        v = v < fhi ? v : fhi;                                                         \
        v = (v + 12582912.0f) - 12582912.0f;                                           \
        dst[i] = (uint8_t)((int32_t)v + yz);                                           \
    } while (0)
    if (d->is_signed) {
        const int8_t *s8 = (const int8_t *)src;
        for (int64_t i = 0; i < n; i++) REQUANT1((int32_t)s8[i]);
    } else {
        for (int64_t i = 0; i < n; i++) REQUANT1((int32_t)src[i]);
    }
#undef REQUANT1
}
#endif

static enum qs_status concat_shape(qs_kctx *k, int *axis_out, int64_t *dims) {
    if (k->n_in < 5 || (k->n_in - 2) % 3 != 0)
        return QS_NODE_ERR(k, QS_STATUS_PARSE,
                           "expects Y_scale, Y_zero_point and triples (X, X_scale, "
                           "X_zero_point); got %d inputs", k->n_in);
    enum qs_status st = qs__nn_require(k, k->n_in);
    if (st != QS_STATUS_OK) return st;
    const enum qs_dtype dt = k->in[1]->dtype;
    if ((st = check_8bit(k, 1, "Y_zero_point")) != QS_STATUS_OK ||
        (st = qs__qlin_check_scale(k, 0, "Y_scale", 0)) != QS_STATUS_OK ||
        (st = qs__qlin_check_zp(k, 1, "Y_zero_point", dt, 0)) != QS_STATUS_OK)
        return st;
    const qs_view *x0 = k->in[2];
    int64_t axis = qs__attr_i(k->node, "axis", 0);
    if (axis < 0) axis += x0->rank;
    if (axis < 0 || axis >= x0->rank)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %lld out of range for rank %d",
                           (long long)qs__attr_i(k->node, "axis", 0), x0->rank);
    memcpy(dims, x0->dims, sizeof(int64_t) * (size_t)x0->rank);
    dims[axis] = 0;
    for (int i = 2; i < k->n_in; i += 3) {
        const qs_view *x = k->in[i];
        if (x->dtype != dt)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "input %d is %s, output %s", i,
                               qs_dtype_name(x->dtype), qs_dtype_name(dt));
        if ((st = qs__qlin_check_scale(k, i + 1, "X_scale", 0)) != QS_STATUS_OK ||
            (st = qs__qlin_check_zp(k, i + 2, "X_zero_point", dt, 0)) != QS_STATUS_OK)
            return st;
        bool ok = x->rank == x0->rank;
        for (int j = 0; ok && j < x->rank; j++) ok = j == axis || x->dims[j] == x0->dims[j];
        if (!ok)
            return QS_NODE_ERR(k, QS_STATUS_PARSE,
                               "input %d does not match the others outside axis %lld", i,
                               (long long)axis);
        dims[axis] += x->dims[axis];
    }
    *axis_out = (int)axis;
    return QS_STATUS_OK;
}

static enum qs_status concat_infer(qs_kctx *k) {
    int axis;
    int64_t dims[QS_MAX_RANK];
    enum qs_status st = concat_shape(k, &axis, dims);
    if (st != QS_STATUS_OK) return st;
    qs__view_set_shape(k->out[0], k->in[1]->dtype, k->in[2]->rank, dims);
    return QS_STATUS_OK;
}

static void concat_release(void *state) {
    struct qconcat *d = state;
    if (!d) return;
    qs__free(d->tables);
    qs__free(d->copy);
    qs__free(d->xs);
    qs__free(d->xz);
    qs__free(d);
}

static enum qs_status concat_prepare(qs_kctx *k, size_t *scratch_bytes) {
    struct qconcat *d = qs__calloc(1, sizeof *d);
    if (!d) return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    k->state = d;
    *scratch_bytes = 0;
    int64_t dims[QS_MAX_RANK];
    enum qs_status st = concat_shape(k, &d->axis, dims);
    if (st != QS_STATUS_OK) return st;
    for (int i = 0; i < k->n_in; i++)
        if (i % 3 != 2 && !k->in[i]->is_const)
            return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                               "input %d (scale or zero point) must be a constant", i);
    d->n = (k->n_in - 2) / 3;
    const int rank = k->in[2]->rank;
    d->outer = qs__numel(d->axis, dims);
    d->inner = qs__numel(rank - d->axis - 1, dims + d->axis + 1);
    if (!(d->tables = qs__malloc((size_t)d->n * 256)) ||
        !(d->copy = qs__calloc((size_t)d->n, sizeof(bool))) ||
        !(d->xs = qs__calloc((size_t)d->n, sizeof(float))) ||
        !(d->xz = qs__calloc((size_t)d->n, sizeof(int32_t))))
        return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    const enum qs_dtype dt = k->in[1]->dtype;
    const bool is_signed = dt == QS_DTYPE_I8;
    int32_t lo, hi;
    qs__qlin_range(dt, &lo, &hi);
    const float ys = qs__qlin_scale(k->in[0], 0);
    const int32_t yz = qs__qlin_zp(k->in[1], 0);
    for (int j = 0; j < d->n; j++) {
        const float xs = qs__qlin_scale(k->in[2 + 3 * j + 1], 0);
        const int32_t xz = qs__qlin_zp(k->in[2 + 3 * j + 2], 0);
        d->copy[j] = xs == ys && xz == yz;
        d->xs[j] = xs;
        d->xz[j] = xz;
        uint8_t *t = d->tables + (size_t)j * 256;
        for (int b = 0; b < 256; b++) {
            const int32_t q = is_signed ? (int32_t)(int8_t)b : b;
            t[b] = (uint8_t)qs__qlin_quantize((float)(q - xz) * xs, ys, yz, lo, hi);
        }
    }
    d->ys = ys;
    d->yz = yz;
    d->flo = (float)(lo - yz);
    d->fhi = (float)(hi - yz);
    d->is_signed = is_signed;
#ifdef QLIN_CONCAT_AVX512
    const uint64_t z = QS_ISA_X86_AVX512F | QS_ISA_X86_AVX512BW | QS_ISA_X86_AVX512VL;
    const char *env = getenv("QS_KERNELS");
    if ((qs_cpu_info_get()->isa_flags & z) == z &&
        !(env && (!strcmp(env, "ref") || !strcmp(env, "avx2"))))
        d->requant = concat_requant_avx512;
#endif
    return QS_STATUS_OK;
}

static enum qs_status concat_run(qs_kctx *k) {
    const struct qconcat *d = k->state;
    uint8_t *y = k->out[0]->data;
    const int64_t out_row = k->out[0]->dims[d->axis] * d->inner;
    int64_t off = 0;
    for (int j = 0; j < d->n; j++) {
        const qs_view *x = k->in[2 + 3 * j];
        const uint8_t *xd = x->data, *t = d->tables + (size_t)j * 256;
        const int64_t row = x->dims[d->axis] * d->inner;
        for (int64_t o = 0; o < d->outer; o++) {
            uint8_t *dst = y + o * out_row + off;
            const uint8_t *src = xd + o * row;
            if (d->copy[j])
                memcpy(dst, src, (size_t)row);
            else if (d->requant)
                d->requant(d, j, src, dst, row);
            else
                for (int64_t i = 0; i < row; i++) dst[i] = t[src[i]];
        }
        off += row;
    }
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_qlinearconcat = {
    .name = "QLinearConcat",
    .min_inputs = 5, .max_inputs = -1, .min_outputs = 1, .max_outputs = 1,
    .infer = concat_infer, .prepare = concat_prepare, .run = concat_run,
    .release = concat_release,
};

// ---------------------------------------------------------------------------------------
// QLinearSoftmax: X, X_scale, x_zero_point, y_scale, y_zero_point; attributes axis and the
// "opset" of the Softmax it replaces (before 13 the rows are everything from axis on).

struct qsoftmax {
    bool is_signed;
    int64_t outer, d, inner;  // rows of d elements, element stride inner
    float table[256];         // exp of each stored byte, indexed by the byte
    float yscale;             // floor(1 / y_scale)
    int32_t yz;
};

static enum qs_status softmax_shape(qs_kctx *k, struct qsoftmax *d) {
    enum qs_status st = lut_check(k);
    if (st != QS_STATUS_OK) return st;
    const qs_view *x = k->in[LX];
    const int64_t opset = qs__attr_i(k->node, "opset", -1);
    if (opset < 0)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "the attribute 'opset' is required");
    int64_t axis = qs__attr_i(k->node, "axis", opset < 13 ? 1 : -1);
    if (axis < 0) axis += x->rank;
    if (axis < 0 || axis >= QS_MAX(x->rank, 1))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %lld out of range for rank %d",
                           (long long)qs__attr_i(k->node, "axis", -1), x->rank);
    d->is_signed = x->dtype == QS_DTYPE_I8;
    d->outer = qs__numel((int)axis, x->dims);
    if (opset < 13) {
        d->d = qs__numel(x->rank - (int)axis, x->dims + axis);
        d->inner = 1;
    } else {
        d->d = x->rank ? x->dims[axis] : 1;
        d->inner = qs__numel(x->rank - (int)axis - 1, x->dims + axis + 1);
    }
    return QS_STATUS_OK;
}

static enum qs_status softmax_infer(qs_kctx *k) {
    struct qsoftmax d;
    enum qs_status st = softmax_shape(k, &d);
    if (st != QS_STATUS_OK) return st;
    qs__view_set_shape(k->out[0], k->in[LX]->dtype, k->in[LX]->rank, k->in[LX]->dims);
    return QS_STATUS_OK;
}

static enum qs_status softmax_prepare(qs_kctx *k, size_t *scratch_bytes) {
    struct qsoftmax *d = qs__calloc(1, sizeof *d);
    if (!d) return QS_NODE_ERR(k, QS_STATUS_NOMEM, "out of memory");
    k->state = d;
    *scratch_bytes = 0;
    enum qs_status st = softmax_shape(k, d);
    if (st == QS_STATUS_OK) st = qs__qlin_require_const(k, LXS, LYZ);
    if (st != QS_STATUS_OK) return st;
    const float xs = qs__qlin_scale(k->in[LXS], 0);
    // Every table value times d must stay below FLT_MAX: the largest is exp(shift * xs).
    double shift = log((double)(FLT_MAX / (float)(d->d > 0 ? d->d : 1)));
    shift = (shift - 5.0 > 0.0 ? shift - 5.0 : 0.0) / xs;
    for (int i = 0; i < 256; i++) {
        const double e = exp(((double)i - 255.0 + shift) * (double)xs);
        d->table[(uint8_t)(d->is_signed ? i - 128 : i)] = (float)e;
    }
    d->yscale = floorf(1.0f / qs__qlin_scale(k->in[LYS], 0));
    d->yz = qs__qlin_zp(in_opt(k, LYZ), 0);
    return QS_STATUS_OK;
}

static void softmax_task(void *ctx, size_t begin, size_t end) {
    const qs_kctx *k = ctx;
    const struct qsoftmax *d = k->state;
    const uint8_t *x = k->in[LX]->data;
    uint8_t *y = k->out[0]->data;
    const int32_t lo = d->is_signed ? -128 : 0, hi = d->is_signed ? 127 : 255;
    for (size_t r = begin; r < end; r++) {
        const int64_t o = (int64_t)r / d->inner, i = (int64_t)r % d->inner;
        const size_t base = (size_t)(o * d->d * d->inner + i), step = (size_t)d->inner;
        // The row maximum maps to the table's last entry (255, or 127 for int8).
        int32_t mx = lo;
        for (int64_t j = 0; j < d->d; j++)
            mx = QS_MAX(mx, ld8(x, base + (size_t)j * step, d->is_signed));
        const int32_t shift = hi - mx;
        const float *t = d->table;
        float sum = 0.0f;
        for (int64_t j = 0; j < d->d; j++)
            sum += t[(uint8_t)(ld8(x, base + (size_t)j * step, d->is_signed) + shift)];
        for (int64_t j = 0; j < d->d; j++) {
            const float e = t[(uint8_t)(ld8(x, base + (size_t)j * step, d->is_signed) + shift)];
            int32_t q = (int32_t)nearbyintf((e * d->yscale) / sum) + d->yz;
            q = q < lo ? lo : q > hi ? hi : q;
            y[base + (size_t)j * step] = (uint8_t)q;
        }
    }
}

static enum qs_status softmax_run(qs_kctx *k) {
    const struct qsoftmax *d = k->state;
    if (d->d > 0) qs__pool_run(k->pool, (size_t)(d->outer * d->inner), softmax_task, k);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_qlinearsoftmax = {
    .name = "QLinearSoftmax",
    .min_inputs = 4, .max_inputs = 5, .min_outputs = 1, .max_outputs = 1,
    .infer = softmax_infer, .prepare = softmax_prepare, .run = softmax_run,
    .release = free_state,
};
