// Internals of ir/data/: whole-file reading (gzip-transparent), atomic writes and dtype
// helpers shared by the loaders. Only files in ir/data/ (and tests) include this.
#pragma once

#include "qsearch/data.h"
#include "kernels/internal.h"

#include <string.h>

// Reads all of `path` into a qs__malloc'ed buffer (*data_out, *size_out; free with
// qs__free), gunzipping it when it starts with the gzip magic. Errors name the path:
// IO for missing/unreadable/directories, PARSE for corrupt or truncated gzip, NOMEM.
QS_INTERNAL enum qs_status qs__data_read_file(const char *path, uint8_t **data_out,
                                              size_t *size_out, struct qs_diag *diag);

// Writes head (may be empty) then body to a temporary file beside `path` and renames it
// over `path`; on failure the temporary file is removed and `path` is untouched.
QS_INTERNAL enum qs_status qs__data_write_file(const char *path, const void *head,
                                               size_t head_size, const void *body,
                                               size_t body_size, struct qs_diag *diag);

// Turns a whole-file buffer into the data of `a` without copying: the `size` bytes at
// buf + offset are moved to the front and the buffer is shrunk. Takes ownership of buf.
QS_INTERNAL void qs__data_adopt(struct qs_array *a, uint8_t *buf, size_t offset, size_t size);

// Validates dtype/rank/dims and computes the byte size (numel * element size) with
// overflow checks. Returns false when the size does not fit in size_t / int64_t.
QS_INTERNAL bool qs__data_shape_bytes(enum qs_dtype dtype, int rank, const int64_t *dims,
                                      size_t *bytes_out);

// Parses a dtype name ("float32", "f32", "uint8", "u8", ...) of `len` chars.
QS_INTERNAL bool qs__data_dtype_parse(const char *s, size_t len, enum qs_dtype *dtype_out);

// Formats dims as "[a,b,c]" into buf; returns buf.
QS_INTERNAL char *qs__data_dims_str(int rank, const int64_t *dims, char *buf, size_t size);

// Reverses the bytes of each of `n` elements of `elem` bytes in place.
QS_INTERNAL void qs__data_byteswap(void *data, size_t n, size_t elem);

QS_INTERNAL float qs__data_f16_to_f32(uint16_t h);
QS_INTERNAL float qs__data_bf16_to_f32(uint16_t h);

// qs_array_load that also returns the file path named by `spec` (qs__malloc'ed, free with
// qs__free; NULL when the spec itself is bad), for messages that name the file.
QS_INTERNAL enum qs_status qs__data_load_spec(const char *spec, struct qs_array *a_out,
                                              char **path_out, struct qs_diag *diag);
