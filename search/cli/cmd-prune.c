// `qsearch prune`: prune a model per layer (a policy file, or one sparsity for every
// prunable layer), with magnitude, bias correction or OBS reconstruction on calibration
// data, and write the pruned fp32 ONNX model (pruned weights are zeros in the file).
#include "cli.h"

#include "qsearch/data.h"
#include "qsearch/ir.h"
#include "qsearch/sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// A policy with the same sparsity and pattern for every layer (the pruner's skip rules
// decide which of them it prunes).
static enum qs_status uniform_policy(const qs_graph_t *g, float sparsity, const char *pattern,
                                     qs_policy_t **out, struct qs_diag *diag) {
    qs_policy_t *p;
    enum qs_status st = qs_policy_create(&p);
    if (st) return st;
    for (int i = 0; i < qs_graph_layer_count(g) && !st; i++) {
        struct qs_layer_info li;
        if ((st = qs_graph_layer_info(g, i, &li))) break;
        struct qs_layer_policy lp = qs_layer_policy_default();
        lp.sparsity = sparsity;
        snprintf(lp.pattern, sizeof lp.pattern, "%s", pattern ? pattern : "unstructured");
        st = qs_policy_set(p, li.name, &lp, diag);
    }
    if (st) {
        qs_policy_destroy(p);
        return st;
    }
    *out = p;
    return QS_STATUS_OK;
}

int cli_cmd_prune(const struct cli_args *args) {
    struct qs_diag diag = {{0}};
    qs_graph_t *graph = NULL;
    qs_policy_t *policy = NULL;
    qs_pruner_t *pruner = NULL;
    struct qs_dataset ds = {0};
    enum qs_status st;
    int code = CLI_EXIT_OK;
    struct qs_prune_options po = qs_prune_options_default();
    if ((st = qs_prune_method_parse(args->prune_method, &po.method, &diag)) != QS_STATUS_OK)
        return cli_error(CLI_EXIT_USAGE, "--method: %s", diag.msg);
    float sparsity = 0.0f;
    if (!args->policy) {
        char *end;
        double s = strtod(args->lut_sparsity ? args->lut_sparsity : "0", &end);
        if (*end || !(s > 0.0 && s <= 0.95))
            return cli_error(CLI_EXIT_USAGE,
                             "--sparsity: '%s' is not a number in (0, 0.95] (one sparsity for "
                             "every prunable layer)", args->lut_sparsity);
        sparsity = (float)s;
        struct qs_prune_pattern pat;
        if (qs_prune_pattern_parse(args->lut_pattern, &pat, &diag) != QS_STATUS_OK)
            return cli_error(CLI_EXIT_USAGE, "--pattern: %s", diag.msg);
    }
    if (po.method != QS_PRUNE_MAGNITUDE && !args->calib.n)
        return cli_error(CLI_EXIT_USAGE, "--method %s needs --calib SPEC (calibration data)",
                         args->prune_method);
    po.global = args->prune_global;
    po.ignore = args->prune_ignore.v;
    po.n_ignore = args->prune_ignore.n;
    po.batch = (int)args->batch;
    po.threads = args->threads > 0 ? (int)args->threads : 1;
    struct qs_preprocess pp;
    if ((st = qs_preprocess_parse(args->preprocess, &pp, &diag)) != QS_STATUS_OK)
        return cli_error(CLI_EXIT_USAGE, "--preprocess: %s", diag.msg);

    if ((st = qs_graph_load_onnx(args->model, &graph, &diag)) != QS_STATUS_OK ||
        (st = qs_graph_optimize(graph, QS_PASS_DEFAULT, &diag)) != QS_STATUS_OK) {
        code = cli_fail(st, &diag, args->model);
        goto done;
    }
    if (args->policy) {
        if ((st = qs_policy_load(args->policy, &policy, &diag)) != QS_STATUS_OK ||
            (st = qs_policy_check(policy, graph, &diag)) != QS_STATUS_OK) {
            code = cli_fail(st, &diag, args->policy);
            goto done;
        }
    } else if ((st = uniform_policy(graph, sparsity, args->lut_pattern, &policy, &diag))) {
        code = cli_fail(st, &diag, NULL);
        goto done;
    }
    if ((st = qs_pruner_create(graph, &po, &pruner, &diag)) != QS_STATUS_OK) {
        code = cli_fail(st, &diag, NULL);
        goto done;
    }
    double t0 = cli_now();
    if (args->calib.n) {
        if ((st = qs_dataset_load(&ds, args->calib.v, args->calib.n, NULL, &diag)) !=
                QS_STATUS_OK ||
            (st = qs_pruner_calibrate(pruner, &ds, &pp, args->calib_limit, &diag)) !=
                QS_STATUS_OK) {
            code = cli_fail(st, &diag, NULL);
            goto done;
        }
    }
    double t1 = cli_now();
    if (args->prune_sequential && !args->calib.n) {
        code = cli_error(CLI_EXIT_USAGE, "--sequential needs --calib SPEC (calibration data)");
        goto done;
    }
    if ((st = args->prune_sequential
                  ? qs_pruner_apply_sequential(pruner, policy, &ds, &pp, args->calib_limit, &diag)
                  : qs_pruner_apply(pruner, policy, &diag)) != QS_STATUS_OK) {
        code = cli_fail(st, &diag, args->policy);
        goto done;
    }
    double t2 = cli_now();
    size_t dense = qs_model_bytes(graph, NULL, &diag);
    size_t bytes = qs_model_bytes(graph, policy, &diag);
    // "channel" layers: the saved model is then shrunk (channels removed, not zeroed)
    bool channels = false;
    for (int i = 0; i < qs_policy_count(policy); i++) {
        const char *name;
        const struct qs_layer_policy *lp;
        if (qs_policy_entry(policy, i, &name, &lp) == QS_STATUS_OK && lp->sparsity > 0.0f &&
            !strcmp(lp->pattern, "channel"))
            channels = true;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.zeroed.onnx", args->out);
    int64_t removed = 0;
    if ((st = qs_graph_save_onnx(graph, channels ? tmp : args->out, &diag)) != QS_STATUS_OK ||
        (channels && (st = qs_prune_shrink_onnx(tmp, args->out, policy, &removed, &diag)) !=
                         QS_STATUS_OK)) {
        if (channels) remove(tmp);
        code = cli_fail(st, &diag, args->out);
        goto done;
    }
    if (channels) remove(tmp);
    int64_t zeros = 0, numel = 0, pruned = 0;
    double worst = 0.0;
    const char *worst_name = NULL;
    for (int i = 0; i < qs_graph_layer_count(graph); i++) {
        struct qs_prune_layer_stats s;
        struct qs_layer_info li;
        if (qs_pruner_layer_stats(pruner, i, &s) != QS_STATUS_OK ||
            qs_graph_layer_info(graph, i, &li) != QS_STATUS_OK)
            continue;
        zeros += s.zeros;
        numel += s.numel;
        pruned += s.pruned;
        if (s.pruned && s.rel_error > worst) {
            worst = s.rel_error;
            worst_name = li.name;
        }
    }
    printf("model       %s\n", args->model);
    printf("method      %s%s", qs_prune_method_name(po.method), po.global ? " (global)" : "");
    if (args->prune_sequential) printf(", sequential");
    if (args->calib.n)
        printf(", calibrated on %lld samples in %.1f s", (long long)(args->calib_limit > 0 &&
               args->calib_limit < ds.count ? args->calib_limit : ds.count), t1 - t0);
    printf("\n");
    printf("policy      %s: %lld of %d layers pruned in %.1f s\n",
           args->policy ? args->policy : "uniform", (long long)pruned,
           qs_graph_layer_count(graph), t2 - t1);
    printf("sparsity    %.2f%% of %lld layer weights are zero\n",
           numel ? 100.0 * (double)zeros / (double)numel : 0.0, (long long)numel);
    if (worst_name)
        printf("worst layer %s (relative output error %.4f on the calibration data)\n",
               worst_name, worst);
    printf("size        %.1f KiB dense -> %.1f KiB sparse (compression %.2fx)\n",
           dense / 1024.0, bytes / 1024.0, bytes ? (double)dense / (double)bytes : 0.0);
    if (channels)
        printf("channels    %lld output channels removed (the rest of the pruned weights are "
               "zeros)\n", (long long)removed);
    printf("wrote       %s (fp32, pruned weights as zeros)\n", args->out);
done:
    qs_pruner_destroy(pruner);
    qs_dataset_free(&ds);
    qs_policy_destroy(policy);
    qs_graph_destroy(graph);
    return code;
}
