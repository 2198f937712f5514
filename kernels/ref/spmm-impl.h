// Private to kernels/: the packed layout behind kernels/spmm.h and the microkernel contract
// every SpMM variant implements. Tests and benchmarks may include it to reach one variant.
//
// Packed layout: rows are grouped by g (1, or 4 for 4x1/8x1 blocks whose kernels exist);
// group i covers rows i*g .. i*g+g-1 (rows past M are zero). Its entries are
// ptr[i] .. ptr[i+1]-1; entry e is column col[e] with g values:
//   fp32: vf[e*g + r] (row r of the group);
//   int8: entries padded to a multiple of 4 per group (zero weights on a valid column);
//         quad q = e/4 holds vq[(q*g + r)*4 + (e%4)], i.e. 4 consecutive entries of row r
//         form one 32-bit word (what vpdpbusd / sdot broadcast).
// wsum[row] (int8) is the row sum of W, for the zero-point correction:
//   sum_k W (X - zp) + bias = sum_k W X + (bias - zp * wsum)   (mod 2^32).
#pragma once

#include "kernels/qgemm-ukernel.h"
#include "kernels/spmm.h"
#include "qsearch/cpu.h"

struct qs_spmm_f32_call {
    const qs_spmm_weights *w;
    const float *x;
    size_t ldx;
    float *c;
    size_t ldc;
    const float *bias;  // [M] or NULL
    float lo, hi;
};

struct qs_spmm_q8_call {
    const qs_spmm_weights *w;
    const uint8_t *x;
    size_t ldx;
    void *c;
    size_t ldc;  // elements
    // Epilogue: init = bias - x_zp * wsum per row; scale/fbias per row (M values, padded to
    // the groups); out_type, zero point and clamps as in qgemm's microkernel params.
    struct qs_qgemm_ukernel_params p;
};

/// Computes groups [g0, g1) and columns [n0, n1) (g0 < g1, n0 < n1).
typedef void (*qs_spmm_f32_fn)(const struct qs_spmm_f32_call *call, size_t g0, size_t g1,
                               size_t n0, size_t n1);
typedef void (*qs_spmm_q8_fn)(const struct qs_spmm_q8_call *call, size_t g0, size_t g1,
                              size_t n0, size_t n1);

struct qs_spmm_kernel {
    const char *name;
    int level;        // enum qs_qgemm_level values (QS_KERNELS caps)
    uint64_t isa;     // QS_ISA_* bits needed
    int g;            // rows per group it takes (1 or 4)
    qs_spmm_f32_fn f32;  // exactly one of f32 / q8 is set
    qs_spmm_q8_fn q8;
};

struct qs_spmm_weights {
    enum qs_sparse_format format;
    bool q8;
    size_t m, k, g, groups;
    size_t nnz, entries, fmt_bytes, heap_bytes;
    uint32_t *ptr;
    uint32_t *col;
    float *vf;
    int8_t *vq;
    int32_t *wsum;
    const struct qs_spmm_kernel *kern;
};

/// The kernel for (q8, g): the best supported one under QS_KERNELS, or NULL when none
/// takes that g (the caller then packs g = 1, which the scalar kernel always takes).
QS_INTERNAL const struct qs_spmm_kernel *qs__spmm_kernel_get(bool q8, int g);
/// Every compiled kernel (tests, benches) and whether the CPU runs it.
QS_INTERNAL const struct qs_spmm_kernel *qs__spmm_kernels(size_t *count);
QS_INTERNAL bool qs__spmm_kernel_supported(const struct qs_spmm_kernel *kern);
/// Packing with an explicit kernel (tests, benches): INVALID_ARG when it does not fit the
/// data type, UNSUPPORTED_HW when the CPU lacks it.
QS_INTERNAL enum qs_status qs__spmm_pack_f32_kernel(const struct qs_spmm_kernel *kern,
                                                    enum qs_sparse_format f, size_t m,
                                                    size_t k, const float *w, size_t ldw,
                                                    qs_spmm_weights **out);
QS_INTERNAL enum qs_status qs__spmm_pack_q8_kernel(const struct qs_spmm_kernel *kern,
                                                   enum qs_sparse_format f, size_t m,
                                                   size_t k, const int8_t *w, size_t ldw,
                                                   qs_spmm_weights **out);

/// Stores one row's int32 accumulators acc[0..nr) of output row `row` at dst (elements of
/// p->out_type), as qs__qgemm_store_tile does.
QS_INTERNAL void qs__spmm_q8_store_row(size_t nr, const int32_t *acc, size_t row, void *dst,
                                       const struct qs_qgemm_ukernel_params *p);

// Kernels (one file each, named after the function).
QS_INTERNAL void qs_f32_spmm_minmax_ukernel_g1__scalar(const struct qs_spmm_f32_call *call,
                                                       size_t g0, size_t g1, size_t n0,
                                                       size_t n1);
QS_INTERNAL void qs_qu8_qc8w_spmm_minmax_ukernel_g1__scalar(const struct qs_spmm_q8_call *call,
                                                           size_t g0, size_t g1, size_t n0,
                                                           size_t n1);
#if (defined(__x86_64__) || defined(_M_X64)) && QS_ENABLE_AVX2
QS_INTERNAL void qs_f32_spmm_minmax_ukernel_g1__avx2(const struct qs_spmm_f32_call *call,
                                                     size_t g0, size_t g1, size_t n0,
                                                     size_t n1);
QS_INTERNAL void qs_f32_spmm_minmax_ukernel_g4__avx2(const struct qs_spmm_f32_call *call,
                                                     size_t g0, size_t g1, size_t n0,
                                                     size_t n1);
QS_INTERNAL void qs_qu8_qc8w_spmm_minmax_ukernel_g1__avx2(const struct qs_spmm_q8_call *call,
                                                         size_t g0, size_t g1, size_t n0,
                                                         size_t n1);
QS_INTERNAL void qs__spmm_transpose_f32__avx2(size_t r, size_t c, const float *src, size_t lds,
                                              float *dst, size_t ldd);
#endif
#if (defined(__x86_64__) || defined(_M_X64)) && QS_ENABLE_AVX512
QS_INTERNAL void qs_f32_spmm_minmax_ukernel_g1__avx512(const struct qs_spmm_f32_call *call,
                                                       size_t g0, size_t g1, size_t n0,
                                                       size_t n1);
QS_INTERNAL void qs_f32_spmm_minmax_ukernel_g4__avx512(const struct qs_spmm_f32_call *call,
                                                       size_t g0, size_t g1, size_t n0,
                                                       size_t n1);
#endif
#if (defined(__x86_64__) || defined(_M_X64)) && QS_ENABLE_AVX512VNNI
QS_INTERNAL void qs_qu8_qc8w_spmm_minmax_ukernel_g1__avx512vnni(
    const struct qs_spmm_q8_call *call, size_t g0, size_t g1, size_t n0, size_t n1);
#endif
#if defined(__aarch64__) && QS_ENABLE_NEON
QS_INTERNAL void qs_f32_spmm_minmax_ukernel_g1__neon(const struct qs_spmm_f32_call *call,
                                                     size_t g0, size_t g1, size_t n0,
                                                     size_t n1);
QS_INTERNAL void qs_qu8_qc8w_spmm_minmax_ukernel_g1__neon(const struct qs_spmm_q8_call *call,
                                                         size_t g0, size_t g1, size_t n0,
                                                         size_t n1);
#endif
