// The evaluation pipeline of the search: one calibration, then per candidate the pruner's
// and the quantizer's cached weights, a session and a pass over a fixed subset of the
// evaluation data. See evaluator.h.
#include "search/evaluator.h"

#include "ir/session-reuse.h"

#include "qsearch/data.h"
#include "qsearch/quant.h"
#include "qsearch/sparse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// A set of samples the candidates run on: the evaluation data itself or an evenly strided
// subset of it (CIFAR files are sorted by class, so a prefix would be one class).
struct eval_set {
    struct qs_dataset ds;
    bool owned;         // ds owns copies (a subset), or borrows the loaded data
    int32_t *ref_top;   // argmax of the fp32 outputs per sample (fidelity), or NULL
};

struct qs_evaluator {
    const struct qs_search_config *cfg;
    char *work_dir;
    qs_graph_t *graph;
    qs_calib_t *calib;
    qs_quantizer_t *quant;
    qs_pruner_t *pruner;
    qs_lut_t *lut;
    struct qs_preprocess pp;
    struct qs_dataset data;  // evaluation data as loaded
    struct eval_set search, full;
    bool full_ready;
    struct qs_metrics base, base_full;
    int batch, threads;
    int64_t classes;
    int n_layers;
    struct qs_layer_info *layers;
    double other_flops;  // FLOPs of the nodes that are not quantizable layers
    double fp32_bytes;
    double setup_seconds;
    qs_policy_t *fp32;  // the empty policy: every layer fp32 and dense
    struct reuse *reuse;  // stored activations of shared prefixes, or NULL (off)
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void set_free(struct eval_set *s) {
    if (s->owned) qs_dataset_free(&s->ds);
    qs__free(s->ref_top);
    memset(s, 0, sizeof *s);
}

// Copies rows idx[0..n) of `src` into a new array.
static enum qs_status gather_rows(const struct qs_array *src, const int64_t *idx, int64_t n,
                                  struct qs_array *dst, struct qs_diag *diag) {
    int64_t dims[QS_MAX_RANK];
    memcpy(dims, src->dims, sizeof dims);
    dims[0] = n;
    enum qs_status st = qs_array_alloc(dst, src->dtype, src->rank, dims, diag);
    if (st != QS_STATUS_OK) return st;
    size_t row = src->nbytes / (size_t)(src->dims[0] > 0 ? src->dims[0] : 1);
    for (int64_t i = 0; i < n; i++)
        memcpy((char *)dst->data + (size_t)i * row, (const char *)src->data + (size_t)idx[i] * row,
               row);
    return QS_STATUS_OK;
}

// `n` samples of the evaluation data after eval_offset (0 or more than there are: all of
// them), evenly strided: CIFAR files are sorted by class, so a prefix would be one class.
static enum qs_status make_set(qs_evaluator *ev, int64_t n, struct eval_set *set,
                               struct qs_diag *diag) {
    memset(set, 0, sizeof *set);
    const struct qs_dataset *src = &ev->data;
    int64_t off = QS_MIN(QS_MAX(ev->cfg->eval_offset, (int64_t)0), src->count - 1);
    int64_t avail = src->count - off;
    if (n <= 0 || n > avail) n = avail;
    if (off == 0 && n == avail) {
        set->ds = *src;  // borrowed
        return QS_STATUS_OK;
    }
    int64_t *idx = qs__malloc((size_t)n * sizeof *idx);
    if (!idx) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory selecting samples");
    for (int64_t i = 0; i < n; i++)
        idx[i] = off + (int64_t)((double)i * (double)avail / (double)n);
    enum qs_status st = QS_STATUS_OK;
    set->owned = true;
    set->ds.n_inputs = src->n_inputs;
    set->ds.count = n;
    for (int i = 0; i < src->n_inputs && st == QS_STATUS_OK; i++) {
        st = gather_rows(&src->inputs[i], idx, n, &set->ds.inputs[i], diag);
        set->ds.input_names[i] = qs__strdup(src->input_names[i] ? src->input_names[i] : "input");
    }
    if (st == QS_STATUS_OK && src->labels.data) {
        st = gather_rows(&src->labels, idx, n, &set->ds.labels, diag);
        set->ds.labels_name = qs__strdup(src->labels_name ? src->labels_name : "labels");
    }
    qs__free(idx);
    if (st != QS_STATUS_OK) set_free(set);
    return st;
}

static int64_t tensor_numel(const struct qs_tensor_info *t) {
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->dims[i];
    return n;
}

// A session at the evaluation batch (never more than the samples); a model whose batch is
// fixed to 1 runs at 1.
static enum qs_status create_session(qs_evaluator *ev, int64_t samples, int threads,
                                     qs_session_t **out, struct qs_diag *diag) {
    struct qs_session_options so = qs_session_options_default();
    so.batch = (int)QS_MIN((int64_t)ev->batch, QS_MAX(samples, (int64_t)1));
    so.threads = threads;
    enum qs_status st = qs_session_create(ev->graph, &so, out, diag);
    if (st != QS_STATUS_OK && so.batch > 1 && st != QS_STATUS_NOMEM) {
        struct qs_tensor_info in;
        if (qs_graph_input_info(ev->graph, 0, &in) == QS_STATUS_OK && in.rank > 0 &&
            in.dims[0] == 1) {
            so.batch = 1;
            st = qs_session_create(ev->graph, &so, out, diag);
        }
    }
    return st;
}

int64_t qs__label_rank(const float *y, int64_t classes, int64_t label) {
    float s = y[label];
    int64_t r = 0;
    for (int64_t j = 0; j < classes; j++) r += y[j] > s || (j < label && y[j] == s);
    return r;
}

static int32_t argmax(const float *y, int64_t n) {
    int64_t best = 0;
    for (int64_t j = 1; j < n; j++)
        if (y[j] > y[best]) best = j;
    return (int32_t)best;
}

// ---------------------------------------------------------------------------------------
// Prefix reuse. Candidates of a search share their first layers more often than not (a
// DDPG agent late in its run changes a few layers at a time). The values live after a
// shared prefix of executed nodes are the same bits whatever comes after them (kernels are
// deterministic functions of their inputs), so they are stored once per (cut, prefix) for
// every batch of the evaluation set and restored instead of recomputed. A cut's key digests
// every executed node before it (ops, attributes, constants by content, tensor names and
// shapes; ir/session.c), so a hit is a prefix identical to the stored one. Memory is
// bounded (config key reuse_mb, default 1024 MiB; 0 turns reuse off); the least recently
// used entries go. The default: a 200-episode DDPG search of ResNet-20 over int8/fp32 on
// 1,000 images skipped 1,522 of 4,040 layers with 512 MiB, 1,747 with 1,024 and 1,764
// with 2,048, and took 31.9, 29.5-29.8 and 33.1 CPU s (first touches of fresh pages, in system
// time, grow past 1 GiB here); in the int8 space, whose stored activations are bytes,
// 512 MiB already held what recurs.
//
// Where to store: a cut that a later candidate will share. The evaluator keeps the keys of
// every cut it has run (no data) and, per candidate, the deepest layer depth at which the
// candidate met a prefix seen before; it stores at the depths recent candidates met (and at
// depth 1), so stores follow how deep candidates actually share prefixes: shallow for random
// search, deeper as a DDPG run converges.
//
// Storage: blocks of REUSE_BLOCK bytes, allocated up to the limit and then recycled through
// a free list, never returned before the end. An entry of tens of MiB in one fresh buffer
// came from mmap and cost a page fault and a zeroed page per 4 KiB on its first touch: with
// malloc and free per store, a 200-episode DDPG search of ResNet-20 in the int8/fp32 space
// spent 6 of its 56 CPU seconds in the kernel.

enum { REUSE_SPANS = 2, REUSE_RECENT = 8, REUSE_STORES = REUSE_RECENT + 2 };
enum { REUSE_BLOCK = 256 << 10 };

struct reuse_entry {
    uint64_t key;
    int depth;  // quantizable layers before the cut
    int n_spans;
    struct { uint64_t id; size_t bytes, offset; } spans[REUSE_SPANS];
    size_t batch_bytes;
    int64_t n_batches;
    unsigned char **blocks;  // [n_batches][batch_bytes] over REUSE_BLOCK-byte blocks
    size_t n_blocks;
    uint64_t used;           // clock of the last store or hit
};

struct reuse {
    size_t limit_blocks, n_alloc;  // blocks allowed, allocated (in entries, plans, free)
    unsigned char **free_blocks;   // [limit_blocks]
    size_t n_free;
    struct reuse_entry *e;
    int n, cap;
    uint64_t clock;
    uint64_t *seen;  // open addressing, 0 = empty
    size_t seen_cap, n_seen;
    int recent[REUSE_RECENT], n_recent;
    int64_t runs, hits, nodes, nodes_skipped, layers, layers_skipped, stores;
};

// One candidate run's plan.
struct reuse_run {
    int n_exec, n_layers;
    uint64_t *keys;
    int *depth;     // [n_exec + 1]: layers among exec nodes [0, e)
    bool *allowed;  // [n_exec + 1]: cut e has at most REUSE_SPANS live tensors
    int restore;    // cut to restore at (0: run from the input)
    struct reuse_entry *from;
    int n_store;
    int store_cut[REUSE_STORES];
    struct reuse_entry store[REUSE_STORES];  // filled batch by batch, then kept
};

static uint64_t reuse_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static struct reuse *reuse_create(int mb) {
    if (mb <= 0) return NULL;
    struct reuse *r = qs__calloc(1, sizeof *r);
    if (!r) return NULL;
    r->limit_blocks = ((size_t)mb << 20) / REUSE_BLOCK;
    if (!(r->free_blocks = qs__malloc(sizeof *r->free_blocks * r->limit_blocks))) {
        qs__free(r);
        return NULL;
    }
    return r;
}

static void reuse_destroy(struct reuse *r) {
    if (!r) return;
    if (r->runs)
        qs__log(QS_LOG_INFO, "prefix reuse: %lld of %lld candidate runs restored a stored "
                "prefix; %lld of %lld layers (%lld of %lld nodes) skipped; %lld prefixes stored "
                "in %zu MiB",
                (long long)r->hits, (long long)r->runs, (long long)r->layers_skipped,
                (long long)r->layers, (long long)r->nodes_skipped, (long long)r->nodes,
                (long long)r->stores, r->n_alloc * REUSE_BLOCK >> 20);
    for (int i = 0; i < r->n; i++) {
        for (size_t j = 0; j < r->e[i].n_blocks; j++) qs__aligned_free(r->e[i].blocks[j]);
        qs__free(r->e[i].blocks);
    }
    for (size_t j = 0; j < r->n_free; j++) qs__aligned_free(r->free_blocks[j]);
    qs__free(r->free_blocks);
    qs__free(r->e);
    qs__free(r->seen);
    qs__free(r);
}

static bool seen_has(const struct reuse *r, uint64_t k) {
    if (!r->seen_cap) return false;
    k = k ? k : 1;
    for (size_t i = reuse_mix(k) & (r->seen_cap - 1);; i = (i + 1) & (r->seen_cap - 1)) {
        if (r->seen[i] == k) return true;
        if (!r->seen[i]) return false;
    }
}

static void seen_add(struct reuse *r, uint64_t k) {
    k = k ? k : 1;
    if (2 * (r->n_seen + 1) > r->seen_cap) {
        size_t cap = r->seen_cap ? 2 * r->seen_cap : 1024;
        uint64_t *t = qs__calloc(cap, sizeof *t);
        if (!t) return;  // the history is a hint: losing it costs hits, not correctness
        for (size_t i = 0; i < r->seen_cap; i++) {
            if (!r->seen[i]) continue;
            size_t j = reuse_mix(r->seen[i]) & (cap - 1);
            while (t[j]) j = (j + 1) & (cap - 1);
            t[j] = r->seen[i];
        }
        qs__free(r->seen);
        r->seen = t;
        r->seen_cap = cap;
    }
    size_t i = reuse_mix(k) & (r->seen_cap - 1);
    while (r->seen[i] && r->seen[i] != k) i = (i + 1) & (r->seen_cap - 1);
    if (!r->seen[i]) {
        r->seen[i] = k;
        r->n_seen++;
    }
}

static struct reuse_entry *reuse_find(struct reuse *r, uint64_t key) {
    for (int i = 0; i < r->n; i++)
        if (r->e[i].key == key) return &r->e[i];
    return NULL;
}

// True when entry `en` holds every tensor live at `cut` of `s`.
static bool entry_covers(const struct reuse_entry *en, const qs_session_t *s, int cut,
                         int64_t n_batches) {
    struct qs_session_span sp[REUSE_SPANS];
    int n = qs__session_live(s, cut, sp, REUSE_SPANS);
    if (n > REUSE_SPANS || en->n_batches != n_batches) return false;
    for (int i = 0; i < n; i++) {
        bool found = false;
        for (int j = 0; j < en->n_spans && !found; j++)
            found = en->spans[j].id == sp[i].id && en->spans[j].bytes == sp[i].bytes;
        if (!found) return false;
    }
    return true;
}

// Returns the blocks of `en` to the free list.
static void entry_release(struct reuse *r, struct reuse_entry *en) {
    for (size_t j = 0; j < en->n_blocks; j++) r->free_blocks[r->n_free++] = en->blocks[j];
    qs__free(en->blocks);
    en->blocks = NULL;
    en->n_blocks = 0;
}

static void reuse_run_free(struct reuse *r, struct reuse_run *rr) {
    for (int i = 0; i < rr->n_store; i++) entry_release(r, &rr->store[i]);
    qs__free(rr->keys);
    qs__free(rr->depth);
    qs__free(rr->allowed);
    memset(rr, 0, sizeof *rr);
}

// Gives `en` blocks for `need` bytes: free ones first, new ones while the limit allows,
// after dropping least recently used entries as needed; false if they cannot be had.
// `*keep` (the entry a run restores from) stays, and follows its move.
static bool reuse_take_blocks(struct reuse *r, struct reuse_entry *en, size_t need,
                              struct reuse_entry **keep) {
    size_t nb = (need + REUSE_BLOCK - 1) / REUSE_BLOCK;
    if (nb > r->limit_blocks) return false;  // too big to store at all: keep what there is
    while (r->n_free + (r->limit_blocks - r->n_alloc) < nb) {
        int victim = -1;
        for (int i = 0; i < r->n; i++)
            if (&r->e[i] != *keep && (victim < 0 || r->e[i].used < r->e[victim].used)) victim = i;
        if (victim < 0) return false;
        entry_release(r, &r->e[victim]);
        if (*keep == &r->e[r->n - 1]) *keep = &r->e[victim];
        r->e[victim] = r->e[--r->n];
    }
    if (!(en->blocks = qs__malloc(sizeof *en->blocks * nb))) return false;
    while (en->n_blocks < nb) {
        unsigned char *b = NULL;
        if (r->n_free) b = r->free_blocks[--r->n_free];
        else if ((b = qs__aligned_alloc(REUSE_BLOCK))) r->n_alloc++;
        if (!b) {
            entry_release(r, en);
            return false;
        }
        en->blocks[en->n_blocks++] = b;
    }
    return true;
}

// Plans a run of session `s` over `n_batches` batches of eval set `set_id`: the cut to
// restore at and the cuts to store. Any failure leaves a plan that runs everything.
static void reuse_plan(struct reuse *r, qs_session_t *s, uint64_t set_id, int64_t n_batches,
                       struct reuse_run *rr) {
    memset(rr, 0, sizeof *rr);
    if (!r) return;
    int n = qs_session_exec_count(s);
    rr->n_exec = n;
    rr->keys = qs__malloc(sizeof(uint64_t) * (size_t)QS_MAX(n, 1));
    rr->depth = qs__calloc((size_t)n + 1, sizeof(int));
    rr->allowed = qs__calloc((size_t)n + 1, sizeof(bool));
    if (!rr->keys || !rr->depth || !rr->allowed) {
        reuse_run_free(r, rr);
        return;
    }
    qs__session_prefix_keys(s, reuse_mix(set_id ^ ((uint64_t)n_batches << 32)), rr->keys);
    for (int e = 0; e < n; e++) {
        struct qs_prof_node pn;
        bool layer = qs_session_exec_info(s, e, &pn) == QS_STATUS_OK && pn.layer >= 0;
        rr->depth[e + 1] = rr->depth[e] + layer;
    }
    rr->n_layers = rr->depth[n];
    struct qs_session_span sp[REUSE_SPANS];
    for (int c = 1; c < n; c++)
        rr->allowed[c] =
            rr->depth[c] > 0 && qs__session_live(s, c, sp, REUSE_SPANS) <= REUSE_SPANS;
    // The deepest stored prefix of this candidate.
    for (int c = n - 1; c > 0 && !rr->from; c--) {
        if (!rr->allowed[c]) continue;
        struct reuse_entry *en = reuse_find(r, rr->keys[c - 1]);
        if (en && entry_covers(en, s, c, n_batches)) {
            rr->from = en;
            rr->restore = c;
            en->used = ++r->clock;
        }
    }
    // The deepest depth at which this candidate meets a prefix run before.
    int met = 0;
    for (int c = 1; c < n; c++)
        if (rr->allowed[c] && seen_has(r, rr->keys[c - 1])) met = QS_MAX(met, rr->depth[c]);
    for (int c = 1; c < n; c++)
        if (rr->allowed[c]) seen_add(r, rr->keys[c - 1]);
    // Depths to store at: 1, this candidate's and recent candidates' meeting depths.
    int want[REUSE_STORES], n_want = 0;
    want[n_want++] = 1;
    if (met > 0) want[n_want++] = met;
    for (int i = 0; i < r->n_recent; i++) want[n_want++] = r->recent[i];
    if (met > 0) {
        if (r->n_recent == REUSE_RECENT)
            memmove(r->recent, r->recent + 1, sizeof(int) * (REUSE_RECENT - 1));
        else
            r->n_recent++;
        r->recent[r->n_recent - 1] = met;
    }
    int from_depth = rr->depth[rr->restore];
    for (int w = 0; w < n_want; w++) {
        int d = want[w];
        if (d <= from_depth || d >= rr->n_layers) continue;
        // The allowed cut at depth d with the fewest live bytes (uint8 rather than float
        // tensors), the last of those: the most work done.
        int cut = 0;
        size_t best = SIZE_MAX;
        for (int c = 1; c < n; c++) {
            if (!rr->allowed[c] || rr->depth[c] != d) continue;
            size_t bytes = 0;
            int nl = qs__session_live(s, c, sp, REUSE_SPANS);
            for (int i = 0; i < nl; i++) bytes += sp[i].bytes;
            if (bytes <= best) {
                best = bytes;
                cut = c;
            }
        }
        if (!cut || reuse_find(r, rr->keys[cut - 1])) continue;
        bool dup = false;
        for (int i = 0; i < rr->n_store; i++) dup = dup || rr->store_cut[i] == cut;
        if (dup) continue;
        struct reuse_entry *en = &rr->store[rr->n_store];
        memset(en, 0, sizeof *en);
        en->key = rr->keys[cut - 1];
        en->depth = d;
        en->n_batches = n_batches;
        en->n_spans = qs__session_live(s, cut, sp, REUSE_SPANS);
        for (int i = 0; i < en->n_spans; i++) {
            en->spans[i].id = sp[i].id;
            en->spans[i].bytes = sp[i].bytes;
            en->spans[i].offset = en->batch_bytes;
            en->batch_bytes += (sp[i].bytes + 63) & ~(size_t)63;
        }
        size_t need = en->batch_bytes * (size_t)n_batches;
        if (!need || !reuse_take_blocks(r, en, need, &rr->from)) continue;
        rr->store_cut[rr->n_store++] = cut;
    }
    // Store cuts in execution order.
    for (int i = 1; i < rr->n_store; i++)
        for (int j = i; j > 0 && rr->store_cut[j - 1] > rr->store_cut[j]; j--) {
            int t = rr->store_cut[j];
            rr->store_cut[j] = rr->store_cut[j - 1];
            rr->store_cut[j - 1] = t;
            struct reuse_entry te = rr->store[j];
            rr->store[j] = rr->store[j - 1];
            rr->store[j - 1] = te;
        }
}

// Copies n bytes between `mem` and the entry's bytes [off, off + n).
static void entry_copy(const struct reuse_entry *en, size_t off, unsigned char *mem, size_t n,
                       bool to_mem) {
    while (n) {
        unsigned char *blk = en->blocks[off / REUSE_BLOCK] + off % REUSE_BLOCK;
        size_t k = QS_MIN(n, REUSE_BLOCK - off % REUSE_BLOCK);
        if (to_mem) memcpy(mem, blk, k);
        else memcpy(blk, mem, k);
        off += k;
        mem += k;
        n -= k;
    }
}

// Copies the live tensors at `cut` between the session and batch b of entry `en`.
static void reuse_copy(const struct reuse_entry *en, qs_session_t *s, int cut, int64_t b,
                       bool to_session) {
    struct qs_session_span sp[REUSE_SPANS];
    int n = qs__session_live(s, cut, sp, REUSE_SPANS);
    size_t base = (size_t)b * en->batch_bytes;
    for (int i = 0; i < n && i < REUSE_SPANS; i++)
        for (int j = 0; j < en->n_spans; j++) {
            if (en->spans[j].id != sp[i].id || en->spans[j].bytes != sp[i].bytes) continue;
            entry_copy(en, base + en->spans[j].offset, sp[i].data, sp[i].bytes, to_session);
            break;
        }
}

// Runs batch b of the plan (the inputs are filled when rr->restore is 0).
static enum qs_status reuse_run_batch(struct reuse_run *rr, qs_session_t *s, int64_t b,
                                      struct qs_diag *diag) {
    if (!rr->keys) return qs_session_run(s, diag);
    int pos = rr->restore;
    if (pos > 0) reuse_copy(rr->from, s, pos, b, true);
    enum qs_status st = QS_STATUS_OK;
    for (int i = 0; i < rr->n_store && st == QS_STATUS_OK; i++) {
        st = qs__session_run_range(s, pos, rr->store_cut[i], diag);
        if (st == QS_STATUS_OK) reuse_copy(&rr->store[i], s, rr->store_cut[i], b, false);
        pos = rr->store_cut[i];
    }
    if (st == QS_STATUS_OK) st = qs__session_run_range(s, pos, rr->n_exec, diag);
    return st;
}

// Keeps the stored entries of a complete run (ok) and counts; frees the plan.
static void reuse_finish(struct reuse *r, struct reuse_run *rr, bool ok) {
    if (!r || !rr->keys) return;
    r->runs++;
    r->nodes += rr->n_exec;
    r->layers += rr->n_layers;
    if (rr->restore > 0) {
        r->hits++;
        r->nodes_skipped += rr->restore;
        r->layers_skipped += rr->depth[rr->restore];
    }
    for (int i = 0; i < rr->n_store; i++) {
        struct reuse_entry *en = &rr->store[i];
        if (ok && r->n == r->cap) {
            int cap = r->cap ? 2 * r->cap : 16;
            struct reuse_entry *t = qs__malloc(sizeof *t * (size_t)cap);
            if (t) {
                if (r->n) memcpy(t, r->e, sizeof *t * (size_t)r->n);
                qs__free(r->e);
                r->e = t;
                r->cap = cap;
            }
        }
        if (!ok || r->n == r->cap) {
            entry_release(r, en);
        } else {
            en->used = ++r->clock;
            r->e[r->n++] = *en;
            r->stores++;
        }
        en->blocks = NULL;
        en->n_blocks = 0;
    }
    rr->n_store = 0;
    reuse_run_free(r, rr);
}

// Runs the graph as annotated now over `set`. With `ref_out`, stores the argmax per sample
// (the fp32 reference of the fidelity metric); otherwise compares with set->ref_top.
static enum qs_status run_set(qs_evaluator *ev, struct eval_set *set, int32_t *ref_out,
                              struct qs_metrics *m, struct qs_diag *diag) {
    qs_session_t *s = NULL;
    enum qs_status st = create_session(ev, set->ds.count, ev->threads, &s, diag);
    if (st != QS_STATUS_OK) return st;
    struct qs_tensor_info in, out;
    qs_session_input_info(s, 0, &in);
    qs_session_output_info(s, 0, &out);
    int64_t batch = in.rank > 0 ? in.dims[0] : 1;
    int64_t classes = tensor_numel(&out) / QS_MAX(batch, (int64_t)1);
    if (out.dtype != QS_DTYPE_F32 || out.rank < 1 || out.dims[0] != batch || classes < 1) {
        qs_session_destroy(s);
        return qs__diag(diag, QS_STATUS_UNSUPPORTED, "output '%s' is not float32 scores with "
                        "the batch as dim 0", out.name);
    }
    struct qs_preprocess id = qs_preprocess_default();
    int64_t top1 = 0, top5 = 0, agree = 0;
    const int64_t *lab = set->ds.labels.data;
    int64_t nb = qs_dataset_batch_count(&set->ds, batch);
    struct reuse_run rr;
    reuse_plan(ev->reuse, s, set == &ev->full ? 2 : 1, nb, &rr);
    for (int64_t b = 0; b < nb && st == QS_STATUS_OK; b++) {
        int64_t begin, count;
        qs_dataset_batch_range(&set->ds, batch, b, &begin, &count);
        for (int i = 0; i < set->ds.n_inputs && st == QS_STATUS_OK && rr.restore == 0; i++) {
            struct qs_tensor_info ti;
            qs_session_input_info(s, i, &ti);
            st = qs_dataset_fill(&set->ds, i, i == 0 ? &ev->pp : &id, begin, count, &ti,
                                 qs_session_input_data(s, i), diag);
        }
        if (st == QS_STATUS_OK) st = reuse_run_batch(&rr, s, b, diag);
        if (st != QS_STATUS_OK) break;
        const float *y = qs_session_output_data(s, 0);
        for (int64_t i = 0; i < count; i++) {
            const float *yi = y + i * classes;
            if (lab) {
                int64_t r = qs__label_rank(yi, classes, lab[begin + i]);
                top1 += r == 0;
                top5 += r < 5;
            }
            int32_t t = argmax(yi, classes);
            if (ref_out) ref_out[begin + i] = t;
            else if (set->ref_top) agree += set->ref_top[begin + i] == t;
        }
    }
    reuse_finish(ev->reuse, &rr, st == QS_STATUS_OK);
    qs_session_destroy(s);
    if (st != QS_STATUS_OK) return st;
    double n = (double)QS_MAX(set->ds.count, (int64_t)1);
    m->samples = set->ds.count;
    switch (ev->cfg->metric) {
    case QS_EVAL_TOP5: m->accuracy = (double)top5 / n; break;
    case QS_EVAL_FIDELITY: m->accuracy = ref_out ? 1.0 : (double)agree / n; break;
    default: m->accuracy = (double)top1 / n; break;
    }
    return QS_STATUS_OK;
}

// ---------------------------------------------------------------------------------------
// External evaluator: `eval_command` gets the candidate's QDQ model path ("{model}" in the
// command, or appended as the last argument) and prints one number on stdout.

static void shell_quote(const char *s, char *buf, size_t size) {
    size_t n = 0;
    if (n + 1 < size) buf[n++] = '\'';
    for (; *s && n + 5 < size; s++) {
        if (*s == '\'') {
            memcpy(buf + n, "'\\''", 4);
            n += 4;
        } else {
            buf[n++] = *s;
        }
    }
    if (n + 1 < size) buf[n++] = '\'';
    buf[n] = 0;
}

static enum qs_status run_external(qs_evaluator *ev, const char *model_path, double *value,
                                   bool *failed, struct qs_diag *diag) {
    char qmodel[4200], qlog[4200], cmd[20000];
    shell_quote(model_path, qmodel, sizeof qmodel);
    char log_path[4096];
    snprintf(log_path, sizeof log_path, "%s/external.log", ev->work_dir);
    shell_quote(log_path, qlog, sizeof qlog);
    const char *c = ev->cfg->eval_command;
    const char *hole = strstr(c, "{model}");
    // The command runs in the config's folder (relative paths in it are the config's).
    char dir[4096], qdir[4200];
    snprintf(dir, sizeof dir, "%s", ev->cfg->source ? ev->cfg->source : ".");
    char *slash = strrchr(dir, '/');
    if (!slash || ev->cfg->source[0] == '<') snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    shell_quote(dir, qdir, sizeof qdir);
    int len;
    if (hole)
        len = snprintf(cmd, sizeof cmd, "cd %s && ( %.*s%s%s ) 2>>%s </dev/null", qdir,
                       (int)(hole - c), c, qmodel, hole + 7, qlog);
    else
        len = snprintf(cmd, sizeof cmd, "cd %s && ( %s %s ) 2>>%s </dev/null", qdir, c, qmodel,
                       qlog);
    if (len < 0 || (size_t)len >= sizeof cmd)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "eval_command: too long");
    fflush(NULL);
    FILE *p = popen(cmd, "r");
    if (!p) return qs__diag(diag, QS_STATUS_IO, "eval_command: cannot start: %s", strerror(errno));
    char out[4096];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    while (fread(qlog, 1, sizeof qlog, p) > 0) {}  // drain
    int status = pclose(p);
    *failed = true;
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        int code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        qs__diag(diag, QS_STATUS_OK, "eval_command exited with status %d (stderr in %s)", code,
                 log_path);
        return QS_STATUS_OK;
    }
    char *s = out;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r') end++;
    if (end == s || *end || errno || !isfinite(v)) {
        for (char *q = out; *q; q++)
            if (*q == '\n' || *q == '\r') *q = ' ';
        qs__diag(diag, QS_STATUS_OK, "eval_command printed '%.80s', not one number", out);
        return QS_STATUS_OK;
    }
    *value = v;
    *failed = false;
    return QS_STATUS_OK;
}

// ---------------------------------------------------------------------------------------

static enum qs_status apply_policy(qs_evaluator *ev, const qs_policy_t *policy,
                                   struct qs_diag *diag) {
    // NULL means fp32 here; the quantizer reads NULL as "every layer int8".
    enum qs_status st = qs_pruner_apply(ev->pruner, policy, diag);
    if (st == QS_STATUS_OK) st = qs_quantizer_apply(ev->quant, policy ? policy : ev->fp32, diag);
    return st;
}

// Density (1 - fraction of weights removed) of a layer under its policy entry.
static double density_of(const struct qs_layer_policy *lp) {
    if (!lp || lp->sparsity <= 0.0f) return 1.0;
    int n, m;
    if (sscanf(lp->pattern, "%d:%d", &n, &m) == 2 && m > 0) return (double)n / m;
    return 1.0 - lp->sparsity;
}

enum qs_status qs__evaluator_cost(qs_evaluator *ev, const qs_policy_t *policy,
                                  struct qs_metrics *m, struct qs_diag *diag) {
    memset(m, 0, sizeof *m);
    m->latency_ms = NAN;
    m->measured_ms = NAN;
    // The byte count reads the pruned weights the graph runs with (real index sizes), so
    // the pruner goes first (its results are cached per layer setting).
    enum qs_status pst = qs_pruner_apply(ev->pruner, policy, diag);
    if (pst != QS_STATUS_OK) return pst;
    size_t bytes = qs_model_bytes(ev->graph, policy, diag);
    if (bytes == 0) return qs__diag(diag, QS_STATUS_INVALID_ARG, "model bytes: %s", diag->msg);
    m->model_bytes = (double)bytes;
    m->fp32_bytes = ev->fp32_bytes;
    m->compress_ratio = ev->fp32_bytes / m->model_bytes;
    double flops = ev->other_flops, bops = 0.0;
    for (int l = 0; l < ev->n_layers; l++) {
        const struct qs_layer_info *li = &ev->layers[l];
        const struct qs_layer_policy *lp = policy ? qs_policy_get(policy, li->name) : NULL;
        double d = density_of(lp);
        int wb = lp ? lp->w_bits : 32, ab = lp ? lp->a_bits : 32;
        flops += (double)li->flops * d;
        bops += 0.5 * (double)li->flops * d * wb * ab;
    }
    m->flops = flops;
    m->bops = bops;
    if (ev->lut) {
        struct qs_lut_estimate est;
        // NULL means fp32 here, but every layer w8a8 to the table (as to the quantizer).
        enum qs_status st = qs_lut_model_cost(ev->lut, ev->graph, policy ? policy : ev->fp32, 0,
                                              &est, diag);
        if (st != QS_STATUS_OK) return st;
        m->latency_ms = est.ms;
        m->lut_lookups = est.lookups;
        m->lut_misses = est.misses;
    }
    return QS_STATUS_OK;
}

enum qs_status qs__evaluator_eval(qs_evaluator *ev, const qs_policy_t *policy, bool full,
                                  struct qs_metrics *m, struct qs_diag *diag) {
    double t0 = now_s();
    enum qs_status st = qs__evaluator_cost(ev, policy, m, diag);
    if (st != QS_STATUS_OK) return st;
    if (full && !ev->full_ready) {
        struct qs_metrics tmp;
        if ((st = qs__evaluator_baseline_full(ev, &tmp, diag)) != QS_STATUS_OK) return st;
    }
    if ((st = apply_policy(ev, policy, diag)) != QS_STATUS_OK) return st;
    if (ev->cfg->metric == QS_EVAL_EXTERNAL) {
        char path[4096];
        snprintf(path, sizeof path, "%s/candidate.qdq.onnx", ev->work_dir);
        if ((st = qs_graph_save_onnx(ev->graph, path, diag)) != QS_STATUS_OK) return st;
        double v = NAN;
        st = run_external(ev, path, &v, &m->failed, diag);
        m->accuracy = v;
        m->samples = 0;
    } else {
        // The same samples: the search set, whose stored prefixes the run can restore.
        bool same = qs__evaluator_full_is_search(ev);
        st = run_set(ev, full && !same ? &ev->full : &ev->search, NULL, m, diag);
    }
    m->eval_seconds = now_s() - t0;
    return st;
}

enum qs_status qs__evaluator_baseline_full(qs_evaluator *ev, struct qs_metrics *out,
                                           struct qs_diag *diag) {
    if (!ev->full_ready && qs__evaluator_full_is_search(ev)) {
        ev->base_full = ev->base;  // the same samples, the same deterministic kernels
        ev->full_ready = true;
    }
    if (!ev->full_ready) {
        enum qs_status st = qs__evaluator_cost(ev, NULL, &ev->base_full, diag);
        if (st == QS_STATUS_OK) st = apply_policy(ev, NULL, diag);
        if (st != QS_STATUS_OK) return st;
        if (ev->cfg->metric == QS_EVAL_EXTERNAL) {
            ev->base_full.accuracy = ev->base.accuracy;
        } else {
            int64_t n = ev->full.ds.count;
            if (ev->cfg->metric == QS_EVAL_FIDELITY) {
                ev->full.ref_top = qs__malloc((size_t)QS_MAX(n, (int64_t)1) * sizeof(int32_t));
                if (!ev->full.ref_top) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
            }
            st = run_set(ev, &ev->full, ev->full.ref_top, &ev->base_full, diag);
            if (st != QS_STATUS_OK) return st;
        }
        ev->full_ready = true;
    }
    *out = ev->base_full;
    return QS_STATUS_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum qs_status qs__evaluator_measure(qs_evaluator *ev, const qs_policy_t *policy, int runs,
                                     double *ms_out, struct qs_diag *diag) {
    enum qs_status st = apply_policy(ev, policy, diag);
    if (st != QS_STATUS_OK) return st;
    struct qs_session_options so = qs_session_options_default();
    so.batch = ev->lut ? qs_lut_batch(ev->lut) : 1;
    so.threads = ev->lut ? QS_MAX(qs_lut_descriptor(ev->lut)->threads, 1) : 1;
    qs_session_t *s;
    if ((st = qs_session_create(ev->graph, &so, &s, diag)) != QS_STATUS_OK) return st;
    struct qs_preprocess id = qs_preprocess_default();
    for (int i = 0; i < ev->data.n_inputs && st == QS_STATUS_OK; i++) {
        struct qs_tensor_info ti;
        qs_session_input_info(s, i, &ti);
        int64_t count = QS_MIN(ti.rank > 0 ? ti.dims[0] : 1, ev->data.count);
        st = qs_dataset_fill(&ev->data, i, i == 0 ? &ev->pp : &id, 0, count, &ti,
                             qs_session_input_data(s, i), diag);
    }
    runs = QS_MAX(runs, 1);
    double *t = qs__malloc((size_t)runs * sizeof *t);
    if (!t && st == QS_STATUS_OK) st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    for (int i = 0; i < 5 && st == QS_STATUS_OK; i++) st = qs_session_run(s, diag);
    for (int i = 0; i < runs && st == QS_STATUS_OK; i++) {
        double t0 = now_s();
        st = qs_session_run(s, diag);
        t[i] = 1e3 * (now_s() - t0);
    }
    if (st == QS_STATUS_OK) {
        qsort(t, (size_t)runs, sizeof *t, cmp_double);
        *ms_out = runs % 2 ? t[runs / 2] : 0.5 * (t[runs / 2 - 1] + t[runs / 2]);
    }
    qs__free(t);
    qs_session_destroy(s);
    return st;
}

enum qs_status qs__evaluator_export(qs_evaluator *ev, const qs_policy_t *policy,
                                    const char *path, struct qs_diag *diag) {
    enum qs_status st = apply_policy(ev, policy, diag);
    if (st == QS_STATUS_OK) st = qs_graph_save_onnx(ev->graph, path, diag);
    return st;
}

// ---------------------------------------------------------------------------------------

static enum qs_status load_data(qs_evaluator *ev, struct qs_diag *diag) {
    const struct qs_search_config *cfg = ev->cfg;
    const char *labels = cfg->metric == QS_EVAL_TOP1 || cfg->metric == QS_EVAL_TOP5
                             ? cfg->eval_labels : NULL;
    const char *const *specs = (const char *const *)cfg->eval_data;
    int n = cfg->n_eval_data;
    if (n == 0) {
        specs = (const char *const *)cfg->calib_data;
        n = cfg->n_calib_data;
    }
    if (n == 0) {
        if (cfg->metric == QS_EVAL_EXTERNAL) return QS_STATUS_OK;
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "%s: no eval_data given", cfg->source);
    }
    enum qs_status st = qs_dataset_load(&ev->data, specs, n, labels, diag);
    if (st != QS_STATUS_OK) return st;
    if (labels && !ev->data.labels.data)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "%s: top-1/top-5 needs eval_labels",
                        cfg->source);
    return QS_STATUS_OK;
}

// Checks the data against the model (shapes, label range) before any candidate runs.
static enum qs_status check_data(qs_evaluator *ev, struct qs_diag *diag) {
    if (ev->data.count == 0) return QS_STATUS_OK;
    int n_in = qs_graph_input_count(ev->graph);
    if (ev->data.n_inputs != n_in)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "%s: the model has %d inputs but %d data "
                        "specs were given", ev->cfg->model, n_in, ev->data.n_inputs);
    qs_session_t *s;
    enum qs_status st = create_session(ev, 1, 1, &s, diag);
    if (st != QS_STATUS_OK) return st;
    struct qs_preprocess id = qs_preprocess_default();
    for (int i = 0; i < n_in && st == QS_STATUS_OK; i++) {
        struct qs_tensor_info in;
        qs_session_input_info(s, i, &in);
        st = qs_preprocess_check(i == 0 ? &ev->pp : &id, &ev->data.inputs[i],
                                 ev->data.input_names[i], &in, diag);
    }
    struct qs_tensor_info out;
    qs_session_output_info(s, 0, &out);
    int64_t b = out.rank > 0 ? out.dims[0] : 1;
    ev->classes = tensor_numel(&out) / QS_MAX(b, (int64_t)1);
    qs_session_destroy(s);
    if (st != QS_STATUS_OK) return st;
    if (ev->data.labels.data) {
        const int64_t *lab = ev->data.labels.data;
        for (int64_t i = 0; i < ev->data.count; i++)
            if (lab[i] >= ev->classes)
                return qs__diag(diag, QS_STATUS_INVALID_ARG, "'%s': label %lld of sample %lld "
                                "is out of range for the model's %lld classes",
                                ev->data.labels_name, (long long)lab[i], (long long)i,
                                (long long)ev->classes);
    }
    return QS_STATUS_OK;
}

static enum qs_status calibrate(qs_evaluator *ev, struct qs_diag *diag) {
    const struct qs_search_config *cfg = ev->cfg;
    struct qs_dataset cal = {0};
    const struct qs_dataset *ds = &ev->data;
    enum qs_status st = QS_STATUS_OK;
    if (cfg->n_calib_data > 0) {
        st = qs_dataset_load(&cal, (const char *const *)cfg->calib_data, cfg->n_calib_data,
                             NULL, diag);
        if (st != QS_STATUS_OK) return st;
        ds = &cal;
    }
    if (ds->count == 0) {
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "%s: no calibration data (calib_data)",
                        cfg->source);
    }
    int64_t limit = cfg->calib_count;
    if (cfg->calib_portion > 0.0)
        limit = QS_MAX((int64_t)1, (int64_t)llround(cfg->calib_portion * (double)ds->count));
    if (limit > ds->count) limit = 0;

    struct qs_calib_options co = qs_calib_options_default();
    co.threads = ev->threads;
    co.batch = QS_MAX(1, QS_MIN(ev->batch, 256));
    struct qs_quant_options qo = qs_quant_options_default();
    enum qs_calib_algo algo = QS_CALIB_MINMAX;
    if (cfg->calib_method && cfg->calib_method[0] &&
        (st = qs_calib_algo_parse(cfg->calib_method, &algo, diag)) != QS_STATUS_OK)
        goto done;
    qo.method = qs_calib_method_default(algo);
    // The histogram serves only the threshold methods (filling it was 1.6% of a 200-episode
    // int8 search of ResNet-20; setup 1.0 -> 0.78 s without it).
    if (algo == QS_CALIB_MINMAX || algo == QS_CALIB_AVG || algo == QS_CALIB_EMA) co.bins = 0;
    if ((st = qs_calib_create(ev->graph, &co, &ev->calib, diag)) != QS_STATUS_OK ||
        (st = qs_calib_run_dataset(ev->calib, ds, &ev->pp, limit, diag)) != QS_STATUS_OK ||
        (st = qs_quantizer_create(ev->graph, ev->calib, &qo, &ev->quant, diag)) != QS_STATUS_OK)
        goto done;

    struct qs_prune_options po = qs_prune_options_default();
    if (cfg->prune_method[0] &&
        (st = qs_prune_method_parse(cfg->prune_method, &po.method, diag)) != QS_STATUS_OK)
        goto done;
    po.skip_first = po.skip_last = cfg->skip_first_last;
    po.threads = ev->threads;
    po.batch = co.batch;
    if ((st = qs_pruner_create(ev->graph, &po, &ev->pruner, diag)) != QS_STATUS_OK) goto done;
    bool searches_sparsity = cfg->sparsity_continuous
                                 ? cfg->sparsity_max > 0.0f
                                 : (cfg->n_sparsity > 1 ||
                                    (cfg->n_sparsity == 1 && cfg->sparsity[0] > 0.0f));
    if (po.method != QS_PRUNE_MAGNITUDE && searches_sparsity)
        st = qs_pruner_calibrate(ev->pruner, ds, &ev->pp, limit, diag);
done:
    qs_dataset_free(&cal);
    return st;
}

enum qs_status qs__evaluator_create(const struct qs_search_config *cfg, const char *work_dir,
                                    qs_evaluator **out, struct qs_diag *diag) {
    double t0 = now_s();
    qs_evaluator *ev = qs__calloc(1, sizeof *ev);
    if (!ev) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    ev->cfg = cfg;
    ev->work_dir = qs__strdup(work_dir ? work_dir : ".");
    ev->batch = cfg->eval_batch > 0 ? cfg->eval_batch : 32;
    ev->threads = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ev->threads < 1) ev->threads = 1;
    ev->reuse = reuse_create(cfg->reuse_mb);
    enum qs_status st = qs_policy_create(&ev->fp32);
    if (st != QS_STATUS_OK) {
        qs__diag(diag, st, "out of memory");
        goto fail;
    }
    if ((st = qs_preprocess_parse(cfg->preprocess, &ev->pp, diag)) != QS_STATUS_OK) {
        qs__diag_prefix(diag, "%s: preprocess: ", cfg->source);
        goto fail;
    }
    if ((st = qs_graph_load_onnx(cfg->model, &ev->graph, diag)) != QS_STATUS_OK ||
        (st = qs_graph_optimize(ev->graph, QS_PASS_DEFAULT, diag)) != QS_STATUS_OK)
        goto fail;
    if (cfg->lut) {
        if ((st = qs_lut_load(cfg->lut, &ev->lut, diag)) != QS_STATUS_OK ||
            (st = qs_lut_check_host(ev->lut, cfg->lut_force, diag)) != QS_STATUS_OK)
            goto fail;
    }
    ev->n_layers = qs_graph_layer_count(ev->graph);
    ev->layers = qs__calloc((size_t)QS_MAX(ev->n_layers, 1), sizeof *ev->layers);
    if (!ev->layers) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
        goto fail;
    }
    double total_flops = 0.0, layer_flops = 0.0;
    for (int i = 0; i < qs_graph_node_count(ev->graph); i++) {
        struct qs_node_info ni;
        if (qs_graph_node_info(ev->graph, i, &ni) == QS_STATUS_OK) total_flops += (double)ni.flops;
    }
    for (int l = 0; l < ev->n_layers; l++) {
        if ((st = qs_graph_layer_info(ev->graph, l, &ev->layers[l])) != QS_STATUS_OK) goto fail;
        layer_flops += (double)ev->layers[l].flops;
    }
    ev->other_flops = QS_MAX(total_flops - layer_flops, 0.0);
    ev->fp32_bytes = (double)qs_model_bytes(ev->graph, NULL, diag);
    if (ev->fp32_bytes <= 0) {
        st = QS_STATUS_INVALID_ARG;
        goto fail;
    }
    if ((st = load_data(ev, diag)) != QS_STATUS_OK || (st = check_data(ev, diag)) != QS_STATUS_OK)
        goto fail;
    if ((st = calibrate(ev, diag)) != QS_STATUS_OK) goto fail;
    if (ev->data.count > 0) {
        if ((st = make_set(ev, cfg->search_subset, &ev->search, diag)) != QS_STATUS_OK ||
            (st = make_set(ev, cfg->final_eval_count, &ev->full, diag)) != QS_STATUS_OK)
            goto fail;
    }
    // The fp32 baseline on the search subset (and its argmax for the fidelity metric).
    if ((st = qs__evaluator_cost(ev, NULL, &ev->base, diag)) != QS_STATUS_OK ||
        (st = apply_policy(ev, NULL, diag)) != QS_STATUS_OK)
        goto fail;
    if (cfg->metric == QS_EVAL_EXTERNAL) {
        char path[4096];
        snprintf(path, sizeof path, "%s/fp32.onnx", ev->work_dir);
        if ((st = qs_graph_save_onnx(ev->graph, path, diag)) != QS_STATUS_OK) goto fail;
        bool failed = true;
        double v = NAN;
        if ((st = run_external(ev, path, &v, &failed, diag)) != QS_STATUS_OK) goto fail;
        if (failed) {
            qs__diag_prefix(diag, "%s: on the fp32 model: ", cfg->source);
            st = QS_STATUS_INVALID_ARG;
            goto fail;
        }
        ev->base.accuracy = v;
        remove(path);
    } else {
        if (cfg->metric == QS_EVAL_FIDELITY) {
            ev->search.ref_top = qs__malloc((size_t)QS_MAX(ev->search.ds.count, (int64_t)1) *
                                            sizeof(int32_t));
            if (!ev->search.ref_top) {
                st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
                goto fail;
            }
        }
        double t1 = now_s();
        st = run_set(ev, &ev->search, ev->search.ref_top, &ev->base, diag);
        ev->base.eval_seconds = now_s() - t1;
        if (st != QS_STATUS_OK) goto fail;
    }
    ev->setup_seconds = now_s() - t0;
    *out = ev;
    return QS_STATUS_OK;
fail:
    qs__evaluator_destroy(ev);
    return st;
}

void qs__evaluator_destroy(qs_evaluator *ev) {
    if (!ev) return;
    reuse_destroy(ev->reuse);
    set_free(&ev->search);
    set_free(&ev->full);
    qs_quantizer_destroy(ev->quant);
    qs_pruner_destroy(ev->pruner);
    qs_calib_destroy(ev->calib);
    qs_dataset_free(&ev->data);
    qs_lut_destroy(ev->lut);
    qs_graph_destroy(ev->graph);
    qs__free(ev->layers);
    qs__free(ev->work_dir);
    qs_policy_destroy(ev->fp32);
    qs__free(ev);
}

qs_graph_t *qs__evaluator_graph(qs_evaluator *ev) { return ev->graph; }
const qs_lut_t *qs__evaluator_lut(const qs_evaluator *ev) { return ev->lut; }
const struct qs_metrics *qs__evaluator_baseline(const qs_evaluator *ev) { return &ev->base; }
int64_t qs__evaluator_search_samples(const qs_evaluator *ev) { return ev->search.ds.count; }
int64_t qs__evaluator_full_samples(const qs_evaluator *ev) { return ev->full.ds.count; }
// Both sets come from make_set with the same offset and spacing rule: equal counts are
// equal samples.
bool qs__evaluator_full_is_search(const qs_evaluator *ev) {
    return ev->full.ds.count == ev->search.ds.count;
}
double qs__evaluator_setup_seconds(const qs_evaluator *ev) { return ev->setup_seconds; }
bool qs__evaluator_prunable(const qs_evaluator *ev, int layer) {
    return qs_pruner_layer_prunable(ev->pruner, layer);
}
