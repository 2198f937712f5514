// Pattern parsing, the weight view of a layer and magnitude pruning (unstructured, N:M,
// block, channel) with exact counts.
#include "sparse/sparse-impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const method_names[QS_PRUNE_METHOD_COUNT] = {"magnitude", "bias_correction",
                                                                "obs", "obs_bias_correction"};

const char *qs_prune_method_name(enum qs_prune_method m) {
    return (unsigned)m < QS_PRUNE_METHOD_COUNT ? method_names[m] : "unknown";
}

enum qs_status qs_prune_method_parse(const char *name, enum qs_prune_method *out,
                                     struct qs_diag *diag) {
    static const struct { const char *s; enum qs_prune_method m; } alias[] = {
        {"magnitude", QS_PRUNE_MAGNITUDE},   {"bias_correction", QS_PRUNE_BIAS_CORRECTION},
        {"bias-correction", QS_PRUNE_BIAS_CORRECTION}, {"bc", QS_PRUNE_BIAS_CORRECTION},
        {"obs", QS_PRUNE_OBS},               {"sparsegpt", QS_PRUNE_OBS},
        {"obs_bias_correction", QS_PRUNE_OBS_BIAS_CORRECTION},
        {"obs_bc", QS_PRUNE_OBS_BIAS_CORRECTION},
    };
    for (size_t i = 0; name && i < QS_COUNTOF(alias); i++)
        if (!strcasecmp(name, alias[i].s)) {
            *out = alias[i].m;
            return QS_STATUS_OK;
        }
    return qs__diag(diag, QS_STATUS_INVALID_ARG,
                    "unknown pruning method '%s' (magnitude, bias_correction, obs, "
                    "obs_bias_correction)",
                    name ? name : "(null)");
}

enum qs_status qs_prune_pattern_parse(const char *s, struct qs_prune_pattern *out,
                                      struct qs_diag *diag) {
    struct qs_prune_pattern p = {.kind = QS_PATTERN_UNSTRUCTURED};
    int a, b;
    char tail;
    if (!s || !*s || !strcmp(s, "unstructured")) {
    } else if (!strcmp(s, "channel")) {
        p.kind = QS_PATTERN_CHANNEL;
    } else if (sscanf(s, "%d:%d%c", &a, &b, &tail) == 2 && a > 0 && b > a && b <= 16) {
        p.kind = QS_PATTERN_NM;
        p.n = a;
        p.m = b;
    } else if (sscanf(s, "block%dx%d%c", &a, &b, &tail) == 2 && a > 0 && b > 0 &&
               a * b <= 4096) {
        p.kind = QS_PATTERN_BLOCK;
        p.r = a;
        p.c = b;
    } else {
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "unknown sparsity pattern '%s' (unstructured, N:M such as 2:4 with "
                        "N < M <= 16, blockRxC such as block1x4, channel)", s);
    }
    *out = p;
    return QS_STATUS_OK;
}

int64_t qs__sparse_count(double sparsity, int64_t n) {
    return (int64_t)floor(sparsity * (double)n + 0.5);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

void qs__sparse_sort_keys(uint64_t *keys, size_t n) { qsort(keys, n, sizeof *keys, cmp_u64); }

enum qs_status qs__sparse_wview(const qs_graph_t *g, int layer, struct qs__wview *v,
                                struct qs_diag *diag) {
    struct qs_layer_info li;
    struct qs_layer_weights lw;
    struct qs_tensor_info ti;
    enum qs_status st;
    if ((st = qs_graph_layer_info(g, layer, &li)) != QS_STATUS_OK)
        return qs__diag(diag, st, "layer %d: no such layer", layer);
    if ((st = qs_graph_layer_weights(g, layer, &lw, diag)) != QS_STATUS_OK) return st;
    if ((st = qs_graph_tensor(g, lw.w_tensor, &ti, NULL)) != QS_STATUS_OK) return st;
    if (li.kind == QS_LAYER_MATMUL) {
        struct qs_node_info ni;
        if (qs_graph_node_info(g, li.node, &ni) == QS_STATUS_OK && ni.n_inputs > 0 &&
            ni.inputs[0].id == lw.w_tensor)
            return qs__diag(diag, QS_STATUS_UNSUPPORTED,
                            "layer '%s': constant first MatMul operand", li.name);
    }
    if (ti.rank < 1 || lw.w_numel <= 0)
        return qs__diag(diag, QS_STATUS_UNSUPPORTED, "layer '%s': empty weight", li.name);
    if (li.w_axis == 0) {
        *v = (struct qs__wview){ti.dims[0], lw.w_numel / QS_MAX(ti.dims[0], 1), false};
    } else if (ti.rank == 2 && li.w_axis == 1) {
        *v = (struct qs__wview){ti.dims[1], ti.dims[0], true};
    } else {
        return qs__diag(diag, QS_STATUS_UNSUPPORTED,
                        "layer '%s': weight of rank %d with output axis %d", li.name, ti.rank,
                        li.w_axis);
    }
    if (v->m <= 0 || v->k <= 0 || v->m * v->k != lw.w_numel)
        return qs__diag(diag, QS_STATUS_UNSUPPORTED, "layer '%s': odd weight shape", li.name);
    return QS_STATUS_OK;
}

void qs__sparse_to_rows(const struct qs__wview *v, const float *file, float *w) {
    if (!v->transposed) {
        memcpy(w, file, (size_t)(v->m * v->k) * sizeof *w);
        return;
    }
    for (int64_t kk = 0; kk < v->k; kk++)
        for (int64_t r = 0; r < v->m; r++) w[r * v->k + kk] = file[kk * v->m + r];
}

void qs__sparse_from_rows(const struct qs__wview *v, const float *w, float *file) {
    if (!v->transposed) {
        memcpy(file, w, (size_t)(v->m * v->k) * sizeof *w);
        return;
    }
    for (int64_t kk = 0; kk < v->k; kk++)
        for (int64_t r = 0; r < v->m; r++) file[kk * v->m + r] = w[r * v->k + kk];
}

// Zeroes the `count` entries with the smallest scores (ties by index); units are elements,
// blocks or rows, expanded by `expand`.
typedef void (*unit_fn)(void *ctx, int64_t unit);

static enum qs_status prune_smallest(const float *scores, int64_t n, int64_t count, unit_fn fn,
                                     void *ctx, struct qs_diag *diag) {
    if (count <= 0) return QS_STATUS_OK;
    if (n > UINT32_MAX) return qs__diag(diag, QS_STATUS_UNSUPPORTED, "matrix too large");
    uint64_t *keys = qs__malloc((size_t)n * sizeof *keys);
    if (!keys) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory (pruning keys)");
    for (int64_t i = 0; i < n; i++) keys[i] = qs__sparse_key(scores[i], (uint32_t)i);
    qs__sparse_sort_keys(keys, (size_t)n);
    for (int64_t i = 0; i < count && i < n; i++) fn(ctx, (int64_t)(keys[i] & 0xffffffffu));
    qs__free(keys);
    return QS_STATUS_OK;
}

struct mag_ctx {
    float *w;
    uint8_t *mask;
    int64_t m, k;
    struct qs_prune_pattern p;
};

static void zero_elem(void *c, int64_t u) {
    struct mag_ctx *x = c;
    x->w[u] = 0.0f;
    x->mask[u] = 0;
}

static void zero_block(void *c, int64_t u) {
    struct mag_ctx *x = c;
    int64_t bc = (x->k + x->p.c - 1) / x->p.c;
    int64_t r0 = (u / bc) * x->p.r, c0 = (u % bc) * x->p.c;
    for (int64_t r = r0; r < QS_MIN(r0 + x->p.r, x->m); r++)
        for (int64_t j = c0; j < QS_MIN(c0 + x->p.c, x->k); j++) zero_elem(c, r * x->k + j);
}

static void zero_row(void *c, int64_t u) {
    struct mag_ctx *x = c;
    for (int64_t j = 0; j < x->k; j++) zero_elem(c, u * x->k + j);
}

// In one N:M group of `g` entries starting at w: zero all but the n largest |w| (ties keep
// the lower index).
static void nm_group(float *w, uint8_t *mask, int g, int n) {
    int prune = g - n;
    for (int t = 0; t < prune; t++) {
        int best = -1;
        for (int j = 0; j < g; j++) {
            if (!mask[j]) continue;
            // the smallest remaining; among equals the highest index goes first
            if (best < 0 || fabsf(w[j]) <= fabsf(w[best])) best = j;
        }
        if (best < 0) break;
        w[best] = 0.0f;
        mask[best] = 0;
    }
}

enum qs_status qs_prune_magnitude(float *w, int64_t m, int64_t k,
                                  const struct qs_prune_pattern *pattern, float sparsity,
                                  uint8_t *mask_out, struct qs_diag *diag) {
    if (!w || m <= 0 || k <= 0 || !pattern)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "prune: empty matrix");
    if (!(sparsity >= 0.0f && sparsity <= 0.95f))
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "sparsity %g outside [0, 0.95]",
                        (double)sparsity);
    int64_t n = m * k;
    uint8_t *mask = mask_out ? mask_out : qs__malloc((size_t)n);
    if (!mask) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory (mask)");
    memset(mask, 1, (size_t)n);
    struct mag_ctx cx = {w, mask, m, k, *pattern};
    enum qs_status st = QS_STATUS_OK;
    if (sparsity > 0.0f) {
        float *scores = NULL;
        int64_t units = 0, count = 0;
        unit_fn fn = zero_elem;
        switch (pattern->kind) {
        case QS_PATTERN_NM:
            for (int64_t r = 0; r < m; r++)
                for (int64_t j = 0; j < k; j += pattern->m)
                    nm_group(w + r * k + j, mask + r * k + j, (int)QS_MIN(pattern->m, k - j),
                             QS_MIN(pattern->n, (int)QS_MIN(pattern->m, k - j)));
            break;
        case QS_PATTERN_UNSTRUCTURED:
            units = n;
            count = qs__sparse_count(sparsity, n);
            if (!(scores = qs__malloc((size_t)n * sizeof *scores))) break;
            for (int64_t i = 0; i < n; i++) scores[i] = fabsf(w[i]);
            break;
        case QS_PATTERN_BLOCK: {
            int64_t br = (m + pattern->r - 1) / pattern->r, bc = (k + pattern->c - 1) / pattern->c;
            units = br * bc;
            count = qs__sparse_count(sparsity, units);
            fn = zero_block;
            if (!(scores = qs__calloc((size_t)units, sizeof *scores))) break;
            // mean square per block, so that blocks clipped at the edges rank fairly
            for (int64_t r = 0; r < m; r++)
                for (int64_t j = 0; j < k; j++)
                    scores[(r / pattern->r) * bc + j / pattern->c] += w[r * k + j] * w[r * k + j];
            for (int64_t u = 0; u < units; u++) {
                int64_t rr = QS_MIN(pattern->r, m - (u / bc) * pattern->r);
                int64_t cc = QS_MIN(pattern->c, k - (u % bc) * pattern->c);
                scores[u] /= (float)(rr * cc);
            }
            break;
        }
        case QS_PATTERN_CHANNEL:
            units = m;
            count = qs__sparse_count(sparsity, m);
            fn = zero_row;
            if (!(scores = qs__calloc((size_t)m, sizeof *scores))) break;
            for (int64_t r = 0; r < m; r++)
                for (int64_t j = 0; j < k; j++) scores[r] += w[r * k + j] * w[r * k + j];
            break;
        }
        if (pattern->kind != QS_PATTERN_NM) {
            st = scores ? prune_smallest(scores, units, count, fn, &cx, diag)
                        : qs__diag(diag, QS_STATUS_NOMEM, "out of memory (scores)");
        }
        qs__free(scores);
    }
    if (!mask_out) qs__free(mask);
    return st;
}

enum qs_status qs_prune_global_threshold(const float *const *w, const int64_t *numel,
                                         int n_mats, float sparsity, float *threshold_out,
                                         struct qs_diag *diag) {
    if (!(sparsity >= 0.0f && sparsity <= 0.95f))
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "sparsity %g outside [0, 0.95]",
                        (double)sparsity);
    int64_t total = 0;
    for (int i = 0; i < n_mats; i++) total += numel[i];
    int64_t count = qs__sparse_count(sparsity, total);
    if (count <= 0 || total <= 0) {
        *threshold_out = -1.0f;  // prunes nothing (|w| <= -1 never holds)
        return QS_STATUS_OK;
    }
    float *a = qs__malloc((size_t)total * sizeof *a);
    if (!a) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory (global threshold)");
    int64_t p = 0;
    for (int i = 0; i < n_mats; i++)
        for (int64_t j = 0; j < numel[i]; j++) a[p++] = fabsf(w[i][j]);
    // quickselect of the count-th smallest
    int64_t lo = 0, hi = total - 1, want = count - 1;
    while (lo < hi) {
        float pivot = a[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                float t = a[i];
                a[i++] = a[j];
                a[j--] = t;
            }
        }
        if (want <= j) hi = j;
        else if (want >= i) lo = i;
        else break;
    }
    *threshold_out = a[want];
    qs__free(a);
    return QS_STATUS_OK;
}
