// Per-layer policies and their YAML/JSON files (libyaml). Errors carry file:line:col from
// libyaml's marks, as every config reader of qsearch does.
#include "ir/ir-impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>
#include <yaml.h>

typedef struct {
    char *name;
    struct qs_layer_policy lp;
} entry;

struct qs_policy {
    int n, cap;
    entry *e;
};

struct qs_layer_policy qs_layer_policy_default(void) {
    struct qs_layer_policy lp = {32, 32, 0.0f, "unstructured"};
    return lp;
}

enum qs_status qs_policy_create(qs_policy_t **out) {
    qs_policy_t *p = qs__calloc(1, sizeof *p);
    if (!p) return QS_STATUS_NOMEM;
    *out = p;
    return QS_STATUS_OK;
}

void qs_policy_destroy(qs_policy_t *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) qs__free(p->e[i].name);
    qs__free(p->e);
    qs__free(p);
}

// Patterns the sparsity module knows: unstructured, channel, N:M and block RxC.
bool qs_policy_pattern_valid(const char *s) {
    int a, b;
    char tail;
    if (!strcmp(s, "unstructured") || !strcmp(s, "channel")) return true;
    if (sscanf(s, "%d:%d%c", &a, &b, &tail) == 2) return a > 0 && b > a && b <= 16;
    if (sscanf(s, "block%dx%d%c", &a, &b, &tail) == 2) return a > 0 && b > 0 && a * b <= 4096;
    return false;
}

static enum qs_status validate(const char *layer, const struct qs_layer_policy *lp,
                               struct qs_diag *diag) {
    if (lp->w_bits != 8 && lp->w_bits != 32)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "layer '%s': w_bits %d (must be 8 or 32)",
                        layer, lp->w_bits);
    if (lp->a_bits != 8 && lp->a_bits != 32)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "layer '%s': a_bits %d (must be 8 or 32)",
                        layer, lp->a_bits);
    if (!(lp->sparsity >= 0.0f && lp->sparsity <= 0.95f))
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "layer '%s': sparsity %g (must be in [0, 0.95])", layer, lp->sparsity);
    if (!memchr(lp->pattern, 0, sizeof lp->pattern) || !qs_policy_pattern_valid(lp->pattern))
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "layer '%s': unknown sparsity pattern '%.15s' (unstructured, N:M such "
                        "as 2:4, blockRxC such as block1x4, channel)", layer, lp->pattern);
    return QS_STATUS_OK;
}

enum qs_status qs_policy_set(qs_policy_t *p, const char *layer, const struct qs_layer_policy *lp,
                             struct qs_diag *diag) {
    enum qs_status st = validate(layer, lp, diag);
    if (st != QS_STATUS_OK) return st;
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->e[i].name, layer)) {
            p->e[i].lp = *lp;
            return QS_STATUS_OK;
        }
    if (p->n == p->cap) {
        int ncap = p->cap ? p->cap * 2 : 16;
        entry *ne = qs__realloc(p->e, sizeof *ne * (size_t)ncap);
        if (!ne) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
        p->e = ne;
        p->cap = ncap;
    }
    char *name = qs__strdup(layer);
    if (!name) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    p->e[p->n].name = name;
    p->e[p->n++].lp = *lp;
    return QS_STATUS_OK;
}

const struct qs_layer_policy *qs_policy_get(const qs_policy_t *p, const char *layer) {
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->e[i].name, layer)) return &p->e[i].lp;
    return NULL;
}

int qs_policy_count(const qs_policy_t *p) { return p->n; }

enum qs_status qs_policy_entry(const qs_policy_t *p, int i, const char **name,
                               const struct qs_layer_policy **lp) {
    if (i < 0 || i >= p->n) return QS_STATUS_INVALID_ARG;
    *name = p->e[i].name;
    *lp = &p->e[i].lp;
    return QS_STATUS_OK;
}

// --- Loading: a small event-driven reader for `layers: {name: {key: value}}`. -------------

typedef struct {
    yaml_parser_t parser;
    yaml_event_t ev;
    bool have_ev;
    const char *path;
    struct qs_diag *diag;
} reader;

static enum qs_status next(reader *r) {
    if (r->have_ev) yaml_event_delete(&r->ev);
    r->have_ev = false;
    if (!yaml_parser_parse(&r->parser, &r->ev))
        return qs__diag(r->diag, QS_STATUS_PARSE, "'%s':%zu:%zu: %s", r->path,
                        r->parser.problem_mark.line + 1, r->parser.problem_mark.column + 1,
                        r->parser.problem ? r->parser.problem : "YAML syntax error");
    r->have_ev = true;
    return QS_STATUS_OK;
}

static enum qs_status fail_at(reader *r, const char *what) {
    return qs__diag(r->diag, QS_STATUS_PARSE, "'%s':%zu:%zu: %s", r->path,
                    r->ev.start_mark.line + 1, r->ev.start_mark.column + 1, what);
}

static const char *scalar(const reader *r) { return (const char *)r->ev.data.scalar.value; }

static enum qs_status read_layer(reader *r, qs_policy_t *p, const char *name) {
    struct qs_layer_policy lp = qs_layer_policy_default();
    enum qs_status st;
    if ((st = next(r))) return st;
    if (r->ev.type != YAML_MAPPING_START_EVENT)
        return fail_at(r, "a layer entry must be a mapping such as {w_bits: 8, a_bits: 8}");
    size_t line = r->ev.start_mark.line + 1, col = r->ev.start_mark.column + 1;
    for (;;) {
        if ((st = next(r))) return st;
        if (r->ev.type == YAML_MAPPING_END_EVENT) break;
        if (r->ev.type != YAML_SCALAR_EVENT) return fail_at(r, "expected a key");
        char key[32];
        snprintf(key, sizeof key, "%s", scalar(r));
        yaml_mark_t key_mark = r->ev.start_mark;
        if ((st = next(r))) return st;
        if (r->ev.type != YAML_SCALAR_EVENT) return fail_at(r, "expected a scalar value");
        const char *v = scalar(r);
        char *end = NULL;
        if (!strcmp(key, "w_bits") || !strcmp(key, "a_bits")) {
            long b = strtol(v, &end, 10);
            if (!*v || *end) return fail_at(r, "bits must be an integer (8 or 32)");
            *(!strcmp(key, "w_bits") ? &lp.w_bits : &lp.a_bits) = (int)b;
        } else if (!strcmp(key, "sparsity")) {
            double d = strtod(v, &end);
            if (!*v || *end || !isfinite(d)) return fail_at(r, "sparsity must be a number");
            lp.sparsity = (float)d;
        } else if (!strcmp(key, "pattern")) {
            snprintf(lp.pattern, sizeof lp.pattern, "%s", v);
        } else {
            return qs__diag(r->diag, QS_STATUS_PARSE,
                            "'%s':%zu:%zu: unknown key '%s' (w_bits, a_bits, sparsity, pattern)",
                            r->path, key_mark.line + 1, key_mark.column + 1, key);
        }
    }
    if ((st = qs_policy_set(p, name, &lp, r->diag)) != QS_STATUS_OK) {
        if (st != QS_STATUS_NOMEM) {
            char msg[sizeof r->diag->msg];
            snprintf(msg, sizeof msg, "%s", r->diag->msg);
            return qs__diag(r->diag, QS_STATUS_PARSE, "'%s':%zu:%zu: %s", r->path, line, col, msg);
        }
        return st;
    }
    return QS_STATUS_OK;
}

static enum qs_status parse(reader *r, qs_policy_t *p) {
    enum qs_status st;
    bool seen_layers = false;
    while ((st = next(r)) == QS_STATUS_OK) {
        yaml_event_type_t t = r->ev.type;
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT) continue;
        if (t == YAML_STREAM_END_EVENT || t == YAML_DOCUMENT_END_EVENT) break;
        if (t != YAML_MAPPING_START_EVENT) return fail_at(r, "a policy file is a mapping with key 'layers'");
        for (;;) {
            if ((st = next(r))) return st;
            if (r->ev.type == YAML_MAPPING_END_EVENT) break;
            if (r->ev.type != YAML_SCALAR_EVENT) return fail_at(r, "expected a key");
            if (strcmp(scalar(r), "layers") != 0) {
                char msg[160];
                snprintf(msg, sizeof msg, "unknown key '%.100s' (expected 'layers')", scalar(r));
                return fail_at(r, msg);
            }
            seen_layers = true;
            if ((st = next(r))) return st;
            if (r->ev.type == YAML_SCALAR_EVENT && !scalar(r)[0]) continue;  // "layers:" empty
            if (r->ev.type != YAML_MAPPING_START_EVENT)
                return fail_at(r, "'layers' must map layer names to entries");
            for (;;) {
                if ((st = next(r))) return st;
                if (r->ev.type == YAML_MAPPING_END_EVENT) break;
                if (r->ev.type != YAML_SCALAR_EVENT) return fail_at(r, "expected a layer name");
                char *name = qs__strdup(scalar(r));
                if (!name) return qs__diag(r->diag, QS_STATUS_NOMEM, "out of memory");
                if (qs_policy_get(p, name)) {
                    qs__free(name);
                    return fail_at(r, "layer listed twice");
                }
                st = read_layer(r, p, name);
                qs__free(name);
                if (st) return st;
            }
        }
    }
    if (st == QS_STATUS_OK && !seen_layers)
        st = qs__diag(r->diag, QS_STATUS_PARSE, "'%s': no 'layers' key", r->path);
    return st;
}

enum qs_status qs_policy_load(const char *path, qs_policy_t **out, struct qs_diag *diag) {
    FILE *f = fopen(path, "rb");
    if (!f) return qs__diag(diag, QS_STATUS_IO, "'%s': cannot open: %s", path, strerror(errno));
    qs_policy_t *p = NULL;
    enum qs_status st = qs_policy_create(&p);
    if (st) {
        fclose(f);
        return qs__diag(diag, st, "out of memory");
    }
    reader r = {.path = path, .diag = diag};
    if (!yaml_parser_initialize(&r.parser)) {
        fclose(f);
        qs_policy_destroy(p);
        return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    }
    yaml_parser_set_input_file(&r.parser, f);
    st = parse(&r, p);
    if (r.have_ev) yaml_event_delete(&r.ev);
    yaml_parser_delete(&r.parser);
    fclose(f);
    if (st) {
        qs_policy_destroy(p);
        return st;
    }
    *out = p;
    return QS_STATUS_OK;
}

enum qs_status qs_policy_save(const qs_policy_t *p, const char *path, struct qs_diag *diag) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return qs__diag(diag, QS_STATUS_IO, "'%s': cannot create: %s", path, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        return qs__diag(diag, QS_STATUS_IO, "'%s': cannot write", path);
    }
    fprintf(f, "# qsearch policy: per quantizable layer; layers not listed stay fp32 and dense\nlayers:\n");
    for (int i = 0; i < p->n; i++) {
        const struct qs_layer_policy *lp = &p->e[i].lp;
        // Names are quoted: ONNX names may contain ':' or start with characters YAML reserves.
        fputs("  \"", f);
        for (const char *c = p->e[i].name; *c; c++) {
            if (*c == '"' || *c == '\\') fputc('\\', f);
            fputc(*c, f);
        }
        fprintf(f, "\": {w_bits: %d, a_bits: %d, sparsity: %.9g, pattern: \"%s\"}\n", lp->w_bits,
                lp->a_bits, lp->sparsity, lp->pattern);
    }
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return qs__diag(diag, QS_STATUS_IO, "'%s': write failed: %s", path, strerror(errno));
    }
    return QS_STATUS_OK;
}

enum qs_status qs_policy_check(const qs_policy_t *p, const qs_graph_t *g, struct qs_diag *diag) {
    int nl = qs_graph_layer_count(g);
    for (int i = 0; i < p->n; i++) {
        bool found = false;
        for (int l = 0; l < nl && !found; l++) {
            struct qs_layer_info li;
            if (qs_graph_layer_info(g, l, &li) == QS_STATUS_OK) found = !strcmp(li.name, p->e[i].name);
        }
        if (!found)
            return qs__diag(diag, QS_STATUS_PARSE,
                            "policy layer '%s' is not a quantizable layer (Conv, Gemm or MatMul "
                            "with constant weights) of the model", p->e[i].name);
    }
    return QS_STATUS_OK;
}
