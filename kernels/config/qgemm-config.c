// Integer GEMM variant selection: the rows of kernels/qgemm.inc this build compiled, and the
// choice among them for the running CPU, made once per process (per weight class).
#include "kernels/qgemm-ukernel.h"

#include <limits.h>
#include <stdatomic.h>
#include <string.h>

static const struct qs_qgemm_config g_configs[] = {
#define QS_QGEMM_UKERNEL(level_, isa_, ukernel_, packx_, mr_, nr_, kr_, w_elem_, x_elem_,    \
                         x_bias_, w_min_)                                                    \
    {.name = #ukernel_, .level = level_, .isa = isa_, .ukernel = ukernel_, .packx = packx_, \
     .mr = mr_, .nr = nr_, .kr = kr_, .w_elem = w_elem_, .x_elem = x_elem_,                 \
     .x_bias = x_bias_, .w_min = w_min_},
#include "kernels/qgemm.inc"
#undef QS_QGEMM_UKERNEL
};

const struct qs_qgemm_config *qs__qgemm_configs(size_t *count) {
    *count = QS_COUNTOF(g_configs);
    return g_configs;
}

bool qs__qgemm_config_supported(const struct qs_qgemm_config *cfg) {
    return (qs_cpu_info_get()->isa_flags & cfg->isa) == cfg->isa;
}

static const char *level_suffix(const struct qs_qgemm_config *cfg) {
    const char *s = strstr(cfg->name, "__");
    return s ? s + 2 : cfg->name;
}

static const struct qs_qgemm_config *choose(int w_min) {
    const char *env = getenv("QS_KERNELS");
    int cap = INT_MAX;
    const struct qs_qgemm_config *forced = NULL;
    if (env && *env) {
        bool known = false;
        if (strcmp(env, "ref") == 0 || strcmp(env, "scalar") == 0) cap = 0, known = true;
        for (size_t i = 0; i < QS_COUNTOF(g_configs) && !known; i++) {
            if (strcmp(env, g_configs[i].name) == 0) forced = &g_configs[i], known = true;
            else if (strcmp(env, level_suffix(&g_configs[i])) == 0)
                cap = (int)g_configs[i].level, known = true;
        }
        if (!known) qs__log(QS_LOG_WARN, "QS_KERNELS=%s names no integer GEMM variant of this build", env);
        if (forced && (!qs__qgemm_config_supported(forced) || forced->w_min > w_min)) {
            qs__log(QS_LOG_WARN, "QS_KERNELS=%s: not usable here (CPU or weight range)", env);
            forced = NULL;
        }
    }
    const struct qs_qgemm_config *cfg = forced;
    for (size_t i = 0; i < QS_COUNTOF(g_configs) && !cfg; i++) {
        const struct qs_qgemm_config *c = &g_configs[i];
        if ((int)c->level <= cap && c->w_min <= w_min && qs__qgemm_config_supported(c)) cfg = c;
    }
    QS_ASSERT(cfg);  // the scalar row accepts every CPU and weight
    qs__log(QS_LOG_INFO, "using integer GEMM microkernel '%s'%s", cfg->name,
            w_min > -128 ? "" : " (weights include -128)");
    return cfg;
}

const struct qs_qgemm_config *qs__qgemm_config_get(int w_min) {
    // Racing first calls compute the same answer, so release/acquire is enough.
    static _Atomic(const struct qs_qgemm_config *) chosen[2];
    int cls = w_min > -128;
    const struct qs_qgemm_config *cfg = atomic_load_explicit(&chosen[cls], memory_order_acquire);
    if (cfg) return cfg;
    cfg = choose(cls ? -127 : -128);
    atomic_store_explicit(&chosen[cls], cfg, memory_order_release);
    return cfg;
}
