// `qsearch inspect` on the demo: one row per node with shapes, the totals and the
// quantizable layers.
#include "cli-test.h"

int main(void) {
    const char *model = cli_demo("digits_cnn.onnx");
    struct cli_run r = CLI_RUN("inspect", model);
    CLI_EXPECT(r, r.code == 0 && r.err[0] == 0);
    CLI_EXPECT(r, strstr(r.out, "opset    13") != NULL);
    CLI_EXPECT(r, strstr(r.out, "input    input float32 [?,1,8,8]") != NULL);
    CLI_EXPECT(r, strstr(r.out, "output   logits float32 [?,10]") != NULL);
    CLI_EXPECT(r, strstr(r.out, "Conv") && strstr(r.out, "Gemm") && strstr(r.out, "MaxPool"));
    // 38,282 weights (README of the model); two Conv and two Gemm layers, ReLUs fused.
    CLI_EXPECT(r, strstr(r.out, "38,282 params") != NULL);
    CLI_EXPECT(r, strstr(r.out, "4 quantizable layers") != NULL);
    CLI_EXPECT(r, strstr(r.out, "Relu") != NULL);
    CLI_EXPECT(r, strstr(r.out, "[1,1,8,8]") != NULL);
    cli_run_free(&r);

    // --raw keeps the graph as stored: the separate Relu nodes are still there.
    r = CLI_RUN("inspect", "--raw", model);
    CLI_EXPECT(r, r.code == 0);
    CLI_EXPECT(r, strstr(r.out, "  Relu  ") != NULL);
    cli_run_free(&r);
    return 0;
}
