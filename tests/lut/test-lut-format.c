// Latency table format: a measured table survives load -> save -> load unchanged, and bad
// files fail with a message naming the file and line.
#include "lut-test-util.h"

#include "latency_tables/lut-impl.h"

#include <math.h>

static const char *header(void) {
    return "qsearch_lut: 1\n"
           "descriptor:\n"
           "  target: \"x86\"\n"
           "  arch: \"x86_64\"\n"
           "  cpu_model: \"Test CPU\"\n"
           "  isa: \"int8:avx2 fp32:avx2\"\n"
           "measurement:\n"
           "  batch: 1\n"
           "  threads: 1\n"
           "...\n" LUT_CSV_HEADER "\n";
}

static enum qs_status load_text(const char *rows, struct qs_diag *d) {
    char text[4096];
    snprintf(text, sizeof text, "%s%s", header(), rows);
    const char *p = tmp_path("bad.yaml");
    write_file(p, text);
    qs_lut_t *l = NULL;
    memset(d, 0, sizeof *d);
    enum qs_status st = qs_lut_load(p, &l, d);
    qs_lut_destroy(l);
    return st;
}

#define ROW_OK "Relu,float32:1x8,float32:1x8,-,-,-,-,32,32,0,0.5,0.4,0.6,10\n"

static void expect_error(const char *rows, const char *line, const char *what) {
    struct qs_diag d;
    enum qs_status st = load_text(rows, &d);
    if (st != QS_STATUS_PARSE || !strstr(d.msg, line) || !strstr(d.msg, what)) {
        fprintf(stderr, "expected PARSE with '%s' and '%s', got %d: %s\n", line, what, st, d.msg);
        exit(1);
    }
}

static void test_round_trip(void) {
    const char *path = tiny_table();
    struct qs_diag d = {{0}};
    qs_lut_t *a = NULL, *b = NULL;
    ASSERT_OK(qs_lut_load(path, &a, &d));
    ASSERT_TRUE(qs_lut_entry_count(a) > 10);
    ASSERT_TRUE(a->complete);
    // 2 sparsity levels x (4 uniform + 3 mixed policies), plus the fp32 policy unfused.
    ASSERT_TRUE(a->n_jobs == 2 * (4 + 3) + 1);
    const char *copy = tmp_path("copy.yaml");
    ASSERT_OK(qs__lut_save(a, copy, &d));
    ASSERT_OK(qs_lut_load(copy, &b, &d));
    ASSERT_EQ(qs_lut_entry_count(a), qs_lut_entry_count(b));
    ASSERT_TRUE(!strcmp(a->hw.cpu_model, b->hw.cpu_model) && !strcmp(a->hw.isa, b->hw.isa));
    ASSERT_EQ(a->hw.threads, b->hw.threads);
    ASSERT_TRUE(!strcmp(a->settings, b->settings));
    // The residual curves fitted from the build's configurations survive too.
    ASSERT_TRUE(a->n_resid >= 1 && a->n_resid_p10 >= 1);
    ASSERT_EQ(a->n_resid, b->n_resid);
    ASSERT_EQ(a->n_resid_p10, b->n_resid_p10);
    for (int i = 0; i < a->n_resid; i++)
        ASSERT_TRUE(fabs(a->resid_t[i] - b->resid_t[i]) <= 1e-6 &&
                    fabs(a->resid_ms[i] - b->resid_ms[i]) <= 1e-6);
    for (int i = 0; i < a->n_resid_p10; i++)
        ASSERT_TRUE(fabs(a->resid_p10_t[i] - b->resid_p10_t[i]) <= 1e-6 &&
                    fabs(a->resid_p10_ms[i] - b->resid_p10_ms[i]) <= 1e-6);
    ASSERT_TRUE(fabs(qs__lut_run_residual(a, 0.5, 10, false) -
                     qs__lut_run_residual(b, 0.5, 10, false)) <= 1e-5);
    for (int i = 0; i < a->n_entries; i++) {
        const lut_entry *ea = &a->entries[i], *eb = qs__lut_find(b, ea->key);
        ASSERT_TRUE(eb != NULL);
        ASSERT_EQ(ea->n_pts, eb->n_pts);
        for (int j = 0; j < ea->n_pts; j++) {
            ASSERT_TRUE(fabs(ea->pts[j].ms - eb->pts[j].ms) <= 1e-6);
            ASSERT_TRUE(fabs(ea->pts[j].p90 - eb->pts[j].p90) <= 1e-6);
            ASSERT_EQ(ea->pts[j].runs, eb->pts[j].runs);
            ASSERT_TRUE(ea->pts[j].sparsity == eb->pts[j].sparsity);
        }
    }
    qs_lut_destroy(a);
    qs_lut_destroy(b);
}

static void test_bad_input(void) {
    struct qs_diag d;
    ASSERT_OK(load_text(ROW_OK, &d));
    // The rows start at line 12 (10 header lines and the column header).
    expect_error(ROW_OK "Relu,float32:1x8,float32:1x8,-,-,-,-,32,32,0,0.5\n", ":13:", "columns");
    expect_error("Relu,float32:1x8,float32:1x8,-,-,-,-,32,32,0,abc,0.4,0.6,10\n", ":12:", "time");
    expect_error("Relu,float32:1x8,float32:1x8,-,-,-,-,32,32,0,-1,0,0,10\n", ":12:", "time");
    expect_error("Relu,float32:1x8,float32:1x8,-,-,-,-,32,32,0,0.5,0.7,0.9,10\n", ":12:", "p10");
    expect_error("Relu,float32:1x8,float32:1x8,-,-,-,-,32,32,1.5,0.5,0.4,0.6,10\n", ":12:",
                 "sparsity");
    expect_error("Relu,float32:1x8,float32:1x8,-,-,-,-,16,32,0,0.5,0.4,0.6,10\n", ":12:", "bits");
    expect_error("Relu,float33:1x8,float32:1x8,-,-,-,-,32,32,0,0.5,0.4,0.6,10\n", ":12:",
                 "malformed");
    expect_error("Relu,float32:1x8,float32:1x8,-,-,-,-,32,32,0,0.5,0.4,0.6,0\n", ":12:", "runs");
    expect_error(ROW_OK ROW_OK, ":13:", "duplicate");
    expect_error("Re lu,float32:1x8,float32:1x8,-,-,-,-,32,32,0,0.5,0.4,0.6,10\n", ":12:", "op");

    // Header problems.
    const char *p = tmp_path("hdr.yaml");
    qs_lut_t *l = NULL;
    write_file(p, "qsearch_lut: 1\ndescriptor:\n  target: x86\n...\n" LUT_CSV_HEADER "\n");
    ASSERT_EQ(qs_lut_load(p, &l, &d), QS_STATUS_PARSE);
    ASSERT_STR_CONTAINS(d.msg, "descriptor.arch");
    ASSERT_STR_CONTAINS(d.msg, p);
    write_file(p, "qsearch_lut: [1\n...\n");
    ASSERT_EQ(qs_lut_load(p, &l, &d), QS_STATUS_PARSE);
    ASSERT_STR_CONTAINS(d.msg, p);
    write_file(p, "op,inputs\nRelu,x\n");
    ASSERT_EQ(qs_lut_load(p, &l, &d), QS_STATUS_PARSE);
    ASSERT_STR_CONTAINS(d.msg, "not a qsearch latency table");
    char text[2048];
    snprintf(text, sizeof text, "%s", header());
    char *mb = strstr(text, "  batch: 1");
    memcpy(mb, "  batch: x", 10);
    write_file(p, text);
    ASSERT_EQ(qs_lut_load(p, &l, &d), QS_STATUS_PARSE);
    ASSERT_STR_CONTAINS(d.msg, ":8:");
    ASSERT_STR_CONTAINS(d.msg, "measurement.batch");
    snprintf(text, sizeof text, "%s", header());
    *strstr(text, LUT_CSV_HEADER) = 0;
    strcat(text, "op,wrong\n");
    write_file(p, text);
    ASSERT_EQ(qs_lut_load(p, &l, &d), QS_STATUS_PARSE);
    ASSERT_STR_CONTAINS(d.msg, ":11:");
    // Residual curves: [sum, residual] pairs, sums increasing.
    const char *curves[][2] = {
        {"  run_residual: [[1, 0.1], [0.5, 0.2]]\n", "increasing"},
        {"  run_residual: [[1, 0.1], [2]]\n", "pairs"},
        {"  run_residual_p10: [[1, x]]\n", "pairs"},
        {"  run_residual: [[-1, 0.1]]\n", "non-negative"},
    };
    for (size_t i = 0; i < sizeof curves / sizeof curves[0]; i++) {
        snprintf(text, sizeof text, "%s", header());
        char *at = strstr(text, "...\n");
        char rest[1024];
        snprintf(rest, sizeof rest, "%s", at);
        snprintf(at, sizeof text - (size_t)(at - text), "%s%s", curves[i][0], rest);
        write_file(p, text);
        ASSERT_EQ(qs_lut_load(p, &l, &d), QS_STATUS_PARSE);
        ASSERT_STR_CONTAINS(d.msg, ":10:");
        ASSERT_STR_CONTAINS(d.msg, curves[i][1]);
    }
    ASSERT_EQ(qs_lut_load(tmp_path("missing.yaml"), &l, &d), QS_STATUS_IO);
    ASSERT_STR_CONTAINS(d.msg, "missing.yaml");
    ASSERT_TRUE(l == NULL);
}

// The per-run residual fitted from job records: a curve by the sum of the nodes that
// follows a step (runs shorter than 1 ms meet no interruption, longer ones 2% of their
// length), its share of the run made non-decreasing; older records (nodes and residual
// only) keep the linear fit.
static void test_residual_fit(void) {
    qs_lut_t *l;
    ASSERT_OK(qs__lut_create(&l));
    uint64_t x = 42;
    for (int j = 0; j < 200; j++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        double noise = ((double)(x >> 40) / (1 << 24) - 0.5) * 0.002;  // +-1 us
        double t = 0.05 + 4.0 * j / 200.0;
        double r = (t < 1.0 ? 0.0 : 0.02 * t) + noise;
        char rec[128];
        snprintf(rec, sizeof rec, "m s=0 k%d|%d|%.6f|%.6f|%.6f|%.6f", j, 40, r, t, 0.5 * r, t);
        ASSERT_OK(qs__lut_add_job(l, rec));
    }
    qs__lut_fit_overhead(l);
    ASSERT_TRUE(l->n_resid >= 8 && l->n_resid <= LUT_RESID_KNOTS);
    for (int i = 1; i < l->n_resid; i++)
        ASSERT_TRUE(l->resid_t[i] > l->resid_t[i - 1] &&
                    l->resid_ms[i] / l->resid_t[i] >= l->resid_ms[i - 1] / l->resid_t[i - 1] - 1e-9);
    ASSERT_TRUE(fabs(qs__lut_run_residual(l, 0.5, 40, false)) < 0.002);
    ASSERT_TRUE(fabs(qs__lut_run_residual(l, 3.0, 40, false) - 0.06) < 0.006);
    // Beyond the last knot: the same share of the run.
    ASSERT_TRUE(fabs(qs__lut_run_residual(l, 8.0, 40, false) - 0.16) < 0.02);
    ASSERT_TRUE(fabs(qs__lut_run_residual(l, 3.0, 40, true) - 0.03) < 0.004);
    ASSERT_TRUE(fabs(l->run_overhead_ms) < 0.002 && fabs(l->node_overhead_ms) < 1e-4);
    qs_lut_destroy(l);

    ASSERT_OK(qs__lut_create(&l));
    for (int j = 0; j < 20; j++) {
        char rec[128];
        snprintf(rec, sizeof rec, "old k%d|%d|%.6f", j, 10 + j, 0.001 + 0.0001 * (10 + j));
        ASSERT_OK(qs__lut_add_job(l, rec));
    }
    qs__lut_fit_overhead(l);
    ASSERT_EQ(l->n_resid, 0);
    ASSERT_TRUE(fabs(l->run_overhead_ms - 0.001) < 1e-6);
    ASSERT_TRUE(fabs(l->node_overhead_ms - 0.0001) < 1e-8);
    ASSERT_TRUE(fabs(qs__lut_run_residual(l, 2.0, 20, false) - 0.003) < 1e-6);
    qs_lut_destroy(l);
}

static int load_lut(const char *text, void *user, char *why, size_t why_size) {
    const char *p = user;
    write_file(p, text);
    qs_lut_t *l = NULL;
    struct qs_diag d = {{0}};
    enum qs_status st = qs_lut_load(p, &l, &d);
    qs_lut_destroy(l);
    if (st == QS_STATUS_OK) return 0;
    if (st == QS_STATUS_PARSE && strstr(d.msg, p)) return 1;
    snprintf(why, why_size, "status %d, '%.400s'", (int)st, d.msg);
    return -1;
}

// Random damage to a valid table (bytes replaced by format characters, bytes dropped,
// lines repeated, the file cut short) loads or fails with a parse error naming the file;
// never a crash or an over-read (the sanitizer round runs this too). Seeded.
static void test_mutations(void) {
    char base[4096];
    snprintf(base, sizeof base, "%s", header());
    char *at = strstr(base, "...\n");
    char rest[2048];
    snprintf(rest, sizeof rest, "%s", at);
    snprintf(at, sizeof base - (size_t)(at - base),
             "  run_residual: [[0.2, 0.001], [1.5, 0.03]]\n%s" ROW_OK
             "Relu,float32:1x16,float32:1x16,-,-,-,-,32,32,0,0.7,0.6,0.8,10\n"
             "Relu,float32:1x16,float32:1x16,-,-,-,-,32,32,0.5,0.6,0.5,0.7,10\n",
             rest);
    struct qs_diag d;
    const char *p = tmp_path("mut.yaml");
    write_file(p, base);
    qs_lut_t *l = NULL;
    ASSERT_OK(qs_lut_load(p, &l, &d));
    qs_lut_destroy(l);
    qs_test_mutations(base, ",:\n[]-.09aZ \"#x", 0x7ab1e5ull, false, load_lut, (void *)p);
}

int main(void) {
    if (access(tiny_model(), R_OK) != 0) QS_TEST_SKIP("fixture %s missing", tiny_model());
    test_round_trip();
    test_bad_input();
    test_residual_fit();
    test_mutations();
    cleanup_tmp();
    printf("ok\n");
    return 0;
}
