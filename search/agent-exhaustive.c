// Exhaustive search: enumerates every discrete candidate once (mixed radix over the layers'
// choices, the last layer counting fastest), proposing the action at the centre of each
// bin; then exhausted() is true.
#include "search/agent-impl.h"

#include <math.h>

// Spaces larger than this are refused: exhaustive search is for small spaces.
#define QS_EXHAUSTIVE_MAX 1e9

struct exhaustive_agent {
    qs_agent base;
    const struct qs_space *space;
    int64_t next, total;  // next candidate to propose, number of candidates
    int64_t current;      // candidate of the running episode
};

static enum qs_status ex_begin(qs_agent *a, int episode, struct qs_diag *diag) {
    struct exhaustive_agent *e = (struct exhaustive_agent *)a;
    if (e->next >= e->total)
        return qs__diag(diag, QS_STATUS_INVALID_STATE,
                        "exhaustive search: all %lld candidates were proposed",
                        (long long)e->total);
    e->current = e->next;
    return QS_STATUS_OK;
}

static enum qs_status ex_act(qs_agent *a, int layer, const float *state, float *action) {
    struct exhaustive_agent *e = (struct exhaustive_agent *)a;
    const struct qs_space *s = e->space;
    int64_t rest = e->current;
    // Digits after (layer, d) in enumeration order divide them away.
    for (int l = s->n_layers - 1; l >= 0; l--)
        for (int d = QS_ACTION_DIM - 1; d >= 0; d--) {
            int n = s->layers[l].n_choices[d];
            int digit = (int)(rest % n);
            rest /= n;
            if (l == layer) action[d] = ((float)digit + 0.5f) / (float)n;
        }
    return QS_STATUS_OK;
}

static void ex_taken(qs_agent *a, int layer, const float *action) {}

static enum qs_status ex_end(qs_agent *a, double reward, const double *objectives,
                             int n_objectives, struct qs_diag *diag) {
    struct exhaustive_agent *e = (struct exhaustive_agent *)a;
    e->next = e->current + 1;
    return QS_STATUS_OK;
}

static bool ex_exhausted(const qs_agent *a) {
    const struct exhaustive_agent *e = (const struct exhaustive_agent *)a;
    return e->next >= e->total;
}

static enum qs_status ex_save(const qs_agent *a, FILE *f, struct qs_diag *diag) {
    const struct exhaustive_agent *e = (const struct exhaustive_agent *)a;
    enum qs_status st = qs__agent_write_header(f, "exhaustive", 1, diag);
    if (st) return st;
    if (!qs__agent_write(f, &e->total, sizeof(e->total)) ||
        !qs__agent_write(f, &e->next, sizeof(e->next)))
        return qs__diag(diag, QS_STATUS_IO, "exhaustive agent: checkpoint write failed");
    return QS_STATUS_OK;
}

static enum qs_status ex_load(qs_agent *a, FILE *f, struct qs_diag *diag) {
    struct exhaustive_agent *e = (struct exhaustive_agent *)a;
    enum qs_status st = qs__agent_read_header(f, "exhaustive", 1, diag);
    if (st) return st;
    int64_t total, next;
    if (!qs__agent_read(f, &total, sizeof(total)) || !qs__agent_read(f, &next, sizeof(next)))
        return qs__diag(diag, QS_STATUS_PARSE, "exhaustive agent: truncated checkpoint");
    if (total != e->total || next < 0 || next > total)
        return qs__diag(diag, QS_STATUS_PARSE,
                        "exhaustive agent: checkpoint of a space of %lld candidates, not %lld",
                        (long long)total, (long long)e->total);
    e->next = next;
    return QS_STATUS_OK;
}

static void ex_destroy(qs_agent *a) { qs__free(a); }

static const struct qs_agent_ops exhaustive_ops = {
    "exhaustive", ex_begin, ex_act, ex_taken, ex_end, ex_exhausted, ex_save, ex_load,
    ex_destroy,
};

enum qs_status qs__agent_exhaustive_create(const struct qs_search_config *cfg,
                                           const struct qs_space *space, qs_agent **out,
                                           struct qs_diag *diag) {
    *out = NULL;
    double size = qs__space_size(space);
    if (!isfinite(size))
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "exhaustive search needs discrete sparsity candidates, not a range");
    if (size > QS_EXHAUSTIVE_MAX)
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "exhaustive search: %.3g candidates (%d layers) is too many (at most "
                        "%.0g); use ddpg, random or evolution",
                        size, space->n_layers, QS_EXHAUSTIVE_MAX);
    struct exhaustive_agent *e = qs__calloc(1, sizeof(*e));
    if (!e) return qs__diag(diag, QS_STATUS_NOMEM, "exhaustive agent: out of memory");
    e->base.ops = &exhaustive_ops;
    e->space = space;
    e->total = (int64_t)size;
    *out = &e->base;
    return QS_STATUS_OK;
}
