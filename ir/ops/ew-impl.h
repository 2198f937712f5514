// Internals shared by the elementwise, comparison, cast and reduction op files
// (ir/ops/elementwise.c, ew-unary.c, compare.c, cast.c, reduce.c) and their unit test: the
// broadcasting walker, the parallel splitter and software float16/bfloat16 conversion.
#pragma once

#include "ir/ir-impl.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

// ---------------------------------------------------------------------------------------
// float16 / bfloat16 in software (round to nearest even, NaN kept quiet).

static inline float qs__ew_f16_to_f32(uint16_t h) {
    uint32_t s = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
    if (e == 0) {
        if (m == 0) {
            u = s;
        } else {  // subnormal: renormalise
            e = 127 - 15 + 1;
            while (!(m & 0x400)) {
                m <<= 1;
                e--;
            }
            u = s | (e << 23) | ((m & 0x3ff) << 13);
        }
    } else if (e == 31) {
        u = s | 0x7f800000u | (m << 13);
    } else {
        u = s | ((e + 127 - 15) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t qs__ew_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t s = (u >> 16) & 0x8000, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(s | 0x7e00 | ((a >> 13) & 0x3ff));  // NaN
    if (a >= 0x477ff000u) return (uint16_t)(s | 0x7c00);  // rounds to >= 65520: inf
    if (a < 0x38800000u) {  // below the smallest normal half: subnormal or zero
        if (a < 0x33000000u) return (uint16_t)s;  // < 2^-25: rounds to zero
        uint32_t e = a >> 23, m = (a & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e;  // 14..24: m * 2^(e-150) in units of 2^-24
        uint32_t q = m >> shift, r = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (r > half || (r == half && (q & 1))) q++;
        return (uint16_t)(s | q);
    }
    uint32_t r = a + 0xfff + ((a >> 13) & 1);  // round mantissa to 10 bits, ties to even
    return (uint16_t)(s | ((r - 0x38000000u) >> 13));
}

static inline float qs__ew_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t qs__ew_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // quiet NaN
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

// ---------------------------------------------------------------------------------------
// Broadcasting. The output shape is walked in row-major order; every input gets an element
// stride per dimension (0 where it is broadcast). Dimensions of size 1 are dropped and
// neighbours that every input walks the same way are merged, so that the innermost
// dimension is as long as possible and every input's stride along it is 0 or 1. Same-shape,
// scalar, per-channel ([1,C,1,1] over NCHW) and last-dim broadcasts then become a few long
// rows that the row kernels process with tight loops.

#define QS_EW_MAX_IN 3

typedef struct qs__ew_bcast {
    int rank;     // collapsed rank, >= 1
    int n_in;
    int64_t numel;
    int64_t dims[QS_MAX_RANK];
    int64_t str[QS_EW_MAX_IN][QS_MAX_RANK];  // element strides, 0 = broadcast
} qs__ew_bcast;

// A row kernel: n elements of the output, contiguous at `out`; input k starts at in[k] and
// advances by s[k] (0 or 1) elements per output element. `params` is op-specific.
typedef void (*qs__ew_row_fn)(int64_t n, const void *const *in, const int64_t *s, void *out,
                              const void *params);

/// Plans the walk of `out`'s shape over `n_in` inputs, each broadcastable to it (checked by
/// infer). `in_rank`/`in_dims` give each input's shape.
QS_INTERNAL void qs__ew_bcast_init(qs__ew_bcast *b, int out_rank, const int64_t *out_dims,
                                   int n_in, const int *in_rank,
                                   const int64_t *const *in_dims);
/// Calls fn over the output elements [begin, end) in rows.
QS_INTERNAL void qs__ew_bcast_walk(const qs__ew_bcast *b, const void *const *in,
                                   const size_t *in_esize, void *out, size_t out_esize,
                                   int64_t begin, int64_t end, qs__ew_row_fn fn,
                                   const void *params);
/// Plans and runs a broadcast over the whole output, splitting it over the pool when it is
/// large. `grain` is the smallest piece worth a thread (elements).
QS_INTERNAL void qs__ew_bcast_run(qs_pool_t *pool, const qs_view *out, int n_in,
                                  const qs_view *const *in, qs__ew_row_fn fn,
                                  const void *params, int64_t grain);

/// Runs task(ctx, begin, end) over element ranges covering [0, n), on the pool when n is
/// at least 2 * grain (ranges are then multiples of 64 elements except the last).
typedef void (*qs__ew_range_fn)(void *ctx, int64_t begin, int64_t end);
QS_INTERNAL void qs__ew_parallel(qs_pool_t *pool, int64_t n, int64_t grain,
                                 qs__ew_range_fn fn, void *ctx);

// Grains: cheap arithmetic is memory bound, so threads only pay off on large tensors;
// libm calls cost tens of cycles per element.
#define QS_EW_GRAIN_CHEAP ((int64_t)1 << 15)
#define QS_EW_GRAIN_MATH ((int64_t)1 << 12)

/// True when `s` (rank rs) broadcasts to `d` (rank rd) without changing it
/// (unidirectional broadcast, as PRelu's slope).
QS_INTERNAL bool qs__ew_unidir(int rs, const int64_t *s, int rd, const int64_t *d);

/// Whether `dt` is one of the numeric types the elementwise kernels handle.
static inline bool qs__ew_is_float(enum qs_dtype dt) {
    return dt == QS_DTYPE_F32 || dt == QS_DTYPE_F64 || dt == QS_DTYPE_F16 ||
           dt == QS_DTYPE_BF16;
}
static inline bool qs__ew_is_int(enum qs_dtype dt) {
    switch (dt) {
    case QS_DTYPE_I8: case QS_DTYPE_U8: case QS_DTYPE_I16: case QS_DTYPE_U16:
    case QS_DTYPE_I32: case QS_DTYPE_U32: case QS_DTYPE_I64: case QS_DTYPE_U64:
        return true;
    default:
        return false;
    }
}
static inline bool qs__ew_is_signed(enum qs_dtype dt) {
    return dt == QS_DTYPE_I8 || dt == QS_DTYPE_I16 || dt == QS_DTYPE_I32 ||
           dt == QS_DTYPE_I64 || qs__ew_is_float(dt);
}

/// Element i of any numeric view as double / stored from double (used by the generic
/// paths of mixed-type ops: Pow with int exponents, reductions of rare types).
QS_INTERNAL double qs__ew_load_f64(enum qs_dtype dt, const void *p, int64_t i);
QS_INTERNAL void qs__ew_store_f64(enum qs_dtype dt, void *p, int64_t i, double v);

/// Checks that a node's inputs all have dtype `dt`, naming the first that does not.
QS_INTERNAL enum qs_status qs__ew_same_dtype(qs_kctx *k, int first, int last);
/// Sets out[0] to the broadcast shape of inputs [0, n) with dtype `dt`.
QS_INTERNAL enum qs_status qs__ew_infer_bcast(qs_kctx *k, int n, enum qs_dtype dt);

// ---------------------------------------------------------------------------------------
// Type lists for kernel generation. Each row is X(DT, T, CT, LD, ST, WT, SG, ...):
//   DT  the qs_dtype suffix       T   storage type        CT  compute type
//   LD  storage -> compute        ST  compute -> storage
//   WT  unsigned type wide enough for wrapping arithmetic (integers)
//   SG  1 for signed types
// float16 and bfloat16 compute in float and round once per element; integer arithmetic
// wraps like numpy instead of overflowing (undefined in C).

#define QS_EW_ID(x) (x)

#define QS_EW_FLOAT_TYPES(X, ...)                                                   \
    X(F32, float, float, QS_EW_ID, QS_EW_ID, float, 1, __VA_ARGS__)                \
    X(F64, double, double, QS_EW_ID, QS_EW_ID, double, 1, __VA_ARGS__)             \
    X(F16, uint16_t, float, qs__ew_f16_to_f32, qs__ew_f32_to_f16, float, 1, __VA_ARGS__) \
    X(BF16, uint16_t, float, qs__ew_bf16_to_f32, qs__ew_f32_to_bf16, float, 1, __VA_ARGS__)

#define QS_EW_SINT_TYPES(X, ...)                                                    \
    X(I8, int8_t, int8_t, QS_EW_ID, QS_EW_ID, uint32_t, 1, __VA_ARGS__)            \
    X(I16, int16_t, int16_t, QS_EW_ID, QS_EW_ID, uint32_t, 1, __VA_ARGS__)         \
    X(I32, int32_t, int32_t, QS_EW_ID, QS_EW_ID, uint32_t, 1, __VA_ARGS__)         \
    X(I64, int64_t, int64_t, QS_EW_ID, QS_EW_ID, uint64_t, 1, __VA_ARGS__)

#define QS_EW_UINT_TYPES(X, ...)                                                    \
    X(U8, uint8_t, uint8_t, QS_EW_ID, QS_EW_ID, uint32_t, 0, __VA_ARGS__)          \
    X(U16, uint16_t, uint16_t, QS_EW_ID, QS_EW_ID, uint32_t, 0, __VA_ARGS__)       \
    X(U32, uint32_t, uint32_t, QS_EW_ID, QS_EW_ID, uint32_t, 0, __VA_ARGS__)       \
    X(U64, uint64_t, uint64_t, QS_EW_ID, QS_EW_ID, uint64_t, 0, __VA_ARGS__)

#define QS_EW_INT_TYPES(X, ...) QS_EW_SINT_TYPES(X, __VA_ARGS__) QS_EW_UINT_TYPES(X, __VA_ARGS__)
#define QS_EW_NUM_TYPES(X, ...) QS_EW_FLOAT_TYPES(X, __VA_ARGS__) QS_EW_INT_TYPES(X, __VA_ARGS__)
#define QS_EW_BOOL_TYPE(X, ...) \
    X(BOOL, uint8_t, uint8_t, QS_EW_ID, QS_EW_ID, uint32_t, 0, __VA_ARGS__)

// Per-dtype kernel tables are indexed by the dtype code.
#define QS_EW_NDT 17

// A binary row kernel `name`: out = ST(OP(x, y, T, WT, SG)) with x, y the loaded inputs.
// The four stride cases get their own loop so that each one vectorizes.
#define QS_EW_BIN_KERNEL(name, T, CT, LD, OT, OST, OP, WT, SG)                         \
    static void name(int64_t n, const void *const *in, const int64_t *s, void *out,     \
                     const void *params) {                                              \
        const T *a = in[0], *b = in[1];                                                 \
        OT *o = out;                                                                    \
        (void)params;                                                                   \
        if (s[0] && s[1]) {                                                             \
            for (int64_t i = 0; i < n; i++) {                                           \
                CT x = LD(a[i]), y = LD(b[i]);                                          \
                o[i] = OST(OP(x, y, T, WT, SG));                                        \
            }                                                                           \
        } else if (s[0]) {                                                              \
            const CT y = LD(b[0]);                                                      \
            for (int64_t i = 0; i < n; i++) {                                           \
                CT x = LD(a[i]);                                                        \
                o[i] = OST(OP(x, y, T, WT, SG));                                        \
            }                                                                           \
        } else if (s[1]) {                                                              \
            const CT x = LD(a[0]);                                                      \
            for (int64_t i = 0; i < n; i++) {                                           \
                CT y = LD(b[i]);                                                        \
                o[i] = OST(OP(x, y, T, WT, SG));                                        \
            }                                                                           \
        } else {                                                                        \
            const CT x = LD(a[0]), y = LD(b[0]);                                        \
            const OT r = OST(OP(x, y, T, WT, SG));                                      \
            for (int64_t i = 0; i < n; i++) o[i] = r;                                   \
        }                                                                               \
    }

// Kernels whose output has the input type (arithmetic) and those that return bool
// (comparisons), for one type row; `op` names the OP macro and the kernel (op_DT).
#define QS_EW_DEF_ARITH(DT, T, CT, LD, ST, WT, SG, op, OPM) \
    QS_EW_BIN_KERNEL(op##_##DT, T, CT, LD, T, ST, OPM, WT, SG)
#define QS_EW_DEF_CMP(DT, T, CT, LD, ST, WT, SG, op, OPM) \
    QS_EW_BIN_KERNEL(op##_##DT, T, CT, LD, uint8_t, QS_EW_ID, OPM, WT, SG)
#define QS_EW_TAB_ENTRY(DT, T, CT, LD, ST, WT, SG, op, OPM) [QS_DTYPE_##DT] = op##_##DT,

/// Binary op descriptor: one row kernel per input dtype (NULL = unsupported).
typedef struct qs__ew_binop {
    const char *name;
    bool to_bool;  // output is bool (comparisons)
    qs__ew_row_fn fn[QS_EW_NDT];
} qs__ew_binop;

/// infer/run shared by the plain binary ops (same input dtypes, broadcast both ways).
QS_INTERNAL enum qs_status qs__ew_binop_infer(qs_kctx *k, const qs__ew_binop *op);
QS_INTERNAL enum qs_status qs__ew_binop_run(qs_kctx *k, const qs__ew_binop *op,
                                            const void *params);

/// Defines qs__opdef_<sym> for a binary op described by `desc` (a qs__ew_binop).
#define QS_EW_BINOP_DEF(sym, NAME, desc)                                               \
    static enum qs_status sym##_infer(qs_kctx *k) { return qs__ew_binop_infer(k, &desc); } \
    static enum qs_status sym##_run(qs_kctx *k) { return qs__ew_binop_run(k, &desc, NULL); } \
    const struct qs_op_def qs__opdef_##sym = {                                          \
        .name = NAME, .min_inputs = 2, .max_inputs = 2, .min_outputs = 1,              \
        .max_outputs = 1, .infer = sym##_infer, .run = sym##_run,                       \
    };
