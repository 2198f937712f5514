// Depthwise int8 convolution: every variant built and runnable here (ref, AVX2, AVX-512,
// NEON) is compared bit for bit with the oracle qs__qdwconv_ref on seeded random shapes
// (channels 1..33, sizes from 1, kernels 1..5, strides 1..3, dilation, asymmetric pads),
// every x_zp, every output type, narrow clamps and saturation edges (255 x -128 and
// 0 x 127 with extreme zero points). QS_TEST_SEED=n reruns a seed; the seed and the case
// are printed on failure. Needs only kernels/ (no IR), so it also runs under qemu.
#include "kernels/qdwconv-impl.h"
#include "test.h"

#include <math.h>

static uint64_t g_seed, g_state;

static uint64_t rnd(void) {
    // splitmix64
    uint64_t z = (g_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static size_t urange(size_t lo, size_t hi) { return lo + (size_t)(rnd() % (hi - lo + 1)); }
static float frange(float lo, float hi) {
    return lo + (hi - lo) * (float)(rnd() >> 40) / 16777216.0f;
}

struct tcase {
    struct qs_qdwconv_shape s;
    struct qs_qgemm_params p;
    uint8_t *x;
    int8_t *w;
    int32_t *bias;
    float *scale, *fbias;
    int fill;  // 0 random, 1 x=255 w=-128, 2 x=0 w=127, 3 x and w at random extremes
};

static void describe(const struct tcase *c, const char *variant) {
    const struct qs_qdwconv_shape *s = &c->s;
    fprintf(stderr,
            "seed %llu variant %s: C=%zu in=%zux%zu out=%zux%zu k=%zux%zu stride=%zu,%zu "
            "dil=%zu,%zu pad_top=%zu pad_left=%zu x_zp=%u out=%d out_zp=%d q=[%d,%d] "
            "f=[%g,%g] bias=%s fbias=%s fill=%d\n",
            (unsigned long long)g_seed, variant, s->channels, s->in_h, s->in_w, s->out_h,
            s->out_w, s->kh, s->kw, s->stride_h, s->stride_w, s->dil_h, s->dil_w, s->pad_top,
            s->pad_left, c->p.x_zp, (int)c->p.out_type, c->p.out_zp, c->p.qmin, c->p.qmax,
            (double)c->p.fmin, (double)c->p.fmax, c->p.bias ? "yes" : "no",
            c->p.fbias ? "yes" : "no", c->fill);
}

static size_t out_dim(size_t in, size_t k, size_t st, size_t dil, size_t pb, size_t pe) {
    size_t ext = (k - 1) * dil + 1;
    if (in + pb + pe < ext) return 0;
    return (in + pb + pe - ext) / st + 1;
}

// Fills data and params of a case whose shape is set.
static void make_data(struct tcase *c, int out_type, int fill) {
    struct qs_qdwconv_shape *s = &c->s;
    size_t nx = s->channels * s->in_h * s->in_w, nw = s->channels * s->kh * s->kw;
    // Exact sizes (no slack): an ASan build catches any read past the input.
    c->x = malloc(nx ? nx : 1);
    c->w = malloc(nw);
    c->bias = malloc(s->channels * sizeof(int32_t));
    c->scale = malloc(s->channels * sizeof(float));
    c->fbias = malloc(s->channels * sizeof(float));
    ASSERT_TRUE(c->x && c->w && c->bias && c->scale && c->fbias);
    c->fill = fill;
    for (size_t i = 0; i < nx; i++) {
        uint8_t v = (uint8_t)rnd();
        if (fill == 1) v = 255;
        if (fill == 2) v = 0;
        if (fill == 3) v = rnd() & 1 ? 255 : 0;
        c->x[i] = v;
    }
    for (size_t i = 0; i < nw; i++) {
        int8_t v = (int8_t)rnd();
        if (fill == 1) v = -128;
        if (fill == 2) v = 127;
        if (fill == 3) v = rnd() & 1 ? 127 : -128;
        c->w[i] = v;
    }
    memset(&c->p, 0, sizeof c->p);
    struct qs_qgemm_params *p = &c->p;
    p->out_type = (enum qs_qout)out_type;
    p->x_zp = (uint8_t)rnd();
    if (fill == 1) p->x_zp = 0;
    if (fill == 2) p->x_zp = 255;
    if (fill == 3) p->x_zp = rnd() & 1 ? 255 : 0;
    p->bias = rnd() % 4 ? c->bias : NULL;
    p->fbias = rnd() % 3 ? c->fbias : NULL;
    p->scale = c->scale;
    int big = fill || rnd() % 8 == 0;  // scales that saturate everything, or overflow int32
    for (size_t ch = 0; ch < s->channels; ch++) {
        c->bias[ch] = (int32_t)(rnd() % 200001) - 100000;
        if (fill && rnd() % 2) c->bias[ch] = rnd() & 1 ? INT32_MAX / 2 : INT32_MIN / 2;
        c->scale[ch] = big ? powf(10.0f, frange(-1.0f, 7.0f)) : powf(10.0f, frange(-5.0f, -1.0f));
        if (rnd() % 2 && !fill) c->scale[ch] = 1.0f / 64.0f;  // many exact .5 ties
        c->fbias[ch] = frange(-100.0f, 100.0f);
    }
    if (out_type == QS_QOUT_U8) {
        p->out_zp = (int32_t)urange(0, 255);
        p->qmin = 0;
        p->qmax = 255;
    } else {
        p->out_zp = (int32_t)urange(0, 255) - 128;
        p->qmin = -128;
        p->qmax = 127;
    }
    if (fill && rnd() % 2) p->out_zp = out_type == QS_QOUT_U8 ? (rnd() & 1 ? 255 : 0)
                                                             : (rnd() & 1 ? 127 : -128);
    switch (rnd() % 4) {
    case 0:  // a fused Relu
        p->qmin = QS_MAX(p->qmin, p->out_zp);
        break;
    case 1: {  // a narrow Clip, possibly outside the type's range on one side
        int32_t a = (int32_t)urange(0, 300) - 150, b = (int32_t)urange(0, 300) - 20;
        p->qmin = QS_MIN(a, b);
        p->qmax = QS_MAX(a, b);
        if (p->out_type == QS_QOUT_U8 && p->qmax < 0) p->qmax = 0;
        if (p->out_type == QS_QOUT_S8 && p->qmin > 127) p->qmin = 127;
        break;
    }
    default:
        break;
    }
    p->fmin = rnd() % 2 ? -INFINITY : frange(-50.0f, 0.0f);
    p->fmax = rnd() % 2 ? INFINITY : frange(0.0f, 50.0f);
}

static void free_case(struct tcase *c) {
    free(c->x);
    free(c->w);
    free(c->bias);
    free(c->scale);
    free(c->fbias);
}

static int g_cases;

static void check_case(struct tcase *c, const struct qs_qdwconv_variant *const *vs, size_t nv,
                       qs_pool_t *pool) {
    const struct qs_qdwconv_shape *s = &c->s;
    size_t esz = qs__qdw_elem_size(c->p.out_type);
    size_t ny = s->channels * s->out_h * s->out_w * esz;
    uint8_t *want = malloc(ny), *got = malloc(ny);
    size_t nscr = qs__qdwconv_scratch_size(s);
    void *scratch = malloc(nscr + 1);
    ASSERT_TRUE(want && got && scratch);
    memset(want, 0x5a, ny);
    qs__qdwconv_ref(s, c->x, c->w, want, &c->p);
    for (size_t v = 0; v < nv + 1; v++) {
        // Every variant single-threaded, then the default one on the pool.
        const struct qs_qdwconv_variant *var = v < nv ? vs[v] : qs__qdwconv_variant();
        memset(got, 0xa5, ny);
        memset(scratch, 0xee, nscr);
        qs__qdwconv_run_with(var, s, c->x, c->w, got, &c->p, scratch, v < nv ? NULL : pool);
        if (memcmp(want, got, ny) != 0) {
            describe(c, var->name);
            for (size_t i = 0; i < ny / esz; i++) {
                if (memcmp(want + i * esz, got + i * esz, esz) == 0) continue;
                size_t plane = s->out_h * s->out_w;
                size_t ch = i / plane, oh = i % plane / s->out_w, ow = i % s->out_w;
                if (esz == 1)
                    fprintf(stderr, "  [%zu][%zu][%zu]: want %d got %d\n", ch, oh, ow,
                            c->p.out_type == QS_QOUT_U8 ? want[i] : (int8_t)want[i],
                            c->p.out_type == QS_QOUT_U8 ? got[i] : (int8_t)got[i]);
                else if (c->p.out_type == QS_QOUT_F32)
                    fprintf(stderr, "  [%zu][%zu][%zu]: want %.9g got %.9g\n", ch, oh, ow,
                            (double)((float *)want)[i], (double)((float *)got)[i]);
                else
                    fprintf(stderr, "  [%zu][%zu][%zu]: want %d got %d\n", ch, oh, ow,
                            ((int32_t *)want)[i], ((int32_t *)got)[i]);
                break;
            }
            exit(1);
        }
    }
    g_cases++;
    free(want);
    free(got);
    free(scratch);
}

// A random shape; returns false when the pads leave no output.
static bool random_shape(struct qs_qdwconv_shape *s, size_t max_in) {
    memset(s, 0, sizeof *s);
    s->channels = urange(1, 33);
    s->in_h = urange(1, max_in);
    s->in_w = rnd() % 3 ? urange(1, max_in) : urange(1, 80);
    s->kh = urange(1, 5);
    s->kw = urange(1, 5);
    s->stride_h = rnd() % 8 ? urange(1, 2) : 3;
    s->stride_w = rnd() % 8 ? urange(1, 2) : 3;
    s->dil_h = rnd() % 4 ? 1 : 2;
    s->dil_w = rnd() % 4 ? 1 : 2;
    size_t pt = urange(0, s->kh - 1), pb = urange(0, s->kh - 1);
    size_t pl = urange(0, s->kw - 1), pr = urange(0, s->kw - 1);
    if (rnd() % 8 == 0) pl += 3;  // pads wider than the kernel: whole chunks of padding
    s->pad_top = pt;
    s->pad_left = pl;
    s->out_h = out_dim(s->in_h, s->kh, s->stride_h, s->dil_h, pt, pb);
    s->out_w = out_dim(s->in_w, s->kw, s->stride_w, s->dil_w, pl, pr);
    return s->out_h && s->out_w;
}

static void run_case(const struct qs_qdwconv_shape *s, int out_type, int fill,
                     const struct qs_qdwconv_variant *const *vs, size_t nv, qs_pool_t *pool) {
    struct tcase c = {.s = *s};
    make_data(&c, out_type, fill);
    check_case(&c, vs, nv, pool);
    free_case(&c);
}

int main(void) {
    const char *env = getenv("QS_TEST_SEED");
    g_seed = env ? strtoull(env, NULL, 0) : 20240611u;
    g_state = g_seed;
    const struct qs_qdwconv_variant *vs[8];
    size_t nv = qs__qdwconv_variants(vs, QS_COUNTOF(vs));
    printf("seed %llu; variants:", (unsigned long long)g_seed);
    for (size_t i = 0; i < nv; i++) printf(" %s", vs[i]->name);
    printf(" (default %s)\n", qs__qdwconv_variant()->name);
    qs_pool_t *pool = NULL;
    ASSERT_OK(qs__pool_create(3, &pool));

    // Random shapes, every output type.
    for (int it = 0; it < 1500; it++) {
        struct qs_qdwconv_shape s;
        if (!random_shape(&s, it % 10 == 0 ? 40 : 12)) continue;
        run_case(&s, (int)(rnd() % 4), 0, vs, nv, pool);
    }
    // Saturation edges: 255 x -128, 0 x 127 with x_zp at the other end, extreme biases.
    for (int it = 0; it < 300; it++) {
        struct qs_qdwconv_shape s;
        if (!random_shape(&s, 20)) continue;
        run_case(&s, (int)(rnd() % 4), 1 + it % 3, vs, nv, pool);
    }
    // Every x_zp (make_data draws it; cover all 256 deterministically here).
    for (int zp = 0; zp < 256; zp++) {
        struct qs_qdwconv_shape s;
        while (!random_shape(&s, 10)) {}
        struct tcase c = {.s = s};
        make_data(&c, (int)(rnd() % 4), 0);
        c.p.x_zp = (uint8_t)zp;
        check_case(&c, vs, nv, NULL);
        free_case(&c);
    }
    // The MobileNet shapes of the 3x3 fast paths, pads (1,1,1,1) and TF's (0,0,1,1).
    static const size_t mb[][5] = {
        // C, in, stride, pad_top/left, pad_bottom/right
        {8, 112, 1, 1, 1}, {8, 112, 2, 0, 1}, {16, 56, 1, 1, 1}, {16, 56, 2, 1, 1},
        {32, 28, 1, 1, 1}, {32, 14, 1, 1, 1}, {32, 14, 2, 0, 1}, {64, 7, 1, 1, 1},
        {5, 17, 2, 1, 1},  {3, 33, 1, 0, 0},  {3, 1, 1, 1, 1},   {3, 2, 2, 1, 1},
    };
    for (size_t i = 0; i < QS_COUNTOF(mb); i++) {
        for (int t = 0; t < 4; t++) {
            struct qs_qdwconv_shape s = {.channels = mb[i][0], .in_h = mb[i][1],
                                         .in_w = mb[i][1], .kh = 3, .kw = 3,
                                         .stride_h = mb[i][2], .stride_w = mb[i][2],
                                         .dil_h = 1, .dil_w = 1, .pad_top = mb[i][3],
                                         .pad_left = mb[i][3]};
            s.out_h = s.out_w = out_dim(s.in_h, 3, s.stride_h, 1, mb[i][3], mb[i][4]);
            run_case(&s, t, 0, vs, nv, pool);
        }
    }
    // Planes larger than the kernels' stack tiles: split in row groups and column tiles.
    static const size_t big[][3] = {{2, 300, 300}, {1, 3, 9000}, {1, 1, 40000}, {3, 150, 700}};
    for (size_t i = 0; i < QS_COUNTOF(big); i++) {
        for (int t = 0; t < 3; t++) {
            struct qs_qdwconv_shape s;
            do {
                random_shape(&s, 5);
                s.channels = big[i][0];
                s.in_h = big[i][1];
                s.in_w = big[i][2];
                if (s.in_h == 1) s.kh = 1;
                s.pad_top = QS_MIN(s.pad_top, s.kh - 1);
                s.pad_left = QS_MIN(s.pad_left, s.kw - 1);
                s.out_h = out_dim(s.in_h, s.kh, s.stride_h, s.dil_h, s.pad_top, rnd() % s.kh);
                s.out_w = out_dim(s.in_w, s.kw, s.stride_w, s.dil_w, s.pad_left, rnd() % s.kw);
            } while (!s.out_h || !s.out_w || s.stride_w > 2);
            run_case(&s, t, 0, vs, nv, pool);
        }
    }
    // Empty output: nothing written, nothing read.
    struct qs_qdwconv_shape s0 = {.channels = 0, .in_h = 3, .in_w = 3, .out_h = 1, .out_w = 1,
                                  .kh = 3, .kw = 3, .stride_h = 1, .stride_w = 1, .dil_h = 1,
                                  .dil_w = 1};
    uint8_t scratch[256];
    struct qs_qgemm_params p0 = {.out_type = QS_QOUT_U8};
    qs__qdwconv_run(&s0, NULL, NULL, NULL, &p0, scratch, NULL);

    qs__pool_destroy(pool);
    printf("%d cases bit-exact on %zu variants\n", g_cases, nv);
    return 0;
}
