// Evolutionary multi-objective search in the NSGA-II style (Deb et al. 2002): a population
// of P candidates (one action vector per layer); each generation proposes P offspring made
// by binary tournament (Pareto rank, then crowding distance), uniform crossover of whole
// layers and per-gene mutation, evaluates them one per episode, and keeps the best P of
// parents + offspring by non-dominated sorting and crowding. Objectives are maximised
// (episode_end's vector, or the reward alone when none is given).
#include "search/agent-impl.h"

#include <math.h>
#include <string.h>

#define MAX_OBJ 8

struct evo {
    qs_agent base;
    const struct qs_space *space;
    gsl_rng *rng;
    int P, L, G;  // population, layers, genes (L x QS_ACTION_DIM)
    double mutation, crossover;
    int n_obj;    // 0 until the first episode ends
    int gen, k;   // generation; offspring being evaluated
    int n_par;    // parents (0 in generation 0)
    // Pool of 2P: [0, P) parents, [P, 2P) offspring.
    float *genome;   // [2P][G]
    double *obj;     // [2P][MAX_OBJ]
    int *rank;       // [2P]
    double *crowd;   // [2P]
    // Scratch.
    int *idx, *dom_count, *front;
    float *tmp_genome;
    double *tmp_obj;
};

static bool dominates(const double *a, const double *b, int n) {
    bool better = false;
    for (int i = 0; i < n; i++) {
        if (a[i] < b[i]) return false;
        if (a[i] > b[i]) better = true;
    }
    return better;
}

// Random gene of (layer, dim): a bin centre for discrete choices, uniform when continuous.
static float random_gene(struct evo *e, int l, int d) {
    int n = e->space->layers[l].n_choices[d];
    if (n <= 0) return (float)gsl_rng_uniform(e->rng);
    return ((float)gsl_rng_uniform_int(e->rng, (unsigned long)n) + 0.5f) / (float)n;
}

// Pareto ranks (0 = non-dominated) and crowding distances of pool members ids[0..n).
static void rank_and_crowd(struct evo *e, const int *ids, int n) {
    int *cnt = e->dom_count, *fr = e->front;
    for (int i = 0; i < n; i++) {
        cnt[i] = 0;
        e->rank[ids[i]] = -1;
        for (int j = 0; j < n; j++)
            if (j != i &&
                dominates(&e->obj[ids[j] * MAX_OBJ], &e->obj[ids[i] * MAX_OBJ], e->n_obj))
                cnt[i]++;
    }
    int assigned = 0;
    for (int r = 0; assigned < n; r++) {
        int nf = 0;
        for (int i = 0; i < n; i++)
            if (e->rank[ids[i]] < 0 && cnt[i] == 0) fr[nf++] = i;
        for (int f = 0; f < nf; f++) e->rank[ids[fr[f]]] = r;
        assigned += nf;
        for (int f = 0; f < nf; f++)
            for (int j = 0; j < n; j++)
                if (e->rank[ids[j]] < 0 && dominates(&e->obj[ids[fr[f]] * MAX_OBJ],
                                                     &e->obj[ids[j] * MAX_OBJ], e->n_obj))
                    cnt[j]--;
        // Crowding distance within this front, objective by objective.
        for (int f = 0; f < nf; f++) e->crowd[ids[fr[f]]] = 0.0;
        for (int m = 0; m < e->n_obj; m++) {
            // Insertion sort of the front by objective m (fronts are small).
            for (int a = 1; a < nf; a++)
                for (int b = a; b > 0; b--) {
                    double x = e->obj[ids[fr[b - 1]] * MAX_OBJ + m];
                    double y = e->obj[ids[fr[b]] * MAX_OBJ + m];
                    if (x <= y) break;
                    int t = fr[b];
                    fr[b] = fr[b - 1];
                    fr[b - 1] = t;
                }
            double lo = e->obj[ids[fr[0]] * MAX_OBJ + m];
            double hi = e->obj[ids[fr[nf - 1]] * MAX_OBJ + m];
            e->crowd[ids[fr[0]]] = INFINITY;
            e->crowd[ids[fr[nf - 1]]] = INFINITY;
            if (!(hi > lo) || !isfinite(hi - lo)) continue;
            for (int f = 1; f < nf - 1; f++)
                e->crowd[ids[fr[f]]] += (e->obj[ids[fr[f + 1]] * MAX_OBJ + m] -
                                         e->obj[ids[fr[f - 1]] * MAX_OBJ + m]) / (hi - lo);
        }
    }
}

static bool better(const struct evo *e, int a, int b) {
    if (e->rank[a] != e->rank[b]) return e->rank[a] < e->rank[b];
    if (e->crowd[a] != e->crowd[b]) return e->crowd[a] > e->crowd[b];
    return a < b;
}

// Keeps the best P of parents + offspring as the new parents.
static void select_parents(struct evo *e) {
    int n = 0;
    for (int i = 0; i < e->n_par; i++) e->idx[n++] = i;
    for (int i = 0; i < e->P; i++) e->idx[n++] = e->P + i;
    rank_and_crowd(e, e->idx, n);
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0 && better(e, e->idx[b], e->idx[b - 1]); b--) {
            int t = e->idx[b];
            e->idx[b] = e->idx[b - 1];
            e->idx[b - 1] = t;
        }
    for (int i = 0; i < e->P; i++) {
        memcpy(&e->tmp_genome[(size_t)i * e->G], &e->genome[(size_t)e->idx[i] * e->G],
               (size_t)e->G * sizeof(float));
        memcpy(&e->tmp_obj[i * MAX_OBJ], &e->obj[e->idx[i] * MAX_OBJ], MAX_OBJ * sizeof(double));
    }
    memcpy(e->genome, e->tmp_genome, (size_t)e->P * e->G * sizeof(float));
    memcpy(e->obj, e->tmp_obj, (size_t)e->P * MAX_OBJ * sizeof(double));
    e->n_par = e->P;
    for (int i = 0; i < e->P; i++) e->idx[i] = i;
    rank_and_crowd(e, e->idx, e->P);
}

static int tournament(struct evo *e) {
    int a = (int)gsl_rng_uniform_int(e->rng, (unsigned long)e->n_par);
    int b = (int)gsl_rng_uniform_int(e->rng, (unsigned long)e->n_par);
    return better(e, a, b) ? a : b;
}

static void make_offspring(struct evo *e) {
    const int G = e->G;
    for (int i = 0; i < e->P; i += 2) {
        float *c1 = &e->genome[(size_t)(e->P + i) * G];
        float *c2 = i + 1 < e->P ? &e->genome[(size_t)(e->P + i + 1) * G] : e->tmp_genome;
        memcpy(c1, &e->genome[(size_t)tournament(e) * G], (size_t)G * sizeof(float));
        memcpy(c2, &e->genome[(size_t)tournament(e) * G], (size_t)G * sizeof(float));
        if (gsl_rng_uniform(e->rng) < e->crossover)
            for (int l = 0; l < e->L; l++)
                if (gsl_rng_uniform(e->rng) < 0.5)
                    for (int d = 0; d < QS_ACTION_DIM; d++) {
                        float t = c1[l * QS_ACTION_DIM + d];
                        c1[l * QS_ACTION_DIM + d] = c2[l * QS_ACTION_DIM + d];
                        c2[l * QS_ACTION_DIM + d] = t;
                    }
        for (int l = 0; l < e->L; l++)
            for (int d = 0; d < QS_ACTION_DIM; d++) {
                int g = l * QS_ACTION_DIM + d;
                if (gsl_rng_uniform(e->rng) < e->mutation) c1[g] = random_gene(e, l, d);
                if (gsl_rng_uniform(e->rng) < e->mutation) c2[g] = random_gene(e, l, d);
            }
    }
}

static enum qs_status evo_begin(qs_agent *a, int episode, struct qs_diag *diag) {
    return QS_STATUS_OK;
}

static enum qs_status evo_act(qs_agent *a, int layer, const float *state, float *action) {
    struct evo *e = (struct evo *)a;
    memcpy(action, &e->genome[(size_t)(e->P + e->k) * e->G + layer * QS_ACTION_DIM],
           QS_ACTION_DIM * sizeof(float));
    return QS_STATUS_OK;
}

static void evo_taken(qs_agent *a, int layer, const float *action) {
    struct evo *e = (struct evo *)a;
    memcpy(&e->genome[(size_t)(e->P + e->k) * e->G + layer * QS_ACTION_DIM], action,
           QS_ACTION_DIM * sizeof(float));
}

static enum qs_status evo_end(qs_agent *a, double reward, const double *objectives,
                              int n_objectives, struct qs_diag *diag) {
    struct evo *e = (struct evo *)a;
    int n = n_objectives > 0 ? n_objectives : 1;
    if (n > MAX_OBJ)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "evolution: %d objectives (at most %d)",
                        n, MAX_OBJ);
    if (e->n_obj == 0) e->n_obj = n;
    if (n != e->n_obj)
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "evolution: %d objectives after %d in earlier episodes", n, e->n_obj);
    double *o = &e->obj[(e->P + e->k) * MAX_OBJ];
    for (int i = 0; i < n; i++) {
        double v = n_objectives > 0 ? objectives[i] : reward;
        o[i] = isfinite(v) ? v : -INFINITY;  // a failed evaluation is dominated
    }
    if (++e->k == e->P) {
        select_parents(e);
        make_offspring(e);
        e->k = 0;
        e->gen++;
    }
    return QS_STATUS_OK;
}

static bool evo_exhausted(const qs_agent *a) { return false; }

int qs__agent_evolution_front(const qs_agent *a, double *objectives, int max, int *n_objectives) {
    // Cast away const: ranking writes the scratch arrays only.
    struct evo *e = (struct evo *)a;
    QS_ASSERT(strcmp(a->ops->name, "evolution") == 0);
    *n_objectives = e->n_obj;
    if (e->n_obj == 0) return 0;
    int n = 0;
    for (int i = 0; i < e->n_par; i++) e->idx[n++] = i;
    for (int i = 0; i < e->k; i++) e->idx[n++] = e->P + i;
    // Ranks of the parents are recomputed after, so the next selection is unaffected.
    rank_and_crowd(e, e->idx, n);
    int count = 0;
    for (int i = 0; i < n; i++)
        if (e->rank[e->idx[i]] == 0) {
            if (count < max)
                memcpy(&objectives[count * e->n_obj], &e->obj[e->idx[i] * MAX_OBJ],
                       (size_t)e->n_obj * sizeof(double));
            count++;
        }
    for (int i = 0; i < e->n_par; i++) e->idx[i] = i;
    if (e->n_par) rank_and_crowd(e, e->idx, e->n_par);
    return count;
}

#define EVO_VERSION 1

static enum qs_status evo_save(const qs_agent *a, FILE *f, struct qs_diag *diag) {
    const struct evo *e = (const struct evo *)a;
    enum qs_status st = qs__agent_write_header(f, "evolution", EVO_VERSION, diag);
    if (st) return st;
    int32_t hdr[6] = {e->P, e->G, e->n_obj, e->gen, e->k, e->n_par};
    size_t n2 = 2 * (size_t)e->P;
    if (!qs__agent_write(f, hdr, sizeof(hdr)) ||
        !qs__agent_write(f, e->genome, n2 * e->G * sizeof(float)) ||
        !qs__agent_write(f, e->obj, n2 * MAX_OBJ * sizeof(double)) ||
        !qs__agent_write(f, e->rank, n2 * sizeof(int)) ||
        !qs__agent_write(f, e->crowd, n2 * sizeof(double)))
        return qs__diag(diag, QS_STATUS_IO, "evolution agent: checkpoint write failed");
    return qs__agent_write_rng(f, e->rng, diag);
}

static enum qs_status evo_load(qs_agent *a, FILE *f, struct qs_diag *diag) {
    struct evo *e = (struct evo *)a;
    enum qs_status st = qs__agent_read_header(f, "evolution", EVO_VERSION, diag);
    if (st) return st;
    int32_t hdr[6];
    if (!qs__agent_read(f, hdr, sizeof(hdr)))
        return qs__diag(diag, QS_STATUS_PARSE, "evolution agent: truncated checkpoint");
    if (hdr[0] != e->P || hdr[1] != e->G || hdr[2] < 0 || hdr[2] > MAX_OBJ || hdr[4] < 0 ||
        hdr[4] >= e->P || (hdr[5] != 0 && hdr[5] != e->P))
        return qs__diag(diag, QS_STATUS_PARSE,
                        "evolution agent: checkpoint of population %d x %d genes, not %d x %d",
                        (int)hdr[0], (int)hdr[1], e->P, e->G);
    e->n_obj = hdr[2];
    e->gen = hdr[3];
    e->k = hdr[4];
    e->n_par = hdr[5];
    size_t n2 = 2 * (size_t)e->P;
    if (!qs__agent_read(f, e->genome, n2 * e->G * sizeof(float)) ||
        !qs__agent_read(f, e->obj, n2 * MAX_OBJ * sizeof(double)) ||
        !qs__agent_read(f, e->rank, n2 * sizeof(int)) ||
        !qs__agent_read(f, e->crowd, n2 * sizeof(double)))
        return qs__diag(diag, QS_STATUS_PARSE, "evolution agent: truncated checkpoint");
    return qs__agent_read_rng(f, e->rng, diag);
}

static void evo_destroy(qs_agent *a) {
    struct evo *e = (struct evo *)a;
    if (!e) return;
    if (e->rng) gsl_rng_free(e->rng);
    qs__free(e->genome);
    qs__free(e->obj);
    qs__free(e->rank);
    qs__free(e->crowd);
    qs__free(e->idx);
    qs__free(e->dom_count);
    qs__free(e->front);
    qs__free(e->tmp_genome);
    qs__free(e->tmp_obj);
    qs__free(e);
}

static const struct qs_agent_ops evolution_ops = {
    "evolution", evo_begin, evo_act, evo_taken, evo_end, evo_exhausted, evo_save, evo_load,
    evo_destroy,
};

enum qs_status qs__agent_evolution_create(const struct qs_search_config *cfg,
                                          const struct qs_space *space, qs_agent **out,
                                          struct qs_diag *diag) {
    *out = NULL;
    struct evo *e = qs__calloc(1, sizeof(*e));
    if (!e) return qs__diag(diag, QS_STATUS_NOMEM, "evolution agent: out of memory");
    e->base.ops = &evolution_ops;
    e->space = space;
    e->L = space->n_layers;
    e->G = e->L * QS_ACTION_DIM;
    // Zero (unset) fields: population 20, mutation 1/layers, crossover 0.9.
    e->P = cfg->population > 1 ? cfg->population : 20;
    e->mutation = cfg->mutation_rate > 0 ? cfg->mutation_rate : 1.0 / e->L;
    e->crossover = cfg->crossover_rate > 0 ? cfg->crossover_rate : 0.9;
    size_t n2 = 2 * (size_t)e->P;
    e->rng = qs__agent_rng(cfg->seed);
    e->genome = qs__calloc(n2 * e->G, sizeof(float));
    e->obj = qs__calloc(n2 * MAX_OBJ, sizeof(double));
    e->rank = qs__calloc(n2, sizeof(int));
    e->crowd = qs__calloc(n2, sizeof(double));
    e->idx = qs__calloc(n2, sizeof(int));
    e->dom_count = qs__calloc(n2, sizeof(int));
    e->front = qs__calloc(n2, sizeof(int));
    e->tmp_genome = qs__calloc((size_t)e->P * e->G, sizeof(float));
    e->tmp_obj = qs__calloc((size_t)e->P * MAX_OBJ, sizeof(double));
    if (!e->rng || !e->genome || !e->obj || !e->rank || !e->crowd || !e->idx || !e->dom_count ||
        !e->front || !e->tmp_genome || !e->tmp_obj) {
        evo_destroy(&e->base);
        return qs__diag(diag, QS_STATUS_NOMEM, "evolution agent: out of memory");
    }
    // Generation 0: P random candidates.
    for (int i = 0; i < e->P; i++)
        for (int l = 0; l < e->L; l++)
            for (int d = 0; d < QS_ACTION_DIM; d++)
                e->genome[(size_t)(e->P + i) * e->G + l * QS_ACTION_DIM + d] =
                    random_gene(e, l, d);
    *out = &e->base;
    return QS_STATUS_OK;
}
