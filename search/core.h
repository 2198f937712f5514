// Internal API of the search loop's parts: budgets (constraints.c), the episode journal and
// checkpoints (journal.c), the run outputs (outputs.c) and the loop (loop.c).
#pragma once

#include "search/evaluator.h"
#include "search/search-impl.h"

#include <stdio.h>

// ---------------------------------------------------------------------------------------
// Budgets: latency (table), model bytes, FLOPs, BOPs, enforced while the agent proposes a
// policy (AMC-style look-ahead): layer l may take a choice only if the layers before it
// (as decided), this choice and every later layer at its cheapest ("floor") choice fit
// every budget, costed exactly on the whole model. The all-floor policy is checked once at
// creation, so every layer always has a feasible choice and every evaluated candidate
// meets every budget.

typedef struct qs_constraints qs_constraints;

// INVALID_ARG (a config error) when even the cheapest policy exceeds a budget.
QS_INTERNAL enum qs_status qs__constraints_create(const struct qs_search_config *cfg,
                                                  const struct qs_space *space,
                                                  qs_evaluator *ev, qs_constraints **out,
                                                  struct qs_diag *diag);
QS_INTERNAL void qs__constraints_destroy(qs_constraints *c);
QS_INTERNAL bool qs__constraints_active(const qs_constraints *c);
// The policy a searched layer keeps within the rules of the pipeline (non-prunable layers
// dense), as decoded from `action`.
QS_INTERNAL void qs__constraints_decode(const qs_constraints *c, int l, const float *action,
                                        struct qs_layer_policy *lp);
// Starts an episode (no layer decided).
QS_INTERNAL void qs__constraints_begin(qs_constraints *c);
// Replaces lp (layer l's proposal, layers taken in order) by the feasible choice closest
// to it; *changed tells whether it moved.
QS_INTERNAL enum qs_status qs__constraints_clamp(qs_constraints *c, int l,
                                                 struct qs_layer_policy *lp, bool *changed,
                                                 struct qs_diag *diag);
// True when the costs in `m` meet every budget; `why` (may be NULL) names the first
// violated one.
QS_INTERNAL bool qs__constraints_fit(const qs_constraints *c, const struct qs_metrics *m,
                                     char *why, size_t why_size);
// The budgets as text for results.json ("latency <= 1.5 ms, size <= 100000 B" or "none").
QS_INTERNAL void qs__constraints_describe(const qs_constraints *c, char *buf, size_t size);

// ---------------------------------------------------------------------------------------
// Journal: episodes.csv, one line per episode, flushed and fsync'ed; its contents depend
// only on the config and the seed (no timings), so a resumed run writes the same file as
// an uninterrupted one.

enum { QS_THR_ACC = 1, QS_THR_LAT = 2, QS_THR_COMP = 4 };

struct qs_journal_row {
    int episode;
    char status[8];     // "ok", "cached" (same policy seen before), "failed"
    double reward;      // what the agent was given
    struct qs_metrics m;
    unsigned thresholds;  // QS_THR_* bits that hold
    float *actions;     // n_layers * QS_ACTION_DIM, as taken (after budgets)
    char note[160];     // why it failed
};

typedef struct qs_journal qs_journal;

// Opens `path` for appending (creating it with its header). With `resume`, reads the rows
// already there (a last line cut by a kill is dropped and truncated away); PARSE when the
// file does not belong to this space.
QS_INTERNAL enum qs_status qs__journal_open(const char *path, int n_layers, bool resume,
                                            qs_journal **out, struct qs_diag *diag);
QS_INTERNAL void qs__journal_close(qs_journal *j);
QS_INTERNAL int qs__journal_count(const qs_journal *j);
QS_INTERNAL const struct qs_journal_row *qs__journal_row(const qs_journal *j, int i);
// Appends (and keeps) a row; the line is on disk when this returns.
QS_INTERNAL enum qs_status qs__journal_append(qs_journal *j, const struct qs_journal_row *row,
                                              const struct qs_space *space,
                                              struct qs_diag *diag);

// Agent checkpoint: the agent's state after `episodes` episodes, written atomically.
QS_INTERNAL enum qs_status qs__checkpoint_save(const char *path, const qs_agent *agent,
                                               int episodes, struct qs_diag *diag);
// Restores it; *episodes_out = -1 when there is no usable checkpoint (missing, or an
// agent without save/load).
QS_INTERNAL enum qs_status qs__checkpoint_load(const char *path, qs_agent *agent,
                                               int *episodes_out, struct qs_diag *diag);
// fsync of a file's folder (after a rename).
QS_INTERNAL void qs__fsync_dir(const char *path);

// ---------------------------------------------------------------------------------------
// Outputs.

// One candidate of the final set: its journal row, its policy, metrics on the search
// subset and on the final evaluation set.
struct qs_final {
    int row;
    qs_policy_t *policy;
    struct qs_metrics search, full;
    double reward_full;
    unsigned thresholds_full;
    bool pareto;
};

struct qs_run_summary {
    const struct qs_search_config *cfg;
    const struct qs_space *space;
    const qs_journal *journal;
    const qs_constraints *cons;
    struct qs_metrics base, base_full, int8, int8_full;
    struct qs_final *finals;
    int n_finals;
    int best;                 // index into finals, -1 when nothing was evaluated
    double measured_ms;       // of the best, NAN when not measured
    double table_ms;          // table estimate of the best, NAN without a table
    double setup_seconds, search_seconds, final_seconds;
    int episodes_run;         // this process
    int episodes_replayed;    // from the journal on --resume
    int cache_hits, failures, lut_misses, lut_lookups;
    int cache_hits_run;       // cache hits among the episodes of this process
    const char *stop_reason;
    bool thresholds_met;
};

// results.json (atomic), best_policy.yaml, model.qdq.onnx written by the caller.
QS_INTERNAL enum qs_status qs__write_results(const char *path, const struct qs_run_summary *s,
                                             struct qs_diag *diag);
// The per-layer policy of a journal row.
QS_INTERNAL enum qs_status qs__row_policy(const qs_constraints *c, const struct qs_space *space,
                                          const struct qs_journal_row *row, qs_policy_t **out,
                                          struct qs_diag *diag);
// The report (plots + report.html) of a finished run into `dir`.
QS_INTERNAL enum qs_status qs__search_report(const char *dir, const struct qs_run_summary *s,
                                             struct qs_diag *diag);
