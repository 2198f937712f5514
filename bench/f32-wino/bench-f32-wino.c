// fp32 3x3 convolution, single thread: stride 1, Winograd F(4x4, 3x3) against the direct
// implicit-GEMM kernel it replaces (the same table without the Winograd stages); stride 2,
// the conv over output channels (conv_oc) against the stride-phase implicit GEMM it
// replaces; both against im2col + OpenBLAS sgemm, on the shapes of CIFAR ResNets and a few
// others. Rows are numbered over both tables (SHAPE ROW picks one).
// Outputs are compared before anything is timed; times are the best of N runs after a
// warm-up. Usage: bench-f32-wino [BATCH (default 100)] [REPEATS (default 7)] [SHAPE ROW]
#include "kernels/f32.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)(rng >> 40) / 8388608.0f - 1.0f;
}

struct run {
    struct qs_f32_conv_desc d;
    const float *x, *w, *b;
    float *wpk, *y;
    void *scratch;
};

static void prepare(struct run *r, bool packed) {
    r->wpk = NULL;
    if (packed) {
        r->wpk = qs__aligned_alloc(sizeof(float) * qs__f32_conv_packed_size(&r->d));
        qs__f32_conv_pack(&r->d, r->w, r->wpk);
    }
    size_t sb = qs__f32_conv_scratch_bytes(&r->d, packed);
    r->scratch = qs__aligned_alloc(sb ? sb : 64);
}

static double best_ms(struct run *r, int reps) {
    qs__f32_conv(&r->d, r->x, r->w, r->wpk, r->b, NULL, r->y, r->scratch, NULL);  // warm-up
    double best = 1e30;
    for (int i = 0; i < reps; i++) {
        const double t0 = now();
        qs__f32_conv(&r->d, r->x, r->w, r->wpk, r->b, NULL, r->y, r->scratch, NULL);
        const double t = now() - t0;
        best = t < best ? t : best;
    }
    return best * 1e3;
}

// Runs d three ways: packed with table `fast`, packed with `alt`, and im2col + sgemm (no
// packed weights); compares the outputs first (relative to alt's largest output), then
// times each. Returns false when they differ.
static bool compare(const struct qs_f32_conv_desc *d0, const struct qs_f32_kernels *fast,
                    const struct qs_f32_kernels *alt, int reps, double ms[3], double *rel) {
    struct qs_f32_conv_desc d = *d0;
    const size_t xn = (size_t)(d.batch * d.c_in * qs__f32_window_in_size(&d.win));
    const size_t yn = (size_t)(d.batch * d.c_out * qs__f32_window_out_size(&d.win));
    const size_t wn = (size_t)(d.c_out * d.c_in * qs__f32_window_k_size(&d.win));
    float *x = qs__aligned_alloc(sizeof(float) * xn);
    float *w = qs__aligned_alloc(sizeof(float) * wn);
    float *b = qs__aligned_alloc(sizeof(float) * (size_t)d.c_out);
    float *y[3];
    for (int i = 0; i < 3; i++) y[i] = qs__aligned_alloc(sizeof(float) * yn);
    for (size_t i = 0; i < xn; i++) x[i] = frand();
    for (size_t i = 0; i < wn; i++) w[i] = frand() * 0.2f;
    for (int64_t i = 0; i < d.c_out; i++) b[i] = frand();
    struct run r[3];
    for (int i = 0; i < 3; i++) {
        r[i] = (struct run){d, x, w, b, NULL, y[i], NULL};
        r[i].d.kt = i == 1 ? alt : fast;
        prepare(&r[i], i < 2);
    }
    // Verify first, on nonzero data.
    for (int i = 0; i < 3; i++)
        qs__f32_conv(&r[i].d, x, w, r[i].wpk, b, NULL, y[i], r[i].scratch, NULL);
    double diff = 0.0, scale = 0.0;
    for (size_t i = 0; i < yn; i++) {
        diff = fmax(diff, fabs((double)y[0][i] - y[1][i]));
        diff = fmax(diff, fabs((double)y[0][i] - y[2][i]));
        scale = fmax(scale, fabs((double)y[1][i]));
    }
    *rel = scale > 0.0 ? diff / scale : INFINITY;
    const bool ok = *rel <= 1e-4;
    if (!ok) fprintf(stderr, "outputs differ (%.1e of %.1e): not timing\n", diff, scale);
    for (int i = 0; i < 3 && ok; i++) ms[i] = best_ms(&r[i], reps);
    for (int i = 0; i < 3; i++) {
        qs__aligned_free(r[i].wpk);
        qs__aligned_free(r[i].scratch);
        qs__aligned_free(y[i]);
    }
    qs__aligned_free(x);
    qs__aligned_free(w);
    qs__aligned_free(b);
    return ok;
}

static void square_desc(struct qs_f32_conv_desc *d, int64_t batch, int64_t c_in,
                        int64_t c_out, int64_t hw, int64_t stride) {
    memset(d, 0, sizeof *d);
    qs__f32_window_init(&d->win);
    d->batch = batch;
    d->groups = 1;
    d->c_in = c_in;
    d->c_out = c_out;
    d->win.in[1] = d->win.in[2] = hw;
    d->win.out[1] = d->win.out[2] = (hw + 2 - 3) / stride + 1;
    d->win.k[1] = d->win.k[2] = 3;
    d->win.stride[1] = d->win.stride[2] = stride;
    d->win.pad[1] = d->win.pad[2] = d->win.pad_end[1] = d->win.pad_end[2] = 1;
    d->lo = 0.0f;
    d->hi = INFINITY;
}

int main(int argc, char **argv) {
    const int64_t batch = argc > 1 ? atoll(argv[1]) : 100;
    const int reps = argc > 2 ? atoi(argv[2]) : 7;
    const int only = argc > 3 ? atoi(argv[3]) : -1;  // one shape (row index), for profiling
    const struct qs_f32_kernels *fast = qs__f32_kernels();
    if (!fast->wino_gemm) {
        printf("the fp32 table here (%s) has no Winograd stages: nothing to compare\n", fast->isa);
        return 0;
    }
    struct qs_f32_kernels direct_tbl = *fast;
    direct_tbl.wino_input = NULL, direct_tbl.wino_gemm = NULL, direct_tbl.wino_output = NULL;
    static const int shapes[][3] = {{8, 8, 32},   {16, 16, 32}, {32, 32, 16}, {64, 64, 8},
                                    {64, 64, 56}, {128, 128, 28}, {256, 256, 14}};
    printf("fp32 3x3 stride-1 conv, pad 1, batch %lld, one thread, table %s, best of %d\n",
           (long long)batch, fast->isa, reps);
    printf("| c_in | c_out | image | GFLOP | winograd ms | direct ms | im2col+sgemm ms |"
           " direct / winograd | sgemm / winograd | max rel. diff |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    size_t row = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++, row++) {
        if (only >= 0 && (size_t)only != row) continue;
        struct qs_f32_conv_desc d;
        const int64_t hw = shapes[s][2];
        square_desc(&d, hw >= 56 ? (batch < 8 ? batch : 8) : batch, shapes[s][0], shapes[s][1],
                    hw, 1);
        double ms[3], rel;
        struct qs_f32_wino g;
        d.kt = fast;
        const bool wino = qs__f32_wino_plan(&d, &g);
        if (!compare(&d, fast, &direct_tbl, reps, ms, &rel)) return 1;
        const double gflop = 2.0 * (double)(d.batch * d.c_out * hw * hw * d.c_in * 9) * 1e-9;
        printf("| %lld | %lld | %lldx%lld (batch %lld) | %.3f | %.3f%s | %.3f | %.3f | %.2f | "
               "%.2f | %.1e |\n",
               (long long)d.c_in, (long long)d.c_out, (long long)hw, (long long)hw,
               (long long)d.batch, gflop, ms[0], wino ? "" : " (direct)", ms[1], ms[2],
               ms[1] / ms[0], ms[2] / ms[0], rel);
    }
    // Strided convs: the conv over output channels (conv_oc) against the stride-phase
    // implicit GEMM it replaces (the same table without conv_oc) and im2col + sgemm. The
    // last row is below conv_oc's bounds (27 multiply-adds per output): both columns run
    // the phases there.
    if (!fast->conv_oc) {
        printf("\nthe fp32 table here (%s) has no conv_oc: strided convs not compared\n",
               fast->isa);
        return 0;
    }
    struct qs_f32_kernels phase_tbl = *fast;
    phase_tbl.conv_oc = NULL;
    static const int strided[][4] = {{16, 32, 32, 100}, {32, 64, 16, 100}, {64, 128, 56, 8},
                                     {3, 64, 224, 1}};
    printf("\nfp32 3x3 stride-2 conv, pad 1, one thread, table %s, best of %d\n", fast->isa,
           reps);
    printf("| c_in | c_out | image | GFLOP | conv_oc ms | phases ms | im2col+sgemm ms |"
           " phases / conv_oc | sgemm / conv_oc | max rel. diff |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t s = 0; s < sizeof strided / sizeof strided[0]; s++, row++) {
        if (only >= 0 && (size_t)only != row) continue;
        struct qs_f32_conv_desc d;
        const int64_t hw = strided[s][2];
        const int64_t b = strided[s][3] == 100 ? batch : QS_MIN(batch, strided[s][3]);
        square_desc(&d, b, strided[s][0], strided[s][1], hw, 2);
        double ms[3], rel;
        if (!compare(&d, fast, &phase_tbl, reps, ms, &rel)) return 1;
        const int64_t ohw = d.win.out[1] * d.win.out[2];
        const double gflop = 2.0 * (double)(d.batch * d.c_out * ohw * d.c_in * 9) * 1e-9;
        printf("| %lld | %lld | %lldx%lld (batch %lld) | %.3f | %.3f | %.3f | %.3f | %.2f | "
               "%.2f | %.1e |\n",
               (long long)d.c_in, (long long)d.c_out, (long long)hw, (long long)hw,
               (long long)d.batch, gflop, ms[0], ms[1], ms[2],
               ms[1] / ms[0], ms[2] / ms[0], rel);
    }
    return 0;
}
