#include "ir/ir-impl.h"

#include <stdio.h>

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static bool namemap_put(qs_namemap *m, qs_tensor *t) {
    if ((m->count + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        qs_tensor **ns = qs__calloc(ncap, sizeof *ns);
        if (!ns) return false;
        for (size_t i = 0; i < m->cap; i++) {
            qs_tensor *o = m->slots[i];
            if (!o) continue;
            size_t j = hash_str(o->name) & (ncap - 1);
            while (ns[j]) j = (j + 1) & (ncap - 1);
            ns[j] = o;
        }
        qs__free(m->slots);
        m->slots = ns;
        m->cap = ncap;
    }
    size_t j = hash_str(t->name) & (m->cap - 1);
    while (m->slots[j]) {
        if (m->slots[j] == t) return true;
        j = (j + 1) & (m->cap - 1);
    }
    m->slots[j] = t;
    m->count++;
    return true;
}

qs_tensor *qs__graph_find(const qs_graph_t *g, const char *name) {
    const qs_namemap *m = &g->names;
    if (!m->cap || !name) return NULL;
    size_t j = hash_str(name) & (m->cap - 1);
    while (m->slots[j]) {
        if (strcmp(m->slots[j]->name, name) == 0) return m->slots[j];
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

enum qs_status qs__graph_create(qs_graph_t **g_out) {
    qs_graph_t *g = qs__calloc(1, sizeof *g);
    if (!g) return QS_STATUS_NOMEM;
    *g_out = g;
    return QS_STATUS_OK;
}

static bool grow(void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return true;
    int ncap = *cap ? *cap * 2 : 64;
    while (ncap < need) ncap *= 2;
    void *n = qs__realloc(*arr, (size_t)ncap * elem);
    if (!n) return false;
    *arr = n;
    *cap = ncap;
    return true;
}

qs_tensor *qs__graph_add_tensor(qs_graph_t *g, const char *name) {
    char buf[512];
    const char *use = name;
    for (int k = 1; qs__graph_find(g, use); k++) {
        snprintf(buf, sizeof buf, "%s_%d", name, k);
        use = buf;
    }
    if (!grow((void **)&g->tensors, &g->cap_tensors, g->n_tensors + 1, sizeof(qs_tensor *)))
        return NULL;
    qs_tensor *t = qs__arena_alloc(&g->arena, sizeof *t);
    if (!t || !(t->name = qs__arena_strdup(&g->arena, use))) return NULL;
    t->id = g->n_tensors;
    t->producer = -1;
    t->decl_rank = -1;
    if (!namemap_put(&g->names, t)) return NULL;
    g->tensors[g->n_tensors++] = t;
    return t;
}

qs_node *qs__graph_add_node(qs_graph_t *g, const char *name, const char *op_type,
                            int n_inputs, int n_outputs) {
    if (!grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(qs_node *))) return NULL;
    qs_node *n = qs__arena_alloc(&g->arena, sizeof *n);
    if (!n) return NULL;
    n->name = qs__arena_strdup(&g->arena, name);
    n->op_type = qs__arena_strdup(&g->arena, op_type);
    n->domain = qs__arena_strdup(&g->arena, "");
    n->inputs = qs__arena_alloc(&g->arena, sizeof(qs_tensor *) * (size_t)QS_MAX(n_inputs, 1));
    n->outputs = qs__arena_alloc(&g->arena, sizeof(qs_tensor *) * (size_t)QS_MAX(n_outputs, 1));
    if (!n->name || !n->op_type || !n->domain || !n->inputs || !n->outputs) return NULL;
    n->n_inputs = n_inputs;
    n->n_outputs = n_outputs;
    n->op = qs__op_lookup("", op_type);
    n->opset = g->opset;
    n->annot.w_bits = n->annot.a_bits = 32;
    g->nodes[g->n_nodes++] = n;
    return n;
}

// Kahn's algorithm; ties keep file order so that a sorted graph stays as it was.
enum qs_status qs__graph_toposort(qs_graph_t *g, struct qs_diag *diag) {
    int nn = g->n_nodes, nt = g->n_tensors;
    enum qs_status st = QS_STATUS_NOMEM;
    int *prod = qs__malloc(sizeof(int) * (size_t)QS_MAX(nt, 1));
    int *indeg = qs__calloc((size_t)QS_MAX(nn, 1), sizeof(int));
    int *order = qs__malloc(sizeof(int) * (size_t)QS_MAX(nn, 1));
    int *ucount = qs__calloc((size_t)QS_MAX(nt, 1) + 1, sizeof(int));
    int *users = NULL;
    qs_node **sorted = qs__malloc(sizeof(qs_node *) * (size_t)QS_MAX(nn, 1));
    if (!prod || !indeg || !order || !ucount || !sorted) goto done;
    for (int t = 0; t < nt; t++) prod[t] = -1;
    for (int i = 0; i < nn; i++)
        for (int o = 0; o < g->nodes[i]->n_outputs; o++)
            if (g->nodes[i]->outputs[o]) prod[g->nodes[i]->outputs[o]->id] = i;
    // CSR of tensor -> consumer nodes.
    int total = 0;
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i]->n_inputs; k++) {
            qs_tensor *t = g->nodes[i]->inputs[k];
            if (t && prod[t->id] >= 0) {
                ucount[t->id + 1]++;
                indeg[i]++;
                total++;
            }
        }
    for (int t = 0; t < nt; t++) ucount[t + 1] += ucount[t];
    users = qs__malloc(sizeof(int) * (size_t)QS_MAX(total, 1));
    int *fill = qs__calloc((size_t)QS_MAX(nt, 1), sizeof(int));
    if (!users || !fill) {
        qs__free(fill);
        goto done;
    }
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i]->n_inputs; k++) {
            qs_tensor *t = g->nodes[i]->inputs[k];
            if (t && prod[t->id] >= 0) users[ucount[t->id] + fill[t->id]++] = i;
        }
    qs__free(fill);
    // A min-index ready list keeps the original order where possible; O(n^2) worst case
    // is avoided by scanning a ready flag array with a moving cursor.
    int head = 0, tail = 0;
    for (int i = 0; i < nn; i++)
        if (indeg[i] == 0) order[tail++] = i;
    while (head < tail) {
        int i = order[head++];
        for (int o = 0; o < g->nodes[i]->n_outputs; o++) {
            qs_tensor *t = g->nodes[i]->outputs[o];
            if (!t) continue;
            for (int u = ucount[t->id]; u < ucount[t->id + 1]; u++)
                if (--indeg[users[u]] == 0) order[tail++] = users[u];
        }
    }
    if (tail != nn) {
        for (int i = 0; i < nn; i++)
            if (indeg[i] > 0) {
                st = qs__diag(diag, QS_STATUS_PARSE,
                              "graph has a cycle (node '%s' (%s) is on or after it)",
                              g->nodes[i]->name, g->nodes[i]->op_type);
                break;
            }
        goto done;
    }
    for (int i = 0; i < nn; i++) sorted[i] = g->nodes[order[i]];
    memcpy(g->nodes, sorted, sizeof(qs_node *) * (size_t)nn);
    for (int t = 0; t < nt; t++) g->tensors[t]->producer = -1;
    for (int i = 0; i < nn; i++)
        for (int o = 0; o < g->nodes[i]->n_outputs; o++)
            if (g->nodes[i]->outputs[o]) g->nodes[i]->outputs[o]->producer = i;
    st = QS_STATUS_OK;
done:
    qs__free(prod);
    qs__free(indeg);
    qs__free(order);
    qs__free(ucount);
    qs__free(users);
    qs__free(sorted);
    return st;
}

void qs__graph_replace_uses(qs_graph_t *g, qs_tensor *from, qs_tensor *to) {
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i]->n_inputs; k++)
            if (g->nodes[i]->inputs[k] == from) g->nodes[i]->inputs[k] = to;
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == from) {
            g->outputs[i] = to;
            from->is_output = false;
            to->is_output = true;
        }
}

int qs__graph_use_count(const qs_graph_t *g, const qs_tensor *t) {
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i]->n_inputs; k++) c += g->nodes[i]->inputs[k] == t;
    for (int i = 0; i < g->n_outputs; i++) c += g->outputs[i] == t;
    return c;
}

static void free_tensor_data(qs_tensor *t) {
    if (t->file_data) {  // v.data is a borrowed override
        t->v.data = t->file_data;
        t->file_data = NULL;
    }
    if (t->owns_data) qs__aligned_free(t->v.data);
    t->v.data = NULL;
    t->owns_data = false;
}

// Tensors are arena objects: removing one frees its data and drops it from the list and
// the name map (the map is rebuilt), renumbering ids.
static void free_attr_tensors(qs_node *n);

void qs__graph_remove_nodes(qs_graph_t *g, const bool *dead) {
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!dead || !dead[i]) g->nodes[k++] = g->nodes[i];
        else free_attr_tensors(g->nodes[i]);
    }
    g->n_nodes = k;
    bool *used = qs__calloc((size_t)QS_MAX(g->n_tensors, 1), sizeof(bool));
    if (!used) return;  // keeping unused tensors is harmless
    for (int i = 0; i < g->n_nodes; i++) {
        for (int j = 0; j < g->nodes[i]->n_inputs; j++)
            if (g->nodes[i]->inputs[j]) used[g->nodes[i]->inputs[j]->id] = true;
        for (int j = 0; j < g->nodes[i]->n_outputs; j++)
            if (g->nodes[i]->outputs[j]) used[g->nodes[i]->outputs[j]->id] = true;
    }
    for (int i = 0; i < g->n_inputs; i++) used[g->inputs[i]->id] = true;
    for (int i = 0; i < g->n_outputs; i++) used[g->outputs[i]->id] = true;
    int nt = 0;
    for (int t = 0; t < g->n_tensors; t++) {
        qs_tensor *x = g->tensors[t];
        if (used[t]) {
            x->id = nt;
            g->tensors[nt++] = x;
        } else {
            free_tensor_data(x);
        }
    }
    g->n_tensors = nt;
    qs__free(used);
    qs__free(g->names.slots);
    memset(&g->names, 0, sizeof g->names);
    for (int t = 0; t < g->n_tensors; t++) namemap_put(&g->names, g->tensors[t]);
    for (int t = 0; t < g->n_tensors; t++) g->tensors[t]->producer = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int o = 0; o < g->nodes[i]->n_outputs; o++)
            if (g->nodes[i]->outputs[o]) g->nodes[i]->outputs[o]->producer = i;
}

static void free_attr_tensors(qs_node *n) {
    for (int a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].t) free_tensor_data(n->attrs[a].t);
}

void qs_graph_destroy(qs_graph_t *g) {
    if (!g) return;
    for (int t = 0; t < g->n_tensors; t++) free_tensor_data(g->tensors[t]);
    for (int i = 0; i < g->n_nodes; i++) free_attr_tensors(g->nodes[i]);
    qs__free(g->tensors);
    qs__free(g->nodes);
    qs__free(g->names.slots);
    qs__arena_free(&g->arena);
    qs__free(g);
}

int qs_graph_opset(const qs_graph_t *g) { return g->opset; }
int qs_graph_input_count(const qs_graph_t *g) { return g->n_inputs; }
int qs_graph_output_count(const qs_graph_t *g) { return g->n_outputs; }
int qs_graph_node_count(const qs_graph_t *g) { return g->n_nodes; }

static void decl_info(const qs_tensor *t, struct qs_tensor_info *info) {
    memset(info, 0, sizeof *info);
    info->name = t->name;
    info->id = t->id;
    info->dtype = t->v.dtype;
    if (t->decl_rank >= 0) {
        info->rank = t->decl_rank;
        memcpy(info->dims, t->decl_dims, sizeof(int64_t) * (size_t)t->decl_rank);
    } else {
        info->rank = t->v.rank;
        memcpy(info->dims, t->v.dims, sizeof(int64_t) * (size_t)t->v.rank);
    }
}

enum qs_status qs_graph_input_info(const qs_graph_t *g, int i, struct qs_tensor_info *out) {
    if (i < 0 || i >= g->n_inputs) return QS_STATUS_INVALID_ARG;
    decl_info(g->inputs[i], out);
    return QS_STATUS_OK;
}

enum qs_status qs_graph_output_info(const qs_graph_t *g, int i, struct qs_tensor_info *out) {
    if (i < 0 || i >= g->n_outputs) return QS_STATUS_INVALID_ARG;
    decl_info(g->outputs[i], out);
    return QS_STATUS_OK;
}
