// The DDPG networks (search/mlp.c): gradients against finite differences, Adam fitting a
// small regression, soft updates, save/load, deterministic initialisation, bits that do not
// depend on OpenBLAS's thread count.
#include "search/mlp.h"
#include "test.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

static double loss_of(struct qs_mlp *m, const float *x, int batch, const float *c) {
    int no = m->sizes[m->n_layers];
    float y[64];
    qs__mlp_forward(m, x, batch, y);
    double l = 0.0;
    for (int i = 0; i < batch * no; i++) l += (double)c[i] * y[i] + 0.5 * (double)y[i] * y[i];
    return l;
}

// Loss = sum(c * y + y^2 / 2): dLoss/dy = c + y.
static void grad_check(enum qs_mlp_act hidden, enum qs_mlp_act last, unsigned seed) {
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    int sizes[4] = {5, 7, 6, 3};
    enum qs_mlp_act act[3] = {hidden, hidden, last};
    struct qs_mlp *m;
    struct qs_diag diag;
    ASSERT_OK(qs__mlp_create(3, sizes, act, 4, 0.5, rng, &m, &diag));
    const int batch = 4;
    float x[4 * 5], c[4 * 3], y[4 * 3], dy[4 * 3], dx[4 * 5];
    for (int i = 0; i < batch * 5; i++) x[i] = (float)(2 * gsl_rng_uniform(rng) - 1);
    for (int i = 0; i < batch * 3; i++) c[i] = (float)(2 * gsl_rng_uniform(rng) - 1);
    qs__mlp_forward(m, x, batch, y);
    for (int i = 0; i < batch * 3; i++) dy[i] = c[i] + y[i];
    qs__mlp_zero_grad(m);
    qs__mlp_backward(m, dy, dx);
    // dx alone: the same bits, the gradients untouched.
    float dx2[4 * 5], g0[256];
    ASSERT_TRUE(m->n_params <= 256);
    memcpy(g0, m->grads, sizeof(float) * (size_t)m->n_params);
    qs__mlp_backward_input(m, dy, dx2);
    ASSERT_TRUE(memcmp(dx, dx2, sizeof dx) == 0);
    ASSERT_TRUE(memcmp(g0, m->grads, sizeof(float) * (size_t)m->n_params) == 0);
    const double eps = 1e-3;
    int bad = 0;
    for (int64_t p = 0; p < m->n_params; p++) {
        float keep = m->params[p];
        m->params[p] = keep + (float)eps;
        double lp = loss_of(m, x, batch, c);
        m->params[p] = keep - (float)eps;
        double lm = loss_of(m, x, batch, c);
        m->params[p] = keep;
        double num = (lp - lm) / (2 * eps), ana = m->grads[p];
        if (fabs(num - ana) > 1e-3 + 2e-2 * fabs(num)) {
            if (bad++ < 5)
                fprintf(stderr, "seed %u act %d/%d param %lld: numeric %g analytic %g\n", seed,
                        hidden, last, (long long)p, num, ana);
        }
    }
    for (int i = 0; i < batch * 5; i++) {
        float keep = x[i];
        x[i] = keep + (float)eps;
        double lp = loss_of(m, x, batch, c);
        x[i] = keep - (float)eps;
        double lm = loss_of(m, x, batch, c);
        x[i] = keep;
        double num = (lp - lm) / (2 * eps);
        if (fabs(num - dx[i]) > 1e-3 + 2e-2 * fabs(num)) {
            if (bad++ < 5)
                fprintf(stderr, "seed %u input %d: numeric %g analytic %g\n", seed, i, num,
                        (double)dx[i]);
        }
    }
    // A ReLU input within +-eps of 0 (a kink) breaks the finite differences of the weights,
    // bias and input feeding that unit (seed 2 has one): allow one unit's worth of misses
    // (fan-in + bias + input, about 10 of 131 checks); smooth activations match everywhere.
    int allowed = hidden == QS_MLP_RELU ? sizes[0] + 5 : 0;
    ASSERT_TRUE(bad <= allowed);
    qs__mlp_destroy(m);
    gsl_rng_free(rng);
}

static void adam_fits(void) {
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    int sizes[4] = {2, 32, 32, 1};
    enum qs_mlp_act act[3] = {QS_MLP_RELU, QS_MLP_RELU, QS_MLP_LINEAR};
    struct qs_mlp *m;
    ASSERT_OK(qs__mlp_create(3, sizes, act, 64, 0.0, rng, &m, NULL));
    float x[64 * 2], t[64], y[64], dy[64];
    double first = 0, last = 0;
    for (int it = 0; it < 1500; it++) {
        for (int i = 0; i < 64; i++) {
            x[2 * i] = (float)gsl_rng_uniform(rng);
            x[2 * i + 1] = (float)gsl_rng_uniform(rng);
            t[i] = x[2 * i] * x[2 * i + 1] + 0.5f * x[2 * i];
        }
        qs__mlp_forward(m, x, 64, y);
        double l = 0;
        for (int i = 0; i < 64; i++) {
            dy[i] = 2 * (y[i] - t[i]) / 64;
            l += (y[i] - t[i]) * (y[i] - t[i]) / 64;
        }
        if (it < 10) first += l / 10;
        if (it >= 1490) last += l / 10;
        qs__mlp_zero_grad(m);
        qs__mlp_backward(m, dy, NULL);
        qs__mlp_adam_step(m, 1e-3);
    }
    printf("adam: mse %.5f -> %.5f\n", first, last);
    ASSERT_TRUE(last < 0.05 * first && last < 1e-3);

    // Save/load round trip restores parameters, moments and step; a network of another
    // shape is refused.
    FILE *f = tmpfile();
    ASSERT_TRUE(f);
    ASSERT_OK(qs__mlp_save(m, f, NULL));
    rewind(f);
    struct qs_mlp *m2;
    ASSERT_OK(qs__mlp_create(3, sizes, act, 64, 0.0, rng, &m2, NULL));
    ASSERT_OK(qs__mlp_load(m2, f, NULL));
    ASSERT_TRUE(memcmp(m->params, m2->params, m->n_params * sizeof(float)) == 0);
    ASSERT_TRUE(memcmp(m->adam_v, m2->adam_v, m->n_params * sizeof(float)) == 0);
    ASSERT_EQ(m->adam_t, m2->adam_t);
    rewind(f);
    int other[4] = {2, 16, 32, 1};
    struct qs_mlp *m3;
    struct qs_diag diag;
    ASSERT_OK(qs__mlp_create(3, other, act, 8, 0.0, rng, &m3, NULL));
    ASSERT_EQ(qs__mlp_load(m3, f, &diag), QS_STATUS_PARSE);
    printf("shape mismatch: %s\n", diag.msg);
    fclose(f);
    // Soft update with tau 1 copies; tau 0.5 averages.
    qs__mlp_soft_update(m3, m3, 1.0);
    qs__mlp_soft_update(m2, m, 1.0);
    ASSERT_TRUE(memcmp(m->params, m2->params, m->n_params * sizeof(float)) == 0);
    qs__mlp_destroy(m);
    qs__mlp_destroy(m2);
    qs__mlp_destroy(m3);
    gsl_rng_free(rng);
}

static void same_seed_same_init(void) {
    int sizes[3] = {4, 8, 2};
    enum qs_mlp_act act[2] = {QS_MLP_TANH, QS_MLP_SIGMOID};
    struct qs_mlp *m[2];
    for (int k = 0; k < 2; k++) {
        gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(rng, 99);
        ASSERT_OK(qs__mlp_create(2, sizes, act, 1, 3e-3, rng, &m[k], NULL));
        gsl_rng_free(rng);
    }
    ASSERT_TRUE(memcmp(m[0]->params, m[1]->params, m[0]->n_params * sizeof(float)) == 0);
    // The last layer is drawn from +-init_last.
    for (int i = 0; i < 2 * 8; i++) ASSERT_TRUE(fabsf(m[0]->w[1][i]) <= 3e-3f);
    qs__mlp_destroy(m[0]);
    qs__mlp_destroy(m[1]);
}

// A network's outputs do not depend on how many threads OpenBLAS was given before it was
// created (the agent's trajectories follow its bits): critic-sized layers (batch 64,
// 300 wide), forward with OpenBLAS set to two threads before qs__mlp_create, then again
// with one.
static void bits_independent_of_blas_threads(void) {
    int sizes[4] = {13, 300, 300, 1};
    enum qs_mlp_act act[3] = {QS_MLP_RELU, QS_MLP_RELU, QS_MLP_LINEAR};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    openblas_set_num_threads(2);
    struct qs_mlp *m;
    ASSERT_OK(qs__mlp_create(3, sizes, act, 64, 3e-3, rng, &m, NULL));
    static float x[64 * 13], a[64], b[64];
    for (int i = 0; i < 64 * 13; i++) x[i] = (float)(2 * gsl_rng_uniform(rng) - 1);
    qs__mlp_forward(m, x, 64, a);
    const float *h1 = m->h[2];
    static float ha[64 * 300];
    memcpy(ha, h1, sizeof ha);
    openblas_set_num_threads(1);
    qs__mlp_forward(m, x, 64, b);
    ASSERT_TRUE(memcmp(a, b, sizeof a) == 0);
    ASSERT_TRUE(memcmp(ha, m->h[2], sizeof ha) == 0);
    qs__mlp_destroy(m);
    gsl_rng_free(rng);
}

int main(void) {
    for (unsigned seed = 1; seed <= 3; seed++) {
        grad_check(QS_MLP_TANH, QS_MLP_SIGMOID, seed);
        grad_check(QS_MLP_SIGMOID, QS_MLP_TANH, seed);
        grad_check(QS_MLP_TANH, QS_MLP_LINEAR, seed);
        grad_check(QS_MLP_RELU, QS_MLP_SIGMOID, seed);
        grad_check(QS_MLP_RELU, QS_MLP_LINEAR, seed);
    }
    adam_fits();
    same_seed_same_init();
    bits_independent_of_blas_threads();
    printf("ok\n");
    return 0;
}
