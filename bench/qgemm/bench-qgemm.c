// Integer GEMM benchmark: C[n][p] = W[n][k] x X[k][p] (channels x reduction x pixels, the
// issue's M x K x N) with kernels/qgemm.h, against OpenBLAS sgemm on the same shape and
// oneDNN's dnnl_gemm_u8s8s32, single thread, best of several runs, all timed in this run.
//
//   bench-qgemm [--reps R] [--min-time S] [--threads T] [--cpu-time] [--fc] [--shape NxKxP]...
//
// --fc lays the operands out as a fully connected layer / MatMul passes them (activations
// X[p][k], output C[p][n]) instead of the convolution layout (X[k][p], C[n][p]).
//
// --cpu-time measures the calling thread's CPU time instead of wall time (single thread
// only): steadier on a machine shared with other jobs, where a preempted run only costs
// its cache state.
//
// QS_KERNELS=<level or microkernel name> picks our variant (see kernels/README.md).
// Every result is first checked against the oracle (qs__qgemm_ref) on a spread of output
// channels (all pixels), and oneDNN's int32 result against ours; the data is random
// (never all zeros), weights in [-127, 127], activations in [0, 255] with x_zp 128.
// Ours packs the weights once (outside the timing, as inference does) and the activations
// on every call (inside); sgemm and oneDNN pack what they need inside every call.
#include "kernels/qgemm-ukernel.h"
#include "qsearch/cpu.h"

#include <cblas.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if QS_HAVE_DNNL
#include <dnnl.h>
#endif

struct shape {
    size_t n, k, p;
};

static const struct shape default_shapes[] = {
    {64, 1024, 3136}, {256, 256, 784}, {1280, 320, 49}, {128, 768, 768}, {128, 768, 3072},
    {128, 3072, 768}, {512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048},
};

static clockid_t g_clock = CLOCK_MONOTONIC;
static double now(void) {
    struct timespec t;
    clock_gettime(g_clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t g_rng = 0x9e3779b97f4a7c15u;
static uint32_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}

static int g_reps = 5;
static bool g_fc;
static double g_min_time = 0.3;

// Best time of one call: at least g_reps calls and g_min_time seconds, after a warm-up.
typedef void (*bench_fn)(void *ctx);
static double best_time(bench_fn fn, void *ctx) {
    fn(ctx);
    double best = INFINITY, start = now();
    for (int i = 0; i < g_reps || now() - start < g_min_time; i++) {
        double t0 = now();
        fn(ctx);
        double t = now() - t0;
        if (t < best) best = t;
        if (i > 10000) break;
    }
    return best;
}

struct ctx {
    struct shape s;
    const qs_qgemm_weights *pw;
    const uint8_t *x;
    void *c;
    struct qs_qgemm_params prm;
    void *scratch;
    qs_pool_t *pool;
    const float *fa, *fb;
    float *fc;
    const int8_t *w;
    int32_t *dc;
};

static void run_ours(void *p) {
    struct ctx *c = p;
    if (g_fc)
        qs__qgemm_run(c->pw, c->s.p, c->x, 1, c->s.k, c->c, 1, c->s.n, &c->prm, c->scratch, c->pool);
    else
        qs__qgemm_run(c->pw, c->s.p, c->x, c->s.p, 1, c->c, c->s.p, 1, &c->prm, c->scratch, c->pool);
}

static void run_sgemm(void *p) {
    struct ctx *c = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)c->s.n, (int)c->s.p, (int)c->s.k,
                1.0f, c->fa, (int)c->s.k, c->fb, (int)c->s.p, 0.0f, c->fc, (int)c->s.p);
}

#if QS_HAVE_DNNL
// C^T[p][n] = (X^T - 128)[p][k] x W^T[k][n]: oneDNN wants the uint8 operand as A.
static void run_dnnl(void *p) {
    struct ctx *c = p;
    int32_t co = 0;
    dnnl_gemm_u8s8s32(g_fc ? 'N' : 'T', 'T', 'F', (dnnl_dim_t)c->s.p, (dnnl_dim_t)c->s.n,
                      (dnnl_dim_t)c->s.k, 1.0f, c->x, (dnnl_dim_t)(g_fc ? c->s.k : c->s.p), 128,
                      c->w, (dnnl_dim_t)c->s.k, 0, 0.0f, c->dc, (dnnl_dim_t)c->s.n, &co);
}
#endif

// Checks rows of C (the channels in `rows`) against the oracle; returns false on a mismatch.
static bool verify(const struct ctx *c, const int8_t *w, const void *got, size_t es) {
    size_t rows[] = {0, 1, c->s.n / 3, c->s.n / 2, c->s.n - 2, c->s.n - 1};
    void *ref = malloc(c->s.p * es);
    bool ok = true;
    for (size_t i = 0; i < QS_COUNTOF(rows) && ok; i++) {
        size_t r = rows[i] < c->s.n ? rows[i] : 0;
        struct qs_qgemm_params prm = c->prm;
        prm.bias = c->prm.bias + r;
        prm.scale = c->prm.scale + r;
        qs__qgemm_ref(1, c->s.k, c->s.p, w + r * c->s.k, c->s.k, c->x, g_fc ? 1 : c->s.p,
                      g_fc ? c->s.k : 1, ref, c->s.p, 1, &prm);
        bool same = true;
        for (size_t j = 0; j < c->s.p && same; j++) {
            size_t at = g_fc ? j * c->s.n + r : r * c->s.p + j;
            same = memcmp((const char *)ref + j * es, (const char *)got + at * es, es) == 0;
        }
        if (!same) {
            fprintf(stderr, "MISMATCH against the reference: %zux%zux%zu row %zu\n", c->s.n, c->s.k,
                    c->s.p, r);
            ok = false;
        }
    }
    free(ref);
    return ok;
}

static void reexec_single_threaded(char **argv) {
    // OpenMP (oneDNN) and OpenBLAS read their thread counts when they load, before main.
    const char *omp = getenv("OMP_NUM_THREADS"), *ob = getenv("OPENBLAS_NUM_THREADS");
    if (omp && strcmp(omp, "1") == 0 && ob && strcmp(ob, "1") == 0) return;
    setenv("OMP_NUM_THREADS", "1", 1);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    execv("/proc/self/exe", argv);
    perror("execv /proc/self/exe");  // keep going; openblas_set_num_threads still applies
}

int main(int argc, char **argv) {
    reexec_single_threaded(argv);
    openblas_set_num_threads(1);
    struct shape shapes[64];
    size_t nshapes = 0;
    int threads = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            g_reps = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--min-time") == 0 && i + 1 < argc) {
            g_min_time = atof(argv[++i]);
        } else if (strcmp(argv[i], "--fc") == 0) {
            g_fc = true;
        } else if (strcmp(argv[i], "--cpu-time") == 0) {
            g_clock = CLOCK_THREAD_CPUTIME_ID;
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc && nshapes < 64) {
            struct shape s;
            if (sscanf(argv[++i], "%zux%zux%zu", &s.n, &s.k, &s.p) != 3 || !s.n || !s.k || !s.p) {
                fprintf(stderr, "bad --shape '%s' (want NxKxP)\n", argv[i]);
                return 2;
            }
            shapes[nshapes++] = s;
        } else {
            fprintf(stderr, "usage: %s [--reps R] [--min-time S] [--threads T] [--cpu-time] [--fc] "
                    "[--shape NxKxP]...\n",
                    argv[0]);
            return 2;
        }
    }
    if (!nshapes) {
        nshapes = QS_COUNTOF(default_shapes);
        memcpy(shapes, default_shapes, sizeof default_shapes);
    }
    if (threads > 1 && g_clock != CLOCK_MONOTONIC) {
        fprintf(stderr, "--cpu-time measures one thread; use wall time with --threads\n");
        return 2;
    }
    qs_pool_t *pool = NULL;
    if (threads > 1 && qs__pool_create(threads, &pool) != QS_STATUS_OK) return 1;

    const struct qs_cpu_info *cpu = qs_cpu_info_get();
    char isa[512];
    qs_cpu_isa_string(cpu->isa_flags, isa, sizeof isa);
    printf("# cpu: %s; isa: %s\n", cpu->name, isa);
    printf("# openblas: %s; threads: ours %d, openblas 1, onednn 1 (OMP_NUM_THREADS=%s)\n",
           openblas_get_corename(), threads, getenv("OMP_NUM_THREADS") ? getenv("OMP_NUM_THREADS") : "unset");
    printf("# layout: %s\n", g_fc ? "fully connected (X[p][k], C[p][n])"
                                   : "convolution (X[k][p], C[n][p])");
    printf("# best of >= %d runs and >= %.2f s per entry (%s time); GOP/s = 2*N*K*P / time\n",
           g_reps, g_min_time, g_clock == CLOCK_MONOTONIC ? "wall" : "thread CPU");
    printf("%-16s %9s %9s %9s %7s %7s %9s %7s  %s\n", "NxKxP", "s32GOP/s", "u8GOP/s", "sgemmGF/s",
           "s32/sg", "u8/sg", "dnnlGOP/s", "dnnl/sg", "kernel");
    double log_s32 = 0, log_u8 = 0, log_dnnl = 0, min_s32 = INFINITY, min_u8 = INFINITY;
    int failures = 0;
    for (size_t si = 0; si < nshapes; si++) {
        struct shape s = shapes[si];
        struct ctx c = {.s = s, .pool = pool};
        int8_t *w = malloc(s.n * s.k);
        uint8_t *x = malloc(s.k * s.p + QS_EXTRA_BYTES);
        float *fa = malloc(s.n * s.k * sizeof(float)), *fb = malloc(s.k * s.p * sizeof(float));
        float *fc = malloc(s.n * s.p * sizeof(float));
        int32_t *c32 = malloc(s.n * s.p * sizeof(int32_t)), *dc = malloc(s.n * s.p * sizeof(int32_t));
        uint8_t *c8 = malloc(s.n * s.p);
        int32_t *bias = malloc(s.n * sizeof(int32_t));
        float *scale = malloc(s.n * sizeof(float));
        for (size_t i = 0; i < s.n * s.k; i++) w[i] = (int8_t)((int)(rnd() % 255) - 127), fa[i] = w[i];
        for (size_t i = 0; i < s.k * s.p; i++) x[i] = (uint8_t)rnd(), fb[i] = (float)x[i] - 128.0f;
        for (size_t i = 0; i < s.n; i++) {
            bias[i] = (int32_t)(rnd() % 2001) - 1000;
            // Scales that map the accumulator's spread (about 128*64*sqrt(K)) onto +-128.
            scale[i] = (0.5f + (float)(rnd() % 1000) / 1000.0f) / (64.0f * sqrtf((float)s.k));
        }
        qs_qgemm_weights *pw = NULL;
        if (qs__qgemm_pack(s.n, s.k, w, s.k, &pw) != QS_STATUS_OK) return 1;
        c.pw = pw;
        c.x = x;
        c.w = w;
        c.fa = fa, c.fb = fb, c.fc = fc, c.dc = dc;
        c.scratch = malloc(qs__qgemm_scratch_size(pw, s.p));
        c.prm = (struct qs_qgemm_params){.out_type = QS_QOUT_S32, .x_zp = 128, .bias = bias,
                                         .scale = scale, .out_zp = 0, .qmin = INT32_MIN,
                                         .qmax = INT32_MAX};

        // Verify (s32 and u8) before timing anything.
        c.c = c32;
        run_ours(&c);
        bool ok = verify(&c, w, c32, 4);
        c.prm.out_type = QS_QOUT_U8;
        c.prm.out_zp = 128;
        c.c = c8;
        run_ours(&c);
        ok = ok && verify(&c, w, c8, 1);
        size_t nonzero = 0;
        for (size_t i = 0; i < s.n * s.p; i++) nonzero += c8[i] != 0 && c8[i] != 255;
        if (nonzero < s.n * s.p / 2) fprintf(stderr, "warning: u8 output mostly saturated\n");

        double ops = 2.0 * (double)s.n * (double)s.k * (double)s.p;
        c.prm.out_type = QS_QOUT_S32;
        c.prm.out_zp = 0;
        c.c = c32;
        double t_s32 = best_time(run_ours, &c);
        c.prm.out_type = QS_QOUT_U8;
        c.prm.out_zp = 128;
        c.c = c8;
        double t_u8 = best_time(run_ours, &c);
        double t_sg = best_time(run_sgemm, &c);
        double t_dn = NAN;
#if QS_HAVE_DNNL
        run_dnnl(&c);
        // oneDNN's C is transposed and has no bias: compare with ours minus the bias.
        for (size_t i = 0; i < s.n && ok; i += s.n / 7 + 1)
            for (size_t j = 0; j < s.p; j++)
                if (dc[j * s.n + i] != c32[g_fc ? j * s.n + i : i * s.p + j] - bias[i]) {
                    fprintf(stderr, "oneDNN disagrees at [%zu][%zu]\n", i, j);
                    ok = false;
                    break;
                }
        t_dn = best_time(run_dnnl, &c);
#endif
        if (!ok) failures++;
        double g_s32 = ops / t_s32 * 1e-9, g_u8 = ops / t_u8 * 1e-9, g_sg = ops / t_sg * 1e-9;
        double g_dn = ops / t_dn * 1e-9;
        char name[32];
        snprintf(name, sizeof name, "%zux%zux%zu", s.n, s.k, s.p);
        printf("%-16s %9.1f %9.1f %9.1f %7.2f %7.2f %9.1f %7.2f  %s%s\n", name, g_s32, g_u8, g_sg,
               g_s32 / g_sg, g_u8 / g_sg, g_dn, g_dn / g_sg, qs__qgemm_kernel_name(pw),
               ok ? "" : "  WRONG RESULTS");
        fflush(stdout);
        log_s32 += log(g_s32 / g_sg);
        log_u8 += log(g_u8 / g_sg);
        log_dnnl += log(g_dn / g_sg);
        min_s32 = fmin(min_s32, g_s32 / g_sg);
        min_u8 = fmin(min_u8, g_u8 / g_sg);
        qs__qgemm_weights_destroy(pw);
        free(c.scratch);
        free(w), free(x), free(fa), free(fb), free(fc), free(c32), free(dc), free(c8), free(bias),
            free(scale);
    }
    printf("geomean ratio vs sgemm: s32 %.2f (min %.2f), u8 %.2f (min %.2f), oneDNN %.2f\n",
           exp(log_s32 / (double)nshapes), min_s32, exp(log_u8 / (double)nshapes), min_u8,
           exp(log_dnnl / (double)nshapes));
    qs__pool_destroy(pool);
    if (failures) fprintf(stderr, "%d shapes gave wrong results\n", failures);
    return failures ? 1 : 0;
}
