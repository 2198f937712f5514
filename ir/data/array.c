// struct qs_array basics, dtype helpers and label conversion.
#include "ir/data/data-impl.h"

#include <math.h>
#include <strings.h>

void qs_array_free(struct qs_array *a) {
    if (!a) return;
    qs__free(a->data);
    memset(a, 0, sizeof *a);
}

int64_t qs_array_numel(const struct qs_array *a) {
    int64_t n = 1;
    for (int i = 0; i < a->rank; i++) n *= a->dims[i];
    return n;
}

bool qs__data_shape_bytes(enum qs_dtype dtype, int rank, const int64_t *dims,
                          size_t *bytes_out) {
    size_t es = qs_dtype_size(dtype);
    if (es == 0 || rank < 0 || rank > QS_MAX_RANK) return false;
    // Keep every size below 2^62 so that int64 numel and size_t bytes both fit.
    const uint64_t limit = (uint64_t)1 << 62;
    uint64_t n = es;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return false;
        if (dims[i] == 0) {
            n = 0;
            continue;
        }
        if (n > limit / (uint64_t)dims[i]) return false;
        n *= (uint64_t)dims[i];
    }
    if (n > SIZE_MAX) return false;
    *bytes_out = (size_t)n;
    return true;
}

enum qs_status qs_array_alloc(struct qs_array *a_out, enum qs_dtype dtype, int rank,
                              const int64_t *dims, struct qs_diag *diag) {
    if (qs_dtype_size(dtype) == 0)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "cannot allocate an array of dtype %s",
                        qs_dtype_name(dtype));
    if (rank < 0 || rank > QS_MAX_RANK)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "array rank %d outside 0..%d", rank,
                        QS_MAX_RANK);
    for (int i = 0; i < rank; i++)
        if (dims[i] < 0)
            return qs__diag(diag, QS_STATUS_INVALID_ARG, "negative array dim %lld",
                            (long long)dims[i]);
    size_t bytes;
    if (!qs__data_shape_bytes(dtype, rank, dims, &bytes))
        return qs__diag(diag, QS_STATUS_NOMEM, "array too large");
    void *p = qs__calloc(1, bytes);
    if (!p) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory allocating %zu bytes", bytes);
    memset(a_out, 0, sizeof *a_out);
    a_out->dtype = dtype;
    a_out->rank = rank;
    for (int i = 0; i < rank; i++) a_out->dims[i] = dims[i];
    a_out->data = p;
    a_out->nbytes = bytes;
    return QS_STATUS_OK;
}

void qs__data_adopt(struct qs_array *a, uint8_t *buf, size_t offset, size_t size) {
    if (offset) memmove(buf, buf + offset, size);
    // Shrinking is only an optimisation: keep the larger block when it fails.
    uint8_t *p = qs__realloc(buf, size);
    a->data = p ? p : buf;
    a->nbytes = size;
}

bool qs__data_dtype_parse(const char *s, size_t len, enum qs_dtype *dtype_out) {
    static const struct {
        const char *name;
        enum qs_dtype dtype;
    } table[] = {
        {"f16", QS_DTYPE_F16},   {"bf16", QS_DTYPE_BF16},  {"f32", QS_DTYPE_F32},
        {"f64", QS_DTYPE_F64},   {"i8", QS_DTYPE_I8},      {"u8", QS_DTYPE_U8},
        {"i16", QS_DTYPE_I16},   {"u16", QS_DTYPE_U16},    {"i32", QS_DTYPE_I32},
        {"u32", QS_DTYPE_U32},   {"i64", QS_DTYPE_I64},    {"u64", QS_DTYPE_U64},
        {"float", QS_DTYPE_F32}, {"double", QS_DTYPE_F64}, {"half", QS_DTYPE_F16},
        {"int", QS_DTYPE_I32},
    };
    for (size_t i = 0; i < QS_COUNTOF(table); i++)
        if (strlen(table[i].name) == len && strncasecmp(s, table[i].name, len) == 0) {
            *dtype_out = table[i].dtype;
            return true;
        }
    static const enum qs_dtype all[] = {
        QS_DTYPE_F32, QS_DTYPE_U8,  QS_DTYPE_I8,  QS_DTYPE_U16, QS_DTYPE_I16,
        QS_DTYPE_I32, QS_DTYPE_I64, QS_DTYPE_BOOL, QS_DTYPE_F16, QS_DTYPE_F64,
        QS_DTYPE_U32, QS_DTYPE_U64, QS_DTYPE_BF16,
    };
    for (size_t i = 0; i < QS_COUNTOF(all); i++) {
        const char *n = qs_dtype_name(all[i]);
        if (strlen(n) == len && strncasecmp(s, n, len) == 0) {
            *dtype_out = all[i];
            return true;
        }
    }
    return false;
}

char *qs__data_dims_str(int rank, const int64_t *dims, char *buf, size_t size) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, size - QS_MIN(o, size), "[");
    for (int i = 0; i < rank; i++)
        o += (size_t)snprintf(buf + QS_MIN(o, size), size - QS_MIN(o, size), "%s%lld",
                              i ? "," : "", (long long)dims[i]);
    snprintf(buf + QS_MIN(o, size), size - QS_MIN(o, size), "]");
    return buf;
}

void qs__data_byteswap(void *data, size_t n, size_t elem) {
    uint8_t *p = data;
    if (elem <= 1) return;
    for (size_t i = 0; i < n; i++, p += elem)
        for (size_t a = 0, b = elem - 1; a < b; a++, b--) {
            uint8_t t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

float qs__data_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float f;
    if (exp == 0) {
        f = ldexpf((float)man, -24);  // zero and subnormals
    } else if (exp == 31) {
        f = man ? NAN : INFINITY;
    } else {
        uint32_t bits = ((exp + 112) << 23) | (man << 13);
        memcpy(&f, &bits, 4);
    }
    uint32_t bits;
    memcpy(&bits, &f, 4);
    bits |= sign;
    memcpy(&f, &bits, 4);
    return f;
}

float qs__data_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// Reads element i of an integer/bool/float array as a double (exact for every integer
// up to 2^53, which covers any real label).
static double elem_f64(const struct qs_array *a, size_t i) {
    const void *d = a->data;
    switch (a->dtype) {
    case QS_DTYPE_U8: return ((const uint8_t *)d)[i];
    case QS_DTYPE_BOOL: return ((const uint8_t *)d)[i] != 0;
    case QS_DTYPE_I8: return ((const int8_t *)d)[i];
    case QS_DTYPE_U16: return ((const uint16_t *)d)[i];
    case QS_DTYPE_I16: return ((const int16_t *)d)[i];
    case QS_DTYPE_U32: return ((const uint32_t *)d)[i];
    case QS_DTYPE_I32: return ((const int32_t *)d)[i];
    case QS_DTYPE_F32: return ((const float *)d)[i];
    case QS_DTYPE_F64: return ((const double *)d)[i];
    case QS_DTYPE_F16: return qs__data_f16_to_f32(((const uint16_t *)d)[i]);
    case QS_DTYPE_BF16: return qs__data_bf16_to_f32(((const uint16_t *)d)[i]);
    default: return 0;
    }
}

enum qs_status qs_array_to_labels(const struct qs_array *src, const char *name,
                                  struct qs_array *labels_out, struct qs_diag *diag) {
    char dims[128];
    if (!name) name = "labels";
    if (qs_dtype_size(src->dtype) == 0)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "'%s': labels of dtype %s", name,
                        qs_dtype_name(src->dtype));
    int64_t n = src->rank == 0 ? 1 : src->dims[0];
    bool ok = src->rank <= 1 || (src->rank == 2 && src->dims[1] == 1);
    if (!ok)
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "'%s': labels must have shape [N] or [N,1], not %s", name,
                        qs__data_dims_str(src->rank, src->dims, dims, sizeof dims));
    if (!src->data && n > 0)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "'%s': labels have no data", name);
    struct qs_array out = {0};
    enum qs_status st = qs_array_alloc(&out, QS_DTYPE_I64, 1, &n, diag);
    if (st != QS_STATUS_OK) return st;
    int64_t *y = out.data;
    bool is_float = src->dtype == QS_DTYPE_F32 || src->dtype == QS_DTYPE_F64 ||
                    src->dtype == QS_DTYPE_F16 || src->dtype == QS_DTYPE_BF16;
    for (int64_t i = 0; i < n; i++) {
        int64_t v;
        if (src->dtype == QS_DTYPE_I64) {
            v = ((const int64_t *)src->data)[i];
        } else if (src->dtype == QS_DTYPE_U64) {
            uint64_t u = ((const uint64_t *)src->data)[i];
            if (u > INT64_MAX) {
                qs_array_free(&out);
                return qs__diag(diag, QS_STATUS_INVALID_ARG, "'%s': label %lld is too large",
                                name, (long long)i);
            }
            v = (int64_t)u;
        } else {
            double d = elem_f64(src, (size_t)i);
            if (is_float && (!isfinite(d) || d != floor(d) || d > 9e15)) {
                qs_array_free(&out);
                return qs__diag(diag, QS_STATUS_INVALID_ARG,
                                "'%s': label %lld is %g, not a whole number", name,
                                (long long)i, d);
            }
            v = (int64_t)d;
        }
        if (v < 0) {
            qs_array_free(&out);
            return qs__diag(diag, QS_STATUS_INVALID_ARG, "'%s': label %lld is negative (%lld)",
                            name, (long long)i, (long long)v);
        }
        y[i] = v;
    }
    *labels_out = out;
    return QS_STATUS_OK;
}
