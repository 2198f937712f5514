// Streaming observer of one tensor: running min/max, per-batch averages, PaddleSlim's moving
// average and a histogram whose power-of-two range grows by merging bins. The state size
// is fixed at creation; nothing depends on the number of samples.
#include "quant/quant-impl.h"

#include <ctype.h>
#include <math.h>

struct qs_calib_options qs_calib_options_default(void) {
    struct qs_calib_options o = {sizeof o, 2048, 0.9, 32, 1};
    return o;
}

bool qs__calib_options_valid(const struct qs_calib_options *o, struct qs_diag *diag) {
    if (o->bins != 0 && (o->bins < 128 || o->bins > 65536 || (o->bins & (o->bins - 1)))) {
        qs__diag(diag, QS_STATUS_INVALID_ARG,
                 "calibration: bins must be 0 or a power of two in 128..65536, got %d",
                 o->bins);
        return false;
    }
    if (!(o->ema_momentum >= 0.0 && o->ema_momentum < 1.0)) {
        qs__diag(diag, QS_STATUS_INVALID_ARG,
                 "calibration: EMA momentum must be in [0, 1), got %g", o->ema_momentum);
        return false;
    }
    if (o->batch < 1 || o->threads < 0) {
        qs__diag(diag, QS_STATUS_INVALID_ARG, "calibration: batch %d, threads %d", o->batch,
                 o->threads);
        return false;
    }
    return true;
}

static const char *const algo_names[QS_CALIB_ALGO_COUNT] = {
    "minmax", "avg", "ema", "percentile", "kl", "mse", "emd",
};

const char *qs_calib_algo_name(enum qs_calib_algo algo) {
    return (unsigned)algo < QS_CALIB_ALGO_COUNT ? algo_names[algo] : "unknown";
}

static bool name_eq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
    return *a == *b;
}

enum qs_status qs_calib_algo_parse(const char *name, enum qs_calib_algo *algo_out,
                                   struct qs_diag *diag) {
    static const struct {
        const char *name;
        enum qs_calib_algo algo;
    } aliases[] = {
        {"hist", QS_CALIB_PERCENTILE},   {"entropy", QS_CALIB_KL},
        {"moving_average_abs_max", QS_CALIB_EMA}, {"abs_max", QS_CALIB_MINMAX},
        {"min_max", QS_CALIB_MINMAX},
    };
    for (int i = 0; name && i < QS_CALIB_ALGO_COUNT; i++)
        if (name_eq(name, algo_names[i])) {
            *algo_out = (enum qs_calib_algo)i;
            return QS_STATUS_OK;
        }
    for (size_t i = 0; name && i < QS_COUNTOF(aliases); i++)
        if (name_eq(name, aliases[i].name)) {
            *algo_out = aliases[i].algo;
            return QS_STATUS_OK;
        }
    return qs__diag(diag, QS_STATUS_INVALID_ARG,
                    "unknown calibration method '%s' (expected minmax, avg, ema, percentile, "
                    "kl, mse or emd)",
                    name ? name : "(null)");
}

struct qs_calib_method qs_calib_method_default(enum qs_calib_algo algo) {
    struct qs_calib_method m = {algo, QS_DTYPE_U8, 8, 0.9999};
    return m;
}

enum qs_status qs_observer_create(const struct qs_calib_options *options,
                                  qs_observer_t **observer_out, struct qs_diag *diag) {
    struct qs_calib_options o = options ? *options : qs_calib_options_default();
    if (!qs__calib_options_valid(&o, diag)) return QS_STATUS_INVALID_ARG;
    qs_observer_t *ob = qs__calloc(1, sizeof *ob);
    if (!ob) return qs__diag(diag, QS_STATUS_NOMEM, "calibration: out of memory");
    ob->bins = o.bins;
    ob->nb = 2 * o.bins;
    ob->momentum = o.ema_momentum;
    if (!o.bins) {  // no histogram
        *observer_out = ob;
        return QS_STATUS_OK;
    }
    size_t hb = sizeof(uint64_t) * (size_t)(2 * ob->nb + 1);
    size_t tb = sizeof(uint32_t) * (size_t)(2 * ob->nb);
    ob->hist = qs__malloc(hb);
    ob->tally = qs__malloc(tb);
    if (!ob->hist || !ob->tally) {
        qs_observer_destroy(ob);
        return qs__diag(diag, QS_STATUS_NOMEM, "calibration: out of memory");
    }
    // Written now, not left to calloc's lazily mapped zero pages, so that the resident
    // memory is the same whatever the data touches later.
    memset(ob->hist, 0, hb);
    memset(ob->tally, 0, tb);
    *observer_out = ob;
    return QS_STATUS_OK;
}

void qs_observer_destroy(qs_observer_t *ob) {
    if (!ob) return;
    qs__free(ob->hist);
    qs__free(ob->tally);
    qs__free(ob);
}

uint64_t qs_observer_count(const qs_observer_t *ob) { return ob->count; }
uint64_t qs_observer_batches(const qs_observer_t *ob) { return ob->batches; }

size_t qs_observer_state_bytes(const qs_observer_t *ob) {
    if (!ob->hist) return sizeof *ob;
    return sizeof *ob + sizeof(uint64_t) * (size_t)(2 * ob->nb + 1) +
           sizeof(uint32_t) * (size_t)(2 * ob->nb);
}

static void flush_tally(qs_observer_t *ob) {
    for (int j = 0; j < 2 * ob->nb; j++) ob->hist[j] += ob->tally[j], ob->tally[j] = 0;
    ob->tally_count = 0;
}

// Merges bins so that the range grows from 2^range_exp to 2^e.
static void grow(qs_observer_t *ob, int e) {
    int k = e - ob->range_exp;
    int nb = ob->nb;
    flush_tally(ob);
    for (int half = 0; half < 2; half++) {
        uint64_t *h = ob->hist + (size_t)half * (size_t)nb;
        if (k >= 31) {
            uint64_t s = 0;
            for (int j = 0; j < nb; j++) s += h[j], h[j] = 0;
            h[0] = s;
            continue;
        }
        // In place: the target j >> k was already visited (and cleared) when j > 0.
        for (int j = 1; j < nb; j++) {
            uint64_t c = h[j];
            h[j] = 0;
            h[j >> k] += c;
        }
    }
    ob->range_exp = e;
}

// What one pass over a batch finds before anything is added.
typedef struct {
    float min, max;
    bool bad;                   // a NaN or an infinity
    uint64_t zeros, neg_zeros;  // +0 and -0
} batch_scan;

static void scan_ref(const float *x, size_t n, batch_scan *r) {
    *r = (batch_scan){x[0], x[0], false, 0, 0};
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        r->min = x[i] < r->min ? x[i] : r->min;
        r->max = x[i] > r->max ? x[i] : r->max;
        r->bad |= (u & 0x7f800000u) == 0x7f800000u;
        r->zeros += u == 0;
        r->neg_zeros += u == 0x80000000u;
    }
}

// GCC/Clang vector extensions: SSE2 on x86-64, NEON on arm64, scalar code elsewhere. The
// compilers do not vectorize float min/max reductions themselves (NaN ordering), and this
// pass reads every activation once.
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef uint32_t v4u __attribute__((vector_size(16)));

static void scan(const float *x, size_t n, batch_scan *r) {
    size_t head = 0;
    v4f vmn = {x[0], x[0], x[0], x[0]}, vmx = vmn;
    v4i bad = {0, 0, 0, 0};
    uint64_t zeros = 0, neg_zeros = 0;
    // Lane counters are int32: blocks of at most 2^28 vectors keep them exact.
    while (n - head >= 4) {
        size_t end = head + QS_MIN((n - head) / 4, (size_t)1 << 28) * 4;
        v4i z = {0, 0, 0, 0}, nz = z;
        for (size_t i = head; i < end; i += 4) {
            v4u u;
            memcpy(&u, x + i, 16);
            v4f v = (v4f)u;
            v4i lt = v < vmn, gt = v > vmx;
            vmn = (v4f)(((v4i)v & lt) | ((v4i)vmn & ~lt));
            vmx = (v4f)(((v4i)v & gt) | ((v4i)vmx & ~gt));
            bad |= (v4i)((u & 0x7f800000u) == 0x7f800000u);
            z -= (v4i)(u == 0u);
            nz -= (v4i)(u == 0x80000000u);
        }
        for (int l = 0; l < 4; l++) zeros += (uint32_t)z[l], neg_zeros += (uint32_t)nz[l];
        head = end;
    }
    batch_scan t = {x[0], x[0], false, 0, 0};
    if (head < n) scan_ref(x + head, n - head, &t);  // the tail, or everything when n < 4
    for (int l = 0; l < 4; l++) {
        t.min = vmn[l] < t.min ? vmn[l] : t.min;
        t.max = vmx[l] > t.max ? vmx[l] : t.max;
        t.bad |= bad[l] != 0;
    }
    t.zeros += zeros;
    t.neg_zeros += neg_zeros;
    *r = t;
}

// Adds the extremes and averages of a batch (n > 0, already scanned).
static void add_stats(qs_observer_t *ob, const batch_scan *b, size_t n) {
    double bmin = b->min, bmax = b->max, babs = fmax(-bmin, bmax);
    if (ob->count == 0) {
        ob->min = bmin;
        ob->max = bmax;
    } else {
        ob->min = fmin(ob->min, bmin);
        ob->max = fmax(ob->max, bmax);
    }
    ob->count += n;
    ob->batches++;
    ob->sum_bmin += bmin;
    ob->sum_bmax += bmax;
    ob->sum_babs += babs;
    double r = ob->momentum;
    ob->ema_state = r * ob->ema_state + 1.0;
    ob->ema_min = r * ob->ema_min + bmin;
    ob->ema_max = r * ob->ema_max + bmax;
    ob->ema_abs = r * ob->ema_abs + babs;
}

// Sets or grows the range for a batch whose largest magnitude is babs > 0; returns nb / R.
static double prepare_range(qs_observer_t *ob, double babs) {
    int e;
    frexp(babs, &e);  // 2^(e-1) <= babs < 2^e
    if (!ob->has_range) {
        ob->has_range = true;
        ob->range_exp = e;
    } else if (e > ob->range_exp) {
        grow(ob, e);
    }
    return ldexp((double)ob->nb, -ob->range_exp);
}

static enum qs_status refuse(const float *x, size_t n, struct qs_diag *diag) {
    size_t i = 0;
    while (i < n && isfinite(x[i])) i++;
    return qs__diag(diag, QS_STATUS_NUMERIC, "non-finite value %g at element %zu of a batch",
                    i < n ? (double)x[i] : 0.0, i);
}

enum qs_status qs__observer_update_ref(qs_observer_t *ob, const float *x, size_t n,
                                       struct qs_diag *diag) {
    if (n == 0) return QS_STATUS_OK;
    batch_scan b;
    scan_ref(x, n, &b);
    if (b.bad) return refuse(x, n, diag);
    add_stats(ob, &b, n);
    if (!ob->hist) return QS_STATUS_OK;
    double babs = fmax(-(double)b.min, (double)b.max);
    if (babs == 0.0) {
        ob->hist[2 * ob->nb] += n;
        return QS_STATUS_OK;
    }
    double sc = prepare_range(ob, babs);
    size_t nb = (size_t)ob->nb;
    for (size_t i = 0; i < n; i++) {
        if (x[i] == 0.0f) {
            ob->hist[2 * nb]++;
            continue;
        }
        size_t idx = (size_t)(fabs((double)x[i]) * sc);
        ob->hist[x[i] < 0.0f ? nb + idx : idx]++;
    }
    return QS_STATUS_OK;
}

enum qs_status qs_observer_update(qs_observer_t *ob, const float *x, size_t n,
                                  struct qs_diag *diag) {
    if (n == 0) return QS_STATUS_OK;
    batch_scan b;
    scan(x, n, &b);
    if (b.bad) return refuse(x, n, diag);
    add_stats(ob, &b, n);
    if (!ob->hist) return QS_STATUS_OK;  // bins 0: min/max, averages and EMA only
    double babs = fmax(-(double)b.min, (double)b.max);
    size_t nb = (size_t)ob->nb;
    uint64_t *h = ob->hist;
    if (babs == 0.0) {
        h[2 * nb] += n;
        return QS_STATUS_OK;
    }
    double scd = prepare_range(ob, babs);
    if (ob->tally_count + n / 2 + 1 > UINT32_MAX) flush_tally(ob);
    ob->tally_count += n / 2 + 1;
    uint32_t *t = ob->tally;
    // nb / R is a power of two, so |x| * nb / R is exact (in float too while nb / R is a
    // normal float: a product that underflows is below 1 and lands in bin 0 either way).
    // The sign bit picks the half; zeros go to bin 0 of their half and move below.
    size_t i = 0;
    if (scd < 0x1p100) {
        float sc = (float)scd;
        for (; i + 1 < n; i += 2) {
            uint32_t u0, u1;
            memcpy(&u0, &x[i], 4);
            memcpy(&u1, &x[i + 1], 4);
            h[(uint32_t)(int32_t)(fabsf(x[i]) * sc) + (u0 >> 31) * nb]++;
            t[(uint32_t)(int32_t)(fabsf(x[i + 1]) * sc) + (u1 >> 31) * nb]++;
        }
    }
    for (; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        h[(size_t)(fabs((double)x[i]) * scd) + (u >> 31) * nb]++;
    }
    // Zeros: from bin 0 of each half (in hist or tally) to their own count.
    h[0] += t[0], t[0] = 0;
    h[nb] += t[nb], t[nb] = 0;
    h[0] -= b.zeros;
    h[nb] -= b.neg_zeros;
    h[2 * nb] += b.zeros + b.neg_zeros;
    return QS_STATUS_OK;
}

static enum qs_status check_method(const struct qs_calib_method *m, struct qs_diag *diag) {
    if ((unsigned)m->algo >= QS_CALIB_ALGO_COUNT)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "calibration: unknown method %d",
                        (int)m->algo);
    if ((m->dtype != QS_DTYPE_U8 && m->dtype != QS_DTYPE_I8) || m->bits < 2 || m->bits > 8)
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "calibration: unsupported target %s with %d bits",
                        qs_dtype_name(m->dtype), m->bits);
    if (m->algo == QS_CALIB_PERCENTILE && !(m->percentile > 0.0 && m->percentile <= 1.0))
        return qs__diag(diag, QS_STATUS_INVALID_ARG,
                        "calibration: percentile must be in (0, 1], got %g", m->percentile);
    return QS_STATUS_OK;
}

// A threshold method on one side (or |x|) of the histogram.
static enum qs_status side_threshold(const qs_observer_t *ob, const struct qs_calib_method *m,
                                     enum qs__hist_side side, int levels, double *t_out,
                                     struct qs_diag *diag) {
    qs__hist_view v;
    // KL leaves the exact zeros out, as pytorch-quantization's bins[0] = bins[1]: merged
    // with its neighbours, the Relu spike at 0 would outweigh everything else and push
    // the threshold down to where no bins merge at all.
    bool pct = m->algo == QS_CALIB_PERCENTILE;
    enum qs_status st = qs__hist_view_make(ob, side, pct, &v);
    if (st != QS_STATUS_OK)
        return qs__diag(diag, st, "calibration: out of memory for a histogram");
    double t = 0.0;
    if (v.n > 0) {
        st = pct ? qs__hist_percentile(&v, m->percentile, &t, diag)
                 : qs__hist_kl(&v, levels, &t);
        if (st == QS_STATUS_NOMEM) qs__diag(diag, st, "calibration: out of memory for KL");
    }
    qs__free(v.h);
    *t_out = t;
    return st;
}

enum qs_status qs_observer_range(const qs_observer_t *ob, const struct qs_calib_method *method,
                                 double *lo_out, double *hi_out, struct qs_diag *diag) {
    struct qs_calib_method m = method ? *method : qs_calib_method_default(QS_CALIB_MINMAX);
    enum qs_status st = check_method(&m, diag);
    if (st != QS_STATUS_OK) return st;
    if (ob->count == 0)
        return qs__diag(diag, QS_STATUS_INVALID_STATE, "calibration: nothing observed");
    if (!ob->hist && m.algo != QS_CALIB_MINMAX && m.algo != QS_CALIB_AVG &&
        m.algo != QS_CALIB_EMA)
        return qs__diag(diag, QS_STATUS_INVALID_STATE,
                        "calibration: %s needs the histogram, kept only with bins > 0",
                        qs_calib_algo_name(m.algo));
    bool sym = m.dtype == QS_DTYPE_I8;
    double mn = fmin(ob->min, 0.0), mx = fmax(ob->max, 0.0), amax = fmax(-mn, mx);
    double lo = mn, hi = mx;
    double nbat = (double)ob->batches;
    switch (m.algo) {
    case QS_CALIB_MINMAX:
        break;
    case QS_CALIB_AVG:
        lo = ob->sum_bmin / nbat;
        hi = ob->sum_bmax / nbat;
        if (sym) lo = -(hi = ob->sum_babs / nbat);
        break;
    case QS_CALIB_EMA:
        lo = ob->ema_min / ob->ema_state;
        hi = ob->ema_max / ob->ema_state;
        if (sym) lo = -(hi = ob->ema_abs / ob->ema_state);
        break;
    case QS_CALIB_PERCENTILE:
    case QS_CALIB_KL: {
        int half = 1 << (m.bits - 1);
        double t;
        if (sym) {
            if ((st = side_threshold(ob, &m, QS_HIST_ABS, half, &t, diag))) return st;
            lo = -t;
            hi = t;
        } else {
            // A one-signed tensor (post-Relu) gives all levels to its side.
            bool both = mn < 0.0 && mx > 0.0;
            int levels = both ? half : 2 * half;
            lo = hi = 0.0;
            if (mx > 0.0 && (st = side_threshold(ob, &m, QS_HIST_POS, levels, &hi, diag)))
                return st;
            if (mn < 0.0 && (st = side_threshold(ob, &m, QS_HIST_NEG, levels, &t, diag)))
                return st;
            if (mn < 0.0) lo = -t;
        }
        break;
    }
    case QS_CALIB_MSE:
    case QS_CALIB_EMD:
        if (amax == 0.0) break;
        if ((st = qs__search_range(ob, &m, &lo, &hi, diag))) return st;
        break;
    default:
        break;
    }
    // Never wider than what was seen; always containing 0.
    if (sym) {
        double t = fmin(fmax(-lo, hi), amax);
        lo = -t;
        hi = t;
    } else {
        lo = fmax(fmin(lo, 0.0), mn);
        hi = fmin(fmax(hi, 0.0), mx);
    }
    if (!isfinite(lo) || !isfinite(hi))
        return qs__diag(diag, QS_STATUS_NUMERIC, "calibration: %s gave a non-finite range",
                        qs_calib_algo_name(m.algo));
    *lo_out = lo;
    *hi_out = hi;
    return QS_STATUS_OK;
}
