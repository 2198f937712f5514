// qsearch eval MODEL --inputs SPEC [--labels SPEC]: runs the fp32 model over a data set in
// batches, reports top-1/top-5 accuracy and throughput, optionally saves the outputs.
#include "cli.h"
#include "qsearch/data.h"
#include "qsearch/ir.h"
#include "qsearch/quant.h"
#include "search/evaluator.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct eval {
    const struct cli_args *args;
    struct qs_diag diag;
    qs_graph_t *graph;
    qs_calib_t *calib;       // --calib: the quantized model runs on the integer kernels
    qs_quantizer_t *quant;
    qs_session_t *session;
    struct qs_dataset ds;
    struct qs_preprocess pp;
    int64_t batch;      // as bound in the session
    int threads;
    int64_t classes;    // elements of output 0 per sample
    int n_outputs;
    struct qs_array outs[CLI_MAX_VALUES];  // --out: every output for all samples
    int64_t top1, top5;
    double run_seconds;
    bool progress;
    double progress_at;  // when the bar was last drawn
};

static int64_t numel(const struct qs_tensor_info *t) {
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->dims[i];
    return n;
}

static void progress(struct eval *e, int64_t done, int64_t total) {
    if (!e->progress) return;
    // A terminal redrawn thousands of times a second slows the run; 10 Hz is enough.
    double t = cli_now();
    if (done != 0 && done != total && t - e->progress_at < 0.1) return;
    e->progress_at = t;
    enum { WIDTH = 30 };
    int fill = total ? (int)(WIDTH * done / total) : WIDTH;
    fprintf(stderr, "\r%-5s [%.*s%*s] %lld/%lld", "eval", fill,
            "##############################", WIDTH - fill, "", (long long)done,
            (long long)total);
    if (done == total) fputs("\r\033[K", stderr);
    fflush(stderr);
}

// Creates the session at --batch (never more than the sample count). A model whose batch
// is fixed to 1 may not take another batch (e.g. a Reshape to a constant [1,...]); then it
// runs at batch 1 with a note.
static enum qs_status create_session(struct eval *e) {
    const struct cli_args *a = e->args;
    struct qs_session_options so = qs_session_options_default();
    int64_t want = a->batch < e->ds.count ? a->batch : e->ds.count;
    so.batch = (int)want;
    e->threads = a->threads > 0 ? (int)a->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (e->threads < 1) e->threads = 1;
    so.threads = e->threads;
    enum qs_status st = qs_session_create(e->graph, &so, &e->session, &e->diag);
    if (st != QS_STATUS_OK && want > 1 && st != QS_STATUS_NOMEM) {
        struct qs_tensor_info in;
        if (qs_graph_input_info(e->graph, 0, &in) == QS_STATUS_OK && in.rank > 0 &&
            in.dims[0] == 1) {
            cli_note(a, "%s: batch fixed to 1 in the model and batch %lld failed (%s); "
                     "running at batch 1", a->model, (long long)want, e->diag.msg);
            e->diag.msg[0] = 0;
            so.batch = 1;
            st = qs_session_create(e->graph, &so, &e->session, &e->diag);
        }
    }
    return st;
}

// Checks every input against the model and the labels against the class count before
// anything runs, so that data errors come first and name their file.
static int check_data(struct eval *e) {
    const struct cli_args *a = e->args;
    int n_in = qs_graph_input_count(e->graph);
    if (e->ds.n_inputs != n_in) {
        return cli_error(CLI_EXIT_USAGE, "%s: the model has %d input%s but --inputs was given "
                         "%d time%s", a->model, n_in, n_in == 1 ? "" : "s", e->ds.n_inputs,
                         e->ds.n_inputs == 1 ? "" : "s");
    }
    for (int i = 0; i < n_in; i++) {
        struct qs_tensor_info in;
        qs_session_input_info(e->session, i, &in);
        struct qs_preprocess id = qs_preprocess_default();
        enum qs_status st = qs_preprocess_check(i == 0 ? &e->pp : &id, &e->ds.inputs[i],
                                                e->ds.input_names[i], &in, &e->diag);
        if (st != QS_STATUS_OK) return cli_fail(st, &e->diag, e->ds.input_names[i]);
    }
    struct qs_tensor_info out;
    qs_session_output_info(e->session, 0, &out);
    if (out.rank < 1 || out.dims[0] != e->batch) {
        if (e->ds.labels.data || a->out)
            return cli_error(CLI_EXIT_USAGE, "%s: output '%s' has no batch dimension",
                             a->model, out.name);
    }
    e->classes = numel(&out) / (e->batch > 0 ? e->batch : 1);
    if (e->ds.labels.data) {
        if (out.dtype != QS_DTYPE_F32)
            return cli_error(CLI_EXIT_USAGE, "%s: output '%s' is %s; accuracy needs float32 "
                             "scores", a->model, out.name, qs_dtype_name(out.dtype));
        const int64_t *lab = e->ds.labels.data;
        for (int64_t i = 0; i < e->ds.count; i++) {
            if (lab[i] >= e->classes)
                return cli_error(CLI_EXIT_USAGE, "'%s': label %lld of sample %lld is out of "
                                 "range for the model's %lld classes", e->ds.labels_name,
                                 (long long)lab[i], (long long)i, (long long)e->classes);
        }
    }
    return CLI_EXIT_OK;
}

static enum qs_status alloc_outputs(struct eval *e) {
    e->n_outputs = qs_graph_output_count(e->graph);
    if (e->n_outputs > CLI_MAX_VALUES) e->n_outputs = CLI_MAX_VALUES;
    for (int j = 0; j < e->n_outputs; j++) {
        struct qs_tensor_info out;
        qs_session_output_info(e->session, j, &out);
        if (out.rank < 1 || out.dims[0] != e->batch)
            return QS_STATUS_UNSUPPORTED;
        int64_t dims[QS_MAX_RANK];
        memcpy(dims, out.dims, sizeof dims);
        dims[0] = e->ds.count;
        enum qs_status st = qs_array_alloc(&e->outs[j], out.dtype, out.rank, dims, &e->diag);
        if (st != QS_STATUS_OK) return st;
    }
    return QS_STATUS_OK;
}

static enum qs_status run_batches(struct eval *e) {
    int64_t nb = qs_dataset_batch_count(&e->ds, e->batch);
    struct qs_preprocess id = qs_preprocess_default();
    progress(e, 0, e->ds.count);
    for (int64_t b = 0; b < nb; b++) {
        int64_t begin, count;
        qs_dataset_batch_range(&e->ds, e->batch, b, &begin, &count);
        for (int i = 0; i < e->ds.n_inputs; i++) {
            struct qs_tensor_info in;
            qs_session_input_info(e->session, i, &in);
            enum qs_status st = qs_dataset_fill(&e->ds, i, i == 0 ? &e->pp : &id, begin, count,
                                                &in, qs_session_input_data(e->session, i),
                                                &e->diag);
            if (st != QS_STATUS_OK) return st;
        }
        double t0 = cli_now();
        enum qs_status st = qs_session_run(e->session, &e->diag);
        e->run_seconds += cli_now() - t0;
        if (st != QS_STATUS_OK) return st;

        if (e->ds.labels.data) {
            const float *y = qs_session_output_data(e->session, 0);
            const int64_t *lab = e->ds.labels.data;
            for (int64_t i = 0; i < count; i++) {
                int64_t r = qs__label_rank(y + i * e->classes, e->classes, lab[begin + i]);
                e->top1 += r == 0;
                e->top5 += r < 5;
            }
        }
        for (int j = 0; j < e->n_outputs && e->outs[j].data; j++) {
            size_t row = e->outs[j].nbytes / (size_t)e->ds.count;
            memcpy((char *)e->outs[j].data + (size_t)begin * row,
                   qs_session_output_data(e->session, j), (size_t)count * row);
        }
        progress(e, begin + count, e->ds.count);
    }
    return QS_STATUS_OK;
}

// A --out path in a missing or read-only folder is a usage error found before the run,
// not after minutes of work.
static int check_out_dir(const char *out) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    if (access(dir, W_OK | X_OK) != 0)
        return cli_error(CLI_EXIT_USAGE, "'%s': cannot write into folder '%s': %s", out, dir,
                         strerror(errno));
    return CLI_EXIT_OK;
}

// Output j > 0 of a multi-output model goes to OUT with ".<j>" before ".npy".
static void out_path(const char *out, int j, char *buf, size_t size) {
    if (j == 0) {
        snprintf(buf, size, "%s", out);
        return;
    }
    size_t len = strlen(out);
    if (len > 4 && !strcmp(out + len - 4, ".npy"))
        snprintf(buf, size, "%.*s.%d.npy", (int)(len - 4), out, j);
    else
        snprintf(buf, size, "%s.%d.npy", out, j);
}

static void report(const struct eval *e) {
    int threads = e->threads;
    const struct cli_args *a = e->args;
    char shape[128], pp[256];
    printf("model       %s\n", a->model);
    for (int i = 0; i < e->ds.n_inputs; i++) {
        const struct qs_array *x = &e->ds.inputs[i];
        printf("%-11s %s: %s %s\n", i ? "" : "inputs", e->ds.input_names[i],
               qs_dtype_name(x->dtype), cli_format_shape(x->dims, x->rank, shape, sizeof shape));
    }
    if (e->ds.labels_name) printf("labels      %s\n", e->ds.labels_name);
    printf("preprocess  %s\n", qs_preprocess_format(&e->pp, pp, sizeof pp));
    int64_t nb = qs_dataset_batch_count(&e->ds, e->batch);
    printf("samples     %lld in %lld batch%s of %lld, %d thread%s\n", (long long)e->ds.count,
           (long long)nb, nb == 1 ? "" : "es", (long long)e->batch, threads,
           threads == 1 ? "" : "s");
    if (e->ds.labels.data) {
        double n = (double)e->ds.count;
        printf("top-1       %.2f %% (%lld/%lld)\n", 100.0 * (double)e->top1 / n,
               (long long)e->top1, (long long)e->ds.count);
        if (e->classes > 5)
            printf("top-5       %.2f %% (%lld/%lld)\n", 100.0 * (double)e->top5 / n,
                   (long long)e->top5, (long long)e->ds.count);
    }
    double t = e->run_seconds > 0 ? e->run_seconds : 1e-9;
    printf("throughput  %.1f images/s, %.3f ms/batch (model runs only)\n",
           (double)e->ds.count / t, 1e3 * t / (double)(nb > 0 ? nb : 1));
    if (a->out) {
        for (int j = 0; j < e->n_outputs; j++) {
            char path[4096];
            out_path(a->out, j, path, sizeof path);
            printf("%-11s %s: %s %s\n", j ? "" : "outputs", path,
                   qs_dtype_name(e->outs[j].dtype),
                   cli_format_shape(e->outs[j].dims, e->outs[j].rank, shape, sizeof shape));
        }
    }
}

int cli_cmd_eval(const struct cli_args *args) {
    struct eval e = {.args = args};
    int code = CLI_EXIT_OK;
    enum qs_status st;

    e.progress = !args->quiet && isatty(STDERR_FILENO);
    if (args->out && (code = check_out_dir(args->out)) != CLI_EXIT_OK) goto done;
    if ((st = qs_preprocess_parse(args->preprocess, &e.pp, &e.diag)) != QS_STATUS_OK) {
        code = cli_fail(st, &e.diag, NULL);
        goto done;
    }
    if ((st = qs_graph_load_onnx(args->model, &e.graph, &e.diag)) != QS_STATUS_OK ||
        (st = qs_graph_optimize(e.graph, QS_PASS_DEFAULT, &e.diag)) != QS_STATUS_OK) {
        code = cli_fail(st, &e.diag, args->model);
        goto done;
    }
    if (args->calib.n &&
        (code = cli_quantize_graph(args, e.graph, &e.calib, &e.quant)) != CLI_EXIT_OK)
        goto done;
    st = qs_dataset_load(&e.ds, args->inputs.v, args->inputs.n, args->labels, &e.diag);
    if (st != QS_STATUS_OK) {
        code = cli_fail(st, &e.diag, NULL);
        goto done;
    }
    if (args->limit > 0 && args->limit < e.ds.count) e.ds.count = args->limit;

    if ((st = create_session(&e)) != QS_STATUS_OK) {
        code = cli_fail(st, &e.diag, args->model);
        goto done;
    }
    struct qs_tensor_info in;
    qs_session_input_info(e.session, 0, &in);
    e.batch = in.rank > 0 ? in.dims[0] : 1;
    if ((code = check_data(&e)) != CLI_EXIT_OK) goto done;
    if (args->out) {
        st = alloc_outputs(&e);
        if (st == QS_STATUS_UNSUPPORTED) {
            code = cli_error(CLI_EXIT_USAGE, "%s: --out needs outputs whose dim 0 is the batch",
                             args->model);
            goto done;
        }
        if (st != QS_STATUS_OK) {
            code = cli_fail(st, &e.diag, NULL);
            goto done;
        }
    }

    st = run_batches(&e);
    if (e.progress && st != QS_STATUS_OK) fputs("\r\033[K", stderr);
    if (st != QS_STATUS_OK) {
        code = cli_fail(st, &e.diag, NULL);
        goto done;
    }
    for (int j = 0; j < e.n_outputs && args->out; j++) {
        char path[4096];
        out_path(args->out, j, path, sizeof path);
        if ((st = qs_array_save_npy(path, &e.outs[j], &e.diag)) != QS_STATUS_OK) {
            // The data is fine; failing to write it is a runtime failure, not a usage one.
            cli_fail(st, &e.diag, path);
            code = CLI_EXIT_FAILURE;
            goto done;
        }
    }
    report(&e);
done:
    for (int j = 0; j < CLI_MAX_VALUES; j++) qs_array_free(&e.outs[j]);
    qs_dataset_free(&e.ds);
    qs_session_destroy(e.session);
    qs_quantizer_destroy(e.quant);
    qs_calib_destroy(e.calib);
    qs_graph_destroy(e.graph);
    return code;
}
