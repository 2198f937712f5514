// Calibration of real models from ../shared/data (skipped when absent): every float32
// activation of the optimized CIFAR ResNet-20 gets a finite range from every method, post-Relu
// tensors start at 0, and the batch size does not change the split-independent methods.
//
// With arguments it is the driver of bench/calib-memory.sh:
//   test-calib-model --memory N [MODEL [CIFAR_BIN]]
// calibrates MODEL (default ResNet-56) on the first N images of CIFAR_BIN (default the
// 10,000-image test set), streamed, and prints the peak RSS (getrusage).
#include "quant/quant-impl.h"
#include "test.h"

#include <gsl/gsl_errno.h>
#include <math.h>
#include <sys/resource.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static qs_graph_t *load(const char *path) {
    qs_graph_t *g = NULL;
    struct qs_diag d;
    if (qs_graph_load_onnx(path, &g, &d) != QS_STATUS_OK ||
        qs_graph_optimize(g, QS_PASS_DEFAULT, &d) != QS_STATUS_OK) {
        fprintf(stderr, "%s: %s\n", path, d.msg);
        exit(1);
    }
    return g;
}

static qs_calib_t *calibrate(qs_graph_t *g, const char *data, int batch, int64_t limit) {
    struct qs_calib_options o = qs_calib_options_default();
    o.batch = batch;
    qs_calib_t *c = NULL;
    struct qs_diag d;
    ASSERT_OK(qs_calib_create(g, &o, &c, &d));
    char spec[4200];
    snprintf(spec, sizeof spec, "cifar10:%s", data);
    const char *specs[1] = {spec};
    struct qs_preprocess pp;
    ASSERT_OK(qs_preprocess_parse("imagenet", &pp, &d));
    if (qs_calib_run_files(c, specs, 1, &pp, limit, &d) != QS_STATUS_OK) {
        fprintf(stderr, "calibration: %s\n", d.msg);
        exit(1);
    }
    return c;
}

static int memory_mode(int argc, char **argv) {
    int64_t n = atoll(argv[2]);
    const char *model = argc > 3 ? argv[3] : qs_test_shared("cifar10-resnet/cifar10_resnet56.onnx");
    const char *data =
        argc > 4 ? argv[4] : qs_test_shared("cifar10-test-jpeg/cifar10_test_decoded.bin");
    if (!model || !data || n <= 0) {
        fprintf(stderr, "usage: %s --memory N [MODEL [CIFAR_BIN]] (shared data missing?)\n",
                argv[0]);
        return 2;
    }
    double t0 = now();
    qs_graph_t *g = load(model);
    qs_calib_t *c = calibrate(g, data, 32, n);
    double t1 = now();
    // Derive every method once, as a search would.
    struct qs_diag d;
    for (int a = 0; a < QS_CALIB_ALGO_COUNT; a++)
        for (int t = 0; t < qs_calib_tensor_count(c); t++) {
            struct qs_calib_method m = qs_calib_method_default((enum qs_calib_algo)a);
            double lo, hi;
            ASSERT_OK(qs_calib_range(c, t, &m, &lo, &hi, &d));
        }
    double t2 = now();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("samples %lld tensors %d state_kib %zu calib_s %.2f methods_s %.2f peak_rss_kib %ld\n",
           (long long)qs_calib_samples(c), qs_calib_tensor_count(c),
           qs_calib_state_bytes(c) / 1024, t1 - t0, t2 - t1, ru.ru_maxrss);
    qs_calib_destroy(c);
    qs_graph_destroy(g);
    return 0;
}

int main(int argc, char **argv) {
    gsl_set_error_handler_off();
    if (argc >= 3 && strcmp(argv[1], "--memory") == 0) return memory_mode(argc, argv);
    const char *model = qs_test_shared("cifar10-resnet/cifar10_resnet20.onnx");
    const char *data = qs_test_shared("cifar10-calib-train-1000/cifar10_train1000_decoded.bin");
    if (!model || !data)
        QS_TEST_SKIP("shared data (cifar10-resnet, cifar10-calib-train-1000) absent");
    qs_graph_t *g = load(model);
    double t0 = now();
    qs_calib_t *c = calibrate(g, data, 32, 200);
    double t1 = now();
    int n = qs_calib_tensor_count(c);
    ASSERT_EQ(qs_calib_samples(c), 200);
    // The graph input and every node output (19 Conv, 9 Add, ...) are observed.
    ASSERT_TRUE(n >= 30);
    double method_s[QS_CALIB_ALGO_COUNT] = {0};
    int post_relu = 0;
    struct qs_diag d;
    for (int t = 0; t < n; t++) {
        struct qs_tensor_info info;
        ASSERT_OK(qs_calib_tensor_info(c, t, &info));
        ASSERT_TRUE(qs_observer_count(qs_calib_observer(c, t)) > 0);
        double lo0, hi0;
        ASSERT_OK(qs_calib_range(c, t, NULL, &lo0, &hi0, &d));
        post_relu += lo0 == 0.0;
        for (int a = 0; a < QS_CALIB_ALGO_COUNT; a++)
            for (int dt = 0; dt < 2; dt++) {
                struct qs_calib_method m = qs_calib_method_default((enum qs_calib_algo)a);
                m.dtype = dt ? QS_DTYPE_I8 : QS_DTYPE_U8;
                double lo, hi, ts = now();
                if (qs_calib_range(c, t, &m, &lo, &hi, &d) != QS_STATUS_OK) {
                    fprintf(stderr, "%s: %s\n", info.name, d.msg);
                    return 1;
                }
                method_s[a] += now() - ts;
                // Finite, containing 0, never wider than min/max, never empty.
                ASSERT_TRUE(isfinite(lo) && isfinite(hi) && lo <= 0 && hi >= 0 && lo < hi);
                if (dt) ASSERT_TRUE(lo == -hi && hi <= fmax(hi0, -lo0));
                else ASSERT_TRUE(lo >= lo0 && hi <= hi0);
                if (lo0 == 0.0 && !dt) ASSERT_TRUE(lo == 0.0);
            }
        if (t < 6 || t == n - 1) {
            printf("%-28s", info.name);
            for (int a = 0; a < QS_CALIB_ALGO_COUNT; a++) {
                struct qs_calib_method m = qs_calib_method_default((enum qs_calib_algo)a);
                double lo, hi;
                ASSERT_OK(qs_calib_range(c, t, &m, &lo, &hi, &d));
                printf(" %s [%.3g, %.3g]", qs_calib_algo_name(m.algo), lo, hi);
            }
            printf("\n");
        }
    }
    printf("%d tensors (%d post-Relu), %zu KiB of state; calibration %.2f s for 200 images\n",
           n, post_relu, qs_calib_state_bytes(c) / 1024, t1 - t0);
    printf("deriving every tensor:");
    for (int a = 0; a < QS_CALIB_ALGO_COUNT; a++)
        printf(" %s %.1f ms", qs_calib_algo_name((enum qs_calib_algo)a), 1e3 * method_s[a]);
    printf("\n");
    ASSERT_TRUE(post_relu >= 19);
    // Batch 50 instead of 32 (the last batch partial at 32): same statistics.
    qs_calib_t *c2 = calibrate(g, data, 50, 200);
    int differ = 0;
    for (int t = 0; t < n; t++) {
        const enum qs_calib_algo algos[] = {QS_CALIB_MINMAX, QS_CALIB_PERCENTILE, QS_CALIB_KL,
                                            QS_CALIB_MSE, QS_CALIB_EMD};
        for (size_t a = 0; a < QS_COUNTOF(algos); a++) {
            struct qs_calib_method m = qs_calib_method_default(algos[a]);
            double lo1, hi1, lo2, hi2;
            ASSERT_OK(qs_calib_range(c, t, &m, &lo1, &hi1, &d));
            ASSERT_OK(qs_calib_range(c2, t, &m, &lo2, &hi2, &d));
            differ += lo1 != lo2 || hi1 != hi2;
        }
    }
    printf("batch 32 vs 50: %d of %d ranges differ\n", differ, 5 * n);
    ASSERT_EQ(differ, 0);
    qs_calib_destroy(c2);
    qs_calib_destroy(c);
    qs_graph_destroy(g);
    printf("ok\n");
    return 0;
}
