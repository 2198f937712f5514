// ONNX TensorProto (.pb) reading, through the protobuf-c code generated from onnx.proto.
#include "ir/data/data-impl.h"

#include "onnx/onnx.pb-c.h"

// protobuf-c allocates through the qsearch allocator too, so OOM tests reach it; the flag
// tells an out-of-memory failure of unpack from a malformed message.
static void *pb_alloc(void *ctx, size_t size) {
    void *p = qs__malloc(size);
    if (!p) *(bool *)ctx = true;
    return p;
}
static void pb_free(void *ctx, void *p) {
    (void)ctx;
    qs__free(p);
}

static bool is_valid_dtype(int32_t code) {
    switch (code) {
    case QS_DTYPE_F32: case QS_DTYPE_U8: case QS_DTYPE_I8: case QS_DTYPE_U16:
    case QS_DTYPE_I16: case QS_DTYPE_I32: case QS_DTYPE_I64: case QS_DTYPE_BOOL:
    case QS_DTYPE_F16: case QS_DTYPE_F64: case QS_DTYPE_U32: case QS_DTYPE_U64:
    case QS_DTYPE_BF16:
        return true;
    default:
        return false;
    }
}

// Copies the typed repeated field that ONNX uses for `dt` into out (numel elements);
// returns the number of values that field holds (to compare with numel).
static size_t typed_count(const Onnx__TensorProto *t, enum qs_dtype dt) {
    switch (dt) {
    case QS_DTYPE_F32: return t->n_float_data;
    case QS_DTYPE_F64: return t->n_double_data;
    case QS_DTYPE_I64: return t->n_int64_data;
    case QS_DTYPE_U32: case QS_DTYPE_U64: return t->n_uint64_data;
    default: return t->n_int32_data;  // int32 and narrower types, bool, float16, bfloat16
    }
}

static void typed_copy(const Onnx__TensorProto *t, enum qs_dtype dt, void *out, size_t n) {
    switch (dt) {
    case QS_DTYPE_F32: memcpy(out, t->float_data, n * 4); break;
    case QS_DTYPE_F64: memcpy(out, t->double_data, n * 8); break;
    case QS_DTYPE_I64: memcpy(out, t->int64_data, n * 8); break;
    case QS_DTYPE_U64: memcpy(out, t->uint64_data, n * 8); break;
    case QS_DTYPE_U32:
        for (size_t i = 0; i < n; i++) ((uint32_t *)out)[i] = (uint32_t)t->uint64_data[i];
        break;
    case QS_DTYPE_I32: memcpy(out, t->int32_data, n * 4); break;
    case QS_DTYPE_I16: case QS_DTYPE_U16: case QS_DTYPE_F16: case QS_DTYPE_BF16:
        for (size_t i = 0; i < n; i++) ((uint16_t *)out)[i] = (uint16_t)t->int32_data[i];
        break;
    case QS_DTYPE_I8: case QS_DTYPE_U8: case QS_DTYPE_BOOL:
        for (size_t i = 0; i < n; i++) ((uint8_t *)out)[i] = (uint8_t)t->int32_data[i];
        break;
    default: break;
    }
}

enum qs_status qs_array_load_pb(const char *path, struct qs_array *a_out,
                                struct qs_diag *diag) {
    uint8_t *buf;
    size_t size;
    enum qs_status st = qs__data_read_file(path, &buf, &size, diag);
    if (st != QS_STATUS_OK) return st;
    Onnx__TensorProto *t = NULL;
    void *data = NULL;
    bool oom = false;
    ProtobufCAllocator allocator = {pb_alloc, pb_free, &oom};
    char ds[160];
    if (size == 0) {
        st = qs__diag(diag, QS_STATUS_PARSE, "'%s': empty file, not a TensorProto", path);
        goto done;
    }
    t = onnx__tensor_proto__unpack(&allocator, size, buf);
    if (!t) {
        st = oom ? qs__diag(diag, QS_STATUS_NOMEM, "'%s': out of memory", path)
                 : qs__diag(diag, QS_STATUS_PARSE,
                            "'%s': not a valid ONNX TensorProto (truncated or corrupt)", path);
        goto done;
    }
    if (!t->has_data_type || t->data_type == 0) {
        st = qs__diag(diag, QS_STATUS_PARSE, "'%s': not an ONNX TensorProto (no data_type)",
                      path);
        goto done;
    }
    enum qs_dtype dt = (enum qs_dtype)t->data_type;
    if (!is_valid_dtype(t->data_type)) {
        st = qs__diag(diag, QS_STATUS_UNSUPPORTED, "'%s': TensorProto data_type %d (%s)", path,
                      (int)t->data_type,
                      t->data_type == 8    ? "string"
                      : t->data_type == 14 ? "complex64"
                      : t->data_type == 15 ? "complex128"
                                           : "not supported");
        goto done;
    }
    if (t->n_external_data > 0 || (t->has_data_location && t->data_location ==
                                   ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)) {
        st = qs__diag(diag, QS_STATUS_UNSUPPORTED,
                      "'%s': TensorProto with external data is not supported", path);
        goto done;
    }
    if (t->segment) {
        st = qs__diag(diag, QS_STATUS_UNSUPPORTED, "'%s': segmented TensorProto", path);
        goto done;
    }
    if (t->n_dims > QS_MAX_RANK) {
        st = qs__diag(diag, QS_STATUS_UNSUPPORTED, "'%s': rank %zu is above the maximum %d",
                      path, t->n_dims, QS_MAX_RANK);
        goto done;
    }
    int rank = (int)t->n_dims;
    int64_t dims[QS_MAX_RANK] = {0};
    for (int i = 0; i < rank; i++) dims[i] = t->dims[i];
    size_t want;
    qs__data_dims_str(rank, dims, ds, sizeof ds);
    if (!qs__data_shape_bytes(dt, rank, dims, &want)) {
        st = qs__diag(diag, QS_STATUS_PARSE, "'%s': invalid dims %s", path, ds);
        goto done;
    }
    size_t es = qs_dtype_size(dt), numel = want / es;
    if (t->has_raw_data) {
        if (t->raw_data.len != want) {
            st = qs__diag(diag, QS_STATUS_PARSE,
                          "'%s': raw_data has %zu bytes, dims %s of %s need %zu", path,
                          t->raw_data.len, ds, qs_dtype_name(dt), want);
            goto done;
        }
    } else if (typed_count(t, dt) != numel) {
        st = qs__diag(diag, QS_STATUS_PARSE, "'%s': TensorProto has %zu values, dims %s need %zu",
                      path, typed_count(t, dt), ds, numel);
        goto done;
    }
    data = qs__malloc(want);
    if (!data) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "'%s': out of memory (%zu bytes)", path, want);
        goto done;
    }
    if (t->has_raw_data)
        memcpy(data, t->raw_data.data, want);
    else
        typed_copy(t, dt, data, numel);
    struct qs_array a = {.dtype = dt, .rank = rank, .data = data, .nbytes = want};
    for (int i = 0; i < rank; i++) a.dims[i] = dims[i];
    *a_out = a;
    data = NULL;
done:
    qs__free(data);
    if (t) onnx__tensor_proto__free_unpacked(t, &allocator);
    qs__free(buf);
    return st;
}
