// qsearch/search.h: the quantization search as one call (what `qsearch search` runs).
//
// Overview
//   A search reads a configuration (YAML; see configs/README.md), calibrates the model
//   once, then runs episodes: an agent proposes per-layer precision and sparsity, budgets
//   are enforced before evaluation, the candidate is built with the real int8/sparse
//   kernels and evaluated on a fixed subset of the data, and the reward teaches the agent.
//   Everything goes into a run folder:
//
//       episodes.csv       the journal: one line per episode (fsync'ed), no timings, so the
//                          same seed and inputs give the same file
//       config.yaml        the resolved configuration (what --resume reads)
//       checkpoint.bin     the agent's state, written atomically every few episodes
//       best_policy.yaml   per layer: w_bits, a_bits, sparsity, pattern
//       results.json       config echo, metrics of the best and of the Pareto set, reward
//                          formula, timings, table misses, measured vs table latency
//       model.qdq.onnx     the best candidate as a QDQ model
//       report.html        plots of the run
//
//       struct qs_search_options o = qs_search_options_default();
//       o.config_path = "run.yaml";
//       struct qs_search_result r;
//       enum qs_status st = qs_search_run(&o, &r, &diag);
//       // st == OK: r.thresholds_met says whether the thresholds hold on the final data
//
//   A killed run continues with resume_dir: the journal's episodes are replayed into the
//   agent (or its checkpoint restored and the rest replayed), so at most the interrupted
//   episode is evaluated again, and the final journal equals an uninterrupted run's.
#pragma once

#include "qsearch/common.h"

#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

/// What a progress callback sees (once per episode and at phase changes).
struct qs_search_progress {
    const char *phase;    ///< "setup", "search", "final", "done"
    int episode;          ///< episodes in the journal
    int max_episode;
    bool has_best;
    double best_reward;
    /// Thresholds configured (set) and met by the best so far (ok).
    bool acc_set, acc_ok, lat_set, lat_ok, comp_set, comp_ok;
    double elapsed_s;     ///< since the search started (this process)
    double eta_s;         ///< estimated seconds left; < 0 when unknown
};
typedef void (*qs_search_progress_fn)(void *user, const struct qs_search_progress *p);

/// Options of qs_search_run. Start from qs_search_options_default().
struct qs_search_options {
    size_t struct_size;
    const char *config_path;  ///< YAML config; NULL: the embedded demo
    const char *resume_dir;   ///< continue the run in this folder (reads its config.yaml)
    /// Config keys set after the file (CLI flags): key names as in the config, values as
    /// written in YAML. Resolved in order.
    const char *const *set_keys;
    const char *const *set_values;
    int n_set;
    /// When it becomes non-zero (a signal handler), the current episode finishes, every
    /// output is written and qs_search_run returns.
    volatile sig_atomic_t *stop;
    qs_search_progress_fn progress;
    void *progress_user;
};
QS_API struct qs_search_options qs_search_options_default(void);

/// The outcome of a search (also in results.json).
struct qs_search_result {
    char run_dir[4096];
    int episodes;             ///< episodes in the journal
    bool has_best;            ///< a candidate was evaluated successfully
    bool thresholds_met;      ///< the best meets every threshold on the final data
    bool interrupted;         ///< stopped by options.stop
    char stop_reason[64];     ///< "max_episode", "stop_early", "patience", "time_budget", ...
    double best_reward;
    double fp32_accuracy, best_accuracy;  ///< on the final evaluation data
    double best_compress, int8_compress;  ///< fp32 bytes / model bytes
    double table_ms, measured_ms;         ///< of the best; NAN when not available
    int lut_lookups, lut_misses;          ///< of the table estimates of the search
    double seconds;                       ///< wall time of the call
};

/// Runs (or resumes) a search. Config errors (bad file, key or value, infeasible budgets)
/// are PARSE / INVALID_ARG / IO with a one-line message naming the file (and line).
QS_API enum qs_status qs_search_run(const struct qs_search_options *options,
                                    struct qs_search_result *result, struct qs_diag *diag);

#ifdef __cplusplus
}
#endif
