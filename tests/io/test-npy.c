// NumPy .npy: every dtype written by numpy loads with the right values, qsearch writes the
// same bytes as numpy.save, round trips, rejected layouts/dtypes, truncation, atomic save.
#include "io-test.h"

#include <dirent.h>
#include <zlib.h>

static const struct {
    const char *file;
    enum qs_dtype dtype;
} kDtypes[] = {
    {"bool", QS_DTYPE_BOOL},   {"int8", QS_DTYPE_I8},       {"uint8", QS_DTYPE_U8},
    {"int16", QS_DTYPE_I16},   {"uint16", QS_DTYPE_U16},    {"int32", QS_DTYPE_I32},
    {"uint32", QS_DTYPE_U32},  {"int64", QS_DTYPE_I64},     {"uint64", QS_DTYPE_U64},
    {"float16", QS_DTYPE_F16}, {"float32", QS_DTYPE_F32},   {"float64", QS_DTYPE_F64},
};

static const char *fixture(const char *name) {
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "io/npy/%s", name);
    return qs_test_data(p);
}

static void files_equal(const char *a, const char *b) {
    size_t na, nb;
    uint8_t *pa = io_read(a, &na), *pb = io_read(b, &nb);
    if (na != nb || memcmp(pa, pb, na) != 0) {
        fprintf(stderr, "%s and %s differ (%zu vs %zu bytes)\n", a, b, na, nb);
        exit(1);
    }
    free(pa);
    free(pb);
}

static void test_numpy_dtypes(void) {
    struct qs_diag diag;
    const int64_t dims[] = {2, 3};
    for (size_t i = 0; i < IO_COUNTOF(kDtypes); i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.npy", kDtypes[i].file);
        struct qs_array a = {0};
        ASSERT_OK(qs_array_load_npy(fixture(name), &a, &diag));
        io_check_shape(&a, kDtypes[i].dtype, 2, dims);
        io_check_values(&a, name);
        // Saving what was loaded gives numpy's bytes exactly.
        const char *out = io_tmp(name);
        ASSERT_OK(qs_array_save_npy(out, &a, &diag));
        files_equal(out, fixture(name));
        // Round trip through qsearch alone.
        struct qs_array b = {0};
        ASSERT_OK(qs_array_load_npy(out, &b, &diag));
        io_check_shape(&b, a.dtype, a.rank, a.dims);
        ASSERT_EQ(b.nbytes, a.nbytes);
        ASSERT_TRUE(memcmp(a.data, b.data, a.nbytes) == 0);
        qs_array_free(&a);
        qs_array_free(&b);
    }
}

static void test_shapes(void) {
    struct qs_diag diag;
    struct qs_array a = {0};
    // Rank 0.
    ASSERT_OK(qs_array_load_npy(fixture("scalar-f64.npy"), &a, &diag));
    ASSERT_EQ(a.rank, 0);
    ASSERT_EQ(qs_array_numel(&a), 1);
    ASSERT_TRUE(((double *)a.data)[0] == 2.5);
    ASSERT_OK(qs_array_save_npy(io_tmp("scalar.npy"), &a, &diag));
    files_equal(io_tmp("scalar.npy"), fixture("scalar-f64.npy"));
    qs_array_free(&a);
    // Rank 1 and 3 (the header's growth padding depends on the first dim).
    const int64_t d1[] = {5}, d3[] = {2, 3, 4};
    ASSERT_OK(qs_array_load_npy(fixture("vec-i64.npy"), &a, &diag));
    io_check_shape(&a, QS_DTYPE_I64, 1, d1);
    io_check_values(&a, "vec-i64");
    ASSERT_OK(qs_array_save_npy(io_tmp("vec.npy"), &a, &diag));
    files_equal(io_tmp("vec.npy"), fixture("vec-i64.npy"));
    qs_array_free(&a);
    ASSERT_OK(qs_array_load_npy(fixture("cube-f32.npy"), &a, &diag));
    io_check_shape(&a, QS_DTYPE_F32, 3, d3);
    io_check_values(&a, "cube-f32");
    ASSERT_OK(qs_array_save_npy(io_tmp("cube.npy"), &a, &diag));
    files_equal(io_tmp("cube.npy"), fixture("cube-f32.npy"));
    qs_array_free(&a);
    // Empty.
    const int64_t d0[] = {0, 3};
    ASSERT_OK(qs_array_load_npy(fixture("empty-f32.npy"), &a, &diag));
    io_check_shape(&a, QS_DTYPE_F32, 2, d0);
    ASSERT_EQ(a.nbytes, 0);
    ASSERT_OK(qs_array_save_npy(io_tmp("empty.npy"), &a, &diag));
    files_equal(io_tmp("empty.npy"), fixture("empty-f32.npy"));
    qs_array_free(&a);
    // Version 2.0 header, big-endian data, gzip-compressed file.
    const int64_t d23[] = {2, 3};
    ASSERT_OK(qs_array_load_npy(fixture("v2-u8.npy"), &a, &diag));
    io_check_shape(&a, QS_DTYPE_U8, 2, d23);
    io_check_values(&a, "v2-u8");
    qs_array_free(&a);
    ASSERT_OK(qs_array_load_npy(fixture("bigendian-i32.npy"), &a, &diag));
    io_check_shape(&a, QS_DTYPE_I32, 2, d23);
    io_check_values(&a, "bigendian-i32");
    qs_array_free(&a);
    ASSERT_OK(qs_array_load_npy(fixture("bigendian-f64.npy"), &a, &diag));
    io_check_values(&a, "bigendian-f64");
    qs_array_free(&a);
    ASSERT_OK(qs_array_load_npy(fixture("f32.npy.gz"), &a, &diag));
    io_check_shape(&a, QS_DTYPE_F32, 2, d23);
    io_check_values(&a, "f32.npy.gz");
    qs_array_free(&a);
}

// Arrays qsearch makes itself, for every dtype numpy has, at several ranks.
static void test_round_trip_all(void) {
    struct qs_diag diag;
    const enum qs_dtype dts[] = {QS_DTYPE_BOOL, QS_DTYPE_I8,  QS_DTYPE_U8,  QS_DTYPE_I16,
                                 QS_DTYPE_U16,  QS_DTYPE_I32, QS_DTYPE_U32, QS_DTYPE_I64,
                                 QS_DTYPE_U64,  QS_DTYPE_F16, QS_DTYPE_F32, QS_DTYPE_F64};
    const int64_t shapes[][4] = {{7, 0, 0, 0}, {3, 5, 0, 0}, {2, 1, 4, 3}, {1234567, 0, 0, 0}};
    const int ranks[] = {1, 2, 4, 1};
    for (size_t d = 0; d < IO_COUNTOF(dts); d++)
        for (size_t s = 0; s < IO_COUNTOF(ranks); s++) {
            if (s == 3 && d % 4 != 0) continue;  // one large first dim now and then
            struct qs_array a = {0}, b = {0};
            ASSERT_OK(qs_array_alloc(&a, dts[d], ranks[s], shapes[s], &diag));
            uint8_t *p = a.data;
            for (size_t i = 0; i < a.nbytes; i++) p[i] = (uint8_t)(i * 131 + d);
            if (dts[d] == QS_DTYPE_BOOL)
                for (size_t i = 0; i < a.nbytes; i++) p[i] &= 1;
            const char *path = io_tmp("rt.npy");
            ASSERT_OK(qs_array_save_npy(path, &a, &diag));
            ASSERT_OK(qs_array_load_npy(path, &b, &diag));
            io_check_shape(&b, a.dtype, a.rank, a.dims);
            ASSERT_EQ(b.nbytes, a.nbytes);
            ASSERT_TRUE(memcmp(a.data, b.data, a.nbytes) == 0);
            qs_array_free(&a);
            qs_array_free(&b);
        }
    // bfloat16 has no numpy dtype.
    struct qs_array a = {0};
    const int64_t d2[] = {2};
    ASSERT_OK(qs_array_alloc(&a, QS_DTYPE_BF16, 1, d2, &diag));
    IO_EXPECT_FAIL(qs_array_save_npy(io_tmp("bf16.npy"), &a, &diag), QS_STATUS_UNSUPPORTED,
                   diag, "bf16.npy", "bfloat16");
    qs_array_free(&a);
    qs_array_free(&a);  // safe twice: the struct was zeroed
}

static void test_rejected(void) {
    struct qs_diag diag;
    struct qs_array a = {0};
    IO_EXPECT_FAIL(qs_array_load_npy(fixture("fortran-f32.npy"), &a, &diag),
                   QS_STATUS_UNSUPPORTED, diag, "fortran-f32.npy", "Fortran");
    IO_EXPECT_FAIL(qs_array_load_npy(fixture("object.npy"), &a, &diag), QS_STATUS_UNSUPPORTED,
                   diag, "object.npy", "object");
    IO_EXPECT_FAIL(qs_array_load_npy(fixture("unicode.npy"), &a, &diag),
                   QS_STATUS_UNSUPPORTED, diag, "unicode.npy", "string");
    IO_EXPECT_FAIL(qs_array_load_npy(fixture("complex.npy"), &a, &diag),
                   QS_STATUS_UNSUPPORTED, diag, "complex.npy", "complex");
    IO_EXPECT_FAIL(qs_array_load_npy(fixture("structured.npy"), &a, &diag),
                   QS_STATUS_UNSUPPORTED, diag, "structured.npy", "structured");
    ASSERT_TRUE(a.data == NULL);  // untouched on failure
}

static void test_bad_files(void) {
    struct qs_diag diag;
    struct qs_array a = {0};
    const char *src = fixture("float32.npy");  // 128-byte header + 24 data bytes
    // Every cut point inside the header and the data.
    const size_t cuts[] = {0, 3, 8, 9, 11, 60, 127, 128, 129, 140, 151};
    for (size_t i = 0; i < IO_COUNTOF(cuts); i++) {
        const char *p = io_truncated(src, cuts[i], "cut.npy");
        IO_EXPECT_FAIL(qs_array_load_npy(p, &a, &diag), QS_STATUS_PARSE, diag, "cut.npy",
                       cuts[i] == 0 ? "empty" : cuts[i] < 6 ? "not a .npy" : "truncated");
    }
    // Extra bytes after the data.
    size_t n;
    uint8_t *buf = io_read(src, &n);
    uint8_t *longer = malloc(n + 4);
    memcpy(longer, buf, n);
    memset(longer + n, 0, 4);
    io_write(io_tmp("long.npy"), longer, n + 4);
    IO_EXPECT_FAIL(qs_array_load_npy(io_tmp("long.npy"), &a, &diag), QS_STATUS_PARSE, diag,
                   "long.npy", "4 unexpected bytes");
    // A damaged header.
    memcpy(longer, buf, n);
    memcpy(longer + 11, "\"descr!", 7);
    io_write(io_tmp("hdr.npy"), longer, n);
    IO_EXPECT_FAIL(qs_array_load_npy(io_tmp("hdr.npy"), &a, &diag), QS_STATUS_PARSE, diag,
                   "hdr.npy", "malformed .npy header");
    free(longer);
    // A truncated gzip stream.
    gzFile gz = gzopen(io_tmp("cut.npy.gz"), "wb");
    ASSERT_TRUE(gz != NULL);
    ASSERT_EQ(gzwrite(gz, buf, (unsigned)n), (int)n);
    gzclose(gz);
    size_t gn;
    uint8_t *g = io_read(io_tmp("cut.npy.gz"), &gn);
    io_write(io_tmp("cut.npy.gz"), g, gn - 12);
    IO_EXPECT_FAIL(qs_array_load_npy(io_tmp("cut.npy.gz"), &a, &diag), QS_STATUS_PARSE, diag,
                   "cut.npy.gz", "gzip");
    free(g);
    free(buf);
    // Missing file, directory, not a .npy.
    IO_EXPECT_FAIL(qs_array_load_npy(io_tmp("missing.npy"), &a, &diag), QS_STATUS_IO, diag,
                   "missing.npy", "No such file");
    IO_EXPECT_FAIL(qs_array_load_npy(qs_test_data("io/npy"), &a, &diag), QS_STATUS_IO, diag,
                   "io/npy", "directory");
    IO_EXPECT_FAIL(qs_array_load_npy(qs_test_data("io/pb/f32-raw.pb"), &a, &diag),
                   QS_STATUS_PARSE, diag, "f32-raw.pb", "not a .npy");
    ASSERT_TRUE(a.data == NULL);
}

static int count_tmp_files(const char *dir) {
    DIR *d = opendir(dir);
    ASSERT_TRUE(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp-")) n++;
    closedir(d);
    return n;
}

static void test_atomic_save(void) {
    struct qs_diag diag;
    struct qs_array a = {0};
    const int64_t dims[] = {4, 4};
    ASSERT_OK(qs_array_alloc(&a, QS_DTYPE_F32, 2, dims, &diag));
    const char *path = io_tmp("out.npy");
    io_write(path, "old", 3);
    ASSERT_OK(qs_array_save_npy(path, &a, &diag));  // replaces the old file
    struct qs_array b = {0};
    ASSERT_OK(qs_array_load_npy(path, &b, &diag));
    ASSERT_EQ(b.nbytes, 64);
    qs_array_free(&b);
    // An inconsistent array or an unwritable place leaves the old file as it was.
    struct qs_array bad = a;
    bad.nbytes = 8;
    IO_EXPECT_FAIL(qs_array_save_npy(path, &bad, &diag), QS_STATUS_INVALID_ARG, diag,
                   "out.npy", "inconsistent");
    IO_EXPECT_FAIL(qs_array_save_npy(io_tmp("no/such/dir/x.npy"), &a, &diag), QS_STATUS_IO,
                   diag, "x.npy", "cannot create");
    ASSERT_OK(qs_array_load_npy(path, &b, &diag));
    qs_array_free(&b);
    // A path that is a directory cannot be renamed over: no partial or temporary file.
    mkdir(io_tmp("adir.npy"), 0755);
    IO_EXPECT_FAIL(qs_array_save_npy(io_tmp("adir.npy"), &a, &diag), QS_STATUS_IO, diag,
                   "adir.npy", "rename");
    ASSERT_EQ(count_tmp_files(io_tmp("")), 0);
    qs_array_free(&a);
}

// Single-byte damage anywhere in the header never crashes: it loads (the byte did not
// matter, or changed a value) or fails with PARSE/UNSUPPORTED naming the file.
static void test_mutations(void) {
    size_t n;
    uint8_t *buf = io_read(fixture("cube-f32.npy"), &n);
    const uint8_t vals[] = {0, 0xff, '(', ')', ',', '\'', '9', '}'};
    const char *path = io_tmp("mut.npy");
    for (size_t i = 0; i < 128; i++)
        for (size_t v = 0; v < IO_COUNTOF(vals); v++) {
            uint8_t keep = buf[i];
            buf[i] = vals[v];
            io_write(path, buf, n);
            buf[i] = keep;
            struct qs_diag diag;
            struct qs_array a = {0};
            enum qs_status st = qs_array_load_npy(path, &a, &diag);
            if (st == QS_STATUS_OK) {
                ASSERT_TRUE(a.nbytes == 96);
                qs_array_free(&a);
                continue;
            }
            if (st != QS_STATUS_PARSE && st != QS_STATUS_UNSUPPORTED) {
                fprintf(stderr, "byte %zu = 0x%02x: %s (%s)\n", i, vals[v],
                        qs_status_name(st), diag.msg);
                exit(1);
            }
            ASSERT_STR_CONTAINS(diag.msg, "mut.npy");
            ASSERT_TRUE(strchr(diag.msg, '\n') == NULL);
        }
    free(buf);
}

static void test_oom(void) {
    struct qs_array a = {0};
    IO_OOM_WALK(qs_array_load_npy(fixture("float32.npy"), &a, NULL), qs_array_free(&a));
    IO_OOM_WALK(qs_array_load_npy(fixture("f32.npy.gz"), &a, NULL), qs_array_free(&a));
    const int64_t dims[] = {3, 3};
    struct qs_diag diag;
    ASSERT_OK(qs_array_alloc(&a, QS_DTYPE_I16, 2, dims, &diag));
    struct qs_array saved = a;
    IO_OOM_WALK(qs_array_save_npy(io_tmp("oom.npy"), &saved, NULL), (void)0);
    qs_array_free(&a);
}

int main(void) {
    io_quiet();
    test_numpy_dtypes();
    test_shapes();
    test_round_trip_all();
    test_rejected();
    test_bad_files();
    test_atomic_save();
    test_mutations();
    test_oom();
    printf("test-npy: ok\n");
    return 0;
}
