// The int8 ops against naive definitions, independent of onnxruntime: QLinearConv and
// ConvInteger on random geometries (groups, depthwise, 1x1 direct, strides, dilations, pads,
// 1-D/3-D, im2col tiles, uint8/int8 input, weights and output, zero points per channel,
// weights that do not fit int8 after the zero point, fused Relu/Clip), QLinearMatMul,
// MatMulInteger (per-row zero points) and QGemm (transA/B, alpha, bias, float output), with
// and without a worker pool; QuantizeLinear rounding and saturation; the 8-bit max pool.
// Everything must match exactly. Seeded; the seed and the case are printed on failure.
#include "ir/ops/qlinear-impl.h"
#include "test.h"

static uint64_t rng_state;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}
static int rnd_in(int lo, int hi) {  // [lo, hi]
    return lo + (int)(rnd() % (uint32_t)(hi - lo + 1));
}
static float rnd_f(float lo, float hi) {
    return lo + (hi - lo) * (float)(rnd() % 1000000) / 1e6f;
}

static char case_desc[512];
#define CHECK(x)                                                                     \
    do {                                                                             \
        if (!(x)) {                                                                  \
            fprintf(stderr, "%s:%d: %s failed in case: %s\n", __FILE__, __LINE__, #x, \
                    case_desc);                                                      \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

// ---------------------------------------------------------------------------------------
// Calling one op outside a graph.

#define MAX_IN 10

struct call {
    qs_node node;
    struct qs_attr attrs[10];
    qs_view vin[MAX_IN], vout;
    qs_view *in[MAX_IN], *out[1];
    struct qs_diag diag;
};

static void call_init(struct call *c, const char *domain, const char *op_type, int opset) {
    memset(c, 0, sizeof *c);
    c->node.name = (char *)"n";
    c->node.op_type = (char *)op_type;
    c->node.domain = (char *)domain;
    c->node.opset = opset;
    c->node.op = qs__op_lookup(domain, op_type);
    ASSERT_TRUE(c->node.op != QS_OP_UNKNOWN);
    c->node.attrs = c->attrs;
    c->node.n_outputs = 1;
    c->out[0] = &c->vout;
}

static void attr_i(struct call *c, const char *name, int64_t v) {
    struct qs_attr *a = &c->attrs[c->node.n_attrs++];
    a->name = name;
    a->type = QS_ATTR_INT;
    a->i = v;
}
static void attr_f(struct call *c, const char *name, float v) {
    struct qs_attr *a = &c->attrs[c->node.n_attrs++];
    a->name = name;
    a->type = QS_ATTR_FLOAT;
    a->f = v;
}
static void attr_ints(struct call *c, const char *name, int n, int64_t *v) {
    struct qs_attr *a = &c->attrs[c->node.n_attrs++];
    a->name = name;
    a->type = QS_ATTR_INTS;
    a->n = n;
    a->ints = v;
}

static void input(struct call *c, int i, enum qs_dtype dt, int rank, const int64_t *dims,
                  const void *data, bool is_const) {
    qs__view_set_shape(&c->vin[i], dt, rank, dims);
    c->vin[i].data = (void *)data;
    c->vin[i].is_const = is_const;
    c->in[i] = &c->vin[i];
    if (i + 1 > c->node.n_inputs) c->node.n_inputs = i + 1;
}
static void scalar(struct call *c, int i, enum qs_dtype dt, const void *data) {
    input(c, i, dt, 0, NULL, data, true);
}

// Infers, prepares and runs; returns the output (caller frees) or NULL with c->diag set.
static void *call_run(struct call *c, qs_pool_t *pool, enum qs_status *st_out) {
    const struct qs_op_def *def = qs__op_def(c->node.op);
    qs_kctx k = {.node = &c->node, .n_in = c->node.n_inputs, .n_out = 1, .in = c->in,
                 .out = c->out, .diag = &c->diag, .pool = pool};
    enum qs_status st = def->infer(&k);
    void *y = NULL;
    if (st == QS_STATUS_OK) {
        y = qs__aligned_alloc(qs__view_bytes(&c->vout) + 1);
        c->vout.data = y;
        size_t scratch = 0;
        if (def->prepare) st = def->prepare(&k, &scratch);
        if (st == QS_STATUS_OK) {
            k.scratch = scratch ? qs__aligned_alloc(scratch) : NULL;
            st = def->run(&k);
            qs__aligned_free(k.scratch);
        }
        if (def->release && k.state) def->release(k.state);
    }
    *st_out = st;
    if (st != QS_STATUS_OK) {
        qs__aligned_free(y);
        return NULL;
    }
    return y;
}

static void fill8(void *p, size_t n, bool is_signed, int lo, int hi) {
    for (size_t i = 0; i < n; i++) {
        int v = rnd_in(lo, hi);
        if (is_signed) ((int8_t *)p)[i] = (int8_t)v;
        else ((uint8_t *)p)[i] = (uint8_t)v;
    }
}
static int32_t get8(const void *p, size_t i, bool is_signed) {
    return is_signed ? ((const int8_t *)p)[i] : ((const uint8_t *)p)[i];
}
static enum qs_dtype t8(bool is_signed) {
    return is_signed ? QS_DTYPE_I8 : QS_DTYPE_U8;
}

// The requantization every op uses (the ONNX definition in float32, as onnxruntime).
static int32_t requant(int32_t acc, float scale, int32_t zp, int32_t lo, int32_t hi) {
    return qs_requant_fp32(acc, scale, zp, lo, hi);
}

// ---------------------------------------------------------------------------------------
// QLinearConv / ConvInteger.

struct conv_case {
    int nsp;               // spatial dims 1..3
    int64_t n, c, m, group;
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3];
    bool xs8, ws8, ys8;    // signed types
    bool per_channel, bias, integer, wide_w;
    int act;               // 0 none, 1 relu, 2 clip
};

static void describe_conv(const struct conv_case *cc, uint64_t seed) {
    int len = snprintf(case_desc, sizeof case_desc,
                       "seed %llu conv%s nsp %d n %lld c %lld m %lld g %lld x%s w%s y%s pc %d "
                       "bias %d wide %d act %d in/k/s/d/pads:",
                       (unsigned long long)seed, cc->integer ? "integer" : "", cc->nsp,
                       (long long)cc->n, (long long)cc->c, (long long)cc->m, (long long)cc->group,
                       cc->xs8 ? "s8" : "u8", cc->ws8 ? "s8" : "u8", cc->ys8 ? "s8" : "u8",
                       cc->per_channel, cc->bias, cc->wide_w, cc->act);
    for (int i = 0; i < cc->nsp; i++)
        len += snprintf(case_desc + len, sizeof case_desc - (size_t)len,
                        " [%lld %lld %lld %lld %lld+%lld]", (long long)cc->in[i],
                        (long long)cc->k[i], (long long)cc->s[i], (long long)cc->d[i],
                        (long long)cc->pb[i], (long long)cc->pe[i]);
}

static void run_conv_case(const struct conv_case *cc, qs_pool_t *pool, uint64_t seed) {
    describe_conv(cc, seed);
    const int nsp = cc->nsp;
    int64_t xd[5] = {cc->n, cc->c}, wd[5] = {cc->m, cc->c / cc->group};
    int64_t out[3], kvol = 1, in_plane = 1, out_plane = 1;
    for (int i = 0; i < nsp; i++) {
        xd[2 + i] = cc->in[i];
        wd[2 + i] = cc->k[i];
        const int64_t ek = (cc->k[i] - 1) * cc->d[i] + 1;
        out[i] = (cc->in[i] + cc->pb[i] + cc->pe[i] - ek) / cc->s[i] + 1;
        kvol *= cc->k[i];
        in_plane *= cc->in[i];
        out_plane *= out[i];
    }
    const int64_t cg = cc->c / cc->group, mg = cc->m / cc->group;
    const size_t nx = (size_t)(cc->n * cc->c * in_plane), nw = (size_t)(cc->m * cg * kvol);
    void *x = qs__aligned_alloc(nx), *w = qs__aligned_alloc(nw);
    fill8(x, nx, cc->xs8, cc->xs8 ? -128 : 0, cc->xs8 ? 127 : 255);
    // Weights: symmetric int8, or uint8 around the zero point (wide: far from it).
    const int64_t nzp = cc->per_channel ? cc->m : 1;
    uint8_t wz[64];
    float ws[64];
    for (int64_t i = 0; i < nzp; i++) {
        wz[i] = cc->ws8 ? (uint8_t)(int8_t)(cc->wide_w ? rnd_in(-128, 127) : 0)
                        : (uint8_t)(cc->wide_w ? rnd_in(0, 255) : rnd_in(100, 156));
        ws[i] = rnd_f(0.002f, 0.02f);
    }
    if (cc->ws8) fill8(w, nw, true, cc->wide_w ? -128 : -127, 127);
    else fill8(w, nw, false, 0, 255);
    if (!cc->ws8 && !cc->wide_w)  // keep W - w_zp within int8
        for (size_t i = 0; i < nw; i++) {
            const size_t mm = i / (size_t)(cg * kvol);
            const int z = wz[cc->per_channel ? mm : 0];
            ((uint8_t *)w)[i] = (uint8_t)(z + rnd_in(QS_MAX(-128, -z), QS_MIN(127, 255 - z)));
        }
    const uint8_t xz = cc->xs8 ? (uint8_t)(int8_t)rnd_in(-20, 20) : (uint8_t)rnd_in(0, 255);
    const uint8_t yz = cc->ys8 ? (uint8_t)(int8_t)rnd_in(-30, 30) : (uint8_t)rnd_in(0, 255);
    const float xs = rnd_f(0.01f, 0.05f), ys = rnd_f(0.05f, 0.5f);
    int32_t bias[64];
    for (int64_t i = 0; i < cc->m; i++) bias[i] = rnd_in(-5000, 5000);

    struct call c;
    call_init(&c, "", cc->integer ? "ConvInteger" : "QLinearConv", 13);
    int64_t strides[3], dil[3], pads[6], ks[3];
    for (int i = 0; i < nsp; i++) {
        strides[i] = cc->s[i];
        dil[i] = cc->d[i];
        pads[i] = cc->pb[i];
        pads[nsp + i] = cc->pe[i];
        ks[i] = cc->k[i];
    }
    attr_ints(&c, "strides", nsp, strides);
    attr_ints(&c, "dilations", nsp, dil);
    attr_ints(&c, "pads", 2 * nsp, pads);
    attr_ints(&c, "kernel_shape", nsp, ks);
    attr_i(&c, "group", cc->group);
    const int64_t zdim = nzp;
    if (cc->integer) {
        input(&c, 0, t8(cc->xs8), nsp + 2, xd, x, false);
        input(&c, 1, t8(cc->ws8), nsp + 2, wd, w, true);
        scalar(&c, 2, t8(cc->xs8), &xz);
        input(&c, 3, t8(cc->ws8), cc->per_channel ? 1 : 0, &zdim, wz, true);
    } else {
        input(&c, 0, t8(cc->xs8), nsp + 2, xd, x, false);
        scalar(&c, 1, QS_DTYPE_F32, &xs);
        scalar(&c, 2, t8(cc->xs8), &xz);
        input(&c, 3, t8(cc->ws8), nsp + 2, wd, w, true);
        input(&c, 4, QS_DTYPE_F32, cc->per_channel ? 1 : 0, &zdim, ws, true);
        input(&c, 5, t8(cc->ws8), cc->per_channel ? 1 : 0, &zdim, wz, true);
        scalar(&c, 6, QS_DTYPE_F32, &ys);
        scalar(&c, 7, t8(cc->ys8), &yz);
        const int64_t bd = cc->m;
        if (cc->bias) input(&c, 8, QS_DTYPE_I32, 1, &bd, bias, true);
        if (cc->act == 1) c.node.act = (struct qs_fused_act){QS_ACT_RELU, 0.0f, INFINITY};
        if (cc->act == 2) c.node.act = (struct qs_fused_act){QS_ACT_CLIP, -0.3f, 2.5f};
    }
    enum qs_status st;
    void *y = call_run(&c, pool, &st);
    if (!y) fprintf(stderr, "%s\n", c.diag.msg);
    CHECK(st == QS_STATUS_OK);
    CHECK(c.vout.rank == nsp + 2 && c.vout.dims[1] == cc->m);
    for (int i = 0; i < nsp; i++) CHECK(c.vout.dims[2 + i] == out[i]);

    // Naive reference.
    int32_t lo = cc->ys8 ? -128 : 0, hi = cc->ys8 ? 127 : 255;
    const int32_t yzv = cc->ys8 ? (int8_t)yz : yz;
    if (!cc->integer && cc->act) {
        const float alo = cc->act == 1 ? 0.0f : -0.3f, ahi = cc->act == 1 ? INFINITY : 2.5f;
        lo = QS_MAX(lo, qs__qlin_quantize(alo, ys, yzv, lo, hi));
        hi = QS_MIN(hi, qs__qlin_quantize(ahi, ys, yzv, lo, hi));
    }
    const int32_t xzv = cc->xs8 ? (int8_t)xz : xz;
    int64_t ii[3] = {0, 0, 0}, oo[3] = {0, 0, 0};
    (void)ii;
    for (int64_t b = 0; b < cc->n; b++)
        for (int64_t m = 0; m < cc->m; m++) {
            const int64_t g = m / mg;
            const int32_t wzv = cc->ws8 ? (int8_t)wz[cc->per_channel ? m : 0]
                                        : wz[cc->per_channel ? m : 0];
            for (int64_t p = 0; p < out_plane; p++) {
                int64_t rem = p;
                for (int i = nsp - 1; i >= 0; i--) {
                    oo[i] = rem % out[i];
                    rem /= out[i];
                }
                int64_t acc = cc->bias && !cc->integer ? bias[m] : 0;
                for (int64_t ci = 0; ci < cg; ci++)
                    for (int64_t t = 0; t < kvol; t++) {
                        int64_t tr = t, off = 0;
                        bool inside = true;
                        int64_t tap[3];
                        for (int i = nsp - 1; i >= 0; i--) {
                            tap[i] = tr % cc->k[i];
                            tr /= cc->k[i];
                        }
                        for (int i = 0; i < nsp; i++) {
                            const int64_t pos = oo[i] * cc->s[i] - cc->pb[i] + tap[i] * cc->d[i];
                            inside &= pos >= 0 && pos < cc->in[i];
                            off = off * cc->in[i] + pos;
                        }
                        if (!inside) continue;
                        const size_t xo = (size_t)((b * cc->c + g * cg + ci) * in_plane + off);
                        const int32_t xv = get8(x, xo, cc->xs8);
                        const int32_t wv = get8(w, (size_t)((m * cg + ci) * kvol + t), cc->ws8);
                        acc += (int64_t)(xv - xzv) * (wv - wzv);
                    }
                const size_t o = (size_t)((b * cc->m + m) * out_plane + p);
                if (cc->integer) {
                    if (((int32_t *)y)[o] != (int32_t)acc)
                        fprintf(stderr, "at %zu: got %d want %lld\n", o, ((int32_t *)y)[o],
                                (long long)acc);
                    CHECK(((int32_t *)y)[o] == (int32_t)acc);
                } else {
                    const float sc = xs * ws[cc->per_channel ? m : 0] / ys;
                    const int32_t want = requant((int32_t)acc, sc, yzv, lo, hi);
                    const int32_t got = get8(y, o, cc->ys8);
                    if (got != want)
                        fprintf(stderr, "at %zu (m %lld p %lld): got %d want %d (acc %lld)\n", o,
                                (long long)m, (long long)p, got, want, (long long)acc);
                    CHECK(got == want);
                }
            }
        }
    qs__aligned_free(y);
    qs__aligned_free(x);
    qs__aligned_free(w);
}

static void random_conv(qs_pool_t *pool, uint64_t seed) {
    rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
    struct conv_case cc = {0};
    cc.nsp = rnd_in(0, 9) == 0 ? 1 : rnd_in(0, 9) == 0 ? 3 : 2;
    cc.n = rnd_in(1, 2);
    const int kind = rnd_in(0, 4);  // 0 depthwise, 1 grouped, 2 1x1, 3..4 dense
    cc.group = kind == 0 ? rnd_in(1, 12) : kind == 1 ? rnd_in(2, 3) : 1;
    cc.c = kind == 0 ? cc.group : cc.group * rnd_in(1, 6);
    cc.m = kind == 0 ? cc.group : cc.group * rnd_in(1, 7);
    for (int i = 0; i < cc.nsp; i++) {
        const bool one = kind == 2;
        cc.k[i] = one ? 1 : rnd_in(1, cc.nsp == 3 ? 2 : 4);
        cc.s[i] = one ? 1 : rnd_in(1, 3);
        cc.d[i] = one ? 1 : rnd_in(1, 2);
        cc.pb[i] = one ? 0 : rnd_in(0, 2);
        cc.pe[i] = one ? 0 : rnd_in(0, 2);
        const int64_t ek = (cc.k[i] - 1) * cc.d[i] + 1;
        cc.in[i] = QS_MAX(ek - cc.pb[i] - cc.pe[i], 1) + rnd_in(0, cc.nsp == 3 ? 4 : 11);
    }
    cc.xs8 = rnd() & 1;
    cc.ws8 = rnd_in(0, 3) != 0;
    cc.ys8 = rnd() & 1;
    cc.per_channel = rnd() & 1;
    cc.bias = rnd() & 1;
    cc.integer = rnd_in(0, 5) == 0;
    cc.wide_w = rnd_in(0, 5) == 0;
    cc.act = cc.integer ? 0 : rnd_in(0, 2);
    run_conv_case(&cc, pool, seed);
}

// ---------------------------------------------------------------------------------------
// QLinearMatMul / MatMulInteger / QGemm.

enum mm_op { OP_QLMM, OP_MMI, OP_QGEMM };

static void run_mm_case(qs_pool_t *pool, uint64_t seed) {
    rng_state = seed * 0x2545f4914f6cdd1dull + 7;
    const enum mm_op op = (enum mm_op)rnd_in(0, 2);
    const int64_t m = rnd_in(1, 9), n = rnd_in(1, 9), k = rnd_in(1, 40);
    const bool as8 = op == OP_QGEMM ? (rnd() & 1) : (rnd() & 1), bs8 = as8 || rnd_in(0, 2) != 0;
    const bool ys8 = rnd() & 1, b_const = op == OP_QGEMM || rnd_in(0, 2) != 0;
    const bool per_col = rnd() & 1, per_row = op == OP_MMI && (rnd() & 1);
    const bool ta = op == OP_QGEMM && (rnd() & 1), tb = op == OP_QGEMM && (rnd() & 1);
    const bool f32_out = op == OP_QGEMM && (rnd() & 1), with_c = op == OP_QGEMM && (rnd() & 1);
    // batch shapes for the matmuls: A [ba0, ba1, m, k] (rank 2..4), B [bb, k, n] or [k, n]
    const int ra = op == OP_QGEMM ? 2 : rnd_in(2, 4), rb = op == OP_QGEMM ? 2 : rnd_in(2, 3);
    int64_t ad[4], bd[3];
    int na = 0, nb = 0;
    int64_t batch_b = rb == 3 ? rnd_in(1, 3) : 1;
    for (int i = 0; i < ra - 2; i++)
        ad[na++] = i == ra - 3 && rb == 3 ? (rnd() & 1 ? batch_b : 1) : rnd_in(1, 3);
    if (rb == 3) bd[nb++] = batch_b;
    if (ta) {
        ad[na++] = k;
        ad[na++] = m;
    } else {
        ad[na++] = m;
        ad[na++] = k;
    }
    if (tb) {
        bd[nb++] = n;
        bd[nb++] = k;
    } else {
        bd[nb++] = k;
        bd[nb++] = n;
    }
    snprintf(case_desc, sizeof case_desc,
             "seed %llu op %d m %lld n %lld k %lld a%s b%s y%s bconst %d percol %d perrow %d "
             "ta %d tb %d f32 %d c %d ranks %d %d", (unsigned long long)seed, op, (long long)m,
             (long long)n, (long long)k, as8 ? "s8" : "u8", bs8 ? "s8" : "u8", ys8 ? "s8" : "u8",
             b_const, per_col, per_row, ta, tb, f32_out, with_c, ra, rb);
    const size_t n_a = (size_t)qs__numel(na, ad), n_b = (size_t)qs__numel(nb, bd);
    void *a = qs__aligned_alloc(n_a), *b = qs__aligned_alloc(n_b);
    fill8(a, n_a, as8, as8 ? -128 : 0, as8 ? 127 : 255);
    fill8(b, n_b, bs8, bs8 ? -127 : 0, bs8 ? 127 : 255);
    uint8_t az[16], bz[16], yz = ys8 ? (uint8_t)(int8_t)rnd_in(-20, 20) : (uint8_t)rnd_in(0, 255);
    for (int i = 0; i < 16; i++) {
        az[i] = as8 ? (uint8_t)(int8_t)rnd_in(-50, 50) : (uint8_t)rnd_in(0, 255);
        bz[i] = bs8 ? (op == OP_QGEMM ? 0 : (uint8_t)(int8_t)rnd_in(-3, 3))
                    : (uint8_t)rnd_in(0, 255);
    }
    float as = rnd_f(0.01f, 0.04f), bsc[16], ysc = rnd_f(0.1f, 0.6f), alpha = rnd_f(0.5f, 1.5f);
    for (int i = 0; i < 16; i++) bsc[i] = rnd_f(0.005f, 0.03f);
    int32_t cb[16];
    for (int i = 0; i < 16; i++) cb[i] = rnd_in(-3000, 3000);

    struct call c;
    const int64_t nvec = n, mvec = m;
    if (op == OP_QLMM) {
        call_init(&c, "", "QLinearMatMul", 13);
        input(&c, 0, t8(as8), na, ad, a, false);
        scalar(&c, 1, QS_DTYPE_F32, &as);
        scalar(&c, 2, t8(as8), az);
        input(&c, 3, t8(bs8), nb, bd, b, b_const);
        input(&c, 4, QS_DTYPE_F32, per_col ? 1 : 0, &nvec, bsc, true);
        input(&c, 5, t8(bs8), per_col ? 1 : 0, &nvec, bz, true);
        scalar(&c, 6, QS_DTYPE_F32, &ysc);
        scalar(&c, 7, t8(ys8), &yz);
    } else if (op == OP_MMI) {
        call_init(&c, "", "MatMulInteger", 10);
        input(&c, 0, t8(as8), na, ad, a, false);
        input(&c, 1, t8(bs8), nb, bd, b, b_const);
        input(&c, 2, t8(as8), per_row ? 1 : 0, &mvec, az, true);
        input(&c, 3, t8(bs8), per_col ? 1 : 0, &nvec, bz, true);
    } else {
        call_init(&c, "com.microsoft", "QGemm", 1);
        attr_i(&c, "transA", ta);
        attr_i(&c, "transB", tb);
        attr_f(&c, "alpha", alpha);
        input(&c, 0, t8(as8), na, ad, a, false);
        scalar(&c, 1, QS_DTYPE_F32, &as);
        scalar(&c, 2, t8(as8), az);
        input(&c, 3, t8(bs8), nb, bd, b, true);
        input(&c, 4, QS_DTYPE_F32, per_col ? 1 : 0, &nvec, bsc, true);
        input(&c, 5, t8(bs8), per_col ? 1 : 0, &nvec, bz, true);
        if (with_c) input(&c, 6, QS_DTYPE_I32, 1, &nvec, cb, true);
        scalar(&c, 7, QS_DTYPE_F32, &ysc);
        if (!f32_out) scalar(&c, 8, t8(ys8), &yz);
    }
    enum qs_status st;
    void *y = call_run(&c, pool, &st);
    if (!y) fprintf(stderr, "%s\n", c.diag.msg);
    CHECK(st == QS_STATUS_OK);
    // Reference, batch by batch with numpy broadcasting of the leading dims.
    const int nbd = QS_MAX(na, nb) - 2;
    int64_t obd[4];
    for (int i = 0; i < nbd; i++) {
        const int ia = i - (nbd - (na - 2)), ib = i - (nbd - (nb - 2));
        const int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
        obd[i] = da > db ? da : db;
    }
    const int64_t batches = qs__numel(nbd, obd);
    CHECK(c.vout.numel == batches * m * n);
    const int32_t lo = ys8 ? -128 : 0, hi = ys8 ? 127 : 255;
    const int32_t yzv = ys8 ? (int8_t)yz : yz;
    for (int64_t t = 0; t < batches; t++) {
        int64_t rem = t, oa = 0, ob = 0, sa = m * k, sb = k * n;
        for (int i = nbd - 1; i >= 0; i--) {
            const int64_t idx = rem % obd[i];
            rem /= obd[i];
            const int ia = i - (nbd - (na - 2)), ib = i - (nbd - (nb - 2));
            const int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
            oa += (da == 1 ? 0 : idx) * sa;
            ob += (db == 1 ? 0 : idx) * sb;
            sa *= da;
            sb *= db;
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                const int32_t azv = get8(az, per_row ? (size_t)i : 0, as8);
                const int32_t bzv = get8(bz, per_col ? (size_t)j : 0, bs8);
                int64_t acc = op == OP_QGEMM && with_c ? cb[j] : 0;
                for (int64_t q = 0; q < k; q++) {
                    const int32_t av = get8(a, (size_t)(oa + (ta ? q * m + i : i * k + q)), as8);
                    const int32_t bv = get8(b, (size_t)(ob + (tb ? j * k + q : q * n + j)), bs8);
                    acc += (int64_t)(av - azv) * (bv - bzv);
                }
                const size_t o = (size_t)((t * m + i) * n + j);
                const float bsv = bsc[per_col ? j : 0];
                if (op == OP_MMI) {
                    CHECK(((int32_t *)y)[o] == (int32_t)acc);
                } else if (f32_out) {
                    const float sc = alpha * as * bsv / ysc;
                    CHECK(((float *)y)[o] == (float)(int32_t)acc * sc);
                } else {
                    const float sc = op == OP_QGEMM ? alpha * as * bsv / ysc : as * bsv / ysc;
                    const int32_t want = requant((int32_t)acc, sc, yzv, lo, hi);
                    if (get8(y, o, ys8) != want)
                        fprintf(stderr, "batch %lld (%lld, %lld): got %d want %d\n",
                                (long long)t, (long long)i, (long long)j, get8(y, o, ys8), want);
                    CHECK(get8(y, o, ys8) == want);
                }
            }
    }
    qs__aligned_free(y);
    qs__aligned_free(a);
    qs__aligned_free(b);
}

// ---------------------------------------------------------------------------------------
// QuantizeLinear rounding/saturation and DequantizeLinear.

static void test_quantize_rounding(void) {
    snprintf(case_desc, sizeof case_desc, "QuantizeLinear rounding");
    const float xs[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 127.5f, 128.5f, -128.5f,
                        254.5f, 1e10f, -1e10f, NAN, INFINITY, -INFINITY, 3.49999f};
    const int64_t nx = QS_COUNTOF(xs);
    // uint8, zero point 0: half to even, saturation, NaN to 0.
    const uint8_t want_u8[] = {0, 2, 2, 0, 0, 0, 128, 128, 0, 254, 255, 0, 0, 255, 0, 3};
    const int8_t want_s8[] = {0, 2, 2, 0, -2, -2, 127, 127, -128, 127, 127, -128, -128, 127,
                              -128, 3};
    for (int sgn = 0; sgn < 2; sgn++) {
        struct call c;
        call_init(&c, "", "QuantizeLinear", 13);
        const float one = 1.0f;
        const uint8_t zp = 0;
        input(&c, 0, QS_DTYPE_F32, 1, &nx, xs, false);
        scalar(&c, 1, QS_DTYPE_F32, &one);
        scalar(&c, 2, t8(sgn), &zp);
        enum qs_status st;
        void *y = call_run(&c, NULL, &st);
        CHECK(st == QS_STATUS_OK);
        for (int64_t i = 0; i < nx; i++) {
            const int32_t want = sgn ? want_s8[i] : want_u8[i];
            if (get8(y, (size_t)i, sgn) != want)
                fprintf(stderr, "x %g: got %d want %d\n", (double)xs[i], get8(y, (size_t)i, sgn),
                        want);
            CHECK(get8(y, (size_t)i, sgn) == want);
        }
        qs__aligned_free(y);
    }
    // Per axis with a zero point, and the dequantization back.
    const int64_t dims[2] = {2, 3}, three = 3;
    const float x2[6] = {0.26f, -1.0f, 7.0f, 0.74f, 0.0f, -300.0f};
    const float sc[3] = {0.5f, 0.25f, 2.0f};
    const int8_t zp[3] = {1, -2, 100};
    const int8_t want[6] = {2, -6, 104, 2, -2, -50};
    struct call c;
    call_init(&c, "", "QuantizeLinear", 13);
    attr_i(&c, "axis", -1);
    input(&c, 0, QS_DTYPE_F32, 2, dims, x2, false);
    input(&c, 1, QS_DTYPE_F32, 1, &three, sc, true);
    input(&c, 2, QS_DTYPE_I8, 1, &three, zp, true);
    enum qs_status st;
    int8_t *q = call_run(&c, NULL, &st);
    CHECK(st == QS_STATUS_OK);
    for (int i = 0; i < 6; i++) CHECK(q[i] == want[i]);
    call_init(&c, "", "DequantizeLinear", 13);
    attr_i(&c, "axis", 1);
    input(&c, 0, QS_DTYPE_I8, 2, dims, q, false);
    input(&c, 1, QS_DTYPE_F32, 1, &three, sc, true);
    input(&c, 2, QS_DTYPE_I8, 1, &three, zp, true);
    float *dq = call_run(&c, NULL, &st);
    CHECK(st == QS_STATUS_OK);
    for (int i = 0; i < 6; i++) CHECK(dq[i] == (float)(want[i] - zp[i % 3]) * sc[i % 3]);
    qs__aligned_free(q);
    qs__aligned_free(dq);
    // Per tensor, uint8 (the vector path where the CPU has one): every value, and a length
    // that leaves a tail, against the scalar formula bit for bit.
    {
        enum { N = 1000 };
        const int64_t n = N;
        uint8_t u[N];
        for (int i = 0; i < N; i++) u[i] = (uint8_t)(i * 7 % 256);
        const float s1 = 0.0173f;
        const uint8_t z1 = 37;
        call_init(&c, "", "DequantizeLinear", 13);
        input(&c, 0, QS_DTYPE_U8, 1, &n, u, false);
        scalar(&c, 1, QS_DTYPE_F32, &s1);
        scalar(&c, 2, QS_DTYPE_U8, &z1);
        float *du = call_run(&c, NULL, &st);
        CHECK(st == QS_STATUS_OK);
        for (int i = 0; i < N; i++) CHECK(du[i] == (float)((int32_t)u[i] - 37) * s1);
        qs__aligned_free(du);
    }
    // Opset 10 allows only a scalar scale.
    call_init(&c, "", "QuantizeLinear", 10);
    input(&c, 0, QS_DTYPE_F32, 2, dims, x2, false);
    input(&c, 1, QS_DTYPE_F32, 1, &three, sc, true);
    CHECK(call_run(&c, NULL, &st) == NULL && st == QS_STATUS_PARSE);
    ASSERT_STR_CONTAINS(c.diag.msg, "opset 10 allows only a scalar scale");
}

// The fused activation's clamp: Relu at zero point, Clip bounds rounded and saturated.
static void test_act_clamp(void) {
    snprintf(case_desc, sizeof case_desc, "act clamp");
    qs_node node = {.name = (char *)"n", .op_type = (char *)"QLinearConv"};
    qs_kctx k = {.node = &node};
    int32_t lo = 0, hi = 255;
    node.act = (struct qs_fused_act){QS_ACT_RELU, 0.0f, INFINITY};
    qs__qlin_act_clamp(&k, 0.1f, 20, &lo, &hi);
    CHECK(lo == 20 && hi == 255);
    lo = -128, hi = 127;
    node.act = (struct qs_fused_act){QS_ACT_CLIP, -1.0f, 6.0f};
    qs__qlin_act_clamp(&k, 0.1f, -5, &lo, &hi);
    CHECK(lo == -15 && hi == 55);
    lo = 0, hi = 255;
    node.act = (struct qs_fused_act){QS_ACT_CLIP, -100.0f, 100.0f};  // wider than the type
    qs__qlin_act_clamp(&k, 0.1f, 128, &lo, &hi);
    CHECK(lo == 0 && hi == 255);
}

// ---------------------------------------------------------------------------------------
// 8-bit max pooling against a naive loop.

static void test_q8_maxpool(void) {
    for (int it = 0; it < 200; it++) {
        rng_state = 0xabcdef + (uint64_t)it * 7919;
        struct qs_f32_window win;
        qs__f32_window_init(&win);
        for (int i = 1; i < 3; i++) {
            win.k[i] = rnd_in(1, 3);
            win.stride[i] = rnd_in(1, 2);
            win.dil[i] = rnd_in(1, 2);
            win.pad[i] = rnd_in(0, win.k[i] - 1);
            win.in[i] = rnd_in(1, 9);
            if (i == 2 && it % 4 == 0) win.in[i] = rnd_in(30, 100);  // vector column loops
            const int64_t ek = (win.k[i] - 1) * win.dil[i] + 1;
            if (win.in[i] + 2 * win.pad[i] < ek) win.in[i] = ek;
            win.out[i] = (win.in[i] + 2 * win.pad[i] - ek) / win.stride[i] + 1;
            // ceil_mode: one more window when it still starts inside the input.
            if ((rnd() & 1) && win.out[i] * win.stride[i] - win.pad[i] < win.in[i]) win.out[i]++;
        }
        const bool sgn = rnd() & 1;
        snprintf(case_desc, sizeof case_desc, "maxpool iteration %d", it);
        const size_t nin = (size_t)(win.in[1] * win.in[2]);
        const size_t nout = (size_t)(win.out[1] * win.out[2]);
        uint8_t x[1024], y[1024];
        fill8(x, nin, sgn, sgn ? -128 : 0, sgn ? 127 : 255);
        qs__q8_maxpool(&win, sgn, x, y);
        for (size_t o = 0; o < nout; o++) {
            const int64_t oh = (int64_t)o / win.out[2], ow = (int64_t)o % win.out[2];
            int32_t mx = sgn ? -128 : 0;
            for (int64_t a = 0; a < win.k[1]; a++)
                for (int64_t b = 0; b < win.k[2]; b++) {
                    const int64_t ih = oh * win.stride[1] - win.pad[1] + a * win.dil[1];
                    const int64_t iw = ow * win.stride[2] - win.pad[2] + b * win.dil[2];
                    if (ih < 0 || ih >= win.in[1] || iw < 0 || iw >= win.in[2]) continue;
                    mx = QS_MAX(mx, get8(x, (size_t)(ih * win.in[2] + iw), sgn));
                }
            CHECK(get8(y, o, sgn) == mx);
        }
    }
}

// Errors a user can cause: weights that are not constant, wrong zero-point types.
static void test_errors(void) {
    snprintf(case_desc, sizeof case_desc, "errors");
    const int64_t xd[4] = {1, 2, 3, 3}, wd[4] = {2, 2, 1, 1};
    uint8_t x[18] = {0}, w[4] = {0}, z = 0;
    const int8_t zs = 0;
    const float s = 0.1f;
    struct call c;
    call_init(&c, "", "QLinearConv", 13);
    input(&c, 0, QS_DTYPE_U8, 4, xd, x, false);
    scalar(&c, 1, QS_DTYPE_F32, &s);
    scalar(&c, 2, QS_DTYPE_U8, &z);
    input(&c, 3, QS_DTYPE_I8, 4, wd, w, false);  // not constant
    scalar(&c, 4, QS_DTYPE_F32, &s);
    scalar(&c, 5, QS_DTYPE_I8, &zs);
    scalar(&c, 6, QS_DTYPE_F32, &s);
    scalar(&c, 7, QS_DTYPE_U8, &z);
    enum qs_status st;
    CHECK(call_run(&c, NULL, &st) == NULL && st == QS_STATUS_UNSUPPORTED);
    ASSERT_STR_CONTAINS(c.diag.msg, "the weight must be a constant");
    c.vin[3].is_const = true;
    scalar(&c, 2, QS_DTYPE_I8, &zs);  // x is uint8
    CHECK(call_run(&c, NULL, &st) == NULL && st == QS_STATUS_PARSE);
    ASSERT_STR_CONTAINS(c.diag.msg, "x_zero_point has type int8, expected uint8");
    scalar(&c, 2, QS_DTYPE_U8, &z);
    const float bad = -1.0f;
    scalar(&c, 6, QS_DTYPE_F32, &bad);
    CHECK(call_run(&c, NULL, &st) == NULL && st == QS_STATUS_INVALID_ARG);
    ASSERT_STR_CONTAINS(c.diag.msg, "scales must be positive");
}

int main(void) {
    qs_pool_t *pool = NULL;
    ASSERT_OK(qs__pool_create(2, &pool));
    test_quantize_rounding();
    test_act_clamp();
    test_q8_maxpool();
    test_errors();
    for (uint64_t seed = 1; seed <= 300; seed++) random_conv(seed % 3 ? NULL : pool, seed);
    // A layer whose im2col buffer spans several tiles.
    struct conv_case big = {.nsp = 2, .n = 1, .c = 64, .m = 5, .group = 1, .in = {50, 47},
                            .k = {3, 3}, .s = {1, 1}, .d = {1, 1}, .pb = {1, 1}, .pe = {1, 1},
                            .ws8 = true, .per_channel = true, .bias = true, .act = 1};
    run_conv_case(&big, pool, 0);
    big.xs8 = true;
    run_conv_case(&big, NULL, 0);
    // 3-D with a depth of 1 padded to 3: neither the depthwise kernel nor the shifted im2col
    // (both 2-D) may take it.
    struct conv_case flat3d = {.nsp = 3, .n = 1, .c = 4, .m = 4, .group = 4, .in = {1, 6, 6},
                               .k = {1, 3, 3}, .s = {1, 1, 1}, .d = {1, 1, 1}, .pb = {1, 1, 1},
                               .pe = {1, 1, 1}, .ws8 = true, .bias = true};
    run_conv_case(&flat3d, NULL, 0);
    flat3d.group = 1;
    run_conv_case(&flat3d, pool, 0);
    for (uint64_t seed = 1; seed <= 300; seed++) run_mm_case(seed % 2 ? NULL : pool, seed);
    qs__pool_destroy(pool);
    printf("qlinear ops: ok\n");
    return 0;
}
