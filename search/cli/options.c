// The command line as tables: one row per subcommand and one row per option. Parsing,
// defaults, environment variables, bounds and every --help text come from these rows, so
// adding an option is adding a row.
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ON(c) (1u << CLI_CMD_##c)
#define ON_ALL (~0u)
#define ON_CMDS (ON_ALL & ~ON(NONE))

enum opt_type { OPT_FLAG, OPT_INT, OPT_STR, OPT_STRS };

struct cli_option {
    const char *name;   // long name, used as --name
    char short_name;    // -x, or 0
    const char *hint;   // argument placeholder in help ("N", "SPEC"); NULL for flags
    enum opt_type type;
    size_t offset;      // field of struct cli_args
    const char *def;    // default, parsed like a command-line value (NULL: none)
    int64_t min, max;   // bounds of OPT_INT
    uint32_t commands;  // ON(...) mask of the subcommands it applies to
    const char *env;    // environment variable read before the command line, or NULL
    const char *help;
};

#define F(field) offsetof(struct cli_args, field)

static const struct cli_option options[] = {
    {"help", 'h', NULL, OPT_FLAG, F(help), NULL, 0, 0, ON_ALL, NULL,
     "Show this help and exit."},
    {"version", 'V', NULL, OPT_FLAG, F(version), NULL, 0, 0, ON(NONE), NULL,
     "Print the version and exit."},
    {"verbose", 'v', NULL, OPT_FLAG, F(verbose), NULL, 0, 0, ON_CMDS, NULL,
     "Also print the library's informational messages on stderr."},
    {"quiet", 'q', NULL, OPT_FLAG, F(quiet), NULL, 0, 0, ON_CMDS, NULL,
     "Print only results and errors: no progress bar, notes or warnings."},
    {"raw", 0, NULL, OPT_FLAG, F(raw), NULL, 0, 0, ON(INSPECT), NULL,
     "Show the graph as stored in the file, without BatchNorm folding, activation "
     "fusion and the other graph passes."},
    {"calib", 'c', "SPEC", OPT_STRS, F(calib), NULL, 0, 0, ON(EVAL) | ON(QUANTIZE) | ON(PRUNE),
     NULL,
     "Calibration samples (required by quantize; with eval, evaluates the quantized model "
     "on the integer kernels): once per model input, like --inputs."},
    {"policy", 'P', "FILE", OPT_STR, F(policy), NULL, 0, 0,
     ON(EVAL) | ON(QUANTIZE) | ON(LUT) | ON(PRUNE), NULL,
     "Per-layer policy (YAML: layers: {NAME: {w_bits: 8, a_bits: 8}}); layers not listed "
     "stay fp32. Without it every quantizable layer is int8."},
    {"calib-method", 'm', "NAME", OPT_STR, F(calib_method), "minmax", 0, 0,
     ON(EVAL) | ON(QUANTIZE), NULL,
     "How activation ranges are chosen: minmax, avg, ema, percentile, kl, mse or emd."},
    {"calib-limit", 0, "N", OPT_INT, F(calib_limit), "0", 0, INT64_MAX,
     ON(EVAL) | ON(QUANTIZE) | ON(PRUNE), NULL, "Use only the first N calibration samples; 0 = all."},
    {"method", 0, "NAME", OPT_STR, F(prune_method), "magnitude", 0, 0, ON(PRUNE), NULL,
     "magnitude, bias_correction (re-centres each pruned layer's outputs), obs "
     "(SparseGPT reconstruction) or obs_bias_correction (both); all but magnitude need "
     "--calib."},
    {"sequential", 0, NULL, OPT_FLAG, F(prune_sequential), NULL, 0, 0, ON(PRUNE), NULL,
     "Prune layer after layer, each from its inputs in the model pruned so far (obs: "
     "fitted to the dense model's outputs); one calibration run per layer input."},
    {"global", 0, NULL, OPT_FLAG, F(prune_global), NULL, 0, 0, ON(PRUNE), NULL,
     "One magnitude threshold across the unstructured layers instead of each layer's ratio."},
    {"ignore", 0, "NAME", OPT_STRS, F(prune_ignore), NULL, 0, 0, ON(PRUNE), NULL,
     "Never prune this layer: a node name or a POSIX regular expression matching the whole "
     "name (repeatable). The first and last layers and depthwise convolutions are never "
     "pruned."},
    {"inputs", 'i', "SPEC", OPT_STRS, F(inputs), NULL, 0, 0, ON(EVAL), NULL,
     "Input samples (required): once per model input, in the model's input order. Dim 0 "
     "is the sample index. See DATA SPECS."},
    {"labels", 'l', "SPEC", OPT_STR, F(labels), NULL, 0, 0, ON(EVAL), NULL,
     "Integer class labels, one per sample; enables top-1/top-5 accuracy."},
    {"batch", 'b', "N", OPT_INT, F(batch), "32", 1, 65536, ON(EVAL) | ON(QUANTIZE) | ON(PRUNE),
     NULL,
     "Samples per run of the model. A model whose batch is fixed to 1 is tried at N and "
     "run at 1 (with a note) when it cannot take N."},
    {"threads", 't', "N", OPT_INT, F(threads), "1", 0, 1024,
     ON(EVAL) | ON(QUANTIZE) | ON(LUT) | ON(PRUNE),
     "QSEARCH_THREADS",
     "Worker threads; 0 = one per online CPU."},
    {"preprocess", 'p', "STR", OPT_STR, F(preprocess), NULL, 0, 0,
     ON(EVAL) | ON(QUANTIZE) | ON(PRUNE), NULL,
     "Preprocessing of the first model input (the image); other inputs are only converted "
     "to the model's dtype. See PREPROCESSING."},
    {"limit", 'n', "N", OPT_INT, F(limit), "0", 0, INT64_MAX, ON(EVAL), NULL,
     "Use only the first N samples; 0 = all."},
    {"out", 'o', "FILE", OPT_STR, F(out), NULL, 0, 0,
     ON(EVAL) | ON(QUANTIZE) | ON(SEARCH) | ON(LUT) | ON(PRUNE), NULL,
     "eval: write the model's outputs for all samples, concatenated along dim 0, to FILE "
     "as .npy; quantize (required): the QDQ ONNX model. Written to a temporary file and "
     "renamed, so never left half-written. search: the run folder (output_dir)."},
    {"config", 'C', "FILE", OPT_STR, F(config), NULL, 0, 0, ON(SEARCH), NULL,
     "Search configuration (YAML, see configs/README.md); without it, the shipped demo."},
    {"objective", 0, "NAME", OPT_STR, F(objective), NULL, 0, 0, ON(SEARCH), NULL,
     "Reward: acc_first, compress_first, custom, haq, nncf or amc (reward_type)."},
    {"episodes", 0, "N", OPT_STR, F(episodes), NULL, 0, 0, ON(SEARCH), NULL,
     "Most candidates evaluated (max_episode)."},
    {"time-budget", 0, "T", OPT_STR, F(time_budget), NULL, 0, 0, ON(SEARCH), NULL,
     "Stop after this long: seconds or 90s, 10m, 2h (time_budget)."},
    {"seed", 0, "S", OPT_STR, F(seed), NULL, 0, 0, ON(SEARCH), NULL,
     "Seed of every random choice (seed)."},
    {"target", 0, "NAME", OPT_STR, F(target), NULL, 0, 0, ON(SEARCH) | ON(LUT), NULL,
     "Hardware searched for: auto, x86, arm or cuda (target)."},
    {"lut", 0, "TABLE", OPT_STR, F(lut), NULL, 0, 0, ON(SEARCH) | ON(LUT), NULL,
     "Latency table (YAML) of the target (lut)."},
    {"resume", 0, "DIR", OPT_STR, F(resume), NULL, 0, 0, ON(SEARCH), NULL,
     "Continue the killed or finished run in DIR (its config.yaml and journal); flags "
     "such as --episodes still apply."},
    {"defaults", 0, NULL, OPT_FLAG, F(config_defaults), NULL, 0, 0, ON(CONFIG), NULL,
     "Print every config key with its default and a comment (a complete YAML config)."},
    {"readme", 0, NULL, OPT_FLAG, F(config_readme), NULL, 0, 0, ON(CONFIG), NULL,
     "Print the config reference in Markdown (configs/README.md)."},
    {"check", 0, "FILE", OPT_STR, F(config_check), NULL, 0, 0, ON(CONFIG), NULL,
     "Read a config and run every check without searching; errors name FILE:LINE:COLUMN."},
    {"model", 0, "M.onnx", OPT_STRS, F(lut_models), NULL, 0, 0, ON(LUT), NULL,
     "lut: the model whose nodes are measured (build: repeatable) or validated."},
    {"grid", 0, "FILE", OPT_STR, F(lut_grid), NULL, 0, 0, ON(LUT), NULL,
     "lut build: more models to measure, one ONNX path per line ('#' comments)."},
    {"repeats", 0, "N", OPT_INT, F(lut_repeats), "50", 1, 100000, ON(LUT), NULL,
     "lut: timed runs per configuration (median, p10, p90 recorded)."},
    {"rounds", 0, "N", OPT_INT, F(lut_rounds), "1", 1, 64, ON(LUT), NULL,
     "lut validate: measure every candidate N times, interleaved (round 1 of each, then "
     "round 2...), and keep the median of its rounds: the machine's drift over seconds hits "
     "every candidate alike instead of whole candidates."},
    {"bits", 0, "LIST", OPT_STR, F(lut_bits), "8,32", 0, 0, ON(LUT), NULL,
     "lut build: bit widths combined for weights and activations."},
    {"sparsity", 0, "LIST", OPT_STR, F(lut_sparsity), "0", 0, 0, ON(LUT) | ON(PRUNE), NULL,
     "lut build: sparsity levels measured (e.g. 0,0.5,0.7,0.9,0.95); lut validate: the "
     "levels random policies draw from; prune: one sparsity for every layer (no --policy)."},
    {"pattern", 0, "NAME", OPT_STR, F(lut_pattern), "unstructured", 0, 0, ON(LUT) | ON(PRUNE),
     NULL, "lut: sparsity pattern (unstructured, N:M, blockRxC); prune: the pattern of "
     "--sparsity (also channel)."},
    {"mixed", 0, "N", OPT_INT, F(lut_mixed), "4", 0, 1000, ON(LUT), NULL,
     "lut build: random mixed-precision policies measured per model and sparsity besides "
     "the uniform ones (they add the quantize/dequantize at precision boundaries)."},
    {"random", 0, "N", OPT_INT, F(lut_random), "0", 0, 100000, ON(LUT), NULL,
     "lut validate: N random policies (bits and sparsity per layer)."},
    {"force", 0, NULL, OPT_FLAG, F(lut_force), NULL, 0, 0, ON(LUT), NULL,
     "lut validate: use a table measured on another machine."},
};
#define N_OPTIONS (sizeof options / sizeof options[0])

struct cli_command {
    const char *name, *args, *help;
};
static const struct cli_command commands[CLI_CMD_COUNT] = {
    [CLI_CMD_NONE] = {"qsearch", "COMMAND", NULL},
#define CLI_XX(sym, name, args, help) [CLI_CMD_##sym] = {name, args, help},
    CLI_COMMAND_MAP(CLI_XX)
#undef CLI_XX
};

// Per-command text after the options: the formats the command reads (from qsearch/data.h).
static const char data_specs_help[] =
    "DATA SPECS (--inputs, --labels)\n"
    "  PATH.npy                NumPy array, any numeric dtype (converted to the model's).\n"
    "  PATH.pb                 ONNX TensorProto (as in test_data_set_N/input_M.pb).\n"
    "  PATH*ubyte, PATH.idx    MNIST IDX file, e.g. t10k-images-idx3-ubyte.gz.\n"
    "  cifar10:PATH            CIFAR-10 binary: the images, uint8 [N,3,32,32].\n"
    "  cifar10-labels:PATH     the labels of the same file, uint8 [N].\n"
    "  raw:PATH:DTYPE:SHAPE    headerless little-endian data, e.g.\n"
    "                          raw:x.f32:float32:360x1x8x8; one dim may be -1.\n"
    "  raw:PATH:DTYPE          raw 1-D array (labels), e.g. raw:y.u16:uint16.\n"
    "  npy:PATH, pb:PATH, idx:PATH force a format. Any file may be gzip-compressed.\n"
    "  Dim 0 indexes samples; one sample must match the model input without its batch dim\n"
    "  (dims of size 1 aside). Labels are integers, one per sample.\n";
static const char preprocess_help[] =
    "PREPROCESSING (--preprocess), comma-separated, applied left to right\n"
    "  scale=S                 multiply by S first (S may be a fraction: 1/255)\n"
    "  mean=M[:M...]           then subtract per channel (model channel order)\n"
    "  std=S[:S...]            then divide per channel\n"
    "  layout=nhwc|nchw        layout of the data's samples (default nchw)\n"
    "  bgr | rgb               swap channels 0 and 2, or keep them (default)\n"
    "  imagenet                scale=1/255,mean=0.485:0.456:0.406,std=0.229:0.224:0.225\n"
    "  caffe                   bgr,mean=104:117:123\n"
    "  none                    the identity (default)\n";

const char *cli_command_name(enum cli_cmd cmd) {
    return cmd >= 0 && cmd < CLI_CMD_COUNT ? commands[cmd].name : "?";
}

static bool err_fmt(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool err_fmt(char *err, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return false;
}

// Stores `value` into the field of `o`. `what` names the source for messages
// ("option '--batch'", "environment variable QSEARCH_THREADS").
static bool set_value(const struct cli_option *o, const char *value, const char *what,
                      struct cli_args *args, char *err, size_t err_size) {
    char *field = (char *)args + o->offset;
    switch (o->type) {
    case OPT_FLAG:
        *(bool *)field = true;
        return true;
    case OPT_STR:
        if (!*value) return err_fmt(err, err_size, "%s needs a non-empty %s", what, o->hint);
        *(const char **)field = value;
        return true;
    case OPT_STRS: {
        struct cli_strs *list = (struct cli_strs *)field;
        if (!*value) return err_fmt(err, err_size, "%s needs a non-empty %s", what, o->hint);
        if (list->n == CLI_MAX_VALUES)
            return err_fmt(err, err_size, "%s given more than %d times", what, CLI_MAX_VALUES);
        list->v[list->n++] = value;
        return true;
    }
    case OPT_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end || v < o->min || v > o->max) {
            if (o->max == INT64_MAX)
                return err_fmt(err, err_size, "%s expects an integer >= %lld, got '%s'", what,
                               (long long)o->min, value);
            return err_fmt(err, err_size, "%s expects an integer in [%lld, %lld], got '%s'",
                           what, (long long)o->min, (long long)o->max, value);
        }
        *(int64_t *)field = v;
        return true;
    }
    }
    return false;
}

static const struct cli_option *find_long(const char *name, size_t len) {
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strlen(options[i].name) == len && !strncmp(options[i].name, name, len))
            return &options[i];
    return NULL;
}

static const struct cli_option *find_short(char c) {
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (options[i].short_name == c) return &options[i];
    return NULL;
}

static enum cli_cmd find_command(const char *name) {
    for (int c = 1; c < CLI_CMD_COUNT; c++)
        if (!strcmp(commands[c].name, name)) return (enum cli_cmd)c;
    return CLI_CMD_NONE;
}

// The subcommand is the first argument that is neither an option nor an option's value,
// so options may come before it (`qsearch -q eval ...`).
static int locate_command(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) return i + 1 < argc ? i + 1 : -1;
        if (a[0] != '-' || !a[1]) return i;
        const struct cli_option *o = NULL;
        if (a[1] == '-') {
            if (!strchr(a, '=')) o = find_long(a + 2, strlen(a + 2));
        } else if (!a[2]) {
            o = find_short(a[1]);
        }
        if (o && o->type != OPT_FLAG) i++;
    }
    return -1;
}

static bool applies(const struct cli_option *o, enum cli_cmd cmd) {
    return (o->commands >> cmd) & 1u;
}

static bool take_option(const struct cli_option *o, const char *spelled, const char *inline_val,
                        int argc, char **argv, int *i, struct cli_args *args, char *err,
                        size_t err_size) {
    if (!applies(o, args->cmd)) {
        if (args->cmd == CLI_CMD_NONE)
            return err_fmt(err, err_size, "option '%s' needs a command (see 'qsearch --help')",
                           spelled);
        return err_fmt(err, err_size, "option '%s' does not apply to '%s' (see 'qsearch %s "
                       "--help')", spelled, commands[args->cmd].name, commands[args->cmd].name);
    }
    char what[96];
    snprintf(what, sizeof what, "option '%s'", spelled);
    if (o->type == OPT_FLAG) {
        if (inline_val) return err_fmt(err, err_size, "%s takes no value", what);
        return set_value(o, NULL, what, args, err, err_size);
    }
    const char *v = inline_val;
    if (!v) {
        if (*i + 1 >= argc) return err_fmt(err, err_size, "%s needs an argument %s", what, o->hint);
        v = argv[++*i];
    }
    return set_value(o, v, what, args, err, err_size);
}

bool cli_parse(int argc, char **argv, struct cli_args *args, char *err, size_t err_size) {
    memset(args, 0, sizeof *args);
    int cmd_at = locate_command(argc, argv);
    if (cmd_at > 0) {
        args->cmd = find_command(argv[cmd_at]);
        if (args->cmd == CLI_CMD_NONE)
            return err_fmt(err, err_size, "unknown command '%s' (see 'qsearch --help')",
                           argv[cmd_at]);
    } else {
        // `qsearch --objective compress_first`: a search option without a command is the
        // search.
        for (int i = 1; i < argc && args->cmd == CLI_CMD_NONE; i++) {
            const char *a = argv[i], *eq = strchr(a, '=');
            if (strncmp(a, "--", 2) != 0) continue;
            const struct cli_option *o = find_long(a + 2, eq ? (size_t)(eq - a - 2)
                                                              : strlen(a + 2));
            if (o && applies(o, CLI_CMD_SEARCH) && !applies(o, CLI_CMD_NONE))
                args->cmd = CLI_CMD_SEARCH;
        }
    }
    for (size_t k = 0; k < N_OPTIONS; k++) {
        const struct cli_option *o = &options[k];
        if (o->def && !set_value(o, o->def, o->name, args, err, err_size)) return false;
        const char *env = o->env ? getenv(o->env) : NULL;
        if (env && applies(o, args->cmd)) {
            char what[96];
            snprintf(what, sizeof what, "environment variable %s", o->env);
            if (!set_value(o, env, what, args, err, err_size)) return false;
        }
    }

    int positional = 0;
    bool only_positional = false;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (i == cmd_at) continue;
        if (!only_positional && !strcmp(a, "--")) {
            only_positional = true;
            continue;
        }
        if (only_positional || a[0] != '-' || !a[1]) {
            if (args->cmd == CLI_CMD_NONE || args->cmd == CLI_CMD_SEARCH || positional >= 1)
                return err_fmt(err, err_size, "unexpected argument '%s'", a);
            args->model = a;
            positional++;
            continue;
        }
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const struct cli_option *o = find_long(name, len);
            if (!o) {
                return err_fmt(err, err_size, "unknown option '%.*s'%s%s%s", (int)len + 2, a,
                               args->cmd ? " (see 'qsearch " : " (see 'qsearch --help')",
                               args->cmd ? commands[args->cmd].name : "",
                               args->cmd ? " --help')" : "");
            }
            char spelled[80];
            snprintf(spelled, sizeof spelled, "--%s", o->name);
            if (!take_option(o, spelled, eq ? eq + 1 : NULL, argc, argv, &i, args, err,
                             err_size))
                return false;
            continue;
        }
        // Short options: -b32, -b 32, and bundled flags such as -vq.
        for (const char *p = a + 1; *p; p++) {
            const struct cli_option *o = find_short(*p);
            char spelled[3] = {'-', *p, 0};
            if (!o) {
                return err_fmt(err, err_size, "unknown option '%s'%s%s%s", spelled,
                               args->cmd ? " (see 'qsearch " : " (see 'qsearch --help')",
                               args->cmd ? commands[args->cmd].name : "",
                               args->cmd ? " --help')" : "");
            }
            const char *inline_val = NULL;
            if (o->type != OPT_FLAG && p[1]) inline_val = p + 1;
            if (!take_option(o, spelled, inline_val, argc, argv, &i, args, err, err_size))
                return false;
            if (o->type != OPT_FLAG) break;
        }
    }
    if (args->help || args->version) return true;
    if (args->cmd == CLI_CMD_NONE)
        return err_fmt(err, err_size, "no command given (see 'qsearch --help')");
    if (!args->model && args->cmd != CLI_CMD_CONFIG && args->cmd != CLI_CMD_SEARCH)
        return err_fmt(err, err_size, "'%s' needs a %s argument (see 'qsearch %s --help')",
                       commands[args->cmd].name, commands[args->cmd].args,
                       commands[args->cmd].name);
    if (args->cmd == CLI_CMD_EVAL && !args->inputs.n)
        return err_fmt(err, err_size, "'eval' needs --inputs SPEC (see 'qsearch eval --help')");
    if (args->cmd == CLI_CMD_QUANTIZE && !args->calib.n)
        return err_fmt(err, err_size, "'quantize' needs --calib SPEC (see 'qsearch quantize --help')");
    if (args->cmd == CLI_CMD_QUANTIZE && !args->out)
        return err_fmt(err, err_size, "'quantize' needs -o OUT.onnx (see 'qsearch quantize --help')");
    if (args->cmd == CLI_CMD_PRUNE && !args->out)
        return err_fmt(err, err_size, "'prune' needs -o OUT.onnx (see 'qsearch prune --help')");
    if (args->cmd == CLI_CMD_PRUNE && !args->policy && !strcmp(args->lut_sparsity, "0"))
        return err_fmt(err, err_size,
                       "'prune' needs --policy FILE or --sparsity S (see 'qsearch prune --help')");
    if (args->cmd == CLI_CMD_EVAL && args->policy && !args->calib.n)
        return err_fmt(err, err_size, "--policy needs --calib SPEC (the calibration data)");
    if (args->cmd == CLI_CMD_LUT && strcmp(args->model, "build") &&
        strcmp(args->model, "validate"))
        return err_fmt(err, err_size, "'lut' needs 'build' or 'validate', got '%s'", args->model);
    if (args->cmd == CLI_CMD_LUT && !args->lut_models.n && !args->lut_grid)
        return err_fmt(err, err_size, "'lut %s' needs --model M.onnx", args->model);
    if (args->cmd == CLI_CMD_LUT && !strcmp(args->model, "build") && !args->out)
        return err_fmt(err, err_size, "'lut build' needs -o TABLE");
    if (args->cmd == CLI_CMD_LUT && !strcmp(args->model, "validate") && !args->lut)
        return err_fmt(err, err_size, "'lut validate' needs --lut TABLE");
    if (args->verbose && args->quiet)
        return err_fmt(err, err_size, "options '--verbose' and '--quiet' exclude each other");
    return true;
}

// Writes `text` wrapped to `width` columns, every line indented by `indent` spaces; the
// first line continues at column `col`.
static void wrap(FILE *f, const char *text, int col, int indent, int width) {
    const char *p = text;
    while (*p) {
        while (*p == ' ') p++;
        const char *w = p;
        while (*w && *w != ' ') w++;
        int len = (int)(w - p);
        if (col > indent && col + 1 + len > width) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fprintf(f, "%.*s", len, p);
        col += len;
        p = w;
    }
    fputc('\n', f);
}

static void print_options(enum cli_cmd cmd, FILE *f) {
    enum { HELP_COL = 26, WIDTH = 92 };
    for (size_t k = 0; k < N_OPTIONS; k++) {
        const struct cli_option *o = &options[k];
        if (!applies(o, cmd)) continue;
        int col = fprintf(f, "  %c%c%s--%s%s%s", o->short_name ? '-' : ' ',
                          o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ",
                          o->name, o->hint ? " " : "", o->hint ? o->hint : "");
        if (col >= HELP_COL - 1) {
            fprintf(f, "\n");
            col = 0;
        }
        fprintf(f, "%*s", HELP_COL - col, "");
        char text[512];
        int n = snprintf(text, sizeof text, "%s", o->help);
        if (o->def && o->type == OPT_INT && n < (int)sizeof text)
            n += snprintf(text + n, sizeof text - (size_t)n, " Default: %s.", o->def);
        if (o->env && n < (int)sizeof text)
            snprintf(text + n, sizeof text - (size_t)n, " Environment: %s.", o->env);
        wrap(f, text, HELP_COL, HELP_COL, WIDTH);
    }
}

void cli_print_help(enum cli_cmd cmd, FILE *f) {
    if (cmd == CLI_CMD_NONE) {
        fprintf(f,
                "qsearch %s: automated quantization search for neural networks.\n\n"
                "usage: qsearch COMMAND [options]\n"
                "       qsearch --help | --version\n\n"
                "commands:\n",
                QS_VERSION_STRING);
        for (int c = 1; c < CLI_CMD_COUNT; c++) {
            int col = fprintf(f, "  %s %s", commands[c].name, commands[c].args);
            fprintf(f, "%*s", col < 26 ? 26 - col : 1, "");
            wrap(f, commands[c].help, 26, 26, 92);
        }
        fprintf(f, "\noptions:\n");
        print_options(CLI_CMD_NONE, f);
        fprintf(f, "\nRun 'qsearch COMMAND --help' for the options of a command.\n"
                   "Exit codes: 0 ok, 1 runtime failure, 2 usage/config/input error, "
                   "3 unsupported hardware (search: thresholds not met).\n");
        return;
    }
    const struct cli_command *c = &commands[cmd];
    fprintf(f, "usage: qsearch %s %s", c->name, c->args);
    // Required options appear in the usage line.
    if (cmd == CLI_CMD_EVAL) fprintf(f, " --inputs SPEC");
    if (cmd == CLI_CMD_QUANTIZE) fprintf(f, " --calib SPEC -o OUT.onnx");
    if (cmd == CLI_CMD_PRUNE) fprintf(f, " --policy FILE|--sparsity S -o OUT.onnx");
    fprintf(f, " [options]\n\n");
    wrap(f, c->help, 0, 0, 92);
    fprintf(f, "\noptions:\n");
    print_options(cmd, f);
    if (cmd == CLI_CMD_EVAL || cmd == CLI_CMD_QUANTIZE || cmd == CLI_CMD_PRUNE) {
        fprintf(f, "\n%s", data_specs_help);
        fprintf(f, "\n%s", preprocess_help);
    }
}
