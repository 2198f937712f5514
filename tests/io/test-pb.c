// ONNX TensorProto .pb: typed fields and raw_data for each dtype, rejected kinds,
// truncation at every byte, out-of-memory walk.
#include "io-test.h"

static const char *fixture(const char *name) {
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "io/pb/%s", name);
    return qs_test_data(p);
}

static void test_values(void) {
    static const struct {
        const char *file;
        enum qs_dtype dtype;
    } cases[] = {
        {"f32-raw.pb", QS_DTYPE_F32},   {"f32-typed.pb", QS_DTYPE_F32},
        {"i64-typed.pb", QS_DTYPE_I64}, {"i64-raw.pb", QS_DTYPE_I64},
        {"u8-typed.pb", QS_DTYPE_U8},   {"i8-typed.pb", QS_DTYPE_I8},
        {"bool-typed.pb", QS_DTYPE_BOOL}, {"f16-typed.pb", QS_DTYPE_F16},
        {"f16-raw.pb", QS_DTYPE_F16},   {"f64-typed.pb", QS_DTYPE_F64},
        {"u32-typed.pb", QS_DTYPE_U32}, {"u64-typed.pb", QS_DTYPE_U64},
    };
    struct qs_diag diag;
    const int64_t dims[] = {2, 3};
    for (size_t i = 0; i < IO_COUNTOF(cases); i++) {
        struct qs_array a = {0};
        ASSERT_OK(qs_array_load_pb(fixture(cases[i].file), &a, &diag));
        io_check_shape(&a, cases[i].dtype, 2, dims);
        io_check_values(&a, cases[i].file);
        qs_array_free(&a);
    }
    struct qs_array a = {0};
    ASSERT_OK(qs_array_load_pb(fixture("scalar-f32.pb"), &a, &diag));
    ASSERT_EQ(a.rank, 0);
    ASSERT_TRUE(((float *)a.data)[0] == 2.5f);
    qs_array_free(&a);
    // Chosen by extension through a spec.
    ASSERT_OK(qs_array_load(fixture("f32-raw.pb"), &a, &diag));
    io_check_values(&a, "spec");
    qs_array_free(&a);
}

static void test_rejected(void) {
    struct qs_diag diag;
    struct qs_array a = {0};
    IO_EXPECT_FAIL(qs_array_load_pb(fixture("string.pb"), &a, &diag), QS_STATUS_UNSUPPORTED,
                   diag, "string.pb", "string");
    IO_EXPECT_FAIL(qs_array_load_pb(fixture("external.pb"), &a, &diag), QS_STATUS_UNSUPPORTED,
                   diag, "external.pb", "external data");
    IO_EXPECT_FAIL(qs_array_load_pb(fixture("count-mismatch.pb"), &a, &diag), QS_STATUS_PARSE,
                   diag, "count-mismatch.pb", "has 2 values, dims [2,3] need 6");
    IO_EXPECT_FAIL(qs_array_load_pb(io_tmp("missing.pb"), &a, &diag), QS_STATUS_IO, diag,
                   "missing.pb", "cannot open");
    IO_EXPECT_FAIL(qs_array_load_pb(qs_test_data("io/npy/float32.npy"), &a, &diag),
                   QS_STATUS_PARSE, diag, "float32.npy", "TensorProto");
    ASSERT_TRUE(a.data == NULL);
}

// Every prefix of a valid file is rejected with the file name (some prefixes parse as a
// shorter message; the value count check catches those), except one that only drops the
// trailing optional name.
static void test_truncated(void) {
    const char *files[] = {"f32-raw.pb", "f32-typed.pb", "i64-typed.pb", "f64-typed.pb"};
    for (size_t f = 0; f < IO_COUNTOF(files); f++) {
        size_t n;
        uint8_t *buf = io_read(fixture(files[f]), &n);
        for (size_t keep = 0; keep < n; keep++) {
            const char *p = io_tmp("cut.pb");
            io_write(p, buf, keep);
            struct qs_diag diag;
            struct qs_array a = {0};
            enum qs_status st = qs_array_load_pb(p, &a, &diag);
            if (st == QS_STATUS_OK) {
                // Only a cut that drops trailing optional fields (the name) can load, and
                // then the tensor is whole.
                const int64_t dims[] = {2, 3};
                io_check_shape(&a, a.dtype, 2, dims);
                io_check_values(&a, files[f]);
                qs_array_free(&a);
                continue;
            }
            ASSERT_EQ(st, QS_STATUS_PARSE);
            ASSERT_STR_CONTAINS(diag.msg, "cut.pb");
        }
        free(buf);
    }
}

// Single-byte damage anywhere never crashes and never gives a wrong-size array.
static void test_mutations(void) {
    const char *files[] = {"f32-raw.pb", "i64-typed.pb", "f16-typed.pb"};
    for (size_t f = 0; f < IO_COUNTOF(files); f++) {
        size_t n;
        uint8_t *buf = io_read(fixture(files[f]), &n);
        const char *path = io_tmp("mut.pb");
        for (size_t i = 0; i < n; i++)
            for (int v = 0; v < 256; v += 29) {
                uint8_t keep = buf[i];
                buf[i] = (uint8_t)v;
                io_write(path, buf, n);
                buf[i] = keep;
                struct qs_diag diag;
                struct qs_array a = {0};
                enum qs_status st = qs_array_load_pb(path, &a, &diag);
                if (st == QS_STATUS_OK) {
                    ASSERT_EQ(a.nbytes, (size_t)qs_array_numel(&a) * qs_dtype_size(a.dtype));
                    qs_array_free(&a);
                    continue;
                }
                if (st != QS_STATUS_PARSE && st != QS_STATUS_UNSUPPORTED) {
                    fprintf(stderr, "%s byte %zu = 0x%02x: %s (%s)\n", files[f], i, v,
                            qs_status_name(st), diag.msg);
                    exit(1);
                }
                ASSERT_STR_CONTAINS(diag.msg, "mut.pb");
            }
        free(buf);
    }
}

static void test_oom(void) {
    struct qs_array a = {0};
    IO_OOM_WALK(qs_array_load_pb(fixture("f32-raw.pb"), &a, NULL), qs_array_free(&a));
    IO_OOM_WALK(qs_array_load_pb(fixture("i64-typed.pb"), &a, NULL), qs_array_free(&a));
}

int main(void) {
    io_quiet();
    test_values();
    test_rejected();
    test_truncated();
    test_mutations();
    test_oom();
    printf("test-pb: ok\n");
    return 0;
}
