// Shared by the integer convolution tests (test-qgemm-conv.c, test-qgemm-dconv.c): the
// seeded generator, the failure report, and one random case (weights, input, requantization
// parameters, the expected output from an explicit im2col and the oracle qs__qgemm_ref, and
// an output buffer with canaries) to run a convolution path on and compare bit for bit.
#pragma once

#include "qgemm-variants-test.h"

#include <math.h>

static long g_fast;  // cases the fast path took (what it is: qconv_main's `fast`)


static void fail(const struct qs_qconv_shape *s, size_t m, enum qs_qout t, int it,
                 const char *msg) {
    fprintf(stderr,
            "FAIL seed=%" PRIu64 " variant=%s iteration=%d C=%zu M=%zu in=%zux%zu out=%zux%zu "
            "k=%zux%zu stride=%zux%zu dil=%zux%zu pad=%zu,%zu flip=%d out_type=%d: %s\n"
            "(replay with QS_TEST_SEED=%" PRIu64 ")\n",
            g_seed, g_cfg->name, it, s->channels, m, s->in_h, s->in_w, s->out_h, s->out_w,
            s->kh, s->kw, s->stride_h, s->stride_w, s->dil_h, s->dil_w, s->pad_top,
            s->pad_left, s->flip, (int)t, msg, g_seed);
    exit(1);
}

struct qconv_case {
    size_t m, k, p;
    int8_t *w;         // [m][k]
    uint8_t *x;        // [channels][in_h][in_w], ending at its last byte
    uint8_t *col;      // the explicit im2col, [k][p]
    int32_t *bias;
    float *scale, *fbias;
    struct qs_qgemm_params prm;
    size_t es, ldc, canary, bytes;
    unsigned char *ref, *got;  // expected and actual output, canaries around both
};

// A random case for shape `s` and `m` output channels (draws from rnd()).
static void qconv_case_make(struct qconv_case *c, const struct qs_qconv_shape *sp, size_t m) {
    const struct qs_qconv_shape s = *sp;
    c->m = m;
    const size_t k = c->k = s.channels * s.kh * s.kw;
    const size_t p = c->p = s.out_h * s.out_w, plane = s.in_h * s.in_w;
    const int data = (int)(rnd() % 4);  // 0 random, 1 edges, 2 x max / w min, 3 x min / w min
    int8_t *w = c->w = malloc(m * k);
    for (size_t i = 0; i < m * k; i++) {
        w[i] = data == 0 ? (int8_t)rnd() : data == 1 ? ((rnd() & 1) ? 127 : -128) : -128;
        if (w[i] < g_cfg->w_min) w[i] = (int8_t)g_cfg->w_min;
    }
    uint8_t *x = c->x = malloc(s.channels * plane);
    for (size_t i = 0; i < s.channels * plane; i++)
        x[i] = data == 0   ? (uint8_t)rnd()
               : data == 1 ? ((rnd() & 1) ? 255 : 0)
               : data == 2 ? 255
                           : 0;
    const enum qs_qout t = (enum qs_qout)(rnd() % 4);
    struct qs_qgemm_params prm = {.out_type = t, .x_zp = (uint8_t)rnd()};
    if (rnd() % 4 == 0) prm.x_zp = (rnd() & 1) ? 255 : 0;
    if (t == QS_QOUT_U8 || t == QS_QOUT_S8)
        prm.out_zp = (int32_t)urange(0, 255) - (t == QS_QOUT_S8 ? 128 : 0);
    prm.qmin = INT32_MIN;
    prm.qmax = INT32_MAX;
    prm.fmin = -INFINITY;
    prm.fmax = INFINITY;
    if (rnd() % 4 == 0) {  // a fused Relu / Clip
        const int32_t q0 = prm.out_zp + (int32_t)urange(0, 20);
        prm.qmin = QS_MIN(q0, t == QS_QOUT_S8 ? 127 : 255);
        prm.qmax = prm.qmin + (int32_t)urange(0, 100);
        prm.fmin = 0.0f;
        prm.fmax = (float)urange(1, 1000);
    }
    c->bias = malloc(m * sizeof *c->bias);
    c->scale = malloc(m * sizeof *c->scale);
    c->fbias = malloc(m * sizeof *c->fbias);
    for (size_t i = 0; i < m; i++) {
        c->bias[i] = (int32_t)(rnd() % 200001) - 100000;
        c->scale[i] = rnd() % 4 == 0 ? 0.5f : ldexpf(0.5f + (float)(rnd() % 1000) / 2000.0f,
                                                      (int)urange(0, 20) - 18);
        c->fbias[i] = (float)(rnd() % 2001) / 100.0f - 10.0f;
    }
    prm.bias = rnd() % 5 ? c->bias : NULL;
    prm.scale = c->scale;
    prm.fbias = c->fbias;
    c->prm = prm;

    // Explicit im2col: X[k][p] as the contract defines it.
    uint8_t *col = c->col = malloc(k * p + 1);
    for (size_t ch = 0; ch < s.channels; ch++)
        for (size_t i = 0; i < s.kh; i++)
            for (size_t j = 0; j < s.kw; j++) {
                const size_t row = (ch * s.kh + i) * s.kw + j;
                for (size_t oh = 0; oh < s.out_h; oh++)
                    for (size_t ow = 0; ow < s.out_w; ow++) {
                        const int64_t ih =
                            (int64_t)(oh * s.stride_h + i * s.dil_h) - (int64_t)s.pad_top;
                        const int64_t iw =
                            (int64_t)(ow * s.stride_w + j * s.dil_w) - (int64_t)s.pad_left;
                        const bool in = ih >= 0 && ih < (int64_t)s.in_h && iw >= 0 &&
                                        iw < (int64_t)s.in_w;
                        const size_t at = ch * plane + (size_t)(ih * (int64_t)s.in_w + iw);
                        col[row * p + oh * s.out_w + ow] =
                            in ? (uint8_t)(x[at] ^ s.flip) : prm.x_zp;
                    }
            }
    c->es = qs__qout_size(t);
    c->ldc = p + urange(0, 3);
    c->canary = 64;
    c->bytes = ((m - 1) * c->ldc + p) * c->es + 2 * c->canary;
    c->ref = malloc(c->bytes);
    c->got = malloc(c->bytes);
    memset(c->ref, 0xa5, c->bytes);
    memset(c->got, 0xa5, c->bytes);
    qs__qgemm_ref(m, k, p, w, k, col, p, 1, c->ref + c->canary, c->ldc, 1, &c->prm);
}

// The output written at got + canary with row stride ldc equals the oracle's, and nothing
// was written around it.
static void qconv_case_check(const struct qconv_case *c, const struct qs_qconv_shape *s,
                             int it) {
    for (size_t i = 0; i < c->bytes; i++) {
        if (c->ref[i] == c->got[i]) continue;
        char msg[160];
        if (i < c->canary || i >= c->bytes - c->canary) {
            snprintf(msg, sizeof msg, "wrote outside the output (byte %zu)", i);
        } else {
            const size_t e = (i - c->canary) / c->es;
            snprintf(msg, sizeof msg, "C[%zu][%zu] differs (byte %zu: ref %d got %d)",
                     e / c->ldc, e % c->ldc, i, c->ref[i], c->got[i]);
        }
        fail(s, c->m, c->prm.out_type, it, msg);
    }
}

static void qconv_case_free(struct qconv_case *c) {
    free(c->ref);
    free(c->got);
    free(c->col);
    free(c->w);
    free(c->x);
    free(c->bias);
    free(c->scale);
    free(c->fbias);
}

static void (*g_run_case)(int);
static const char *g_fast_what;

static void qconv_variant(void) {
    long fast0 = g_fast;
    for (int it = 0; it < 400; it++) g_run_case(it);
    printf("     %s: %ld cases %s\n", g_cfg->name, g_fast - fast0, g_fast_what);
}

// The test's main: run_case(0..399) for every GEMM variant this CPU runs and `filter`
// accepts (qgemm_variants), each from the same seed (QS_TEST_SEED or `default_seed`).
// `fast` names what g_fast counts.
static int qconv_main(uint64_t default_seed, const char *(*filter)(const struct qs_qgemm_config *),
                      void (*run_case)(int), const char *fast) {
    g_run_case = run_case;
    g_fast_what = fast;
    qgemm_variants(default_seed, filter, qconv_variant);
    return 0;
}
