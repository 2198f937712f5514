// Winograd F(4x4, 3x3) convolution (Lavin and Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2016): the driver, the weight transform and the scalar references of
// the three stages (struct qs_f32_wino in kernels/f32.h).
//
// Why: a 3x3 stride-1 conv costs 9 multiply-adds per output and channel pair; F(4x4, 3x3)
// computes a 4x4 output tile from a 6x6 input patch with 36, i.e. 2.25 per output, plus
// transforms whose cost is shared across channels. The direct AVX-512 kernel already ran
// fp32 ResNet-20 at about 200 GFLOP/s, so fewer multiplies was the way left to make fp32
// layers faster (57% of a mixed int8/fp32 ResNet-20 search's samples under perf).
//
// The transforms (B^T d B, G g G^T, A^T M A) use the interpolation points 0, +-1, +-2 and
// infinity. The per-vector formulas below are shared by the reference and the AVX2 and
// AVX-512 stages, in the same order, so they differ only by the FMA contractions.
#include "kernels/f32.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

// Bytes of a chunk's V and M kept in L2 while the 36 GEMMs sweep them.
#define CHUNK_BYTES (512u * 1024u)

static size_t round16(size_t n) {
    return (n + 15) & ~(size_t)15;
}

// QS_WINOGRAD=0 in the environment turns the path off (A/B runs), read once.
static bool wino_enabled(void) {
    static _Atomic int state;  // 0 unknown, 1 on, 2 off; racing first calls agree
    int v = atomic_load_explicit(&state, memory_order_relaxed);
    if (!v) {
        const char *env = getenv("QS_WINOGRAD");
        v = env && strcmp(env, "0") == 0 ? 2 : 1;
        atomic_store_explicit(&state, v, memory_order_relaxed);
    }
    return v == 1;
}

bool qs__f32_wino_plan(const struct qs_f32_conv_desc *d, struct qs_f32_wino *g) {
    const struct qs_f32_kernels *kt = d->kt ? d->kt : qs__f32_kernels();
    const struct qs_f32_window *w = &d->win;
    if (!wino_enabled() || !kt->wino_gemm || d->groups != 1 || w->in[0] != 1 ||
        w->k[0] != 1 || w->out[0] != 1)
        return false;
    if (w->k[1] != 3 || w->k[2] != 3 || w->stride[1] != 1 || w->stride[2] != 1 ||
        w->dil[1] != 1 || w->dil[2] != 1)
        return false;
    // Few channels leave the transforms unshared (a 3-channel stem conv: slower than the
    // direct kernel, bench/f32-wino); a 2x2 output still pays from 16 channels.
    if ((size_t)d->c_in < kt->wino_min_c || (size_t)d->c_out < kt->wino_min_c ||
        w->out[1] < 2 || w->out[2] < 2)
        return false;
    // Few tiles per run (one 8x8 image: 4) waste the GEMM's 16-row blocks and read U,
    // 4x the direct kernel's weights, for little work: a batch-1 ResNet-56 ran its 8x8 and
    // 16x16 stages 35% slower than direct (bench/lut), so those keep the direct kernel.
    const int64_t tiles = d->batch * ((w->out[1] + 3) / 4) * ((w->out[2] + 3) / 4);
    if (tiles < 32) return false;
    memset(g, 0, sizeof *g);
    g->c_in = (size_t)d->c_in;
    g->c_out = (size_t)d->c_out;
    g->ci_pad = round16(g->c_in);
    g->co_pad = round16(g->c_out);
    g->h = (size_t)w->in[1];
    g->w = (size_t)w->in[2];
    g->oh = (size_t)w->out[1];
    g->ow = (size_t)w->out[2];
    g->pt = (size_t)w->pad[1];
    g->pl = (size_t)w->pad[2];
    g->th = (g->oh + 3) / 4;
    g->tw = (g->ow + 3) / 4;
    const size_t per_tile = 36 * sizeof(float) * (g->ci_pad + g->co_pad);
    // Wide layers: U (36 * ci * co floats) is streamed once per chunk, so a chunk must
    // hold enough tiles to use each U[xi] often; V and M then spill to L3.
    const size_t target = QS_MAX(CHUNK_BYTES / per_tile, g->ci_pad * g->co_pad / 256);
    g->bands = target / g->tw ? target / g->tw : 1;
    const size_t all = (size_t)d->batch * g->th;
    if (g->bands > all) g->bands = all ? all : 1;
    g->ldt = round16(g->bands * g->tw);
    // One cache line more than the matrices: the 36 vectors of a tile are then not 4 KiB
    // apart (ldt * 32 channels is), which made their loads and stores alias in L1 and
    // doubled the transforms' time.
    g->vstride = g->ldt * g->ci_pad + 16;
    g->mstride = g->ldt * g->co_pad + 16;
    g->wp = QS_MAX(4 * g->tw + 2, round16(4 * g->tw));
    return true;
}

size_t qs__f32_wino_packed_size(const struct qs_f32_wino *g) {
    return 36 * g->ci_pad * g->co_pad;
}

void qs__f32_wino_pack(const struct qs_f32_wino *g, const float *w, float *u) {
    static const double G[6][3] = {{1.0 / 4, 0, 0},
                                   {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                   {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                   {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                   {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                   {0, 0, 1}};
    memset(u, 0, sizeof(float) * qs__f32_wino_packed_size(g));
    // Blocks of output channels through a small buffer, then each of the 36 rows of U
    // written in order: storing U[xi][c][o] straight from the (o, c) loop touches 36
    // addresses ci_pad * co_pad floats apart per weight, which alias in L1 (0.6 ms for
    // 64 x 64 channels, packed again by every session of a search).
    enum { OB = 64 };
    float buf[36][OB];
    for (size_t c = 0; c < g->c_in; c++)
        for (size_t o0 = 0; o0 < g->c_out; o0 += OB) {
            const size_t no = g->c_out - o0 < OB ? g->c_out - o0 : OB;
            for (size_t j = 0; j < no; j++) {
                const float *k = w + ((o0 + j) * g->c_in + c) * 9;
                double t[6][3];  // G k
                for (int i = 0; i < 6; i++)
                    for (int b = 0; b < 3; b++)
                        t[i][b] = G[i][0] * k[b] + G[i][1] * k[3 + b] + G[i][2] * k[6 + b];
                for (int i = 0; i < 6; i++)
                    for (int l = 0; l < 6; l++)
                        buf[i * 6 + l][j] = (float)(t[i][0] * G[l][0] + t[i][1] * G[l][1] +
                                                    t[i][2] * G[l][2]);
            }
            for (size_t xi = 0; xi < 36; xi++)
                memcpy(u + (xi * g->ci_pad + c) * g->co_pad + o0, buf[xi], sizeof(float) * no);
        }
}

// Work: a chunk of nb tile rows has at most nb segments (one image each) of
// (4 * rows + 2) * wp * 16 floats, so 6 * bands * wp * 16 floats hold them all.
size_t qs__f32_wino_scratch_floats(const struct qs_f32_wino *g) {
    return 36 * (g->vstride + g->mstride) + 6 * g->bands * g->wp * 16;
}

// ---------------------------------------------------------------------------------------
// Scalar references. B^T d and A^T m on six values, as the AVX-512 stages compute them.

static void bt6(const float d[6], float t[6]) {
    const float a = d[4] - 4.0f * d[2], b = d[3] - 4.0f * d[1];
    const float c = d[4] - d[2], e = d[3] - d[1];
    t[0] = (4.0f * d[0] + d[4]) - 5.0f * d[2];
    t[1] = a + b;
    t[2] = a - b;
    t[3] = c + 2.0f * e;
    t[4] = c - 2.0f * e;
    t[5] = (4.0f * d[1] + d[5]) - 5.0f * d[3];
}

static void at6(const float m[6], float o[4]) {
    const float s12 = m[1] + m[2], d12 = m[1] - m[2];
    const float s34 = m[3] + m[4], d34 = m[3] - m[4];
    o[0] = (m[0] + s12) + s34;
    o[1] = d12 + 2.0f * d34;
    o[2] = s12 + 4.0f * s34;
    o[3] = (d12 + 8.0f * d34) + m[5];
}

void qs__f32_wino_input_ref(const struct qs_f32_wino *g, const float *x, size_t r0, size_t r1,
                            size_t t0, float *v, float *work) {
    (void)work;
    const size_t vstride = g->vstride;
    for (size_t r = r0; r < r1; r++)
        for (size_t j = 0; j < g->tw; j++)
            for (size_t c = 0; c < g->ci_pad; c++) {
                float d[6][6], t[6][6], col[6], out[6];
                for (int i = 0; i < 6; i++)
                    for (int k = 0; k < 6; k++) {
                        const int64_t ih = (int64_t)(4 * r + (size_t)i) - (int64_t)g->pt;
                        const int64_t iw = (int64_t)(4 * j + (size_t)k) - (int64_t)g->pl;
                        const bool in = c < g->c_in && ih >= 0 && ih < (int64_t)g->h &&
                                        iw >= 0 && iw < (int64_t)g->w;
                        d[i][k] = in ? x[(c * g->h + (size_t)ih) * g->w + (size_t)iw] : 0.0f;
                    }
                for (int k = 0; k < 6; k++) {  // columns: B^T d
                    for (int i = 0; i < 6; i++) col[i] = d[i][k];
                    bt6(col, out);
                    for (int i = 0; i < 6; i++) t[i][k] = out[i];
                }
                const size_t tile = t0 + (r - r0) * g->tw + j;
                for (int i = 0; i < 6; i++) {  // rows: (B^T d) B
                    bt6(t[i], out);
                    for (int l = 0; l < 6; l++)
                        v[(size_t)(i * 6 + l) * vstride + tile * g->ci_pad + c] = out[l];
                }
            }
}

void qs__f32_wino_gemm_ref(const struct qs_f32_wino *g, size_t nt, const float *v,
                           const float *u, float *m) {
    for (size_t t = 0; t < nt; t++)
        for (size_t o = 0; o < g->co_pad; o++) {
            float acc = 0.0f;
            for (size_t c = 0; c < g->c_in; c++) acc += v[t * g->ci_pad + c] * u[c * g->co_pad + o];
            m[t * g->co_pad + o] = acc;
        }
}

void qs__f32_wino_output_ref(const struct qs_f32_wino *g, const float *m, size_t r0,
                             size_t r1, size_t t0, const float *bias, const float *sum,
                             float lo, float hi, float *y, float *work) {
    (void)work;
    const size_t mstride = g->mstride;
    for (size_t r = r0; r < r1; r++)
        for (size_t j = 0; j < g->tw; j++)
            for (size_t o = 0; o < g->c_out; o++) {
                float mm[6][6], z[4][6], col[6], out[4];
                const size_t tile = t0 + (r - r0) * g->tw + j;
                for (int xi = 0; xi < 36; xi++)
                    mm[xi / 6][xi % 6] = m[(size_t)xi * mstride + tile * g->co_pad + o];
                for (int l = 0; l < 6; l++) {  // columns: A^T m
                    for (int i = 0; i < 6; i++) col[i] = mm[i][l];
                    at6(col, out);
                    for (int p = 0; p < 4; p++) z[p][l] = out[p];
                }
                const float b = bias ? bias[o] : 0.0f;
                for (size_t p = 0; p < 4 && 4 * r + p < g->oh; p++) {  // rows: (A^T m) A
                    at6(z[p], out);
                    const size_t at = (o * g->oh + 4 * r + p) * g->ow + 4 * j;
                    for (size_t q = 0; q < 4 && 4 * j + q < g->ow; q++) {
                        float val = out[q] + b;
                        if (sum) val += sum[at + q];
                        val = val < lo ? lo : val;
                        y[at + q] = val > hi ? hi : val;
                    }
                }
            }
}

// ---------------------------------------------------------------------------------------
// Driver: chunks of whole tile rows; per chunk the input transforms, the 36 GEMMs and the
// output transforms, each spread over the pool.

// A chunk's tile rows, cut at image boundaries: segment i is tile rows r0 .. r1 - 1 of
// image n, tiles t0 .. of V and M, work buffer at work + wo.
struct segment {
    size_t n, r0, r1, t0, wo;
};

struct wino_task {
    const struct qs_f32_kernels *kt;
    const struct qs_f32_conv_desc *d;
    const struct qs_f32_wino *g;
    const float *x, *u, *b, *sum;
    float *y, *v, *m, *work;
    const struct segment *seg;
    size_t nt;
    bool shared_work;  // one thread: every segment uses the start of the work area
};

static void input_task(void *ctx, size_t begin, size_t end) {
    const struct wino_task *t = ctx;
    const struct qs_f32_wino *g = t->g;
    for (size_t i = begin; i < end; i++) {
        const struct segment *s = &t->seg[i];
        t->kt->wino_input(g, t->x + s->n * g->c_in * g->h * g->w, s->r0, s->r1, s->t0, t->v,
                          t->work + (t->shared_work ? 0 : s->wo));
    }
}

static void gemm_task(void *ctx, size_t begin, size_t end) {
    const struct wino_task *t = ctx;
    const struct qs_f32_wino *g = t->g;
    for (size_t xi = begin; xi < end; xi++)
        t->kt->wino_gemm(g, t->nt, t->v + xi * g->vstride,
                         t->u + xi * g->ci_pad * g->co_pad, t->m + xi * g->mstride);
}

static void output_task(void *ctx, size_t begin, size_t end) {
    const struct wino_task *t = ctx;
    const struct qs_f32_wino *g = t->g;
    const size_t out_img = g->c_out * g->oh * g->ow;
    for (size_t i = begin; i < end; i++) {
        const struct segment *s = &t->seg[i];
        t->kt->wino_output(g, t->m, s->r0, s->r1, s->t0, t->b,
                           t->sum ? t->sum + s->n * out_img : NULL, t->d->lo, t->d->hi,
                           t->y + s->n * out_img, t->work + (t->shared_work ? 0 : s->wo));
    }
}

// Segments of a chunk of tile rows are few (at most one per image in it plus one), so
// they live on the stack in groups of this many.
#define MAX_SEGMENTS 64

void qs__f32_wino_run(const struct qs_f32_conv_desc *d, const struct qs_f32_wino *g,
                      const float *x, const float *u, const float *b, const float *sum,
                      float *y, float *scratch, qs_pool_t *pool) {
    const struct qs_f32_kernels *kt = d->kt ? d->kt : qs__f32_kernels();
    float *v = scratch, *m = v + 36 * g->vstride, *work = m + 36 * g->mstride;
    const size_t all = (size_t)d->batch * g->th;
    struct segment seg[MAX_SEGMENTS];
    struct wino_task t = {kt, d, g, x, u, b, sum, y, v, m, work, seg, 0,
                          qs__pool_threads(pool) == 1};
    size_t band = 0;
    while (band < all) {
        // One chunk: up to g->bands tile rows and MAX_SEGMENTS images.
        size_t ns = 0, tiles = 0, wo = 0;
        const size_t end = all - band < g->bands ? all : band + g->bands;
        while (band < end && ns < MAX_SEGMENTS) {
            const size_t n = band / g->th, r0 = band % g->th;
            const size_t r1 = QS_MIN(g->th, r0 + (end - band));
            seg[ns++] = (struct segment){n, r0, r1, tiles, wo};
            tiles += (r1 - r0) * g->tw;
            wo += (4 * (r1 - r0) + 2) * g->wp * 16;
            band += r1 - r0;
        }
        t.nt = round16(tiles);
        // The GEMMs run whole 16-tile blocks: the rows past the chunk's tiles are zero.
        if (t.nt != tiles)
            for (size_t xi = 0; xi < 36; xi++)
                memset(v + xi * g->vstride + tiles * g->ci_pad, 0,
                       sizeof(float) * (t.nt - tiles) * g->ci_pad);
        qs__pool_run(pool, ns, input_task, &t);
        qs__pool_run(pool, 36, gemm_task, &t);
        qs__pool_run(pool, ns, output_task, &t);
    }
}
