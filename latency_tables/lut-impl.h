// Internals of latency_tables/: the in-memory table, keys and their features.
#pragma once

#include "qsearch/lut.h"
#include "kernels/internal.h"

#include <string.h>

#define LUT_FORMAT_VERSION 1
#define LUT_CSV_HEADER \
    "op,inputs,outputs,weight,attrs,act,pattern,w_bits,a_bits,sparsity,ms,p10_ms,p90_ms,runs"
#define LUT_CSV_COLUMNS 14
#define LUT_KEY_MAX 1024
#define LUT_RESID_KNOTS 32

// One measured point of a key: its time at one sparsity.
typedef struct {
    float sparsity;
    double ms, p10, p90;
    int runs;
    int w_bits, a_bits;
    int line;  // in the file, 0 when measured in this process
    // Medians of the configurations that measured this point in this process (merging).
    double *meds;
    int n_meds, cap_meds;
} lut_point;

// Work/bytes of a key, for estimating misses.
typedef struct {
    char family[64];  // op type and first input dtype: "Conv/float32"
    double work;      // multiply-adds x2 (layers), window taps (pools), elements otherwise
    double bytes;     // activations in + out + weights
    double group;     // conv groups (1 otherwise)
    bool valid;
} lut_feat;

typedef struct {
    char *key;  // the first seven CSV columns joined by ','
    lut_feat f;
    int n_pts, cap_pts;
    lut_point *pts;  // sorted by sparsity
} lut_entry;

struct qs_lut {
    char *path;
    struct qs_lut_hw hw;
    int batch, threads, repeats, warmup;
    char pattern[16];
    char created[40];
    double run_overhead_ms;  // per qs_session_run, outside the nodes: a + b * nodes
    double node_overhead_ms;
    // What the median (p10) of whole runs adds to the sum of the nodes' medians (p10s), by
    // that sum: knots (sum_ms, residual_ms), sums increasing, interpolated linearly. Other
    // work on the machine interrupts a run now and then (interrupts, another process's
    // time slice, its cache traffic): each node's median is free of it, but a long run's
    // median is not. Fitted from the build's own runs (qs__lut_fit_overhead); none in
    // tables written before it.
    int n_resid, n_resid_p10;
    double resid_t[LUT_RESID_KNOTS], resid_ms[LUT_RESID_KNOTS];
    double resid_p10_t[LUT_RESID_KNOTS], resid_p10_ms[LUT_RESID_KNOTS];
    bool complete;
    char *settings;          // measurement settings a resumed build must match
    int n_jobs, cap_jobs;
    char **jobs;             // configurations measured (resume)
    int n_models, cap_models;
    char **models;
    int n_entries, cap_entries;
    lut_entry *entries;
    int n_slots;             // open-addressing hash of entries by key
    int *slots;
};

QS_INTERNAL enum qs_status qs__lut_create(qs_lut_t **lut_out);
/// Finds the entry of `key`, or NULL.
QS_INTERNAL lut_entry *qs__lut_find(const qs_lut_t *lut, const char *key);
/// Adds a point to `key` (creating the entry). When the key already has a point at this
/// sparsity, the two are merged: the point's time becomes the (lower) median of the
/// medians of the configurations that measured it, p10/p90 the widest, runs add up.
QS_INTERNAL enum qs_status qs__lut_add(qs_lut_t *lut, const char *key, const lut_point *pt);
QS_INTERNAL enum qs_status qs__lut_add_job(qs_lut_t *lut, const char *job);
QS_INTERNAL bool qs__lut_has_job(const qs_lut_t *lut, const char *job);
QS_INTERNAL enum qs_status qs__lut_add_model(qs_lut_t *lut, const char *model);
/// Writes the table (temporary file + rename).
QS_INTERNAL enum qs_status qs__lut_save(const qs_lut_t *lut, const char *path,
                                        struct qs_diag *diag);
/// Parses the features of a key (work, bytes, family). False for a malformed key.
QS_INTERNAL bool qs__lut_key_features(const char *key, lut_feat *f);
/// Time of an entry at `sparsity`: linear between measured points, clamped at the ends
/// (p10: the same over the points' 10th percentiles).
QS_INTERNAL double qs__lut_entry_ms(const lut_entry *e, float sparsity);
QS_INTERNAL double qs__lut_entry_p10(const lut_entry *e, float sparsity);
/// Estimate for a key that is not in the table (never 0 unless the table is empty).
QS_INTERNAL double qs__lut_estimate(const qs_lut_t *lut, const char *key, float sparsity);
/// "x86" / "arm" for this machine's architecture.
QS_INTERNAL const char *qs__lut_native_target(void);
/// Writes the canonical key from its parts (pattern NULL: "-").
QS_INTERNAL size_t qs__lut_key_of(const struct qs_prof_node *n, const char *pattern, char *buf,
                                  size_t size);
/// Descriptor of the CUDA device (latency_tables/cuda.c).
QS_INTERNAL enum qs_status qs__lut_cuda_descriptor(struct qs_lut_hw *hw, struct qs_diag *diag);
/// Fits the per-run residual to the job records ("id|nodes|residual|sum_ms|residual_p10|
/// sum_p10_ms"; older records have the first two numbers only): the curves resid_* (median
/// residual by sum, in bins of jobs of similar length, made non-decreasing) when at least
/// 8 records have sums, then run_overhead_ms + node_overhead_ms * nodes by least squares
/// on what the curve leaves. Keeps the stored values when there are too few records.
QS_INTERNAL void qs__lut_fit_overhead(qs_lut_t *lut);
/// What a run adds to the sum of its nodes' medians (p10: their 10th percentiles):
/// run_overhead_ms + node_overhead_ms * nodes + the residual curve at `sum_ms`.
QS_INTERNAL double qs__lut_run_residual(const qs_lut_t *lut, double sum_ms, int nodes, bool p10);
