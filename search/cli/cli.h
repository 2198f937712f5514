// Internal header of the qsearch command-line tool (search/cli/). The tool is a thin main
// over the public API: these files include only qsearch/*.h headers and the C library.
#pragma once

#include "qsearch/common.h"
#include "qsearch/quant.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/// Process exit codes (README "Exit codes").
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1,  ///< runtime failure (out of memory, numerical error, write error)
    CLI_EXIT_USAGE = 2,    ///< bad command line, config or input file
    CLI_EXIT_HW = 3,       ///< the hardware lacks something required
};

/// Subcommands. CLI_CMD_NONE is `qsearch` without one (only --help / --version).
#define CLI_COMMAND_MAP(XX)                                                              \
    XX(INSPECT, "inspect", "MODEL",                                                      \
       "Print every node of an ONNX model (shapes, parameters, FLOPs) and the totals.")  \
    XX(EVAL, "eval", "MODEL",                                                            \
       "Run an ONNX model on a data set: top-1/top-5 accuracy and throughput.")          \
    XX(QUANTIZE, "quantize", "MODEL",                                                    \
       "Calibrate a model, apply a per-layer int8 policy and write the QDQ ONNX model.")  \
    XX(PRUNE, "prune", "MODEL",                                                          \
       "Prune a model per layer (magnitude, bias correction or OBS reconstruction on "    \
       "calibration data) and write the pruned fp32 ONNX model.")                       \
    XX(SEARCH, "search", "[--config FILE]",                                              \
       "Search per-layer precision and sparsity (config file, or the shipped demo); "     \
       "also run by 'qsearch --objective X'.")  \
    XX(CONFIG, "config", "--check FILE",                                                 \
       "Search configs: print every key with its default (--defaults), the reference "   \
       "(--readme: configs/README.md), or check a config file without searching.")      \
    XX(LUT, "lut", "build|validate",                                                     \
       "Latency tables: measure one on this machine (build), or compare its sums with "   \
       "measured whole-model runs (validate).")

enum cli_cmd {
    CLI_CMD_NONE = 0,
#define CLI_XX(sym, name, args, help) CLI_CMD_##sym,
    CLI_COMMAND_MAP(CLI_XX)
#undef CLI_XX
    CLI_CMD_COUNT
};

/// Most values a repeatable option (--inputs) takes.
#define CLI_MAX_VALUES 8
struct cli_strs {
    int n;
    const char *v[CLI_MAX_VALUES];
};

/// Everything the command line can set. Defaults are in the option table (options.c).
struct cli_args {
    enum cli_cmd cmd;
    bool help, version, verbose, quiet, raw;
    const char *model;       ///< the MODEL positional argument
    struct cli_strs inputs;  ///< --inputs SPEC, once per model input
    const char *labels;      ///< --labels SPEC
    const char *preprocess;  ///< --preprocess STR
    const char *out;         ///< --out FILE.npy (eval), FILE.onnx (quantize)
    int64_t batch, threads, limit;
    struct cli_strs calib;   ///< --calib SPEC, once per model input
    const char *policy;      ///< --policy FILE.yaml
    const char *calib_method;  ///< --calib-method NAME
    int64_t calib_limit;     ///< --calib-limit N
    const char *prune_method;      ///< prune --method NAME
    bool prune_global;             ///< prune --global
    struct cli_strs prune_ignore;  ///< prune --ignore NAME|REGEX (repeatable)
    bool prune_sequential;         ///< prune --sequential
    // search: config keys set from flags (strings as in YAML)
    const char *config, *objective, *episodes, *time_budget, *seed, *target, *lut, *resume;
    bool config_defaults, config_readme;  ///< config --defaults, --readme
    const char *config_check;             ///< config --check FILE
    // lut: build/validate (the action is the positional argument, in `model`)
    struct cli_strs lut_models;  ///< --model M.onnx (repeatable)
    const char *lut_grid, *lut_bits, *lut_sparsity, *lut_pattern;
    int64_t lut_repeats, lut_random, lut_mixed, lut_rounds;
    bool lut_force;
};

/// Parses argv into `args` (defaults first). On a usage error writes a one-line message
/// (without the "qsearch: error: " prefix) to `err` and returns false.
bool cli_parse(int argc, char **argv, struct cli_args *args, char *err, size_t err_size);
/// Writes the help of `cmd` (CLI_CMD_NONE: the top-level help), generated from the tables.
void cli_print_help(enum cli_cmd cmd, FILE *f);
const char *cli_command_name(enum cli_cmd cmd);

/// Reports a failure: prints "qsearch: error: <msg>" on stderr (the diag message, or the
/// last error the library logged, or the status string), and returns the exit code that
/// `status` maps to. `file`, when given and not already named in the message, is
/// prepended as "file: ".
int cli_fail(enum qs_status status, const struct qs_diag *diag, const char *file);
/// Prints "qsearch: error: <formatted>" and returns `code`.
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/// Prints "qsearch: note: <formatted>" on stderr unless --quiet.
void cli_note(const struct cli_args *args, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/// Maps a library status onto an exit code.
int cli_exit_code(enum qs_status status);

int cli_cmd_inspect(const struct cli_args *args);
int cli_cmd_eval(const struct cli_args *args);
int cli_cmd_quantize(const struct cli_args *args);
int cli_cmd_prune(const struct cli_args *args);
int cli_cmd_search(const struct cli_args *args);
int cli_cmd_config(const struct cli_args *args);
int cli_cmd_lut(const struct cli_args *args);

/// With --calib: calibrates `graph` (already optimized) on the --calib data and applies
/// --policy (all layers int8 without one), so that sessions run the integer kernels. The
/// objects are returned for the caller to destroy (quantizer first). Returns an exit code.
int cli_quantize_graph(const struct cli_args *args, qs_graph_t *graph, qs_calib_t **calib_out,
                       qs_quantizer_t **quantizer_out);

/// "[1,3,224,224]" (symbolic dims as "?") into buf; returns buf.
char *cli_format_shape(const int64_t *dims, int rank, char *buf, size_t size);
/// "1.23M" style compact count into buf; returns buf.
char *cli_format_count(double v, char *buf, size_t size);
/// Seconds from a monotonic clock.
double cli_now(void);
