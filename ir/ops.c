#include "ir/ir-impl.h"
#include "ir/ops/ew-impl.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>

static const char *const op_names[] = {
    "",
#define QS_OP(id, name, sym) name,
#include "ir/ops.def"
#undef QS_OP
};
static_assert(QS_COUNTOF(op_names) == QS_OP_COUNT, "op name table out of sync");

// The domain of each op: QS_OP_MS rows (ir/ops/quant.def) are onnxruntime contrib ops.
static const char *const op_domains[] = {
    "",
#define QS_OP(id, name, sym) "",
#define QS_OP_MS(id, name, sym) "com.microsoft",
#include "ir/ops.def"
#undef QS_OP_MS
#undef QS_OP
};
static_assert(QS_COUNTOF(op_domains) == QS_OP_COUNT, "op domain table out of sync");

const struct qs_op_def *qs__op_def(enum qs_op op) {
    switch (op) {
#define QS_OP(id, name, sym) case QS_OP_##id: return &qs__opdef_##sym;
#include "ir/ops.def"
#undef QS_OP
    default: return NULL;
    }
}

const char *qs__op_name(enum qs_op op) {
    return (unsigned)op < QS_OP_COUNT ? op_names[op] : "";
}

enum qs_op qs__op_lookup(const char *domain, const char *op_type) {
    if (!domain || strcmp(domain, "ai.onnx") == 0) domain = "";
    for (int i = 1; i < QS_OP_COUNT; i++)
        if (strcmp(op_names[i], op_type) == 0 && strcmp(op_domains[i], domain) == 0)
            return qs__op_def((enum qs_op)i) ? i : QS_OP_UNKNOWN;
    return QS_OP_UNKNOWN;
}

enum qs_status qs__node_err(const qs_kctx *k, enum qs_status status, const char *fmt, ...) {
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return qs__diag(k->diag, status, "node '%s' (%s): %s", k->node->name, k->node->op_type, buf);
}

static uint16_t read_u16(const void *p, int64_t i) { return ((const uint16_t *)p)[i]; }

double qs__view_get_f64(const qs_view *v, int64_t i) {
    const void *p = v->data;
    switch (v->dtype) {
    case QS_DTYPE_F32: return ((const float *)p)[i];
    case QS_DTYPE_F64: return ((const double *)p)[i];
    case QS_DTYPE_F16: return qs__ew_f16_to_f32(read_u16(p, i));
    case QS_DTYPE_BF16: {
        uint32_t u = (uint32_t)read_u16(p, i) << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    case QS_DTYPE_I8: return ((const int8_t *)p)[i];
    case QS_DTYPE_U8: return ((const uint8_t *)p)[i];
    case QS_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0;
    case QS_DTYPE_I16: return ((const int16_t *)p)[i];
    case QS_DTYPE_U16: return ((const uint16_t *)p)[i];
    case QS_DTYPE_I32: return ((const int32_t *)p)[i];
    case QS_DTYPE_U32: return ((const uint32_t *)p)[i];
    case QS_DTYPE_I64: return (double)((const int64_t *)p)[i];
    case QS_DTYPE_U64: return (double)((const uint64_t *)p)[i];
    default: return 0;
    }
}

int64_t qs__view_get_i64(const qs_view *v, int64_t i) {
    switch (v->dtype) {
    case QS_DTYPE_I64: return ((const int64_t *)v->data)[i];
    case QS_DTYPE_U64: return (int64_t)((const uint64_t *)v->data)[i];
    case QS_DTYPE_I32: return ((const int32_t *)v->data)[i];
    default: {
        double d = qs__view_get_f64(v, i);
        if (!(d > -9.2e18 && d < 9.2e18)) return d > 0 ? INT64_MAX : INT64_MIN;
        return (int64_t)d;
    }
    }
}

bool qs__broadcast_shape(int ra, const int64_t *a, int rb, const int64_t *b, int *r_out,
                         int64_t *out) {
    int r = QS_MAX(ra, rb);
    if (r > QS_MAX_RANK) return false;
    for (int i = 0; i < r; i++) {
        int64_t da = i < r - ra ? 1 : a[i - (r - ra)];
        int64_t db = i < r - rb ? 1 : b[i - (r - rb)];
        if (da == db || db == 1)
            out[i] = da;
        else if (da == 1)
            out[i] = db;
        else
            return false;
    }
    *r_out = r;
    return true;
}
