// NumPy .npy reading and writing (format 1.0/2.0/3.0; see numpy/lib/format.py).
#include "ir/data/data-impl.h"

#include <ctype.h>
#include <stdlib.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the data loaders assume a little-endian host"
#endif

static const char kMagic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

// A cursor over the header's Python dict literal.
struct hdr {
    const char *p, *end;
};

static void skip_ws(struct hdr *h) {
    while (h->p < h->end && isspace((unsigned char)*h->p)) h->p++;
}

static bool eat(struct hdr *h, char c) {
    skip_ws(h);
    if (h->p < h->end && *h->p == c) {
        h->p++;
        return true;
    }
    return false;
}

// A quoted Python string; returns its bounds without the quotes.
static bool parse_str(struct hdr *h, const char **s, size_t *len) {
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return false;
    char q = *h->p++;
    const char *start = h->p;
    while (h->p < h->end && *h->p != q) h->p++;
    if (h->p >= h->end) return false;
    *s = start;
    *len = (size_t)(h->p - start);
    h->p++;
    return true;
}

static bool parse_word(struct hdr *h, const char *w) {
    skip_ws(h);
    size_t n = strlen(w);
    if ((size_t)(h->end - h->p) < n || memcmp(h->p, w, n) != 0) return false;
    h->p += n;
    return true;
}

// "(a, b, c)" or "()" or "(a,)"; old Python 2 files may write longs as "3L".
static bool parse_shape(struct hdr *h, int *rank, int64_t *dims, bool *too_many) {
    if (!eat(h, '(')) return false;
    *rank = 0;
    for (;;) {
        if (eat(h, ')')) return true;
        skip_ws(h);
        if (h->p >= h->end || !isdigit((unsigned char)*h->p)) return false;
        int64_t v = 0;
        while (h->p < h->end && isdigit((unsigned char)*h->p)) {
            if (v > (INT64_MAX - 9) / 10) return false;
            v = v * 10 + (*h->p++ - '0');
        }
        if (h->p < h->end && (*h->p == 'L' || *h->p == 'l')) h->p++;
        if (*rank == QS_MAX_RANK) *too_many = true;
        else dims[*rank] = v;
        (*rank)++;
        if (!eat(h, ',')) {
            if (!eat(h, ')')) return false;
            return true;
        }
    }
}

// Skips a value of a key we do not know (string, word, tuple or list, no nesting needed).
static bool skip_value(struct hdr *h) {
    const char *s;
    size_t n;
    skip_ws(h);
    if (h->p < h->end && (*h->p == '\'' || *h->p == '"')) return parse_str(h, &s, &n);
    int depth = 0;
    while (h->p < h->end) {
        char c = *h->p;
        if (c == '(' || c == '[' || c == '{') depth++;
        if (c == ')' || c == ']' || c == '}') {
            if (depth == 0) return true;
            depth--;
        }
        if (c == ',' && depth == 0) return true;
        h->p++;
    }
    return false;
}

// Maps a descr such as "<f4" to a dtype. *swap is set for big-endian multi-byte types.
// Returns QS_STATUS_OK, or UNSUPPORTED/PARSE with the message written.
static enum qs_status map_descr(const char *path, const char *d, size_t n, enum qs_dtype *dt,
                                bool *swap, struct qs_diag *diag) {
    char descr[32];
    snprintf(descr, sizeof descr, "%.*s", (int)QS_MIN(n, sizeof descr - 1), d);
    char order = '|';
    const char *t = descr;
    if (*t == '<' || *t == '>' || *t == '|' || *t == '=') order = *t++;
    *swap = order == '>';
    static const struct {
        const char *code;
        enum qs_dtype dtype;
    } table[] = {
        {"b1", QS_DTYPE_BOOL}, {"?", QS_DTYPE_BOOL},  {"i1", QS_DTYPE_I8},   {"u1", QS_DTYPE_U8},
        {"i2", QS_DTYPE_I16},  {"u2", QS_DTYPE_U16},  {"i4", QS_DTYPE_I32},  {"u4", QS_DTYPE_U32},
        {"i8", QS_DTYPE_I64},  {"u8", QS_DTYPE_U64},  {"f2", QS_DTYPE_F16},  {"f4", QS_DTYPE_F32},
        {"f8", QS_DTYPE_F64},  {"b", QS_DTYPE_I8},    {"B", QS_DTYPE_U8},
    };
    for (size_t i = 0; i < QS_COUNTOF(table); i++)
        if (strcmp(t, table[i].code) == 0) {
            *dt = table[i].dtype;
            return QS_STATUS_OK;
        }
    const char *what = "this dtype";
    switch (*t) {
    case 'O': what = "object arrays"; break;
    case 'U': case 'S': case 'a': what = "string arrays"; break;
    case 'c': what = "complex arrays"; break;
    case 'V': what = "void/structured arrays"; break;
    case 'M': case 'm': what = "datetime arrays"; break;
    case 'f': what = "this float type"; break;
    default: break;
    }
    return qs__diag(diag, QS_STATUS_UNSUPPORTED,
                    "'%s': %s (dtype '%s') are not supported; save a numeric array, e.g. "
                    "a.astype(numpy.float32)",
                    path, what, descr);
}

enum qs_status qs_array_load_npy(const char *path, struct qs_array *a_out,
                                 struct qs_diag *diag) {
    uint8_t *buf;
    size_t size;
    enum qs_status st = qs__data_read_file(path, &buf, &size, diag);
    if (st != QS_STATUS_OK) return st;
    if (size == 0) {
        st = qs__diag(diag, QS_STATUS_PARSE, "'%s': empty file, not a .npy file", path);
        goto error;
    }
    if (size < 6 || memcmp(buf, kMagic, 6) != 0) {
        st = qs__diag(diag, QS_STATUS_PARSE, "'%s': not a .npy file (bad magic)", path);
        goto error;
    }
    if (size < 10) {
        st = qs__diag(diag, QS_STATUS_PARSE, "'%s': truncated .npy header", path);
        goto error;
    }
    unsigned major = buf[6];
    size_t hlen, hstart;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) {
            st = qs__diag(diag, QS_STATUS_PARSE, "'%s': truncated .npy header", path);
            goto error;
        }
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 |
               (size_t)buf[11] << 24;
        hstart = 12;
    } else {
        st = qs__diag(diag, QS_STATUS_UNSUPPORTED, "'%s': .npy format version %u.%u", path,
                      major, buf[7]);
        goto error;
    }
    if (hlen > size - hstart) {
        st = qs__diag(diag, QS_STATUS_PARSE,
                      "'%s': truncated: the .npy header needs %zu bytes, the file has %zu",
                      path, hstart + hlen, size);
        goto error;
    }

    struct hdr h = {(const char *)buf + hstart, (const char *)buf + hstart + hlen};
    const char *descr = NULL;
    size_t descr_len = 0;
    bool have_order = false, fortran = false, have_shape = false, too_many = false;
    int rank = 0;
    int64_t dims[QS_MAX_RANK] = {0};
    bool ok = eat(&h, '{');
    while (ok && !eat(&h, '}')) {
        const char *key;
        size_t klen;
        ok = parse_str(&h, &key, &klen) && eat(&h, ':');
        if (!ok) break;
        if (klen == 5 && memcmp(key, "descr", 5) == 0) {
            skip_ws(&h);
            if (h.p < h.end && *h.p == '[') {
                st = qs__diag(diag, QS_STATUS_UNSUPPORTED,
                              "'%s': structured dtypes are not supported; save a plain "
                              "numeric array",
                              path);
                goto error;
            }
            ok = parse_str(&h, &descr, &descr_len);
        } else if (klen == 13 && memcmp(key, "fortran_order", 13) == 0) {
            have_order = true;
            if (parse_word(&h, "True")) fortran = true;
            else ok = parse_word(&h, "False");
        } else if (klen == 5 && memcmp(key, "shape", 5) == 0) {
            have_shape = true;
            ok = parse_shape(&h, &rank, dims, &too_many);
        } else {
            ok = skip_value(&h);
        }
        if (ok && !eat(&h, ',')) {
            ok = eat(&h, '}');
            break;
        }
    }
    if (!ok || !descr || !have_order || !have_shape) {
        // Quote the header on one line: no newline, no control bytes, no padding.
        char text[160];
        size_t k = 0;
        for (size_t i = 0; i < hlen && k + 1 < sizeof text; i++) {
            char c = (char)buf[hstart + i];
            text[k++] = isprint((unsigned char)c) ? c : ' ';
        }
        while (k > 0 && text[k - 1] == ' ') k--;
        text[k] = 0;
        st = qs__diag(diag, QS_STATUS_PARSE, "'%s': malformed .npy header \"%s\"", path, text);
        goto error;
    }
    enum qs_dtype dtype = QS_DTYPE_UNDEFINED;
    bool swap = false;
    st = map_descr(path, descr, descr_len, &dtype, &swap, diag);
    if (st != QS_STATUS_OK) goto error;
    if (too_many) {
        st = qs__diag(diag, QS_STATUS_UNSUPPORTED, "'%s': rank %d is above the maximum %d",
                      path, rank, QS_MAX_RANK);
        goto error;
    }
    if (fortran && rank >= 2) {
        st = qs__diag(diag, QS_STATUS_UNSUPPORTED,
                      "'%s': Fortran-order arrays are not supported; save a C-order array, "
                      "e.g. numpy.save(f, numpy.ascontiguousarray(a))",
                      path);
        goto error;
    }
    size_t want;
    char ds[128];
    if (!qs__data_shape_bytes(dtype, rank, dims, &want)) {
        st = qs__diag(diag, QS_STATUS_PARSE, "'%s': shape %s is too large", path,
                      qs__data_dims_str(rank, dims, ds, sizeof ds));
        goto error;
    }
    size_t data_off = hstart + hlen, have = size - data_off;
    if (have < want) {
        st = qs__diag(diag, QS_STATUS_PARSE,
                      "'%s': truncated: shape %s of %s needs %zu data bytes, the file has %zu",
                      path, qs__data_dims_str(rank, dims, ds, sizeof ds), qs_dtype_name(dtype),
                      want, have);
        goto error;
    }
    if (have > want) {
        st = qs__diag(diag, QS_STATUS_PARSE,
                      "'%s': %zu unexpected bytes after the data of shape %s of %s", path,
                      have - want, qs__data_dims_str(rank, dims, ds, sizeof ds),
                      qs_dtype_name(dtype));
        goto error;
    }
    struct qs_array a = {.dtype = dtype, .rank = rank};
    for (int i = 0; i < rank; i++) a.dims[i] = dims[i];
    qs__data_adopt(&a, buf, data_off, want);
    if (swap) qs__data_byteswap(a.data, want / qs_dtype_size(dtype), qs_dtype_size(dtype));
    *a_out = a;
    return QS_STATUS_OK;

error:
    qs__free(buf);
    return st;
}

static const char *npy_descr(enum qs_dtype dt) {
    switch (dt) {
    case QS_DTYPE_BOOL: return "|b1";
    case QS_DTYPE_I8: return "|i1";
    case QS_DTYPE_U8: return "|u1";
    case QS_DTYPE_I16: return "<i2";
    case QS_DTYPE_U16: return "<u2";
    case QS_DTYPE_I32: return "<i4";
    case QS_DTYPE_U32: return "<u4";
    case QS_DTYPE_I64: return "<i8";
    case QS_DTYPE_U64: return "<u8";
    case QS_DTYPE_F16: return "<f2";
    case QS_DTYPE_F32: return "<f4";
    case QS_DTYPE_F64: return "<f8";
    default: return NULL;
    }
}

enum qs_status qs_array_save_npy(const char *path, const struct qs_array *a,
                                 struct qs_diag *diag) {
    const char *descr = npy_descr(a->dtype);
    if (!descr)
        return qs__diag(diag, QS_STATUS_UNSUPPORTED, "'%s': cannot save %s arrays as .npy", path,
                        qs_dtype_name(a->dtype));
    size_t want;
    if (a->rank < 0 || a->rank > QS_MAX_RANK ||
        !qs__data_shape_bytes(a->dtype, a->rank, a->dims, &want) || want != a->nbytes ||
        (want && !a->data))
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "'%s': array to save is inconsistent (nbytes %zu for its shape)", path,
                        a->nbytes);
    // The same bytes numpy.save writes: keys sorted, a Python tuple for the shape, spaces
    // left for the first dim to grow to 21 digits, padded with spaces to a 64-byte
    // boundary and ended by '\n'.
    char shape[QS_MAX_RANK * 24 + 8];
    size_t o = 0;
    o += (size_t)snprintf(shape + o, sizeof shape - o, "(");
    for (int i = 0; i < a->rank; i++)
        o += (size_t)snprintf(shape + o, sizeof shape - o, "%s%lld", i ? ", " : "",
                              (long long)a->dims[i]);
    snprintf(shape + o, sizeof shape - o, a->rank == 1 ? ",)" : ")");
    char head[512];
    int n = snprintf(head + 10, sizeof head - 10,
                     "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    if (a->rank > 0) {
        char first[32];
        int growth = 21 - snprintf(first, sizeof first, "%lld", (long long)a->dims[0]);
        for (int i = 0; i < growth; i++) head[10 + n++] = ' ';
    }
    size_t hlen = (size_t)n + 1;
    size_t pad = 64 - (10 + hlen) % 64;
    memset(head + 10 + n, ' ', pad);
    head[10 + n + pad] = '\n';
    hlen += pad;
    memcpy(head, kMagic, 6);
    head[6] = 1;
    head[7] = 0;
    head[8] = (char)(hlen & 0xff);
    head[9] = (char)(hlen >> 8);
    return qs__data_write_file(path, head, 10 + hlen, a->data, want, diag);
}
