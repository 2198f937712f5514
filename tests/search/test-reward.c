// Rewards: each formula against hand-computed values, the properties that make
// compress_first and acc_first what their names say, failed/missing metrics, and the
// formula text for results.json.
#include "test.h"

#include "search/config.h"

#include <math.h>
#include <string.h>

static void near(double got, double want, int line) {
    if (!(fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want)))) {
        fprintf(stderr, "test-reward.c:%d: reward %.12g, expected %.12g\n", line, got, want);
        exit(1);
    }
}
#define NEAR(got, want) near((got), (want), __LINE__)

static struct qs_search_config config(const char *reward_type) {
    struct qs_search_config cfg;
    struct qs_diag diag;
    ASSERT_OK(qs__config_defaults(&cfg));
    ASSERT_OK(qs__config_set(&cfg, "reward_type", reward_type, &diag));
    return cfg;
}

static struct qs_metrics metrics(double acc, double c, double flops, double lat) {
    struct qs_metrics m = {0};
    m.accuracy = acc;
    m.compress_ratio = c;
    m.flops = flops;
    m.bops = flops * 32 * 32 / 2;
    m.latency_ms = lat;
    m.measured_ms = NAN;
    return m;
}

static void set(struct qs_search_config *cfg, const char *k, const char *v) {
    struct qs_diag diag;
    ASSERT_OK(qs__config_set(cfg, k, v, &diag));
}

int main(void) {
    const struct qs_metrics base = metrics(0.90, 1.0, 1e8, 4.0);
    char text[512];

    // compress_first: E + (acc - acc0) above the floor, (acc - acc0) - penalty * log2(1 +
    // 100 (floor - acc)) below it; floor = acc0 - max_acc_drop (0.89 with the default 0.01).
    struct qs_search_config cfg = config("compress_first");
    struct qs_metrics m = metrics(0.895, 4.0, 5e7, 2.0);
    NEAR(qs__reward(&cfg, &m, &base), 2.0 - 0.005);
    m = metrics(0.88, 8.0, 5e7, 2.0);  // one point below the floor: -5
    NEAR(qs__reward(&cfg, &m, &base), -0.02 - 5.0);
    // Above the floor more compression always wins; below it, a policy loses to every
    // policy above it (even fp32), whatever its compression, and gains as accuracy recovers.
    struct qs_metrics a = metrics(0.895, 4.0, 1, 1), b = metrics(0.891, 4.5, 1, 1);
    ASSERT_TRUE(qs__reward(&cfg, &b, &base) > qs__reward(&cfg, &a, &base));
    struct qs_metrics fp32 = metrics(0.90, 1.0, 1, 1), below = metrics(0.885, 40.0, 1, 1);
    ASSERT_TRUE(qs__reward(&cfg, &fp32, &base) > qs__reward(&cfg, &below, &base));
    struct qs_metrics below2 = metrics(0.887, 40.0, 1, 1);
    ASSERT_TRUE(qs__reward(&cfg, &below2, &base) > qs__reward(&cfg, &below, &base));
    // acc_threshold and max_acc_drop together: the higher floor.
    set(&cfg, "acc_threshold", "0.895");
    m = metrics(0.89, 4.0, 1, 1);
    NEAR(qs__reward(&cfg, &m, &base), -0.01 - 5.0 * log2(1.5));
    set(&cfg, "max_acc_drop", "null");
    NEAR(qs__reward(&cfg, &m, &base), -0.01 - 5.0 * log2(1.5));
    set(&cfg, "acc_threshold", "null");
    NEAR(qs__reward(&cfg, &m, &base), 2.0 - 0.01);  // no floor at all
    qs__reward_formula(&cfg, text, sizeof text);
    ASSERT_STR_CONTAINS(text, "no accuracy floor");
    set(&cfg, "max_acc_drop", "0.02");
    set(&cfg, "penalty", "10");
    qs__reward_formula(&cfg, text, sizeof text);
    ASSERT_STR_CONTAINS(text, "compress_first: R = E + (acc - acc0) if acc >= A, else (acc - "
                              "acc0) - 10 * log2(1 + 100 * (A - acc)); E = log2(c); "
                              "A = acc0 - 0.02");
    // Efficiency over several objectives: the mean of their log2 gains.
    set(&cfg, "objective_keys", "[accuracy, compress_ratio, flops, latency]");
    m = metrics(0.90, 4.0, 1.25e7, 1.0);  // gains 4x, 8x, 4x: log2 2, 3, 2
    NEAR(qs__reward(&cfg, &m, &base), 7.0 / 3.0);
    qs__reward_formula(&cfg, text, sizeof text);
    ASSERT_STR_CONTAINS(text, "E = (log2(c) + log2(F0/F) + log2(L0/L)) / 3");
    m.latency_ms = NAN;  // a needed metric missing: no reward
    ASSERT_TRUE(isnan(qs__reward(&cfg, &m, &base)));
    qs__config_free(&cfg);

    // acc_first: 100 (acc - acc0) + 0.1 E - penalty * log2(1 + percent missed of the
    // thresholds).
    cfg = config("acc_first");
    m = metrics(0.89, 4.0, 1, 1);
    NEAR(qs__reward(&cfg, &m, &base), -1.0 + 0.2);
    set(&cfg, "compress_threshold", "8");
    NEAR(qs__reward(&cfg, &m, &base), -1.0 + 0.2 - 5.0 * log2(51.0));
    set(&cfg, "latency_threshold", "1.5");
    set(&cfg, "lut", "/t.yaml");
    m = metrics(0.89, 8.0, 1, 3.0);  // compression met, latency 100% over
    NEAR(qs__reward(&cfg, &m, &base), -1.0 + 0.3 - 5.0 * log2(101.0));
    // Thresholds met: higher accuracy beats more compression.
    a = metrics(0.899, 8.0, 1, 1.0);
    b = metrics(0.897, 16.0, 1, 1.0);
    ASSERT_TRUE(qs__reward(&cfg, &a, &base) > qs__reward(&cfg, &b, &base));
    qs__reward_formula(&cfg, text, sizeof text);
    ASSERT_STR_CONTAINS(text, "acc_first: R = 100 * (acc - acc0) + 0.1 * E - 5 * log2(1 + 100 "
                              "* max(0, 1 - c / 8) + 100 * max(0, L / 1.5 - 1))");
    qs__config_free(&cfg);

    // custom: (1 - w) acc / acc0 + w (1 - 1/r), r the gain of metric_to_reward.
    cfg = config("custom");
    m = metrics(0.81, 4.0, 2.5e7, 2.0);
    NEAR(qs__reward(&cfg, &m, &base), 0.5 * 0.9 + 0.5 * 0.75);
    set(&cfg, "metric_to_reward", "flops");
    set(&cfg, "metric_ratio", "0.2");
    NEAR(qs__reward(&cfg, &m, &base), 0.8 * 0.9 + 0.2 * 0.75);
    set(&cfg, "metric_to_reward", "latency");
    NEAR(qs__reward(&cfg, &m, &base), 0.8 * 0.9 + 0.2 * 0.5);
    set(&cfg, "metric_to_reward", "bops");
    m.bops = base.bops / 16;
    NEAR(qs__reward(&cfg, &m, &base), 0.8 * 0.9 + 0.2 * (1 - 1.0 / 16));
    qs__reward_formula(&cfg, text, sizeof text);
    ASSERT_STR_CONTAINS(text, "custom: R = 0.8 * acc / acc0 + 0.2 * (1 - 1 / r); r = B0/B");
    qs__config_free(&cfg);

    // haq: 0.1 (acc% - acc0%).
    cfg = config("haq");
    m = metrics(0.88, 4.0, 1, 1);
    NEAR(qs__reward(&cfg, &m, &base), -0.2);
    qs__reward_formula(&cfg, text, sizeof text);
    ASSERT_STR_CONTAINS(text, "haq: R = 0.1 * (100 * acc - 100 * acc0)");
    qs__config_free(&cfg);

    // nncf: acc scaled to the decade of acc0 (the same whether in fractions or percent).
    cfg = config("nncf");
    m = metrics(0.88, 4.0, 1, 1);
    NEAR(qs__reward(&cfg, &m, &base), 8.8);
    struct qs_metrics base_pct = metrics(71.8, 1, 1, 1), m_pct = metrics(70.5, 1, 1, 1);
    NEAR(qs__reward(&cfg, &m_pct, &base_pct), 7.05);
    struct qs_metrics zero = metrics(0.0, 1, 1, 1);
    NEAR(qs__reward(&cfg, &m, &zero), 0.88);
    qs__config_free(&cfg);

    // amc: -(1 - acc) ln(FLOPs).
    cfg = config("amc");
    m = metrics(0.9, 1, exp(10.0), 1);
    NEAR(qs__reward(&cfg, &m, &base), -1.0);
    qs__reward_formula(&cfg, text, sizeof text);
    ASSERT_STR_CONTAINS(text, "amc: R = -(1 - acc) * ln(F)");
    // A failed evaluation has no reward, under every formula.
    m.failed = true;
    for (int t = 0; t <= QS_REWARD_AMC; t++) {
        cfg.reward_type = (enum qs_reward_type)t;
        ASSERT_TRUE(isnan(qs__reward(&cfg, &m, &base)));
    }
    qs__config_free(&cfg);

    // The README documents every formula.
    const char *doc = qs__reward_doc();
    static const char *const names[] = {"`compress_first`", "`acc_first`", "`custom`", "`haq`",
                                        "`nncf`", "`amc`"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) ASSERT_STR_CONTAINS(doc, names[i]);
    printf("ok\n");
    return 0;
}
