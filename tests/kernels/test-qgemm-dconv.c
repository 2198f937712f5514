// The direct convolution (qs__qdconv_run) of every integer GEMM variant with the c4 byte
// layout (the AVX-512 VNNI tile and interleave; the portable tile for the others) against an
// explicit im2col and the oracle qs__qgemm_ref, bit for bit: random stride-1 and stride-2
// geometries (kernel 1..7 x 1..7, asymmetric padding, 1-D, channels not a multiple of 4,
// output rows narrower and wider than a tile, two-row tiles), the CIFAR ResNet shapes,
// every x_zp, saturation edges, all output types, the thread pool, and canaries around the
// output. The input buffer ends at its last byte (ASan sees an over-read). Seeded
// (QS_TEST_SEED=<n> to replay); a failure prints the seed, the variant and the case.
#include "kernels/qgemm-ukernel.h"
#include "test.h"

#include <inttypes.h>
#include <math.h>

static uint64_t g_seed, g_state;
static const struct qs_qgemm_config *g_cfg;
static qs_pool_t *g_pool;
static long g_cases, g_fast;

static uint64_t rnd(void) {
    g_state ^= g_state << 13;
    g_state ^= g_state >> 7;
    g_state ^= g_state << 17;
    return g_state;
}
static size_t urange(size_t lo, size_t hi) { return lo + (size_t)(rnd() % (hi - lo + 1)); }

static void fail(const struct qs_qconv_shape *s, size_t m, enum qs_qout t, int it,
                 const char *msg) {
    fprintf(stderr,
            "FAIL seed=%" PRIu64 " variant=%s iteration=%d C=%zu M=%zu in=%zux%zu out=%zux%zu "
            "k=%zux%zu stride=%zux%zu dil=%zux%zu pad=%zu,%zu flip=%d out_type=%d: %s\n"
            "(replay with QS_TEST_SEED=%" PRIu64 ")\n",
            g_seed, g_cfg->name, it, s->channels, m, s->in_h, s->in_w, s->out_h, s->out_w,
            s->kh, s->kw, s->stride_h, s->stride_w, s->dil_h, s->dil_w, s->pad_top,
            s->pad_left, s->flip, (int)t, msg, g_seed);
    exit(1);
}

static void run_case(int it) {
    g_cases++;
    struct qs_qconv_shape s = {0};
    const bool one_d = rnd() % 6 == 0, big = rnd() % 5 == 0;
    s.channels = urange(1, big ? 40 : 9);
    s.kh = one_d ? 1 : urange(1, rnd() % 3 ? 3 : 7);
    s.kw = urange(1, rnd() % 3 ? 3 : 7);
    s.stride_h = s.stride_w = rnd() % 3 ? 1 : 2;
    s.dil_h = s.dil_w = 1;
    s.pad_top = one_d ? 0 : urange(0, s.kh - 1);
    s.pad_left = urange(0, s.kw - 1);
    s.in_h = one_d ? 1 : urange(1, big ? 40 : 12);
    s.in_w = urange(1, big ? 70 : 40);
    size_t pad_bottom = urange(0, s.kh - 1), pad_right = urange(0, s.kw - 1);
    // 1..3: a ResNet-20 stage, 4: its first conv, 5, 6: its stride-2 convs
    const int resnet = (int)(rnd() % 8);
    if (resnet >= 1 && resnet <= 6) {
        static const size_t hw[] = {0, 32, 16, 8, 32, 32, 16}, ch[] = {0, 16, 32, 64, 3, 16, 32};
        s.channels = ch[resnet];
        s.in_h = s.in_w = hw[resnet];
        s.kh = s.kw = 3;
        s.stride_h = s.stride_w = resnet >= 5 ? 2 : 1;
        s.pad_top = s.pad_left = pad_bottom = pad_right = 1;
    }
    if (s.in_h + s.pad_top + pad_bottom < s.kh) s.in_h = s.kh;
    if (s.in_w + s.pad_left + pad_right < s.kw) s.in_w = s.kw;
    s.out_h = (s.in_h + s.pad_top + pad_bottom - s.kh) / s.stride_h + 1;
    s.out_w = (s.in_w + s.pad_left + pad_right - s.kw) / s.stride_w + 1;
    s.flip = 0;
    size_t m = urange(1, big ? 70 : 2 * g_cfg->mr + 1);
    if (resnet >= 1 && resnet <= 6)
        m = resnet == 4 ? 16 : resnet >= 5 ? 2 * s.channels : s.channels;
    const size_t k = s.channels * s.kh * s.kw, p = s.out_h * s.out_w, plane = s.in_h * s.in_w;
    const int data = (int)(rnd() % 4);  // 0 random, 1 edges, 2 x max / w min, 3 x min / w min
    int8_t *w = malloc(m * k);
    for (size_t i = 0; i < m * k; i++) {
        w[i] = data == 0 ? (int8_t)rnd() : data == 1 ? ((rnd() & 1) ? 127 : -128) : -128;
        if (w[i] < g_cfg->w_min) w[i] = (int8_t)g_cfg->w_min;
    }
    uint8_t *x = malloc(s.channels * plane);
    for (size_t i = 0; i < s.channels * plane; i++)
        x[i] = data == 0   ? (uint8_t)rnd()
               : data == 1 ? ((rnd() & 1) ? 255 : 0)
               : data == 2 ? 255
                           : 0;
    const enum qs_qout t = (enum qs_qout)(rnd() % 4);
    struct qs_qgemm_params prm = {.out_type = t, .x_zp = (uint8_t)rnd()};
    if (rnd() % 4 == 0) prm.x_zp = (rnd() & 1) ? 255 : 0;
    if (t == QS_QOUT_U8 || t == QS_QOUT_S8)
        prm.out_zp = (int32_t)urange(0, 255) - (t == QS_QOUT_S8 ? 128 : 0);
    prm.qmin = INT32_MIN;
    prm.qmax = INT32_MAX;
    prm.fmin = -INFINITY;
    prm.fmax = INFINITY;
    if (rnd() % 4 == 0) {  // a fused Relu / Clip
        const int32_t q0 = prm.out_zp + (int32_t)urange(0, 20);
        prm.qmin = QS_MIN(q0, t == QS_QOUT_S8 ? 127 : 255);
        prm.qmax = prm.qmin + (int32_t)urange(0, 100);
        prm.fmin = 0.0f;
        prm.fmax = (float)urange(1, 1000);
    }
    int32_t *bias = malloc(m * sizeof *bias);
    float *scale = malloc(m * sizeof *scale), *fbias = malloc(m * sizeof *fbias);
    for (size_t i = 0; i < m; i++) {
        bias[i] = (int32_t)(rnd() % 200001) - 100000;
        scale[i] = rnd() % 4 == 0 ? 0.5f : ldexpf(0.5f + (float)(rnd() % 1000) / 2000.0f,
                                                   (int)urange(0, 20) - 18);
        fbias[i] = (float)(rnd() % 2001) / 100.0f - 10.0f;
    }
    prm.bias = rnd() % 5 ? bias : NULL;
    prm.scale = scale;
    prm.fbias = fbias;

    // Explicit im2col: X[k][p] as the contract defines it.
    uint8_t *col = malloc(k * p + 1);
    for (size_t c = 0; c < s.channels; c++)
        for (size_t i = 0; i < s.kh; i++)
            for (size_t j = 0; j < s.kw; j++) {
                const size_t row = (c * s.kh + i) * s.kw + j;
                for (size_t oh = 0; oh < s.out_h; oh++)
                    for (size_t ow = 0; ow < s.out_w; ow++) {
                        const int64_t ih =
                            (int64_t)(oh * s.stride_h + i * s.dil_h) - (int64_t)s.pad_top;
                        const int64_t iw =
                            (int64_t)(ow * s.stride_w + j * s.dil_w) - (int64_t)s.pad_left;
                        const bool in = ih >= 0 && ih < (int64_t)s.in_h && iw >= 0 &&
                                        iw < (int64_t)s.in_w;
                        const size_t at = c * plane + (size_t)(ih * (int64_t)s.in_w + iw);
                        col[row * p + oh * s.out_w + ow] =
                            in ? (uint8_t)(x[at] ^ s.flip) : prm.x_zp;
                    }
            }
    const size_t es = qs__qout_size(t), ldc = p + urange(0, 3), canary = 64;
    const size_t bytes = ((m - 1) * ldc + p) * es + 2 * canary;
    unsigned char *ref = malloc(bytes), *got = malloc(bytes);
    memset(ref, 0xa5, bytes);
    memset(got, 0xa5, bytes);
    qs__qgemm_ref(m, k, p, w, k, col, p, 1, ref + canary, ldc, 1, &prm);

    qs_qdconv *dc = NULL;
    if (!qs__qdconv_supported(&s, m, false)) fail(&s, m, t, it, "shape not supported");
    g_fast += qs__qdconv_supported(&s, m, true);
    ASSERT_OK(qs__qdconv_create(&s, m, w, g_cfg->name, &dc));
    void *scratch = malloc(qs__qdconv_scratch_size(dc));
    qs__qdconv_run(dc, x, got + canary, ldc, &prm, scratch, it % 3 == 0 ? g_pool : NULL);
    for (size_t i = 0; i < bytes; i++) {
        if (ref[i] == got[i]) continue;
        char msg[160];
        if (i < canary || i >= bytes - canary) {
            snprintf(msg, sizeof msg, "wrote outside the output (byte %zu)", i);
        } else {
            const size_t e = (i - canary) / es;
            snprintf(msg, sizeof msg, "C[%zu][%zu] differs (byte %zu: ref %d got %d)", e / ldc,
                     e % ldc, i, ref[i], got[i]);
        }
        fail(&s, m, t, it, msg);
    }
    qs__qdconv_destroy(dc);
    free(scratch);
    free(ref);
    free(got);
    free(col);
    free(w);
    free(x);
    free(bias);
    free(scale);
    free(fbias);
}

int main(void) {
    const char *env = getenv("QS_TEST_SEED");
    g_seed = env ? strtoull(env, NULL, 0) : UINT64_C(0x5eedd0c4);
    if (!g_seed) g_seed = 1;
    ASSERT_OK(qs__pool_create(3, &g_pool));
    size_t count;
    const struct qs_qgemm_config *cfgs = qs__qgemm_configs(&count);
    int ran = 0;
    for (size_t i = 0; i < count; i++) {
        g_cfg = &cfgs[i];
        if (!qs__qgemm_config_supported(g_cfg)) {
            printf("SKIP %s: the CPU lacks its ISA\n", g_cfg->name);
            continue;
        }
        if (g_cfg->kr != 4 || g_cfg->w_elem != 1 || g_cfg->x_bias != 0) {
            printf("SKIP %s: not the c4 byte layout\n", g_cfg->name);
            continue;
        }
        g_state = g_seed;
        long before = g_cases, fast = g_fast;
        for (int it = 0; it < 400; it++) run_case(it);
        printf("ok   %s (%ld cases, %ld where the direct path is the fast one)\n", g_cfg->name,
               g_cases - before, g_fast - fast);
        ran++;
    }
    qs__pool_destroy(g_pool);
    if (!ran) QS_TEST_SKIP("no c4 integer GEMM variant can run on this CPU");
    printf("%d variants, %ld cases, seed %" PRIu64 "\n", ran, g_cases, g_seed);
    return 0;
}
