// `qsearch lut build --target cuda`: every quantizable layer timed on the GPU with CUDA
// events (kernels/cuda, through kernels/cuda.h), keyed like the CPU tables so that the same
// lookups work. Ops other than the layers have no GPU kernels here: they are not in a CUDA
// table and count as misses.
#include "latency_tables/measure.h"
#include "kernels/cuda.h"

#include <stdio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

enum qs_status qs__lut_cuda_descriptor(struct qs_lut_hw *hw, struct qs_diag *diag) {
    struct qs_cuda_device_info d;
    enum qs_status st = qs__cuda_available(diag);
    if (st == QS_STATUS_OK) st = qs__cuda_device_info(&d, diag);
    if (st != QS_STATUS_OK) return st;
    memset(hw, 0, sizeof *hw);
    snprintf(hw->target, sizeof hw->target, "cuda");
    snprintf(hw->arch, sizeof hw->arch, "sm_%d%d", d.cc_major, d.cc_minor);
    snprintf(hw->cpu_model, sizeof hw->cpu_model, "%.95s", d.name);
    snprintf(hw->isa, sizeof hw->isa, "%.127s", d.libraries);
    struct utsname u;
    if (uname(&u) == 0) {
        u.sysname[32] = 0;
        u.release[48] = 0;
        snprintf(hw->os, sizeof hw->os, "%.32s %.48s", u.sysname, u.release);
    }
    snprintf(hw->compiler, sizeof hw->compiler, "driver %d runtime %d", d.driver_version,
             d.runtime_version);
    snprintf(hw->build_id, sizeof hw->build_id, "qsearch %s (%s)", QS_VERSION_STRING, __DATE__);
    snprintf(hw->governor, sizeof hw->governor, "n/a");
    hw->cores = d.sm_count;
    hw->threads = 1;
    hw->numa_nodes = 1;
    return QS_STATUS_OK;
}

typedef struct {
    char name[256];
    char key[LUT_KEY_MAX];
} layer_key;

typedef struct {
    layer_key *v;
    int n, cap;
    const qs_graph_t *g;
} key_list;

static void collect(void *user, const char *name, const char *key, double ms, bool miss) {
    key_list *l = user;
    (void)ms;
    (void)miss;
    bool layer = false;
    for (int i = 0; i < qs_graph_layer_count(l->g) && !layer; i++) {
        struct qs_layer_info li;
        layer = qs_graph_layer_info(l->g, i, &li) == QS_STATUS_OK && !strcmp(li.name, name);
    }
    if (!layer || l->n == l->cap) return;
    snprintf(l->v[l->n].name, sizeof l->v[l->n].name, "%s", name);
    snprintf(l->v[l->n].key, sizeof l->v[l->n].key, "%s", key);
    l->n++;
}

static enum qs_status time_layers(qs_lut_t *lut, const qs_graph_t *g, int wb, int ab, float sp,
                                  const struct qs_lut_build_options *o, struct qs_diag *diag) {
    int nl = qs_graph_layer_count(g);
    qs_policy_t *p = NULL;
    enum qs_status st = qs_policy_create(&p);
    if (st) return qs__diag(diag, st, "out of memory");
    for (int i = 0; i < nl && st == QS_STATUS_OK; i++) {
        struct qs_layer_info li;
        struct qs_layer_policy lp = qs_layer_policy_default();
        lp.w_bits = wb;
        lp.a_bits = ab;
        lp.sparsity = sp;
        snprintf(lp.pattern, sizeof lp.pattern, "%s", o->pattern);
        if ((st = qs_graph_layer_info(g, i, &li)) == QS_STATUS_OK)
            st = qs_policy_set(p, li.name, &lp, diag);
    }
    key_list kl = {.g = g, .cap = nl};
    kl.v = qs__calloc((size_t)QS_MAX(nl, 1), sizeof *kl.v);
    struct qs_lut_estimate est;
    if (st == QS_STATUS_OK && !kl.v) st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    if (st == QS_STATUS_OK)
        st = qs_lut_model_cost_detail(lut, g, p, o->batch, collect, &kl, &est, diag);
    for (int i = 0; i < nl && st == QS_STATUS_OK; i++) {
        struct qs_layer_info li;
        struct qs_prof_node pn;
        if (qs_graph_layer_info(g, i, &li) != QS_STATUS_OK ||
            qs_graph_node_prof_info(g, li.node, &pn) != QS_STATUS_OK)
            continue;
        const char *key = NULL;
        for (int k = 0; k < kl.n && !key; k++)
            if (!strcmp(kl.v[k].name, li.name)) key = kl.v[k].key;
        if (!key) continue;
        struct qs_cuda_layer cl = {.w_bits = wb, .a_bits = ab, .sparsity = sp};
        cl.pattern = sp <= 0.0f                          ? QS_CUDA_PATTERN_DENSE
                     : !strcmp(o->pattern, "2:4")        ? QS_CUDA_PATTERN_2_4
                                                         : QS_CUDA_PATTERN_UNSTRUCTURED;
        if (li.kind == QS_LAYER_CONV) {
            cl.op = QS_CUDA_OP_CONV;
            cl.batch = o->batch;
            cl.c_in = li.c_in;
            cl.h = li.in_h;
            cl.w = li.in_w;
            cl.c_out = li.c_out;
            cl.kh = li.kernel_h;
            cl.kw = li.kernel_w;
            cl.stride_h = li.stride_h;
            cl.stride_w = li.stride_w;
            cl.pad_h = pn.pads[0];
            cl.pad_w = pn.pads[1];
            cl.dil_h = pn.dilation[0];
            cl.dil_w = pn.dilation[1];
            cl.groups = li.groups;
        } else {
            cl.op = QS_CUDA_OP_GEMM;
            cl.m = (int64_t)o->batch * (li.kind == QS_LAYER_MATMUL ? li.in_h : 1);
            cl.k = li.c_in;
            cl.n = li.c_out;
        }
        struct qs_cuda_timing t;
        struct qs_diag d;
        enum qs_status ts = qs__cuda_time_layer(&cl, o->repeats, &t, &d);
        if (ts == QS_STATUS_UNSUPPORTED || ts == QS_STATUS_INVALID_ARG) {
            qs__log(QS_LOG_WARN, "layer '%s' not timed on the GPU: %s", li.name, d.msg);
            continue;
        }
        if (ts != QS_STATUS_OK) {
            st = qs__diag(diag, ts, "layer '%s': %s", li.name, d.msg);
            break;
        }
        lut_point pt = {.sparsity = sp, .ms = t.median_ms, .p10 = t.p10_ms, .p90 = t.p90_ms,
                        .runs = t.runs, .w_bits = wb, .a_bits = ab};
        if ((st = qs__lut_add(lut, key, &pt)) != QS_STATUS_OK) qs__diag(diag, st, "out of memory");
    }
    qs__free(kl.v);
    qs_policy_destroy(p);
    return st;
}

enum qs_status qs__lut_build_cuda(const char *const *models, int n_models,
                                  const struct qs_lut_build_options *o, const char *out_path,
                                  struct qs_diag *diag) {
    struct qs_lut_hw hw;
    enum qs_status st = qs__lut_cuda_descriptor(&hw, diag);
    if (st) return st;
    qs_lut_t *lut = NULL;
    if (access(out_path, F_OK) == 0) {
        if ((st = qs_lut_load(out_path, &lut, diag)) != QS_STATUS_OK) return st;
        if (strcmp(lut->hw.target, "cuda") || strcmp(lut->hw.cpu_model, hw.cpu_model)) {
            qs_lut_destroy(lut);
            return qs__diag(diag, QS_STATUS_INVALID_STATE,
                            "%s exists and was measured elsewhere; remove it", out_path);
        }
    } else if ((st = qs__lut_create(&lut)) != QS_STATUS_OK) {
        return qs__diag(diag, st, "out of memory");
    }
    lut->hw = hw;
    lut->batch = o->batch;
    lut->threads = 1;
    lut->repeats = o->repeats;
    lut->warmup = QS_MAX(3, o->repeats / 10);
    snprintf(lut->pattern, sizeof lut->pattern, "%s", o->pattern);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(lut->created, sizeof lut->created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!lut->settings) lut->settings = qs__strdup("target=cuda");
    int nb = o->n_bits, total = n_models * o->n_sparsity * nb * nb, done = 0;
    for (int mi = 0; mi < n_models && st == QS_STATUS_OK; mi++) {
        qs_graph_t *g = NULL;
        const char *mname = strrchr(models[mi], '/') ? strrchr(models[mi], '/') + 1 : models[mi];
        if ((st = qs_graph_load_onnx(models[mi], &g, diag)) != QS_STATUS_OK ||
            (st = qs_graph_optimize(g, QS_PASS_DEFAULT, diag)) != QS_STATUS_OK ||
            (st = qs__lut_add_model(lut, mname)) != QS_STATUS_OK) {
            qs_graph_destroy(g);
            break;
        }
        for (int si = 0; si < o->n_sparsity && st == QS_STATUS_OK; si++)
            for (int c = 0; c < nb * nb && st == QS_STATUS_OK; c++) {
                int wb = o->bits[c / nb], ab = o->bits[c % nb];
                char job[512];
                snprintf(job, sizeof job, "%s s=%g w%da%d cuda", mname, (double)o->sparsity[si],
                         wb, ab);
                if (!qs__lut_has_job(lut, job)) {
                    st = time_layers(lut, g, wb, ab, o->sparsity[si], o, diag);
                    if (st == QS_STATUS_OK) st = qs__lut_add_job(lut, job);
                    if (st == QS_STATUS_OK) st = qs__lut_save(lut, out_path, diag);
                }
                done++;
                if (st == QS_STATUS_OK && o->progress)
                    o->progress(o->progress_user, done, total, job);
            }
        qs_graph_destroy(g);
    }
    if (st == QS_STATUS_OK) {
        lut->complete = true;
        st = qs__lut_save(lut, out_path, diag);
    }
    qs_lut_destroy(lut);
    return st;
}
