// Headerless and simple binary formats: MNIST IDX, CIFAR-10 binary, raw typed files.
#include "ir/data/data-impl.h"

enum qs_status qs_array_load_idx(const char *path, struct qs_array *a_out,
                                 struct qs_diag *diag) {
    uint8_t *buf;
    size_t size;
    enum qs_status st = qs__data_read_file(path, &buf, &size, diag);
    if (st != QS_STATUS_OK) return st;
    char ds[160];
    if (size < 4 || buf[0] != 0 || buf[1] != 0) {
        st = qs__diag(diag, QS_STATUS_PARSE, "'%s': %s", path,
                      size == 0  ? "empty file, not an IDX file"
                      : size < 4 ? "truncated IDX header"
                                 : "not an IDX file (bad magic)");
        goto error;
    }
    enum qs_dtype dt;
    switch (buf[2]) {
    case 0x08: dt = QS_DTYPE_U8; break;
    case 0x09: dt = QS_DTYPE_I8; break;
    case 0x0B: dt = QS_DTYPE_I16; break;
    case 0x0C: dt = QS_DTYPE_I32; break;
    case 0x0D: dt = QS_DTYPE_F32; break;
    case 0x0E: dt = QS_DTYPE_F64; break;
    default:
        st = qs__diag(diag, QS_STATUS_PARSE, "'%s': unknown IDX element type 0x%02x", path,
                      buf[2]);
        goto error;
    }
    int rank = buf[3];
    if (rank == 0 || rank > QS_MAX_RANK) {
        st = qs__diag(diag, rank ? QS_STATUS_UNSUPPORTED : QS_STATUS_PARSE,
                      "'%s': IDX rank %d outside 1..%d", path, rank, QS_MAX_RANK);
        goto error;
    }
    size_t hsize = 4 + 4 * (size_t)rank;
    if (size < hsize) {
        st = qs__diag(diag, QS_STATUS_PARSE,
                      "'%s': truncated: the IDX header needs %zu bytes, the file has %zu", path,
                      hsize, size);
        goto error;
    }
    int64_t dims[QS_MAX_RANK] = {0};
    for (int i = 0; i < rank; i++) {
        const uint8_t *p = buf + 4 + 4 * i;
        dims[i] = (int64_t)p[0] << 24 | (int64_t)p[1] << 16 | (int64_t)p[2] << 8 | p[3];
    }
    size_t want;
    qs__data_dims_str(rank, dims, ds, sizeof ds);
    if (!qs__data_shape_bytes(dt, rank, dims, &want)) {
        st = qs__diag(diag, QS_STATUS_PARSE, "'%s': IDX shape %s is too large", path, ds);
        goto error;
    }
    size_t have = size - hsize;
    if (have != want) {
        st = qs__diag(diag, QS_STATUS_PARSE,
                      have < want ? "'%s': truncated: IDX shape %s of %s needs %zu data bytes, "
                                    "the file has %zu"
                                  : "'%s': IDX shape %s of %s needs %zu data bytes, the file "
                                    "has %zu (extra bytes after the data)",
                      path, ds, qs_dtype_name(dt), want, have);
        goto error;
    }
    struct qs_array a = {.dtype = dt, .rank = rank};
    for (int i = 0; i < rank; i++) a.dims[i] = dims[i];
    qs__data_adopt(&a, buf, hsize, want);
    // IDX data is big-endian.
    qs__data_byteswap(a.data, want / qs_dtype_size(dt), qs_dtype_size(dt));
    *a_out = a;
    return QS_STATUS_OK;
error:
    qs__free(buf);
    return st;
}

enum { CIFAR_PIXELS = 3 * 32 * 32, CIFAR_RECORD = 1 + CIFAR_PIXELS };

enum qs_status qs_array_load_cifar10(const char *path, bool labels, struct qs_array *a_out,
                                     struct qs_diag *diag) {
    uint8_t *buf;
    size_t size;
    enum qs_status st = qs__data_read_file(path, &buf, &size, diag);
    if (st != QS_STATUS_OK) return st;
    if (size == 0 || size % CIFAR_RECORD != 0) {
        st = qs__diag(diag, QS_STATUS_PARSE,
                      size == 0 ? "'%s': empty file, not CIFAR-10 binary data"
                                : "'%s': size %zu bytes is not a multiple of the %d-byte "
                                  "CIFAR-10 record (truncated or not CIFAR-10 data)",
                      path, size, CIFAR_RECORD);
        goto error;
    }
    size_t n = size / CIFAR_RECORD;
    // A label above 9 means another layout (CIFAR-100 records have two label bytes).
    for (size_t i = 0; i < n; i++)
        if (buf[i * CIFAR_RECORD] > 9) {
            st = qs__diag(diag, QS_STATUS_PARSE,
                          "'%s': record %zu has label %u; CIFAR-10 labels are 0..9 (is this "
                          "CIFAR-100 or another format?)",
                          path, i, buf[i * CIFAR_RECORD]);
            goto error;
        }
    struct qs_array a = {.dtype = QS_DTYPE_U8};
    if (labels) {
        a.rank = 1;
        a.dims[0] = (int64_t)n;
        a.data = qs__malloc(n);
        if (!a.data) {
            st = qs__diag(diag, QS_STATUS_NOMEM, "'%s': out of memory", path);
            goto error;
        }
        for (size_t i = 0; i < n; i++) ((uint8_t *)a.data)[i] = buf[i * CIFAR_RECORD];
        a.nbytes = n;
        qs__free(buf);
    } else {
        // Compact the records in place: each moves left, so nothing unread is overwritten.
        for (size_t i = 0; i < n; i++)
            memmove(buf + i * CIFAR_PIXELS, buf + i * CIFAR_RECORD + 1, CIFAR_PIXELS);
        a.rank = 4;
        a.dims[0] = (int64_t)n;
        a.dims[1] = 3;
        a.dims[2] = 32;
        a.dims[3] = 32;
        qs__data_adopt(&a, buf, 0, n * CIFAR_PIXELS);
    }
    *a_out = a;
    return QS_STATUS_OK;
error:
    qs__free(buf);
    return st;
}

enum qs_status qs_array_load_raw(const char *path, enum qs_dtype dtype, int rank,
                                 const int64_t *dims, struct qs_array *a_out,
                                 struct qs_diag *diag) {
    size_t es = qs_dtype_size(dtype);
    if (es == 0)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "'%s': cannot load raw %s data", path,
                        qs_dtype_name(dtype));
    if (rank < 1 || rank > QS_MAX_RANK)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "'%s': raw shape rank %d outside 1..%d",
                        path, rank, QS_MAX_RANK);
    int free_dim = -1;
    int64_t known[QS_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        known[i] = dims[i];
        if (dims[i] == -1 && free_dim < 0) {
            free_dim = i;
            known[i] = 1;
        } else if (dims[i] <= 0) {
            return qs__diag(diag, QS_STATUS_INVALID_ARG,
                            "'%s': raw shape dims must be positive, with at most one -1", path);
        }
    }
    char ds[160];
    qs__data_dims_str(rank, dims, ds, sizeof ds);
    size_t unit;
    if (!qs__data_shape_bytes(dtype, rank, known, &unit))
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "'%s': raw shape %s is too large", path,
                        ds);
    uint8_t *buf;
    size_t size;
    enum qs_status st = qs__data_read_file(path, &buf, &size, diag);
    if (st != QS_STATUS_OK) return st;
    if (size == 0) {
        qs__free(buf);
        return qs__diag(diag, QS_STATUS_PARSE, "'%s': empty file", path);
    }
    struct qs_array a = {.dtype = dtype, .rank = rank};
    for (int i = 0; i < rank; i++) a.dims[i] = known[i];
    if (free_dim >= 0) {
        if (size % unit != 0) {
            qs__free(buf);
            return qs__diag(diag, QS_STATUS_PARSE,
                            "'%s': size %zu bytes is not a multiple of %zu bytes (shape %s of "
                            "%s; truncated or wrong shape/dtype)",
                            path, size, unit, ds, qs_dtype_name(dtype));
        }
        a.dims[free_dim] = (int64_t)(size / unit);
    } else if (size != unit) {
        qs__free(buf);
        return qs__diag(diag, QS_STATUS_PARSE,
                        "'%s': size %zu bytes does not match shape %s of %s (%zu bytes; %s)",
                        path, size, ds, qs_dtype_name(dtype), unit,
                        size < unit ? "truncated?" : "too long");
    }
    qs__data_adopt(&a, buf, 0, size);
    *a_out = a;
    return QS_STATUS_OK;
}
