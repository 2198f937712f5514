// The int8 direct convolution (kernels/qgemm.h, qs__qdconv_run) on CIFAR ResNet-20's 3x3
// convs at batch 25, against peers timed in the same run, single thread, best of several
// runs after a warm-up:
//  - our implicit GEMM (qs__qgemm_conv_run, per image), the path the direct conv replaced;
//  - OpenBLAS sgemm on the fp32 im2col of each image (the im2col built outside the timing);
//  - oneDNN's dnnl_gemm_u8s8s32 on the uint8 im2col (also outside), when libdnnl-dev is there.
// The peers get their im2col for free, which favours them. Results are checked first: the
// direct conv's uint8 output against the implicit GEMM's bit for bit, its int32 sums against
// sgemm's and oneDNN's (exact: every sum here is far below 2^24). Random data, never all
// zeros: weights in [-127, 127], activations in [0, 255] with x_zp 128.
//
//   build/bench/qgemm/bench-qdconv [--reps R] [--min-time S]
#include "kernels/qgemm.h"

#include <cblas.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if QS_HAVE_DNNL
#include <dnnl.h>
#endif

enum { IMAGES = 25 };

struct shape {
    size_t c_in, hw, c_out, stride;
};

// ResNet-20: the first conv, the three stages, the two stride-2 convs.
static const struct shape shapes[] = {
    {3, 32, 16, 1}, {16, 32, 16, 1}, {32, 16, 32, 1}, {64, 8, 64, 1}, {16, 32, 32, 2},
    {32, 16, 64, 2},
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t g_rng = 0x9e3779b97f4a7c15u;
static uint32_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}

static int g_reps = 20;
static double g_min_time = 0.3;

typedef void (*bench_fn)(void *ctx);
static double best_time(bench_fn fn, void *ctx) {
    fn(ctx);
    double best = INFINITY, start = now();
    for (int i = 0; i < g_reps || now() - start < g_min_time; i++) {
        double t0 = now();
        fn(ctx);
        best = fmin(best, now() - t0);
        if (i > 100000) break;
    }
    return best;
}

struct ctx {
    struct qs_qconv_shape s;
    size_t n, k, p, x_img;
    qs_qdconv *dc;
    qs_qgemm_weights *pw;
    const uint8_t *x, *col8;  // images; uint8 im2col [image][k][p]
    const float *wf, *colf;   // fp32 weights [n][k]; fp32 im2col (x - 128)
    const int8_t *w;
    void *c;
    float *cf;
    int32_t *cd;
    struct qs_qgemm_params prm;
    void *scratch;
};

static void run_direct(void *p) {
    struct ctx *c = p;
    qs__qdconv_run(c->dc, c->x, c->x_img, IMAGES, c->c, c->n * c->p, c->p, &c->prm, c->scratch,
                   NULL);
}

static void run_implicit(void *p) {
    struct ctx *c = p;
    const size_t es = c->prm.out_type == QS_QOUT_S32 ? 4 : 1;
    for (size_t b = 0; b < IMAGES; b++)
        qs__qgemm_conv_run(c->pw, &c->s, c->x + b * c->x_img, (char *)c->c + b * c->n * c->p * es,
                           c->p, &c->prm, c->scratch, NULL);
}

static void run_sgemm(void *p) {
    struct ctx *c = p;
    for (size_t b = 0; b < IMAGES; b++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)c->n, (int)c->p, (int)c->k,
                    1.0f, c->wf, (int)c->k, c->colf + b * c->k * c->p, (int)c->p, 0.0f,
                    c->cf + b * c->n * c->p, (int)c->p);
}

#if QS_HAVE_DNNL
// C^T[p][n] = (col^T - 128)[p][k] x W^T[k][n]: oneDNN wants the uint8 operand as A.
static void run_dnnl(void *p) {
    struct ctx *c = p;
    int32_t co = 0;
    for (size_t b = 0; b < IMAGES; b++)
        dnnl_gemm_u8s8s32('T', 'T', 'F', (dnnl_dim_t)c->p, (dnnl_dim_t)c->n, (dnnl_dim_t)c->k,
                          1.0f, c->col8 + b * c->k * c->p, (dnnl_dim_t)c->p, 128, c->w,
                          (dnnl_dim_t)c->k, 0, 0.0f, c->cd + b * c->n * c->p, (dnnl_dim_t)c->n,
                          &co);
}
#endif

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
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            g_reps = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--min-time") == 0 && i + 1 < argc) {
            g_min_time = atof(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--reps R] [--min-time S]\n", argv[0]);
            return 2;
        }
    }
    printf("int8 3x3 conv, pad 1, batch %d, one thread, best of >= %d runs and >= %.2f s; "
           "GOP/s = 2 * MACs / time\n", IMAGES, g_reps, g_min_time);
    printf("| c_in -> c_out, image, stride | direct GOP/s | implicit GEMM | sgemm (fp32) | "
           "oneDNN u8s8s32 | direct / implicit | direct / sgemm | direct / oneDNN |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    int failures = 0;
    for (size_t si = 0; si < QS_COUNTOF(shapes); si++) {
        const struct shape sh = shapes[si];
        struct ctx c = {.n = sh.c_out};
        struct qs_qconv_shape *s = &c.s;
        s->channels = sh.c_in;
        s->in_h = s->in_w = sh.hw;
        s->kh = s->kw = 3;
        s->stride_h = s->stride_w = sh.stride;
        s->dil_h = s->dil_w = 1;
        s->pad_top = s->pad_left = 1;
        s->out_h = s->out_w = (sh.hw + 2 - 3) / sh.stride + 1;
        c.k = sh.c_in * 9;
        c.p = s->out_h * s->out_w;
        c.x_img = sh.c_in * sh.hw * sh.hw;
        int8_t *w = malloc(c.n * c.k);
        float *wf = malloc(c.n * c.k * sizeof(float));
        uint8_t *x = malloc(IMAGES * c.x_img + QS_EXTRA_BYTES);
        uint8_t *col8 = malloc(IMAGES * c.k * c.p);
        float *colf = malloc(IMAGES * c.k * c.p * sizeof(float));
        uint8_t *y8 = malloc(IMAGES * c.n * c.p), *g8 = malloc(IMAGES * c.n * c.p);
        int32_t *y32 = malloc(IMAGES * c.n * c.p * sizeof(int32_t));
        int32_t *cd = malloc(IMAGES * c.n * c.p * sizeof(int32_t));
        float *cf = malloc(IMAGES * c.n * c.p * sizeof(float));
        int32_t *bias = malloc(c.n * sizeof(int32_t));
        float *scale = malloc(c.n * sizeof(float));
        for (size_t i = 0; i < c.n * c.k; i++) {
            w[i] = (int8_t)((int)(rnd() % 255) - 127);
            wf[i] = w[i];
        }
        for (size_t i = 0; i < IMAGES * c.x_img; i++) x[i] = (uint8_t)rnd();
        for (size_t i = 0; i < c.n; i++) {
            bias[i] = (int32_t)(rnd() % 2001) - 1000;
            scale[i] = (0.5f + (float)(rnd() % 1000) / 1000.0f) / (64.0f * sqrtf((float)c.k));
        }
        // im2col: col[b][ci * 9 + i * 3 + j][oy * ow + ox], padding at the zero point 128.
        for (size_t b = 0; b < IMAGES; b++)
            for (size_t r = 0; r < c.k; r++)
                for (size_t q = 0; q < c.p; q++) {
                    const size_t ci = r / 9, i = r % 9 / 3, j = r % 3;
                    const long iy = (long)(q / s->out_w * sh.stride + i) - 1;
                    const long ix = (long)(q % s->out_w * sh.stride + j) - 1;
                    const bool in = iy >= 0 && ix >= 0 && iy < (long)sh.hw && ix < (long)sh.hw;
                    const uint8_t v = in ? x[b * c.x_img + (ci * sh.hw + (size_t)iy) * sh.hw +
                                             (size_t)ix]
                                         : 128;
                    col8[(b * c.k + r) * c.p + q] = v;
                    colf[(b * c.k + r) * c.p + q] = (float)v - 128.0f;
                }
        c.w = w, c.wf = wf, c.x = x, c.col8 = col8, c.colf = colf, c.cf = cf, c.cd = cd;
        if (qs__qdconv_create(s, c.n, w, NULL, &c.dc) != QS_STATUS_OK ||
            qs__qgemm_pack(c.n, c.k, w, c.k, &c.pw) != QS_STATUS_OK)
            return 1;
        void *rows = malloc(qs__qgemm_conv_rows_bytes(s) + 1);
        qs__qgemm_conv_rows(s, rows);
        s->rows = rows;
        const bool implicit = qs__qgemm_conv_supported(c.pw, s, false);
        c.scratch = malloc(QS_MAX(qs__qdconv_scratch_size(c.dc),
                                  implicit ? qs__qgemm_conv_scratch_size(c.pw, s) : 0));
        c.prm = (struct qs_qgemm_params){.out_type = QS_QOUT_U8, .x_zp = 128, .bias = bias,
                                         .scale = scale, .out_zp = 128, .qmin = INT32_MIN,
                                         .qmax = INT32_MAX};

        // Verify before timing: uint8 against the implicit GEMM, int32 against the peers.
        bool ok = true;
        c.c = y8;
        run_direct(&c);
        if (implicit) {
            c.c = g8;
            run_implicit(&c);
            ok = memcmp(y8, g8, IMAGES * c.n * c.p) == 0;
        }
        c.prm.out_type = QS_QOUT_S32;
        c.c = y32;
        run_direct(&c);
        run_sgemm(&c);
        for (size_t i = 0; i < IMAGES * c.n * c.p && ok; i++)
            ok = (float)(y32[i] - bias[i / c.p % c.n]) == cf[i];
#if QS_HAVE_DNNL
        run_dnnl(&c);
        for (size_t b = 0; b < IMAGES && ok; b++)
            for (size_t m = 0; m < c.n && ok; m++)
                for (size_t q = 0; q < c.p && ok; q++)
                    ok = cd[(b * c.p + q) * c.n + m] ==
                         y32[(b * c.n + m) * c.p + q] - bias[m];
#endif
        size_t mid = 0;
        for (size_t i = 0; i < IMAGES * c.n * c.p; i++) mid += y8[i] != 0 && y8[i] != 255;
        if (mid < IMAGES * c.n * c.p / 2) fprintf(stderr, "warning: u8 output mostly saturated\n");
        if (!ok) {
            fprintf(stderr, "%zu -> %zu: results differ\n", sh.c_in, sh.c_out);
            failures++;
        }

        c.prm.out_type = QS_QOUT_U8;
        c.c = y8;
        const double ops = 2.0 * IMAGES * (double)c.n * (double)c.k * (double)c.p * 1e-9;
        const double t_d = best_time(run_direct, &c);
        c.c = g8;
        const double t_i = implicit ? best_time(run_implicit, &c) : NAN;
        const double t_s = best_time(run_sgemm, &c);
        double t_o = NAN;
#if QS_HAVE_DNNL
        t_o = best_time(run_dnnl, &c);
#endif
        printf("| %zu -> %zu, %zux%zu, %zu | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f | %.2f |%s\n",
               sh.c_in, sh.c_out, sh.hw, sh.hw, sh.stride, ops / t_d, ops / t_i, ops / t_s,
               ops / t_o, t_i / t_d, t_s / t_d, t_o / t_d, ok ? "" : " WRONG RESULTS");
        fflush(stdout);
        qs__qdconv_destroy(c.dc);
        qs__qgemm_weights_destroy(c.pw);
        free(rows), free(c.scratch), free(w), free(wf), free(x), free(col8), free(colf), free(y8),
            free(g8), free(y32), free(cd), free(cf), free(bias), free(scale);
    }
    if (failures) fprintf(stderr, "%d shapes gave wrong results\n", failures);
    return failures ? 1 : 0;
}
