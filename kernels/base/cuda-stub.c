// The CUDA backend's entry points in a build without -DQS_CUDA=ON (kernels/cuda.h): every
// one reports QS_STATUS_UNSUPPORTED, so callers need no #ifdef. With QS_CUDA the real ones
// in kernels/cuda/ are compiled instead and this file is empty.
#include "kernels/cuda.h"

#ifndef QS_ENABLE_CUDA

#include <string.h>

static enum qs_status built_without(struct qs_diag *diag) {
    return qs__diag(diag, QS_STATUS_UNSUPPORTED, "built without CUDA (-DQS_CUDA=ON)");
}

bool qs__cuda_built(void) { return false; }

enum qs_status qs__cuda_available(struct qs_diag *diag) { return built_without(diag); }

enum qs_status qs__cuda_device_info(struct qs_cuda_device_info *out, struct qs_diag *diag) {
    return built_without(diag);
}

void qs__cuda_shutdown(void) {}

enum qs_status qs__cuda_time_layer(const struct qs_cuda_layer *layer, int repeats,
                                   struct qs_cuda_timing *out, struct qs_diag *diag) {
    return built_without(diag);
}

enum qs_status qs__cuda_gemm_f32(int64_t m, int64_t k, int64_t n, const float *x,
                                 const float *w, const float *bias, float *y,
                                 struct qs_diag *diag) {
    return built_without(diag);
}

enum qs_status qs__cuda_qgemm(size_t n, size_t k, size_t p, const int8_t *w,
                              const uint8_t *x, bool x_kp, void *c, bool c_np,
                              const struct qs_qgemm_params *params, struct qs_diag *diag) {
    return built_without(diag);
}

enum qs_status qs__cuda_conv_f32(const struct qs_cuda_layer *layer, const float *x,
                                 const float *w, const float *bias, float *y,
                                 struct qs_diag *diag) {
    return built_without(diag);
}

enum qs_status qs__cuda_qconv(const struct qs_cuda_layer *layer, const uint8_t *x,
                              const int8_t *w, void *y, const struct qs_qgemm_params *params,
                              struct qs_diag *diag) {
    return built_without(diag);
}

enum qs_status qs__cuda_spgemm_f32(enum qs_cuda_pattern pattern, int64_t m, int64_t k,
                                   int64_t n, const float *x, const float *w,
                                   const float *bias, float *y, struct qs_diag *diag) {
    return built_without(diag);
}

#endif
