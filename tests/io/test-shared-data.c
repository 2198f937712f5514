// The real data sets in ../shared/data load with the documented shapes, dtypes and label
// statistics, and preprocessing reproduces the reference input tensors shipped beside
// the models. Skips (77) when the shared data is absent.
#include "io-test.h"

static int checked;

static const char *shared(const char *rel) {
    const char *p = qs_test_shared(rel);
    if (!p) printf("note: %s absent, not checked\n", rel);
    return p;
}

static void load(const char *spec_fmt, const char *path, struct qs_array *a) {
    char spec[4200];
    snprintf(spec, sizeof spec, spec_fmt, path);
    struct qs_diag diag;
    if (qs_array_load(spec, a, &diag) != QS_STATUS_OK) {
        fprintf(stderr, "loading %s failed: %s\n", spec, diag.msg);
        exit(1);
    }
    checked++;
}

static void class_counts(const struct qs_array *labels, int classes, int64_t *counts) {
    struct qs_array y = {0};
    struct qs_diag diag;
    ASSERT_OK(qs_array_to_labels(labels, "labels", &y, &diag));
    for (int c = 0; c < classes; c++) counts[c] = 0;
    for (int64_t i = 0; i < y.dims[0]; i++) {
        int64_t v = ((int64_t *)y.data)[i];
        ASSERT_TRUE(v >= 0 && v < classes);
        counts[v]++;
    }
    qs_array_free(&y);
}

static void test_mnist(void) {
    const char *img = shared("mnist-test/t10k-images-idx3-ubyte.gz");
    const char *lab = shared("mnist-test/t10k-labels-idx1-ubyte.gz");
    if (!img || !lab) return;
    struct qs_array x = {0}, y = {0};
    load("%s", img, &x);
    load("%s", lab, &y);
    const int64_t dx[] = {10000, 28, 28}, dy[] = {10000};
    io_check_shape(&x, QS_DTYPE_U8, 3, dx);
    io_check_shape(&y, QS_DTYPE_U8, 1, dy);
    int64_t counts[10];
    class_counts(&y, 10, counts);
    const int64_t want[10] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
    for (int c = 0; c < 10; c++) ASSERT_EQ(counts[c], want[c]);
    // mnist-8's reference input (not one of these digits) loads as [1,1,28,28] float.
    const char *ref = shared("mnist-8/test_data_set_0/input_0.pb");
    if (ref) {
        struct qs_array r = {0};
        load("%s", ref, &r);
        const int64_t d[] = {1, 1, 28, 28};
        io_check_shape(&r, QS_DTYPE_F32, 4, d);
        qs_array_free(&r);
    }
    // The binarised 14x14 copy used by mnist-tiny-cnn.
    const char *tiny = shared("mnist-tiny-cnn/mnist_test_14x14_binarized.u8");
    if (tiny) {
        struct qs_array b = {0};
        load("raw:%s:uint8:-1x14x14", tiny, &b);
        const int64_t d[] = {10000, 14, 14};
        io_check_shape(&b, QS_DTYPE_U8, 3, d);
        for (size_t i = 0; i < b.nbytes; i++) ASSERT_TRUE(((uint8_t *)b.data)[i] <= 1);
        // It feeds the model's [1,1,14,14] input without a channel dim in the data.
        struct qs_tensor_info t = {.name = "network_input", .dtype = QS_DTYPE_F32, .rank = 4,
                                   .dims = {1, 1, 14, 14}};
        float buf[196];
        struct qs_diag diag;
        ASSERT_OK(qs_preprocess_apply(NULL, &b, tiny, 9999, 1, &t, buf, &diag));
        qs_array_free(&b);
    }
    qs_array_free(&x);
    qs_array_free(&y);
}

static void test_cifar(void) {
    const char *bin = shared("cifar10-test-jpeg/cifar10_test_decoded.bin");
    if (!bin) return;
    struct qs_array x = {0}, y = {0};
    load("cifar10:%s", bin, &x);
    load("cifar10-labels:%s", bin, &y);
    const int64_t dx[] = {10000, 3, 32, 32}, dy[] = {10000};
    io_check_shape(&x, QS_DTYPE_U8, 4, dx);
    io_check_shape(&y, QS_DTYPE_U8, 1, dy);
    int64_t counts[10];
    class_counts(&y, 10, counts);
    for (int c = 0; c < 10; c++) ASSERT_EQ(counts[c], 1000);
    ASSERT_EQ(((uint8_t *)y.data)[0], 0);  // records are sorted by class
    ASSERT_EQ(((uint8_t *)y.data)[9999], 9);
    // The ResNet reference input: the first 8 images, (x/255 - mean) / std.
    const char *ref = shared("cifar10-resnet/resnet20_test_data_set_0/input_0.pb");
    if (ref) {
        struct qs_array r = {0};
        load("%s", ref, &r);
        const int64_t d[] = {8, 3, 32, 32};
        io_check_shape(&r, QS_DTYPE_F32, 4, d);
        struct qs_preprocess pp;
        struct qs_diag diag;
        ASSERT_OK(qs_preprocess_parse("imagenet", &pp, &diag));
        struct qs_tensor_info t = {.name = "input", .dtype = QS_DTYPE_F32, .rank = 4};
        memcpy(t.dims, d, sizeof d);
        float *buf = malloc(8 * 3072 * sizeof(float));
        ASSERT_OK(qs_preprocess_apply(&pp, &x, bin, 0, 8, &t, buf, &diag));
        double max_err = 0;
        for (int i = 0; i < 8 * 3072; i++)
            max_err = fmax(max_err, fabs((double)buf[i] - ((float *)r.data)[i]));
        printf("cifar10 imagenet-preprocessed vs resnet20 input_0.pb: max |diff| %.3g\n",
               max_err);
        ASSERT_TRUE(max_err < 1e-5);
        free(buf);
        qs_array_free(&r);
    }
    qs_array_free(&x);
    qs_array_free(&y);
    const char *calib = shared("cifar10-calib-train-1000/cifar10_train1000_decoded.bin");
    if (calib) {
        load("cifar10:%s", calib, &x);
        ASSERT_EQ(x.dims[0], 1000);
        qs_array_free(&x);
    }
}

static void test_digits(void) {
    const char *xs = shared("digits-cnn/digits_test_x.f32");
    const char *ys = shared("digits-cnn/digits_test_y.u8");
    if (!xs || !ys) return;
    struct qs_array x = {0}, y = {0};
    load("raw:%s:float32:360x1x8x8", xs, &x);
    load("%s:uint8", ys, &y);
    const int64_t dx[] = {360, 1, 8, 8}, dy[] = {360};
    io_check_shape(&x, QS_DTYPE_F32, 4, dx);
    io_check_shape(&y, QS_DTYPE_U8, 1, dy);
    for (int64_t i = 0; i < 360 * 64; i++) {
        float v = ((float *)x.data)[i];
        ASSERT_TRUE(v >= 0.0f && v <= 1.0f);
    }
    int64_t counts[10];
    class_counts(&y, 10, counts);
    struct qs_dataset ds;
    struct qs_diag diag;
    char xspec[4200], yspec[4200];
    snprintf(xspec, sizeof xspec, "%s:float32:-1x1x8x8", xs);
    snprintf(yspec, sizeof yspec, "raw:%s:uint8", ys);
    const char *inputs[] = {xspec};
    ASSERT_OK(qs_dataset_load(&ds, inputs, 1, yspec, &diag));
    ASSERT_EQ(ds.count, 360);
    ASSERT_EQ(qs_dataset_batch_count(&ds, 64), 6);  // 5 x 64 + 40
    qs_dataset_free(&ds);
    // The wrong shape is caught with the file name.
    char bad[4200];
    snprintf(bad, sizeof bad, "raw:%s:float32:361x1x8x8", xs);
    struct qs_array z = {0};
    IO_EXPECT_FAIL(qs_array_load(bad, &z, &diag), QS_STATUS_PARSE, diag, "digits_test_x.f32",
                   "truncated");
    qs_array_free(&x);
    qs_array_free(&y);
}

static void test_imagenet(void) {
    const char *xs = shared("imagenet-val-100/val100_rgb_224x224_nhwc.u8");
    const char *ys = shared("imagenet-val-100/val100_labels.u16");
    if (!xs || !ys) return;
    struct qs_array x = {0}, y = {0};
    load("raw:%s:uint8:-1x224x224x3", xs, &x);
    load("raw:%s:uint16", ys, &y);
    const int64_t dx[] = {100, 224, 224, 3}, dy[] = {100};
    io_check_shape(&x, QS_DTYPE_U8, 4, dx);
    io_check_shape(&y, QS_DTYPE_U16, 1, dy);
    int64_t counts[1000];
    class_counts(&y, 1000, counts);
    // SqueezeNet's Caffe preprocessing: NHWC RGB -> NCHW BGR minus the BGR means.
    struct qs_preprocess pp;
    struct qs_diag diag;
    ASSERT_OK(qs_preprocess_parse("caffe,layout=nhwc", &pp, &diag));
    struct qs_tensor_info t = {.name = "data_0", .dtype = QS_DTYPE_F32, .rank = 4,
                               .dims = {1, 3, 224, 224}};
    float *buf = malloc(3 * 224 * 224 * sizeof(float));
    ASSERT_OK(qs_preprocess_apply(&pp, &x, xs, 99, 1, &t, buf, &diag));
    const uint8_t *img = (const uint8_t *)x.data + (size_t)99 * 224 * 224 * 3;
    const float mean[3] = {104, 117, 123};
    for (int c = 0; c < 3; c++)
        for (int p = 0; p < 224 * 224; p += 997)
            ASSERT_TRUE(buf[c * 224 * 224 + p] == (float)img[p * 3 + (2 - c)] - mean[c]);
    // Forgetting layout=nhwc is reported with a hint.
    ASSERT_OK(qs_preprocess_parse("caffe", &pp, &diag));
    IO_EXPECT_FAIL(qs_preprocess_apply(&pp, &x, xs, 0, 1, &t, buf, &diag),
                   QS_STATUS_INVALID_ARG, diag, "val100_rgb_224x224_nhwc.u8", "layout=nhwc");
    free(buf);
    qs_array_free(&x);
    qs_array_free(&y);
}

static void test_sst2(void) {
    const char *ids = shared("sst2-tiny-transformer/sst2_dev_input_ids.i64");
    const char *mask = shared("sst2-tiny-transformer/sst2_dev_attention_mask.f32");
    const char *lab = shared("sst2-tiny-transformer/sst2_dev_labels.u8");
    if (!ids || !mask || !lab) return;
    char s_ids[4200], s_mask[4200], s_lab[4200];
    snprintf(s_ids, sizeof s_ids, "raw:%s:int64:-1x64", ids);
    snprintf(s_mask, sizeof s_mask, "raw:%s:float32:-1x64", mask);
    snprintf(s_lab, sizeof s_lab, "raw:%s:uint8", lab);
    const char *inputs[] = {s_ids, s_mask};
    struct qs_dataset ds;
    struct qs_diag diag;
    ASSERT_OK(qs_dataset_load(&ds, inputs, 2, s_lab, &diag));
    checked++;
    ASSERT_EQ(ds.count, 872);
    ASSERT_EQ(ds.inputs[0].dtype, QS_DTYPE_I64);
    ASSERT_EQ(ds.inputs[1].dtype, QS_DTYPE_F32);
    // The first 8 rows equal the reference tensors of test_data_set_0.
    const char *r0 = shared("sst2-tiny-transformer/test_data_set_0/input_0.pb");
    const char *r1 = shared("sst2-tiny-transformer/test_data_set_0/input_1.pb");
    if (r0 && r1) {
        struct qs_array a = {0}, b = {0};
        load("%s", r0, &a);
        load("%s", r1, &b);
        const int64_t d[] = {8, 64};
        io_check_shape(&a, QS_DTYPE_I64, 2, d);
        io_check_shape(&b, QS_DTYPE_F32, 2, d);
        struct qs_tensor_info t0 = {.name = "input_ids", .dtype = QS_DTYPE_I64, .rank = 2,
                                    .dims = {8, 64}};
        struct qs_tensor_info t1 = {.name = "attention_mask", .dtype = QS_DTYPE_F32, .rank = 2,
                                    .dims = {8, 64}};
        int64_t bi[8 * 64];
        float bm[8 * 64];
        ASSERT_OK(qs_dataset_fill(&ds, 0, NULL, 0, 8, &t0, bi, &diag));
        ASSERT_OK(qs_dataset_fill(&ds, 1, NULL, 0, 8, &t1, bm, &diag));
        ASSERT_TRUE(memcmp(bi, a.data, sizeof bi) == 0);
        ASSERT_TRUE(memcmp(bm, b.data, sizeof bm) == 0);
        qs_array_free(&a);
        qs_array_free(&b);
    }
    qs_dataset_free(&ds);
}

int main(void) {
    io_quiet();
    if (!qs_test_shared(".")) QS_TEST_SKIP("QS_SHARED_DATA not set or absent");
    test_mnist();
    test_cifar();
    test_digits();
    test_imagenet();
    test_sst2();
    if (checked == 0) QS_TEST_SKIP("none of the shared data files is present");
    printf("test-shared-data: ok (%d files)\n", checked);
    return 0;
}
