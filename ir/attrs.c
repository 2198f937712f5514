#include "ir/ir-impl.h"

const struct qs_attr *qs__attr(const qs_node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

int64_t qs__attr_i(const qs_node *n, const char *name, int64_t def) {
    const struct qs_attr *a = qs__attr(n, name);
    return a && a->type == QS_ATTR_INT ? a->i : def;
}

float qs__attr_f(const qs_node *n, const char *name, float def) {
    const struct qs_attr *a = qs__attr(n, name);
    if (!a) return def;
    if (a->type == QS_ATTR_FLOAT) return a->f;
    if (a->type == QS_ATTR_INT) return (float)a->i;
    return def;
}

const char *qs__attr_s(const qs_node *n, const char *name, const char *def) {
    const struct qs_attr *a = qs__attr(n, name);
    return a && a->type == QS_ATTR_STRING ? a->s : def;
}

const int64_t *qs__attr_ints(const qs_node *n, const char *name, int *n_out) {
    const struct qs_attr *a = qs__attr(n, name);
    if (!a || a->type != QS_ATTR_INTS) {
        *n_out = 0;
        return NULL;
    }
    *n_out = a->n;
    return a->ints;
}

const float *qs__attr_floats(const qs_node *n, const char *name, int *n_out) {
    const struct qs_attr *a = qs__attr(n, name);
    if (!a || a->type != QS_ATTR_FLOATS) {
        *n_out = 0;
        return NULL;
    }
    *n_out = a->n;
    return a->floats;
}
