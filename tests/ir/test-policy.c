// Policy files: round trip, defaults, and one-line errors with file:line:col.
#include "qsearch/ir.h"
#include "test.h"

#include <unistd.h>

static char dir[] = "/tmp/qs-policy-XXXXXX";

static const char *write_file(const char *name, const char *text) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void expect_error(const char *name, const char *text, const char *needle) {
    const char *path = write_file(name, text);
    qs_policy_t *p = NULL;
    struct qs_diag diag = {{0}};
    ASSERT_EQ(qs_policy_load(path, &p, &diag), QS_STATUS_PARSE);
    ASSERT_TRUE(p == NULL);
    ASSERT_STR_CONTAINS(diag.msg, path);
    ASSERT_STR_CONTAINS(diag.msg, needle);
    printf("ok: %s\n", diag.msg);
}

static void quiet(enum qs_log_level l, const char *m, void *u) { (void)l, (void)m, (void)u; }

static int load_policy(const char *text, void *user, char *why, size_t why_size) {
    (void)user;
    const char *path = write_file("mut.yaml", text);
    qs_policy_t *p = NULL;
    struct qs_diag diag = {{0}};
    enum qs_status st = qs_policy_load(path, &p, &diag);
    qs_policy_destroy(p);
    if (st == QS_STATUS_OK) return 0;
    if (st == QS_STATUS_PARSE && strstr(diag.msg, path)) return 1;
    snprintf(why, why_size, "status %d, '%.400s'", (int)st, diag.msg);
    return -1;
}

// Random damage to a valid policy file loads or fails with a parse error naming the file.
static void test_mutations(void) {
    static const char base[] = "# comment\nlayers:\n  conv1: {w_bits: 8, a_bits: 8}\n"
                               "  \"fc:0\":\n    w_bits: 8\n    a_bits: 32\n    sparsity: 0.5\n"
                               "    pattern: \"2:4\"\n  conv2: {}\n  conv3: {sparsity: 0.25}\n";
    qs_test_mutations(base, ":-[]{},#'\"\n 0248.&*", 0x9011c7ull, true, load_policy, NULL);
}

int main(void) {
    ASSERT_TRUE(mkdtemp(dir));
    qs_set_log_callback(quiet, NULL, QS_LOG_ERROR);
    struct qs_diag diag = {{0}};
    qs_policy_t *p;
    const char *path = write_file("a.yaml",
                                  "# comment\nlayers:\n  conv1: {w_bits: 8, a_bits: 8}\n"
                                  "  \"fc:0\":\n    w_bits: 8\n    a_bits: 32\n    sparsity: 0.5\n"
                                  "    pattern: \"2:4\"\n  conv2: {}\n");
    ASSERT_OK(qs_policy_load(path, &p, &diag));
    ASSERT_EQ(qs_policy_count(p), 3);
    const struct qs_layer_policy *lp = qs_policy_get(p, "fc:0");
    ASSERT_TRUE(lp && lp->w_bits == 8 && lp->a_bits == 32 && lp->sparsity == 0.5f);
    ASSERT_TRUE(!strcmp(lp->pattern, "2:4"));
    lp = qs_policy_get(p, "conv2");
    ASSERT_TRUE(lp && lp->w_bits == 32 && lp->a_bits == 32 && !strcmp(lp->pattern, "unstructured"));
    ASSERT_TRUE(qs_policy_get(p, "nope") == NULL);
    // Save and load again: same entries in the same order.
    char out[4200];
    snprintf(out, sizeof out, "%s/b.yaml", dir);
    ASSERT_OK(qs_policy_save(p, out, &diag));
    qs_policy_t *q;
    ASSERT_OK(qs_policy_load(out, &q, &diag));
    ASSERT_EQ(qs_policy_count(q), 3);
    for (int i = 0; i < 3; i++) {
        const char *n1, *n2;
        const struct qs_layer_policy *a, *b;
        ASSERT_OK(qs_policy_entry(p, i, &n1, &a));
        ASSERT_OK(qs_policy_entry(q, i, &n2, &b));
        ASSERT_TRUE(!strcmp(n1, n2) && a->w_bits == b->w_bits && a->a_bits == b->a_bits &&
                    a->sparsity == b->sparsity && !strcmp(a->pattern, b->pattern));
    }
    qs_policy_destroy(q);
    qs_policy_destroy(p);

    expect_error("bits.yaml", "layers:\n  conv1: {w_bits: 4, a_bits: 8}\n", ":2:10: layer 'conv1': w_bits 4");
    expect_error("key.yaml", "layers:\n  conv1: {w_bits: 8, abits: 8}\n", ":2:22: unknown key 'abits'");
    expect_error("top.yaml", "layer:\n  conv1: {}\n", ":1:1: unknown key 'layer'");
    expect_error("syntax.yaml", "layers:\n  conv1: {w_bits: 8\n", "syntax.yaml':");
    expect_error("sparsity.yaml", "layers:\n  c: {sparsity: 0.99}\n", "sparsity 0.99");
    expect_error("pattern.yaml", "layers:\n  c: {pattern: 3:2}\n", "unknown sparsity pattern");
    expect_error("dup.yaml", "layers:\n  c: {}\n  c: {}\n", "listed twice");
    expect_error("empty.yaml", "", "no 'layers' key");
    ASSERT_EQ(qs_policy_load("/nonexistent/p.yaml", &p, &diag), QS_STATUS_IO);
    ASSERT_STR_CONTAINS(diag.msg, "/nonexistent/p.yaml");
    test_mutations();

    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) return 1;
    printf("all policy checks passed\n");
    return 0;
}
