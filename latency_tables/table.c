// The latency table in memory: entries by canonical key, their sparsity points, keys and
// their features, and the estimate of keys the table does not hold.
#include "latency_tables/lut-impl.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum qs_status qs__lut_create(qs_lut_t **out) {
    qs_lut_t *l = qs__calloc(1, sizeof *l);
    if (!l) return QS_STATUS_NOMEM;
    l->batch = 1;
    l->threads = 1;
    snprintf(l->pattern, sizeof l->pattern, "unstructured");
    *out = l;
    return QS_STATUS_OK;
}

void qs_lut_destroy(qs_lut_t *l) {
    if (!l) return;
    for (int i = 0; i < l->n_entries; i++) {
        qs__free(l->entries[i].key);
        for (int j = 0; j < l->entries[i].n_pts; j++) qs__free(l->entries[i].pts[j].meds);
        qs__free(l->entries[i].pts);
    }
    for (int i = 0; i < l->n_jobs; i++) qs__free(l->jobs[i]);
    for (int i = 0; i < l->n_models; i++) qs__free(l->models[i]);
    qs__free(l->jobs);
    qs__free(l->models);
    qs__free(l->entries);
    qs__free(l->slots);
    qs__free(l->settings);
    qs__free(l->path);
    qs__free(l);
}

const struct qs_lut_hw *qs_lut_descriptor(const qs_lut_t *l) { return &l->hw; }
int qs_lut_batch(const qs_lut_t *l) { return l->batch; }
int qs_lut_entry_count(const qs_lut_t *l) {
    int n = 0;
    for (int i = 0; i < l->n_entries; i++) n += l->entries[i].n_pts;
    return n;
}

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

lut_entry *qs__lut_find(const qs_lut_t *l, const char *key) {
    if (!l->n_slots) return NULL;
    size_t mask = (size_t)l->n_slots - 1;
    for (size_t i = hash_str(key) & mask;; i = (i + 1) & mask) {
        int e = l->slots[i];
        if (e < 0) return NULL;
        if (!strcmp(l->entries[e].key, key)) return &l->entries[e];
    }
}

static bool rehash(qs_lut_t *l, int n_slots) {
    int *s = qs__malloc(sizeof(int) * (size_t)n_slots);
    if (!s) return false;
    for (int i = 0; i < n_slots; i++) s[i] = -1;
    size_t mask = (size_t)n_slots - 1;
    for (int e = 0; e < l->n_entries; e++) {
        size_t i = hash_str(l->entries[e].key) & mask;
        while (s[i] >= 0) i = (i + 1) & mask;
        s[i] = e;
    }
    qs__free(l->slots);
    l->slots = s;
    l->n_slots = n_slots;
    return true;
}

static bool grow(void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return true;
    int c = *cap ? *cap * 2 : 16;
    while (c < need) c *= 2;
    void *q = qs__realloc(*p, elem * (size_t)c);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

static bool push_med(lut_point *p, double v) {
    if (!grow((void **)&p->meds, &p->cap_meds, p->n_meds + 1, sizeof *p->meds)) return false;
    p->meds[p->n_meds++] = v;
    return true;
}

enum qs_status qs__lut_add(qs_lut_t *l, const char *key, const lut_point *in) {
    lut_point copy = *in, *pt = &copy;
    copy.meds = NULL;
    copy.n_meds = copy.cap_meds = 0;
    lut_entry *e = qs__lut_find(l, key);
    if (!e) {
        if (!grow((void **)&l->entries, &l->cap_entries, l->n_entries + 1, sizeof *l->entries))
            return QS_STATUS_NOMEM;
        e = &l->entries[l->n_entries];
        memset(e, 0, sizeof *e);
        if (!(e->key = qs__strdup(key))) return QS_STATUS_NOMEM;
        qs__lut_key_features(key, &e->f);
        l->n_entries++;
        if (l->n_entries * 2 > l->n_slots) {
            if (!rehash(l, l->n_slots ? l->n_slots * 2 : 64)) return QS_STATUS_NOMEM;
        } else {
            size_t mask = (size_t)l->n_slots - 1, i = hash_str(key) & mask;
            while (l->slots[i] >= 0) i = (i + 1) & mask;
            l->slots[i] = l->n_entries - 1;
        }
    }
    for (int i = 0; i < e->n_pts; i++) {
        lut_point *p = &e->pts[i];
        if (fabsf(p->sparsity - pt->sparsity) > 1e-6f) continue;
        // The same node measured in several configurations (at different times): the
        // median of their medians. (The lower quartile, tried first, made whole-model
        // sums 4-6% lower than measured medians: a node's calmest configurations are not
        // what a whole run meets.)
        if (!p->n_meds && !push_med(p, p->ms)) return QS_STATUS_NOMEM;
        if (!push_med(p, pt->ms)) return QS_STATUS_NOMEM;
        double *m = p->meds;
        for (int a = 1; a < p->n_meds; a++)  // insertion sort: a few dozen values
            for (int b = a; b > 0 && m[b - 1] > m[b]; b--) {
                double t = m[b];
                m[b] = m[b - 1];
                m[b - 1] = t;
            }
        p->ms = m[(p->n_meds - 1) / 2];
        p->p10 = fmin(fmin(p->p10, pt->p10), p->ms);
        p->p90 = fmax(fmax(p->p90, pt->p90), p->ms);
        p->runs += pt->runs;
        return QS_STATUS_OK;
    }
    if (!grow((void **)&e->pts, &e->cap_pts, e->n_pts + 1, sizeof *e->pts)) return QS_STATUS_NOMEM;
    int at = e->n_pts;
    while (at > 0 && e->pts[at - 1].sparsity > pt->sparsity) {
        e->pts[at] = e->pts[at - 1];
        at--;
    }
    e->pts[at] = *pt;
    e->n_pts++;
    return QS_STATUS_OK;
}

static enum qs_status add_str(char ***list, int *n, int *cap, const char *s) {
    if (!grow((void **)list, cap, *n + 1, sizeof(char *))) return QS_STATUS_NOMEM;
    if (!((*list)[*n] = qs__strdup(s))) return QS_STATUS_NOMEM;
    (*n)++;
    return QS_STATUS_OK;
}

enum qs_status qs__lut_add_job(qs_lut_t *l, const char *job) {
    return add_str(&l->jobs, &l->n_jobs, &l->cap_jobs, job);
}

bool qs__lut_has_job(const qs_lut_t *l, const char *job) {
    size_t n = strlen(job);
    for (int i = 0; i < l->n_jobs; i++)
        if (!strncmp(l->jobs[i], job, n) && (l->jobs[i][n] == 0 || l->jobs[i][n] == '|'))
            return true;
    return false;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double t, r;
} tr_pair;

static int cmp_tr(const void *a, const void *b) {
    double x = ((const tr_pair *)a)->t, y = ((const tr_pair *)b)->t;
    return x < y ? -1 : x > y;
}

static double median_of(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_dbl);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The residual curve of n (sum, residual) pairs: jobs sorted by sum, cut into bins of about
// equal count (at least 8 jobs, at most LUT_RESID_KNOTS bins), a knot per bin at the
// bins' median sum and median residual; then pool-adjacent-violators makes the residual's
// share of the run non-decreasing (a longer run is not interrupted less often), which also
// smooths the noise of neighbouring bins. Returns the number of knots (0: too few jobs).
static int fit_curve(tr_pair *v, int n, double *kt, double *kr) {
    if (n < 8) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_tr);
    int bins = QS_MIN(LUT_RESID_KNOTS, n / 8);
    double *tmp = qs__malloc(sizeof(double) * (size_t)n);
    double w[LUT_RESID_KNOTS];
    if (!tmp) return 0;
    int k = 0;
    for (int b = 0; b < bins; b++) {
        int lo = (int)((int64_t)n * b / bins), hi = (int)((int64_t)n * (b + 1) / bins);
        for (int i = lo; i < hi; i++) tmp[i - lo] = v[i].t;
        kt[k] = median_of(tmp, hi - lo);
        for (int i = lo; i < hi; i++) tmp[i - lo] = v[i].r;
        kr[k] = median_of(tmp, hi - lo);
        w[k] = hi - lo;
        // Bins with the same sum (a model measured many times) become one knot.
        if (k > 0 && kt[k] <= kt[k - 1]) {
            kr[k - 1] = (kr[k - 1] * w[k - 1] + kr[k] * w[k]) / (w[k - 1] + w[k]);
            w[k - 1] += w[k];
            continue;
        }
        k++;
    }
    qs__free(tmp);
    // Pool adjacent violators on residual / sum: merged blocks take their weighted mean.
    int blk_end[LUT_RESID_KNOTS], nb = 0;
    double br[LUT_RESID_KNOTS], bw[LUT_RESID_KNOTS];
    for (int i = 0; i < k; i++) {
        br[nb] = kt[i] > 0 ? kr[i] / kt[i] : 0.0;
        bw[nb] = w[i];
        blk_end[nb++] = i;
        while (nb > 1 && br[nb - 2] > br[nb - 1]) {
            br[nb - 2] = (br[nb - 2] * bw[nb - 2] + br[nb - 1] * bw[nb - 1]) /
                         (bw[nb - 2] + bw[nb - 1]);
            bw[nb - 2] += bw[nb - 1];
            blk_end[nb - 2] = blk_end[nb - 1];
            nb--;
        }
    }
    for (int b = 0, i = 0; b < nb; b++)
        for (; i <= blk_end[b]; i++) kr[i] = br[b] * kt[i];
    return k;
}

static double curve_at(const double *kt, const double *kr, int k, double t) {
    if (k <= 0 || !(t > 0)) return 0.0;
    // Below the first knot: towards 0 at 0; beyond the last: the same share of the run.
    if (t <= kt[0]) return kt[0] > 0 ? kr[0] * t / kt[0] : kr[0];
    for (int i = 1; i < k; i++)
        if (t <= kt[i]) return kr[i - 1] + (kr[i] - kr[i - 1]) * (t - kt[i - 1]) /
                                          (kt[i] - kt[i - 1]);
    return kt[k - 1] > 0 ? kr[k - 1] * t / kt[k - 1] : kr[k - 1];
}

double qs__lut_run_residual(const qs_lut_t *l, double sum_ms, int nodes, bool p10) {
    double c = p10 ? curve_at(l->resid_p10_t, l->resid_p10_ms, l->n_resid_p10, sum_ms)
                   : curve_at(l->resid_t, l->resid_ms, l->n_resid, sum_ms);
    return l->run_overhead_ms + l->node_overhead_ms * nodes + c;
}

void qs__lut_fit_overhead(qs_lut_t *l) {
    size_t nj = (size_t)QS_MAX(l->n_jobs, 1);
    double *r = qs__malloc(sizeof(double) * 2 * nj);
    tr_pair *cm = qs__malloc(sizeof *cm * nj), *c10 = qs__malloc(sizeof *c10 * nj);
    if (!r || !cm || !c10) {
        qs__free(r);
        qs__free(cm);
        qs__free(c10);
        return;
    }
    double *x = r + l->n_jobs;
    int n = 0, n_curve = 0;
    for (int i = 0; i < l->n_jobs; i++) {
        const char *bar = strchr(l->jobs[i], '|');
        int nodes;
        double v, t, v10, t10;
        int got = bar ? sscanf(bar, "|%d|%lf|%lf|%lf|%lf", &nodes, &v, &t, &v10, &t10) : 0;
        if (got < 2 || !isfinite(v)) continue;
        if (got == 5 && isfinite(t) && isfinite(v10) && isfinite(t10) && t > 0 && t10 > 0) {
            cm[n_curve] = (tr_pair){t, v};
            c10[n_curve++] = (tr_pair){t10, v10};
        }
    }
    int k = fit_curve(cm, n_curve, l->resid_t, l->resid_ms);
    int k10 = k ? fit_curve(c10, n_curve, l->resid_p10_t, l->resid_p10_ms) : 0;
    if (k) {
        l->n_resid = k;
        l->n_resid_p10 = k10;
    }
    qs__free(cm);
    qs__free(c10);
    // What the curve leaves (all of the residual without one): a + b * nodes.
    for (int i = 0; i < l->n_jobs; i++) {
        const char *bar = strchr(l->jobs[i], '|');
        int nodes;
        double v, t = 0;
        int got = bar ? sscanf(bar, "|%d|%lf|%lf", &nodes, &v, &t) : 0;
        if (got < 2 || !isfinite(v)) continue;
        if (l->n_resid) {
            if (got < 3 || !isfinite(t)) continue;
            v -= curve_at(l->resid_t, l->resid_ms, l->n_resid, t);
        }
        x[n] = nodes;
        r[n++] = v;
    }
    if (n == 0) {
        qs__free(r);
        return;
    }
    // Jobs far from the others (a disturbed measurement) are left out: beyond 5 median
    // absolute deviations of the median.
    double *t = qs__malloc(sizeof(double) * (size_t)n);
    double med = 0, mad = 0;
    if (t) {
        memcpy(t, r, sizeof(double) * (size_t)n);
        qsort(t, (size_t)n, sizeof *t, cmp_dbl);
        med = t[n / 2];
        for (int i = 0; i < n; i++) t[i] = fabs(r[i] - med);
        qsort(t, (size_t)n, sizeof *t, cmp_dbl);
        mad = t[n / 2];
        qs__free(t);
    }
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (fabs(r[i] - med) > 5 * mad + 1e-6) continue;
        sx += x[i];
        sy += r[i];
        sxx += x[i] * x[i];
        sxy += x[i] * r[i];
        m++;
    }
    qs__free(r);
    if (m == 0) return;
    double den = m * sxx - sx * sx;
    if (m < 3 || fabs(den) < 1e-9 * (sxx + 1)) {
        l->run_overhead_ms = sy / m;
        l->node_overhead_ms = 0;
        return;
    }
    l->node_overhead_ms = (m * sxy - sx * sy) / den;
    l->run_overhead_ms = (sy - l->node_overhead_ms * sx) / m;
}

enum qs_status qs__lut_add_model(qs_lut_t *l, const char *m) {
    for (int i = 0; i < l->n_models; i++)
        if (!strcmp(l->models[i], m)) return QS_STATUS_OK;
    return add_str(&l->models, &l->n_models, &l->cap_models, m);
}

static double interp(const lut_entry *e, float s, bool p10) {
    if (!e->n_pts) return 0.0;
    if (s <= e->pts[0].sparsity) return p10 ? e->pts[0].p10 : e->pts[0].ms;
    for (int i = 1; i < e->n_pts; i++) {
        const lut_point *a = &e->pts[i - 1], *b = &e->pts[i];
        if (s <= b->sparsity) {
            double t = (s - a->sparsity) / (double)(b->sparsity - a->sparsity);
            double va = p10 ? a->p10 : a->ms, vb = p10 ? b->p10 : b->ms;
            // Neighbours 20% apart mean the executor switched kernels between them (dense
            // to sparse at a density threshold): a step, not a slope. Use the nearer point.
            if (fabs(a->ms - b->ms) > 0.2 * fmin(a->ms, b->ms)) return t <= 0.5 ? va : vb;
            return va + t * (vb - va);
        }
    }
    return p10 ? e->pts[e->n_pts - 1].p10 : e->pts[e->n_pts - 1].ms;
}

double qs__lut_entry_ms(const lut_entry *e, float s) { return interp(e, s, false); }
double qs__lut_entry_p10(const lut_entry *e, float s) { return interp(e, s, true); }

// --- Keys ----------------------------------------------------------------------------------

static size_t put_shape(char *buf, size_t size, size_t n, const struct qs_tensor_info *t) {
    n += (size_t)snprintf(buf + (n < size ? n : size), n < size ? size - n : 0, "%s:",
                          qs_dtype_name(t->dtype));
    for (int d = 0; d < t->rank; d++)
        n += (size_t)snprintf(buf + (n < size ? n : size), n < size ? size - n : 0, "%s%lld",
                              d ? "x" : "", (long long)t->dims[d]);
    return n;
}

#define PUT(...) \
    (n += (size_t)snprintf(buf + (n < size ? n : size), n < size ? size - n : 0, __VA_ARGS__))

static bool is_layer_op(const char *op) {
    return !strcmp(op, "Conv") || !strcmp(op, "Gemm") || !strcmp(op, "MatMul") ||
           !strcmp(op, "QLinearConv") || !strcmp(op, "QGemm") || !strcmp(op, "QLinearMatMul");
}

// Input index of the weight: the constant operand of a layer op.
static int weight_index(const struct qs_prof_node *p) {
    if (!is_layer_op(p->op_type)) return -1;
    int w = !strncmp(p->op_type, "QLinear", 7) || !strcmp(p->op_type, "QGemm") ? 3 : 1;
    if (!strcmp(p->op_type, "MatMul") && !p->input_const[1] && p->input_const[0]) w = 0;
    return w < p->n_inputs && w < QS_PROF_MAX_IO && p->inputs[w].name && p->input_const[w] ? w
                                                                                          : -1;
}

size_t qs__lut_key_of(const struct qs_prof_node *p, const char *pattern, char *buf, size_t size) {
    size_t n = 0;
    if (size) buf[0] = 0;
    PUT("%s,", p->op_type);
    bool any = false;
    for (int j = 0; j < p->n_inputs && j < QS_PROF_MAX_IO; j++) {
        if (!p->inputs[j].name || p->input_const[j]) continue;
        if (any) PUT(" ");
        n = put_shape(buf, size, n, &p->inputs[j]);
        any = true;
    }
    if (!any) PUT("-");
    PUT(",");
    any = false;
    for (int j = 0; j < p->n_outputs && j < 2; j++) {
        if (!p->outputs[j].name) continue;
        if (any) PUT(" ");
        n = put_shape(buf, size, n, &p->outputs[j]);
        any = true;
    }
    if (p->n_outputs > 2) PUT(" +%d", p->n_outputs - 2);
    if (!any) PUT("-");
    PUT(",");
    int w = weight_index(p);
    if (w >= 0) {
        for (int d = 0; d < p->inputs[w].rank; d++)
            PUT("%s%lld", d ? "x" : "", (long long)p->inputs[w].dims[d]);
        if (!p->inputs[w].rank) PUT("1");
    } else {
        PUT("-");
    }
    PUT(",");
    if (p->has_window)
        PUT("k%lldx%lld s%lldx%lld p%lld.%lld.%lld.%lld d%lldx%lld g%lld",
            (long long)p->kernel[0], (long long)p->kernel[1], (long long)p->stride[0],
            (long long)p->stride[1], (long long)p->pads[0], (long long)p->pads[1],
            (long long)p->pads[2], (long long)p->pads[3], (long long)p->dilation[0],
            (long long)p->dilation[1], (long long)p->group);
    else
        PUT("-");
    PUT(",%s,%s", p->fused_activation ? p->fused_activation : "-",
        w >= 0 ? (pattern && *pattern ? pattern : "unstructured") : "-");
    return n;
}

size_t qs_lut_node_key(const struct qs_prof_node *p, char *buf, size_t size) {
    return qs__lut_key_of(p, NULL, buf, size);
}

// Parses "float32:1x16x32x32" into elements and bytes; false when malformed.
static bool parse_shape(const char *s, const char *end, double *elems, double *bytes,
                        char *dtype, size_t dsize, int64_t *dims, int *rank) {
    const char *c = memchr(s, ':', (size_t)(end - s));
    if (!c) return false;
    size_t dl = (size_t)(c - s);
    if (dl == 0 || dl >= 16) return false;
    char dt[16];
    memcpy(dt, s, dl);
    dt[dl] = 0;
    if (dtype) snprintf(dtype, dsize, "%s", dt);
    size_t esize = 0;
    static const struct { const char *n; size_t s; } dts[] = {
        {"float32", 4}, {"uint8", 1}, {"int8", 1}, {"int32", 4}, {"int64", 8}, {"float16", 2},
        {"bool", 1}, {"float64", 8}, {"uint16", 2}, {"int16", 2}, {"bfloat16", 2},
        {"uint32", 4}, {"uint64", 8}};
    for (size_t i = 0; i < QS_COUNTOF(dts); i++)
        if (!strcmp(dts[i].n, dt)) esize = dts[i].s;
    if (!esize) return false;
    double e = 1;
    int r = 0;
    const char *p = c + 1;
    while (p < end) {
        char *q;
        long long v = strtoll(p, &q, 10);
        if (q == p || v < 0 || q > end) return false;
        if (dims && r < QS_MAX_RANK) dims[r] = v;
        r++;
        e *= (double)v;
        p = q;
        if (p < end && *p != 'x') return false;
        if (p < end) p++;
    }
    *elems = e;
    *bytes = e * (double)esize;
    if (rank) *rank = r;
    return true;
}

// Splits a key into its seven fields (pointers into `copy`).
static bool split_key(char *copy, char **f) {
    int k = 0;
    f[k++] = copy;
    for (char *p = copy; *p; p++)
        if (*p == ',') {
            if (k == 7) return false;
            *p = 0;
            f[k++] = p + 1;
        }
    return k == 7;
}

bool qs__lut_key_features(const char *key, lut_feat *f) {
    memset(f, 0, sizeof *f);
    char copy[LUT_KEY_MAX];
    if (strlen(key) >= sizeof copy) return false;
    strcpy(copy, key);
    char *fl[7];
    if (!split_key(copy, fl) || !fl[0][0]) return false;
    double in_e = 0, in_b = 0, out_e = 0, out_b = 0, w_e = 0;
    char dt0[16] = "-";
    int64_t odims[QS_MAX_RANK] = {0};
    int orank = 0;
    for (int which = 1; which <= 2; which++) {
        char *s = fl[which];
        if (!strcmp(s, "-")) continue;
        bool first = true;
        while (*s) {
            char *e = strchr(s, ' ');
            if (!e) e = s + strlen(s);
            if (*s == '+') {  // "+N" more outputs
                s = *e ? e + 1 : e;
                continue;
            }
            double el, by;
            int64_t dims[QS_MAX_RANK];
            int rank = 0;
            if (!parse_shape(s, e, &el, &by, first && which == 1 ? dt0 : NULL, sizeof dt0, dims,
                             &rank))
                return false;
            if (which == 1) {
                in_e += el;
                in_b += by;
            } else {
                if (first) {
                    orank = QS_MIN(rank, QS_MAX_RANK);
                    memcpy(odims, dims, sizeof(int64_t) * (size_t)orank);
                }
                out_e += el;
                out_b += by;
            }
            first = false;
            s = *e ? e + 1 : e;
        }
    }
    int64_t wdims[QS_MAX_RANK] = {0};
    int wrank = 0;
    if (strcmp(fl[3], "-") != 0) {
        char tmp[128];
        snprintf(tmp, sizeof tmp, "int8:%s", fl[3]);
        double by;
        if (!parse_shape(tmp, tmp + strlen(tmp), &w_e, &by, NULL, 0, wdims, &wrank)) return false;
    }
    long long k0 = 1, k1 = 1, g = 1;
    if (strcmp(fl[4], "-") != 0) {
        long long s0, s1, p0, p1, p2, p3, d0, d1;
        if (sscanf(fl[4], "k%lldx%lld s%lldx%lld p%lld.%lld.%lld.%lld d%lldx%lld g%lld", &k0, &k1,
                   &s0, &s1, &p0, &p1, &p2, &p3, &d0, &d1, &g) != 11)
            return false;
    }
    snprintf(f->family, sizeof f->family, "%s/%s", fl[0], dt0);
    f->group = (double)(g > 0 ? g : 1);
    bool w8 = !strncmp(fl[0], "QLinear", 7) || !strcmp(fl[0], "QGemm");
    f->bytes = in_b + out_b + w_e * (w8 ? 1.0 : 4.0);
    if (w_e > 0) {
        // Output channels: dim 1 of an NCHW conv output, the last dim of a matrix product.
        double oc = 1;
        if (strstr(fl[0], "Conv")) oc = orank > 1 ? (double)odims[1] : 1;
        else oc = orank > 0 ? (double)odims[orank - 1] : 1;
        f->work = 2.0 * out_e * (w_e / (oc > 0 ? oc : 1));
    } else if (strcmp(fl[4], "-") != 0) {
        f->work = out_e * (double)(k0 * k1);
    } else {
        f->work = fmax(in_e, out_e);
    }
    f->valid = true;
    return true;
}

// Estimate of a key the table lacks: the nearest entry of the same family (op type and
// input dtype) in normalised log-feature space, scaled by the ratio of work (or bytes);
// without entries of the family, time per byte of the whole table.
double qs__lut_estimate(const qs_lut_t *l, const char *key, float sparsity) {
    lut_feat q;
    if (!qs__lut_key_features(key, &q)) return 0.0;
    const lut_entry *best = NULL;
    double best_d = INFINITY;
    for (int i = 0; i < l->n_entries; i++) {
        const lut_entry *e = &l->entries[i];
        if (!e->f.valid || strcmp(e->f.family, q.family) != 0 || !e->n_pts) continue;
        double dw = log1p(q.work) - log1p(e->f.work), db = log1p(q.bytes) - log1p(e->f.bytes);
        double dg = log(q.group) - log(e->f.group);
        double d = dw * dw + db * db + 4.0 * dg * dg;
        if (d < best_d) {
            best_d = d;
            best = e;
        }
    }
    if (best) {
        double ms = qs__lut_entry_ms(best, sparsity);
        // A fixed part (call, dispatch) does not scale: split at 10% of the neighbour's time.
        double ratio = best->f.work > 0 && q.work > 0 ? q.work / best->f.work
                       : best->f.bytes > 0            ? q.bytes / best->f.bytes
                                                      : 1.0;
        return ms * (0.1 + 0.9 * ratio);
    }
    double ms = 0, by = 0;
    for (int i = 0; i < l->n_entries; i++)
        if (l->entries[i].n_pts && l->entries[i].f.valid) {
            ms += l->entries[i].pts[0].ms;
            by += l->entries[i].f.bytes;
        }
    if (by > 0 && ms > 0) return fmax(q.bytes * ms / by, 1e-4);
    return 1e-3;  // an empty table: one microsecond, still counted as a miss
}
