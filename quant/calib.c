// Calibration of a graph: one observer per float32 activation, fed by the session observer
// hook during fp32 runs, and drivers that run a data set (in memory or streamed from files
// one batch at a time) through the graph.
#include "quant/quant-impl.h"

#include <stdio.h>
#include <sys/stat.h>

struct qs_calib {
    qs_graph_t *g;
    struct qs_calib_options opt;
    int n;                 // observed tensors
    int *ids;              // [n] tensor id of each
    qs_observer_t **obs;   // [n]
    bool *failed;          // [n] met a non-finite value: later batches are ignored
    int n_ids;
    int *index_of;         // [n_ids] tensor id -> index, or -1
    int input0;            // tensor id of graph input 0 (counts samples), or -1
    int64_t batch;         // dim 0 of input 0 in the observed session
    int64_t valid_rows;    // 0 = every row
    int64_t samples;
    enum qs_status status;
    struct qs_diag err;
};

void qs_calib_destroy(qs_calib_t *c) {
    if (!c) return;
    for (int i = 0; c->obs && i < c->n; i++) qs_observer_destroy(c->obs[i]);
    qs__free(c->obs);
    qs__free(c->ids);
    qs__free(c->failed);
    qs__free(c->index_of);
    qs__free(c);
}

// A float32 activation: a tensor without constant data (graph inputs and node outputs).
static bool observable(const qs_graph_t *g, int id) {
    struct qs_tensor_info info;
    const void *data;
    return qs_graph_tensor(g, id, &info, &data) == QS_STATUS_OK && !data &&
           info.dtype == QS_DTYPE_F32;
}

enum qs_status qs_calib_create(qs_graph_t *graph, const struct qs_calib_options *options,
                               qs_calib_t **calib_out, struct qs_diag *diag) {
    struct qs_calib_options o = options ? *options : qs_calib_options_default();
    if (!qs__calib_options_valid(&o, diag)) return QS_STATUS_INVALID_ARG;
    enum qs_status status = QS_STATUS_NOMEM;
    qs_calib_t *c = qs__calloc(1, sizeof *c);
    if (!c) goto error;
    c->g = graph;
    c->opt = o;
    c->n_ids = qs_graph_tensor_count(graph);
    struct qs_tensor_info in0;
    c->input0 = qs_graph_input_info(graph, 0, &in0) == QS_STATUS_OK ? in0.id : -1;
    c->index_of = qs__malloc(sizeof(int) * (size_t)QS_MAX(c->n_ids, 1));
    c->ids = qs__malloc(sizeof(int) * (size_t)QS_MAX(c->n_ids, 1));
    if (!c->index_of || !c->ids) goto error;
    for (int i = 0; i < c->n_ids; i++) c->index_of[i] = -1;
    for (int id = 0; id < c->n_ids; id++)
        if (observable(graph, id)) {
            c->index_of[id] = c->n;
            c->ids[c->n++] = id;
        }
    c->obs = qs__calloc((size_t)QS_MAX(c->n, 1), sizeof *c->obs);
    c->failed = qs__calloc((size_t)QS_MAX(c->n, 1), sizeof *c->failed);
    if (!c->obs || !c->failed) goto error;
    for (int i = 0; i < c->n; i++) {
        status = qs_observer_create(&o, &c->obs[i], diag);
        if (status != QS_STATUS_OK) goto error;
    }
    *calib_out = c;
    return QS_STATUS_OK;
error:
    qs_calib_destroy(c);
    if (status == QS_STATUS_NOMEM) qs__diag(diag, status, "calibration: out of memory");
    return status;
}

static void hook(void *user, const struct qs_tensor_info *info, const void *data) {
    qs_calib_t *c = user;
    if (info->id < 0 || info->id >= c->n_ids) return;
    bool cut = c->valid_rows > 0 && c->valid_rows < c->batch;
    if (info->id == c->input0) c->samples += cut ? c->valid_rows : c->batch;
    int i = c->index_of[info->id];
    if (i < 0 || c->failed[i] || info->dtype != QS_DTYPE_F32) return;
    int64_t numel = 1;
    for (int d = 0; d < info->rank; d++) numel *= info->dims[d];
    // Padding rows of a partial batch are not data: keep the first valid_rows samples of
    // every tensor laid out batch-major.
    if (cut && info->rank > 0 && info->dims[0] % c->batch == 0)
        numel = numel / c->batch * c->valid_rows;
    struct qs_diag d;
    if (qs_observer_update(c->obs[i], data, (size_t)numel, &d) != QS_STATUS_OK) {
        c->failed[i] = true;
        if (c->status == QS_STATUS_OK) {
            c->status = QS_STATUS_NUMERIC;
            qs__diag(&c->err, QS_STATUS_NUMERIC, "calibration: tensor '%s': %s", info->name,
                     d.msg);
        }
    }
}

void qs_calib_observe(qs_calib_t *c, qs_session_t *s) {
    struct qs_tensor_info in;
    c->batch = 1;
    if (qs_session_input_info(s, 0, &in) == QS_STATUS_OK && in.rank > 0 && in.dims[0] > 0)
        c->batch = in.dims[0];
    qs_session_set_observer(s, hook, c);
}

void qs_calib_set_valid_rows(qs_calib_t *c, int64_t rows) { c->valid_rows = rows > 0 ? rows : 0; }

enum qs_status qs_calib_status(const qs_calib_t *c, struct qs_diag *diag) {
    if (c->status != QS_STATUS_OK && diag) *diag = c->err;
    return c->status;
}

int qs_calib_tensor_count(const qs_calib_t *c) { return c->n; }

enum qs_status qs_calib_tensor_info(const qs_calib_t *c, int i, struct qs_tensor_info *info) {
    if (i < 0 || i >= c->n) return QS_STATUS_INVALID_ARG;
    return qs_graph_tensor(c->g, c->ids[i], info, NULL);
}

int qs_calib_find(const qs_calib_t *c, const char *name) {
    for (int i = 0; name && i < c->n; i++) {
        struct qs_tensor_info info;
        if (qs_graph_tensor(c->g, c->ids[i], &info, NULL) == QS_STATUS_OK && !strcmp(info.name, name))
            return i;
    }
    return -1;
}

int qs_calib_find_id(const qs_calib_t *c, int tensor_id) {
    return tensor_id >= 0 && tensor_id < c->n_ids ? c->index_of[tensor_id] : -1;
}

const qs_observer_t *qs_calib_observer(const qs_calib_t *c, int i) {
    return i >= 0 && i < c->n ? c->obs[i] : NULL;
}

enum qs_status qs_calib_range(const qs_calib_t *c, int i, const struct qs_calib_method *method,
                              double *lo_out, double *hi_out, struct qs_diag *diag) {
    if (i < 0 || i >= c->n)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "calibration: no tensor %d (of %d)", i,
                        c->n);
    struct qs_tensor_info ti;
    qs_graph_tensor(c->g, c->ids[i], &ti, NULL);
    const char *name = ti.name;
    if (c->failed[i])
        return qs__diag(diag, QS_STATUS_NUMERIC,
                        "calibration: tensor '%s' met a non-finite value", name);
    if (qs_observer_count(c->obs[i]) == 0)
        return qs__diag(diag, QS_STATUS_INVALID_STATE,
                        "calibration: tensor '%s' was never observed", name);
    struct qs_diag d;
    enum qs_status st = qs_observer_range(c->obs[i], method, lo_out, hi_out, &d);
    if (st != QS_STATUS_OK) qs__diag(diag, st, "tensor '%s': %s", name, d.msg);
    return st;
}

int64_t qs_calib_samples(const qs_calib_t *c) { return c->samples; }

size_t qs_calib_state_bytes(const qs_calib_t *c) {
    size_t b = sizeof *c + (size_t)c->n_ids * sizeof(int) +
               (size_t)c->n * (sizeof(int) + sizeof(void *) + sizeof(bool));
    for (int i = 0; i < c->n; i++) b += qs_observer_state_bytes(c->obs[i]);
    return b;
}

// ---------------------------------------------------------------------------------------
// Drivers.

typedef enum qs_status (*fill_fn)(void *ctx, int input, int64_t begin, int64_t count,
                                  const struct qs_tensor_info *target, void *dst,
                                  struct qs_diag *diag);

static enum qs_status run_batches(qs_calib_t *c, int64_t total, fill_fn fill, void *ctx,
                                  struct qs_diag *diag) {
    int n_in = qs_graph_input_count(c->g);
    struct qs_session_options so = qs_session_options_default();
    so.batch = (int)QS_MIN((int64_t)c->opt.batch, total);
    so.threads = c->opt.threads;
    qs_session_t *s = NULL;
    enum qs_status st = qs_session_create(c->g, &so, &s, diag);
    if ((st == QS_STATUS_PARSE || st == QS_STATUS_UNSUPPORTED) && so.batch > 1) {
        // A model whose batch is fixed to 1 (a Reshape to a constant shape) runs at 1.
        qs__log(QS_LOG_INFO, "calibration: the model cannot take batch %d; running at 1",
                so.batch);
        so.batch = 1;
        st = qs_session_create(c->g, &so, &s, diag);
    }
    if (st != QS_STATUS_OK) return st;
    struct qs_tensor_info info[QS_DATASET_MAX_INPUTS];
    for (int i = 0; i < n_in; i++) qs_session_input_info(s, i, &info[i]);
    int64_t batch = info[0].rank > 0 ? info[0].dims[0] : 1;
    qs_calib_observe(c, s);
    for (int64_t begin = 0; begin < total && st == QS_STATUS_OK; begin += batch) {
        int64_t count = QS_MIN(batch, total - begin);
        for (int i = 0; i < n_in && st == QS_STATUS_OK; i++)
            st = fill(ctx, i, begin, count, &info[i], qs_session_input_data(s, i), diag);
        if (st != QS_STATUS_OK) break;
        qs_calib_set_valid_rows(c, count);
        st = qs_session_run(s, diag);
        if (st == QS_STATUS_OK) st = qs_calib_status(c, diag);
    }
    qs_calib_set_valid_rows(c, 0);
    qs_session_set_observer(s, NULL, NULL);
    qs_session_destroy(s);
    if (st == QS_STATUS_OK)
        qs__log(QS_LOG_INFO, "calibration: %lld samples, %d tensors, %zu KiB of state",
                (long long)total, c->n, qs_calib_state_bytes(c) / 1024);
    return st;
}

typedef struct {
    const struct qs_dataset *ds;
    const struct qs_preprocess *pp;
} ds_ctx;

static enum qs_status fill_dataset(void *ctx, int input, int64_t begin, int64_t count,
                                   const struct qs_tensor_info *target, void *dst,
                                   struct qs_diag *diag) {
    ds_ctx *d = ctx;
    return qs_dataset_fill(d->ds, input, input == 0 ? d->pp : NULL, begin, count, target, dst,
                           diag);
}

static enum qs_status check_inputs(const qs_calib_t *c, int n, struct qs_diag *diag) {
    int n_in = qs_graph_input_count(c->g);
    if (n_in < 1 || n_in > QS_DATASET_MAX_INPUTS)
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "calibration: the model has %d inputs (1..%d supported)", n_in,
                        QS_DATASET_MAX_INPUTS);
    if (n != n_in)
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "calibration: %d input arrays given for a model with %d inputs", n,
                        n_in);
    return QS_STATUS_OK;
}

enum qs_status qs_calib_run_dataset(qs_calib_t *c, const struct qs_dataset *ds,
                                    const struct qs_preprocess *pp, int64_t limit,
                                    struct qs_diag *diag) {
    enum qs_status st = check_inputs(c, ds->n_inputs, diag);
    if (st != QS_STATUS_OK) return st;
    int64_t total = limit > 0 && limit < ds->count ? limit : ds->count;
    if (total <= 0) return qs__diag(diag, QS_STATUS_INVALID_ARG, "calibration: no samples");
    ds_ctx ctx = {ds, pp};
    return run_batches(c, total, fill_dataset, &ctx, diag);
}

// ---------------------------------------------------------------------------------------
// Streamed files: CIFAR-10 binary and uncompressed .npy are read one batch at a time; any
// other spec is loaded whole through qs_array_load.

enum src_kind { SRC_ARRAY, SRC_CIFAR, SRC_NPY };

typedef struct {
    enum src_kind kind;
    const char *name;        // file path (or the spec) for messages
    FILE *f;
    struct qs_array whole;   // SRC_ARRAY
    struct qs_array chunk;   // streamed: shape of the whole file, data = one batch
    int64_t count;
    size_t sample_bytes;     // one sample in memory
    size_t record_bytes;     // one sample in the file
    off_t data_offset;
    uint8_t *rec;            // CIFAR: records of one batch
} source;

static void source_close(source *s) {
    if (s->f) fclose(s->f);
    qs_array_free(&s->whole);
    qs__free(s->chunk.data);
    qs__free(s->rec);
    memset(s, 0, sizeof *s);
}

static bool has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static bool is_gzip(FILE *f) {
    unsigned char m[2];
    bool gz = fread(m, 1, 2, f) == 2 && m[0] == 0x1f && m[1] == 0x8b;
    rewind(f);
    return gz;
}

static off_t file_size(FILE *f) {
    struct stat st;
    return fstat(fileno(f), &st) == 0 ? st.st_size : -1;
}

// CIFAR-10 binary: records of 1 label byte + 3072 pixel bytes.
static bool open_cifar(source *s, const char *path) {
    s->f = fopen(path, "rb");
    if (!s->f || is_gzip(s->f)) return false;
    off_t size = file_size(s->f);
    if (size <= 0 || size % 3073 != 0) return false;
    s->kind = SRC_CIFAR;
    s->count = size / 3073;
    s->record_bytes = 3073;
    s->sample_bytes = 3072;
    s->chunk = (struct qs_array){QS_DTYPE_U8, 4, {s->count, 3, 32, 32}, NULL, 0};
    return true;
}

static bool npy_dtype(const char *d, enum qs_dtype *dt) {
    static const struct {
        const char *code;
        enum qs_dtype dt;
    } map[] = {
        {"f2", QS_DTYPE_F16}, {"f4", QS_DTYPE_F32}, {"f8", QS_DTYPE_F64}, {"i1", QS_DTYPE_I8},
        {"i2", QS_DTYPE_I16}, {"i4", QS_DTYPE_I32}, {"i8", QS_DTYPE_I64}, {"u1", QS_DTYPE_U8},
        {"u2", QS_DTYPE_U16}, {"u4", QS_DTYPE_U32}, {"u8", QS_DTYPE_U64}, {"b1", QS_DTYPE_BOOL},
    };
    // Little-endian, native or byte-sized data only; anything else goes to the full loader.
    if (d[0] != '<' && d[0] != '|' && d[0] != '=') return false;
    for (size_t i = 0; i < QS_COUNTOF(map); i++)
        if (strcmp(d + 1, map[i].code) == 0) return *dt = map[i].dt, true;
    return false;
}

// The value of key `key` in a .npy header dict, past the ':' and blanks.
static const char *npy_value(const char *hdr, const char *key) {
    const char *p = strstr(hdr, key);
    if (!p || !(p = strchr(p + strlen(key), ':'))) return NULL;
    for (p++; *p == ' '; p++) {}
    return p;
}

static bool open_npy(source *s, const char *path) {
    s->f = fopen(path, "rb");
    if (!s->f || is_gzip(s->f)) return false;
    unsigned char pre[12];
    size_t got = fread(pre, 1, sizeof pre, s->f);
    if (got < 10 || memcmp(pre, "\x93NUMPY", 6) != 0) return false;
    size_t hlen, off;
    if (pre[6] == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        off = 10;
    } else if ((pre[6] == 2 || pre[6] == 3) && got == 12) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
               (size_t)pre[11] << 24;
        off = 12;
    } else {
        return false;
    }
    if (hlen > (1u << 20)) return false;
    char *hdr = qs__malloc(hlen + 1);
    bool ok = false;
    if (!hdr || fseeko(s->f, (off_t)off, SEEK_SET) != 0 || fread(hdr, 1, hlen, s->f) != hlen)
        goto done;
    hdr[hlen] = '\0';
    const char *d = npy_value(hdr, "'descr'"), *fo = npy_value(hdr, "'fortran_order'");
    const char *sh = npy_value(hdr, "'shape'");
    if (!d || !fo || !sh || (*d != '\'' && *d != '"') || strncmp(fo, "False", 5) != 0 ||
        *sh != '(')
        goto done;
    char descr[8];
    size_t dl = strcspn(d + 1, "'\"");
    if (dl >= sizeof descr) goto done;
    memcpy(descr, d + 1, dl);
    descr[dl] = '\0';
    enum qs_dtype dt;
    if (!npy_dtype(descr, &dt)) goto done;
    struct qs_array a = {dt, 0, {0}, NULL, 0};
    const char *p = sh + 1;
    for (;;) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || a.rank == QS_MAX_RANK) goto done;
        a.dims[a.rank++] = v;
        p = end;
    }
    if (a.rank < 1 || a.dims[0] < 1) goto done;
    size_t sample = qs_dtype_size(dt);
    for (int i = 1; i < a.rank; i++) sample *= (size_t)a.dims[i];
    off_t size = file_size(s->f);
    if (sample == 0 || size != (off_t)(off + hlen + sample * (size_t)a.dims[0])) goto done;
    s->kind = SRC_NPY;
    s->count = a.dims[0];
    s->sample_bytes = s->record_bytes = sample;
    s->data_offset = (off_t)(off + hlen);
    s->chunk = a;
    ok = true;
done:
    qs__free(hdr);
    return ok;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static enum qs_status source_open(source *s, const char *spec, int64_t batch,
                                  struct qs_diag *diag) {
    memset(s, 0, sizeof *s);
    s->name = spec;
    bool streamed = false;
    if (has_prefix(spec, "cifar10:")) {
        s->name = spec + 8;
        streamed = open_cifar(s, spec + 8);
    } else if (has_prefix(spec, "npy:") || (ends_with(spec, ".npy") && !strchr(spec, ':'))) {
        s->name = has_prefix(spec, "npy:") ? spec + 4 : spec;
        streamed = open_npy(s, s->name);
    }
    if (!streamed) {
        if (s->f) fclose(s->f);
        s->f = NULL;
        s->kind = SRC_ARRAY;
        s->name = spec;
        enum qs_status st = qs_array_load(spec, &s->whole, diag);
        if (st != QS_STATUS_OK) return st;
        if (s->whole.rank < 1)
            return qs__diag(diag, QS_STATUS_INVALID_ARG,
                            "calibration: '%s' is a scalar, not samples", spec);
        s->count = s->whole.dims[0];
        return QS_STATUS_OK;
    }
    s->chunk.data = qs__malloc(s->sample_bytes * (size_t)batch + 1);
    if (s->kind == SRC_CIFAR) s->rec = qs__malloc(s->record_bytes * (size_t)batch);
    if (!s->chunk.data || (s->kind == SRC_CIFAR && !s->rec))
        return qs__diag(diag, QS_STATUS_NOMEM, "calibration: out of memory");
    return QS_STATUS_OK;
}

// Reads samples [begin, begin + count) of a streamed source into s->chunk.
static enum qs_status source_read(source *s, int64_t begin, int64_t count, struct qs_diag *diag) {
    off_t at = s->data_offset + (off_t)begin * (off_t)s->record_bytes;
    size_t bytes = (size_t)count * s->record_bytes;
    uint8_t *buf = s->kind == SRC_CIFAR ? s->rec : s->chunk.data;
    if (fseeko(s->f, at, SEEK_SET) != 0 || fread(buf, 1, bytes, s->f) != bytes)
        return qs__diag(diag, QS_STATUS_IO, "'%s': read failed at sample %lld", s->name,
                        (long long)begin);
    if (s->kind == SRC_CIFAR)
        for (int64_t i = 0; i < count; i++)
            memcpy((uint8_t *)s->chunk.data + i * 3072, s->rec + i * 3073 + 1, 3072);
    s->chunk.dims[0] = count;
    s->chunk.nbytes = (size_t)count * s->sample_bytes;
    return QS_STATUS_OK;
}

typedef struct {
    source *src;
    const struct qs_preprocess *pp;
} files_ctx;

static enum qs_status fill_files(void *ctx, int input, int64_t begin, int64_t count,
                                 const struct qs_tensor_info *target, void *dst,
                                 struct qs_diag *diag) {
    files_ctx *fc = ctx;
    source *s = &fc->src[input];
    const struct qs_preprocess *pp = input == 0 ? fc->pp : NULL;
    if (s->kind == SRC_ARRAY)
        return qs_preprocess_apply(pp, &s->whole, s->name, begin, count, target, dst, diag);
    enum qs_status st = source_read(s, begin, count, diag);
    if (st != QS_STATUS_OK) return st;
    return qs_preprocess_apply(pp, &s->chunk, s->name, 0, count, target, dst, diag);
}

enum qs_status qs_calib_run_files(qs_calib_t *c, const char *const *specs, int n_specs,
                                  const struct qs_preprocess *pp, int64_t limit,
                                  struct qs_diag *diag) {
    enum qs_status st = check_inputs(c, n_specs, diag);
    if (st != QS_STATUS_OK) return st;
    source src[QS_DATASET_MAX_INPUTS];
    memset(src, 0, sizeof src);
    int64_t total = 0;
    for (int i = 0; i < n_specs && st == QS_STATUS_OK; i++) {
        st = source_open(&src[i], specs[i], c->opt.batch, diag);
        if (st != QS_STATUS_OK) break;
        if (i > 0 && src[i].count != src[0].count)
            st = qs__diag(diag, QS_STATUS_INVALID_ARG,
                          "calibration: '%s' has %lld samples but '%s' has %lld", src[i].name,
                          (long long)src[i].count, src[0].name, (long long)src[0].count);
        total = src[0].count;
    }
    if (st == QS_STATUS_OK) {
        if (limit > 0 && limit < total) total = limit;
        files_ctx ctx = {src, pp};
        st = run_batches(c, total, fill_files, &ctx, diag);
    }
    for (int i = 0; i < n_specs; i++) source_close(&src[i]);
    return st;
}
