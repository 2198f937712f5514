// The direct convolution (qs__qdconv_run) of every integer GEMM variant with the c4 byte
// layout (the AVX-512 VNNI tile and interleave; the portable tile for the others) against an
// explicit im2col and the oracle qs__qgemm_ref, bit for bit: random stride-1 and stride-2
// geometries (kernel 1..7 x 1..7, asymmetric padding, 1-D, channels not a multiple of 4,
// output rows narrower and wider than a tile, two-row tiles), the CIFAR ResNet shapes,
// every x_zp, saturation edges, all output types, the thread pool, and canaries around the
// output. The input buffer ends at its last byte (ASan sees an over-read). Seeded
// (QS_TEST_SEED=<n> to replay); a failure prints the seed, the variant and the case.
#include "qconv-test.h"

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
    struct qconv_case c;
    qconv_case_make(&c, &s, m);
    const enum qs_qout t = c.prm.out_type;

    qs_qdconv *dc = NULL;
    if (!qs__qdconv_supported(&s, m, false)) fail(&s, m, t, it, "shape not supported");
    g_fast += qs__qdconv_supported(&s, m, true);
    ASSERT_OK(qs__qdconv_create(&s, m, c.w, g_cfg->name, &dc));
    void *scratch = malloc(qs__qdconv_scratch_size(dc));
    qs__qdconv_run(dc, c.x, 0, 1, c.got + c.canary, 0, c.ldc, &c.prm, scratch,
                   it % 3 == 0 ? g_pool : NULL);
    qconv_case_check(&c, &s, it);
    if (it % 4 == 1) {
        // Two images in one call, this case's image second: what the
        // first leaves in the scratch (padding, interleave) must not change its result.
        const size_t xb = s.channels * s.in_h * s.in_w, yb = m * c.ldc * c.es;
        uint8_t *x2 = malloc(2 * xb);
        unsigned char *y2 = malloc(2 * yb);
        for (size_t i = 0; i < xb; i++) x2[i] = (uint8_t)(c.x[i] ^ 0x5a);
        memcpy(x2 + xb, c.x, xb);
        qs__qdconv_run(dc, x2, xb, 2, y2, m * c.ldc, c.ldc, &c.prm, scratch, NULL);
        for (size_t n = 0; n < m; n++)
            if (memcmp(y2 + yb + n * c.ldc * c.es, c.got + c.canary + n * c.ldc * c.es,
                       c.p * c.es))
                fail(&s, m, t, it, "the second image of a batch differs");
        free(x2);
        free(y2);
    }
    qs__qdconv_destroy(dc);
    free(scratch);
    qconv_case_free(&c);
}

static const char *c4_only(const struct qs_qgemm_config *cfg) {
    return cfg->kr != 4 || cfg->w_elem != 1 || cfg->x_bias != 0 ? "not the c4 byte layout"
                                                                : NULL;
}

int main(void) {
    return qconv_main(UINT64_C(0x5eedd0c4), c4_only, run_case,
                      "where the direct path is the fast one");
}
