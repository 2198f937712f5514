// Budgets enforced before evaluation (AMC-style look-ahead clamping, exact whole-model
// costs). See core.h.
#include "search/core.h"

#include <math.h>
#include <string.h>

#define MAX_CHOICES 128
#define CONT_STEPS 20  // continuous sparsity: choices on a grid of this many steps

struct qs_constraints {
    const struct qs_search_config *cfg;
    const struct qs_space *space;
    qs_evaluator *ev;
    bool active;
    qs_policy_t *work;                 // decided prefix + candidate + floors
    struct qs_layer_policy *floor;     // per searched layer
    struct qs_layer_policy *decided;   // per searched layer, valid below `next`
    int next;
};

static bool prunable(const qs_constraints *c, int l) {
    return qs__evaluator_prunable(c->ev, c->space->layers[l].layer);
}

void qs__constraints_decode(const qs_constraints *c, int l, const float *action,
                            struct qs_layer_policy *lp) {
    qs__space_decode(c->space, l, action, lp);
    if (!prunable(c, l)) lp->sparsity = 0.0f;
}

// Every choice of searched layer l.
static int choices(const qs_constraints *c, int l, struct qs_layer_policy *out) {
    const struct qs_space *s = c->space;
    int n_s = 0;
    float sp[MAX_CHOICES];
    if (!prunable(c, l)) {
        sp[n_s++] = 0.0f;
    } else if (s->sparsity_continuous) {
        for (int i = 0; i <= CONT_STEPS; i++)
            sp[n_s++] = s->sparsity_min + (s->sparsity_max - s->sparsity_min) * (float)i /
                                              CONT_STEPS;
    } else {
        for (int i = 0; i < s->n_sparsity; i++) sp[n_s++] = s->sparsity[i];
    }
    int n = 0;
    for (int w = 0; w < s->n_w_bits; w++)
        for (int a = 0; a < (s->tie_bits ? 1 : s->n_a_bits); a++)
            for (int k = 0; k < n_s && n < MAX_CHOICES; k++) {
                struct qs_layer_policy lp = qs_layer_policy_default();
                lp.w_bits = s->w_bits[w];
                lp.a_bits = s->tie_bits ? lp.w_bits : s->a_bits[a];
                lp.sparsity = sp[k];
                snprintf(lp.pattern, sizeof lp.pattern, "%s", s->pattern);
                out[n++] = lp;
            }
    return n;
}

bool qs__constraints_fit(const qs_constraints *c, const struct qs_metrics *m, char *why,
                         size_t why_size) {
    const struct qs_search_config *cfg = c->cfg;
    // A relative slack of 1e-9 absorbs the rounding of sums taken in another order.
    if (cfg->latency_budget_ms > 0 && !(m->latency_ms <= cfg->latency_budget_ms * (1 + 1e-9))) {
        if (why) snprintf(why, why_size, "latency %.4g ms > latency_budget %.4g ms",
                          m->latency_ms, cfg->latency_budget_ms);
        return false;
    }
    if (cfg->size_budget_bytes > 0 && !(m->model_bytes <= cfg->size_budget_bytes)) {
        if (why) snprintf(why, why_size, "model %.0f bytes > size_budget %.0f bytes",
                          m->model_bytes, cfg->size_budget_bytes);
        return false;
    }
    if (cfg->flops_budget > 0 && !(m->flops <= cfg->flops_budget * (1 + 1e-9))) {
        if (why) snprintf(why, why_size, "%.4g FLOPs > flops_budget %.4g", m->flops,
                          cfg->flops_budget);
        return false;
    }
    if (cfg->bops_budget > 0 && !(m->bops <= cfg->bops_budget * (1 + 1e-9))) {
        if (why) snprintf(why, why_size, "%.4g BOPs > bops_budget %.4g", m->bops,
                          cfg->bops_budget);
        return false;
    }
    return true;
}

void qs__constraints_describe(const qs_constraints *c, char *buf, size_t size) {
    const struct qs_search_config *cfg = c->cfg;
    size_t n = 0;
    buf[0] = 0;
    if (cfg->latency_budget_ms > 0)
        n += (size_t)snprintf(buf + n, size - n, "%slatency <= %g ms", n ? ", " : "",
                              cfg->latency_budget_ms);
    if (cfg->size_budget_bytes > 0 && n < size)
        n += (size_t)snprintf(buf + n, size - n, "%smodel bytes <= %.0f", n ? ", " : "",
                              cfg->size_budget_bytes);
    if (cfg->flops_budget > 0 && n < size)
        n += (size_t)snprintf(buf + n, size - n, "%sFLOPs <= %g", n ? ", " : "",
                              cfg->flops_budget);
    if (cfg->bops_budget > 0 && n < size)
        n += (size_t)snprintf(buf + n, size - n, "%sBOPs <= %g", n ? ", " : "", cfg->bops_budget);
    if (n == 0) snprintf(buf, size, "none");
}

// Puts the whole work policy together: decided layers below `upto`, `lp` at `upto` (when
// not NULL), floors after.
static enum qs_status build_work(qs_constraints *c, int upto, const struct qs_layer_policy *lp,
                                 struct qs_diag *diag) {
    for (int l = 0; l < c->space->n_layers; l++) {
        const struct qs_layer_policy *p =
            l < upto ? &c->decided[l] : (l == upto && lp) ? lp : &c->floor[l];
        enum qs_status st = qs_policy_set(c->work, c->space->layers[l].info.name, p, diag);
        if (st != QS_STATUS_OK) return st;
    }
    return QS_STATUS_OK;
}

static enum qs_status work_fits(qs_constraints *c, bool *fits, char *why, size_t why_size,
                                struct qs_diag *diag) {
    struct qs_metrics m;
    enum qs_status st = qs__evaluator_cost(c->ev, c->work, &m, diag);
    if (st != QS_STATUS_OK) return st;
    *fits = qs__constraints_fit(c, &m, why, why_size);
    return QS_STATUS_OK;
}

// Normalised cost of one layer choice alone (every other layer fp32 dense), summed over
// the active budgets: what "cheapest" means for the floors.
static enum qs_status solo_cost(qs_constraints *c, qs_policy_t *solo, int l,
                                const struct qs_layer_policy *lp, double *cost,
                                struct qs_diag *diag) {
    const struct qs_search_config *cfg = c->cfg;
    enum qs_status st = qs_policy_set(solo, c->space->layers[l].info.name, lp, diag);
    if (st != QS_STATUS_OK) return st;
    struct qs_metrics m;
    if ((st = qs__evaluator_cost(c->ev, solo, &m, diag)) != QS_STATUS_OK) return st;
    double v = 0.0;
    const struct qs_layer_info *li = &c->space->layers[l].info;
    if (cfg->latency_budget_ms > 0) {
        double ms = 0.0;
        bool miss = false;
        const qs_lut_t *lut = qs__evaluator_lut(c->ev);
        if (lut && qs_lut_layer_cost(lut, qs__evaluator_graph(c->ev), c->space->layers[l].layer,
                                     lp->w_bits, lp->a_bits, lp->sparsity, lp->pattern, &ms,
                                     &miss) == QS_STATUS_OK)
            v += ms / cfg->latency_budget_ms;
    }
    if (cfg->size_budget_bytes > 0) v += m.model_bytes / cfg->size_budget_bytes;
    if (cfg->flops_budget > 0) v += m.flops / cfg->flops_budget;
    if (cfg->bops_budget > 0) v += m.bops / cfg->bops_budget;
    // Ties (no budget separates them): the smaller, sparser choice.
    v += 1e-12 * (lp->w_bits + lp->a_bits) - 1e-13 * lp->sparsity;
    (void)li;
    *cost = v;
    return QS_STATUS_OK;
}

enum qs_status qs__constraints_create(const struct qs_search_config *cfg,
                                      const struct qs_space *space, qs_evaluator *ev,
                                      qs_constraints **out, struct qs_diag *diag) {
    qs_constraints *c = qs__calloc(1, sizeof *c);
    if (!c) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    c->cfg = cfg;
    c->space = space;
    c->ev = ev;
    c->active = cfg->latency_budget_ms > 0 || cfg->size_budget_bytes > 0 ||
                cfg->flops_budget > 0 || cfg->bops_budget > 0;
    enum qs_status st = QS_STATUS_OK;
    c->floor = qs__calloc((size_t)space->n_layers, sizeof *c->floor);
    c->decided = qs__calloc((size_t)space->n_layers, sizeof *c->decided);
    if (!c->floor || !c->decided || qs_policy_create(&c->work) != QS_STATUS_OK) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
        goto fail;
    }
    if (!c->active) {
        *out = c;
        return QS_STATUS_OK;
    }
    if (cfg->latency_budget_ms > 0 && !qs__evaluator_lut(ev)) {
        st = qs__diag(diag, QS_STATUS_INVALID_ARG, "%s: latency_budget needs a latency table "
                      "(lut)", cfg->source);
        goto fail;
    }
    qs_policy_t *solo = NULL;
    if (qs_policy_create(&solo) != QS_STATUS_OK) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
        goto fail;
    }
    struct qs_layer_policy ch[MAX_CHOICES];
    for (int l = 0; l < space->n_layers && st == QS_STATUS_OK; l++) {
        int n = choices(c, l, ch);
        double best = INFINITY;
        for (int k = 0; k < n && st == QS_STATUS_OK; k++) {
            double v;
            st = solo_cost(c, solo, l, &ch[k], &v, diag);
            if (st == QS_STATUS_OK && v < best) {
                best = v;
                c->floor[l] = ch[k];
            }
        }
        // Back to fp32 for the next layer's solo costs.
        struct qs_layer_policy fp = qs_layer_policy_default();
        if (st == QS_STATUS_OK) st = qs_policy_set(solo, space->layers[l].info.name, &fp, diag);
    }
    qs_policy_destroy(solo);
    if (st != QS_STATUS_OK) goto fail;
    bool fits;
    char why[256];
    if ((st = build_work(c, 0, NULL, diag)) != QS_STATUS_OK ||
        (st = work_fits(c, &fits, why, sizeof why, diag)) != QS_STATUS_OK)
        goto fail;
    if (!fits) {
        st = qs__diag(diag, QS_STATUS_INVALID_ARG, "%s: the budgets cannot be met: the "
                      "cheapest policy of the search space has %s", cfg->source, why);
        goto fail;
    }
    *out = c;
    return QS_STATUS_OK;
fail:
    qs__constraints_destroy(c);
    return st;
}

void qs__constraints_destroy(qs_constraints *c) {
    if (!c) return;
    qs_policy_destroy(c->work);
    qs__free(c->floor);
    qs__free(c->decided);
    qs__free(c);
}

bool qs__constraints_active(const qs_constraints *c) { return c->active; }

void qs__constraints_begin(qs_constraints *c) { c->next = 0; }

static double action_dist(const float *a, const float *b) {
    double d = 0.0;
    for (int i = 0; i < QS_ACTION_DIM; i++) d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return d;
}

enum qs_status qs__constraints_clamp(qs_constraints *c, int l, struct qs_layer_policy *lp,
                                     bool *changed, struct qs_diag *diag) {
    *changed = false;
    QS_ASSERT(l == c->next);
    if (!prunable(c, l)) lp->sparsity = 0.0f;
    enum qs_status st = QS_STATUS_OK;
    if (c->active) {
        bool fits;
        if ((st = build_work(c, l, lp, diag)) != QS_STATUS_OK ||
            (st = work_fits(c, &fits, NULL, 0, diag)) != QS_STATUS_OK)
            return st;
        if (!fits) {
            // The feasible choice nearest to the proposal (in action space); the floor
            // always fits, so there is one.
            struct qs_layer_policy ch[MAX_CHOICES];
            int n = choices(c, l, ch);
            float want[QS_ACTION_DIM];
            qs__space_encode(c->space, l, lp, want);
            double dist[MAX_CHOICES];
            int order[MAX_CHOICES];
            for (int k = 0; k < n; k++) {
                float a[QS_ACTION_DIM];
                qs__space_encode(c->space, l, &ch[k], a);
                dist[k] = action_dist(want, a);
                order[k] = k;
            }
            for (int i = 1; i < n; i++)
                for (int j = i; j > 0 && dist[order[j - 1]] > dist[order[j]]; j--) {
                    int t = order[j];
                    order[j] = order[j - 1];
                    order[j - 1] = t;
                }
            struct qs_layer_policy pick = c->floor[l];
            for (int i = 0; i < n; i++) {
                if ((st = build_work(c, l, &ch[order[i]], diag)) != QS_STATUS_OK ||
                    (st = work_fits(c, &fits, NULL, 0, diag)) != QS_STATUS_OK)
                    return st;
                if (fits) {
                    pick = ch[order[i]];
                    break;
                }
            }
            *lp = pick;
            *changed = true;
        }
    }
    c->decided[l] = *lp;
    c->next = l + 1;
    return QS_STATUS_OK;
}
