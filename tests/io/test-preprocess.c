// Preprocessing: the settings string, the math against hand-computed values, NHWC->NCHW,
// BGR, shape rules, integer inputs, batching with a partial last batch, datasets, labels.
#include "io-test.h"

static struct qs_tensor_info info(enum qs_dtype dt, int rank, const int64_t *dims) {
    struct qs_tensor_info t = {.name = "input", .dtype = dt, .rank = rank};
    for (int i = 0; i < rank; i++) t.dims[i] = dims[i];
    return t;
}

static struct qs_array make_u8(int rank, const int64_t *dims) {
    struct qs_array a = {0};
    struct qs_diag diag;
    ASSERT_OK(qs_array_alloc(&a, QS_DTYPE_U8, rank, dims, &diag));
    for (size_t i = 0; i < a.nbytes; i++) ((uint8_t *)a.data)[i] = (uint8_t)(i * 37 % 256);
    return a;
}

static void near(float got, float want, const char *what, int64_t i) {
    if (fabsf(got - want) > 1e-6f * fmaxf(1.0f, fabsf(want))) {
        fprintf(stderr, "%s[%lld]: got %.9g, want %.9g\n", what, (long long)i, (double)got,
                (double)want);
        exit(1);
    }
}

static void test_parse(void) {
    struct qs_diag diag;
    struct qs_preprocess pp;
    ASSERT_OK(qs_preprocess_parse(NULL, &pp, &diag));
    ASSERT_TRUE(qs_preprocess_is_identity(&pp));
    ASSERT_OK(qs_preprocess_parse("", &pp, &diag));
    ASSERT_TRUE(qs_preprocess_is_identity(&pp));
    ASSERT_TRUE(qs_preprocess_is_identity(NULL));

    ASSERT_OK(qs_preprocess_parse(" scale = 1/255 , mean=0.485:0.456:0.406,std=0.229:0.224:0.225,"
                                  "layout=nhwc, bgr,", &pp, &diag));
    ASSERT_TRUE(pp.scale == 1.0f / 255.0f);
    ASSERT_EQ(pp.mean_count, 3);
    ASSERT_TRUE(pp.mean[1] == 0.456f);
    ASSERT_EQ(pp.std_count, 3);
    ASSERT_TRUE(pp.std[2] == 0.225f);
    ASSERT_TRUE(pp.nhwc_to_nchw && pp.swap_rb);

    // Presets equal their spelled-out forms; later items override earlier ones.
    struct qs_preprocess q;
    ASSERT_OK(qs_preprocess_parse("imagenet", &q, &diag));
    ASSERT_OK(qs_preprocess_parse("scale=1/255,mean=0.485:0.456:0.406,std=0.229:0.224:0.225",
                                  &pp, &diag));
    ASSERT_TRUE(memcmp(&pp, &q, sizeof pp) == 0);
    ASSERT_OK(qs_preprocess_parse("caffe,layout=nhwc", &pp, &diag));
    ASSERT_TRUE(pp.swap_rb && pp.nhwc_to_nchw && pp.scale == 1.0f && pp.std_count == 0);
    ASSERT_TRUE(pp.mean[0] == 104.0f && pp.mean[2] == 123.0f);
    ASSERT_OK(qs_preprocess_parse("bgr,rgb,layout=nhwc,nchw,scale=2,none,mean=3", &pp, &diag));
    ASSERT_TRUE(!pp.swap_rb && !pp.nhwc_to_nchw && pp.scale == 1.0f && pp.mean_count == 1);

    // Format -> parse gives the same settings back, bit for bit.
    const char *strs[] = {"imagenet,layout=nhwc", "caffe", "scale=0.1,std=3", "none",
                          "mean=1:2:3:4:5,bgr", "scale=1/3,mean=0.3333333", "scale=0.7/9",
                          "scale=-1e-30,std=1e30:-3.4e38"};
    for (size_t i = 0; i < IO_COUNTOF(strs); i++) {
        char buf[512];
        ASSERT_OK(qs_preprocess_parse(strs[i], &pp, &diag));
        qs_preprocess_format(&pp, buf, sizeof buf);
        ASSERT_OK(qs_preprocess_parse(buf, &q, &diag));
        if (memcmp(&pp, &q, sizeof pp) != 0) {
            fprintf(stderr, "'%s' -> '%s' does not round-trip\n", strs[i], buf);
            exit(1);
        }
    }
    char buf[128];
    ASSERT_TRUE(strcmp(qs_preprocess_format(NULL, buf, sizeof buf), "none") == 0);
    ASSERT_OK(qs_preprocess_parse("imagenet", &pp, &diag));
    ASSERT_TRUE(strcmp(qs_preprocess_format(&pp, buf, sizeof buf),
                       "scale=1/255,mean=0.485:0.456:0.406,std=0.229:0.224:0.225") == 0);
    ASSERT_OK(qs_preprocess_parse("scale=0.1,mean=-0.5:1e-07:123456.7", &pp, &diag));
    ASSERT_TRUE(strcmp(qs_preprocess_format(&pp, buf, sizeof buf),
                       "scale=0.1,mean=-0.5:1e-07:123456.7") == 0);
    // A tiny buffer is truncated, never overrun.
    char small[8];
    memset(small, 'x', sizeof small);
    qs_preprocess_format(&pp, small, 5);
    ASSERT_TRUE(strcmp(small, "scal") == 0 && small[5] == 'x');
    pp = qs_preprocess_default();
    pp.swap_rb = true;
    pp.scale = 0.5f;
    ASSERT_TRUE(strcmp(qs_preprocess_format(&pp, buf, sizeof buf), "bgr,scale=0.5") == 0);

    // Errors: one line naming the string and the problem; output untouched.
    const struct {
        const char *str, *needle;
    } bad[] = {
        {"scale=abc", "bad scale"},       {"scale=1/0", "bad scale"},
        {"mean=1::2", "bad mean"},        {"std=1:0", "std must not be 0"},
        {"layout=chw", "bad layout"},     {"foo", "unknown item 'foo'"},
        {"mean=", "bad mean"},            {"scale=1e99", "bad scale"},
        {"mean=1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17", "bad mean"},
    };
    for (size_t i = 0; i < IO_COUNTOF(bad); i++) {
        pp.scale = 7.0f;
        IO_EXPECT_FAIL(qs_preprocess_parse(bad[i].str, &pp, &diag), QS_STATUS_PARSE, diag,
                       bad[i].str, bad[i].needle);
        ASSERT_TRUE(pp.scale == 7.0f);
    }
}

// Hand-computed: x = 0, 51, 102 (NCHW u8, 3 channels of 1 pixel) with imagenet settings.
static void test_math(void) {
    struct qs_diag diag;
    const int64_t d[] = {1, 3, 1, 1};
    struct qs_array a = {0};
    ASSERT_OK(qs_array_alloc(&a, QS_DTYPE_U8, 4, d, &diag));
    uint8_t *x = a.data;
    x[0] = 0, x[1] = 51, x[2] = 102;
    struct qs_preprocess pp;
    ASSERT_OK(qs_preprocess_parse("imagenet", &pp, &diag));
    struct qs_tensor_info t = info(QS_DTYPE_F32, 4, d);
    float y[3];
    ASSERT_OK(qs_preprocess_apply(&pp, &a, "m.npy", 0, 1, &t, y, &diag));
    near(y[0], (0.0f - 0.485f) / 0.229f, "imagenet", 0);   // -2.117904
    near(y[1], (0.2f - 0.456f) / 0.224f, "imagenet", 1);   // -1.142857
    near(y[2], (0.4f - 0.406f) / 0.225f, "imagenet", 2);   // -0.026667
    near(y[0], -2.1179039f, "imagenet-literal", 0);
    near(y[1], -1.1428571f, "imagenet-literal", 1);
    near(y[2], -0.0266667f, "imagenet-literal", 2);
    // Caffe: swap then subtract the BGR means: B = x[2] - 104, G = x[1] - 117, R = x[0] - 123.
    ASSERT_OK(qs_preprocess_parse("caffe", &pp, &diag));
    ASSERT_OK(qs_preprocess_apply(&pp, &a, "m.npy", 0, 1, &t, y, &diag));
    ASSERT_TRUE(y[0] == -2.0f && y[1] == -66.0f && y[2] == -123.0f);
    // Scale only, single-value mean and std broadcast over channels.
    ASSERT_OK(qs_preprocess_parse("scale=0.5,mean=1,std=4", &pp, &diag));
    ASSERT_OK(qs_preprocess_apply(&pp, &a, "m.npy", 0, 1, &t, y, &diag));
    ASSERT_TRUE(y[0] == -0.25f && y[1] == 6.125f && y[2] == 12.5f);
    // Identity converts to float and nothing more; float64 targets too.
    ASSERT_OK(qs_preprocess_apply(NULL, &a, "m.npy", 0, 1, &t, y, &diag));
    ASSERT_TRUE(y[0] == 0.0f && y[1] == 51.0f && y[2] == 102.0f);
    struct qs_tensor_info t64 = info(QS_DTYPE_F64, 4, d);
    double z[3];
    ASSERT_OK(qs_preprocess_parse("scale=0.5,mean=1,std=4", &pp, &diag));
    ASSERT_OK(qs_preprocess_apply(&pp, &a, "m.npy", 0, 1, &t64, z, &diag));
    ASSERT_TRUE(z[0] == -0.25 && z[1] == 6.125 && z[2] == 12.5);
    qs_array_free(&a);
}

// NHWC u8 [2,2,3,3] (N,H,W,C) -> NCHW float [2,3,2,3], with and without the BGR swap.
static void test_layout(void) {
    struct qs_diag diag;
    const int64_t src_d[] = {2, 2, 3, 3}, dst_d[] = {2, 3, 2, 3};
    struct qs_array a = make_u8(4, src_d);
    const uint8_t *x = a.data;
    struct qs_tensor_info t = info(QS_DTYPE_F32, 4, dst_d);
    float y[36];
    struct qs_preprocess pp;
    for (int swap = 0; swap < 2; swap++) {
        ASSERT_OK(qs_preprocess_parse(swap ? "layout=nhwc,bgr" : "layout=nhwc", &pp, &diag));
        ASSERT_OK(qs_preprocess_apply(&pp, &a, "img.u8", 0, 2, &t, y, &diag));
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 3; c++)
                for (int h = 0; h < 2; h++)
                    for (int w = 0; w < 3; w++) {
                        int sc = swap ? 2 - c : c;
                        float want = x[((n * 2 + h) * 3 + w) * 3 + sc];
                        int64_t i = ((n * 3 + c) * 2 + h) * 3 + w;
                        near(y[i], want, swap ? "nhwc+bgr" : "nhwc", i);
                    }
    }
    // BGR on NCHW data exchanges planes 0 and 2.
    struct qs_array b = make_u8(4, dst_d);
    ASSERT_OK(qs_preprocess_parse("bgr", &pp, &diag));
    ASSERT_OK(qs_preprocess_apply(&pp, &b, "img.u8", 0, 2, &t, y, &diag));
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 6; p++)
                near(y[(n * 3 + c) * 6 + p], ((uint8_t *)b.data)[(n * 3 + (2 - c)) * 6 + p],
                     "nchw+bgr", (n * 3 + c) * 6 + p);
    // Per-channel mean follows the model's channel order after the swap.
    ASSERT_OK(qs_preprocess_parse("layout=nhwc,bgr,mean=10:20:30", &pp, &diag));
    ASSERT_OK(qs_preprocess_apply(&pp, &a, "img.u8", 1, 1, &t, y, &diag));
    for (int c = 0; c < 3; c++)
        near(y[c * 6], (float)x[18 + (2 - c)] - 10.0f * (float)(c + 1), "mean order", c);
    qs_array_free(&a);
    qs_array_free(&b);
}

static void test_shapes(void) {
    struct qs_diag diag;
    struct qs_preprocess pp = qs_preprocess_default();
    const int64_t s28[] = {5, 28, 28}, m1[] = {1, 1, 28, 28}, mflat[] = {4, 784};
    const int64_t m3[] = {1, 3, 28, 28}, mbad[] = {1, 1, 14, 56};
    struct qs_array a = make_u8(3, s28);
    float *y = calloc(4 * 784, sizeof(float));
    // A missing channel dim, and flattening into a rank-2 input, are accepted.
    struct qs_tensor_info t = info(QS_DTYPE_F32, 4, m1);
    ASSERT_OK(qs_preprocess_apply(&pp, &a, "x.npy", 4, 1, &t, y, &diag));
    for (int i = 0; i < 784; i++) near(y[i], ((uint8_t *)a.data)[4 * 784 + i], "squeeze", i);
    t = info(QS_DTYPE_F32, 2, mflat);
    ASSERT_OK(qs_preprocess_apply(&pp, &a, "x.npy", 1, 4, &t, y, &diag));
    for (int i = 0; i < 4 * 784; i++) near(y[i], ((uint8_t *)a.data)[784 + i], "flatten", i);
    // Mismatches.
    t = info(QS_DTYPE_F32, 4, m3);
    IO_EXPECT_FAIL(qs_preprocess_apply(&pp, &a, "x.npy", 0, 1, &t, y, &diag),
                   QS_STATUS_INVALID_ARG, diag, "'x.npy'",
                   "sample shape [28,28] (784 values) does not match model input 'input' "
                   "[1,3,28,28]");
    t = info(QS_DTYPE_F32, 4, mbad);
    IO_EXPECT_FAIL(qs_preprocess_check(&pp, &a, "x.npy", &t, &diag), QS_STATUS_INVALID_ARG,
                   diag, "'x.npy'", "does not match");
    // Channel-last data without layout=nhwc gets a hint; nhwc on the wrong rank fails.
    const int64_t hwc[] = {2, 28, 28, 3};
    struct qs_array c = make_u8(4, hwc);
    t = info(QS_DTYPE_F32, 4, m3);
    IO_EXPECT_FAIL(qs_preprocess_check(&pp, &c, "c.u8", &t, &diag), QS_STATUS_INVALID_ARG, diag,
                   "'c.u8'", "add layout=nhwc");
    pp.nhwc_to_nchw = true;
    ASSERT_OK(qs_preprocess_check(&pp, &c, "c.u8", &t, &diag));
    IO_EXPECT_FAIL(qs_preprocess_check(&pp, &a, "x.npy", &t, &diag), QS_STATUS_INVALID_ARG,
                   diag, "'x.npy'", "layout=nhwc needs samples [H,W,C], not [28,28]");
    // NCHW data [1,8,8] given layout=nhwc would read as C=8: refused, not silently permuted.
    const int64_t chw[] = {2, 1, 8, 8}, m8[] = {1, 1, 8, 8}, hwc1[] = {2, 8, 8, 1};
    struct qs_array e = make_u8(4, chw);
    t = info(QS_DTYPE_F32, 4, m8);
    IO_EXPECT_FAIL(qs_preprocess_check(&pp, &e, "e.u8", &t, &diag), QS_STATUS_INVALID_ARG,
                   diag, "'e.u8'", "sample shape [8,1,8] (after nhwc->nchw)");
    qs_array_free(&e);
    e = make_u8(4, hwc1);
    ASSERT_OK(qs_preprocess_check(&pp, &e, "e.u8", &t, &diag));
    const int64_t flat[] = {1, 64};
    t = info(QS_DTYPE_F32, 2, flat);
    ASSERT_OK(qs_preprocess_check(&pp, &e, "e.u8", &t, &diag));
    qs_array_free(&e);
    t = info(QS_DTYPE_F32, 4, m3);
    // bgr and per-channel values need the channels.
    pp = qs_preprocess_default();
    pp.swap_rb = true;
    t = info(QS_DTYPE_F32, 4, m1);
    IO_EXPECT_FAIL(qs_preprocess_check(&pp, &a, "x.npy", &t, &diag), QS_STATUS_INVALID_ARG,
                   diag, "'x.npy'", "bgr needs at least 3 channels");
    ASSERT_OK(qs_preprocess_parse("mean=1:2", &pp, &diag));
    IO_EXPECT_FAIL(qs_preprocess_check(&pp, &a, "x.npy", &t, &diag), QS_STATUS_INVALID_ARG,
                   diag, "'x.npy'", "mean has 2 values but model input 'input' [1,1,28,28] has 1");
    // Range and batch checks.
    pp = qs_preprocess_default();
    IO_EXPECT_FAIL(qs_preprocess_apply(&pp, &a, "x.npy", 4, 2, &t, y, &diag),
                   QS_STATUS_INVALID_ARG, diag, "'x.npy'", "outside the 5 samples");
    IO_EXPECT_FAIL(qs_preprocess_apply(&pp, &a, "x.npy", 0, 2, &t, y, &diag),
                   QS_STATUS_INVALID_ARG, diag, "'x.npy'", "do not fit the batch of 1");
    const int64_t unbound[] = {-1, 1, 28, 28};
    t = info(QS_DTYPE_F32, 4, unbound);
    IO_EXPECT_FAIL(qs_preprocess_check(&pp, &a, "x.npy", &t, &diag), QS_STATUS_INVALID_ARG,
                   diag, "'input'", "unbound shape");
    struct qs_array scalar = {0};
    ASSERT_OK(qs_array_alloc(&scalar, QS_DTYPE_F32, 0, NULL, &diag));
    t = info(QS_DTYPE_F32, 4, m1);
    IO_EXPECT_FAIL(qs_preprocess_check(&pp, &scalar, "s.npy", &t, &diag),
                   QS_STATUS_INVALID_ARG, diag, "'s.npy'", "scalar");
    qs_array_free(&scalar);
    free(y);
    qs_array_free(&a);
    qs_array_free(&c);
}

// Token ids (int64 input) from int64/uint8 data; float data or scale rejected; range checks.
static void test_int_inputs(void) {
    struct qs_diag diag;
    const int64_t d[] = {3, 4}, m[] = {2, 4};
    struct qs_array ids = {0};
    ASSERT_OK(qs_array_alloc(&ids, QS_DTYPE_I64, 2, d, &diag));
    for (int i = 0; i < 12; i++) ((int64_t *)ids.data)[i] = 1000 * i - 3;
    struct qs_tensor_info t = info(QS_DTYPE_I64, 2, m);
    int64_t y[8];
    ASSERT_OK(qs_preprocess_apply(NULL, &ids, "ids.i64", 1, 2, &t, y, &diag));
    for (int i = 0; i < 8; i++) ASSERT_EQ(y[i], 1000 * (i + 4) - 3);
    struct qs_array u = make_u8(2, d);
    ASSERT_OK(qs_preprocess_apply(NULL, &u, "u.u8", 0, 2, &t, y, &diag));
    for (int i = 0; i < 8; i++) ASSERT_EQ(y[i], ((uint8_t *)u.data)[i]);
    struct qs_tensor_info t8 = info(QS_DTYPE_U8, 2, m);
    uint8_t y8[8];
    IO_EXPECT_FAIL(qs_preprocess_apply(NULL, &ids, "ids.i64", 0, 2, &t8, y8, &diag),
                   QS_STATUS_INVALID_ARG, diag, "'ids.i64'", "sample 0 holds a value outside");
    struct qs_array f = {0};
    ASSERT_OK(qs_array_alloc(&f, QS_DTYPE_F32, 2, d, &diag));
    IO_EXPECT_FAIL(qs_preprocess_apply(NULL, &f, "f.f32", 0, 2, &t, y, &diag),
                   QS_STATUS_INVALID_ARG, diag, "'f.f32'",
                   "float32 data cannot feed int64 model input 'input'");
    struct qs_preprocess pp;
    ASSERT_OK(qs_preprocess_parse("scale=2", &pp, &diag));
    IO_EXPECT_FAIL(qs_preprocess_apply(&pp, &u, "u.u8", 0, 2, &t, y, &diag),
                   QS_STATUS_INVALID_ARG, diag, "'u.u8'", "need a float model input");
    struct qs_tensor_info th = info(QS_DTYPE_F16, 2, m);
    IO_EXPECT_FAIL(qs_preprocess_check(NULL, &u, "u.u8", &th, &diag), QS_STATUS_INVALID_ARG,
                   diag, "'input'", "float16");
    qs_array_free(&ids);
    qs_array_free(&u);
    qs_array_free(&f);
}

// 10 samples in batches of 4: 4, 4, 2; the partial batch zeroes the unused rows.
static void test_batches(void) {
    struct qs_diag diag;
    float x[10 * 3];
    for (int i = 0; i < 30; i++) x[i] = (float)i + 0.5f;
    const char *path = io_tmp("b.f32");
    io_write(path, x, sizeof x);
    uint8_t lab[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    io_write(io_tmp("b.u8"), lab, sizeof lab);
    char in_spec[600], lab_spec[600];
    snprintf(in_spec, sizeof in_spec, "%s:float32:-1x3", path);
    snprintf(lab_spec, sizeof lab_spec, "raw:%s:uint8", io_tmp("b.u8"));
    const char *inputs[] = {in_spec};
    struct qs_dataset ds;
    ASSERT_OK(qs_dataset_load(&ds, inputs, 1, lab_spec, &diag));
    ASSERT_EQ(ds.count, 10);
    ASSERT_EQ(ds.labels.dtype, QS_DTYPE_I64);
    ASSERT_STR_CONTAINS(ds.input_names[0], "b.f32");
    ASSERT_TRUE(strstr(ds.input_names[0], ":float32") == NULL);
    ASSERT_EQ(qs_dataset_batch_count(&ds, 4), 3);
    ASSERT_EQ(qs_dataset_batch_count(&ds, 10), 1);
    ASSERT_EQ(qs_dataset_batch_count(&ds, 1), 10);
    ASSERT_EQ(qs_dataset_batch_count(&ds, 100), 1);
    ASSERT_EQ(qs_dataset_batch_count(&ds, 0), 0);
    const int64_t m[] = {4, 3};
    struct qs_tensor_info t = info(QS_DTYPE_F32, 2, m);
    float y[12];
    int64_t seen = 0;
    for (int64_t b = 0; b < qs_dataset_batch_count(&ds, 4); b++) {
        int64_t begin, count;
        qs_dataset_batch_range(&ds, 4, b, &begin, &count);
        ASSERT_EQ(begin, 4 * b);
        ASSERT_EQ(count, b < 2 ? 4 : 2);
        for (int i = 0; i < 12; i++) y[i] = -1.0f;
        ASSERT_OK(qs_dataset_fill(&ds, 0, NULL, begin, count, &t, y, &diag));
        for (int64_t i = 0; i < count * 3; i++) near(y[i], x[begin * 3 + i], "batch", i);
        for (int64_t i = count * 3; i < 12; i++) ASSERT_TRUE(y[i] == 0.0f);
        for (int64_t i = 0; i < count; i++)
            ASSERT_EQ(((int64_t *)ds.labels.data)[begin + i], begin + i);
        seen += count;
    }
    ASSERT_EQ(seen, 10);
    int64_t begin = 7, count = 7;
    qs_dataset_batch_range(&ds, 4, 3, &begin, &count);
    ASSERT_TRUE(begin == 0 && count == 0);
    IO_EXPECT_FAIL(qs_dataset_fill(&ds, 1, NULL, 0, 1, &t, y, &diag), QS_STATUS_INVALID_ARG,
                   diag, "", "dataset input 1 of 1");
    qs_dataset_free(&ds);
    qs_dataset_free(&ds);  // zeroed: safe

    // Two inputs with different sample counts, labels of the wrong length.
    uint8_t lab9[9] = {0};
    io_write(io_tmp("c9.u8"), lab9, sizeof lab9);
    char spec9[600];
    snprintf(spec9, sizeof spec9, "%s:uint8:-1", io_tmp("c9.u8"));
    const char *two[] = {in_spec, spec9};
    IO_EXPECT_FAIL(qs_dataset_load(&ds, two, 2, NULL, &diag), QS_STATUS_INVALID_ARG, diag,
                   "c9.u8' has 9 samples but", "b.f32' has 10");
    IO_EXPECT_FAIL(qs_dataset_load(&ds, inputs, 1, spec9, &diag), QS_STATUS_INVALID_ARG, diag,
                   "c9.u8' has 9 labels but", "b.f32' has 10 samples");
    IO_EXPECT_FAIL(qs_dataset_load(&ds, inputs, 0, NULL, &diag), QS_STATUS_INVALID_ARG, diag,
                   "", "expected 1..");
    const char *missing[] = {"/no/such/x.npy"};
    IO_EXPECT_FAIL(qs_dataset_load(&ds, missing, 1, NULL, &diag), QS_STATUS_IO, diag,
                   "'/no/such/x.npy'", "cannot open");
    ASSERT_TRUE(ds.n_inputs == 0 && ds.inputs[0].data == NULL);
    IO_OOM_WALK(qs_dataset_load(&ds, inputs, 1, lab_spec, NULL), qs_dataset_free(&ds));
}

static void test_labels(void) {
    struct qs_diag diag;
    struct qs_array src = {0}, y = {0};
    const int64_t d[] = {4}, d41[] = {4, 1}, d42[] = {4, 2};
    ASSERT_OK(qs_array_alloc(&src, QS_DTYPE_U16, 1, d, &diag));
    uint16_t *v = src.data;
    v[0] = 0, v[1] = 999, v[2] = 7, v[3] = 65535;
    ASSERT_OK(qs_array_to_labels(&src, "l.u16", &y, &diag));
    ASSERT_EQ(y.dtype, QS_DTYPE_I64);
    ASSERT_EQ(y.dims[0], 4);
    ASSERT_EQ(((int64_t *)y.data)[3], 65535);
    qs_array_free(&y);
    qs_array_free(&src);
    // [N,1] float with whole values is accepted; fractions, negatives, [N,2] are not.
    ASSERT_OK(qs_array_alloc(&src, QS_DTYPE_F32, 2, d41, &diag));
    float *f = src.data;
    f[0] = 3, f[1] = 1, f[2] = 0, f[3] = 9;
    ASSERT_OK(qs_array_to_labels(&src, "l.npy", &y, &diag));
    ASSERT_EQ(((int64_t *)y.data)[0], 3);
    ASSERT_EQ(((int64_t *)y.data)[3], 9);
    qs_array_free(&y);
    f[2] = 0.5f;
    IO_EXPECT_FAIL(qs_array_to_labels(&src, "l.npy", &y, &diag), QS_STATUS_INVALID_ARG, diag,
                   "'l.npy'", "label 2 is 0.5, not a whole number");
    qs_array_free(&src);
    ASSERT_OK(qs_array_alloc(&src, QS_DTYPE_I8, 1, d, &diag));
    ((int8_t *)src.data)[1] = -2;
    IO_EXPECT_FAIL(qs_array_to_labels(&src, "l.i8", &y, &diag), QS_STATUS_INVALID_ARG, diag,
                   "'l.i8'", "label 1 is negative (-2)");
    qs_array_free(&src);
    ASSERT_OK(qs_array_alloc(&src, QS_DTYPE_I64, 2, d42, &diag));
    IO_EXPECT_FAIL(qs_array_to_labels(&src, "l.npy", &y, &diag), QS_STATUS_INVALID_ARG, diag,
                   "'l.npy'", "[N] or [N,1], not [4,2]");
    qs_array_free(&src);
    ASSERT_TRUE(y.data == NULL);
}

int main(void) {
    io_quiet();
    test_parse();
    test_math();
    test_layout();
    test_shapes();
    test_int_inputs();
    test_batches();
    test_labels();
    printf("test-preprocess: ok\n");
    return 0;
}
