// bench-fp32-models: single-thread fp32 speed of qsearch sessions on real models.
//
// For every (model, batch) it fills the input with seeded non-zero random values (the
// same values bench/ort_bench.py generates), runs warm-up calls, then times calls until
// both a minimum count and a minimum time are reached, and reports the best and the
// median. Slow cases stop at --max-time even with fewer than --min-runs calls. When a
// reference output from onnxruntime is present (bench/run-fp32.sh writes them), the
// output is checked against it: max|ours - ort| / max|ort| must be <= 1e-4.
//
//   bench-fp32-models [--data DIR] [--ref DIR] [--model NAME]... [--batch N]...
//                     [--warmup N] [--min-runs N] [--min-time S] [--max-time S]
//                     [--threads N] [--tsv]
//
// Exit status: 0 ok, 1 a verification failed or a model failed to run, 2 usage error,
// 77 no model found (the shared data folder is absent).
#include "qsearch/ir.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifndef QS_BENCH_DATA_DIR
#define QS_BENCH_DATA_DIR "../shared/data"
#endif

#define REL_TOL 1e-4

struct model {
    const char *name;  // short name used on the command line, in tables and file names
    const char *path;  // relative to the data folder
};
static const struct model models[] = {
    {"resnet56", "cifar10-resnet/cifar10_resnet56.onnx"},
    {"squeezenet1.1", "squeezenet1.1/squeezenet1.1_fp32.onnx"},
};
enum { N_MODELS = sizeof models / sizeof models[0], MAX_BATCHES = 8, MAX_RUNS = 10000 };

// Counter-based splitmix64, so numpy reproduces it in a few vector operations
// (bench/ort_bench.py: bench_inputs). Values are (2k+1)/2^24 - 1 for k in [0, 2^24):
// uniform in (-1, 1), never zero, and exact in float32.
static float input_value(uint64_t seed, uint64_t i) {
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    uint64_t k = z >> 40;
    return (float)((double)(2 * k + 1) / 16777216.0 - 1.0);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static size_t numel(const struct qs_tensor_info *t) {
    size_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= (size_t)t->dims[i];
    return n;
}

struct opts {
    const char *data, *ref;
    const char *only[N_MODELS];
    int n_only;
    int batches[MAX_BATCHES], n_batches;
    int warmup, min_runs, threads;
    double min_time, max_time;
    bool tsv;
};

struct result {
    double best_ms, median_ms, rel_err;  // rel_err < 0: no reference
    int runs;
    const char *status;                  // "ok", "FAIL", "unverified"
};

// Reads the reference output written by ort_bench.py: raw little-endian float32.
static float *read_ref(const char *path, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    float *buf = malloc(n * sizeof *buf + 1);
    size_t got = buf ? fread(buf, sizeof *buf, n + 1, f) : 0;
    fclose(f);
    if (got != n) {
        fprintf(stderr, "bench-fp32-models: %s: expected %zu floats, found %s%zu\n", path, n,
                got > n ? "more than " : "", got > n ? n : got);
        free(buf);
        return NULL;
    }
    return buf;
}

static int bench_one(const struct model *m, int batch, const struct opts *o,
                     struct result *r) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", o->data, m->path);
    struct qs_diag diag = {{0}};
    qs_graph_t *g = NULL;
    qs_session_t *s = NULL;
    float *ref = NULL, *x_saved = NULL;
    double *times = NULL;
    int rc = 1;
    if (qs_graph_load_onnx(path, &g, &diag) != QS_STATUS_OK ||
        qs_graph_optimize(g, QS_PASS_DEFAULT, &diag) != QS_STATUS_OK) {
        fprintf(stderr, "bench-fp32-models: %s: %s\n", m->name, diag.msg);
        goto done;
    }
    struct qs_session_options so = qs_session_options_default();
    so.batch = batch;
    so.threads = o->threads;
    if (qs_session_create(g, &so, &s, &diag) != QS_STATUS_OK) {
        fprintf(stderr, "bench-fp32-models: %s batch %d: %s\n", m->name, batch, diag.msg);
        goto done;
    }
    struct qs_tensor_info in, out;
    qs_session_input_info(s, 0, &in);
    qs_session_output_info(s, 0, &out);
    if (in.dtype != QS_DTYPE_F32 || out.dtype != QS_DTYPE_F32 || in.dims[0] != batch) {
        fprintf(stderr, "bench-fp32-models: %s: expected a float32 input of batch %d\n",
                m->name, batch);
        goto done;
    }
    float *x = qs_session_input_data(s, 0);
    size_t n_in = numel(&in), n_out = numel(&out);
    // The input is copied in again before every call (outside the timed region), so no
    // call depends on what the previous one left in the session's buffers.
    x_saved = malloc(n_in * sizeof *x_saved);
    times = malloc(MAX_RUNS * sizeof *times);
    if (!x_saved || !times) goto done;
    for (size_t i = 0; i < n_in; i++) x_saved[i] = input_value(42, i);

    for (int i = 0; i < o->warmup; i++) {
        memcpy(x, x_saved, n_in * sizeof *x);
        if (qs_session_run(s, &diag) != QS_STATUS_OK) {
            fprintf(stderr, "bench-fp32-models: %s: run failed: %s\n", m->name, diag.msg);
            goto done;
        }
    }
    int runs = 0;
    double t_start = now();
    // At least min_runs calls and min_time seconds, but stop adding calls after max_time.
    while (runs < MAX_RUNS && (now() - t_start < o->min_time ||
                               (runs < o->min_runs && now() - t_start < o->max_time))) {
        memcpy(x, x_saved, n_in * sizeof *x);
        double t0 = now();
        enum qs_status st = qs_session_run(s, &diag);
        times[runs++] = now() - t0;
        if (st != QS_STATUS_OK) {
            fprintf(stderr, "bench-fp32-models: %s: run failed: %s\n", m->name, diag.msg);
            goto done;
        }
    }
    qsort(times, (size_t)runs, sizeof *times, cmp_double);
    r->runs = runs;
    r->best_ms = 1e3 * times[0];
    double median = runs % 2 ? times[runs / 2] : 0.5 * (times[runs / 2 - 1] + times[runs / 2]);
    r->median_ms = 1e3 * median;

    // Verification uses the output of the last timed run: the same input every time.
    const float *y = qs_session_output_data(s, 0);
    r->rel_err = -1;
    r->status = "unverified";
    if (o->ref) {
        snprintf(path, sizeof path, "%s/ort-%s-b%d.f32", o->ref, m->name, batch);
        ref = read_ref(path, n_out);
        if (ref) {
            double max_diff = 0, max_ref = 0;
            bool finite = true;
            for (size_t i = 0; i < n_out; i++) {
                if (!isfinite(y[i])) finite = false;
                max_diff = fmax(max_diff, fabs((double)y[i] - (double)ref[i]));
                max_ref = fmax(max_ref, fabs((double)ref[i]));
            }
            r->rel_err = finite ? max_diff / (max_ref > 0 ? max_ref : 1) : INFINITY;
            r->status = r->rel_err <= REL_TOL ? "ok" : "FAIL";
        }
    }
    rc = strcmp(r->status, "FAIL") == 0 ? 1 : 0;
done:
    free(x_saved);
    free(times);
    free(ref);
    qs_session_destroy(s);
    qs_graph_destroy(g);
    return rc;
}

static int usage(void) {
    fprintf(stderr,
            "usage: bench-fp32-models [--data DIR] [--ref DIR] [--model NAME]... "
            "[--batch N]...\n"
            "                         [--warmup N] [--min-runs N] [--min-time S] "
            "[--threads N] [--tsv]\n"
            "models:");
    for (int i = 0; i < N_MODELS; i++) fprintf(stderr, " %s", models[i].name);
    fprintf(stderr, "\n");
    return 2;
}

int main(int argc, char **argv) {
    struct opts o = {.data = getenv("QS_SHARED_DATA"), .warmup = 3, .min_runs = 10,
                     .threads = 1, .min_time = 2.0, .max_time = 30.0};
    if (!o.data) o.data = QS_BENCH_DATA_DIR;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--tsv")) {
            o.tsv = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(), 0;
        if (!v) return usage();
        i++;
        if (!strcmp(a, "--data")) {
            o.data = v;
        } else if (!strcmp(a, "--ref")) {
            o.ref = v;
        } else if (!strcmp(a, "--model") && o.n_only < N_MODELS) {
            o.only[o.n_only++] = v;
        } else if (!strcmp(a, "--batch") && o.n_batches < MAX_BATCHES && atoi(v) > 0) {
            o.batches[o.n_batches++] = atoi(v);
        } else if (!strcmp(a, "--warmup") && atoi(v) >= 0) {
            o.warmup = atoi(v);
        } else if (!strcmp(a, "--min-runs") && atoi(v) > 0) {
            o.min_runs = atoi(v);
        } else if (!strcmp(a, "--threads") && atoi(v) > 0) {
            o.threads = atoi(v);
        } else if (!strcmp(a, "--min-time") && atof(v) >= 0) {
            o.min_time = atof(v);
        } else if (!strcmp(a, "--max-time") && atof(v) >= 0) {
            o.max_time = atof(v);
        } else {
            fprintf(stderr, "bench-fp32-models: bad option or value: %s %s\n", a, v);
            return usage();
        }
    }
    if (!o.n_batches) {
        o.batches[o.n_batches++] = 1;
        o.batches[o.n_batches++] = 32;
    }
    for (int k = 0; k < o.n_only; k++) {
        bool known = false;
        for (int i = 0; i < N_MODELS; i++) known |= !strcmp(o.only[k], models[i].name);
        if (!known) {
            fprintf(stderr, "bench-fp32-models: unknown model '%s'\n", o.only[k]);
            return usage();
        }
    }

    if (o.tsv)
        printf("model\tbatch\tbest_ms\tmedian_ms\truns\trel_err\tstatus\n");
    else
        printf("%-14s %5s %10s %10s %6s %10s  %s\n", "model", "batch", "best ms", "median ms",
               "runs", "rel err", "check");
    int failures = 0, done = 0;
    for (int i = 0; i < N_MODELS; i++) {
        bool wanted = o.n_only == 0;
        for (int k = 0; k < o.n_only; k++) wanted |= !strcmp(o.only[k], models[i].name);
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", o.data, models[i].path);
        if (!wanted) continue;
        if (stat(path, &st) != 0) {
            fprintf(stderr, "bench-fp32-models: skipping %s: %s not found\n", models[i].name,
                    path);
            continue;
        }
        for (int b = 0; b < o.n_batches; b++) {
            struct result r = {0};
            int rc = bench_one(&models[i], o.batches[b], &o, &r);
            failures += rc;
            done++;
            if (!r.runs) continue;
            if (o.tsv)
                printf("%s\t%d\t%.4f\t%.4f\t%d\t%.3g\t%s\n", models[i].name, o.batches[b],
                       r.best_ms, r.median_ms, r.runs, r.rel_err, r.status);
            else
                printf("%-14s %5d %10.3f %10.3f %6d %10.2g  %s\n", models[i].name,
                       o.batches[b], r.best_ms, r.median_ms, r.runs, r.rel_err, r.status);
            fflush(stdout);
        }
    }
    if (!done) {
        fprintf(stderr, "bench-fp32-models: no model found under %s\n", o.data);
        return 77;
    }
    return failures ? 1 : 0;
}
