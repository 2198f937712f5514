// qsearch/common.h: status codes, data types, allocator and logging shared by every
// module. This is the lowest floor of the public API: it includes nothing of qsearch.
//
// Overview
//   Every public function that can fail returns `enum qs_status` (QS_STATUS_OK == 0) and
//   writes its results through trailing `*_out` pointers only on success. Failures are
//   described in a caller-owned `struct qs_diag` when one is passed, and logged through the
//   log callback (stderr by default).
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(QS_BUILDING_LIBRARY)
#define QS_API __attribute__((visibility("default")))
#else
#define QS_API
#endif

#define QS_VERSION_MAJOR 0
#define QS_VERSION_MINOR 1
#define QS_VERSION_PATCH 0
#define QS_VERSION_STRING "0.1.0"

/// Bytes that kernels may read past the end of an input buffer. Buffers handed to
/// kernels are always allocated with this much slack.
#define QS_EXTRA_BYTES 64

/// The one status table. XX(NAME, message).
#define QS_STATUS_MAP(XX)                                               \
    XX(OK, "ok")                                                        \
    XX(INVALID_ARG, "invalid argument")                                 \
    XX(INVALID_STATE, "invalid state")                                  \
    XX(UNSUPPORTED, "unsupported")                                      \
    XX(UNSUPPORTED_HW, "unsupported hardware")                          \
    XX(NOMEM, "out of memory")                                          \
    XX(IO, "input/output error")                                        \
    XX(PARSE, "parse error")                                            \
    XX(NUMERIC, "numerical error")                                      \
    XX(CUDA, "CUDA error")                                              \
    XX(INTERNAL, "internal error")

enum qs_status {
#define QS_XX(name, msg) QS_STATUS_##name,
    QS_STATUS_MAP(QS_XX)
#undef QS_XX
    QS_STATUS_COUNT
};

/// "QS_STATUS_NOMEM" for QS_STATUS_NOMEM; "QS_STATUS_UNKNOWN" for values outside the table.
QS_API const char *qs_status_name(enum qs_status status);
/// "out of memory" for QS_STATUS_NOMEM; "unknown status" outside the table.
QS_API const char *qs_status_str(enum qs_status status);

/// Element types. The values are ONNX's TensorProto.DataType codes so that files and
/// graphs map onto them without a table.
#define QS_DTYPE_MAP(XX)                   \
    XX(UNDEFINED, 0, "undefined", 0)       \
    XX(F32, 1, "float32", 4)               \
    XX(U8, 2, "uint8", 1)                  \
    XX(I8, 3, "int8", 1)                   \
    XX(U16, 4, "uint16", 2)                \
    XX(I16, 5, "int16", 2)                 \
    XX(I32, 6, "int32", 4)                 \
    XX(I64, 7, "int64", 8)                 \
    XX(STRING, 8, "string", 0)             \
    XX(BOOL, 9, "bool", 1)                 \
    XX(F16, 10, "float16", 2)              \
    XX(F64, 11, "float64", 8)              \
    XX(U32, 12, "uint32", 4)               \
    XX(U64, 13, "uint64", 8)               \
    XX(BF16, 16, "bfloat16", 2)

enum qs_dtype {
#define QS_XX(name, code, str, size) QS_DTYPE_##name = code,
    QS_DTYPE_MAP(QS_XX)
#undef QS_XX
};

/// Size in bytes of one element; 0 for UNDEFINED, STRING and unknown codes.
QS_API size_t qs_dtype_size(enum qs_dtype dtype);
/// "float32" for QS_DTYPE_F32; "unknown" for codes outside the table.
QS_API const char *qs_dtype_name(enum qs_dtype dtype);

/// Maximum tensor rank handled anywhere in qsearch.
#define QS_MAX_RANK 8

/// A caller-owned description of what went wrong. Loaders and parsers fill it on failure
/// with a one-line message that names the file and the problem (and line/column for text
/// formats). Pass NULL when the message is not wanted; the error is still logged.
struct qs_diag {
    char msg[512];
};

/// Replaces the allocator used by the whole library. Must be called before any other
/// qsearch function, or not at all. `realloc` may be NULL (then malloc+copy+free is used).
struct qs_allocator {
    void *(*malloc)(void *ctx, size_t size);
    void *(*realloc)(void *ctx, void *ptr, size_t size);
    void (*free)(void *ctx, void *ptr);
    void *ctx;
};
/// Installs `allocator` (NULL restores the C library's). Not thread-safe.
QS_API void qs_set_allocator(const struct qs_allocator *allocator);

enum qs_log_level { QS_LOG_ERROR = 0, QS_LOG_WARN = 1, QS_LOG_INFO = 2, QS_LOG_DEBUG = 3 };
typedef void (*qs_log_fn)(enum qs_log_level level, const char *msg, void *user);
/// Installs the log callback (NULL restores the default, which writes warnings and errors
/// to stderr) and the most verbose level delivered. Not thread-safe; call at start-up.
QS_API void qs_set_log_callback(qs_log_fn fn, void *user, enum qs_log_level max_level);

#ifdef __cplusplus
}
#endif
