// The pruner: skip rules, calibration statistics of layer inputs (mean and H = X^T X,
// convolution inputs unfolded into patches), pruned weights cached per (layer, sparsity,
// pattern) and handed to the graph as weight overrides.
#include "sparse/sparse-impl.h"

#include <cblas.h>
#include <math.h>
#include <regex.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

// Input statistics, shared by the layers that read the same tensor with the same geometry
// (the Q/K/V projections of a transformer).
struct stat_acc {
    int tensor;
    bool conv;
    int64_t cin, kh, kw, sh, sw, ph, pw, in_h, in_w, out_h, out_w;
    int64_t k;     // row length
    double *sum;   // [k]
    double *h;     // [k][k] (upper triangle while accumulating), OBS only
    int64_t rows;
    double *dense_mean;  // [k]: E[x] of the first, dense calibration
    // sequential OBS: C = sum x_dense x^T [k][k] and the dense model's input batch
    double *c;
    float *xd;
    size_t xd_n;
    int dense_tensor;
};

struct cache_entry {
    float sparsity;
    char pattern[16];
    float *w, *b;  // file layout; b NULL when the bias is unchanged
    struct qs_prune_layer_stats stats;
    struct cache_entry *next;
};

struct player {
    struct qs_layer_info info;
    bool prunable;
    bool has_bias;
    struct qs__wview v;
    int stat;  // index into stats or -1
    struct cache_entry *cache;
    struct qs_prune_layer_stats last;
};

struct qs_pruner {
    qs_graph_t *g;
    struct qs_prune_options opt;
    int n_layers;
    struct player *L;
    regex_t *re;
    int n_re;
    struct stat_acc *S;
    int n_stats;
    bool calibrated;
    // calibration run state
    int64_t batch, valid;
    float *buf, *buf2;
    size_t buf_floats;
    float *hbuf;
    enum qs_status cal_status;
    int only_stat;  // observers update only this statistic (sequential mode), or -1
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

struct qs_prune_options qs_prune_options_default(void) {
    return (struct qs_prune_options){
        .struct_size = sizeof(struct qs_prune_options),
        .method = QS_PRUNE_MAGNITUDE,
        .skip_first = true,
        .skip_last = true,
        .skip_depthwise = true,
        .damp = 0.01f,
        .block_size = 128,
        .batch = 32,
        .threads = 1,
    };
}

static void drop_cache(qs_pruner_t *p) {
    qs_graph_restore_weights(p->g);
    for (int i = 0; i < p->n_layers; i++) {
        struct cache_entry *e = p->L[i].cache;
        while (e) {
            struct cache_entry *nx = e->next;
            qs__free(e->w);
            qs__free(e->b);
            qs__free(e);
            e = nx;
        }
        p->L[i].cache = NULL;
        memset(&p->L[i].last, 0, sizeof p->L[i].last);
    }
}

static void free_stats(qs_pruner_t *p) {
    for (int i = 0; i < p->n_stats; i++) {
        qs__free(p->S[i].sum);
        qs__free(p->S[i].h);
        qs__free(p->S[i].dense_mean);
        qs__free(p->S[i].c);
        qs__free(p->S[i].xd);
    }
    qs__free(p->S);
    p->S = NULL;
    p->n_stats = 0;
    for (int i = 0; i < p->n_layers; i++) p->L[i].stat = -1;
    p->calibrated = false;
}

void qs_pruner_destroy(qs_pruner_t *p) {
    if (!p) return;
    drop_cache(p);
    free_stats(p);
    for (int i = 0; i < p->n_re; i++) regfree(&p->re[i]);
    qs__free(p->re);
    qs__free(p->L);
    qs__free(p);
}

static bool ignored(const qs_pruner_t *p, const char *name) {
    for (int i = 0; i < p->n_re; i++) {
        regmatch_t mt;
        if (regexec(&p->re[i], name, 1, &mt, 0) == 0 && mt.rm_so == 0 &&
            name[mt.rm_eo] == '\0')
            return true;
    }
    return false;
}

enum qs_status qs_pruner_create(qs_graph_t *g, const struct qs_prune_options *options,
                                qs_pruner_t **out, struct qs_diag *diag) {
    struct qs_prune_options o = options ? *options : qs_prune_options_default();
    if (!g) return qs__diag(diag, QS_STATUS_INVALID_ARG, "pruner: no graph");
    if ((unsigned)o.method >= QS_PRUNE_METHOD_COUNT)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "pruner: unknown method %d", (int)o.method);
    if (!(o.damp >= 0.0f && o.damp < 1.0f))
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "pruner: damp %g outside [0, 1)",
                        (double)o.damp);
    if (o.block_size < 1 || o.block_size > 4096)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "pruner: block size %d outside 1..4096",
                        o.block_size);
    if (o.batch < 1 || o.threads < 1 || o.max_rows_per_batch < 0 || o.n_ignore < 0 ||
        (o.n_ignore > 0 && !o.ignore))
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "pruner: batch, threads must be >= 1; row limit, ignore count >= 0");
    qs_pruner_t *p = qs__calloc(1, sizeof *p);
    if (!p) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory (pruner)");
    p->g = g;
    p->opt = o;
    p->opt.ignore = NULL;
    p->n_layers = qs_graph_layer_count(g);
    p->only_stat = -1;
    p->L = qs__calloc((size_t)QS_MAX(p->n_layers, 1), sizeof *p->L);
    p->re = qs__calloc((size_t)QS_MAX(o.n_ignore, 1), sizeof *p->re);
    if (!p->L || !p->re) {
        qs_pruner_destroy(p);
        return qs__diag(diag, QS_STATUS_NOMEM, "out of memory (pruner)");
    }
    for (int i = 0; i < o.n_ignore; i++) {
        int rc = o.ignore[i] ? regcomp(&p->re[i], o.ignore[i], REG_EXTENDED) : REG_BADPAT;
        if (rc) {
            char msg[128] = "null pattern";
            if (o.ignore[i]) regerror(rc, &p->re[i], msg, sizeof msg);
            qs_pruner_destroy(p);
            return qs__diag(diag, QS_STATUS_INVALID_ARG,
                            "ignore pattern '%s' is not a valid regular expression: %s",
                            o.ignore[i] ? o.ignore[i] : "(null)", msg);
        }
        p->n_re++;
    }
    for (int i = 0; i < p->n_layers; i++) {
        struct player *l = &p->L[i];
        l->stat = -1;
        struct qs_layer_weights lw;
        struct qs_diag d;
        if (qs_graph_layer_info(g, i, &l->info) != QS_STATUS_OK) continue;
        const char *why = NULL;
        if (qs_graph_layer_weights(g, i, &lw, &d) != QS_STATUS_OK) why = "weights not float32";
        else if (qs__sparse_wview(g, i, &l->v, &d) != QS_STATUS_OK) why = "weight layout";
        else if (qs_graph_set_layer_weights(g, i, lw.w_file, NULL, &d) != QS_STATUS_OK)
            why = "shared weights";
        else if (o.skip_first && i == 0) why = "first layer";
        else if (o.skip_last && i == p->n_layers - 1) why = "last layer";
        else if (o.skip_depthwise && l->info.depthwise) why = "depthwise";
        else if (o.conv1x1_only && l->info.kind == QS_LAYER_CONV &&
                 (l->info.kernel_h != 1 || l->info.kernel_w != 1))
            why = "not 1x1";
        else if (ignored(p, l->info.name)) why = "ignore list";
        qs_graph_set_layer_weights(g, i, NULL, NULL, NULL);
        l->has_bias = why == NULL && lw.b_tensor >= 0;
        l->prunable = why == NULL;
        if (why) qs__log(QS_LOG_DEBUG, "prune: layer '%s' skipped (%s)", l->info.name, why);
    }
    *out = p;
    return QS_STATUS_OK;
}

bool qs_pruner_layer_prunable(const qs_pruner_t *p, int layer) {
    return p && layer >= 0 && layer < p->n_layers && p->L[layer].prunable;
}

// ---------------------------------------------------------------------------------------
// Calibration.

static bool obs_capable(const struct player *l) {
    return l->info.kind != QS_LAYER_CONV || l->info.groups == 1;
}

static enum qs_status plan_stats(qs_pruner_t *p, struct qs_diag *diag) {
    p->S = qs__calloc((size_t)QS_MAX(p->n_layers, 1), sizeof *p->S);
    if (!p->S) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory (pruner statistics)");
    bool want_h = p->opt.method >= QS_PRUNE_OBS;
    for (int i = 0; i < p->n_layers; i++) {
        struct player *l = &p->L[i];
        if (!l->prunable || !obs_capable(l)) continue;
        struct qs_node_info ni;
        struct qs_layer_weights lw;
        if (qs_graph_node_info(p->g, l->info.node, &ni) != QS_STATUS_OK ||
            qs_graph_layer_weights(p->g, i, &lw, NULL) != QS_STATUS_OK)
            continue;
        int x = -1;
        for (int j = 0; j < ni.n_inputs && j < 4 && x < 0; j++)
            if (ni.inputs[j].id != lw.w_tensor && ni.inputs[j].id != lw.b_tensor)
                x = ni.inputs[j].id;
        if (x < 0) continue;
        struct stat_acc s = {.tensor = x, .k = l->v.k};
        const struct qs_layer_info *li = &l->info;
        if (li->kind == QS_LAYER_CONV) {
            s.conv = true;
            s.cin = li->c_in;
            s.kh = li->kernel_h;
            s.kw = li->kernel_w;
            s.sh = li->stride_h;
            s.sw = li->stride_w;
            s.in_h = li->in_h;
            s.in_w = li->in_w;
            s.out_h = li->out_h;
            s.out_w = li->out_w;
            // pads from the shapes (dilation 1): the leading pad is the floor of half
            s.ph = QS_MAX(0, (s.out_h - 1) * s.sh + s.kh - s.in_h) / 2;
            s.pw = QS_MAX(0, (s.out_w - 1) * s.sw + s.kw - s.in_w) / 2;
            if (s.cin * s.kh * s.kw != s.k) continue;
        }
        int found = -1;
        for (int j = 0; j < p->n_stats && found < 0; j++) {
            struct stat_acc *t = &p->S[j];
            if (t->tensor == s.tensor && t->conv == s.conv && t->k == s.k && t->kh == s.kh &&
                t->kw == s.kw && t->sh == s.sh && t->sw == s.sw && t->ph == s.ph && t->pw == s.pw)
                found = j;
        }
        if (found < 0) {
            s.sum = qs__calloc((size_t)s.k, sizeof *s.sum);
            if (want_h) s.h = qs__calloc((size_t)(s.k * s.k), sizeof *s.h);
            if (!s.sum || (want_h && !s.h)) {
                qs__free(s.sum);
                qs__free(s.h);
                return qs__diag(diag, QS_STATUS_NOMEM,
                                "out of memory (H of layer '%s', k = %lld)", li->name,
                                (long long)s.k);
            }
            found = p->n_stats;
            p->S[p->n_stats++] = s;
        }
        l->stat = found;
    }
    return QS_STATUS_OK;
}

// Adds `rows` rows of buf ([rows][k]) to the statistics.
static void add_rows(qs_pruner_t *p, struct stat_acc *s, const float *buf, int64_t rows) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < s->k; j++) s->sum[j] += buf[r * s->k + j];
    if (s->h) {
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)s->k, (int)rows, 1.0f, buf,
                    (int)s->k, 0.0f, p->hbuf, (int)s->k);
        for (int64_t i = 0; i < s->k; i++)
            for (int64_t j = i; j < s->k; j++) s->h[i * s->k + j] += p->hbuf[i * s->k + j];
    }
    s->rows += rows;
}

// Input row rr of the layer (conv: the patch of output pixel rr, zero padded).
static void fill_row(const struct stat_acc *s, const float *x, int64_t H, int64_t Wd, int64_t oh,
                     int64_t ow, int64_t rr, float *row) {
    if (!s->conv) {
        memcpy(row, x + rr * s->k, (size_t)s->k * sizeof(float));
        return;
    }
    int64_t b = rr / (oh * ow), pix = rr % (oh * ow), oy = pix / ow, ox = pix % ow;
    for (int64_t c = 0; c < s->cin; c++) {
        const float *plane = x + (b * s->cin + c) * H * Wd;
        for (int64_t ky = 0; ky < s->kh; ky++) {
            int64_t iy = oy * s->sh - s->ph + ky;
            for (int64_t kx = 0; kx < s->kw; kx++) {
                int64_t ix = ox * s->sw - s->pw + kx;
                *row++ = (iy >= 0 && iy < H && ix >= 0 && ix < Wd) ? plane[iy * Wd + ix] : 0.0f;
            }
        }
    }
}

// C += Xd^T X (dense-model rows times this model's rows).
static void add_cross(qs_pruner_t *p, struct stat_acc *s, const float *xd, const float *x,
                      int64_t rows) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)s->k, (int)s->k, (int)rows, 1.0f,
                xd, (int)s->k, x, (int)s->k, 0.0f, p->hbuf, (int)s->k);
    for (int64_t i = 0; i < s->k * s->k; i++) s->c[i] += p->hbuf[i];
}

static void observe(void *user, const struct qs_tensor_info *info, const void *data) {
    qs_pruner_t *p = user;
    if (p->cal_status != QS_STATUS_OK) return;
    const float *x = data;
    int64_t numel = 1;
    for (int d = 0; d < info->rank; d++) numel *= info->dims[d];
    // padding rows of a partial batch are not data
    int64_t d0 = info->rank > 0 ? info->dims[0] : 1;
    int64_t keep_d0 = d0;
    if (p->valid < p->batch && d0 % p->batch == 0) keep_d0 = d0 / p->batch * p->valid;
    int64_t chunk = (int64_t)(p->buf_floats);
    for (int si = 0; si < p->n_stats; si++) {
        struct stat_acc *s = &p->S[si];
        if (s->tensor != info->id || (p->only_stat >= 0 && si != p->only_stat)) continue;
        int64_t total, stride = 1, H = 1, Wd = 1, oh = 1, ow = 1;
        if (s->conv) {
            if (info->rank != 4 || info->dims[1] != s->cin) continue;
            H = info->dims[2];
            Wd = info->dims[3];
            oh = (H + 2 * s->ph - s->kh) / s->sh + 1;
            ow = (Wd + 2 * s->pw - s->kw) / s->sw + 1;
            total = keep_d0 * oh * ow;
        } else {
            if (numel % s->k) continue;
            total = numel / d0 * keep_d0 / s->k;
        }
        bool cross = s->c && s->xd && (size_t)numel <= s->xd_n;
        if (p->opt.max_rows_per_batch > 0 && total > p->opt.max_rows_per_batch)
            stride = (total + p->opt.max_rows_per_batch - 1) / p->opt.max_rows_per_batch;
        int64_t per = chunk / s->k, n = 0;
        for (int64_t rr = 0; rr < total; rr += stride) {
            fill_row(s, x, H, Wd, oh, ow, rr, p->buf + n * s->k);
            if (cross) fill_row(s, s->xd, H, Wd, oh, ow, rr, p->buf2 + n * s->k);
            if (++n == per) {
                add_rows(p, s, p->buf, n);
                if (cross) add_cross(p, s, p->buf2, p->buf, n);
                n = 0;
            }
        }
        if (n) {
            add_rows(p, s, p->buf, n);
            if (cross) add_cross(p, s, p->buf2, p->buf, n);
        }
    }
}

// The dense model's run: keeps each statistic's input of this batch for the cross terms.
static void observe_dense(void *user, const struct qs_tensor_info *info, const void *data) {
    qs_pruner_t *p = user;
    int64_t numel = 1;
    for (int d = 0; d < info->rank; d++) numel *= info->dims[d];
    for (int si = 0; si < p->n_stats; si++) {
        struct stat_acc *s = &p->S[si];
        if (s->dense_tensor == info->id && s->xd && (size_t)numel <= s->xd_n)
            memcpy(s->xd, data, (size_t)numel * sizeof(float));
    }
}

// A copy of the graph with its own (dense) weights, through an ONNX file: the pruned
// overrides stay set on the pruner's graph.
static enum qs_status dense_copy(qs_pruner_t *p, qs_graph_t **out, struct qs_diag *diag) {
    int n = p->n_layers;
    const float **w = qs__calloc((size_t)QS_MAX(n, 1) * 2, sizeof *w);
    if (!w) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        struct qs_layer_weights lw;
        if (!p->L[i].prunable || qs_graph_layer_weights(p->g, i, &lw, NULL)) continue;
        if (lw.w != lw.w_file) w[2 * i] = lw.w;
        if (lw.b && lw.b != lw.b_file) w[2 * i + 1] = lw.b;
    }
    char path[] = "/tmp/qsearch-prune-dense-XXXXXX";
    int fd = mkstemp(path);
    enum qs_status st = QS_STATUS_OK;
    if (fd < 0) st = qs__diag(diag, QS_STATUS_IO, "cannot create a temporary file in /tmp");
    else {
        close(fd);
        qs_graph_restore_weights(p->g);
        st = qs_graph_save_onnx(p->g, path, diag);
        for (int i = 0; i < n; i++)
            if (w[2 * i] || w[2 * i + 1])
                qs_graph_set_layer_weights(p->g, i, w[2 * i], w[2 * i + 1], NULL);
        if (st == QS_STATUS_OK && (st = qs_graph_load_onnx(path, out, diag)) == QS_STATUS_OK &&
            (st = qs_graph_optimize(*out, QS_PASS_DEFAULT, diag)) != QS_STATUS_OK) {
            qs_graph_destroy(*out);
            *out = NULL;
        }
        remove(path);
    }
    qs__free(w);
    return st;
}

enum qs_status qs_pruner_calibrate(qs_pruner_t *p, const struct qs_dataset *ds,
                                   const struct qs_preprocess *pp, int64_t limit,
                                   struct qs_diag *diag) {
    if (!p || !ds || ds->count <= 0 || limit < 0)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "prune calibration: no data");
    drop_cache(p);
    free_stats(p);
    double t0 = now_s();
    enum qs_status st = plan_stats(p, diag);
    if (st) return st;
    int64_t kmax = 1;
    for (int i = 0; i < p->n_stats; i++) kmax = QS_MAX(kmax, p->S[i].k);
    p->buf_floats = (size_t)QS_MAX(kmax * 256, (int64_t)1 << 20);
    p->buf = qs__malloc(p->buf_floats * sizeof(float));
    p->hbuf = p->opt.method >= QS_PRUNE_OBS ? qs__malloc((size_t)(kmax * kmax) * sizeof(float))
                                            : NULL;
    if (!p->buf || (p->opt.method >= QS_PRUNE_OBS && !p->hbuf)) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory (calibration buffers)");
        goto done;
    }
    int64_t total = limit > 0 ? QS_MIN(limit, ds->count) : ds->count;
    int n_in = qs_graph_input_count(p->g);
    if (ds->n_inputs != n_in) {
        st = qs__diag(diag, QS_STATUS_INVALID_ARG,
                      "prune calibration: %d data inputs for a model with %d inputs",
                      ds->n_inputs, n_in);
        goto done;
    }
    struct qs_session_options so = qs_session_options_default();
    so.batch = (int)QS_MIN((int64_t)p->opt.batch, total);
    so.threads = p->opt.threads;
    qs_session_t *s = NULL;
    st = qs_session_create(p->g, &so, &s, diag);
    if ((st == QS_STATUS_PARSE || st == QS_STATUS_UNSUPPORTED) && so.batch > 1) {
        so.batch = 1;
        st = qs_session_create(p->g, &so, &s, diag);
    }
    if (st) goto done;
    struct qs_tensor_info info[QS_DATASET_MAX_INPUTS];
    for (int i = 0; i < n_in; i++) qs_session_input_info(s, i, &info[i]);
    p->batch = info[0].rank > 0 ? info[0].dims[0] : 1;
    p->cal_status = QS_STATUS_OK;
    qs_session_set_observer(s, observe, p);
    for (int64_t begin = 0; begin < total && st == QS_STATUS_OK; begin += p->batch) {
        int64_t count = QS_MIN(p->batch, total - begin);
        for (int i = 0; i < n_in && st == QS_STATUS_OK; i++)
            st = qs_dataset_fill(ds, i, i == 0 ? pp : NULL, begin, count, &info[i],
                                 qs_session_input_data(s, i), diag);
        if (st) break;
        p->valid = count;
        st = qs_session_run(s, diag);
    }
    qs_session_set_observer(s, NULL, NULL);
    qs_session_destroy(s);
    if (st) goto done;
    size_t bytes = 0;
    for (int i = 0; i < p->n_stats; i++) {
        struct stat_acc *a = &p->S[i];
        bytes += (size_t)a->k * sizeof(double) * (a->h ? (size_t)a->k + 1 : 1);
        if ((a->dense_mean = qs__malloc((size_t)a->k * sizeof(double))))
            for (int64_t j = 0; j < a->k; j++)
                a->dense_mean[j] = a->rows ? a->sum[j] / (double)a->rows : 0.0;
        if (!a->dense_mean) {
            st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory (input means)");
            goto done;
        }
        if (a->h)
            for (int64_t r = 0; r < a->k; r++)
                for (int64_t c = 0; c < r; c++) a->h[r * a->k + c] = a->h[c * a->k + r];
    }
    p->calibrated = true;
    qs__log(QS_LOG_INFO, "prune calibration: %lld samples, %d input statistics (%s), %.1f MiB, "
            "%.2f s", (long long)total, p->n_stats, p->S && p->opt.method >= QS_PRUNE_OBS ?
            "mean and H" : "mean", (double)bytes / 1048576.0, now_s() - t0);
done:
    qs__free(p->buf);
    qs__free(p->hbuf);
    p->buf = p->hbuf = NULL;
    if (st) free_stats(p);
    return st;
}

// ---------------------------------------------------------------------------------------
// Pruning one layer and applying a policy.

// Relative output error over at most 64 evenly spaced rows: sum dW H dW^T / sum W H W^T.
static double rel_error(const float *w0, const float *w1, int64_t m, int64_t k,
                        const double *h) {
    int64_t step = QS_MAX((int64_t)1, m / 64);
    double num = 0.0, den = 0.0;
    double *d = qs__malloc((size_t)k * 2 * sizeof *d);
    if (!d) return -1.0;
    double *o = d + k;
    for (int64_t r = 0; r < m; r += step) {
        for (int64_t j = 0; j < k; j++) d[j] = (double)w0[r * k + j] - w1[r * k + j];
        cblas_dsymv(CblasRowMajor, CblasUpper, (int)k, 1.0, h, (int)k, d, 1, 0.0, o, 1);
        num += cblas_ddot((int)k, d, 1, o, 1);
        for (int64_t j = 0; j < k; j++) d[j] = w0[r * k + j];
        cblas_dsymv(CblasRowMajor, CblasUpper, (int)k, 1.0, h, (int)k, d, 1, 0.0, o, 1);
        den += cblas_ddot((int)k, d, 1, o, 1);
    }
    qs__free(d);
    return den > 0.0 ? num / den : 0.0;
}

static enum qs_status compute_entry(qs_pruner_t *p, int li, float sparsity,
                                    const struct qs_prune_pattern *pat, const char *pattern,
                                    struct cache_entry **out, struct qs_diag *diag) {
    struct player *l = &p->L[li];
    struct qs_layer_weights lw;
    enum qs_status st = qs_graph_layer_weights(p->g, li, &lw, diag);
    if (st) return st;
    double t0 = now_s();
    int64_t m = l->v.m, k = l->v.k, n = m * k;
    struct cache_entry *e = qs__calloc(1, sizeof *e);
    float *w0 = qs__malloc((size_t)n * sizeof *w0), *w1 = qs__malloc((size_t)n * sizeof *w1);
    if (!e || !w0 || !w1 || !(e->w = qs__malloc((size_t)n * sizeof(float)))) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory (pruning layer '%s')", l->info.name);
        goto fail;
    }
    size_t work = 3 * (size_t)n * sizeof(float);
    qs__sparse_to_rows(&l->v, lw.w_file, w0);
    memcpy(w1, w0, (size_t)n * sizeof *w1);
    const struct stat_acc *s = l->stat >= 0 && p->calibrated ? &p->S[l->stat] : NULL;
    bool obs = p->opt.method >= QS_PRUNE_OBS && s && s->h && pat->kind != QS_PATTERN_CHANNEL;
    if (obs && s->c) {
        // sequential: fit the dense outputs from the pruned inputs before pruning
        // (little dampening: this is a least-squares fit, not an inverse Hessian)
        st = qs__sparse_fit_dense(w1, m, k, s->c, s->h, p->opt.damp * 0.01f, diag);
        work += (size_t)(k * k + 2 * m * k) * sizeof(double);
    }
    if (st) {
        qs__diag_prefix(diag, "layer '%s': ", l->info.name);
        goto fail;
    }
    if (obs) {
        st = qs_prune_obs(w1, m, k, s->h, pat, sparsity, p->opt.damp, p->opt.block_size, NULL,
                          diag);
        work += (size_t)(2 * k * k + m * k) * sizeof(double);
    } else {
        if (p->opt.method >= QS_PRUNE_OBS)
            qs__log(QS_LOG_INFO, "prune: layer '%s': magnitude (no OBS for this layer%s)",
                    l->info.name, pat->kind == QS_PATTERN_CHANNEL ? " pattern" : "");
        st = qs_prune_magnitude(w1, m, k, pat, sparsity, NULL, diag);
    }
    if (st) {
        qs__diag_prefix(diag, "layer '%s': ", l->info.name);
        goto fail;
    }
    bool bc = p->opt.method == QS_PRUNE_BIAS_CORRECTION ||
              p->opt.method == QS_PRUNE_OBS_BIAS_CORRECTION;
    if (bc && s && s->rows > 0 && s->dense_mean && lw.b && lw.b_numel == m) {
        if (!(e->b = qs__malloc((size_t)m * sizeof(float)))) {
            st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory (bias)");
            goto fail;
        }
        for (int64_t r = 0; r < m; r++) {
            double acc = 0.0;
            // W E[x] (dense model) - W' E[x'] (inputs of the model as pruned)
            for (int64_t j = 0; j < k; j++)
                acc += (double)w0[r * k + j] * s->dense_mean[j] -
                       (double)w1[r * k + j] * (s->sum[j] / (double)s->rows);
            e->b[r] = (float)(lw.b_file[r] + acc);
        }
    }
    qs__sparse_from_rows(&l->v, w1, e->w);
    int64_t zeros = 0;
    for (int64_t i = 0; i < n; i++) zeros += w1[i] == 0.0f;
    e->sparsity = sparsity;
    snprintf(e->pattern, sizeof e->pattern, "%s", pattern);
    e->stats = (struct qs_prune_layer_stats){
        .pruned = true,
        .sparsity = (float)((double)zeros / (double)n),
        .numel = n,
        .zeros = zeros,
        .rel_error = s && s->h ? rel_error(w0, w1, m, k, s->h) : -1.0,
        .seconds = now_s() - t0,
        .work_bytes = work,
    };
    qs__log(QS_LOG_INFO,
            "prune: layer '%s' %s %.3f (%s): %lld x %lld, %.1f%% zeros, rel. error %.4g, "
            "%.3f s, %.1f MiB", l->info.name, pattern, (double)sparsity,
            qs_prune_method_name(obs ? p->opt.method : p->opt.method >= QS_PRUNE_OBS
                                 ? QS_PRUNE_MAGNITUDE : p->opt.method),
            (long long)m, (long long)k, 100.0 * e->stats.sparsity, e->stats.rel_error,
            e->stats.seconds, (double)work / 1048576.0);
    qs__free(w0);
    qs__free(w1);
    e->next = l->cache;
    l->cache = e;
    *out = e;
    return QS_STATUS_OK;
fail:
    if (e) {
        qs__free(e->w);
        qs__free(e->b);
    }
    qs__free(e);
    qs__free(w0);
    qs__free(w1);
    return st;
}

static int find_layer(const qs_pruner_t *p, const char *name) {
    for (int i = 0; i < p->n_layers; i++)
        if (p->L[i].info.name && !strcmp(p->L[i].info.name, name)) return i;
    return -1;
}

enum qs_status qs_pruner_apply(qs_pruner_t *p, const qs_policy_t *policy, struct qs_diag *diag) {
    if (!p) return qs__diag(diag, QS_STATUS_INVALID_ARG, "pruner: NULL");
    enum qs_status st;
    if (policy && (st = qs_policy_check(policy, p->g, diag)) != QS_STATUS_OK) return st;
    if (p->opt.method != QS_PRUNE_MAGNITUDE && !p->calibrated && policy) {
        for (int i = 0; i < qs_policy_count(policy); i++) {
            const char *name;
            const struct qs_layer_policy *lp;
            qs_policy_entry(policy, i, &name, &lp);
            if (lp->sparsity > 0.0f)
                return qs__diag(diag, QS_STATUS_INVALID_STATE,
                                "pruning method %s needs calibration data "
                                "(qs_pruner_calibrate)", qs_prune_method_name(p->opt.method));
        }
    }
    // effective sparsity per layer (the policy's, or the global threshold's)
    float *eff = qs__calloc((size_t)QS_MAX(p->n_layers, 1), sizeof *eff);
    const struct qs_layer_policy **lps = qs__calloc((size_t)QS_MAX(p->n_layers, 1), sizeof *lps);
    const float **gw = qs__calloc((size_t)QS_MAX(p->n_layers, 1), sizeof *gw);
    int64_t *gn = qs__calloc((size_t)QS_MAX(p->n_layers, 1), sizeof *gn);
    if (!eff || !lps || !gw || !gn) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory (pruner apply)");
        goto done;
    }
    for (int i = 0; policy && i < qs_policy_count(policy); i++) {
        const char *name;
        const struct qs_layer_policy *lp;
        qs_policy_entry(policy, i, &name, &lp);
        int li = find_layer(p, name);
        if (li < 0 || lp->sparsity <= 0.0f) continue;
        if (!p->L[li].prunable) {
            qs__log(QS_LOG_INFO, "prune: layer '%s' stays dense (skip rules)", name);
            continue;
        }
        lps[li] = lp;
        eff[li] = lp->sparsity;
    }
    if (p->opt.global) {
        int ng = 0;
        double want = 0.0;
        int64_t tot = 0;
        for (int li = 0; li < p->n_layers; li++) {
            struct qs_prune_pattern pat;
            if (!lps[li] || qs_prune_pattern_parse(lps[li]->pattern, &pat, NULL) ||
                pat.kind != QS_PATTERN_UNSTRUCTURED)
                continue;
            struct qs_layer_weights lw;
            qs_graph_layer_weights(p->g, li, &lw, NULL);
            gw[ng] = lw.w_file;
            gn[ng++] = lw.w_numel;
            want += (double)lps[li]->sparsity * (double)lw.w_numel;
            tot += lw.w_numel;
        }
        float thr = -1.0f;
        if (ng && (st = qs_prune_global_threshold(gw, gn, ng, (float)(want / (double)tot), &thr,
                                                  diag)))
            goto done;
        for (int li = 0, j = 0; li < p->n_layers && ng; li++) {
            struct qs_prune_pattern pat;
            if (!lps[li] || qs_prune_pattern_parse(lps[li]->pattern, &pat, NULL) ||
                pat.kind != QS_PATTERN_UNSTRUCTURED)
                continue;
            int64_t z = 0;
            for (int64_t q = 0; q < gn[j]; q++) z += fabsf(gw[j][q]) <= thr;
            eff[li] = QS_MIN(0.95f, (float)((double)z / (double)gn[j]));
            j++;
        }
    }
    for (int li = 0; li < p->n_layers; li++) {
        struct player *l = &p->L[li];
        memset(&l->last, 0, sizeof l->last);
        if (!lps[li] || eff[li] <= 0.0f) {
            if (l->prunable) qs_graph_set_layer_weights(p->g, li, NULL, NULL, NULL);
            continue;
        }
        struct qs_prune_pattern pat;
        if ((st = qs_prune_pattern_parse(lps[li]->pattern, &pat, diag))) goto done;
        struct cache_entry *e = l->cache;
        while (e && !(e->sparsity == eff[li] && !strcmp(e->pattern, lps[li]->pattern)))
            e = e->next;
        bool hit = e != NULL;
        if (!e && (st = compute_entry(p, li, eff[li], &pat, lps[li]->pattern, &e, diag)))
            goto done;
        if ((st = qs_graph_set_layer_weights(p->g, li, e->w, e->b, diag))) goto done;
        l->last = e->stats;
        if (hit) l->last.seconds = 0.0;
    }
    st = QS_STATUS_OK;
done:
    qs__free(eff);
    qs__free(lps);
    qs__free(gw);
    qs__free(gn);
    return st;
}

// Sequential pruning: statistic by statistic in graph order, each collected on the model
// whose earlier layers are already pruned (their overrides set), beside the dense model.
static enum qs_status seq_collect(qs_pruner_t *p, int si, qs_graph_t *gd,
                                  const struct qs_dataset *ds, const struct qs_preprocess *pp,
                                  int64_t total, struct qs_diag *diag) {
    struct stat_acc *a = &p->S[si];
    memset(a->sum, 0, (size_t)a->k * sizeof *a->sum);
    if (a->h) memset(a->h, 0, (size_t)(a->k * a->k) * sizeof *a->h);
    a->rows = 0;
    int n_in = qs_graph_input_count(p->g);
    struct qs_session_options so = qs_session_options_default();
    so.batch = (int)QS_MIN((int64_t)p->opt.batch, total);
    so.threads = p->opt.threads;
    qs_session_t *s = NULL, *sd = NULL;
    enum qs_status st = qs_session_create(p->g, &so, &s, diag);
    if ((st == QS_STATUS_PARSE || st == QS_STATUS_UNSUPPORTED) && so.batch > 1) {
        so.batch = 1;
        st = qs_session_create(p->g, &so, &s, diag);
    }
    if (st == QS_STATUS_OK && gd && (st = qs_session_create(gd, &so, &sd, diag)) == QS_STATUS_OK) {
        int nt = qs_graph_tensor_count(gd);
        struct qs_tensor_info ti, td;
        a->dense_tensor = -1;
        if (qs_graph_tensor(p->g, a->tensor, &ti, NULL) == QS_STATUS_OK)
            for (int t = 0; t < nt && a->dense_tensor < 0; t++)
                if (qs_graph_tensor(gd, t, &td, NULL) == QS_STATUS_OK && !strcmp(td.name, ti.name))
                    a->dense_tensor = t;
        if (a->dense_tensor >= 0) {
            size_t numel = (size_t)so.batch;
            for (int d = 0; d < ti.rank; d++) numel *= (size_t)QS_MAX(ti.dims[d], 1);
            a->xd_n = numel;
            a->xd = qs__malloc(numel * sizeof(float));
            if (!a->c) a->c = qs__malloc((size_t)(a->k * a->k) * sizeof(double));
            if (!a->xd || !a->c) st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
            else memset(a->c, 0, (size_t)(a->k * a->k) * sizeof(double));
        }
    }
    if (st) goto done;
    struct qs_tensor_info info[QS_DATASET_MAX_INPUTS];
    for (int i = 0; i < n_in; i++) qs_session_input_info(s, i, &info[i]);
    p->batch = info[0].rank > 0 ? info[0].dims[0] : 1;
    p->cal_status = QS_STATUS_OK;
    p->only_stat = si;
    qs_session_set_observer(s, observe, p);
    if (sd) qs_session_set_observer(sd, observe_dense, p);
    for (int64_t begin = 0; begin < total && st == QS_STATUS_OK; begin += p->batch) {
        int64_t count = QS_MIN(p->batch, total - begin);
        for (int i = 0; i < n_in && st == QS_STATUS_OK; i++) {
            st = qs_dataset_fill(ds, i, i == 0 ? pp : NULL, begin, count, &info[i],
                                 qs_session_input_data(s, i), diag);
            if (sd && st == QS_STATUS_OK)
                st = qs_dataset_fill(ds, i, i == 0 ? pp : NULL, begin, count, &info[i],
                                     qs_session_input_data(sd, i), diag);
        }
        if (st) break;
        p->valid = count;
        if (sd) st = qs_session_run(sd, diag);
        if (st == QS_STATUS_OK) st = qs_session_run(s, diag);
    }
    p->only_stat = -1;
    if (a->h)
        for (int64_t r = 0; r < a->k; r++)
            for (int64_t c = 0; c < r; c++) a->h[r * a->k + c] = a->h[c * a->k + r];
done:
    qs_session_destroy(s);
    qs_session_destroy(sd);
    qs__free(a->xd);
    a->xd = NULL;
    if (a->dense_tensor < 0 || st) {
        qs__free(a->c);
        a->c = NULL;
    }
    return st;
}

enum qs_status qs_pruner_apply_sequential(qs_pruner_t *p, const qs_policy_t *policy,
                                          const struct qs_dataset *ds,
                                          const struct qs_preprocess *pp, int64_t limit,
                                          struct qs_diag *diag) {
    if (!p || !ds || ds->count <= 0 || limit < 0)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "sequential pruning: no data");
    if (p->opt.method == QS_PRUNE_MAGNITUDE || !policy) return qs_pruner_apply(p, policy, diag);
    if (!p->calibrated)
        return qs__diag(diag, QS_STATUS_INVALID_STATE, "sequential pruning needs a calibrated "
                        "pruner (qs_pruner_calibrate)");
    if (p->opt.global)
        return qs__diag(diag, QS_STATUS_UNSUPPORTED, "sequential pruning with a global "
                        "threshold");
    enum qs_status st = qs_policy_check(policy, p->g, diag);
    if (st) return st;
    drop_cache(p);  // every layer dense
    double t0 = now_s();
    int64_t total = limit > 0 ? QS_MIN(limit, ds->count) : ds->count;
    p->buf_floats = 0;
    int64_t kmax = 1;
    for (int i = 0; i < p->n_stats; i++) kmax = QS_MAX(kmax, p->S[i].k);
    p->buf_floats = (size_t)QS_MAX(kmax * 256, (int64_t)1 << 20);
    p->buf = qs__malloc(p->buf_floats * sizeof(float));
    p->buf2 = qs__malloc(p->buf_floats * sizeof(float));
    p->hbuf = qs__malloc((size_t)(kmax * kmax) * sizeof(float));
    qs_graph_t *gd = NULL;
    if (!p->buf || !p->buf2 || !p->hbuf) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory (calibration buffers)");
        goto done;
    }
    if (p->opt.method >= QS_PRUNE_OBS && (st = dense_copy(p, &gd, diag))) goto done;
    uint8_t *done_stat = qs__calloc((size_t)QS_MAX(p->n_stats, 1), 1);
    if (!done_stat) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
        goto done;
    }
    for (int li = 0; li < p->n_layers && st == QS_STATUS_OK; li++) {
        struct player *l = &p->L[li];
        const struct qs_layer_policy *lp = qs_policy_get(policy, l->info.name);
        if (!l->prunable || !lp || lp->sparsity <= 0.0f) continue;
        int si = l->stat;
        if (si >= 0 && !done_stat[si]) {
            // statistics on the model as pruned so far, then every layer that reads them
            if ((st = seq_collect(p, si, gd, ds, pp, total, diag))) break;
            done_stat[si] = 1;
            for (int lj = li; lj < p->n_layers && st == QS_STATUS_OK; lj++) {
                const struct qs_layer_policy *lq = qs_policy_get(policy, p->L[lj].info.name);
                if (p->L[lj].stat != si || !p->L[lj].prunable || !lq || lq->sparsity <= 0.0f)
                    continue;
                struct qs_prune_pattern pat;
                struct cache_entry *e;
                if ((st = qs_prune_pattern_parse(lq->pattern, &pat, diag)) ||
                    (st = compute_entry(p, lj, lq->sparsity, &pat, lq->pattern, &e, diag)) ||
                    (st = qs_graph_set_layer_weights(p->g, lj, e->w, e->b, diag)))
                    break;
                p->L[lj].last = e->stats;
            }
            qs__free(p->S[si].c);
            p->S[si].c = NULL;
        } else if (si < 0) {
            struct qs_prune_pattern pat;
            struct cache_entry *e;
            if ((st = qs_prune_pattern_parse(lp->pattern, &pat, diag)) ||
                (st = compute_entry(p, li, lp->sparsity, &pat, lp->pattern, &e, diag)) ||
                (st = qs_graph_set_layer_weights(p->g, li, e->w, e->b, diag)))
                break;
            l->last = e->stats;
        }
    }
    qs__free(done_stat);
    qs__log(QS_LOG_INFO, "prune: sequential pass over %d statistics in %.1f s", p->n_stats,
            now_s() - t0);
done:
    qs_graph_destroy(gd);
    qs__free(p->buf);
    qs__free(p->buf2);
    qs__free(p->hbuf);
    p->buf = p->buf2 = p->hbuf = NULL;
    // the statistics now describe this policy's model: a later apply must not reuse them
    if (st == QS_STATUS_OK) p->calibrated = false;
    return st;
}

enum qs_status qs_pruner_layer_stats(const qs_pruner_t *p, int layer,
                                     struct qs_prune_layer_stats *out) {
    if (!p || layer < 0 || layer >= p->n_layers || !out) return QS_STATUS_INVALID_ARG;
    *out = p->L[layer].last;
    if (!out->pruned) {
        struct qs_layer_weights lw;
        if (qs_graph_layer_weights(p->g, layer, &lw, NULL) == QS_STATUS_OK) {
            out->numel = lw.w_numel;
            for (int64_t i = 0; i < lw.w_numel; i++) out->zeros += lw.w_file[i] == 0.0f;
            out->sparsity = lw.w_numel ? (float)out->zeros / (float)lw.w_numel : 0.0f;
        }
        out->rel_error = 0.0;
    }
    return QS_STATUS_OK;
}
