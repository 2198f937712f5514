// DDPG as in HAQ and NNCF AutoQ (../shared/reference/seed-systems.md §2, §3.1): one step
// per searched layer with a joint action (w_bits, a_bits, sparsity) in [0, 1]^3.
//   actor  : state -> h1 -> ReLU -> h2 -> ReLU -> QS_ACTION_DIM -> sigmoid
//   critic : [state, action] -> h1 -> ReLU -> h2 -> ReLU -> 1 (NNCF's fc11(s) + fc12(a) is
//            one dense layer over the concatenation)
//   warm-up episodes of uniform random actions, then actor + truncated-normal noise with
//   sigma = init_delta * delta_decay^(episode - warmup);
//   the episode's reward split equally over its steps (NNCF), a moving-average baseline of
//   the batch-mean reward (alpha 0.5) subtracted, discount 1, terminal mask;
//   replay of whole episodes; when full, the top 30% by reward are kept and one of the
//   others, chosen uniformly, is replaced;
//   one update (batch 64, Adam, soft target updates tau) per stored transition after the
//   warm-up.
// One addition (novelty-driven exploration): the loop caches evaluated policies, so an
// episode that decodes to an already-evaluated policy costs nothing and teaches nothing new.
// After the warm-up the agent therefore plans each episode at its first step (actor rollout
// through qs__space_state) and, while the plan decodes to a policy seen before, re-draws the
// noise with sigma doubled (at most NOVELTY_TRIES times, sigma capped at 1). The actor, the
// critic and their updates are unchanged; only the exploration noise adapts.
// A second addition (local search, config key `local_search`, on by default): after the
// warm-up, each DDPG episode's policy becomes the incumbent of a first-improvement local
// search. The following episodes each change one choice of one layer of the incumbent (the
// move the critic scores highest among those not tried yet) and the incumbent moves when
// the reward improves; policies evaluated earlier are looked up, not proposed again. When
// no move is left, or after as many failed moves in a row as there are layers, the next
// episode is again a DDPG episode. Every episode, a DDPG one or a move, is stored in the
// replay and trains actor and critic as before. This is a memetic hybrid (DDPG proposes
// where to search, local search refines): on rewards with a cliff such as an accuracy
// floor, single-layer changes of a good policy are what a per-layer policy network finds
// hardest (bench/search-quality/README.md; on that benchmark the local search does the
// work: its ablations measure the critic's ranking and DDPG's proposals as no better than
// random ones).
#include "search/agent-impl.h"
#include "search/mlp.h"

#include <math.h>
#include <string.h>

#define S_DIM QS_STATE_DIM
#define A_DIM QS_ACTION_DIM
#define MOVING_ALPHA 0.5
#define KEEP_TOP 0.3
#define NOVELTY_TRIES 12
#define NOVELTY_GROWTH 2.0
#define NOVELTY_MAX_SIGMA 1.0
// Local search: step of a move on a continuous action dimension.
#define LS_STEP 0.125f

enum ep_mode { MODE_WARMUP = 0, MODE_DDPG, MODE_MOVE };

struct ddpg {
    qs_agent base;
    const struct qs_space *space;
    int n_layers;
    int hidden1, hidden2, batch, warmup;
    double lr_actor, lr_critic, tau, discount, init_delta, delta_decay;
    gsl_rng *rng;
    struct qs_mlp *actor, *actor_t, *critic, *critic_t;
    int episode;
    // Running episode: state and taken action of each step.
    float *ep_s, *ep_a;
    // Replay: cap episodes of n_layers steps each.
    int cap, n_ep;
    float *rs, *ra;
    double *rr;
    int *order;  // scratch for eviction
    bool have_avg;
    double moving_avg;
    // Update scratch (batch rows).
    float *b_s, *b_sa, *b_s2a2, *b_r, *b_mask, *b_q, *b_dq, *b_dsa, *b_da;
    // Novelty: hashes of the policies of earlier episodes, and the planned episode.
    uint64_t *seen;
    double *seen_r;  // reward of each seen policy (-INFINITY when it failed)
    int n_seen, cap_seen;
    float *plan_s, *plan_a;
    bool have_plan;
    // Local search: the incumbent policy and its reward, the moves tried from it (one byte
    // per move, n_moves of them), failed moves in a row, and the running episode's mode.
    bool local_search, climbing;
    float *inc_a, *inc_s;
    double inc_r;
    int n_moves, fails, mode, move;
    uint8_t *tried;
    float *nb_a, *q_in, *q_out, *q_base, *m_score;
    int *m_idx;  // the moves of one critic batch
};

static void ddpg_destroy(qs_agent *a) {
    struct ddpg *g = (struct ddpg *)a;
    if (!g) return;
    if (g->rng) gsl_rng_free(g->rng);
    qs__mlp_destroy(g->actor);
    qs__mlp_destroy(g->actor_t);
    qs__mlp_destroy(g->critic);
    qs__mlp_destroy(g->critic_t);
    float *bufs[] = {g->ep_s, g->ep_a, g->rs, g->ra, g->b_s, g->b_sa, g->b_s2a2, g->b_r,
                     g->b_mask, g->b_q, g->b_dq, g->b_dsa, g->b_da};
    for (size_t i = 0; i < QS_COUNTOF(bufs); i++) qs__free(bufs[i]);
    qs__free(g->rr);
    qs__free(g->order);
    qs__free(g->seen);
    qs__free(g->seen_r);
    qs__free(g->inc_a);
    qs__free(g->inc_s);
    qs__free(g->tried);
    qs__free(g->nb_a);
    qs__free(g->q_in);
    qs__free(g->q_out);
    qs__free(g->q_base);
    qs__free(g->m_score);
    qs__free(g->m_idx);
    qs__free(g->plan_s);
    qs__free(g->plan_a);
    qs__free(g);
}

static enum qs_status ddpg_begin(qs_agent *a, int episode, struct qs_diag *diag) {
    struct ddpg *g = (struct ddpg *)a;
    g->episode = episode;
    g->have_plan = false;
    g->mode = MODE_WARMUP;
    return QS_STATUS_OK;
}

// FNV-1a over the decoded layer policies of `actions` (L x A_DIM): the same policy gives
// the same hash whatever point of its bins the actions are.
static uint64_t policy_hash(const struct ddpg *g, const float *actions) {
    uint64_t h = 1469598103934665603ull;
    for (int l = 0; l < g->n_layers; l++) {
        struct qs_layer_policy lp;
        qs__space_decode(g->space, l, &actions[l * A_DIM], &lp);
        uint32_t sp;
        memcpy(&sp, &lp.sparsity, sizeof sp);
        uint32_t v[3] = {(uint32_t)lp.w_bits, (uint32_t)lp.a_bits, sp};
        for (int i = 0; i < 3; i++)
            for (int b = 0; b < 4; b++) {
                h ^= (v[i] >> (8 * b)) & 0xffu;
                h *= 1099511628211ull;
            }
    }
    return h;
}

// Index of h among the seen policies, -1 when absent.
static int seen_find(const struct ddpg *g, uint64_t h) {
    for (int i = 0; i < g->n_seen; i++)
        if (g->seen[i] == h) return i;
    return -1;
}

static bool seen_has(const struct ddpg *g, uint64_t h) { return seen_find(g, h) >= 0; }

// Grows the seen arrays to hold n policies.
static bool seen_reserve(struct ddpg *g, int n) {
    if (n <= g->cap_seen) return true;
    int cap = QS_MAX(QS_MAX(2 * g->cap_seen, 256), n);
    uint64_t *p = qs__realloc(g->seen, (size_t)cap * sizeof(uint64_t));
    if (!p) return false;
    g->seen = p;
    double *r = qs__realloc(g->seen_r, (size_t)cap * sizeof(double));
    if (!r) return false;
    g->seen_r = r;
    g->cap_seen = cap;
    return true;
}

// Records h with its reward; false on NOMEM (then novelty and the local search's look-ups
// just stop growing, which is harmless).
static bool seen_add(struct ddpg *g, uint64_t h, double reward) {
    if (seen_has(g, h)) return true;
    if (!seen_reserve(g, g->n_seen + 1)) return false;
    g->seen_r[g->n_seen] = isfinite(reward) ? reward : -INFINITY;
    g->seen[g->n_seen++] = h;
    return true;
}

// ---- local search ---------------------------------------------------------------------
// A move changes one action dimension of one layer of the incumbent: to each other bin of
// a discrete dimension, or by -LS_STEP / +LS_STEP on a continuous one. Moves are numbered
// layer by layer, dimension by dimension, so that the count does not depend on the
// incumbent.

static int moves_of(const struct qs_space *s, int l, int d) {
    int n = s->layers[l].n_choices[d];
    if (d == 2 && s->sparsity_continuous) return 2;
    return n > 1 ? n - 1 : 0;
}

static int count_moves(const struct qs_space *s) {
    int n = 0;
    for (int l = 0; l < s->n_layers; l++)
        for (int d = 0; d < A_DIM; d++) n += moves_of(s, l, d);
    return n;
}

static int bin_index(float a, int n) {
    if (!(a > 0.0f)) return 0;
    int i = (int)(a * (float)n);
    return i >= n ? n - 1 : i;
}

// Applies move m to the incumbent into g->nb_a; returns its layer, or -1 when the move
// changes nothing (a continuous value at its bound).
static int apply_move(struct ddpg *g, int m) {
    const struct qs_space *s = g->space;
    memcpy(g->nb_a, g->inc_a, (size_t)g->n_layers * A_DIM * sizeof(float));
    for (int l = 0; l < g->n_layers; l++)
        for (int d = 0; d < A_DIM; d++) {
            int k = moves_of(s, l, d);
            if (m >= k) {
                m -= k;
                continue;
            }
            float *a = &g->nb_a[l * A_DIM + d];
            if (d == 2 && s->sparsity_continuous) {
                float v = *a + (m ? LS_STEP : -LS_STEP);
                v = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;
                if (v == *a) return -1;
                *a = v;
            } else {
                int n = s->layers[l].n_choices[d], cur = bin_index(*a, n);
                int b = m < cur ? m : m + 1;
                *a = ((float)b + 0.5f) / (float)n;
            }
            return l;
        }
    return -1;
}

static void set_incumbent(struct ddpg *g, const float *actions, double reward) {
    memcpy(g->inc_a, actions, (size_t)g->n_layers * A_DIM * sizeof(float));
    g->inc_r = reward;
    g->climbing = true;
    g->fails = 0;
    memset(g->tried, 0, (size_t)QS_MAX(g->n_moves, 1));
}

// Critic scores of the untried moves into g->m_score: Q(s_l, moved action) - Q(s_l,
// incumbent action) at the incumbent's state of the moved layer. Returns the best one, or
// -1 when none is left. First moves to the best evaluated neighbour while one beats the
// incumbent (no evaluation needed).
static int next_move(struct ddpg *g) {
    const int L = g->n_layers, SA = S_DIM + A_DIM, B = g->batch;
    for (;;) {
        int best_seen = -1;
        double best_r = g->inc_r;
        for (int m = 0; m < g->n_moves; m++) {
            if (g->tried[m]) continue;
            if (apply_move(g, m) < 0) {
                g->tried[m] = 1;
                continue;
            }
            int i = seen_find(g, policy_hash(g, g->nb_a));
            if (i < 0) continue;
            g->tried[m] = 1;
            if (g->seen_r[i] > best_r) {
                best_r = g->seen_r[i];
                best_seen = m;
            }
        }
        if (best_seen < 0) break;
        apply_move(g, best_seen);
        set_incumbent(g, g->nb_a, best_r);
    }
    for (int l = 0; l < L; l++)
        qs__space_state(g->space, l, l ? &g->inc_a[(l - 1) * A_DIM] : NULL,
                        &g->inc_s[l * S_DIM]);
    // Rows in chunks of the critic's batch: each layer's incumbent action, then each
    // untried move.
    float *qb = g->q_base;
    for (int l0 = 0; l0 < L; l0 += B) {
        int n = QS_MIN(B, L - l0);
        for (int i = 0; i < n; i++) {
            memcpy(&g->q_in[i * SA], &g->inc_s[(l0 + i) * S_DIM], S_DIM * sizeof(float));
            memcpy(&g->q_in[i * SA + S_DIM], &g->inc_a[(l0 + i) * A_DIM],
                   A_DIM * sizeof(float));
        }
        qs__mlp_forward(g->critic, g->q_in, n, g->q_out);
        memcpy(&qb[l0], g->q_out, (size_t)n * sizeof(float));
    }
    int best = -1, n = 0, *idx = g->m_idx;
    for (int m = 0; m <= g->n_moves; m++) {
        if (m < g->n_moves && !g->tried[m]) {
            int l = apply_move(g, m);
            memcpy(&g->q_in[n * SA], &g->inc_s[l * S_DIM], S_DIM * sizeof(float));
            memcpy(&g->q_in[n * SA + S_DIM], &g->nb_a[l * A_DIM], A_DIM * sizeof(float));
            idx[n++] = m;
        }
        if (n == B || (m == g->n_moves && n > 0)) {
            qs__mlp_forward(g->critic, g->q_in, n, g->q_out);
            for (int i = 0; i < n; i++) {
                int l = apply_move(g, idx[i]);
                g->m_score[idx[i]] = g->q_out[i] - qb[l];
                if (best < 0 || g->m_score[idx[i]] > g->m_score[best]) best = idx[i];
            }
            n = 0;
        }
    }
    return best;
}

// Plans the whole episode: the incumbent with the local search's next move, or (no
// climb running, or no move left) actor means along the rollout plus noise of `sigma`,
// re-drawn with a growing sigma while the plan repeats an evaluated policy.
static void plan_episode(struct ddpg *g, double delta) {
    const int L = g->n_layers;
    if (g->climbing && g->fails < L) {
        int m = next_move(g);
        if (m >= 0) {
            apply_move(g, m);
            g->tried[m] = 1;
            g->move = m;
            g->mode = MODE_MOVE;
            memcpy(g->plan_a, g->nb_a, (size_t)L * A_DIM * sizeof(float));
            for (int l = 0; l < L; l++)
                qs__space_state(g->space, l, l ? &g->plan_a[(l - 1) * A_DIM] : NULL,
                                &g->plan_s[l * S_DIM]);
            g->have_plan = true;
            return;
        }
    }
    g->climbing = false;
    g->mode = MODE_DDPG;
    double sigma = delta;
    for (int k = 0; k < NOVELTY_TRIES; k++) {
        for (int l = 0; l < L; l++) {
            float *s = &g->plan_s[l * S_DIM], *act = &g->plan_a[l * A_DIM];
            qs__space_state(g->space, l, l ? &g->plan_a[(l - 1) * A_DIM] : NULL, s);
            float mu[A_DIM];
            qs__mlp_forward(g->actor, s, 1, mu);
            for (int d = 0; d < A_DIM; d++)
                act[d] = qs__agent_truncnorm(g->rng, mu[d], (float)sigma);
        }
        if (!seen_has(g, policy_hash(g, g->plan_a))) break;
        sigma = QS_MIN(sigma * NOVELTY_GROWTH, NOVELTY_MAX_SIGMA);
    }
    g->have_plan = true;
}

static enum qs_status ddpg_act(qs_agent *a, int layer, const float *state, float *action) {
    struct ddpg *g = (struct ddpg *)a;
    QS_ASSERT(layer >= 0 && layer < g->n_layers);
    memcpy(&g->ep_s[layer * S_DIM], state, S_DIM * sizeof(float));
    if (g->episode < g->warmup) {
        for (int d = 0; d < A_DIM; d++) action[d] = (float)gsl_rng_uniform(g->rng);
    } else {
        double delta = g->init_delta * pow(g->delta_decay, (double)(g->episode - g->warmup));
        if (layer == 0) plan_episode(g, delta);
        // A move keeps its plan even when an earlier action was clamped.
        if (g->have_plan && (g->mode == MODE_MOVE ||
                             !memcmp(state, &g->plan_s[layer * S_DIM], S_DIM * sizeof(float)))) {
            memcpy(action, &g->plan_a[layer * A_DIM], A_DIM * sizeof(float));
        } else {
            // The real state left the plan (an earlier action was clamped): plain DDPG.
            g->have_plan = false;
            float mu[A_DIM];
            qs__mlp_forward(g->actor, state, 1, mu);
            for (int d = 0; d < A_DIM; d++)
                action[d] = qs__agent_truncnorm(g->rng, mu[d], (float)delta);
        }
    }
    memcpy(&g->ep_a[layer * A_DIM], action, A_DIM * sizeof(float));
    return QS_STATUS_OK;
}

static void ddpg_taken(qs_agent *a, int layer, const float *action) {
    struct ddpg *g = (struct ddpg *)a;
    memcpy(&g->ep_a[layer * A_DIM], action, A_DIM * sizeof(float));
}

// Slot of the replay for a new episode: the next free one, or (full) one chosen uniformly
// among the episodes outside the top KEEP_TOP by reward.
static int replay_slot(struct ddpg *g) {
    if (g->n_ep < g->cap) return g->n_ep++;
    int n = g->cap;
    for (int i = 0; i < n; i++) g->order[i] = i;
    // Insertion sort by reward, descending; ties by slot (deterministic).
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
            int x = g->order[j - 1], y = g->order[j];
            if (g->rr[x] > g->rr[y] || (g->rr[x] == g->rr[y] && x < y)) break;
            g->order[j - 1] = y;
            g->order[j] = x;
        }
    int keep = (int)(KEEP_TOP * n);
    if (keep >= n) keep = n - 1;
    int pick = keep + (int)gsl_rng_uniform_int(g->rng, (unsigned long)(n - keep));
    return g->order[pick];
}

static void update_policy(struct ddpg *g) {
    const int B = g->batch, L = g->n_layers;
    const int SA = S_DIM + A_DIM;
    // Sample transitions uniformly (every episode holds L of them).
    double mean_r = 0.0;
    for (int i = 0; i < B; i++) {
        int e = (int)gsl_rng_uniform_int(g->rng, (unsigned long)g->n_ep);
        int t = (int)gsl_rng_uniform_int(g->rng, (unsigned long)L);
        const float *s = &g->rs[((size_t)e * L + t) * S_DIM];
        const float *act = &g->ra[((size_t)e * L + t) * A_DIM];
        bool last = t == L - 1;
        const float *s2 = last ? s : &g->rs[((size_t)e * L + t + 1) * S_DIM];
        memcpy(&g->b_s[i * S_DIM], s, S_DIM * sizeof(float));
        memcpy(&g->b_sa[i * SA], s, S_DIM * sizeof(float));
        memcpy(&g->b_sa[i * SA + S_DIM], act, A_DIM * sizeof(float));
        memcpy(&g->b_s2a2[i * SA], s2, S_DIM * sizeof(float));
        g->b_r[i] = (float)(g->rr[e] / L);
        g->b_mask[i] = last ? 0.0f : 1.0f;
        mean_r += g->b_r[i];
    }
    mean_r /= B;
    if (!g->have_avg) {
        g->moving_avg = mean_r;
        g->have_avg = true;
    } else {
        g->moving_avg += MOVING_ALPHA * (mean_r - g->moving_avg);
    }
    // Targets: y = r - baseline + discount * mask * Q'(s', mu'(s')).
    float *a2 = g->actor_t->h[g->actor_t->n_layers];
    // actor_t on the next states (gathered from b_s2a2's state columns).
    for (int i = 0; i < B; i++)
        memcpy(&g->b_s[i * S_DIM], &g->b_s2a2[i * SA], S_DIM * sizeof(float));
    qs__mlp_forward(g->actor_t, g->b_s, B, NULL);
    for (int i = 0; i < B; i++)
        memcpy(&g->b_s2a2[i * SA + S_DIM], &a2[i * A_DIM], A_DIM * sizeof(float));
    qs__mlp_forward(g->critic_t, g->b_s2a2, B, g->b_q);
    float y[512];
    QS_ASSERT(B <= (int)QS_COUNTOF(y));
    for (int i = 0; i < B; i++)
        y[i] = (float)(g->b_r[i] - g->moving_avg) +
               (float)g->discount * g->b_mask[i] * g->b_q[i];
    // Critic: MSE against y.
    qs__mlp_forward(g->critic, g->b_sa, B, g->b_q);
    for (int i = 0; i < B; i++) g->b_dq[i] = 2.0f * (g->b_q[i] - y[i]) / (float)B;
    qs__mlp_zero_grad(g->critic);
    qs__mlp_backward(g->critic, g->b_dq, NULL);
    qs__mlp_adam_step(g->critic, g->lr_critic);
    // Actor: minimise -mean Q(s, mu(s)) through the updated critic.
    for (int i = 0; i < B; i++)
        memcpy(&g->b_s[i * S_DIM], &g->b_sa[i * SA], S_DIM * sizeof(float));
    qs__mlp_forward(g->actor, g->b_s, B, NULL);
    const float *mu = g->actor->h[g->actor->n_layers];
    for (int i = 0; i < B; i++)
        memcpy(&g->b_sa[i * SA + S_DIM], &mu[i * A_DIM], A_DIM * sizeof(float));
    qs__mlp_forward(g->critic, g->b_sa, B, NULL);
    for (int i = 0; i < B; i++) g->b_dq[i] = -1.0f / (float)B;
    qs__mlp_backward_input(g->critic, g->b_dq, g->b_dsa);  // the critic does not learn here
    for (int i = 0; i < B; i++)
        memcpy(&g->b_da[i * A_DIM], &g->b_dsa[i * SA + S_DIM], A_DIM * sizeof(float));
    qs__mlp_zero_grad(g->actor);
    qs__mlp_backward(g->actor, g->b_da, NULL);
    qs__mlp_adam_step(g->actor, g->lr_actor);
    qs__mlp_soft_update(g->actor_t, g->actor, g->tau);
    qs__mlp_soft_update(g->critic_t, g->critic, g->tau);
}

static enum qs_status ddpg_end(qs_agent *a, double reward, const double *objectives,
                               int n_objectives, struct qs_diag *diag) {
    struct ddpg *g = (struct ddpg *)a;
    const int L = g->n_layers;
    (void)seen_add(g, policy_hash(g, g->ep_a), reward);
    if (g->local_search && g->episode >= g->warmup) {
        double r = isfinite(reward) ? reward : -INFINITY;
        if (g->mode == MODE_MOVE) {
            if (r > g->inc_r)
                set_incumbent(g, g->ep_a, r);
            else
                g->fails++;
        } else if (g->mode == MODE_DDPG && isfinite(reward)) {
            set_incumbent(g, g->ep_a, r);  // a new climb starts at DDPG's proposal
        }
    }
    if (!isfinite(reward))
        return QS_STATUS_OK;  // a failed evaluation teaches nothing
    int slot = replay_slot(g);
    memcpy(&g->rs[(size_t)slot * L * S_DIM], g->ep_s, (size_t)L * S_DIM * sizeof(float));
    memcpy(&g->ra[(size_t)slot * L * A_DIM], g->ep_a, (size_t)L * A_DIM * sizeof(float));
    g->rr[slot] = reward;
    if (g->episode >= g->warmup)
        for (int t = 0; t < L; t++) update_policy(g);
    return QS_STATUS_OK;
}

static bool ddpg_exhausted(const qs_agent *a) { return false; }

#define DDPG_VERSION 3

static enum qs_status ddpg_save(const qs_agent *a, FILE *f, struct qs_diag *diag) {
    const struct ddpg *g = (const struct ddpg *)a;
    const int L = g->n_layers;
    enum qs_status st = qs__agent_write_header(f, "ddpg", DDPG_VERSION, diag);
    if (st) return st;
    int32_t hdr[5] = {L, g->cap, g->n_ep, g->have_avg, g->n_seen};
    if (!qs__agent_write(f, hdr, sizeof(hdr)) ||
        !qs__agent_write(f, g->seen, (size_t)g->n_seen * sizeof(uint64_t)) ||
        !qs__agent_write(f, g->seen_r, (size_t)g->n_seen * sizeof(double)) ||
        !qs__agent_write(f, &g->moving_avg, sizeof(g->moving_avg)) ||
        !qs__agent_write(f, g->rs, (size_t)g->n_ep * L * S_DIM * sizeof(float)) ||
        !qs__agent_write(f, g->ra, (size_t)g->n_ep * L * A_DIM * sizeof(float)) ||
        !qs__agent_write(f, g->rr, (size_t)g->n_ep * sizeof(double)))
        return qs__diag(diag, QS_STATUS_IO, "ddpg agent: checkpoint write failed");
    int32_t ls[3] = {g->climbing, g->fails, g->n_moves};
    if (!qs__agent_write(f, ls, sizeof(ls)) || !qs__agent_write(f, &g->inc_r, sizeof(double)) ||
        !qs__agent_write(f, g->inc_a, (size_t)L * A_DIM * sizeof(float)) ||
        !qs__agent_write(f, g->tried, (size_t)g->n_moves))
        return qs__diag(diag, QS_STATUS_IO, "ddpg agent: checkpoint write failed");
    if ((st = qs__agent_write_rng(f, g->rng, diag)) || (st = qs__mlp_save(g->actor, f, diag)) ||
        (st = qs__mlp_save(g->actor_t, f, diag)) || (st = qs__mlp_save(g->critic, f, diag)) ||
        (st = qs__mlp_save(g->critic_t, f, diag)))
        return st;
    return QS_STATUS_OK;
}

static enum qs_status ddpg_load(qs_agent *a, FILE *f, struct qs_diag *diag) {
    struct ddpg *g = (struct ddpg *)a;
    const int L = g->n_layers;
    enum qs_status st = qs__agent_read_header(f, "ddpg", DDPG_VERSION, diag);
    if (st) return st;
    int32_t hdr[5];
    if (!qs__agent_read(f, hdr, sizeof(hdr)))
        return qs__diag(diag, QS_STATUS_PARSE, "ddpg agent: truncated checkpoint");
    if (hdr[4] < 0)
        return qs__diag(diag, QS_STATUS_PARSE, "ddpg agent: bad policy count in checkpoint");
    g->n_seen = 0;
    if (!seen_reserve(g, hdr[4]))
        return qs__diag(diag, QS_STATUS_NOMEM, "ddpg agent: out of memory");
    if (!qs__agent_read(f, g->seen, (size_t)hdr[4] * sizeof(uint64_t)) ||
        !qs__agent_read(f, g->seen_r, (size_t)hdr[4] * sizeof(double)))
        return qs__diag(diag, QS_STATUS_PARSE, "ddpg agent: truncated checkpoint");
    g->n_seen = hdr[4];
    if (hdr[0] != L || hdr[1] != g->cap || hdr[2] < 0 || hdr[2] > g->cap)
        return qs__diag(diag, QS_STATUS_PARSE,
                        "ddpg agent: checkpoint of %d layers and %d replay episodes, not %d "
                        "and %d", (int)hdr[0], (int)hdr[1], L, g->cap);
    g->n_ep = hdr[2];
    g->have_avg = hdr[3] != 0;
    if (!qs__agent_read(f, &g->moving_avg, sizeof(g->moving_avg)) ||
        !qs__agent_read(f, g->rs, (size_t)g->n_ep * L * S_DIM * sizeof(float)) ||
        !qs__agent_read(f, g->ra, (size_t)g->n_ep * L * A_DIM * sizeof(float)) ||
        !qs__agent_read(f, g->rr, (size_t)g->n_ep * sizeof(double)))
        return qs__diag(diag, QS_STATUS_PARSE, "ddpg agent: truncated replay in checkpoint");
    int32_t ls[3];
    if (!qs__agent_read(f, ls, sizeof(ls)))
        return qs__diag(diag, QS_STATUS_PARSE, "ddpg agent: truncated checkpoint");
    if (ls[2] != g->n_moves)
        return qs__diag(diag, QS_STATUS_PARSE, "ddpg agent: checkpoint of %d local-search "
                        "moves, not %d", (int)ls[2], g->n_moves);
    g->climbing = ls[0] != 0;
    g->fails = ls[1];
    if (!qs__agent_read(f, &g->inc_r, sizeof(double)) ||
        !qs__agent_read(f, g->inc_a, (size_t)L * A_DIM * sizeof(float)) ||
        !qs__agent_read(f, g->tried, (size_t)g->n_moves))
        return qs__diag(diag, QS_STATUS_PARSE, "ddpg agent: truncated checkpoint");
    if ((st = qs__agent_read_rng(f, g->rng, diag)) || (st = qs__mlp_load(g->actor, f, diag)) ||
        (st = qs__mlp_load(g->actor_t, f, diag)) || (st = qs__mlp_load(g->critic, f, diag)) ||
        (st = qs__mlp_load(g->critic_t, f, diag)))
        return st;
    return QS_STATUS_OK;
}

static const struct qs_agent_ops ddpg_ops = {
    "ddpg", ddpg_begin, ddpg_act, ddpg_taken, ddpg_end, ddpg_exhausted, ddpg_save, ddpg_load,
    ddpg_destroy,
};

static float *falloc(size_t n) { return qs__calloc(QS_MAX(n, 1), sizeof(float)); }

enum qs_status qs__agent_ddpg_create(const struct qs_search_config *cfg,
                                     const struct qs_space *space, qs_agent **out,
                                     struct qs_diag *diag) {
    *out = NULL;
    struct ddpg *g = qs__calloc(1, sizeof(*g));
    if (!g) return qs__diag(diag, QS_STATUS_NOMEM, "ddpg agent: out of memory");
    g->base.ops = &ddpg_ops;
    g->space = space;
    g->n_layers = space->n_layers;
    // Zero (unset) fields take HAQ's defaults.
    g->hidden1 = cfg->hidden1 > 0 ? cfg->hidden1 : 300;
    g->hidden2 = cfg->hidden2 > 0 ? cfg->hidden2 : 300;
    g->lr_actor = cfg->lr_actor > 0 ? cfg->lr_actor : 1e-4;
    g->lr_critic = cfg->lr_critic > 0 ? cfg->lr_critic : 1e-3;
    g->tau = cfg->tau > 0 ? cfg->tau : 0.01;
    g->discount = cfg->discount;
    g->batch = cfg->ddpg_batch > 0 ? cfg->ddpg_batch : 64;
    g->warmup = QS_MAX(cfg->num_warmup, 0);
    g->init_delta = cfg->init_delta > 0 ? cfg->init_delta : 0.5;
    g->delta_decay = cfg->delta_decay > 0 ? cfg->delta_decay : 0.99;
    g->local_search = cfg->local_search;
    g->n_moves = count_moves(space);
    g->inc_r = -INFINITY;
    const int L = g->n_layers, B = g->batch, SA = S_DIM + A_DIM;
    // Replay in whole episodes: replay_size transitions of (layers + 1) per episode (NNCF's
    // sizing, its dummy terminal transition included), warm-up x (layers + 1) by default.
    int size = cfg->replay_size > 0 ? cfg->replay_size : g->warmup * (L + 1);
    g->cap = QS_MAX(size / (L + 1), 2);
    enum qs_status st = QS_STATUS_NOMEM;
    if (B > 512 || g->hidden1 > 4096 || g->hidden2 > 4096) {
        st = qs__diag(diag, QS_STATUS_INVALID_ARG,
                      "ddpg: batch %d (at most 512) or hidden %d/%d (at most 4096)", B,
                      g->hidden1, g->hidden2);
        goto error;
    }
    if (!(g->rng = qs__agent_rng(cfg->seed))) goto nomem;
    int as[4] = {S_DIM, g->hidden1, g->hidden2, A_DIM};
    enum qs_mlp_act aa[3] = {QS_MLP_RELU, QS_MLP_RELU, QS_MLP_SIGMOID};
    int cs[4] = {SA, g->hidden1, g->hidden2, 1};
    enum qs_mlp_act ca[3] = {QS_MLP_RELU, QS_MLP_RELU, QS_MLP_LINEAR};
    // Networks are drawn from the agent's generator in a fixed order; the targets start as
    // copies (HAQ's hard_update).
    if ((st = qs__mlp_create(3, as, aa, B, 3e-3, g->rng, &g->actor, diag)) ||
        (st = qs__mlp_create(3, as, aa, B, 3e-3, g->rng, &g->actor_t, diag)) ||
        (st = qs__mlp_create(3, cs, ca, B, 3e-3, g->rng, &g->critic, diag)) ||
        (st = qs__mlp_create(3, cs, ca, B, 3e-3, g->rng, &g->critic_t, diag)))
        goto error;
    qs__mlp_soft_update(g->actor_t, g->actor, 1.0);
    qs__mlp_soft_update(g->critic_t, g->critic, 1.0);
    g->ep_s = falloc((size_t)L * S_DIM);
    g->ep_a = falloc((size_t)L * A_DIM);
    g->rs = falloc((size_t)g->cap * L * S_DIM);
    g->ra = falloc((size_t)g->cap * L * A_DIM);
    g->rr = qs__calloc((size_t)g->cap, sizeof(double));
    g->order = qs__calloc((size_t)g->cap, sizeof(int));
    g->b_s = falloc((size_t)B * S_DIM);
    g->b_sa = falloc((size_t)B * SA);
    g->b_s2a2 = falloc((size_t)B * SA);
    g->b_r = falloc((size_t)B);
    g->b_mask = falloc((size_t)B);
    g->b_q = falloc((size_t)B);
    g->b_dq = falloc((size_t)B);
    g->b_dsa = falloc((size_t)B * SA);
    g->b_da = falloc((size_t)B * A_DIM);
    g->plan_s = falloc((size_t)L * S_DIM);
    g->plan_a = falloc((size_t)L * A_DIM);
    g->inc_a = falloc((size_t)L * A_DIM);
    g->inc_s = falloc((size_t)L * S_DIM);
    g->nb_a = falloc((size_t)L * A_DIM);
    g->q_in = falloc((size_t)B * SA);
    g->q_out = falloc((size_t)B);
    g->q_base = falloc((size_t)L);
    g->m_score = falloc((size_t)g->n_moves);
    g->tried = qs__calloc((size_t)QS_MAX(g->n_moves, 1), 1);
    g->m_idx = qs__calloc((size_t)B, sizeof(int));
    if (!g->inc_a || !g->inc_s || !g->nb_a || !g->q_in || !g->q_out || !g->q_base ||
        !g->m_score || !g->tried || !g->m_idx)
        goto nomem;
    if (!g->ep_s || !g->ep_a || !g->rs || !g->ra || !g->rr || !g->order || !g->b_s ||
        !g->b_sa || !g->b_s2a2 || !g->b_r || !g->b_mask || !g->b_q || !g->b_dq || !g->b_dsa ||
        !g->b_da || !g->plan_s || !g->plan_a)
        goto nomem;
    *out = &g->base;
    return QS_STATUS_OK;
nomem:
    st = qs__diag(diag, QS_STATUS_NOMEM, "ddpg agent: out of memory");
error:
    ddpg_destroy(&g->base);
    return st;
}
