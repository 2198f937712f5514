// Prefix reuse (ir/session.c, used by search/evaluator.c): the values live at a cut of the
// executed node list, stored after one run and restored into another session that ran
// something else meanwhile, give the full run's output bit for bit from every cut
// (tests/fixtures/lut/lut_tiny.onnx: Concat aliasing, a residual Add, Slice/Pad, fused
// activations); prefix keys are equal for equal graphs and change from the first node
// that reads a changed weight on, and only there.
#include "ir/session-reuse.h"
#include "session-spans.h"
#include "kernels/internal.h"
#include "qsearch/ir.h"
#include "test.h"


enum { BATCH = 3, MAX_LIVE = 16 };

static qs_session_t *session(qs_graph_t *g) {
    struct qs_session_options so = qs_session_options_default();
    so.batch = BATCH;
    qs_session_t *s;
    struct qs_diag d;
    ASSERT_OK(qs_session_create(g, &so, &s, &d));
    return s;
}

static size_t fill_input(qs_session_t *s, float bias) {
    struct qs_tensor_info in;
    ASSERT_OK(qs_session_input_info(s, 0, &in));
    size_t n = 1;
    for (int i = 0; i < in.rank; i++) n *= (size_t)in.dims[i];
    float *x = qs_session_input_data(s, 0);
    for (size_t i = 0; i < n; i++) x[i] = (float)((i * 7919 + 13) % 211) / 100.0f - 1.0f + bias;
    return n;
}

int main(void) {
    const char *path = qs_test_data("lut/lut_tiny.onnx");
    qs_graph_t *g;
    struct qs_diag d;
    ASSERT_OK(qs_graph_load_onnx(path, &g, &d));
    ASSERT_OK(qs_graph_optimize(g, QS_PASS_DEFAULT, &d));
    qs_session_t *a = session(g), *b = session(g);
    const int n = qs_session_exec_count(a);
    ASSERT_TRUE(n > 4 && n == qs_session_exec_count(b));
    struct qs_tensor_info out;
    ASSERT_OK(qs_session_output_info(a, 0, &out));
    const size_t ny = (size_t)BATCH * 10;
    float *ref = malloc(sizeof(float) * ny);
    fill_input(a, 0.0f);
    ASSERT_OK(qs_session_run(a, &d));
    memcpy(ref, qs_session_output_data(a, 0), sizeof(float) * ny);

    int cuts = 0;
    for (int c = 1; c < n; c++) {
        struct qs_session_span sa[MAX_LIVE], sb[MAX_LIVE];
        int la = qs__session_live(a, c, sa, MAX_LIVE);
        ASSERT_TRUE(la >= 1 && la <= MAX_LIVE);
        // Session a: run to the cut, keep the live values, finish: the full run's output.
        fill_input(a, 0.0f);
        ASSERT_OK(qs__session_run_range(a, 0, c, &d));
        unsigned char *saved = spans_save(sa, la);
        ASSERT_OK(qs__session_run_range(a, c, n, &d));
        ASSERT_TRUE(memcmp(qs_session_output_data(a, 0), ref, sizeof(float) * ny) == 0);
        // Session b: another input all the way (every buffer holds other values), then the
        // stored values restored at the cut by tensor identity.
        fill_input(b, 0.5f);
        ASSERT_OK(qs_session_run(b, &d));
        ASSERT_TRUE(memcmp(qs_session_output_data(b, 0), ref, sizeof(float) * ny) != 0);
        int lb = qs__session_live(b, c, sb, MAX_LIVE);
        ASSERT_EQ(lb, la);
        spans_restore(sa, saved, sb, la);
        ASSERT_OK(qs__session_run_range(b, c, n, &d));
        if (memcmp(qs_session_output_data(b, 0), ref, sizeof(float) * ny) != 0) {
            fprintf(stderr, "FAIL: restoring at cut %d (%d live tensors) changed the output\n",
                    c, la);
            return 1;
        }
        free(saved);
        cuts++;
    }
    printf("%d cuts restored bit-exactly\n", cuts);

    // Keys: equal for two sessions of one graph; a changed weight changes the keys from the
    // first node that reads it on.
    uint64_t *ka = malloc(sizeof(uint64_t) * (size_t)n), *kb = malloc(sizeof(uint64_t) * (size_t)n);
    qs__session_prefix_keys(a, 1, ka);
    qs__session_prefix_keys(b, 1, kb);
    ASSERT_TRUE(memcmp(ka, kb, sizeof(uint64_t) * (size_t)n) == 0);
    qs__session_prefix_keys(b, 2, kb);  // another input set
    for (int e = 0; e < n; e++) ASSERT_TRUE(ka[e] != kb[e]);
    const int layer = 2;  // b3x3
    struct qs_layer_weights lw;
    struct qs_layer_info li;
    ASSERT_OK(qs_graph_layer_weights(g, layer, &lw, &d));
    ASSERT_OK(qs_graph_layer_info(g, layer, &li));
    float *w = malloc(sizeof(float) * (size_t)lw.w_numel);
    memcpy(w, lw.w, sizeof(float) * (size_t)lw.w_numel);
    w[0] += 1.0f;
    ASSERT_OK(qs_graph_set_layer_weights(g, layer, w, NULL, &d));
    qs_session_t *c = session(g);
    ASSERT_EQ(qs_session_exec_count(c), n);
    qs__session_prefix_keys(c, 1, kb);
    int first = -1;
    for (int e = 0; e < n && first < 0; e++) {
        struct qs_prof_node pn;
        ASSERT_OK(qs_session_exec_info(c, e, &pn));
        if (!strcmp(pn.name, li.name)) first = e;
    }
    ASSERT_TRUE(first > 0);
    for (int e = 0; e < n; e++) {
        if (e < first) ASSERT_TRUE(ka[e] == kb[e]);
        else ASSERT_TRUE(ka[e] != kb[e]);
    }
    printf("keys: equal before node %d ('%s'), different from it on\n", first, li.name);
    qs_graph_restore_weights(g);
    qs_session_destroy(c);
    qs_session_destroy(a);
    qs_session_destroy(b);
    free(w);
    free(ka);
    free(kb);
    free(ref);
    qs_graph_destroy(g);
    return 0;
}
