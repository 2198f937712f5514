// Calibration of small graphs built here: one observer per float32 activation, ranges equal
// to an observer fed the same values directly, results identical whatever the batch size
// (partial last batches included), data in memory or streamed from .npy and CIFAR-10 files
// giving the same statistics, limits, non-finite activations naming the tensor, and state
// whose size does not change with the number of samples.
#include "quant/quant-impl.h"
#include "ir/ir-impl.h"
#include "test.h"

#include <gsl/gsl_errno.h>
#include <math.h>
#include <unistd.h>

static uint64_t rng = 99;
static double uniform(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return ((rng >> 11) + 0.5) / 9007199254740992.0;
}

static void quiet_log(enum qs_log_level level, const char *msg, void *user) {
    (void)level, (void)msg, (void)user;
}

// x [N, ...] -> y = Relu(x), z = x * 2, w = y + z (outputs w).
static qs_graph_t *small_graph(int rank, const int64_t *sample_dims) {
    qs_graph_t *g = NULL;
    ASSERT_OK(qs__graph_create(&g));
    g->opset = 13;
    g->ir_version = 7;
    g->path = qs__arena_strdup(&g->arena, "test");
    g->inputs = qs__arena_alloc(&g->arena, 4 * sizeof(qs_tensor *));
    g->outputs = qs__arena_alloc(&g->arena, 4 * sizeof(qs_tensor *));
    qs_tensor *x = qs__graph_add_tensor(g, "x");
    x->is_input = true;
    x->v.dtype = QS_DTYPE_F32;
    x->decl_rank = rank;
    x->decl_dims[0] = -1;
    x->dim_param[0] = qs__arena_strdup(&g->arena, "N");
    for (int i = 1; i < rank; i++) x->decl_dims[i] = sample_dims[i - 1];
    g->inputs[g->n_inputs++] = x;
    qs_tensor *two = qs__graph_add_tensor(g, "two");
    qs__view_set_shape(&two->v, QS_DTYPE_F32, 0, NULL);
    two->v.data = qs__aligned_alloc(sizeof(float));
    *(float *)two->v.data = 2.0f;
    two->v.is_const = two->owns_data = two->is_initializer = true;
    qs_node *relu = qs__graph_add_node(g, "relu", "Relu", 1, 1);
    relu->inputs[0] = x;
    relu->outputs[0] = qs__graph_add_tensor(g, "y");
    qs_node *mul = qs__graph_add_node(g, "mul", "Mul", 2, 1);
    mul->inputs[0] = x;
    mul->inputs[1] = two;
    mul->outputs[0] = qs__graph_add_tensor(g, "z");
    qs_node *add = qs__graph_add_node(g, "add", "Add", 2, 1);
    add->inputs[0] = relu->outputs[0];
    add->inputs[1] = mul->outputs[0];
    add->outputs[0] = qs__graph_add_tensor(g, "w");
    add->outputs[0]->is_output = true;
    g->outputs[g->n_outputs++] = add->outputs[0];
    struct qs_diag d = {{0}};
    if (qs__graph_toposort(g, &d) != QS_STATUS_OK ||
        qs__graph_infer_shapes(g, &d) != QS_STATUS_OK) {
        fprintf(stderr, "building the test graph: %s\n", d.msg);
        exit(1);
    }
    return g;
}

static const enum qs_calib_algo split_free[] = {QS_CALIB_MINMAX, QS_CALIB_PERCENTILE,
                                                QS_CALIB_KL, QS_CALIB_MSE, QS_CALIB_EMD};

typedef struct {
    double lo[4][QS_CALIB_ALGO_COUNT][2], hi[4][QS_CALIB_ALGO_COUNT][2];
} ranges;

static void all_ranges(const qs_calib_t *c, ranges *r) {
    for (int t = 0; t < qs_calib_tensor_count(c); t++)
        for (int a = 0; a < QS_CALIB_ALGO_COUNT; a++)
            for (int dt = 0; dt < 2; dt++) {
                struct qs_calib_method m = qs_calib_method_default((enum qs_calib_algo)a);
                m.dtype = dt ? QS_DTYPE_I8 : QS_DTYPE_U8;
                struct qs_diag d;
                if (qs_calib_range(c, t, &m, &r->lo[t][a][dt], &r->hi[t][a][dt], &d)) {
                    fprintf(stderr, "range: %s\n", d.msg);
                    exit(1);
                }
                ASSERT_TRUE(isfinite(r->lo[t][a][dt]) && isfinite(r->hi[t][a][dt]));
            }
}

static void same_split_free(const ranges *a, const ranges *b, int n_tensors) {
    for (int t = 0; t < n_tensors; t++)
        for (size_t k = 0; k < QS_COUNTOF(split_free); k++)
            for (int dt = 0; dt < 2; dt++) {
                int al = split_free[k];
                if (a->lo[t][al][dt] != b->lo[t][al][dt] || a->hi[t][al][dt] != b->hi[t][al][dt]) {
                    fprintf(stderr, "tensor %d %s dtype %d: [%.9g, %.9g] vs [%.9g, %.9g]\n", t,
                            qs_calib_algo_name(split_free[k]), dt, a->lo[t][al][dt],
                            a->hi[t][al][dt], b->lo[t][al][dt], b->hi[t][al][dt]);
                    exit(1);
                }
            }
}

static qs_calib_t *calibrate(qs_graph_t *g, const struct qs_dataset *ds, int batch,
                             int64_t limit) {
    struct qs_calib_options o = qs_calib_options_default();
    o.batch = batch;
    qs_calib_t *c = NULL;
    struct qs_diag d;
    ASSERT_OK(qs_calib_create(g, &o, &c, &d));
    if (qs_calib_run_dataset(c, ds, NULL, limit, &d) != QS_STATUS_OK) {
        fprintf(stderr, "calibrate: %s\n", d.msg);
        exit(1);
    }
    return c;
}

static void test_small_graph(void) {
    enum { N = 100, F = 8 };
    int64_t sd[1] = {F};
    qs_graph_t *g = small_graph(2, sd);
    struct qs_dataset ds = {0};
    int64_t dims[2] = {N, F};
    ASSERT_OK(qs_array_alloc(&ds.inputs[0], QS_DTYPE_F32, 2, dims, NULL));
    ds.n_inputs = 1;
    ds.count = N;
    float *x = ds.inputs[0].data;
    for (int i = 0; i < N * F; i++) x[i] = (float)(6 * uniform() - 2) * (i % 13 == 0 ? 0 : 1);

    qs_calib_t *c = calibrate(g, &ds, 32, 0);
    ASSERT_EQ(qs_calib_tensor_count(c), 4);
    ASSERT_EQ(qs_calib_samples(c), N);
    const char *names[4] = {"x", "y", "z", "w"};
    for (int t = 0; t < 4; t++) {
        ASSERT_EQ(qs_calib_find(c, names[t]), t);
        struct qs_tensor_info info;
        ASSERT_OK(qs_calib_tensor_info(c, t, &info));
        ASSERT_TRUE(strcmp(info.name, names[t]) == 0);
        ASSERT_EQ(qs_calib_find_id(c, info.id), t);
        ASSERT_EQ(qs_observer_count(qs_calib_observer(c, t)), N * F);
    }
    ASSERT_EQ(qs_calib_find(c, "two"), -1);  // constants are not observed
    ASSERT_EQ(qs_calib_find(c, "nope"), -1);
    size_t bytes = qs_calib_state_bytes(c);
    ranges r32;
    all_ranges(c, &r32);
    // Relu output: uint8 ranges start at 0; minmax of x and z = 2x.
    for (int a = 0; a < QS_CALIB_ALGO_COUNT; a++) ASSERT_TRUE(r32.lo[1][a][0] == 0.0);
    float mn = x[0], mx = x[0];
    for (int i = 0; i < N * F; i++) mn = fminf(mn, x[i]), mx = fmaxf(mx, x[i]);
    ASSERT_TRUE(r32.lo[0][0][0] == mn && r32.hi[0][0][0] == mx);
    ASSERT_TRUE(r32.lo[2][0][0] == 2 * mn && r32.hi[2][0][0] == 2 * mx);

    // An observer fed the Relu outputs directly agrees with the graph's.
    static float relu[N * F];
    for (int i = 0; i < N * F; i++) relu[i] = fmaxf(x[i], 0.0f);
    qs_observer_t *ob = NULL;
    ASSERT_OK(qs_observer_create(NULL, &ob, NULL));
    ASSERT_OK(qs_observer_update(ob, relu, N * F, NULL));
    for (size_t k = 0; k < QS_COUNTOF(split_free); k++) {
        struct qs_calib_method m = qs_calib_method_default(split_free[k]);
        double lo, hi;
        ASSERT_OK(qs_observer_range(ob, &m, &lo, &hi, NULL));
        ASSERT_TRUE(lo == r32.lo[1][split_free[k]][0] && hi == r32.hi[1][split_free[k]][0]);
    }
    qs_observer_destroy(ob);

    // Other batch sizes, with partial last batches (100 = 14 * 7 + 2, 3 * 32 + 4).
    const int batches[] = {1, 7, 100, 128};
    for (size_t b = 0; b < QS_COUNTOF(batches); b++) {
        qs_calib_t *c2 = calibrate(g, &ds, batches[b], 0);
        ASSERT_EQ(qs_calib_samples(c2), N);
        ASSERT_EQ(qs_calib_state_bytes(c2), bytes);
        ranges r;
        all_ranges(c2, &r);
        same_split_free(&r32, &r, 4);
        for (int t = 0; t < 4; t++) ASSERT_EQ(qs_observer_count(qs_calib_observer(c2, t)), N * F);
        qs_calib_destroy(c2);
    }
    // Running twice doubles the counts but not the state.
    struct qs_diag d;
    ASSERT_OK(qs_calib_run_dataset(c, &ds, NULL, 0, &d));
    ASSERT_EQ(qs_calib_samples(c), 2 * N);
    ASSERT_EQ(qs_calib_state_bytes(c), bytes);
    qs_calib_destroy(c);

    // A limit keeps the first samples.
    c = calibrate(g, &ds, 32, 10);
    ASSERT_EQ(qs_calib_samples(c), 10);
    double lo, hi;
    ASSERT_OK(qs_calib_range(c, 0, NULL, &lo, &hi, &d));
    float mn10 = 0, mx10 = 0;
    for (int i = 0; i < 10 * F; i++) mn10 = fminf(mn10, x[i]), mx10 = fmaxf(mx10, x[i]);
    ASSERT_TRUE(lo == mn10 && hi == mx10);
    qs_calib_destroy(c);

    // The same data from a .npy file (streamed) and from a raw file (loaded whole).
    char dir[] = "/tmp/qs-calib-XXXXXX";
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    char npy[256], raw[256], spec[300];
    snprintf(npy, sizeof npy, "%s/x.npy", dir);
    snprintf(raw, sizeof raw, "%s/x.f32", dir);
    ASSERT_OK(qs_array_save_npy(npy, &ds.inputs[0], &d));
    FILE *f = fopen(raw, "wb");
    ASSERT_TRUE(f && fwrite(x, sizeof(float), N * F, f) == N * F);
    fclose(f);
    for (int k = 0; k < 2; k++) {
        struct qs_calib_options o = qs_calib_options_default();
        o.batch = k ? 9 : 32;
        ASSERT_OK(qs_calib_create(g, &o, &c, &d));
        if (k) snprintf(spec, sizeof spec, "raw:%s:float32:-1x8", raw);
        const char *specs[1] = {k ? spec : npy};
        if (qs_calib_run_files(c, specs, 1, NULL, 0, &d) != QS_STATUS_OK) {
            fprintf(stderr, "run_files: %s\n", d.msg);
            exit(1);
        }
        ASSERT_EQ(qs_calib_samples(c), N);
        ranges r;
        all_ranges(c, &r);
        same_split_free(&r32, &r, 4);
        // Two specs for a one-input model.
        const char *two_specs[2] = {npy, npy};
        ASSERT_EQ(qs_calib_run_files(c, two_specs, 2, NULL, 0, &d), QS_STATUS_INVALID_ARG);
        const char *missing[1] = {"/nonexistent/x.npy"};
        ASSERT_EQ(qs_calib_run_files(c, missing, 1, NULL, 0, &d), QS_STATUS_IO);
        qs_calib_destroy(c);
    }
    unlink(npy);
    unlink(raw);

    // A non-finite activation stops the run and names the tensor.
    x[57 * F + 3] = NAN;
    struct qs_calib_options o = qs_calib_options_default();
    o.batch = 16;
    ASSERT_OK(qs_calib_create(g, &o, &c, &d));
    ASSERT_EQ(qs_calib_run_dataset(c, &ds, NULL, 0, &d), QS_STATUS_NUMERIC);
    ASSERT_STR_CONTAINS(d.msg, "tensor 'x'");
    ASSERT_EQ(qs_calib_status(c, &d), QS_STATUS_NUMERIC);
    ASSERT_EQ(qs_calib_range(c, 0, NULL, &lo, &hi, &d), QS_STATUS_NUMERIC);
    ASSERT_STR_CONTAINS(d.msg, "'x'");
    ASSERT_EQ(qs_calib_range(c, 4, NULL, &lo, &hi, &d), QS_STATUS_INVALID_ARG);
    qs_calib_destroy(c);
    // Before any run: nothing observed.
    ASSERT_OK(qs_calib_create(g, &o, &c, &d));
    ASSERT_EQ(qs_calib_range(c, 1, NULL, &lo, &hi, &d), QS_STATUS_INVALID_STATE);
    ASSERT_STR_CONTAINS(d.msg, "'y'");
    qs_calib_destroy(c);
    o.bins = 100;
    ASSERT_EQ(qs_calib_create(g, &o, &c, &d), QS_STATUS_INVALID_ARG);
    rmdir(dir);
    qs_dataset_free(&ds);
    qs_graph_destroy(g);
}

// CIFAR-10 binary records streamed one batch at a time give what the whole-file loader
// gives, with preprocessing.
static void test_cifar_stream(void) {
    enum { N = 37 };
    int64_t sd[3] = {3, 32, 32};
    qs_graph_t *g = small_graph(4, sd);
    char dir[] = "/tmp/qs-calib-XXXXXX";
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    char path[256], spec[300];
    snprintf(path, sizeof path, "%s/data.bin", dir);
    snprintf(spec, sizeof spec, "cifar10:%s", path);
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f != NULL);
    for (int i = 0; i < N; i++) {
        unsigned char rec[3073];
        rec[0] = (unsigned char)(i % 10);
        for (int k = 1; k < 3073; k++) rec[k] = (unsigned char)(uniform() * 256);
        ASSERT_TRUE(fwrite(rec, 1, sizeof rec, f) == sizeof rec);
    }
    fclose(f);
    struct qs_diag d;
    struct qs_preprocess pp;
    ASSERT_OK(qs_preprocess_parse("imagenet", &pp, &d));
    struct qs_dataset ds;
    const char *specs[1] = {spec};
    ASSERT_OK(qs_dataset_load(&ds, specs, 1, NULL, &d));
    ranges a, b;
    struct qs_calib_options o = qs_calib_options_default();
    o.batch = 8;
    qs_calib_t *c = NULL;
    ASSERT_OK(qs_calib_create(g, &o, &c, &d));
    ASSERT_OK(qs_calib_run_dataset(c, &ds, &pp, 0, &d));
    all_ranges(c, &a);
    qs_calib_destroy(c);
    o.batch = 5;
    ASSERT_OK(qs_calib_create(g, &o, &c, &d));
    if (qs_calib_run_files(c, specs, 1, &pp, 0, &d) != QS_STATUS_OK) {
        fprintf(stderr, "cifar stream: %s\n", d.msg);
        exit(1);
    }
    ASSERT_EQ(qs_calib_samples(c), N);
    all_ranges(c, &b);
    same_split_free(&a, &b, 4);
    // Preprocessed input: (0/255 - 0.485) / 0.229 is the smallest red value possible.
    ASSERT_TRUE(b.lo[0][QS_CALIB_MINMAX][0] >= (0 - 0.485f) / 0.229f - 1e-5);
    ASSERT_TRUE(b.hi[0][QS_CALIB_MINMAX][0] <= (1 - 0.406f) / 0.225f + 1e-5);
    qs_calib_destroy(c);
    qs_dataset_free(&ds);
    unlink(path);
    rmdir(dir);
    qs_graph_destroy(g);
}

// Allocation n fails, for n = 0, 1, ...: creation, the run and every range return NOMEM or
// succeed, and nothing leaks (checked by the sanitizer build).
static long oom_countdown = -1;
static void *oom_malloc(void *ctx, size_t n) {
    (void)ctx;
    if (oom_countdown == 0) return NULL;
    if (oom_countdown > 0) oom_countdown--;
    return malloc(n);
}
static void *oom_realloc(void *ctx, void *p, size_t n) {
    (void)ctx;
    if (oom_countdown == 0) return NULL;
    if (oom_countdown > 0) oom_countdown--;
    return realloc(p, n);
}
static void oom_free(void *ctx, void *p) {
    (void)ctx;
    free(p);
}

static void test_oom(void) {
    const struct qs_allocator oom = {oom_malloc, oom_realloc, oom_free, NULL};
    qs_set_allocator(&oom);
    int64_t sd[1] = {4};
    qs_graph_t *g = small_graph(2, sd);
    struct qs_dataset ds = {0};
    int64_t dims[2] = {10, 4};
    ASSERT_OK(qs_array_alloc(&ds.inputs[0], QS_DTYPE_F32, 2, dims, NULL));
    ds.n_inputs = 1;
    ds.count = 10;
    for (int i = 0; i < 40; i++) ((float *)ds.inputs[0].data)[i] = (float)(uniform() - 0.3);
    int failures = 0;
    for (long n = 0;; n++) {
        oom_countdown = n;
        struct qs_calib_options o = qs_calib_options_default();
        o.batch = 4;
        qs_calib_t *c = NULL;
        enum qs_status st = qs_calib_create(g, &o, &c, NULL);
        if (st == QS_STATUS_OK) st = qs_calib_run_dataset(c, &ds, NULL, 0, NULL);
        for (int t = 0; st == QS_STATUS_OK && t < 4; t++)
            for (int a = 0; st == QS_STATUS_OK && a < QS_CALIB_ALGO_COUNT; a++) {
                struct qs_calib_method m = qs_calib_method_default((enum qs_calib_algo)a);
                double lo, hi;
                st = qs_calib_range(c, t, &m, &lo, &hi, NULL);
            }
        oom_countdown = -1;
        qs_calib_destroy(c);
        if (st == QS_STATUS_OK) break;
        ASSERT_EQ(st, QS_STATUS_NOMEM);
        failures++;
    }
    qs_dataset_free(&ds);
    qs_graph_destroy(g);
    qs_set_allocator(NULL);
    printf("out of memory: %d allocation failures handled\n", failures);
    ASSERT_TRUE(failures > 5);
}

int main(void) {
    gsl_set_error_handler_off();
    qs_set_log_callback(quiet_log, NULL, QS_LOG_ERROR);
    test_small_graph();
    test_cifar_stream();
    test_oom();
    printf("ok\n");
    return 0;
}
