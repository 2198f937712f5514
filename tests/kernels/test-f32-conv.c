// Convolution: the sgemm (im2col) path, the depthwise path and the packed stride-1
// implicit-GEMM path of qs__f32_conv, and qs__f32_conv_transpose, against naive direct
// summation on seeded random shapes (1-D/2-D/3-D, groups, strides, dilations, asymmetric
// pads, batch, fused clamp, fused residual), the packed path with every kernel table the
// machine has. Also the AVX2 and AVX-512 stride-1 kernels against their scalar reference,
// with row geometry (dropped columns, implicit padding) where the table takes it, and the
// AVX-512 conv over output channels against its scalar reference, bit for bit.
#include "f32-test-util.h"

static char what[512];

static void random_desc(struct qs_f32_conv_desc *d, int i) {
    memset(d, 0, sizeof *d);
    qs__f32_window_init(&d->win);
    const int nsp = i % 12 == 0 ? 3 : i % 12 == 1 ? 1 : 2;
    d->batch = f32t_int(1, 3);
    d->groups = i % 5 == 0 ? f32t_int(2, 4) : 1;
    d->c_in = d->groups * f32t_int(1, 6);
    d->c_out = d->groups * f32t_int(1, 9);
    if (i % 7 == 0) d->c_in = d->c_out = d->groups = f32t_int(2, 8);  // depthwise
    for (;;) {
        bool ok = true;
        for (int j = 3 - nsp; j < 3; j++) {
            struct qs_f32_window *w = &d->win;
            w->in[j] = f32t_int(1, j == 0 ? 5 : 24);
            w->k[j] = f32t_int(1, j == 0 ? 2 : 4);
            w->stride[j] = i % 3 == 0 ? 1 : f32t_int(1, 3);
            w->dil[j] = f32t_int(1, 6) == 1 ? 2 : 1;
            w->pad[j] = f32t_int(0, w->k[j]);
            w->pad_end[j] = f32t_int(0, w->k[j]);
            int64_t span = w->in[j] + w->pad[j] + w->pad_end[j] - ((w->k[j] - 1) * w->dil[j] + 1);
            if (span < 0) ok = false;
            else w->out[j] = span / w->stride[j] + 1;
        }
        if (ok) break;
    }
    int act = (int)f32t_int(0, 2);
    d->lo = act == 0 ? -INFINITY : act == 1 ? 0.0f : -0.5f;
    d->hi = act == 2 ? 0.75f : INFINITY;
}

static void describe(const struct qs_f32_conv_desc *d, const char *path) {
    const struct qs_f32_window *w = &d->win;
    snprintf(what, sizeof what,
             "%s: N%lld Cin%lld Cout%lld g%lld in %lldx%lldx%lld k %lldx%lldx%lld "
             "s %lld,%lld,%lld d %lld,%lld,%lld pad %lld,%lld,%lld out %lldx%lldx%lld",
             path, (long long)d->batch, (long long)d->c_in, (long long)d->c_out,
             (long long)d->groups, (long long)w->in[0], (long long)w->in[1],
             (long long)w->in[2], (long long)w->k[0], (long long)w->k[1], (long long)w->k[2],
             (long long)w->stride[0], (long long)w->stride[1], (long long)w->stride[2],
             (long long)w->dil[0], (long long)w->dil[1], (long long)w->dil[2],
             (long long)w->pad[0], (long long)w->pad[1], (long long)w->pad[2],
             (long long)w->out[0], (long long)w->out[1], (long long)w->out[2]);
}

// Every path of qs__f32_conv on `d` against direct summation: the sgemm or depthwise path,
// then the packed path with every kernel table this machine has.
static void check_conv(struct qs_f32_conv_desc d, int i) {
    const size_t xn = (size_t)(d.batch * d.c_in * qs__f32_window_in_size(&d.win));
    const size_t yn = (size_t)(d.batch * d.c_out * qs__f32_window_out_size(&d.win));
    const size_t wn = (size_t)(d.c_out * d.c_in / d.groups * qs__f32_window_k_size(&d.win));
    float *x = f32t_alloc(xn), *w = f32t_alloc(wn), *b = f32t_alloc((size_t)d.c_out);
    float *want = f32t_alloc(yn), *got = f32t_alloc(yn), *res = f32t_alloc(yn);
    f32t_fill(x, xn);
    f32t_fill(w, wn);
    f32t_fill(b, (size_t)d.c_out);
    f32t_fill(res, yn);
    const float *bias = i % 4 == 3 ? NULL : b;
    // Every other case adds a residual (a fused Add) before the clamp.
    const float *sum = i % 2 ? res : NULL;
    {
        struct qs_f32_conv_desc dr = d;
        dr.lo = sum ? -INFINITY : d.lo;
        dr.hi = sum ? INFINITY : d.hi;
        qs__f32_conv_direct_ref(&dr, x, w, bias, want);
        for (size_t j = 0; sum && j < yn; j++) {
            float v = want[j] + sum[j];
            v = v < d.lo ? d.lo : v;
            want[j] = v > d.hi ? d.hi : v;
        }
    }

    // sgemm / depthwise path (no packed weights).
    size_t sb = qs__f32_conv_scratch_bytes(&d, false);
    void *scratch = qs__aligned_alloc(sb ? sb : 1);
    qs__f32_conv(&d, x, w, NULL, bias, sum, got, scratch, NULL);
    describe(&d, qs__f32_conv_is_depthwise(&d) ? "depthwise" : "im2col+sgemm");
    f32t_near(got, want, yn, 1e-4f, 1e-4f, what);
    f32t_check_guard(got, yn, what);
    qs__aligned_free(scratch);

    // Packed implicit GEMM (image in place, padded, stride phases or im2col), with every
    // kernel table this machine has.
    const struct qs_f32_kernels *tables[3] = {qs__f32_kernels_ref(), qs__f32_kernels_avx2(),
                                              qs__f32_kernels_avx512()};
    for (int ti = 0; ti < 3; ti++) {
        if (!tables[ti]) continue;
        d.kt = tables[ti];
        size_t pk = qs__f32_conv_packed_size(&d);
        if (!pk) break;
        float *wpk = f32t_alloc(pk);
        qs__f32_conv_pack(&d, w, wpk);
        sb = qs__f32_conv_scratch_bytes(&d, true);
        scratch = qs__aligned_alloc(sb ? sb : 1);
        for (size_t j = 0; j < yn; j++) got[j] = NAN;
        qs__f32_conv(&d, x, w, wpk, bias, sum, got, scratch, NULL);
        char path[64];
        snprintf(path, sizeof path, "packed (%s)%s", d.kt->isa, sum ? " + sum" : "");
        describe(&d, path);
        f32t_near(got, want, yn, 1e-4f, 1e-4f, what);
        f32t_check_guard(got, yn, what);
        qs__aligned_free(scratch);
        qs__aligned_free(wpk);
    }
    qs__aligned_free(x);
    qs__aligned_free(w);
    qs__aligned_free(b);
    qs__aligned_free(want);
    qs__aligned_free(got);
    qs__aligned_free(res);
}

static void test_conv(int i) {
    struct qs_f32_conv_desc d;
    random_desc(&d, i);
    check_conv(d, i);
}

static void test_conv_transpose(int i) {
    struct qs_f32_conv_desc d;
    random_desc(&d, i);
    // The adjoint geometry: win.in is the output image; make sure every input position
    // maps somewhere (win.out as for a conv of that image).
    const size_t xn = (size_t)(d.batch * d.c_in * qs__f32_window_out_size(&d.win));
    const size_t yn = (size_t)(d.batch * d.c_out * qs__f32_window_in_size(&d.win));
    const size_t wn = (size_t)(d.c_in * d.c_out / d.groups * qs__f32_window_k_size(&d.win));
    float *x = f32t_alloc(xn), *w = f32t_alloc(wn), *b = f32t_alloc((size_t)d.c_out);
    float *want = f32t_alloc(yn), *got = f32t_alloc(yn);
    f32t_fill(x, xn);
    f32t_fill(w, wn);
    f32t_fill(b, (size_t)d.c_out);
    const float *bias = i % 4 == 3 ? NULL : b;
    qs__f32_conv_transpose_direct_ref(&d, x, w, bias, want);
    size_t sb = qs__f32_conv_transpose_scratch_bytes(&d);
    void *scratch = qs__aligned_alloc(sb ? sb : 1);
    qs__f32_conv_transpose(&d, x, w, bias, got, scratch);
    describe(&d, "conv_transpose");
    f32t_near(got, want, yn, 1e-4f, 1e-4f, what);
    f32t_check_guard(got, yn, what);
    qs__aligned_free(scratch);
    qs__aligned_free(x);
    qs__aligned_free(w);
    qs__aligned_free(b);
    qs__aligned_free(want);
    qs__aligned_free(got);
}

// A stride-1 kernel against the scalar one: position ranges not multiple of the tile, m
// not multiple of MR; with row geometry (dropped columns, implicit padding, a residual)
// when the table takes it.
static void test_s1_kernel(const struct qs_f32_kernels *fast) {
    const struct qs_f32_kernels *ref = qs__f32_kernels_ref();
    for (int i = 0; i < 600; i++) {
        const bool rows = fast->conv_s1_rows && i % 2 == 1;
        size_t m = (size_t)f32t_int(1, 20), c = (size_t)f32t_int(1, 12);
        size_t taps = (size_t)f32t_int(1, 9), plane = (size_t)f32t_int(1, 80);
        int64_t off[9];
        int32_t dy[9], dx[9];
        size_t row = 0, out_w = 0, h = 0;
        const bool masked = rows && i % 4 == 1;
        if (i % 10 == 8 && !masked) {
            // Many channels of a 1x1 conv: the AVX-512 kernel takes them in blocks with
            // partial sums in y.
            c = (size_t)f32t_int(150, 400);
            taps = 1;
        }
        for (size_t t = 0; t < taps; t++) off[t] = f32t_int(0, 20);
        size_t p_begin = (size_t)f32t_int(0, 3) * QS_F32_CONV_NR;
        size_t p_end = p_begin + (size_t)f32t_int(1, 70);
        if (rows) {
            row = (size_t)f32t_int(1, 40);
            h = (size_t)f32t_int(1, 12);
            out_w = masked ? row : (size_t)f32t_int(1, (int64_t)row);
            plane = h * row;
            if (masked) {
                // Taps anywhere around the cell, up to 3 rows/columns away.
                for (size_t t = 0; t < taps; t++) {
                    dy[t] = (int32_t)f32t_int(-3, 3);
                    dx[t] = (int32_t)f32t_int(-3, 3);
                    off[t] = dy[t] * (int64_t)row + dx[t];
                }
                p_begin = (size_t)f32t_int(0, (int64_t)(h * row) - 1) / QS_F32_CONV_NR *
                          QS_F32_CONV_NR;
                p_end = p_begin + (size_t)f32t_int(1, (int64_t)(h * row - p_begin));
            } else {
                plane += 20 + (size_t)f32t_int(0, 5);
            }
        }
        const size_t ldy = p_end + (size_t)f32t_int(0, 5);
        // Masked mode reads only inside the planes; the others past the end.
        size_t xn = c * plane + (masked ? 0 : p_end + QS_F32_CONV_NR + 20), k = c * taps;
        float *x = f32t_alloc(xn), *w = f32t_alloc(m * k), *wpk;
        float *bias = f32t_alloc(m), *a = f32t_alloc(m * ldy), *bb = f32t_alloc(m * ldy);
        float *sum = f32t_alloc(m * ldy);
        f32t_fill(x, xn);
        f32t_fill(w, m * k);
        f32t_fill(bias, m);
        f32t_fill(sum, m * ldy);
        wpk = f32t_alloc(qs__f32_conv_s1_packed_size(m, k, fast->conv_mr));
        qs__f32_conv_s1_pack(m, k, fast->conv_mr, w, wpk);
        for (size_t j = 0; j < m * ldy; j++) a[j] = bb[j] = -7.0f;
        struct qs_f32_conv_s1 cv = {.m = m, .c_in = c, .taps = taps, .off = off, .plane = plane,
                                    .mr = fast->conv_mr, .row = row, .out_w = out_w, .h = h};
        if (masked) {
            cv.dy = dy;
            cv.dx = dx;
        }
        if (rows && i % 3 == 0) cv.sum = sum;
        float lo = i % 2 ? 0.0f : -INFINITY;
        ref->conv_s1(&cv, x, wpk, i % 3 ? bias : NULL, lo, INFINITY, p_begin, p_end, a, ldy);
        fast->conv_s1(&cv, x, wpk, i % 3 ? bias : NULL, lo, INFINITY, p_begin, p_end, bb, ldy);
        snprintf(what, sizeof what,
                 "conv_s1 (%s) m=%zu c=%zu taps=%zu p=[%zu,%zu) ldy=%zu row=%zu out_w=%zu "
                 "h=%zu masked=%d sum=%d", fast->isa, m, c, taps, p_begin, p_end, ldy, row,
                 out_w, h, masked, cv.sum != NULL);
        f32t_near(bb, a, m * ldy, 1e-5f, 1e-5f, what);  // includes the untouched -7 gaps
        f32t_check_guard(bb, m * ldy, what);
        qs__aligned_free(x);
        qs__aligned_free(w);
        qs__aligned_free(wpk);
        qs__aligned_free(bias);
        qs__aligned_free(a);
        qs__aligned_free(bb);
        qs__aligned_free(sum);
    }
}

// Strided convs with enough output channels for the tables' conv_oc path (column stride 2,
// c_out >= 32, mostly long enough sums), every path against direct summation.
static void test_conv_oc_path(int i) {
    struct qs_f32_conv_desc d;
    memset(&d, 0, sizeof d);
    qs__f32_window_init(&d.win);
    d.batch = f32t_int(1, 3);
    d.groups = 1;
    // Mostly sums long enough for the path (c_in * taps >= 128, taps >= 4), some not.
    d.c_in = i % 4 ? f32t_int(8, 20) : f32t_int(1, 9);
    d.c_out = f32t_int(32, 70);
    struct qs_f32_window *w = &d.win;
    for (;;) {
        for (int j = 1; j < 3; j++) {
            w->in[j] = f32t_int(1, 24);
            w->k[j] = f32t_int(i % 4 ? 2 : 1, 4);
            w->stride[j] = j == 2 ? 2 : f32t_int(1, 3);
            w->dil[j] = f32t_int(1, 5) == 1 ? 2 : 1;
            w->pad[j] = f32t_int(0, w->k[j]);
            w->pad_end[j] = f32t_int(0, w->k[j]);
        }
        bool ok = true;
        for (int j = 1; j < 3; j++) {
            int64_t span = w->in[j] + w->pad[j] + w->pad_end[j] - ((w->k[j] - 1) * w->dil[j] + 1);
            if (span < 0) ok = false;
            else w->out[j] = span / w->stride[j] + 1;
        }
        if (ok) break;
    }
    d.lo = i % 3 == 0 ? -INFINITY : 0.0f;
    d.hi = i % 3 == 2 ? 0.75f : INFINITY;
    check_conv(d, i);
}

// A conv_oc kernel against qs__f32_conv_oc_ref, bit for bit (the same sums in the same
// order), on random geometry: every group range, lone and partial groups, channel tails,
// bias, residual and clamps; cells outside the groups must stay untouched.
static void test_oc_kernel(const struct qs_f32_kernels *fast) {
    for (int i = 0; i < 400; i++) {
        const size_t m = (size_t)f32t_int(1, 70), c = (size_t)f32t_int(1, 12);
        const size_t taps = (size_t)f32t_int(1, 9), oh = (size_t)f32t_int(1, 6);
        const size_t ow = (size_t)f32t_int(1, 30), sh = (size_t)f32t_int(1, 3);
        const size_t wp = 2 * ow + (size_t)f32t_int(0, 6), rows = sh * (oh - 1) + 3;
        const size_t plane = rows * wp + (size_t)f32t_int(0, 9);
        int64_t off[9];
        for (size_t t = 0; t < taps; t++) off[t] = f32t_int(0, 2 * (int64_t)wp);
        const size_t xn = c * plane + 2 * wp + 16, out = oh * ow;
        const size_t groups = oh * ((ow + 7) / 8);
        const size_t g_begin = (size_t)f32t_int(0, (int64_t)groups - 1);
        const size_t g_end = (size_t)f32t_int((int64_t)g_begin + 1, (int64_t)groups);
        float *x = f32t_alloc(xn), *w = f32t_alloc(m * c * taps), *bias = f32t_alloc(m);
        float *sum = f32t_alloc(m * out), *a = f32t_alloc(m * out), *bb = f32t_alloc(m * out);
        float *wpk = f32t_alloc(qs__f32_conv_s1_packed_size(m, c * taps, QS_F32_CONV_OC_MR));
        f32t_fill(x, xn);
        f32t_fill(w, m * c * taps);
        f32t_fill(bias, m);
        f32t_fill(sum, m * out);
        qs__f32_conv_s1_pack(m, c * taps, QS_F32_CONV_OC_MR, w, wpk);
        for (size_t j = 0; j < m * out; j++) a[j] = bb[j] = -7.0f;
        struct qs_f32_conv_oc cv = {.m = m, .c_in = c, .taps = taps, .off = off,
                                    .plane = plane, .wp = wp, .sh = sh, .oh = oh, .ow = ow,
                                    .sum = i % 3 == 0 ? sum : NULL};
        const float lo = i % 2 ? 0.0f : -INFINITY, hi = i % 5 == 0 ? 0.5f : INFINITY;
        const float *bv = i % 4 == 1 ? NULL : bias;
        qs__f32_conv_oc_ref(&cv, x, wpk, bv, lo, hi, g_begin, g_end, a);
        fast->conv_oc(&cv, x, wpk, bv, lo, hi, g_begin, g_end, bb);
        snprintf(what, sizeof what,
                 "conv_oc (%s) m=%zu c=%zu taps=%zu oh=%zu ow=%zu sh=%zu wp=%zu groups "
                 "[%zu,%zu) sum=%d bias=%d", fast->isa, m, c, taps, oh, ow, sh, wp, g_begin,
                 g_end, cv.sum != NULL, bv != NULL);
        if (memcmp(a, bb, sizeof(float) * m * out) != 0) {
            size_t j = 0;
            while (a[j] == bb[j]) j++;
            fprintf(stderr, "FAIL %s: y[%zu] = %.9g, reference %.9g\n", what, j, bb[j], a[j]);
            exit(1);
        }
        f32t_check_guard(bb, m * out, what);
        qs__aligned_free(x);
        qs__aligned_free(w);
        qs__aligned_free(bias);
        qs__aligned_free(sum);
        qs__aligned_free(a);
        qs__aligned_free(bb);
        qs__aligned_free(wpk);
    }
}

int main(void) {
    printf("fp32 kernels in use: %s\n", qs__f32_kernels()->isa);
    f32t_seed(42);
    for (int i = 0; i < 400; i++) test_conv(i);
    for (int i = 0; i < 200; i++) test_conv_transpose(i);
    for (int i = 0; i < 150; i++) test_conv_oc_path(i);
    const struct qs_f32_kernels *fast = qs__f32_kernels_avx2();
    if (fast) test_s1_kernel(fast);
    else printf("AVX2 stride-1 kernel not available: compared the reference path only\n");
    if ((fast = qs__f32_kernels_avx512()) != NULL) test_s1_kernel(fast);
    else printf("AVX-512 stride-1 kernel not available here\n");
    if (fast && fast->conv_oc) test_oc_kernel(fast);
    else printf("skipped: no conv_oc kernel (AVX-512) here; the strided path ran the others\n");
    printf("f32 conv: all paths match direct convolution\n");
    return 0;
}
