// qs__cuda_time_layer: builds one layer on the device with random contents, then times its
// launch sequence with CUDA events (what `qsearch lut build --target cuda` records).
#include "kernels/cuda/cuda-conv.h"
#include "kernels/cuda/cuda-sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// A small deterministic generator (splitmix64): the same layer gets the same data every run.
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static double uniform01(uint64_t *s) { return (double)(next_u64(s) >> 11) * 0x1.0p-53; }

// Host data for one layer: activations (uint8 or float), weights with `sparsity` zeros
// (unstructured) or none, per-channel scales. Buffers are owned by the caller.
static void *random_buf(size_t count, bool int8_act, uint64_t *s) {
    void *p = qs__malloc(QS_MAX(count, 1) * (int8_act ? 1 : 4));
    if (!p) return NULL;
    for (size_t i = 0; i < count; i++) {
        if (int8_act)
            ((uint8_t *)p)[i] = (uint8_t)next_u64(s);
        else
            ((float *)p)[i] = (float)(uniform01(s) * 2.0 - 1.0);
    }
    return p;
}

static void *random_weights(size_t count, bool int8, float sparsity, uint64_t *s) {
    void *p = qs__malloc(QS_MAX(count, 1) * (int8 ? 1 : 4));
    if (!p) return NULL;
    for (size_t i = 0; i < count; i++) {
        bool zero = sparsity > 0.0f && uniform01(s) < sparsity;
        if (int8) {
            int v = (int)(next_u64(s) % 254) - 127;
            ((int8_t *)p)[i] = (int8_t)(zero ? 0 : v == 0 ? 1 : v);
        } else {
            float v = (float)(uniform01(s) * 2.0 - 1.0);
            ((float *)p)[i] = zero ? 0.0f : v == 0.0f ? 0.5f : v;
        }
    }
    return p;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// Linear interpolation between closest ranks (numpy's default percentile).
static double percentile(const double *sorted, int n, double q) {
    double pos = q * (n - 1);
    int lo = (int)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

enum kind { K_GEMM, K_QGEMM, K_CONV, K_SPMM_GEMM, K_SPMM_CONV };

struct timed {
    enum kind kind;
    bool int8;
    // device buffers
    void *x, *xs, *w, *wpad, *acc, *y, *cols;
    float *bias;
    int64_t m, k, kp, n;  // GEMM shape (for conv with SpMM: m = p)
    struct qs_cuda_gemm gemm;
    struct qs_cuda_conv conv;
    struct qs_cuda_spmm spmm;
    struct qs_cuda_qepi epi;
};

// One launch sequence of the layer, asynchronous on ctx->stream.
static enum qs_status launch(struct qs_cuda_ctx *ctx, struct timed *t, struct qs_diag *diag) {
    enum qs_status st;
    switch (t->kind) {
    case K_GEMM:
        return qs__cuda_gemm_run(ctx, &t->gemm, t->w, t->x, t->y, diag);
    case K_QGEMM:
        // What qs__cuda_qgemm runs: uint8 -> int8 flip (and k padding), IMMA GEMM, epilogue.
        if ((st = qs__cuda_rt(qs__cuda_launch_pad_rows(ctx->stream, t->x, t->xs, (size_t)t->m,
                                                       (size_t)t->k, (size_t)t->kp, 1),
                              diag, "flip activations")) ||
            (st = qs__cuda_gemm_run(ctx, &t->gemm, t->wpad, t->xs, t->acc, diag)))
            return st;
        return qs__cuda_rt(qs__cuda_launch_qepilogue(ctx->stream, t->acc, t->gemm.ldd, t->y,
                                                     t->n, t->m, 1, &t->epi),
                           diag, "int8 epilogue");
    case K_CONV:
        return qs__cuda_conv_run(ctx, &t->conv, t->x, t->w, t->bias, t->y, diag);
    case K_SPMM_GEMM:
    case K_SPMM_CONV:
        if (t->kind == K_SPMM_CONV) {
            if ((st = qs__cuda_rt(qs__cuda_launch_im2col(ctx->stream, &t->conv.im2col, t->x,
                                                         t->cols),
                                  diag, "im2col")))
                return st;
        } else if (t->int8) {
            if ((st = qs__cuda_rt(qs__cuda_launch_flip(ctx->stream, t->x, t->xs,
                                                       (size_t)(t->m * t->k)),
                                  diag, "flip activations")))
                return st;
        }
        if ((st = qs__cuda_spmm_run(ctx, &t->spmm, diag))) return st;
        if (t->int8)
            return qs__cuda_rt(qs__cuda_launch_qepilogue(ctx->stream, t->acc, t->n, t->y, t->n,
                                                         t->m, 1, &t->epi),
                               diag, "int8 epilogue");
        return qs__cuda_rt(qs__cuda_launch_bias_f32(ctx->stream, t->y, t->n, t->m, 1, t->bias),
                           diag, "bias");
    }
    return qs__diag(diag, QS_STATUS_INTERNAL, "cuda timer: bad kind");
}

// Builds the layer's device state into `t` and `b`; names the kernel in out->kernel.
static enum qs_status setup(struct qs_cuda_ctx *ctx, struct qs_cuda_bufs *b, struct timed *t,
                            const struct qs_cuda_layer *l, struct qs_cuda_timing *out,
                            uint64_t *rng, void **host, struct qs_diag *diag) {
    bool int8 = l->w_bits <= 8 && l->a_bits <= 8;
    bool sparse = l->pattern == QS_CUDA_PATTERN_UNSTRUCTURED && l->sparsity > 0.0f;
    float sp = sparse ? l->sparsity : 0.0f;
    size_t ae = int8 ? 1 : 4;
    t->int8 = int8;
    enum qs_status st;
    bool conv = l->op == QS_CUDA_OP_CONV;
    int64_t n = conv ? l->c_out : l->n;
    int64_t k = conv ? (l->c_in / l->groups) * l->kh * l->kw : l->k;
    int64_t nx = conv ? l->batch * l->c_in * l->h * l->w : l->m * l->k;
    // host[0]: activations, host[1]: weights, host[2]: scales, host[3]: bias
    if (!(host[0] = random_buf((size_t)nx, int8, rng)) ||
        !(host[1] = random_weights((size_t)(n * k), int8, sp, rng)) ||
        !(host[2] = random_buf((size_t)n, false, rng)) ||
        !(host[3] = random_buf((size_t)n, false, rng)))
        return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    float *scale = host[2];
    for (int64_t i = 0; i < n; i++) scale[i] = 1.0f / 4096 + fabsf(scale[i]) / 1024;
    int32_t *ibias = (int32_t *)host[3];  // int8: reuse as int32 bias
    if (int8)
        for (int64_t i = 0; i < n; i++) ibias[i] = (int32_t)(next_u64(rng) % 2001) - 1000;
    struct qs_qgemm_params qp = {.out_type = QS_QOUT_U8, .x_zp = 128, .bias = ibias,
                                 .scale = scale, .out_zp = 3, .qmin = 0, .qmax = 255};
    if ((st = qs__cuda_upload(ctx, b, host[0], (size_t)nx * ae, &t->x, diag)) ||
        (st = qs__cuda_upload(ctx, b, host[1], (size_t)(n * k) * ae, &t->w, diag)) ||
        (!int8 && (st = qs__cuda_upload(ctx, b, host[3], (size_t)n * 4, (void **)&t->bias,
                                        diag))))
        return st;
    if (sparse && conv && l->groups != 1)
        return qs__diag(diag, QS_STATUS_UNSUPPORTED,
                        "cuda: sparse grouped convolution is not supported");
    if (conv && !sparse) {
        t->kind = K_CONV;
        if ((st = qs__cuda_conv_init(ctx, b, &t->conv, l, int8, host[1], &qp, true, diag)) ||
            (st = qs__cuda_alloc(b, (size_t)(t->conv.p * n) * (int8 ? 1 : 4), &t->y, diag)) ||
            (st = qs__cuda_conv_prepare_weights(ctx, &t->conv, t->w, diag)))
            return st;
        snprintf(out->kernel, sizeof out->kernel, "%s", t->conv.kind);
        return QS_STATUS_OK;
    }
    if (conv) {  // sparse conv: im2col into [p][k], then CSR weights x columns
        t->kind = K_SPMM_CONV;
        qs__cuda_conv_geometry(&t->conv, l, int8, qp.x_zp);
        t->conv.im2col.ldk = k;  // SpMM reads the columns unpadded
        t->m = t->conv.p;
    } else {
        t->kind = sparse ? K_SPMM_GEMM : int8 ? K_QGEMM : K_GEMM;
        t->m = l->m;
    }
    t->n = n, t->k = k;
    size_t ye = int8 ? 1 : 4;
    if ((st = qs__cuda_alloc(b, (size_t)(t->m * n) * ye, &t->y, diag))) return st;
    if (int8 && (st = qs__cuda_qepi_init(ctx, b, &t->epi, (size_t)n, (size_t)k, host[1],
                                         (size_t)k, true, &qp, diag)))
        return st;
    // int8 accumulators: ldd (n rounded up to 4 for the IMMA GEMM) x m.
    int64_t n4 = (n + 3) & ~(int64_t)3;
    if (int8 && (st = qs__cuda_alloc(b, (size_t)(t->m * n4) * 4, &t->acc, diag))) return st;
    if (t->kind == K_GEMM) {
        snprintf(out->kernel, sizeof out->kernel, "cublaslt-f32");
        return qs__cuda_gemm_init(ctx, &t->gemm, false, n, t->m, k, k, k, t->bias, diag);
    }
    if (t->kind == K_QGEMM) {
        snprintf(out->kernel, sizeof out->kernel, "cublaslt-i8");
        t->kp = (k + 3) & ~(int64_t)3;
        if ((st = qs__cuda_alloc(b, (size_t)(t->m * t->kp), &t->xs, diag)) ||
            (st = qs__cuda_upload(ctx, b, NULL, (size_t)(n4 * t->kp), &t->wpad, diag)) ||
            (st = qs__cuda_rt(qs__cuda_launch_pad_rows(ctx->stream, t->w, t->wpad, (size_t)n,
                                                       (size_t)k, (size_t)t->kp, 0),
                              diag, "pad weights")))
            return st;
        return qs__cuda_gemm_init(ctx, &t->gemm, true, n, t->m, t->kp, t->kp, t->kp, NULL,
                                  diag);
    }
    // SpMM: B is the (flipped) activations [m][k] or the im2col columns [p][k].
    const void *bsrc = t->x;
    if (t->kind == K_SPMM_CONV || int8) {
        void **dst = t->kind == K_SPMM_CONV ? &t->cols : &t->xs;
        if ((st = qs__cuda_alloc(b, (size_t)(t->m * k) * ae, dst, diag))) return st;
        bsrc = *dst;
    }
    snprintf(out->kernel, sizeof out->kernel, "%scusparse-csr-%s",
             t->kind == K_SPMM_CONV ? "im2col+" : "", int8 ? "i8" : "f32");
    return qs__cuda_spmm_init(ctx, b, &t->spmm, int8, n, k, t->m, host[1], bsrc,
                              int8 ? (void *)t->acc : t->y, diag);
}

enum qs_status qs__cuda_time_layer(const struct qs_cuda_layer *layer, int repeats,
                                   struct qs_cuda_timing *out, struct qs_diag *diag) {
    enum qs_status st = qs__cuda_layer_check(layer, diag);
    if (st) return st;
    if (repeats < 1)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "cuda timer: repeats %d < 1", repeats);
    if (layer->pattern == QS_CUDA_PATTERN_2_4) return qs__cuda_no_2_4(diag);
    double *ms = qs__malloc((size_t)repeats * sizeof *ms);
    if (!ms) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    struct qs_cuda_ctx *ctx;
    if ((st = qs__cuda_ctx_acquire(&ctx, diag))) {
        qs__free(ms);
        return st;
    }
    struct qs_cuda_timing res;
    memset(&res, 0, sizeof res);
    struct qs_cuda_bufs b = {0};
    struct timed t;
    memset(&t, 0, sizeof t);
    void *host[4] = {0};
    uint64_t rng = UINT64_C(0x5153454152434821);  // fixed: the same layer, the same data
    if ((st = setup(ctx, &b, &t, layer, &res, &rng, host, diag)) ||
        (st = qs__cuda_rt(cudaStreamSynchronize(ctx->stream), diag, "setup")))
        goto done;
    int warm = QS_MAX(3, repeats / 10);
    for (int i = 0; i < warm; i++)
        if ((st = launch(ctx, &t, diag))) goto done;
    if ((st = qs__cuda_rt(cudaStreamSynchronize(ctx->stream), diag, "warm-up"))) goto done;
    for (int i = 0; i < repeats; i++) {
        float e = 0.0f;
        if ((st = qs__cuda_rt(cudaEventRecord(ctx->ev0, ctx->stream), diag, "cudaEventRecord")) ||
            (st = launch(ctx, &t, diag)) ||
            (st = qs__cuda_rt(cudaEventRecord(ctx->ev1, ctx->stream), diag, "cudaEventRecord")) ||
            (st = qs__cuda_rt(cudaEventSynchronize(ctx->ev1), diag, "cudaEventSynchronize")) ||
            (st = qs__cuda_rt(cudaEventElapsedTime(&e, ctx->ev0, ctx->ev1), diag,
                              "cudaEventElapsedTime")))
            goto done;
        ms[i] = e;
    }
    double sum = 0;
    for (int i = 0; i < repeats; i++) sum += ms[i];
    qsort(ms, (size_t)repeats, sizeof *ms, cmp_double);
    res.runs = repeats;
    res.min_ms = ms[0];
    res.mean_ms = sum / repeats;
    res.median_ms = percentile(ms, repeats, 0.5);
    res.p10_ms = percentile(ms, repeats, 0.1);
    res.p90_ms = percentile(ms, repeats, 0.9);
    *out = res;
done:
    qs__cuda_gemm_destroy(&t.gemm);
    qs__cuda_conv_destroy(&t.conv);
    qs__cuda_spmm_destroy(&t.spmm);
    cudaStreamSynchronize(ctx->stream);
    qs__cuda_free_all(&b);
    qs__cuda_ctx_release();
    for (int i = 0; i < 4; i++) qs__free(host[i]);
    qs__free(ms);
    return st;
}
