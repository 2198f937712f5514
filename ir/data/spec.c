// The user-facing data spec strings of --inputs/--labels (syntax documented in data.h).
#include "ir/data/data-impl.h"

#include <ctype.h>
#include <strings.h>

enum kind { K_NONE, K_NPY, K_PB, K_IDX, K_CIFAR, K_CIFAR_LABELS, K_RAW };

// "10000x14x14", "-1x3x32x32" or "10,3": dims joined by 'x' or ','.
static bool parse_shape(const char *s, size_t len, int *rank, int64_t *dims) {
    const char *end = s + len;
    int r = 0;
    if (len == 0) return false;
    while (s < end) {
        bool neg = false;
        if (*s == '-') {
            neg = true;
            s++;
        }
        if (s >= end || !isdigit((unsigned char)*s)) return false;
        int64_t v = 0;
        while (s < end && isdigit((unsigned char)*s)) {
            if (v > (INT64_MAX - 9) / 10) return false;
            v = v * 10 + (*s++ - '0');
        }
        if (r == QS_MAX_RANK) return false;
        dims[r++] = neg ? -v : v;
        if (s < end) {
            if (*s != 'x' && *s != 'X' && *s != ',') return false;
            if (++s == end) return false;
        }
    }
    *rank = r;
    return true;
}

// Splits "PATH:DTYPE:SHAPE" or "PATH:DTYPE" from the right; *path_len excludes the rest.
static bool split_raw(const char *s, size_t *path_len, enum qs_dtype *dt, int *rank,
                      int64_t *dims) {
    const char *last = strrchr(s, ':');
    if (!last || last == s) return false;
    const char *tail = last + 1;
    if (qs__data_dtype_parse(tail, strlen(tail), dt)) {
        *path_len = (size_t)(last - s);
        *rank = 1;
        dims[0] = -1;
        return true;
    }
    if (!parse_shape(tail, strlen(tail), rank, dims)) return false;
    const char *prev = last;
    while (prev > s && prev[-1] != ':') prev--;
    if (prev == s) return false;  // no second colon
    if (!qs__data_dtype_parse(prev, (size_t)(last - prev), dt)) return false;
    *path_len = (size_t)(prev - 1 - s);
    return *path_len > 0;
}

static bool ends_with(const char *s, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

static enum kind kind_from_name(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (ends_with(base, n, ".gz")) n -= 3;
    if (ends_with(base, n, ".npy")) return K_NPY;
    if (ends_with(base, n, ".pb")) return K_PB;
    if (ends_with(base, n, "ubyte") || ends_with(base, n, ".idx")) return K_IDX;
    return K_NONE;
}

enum qs_status qs__data_load_spec(const char *spec, struct qs_array *a_out, char **path_out,
                                  struct qs_diag *diag) {
    *path_out = NULL;
    if (!spec || !*spec) return qs__diag(diag, QS_STATUS_INVALID_ARG, "empty data spec");
    static const struct {
        const char *prefix;
        enum kind kind;
    } prefixes[] = {
        {"npy:", K_NPY},         {"pb:", K_PB},
        {"idx:", K_IDX},         {"cifar10-labels:", K_CIFAR_LABELS},
        {"cifar10:", K_CIFAR},   {"raw:", K_RAW},
    };
    enum kind kind = K_NONE;
    const char *body = spec;
    for (size_t i = 0; i < QS_COUNTOF(prefixes); i++) {
        size_t n = strlen(prefixes[i].prefix);
        if (strncmp(spec, prefixes[i].prefix, n) == 0) {
            kind = prefixes[i].kind;
            body = spec + n;
            break;
        }
    }
    size_t path_len = strlen(body);
    enum qs_dtype dt = QS_DTYPE_UNDEFINED;
    int rank = 0;
    int64_t dims[QS_MAX_RANK];
    if (kind == K_NONE) {
        if (split_raw(body, &path_len, &dt, &rank, dims))
            kind = K_RAW;
        else if ((kind = kind_from_name(body)) == K_NONE && !strchr(body, ':'))
            return qs__diag(diag, QS_STATUS_INVALID_ARG,
                            "data spec '%s': cannot tell the format from the name; use a "
                            ".npy, .pb or IDX (*-ubyte[.gz]) file, cifar10:PATH, "
                            "cifar10-labels:PATH or PATH:DTYPE:SHAPE (e.g. "
                            "x.u8:uint8:-1x28x28)",
                            spec);
        // An unknown name with colons in it is most likely a raw spec with a typo.
        if (kind == K_NONE) kind = K_RAW;
    }
    if (kind == K_RAW && dt == QS_DTYPE_UNDEFINED &&
        !split_raw(body, &path_len, &dt, &rank, dims)) {
        // Name the part that is wrong: the dtype before a valid shape, or the shape.
        const char *last = strrchr(body, ':'), *prev = last;
        char what[96] = "";
        if (last && parse_shape(last + 1, strlen(last + 1), &rank, dims)) {
            while (prev > body && prev[-1] != ':') prev--;
            enum qs_dtype t;
            if (prev > body && !qs__data_dtype_parse(prev, (size_t)(last - prev), &t))
                snprintf(what, sizeof what, ": unknown dtype '%.*s'",
                         (int)QS_MIN(last - prev, 40), prev);
            else if (prev == body + 1)
                snprintf(what, sizeof what, ": no file name");
        } else if (last && last[1]) {
            snprintf(what, sizeof what, ": '%.40s' is neither a dtype nor a shape", last + 1);
        }
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "data spec '%s'%s; expected [raw:]PATH:DTYPE:SHAPE (e.g. "
                        "raw:x.u8:uint8:-1x28x28) or [raw:]PATH:DTYPE",
                        spec, what);
    }
    if (path_len == 0)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "data spec '%s': no file name", spec);
    char *path = qs__malloc(path_len + 1);
    if (!path) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    memcpy(path, body, path_len);
    path[path_len] = 0;
    enum qs_status st;
    switch (kind) {
    case K_NPY: st = qs_array_load_npy(path, a_out, diag); break;
    case K_PB: st = qs_array_load_pb(path, a_out, diag); break;
    case K_IDX: st = qs_array_load_idx(path, a_out, diag); break;
    case K_CIFAR: st = qs_array_load_cifar10(path, false, a_out, diag); break;
    case K_CIFAR_LABELS: st = qs_array_load_cifar10(path, true, a_out, diag); break;
    default: st = qs_array_load_raw(path, dt, rank, dims, a_out, diag); break;
    }
    if (st == QS_STATUS_OK)
        *path_out = path;
    else
        qs__free(path);
    return st;
}

enum qs_status qs_array_load(const char *spec, struct qs_array *a_out, struct qs_diag *diag) {
    char *path;
    enum qs_status st = qs__data_load_spec(spec, a_out, &path, diag);
    qs__free(path);
    return st;
}
