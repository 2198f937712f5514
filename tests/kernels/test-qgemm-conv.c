// The implicit-GEMM convolution (qs__qgemm_conv_run) of every integer GEMM variant of this
// build against an explicit im2col and the oracle qs__qgemm_ref, bit for bit: random
// geometries (kernel 1..7 x 1..7, strides 1..3, dilations 1..2, asymmetric padding, 1-D,
// outputs narrower and wider than a panel, panels across output rows), every x_zp, int8
// input (flip), saturation edges, all output types, the thread pool, and canaries around
// the output. The input buffer ends at its last byte (ASan sees an over-read). Seeded
// (QS_TEST_SEED=<n> to replay); a failure prints the seed, the variant and the case.
#include "qconv-test.h"

static void run_case(int it) {
    g_cases++;
    struct qs_qconv_shape s = {0};
    const bool one_d = rnd() % 6 == 0, big = rnd() % 5 == 0;
    s.channels = urange(1, big ? 40 : 9);
    s.kh = one_d ? 1 : urange(1, rnd() % 3 ? 3 : 7);
    s.kw = urange(1, rnd() % 3 ? 3 : 7);
    s.stride_h = one_d ? 1 : urange(1, 3);
    s.stride_w = urange(1, 3);
    s.dil_h = one_d ? 1 : urange(1, 2);
    s.dil_w = urange(1, 2);
    s.pad_top = one_d ? 0 : urange(0, s.kh);
    s.pad_left = urange(0, s.kw);
    s.in_h = one_d ? 1 : urange(1, big ? 40 : 12);
    s.in_w = urange(1, big ? 70 : 20);
    if (rnd() % 5 == 0) {  // unit steps along w over rows of 16k outputs (whole panels)
        s.kw = 4;
        s.stride_w = s.dil_w = 1;
        s.in_w = 16 * urange(1, 3) + 3 - s.pad_left;
    }
    const size_t eh = (s.kh - 1) * s.dil_h + 1, ew = (s.kw - 1) * s.dil_w + 1;
    const size_t pad_bottom = urange(0, s.kh), pad_right = urange(0, s.kw);
    if (s.in_h + s.pad_top + pad_bottom < eh) s.in_h = eh;
    if (s.in_w + s.pad_left + pad_right < ew) s.in_w = ew;
    s.out_h = (s.in_h + s.pad_top + pad_bottom - eh) / s.stride_h + 1;
    s.out_w = (s.in_w + s.pad_left + pad_right - ew) / s.stride_w + 1;
    s.flip = rnd() % 4 == 0 ? 0x80 : 0;
    const size_t m = urange(1, big ? 70 : 2 * g_cfg->mr + 1);
    struct qconv_case c;
    qconv_case_make(&c, &s, m);
    const enum qs_qout t = c.prm.out_type;

    qs_qgemm_weights *pw = NULL;
    ASSERT_OK(qs__qgemm_pack_config(g_cfg, m, c.k, c.w, c.k, &pw));
    if (!qs__qgemm_conv_supported(pw, &s, false)) fail(&s, m, t, it, "shape not supported");
    g_fast += qs__qgemm_conv_supported(pw, &s, true);
    void *rows = NULL;
    if (rnd() & 1) {  // the caller's row table, or one built in the scratch
        rows = malloc(qs__qgemm_conv_rows_bytes(&s));
        qs__qgemm_conv_rows(&s, rows);
        s.rows = rows;
    }
    void *scratch = malloc(qs__qgemm_conv_scratch_size(pw, &s));
    qs__qgemm_conv_run(pw, &s, c.x, c.got + c.canary, c.ldc, &c.prm, scratch,
                       it % 3 == 0 ? g_pool : NULL);
    qconv_case_check(&c, &s, it);
    qs__qgemm_weights_destroy(pw);
    free(rows);
    free(scratch);
    qconv_case_free(&c);
}

int main(void) {
    return qconv_main(UINT64_C(0x5eed0c0f), NULL, run_case, "with a vectorized packer");
}
