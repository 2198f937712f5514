// Elementwise, comparison, cast and reduction ops against naive references: the collapsed
// broadcast walk (fast row kernels) against per-element index arithmetic on random
// shapes, the threaded split against a single thread, integer edge cases that must not
// trap, float16 conversion, and reductions over random axes.
#include "ir/ops/ew-impl.h"
#include "test.h"

#include <math.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}
static float rndf(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() % 1000000) / 1e6f; }

// ---------------------------------------------------------------------------------------
// Running one op outside a graph.

struct opcall {
    qs_node node;
    struct qs_attr attrs[4];
    qs_view in_v[4], out_v;
    qs_view *in[4];
    qs_view *out[1];
};

static void call_init(struct opcall *c, const char *op_type, int opset) {
    memset(c, 0, sizeof *c);
    c->node.name = (char *)"n";
    c->node.op_type = (char *)op_type;
    c->node.domain = (char *)"";
    c->node.opset = opset;
    c->node.attrs = c->attrs;
    c->out[0] = &c->out_v;
}

static void call_attr_i(struct opcall *c, const char *name, int64_t v) {
    struct qs_attr *a = &c->attrs[c->node.n_attrs++];
    a->name = name;
    a->type = QS_ATTR_INT;
    a->i = v;
}
static void call_attr_f(struct opcall *c, const char *name, float v) {
    struct qs_attr *a = &c->attrs[c->node.n_attrs++];
    a->name = name;
    a->type = QS_ATTR_FLOAT;
    a->f = v;
}
static void call_attr_ints(struct opcall *c, const char *name, int n, int64_t *v) {
    struct qs_attr *a = &c->attrs[c->node.n_attrs++];
    a->name = name;
    a->type = QS_ATTR_INTS;
    a->n = n;
    a->ints = v;
}

static void call_input(struct opcall *c, int i, enum qs_dtype dt, int rank, const int64_t *dims,
                       void *data) {
    qs__view_set_shape(&c->in_v[i], dt, rank, dims);
    c->in_v[i].data = data;
    c->in_v[i].is_const = true;
    c->in[i] = &c->in_v[i];
    if (i + 1 > c->node.n_inputs) c->node.n_inputs = i + 1;
}

// Infers, allocates the output and runs. Returns the status of infer or run.
static enum qs_status call_run(struct opcall *c, const struct qs_op_def *def, qs_pool_t *pool) {
    struct qs_diag diag = {{0}};
    qs_kctx k = {0};
    k.node = &c->node;
    k.n_in = c->node.n_inputs;
    k.n_out = 1;
    k.in = c->in;
    k.out = c->out;
    k.diag = &diag;
    k.pool = pool;
    enum qs_status st = def->infer(&k);
    if (st) {
        printf("  infer: %s\n", diag.msg);
        return st;
    }
    c->out_v.data = qs__aligned_alloc(qs__view_bytes(&c->out_v) + 1);
    ASSERT_TRUE(c->out_v.data != NULL);
    return def->run(&k);
}

static void call_free(struct opcall *c) { qs__aligned_free(c->out_v.data); }

// ---------------------------------------------------------------------------------------
// Broadcast plans.

static void test_plan(void) {
    qs__ew_bcast b;
    // Per-channel NCHW: [2,3,4,5] + [1,3,1,1] -> rows of 20 with a scalar per row.
    int64_t x[] = {2, 3, 4, 5}, s[] = {1, 3, 1, 1};
    int ranks[] = {4, 4};
    const int64_t *dims[] = {x, s};
    qs__ew_bcast_init(&b, 4, x, 2, ranks, dims);
    ASSERT_EQ(b.rank, 3);
    ASSERT_EQ(b.dims[0], 2);
    ASSERT_EQ(b.dims[1], 3);
    ASSERT_EQ(b.dims[2], 20);
    ASSERT_EQ(b.str[0][2], 1);
    ASSERT_EQ(b.str[1][0], 0);
    ASSERT_EQ(b.str[1][1], 1);
    ASSERT_EQ(b.str[1][2], 0);
    // Same shape and scalar: one row.
    int64_t sc[] = {1};
    const int64_t *dims2[] = {x, sc};
    int ranks2[] = {4, 0};
    qs__ew_bcast_init(&b, 4, x, 2, ranks2, dims2);
    ASSERT_EQ(b.rank, 1);
    ASSERT_EQ(b.dims[0], 120);
    ASSERT_EQ(b.str[1][0], 0);
    // Last-dim broadcast (transformer bias): [8,16,64] + [64] -> 128 rows of 64.
    int64_t t[] = {8, 16, 64}, bias[] = {64};
    const int64_t *dims3[] = {t, bias};
    int ranks3[] = {3, 1};
    qs__ew_bcast_init(&b, 3, t, 2, ranks3, dims3);
    ASSERT_EQ(b.rank, 2);
    ASSERT_EQ(b.dims[0], 128);
    ASSERT_EQ(b.dims[1], 64);
    ASSERT_EQ(b.str[1][0], 0);
    ASSERT_EQ(b.str[1][1], 1);
}

// ---------------------------------------------------------------------------------------
// Binary ops on random broadcast shapes against per-element index arithmetic.

static int64_t ref_index(int out_rank, const int64_t *odims, int64_t flat, int rank,
                         const int64_t *dims) {
    int64_t idx[QS_MAX_RANK];
    for (int d = out_rank - 1; d >= 0; d--) {
        idx[d] = flat % odims[d];
        flat /= odims[d];
    }
    int64_t off = 0;
    for (int d = 0; d < rank; d++) {
        int od = d + out_rank - rank;
        off = off * dims[d] + (dims[d] == 1 ? 0 : idx[od]);
    }
    return off;
}

static void random_shapes(int *ro, int64_t *od, int n, int *r, int64_t (*d)[QS_MAX_RANK]) {
    *ro = (int)(rnd() % 5);
    for (int i = 0; i < *ro; i++) od[i] = 1 + rnd() % 5;
    int full = (int)(rnd() % (uint32_t)n);  // one input has the output's rank
    for (int k = 0; k < n; k++) {
        r[k] = k == full ? *ro : *ro - (int)(rnd() % (*ro + 1));
        for (int i = 0; i < r[k]; i++) {
            int o = i + *ro - r[k];
            d[k][i] = (rnd() % 3 == 0) ? 1 : od[o];
        }
    }
    // Make the output shape the real broadcast (a dim every input took as 1 stays 1).
    for (int i = 0; i < *ro; i++) {
        int64_t m = 1;
        for (int k = 0; k < n; k++) {
            int j = i - (*ro - r[k]);
            if (j >= 0) m = QS_MAX(m, d[k][j]);
        }
        od[i] = m;
    }
}

typedef float (*ref_f32)(float, float);
static float r_add(float a, float b) { return a + b; }
static float r_sub(float a, float b) { return a - b; }
static float r_mul(float a, float b) { return a * b; }
static float r_div(float a, float b) { return a / b; }
static float r_min(float a, float b) { return a < b ? a : b; }
static float r_max(float a, float b) { return a > b ? a : b; }
static float r_prelu(float a, float b) { return a < 0 ? a * b : a; }
static float r_pow(float a, float b) { return powf(a, b); }

static void test_binary_f32(const char *name, const struct qs_op_def *def, ref_f32 ref,
                            bool positive, bool unidir) {
    for (int iter = 0; iter < 300; iter++) {
        int ro, r[2];
        int64_t od[QS_MAX_RANK], d[2][QS_MAX_RANK];
        random_shapes(&ro, od, 2, r, d);
        if (unidir) {  // PRelu: X has the full shape
            r[0] = ro;
            memcpy(d[0], od, sizeof od);
        }
        int64_t n0 = qs__numel(r[0], d[0]), n1 = qs__numel(r[1], d[1]);
        float *a = malloc(sizeof(float) * (size_t)(n0 + 1)),
              *b = malloc(sizeof(float) * (size_t)(n1 + 1));
        for (int64_t i = 0; i < n0; i++) a[i] = positive ? rndf(0.1f, 3) : rndf(-4, 4);
        for (int64_t i = 0; i < n1; i++)
            b[i] = positive ? rndf(-2, 2) : rndf(0.5f, 4) * (rnd() % 2 ? 1 : -1);
        if (positive && n1 == 1) b[0] = (float)(rnd() % 4);  // hit the scalar-exponent paths
        struct opcall c;
        call_init(&c, name, 17);
        call_input(&c, 0, QS_DTYPE_F32, r[0], d[0], a);
        call_input(&c, 1, QS_DTYPE_F32, r[1], d[1], b);
        ASSERT_OK(call_run(&c, def, NULL));
        ASSERT_EQ(c.out_v.rank, ro);
        const float *y = c.out_v.data;
        for (int64_t i = 0; i < c.out_v.numel; i++) {
            float want =
                ref(a[ref_index(ro, od, i, r[0], d[0])], b[ref_index(ro, od, i, r[1], d[1])]);
            if (!(fabsf(want - y[i]) <= 1e-6f * fabsf(want))) {
                fprintf(stderr, "%s iter %d element %lld: want %g got %g\n", name, iter,
                        (long long)i, want, y[i]);
                exit(1);
            }
        }
        call_free(&c);
        free(a);
        free(b);
    }
}

static void test_where(void) {
    for (int iter = 0; iter < 200; iter++) {
        int ro, r[3];
        int64_t od[QS_MAX_RANK], d[3][QS_MAX_RANK];
        random_shapes(&ro, od, 3, r, d);
        int64_t n[3];
        for (int k = 0; k < 3; k++) n[k] = qs__numel(r[k], d[k]);
        uint8_t *c0 = malloc((size_t)n[0] + 1);
        int64_t *x = malloc(8 * (size_t)(n[1] + 1)), *y = malloc(8 * (size_t)(n[2] + 1));
        for (int64_t i = 0; i < n[0]; i++) c0[i] = rnd() % 2;
        for (int64_t i = 0; i < n[1]; i++) x[i] = rnd();
        for (int64_t i = 0; i < n[2]; i++) y[i] = -(int64_t)rnd();
        struct opcall c;
        call_init(&c, "Where", 16);
        call_input(&c, 0, QS_DTYPE_BOOL, r[0], d[0], c0);
        call_input(&c, 1, QS_DTYPE_I64, r[1], d[1], x);
        call_input(&c, 2, QS_DTYPE_I64, r[2], d[2], y);
        ASSERT_OK(call_run(&c, &qs__opdef_where, NULL));
        const int64_t *o = c.out_v.data;
        for (int64_t i = 0; i < c.out_v.numel; i++) {
            int64_t want = c0[ref_index(ro, od, i, r[0], d[0])]
                               ? x[ref_index(ro, od, i, r[1], d[1])]
                               : y[ref_index(ro, od, i, r[2], d[2])];
            ASSERT_EQ(o[i], want);
        }
        call_free(&c);
        free(c0);
        free(x);
        free(y);
    }
}

static void test_compare(void) {
    for (int iter = 0; iter < 200; iter++) {
        int ro, r[2];
        int64_t od[QS_MAX_RANK], d[2][QS_MAX_RANK];
        random_shapes(&ro, od, 2, r, d);
        int64_t n0 = qs__numel(r[0], d[0]), n1 = qs__numel(r[1], d[1]);
        int32_t *a = malloc(4 * (size_t)(n0 + 1)), *b = malloc(4 * (size_t)(n1 + 1));
        for (int64_t i = 0; i < n0; i++) a[i] = (int32_t)(rnd() % 5) - 2;
        for (int64_t i = 0; i < n1; i++) b[i] = (int32_t)(rnd() % 5) - 2;
        const struct qs_op_def *defs[] = {&qs__opdef_equal, &qs__opdef_less, &qs__opdef_greater,
                                          &qs__opdef_lessorequal, &qs__opdef_greaterorequal};
        for (int op = 0; op < 5; op++) {
            struct opcall c;
            call_init(&c, "Cmp", 16);
            call_input(&c, 0, QS_DTYPE_I32, r[0], d[0], a);
            call_input(&c, 1, QS_DTYPE_I32, r[1], d[1], b);
            ASSERT_OK(call_run(&c, defs[op], NULL));
            ASSERT_EQ(c.out_v.dtype, QS_DTYPE_BOOL);
            const uint8_t *o = c.out_v.data;
            for (int64_t i = 0; i < c.out_v.numel; i++) {
                int32_t x = a[ref_index(ro, od, i, r[0], d[0])],
                        y = b[ref_index(ro, od, i, r[1], d[1])];
                bool want = op == 0   ? x == y
                            : op == 1 ? x < y
                            : op == 2 ? x > y
                            : op == 3 ? x <= y
                                      : x >= y;
                ASSERT_EQ(o[i], want);
            }
            call_free(&c);
        }
        free(a);
        free(b);
    }
}

// ---------------------------------------------------------------------------------------
// Threads: the same results when the output is split (pieces start mid-row).

static void test_threads(void) {
    qs_pool_t *pool;
    ASSERT_OK(qs__pool_create(3, &pool));
    int64_t x[] = {2, 64, 29, 37}, ch[] = {1, 64, 1, 1};
    int64_t n = qs__numel(4, x);
    float *a = malloc(sizeof(float) * (size_t)n), *s = malloc(64 * sizeof(float));
    for (int64_t i = 0; i < n; i++) a[i] = rndf(-3, 3);
    for (int i = 0; i < 64; i++) s[i] = rndf(-3, 3);
    const struct qs_op_def *defs[] = {&qs__opdef_add, &qs__opdef_mul, &qs__opdef_prelu};
    for (int op = 0; op < 3; op++) {
        struct opcall c1, c2;
        call_init(&c1, "Op", 17);
        call_input(&c1, 0, QS_DTYPE_F32, 4, x, a);
        call_input(&c1, 1, QS_DTYPE_F32, 4, ch, s);
        c2 = c1;
        c2.node.attrs = c2.attrs;
        c2.in[0] = &c2.in_v[0];
        c2.in[1] = &c2.in_v[1];
        c2.out[0] = &c2.out_v;
        ASSERT_OK(call_run(&c1, defs[op], NULL));
        ASSERT_OK(call_run(&c2, defs[op], pool));
        ASSERT_TRUE(memcmp(c1.out_v.data, c2.out_v.data, (size_t)n * 4) == 0);
        call_free(&c1);
        call_free(&c2);
    }
    // Unary, Cast and a reduction on the pool.
    struct opcall c1, c2;
    call_init(&c1, "Sigmoid", 13);
    call_input(&c1, 0, QS_DTYPE_F32, 4, x, a);
    call_init(&c2, "Sigmoid", 13);
    call_input(&c2, 0, QS_DTYPE_F32, 4, x, a);
    ASSERT_OK(call_run(&c1, &qs__opdef_sigmoid, NULL));
    ASSERT_OK(call_run(&c2, &qs__opdef_sigmoid, pool));
    ASSERT_TRUE(memcmp(c1.out_v.data, c2.out_v.data, (size_t)n * 4) == 0);
    call_free(&c1);
    call_free(&c2);
    int64_t axes[] = {2, 3};
    call_init(&c1, "ReduceMean", 13);
    call_input(&c1, 0, QS_DTYPE_F32, 4, x, a);
    call_attr_ints(&c1, "axes", 2, axes);
    call_init(&c2, "ReduceMean", 13);
    call_input(&c2, 0, QS_DTYPE_F32, 4, x, a);
    call_attr_ints(&c2, "axes", 2, axes);
    ASSERT_OK(call_run(&c1, &qs__opdef_reducemean, NULL));
    ASSERT_OK(call_run(&c2, &qs__opdef_reducemean, pool));
    ASSERT_EQ(c1.out_v.numel, 128);
    ASSERT_TRUE(memcmp(c1.out_v.data, c2.out_v.data, 128 * 4) == 0);
    call_free(&c1);
    call_free(&c2);
    free(a);
    free(s);
    qs__pool_destroy(pool);
}

// ---------------------------------------------------------------------------------------
// Integer semantics: wrap, C truncation, Python and C remainders, no traps.

static void test_int_edges(void) {
    int32_t a[] = {7, -7, 7, -7, INT32_MIN, 5, INT32_MAX, 3};
    int32_t b[] = {2, 2, -2, -2, -1, 0, 1, -3};
    int64_t dims[] = {8};
    struct opcall c;
    call_init(&c, "Div", 14);
    call_input(&c, 0, QS_DTYPE_I32, 1, dims, a);
    call_input(&c, 1, QS_DTYPE_I32, 1, dims, b);
    ASSERT_OK(call_run(&c, &qs__opdef_div, NULL));
    const int32_t *y = c.out_v.data;
    int32_t div_want[] = {3, -3, -3, 3, INT32_MIN, 0, INT32_MAX, -1};
    for (int i = 0; i < 8; i++) ASSERT_EQ(y[i], div_want[i]);
    call_free(&c);

    call_init(&c, "Mod", 13);
    call_input(&c, 0, QS_DTYPE_I32, 1, dims, a);
    call_input(&c, 1, QS_DTYPE_I32, 1, dims, b);
    ASSERT_OK(call_run(&c, &qs__opdef_mod, NULL));
    y = c.out_v.data;
    int32_t pymod_want[] = {1, 1, -1, -1, 0, 0, 0, 0};
    for (int i = 0; i < 8; i++) ASSERT_EQ(y[i], pymod_want[i]);
    call_free(&c);

    call_init(&c, "Mod", 13);
    call_attr_i(&c, "fmod", 1);
    call_input(&c, 0, QS_DTYPE_I32, 1, dims, a);
    call_input(&c, 1, QS_DTYPE_I32, 1, dims, b);
    ASSERT_OK(call_run(&c, &qs__opdef_mod, NULL));
    y = c.out_v.data;
    int32_t cmod_want[] = {1, -1, 1, -1, 0, 0, 0, 0};
    for (int i = 0; i < 8; i++) ASSERT_EQ(y[i], cmod_want[i]);
    call_free(&c);

    call_init(&c, "Add", 14);
    call_input(&c, 0, QS_DTYPE_I32, 1, dims, a);
    call_input(&c, 1, QS_DTYPE_I32, 1, dims, b);
    ASSERT_OK(call_run(&c, &qs__opdef_add, NULL));
    y = c.out_v.data;
    ASSERT_EQ(y[4], INT32_MAX);  // INT32_MIN + -1 wraps
    ASSERT_EQ(y[6], INT32_MIN);  // INT32_MAX + 1 wraps
    call_free(&c);

    // Pow int64 ^ int64 exactly; int32 ^ float32 through double.
    int64_t pa[] = {3, -2, 10, 2}, pb[] = {4, 3, 15, -1};
    int64_t d4[] = {4};
    call_init(&c, "Pow", 15);
    call_input(&c, 0, QS_DTYPE_I64, 1, d4, pa);
    call_input(&c, 1, QS_DTYPE_I64, 1, d4, pb);
    ASSERT_OK(call_run(&c, &qs__opdef_pow, NULL));
    const int64_t *p = c.out_v.data;
    ASSERT_EQ(p[0], 81);
    ASSERT_EQ(p[1], -8);
    ASSERT_EQ(p[2], 1000000000000000ll);
    ASSERT_EQ(p[3], 0);
    call_free(&c);

    // Clip on int8 with only a max.
    int8_t ca[] = {-128, -1, 0, 50, 127}, hi = 10;
    int64_t d5[] = {5};
    call_init(&c, "Clip", 13);
    call_input(&c, 0, QS_DTYPE_I8, 1, d5, ca);
    c.in[1] = NULL;
    call_input(&c, 2, QS_DTYPE_I8, 0, NULL, &hi);
    ASSERT_OK(call_run(&c, &qs__opdef_clip, NULL));
    const int8_t *cy = c.out_v.data;
    int8_t cwant[] = {-128, -1, 0, 10, 10};
    for (int i = 0; i < 5; i++) ASSERT_EQ(cy[i], cwant[i]);
    call_free(&c);
}

// ---------------------------------------------------------------------------------------
// float16: every half survives a round trip; floats round to the nearest half, ties even.

static void test_f16(void) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = qs__ew_f16_to_f32((uint16_t)h);
        if (f != f) {
            ASSERT_TRUE((qs__ew_f32_to_f16(f) & 0x7c00) == 0x7c00 &&
                        (qs__ew_f32_to_f16(f) & 0x3ff));
            continue;
        }
        ASSERT_EQ(qs__ew_f32_to_f16(f), h);
    }
    for (int i = 0; i < 200000; i++) {
        uint32_t u = rnd() | ((rnd() & 1) << 31);
        u = (u & 0x80000000u) | (0x33000000u + u % (0x477ff000u - 0x33000000u));  // below 65520
        float f;
        memcpy(&f, &u, 4);
        uint16_t h = qs__ew_f32_to_f16(f);
        double got = qs__ew_f16_to_f32(h), err = fabs((double)f - got);
        for (int dlt = -1; dlt <= 1; dlt += 2) {
            uint16_t n = (uint16_t)(h + dlt);
            if (((n ^ h) & 0x8000) || (n & 0x7c00) == 0x7c00) continue;
            double e2 = fabs((double)f - qs__ew_f16_to_f32(n));
            ASSERT_TRUE(err < e2 || (err == e2 && (h & 1) == 0));
        }
    }
    ASSERT_EQ(qs__ew_f32_to_f16(65520.0f), 0x7c00);
    ASSERT_EQ(qs__ew_f32_to_f16(65519.0f), 0x7bff);
    ASSERT_EQ(qs__ew_f32_to_f16(-INFINITY), 0xfc00);
    ASSERT_EQ(qs__ew_f32_to_bf16(1.00390625f), 0x3f80);  // tie to even
    ASSERT_EQ(qs__ew_f32_to_bf16(1.01171875f), 0x3f82);  // tie to even (up)
}

static void test_cast(void) {
    float a[] = {-1.9f, -0.5f, 0.0f, 2.7f, 300.5f, NAN, 65504.0f, 1e10f};
    int64_t dims[] = {8};
    struct opcall c;
    call_init(&c, "Cast", 13);
    call_attr_i(&c, "to", QS_DTYPE_I32);
    call_input(&c, 0, QS_DTYPE_F32, 1, dims, a);
    ASSERT_OK(call_run(&c, &qs__opdef_cast, NULL));
    const int32_t *y = c.out_v.data;
    int32_t want[] = {-1, 0, 0, 2, 300, 0, 65504};
    for (int i = 0; i < 7; i++) ASSERT_EQ(y[i], want[i]);
    call_free(&c);

    call_init(&c, "Cast", 13);
    call_attr_i(&c, "to", QS_DTYPE_BOOL);
    call_input(&c, 0, QS_DTYPE_F32, 1, dims, a);
    ASSERT_OK(call_run(&c, &qs__opdef_cast, NULL));
    const uint8_t *bo = c.out_v.data;
    uint8_t bwant[] = {1, 1, 0, 1, 1, 1, 1, 1};
    for (int i = 0; i < 8; i++) ASSERT_EQ(bo[i], bwant[i]);
    call_free(&c);

    call_init(&c, "Cast", 13);
    call_attr_i(&c, "to", QS_DTYPE_STRING);
    call_input(&c, 0, QS_DTYPE_F32, 1, dims, a);
    ASSERT_EQ(call_run(&c, &qs__opdef_cast, NULL), QS_STATUS_UNSUPPORTED);
}

// ---------------------------------------------------------------------------------------
// Reductions over random axes against a double-precision reference.

static void test_reduce(void) {
    const struct {
        const struct qs_op_def *def;
        const char *name;
        int kind;  // 0 sum 1 mean 2 max 3 min 4 prod 5 l1 6 l2 7 logsum 8 lse 9 sumsq
    } ops[] = {
        {&qs__opdef_reducesum, "ReduceSum", 0},
        {&qs__opdef_reducemean, "ReduceMean", 1},
        {&qs__opdef_reducemax, "ReduceMax", 2},
        {&qs__opdef_reducemin, "ReduceMin", 3},
        {&qs__opdef_reduceprod, "ReduceProd", 4},
        {&qs__opdef_reducel1, "ReduceL1", 5},
        {&qs__opdef_reducel2, "ReduceL2", 6},
        {&qs__opdef_reducelogsum, "ReduceLogSum", 7},
        {&qs__opdef_reducelogsumexp, "ReduceLogSumExp", 8},
        {&qs__opdef_reducesumsquare, "ReduceSumSquare", 9},
    };
    for (int iter = 0; iter < 400; iter++) {
        int op = iter % 10, rank = 1 + (int)(rnd() % 4);
        int64_t dims[4], axes[4];
        int na = 0;
        bool mask[4];
        for (int d = 0; d < rank; d++) {
            dims[d] = 1 + rnd() % (iter < 200 ? 4 : 40);
            mask[d] = rnd() % 2;
            if (mask[d]) axes[na++] = rnd() % 2 ? d : d - rank;
        }
        if (na == 0)
            for (int d = 0; d < rank; d++) mask[d] = true;
        int keep = (int)(rnd() % 2);
        int64_t n = qs__numel(rank, dims);
        float *x = malloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n; i++)
            x[i] = ops[op].kind == 7 || ops[op].kind == 4 ? rndf(0.8f, 1.2f) : rndf(-3, 3);
        struct opcall c;
        // ReduceSum takes axes as an input from opset 13; the others as an attribute.
        if (ops[op].kind == 0) {
            call_init(&c, ops[op].name, 13);
            call_input(&c, 0, QS_DTYPE_F32, rank, dims, x);
            int64_t ad[] = {na};
            if (na) call_input(&c, 1, QS_DTYPE_I64, 1, ad, axes);
        } else {
            call_init(&c, ops[op].name, 13);
            call_input(&c, 0, QS_DTYPE_F32, rank, dims, x);
            if (na) call_attr_ints(&c, "axes", na, axes);
        }
        call_attr_i(&c, "keepdims", keep);
        ASSERT_OK(call_run(&c, ops[op].def, NULL));
        // Output shape.
        int ro = 0;
        int64_t od[4], onum = 1;
        for (int d = 0; d < rank; d++) {
            if (!mask[d])
                od[ro++] = dims[d];
            else if (keep)
                od[ro++] = 1;
            if (!mask[d]) onum *= dims[d];
        }
        ASSERT_EQ(c.out_v.rank, ro);
        for (int d = 0; d < ro; d++) ASSERT_EQ(c.out_v.dims[d], od[d]);
        ASSERT_EQ(c.out_v.numel, onum);
        // Reference: accumulate every input element into its output.
        double *acc = calloc((size_t)onum, sizeof(double)),
               *mx = malloc(sizeof(double) * (size_t)onum);
        int64_t cnt = n / onum;
        for (int64_t o = 0; o < onum; o++) {
            acc[o] = ops[op].kind == 4   ? 1
                     : ops[op].kind == 2 ? -INFINITY
                     : ops[op].kind == 3 ? INFINITY
                                         : 0;
            mx[o] = -INFINITY;
        }
        for (int64_t i = 0; i < n; i++) {
            int64_t rem = i, o = 0, idx[4];
            for (int d = rank - 1; d >= 0; d--) {
                idx[d] = rem % dims[d];
                rem /= dims[d];
            }
            for (int d = 0; d < rank; d++)
                if (!mask[d]) o = o * dims[d] + idx[d];
            double v = x[i];
            switch (ops[op].kind) {
                case 2:
                    acc[o] = fmax(acc[o], v);
                    break;
                case 3:
                    acc[o] = fmin(acc[o], v);
                    break;
                case 4:
                    acc[o] *= v;
                    break;
                case 5:
                    acc[o] += fabs(v);
                    break;
                case 6:
                case 9:
                    acc[o] += v * v;
                    break;
                case 8:
                    acc[o] += exp(v);
                    break;
                default:
                    acc[o] += v;
                    break;
            }
        }
        const float *y = c.out_v.data;
        for (int64_t o = 0; o < onum; o++) {
            double w = acc[o];
            switch (ops[op].kind) {
                case 1:
                    w /= (double)cnt;
                    break;
                case 6:
                    w = sqrt(w);
                    break;
                case 7:
                case 8:
                    w = log(w);
                    break;
                default:
                    break;
            }
            if (!(fabs(w - y[o]) <= 1e-5 + 1e-4 * fabs(w))) {
                fprintf(stderr, "%s iter %d rank %d output %lld: want %g got %g\n", ops[op].name,
                        iter, rank, (long long)o, w, y[o]);
                exit(1);
            }
        }
        free(acc);
        free(mx);
        call_free(&c);
        free(x);
    }
}

static void test_argmax(void) {
    float x[] = {1, 3, 3, 0, 2, 2, 5, 5, 1, 0, 0, 9};  // [2, 3, 2]
    int64_t dims[] = {2, 3, 2};
    struct opcall c;
    call_init(&c, "ArgMax", 13);
    call_attr_i(&c, "axis", 1);
    call_attr_i(&c, "keepdims", 0);
    call_input(&c, 0, QS_DTYPE_F32, 3, dims, x);
    ASSERT_OK(call_run(&c, &qs__opdef_argmax, NULL));
    ASSERT_EQ(c.out_v.rank, 2);
    const int64_t *y = c.out_v.data;
    // batch 0: columns {1,3,2} and {3,0,2}; batch 1: {5,1,0} and {5,0,9}
    ASSERT_EQ(y[0], 1);
    ASSERT_EQ(y[1], 0);
    ASSERT_EQ(y[2], 0);
    ASSERT_EQ(y[3], 2);
    call_free(&c);
    float z[] = {4, 1, 4, 4};
    int64_t zd[] = {4};
    call_init(&c, "ArgMax", 13);
    call_attr_i(&c, "select_last_index", 1);
    call_input(&c, 0, QS_DTYPE_F32, 1, zd, z);
    ASSERT_OK(call_run(&c, &qs__opdef_argmax, NULL));
    ASSERT_EQ(((int64_t *)c.out_v.data)[0], 3);
    call_free(&c);
    call_init(&c, "ArgMin", 13);
    call_input(&c, 0, QS_DTYPE_F32, 1, zd, z);
    ASSERT_OK(call_run(&c, &qs__opdef_argmin, NULL));
    ASSERT_EQ(((int64_t *)c.out_v.data)[0], 1);
    call_free(&c);
}

static void test_unary(void) {
    float x[] = {-3.5f, -1.0f, -0.25f, 0.0f, 0.5f, 2.5f, 7.0f, -INFINITY, INFINITY};
    int64_t dims[] = {9};
    struct opcall c;
    // HardSwish = x * clamp(x/6 + 0.5, 0, 1)
    call_init(&c, "HardSwish", 14);
    call_input(&c, 0, QS_DTYPE_F32, 1, dims, x);
    ASSERT_OK(call_run(&c, &qs__opdef_hardswish, NULL));
    for (int i = 0; i < 7; i++) {
        float v = x[i] / 6 + 0.5f, w = x[i] * (v < 0 ? 0 : v > 1 ? 1 : v);
        ASSERT_TRUE(fabsf(((float *)c.out_v.data)[i] - w) <= 1e-6f);
    }
    call_free(&c);
    // Gelu tanh approximation against the formula in double.
    call_init(&c, "Gelu", 20);
    struct qs_attr *a = &c.attrs[c.node.n_attrs++];
    a->name = "approximate";
    a->type = QS_ATTR_STRING;
    a->s = "tanh";
    call_input(&c, 0, QS_DTYPE_F32, 1, dims, x);
    ASSERT_OK(call_run(&c, &qs__opdef_gelu, NULL));
    for (int i = 0; i < 7; i++) {
        double v = x[i], w = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
        ASSERT_TRUE(fabs(((float *)c.out_v.data)[i] - w) <= 1e-6 + 1e-5 * fabs(w));
    }
    call_free(&c);
    // LeakyRelu alpha.
    call_init(&c, "LeakyRelu", 16);
    call_attr_f(&c, "alpha", 0.1f);
    call_input(&c, 0, QS_DTYPE_F32, 1, dims, x);
    ASSERT_OK(call_run(&c, &qs__opdef_leakyrelu, NULL));
    ASSERT_TRUE(((float *)c.out_v.data)[0] == -3.5f * 0.1f);
    ASSERT_TRUE(((float *)c.out_v.data)[6] == 7.0f);
    call_free(&c);
    // Softplus is stable at the extremes.
    call_init(&c, "Softplus", 1);
    call_input(&c, 0, QS_DTYPE_F32, 1, dims, x);
    ASSERT_OK(call_run(&c, &qs__opdef_softplus, NULL));
    ASSERT_TRUE(((float *)c.out_v.data)[7] == 0.0f);
    ASSERT_TRUE(isinf(((float *)c.out_v.data)[8]));
    call_free(&c);
}

// Opset 18 takes ReduceMean's axes as an input; empty axes with noop_with_empty_axes keep
// the input; variadic Mean over three broadcast inputs; Gelu without approximation.
static void test_opset18(void) {
    float x[24];
    for (int i = 0; i < 24; i++) x[i] = (float)i;
    int64_t dims[] = {2, 3, 4}, ax[] = {-1}, adims[] = {1}, none[] = {0};
    struct opcall c;
    call_init(&c, "ReduceMean", 18);
    call_input(&c, 0, QS_DTYPE_F32, 3, dims, x);
    call_input(&c, 1, QS_DTYPE_I64, 1, adims, ax);
    call_attr_i(&c, "keepdims", 0);
    ASSERT_OK(call_run(&c, &qs__opdef_reducemean, NULL));
    ASSERT_EQ(c.out_v.rank, 2);
    ASSERT_EQ(c.out_v.numel, 6);
    for (int i = 0; i < 6; i++) ASSERT_TRUE(((float *)c.out_v.data)[i] == 4.0f * (float)i + 1.5f);
    call_free(&c);

    call_init(&c, "ReduceMax", 18);
    call_input(&c, 0, QS_DTYPE_F32, 3, dims, x);
    call_input(&c, 1, QS_DTYPE_I64, 1, none, ax);
    call_attr_i(&c, "noop_with_empty_axes", 1);
    ASSERT_OK(call_run(&c, &qs__opdef_reducemax, NULL));
    ASSERT_EQ(c.out_v.rank, 3);
    ASSERT_TRUE(memcmp(c.out_v.data, x, sizeof x) == 0);
    call_free(&c);

    // Axes that are not constant at inference time are refused, not guessed.
    call_init(&c, "ReduceMax", 18);
    call_input(&c, 0, QS_DTYPE_F32, 3, dims, x);
    call_input(&c, 1, QS_DTYPE_I64, 1, adims, ax);
    c.in_v[1].is_const = false;
    ASSERT_EQ(call_run(&c, &qs__opdef_reducemax, NULL), QS_STATUS_UNSUPPORTED);

    float a[] = {1, 2, 3, 4, 5, 6}, b[] = {10, 20, 30}, s = 100;
    int64_t da[] = {2, 3}, db[] = {3};
    call_init(&c, "Mean", 13);
    call_input(&c, 0, QS_DTYPE_F32, 2, da, a);
    call_input(&c, 1, QS_DTYPE_F32, 1, db, b);
    call_input(&c, 2, QS_DTYPE_F32, 0, NULL, &s);
    ASSERT_OK(call_run(&c, &qs__opdef_mean, NULL));
    ASSERT_EQ(c.out_v.numel, 6);
    for (int i = 0; i < 6; i++) {
        float want = (a[i] + b[i % 3] + s) / 3;
        ASSERT_TRUE(fabsf(((float *)c.out_v.data)[i] - want) <= 1e-5f);
    }
    call_free(&c);

    call_init(&c, "Gelu", 20);
    call_input(&c, 0, QS_DTYPE_F32, 2, da, a);
    ASSERT_OK(call_run(&c, &qs__opdef_gelu, NULL));
    for (int i = 0; i < 6; i++) {
        double v = a[i], want = 0.5 * v * (1 + erf(v / sqrt(2.0)));
        ASSERT_TRUE(fabs(((float *)c.out_v.data)[i] - want) <= 1e-6 * fabs(want));
    }
    call_free(&c);
}

int main(void) {
    test_plan();
    test_binary_f32("Add", &qs__opdef_add, r_add, false, false);
    test_binary_f32("Sub", &qs__opdef_sub, r_sub, false, false);
    test_binary_f32("Mul", &qs__opdef_mul, r_mul, false, false);
    test_binary_f32("Div", &qs__opdef_div, r_div, false, false);
    test_binary_f32("Min", &qs__opdef_min, r_min, false, false);
    test_binary_f32("Max", &qs__opdef_max, r_max, false, false);
    test_binary_f32("PRelu", &qs__opdef_prelu, r_prelu, false, true);
    test_binary_f32("Pow", &qs__opdef_pow, r_pow, true, false);
    test_where();
    test_compare();
    test_threads();
    test_int_edges();
    test_f16();
    test_cast();
    test_reduce();
    test_argmax();
    test_unary();
    test_opset18();
    printf("elementwise: all passed\n");
    return 0;
}
