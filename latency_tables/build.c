// `qsearch lut build`: measures every node the executor runs for a grid of candidate
// policies (uniform precisions, random mixed ones) at every sparsity level, with the real
// executor and per-node profiling, and writes the table after each configuration so that an
// interrupted build resumes where it stopped.
#include "latency_tables/measure.h"

#include <math.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

struct qs_lut_build_options qs_lut_build_options_default(void) {
    static const int bits[] = {8, 32};
    static const float sparsity[] = {0.0f};
    struct qs_lut_build_options o = {
        .struct_size = sizeof o,
        .target = NULL,
        .threads = 1,
        .repeats = 50,
        .warmup = 5,
        .batch = 1,
        .bits = bits,
        .n_bits = 2,
        .sparsity = sparsity,
        .n_sparsity = 1,
        .pattern = "unstructured",
        .mixed = 4,
        .seed = 1,
    };
    return o;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static uint64_t mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static uint64_t hash_s(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

// Policy `k` of a model: k < n_bits^2 uniform (w, a) pairs, then random mixed ones.
static enum qs_status make_policy(const qs_graph_t *g, const struct qs_lut_build_options *o,
                                  const char *model, int k, float sparsity, qs_policy_t **out,
                                  char *name, size_t name_size, struct qs_diag *diag) {
    int nb = o->n_bits, combos = nb * nb;
    qs_policy_t *p;
    enum qs_status st = qs_policy_create(&p);
    if (st) return qs__diag(diag, st, "out of memory");
    uint64_t r = mix64(o->seed ^ hash_s(model) ^ (uint64_t)k * 0x100000001b3ull);
    if (k < combos)
        snprintf(name, name_size, "w%da%d", o->bits[k / nb], o->bits[k % nb]);
    else
        snprintf(name, name_size, "mixed%d", k - combos);
    for (int l = 0; l < qs_graph_layer_count(g); l++) {
        struct qs_layer_info li;
        if ((st = qs_graph_layer_info(g, l, &li)) != QS_STATUS_OK) break;
        int c = k;
        if (k >= combos) {
            r = mix64(r);
            c = (int)(r % (uint64_t)combos);
        }
        struct qs_layer_policy lp = qs_layer_policy_default();
        lp.w_bits = o->bits[c / nb];
        lp.a_bits = o->bits[c % nb];
        lp.sparsity = sparsity;
        snprintf(lp.pattern, sizeof lp.pattern, "%s", o->pattern);
        if ((st = qs_policy_set(p, li.name, &lp, diag)) != QS_STATUS_OK) break;
    }
    if (st) {
        qs_policy_destroy(p);
        return st;
    }
    *out = p;
    return QS_STATUS_OK;
}

static char *settings_string(const struct qs_lut_build_options *o, const char *target) {
    char buf[1024];
    size_t n = (size_t)snprintf(buf, sizeof buf,
                                "target=%s batch=%d threads=%d repeats=%d warmup=%d mixed=%d "
                                "seed=%llu pattern=%s runs=all bits=", target, o->batch, o->threads,
                                o->repeats, o->warmup, o->mixed, (unsigned long long)o->seed,
                                o->pattern);
    for (int i = 0; i < o->n_bits && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%d", i ? "," : "", o->bits[i]);
    return qs__strdup(buf);
}

// What a configuration's runs add to the sum of its nodes (the job record).
typedef struct {
    double residual_ms, sum_ms, residual_p10_ms, sum_p10_ms;
    int n_exec;
} job_result;

// Measures one configuration and adds its points to the table.
static enum qs_status measure_job(qs_lut_t *lut, qs_lut_model_t *m, const qs_policy_t *policy,
                                  bool fuse_add, float sparsity,
                                  const struct qs_lut_build_options *o, int64_t timer,
                                  job_result *res, struct qs_diag *diag) {
    qs_quantizer_t *q = NULL;
    qs_session_t *s = NULL;
    enum qs_status st = qs__lut_model_session(m, policy, fuse_add, &q, &s, diag);
    if (st) return st;
    int n = qs_session_exec_count(s), R = o->repeats;
    int64_t *totals = qs__malloc(sizeof(int64_t) * (size_t)R);
    int64_t *ns = qs__malloc(sizeof(int64_t) * (size_t)R * (size_t)QS_MAX(n, 1));
    int64_t *pool = qs__malloc(sizeof(int64_t) * (size_t)R * (size_t)QS_MAX(n, 1));
    char (*keys)[LUT_KEY_MAX] = qs__malloc(sizeof *keys * (size_t)QS_MAX(n, 1));
    bool *done = qs__calloc((size_t)QS_MAX(n, 1), sizeof(bool));
    struct qs_prof_node *info = qs__malloc(sizeof *info * (size_t)QS_MAX(n, 1));
    if (!totals || !ns || !pool || !keys || !done || !info) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
        goto out;
    }
    for (int e = 0; e < n; e++) {
        qs_session_exec_info(s, e, &info[e]);
        qs__lut_key_of(&info[e], o->pattern, keys[e], LUT_KEY_MAX);
    }
    if ((st = qs__lut_time_session(s, o->warmup, R, totals, ns, timer, diag)) != QS_STATUS_OK)
        goto out;
    // Every run counts. (Keeping only the pairs whose plain run was in the faster half, as
    // the first tables did, selects the runs whose nodes happened to be fast: it made the
    // entries 1-2% lower than the nodes' medians and, with the residual measured on the
    // same faster half, whole-model sums 3-4% lower than the median of whole runs for
    // ResNet-56 and SqueezeNet. The estimate is compared with that median.)
    double sum = 0, sum10 = 0;
    for (int e = 0; e < n; e++) {
        if (done[e]) continue;
        // Nodes with the same key (ResNet repeats identical blocks) share one entry: the
        // mean of their medians, since the estimate adds the entry once per node (an op
        // whose time depends on the data, such as Erf, differs between occurrences), and
        // p10/p90 of their pooled samples.
        int cnt = 0, occ = 0;
        double mean = 0, mean10 = 0;
        for (int f = e; f < n; f++) {
            if (done[f] || strcmp(keys[f], keys[e]) != 0) continue;
            done[f] = true;
            occ++;
            int c0 = cnt;
            for (int r = 0; r < R; r++) pool[cnt++] = ns[(size_t)r * (size_t)n + (size_t)f];
            double m1, a, b;
            qs__lut_stats(pool + c0, cnt - c0, &m1, &a, &b);  // sorts only this node's part
            mean += m1;
            mean10 += a;
        }
        lut_point pt = {0};
        qs__lut_stats(pool, cnt, &pt.ms, &pt.p10, &pt.p90);
        pt.ms = mean / occ;
        pt.p10 = fmin(pt.p10, pt.ms);
        pt.p90 = fmax(pt.p90, pt.ms);
        pt.runs = cnt;
        pt.sparsity = info[e].layer >= 0 ? sparsity : 0.0f;
        pt.w_bits = info[e].w_bits;
        pt.a_bits = info[e].a_bits;
        sum += pt.ms * occ;
        sum10 += mean10;
        if ((st = qs__lut_add(lut, keys[e], &pt)) != QS_STATUS_OK) {
            qs__diag(diag, st, "out of memory");
            goto out;
        }
    }
    // What a whole run adds to the sum of its nodes (the loop, the first node's cold start,
    // and the interruptions a longer run meets: bench/lut/README.md): the median (p10) of
    // the plain runs minus the sum of the nodes' medians (p10s). Runs that lost a time
    // slice to another process (longer than the sum by over 10% + 0.25 ms: interrupts cost
    // tens of microseconds, a slice milliseconds) are left out when enough others remain:
    // that is the load of the moment, not the machine, and a build under load would
    // otherwise teach the table to add it to every long run. (Differences of paired runs
    // are no good on a busy machine: a profiled run preempted once adds milliseconds to
    // one node.)
    int np = 0;
    for (int r = 0; r < R; r++)
        if ((double)totals[r] * 1e-6 <= 1.1 * sum + 0.25) pool[np++] = totals[r];
    if (np < QS_MIN(R, 5)) {
        memcpy(pool, totals, sizeof(int64_t) * (size_t)R);
        np = R;
    }
    double med, p10, p90;
    qs__lut_stats(pool, np, &med, &p10, &p90);
    res->residual_ms = med - sum;
    res->sum_ms = sum;
    res->residual_p10_ms = p10 - sum10;
    res->sum_p10_ms = sum10;
    res->n_exec = n;
out:
    qs__free(totals);
    qs__free(ns);
    qs__free(pool);
    qs__free(keys);
    qs__free(done);
    qs__free(info);
    qs_session_destroy(s);
    qs_quantizer_destroy(q);
    return st;
}

enum qs_status qs_lut_build(const char *const *models, int n_models,
                            const struct qs_lut_build_options *opt, const char *out_path,
                            struct qs_diag *diag) {
    struct qs_lut_build_options o = opt ? *opt : qs_lut_build_options_default();
    if (!o.target) o.target = qs__lut_native_target();
    if (n_models < 1 || !out_path || o.repeats < 1 || o.warmup < 0 || o.threads < 1 ||
        o.batch < 1 || o.n_bits < 1 || o.n_sparsity < 1 || o.mixed < 0 || !o.pattern)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "lut build: bad options");
    for (int i = 0; i < o.n_bits; i++)
        if (o.bits[i] != 8 && o.bits[i] != 32)
            return qs__diag(diag, QS_STATUS_INVALID_ARG, "--bits: %d is not 8 or 32", o.bits[i]);
    for (int i = 0; i < o.n_sparsity; i++)
        if (!(o.sparsity[i] >= 0.0f && o.sparsity[i] <= 0.95f))
            return qs__diag(diag, QS_STATUS_INVALID_ARG, "--sparsity: %g is outside [0, 0.95]",
                            (double)o.sparsity[i]);
    if (!strcmp(o.target, "cuda"))
        return qs__lut_build_cuda(models, n_models, &o, out_path, diag);
    struct qs_lut_hw hw;
    enum qs_status st = qs_lut_host_descriptor(o.target, o.threads, &hw, diag);
    if (st) return st;
    char *settings = settings_string(&o, o.target);
    if (!settings) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    qs_lut_t *lut = NULL;
    if (access(out_path, F_OK) == 0) {
        // Resume: same settings and machine, or refuse (the user deletes the file).
        if ((st = qs_lut_load(out_path, &lut, diag)) != QS_STATUS_OK) {
            qs__diag_prefix(diag, "cannot resume: ");
            goto done;
        }
        if (!lut->settings || strcmp(lut->settings, settings) != 0 ||
            qs_lut_check_host(lut, false, NULL) != QS_STATUS_OK) {
            st = qs__diag(diag, QS_STATUS_INVALID_STATE,
                          "%s exists and was measured with other settings or on another "
                          "machine (%s); remove it or choose another -o", out_path,
                          lut->settings ? lut->settings : "no settings");
            goto done;
        }
        qs__log(QS_LOG_INFO, "%s: resuming (%d configurations done)", out_path, lut->n_jobs);
    } else {
        if ((st = qs__lut_create(&lut)) != QS_STATUS_OK) {
            qs__diag(diag, st, "out of memory");
            goto done;
        }
        lut->settings = settings;
        settings = NULL;
    }
    lut->hw = hw;
    lut->batch = o.batch;
    lut->threads = o.threads;
    lut->repeats = o.repeats;
    lut->warmup = o.warmup;
    snprintf(lut->pattern, sizeof lut->pattern, "%s", o.pattern);
    {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(lut->created, sizeof lut->created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    lut->complete = false;
    int per_model = o.n_bits * o.n_bits + o.mixed;
    // Plus one job per model: its fp32 policy at the first sparsity level with the residual
    // Add fusion off. Sessions fuse every fp32 Conv + Add, so the fp32 Add and Relu of a
    // block whose Conv is int8 (the Add stays fp32 when its other operand is fp32) are
    // otherwise measured only when a random mixed policy happens to make one.
    const int grid = n_models * o.n_sparsity * per_model;
    int total = grid + n_models, done_jobs = 0;
    int64_t timer = qs__lut_timer_overhead_ns();
    unsigned char mask[1024];
    bool pinned = qs__lut_pin(mask, sizeof mask);
    // Configurations are measured in a shuffled order (seeded), not model by model: the
    // machine's speed wanders by a few percent over tens of seconds when other work shares
    // it, so a key measured in configurations spread over the whole build, and the
    // residual of runs of each length, take the median over that time rather than one
    // model's (or one policy's) moment of it.
    qs_lut_model_t **open = qs__calloc((size_t)n_models, sizeof *open);
    int *order = qs__malloc(sizeof(int) * (size_t)QS_MAX(total, 1));
    if (!open || !order) st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    for (int mi = 0; mi < n_models && st == QS_STATUS_OK; mi++)
        if ((st = qs__lut_add_model(lut, base_name(models[mi]))) != QS_STATUS_OK)
            qs__diag(diag, st, "out of memory");
    uint64_t shuffle = mix64(o.seed ^ 0x5AFE);
    for (int i = 0; order && i < total; i++) {
        order[i] = i;
        shuffle = mix64(shuffle);
        int j = (int)(shuffle % (uint64_t)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int oi = 0; oi < total && st == QS_STATUS_OK; oi++) {
        const bool unfused = order[oi] >= grid;
        int k = order[oi] % per_model, si = order[oi] / per_model % o.n_sparsity;
        int mi = order[oi] / per_model / o.n_sparsity;
        if (unfused) {
            mi = order[oi] - grid;
            si = 0;
            k = 0;
            for (int b = 0; b < o.n_bits * o.n_bits; b++)  // the w32a32 policy
                if (o.bits[b / o.n_bits] == 32 && o.bits[b % o.n_bits] == 32) k = b;
        }
        const char *mname = base_name(models[mi]);
        char pname[32], job[512];
        qs_policy_t *p = NULL;
        qs_lut_model_t **m = &open[mi];
        if (!*m && (st = qs_lut_model_open(models[mi], o.batch, o.threads, m, diag)))
            break;
        if ((st = make_policy(qs_lut_model_graph(*m), &o, mname, k, o.sparsity[si], &p,
                              pname, sizeof pname, diag)))
            break;
        snprintf(job, sizeof job, "%s s=%g %s%s", mname, (double)o.sparsity[si], pname,
                 unfused ? " unfused" : "");
        if (!qs__lut_has_job(lut, job)) {
            job_result jr = {0};
            st = measure_job(lut, *m, p, !unfused, o.sparsity[si], &o, timer, &jr, diag);
            if (st == QS_STATUS_OK) {
                // The job record keeps its node count, residuals and sums for the
                // fit of the per-run residual (qs__lut_fit_overhead).
                char rec[700];
                snprintf(rec, sizeof rec, "%s|%d|%.6f|%.6f|%.6f|%.6f", job, jr.n_exec,
                         jr.residual_ms, jr.sum_ms, jr.residual_p10_ms, jr.sum_p10_ms);
                if ((st = qs__lut_add_job(lut, rec)) != QS_STATUS_OK)
                    qs__diag(diag, st, "out of memory");
                qs__lut_fit_overhead(lut);
            }
            if (st == QS_STATUS_OK) st = qs__lut_save(lut, out_path, diag);
            else qs__diag_prefix(diag, "%s: ", job);
        }
        qs_policy_destroy(p);
        done_jobs++;
        if (st == QS_STATUS_OK && o.progress)
            o.progress(o.progress_user, done_jobs, total, job);
    }
    for (int mi = 0; open && mi < n_models; mi++) qs_lut_model_close(open[mi]);
    qs__free(open);
    qs__free(order);
    if (pinned) qs__lut_unpin(mask);
    if (st == QS_STATUS_OK) {
        lut->complete = true;
        st = qs__lut_save(lut, out_path, diag);
    }
done:
    qs__free(settings);
    qs_lut_destroy(lut);
    return st;
}
