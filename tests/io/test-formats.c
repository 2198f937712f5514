// MNIST IDX (plain and gzip), CIFAR-10 binary, raw typed files, and the spec strings that
// choose between all loaders.
#include "io-test.h"

#include <zlib.h>

static const char *fixture(const char *name) {
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "io/%s", name);
    return qs_test_data(p);
}

static void test_idx(void) {
    struct qs_diag diag;
    struct qs_array a = {0}, b = {0};
    const int64_t d3[] = {3, 4, 5}, d23[] = {2, 3}, d1[] = {3};
    ASSERT_OK(qs_array_load_idx(fixture("idx/imgs-idx3-ubyte"), &a, &diag));
    io_check_shape(&a, QS_DTYPE_U8, 3, d3);
    io_check_values(&a, "imgs-idx3-ubyte");
    ASSERT_OK(qs_array_load_idx(fixture("idx/imgs-idx3-ubyte.gz"), &b, &diag));
    io_check_shape(&b, QS_DTYPE_U8, 3, d3);
    ASSERT_TRUE(memcmp(a.data, b.data, a.nbytes) == 0);
    qs_array_free(&a);
    qs_array_free(&b);
    ASSERT_OK(qs_array_load_idx(fixture("idx/labels-idx1-ubyte.gz"), &a, &diag));
    io_check_shape(&a, QS_DTYPE_U8, 1, d1);
    ASSERT_EQ(((uint8_t *)a.data)[0], 7);
    ASSERT_EQ(((uint8_t *)a.data)[2], 1);
    qs_array_free(&a);
    // Big-endian multi-byte types.
    const struct {
        const char *file;
        enum qs_dtype dtype;
    } typed[] = {{"idx/i8.idx", QS_DTYPE_I8},   {"idx/i16.idx", QS_DTYPE_I16},
                 {"idx/i32.idx", QS_DTYPE_I32}, {"idx/f32.idx", QS_DTYPE_F32},
                 {"idx/f64.idx", QS_DTYPE_F64}};
    for (size_t i = 0; i < IO_COUNTOF(typed); i++) {
        ASSERT_OK(qs_array_load_idx(fixture(typed[i].file), &a, &diag));
        io_check_shape(&a, typed[i].dtype, 2, d23);
        io_check_values(&a, typed[i].file);
        qs_array_free(&a);
    }
    // Truncated at every byte, plain; gzip cut short; trailing bytes; bad magic/type.
    size_t n;
    uint8_t *buf = io_read(fixture("idx/imgs-idx3-ubyte"), &n);
    for (size_t keep = 0; keep < n; keep++) {
        const char *p = io_tmp("cut-idx3-ubyte");
        io_write(p, buf, keep);
        IO_EXPECT_FAIL(qs_array_load_idx(p, &a, &diag), QS_STATUS_PARSE, diag,
                       "cut-idx3-ubyte", keep == 0 ? "empty" : "truncated");
    }
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, buf, n);
    longer[n] = 9;
    io_write(io_tmp("long-idx3-ubyte"), longer, n + 1);
    IO_EXPECT_FAIL(qs_array_load_idx(io_tmp("long-idx3-ubyte"), &a, &diag), QS_STATUS_PARSE,
                   diag, "long-idx3-ubyte", "extra bytes");
    longer[2] = 0x0A;
    io_write(io_tmp("type-idx3-ubyte"), longer, n);
    IO_EXPECT_FAIL(qs_array_load_idx(io_tmp("type-idx3-ubyte"), &a, &diag), QS_STATUS_PARSE,
                   diag, "type-idx3-ubyte", "element type 0x0a");
    longer[0] = 0x42;
    io_write(io_tmp("magic-idx3-ubyte"), longer, n);
    IO_EXPECT_FAIL(qs_array_load_idx(io_tmp("magic-idx3-ubyte"), &a, &diag), QS_STATUS_PARSE,
                   diag, "magic-idx3-ubyte", "bad magic");
    free(longer);
    free(buf);
    buf = io_read(fixture("idx/imgs-idx3-ubyte.gz"), &n);
    for (size_t keep = 10; keep < n; keep += 7) {
        const char *p = io_tmp("cut-idx3-ubyte.gz");
        io_write(p, buf, keep);
        IO_EXPECT_FAIL(qs_array_load_idx(p, &a, &diag), QS_STATUS_PARSE, diag,
                       "cut-idx3-ubyte.gz", "gzip");
    }
    // A flipped bit in the deflate stream or the CRC.
    buf[n - 6] ^= 0x10;
    io_write(io_tmp("crc-idx3-ubyte.gz"), buf, n);
    IO_EXPECT_FAIL(qs_array_load_idx(io_tmp("crc-idx3-ubyte.gz"), &a, &diag), QS_STATUS_PARSE,
                   diag, "crc-idx3-ubyte.gz", "gzip");
    free(buf);
    IO_EXPECT_FAIL(qs_array_load_idx(io_tmp("none-idx1-ubyte.gz"), &a, &diag), QS_STATUS_IO,
                   diag, "none-idx1-ubyte.gz", "cannot open");
    ASSERT_TRUE(a.data == NULL);
}

// A CIFAR-10 file of `n` records: label (i * 3) % 10, pixel p of record i = (i * 7 + p) % 251.
static const char *make_cifar(const char *name, int n) {
    size_t size = (size_t)n * 3073;
    uint8_t *p = malloc(size);
    for (int i = 0; i < n; i++) {
        p[(size_t)i * 3073] = (uint8_t)((i * 3) % 10);
        for (int k = 0; k < 3072; k++) p[(size_t)i * 3073 + 1 + k] = (uint8_t)((i * 7 + k) % 251);
    }
    const char *path = io_tmp(name);
    io_write(path, p, size);
    free(p);
    return path;
}

static void test_cifar(void) {
    struct qs_diag diag;
    struct qs_array a = {0};
    const char *path = make_cifar("c.bin", 5);
    ASSERT_OK(qs_array_load_cifar10(path, false, &a, &diag));
    const int64_t d[] = {5, 3, 32, 32}, dl[] = {5};
    io_check_shape(&a, QS_DTYPE_U8, 4, d);
    ASSERT_EQ(a.nbytes, 5 * 3072);
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 3072; k++)
            ASSERT_EQ(((uint8_t *)a.data)[i * 3072 + k], (i * 7 + k) % 251);
    qs_array_free(&a);
    ASSERT_OK(qs_array_load_cifar10(path, true, &a, &diag));
    io_check_shape(&a, QS_DTYPE_U8, 1, dl);
    for (int i = 0; i < 5; i++) ASSERT_EQ(((uint8_t *)a.data)[i], (i * 3) % 10);
    qs_array_free(&a);
    // Through specs, and gzip-compressed.
    char spec[600];
    snprintf(spec, sizeof spec, "cifar10:%s", path);
    ASSERT_OK(qs_array_load(spec, &a, &diag));
    io_check_shape(&a, QS_DTYPE_U8, 4, d);
    qs_array_free(&a);
    snprintf(spec, sizeof spec, "cifar10-labels:%s", path);
    ASSERT_OK(qs_array_load(spec, &a, &diag));
    io_check_shape(&a, QS_DTYPE_U8, 1, dl);
    qs_array_free(&a);
    size_t n;
    uint8_t *buf = io_read(path, &n);
    gzFile gz = gzopen(io_tmp("c.bin.gz"), "wb");
    gzwrite(gz, buf, (unsigned)n);
    gzclose(gz);
    ASSERT_OK(qs_array_load_cifar10(io_tmp("c.bin.gz"), false, &a, &diag));
    ASSERT_EQ(a.dims[0], 5);
    ASSERT_TRUE(memcmp(a.data, buf + 1, 3072) == 0);
    qs_array_free(&a);
    // Truncated records, empty file, a label that is not CIFAR-10.
    const size_t cuts[] = {1, 3072, 3074, n - 1};
    for (size_t i = 0; i < IO_COUNTOF(cuts); i++) {
        const char *p = io_truncated(path, cuts[i], "cut.bin");
        IO_EXPECT_FAIL(qs_array_load_cifar10(p, i % 2, &a, &diag), QS_STATUS_PARSE, diag,
                       "cut.bin", "not a multiple of the 3073-byte");
    }
    io_write(io_tmp("empty.bin"), "", 0);
    IO_EXPECT_FAIL(qs_array_load_cifar10(io_tmp("empty.bin"), false, &a, &diag),
                   QS_STATUS_PARSE, diag, "empty.bin", "empty");
    buf[3073 * 2] = 42;
    io_write(io_tmp("c100.bin"), buf, n);
    IO_EXPECT_FAIL(qs_array_load_cifar10(io_tmp("c100.bin"), false, &a, &diag),
                   QS_STATUS_PARSE, diag, "c100.bin", "record 2 has label 42");
    free(buf);
}

static void test_raw(void) {
    struct qs_diag diag;
    struct qs_array a = {0};
    float f[24];
    for (int i = 0; i < 24; i++) f[i] = (float)(i * 3 - 5) * 0.5f;
    const char *path = io_tmp("x.f32");
    io_write(path, f, sizeof f);
    const int64_t d[] = {2, 3, 4}, dfree[] = {-1, 3, 4}, dmid[] = {2, -1, 4};
    ASSERT_OK(qs_array_load_raw(path, QS_DTYPE_F32, 3, d, &a, &diag));
    io_check_shape(&a, QS_DTYPE_F32, 3, d);
    io_check_values(&a, "x.f32");
    qs_array_free(&a);
    ASSERT_OK(qs_array_load_raw(path, QS_DTYPE_F32, 3, dfree, &a, &diag));
    io_check_shape(&a, QS_DTYPE_F32, 3, d);
    qs_array_free(&a);
    ASSERT_OK(qs_array_load_raw(path, QS_DTYPE_F32, 3, dmid, &a, &diag));
    io_check_shape(&a, QS_DTYPE_F32, 3, d);
    qs_array_free(&a);
    const int64_t d1[] = {-1}, d96[] = {96};
    ASSERT_OK(qs_array_load_raw(path, QS_DTYPE_U8, 1, d1, &a, &diag));
    io_check_shape(&a, QS_DTYPE_U8, 1, d96);
    qs_array_free(&a);
    // Size mismatches: truncated, too long, not a multiple; bad arguments.
    const int64_t big[] = {3, 3, 4}, small[] = {1, 3, 4}, d5[] = {-1, 5};
    IO_EXPECT_FAIL(qs_array_load_raw(path, QS_DTYPE_F32, 3, big, &a, &diag), QS_STATUS_PARSE,
                   diag, "x.f32", "truncated");
    IO_EXPECT_FAIL(qs_array_load_raw(path, QS_DTYPE_F32, 3, small, &a, &diag), QS_STATUS_PARSE,
                   diag, "x.f32", "too long");
    IO_EXPECT_FAIL(qs_array_load_raw(path, QS_DTYPE_F32, 2, d5, &a, &diag), QS_STATUS_PARSE,
                   diag, "x.f32", "not a multiple of 20 bytes");
    const char *cut = io_truncated(path, 95, "cut.f32");
    IO_EXPECT_FAIL(qs_array_load_raw(cut, QS_DTYPE_F32, 3, dfree, &a, &diag), QS_STATUS_PARSE,
                   diag, "cut.f32", "not a multiple");
    const int64_t two_free[] = {-1, -1}, zero[] = {0, 4};
    IO_EXPECT_FAIL(qs_array_load_raw(path, QS_DTYPE_F32, 2, two_free, &a, &diag),
                   QS_STATUS_INVALID_ARG, diag, "x.f32", "at most one -1");
    IO_EXPECT_FAIL(qs_array_load_raw(path, QS_DTYPE_F32, 2, zero, &a, &diag),
                   QS_STATUS_INVALID_ARG, diag, "x.f32", "positive");
    IO_EXPECT_FAIL(qs_array_load_raw(path, QS_DTYPE_STRING, 3, d, &a, &diag),
                   QS_STATUS_INVALID_ARG, diag, "x.f32", "string");
    IO_EXPECT_FAIL(qs_array_load_raw(io_tmp("nope.u8"), QS_DTYPE_U8, 1, d1, &a, &diag),
                   QS_STATUS_IO, diag, "nope.u8", "No such file");
    io_write(io_tmp("empty.u8"), "", 0);
    IO_EXPECT_FAIL(qs_array_load_raw(io_tmp("empty.u8"), QS_DTYPE_U8, 1, d1, &a, &diag),
                   QS_STATUS_PARSE, diag, "empty.u8", "empty");
    ASSERT_TRUE(a.data == NULL);
}

static void test_specs(void) {
    struct qs_diag diag;
    struct qs_array a = {0};
    uint16_t v[6] = {1, 4, 7, 10, 13, 16};  // uint16 formula i * 3 + 1
    const char *path = io_tmp("lab.u16");
    io_write(path, v, sizeof v);
    char spec[700];
    const int64_t d6[] = {6}, d23[] = {2, 3}, d32[] = {3, 2};
    const char *forms[] = {"raw:%s:uint16:2x3", "%s:uint16:2x3", "%s:u16:-1x3", "raw:%s:u16:2,3",
                           "%s:UINT16:2X3"};
    for (size_t i = 0; i < IO_COUNTOF(forms); i++) {
        snprintf(spec, sizeof spec, forms[i], path);
        ASSERT_OK(qs_array_load(spec, &a, &diag));
        io_check_shape(&a, QS_DTYPE_U16, 2, d23);
        io_check_values(&a, spec);
        qs_array_free(&a);
    }
    snprintf(spec, sizeof spec, "%s:uint16", path);
    ASSERT_OK(qs_array_load(spec, &a, &diag));
    io_check_shape(&a, QS_DTYPE_U16, 1, d6);
    qs_array_free(&a);
    snprintf(spec, sizeof spec, "raw:%s:uint16:3x-1", path);
    ASSERT_OK(qs_array_load(spec, &a, &diag));
    io_check_shape(&a, QS_DTYPE_U16, 2, d32);
    qs_array_free(&a);
    // Formats by name, and forced by a prefix.
    ASSERT_OK(qs_array_load(fixture("npy/int8.npy"), &a, &diag));
    ASSERT_EQ(a.dtype, QS_DTYPE_I8);
    qs_array_free(&a);
    ASSERT_OK(qs_array_load(fixture("npy/f32.npy.gz"), &a, &diag));
    ASSERT_EQ(a.dtype, QS_DTYPE_F32);
    qs_array_free(&a);
    ASSERT_OK(qs_array_load(fixture("idx/labels-idx1-ubyte.gz"), &a, &diag));
    ASSERT_EQ(a.dims[0], 3);
    qs_array_free(&a);
    ASSERT_OK(qs_array_load(fixture("idx/i16.idx"), &a, &diag));
    ASSERT_EQ(a.dtype, QS_DTYPE_I16);
    qs_array_free(&a);
    size_t n;
    uint8_t *buf = io_read(fixture("npy/uint8.npy"), &n);
    io_write(io_tmp("renamed.dat"), buf, n);
    free(buf);
    snprintf(spec, sizeof spec, "npy:%s", io_tmp("renamed.dat"));
    ASSERT_OK(qs_array_load(spec, &a, &diag));
    ASSERT_EQ(a.dtype, QS_DTYPE_U8);
    qs_array_free(&a);
    // Bad specs name the spec; a file problem names the file only.
    IO_EXPECT_FAIL(qs_array_load(path, &a, &diag), QS_STATUS_INVALID_ARG, diag, "lab.u16",
                   "cannot tell the format");
    IO_EXPECT_FAIL(qs_array_load("raw:x.u8:uint8:", &a, &diag), QS_STATUS_INVALID_ARG, diag,
                   "raw:x.u8:uint8:", "expected [raw:]PATH:DTYPE:SHAPE");
    IO_EXPECT_FAIL(qs_array_load("raw:x.u8:int3:4", &a, &diag), QS_STATUS_INVALID_ARG, diag,
                   "x.u8", "unknown dtype 'int3'");
    IO_EXPECT_FAIL(qs_array_load("raw:x.u8:uint8:4y4", &a, &diag), QS_STATUS_INVALID_ARG, diag,
                   "x.u8", "'4y4' is neither a dtype nor a shape");
    IO_EXPECT_FAIL(qs_array_load("raw:x.u8", &a, &diag), QS_STATUS_INVALID_ARG, diag, "x.u8",
                   "expected [raw:]");
    IO_EXPECT_FAIL(qs_array_load("x.u8:uint8:28x", &a, &diag), QS_STATUS_INVALID_ARG, diag,
                   "x.u8", "'28x' is neither a dtype nor a shape");
    IO_EXPECT_FAIL(qs_array_load("", &a, &diag), QS_STATUS_INVALID_ARG, diag, "", "empty");
    IO_EXPECT_FAIL(qs_array_load("raw::uint8:4", &a, &diag), QS_STATUS_INVALID_ARG, diag,
                   "raw::uint8:4", "no file name");
    snprintf(spec, sizeof spec, "raw:%s:uint16:4x4", path);
    IO_EXPECT_FAIL(qs_array_load(spec, &a, &diag), QS_STATUS_PARSE, diag, path, "truncated");
    ASSERT_TRUE(strstr(diag.msg, "raw:") == NULL);
    IO_EXPECT_FAIL(qs_array_load("cifar10:/no/such.bin", &a, &diag), QS_STATUS_IO, diag,
                   "'/no/such.bin'", "cannot open");
    ASSERT_TRUE(a.data == NULL);
}

static void test_oom(void) {
    struct qs_array a = {0};
    IO_OOM_WALK(qs_array_load(fixture("idx/imgs-idx3-ubyte.gz"), &a, NULL), qs_array_free(&a));
    const char *path = make_cifar("oom.bin", 2);
    IO_OOM_WALK(qs_array_load_cifar10(path, false, &a, NULL), qs_array_free(&a));
    IO_OOM_WALK(qs_array_load_cifar10(path, true, &a, NULL), qs_array_free(&a));
    char spec[600];
    snprintf(spec, sizeof spec, "%s:uint8:-1x3073", path);
    IO_OOM_WALK(qs_array_load(spec, &a, NULL), qs_array_free(&a));
}

int main(void) {
    io_quiet();
    test_idx();
    test_cifar();
    test_raw();
    test_specs();
    test_oom();
    printf("test-formats: ok\n");
    return 0;
}
