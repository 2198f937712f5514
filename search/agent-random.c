// Random search: every action component uniform on [0, 1], so every discrete choice of a
// layer is equally likely (equal-width bins).
#include "search/agent-impl.h"

struct random_agent {
    qs_agent base;
    gsl_rng *rng;
};

static enum qs_status rnd_begin(qs_agent *a, int episode, struct qs_diag *diag) {
    return QS_STATUS_OK;
}

static enum qs_status rnd_act(qs_agent *a, int layer, const float *state, float *action) {
    struct random_agent *r = (struct random_agent *)a;
    for (int d = 0; d < QS_ACTION_DIM; d++) action[d] = (float)gsl_rng_uniform(r->rng);
    return QS_STATUS_OK;
}

static void rnd_taken(qs_agent *a, int layer, const float *action) {}

static enum qs_status rnd_end(qs_agent *a, double reward, const double *objectives,
                              int n_objectives, struct qs_diag *diag) {
    return QS_STATUS_OK;
}

static bool rnd_exhausted(const qs_agent *a) { return false; }

static enum qs_status rnd_save(const qs_agent *a, FILE *f, struct qs_diag *diag) {
    const struct random_agent *r = (const struct random_agent *)a;
    enum qs_status st = qs__agent_write_header(f, "random", 1, diag);
    return st ? st : qs__agent_write_rng(f, r->rng, diag);
}

static enum qs_status rnd_load(qs_agent *a, FILE *f, struct qs_diag *diag) {
    struct random_agent *r = (struct random_agent *)a;
    enum qs_status st = qs__agent_read_header(f, "random", 1, diag);
    return st ? st : qs__agent_read_rng(f, r->rng, diag);
}

static void rnd_destroy(qs_agent *a) {
    struct random_agent *r = (struct random_agent *)a;
    if (!r) return;
    if (r->rng) gsl_rng_free(r->rng);
    qs__free(r);
}

static const struct qs_agent_ops random_ops = {
    "random", rnd_begin, rnd_act, rnd_taken, rnd_end, rnd_exhausted, rnd_save, rnd_load,
    rnd_destroy,
};

enum qs_status qs__agent_random_create(const struct qs_search_config *cfg,
                                       const struct qs_space *space, qs_agent **out,
                                       struct qs_diag *diag) {
    *out = NULL;
    struct random_agent *r = qs__calloc(1, sizeof(*r));
    if (r) r->rng = qs__agent_rng(cfg->seed);
    if (!r || !r->rng) {
        if (r) rnd_destroy(&r->base);
        return qs__diag(diag, QS_STATUS_NOMEM, "random agent: out of memory");
    }
    r->base.ops = &random_ops;
    *out = &r->base;
    return QS_STATUS_OK;
}
