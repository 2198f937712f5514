// SpMM (kernels/spmm.h): the oracles, packing, the scalar epilogue and the run drivers.
#include "kernels/ref/spmm-impl.h"

#include <string.h>

static inline int32_t wrap_add(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}
static inline int32_t wrap_mul(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a * (uint32_t)b);
}

static inline float clamp_f32(float f, float lo, float hi) {
    f = f < lo ? lo : f;  // max_ps(lo, f) then min_ps(hi, f)
    return f > hi ? hi : f;
}

void qs__spmm_f32_ref(size_t m, size_t k, size_t n, const float *w, size_t ldw, const float *x,
                      size_t ldx, float *c, size_t ldc, const float *bias, float lo, float hi) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float acc = bias ? bias[i] : 0.0f;
            for (size_t kk = 0; kk < k; kk++) acc += w[i * ldw + kk] * x[kk * ldx + j];
            c[i * ldc + j] = clamp_f32(acc, lo, hi);
        }
}

void qs__spmm_q8_ref(size_t m, size_t k, size_t n, const int8_t *w, size_t ldw,
                     const uint8_t *x, size_t ldx, void *c, size_t ldc,
                     const struct qs_qgemm_params *params) {
    // The qgemm oracle with the conv strides is exactly this product.
    qs__qgemm_ref(m, k, n, w, ldw, x, ldx, 1, c, ldc, 1, params);
}

void qs__spmm_q8_store_row(size_t nr, const int32_t *acc, size_t row, void *dst,
                           const struct qs_qgemm_ukernel_params *p) {
    size_t es = qs__qout_size(p->out_type);
    for (size_t j = 0; j < nr; j++) {
        void *d = (char *)dst + j * es;
        switch (p->out_type) {
        case QS_QOUT_U8:
            *(uint8_t *)d = (uint8_t)qs_requant_fp32(acc[j], p->scale[row], p->out_zp, p->qmin,
                                                     p->qmax);
            break;
        case QS_QOUT_S8:
            *(int8_t *)d = (int8_t)qs_requant_fp32(acc[j], p->scale[row], p->out_zp, p->qmin,
                                                   p->qmax);
            break;
        case QS_QOUT_F32: {
            float f = (float)acc[j] * p->scale[row];
            f = f + p->fbias[row];
            *(float *)d = clamp_f32(f, p->fmin, p->fmax);
            break;
        }
        case QS_QOUT_S32:
            *(int32_t *)d = acc[j];
            break;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Packing.

struct src {
    const float *wf;
    const int8_t *wq;
    size_t m, k, ldw;
};
static inline bool nz(const struct src *s, size_t i, size_t j) {
    if (i >= s->m) return false;
    return s->wf ? s->wf[i * s->ldw + j] != 0.0f : s->wq[i * s->ldw + j] != 0;
}

void qs__spmm_weights_destroy(qs_spmm_weights *w) {
    if (!w) return;
    qs__aligned_free(w->ptr);
    qs__aligned_free(w->col);
    qs__aligned_free(w->vf);
    qs__aligned_free(w->vq);
    qs__aligned_free(w->wsum);
    qs__free(w);
}

static enum qs_status pack(const struct qs_spmm_kernel *kern, enum qs_sparse_format f,
                           const struct src *s, qs_spmm_weights **out) {
    const size_t m = s->m, k = s->k;
    if ((unsigned)f >= QS_SPARSE_FORMAT_COUNT || (m && k && !(s->wf || s->wq)))
        return QS_STATUS_INVALID_ARG;
    uint8_t *mask = qs__malloc(m * k + 1);
    if (!mask) return QS_STATUS_NOMEM;
    size_t nnz = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < k; j++) nnz += (mask[i * k + j] = nz(s, i, j));
    if (!qs__sparse_mask_fits(f, m, k, mask)) {
        qs__free(mask);
        return QS_STATUS_INVALID_ARG;
    }
    size_t fmt_bytes = qs__sparse_format_bytes(f, m, k, 0, mask, s->wq ? 1 : 4);
    qs__free(mask);
    const bool q8 = s->wq != NULL;
    const size_t g = (size_t)kern->g, groups = (m + g - 1) / g;
    // Entries per group: columns where any row of the group is non-zero (padded to 4, int8).
    size_t entries = 0;
    for (size_t gi = 0; gi < groups; gi++) {
        size_t e = 0;
        for (size_t j = 0; j < k; j++) {
            bool any = false;
            for (size_t r = 0; r < g && !any; r++) any = nz(s, gi * g + r, j);
            e += any;
        }
        entries += q8 ? (e + 3) / 4 * 4 : e;
    }
    if (entries > UINT32_MAX || k > UINT32_MAX) return QS_STATUS_INVALID_ARG;
    qs_spmm_weights *w = qs__calloc(1, sizeof *w);
    if (!w) return QS_STATUS_NOMEM;
    w->format = f;
    w->q8 = q8;
    w->m = m, w->k = k, w->g = g, w->groups = groups;
    w->nnz = nnz, w->entries = entries, w->fmt_bytes = fmt_bytes;
    w->kern = kern;
    w->ptr = qs__aligned_alloc(sizeof(uint32_t) * (groups + 1));
    w->col = qs__aligned_alloc(sizeof(uint32_t) * (entries + 1));
    if (q8) {
        w->vq = qs__aligned_alloc(entries * g + 4);
        w->wsum = qs__aligned_alloc(sizeof(int32_t) * (groups * g + 1));
    } else {
        w->vf = qs__aligned_alloc(sizeof(float) * (entries * g + 1));
    }
    if (!w->ptr || !w->col || (q8 ? !w->vq || !w->wsum : !w->vf)) {
        qs__spmm_weights_destroy(w);
        return QS_STATUS_NOMEM;
    }
    w->heap_bytes = sizeof *w + sizeof(uint32_t) * (groups + 1 + entries) +
                    (q8 ? entries * g + sizeof(int32_t) * groups * g : sizeof(float) * entries * g);
    size_t e = 0;
    for (size_t gi = 0; gi < groups; gi++) {
        w->ptr[gi] = (uint32_t)e;
        size_t e0 = e;
        uint32_t last = 0;
        for (size_t j = 0; j < k; j++) {
            bool any = false;
            for (size_t r = 0; r < g && !any; r++) any = nz(s, gi * g + r, j);
            if (!any) continue;
            w->col[e] = last = (uint32_t)j;
            for (size_t r = 0; r < g; r++) {
                size_t i = gi * g + r;
                if (q8) {
                    size_t q = (e - e0) / 4, t = (e - e0) % 4;
                    w->vq[e0 * g + (q * g + r) * 4 + t] = i < m ? s->wq[i * s->ldw + j] : 0;
                } else {
                    w->vf[e * g + r] = i < m ? s->wf[i * s->ldw + j] : 0.0f;
                }
            }
            e++;
        }
        if (q8) {
            for (; (e - e0) % 4; e++) {
                w->col[e] = last;
                size_t q = (e - e0) / 4, t = (e - e0) % 4;
                for (size_t r = 0; r < g; r++) w->vq[e0 * g + (q * g + r) * 4 + t] = 0;
            }
            for (size_t r = 0; r < g; r++) {
                size_t i = gi * g + r;
                int32_t sum = 0;
                for (size_t j = 0; i < m && j < k; j++) sum += s->wq[i * s->ldw + j];
                w->wsum[i] = sum;
            }
        }
    }
    w->ptr[groups] = (uint32_t)e;
    QS_ASSERT(e == entries);
    *out = w;
    return QS_STATUS_OK;
}

enum qs_status qs__spmm_pack_f32_kernel(const struct qs_spmm_kernel *kern,
                                        enum qs_sparse_format f, size_t m, size_t k,
                                        const float *w, size_t ldw, qs_spmm_weights **out) {
    if (!kern->f32) return QS_STATUS_INVALID_ARG;
    if (!qs__spmm_kernel_supported(kern)) return QS_STATUS_UNSUPPORTED_HW;
    struct src s = {.wf = w, .m = m, .k = k, .ldw = ldw};
    return pack(kern, f, &s, out);
}

enum qs_status qs__spmm_pack_q8_kernel(const struct qs_spmm_kernel *kern,
                                       enum qs_sparse_format f, size_t m, size_t k,
                                       const int8_t *w, size_t ldw, qs_spmm_weights **out) {
    if (!kern->q8) return QS_STATUS_INVALID_ARG;
    if (!qs__spmm_kernel_supported(kern)) return QS_STATUS_UNSUPPORTED_HW;
    struct src s = {.wq = w, .m = m, .k = k, .ldw = ldw};
    return pack(kern, f, &s, out);
}

static int preferred_g(enum qs_sparse_format f) {
    return f == QS_SPARSE_BSR_4X1 || f == QS_SPARSE_BSR_8X1 ? 4 : 1;
}

enum qs_status qs__spmm_pack_f32(enum qs_sparse_format f, size_t m, size_t k, const float *w,
                                 size_t ldw, qs_spmm_weights **out) {
    const struct qs_spmm_kernel *kern = qs__spmm_kernel_get(false, preferred_g(f));
    if (!kern) kern = qs__spmm_kernel_get(false, 1);
    return qs__spmm_pack_f32_kernel(kern, f, m, k, w, ldw, out);
}

enum qs_status qs__spmm_pack_q8(enum qs_sparse_format f, size_t m, size_t k, const int8_t *w,
                                size_t ldw, qs_spmm_weights **out) {
    const struct qs_spmm_kernel *kern = qs__spmm_kernel_get(true, preferred_g(f));
    if (!kern) kern = qs__spmm_kernel_get(true, 1);
    return qs__spmm_pack_q8_kernel(kern, f, m, k, w, ldw, out);
}

size_t qs__spmm_weights_bytes(const qs_spmm_weights *w) { return w ? w->heap_bytes : 0; }
size_t qs__spmm_nnz(const qs_spmm_weights *w) { return w->nnz; }
size_t qs__spmm_format_bytes(const qs_spmm_weights *w) { return w->fmt_bytes; }
const char *qs__spmm_kernel_name(const qs_spmm_weights *w) { return w->kern->name; }

// ---------------------------------------------------------------------------------------
// Runs. Work items are (group chunk, column chunk) pairs for the pool; one thread runs the
// whole range in one call per panel (the kernel walks column tiles outside and rows inside,
// so a tile of X stays in cache across the rows).

enum { GROUP_CHUNK = 16, PANEL = 128 };

struct job {
    const struct qs_spmm_f32_call *f;
    const struct qs_spmm_q8_call *q;
    size_t groups, n, panels;
    const void *xp;  // packed panels or NULL
    size_t es, k;
};

// The kernel over groups [g0, g1) and panel columns [n0, n1) (inside one panel when X is
// packed).
static void call_kernel(const struct job *jb, size_t g0, size_t g1, size_t n0, size_t n1) {
    const qs_spmm_weights *w = jb->f ? jb->f->w : jb->q->w;
    if (!jb->xp) {
        if (jb->f) w->kern->f32(jb->f, g0, g1, n0, n1);
        else w->kern->q8(jb->q, g0, g1, n0, n1);
        return;
    }
    const size_t t = n0 / PANEL, off = t * PANEL;
    const char *panel = (const char *)jb->xp + t * PANEL * jb->k * jb->es;
    if (jb->f) {
        struct qs_spmm_f32_call c = *jb->f;
        c.x = (const float *)panel, c.ldx = PANEL, c.c += off;
        w->kern->f32(&c, g0, g1, n0 - off, n1 - off);
    } else {
        struct qs_spmm_q8_call c = *jb->q;
        c.x = (const uint8_t *)panel, c.ldx = PANEL;
        c.c = (char *)c.c + off * qs__qout_size(c.p.out_type);
        w->kern->q8(&c, g0, g1, n0 - off, n1 - off);
    }
}

static void task(void *ctx, size_t begin, size_t end) {
    const struct job *jb = ctx;
    for (size_t t = begin; t < end; t++) {
        size_t gc = t / jb->panels, pc = t % jb->panels;
        size_t g0 = gc * GROUP_CHUNK, g1 = QS_MIN(jb->groups, g0 + GROUP_CHUNK);
        size_t n0 = pc * PANEL, n1 = QS_MIN(jb->n, n0 + PANEL);
        call_kernel(jb, g0, g1, n0, n1);
    }
}

// The copy costs about one pass over X; the kernel reads each X element nnz / K times.
// Copy when that reuse is high (aligned rows and a cache-friendly panel pay) or when the
// row stride is a multiple of 2 KiB (a panel would then fall on a few cache sets).
static bool want_packx(const qs_spmm_weights *w, size_t ldx) {
    const char *env = getenv("QS_SPMM_PACKX");
    if (env && *env) return *env == '1';
    const size_t es = w->q8 ? 1 : 4;
    return w->nnz >= 12 * w->k || (ldx * es) % 2048 == 0;
}

static size_t panels_bytes(const qs_spmm_weights *w, size_t n) {
    return (n + PANEL - 1) / PANEL * PANEL * w->k * (w->q8 ? 1 : 4);
}

static size_t epilogue_bytes(const qs_spmm_weights *w) {
    return w->q8 ? 3 * sizeof(int32_t) * (w->groups * w->g + 16) + 64 : 0;
}

size_t qs__spmm_scratch_size(const qs_spmm_weights *w, size_t n) {
    return epilogue_bytes(w) + panels_bytes(w, n) + 64;
}

// Copies X (k x n, row stride ldx) into panels of PANEL columns, each k x PANEL.
static void pack_panels(size_t k, size_t n, size_t es, const void *x, size_t ldx, void *out) {
    const char *src = x;
    char *dst = out;
    for (size_t j0 = 0; j0 < n; j0 += PANEL) {
        const size_t w = QS_MIN((size_t)PANEL, n - j0) * es;
        for (size_t r = 0; r < k; r++, dst += PANEL * es) memcpy(dst, src + (r * ldx + j0) * es, w);
    }
}

static void run(const qs_spmm_weights *w, size_t n, const void *x, size_t ldx,
                const struct qs_spmm_f32_call *f, const struct qs_spmm_q8_call *q,
                void *panels, qs_pool_t *pool) {
    if (w->groups == 0 || n == 0) return;
    const size_t es = w->q8 ? 1 : 4;
    struct job jb = {.f = f, .q = q, .groups = w->groups, .n = n, .es = es, .k = w->k};
    const bool packx = panels && want_packx(w, ldx);
    jb.panels = (n + PANEL - 1) / PANEL;
    if (!pool || qs__pool_threads(pool) <= 1 || w->groups * n < 4096) {
        if (!packx) {
            call_kernel(&jb, 0, w->groups, 0, n);
            return;
        }
        // One panel buffer, refilled per panel: it stays in L2 while the rows sweep it,
        // and X is read from memory once, as without the copy.
        for (size_t n0 = 0; n0 < n; n0 += PANEL) {
            const size_t n1 = QS_MIN(n, n0 + PANEL);
            char *buf = (char *)panels - (n0 / PANEL) * PANEL * w->k * es;  // panel n0/PANEL
            pack_panels(w->k, n1 - n0, es, (const char *)x + n0 * es, ldx, panels);
            jb.xp = buf;
            call_kernel(&jb, 0, w->groups, n0, n1);
        }
        return;
    }
    if (packx) {
        pack_panels(w->k, n, es, x, ldx, panels);
        jb.xp = panels;
    }
    size_t items = (w->groups + GROUP_CHUNK - 1) / GROUP_CHUNK * jb.panels;
    qs__pool_run(pool, items, task, &jb);
}

static void *align64(void *p) { return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

void qs__spmm_f32_run(const qs_spmm_weights *w, size_t n, const float *x, size_t ldx, float *c,
                      size_t ldc, const float *bias, float lo, float hi, void *scratch,
                      qs_pool_t *pool) {
    QS_ASSERT(!w->q8);
    struct qs_spmm_f32_call call = {.w = w, .x = x, .ldx = ldx, .c = c, .ldc = ldc,
                                    .bias = bias, .lo = lo, .hi = hi};
    if (w->k == 0) {
        // No reduction: the kernels never run over an empty X, so write bias + clamp here.
        for (size_t i = 0; i < w->m; i++)
            for (size_t j = 0; j < n; j++)
                c[i * ldc + j] = clamp_f32(bias ? bias[i] : 0.0f, lo, hi);
        return;
    }
    run(w, n, x, ldx, &call, NULL, scratch ? align64(scratch) : NULL, pool);
}

void qs__spmm_q8_run(const qs_spmm_weights *w, size_t n, const uint8_t *x, size_t ldx, void *c,
                     size_t ldc, const struct qs_qgemm_params *params, void *scratch,
                     qs_pool_t *pool) {
    QS_ASSERT(w->q8);
    const size_t rows = w->groups * w->g + 16;
    // Per-row epilogue arrays, padded rows zero (never stored).
    int32_t *init = align64(scratch);
    float *scale = (float *)(init + rows), *fbias = scale + rows;
    void *panels = align64(fbias + rows);
    for (size_t i = 0; i < rows; i++) {
        bool in = i < w->m;
        int32_t b = in && params->bias ? params->bias[i] : 0;
        init[i] = in ? wrap_add(b, wrap_mul(-(int32_t)params->x_zp, w->wsum[i])) : 0;
        scale[i] = in ? params->scale[i] : 0.0f;
        fbias[i] = in && params->fbias ? params->fbias[i] : 0.0f;
    }
    struct qs_spmm_q8_call call = {.w = w, .x = x, .ldx = ldx, .c = c, .ldc = ldc};
    struct qs_qgemm_ukernel_params *p = &call.p;
    p->init = init, p->scale = scale, p->fbias = fbias;
    p->out_type = params->out_type;
    p->out_zp = params->out_zp;
    int32_t lo = params->qmin, hi = params->qmax;
    if (params->out_type == QS_QOUT_U8) lo = QS_MAX(lo, 0), hi = QS_MIN(hi, 255);
    if (params->out_type == QS_QOUT_S8) lo = QS_MAX(lo, -128), hi = QS_MIN(hi, 127);
    p->qmin = lo, p->qmax = hi;
    p->qmin_f = (float)((int64_t)lo - params->out_zp);
    p->qmax_f = (float)((int64_t)hi - params->out_zp);
    p->fmin = params->fmin, p->fmax = params->fmax;
    if (w->k == 0) {
        size_t es = qs__qout_size(p->out_type);
        for (size_t i = 0; i < w->m; i++)
            for (size_t j = 0; j < n; j++)
                qs__spmm_q8_store_row(1, &init[i], i, (char *)c + (i * ldc + j) * es, p);
        return;
    }
    run(w, n, x, ldx, NULL, &call, panels, pool);
}

void qs__spmm_transpose_f32(size_t r, size_t c, const float *src, size_t lds, float *dst,
                            size_t ldd) {
#if (defined(__x86_64__) || defined(_M_X64)) && QS_ENABLE_AVX2
    if (qs_cpu_info_get()->isa_flags & QS_ISA_X86_AVX2) {
        qs__spmm_transpose_f32__avx2(r, c, src, lds, dst, ldd);
        return;
    }
#endif
    enum { B = 16 };
    for (size_t i0 = 0; i0 < r; i0 += B)
        for (size_t j0 = 0; j0 < c; j0 += B)
            for (size_t i = i0; i < QS_MIN(r, i0 + B); i++)
                for (size_t j = j0; j < QS_MIN(c, j0 + B); j++) dst[j * ldd + i] = src[i * lds + j];
}

// ---------------------------------------------------------------------------------------
// Format the executor packs in.

static enum qs_sparse_format choose(size_t m, size_t k, const float *wf, const int8_t *wq,
                                    size_t ldw, size_t *nnz_out) {
    size_t nnz = 0, blocks = 0;
    for (size_t i0 = 0; i0 < m; i0 += 4)
        for (size_t j = 0; j < k; j++) {
            size_t c = 0;
            for (size_t i = i0; i < QS_MIN(m, i0 + 4); i++)
                c += wf ? wf[i * ldw + j] != 0.0f : wq[i * ldw + j] != 0;
            nnz += c;
            blocks += c != 0;
        }
    if (nnz_out) *nnz_out = nnz;
    return nnz && blocks * 4 * 10 <= nnz * 11 ? QS_SPARSE_BSR_4X1 : QS_SPARSE_CSR;
}

enum qs_sparse_format qs__spmm_choose_format_f32(size_t m, size_t k, const float *w,
                                                 size_t *nnz_out) {
    return choose(m, k, w, NULL, k, nnz_out);
}

enum qs_sparse_format qs__spmm_choose_format_q8(size_t m, size_t k, const int8_t *w, size_t ldw,
                                                size_t *nnz_out) {
    return choose(m, k, NULL, w, ldw, nnz_out);
}
