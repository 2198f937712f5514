// The integer GEMM driver behind kernels/qgemm.h: packs weights once (layout in
// kernels/qgemm-ukernel.h), and per call packs activation panels into the scratch and runs
// the selected microkernel over MR x NR tiles, blocked so that the packed panels of one block
// stay in L2 while every weight tile passes over them.
#include "kernels/qgemm-ukernel.h"

#include <string.h>

struct qs_qgemm_weights {
    const struct qs_qgemm_config *cfg;
    size_t n, k, kc, n_tiles, tile_bytes;
    int32_t *wsum;  // [n_tiles * MR], zeros past N
    void *packed;   // n_tiles * tile_bytes; wsum follows in the same allocation
    size_t bytes;
};

// Packed activations of one block: about half of a 1 MiB L2 (Zen 4/5, recent Intel) or all
// of a 512 KiB one, so that a block outlives the weight tiles streamed over it.
enum { BLOCK_BYTES = 256 * 1024 };

enum qs_status qs__qgemm_pack_config(const struct qs_qgemm_config *cfg, size_t n, size_t k,
                                     const int8_t *w, size_t ldw, qs_qgemm_weights **out) {
    if (!qs__qgemm_config_supported(cfg)) {
        qs__log(QS_LOG_ERROR, "failed to pack integer GEMM weights for '%s': CPU lacks its ISA", cfg->name);
        return QS_STATUS_UNSUPPORTED_HW;
    }
    if (cfg->w_min > -128) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < k; j++)
                if (w[i * ldw + j] < cfg->w_min) {
                    qs__log(QS_LOG_ERROR, "failed to pack integer GEMM weights for '%s': weight %d "
                            "below its range", cfg->name, w[i * ldw + j]);
                    return QS_STATUS_INVALID_ARG;
                }
    }
    qs_qgemm_weights *pw = qs__calloc(1, sizeof *pw);
    if (!pw) return QS_STATUS_NOMEM;
    size_t mr = cfg->mr, kr = cfg->kr;
    pw->cfg = cfg;
    pw->n = n;
    pw->k = k;
    pw->kc = QS_MAX(qs__qgemm_round_up(k, kr), kr);
    pw->n_tiles = (n + mr - 1) / mr;
    pw->tile_bytes = qs__qgemm_wtile_bytes(cfg, pw->kc);
    size_t wbytes = pw->n_tiles * pw->tile_bytes;
    // At least one cache line, so that N == 0 is not mistaken for an allocation failure.
    pw->bytes = QS_MAX(wbytes + pw->n_tiles * mr * sizeof(int32_t), (size_t)64);
    pw->packed = qs__aligned_alloc(pw->bytes);
    if (!pw->packed) {
        qs__free(pw);
        return QS_STATUS_NOMEM;
    }
    memset(pw->packed, 0, pw->bytes);
    pw->wsum = (int32_t *)((char *)pw->packed + wbytes);
    for (size_t t = 0; t < pw->n_tiles; t++) {
        char *tile = (char *)pw->packed + t * pw->tile_bytes;
        for (size_t m = 0; m < mr; m++) {
            size_t row = t * mr + m;
            if (row >= n) break;
            int32_t sum = 0;
            for (size_t kk = 0; kk < k; kk++) {
                int8_t v = w[row * ldw + kk];
                sum += v;
                size_t idx = (kk / kr) * mr * kr + m * kr + kk % kr;
                if (cfg->w_elem == 1)
                    ((int8_t *)tile)[idx] = v;
                else
                    ((int16_t *)tile)[idx] = v;
            }
            pw->wsum[row] = sum;
        }
    }
    *out = pw;
    return QS_STATUS_OK;
}

enum qs_status qs__qgemm_pack(size_t n, size_t k, const int8_t *w, size_t ldw,
                              qs_qgemm_weights **out) {
    int w_min = 127;
    for (size_t i = 0; i < n && w_min > -128; i++)
        for (size_t j = 0; j < k; j++) w_min = QS_MIN(w_min, (int)w[i * ldw + j]);
    return qs__qgemm_pack_config(qs__qgemm_config_get(w_min), n, k, w, ldw, out);
}

void qs__qgemm_weights_destroy(qs_qgemm_weights *w) {
    if (!w) return;
    qs__aligned_free(w->packed);
    qs__free(w);
}

size_t qs__qgemm_weights_bytes(const qs_qgemm_weights *w) { return w ? sizeof *w + w->bytes : 0; }

const char *qs__qgemm_kernel_name(const qs_qgemm_weights *w) { return w->cfg->name; }

const struct qs_qgemm_config *qs__qgemm_weights_config(const qs_qgemm_weights *w) { return w->cfg; }

static size_t per_channel_bytes(const qs_qgemm_weights *w) {
    return qs__qgemm_round_up(3 * w->n_tiles * w->cfg->mr * sizeof(int32_t), 64);
}

size_t qs__qgemm_scratch_size(const qs_qgemm_weights *w, size_t p) {
    size_t panels = (p + w->cfg->nr - 1) / w->cfg->nr;
    return 64 + per_channel_bytes(w) + panels * qs__qgemm_xpanel_bytes(w->cfg, w->kc);
}

struct run_ctx {
    const qs_qgemm_weights *w;
    const struct qs_qgemm_config *cfg;
    size_t p, n_panels, panel_bytes, block_panels, n_blocks, n_groups, tiles_per_group;
    const uint8_t *x;
    size_t x_stride_k, x_stride_p;
    char *c;
    size_t c_stride_n, c_stride_p;  // bytes
    char *panels;
    struct qs_qgemm_ukernel_params up;  // per-channel pointers at channel 0
};

static void pack_panels(const struct run_ctx *r, size_t q0, size_t q1) {
    for (size_t q = q0; q < q1; q++) {
        size_t p0 = q * r->cfg->nr;
        size_t np = QS_MIN((size_t)r->cfg->nr, r->p - p0);
        r->cfg->packx(r->cfg, r->w->k, np, r->x + p0 * r->x_stride_p, r->x_stride_k,
                      r->x_stride_p, r->panels + q * r->panel_bytes);
    }
}

static void compute(const struct run_ctx *r, size_t t0, size_t t1, size_t q0, size_t q1) {
    const struct qs_qgemm_config *cfg = r->cfg;
    const qs_qgemm_weights *w = r->w;
    struct qs_qgemm_ukernel_params up = r->up;
    for (size_t t = t0; t < t1; t++) {
        size_t n0 = t * cfg->mr, mr = QS_MIN((size_t)cfg->mr, w->n - n0);
        up.init = r->up.init + n0;
        up.scale = r->up.scale + n0;
        up.fbias = r->up.fbias + n0;
        const char *wt = (const char *)w->packed + t * w->tile_bytes;
        char *crow = r->c + n0 * r->c_stride_n;
        for (size_t q = q0; q < q1; q++) {
            size_t p0 = q * cfg->nr, nr = QS_MIN((size_t)cfg->nr, r->p - p0);
            cfg->ukernel(mr, nr, w->kc, wt, r->panels + q * r->panel_bytes,
                         crow + p0 * r->c_stride_p, r->c_stride_n, r->c_stride_p, &up);
        }
    }
}

static void pack_task(void *ctx, size_t b, size_t e) { pack_panels(ctx, b, e); }

static void compute_task(void *ctx, size_t b, size_t e) {
    const struct run_ctx *r = ctx;
    for (size_t i = b; i < e; i++) {
        size_t blk = i / r->n_groups, grp = i % r->n_groups;
        size_t q0 = blk * r->block_panels, q1 = QS_MIN(q0 + r->block_panels, r->n_panels);
        size_t t0 = grp * r->tiles_per_group;
        size_t t1 = QS_MIN(t0 + r->tiles_per_group, r->w->n_tiles);
        if (t0 < t1) compute(r, t0, t1, q0, q1);
    }
}

void qs__qgemm_run(const qs_qgemm_weights *w, size_t p, const uint8_t *x, size_t x_stride_k,
                   size_t x_stride_p, void *c, size_t c_stride_n, size_t c_stride_p,
                   const struct qs_qgemm_params *params, void *scratch, qs_pool_t *pool) {
    if (!p || !w->n) return;
    const struct qs_qgemm_config *cfg = w->cfg;
    size_t es = qs__qout_size(params->out_type);
    struct run_ctx r = {
        .w = w, .cfg = cfg, .p = p, .x = x, .x_stride_k = x_stride_k, .x_stride_p = x_stride_p,
        .c = c, .c_stride_n = c_stride_n * es, .c_stride_p = c_stride_p * es,
    };
    struct qs_qgemm_ukernel_params *up = &r.up;
    up->out_type = params->out_type;
    up->out_zp = params->out_zp;
    up->fmin = params->fmin;
    up->fmax = params->fmax;
    int32_t lo = params->qmin, hi = params->qmax;
    if (params->out_type == QS_QOUT_U8 || params->out_type == QS_QOUT_S8) {
        int32_t tlo = params->out_type == QS_QOUT_U8 ? 0 : -128, thi = tlo + 255;
        QS_ASSERT(params->out_zp >= tlo && params->out_zp <= thi);
        lo = QS_MAX(lo, tlo);
        hi = QS_MIN(hi, thi);
        QS_ASSERT(lo <= hi);
    }
    up->qmin = lo;
    up->qmax = hi;
    up->qmin_f = (float)((int64_t)lo - params->out_zp);
    up->qmax_f = (float)((int64_t)hi - params->out_zp);

    // Per-channel arrays, padded to whole tiles so that kernels may read MR values.
    char *base = (char *)qs__qgemm_round_up((uintptr_t)scratch, 64);
    size_t np_ch = w->n_tiles * cfg->mr;
    int32_t *init = (int32_t *)base;
    float *scale = (float *)(init + np_ch), *fbias = scale + np_ch;
    uint32_t xoff = (uint32_t)((int32_t)cfg->x_bias - (int32_t)params->x_zp);
    for (size_t i = 0; i < np_ch; i++) {
        bool in = i < w->n;
        uint32_t b = in && params->bias ? (uint32_t)params->bias[i] : 0;
        init[i] = (int32_t)(b + xoff * (uint32_t)w->wsum[i]);
        scale[i] = in && params->scale ? params->scale[i] : 0.0f;
        fbias[i] = in && params->fbias ? params->fbias[i] : 0.0f;
    }
    up->init = init;
    up->scale = scale;
    up->fbias = fbias;
    r.panels = base + per_channel_bytes(w);
    r.panel_bytes = qs__qgemm_xpanel_bytes(cfg, w->kc);
    r.n_panels = (p + cfg->nr - 1) / cfg->nr;
    r.block_panels = QS_MAX((size_t)1, BLOCK_BYTES / r.panel_bytes);
    r.n_blocks = (r.n_panels + r.block_panels - 1) / r.block_panels;

    int threads = qs__pool_threads(pool);
    if (threads <= 1) {
        for (size_t b = 0; b < r.n_blocks; b++) {
            size_t q0 = b * r.block_panels, q1 = QS_MIN(q0 + r.block_panels, r.n_panels);
            pack_panels(&r, q0, q1);
            compute(&r, 0, w->n_tiles, q0, q1);
        }
        return;
    }
    // Several threads: pack every panel first, then share (channel group, block) items,
    // aiming at four items per thread so that uneven tiles balance out.
    qs__pool_run(pool, r.n_panels, pack_task, &r);
    size_t want = 4 * (size_t)threads;
    r.n_groups = QS_MIN(w->n_tiles, QS_MAX((size_t)1, (want + r.n_blocks - 1) / r.n_blocks));
    r.tiles_per_group = (w->n_tiles + r.n_groups - 1) / r.n_groups;
    qs__pool_run(pool, r.n_blocks * r.n_groups, compute_task, &r);
}
