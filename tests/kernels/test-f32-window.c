// AVX2 sliding-window kernels (depthwise conv, max pool, average pool) and the AVX-512
// max pool against the scalar references on seeded random 1-D/2-D/3-D windows: kernel
// 1..5, strides 1..3, dilations 1..3, asymmetric pads and ceil-mode outputs.
#include "f32-test-util.h"

static char what[256];

// A random valid window; dims 0 (and 1 for 1-D) stay identity unless nsp says otherwise.
static void random_window(struct qs_f32_window *w, int nsp, bool ceil_mode) {
    for (;;) {
        qs__f32_window_init(w);
        bool ok = true;
        for (int j = 3 - nsp; j < 3 && ok; j++) {
            w->in[j] = f32t_int(1, j == 0 ? 6 : 40);
            w->k[j] = f32t_int(1, 5);
            w->stride[j] = f32t_int(1, 3);
            w->dil[j] = f32t_int(1, 10) <= 7 ? 1 : f32t_int(2, 3);
            w->pad[j] = f32t_int(0, w->k[j] - 1);
            w->pad_end[j] = f32t_int(0, w->k[j] - 1);
            int64_t ek = (w->k[j] - 1) * w->dil[j] + 1;
            int64_t span = w->in[j] + w->pad[j] + w->pad_end[j] - ek;
            if (span < 0) {
                ok = false;
                break;
            }
            int64_t out = span / w->stride[j] + 1;
            if (ceil_mode && span % w->stride[j] && out * w->stride[j] < w->in[j] + w->pad[j])
                out++;
            w->out[j] = out;
        }
        if (ok) return;
    }
}

static void describe(const struct qs_f32_window *w, const char *op) {
    snprintf(what, sizeof what,
             "%s in %lldx%lldx%lld k %lldx%lldx%lld s %lld,%lld,%lld d %lld,%lld,%lld "
             "pad %lld,%lld,%lld/%lld,%lld,%lld out %lldx%lldx%lld",
             op, (long long)w->in[0], (long long)w->in[1], (long long)w->in[2],
             (long long)w->k[0], (long long)w->k[1], (long long)w->k[2],
             (long long)w->stride[0], (long long)w->stride[1], (long long)w->stride[2],
             (long long)w->dil[0], (long long)w->dil[1], (long long)w->dil[2],
             (long long)w->pad[0], (long long)w->pad[1], (long long)w->pad[2],
             (long long)w->pad_end[0], (long long)w->pad_end[1], (long long)w->pad_end[2],
             (long long)w->out[0], (long long)w->out[1], (long long)w->out[2]);
}

int main(void) {
    const struct qs_f32_kernels *ref = qs__f32_kernels_ref(), *fast = qs__f32_kernels_avx2();
    if (!fast) QS_TEST_SKIP("AVX2+FMA kernels not built or not supported by this CPU");
    const struct qs_f32_kernels *wide = qs__f32_kernels_avx512();
    f32t_seed(7);
    for (int i = 0; i < 3000; i++) {
        const int nsp = i % 10 == 0 ? 3 : i % 10 == 1 ? 1 : 2;
        struct qs_f32_window w;
        random_window(&w, nsp, i % 2 == 1);
        // Plenty of 3x3 stride 1/2 (the unrolled paths).
        if (i % 4 == 2 && nsp == 2) {
            w.k[1] = w.k[2] = 3;
            w.dil[1] = w.dil[2] = 1;
            w.stride[1] = w.stride[2] = f32t_int(1, 2);
            w.in[1] = f32t_int(3, 40);
            w.in[2] = f32t_int(3, i % 8 == 2 ? 130 : 40);
            w.pad[1] = w.pad[2] = w.pad_end[1] = w.pad_end[2] = f32t_int(0, 1);
            for (int j = 1; j < 3; j++)
                w.out[j] = (w.in[j] + 2 * w.pad[j] - 3) / w.stride[j] + 1;
        }
        const size_t inv = (size_t)qs__f32_window_in_size(&w);
        const size_t outv = (size_t)qs__f32_window_out_size(&w);
        const size_t kv = (size_t)qs__f32_window_k_size(&w);
        float *x = f32t_alloc(inv), *wt = f32t_alloc(kv), *a = f32t_alloc(outv),
              *b = f32t_alloc(outv);
        f32t_fill(x, inv);
        f32t_fill(wt, kv);
        float bias = f32t_float(), lo = i % 3 ? 0.0f : -INFINITY, hi = i % 5 ? INFINITY : 0.5f;

        ref->dwconv(&w, x, wt, bias, lo, hi, a);
        fast->dwconv(&w, x, wt, bias, lo, hi, b);
        describe(&w, "dwconv");
        f32t_near(b, a, outv, 1e-5f, 1e-5f, what);
        f32t_check_guard(b, outv, what);

        ref->maxpool(&w, x, a);
        fast->maxpool(&w, x, b);
        describe(&w, "maxpool");
        f32t_near(b, a, outv, 0.0f, 0.0f, what);
        f32t_check_guard(b, outv, what);
        if (wide) {
            for (size_t j = 0; j < outv; j++) b[j] = NAN;
            wide->maxpool(&w, x, b);
            describe(&w, "maxpool (avx512)");
            f32t_near(b, a, outv, 0.0f, 0.0f, what);
            f32t_check_guard(b, outv, what);
        }

        for (int cip = 0; cip < 2; cip++) {
            ref->avgpool(&w, cip, x, a);
            fast->avgpool(&w, cip, x, b);
            describe(&w, cip ? "avgpool count_include_pad" : "avgpool");
            f32t_near(b, a, outv, 1e-6f, 1e-5f, what);
            f32t_check_guard(b, outv, what);
        }
        qs__aligned_free(x);
        qs__aligned_free(wt);
        qs__aligned_free(a);
        qs__aligned_free(b);
    }
    printf("f32 window kernels: avx2%s match ref\n", wide ? " and avx512" : "");
    return 0;
}
