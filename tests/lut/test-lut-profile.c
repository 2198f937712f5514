// Session profiling (ir/profile.c): the executed nodes of fp32 and int8 sessions, and a
// profiled run gives the same outputs as a plain one.
#include "lut-test-util.h"

#include "latency_tables/measure.h"

#include <math.h>

static void check(qs_lut_model_t *m, const qs_policy_t *policy, bool int8) {
    struct qs_diag d = {{0}};
    qs_quantizer_t *q;
    qs_session_t *s;
    ASSERT_OK(qs__lut_model_session(m, policy, true, &q, &s, &d));
    int n = qs_session_exec_count(s);
    ASSERT_TRUE(n > 5 && n < 64);
    int layers = 0, qconv = 0, quant = 0;
    for (int e = 0; e < n; e++) {
        struct qs_prof_node pn;
        ASSERT_OK(qs_session_exec_info(s, e, &pn));
        ASSERT_TRUE(pn.name && pn.op_type && pn.n_outputs >= 1 && pn.outputs[0].rank >= 1);
        if (pn.layer >= 0) {
            layers++;
            struct qs_layer_info li;
            ASSERT_OK(qs_graph_layer_info(qs_lut_model_graph(m), pn.layer, &li));
            ASSERT_TRUE(!strcmp(li.name, pn.name));
            ASSERT_EQ(pn.w_bits, int8 ? 8 : 32);
        }
        if (!strcmp(pn.op_type, "QLinearConv")) {
            qconv++;
            ASSERT_TRUE(pn.has_window && pn.kernel[0] >= 1 && pn.group == 1);
            ASSERT_EQ(pn.inputs[0].dtype, QS_DTYPE_U8);
            ASSERT_TRUE(pn.input_const[3] && pn.inputs[3].dtype == QS_DTYPE_I8);
            ASSERT_TRUE(pn.weight_sparsity >= 0 && pn.weight_sparsity < 1);
        }
        if (!strcmp(pn.op_type, "QuantizeLinear")) quant++;
        if (!strcmp(pn.name, "conv0") && !int8) {
            ASSERT_TRUE(!strcmp(pn.op_type, "Conv") && pn.has_window);
            ASSERT_TRUE(pn.kernel[0] == 3 && pn.kernel[1] == 3 && pn.pads[0] == 1 &&
                        pn.pads[3] == 1 && pn.stride[0] == 1);
            ASSERT_TRUE(pn.fused_activation && !strcmp(pn.fused_activation, "Relu"));
        }
    }
    ASSERT_EQ(layers, 6);
    if (int8) ASSERT_TRUE(qconv == 5 && quant >= 1);
    else ASSERT_TRUE(qconv == 0 && quant == 0);
    ASSERT_EQ(qs_session_exec_info(s, n, &(struct qs_prof_node){0}), QS_STATUS_INVALID_ARG);

    ASSERT_OK(qs_session_run(s, &d));
    struct qs_tensor_info oi;
    ASSERT_OK(qs_session_output_info(s, 0, &oi));
    float ref[10];
    ASSERT_EQ(oi.dims[1], 10);
    memcpy(ref, qs_session_output_data(s, 0), sizeof ref);
    int64_t ns[64], total = 0;
    memset(ns, 0xff, sizeof ns);
    ASSERT_OK(qs_session_run_profiled(s, ns, &total, &d));
    int64_t sum = 0;
    for (int e = 0; e < n; e++) {
        ASSERT_TRUE(ns[e] >= 0);
        sum += ns[e];
    }
    ASSERT_TRUE(total >= sum && sum > 0);
    ASSERT_TRUE(!memcmp(ref, qs_session_output_data(s, 0), sizeof ref));
    qs_session_destroy(s);
    qs_quantizer_destroy(q);
}

static int observed;
static void count_obs(void *user, const struct qs_tensor_info *info, const void *data) {
    (void)user;
    (void)info;
    (void)data;
    observed++;
}

int main(void) {
    if (access(tiny_model(), R_OK) != 0) QS_TEST_SKIP("fixture %s missing", tiny_model());
    struct qs_diag d = {{0}};
    qs_lut_model_t *m;
    ASSERT_OK(qs_lut_model_open(tiny_model(), 1, 1, &m, &d));
    qs_policy_t *fp32;
    ASSERT_OK(qs_policy_create(&fp32));
    check(m, fp32, false);
    check(m, NULL, true);
    // The observer sees the same tensors in a profiled run as in a plain one.
    qs_quantizer_t *q;
    qs_session_t *s;
    ASSERT_OK(qs__lut_model_session(m, fp32, true, &q, &s, &d));
    qs_session_set_observer(s, count_obs, NULL);
    ASSERT_OK(qs_session_run(s, &d));
    int plain = observed;
    observed = 0;
    ASSERT_OK(qs_session_run_profiled(s, NULL, NULL, &d));
    ASSERT_EQ(observed, plain);
    qs_session_destroy(s);
    qs_quantizer_destroy(q);
    // Graph-level description.
    const qs_graph_t *g = qs_lut_model_graph(m);
    struct qs_prof_node pn;
    ASSERT_OK(qs_graph_node_prof_info(g, 0, &pn));
    ASSERT_TRUE(!strcmp(pn.op_type, "Conv") && pn.layer == 0 && pn.input_const[1]);
    ASSERT_EQ(qs_graph_node_prof_info(g, -1, &pn), QS_STATUS_INVALID_ARG);
    qs_policy_destroy(fp32);
    qs_lut_model_close(m);
    printf("ok\n");
    return 0;
}
