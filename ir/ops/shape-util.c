// Strided copies, fills and small helpers shared by the data-movement ops.
#include "ir/ops/shape-impl.h"

#include <math.h>

// Below this many bytes moved, splitting the work over threads costs more than it saves.
#define PARALLEL_MIN_BYTES ((size_t)256 * 1024)
// Square tile (in elements) of the cache-blocked transpose.
#define TILE 32

void qs__contig_strides(int rank, const int64_t *dims, int64_t *strides) {
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

void qs__parallel(qs_pool_t *pool, size_t n, size_t bytes, qs_pool_task task, void *ctx) {
    if (n == 0) return;
    if (pool == NULL || n < 2 || bytes < PARALLEL_MIN_BYTES || qs__pool_threads(pool) < 2)
        task(ctx, 0, n);
    else
        qs__pool_run(pool, n, task, ctx);
}

// ---------------------------------------------------------------------------------------
// Plain and parallel memcpy.

struct memcpy_job {
    char *dst;
    const char *src;
    size_t bytes, chunk;
};

static void memcpy_task(void *ctx, size_t begin, size_t end) {
    const struct memcpy_job *j = ctx;
    size_t lo = begin * j->chunk, hi = QS_MIN(end * j->chunk, j->bytes);
    if (hi > lo) memcpy(j->dst + lo, j->src + lo, hi - lo);
}

void qs__copy_or_alias(void *dst, const void *src, size_t bytes, qs_pool_t *pool) {
    if (dst == src || bytes == 0) return;
    struct memcpy_job j = {dst, src, bytes, (size_t)256 * 1024};
    qs__parallel(pool, (bytes + j.chunk - 1) / j.chunk, bytes, memcpy_task, &j);
}

void qs__fill(void *dst, const void *value, size_t esize, int64_t n) {
    if (n <= 0) return;
    const unsigned char *v = value;
    bool same = true;
    for (size_t i = 1; i < esize; i++) same = same && v[i] == v[0];
    if (same) {
        memset(dst, v[0], (size_t)n * esize);
        return;
    }
    char *d = dst;
    switch (esize) {
    case 2: {
        uint16_t x;
        memcpy(&x, v, 2);
        for (int64_t i = 0; i < n; i++) memcpy(d + i * 2, &x, 2);
        break;
    }
    case 4: {
        uint32_t x;
        memcpy(&x, v, 4);
        for (int64_t i = 0; i < n; i++) memcpy(d + i * 4, &x, 4);
        break;
    }
    case 8: {
        uint64_t x;
        memcpy(&x, v, 8);
        for (int64_t i = 0; i < n; i++) memcpy(d + i * 8, &x, 8);
        break;
    }
    default:
        for (int64_t i = 0; i < n; i++) memcpy(d + (size_t)i * esize, v, esize);
    }
}

// ---------------------------------------------------------------------------------------
// Scalar conversion.

static uint16_t f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xffu;
    uint32_t man = x & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));  // inf/nan
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);  // overflow to inf
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;  // underflows to zero
        man |= 0x800000u;  // subnormal: shift the implicit bit in, round to nearest even
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = sign | ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;  // carry may reach inf: correct
    return (uint16_t)h;
}

static uint16_t f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);  // nan
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

// Saturating double -> integer conversion (C leaves out-of-range casts undefined).
#define SAT(T, lo, hi) \
    (isnan(v) ? (T)0 : v <= (double)(lo) ? (T)(lo) : v >= (double)(hi) ? (T)(hi) : (T)v)
#define STORE(T, x)                \
    do {                           \
        T x_ = (x);                \
        memcpy(out, &x_, sizeof x_); \
    } while (0)

bool qs__scalar_store(enum qs_dtype dt, double v, void *out) {
    switch (dt) {
    case QS_DTYPE_F32: STORE(float, (float)v); return true;
    case QS_DTYPE_F64: STORE(double, v); return true;
    case QS_DTYPE_F16: STORE(uint16_t, f32_to_f16((float)v)); return true;
    case QS_DTYPE_BF16: STORE(uint16_t, f32_to_bf16((float)v)); return true;
    case QS_DTYPE_BOOL: STORE(uint8_t, v != 0); return true;
    case QS_DTYPE_U8: STORE(uint8_t, SAT(uint8_t, 0, UINT8_MAX)); return true;
    case QS_DTYPE_I8: STORE(int8_t, SAT(int8_t, INT8_MIN, INT8_MAX)); return true;
    case QS_DTYPE_U16: STORE(uint16_t, SAT(uint16_t, 0, UINT16_MAX)); return true;
    case QS_DTYPE_I16: STORE(int16_t, SAT(int16_t, INT16_MIN, INT16_MAX)); return true;
    case QS_DTYPE_U32: STORE(uint32_t, SAT(uint32_t, 0, UINT32_MAX)); return true;
    case QS_DTYPE_I32: STORE(int32_t, SAT(int32_t, INT32_MIN, INT32_MAX)); return true;
    case QS_DTYPE_U64:
        // 2^64 and 2^63 are exact doubles; the bounds are exclusive.
        STORE(uint64_t, isnan(v) || v <= 0 ? 0 : v >= 18446744073709551616.0 ? UINT64_MAX
                                                                         : (uint64_t)v);
        return true;
    case QS_DTYPE_I64:
        STORE(int64_t, isnan(v) ? 0 : v < -9223372036854775808.0 ? INT64_MIN
                     : v >= 9223372036854775808.0 ? INT64_MAX : (int64_t)v);
        return true;
    default: return false;
    }
}

// ---------------------------------------------------------------------------------------
// Constant inputs and messages.

const char *qs__input_name(const qs_kctx *k, int i) {
    if (k->node && k->node->inputs && i < k->node->n_inputs && k->node->inputs[i] &&
        k->node->inputs[i]->name)
        return k->node->inputs[i]->name;
    return "";
}

enum qs_status qs__const_ints(const qs_kctx *k, int i, const char *what, int64_t *out,
                              int max, int *n_out) {
    const qs_view *v = k->in[i];
    if (!v->is_const || (v->data == NULL && v->numel > 0))
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED,
                           "%s (input %d '%s') must be constant: its values decide the "
                           "output shape", what, i, qs__input_name(k, i));
    if (v->numel > max)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "%s (input %d '%s') has %lld values, at most %d "
                           "allowed", what, i, qs__input_name(k, i), (long long)v->numel, max);
    for (int64_t j = 0; j < v->numel; j++) out[j] = qs__view_get_i64(v, j);
    *n_out = (int)v->numel;
    return QS_STATUS_OK;
}

enum qs_status qs__check_sized(const qs_kctx *k, enum qs_dtype dt) {
    if (qs_dtype_size(dt) == 0)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "%s tensors are not supported",
                           qs_dtype_name(dt));
    return QS_STATUS_OK;
}

// ---------------------------------------------------------------------------------------
// Strided copy.

typedef struct copy_plan {
    int rank;                        // loop dims after merging; the last is the inner loop
    size_t block;                    // bytes per inner step
    int tile;                        // dim whose source is contiguous (tiled path), or -1
    int n_outer;                     // dims walked by the outer loop, in outer_dim[]
    int outer_dim[QS_COPY_MAX_DIMS];
    int64_t dims[QS_COPY_MAX_DIMS];
    int64_t ss[QS_COPY_MAX_DIMS];    // byte strides
    int64_t ds[QS_COPY_MAX_DIMS];
    size_t esize;
    char *dst;
    const char *src;
} copy_plan;

// Returns false when there is nothing to copy (an empty dim).
static bool plan_build(const qs_copy_desc *d, copy_plan *p) {
    const int64_t es = (int64_t)d->esize;
    p->rank = 0;
    p->esize = d->esize;
    for (int k = 0; k < d->rank; k++) {
        if (d->dims[k] == 0) return false;
        if (d->dims[k] == 1) continue;
        int64_t n = d->dims[k], ss = d->src_stride[k] * es, ds = d->dst_stride[k] * es;
        int r = p->rank;
        if (r > 0 && p->ss[r - 1] == ss * n && p->ds[r - 1] == ds * n) {
            // The previous (outer) dim steps exactly over this one: fuse them.
            p->dims[r - 1] *= n;
            p->ss[r - 1] = ss;
            p->ds[r - 1] = ds;
        } else {
            p->dims[r] = n;
            p->ss[r] = ss;
            p->ds[r] = ds;
            p->rank++;
        }
    }
    p->block = d->esize;
    if (p->rank > 0 && p->ss[p->rank - 1] == es && p->ds[p->rank - 1] == es) {
        p->block = (size_t)(p->dims[p->rank - 1] * es);
        p->rank--;
    }
    p->tile = -1;
    int last = p->rank - 1;
    if (p->block == d->esize && p->rank >= 2 && p->ds[last] == es && p->dims[last] >= 4) {
        for (int j = last - 1; j >= 0; j--) {
            if (p->ss[j] == es && p->dims[j] >= 4) {
                p->tile = j;
                break;
            }
        }
    }
    p->n_outer = 0;
    for (int k = 0; k < last; k++)
        if (k != p->tile) p->outer_dim[p->n_outer++] = k;
    return true;
}

// Inner loop: n steps of `block` bytes.
#define INNER_LOOP(T)                                                           \
    do {                                                                        \
        if (dstep == (int64_t)sizeof(T) && sstep == 0) {                        \
            T v_;                                                               \
            memcpy(&v_, s, sizeof(T));                                          \
            T *dp_ = (T *)(void *)d;                                            \
            for (int64_t i = 0; i < n; i++) memcpy(dp_ + i, &v_, sizeof(T));    \
        } else if (dstep == (int64_t)sizeof(T)) {                               \
            for (int64_t i = 0; i < n; i++)                                     \
                memcpy(d + i * (int64_t)sizeof(T), s + i * sstep, sizeof(T));   \
        } else {                                                                \
            for (int64_t i = 0; i < n; i++)                                     \
                memcpy(d + i * dstep, s + i * sstep, sizeof(T));                \
        }                                                                       \
    } while (0)

static void inner_copy(char *d, const char *s, int64_t n, int64_t dstep, int64_t sstep,
                       size_t block) {
    if (block == 1 && dstep == 1 && sstep == 2) {  // every other byte (strided Slice): a
        for (int64_t i = 0; i < n; i++) d[i] = s[2 * i];  // loop the compiler vectorizes
        return;
    }
    switch (block) {
    case 1: INNER_LOOP(uint8_t); break;
    case 2: INNER_LOOP(uint16_t); break;
    case 4: INNER_LOOP(uint32_t); break;
    case 8: INNER_LOOP(uint64_t); break;
    default:
        for (int64_t i = 0; i < n; i++) memcpy(d + i * dstep, s + i * sstep, block);
    }
}

// Cache-tiled 2-D transpose: rows are contiguous in the source (step esize), columns
// contiguous in the destination.
#define TILE_LOOP(T)                                                                  \
    do {                                                                              \
        for (int64_t r0 = 0; r0 < nr; r0 += TILE) {                                   \
            int64_t r1 = QS_MIN(nr, r0 + TILE);                                       \
            for (int64_t c0 = 0; c0 < nc; c0 += TILE) {                               \
                int64_t c1 = QS_MIN(nc, c0 + TILE);                                   \
                for (int64_t r = r0; r < r1; r++) {                                   \
                    char *dr = d + r * dsr;                                           \
                    const char *sr = s + r * (int64_t)sizeof(T);                      \
                    for (int64_t c = c0; c < c1; c++)                                 \
                        memcpy(dr + c * (int64_t)sizeof(T), sr + c * ssc, sizeof(T)); \
                }                                                                     \
            }                                                                         \
        }                                                                             \
    } while (0)

static void tile_copy(char *d, const char *s, int64_t nr, int64_t nc, int64_t dsr,
                      int64_t ssc, size_t esize) {
    switch (esize) {
    case 1: TILE_LOOP(uint8_t); break;
    case 2: TILE_LOOP(uint16_t); break;
    case 4: TILE_LOOP(uint32_t); break;
    case 8: TILE_LOOP(uint64_t); break;
    default:
        for (int64_t r = 0; r < nr; r++)
            for (int64_t c = 0; c < nc; c++)
                memcpy(d + r * dsr + c * (int64_t)esize, s + r * (int64_t)esize + c * ssc,
                       esize);
    }
}

static void plan_task(void *ctx, size_t begin, size_t end) {
    const copy_plan *p = ctx;
    int64_t idx[QS_COPY_MAX_DIMS];
    // Position of `begin` in the outer dims.
    size_t rem = begin;
    for (int k = p->n_outer - 1; k >= 0; k--) {
        int64_t n = p->dims[p->outer_dim[k]];
        idx[k] = (int64_t)(rem % (size_t)n);
        rem /= (size_t)n;
    }
    int64_t soff = 0, doff = 0;
    for (int k = 0; k < p->n_outer; k++) {
        soff += idx[k] * p->ss[p->outer_dim[k]];
        doff += idx[k] * p->ds[p->outer_dim[k]];
    }
    const int last = p->rank - 1;
    for (size_t it = begin; it < end; it++) {
        char *d = p->dst + doff;
        const char *s = p->src + soff;
        if (p->rank == 0)
            memcpy(d, s, p->block);
        else if (p->tile >= 0)
            tile_copy(d, s, p->dims[p->tile], p->dims[last], p->ds[p->tile], p->ss[last],
                      p->esize);
        else
            inner_copy(d, s, p->dims[last], p->ds[last], p->ss[last], p->block);
        // Advance the outer counter.
        for (int k = p->n_outer - 1; k >= 0; k--) {
            int dim = p->outer_dim[k];
            soff += p->ss[dim];
            doff += p->ds[dim];
            if (++idx[k] < p->dims[dim]) break;
            soff -= p->ss[dim] * p->dims[dim];
            doff -= p->ds[dim] * p->dims[dim];
            idx[k] = 0;
        }
    }
}

void qs__copy_strided(const qs_copy_desc *d, void *dst, const void *src, qs_pool_t *pool) {
    QS_ASSERT(d->rank >= 0 && d->rank <= QS_COPY_MAX_DIMS);
    copy_plan p;
    if (!plan_build(d, &p)) return;
    p.dst = dst;
    p.src = src;
    if (p.rank == 0) {
        qs__copy_or_alias(dst, src, p.block, pool);
        return;
    }
    size_t n_outer = 1;
    for (int k = 0; k < p.n_outer; k++) n_outer *= (size_t)p.dims[p.outer_dim[k]];
    size_t total = p.esize;
    for (int k = 0; k < p.rank; k++) total *= (size_t)p.dims[k];
    if (p.block > p.esize) total = total / p.esize * p.block;
    qs__parallel(pool, n_outer, total, plan_task, &p);
}

void qs__copy_strided_ref(const qs_copy_desc *d, void *dst, const void *src) {
    int64_t n = 1;
    for (int k = 0; k < d->rank; k++) n *= d->dims[k];
    int64_t idx[QS_COPY_MAX_DIMS] = {0};
    for (int64_t i = 0; i < n; i++) {
        int64_t so = 0, dof = 0;
        for (int k = 0; k < d->rank; k++) {
            so += idx[k] * d->src_stride[k];
            dof += idx[k] * d->dst_stride[k];
        }
        memcpy((char *)dst + dof * (int64_t)d->esize, (const char *)src + so * (int64_t)d->esize,
               d->esize);
        for (int k = d->rank - 1; k >= 0; k--) {
            if (++idx[k] < d->dims[k]) break;
            idx[k] = 0;
        }
    }
}
