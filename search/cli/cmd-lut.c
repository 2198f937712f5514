// `qsearch lut build` and `qsearch lut validate`: latency tables measured on this machine,
// and their whole-model sums checked against measured runs.
#include "cli.h"

#include "qsearch/ir.h"
#include "qsearch/lut.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LIST 32
#define MAX_MODELS 64

static bool parse_floats(const char *s, float *out, int *n, const char *what) {
    *n = 0;
    while (s && *s) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || errno || !isfinite(v) || (*end && *end != ',') || *n == MAX_LIST) {
            cli_error(CLI_EXIT_USAGE, "%s: expected comma-separated numbers, got '%s'", what, s);
            return false;
        }
        out[(*n)++] = (float)v;
        s = *end ? end + 1 : end;
    }
    if (!*n) cli_error(CLI_EXIT_USAGE, "%s: empty list", what);
    return *n > 0;
}

// --- Progress bar (a terminal only) ---------------------------------------------------------

typedef struct {
    double t0;
    bool on;
} progress;

static void on_progress(void *user, int done, int total, const char *what) {
    progress *p = user;
    if (!p->on) return;
    double el = cli_now() - p->t0, eta = done > 0 ? el / done * (total - done) : 0;
    int w = 30, fill = total > 0 ? done * w / total : w;
    fprintf(stderr, "\r[%.*s%*s] %d/%d  %4.0fs elapsed, ETA %4.0fs  %-40.40s", fill,
            "##############################", w - fill, "", done, total, el, eta, what);
    if (done == total) fputc('\n', stderr);
    fflush(stderr);
}

static int collect_models(const struct cli_args *a, char **models, int *n, char *storage,
                          size_t storage_size) {
    *n = 0;
    for (int i = 0; i < a->lut_models.n && *n < MAX_MODELS; i++)
        models[(*n)++] = (char *)a->lut_models.v[i];
    if (!a->lut_grid) return CLI_EXIT_OK;
    FILE *f = fopen(a->lut_grid, "r");
    if (!f) return cli_error(CLI_EXIT_USAGE, "%s: cannot open: %s", a->lut_grid, strerror(errno));
    char line[4096];
    size_t used = 0;
    int ln = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        line[strcspn(line, "\r\n")] = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || *p == '#') continue;
        size_t len = strlen(p);
        if (*n == MAX_MODELS || used + len + 1 > storage_size) {
            fclose(f);
            return cli_error(CLI_EXIT_USAGE, "%s:%d: too many models (at most %d)", a->lut_grid,
                             ln, MAX_MODELS);
        }
        if (access(p, R_OK) != 0) {
            fclose(f);
            return cli_error(CLI_EXIT_USAGE, "%s:%d: cannot read model '%s'", a->lut_grid, ln, p);
        }
        memcpy(storage + used, p, len + 1);
        models[(*n)++] = storage + used;
        used += len + 1;
    }
    fclose(f);
    return CLI_EXIT_OK;
}

static int cmd_build(const struct cli_args *a) {
    int bits[MAX_LIST], nb = 0;
    float bf[MAX_LIST], sp[MAX_LIST];
    int ns = 0;
    if (!parse_floats(a->lut_bits, bf, &nb, "--bits") ||
        !parse_floats(a->lut_sparsity, sp, &ns, "--sparsity"))
        return CLI_EXIT_USAGE;
    for (int i = 0; i < nb; i++) bits[i] = (int)bf[i];
    char *models[MAX_MODELS];
    int nm = 0;
    static char storage[1 << 16];
    int code = collect_models(a, models, &nm, storage, sizeof storage);
    if (code) return code;
    if (!nm) return cli_error(CLI_EXIT_USAGE, "lut build: no model given (--model or --grid)");
    struct qs_lut_build_options o = qs_lut_build_options_default();
    o.target = a->target;
    o.threads = a->threads > 0 ? (int)a->threads : 1;
    o.repeats = (int)a->lut_repeats;
    o.bits = bits;
    o.n_bits = nb;
    o.sparsity = sp;
    o.n_sparsity = ns;
    o.pattern = a->lut_pattern;
    o.mixed = (int)a->lut_mixed;
    progress pr = {cli_now(), !a->quiet && isatty(2)};
    o.progress = on_progress;
    o.progress_user = &pr;
    struct qs_diag diag = {{0}};
    enum qs_status st = qs_lut_build((const char *const *)models, nm, &o, a->out, &diag);
    if (st != QS_STATUS_OK) return cli_fail(st, &diag, NULL);
    qs_lut_t *lut;
    if ((st = qs_lut_load(a->out, &lut, &diag)) != QS_STATUS_OK) return cli_fail(st, &diag, a->out);
    const struct qs_lut_hw *hw = qs_lut_descriptor(lut);
    printf("table     %s\n", a->out);
    printf("machine   %s, %s (%s), %d threads\n", hw->cpu_model, hw->arch, hw->isa, hw->threads);
    printf("entries   %d (%d models, %.0f s)\n", qs_lut_entry_count(lut), nm, cli_now() - pr.t0);
    qs_lut_destroy(lut);
    return CLI_EXIT_OK;
}

// --- validate -------------------------------------------------------------------------------

typedef struct {
    char op[48];
    double abs_err_sum, meas_sum;
    int n;
} op_err;

typedef struct {
    const struct cli_args *a;
    bool print_nodes;
    op_err ops[64];
    int n_ops;
    int unmatched;
} node_ctx;

static void on_node(void *user, const char *node, const char *key, double meas, double pred,
                    bool miss) {
    node_ctx *c = user;
    char op[48];
    snprintf(op, sizeof op, "%.*s", (int)strcspn(key, ","), key);
    if (meas < 0 || pred < 0) c->unmatched++;
    if (c->print_nodes)
        printf("  %-40.40s %-22.22s %9.4f %9.4f %+7.1f%%%s\n", node, op, meas < 0 ? NAN : meas,
               pred < 0 ? NAN : pred, meas > 0 && pred >= 0 ? 100.0 * (pred - meas) / meas : NAN,
               miss ? "  (estimated)" : "");
    if (meas < 0 || pred < 0) return;
    op_err *e = NULL;
    for (int i = 0; i < c->n_ops && !e; i++)
        if (!strcmp(c->ops[i].op, op)) e = &c->ops[i];
    if (!e && c->n_ops < 64) {
        e = &c->ops[c->n_ops++];
        memset(e, 0, sizeof *e);
        snprintf(e->op, sizeof e->op, "%s", op);
    }
    if (!e) return;
    e->abs_err_sum += fabs(pred - meas);
    e->meas_sum += meas;
    e->n++;
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = (*s += 0x9E3779B97F4A7C15ull);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static int cmp_d(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static void summarize(const char *what, double *errs, int n) {
    qsort(errs, (size_t)n, sizeof *errs, cmp_d);
    int w5 = 0, w10 = 0;
    for (int i = 0; i < n; i++) {
        w5 += errs[i] <= 0.05;
        w10 += errs[i] <= 0.10;
    }
    printf("summary (%s): %d candidates, |error| median %.2f%%, p90 %.2f%%, max %.2f%%; "
           "within 5%%: %.1f%%, within 10%%: %.1f%%\n", what, n, 100 * errs[n / 2],
           100 * errs[(int)ceil(0.9 * (n - 1))], 100 * errs[n - 1], 100.0 * w5 / n,
           100.0 * w10 / n);
}

// Median over the rounds of candidate k of its measured median (which 0), p10 (1) or p90 (2).
static double round_median(const struct qs_lut_measurement *res, int k, int rounds, int which) {
    double v[64];
    int n = 0;
    for (int r = 0; r < rounds && n < 64; r++) {
        const struct qs_lut_measurement *m = &res[(size_t)k * (size_t)rounds + (size_t)r];
        v[n++] = which == 0 ? m->measured_ms : which == 1 ? m->p10_ms : m->p90_ms;
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    if (n == 0) return 0.0;
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int cmd_validate(const struct cli_args *a) {
    struct qs_diag diag = {{0}};
    qs_lut_t *lut = NULL;
    enum qs_status st = qs_lut_load(a->lut, &lut, &diag);
    if (st) return cli_fail(st, &diag, a->lut);
    if ((st = qs_lut_check_host(lut, a->lut_force, &diag)) != QS_STATUS_OK) {
        qs_lut_destroy(lut);
        return cli_fail(st, &diag, a->lut);
    }
    float sp[MAX_LIST];
    int ns = 0;
    if (!parse_floats(a->lut_sparsity, sp, &ns, "--sparsity")) {
        qs_lut_destroy(lut);
        return CLI_EXIT_USAGE;
    }
    qs_policy_t *fixed = NULL;
    if (a->policy && (st = qs_policy_load(a->policy, &fixed, &diag)) != QS_STATUS_OK) {
        qs_lut_destroy(lut);
        return cli_fail(st, &diag, a->policy);
    }
    FILE *csv = NULL;
    if (a->out && !(csv = fopen(a->out, "w"))) {
        qs_policy_destroy(fixed);
        qs_lut_destroy(lut);
        return cli_error(CLI_EXIT_FAILURE, "%s: cannot write: %s", a->out, strerror(errno));
    }
    if (csv) fprintf(csv, "model,candidate,measured_ms,p10_ms,p90_ms,predicted_ms,predicted_p10_ms,"
                      "error,error_p10,lookups,misses\n");
    int code = CLI_EXIT_OK;
    int n_cand = a->lut_random > 0 ? (int)a->lut_random : 1;
    double *errs = malloc(sizeof(double) * ((size_t)n_cand * (size_t)a->lut_models.n + 1));
    double *errs10 = malloc(sizeof(double) * ((size_t)n_cand * (size_t)a->lut_models.n + 1));
    if (!errs || !errs10) code = cli_error(CLI_EXIT_FAILURE, "out of memory");
    int n_err = 0;
    for (int mi = 0; mi < a->lut_models.n && code == CLI_EXIT_OK; mi++) {
        const char *path = a->lut_models.v[mi];
        qs_lut_model_t *m = NULL;
        if ((st = qs_lut_model_open(path, qs_lut_batch(lut), qs_lut_descriptor(lut)->threads, &m,
                                    &diag)) != QS_STATUS_OK) {
            code = cli_fail(st, &diag, path);
            break;
        }
        const qs_graph_t *g = qs_lut_model_graph(m);
        if (fixed && (st = qs_policy_check(fixed, g, &diag)) != QS_STATUS_OK) {
            code = cli_fail(st, &diag, a->policy);
            qs_lut_model_close(m);
            break;
        }
        node_ctx nc = {.a = a, .print_nodes = a->lut_random == 0 || a->verbose};
        {
            // What one estimate costs the search (it runs once per candidate).
            struct qs_lut_estimate e;
            int calls = 0;
            double t0 = cli_now(), t1 = t0;
            while (calls < 1000 && t1 - t0 < 0.2) {
                if ((st = qs_lut_model_cost(lut, g, fixed, 0, &e, &diag)) != QS_STATUS_OK) break;
                calls++;
                t1 = cli_now();
            }
            if (st != QS_STATUS_OK) {
                code = cli_fail(st, &diag, path);
                qs_lut_model_close(m);
                break;
            }
            printf("  qs_lut_model_cost: %.1f us per call (%d nodes looked up, %d estimated)\n",
                   1e6 * (t1 - t0) / calls, e.lookups, e.misses);
        }
        printf("model %s (%d layers), table %s\n", path, qs_graph_layer_count(g), a->lut);
        // Every candidate first (the same draws as one at a time), then the measurements:
        // round r measures candidates 0..n-1 in turn; a candidate's result is the median of
        // its rounds.
        const int rounds = (int)a->lut_rounds;
        qs_policy_t **pols = calloc((size_t)n_cand, sizeof *pols);
        struct qs_lut_measurement *res = calloc((size_t)n_cand * (size_t)rounds, sizeof *res);
        if (!pols || !res) code = cli_error(CLI_EXIT_FAILURE, "out of memory");
        uint64_t seed = 0x5EED + (uint64_t)mi;
        for (int k = 0; k < n_cand && code == CLI_EXIT_OK; k++) {
            pols[k] = fixed;
            if (a->lut_random <= 0) continue;
            if (qs_policy_create(&pols[k]) != QS_STATUS_OK) {
                code = cli_error(CLI_EXIT_FAILURE, "out of memory");
                break;
            }
            for (int l = 0; l < qs_graph_layer_count(g); l++) {
                struct qs_layer_info li;
                qs_graph_layer_info(g, l, &li);
                struct qs_layer_policy lp = qs_layer_policy_default();
                lp.w_bits = rng_next(&seed) & 1 ? 8 : 32;
                lp.a_bits = rng_next(&seed) & 1 ? 8 : 32;
                lp.sparsity = sp[rng_next(&seed) % (uint64_t)ns];
                snprintf(lp.pattern, sizeof lp.pattern, "%s", a->lut_pattern);
                qs_policy_set(pols[k], li.name, &lp, NULL);
            }
        }
        for (int rd = 0; rd < rounds && code == CLI_EXIT_OK; rd++)
            for (int k = 0; k < n_cand && code == CLI_EXIT_OK; k++) {
                // Per-node errors from the last round only (one sample set per node).
                const bool last = rd == rounds - 1;
                if (last && nc.print_nodes)
                    printf("  %-40s %-22s %9s %9s %8s\n", "node", "op", "meas ms", "table ms",
                           "error");
                struct qs_lut_measurement *r = &res[(size_t)k * (size_t)rounds + (size_t)rd];
                st = qs_lut_validate_policy(lut, m, pols[k], (int)a->lut_repeats,
                                            last ? on_node : NULL, &nc, r, &diag);
                if (st != QS_STATUS_OK) {
                    code = cli_fail(st, &diag, path);
                    break;
                }
                if (!last) continue;
                struct qs_lut_measurement rm = *r;
                rm.measured_ms = round_median(res, k, rounds, 0);
                rm.p10_ms = round_median(res, k, rounds, 1);
                rm.p90_ms = round_median(res, k, rounds, 2);
                rm.runs = rounds * r->runs;
                double err = (rm.predicted_ms - rm.measured_ms) / rm.measured_ms;
                double err10 = (rm.predicted_p10_ms - rm.p10_ms) / rm.p10_ms;
                errs[n_err] = fabs(err);
                errs10[n_err++] = fabs(err10);
                printf("  candidate %3d: measured %8.4f ms (p10 %.4f, p90 %.4f)  table %8.4f ms "
                       "(p10 %.4f)  error %+6.2f%% (p10 %+6.2f%%)  %d lookups, %d estimated\n",
                       k, rm.measured_ms, rm.p10_ms, rm.p90_ms, rm.predicted_ms,
                       rm.predicted_p10_ms, 100.0 * err, 100.0 * err10, rm.lookups, rm.misses);
                if (csv)
                    fprintf(csv, "%s,%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%d,%d\n", path, k,
                            rm.measured_ms, rm.p10_ms, rm.p90_ms, rm.predicted_ms,
                            rm.predicted_p10_ms, err, err10, rm.lookups, rm.misses);
                fflush(stdout);
            }
        for (int k = 0; pols && k < n_cand; k++)
            if (pols[k] != fixed) qs_policy_destroy(pols[k]);
        free(pols);
        free(res);
        if (code == CLI_EXIT_OK) {
            printf("  per-node error by op (sum |table - measured| / sum measured):\n");
            for (int i = 0; i < nc.n_ops; i++)
                printf("    %-26s %6d nodes  %6.2f%%\n", nc.ops[i].op, nc.ops[i].n,
                       nc.ops[i].meas_sum > 0 ? 100.0 * nc.ops[i].abs_err_sum / nc.ops[i].meas_sum
                                              : 0.0);
            if (nc.unmatched)
                printf("    %d nodes ran or were predicted on one side only\n", nc.unmatched);
        }
        qs_lut_model_close(m);
    }
    if (code == CLI_EXIT_OK && n_err > 0) {
        summarize("median", errs, n_err);
        summarize("p10", errs10, n_err);
    }
    free(errs);
    free(errs10);
    if (csv && fclose(csv) != 0 && code == CLI_EXIT_OK)
        code = cli_error(CLI_EXIT_FAILURE, "%s: write error", a->out);
    qs_policy_destroy(fixed);
    qs_lut_destroy(lut);
    return code;
}

int cli_cmd_lut(const struct cli_args *a) {
    return !strcmp(a->model, "build") ? cmd_build(a) : cmd_validate(a);
}
