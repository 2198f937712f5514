// Internals of quant/: the observer state and the helpers that derive ranges from it. Only
// files inside quant/ (and tests) include this.
#pragma once

#include "qsearch/quant.h"
#include "kernels/internal.h"

#include <string.h>

// The histogram of an observer: `nb` bins over [0, R) for positive values, `nb` bins over
// [0, R) for the magnitudes of negative values, then one count of exact zeros (kept out of
// bin 0 so that statistics see them at exactly 0, and KL can leave the Relu spike out).
// R = 2^range_exp is the smallest power of two above every |x| seen. Growing R by 2^k merges
// 2^k adjacent bins; since nb / R is a power of two, floor(|x| * nb / R) is exact, and
// binning a value before or after a growth gives the same bin: the counts do not depend on
// the batch split.
//
// Each batch alternates its values between `hist` and the 32-bit `tally`, two independent
// chains of increments, so that runs of equal bins (the zeros of post-Relu data go through
// bin 0 before being moved to the zero count) do not serialize on one counter. The tally is
// added into hist before it could overflow and whenever the bins merge; readers add both.
struct qs_observer {
    int bins;             // options.bins; nb = 2 * bins
    int nb;
    double momentum;
    uint64_t count, batches;
    double min, max;      // over every value (count > 0)
    double sum_bmin, sum_bmax, sum_babs;          // per-batch extremes, summed
    double ema_state, ema_min, ema_max, ema_abs;  // PaddleSlim moving average
    bool has_range;       // a non-zero value was seen, range_exp is set
    int range_exp;
    uint64_t *hist;       // [2 * nb + 1]
    uint32_t *tally;      // [2 * nb]
    uint64_t tally_count; // values added to tally since it was last emptied
};

/// Count of bin i (0 <= i < 2 * nb: positive bins then negative bins; 2 * nb: zeros).
static inline uint64_t qs__obs_bin(const qs_observer_t *ob, size_t i) {
    return ob->hist[i] + (i < 2 * (size_t)ob->nb ? ob->tally[i] : 0);
}

/// The scalar reference of qs_observer_update (one loop, one table), for tests: it must
/// leave the same bins, extremes and averages.
QS_INTERNAL enum qs_status qs__observer_update_ref(qs_observer_t *ob, const float *x, size_t n,
                                                   struct qs_diag *diag);

QS_INTERNAL bool qs__calib_options_valid(const struct qs_calib_options *o, struct qs_diag *diag);

/// Counts of one view of the histogram, as doubles, bins of width `width` starting at 0:
/// h[0..n) with the last bin non-empty (n == 0 when empty).
typedef struct qs__hist_view {
    double *h;
    int n;
    double width;
    double total;
} qs__hist_view;

enum qs__hist_side { QS_HIST_POS = 0, QS_HIST_NEG = 1, QS_HIST_ABS = 2 };
/// Fills `v` (h allocated with qs__malloc, free with qs__free) with the positive side, the
/// negative magnitudes or |x|, the exact zeros added to bin 0 when `with_zeros`.
QS_INTERNAL enum qs_status qs__hist_view_make(const qs_observer_t *ob, enum qs__hist_side side,
                                              bool with_zeros, qs__hist_view *v);

/// Threshold methods on one histogram view (h non-empty). They return a threshold t in
/// (0, n * width].
QS_INTERNAL enum qs_status qs__hist_percentile(const qs__hist_view *v, double p, double *t_out,
                                               struct qs_diag *diag);
QS_INTERNAL enum qs_status qs__hist_kl(const qs__hist_view *v, int levels, double *t_out);

/// MSE / EMD search on the signed distribution of the observer (ob->count > 0, range set).
QS_INTERNAL enum qs_status qs__search_range(const qs_observer_t *ob,
                                            const struct qs_calib_method *m, double *lo_out,
                                            double *hi_out, struct qs_diag *diag);

/// Round half to even of a float, exact for every float, as nearbyintf in the default
/// rounding mode (which the library assumes), but inlined and vectorizable.
static inline float qs__round_half_even(float v) {
    // Floats of magnitude >= 2^23 are integers; below that, adding 2^23 lands in
    // [2^23, 2^24) where the spacing is 1, so the addition itself rounds half to even.
    if (v >= 0.0f) return v < 8388608.0f ? (v + 8388608.0f) - 8388608.0f : v;
    return v > -8388608.0f ? (v - 8388608.0f) + 8388608.0f : v;
}
