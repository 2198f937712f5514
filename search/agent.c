// The agent factory and what the agents share: seeding, truncated-normal draws and the
// checkpoint helpers (search/agent-impl.h).
#include "search/agent-impl.h"

#include <gsl/gsl_randist.h>
#include <string.h>

enum qs_status qs__agent_create(const struct qs_search_config *cfg, const struct qs_space *space,
                                qs_agent **out, struct qs_diag *diag) {
    *out = NULL;
    switch (cfg->algorithm) {
    case QS_ALGO_DDPG: return qs__agent_ddpg_create(cfg, space, out, diag);
    case QS_ALGO_RANDOM: return qs__agent_random_create(cfg, space, out, diag);
    case QS_ALGO_EXHAUSTIVE: return qs__agent_exhaustive_create(cfg, space, out, diag);
    case QS_ALGO_EVOLUTION: return qs__agent_evolution_create(cfg, space, out, diag);
    }
    return qs__diag(diag, QS_STATUS_INVALID_ARG, "unknown search algorithm %d",
                    (int)cfg->algorithm);
}

gsl_rng *qs__agent_rng(uint64_t seed) {
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    // mt19937 keeps 32 bits of its seed: fold the high half in so every bit counts.
    if (r) gsl_rng_set(r, (unsigned long)((seed ^ (seed >> 32)) & 0xffffffffu));
    return r;
}

float qs__agent_truncnorm(gsl_rng *r, float mu, float sigma) {
    if (!(sigma > 0.0f)) return mu < 0.0f ? 0.0f : (mu > 1.0f ? 1.0f : mu);
    for (int i = 0; i < 64; i++) {
        double x = mu + gsl_ran_gaussian(r, sigma);
        if (x >= 0.0 && x <= 1.0) return (float)x;
    }
    return mu < 0.0f ? 0.0f : (mu > 1.0f ? 1.0f : mu);
}

bool qs__agent_write(FILE *f, const void *p, size_t bytes) {
    return bytes == 0 || fwrite(p, bytes, 1, f) == 1;
}

bool qs__agent_read(FILE *f, void *p, size_t bytes) {
    return bytes == 0 || fread(p, bytes, 1, f) == 1;
}

enum qs_status qs__agent_write_header(FILE *f, const char *name, int version,
                                      struct qs_diag *diag) {
    char magic[16] = "QSAGENT";
    char nm[16] = {0};
    snprintf(nm, sizeof(nm), "%s", name);
    int32_t v = version;
    if (!qs__agent_write(f, magic, sizeof(magic)) || !qs__agent_write(f, nm, sizeof(nm)) ||
        !qs__agent_write(f, &v, sizeof(v)))
        return qs__diag(diag, QS_STATUS_IO, "agent %s: checkpoint write failed", name);
    return QS_STATUS_OK;
}

enum qs_status qs__agent_read_header(FILE *f, const char *name, int version,
                                     struct qs_diag *diag) {
    char magic[16], nm[16];
    int32_t v;
    if (!qs__agent_read(f, magic, sizeof(magic)) || memcmp(magic, "QSAGENT", 8) != 0)
        return qs__diag(diag, QS_STATUS_PARSE, "not an agent checkpoint");
    if (!qs__agent_read(f, nm, sizeof(nm)) || !qs__agent_read(f, &v, sizeof(v)))
        return qs__diag(diag, QS_STATUS_PARSE, "truncated agent checkpoint");
    nm[15] = '\0';
    if (strcmp(nm, name) != 0)
        return qs__diag(diag, QS_STATUS_PARSE, "checkpoint of agent '%s', not '%s'", nm, name);
    if (v != version)
        return qs__diag(diag, QS_STATUS_PARSE, "agent %s checkpoint version %d, expected %d",
                        name, (int)v, version);
    return QS_STATUS_OK;
}

enum qs_status qs__agent_write_rng(FILE *f, const gsl_rng *r, struct qs_diag *diag) {
    if (gsl_rng_fwrite(f, r) != 0)
        return qs__diag(diag, QS_STATUS_IO, "agent checkpoint: generator write failed");
    return QS_STATUS_OK;
}

enum qs_status qs__agent_read_rng(FILE *f, gsl_rng *r, struct qs_diag *diag) {
    if (gsl_rng_fread(f, r) != 0)
        return qs__diag(diag, QS_STATUS_PARSE, "agent checkpoint: truncated generator state");
    return QS_STATUS_OK;
}
