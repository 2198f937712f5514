// The search configuration: one key table (config-keys.def) drives reading YAML (libyaml's
// document API, so every value keeps its file:line:column), defaults, single-value checks,
// CLI overrides, the YAML/JSON echo, `qsearch config --defaults` and configs/README.md.
// Cross-field checks are in qs__config_validate.
#include "search/config.h"

#include "qsearch/data.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

enum cfg_type {
    CFG_PATH, CFG_SPEC, CFG_SPECS, CFG_STR, CFG_CHOICE, CFG_NAME, CFG_PATTERN, CFG_STRS,
    CFG_INT, CFG_I64, CFG_U64, CFG_NUM, CFG_OPT, CFG_QTY, CFG_TIME, CFG_BOOL, CFG_ENUM,
    CFG_BITS, CFG_BITS2, CFG_FLOATS, CFG_RANGE, CFG_KEYS,
};

struct cfg_key {
    const char *section, *name;
    enum cfg_type type;
    size_t off, noff, size;  // field, count field (lists), sizeof field
    const char *def;
    double min, max;
    const char *choices, *help;
};

#define OFF(f) offsetof(struct qs_search_config, f)
#define FSIZE(f) sizeof(((struct qs_search_config *)0)->f)

static const struct cfg_key keys[] = {
#define QS_CONFIG_KEY(S, N, T, F, NF, D, MIN, MAX, CH, H) \
    {S, #N, CFG_##T, OFF(F), OFF(NF), FSIZE(F), D, MIN, MAX, CH, H},
#include "search/config-keys.def"
#undef QS_CONFIG_KEY
};

enum key_id {
#define QS_CONFIG_KEY(S, N, ...) K_##N,
#include "search/config-keys.def"
#undef QS_CONFIG_KEY
    K_COUNT
};

static const char *const sections[] = {"data", "search_space", "search", "ddpg", "evolution",
                                       "objective", "thresholds", "budgets", "hardware"};

// Where each key got its value: the default, a file (line/column) or qs__config_set.
enum { SET_DEFAULT = 0, SET_FILE, SET_OVERRIDE };
struct cfg_origin {
    uint8_t how[K_COUNT];
    uint32_t line[K_COUNT], col[K_COUNT];
    bool loading;  // a file is being read: a key set twice is an error
};

static const char *const algo_names[] = {"ddpg", "random", "exhaustive", "evolution"};
static const char *const metric_names[] = {"top1", "top5", "fidelity", "external"};
static const char *const reward_names[] = {"acc_first", "compress_first", "custom",
                                           "haq", "nncf", "amc"};
static const char *const objective_names[] = {"accuracy", "compress_ratio", "flops", "latency"};

const char *qs__algo_name(enum qs_algo a) {
    return (unsigned)a < QS_COUNTOF(algo_names) ? algo_names[a] : "?";
}
const char *qs__reward_type_name(enum qs_reward_type r) {
    return (unsigned)r < QS_COUNTOF(reward_names) ? reward_names[r] : "?";
}
const char *qs__eval_metric_name(enum qs_eval_metric m) {
    return (unsigned)m < QS_COUNTOF(metric_names) ? metric_names[m] : "?";
}

double qs__config_acc_floor(const struct qs_search_config *cfg, double acc_fp32) {
    double f = -INFINITY;
    if (cfg->acc_threshold >= 0) f = cfg->acc_threshold;
    if (cfg->max_acc_drop >= 0) f = fmax(f, acc_fp32 - cfg->max_acc_drop);
    return f;
}

// ---- small helpers -----------------------------------------------------------------------

static void *field(struct qs_search_config *cfg, size_t off) { return (char *)cfg + off; }
static const void *cfield(const struct qs_search_config *cfg, size_t off) {
    return (const char *)cfg + off;
}

static const struct cfg_key *find_key(const char *name) {
    for (int i = 0; i < K_COUNT; i++)
        if (!strcmp(keys[i].name, name)) return &keys[i];
    return NULL;
}

static bool is_section(const char *s) {
    for (size_t i = 0; i < QS_COUNTOF(sections); i++)
        if (!strcmp(sections[i], s)) return true;
    return false;
}

// Index of `s` in the '|'-separated list, or -1.
static int choice_index(const char *choices, const char *s) {
    size_t n = strlen(s);
    int i = 0;
    for (const char *p = choices; *p; i++) {
        const char *e = strchr(p, '|');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, s, n)) return i;
        if (!e) break;
        p = e + 1;
    }
    return -1;
}

static void choices_text(const char *choices, char *buf, size_t size) {
    // "a|b|c" -> "a, b or c"
    size_t n = 0;
    buf[0] = 0;
    int count = 1;
    for (const char *p = choices; *p; p++) count += *p == '|';
    int i = 0;
    for (const char *p = choices; *p && n < size; i++) {
        const char *e = strchr(p, '|');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        n += (size_t)snprintf(buf + n, size - n, "%s%.*s",
                              i == 0 ? "" : i == count - 1 ? " or " : ", ", (int)len, p);
        if (!e) break;
        p = e + 1;
    }
}

static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40) return 99;
    size_t d[41][41];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            c = QS_MIN(c, d[i - 1][j] + 1);
            d[i][j] = QS_MIN(c, d[i][j - 1] + 1);
        }
    return d[la][lb];
}

// Closest key name (or section name) for "did you mean".
static const char *suggest(const char *s) {
    const char *best = NULL;
    size_t bd = 3;
    for (int i = 0; i < K_COUNT; i++) {
        size_t d = edit_distance(s, keys[i].name);
        if (d < bd) bd = d, best = keys[i].name;
    }
    for (size_t i = 0; i < QS_COUNTOF(sections); i++) {
        size_t d = edit_distance(s, sections[i]);
        if (d < bd) bd = d, best = sections[i];
    }
    return best;
}

// Shortest "%.Ng" that reads back to the same double, whole numbers below 1e9 in full and
// exponents without '+' and leading zeros ("1e15", "1e-5").
static void fmt_num(double v, char *buf, size_t size) {
    if (v == floor(v) && fabs(v) < 1e9) {
        snprintf(buf, size, "%.0f", v);
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, size, "%.*g", p, v);
        if (strtod(buf, NULL) == v) break;
    }
    char *e = strchr(buf, 'e');
    if (!e) return;
    char *d = e + 1, *s = e + 1;
    if (*s == '+') s++;
    else if (*s == '-') *d++ = *s++;
    while (*s == '0' && s[1]) s++;
    memmove(d, s, strlen(s) + 1);
}

// ---- parsing context and errors ----------------------------------------------------------

struct ctx {
    struct qs_search_config *cfg;
    struct cfg_origin *origin;
    const char *file;     // for messages; NULL for overrides and defaults
    const char *base;     // folder against which relative paths resolve; NULL: keep as given
    yaml_document_t *doc;
    struct qs_diag *diag;
    const struct cfg_key *key;
};

static enum qs_status failv(struct ctx *c, const yaml_node_t *at, const char *fmt, va_list ap) {
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (c->file && at)
        return qs__diag(c->diag, QS_STATUS_PARSE, "%s:%zu:%zu: %s%s%s", c->file,
                        at->start_mark.line + 1, at->start_mark.column + 1,
                        c->key ? c->key->name : "", c->key ? ": " : "", msg);
    return qs__diag(c->diag, c->file ? QS_STATUS_PARSE : QS_STATUS_INVALID_ARG, "%s%s%s%s%s",
                    c->file ? c->file : "", c->file ? ": " : "", c->key ? c->key->name : "",
                    c->key ? ": " : "", msg);
}

static enum qs_status fail(struct ctx *c, const yaml_node_t *at, const char *fmt, ...)
    QS_PRINTF(3, 4);
static enum qs_status fail(struct ctx *c, const yaml_node_t *at, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    enum qs_status st = failv(c, at, fmt, ap);
    va_end(ap);
    return st;
}

static const char *text(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static bool is_null(const yaml_node_t *n) {
    if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = text(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

// A short rendering of a node for messages: the scalar, or "a list"/"a mapping".
static const char *show(const yaml_node_t *n, char *buf, size_t size) {
    if (n->type == YAML_SEQUENCE_NODE) return "a list";
    if (n->type == YAML_MAPPING_NODE) return "a mapping";
    snprintf(buf, size, "'%.80s'", text(n));
    return buf;
}

// ---- paths -------------------------------------------------------------------------------

static char *join_path(const char *base, const char *path, size_t len) {
    const char *home = getenv("HOME");
    if (len >= 2 && path[0] == '~' && path[1] == '/' && home) {
        size_t n = strlen(home) + len + 1;
        char *r = qs__malloc(n);
        if (r) snprintf(r, n, "%s%.*s", home, (int)len - 1, path + 1);
        return r;
    }
    if (!base || path[0] == '/' || len == 0) {
        char *r = qs__malloc(len + 1);
        if (r) memcpy(r, path, len), r[len] = 0;
        return r;
    }
    // "./x" is "x", and a leading "../" takes the last folder off the base (which has no
    // symbolic links: it comes from realpath). Other ".." stay: through a symbolic link
    // "a/../b" need not be "b".
    size_t blen = strlen(base);
    for (;;) {
        if (len >= 2 && path[0] == '.' && path[1] == '/') {
            path += 2, len -= 2;
        } else if (len >= 3 && !strncmp(path, "../", 3) && base[0] == '/' && blen > 1 &&
                   strcmp(base, "/..") != 0) {
            while (blen > 1 && base[blen - 1] != '/') blen--;  // "/a/b" -> "/a/"
            if (blen > 1) blen--;                               // "/a/" -> "/a"
            path += 3, len -= 3;
        } else {
            break;
        }
    }
    size_t n = blen + 1 + len + 1;
    char *r = qs__malloc(n);
    if (r) snprintf(r, n, "%.*s%s%.*s", (int)blen, base, blen == 1 && base[0] == '/' ? "" : "/",
                    (int)len, path);
    return r;
}

static bool is_dtype_name(const char *s, size_t len) {
    static const char *const names[] = {
        "float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64",
        "uint8", "uint16", "uint32", "uint64", "bool", "f16", "bf16", "f32", "f64", "i8",
        "u8", "i16", "u16", "i32", "u32", "i64", "u64"};
    for (size_t i = 0; i < QS_COUNTOF(names); i++)
        if (strlen(names[i]) == len && !strncmp(names[i], s, len)) return true;
    return false;
}

// The file path inside a data spec (qsearch/data.h "Spec syntax"): spec = prefix, then
// the path at *path of *len bytes, then the rest (":DTYPE:SHAPE").
static void spec_path(const char *spec, const char **path, size_t *len) {
    static const char *const prefixes[] = {"npy:", "pb:", "idx:", "cifar10:",
                                           "cifar10-labels:", "raw:"};
    bool raw = false;
    *path = spec;
    for (size_t i = 0; i < QS_COUNTOF(prefixes); i++)
        if (!strncmp(spec, prefixes[i], strlen(prefixes[i]))) {
            *path = spec + strlen(prefixes[i]);
            raw = i == QS_COUNTOF(prefixes) - 1;
            break;
        }
    *len = strlen(*path);
    const char *colon = strchr(*path, ':');
    if (colon) {
        const char *e = strchr(colon + 1, ':');
        size_t dl = e ? (size_t)(e - colon - 1) : strlen(colon + 1);
        if (raw || is_dtype_name(colon + 1, dl)) *len = (size_t)(colon - *path);
    }
}

// Resolves the file path inside a data spec.
static char *resolve_spec(const char *base, const char *spec) {
    const char *path;
    size_t len;
    spec_path(spec, &path, &len);
    char *p = join_path(base, path, len);
    if (!p) return NULL;
    size_t n = (size_t)(path - spec) + strlen(p) + strlen(path + len) + 1;
    char *r = qs__malloc(n);
    if (r) snprintf(r, n, "%.*s%s%s", (int)(path - spec), spec, p, path + len);
    qs__free(p);
    return r;
}

// ---- value readers -----------------------------------------------------------------------

static enum qs_status nomem(struct ctx *c) {
    return qs__diag(c->diag, QS_STATUS_NOMEM, "out of memory");
}

static enum qs_status want_scalar(struct ctx *c, const yaml_node_t *v, const char *what) {
    char b[100];
    if (v->type != YAML_SCALAR_NODE)
        return fail(c, v, "expects %s, got %s", what, show(v, b, sizeof b));
    return QS_STATUS_OK;
}

static enum qs_status read_double(struct ctx *c, const yaml_node_t *v, double *out) {
    enum qs_status st = want_scalar(c, v, "a number");
    if (st) return st;
    const char *s = text(v);
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (!*s || *end || errno == ERANGE || !isfinite(d))
        return fail(c, v, "expects a number, got '%.80s'", s);
    *out = d;
    return QS_STATUS_OK;
}

static enum qs_status check_range(struct ctx *c, const yaml_node_t *v, double d) {
    if (d < c->key->min || d > c->key->max) {
        char lo[32], hi[32];
        fmt_num(c->key->min, lo, sizeof lo);
        fmt_num(c->key->max, hi, sizeof hi);
        return fail(c, v, "%s is out of range [%s, %s]", text(v), lo, hi);
    }
    return QS_STATUS_OK;
}

static enum qs_status read_int(struct ctx *c, const yaml_node_t *v, long long *out) {
    char lo[32], hi[32];
    fmt_num(c->key->min, lo, sizeof lo);
    fmt_num(c->key->max, hi, sizeof hi);
    enum qs_status st = want_scalar(c, v, "an integer");
    if (st) return st;
    const char *s = text(v);
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (!*s || *end || errno) {
        // 1e6 written for an integer is accepted when it is whole.
        double d = strtod(s, &end);
        if (*s && !*end && isfinite(d) && d == floor(d) && fabs(d) < 9e15) {
            x = (long long)d;
        } else {
            return fail(c, v, "expects an integer in [%s, %s], got '%.80s'", lo, hi, s);
        }
    }
    if ((double)x < c->key->min || (double)x > c->key->max)
        return fail(c, v, "expects an integer in [%s, %s], got '%.80s'", lo, hi, s);
    *out = x;
    return QS_STATUS_OK;
}

// Number with an optional SI (k, M, G, T, P) or binary (Ki, Mi, Gi, Ti) suffix and an
// optional trailing B (bytes): 500K, 4MB, 4MiB, 1.2G.
static bool parse_qty(const char *s, double *out) {
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(d)) return false;
    static const struct { const char *suffix; double mul; } units[] = {
        {"", 1}, {"B", 1}, {"k", 1e3}, {"K", 1e3}, {"kB", 1e3}, {"KB", 1e3}, {"M", 1e6},
        {"MB", 1e6}, {"G", 1e9}, {"GB", 1e9}, {"T", 1e12}, {"TB", 1e12}, {"P", 1e15},
        {"Ki", 1024.0}, {"KiB", 1024.0}, {"Mi", 1048576.0}, {"MiB", 1048576.0},
        {"Gi", 1073741824.0}, {"GiB", 1073741824.0}, {"Ti", 1099511627776.0},
        {"TiB", 1099511627776.0}};
    while (*end == ' ') end++;
    for (size_t i = 0; i < QS_COUNTOF(units); i++)
        if (!strcmp(end, units[i].suffix)) {
            *out = d * units[i].mul;
            return true;
        }
    return false;
}

// Seconds, or a duration: 90s, 10m, 2h, 1d, 1h30m, 1.5h.
static bool parse_time(const char *s, double *out) {
    char *end;
    double d = strtod(s, &end);
    if (end != s && !*end) {
        *out = d;
        return isfinite(d);
    }
    double total = 0;
    const char *p = s;
    if (!*p) return false;
    while (*p) {
        errno = 0;
        d = strtod(p, &end);
        if (end == p || errno || !isfinite(d) || d < 0) return false;
        double mul;
        switch (*end) {
        case 's': mul = 1; break;
        case 'm': mul = 60; break;
        case 'h': mul = 3600; break;
        case 'd': mul = 86400; break;
        default: return false;
        }
        if (end[0] == 'm' && end[1] == 's') return false;  // milliseconds: not a budget unit
        total += d * mul;
        p = end + 1;
    }
    *out = total;
    return true;
}

// YAML 1.1 booleans (what users write), case-insensitive.
static int parse_bool(const char *s) {
    static const char *const t[] = {"true", "yes", "on", "y"}, *const f[] = {"false", "no",
                                                                            "off", "n"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, t[i])) return 1;
        if (!strcasecmp(s, f[i])) return 0;
    }
    return -1;
}

// Items of a list value: a sequence, or a single scalar taken as a list of one. Writes at
// most `max` node pointers.
static enum qs_status list_items(struct ctx *c, yaml_node_t *v, yaml_node_t **items, int max,
                                 int *n) {
    *n = 0;
    if (is_null(v)) return QS_STATUS_OK;
    if (v->type == YAML_SCALAR_NODE) {
        items[(*n)++] = v;
        return QS_STATUS_OK;
    }
    if (v->type != YAML_SEQUENCE_NODE) return fail(c, v, "expects a list, got a mapping");
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *x = yaml_document_get_node(c->doc, *it);
        if (*n == max) return fail(c, x, "at most %d entries", max);
        char b[100];
        if (x->type != YAML_SCALAR_NODE)
            return fail(c, x, "list entries must be scalars, got %s", show(x, b, sizeof b));
        items[(*n)++] = x;
    }
    return QS_STATUS_OK;
}

static int cmp_int(const void *a, const void *b) {
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}
static int cmp_float(const void *a, const void *b) {
    return (*(const float *)a > *(const float *)b) - (*(const float *)a < *(const float *)b);
}

static enum qs_status read_bits(struct ctx *c, yaml_node_t *v, int *bits, int *n) {
    yaml_node_t *items[2 + 1];
    int k = 0;
    enum qs_status st = list_items(c, v, items, 3, &k);
    if (st) return st;
    if (k == 0 || k > 2) return fail(c, v, "expects a list of 1 or 2 bit widths among 8, 32");
    int b[2];
    for (int i = 0; i < k; i++) {
        if (choice_index(c->key->choices, text(items[i])) < 0)
            return fail(c, items[i], "bit width '%.40s' is not supported (8 or 32)",
                        text(items[i]));
        b[i] = atoi(text(items[i]));
        if (i && b[i] == b[0]) return fail(c, items[i], "bit width %d listed twice", b[i]);
    }
    qsort(b, (size_t)k, sizeof b[0], cmp_int);
    memcpy(bits, b, sizeof b[0] * (size_t)k);
    *n = k;
    return QS_STATUS_OK;
}

static enum qs_status set_str(struct ctx *c, char **dst, const char *s) {
    char *d = NULL;
    if (s && !(d = qs__strdup(s))) return nomem(c);
    qs__free(*dst);
    *dst = d;
    return QS_STATUS_OK;
}

// Applies value `v` of key `k` to the config.
static enum qs_status apply(struct ctx *c, const struct cfg_key *k, yaml_node_t *v) {
    struct qs_search_config *cfg = c->cfg;
    void *f = field(cfg, k->off);
    enum qs_status st;
    char b[100], list[160];
    c->key = k;
    switch (k->type) {
    case CFG_PATH:
    case CFG_SPEC:
    case CFG_STR:
    case CFG_NAME: {
        if (is_null(v)) return set_str(c, (char **)f, NULL);
        if ((st = want_scalar(c, v, k->type == CFG_STR ? "a string" : "a path"))) return st;
        const char *s = text(v);
        if (k->type == CFG_NAME) {
            if (choice_index(k->choices, s) < 0) {
                choices_text(k->choices, list, sizeof list);
                return fail(c, v, "unknown value '%.60s' (%s)", s, list);
            }
            return set_str(c, (char **)f, s);
        }
        if (k->type == CFG_STR) {
            if (k == &keys[K_preprocess]) {
                struct qs_preprocess pp;
                struct qs_diag d;
                if (qs_preprocess_parse(s, &pp, &d) != QS_STATUS_OK)
                    return fail(c, v, "%s", d.msg);
            }
            return set_str(c, (char **)f, s);
        }
        char *r = k->type == CFG_PATH ? join_path(c->base, s, strlen(s)) : resolve_spec(c->base, s);
        if (!r) return nomem(c);
        qs__free(*(char **)f);
        *(char **)f = r;
        return QS_STATUS_OK;
    }
    case CFG_SPECS:
    case CFG_STRS: {
        int max = k->type == CFG_SPECS ? QS_MAX_SPECS : QS_MAX_IGNORE;
        yaml_node_t *items[QS_MAX_IGNORE > QS_MAX_SPECS ? QS_MAX_IGNORE : QS_MAX_SPECS];
        int n = 0;
        if ((st = list_items(c, v, items, max, &n))) return st;
        char *vals[QS_MAX_IGNORE > QS_MAX_SPECS ? QS_MAX_IGNORE : QS_MAX_SPECS] = {0};
        for (int i = 0; i < n; i++) {
            const char *s = text(items[i]);
            if (!*s) {
                for (int j = 0; j < i; j++) qs__free(vals[j]);
                return fail(c, items[i], "empty entry");
            }
            if (k->type == CFG_STRS) {
                regex_t re;
                int rc = regcomp(&re, s, REG_EXTENDED | REG_NOSUB);
                if (rc) {
                    char e[120];
                    regerror(rc, &re, e, sizeof e);
                    for (int j = 0; j < i; j++) qs__free(vals[j]);
                    return fail(c, items[i], "'%.60s' is not a valid regular expression: %s",
                                s, e);
                }
                regfree(&re);
            }
            vals[i] = k->type == CFG_SPECS ? resolve_spec(c->base, s) : qs__strdup(s);
            if (!vals[i]) {
                for (int j = 0; j < i; j++) qs__free(vals[j]);
                return nomem(c);
            }
        }
        char **arr = f;
        int *count = field(cfg, k->noff);
        for (int i = 0; i < *count; i++) qs__free(arr[i]), arr[i] = NULL;
        for (int i = 0; i < n; i++) arr[i] = vals[i];
        *count = n;
        return QS_STATUS_OK;
    }
    case CFG_CHOICE:
    case CFG_PATTERN: {
        if (is_null(v) || v->type != YAML_SCALAR_NODE) {
            if (k->type == CFG_PATTERN)
                return fail(c, v, "expects a sparsity pattern, got %s", is_null(v) ? "null" :
                            show(v, b, sizeof b));
            choices_text(k->choices, list, sizeof list);
            return fail(c, v, "expects one of %s, got %s", list,
                        is_null(v) ? "null" : show(v, b, sizeof b));
        }
        const char *s = text(v);
        if (k->type == CFG_PATTERN && (!qs_policy_pattern_valid(s) || strlen(s) >= k->size))
            return fail(c, v, "unknown sparsity pattern '%.60s' (unstructured, N:M such as 2:4, "
                        "blockRxC such as block1x4, channel)", s);
        if (k->type == CFG_CHOICE && choice_index(k->choices, s) < 0) {
            choices_text(k->choices, list, sizeof list);
            return fail(c, v, "unknown value '%.60s' (%s)", s, list);
        }
        snprintf(f, k->size, "%s", s);
        return QS_STATUS_OK;
    }
    case CFG_INT:
    case CFG_I64: {
        long long x = 0;
        if ((st = read_int(c, v, &x))) return st;
        if (k->type == CFG_INT) *(int *)f = (int)x;
        else *(int64_t *)f = x;
        return QS_STATUS_OK;
    }
    case CFG_U64: {
        if ((st = want_scalar(c, v, "an integer"))) return st;
        const char *s = text(v);
        char *end;
        errno = 0;
        unsigned long long x = strtoull(s, &end, 10);
        if (!*s || *end || errno || s[0] == '-')
            return fail(c, v, "expects an integer in [0, 18446744073709551615], got '%.80s'", s);
        *(uint64_t *)f = x;
        return QS_STATUS_OK;
    }
    case CFG_OPT:
    case CFG_QTY:
    case CFG_NUM: {
        if (k->type != CFG_NUM && is_null(v)) {
            *(double *)f = -1;
            return QS_STATUS_OK;
        }
        double d;
        if (k->type == CFG_QTY) {
            if ((st = want_scalar(c, v, "a number"))) return st;
            if (!parse_qty(text(v), &d))
                return fail(c, v, "expects a number with an optional suffix (500K, 4MB, 4MiB, "
                            "1.2G), got '%.80s'", text(v));
        } else if ((st = read_double(c, v, &d))) {
            return st;
        }
        if ((st = check_range(c, v, d))) return st;
        *(double *)f = d;
        return QS_STATUS_OK;
    }
    case CFG_TIME: {
        double d;
        if (is_null(v)) {
            *(double *)f = 0;
            return QS_STATUS_OK;
        }
        if ((st = want_scalar(c, v, "a duration"))) return st;
        if (!parse_time(text(v), &d) || d < 0)
            return fail(c, v, "expects seconds or a duration such as 90s, 10m, 2h, 1h30m, got "
                        "'%.80s'", text(v));
        if ((st = check_range(c, v, d))) return st;
        *(double *)f = d;
        return QS_STATUS_OK;
    }
    case CFG_BOOL: {
        if ((st = want_scalar(c, v, "true or false"))) return st;
        int x = parse_bool(text(v));
        if (x < 0) return fail(c, v, "expects true or false, got '%.80s'", text(v));
        *(bool *)f = x;
        return QS_STATUS_OK;
    }
    case CFG_ENUM: {
        int x = v->type == YAML_SCALAR_NODE ? choice_index(k->choices, text(v)) : -1;
        if (x < 0) {
            choices_text(k->choices, list, sizeof list);
            return fail(c, v, "unknown value %s (%s)", show(v, b, sizeof b), list);
        }
        *(int *)f = x;
        return QS_STATUS_OK;
    }
    case CFG_BITS:
    case CFG_BITS2: {
        if (is_null(v)) return QS_STATUS_OK;  // w_/a_bit_candidates: null = as bit_candidates
        int bits[2] = {0}, n = 0;
        if ((st = read_bits(c, v, bits, &n))) return st;
        if (k->type == CFG_BITS) {
            memcpy(f, bits, sizeof bits);
            *(int *)field(cfg, k->noff) = n;
            return QS_STATUS_OK;
        }
        // bit_candidates: both sides, except one given explicitly (in any order).
        if (c->origin->how[K_w_bit_candidates] == SET_DEFAULT) {
            memcpy(cfg->w_bits, bits, sizeof bits);
            cfg->n_w_bits = n;
        }
        if (c->origin->how[K_a_bit_candidates] == SET_DEFAULT) {
            memcpy(cfg->a_bits, bits, sizeof bits);
            cfg->n_a_bits = n;
        }
        return QS_STATUS_OK;
    }
    case CFG_FLOATS: {
        yaml_node_t *items[QS_MAX_SPARSITY];
        int n = 0;
        if (is_null(v)) {  // not used (sparsity_range instead): no pruning
            *(float *)f = 0.0f;
            *(int *)field(cfg, k->noff) = 1;
            return QS_STATUS_OK;
        }
        if ((st = list_items(c, v, items, QS_MAX_SPARSITY, &n))) return st;
        if (n == 0) return fail(c, v, "expects a non-empty list of numbers");
        float vals[QS_MAX_SPARSITY];
        for (int i = 0; i < n; i++) {
            double d;
            if ((st = read_double(c, items[i], &d)) || (st = check_range(c, items[i], d)))
                return st;
            vals[i] = (float)d;
            for (int j = 0; j < i; j++)
                if (vals[j] == vals[i]) return fail(c, items[i], "%s listed twice", text(items[i]));
        }
        qsort(vals, (size_t)n, sizeof vals[0], cmp_float);
        memcpy(f, vals, sizeof vals[0] * (size_t)n);
        *(int *)field(cfg, k->noff) = n;
        return QS_STATUS_OK;
    }
    case CFG_RANGE: {
        if (is_null(v)) {
            cfg->sparsity_continuous = false;
            return QS_STATUS_OK;
        }
        yaml_node_t *items[3];
        int n = 0;
        if (v->type != YAML_SEQUENCE_NODE || list_items(c, v, items, 3, &n) || n != 2)
            return fail(c, v, "expects [lo, hi] or null");
        double lo, hi;
        if ((st = read_double(c, items[0], &lo)) || (st = check_range(c, items[0], lo)) ||
            (st = read_double(c, items[1], &hi)) || (st = check_range(c, items[1], hi)))
            return st;
        if (!(lo < hi)) return fail(c, v, "expects lo < hi, got [%s, %s]", text(items[0]),
                                    text(items[1]));
        *(float *)f = (float)lo;
        *(float *)field(cfg, k->noff) = (float)hi;
        cfg->sparsity_continuous = true;
        return QS_STATUS_OK;
    }
    case CFG_KEYS: {
        yaml_node_t *items[8];
        int n = 0;
        if ((st = list_items(c, v, items, 8, &n))) return st;
        if (n == 0) return fail(c, v, "expects a non-empty list");
        unsigned flags = 0;
        for (int i = 0; i < n; i++) {
            int x = choice_index(k->choices, text(items[i]));
            if (x < 0) {
                choices_text(k->choices, list, sizeof list);
                return fail(c, items[i], "unknown objective '%.60s' (%s)", text(items[i]), list);
            }
            if (flags & (1u << x)) return fail(c, items[i], "'%s' listed twice", text(items[i]));
            flags |= 1u << x;
        }
        *(unsigned *)f = flags;
        return QS_STATUS_OK;
    }
    }
    return fail(c, v, "internal: unknown key type");
}

// Applies `v` to key `k` and records where it came from.
static enum qs_status apply_at(struct ctx *c, const struct cfg_key *k, yaml_node_t *v,
                               const yaml_node_t *key_node) {
    int id = (int)(k - keys);
    struct cfg_origin *o = c->origin;
    if (o->loading && o->how[id] == SET_FILE) {
        c->key = NULL;
        return fail(c, key_node, "key '%s' given twice (first at line %u)", k->name,
                    (unsigned)o->line[id]);
    }
    enum qs_status st = apply(c, k, v);
    c->key = NULL;
    if (st) return st;
    bool unset = (k->type == CFG_BITS || k->type == CFG_FLOATS) && is_null(v);
    o->how[id] = unset ? SET_DEFAULT : c->file ? SET_FILE : SET_OVERRIDE;
    o->line[id] = key_node ? (uint32_t)key_node->start_mark.line + 1 : 0;
    o->col[id] = key_node ? (uint32_t)key_node->start_mark.column + 1 : 0;
    return QS_STATUS_OK;
}

// ---- defaults, free ----------------------------------------------------------------------

void qs__config_free(struct qs_search_config *cfg) {
    if (!cfg) return;
    for (int i = 0; i < K_COUNT; i++) {
        const struct cfg_key *k = &keys[i];
        void *f = field(cfg, k->off);
        if (k->type == CFG_PATH || k->type == CFG_SPEC || k->type == CFG_STR ||
            k->type == CFG_NAME) {
            qs__free(*(char **)f);
        } else if (k->type == CFG_SPECS || k->type == CFG_STRS) {
            char **arr = f;
            int max = k->type == CFG_SPECS ? QS_MAX_SPECS : QS_MAX_IGNORE;
            for (int j = 0; j < max; j++) qs__free(arr[j]);
        }
    }
    qs__free(cfg->source);
    qs__free(cfg->base_dir);
    qs__free(cfg->origin);
    memset(cfg, 0, sizeof *cfg);
}

// Parses `value` (YAML flow text, or taken literally when `literal`) into a one-node
// document and applies it to key k.
static enum qs_status set_from_string(struct ctx *c, const struct cfg_key *k, const char *value,
                                      bool literal) {
    yaml_document_t doc;
    enum qs_status st = QS_STATUS_OK;
    if (literal) {
        if (!yaml_document_initialize(&doc, NULL, NULL, NULL, 1, 1)) return nomem(c);
        yaml_scalar_style_t style = *value ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                           : YAML_PLAIN_SCALAR_STYLE;
        if (!yaml_document_add_scalar(&doc, NULL, (const yaml_char_t *)value, -1, style)) {
            yaml_document_delete(&doc);
            return nomem(c);
        }
    } else {
        yaml_parser_t parser;
        if (!yaml_parser_initialize(&parser)) return nomem(c);
        yaml_parser_set_input_string(&parser, (const unsigned char *)value, strlen(value));
        int ok = yaml_parser_load(&parser, &doc);
        if (!ok) {
            st = qs__diag(c->diag, QS_STATUS_INVALID_ARG, "%s: cannot read '%.80s': %s",
                          k->name, value, parser.problem ? parser.problem : "syntax error");
            yaml_parser_delete(&parser);
            return st;
        }
        yaml_parser_delete(&parser);
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t empty = {.type = YAML_SCALAR_NODE};
    empty.data.scalar.value = (yaml_char_t *)"";
    empty.data.scalar.style = YAML_PLAIN_SCALAR_STYLE;
    c->doc = &doc;
    st = apply_at(c, k, root ? root : &empty, NULL);
    c->doc = NULL;
    yaml_document_delete(&doc);
    return st;
}

static bool literal_type(enum cfg_type t) {
    return t == CFG_PATH || t == CFG_SPEC || t == CFG_STR || t == CFG_NAME ||
           t == CFG_CHOICE || t == CFG_PATTERN;
}

enum qs_status qs__config_defaults(struct qs_search_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    struct cfg_origin *o = qs__calloc(1, sizeof *o);
    cfg->origin = o;
    cfg->source = qs__strdup("<defaults>");
    if (!o || !cfg->source) return QS_STATUS_NOMEM;
    char cwd[4096];
    struct ctx c = {.cfg = cfg, .origin = o, .base = getcwd(cwd, sizeof cwd)};
    for (int i = 0; i < K_COUNT; i++) {
        // Defaults are YAML text; "null" of a string-like key means unset.
        bool lit = literal_type(keys[i].type) && strcmp(keys[i].def, "null") != 0;
        enum qs_status st = set_from_string(&c, &keys[i], keys[i].def, lit);
        if (st) return st == QS_STATUS_NOMEM ? st : QS_STATUS_INTERNAL;
        o->how[i] = SET_DEFAULT;
    }
    return QS_STATUS_OK;
}

enum qs_status qs__config_set(struct qs_search_config *cfg, const char *key, const char *value,
                              struct qs_diag *diag) {
    const char *name = key;
    const char *dot = strchr(key, '.');
    char sec[32] = "";
    if (dot) {
        snprintf(sec, sizeof sec, "%.*s", (int)(dot - key), key);
        name = dot + 1;
    }
    const struct cfg_key *k = find_key(name);
    if (!k || (dot && strcmp(k->section, sec) != 0)) {
        const char *s = suggest(name);
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "unknown config key '%s'%s%s%s", key,
                        s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
    }
    char cwd[4096];
    struct ctx c = {.cfg = cfg, .origin = cfg->origin, .diag = diag,
                    .base = getcwd(cwd, sizeof cwd)};
    if (!c.origin) return qs__diag(diag, QS_STATUS_INVALID_STATE, "config not initialised");
    return set_from_string(&c, k, value, literal_type(k->type));
}

// ---- loading -----------------------------------------------------------------------------

// A key written twice in one mapping (YAML forbids it; libyaml does not check).
static enum qs_status check_duplicates(struct ctx *c, yaml_node_t *map) {
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        if (k->type != YAML_SCALAR_NODE) continue;
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *j = yaml_document_get_node(c->doc, q->key);
            if (j->type == YAML_SCALAR_NODE && !strcmp(text(j), text(k)))
                return fail(c, k, "key '%.60s' given twice (first at line %zu)", text(k),
                            j->start_mark.line + 1);
        }
    }
    return QS_STATUS_OK;
}

static enum qs_status apply_pair(struct ctx *c, yaml_node_t *kn, yaml_node_t *v,
                                 const char *section) {
    char b[100];
    if (kn->type != YAML_SCALAR_NODE)
        return fail(c, kn, "keys must be names, got %s", show(kn, b, sizeof b));
    const char *name = text(kn);
    const struct cfg_key *k = find_key(name);
    if (k) {
        if (section && strcmp(k->section, section) != 0)
            return fail(c, kn, "key '%s' belongs in section '%s'%s, not in '%s'", name,
                        *k->section ? k->section : "(top level)",
                        *k->section ? " (or at the top level)" : "", section);
        return apply_at(c, k, v, kn);
    }
    if (!section && is_section(name)) {
        if (is_null(v)) return QS_STATUS_OK;  // "objective:" with nothing under it
        if (v->type != YAML_MAPPING_NODE)
            return fail(c, v, "section '%s' must be a mapping of keys", name);
        enum qs_status dst = check_duplicates(c, v);
        if (dst) return dst;
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
             p++) {
            enum qs_status st = apply_pair(c, yaml_document_get_node(c->doc, p->key),
                                           yaml_document_get_node(c->doc, p->value), name);
            if (st) return st;
        }
        return QS_STATUS_OK;
    }
    const char *s = suggest(name);
    if (s) return fail(c, kn, "unknown key '%.60s' (did you mean '%s'?)", name, s);
    if (section) {
        char names[400];
        size_t n = 0;
        names[0] = 0;
        for (int i = 0; i < K_COUNT && n < sizeof names; i++)
            if (!strcmp(keys[i].section, section))
                n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", n ? ", " : "",
                                      keys[i].name);
        return fail(c, kn, "unknown key '%.60s' in section '%s' (keys: %s)", name, section, names);
    }
    return fail(c, kn, "unknown key '%.60s' (see 'qsearch config --defaults')", name);
}

static enum qs_status load_parser(yaml_parser_t *parser, const char *name,
                                  struct qs_search_config *cfg, struct qs_diag *diag) {
    yaml_document_t doc;
    if (!yaml_parser_load(parser, &doc)) {
        const char *ctx = parser->context;
        return qs__diag(diag, QS_STATUS_PARSE, "%s:%zu:%zu: YAML syntax error: %s%s%s", name,
                        parser->problem_mark.line + 1, parser->problem_mark.column + 1,
                        parser->problem ? parser->problem : "malformed YAML", ctx ? " " : "",
                        ctx ? ctx : "");
    }
    struct ctx c = {.cfg = cfg, .origin = cfg->origin, .file = name, .base = cfg->base_dir,
                    .doc = &doc, .diag = diag};
    enum qs_status st = QS_STATUS_OK;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    c.origin->loading = true;
    if (root && !is_null(root)) {
        if (root->type != YAML_MAPPING_NODE) {
            st = fail(&c, root, "a config file is a mapping of keys (see 'qsearch config "
                      "--defaults')");
        } else if (!(st = check_duplicates(&c, root))) {
            for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
                 !st && p < root->data.mapping.pairs.top; p++)
                st = apply_pair(&c, yaml_document_get_node(&doc, p->key),
                                yaml_document_get_node(&doc, p->value), NULL);
        }
    }
    c.origin->loading = false;
    yaml_document_delete(&doc);
    if (st) return st;
    // A second document in the stream is a mistake (two configs pasted together).
    yaml_document_t extra;
    if (yaml_parser_load(parser, &extra)) {
        bool more = yaml_document_get_root_node(&extra) != NULL;
        yaml_mark_t m = extra.start_mark;
        yaml_document_delete(&extra);
        if (more)
            return qs__diag(diag, QS_STATUS_PARSE, "%s:%zu:%zu: a second YAML document; a "
                            "config file holds one", name, m.line + 1, m.column + 1);
    }
    return QS_STATUS_OK;
}

// Absolute folder of `path` (resolving symbolic links of the folder), or NULL.
static char *folder_of(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    char *real = realpath(dir, NULL);  // malloc'ed by the C library
    char *r = qs__strdup(real ? real : dir);
    free(real);
    return r;
}

static enum qs_status start_load(const char *name, const char *dir, struct qs_search_config *cfg,
                                 struct qs_diag *diag) {
    enum qs_status st = qs__config_defaults(cfg);
    if (st) return qs__diag(diag, st, "out of memory");
    qs__free(cfg->source);
    cfg->source = qs__strdup(name);
    cfg->base_dir = dir ? qs__strdup(dir) : folder_of(name);
    if (!cfg->source || !cfg->base_dir) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    return QS_STATUS_OK;
}

enum qs_status qs__config_load(const char *path, struct qs_search_config *cfg,
                               struct qs_diag *diag) {
    enum qs_status st = start_load(path, NULL, cfg, diag);
    if (st) return st;
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return qs__diag(diag, QS_STATUS_IO, "%s: is a folder, not a config file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return qs__diag(diag, QS_STATUS_IO, "%s: cannot open config: %s", path,
                            strerror(errno));
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    }
    yaml_parser_set_input_file(&parser, f);
    st = load_parser(&parser, path, cfg, diag);
    yaml_parser_delete(&parser);
    if (ferror(f) && !st) st = qs__diag(diag, QS_STATUS_IO, "%s: read error", path);
    fclose(f);
    return st;
}

// Loads from memory with `dir` as the folder of relative paths.
static enum qs_status load_string_in(const char *yaml, const char *name, const char *dir,
                                     struct qs_search_config *cfg, struct qs_diag *diag) {
    enum qs_status st = start_load(name, dir, cfg, diag);
    if (st) return st;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, strlen(yaml));
    st = load_parser(&parser, name, cfg, diag);
    yaml_parser_delete(&parser);
    return st;
}

enum qs_status qs__config_load_string(const char *yaml, const char *name,
                                      struct qs_search_config *cfg, struct qs_diag *diag) {
    // The folder of `name` (the current one for a bare name) resolves relative paths.
    char *dir = folder_of(name ? name : "<string>");
    if (!dir) {
        memset(cfg, 0, sizeof *cfg);
        return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    }
    enum qs_status st = load_string_in(yaml, name ? name : "<string>", dir, cfg, diag);
    qs__free(dir);
    return st;
}

// ---- validation --------------------------------------------------------------------------

static bool explicit_key(const struct qs_search_config *cfg, int id) {
    const struct cfg_origin *o = cfg->origin;
    return o && o->how[id] != SET_DEFAULT;
}

// A failed cross-field check: "FILE:LINE:COL: msg" when key `id` came from the file,
// "FILE: msg" when the config came from a file, else "msg".
static enum qs_status invalid(const struct qs_search_config *cfg, int id, struct qs_diag *diag,
                              const char *fmt, ...) QS_PRINTF(4, 5);
static enum qs_status invalid(const struct qs_search_config *cfg, int id, struct qs_diag *diag,
                              const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const struct cfg_origin *o = cfg->origin;
    bool from_file = cfg->source && strcmp(cfg->source, "<defaults>") != 0;
    if (o && id >= 0 && o->how[id] == SET_FILE)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "%s:%u:%u: %s", cfg->source,
                        (unsigned)o->line[id], (unsigned)o->col[id], msg);
    if (from_file) return qs__diag(diag, QS_STATUS_INVALID_ARG, "%s: %s", cfg->source, msg);
    return qs__diag(diag, QS_STATUS_INVALID_ARG, "%s", msg);
}

static bool uses_latency(const struct qs_search_config *cfg, int *why) {
    if (cfg->objective_keys & QS_OBJ_LATENCY) return *why = K_objective_keys, true;
    if (cfg->reward_type == QS_REWARD_CUSTOM && !strcmp(cfg->metric_to_reward, "latency"))
        return *why = K_metric_to_reward, true;
    if (cfg->latency_threshold_ms > 0) return *why = K_latency_threshold, true;
    if (cfg->latency_budget_ms > 0) return *why = K_latency_budget, true;
    return false;
}

enum qs_status qs__config_validate(struct qs_search_config *cfg, struct qs_diag *diag) {
    if (!cfg->origin) return qs__diag(diag, QS_STATUS_INVALID_STATE, "config not initialised");
    if (!cfg->model)
        return invalid(cfg, K_model, diag, "'model' is not set (the ONNX model to search)");
    bool labelled = cfg->metric == QS_EVAL_TOP1 || cfg->metric == QS_EVAL_TOP5;
    bool fraction = cfg->metric != QS_EVAL_EXTERNAL;
    if (cfg->metric != QS_EVAL_EXTERNAL && cfg->n_eval_data == 0)
        return invalid(cfg, K_eval_data, diag, "'eval_data' is not set (the evaluation "
                       "samples, one data spec per model input)");
    if (cfg->metric == QS_EVAL_EXTERNAL && !cfg->n_eval_data && !cfg->n_calib_data)
        return invalid(cfg, K_calib_data, diag, "metric external still needs calibration "
                       "samples: set calib_data (or eval_data)");
    if (labelled && !cfg->eval_labels)
        return invalid(cfg, K_metric, diag, "metric %s needs 'eval_labels' (or use metric: "
                       "fidelity, which compares with the fp32 outputs)",
                       qs__eval_metric_name(cfg->metric));
    if (cfg->metric == QS_EVAL_EXTERNAL && !cfg->eval_command)
        return invalid(cfg, K_metric, diag, "metric external needs 'eval_command'");
    if (cfg->metric != QS_EVAL_EXTERNAL && cfg->eval_command)
        return invalid(cfg, K_eval_command, diag, "'eval_command' is set but metric is %s "
                       "(set metric: external to use it)", qs__eval_metric_name(cfg->metric));
    if (cfg->n_calib_data && cfg->n_eval_data && cfg->n_calib_data != cfg->n_eval_data)
        return invalid(cfg, K_calib_data, diag, "calib_data has %d specs and eval_data %d: "
                       "both need one per model input", cfg->n_calib_data, cfg->n_eval_data);
    if (cfg->calib_portion > 0 && explicit_key(cfg, K_calib_count) && cfg->calib_count != 0)
        return invalid(cfg, K_calib_portion, diag, "give calib_portion or calib_count, not both");
    if (cfg->calib_portion > 0) cfg->calib_count = 0;  // not used; the echo says so
    // Search space.
    if (explicit_key(cfg, K_sparsity_range) && cfg->sparsity_continuous &&
        explicit_key(cfg, K_sparsity_candidates))
        return invalid(cfg, K_sparsity_range, diag, "give sparsity_candidates or "
                       "sparsity_range, not both");
    if (cfg->algorithm == QS_ALGO_EXHAUSTIVE && cfg->sparsity_continuous)
        return invalid(cfg, K_algorithm, diag, "exhaustive search needs discrete choices: use "
                       "sparsity_candidates instead of the continuous sparsity_range");
    if (cfg->tie_bits && (cfg->n_w_bits != cfg->n_a_bits ||
                          memcmp(cfg->w_bits, cfg->a_bits, sizeof cfg->w_bits[0] *
                                 (size_t)cfg->n_w_bits) != 0))
        return invalid(cfg, K_tie_bits, diag, "tie_bits needs the same weight and activation "
                       "bit candidates (set tie_bits: false to search them separately)");
    bool sparse = cfg->sparsity_continuous || cfg->n_sparsity > 1 ||
                  (cfg->n_sparsity == 1 && cfg->sparsity[0] > 0);
    if (!sparse && cfg->n_w_bits < 2 && cfg->n_a_bits < 2)
        return invalid(cfg, K_bit_candidates, diag, "the search space has one candidate: give "
                       "two bit widths or sparsity choices");
    // Objective.
    if (!(cfg->objective_keys & QS_OBJ_ACCURACY))
        return invalid(cfg, K_objective_keys, diag, "objective_keys must include accuracy");
    unsigned eff = cfg->objective_keys & (QS_OBJ_COMPRESS | QS_OBJ_FLOPS | QS_OBJ_LATENCY);
    if (!eff && (cfg->reward_type == QS_REWARD_ACC_FIRST ||
                 cfg->reward_type == QS_REWARD_COMPRESS_FIRST))
        return invalid(cfg, K_objective_keys, diag, "reward %s needs an efficiency objective "
                       "(compress_ratio, flops or latency) in objective_keys",
                       qs__reward_type_name(cfg->reward_type));
    int why;
    if (!cfg->lut && uses_latency(cfg, &why))
        return invalid(cfg, why, diag, "%s uses latency, which needs a latency table: set "
                       "hardware.lut (build one with 'qsearch lut')", keys[why].name);
    if (fraction && cfg->acc_threshold > 1)
        return invalid(cfg, K_acc_threshold, diag, "acc_threshold %g: %s accuracy is a "
                       "fraction (0.7 for 70%%)", cfg->acc_threshold,
                       qs__eval_metric_name(cfg->metric));
    if (fraction && cfg->max_acc_drop > 1)
        return invalid(cfg, K_max_acc_drop, diag, "max_acc_drop %g: %s accuracy is a "
                       "fraction (0.01 for one point)", cfg->max_acc_drop,
                       qs__eval_metric_name(cfg->metric));
    if (cfg->stop_early && cfg->acc_threshold < 0 && cfg->max_acc_drop < 0 &&
        cfg->latency_threshold_ms <= 0 && cfg->compress_threshold <= 0)
        return invalid(cfg, K_stop_early, diag, "stop_early needs a threshold (acc_threshold, "
                       "max_acc_drop, latency_threshold or compress_threshold)");
    if (cfg->lut_force && !cfg->lut)
        return invalid(cfg, K_lut_force, diag, "lut_force is set but there is no lut");
    if (cfg->algorithm == QS_ALGO_DDPG && cfg->num_warmup >= cfg->max_episode)
        qs__log(QS_LOG_WARN, "%s: num_warmup %d >= max_episode %d: DDPG never learns (a random "
                "search)", cfg->source, cfg->num_warmup, cfg->max_episode);
    if (!strcmp(cfg->target, "auto")) {
#if defined(__x86_64__) || defined(__i386__)
        snprintf(cfg->target, sizeof cfg->target, "x86");
#elif defined(__aarch64__) || defined(__arm__)
        snprintf(cfg->target, sizeof cfg->target, "arm");
#else
        return invalid(cfg, K_target, diag, "target auto: unknown host; set x86, arm or cuda");
#endif
    }
    return QS_STATUS_OK;
}

// Whether the file of `spec` (a path when !is_spec) can be read; an IO error otherwise.
static enum qs_status check_file(const struct qs_search_config *cfg, int id, const char *spec,
                                 bool is_spec, struct qs_diag *diag) {
    const char *path = spec;
    size_t len = strlen(spec);
    if (is_spec) spec_path(spec, &path, &len);
    char p[4096];
    snprintf(p, sizeof p, "%.*s", (int)QS_MIN(len, sizeof p - 1), path);
    struct stat sb;
    const char *why = NULL;
    if (stat(p, &sb) != 0 || access(p, R_OK) != 0) why = strerror(errno);
    else if (S_ISDIR(sb.st_mode)) why = "is a folder";
    if (!why) return QS_STATUS_OK;
    enum qs_status st = invalid(cfg, id, diag, "%s: cannot read '%s': %s", keys[id].name, p, why);
    return st == QS_STATUS_INVALID_ARG ? QS_STATUS_IO : st;
}

enum qs_status qs__config_check_files(const struct qs_search_config *cfg, struct qs_diag *diag) {
    enum qs_status st;
    if (cfg->model && (st = check_file(cfg, K_model, cfg->model, false, diag))) return st;
    for (int i = 0; i < cfg->n_calib_data; i++)
        if ((st = check_file(cfg, K_calib_data, cfg->calib_data[i], true, diag))) return st;
    for (int i = 0; i < cfg->n_eval_data; i++)
        if ((st = check_file(cfg, K_eval_data, cfg->eval_data[i], true, diag))) return st;
    if (cfg->eval_labels && (st = check_file(cfg, K_eval_labels, cfg->eval_labels, true, diag)))
        return st;
    if (cfg->lut && (st = check_file(cfg, K_lut, cfg->lut, false, diag))) return st;
    return QS_STATUS_OK;
}

// ---- writing -----------------------------------------------------------------------------

// A YAML plain scalar is safe when it cannot be read as anything but this string.
static bool plain_safe(const char *s) {
    if (!*s || parse_bool(s) >= 0 || !strcmp(s, "~") || !strcasecmp(s, "null")) return false;
    char *end;
    strtod(s, &end);
    if (!*end) return false;
    if (s[0] == '-' || s[0] == '.' || s[0] == '~') return false;
    for (const char *p = s; *p; p++)
        if (!(((*p | 32) >= 'a' && (*p | 32) <= 'z') || (*p >= '0' && *p <= '9') ||
              strchr("_./+-", *p)))
            return false;
    return true;
}

static void write_string(FILE *f, const char *s, bool json) {
    if (!s) {
        fputs("null", f);
        return;
    }
    if (!json && plain_safe(s)) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20) fprintf(f, json ? "\\u%04x" : "\\x%02x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void write_num(FILE *f, double v) {
    char b[40];
    fmt_num(v, b, sizeof b);
    fputs(b, f);
}

static void write_value(FILE *f, const struct qs_search_config *cfg, const struct cfg_key *k,
                        bool json) {
    const void *v = cfield(cfg, k->off);
    switch (k->type) {
    case CFG_PATH:
    case CFG_SPEC:
    case CFG_STR:
    case CFG_NAME:
        write_string(f, *(char *const *)v, json);
        return;
    case CFG_CHOICE:
    case CFG_PATTERN:
        write_string(f, (const char *)v, json);
        return;
    case CFG_SPECS:
    case CFG_STRS: {
        int n = *(const int *)cfield(cfg, k->noff);
        fputc('[', f);
        for (int i = 0; i < n; i++) {
            if (i) fputs(", ", f);
            write_string(f, ((char *const *)v)[i], json);
        }
        fputc(']', f);
        return;
    }
    case CFG_INT:
        fprintf(f, "%d", *(const int *)v);
        return;
    case CFG_I64:
        fprintf(f, "%lld", (long long)*(const int64_t *)v);
        return;
    case CFG_U64:
        fprintf(f, "%llu", (unsigned long long)*(const uint64_t *)v);
        return;
    case CFG_OPT:
    case CFG_QTY:
        if (*(const double *)v < 0) {
            fputs("null", f);
            return;
        }
        write_num(f, *(const double *)v);
        return;
    case CFG_NUM:
    case CFG_TIME:
        write_num(f, *(const double *)v);
        return;
    case CFG_BOOL:
        fputs(*(const bool *)v ? "true" : "false", f);
        return;
    case CFG_ENUM: {
        int x = *(const int *)v;
        const char *p = k->choices;
        for (int i = 0; i < x && p; i++) {
            p = strchr(p, '|');
            if (p) p++;
        }
        if (!p) {
            fputs("null", f);
            return;
        }
        const char *e = strchr(p, '|');
        fprintf(f, json ? "\"%.*s\"" : "%.*s", (int)(e ? (size_t)(e - p) : strlen(p)), p);
        return;
    }
    case CFG_BITS2:
        if (cfg->n_w_bits != cfg->n_a_bits ||
            memcmp(cfg->w_bits, cfg->a_bits, sizeof(int) * (size_t)cfg->n_w_bits)) {
            fputs("null", f);
            return;
        }
        __attribute__((fallthrough));  // the common list
    case CFG_BITS: {
        int n = *(const int *)cfield(cfg, k->noff);
        fputc('[', f);
        for (int i = 0; i < n; i++) fprintf(f, "%s%d", i ? ", " : "", ((const int *)v)[i]);
        fputc(']', f);
        return;
    }
    case CFG_FLOATS: {
        int n = *(const int *)cfield(cfg, k->noff);
        if (cfg->sparsity_continuous) {  // sparsity_range is used instead
            fputs("null", f);
            return;
        }
        fputc('[', f);
        for (int i = 0; i < n; i++) {
            if (i) fputs(", ", f);
            write_num(f, ((const float *)v)[i]);
        }
        fputc(']', f);
        return;
    }
    case CFG_RANGE:
        if (!cfg->sparsity_continuous) {
            fputs("null", f);
            return;
        }
        fputc('[', f);
        write_num(f, *(const float *)v);
        fputs(", ", f);
        write_num(f, *(const float *)cfield(cfg, k->noff));
        fputc(']', f);
        return;
    case CFG_KEYS: {
        unsigned flags = *(const unsigned *)v;
        fputc('[', f);
        int n = 0;
        for (unsigned i = 0; i < QS_COUNTOF(objective_names); i++)
            if (flags & (1u << i))
                fprintf(f, json ? "%s\"%s\"" : "%s%s", n++ ? ", " : "", objective_names[i]);
        fputc(']', f);
        return;
    }
    }
}

// Type and range of a key in words (--defaults comments, README).
static void describe_type(const struct cfg_key *k, char *buf, size_t size) {
    char lo[32], hi[32], list[200] = "";
    fmt_num(k->min, lo, sizeof lo);
    fmt_num(k->max, hi, sizeof hi);
    if (*k->choices) choices_text(k->choices, list, sizeof list);
    switch (k->type) {
    case CFG_PATH: snprintf(buf, size, "path"); return;
    case CFG_SPEC: snprintf(buf, size, "data spec"); return;
    case CFG_SPECS: snprintf(buf, size, "list of data specs"); return;
    case CFG_STR: snprintf(buf, size, "string"); return;
    case CFG_PATTERN: snprintf(buf, size, "pattern"); return;
    case CFG_STRS: snprintf(buf, size, "list of names/regexes"); return;
    case CFG_CHOICE:
    case CFG_NAME:
    case CFG_ENUM: snprintf(buf, size, "%s", list); return;
    case CFG_INT:
    case CFG_I64: snprintf(buf, size, "integer in [%s, %s]", lo, hi); return;
    case CFG_U64: snprintf(buf, size, "integer >= 0"); return;
    case CFG_NUM: snprintf(buf, size, "number in [%s, %s]", lo, hi); return;
    case CFG_OPT: snprintf(buf, size, "number in [%s, %s] or null", lo, hi); return;
    case CFG_QTY: snprintf(buf, size, "quantity or null"); return;
    case CFG_TIME: snprintf(buf, size, "duration"); return;
    case CFG_BOOL: snprintf(buf, size, "true or false"); return;
    case CFG_BITS:
    case CFG_BITS2: snprintf(buf, size, "list of %s", list); return;
    case CFG_FLOATS: snprintf(buf, size, "list of numbers in [%s, %s]", lo, hi); return;
    case CFG_RANGE: snprintf(buf, size, "[lo, hi] in [%s, %s] or null", lo, hi); return;
    case CFG_KEYS: snprintf(buf, size, "list of %s", list); return;
    }
}

// "# text" wrapped at 92 columns, every line indented by `ind`.
static void write_comment(FILE *f, const char *ind, const char *text) {
    const int width = 92 - (int)strlen(ind) - 2;
    const char *p = text;
    while (*p) {
        int len = (int)strlen(p);
        if (len > width) {
            len = width;
            while (len > 0 && p[len] != ' ') len--;
            if (len == 0) len = width;
        }
        fprintf(f, "%s# %.*s\n", ind, len, p);
        p += len;
        while (*p == ' ') p++;
    }
}

// Writes all keys as sectioned YAML. `defaults`: the DEFAULT column verbatim (--defaults).
static int write_yaml(const struct qs_search_config *cfg, FILE *f, bool comments,
                      bool defaults) {
    const char *section = "";
    for (int i = 0; i < K_COUNT; i++) {
        const struct cfg_key *k = &keys[i];
        if (strcmp(k->section, section) != 0) {
            section = k->section;
            if (comments) fputc('\n', f);
            if (*section) fprintf(f, "%s:\n", section);
        }
        const char *ind = *section ? "  " : "";
        if (comments) {
            char type[240], line[600];
            describe_type(k, type, sizeof type);
            snprintf(line, sizeof line, "%s [%s]", k->help, type);
            write_comment(f, ind, line);
        }
        fprintf(f, "%s%s: ", ind, k->name);
        if (defaults) fputs(k->def, f);
        else write_value(f, cfg, k, false);
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

int qs__config_write_yaml(const struct qs_search_config *cfg, FILE *f, bool comments) {
    return write_yaml(cfg, f, comments, false);
}

int qs__config_write_defaults(FILE *f) {
    fputs("# qsearch search configuration: every key with its default (qsearch config "
          "--defaults).\n"
          "# Keys may also be written at the top level; relative paths resolve against this "
          "file's folder.\n"
          "# Reference: configs/README.md.\n",
          f);
    return write_yaml(NULL, f, true, true);
}

int qs__config_write_json(const struct qs_search_config *cfg, FILE *f) {
    const char *section = NULL;
    bool first_in_section = true;
    fputs("{\"source\": ", f);
    write_string(f, cfg->source, true);
    for (int i = 0; i < K_COUNT; i++) {
        const struct cfg_key *k = &keys[i];
        if (!section || strcmp(k->section, section) != 0) {
            if (section && *section) fputc('}', f);
            section = k->section;
            if (*section) fprintf(f, ", \"%s\": {", section);
            first_in_section = true;
        }
        fprintf(f, "%s\"%s\": ", *section && first_in_section ? "" : ", ", k->name);
        first_in_section = false;
        write_value(f, cfg, k, true);
    }
    if (section && *section) fputc('}', f);
    fputc('}', f);
    return ferror(f) ? -1 : 0;
}

// ---- README ------------------------------------------------------------------------------

static const char readme_head[] =
    "# Search configuration\n"
    "\n"
    "<!-- Generated by `qsearch config --readme > configs/README.md` from "
    "search/config-keys.def\n"
    "     and search/reward.c; edit those, not this file (a test checks that it is up to "
    "date). -->\n"
    "\n"
    "`qsearch` reads one YAML file per search. Every key has a default, so a config names "
    "only\nwhat differs:\n"
    "\n"
    "```yaml\n"
    "model: resnet20.onnx\n"
    "data:\n"
    "  eval_data: [\"cifar10:test_batch.bin\"]\n"
    "  eval_labels: \"cifar10-labels:test_batch.bin\"\n"
    "  preprocess: imagenet\n"
    "objective:\n"
    "  reward_type: compress_first\n"
    "thresholds:\n"
    "  max_acc_drop: 0.01\n"
    "search:\n"
    "  stop_early: true\n"
    "```\n"
    "\n"
    "- `qsearch config --defaults` prints every key with its default and a comment;\n"
    "  `qsearch config --check FILE` reads a config and runs every check without searching.\n"
    "- Keys live in the sections below, and may also be written at the top level (key names "
    "are\n  unique): `reward_type: haq` is the same as `objective: {reward_type: haq}`.\n"
    "- Unknown keys and bad values stop with `FILE:LINE:COLUMN: message`.\n"
    "- **Relative paths** in a config (model, data specs, labels, lut, output_dir) resolve "
    "against\n  the folder of the config file, so a run does not depend on the current "
    "directory. Paths\n  given on the command line are relative to the current directory. "
    "`~/` is the home folder.\n"
    "- **Command-line flags override keys**: `--objective` (reward_type), `--episodes` "
    "(max_episode),\n  `--time-budget`, `--seed`, `--target`, `--lut`, `-o` (output_dir).\n"
    "- Durations (`time_budget`): seconds, or `90s`, `10m`, `2h`, `1d`, `1h30m`.\n"
    "- Quantities (budgets): plain numbers or SI/binary suffixes: `500K`, `40M`, `1.2G`, "
    "`4MB`, `4MiB`.\n"
    "- Accuracy (`acc_threshold`, `max_acc_drop`) is a fraction for top1, top5 and fidelity "
    "(0.01 =\n  one point); for an external metric it is in the units the command prints "
    "(higher is better).\n"
    "- Data specs are those of `qsearch eval --inputs` (`x.npy`, `cifar10:FILE`, "
    "`raw:FILE:DTYPE:SHAPE`, ...).\n"
    "- `calib_data` defaults to `eval_data`; when both use one file, set `eval_offset` to "
    "the\n  calibration count so that the search does not evaluate on calibration images.\n"
    "\n"
    "## Without a config: the demo\n"
    "\n"
    "`qsearch --objective compress_first` with no config runs the embedded demo: the digits "
    "CNN in\n`configs/demo/` (calibrated on the first 100 of its 360 test images, searched on "
    "the other\n260, 100 DDPG episodes, one thread; under 2 minutes on one core; output in "
    "`qsearch-out/`).\n"
    "The same search as a file: `configs/digits-demo.yaml`. The demo folder is looked for, in "
    "order, in\n`$QSEARCH_DEMO_DIR`, `./configs/demo`, `<bin>/../configs/demo` and "
    "`<bin>/../../configs/demo`\n(a build folder inside a clone), `<bin>/../share/qsearch/demo` "
    "(an installed copy, where `<bin>`\nis the folder of the `qsearch` executable), and last "
    "the source tree qsearch was built from.\n"
    "\n"
    "## Keys\n";

static const char readme_examples[] =
    "\n## Examples\n"
    "\n"
    "| file | what it shows |\n"
    "| --- | --- |\n"
    "| `digits-demo.yaml` | the embedded demo as a file: digits CNN, int8/fp32 and sparsity, "
    "DDPG |\n"
    "| `resnet56-compress-first.yaml` | CIFAR ResNet-56: most compression within one point "
    "of top-1, x86 latency table, stop early |\n"
    "| `resnet20-ddpg.yaml` | CIFAR ResNet-20: DDPG with every hyper-parameter spelled out "
    "|\n"
    "| `sst2-latency.yaml` | a text classifier with int64 token inputs: latency objective "
    "and budget, fidelity metric |\n"
    "| `nightly.yaml` | an unattended job: time budget, patience, stop early, fixed seed |\n";

int qs__config_write_readme(FILE *f) {
    fputs(readme_head, f);
    const char *section = NULL;
    bool top_done = false;
    for (int i = 0; i < K_COUNT; i++) {
        const struct cfg_key *k = &keys[i];
        if (!section || strcmp(k->section, section) != 0) {
            section = k->section;
            fprintf(f, "\n### %s\n\n", *section ? section : top_done ? "output" : "top level");
            if (!*section) top_done = true;
            fputs("| key | type | default | meaning |\n| --- | --- | --- | --- |\n", f);
        }
        char type[240];
        describe_type(k, type, sizeof type);
        fprintf(f, "| `%s` | %s | `%s` | %s |\n", k->name, type, k->def, k->help);
    }
    fputs(qs__reward_doc(), f);
    fputs(readme_examples, f);
    return ferror(f) ? -1 : 0;
}

// ---- the embedded demo -------------------------------------------------------------------

static const char demo_yaml[] =
    "model: digits_cnn.onnx\n"
    "data:\n"
    "  calib_data: [digits_test_x.npy]\n"
    "  calib_count: 100\n"
    "  eval_data: [digits_test_x.npy]\n"
    "  eval_labels: digits_test_y.npy\n"
    "  eval_offset: 100\n"
    "  metric: top1\n"
    "  search_subset: 0\n"
    "search_space:\n"
    "  bit_candidates: [8, 32]\n"
    "  sparsity_candidates: [0, 0.25, 0.5, 0.75]\n"
    "search:\n"
    "  algorithm: ddpg\n"
    "  max_episode: 100\n"
    "  num_warmup: 20\n"
    "  seed: 1\n"
    "objective:\n"
    "  objective_keys: [accuracy, compress_ratio]\n"
    "  reward_type: compress_first\n"
    "thresholds:\n"
    "  max_acc_drop: 0.01\n"
    "hardware:\n"
    "  threads: 1\n";

static bool demo_in(const char *dir) {
    char p[4200];
    snprintf(p, sizeof p, "%.4000s/digits_cnn.onnx", dir);
    return access(p, R_OK) == 0;
}

enum qs_status qs__config_embedded_default(struct qs_search_config *cfg, struct qs_diag *diag) {
    char tried[8][4200];
    int n = 0;
    const char *env = getenv("QSEARCH_DEMO_DIR");
    if (env && *env) snprintf(tried[n++], sizeof tried[0], "%s", env);
    snprintf(tried[n++], sizeof tried[0], "configs/demo");
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        snprintf(tried[n++], sizeof tried[0], "%s/../configs/demo", exe);
        snprintf(tried[n++], sizeof tried[0], "%s/../../configs/demo", exe);
        snprintf(tried[n++], sizeof tried[0], "%s/../share/qsearch/demo", exe);
    }
    // This file is compiled with its absolute path: search/config.c in the source tree.
    const char *src = __FILE__;
    const char *cut = strstr(src, "/search/config.c");
    if (src[0] == '/' && cut)
        snprintf(tried[n++], sizeof tried[0], "%.*s/configs/demo", (int)(cut - src), src);
    for (int i = 0; i < n; i++) {
        if (!demo_in(tried[i])) continue;
        char *real = realpath(tried[i], NULL);
        char *dir = qs__strdup(real ? real : tried[i]);
        free(real);
        if (!dir) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
        enum qs_status st = load_string_in(demo_yaml, "<demo>", dir, cfg, diag);
        qs__free(dir);
        // output_dir keeps its default, relative to the current directory: results never
        // go into the demo folder.
        return st;
    }
    char list[1200];
    size_t k = 0;
    list[0] = 0;
    for (int i = 0; i < n && k < sizeof list; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", tried[i]);
    memset(cfg, 0, sizeof *cfg);
    return qs__diag(diag, QS_STATUS_IO, "no config given and the demo (digits_cnn.onnx) is not "
                    "in any of: %s; set QSEARCH_DEMO_DIR or pass a config", list);
}
