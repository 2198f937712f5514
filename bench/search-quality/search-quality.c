// Search-quality benchmark (issue 6 acceptance): on a model small enough for exhaustive
// search (bench/search-quality/mlp11.onnx, 11 Gemm layers, each int8 or fp32 with tied
// weight/activation bits: 2,048 candidates), every candidate is evaluated once with the
// real engine (calibrate once, qs_quantizer_apply, a session, top-1 on a fixed subset) to
// get the exact reward table; then DDPG and random search run against that table with a
// budget of 1/10 of the candidates, over 10 seeds, and the table of results is printed.
//
//   build-x/bench/search-quality/bench-search-quality [--data DIR] [--table FILE]
//       [--seeds N] [--budget-frac F] [--warmup W] [--max-acc-drop D] [--hidden H]
//       [--local-search 0|1] (DDPG's local search; default: the config default, on)
//
// The reward is qs__reward's compress_first, objective compress_ratio, with an accuracy
// floor acc0 - max_acc_drop: R = log2(c) + (acc - acc0) - 5 * 100 * max(0, A - acc).
#include "search/agent-impl.h"
#include "search/config.h"

#include "qsearch/data.h"
#include "qsearch/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_L 16

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void die(const char *what, const struct qs_diag *diag) {
    fprintf(stderr, "bench-search-quality: %s: %s\n", what, diag ? diag->msg : "");
    exit(1);
}

struct table {
    int n_layers, n;
    int *correct;     // [n] over the subset
    double *bytes;    // [n]
    int samples;
};

// Evaluates every candidate (bit l of the index = layer l in int8) on samples
// [first, first + count) of ds.
static void build_table(qs_graph_t *g, const struct qs_dataset *ds, int64_t first,
                        int64_t count, struct table *t) {
    struct qs_diag diag;
    const char *names[MAX_L];
    for (int l = 0; l < t->n_layers; l++) {
        struct qs_layer_info info;
        if (qs_graph_layer_info(g, l, &info)) die("layer info", NULL);
        names[l] = info.name;
    }
    struct qs_calib_options co = qs_calib_options_default();
    qs_calib_t *cal;
    if (qs_calib_create(g, &co, &cal, &diag) || qs_calib_run_dataset(cal, ds, NULL, 1000, &diag))
        die("calibration", &diag);
    struct qs_quant_options qo = qs_quant_options_default();
    qs_quantizer_t *q;
    if (qs_quantizer_create(g, cal, &qo, &q, &diag)) die("quantizer", &diag);
    struct qs_layer_policy w8 = qs_layer_policy_default();
    w8.w_bits = w8.a_bits = 8;
    const int batch = 250;
    double t0 = now();
    for (int c = 0; c < t->n; c++) {
        qs_policy_t *p;
        if (qs_policy_create(&p)) die("policy", NULL);
        for (int l = 0; l < t->n_layers; l++)
            if ((c >> l) & 1)
                if (qs_policy_set(p, names[l], &w8, &diag)) die("policy", &diag);
        // An empty policy leaves every layer fp32 (NULL would mean all int8).
        if (qs_quantizer_apply(q, p, &diag)) die("apply", &diag);
        t->bytes[c] = (double)qs_quantizer_model_bytes(q);
        struct qs_session_options so = qs_session_options_default();
        so.batch = batch;
        qs_session_t *s;
        if (qs_session_create(g, &so, &s, &diag)) die("session", &diag);
        struct qs_tensor_info in;
        qs_session_input_info(s, 0, &in);
        int correct = 0;
        for (int64_t b = first; b < first + count; b += batch) {
            int64_t n = QS_MIN(batch, first + count - b);
            if (qs_dataset_fill(ds, 0, NULL, b, n, &in, qs_session_input_data(s, 0), &diag) ||
                qs_session_run(s, &diag))
                die("run", &diag);
            const float *y = qs_session_output_data(s, 0);
            for (int64_t i = 0; i < n; i++) {
                int best = 0;
                for (int k = 1; k < 10; k++)
                    if (y[i * 10 + k] > y[i * 10 + best]) best = k;
                correct += ((const int64_t *)ds->labels.data)[b + i] == best;
            }
        }
        t->correct[c] = correct;
        qs_session_destroy(s);
        qs_policy_destroy(p);
        if ((c + 1) % 256 == 0)
            fprintf(stderr, "  %d/%d candidates evaluated (%.1f s)\n", c + 1, t->n, now() - t0);
    }
    t->samples = (int)count;
    qs_quantizer_destroy(q);
    qs_calib_destroy(cal);
}

static bool load_table(const char *path, struct table *t) {
    FILE *f = fopen(path, "r");
    if (!f) return false;
    int n, L, samples;
    bool ok = fscanf(f, "# candidates %d layers %d samples %d\n", &n, &L, &samples) == 3 &&
              n == t->n && L == t->n_layers;
    for (int c = 0; ok && c < t->n; c++) {
        int idx;
        ok = fscanf(f, "%d,%d,%lf\n", &idx, &t->correct[c], &t->bytes[c]) == 3 && idx == c;
    }
    t->samples = samples;
    fclose(f);
    return ok;
}

static void save_table(const char *path, const struct table *t) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "# candidates %d layers %d samples %d\n", t->n, t->n_layers, t->samples);
    for (int c = 0; c < t->n; c++) fprintf(f, "%d,%d,%.0f\n", c, t->correct[c], t->bytes[c]);
    fclose(f);
}

struct run_result {
    double best;
    int best_at;   // evaluations when the best was first found
    int episodes;  // episodes run
    int evals;     // distinct candidates evaluated
};

// Runs agent `a` until it has evaluated `budget` distinct candidates (the search loop caches
// evaluated policies, so a repeated candidate costs no evaluation; search/loop.c), or
// `max_episodes` episodes. Each evaluation is a table lookup.
static struct run_result run_agent(qs_agent *a, const struct qs_space *s, const double *reward,
                                   int budget, int max_episodes) {
    struct run_result r = {-INFINITY, -1, 0, 0};
    int n = 1 << s->n_layers;
    char *seen = calloc((size_t)n, 1);
    struct qs_diag diag;
    for (int e = 0; e < max_episodes && r.evals < budget && !a->ops->exhausted(a); e++) {
        if (a->ops->episode_begin(a, e, &diag)) die("episode", &diag);
        float prev[QS_ACTION_DIM], act[QS_ACTION_DIM], st[QS_STATE_DIM];
        int c = 0;
        for (int l = 0; l < s->n_layers; l++) {
            qs__space_state(s, l, l ? prev : NULL, st);
            if (a->ops->act(a, l, st, act)) die("act", NULL);
            a->ops->taken(a, l, act);
            struct qs_layer_policy lp;
            qs__space_decode(s, l, act, &lp);
            if (lp.w_bits == 8) c |= 1 << l;
            memcpy(prev, act, sizeof prev);
        }
        if (!seen[c]) r.evals++;
        seen[c] = 1;
        r.episodes = e + 1;
        double obj[1] = {reward[c]};
        if (a->ops->episode_end(a, reward[c], obj, 1, &diag)) die("episode_end", &diag);
        if (reward[c] > r.best) {
            r.best = reward[c];
            r.best_at = r.evals;
        }
    }
    free(seen);
    return r;
}

int main(int argc, char **argv) {
    const char *data = QS_BENCH_DATA_DIR, *table_path = "search-quality-table.csv";
    const char *model = QS_SOURCE_DIR "/bench/search-quality/mlp11.onnx";
    int seeds = 10, warmup = -1, hidden = 300;
    double budget_frac = 0.1, max_acc_drop = 0.01, init_delta = 0.5, delta_decay = -1;
    double lr_actor = 1e-4, lr_critic = 1e-3;
    int replay = 0, episode_cap = 0, local_search = -1;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(argv[i], "--data")) data = v, i++;
        else if (!strcmp(argv[i], "--table")) table_path = v, i++;
        else if (!strcmp(argv[i], "--model")) model = v, i++;
        else if (!strcmp(argv[i], "--seeds")) seeds = atoi(v), i++;
        else if (!strcmp(argv[i], "--warmup")) warmup = atoi(v), i++;
        else if (!strcmp(argv[i], "--hidden")) hidden = atoi(v), i++;
        else if (!strcmp(argv[i], "--budget-frac")) budget_frac = atof(v), i++;
        else if (!strcmp(argv[i], "--max-acc-drop")) max_acc_drop = atof(v), i++;
        else if (!strcmp(argv[i], "--init-delta")) init_delta = atof(v), i++;
        else if (!strcmp(argv[i], "--delta-decay")) delta_decay = atof(v), i++;
        else if (!strcmp(argv[i], "--lr-actor")) lr_actor = atof(v), i++;
        else if (!strcmp(argv[i], "--replay")) replay = atoi(v), i++;
        else if (!strcmp(argv[i], "--max-episodes")) episode_cap = atoi(v), i++;
        else if (!strcmp(argv[i], "--lr-critic")) lr_critic = atof(v), i++;
        else if (!strcmp(argv[i], "--local-search")) local_search = atoi(v), i++;
        else {
            fprintf(stderr, "usage: %s [--data DIR] [--table FILE] [--model ONNX] [--seeds N] "
                    "[--warmup W] [--hidden H] [--budget-frac F] [--max-acc-drop D] "
                    "[--init-delta S] [--delta-decay D] [--lr-actor A] [--lr-critic C]\n"
                    "       [--replay EPISODES] [--max-episodes N] [--local-search 0|1]\n",
                    argv[0]);
            return 2;
        }
    }
    struct qs_diag diag;
    qs_graph_t *g;
    if (qs_graph_load_onnx(model, &g, &diag)) die("model", &diag);
    struct table t = {.n_layers = qs_graph_layer_count(g)};
    if (t.n_layers < 1 || t.n_layers > 12) die("model must have 1..12 layers", NULL);
    t.n = 1 << t.n_layers;
    t.correct = calloc((size_t)t.n, sizeof(int));
    t.bytes = calloc((size_t)t.n, sizeof(double));
    double t_table = 0;
    if (load_table(table_path, &t)) {
        printf("reward table: %s (cached; delete it to re-evaluate)\n", table_path);
    } else {
        char x[4096], y[4096];
        snprintf(x, sizeof x, "raw:%s/mnist-tiny-cnn/mnist_test_14x14_binarized.u8:uint8:"
                 "10000x196", data);
        snprintf(y, sizeof y, "%s/mnist-test/t10k-labels-idx1-ubyte.gz", data);
        const char *specs[1] = {x};
        struct qs_dataset ds;
        if (qs_dataset_load(&ds, specs, 1, y, &diag)) {
            printf("SKIP: data not found (%s)\n", diag.msg);
            return 77;
        }
        double t0 = now();
        build_table(g, &ds, 8000, 1000, &t);
        t_table = now() - t0;
        save_table(table_path, &t);
        printf("reward table: evaluated all %d candidates on 1,000 images in %.1f s -> %s\n",
               t.n, t_table, table_path);
        qs_dataset_free(&ds);
    }

    // Rewards.
    struct qs_search_config cfg;
    if (qs__config_defaults(&cfg)) die("config", NULL);
    cfg.reward_type = QS_REWARD_COMPRESS_FIRST;
    cfg.objective_keys = QS_OBJ_COMPRESS;
    cfg.acc_threshold = -1;
    cfg.max_acc_drop = max_acc_drop;
    double *reward = calloc((size_t)t.n, sizeof(double));
    struct qs_metrics base = {0};
    base.accuracy = (double)t.correct[0] / t.samples;
    base.compress_ratio = 1.0;
    int opt = 0, n_int8_all = t.n - 1;
    for (int c = 0; c < t.n; c++) {
        struct qs_metrics m = {0};
        m.accuracy = (double)t.correct[c] / t.samples;
        m.compress_ratio = t.bytes[0] / t.bytes[c];
        reward[c] = qs__reward(&cfg, &m, &base);
        if (reward[c] > reward[opt]) opt = c;
    }
    char formula[512];
    qs__reward_formula(&cfg, formula, sizeof formula);
    int better_than = 0;
    for (int c = 0; c < t.n; c++) better_than += reward[c] >= reward[opt] * (1 - 0.005);
    printf("model %s: %d layers, %d candidates; fp32 top-1 %.1f%%, all-int8 top-1 %.1f%% "
           "(compress %.2fx)\n", model, t.n_layers, t.n, 100.0 * t.correct[0] / t.samples,
           100.0 * t.correct[n_int8_all] / t.samples, t.bytes[0] / t.bytes[n_int8_all]);
    printf("reward: %s\n", formula);
    printf("exhaustive optimum: candidate 0x%03x, reward %.5f (top-1 %.1f%%, compress %.3fx); "
           "all-int8 reward %.5f; %d candidate(s) within 0.5%% of the optimum\n",
           opt, reward[opt], 100.0 * t.correct[opt] / t.samples, t.bytes[0] / t.bytes[opt],
           reward[n_int8_all], better_than);

    // Exhaustive agent over the table: it must find the same optimum in t.n evaluations.
    cfg.w_bits[0] = 8;
    cfg.w_bits[1] = 32;
    cfg.n_w_bits = 2;
    cfg.tie_bits = true;
    cfg.n_sparsity = 0;
    cfg.sparsity_continuous = false;
    cfg.skip_first_last = false;
    cfg.n_ignore = 0;
    struct qs_space *space;
    if (qs__space_create(&cfg, g, &space, &diag)) die("space", &diag);
    if (qs__space_size(space) != t.n) die("space size differs from the table", NULL);
    cfg.algorithm = QS_ALGO_EXHAUSTIVE;
    qs_agent *ex;
    if (qs__agent_create(&cfg, space, &ex, &diag)) die("exhaustive", &diag);
    struct run_result rex = run_agent(ex, space, reward, t.n, t.n + 1);
    ex->ops->destroy(ex);
    printf("exhaustive agent: best %.5f after %d evaluations in %d episodes\n", rex.best,
           rex.evals, rex.episodes);

    int budget = (int)(budget_frac * t.n);
    int max_episodes = episode_cap > 0 ? episode_cap : 5 * budget;
    cfg.hidden1 = cfg.hidden2 = hidden;
    cfg.num_warmup = warmup >= 0 ? warmup : cfg.num_warmup;
    cfg.init_delta = init_delta;
    cfg.lr_actor = lr_actor;
    cfg.replay_size = replay * (t.n_layers + 1);
    cfg.lr_critic = lr_critic;
    if (local_search >= 0) cfg.local_search = local_search != 0;  // else the config default
    // NNCF sets delta_decay from the episode count ([0.960, 0.960, 0.980, ...][episodes // 100]).
    static const double nncf_decay[] = {0.960, 0.960, 0.980, 0.987, 0.992,
                                        0.993, 0.995, 0.995, 0.996, 0.996};
    cfg.delta_decay = delta_decay > 0 ? delta_decay
                                      : nncf_decay[QS_MIN(budget / 100, 9)];
    printf("budget %d evaluations (%.0f%% of %d); DDPG: hidden %d/%d, warm-up %d, batch %d, "
           "lr %g/%g, tau %g, sigma0 %g, decay %g, replay %d episodes, local search %s\n",
           budget, 100 * budget_frac, t.n, cfg.hidden1, cfg.hidden2, cfg.num_warmup,
           cfg.ddpg_batch, cfg.lr_actor, cfg.lr_critic, cfg.tau, cfg.init_delta,
           cfg.delta_decay, cfg.replay_size > 0 ? cfg.replay_size / (t.n_layers + 1)
                                                 : cfg.num_warmup,
           cfg.local_search ? "on" : "off");
    printf("episodes stop at %d evaluations (distinct candidates) or %d episodes\n", budget,
           max_episodes);
    printf("\n| seed | DDPG best | gap %% | found at eval | evals | episodes | random best | "
           "gap %% | DDPG wins | evolution best | gap %% |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|\n");
    int wins = 0, within = 0, rwithin = 0, ewithin = 0;
    double sum_gap = 0, sum_rgap = 0, t_ddpg = 0;
    for (int seed = 1; seed <= seeds; seed++) {
        cfg.seed = (uint64_t)seed;
        qs_agent *d, *r;
        cfg.algorithm = QS_ALGO_DDPG;
        if (qs__agent_create(&cfg, space, &d, &diag)) die("ddpg", &diag);
        cfg.algorithm = QS_ALGO_RANDOM;
        if (qs__agent_create(&cfg, space, &r, &diag)) die("random", &diag);
        qs_agent *ev;
        cfg.algorithm = QS_ALGO_EVOLUTION;
        if (qs__agent_create(&cfg, space, &ev, &diag)) die("evolution", &diag);
        struct run_result re = run_agent(ev, space, reward, budget, max_episodes);
        double ge = 100 * (reward[opt] - re.best) / fabs(reward[opt]);
        ewithin += ge <= 0.5;
        ev->ops->destroy(ev);
        double t0 = now();
        struct run_result rd = run_agent(d, space, reward, budget, max_episodes);
        t_ddpg += now() - t0;
        struct run_result rr = run_agent(r, space, reward, budget, max_episodes);
        if (getenv("QS_BENCH_VERBOSE")) {  // the actor's means after the run (sigma ~ 0)
            d->ops->episode_begin(d, 1000000, &diag);
            float prev[QS_ACTION_DIM], act[QS_ACTION_DIM], st[QS_STATE_DIM];
            fprintf(stderr, "seed %d actor:", seed);
            for (int l = 0; l < space->n_layers; l++) {
                qs__space_state(space, l, l ? prev : NULL, st);
                d->ops->act(d, l, st, act);
                fprintf(stderr, " %.2f", act[0]);
                memcpy(prev, act, sizeof prev);
            }
            fprintf(stderr, "\n");
        }
        double gd = 100 * (reward[opt] - rd.best) / fabs(reward[opt]);
        double gr = 100 * (reward[opt] - rr.best) / fabs(reward[opt]);
        bool win = rd.best > rr.best;
        wins += win;
        within += gd <= 0.5;
        rwithin += gr <= 0.5;
        sum_gap += gd;
        sum_rgap += gr;
        printf("| %d | %.5f | %.3f | %d | %d | %d | %.5f | %.3f | %s | %.5f | %.3f |\n", seed,
               rd.best, gd, rd.best_at, rd.evals, rd.episodes, rr.best, gr,
               win ? "yes" : rd.best == rr.best ? "tie" : "no", re.best, ge);
        d->ops->destroy(d);
        r->ops->destroy(r);
    }
    printf("\nexhaustive optimum %.5f (%d evaluations); DDPG within 0.5%% on %d/%d seeds "
           "(mean gap %.3f%%), random on %d/%d (mean gap %.3f%%); DDPG beats random on %d/%d "
           "seeds; at most %d evaluations each (%.1f%% of exhaustive); DDPG time %.1f s/seed\n",
           reward[opt], t.n, within, seeds, sum_gap / seeds, rwithin, seeds, sum_rgap / seeds,
           wins, seeds, budget, 100.0 * budget / t.n, t_ddpg / seeds);
    printf("evolution (NSGA-II on the reward, population %d): within 0.5%% on %d/%d seeds\n",
           cfg.population > 1 ? cfg.population : 20, ewithin, seeds);
    int need = (8 * seeds + 9) / 10;
    printf("goal, strict (DDPG within 0.5%% on every seed, beats random on >= 8/10): %s\n",
           within == seeds && wins >= need ? "MET" : "NOT MET");
    printf("goal, per-seed majority (within 0.5%% and beats random, each on >= 8/10): %s\n",
           within >= need && wins >= need ? "MET" : "NOT MET");
    qs__space_destroy(space);
    qs__config_free(&cfg);
    qs_graph_destroy(g);
    free(reward);
    free(t.correct);
    free(t.bytes);
    return 0;
}
