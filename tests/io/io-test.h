// Helpers shared by the tests/io tests: a scratch folder, file helpers, the fixture value
// formula of scripts/make-io-fixtures.py, and a counting allocator for OOM walks.
#pragma once

#include "test.h"

#include "qsearch/data.h"

#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#define IO_COUNTOF(a) (sizeof(a) / sizeof((a)[0]))

static char io_tmp_root[256];

// Expected failures are reported through diags (and, with a NULL diag, logged): keep
// stderr for real problems.
static inline void io_quiet_log(enum qs_log_level level, const char *msg, void *user) {
    (void)level, (void)msg, (void)user;
}
static inline void io_quiet(void) { qs_set_log_callback(io_quiet_log, NULL, QS_LOG_ERROR); }

static inline int io_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}
static inline void io_tmp_cleanup(void) {
    if (io_tmp_root[0]) nftw(io_tmp_root, io_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
// Path of `name` inside a scratch folder removed at exit.
static inline const char *io_tmp(const char *name) {
    static char buf[8][512];
    static int k;
    if (!io_tmp_root[0]) {
        snprintf(io_tmp_root, sizeof io_tmp_root, "%s/qs-io-XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        ASSERT_TRUE(mkdtemp(io_tmp_root) != NULL);
        atexit(io_tmp_cleanup);
    }
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", io_tmp_root, name);
    return p;
}

static inline void io_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ(fwrite(data, 1, n, f), n);
    ASSERT_EQ(fclose(f), 0);
}

// Whole file; *n gets its size. Free with free().
static inline uint8_t *io_read(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)size + 1);
    ASSERT_EQ(fread(p, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return p;
}

// Writes the first `keep` bytes of `src` to scratch file `name`; returns its path.
static inline const char *io_truncated(const char *src, size_t keep, const char *name) {
    size_t n;
    uint8_t *p = io_read(src, &n);
    ASSERT_TRUE(keep < n);
    const char *dst = io_tmp(name);
    io_write(dst, p, keep);
    free(p);
    return dst;
}

static inline float io_f16(uint16_t h) {
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float v = e == 0 ? ldexpf((float)m, -24) : ldexpf((float)(m | 0x400), e - 25);
    return (h & 0x8000) ? -v : v;
}

// Element i of `a` as a double.
static inline double io_elem(const struct qs_array *a, size_t i) {
    const void *d = a->data;
    switch (a->dtype) {
    case QS_DTYPE_BOOL: case QS_DTYPE_U8: return ((const uint8_t *)d)[i];
    case QS_DTYPE_I8: return ((const int8_t *)d)[i];
    case QS_DTYPE_U16: return ((const uint16_t *)d)[i];
    case QS_DTYPE_I16: return ((const int16_t *)d)[i];
    case QS_DTYPE_U32: return ((const uint32_t *)d)[i];
    case QS_DTYPE_I32: return ((const int32_t *)d)[i];
    case QS_DTYPE_U64: return (double)((const uint64_t *)d)[i];
    case QS_DTYPE_I64: return (double)((const int64_t *)d)[i];
    case QS_DTYPE_F16: return io_f16(((const uint16_t *)d)[i]);
    case QS_DTYPE_F32: return ((const float *)d)[i];
    case QS_DTYPE_F64: return ((const double *)d)[i];
    default: return NAN;
    }
}

// The value formula of scripts/make-io-fixtures.py.
static inline double io_expected(enum qs_dtype dt, int64_t i) {
    switch (dt) {
    case QS_DTYPE_BOOL: return (double)(i % 2);
    case QS_DTYPE_U8: case QS_DTYPE_U16: case QS_DTYPE_U32: case QS_DTYPE_U64:
        return (double)(i * 3 + 1);
    case QS_DTYPE_I8: case QS_DTYPE_I16: case QS_DTYPE_I32: case QS_DTYPE_I64:
        return (double)(i * 3 - 5);
    default: return (double)(i * 3 - 5) * 0.5;
    }
}

static inline void io_check_values(const struct qs_array *a, const char *what) {
    int64_t n = qs_array_numel(a);
    ASSERT_EQ(a->nbytes, (size_t)n * qs_dtype_size(a->dtype));
    for (int64_t i = 0; i < n; i++)
        if (io_elem(a, (size_t)i) != io_expected(a->dtype, i)) {
            fprintf(stderr, "%s: element %lld is %g, expected %g\n", what, (long long)i,
                    io_elem(a, (size_t)i), io_expected(a->dtype, i));
            exit(1);
        }
}

static inline void io_check_shape(const struct qs_array *a, enum qs_dtype dt, int rank,
                                  const int64_t *dims) {
    ASSERT_EQ(a->dtype, dt);
    ASSERT_EQ(a->rank, rank);
    for (int i = 0; i < rank; i++) ASSERT_EQ(a->dims[i], dims[i]);
}

// A failed call: the status, a one-line message that names `file`, and `needle`.
#define IO_EXPECT_FAIL(expr, status, diag, file, needle)                                  \
    do {                                                                                  \
        memset((diag).msg, 0, sizeof (diag).msg);                                         \
        enum qs_status io_st_ = (expr);                                                   \
        if (io_st_ != (status)) {                                                         \
            fprintf(stderr, "%s:%d: %s gave %s (%s), expected %s\n", __FILE__, __LINE__,  \
                    #expr, qs_status_name(io_st_), (diag).msg, qs_status_name(status));   \
            exit(1);                                                                      \
        }                                                                                 \
        ASSERT_STR_CONTAINS((diag).msg, (file));                                          \
        ASSERT_STR_CONTAINS((diag).msg, (needle));                                        \
        ASSERT_TRUE(strchr((diag).msg, '\n') == NULL);                                    \
    } while (0)

// A counting allocator that fails allocation number `fail_at` (1-based; 0 = never).
static struct {
    long count, fail_at, live;
} io_oom;
static inline void *io_oom_malloc(void *ctx, size_t n) {
    (void)ctx;
    if (io_oom.fail_at && ++io_oom.count == io_oom.fail_at) return NULL;
    void *p = malloc(n);
    if (p) io_oom.live++;
    return p;
}
static inline void *io_oom_realloc(void *ctx, void *p, size_t n) {
    (void)ctx;
    if (io_oom.fail_at && ++io_oom.count == io_oom.fail_at) return NULL;
    void *q = realloc(p, n);
    if (q && !p) io_oom.live++;
    return q;
}
static inline void io_oom_free(void *ctx, void *p) {
    (void)ctx;
    if (p) io_oom.live--;
    free(p);
}

// Runs `load` with allocation n failing for n = 1, 2, ... until it succeeds; every
// failure must be NOMEM and leave nothing allocated. Returns the number of walks.
#define IO_OOM_WALK(load_expr, cleanup_stmt)                                              \
    do {                                                                                  \
        struct qs_allocator io_a_ = {io_oom_malloc, io_oom_realloc, io_oom_free, NULL};   \
        qs_set_allocator(&io_a_);                                                         \
        for (long n_ = 1;; n_++) {                                                        \
            io_oom.count = 0, io_oom.fail_at = n_, io_oom.live = 0;                       \
            enum qs_status st_ = (load_expr);                                             \
            if (st_ == QS_STATUS_OK) {                                                    \
                cleanup_stmt;                                                             \
                ASSERT_EQ(io_oom.live, 0);                                                \
                break;                                                                    \
            }                                                                             \
            if (st_ != QS_STATUS_NOMEM) {                                                 \
                fprintf(stderr, "%s:%d: allocation %ld failing gave %s\n", __FILE__,      \
                        __LINE__, n_, qs_status_name(st_));                               \
                exit(1);                                                                  \
            }                                                                             \
            ASSERT_EQ(io_oom.live, 0);                                                    \
            ASSERT_TRUE(n_ < 1000);                                                       \
        }                                                                                 \
        qs_set_allocator(NULL);                                                           \
        io_oom.fail_at = 0;                                                               \
    } while (0)
