// A graph compiled for execution: batch bound, shapes re-inferred, constants folded, every
// node prepared once and all activations planned into one arena, so runs never allocate.
//
// Residual Adds are fused into the fp32 Conv before them (qs__match_residual_add): the
// session runs Conv + Add (+ Relu) as one Conv node with a 4th input, the Add's other
// operand, at the place of the Add (where both operands exist). The graph keeps the
// separate nodes; the session keeps them too, prepared, and runs them instead while an
// observer is installed, so that calibration still sees the Conv's and the Add's outputs
// (plan_members places them without growing the arena). The option fuse_add = false, or
// QS_FUSE_ADD=0 in the environment, turns the fusion off.
#include "ir/ir-impl.h"
#include "ir/session-reuse.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

typedef struct const_block {
    struct const_block *next;
    _Alignas(64) unsigned char data[];
} const_block;

struct qs_session {
    qs_graph_t *g;
    qs_graph_t *lowered;     // the integer form of a quantized graph, owned
    const qs_graph_t *src;   // the graph the session was created from (ir/profile.c)
    int batch, threads;
    qs_pool_t *pool;
    qs_view *views;          // per tensor id
    int n_exec;
    qs_kctx *exec;           // nodes left to run, in order
    const struct qs_op_def **defs;
    qs_view **ptrs;          // in/out pointer arrays of all exec nodes
    unsigned char *arena;
    size_t arena_bytes, const_bytes, scratch_bytes;
    void *scratch;
    const_block *consts;
    qs_session_observer observer;
    void *observer_user;
    int *prod_exec;          // per tensor id: exec index of its producer, -1 before the run
    // Residual Add fusion: the fused nodes (copies of the Convs with the residual as a 4th
    // input and the Relu as activation) and, per exec node that is one, the separate nodes
    // it stands for (members[member_first[e] ..] in order; member_first[e] -1 otherwise).
    qs_node *fused;
    qs_tensor **fused_io;
    int n_members;
    qs_kctx *members;
    const struct qs_op_def **member_defs;
    int *member_first, *member_count;
};

static void *const_alloc(void *ctx, size_t bytes) {
    qs_session_t *s = ctx;
    const_block *b = qs__aligned_alloc(sizeof *b + bytes);
    if (!b) return NULL;
    b->next = s->consts;
    s->consts = b;
    s->const_bytes += bytes;
    return b->data;
}

struct qs_session_options qs_session_options_default(void) {
    struct qs_session_options o = {sizeof o, 0, 1, true};
    return o;
}

void qs_session_destroy(qs_session_t *s) {
    if (!s) return;
    for (int i = 0; s->exec && s->defs && i < s->n_exec; i++) {
        // A fused group's Conv shares the fused node's state.
        for (int m = 0; s->member_first && s->member_first[i] >= 0 && m < s->member_count[i];
             m++) {
            const qs_kctx *k = &s->members[s->member_first[i] + m];
            const struct qs_op_def *def = s->member_defs[s->member_first[i] + m];
            if (def && def->release && k->state && k->state != s->exec[i].state)
                def->release(k->state);
        }
        if (s->defs[i] && s->defs[i]->release && s->exec[i].state)
            s->defs[i]->release(s->exec[i].state);
    }
    const_block *b = s->consts;
    while (b) {
        const_block *n = b->next;
        qs__aligned_free(b);
        b = n;
    }
    qs__pool_destroy(s->pool);
    qs__aligned_free(s->arena);
    qs__aligned_free(s->scratch);
    qs__free(s->views);
    qs__free(s->exec);
    qs__free(s->defs);
    qs__free(s->ptrs);
    qs__free(s->prod_exec);
    qs__free(s->fused);
    qs__free(s->fused_io);
    qs__free(s->members);
    qs__free(s->member_defs);
    qs__free(s->member_first);
    qs__free(s->member_count);
    qs_graph_destroy(s->lowered);
    qs__free(s);
}

typedef struct {
    int tensor;       // root tensor id
    size_t bytes;
    int first, last;  // exec indices (inclusive)
    size_t offset;
} buf_plan;

static int cmp_size_desc(const void *a, const void *b) {
    const buf_plan *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return x->first - y->first;
}

static int find_root(int *alias, int t) {
    while (alias[t] != t) t = alias[t];
    return t;
}

// Byte offset of member t inside its root's buffer.
static size_t root_offset(const int *alias, const size_t *alias_off, int t) {
    size_t off = 0;
    for (; alias[t] != t; t = alias[t]) off += alias_off[t];
    return off;
}

// A Concat whose inputs are whole consecutive blocks of its output (nothing before the
// axis but dims of 1, as at batch 1) has its inputs planned inside the output buffer: the
// producers write their results in place and the Concat's copies see src == dst and do
// nothing. Only inputs that are plain activations (produced here, not aliased, not graph
// inputs or outputs, not listed twice) at 64-byte aligned offsets are placed so.
static void alias_concat_inputs(const qs_session_t *s, const qs_node *n, int *alias,
                                size_t *alias_off) {
    const qs_view *out = n->outputs[0] ? &s->views[n->outputs[0]->id] : NULL;
    if (!out || out->is_const || out->rank < 1) return;
    int64_t axis = qs__attr_i(n, "axis", 0);
    if (axis < 0) axis += out->rank;
    if (axis < 0 || axis >= out->rank || qs__numel((int)axis, out->dims) != 1) return;
    size_t off = 0;
    for (int j = 0; j < n->n_inputs; j++) {
        const qs_tensor *t = n->inputs[j];
        if (!t) return;
        const qs_view *v = &s->views[t->id];
        bool twice = false;
        for (int i = 0; i < j; i++) twice = twice || n->inputs[i] == t;
        for (int i = j + 1; i < n->n_inputs; i++) twice = twice || n->inputs[i] == t;
        bool graph_out = t->is_output;
        for (int i = 0; i < s->g->n_outputs; i++) graph_out = graph_out || s->g->outputs[i] == t;
        if (!v->is_const && !twice && !t->is_input && !graph_out && t->producer >= 0 &&
            alias[t->id] == t->id && off % 64 == 0 && t != n->outputs[0]) {
            alias[t->id] = n->outputs[0]->id;
            alias_off[t->id] = off;
        }
        off += qs__view_bytes(v);
    }
}

static void live_at(int *first, int *last, const qs_tensor *t, int step, bool write) {
    if (!t) return;
    if (write) first[t->id] = QS_MIN(first[t->id], step);
    last[t->id] = QS_MAX(last[t->id], step);
}

// Lifetimes of a fused group's separate nodes (run instead of the fused node, at the same
// place, while an observer is set), at sub-steps 3e (Conv), 3e + 1 (Add), 3e + 2 (Relu):
// the Conv writes its output into the buffer of the group's output (the Relu writes it
// last), the Add's output takes the place of the Conv's input when that is free, so the
// group needs no more memory than the nodes it replaces. Without a Relu the Add writes the
// group's output itself and the Conv's output needs its own buffer.
static void plan_members(const qs_session_t *s, int e, int *first, int *last, int *alias) {
    const qs_node *fn = s->exec[e].node;
    const qs_tensor *out = fn->outputs[0];
    live_at(first, last, fn->inputs[3], 3 * e + 1, false);  // the residual, read by the Add
    for (int m = s->member_first[e]; m < s->member_first[e] + s->member_count[e]; m++) {
        const qs_node *mn = s->members[m].node;
        const int step = 3 * e + (m - s->member_first[e]);
        for (int j = 0; j < mn->n_inputs; j++)
            if (mn->inputs[j] && !s->views[mn->inputs[j]->id].is_const)
                live_at(first, last, mn->inputs[j], step, false);
        const qs_tensor *y = mn->outputs[0];
        live_at(first, last, y, step, true);
        if (mn->op == QS_OP_CONV && s->member_count[e] == 3) alias[y->id] = out->id;
    }
}

// Greedy-by-size offset assignment (as in TFLite's arena planner): each buffer takes the
// lowest offset that does not overlap a placed buffer whose lifetime intersects its own.
// Exec node e runs at step 3e (sub-steps 3e + 1, 3e + 2: see plan_members).
static enum qs_status plan_buffers(qs_session_t *s, bool *folded, struct qs_diag *diag) {
    qs_graph_t *g = s->g;
    int nt = g->n_tensors;
    enum qs_status st = QS_STATUS_NOMEM;
    int *first = qs__malloc(sizeof(int) * (size_t)nt), *last = qs__malloc(sizeof(int) * (size_t)nt);
    int *alias = qs__malloc(sizeof(int) * (size_t)nt);
    size_t *alias_off = qs__calloc((size_t)nt + 1, sizeof(size_t));
    buf_plan *plans = qs__calloc((size_t)nt + 1, sizeof *plans);
    int *placed = qs__malloc(sizeof(int) * ((size_t)nt + 1));
    if (!first || !last || !alias || !alias_off || !plans || !placed) goto done;
    for (int t = 0; t < nt; t++) {
        first[t] = INT32_MAX;
        last[t] = -1;
        alias[t] = t;
    }
    // Inputs live through the whole run: a caller may fill them once and run many times.
    const int end = 3 * s->n_exec;
    for (int i = 0; i < g->n_inputs; i++) {
        first[g->inputs[i]->id] = 0;
        last[g->inputs[i]->id] = end;
    }
    for (int e = 0; e < s->n_exec; e++) {
        const qs_kctx *k = &s->exec[e];
        const qs_node *n = k->node;
        for (int j = 0; j < n->n_outputs; j++) live_at(first, last, n->outputs[j], 3 * e, true);
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j] && !s->views[n->inputs[j]->id].is_const)
                live_at(first, last, n->inputs[j], 3 * e, false);
        if (s->member_first[e] >= 0) plan_members(s, e, first, last, alias);
        // An aliasing op's output lives in its input's buffer.
        if (s->defs[e]->alias_input0 && n->inputs[0] && n->outputs[0] &&
            !s->views[n->inputs[0]->id].is_const &&
            qs__view_bytes(&s->views[n->inputs[0]->id]) == qs__view_bytes(&s->views[n->outputs[0]->id]))
            alias[n->outputs[0]->id] = n->inputs[0]->id;  // a chain: see root_offset
        if (n->op == QS_OP_CONCAT) alias_concat_inputs(s, n, alias, alias_off);
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (!s->views[g->outputs[i]->id].is_const) last[g->outputs[i]->id] = end;
    // Fold member lifetimes into their roots.
    for (int t = 0; t < nt; t++) {
        if (last[t] < 0) continue;
        int r = find_root(alias, t);
        if (r == t) continue;
        first[r] = QS_MIN(first[r], first[t]);
        last[r] = QS_MAX(last[r], last[t]);
    }
    int np = 0;
    for (int t = 0; t < nt; t++) {
        if (alias[t] != t || last[t] < 0 || s->views[t].is_const) continue;
        size_t bytes = (qs__view_bytes(&s->views[t]) + 63) & ~(size_t)63;
        plans[np++] = (buf_plan){t, bytes ? bytes : 64, first[t], last[t], 0};
    }
    qsort(plans, (size_t)np, sizeof *plans, cmp_size_desc);
    size_t total = 0;
    int n_placed = 0;
    for (int p = 0; p < np; p++) {
        size_t off = 0;
        // Try candidate offsets in increasing order: 0 and the end of every overlapping one.
        for (bool moved = true; moved;) {
            moved = false;
            for (int q = 0; q < n_placed; q++) {
                const buf_plan *o = &plans[placed[q]];
                if (o->last < plans[p].first || o->first > plans[p].last) continue;
                if (off < o->offset + o->bytes && o->offset < off + plans[p].bytes) {
                    off = o->offset + o->bytes;
                    moved = true;
                }
            }
        }
        plans[p].offset = off;
        placed[n_placed++] = p;
        total = QS_MAX(total, off + plans[p].bytes);
    }
    s->arena_bytes = total;
    if (!(s->arena = qs__aligned_alloc(total ? total : 64))) goto done;
    // Poison-free but defined contents: zero once so that an op reading padding is stable.
    memset(s->arena, 0, total ? total : 64);
    for (int p = 0; p < np; p++) s->views[plans[p].tensor].data = s->arena + plans[p].offset;
    for (int t = 0; t < nt; t++) {
        int r = find_root(alias, t);
        if (r != t && !s->views[t].is_const)
            s->views[t].data = (char *)s->views[r].data + root_offset(alias, alias_off, t);
    }
    st = QS_STATUS_OK;
done:
    if (st == QS_STATUS_NOMEM) qs__diag(diag, st, "out of memory planning %d tensors", nt);
    (void)folded;
    qs__free(first);
    qs__free(last);
    qs__free(alias);
    qs__free(alias_off);
    qs__free(plans);
    qs__free(placed);
    return st;
}

// Points k at node n and the views of its inputs and outputs (taken from *p onwards).
static void bind(qs_session_t *s, qs_kctx *k, const qs_node *n, qs_view ***p) {
    qs_view **q = *p;
    k->node = n;
    k->n_in = n->n_inputs;
    k->n_out = n->n_outputs;
    for (int j = 0; j < n->n_inputs; j++) q[j] = n->inputs[j] ? &s->views[n->inputs[j]->id] : NULL;
    k->in = q;
    q += n->n_inputs;
    for (int j = 0; j < n->n_outputs; j++)
        q[j] = n->outputs[j] ? &s->views[n->outputs[j]->id] : NULL;
    k->out = q;
    *p = q + n->n_outputs;
}

static bool fusion_enabled(void) {
    const char *env = getenv("QS_FUSE_ADD");
    return !env || strcmp(env, "0") != 0;
}

// The fused node of fusion f (number gi): the Conv with the residual as 4th input, writing
// the group's output, with the Relu (if any) as its activation.
static const qs_node *make_fused(qs_session_t *s, int gi, const struct qs__residual_fusion *f) {
    const qs_node *c = s->g->nodes[f->conv];
    qs_node *fn = &s->fused[gi];
    qs_tensor **io = s->fused_io + 5 * (size_t)gi;
    *fn = *c;
    for (int j = 0; j < 3; j++) io[j] = j < c->n_inputs ? c->inputs[j] : NULL;
    io[3] = f->sum;
    io[4] = f->out;
    fn->inputs = io;
    fn->n_inputs = 4;
    fn->outputs = io + 4;
    fn->n_outputs = 1;
    if (f->relu >= 0) fn->act = (struct qs_fused_act){QS_ACT_RELU, 0.0f, INFINITY};
    return fn;
}

// The list of nodes to run: every node not folded, with each residual fusion's Conv, Add
// and Relu replaced by its fused node at the place of the Add (the Conv's inputs exist
// there, and the residual may come from a node between the Conv and the Add).
static enum qs_status build_exec(qs_session_t *s, const bool *folded, bool fuse_add) {
    const qs_graph_t *g = s->g;
    const size_t nn = (size_t)QS_MAX(g->n_nodes, 1);
    enum qs_status st = QS_STATUS_NOMEM;
    // group[i]: the fusion that runs at node i (its Add), -2 for the Conv and the Relu it
    // takes along, -1 for other nodes.
    int *group = qs__malloc(sizeof(int) * nn);
    struct qs__residual_fusion *fus = qs__malloc(sizeof *fus * nn);
    if (!group || !fus) goto done;
    for (int i = 0; i < g->n_nodes; i++) group[i] = -1;
    int n_groups = 0;
    const bool fuse = fuse_add && fusion_enabled();
    for (int i = 0; i < g->n_nodes && fuse; i++) {
        struct qs__residual_fusion f;
        if (folded[i] || group[i] != -1 || !qs__match_residual_add(g, s->views, i, &f))
            continue;
        // Add(conv_a(x), conv_b(x)) matches twice: the first Conv takes it.
        if (group[f.add] != -1 || (f.relu >= 0 && group[f.relu] != -1)) continue;
        group[f.conv] = -2;
        if (f.relu >= 0) group[f.relu] = -2;
        group[f.add] = n_groups;
        fus[n_groups++] = f;
    }
    int n_ptrs = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (folded[i] || group[i] == -2) continue;
        s->n_exec++;
        if (group[i] < 0) {
            n_ptrs += g->nodes[i]->n_inputs + g->nodes[i]->n_outputs;
            continue;
        }
        const struct qs__residual_fusion *f = &fus[group[i]];
        const int ids[3] = {f->conv, f->add, f->relu};
        n_ptrs += 5;
        for (int j = 0; j < 3; j++)
            if (ids[j] >= 0) {
                s->n_members++;
                n_ptrs += g->nodes[ids[j]]->n_inputs + g->nodes[ids[j]]->n_outputs;
            }
    }
    s->exec = qs__calloc((size_t)s->n_exec + 1, sizeof *s->exec);
    s->defs = qs__calloc((size_t)s->n_exec + 1, sizeof *s->defs);
    s->ptrs = qs__calloc((size_t)n_ptrs + 1, sizeof *s->ptrs);
    s->member_first = qs__malloc(sizeof(int) * ((size_t)s->n_exec + 1));
    s->member_count = qs__calloc((size_t)s->n_exec + 1, sizeof(int));
    s->members = qs__calloc((size_t)s->n_members + 1, sizeof *s->members);
    s->member_defs = qs__calloc((size_t)s->n_members + 1, sizeof *s->member_defs);
    s->fused = qs__calloc((size_t)n_groups + 1, sizeof *s->fused);
    s->fused_io = qs__calloc(5 * (size_t)n_groups + 1, sizeof *s->fused_io);
    s->prod_exec = qs__malloc(sizeof(int) * (size_t)QS_MAX(g->n_tensors, 1));
    for (int e = 0; s->member_first && e <= s->n_exec; e++) s->member_first[e] = -1;
    if (!s->exec || !s->defs || !s->ptrs || !s->member_first || !s->member_count ||
        !s->members || !s->member_defs || !s->fused || !s->fused_io || !s->prod_exec)
        goto done;
    qs_view **p = s->ptrs;
    int e = 0, m = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (folded[i] || group[i] == -2) continue;
        const qs_node *n = g->nodes[i];
        s->member_first[e] = -1;
        if (group[i] >= 0) {
            const struct qs__residual_fusion *f = &fus[group[i]];
            const int ids[3] = {f->conv, f->add, f->relu};
            s->member_first[e] = m;
            for (int j = 0; j < 3; j++)
                if (ids[j] >= 0) {
                    bind(s, &s->members[m], g->nodes[ids[j]], &p);
                    s->member_defs[m++] = qs__op_def(g->nodes[ids[j]]->op);
                }
            s->member_count[e] = m - s->member_first[e];
            n = make_fused(s, group[i], f);
        }
        s->defs[e] = qs__op_def(n->op);
        bind(s, &s->exec[e++], n, &p);
    }
    for (int t = 0; t < g->n_tensors; t++) s->prod_exec[t] = -1;
    for (e = 0; e < s->n_exec; e++) {
        const qs_node *n = s->exec[e].node;
        for (int j = 0; j < n->n_outputs; j++)
            if (n->outputs[j]) s->prod_exec[n->outputs[j]->id] = e;
        for (m = s->member_first[e]; m >= 0 && m < s->member_first[e] + s->member_count[e]; m++)
            for (int j = 0; j < s->members[m].node->n_outputs; j++)
                if (s->members[m].node->outputs[j])
                    s->prod_exec[s->members[m].node->outputs[j]->id] = e;
    }
    if (n_groups)
        qs__log(QS_LOG_DEBUG, "session: %d residual Adds fused into Convs", n_groups);
    st = QS_STATUS_OK;
done:
    qs__free(group);
    qs__free(fus);
    return st;
}

static enum qs_status prepare(qs_session_t *s, qs_kctx *k, const struct qs_op_def *def,
                              struct qs_diag *diag) {
    size_t scratch = 0;
    if (!def->prepare) return QS_STATUS_OK;
    k->diag = diag;
    enum qs_status st = def->prepare(k, &scratch);
    k->diag = NULL;
    s->scratch_bytes = QS_MAX(s->scratch_bytes, scratch);
    return st;
}

enum qs_status qs_session_create(qs_graph_t *g, const struct qs_session_options *opt,
                                 qs_session_t **session_out, struct qs_diag *diag) {
    struct qs_session_options o = opt ? *opt : qs_session_options_default();
    if (o.threads < 1) o.threads = 1;
    if (o.batch < 0) return qs__diag(diag, QS_STATUS_INVALID_ARG, "batch %d < 0", o.batch);
    enum qs_status st = QS_STATUS_NOMEM;
    bool *folded = NULL;
    qs_session_t *s = qs__calloc(1, sizeof *s);
    if (!s) goto error;
    s->g = g;
    s->src = g;
    if (qs_graph_is_quantized(g)) {
        if ((st = qs__graph_lower_quant(g, &s->lowered, diag)) != QS_STATUS_OK) goto error;
        g = s->g = s->lowered;
    }
    st = QS_STATUS_NOMEM;
    s->batch = o.batch;
    s->threads = o.threads;
    if (!(s->views = qs__calloc((size_t)QS_MAX(g->n_tensors, 1), sizeof *s->views))) goto error;
    if (!(folded = qs__calloc((size_t)QS_MAX(g->n_nodes, 1), sizeof(bool)))) goto error;
    for (int t = 0; t < g->n_tensors; t++)
        if (g->tensors[t]->is_initializer) s->views[t] = g->tensors[t]->v;
    for (int i = 0; i < g->n_inputs; i++) {
        const qs_tensor *x = g->inputs[i];
        int64_t dims[QS_MAX_RANK];
        for (int d = 0; d < x->decl_rank; d++) {
            dims[d] = x->decl_dims[d] < 0 ? 1 : x->decl_dims[d];
            if (d == 0 && o.batch > 0 && (x->decl_dims[0] < 0 || x->decl_dims[0] == 1))
                dims[0] = o.batch;
        }
        qs__view_set_shape(&s->views[x->id], x->v.dtype, x->decl_rank, dims);
    }
    if ((st = qs__infer_graph(g, s->views, folded, const_alloc, s, diag)) != QS_STATUS_OK) {
        if (o.batch > 1) qs__diag_prefix(diag, "at batch %d: ", o.batch);
        goto error;
    }
    if ((st = build_exec(s, folded, o.fuse_add)) != QS_STATUS_OK) goto error;
    if ((st = plan_buffers(s, folded, diag)) != QS_STATUS_OK) goto error;
    for (int e = 0; e < s->n_exec; e++) {
        if ((st = prepare(s, &s->exec[e], s->defs[e], diag)) != QS_STATUS_OK) goto error;
        for (int m = s->member_first[e]; m >= 0 && m < s->member_first[e] + s->member_count[e];
             m++) {
            // The group's Conv runs on the fused node's prepared state (the same weights
            // and geometry; ir/ops/conv.c takes the clamp from the node at each run).
            if (s->members[m].node->op == QS_OP_CONV) s->members[m].state = s->exec[e].state;
            else if ((st = prepare(s, &s->members[m], s->member_defs[m], diag)) != QS_STATUS_OK)
                goto error;
        }
    }
    st = QS_STATUS_NOMEM;
    if (s->scratch_bytes && !(s->scratch = qs__aligned_alloc(s->scratch_bytes))) goto error;
    if (o.threads > 1 && (st = qs__pool_create(o.threads, &s->pool)) != QS_STATUS_OK) goto error;
    for (int e = 0; e < s->n_exec; e++) {
        s->exec[e].scratch = s->scratch;
        s->exec[e].pool = s->pool;
    }
    for (int m = 0; m < s->n_members; m++) {
        s->members[m].scratch = s->scratch;
        s->members[m].pool = s->pool;
    }
    // OpenBLAS's own workers spin while they wait; next to our pool on the same cores they
    // steal the time our workers need, so BLAS calls stay single-threaded and ops split
    // work over our pool instead.
    openblas_set_num_threads(1);
    qs__free(folded);
    *session_out = s;
    return QS_STATUS_OK;
error:
    if (st == QS_STATUS_NOMEM) qs__diag(diag, st, "out of memory creating a session");
    qs__free(folded);
    qs_session_destroy(s);
    return st;
}

void qs__view_info(const qs_view *v, const qs_tensor *t, struct qs_tensor_info *info) {
    memset(info, 0, sizeof *info);
    info->name = t->name;
    info->id = t->id;
    info->dtype = v->dtype;
    info->rank = v->rank;
    memcpy(info->dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
}

enum qs_status qs_session_input_info(const qs_session_t *s, int i, struct qs_tensor_info *out) {
    if (i < 0 || i >= s->g->n_inputs) return QS_STATUS_INVALID_ARG;
    qs__view_info(&s->views[s->g->inputs[i]->id], s->g->inputs[i], out);
    return QS_STATUS_OK;
}

enum qs_status qs_session_output_info(const qs_session_t *s, int i, struct qs_tensor_info *out) {
    if (i < 0 || i >= s->g->n_outputs) return QS_STATUS_INVALID_ARG;
    qs__view_info(&s->views[s->g->outputs[i]->id], s->g->outputs[i], out);
    return QS_STATUS_OK;
}

void *qs_session_input_data(qs_session_t *s, int i) {
    if (i < 0 || i >= s->g->n_inputs) return NULL;
    return s->views[s->g->inputs[i]->id].data;
}

const void *qs_session_output_data(const qs_session_t *s, int i) {
    if (i < 0 || i >= s->g->n_outputs) return NULL;
    return s->views[s->g->outputs[i]->id].data;
}

size_t qs_session_arena_bytes(const qs_session_t *s) {
    return s->arena_bytes + s->const_bytes + s->scratch_bytes;
}

void qs_session_set_observer(qs_session_t *s, qs_session_observer fn, void *user) {
    s->observer = fn;
    s->observer_user = user;
}

static void observe(const qs_session_t *s, const qs_tensor *t) {
    struct qs_tensor_info info;
    qs__view_info(&s->views[t->id], t, &info);
    s->observer(s->observer_user, &info, s->views[t->id].data);
}

static void observe_node(const qs_session_t *s, const qs_node *n) {
    for (int o = 0; o < n->n_outputs; o++)
        if (n->outputs[o]) observe(s, n->outputs[o]);
}

static bool runs_members(const qs_session_t *s, int e) {
    return s->observer && s->member_first[e] >= 0;
}

enum qs_status qs__session_run_exec(qs_session_t *s, int e, struct qs_diag *diag) {
    qs_kctx *k = &s->exec[e];
    const struct qs_op_def *const *defs = &s->defs[e];
    int n = 1;
    const bool members = runs_members(s, e);
    if (members) {
        k = &s->members[s->member_first[e]];
        defs = &s->member_defs[s->member_first[e]];
        n = s->member_count[e];
    }
    for (int i = 0; i < n; i++) {
        k[i].diag = diag;
        enum qs_status st = defs[i]->run(&k[i]);
        k[i].diag = NULL;
        if (st != QS_STATUS_OK) return st;
        // Observed at once: the Relu overwrites the Conv's output (see plan_members).
        if (members) observe_node(s, k[i].node);
    }
    return QS_STATUS_OK;
}

void qs__session_observe_exec(const qs_session_t *s, int e) {
    if (!runs_members(s, e)) observe_node(s, s->exec[e].node);
}

enum qs_status qs_session_run(qs_session_t *s, struct qs_diag *diag) {
    if (s->observer)
        for (int i = 0; i < s->g->n_inputs; i++) observe(s, s->g->inputs[i]);
    for (int e = 0; e < s->n_exec; e++) {
        enum qs_status st = qs__session_run_exec(s, e, diag);
        if (st != QS_STATUS_OK) return st;
        if (s->observer) qs__session_observe_exec(s, e);
    }
    return QS_STATUS_OK;
}

struct qs__session_parts qs__session_parts(const qs_session_t *s) {
    return (struct qs__session_parts){.src = s->src,
                                      .exec = s->exec,
                                      .defs = (const struct qs_op_def *const *)s->defs,
                                      .n_exec = s->n_exec,
                                      .observer = s->observer,
                                      .observer_user = s->observer_user};
}

// ---------------------------------------------------------------------------------------
// Prefix reuse (ir/session-reuse.h).


// 64-bit mixing (splitmix64's finalizer) and a word-at-a-time hash of bytes.
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline uint64_t hash_u64(uint64_t h, uint64_t v) {
    return mix64(h ^ (v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2)));
}
static uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    // Four independent lanes keep the multiplies pipelined (weights: about 1 MB a session).
    uint64_t l[4] = {h, h ^ 0x1234567ull, h ^ 0x89abcdefull, h ^ 0xfedcba98ull};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 4; j++) {
            uint64_t v;
            memcpy(&v, b + i + 8 * j, 8);
            l[j] = (l[j] ^ v) * 0x9E3779B97F4A7C15ull;
            l[j] ^= l[j] >> 29;
        }
    uint64_t tail = 0;
    for (size_t k = 0; i < n; i++, k++) {
        tail |= (uint64_t)b[i] << (8 * (k % 8));
        if (k % 8 == 7 || i + 1 == n) {
            l[0] = hash_u64(l[0], tail);
            tail = 0;
        }
    }
    h = hash_u64(h, n);
    for (int j = 0; j < 4; j++) h = hash_u64(h, l[j]);
    return h;
}
static uint64_t hash_str(uint64_t h, const char *s) {
    return s ? hash_bytes(h, s, strlen(s)) : hash_u64(h, 0x5a5a5a5aull);
}

static uint64_t view_id(const qs_tensor *t, const qs_view *v) {
    uint64_t h = hash_str(0x7e45, t->name);
    h = hash_u64(h, (uint64_t)v->dtype);
    h = hash_u64(h, (uint64_t)v->rank);
    for (int i = 0; i < v->rank; i++) h = hash_u64(h, (uint64_t)v->dims[i]);
    return h;
}

static uint64_t hash_attr(uint64_t h, const struct qs_attr *a) {
    h = hash_str(h, a->name);
    h = hash_u64(h, (uint64_t)a->type);
    uint32_t fb;
    memcpy(&fb, &a->f, 4);
    h = hash_u64(h, fb);
    h = hash_u64(h, (uint64_t)a->i);
    h = a->s ? hash_bytes(h, a->s, a->s_len) : hash_u64(h, 1);
    h = hash_u64(h, (uint64_t)a->n);
    if (a->floats) h = hash_bytes(h, a->floats, sizeof(float) * (size_t)a->n);
    if (a->ints) h = hash_bytes(h, a->ints, sizeof(int64_t) * (size_t)a->n);
    for (int i = 0; a->strings && i < a->n; i++) h = hash_str(h, a->strings[i]);
    if (a->t) {
        h = hash_u64(h, (uint64_t)a->t->v.dtype);
        h = hash_u64(h, (uint64_t)a->t->v.numel);
        if (a->t->v.data) h = hash_bytes(h, a->t->v.data, qs__view_bytes(&a->t->v));
    }
    return h;
}

// One executed node: what it computes from its inputs (op, attributes, fused activation)
// and what it reads: constants by content, activations by name, type and shape.
static uint64_t hash_exec(const qs_session_t *s, int e, uint64_t h) {
    const qs_node *n = s->exec[e].node;
    h = hash_u64(h, (uint64_t)n->op);
    h = hash_str(h, n->op_type);
    h = hash_str(h, n->domain);
    h = hash_u64(h, (uint64_t)n->opset);
    h = hash_u64(h, (uint64_t)n->act.kind);
    uint32_t lo, hi;
    memcpy(&lo, &n->act.lo, 4);
    memcpy(&hi, &n->act.hi, 4);
    h = hash_u64(hash_u64(h, lo), hi);
    for (int i = 0; i < n->n_attrs; i++) h = hash_attr(h, &n->attrs[i]);
    for (int i = 0; i < n->n_inputs; i++) {
        const qs_tensor *t = n->inputs[i];
        if (!t) {
            h = hash_u64(h, 0xab5e47ull);
            continue;
        }
        const qs_view *v = &s->views[t->id];
        h = hash_u64(h, view_id(t, v));
        h = hash_u64(h, (uint64_t)v->is_const);
        if (v->is_const && v->data) h = hash_bytes(h, v->data, qs__view_bytes(v));
        if (t->has_q) {
            uint32_t sc;
            memcpy(&sc, &t->q.scale, 4);
            h = hash_u64(hash_u64(hash_u64(h, sc), (uint64_t)t->q.zero_point), t->q.dtype);
        }
    }
    for (int o = 0; o < n->n_outputs; o++)
        h = n->outputs[o] ? hash_u64(h, view_id(n->outputs[o], &s->views[n->outputs[o]->id]))
                          : hash_u64(h, 0xab5e47ull);
    return h;
}


// keys[e] (e < n_exec): digest of everything the values after exec nodes 0..e depend on,
// besides the input data (the caller's seed names it): the batch and every node of the
// prefix. Equal keys mean equal prefixes up to a 64-bit hash collision.
void qs__session_prefix_keys(const qs_session_t *s, uint64_t seed, uint64_t *keys) {
    uint64_t h = hash_u64(seed, (uint64_t)s->batch);
    for (int i = 0; i < s->g->n_inputs; i++)
        h = hash_u64(h, view_id(s->g->inputs[i], &s->views[s->g->inputs[i]->id]));
    for (int e = 0; e < s->n_exec; e++) keys[e] = h = hash_exec(s, e, h);
}

// The tensors a run from exec node `cut` (0 < cut < n_exec) reads that nodes before it
// wrote (or the graph inputs): their count, and the first `max` of them in `out`.
int qs__session_live(const qs_session_t *s, int cut, struct qs_session_span *out, int max) {
    int n = 0;
    const qs_graph_t *g = s->g;
    for (int e = cut; e <= s->n_exec; e++) {
        // e == n_exec: the graph outputs (already computed when a prefix wrote them).
        int n_in = e < s->n_exec ? s->exec[e].node->n_inputs : g->n_outputs;
        for (int j = 0; j < n_in; j++) {
            const qs_tensor *t = e < s->n_exec ? s->exec[e].node->inputs[j] : g->outputs[j];
            // Written before the cut: by an exec node before it, or a graph input.
            if (!t || s->views[t->id].is_const || s->prod_exec[t->id] >= cut) continue;
            if (s->prod_exec[t->id] < 0 && !t->is_input) continue;
            const qs_view *v = &s->views[t->id];
            bool dup = false;
            for (int i = 0; i < QS_MIN(n, max) && !dup; i++)
                dup = out[i].data == v->data && out[i].bytes == qs__view_bytes(v);
            if (dup) continue;
            if (n < max)
                out[n] = (struct qs_session_span){view_id(t, v), v->data, qs__view_bytes(v)};
            n++;
        }
    }
    return n;
}

// Runs exec nodes [begin, end) (the observer is not called).
enum qs_status qs__session_run_range(qs_session_t *s, int begin, int end, struct qs_diag *diag) {
    for (int e = QS_MAX(begin, 0); e < QS_MIN(end, s->n_exec); e++) {
        qs_kctx *k = &s->exec[e];
        k->diag = diag;
        enum qs_status st = s->defs[e]->run(k);
        k->diag = NULL;
        if (st != QS_STATUS_OK) return st;
    }
    return QS_STATUS_OK;
}
