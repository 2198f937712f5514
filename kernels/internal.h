// Internal helpers shared by every module of libqsearch (never installed): allocator
// wrappers, logging, diagnostics, always-on asserts and the worker pool.
#pragma once

#include "qsearch/common.h"

#include <stdio.h>
#include <stdlib.h>

#define QS_INTERNAL __attribute__((visibility("hidden")))

#if defined(__GNUC__)
#define QS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define QS_PRINTF(f, a)
#endif

QS_INTERNAL void *qs__malloc(size_t size);
QS_INTERNAL void *qs__calloc(size_t n, size_t size);
QS_INTERNAL void *qs__realloc(void *ptr, size_t size);
QS_INTERNAL void qs__free(void *ptr);
QS_INTERNAL char *qs__strdup(const char *s);
/// 64-byte aligned, QS_EXTRA_BYTES of slack added; free with qs__aligned_free.
QS_INTERNAL void *qs__aligned_alloc(size_t size);
QS_INTERNAL void qs__aligned_free(void *ptr);

QS_INTERNAL void qs__log(enum qs_log_level level, const char *fmt, ...) QS_PRINTF(2, 3);
/// Formats the message into `diag` (if not NULL) and logs it at QS_LOG_DEBUG (the caller
/// that owns the diag decides whether the user sees it). Returns `status` for tail calls.
QS_INTERNAL enum qs_status qs__diag(struct qs_diag *diag, enum qs_status status,
                                    const char *fmt, ...) QS_PRINTF(3, 4);
/// Prepends "prefix" to the message already in `diag` (used to add the file name).
QS_INTERNAL void qs__diag_prefix(struct qs_diag *diag, const char *fmt, ...) QS_PRINTF(2, 3);

QS_INTERNAL _Noreturn void qs__assert_fail(const char *file, int line, const char *expr);
#define QS_ASSERT(x) ((x) ? (void)0 : qs__assert_fail(__FILE__, __LINE__, #x))

#define QS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define QS_MAX(a, b) ((a) > (b) ? (a) : (b))
#define QS_COUNTOF(a) (sizeof(a) / sizeof((a)[0]))

/// A fixed pool of worker threads (bound to cores with hwloc when available).
/// `fn(ctx, i)` is called once for every i in [0, n), split in contiguous ranges.
typedef struct qs_pool qs_pool_t;
typedef void (*qs_pool_task)(void *ctx, size_t begin, size_t end);
QS_INTERNAL enum qs_status qs__pool_create(int threads, qs_pool_t **pool_out);
QS_INTERNAL void qs__pool_destroy(qs_pool_t *pool);
QS_INTERNAL int qs__pool_threads(const qs_pool_t *pool);
/// Runs task over [0, n) on the pool (or inline when pool is NULL or n is small).
QS_INTERNAL void qs__pool_run(qs_pool_t *pool, size_t n, qs_pool_task task, void *ctx);
