// bench-int8-models: single-thread speed of one model in fp32 and all-int8 (integer
// kernels), best of N session runs after warm-up (the minimum is what survives a busy
// machine; the median is printed beside it). The model is calibrated like `qsearch eval
// --calib` (minmax, every layer int8); inputs are the seeded values of bench-fp32-models.
//
//   bench-int8-models MODEL CALIB_SPEC PREPROCESS BATCH [CALIB_LIMIT] [--runs N]
//
// Prints one line: "fp32_best fp32_median int8_best int8_median" in ms per batch.
// Exit status: 0 ok, 1 a step failed, 2 usage error.
#include "qsearch/data.h"
#include "qsearch/ir.h"
#include "qsearch/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static float input_value(uint64_t seed, uint64_t i) {
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)((double)(2 * (z >> 40) + 1) / 16777216.0 - 1.0);
}

// Best and median ms of `runs` timed runs of a session of g at `batch`.
static int time_graph(qs_graph_t *g, int batch, int runs, double *best, double *median) {
    struct qs_diag diag = {{0}};
    qs_session_t *s = NULL;
    struct qs_session_options so = qs_session_options_default();
    so.batch = batch;
    so.threads = 1;
    if (qs_session_create(g, &so, &s, &diag) != QS_STATUS_OK) {
        fprintf(stderr, "bench-int8-models: session: %s\n", diag.msg);
        return 1;
    }
    struct qs_tensor_info in;
    qs_session_input_info(s, 0, &in);
    size_t n = 1;
    for (int i = 0; i < in.rank; i++) n *= (size_t)in.dims[i];
    float *x = qs_session_input_data(s, 0);
    for (size_t i = 0; i < n; i++) x[i] = input_value(0x5eed, i);
    double *t = malloc(sizeof *t * (size_t)runs);
    int rc = 0;
    for (int i = 0; i < runs + 3 && !rc; i++) {
        double t0 = now();
        if (qs_session_run(s, &diag) != QS_STATUS_OK) {
            fprintf(stderr, "bench-int8-models: run: %s\n", diag.msg);
            rc = 1;
        }
        if (i >= 3) t[i - 3] = (now() - t0) * 1e3;
    }
    if (!rc) {
        qsort(t, (size_t)runs, sizeof *t, cmp_double);
        *best = t[0];
        *median = t[runs / 2];
    }
    free(t);
    qs_session_destroy(s);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: bench-int8-models MODEL CALIB_SPEC PREPROCESS BATCH "
                        "[CALIB_LIMIT] [--runs N]\n");
        return 2;
    }
    const char *model = argv[1], *spec = argv[2], *pre = argv[3];
    const int batch = atoi(argv[4]);
    long limit = argc > 5 && argv[5][0] != '-' ? atol(argv[5]) : 256;
    int runs = batch == 1 ? 300 : 20;
    for (int i = 5; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
    if (batch < 1 || runs < 1) return 2;
    struct qs_diag diag = {{0}};
    qs_graph_t *g = NULL;
    qs_calib_t *cal = NULL;
    qs_quantizer_t *q = NULL;
    struct qs_preprocess pp;
    double fb = 0, fm = 0, ib = 0, im = 0;
    int rc = 1;
    if (qs_graph_load_onnx(model, &g, &diag) != QS_STATUS_OK ||
        qs_graph_optimize(g, QS_PASS_DEFAULT, &diag) != QS_STATUS_OK ||
        qs_preprocess_parse(pre, &pp, &diag) != QS_STATUS_OK) {
        fprintf(stderr, "bench-int8-models: %s: %s\n", model, diag.msg);
        goto done;
    }
    if (time_graph(g, batch, runs, &fb, &fm)) goto done;
    struct qs_calib_options co = qs_calib_options_default();
    co.batch = batch;
    struct qs_quant_options qo = qs_quant_options_default();
    if (qs_calib_create(g, &co, &cal, &diag) != QS_STATUS_OK ||
        qs_calib_run_files(cal, &spec, 1, &pp, limit, &diag) != QS_STATUS_OK ||
        qs_quantizer_create(g, cal, &qo, &q, &diag) != QS_STATUS_OK ||
        qs_quantizer_apply(q, NULL, &diag) != QS_STATUS_OK) {
        fprintf(stderr, "bench-int8-models: calibration: %s\n", diag.msg);
        goto done;
    }
    if (time_graph(g, batch, runs, &ib, &im)) goto done;
    printf("%.3f %.3f %.3f %.3f\n", fb, fm, ib, im);
    rc = 0;
done:
    qs_quantizer_destroy(q);
    qs_calib_destroy(cal);
    qs_graph_destroy(g);
    return rc;
}
