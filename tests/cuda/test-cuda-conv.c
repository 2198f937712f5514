// CUDA convolutions against the CPU: fp32 (cuDNN, or im2col + cuBLASLt) within tolerance of a
// double-precision direct loop; int8 (im2col + IMMA, direct depthwise) bit-exact with host
// im2col + qs__qgemm_ref. Skips (77) without a GPU.
#include "cuda/cuda-test.h"

static int64_t out_dim(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
    return (in + 2 * p - (k - 1) * d - 1) / s + 1;
}

static struct qs_cuda_layer conv(int64_t b, int64_t c, int64_t h, int64_t w, int64_t co,
                                 int64_t k, int64_t s, int64_t p, int64_t d, int64_t g) {
    struct qs_cuda_layer l = {.op = QS_CUDA_OP_CONV, .w_bits = 8, .a_bits = 8, .batch = b,
                              .c_in = c, .h = h, .w = w, .c_out = co, .kh = k, .kw = k,
                              .stride_h = s, .stride_w = s, .pad_h = p, .pad_w = p,
                              .dil_h = d, .dil_w = d, .groups = g};
    return l;
}

// Host im2col of one image and group: cols[kk][pix], padding cells = pad.
static void im2col_u8(const struct qs_cuda_layer *l, const uint8_t *img, int64_t c0,
                      uint8_t pad, uint8_t *cols) {
    int64_t oh = out_dim(l->h, l->kh, l->stride_h, l->pad_h, l->dil_h);
    int64_t ow = out_dim(l->w, l->kw, l->stride_w, l->pad_w, l->dil_w);
    int64_t cg = l->c_in / l->groups, P = oh * ow;
    for (int64_t c = 0; c < cg; c++)
        for (int64_t i = 0; i < l->kh; i++)
            for (int64_t j = 0; j < l->kw; j++)
                for (int64_t y = 0; y < oh; y++)
                    for (int64_t x = 0; x < ow; x++) {
                        int64_t iy = y * l->stride_h - l->pad_h + i * l->dil_h;
                        int64_t ix = x * l->stride_w - l->pad_w + j * l->dil_w;
                        bool in = iy >= 0 && iy < l->h && ix >= 0 && ix < l->w;
                        cols[((c * l->kh + i) * l->kw + j) * P + y * ow + x] =
                            in ? img[((c0 + c) * l->h + iy) * l->w + ix] : pad;
                    }
}

static void test_qconv(struct qs_cuda_layer l, enum qs_qout out) {
    int64_t oh = out_dim(l.h, l.kh, l.stride_h, l.pad_h, l.dil_h);
    int64_t ow = out_dim(l.w, l.kw, l.stride_w, l.pad_w, l.dil_w);
    int64_t cg = l.c_in / l.groups, cog = l.c_out / l.groups, K = cg * l.kh * l.kw;
    int64_t P = oh * ow;
    size_t nx = (size_t)(l.batch * l.c_in * l.h * l.w), nw = (size_t)(l.c_out * K);
    size_t es = qs__qout_size(out), ny = (size_t)(l.batch * l.c_out * P);
    uint8_t *x = malloc(nx), *cols = malloc((size_t)(K * P));
    int8_t *w = malloc(nw);
    int32_t *bias = malloc((size_t)l.c_out * 4);
    float *scale = malloc((size_t)l.c_out * 4), *fbias = malloc((size_t)l.c_out * 4);
    char *y = malloc(ny * es), *r = malloc(ny * es);
    ASSERT_TRUE(x && cols && w && bias && scale && fbias && y && r);
    for (size_t i = 0; i < nx; i++) x[i] = (uint8_t)cuda_test_u32();
    for (size_t i = 0; i < nw; i++) w[i] = (int8_t)cuda_test_u32();
    for (int64_t i = 0; i < l.c_out; i++) {
        bias[i] = (int32_t)(cuda_test_u32() % 20001) - 10000;
        scale[i] = 1.0f / 4096 + (float)(cuda_test_u32() % 1000) / 1e6f;
        fbias[i] = cuda_test_f32();
    }
    struct qs_qgemm_params prm = {.out_type = out, .x_zp = (uint8_t)(cuda_test_u32() % 256),
                                  .bias = bias, .scale = scale, .fbias = fbias, .out_zp = 3,
                                  .qmin = INT32_MIN, .qmax = INT32_MAX, .fmin = -INFINITY,
                                  .fmax = INFINITY};
    for (int64_t b = 0; b < l.batch; b++)
        for (int64_t g = 0; g < l.groups; g++) {
            im2col_u8(&l, x + (size_t)(b * l.c_in * l.h * l.w), g * cg, prm.x_zp, cols);
            struct qs_qgemm_params pg = prm;
            pg.bias = bias + g * cog, pg.scale = scale + g * cog, pg.fbias = fbias + g * cog;
            qs__qgemm_ref((size_t)cog, (size_t)K, (size_t)P, w + g * cog * K, (size_t)K, cols,
                          (size_t)P, 1, r + (size_t)((b * l.c_out + g * cog) * P) * es,
                          (size_t)P, 1, &pg);
        }
    struct qs_diag d = {{0}};
    enum qs_status st = qs__cuda_qconv(&l, x, w, y, &prm, &d);
    if (st) fprintf(stderr, "qconv: %s\n", d.msg);
    ASSERT_OK(st);
    for (size_t i = 0; i < ny * es; i++)
        if (y[i] != r[i]) {
            fprintf(stderr, "qconv b%lld c%lld %lldx%lld co%lld k%lld s%lld p%lld d%lld g%lld "
                    "out %d: byte %zu differs\n", (long long)l.batch, (long long)l.c_in,
                    (long long)l.h, (long long)l.w, (long long)l.c_out, (long long)l.kh,
                    (long long)l.stride_h, (long long)l.pad_h, (long long)l.dil_h,
                    (long long)l.groups, (int)out, i);
            exit(1);
        }
    free(x), free(cols), free(w), free(bias), free(scale), free(fbias), free(y), free(r);
}

static void test_fconv(struct qs_cuda_layer l) {
    int64_t oh = out_dim(l.h, l.kh, l.stride_h, l.pad_h, l.dil_h);
    int64_t ow = out_dim(l.w, l.kw, l.stride_w, l.pad_w, l.dil_w);
    int64_t cg = l.c_in / l.groups, cog = l.c_out / l.groups;
    size_t nx = (size_t)(l.batch * l.c_in * l.h * l.w);
    size_t nw = (size_t)(l.c_out * cg * l.kh * l.kw), ny = (size_t)(l.batch * l.c_out * oh * ow);
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)l.c_out * 4);
    float *y = malloc(ny * 4), *r = malloc(ny * 4);
    ASSERT_TRUE(x && w && b && y && r);
    for (size_t i = 0; i < nx; i++) x[i] = cuda_test_f32();
    for (size_t i = 0; i < nw; i++) w[i] = cuda_test_f32();
    for (int64_t i = 0; i < l.c_out; i++) b[i] = cuda_test_f32();
    for (int64_t n = 0; n < l.batch; n++)
        for (int64_t co = 0; co < l.c_out; co++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    double s = b[co];
                    int64_t g = co / cog;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t i = 0; i < l.kh; i++)
                            for (int64_t j = 0; j < l.kw; j++) {
                                int64_t iy = oy * l.stride_h - l.pad_h + i * l.dil_h;
                                int64_t ix = ox * l.stride_w - l.pad_w + j * l.dil_w;
                                if (iy < 0 || iy >= l.h || ix < 0 || ix >= l.w) continue;
                                s += (double)x[((n * l.c_in + g * cg + c) * l.h + iy) * l.w + ix] *
                                     w[((co * cg + c) * l.kh + i) * l.kw + j];
                            }
                    r[((n * l.c_out + co) * oh + oy) * ow + ox] = (float)s;
                }
    struct qs_diag d = {{0}};
    enum qs_status st = qs__cuda_conv_f32(&l, x, w, b, y, &d);
    if (st) fprintf(stderr, "conv f32: %s\n", d.msg);
    ASSERT_OK(st);
    cuda_test_close(y, r, ny, 1e-5f * (float)sqrt((double)(cg * l.kh * l.kw)), 1e-5f,
                    "conv f32");
    free(x), free(w), free(b), free(y), free(r);
}

int main(void) {
    cuda_test_seed();
    cuda_test_require_gpu();
    const struct qs_cuda_layer layers[] = {
        conv(1, 3, 32, 32, 16, 3, 1, 1, 1, 1),   // ResNet stem
        conv(2, 16, 16, 16, 32, 3, 2, 1, 1, 1),  // downsampling, batch 2
        conv(1, 32, 8, 8, 32, 1, 1, 0, 1, 1),    // 1x1
        conv(1, 16, 9, 7, 16, 3, 1, 2, 2, 1),    // dilated, odd sizes
        conv(2, 32, 10, 10, 32, 3, 1, 1, 1, 32), // depthwise
        conv(1, 8, 6, 6, 12, 3, 2, 1, 1, 4),     // grouped
        conv(1, 5, 5, 5, 7, 5, 1, 0, 1, 1),      // k not a multiple of 4, 1x1 output
    };
    for (size_t i = 0; i < QS_COUNTOF(layers); i++) {
        for (int out = 0; out < 4; out++) test_qconv(layers[i], (enum qs_qout)out);
        test_fconv(layers[i]);
    }
    qs__cuda_shutdown();
    printf("ok\n");
    return 0;
}
