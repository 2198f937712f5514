// Shared by the agents (search/agent*.c) and their tests: the constructors behind
// qs__agent_create, the generator and file helpers, and the evolutionary agent's front.
#pragma once

#include "search/search-impl.h"

#include <gsl/gsl_rng.h>

QS_INTERNAL enum qs_status qs__agent_ddpg_create(const struct qs_search_config *cfg,
                                                 const struct qs_space *space, qs_agent **out,
                                                 struct qs_diag *diag);
QS_INTERNAL enum qs_status qs__agent_random_create(const struct qs_search_config *cfg,
                                                   const struct qs_space *space, qs_agent **out,
                                                   struct qs_diag *diag);
QS_INTERNAL enum qs_status qs__agent_exhaustive_create(const struct qs_search_config *cfg,
                                                       const struct qs_space *space,
                                                       qs_agent **out, struct qs_diag *diag);
QS_INTERNAL enum qs_status qs__agent_evolution_create(const struct qs_search_config *cfg,
                                                      const struct qs_space *space,
                                                      qs_agent **out, struct qs_diag *diag);

// A Mersenne twister (gsl_rng_mt19937) seeded from all 64 bits of `seed`; NULL on NOMEM.
QS_INTERNAL gsl_rng *qs__agent_rng(uint64_t seed);
// A draw of N(mu, sigma^2) truncated to [0, 1] (rejection; clamped after 64 misses).
QS_INTERNAL float qs__agent_truncnorm(gsl_rng *r, float mu, float sigma);
// Checkpoint helpers: a header naming the agent and its format version, the generator's
// state (gsl_rng_fwrite), and raw blocks. Readers return PARSE on a mismatch or short file.
QS_INTERNAL enum qs_status qs__agent_write_header(FILE *f, const char *name, int version,
                                                  struct qs_diag *diag);
QS_INTERNAL enum qs_status qs__agent_read_header(FILE *f, const char *name, int version,
                                                 struct qs_diag *diag);
QS_INTERNAL enum qs_status qs__agent_write_rng(FILE *f, const gsl_rng *r, struct qs_diag *diag);
QS_INTERNAL enum qs_status qs__agent_read_rng(FILE *f, gsl_rng *r, struct qs_diag *diag);
QS_INTERNAL bool qs__agent_write(FILE *f, const void *p, size_t bytes);
QS_INTERNAL bool qs__agent_read(FILE *f, void *p, size_t bytes);

// Evolutionary agent only: the objective vectors of its current Pareto front (rank 0 of the
// parents and the offspring evaluated so far), n_objectives each, at most `max` of them.
// Returns the number of front members (may exceed max) and sets *n_objectives.
QS_INTERNAL int qs__agent_evolution_front(const qs_agent *a, double *objectives, int max,
                                          int *n_objectives);
