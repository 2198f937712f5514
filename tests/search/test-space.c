// The search space (search/space.c) on the demo digits CNN (4 layers): skip rules, ignore
// list (names and regular expressions), sizes, the action <-> policy bins and the state.
#include "search/search-impl.h"
#include "test.h"

#include <math.h>

static struct qs_search_config base_config(void) {
    struct qs_search_config c;
    memset(&c, 0, sizeof(c));
    c.source = "test.yaml";
    c.w_bits[0] = 32;  // given unsorted on purpose
    c.w_bits[1] = 8;
    c.n_w_bits = 2;
    c.a_bits[0] = 8;
    c.a_bits[1] = 32;
    c.n_a_bits = 2;
    c.sparsity[0] = 0.5f;
    c.sparsity[1] = 0.0f;
    c.sparsity[2] = 0.75f;
    c.n_sparsity = 3;
    return c;
}

int main(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/../../configs/demo/digits_cnn.onnx", qs_test_data(""));
    qs_graph_t *g;
    struct qs_diag diag;
    if (qs_graph_load_onnx(path, &g, &diag) != QS_STATUS_OK) {
        fprintf(stderr, "%s\n", diag.msg);
        return 1;
    }
    ASSERT_EQ(qs_graph_layer_count(g), 4);

    struct qs_search_config c = base_config();
    struct qs_space *s;
    ASSERT_OK(qs__space_create(&c, g, &s, &diag));
    ASSERT_EQ(s->n_layers, 4);
    ASSERT_EQ(s->w_bits[0], 8);
    ASSERT_EQ(s->w_bits[1], 32);
    ASSERT_TRUE(s->sparsity[0] == 0.0f && s->sparsity[2] == 0.75f);
    ASSERT_TRUE(qs__space_size(s) == pow(2 * 2 * 3, 4));
    // Bins: w in [0, .5) -> 8, [.5, 1] -> 32; sparsity thirds.
    struct qs_layer_policy lp;
    float a[3] = {0.49f, 0.51f, 0.34f};
    qs__space_decode(s, 1, a, &lp);
    ASSERT_EQ(lp.w_bits, 8);
    ASSERT_EQ(lp.a_bits, 32);
    ASSERT_TRUE(lp.sparsity == 0.5f);
    ASSERT_STR_CONTAINS(lp.pattern, "unstructured");
    float ends[3] = {0.0f, 1.0f, 1.0f};
    qs__space_decode(s, 0, ends, &lp);
    ASSERT_TRUE(lp.w_bits == 8 && lp.a_bits == 32 && lp.sparsity == 0.75f);
    // Every candidate of a layer round-trips through its bin centre.
    for (int w = 0; w < 2; w++)
        for (int ab = 0; ab < 2; ab++)
            for (int sp = 0; sp < 3; sp++) {
                struct qs_layer_policy in = qs_layer_policy_default(), out;
                in.w_bits = s->w_bits[w];
                in.a_bits = s->a_bits[ab];
                in.sparsity = s->sparsity[sp];
                float act[3];
                qs__space_encode(s, 2, &in, act);
                ASSERT_TRUE(fabsf(act[0] - (w + 0.5f) / 2) < 1e-6f);
                ASSERT_TRUE(fabsf(act[2] - (sp + 0.5f) / 3) < 1e-6f);
                qs__space_decode(s, 2, act, &out);
                ASSERT_TRUE(out.w_bits == in.w_bits && out.a_bits == in.a_bits &&
                            out.sparsity == in.sparsity);
            }
    // State: 12 features in [0, 1]; index column from 0 to 1; previous action copied.
    float st[QS_STATE_DIM];
    for (int l = 0; l < 4; l++) {
        float prev[3] = {0.25f, 0.5f, 0.75f};
        qs__space_state(s, l, l ? prev : NULL, st);
        for (int i = 0; i < QS_STATE_DIM; i++) ASSERT_TRUE(st[i] >= 0.0f && st[i] <= 1.0f);
        ASSERT_TRUE(fabsf(st[0] - l / 3.0f) < 1e-6f);
        ASSERT_TRUE(st[10] == (l ? 0.25f : 0.0f) && st[11] == (l ? 0.75f : 0.0f));
    }
    qs__space_state(s, 2, NULL, st);
    ASSERT_TRUE(st[1] == 1.0f);  // a Gemm among Convs: kind column
    qs__space_destroy(s);

    // tie_bits: one bits dimension.
    c.tie_bits = true;
    ASSERT_OK(qs__space_create(&c, g, &s, &diag));
    ASSERT_EQ(s->layers[0].n_choices[1], 1);
    ASSERT_TRUE(qs__space_size(s) == pow(2 * 3, 4));
    float t[3] = {0.9f, 0.0f, 0.0f};
    qs__space_decode(s, 0, t, &lp);
    ASSERT_TRUE(lp.w_bits == 32 && lp.a_bits == 32);
    qs__space_destroy(s);

    // Continuous sparsity: linear in [min, max]; infinite size.
    c.sparsity_continuous = true;
    c.sparsity_min = 0.2f;
    c.sparsity_max = 0.8f;
    ASSERT_OK(qs__space_create(&c, g, &s, &diag));
    ASSERT_TRUE(isinf(qs__space_size(s)));
    float h[3] = {0.0f, 0.0f, 0.5f};
    qs__space_decode(s, 0, h, &lp);
    ASSERT_TRUE(fabsf(lp.sparsity - 0.5f) < 1e-6f);
    lp.sparsity = 0.35f;
    qs__space_encode(s, 0, &lp, h);
    ASSERT_TRUE(fabsf(h[2] - 0.25f) < 1e-6f);
    qs__space_destroy(s);

    // Skip rules and the ignore list.
    c = base_config();
    c.skip_first_last = true;
    ASSERT_OK(qs__space_create(&c, g, &s, &diag));
    ASSERT_EQ(s->n_layers, 2);
    ASSERT_EQ(s->layers[0].layer, 1);
    qs__space_destroy(s);
    c = base_config();
    c.ignore[0] = "/fc.*";
    c.n_ignore = 1;
    ASSERT_OK(qs__space_create(&c, g, &s, &diag));
    ASSERT_EQ(s->n_layers, 2);
    ASSERT_STR_CONTAINS(s->layers[1].info.name, "/c2/");
    qs__space_destroy(s);
    c.ignore[0] = "/c1/Conv";  // an exact name
    ASSERT_OK(qs__space_create(&c, g, &s, &diag));
    ASSERT_EQ(s->n_layers, 3);
    qs__space_destroy(s);
    c.ignore[0] = "conv9";
    ASSERT_EQ(qs__space_create(&c, g, &s, &diag), QS_STATUS_PARSE);
    ASSERT_STR_CONTAINS(diag.msg, "test.yaml: ignore: 'conv9' names no layer");
    c.ignore[0] = "(";
    ASSERT_EQ(qs__space_create(&c, g, &s, &diag), QS_STATUS_PARSE);
    ASSERT_STR_CONTAINS(diag.msg, "bad regular expression");
    c.ignore[0] = ".*";
    ASSERT_EQ(qs__space_create(&c, g, &s, &diag), QS_STATUS_PARSE);
    ASSERT_STR_CONTAINS(diag.msg, "no layer left");
    c = base_config();
    c.w_bits[0] = 4;
    ASSERT_EQ(qs__space_create(&c, g, &s, &diag), QS_STATUS_INVALID_ARG);
    ASSERT_STR_CONTAINS(diag.msg, "w_bits");
    qs_graph_destroy(g);
    printf("ok\n");
    return 0;
}
