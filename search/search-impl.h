// Internal contract between the parts of search/: the configuration (config.c, one key
// table), the search space and the per-layer state, the agent interface (agent-*.c), the
// metrics of a candidate and the reward (reward.c). The loop (loop.c), the evaluator
// (evaluator.c), constraints, journal and outputs build on these.
#pragma once

#include "qsearch/ir.h"
#include "kernels/internal.h"

#include <stdio.h>

// ---------------------------------------------------------------------------------------
// Configuration: every field has exactly one key in search/config-keys.def, which drives
// parsing (YAML, file:line:column errors), defaults, `qsearch config --defaults` and
// configs/README.md. CLI flags override keys.

enum qs_algo { QS_ALGO_DDPG = 0, QS_ALGO_RANDOM, QS_ALGO_EXHAUSTIVE, QS_ALGO_EVOLUTION };
enum qs_eval_metric { QS_EVAL_TOP1 = 0, QS_EVAL_TOP5, QS_EVAL_FIDELITY, QS_EVAL_EXTERNAL };
enum qs_reward_type {
    QS_REWARD_ACC_FIRST = 0, QS_REWARD_COMPRESS_FIRST, QS_REWARD_CUSTOM,
    QS_REWARD_HAQ, QS_REWARD_NNCF, QS_REWARD_AMC,
};
enum qs_objective {  // bit flags of objective_keys
    QS_OBJ_ACCURACY = 1u << 0, QS_OBJ_COMPRESS = 1u << 1, QS_OBJ_FLOPS = 1u << 2,
    QS_OBJ_LATENCY = 1u << 3,
};

#define QS_MAX_SPECS 4
#define QS_MAX_SPARSITY 16
#define QS_MAX_IGNORE 32

// Owned by search/config.c (config.h: load, set, validate, free, write); the key table
// search/config-keys.def documents every field (ranges, defaults, units).
struct qs_search_config {
    char *source;  // config file path or "<default>" (messages)
    char *base_dir;                  // folder of the config file (eval_command runs there)
    void *origin;                    // private to config.c: where each key was set
    // Model and data.
    char *model;
    char *calib_data[QS_MAX_SPECS];  // input specs (qsearch/data.h syntax), one per input
    int n_calib_data;
    double calib_portion;            // fraction of the calibration data (0 = use calib_count)
    int64_t calib_count;             // samples (0 = all)
    char *calib_method;              // "minmax", "percentile", "kl", "mse", ...
    char *eval_data[QS_MAX_SPECS];
    int n_eval_data;
    char *eval_labels;               // spec of the labels (top1/top5)
    char *preprocess;                // qsearch/data.h preprocess string or preset
    enum qs_eval_metric metric;
    char *eval_command;              // external evaluator: gets the QDQ model path, prints one number
    int64_t search_subset;           // samples per candidate during the search (0 = all)
    int64_t final_eval_count;        // samples for the final re-evaluation (0 = all)
    int64_t eval_offset;             // evaluation samples skipped at the start (e.g. the
                                     // calibration images when both use one file)
    int eval_batch;
    int reuse_mb;                    // prefix reuse memory (evaluator.c); 0 = off
    // Search space.
    int w_bits[2], n_w_bits;         // candidates among {8, 32}
    int a_bits[2], n_a_bits;
    float sparsity[QS_MAX_SPARSITY]; // discrete candidates ({0} = no sparsity search)
    int n_sparsity;
    bool sparsity_continuous;        // search sparsity in [sparsity_min, sparsity_max]
    float sparsity_min, sparsity_max;
    char sparsity_pattern[16];       // as struct qs_layer_policy.pattern
    char prune_method[24];           // "magnitude", "bias_correction", "obs"
    bool tie_bits;                   // w_bits == a_bits (one action dimension)
    bool skip_first_last;            // first and last layers stay fp32 dense
    char *ignore[QS_MAX_IGNORE];     // layer names or regular expressions kept fp32 dense
    int n_ignore;
    // Algorithm.
    enum qs_algo algorithm;
    int hidden1, hidden2;            // DDPG actor/critic widths (300, 300)
    double lr_actor, lr_critic;      // 1e-4, 1e-3
    double tau, discount;            // 0.01, 1.0
    int ddpg_batch;                  // 64
    double init_delta, delta_decay;  // 0.5, 0.99
    int replay_size;                 // 0 = num_warmup * (layers + 1)
    bool local_search;               // DDPG: refine each proposal by one-layer moves
    int population;                  // evolution
    double mutation_rate, crossover_rate;
    // Objective and reward.
    unsigned objective_keys;         // enum qs_objective flags
    enum qs_reward_type reward_type;
    char metric_to_reward[16];       // custom: "compress_ratio", "flops", "bops", "latency"
    double metric_ratio;             // custom: weight of that metric
    double penalty;                  // acc_first/compress_first: missing a threshold by
                                     // s points costs penalty * log2(1 + s)
    // Thresholds (stop conditions) and budgets (hard constraints, enforced before evaluation).
    double acc_threshold;            // absolute accuracy (fraction), < 0 = unset
    double max_acc_drop;             // allowed drop vs fp32 (fraction), < 0 = unset
    double latency_threshold_ms;     // <= 0 = unset
    double compress_threshold;       // ratio fp32 bytes / model bytes, <= 0 = unset
    double latency_budget_ms;        // <= 0 = none
    double size_budget_bytes;        // <= 0 = none
    double flops_budget;             // <= 0 = none
    double bops_budget;              // <= 0 = none
    bool stop_early;
    int patience;                    // 0 = off
    int max_episode;
    int num_warmup;
    double time_budget_s;            // 0 = none
    uint64_t seed;
    // Hardware.
    char target[8];                  // "x86", "arm", "cuda" ("auto" until validated)
    char *lut;                       // latency table path (NULL: latency not used)
    bool lut_force;                  // accept a table measured on another machine
    int threads;
    // Output.
    char *output_dir;
};

// ---------------------------------------------------------------------------------------
// Search space: the searched layers in execution order and their choices. An action is 3
// floats in [0, 1] (w_bits, a_bits, sparsity); every discrete choice owns an equal-width
// bin (HAQ's mapping), so continuous (DDPG) and discrete (random, exhaustive, evolution)
// agents share one interface.

#define QS_ACTION_DIM 3
#define QS_STATE_DIM 12

struct qs_space_layer {
    int layer;                      // index for qs_graph_layer_info
    struct qs_layer_info info;      // name points into the graph
    int n_choices[QS_ACTION_DIM];   // 1 when that dimension is fixed for this layer; 0 for
                                    // continuous sparsity
};

struct qs_space {
    int n_layers;
    struct qs_space_layer *layers;
    int w_bits[2], n_w_bits;
    int a_bits[2], n_a_bits;
    float sparsity[QS_MAX_SPARSITY];
    int n_sparsity;
    bool sparsity_continuous;
    float sparsity_min, sparsity_max;
    bool tie_bits;
    char pattern[16];
    float *features;                // private to space.c (normalised state columns)
};

// ---------------------------------------------------------------------------------------
// Agents. Per episode: episode_begin, then for each layer in order act (propose an action
// from the layer's state) and taken (the action after budget clamping, which is what the
// agent must learn from), then episode_end with the reward (and the objectives for
// multi-objective agents). All randomness comes from the agent's own generator seeded at
// creation, so the same seed gives the same actions. save/load write and read the whole
// state (networks, optimiser moments, replay buffer, generator) for --resume; they are
// called between episodes (after episode_end), and a loaded agent continues exactly as the
// saved one would have. Constructors and helpers shared by the agents: agent-impl.h.

typedef struct qs_agent qs_agent;
struct qs_agent_ops {
    const char *name;  // "ddpg", "random", "exhaustive", "evolution"
    enum qs_status (*episode_begin)(qs_agent *a, int episode, struct qs_diag *diag);
    enum qs_status (*act)(qs_agent *a, int layer, const float *state, float *action);
    void (*taken)(qs_agent *a, int layer, const float *action);
    // objectives[i]: larger is better (accuracy, compress ratio, -latency, ...).
    enum qs_status (*episode_end)(qs_agent *a, double reward, const double *objectives,
                                  int n_objectives, struct qs_diag *diag);
    // true when the agent has nothing left to propose (exhaustive search done).
    bool (*exhausted)(const qs_agent *a);
    enum qs_status (*save)(const qs_agent *a, FILE *f, struct qs_diag *diag);
    enum qs_status (*load)(qs_agent *a, FILE *f, struct qs_diag *diag);
    void (*destroy)(qs_agent *a);
};
struct qs_agent {
    const struct qs_agent_ops *ops;
};

// Creates the agent named by cfg->algorithm for `space`. The space must outlive it.
QS_INTERNAL enum qs_status qs__agent_create(const struct qs_search_config *cfg,
                                            const struct qs_space *space, qs_agent **out,
                                            struct qs_diag *diag);

// Builds the space of `graph` from cfg (bit and sparsity candidates, skip rules, ignore
// list); destroy frees it. PARSE when the ignore list names no layer or a bad regex.
QS_INTERNAL enum qs_status qs__space_create(const struct qs_search_config *cfg,
                                            const qs_graph_t *graph, struct qs_space **out,
                                            struct qs_diag *diag);
QS_INTERNAL void qs__space_destroy(struct qs_space *space);
// Number of distinct discrete candidates (product of choices; INFINITY when sparsity is
// continuous) for exhaustive search and reports.
QS_INTERNAL double qs__space_size(const struct qs_space *space);

// Maps an action to a layer policy (bins as above) and a policy back to the action at the
// centre of its bins.
QS_INTERNAL void qs__space_decode(const struct qs_space *space, int l, const float *action,
                                  struct qs_layer_policy *out);
QS_INTERNAL void qs__space_encode(const struct qs_space *space, int l,
                                  const struct qs_layer_policy *lp, float *action);
// State of layer l given the previous layer's action (NULL for the first): QS_STATE_DIM
// features in [0, 1]: index, op kind, depthwise, c_in, c_out, kernel, stride, feature-map
// size, #params, FLOPs, previous w action, previous sparsity action.
QS_INTERNAL void qs__space_state(const struct qs_space *space, int l, const float *prev_action,
                                 float *state);

// ---------------------------------------------------------------------------------------
// Metrics of one candidate and the reward.

struct qs_metrics {
    double accuracy;       // fraction (top-1/top-5/fidelity/external number)
    double compress_ratio; // fp32 bytes / model bytes (indices and scales included)
    double model_bytes, fp32_bytes;
    double flops;          // executed multiply-adds x 2 at batch 1 (pruned weights skipped)
    double bops;           // sum over layers of MACs x w_bits x a_bits
    double latency_ms;     // from the table (NAN without one)
    int lut_lookups, lut_misses;
    double measured_ms;    // measured latency (final best only; NAN otherwise)
    double eval_seconds;
    int64_t samples;       // samples evaluated
    bool failed;           // evaluation failed (external evaluator error): no reward
};

// Reward of `m` against the fp32 baseline `base` under cfg's reward_type; writes the
// formula as text (for results.json) when `formula` is not NULL.
QS_INTERNAL double qs__reward(const struct qs_search_config *cfg, const struct qs_metrics *m,
                              const struct qs_metrics *base);
QS_INTERNAL void qs__reward_formula(const struct qs_search_config *cfg, char *buf, size_t size);
