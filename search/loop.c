// The search loop (qs_search_run): config, evaluator, agent, budgets, episodes, journal and
// checkpoints, stopping rules, the final re-evaluation and the outputs.
#include "qsearch/search.h"
#include "search/config.h"
#include "search/core.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHECKPOINT_EVERY 10
#define MAX_FINALS 6

struct run {
    const struct qs_search_options *o;
    struct qs_search_config cfg;
    char dir[4096];
    char journal_path[4200], ckpt_path[4200];
    qs_evaluator *ev;
    struct qs_space *space;
    qs_agent *agent;
    qs_constraints *cons;
    qs_journal *journal;
    qs_policy_t *policy;
    float *actions, *state;
    struct qs_metrics base;
    double acc_floor;
    unsigned thr_set;
    // Tracking over the journal.
    int best_row;            // best: meets every threshold first, then reward
    double best_overall;     // highest reward (patience)
    int last_improve;        // episode of the last improvement of best_overall
    int cache_hits, failures, lut_lookups, lut_misses;
    int cache_hits_run;  // among the episodes evaluated by this process
    // Evaluated policies: key -> journal row (open addressing).
    char **keys;
    int *key_rows;
    int key_cap, key_n;
    double t0, t_search;
    int episodes_run, replayed;
    const char *stop_reason;
    struct qs_diag *diag;
    FILE *timings;  // timings.csv: wall and CPU seconds per episode (not in the journal)
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

struct qs_search_options qs_search_options_default(void) {
    struct qs_search_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    return o;
}

// ---------------------------------------------------------------------------------------
// Policy keys and the cache of evaluated policies.

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

// The decoded policy of `actions` as text: identical policies, identical keys.
static char *policy_key(struct run *r, const float *actions) {
    size_t cap = (size_t)r->space->n_layers * 32 + 1, n = 0;
    char *k = qs__malloc(cap);
    if (!k) return NULL;
    k[0] = 0;
    for (int l = 0; l < r->space->n_layers; l++) {
        struct qs_layer_policy lp;
        qs__constraints_decode(r->cons, l, &actions[l * QS_ACTION_DIM], &lp);
        n += (size_t)snprintf(k + n, cap - n, "%d/%d/%.9g ", lp.w_bits, lp.a_bits,
                              (double)lp.sparsity);
    }
    return k;
}

static int cache_find(const struct run *r, const char *key) {
    if (!r->key_cap) return -1;
    for (size_t i = hash_str(key) & (size_t)(r->key_cap - 1);; i = (i + 1) & (size_t)(r->key_cap - 1)) {
        if (!r->keys[i]) return -1;
        if (!strcmp(r->keys[i], key)) return r->key_rows[i];
    }
}

// Takes ownership of `key`.
static enum qs_status cache_put(struct run *r, char *key, int row) {
    if (2 * (r->key_n + 1) > r->key_cap) {
        int cap = r->key_cap ? 2 * r->key_cap : 256;
        char **keys = qs__calloc((size_t)cap, sizeof *keys);
        int *rows = qs__calloc((size_t)cap, sizeof *rows);
        if (!keys || !rows) {
            qs__free(keys);
            qs__free(rows);
            qs__free(key);
            return QS_STATUS_NOMEM;
        }
        for (int i = 0; i < r->key_cap; i++) {
            if (!r->keys[i]) continue;
            size_t j = hash_str(r->keys[i]) & (size_t)(cap - 1);
            while (keys[j]) j = (j + 1) & (size_t)(cap - 1);
            keys[j] = r->keys[i];
            rows[j] = r->key_rows[i];
        }
        qs__free(r->keys);
        qs__free(r->key_rows);
        r->keys = keys;
        r->key_rows = rows;
        r->key_cap = cap;
    }
    size_t j = hash_str(key) & (size_t)(r->key_cap - 1);
    while (r->keys[j]) {
        if (!strcmp(r->keys[j], key)) {
            qs__free(key);
            return QS_STATUS_OK;
        }
        j = (j + 1) & (size_t)(r->key_cap - 1);
    }
    r->keys[j] = key;
    r->key_rows[j] = row;
    r->key_n++;
    return QS_STATUS_OK;
}

// ---------------------------------------------------------------------------------------

static unsigned thresholds_of(const struct run *r, const struct qs_metrics *m, double acc_floor) {
    if (m->failed) return 0;
    unsigned t = 0;
    if ((r->thr_set & QS_THR_ACC) && m->accuracy >= acc_floor - 1e-12) t |= QS_THR_ACC;
    if ((r->thr_set & QS_THR_LAT) && m->latency_ms <= r->cfg.latency_threshold_ms) t |= QS_THR_LAT;
    if ((r->thr_set & QS_THR_COMP) && m->compress_ratio >= r->cfg.compress_threshold)
        t |= QS_THR_COMP;
    return t;
}

static bool meets_all(const struct run *r, unsigned t) { return (t & r->thr_set) == r->thr_set; }

static int objectives_of(const struct run *r, const struct qs_metrics *m, double *obj) {
    unsigned k = r->cfg.objective_keys ? r->cfg.objective_keys : (QS_OBJ_ACCURACY | QS_OBJ_COMPRESS);
    int n = 0;
    if (k & QS_OBJ_ACCURACY) obj[n++] = m->accuracy;
    if (k & QS_OBJ_COMPRESS) obj[n++] = m->compress_ratio;
    if (k & QS_OBJ_FLOPS) obj[n++] = -m->flops;
    if (k & QS_OBJ_LATENCY) obj[n++] = isnan(m->latency_ms) ? 0.0 : -m->latency_ms;
    return n;
}

// Updates the tracking with journal row i (new or replayed).
static enum qs_status record(struct run *r, int i) {
    const struct qs_journal_row *row = qs__journal_row(r->journal, i);
    if (row->m.failed) {
        r->failures++;
        return QS_STATUS_OK;
    }
    if (!strcmp(row->status, "cached")) {
        r->cache_hits++;
    } else {
        r->lut_lookups += row->m.lut_lookups;
        r->lut_misses += row->m.lut_misses;
        char *key = policy_key(r, row->actions);
        if (!key || cache_put(r, key, i) != QS_STATUS_OK)
            return qs__diag(r->diag, QS_STATUS_NOMEM, "out of memory");
    }
    if (row->reward > r->best_overall) {
        r->best_overall = row->reward;
        r->last_improve = row->episode;
    }
    if (r->best_row < 0) {
        r->best_row = i;
    } else {
        const struct qs_journal_row *b = qs__journal_row(r->journal, r->best_row);
        bool mi = meets_all(r, row->thresholds), mb = meets_all(r, b->thresholds);
        if ((mi && !mb) || (mi == mb && row->reward > b->reward)) r->best_row = i;
    }
    return QS_STATUS_OK;
}

static void progress(struct run *r, const char *phase) {
    if (!r->o->progress) return;
    struct qs_search_progress p;
    memset(&p, 0, sizeof p);
    p.phase = phase;
    p.episode = r->journal ? qs__journal_count(r->journal) : 0;
    p.max_episode = r->cfg.max_episode;
    p.elapsed_s = r->t_search > 0 ? now_s() - r->t_search : 0.0;
    p.eta_s = -1;
    if (r->best_row >= 0) {
        const struct qs_journal_row *b = qs__journal_row(r->journal, r->best_row);
        p.has_best = true;
        p.best_reward = b->reward;
        p.acc_ok = b->thresholds & QS_THR_ACC;
        p.lat_ok = b->thresholds & QS_THR_LAT;
        p.comp_ok = b->thresholds & QS_THR_COMP;
    }
    p.acc_set = r->thr_set & QS_THR_ACC;
    p.lat_set = r->thr_set & QS_THR_LAT;
    p.comp_set = r->thr_set & QS_THR_COMP;
    if (r->episodes_run > 0) {
        double per = p.elapsed_s / r->episodes_run;
        p.eta_s = per * QS_MAX(r->cfg.max_episode - p.episode, 0);
        if (r->cfg.time_budget_s > 0)
            p.eta_s = QS_MIN(p.eta_s, QS_MAX(r->cfg.time_budget_s - p.elapsed_s, 0.0));
    }
    r->o->progress(r->o->progress_user, &p);
}

// One episode: the agent proposes layer by layer, the budgets clamp, the candidate is
// evaluated (or found in the cache) and journaled. With `replay`, the journal's row is
// fed to the agent instead (resume).
static enum qs_status episode(struct run *r, int ep, const struct qs_journal_row *replay) {
    struct qs_diag *diag = r->diag;
    qs_agent *a = r->agent;
    double w0 = now_s(), c0 = cpu_s();
    enum qs_status st = a->ops->episode_begin(a, ep, diag);
    if (st != QS_STATUS_OK) return st;
    qs__constraints_begin(r->cons);
    int n = r->space->n_layers;
    for (int l = 0; l < n; l++) {
        float *taken = &r->actions[l * QS_ACTION_DIM];
        qs__space_state(r->space, l, l ? taken - QS_ACTION_DIM : NULL, r->state);
        float prop[QS_ACTION_DIM];
        if ((st = a->ops->act(a, l, r->state, prop)) != QS_STATUS_OK) return st;
        if (replay) {
            memcpy(taken, &replay->actions[l * QS_ACTION_DIM], sizeof prop);
        } else {
            for (int d = 0; d < QS_ACTION_DIM; d++)
                prop[d] = prop[d] > 0.0f ? (prop[d] < 1.0f ? prop[d] : 1.0f) : 0.0f;
            struct qs_layer_policy want, lp;
            qs__constraints_decode(r->cons, l, prop, &want);
            lp = want;
            bool changed;
            if ((st = qs__constraints_clamp(r->cons, l, &lp, &changed, diag)) != QS_STATUS_OK)
                return st;
            struct qs_layer_policy raw;
            qs__space_decode(r->space, l, prop, &raw);
            if (changed || raw.sparsity != lp.sparsity)
                qs__space_encode(r->space, l, &lp, taken);
            else
                memcpy(taken, prop, sizeof prop);
        }
        a->ops->taken(a, l, taken);
    }

    struct qs_journal_row row;
    memset(&row, 0, sizeof row);
    if (replay) {
        row = *replay;
    } else {
        row.episode = ep;
        row.actions = r->actions;
        char *key = policy_key(r, r->actions);
        if (!key) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
        int hit = cache_find(r, key);
        qs__free(key);
        if (hit >= 0) {
            const struct qs_journal_row *h = qs__journal_row(r->journal, hit);
            row.m = h->m;
            snprintf(row.status, sizeof row.status, "cached");
        } else {
            for (int l = 0; l < n; l++) {
                struct qs_layer_policy lp;
                qs__constraints_decode(r->cons, l, &r->actions[l * QS_ACTION_DIM], &lp);
                if ((st = qs_policy_set(r->policy, r->space->layers[l].info.name, &lp, diag)) !=
                    QS_STATUS_OK)
                    return st;
            }
            struct qs_diag ediag = {{0}};
            st = qs__evaluator_eval(r->ev, r->policy, false, &row.m, &ediag);
            if (st != QS_STATUS_OK) {
                *diag = ediag;
                return st;
            }
            // Budgets are met by construction; a violation is a bug, not a user error.
            char why[256];
            if (!row.m.failed && !qs__constraints_fit(r->cons, &row.m, why, sizeof why))
                return qs__diag(diag, QS_STATUS_INTERNAL, "episode %d: candidate outside the "
                                "budgets (%s)", ep, why);
            if (row.m.failed) snprintf(row.note, sizeof row.note, "%.159s", ediag.msg);
            snprintf(row.status, sizeof row.status, row.m.failed ? "failed" : "ok");
        }
        // A failed evaluation has no reward (NAN): the agents learn nothing from it.
        row.reward = row.m.failed ? NAN : qs__reward(&r->cfg, &row.m, &r->base);
        row.thresholds = thresholds_of(r, &row.m, r->acc_floor);
        if ((st = qs__journal_append(r->journal, &row, r->space, diag)) != QS_STATUS_OK)
            return st;
    }
    double obj[4];
    int n_obj = objectives_of(r, &row.m, obj);
    if ((st = a->ops->episode_end(a, row.reward, obj, n_obj, diag)) != QS_STATUS_OK) return st;
    if (!replay) {
        if ((st = record(r, qs__journal_count(r->journal) - 1)) != QS_STATUS_OK) return st;
        r->episodes_run++;
        r->cache_hits_run += !strcmp(row.status, "cached");
        if (r->timings) {
            fprintf(r->timings, "%d,%s,%.6f,%.6f\n", ep, row.status, now_s() - w0, cpu_s() - c0);
            fflush(r->timings);
        }
        if (r->episodes_run % CHECKPOINT_EVERY == 0 &&
            (st = qs__checkpoint_save(r->ckpt_path, a, ep + 1, diag)) != QS_STATUS_OK)
            return st;
    }
    return QS_STATUS_OK;
}

// Stop rule that holds now, or NULL to go on.
static const char *should_stop(struct run *r) {
    int done = qs__journal_count(r->journal);
    if (r->cfg.stop_early && r->thr_set && r->best_row >= 0 &&
        meets_all(r, qs__journal_row(r->journal, r->best_row)->thresholds))
        return "stop_early";
    if (r->o->stop && *r->o->stop) return "interrupted";
    if (done >= r->cfg.max_episode) return "max_episode";
    if (r->agent->ops->exhausted && r->agent->ops->exhausted(r->agent)) return "exhausted";
    if (r->cfg.patience > 0 && done >= r->cfg.num_warmup &&
        done - QS_MAX(r->last_improve + 1, r->cfg.num_warmup) >= r->cfg.patience)
        return "patience";
    if (r->cfg.time_budget_s > 0 && now_s() - r->t_search >= r->cfg.time_budget_s)
        return "time_budget";
    return NULL;
}

// ---------------------------------------------------------------------------------------
// Setup.

static enum qs_status mkdirs(const char *path, struct qs_diag *diag) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return qs__diag(diag, QS_STATUS_IO, "'%s': cannot create folder: %s", buf,
                                strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return qs__diag(diag, QS_STATUS_IO, "'%s': not a folder", path);
    return QS_STATUS_OK;
}

static enum qs_status load_config(struct run *r) {
    const struct qs_search_options *o = r->o;
    struct qs_diag *diag = r->diag;
    enum qs_status st;
    if (o->resume_dir) {
        char path[4200];
        snprintf(path, sizeof path, "%s/config.yaml", o->resume_dir);
        if (access(path, R_OK) != 0)
            return qs__diag(diag, QS_STATUS_IO, "'%s': no run to resume here (%s)",
                            o->resume_dir, strerror(errno));
        st = qs__config_load(path, &r->cfg, diag);
    } else if (o->config_path) {
        st = qs__config_load(o->config_path, &r->cfg, diag);
    } else {
        st = qs__config_embedded_default(&r->cfg, diag);
    }
    if (st != QS_STATUS_OK) return st;
    for (int i = 0; i < o->n_set; i++)
        if ((st = qs__config_set(&r->cfg, o->set_keys[i], o->set_values[i], diag)) !=
            QS_STATUS_OK)
            return st;
    if (o->resume_dir && (st = qs__config_set(&r->cfg, "output_dir", o->resume_dir, diag)) !=
                             QS_STATUS_OK)
        return st;
    return qs__config_validate(&r->cfg, diag);
}

static enum qs_status write_config(struct run *r) {
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/config.yaml", r->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return qs__diag(r->diag, QS_STATUS_IO, "'%s': %s", tmp, strerror(errno));
    int rc = qs__config_write_yaml(&r->cfg, f, false);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) rc = -1;
    if (fclose(f) != 0) rc = -1;
    if (rc < 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return qs__diag(r->diag, QS_STATUS_IO, "'%s': write failed: %s", path, strerror(errno));
    }
    qs__fsync_dir(path);
    return QS_STATUS_OK;
}

// ---------------------------------------------------------------------------------------
// Final phase: the best candidates on the final evaluation set, the outputs.

static bool dominates(const struct run *r, const struct qs_metrics *a, const struct qs_metrics *b) {
    bool lat = qs__evaluator_lut(r->ev) != NULL;
    bool ge = a->accuracy >= b->accuracy && a->compress_ratio >= b->compress_ratio &&
              (!lat || a->latency_ms <= b->latency_ms);
    bool gt = a->accuracy > b->accuracy || a->compress_ratio > b->compress_ratio ||
              (lat && a->latency_ms < b->latency_ms);
    return ge && gt;
}

static enum qs_status all_int8(struct run *r, qs_policy_t **out) {
    enum qs_status st = qs_policy_create(out);
    if (st != QS_STATUS_OK) return qs__diag(r->diag, st, "out of memory");
    qs_graph_t *g = qs__evaluator_graph(r->ev);
    for (int i = 0; i < qs_graph_layer_count(g) && st == QS_STATUS_OK; i++) {
        struct qs_layer_info li;
        struct qs_layer_policy lp = qs_layer_policy_default();
        lp.w_bits = lp.a_bits = 8;
        if ((st = qs_graph_layer_info(g, i, &li)) == QS_STATUS_OK)
            st = qs_policy_set(*out, li.name, &lp, r->diag);
    }
    return st;
}

static enum qs_status finish(struct run *r, struct qs_search_result *res) {
    struct qs_diag *diag = r->diag;
    enum qs_status st = QS_STATUS_OK;
    double t_final = now_s();
    progress(r, "final");
    struct qs_run_summary s;
    memset(&s, 0, sizeof s);
    s.cfg = &r->cfg;
    s.space = r->space;
    s.journal = r->journal;
    s.cons = r->cons;
    s.base = r->base;
    s.best = -1;
    s.measured_ms = s.table_ms = NAN;
    s.finals = qs__calloc(MAX_FINALS, sizeof *s.finals);
    qs_policy_t *int8 = NULL;
    if (!s.finals) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");

    // Candidates: the best rewards among those meeting the thresholds, the best reward,
    // and the Pareto set (accuracy, compression, latency) of the search.
    int nrows = qs__journal_count(r->journal);
    int *pick = qs__malloc((size_t)QS_MAX(nrows, 1) * sizeof *pick);
    int n_pick = 0;
    if (!pick) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
        goto done;
    }
    for (int pass = 0; pass < 3; pass++) {
        int want = pass == 0 ? 2 : pass == 1 ? 1 : MAX_FINALS;
        for (int k = 0; k < want && n_pick < MAX_FINALS; k++) {
            int bi = -1;
            for (int i = 0; i < nrows; i++) {
                const struct qs_journal_row *row = qs__journal_row(r->journal, i);
                if (row->m.failed || strcmp(row->status, "ok")) continue;
                if (pass == 0 && !meets_all(r, row->thresholds)) continue;
                bool taken = false;
                for (int j = 0; j < n_pick && !taken; j++) taken = pick[j] == i;
                if (taken) continue;
                if (pass == 2) {
                    bool dom = false;
                    for (int j = 0; j < nrows && !dom; j++) {
                        const struct qs_journal_row *o = qs__journal_row(r->journal, j);
                        dom = !o->m.failed && dominates(r, &o->m, &row->m);
                    }
                    if (dom) continue;
                    if (bi < 0 || row->m.accuracy > qs__journal_row(r->journal, bi)->m.accuracy)
                        bi = i;
                } else if (bi < 0 || row->reward > qs__journal_row(r->journal, bi)->reward) {
                    bi = i;
                }
            }
            if (bi < 0) break;
            pick[n_pick++] = bi;
        }
    }
    struct qs_metrics base_full;
    if ((st = qs__evaluator_baseline_full(r->ev, &base_full, diag)) != QS_STATUS_OK) goto done;
    s.base_full = base_full;
    double floor_full = qs__config_acc_floor(&r->cfg, base_full.accuracy);
    // Final evaluations on the search subset itself would repeat the journal's accuracy
    // (an external evaluator is re-run: its number need not repeat).
    const bool same_sets =
        qs__evaluator_full_is_search(r->ev) && r->cfg.metric != QS_EVAL_EXTERNAL;
    for (int k = 0; k < n_pick; k++) {
        struct qs_final *f = &s.finals[s.n_finals];
        f->row = pick[k];
        const struct qs_journal_row *row = qs__journal_row(r->journal, f->row);
        if ((st = qs__row_policy(r->cons, r->space, row, &f->policy, diag)) != QS_STATUS_OK)
            goto done;
        s.n_finals++;
        f->search = row->m;
        if (same_sets) {
            // The search's accuracy is the final one; the costs are recomputed (a resumed
            // run's journal rows do not carry all of them).
            if ((st = qs__evaluator_cost(r->ev, f->policy, &f->full, diag)) != QS_STATUS_OK)
                goto done;
            f->full.accuracy = row->m.accuracy;
            f->full.samples = qs__evaluator_full_samples(r->ev);
        } else if ((st = qs__evaluator_eval(r->ev, f->policy, true, &f->full, diag)) !=
                   QS_STATUS_OK) {
            goto done;
        }
        f->reward_full = f->full.failed ? NAN : qs__reward(&r->cfg, &f->full, &base_full);
        f->thresholds_full = thresholds_of(r, &f->full, floor_full);
        bool dom = false;
        for (int j = 0; j < nrows && !dom; j++) {
            const struct qs_journal_row *o = qs__journal_row(r->journal, j);
            dom = !o->m.failed && dominates(r, &o->m, &row->m);
        }
        f->pareto = !dom;
        if (f->full.failed) continue;
        if (s.best < 0) {
            s.best = k;
        } else {
            const struct qs_final *b = &s.finals[s.best];
            bool mi = meets_all(r, f->thresholds_full), mb = meets_all(r, b->thresholds_full);
            if ((mi && !mb) || (mi == mb && f->reward_full > b->reward_full)) s.best = k;
        }
    }
    // The all-int8 reference (compression and accuracy of plain int8).
    if ((st = all_int8(r, &int8)) != QS_STATUS_OK ||
        (st = qs__evaluator_eval(r->ev, int8, true, &s.int8_full, diag)) != QS_STATUS_OK)
        goto done;
    s.int8 = s.int8_full;

    char path[4300];
    if (s.best >= 0) {
        struct qs_final *b = &s.finals[s.best];
        s.thresholds_met = meets_all(r, b->thresholds_full);
        s.table_ms = b->full.latency_ms;
        // A model that cannot be timed alone (batch fixed elsewhere) still has its results.
        struct qs_diag mdiag = {{0}};
        if (qs__evaluator_measure(r->ev, b->policy, 50, &s.measured_ms, &mdiag) != QS_STATUS_OK) {
            qs__log(QS_LOG_WARN, "latency of the best not measured: %s", mdiag.msg);
            s.measured_ms = NAN;
        }
        b->full.measured_ms = s.measured_ms;
        snprintf(path, sizeof path, "%s/best_policy.yaml", r->dir);
        if ((st = qs_policy_save(b->policy, path, diag)) != QS_STATUS_OK) goto done;
        snprintf(path, sizeof path, "%s/model.qdq.onnx", r->dir);
        if ((st = qs__evaluator_export(r->ev, b->policy, path, diag)) != QS_STATUS_OK) goto done;
    }
    s.final_seconds = now_s() - t_final;
    s.setup_seconds = qs__evaluator_setup_seconds(r->ev);
    s.search_seconds = t_final - r->t_search;
    s.episodes_run = r->episodes_run;
    s.episodes_replayed = r->replayed;
    s.cache_hits = r->cache_hits;
    s.cache_hits_run = r->cache_hits_run;
    s.failures = r->failures;
    s.lut_lookups = r->lut_lookups;
    s.lut_misses = r->lut_misses;
    s.stop_reason = r->stop_reason;
    snprintf(path, sizeof path, "%s/results.json", r->dir);
    if ((st = qs__write_results(path, &s, diag)) != QS_STATUS_OK) goto done;
    if ((st = qs__search_report(r->dir, &s, diag)) != QS_STATUS_OK) goto done;

    res->has_best = s.best >= 0;
    res->thresholds_met = s.best >= 0 && s.thresholds_met;
    res->fp32_accuracy = base_full.accuracy;
    res->int8_compress = s.int8_full.compress_ratio;
    res->table_ms = s.table_ms;
    res->measured_ms = s.measured_ms;
    if (s.best >= 0) {
        res->best_reward = s.finals[s.best].reward_full;
        res->best_accuracy = s.finals[s.best].full.accuracy;
        res->best_compress = s.finals[s.best].full.compress_ratio;
    }
done:
    for (int k = 0; k < s.n_finals; k++) qs_policy_destroy(s.finals[k].policy);
    qs__free(s.finals);
    qs__free(pick);
    qs_policy_destroy(int8);
    return st;
}

enum qs_status qs__row_policy(const qs_constraints *c, const struct qs_space *space,
                              const struct qs_journal_row *row, qs_policy_t **out,
                              struct qs_diag *diag) {
    enum qs_status st = qs_policy_create(out);
    if (st != QS_STATUS_OK) return qs__diag(diag, st, "out of memory");
    for (int l = 0; l < space->n_layers && st == QS_STATUS_OK; l++) {
        struct qs_layer_policy lp;
        qs__constraints_decode(c, l, &row->actions[l * QS_ACTION_DIM], &lp);
        st = qs_policy_set(*out, space->layers[l].info.name, &lp, diag);
    }
    return st;
}

// ---------------------------------------------------------------------------------------

static enum qs_status search(struct run *r, struct qs_search_result *res) {
    struct qs_diag *diag = r->diag;
    enum qs_status st;
    if ((st = load_config(r)) != QS_STATUS_OK) return st;
    if ((st = mkdirs(r->cfg.output_dir, diag)) != QS_STATUS_OK) return st;
    if (!realpath(r->cfg.output_dir, r->dir))
        return qs__diag(diag, QS_STATUS_IO, "'%s': %s", r->cfg.output_dir, strerror(errno));
    snprintf(res->run_dir, sizeof res->run_dir, "%s", r->dir);
    snprintf(r->journal_path, sizeof r->journal_path, "%s/episodes.csv", r->dir);
    snprintf(r->ckpt_path, sizeof r->ckpt_path, "%s/checkpoint.bin", r->dir);
    bool resume = r->o->resume_dir != NULL;
    if (!resume) {
        // A fresh run replaces an old one in the same folder: its checkpoint must not be
        // taken for this run's by a later --resume.
        remove(r->ckpt_path);
        if ((st = write_config(r)) != QS_STATUS_OK) return st;
    }
    progress(r, "setup");
    if ((st = qs__evaluator_create(&r->cfg, r->dir, &r->ev, diag)) != QS_STATUS_OK) return st;
    r->base = *qs__evaluator_baseline(r->ev);
    r->acc_floor = qs__config_acc_floor(&r->cfg, r->base.accuracy);
    if (isfinite(r->acc_floor)) r->thr_set |= QS_THR_ACC;
    if (r->cfg.latency_threshold_ms > 0) r->thr_set |= QS_THR_LAT;
    if (r->cfg.compress_threshold > 0) r->thr_set |= QS_THR_COMP;
    if ((st = qs__space_create(&r->cfg, qs__evaluator_graph(r->ev), &r->space, diag)) !=
            QS_STATUS_OK ||
        (st = qs__constraints_create(&r->cfg, r->space, r->ev, &r->cons, diag)) !=
            QS_STATUS_OK ||
        (st = qs__agent_create(&r->cfg, r->space, &r->agent, diag)) != QS_STATUS_OK)
        return st;
    int n = r->space->n_layers;
    r->actions = qs__calloc((size_t)n * QS_ACTION_DIM, sizeof(float));
    r->state = qs__calloc(QS_STATE_DIM, sizeof(float));
    if (!r->actions || !r->state || qs_policy_create(&r->policy) != QS_STATUS_OK)
        return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    if ((st = qs__journal_open(r->journal_path, n, resume, &r->journal, diag)) != QS_STATUS_OK)
        return st;

    char tpath[4300];
    snprintf(tpath, sizeof tpath, "%s/timings.csv", r->dir);
    bool had = access(tpath, F_OK) == 0;
    r->timings = fopen(tpath, resume ? "ab" : "wb");
    if (r->timings && (!resume || !had)) fputs("episode,status,wall_s,cpu_s\n", r->timings);
    r->t_search = now_s();
    if (resume) {
        int rows = qs__journal_count(r->journal);
        for (int i = 0; i < rows; i++)
            if ((st = record(r, i)) != QS_STATUS_OK) return st;
        int from = -1;
        struct qs_diag cdiag = {{0}};
        if (qs__checkpoint_load(r->ckpt_path, r->agent, &from, &cdiag) != QS_STATUS_OK ||
            from > rows) {
            // An unusable checkpoint: start the agent afresh and replay everything.
            if (cdiag.msg[0]) qs__log(QS_LOG_WARN, "%s; replaying the journal", cdiag.msg);
            r->agent->ops->destroy(r->agent);
            r->agent = NULL;
            if ((st = qs__agent_create(&r->cfg, r->space, &r->agent, diag)) != QS_STATUS_OK)
                return st;
            from = -1;
        }
        for (int i = QS_MAX(from, 0); i < rows; i++) {
            if ((st = episode(r, i, qs__journal_row(r->journal, i))) != QS_STATUS_OK) return st;
            r->replayed++;
        }
    }
    progress(r, "search");
    while (!(r->stop_reason = should_stop(r))) {
        if ((st = episode(r, qs__journal_count(r->journal), NULL)) != QS_STATUS_OK) return st;
        progress(r, "search");
    }
    res->interrupted = !strcmp(r->stop_reason, "interrupted");
    if ((st = qs__checkpoint_save(r->ckpt_path, r->agent, qs__journal_count(r->journal), diag)) !=
        QS_STATUS_OK)
        return st;
    res->episodes = qs__journal_count(r->journal);
    snprintf(res->stop_reason, sizeof res->stop_reason, "%s", r->stop_reason);
    res->lut_lookups = r->lut_lookups;
    res->lut_misses = r->lut_misses;
    st = finish(r, res);
    progress(r, "done");
    return st;
}

enum qs_status qs_search_run(const struct qs_search_options *options,
                             struct qs_search_result *result, struct qs_diag *diag) {
    struct qs_diag local = {{0}};
    if (!diag) diag = &local;
    if (!options || !result) return qs__diag(diag, QS_STATUS_INVALID_ARG, "qs_search_run: NULL");
    struct run r;
    memset(&r, 0, sizeof r);
    memset(result, 0, sizeof *result);
    result->table_ms = result->measured_ms = NAN;
    r.o = options;
    r.diag = diag;
    r.best_row = -1;
    r.last_improve = -1;
    r.best_overall = -INFINITY;
    r.t0 = now_s();
    enum qs_status st = search(&r, result);
    result->seconds = now_s() - r.t0;
    if (r.agent) r.agent->ops->destroy(r.agent);
    qs__journal_close(r.journal);
    if (r.timings) fclose(r.timings);
    qs__constraints_destroy(r.cons);
    qs__space_destroy(r.space);
    qs__evaluator_destroy(r.ev);
    qs_policy_destroy(r.policy);
    qs__free(r.actions);
    qs__free(r.state);
    for (int i = 0; i < r.key_cap; i++) qs__free(r.keys ? r.keys[i] : NULL);
    qs__free(r.keys);
    qs__free(r.key_rows);
    qs__config_free(&r.cfg);
    return st;
}
