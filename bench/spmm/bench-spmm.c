// SpMM benchmark (issue 4, Speed): C[m][n] = W[m][k] x X[k][n] with W pruned at random
// (unstructured, exactly the given sparsity) against OpenBLAS sgemm on the same shape and
// our dense int8 GEMM (qgemm), single thread, best of several calls after a warm-up, all
// timed in this run. Columns:
//
//   dense     OpenBLAS sgemm on the pruned W (zeros included) -- the reference (1.00x)
//   conv      our dense fp32 1x1 convolution on the same operands (the executor's dense
//             Conv path: packed weights, kernels/f32.h); f32/cv = conv / f32
//   f32       our fp32 SpMM (the kernel the dispatcher picks for the format), ratio = dense/f32
//   q8        our int8 SpMM, u8 output, ratio vs the dense fp32 sgemm
//   qgemm     our dense int8 GEMM on the same int8 weights (what int8 sparse must beat)
//   disp      the path the dispatcher takes (sparse when qs__spmm_pays, else sgemm): its
//             ratio vs dense; never below 1 up to noise is the goal
//
//   bench-spmm [--reps R] [--min-time S] [--format csr|bsr-4x1|...] [--sparsity 0.9]...
//              [--shape MxKxN]... [--sweep] [--cpu-time]
//
// --sweep runs sparsities 0.5 .. 0.98 and prints, per shape, the sparsity where fp32 and
// int8 sparse start to win (what kernels/config/spmm-config.c's table is built from).
// Every result is checked before timing: fp32 against sgemm (1e-4 relative to sum |W||X|),
// int8 against the oracle on a few rows, bit for bit.
#include "kernels/f32.h"
#include "kernels/ref/spmm-impl.h"

#include <cblas.h>
#include <math.h>
#include <string.h>
#include <time.h>

struct shape { size_t m, k, n; };
static const struct shape g_default_shapes[] = {
    {64, 1024, 3136}, {256, 256, 784}, {1280, 320, 49}, {768, 768, 128},
    {3072, 768, 128}, {768, 3072, 128}, {1024, 1024, 1024},
};

static clockid_t g_clock = CLOCK_MONOTONIC;
static int g_reps = 10;
static double g_min_time = 0.2;

static double now(void) {
    struct timespec t;
    clock_gettime(g_clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t g_rng = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}
static double unif(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

typedef void (*bench_fn)(void *ctx);
static double best_time(bench_fn fn, void *ctx) {
    fn(ctx);
    double best = INFINITY, start = now();
    for (int i = 0; i < g_reps || now() - start < g_min_time; i++) {
        double t0 = now();
        fn(ctx);
        double t = now() - t0;
        if (t < best) best = t;
        if (i > 100000) break;
    }
    return best;
}

struct ctx {
    struct shape s;
    const float *w, *x;
    float *c;
    const qs_spmm_weights *pw, *pq;
    const qs_qgemm_weights *qg;
    const uint8_t *xq;
    uint8_t *cq;
    struct qs_qgemm_params prm;
    void *scratch;
    struct qs_f32_conv_desc cd;
    float *wpk;
    void *cscratch;
};

static void run_sgemm(void *p) {
    struct ctx *c = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)c->s.m, (int)c->s.n, (int)c->s.k,
                1.0f, c->w, (int)c->s.k, c->x, (int)c->s.n, 0.0f, c->c, (int)c->s.n);
}
static void run_conv(void *p) {
    struct ctx *c = p;
    qs__f32_conv(&c->cd, c->x, c->w, c->wpk, NULL, NULL, c->c, c->cscratch, NULL);
}
static void run_f32(void *p) {
    struct ctx *c = p;
    qs__spmm_f32_run(c->pw, c->s.n, c->x, c->s.n, c->c, c->s.n, NULL, -INFINITY, INFINITY,
                     c->scratch, NULL);
}
static void run_q8(void *p) {
    struct ctx *c = p;
    qs__spmm_q8_run(c->pq, c->s.n, c->xq, c->s.n, c->cq, c->s.n, &c->prm, c->scratch, NULL);
}
static void run_qgemm(void *p) {
    struct ctx *c = p;
    qs__qgemm_run(c->qg, c->s.n, c->xq, c->s.n, 1, c->cq, c->s.n, 1, &c->prm, c->scratch, NULL);
}

struct result { double dense, conv, f32, q8, qgemm, disp; };

static int measure(struct shape s, double sparsity, enum qs_sparse_format fmt,
                   struct result *r, bool quiet) {
    const size_t m = s.m, k = s.k, n = s.n;
    float *w = malloc(sizeof(float) * m * k), *x = malloc(sizeof(float) * k * n);
    float *c = malloc(sizeof(float) * m * n), *cref = malloc(sizeof(float) * m * n);
    int8_t *wq = malloc(m * k);
    uint8_t *xq = malloc(k * n), *cq = malloc(m * n * 4);
    for (size_t i = 0; i < k * n; i++) x[i] = (float)(unif() * 2 - 1), xq[i] = (uint8_t)rnd();
    // Exactly round(sparsity * M*K) zeros (a random permutation prefix), or for 4x1 blocks
    // the same fraction of blocks.
    const size_t bh = fmt == QS_SPARSE_BSR_8X1 ? 8 : fmt == QS_SPARSE_BSR_4X1 ? 4 : 1;
    const size_t units = (m / bh) * k;
    size_t *perm = malloc(sizeof(size_t) * units);
    for (size_t i = 0; i < units; i++) perm[i] = i;
    for (size_t i = units; i > 1; i--) {
        size_t j = rnd() % i, t = perm[i - 1];
        perm[i - 1] = perm[j], perm[j] = t;
    }
    uint8_t *keep = calloc(m * k, 1);
    const size_t zeros = (size_t)llround(sparsity * (double)units);
    for (size_t u = zeros; u < units; u++) {
        size_t bi = perm[u] / k, j = perm[u] % k;
        for (size_t r0 = 0; r0 < bh; r0++) keep[(bi * bh + r0) * k + j] = 1;
    }
    for (size_t i = 0; i < m * k; i++) {
        w[i] = keep[i] ? (float)(unif() * 2 - 1) + 0.01f : 0.0f;
        int v = (int)(rnd() % 255) - 127;
        wq[i] = keep[i] ? (int8_t)(v ? v : 1) : 0;
    }
    size_t nnz = 0;
    for (size_t i = 0; i < m * k; i++) nnz += keep[i];
    qs_spmm_weights *pw = NULL, *pq = NULL;
    qs_qgemm_weights *qg = NULL;
    if (qs__spmm_pack_f32(fmt, m, k, w, k, &pw) || qs__spmm_pack_q8(fmt, m, k, wq, k, &pq) ||
        qs__qgemm_pack(m, k, wq, k, &qg)) {
        fprintf(stderr, "pack failed\n");
        return 1;
    }
    float *scale = malloc(sizeof(float) * m);
    for (size_t i = 0; i < m; i++) scale[i] = 1.0f / (float)(64 * (nnz / m + 1));
    struct ctx cx = {.s = s, .w = w, .x = x, .c = c, .pw = pw, .pq = pq, .qg = qg, .xq = xq,
                     .cq = cq};
    cx.prm = (struct qs_qgemm_params){.out_type = QS_QOUT_U8, .x_zp = 128, .scale = scale,
                                      .out_zp = 128, .qmin = 0, .qmax = 255};
    size_t sb = QS_MAX(qs__spmm_scratch_size(pq, n), qs__qgemm_scratch_size(qg, n));
    sb = QS_MAX(sb, qs__spmm_scratch_size(pw, n));
    cx.scratch = malloc(sb);
    // Our dense 1x1 conv: an image of 1 x N pixels, K channels in, M out.
    cx.cd = (struct qs_f32_conv_desc){.batch = 1, .c_in = (int64_t)k, .c_out = (int64_t)m,
                                      .groups = 1, .lo = -INFINITY, .hi = INFINITY};
    qs__f32_window_init(&cx.cd.win);
    cx.cd.win.in[2] = cx.cd.win.out[2] = (int64_t)n;
    size_t psz = qs__f32_conv_packed_size(&cx.cd);
    cx.wpk = psz ? qs__aligned_alloc(sizeof(float) * psz) : NULL;
    if (cx.wpk) qs__f32_conv_pack(&cx.cd, w, cx.wpk);
    cx.cscratch = qs__aligned_alloc(qs__f32_conv_scratch_bytes(&cx.cd, cx.wpk != NULL) + 64);
    // Verify first.
    run_conv(&cx);
    run_sgemm(&cx);
    memcpy(cref, c, sizeof(float) * m * n);
    run_f32(&cx);
    for (size_t i = 0; i < m; i += 1 + m / 17)
        for (size_t j = 0; j < n; j++) {
            double mag = 0;
            for (size_t kk = 0; kk < k; kk++) mag += fabs(w[i * k + kk] * x[kk * n + j]);
            if (fabs(c[i * n + j] - cref[i * n + j]) > 1e-4 * mag + 1e-20) {
                fprintf(stderr, "fp32 mismatch at (%zu,%zu): %g vs %g\n", i, j, c[i * n + j],
                        cref[i * n + j]);
                return 1;
            }
        }
    run_q8(&cx);
    uint8_t *qref = malloc(8 * n);
    size_t rows = QS_MIN(m, (size_t)8), r0 = m - rows;
    struct qs_qgemm_params pr = cx.prm;
    pr.scale = scale + r0;
    qs__spmm_q8_ref(rows, k, n, wq + r0 * k, k, xq, n, qref, n, &pr);
    if (memcmp(qref, cq + r0 * n, rows * n) != 0) {
        fprintf(stderr, "int8 mismatch\n");
        return 1;
    }
    r->dense = best_time(run_sgemm, &cx);
    r->conv = best_time(run_conv, &cx);
    r->f32 = best_time(run_f32, &cx);
    r->q8 = best_time(run_q8, &cx);
    r->qgemm = best_time(run_qgemm, &cx);
    r->disp = qs__spmm_pays(QS_SPMM_PEER_SGEMM, fmt, m, k, n, nnz) ? r->f32 : r->dense;
    if (!quiet)
        printf("%5zux%4zux%4zu %5.1f%% %8.3f %8.3f %8.3f %6.2fx %6.2fx %8.3f %6.2fx %8.3f "
               "%6.2fx %6.2fx\n",
               m, k, n, 100 * sparsity, 1e3 * r->dense, 1e3 * r->conv, 1e3 * r->f32,
               r->dense / r->f32, r->conv / r->f32, 1e3 * r->q8, r->dense / r->q8,
               1e3 * r->qgemm, r->qgemm / r->q8, r->dense / r->disp);
    fflush(stdout);
    qs__spmm_weights_destroy(pw);
    qs__spmm_weights_destroy(pq);
    qs__qgemm_weights_destroy(qg);
    free(w), free(x), free(c), free(cref), free(wq), free(xq), free(cq), free(perm), free(keep);
    free(scale), free(cx.scratch), free(qref);
    qs__aligned_free(cx.wpk);
    qs__aligned_free(cx.cscratch);
    return 0;
}

int main(int argc, char **argv) {
    struct shape shapes[64];
    size_t nshapes = 0;
    double sp[32];
    size_t nsp = 0;
    bool sweep = false;
    enum qs_sparse_format fmt = QS_SPARSE_CSR;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) g_reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min-time") && i + 1 < argc) g_min_time = atof(argv[++i]);
        else if (!strcmp(argv[i], "--cpu-time")) g_clock = CLOCK_THREAD_CPUTIME_ID;
        else if (!strcmp(argv[i], "--sweep")) sweep = true;
        else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            int f = qs__sparse_format_parse(argv[++i]);
            if (f <= 0) {
                fprintf(stderr, "bench-spmm: unknown format '%s'\n", argv[i]);
                return 2;
            }
            fmt = (enum qs_sparse_format)f;
        } else if (!strcmp(argv[i], "--sparsity") && i + 1 < argc && nsp < 32) {
            sp[nsp++] = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--shape") && i + 1 < argc && nshapes < 64) {
            struct shape s;
            if (sscanf(argv[++i], "%zux%zux%zu", &s.m, &s.k, &s.n) != 3) {
                fprintf(stderr, "bench-spmm: bad shape '%s' (MxKxN)\n", argv[i]);
                return 2;
            }
            shapes[nshapes++] = s;
        } else {
            fprintf(stderr, "usage: bench-spmm [--reps R] [--min-time S] [--cpu-time] [--sweep] "
                            "[--format F] [--sparsity S]... [--shape MxKxN]...\n");
            return 2;
        }
    }
    if (!nshapes) {
        memcpy(shapes, g_default_shapes, sizeof g_default_shapes);
        nshapes = QS_COUNTOF(g_default_shapes);
    }
    if (!nsp) sp[0] = 0.7, sp[1] = 0.9, sp[2] = 0.95, nsp = 3;
    openblas_set_num_threads(1);
    char isa[256];
    qs_cpu_isa_string(qs_cpu_info_get()->isa_flags, isa, sizeof isa);
    const bool blocks = fmt == QS_SPARSE_BSR_4X1 || fmt == QS_SPARSE_BSR_8X1;
    const struct qs_spmm_kernel *kf = qs__spmm_kernel_get(false, blocks ? 4 : 1);
    if (!kf) kf = qs__spmm_kernel_get(false, 1);
    printf("# cpu: %s; openblas %s, 1 thread; format %s; f32 kernel %s; q8 kernel %s\n",
           qs_cpu_info_get()->name, openblas_get_corename(), qs__sparse_format_name(fmt),
           kf->name, qs__spmm_kernel_get(true, 1)->name);
    printf("# times in ms, best of >= %d calls and >= %.2f s after a warm-up (%s)\n", g_reps,
           g_min_time, g_clock == CLOCK_MONOTONIC ? "wall" : "thread CPU time");
    if (sweep) {
        static const double sw[] = {0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95};
        printf("%-16s %s\n", "shape", "sparsity: f32/sgemm f32/our-conv q8/qgemm");
        for (size_t i = 0; i < nshapes; i++) {
            printf("%5zux%4zux%4zu  ", shapes[i].m, shapes[i].k, shapes[i].n);
            for (size_t j = 0; j < QS_COUNTOF(sw); j++) {
                struct result r;
                if (measure(shapes[i], sw[j], fmt, &r, true)) return 1;
                printf(" %.0f%%:%.2f/%.2f/%.2f", 100 * sw[j], r.dense / r.f32, r.conv / r.f32,
                       r.qgemm / r.q8);
                fflush(stdout);
            }
            printf("\n");
        }
        return 0;
    }
    printf("%-15s %6s %8s %8s %8s %7s %7s %8s %7s %8s %7s %7s\n", "MxKxN", "sparse", "dense",
           "conv", "f32", "f32/d", "f32/cv", "q8", "q8/d", "qgemm", "q8/qg", "disp/d");
    for (size_t j = 0; j < nsp; j++) {
        double gf = 0, gq = 0, gd = 0, gqq = 0, gc = 0, worst_disp = INFINITY;
        for (size_t i = 0; i < nshapes; i++) {
            struct result r;
            if (measure(shapes[i], sp[j], fmt, &r, false)) return 1;
            gf += log(r.dense / r.f32), gq += log(r.dense / r.q8), gd += log(r.dense / r.disp);
            gqq += log(r.qgemm / r.q8), gc += log(r.conv / r.f32);
            worst_disp = fmin(worst_disp, r.dense / r.disp);
        }
        printf("geomean %4.1f%%: f32 %.2fx dense (%.2fx our dense conv), int8 %.2fx dense fp32 "
               "(%.2fx dense int8), dispatcher %.2fx (worst %.2fx)\n\n",
               100 * sp[j], exp(gf / nshapes), exp(gc / nshapes), exp(gq / nshapes),
               exp(gqq / nshapes), exp(gd / nshapes), worst_disp);
    }
    return 0;
}
