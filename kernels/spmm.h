// Internal (cross-folder) contract of the sparse-weight x dense-activation products (SpMM):
// the storage formats and their exact byte counts (what sparse/ uses for honest accounting),
// packing, the fp32 and int8 runs, and the dispatcher that says when sparse beats dense.
//
// Orientation (as kernels/qgemm.h, an NCHW 1x1 convolution):
//
//     C[m][n] = out( sum_k W[m][k] * X[k][n] + bias[m] )
//
// m: output channel (0..M), k: reduction (0..K), n: pixel or token (0..N). W is sparse
// (zeros are pruned weights), X and C are dense with n contiguous: X[k][n] at
// x[k * ldx + n], C[m][n] at c[m * ldc + n] (ldx >= N, ldc >= N, in elements). A fully
// connected layer (activations [T][K]) transposes its input and output around the call
// (ir/ops/gemm.c does).
//
// int8: W int8 (any value), X uint8 with zero point params->x_zp, exact int32 accumulation
// (wrapping modulo 2^32 like qgemm), then the qgemm epilogue (struct qs_qgemm_params, the
// rounding qs_requant_fp32): every variant is bit-exact with qs__spmm_q8_ref. fp32: every
// variant within 1e-5 of the reference relative to sum_k |W||X| + |bias| (summation order
// differs), clamp [lo, hi] applied last (fused Relu/Clip; -INFINITY/INFINITY for none).
//
// Kernels block N as Paddle Lite's sparse conv does (tiles of 128/64/32/16 columns on
// AVX-512, 64/32/16/8 on AVX2, 32/16/8/4 on NEON, masked or scalar tails) and keep a tile's
// accumulators in registers over the row's non-zeros. See kernels/README.md (SpMM).
#pragma once

#include "kernels/qgemm.h"

#include <stdbool.h>
#include <stdint.h>

/// Storage formats of a pruned weight matrix M x K (row-major, zeros pruned). The byte
/// counts below are exact: what a file holding the format takes (values, every index,
/// row pointers, metadata; no header).
enum qs_sparse_format {
    /// M*K values.
    QS_SPARSE_DENSE = 0,
    /// Compressed sparse rows: nnz values, nnz column indices (uint16 when K <= 65536,
    /// else uint32), M+1 row pointers (uint32).
    QS_SPARSE_CSR = 1,
    /// CSR with delta-encoded column indices: one uint8 per entry holding
    /// (col - previous col in the row) - 1 (previous = -1 at a row start); a gap over 256
    /// inserts filler entries (a zero value advancing 256 columns), each one value + one
    /// byte. M+1 uint32 row pointers counting entries (fillers included).
    QS_SPARSE_CSR_DELTA = 2,
    /// Block sparse rows with 1x4 blocks (1 row, 4 consecutive k; K padded to 4): per
    /// stored block (any non-zero in it) 4 values and one block-column index (uint16 when
    /// ceil(K/4) <= 65536, else uint32); ceil(M/1)+1 uint32 block-row pointers.
    QS_SPARSE_BSR_1X4 = 3,
    /// 4x1 blocks (4 rows, 1 k; M padded to 4): 4 values + index per block,
    /// ceil(M/4)+1 pointers.
    QS_SPARSE_BSR_4X1 = 4,
    /// 8x1 blocks: 8 values + index per block, ceil(M/8)+1 pointers.
    QS_SPARSE_BSR_8X1 = 5,
    /// N:M along K, 2 of every 4 (K padded to 4): M*ceil(K/4)*2 values (zeros kept when a
    /// group has fewer) and a 2-bit position per value, packed as one bit stream over the
    /// whole matrix (ceil(bits / 8) bytes). No row pointers.
    QS_SPARSE_NM_2_4 = 6,
    /// 4 of every 8: M*ceil(K/8)*4 values and a 3-bit position per value.
    QS_SPARSE_NM_4_8 = 7,
    QS_SPARSE_FORMAT_COUNT = 8
};

/// "dense", "csr", "csr-delta", "bsr-1x4", "bsr-4x1", "bsr-8x1", "2:4", "4:8" (NULL when
/// out of range).
QS_INTERNAL const char *qs__sparse_format_name(enum qs_sparse_format f);
/// The format named so (the strings above, case-insensitive; also "nm-2-4", "nm-4-8"),
/// or -1.
QS_INTERNAL int qs__sparse_format_parse(const char *name);

/// Exact bytes of W (M x K) in format f with value_bytes per value (4 fp32, 1 int8, ...).
/// mask (M*K bytes, row-major, non-zero = kept weight) decides every pattern-dependent
/// count when given; nnz is then ignored. Without a mask: CSR counts nnz entries,
/// CSR_DELTA assumes no filler (a lower bound), BSR assumes the nnz fill whole blocks
/// (ceil(nnz / block size) blocks); DENSE and N:M do not depend on the pattern. Callable
/// without packing; never allocates.
QS_INTERNAL size_t qs__sparse_format_bytes(enum qs_sparse_format f, size_t m, size_t k,
                                           size_t nnz, const uint8_t *mask,
                                           size_t value_bytes);
/// The smaller of CSR and CSR_DELTA for this mask (the format "csr, delta-encoded if it
/// pays"); *bytes_out (may be NULL) gets its byte count.
QS_INTERNAL enum qs_sparse_format qs__sparse_csr_best(size_t m, size_t k, const uint8_t *mask,
                                                      size_t value_bytes, size_t *bytes_out);
/// True when the mask has at most N kept of each group of M along K (N:M formats), or
/// for other formats always. mask as above.
QS_INTERNAL bool qs__sparse_mask_fits(enum qs_sparse_format f, size_t m, size_t k,
                                      const uint8_t *mask);

// ---------------------------------------------------------------------------------------
// Packed weights and runs.

/// Packed sparse weights of one layer (fp32 or int8), with the kernel chosen for this CPU.
/// Immutable after packing: may be shared by threads and sessions.
typedef struct qs_spmm_weights qs_spmm_weights;

/// Packs W (M x K, row stride ldw elements) in format f: zeros are dropped (BSR keeps the
/// zeros inside a stored block; N:M keeps up to N per group). INVALID_ARG when an N:M
/// format does not fit the pattern or a dimension exceeds UINT32_MAX entries; NOMEM.
/// The kernel is chosen once per process (QS_KERNELS=ref forces the scalar reference,
/// QS_KERNELS=avx2 / neon cap the level, as for qgemm).
QS_INTERNAL enum qs_status qs__spmm_pack_f32(enum qs_sparse_format f, size_t m, size_t k,
                                             const float *w, size_t ldw,
                                             qs_spmm_weights **out);
QS_INTERNAL enum qs_status qs__spmm_pack_q8(enum qs_sparse_format f, size_t m, size_t k,
                                            const int8_t *w, size_t ldw,
                                            qs_spmm_weights **out);
QS_INTERNAL void qs__spmm_weights_destroy(qs_spmm_weights *w);
/// Heap bytes of the packed object (its in-memory layout, larger than the storage format:
/// 32-bit indices, padded groups).
QS_INTERNAL size_t qs__spmm_weights_bytes(const qs_spmm_weights *w);
/// Non-zero weights (stored entries that are not padding or block zeros count if non-zero).
QS_INTERNAL size_t qs__spmm_nnz(const qs_spmm_weights *w);
/// Exact storage bytes of the packed weights in their format (qs__sparse_format_bytes).
QS_INTERNAL size_t qs__spmm_format_bytes(const qs_spmm_weights *w);
/// The kernel's name ("qs_f32_spmm_minmax_ukernel_g1__avx512", ...), for logs and benches.
QS_INTERNAL const char *qs__spmm_kernel_name(const qs_spmm_weights *w);

/// Scratch bytes of a run over N columns (any alignment): the per-row epilogue arrays
/// (int8) and room to copy X into column panels of 128 (row stride 128 elements), which the
/// run does when X's rows are longer than a panel, so that a panel sweeps the rows from a
/// contiguous, cache-friendly block whatever ldx is (a power-of-two row stride otherwise
/// maps a panel onto a few cache sets). QS_SPMM_PACKX=0/1 forces it off/on (benchmarks).
QS_INTERNAL size_t qs__spmm_scratch_size(const qs_spmm_weights *w, size_t n);

/// fp32: C = clamp(W x X + bias, lo, hi) for N columns (bias may be NULL). scratch: NULL
/// (then X is read in place) or qs__spmm_scratch_size(w, n) bytes. Does not allocate;
/// splits rows and columns over `pool` (may be NULL). C must not overlap X or scratch.
QS_INTERNAL void qs__spmm_f32_run(const qs_spmm_weights *w, size_t n, const float *x,
                                  size_t ldx, float *c, size_t ldc, const float *bias,
                                  float lo, float hi, void *scratch, qs_pool_t *pool);
/// int8: C[m][n] (elements of params->out_type, row stride ldc elements) = the qgemm
/// epilogue of sum_k W[m][k] * (X[k][n] - x_zp) + bias[m]. params arrays hold M values.
/// scratch: qs__spmm_scratch_size(w, n) bytes (required). No allocation.
QS_INTERNAL void qs__spmm_q8_run(const qs_spmm_weights *w, size_t n, const uint8_t *x,
                                 size_t ldx, void *c, size_t ldc,
                                 const struct qs_qgemm_params *params, void *scratch,
                                 qs_pool_t *pool);

/// dst[j * ldd + i] = src[i * lds + j] for an r x c fp32 matrix (the fully connected path's
/// moves into and out of the kernels' orientation); AVX2 when the CPU has it.
QS_INTERNAL void qs__spmm_transpose_f32(size_t r, size_t c, const float *src, size_t lds,
                                        float *dst, size_t ldd);

/// Oracles (direct loops over the dense W; tests compare every variant with them).
QS_INTERNAL void qs__spmm_f32_ref(size_t m, size_t k, size_t n, const float *w, size_t ldw,
                                  const float *x, size_t ldx, float *c, size_t ldc,
                                  const float *bias, float lo, float hi);
QS_INTERNAL void qs__spmm_q8_ref(size_t m, size_t k, size_t n, const int8_t *w, size_t ldw,
                                 const uint8_t *x, size_t ldx, void *c, size_t ldc,
                                 const struct qs_qgemm_params *params);

// ---------------------------------------------------------------------------------------
// Dispatcher.

/// The dense kernel a sparse layer replaces (break-even densities differ per peer).
enum qs_spmm_peer {
    QS_SPMM_PEER_SGEMM = 0,     ///< fp32 Gemm/MatMul: OpenBLAS sgemm
    QS_SPMM_PEER_F32_CONV = 1,  ///< fp32 Conv: the packed implicit-GEMM kernels (kernels/f32.h)
    QS_SPMM_PEER_QGEMM = 2,     ///< int8 layers: the integer GEMM (kernels/qgemm.h)
};

/// The break-even density (nnz / (M*K)) below which the sparse kernel for format f beats
/// `peer` on N columns on this CPU, from the table in kernels/config/spmm-config.c measured
/// by bench/spmm (with a margin, so a layer near the crossing stays dense); 0 when sparse
/// never pays.
QS_INTERNAL double qs__spmm_break_even_density(enum qs_spmm_peer peer, enum qs_sparse_format f,
                                               size_t m, size_t k, size_t n);
/// density < qs__spmm_break_even_density: callers run sparse only then, so a sparse layer
/// is never slower than its dense form. QS_SPMM=always / never override (tests, benches).
QS_INTERNAL bool qs__spmm_pays(enum qs_spmm_peer peer, enum qs_sparse_format f, size_t m,
                               size_t k, size_t n, size_t nnz);
/// The format the executor packs a pruned weight in: BSR_4X1 when its non-zeros lie in
/// 4x1 blocks (at most 10% padding), else CSR. w: M x K fp32, row-major.
QS_INTERNAL enum qs_sparse_format qs__spmm_choose_format_f32(size_t m, size_t k,
                                                             const float *w, size_t *nnz_out);
QS_INTERNAL enum qs_sparse_format qs__spmm_choose_format_q8(size_t m, size_t k,
                                                            const int8_t *w, size_t ldw,
                                                            size_t *nnz_out);
