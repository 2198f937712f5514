// The fp32 GEMM of the kernel tables (kernels/f32.h, gemm): every table's kernel against
// the scalar reference bit for bit (the DDPG agent relies on it: one seed, one search on
// every machine), the reference against double-precision sums, over shapes with row and
// column tails, A read row- or column-major, padded leading dimensions (cells between rows
// untouched), accumulation on and off, and the agent's own shapes.
#include "f32-test-util.h"

#include <string.h>

struct gcase {
    size_t m, n, k, rsa, csa, ldb, ldc;
    bool acc;
};

static void run_case(const struct gcase *g, const struct qs_f32_kernels *const *tables,
                     int n_tables, const char *name) {
    const size_t an = g->m && g->k ? (g->m - 1) * g->rsa + (g->k - 1) * g->csa + 1 : 0;
    const size_t bn = g->k ? (g->k - 1) * g->ldb + g->n : 0, cn = g->m * g->ldc;
    float *a = f32t_alloc(an), *b = f32t_alloc(bn), *c0 = f32t_alloc(cn);
    float *want = f32t_alloc(cn), *got = f32t_alloc(cn);
    f32t_fill(a, an);
    f32t_fill(b, bn);
    f32t_fill(c0, cn);
    memcpy(want, c0, sizeof(float) * cn);
    qs__f32_gemm_ref(g->m, g->n, g->k, a, g->rsa, g->csa, b, g->ldb, want, g->ldc, g->acc);
    char what[200];
    snprintf(what, sizeof what, "%s: m %zu n %zu k %zu rsa %zu csa %zu ldb %zu ldc %zu acc %d",
             name, g->m, g->n, g->k, g->rsa, g->csa, g->ldb, g->ldc, g->acc);
    // The reference: a double-precision sum, and nothing written between rows.
    for (size_t i = 0; i < g->m; i++)
        for (size_t j = 0; j < g->ldc; j++) {
            const size_t at = i * g->ldc + j;
            if (j >= g->n) {
                if (want[at] != c0[at]) {
                    fprintf(stderr, "%s: ref wrote padding cell %zu\n", what, at);
                    exit(1);
                }
                continue;
            }
            double s = g->acc ? c0[at] : 0.0, mag = fabs(s);
            for (size_t p = 0; p < g->k; p++) {
                double t = (double)a[i * g->rsa + p * g->csa] * b[p * g->ldb + j];
                s += t;
                mag += fabs(t);
            }
            if (!(fabs(want[at] - s) <= 1e-6 * mag + 1e-30)) {
                fprintf(stderr, "%s: ref cell %zu: %.9g, double sum %.9g\n", what, at,
                        (double)want[at], s);
                exit(1);
            }
        }
    for (int t = 0; t < n_tables; t++) {
        memcpy(got, c0, sizeof(float) * cn);
        tables[t]->gemm(g->m, g->n, g->k, a, g->rsa, g->csa, b, g->ldb, got, g->ldc, g->acc);
        f32t_check_guard(got, cn, what);
        if (memcmp(got, want, sizeof(float) * cn) != 0) {
            for (size_t i = 0; i < cn; i++)
                if (memcmp(&got[i], &want[i], sizeof(float)) != 0) {
                    fprintf(stderr, "%s, table %s: cell %zu: got %.9g, want %.9g\n", what,
                            tables[t]->isa, i, (double)got[i], (double)want[i]);
                    break;
                }
            exit(1);
        }
    }
    qs__aligned_free(a);
    qs__aligned_free(b);
    qs__aligned_free(c0);
    qs__aligned_free(want);
    qs__aligned_free(got);
}

int main(void) {
    const struct qs_f32_kernels *all[2] = {qs__f32_kernels_avx2(), qs__f32_kernels_avx512()};
    const struct qs_f32_kernels *tables[3];
    int n_tables = 0;
    tables[n_tables++] = qs__f32_kernels_ref();
    for (int i = 0; i < 2; i++)
        if (all[i]) tables[n_tables++] = all[i];
    for (int t = 0; t < n_tables; t++) printf("table %s\n", tables[t]->isa);
    f32t_seed(11);
    for (int i = 0; i < 300; i++) {
        struct gcase g = {.m = (size_t)f32t_int(0, 40), .n = (size_t)f32t_int(0, 75),
                          .k = (size_t)f32t_int(0, 40), .acc = f32t_int(0, 1) == 1};
        if (i % 10 == 0) g.m = 0, g.n = (size_t)f32t_int(1, 9);  // empty and tiny
        if (i % 10 == 1) g.k = 0;
        g.ldb = g.n + (size_t)f32t_int(0, 5);
        g.ldc = g.n + (size_t)f32t_int(0, 5);
        if (i % 2) {  // A column-major (the MLP's weight gradients read dz transposed)
            g.csa = g.m + (size_t)f32t_int(0, 3);
            g.rsa = 1;
        } else {
            g.rsa = g.k + (size_t)f32t_int(0, 3);
            g.csa = 1;
        }
        run_case(&g, tables, n_tables, "random");
    }
    // The DDPG agent's shapes (search/mlp.c): forward, weight gradients, input gradients.
    const struct gcase agent[] = {
        {300, 64, 16, 16, 1, 64, 64, true},   {300, 64, 300, 300, 1, 64, 64, true},
        {3, 64, 300, 300, 1, 64, 64, true},   {300, 300, 64, 1, 300, 300, 300, true},
        {64, 300, 300, 300, 1, 300, 300, false}, {64, 16, 300, 300, 1, 16, 16, false},
    };
    for (size_t i = 0; i < QS_COUNTOF(agent); i++) run_case(&agent[i], tables, n_tables, "agent");
    printf("ok: %d tables, 306 cases bit-exact against the reference\n", n_tables);
    return 0;
}
