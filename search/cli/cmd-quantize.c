// `qsearch quantize`: calibrate, apply a per-layer policy, write the QDQ model; and the
// calibration step `eval --calib` shares.
#include "cli.h"

#include "qsearch/data.h"
#include "qsearch/ir.h"
#include "qsearch/quant.h"

#include <string.h>

int cli_quantize_graph(const struct cli_args *args, qs_graph_t *graph, qs_calib_t **calib_out,
                       qs_quantizer_t **quantizer_out) {
    struct qs_diag diag = {{0}};
    struct qs_preprocess pp;
    qs_calib_t *calib = NULL;
    qs_quantizer_t *quant = NULL;
    qs_policy_t *policy = NULL;
    enum qs_status st;
    int code = CLI_EXIT_OK;
    struct qs_quant_options qo = qs_quant_options_default();
    enum qs_calib_algo algo;
    if ((st = qs_calib_algo_parse(args->calib_method, &algo, &diag)) != QS_STATUS_OK) {
        code = cli_error(CLI_EXIT_USAGE, "--calib-method: %s", diag.msg);
        goto done;
    }
    qo.method = qs_calib_method_default(algo);
    if ((st = qs_preprocess_parse(args->preprocess, &pp, &diag)) != QS_STATUS_OK ||
        (args->policy && (st = qs_policy_load(args->policy, &policy, &diag)) != QS_STATUS_OK)) {
        code = cli_fail(st, &diag, NULL);
        goto done;
    }
    struct qs_calib_options co = qs_calib_options_default();
    co.batch = (int)args->batch;
    co.threads = args->threads > 0 ? (int)args->threads : 1;
    if ((st = qs_calib_create(graph, &co, &calib, &diag)) != QS_STATUS_OK ||
        (st = qs_calib_run_files(calib, args->calib.v, args->calib.n, &pp, args->calib_limit,
                                 &diag)) != QS_STATUS_OK ||
        (st = qs_quantizer_create(graph, calib, &qo, &quant, &diag)) != QS_STATUS_OK) {
        code = cli_fail(st, &diag, NULL);
        goto done;
    }
    if ((st = qs_quantizer_apply(quant, policy, &diag)) != QS_STATUS_OK) {
        code = cli_fail(st, &diag, args->policy);
        goto done;
    }
    cli_note(args, "calibrated on %lld samples (%s); %s", (long long)qs_calib_samples(calib),
             args->calib_method, args->policy ? args->policy : "every layer int8");
done:
    qs_policy_destroy(policy);
    if (code != CLI_EXIT_OK) {
        qs_quantizer_destroy(quant);
        qs_calib_destroy(calib);
        return code;
    }
    *calib_out = calib;
    *quantizer_out = quant;
    return code;
}

int cli_cmd_quantize(const struct cli_args *args) {
    struct qs_diag diag = {{0}};
    qs_graph_t *graph = NULL;
    qs_calib_t *calib = NULL;
    qs_quantizer_t *quant = NULL;
    enum qs_status st;
    int code;
    if ((st = qs_graph_load_onnx(args->model, &graph, &diag)) != QS_STATUS_OK ||
        (st = qs_graph_optimize(graph, QS_PASS_DEFAULT, &diag)) != QS_STATUS_OK) {
        code = cli_fail(st, &diag, args->model);
        goto done;
    }
    size_t fp32_bytes = 0;
    for (int t = 0; t < qs_graph_tensor_count(graph); t++) {
        struct qs_tensor_info ti;
        const void *data;
        if (qs_graph_tensor(graph, t, &ti, &data) != QS_STATUS_OK || !data) continue;
        size_t n = qs_dtype_size(ti.dtype);
        for (int d = 0; d < ti.rank; d++) n *= (size_t)ti.dims[d];
        fp32_bytes += n;
    }
    if ((code = cli_quantize_graph(args, graph, &calib, &quant)) != CLI_EXIT_OK) goto done;
    if ((st = qs_graph_save_onnx(graph, args->out, &diag)) != QS_STATUS_OK) {
        code = cli_fail(st, &diag, args->out);
        goto done;
    }
    int n_layers = qs_graph_layer_count(graph);
    size_t q_bytes = qs_quantizer_model_bytes(quant);
    printf("model       %s\n", args->model);
    printf("calibration %lld samples, %s\n", (long long)qs_calib_samples(calib), args->calib_method);
    printf("policy      %s (%d quantizable layers)\n", args->policy ? args->policy : "all int8",
           n_layers);
    printf("weights     %.1f KiB fp32 -> %.1f KiB (compression %.2fx)\n", fp32_bytes / 1024.0,
           q_bytes / 1024.0, q_bytes ? (double)fp32_bytes / (double)q_bytes : 0.0);
    printf("wrote       %s (QDQ)\n", args->out);
done:
    qs_quantizer_destroy(quant);
    qs_calib_destroy(calib);
    qs_graph_destroy(graph);
    return code;
}
