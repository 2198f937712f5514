// Shape and data-movement ops against naive references: the strided copy (merged dims,
// memcpy runs, tiled transposes, threads) against an element loop on random layouts,
// Transpose/Slice/Pad/Expand/Tile/Resize against per-element index arithmetic, Concat and
// Split round trips, index errors, aliasing no-ops, constant-at-inference ops, and the
// errors for shape inputs that are not constant.
#include "ir/ops/shape-impl.h"
#include "test.h"

#include <math.h>

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static void fill_random(void *p, size_t bytes) {
    unsigned char *b = p;
    for (size_t i = 0; i < bytes; i++) b[i] = (unsigned char)rnd();
}

static const struct qs_op_def *def_of(const char *name) {
    enum qs_op op = qs__op_lookup("", name);
    ASSERT_TRUE(op != QS_OP_UNKNOWN);
    const struct qs_op_def *d = qs__op_def(op);
    ASSERT_TRUE(d != NULL);
    return d;
}

// ---------------------------------------------------------------------------------------
// Running one op outside a graph.

#define MAX_IO 6

struct call {
    qs_node node;
    struct qs_attr attrs[8];
    qs_tensor tin[MAX_IO];
    qs_tensor *tin_p[MAX_IO];
    char names[MAX_IO][8];
    qs_view in_v[MAX_IO], out_v[MAX_IO];
    qs_view *in[MAX_IO], *out[MAX_IO];
    int n_out;
    void *consts[8];
    int n_consts;
    struct qs_diag diag;
};

static void *alloc_const(qs_kctx *k, size_t bytes) {
    struct call *c = k->alloc_ctx;
    ASSERT_TRUE(c->n_consts < 8);
    return c->consts[c->n_consts++] = qs__aligned_alloc(bytes ? bytes : 1);
}

static void call_init(struct call *c, const char *op_type, int opset, int n_out) {
    memset(c, 0, sizeof *c);
    c->node.name = (char *)"n";
    c->node.op_type = (char *)op_type;
    c->node.domain = (char *)"";
    c->node.opset = opset;
    c->node.attrs = c->attrs;
    c->node.inputs = c->tin_p;
    c->n_out = n_out;
    c->node.n_outputs = n_out;
    for (int i = 0; i < n_out; i++) c->out[i] = &c->out_v[i];
}

static struct qs_attr *attr_new(struct call *c, const char *name, enum qs_attr_type t) {
    ASSERT_TRUE(c->node.n_attrs < 8);
    struct qs_attr *a = &c->attrs[c->node.n_attrs++];
    a->name = name;
    a->type = t;
    return a;
}
static void attr_i(struct call *c, const char *name, int64_t v) {
    attr_new(c, name, QS_ATTR_INT)->i = v;
}
static void attr_f(struct call *c, const char *name, float v) {
    attr_new(c, name, QS_ATTR_FLOAT)->f = v;
}
static void attr_s(struct call *c, const char *name, const char *v) {
    struct qs_attr *a = attr_new(c, name, QS_ATTR_STRING);
    a->s = v;
    a->s_len = strlen(v);
}
static void attr_ints(struct call *c, const char *name, int n, int64_t *v) {
    struct qs_attr *a = attr_new(c, name, QS_ATTR_INTS);
    a->n = n;
    a->ints = v;
}

static void input(struct call *c, int i, enum qs_dtype dt, int rank, const int64_t *dims,
                  void *data, bool is_const) {
    qs__view_set_shape(&c->in_v[i], dt, rank, dims);
    c->in_v[i].data = data;
    c->in_v[i].is_const = is_const;
    c->in[i] = &c->in_v[i];
    snprintf(c->names[i], sizeof c->names[i], "in%d", i);
    c->tin[i].name = c->names[i];
    c->tin_p[i] = &c->tin[i];
    if (i + 1 > c->node.n_inputs) c->node.n_inputs = i + 1;
}
static void input_i64(struct call *c, int i, int n, int64_t *v) {
    int64_t d = n;
    input(c, i, QS_DTYPE_I64, 1, &d, v, true);
}

static qs_kctx kctx(struct call *c, qs_pool_t *pool) {
    qs_kctx k = {
        .node = &c->node, .n_in = c->node.n_inputs, .n_out = c->n_out, .in = c->in,
        .out = c->out, .diag = &c->diag, .pool = pool, .alloc_const = alloc_const,
        .alloc_ctx = c,
    };
    return k;
}

// Infers, allocates the outputs (unless constant), prepares and runs.
static enum qs_status call_run(struct call *c, qs_pool_t *pool) {
    const struct qs_op_def *def = def_of(c->node.op_type);
    qs_kctx k = kctx(c, pool);
    c->diag.msg[0] = 0;
    enum qs_status st = def->infer(&k);
    if (st != QS_STATUS_OK) return st;
    for (int i = 0; i < c->n_out; i++) {
        if (c->out_v[i].is_const) continue;
        c->out_v[i].data = qs__aligned_alloc(qs__view_bytes(&c->out_v[i]) + 1);
        ASSERT_TRUE(c->out_v[i].data != NULL);
    }
    size_t scratch = 0;
    if (def->prepare && (st = def->prepare(&k, &scratch)) != QS_STATUS_OK) goto out;
    if (scratch) k.scratch = qs__aligned_alloc(scratch);
    st = def->run(&k);
    qs__aligned_free(k.scratch);
out:
    if (def->release && k.state) def->release(k.state);
    return st;
}

static void call_free(struct call *c) {
    for (int i = 0; i < c->n_out; i++)
        if (!c->out_v[i].is_const) qs__aligned_free(c->out_v[i].data);
    for (int i = 0; i < c->n_consts; i++) qs__aligned_free(c->consts[i]);
}

// Element at a multi-index of a contiguous tensor.
static int64_t offset_of(int rank, const int64_t *dims, const int64_t *idx) {
    int64_t off = 0;
    for (int i = 0; i < rank; i++) off = off * dims[i] + idx[i];
    return off;
}
static bool next_index(int rank, const int64_t *dims, int64_t *idx) {
    for (int i = rank - 1; i >= 0; i--) {
        if (++idx[i] < dims[i]) return true;
        idx[i] = 0;
    }
    return false;
}

// ---------------------------------------------------------------------------------------
// Strided copy against the element loop.

static void check_copy(const qs_copy_desc *d, qs_pool_t *pool, int64_t src_elems,
                       int64_t src_origin, int64_t dst_elems) {
    size_t es = d->esize;
    char *src = qs__aligned_alloc((size_t)src_elems * es);
    char *a = qs__aligned_alloc((size_t)dst_elems * es + 16);
    char *b = qs__aligned_alloc((size_t)dst_elems * es + 16);
    fill_random(src, (size_t)src_elems * es);
    memset(a, 0xA5, (size_t)dst_elems * es + 16);
    memset(b, 0xA5, (size_t)dst_elems * es + 16);
    qs__copy_strided(d, a, src + src_origin * (int64_t)es, pool);
    qs__copy_strided_ref(d, b, src + src_origin * (int64_t)es);
    if (memcmp(a, b, (size_t)dst_elems * es + 16) != 0) {
        fprintf(stderr, "strided copy differs: rank %d esize %zu\n", d->rank, es);
        for (int i = 0; i < d->rank; i++)
            fprintf(stderr, "  dim %lld src %lld dst %lld\n", (long long)d->dims[i],
                    (long long)d->src_stride[i], (long long)d->dst_stride[i]);
        exit(1);
    }
    qs__aligned_free(src);
    qs__aligned_free(a);
    qs__aligned_free(b);
}

// A random view of a random source: permuted, reversed, broadcast and sliced axes.
static void random_copy(qs_pool_t *pool, size_t es, int rank, int64_t max_dim) {
    qs_copy_desc d = {.rank = rank, .esize = es};
    int64_t sdims[QS_COPY_MAX_DIMS], sstr[QS_COPY_MAX_DIMS];
    for (int i = 0; i < rank; i++) sdims[i] = 1 + rnd() % (uint32_t)max_dim;
    qs__contig_strides(rank, sdims, sstr);
    int perm[QS_COPY_MAX_DIMS];
    for (int i = 0; i < rank; i++) perm[i] = i;
    for (int i = rank - 1; i > 0; i--) {
        int j = (int)(rnd() % (uint32_t)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int64_t origin = 0;
    for (int i = 0; i < rank; i++) {
        int a = perm[i];
        int64_t n = sdims[a], st = sstr[a];
        switch (rnd() % 5) {
        case 0: d.dims[i] = n; d.src_stride[i] = -st; origin += (n - 1) * st; break;
        case 1: d.dims[i] = 1 + rnd() % 4; d.src_stride[i] = 0; break;
        case 2: d.dims[i] = (n + 1) / 2; d.src_stride[i] = 2 * st; break;
        default: d.dims[i] = n; d.src_stride[i] = st;
        }
    }
    qs__contig_strides(rank, d.dims, d.dst_stride);
    check_copy(&d, pool, qs__numel(rank, sdims), origin, qs__numel(rank, d.dims));
}

static void test_copy_strided(qs_pool_t *pool) {
    const size_t sizes[] = {1, 2, 3, 4, 8, 16};
    for (int it = 0; it < 600; it++)
        random_copy(it % 2 ? pool : NULL, sizes[it % 6], 1 + (int)(rnd() % 6), 6);
    // Large cases: tiled transposes and threaded splits.
    for (int it = 0; it < 8; it++) random_copy(pool, it % 2 ? 4 : 1, 3, 90);
    int64_t big[] = {300, 517};
    qs_copy_desc t = {.rank = 2, .esize = 4, .dims = {517, 300}, .src_stride = {1, 517}};
    qs__contig_strides(2, t.dims, t.dst_stride);
    check_copy(&t, pool, qs__numel(2, big), 0, qs__numel(2, big));
    // Strided destination (Pad-like) and an empty dim.
    qs_copy_desc p = {.rank = 2, .esize = 8, .dims = {5, 7}, .src_stride = {7, 1},
                      .dst_stride = {9, 1}};
    check_copy(&p, NULL, 35, 0, 45);
    qs_copy_desc e = {.rank = 2, .esize = 4, .dims = {0, 7}, .src_stride = {7, 1},
                      .dst_stride = {7, 1}};
    check_copy(&e, NULL, 1, 0, 1);
}

// ---------------------------------------------------------------------------------------
// Transpose

static void test_transpose(qs_pool_t *pool) {
    int64_t dims[4] = {2, 3, 4, 5};
    const enum qs_dtype dts[] = {QS_DTYPE_U8, QS_DTYPE_F32, QS_DTYPE_I64, QS_DTYPE_F16};
    int64_t perms[24][4];
    int np = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            for (int c2 = 0; c2 < 4; c2++)
                for (int d = 0; d < 4; d++)
                    if (a != b && a != c2 && a != d && b != c2 && b != d && c2 != d) {
                        int64_t *p = perms[np++];
                        p[0] = a, p[1] = b, p[2] = c2, p[3] = d;
                    }
    for (int t = 0; t < 4; t++) {
        size_t es = qs_dtype_size(dts[t]);
        char x[120 * 8];
        fill_random(x, sizeof x);
        for (int i = 0; i < np; i++) {
            struct call c;
            call_init(&c, "Transpose", 13, 1);
            input(&c, 0, dts[t], 4, dims, x, false);
            attr_ints(&c, "perm", 4, perms[i]);
            ASSERT_OK(call_run(&c, pool));
            int64_t idx[4] = {0}, od[4], oi[4];
            for (int k = 0; k < 4; k++) od[k] = dims[perms[i][k]];
            do {
                for (int k = 0; k < 4; k++) oi[k] = idx[perms[i][k]];
                ASSERT_TRUE(memcmp((char *)c.out_v[0].data + offset_of(4, od, oi) * (int64_t)es,
                                   x + offset_of(4, dims, idx) * (int64_t)es, es) == 0);
            } while (next_index(4, dims, idx));
            call_free(&c);
        }
    }
    // Default perm reverses the axes.
    struct call c;
    call_init(&c, "Transpose", 13, 1);
    float x[6] = {0, 1, 2, 3, 4, 5};
    int64_t d2[2] = {2, 3};
    input(&c, 0, QS_DTYPE_F32, 2, d2, x, false);
    ASSERT_OK(call_run(&c, pool));
    ASSERT_EQ(c.out_v[0].dims[0], 3);
    const float want[6] = {0, 3, 1, 4, 2, 5};
    ASSERT_TRUE(memcmp(c.out_v[0].data, want, sizeof want) == 0);
    call_free(&c);
}

// ---------------------------------------------------------------------------------------
// Slice

// numpy slicing of one axis: the kept source indices.
static int64_t np_slice(int64_t n, int64_t start, int64_t stop, int64_t step, int64_t *out) {
    if (start < 0) start += n;
    if (stop < 0) stop += n;
    if (step > 0) {
        start = start < 0 ? 0 : start > n ? n : start;
        stop = stop < 0 ? 0 : stop > n ? n : stop;
    } else {
        start = start < 0 ? -1 : start > n - 1 ? n - 1 : start;
        stop = stop < -1 ? -1 : stop > n - 1 ? n - 1 : stop;
    }
    int64_t k = 0;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out[k++] = i;
    return k;
}

static void test_slice(qs_pool_t *pool) {
    int64_t dims[3] = {6, 5, 7};
    int32_t x[210];
    for (int i = 0; i < 210; i++) x[i] = i;
    struct {
        int64_t starts[3], ends[3], axes[3], steps[3];
        int n;
    } cases[] = {
        {{1, 0, 2}, {INT64_MAX, -1, 6}, {0, 1, 2}, {1, 1, 2}, 3},
        {{-1, 4}, {INT64_MIN, -100}, {0, -1}, {-1, -3}, 2},
        {{100}, {200}, {1}, {1}, 1},
        {{-100, 3}, {100, 3}, {2, 0}, {3, 1}, 2},
        {{5, 2, 6}, {-8, 0, 0}, {0, 1, 2}, {-2, -1, -4}, 3},
    };
    for (size_t ci = 0; ci < QS_COUNTOF(cases); ci++) {
        struct call c;
        call_init(&c, "Slice", 13, 1);
        input(&c, 0, QS_DTYPE_I32, 3, dims, x, false);
        input_i64(&c, 1, cases[ci].n, cases[ci].starts);
        input_i64(&c, 2, cases[ci].n, cases[ci].ends);
        input_i64(&c, 3, cases[ci].n, cases[ci].axes);
        input_i64(&c, 4, cases[ci].n, cases[ci].steps);
        ASSERT_OK(call_run(&c, pool));
        int64_t keep[3][8], kn[3];
        for (int a = 0; a < 3; a++) kn[a] = np_slice(dims[a], 0, dims[a], 1, keep[a]);
        for (int i = 0; i < cases[ci].n; i++) {
            int a = (int)(cases[ci].axes[i] < 0 ? cases[ci].axes[i] + 3 : cases[ci].axes[i]);
            kn[a] = np_slice(dims[a], cases[ci].starts[i], cases[ci].ends[i],
                             cases[ci].steps[i], keep[a]);
        }
        for (int a = 0; a < 3; a++) ASSERT_EQ(c.out_v[0].dims[a], kn[a]);
        const int32_t *y = c.out_v[0].data;
        int64_t n = 0;
        for (int64_t i = 0; i < kn[0]; i++)
            for (int64_t j = 0; j < kn[1]; j++)
                for (int64_t k = 0; k < kn[2]; k++)
                    ASSERT_EQ(y[n++], (keep[0][i] * 5 + keep[1][j]) * 7 + keep[2][k]);
        call_free(&c);
    }
    // Opset 9: attributes.
    struct call c;
    call_init(&c, "Slice", 9, 1);
    input(&c, 0, QS_DTYPE_I32, 3, dims, x, false);
    int64_t st[1] = {1}, en[1] = {3}, ax[1] = {2};
    attr_ints(&c, "starts", 1, st);
    attr_ints(&c, "ends", 1, en);
    attr_ints(&c, "axes", 1, ax);
    ASSERT_OK(call_run(&c, pool));
    ASSERT_EQ(c.out_v[0].dims[2], 2);
    ASSERT_EQ(((int32_t *)c.out_v[0].data)[3], 9);
    call_free(&c);
    // Starts not constant: unsupported, naming the input.
    call_init(&c, "Slice", 13, 1);
    input(&c, 0, QS_DTYPE_I32, 3, dims, x, false);
    input(&c, 1, QS_DTYPE_I64, 1, (int64_t[]){1}, st, false);
    input_i64(&c, 2, 1, en);
    ASSERT_EQ(call_run(&c, pool), QS_STATUS_UNSUPPORTED);
    ASSERT_STR_CONTAINS(c.diag.msg, "in1");
    call_free(&c);
}

// ---------------------------------------------------------------------------------------
// Pad

static int64_t np_pad_index(int64_t i, int64_t n, const char *mode) {
    if (i >= 0 && i < n) return i;
    if (!strcmp(mode, "constant")) return -1;
    if (!strcmp(mode, "edge")) return i < 0 ? 0 : n - 1;
    if (!strcmp(mode, "wrap")) return ((i % n) + n) % n;
    while (i < 0 || i >= n) {  // reflect, one bounce at a time
        if (n == 1) return 0;
        if (i < 0) i = -i;
        if (i >= n) i = 2 * (n - 1) - i;
    }
    return i;
}

static void test_pad(qs_pool_t *pool) {
    const char *modes[] = {"constant", "reflect", "edge", "wrap"};
    for (int it = 0; it < 120; it++) {
        const char *mode = modes[it % 4];
        int rank = 1 + (int)(rnd() % 4);
        int64_t dims[4], pads[8];
        for (int a = 0; a < rank; a++) dims[a] = 1 + rnd() % 4;
        // Often the trailing axes are not padded (a channel Pad of NCHW): the op copies
        // them whole.
        const int unpadded = rnd() % 2 ? (int)(rnd() % (uint32_t)rank) : 0;
        for (int a = 0; a < rank; a++) {
            int64_t lim = !strcmp(mode, "reflect") ? dims[a] - 1 : 4;
            pads[a] = rnd() % (uint32_t)(lim + 1);
            pads[rank + a] = rnd() % (uint32_t)(lim + 1);
            if (strcmp(mode, "reflect") != 0 && strcmp(mode, "wrap") != 0 && rnd() % 3 == 0)
                pads[a] = -(int64_t)(rnd() % (uint32_t)dims[a]);  // crop
            if (a >= rank - unpadded) pads[a] = pads[rank + a] = 0;
        }
        int64_t n = qs__numel(rank, dims);
        uint16_t x[256];
        fill_random(x, sizeof x);
        uint16_t value = 0x1234;
        struct call c;
        call_init(&c, "Pad", 13, 1);
        attr_s(&c, "mode", mode);
        input(&c, 0, QS_DTYPE_U16, rank, dims, x, false);
        input_i64(&c, 1, 2 * rank, pads);
        input(&c, 2, QS_DTYPE_U16, 0, NULL, &value, true);
        ASSERT_OK(call_run(&c, it % 2 ? pool : NULL));
        const qs_view *y = &c.out_v[0];
        int64_t idx[4] = {0}, src[4];
        (void)n;
        if (y->numel > 0) {
            int64_t o = 0;
            do {
                bool fill = false;
                for (int a = 0; a < rank; a++) {
                    // Crop first (negative pads), then pad the kept range.
                    int64_t lo = QS_MAX(0, -pads[a]);
                    int64_t kept = dims[a] - lo - QS_MAX(0, -pads[rank + a]);
                    int64_t i = np_pad_index(idx[a] - QS_MAX(0, pads[a]), kept, mode);
                    if (i < 0) fill = true;
                    src[a] = lo + i;
                }
                uint16_t want = fill ? value : x[offset_of(rank, dims, src)];
                ASSERT_EQ(((uint16_t *)y->data)[o], want);
                o++;
            } while (next_index(rank, y->dims, idx));
        }
        call_free(&c);
    }
    // Opset 2 attributes with a float value; opset 18 axes.
    struct call c;
    float x[4] = {1, 2, 3, 4};
    int64_t d[2] = {2, 2}, pads[4] = {0, 1, 0, 0};
    call_init(&c, "Pad", 7, 1);
    attr_ints(&c, "pads", 4, pads);
    attr_f(&c, "value", 9.5f);
    input(&c, 0, QS_DTYPE_F32, 2, d, x, false);
    ASSERT_OK(call_run(&c, pool));
    const float w7[6] = {9.5f, 1, 2, 9.5f, 3, 4};
    ASSERT_TRUE(memcmp(c.out_v[0].data, w7, sizeof w7) == 0);
    call_free(&c);
    call_init(&c, "Pad", 18, 1);
    attr_s(&c, "mode", "edge");
    int64_t p18[2] = {1, 2}, ax[1] = {-2};
    input(&c, 0, QS_DTYPE_F32, 2, d, x, false);
    input_i64(&c, 1, 2, p18);
    input_i64(&c, 3, 1, ax);
    c.node.n_inputs = 4;  // input 2 (constant_value) left empty
    ASSERT_OK(call_run(&c, pool));
    ASSERT_EQ(c.out_v[0].dims[0], 5);
    const float w18[10] = {1, 2, 1, 2, 3, 4, 3, 4, 3, 4};
    ASSERT_TRUE(memcmp(c.out_v[0].data, w18, sizeof w18) == 0);
    call_free(&c);
}

// ---------------------------------------------------------------------------------------
// Concat / Split

static void test_concat_split(qs_pool_t *pool) {
    for (int axis = -3; axis < 3; axis++) {
        int a = axis < 0 ? axis + 3 : axis;
        int64_t d0[3] = {3, 4, 5}, d1[3] = {3, 4, 5}, d2[3] = {3, 4, 5};
        d1[a] = 2;
        d2[a] = 0;  // an empty piece
        float x0[60], x1[60];
        for (int i = 0; i < 60; i++) x0[i] = (float)i, x1[i] = (float)(1000 + i);
        struct call c;
        call_init(&c, "Concat", 13, 1);
        attr_i(&c, "axis", axis);
        input(&c, 0, QS_DTYPE_F32, 3, d0, x0, false);
        input(&c, 1, QS_DTYPE_F32, 3, d2, x1, false);
        input(&c, 2, QS_DTYPE_F32, 3, d1, x1, false);
        ASSERT_OK(call_run(&c, pool));
        ASSERT_EQ(c.out_v[0].dims[a], d0[a] + d1[a]);
        const float *y = c.out_v[0].data;
        int64_t idx[3] = {0};
        int64_t o = 0;
        do {
            int64_t src[3] = {idx[0], idx[1], idx[2]};
            float want;
            if (idx[a] < d0[a]) {
                want = x0[offset_of(3, d0, src)];
            } else {
                src[a] -= d0[a];
                want = x1[offset_of(3, d1, src)];
            }
            ASSERT_TRUE(y[o++] == want);
        } while (next_index(3, c.out_v[0].dims, idx));
        // Split it back (opset 13 split input, then opset 11 attribute).
        for (int opset = 11; opset <= 13; opset += 2) {
            struct call s;
            call_init(&s, "Split", opset, 3);
            attr_i(&s, "axis", axis);
            input(&s, 0, QS_DTYPE_F32, 3, c.out_v[0].dims, c.out_v[0].data, false);
            int64_t sp[3] = {d0[a], 0, d1[a]};
            if (opset == 13) input_i64(&s, 1, 3, sp);
            else attr_ints(&s, "split", 3, sp);
            ASSERT_OK(call_run(&s, pool));
            ASSERT_TRUE(memcmp(s.out_v[0].data, x0, 60 * sizeof(float)) == 0);
            ASSERT_EQ(s.out_v[1].numel, 0);
            ASSERT_TRUE(memcmp(s.out_v[2].data, x1, (size_t)qs__numel(3, d1) * 4) == 0);
            call_free(&s);
        }
        call_free(&c);
    }
    // Opset 18 num_outputs with an uneven last chunk: 7 -> 3, 3, 1.
    struct call s;
    int32_t x[7] = {0, 1, 2, 3, 4, 5, 6};
    int64_t d = 7;
    call_init(&s, "Split", 18, 3);
    attr_i(&s, "num_outputs", 3);
    input(&s, 0, QS_DTYPE_I32, 1, &d, x, false);
    ASSERT_OK(call_run(&s, pool));
    ASSERT_EQ(s.out_v[0].dims[0], 3);
    ASSERT_EQ(s.out_v[2].dims[0], 1);
    ASSERT_EQ(((int32_t *)s.out_v[2].data)[0], 6);
    call_free(&s);
}

// ---------------------------------------------------------------------------------------
// Gather and friends

static void test_gather(qs_pool_t *pool) {
    int64_t dims[3] = {2, 5, 3};
    double x[30];
    for (int i = 0; i < 30; i++) x[i] = i;
    int32_t idx32[4] = {4, -1, 0, 2};
    int64_t idx64[4] = {4, -1, 0, 2}, id[2] = {2, 2};
    for (int w = 0; w < 2; w++) {
        struct call c;
        call_init(&c, "Gather", 13, 1);
        attr_i(&c, "axis", -2);
        input(&c, 0, QS_DTYPE_F64, 3, dims, x, false);
        input(&c, 1, w ? QS_DTYPE_I64 : QS_DTYPE_I32, 2, id, w ? (void *)idx64 : idx32, false);
        ASSERT_OK(call_run(&c, pool));
        ASSERT_EQ(c.out_v[0].rank, 4);
        const double *y = c.out_v[0].data;
        for (int b = 0; b < 2; b++)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 3; k++) {
                    int64_t v = idx64[j] < 0 ? idx64[j] + 5 : idx64[j];
                    ASSERT_TRUE(y[(b * 4 + j) * 3 + k] == x[(b * 5 + v) * 3 + k]);
                }
        call_free(&c);
    }
    // Out of range at run: INVALID_ARG with a message.
    struct call c;
    int64_t bad[2] = {1, 5}, nb = 2;
    call_init(&c, "Gather", 13, 1);
    attr_i(&c, "axis", 1);
    input(&c, 0, QS_DTYPE_F64, 3, dims, x, false);
    input(&c, 1, QS_DTYPE_I64, 1, &nb, bad, false);
    ASSERT_EQ(call_run(&c, pool), QS_STATUS_INVALID_ARG);
    ASSERT_STR_CONTAINS(c.diag.msg, "out of range");
    call_free(&c);
    // Shape -> Gather on int64 constants (the PyTorch export pattern), scalar index.
    int64_t shp[4] = {1, 3, 224, 224}, four = 4, two = 2;
    call_init(&c, "Gather", 13, 1);
    input(&c, 0, QS_DTYPE_I64, 1, &four, shp, true);
    input(&c, 1, QS_DTYPE_I64, 0, NULL, &two, true);
    ASSERT_OK(call_run(&c, pool));
    ASSERT_EQ(c.out_v[0].rank, 0);
    ASSERT_EQ(*(int64_t *)c.out_v[0].data, 224);
    call_free(&c);

    // GatherElements / ScatterElements (ONNX's examples).
    float data[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    int64_t d33[2] = {3, 3}, d23[2] = {2, 3};
    int64_t ge[6] = {1, 2, 0, 2, 0, 0};
    call_init(&c, "GatherElements", 13, 1);
    input(&c, 0, QS_DTYPE_F32, 2, d33, data, false);
    input(&c, 1, QS_DTYPE_I64, 2, d23, ge, false);
    ASSERT_OK(call_run(&c, pool));
    const float gw[6] = {4, 8, 3, 7, 2, 3};
    ASSERT_TRUE(memcmp(c.out_v[0].data, gw, sizeof gw) == 0);
    call_free(&c);
    float zeros[9] = {0}, upd[6] = {1.0f, 1.1f, 1.2f, 2.0f, 2.1f, 2.2f};
    int64_t si[6] = {1, 0, 2, 0, 2, 1};
    call_init(&c, "ScatterElements", 16, 1);
    input(&c, 0, QS_DTYPE_F32, 2, d33, zeros, false);
    input(&c, 1, QS_DTYPE_I64, 2, d23, si, false);
    input(&c, 2, QS_DTYPE_F32, 2, d23, upd, false);
    ASSERT_OK(call_run(&c, pool));
    const float sw[9] = {2.0f, 1.1f, 0, 1.0f, 0, 2.2f, 0, 2.1f, 1.2f};
    ASSERT_TRUE(memcmp(c.out_v[0].data, sw, sizeof sw) == 0);
    call_free(&c);
}

// ---------------------------------------------------------------------------------------
// Reshape family: shapes, aliasing, opset-dependent axes.

static void test_reshape_family(qs_pool_t *pool) {
    float x[24];
    for (int i = 0; i < 24; i++) x[i] = (float)i;
    int64_t dims[3] = {2, 3, 4};
    struct {
        int64_t shape[4];
        int n, allowzero;
        int64_t want[4];
        int rank;
        enum qs_status st;
    } cases[] = {
        {{0, -1}, 2, 0, {2, 12}, 2, QS_STATUS_OK},
        {{-1, 0, 2}, 3, 0, {4, 3, 2}, 3, QS_STATUS_OK},
        {{4, 3, 2}, 3, 1, {4, 3, 2}, 3, QS_STATUS_OK},
        {{0, 4}, 2, 1, {0}, 0, QS_STATUS_PARSE},
        {{5, -1}, 2, 0, {0}, 0, QS_STATUS_PARSE},
        {{-1, -1}, 2, 0, {0}, 0, QS_STATUS_PARSE},
    };
    for (size_t i = 0; i < QS_COUNTOF(cases); i++) {
        struct call c;
        call_init(&c, "Reshape", 14, 1);
        if (cases[i].allowzero) attr_i(&c, "allowzero", 1);
        input(&c, 0, QS_DTYPE_F32, 3, dims, x, false);
        input_i64(&c, 1, cases[i].n, cases[i].shape);
        ASSERT_EQ(call_run(&c, pool), cases[i].st);
        if (cases[i].st == QS_STATUS_OK) {
            ASSERT_EQ(c.out_v[0].rank, cases[i].rank);
            for (int d = 0; d < cases[i].rank; d++)
                ASSERT_EQ(c.out_v[0].dims[d], cases[i].want[d]);
            ASSERT_TRUE(memcmp(c.out_v[0].data, x, sizeof x) == 0);
        }
        call_free(&c);
    }
    // Aliased: run leaves the shared buffer alone.
    const struct qs_op_def *rd = def_of("Reshape");
    ASSERT_TRUE(rd->alias_input0);
    struct call c;
    int64_t shp[1] = {24};
    call_init(&c, "Reshape", 13, 1);
    input(&c, 0, QS_DTYPE_F32, 3, dims, x, false);
    input_i64(&c, 1, 1, shp);
    qs_kctx k = kctx(&c, pool);
    ASSERT_OK(rd->infer(&k));
    c.out_v[0].data = x;
    ASSERT_OK(rd->run(&k));
    ASSERT_TRUE(x[23] == 23.0f);
    ASSERT_TRUE(def_of("Flatten")->alias_input0 && def_of("Squeeze")->alias_input0 &&
                def_of("Unsqueeze")->alias_input0 && def_of("Identity")->alias_input0 &&
                def_of("Dropout")->alias_input0);
    // Reshape with a shape that is not constant.
    call_init(&c, "Reshape", 13, 1);
    input(&c, 0, QS_DTYPE_F32, 3, dims, x, false);
    int64_t one = 1;
    input(&c, 1, QS_DTYPE_I64, 1, &one, shp, false);
    ASSERT_EQ(call_run(&c, pool), QS_STATUS_UNSUPPORTED);
    ASSERT_STR_CONTAINS(c.diag.msg, "in1");
    ASSERT_STR_CONTAINS(c.diag.msg, "Reshape");
    call_free(&c);

    // Flatten with negative axis.
    call_init(&c, "Flatten", 13, 1);
    attr_i(&c, "axis", -1);
    input(&c, 0, QS_DTYPE_F32, 3, dims, x, false);
    ASSERT_OK(call_run(&c, pool));
    ASSERT_EQ(c.out_v[0].dims[0], 6);
    ASSERT_EQ(c.out_v[0].dims[1], 4);
    call_free(&c);

    // Squeeze/Unsqueeze: attribute before 13, input from 13.
    int64_t d1[4] = {1, 3, 1, 4}, ax[2] = {0, -2}, uax[2] = {-1, 1};
    for (int opset = 11; opset <= 13; opset += 2) {
        call_init(&c, "Squeeze", opset, 1);
        input(&c, 0, QS_DTYPE_F32, 4, d1, x, false);
        if (opset < 13) attr_ints(&c, "axes", 2, ax);
        else input_i64(&c, 1, 2, ax);
        ASSERT_OK(call_run(&c, pool));
        ASSERT_EQ(c.out_v[0].rank, 2);
        call_free(&c);
        call_init(&c, "Unsqueeze", opset, 1);
        input(&c, 0, QS_DTYPE_F32, 3, dims, x, false);
        if (opset < 13) attr_ints(&c, "axes", 2, uax);
        else input_i64(&c, 1, 2, uax);
        ASSERT_OK(call_run(&c, pool));
        ASSERT_EQ(c.out_v[0].rank, 5);
        ASSERT_EQ(c.out_v[0].dims[1], 1);
        ASSERT_EQ(c.out_v[0].dims[4], 1);
        call_free(&c);
    }
    // Squeeze without axes drops every 1; squeezing a non-1 dim fails.
    call_init(&c, "Squeeze", 13, 1);
    input(&c, 0, QS_DTYPE_F32, 4, d1, x, false);
    ASSERT_OK(call_run(&c, pool));
    ASSERT_EQ(c.out_v[0].rank, 2);
    call_free(&c);
    int64_t a1[1] = {1};
    call_init(&c, "Squeeze", 13, 1);
    input(&c, 0, QS_DTYPE_F32, 4, d1, x, false);
    input_i64(&c, 1, 1, a1);
    ASSERT_EQ(call_run(&c, pool), QS_STATUS_PARSE);
    call_free(&c);

    // Dropout: identity plus an all-true mask.
    call_init(&c, "Dropout", 13, 2);
    input(&c, 0, QS_DTYPE_F32, 3, dims, x, false);
    ASSERT_OK(call_run(&c, pool));
    ASSERT_EQ(c.out_v[1].dtype, QS_DTYPE_BOOL);
    ASSERT_TRUE(memcmp(c.out_v[0].data, x, sizeof x) == 0);
    for (int i = 0; i < 24; i++) ASSERT_EQ(((uint8_t *)c.out_v[1].data)[i], 1);
    call_free(&c);
}

// ---------------------------------------------------------------------------------------
// Values known at inference time, and generators.

static void test_constants(qs_pool_t *pool) {
    int64_t dims[4] = {2, 3, 5, 7};
    float x[1];
    struct call c;
    call_init(&c, "Shape", 15, 1);
    attr_i(&c, "start", 1);
    attr_i(&c, "end", -1);
    input(&c, 0, QS_DTYPE_F32, 4, dims, x, false);
    qs_kctx k = kctx(&c, pool);
    ASSERT_OK(def_of("Shape")->infer(&k));
    ASSERT_TRUE(c.out_v[0].is_const);
    ASSERT_EQ(c.out_v[0].numel, 2);
    ASSERT_EQ(((int64_t *)c.out_v[0].data)[0], 3);
    ASSERT_EQ(((int64_t *)c.out_v[0].data)[1], 5);
    call_free(&c);
    call_init(&c, "Size", 13, 1);
    input(&c, 0, QS_DTYPE_F32, 4, dims, x, false);
    k = kctx(&c, pool);
    ASSERT_OK(def_of("Size")->infer(&k));
    ASSERT_TRUE(c.out_v[0].is_const);
    ASSERT_EQ(*(int64_t *)c.out_v[0].data, 210);
    call_free(&c);

    int64_t vals[3] = {7, -1, 3};
    call_init(&c, "Constant", 13, 1);
    struct qs_attr *a = attr_new(&c, "value_ints", QS_ATTR_INTS);
    a->n = 3;
    a->ints = vals;
    k = kctx(&c, pool);
    ASSERT_OK(def_of("Constant")->infer(&k));
    ASSERT_TRUE(c.out_v[0].is_const);
    ASSERT_TRUE(memcmp(c.out_v[0].data, vals, sizeof vals) == 0);
    call_free(&c);

    // ConstantOfShape with an int32 value.
    qs_tensor val = {0};
    int32_t seven = 7;
    qs__view_set_shape(&val.v, QS_DTYPE_I32, 1, (int64_t[]){1});
    val.v.data = &seven;
    int64_t shp[2] = {2, 3};
    call_init(&c, "ConstantOfShape", 9, 1);
    attr_new(&c, "value", QS_ATTR_TENSOR)->t = &val;
    input_i64(&c, 0, 2, shp);
    ASSERT_OK(call_run(&c, pool));
    ASSERT_EQ(c.out_v[0].dtype, QS_DTYPE_I32);
    for (int i = 0; i < 6; i++) ASSERT_EQ(((int32_t *)c.out_v[0].data)[i], 7);
    call_free(&c);

    // Range, integer with a negative delta and float.
    int32_t r0 = 10, r1 = 1, r2 = -3;
    call_init(&c, "Range", 11, 1);
    input(&c, 0, QS_DTYPE_I32, 0, NULL, &r0, true);
    input(&c, 1, QS_DTYPE_I32, 0, NULL, &r1, true);
    input(&c, 2, QS_DTYPE_I32, 0, NULL, &r2, true);
    ASSERT_OK(call_run(&c, pool));
    ASSERT_EQ(c.out_v[0].numel, 3);
    ASSERT_EQ(((int32_t *)c.out_v[0].data)[2], 4);
    call_free(&c);
    float f0 = 0.5f, f1 = 2.0f, f2 = 0.5f;
    call_init(&c, "Range", 11, 1);
    input(&c, 0, QS_DTYPE_F32, 0, NULL, &f0, true);
    input(&c, 1, QS_DTYPE_F32, 0, NULL, &f1, true);
    input(&c, 2, QS_DTYPE_F32, 0, NULL, &f2, true);
    ASSERT_OK(call_run(&c, pool));
    ASSERT_EQ(c.out_v[0].numel, 3);
    ASSERT_TRUE(((float *)c.out_v[0].data)[2] == 1.5f);
    call_free(&c);
}

// ---------------------------------------------------------------------------------------
// Expand / Tile / DepthToSpace

static void test_expand_tile(qs_pool_t *pool) {
    int64_t dims[3] = {3, 1, 4};
    int16_t x[12];
    for (int i = 0; i < 12; i++) x[i] = (int16_t)i;
    int64_t shape[4] = {2, 1, 5, 1};
    struct call c;
    call_init(&c, "Expand", 13, 1);
    input(&c, 0, QS_DTYPE_I16, 3, dims, x, false);
    input_i64(&c, 1, 4, shape);
    ASSERT_OK(call_run(&c, pool));
    const int64_t want[4] = {2, 3, 5, 4};
    for (int i = 0; i < 4; i++) ASSERT_EQ(c.out_v[0].dims[i], want[i]);
    int64_t idx[4] = {0};
    int64_t o = 0;
    do {
        ASSERT_EQ(((int16_t *)c.out_v[0].data)[o++], x[idx[1] * 4 + idx[3]]);
    } while (next_index(4, want, idx));
    call_free(&c);

    int64_t rep[3] = {2, 3, 1};
    call_init(&c, "Tile", 13, 1);
    input(&c, 0, QS_DTYPE_I16, 3, dims, x, false);
    input_i64(&c, 1, 3, rep);
    ASSERT_OK(call_run(&c, pool));
    int64_t td[3] = {6, 3, 4}, ti[3] = {0};
    o = 0;
    do {
        ASSERT_EQ(((int16_t *)c.out_v[0].data)[o++], x[(ti[0] % 3) * 4 + ti[2]]);
    } while (next_index(3, td, ti));
    call_free(&c);

    // DepthToSpace (both modes) against the formula, SpaceToDepth inverts DCR.
    int64_t dd[4] = {2, 8, 3, 2};
    float v[96];
    for (int i = 0; i < 96; i++) v[i] = (float)i;
    const char *modes[2] = {"DCR", "CRD"};
    for (int m = 0; m < 2; m++) {
        call_init(&c, "DepthToSpace", 13, 1);
        attr_i(&c, "blocksize", 2);
        attr_s(&c, "mode", modes[m]);
        input(&c, 0, QS_DTYPE_F32, 4, dd, v, false);
        ASSERT_OK(call_run(&c, pool));
        const float *y = c.out_v[0].data;
        int64_t yi[4] = {0}, yd[4] = {2, 2, 6, 4};
        o = 0;
        do {
            int64_t i = yi[2] % 2, j = yi[3] % 2;
            int64_t ch = m == 0 ? (i * 2 + j) * 2 + yi[1] : yi[1] * 4 + i * 2 + j;
            int64_t src[4] = {yi[0], ch, yi[2] / 2, yi[3] / 2};
            ASSERT_TRUE(y[o++] == v[offset_of(4, dd, src)]);
        } while (next_index(4, yd, yi));
        if (m == 0) {
            struct call s;
            call_init(&s, "SpaceToDepth", 13, 1);
            attr_i(&s, "blocksize", 2);
            input(&s, 0, QS_DTYPE_F32, 4, yd, c.out_v[0].data, false);
            ASSERT_OK(call_run(&s, pool));
            ASSERT_TRUE(memcmp(s.out_v[0].data, v, sizeof v) == 0);
            call_free(&s);
        }
        call_free(&c);
    }
}

// ---------------------------------------------------------------------------------------
// Resize

// Independent per-element reference for nearest and (bi)linear on the last two axes of a
// 4-D float tensor, half_pixel or asymmetric coordinates.
static float ref_resize(const float *x, const int64_t *in, const int64_t *out, const double *s,
                        const int64_t *o, bool linear, bool half_pixel) {
    double c[2];
    int64_t base = (o[0] * in[1] + o[1]) * in[2] * in[3];
    for (int a = 0; a < 2; a++) {
        double xo = (double)o[2 + a];
        c[a] = half_pixel ? (xo + 0.5) / s[2 + a] - 0.5 : xo / s[2 + a];
    }
    (void)out;
    if (!linear) {
        int64_t i[2];
        for (int a = 0; a < 2; a++) {
            double f = floor(c[a]);
            i[a] = (int64_t)f + (c[a] - f > 0.5);  // round_prefer_floor
            i[a] = QS_MAX(0, QS_MIN(in[2 + a] - 1, i[a]));
        }
        return x[base + i[0] * in[3] + i[1]];
    }
    int64_t i0[2], i1[2];
    double t[2];
    for (int a = 0; a < 2; a++) {
        double f = floor(c[a]);
        t[a] = c[a] - f;
        i0[a] = QS_MAX(0, QS_MIN(in[2 + a] - 1, (int64_t)f));
        i1[a] = QS_MAX(0, QS_MIN(in[2 + a] - 1, (int64_t)f + 1));
    }
    double v00 = x[base + i0[0] * in[3] + i0[1]], v01 = x[base + i0[0] * in[3] + i1[1]];
    double v10 = x[base + i1[0] * in[3] + i0[1]], v11 = x[base + i1[0] * in[3] + i1[1]];
    return (float)((1 - t[0]) * ((1 - t[1]) * v00 + t[1] * v01) +
                   t[0] * ((1 - t[1]) * v10 + t[1] * v11));
}

static void test_resize(qs_pool_t *pool) {
    const float scales_list[][2] = {{2, 2}, {0.5f, 0.75f}, {1, 3}, {1.7f, 0.6f}};
    int64_t in[4] = {2, 3, 9, 10};
    float x[540];
    for (int i = 0; i < 540; i++) x[i] = (float)(rnd() % 1000) / 10.0f;
    for (int mode = 0; mode < 2; mode++) {
        for (int ctm = 0; ctm < 2; ctm++) {
            for (size_t si = 0; si < QS_COUNTOF(scales_list); si++) {
                float scales[4] = {1, 1, scales_list[si][0], scales_list[si][1]};
                int64_t four = 4;
                struct call c;
                call_init(&c, "Resize", 13, 1);
                attr_s(&c, "mode", mode ? "linear" : "nearest");
                attr_s(&c, "coordinate_transformation_mode", ctm ? "half_pixel" : "asymmetric");
                input(&c, 0, QS_DTYPE_F32, 4, in, x, false);
                input(&c, 2, QS_DTYPE_F32, 1, &four, scales, true);
                c.in[1] = NULL;
                c.tin_p[1] = NULL;
                ASSERT_OK(call_run(&c, pool));
                const qs_view *y = &c.out_v[0];
                double s[4];
                for (int a = 0; a < 4; a++) {
                    s[a] = scales[a];
                    ASSERT_EQ(y->dims[a], (int64_t)floor((double)in[a] * s[a]));
                }
                int64_t o[4] = {0}, n = 0;
                do {
                    float want = ref_resize(x, in, y->dims, s, o, mode == 1, ctm == 1);
                    float got = ((float *)y->data)[n++];
                    if (fabsf(want - got) > 1e-4f * (1 + fabsf(want))) {
                        fprintf(stderr, "resize mode %d ctm %d scales %zu at %lld: %g != %g\n",
                                mode, ctm, si, (long long)n - 1, got, want);
                        exit(1);
                    }
                } while (next_index(4, y->dims, o));
                call_free(&c);
            }
        }
    }
    // Upsample opset 7 (scales attribute), ONNX's example.
    {
        float u[4] = {1, 2, 3, 4}, us[4] = {1, 1, 2, 3};
        int64_t ud[4] = {1, 1, 2, 2};
        struct call c;
        call_init(&c, "Upsample", 7, 1);
        attr_s(&c, "mode", "nearest");
        struct qs_attr *a = attr_new(&c, "scales", QS_ATTR_FLOATS);
        a->n = 4;
        a->floats = us;
        input(&c, 0, QS_DTYPE_F32, 4, ud, u, false);
        ASSERT_OK(call_run(&c, pool));
        const float uw[24] = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,
                              3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
        ASSERT_EQ(c.out_v[0].numel, 24);
        ASSERT_TRUE(memcmp(c.out_v[0].data, uw, sizeof uw) == 0);
        call_free(&c);
    }
    // Nearest on uint8 with sizes, threaded equals single-threaded on a large map.
    int64_t big[4] = {1, 16, 64, 64}, sizes[4] = {1, 16, 128, 96}, four = 4;
    size_t nb = (size_t)qs__numel(4, big);
    uint8_t *bx = qs__aligned_alloc(nb);
    fill_random(bx, nb);
    const char *modes[2] = {"nearest", "linear"};
    for (int m = 0; m < 2; m++) {
        enum qs_dtype dt = m ? QS_DTYPE_F32 : QS_DTYPE_U8;
        void *src = bx;
        float *fx = NULL;
        if (m) {
            fx = qs__aligned_alloc(nb * 4);
            for (size_t i = 0; i < nb; i++) fx[i] = bx[i];
            src = fx;
        }
        struct call c1, c2;
        for (int t = 0; t < 2; t++) {
            struct call *c = t ? &c2 : &c1;
            call_init(c, "Resize", 13, 1);
            attr_s(c, "mode", modes[m]);
            input(c, 0, dt, 4, big, src, false);
            input(c, 3, QS_DTYPE_I64, 1, &four, sizes, true);
            c->in[1] = c->in[2] = NULL;
            c->tin_p[1] = c->tin_p[2] = NULL;
            ASSERT_OK(call_run(c, t ? pool : NULL));
        }
        ASSERT_TRUE(memcmp(c1.out_v[0].data, c2.out_v[0].data, qs__view_bytes(&c1.out_v[0]))
                    == 0);
        call_free(&c1);
        call_free(&c2);
        qs__aligned_free(fx);
    }
    qs__aligned_free(bx);
}

int main(void) {
    qs_pool_t *pool = NULL;
    ASSERT_OK(qs__pool_create(2, &pool));
    test_copy_strided(pool);
    test_transpose(pool);
    test_slice(pool);
    test_pad(pool);
    test_concat_split(pool);
    test_gather(pool);
    test_reshape_family(pool);
    test_constants(pool);
    test_expand_tile(pool);
    test_resize(pool);
    qs__pool_destroy(pool);
    printf("shape ops: all passed\n");
    return 0;
}
