// The search report (search/report.c): writes a report for synthetic episodes into a temporary
// directory and checks the files (PNG signature and size, HTML contents and escaping, no
// temporary files left), the empty report, and bad input.
#include "search/report.h"
#include "test.h"

#include <dirent.h>
#include <math.h>
#include <unistd.h>

static char g_dir[256];

static void read_file(const char *name, char **data, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: missing\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc((size_t)n + 1);
    ASSERT_TRUE(*data && fread(*data, 1, (size_t)n, f) == (size_t)n);
    (*data)[n] = 0;
    *len = (size_t)n;
    fclose(f);
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

// PNG signature, an IHDR of the expected size, and an IEND at the end.
static void check_png(const char *name, uint32_t min_w, uint32_t min_h) {
    char *d;
    size_t n;
    read_file(name, &d, &n);
    const unsigned char *u = (const unsigned char *)d;
    ASSERT_TRUE(n > 100);
    ASSERT_TRUE(memcmp(u, "\x89PNG\r\n\x1a\n", 8) == 0);
    ASSERT_TRUE(memcmp(u + 12, "IHDR", 4) == 0);
    uint32_t w = be32(u + 16), h = be32(u + 20);
    printf("%s: %u x %u, %zu bytes\n", name, w, h, n);
    ASSERT_TRUE(w >= min_w && h >= min_h && w <= 4000 && h <= 2000);
    ASSERT_TRUE(memcmp(u + n - 8, "IEND", 4) == 0);
    free(d);
}

static void check_no_tmp(void) {
    DIR *dp = opendir(g_dir);
    ASSERT_TRUE(dp);
    struct dirent *de;
    while ((de = readdir(dp)))
        if (strstr(de->d_name, ".tmp")) {
            fprintf(stderr, "left behind: %s\n", de->d_name);
            exit(1);
        }
    closedir(dp);
}

static void cleanup(void) {
    const char *names[] = {"reward.png", "layers.png", "pareto.png", "report.html"};
    char path[512];
    for (size_t i = 0; i < QS_COUNTOF(names); i++) {
        snprintf(path, sizeof path, "%s/%s", g_dir, names[i]);
        remove(path);
    }
    rmdir(g_dir);
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/qs-report-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ASSERT_TRUE(mkdtemp(g_dir) != NULL);

    // 80 synthetic episodes: reward improving with noise, accuracy falling as latency falls,
    // a few infeasible and two failed.
    enum { N = 80, L = 14 };
    struct qs_report_episode ep[N];
    uint32_t s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 1664525u + 1013904223u;
        double u = (s >> 8) / 16777216.0;
        double lat = 2.0 + 6.0 * u;
        ep[i] = (struct qs_report_episode){
            .episode = i + 1, .accuracy = 0.80 + 0.12 * (lat - 2) / 6 - 0.02 * (i % 3),
            .latency_ms = lat, .compress_ratio = 4.0 + 3 * (1 - u),
            .model_bytes = (uint64_t)(300000 * (0.5 + u)), .feasible = i % 11 != 5,
            .failed = i == 17 || i == 42};
        ep[i].reward = ep[i].failed ? NAN : -log(lat) + 10 * ep[i].accuracy + 0.01 * i;
        if (ep[i].failed) ep[i].accuracy = ep[i].latency_ms = NAN;
    }
    // The Pareto set by brute force (maximise accuracy, minimise latency).
    size_t par[N], np = 0;
    long best = -1;
    for (int i = 0; i < N; i++) {
        if (ep[i].failed || !ep[i].feasible) continue;
        if (best < 0 || ep[i].reward > ep[best].reward) best = i;
        bool dominated = false;
        for (int j = 0; j < N && !dominated; j++)
            dominated = j != i && !ep[j].failed && ep[j].feasible &&
                        ep[j].accuracy >= ep[i].accuracy && ep[j].latency_ms <= ep[i].latency_ms &&
                        (ep[j].accuracy > ep[i].accuracy || ep[j].latency_ms < ep[i].latency_ms);
        if (!dominated) par[np++] = (size_t)i;
    }
    ASSERT_TRUE(np >= 2);
    struct qs_report_layer layers[L];
    char names[L][48];
    for (int i = 0; i < L; i++) {
        snprintf(names[i], sizeof names[i], i == 3 ? "<conv&%d>" : "layer%d.conv/weight", i);
        layers[i] = (struct qs_report_layer){.name = names[i], .w_bits = i % 3 ? 8 : 32,
                                             .a_bits = i % 4 ? 8 : 32, .sparsity = 0.05 * i,
                                             .pattern = i % 2 ? "unstructured" : NULL};
    }
    const char *keys[] = {"stop reason", "table misses"};
    const char *vals[] = {"max_episode", "3 of 1200 lookups"};
    struct qs_report r = {.title = "resnet20 \"compress_first\" <demo>",
                          .reward_formula = "-(1 - acc) * 10 + log(ratio) & more",
                          .episodes = ep, .n_episodes = N, .layers = layers, .n_layers = L,
                          .pareto = par, .n_pareto = np, .best = best, .metric_percent = true,
                          .extra_keys = keys, .extra_values = vals, .n_extra = 2};
    struct qs_diag d = {{0}};
    enum qs_status st = qs__report_write(g_dir, &r, &d);
    if (st) fprintf(stderr, "%s\n", d.msg);
    ASSERT_OK(st);
    check_png("reward.png", 600, 300);
    check_png("layers.png", 600, 300);
    check_png("pareto.png", 600, 300);
    check_no_tmp();
    char *html;
    size_t hn;
    read_file("report.html", &html, &hn);
    ASSERT_STR_CONTAINS(html, "<!DOCTYPE html>");
    ASSERT_STR_CONTAINS(html, "<title>resnet20 &quot;compress_first&quot; &lt;demo&gt;</title>");
    ASSERT_STR_CONTAINS(html, "<img src=\"reward.png\"");
    ASSERT_STR_CONTAINS(html, "<img src=\"layers.png\"");
    ASSERT_STR_CONTAINS(html, "<img src=\"pareto.png\"");
    ASSERT_STR_CONTAINS(html, "-(1 - acc) * 10 + log(ratio) &amp; more");
    ASSERT_STR_CONTAINS(html, "&lt;conv&amp;3&gt;");
    ASSERT_STR_CONTAINS(html, "unstructured");
    ASSERT_STR_CONTAINS(html, "3 of 1200 lookups");
    ASSERT_STR_CONTAINS(html, "<th class=\"k\">failed evaluations</th><td>2</td>");
    char want[96];
    snprintf(want, sizeof want, "<h2>Pareto set (%zu)</h2>", np);
    ASSERT_STR_CONTAINS(html, want);
    snprintf(want, sizeof want, "<th class=\"k\">best episode</th><td>%d</td>", ep[best].episode);
    ASSERT_STR_CONTAINS(html, want);
    ASSERT_STR_CONTAINS(html, "<h2>Policy (14 layers)</h2>");
    ASSERT_TRUE(strstr(html, "<conv&") == NULL);  // never unescaped
    ASSERT_STR_CONTAINS(html, "</html>");
    free(html);

    // Written again over the first report (atomic replacement), now empty.
    struct qs_report empty = {.best = -1};
    ASSERT_OK(qs__report_write(g_dir, &empty, &d));
    check_png("reward.png", 600, 300);
    check_no_tmp();
    read_file("report.html", &html, &hn);
    ASSERT_STR_CONTAINS(html, "<title>qsearch run</title>");
    ASSERT_STR_CONTAINS(html, "<td>none</td>");
    free(html);

    // Bad input.
    struct qs_report bad = r;
    bad.best = N;
    ASSERT_EQ(qs__report_write(g_dir, &bad, &d), QS_STATUS_INVALID_ARG);
    ASSERT_STR_CONTAINS(d.msg, "best");
    bad = r;
    size_t wrong = N + 3;
    bad.pareto = &wrong, bad.n_pareto = 1;
    ASSERT_EQ(qs__report_write(g_dir, &bad, &d), QS_STATUS_INVALID_ARG);
    ASSERT_STR_CONTAINS(d.msg, "Pareto");
    char missing[300];
    snprintf(missing, sizeof missing, "%s/no/such/dir", g_dir);
    ASSERT_EQ(qs__report_write(missing, &r, &d), QS_STATUS_IO);
    ASSERT_STR_CONTAINS(d.msg, "no/such/dir");
    cleanup();
    printf("ok\n");
    return 0;
}
