// The search agents (search/agent*.c) on synthetic spaces and rewards: one seed gives one
// action sequence; save -> load continues exactly as an uninterrupted agent; exhaustive
// search proposes every candidate once; DDPG learns a simple reward better than random
// search; the evolutionary agent's Pareto front is non-dominated.
#include "search/agent-impl.h"
#include "test.h"

#include <math.h>

// A space of n layers with the given choices per action dimension (0 = continuous) and
// made-up, distinct features.
static struct qs_space *fake_space(int n, int cw, int ca, int cs) {
    struct qs_space *s = qs__calloc(1, sizeof(*s));
    s->n_layers = n;
    s->layers = qs__calloc((size_t)n, sizeof(*s->layers));
    s->features = qs__calloc((size_t)n * 10, sizeof(float));
    s->n_w_bits = cw;
    s->w_bits[0] = 8;
    s->w_bits[1] = 32;
    s->n_a_bits = ca > 1 ? 2 : 1;
    s->a_bits[0] = 8;
    s->a_bits[1] = 32;
    s->tie_bits = ca == 1;
    s->n_sparsity = cs > 0 ? cs : 1;
    for (int i = 0; i < s->n_sparsity; i++) s->sparsity[i] = 0.25f * i;
    s->sparsity_continuous = cs == 0;
    s->sparsity_max = 0.9f;
    snprintf(s->pattern, sizeof s->pattern, "unstructured");
    for (int l = 0; l < n; l++) {
        s->layers[l].layer = l;
        s->layers[l].n_choices[0] = cw;
        s->layers[l].n_choices[1] = ca;
        s->layers[l].n_choices[2] = cs;
        for (int c = 0; c < 10; c++)
            s->features[l * 10 + c] = (float)((l * 7 + c * 3) % 11) / 10.0f;
        s->features[l * 10] = n > 1 ? (float)l / (n - 1) : 0.0f;
    }
    return s;
}

static struct qs_search_config config(enum qs_algo algo, uint64_t seed) {
    struct qs_search_config c;
    memset(&c, 0, sizeof(c));
    c.algorithm = algo;
    c.seed = seed;
    c.hidden1 = c.hidden2 = 64;  // small networks: the test runs in seconds
    c.lr_actor = 1e-4;
    c.lr_critic = 1e-3;
    c.tau = 0.01;
    c.discount = 1.0;
    c.ddpg_batch = 64;
    c.init_delta = 0.5;
    c.delta_decay = 0.95;
    c.num_warmup = 10;
    c.local_search = true;
    c.population = 16;
    return c;
}

// Synthetic reward: the fraction of layers at 8 bits, minus 0.5 for each "sensitive" layer
// (every third one) at 8 bits; the optimum keeps those at 32 and the rest at 8.
static double reward_of(const struct qs_space *s, const struct qs_layer_policy *p) {
    double r = 0.0;
    for (int l = 0; l < s->n_layers; l++)
        if (p[l].w_bits == 8) r += 1.0 / s->n_layers - (l % 3 == 1 ? 0.5 : 0.0);
    return r;
}

// Runs episodes [first, first + n) of agent `a`, appending every action to `trace` (may be
// NULL) and returning the mean reward of the last `tail` episodes.
static double run(qs_agent *a, const struct qs_space *s, int first, int n, int tail,
                  float *trace, double *best) {
    struct qs_layer_policy pol[16];
    double sum = 0.0;
    for (int e = first; e < first + n; e++) {
        ASSERT_OK(a->ops->episode_begin(a, e, NULL));
        float prev[3], act[3], st[QS_STATE_DIM];
        for (int l = 0; l < s->n_layers; l++) {
            qs__space_state(s, l, l ? prev : NULL, st);
            ASSERT_OK(a->ops->act(a, l, st, act));
            for (int d = 0; d < 3; d++) ASSERT_TRUE(act[d] >= 0.0f && act[d] <= 1.0f);
            a->ops->taken(a, l, act);
            if (trace) {
                memcpy(trace, act, sizeof act);
                trace += 3;
            }
            qs__space_decode(s, l, act, &pol[l]);
            memcpy(prev, act, sizeof prev);
        }
        double r = reward_of(s, pol);
        double obj[2] = {0, 0};
        for (int l = 0; l < s->n_layers; l++) {
            obj[0] += pol[l].w_bits == 8 ? 1.0 : 0.0;                        // compression
            obj[1] -= pol[l].w_bits == 8 ? 0.1 * (1 + (l * 5) % 7) : 0.0;    // accuracy loss
            obj[1] -= pol[l].sparsity * 0.05 * (1 + l % 3);
        }
        ASSERT_OK(a->ops->episode_end(a, r, obj, 2, NULL));
        if (e >= first + n - tail) sum += r;
        if (best && r > *best) *best = r;
    }
    return tail ? sum / tail : 0.0;
}

static qs_agent *make(enum qs_algo algo, uint64_t seed, const struct qs_space *s) {
    struct qs_search_config c = config(algo, seed);
    qs_agent *a;
    struct qs_diag diag;
    if (qs__agent_create(&c, s, &a, &diag) != QS_STATUS_OK) {
        fprintf(stderr, "%s\n", diag.msg);
        exit(1);
    }
    return a;
}

static void determinism_and_resume(enum qs_algo algo) {
    struct qs_space *s = fake_space(6, 2, 2, 3);
    const int n1 = 25, n2 = 12, per = 6 * 3;
    float *t1 = calloc((n1 + n2) * per, sizeof(float));
    float *t2 = calloc((n1 + n2) * per, sizeof(float));
    float *t3 = calloc((n1 + n2) * per, sizeof(float));
    // Same seed, two agents: identical sequences; another seed differs.
    qs_agent *a = make(algo, 1234, s), *b = make(algo, 1234, s), *c = make(algo, 99, s);
    run(a, s, 0, n1 + n2, 0, t1, NULL);
    run(b, s, 0, n1, 0, t2, NULL);
    run(c, s, 0, n1 + n2, 0, t3, NULL);
    ASSERT_TRUE(memcmp(t1, t3, (size_t)(n1 + n2) * per * sizeof(float)) != 0);
    // b saves after n1 episodes; a fresh agent with another seed loads it and continues.
    FILE *f = tmpfile();
    ASSERT_OK(b->ops->save(b, f, NULL));
    rewind(f);
    qs_agent *d = make(algo, 5, s);
    struct qs_diag diag;
    if (d->ops->load(d, f, &diag) != QS_STATUS_OK) {
        fprintf(stderr, "%s: %s\n", d->ops->name, diag.msg);
        exit(1);
    }
    fclose(f);
    run(d, s, n1, n2, 0, t2 + n1 * per, NULL);
    if (memcmp(t1, t2, (size_t)(n1 + n2) * per * sizeof(float)) != 0) {
        fprintf(stderr, "%s: resumed run differs\n", a->ops->name);
        exit(1);
    }
    // A checkpoint of another agent is refused.
    f = tmpfile();
    ASSERT_OK(c->ops->save(c, f, NULL));
    rewind(f);
    qs_agent *other = make(algo == QS_ALGO_RANDOM ? QS_ALGO_DDPG : QS_ALGO_RANDOM, 1, s);
    ASSERT_EQ(other->ops->load(other, f, &diag), QS_STATUS_PARSE);
    fclose(f);
    printf("%s: deterministic, resume identical (%d + %d episodes)\n", a->ops->name, n1, n2);
    other->ops->destroy(other);
    a->ops->destroy(a);
    b->ops->destroy(b);
    c->ops->destroy(c);
    d->ops->destroy(d);
    free(t1);
    free(t2);
    free(t3);
    qs__space_destroy(s);
}

static void exhaustive_once(void) {
    struct qs_space *s = fake_space(3, 2, 2, 3);  // (2*2*3)^3 = 1728
    qs_agent *a = make(QS_ALGO_EXHAUSTIVE, 1, s);
    int total = (int)qs__space_size(s);
    ASSERT_EQ(total, 1728);
    char *seen = calloc((size_t)total, 1);
    int n = 0;
    while (!a->ops->exhausted(a)) {
        ASSERT_OK(a->ops->episode_begin(a, n, NULL));
        int code = 0;
        for (int l = 0; l < 3; l++) {
            float act[3], st[QS_STATE_DIM];
            qs__space_state(s, l, NULL, st);
            ASSERT_OK(a->ops->act(a, l, st, act));
            struct qs_layer_policy p;
            qs__space_decode(s, l, act, &p);
            int w = p.w_bits == 32, ab = p.a_bits == 32, sp = (int)(p.sparsity * 4 + 0.5f);
            code = code * 12 + (w * 2 + ab) * 3 + sp;
        }
        ASSERT_TRUE(code >= 0 && code < total);
        ASSERT_EQ(seen[code], 0);
        seen[code] = 1;
        ASSERT_OK(a->ops->episode_end(a, 0.0, NULL, 0, NULL));
        n++;
        ASSERT_TRUE(n <= total);
    }
    ASSERT_EQ(n, total);
    struct qs_diag diag;
    ASSERT_EQ(a->ops->episode_begin(a, n, &diag), QS_STATUS_INVALID_STATE);
    free(seen);
    a->ops->destroy(a);
    qs__space_destroy(s);
    // Continuous sparsity cannot be enumerated.
    s = fake_space(3, 2, 1, 0);
    struct qs_search_config c = config(QS_ALGO_EXHAUSTIVE, 1);
    ASSERT_EQ(qs__agent_create(&c, s, &a, &diag), QS_STATUS_INVALID_ARG);
    qs__space_destroy(s);
    printf("exhaustive: %d candidates, each once\n", total);
}

static void ddpg_learns(bool local_search) {
    struct qs_space *s = fake_space(10, 2, 1, 1);  // tied bits, no sparsity: 1,024 candidates
    int wins = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct qs_search_config c = config(QS_ALGO_DDPG, seed);
        c.local_search = local_search;
        qs_agent *a, *r = make(QS_ALGO_RANDOM, seed, s);
        ASSERT_OK(qs__agent_create(&c, s, &a, NULL));
        double bd = -1e9, br = -1e9;
        double md = run(a, s, 0, 200, 20, NULL, &bd);
        double mr = run(r, s, 0, 200, 20, NULL, &br);
        printf("ddpg%s seed %d: last-20 mean %.3f (best %.3f) vs random %.3f (best %.3f); "
               "optimum %.3f\n", local_search ? "" : " (no local search)", (int)seed, md, bd,
               mr, br, 7 / 10.0);
        wins += md > mr + 0.1;
        a->ops->destroy(a);
        r->ops->destroy(r);
    }
    ASSERT_TRUE(wins >= 2);
    qs__space_destroy(s);
}

// The local search's moves on a continuous sparsity dimension (steps) and on 2 x 2 bit
// choices: actions stay in [0, 1] and the search reaches the optimum of the synthetic reward.
static void ddpg_local_search_spaces(void) {
    for (int cont = 0; cont <= 1; cont++) {
        struct qs_space *s = cont ? fake_space(6, 2, 1, 0) : fake_space(6, 2, 2, 4);
        qs_agent *a = make(QS_ALGO_DDPG, 7, s);
        double best = -1e9;
        run(a, s, 0, 120, 0, NULL, &best);
        printf("ddpg local search, %s sparsity: best %.3f (optimum %.3f)\n",
               cont ? "continuous" : "discrete", best, 4 / 6.0);
        ASSERT_TRUE(best > 4 / 6.0 - 1e-9);
        a->ops->destroy(a);
        qs__space_destroy(s);
    }
}

static void evolution_front(void) {
    struct qs_space *s = fake_space(8, 2, 1, 3);
    qs_agent *a = make(QS_ALGO_EVOLUTION, 3, s);
    run(a, s, 0, 320, 0, NULL, NULL);
    double front[64 * 2];
    int no;
    int n = qs__agent_evolution_front(a, front, 64, &no);
    ASSERT_EQ(no, 2);
    ASSERT_TRUE(n >= 3 && n <= 64);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            const double *p = &front[2 * i], *q = &front[2 * j];
            bool dom = p[0] >= q[0] && p[1] >= q[1] && (p[0] > q[0] || p[1] > q[1]);
            ASSERT_TRUE(!dom);
        }
    // The front comes close to both ends: all-8-bit compression, no accuracy loss.
    double max0 = -1, max1 = -1e9;
    for (int i = 0; i < n; i++) {
        max0 = fmax(max0, front[2 * i]);
        max1 = fmax(max1, front[2 * i + 1]);
    }
    printf("evolution: front of %d, compression up to %.0f, accuracy loss down to %.3f\n", n,
           max0, -max1);
    ASSERT_TRUE(max0 >= 7 && max1 >= -0.05);
    a->ops->destroy(a);
    qs__space_destroy(s);
}

int main(void) {
    determinism_and_resume(QS_ALGO_RANDOM);
    determinism_and_resume(QS_ALGO_DDPG);
    determinism_and_resume(QS_ALGO_EVOLUTION);
    exhaustive_once();
    ddpg_learns(false);
    ddpg_learns(true);
    ddpg_local_search_spaces();
    evolution_front();
    printf("ok\n");
    return 0;
}
