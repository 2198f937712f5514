// ONNX export: the ModelProto written for a hand-built graph (every attribute type, every
// initializer dtype, declared shapes, fused activations unfused again), failure handling
// (QS_STATUS_IO, no file left behind), and import -> export -> import round trips that
// must give the same graph and bit-identical outputs, on a sample of libonnx-testdata
// conformance models and on the real models in shared/data (skipped when absent).
#include "ir/onnx/onnx-impl.h"
#include "test.h"

#include <dirent.h>
#include <math.h>
#include <unistd.h>

static char tmpdir[256];

static void quiet_log(enum qs_log_level level, const char *msg, void *user) {
    (void)level, (void)msg, (void)user;
}

static void *arena(qs_graph_t *g, size_t bytes) {
    void *p = qs__arena_alloc(&g->arena, bytes);
    ASSERT_TRUE(p);
    return p;
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

static Onnx__ModelProto *unpack_file(const char *path) {
    size_t len = 0;
    unsigned char *buf = read_file(path, &len);
    ASSERT_TRUE(buf);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
    free(buf);
    ASSERT_TRUE(m);
    return m;
}

// ---------------------------------------------------------------------------------------
// A hand-built graph, checked field by field in the written ModelProto.

static qs_tensor *add_init(qs_graph_t *g, const char *name, enum qs_dtype dt, int rank,
                           const int64_t *dims, unsigned seed) {
    qs_tensor *t = qs__graph_add_tensor(g, name);
    ASSERT_TRUE(t);
    qs__view_set_shape(&t->v, dt, rank, dims);
    size_t bytes = qs__view_bytes(&t->v);
    t->v.data = qs__aligned_alloc(bytes ? bytes : 1);
    ASSERT_TRUE(t->v.data);
    unsigned char *b = t->v.data;
    for (size_t i = 0; i < bytes; i++) b[i] = (unsigned char)(seed + i * 7);
    if (dt == QS_DTYPE_BOOL)
        for (size_t i = 0; i < bytes; i++) ((unsigned char *)t->v.data)[i] &= 1;
    t->v.is_const = true;
    t->owns_data = true;
    t->is_initializer = true;
    return t;
}

static qs_node *add_node(qs_graph_t *g, const char *name, const char *op, int n_in,
                         qs_tensor **ins, const char *out) {
    qs_node *n = qs__graph_add_node(g, name, op, n_in, 1);
    ASSERT_TRUE(n);
    for (int i = 0; i < n_in; i++) n->inputs[i] = ins[i];
    n->outputs[0] = qs__graph_add_tensor(g, out);
    ASSERT_TRUE(n->outputs[0]);
    n->outputs[0]->v.dtype = QS_DTYPE_F32;
    return n;
}

static const Onnx__NodeProto *find_node(const Onnx__GraphProto *gp, const char *name) {
    for (size_t i = 0; i < gp->n_node; i++)
        if (gp->node[i]->name && strcmp(gp->node[i]->name, name) == 0) return gp->node[i];
    return NULL;
}

static const Onnx__TensorProto *find_init(const Onnx__GraphProto *gp, const char *name) {
    for (size_t i = 0; i < gp->n_initializer; i++)
        if (strcmp(gp->initializer[i]->name, name) == 0) return gp->initializer[i];
    return NULL;
}

static const Onnx__AttributeProto *find_attr(const Onnx__NodeProto *np, const char *name) {
    for (size_t i = 0; i < np->n_attribute; i++)
        if (strcmp(np->attribute[i]->name, name) == 0) return np->attribute[i];
    return NULL;
}

static qs_graph_t *build_handmade(int opset) {
    qs_graph_t *g = NULL;
    ASSERT_OK(qs__graph_create(&g));
    g->opset = opset;
    g->path = qs__arena_strdup(&g->arena, "handmade");
    g->inputs = arena(g, 4 * sizeof(qs_tensor *));
    g->outputs = arena(g, 4 * sizeof(qs_tensor *));

    qs_tensor *x = qs__graph_add_tensor(g, "x");
    x->is_input = true;
    int64_t xd[4] = {1, 3, 4, 4};
    qs__view_set_shape(&x->v, QS_DTYPE_F32, 4, xd);
    x->decl_rank = 4;
    x->decl_dims[0] = -1;
    x->dim_param[0] = qs__arena_strdup(&g->arena, "N");
    x->decl_dims[1] = 3;
    x->decl_dims[2] = -1;  // symbolic without a name
    x->decl_dims[3] = 4;
    g->inputs[g->n_inputs++] = x;

    static const enum qs_dtype dts[] = {
        QS_DTYPE_F32, QS_DTYPE_U8,  QS_DTYPE_I8,  QS_DTYPE_U16, QS_DTYPE_I16,
        QS_DTYPE_I32, QS_DTYPE_I64, QS_DTYPE_BOOL, QS_DTYPE_F16, QS_DTYPE_F64,
        QS_DTYPE_U32, QS_DTYPE_U64, QS_DTYPE_BF16,
    };
    int64_t wd[4] = {2, 3, 1, 1};
    qs_tensor *w = add_init(g, "w", QS_DTYPE_F32, 4, wd, 1);
    qs_tensor *ins[3] = {x, w, NULL};
    qs_node *conv = add_node(g, "conv", "Conv", 3, ins, "conv_out");
    conv->n_inputs = 3;  // inner-empty trailing optional input: dropped on export
    conv->act = (struct qs_fused_act){QS_ACT_CLIP, 0.0f, 6.0f};
    conv->doc = qs__arena_strdup(&g->arena, "a doc string");

    // Every attribute type on one node.
    conv->n_attrs = 7;
    conv->attrs = arena(g, 7 * sizeof(struct qs_attr));
    struct qs_attr *a = conv->attrs;
    a[0] = (struct qs_attr){.name = "f", .type = QS_ATTR_FLOAT, .f = 0.25f};
    a[1] = (struct qs_attr){.name = "i", .type = QS_ATTR_INT, .i = -7};
    a[2] = (struct qs_attr){.name = "s", .type = QS_ATTR_STRING, .s = "NOTSET", .s_len = 6};
    qs_tensor *at = qs__arena_alloc(&g->arena, sizeof *at);
    at->name = qs__arena_strdup(&g->arena, "value");
    int64_t ad[1] = {3};
    qs__view_set_shape(&at->v, QS_DTYPE_I64, 1, ad);
    at->v.data = qs__aligned_alloc(24);
    ((int64_t *)at->v.data)[0] = 5, ((int64_t *)at->v.data)[1] = -1,
    ((int64_t *)at->v.data)[2] = 1LL << 40;
    at->owns_data = true;
    a[3] = (struct qs_attr){.name = "t", .type = QS_ATTR_TENSOR, .t = at};
    float *fl = arena(g, 2 * sizeof(float));
    fl[0] = 1.5f, fl[1] = -2.0f;
    a[4] = (struct qs_attr){.name = "fs", .type = QS_ATTR_FLOATS, .n = 2, .floats = fl};
    int64_t *il = arena(g, 3 * sizeof(int64_t));
    il[0] = 1, il[1] = 2, il[2] = 3;
    a[5] = (struct qs_attr){.name = "is", .type = QS_ATTR_INTS, .n = 3, .ints = il};
    char **sl = arena(g, 2 * sizeof(char *));
    sl[0] = "ab", sl[1] = "";
    a[6] = (struct qs_attr){.name = "ss", .type = QS_ATTR_STRINGS, .n = 2, .strings = sl};

    qs_tensor *mw = add_init(g, "mw", QS_DTYPE_F32, 2, (int64_t[]){4, 4}, 3);
    qs_tensor *mins[2] = {conv->outputs[0], mw};
    qs_node *mm = add_node(g, "mm", "MatMul", 2, mins, "y");
    mm->act = (struct qs_fused_act){QS_ACT_RELU, 0.0f, INFINITY};
    qs_tensor *y = mm->outputs[0];
    y->is_output = true;
    y->decl_rank = 4;
    y->decl_dims[0] = -1;
    y->dim_param[0] = qs__arena_strdup(&g->arena, "N");
    y->decl_dims[1] = 2, y->decl_dims[2] = 4, y->decl_dims[3] = 4;
    g->outputs[g->n_outputs++] = y;

    // One initializer of every dtype, consumed by a Concat-like node (export does not care).
    qs_node *all = qs__graph_add_node(g, "all", "Concat", (int)QS_COUNTOF(dts), 1);
    for (size_t i = 0; i < QS_COUNTOF(dts); i++) {
        char name[32];
        snprintf(name, sizeof name, "init_%s", qs_dtype_name(dts[i]));
        int64_t d[2] = {2, 3};
        all->inputs[i] = add_init(g, name, dts[i], i % 3 == 0 ? 0 : 2, d, (unsigned)i * 11);
    }
    all->outputs[0] = qs__graph_add_tensor(g, "all_out");
    all->outputs[0]->v.dtype = QS_DTYPE_F32;
    all->outputs[0]->is_output = true;
    g->outputs[g->n_outputs++] = all->outputs[0];
    // A name that the unfused activation would like to take.
    add_init(g, "conv_out_preact", QS_DTYPE_F32, 0, NULL, 9);
    return g;
}

static void check_handmade_opset13(const char *path) {
    Onnx__ModelProto *m = unpack_file(path);
    ASSERT_TRUE(m->has_ir_version);
    ASSERT_EQ(m->ir_version, 7);  // lowest IR that carries opset 13
    ASSERT_EQ(m->n_opset_import, 1);
    ASSERT_EQ(m->opset_import[0]->version, 13);
    ASSERT_TRUE(strcmp(m->producer_name, "qsearch") == 0);
    const Onnx__GraphProto *gp = m->graph;

    // Inputs: declared shape with dim_param, an unnamed symbolic dim; no initializers.
    ASSERT_EQ(gp->n_input, 1);
    const Onnx__TypeProto__Tensor *tt = gp->input[0]->type->tensor_type;
    ASSERT_EQ(tt->elem_type, QS_DTYPE_F32);
    ASSERT_EQ(tt->shape->n_dim, 4);
    ASSERT_EQ(tt->shape->dim[0]->value_case, ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM);
    ASSERT_TRUE(strcmp(tt->shape->dim[0]->dim_param, "N") == 0);
    ASSERT_EQ(tt->shape->dim[1]->dim_value, 3);
    ASSERT_EQ(tt->shape->dim[2]->value_case, ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE__NOT_SET);
    ASSERT_EQ(gp->n_output, 2);
    ASSERT_TRUE(strcmp(gp->output[0]->name, "y") == 0);
    ASSERT_EQ(gp->output[0]->type->tensor_type->shape->n_dim, 4);
    ASSERT_EQ(gp->output[1]->type->tensor_type->shape, NULL);  // declared no shape

    // conv -> Clip(min, max initializers) -> mm -> Relu, standard ONNX again.
    ASSERT_EQ(gp->n_node, 5);
    const Onnx__NodeProto *conv = find_node(gp, "conv");
    ASSERT_TRUE(conv);
    ASSERT_EQ(conv->n_input, 2);
    ASSERT_TRUE(strcmp(conv->doc_string, "a doc string") == 0);
    ASSERT_TRUE(strcmp(conv->output[0], "conv_out") != 0);
    ASSERT_TRUE(strcmp(conv->output[0], "conv_out_preact") != 0);  // taken by an initializer
    const Onnx__NodeProto *clip = NULL, *relu = NULL;
    for (size_t i = 0; i < gp->n_node; i++) {
        if (strcmp(gp->node[i]->op_type, "Clip") == 0) clip = gp->node[i];
        if (strcmp(gp->node[i]->op_type, "Relu") == 0) relu = gp->node[i];
    }
    ASSERT_TRUE(clip && relu);
    ASSERT_TRUE(strcmp(clip->input[0], conv->output[0]) == 0);
    ASSERT_TRUE(strcmp(clip->output[0], "conv_out") == 0);
    ASSERT_EQ(clip->n_input, 3);
    const Onnx__TensorProto *lo = find_init(gp, clip->input[1]);
    const Onnx__TensorProto *hi = find_init(gp, clip->input[2]);
    ASSERT_TRUE(lo && hi);
    float lov, hiv;
    memcpy(&lov, lo->raw_data.data, 4);
    memcpy(&hiv, hi->raw_data.data, 4);
    ASSERT_TRUE(lov == 0.0f && hiv == 6.0f && lo->n_dims == 0);
    const Onnx__NodeProto *mm = find_node(gp, "mm");
    ASSERT_TRUE(strcmp(mm->input[0], "conv_out") == 0);
    ASSERT_TRUE(strcmp(relu->input[0], mm->output[0]) == 0);
    ASSERT_TRUE(strcmp(relu->output[0], "y") == 0);
    // Nodes stay in topological order.
    for (size_t i = 0; i < gp->n_node; i++) {
        if (gp->node[i] == conv) ASSERT_TRUE(i == 0);
        if (gp->node[i] == clip) ASSERT_TRUE(i == 1);
    }

    // Attributes of every type.
    const Onnx__AttributeProto *a;
    ASSERT_EQ(conv->n_attribute, 7);
    a = find_attr(conv, "f");
    ASSERT_TRUE(a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT && a->f == 0.25f);
    a = find_attr(conv, "i");
    ASSERT_TRUE(a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT && a->i == -7);
    a = find_attr(conv, "s");
    ASSERT_TRUE(a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING && a->s.len == 6 &&
                memcmp(a->s.data, "NOTSET", 6) == 0);
    a = find_attr(conv, "t");
    ASSERT_TRUE(a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR && a->t);
    ASSERT_EQ(a->t->data_type, QS_DTYPE_I64);
    ASSERT_EQ(a->t->n_dims, 1);
    ASSERT_EQ(a->t->raw_data.len, 24);
    int64_t tv[3];
    memcpy(tv, a->t->raw_data.data, 24);
    ASSERT_TRUE(tv[0] == 5 && tv[1] == -1 && tv[2] == (1LL << 40));
    a = find_attr(conv, "fs");
    ASSERT_TRUE(a->n_floats == 2 && a->floats[0] == 1.5f && a->floats[1] == -2.0f);
    a = find_attr(conv, "is");
    ASSERT_TRUE(a->n_ints == 3 && a->ints[2] == 3);
    a = find_attr(conv, "ss");
    ASSERT_TRUE(a->n_strings == 2 && a->strings[0].len == 2 && a->strings[1].len == 0);

    // Initializers of every dtype, raw little-endian bytes.
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        ASSERT_TRUE(tp->has_raw_data && tp->has_data_type);
        if (strncmp(tp->name, "init_", 5) != 0) continue;
        size_t es = qs_dtype_size((enum qs_dtype)tp->data_type);
        size_t n = 1;
        for (size_t d = 0; d < tp->n_dims; d++) n *= (size_t)tp->dims[d];
        ASSERT_EQ(tp->raw_data.len, n * es);
        ASSERT_TRUE(strcmp(tp->name + 5, qs_dtype_name((enum qs_dtype)tp->data_type)) == 0);
    }
    ASSERT_EQ(gp->n_initializer, 13 + 1 + 2 + 2);  // dtypes, preact blocker, w/mw, clip
    onnx__model_proto__free_unpacked(m, NULL);
}

static void check_handmade_opset9(const char *path) {
    Onnx__ModelProto *m = unpack_file(path);
    ASSERT_EQ(m->ir_version, 4);
    const Onnx__GraphProto *gp = m->graph;
    const Onnx__NodeProto *clip = NULL;
    for (size_t i = 0; i < gp->n_node; i++)
        if (strcmp(gp->node[i]->op_type, "Clip") == 0) clip = gp->node[i];
    ASSERT_TRUE(clip);
    ASSERT_EQ(clip->n_input, 1);  // opset < 11: bounds are attributes
    ASSERT_TRUE(find_attr(clip, "min")->f == 0.0f && find_attr(clip, "max")->f == 6.0f);
    ASSERT_EQ(gp->n_input, 1);
    onnx__model_proto__free_unpacked(m, NULL);
}

static void check_handmade_ir3(const char *path) {
    Onnx__ModelProto *m = unpack_file(path);
    ASSERT_EQ(m->ir_version, 3);
    const Onnx__GraphProto *gp = m->graph;
    // IR 3 lists initializers among the graph inputs too.
    ASSERT_EQ(gp->n_input, 1 + gp->n_initializer);
    for (size_t i = 1; i < gp->n_input; i++)
        ASSERT_TRUE(find_init(gp, gp->input[i]->name));
    onnx__model_proto__free_unpacked(m, NULL);
}

static bool tmp_leftovers(void) {
    DIR *d = opendir(tmpdir);
    ASSERT_TRUE(d);
    bool found = false;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp.")) found = true;
    closedir(d);
    return found;
}

static void test_handmade(void) {
    char path[512];
    struct qs_diag diag = {{0}};
    qs_graph_t *g = build_handmade(13);
    snprintf(path, sizeof path, "%s/handmade.onnx", tmpdir);
    ASSERT_OK(qs_graph_save_onnx(g, path, &diag));
    check_handmade_opset13(path);

    // Failures: QS_STATUS_IO naming the path, and no temporary file left behind.
    snprintf(path, sizeof path, "%s/no/such/dir/m.onnx", tmpdir);
    ASSERT_EQ(qs_graph_save_onnx(g, path, &diag), QS_STATUS_IO);
    ASSERT_STR_CONTAINS(diag.msg, "no/such/dir/m.onnx'");
    snprintf(path, sizeof path, "%s/adir", tmpdir);
    ASSERT_EQ(mkdir(path, 0755), 0);
    ASSERT_EQ(qs_graph_save_onnx(g, path, &diag), QS_STATUS_IO);
    ASSERT_STR_CONTAINS(diag.msg, "adir'");
    ASSERT_TRUE(!tmp_leftovers());
    rmdir(path);
    ASSERT_EQ(qs_graph_save_onnx(g, "", &diag), QS_STATUS_INVALID_ARG);
    ASSERT_EQ(qs_graph_save_onnx(NULL, "x.onnx", NULL), QS_STATUS_INVALID_ARG);
    qs_graph_destroy(g);

    g = build_handmade(9);
    snprintf(path, sizeof path, "%s/handmade9.onnx", tmpdir);
    ASSERT_OK(qs_graph_save_onnx(g, path, &diag));
    check_handmade_opset9(path);
    g->ir_version = 3;
    g->opset = 8;
    ASSERT_OK(qs_graph_save_onnx(g, path, &diag));
    check_handmade_ir3(path);
    qs_graph_destroy(g);

    // Graph attributes are kept by type only: exporting one is refused, and no file is made.
    g = build_handmade(13);
    qs_node *n = g->nodes[0];
    n->attrs[0] = (struct qs_attr){.name = "body", .type = QS_ATTR_GRAPH};
    snprintf(path, sizeof path, "%s/graph-attr.onnx", tmpdir);
    ASSERT_EQ(qs_graph_save_onnx(g, path, &diag), QS_STATUS_UNSUPPORTED);
    ASSERT_STR_CONTAINS(diag.msg,
                        "graph-attr.onnx': node 'conv' (Conv): cannot export attribute 'body'");
    struct stat st;
    ASSERT_TRUE(stat(path, &st) != 0);
    qs_graph_destroy(g);
    printf("handmade graph: ok\n");
}

// Allocation n fails, for n = 1, 2, ... until the save succeeds: QS_STATUS_NOMEM each time,
// no file and no temporary file left, no leak (ASan builds).
static long oom_countdown = -1;
static void *oom_malloc(void *ctx, size_t n) {
    (void)ctx;
    if (oom_countdown == 0) return NULL;
    if (oom_countdown > 0) oom_countdown--;
    return malloc(n);
}
static void *oom_realloc(void *ctx, void *p, size_t n) {
    (void)ctx;
    if (oom_countdown == 0) return NULL;
    if (oom_countdown > 0) oom_countdown--;
    return realloc(p, n);
}
static void oom_free(void *ctx, void *p) {
    (void)ctx;
    free(p);
}

static void test_oom(void) {
    const struct qs_allocator oom = {oom_malloc, oom_realloc, oom_free, NULL};
    qs_set_allocator(&oom);
    qs_graph_t *g = build_handmade(13);
    char path[512];
    snprintf(path, sizeof path, "%s/oom.onnx", tmpdir);
    int failures = 0;
    for (long n = 0;; n++) {
        oom_countdown = n;
        enum qs_status st = qs_graph_save_onnx(g, path, NULL);
        oom_countdown = -1;
        if (st == QS_STATUS_OK) break;
        ASSERT_EQ(st, QS_STATUS_NOMEM);
        struct stat sb;
        ASSERT_TRUE(stat(path, &sb) != 0);
        ASSERT_TRUE(!tmp_leftovers());
        failures++;
    }
    check_handmade_opset13(path);
    qs_graph_destroy(g);
    qs_set_allocator(NULL);
    printf("out of memory: %d allocation failures handled\n", failures);
}

// ---------------------------------------------------------------------------------------
// Round trips.

static bool read_pb(const char *path, qs_tensor *t) {
    size_t len = 0;
    unsigned char *buf = read_file(path, &len);
    if (!buf) return false;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    free(buf);
    if (!tp) return false;
    memset(t, 0, sizeof *t);
    struct qs_diag diag;
    enum qs_status st = qs__tensor_from_proto(tp, NULL, t, &diag);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return st == QS_STATUS_OK;
}

static bool views_same(const qs_view *a, const qs_view *b) {
    if (a->dtype != b->dtype || a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return false;
    size_t bytes = qs__view_bytes(a);
    return bytes == 0 || memcmp(a->data, b->data, bytes) == 0;
}

static bool attrs_same(const struct qs_attr *a, const struct qs_attr *b) {
    if (strcmp(a->name, b->name) != 0 || a->type != b->type) return false;
    switch (a->type) {
    case QS_ATTR_FLOAT: return memcmp(&a->f, &b->f, sizeof a->f) == 0;
    case QS_ATTR_INT: return a->i == b->i;
    case QS_ATTR_STRING: return a->s_len == b->s_len && memcmp(a->s, b->s, a->s_len) == 0;
    case QS_ATTR_TENSOR: return views_same(&a->t->v, &b->t->v);
    case QS_ATTR_FLOATS:
        return a->n == b->n &&
               (a->n == 0 || !memcmp(a->floats, b->floats, sizeof(float) * (size_t)a->n));
    case QS_ATTR_INTS:
        return a->n == b->n &&
               (a->n == 0 || !memcmp(a->ints, b->ints, sizeof(int64_t) * (size_t)a->n));
    case QS_ATTR_STRINGS:
        if (a->n != b->n) return false;
        for (int i = 0; i < a->n; i++)
            if (strcmp(a->strings[i], b->strings[i]) != 0) return false;
        return true;
    default: return true;
    }
}

static bool decl_same(const qs_tensor *a, const qs_tensor *b) {
    if (strcmp(a->name, b->name) != 0 || a->v.dtype != b->v.dtype || a->decl_rank != b->decl_rank)
        return false;
    for (int d = 0; d < a->decl_rank; d++) {
        if (a->decl_dims[d] != b->decl_dims[d]) return false;
        const char *pa = a->dim_param[d] ? a->dim_param[d] : "";
        const char *pb = b->dim_param[d] ? b->dim_param[d] : "";
        if (strcmp(pa, pb) != 0) return false;
    }
    return true;
}

#define CHECK(cond, ...)                                     \
    do {                                                     \
        if (!(cond)) {                                       \
            snprintf(why, why_len, __VA_ARGS__);             \
            return false;                                    \
        }                                                    \
    } while (0)

static bool same_name(const qs_tensor *a, const qs_tensor *b) {
    return (!a && !b) || (a && b && strcmp(a->name, b->name) == 0);
}

// Same nodes (op types, names, inputs, outputs, attributes, fused activations), same
// initializer bytes, same declared inputs and outputs.
static bool graphs_same(const qs_graph_t *a, const qs_graph_t *b, char *why, size_t why_len) {
    CHECK(a->opset == b->opset, "opset %d vs %d", a->opset, b->opset);
    CHECK(a->n_nodes == b->n_nodes, "%d vs %d nodes", a->n_nodes, b->n_nodes);
    for (int i = 0; i < a->n_nodes; i++) {
        const qs_node *x = a->nodes[i], *y = b->nodes[i];
        CHECK(strcmp(x->op_type, y->op_type) == 0 && strcmp(x->name, y->name) == 0 &&
                  strcmp(x->domain, y->domain) == 0,
              "node %d: %s/%s vs %s/%s", i, x->name, x->op_type, y->name, y->op_type);
        CHECK(x->n_inputs == y->n_inputs && x->n_outputs == y->n_outputs,
              "node '%s': input/output counts", x->name);
        for (int k = 0; k < x->n_inputs; k++)
            CHECK(same_name(x->inputs[k], y->inputs[k]), "node '%s': input %d", x->name, k);
        for (int k = 0; k < x->n_outputs; k++)
            CHECK(same_name(x->outputs[k], y->outputs[k]), "node '%s': output %d", x->name, k);
        CHECK(x->n_attrs == y->n_attrs, "node '%s': %d vs %d attributes", x->name, x->n_attrs,
              y->n_attrs);
        for (int k = 0; k < x->n_attrs; k++)
            CHECK(attrs_same(&x->attrs[k], &y->attrs[k]), "node '%s': attribute '%s'", x->name,
                  x->attrs[k].name);
        CHECK(x->act.kind == y->act.kind && x->act.lo == y->act.lo && x->act.hi == y->act.hi,
              "node '%s': fused activation", x->name);
    }
    int na = 0, nb = 0;
    for (int t = 0; t < a->n_tensors; t++) {
        const qs_tensor *x = a->tensors[t];
        if (!x->is_initializer) continue;
        na++;
        const qs_tensor *y = qs__graph_find(b, x->name);
        CHECK(y && y->is_initializer, "initializer '%s' missing", x->name);
        CHECK(views_same(&x->v, &y->v), "initializer '%s' differs", x->name);
    }
    for (int t = 0; t < b->n_tensors; t++) nb += b->tensors[t]->is_initializer;
    CHECK(na == nb, "%d vs %d initializers", na, nb);
    CHECK(a->n_inputs == b->n_inputs && a->n_outputs == b->n_outputs, "input/output counts");
    for (int i = 0; i < a->n_inputs; i++)
        CHECK(decl_same(a->inputs[i], b->inputs[i]), "input '%s'", a->inputs[i]->name);
    for (int i = 0; i < a->n_outputs; i++)
        CHECK(decl_same(a->outputs[i], b->outputs[i]), "output '%s'", a->outputs[i]->name);
    return true;
}

// Runs both graphs on the same inputs (`vals`, or deterministic noise when NULL) and
// compares every output bit for bit. Returns false with `why` when they differ.
static bool outputs_same(qs_graph_t *a, qs_graph_t *b, int batch, const qs_tensor *vals,
                         char *why, size_t why_len) {
    struct qs_session_options so = qs_session_options_default();
    so.batch = batch;
    qs_session_t *sa = NULL, *sb = NULL;
    struct qs_diag diag = {{0}};
    enum qs_status st = qs_session_create(a, &so, &sa, &diag);
    CHECK(st == QS_STATUS_OK, "session on original: %.400s", diag.msg);
    st = qs_session_create(b, &so, &sb, &diag);
    if (st != QS_STATUS_OK) {
        qs_session_destroy(sa);
        CHECK(false, "session on re-imported graph: %.400s", diag.msg);
    }
    bool ok = true;
    for (int i = 0; i < qs_graph_input_count(a) && ok; i++) {
        struct qs_tensor_info info;
        qs_session_input_info(sa, i, &info);
        size_t bytes = (size_t)qs__numel(info.rank, info.dims) * qs_dtype_size(info.dtype);
        unsigned char *pa = qs_session_input_data(sa, i), *pb = qs_session_input_data(sb, i);
        if (vals) {
            if (bytes != qs__view_bytes(&vals[i].v)) {
                snprintf(why, why_len, "input %d size", i);
                ok = false;
                break;
            }
            memcpy(pa, vals[i].v.data, bytes);
        } else if (info.dtype == QS_DTYPE_F32) {
            uint32_t s = 12345u + (uint32_t)i;
            for (size_t k = 0; k < bytes / 4; k++) {
                s = s * 1664525u + 1013904223u;
                ((float *)(void *)pa)[k] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
            }
        } else {
            memset(pa, 0, bytes);
        }
        memcpy(pb, pa, bytes);
    }
    if (ok && qs_session_run(sa, &diag) != QS_STATUS_OK) {
        snprintf(why, why_len, "run original: %.400s", diag.msg);
        ok = false;
    }
    if (ok && qs_session_run(sb, &diag) != QS_STATUS_OK) {
        snprintf(why, why_len, "run re-imported: %.400s", diag.msg);
        ok = false;
    }
    for (int o = 0; ok && o < qs_graph_output_count(a); o++) {
        struct qs_tensor_info ia, ib;
        qs_session_output_info(sa, o, &ia);
        qs_session_output_info(sb, o, &ib);
        size_t bytes = (size_t)qs__numel(ia.rank, ia.dims) * qs_dtype_size(ia.dtype);
        if (ia.dtype != ib.dtype || qs__numel(ia.rank, ia.dims) != qs__numel(ib.rank, ib.dims) ||
            memcmp(qs_session_output_data(sa, o), qs_session_output_data(sb, o), bytes) != 0) {
            snprintf(why, why_len, "output %d differs", o);
            ok = false;
        }
    }
    qs_session_destroy(sa);
    qs_session_destroy(sb);
    return ok;
}

// Turns graph input i into an initializer holding `val` (for inputs that determine shapes).
static void make_constant(qs_graph_t *g, int i, qs_tensor *val) {
    qs_tensor *t = g->inputs[i];
    t->v = val->v;
    t->v.is_const = true;
    t->owns_data = true;
    val->v.data = NULL;
    t->is_input = false;
    t->is_initializer = true;
    t->decl_rank = -1;
    for (int k = i + 1; k < g->n_inputs; k++) g->inputs[k - 1] = g->inputs[k];
    g->n_inputs--;
}

enum rt_result { RT_OK, RT_SKIP, RT_FAIL };

// import -> (optimize) -> export -> import; same graph and bit-identical outputs.
static enum rt_result roundtrip(const char *model, const char *set, int batch, uint32_t passes,
                                char *why, size_t why_len) {
    qs_graph_t *g = NULL, *g2 = NULL;
    struct qs_diag diag = {{0}};
    enum rt_result res = RT_SKIP;
    qs_tensor vals[16];
    memset(vals, 0, sizeof vals);
    int n_vals = 0;
    if (qs_graph_load_onnx(model, &g, &diag) != QS_STATUS_OK) {
        snprintf(why, why_len, "load: %.400s", diag.msg);
        return RT_SKIP;
    }
    if (set) {
        n_vals = qs_graph_input_count(g);
        if (n_vals > 16) goto done;
        for (int i = 0; i < n_vals; i++) {
            char p[4096];
            snprintf(p, sizeof p, "%s/input_%d.pb", set, i);
            if (!read_pb(p, &vals[i])) goto done;
        }
    }
    if (passes && qs_graph_optimize(g, passes, &diag) != QS_STATUS_OK) {
        snprintf(why, why_len, "optimize: %.400s", diag.msg);
        res = RT_FAIL;
        goto done;
    }
    // Inputs whose values determine shapes must be constants to run; those graphs are
    // exported in that form (exercising initializers of every dtype).
    struct qs_session_options so = qs_session_options_default();
    so.batch = batch;
    qs_session_t *s = NULL;
    if (qs_session_create(g, &so, &s, &diag) != QS_STATUS_OK) {
        if (!set) goto done;
        for (int i = n_vals - 1; i >= 0; i--) make_constant(g, i, &vals[i]);
        n_vals = 0;
        if (qs__graph_infer_shapes(g, &diag) != QS_STATUS_OK ||
            qs_session_create(g, &so, &s, &diag) != QS_STATUS_OK)
            goto done;
    }
    for (int i = 0; i < n_vals; i++) {  // test data that does not fit its model
        struct qs_tensor_info info;
        qs_session_input_info(s, i, &info);
        if (info.dtype != vals[i].v.dtype || qs__numel(info.rank, info.dims) != vals[i].v.numel) {
            snprintf(why, why_len, "input %d does not match the model", i);
            qs_session_destroy(s);
            goto done;
        }
    }
    qs_session_destroy(s);

    char out[512];
    snprintf(out, sizeof out, "%s/rt.onnx", tmpdir);
    res = RT_FAIL;
    if (qs_graph_save_onnx(g, out, &diag) != QS_STATUS_OK) {
        snprintf(why, why_len, "save: %.400s", diag.msg);
        goto done;
    }
    if (qs_graph_load_onnx(out, &g2, &diag) != QS_STATUS_OK) {
        snprintf(why, why_len, "reload: %.400s", diag.msg);
        goto done;
    }
    // Fused activations come back as separate nodes; fusing again restores the graph.
    if (passes && qs_graph_optimize(g2, passes, &diag) != QS_STATUS_OK) {
        snprintf(why, why_len, "optimize reloaded: %.400s", diag.msg);
        goto done;
    }
    if (!graphs_same(g, g2, why, why_len)) goto done;
    if (!outputs_same(g, g2, batch, n_vals ? vals : NULL, why, why_len)) goto done;
    res = RT_OK;
done:
    for (int i = 0; i < 16; i++) qs__aligned_free(vals[i].v.data);
    qs_graph_destroy(g);
    qs_graph_destroy(g2);
    return res;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int test_conformance(void) {
    const char *root = getenv("QS_ONNX_TESTDATA");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/node", root ? root : "/usr/share/libonnx-testdata/data");
    DIR *d = opendir(dir);
    if (!d) {
        printf("conformance round trips: skipped (%s missing)\n", dir);
        return 0;
    }
    char **names = NULL;
    size_t nn = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "test_", 5) != 0) continue;
        names = realloc(names, (nn + 1) * sizeof *names);
        names[nn++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof *names, cmp_str);
    // Which cases load at all, then a spread sample of about 60 of them.
    bool *loads = calloc(nn + 1, 1);
    size_t n_loads = 0;
    for (size_t i = 0; i < nn; i++) {
        char model[1024];
        snprintf(model, sizeof model, "%s/%s/model.onnx", dir, names[i]);
        qs_graph_t *g = NULL;
        if (qs_graph_load_onnx(model, &g, NULL) == QS_STATUS_OK) loads[i] = true, n_loads++;
        qs_graph_destroy(g);
    }
    size_t stride = n_loads > 60 ? n_loads / 60 : 1;
    int ok = 0, skipped = 0, failed = 0;
    size_t k = 0;
    for (size_t i = 0; i < nn; i++) {
        if (!loads[i] || k++ % stride != 0) continue;
        char model[1024], set[1024], why[512] = "";
        snprintf(model, sizeof model, "%s/%s/model.onnx", dir, names[i]);
        snprintf(set, sizeof set, "%s/%s/test_data_set_0", dir, names[i]);
        enum rt_result r = roundtrip(model, set, 0, 0, why, sizeof why);
        if (r == RT_OK) ok++;
        else if (r == RT_SKIP) skipped++;
        else {
            failed++;
            printf("FAIL round trip %s: %s\n", names[i], why);
        }
    }
    printf("conformance round trips: %d identical, %d not runnable, %d failed (of %zu loadable)\n",
           ok, skipped, failed, n_loads);
    for (size_t i = 0; i < nn; i++) free(names[i]);
    free(names);
    free(loads);
    return failed;
}

static int test_shared_models(void) {
    static const struct {
        const char *model, *set;
        int batch;
    } cases[] = {
        {"mnist-8/mnist-8.onnx", "mnist-8/test_data_set_0", 0},
        {"cifar10-resnet/cifar10_resnet20.onnx", "cifar10-resnet/resnet20_test_data_set_0", 8},
        {"squeezenet1.1/squeezenet1.1_fp32.onnx", NULL, 0},
        {"sst2-tiny-transformer/sst2_tiny_transformer.onnx",
         "sst2-tiny-transformer/test_data_set_0", 8},
        {"digits-cnn/digits_cnn.onnx", NULL, 4},
        {"mnist-tiny-cnn/mnist_tiny_14x14.onnx", NULL, 0},
        {"onnx-light-models/light_shufflenet/model.onnx",
         "onnx-light-models/light_shufflenet/test_data_set_0", 0},
    };
    int failed = 0, run = 0;
    for (size_t i = 0; i < QS_COUNTOF(cases); i++) {
        const char *model = qs_test_shared(cases[i].model);
        if (!model) continue;
        const char *set = cases[i].set ? qs_test_shared(cases[i].set) : NULL;
        for (int opt = 0; opt < 2; opt++) {
            char why[512] = "";
            enum rt_result r = roundtrip(model, set, cases[i].batch, opt ? QS_PASS_DEFAULT : 0,
                                         why, sizeof why);
            if (r == RT_SKIP) {
                printf("round trip %s: skipped (%s)\n", cases[i].model, why);
                break;
            }
            run++;
            if (r != RT_OK) {
                failed++;
                printf("FAIL round trip %s%s: %s\n", cases[i].model,
                       opt ? " (optimized)" : "", why);
            } else {
                printf("round trip %s%s: identical\n", cases[i].model, opt ? " (optimized)" : "");
            }
        }
    }
    if (!run) printf("shared models: skipped (QS_SHARED_DATA absent)\n");
    return failed;
}

int main(void) {
    qs_set_log_callback(quiet_log, NULL, QS_LOG_ERROR);
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/qs-test-export-XXXXXX", tmp);
    ASSERT_TRUE(mkdtemp(tmpdir));
    test_handmade();
    test_oom();
    int failed = test_conformance();
    failed += test_shared_models();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    if (failed) printf("%d round trips failed\n", failed);
    return failed ? 1 : 0;
}
