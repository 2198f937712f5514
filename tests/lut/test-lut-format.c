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
    ASSERT_TRUE(a->n_jobs == 2 * (4 + 3));
    const char *copy = tmp_path("copy.yaml");
    ASSERT_OK(qs__lut_save(a, copy, &d));
    ASSERT_OK(qs_lut_load(copy, &b, &d));
    ASSERT_EQ(qs_lut_entry_count(a), qs_lut_entry_count(b));
    ASSERT_TRUE(!strcmp(a->hw.cpu_model, b->hw.cpu_model) && !strcmp(a->hw.isa, b->hw.isa));
    ASSERT_EQ(a->hw.threads, b->hw.threads);
    ASSERT_TRUE(!strcmp(a->settings, b->settings));
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
    ASSERT_EQ(qs_lut_load(tmp_path("missing.yaml"), &l, &d), QS_STATUS_IO);
    ASSERT_STR_CONTAINS(d.msg, "missing.yaml");
    ASSERT_TRUE(l == NULL);
}

int main(void) {
    if (access(tiny_model(), R_OK) != 0) QS_TEST_SKIP("fixture %s missing", tiny_model());
    test_round_trip();
    test_bad_input();
    cleanup_tmp();
    printf("ok\n");
    return 0;
}
