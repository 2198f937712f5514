// Outputs of a run: results.json (atomic) and the report. See core.h.
#include "search/config.h"
#include "search/core.h"
#include "search/report.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

static void jnum(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.10g", v);
    else fputs("null", f);
}

static void jstr(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void jmetrics(FILE *f, const struct qs_metrics *m) {
    fputs("{\"accuracy\": ", f);
    jnum(f, m->accuracy);
    fputs(", \"compress_ratio\": ", f);
    jnum(f, m->compress_ratio);
    fputs(", \"model_bytes\": ", f);
    jnum(f, m->model_bytes);
    fputs(", \"flops\": ", f);
    jnum(f, m->flops);
    fputs(", \"bops\": ", f);
    jnum(f, m->bops);
    fputs(", \"latency_ms\": ", f);
    jnum(f, m->latency_ms);
    fprintf(f, ", \"lut_lookups\": %d, \"lut_misses\": %d, \"samples\": %lld, \"failed\": %s",
            m->lut_lookups, m->lut_misses, (long long)m->samples, m->failed ? "true" : "false");
    fputs(", \"eval_seconds\": ", f);
    jnum(f, m->eval_seconds);
    if (isfinite(m->measured_ms)) {
        fputs(", \"measured_ms\": ", f);
        jnum(f, m->measured_ms);
    }
    fputc('}', f);
}

static void jpolicy(FILE *f, const qs_policy_t *p) {
    fputc('[', f);
    for (int i = 0; i < qs_policy_count(p); i++) {
        const char *name;
        const struct qs_layer_policy *lp;
        if (qs_policy_entry(p, i, &name, &lp) != QS_STATUS_OK) continue;
        fputs(i ? ",\n      {\"layer\": " : "\n      {\"layer\": ", f);
        jstr(f, name);
        fprintf(f, ", \"w_bits\": %d, \"a_bits\": %d, \"sparsity\": %.6g, \"pattern\": ",
                lp->w_bits, lp->a_bits, (double)lp->sparsity);
        jstr(f, lp->pattern);
        fputc('}', f);
    }
    fputs("]", f);
}

// Each threshold: true/false when the config sets it, null when it does not (a "false"
// for an unset threshold read like a failure).
static void thr_json(FILE *f, unsigned t, const struct qs_search_config *c) {
    bool acc = c->acc_threshold >= 0 || c->max_acc_drop >= 0;
    bool lat = c->latency_threshold_ms > 0, comp = c->compress_threshold > 0;
    fprintf(f, "{\"accuracy\": %s, \"latency\": %s, \"compress\": %s}",
            !acc ? "null" : t & QS_THR_ACC ? "true" : "false",
            !lat ? "null" : t & QS_THR_LAT ? "true" : "false",
            !comp ? "null" : t & QS_THR_COMP ? "true" : "false");
}

static void jfinal(FILE *f, const struct qs_run_summary *s, const struct qs_final *x) {
    const struct qs_journal_row *row = qs__journal_row(s->journal, x->row);
    fprintf(f, "{\"episode\": %d, \"search_reward\": ", row->episode);
    jnum(f, row->reward);
    fputs(", \"final_reward\": ", f);
    jnum(f, x->reward_full);
    fputs(",\n    \"search\": ", f);
    jmetrics(f, &x->search);
    fputs(",\n    \"final\": ", f);
    jmetrics(f, &x->full);
    fputs(",\n    \"thresholds_final\": ", f);
    thr_json(f, x->thresholds_full, s->cfg);
    fprintf(f, ", \"pareto\": %s,\n    \"policy\": ", x->pareto ? "true" : "false");
    jpolicy(f, x->policy);
    fputc('}', f);
}

enum qs_status qs__write_results(const char *path, const struct qs_run_summary *s,
                                 struct qs_diag *diag) {
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return qs__diag(diag, QS_STATUS_IO, "'%s': %s", tmp, strerror(errno));
    const struct qs_search_config *cfg = s->cfg;
    char formula[1024], budgets[512];
    qs__reward_formula(cfg, formula, sizeof formula);
    qs__constraints_describe(s->cons, budgets, sizeof budgets);
    fprintf(f, "{\n  \"qsearch\": \"%s\",\n  \"stop_reason\": ", QS_VERSION_STRING);
    jstr(f, s->stop_reason);
    fprintf(f, ",\n  \"thresholds_met\": %s,\n  \"reward_formula\": ",
            s->thresholds_met ? "true" : "false");
    jstr(f, formula);
    fputs(",\n  \"budgets\": ", f);
    jstr(f, budgets);
    int n = qs__journal_count(s->journal);
    fprintf(f, ",\n  \"episodes\": {\"total\": %d, \"run\": %d, \"replayed\": %d, "
               "\"cached\": %d, \"failed\": %d, \"searched_layers\": %d},\n",
            n, s->episodes_run, s->episodes_replayed, s->cache_hits, s->failures,
            s->space->n_layers);
    fputs("  \"timings\": {\"setup_s\": ", f);
    jnum(f, s->setup_seconds);
    fputs(", \"search_s\": ", f);
    jnum(f, s->search_seconds);
    fputs(", \"final_s\": ", f);
    jnum(f, s->final_seconds);
    // Episodes answered from the cache (a policy seen before) cost no evaluation.
    int evals = s->episodes_run - s->cache_hits_run;
    fputs(", \"episodes_per_minute\": ", f);
    jnum(f, s->search_seconds > 0 && s->episodes_run > 0
                ? 60.0 * s->episodes_run / s->search_seconds : NAN);
    fputs(", \"evaluations_per_minute\": ", f);
    jnum(f, s->search_seconds > 0 && evals > 0 ? 60.0 * evals / s->search_seconds : NAN);
    fputs("},\n  \"latency_table\": {\"path\": ", f);
    if (cfg->lut) jstr(f, cfg->lut);
    else fputs("null", f);
    fprintf(f, ", \"lookups\": %d, \"misses\": %d},\n", s->lut_lookups, s->lut_misses);
    fputs("  \"fp32\": {\"search\": ", f);
    jmetrics(f, &s->base);
    fputs(",\n    \"final\": ", f);
    jmetrics(f, &s->base_full);
    fputs("},\n  \"int8\": {\"final\": ", f);
    jmetrics(f, &s->int8_full);
    fputs("},\n  \"best\": ", f);
    if (s->best >= 0) {
        jfinal(f, s, &s->finals[s->best]);
    } else {
        fputs("null", f);
    }
    fputs(",\n  \"latency\": {\"table_ms\": ", f);
    jnum(f, s->table_ms);
    fputs(", \"measured_ms\": ", f);
    jnum(f, s->measured_ms);
    fputs("},\n  \"finalists\": [", f);
    for (int k = 0; k < s->n_finals; k++) {
        fputs(k ? ",\n    " : "\n    ", f);
        jfinal(f, s, &s->finals[k]);
    }
    fputs("],\n  \"config\": ", f);
    int rc = qs__config_write_json(cfg, f);
    fputs("\n}\n", f);
    if (rc < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0 || ferror(f)) {
        fclose(f);
        remove(tmp);
        return qs__diag(diag, QS_STATUS_IO, "'%s': write failed: %s", path, strerror(errno));
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return qs__diag(diag, QS_STATUS_IO, "'%s': write failed: %s", path, strerror(errno));
    }
    qs__fsync_dir(path);
    return QS_STATUS_OK;
}

// The report (search/report.h): reward per episode, the best policy's layers, the Pareto
// scatter, and a summary of the run.
enum qs_status qs__search_report(const char *dir, const struct qs_run_summary *s,
                                 struct qs_diag *diag) {
    int n = qs__journal_count(s->journal);
    struct qs_report_episode *eps = qs__calloc((size_t)QS_MAX(n, 1), sizeof *eps);
    size_t *pareto = qs__calloc((size_t)QS_MAX(n, 1), sizeof *pareto);
    struct qs_report_layer *layers = NULL;
    enum qs_status st = QS_STATUS_OK;
    if (!eps || !pareto) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
        goto done;
    }
    size_t n_pareto = 0;
    for (int i = 0; i < n; i++) {
        const struct qs_journal_row *row = qs__journal_row(s->journal, i);
        struct qs_report_episode *e = &eps[i];
        e->episode = row->episode;
        e->reward = row->reward;
        e->accuracy = row->m.failed ? NAN : row->m.accuracy;
        e->latency_ms = row->m.latency_ms;
        e->compress_ratio = row->m.failed ? NAN : row->m.compress_ratio;
        e->model_bytes = (uint64_t)(row->m.failed ? 0 : row->m.model_bytes);
        e->feasible = true;  // budgets hold by construction
        e->failed = row->m.failed;
        if (row->m.failed || strcmp(row->status, "ok")) continue;
        bool dom = false;
        for (int j = 0; j < n && !dom; j++) {
            const struct qs_journal_row *o = qs__journal_row(s->journal, j);
            if (o->m.failed) continue;
            bool lat = isfinite(o->m.latency_ms) && isfinite(row->m.latency_ms);
            bool ge = o->m.accuracy >= row->m.accuracy &&
                      o->m.compress_ratio >= row->m.compress_ratio &&
                      (!lat || o->m.latency_ms <= row->m.latency_ms);
            bool gt = o->m.accuracy > row->m.accuracy ||
                      o->m.compress_ratio > row->m.compress_ratio ||
                      (lat && o->m.latency_ms < row->m.latency_ms);
            dom = ge && gt;
        }
        if (!dom) pareto[n_pareto++] = (size_t)i;
    }
    size_t n_layers = 0;
    if (s->best >= 0) {
        const qs_policy_t *p = s->finals[s->best].policy;
        layers = qs__calloc((size_t)QS_MAX(qs_policy_count(p), 1), sizeof *layers);
        if (!layers) {
            st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
            goto done;
        }
        for (int i = 0; i < qs_policy_count(p); i++) {
            const char *name;
            const struct qs_layer_policy *lp;
            if (qs_policy_entry(p, i, &name, &lp) != QS_STATUS_OK) continue;
            struct qs_report_layer *l = &layers[n_layers++];
            l->name = name;
            l->w_bits = lp->w_bits;
            l->a_bits = lp->a_bits;
            l->sparsity = lp->sparsity;
            l->pattern = lp->sparsity > 0.0f ? lp->pattern : NULL;
        }
    }
    char formula[1024], title[512];
    qs__reward_formula(s->cfg, formula, sizeof formula);
    const char *model = strrchr(s->cfg->model, '/');
    snprintf(title, sizeof title, "%s: %s", model ? model + 1 : s->cfg->model,
             qs__reward_type_name(s->cfg->reward_type));
    char v[10][160];
    const char *keys[10], *vals[10];
    size_t ne = 0;
#define ROW(k, ...)                                         \
    do {                                                    \
        snprintf(v[ne], sizeof v[ne], __VA_ARGS__);         \
        keys[ne] = k;                                       \
        vals[ne] = v[ne];                                   \
        ne++;                                               \
    } while (0)
    ROW("stopped by", "%s", s->stop_reason);
    ROW("thresholds met (final data)", "%s", s->thresholds_met ? "yes" : "no");
    ROW("fp32 accuracy (final data)", "%.4f", s->base_full.accuracy);
    ROW("all-int8 compression", "%.3fx", s->int8_full.compress_ratio);
    if (s->best >= 0) {
        const struct qs_final *b = &s->finals[s->best];
        ROW("best (final data)", "accuracy %.4f, compression %.3fx (%.2fx of all-int8)",
            b->full.accuracy, b->full.compress_ratio,
            b->full.compress_ratio / s->int8_full.compress_ratio);
    }
    ROW("latency of the best", "measured %.4g ms, table %.4g ms", s->measured_ms, s->table_ms);
    ROW("table lookups / misses", "%d / %d", s->lut_lookups, s->lut_misses);
    ROW("budgets", "see results.json");
    ROW("time", "setup %.1f s, search %.1f s, final %.1f s", s->setup_seconds,
        s->search_seconds, s->final_seconds);
#undef ROW
    struct qs_report rep = {
        .title = title,
        .reward_formula = formula,
        .episodes = eps,
        .n_episodes = (size_t)n,
        .layers = layers,
        .n_layers = n_layers,
        .pareto = pareto,
        .n_pareto = n_pareto,
        .best = s->best >= 0 ? s->finals[s->best].row : -1,
        .metric_percent = s->cfg->metric != QS_EVAL_EXTERNAL,
        .extra_keys = keys,
        .extra_values = vals,
        .n_extra = ne,
    };
    st = qs__report_write(dir, &rep, diag);
done:
    qs__free(eps);
    qs__free(pareto);
    qs__free(layers);
    return st;
}
