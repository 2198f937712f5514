// Bad models give one clear message naming the file and the problem, a failure status,
// and no crash or leak (run under ASan in CI). Models are built here with protobuf-c, so
// the test needs no fixture files.
#include "onnx/onnx.pb-c.h"
#include "qsearch/ir.h"
#include "test.h"

#include <unistd.h>

typedef struct {
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__OperatorSetIdProto opset, *opsets[1];
    Onnx__NodeProto nodes[4], *node_ptrs[4];
    char *ins[4][3], *outs[4][1];
    Onnx__ValueInfoProto vin, vout, *vins[1], *vouts[1];
    Onnx__TypeProto tin, tout;
    Onnx__TypeProto__Tensor ttin, ttout;
    Onnx__TensorShapeProto shape;
    Onnx__TensorShapeProto__Dimension dims[4], *dim_ptrs[4];
    Onnx__TensorProto init, *inits[1];
    int64_t init_dims[4];
    float init_data[16];
} model_t;

// x[1,1,4,4] -> Relu -> y, with optional extra nodes set by the caller.
static void model_init(model_t *t, int opset) {
    memset(t, 0, sizeof *t);
    onnx__model_proto__init(&t->m);
    onnx__graph_proto__init(&t->g);
    onnx__operator_set_id_proto__init(&t->opset);
    t->opset.domain = "";
    t->opset.has_version = 1;
    t->opset.version = opset;
    t->opsets[0] = &t->opset;
    t->m.n_opset_import = 1;
    t->m.opset_import = t->opsets;
    t->m.has_ir_version = 1;
    t->m.ir_version = 8;
    t->m.graph = &t->g;
    t->g.name = "g";
    onnx__tensor_shape_proto__init(&t->shape);
    for (int i = 0; i < 4; i++) {
        onnx__tensor_shape_proto__dimension__init(&t->dims[i]);
        t->dims[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        t->dims[i].dim_value = i < 2 ? 1 : 4;
        t->dim_ptrs[i] = &t->dims[i];
    }
    t->shape.n_dim = 4;
    t->shape.dim = t->dim_ptrs;
    onnx__type_proto__tensor__init(&t->ttin);
    t->ttin.has_elem_type = 1;
    t->ttin.elem_type = 1;
    t->ttin.shape = &t->shape;
    onnx__type_proto__init(&t->tin);
    t->tin.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tin.tensor_type = &t->ttin;
    t->ttout = t->ttin;
    t->tout = t->tin;
    t->tout.tensor_type = &t->ttout;
    onnx__value_info_proto__init(&t->vin);
    t->vin.name = "x";
    t->vin.type = &t->tin;
    onnx__value_info_proto__init(&t->vout);
    t->vout.name = "y";
    t->vout.type = &t->tout;
    t->vins[0] = &t->vin;
    t->vouts[0] = &t->vout;
    t->g.n_input = 1;
    t->g.input = t->vins;
    t->g.n_output = 1;
    t->g.output = t->vouts;
    t->g.node = t->node_ptrs;
}

static Onnx__NodeProto *add_node(model_t *t, const char *name, const char *op, int n_in,
                                 const char *in0, const char *in1, const char *out) {
    int k = (int)t->g.n_node++;
    Onnx__NodeProto *n = &t->nodes[k];
    onnx__node_proto__init(n);
    n->name = (char *)name;
    n->op_type = (char *)op;
    t->ins[k][0] = (char *)in0;
    t->ins[k][1] = (char *)in1;
    n->n_input = (size_t)n_in;
    n->input = t->ins[k];
    t->outs[k][0] = (char *)out;
    n->n_output = 1;
    n->output = t->outs[k];
    t->node_ptrs[k] = n;
    return n;
}

static void add_init(model_t *t, const char *name, int rank, const int64_t *dims, int n_values) {
    onnx__tensor_proto__init(&t->init);
    t->init.name = (char *)name;
    t->init.has_data_type = 1;
    t->init.data_type = 1;
    t->init.n_dims = (size_t)rank;
    memcpy(t->init_dims, dims, sizeof(int64_t) * (size_t)rank);
    t->init.dims = t->init_dims;
    t->init.n_float_data = (size_t)n_values;
    t->init.float_data = t->init_data;
    t->inits[0] = &t->init;
    t->g.n_initializer = 1;
    t->g.initializer = t->inits;
}

static size_t pack(const model_t *t, uint8_t **buf) {
    size_t n = onnx__model_proto__get_packed_size(&t->m);
    *buf = malloc(n);
    onnx__model_proto__pack(&t->m, *buf);
    return n;
}

static char tmpdir[] = "/tmp/qs-import-XXXXXX";

static const char *write_tmp(const char *name, const void *data, size_t n) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f);
    ASSERT_EQ(fwrite(data, 1, n, f), n);
    fclose(f);
    return path;
}

static int n_checks;

// Loads `path`, expects `want`, a message that names the file and contains `needle`, one
// line only.
static void expect_fail(const char *path, enum qs_status want, const char *needle) {
    struct qs_diag diag = {{0}};
    qs_graph_t *g = NULL;
    enum qs_status st = qs_graph_load_onnx(path, &g, &diag);
    if (st != want) {
        fprintf(stderr, "%s: expected %s, got %s (%s)\n", path, qs_status_name(want),
                qs_status_name(st), diag.msg);
        exit(1);
    }
    ASSERT_TRUE(g == NULL);
    ASSERT_STR_CONTAINS(diag.msg, path);
    ASSERT_STR_CONTAINS(diag.msg, needle);
    ASSERT_TRUE(strchr(diag.msg, '\n') == NULL);
    printf("ok: %s\n", diag.msg);
    n_checks++;
}

static void quiet(enum qs_log_level l, const char *m, void *u) { (void)l, (void)m, (void)u; }

int main(void) {
    ASSERT_TRUE(mkdtemp(tmpdir));
    qs_set_log_callback(quiet, NULL, QS_LOG_ERROR);
    model_t t;
    uint8_t *buf;
    size_t n;

    // A valid model loads (the baseline the others break).
    model_init(&t, 13);
    add_node(&t, "relu1", "Relu", 1, "x", NULL, "y");
    n = pack(&t, &buf);
    const char *good = write_tmp("good.onnx", buf, n);
    qs_graph_t *g = NULL;
    struct qs_diag diag = {{0}};
    ASSERT_OK(qs_graph_load_onnx(good, &g, &diag));
    qs_graph_destroy(g);

    // Truncated: every proper prefix that fails must fail cleanly (protobuf may accept
    // some prefixes as smaller valid messages; those then fail a later check or load).
    for (size_t cut = 1; cut < n; cut += 3) {
        const char *p = write_tmp("cut.onnx", buf, cut);
        qs_graph_t *g2 = NULL;
        struct qs_diag d2 = {{0}};
        if (qs_graph_load_onnx(p, &g2, &d2) == QS_STATUS_OK) qs_graph_destroy(g2);
        else ASSERT_STR_CONTAINS(d2.msg, p);
    }
    expect_fail(write_tmp("truncated.onnx", buf, n - 7), QS_STATUS_PARSE, "");
    free(buf);

    // Garbage bytes, empty file, missing file, a directory.
    unsigned char junk[256];
    srand(1);
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(rand() & 0xff);
    junk[0] = 0xff;  // an invalid wire type, so protobuf must reject it
    expect_fail(write_tmp("garbage.onnx", junk, sizeof junk), QS_STATUS_PARSE, "not a valid ONNX");
    expect_fail(write_tmp("empty.onnx", "", 0), QS_STATUS_PARSE, "empty");
    expect_fail("/nonexistent/model.onnx", QS_STATUS_IO, "cannot open");
    expect_fail(tmpdir, QS_STATUS_IO, "not a regular file");

    // Op with a missing required input: Conv needs X and W.
    model_init(&t, 13);
    add_node(&t, "conv1", "Conv", 1, "x", NULL, "y");
    n = pack(&t, &buf);
    expect_fail(write_tmp("missing-input.onnx", buf, n), QS_STATUS_PARSE, "node 'conv1' (Conv) has 1 input");
    free(buf);

    // Input name nobody produces.
    model_init(&t, 13);
    add_node(&t, "add1", "Add", 2, "x", "ghost", "y");
    n = pack(&t, &buf);
    expect_fail(write_tmp("dangling.onnx", buf, n), QS_STATUS_PARSE, "input 'ghost' is not produced");
    free(buf);

    // Unsupported ops are all listed with their node names.
    model_init(&t, 13);
    add_node(&t, "a", "FancyOp", 1, "x", NULL, "t1");
    add_node(&t, "b", "OtherOp", 1, "t1", NULL, "t2");
    add_node(&t, "c", "FancyOp", 1, "t2", NULL, "y");
    n = pack(&t, &buf);
    const char *p = write_tmp("unsupported.onnx", buf, n);
    expect_fail(p, QS_STATUS_UNSUPPORTED, "FancyOp (nodes 'a', 'c')");
    expect_fail(p, QS_STATUS_UNSUPPORTED, "OtherOp (node 'b')");
    free(buf);

    // Opset outside 7..21.
    model_init(&t, 5);
    add_node(&t, "relu1", "Relu", 1, "x", NULL, "y");
    n = pack(&t, &buf);
    expect_fail(write_tmp("opset5.onnx", buf, n), QS_STATUS_UNSUPPORTED, "opset 5");
    free(buf);

    // A cycle.
    model_init(&t, 13);
    add_node(&t, "r1", "Relu", 1, "t2", NULL, "t1");
    add_node(&t, "r2", "Add", 2, "t1", "x", "t2");
    add_node(&t, "r3", "Relu", 1, "t2", NULL, "y");
    n = pack(&t, &buf);
    expect_fail(write_tmp("cycle.onnx", buf, n), QS_STATUS_PARSE, "cycle");
    free(buf);

    // Initializer whose data does not match its shape.
    model_init(&t, 13);
    add_node(&t, "add1", "Add", 2, "x", "w", "y");
    add_init(&t, "w", 2, (const int64_t[]){3, 4}, 10);
    n = pack(&t, &buf);
    expect_fail(write_tmp("badinit.onnx", buf, n), QS_STATUS_PARSE, "tensor 'w': has 10 values");
    free(buf);

    // Shapes that do not broadcast are caught by shape inference, naming the node.
    model_init(&t, 13);
    add_node(&t, "add1", "Add", 2, "x", "w", "y");
    add_init(&t, "w", 1, (const int64_t[]){3}, 3);
    n = pack(&t, &buf);
    expect_fail(write_tmp("badshape.onnx", buf, n), QS_STATUS_PARSE, "add1");
    free(buf);

    // External data that is not there.
    model_init(&t, 13);
    add_node(&t, "add1", "Add", 2, "x", "w", "y");
    add_init(&t, "w", 1, (const int64_t[]){4}, 0);
    Onnx__StringStringEntryProto loc, *locs[1] = {&loc};
    onnx__string_string_entry_proto__init(&loc);
    loc.key = "location";
    loc.value = "weights.bin";
    t.init.has_data_location = 1;
    t.init.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t.init.n_external_data = 1;
    t.init.external_data = locs;
    n = pack(&t, &buf);
    p = write_tmp("external.onnx", buf, n);
    expect_fail(p, QS_STATUS_IO, "weights.bin");
    // ...and loads once the file exists.
    float w[4] = {1, 2, 3, 4};
    write_tmp("weights.bin", w, sizeof w);
    p = write_tmp("external.onnx", buf, n);
    ASSERT_OK(qs_graph_load_onnx(p, &g, &diag));
    qs_graph_destroy(g);
    free(buf);

    // Two nodes writing the same tensor.
    model_init(&t, 13);
    add_node(&t, "r1", "Relu", 1, "x", NULL, "y");
    add_node(&t, "r2", "Relu", 1, "x", NULL, "y");
    n = pack(&t, &buf);
    expect_fail(write_tmp("dup.onnx", buf, n), QS_STATUS_PARSE, "already defined");
    free(buf);

    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    printf("%d passed, 0 failed\n", n_checks);
    return 0;
}
