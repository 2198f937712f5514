// Preprocessing settings (parse/format) and writing preprocessed samples into model input
// buffers.
#include "ir/data/data-impl.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <strings.h>

struct qs_preprocess qs_preprocess_default(void) {
    struct qs_preprocess pp;
    memset(&pp, 0, sizeof pp);
    pp.scale = 1.0f;
    return pp;
}

bool qs_preprocess_is_identity(const struct qs_preprocess *pp) {
    return !pp || (pp->scale == 1.0f && pp->mean_count == 0 && pp->std_count == 0 &&
                   !pp->nhwc_to_nchw && !pp->swap_rb);
}

static bool values_change(const struct qs_preprocess *pp) {
    return pp && (pp->scale != 1.0f || pp->mean_count > 0 || pp->std_count > 0);
}

// ---------------------------------------------------------------------------------------
// Parsing.

// One number, or a fraction "a/b", spanning exactly [s, end).
static bool parse_number(const char *s, const char *end, float *out) {
    char tmp[64];
    size_t n = (size_t)(end - s);
    if (n == 0 || n >= sizeof tmp) return false;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    char *slash = strchr(tmp, '/');
    if (slash) *slash = 0;
    char *e;
    errno = 0;
    double v = strtod(tmp, &e);
    if (e == tmp || *e || errno) return false;
    if (slash) {
        char *d = slash + 1;
        double den = strtod(d, &e);
        if (e == d || *e || den == 0) return false;
        v /= den;
    }
    if (!isfinite(v) || fabs(v) > 3.4e38) return false;
    *out = (float)v;
    return true;
}

// "a:b:c" into vals; returns the count or -1.
static int parse_list(const char *s, const char *end, float *vals) {
    int n = 0;
    while (s < end) {
        const char *c = memchr(s, ':', (size_t)(end - s));
        const char *e = c ? c : end;
        if (n == QS_PREPROCESS_MAX_CHANNELS || !parse_number(s, e, &vals[n])) return -1;
        n++;
        if (!c) break;
        s = c + 1;
        if (s == end) return -1;
    }
    return n;
}

static bool word_eq(const char *s, size_t n, const char *w) {
    return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

static void set_imagenet(struct qs_preprocess *pp) {
    pp->scale = 1.0f / 255.0f;
    pp->mean_count = pp->std_count = 3;
    pp->mean[0] = 0.485f, pp->mean[1] = 0.456f, pp->mean[2] = 0.406f;
    pp->std[0] = 0.229f, pp->std[1] = 0.224f, pp->std[2] = 0.225f;
}

enum qs_status qs_preprocess_parse(const char *str, struct qs_preprocess *pp_out,
                                   struct qs_diag *diag) {
    struct qs_preprocess pp = qs_preprocess_default();
    const char *s = str ? str : "";
    while (*s) {
        const char *comma = strchr(s, ',');
        const char *end = comma ? comma : s + strlen(s);
        const char *a = s, *b = end;
        while (a < b && isspace((unsigned char)*a)) a++;
        while (b > a && isspace((unsigned char)b[-1])) b--;
        const char *eq = memchr(a, '=', (size_t)(b - a));
        const char *key_end = eq ? eq : b;
        while (key_end > a && isspace((unsigned char)key_end[-1])) key_end--;
        const char *v = eq ? eq + 1 : b;
        while (v < b && isspace((unsigned char)*v)) v++;
        size_t klen = (size_t)(key_end - a);
        if (klen == 0 && !eq) {
            if (comma) goto next;  // empty item, e.g. a trailing comma
            break;
        }
        if (eq && word_eq(a, klen, "scale")) {
            if (!parse_number(v, b, &pp.scale))
                return qs__diag(diag, QS_STATUS_PARSE,
                                "preprocess '%s': bad scale '%.*s' (a number such as 0.5 or "
                                "1/255)",
                                str, (int)(b - v), v);
        } else if (eq && (word_eq(a, klen, "mean") || word_eq(a, klen, "std"))) {
            bool is_mean = word_eq(a, klen, "mean");
            float vals[QS_PREPROCESS_MAX_CHANNELS];
            int n = parse_list(v, b, vals);
            if (n <= 0)
                return qs__diag(diag, QS_STATUS_PARSE,
                                "preprocess '%s': bad %s '%.*s' (1 to %d numbers separated "
                                "by ':')",
                                str, is_mean ? "mean" : "std", (int)(b - v), v,
                                QS_PREPROCESS_MAX_CHANNELS);
            for (int i = 0; i < n; i++) {
                if (!is_mean && vals[i] == 0.0f)
                    return qs__diag(diag, QS_STATUS_PARSE, "preprocess '%s': std must not be 0",
                                    str);
                (is_mean ? pp.mean : pp.std)[i] = vals[i];
            }
            *(is_mean ? &pp.mean_count : &pp.std_count) = n;
        } else if (eq && word_eq(a, klen, "layout")) {
            if (word_eq(v, (size_t)(b - v), "nhwc"))
                pp.nhwc_to_nchw = true;
            else if (word_eq(v, (size_t)(b - v), "nchw"))
                pp.nhwc_to_nchw = false;
            else
                return qs__diag(diag, QS_STATUS_PARSE,
                                "preprocess '%s': bad layout '%.*s' (nchw or nhwc)", str,
                                (int)(b - v), v);
        } else if (!eq && word_eq(a, klen, "nhwc")) {
            pp.nhwc_to_nchw = true;
        } else if (!eq && word_eq(a, klen, "nchw")) {
            pp.nhwc_to_nchw = false;
        } else if (!eq && word_eq(a, klen, "bgr")) {
            pp.swap_rb = true;
        } else if (!eq && word_eq(a, klen, "rgb")) {
            pp.swap_rb = false;
        } else if (!eq && (word_eq(a, klen, "none") || word_eq(a, klen, "identity"))) {
            pp = qs_preprocess_default();
        } else if (!eq && word_eq(a, klen, "imagenet")) {
            set_imagenet(&pp);
        } else if (!eq && word_eq(a, klen, "caffe")) {
            pp.swap_rb = true;
            pp.mean_count = 3;
            pp.mean[0] = 104.0f, pp.mean[1] = 117.0f, pp.mean[2] = 123.0f;
        } else {
            return qs__diag(diag, QS_STATUS_PARSE,
                            "preprocess '%s': unknown item '%.*s' (expected scale=, mean=, "
                            "std=, layout=nchw|nhwc, bgr, rgb, imagenet, caffe or none)",
                            str, (int)(b - a), a);
        }
    next:
        if (!comma) break;
        s = comma + 1;
    }
    *pp_out = pp;
    return QS_STATUS_OK;
}

// The shortest decimal that parses back to exactly `v` ("0.485", not "0.485000014"), or
// "1/k" when that is shorter and v is the float nearest to 1/k ("scale=1/255").
static void format_float(float v, bool fraction, char *out, size_t size) {
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(out, size, "%.*g", digits, (double)v);
        if (strtof(out, NULL) == v) break;
    }
    if (fraction && v > 0.0f && v < 1.0f) {
        double k = nearbyint(1.0 / (double)v);
        char frac[32];
        snprintf(frac, sizeof frac, "1/%.0f", k);
        if (k >= 2 && k < 1e7 && (float)(1.0 / k) == v && strlen(frac) < strlen(out))
            snprintf(out, size, "%s", frac);
    }
}

char *qs_preprocess_format(const struct qs_preprocess *pp, char *buf, size_t size) {
    if (size == 0) return buf;
    buf[0] = 0;
    if (qs_preprocess_is_identity(pp)) {
        snprintf(buf, size, "none");
        return buf;
    }
    size_t o = 0;
#define APPEND(...) \
    (o += (size_t)snprintf(buf + QS_MIN(o, size), size - QS_MIN(o, size), __VA_ARGS__))
    const char *sep = "";
    if (pp->nhwc_to_nchw) APPEND("%slayout=nhwc", sep), sep = ",";
    if (pp->swap_rb) APPEND("%sbgr", sep), sep = ",";
    char num[32];
    if (pp->scale != 1.0f) {
        format_float(pp->scale, true, num, sizeof num);
        APPEND("%sscale=%s", sep, num), sep = ",";
    }
    for (int k = 0; k < 2; k++) {
        int n = k ? pp->std_count : pp->mean_count;
        const float *v = k ? pp->std : pp->mean;
        if (n <= 0) continue;
        APPEND("%s%s=", sep, k ? "std" : "mean");
        sep = ",";
        for (int i = 0; i < n && i < QS_PREPROCESS_MAX_CHANNELS; i++) {
            format_float(v[i], false, num, sizeof num);
            APPEND("%s%s", i ? ":" : "", num);
        }
    }
#undef APPEND
    return buf;
}

// ---------------------------------------------------------------------------------------
// Checking and applying.

// Everything apply needs, derived once from the shapes.
struct plan {
    int64_t channels;      // C: the model's channel count (dim 1), or the source's for nhwc
    int64_t inner;         // elements per channel in one sample
    int64_t sample;        // elements in one sample (channels * inner)
    int64_t capacity;      // target->dims[0]
};

static bool is_int_dtype(enum qs_dtype dt) {
    switch (dt) {
    case QS_DTYPE_U8: case QS_DTYPE_I8: case QS_DTYPE_U16: case QS_DTYPE_I16:
    case QS_DTYPE_U32: case QS_DTYPE_I32: case QS_DTYPE_U64: case QS_DTYPE_I64:
    case QS_DTYPE_BOOL:
        return true;
    default:
        return false;
    }
}

static bool is_float_dtype(enum qs_dtype dt) {
    return dt == QS_DTYPE_F32 || dt == QS_DTYPE_F64 || dt == QS_DTYPE_F16 || dt == QS_DTYPE_BF16;
}

static int64_t numel(int rank, const int64_t *dims) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    return n;
}

// Drops dims of size 1.
static int squeeze(int rank, const int64_t *dims, int64_t *out) {
    int r = 0;
    for (int i = 0; i < rank; i++)
        if (dims[i] != 1) out[r++] = dims[i];
    return r;
}

static enum qs_status make_plan(const struct qs_preprocess *pp, const struct qs_array *src,
                                const char *name, const struct qs_tensor_info *t,
                                struct plan *plan, struct qs_diag *diag) {
    char sd[160], td[160];
    const char *tname = t->name ? t->name : "?";
    if (!name) name = "data";
    qs__data_dims_str(t->rank, t->dims, td, sizeof td);
    if (t->rank < 1 || t->rank > QS_MAX_RANK)
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "model input '%s' %s has no batch dimension to fill", tname, td);
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i] <= 0)
            return qs__diag(diag, QS_STATUS_INVALID_ARG,
                            "model input '%s' has unbound shape %s", tname, td);
    bool dst_int = is_int_dtype(t->dtype);
    if (!dst_int && t->dtype != QS_DTYPE_F32 && t->dtype != QS_DTYPE_F64)
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "model input '%s' has dtype %s, which data cannot be fed to", tname,
                        qs_dtype_name(t->dtype));
    if (src->rank < 1)
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "'%s': a scalar has no samples (need an array [N,...])", name);
    if (!is_int_dtype(src->dtype) && !is_float_dtype(src->dtype))
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "'%s': %s data cannot be fed to a model",
                        name, qs_dtype_name(src->dtype));
    if (dst_int && !is_int_dtype(src->dtype))
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "'%s': %s data cannot feed %s model input '%s'", name,
                        qs_dtype_name(src->dtype), qs_dtype_name(t->dtype), tname);
    if (dst_int && values_change(pp))
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "'%s': scale/mean/std need a float model input; input '%s' is %s",
                        name, tname, qs_dtype_name(t->dtype));

    // The source sample, transposed to channel-first when the data is NHWC.
    int srank = src->rank - 1;
    int64_t sdims[QS_MAX_RANK];
    for (int i = 0; i < srank; i++) sdims[i] = src->dims[i + 1];
    qs__data_dims_str(srank, sdims, sd, sizeof sd);
    bool nhwc = pp && pp->nhwc_to_nchw;
    if (nhwc) {
        if (srank != 3)
            return qs__diag(diag, QS_STATUS_INVALID_ARG,
                            "'%s': layout=nhwc needs samples [H,W,C], not %s", name, sd);
        int64_t h = sdims[0], w = sdims[1], c = sdims[2];
        sdims[0] = c, sdims[1] = h, sdims[2] = w;
        qs__data_dims_str(srank, sdims, sd, sizeof sd);
    }
    int64_t src_elems = numel(srank, sdims);
    int trank = t->rank - 1;
    const int64_t *tdims = t->dims + 1;
    int64_t dst_elems = numel(trank, tdims);
    int64_t sq_s[QS_MAX_RANK], sq_t[QS_MAX_RANK];
    int rs = squeeze(srank, sdims, sq_s), rt = squeeze(trank, tdims, sq_t);
    bool same = rs == rt && memcmp(sq_s, sq_t, sizeof(int64_t) * (size_t)rs) == 0;
    // After a transpose, ignoring dims of size 1 could hide a wrong channel axis ([1,8,8]
    // read as H=1, W=8, C=8 would still "fit" [1,8,8]): there [C,H,W] must match exactly.
    if (nhwc && trank != 1)
        same = trank == 3 && memcmp(sdims, tdims, sizeof(int64_t) * 3) == 0;
    bool flatten = !same && trank == 1 && src_elems == dst_elems;
    if (!same && !flatten) {
        // Channel-last data fed without layout=nhwc is the usual cause: say so.
        bool hint = false;
        if (!nhwc && srank == 3) {
            int64_t chw[3] = {sdims[2], sdims[0], sdims[1]}, sq_c[3];
            int rc = squeeze(3, chw, sq_c);
            hint = rc == rt && memcmp(sq_c, sq_t, sizeof(int64_t) * (size_t)rc) == 0;
        }
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "'%s': sample shape %s%s (%lld values) does not match model input '%s' "
                        "%s (%lld values per sample)%s",
                        name, sd, nhwc ? " (after nhwc->nchw)" : "", (long long)src_elems,
                        tname, td, (long long)dst_elems,
                        hint ? "; the data looks channel-last: add layout=nhwc" : "");
    }

    int64_t c;
    if (nhwc)
        c = sdims[0];
    else if (same && t->rank >= 2)
        c = t->dims[1];
    else
        c = 1;
    if (c <= 0 || dst_elems % c != 0) c = 1;
    plan->channels = c;
    plan->inner = dst_elems / c;
    plan->sample = dst_elems;
    plan->capacity = t->dims[0];
    if (pp && pp->swap_rb && c < 3)
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "'%s': bgr needs at least 3 channels; model input '%s' %s has %lld",
                        name, tname, td, (long long)c);
    if (pp) {
        for (int k = 0; k < 2; k++) {
            int n = k ? pp->std_count : pp->mean_count;
            if (n < 0 || n > QS_PREPROCESS_MAX_CHANNELS || (n > 1 && n != c))
                return qs__diag(diag, QS_STATUS_INVALID_ARG,
                                "'%s': %s has %d values but model input '%s' %s has %lld "
                                "channel(s)",
                                name, k ? "std" : "mean", n, tname, td, (long long)c);
        }
        for (int i = 0; i < pp->std_count; i++)
            if (pp->std[i] == 0.0f)
                return qs__diag(diag, QS_STATUS_INVALID_ARG, "'%s': std value %d is 0", name,
                                i);
    }
    return QS_STATUS_OK;
}

enum qs_status qs_preprocess_check(const struct qs_preprocess *pp, const struct qs_array *src,
                                   const char *src_name, const struct qs_tensor_info *target,
                                   struct qs_diag *diag) {
    struct plan plan;
    return make_plan(pp, src, src_name, target, &plan, diag);
}

// Gathers n elements (element stride `stride`) from src starting at element `start`,
// converted to float.
static void gather_f32(enum qs_dtype dt, const void *src, int64_t start, int64_t stride,
                       int64_t n, float *out) {
#define G(T, CONV)                                                   \
    {                                                                \
        const T *s = (const T *)src + start;                         \
        for (int64_t i = 0; i < n; i++) out[i] = CONV(s[i * stride]); \
    }                                                                \
    break;
#define AS_F(x) ((float)(x))
#define AS_BOOL(x) ((x) ? 1.0f : 0.0f)
    switch (dt) {
    case QS_DTYPE_U8: G(uint8_t, AS_F)
    case QS_DTYPE_I8: G(int8_t, AS_F)
    case QS_DTYPE_U16: G(uint16_t, AS_F)
    case QS_DTYPE_I16: G(int16_t, AS_F)
    case QS_DTYPE_U32: G(uint32_t, AS_F)
    case QS_DTYPE_I32: G(int32_t, AS_F)
    case QS_DTYPE_U64: G(uint64_t, AS_F)
    case QS_DTYPE_I64: G(int64_t, AS_F)
    case QS_DTYPE_BOOL: G(uint8_t, AS_BOOL)
    case QS_DTYPE_F32: G(float, AS_F)
    case QS_DTYPE_F64: G(double, AS_F)
    case QS_DTYPE_F16: G(uint16_t, qs__data_f16_to_f32)
    case QS_DTYPE_BF16: G(uint16_t, qs__data_bf16_to_f32)
    default: QS_ASSERT(!"unreachable dtype");
    }
}

static void gather_f64(enum qs_dtype dt, const void *src, int64_t start, int64_t stride,
                       int64_t n, double *out) {
#define AS_D(x) ((double)(x))
#define AS_DBOOL(x) ((x) ? 1.0 : 0.0)
#define AS_DH(x) ((double)qs__data_f16_to_f32(x))
#define AS_DB(x) ((double)qs__data_bf16_to_f32(x))
    switch (dt) {
    case QS_DTYPE_U8: G(uint8_t, AS_D)
    case QS_DTYPE_I8: G(int8_t, AS_D)
    case QS_DTYPE_U16: G(uint16_t, AS_D)
    case QS_DTYPE_I16: G(int16_t, AS_D)
    case QS_DTYPE_U32: G(uint32_t, AS_D)
    case QS_DTYPE_I32: G(int32_t, AS_D)
    case QS_DTYPE_U64: G(uint64_t, AS_D)
    case QS_DTYPE_I64: G(int64_t, AS_D)
    case QS_DTYPE_BOOL: G(uint8_t, AS_DBOOL)
    case QS_DTYPE_F32: G(float, AS_D)
    case QS_DTYPE_F64: G(double, AS_D)
    case QS_DTYPE_F16: G(uint16_t, AS_DH)
    case QS_DTYPE_BF16: G(uint16_t, AS_DB)
    default: QS_ASSERT(!"unreachable dtype");
    }
#undef G
}

// Integer sources as int64; uint64 values above INT64_MAX become INT64_MIN so that the
// range check rejects them.
static int64_t elem_i64(enum qs_dtype dt, const void *src, int64_t i) {
    switch (dt) {
    case QS_DTYPE_U8: return ((const uint8_t *)src)[i];
    case QS_DTYPE_BOOL: return ((const uint8_t *)src)[i] != 0;
    case QS_DTYPE_I8: return ((const int8_t *)src)[i];
    case QS_DTYPE_U16: return ((const uint16_t *)src)[i];
    case QS_DTYPE_I16: return ((const int16_t *)src)[i];
    case QS_DTYPE_U32: return ((const uint32_t *)src)[i];
    case QS_DTYPE_I32: return ((const int32_t *)src)[i];
    case QS_DTYPE_I64: return ((const int64_t *)src)[i];
    case QS_DTYPE_U64: {
        uint64_t u = ((const uint64_t *)src)[i];
        return u > INT64_MAX ? INT64_MIN : (int64_t)u;
    }
    default: QS_ASSERT(!"unreachable dtype"); return 0;
    }
}

static void int_range(enum qs_dtype dt, int64_t *lo, int64_t *hi) {
    switch (dt) {
    case QS_DTYPE_U8: *lo = 0, *hi = UINT8_MAX; break;
    case QS_DTYPE_BOOL: *lo = 0, *hi = 1; break;
    case QS_DTYPE_I8: *lo = INT8_MIN, *hi = INT8_MAX; break;
    case QS_DTYPE_U16: *lo = 0, *hi = UINT16_MAX; break;
    case QS_DTYPE_I16: *lo = INT16_MIN, *hi = INT16_MAX; break;
    case QS_DTYPE_U32: *lo = 0, *hi = UINT32_MAX; break;
    case QS_DTYPE_I32: *lo = INT32_MIN, *hi = INT32_MAX; break;
    case QS_DTYPE_U64: *lo = 0, *hi = INT64_MAX; break;
    default: *lo = INT64_MIN + 1, *hi = INT64_MAX; break;
    }
}

static void store_int(enum qs_dtype dt, void *dst, int64_t i, int64_t v) {
    switch (dt) {
    case QS_DTYPE_U8: case QS_DTYPE_BOOL: ((uint8_t *)dst)[i] = (uint8_t)v; break;
    case QS_DTYPE_I8: ((int8_t *)dst)[i] = (int8_t)v; break;
    case QS_DTYPE_U16: ((uint16_t *)dst)[i] = (uint16_t)v; break;
    case QS_DTYPE_I16: ((int16_t *)dst)[i] = (int16_t)v; break;
    case QS_DTYPE_U32: ((uint32_t *)dst)[i] = (uint32_t)v; break;
    case QS_DTYPE_I32: ((int32_t *)dst)[i] = (int32_t)v; break;
    case QS_DTYPE_U64: ((uint64_t *)dst)[i] = (uint64_t)v; break;
    default: ((int64_t *)dst)[i] = v; break;
    }
}

enum qs_status qs_preprocess_apply(const struct qs_preprocess *pp, const struct qs_array *src,
                                   const char *src_name, int64_t begin, int64_t count,
                                   const struct qs_tensor_info *target, void *dst,
                                   struct qs_diag *diag) {
    struct plan plan;
    enum qs_status st = make_plan(pp, src, src_name, target, &plan, diag);
    if (st != QS_STATUS_OK) return st;
    const char *name = src_name ? src_name : "data";
    int64_t n = src->dims[0];
    if (begin < 0 || count < 0 || begin > n || count > n - begin)
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "'%s': samples [%lld, %lld) are outside the %lld samples", name,
                        (long long)begin, (long long)(begin + count), (long long)n);
    if (count > plan.capacity)
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "'%s': %lld samples do not fit the batch of %lld of model input '%s'",
                        name, (long long)count, (long long)plan.capacity,
                        target->name ? target->name : "?");
    if (count > 0 && !src->data)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "'%s': array has no data", name);

    const enum qs_dtype sdt = src->dtype, ddt = target->dtype;
    const size_t ses = qs_dtype_size(sdt), des = qs_dtype_size(ddt);
    const int64_t C = plan.channels, inner = plan.inner, S = plan.sample;
    const bool nhwc = pp && pp->nhwc_to_nchw, swap = pp && pp->swap_rb;
    const uint8_t *sbase = (const uint8_t *)src->data + (size_t)(begin * S) * ses;
    uint8_t *dbase = dst;

    if (sdt == ddt && !nhwc && !swap && !values_change(pp)) {
        memcpy(dbase, sbase, (size_t)(count * S) * ses);
    } else {
        for (int64_t s = 0; s < count; s++) {
            const uint8_t *sp = sbase + (size_t)(s * S) * ses;
            uint8_t *dp = dbase + (size_t)(s * S) * des;
            for (int64_t c = 0; c < C; c++) {
                // dst channel c reads source channel sc; channels 0 and 2 trade places.
                int64_t sc = swap && (c == 0 || c == 2) ? 2 - c : c;
                int64_t start = nhwc ? sc : sc * inner, stride = nhwc ? C : 1;
                float scale = pp ? pp->scale : 1.0f;
                float mean = 0.0f, sd = 1.0f;
                if (pp && pp->mean_count) mean = pp->mean[pp->mean_count == 1 ? 0 : c];
                if (pp && pp->std_count) sd = pp->std[pp->std_count == 1 ? 0 : c];
                bool has_std = pp && pp->std_count;
                if (ddt == QS_DTYPE_F32) {
                    float *o = (float *)dp + c * inner;
                    gather_f32(sdt, sp, start, stride, inner, o);
                    if (!values_change(pp)) continue;
                    // The documented formula, in this order, so results are reproducible.
                    if (has_std)
                        for (int64_t i = 0; i < inner; i++) o[i] = (o[i] * scale - mean) / sd;
                    else
                        for (int64_t i = 0; i < inner; i++) o[i] = o[i] * scale - mean;
                } else if (ddt == QS_DTYPE_F64) {
                    double *o = (double *)dp + c * inner;
                    gather_f64(sdt, sp, start, stride, inner, o);
                    if (!values_change(pp)) continue;
                    for (int64_t i = 0; i < inner; i++)
                        o[i] = (o[i] * (double)scale - (double)mean) / (double)sd;
                } else {
                    int64_t lo, hi;
                    int_range(ddt, &lo, &hi);
                    for (int64_t i = 0; i < inner; i++) {
                        int64_t v = elem_i64(sdt, sp, start + i * stride);
                        if (v < lo || v > hi)
                            return qs__diag(diag, QS_STATUS_INVALID_ARG,
                                            "'%s': sample %lld holds a value outside the %s "
                                            "range of model input '%s'",
                                            name, (long long)(begin + s), qs_dtype_name(ddt),
                                            target->name ? target->name : "?");
                        store_int(ddt, dp, c * inner + i, v);
                    }
                }
            }
        }
    }
    // Zero the rows a partial batch leaves unused.
    if (count < plan.capacity)
        memset(dbase + (size_t)(count * S) * des, 0, (size_t)((plan.capacity - count) * S) * des);
    return QS_STATUS_OK;
}
