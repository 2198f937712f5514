// OBS / SparseGPT reconstruction of one weight matrix from H = X^T X: prune column block
// by column block by w^2 / [U]_ii^2 (U the upper Cholesky factor of H^-1) and propagate
// each pruned weight's error to the columns after it, as IST-DASLab/sparsegpt does.
#include "sparse/sparse-impl.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

// LAPACK from OpenBLAS (Fortran ABI; the trailing length is gfortran's hidden argument).
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info,
                    size_t uplo_len);
extern void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info,
                    size_t uplo_len);

// U (row-major upper) with H^-1 = U^T U, from H + damp I. Row-major upper triangle is
// column-major lower, which is what LAPACK's "L" works on.
static int inverse_cholesky(double *u, const double *h, int64_t k, double damp) {
    int n = (int)k, info = 0;
    memcpy(u, h, (size_t)(k * k) * sizeof *u);
    for (int64_t i = 0; i < k; i++) u[i * k + i] += damp;
    dpotrf_("L", &n, u, &n, &info, 1);
    if (info) return info;
    dpotri_("L", &n, u, &n, &info, 1);
    if (info) return info;
    for (int64_t r = 0; r < k; r++)
        for (int64_t c = 0; c < r; c++) u[r * k + c] = u[c * k + r];
    dpotrf_("L", &n, u, &n, &info, 1);
    if (info) return info;
    for (int64_t r = 0; r < k; r++)
        for (int64_t c = 0; c < r; c++) u[r * k + c] = 0.0;
    return 0;
}

enum qs_status qs_prune_obs(float *w, int64_t m, int64_t k, const double *h,
                            const struct qs_prune_pattern *pattern, float sparsity, float damp,
                            int block_size, uint8_t *mask_out, struct qs_diag *diag) {
    if (!w || !h || m <= 0 || k <= 0 || !pattern)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "obs: empty matrix");
    if (!(sparsity >= 0.0f && sparsity <= 0.95f))
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "sparsity %g outside [0, 0.95]",
                        (double)sparsity);
    if (!(damp >= 0.0f && damp < 1.0f) || block_size < 1)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "obs: damp %g / block size %d out of range",
                        (double)damp, block_size);
    if (pattern->kind == QS_PATTERN_CHANNEL)
        return qs__diag(diag, QS_STATUS_UNSUPPORTED, "obs: channel pruning is magnitude only");
    if (k > 46340)
        return qs__diag(diag, QS_STATUS_UNSUPPORTED, "obs: reduction %lld too large", (long long)k);
    if (mask_out) memset(mask_out, 1, (size_t)(m * k));
    if (sparsity == 0.0f) return QS_STATUS_OK;

    int align = pattern->kind == QS_PATTERN_NM ? pattern->m
                : pattern->kind == QS_PATTERN_BLOCK ? pattern->c : 1;
    int64_t bs = ((int64_t)block_size + align - 1) / align * align;
    double *u = qs__malloc((size_t)(k * k) * sizeof *u);
    double *hd = qs__malloc((size_t)(k * k) * sizeof *hd);
    double *W = qs__malloc((size_t)(m * k) * sizeof *W);
    double *w1 = qs__malloc((size_t)(m * bs) * sizeof *w1);
    double *err = qs__malloc((size_t)(m * bs) * sizeof *err);
    uint8_t *mask1 = qs__malloc((size_t)(m * bs));
    int64_t n_scores = m * bs;
    float *scores = qs__malloc((size_t)n_scores * sizeof *scores);
    uint64_t *keys = qs__malloc((size_t)n_scores * sizeof *keys);
    enum qs_status st = QS_STATUS_OK;
    if (!u || !hd || !W || !w1 || !err || !mask1 || !scores || !keys) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "obs: out of memory (k = %lld)", (long long)k);
        goto done;
    }
    for (int64_t i = 0; i < m * k; i++) W[i] = w[i];
    memcpy(hd, h, (size_t)(k * k) * sizeof *hd);
    double mean = 0.0;
    for (int64_t i = 0; i < k; i++) {
        if (hd[i * k + i] == 0.0) {  // an input that is always zero: its weights do nothing
            hd[i * k + i] = 1.0;
            for (int64_t r = 0; r < m; r++) W[r * k + i] = 0.0;
        }
        mean += hd[i * k + i];
    }
    mean /= (double)k;
    int info = -1;
    for (int t = 0; t < 4 && info; t++) {
        double d = (damp > 0.0f ? damp : 1e-4f) * mean * pow(10.0, t);
        if (t > 0) qs__log(QS_LOG_INFO, "obs: H not positive definite; dampening %g", d);
        info = inverse_cholesky(u, hd, k, t == 0 && damp == 0.0f ? 0.0 : d);
    }
    if (info) {
        st = qs__diag(diag, QS_STATUS_NUMERIC, "obs: H is not positive definite (LAPACK %d)",
                      info);
        goto done;
    }

    int64_t nbr = pattern->kind == QS_PATTERN_BLOCK ? (m + pattern->r - 1) / pattern->r : 0;
    for (int64_t i1 = 0; i1 < k; i1 += bs) {
        int64_t i2 = QS_MIN(i1 + bs, k), cnt = i2 - i1;
        for (int64_t r = 0; r < m; r++)
            for (int64_t j = 0; j < cnt; j++) w1[r * cnt + j] = W[r * k + i1 + j];
        for (int64_t i = 0; i < m * cnt; i++) mask1[i] = 1;
        if (pattern->kind == QS_PATTERN_UNSTRUCTURED) {
            // this block's share of round(s * m * k), so that the layer total is exact
            int64_t count = qs__sparse_count(sparsity, m * i2) - qs__sparse_count(sparsity, m * i1);
            for (int64_t r = 0; r < m; r++)
                for (int64_t j = 0; j < cnt; j++) {
                    double d = u[(i1 + j) * k + i1 + j], v = w1[r * cnt + j];
                    keys[r * cnt + j] = qs__sparse_key((float)(v * v / (d * d)),
                                                       (uint32_t)(r * cnt + j));
                }
            qs__sparse_sort_keys(keys, (size_t)(m * cnt));
            for (int64_t t = 0; t < count && t < m * cnt; t++) mask1[keys[t] & 0xffffffffu] = 0;
        } else if (pattern->kind == QS_PATTERN_BLOCK) {
            int64_t g0 = i1 / pattern->c, g1 = (i2 + pattern->c - 1) / pattern->c;
            int64_t ng = g1 - g0, units = nbr * ng;
            int64_t count = qs__sparse_count(sparsity, nbr * g1) - qs__sparse_count(sparsity, nbr * g0);
            memset(scores, 0, (size_t)units * sizeof *scores);
            for (int64_t r = 0; r < m; r++)
                for (int64_t j = 0; j < cnt; j++) {
                    double d = u[(i1 + j) * k + i1 + j], v = w1[r * cnt + j];
                    scores[(r / pattern->r) * ng + j / pattern->c] += (float)(v * v / (d * d));
                }
            for (int64_t b = 0; b < units; b++) {
                int64_t rr = QS_MIN(pattern->r, m - (b / ng) * pattern->r);
                int64_t cc = QS_MIN(pattern->c, cnt - (b % ng) * pattern->c);
                keys[b] = qs__sparse_key(scores[b] / (float)(rr * cc), (uint32_t)b);
            }
            qs__sparse_sort_keys(keys, (size_t)units);
            for (int64_t t = 0; t < count && t < units; t++) {
                int64_t b = (int64_t)(keys[t] & 0xffffffffu);
                int64_t r0 = (b / ng) * pattern->r, c0 = (b % ng) * pattern->c;
                for (int64_t r = r0; r < QS_MIN(r0 + pattern->r, m); r++)
                    for (int64_t j = c0; j < QS_MIN(c0 + pattern->c, cnt); j++)
                        mask1[r * cnt + j] = 0;
            }
        }
        for (int64_t j = 0; j < cnt; j++) {
            int64_t c = i1 + j;
            const double *urow = u + c * k + i1;
            double d = urow[j];
            if (pattern->kind == QS_PATTERN_NM && c % pattern->m == 0) {
                int g = (int)QS_MIN((int64_t)pattern->m, k - c);
                int prune = g - QS_MIN(pattern->n, g);
                for (int64_t r = 0; r < m; r++) {
                    for (int t = 0; t < prune; t++) {
                        int best = -1;
                        double bv = 0.0;
                        for (int q = 0; q < g; q++) {
                            if (!mask1[r * cnt + j + q]) continue;
                            double dq = u[(c + q) * k + c + q], v = w1[r * cnt + j + q];
                            double s = v * v / (dq * dq);
                            if (best < 0 || s <= bv) best = q, bv = s;
                        }
                        mask1[r * cnt + j + best] = 0;
                    }
                }
            }
            for (int64_t r = 0; r < m; r++) {
                double *row = w1 + r * cnt;
                double v = row[j], q = mask1[r * cnt + j] ? v : 0.0;
                double e = (v - q) / d;
                row[j] = q;
                err[r * cnt + j] = e;
                if (e != 0.0)
                    for (int64_t t = j + 1; t < cnt; t++) row[t] -= e * urow[t];
            }
        }
        for (int64_t r = 0; r < m; r++)
            for (int64_t j = 0; j < cnt; j++) {
                W[r * k + i1 + j] = w1[r * cnt + j];
                if (mask_out) mask_out[r * k + i1 + j] = mask1[r * cnt + j];
            }
        if (i2 < k)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)(k - i2),
                        (int)cnt, -1.0, err, (int)cnt, u + i1 * k + i2, (int)k, 1.0, W + i2,
                        (int)k);
    }
    for (int64_t i = 0; i < m * k; i++) w[i] = (float)W[i];
    for (int64_t i = 0; mask_out && i < m * k; i++)
        if (w[i] == 0.0f) mask_out[i] = 0;
done:
    qs__free(u);
    qs__free(hd);
    qs__free(W);
    qs__free(w1);
    qs__free(err);
    qs__free(mask1);
    qs__free(scores);
    qs__free(keys);
    return st;
}

extern void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a,
                    const int *lda, double *b, const int *ldb, int *info, size_t uplo_len);

enum qs_status qs__sparse_fit_dense(float *w, int64_t m, int64_t k, const double *c,
                                    const double *h, float damp, struct qs_diag *diag) {
    if (k > 46340 || m > INT32_MAX)
        return qs__diag(diag, QS_STATUS_UNSUPPORTED, "fit: matrix too large");
    double *hc = qs__malloc((size_t)(k * k) * sizeof *hc);
    double *wd = qs__malloc((size_t)(m * k) * sizeof *wd);
    double *a = qs__malloc((size_t)(m * k) * sizeof *a);
    enum qs_status st = QS_STATUS_OK;
    if (!hc || !wd || !a) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "fit: out of memory (k = %lld)", (long long)k);
        goto done;
    }
    double mean = 0.0;
    for (int64_t i = 0; i < k; i++) mean += h[i * k + i];
    mean = mean > 0.0 ? mean / (double)k : 1.0;
    int n = (int)k, nrhs = (int)m, info = -1;
    for (int t = 0; t < 4 && info; t++) {
        memcpy(hc, h, (size_t)(k * k) * sizeof *hc);
        for (int64_t i = 0; i < k; i++) {
            if (hc[i * k + i] == 0.0) hc[i * k + i] = 1.0;
            hc[i * k + i] += (damp > 0.0f ? damp : 1e-4f) * mean * pow(10.0, t);
        }
        dpotrf_("L", &n, hc, &n, &info, 1);
    }
    if (info) {
        st = qs__diag(diag, QS_STATUS_NUMERIC, "fit: H is not positive definite");
        goto done;
    }
    for (int64_t i = 0; i < m * k; i++) wd[i] = w[i];
    // A = W C, then A (H + d I)^-1: row-major A is column-major A^T, which dpotrs solves
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)k, (int)k, 1.0, wd,
                (int)k, c, (int)k, 0.0, a, (int)k);
    dpotrs_("L", &n, &nrhs, hc, &n, a, &n, &info, 1);
    if (info) {
        st = qs__diag(diag, QS_STATUS_NUMERIC, "fit: LAPACK dpotrs %d", info);
        goto done;
    }
    for (int64_t i = 0; i < m * k; i++) w[i] = (float)a[i];
done:
    qs__free(hc);
    qs__free(wd);
    qs__free(a);
    return st;
}
