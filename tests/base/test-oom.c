// Makes allocation n fail for n = 1, 2, ... through model loading, optimisation and
// session creation: each must fail with QS_STATUS_NOMEM (or succeed, where a failed
// allocation only costs an optimisation), never crash, and ASan's leak checker proves the
// error paths free everything. Uses the demo model shipped in configs/.
#include "qsearch/ir.h"
#include "test.h"

static long countdown = -1;  // allocations left before failing; -1 = never fail
static long allocs;

static void *t_malloc(void *ctx, size_t n) {
    (void)ctx;
    allocs++;
    if (countdown == 0) return NULL;
    if (countdown > 0) countdown--;
    return malloc(n);
}
static void *t_realloc(void *ctx, void *p, size_t n) {
    (void)ctx;
    allocs++;
    if (countdown == 0) return NULL;
    if (countdown > 0) countdown--;
    return realloc(p, n);
}
static void t_free(void *ctx, void *p) {
    (void)ctx;
    free(p);
}
static void quiet(enum qs_log_level l, const char *m, void *u) { (void)l, (void)m, (void)u; }

static enum qs_status attempt(const char *path) {
    struct qs_diag diag;
    qs_graph_t *g = NULL;
    qs_session_t *s = NULL;
    enum qs_status st = qs_graph_load_onnx(path, &g, &diag);
    if (st == QS_STATUS_OK) st = qs_graph_optimize(g, QS_PASS_DEFAULT, &diag);
    if (st == QS_STATUS_OK) {
        struct qs_session_options so = qs_session_options_default();
        so.batch = 4;
        st = qs_session_create(g, &so, &s, &diag);
    }
    if (st == QS_STATUS_OK) {
        // A run never allocates: buffers were planned at session creation.
        long before = allocs;
        st = qs_session_run(s, &diag);
        if (st == QS_STATUS_OK) st = qs_session_run(s, &diag);
        if (allocs != before) {
            fprintf(stderr, "qs_session_run made %ld allocations\n", allocs - before);
            exit(1);
        }
    }
    qs_session_destroy(s);
    qs_graph_destroy(g);
    return st;
}

int main(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/../../configs/demo/digits_cnn.onnx", getenv("QS_TEST_DATA") ? getenv("QS_TEST_DATA") : "tests/fixtures");
    struct stat st_;
    if (stat(path, &st_) != 0) QS_TEST_SKIP("demo model %s not found", path);
    struct qs_allocator a = {t_malloc, t_realloc, t_free, NULL};
    qs_set_allocator(&a);
    qs_set_log_callback(quiet, NULL, QS_LOG_ERROR);
    countdown = -1;
    allocs = 0;
    ASSERT_OK(attempt(path));
    long total = allocs;
    printf("a full load + optimize + session + run makes %ld allocations\n", total);
    int checked = 0, tolerated = 0;
    for (long n = 0; n < total; n++) {
        countdown = n;
        enum qs_status st = attempt(path);
        if (st == QS_STATUS_OK) tolerated++;
        else if (st != QS_STATUS_NOMEM) {
            fprintf(stderr, "allocation %ld failing gave %s, expected QS_STATUS_NOMEM\n", n + 1,
                    qs_status_name(st));
            return 1;
        }
        checked++;
    }
    countdown = -1;
    qs_set_allocator(NULL);
    printf("%d allocation failures tolerated\n%d passed, 0 failed\n", tolerated, checked);
    return 0;
}
