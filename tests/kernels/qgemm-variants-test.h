// The variant loop of the integer GEMM and convolution tests (test-qgemm.c, qconv-test.h):
// every GEMM variant of this build that the CPU runs, each from the same seed, so that a
// failure replays with QS_TEST_SEED=<n> whichever variant it hit.
#pragma once

#include "xorshift-test.h"
#include "kernels/qgemm-ukernel.h"
#include "test.h"

#include <inttypes.h>

static const struct qs_qgemm_config *g_cfg;  // the variant under test
static qs_pool_t *g_pool;                    // 3 workers, for the threaded cases
static long g_cases;                         // cases run, counted by the tests

// Runs per_variant() for every variant the CPU runs and `filter` accepts (NULL: all;
// otherwise it returns why a variant is skipped, or NULL), with g_cfg set and the generator
// reseeded from QS_TEST_SEED or `default_seed`; prints a line per variant and a summary.
// Returns the number of variants run; exits with the skip code when none could run.
static int qgemm_variants(uint64_t default_seed,
                          const char *(*filter)(const struct qs_qgemm_config *),
                          void (*per_variant)(void)) {
    const char *env = getenv("QS_TEST_SEED");
    g_seed = env ? strtoull(env, NULL, 0) : default_seed;
    if (!g_seed) g_seed = 1;
    ASSERT_OK(qs__pool_create(3, &g_pool));
    size_t count;
    const struct qs_qgemm_config *cfgs = qs__qgemm_configs(&count);
    int ran = 0;
    for (size_t i = 0; i < count; i++) {
        g_cfg = &cfgs[i];
        const char *why = !qs__qgemm_config_supported(g_cfg) ? "the CPU lacks its ISA"
                          : filter                          ? filter(g_cfg)
                                                            : NULL;
        if (why) {
            printf("SKIP %s: %s\n", g_cfg->name, why);
            continue;
        }
        g_state = g_seed;
        long before = g_cases;
        per_variant();
        printf("ok   %s (%ld cases)\n", g_cfg->name, g_cases - before);
        ran++;
    }
    qs__pool_destroy(g_pool);
    g_pool = NULL;
    if (!ran) QS_TEST_SKIP("no integer GEMM variant for this test can run on this CPU");
    printf("%d variants, %ld cases, seed %" PRIu64 "\n", ran, g_cases, g_seed);
    return ran;
}
