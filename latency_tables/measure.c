// Timing models on this machine: models prepared once (optimized, calibrated on synthetic
// inputs, with a pruner), one session per candidate policy, pinned runs after warm-up.
#include "latency_tables/measure.h"

#include "qsearch/quant.h"
#include "qsearch/sparse.h"

#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct qs_lut_model {
    char *path;
    qs_graph_t *g;
    qs_calib_t *calib;
    qs_pruner_t *pruner;
    int batch, threads;
};

int64_t qs__lut_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

void qs__lut_stats(int64_t *v, int n, double *median, double *p10, double *p90) {
    if (n <= 0) {
        *median = *p10 = *p90 = 0;
        return;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    double m = n % 2 ? (double)v[n / 2] : 0.5 * ((double)v[n / 2 - 1] + (double)v[n / 2]);
    *median = m * 1e-6;
    *p10 = (double)v[(int)floor(0.1 * (n - 1))] * 1e-6;
    *p90 = (double)v[(int)ceil(0.9 * (n - 1))] * 1e-6;
    if (*p10 > *median) *p10 = *median;
    if (*p90 < *median) *p90 = *median;
}

int64_t qs__lut_timer_overhead_ns(void) {
    int64_t d[257];
    for (int i = 0; i < 257; i++) {
        int64_t a = qs__lut_now_ns();
        d[i] = qs__lut_now_ns() - a;
    }
    qsort(d, 257, sizeof *d, cmp_i64);
    return d[128];
}

bool qs__lut_pin(void *old_mask, size_t size) {
    cpu_set_t cur;
    if (size < sizeof cur || sched_getaffinity(0, sizeof cur, &cur) != 0) return false;
    memcpy(old_mask, &cur, sizeof cur);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &cur)) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(c, &one);
            return sched_setaffinity(0, sizeof one, &one) == 0;
        }
    return false;
}

void qs__lut_unpin(const void *old_mask) {
    sched_setaffinity(0, sizeof(cpu_set_t), (const cpu_set_t *)old_mask);
}

// Synthetic inputs: the values do not change the time of any kernel here, only have to be
// valid (indices in range, finite floats).
void qs__lut_fill_inputs(qs_session_t *s, uint64_t seed) {
    for (int i = 0;; i++) {
        struct qs_tensor_info ti;
        if (qs_session_input_info(s, i, &ti) != QS_STATUS_OK) break;
        void *data = qs_session_input_data(s, i);
        int64_t n = 1;
        for (int d = 0; d < ti.rank; d++) n *= ti.dims[d];
        uint64_t x = seed * 0x9E3779B97F4A7C15ull + (uint64_t)i + 1;
        for (int64_t k = 0; k < n; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            switch (ti.dtype) {
            case QS_DTYPE_F32:
                ((float *)data)[k] = (float)((double)(x >> 40) / (1 << 23)) - 1.0f;
                break;
            case QS_DTYPE_U8: ((uint8_t *)data)[k] = (uint8_t)x; break;
            case QS_DTYPE_I8: ((int8_t *)data)[k] = (int8_t)x; break;
            case QS_DTYPE_I64: ((int64_t *)data)[k] = (int64_t)(x & 1); break;  // ids, masks
            case QS_DTYPE_I32: ((int32_t *)data)[k] = (int32_t)(x & 1); break;
            case QS_DTYPE_BOOL: ((uint8_t *)data)[k] = (uint8_t)(x & 1); break;
            default: memset((char *)data + k * (int64_t)qs_dtype_size(ti.dtype), 0,
                            qs_dtype_size(ti.dtype));
            }
        }
    }
}

void qs_lut_model_close(qs_lut_model_t *m) {
    if (!m) return;
    qs_pruner_destroy(m->pruner);
    qs_calib_destroy(m->calib);
    qs_graph_destroy(m->g);
    qs__free(m->path);
    qs__free(m);
}

const qs_graph_t *qs_lut_model_graph(const qs_lut_model_t *m) { return m->g; }
const char *qs__lut_model_path(const qs_lut_model_t *m) { return m->path; }

enum qs_status qs_lut_model_open(const char *path, int batch, int threads, qs_lut_model_t **out,
                                 struct qs_diag *diag) {
    qs_lut_model_t *m = qs__calloc(1, sizeof *m);
    if (!m || !(m->path = qs__strdup(path))) {
        qs__free(m);
        return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    }
    m->batch = batch > 0 ? batch : 1;
    m->threads = threads > 0 ? threads : 1;
    enum qs_status st;
    qs_session_t *s = NULL;
    if ((st = qs_graph_load_onnx(path, &m->g, diag)) != QS_STATUS_OK ||
        (st = qs_graph_optimize(m->g, QS_PASS_DEFAULT, diag)) != QS_STATUS_OK)
        goto fail;
    struct qs_prune_options po = qs_prune_options_default();
    po.skip_first = po.skip_last = po.skip_depthwise = false;
    if ((st = qs_pruner_create(m->g, &po, &m->pruner, diag)) != QS_STATUS_OK) goto fail;
    struct qs_calib_options co = qs_calib_options_default();
    co.batch = m->batch;
    co.threads = m->threads;
    if ((st = qs_calib_create(m->g, &co, &m->calib, diag)) != QS_STATUS_OK) goto fail;
    struct qs_session_options so = qs_session_options_default();
    so.batch = m->batch;
    so.threads = m->threads;
    if ((st = qs_session_create(m->g, &so, &s, diag)) != QS_STATUS_OK) goto fail;
    qs_calib_observe(m->calib, s);
    for (int r = 0; r < 2 && st == QS_STATUS_OK; r++) {
        qs__lut_fill_inputs(s, (uint64_t)r + 7);
        st = qs_session_run(s, diag);
    }
    qs_session_destroy(s);
    if (st != QS_STATUS_OK || (st = qs_calib_status(m->calib, diag)) != QS_STATUS_OK) goto fail;
    *out = m;
    return QS_STATUS_OK;
fail:
    qs__diag_prefix(diag, "%s: ", path);
    qs_lut_model_close(m);
    return st;
}

enum qs_status qs__lut_model_session(qs_lut_model_t *m, const qs_policy_t *policy, bool fuse_add,
                                     qs_quantizer_t **quant_out, qs_session_t **session_out,
                                     struct qs_diag *diag) {
    enum qs_status st;
    qs_quantizer_t *q = NULL;
    *quant_out = NULL;
    *session_out = NULL;
    if ((st = qs_pruner_apply(m->pruner, policy, diag)) != QS_STATUS_OK) return st;
    // A fresh quantizer per candidate: its weight cache must see this candidate's pruned
    // weights.
    if ((st = qs_quantizer_create(m->g, m->calib, NULL, &q, diag)) != QS_STATUS_OK) return st;
    bool any8 = policy == NULL;
    for (int i = 0; policy && i < qs_policy_count(policy); i++) {
        const char *name;
        const struct qs_layer_policy *lp;
        if (qs_policy_entry(policy, i, &name, &lp) == QS_STATUS_OK &&
            (lp->w_bits == 8 || lp->a_bits == 8))
            any8 = true;
    }
    if (any8 && (st = qs_quantizer_apply(q, policy, diag)) != QS_STATUS_OK) {
        qs_quantizer_destroy(q);
        return st;
    }
    struct qs_session_options so = qs_session_options_default();
    so.batch = m->batch;
    so.threads = m->threads;
    so.fuse_add = fuse_add;
    if ((st = qs_session_create(m->g, &so, session_out, diag)) != QS_STATUS_OK) {
        qs_quantizer_destroy(q);
        return st;
    }
    qs__lut_fill_inputs(*session_out, 3);
    *quant_out = q;
    return QS_STATUS_OK;
}

enum qs_status qs__lut_time_session(qs_session_t *s, int warmup, int repeats, int64_t *totals,
                                    int64_t *node_ns, int64_t timer_ns, struct qs_diag *diag) {
    enum qs_status st = QS_STATUS_OK;
    int n = qs_session_exec_count(s);
    for (int r = 0; r < warmup && st == QS_STATUS_OK; r++) st = qs_session_run(s, diag);
    // Plain and profiled runs alternate so that both see the same machine state.
    for (int r = 0; r < repeats && st == QS_STATUS_OK; r++) {
        int64_t t0 = qs__lut_now_ns();
        st = qs_session_run(s, diag);
        totals[r] = qs__lut_now_ns() - t0;
        if (st == QS_STATUS_OK)
            st = qs_session_run_profiled(s, node_ns + (size_t)r * (size_t)n, NULL, diag);
        for (int e = 0; e < n; e++) {
            int64_t *v = &node_ns[(size_t)r * (size_t)n + (size_t)e];
            *v = *v > timer_ns ? *v - timer_ns : 0;  // one clock read per node
        }
    }
    return st;
}

typedef struct {
    char name[256];
    char key[LUT_KEY_MAX];
    double ms;
    bool miss, used;
} pred_node;

typedef struct {
    pred_node *v;
    int n, cap;
    bool nomem;
} pred_list;

static void collect(void *user, const char *name, const char *key, double ms, bool miss) {
    pred_list *l = user;
    if (l->n == l->cap) {
        int c = l->cap ? l->cap * 2 : 256;
        pred_node *p = qs__realloc(l->v, sizeof *p * (size_t)c);
        if (!p) {
            l->nomem = true;
            return;
        }
        l->v = p;
        l->cap = c;
    }
    pred_node *p = &l->v[l->n++];
    snprintf(p->name, sizeof p->name, "%s", name ? name : "?");
    snprintf(p->key, sizeof p->key, "%s", key);
    p->ms = ms;
    p->miss = miss;
    p->used = false;
}

enum qs_status qs_lut_validate_policy(const qs_lut_t *lut, qs_lut_model_t *m,
                                      const qs_policy_t *policy, int repeats, qs_lut_compare_fn fn,
                                      void *user, struct qs_lut_measurement *out,
                                      struct qs_diag *diag) {
    if (!lut || !m || !out || repeats < 1)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "qs_lut_validate_policy: bad arguments");
    memset(out, 0, sizeof *out);
    pred_list pl = {0};
    struct qs_lut_estimate est;
    enum qs_status st = qs_lut_model_cost_detail(lut, m->g, policy, m->batch, collect, &pl, &est,
                                                 diag);
    if (st != QS_STATUS_OK) goto done;
    if (pl.nomem) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
        goto done;
    }
    qs_quantizer_t *q = NULL;
    qs_session_t *s = NULL;
    if ((st = qs__lut_model_session(m, policy, true, &q, &s, diag)) != QS_STATUS_OK) goto done;
    int n = qs_session_exec_count(s);
    int64_t *totals = qs__malloc(sizeof(int64_t) * (size_t)repeats);
    int64_t *ns = qs__malloc(sizeof(int64_t) * (size_t)repeats * (size_t)QS_MAX(n, 1));
    int64_t *col = qs__malloc(sizeof(int64_t) * (size_t)repeats);
    if (!totals || !ns || !col) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    } else {
        unsigned char mask[1024];
        bool pinned = qs__lut_pin(mask, sizeof mask);
        int64_t timer = qs__lut_timer_overhead_ns();
        st = qs__lut_time_session(s, QS_MAX(3, repeats / 5), repeats, totals, ns, timer, diag);
        if (pinned) qs__lut_unpin(mask);
    }
    if (st == QS_STATUS_OK) {
        qs__lut_stats(totals, repeats, &out->measured_ms, &out->p10_ms, &out->p90_ms);
        out->runs = repeats;
        out->predicted_ms = est.ms;
        out->predicted_p10_ms = est.p10_ms;
        out->lookups = est.lookups;
        out->misses = est.misses;
        for (int e = 0; e < n && fn; e++) {
            struct qs_prof_node pn;
            qs_session_exec_info(s, e, &pn);
            for (int r = 0; r < repeats; r++) col[r] = ns[(size_t)r * (size_t)n + (size_t)e];
            double med, p10, p90;
            qs__lut_stats(col, repeats, &med, &p10, &p90);
            pred_node *match = NULL;
            for (int k = 0; k < pl.n && !match; k++)
                if (!pl.v[k].used && !strcmp(pl.v[k].name, pn.name)) match = &pl.v[k];
            char key[LUT_KEY_MAX];
            qs_lut_node_key(&pn, key, sizeof key);
            // Lowering may rename a node ("x_fakequant_1" for a second reader): same key.
            for (int k = 0; k < pl.n && !match; k++)
                if (!pl.v[k].used && !strcmp(pl.v[k].key, key) &&
                    !strncmp(pl.v[k].name, pn.name, strlen(pl.v[k].name)))
                    match = &pl.v[k];
            if (match) match->used = true;
            fn(user, pn.name, match ? match->key : key, med, match ? match->ms : -1.0,
               match ? match->miss : false);
        }
        for (int k = 0; k < pl.n && fn; k++)
            if (!pl.v[k].used) fn(user, pl.v[k].name, pl.v[k].key, -1.0, pl.v[k].ms, pl.v[k].miss);
    }
    qs__free(totals);
    qs__free(ns);
    qs__free(col);
    qs_session_destroy(s);
    qs_quantizer_destroy(q);
done:
    qs__free(pl.v);
    return st;
}
