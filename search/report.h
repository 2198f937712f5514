// Internal: the human-readable report of a search run (search/report.c). The search loop
// calls qs__report_write once at the end (and may call it again after more episodes; every
// file is replaced atomically, so a reader never sees a half-written report).
//
// Files written into `dir` (which must exist):
//   reward.png    reward per episode (feasible points, infeasible hollow, failed episodes as
//                 red crosses on the axis) and the best-so-far curve
//   layers.png    the best policy per layer: w_bits / a_bits bars and sparsity bars
//   pareto.png    accuracy vs latency of every evaluated feasible episode, the Pareto set
//                 highlighted and joined, the best ringed
//   report.html   the title, a summary table (episodes, best metrics, the reward formula,
//                 any extra rows), the three images, the Pareto set and the policy tables
// Plots are drawn with cairo (PNG). Each file goes to "<name>.tmp" first, then rename(2).
#pragma once

#include "kernels/internal.h"

#include <stdbool.h>
#include <stdint.h>

/// One episode as the report sees it. Doubles may be NAN when unknown (not plotted, shown
/// as "-"); accuracy is a fraction in [0, 1] (shown as a percentage) when metric_percent,
/// else printed as is.
struct qs_report_episode {
    int episode;            ///< 0-based or 1-based, as the journal numbers them
    double reward;
    double accuracy;
    double latency_ms;      ///< the table's estimate (or measured)
    double compress_ratio;  ///< fp32 bytes / real bytes
    uint64_t model_bytes;
    bool feasible;          ///< met the budgets (infeasible ones are drawn hollow)
    bool failed;            ///< evaluation failed (no metrics; drawn as a red cross)
};

/// One quantizable layer of the best policy.
struct qs_report_layer {
    const char *name;
    int w_bits, a_bits;     ///< 32 = fp32
    double sparsity;        ///< in [0, 1)
    const char *pattern;    ///< "unstructured", "2:4", ...; NULL or "" = dense
};

struct qs_report {
    const char *title;            ///< e.g. "resnet56 — compress_first"; NULL = "qsearch run"
    const char *reward_formula;   ///< shown verbatim, e.g. "-(1 - acc) * 10 + log(ratio)"
    const struct qs_report_episode *episodes;
    size_t n_episodes;
    const struct qs_report_layer *layers;  ///< the best policy, in graph order
    size_t n_layers;
    const size_t *pareto;         ///< indices into episodes (any order)
    size_t n_pareto;
    long best;                    ///< index into episodes of the best; -1 = none
    bool metric_percent;          ///< accuracy is a fraction: print and plot as %
    /// Optional extra summary rows (stop reason, wall time, table misses, ...), shown
    /// verbatim after the built-in rows.
    const char *const *extra_keys;
    const char *const *extra_values;
    size_t n_extra;
};

/// Writes the report for `r` into the existing directory `dir`. Returns OK, INVALID_ARG
/// (bad indices: best or pareto outside the episodes; NULL arrays with a count) or IO
/// (a file could not be written or renamed; the diag names it). Never leaves a partial
/// file under a final name. Thread-compatible (one call at a time per directory).
QS_INTERNAL enum qs_status qs__report_write(const char *dir, const struct qs_report *r,
                                            struct qs_diag *diag);
