// Quantized models against onnxruntime: every case in tests/fixtures/qops (written by
// scripts/make-qop-fixtures.py) is run and each graph output, which includes every 8-bit
// tensor a node produces, is compared with onnxruntime's. Integers must be equal unless the
// case's tolerance.txt allows "<steps> <min exact fraction>" (an approximate sigmoid in
// onnxruntime, the float convolutions of a QDQ model); floats within 1e-6 relative. Runs
// must not allocate (a counting allocator is installed).
//
// usage: test-qlinear-fixtures [-v] [CASE_SUBSTRING]
#include "ir/onnx/onnx-impl.h"
#include "test.h"

#include <dirent.h>
#include <math.h>

static int verbose;

// Counts allocations made while `armed` (qs_session_run must make none).
static int armed, allocs_while_armed;
static void *count_malloc(void *ctx, size_t n) {
    (void)ctx;
    allocs_while_armed += armed;
    return malloc(n);
}
static void *count_realloc(void *ctx, void *p, size_t n) {
    (void)ctx;
    allocs_while_armed += armed;
    return realloc(p, n);
}
static void count_free(void *ctx, void *p) {
    (void)ctx;
    free(p);
}

static void quiet_log(enum qs_log_level level, const char *msg, void *user) {
    (void)level, (void)msg, (void)user;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool read_pb(const char *path, qs_tensor *t) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, got, buf);
    free(buf);
    ASSERT_TRUE(tp != NULL);
    memset(t, 0, sizeof *t);
    struct qs_diag diag;
    enum qs_status st = qs__tensor_from_proto(tp, NULL, t, &diag);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    if (st != QS_STATUS_OK) fprintf(stderr, "%s: %s\n", path, diag.msg);
    return st == QS_STATUS_OK;
}

struct tolerance {
    int steps;
    double min_exact;
};

// Compares one output; returns false (with a message) when it is off.
static bool compare(const char *cname, const char *oname, const qs_view *want, const void *got,
                    struct tolerance tol) {
    int64_t exact = 0, worst_i = -1;
    double worst = 0;
    const bool is_float = want->dtype == QS_DTYPE_F32;
    qs_view gv = *want;
    gv.data = (void *)got;
    for (int64_t i = 0; i < want->numel; i++) {
        double a = qs__view_get_f64(want, i), b = qs__view_get_f64(&gv, i);
        double d = fabs(a - b);
        bool same = is_float ? d <= 1e-6 * fmax(1.0, fabs(a)) : d == 0;
        exact += same;
        if (!same && d > worst) {
            worst = d;
            worst_i = i;
        }
    }
    const double frac = want->numel ? (double)exact / (double)want->numel : 1.0;
    bool ok;
    if (is_float) {
        // A float output downstream of a 1-step difference moves by one quantization step;
        // bound it by the output's own range.
        double range = 0;
        for (int64_t i = 0; i < want->numel; i++)
            range = fmax(range, fabs(qs__view_get_f64(want, i)));
        ok = frac >= tol.min_exact && (tol.steps == 0 ? worst == 0 : worst <= 0.05 * range);
    } else {
        ok = frac >= tol.min_exact && worst <= tol.steps;
    }
    if (!ok || verbose)
        printf("%s %s/%s: %lld elements, exact %.4f%%, worst diff %g at %lld\n",
               ok ? "  ok" : "FAIL", cname, oname, (long long)want->numel, 100.0 * frac, worst,
               (long long)worst_i);
    return ok;
}

enum outcome { PASS, FAIL, SKIP_CASE };

static enum outcome run_case(const char *dir, const char *cname) {
    char path[4096];
    struct tolerance tol = {0, 1.0};
    snprintf(path, sizeof path, "%s/%s/tolerance.txt", dir, cname);
    FILE *tf = fopen(path, "r");
    if (tf) {
        ASSERT_EQ(fscanf(tf, "%d %lf", &tol.steps, &tol.min_exact), 2);
        fclose(tf);
    }
    snprintf(path, sizeof path, "%s/%s/model.onnx", dir, cname);
    struct qs_diag diag = {{0}};
    qs_graph_t *g = NULL;
    enum qs_status st = qs__graph_load_onnx_file(path, false, &g, &diag);
    if (st != QS_STATUS_OK) {
        printf("FAIL %s: load: %s\n", cname, diag.msg);
        return FAIL;
    }
    int n_in = qs_graph_input_count(g);
    qs_tensor vals[8];
    ASSERT_TRUE(n_in <= 8);
    for (int i = 0; i < n_in; i++) {
        snprintf(path, sizeof path, "%s/%s/test_data_set_0/input_%d.pb", dir, cname, i);
        ASSERT_TRUE(read_pb(path, &vals[i]));
        qs_tensor *t = g->inputs[i];
        t->decl_rank = vals[i].v.rank;
        memcpy(t->decl_dims, vals[i].v.dims, sizeof t->decl_dims);
    }
    enum outcome res = FAIL;
    qs_session_t *s = NULL;
    if ((st = qs__graph_infer_shapes(g, &diag)) != QS_STATUS_OK ||
        (st = qs_session_create(g, &(struct qs_session_options){
                                       .struct_size = sizeof(struct qs_session_options),
                                       .batch = 0, .threads = 2}, &s, &diag)) != QS_STATUS_OK) {
        // MaxPool lives in ir/ops/pool.c; until it takes uint8 that case cannot run.
        if (st == QS_STATUS_UNSUPPORTED && strstr(diag.msg, "(MaxPool)")) {
            printf("SKIP %s: %s\n", cname, diag.msg);
            res = SKIP_CASE;
        } else {
            printf("FAIL %s: %s\n", cname, diag.msg);
        }
        goto done;
    }
    for (int i = 0; i < n_in; i++)
        memcpy(qs_session_input_data(s, i), vals[i].v.data, qs__view_bytes(&vals[i].v));
    armed = 1;
    allocs_while_armed = 0;
    st = qs_session_run(s, &diag);
    armed = 0;
    if (st != QS_STATUS_OK) {
        printf("FAIL %s: run: %s\n", cname, diag.msg);
        goto done;
    }
    res = PASS;
    if (allocs_while_armed) {
        printf("FAIL %s: qs_session_run made %d allocations\n", cname, allocs_while_armed);
        res = FAIL;
    }
    for (int o = 0; o < qs_graph_output_count(g); o++) {
        qs_tensor want;
        snprintf(path, sizeof path, "%s/%s/test_data_set_0/output_%d.pb", dir, cname, o);
        ASSERT_TRUE(read_pb(path, &want));
        struct qs_tensor_info info;
        ASSERT_OK(qs_session_output_info(s, o, &info));
        bool same_shape = info.dtype == want.v.dtype && info.rank == want.v.rank;
        for (int d = 0; same_shape && d < info.rank; d++)
            same_shape = info.dims[d] == want.v.dims[d];
        if (!same_shape) {
            printf("FAIL %s/%s: type or shape differs (%s rank %d, expected %s rank %d)\n", cname,
                   info.name, qs_dtype_name(info.dtype), info.rank, qs_dtype_name(want.v.dtype),
                   want.v.rank);
            res = FAIL;
        } else if (!compare(cname, info.name, &want.v, qs_session_output_data(s, o), tol)) {
            res = FAIL;
        }
        qs__aligned_free(want.v.data);
    }
done:
    for (int i = 0; i < n_in; i++) qs__aligned_free(vals[i].v.data);
    qs_session_destroy(s);
    qs_graph_destroy(g);
    return res;
}

int main(int argc, char **argv) {
    const char *filter = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) verbose = 1;
        else filter = argv[i];
    }
    qs_set_allocator(&(struct qs_allocator){count_malloc, count_realloc, count_free, NULL});
    const char *dir = qs_test_data("qops");
    DIR *dp = opendir(dir);
    if (!dp) QS_TEST_SKIP("fixtures not found at %s", dir);
    qs_set_log_callback(quiet_log, NULL, QS_LOG_ERROR);
    char *names[256];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp)) && n < 256) {
        if (de->d_name[0] == '.') continue;
        if (filter && !strstr(de->d_name, filter)) continue;
        names[n++] = strdup(de->d_name);
    }
    closedir(dp);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    int passed = 0, failed = 0, skipped = 0;
    for (int i = 0; i < n; i++) {
        enum outcome r = run_case(dir, names[i]);
        passed += r == PASS;
        failed += r == FAIL;
        skipped += r == SKIP_CASE;
        if (r == PASS && verbose) printf("PASS %s\n", names[i]);
        free(names[i]);
    }
    printf("qops fixtures: %d passed, %d failed, %d skipped (of %d)\n", passed, failed, skipped,
           n);
    ASSERT_TRUE(n > 0);
    return failed ? 1 : 0;
}
