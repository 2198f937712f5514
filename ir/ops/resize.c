// Resize (opsets 10-19) and Upsample (7-9).
//
// Every output coordinate along an axis maps to a source coordinate (the
// coordinate_transformation_mode), then to source indices and weights (the mode). Nearest
// copies elements through per-axis index maps, for any dtype, duplicating whole output
// rows with memcpy when consecutive rows read the same source row. Linear and cubic are
// separable: one weighted pass per resized axis, as ONNX's reference computes them.
#include "ir/ops/shape-impl.h"

#include <math.h>

enum rs_mode { RS_NEAREST, RS_LINEAR, RS_CUBIC };
enum rs_ctm {
    CTM_HALF_PIXEL, CTM_HALF_PIXEL_SYMMETRIC, CTM_PYTORCH_HALF_PIXEL, CTM_ALIGN_CORNERS,
    CTM_ASYMMETRIC, CTM_TF_HALF_PIXEL_FOR_NN, CTM_TF_CROP_AND_RESIZE,
};
enum rs_nearest { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE };

struct rs_params {
    int rank;
    enum rs_mode mode;
    enum rs_ctm ctm;
    enum rs_nearest nearest;
    double cubic_a, extrapolation;
    bool exclude_outside, antialias;
    int64_t in[QS_MAX_RANK], out[QS_MAX_RANK];
    double scale[QS_MAX_RANK];
    double roi_lo[QS_MAX_RANK], roi_hi[QS_MAX_RANK];
};

static bool str_is(const char *a, const char *b) { return strcmp(a, b) == 0; }

// Reads the float values of constant input i (scales, roi).
static enum qs_status const_floats(qs_kctx *k, int i, const char *what, double *out, int max,
                                   int *n) {
    const qs_view *v = k->in[i];
    if (!v->is_const || v->data == NULL)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "%s (input %d '%s') must be constant",
                           what, i, qs__input_name(k, i));
    if (v->numel > max)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "%s has %lld values, expected at most %d", what,
                           (long long)v->numel, max);
    for (int64_t j = 0; j < v->numel; j++) out[j] = qs__view_get_f64(v, j);
    *n = (int)v->numel;
    return QS_STATUS_OK;
}

static enum qs_status rs_params(qs_kctx *k, struct rs_params *p) {
    const qs_node *nd = k->node;
    const qs_view *x = k->in[0];
    const int r = x->rank;
    const bool legacy = str_is(nd->op_type, "Upsample") || nd->opset < 11;
    memset(p, 0, sizeof *p);
    p->rank = r;
    memcpy(p->in, x->dims, sizeof p->in);
    const char *mode = qs__attr_s(nd, "mode", "nearest");
    if (str_is(mode, "nearest")) p->mode = RS_NEAREST;
    else if (str_is(mode, "linear") || str_is(mode, "bilinear")) p->mode = RS_LINEAR;
    else if (str_is(mode, "cubic") && !legacy) p->mode = RS_CUBIC;
    else return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "mode '%s' is not supported", mode);
    if (p->mode != RS_NEAREST && x->dtype != QS_DTYPE_F32)
        return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "mode '%s' on %s is not supported", mode,
                           qs_dtype_name(x->dtype));
    enum qs_status st = qs__check_sized(k, x->dtype);
    if (st != QS_STATUS_OK) return st;

    double scales[QS_MAX_RANK], roi[2 * QS_MAX_RANK];
    int64_t sizes[QS_MAX_RANK], axes[QS_MAX_RANK];
    int n_scales = 0, n_sizes = 0, n_roi = 0, n_axes = -1;
    for (int a = 0; a < r; a++) {
        p->scale[a] = 1;
        p->roi_lo[a] = 0;
        p->roi_hi[a] = 1;
    }
    if (legacy) {
        // Opset 10 Resize and Upsample: asymmetric coordinates, nearest truncates.
        p->ctm = CTM_ASYMMETRIC;
        p->nearest = NM_SIMPLE;
        if (str_is(nd->op_type, "Upsample") && nd->opset < 9) {
            const float *f = qs__attr_floats(nd, "scales", &n_scales);
            if (f == NULL || n_scales > r)
                return QS_NODE_ERR(k, QS_STATUS_PARSE, "scales attribute is required");
            for (int i = 0; i < n_scales; i++) scales[i] = f[i];
        } else {
            if (k->n_in < 2 || k->in[1] == NULL)
                return QS_NODE_ERR(k, QS_STATUS_PARSE, "scales input is required");
            st = const_floats(k, 1, "scales", scales, QS_MAX_RANK, &n_scales);
            if (st != QS_STATUS_OK) return st;
        }
    } else {
        const char *ctm = qs__attr_s(nd, "coordinate_transformation_mode", "half_pixel");
        if (str_is(ctm, "half_pixel")) p->ctm = CTM_HALF_PIXEL;
        else if (str_is(ctm, "half_pixel_symmetric")) p->ctm = CTM_HALF_PIXEL_SYMMETRIC;
        else if (str_is(ctm, "pytorch_half_pixel")) p->ctm = CTM_PYTORCH_HALF_PIXEL;
        else if (str_is(ctm, "align_corners")) p->ctm = CTM_ALIGN_CORNERS;
        else if (str_is(ctm, "asymmetric")) p->ctm = CTM_ASYMMETRIC;
        else if (str_is(ctm, "tf_half_pixel_for_nearest") || str_is(ctm, "tf_half_pixel_for_nn"))
            p->ctm = CTM_TF_HALF_PIXEL_FOR_NN;  // the second spelling is opset 11's
        else if (str_is(ctm, "tf_crop_and_resize")) p->ctm = CTM_TF_CROP_AND_RESIZE;
        else return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "coordinate_transformation_mode "
                                "'%s' is not supported", ctm);
        const char *nm = qs__attr_s(nd, "nearest_mode", "round_prefer_floor");
        if (str_is(nm, "round_prefer_floor")) p->nearest = NM_ROUND_PREFER_FLOOR;
        else if (str_is(nm, "round_prefer_ceil")) p->nearest = NM_ROUND_PREFER_CEIL;
        else if (str_is(nm, "floor")) p->nearest = NM_FLOOR;
        else if (str_is(nm, "ceil")) p->nearest = NM_CEIL;
        else return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "nearest_mode '%s' is not "
                                "supported", nm);
        p->cubic_a = qs__attr_f(nd, "cubic_coeff_a", -0.75f);
        p->exclude_outside = qs__attr_i(nd, "exclude_outside", 0) != 0;
        p->extrapolation = qs__attr_f(nd, "extrapolation_value", 0.0f);
        p->antialias = qs__attr_i(nd, "antialias", 0) != 0 && p->mode != RS_NEAREST;
        int na;
        const int64_t *ax = qs__attr_ints(nd, "axes", &na);
        if (ax) {
            if (na > r) return QS_NODE_ERR(k, QS_STATUS_PARSE, "too many axes");
            memcpy(axes, ax, (size_t)na * sizeof *ax);
            n_axes = na;
        }
        if (qs__has_input(k, 2)) {
            st = const_floats(k, 2, "scales", scales, QS_MAX_RANK, &n_scales);
            if (st != QS_STATUS_OK) return st;
        }
        if (qs__has_input(k, 3)) {
            st = qs__const_ints(k, 3, "sizes", sizes, QS_MAX_RANK, &n_sizes);
            if (st != QS_STATUS_OK) return st;
        }
        if (p->ctm == CTM_TF_CROP_AND_RESIZE && qs__has_input(k, 1)) {
            st = const_floats(k, 1, "roi", roi, 2 * QS_MAX_RANK, &n_roi);
            if (st != QS_STATUS_OK) return st;
        }
    }
    if ((n_scales > 0) == (n_sizes > 0))
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "exactly one of scales and sizes must be given");
    int nax = n_axes >= 0 ? n_axes : r;
    int axis_of[QS_MAX_RANK];
    bool seen[QS_MAX_RANK] = {false};
    for (int i = 0; i < nax; i++) {
        int a = i;
        if (n_axes >= 0 && !qs__norm_axis(axes[i], r, &a))
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %lld is outside rank %d",
                               (long long)axes[i], r);
        if (seen[a]) return QS_NODE_ERR(k, QS_STATUS_PARSE, "axis %d is repeated", a);
        seen[a] = true;
        axis_of[i] = a;
    }
    int given = n_scales > 0 ? n_scales : n_sizes;
    if (given != nax)
        return QS_NODE_ERR(k, QS_STATUS_PARSE, "%s has %d values for %d axes",
                           n_scales > 0 ? "scales" : "sizes", given, nax);
    if (n_roi > 0) {
        if (n_roi != 2 * nax)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "roi has %d values, expected %d", n_roi,
                               2 * nax);
        for (int i = 0; i < nax; i++) {
            p->roi_lo[axis_of[i]] = roi[i];
            p->roi_hi[axis_of[i]] = roi[nax + i];
        }
    }
    memcpy(p->out, p->in, sizeof p->out);
    if (n_scales > 0) {
        for (int i = 0; i < nax; i++) {
            int a = axis_of[i];
            if (!(scales[i] > 0) || !isfinite(scales[i]))
                return QS_NODE_ERR(k, QS_STATUS_PARSE, "scale %g is not positive", scales[i]);
            p->scale[a] = scales[i];
            double len = (double)p->in[a] * scales[i];
            if (p->ctm == CTM_TF_CROP_AND_RESIZE) len *= p->roi_hi[a] - p->roi_lo[a];
            p->out[a] = (int64_t)floor(len);
        }
    } else {
        const char *pol = legacy ? "stretch" : qs__attr_s(nd, "keep_aspect_ratio_policy",
                                                          "stretch");
        for (int i = 0; i < nax; i++) {
            int a = axis_of[i];
            if (sizes[i] < 0)
                return QS_NODE_ERR(k, QS_STATUS_PARSE, "size %lld is negative",
                                   (long long)sizes[i]);
            p->out[a] = sizes[i];
            p->scale[a] = p->in[a] ? (double)sizes[i] / (double)p->in[a] : 1.0;
        }
        if (!str_is(pol, "stretch")) {
            bool larger = str_is(pol, "not_smaller");
            if (!larger && !str_is(pol, "not_larger"))
                return QS_NODE_ERR(k, QS_STATUS_PARSE, "unknown keep_aspect_ratio_policy '%s'",
                                   pol);
            double s = p->scale[axis_of[0]];
            for (int i = 1; i < nax; i++)
                s = larger ? fmax(s, p->scale[axis_of[i]]) : fmin(s, p->scale[axis_of[i]]);
            for (int i = 0; i < nax; i++) {
                int a = axis_of[i];
                p->scale[a] = s;
                p->out[a] = (int64_t)(s * (double)p->in[a] + 0.5);
            }
        }
    }
    for (int a = 0; a < r; a++)
        if (p->out[a] > 0 && p->in[a] == 0)
            return QS_NODE_ERR(k, QS_STATUS_PARSE, "cannot resize an empty axis %d", a);
    return QS_STATUS_OK;
}

// Source coordinate of output index x along axis a; *outside for tf_crop_and_resize
// positions that fall off the input.
static double rs_coord(const struct rs_params *p, int a, int64_t xi, bool *outside) {
    const double x = (double)xi, s = p->scale[a], in = (double)p->in[a];
    const double out_w = s * in;  // the (fractional) output length ONNX's reference uses
    double c;
    *outside = false;
    switch (p->ctm) {
    case CTM_HALF_PIXEL: c = (x + 0.5) / s - 0.5; break;
    case CTM_HALF_PIXEL_SYMMETRIC: {
        double adj = (double)p->out[a] / out_w, center = in / 2;
        c = center * (1 - adj) + (x + 0.5) / s - 0.5;
        break;
    }
    case CTM_PYTORCH_HALF_PIXEL: c = p->out[a] > 1 ? (x + 0.5) / s - 0.5 : 0; break;
    case CTM_ALIGN_CORNERS: c = out_w == 1 ? 0 : x * (in - 1) / (out_w - 1); break;
    case CTM_ASYMMETRIC: c = x / s; break;
    case CTM_TF_HALF_PIXEL_FOR_NN: c = (x + 0.5) / s; break;
    case CTM_TF_CROP_AND_RESIZE: {
        double lo = p->roi_lo[a], hi = p->roi_hi[a], n = (double)p->out[a];
        c = n > 1 ? lo * (in - 1) + x * (hi - lo) * (in - 1) / (n - 1)
                  : 0.5 * (lo + hi) * (in - 1);
        *outside = c < 0 || c > in - 1;
        break;
    }
    default: c = x;
    }
    return c;
}

static int64_t clamp_idx(int64_t i, int64_t n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }

// Nearest source index (clamped), or -1 for an extrapolated position.
static int64_t rs_nearest(const struct rs_params *p, int a, int64_t x) {
    bool outside;
    double c = rs_coord(p, a, x, &outside);
    if (outside) return -1;
    double f = floor(c);
    int64_t i;
    if (c == f) {
        i = (int64_t)f;
    } else {
        double frac = c - f;
        switch (p->nearest) {
        case NM_ROUND_PREFER_FLOOR: i = (int64_t)f + (frac > 0.5); break;
        case NM_ROUND_PREFER_CEIL: i = (int64_t)f + (frac >= 0.5); break;
        case NM_FLOOR: i = (int64_t)f; break;
        case NM_CEIL: i = (int64_t)f + 1; break;
        default:  // NM_SIMPLE: ceil when downsampling, else truncate
            i = p->scale[a] < 1 ? (int64_t)ceil(c) : (int64_t)c;
        }
    }
    return clamp_idx(i, p->in[a]);
}

static double cubic_w(double x, double A) {
    x = fabs(x);
    if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
    if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    return 0;
}

// Taps per output position for linear/cubic (antialiased taps widen when downsampling).
static int rs_taps(const struct rs_params *p, int a, int *first) {
    double s = fmin(p->scale[a], 1.0);
    if (p->mode == RS_LINEAR) {
        *first = p->antialias ? (int)floor(-1 / s) + 1 : 0;
    } else {
        *first = p->antialias ? (int)floor(-2 / s) + 1 : -1;
    }
    return 2 - 2 * *first;
}

// Weights of output position x: taps indices (clamped) and weights; false when the
// position is extrapolated.
static bool rs_weights(const struct rs_params *p, int a, int64_t x, int taps, int first,
                       int64_t *idx, double *w) {
    bool outside;
    double c = rs_coord(p, a, x, &outside);
    if (outside) return false;
    // base + ratio == c with ratio in (0, 1], as ONNX's reference picks neighbours.
    double base = floor(c);
    if (base == c) base -= 1;
    double ratio = c - base;
    double s = p->antialias ? fmin(p->scale[a], 1.0) : 1.0, sum = 0;
    for (int t = 0; t < taps; t++) {
        double d = (double)(first + t) - ratio;  // distance from c to the tap
        double wt;
        if (p->mode == RS_LINEAR)
            wt = fmax(0.0, 1 - fabs(d * s));
        else
            wt = cubic_w(d * s, p->cubic_a);
        int64_t i = (int64_t)base + first + t;
        if (p->exclude_outside && (i < 0 || i >= p->in[a])) wt = 0;
        idx[t] = clamp_idx(i, p->in[a]);
        w[t] = wt;
        sum += wt;
    }
    if ((p->antialias || p->exclude_outside) && sum != 0)
        for (int t = 0; t < taps; t++) w[t] /= sum;
    return true;
}

// ---------------------------------------------------------------------------------------
// Prepared state.

struct rs_axis {
    int axis;
    int taps;
    int64_t *idx;     // out * taps source indices
    float *w;         // out * taps weights
    uint8_t *outside; // out flags (extrapolated)
    bool any_outside;
};

struct rs_state {
    struct rs_params p;
    size_t es;
    unsigned char fill[16];       // the extrapolation value in the input's dtype
    int64_t *map[QS_MAX_RANK];    // nearest: source index per output index (-1: fill); NULL
                                  // for axes that are the identity
    int first_resized, last_resized;
    int n_passes;                 // linear/cubic, in the order they run
    struct rs_axis pass[QS_MAX_RANK];
    size_t half;                  // bytes of each of the two intermediate buffers
    int64_t in_stride[QS_MAX_RANK], out_stride[QS_MAX_RANK];  // bytes
};

static void rs_release(void *state) {
    struct rs_state *s = state;
    if (!s) return;
    for (int a = 0; a < QS_MAX_RANK; a++) qs__free(s->map[a]);
    for (int i = 0; i < s->n_passes; i++) {
        qs__free(s->pass[i].idx);
        qs__free(s->pass[i].w);
        qs__free(s->pass[i].outside);
    }
    qs__free(s);
}

static enum qs_status rs_infer(qs_kctx *k) {
    struct rs_params p;
    enum qs_status st = rs_params(k, &p);
    if (st != QS_STATUS_OK) return st;
    qs__view_set_shape(k->out[0], k->in[0]->dtype, p.rank, p.out);
    return QS_STATUS_OK;
}

// Work of running the passes in the order perm[]: every output element costs its taps,
// and a pass along the last axis (one element per row, no vector loop) costs more.
static double passes_cost(const struct rs_state *s, const int *perm) {
    int64_t cur[QS_MAX_RANK];
    memcpy(cur, s->p.in, sizeof cur);
    double cost = 0;
    for (int i = 0; i < s->n_passes; i++) {
        const struct rs_axis *ax = &s->pass[perm[i]];
        cur[ax->axis] = s->p.out[ax->axis];
        double per = ax->axis == s->p.rank - 1 ? 3.0 : 1.0;
        cost += per * (double)ax->taps * (double)qs__numel(s->p.rank, cur);
    }
    return cost;
}

// Separable passes commute (up to rounding): run them in the cheapest order, e.g. the
// per-element pass along the last axis before the rows are doubled by an upsampled axis.
static void order_passes(struct rs_state *s) {
    const int n = s->n_passes;
    if (n < 2 || n > 4) return;
    int perm[4] = {0, 1, 2, 3}, best[4] = {0, 1, 2, 3};
    double best_cost = passes_cost(s, perm);
    // Heap's algorithm over at most 24 orders.
    int c[4] = {0};
    for (int i = 1; i < n;) {
        if (c[i] < i) {
            int j = i % 2 ? c[i] : 0, t = perm[j];
            perm[j] = perm[i];
            perm[i] = t;
            double cost = passes_cost(s, perm);
            if (cost < best_cost * (1 - 1e-9)) {
                best_cost = cost;
                memcpy(best, perm, sizeof best);
            }
            c[i]++;
            i = 1;
        } else {
            c[i++] = 0;
        }
    }
    struct rs_axis tmp[4];
    for (int i = 0; i < n; i++) tmp[i] = s->pass[best[i]];
    memcpy(s->pass, tmp, (size_t)n * sizeof *tmp);
}

static enum qs_status rs_prepare(qs_kctx *k, size_t *scratch_bytes) {
    struct rs_state *s = qs__calloc(1, sizeof *s);
    if (!s) return QS_STATUS_NOMEM;
    k->state = s;
    enum qs_status st = rs_params(k, &s->p);
    if (st != QS_STATUS_OK) return st;
    const struct rs_params *p = &s->p;
    const int r = p->rank;
    s->es = qs_dtype_size(k->in[0]->dtype);
    qs__scalar_store(k->in[0]->dtype, p->extrapolation, s->fill);
    qs__contig_strides(r, p->in, s->in_stride);
    qs__contig_strides(r, p->out, s->out_stride);
    for (int a = 0; a < r; a++) {
        s->in_stride[a] *= (int64_t)s->es;
        s->out_stride[a] *= (int64_t)s->es;
    }
    s->first_resized = r;
    s->last_resized = -1;
    for (int a = 0; a < r; a++) {
        const int64_t n = p->out[a];
        bool identity = n == p->in[a];
        if (p->mode == RS_NEAREST) {
            int64_t *map = qs__malloc((size_t)QS_MAX(n, 1) * sizeof *map);
            if (!map) return QS_STATUS_NOMEM;
            for (int64_t x = 0; x < n; x++) {
                map[x] = rs_nearest(p, a, x);
                identity = identity && map[x] == x;
            }
            if (identity) {
                qs__free(map);
                continue;
            }
            s->map[a] = map;
        } else {
            int first, taps = rs_taps(p, a, &first);
            struct rs_axis *ax = &s->pass[s->n_passes];
            ax->axis = a;
            ax->taps = taps;
            ax->idx = qs__malloc((size_t)QS_MAX(n * taps, 1) * sizeof *ax->idx);
            ax->w = qs__malloc((size_t)QS_MAX(n * taps, 1) * sizeof *ax->w);
            ax->outside = qs__malloc((size_t)QS_MAX(n, 1));
            s->n_passes++;  // counted before the checks so that release frees them
            if (!ax->idx || !ax->w || !ax->outside) return QS_STATUS_NOMEM;
            double wd[64];
            if (taps > (int)QS_COUNTOF(wd))
                return QS_NODE_ERR(k, QS_STATUS_UNSUPPORTED, "antialiasing for a downscale "
                                   "this large is not supported");
            for (int64_t x = 0; x < n; x++) {
                ax->outside[x] = !rs_weights(p, a, x, taps, first, ax->idx + x * taps, wd);
                ax->any_outside |= ax->outside[x];
                double on_x = 0, off_x = 0;
                for (int t = 0; t < taps; t++) {
                    ax->w[x * taps + t] = (float)wd[t];
                    if (ax->idx[x * taps + t] == x) on_x += wd[t];
                    else off_x += fabs(wd[t]);
                }
                identity = identity && !ax->outside[x] && fabs(on_x - 1) < 1e-12 &&
                           off_x < 1e-12;
            }
            if (identity) {
                s->n_passes--;
                qs__free(ax->idx);
                qs__free(ax->w);
                qs__free(ax->outside);
                memset(ax, 0, sizeof *ax);
                continue;
            }
        }
        s->first_resized = QS_MIN(s->first_resized, a);
        s->last_resized = a;
    }
    if (p->mode != RS_NEAREST && s->n_passes > 1) {
        order_passes(s);
        // Ping-pong buffers for the intermediates; the last pass writes the output.
        int64_t cur[QS_MAX_RANK];
        memcpy(cur, p->in, sizeof cur);
        size_t max_tmp = 0;
        for (int i = 0; i < s->n_passes - 1; i++) {
            cur[s->pass[i].axis] = p->out[s->pass[i].axis];
            max_tmp = QS_MAX(max_tmp, (size_t)qs__numel(r, cur));
        }
        s->half = (max_tmp * sizeof(float) + 63) & ~(size_t)63;
        *scratch_bytes = s->n_passes > 2 ? 2 * s->half : s->half;
    }
    return QS_STATUS_OK;
}

// ---------------------------------------------------------------------------------------
// Nearest.

struct nearest_job {
    const struct rs_state *s;
    const char *x;
    char *y;
    size_t tail;   // bytes of the trailing block after the last resized axis
};

static void nearest_rec(const struct nearest_job *j, int a, const char *src, char *dst) {
    const struct rs_state *s = j->s;
    const int64_t n = s->p.out[a];
    const int64_t *map = s->map[a];
    const int64_t ds = s->out_stride[a], ss = s->in_stride[a];
    if (a == s->last_resized) {
        // Innermost resized axis: gather blocks of `tail` bytes (one element when the axis
        // is the last one).
        const size_t t = j->tail;
        for (int64_t x = 0; x < n; x++) {
            int64_t m = map ? map[x] : x;
            char *d = dst + x * ds;
            if (m < 0) {
                qs__fill(d, s->fill, s->es, (int64_t)(t / s->es));
                continue;
            }
            const char *sp = src + m * ss;
            switch (t) {
            case 1: memcpy(d, sp, 1); break;
            case 2: memcpy(d, sp, 2); break;
            case 4: memcpy(d, sp, 4); break;
            case 8: memcpy(d, sp, 8); break;
            default: memcpy(d, sp, t);
            }
        }
        return;
    }
    int64_t prev = -2;
    for (int64_t x = 0; x < n; x++) {
        int64_t m = map ? map[x] : x;
        char *d = dst + x * ds;
        if (x > 0 && m == prev)
            memcpy(d, d - ds, (size_t)ds);  // same source row: repeat the finished row
        else if (m < 0)
            qs__fill(d, s->fill, s->es, ds / (int64_t)s->es);
        else
            nearest_rec(j, a + 1, src + m * ss, d);
        prev = m;
    }
}

static void nearest_task(void *ctx, size_t begin, size_t end) {
    const struct nearest_job *j = ctx;
    const struct rs_state *s = j->s;
    const int f = s->first_resized;
    // Leading axes are the identity: item i is one block of them.
    const int64_t in_blk = f > 0 ? s->in_stride[f - 1] : 0;
    const int64_t out_blk = f > 0 ? s->out_stride[f - 1] : 0;
    for (size_t i = begin; i < end; i++)
        nearest_rec(j, f, j->x + (int64_t)i * in_blk, j->y + (int64_t)i * out_blk);
}

static void rs_nearest_run(qs_kctx *k, const struct rs_state *s) {
    const qs_view *x = k->in[0];
    qs_view *y = k->out[0];
    const int f = s->first_resized, l = s->last_resized;
    struct nearest_job j = {.s = s, .x = x->data, .y = y->data};
    j.tail = (size_t)s->out_stride[l];
    size_t items = (size_t)qs__numel(f, s->p.out);
    qs__parallel(k->pool, items, qs__view_bytes(y), nearest_task, &j);
}

// ---------------------------------------------------------------------------------------
// Linear / cubic: one weighted pass per resized axis.

struct pass_job {
    const struct rs_axis *ax;
    const float *src;
    float *dst;
    int64_t n_in, n_out, inner;
    float fill;
};

// Output positions [x0, x1) of one row along the axis, the axis being the last one (one
// element per position).
static void pass_row1(const struct pass_job *j, const float *src, float *dst, int64_t x0,
                      int64_t x1) {
    const struct rs_axis *ax = j->ax;
    const int taps = ax->taps;
    if (taps == 2 && !ax->any_outside) {
        const int64_t *idx = ax->idx;
        const float *w = ax->w;
        for (int64_t x = x0; x < x1; x++)
            dst[x] = w[2 * x] * src[idx[2 * x]] + w[2 * x + 1] * src[idx[2 * x + 1]];
        return;
    }
    for (int64_t x = x0; x < x1; x++) {
        if (ax->outside[x]) {
            dst[x] = j->fill;
            continue;
        }
        const int64_t *idx = ax->idx + x * taps;
        const float *w = ax->w + x * taps;
        float acc = 0;
        for (int t = 0; t < taps; t++) acc += w[t] * src[idx[t]];
        dst[x] = acc;
    }
}

// Output position x of one row: a weighted sum of `inner`-long source rows.
static void pass_vec(const struct pass_job *j, const float *src, float *d, int64_t x) {
    const struct rs_axis *ax = j->ax;
    const int64_t inner = j->inner;
    if (ax->outside[x]) {
        for (int64_t i = 0; i < inner; i++) d[i] = j->fill;
        return;
    }
    const int64_t *idx = ax->idx + x * ax->taps;
    const float *w = ax->w + x * ax->taps;
    const float *s0 = src + idx[0] * inner;
    const float w0 = w[0];
    for (int64_t i = 0; i < inner; i++) d[i] = w0 * s0[i];
    for (int t = 1; t < ax->taps; t++) {
        const float *st = src + idx[t] * inner;
        const float wt = w[t];
        if (wt == 0) continue;
        for (int64_t i = 0; i < inner; i++) d[i] += wt * st[i];
    }
}

// Items are (outer row, output position) pairs; a range is walked row piece by row piece.
static void pass_task(void *ctx, size_t begin, size_t end) {
    const struct pass_job *j = ctx;
    const int64_t inner = j->inner, n_out = j->n_out;
    size_t it = begin;
    while (it < end) {
        const int64_t o = (int64_t)it / n_out, x0 = (int64_t)it % n_out;
        const int64_t x1 = QS_MIN(n_out, x0 + (int64_t)(end - it));
        const float *src = j->src + o * j->n_in * inner;
        float *dst = j->dst + o * n_out * inner;
        if (inner == 1)
            pass_row1(j, src, dst, x0, x1);
        else
            for (int64_t x = x0; x < x1; x++) pass_vec(j, src, dst + x * inner, x);
        it += (size_t)(x1 - x0);
    }
}

static void rs_interp_run(qs_kctx *k, const struct rs_state *s) {
    const struct rs_params *p = &s->p;
    int64_t cur[QS_MAX_RANK];
    memcpy(cur, p->in, sizeof cur);
    const float *src = k->in[0]->data;
    const size_t half = s->half;
    for (int i = 0; i < s->n_passes; i++) {
        const struct rs_axis *ax = &s->pass[i];
        const int a = ax->axis;
        float *dst = i == s->n_passes - 1 ? k->out[0]->data
                                          : (float *)((char *)k->scratch + (i % 2) * half);
        struct pass_job j = {
            .ax = ax, .src = src, .dst = dst, .n_in = cur[a], .n_out = p->out[a],
            .inner = qs__numel(p->rank - a - 1, cur + a + 1), .fill = (float)p->extrapolation,
        };
        int64_t outer = qs__numel(a, cur);
        cur[a] = p->out[a];
        size_t items = (size_t)(outer * p->out[a]);
        qs__parallel(k->pool, items, items * (size_t)j.inner * sizeof(float), pass_task, &j);
        src = dst;
    }
}

static enum qs_status rs_run(qs_kctx *k) {
    const struct rs_state *s = k->state;
    qs_view *y = k->out[0];
    if (y->numel == 0) return QS_STATUS_OK;
    bool none = s->p.mode == RS_NEAREST ? s->last_resized < 0 : s->n_passes == 0;
    if (none) {
        qs__copy_or_alias(y->data, k->in[0]->data, qs__view_bytes(y), k->pool);
        return QS_STATUS_OK;
    }
    if (s->p.mode == RS_NEAREST)
        rs_nearest_run(k, s);
    else
        rs_interp_run(k, s);
    return QS_STATUS_OK;
}

const struct qs_op_def qs__opdef_resize = {
    .name = "Resize", .min_inputs = 1, .max_inputs = 4, .min_outputs = 1, .max_outputs = 1,
    .infer = rs_infer, .prepare = rs_prepare, .run = rs_run, .release = rs_release,
};
const struct qs_op_def qs__opdef_upsample = {
    .name = "Upsample", .min_inputs = 1, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
    .infer = rs_infer, .prepare = rs_prepare, .run = rs_run, .release = rs_release,
};
