// Honest byte counts: for every layer the cheapest of dense and its sparse formats
// (kernels/spmm.h gives each format's exact size), every index, pointer, scale and bias
// included; every other initializer at its element size.
#include "sparse/sparse-impl.h"
#include "kernels/spmm.h"

#include <string.h>

static size_t div_up(size_t a, size_t b) { return (a + b - 1) / b; }

// Generic BSR with r x c blocks (shapes kernels/spmm.h has no enum for): per stored block
// r*c values and a block-column index, plus block-row pointers.
static size_t bsr_bytes(size_t m, size_t k, size_t r, size_t c, size_t blocks, size_t vb) {
    size_t ib = div_up(k, c) <= 65536 ? 2 : 4;
    return blocks * (r * c * vb + ib) + (div_up(m, r) + 1) * 4;
}

// Bitmap storage: one bit per weight (kept or not, row-major over the whole matrix) and the
// kept values in order. Cheaper than CSR's 16-bit indices below ~94% sparsity for int8
// weights (at 50%: 0.625 bytes per weight against CSR's 1.5), so "cheapest format" must
// know it. A storage format only: the executor packs the same mask as CSR or dense.
static size_t bitmap_bytes(size_t m, size_t k, size_t nnz, size_t vb) {
    return nnz * vb + div_up(m * k, 8);
}

// Bytes of one layer's weight matrix (m x k) as stored under `lp`. `cur` is the weight the
// graph runs with now in W[m][k] order when it differs from the file's (an override of
// this policy), else NULL: with it every count comes from the actual mask.
static size_t weight_bytes(size_t m, size_t k, const struct qs_layer_policy *lp,
                           const float *cur, size_t vb) {
    size_t n = m * k;
    size_t best = qs__sparse_format_bytes(QS_SPARSE_DENSE, m, k, n, NULL, vb);
    struct qs_prune_pattern pat;
    if (!lp || lp->sparsity <= 0.0f || qs_prune_pattern_parse(lp->pattern, &pat, NULL))
        return best;
    uint8_t *mask = cur ? qs__malloc(n) : NULL;
    if (mask)
        for (size_t i = 0; i < n; i++) mask[i] = cur[i] != 0.0f;
    size_t nnz = 0;
    switch (pat.kind) {
    case QS_PATTERN_UNSTRUCTURED:
        nnz = n - (size_t)qs__sparse_count(lp->sparsity, (int64_t)n);
        break;
    case QS_PATTERN_NM:
        for (size_t j = 0; j < k; j += (size_t)pat.m)
            nnz += m * QS_MIN((size_t)pat.n, QS_MIN((size_t)pat.m, k - j));
        if ((pat.n == 2 && pat.m == 4) || (pat.n == 4 && pat.m == 8)) {
            enum qs_sparse_format f = pat.m == 4 ? QS_SPARSE_NM_2_4 : QS_SPARSE_NM_4_8;
            if (!mask || qs__sparse_mask_fits(f, m, k, mask))
                best = QS_MIN(best, qs__sparse_format_bytes(f, m, k, nnz, mask, vb));
        }
        break;
    case QS_PATTERN_BLOCK: {
        size_t units = div_up(m, (size_t)pat.r) * div_up(k, (size_t)pat.c);
        size_t kept = units - (size_t)qs__sparse_count(lp->sparsity, (int64_t)units);
        nnz = QS_MIN(n, kept * (size_t)(pat.r * pat.c));
        if (!mask) best = QS_MIN(best, bsr_bytes(m, k, (size_t)pat.r, (size_t)pat.c, kept, vb));
        break;
    }
    case QS_PATTERN_CHANNEL: {
        // the channels are removed: a smaller dense matrix
        size_t rows = m - (size_t)qs__sparse_count(lp->sparsity, (int64_t)m);
        best = QS_MIN(best, rows * k * vb);
        nnz = rows * k;
        break;
    }
    }
    if (mask) {
        size_t csr, kept = 0;
        qs__sparse_csr_best(m, k, mask, vb, &csr);
        best = QS_MIN(best, csr);
        for (size_t i = 0; i < n; i++) kept += mask[i];
        best = QS_MIN(best, bitmap_bytes(m, k, kept, vb));
        static const enum qs_sparse_format bsr[] = {QS_SPARSE_BSR_1X4, QS_SPARSE_BSR_4X1,
                                                    QS_SPARSE_BSR_8X1};
        for (size_t i = 0; i < QS_COUNTOF(bsr); i++)
            best = QS_MIN(best, qs__sparse_format_bytes(bsr[i], m, k, 0, mask, vb));
        if (pat.kind == QS_PATTERN_BLOCK) {
            size_t blocks = 0;
            for (size_t r0 = 0; r0 < m; r0 += (size_t)pat.r)
                for (size_t c0 = 0; c0 < k; c0 += (size_t)pat.c) {
                    bool any = false;
                    for (size_t r = r0; r < QS_MIN(m, r0 + (size_t)pat.r) && !any; r++)
                        for (size_t c = c0; c < QS_MIN(k, c0 + (size_t)pat.c) && !any; c++)
                            any = mask[r * k + c];
                    blocks += any;
                }
            best = QS_MIN(best, bsr_bytes(m, k, (size_t)pat.r, (size_t)pat.c, blocks, vb));
        }
    } else {
        best = QS_MIN(best, qs__sparse_format_bytes(QS_SPARSE_CSR, m, k, nnz, NULL, vb));
        best = QS_MIN(best, bitmap_bytes(m, k, nnz, vb));
        if (pat.kind == QS_PATTERN_BLOCK && pat.c == 4 && pat.r == 1)
            best = QS_MIN(best, qs__sparse_format_bytes(QS_SPARSE_BSR_1X4, m, k, nnz, NULL, vb));
        if (pat.kind == QS_PATTERN_BLOCK && pat.c == 1 && (pat.r == 4 || pat.r == 8))
            best = QS_MIN(best, qs__sparse_format_bytes(pat.r == 4 ? QS_SPARSE_BSR_4X1
                                                        : QS_SPARSE_BSR_8X1, m, k, nnz, NULL, vb));
    }
    qs__free(mask);
    return best;
}

size_t qs_model_bytes(const qs_graph_t *g, const qs_policy_t *policy, struct qs_diag *diag) {
    if (!g) {
        qs__diag(diag, QS_STATUS_INVALID_ARG, "model bytes: no graph");
        return 0;
    }
    if (policy && qs_policy_check(policy, g, diag) != QS_STATUS_OK) return 0;
    int nt = qs_graph_tensor_count(g);
    uint8_t *layer_t = qs__calloc((size_t)QS_MAX(nt, 1), 1);   // 1: layer constant
    uint8_t *qparam_t = qs__calloc((size_t)QS_MAX(nt, 1), 1);  // 1: has a scale + zero point
    if (!layer_t || !qparam_t) {
        qs__free(layer_t);
        qs__free(qparam_t);
        qs__diag(diag, QS_STATUS_NOMEM, "out of memory (model bytes)");
        return 0;
    }
    size_t total = 0;
    bool ok = true;
    for (int li = 0; li < qs_graph_layer_count(g) && ok; li++) {
        struct qs_layer_info info;
        struct qs_layer_weights lw;
        if (qs_graph_layer_info(g, li, &info) != QS_STATUS_OK ||
            qs_graph_layer_weights(g, li, &lw, NULL) != QS_STATUS_OK)
            continue;  // not float32: counted below as a plain initializer
        const struct qs_layer_policy *lp = policy ? qs_policy_get(policy, info.name) : NULL;
        int w_bits = lp ? lp->w_bits : 32;
        size_t vb = (size_t)w_bits / 8;
        struct qs__wview v;
        size_t m, k;
        float *cur = NULL;
        if (qs__sparse_wview(g, li, &v, NULL) == QS_STATUS_OK) {
            m = (size_t)v.m;
            k = (size_t)v.k;
            if (lp && lp->sparsity > 0.0f && lw.w != lw.w_file &&
                (cur = qs__malloc(m * k * sizeof *cur)))
                qs__sparse_to_rows(&v, lw.w, cur);
        } else {
            m = 1;
            k = (size_t)lw.w_numel;
            lp = lp && lp->sparsity > 0.0f ? NULL : lp;  // no sparse format for this layout
        }
        total += weight_bytes(m, k, lp, cur, vb);
        qs__free(cur);
        size_t rows = m;
        if (lp && lp->sparsity > 0.0f && !strcmp(lp->pattern, "channel"))
            rows = m - (size_t)qs__sparse_count(lp->sparsity, (int64_t)m);
        if (lw.b_tensor >= 0) total += rows * 4;    // fp32 bias, or int32 for int8 weights
        if (w_bits == 8) total += rows * 4;         // per-channel fp32 scales
        layer_t[lw.w_tensor] = 1;
        if (lw.b_tensor >= 0) layer_t[lw.b_tensor] = 1;
        if (lp && lp->a_bits == 8) {
            struct qs_node_info ni;
            if (qs_graph_node_info(g, info.node, &ni) == QS_STATUS_OK) {
                for (int j = 0; j < ni.n_inputs && j < 4; j++)
                    if (ni.inputs[j].id != lw.w_tensor && ni.inputs[j].id != lw.b_tensor &&
                        ni.inputs[j].id >= 0 && ni.inputs[j].id < nt)
                        qparam_t[ni.inputs[j].id] = 1;
                if (ni.n_outputs > 0 && ni.outputs[0].id >= 0 && ni.outputs[0].id < nt)
                    qparam_t[ni.outputs[0].id] = 1;
            }
        }
    }
    for (int t = 0; t < nt; t++) {
        if (qparam_t[t]) total += 4 + 1;  // fp32 scale + 8-bit zero point
        struct qs_tensor_info ti;
        const void *data;
        if (layer_t[t] || qs_graph_tensor(g, t, &ti, &data) != QS_STATUS_OK || !data) continue;
        size_t n = qs_dtype_size(ti.dtype);
        for (int d = 0; d < ti.rank; d++) n *= (size_t)ti.dims[d];
        total += n;
    }
    qs__free(layer_t);
    qs__free(qparam_t);
    return total;
}
