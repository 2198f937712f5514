// Dense MLPs on cblas_sgemm for the DDPG actor and critic (search/mlp.h).
#include "search/mlp.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

void qs__mlp_destroy(struct qs_mlp *m) {
    if (!m) return;
    qs__aligned_free(m->params);
    qs__aligned_free(m->grads);
    qs__aligned_free(m->adam_m);
    qs__aligned_free(m->adam_v);
    for (int l = 0; l <= m->n_layers; l++) qs__aligned_free(m->h[l]);
    qs__aligned_free(m->dz);
    qs__aligned_free(m->dh);
    qs__free(m);
}

static float *alloc_zero(size_t n) {
    float *p = qs__aligned_alloc(QS_MAX(n, 1) * sizeof(float));
    if (p) memset(p, 0, QS_MAX(n, 1) * sizeof(float));
    return p;
}

enum qs_status qs__mlp_create(int n_layers, const int *sizes, const enum qs_mlp_act *act,
                              int max_batch, double init_last, gsl_rng *rng, struct qs_mlp **out,
                              struct qs_diag *diag) {
    *out = NULL;
    if (n_layers < 1 || n_layers > QS_MLP_MAX_LAYERS || max_batch < 1)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "mlp: %d layers, batch %d", n_layers,
                        max_batch);
    int widest = 0;
    for (int l = 0; l <= n_layers; l++) {
        if (sizes[l] < 1)
            return qs__diag(diag, QS_STATUS_INVALID_ARG, "mlp: layer size %d", sizes[l]);
        widest = QS_MAX(widest, sizes[l]);
    }
    // The agent's bits must not depend on the core count: OpenBLAS splits a GEMM over its
    // threads, and the split decides which elements its edge kernels (another summation
    // order) compute. The search-quality benchmark's 10 seeds gave 9/10 within 0.5% with
    // one thread and 8/10 with two. These GEMMs are small; one thread is also faster.
    openblas_set_num_threads(1);
    struct qs_mlp *m = qs__calloc(1, sizeof(*m));
    if (!m) goto nomem;
    m->n_layers = n_layers;
    m->max_batch = max_batch;
    memcpy(m->sizes, sizes, (size_t)(n_layers + 1) * sizeof(int));
    memcpy(m->act, act, (size_t)n_layers * sizeof(*act));
    for (int l = 0; l < n_layers; l++)
        m->n_params += (int64_t)sizes[l + 1] * sizes[l] + sizes[l + 1];
    m->params = alloc_zero((size_t)m->n_params);
    m->grads = alloc_zero((size_t)m->n_params);
    m->adam_m = alloc_zero((size_t)m->n_params);
    m->adam_v = alloc_zero((size_t)m->n_params);
    m->dz = alloc_zero((size_t)max_batch * widest);
    m->dh = alloc_zero((size_t)max_batch * widest);
    if (!m->params || !m->grads || !m->adam_m || !m->adam_v || !m->dz || !m->dh) goto nomem;
    for (int l = 0; l <= n_layers; l++) {
        m->h[l] = alloc_zero((size_t)max_batch * sizes[l]);
        if (!m->h[l]) goto nomem;
    }
    int64_t off = 0;
    for (int l = 0; l < n_layers; l++) {
        int64_t nw = (int64_t)sizes[l + 1] * sizes[l];
        m->w[l] = m->params + off;
        m->gw[l] = m->grads + off;
        off += nw;
        m->b[l] = m->params + off;
        m->gb[l] = m->grads + off;
        off += sizes[l + 1];
        double r = l == n_layers - 1 && init_last > 0 ? init_last : 1.0 / sqrt(sizes[l]);
        for (int64_t i = 0; i < nw; i++)
            m->w[l][i] = (float)((2.0 * gsl_rng_uniform(rng) - 1.0) * r);
        for (int i = 0; i < sizes[l + 1]; i++)
            m->b[l][i] = (float)((2.0 * gsl_rng_uniform(rng) - 1.0) * r);
    }
    *out = m;
    return QS_STATUS_OK;
nomem:
    qs__mlp_destroy(m);
    return qs__diag(diag, QS_STATUS_NOMEM, "mlp: out of memory");
}

// Scalar, the Adam step took 6% of a 200-episode DDPG search of ResNet-20 (perf): vector
// clones (IEEE sqrt and division, no contraction: the same bits as the scalar loop).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define QS_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define QS_VECTOR_CLONES
#endif

// The elementwise loops of the networks, cloned the same way (2% of that search as scalar
// loops): each element is computed as in the scalar loop, so the bits do not change. Sums
// over the batch stay in row order per column. Sigmoid and tanh stay scalar (a vector expf
// would round otherwise).
QS_VECTOR_CLONES static void relu(float *restrict h, size_t n) {
    for (size_t i = 0; i < n; i++) h[i] = h[i] > 0.0f ? h[i] : 0.0f;
}

QS_VECTOR_CLONES static void relu_grad(float *restrict dz, const float *restrict h,
                                       const float *restrict dh, size_t n) {
    for (size_t i = 0; i < n; i++) dz[i] = h[i] > 0.0f ? dh[i] : 0.0f;
}

QS_VECTOR_CLONES static void sigmoid_grad(float *restrict dz, const float *restrict h,
                                          const float *restrict dh, size_t n) {
    for (size_t i = 0; i < n; i++) dz[i] = dh[i] * h[i] * (1.0f - h[i]);
}

// gb[j] += dz[r][j] for r = 0..batch-1, in that order.
QS_VECTOR_CLONES static void add_rows(float *restrict gb, const float *restrict dz, int batch,
                                      int out) {
    for (int r = 0; r < batch; r++)
        for (int j = 0; j < out; j++) gb[j] += dz[(size_t)r * out + j];
}

static void activate(enum qs_mlp_act act, float *h, size_t n) {
    switch (act) {
    case QS_MLP_LINEAR: break;
    case QS_MLP_RELU: relu(h, n); break;
    case QS_MLP_SIGMOID:
        for (size_t i = 0; i < n; i++) h[i] = 1.0f / (1.0f + expf(-h[i]));
        break;
    case QS_MLP_TANH:
        for (size_t i = 0; i < n; i++) h[i] = tanhf(h[i]);
        break;
    }
}

void qs__mlp_forward(struct qs_mlp *m, const float *x, int batch, float *y) {
    QS_ASSERT(batch >= 1 && batch <= m->max_batch);
    m->batch = batch;
    memcpy(m->h[0], x, (size_t)batch * m->sizes[0] * sizeof(float));
    for (int l = 0; l < m->n_layers; l++) {
        int in = m->sizes[l], out = m->sizes[l + 1];
        float *h = m->h[l + 1];
        for (int r = 0; r < batch; r++)
            memcpy(h + (size_t)r * out, m->b[l], out * sizeof(float));
        // h[batch][out] += x[batch][in] * W[out][in]^T
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, out, in, 1.0f, m->h[l], in,
                    m->w[l], in, 1.0f, h, out);
        activate(m->act[l], h, (size_t)batch * out);
    }
    if (y) memcpy(y, m->h[m->n_layers], (size_t)batch * m->sizes[m->n_layers] * sizeof(float));
}

void qs__mlp_zero_grad(struct qs_mlp *m) {
    memset(m->grads, 0, (size_t)m->n_params * sizeof(float));
}

static void backward(struct qs_mlp *m, const float *dy, float *dx, bool grads) {
    int batch = m->batch;
    const float *dh = dy;
    for (int l = m->n_layers - 1; l >= 0; l--) {
        int in = m->sizes[l], out = m->sizes[l + 1];
        const float *h = m->h[l + 1];
        size_t n = (size_t)batch * out;
        float *dz = m->dz;
        // dz = dh * act'(z), written from the saved output h = act(z).
        switch (m->act[l]) {
        case QS_MLP_LINEAR: memcpy(dz, dh, n * sizeof(float)); break;
        case QS_MLP_RELU: relu_grad(dz, h, dh, n); break;
        case QS_MLP_SIGMOID: sigmoid_grad(dz, h, dh, n); break;
        case QS_MLP_TANH:
            for (size_t i = 0; i < n; i++) dz[i] = dh[i] * (1.0f - h[i] * h[i]);
            break;
        }
        // gW[out][in] += dz^T[out][batch] * x[batch][in]; gb += column sums of dz.
        if (grads) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, batch, 1.0f, dz, out,
                        m->h[l], in, 1.0f, m->gw[l], in);
            add_rows(m->gb[l], dz, batch, out);
        }
        float *dst = l > 0 ? m->dh : dx;
        if (dst)  // dx[batch][in] = dz[batch][out] * W[out][in]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, in, out, 1.0f, dz, out,
                        m->w[l], in, 0.0f, dst, in);
        dh = m->dh;
    }
}

void qs__mlp_backward(struct qs_mlp *m, const float *dy, float *dx) {
    backward(m, dy, dx, true);
}

void qs__mlp_backward_input(struct qs_mlp *m, const float *dy, float *dx) {
    QS_ASSERT(dx);
    backward(m, dy, dx, false);
}

QS_VECTOR_CLONES void qs__mlp_adam_step(struct qs_mlp *m, double lr) {
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    m->adam_t++;
    double c1 = 1.0 - pow(b1, (double)m->adam_t), c2 = 1.0 - pow(b2, (double)m->adam_t);
    float step = (float)(lr / c1);
    float sc2 = (float)(1.0 / sqrt(c2));
    for (int64_t i = 0; i < m->n_params; i++) {
        float g = m->grads[i];
        m->adam_m[i] = (float)b1 * m->adam_m[i] + (float)(1.0 - b1) * g;
        m->adam_v[i] = (float)b2 * m->adam_v[i] + (float)(1.0 - b2) * g * g;
        m->params[i] -= step * m->adam_m[i] / (sqrtf(m->adam_v[i]) * sc2 + (float)eps);
    }
}

QS_VECTOR_CLONES void qs__mlp_soft_update(struct qs_mlp *dst, const struct qs_mlp *src,
                                          double tau) {
    QS_ASSERT(dst->n_params == src->n_params);
    float t = (float)tau, u = (float)(1.0 - tau);
    for (int64_t i = 0; i < dst->n_params; i++)
        dst->params[i] = t * src->params[i] + u * dst->params[i];
}

enum qs_status qs__mlp_save(const struct qs_mlp *m, FILE *f, struct qs_diag *diag) {
    int32_t hdr[2 + QS_MLP_MAX_LAYERS + 1] = {0x504c4d51 /* "QMLP" */, m->n_layers};
    for (int l = 0; l <= m->n_layers; l++) hdr[2 + l] = m->sizes[l];
    size_t n = (size_t)m->n_params;
    bool ok = fwrite(hdr, sizeof(hdr), 1, f) == 1 &&
              fwrite(&m->adam_t, sizeof(m->adam_t), 1, f) == 1 &&
              fwrite(m->params, sizeof(float), n, f) == n &&
              fwrite(m->adam_m, sizeof(float), n, f) == n &&
              fwrite(m->adam_v, sizeof(float), n, f) == n;
    return ok ? QS_STATUS_OK : qs__diag(diag, QS_STATUS_IO, "mlp: write failed");
}

enum qs_status qs__mlp_load(struct qs_mlp *m, FILE *f, struct qs_diag *diag) {
    int32_t hdr[2 + QS_MLP_MAX_LAYERS + 1];
    if (fread(hdr, sizeof(hdr), 1, f) != 1 || hdr[0] != 0x504c4d51 || hdr[1] != m->n_layers)
        return qs__diag(diag, QS_STATUS_PARSE, "mlp: not a network of %d layers", m->n_layers);
    for (int l = 0; l <= m->n_layers; l++)
        if (hdr[2 + l] != m->sizes[l])
            return qs__diag(diag, QS_STATUS_PARSE, "mlp: layer %d has %d units, expected %d", l,
                            hdr[2 + l], m->sizes[l]);
    size_t n = (size_t)m->n_params;
    bool ok = fread(&m->adam_t, sizeof(m->adam_t), 1, f) == 1 &&
              fread(m->params, sizeof(float), n, f) == n &&
              fread(m->adam_m, sizeof(float), n, f) == n &&
              fread(m->adam_v, sizeof(float), n, f) == n;
    return ok ? QS_STATUS_OK : qs__diag(diag, QS_STATUS_PARSE, "mlp: truncated network data");
}
