// Winograd F(4x4, 3x3) convolution (kernels/ref/f32-wino.c): every kernel table's stages
// against the scalar references, and the whole conv against the direct-summation oracle,
// over shapes that cover partial tiles, channel counts that are not multiples of 16, all
// paddings a 3x3 conv takes, batches spanning chunks, the fused residual and the clamp.
#include "f32-test-util.h"

#include <string.h>

static char what[256];
static double worst;  // largest |error| / tolerance of the whole-conv checks

struct wcase {
    struct qs_f32_conv_desc d;
    float *x, *w, *b, *res, *want;
    size_t xn, yn, wn;
};

static void make_case(struct wcase *c, int i) {
    struct qs_f32_conv_desc *d = &c->d;
    memset(c, 0, sizeof *c);
    qs__f32_window_init(&d->win);
    d->batch = f32t_int(1, 3);
    d->groups = 1;
    d->c_in = f32t_int(8, 70);
    d->c_out = f32t_int(8, 70);
    struct qs_f32_window *w = &d->win;
    for (int j = 1; j < 3; j++) {
        w->in[j] = f32t_int(2, 37);
        w->k[j] = 3;
        w->pad[j] = f32t_int(0, 2);
        w->pad_end[j] = f32t_int(0, 2);
        w->out[j] = w->in[j] + w->pad[j] + w->pad_end[j] - 2;
        if (w->out[j] < 2) w->pad_end[j] += 2 - w->out[j], w->out[j] = 2;
    }
    // Some cases hold many small images: chunks of several images, a partial last chunk.
    if (i % 5 == 0 && i % 7 != 6) {
        d->batch = f32t_int(20, 40);
        w->in[1] = w->in[2] = 8;
        w->pad[1] = w->pad[2] = w->pad_end[1] = w->pad_end[2] = 1;
        w->out[1] = w->out[2] = 8;
    }
    // And many 4x4 images with few channels: more images in a chunk than it has segments.
    if (i % 7 == 6) {
        d->batch = 150;
        d->c_in = f32t_int(12, 16);
        d->c_out = f32t_int(12, 16);
        w->in[1] = w->in[2] = w->out[1] = w->out[2] = 4;
        w->pad[1] = w->pad[2] = w->pad_end[1] = w->pad_end[2] = 1;
    }
    // Winograd takes 32 tiles or more over the batch.
    const int64_t per_image = ((w->out[1] + 3) / 4) * ((w->out[2] + 3) / 4);
    if (d->batch * per_image < 32) d->batch = (32 + per_image - 1) / per_image;
    d->lo = -INFINITY;
    d->hi = INFINITY;
    if (i % 3 == 1) d->lo = 0.0f;
    if (i % 3 == 2) d->lo = -1.0f, d->hi = 1.0f;
    c->xn = (size_t)(d->batch * d->c_in * qs__f32_window_in_size(w));
    c->yn = (size_t)(d->batch * d->c_out * qs__f32_window_out_size(w));
    c->wn = (size_t)(d->c_out * d->c_in * 9);
    c->x = f32t_alloc(c->xn);
    c->w = f32t_alloc(c->wn);
    c->b = f32t_alloc((size_t)d->c_out);
    c->res = f32t_alloc(c->yn);
    c->want = f32t_alloc(c->yn);
    f32t_fill(c->x, c->xn);
    f32t_fill(c->w, c->wn);
    f32t_fill(c->b, (size_t)d->c_out);
    f32t_fill(c->res, c->yn);
    snprintf(what, sizeof what,
             "case %d: batch %lld, c_in %lld, c_out %lld, in %lldx%lld, pad %lld/%lld %lld/%lld",
             i, (long long)d->batch, (long long)d->c_in, (long long)d->c_out,
             (long long)w->in[1], (long long)w->in[2], (long long)w->pad[1],
             (long long)w->pad_end[1], (long long)w->pad[2], (long long)w->pad_end[2]);
}

static void free_case(struct wcase *c) {
    qs__aligned_free(c->x);
    qs__aligned_free(c->w);
    qs__aligned_free(c->b);
    qs__aligned_free(c->res);
    qs__aligned_free(c->want);
}

// The whole conv with table kt against the oracle. Winograd's error grows with the
// channel count and the transforms' constants: a tolerance scaled by sqrt(9 c_in).
static void check_conv(struct wcase *c, const struct qs_f32_kernels *kt, bool with_sum,
                       bool with_bias) {
    struct qs_f32_conv_desc d = c->d;
    d.kt = kt;
    struct qs_f32_wino g;
    ASSERT_TRUE(qs__f32_wino_plan(&d, &g));
    const float *sum = with_sum ? c->res : NULL, *bias = with_bias ? c->b : NULL;
    {
        struct qs_f32_conv_desc dr = d;
        dr.lo = -INFINITY;
        dr.hi = INFINITY;
        qs__f32_conv_direct_ref(&dr, c->x, c->w, bias, c->want);
        for (size_t j = 0; j < c->yn; j++) {
            float v = c->want[j] + (sum ? sum[j] : 0.0f);
            v = v < d.lo ? d.lo : v;
            c->want[j] = v > d.hi ? d.hi : v;
        }
    }
    const size_t pk = qs__f32_conv_packed_size(&d);
    ASSERT_TRUE(pk == qs__f32_wino_packed_size(&g));
    float *wpk = f32t_alloc(pk), *got = f32t_alloc(c->yn);
    qs__f32_conv_pack(&d, c->w, wpk);
    const size_t sb = qs__f32_conv_scratch_bytes(&d, true);
    void *scratch = qs__aligned_alloc(sb);
    for (size_t j = 0; j < c->yn; j++) got[j] = NAN;
    qs__f32_conv(&d, c->x, c->w, wpk, bias, sum, got, scratch, NULL);
    char msg[320];
    snprintf(msg, sizeof msg, "%s, %s%s%s", what, kt->isa, with_sum ? ", sum" : "",
             with_bias ? ", bias" : "");
    const float tol = 2e-6f * sqrtf(9.0f * (float)d.c_in) * 12.0f;
    f32t_near(got, c->want, c->yn, tol, 1e-5f, msg);
    for (size_t j = 0; j < c->yn; j++) {
        const double e = fabs((double)got[j] - c->want[j]) / (tol + 1e-5 * fabs(c->want[j]));
        worst = e > worst ? e : worst;
    }
    f32t_check_guard(got, c->yn, msg);
    qs__aligned_free(scratch);
    qs__aligned_free(wpk);
    qs__aligned_free(got);
}

// The fast table's stages against the references, stage by stage on the same inputs.
static void check_stages(struct wcase *c, const struct qs_f32_kernels *kt) {
    struct qs_f32_conv_desc d = c->d;
    d.kt = kt;
    struct qs_f32_wino g;
    ASSERT_TRUE(qs__f32_wino_plan(&d, &g));
    const struct qs_f32_kernels *ref = qs__f32_kernels_ref();
    const size_t vn = 36 * g.vstride, mn = 36 * g.mstride;
    float *v0 = f32t_alloc(vn), *v1 = f32t_alloc(vn), *m0 = f32t_alloc(mn), *m1 = f32t_alloc(mn);
    // The first chunk's tile rows of image 0, as one segment (and its work buffer).
    const size_t nb = g.bands < g.th ? g.bands : g.th;
    const size_t wn = (4 * nb + 2) * g.wp * 16;
    float *u = f32t_alloc(qs__f32_wino_packed_size(&g)), *work = f32t_alloc(wn);
    float *y0 = f32t_alloc(c->yn), *y1 = f32t_alloc(c->yn);
    qs__f32_wino_pack(&g, c->w, u);
    for (size_t j = 0; j < vn; j++) v0[j] = v1[j] = 0.0f;
    ref->wino_input(&g, c->x, 0, nb, 0, v0, work);
    kt->wino_input(&g, c->x, 0, nb, 0, v1, work);
    f32t_check_guard(work, wn, "input stage work buffer");
    char msg[320];
    snprintf(msg, sizeof msg, "%s, %s input stage", what, kt->isa);
    f32t_near(v1, v0, vn, 1e-5f, 1e-6f, msg);
    f32t_check_guard(v1, vn, msg);
    const size_t nt = (nb * g.tw + 15) & ~(size_t)15;
    for (size_t xi = 0; xi < 36; xi++) {
        ref->wino_gemm(&g, nt, v0 + xi * g.vstride, u + xi * g.ci_pad * g.co_pad,
                       m0 + xi * g.mstride);
        kt->wino_gemm(&g, nt, v0 + xi * g.vstride, u + xi * g.ci_pad * g.co_pad,
                      m1 + xi * g.mstride);
    }
    snprintf(msg, sizeof msg, "%s, %s gemm stage", what, kt->isa);
    for (size_t xi = 0; xi < 36; xi++)
        f32t_near(m1 + xi * g.mstride, m0 + xi * g.mstride, nt * g.co_pad, 1e-4f,
                  1e-5f, msg);
    for (size_t j = 0; j < c->yn; j++) y0[j] = y1[j] = -7.0f;  // untouched rows must match
    ref->wino_output(&g, m0, 0, nb, 0, c->b, c->res, c->d.lo, c->d.hi, y0, work);
    kt->wino_output(&g, m0, 0, nb, 0, c->b, c->res, c->d.lo, c->d.hi, y1, work);
    f32t_check_guard(work, wn, "output stage work buffer");
    snprintf(msg, sizeof msg, "%s, %s output stage", what, kt->isa);
    f32t_near(y1, y0, c->yn, 1e-5f, 1e-6f, msg);
    f32t_check_guard(y1, c->yn, msg);
    float *bufs[] = {v0, v1, m0, m1, u, work, y0, y1};
    for (size_t j = 0; j < QS_COUNTOF(bufs); j++) qs__aligned_free(bufs[j]);
}

int main(void) {
    // Fixed seed: a failure names its case (shape, table, stage), which reproduces it.
    f32t_seed(7);
    const struct qs_f32_kernels *tables[3] = {qs__f32_kernels_ref(), qs__f32_kernels_avx2(),
                                              qs__f32_kernels_avx512()};
    int fast_cases[3] = {0};
    for (int i = 0; i < 40; i++) {
        struct wcase c;
        make_case(&c, i);
        for (int ti = 0; ti < 3; ti++) {
            if (!tables[ti] || !tables[ti]->wino_gemm) continue;
            struct qs_f32_conv_desc dt = c.d;
            dt.kt = tables[ti];
            struct qs_f32_wino gt;
            // Below the table's channel threshold the direct kernels keep the conv.
            if ((size_t)QS_MIN(c.d.c_in, c.d.c_out) < tables[ti]->wino_min_c) {
                ASSERT_TRUE(!qs__f32_wino_plan(&dt, &gt));
                continue;
            }
            check_conv(&c, tables[ti], i % 2 == 1, i % 4 != 3);
            if (ti > 0) check_stages(&c, tables[ti]), fast_cases[ti]++;
        }
        free_case(&c);
    }
    // Below the thresholds, and for other geometries, the direct kernels keep the conv.
    struct qs_f32_conv_desc d;
    memset(&d, 0, sizeof d);
    qs__f32_window_init(&d.win);
    d.batch = 1, d.groups = 1, d.c_in = 3, d.c_out = 16;
    d.win.in[1] = d.win.in[2] = d.win.out[1] = d.win.out[2] = 32;
    d.win.k[1] = d.win.k[2] = 3;
    d.win.pad[1] = d.win.pad[2] = d.win.pad_end[1] = d.win.pad_end[2] = 1;
    struct qs_f32_wino g;
    ASSERT_TRUE(!qs__f32_wino_plan(&d, &g));  // 3 input channels
    d.c_in = 16;
    d.win.in[1] = d.win.in[2] = d.win.out[1] = d.win.out[2] = 8;
    d.batch = 7;  // 28 tiles
    ASSERT_TRUE(!qs__f32_wino_plan(&d, &g));
    d.batch = 8;  // 32 tiles
    ASSERT_TRUE(qs__f32_wino_plan(&d, &g));
    d.batch = 1;
    d.win.in[1] = d.win.in[2] = d.win.out[1] = d.win.out[2] = 32;
    d.c_in = 16;
    ASSERT_TRUE(qs__f32_wino_plan(&d, &g));
    d.win.stride[1] = 2;
    ASSERT_TRUE(!qs__f32_wino_plan(&d, &g));
    d.win.stride[1] = 1, d.win.dil[2] = 2;
    ASSERT_TRUE(!qs__f32_wino_plan(&d, &g));
    d.win.dil[2] = 1;
    d.kt = qs__f32_kernels_avx2();
    if (d.kt) ASSERT_TRUE(qs__f32_wino_plan(&d, &g));  // the AVX2 table has the stages
    if (!fast_cases[1] && !fast_cases[2])
        printf("no AVX2/AVX-512 table on this machine: stages checked on ref only\n");
    printf("ok: 40 cases, %d with the AVX2 stages, %d with the AVX-512 stages; worst error "
           "%.2f of the tolerance\n", fast_cases[1], fast_cases[2], worst);
    return 0;
}
