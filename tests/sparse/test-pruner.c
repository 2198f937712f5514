// The pruner on tiny models (tests/fixtures/sparse, made by make_fixtures.py): skip rules
// and ignore lists, exact per-layer counts through the weight overrides, the cache, global
// thresholds, bias correction re-centring a layer's output, OBS, export and byte counts.
#include "qsearch/sparse.h"
#include "test.h"

#include <math.h>
#include <unistd.h>

static void quiet(enum qs_log_level l, const char *m, void *u) {
    (void)l, (void)m, (void)u;
}

static qs_graph_t *load(const char *name) {
    qs_graph_t *g;
    struct qs_diag d;
    if (qs_graph_load_onnx(qs_test_data(name), &g, &d) != QS_STATUS_OK) {
        fprintf(stderr, "%s: %s\n", name, d.msg);
        exit(1);
    }
    ASSERT_OK(qs_graph_optimize(g, QS_PASS_DEFAULT, &d));
    return g;
}

static int layer_of(const qs_graph_t *g, const char *name) {
    for (int i = 0; i < qs_graph_layer_count(g); i++) {
        struct qs_layer_info li;
        qs_graph_layer_info(g, i, &li);
        if (!strcmp(li.name, name)) return i;
    }
    fprintf(stderr, "no layer %s\n", name);
    exit(1);
}

static qs_policy_t *uniform_policy(const qs_graph_t *g, float s, const char *pattern) {
    qs_policy_t *p;
    ASSERT_OK(qs_policy_create(&p));
    for (int i = 0; i < qs_graph_layer_count(g); i++) {
        struct qs_layer_info li;
        qs_graph_layer_info(g, i, &li);
        struct qs_layer_policy lp = qs_layer_policy_default();
        lp.sparsity = s;
        snprintf(lp.pattern, sizeof lp.pattern, "%s", pattern);
        ASSERT_OK(qs_policy_set(p, li.name, &lp, NULL));
    }
    return p;
}

static int64_t zeros_of(const qs_graph_t *g, int layer, const float **w_out) {
    struct qs_layer_weights lw;
    ASSERT_OK(qs_graph_layer_weights(g, layer, &lw, NULL));
    int64_t z = 0;
    for (int64_t i = 0; i < lw.w_numel; i++) z += lw.w[i] == 0.0f;
    if (w_out) *w_out = lw.w;
    return z;
}

static void run_model(qs_graph_t *g, const struct qs_dataset *ds, float *out, int n_out) {
    struct qs_session_options so = qs_session_options_default();
    so.batch = (int)ds->count;
    qs_session_t *s;
    ASSERT_OK(qs_session_create(g, &so, &s, NULL));
    struct qs_tensor_info ti;
    qs_session_input_info(s, 0, &ti);
    ASSERT_OK(qs_dataset_fill(ds, 0, NULL, 0, ds->count, &ti, qs_session_input_data(s, 0), NULL));
    ASSERT_OK(qs_session_run(s, NULL));
    memcpy(out, qs_session_output_data(s, 0), (size_t)n_out * sizeof *out);
    qs_session_destroy(s);
}

static void test_skip_rules(void) {
    qs_graph_t *g = load("sparse/resnet_tiny.onnx");
    int n = qs_graph_layer_count(g);
    ASSERT_EQ(n, 9);
    struct qs_prune_options po = qs_prune_options_default();
    const char *ign[] = {"s2b1_.*", "s1b1_conv2"};
    po.ignore = ign;
    po.n_ignore = 2;
    qs_pruner_t *p;
    ASSERT_OK(qs_pruner_create(g, &po, &p, NULL));
    ASSERT_TRUE(!qs_pruner_layer_prunable(p, 0));  // first
    ASSERT_TRUE(!qs_pruner_layer_prunable(p, n - 1));  // last
    ASSERT_TRUE(qs_pruner_layer_prunable(p, layer_of(g, "s1b1_conv1")));
    ASSERT_TRUE(!qs_pruner_layer_prunable(p, layer_of(g, "s1b1_conv2")));
    ASSERT_TRUE(!qs_pruner_layer_prunable(p, layer_of(g, "s2b1_conv1")));
    ASSERT_TRUE(!qs_pruner_layer_prunable(p, layer_of(g, "s2b1_short")));
    ASSERT_TRUE(qs_pruner_layer_prunable(p, layer_of(g, "s2b2_conv1")));
    qs_pruner_destroy(p);
    po = qs_prune_options_default();
    po.conv1x1_only = true;
    po.skip_first = po.skip_last = false;
    ASSERT_OK(qs_pruner_create(g, &po, &p, NULL));
    ASSERT_TRUE(qs_pruner_layer_prunable(p, layer_of(g, "s2b1_short")));
    ASSERT_TRUE(!qs_pruner_layer_prunable(p, layer_of(g, "s2b2_conv1")));
    ASSERT_TRUE(qs_pruner_layer_prunable(p, layer_of(g, "fc")));
    qs_pruner_destroy(p);
    // bad options
    struct qs_diag d;
    const char *bad[] = {"conv(1"};
    po = qs_prune_options_default();
    po.ignore = bad;
    po.n_ignore = 1;
    ASSERT_EQ(qs_pruner_create(g, &po, &p, &d), QS_STATUS_INVALID_ARG);
    ASSERT_STR_CONTAINS(d.msg, "conv(1");
    po = qs_prune_options_default();
    po.damp = 2.0f;
    ASSERT_EQ(qs_pruner_create(g, &po, &p, &d), QS_STATUS_INVALID_ARG);
    ASSERT_STR_CONTAINS(d.msg, "damp");
    po = qs_prune_options_default();
    po.block_size = 0;
    ASSERT_EQ(qs_pruner_create(g, &po, &p, &d), QS_STATUS_INVALID_ARG);
    qs_graph_destroy(g);
}

static void test_apply_cache_export(void) {
    qs_graph_t *g = load("sparse/resnet_tiny.onnx");
    int n = qs_graph_layer_count(g);
    qs_pruner_t *p;
    ASSERT_OK(qs_pruner_create(g, NULL, &p, NULL));
    qs_policy_t *a = uniform_policy(g, 0.5f, "unstructured");
    qs_policy_t *b = uniform_policy(g, 0.7f, "2:4");
    ASSERT_OK(qs_pruner_apply(p, a, NULL));
    const float *wa[16];
    for (int i = 0; i < n; i++) {
        struct qs_layer_weights lw;
        qs_graph_layer_weights(g, i, &lw, NULL);
        int64_t z = zeros_of(g, i, &wa[i]);
        struct qs_prune_layer_stats st;
        ASSERT_OK(qs_pruner_layer_stats(p, i, &st));
        if (qs_pruner_layer_prunable(p, i)) {
            ASSERT_EQ(z, (int64_t)floor(0.5 * (double)lw.w_numel + 0.5));
            ASSERT_TRUE(lw.w != lw.w_file);
            ASSERT_TRUE(st.pruned && st.zeros == z);
        } else {
            ASSERT_EQ(z, 0);
            ASSERT_TRUE(lw.w == lw.w_file && !st.pruned);
        }
    }
    ASSERT_OK(qs_pruner_apply(p, b, NULL));
    int l1 = layer_of(g, "s2b2_conv1");
    const float *w;
    zeros_of(g, l1, &w);
    ASSERT_TRUE(w != wa[l1]);
    ASSERT_OK(qs_pruner_apply(p, a, NULL));  // cached: the very same arrays, no work
    for (int i = 0; i < n; i++) {
        zeros_of(g, i, &w);
        ASSERT_TRUE(w == wa[i]);
        struct qs_prune_layer_stats st;
        qs_pruner_layer_stats(p, i, &st);
        ASSERT_TRUE(st.seconds == 0.0);
    }
    // the model runs, the export holds the zeros
    struct qs_dataset ds = {0};
    const char *spec = qs_test_data("sparse/resnet_tiny_x.npy");
    ASSERT_OK(qs_dataset_load(&ds, &spec, 1, NULL, NULL));
    static float y[48 * 10], y0[48 * 10];
    run_model(g, &ds, y, 48 * 10);
    char path[] = "/tmp/qs-test-pruner-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    ASSERT_OK(qs_graph_save_onnx(g, path, NULL));
    qs_graph_t *g2;
    ASSERT_OK(qs_graph_load_onnx(path, &g2, NULL));
    unlink(path);
    ASSERT_OK(qs_graph_optimize(g2, QS_PASS_DEFAULT, NULL));
    struct qs_layer_weights lw;
    qs_graph_layer_weights(g2, l1, &lw, NULL);
    ASSERT_EQ(zeros_of(g2, l1, NULL), (int64_t)floor(0.5 * (double)lw.w_numel + 0.5));
    run_model(g2, &ds, y0, 48 * 10);
    for (int i = 0; i < 48 * 10; i++) ASSERT_TRUE(fabsf(y[i] - y0[i]) <= 1e-4f * (1 + fabsf(y[i])));
    qs_graph_destroy(g2);
    // NULL restores; destroy restores
    ASSERT_OK(qs_pruner_apply(p, NULL, NULL));
    for (int i = 0; i < n; i++) ASSERT_EQ(zeros_of(g, i, NULL), 0);
    ASSERT_OK(qs_pruner_apply(p, b, NULL));
    qs_pruner_destroy(p);
    for (int i = 0; i < n; i++) ASSERT_EQ(zeros_of(g, i, NULL), 0);
    // bad policy: unknown layer
    qs_policy_t *bad;
    ASSERT_OK(qs_policy_create(&bad));
    struct qs_layer_policy lp = qs_layer_policy_default();
    lp.sparsity = 0.5f;
    ASSERT_OK(qs_policy_set(bad, "no_such_conv", &lp, NULL));
    ASSERT_OK(qs_pruner_create(g, NULL, &p, NULL));
    struct qs_diag d;
    ASSERT_EQ(qs_pruner_apply(p, bad, &d), QS_STATUS_PARSE);
    ASSERT_STR_CONTAINS(d.msg, "no_such_conv");
    // bias correction without calibration
    qs_pruner_destroy(p);
    struct qs_prune_options po = qs_prune_options_default();
    po.method = QS_PRUNE_BIAS_CORRECTION;
    ASSERT_OK(qs_pruner_create(g, &po, &p, NULL));
    ASSERT_EQ(qs_pruner_apply(p, a, &d), QS_STATUS_INVALID_STATE);
    ASSERT_STR_CONTAINS(d.msg, "calibration");
    qs_pruner_destroy(p);
    qs_policy_destroy(bad);
    qs_policy_destroy(a);
    qs_policy_destroy(b);
    qs_dataset_free(&ds);
    qs_graph_destroy(g);
}

static void test_global(void) {
    qs_graph_t *g = load("sparse/resnet_tiny.onnx");
    struct qs_prune_options po = qs_prune_options_default();
    po.global = true;
    qs_pruner_t *p;
    ASSERT_OK(qs_pruner_create(g, &po, &p, NULL));
    qs_policy_t *a = uniform_policy(g, 0.6f, "unstructured");
    ASSERT_OK(qs_pruner_apply(p, a, NULL));
    int64_t z = 0, tot = 0;
    float lo = 1, hi = 0;
    for (int i = 0; i < qs_graph_layer_count(g); i++) {
        if (!qs_pruner_layer_prunable(p, i)) continue;
        struct qs_layer_weights lw;
        qs_graph_layer_weights(g, i, &lw, NULL);
        int64_t zi = zeros_of(g, i, NULL);
        z += zi;
        tot += lw.w_numel;
        lo = fminf(lo, (float)zi / (float)lw.w_numel);
        hi = fmaxf(hi, (float)zi / (float)lw.w_numel);
    }
    ASSERT_TRUE(llabs(z - (int64_t)floor(0.6 * (double)tot + 0.5)) <= 8);
    ASSERT_TRUE(hi - lo > 0.02f);  // layers differ
    qs_pruner_destroy(p);
    qs_policy_destroy(a);
    qs_graph_destroy(g);
}

// Mean per channel of tensor `name` over the data.
struct tap {
    int id;
    int c;
    double sum[64];
    int64_t count;
};
static void tap_fn(void *user, const struct qs_tensor_info *info, const void *data) {
    struct tap *t = user;
    if (info->id != t->id) return;
    const float *x = data;
    int64_t hw = info->dims[2] * info->dims[3];
    for (int64_t b = 0; b < info->dims[0]; b++)
        for (int c = 0; c < t->c; c++)
            for (int64_t i = 0; i < hw; i++) t->sum[c] += x[(b * t->c + c) * hw + i];
    t->count += info->dims[0] * hw;
}

static void channel_means(qs_graph_t *g, const struct qs_dataset *ds, int layer, double *mean) {
    struct qs_layer_info li;
    struct qs_node_info ni;
    qs_graph_layer_info(g, layer, &li);
    qs_graph_node_info(g, li.node, &ni);
    ASSERT_TRUE(ni.fused_activation == NULL);
    struct tap t = {.id = ni.outputs[0].id, .c = (int)li.c_out};
    struct qs_session_options so = qs_session_options_default();
    so.batch = (int)ds->count;
    qs_session_t *s;
    ASSERT_OK(qs_session_create(g, &so, &s, NULL));
    struct qs_tensor_info ti;
    qs_session_input_info(s, 0, &ti);
    ASSERT_OK(qs_dataset_fill(ds, 0, NULL, 0, ds->count, &ti, qs_session_input_data(s, 0), NULL));
    qs_session_set_observer(s, tap_fn, &t);
    ASSERT_OK(qs_session_run(s, NULL));
    qs_session_destroy(s);
    for (int c = 0; c < t.c; c++) mean[c] = t.sum[c] / (double)t.count;
}

static void test_bias_correction_and_obs(void) {
    qs_graph_t *g = load("sparse/resnet_tiny.onnx");
    struct qs_dataset ds = {0};
    const char *spec = qs_test_data("sparse/resnet_tiny_x.npy");
    ASSERT_OK(qs_dataset_load(&ds, &spec, 1, NULL, NULL));
    int l = layer_of(g, "s2b1_conv2");  // no fused Relu: its output is the raw conv output
    qs_policy_t *pol;
    ASSERT_OK(qs_policy_create(&pol));
    struct qs_layer_policy lp = qs_layer_policy_default();
    lp.sparsity = 0.7f;
    ASSERT_OK(qs_policy_set(pol, "s2b1_conv2", &lp, NULL));
    double dense[64], mag[64], bc[64];
    channel_means(g, &ds, l, dense);
    qs_pruner_t *p;
    ASSERT_OK(qs_pruner_create(g, NULL, &p, NULL));
    ASSERT_OK(qs_pruner_apply(p, pol, NULL));
    channel_means(g, &ds, l, mag);
    qs_pruner_destroy(p);
    struct qs_prune_options po = qs_prune_options_default();
    po.method = QS_PRUNE_BIAS_CORRECTION;
    po.batch = 16;  // three batches
    ASSERT_OK(qs_pruner_create(g, &po, &p, NULL));
    ASSERT_OK(qs_pruner_calibrate(p, &ds, NULL, 0, NULL));
    ASSERT_OK(qs_pruner_apply(p, pol, NULL));
    channel_means(g, &ds, l, bc);
    double em = 0, eb = 0;
    for (int c = 0; c < 16; c++) {
        em += fabs(mag[c] - dense[c]);
        eb += fabs(bc[c] - dense[c]);
        ASSERT_TRUE(fabs(bc[c] - dense[c]) < 1e-3 * (1 + fabs(dense[c])));
    }
    printf("mean shift per channel: magnitude %.4g, bias corrected %.2g\n", em / 16, eb / 16);
    ASSERT_TRUE(em > 100 * eb);
    qs_pruner_destroy(p);

    // OBS: lower output error than magnitude for every layer, same counts
    qs_policy_t *all = uniform_policy(g, 0.5f, "unstructured");
    po = qs_prune_options_default();
    po.method = QS_PRUNE_OBS;
    ASSERT_OK(qs_pruner_create(g, &po, &p, NULL));
    ASSERT_OK(qs_pruner_calibrate(p, &ds, NULL, 40, NULL));
    ASSERT_OK(qs_pruner_apply(p, all, NULL));
    static float y_dense[480], y_obs[480], y_mag[480];
    run_model(g, &ds, y_obs, 480);
    for (int i = 0; i < qs_graph_layer_count(g); i++) {
        if (!qs_pruner_layer_prunable(p, i)) continue;
        struct qs_prune_layer_stats st;
        ASSERT_OK(qs_pruner_layer_stats(p, i, &st));
        ASSERT_TRUE(st.pruned && st.rel_error >= 0 && st.rel_error < 0.5);
        ASSERT_EQ(st.zeros, (int64_t)floor(0.5 * (double)st.numel + 0.5));
    }
    qs_pruner_destroy(p);
    run_model(g, &ds, y_dense, 480);
    ASSERT_OK(qs_pruner_create(g, NULL, &p, NULL));
    ASSERT_OK(qs_pruner_apply(p, all, NULL));
    run_model(g, &ds, y_mag, 480);
    qs_pruner_destroy(p);
    double eo = 0, emg = 0;
    for (int i = 0; i < 480; i++) {
        eo += (y_obs[i] - y_dense[i]) * (y_obs[i] - y_dense[i]);
        emg += (y_mag[i] - y_dense[i]) * (y_mag[i] - y_dense[i]);
    }
    printf("model output error at 50%%: magnitude %.4g, obs %.4g\n", emg, eo);
    ASSERT_TRUE(eo < emg);
    // sequential pruning (statistics on the model pruned so far), OBS + bias correction
    po.method = QS_PRUNE_OBS_BIAS_CORRECTION;
    ASSERT_OK(qs_pruner_create(g, &po, &p, NULL));
    struct qs_diag d;
    ASSERT_EQ(qs_pruner_apply_sequential(p, all, &ds, NULL, 40, &d), QS_STATUS_INVALID_STATE);
    ASSERT_OK(qs_pruner_calibrate(p, &ds, NULL, 40, NULL));
    ASSERT_EQ(qs_pruner_apply_sequential(p, all, &ds, NULL, -1, &d), QS_STATUS_INVALID_ARG);
    ASSERT_OK(qs_pruner_apply_sequential(p, all, &ds, NULL, 40, NULL));
    static float y_ref[480];
    run_model(g, &ds, y_ref, 480);
    for (int i = 0; i < qs_graph_layer_count(g); i++) {
        if (!qs_pruner_layer_prunable(p, i)) continue;
        struct qs_prune_layer_stats st;
        ASSERT_OK(qs_pruner_layer_stats(p, i, &st));
        ASSERT_EQ(st.zeros, (int64_t)floor(0.5 * (double)st.numel + 0.5));
        struct qs_layer_weights lw;
        qs_graph_layer_weights(g, i, &lw, NULL);
        ASSERT_TRUE(lw.b != lw.b_file);  // corrected bias
    }
    qs_pruner_destroy(p);
    double er = 0;
    for (int i = 0; i < 480; i++) er += (y_ref[i] - y_dense[i]) * (y_ref[i] - y_dense[i]);
    printf("model output error at 50%%: obs + bias correction, sequential %.4g\n", er);
    ASSERT_TRUE(er < emg);
    qs_policy_destroy(all);
    qs_policy_destroy(pol);
    qs_dataset_free(&ds);
    qs_graph_destroy(g);
}

static void test_mlp(void) {
    // MatMul constants are [K, N]: the view transposes them; OBS works through it
    qs_graph_t *g = load("sparse/mlp_tiny.onnx");
    struct qs_dataset ds = {0};
    const char *spec = qs_test_data("sparse/mlp_tiny_x.npy");
    ASSERT_OK(qs_dataset_load(&ds, &spec, 1, NULL, NULL));
    struct qs_prune_options po = qs_prune_options_default();
    po.method = QS_PRUNE_OBS;
    qs_pruner_t *p;
    ASSERT_OK(qs_pruner_create(g, &po, &p, NULL));
    ASSERT_OK(qs_pruner_calibrate(p, &ds, NULL, 0, NULL));
    qs_policy_t *a = uniform_policy(g, 0.5f, "2:4");
    ASSERT_OK(qs_pruner_apply(p, a, NULL));
    int l = layer_of(g, "mm1");
    struct qs_layer_weights lw;
    qs_graph_layer_weights(g, l, &lw, NULL);
    // [K=64][N=64] in the file: 2 of every 4 consecutive k of each output column
    for (int nn = 0; nn < 64; nn++)
        for (int k0 = 0; k0 < 64; k0 += 4) {
            int nz = 0;
            for (int k = k0; k < k0 + 4; k++) nz += lw.w[k * 64 + nn] != 0.0f;
            ASSERT_EQ(nz, 2);
        }
    struct qs_prune_layer_stats st;
    qs_pruner_layer_stats(p, l, &st);
    ASSERT_TRUE(st.rel_error >= 0 && st.rel_error < 0.6);
    static float y[48 * 4];
    run_model(g, &ds, y, 48 * 4);
    qs_pruner_destroy(p);
    qs_policy_destroy(a);
    qs_dataset_free(&ds);
    qs_graph_destroy(g);
}

static void test_bytes(void) {
    qs_graph_t *g = load("sparse/resnet_tiny.onnx");
    size_t dense = 0;
    for (int t = 0; t < qs_graph_tensor_count(g); t++) {
        struct qs_tensor_info ti;
        const void *data;
        qs_graph_tensor(g, t, &ti, &data);
        if (!data) continue;
        size_t n = qs_dtype_size(ti.dtype);
        for (int d = 0; d < ti.rank; d++) n *= (size_t)ti.dims[d];
        dense += n;
    }
    ASSERT_EQ(qs_model_bytes(g, NULL, NULL), dense);
    // one layer at 90%: 16 x 144 weights, 230 kept: CSR = 230 * (4 + 2) + 17 * 4 = 1448,
    // bitmap = 230 * 4 + 2304 / 8 = 1208 (the cheaper one counts)
    qs_policy_t *p;
    ASSERT_OK(qs_policy_create(&p));
    struct qs_layer_policy lp = qs_layer_policy_default();
    lp.sparsity = 0.9f;
    ASSERT_OK(qs_policy_set(p, "s2b2_conv1", &lp, NULL));
    size_t kept = 16 * 144 - (size_t)floor(0.9 * 16 * 144 + 0.5);
    ASSERT_EQ(qs_model_bytes(g, p, NULL), dense - 16 * 144 * 4 + kept * 4 + 16 * 144 / 8);
    // int8 dense: values 1 byte, + 16 scales + int32 bias (same size as fp32), activations'
    // scale + zero point (input and output)
    lp.sparsity = 0.0f;
    lp.w_bits = lp.a_bits = 8;
    ASSERT_OK(qs_policy_set(p, "s2b2_conv1", &lp, NULL));
    ASSERT_EQ(qs_model_bytes(g, p, NULL), dense - 16 * 144 * 3 + 16 * 4 + 2 * 5);
    // low sparsity at int8: dense (2304) is cheaper than a bitmap (2074 + 288), so only
    // the int8 change counts
    lp.sparsity = 0.1f;
    ASSERT_OK(qs_policy_set(p, "s2b2_conv1", &lp, NULL));
    ASSERT_EQ(qs_model_bytes(g, p, NULL), dense - 16 * 144 * 3 + 16 * 4 + 2 * 5);
    // fp32 at 20%: a bitmap already pays (1843 * 4 + 288 < 9216)
    lp.sparsity = 0.2f;
    lp.w_bits = lp.a_bits = 32;
    ASSERT_OK(qs_policy_set(p, "s2b2_conv1", &lp, NULL));
    kept = 16 * 144 - (size_t)floor(0.2 * 16 * 144 + 0.5);
    ASSERT_EQ(qs_model_bytes(g, p, NULL), dense - 16 * 144 * 4 + kept * 4 + 16 * 144 / 8);
    // 2:4 at int8: 2 values + 2 bits of position per group of 4
    lp.w_bits = 8;
    lp.sparsity = 0.5f;
    snprintf(lp.pattern, sizeof lp.pattern, "2:4");
    ASSERT_OK(qs_policy_set(p, "s2b2_conv1", &lp, NULL));
    ASSERT_EQ(qs_model_bytes(g, p, NULL), dense - 16 * 144 * 4 + 16 * 72 + 16 * 72 / 4 + 16 * 4);
    struct qs_diag d;
    ASSERT_OK(qs_policy_set(p, "ghost", &lp, NULL));
    ASSERT_EQ(qs_model_bytes(g, p, &d), 0);
    ASSERT_STR_CONTAINS(d.msg, "ghost");
    qs_policy_destroy(p);
    qs_graph_destroy(g);
}

// Channel pruning rewrites the graph: convolutions whose output feeds only convolutions
// lose channels (and their consumers the inputs); those feeding residual adds keep them.
static void test_shrink(void) {
    qs_graph_t *g = load("sparse/resnet_tiny.onnx");
    struct qs_dataset ds = {0};
    const char *spec = qs_test_data("sparse/resnet_tiny_x.npy");
    ASSERT_OK(qs_dataset_load(&ds, &spec, 1, NULL, NULL));
    qs_policy_t *pol = uniform_policy(g, 0.5f, "channel");
    qs_pruner_t *p;
    ASSERT_OK(qs_pruner_create(g, NULL, &p, NULL));
    ASSERT_OK(qs_pruner_apply(p, pol, NULL));
    static float y_zero[480], y_small[480];
    run_model(g, &ds, y_zero, 480);
    char zeroed[] = "/tmp/qs-test-shrink-XXXXXX", small[] = "/tmp/qs-test-shrunk-XXXXXX";
    int fd = mkstemp(zeroed);
    close(fd);
    fd = mkstemp(small);
    close(fd);
    ASSERT_OK(qs_graph_save_onnx(g, zeroed, NULL));
    int64_t removed = 0;
    ASSERT_OK(qs_prune_shrink_onnx(zeroed, small, pol, &removed, NULL));
    // s1b1_conv1 (8 -> 4), s2b1_conv1 and s2b2_conv1 (16 -> 8)
    ASSERT_EQ(removed, 4 + 8 + 8);
    qs_graph_t *g2;
    struct qs_diag d;
    if (qs_graph_load_onnx(small, &g2, &d)) {
        fprintf(stderr, "%s\n", d.msg);
        exit(1);
    }
    unlink(zeroed);
    unlink(small);
    ASSERT_OK(qs_graph_optimize(g2, QS_PASS_DEFAULT, NULL));
    struct qs_layer_info li;
    qs_graph_layer_info(g2, layer_of(g2, "s2b1_conv1"), &li);
    ASSERT_EQ(li.c_out, 8);
    qs_graph_layer_info(g2, layer_of(g2, "s2b1_conv2"), &li);
    ASSERT_EQ(li.c_in, 8);
    ASSERT_EQ(li.c_out, 16);  // feeds the residual add: unchanged
    qs_graph_layer_info(g2, layer_of(g2, "s1b1_conv2"), &li);
    ASSERT_EQ(li.c_in, 4);
    run_model(g2, &ds, y_small, 480);
    double num = 0, den = 0;
    for (int i = 0; i < 480; i++) {
        num += (y_small[i] - y_zero[i]) * (y_small[i] - y_zero[i]);
        den += y_zero[i] * y_zero[i];
    }
    printf("shrunk vs zeroed model: relative difference %.3g (padding borders)\n", sqrt(num / den));
    ASSERT_TRUE(sqrt(num / den) < 0.1);
    ASSERT_EQ(qs_prune_shrink_onnx("/nonexistent/x.onnx", small, pol, NULL, &d), QS_STATUS_IO);
    ASSERT_STR_CONTAINS(d.msg, "/nonexistent/x.onnx");
    qs_graph_destroy(g2);
    qs_pruner_destroy(p);
    qs_policy_destroy(pol);
    qs_dataset_free(&ds);
    qs_graph_destroy(g);
}

int main(void) {
    qs_set_log_callback(quiet, NULL, QS_LOG_ERROR);
    test_skip_rules();
    test_apply_cache_export();
    test_global();
    test_bias_correction_and_obs();
    test_mlp();
    test_bytes();
    test_shrink();
    printf("ok\n");
    return 0;
}
