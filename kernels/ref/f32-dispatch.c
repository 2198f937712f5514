// Selection of the fp32 kernel table: AVX-512F (stride-1 conv) over AVX2+FMA, or AVX2+FMA,
// when built and supported, else the scalar references. QS_KERNELS=ref in the environment
// forces the references (to run the conformance suite on the fallback path on an AVX2
// machine); QS_KERNELS=avx2 caps the choice at AVX2.
#include "kernels/f32.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const struct qs_f32_kernels g_ref = {
    .isa = "ref",
    .conv_mr = 6,
    .conv_s1_rows = true,
    .bias_act = qs__f32_bias_act_ref,
    .affine_rows = qs__f32_affine_rows_ref,
    .dwconv = qs__f32_dwconv_ref,
    .conv_s1 = qs__f32_conv_s1_ref,
    .wino_min_c = 8,
    .wino_input = qs__f32_wino_input_ref,
    .wino_gemm = qs__f32_wino_gemm_ref,
    .wino_output = qs__f32_wino_output_ref,
    .maxpool = qs__f32_maxpool_ref,
    .avgpool = qs__f32_avgpool_ref,
    .row_mean = qs__f32_row_mean_ref,
    .row_max = qs__f32_row_max_ref,
    .softmax = qs__f32_softmax_ref,
    .moments = qs__f32_moments_ref,
    .layernorm = qs__f32_layernorm_ref,
};

#if defined(QS_ENABLE_AVX2) && (defined(__x86_64__) || defined(__i386__))
#define HAVE_AVX2_TABLE 1
static const struct qs_f32_kernels g_avx2 = {
    .isa = "avx2",
    .conv_mr = 6,
    .conv_s1_rows = false,
    .bias_act = qs__f32_bias_act__avx2,
    .affine_rows = qs__f32_affine_rows__avx2,
    .dwconv = qs__f32_dwconv__avx2,
    .conv_s1 = qs__f32_conv_s1__avx2,
    .wino_min_c = 8,
    .wino_input = qs__f32_wino_input__avx2,
    .wino_gemm = qs__f32_wino_gemm__avx2,
    .wino_output = qs__f32_wino_output__avx2,
    .maxpool = qs__f32_maxpool__avx2,
    .avgpool = qs__f32_avgpool__avx2,
    .row_mean = qs__f32_row_mean__avx2,
    .row_max = qs__f32_row_max__avx2,
    .softmax = qs__f32_softmax__avx2,
    .moments = qs__f32_moments__avx2,
    .layernorm = qs__f32_layernorm__avx2,
};
#if defined(QS_ENABLE_AVX512)
#define HAVE_AVX512_TABLE 1
static const struct qs_f32_kernels g_avx512 = {
    .isa = "avx512",
    .conv_mr = 8,
    .conv_s1_rows = true,
    .bias_act = qs__f32_bias_act__avx2,
    .affine_rows = qs__f32_affine_rows__avx2,
    .dwconv = qs__f32_dwconv__avx2,
    .conv_s1 = qs__f32_conv_s1__avx512,
    .conv_oc = qs__f32_conv_oc__avx512,
    .wino_min_c = 12,  // 8 channels: 0.6x the direct kernel; 12: 1.3x
    .wino_input = qs__f32_wino_input__avx512,
    .wino_gemm = qs__f32_wino_gemm__avx512,
    .wino_output = qs__f32_wino_output__avx512,
    .maxpool = qs__f32_maxpool__avx512,
    .avgpool = qs__f32_avgpool__avx2,
    .row_mean = qs__f32_row_mean__avx2,
    .row_max = qs__f32_row_max__avx2,
    .softmax = qs__f32_softmax__avx2,
    .moments = qs__f32_moments__avx2,
    .layernorm = qs__f32_layernorm__avx2,
};
#endif
#endif

const struct qs_f32_kernels *qs__f32_kernels_ref(void) {
    return &g_ref;
}

const struct qs_f32_kernels *qs__f32_kernels_avx2(void) {
#if defined(HAVE_AVX2_TABLE)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &g_avx2;
#endif
    return NULL;
}

const struct qs_f32_kernels *qs__f32_kernels_avx512(void) {
#if defined(HAVE_AVX512_TABLE)
    if (qs__f32_kernels_avx2() && __builtin_cpu_supports("avx512f")) return &g_avx512;
#endif
    return NULL;
}

const struct qs_f32_kernels *qs__f32_kernels(void) {
    // Racing first calls compute the same answer, so a relaxed atomic is enough.
    static _Atomic(const struct qs_f32_kernels *) chosen;
    const struct qs_f32_kernels *k = atomic_load_explicit(&chosen, memory_order_acquire);
    if (k) return k;
    const char *env = getenv("QS_KERNELS");
    k = NULL;
    if (!env || (strcmp(env, "ref") != 0 && strcmp(env, "avx2") != 0))
        k = qs__f32_kernels_avx512();
    if (!k && (!env || strcmp(env, "ref") != 0)) k = qs__f32_kernels_avx2();
    if (!k) k = &g_ref;
    qs__log(QS_LOG_DEBUG, "fp32 kernels: %s", k->isa);
    atomic_store_explicit(&chosen, k, memory_order_release);
    return k;
}
