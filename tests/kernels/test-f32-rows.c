// AVX2 row kernels (bias + activation, affine, row mean/max, softmax, moments, layernorm)
// against the scalar references, on seeded random shapes including the vector-tail sizes.
#include "f32-test-util.h"

static const struct qs_f32_kernels *ref, *fast;
static char what[256];

static size_t pick_n(int i) {
    // Every size around the vector widths first, then random ones up to a few thousand.
    return i < 70 ? (size_t)i : (size_t)f32t_int(1, 3000);
}

static void test_bias_act(int i) {
    size_t rows = (size_t)f32t_int(1, 5), n = pick_n(i), ldy = n + (size_t)f32t_int(0, 9);
    size_t total = rows * ldy;
    float *a = f32t_alloc(total), *b = f32t_alloc(total), *bias = f32t_alloc(rows);
    f32t_fill(a, total);
    memcpy(b, a, sizeof(float) * total);
    f32t_fill(bias, rows);
    int mode = (int)f32t_int(0, 3);
    float lo = mode == 0 ? -INFINITY : mode == 1 ? 0.0f : -0.25f;
    float hi = mode == 3 ? 0.5f : INFINITY;
    const float *bp = mode == 2 ? NULL : bias;
    if (n > 3) a[3] = b[3] = NAN;  // NaN passes through the clamp in both
    ref->bias_act(rows, n, a, ldy, bp, lo, hi);
    fast->bias_act(rows, n, b, ldy, bp, lo, hi);
    snprintf(what, sizeof what, "bias_act rows=%zu n=%zu ldy=%zu mode=%d", rows, n, ldy, mode);
    f32t_near(b, a, total, 0.0f, 0.0f, what);
    f32t_check_guard(b, total, what);
    qs__aligned_free(a);
    qs__aligned_free(b);
    qs__aligned_free(bias);
}

static void test_affine(int i) {
    size_t rows = (size_t)f32t_int(1, 4), n = pick_n(i), total = rows * n;
    float *x = f32t_alloc(total), *a = f32t_alloc(total), *b = f32t_alloc(total);
    float *s = f32t_alloc(rows), *t = f32t_alloc(rows);
    f32t_fill(x, total);
    f32t_fill(s, rows);
    f32t_fill(t, rows);
    ref->affine_rows(rows, n, x, a, s, t);
    fast->affine_rows(rows, n, x, b, s, t);
    snprintf(what, sizeof what, "affine_rows rows=%zu n=%zu", rows, n);
    f32t_near(b, a, total, 1e-6f, 1e-6f, what);
    f32t_check_guard(b, total, what);
    // In place.
    memcpy(b, x, sizeof(float) * total);
    fast->affine_rows(rows, n, b, b, s, t);
    f32t_near(b, a, total, 1e-6f, 1e-6f, what);
    qs__aligned_free(x);
    qs__aligned_free(a);
    qs__aligned_free(b);
    qs__aligned_free(s);
    qs__aligned_free(t);
}

static void test_reductions(int i) {
    size_t rows = (size_t)f32t_int(1, 4), n = pick_n(i) + 1, total = rows * n;
    float *x = f32t_alloc(total), *a = f32t_alloc(rows), *b = f32t_alloc(rows);
    f32t_fill(x, total);
    ref->row_mean(rows, n, x, a);
    fast->row_mean(rows, n, x, b);
    snprintf(what, sizeof what, "row_mean rows=%zu n=%zu", rows, n);
    f32t_near(b, a, rows, 1e-6f, 1e-5f, what);
    f32t_check_guard(b, rows, what);
    // All-negative rows catch a tail that lets padding zeros win the max.
    for (size_t j = 0; j < total; j++) x[j] = -1.0f - fabsf(x[j]);
    ref->row_max(rows, n, x, a);
    fast->row_max(rows, n, x, b);
    snprintf(what, sizeof what, "row_max rows=%zu n=%zu", rows, n);
    f32t_near(b, a, rows, 0.0f, 0.0f, what);
    f32t_check_guard(b, rows, what);
    qs__aligned_free(x);
    qs__aligned_free(a);
    qs__aligned_free(b);
}

static void test_softmax(int i) {
    size_t rows = (size_t)f32t_int(1, 4), n = pick_n(i) + 1, total = rows * n;
    float *x = f32t_alloc(total), *a = f32t_alloc(total), *b = f32t_alloc(total);
    float scale = i % 3 == 0 ? 100.0f : 5.0f;  // wide ranges reach exp's clamps
    for (size_t j = 0; j < total; j++) x[j] = f32t_float() * scale + (i % 5 == 0 ? 1000.0f : 0);
    for (int lg = 0; lg < 2; lg++) {
        ref->softmax(rows, n, x, a, lg);
        fast->softmax(rows, n, x, b, lg);
        snprintf(what, sizeof what, "%s rows=%zu n=%zu", lg ? "logsoftmax" : "softmax", rows, n);
        f32t_near(b, a, total, lg ? 2e-4f : 1e-6f, 1e-5f, what);
        f32t_check_guard(b, total, what);
        memcpy(b, x, sizeof(float) * total);
        fast->softmax(rows, n, b, b, lg);  // in place
        f32t_near(b, a, total, lg ? 2e-4f : 1e-6f, 1e-5f, what);
    }
    qs__aligned_free(x);
    qs__aligned_free(a);
    qs__aligned_free(b);
}

static void test_norm(int i) {
    size_t rows = (size_t)f32t_int(1, 4), n = pick_n(i) + 1, total = rows * n;
    float *x = f32t_alloc(total), *ya = f32t_alloc(total), *yb = f32t_alloc(total);
    float *g = f32t_alloc(n), *be = f32t_alloc(n);
    float ma[4], ra[4], mb[4], rb[4];
    // An offset mean tests the two-pass variance.
    for (size_t j = 0; j < total; j++) x[j] = f32t_float() + (i % 4 == 0 ? 50.0f : 0.0f);
    f32t_fill(g, n);
    f32t_fill(be, n);
    ref->moments(rows, n, x, 1e-5f, ma, ra);
    fast->moments(rows, n, x, 1e-5f, mb, rb);
    snprintf(what, sizeof what, "moments mean rows=%zu n=%zu", rows, n);
    f32t_near(mb, ma, rows, 1e-5f, 1e-5f, what);
    snprintf(what, sizeof what, "moments rstd rows=%zu n=%zu", rows, n);
    f32t_near(rb, ra, rows, 1e-4f, 2e-3f, what);
    for (int with_beta = 0; with_beta < 2; with_beta++) {
        ref->layernorm(rows, n, x, ma, ra, g, with_beta ? be : NULL, ya);
        fast->layernorm(rows, n, x, ma, ra, g, with_beta ? be : NULL, yb);
        snprintf(what, sizeof what, "layernorm rows=%zu n=%zu beta=%d", rows, n, with_beta);
        f32t_near(yb, ya, total, 1e-5f, 1e-5f, what);
        f32t_check_guard(yb, total, what);
    }
    qs__aligned_free(x);
    qs__aligned_free(ya);
    qs__aligned_free(yb);
    qs__aligned_free(g);
    qs__aligned_free(be);
}

int main(void) {
    ref = qs__f32_kernels_ref();
    fast = qs__f32_kernels_avx2();
    if (!fast) QS_TEST_SKIP("AVX2+FMA kernels not built or not supported by this CPU");
    f32t_seed(20240601);
    for (int i = 0; i < 200; i++) {
        test_bias_act(i);
        test_affine(i);
        test_reductions(i);
        test_softmax(i);
        test_norm(i);
    }
    printf("f32 row kernels: avx2 matches ref\n");
    return 0;
}
