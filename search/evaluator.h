// The evaluation pipeline of the search (evaluator.c): calibrates once, then per candidate
// prunes (sparse/), quantizes (quant/) and runs the graph on a fixed search subset with the
// real kernels; costs (bytes, FLOPs, BOPs, table latency) come without a run. The weights
// of each (layer, bits, sparsity) are cached by the pruner and the quantizer, so a
// candidate pays only for what it changes.
#pragma once

#include "search/search-impl.h"
#include "qsearch/lut.h"

typedef struct qs_evaluator qs_evaluator;

// Rank of the label's score among one sample's scores (0 = top-1); ties go to the lower
// class index, as argmax does. The search and `qsearch eval` count top-k with it.
QS_INTERNAL int64_t qs__label_rank(const float *y, int64_t classes, int64_t label);

// Loads the model, the data and the table named by cfg, calibrates (activation statistics
// and, for bias correction / OBS pruning, the pruner's) and measures the fp32 baseline on
// the search subset. `work_dir` receives the candidate model of an external evaluator.
// Statuses: those of loading (IO, PARSE: exit code 2), UNSUPPORTED_HW for a table of
// another machine, NOMEM.
QS_INTERNAL enum qs_status qs__evaluator_create(const struct qs_search_config *cfg,
                                                const char *work_dir, qs_evaluator **out,
                                                struct qs_diag *diag);
QS_INTERNAL void qs__evaluator_destroy(qs_evaluator *ev);

QS_INTERNAL qs_graph_t *qs__evaluator_graph(qs_evaluator *ev);
QS_INTERNAL const qs_lut_t *qs__evaluator_lut(const qs_evaluator *ev);
// fp32 metrics on the search subset (accuracy, bytes, FLOPs, BOPs, table latency).
QS_INTERNAL const struct qs_metrics *qs__evaluator_baseline(const qs_evaluator *ev);
// fp32 metrics on the final evaluation set (computed on first use).
QS_INTERNAL enum qs_status qs__evaluator_baseline_full(qs_evaluator *ev,
                                                       struct qs_metrics *out,
                                                       struct qs_diag *diag);
QS_INTERNAL int64_t qs__evaluator_search_samples(const qs_evaluator *ev);
QS_INTERNAL int64_t qs__evaluator_full_samples(const qs_evaluator *ev);
// True when the final evaluation set is the search subset itself (final_eval_count equal
// to search_subset, or both all samples): a final evaluation then repeats the search's
// numbers bit for bit (the kernels are deterministic).
QS_INTERNAL bool qs__evaluator_full_is_search(const qs_evaluator *ev);
QS_INTERNAL double qs__evaluator_setup_seconds(const qs_evaluator *ev);

// True when sparse/ may prune graph layer `layer` (the skip rules); the search keeps the
// others dense so that the bytes counted are the bytes run.
QS_INTERNAL bool qs__evaluator_prunable(const qs_evaluator *ev, int layer);

// Costs of `policy` without running it: model bytes and compress ratio, FLOPs, BOPs and
// the table latency (NAN without a table). Fast (no session).
QS_INTERNAL enum qs_status qs__evaluator_cost(qs_evaluator *ev, const qs_policy_t *policy,
                                              struct qs_metrics *m, struct qs_diag *diag);

// Builds the candidate and evaluates it on the search subset (`full` false) or on the
// final evaluation set (`full` true): every field of `m`. A failing external evaluator
// (non-zero exit, no number) gives QS_STATUS_OK with m->failed set and the reason in
// diag; other statuses are errors of the pipeline itself.
QS_INTERNAL enum qs_status qs__evaluator_eval(qs_evaluator *ev, const qs_policy_t *policy,
                                              bool full, struct qs_metrics *m,
                                              struct qs_diag *diag);

// Measured latency of `policy` at the table's batch (1 without a table) and thread count:
// median of `runs` timed runs after warm-up, in ms.
QS_INTERNAL enum qs_status qs__evaluator_measure(qs_evaluator *ev, const qs_policy_t *policy,
                                                 int runs, double *ms_out,
                                                 struct qs_diag *diag);

// Writes the QDQ ONNX model of `policy` (pruned weights included) to `path`.
QS_INTERNAL enum qs_status qs__evaluator_export(qs_evaluator *ev, const qs_policy_t *policy,
                                                const char *path, struct qs_diag *diag);
