// Helpers of the latency-table tests: temporary files and a small measured table.
#pragma once

#include "test.h"

#include "qsearch/lut.h"

#include <unistd.h>

static char g_tmpdir[256];

static const char *tmp_path(const char *name) {
    static char buf[8][512];
    static int k;
    if (!g_tmpdir[0]) {
        snprintf(g_tmpdir, sizeof g_tmpdir, "/tmp/qs-lut-test-XXXXXX");
        ASSERT_TRUE(mkdtemp(g_tmpdir) != NULL);
    }
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", g_tmpdir, name);
    return p;
}

__attribute__((unused)) static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    fputs(text, f);
    ASSERT_TRUE(fclose(f) == 0);
}

static const char *tiny_model(void) { return qs_test_data("lut/lut_tiny.onnx"); }

// A table of the tiny model measured here (few repeats: the tests check structure, not time).
__attribute__((unused)) static const char *tiny_table(void) {
    static char path[512];  // tmp_path's buffers are reused after eight calls
    if (path[0]) return path;
    snprintf(path, sizeof path, "%s", tmp_path("tiny.yaml"));
    unlink(path);
    static const float sp[] = {0.0f, 0.5f};
    struct qs_lut_build_options o = qs_lut_build_options_default();
    o.repeats = 3;
    o.warmup = 1;
    o.mixed = 3;
    o.sparsity = sp;
    o.n_sparsity = 2;
    struct qs_diag d = {{0}};
    const char *models[] = {tiny_model()};
    if (qs_lut_build(models, 1, &o, path, &d) != QS_STATUS_OK) {
        fprintf(stderr, "lut build: %s\n", d.msg);
        exit(1);
    }
    return path;
}

__attribute__((unused)) static void cleanup_tmp(void) {
    if (!g_tmpdir[0]) return;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", g_tmpdir);
}
