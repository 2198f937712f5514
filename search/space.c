// The search space: which layers are searched, the choices of each, the action <-> policy
// mapping (HAQ's equal-width bins) and the per-layer state the agents embed.
#include "search/search-impl.h"

#include <math.h>
#include <regex.h>
#include <string.h>

// Feature columns before the two previous-action ones (QS_STATE_DIM - 2).
#define QS_SPACE_FEATURES 10

static void sort_ints(int *v, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

static void sort_floats(float *v, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            float t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

// Copies a candidate list, sorted ascending without duplicates, so that a small action
// always means the cheaper choice (8 bits before 32, as HAQ's "a <= 0.5 -> 8").
static int unique_ints(const int *src, int n, int *dst) {
    int tmp[2];
    n = QS_MIN(n, 2);
    memcpy(tmp, src, (size_t)n * sizeof(int));
    sort_ints(tmp, n);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (m == 0 || dst[m - 1] != tmp[i]) dst[m++] = tmp[i];
    return m;
}

static bool bits_ok(const int *v, int n) {
    for (int i = 0; i < n; i++)
        if (v[i] != 8 && v[i] != 32) return false;
    return true;
}

void qs__space_destroy(struct qs_space *space) {
    if (!space) return;
    qs__free(space->layers);
    qs__free(space->features);
    qs__free(space);
}

// True when `name` matches ignore entry `pat`: the exact name, or the whole name matching
// the extended regular expression.
static bool ignore_match(const regex_t *re, const char *pat, const char *name) {
    if (strcmp(pat, name) == 0) return true;
    regmatch_t m;
    if (regexec(re, name, 1, &m, 0) != 0) return false;
    return m.rm_so == 0 && name[m.rm_eo] == '\0';
}

enum qs_status qs__space_create(const struct qs_search_config *cfg, const qs_graph_t *graph,
                                struct qs_space **out, struct qs_diag *diag) {
    *out = NULL;
    const char *src = cfg->source ? cfg->source : "<config>";
    if (cfg->n_w_bits < 1 || !bits_ok(cfg->w_bits, QS_MIN(cfg->n_w_bits, 2)))
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "%s: w_bits: candidates must be 8 or 32",
                        src);
    if (!cfg->tie_bits && (cfg->n_a_bits < 1 || !bits_ok(cfg->a_bits, QS_MIN(cfg->n_a_bits, 2))))
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "%s: a_bits: candidates must be 8 or 32",
                        src);
    if (cfg->n_sparsity < 0 || cfg->n_sparsity > QS_MAX_SPARSITY)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "%s: sparsity: at most %d candidates",
                        src, QS_MAX_SPARSITY);
    for (int i = 0; i < cfg->n_sparsity; i++)
        if (!(cfg->sparsity[i] >= 0.0f && cfg->sparsity[i] <= 0.95f))
            return qs__diag(diag, QS_STATUS_INVALID_ARG,
                            "%s: sparsity: candidate %g outside [0, 0.95]", src,
                            (double)cfg->sparsity[i]);
    if (cfg->sparsity_continuous &&
        !(cfg->sparsity_min >= 0.0f && cfg->sparsity_min <= cfg->sparsity_max &&
          cfg->sparsity_max <= 0.95f))
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "%s: sparsity range [%g, %g] must lie in [0, 0.95]", src,
                        (double)cfg->sparsity_min, (double)cfg->sparsity_max);
    if (cfg->n_ignore < 0 || cfg->n_ignore > QS_MAX_IGNORE)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "%s: ignore: at most %d entries", src,
                        QS_MAX_IGNORE);

    enum qs_status st = QS_STATUS_NOMEM;
    int n_graph = qs_graph_layer_count(graph);
    regex_t re[QS_MAX_IGNORE];
    int n_re = 0;
    bool used[QS_MAX_IGNORE] = {false};
    struct qs_space *s = qs__calloc(1, sizeof(*s));
    if (!s) goto error;
    s->layers = qs__calloc((size_t)QS_MAX(n_graph, 1), sizeof(*s->layers));
    if (!s->layers) goto error;
    for (; n_re < cfg->n_ignore; n_re++) {
        int rc = regcomp(&re[n_re], cfg->ignore[n_re], REG_EXTENDED);
        if (rc != 0) {
            char msg[128];
            regerror(rc, &re[n_re], msg, sizeof(msg));
            st = qs__diag(diag, QS_STATUS_PARSE, "%s: ignore: bad regular expression '%s': %s",
                          src, cfg->ignore[n_re], msg);
            goto error;
        }
    }
    for (int i = 0; i < n_graph; i++) {
        struct qs_layer_info info;
        st = qs_graph_layer_info(graph, i, &info);
        if (st != QS_STATUS_OK) {
            qs__diag(diag, st, "%s: layer %d: no layer information", src, i);
            goto error;
        }
        bool skip = cfg->skip_first_last && (i == 0 || i == n_graph - 1);
        for (int k = 0; k < n_re; k++)
            if (info.name && ignore_match(&re[k], cfg->ignore[k], info.name)) {
                used[k] = true;
                skip = true;
            }
        if (skip) continue;
        struct qs_space_layer *sl = &s->layers[s->n_layers++];
        sl->layer = i;
        sl->info = info;
    }
    for (int k = 0; k < n_re; k++)
        if (!used[k]) {
            st = qs__diag(diag, QS_STATUS_PARSE, "%s: ignore: '%s' names no layer of the model",
                          src, cfg->ignore[k]);
            goto error;
        }
    if (s->n_layers == 0) {
        st = qs__diag(diag, QS_STATUS_PARSE, "%s: no layer left to search (%d layers, %s)",
                      src, n_graph, "after skip_first_last and ignore");
        goto error;
    }

    s->n_w_bits = unique_ints(cfg->w_bits, cfg->n_w_bits, s->w_bits);
    s->tie_bits = cfg->tie_bits;
    if (s->tie_bits) {
        s->n_a_bits = s->n_w_bits;
        memcpy(s->a_bits, s->w_bits, sizeof(s->a_bits));
    } else {
        s->n_a_bits = unique_ints(cfg->a_bits, cfg->n_a_bits, s->a_bits);
    }
    s->sparsity_continuous = cfg->sparsity_continuous;
    s->sparsity_min = cfg->sparsity_min;
    s->sparsity_max = cfg->sparsity_max;
    if (cfg->n_sparsity == 0) {
        s->n_sparsity = 1;
        s->sparsity[0] = 0.0f;
    } else {
        float tmp[QS_MAX_SPARSITY];
        memcpy(tmp, cfg->sparsity, (size_t)cfg->n_sparsity * sizeof(float));
        sort_floats(tmp, cfg->n_sparsity);
        for (int i = 0; i < cfg->n_sparsity; i++)
            if (s->n_sparsity == 0 || s->sparsity[s->n_sparsity - 1] != tmp[i])
                s->sparsity[s->n_sparsity++] = tmp[i];
    }
    snprintf(s->pattern, sizeof(s->pattern), "%s",
             cfg->sparsity_pattern[0] ? cfg->sparsity_pattern : "unstructured");
    for (int l = 0; l < s->n_layers; l++) {
        struct qs_space_layer *sl = &s->layers[l];
        sl->n_choices[0] = s->n_w_bits;
        sl->n_choices[1] = s->tie_bits ? 1 : s->n_a_bits;
        sl->n_choices[2] = s->sparsity_continuous ? 0 : s->n_sparsity;
    }

    // Feature columns, then min-max normalisation per column over the searched layers
    // (HAQ, NNCF); a constant column becomes 0.
    s->features = qs__calloc((size_t)s->n_layers * QS_SPACE_FEATURES, sizeof(float));
    if (!s->features) goto error;
    double raw[QS_SPACE_FEATURES];
    double lo[QS_SPACE_FEATURES], hi[QS_SPACE_FEATURES];
    for (int c = 0; c < QS_SPACE_FEATURES; c++) {
        lo[c] = INFINITY;
        hi[c] = -INFINITY;
    }
    double *all = qs__malloc((size_t)s->n_layers * QS_SPACE_FEATURES * sizeof(double));
    if (!all) goto error;
    for (int l = 0; l < s->n_layers; l++) {
        const struct qs_layer_info *in = &s->layers[l].info;
        raw[0] = l;
        raw[1] = (double)in->kind;
        raw[2] = in->depthwise ? 1.0 : 0.0;
        raw[3] = (double)in->c_in;
        raw[4] = (double)in->c_out;
        raw[5] = (double)(in->kernel_h * in->kernel_w);
        raw[6] = (double)QS_MAX(in->stride_h, in->stride_w);
        raw[7] = (double)(in->in_h * in->in_w);
        raw[8] = (double)in->params;
        raw[9] = (double)in->flops;
        for (int c = 0; c < QS_SPACE_FEATURES; c++) {
            all[l * QS_SPACE_FEATURES + c] = raw[c];
            lo[c] = QS_MIN(lo[c], raw[c]);
            hi[c] = QS_MAX(hi[c], raw[c]);
        }
    }
    for (int l = 0; l < s->n_layers; l++)
        for (int c = 0; c < QS_SPACE_FEATURES; c++) {
            double v = all[l * QS_SPACE_FEATURES + c];
            s->features[l * QS_SPACE_FEATURES + c] =
                hi[c] > lo[c] ? (float)((v - lo[c]) / (hi[c] - lo[c])) : 0.0f;
        }
    qs__free(all);
    for (int k = 0; k < n_re; k++) regfree(&re[k]);
    *out = s;
    return QS_STATUS_OK;

error:
    if (st == QS_STATUS_NOMEM) qs__diag(diag, st, "%s: out of memory building the space", src);
    for (int k = 0; k < n_re; k++) regfree(&re[k]);
    qs__space_destroy(s);
    return st;
}

double qs__space_size(const struct qs_space *space) {
    if (space->sparsity_continuous) return INFINITY;
    double n = 1.0;
    for (int l = 0; l < space->n_layers; l++)
        for (int d = 0; d < QS_ACTION_DIM; d++) n *= space->layers[l].n_choices[d];
    return n;
}

// Bin of action value a among n equal-width bins of [0, 1].
static int bin_of(float a, int n) {
    if (!(a > 0.0f)) return 0;  // also NaN
    int i = (int)(a * (float)n);
    return i >= n ? n - 1 : i;
}

static float bin_centre(int i, int n) { return ((float)i + 0.5f) / (float)n; }

void qs__space_decode(const struct qs_space *space, int l, const float *action,
                      struct qs_layer_policy *out) {
    (void)l;
    *out = qs_layer_policy_default();
    out->w_bits = space->w_bits[bin_of(action[0], space->n_w_bits)];
    out->a_bits = space->tie_bits ? out->w_bits : space->a_bits[bin_of(action[1], space->n_a_bits)];
    if (space->sparsity_continuous) {
        float a = action[2] > 0.0f ? (action[2] < 1.0f ? action[2] : 1.0f) : 0.0f;
        out->sparsity = space->sparsity_min + a * (space->sparsity_max - space->sparsity_min);
    } else {
        out->sparsity = space->sparsity[bin_of(action[2], space->n_sparsity)];
    }
    snprintf(out->pattern, sizeof(out->pattern), "%s", space->pattern);
}

static int index_of_int(const int *v, int n, int x) {
    int best = 0;
    for (int i = 0; i < n; i++)
        if (abs(v[i] - x) < abs(v[best] - x)) best = i;
    return best;
}

void qs__space_encode(const struct qs_space *space, int l, const struct qs_layer_policy *lp,
                      float *action) {
    (void)l;
    action[0] = bin_centre(index_of_int(space->w_bits, space->n_w_bits, lp->w_bits),
                           space->n_w_bits);
    action[1] = space->tie_bits
                    ? action[0]
                    : bin_centre(index_of_int(space->a_bits, space->n_a_bits, lp->a_bits),
                                 space->n_a_bits);
    if (space->sparsity_continuous) {
        float range = space->sparsity_max - space->sparsity_min;
        float a = range > 0.0f ? (lp->sparsity - space->sparsity_min) / range : 0.5f;
        action[2] = a > 0.0f ? (a < 1.0f ? a : 1.0f) : 0.0f;
    } else {
        int best = 0;
        for (int i = 0; i < space->n_sparsity; i++)
            if (fabsf(space->sparsity[i] - lp->sparsity) <
                fabsf(space->sparsity[best] - lp->sparsity))
                best = i;
        action[2] = bin_centre(best, space->n_sparsity);
    }
}

void qs__space_state(const struct qs_space *space, int l, const float *prev_action,
                     float *state) {
    memcpy(state, &space->features[l * QS_SPACE_FEATURES], QS_SPACE_FEATURES * sizeof(float));
    state[QS_SPACE_FEATURES] = prev_action ? prev_action[0] : 0.0f;
    state[QS_SPACE_FEATURES + 1] = prev_action ? prev_action[2] : 0.0f;
}
