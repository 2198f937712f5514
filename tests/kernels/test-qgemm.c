// Every integer GEMM variant of this build (the rows of kernels/qgemm.inc) against the direct
// oracle qs__qgemm_ref, bit for bit: N, K, P across the tile edges, random shapes, both
// orientations of kernels/qgemm.h plus odd strides, every x_zp, zero point and clamp edges,
// saturation edges (0/255 activations, -128/127 weights), all output types, the thread
// pool, and canaries around the output. Seeded (QS_TEST_SEED=<n> to replay); a failure
// prints the seed, the variant and the case. Variants the CPU lacks are listed as skipped.
#include "qgemm-variants-test.h"

#include <math.h>

static float frand(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() >> 40) / (float)(1 << 24); }

enum layout { CONV, FC, ODD };
enum data { RANDOM, EDGES, X_MAX_W_MIN, X_MAX_W_MAX, X_ZERO_W_MIN, W_NARROW, W_ZERO };

struct gcase {
    size_t n, k, p;
    enum layout layout;
    enum data data;
    struct qs_qgemm_params prm;
    bool threads;
    bool neg_zero;  // fbias -0.0 and negative scales: -0.0 results against fmin 0.0
    const char *what;
};

static const char *layout_name[] = {"conv", "fc", "odd"};
static const char *qout_name[] = {"u8", "s8", "f32", "s32"};

static _Noreturn void fail(const struct gcase *c, const char *msg) {
    fprintf(stderr,
            "FAIL seed=%" PRIu64 " variant=%s case='%s' N=%zu K=%zu P=%zu layout=%s out=%s "
            "x_zp=%d out_zp=%d q=[%d,%d] threads=%d: ",
            g_seed, g_cfg->name, c->what, c->n, c->k, c->p, layout_name[c->layout],
            qout_name[c->prm.out_type], c->prm.x_zp, c->prm.out_zp, c->prm.qmin, c->prm.qmax,
            c->threads);
    fprintf(stderr, "%s\n(replay with QS_TEST_SEED=%" PRIu64 ")\n", msg, g_seed);
    exit(1);
}

static int8_t wval(enum data d) {
    switch (d) {
    case EDGES: return (rnd() & 1) ? 127 : -128;
    case X_MAX_W_MIN: case X_ZERO_W_MIN: return -128;
    case X_MAX_W_MAX: return 127;
    case W_NARROW: return (int8_t)((int)urange(0, 254) - 127);
    case W_ZERO: return 0;
    default: return (int8_t)rnd();
    }
}
static uint8_t xval(enum data d) {
    switch (d) {
    case EDGES: return (rnd() & 1) ? 255 : 0;
    case X_MAX_W_MIN: case X_MAX_W_MAX: return 255;
    case X_ZERO_W_MIN: return 0;
    default: return (uint8_t)rnd();
    }
}

static void run_case(struct gcase *c) {
    g_cases++;
    size_t n = c->n, k = c->k, p = c->p, es = qs__qout_size(c->prm.out_type);
    size_t ldw = k + urange(0, 3);
    int8_t *w = malloc(n * ldw + 1);
    for (size_t i = 0; i < n * ldw; i++) {
        w[i] = wval(c->data);
        if (w[i] < g_cfg->w_min) w[i] = (int8_t)g_cfg->w_min;  // a kernel that negates weights
    }
    // Activations: allocated to the last byte read, so that ASan sees any over-read.
    size_t sk, sp, xbytes;
    size_t cn, cp, crows;
    switch (c->layout) {
    case CONV: sk = p + urange(0, 5); sp = 1; cn = p + urange(0, 3); cp = 1; break;
    case FC: sp = k + urange(0, 5); sk = 1; cp = n + urange(0, 3); cn = 1; break;
    default: sp = 3; sk = 3 * p + 1; cn = 1 + 2 * p; cp = 2; break;
    }
    xbytes = k ? (k - 1) * sk + (p - 1) * sp + 1 : 1;  // K == 0 reads nothing
    crows = (n - 1) * cn + (p - 1) * cp + 1;
    uint8_t *x = malloc(xbytes);
    for (size_t i = 0; i < xbytes; i++) x[i] = xval(c->data);
    int32_t *bias = malloc(n * sizeof *bias);
    float *scale = malloc(n * sizeof *scale), *fbias = malloc(n * sizeof *fbias);
    for (size_t i = 0; i < n; i++) {
        bias[i] = (int32_t)(rnd() % 200001) - 100000;
        // Scales over many magnitudes (saturating and tiny), with ties (0.5) now and then.
        float s = (rnd() % 4 == 0) ? 0.5f : ldexpf(frand(0.5f, 1.0f), (int)urange(0, 20) - 18);
        scale[i] = (rnd() % 8 == 0) ? -s : s;
        fbias[i] = frand(-10.0f, 10.0f);
        if (c->neg_zero) fbias[i] = -0.0f, scale[i] = -fabsf(scale[i]);
    }
    struct qs_qgemm_params prm = c->prm;
    if (!prm.scale) prm.scale = scale;
    if (prm.bias == (const int32_t *)1) prm.bias = NULL;
    else if (!prm.bias) prm.bias = bias;
    if (prm.fbias == (const float *)1) prm.fbias = NULL;
    else if (!prm.fbias) prm.fbias = fbias;

    const size_t canary = 64;
    unsigned char *ref = malloc(crows * es + 2 * canary), *got = malloc(crows * es + 2 * canary);
    memset(ref, 0xa5, crows * es + 2 * canary);
    memset(got, 0xa5, crows * es + 2 * canary);
    qs__qgemm_ref(n, k, p, w, ldw, x, sk, sp, ref + canary, cn, cp, &prm);

    qs_qgemm_weights *pw = NULL;
    ASSERT_OK(qs__qgemm_pack_config(g_cfg, n, k, w, ldw, &pw));
    size_t ss = qs__qgemm_scratch_size(pw, p);
    void *scratch = malloc(ss);
    qs__qgemm_run(pw, p, x, sk, sp, got + canary, cn, cp, &prm, scratch, c->threads ? g_pool : NULL);
    if (memcmp(ref, got, crows * es + 2 * canary) != 0) {
        for (size_t i = 0; i < crows * es + 2 * canary; i++) {
            if (ref[i] == got[i]) continue;
            char msg[160];
            if (i < canary || i >= canary + crows * es) {
                snprintf(msg, sizeof msg, "wrote outside the output (byte %zu)", i);
                fail(c, msg);
            }
            size_t e = (i - canary) / es;
            long long rv = 0, gv = 0;
            unsigned char *r = ref + canary + e * es, *g = got + canary + e * es;
            switch (c->prm.out_type) {
            case QS_QOUT_U8: rv = *r, gv = *g; break;
            case QS_QOUT_S8: rv = *(int8_t *)r, gv = *(int8_t *)g; break;
            default: memcpy(&rv, r, 4), memcpy(&gv, g, 4); break;  // raw bits for F32
            }
            // Which (n, p) owns element e, or none (a gap that must keep its canary).
            for (size_t ni = 0; ni < n; ni++)
                for (size_t pi = 0; pi < p; pi++)
                    if (ni * cn + pi * cp == e) {
                        snprintf(msg, sizeof msg, "C[%zu][%zu]: ref %lld got %lld", ni, pi, rv, gv);
                        fail(c, msg);
                    }
            snprintf(msg, sizeof msg, "wrote gap element %zu (ref %lld got %lld)", e, rv, gv);
            fail(c, msg);
        }
    }
    qs__qgemm_weights_destroy(pw);
    free(scratch);
    free(ref);
    free(got);
    free(w);
    free(x);
    free(bias);
    free(scale);
    free(fbias);
}

static struct qs_qgemm_params params_for(enum qs_qout t) {
    struct qs_qgemm_params prm = {.out_type = t, .x_zp = (uint8_t)rnd()};
    switch (t) {
    case QS_QOUT_U8: prm.out_zp = (int32_t)urange(0, 255); break;
    case QS_QOUT_S8: prm.out_zp = (int32_t)urange(0, 255) - 128; break;
    default: break;
    }
    prm.qmin = INT32_MIN;
    prm.qmax = INT32_MAX;
    prm.fmin = -INFINITY;
    prm.fmax = INFINITY;
    if (rnd() % 4 == 0) {  // a fused Relu / Clip
        int32_t thi = t == QS_QOUT_S8 ? 127 : 255;
        int32_t q0 = prm.out_zp + (int32_t)urange(0, 20);
        prm.qmin = QS_MIN(q0, thi);
        prm.qmax = prm.qmin + (int32_t)urange(0, 100);
        prm.fmin = 0.0f;
        prm.fmax = frand(1.0f, 1000.0f);
    }
    return prm;
}

static struct gcase shape(size_t n, size_t k, size_t p, const char *what) {
    struct gcase c = {.n = n, .k = k, .p = p, .what = what};
    c.layout = (enum layout)(rnd() % 3);
    c.prm = params_for((enum qs_qout)(rnd() % 4));
    return c;
}

static void test_variant(void) {
    size_t mr = g_cfg->mr, nr = g_cfg->nr, kr = g_cfg->kr;
    size_t kmax = 2 * QS_MAX(kr, (size_t)16) + 1;
    // Tile edges, one dimension at a time, every output type and layout.
    for (size_t n = 1; n <= 2 * mr + 1; n++)
        for (int t = 0; t < 4; t++) {
            struct gcase c = shape(n, urange(1, 40), urange(1, 2 * nr + 1), "n edges");
            c.prm = params_for((enum qs_qout)t);
            c.layout = (enum layout)(n % 3);
            run_case(&c);
        }
    for (size_t k = 0; k <= kmax; k++)
        for (int l = 0; l < 3; l++) {
            struct gcase c = shape(urange(1, 2 * mr + 1), k, urange(1, 2 * nr + 1), "k edges");
            c.layout = (enum layout)l;
            run_case(&c);
        }
    for (size_t p = 1; p <= 2 * nr + 1; p++)
        for (int t = 0; t < 4; t++) {
            struct gcase c = shape(urange(1, 2 * mr + 1), urange(1, 40), p, "p edges");
            c.prm = params_for((enum qs_qout)t);
            c.layout = (enum layout)((p + (size_t)t) % 3);
            run_case(&c);
        }
    // Every activation zero point, with every output type along the way.
    for (int zp = 0; zp < 256; zp++) {
        struct gcase c = shape(urange(1, 2 * mr + 1), urange(1, 64), urange(1, 2 * nr + 1), "x_zp");
        c.prm.x_zp = (uint8_t)zp;
        run_case(&c);
    }
    // Output zero point and clamp edges.
    static const int32_t u8_zp[] = {0, 1, 127, 128, 254, 255};
    static const int32_t s8_zp[] = {-128, -127, -1, 0, 1, 126, 127};
    for (size_t i = 0; i < QS_COUNTOF(u8_zp) + QS_COUNTOF(s8_zp); i++) {
        bool u = i < QS_COUNTOF(u8_zp);
        for (int clamp = 0; clamp < 4; clamp++) {
            struct gcase c = shape(urange(1, 2 * mr + 1), urange(1, 100), urange(1, 2 * nr + 1), "out_zp/clamp");
            c.prm = params_for(u ? QS_QOUT_U8 : QS_QOUT_S8);
            c.prm.out_zp = u ? u8_zp[i] : s8_zp[i - QS_COUNTOF(u8_zp)];
            int32_t tlo = u ? 0 : -128;
            switch (clamp) {
            case 0: c.prm.qmin = INT32_MIN, c.prm.qmax = INT32_MAX; break;
            case 1: c.prm.qmin = tlo, c.prm.qmax = tlo + 255; break;
            case 2: c.prm.qmin = c.prm.qmax = tlo + (int32_t)urange(0, 255); break;
            default: c.prm.qmin = c.prm.out_zp, c.prm.qmax = tlo + 255; break;  // Relu
            }
            run_case(&c);
        }
    }
    // Saturation edges: pair sums at 255 x -128 (int16 overflow if a kernel were naive),
    // long K, all-zero activations with zero point 255, 0/255 x -128/127 mixes.
    static const enum data edges[] = {EDGES, X_MAX_W_MIN, X_MAX_W_MAX, X_ZERO_W_MIN, W_NARROW};
    for (size_t e = 0; e < QS_COUNTOF(edges); e++)
        for (int t = 0; t < 4; t++) {
            size_t ks[] = {1, 2, 3, kr, 255, 1024, 4099};
            for (size_t ki = 0; ki < QS_COUNTOF(ks); ki++) {
                struct gcase c = shape(urange(1, 2 * mr + 1), ks[ki], urange(1, 2 * nr + 1), "saturation");
                c.prm = params_for((enum qs_qout)t);
                c.prm.x_zp = (uint8_t)((rnd() & 1) ? 0 : 255);
                c.data = edges[e];
                run_case(&c);
            }
        }
    // Accumulators that wrap modulo 2^32 (K beyond 2^31 / (255 * 128)).
    {
        struct gcase c = shape(urange(1, mr + 1), 70000, urange(1, nr + 1), "int32 wrap");
        c.prm = params_for(QS_QOUT_S32);
        c.prm.x_zp = 0;
        c.data = X_MAX_W_MIN;
        run_case(&c);
    }
    // Missing bias / fbias, dequantized output with negative zero ties.
    for (int i = 0; i < 8; i++) {
        struct gcase c = shape(urange(1, 2 * mr + 1), urange(1, 50), urange(1, 2 * nr + 1), "no bias");
        c.prm = params_for((enum qs_qout)(i % 4));
        c.prm.bias = (const int32_t *)1;
        c.prm.fbias = (const float *)1;
        c.prm.fmin = 0.0f;
        run_case(&c);
    }
    // Signed zeros: (-0.0) + (-0.0) against fmin = 0.0 must stay -0.0 (the clamp's order).
    for (int i = 0; i < 4; i++) {
        struct gcase c = shape(urange(1, 2 * mr + 1), urange(1, 50), 2 * nr + 1, "signed zero");
        c.layout = (enum layout)(i % 3);
        c.prm = params_for(QS_QOUT_F32);
        c.prm.bias = (const int32_t *)1;
        c.prm.fmin = 0.0f;
        c.prm.fmax = i % 2 ? -0.0f : INFINITY;
        c.data = W_ZERO;
        c.neg_zero = true;
        run_case(&c);
    }
    // Random shapes, some large enough to span several blocks, some threaded.
    for (int i = 0; i < 120; i++) {
        bool big = i % 10 == 0;
        struct gcase c = shape(urange(1, big ? 70 : 40), urange(1, big ? 700 : 300),
                               urange(1, big ? 900 : 150), "random");
        c.threads = i % 3 == 0;
        if (i % 5 == 0) c.data = (enum data)(rnd() % 7);
        run_case(&c);
    }
}

int main(void) {
    qgemm_variants(UINT64_C(0x5eed0003), NULL, test_variant);
    // A variant that cannot take -128 refuses it; the default selection accepts it.
    size_t count;
    const struct qs_qgemm_config *cfgs = qs__qgemm_configs(&count);
    for (size_t i = 0; i < count; i++) {
        if (cfgs[i].w_min == -128 || !qs__qgemm_config_supported(&cfgs[i])) continue;
        int8_t wm[3] = {1, -128, 2};
        qs_qgemm_weights *pm = NULL;
        ASSERT_EQ(qs__qgemm_pack_config(&cfgs[i], 1, 3, wm, 3, &pm), QS_STATUS_INVALID_ARG);
        ASSERT_TRUE(pm == NULL);
    }
    // No output channels: packs, needs no work, writes nothing.
    {
        qs_qgemm_weights *p0 = NULL;
        ASSERT_OK(qs__qgemm_pack(0, 5, NULL, 5, &p0));
        uint8_t xs[5] = {1, 2, 3, 4, 5};
        struct qs_qgemm_params prm = {.out_type = QS_QOUT_S32, .qmin = INT32_MIN, .qmax = INT32_MAX};
        qs__qgemm_run(p0, 1, xs, 1, 5, NULL, 1, 1, &prm, NULL, NULL);
        qs__qgemm_weights_destroy(p0);
    }
    // The default selection packs and names a variant, and -128 weights stay allowed.
    int8_t wt[6] = {-128, 127, 0, 1, -1, 5};
    qs_qgemm_weights *pw = NULL;
    ASSERT_OK(qs__qgemm_pack(2, 3, wt, 3, &pw));
    ASSERT_TRUE(strstr(qs__qgemm_kernel_name(pw), "qs_qu8_qc8w_gemm_minmax_ukernel_") != NULL);
    ASSERT_TRUE(qs__qgemm_weights_bytes(pw) > 6);
    printf("default: %s\n", qs__qgemm_kernel_name(pw));
    qs__qgemm_weights_destroy(pw);
    qs__qgemm_weights_destroy(NULL);
    return 0;
}
