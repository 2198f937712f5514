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
            // Element kk goes to (kk / kr) * mr * kr + m * kr + kk % kr, without a division
            // per element (two of them were 0.7% of a mixed search, which packs per session).
            for (size_t kb = 0, base = m * kr; kb < k; kb += kr, base += mr * kr)
                for (size_t r = 0; r < kr && kb + r < k; r++) {
                    int8_t v = w[row * ldw + kb + r];
                    sum += v;
                    if (cfg->w_elem == 1)
                        ((int8_t *)tile)[base + r] = v;
                    else
                        ((int16_t *)tile)[base + r] = v;
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
    uint8_t x_zp;
    char *c;
    size_t c_stride_n, c_stride_p;  // bytes
    char *panels;
    struct qs_qgemm_ukernel_params up;  // per-channel pointers at channel 0
    // Implicit-GEMM convolution (qs__qgemm_conv_run): panels are packed from the image.
    const struct qs_qconv_shape *conv;
    qs_qconv_packx_fn conv_packx;
    const struct qs_qconv_row *conv_rows;
};

static inline uint64_t low_bits(int64_t n) {
    return n <= 0 ? 0 : n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1;
}

// The pixels of panel q: pix, and per tap the pixels inside the image (a row mask per
// kernel row AND a column mask per kernel column), and whether the panel reads every tap
// as one run of step 1 or 2. Work per run of pixels in one output row, not per pixel.
static void conv_panel(const struct run_ctx *r, size_t q, struct qs_qconv_panel *cp,
                       int32_t *pix, uint64_t *valid) {
    const struct qs_qconv_shape *s = r->conv;
    const size_t nr = r->cfg->nr, p0 = q * nr, np = QS_MIN(nr, r->p - p0);
    const int64_t H = (int64_t)s->in_h, W = (int64_t)s->in_w, OW = (int64_t)s->out_w;
    const int64_t sh = (int64_t)s->stride_h, sw = (int64_t)s->stride_w;
    const int64_t dh = (int64_t)s->dil_h, dw = (int64_t)s->dil_w;
    uint64_t rowm[QS_QCONV_MAX_TAPS], colm[QS_QCONV_MAX_TAPS];
    for (size_t i = 0; i < s->kh; i++) rowm[i] = 0;
    for (size_t i = 0; i < s->kw; i++) colm[i] = 0;
    int64_t oh = (int64_t)(p0 / s->out_w), ow = (int64_t)(p0 % s->out_w);
    int step = sw == 1 || sw == 2 ? (int)sw : 0;
    for (int64_t j = 0; j < (int64_t)np;) {
        const int64_t seg = QS_MIN(OW - ow, (int64_t)np - j);
        const int64_t ih0 = oh * sh - (int64_t)s->pad_top;
        const int64_t iw0 = ow * sw - (int64_t)s->pad_left;
        const int32_t start = (int32_t)(ih0 * W + iw0);
        if (j > 0 && start - pix[j - 1] != step) step = 0;
        for (int64_t t = 0; t < seg; t++) pix[j + t] = start + (int32_t)(t * sw);
        const uint64_t bits = low_bits(seg) << j;
        int64_t ih = ih0;
        for (size_t i = 0; i < s->kh; i++, ih += dh)
            if ((uint64_t)ih < (uint64_t)H) rowm[i] |= bits;
        int64_t iw = iw0;  // column of the run's first pixel for tap column i
        for (size_t i = 0; i < s->kw; i++, iw += dw) {
            // Pixels t of the run with 0 <= iw + t * sw < W.
            const int64_t lo = iw < 0 ? (-iw + sw - 1) / sw : 0;
            const int64_t hi = iw >= W ? 0 : QS_MIN(seg, (W - 1 - iw) / sw + 1);
            if (hi > lo) colm[i] |= (low_bits(hi) & ~low_bits(lo)) << j;
        }
        j += seg;
        ow = 0;
        oh++;
    }
    for (size_t i = 0; i < s->kh; i++)
        for (size_t j = 0; j < s->kw; j++) valid[i * s->kw + j] = rowm[i] & colm[j];
    *cp = (struct qs_qconv_panel){
        .x = r->x, .rows = r->conv_rows, .k = r->w->k, .taps = s->kh * s->kw, .np = np,
        .x_zp = r->x_zp, .flip = s->flip, .step = step, .pix = pix, .valid = valid};
}

static void pack_panels(const struct run_ctx *r, size_t q0, size_t q1) {
    if (r->conv) {
        int32_t pix[QS_QCONV_MAX_NR];
        uint64_t valid[QS_QCONV_MAX_TAPS];
        for (size_t q = q0; q < q1; q++) {
            struct qs_qconv_panel cp;
            conv_panel(r, q, &cp, pix, valid);
            r->conv_packx(r->cfg, &cp, r->panels + q * r->panel_bytes);
        }
        return;
    }
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

// The per-tile epilogue parameters of a call, with the per-channel arrays (padded to whole
// tiles, so that kernels may read MR values) at the start of the scratch. Returns the first
// byte after them (64-byte aligned).
static char *epilogue_setup(const qs_qgemm_weights *w, const struct qs_qgemm_params *params,
                            void *scratch, struct qs_qgemm_ukernel_params *up) {
    const struct qs_qgemm_config *cfg = w->cfg;
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
    return base + per_channel_bytes(w);
}

static void run(struct run_ctx *rp, const struct qs_qgemm_params *params, void *scratch,
                qs_pool_t *pool) {
    struct run_ctx r = *rp;  // a local copy: the pool's workers read it from this frame
    const qs_qgemm_weights *w = r.w;
    const struct qs_qgemm_config *cfg = w->cfg;
    const size_t p = r.p;
    r.x_zp = params->x_zp;
    r.panels = epilogue_setup(w, params, scratch, &r.up);
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

void qs__qgemm_run(const qs_qgemm_weights *w, size_t p, const uint8_t *x, size_t x_stride_k,
                   size_t x_stride_p, void *c, size_t c_stride_n, size_t c_stride_p,
                   const struct qs_qgemm_params *params, void *scratch, qs_pool_t *pool) {
    if (!p || !w->n) return;
    size_t es = qs__qout_size(params->out_type);
    struct run_ctx r = {
        .w = w, .cfg = w->cfg, .p = p, .x = x, .x_stride_k = x_stride_k,
        .x_stride_p = x_stride_p, .c = c, .c_stride_n = c_stride_n * es,
        .c_stride_p = es * c_stride_p,
    };
    run(&r, params, scratch, pool);
}

// ---------------------------------------------------------------------------------------
// Implicit-GEMM convolution.

static qs_qconv_packx_fn conv_packer(const struct qs_qgemm_config *cfg) {
#if (defined(__x86_64__) || defined(_M_X64)) && QS_ENABLE_AVX512VNNI
    if (cfg->packx == qs_qu8_gemm_packx_c4__avx512 && cfg->nr % 16 == 0 && cfg->kr == 4 &&
        cfg->x_elem == 1 && cfg->x_bias == 0)
        return qs_qu8_conv_packx_c4__avx512;
#endif
    (void)cfg;
    return NULL;
}

bool qs__qgemm_conv_supported(const qs_qgemm_weights *w, const struct qs_qconv_shape *s,
                              bool fast) {
    const size_t taps = s->kh * s->kw, plane = s->in_h * s->in_w;
    if (!taps || taps > QS_QCONV_MAX_TAPS || s->channels * taps != w->k || !s->out_h ||
        !s->out_w || w->cfg->nr > QS_QCONV_MAX_NR || !s->stride_h || !s->stride_w)
        return false;
    // Every offset (pixel, tap and channel bases) within int32, with room for the padding.
    const size_t lim = (size_t)1 << 30;
    if (plane >= lim || s->in_h >= lim || s->in_w >= lim || s->pad_top >= lim ||
        s->pad_left >= lim || s->out_h * s->stride_h >= lim || s->out_w * s->stride_w >= lim ||
        (s->kh - 1) * s->dil_h >= lim || (s->kw - 1) * s->dil_w >= lim ||
        (s->out_h * s->stride_h + (s->kh - 1) * s->dil_h + 1) * s->in_w >= lim ||
        s->channels * plane >= lim)
        return false;
    return !fast || conv_packer(w->cfg) != NULL;
}

// The row table follows the GEMM's scratch.
static size_t conv_rows_at(const qs_qgemm_weights *w, const struct qs_qconv_shape *s) {
    return qs__qgemm_round_up(qs__qgemm_scratch_size(w, s->out_h * s->out_w), 64);
}

size_t qs__qgemm_conv_scratch_size(const qs_qgemm_weights *w, const struct qs_qconv_shape *s) {
    return conv_rows_at(w, s) + 64 + w->k * sizeof(struct qs_qconv_row);
}

void qs__qgemm_conv_run(const qs_qgemm_weights *w, const struct qs_qconv_shape *s,
                        const uint8_t *x, void *c, size_t c_stride_n,
                        const struct qs_qgemm_params *params, void *scratch, qs_pool_t *pool) {
    QS_ASSERT(qs__qgemm_conv_supported(w, s, false));
    const size_t p = s->out_h * s->out_w;
    if (!w->n) return;
    size_t es = qs__qout_size(params->out_type);
    struct run_ctx r = {
        .w = w, .cfg = w->cfg, .p = p, .x = x, .c = c, .c_stride_n = c_stride_n * es,
        .c_stride_p = es, .conv = s,
    };
    r.conv_packx = conv_packer(w->cfg);
    if (!r.conv_packx) r.conv_packx = qs__qconv_packx_generic;
    const struct qs_qconv_row *rows = s->rows;
    if (!rows) {
        uintptr_t at = qs__qgemm_round_up((uintptr_t)scratch + conv_rows_at(w, s), 64);
        qs__qgemm_conv_rows(s, (void *)at);
        rows = (const struct qs_qconv_row *)at;
    }
    r.conv_rows = rows;
    run(&r, params, scratch, pool);
}

size_t qs__qgemm_conv_rows_bytes(const struct qs_qconv_shape *s) {
    return s->channels * s->kh * s->kw * sizeof(struct qs_qconv_row);
}

void qs__qgemm_conv_rows(const struct qs_qconv_shape *s, void *out) {
    struct qs_qconv_row *rows = out;
    const size_t plane = s->in_h * s->in_w;
    for (size_t ch = 0, kk = 0; ch < s->channels; ch++)
        for (size_t i = 0; i < s->kh; i++)
            for (size_t j = 0; j < s->kw; j++, kk++)
                rows[kk] = (struct qs_qconv_row){
                    (int32_t)(ch * plane + i * s->dil_h * s->in_w + j * s->dil_w),
                    (int32_t)(i * s->kw + j)};
}

void qs__qconv_packx_generic(const struct qs_qgemm_config *cfg, const struct qs_qconv_panel *cp,
                             void *packed) {
    const size_t nr = cfg->nr, kr = cfg->kr, kc = QS_MAX(qs__qgemm_round_up(cp->k, kr), kr);
    const int32_t bias = cfg->x_bias;
    uint8_t *o8 = packed;
    int16_t *o16 = packed;
    for (size_t kk = 0; kk < kc; kk++) {
        const bool live = kk < cp->k;
        const uint8_t *xr = live ? cp->x + cp->rows[kk].off : cp->x;
        const uint64_t valid = live ? cp->valid[cp->rows[kk].tap] : 0;
        for (size_t j = 0; j < nr; j++) {
            int32_t v = 0;
            if (live && j < cp->np)
                v = ((valid >> j) & 1 ? (int32_t)(xr[cp->pix[j]] ^ cp->flip)
                                      : (int32_t)cp->x_zp) - bias;
            size_t idx = (kk / kr) * nr * kr + j * kr + kk % kr;
            if (cfg->x_elem == 1)
                o8[idx] = (uint8_t)v;
            else
                o16[idx] = (int16_t)v;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Direct convolution (kernels/qgemm.h, qs__qdconv_*). The padded image (hp x wp, the rows
// and columns the output reads) is split by stride phase: stride 2 keeps four planes of
// hq x wq = ceil(hp / 2) x ceil(wp / 2) pixels (even/odd rows x even/odd columns), so that
// every tap reads one plane at stride 1: tap (i, j) of output (oy, ox) is pixel
// (oy + i / st, ox + j / st) of plane (i % st, j % st). A channel group holds st * st planes.

struct qs_qdconv {
    struct qs_qconv_shape s;
    size_t n, c4, st;
    size_t hq, wq, q4, g4;  // phase plane rows, columns and bytes; bytes per channel group
    bool two_rows;          // tiles of two output rows (out_w == NR / 2)
    qs_qgemm_weights *w;    // K order ((c / 4 * kh + i) * kw + j) * 4 + c % 4
    qs_qdconv_ukernel_fn ukernel;  // NULL: the portable tile below
    bool wide;              // pairs of tiles through the 8 x 32 AVX-512 VNNI kernel
    qs_qdconv_interleave_fn interleave;
    int32_t *koff;          // [kc / 4]: byte offset of k-group g from a tile's pixel 0
};

static bool dconv_geometry(const struct qs_qconv_shape *s) {
    if (s->flip || s->stride_h != s->stride_w || (s->stride_h != 1 && s->stride_h != 2) ||
        s->dil_h != 1 || s->dil_w != 1 || !s->kh || !s->kw || !s->out_h || !s->out_w ||
        !s->in_h || !s->in_w || !s->channels)
        return false;
    const size_t lim = (size_t)1 << 30;
    if (s->out_h >= lim || s->out_w >= lim || s->kh >= lim || s->kw >= lim ||
        s->pad_top >= lim || s->pad_left >= lim)
        return false;
    const size_t st = s->stride_h;
    const size_t hp = (s->out_h - 1) * st + s->kh, wp = (s->out_w - 1) * st + s->kw;
    const size_t hq = (hp + st - 1) / st, wq = (wp + st - 1) / st;
    const size_t c4 = (s->channels + 3) / 4;
    return hq * (wq + 2) < lim / 4 && c4 * st * st * hq * (wq + 2) * 4 < lim &&
           c4 * s->kh * s->kw < lim;
}

static bool dconv_cfg_ok(const struct qs_qgemm_config *cfg) {
    return cfg->kr == 4 && cfg->w_elem == 1 && cfg->x_elem == 1 && cfg->x_bias == 0 &&
           cfg->nr <= 64 && cfg->mr <= 64 && cfg->nr % 2 == 0;
}

static qs_qdconv_ukernel_fn dconv_ukernel(const struct qs_qgemm_config *cfg) {
#if (defined(__x86_64__) || defined(_M_X64)) && QS_ENABLE_AVX512VNNI
    if (cfg->ukernel == qs_qu8_qc8w_gemm_minmax_ukernel_16x16c4__avx512vnni)
        return qs_qu8_qc8w_dconv_minmax_ukernel_16x16c4__avx512vnni;
#endif
    (void)cfg;
    return NULL;
}

bool qs__qdconv_supported(const struct qs_qconv_shape *s, size_t n, bool fast) {
    if (!n || !dconv_geometry(s)) return false;
    if (!fast) return true;
    const struct qs_qgemm_config *cfg = qs__qgemm_config_get(-128);
    if (!dconv_cfg_ok(cfg) || !dconv_ukernel(cfg)) return false;
    // Tiles are runs of one output row (or two rows of NR / 2): at least 3/4 of their
    // lanes must be pixels.
    const size_t nr = cfg->nr, tiles = (s->out_w + nr - 1) / nr;
    return 2 * s->out_w == nr || 3 * tiles * nr <= 4 * s->out_w;
}

enum qs_status qs__qdconv_create(const struct qs_qconv_shape *s, size_t n, const int8_t *w,
                                 const char *cfg_name, qs_qdconv **out) {
    if (!qs__qdconv_supported(s, n, false)) return QS_STATUS_INVALID_ARG;
    const struct qs_qgemm_config *cfg = NULL;
    const size_t taps = s->kh * s->kw, k = s->channels * taps;
    if (cfg_name) {
        size_t nc;
        const struct qs_qgemm_config *all = qs__qgemm_configs(&nc);
        for (size_t i = 0; i < nc && !cfg; i++)
            if (!strcmp(all[i].name, cfg_name)) cfg = &all[i];
        if (!cfg) return QS_STATUS_INVALID_ARG;
        if (!qs__qgemm_config_supported(cfg)) return QS_STATUS_UNSUPPORTED_HW;
    } else {
        int w_min = 127;
        for (size_t i = 0; i < n * k; i++) w_min = QS_MIN(w_min, (int)w[i]);
        cfg = qs__qgemm_config_get(w_min);
    }
    if (!dconv_cfg_ok(cfg)) return QS_STATUS_UNSUPPORTED_HW;
    qs_qdconv *d = qs__calloc(1, sizeof *d);
    if (!d) return QS_STATUS_NOMEM;
    d->s = *s;
    d->s.rows = NULL;
    d->n = n;
    d->c4 = (s->channels + 3) / 4;
    d->st = s->stride_h;
    const size_t hp = (s->out_h - 1) * d->st + s->kh, wp = (s->out_w - 1) * d->st + s->kw;
    d->hq = (hp + d->st - 1) / d->st;
    d->wq = (wp + d->st - 1) / d->st;
    d->q4 = d->hq * d->wq * 4;
    d->g4 = d->st * d->st * d->q4;
    d->two_rows = 2 * s->out_w == cfg->nr;
    const size_t kd = d->c4 * taps * 4;
    int8_t *wd = qs__calloc(QS_MAX(n * kd, (size_t)1), 1);
    d->koff = qs__malloc(sizeof(int32_t) * (kd / 4));
    enum qs_status st = QS_STATUS_NOMEM;
    if (!wd || !d->koff) goto done;
    for (size_t m = 0; m < n; m++)
        for (size_t c = 0; c < s->channels; c++)
            for (size_t t = 0; t < taps; t++)
                wd[m * kd + ((c / 4) * taps + t) * 4 + c % 4] = w[m * k + c * taps + t];
    for (size_t cg = 0, g = 0; cg < d->c4; cg++)
        for (size_t i = 0; i < s->kh; i++)
            for (size_t j = 0; j < s->kw; j++, g++)
                d->koff[g] = (int32_t)(cg * d->g4 + ((i % d->st) * d->st + j % d->st) * d->q4 +
                                       ((i / d->st) * d->wq + j / d->st) * 4);
    if ((st = qs__qgemm_pack_config(cfg, n, kd, wd, kd, &d->w)) != QS_STATUS_OK) goto done;
    d->ukernel = dconv_ukernel(cfg);
    d->interleave = qs__qdconv_interleave_scalar;
#if (defined(__x86_64__) || defined(_M_X64)) && QS_ENABLE_AVX512VNNI
    if (d->ukernel) d->interleave = qs_qu8_dconv_interleave__avx512;
    // Not for a short K (3 input channels): there the epilogue, twice as many calls of
    // it, outweighs the loads saved (0.86x on ResNet-20's first conv).
    d->wide = d->ukernel == qs_qu8_qc8w_dconv_minmax_ukernel_16x16c4__avx512vnni &&
              d->w->kc >= 64;
#endif
done:
    qs__free(wd);
    if (st != QS_STATUS_OK) {
        qs__qdconv_destroy(d);
        return st;
    }
    *out = d;
    return QS_STATUS_OK;
}

void qs__qdconv_destroy(qs_qdconv *d) {
    if (!d) return;
    qs__qgemm_weights_destroy(d->w);
    qs__free(d->koff);
    qs__free(d);
}

const char *qs__qdconv_kernel_name(const qs_qdconv *d) { return d->w->cfg->name; }

// Readable bytes past the last plane: a partial or two-row tile reads on into the next
// rows (their lanes are never stored).
static size_t dconv_slack(const qs_qdconv *d) { return 2 * d->wq * 4 + 256; }

size_t qs__qdconv_scratch_size(const qs_qdconv *d) {
    return 64 + per_channel_bytes(d->w) + d->c4 * d->g4 + dconv_slack(d);
}

// The portable tile: exact int32 sums (modulo 2^32, as every kernel), scalar epilogue.
static void dconv_tile_scalar(const struct qs_qgemm_config *cfg, size_t mr, size_t nr,
                              size_t kc, const int8_t *w, const uint8_t *x, const int32_t *koff,
                              size_t x_row, void *c, size_t c_stride_n, size_t c_stride_p,
                              const struct qs_qgemm_ukernel_params *p) {
    const size_t MR = cfg->mr, half = cfg->nr / 2;
    int32_t acc[64 * 64];
    for (size_t m = 0; m < mr; m++)
        for (size_t j = 0; j < nr; j++) {
            const size_t at = x_row && j >= half ? x_row + 4 * (j - half) : 4 * j;
            uint32_t a = (uint32_t)p->init[m];
            for (size_t g = 0; g < kc / 4; g++) {
                const int8_t *wg = w + g * MR * 4 + m * 4;
                const uint8_t *xg = x + koff[g] + at;
                for (size_t r = 0; r < 4; r++) a += (uint32_t)((int32_t)wg[r] * (int32_t)xg[r]);
            }
            acc[m * 64 + j] = (int32_t)a;
        }
    qs__qgemm_store_tile(mr, nr, acc, 64, c, c_stride_n, c_stride_p, p);
}

struct dconv_ctx {
    const qs_qdconv *d;
    const uint8_t *xp;  // the interleaved planes
    char *c;
    size_t c_stride_n;  // bytes
    size_t es;
    struct qs_qgemm_ukernel_params up;
};

// Channel tile t over pixels [ox, ox + nr) of output row oy (and row oy + 1 in two-row
// mode, x_row != 0).
static void dconv_tile(const struct dconv_ctx *r, size_t t, size_t oy, size_t ox, size_t nr,
                       size_t x_row) {
    const qs_qdconv *d = r->d;
    const qs_qgemm_weights *w = d->w;
    const struct qs_qgemm_config *cfg = w->cfg;
    struct qs_qgemm_ukernel_params up = r->up;
    const uint8_t *xb = r->xp + (oy * d->wq + ox) * 4;
    const size_t n0 = t * cfg->mr, mr = QS_MIN((size_t)cfg->mr, w->n - n0);
    up.init = r->up.init + n0;
    up.scale = r->up.scale + n0;
    up.fbias = r->up.fbias + n0;
    const void *wt = (const char *)w->packed + t * w->tile_bytes;
    char *ct = r->c + (oy * d->s.out_w + ox) * r->es + n0 * r->c_stride_n;
    if (d->ukernel)
        d->ukernel(mr, nr, w->kc, wt, xb, d->koff, x_row, ct, r->c_stride_n, r->es, &up);
    else
        dconv_tile_scalar(cfg, mr, nr, w->kc, wt, xb, d->koff, x_row, ct, r->c_stride_n, r->es,
                          &up);
}

// A tile of the 16 x 16 kernel: NR pixels from (oy, ox) on (two rows with x_row).
struct dconv_unit {
    size_t oy, ox, nr;
};

#if (defined(__x86_64__) || defined(_M_X64)) && QS_ENABLE_AVX512VNNI
// Channels 8 h .. 8 h + 7 of channel tile t over units u0 and u1 (the 8 x 32 kernel).
// (Inlined: as a call it took 7% of a stage-1 conv's time.)
static inline __attribute__((always_inline)) void dconv_pair(const struct dconv_ctx *r,
                                                             size_t t, size_t h,
                                                             struct dconv_unit u0,
                                                             struct dconv_unit u1,
                                                             size_t x_row) {
    const qs_qdconv *d = r->d;
    const qs_qgemm_weights *w = d->w;
    const size_t n0 = t * w->cfg->mr + 8 * h, mr = QS_MIN((size_t)8, w->n - n0);
    struct qs_qgemm_ukernel_params up = r->up;
    up.init = r->up.init + n0;
    up.scale = r->up.scale + n0;
    up.fbias = r->up.fbias + n0;
    const char *wt = (const char *)w->packed + t * w->tile_bytes + 8 * h * 4;
    char *c = r->c + n0 * r->c_stride_n;
    const size_t OW = d->s.out_w;
    qs_qu8_qc8w_dconv_minmax_ukernel_8x32c4__avx512vnni(
        mr, u0.nr, u1.nr, w->kc, wt, r->xp + (u0.oy * d->wq + u0.ox) * 4,
        r->xp + (u1.oy * d->wq + u1.ox) * 4, d->koff, x_row, c + (u0.oy * OW + u0.ox) * r->es,
        c + (u1.oy * OW + u1.ox) * r->es, r->c_stride_n, &up);
}

// Pairs tiles as they come (the first of a pair waits in *held) and runs both halves of
// the channel tile over each pair (the second only when `both`): the pair's image bytes
// are then read from L1 twice in a row, not once per pass over the rows.
static inline void dconv_emit(const struct dconv_ctx *r, size_t t, bool both,
                              struct dconv_unit *held, bool *have, struct dconv_unit u,
                              size_t x_row) {
    if (*have) {
        dconv_pair(r, t, 0, *held, u, x_row);
        if (both) dconv_pair(r, t, 1, *held, u, x_row);
    } else {
        *held = u;
    }
    *have = !*have;
}
#endif

// Items are output rows, or pairs of rows in two-row mode (OW == NR / 2: one tile per
// item). Channel tiles outermost: one weight tile stays in L1 while it passes over the
// rows (the interleaved image of a range of rows is what L2 holds). With d->wide the tiles
// go in pairs through the 8 x 32 kernel, an odd last one through the 16 x 16.
static void dconv_rows(void *ctx, size_t r0, size_t r1) {
    const struct dconv_ctx *r = ctx;
    const qs_qdconv *d = r->d;
    const size_t NR = d->w->cfg->nr, OW = d->s.out_w, x_row = d->two_rows ? d->wq * 4 : 0;
    for (size_t t = 0; t < d->w->n_tiles; t++) {
        struct dconv_unit held = {0, 0, 0};
        bool have = false;
        for (size_t it = r0; it < r1; it++)
            for (size_t ox = 0; ox < OW; ox += NR) {
                struct dconv_unit u = {it, ox, QS_MIN(NR, OW - ox)};
                if (d->two_rows)
                    u = (struct dconv_unit){2 * it, 0, QS_MIN((size_t)2, d->s.out_h - 2 * it) * OW};
#if (defined(__x86_64__) || defined(_M_X64)) && QS_ENABLE_AVX512VNNI
                if (d->wide) {  // channels 8..15 of the tile too when there are any
                    dconv_emit(r, t, t * d->w->cfg->mr + 8 < d->w->n, &held, &have, u, x_row);
                    continue;
                }
#endif
                dconv_tile(r, t, u.oy, u.ox, u.nr, x_row);
            }
        if (have) dconv_tile(r, t, held.oy, held.ox, held.nr, x_row);
    }
}

void qs__qdconv_run(const qs_qdconv *d, const uint8_t *x, size_t x_img, size_t n_img, void *c,
                    size_t c_img, size_t c_stride_n, const struct qs_qgemm_params *params,
                    void *scratch, qs_pool_t *pool) {
    const struct qs_qconv_shape *s = &d->s;
    struct dconv_ctx r = {.d = d, .c = c, .es = qs__qout_size(params->out_type)};
    r.c_stride_n = c_stride_n * r.es;
    uint8_t *xp = (uint8_t *)epilogue_setup(d->w, params, scratch, &r.up);
    r.xp = xp;
    const size_t plane = s->in_h * s->in_w;
    // Image rows and columns some tap reads (a strided conv may skip the last ones).
    const size_t rows = QS_MIN(s->in_h, d->hq * d->st - s->pad_top);
    const size_t cols = QS_MIN(s->in_w, d->wq * d->st - s->pad_left);
    // The zero point everywhere the interleave does not write: the padding of every plane
    // and the missing channels of the last group (all of it when rows or columns are
    // skipped, or for stride 2, where the planes interleave the borders), and the slack.
    const bool whole = d->st != 1 || rows != s->in_h || cols != s->in_w;
    if (whole || s->channels % 4) {
        memset(xp, params->x_zp, d->c4 * d->g4 + dconv_slack(d));
    } else {
        const size_t wq4 = d->wq * 4, left = s->pad_left * 4, right = wq4 - left - cols * 4;
        const size_t bottom = d->hq - s->pad_top - rows;
        for (size_t cg = 0; cg < d->c4; cg++) {
            uint8_t *pl = xp + cg * d->g4;
            memset(pl, params->x_zp, s->pad_top * wq4 + left);
            // Right border of row i, left of row i + 1: 8 bytes for a padding of 1, one
            // store instead of a call per row (the calls were 1.6% of an int8 search).
            const uint64_t zp8 = 0x0101010101010101ull * params->x_zp;
            for (size_t i = 0; i + 1 < rows; i++) {
                uint8_t *b = pl + (s->pad_top + i) * wq4 + left + cols * 4;
                if (right + left == 8) memcpy(b, &zp8, 8);
                else memset(b, params->x_zp, right + left);
            }
            memset(pl + (s->pad_top + rows - 1) * wq4 + left + cols * 4, params->x_zp,
                   right + bottom * wq4);
        }
        memset(xp + d->c4 * d->g4, params->x_zp, dconv_slack(d));
    }
    // Per image only the interleave: it writes the same bytes every time, so the zero
    // points above stay (once per call, not per image: the memsets and the epilogue setup
    // were 1% of an int8 search).
    const size_t items = d->two_rows ? (s->out_h + 1) / 2 : s->out_h;
    for (size_t b = 0; b < n_img; b++) {
        const uint8_t *xb = x + b * x_img;
        r.c = (char *)c + b * c_img * r.es;
        for (size_t cg = 0; cg < d->c4; cg++)
            d->interleave(xb + 4 * cg * plane, plane, s->channels - 4 * cg, rows, cols,
                          s->in_w, d->st, s->pad_top, s->pad_left, d->wq, d->q4,
                          xp + cg * d->g4);
        if (qs__pool_threads(pool) <= 1) dconv_rows(&r, 0, items);
        else qs__pool_run(pool, items, dconv_rows, &r);
    }
}

void qs__qdconv_interleave_scalar(const uint8_t *x, size_t plane, size_t left, size_t rows,
                                  size_t cols, size_t in_w, size_t st, size_t pad_top,
                                  size_t pad_left, size_t wq, size_t q4, uint8_t *dst) {
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            const size_t y = i + pad_top, xx = j + pad_left;
            uint8_t *o = dst + ((y % st) * st + xx % st) * q4 + ((y / st) * wq + xx / st) * 4;
            for (size_t r = 0; r < 4 && r < left; r++) o[r] = x[r * plane + i * in_w + j];
        }
}
