// Ranges derived from an observer's histogram: percentile (GSL's histogram pdf), TensorRT's
// KL-entropy threshold, and the MSE / EMD searches over the signed distribution.
#include "quant/quant-impl.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_histogram.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>

enum qs_status qs__hist_view_make(const qs_observer_t *ob, enum qs__hist_side side,
                                  bool with_zeros, qs__hist_view *v) {
    int nb = ob->nb;
    *v = (qs__hist_view){NULL, 0, 0.0, 0.0};
    v->h = qs__malloc(sizeof(double) * (size_t)nb);
    if (!v->h) return QS_STATUS_NOMEM;
    size_t nbz = (size_t)nb;
    for (int j = 0; j < nb; j++) {
        uint64_t p = qs__obs_bin(ob, (size_t)j), n = qs__obs_bin(ob, nbz + (size_t)j);
        uint64_t c = side == QS_HIST_POS ? p : side == QS_HIST_NEG ? n : p + n;
        v->h[j] = (double)c;
        if (c) v->n = j + 1;
    }
    uint64_t zeros = with_zeros ? qs__obs_bin(ob, 2 * nbz) : 0;
    v->h[0] += (double)zeros;
    if (v->n == 0 && zeros) v->n = 1;
    for (int j = 0; j < v->n; j++) v->total += v->h[j];
    // With no non-zero value the width does not matter: every threshold is then clamped to 0.
    v->width = ob->has_range ? ldexp(1.0, ob->range_exp) / nb : 1.0;
    return QS_STATUS_OK;
}

enum qs_status qs__hist_percentile(const qs__hist_view *v, double p, double *t_out,
                                   struct qs_diag *diag) {
    size_t n = (size_t)v->n;
    double top = v->n * v->width;
    enum qs_status st = QS_STATUS_OK;
    gsl_histogram *h = gsl_histogram_alloc(n);
    gsl_histogram_pdf *pdf = gsl_histogram_pdf_alloc(n);
    if (!h || !pdf) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "calibration: out of memory for a histogram");
        goto done;
    }
    int gs = gsl_histogram_set_ranges_uniform(h, 0.0, top);
    if (gs == GSL_SUCCESS) {
        memcpy(h->bin, v->h, sizeof(double) * n);
        gs = gsl_histogram_pdf_init(pdf, h);
    }
    if (gs != GSL_SUCCESS) {
        st = qs__diag(diag, QS_STATUS_NUMERIC, "calibration: GSL histogram: %s",
                      gsl_strerror(gs));
        goto done;
    }
    // The inverse of the cumulative distribution, linear inside a bin. pdf->sum[n] is 1 up
    // to rounding; at or beyond it the quantile is the top of the histogram.
    *t_out = p >= pdf->sum[n] ? top : gsl_histogram_pdf_sample(pdf, p);
done:
    gsl_histogram_pdf_free(pdf);
    gsl_histogram_free(h);
    return st;
}

// TensorRT's entropy calibration, as NVIDIA's pytorch-quantization computes it (also MXNet,
// onnxruntime, PaddleSlim): for each candidate i (bins kept), P is the histogram cut at i with
// the outliers added to the last kept bin; Q is the kept bins merged into `levels` groups
// (bin j in group floor(j * levels / i)) and spread back uniformly over each group's
// non-empty bins. The i minimising KL(P || Q) (the largest on ties) gives the threshold
// i * width. A candidate whose last kept bin is empty has Q = 0 where P > 0 (infinite KL) and
// is skipped. Inside a group Q is constant on the non-empty bins, so with prefix sums of h,
// h ln h and of the non-empty count each candidate costs O(levels), not O(i).
enum qs_status qs__hist_kl(const qs__hist_view *v, int levels, double *t_out) {
    int n = v->n;
    const double *h = v->h;
    if (n <= levels) {
        *t_out = n * v->width;
        return QS_STATUS_OK;
    }
    double *c = qs__malloc(sizeof(double) * 3 * (size_t)(n + 1));
    if (!c) return QS_STATUS_NOMEM;
    double *hl = c + (n + 1), *z = hl + (n + 1);
    c[0] = hl[0] = z[0] = 0.0;
    for (int j = 0; j < n; j++) {
        c[j + 1] = c[j] + h[j];
        hl[j + 1] = hl[j] + (h[j] > 0.0 ? h[j] * log(h[j]) : 0.0);
        z[j + 1] = z[j] + (h[j] > 0.0);
    }
    double total = c[n], ln_total = log(total);
    double best = INFINITY;
    int best_i = n;
    for (int i = levels; i <= n; i++) {
        if (h[i - 1] == 0.0) continue;
        double out = total - c[i];
        double p_last = (h[i - 1] + out) / total;
        // sum P ln P over the kept bins (P = h / total, the last one with the outliers).
        double spp = (hl[i - 1] - ln_total * c[i - 1]) / total + p_last * log(p_last);
        // sum P ln Q: group g holds bins [ceil(g i / L), ceil((g + 1) i / L)); its P mass sits
        // on its non-empty bins, where Q = S_g / (z_g * sum of kept h).
        double ln_q = log(c[i]), spq = 0.0;
        int a = 0;
        for (int g = 0; g < levels; g++) {
            int b = (int)(((int64_t)(g + 1) * i + levels - 1) / levels);
            double s = c[b] - c[a];
            if (s > 0.0) {
                double w = (b == i ? s + out : s) / total;
                spq += w * (log(s) - log(z[b] - z[a]) - ln_q);
            }
            a = b;
        }
        double kl = spp - spq;
        if (kl <= best) {
            best = kl;
            best_i = i;
        }
    }
    qs__free(c);
    *t_out = best_i * v->width;
    return QS_STATUS_OK;
}

// ---------------------------------------------------------------------------------------
// MSE and EMD: the signed distribution as points (bin centres, zeros at 0) with weights.

typedef struct {
    double *x, *w, *y;  // points, weights, quantize-dequantize image of the points
    size_t n;
    const struct qs_calib_method *m;
    double mean0, sd0;  // EMD: of the original points
} dist;

static double objective(dist *d, double lo, double hi) {
    struct qs_qparams p;
    if (qs_qparams_from_range(lo, hi, d->m->dtype, d->m->bits, false, &p, NULL))
        return INFINITY;
    for (size_t i = 0; i < d->n; i++)
        d->y[i] = qs_dequantize_value(qs_quantize_value((float)d->x[i], &p), &p);
    if (d->m->algo == QS_CALIB_MSE) {
        double e = 0.0;
        for (size_t i = 0; i < d->n; i++) e += d->w[i] * (d->x[i] - d->y[i]) * (d->x[i] - d->y[i]);
        return e;
    }
    double mean = gsl_stats_wmean(d->w, 1, d->y, 1, d->n);
    double sd = gsl_stats_wsd_m(d->w, 1, d->y, 1, d->n, mean);
    double r = fabs(mean - d->mean0) + fabs(sd - d->sd0);
    return isfinite(r) ? r : INFINITY;
}

enum search_mode { JOINT, HI_ONLY, LO_ONLY };

// Best scale factor s in the grid for the range (s*lo0, s*hi0) (JOINT) or one end scaled and
// the other fixed at the current point `s_init`, which a grid point must then beat strictly.
// Ties keep the larger s (less clipping).
static double search(dist *d, enum search_mode mode, double lo0, double hi0, double lo_fix,
                     double hi_fix, double s_init) {
    bool mse = d->m->algo == QS_CALIB_MSE;
    // MSE: geometric grid 1 .. 0.97^151 ~ 0.01, then a linear refinement around the best.
    // EMD: PaddleSlim's [0.3, 1] with step 0.01 (a finer grid than its 0.02); its objective
    // has spurious zeros far below the data range, so the grid stays where Paddle put it.
    int steps = mse ? 152 : 71;
    double best = mode == JOINT ? INFINITY
                                : objective(d, mode == HI_ONLY ? lo_fix : s_init * lo0,
                                            mode == LO_ONLY ? hi_fix : s_init * hi0);
    double best_s = s_init;
    int best_k = -1;
    for (int k = 0; k < steps; k++) {
        double s = mse ? pow(0.97, k) : 1.0 - 0.01 * k;
        double lo = mode == HI_ONLY ? lo_fix : s * lo0, hi = mode == LO_ONLY ? hi_fix : s * hi0;
        double e = objective(d, lo, hi);
        if (e < best) best = e, best_s = s, best_k = k;
    }
    if (mse && best_k >= 0) {
        double a = pow(0.97, best_k + 1), b = best_k > 0 ? pow(0.97, best_k - 1) : 1.0;
        for (int k = 20; k >= 0; k--) {
            double s = a + (b - a) * k / 20.0;
            double lo = mode == HI_ONLY ? lo_fix : s * lo0;
            double hi = mode == LO_ONLY ? hi_fix : s * hi0;
            double e = objective(d, lo, hi);
            if (e < best) best = e, best_s = s;
        }
    }
    return best_s;
}

enum qs_status qs__search_range(const qs_observer_t *ob, const struct qs_calib_method *m,
                                double *lo_out, double *hi_out, struct qs_diag *diag) {
    int nb = ob->nb;
    double width = ldexp(1.0, ob->range_exp) / nb;
    size_t cap = 2 * (size_t)nb + 1;
    dist d = {0};
    d.x = qs__malloc(sizeof(double) * 3 * cap);
    if (!d.x) return qs__diag(diag, QS_STATUS_NOMEM, "calibration: out of memory for a search");
    d.w = d.x + cap;
    d.y = d.w + cap;
    d.m = m;
    uint64_t zeros = qs__obs_bin(ob, 2 * (size_t)nb);
    if (zeros) d.x[d.n] = 0.0, d.w[d.n++] = (double)zeros;
    for (int half = 0; half < 2; half++)
        for (int j = 0; j < nb; j++) {
            uint64_t c = qs__obs_bin(ob, (size_t)half * nb + j);
            if (!c) continue;
            // Centres, kept inside the observed range so that the full range clips nothing.
            double x = (j + 0.5) * width;
            d.x[d.n] = half ? fmax(-x, ob->min) : fmin(x, ob->max);
            d.w[d.n++] = (double)c;
        }
    double lo0 = fmin(ob->min, 0.0), hi0 = fmax(ob->max, 0.0);
    if (m->dtype == QS_DTYPE_I8) hi0 = fmax(-lo0, hi0), lo0 = -hi0;
    if (d.n < 2) {
        // One value: nothing to trade off.
        *lo_out = lo0;
        *hi_out = hi0;
        qs__free(d.x);
        return QS_STATUS_OK;
    }
    if (m->algo == QS_CALIB_EMD) {
        d.mean0 = gsl_stats_wmean(d.w, 1, d.x, 1, d.n);
        d.sd0 = gsl_stats_wsd_m(d.w, 1, d.x, 1, d.n, d.mean0);
        if (!isfinite(d.mean0) || !isfinite(d.sd0)) {
            qs__free(d.x);
            return qs__diag(diag, QS_STATUS_NUMERIC,
                            "calibration: EMD statistics of the histogram are not finite");
        }
    }
    double s = search(&d, JOINT, lo0, hi0, 0.0, 0.0, 1.0);
    double lo = s * lo0, hi = s * hi0;
    if (m->dtype == QS_DTYPE_U8 && lo0 < 0.0 && hi0 > 0.0) {
        // Both signs: each end on its own, the other fixed at the joint optimum.
        hi = search(&d, HI_ONLY, lo0, hi0, lo, hi, s) * hi0;
        lo = search(&d, LO_ONLY, lo0, hi0, lo, hi, s) * lo0;
    }
    qs__free(d.x);
    *lo_out = lo;
    *hi_out = hi;
    return QS_STATUS_OK;
}
