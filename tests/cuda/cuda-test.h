// Shared by the CUDA tests: the skip when no GPU can be used, a seeded generator, and
// host references.
#pragma once

#include "kernels/cuda.h"
#include "kernels/qgemm-ukernel.h"
#include "test.h"

#include <math.h>

// Exits 77 unless a CUDA device is usable (also in builds without -DQS_CUDA=ON, where the
// stubs answer UNSUPPORTED with "built without CUDA").
static inline void cuda_test_require_gpu(void) {
    struct qs_diag d = {{0}};
    enum qs_status st = qs__cuda_available(&d);
    if (st != QS_STATUS_OK) QS_TEST_SKIP("no GPU: %s (%s)", d.msg, qs_status_name(st));
    struct qs_cuda_device_info info;
    ASSERT_OK(qs__cuda_device_info(&info, &d));
    printf("device %d: %s, %d SMs, cc %d.%d, driver %d, runtime %d, %s\n", info.ordinal,
           info.name, info.sm_count, info.cc_major, info.cc_minor, info.driver_version,
           info.runtime_version, info.libraries);
}

static uint64_t cuda_test_rng;
static inline uint32_t cuda_test_u32(void) {
    uint64_t z = (cuda_test_rng += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}
static inline float cuda_test_f32(void) {
    return (float)(cuda_test_u32() >> 8) / 8388608.0f - 1.0f;
}
// Seed from QS_TEST_SEED or a fixed default; printed so that a failure can be replayed.
static inline void cuda_test_seed(void) {
    const char *s = getenv("QS_TEST_SEED");
    cuda_test_rng = s ? strtoull(s, NULL, 0) : 20261122u;
    printf("seed %llu (QS_TEST_SEED)\n", (unsigned long long)cuda_test_rng);
}

// |a - b| <= atol + rtol * |b| elementwise, reporting the first miss.
static inline void cuda_test_close(const float *a, const float *b, size_t n, float atol,
                                   float rtol, const char *what) {
    for (size_t i = 0; i < n; i++) {
        if (!(fabsf(a[i] - b[i]) <= atol + rtol * fabsf(b[i]))) {
            fprintf(stderr, "%s: element %zu: gpu %.9g, cpu %.9g\n", what, i, (double)a[i],
                    (double)b[i]);
            exit(1);
        }
    }
}
