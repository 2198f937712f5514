// Small dense multi-layer perceptrons for the DDPG agent: fp32, row-major, cblas_sgemm
// (OpenBLAS), forward/backward over a batch, Adam. Every buffer is allocated at creation
// for up to `max_batch` rows, so training steps never allocate.
#pragma once

#include "kernels/internal.h"

#include <gsl/gsl_rng.h>
#include <stdbool.h>
#include <stdio.h>

enum qs_mlp_act { QS_MLP_LINEAR = 0, QS_MLP_RELU, QS_MLP_SIGMOID, QS_MLP_TANH };

#define QS_MLP_MAX_LAYERS 4

struct qs_mlp {
    int n_layers;                           // dense layers
    int sizes[QS_MLP_MAX_LAYERS + 1];       // sizes[0] inputs ... sizes[n_layers] outputs
    enum qs_mlp_act act[QS_MLP_MAX_LAYERS]; // activation after each layer
    int max_batch;
    int batch;                              // rows of the last forward
    int64_t n_params;
    // One block each, split per layer: W_l [sizes[l+1]][sizes[l]] then b_l.
    float *params, *grads, *adam_m, *adam_v;
    float *w[QS_MLP_MAX_LAYERS], *b[QS_MLP_MAX_LAYERS];
    float *gw[QS_MLP_MAX_LAYERS], *gb[QS_MLP_MAX_LAYERS];
    // Saved activations of the last forward: h[0] = input, h[l+1] = output of layer l.
    float *h[QS_MLP_MAX_LAYERS + 1];
    float *dz, *dh;  // backward scratch, max_batch x max(sizes)
    int64_t adam_t;
};

// Creates an MLP with n_layers dense layers of sizes[0] -> ... -> sizes[n_layers] and
// activation act[l] after layer l. Weights of hidden layers are U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)) (PyTorch's default, HAQ's fanin_init), the last layer's U(-init_last,
// init_last) (HAQ's 3e-3); biases likewise; all drawn from `rng` in a fixed order.
QS_INTERNAL enum qs_status qs__mlp_create(int n_layers, const int *sizes,
                                          const enum qs_mlp_act *act, int max_batch,
                                          double init_last, gsl_rng *rng, struct qs_mlp **out,
                                          struct qs_diag *diag);
QS_INTERNAL void qs__mlp_destroy(struct qs_mlp *m);
// Forward of `batch` rows x [batch][sizes[0]] into y [batch][sizes[n_layers]] (y may be
// NULL; the output stays readable in m->h[n_layers]). Saves the activations for backward.
QS_INTERNAL void qs__mlp_forward(struct qs_mlp *m, const float *x, int batch, float *y);
// Backward of the last forward: dy [batch][outputs] is dLoss/dy; gradients are added to
// m->grads (clear them with qs__mlp_zero_grad); dx (may be NULL) receives dLoss/dx.
QS_INTERNAL void qs__mlp_backward(struct qs_mlp *m, const float *dy, float *dx);
// dx only (not NULL): the same bits as qs__mlp_backward's dx, m->grads left untouched
// (the DDPG actor's loss goes through the critic without training it).
QS_INTERNAL void qs__mlp_backward_input(struct qs_mlp *m, const float *dy, float *dx);
QS_INTERNAL void qs__mlp_zero_grad(struct qs_mlp *m);
// One Adam step (beta1 0.9, beta2 0.999, eps 1e-8, bias-corrected) with learning rate lr.
QS_INTERNAL void qs__mlp_adam_step(struct qs_mlp *m, double lr);
// dst = tau * src + (1 - tau) * dst over the parameters (same shapes); tau 1 copies.
QS_INTERNAL void qs__mlp_soft_update(struct qs_mlp *dst, const struct qs_mlp *src, double tau);
// Writes/reads the shape, parameters, Adam moments and step (binary, host byte order).
// load checks the shape against m's: PARSE when they differ or the data is short.
QS_INTERNAL enum qs_status qs__mlp_save(const struct qs_mlp *m, FILE *f, struct qs_diag *diag);
QS_INTERNAL enum qs_status qs__mlp_load(struct qs_mlp *m, FILE *f, struct qs_diag *diag);
