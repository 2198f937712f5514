// Structured (output-channel) pruning as a graph rewrite on the ONNX file: the all-zero
// output channels of "channel"-pattern convolutions are removed, with the matching input
// channels of every consumer, so the written model is smaller and runs fewer FLOPs.
#include "sparse/sparse-impl.h"

#include "onnx/onnx.pb-c.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static Onnx__TensorProto *find_init(Onnx__GraphProto *g, const char *name) {
    for (size_t i = 0; i < g->n_initializer; i++)
        if (!strcmp(g->initializer[i]->name, name)) return g->initializer[i];
    return NULL;
}

static bool f32_raw(const Onnx__TensorProto *t, size_t numel) {
    return t && t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && t->has_raw_data &&
           t->raw_data.len == numel * 4;
}

static size_t numel_of(const Onnx__TensorProto *t) {
    size_t n = 1;
    for (size_t i = 0; i < t->n_dims; i++) n *= (size_t)t->dims[i];
    return n;
}

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name) {
    for (size_t i = 0; i < n->n_attribute; i++)
        if (!strcmp(n->attribute[i]->name, name)) return n->attribute[i];
    return NULL;
}

static int64_t attr_i(const Onnx__NodeProto *n, const char *name, int64_t def) {
    const Onnx__AttributeProto *a = attr(n, name);
    return a ? a->i : def;
}

static float scalar_init(Onnx__GraphProto *g, const char *name, float def) {
    Onnx__TensorProto *t = name && *name ? find_init(g, name) : NULL;
    if (!f32_raw(t, 1)) return def;
    float v;
    memcpy(&v, t->raw_data.data, 4);
    return v;
}

// The element-wise activations a removed channel's constant passes through.
static bool act_apply(Onnx__GraphProto *g, const Onnx__NodeProto *n, float *v) {
    const char *op = n->op_type;
    if (!strcmp(op, "Relu")) *v = *v > 0.0f ? *v : 0.0f;
    else if (!strcmp(op, "Clip")) {
        float lo = n->n_input > 1 ? scalar_init(g, n->input[1], -INFINITY) : -INFINITY;
        float hi = n->n_input > 2 ? scalar_init(g, n->input[2], INFINITY) : INFINITY;
        const Onnx__AttributeProto *a;
        if ((a = attr(n, "min"))) lo = a->f;
        if ((a = attr(n, "max"))) hi = a->f;
        *v = fminf(fmaxf(*v, lo), hi);
    } else if (!strcmp(op, "LeakyRelu")) {
        const Onnx__AttributeProto *a = attr(n, "alpha");
        float al = a ? a->f : 0.01f;
        *v = *v >= 0.0f ? *v : al * *v;
    } else if (!strcmp(op, "Sigmoid")) *v = 1.0f / (1.0f + expf(-*v));
    else if (!strcmp(op, "Tanh")) *v = tanhf(*v);
    else return false;
    return true;
}

// Nodes reading tensor `name`.
static int consumers(Onnx__GraphProto *g, const char *name, int *out, int max) {
    int n = 0;
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t j = 0; j < g->node[i]->n_input; j++)
            if (!strcmp(g->node[i]->input[j], name)) {
                if (n < max) out[n] = (int)i;
                n++;
                break;
            }
    for (size_t i = 0; i < g->n_output; i++)
        if (!strcmp(g->output[i]->name, name)) return -1;  // a graph output keeps its shape
    return n;
}

#define MAX_USERS 16

// Whether conv node `ci` can lose output channels: its output reaches only plain
// convolutions (group 1, as their data input), through at most one element-wise activation.
static bool removable(Onnx__GraphProto *g, int ci, int *act_out, int *users, int *n_users) {
    Onnx__NodeProto *c = g->node[ci];
    if (attr_i(c, "group", 1) != 1 || c->n_output != 1) return false;
    const char *y = c->output[0];
    *act_out = -1;
    int u[MAX_USERS];
    int n = consumers(g, y, u, MAX_USERS);
    float probe = 0.0f;
    if (n == 1 && g->node[u[0]]->n_output == 1 && !strcmp(g->node[u[0]]->input[0], y) &&
        act_apply(g, g->node[u[0]], &probe)) {
        *act_out = u[0];
        y = g->node[u[0]]->output[0];
        n = consumers(g, y, u, MAX_USERS);
    }
    if (n <= 0 || n > MAX_USERS) return false;
    for (int i = 0; i < n; i++) {
        Onnx__NodeProto *d = g->node[u[i]];
        if (strcmp(d->op_type, "Conv") || attr_i(d, "group", 1) != 1 || d->n_input < 2 ||
            strcmp(d->input[0], y) || !strcmp(d->input[1], y))
            return false;
        Onnx__TensorProto *w = find_init(g, d->input[1]);
        if (!w || w->n_dims != 4 || !f32_raw(w, numel_of(w))) return false;
        if (d->n_input < 3 || !find_init(g, d->input[2])) return false;  // bias for the fold
        // the weight must not be shared with other nodes
        int tmp[2];
        if (consumers(g, d->input[1], tmp, 2) != 1) return false;
        users[i] = u[i];
    }
    *n_users = n;
    return true;
}

static enum qs_status write_all(const char *path, const uint8_t *buf, size_t len,
                                struct qs_diag *diag) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return qs__diag(diag, QS_STATUS_IO, "'%s': %s", path, strerror(errno));
    bool ok = fwrite(buf, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return qs__diag(diag, QS_STATUS_IO, "'%s': write failed", path);
    }
    return QS_STATUS_OK;
}

enum qs_status qs_prune_shrink_onnx(const char *in_path, const char *out_path,
                                    const qs_policy_t *policy, int64_t *removed_out,
                                    struct qs_diag *diag) {
    FILE *f = fopen(in_path, "rb");
    if (!f) return qs__diag(diag, QS_STATUS_IO, "'%s': %s", in_path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = sz > 0 ? qs__malloc((size_t)sz) : NULL;
    bool rd = data && fread(data, 1, (size_t)sz, f) == (size_t)sz;
    fclose(f);
    if (!rd) {
        qs__free(data);
        return qs__diag(diag, QS_STATUS_IO, "'%s': cannot read", in_path);
    }
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, (size_t)sz, data);
    qs__free(data);
    if (!m || !m->graph) {
        if (m) onnx__model_proto__free_unpacked(m, NULL);
        return qs__diag(diag, QS_STATUS_PARSE, "'%s': not an ONNX model", in_path);
    }
    Onnx__GraphProto *g = m->graph;
    int64_t removed = 0;
    enum qs_status st = QS_STATUS_OK;
    for (size_t ci = 0; ci < g->n_node && st == QS_STATUS_OK; ci++) {
        Onnx__NodeProto *c = g->node[ci];
        const struct qs_layer_policy *lp = c->name ? qs_policy_get(policy, c->name) : NULL;
        if (!lp || strcmp(lp->pattern, "channel") || lp->sparsity <= 0.0f ||
            strcmp(c->op_type, "Conv") || c->n_input < 2)
            continue;
        int act, users[MAX_USERS], n_users;
        Onnx__TensorProto *w = find_init(g, c->input[1]);
        Onnx__TensorProto *b = c->n_input > 2 ? find_init(g, c->input[2]) : NULL;
        if (!w || w->n_dims != 4 || !f32_raw(w, numel_of(w)) || (b && !f32_raw(b, numel_of(b))) ||
            !removable(g, (int)ci, &act, users, &n_users)) {
            qs__log(QS_LOG_INFO, "prune: '%s' keeps its channels (zeroed): its output feeds "
                    "more than plain convolutions (residual add, pooling, graph output)",
                    c->name);
            continue;
        }
        int tmp[2];
        if (consumers(g, c->input[1], tmp, 2) != 1 || (b && consumers(g, c->input[2], tmp, 2) != 1))
            continue;
        int64_t cout = w->dims[0], per = (int64_t)numel_of(w) / cout;
        float *wv = (float *)w->raw_data.data, *bv = b ? (float *)b->raw_data.data : NULL;
        uint8_t *zero = qs__calloc((size_t)cout, 1);
        if (!zero) {
            st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
            break;
        }
        int64_t keep = 0;
        for (int64_t r = 0; r < cout; r++) {
            bool z = true;
            for (int64_t j = 0; j < per && z; j++) z = wv[r * per + j] == 0.0f;
            zero[r] = z;
            keep += !z;
        }
        if (keep == 0) zero[0] = 0, keep = 1;  // a layer keeps at least one channel
        if (keep == cout) {
            qs__free(zero);
            continue;
        }
        for (int u = 0; u < n_users; u++) {
            Onnx__NodeProto *d = g->node[users[u]];
            Onnx__TensorProto *w2 = find_init(g, d->input[1]), *b2 = find_init(g, d->input[2]);
            float *w2v = (float *)w2->raw_data.data, *b2v = (float *)b2->raw_data.data;
            int64_t o2 = w2->dims[0], cin = w2->dims[1], kk = w2->dims[2] * w2->dims[3];
            // A removed channel outputs the constant act(b): fold it into the consumer's
            // bias (exact away from the consumer's zero padding).
            for (int64_t r = 0; r < cout; r++) {
                if (!zero[r]) continue;
                float v = bv ? bv[r] : 0.0f;
                if (act >= 0) act_apply(g, g->node[act], &v);
                for (int64_t o = 0; o < o2 && v != 0.0f; o++) {
                    double sum = 0.0;
                    for (int64_t t = 0; t < kk; t++) sum += w2v[(o * cin + r) * kk + t];
                    b2v[o] += (float)(sum * v);
                }
            }
            // compact the input channels (destinations never pass their sources)
            for (int64_t o = 0, dst = 0; o < o2; o++)
                for (int64_t r = 0; r < cin; r++)
                    if (!zero[r]) {
                        memmove(w2v + dst * kk, w2v + (o * cin + r) * kk,
                                (size_t)kk * sizeof(float));
                        dst++;
                    }
            w2->dims[1] = keep;
            w2->raw_data.len = (size_t)(o2 * keep * kk) * 4;
        }
        for (int64_t r = 0, dst = 0; r < cout; r++)
            if (!zero[r]) {
                memmove(wv + dst * per, wv + r * per, (size_t)per * sizeof(float));
                if (bv) bv[dst] = bv[r];
                dst++;
            }
        qs__free(zero);
        removed += cout - keep;
        w->dims[0] = keep;
        w->raw_data.len = (size_t)(keep * per) * 4;
        if (b) {
            b->dims[0] = keep;
            b->raw_data.len = (size_t)keep * 4;
        }
        qs__log(QS_LOG_INFO, "prune: '%s' %lld -> %lld output channels", c->name,
                (long long)cout, (long long)keep);
    }
    // intermediate shapes changed: let the loader infer them again
    for (size_t i = 0; i < g->n_value_info; i++)
        protobuf_c_message_free_unpacked(&g->value_info[i]->base, NULL);
    g->n_value_info = 0;
    size_t len = onnx__model_proto__get_packed_size(m);
    uint8_t *buf = qs__malloc(len ? len : 1);
    if (!buf) st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory (%zu bytes)", len);
    else {
        onnx__model_proto__pack(m, buf);
        st = write_all(out_path, buf, len, diag);
    }
    qs__free(buf);
    onnx__model_proto__free_unpacked(m, NULL);
    if (st == QS_STATUS_OK && removed_out) *removed_out = removed;
    return st;
}
