// Validation of a CUDA layer description (kernels/cuda.h). Plain C, in every build, so
// `lut build --target cuda` reports a bad shape the same way with or without a GPU.
#include "kernels/cuda.h"

enum qs_status qs__cuda_layer_check(const struct qs_cuda_layer *l, struct qs_diag *diag) {
    if (!l) return qs__diag(diag, QS_STATUS_INVALID_ARG, "cuda layer: NULL description");
    if (l->w_bits < 1 || l->w_bits > 32 || l->a_bits < 1 || l->a_bits > 32)
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "cuda layer: bits must be in 1..32 (w_bits %d, a_bits %d)", l->w_bits,
                        l->a_bits);
    if (!(l->sparsity >= 0.0f && l->sparsity < 1.0f))
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "cuda layer: sparsity %g not in [0, 1)",
                        (double)l->sparsity);
    if (l->pattern != QS_CUDA_PATTERN_DENSE && l->pattern != QS_CUDA_PATTERN_UNSTRUCTURED &&
        l->pattern != QS_CUDA_PATTERN_2_4)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "cuda layer: unknown pattern %d",
                        (int)l->pattern);
    // Sizes beyond 2^31 do not fit the int dimensions of cuBLASLt/cuDNN/cuSPARSE anyway.
    const int64_t lim = INT64_C(1) << 31;
    if (l->op == QS_CUDA_OP_GEMM) {
        if (l->m < 1 || l->k < 1 || l->n < 1 || l->m >= lim || l->k >= lim || l->n >= lim)
            return qs__diag(diag, QS_STATUS_INVALID_ARG,
                            "cuda layer: GEMM dims must be in 1..2^31 (m %lld, k %lld, n %lld)",
                            (long long)l->m, (long long)l->k, (long long)l->n);
        return QS_STATUS_OK;
    }
    if (l->op != QS_CUDA_OP_CONV)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "cuda layer: unknown op %d", (int)l->op);
    const int64_t d[] = {l->batch, l->c_in, l->h, l->w, l->c_out, l->kh, l->kw,
                         l->stride_h, l->stride_w, l->dil_h, l->dil_w, l->groups};
    for (size_t i = 0; i < QS_COUNTOF(d); i++)
        if (d[i] < 1 || d[i] >= lim)
            return qs__diag(diag, QS_STATUS_INVALID_ARG,
                            "cuda layer: conv dims, strides, dilations and groups must be "
                            "in 1..2^31");
    if (l->pad_h < 0 || l->pad_w < 0 || l->pad_h >= lim || l->pad_w >= lim)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "cuda layer: negative padding");
    if (l->c_in % l->groups || l->c_out % l->groups)
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "cuda layer: groups %lld do not divide c_in %lld and c_out %lld",
                        (long long)l->groups, (long long)l->c_in, (long long)l->c_out);
    int64_t eh = (l->kh - 1) * l->dil_h + 1, ew = (l->kw - 1) * l->dil_w + 1;
    if (l->h + 2 * l->pad_h < eh || l->w + 2 * l->pad_w < ew)
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "cuda layer: kernel %lldx%lld larger than the padded input %lldx%lld",
                        (long long)eh, (long long)ew, (long long)(l->h + 2 * l->pad_h),
                        (long long)(l->w + 2 * l->pad_w));
    return QS_STATUS_OK;
}
