// Sparse storage formats of kernels/spmm.h: names and exact byte counts.
#include "kernels/spmm.h"

#include <strings.h>

static const char *const g_names[QS_SPARSE_FORMAT_COUNT] = {
    "dense", "csr", "csr-delta", "bsr-1x4", "bsr-4x1", "bsr-8x1", "2:4", "4:8",
};

const char *qs__sparse_format_name(enum qs_sparse_format f) {
    return (unsigned)f < QS_SPARSE_FORMAT_COUNT ? g_names[f] : NULL;
}

int qs__sparse_format_parse(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < QS_SPARSE_FORMAT_COUNT; i++)
        if (strcasecmp(name, g_names[i]) == 0) return i;
    if (strcasecmp(name, "nm-2-4") == 0 || strcasecmp(name, "2x4") == 0) return QS_SPARSE_NM_2_4;
    if (strcasecmp(name, "nm-4-8") == 0 || strcasecmp(name, "4x8") == 0) return QS_SPARSE_NM_4_8;
    return -1;
}

static size_t div_up(size_t a, size_t b) { return (a + b - 1) / b; }

// Blocks of bh rows x bw columns holding a kept weight.
static size_t count_blocks(size_t m, size_t k, const uint8_t *mask, size_t bh, size_t bw) {
    size_t blocks = 0;
    for (size_t i0 = 0; i0 < m; i0 += bh)
        for (size_t j0 = 0; j0 < k; j0 += bw) {
            bool any = false;
            for (size_t i = i0; i < QS_MIN(m, i0 + bh) && !any; i++)
                for (size_t j = j0; j < QS_MIN(k, j0 + bw) && !any; j++) any = mask[i * k + j] != 0;
            blocks += any;
        }
    return blocks;
}

// Entries of the delta encoding (kept weights plus fillers for gaps over 256).
static size_t delta_entries(size_t m, size_t k, const uint8_t *mask) {
    size_t entries = 0;
    for (size_t i = 0; i < m; i++) {
        size_t prev = (size_t)-1;  // so that the first delta is col + 1
        for (size_t j = 0; j < k; j++) {
            if (!mask[i * k + j]) continue;
            size_t d = j - prev;  // >= 1
            entries += 1 + (d - 1) / 256;
            prev = j;
        }
    }
    return entries;
}

size_t qs__sparse_format_bytes(enum qs_sparse_format f, size_t m, size_t k, size_t nnz,
                               const uint8_t *mask, size_t value_bytes) {
    if (mask) {
        nnz = 0;
        for (size_t i = 0; i < m * k; i++) nnz += mask[i] != 0;
    }
    const size_t vb = value_bytes;
    switch (f) {
    case QS_SPARSE_DENSE:
        return m * k * vb;
    case QS_SPARSE_CSR: {
        size_t ib = k <= 65536 ? 2 : 4;
        return nnz * (vb + ib) + (m + 1) * 4;
    }
    case QS_SPARSE_CSR_DELTA: {
        size_t e = mask ? delta_entries(m, k, mask) : nnz;
        return e * (vb + 1) + (m + 1) * 4;
    }
    case QS_SPARSE_BSR_1X4:
    case QS_SPARSE_BSR_4X1:
    case QS_SPARSE_BSR_8X1: {
        size_t bh = f == QS_SPARSE_BSR_1X4 ? 1 : f == QS_SPARSE_BSR_4X1 ? 4 : 8;
        size_t bw = f == QS_SPARSE_BSR_1X4 ? 4 : 1;
        size_t bs = bh * bw;
        size_t blocks = mask ? count_blocks(m, k, mask, bh, bw) : div_up(nnz, bs);
        size_t ib = div_up(k, bw) <= 65536 ? 2 : 4;
        return blocks * (bs * vb + ib) + (div_up(m, bh) + 1) * 4;
    }
    case QS_SPARSE_NM_2_4:
    case QS_SPARSE_NM_4_8: {
        size_t n = f == QS_SPARSE_NM_2_4 ? 2 : 4, gm = f == QS_SPARSE_NM_2_4 ? 4 : 8;
        size_t bits = f == QS_SPARSE_NM_2_4 ? 2 : 3;
        size_t values = m * div_up(k, gm) * n;
        return values * vb + div_up(values * bits, 8);
    }
    default:
        return 0;
    }
}

enum qs_sparse_format qs__sparse_csr_best(size_t m, size_t k, const uint8_t *mask,
                                          size_t value_bytes, size_t *bytes_out) {
    size_t a = qs__sparse_format_bytes(QS_SPARSE_CSR, m, k, 0, mask, value_bytes);
    size_t b = qs__sparse_format_bytes(QS_SPARSE_CSR_DELTA, m, k, 0, mask, value_bytes);
    if (bytes_out) *bytes_out = QS_MIN(a, b);
    return b < a ? QS_SPARSE_CSR_DELTA : QS_SPARSE_CSR;
}

bool qs__sparse_mask_fits(enum qs_sparse_format f, size_t m, size_t k, const uint8_t *mask) {
    if (f != QS_SPARSE_NM_2_4 && f != QS_SPARSE_NM_4_8) return true;
    size_t n = f == QS_SPARSE_NM_2_4 ? 2 : 4, gm = f == QS_SPARSE_NM_2_4 ? 4 : 8;
    for (size_t i = 0; i < m; i++)
        for (size_t j0 = 0; j0 < k; j0 += gm) {
            size_t kept = 0;
            for (size_t j = j0; j < QS_MIN(k, j0 + gm); j++) kept += mask[i * k + j] != 0;
            if (kept > n) return false;
        }
    return true;
}
