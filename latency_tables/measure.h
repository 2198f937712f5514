// Internals of latency_tables/ shared by the build and the validation: timing helpers.
#pragma once

#include "latency_tables/lut-impl.h"
#include "qsearch/quant.h"

QS_INTERNAL int64_t qs__lut_now_ns(void);
/// Median, p10 and p90 (in ms) of n nanosecond samples (sorted in place).
QS_INTERNAL void qs__lut_stats(int64_t *v, int n, double *median, double *p10, double *p90);
/// Cost of one clock read (median), subtracted from every per-node sample.
QS_INTERNAL int64_t qs__lut_timer_overhead_ns(void);
/// Pins the calling thread to the first CPU it may run on; the old mask is saved in
/// old_mask (at least sizeof(cpu_set_t) bytes) for qs__lut_unpin.
QS_INTERNAL bool qs__lut_pin(void *old_mask, size_t size);
QS_INTERNAL void qs__lut_unpin(const void *old_mask);
QS_INTERNAL void qs__lut_fill_inputs(qs_session_t *s, uint64_t seed);
QS_INTERNAL const char *qs__lut_model_path(const qs_lut_model_t *m);
/// Prunes (sparse/), quantizes (quant/) and compiles the model for `policy` (NULL: every
/// layer w8a8); inputs filled; fuse_add as in struct qs_session_options. Destroy the
/// session, then the quantizer.
QS_INTERNAL enum qs_status qs__lut_model_session(qs_lut_model_t *m, const qs_policy_t *policy,
                                                 bool fuse_add, qs_quantizer_t **quant_out,
                                                 qs_session_t **session_out,
                                                 struct qs_diag *diag);
/// `warmup` plain runs, then `repeats` pairs of a plain run (totals[r]) and a profiled run
/// (node_ns[r * exec_count + e], minus timer_ns).
QS_INTERNAL enum qs_status qs__lut_time_session(qs_session_t *s, int warmup, int repeats,
                                                int64_t *totals, int64_t *node_ns,
                                                int64_t timer_ns, struct qs_diag *diag);
/// `lut build --target cuda` (latency_tables/cuda.c): times every layer on the GPU.
QS_INTERNAL enum qs_status qs__lut_build_cuda(const char *const *models, int n_models,
                                              const struct qs_lut_build_options *o,
                                              const char *out_path, struct qs_diag *diag);
