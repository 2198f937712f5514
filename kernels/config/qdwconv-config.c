// Depthwise int8 convolution driver: picks the row kernel for this CPU once (from
// qs_cpu_info_get, so QS_CPU_DISABLE=avx512f tests the AVX2 path), resolves each channel's
// epilogue and splits (channel, row block) tasks over the pool.
#include "kernels/qdwconv-impl.h"
#include "qsearch/cpu.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const struct qs_qdwconv_variant g_ref = {"ref", qs__qdwconv_rows_ref};

#if defined(QS_ENABLE_AVX2) && (defined(__x86_64__) || defined(__i386__))
#define HAVE_AVX2 1
static const struct qs_qdwconv_variant g_avx2 = {"avx2", qs__qdwconv_rows__avx2};
#if defined(QS_ENABLE_AVX512)
#define HAVE_AVX512 1
static const struct qs_qdwconv_variant g_avx512 = {"avx512", qs__qdwconv_rows__avx512};
#endif
#endif
#if defined(__aarch64__) && QS_ENABLE_NEON
#define HAVE_NEON 1
// NEON (Advanced SIMD) is part of the AArch64 baseline: no detection needed. The dotprod
// instructions bring nothing to an NCHW depthwise kernel (its taps are not contiguous
// groups of four), so dotprod CPUs use this one too.
static const struct qs_qdwconv_variant g_neon = {"neon", qs__qdwconv_rows__neon};
#endif

#if defined(HAVE_AVX2)
static bool cpu_has(uint64_t isa) { return (qs_cpu_info_get()->isa_flags & isa) == isa; }

static bool cpu_avx2(void) { return cpu_has(QS_ISA_X86_AVX2); }

#if defined(HAVE_AVX512)
static bool cpu_avx512(void) {
    // The AVX-512 kernel hands narrow planes to the AVX2 one.
    return cpu_avx2() &&
           cpu_has(QS_ISA_X86_AVX512F | QS_ISA_X86_AVX512BW | QS_ISA_X86_AVX512VL);
}
#endif
#endif

size_t qs__qdwconv_variants(const struct qs_qdwconv_variant **out, size_t max) {
    size_t n = 0;
    if (n < max) out[n++] = &g_ref;
#if defined(HAVE_AVX2)
    if (n < max && cpu_avx2()) out[n++] = &g_avx2;
#endif
#if defined(HAVE_AVX512)
    if (n < max && cpu_avx512()) out[n++] = &g_avx512;
#endif
#if defined(HAVE_NEON)
    if (n < max) out[n++] = &g_neon;
#endif
    return n;
}

const struct qs_qdwconv_variant *qs__qdwconv_variant(void) {
    // Racing first calls compute the same answer.
    static _Atomic(const struct qs_qdwconv_variant *) chosen;
    const struct qs_qdwconv_variant *v = atomic_load_explicit(&chosen, memory_order_acquire);
    if (v) return v;
    // QS_KERNELS as for the GEMM (kernels/qgemm-ukernel.h): a level name, or a microkernel
    // name whose part after "__" is one. Levels below AVX-512 cap x86 at AVX2.
    const char *env = getenv("QS_KERNELS");
    if (env && strstr(env, "__")) env = strstr(env, "__") + 2;
    bool ref = env && (strcmp(env, "ref") == 0 || strcmp(env, "scalar") == 0);
    bool cap_avx2 = env && (strcmp(env, "avx2") == 0 || strcmp(env, "avxvnni") == 0);
    v = &g_ref;
    if (!ref) {
#if defined(HAVE_NEON)
        v = &g_neon;
#endif
#if defined(HAVE_AVX2)
        if (cpu_avx2()) v = &g_avx2;
#endif
#if defined(HAVE_AVX512)
        if (!cap_avx2 && cpu_avx512()) v = &g_avx512;
#endif
    }
    (void)cap_avx2;
    qs__log(QS_LOG_DEBUG, "depthwise int8 kernels: %s", v->name);
    atomic_store_explicit(&chosen, v, memory_order_release);
    return v;
}

size_t qs__qdwconv_scratch_size(const struct qs_qdwconv_shape *s) {
    // The kernels stage their input on the stack (at most 32 KiB a thread).
    (void)s;
    return 0;
}

struct task_ctx {
    const struct qs_qdwconv_variant *v;
    const struct qs_qdwconv_shape *s;
    const uint8_t *x;
    const int8_t *w;
    uint8_t *y;
    const struct qs_qgemm_params *p;
    size_t blocks, block_rows;
};

static void epilogue_of(const struct qs_qgemm_params *p, const int8_t *wc, size_t taps,
                        size_t ch, struct qs_qdw_epilogue *ep) {
    memset(ep, 0, sizeof *ep);
    ep->type = p->out_type;
    ep->x_zp = p->x_zp;
    ep->bias = p->bias ? p->bias[ch] : 0;
    uint32_t wsum = 0;
    for (size_t t = 0; t < taps; t++) wsum += (uint32_t)(int32_t)wc[t];
    ep->bias_zp = (int32_t)((uint32_t)ep->bias - (uint32_t)p->x_zp * wsum);
    ep->simd_ok = true;
    switch (p->out_type) {
    case QS_QOUT_U8:
    case QS_QOUT_S8: {
        int32_t tlo = p->out_type == QS_QOUT_U8 ? 0 : -128;
        int32_t thi = p->out_type == QS_QOUT_U8 ? 255 : 127;
        ep->scale = p->scale[ch];
        ep->zp = p->out_zp;
        ep->lo = QS_MAX(p->qmin, tlo);
        ep->hi = QS_MIN(p->qmax, thi);
        ep->simd_ok = ep->zp >= -(1 << 21) && ep->zp <= (1 << 21) && ep->lo <= ep->hi;
        ep->flo = (float)(ep->lo - ep->zp);
        ep->fhi = (float)(ep->hi - ep->zp);
        break;
    }
    case QS_QOUT_F32:
        ep->scale = p->scale[ch];
        ep->fbias = p->fbias ? p->fbias[ch] : 0.0f;
        ep->fmin = p->fmin;
        ep->fmax = p->fmax;
        break;
    case QS_QOUT_S32:
        break;
    }
}

static void run_task(void *arg, size_t begin, size_t end) {
    const struct task_ctx *c = arg;
    const struct qs_qdwconv_shape *s = c->s;
    const size_t taps = s->kh * s->kw, esz = qs__qdw_elem_size(c->p->out_type);
    size_t last_ch = SIZE_MAX;
    struct qs_qdw_epilogue ep;
    for (size_t t = begin; t < end; t++) {
        size_t ch = t / c->blocks, b = t % c->blocks;
        const int8_t *wc = c->w + ch * taps;
        if (ch != last_ch) epilogue_of(c->p, wc, taps, ch, &ep);
        last_ch = ch;
        size_t oh0 = b * c->block_rows, oh1 = QS_MIN(s->out_h, oh0 + c->block_rows);
        c->v->rows(s, c->x + ch * s->in_h * s->in_w, wc, &ep,
                   c->y + ch * s->out_h * s->out_w * esz, oh0, oh1);
    }
}

void qs__qdwconv_run_with(const struct qs_qdwconv_variant *v, const struct qs_qdwconv_shape *s,
                          const uint8_t *x, const int8_t *w, void *y,
                          const struct qs_qgemm_params *params, void *scratch,
                          qs_pool_t *pool) {
    if (!s->channels || !s->out_h || !s->out_w) return;
    QS_ASSERT(s->stride_h && s->stride_w && s->dil_h && s->dil_w && s->kh && s->kw);
    if (params->out_type == QS_QOUT_U8 || params->out_type == QS_QOUT_S8) {
        // The preconditions of kernels/qgemm.h, asserted as qs__qgemm_run does.
        int32_t tlo = params->out_type == QS_QOUT_U8 ? 0 : -128, thi = tlo + 255;
        QS_ASSERT(params->out_zp >= tlo && params->out_zp <= thi);
        QS_ASSERT(QS_MAX(params->qmin, tlo) <= QS_MIN(params->qmax, thi));
    }
    (void)scratch;
    struct task_ctx c = {v, s, x, w, y, params, 1, s->out_h};
    int threads = qs__pool_threads(pool);
    if (threads > 1 && s->channels < 2 * (size_t)threads) {
        // Few channels: split each plane into row blocks as well.
        size_t want = (2 * (size_t)threads + s->channels - 1) / s->channels;
        c.block_rows = (s->out_h + want - 1) / want;
        c.blocks = (s->out_h + c.block_rows - 1) / c.block_rows;
    }
    qs__pool_run(pool, s->channels * c.blocks, run_task, &c);
}

void qs__qdwconv_run(const struct qs_qdwconv_shape *s, const uint8_t *x, const int8_t *w,
                     void *y, const struct qs_qgemm_params *params, void *scratch,
                     qs_pool_t *pool) {
    qs__qdwconv_run_with(qs__qdwconv_variant(), s, x, w, y, params, scratch, pool);
}
