// SpMM variant selection (the compiled kernels, best first) and the dispatcher's break-even
// table: the density below which the sparse kernel beats the dense one on this CPU class.
#include "kernels/ref/spmm-impl.h"

#include <limits.h>
#include <stdatomic.h>
#include <string.h>

static const struct qs_spmm_kernel g_kernels[] = {
#if (defined(__x86_64__) || defined(_M_X64)) && QS_ENABLE_AVX512VNNI
    {"qs_qu8_qc8w_spmm_minmax_ukernel_g1__avx512vnni", QS_QGEMM_LEVEL_AVX512VNNI,
     QS_ISA_X86_AVX512F | QS_ISA_X86_AVX512BW | QS_ISA_X86_AVX512VL | QS_ISA_X86_AVX512VNNI, 1,
     NULL, qs_qu8_qc8w_spmm_minmax_ukernel_g1__avx512vnni},
#endif
#if (defined(__x86_64__) || defined(_M_X64)) && QS_ENABLE_AVX512
    {"qs_f32_spmm_minmax_ukernel_g4__avx512", QS_QGEMM_LEVEL_AVX512VNNI,
     QS_ISA_X86_AVX512F | QS_ISA_X86_AVX512VL | QS_ISA_X86_FMA, 4,
     qs_f32_spmm_minmax_ukernel_g4__avx512, NULL},
    {"qs_f32_spmm_minmax_ukernel_g1__avx512", QS_QGEMM_LEVEL_AVX512VNNI,
     QS_ISA_X86_AVX512F | QS_ISA_X86_AVX512VL | QS_ISA_X86_FMA, 1,
     qs_f32_spmm_minmax_ukernel_g1__avx512, NULL},
#endif
#if (defined(__x86_64__) || defined(_M_X64)) && QS_ENABLE_AVX2
    {"qs_f32_spmm_minmax_ukernel_g4__avx2", QS_QGEMM_LEVEL_AVX2,
     QS_ISA_X86_AVX2 | QS_ISA_X86_FMA, 4, qs_f32_spmm_minmax_ukernel_g4__avx2, NULL},
    {"qs_f32_spmm_minmax_ukernel_g1__avx2", QS_QGEMM_LEVEL_AVX2,
     QS_ISA_X86_AVX2 | QS_ISA_X86_FMA, 1, qs_f32_spmm_minmax_ukernel_g1__avx2, NULL},
    {"qs_qu8_qc8w_spmm_minmax_ukernel_g1__avx2", QS_QGEMM_LEVEL_AVX2, QS_ISA_X86_AVX2, 1,
     NULL, qs_qu8_qc8w_spmm_minmax_ukernel_g1__avx2},
#endif
#if defined(__aarch64__) && QS_ENABLE_NEON
    {"qs_f32_spmm_minmax_ukernel_g1__neon", QS_QGEMM_LEVEL_NEON, QS_ISA_ARM_NEON, 1,
     qs_f32_spmm_minmax_ukernel_g1__neon, NULL},
    {"qs_qu8_qc8w_spmm_minmax_ukernel_g1__neon", QS_QGEMM_LEVEL_NEON, QS_ISA_ARM_NEON, 1,
     NULL, qs_qu8_qc8w_spmm_minmax_ukernel_g1__neon},
#endif
    {"qs_f32_spmm_minmax_ukernel_g1__scalar", QS_QGEMM_LEVEL_SCALAR, 0, 1,
     qs_f32_spmm_minmax_ukernel_g1__scalar, NULL},
    {"qs_qu8_qc8w_spmm_minmax_ukernel_g1__scalar", QS_QGEMM_LEVEL_SCALAR, 0, 1, NULL,
     qs_qu8_qc8w_spmm_minmax_ukernel_g1__scalar},
};

const struct qs_spmm_kernel *qs__spmm_kernels(size_t *count) {
    *count = QS_COUNTOF(g_kernels);
    return g_kernels;
}

bool qs__spmm_kernel_supported(const struct qs_spmm_kernel *kern) {
    return (qs_cpu_info_get()->isa_flags & kern->isa) == kern->isa;
}

// QS_KERNELS: a level name caps the choice, a kernel name forces it (when it fits).
static int level_cap(const char **forced) {
    const char *env = getenv("QS_KERNELS");
    *forced = NULL;
    if (!env || !*env) return INT_MAX;
    static const struct { const char *name; int level; } levels[] = {
        {"ref", QS_QGEMM_LEVEL_SCALAR}, {"scalar", QS_QGEMM_LEVEL_SCALAR},
        {"avx2", QS_QGEMM_LEVEL_AVX2}, {"neon", QS_QGEMM_LEVEL_NEON},
        {"avxvnni", QS_QGEMM_LEVEL_AVXVNNI}, {"neondot", QS_QGEMM_LEVEL_NEONDOT},
        {"avx512", QS_QGEMM_LEVEL_AVX512VNNI}, {"avx512vnni", QS_QGEMM_LEVEL_AVX512VNNI},
    };
    for (size_t i = 0; i < QS_COUNTOF(levels); i++)
        if (strcmp(env, levels[i].name) == 0) return levels[i].level;
    *forced = env;
    return INT_MAX;
}

static const struct qs_spmm_kernel *choose(bool q8, int g) {
    const char *forced;
    int cap = level_cap(&forced);
    for (size_t i = 0; forced && i < QS_COUNTOF(g_kernels); i++) {
        const struct qs_spmm_kernel *k = &g_kernels[i];
        if (strcmp(forced, k->name) == 0 && (k->q8 != NULL) == q8 && k->g == g &&
            qs__spmm_kernel_supported(k))
            return k;
    }
    for (size_t i = 0; i < QS_COUNTOF(g_kernels); i++) {
        const struct qs_spmm_kernel *k = &g_kernels[i];
        if ((k->q8 != NULL) == q8 && k->g == g && k->level <= cap &&
            qs__spmm_kernel_supported(k))
            return k;
    }
    return NULL;
}

const struct qs_spmm_kernel *qs__spmm_kernel_get(bool q8, int g) {
    // Racing first calls compute the same answer. Slot value 1 means "none".
    static _Atomic(uintptr_t) chosen[2][2];
    const int gi = g == 4;
    uintptr_t v = atomic_load_explicit(&chosen[q8][gi], memory_order_acquire);
    if (v) return v == 1 ? NULL : (const struct qs_spmm_kernel *)v;
    const struct qs_spmm_kernel *k = choose(q8, g);
    if (k) qs__log(QS_LOG_INFO, "using SpMM microkernel '%s'", k->name);
    atomic_store_explicit(&chosen[q8][gi], k ? (uintptr_t)k : 1, memory_order_release);
    return k;
}

// ---------------------------------------------------------------------------------------
// Break-even densities, measured with bench/spmm --sweep (bench/spmm/README.md) on the
// Zen 5 VM (AVX-512; OpenBLAS runs its Haswell kernels there). Rows: the chosen kernel's
// level at least `level`, the dense peer, rows per group, N at most; the density below which
// sparse wins, with a margin (about 10 sparsity points) over the worst shape's crossing. The
// first matching row counts; the last rows are conservative defaults for other CPUs.

struct break_even {
    int level;
    enum qs_spmm_peer peer;
    int g;
    size_t n_max;
    double density;
};

static const struct break_even g_table[] = {
    // AVX-512 (measured). CSR crosses sgemm at 45-50% zeros, our conv at 65-70%, and the
    // VNNI qgemm at 70-75%; 4x1 blocks beat sgemm even dense (their kernel is a 4x64 GEMM
    // tile) and our conv from about 30% zeros.
    {QS_QGEMM_LEVEL_AVX512VNNI, QS_SPMM_PEER_SGEMM, 1, SIZE_MAX, 0.42},
    {QS_QGEMM_LEVEL_AVX512VNNI, QS_SPMM_PEER_F32_CONV, 1, SIZE_MAX, 0.22},
    {QS_QGEMM_LEVEL_AVX512VNNI, QS_SPMM_PEER_SGEMM, 4, SIZE_MAX, 0.70},
    {QS_QGEMM_LEVEL_AVX512VNNI, QS_SPMM_PEER_F32_CONV, 4, SIZE_MAX, 0.50},
    {QS_QGEMM_LEVEL_AVX512VNNI, QS_SPMM_PEER_QGEMM, 1, SIZE_MAX, 0.20},
    // AVX2 (the anchors' Zen 3 numbers for a tiled CSR: break-even at 70-75% zeros).
    {QS_QGEMM_LEVEL_AVX2, QS_SPMM_PEER_SGEMM, 1, SIZE_MAX, 0.22},
    {QS_QGEMM_LEVEL_AVX2, QS_SPMM_PEER_F32_CONV, 1, SIZE_MAX, 0.20},
    {QS_QGEMM_LEVEL_AVX2, QS_SPMM_PEER_SGEMM, 4, SIZE_MAX, 0.40},
    {QS_QGEMM_LEVEL_AVX2, QS_SPMM_PEER_F32_CONV, 4, SIZE_MAX, 0.35},
    {QS_QGEMM_LEVEL_AVX2, QS_SPMM_PEER_QGEMM, 1, SIZE_MAX, 0.08},
    // NEON (Paddle Lite switches at 40% zeros on ARM; ours is conservative).
    {QS_QGEMM_LEVEL_NEON, QS_SPMM_PEER_SGEMM, 1, SIZE_MAX, 0.30},
    {QS_QGEMM_LEVEL_NEON, QS_SPMM_PEER_F32_CONV, 1, SIZE_MAX, 0.25},
    {QS_QGEMM_LEVEL_NEON, QS_SPMM_PEER_QGEMM, 1, SIZE_MAX, 0.10},
    // Scalar kernels: only very sparse layers.
    {QS_QGEMM_LEVEL_SCALAR, QS_SPMM_PEER_SGEMM, 1, SIZE_MAX, 0.05},
    {QS_QGEMM_LEVEL_SCALAR, QS_SPMM_PEER_F32_CONV, 1, SIZE_MAX, 0.05},
    {QS_QGEMM_LEVEL_SCALAR, QS_SPMM_PEER_QGEMM, 1, SIZE_MAX, 0.03},
};

double qs__spmm_break_even_density(enum qs_spmm_peer peer, enum qs_sparse_format f, size_t m,
                                   size_t k, size_t n) {
    (void)m, (void)k;
    const bool q8 = peer == QS_SPMM_PEER_QGEMM;
    int g = f == QS_SPARSE_BSR_4X1 || f == QS_SPARSE_BSR_8X1 ? 4 : 1;
    const struct qs_spmm_kernel *kern = qs__spmm_kernel_get(q8, g);
    if (!kern) kern = qs__spmm_kernel_get(q8, g = 1);
    if (!kern) return 0.0;
    for (size_t i = 0; i < QS_COUNTOF(g_table); i++) {
        const struct break_even *b = &g_table[i];
        if (b->peer == peer && b->g == g && kern->level >= b->level && n <= b->n_max)
            return b->density;
    }
    return 0.0;
}

bool qs__spmm_pays(enum qs_spmm_peer peer, enum qs_sparse_format f, size_t m, size_t k,
                   size_t n, size_t nnz) {
    const char *env = getenv("QS_SPMM");
    if (env && strcmp(env, "always") == 0) return true;
    if (env && strcmp(env, "never") == 0) return false;
    if (m == 0 || k == 0 || n == 0) return false;
    double density = (double)nnz / ((double)m * (double)k);
    return density < qs__spmm_break_even_density(peer, f, m, k, n);
}
