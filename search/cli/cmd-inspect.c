// qsearch inspect MODEL: one row per node (shapes at batch 1, parameters, FLOPs, fused
// activation), the totals, and the quantizable layers the search works on. The "fused"
// column also shows the residual Adds a session fuses into the fp32 Conv before them (the
// graph keeps them as nodes): "Add+Relu" on the Conv, "into <conv>" on the Add and Relu.
#include "cli.h"
#include "qsearch/ir.h"

#include <stdlib.h>
#include <string.h>

enum { SHAPES_MAX = 256, FUSED_MAX = 64 };

static void tensor_line(const char *what, const struct qs_tensor_info *t) {
    char shape[128];
    printf("%-8s %s %s %s\n", what, t->name ? t->name : "?", qs_dtype_name(t->dtype),
           cli_format_shape(t->dims, t->rank, shape, sizeof shape));
}

// "[1,16,8,8] [16,1,3,3] [16]": up to the first four inputs, "+k" for the rest.
static void join_shapes(const struct qs_tensor_info *t, int shown, int total, char *buf,
                        size_t size) {
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < shown && n < size; i++) {
        char s[96];
        cli_format_shape(t[i].dims, t[i].rank, s, sizeof s);
        n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? " " : "", s);
    }
    if (total > shown && n < size) snprintf(buf + n, size - n, " +%d", total - shown);
}

// 1234567 -> "1,234,567".
static char *thousands(int64_t v, char *buf, size_t size) {
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
    size_t n = 0;
    if (v < 0 && n + 1 < size) buf[n++] = '-';
    for (int i = 0; i < len && n + 2 < size; i++) {
        if (i && (len - i) % 3 == 0) buf[n++] = ',';
        buf[n++] = digits[i];
    }
    buf[n] = 0;
    return buf;
}

static bool same_name(const char *a, const char *b) { return a && b && !strcmp(a, b); }

// Fills fused[i] for the graph nodes that a batch-1 session runs as one Conv with a residual
// Add (ir/session.c): what the Conv node runs fused, and "into <conv>" for the Add and the
// Relu it takes along. A model that cannot run here shows none.
static void session_fusions(qs_graph_t *g, char (*fused)[FUSED_MAX]) {
    qs_session_t *s = NULL;
    struct qs_diag d = {{0}};
    if (qs_session_create(g, NULL, &s, &d) != QS_STATUS_OK) return;
    const int n_nodes = qs_graph_node_count(g);
    for (int e = 0; e < qs_session_exec_count(s); e++) {
        struct qs_prof_node pn;
        if (qs_session_exec_info(s, e, &pn) != QS_STATUS_OK || !pn.fused_activation ||
            strncmp(pn.fused_activation, "Add", 3) != 0 || pn.n_inputs < 4)
            continue;
        // The Conv: same input and weight; then the Add reading its output, and the Relu
        // writing what the fused node writes.
        const char *conv_out = NULL, *conv_name = NULL;
        for (int i = 0; i < n_nodes && !conv_out; i++) {
            struct qs_node_info ni;
            if (qs_graph_node_info(g, i, &ni) != QS_STATUS_OK || strcmp(ni.op_type, "Conv") ||
                ni.n_inputs < 2 || !same_name(ni.inputs[0].name, pn.inputs[0].name) ||
                !same_name(ni.inputs[1].name, pn.inputs[1].name) || ni.n_outputs < 1)
                continue;
            conv_out = ni.outputs[0].name;
            conv_name = ni.name && ni.name[0] ? ni.name : conv_out;
            snprintf(fused[i], FUSED_MAX, "%s", pn.fused_activation);
        }
        for (int i = 0; i < n_nodes && conv_out; i++) {
            struct qs_node_info ni;
            if (qs_graph_node_info(g, i, &ni) != QS_STATUS_OK) continue;
            bool add = !strcmp(ni.op_type, "Add") && ni.n_inputs == 2 &&
                       (same_name(ni.inputs[0].name, conv_out) ||
                        same_name(ni.inputs[1].name, conv_out));
            bool relu = !strcmp(ni.op_type, "Relu") && !strcmp(pn.fused_activation, "Add+Relu") &&
                        ni.n_outputs == 1 && same_name(ni.outputs[0].name, pn.outputs[0].name);
            if (add || relu) snprintf(fused[i], FUSED_MAX, "into %s", conv_name);
        }
    }
    qs_session_destroy(s);
}

static const char *layer_kind_name(enum qs_layer_kind k) {
    switch (k) {
    case QS_LAYER_CONV:
        return "Conv";
    case QS_LAYER_GEMM:
        return "Gemm";
    case QS_LAYER_MATMUL:
        return "MatMul";
    }
    return "?";
}

int cli_cmd_inspect(const struct cli_args *args) {
    struct qs_diag diag = {{0}};
    qs_graph_t *g = NULL;
    struct row {
        char ins[SHAPES_MAX], outs[SHAPES_MAX];
    } *rows = NULL;
    char (*fused)[FUSED_MAX] = NULL;
    enum qs_status st = qs_graph_load_onnx(args->model, &g, &diag);
    if (st != QS_STATUS_OK) return cli_fail(st, &diag, args->model);
    if (!args->raw) {
        st = qs_graph_optimize(g, QS_PASS_DEFAULT, &diag);
        if (st != QS_STATUS_OK) {
            int code = cli_fail(st, &diag, args->model);
            qs_graph_destroy(g);
            return code;
        }
    }

    printf("model    %s\nopset    %d\npasses   %s\n", args->model, qs_graph_opset(g),
           args->raw ? "none (--raw: the graph as stored)"
                     : "default (constants and BatchNorm folded, activations fused; residual "
                       "Adds fused into Convs when run)");
    for (int i = 0; i < qs_graph_input_count(g); i++) {
        struct qs_tensor_info t;
        if (qs_graph_input_info(g, i, &t) == QS_STATUS_OK) tensor_line("input", &t);
    }
    for (int i = 0; i < qs_graph_output_count(g); i++) {
        struct qs_tensor_info t;
        if (qs_graph_output_info(g, i, &t) == QS_STATUS_OK) tensor_line("output", &t);
    }

    // Column widths come from the data, so the table is measured first.
    int n_nodes = qs_graph_node_count(g);
    rows = calloc(n_nodes > 0 ? (size_t)n_nodes : 1, sizeof *rows);
    fused = calloc(n_nodes > 0 ? (size_t)n_nodes : 1, sizeof *fused);
    if (!rows || !fused) {
        free(rows);
        free(fused);
        qs_graph_destroy(g);
        return cli_fail(QS_STATUS_NOMEM, NULL, NULL);
    }
    if (!args->raw) session_fusions(g, fused);
    int w_name = 4, w_op = 2, w_in = 6, w_out = 7;
    int64_t total_params = 0, total_flops = 0;
    for (int i = 0; i < n_nodes; i++) {
        struct qs_node_info ni;
        if (qs_graph_node_info(g, i, &ni) != QS_STATUS_OK) continue;
        join_shapes(ni.inputs, ni.n_inputs < 4 ? ni.n_inputs : 4, ni.n_inputs, rows[i].ins,
                    SHAPES_MAX);
        join_shapes(ni.outputs, ni.n_outputs < 2 ? ni.n_outputs : 2, ni.n_outputs,
                    rows[i].outs, SHAPES_MAX);
        int l;
        if ((l = (int)strlen(ni.name ? ni.name : "")) > w_name) w_name = l;
        if ((l = (int)strlen(ni.op_type)) > w_op) w_op = l;
        if ((l = (int)strlen(rows[i].ins)) > w_in) w_in = l;
        if ((l = (int)strlen(rows[i].outs)) > w_out) w_out = l;
        total_params += ni.params;
        total_flops += ni.flops;
    }
    if (w_name > 40) w_name = 40;
    int w_idx = snprintf(NULL, 0, "%d", n_nodes);
    if (w_idx < 1) w_idx = 1;

    printf("\n%*s  %-*s  %-*s  %-*s  %-*s  %12s  %10s  %s\n", w_idx, "#", w_name, "node", w_op,
           "op", w_in, "inputs", w_out, "outputs", "params", "FLOPs", "fused");
    for (int i = 0; i < n_nodes; i++) {
        struct qs_node_info ni;
        if (qs_graph_node_info(g, i, &ni) != QS_STATUS_OK) continue;
        char p[32], f[32];
        printf("%*d  %-*s  %-*s  %-*s  %-*s  %12s  %10s  %s\n", w_idx, i, w_name,
               ni.name ? ni.name : "", w_op, ni.op_type, w_in, rows[i].ins, w_out, rows[i].outs,
               thousands(ni.params, p, sizeof p), cli_format_count((double)ni.flops, f, sizeof f),
               fused[i][0] ? fused[i] : ni.fused_activation ? ni.fused_activation : "-");
    }

    int n_layers = qs_graph_layer_count(g);
    char p[32], f[32], kib[32];
    snprintf(kib, sizeof kib, "%.1f KiB", (double)total_params * 4.0 / 1024.0);
    printf("\ntotals: %d nodes, %s params (%s as fp32), %s FLOPs at batch 1, "
           "%d quantizable layers\n",
           n_nodes, thousands(total_params, p, sizeof p), kib,
           cli_format_count((double)total_flops, f, sizeof f), n_layers);
    if (n_layers > 0) {
        int w_lname = 4;
        for (int i = 0; i < n_layers; i++) {
            struct qs_layer_info li;
            if (qs_graph_layer_info(g, i, &li) != QS_STATUS_OK) continue;
            int l = (int)strlen(li.name ? li.name : "");
            if (l > w_lname) w_lname = l;
        }
        if (w_lname > 40) w_lname = 40;
        printf("\nquantizable layers:\n%*s  %-*s  %-6s  %6s  %6s  %6s  %6s  %6s  %-11s  %-11s  "
               "%10s  %10s\n",
               w_idx, "#", w_lname, "name", "kind", "c_in", "c_out", "kernel", "stride",
               "groups", "in", "out", "params", "FLOPs");
        for (int i = 0; i < n_layers; i++) {
            struct qs_layer_info li;
            if (qs_graph_layer_info(g, i, &li) != QS_STATUS_OK) continue;
            char kern[24], stride[24], in[32], out[32];
            snprintf(kern, sizeof kern, "%lldx%lld", (long long)li.kernel_h,
                     (long long)li.kernel_w);
            snprintf(stride, sizeof stride, "%lldx%lld", (long long)li.stride_h,
                     (long long)li.stride_w);
            snprintf(in, sizeof in, "%lldx%lld", (long long)li.in_h, (long long)li.in_w);
            snprintf(out, sizeof out, "%lldx%lld", (long long)li.out_h, (long long)li.out_w);
            char kind[16];
            snprintf(kind, sizeof kind, "%s%s", layer_kind_name(li.kind),
                     li.depthwise ? "/dw" : "");
            printf("%*d  %-*s  %-6s  %6lld  %6lld  %6s  %6s  %6lld  %-11s  %-11s  %10s  %10s\n",
                   w_idx, i, w_lname, li.name ? li.name : "", kind, (long long)li.c_in,
                   (long long)li.c_out, kern, stride, (long long)li.groups, in, out,
                   thousands(li.params, p, sizeof p),
                   cli_format_count((double)li.flops, f, sizeof f));
        }
    }
    free(rows);
    free(fused);
    qs_graph_destroy(g);
    return CLI_EXIT_OK;
}
