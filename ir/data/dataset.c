// A dataset: input arrays + labels with a common sample count, and batching over it.
#include "ir/data/data-impl.h"

void qs_dataset_free(struct qs_dataset *ds) {
    if (!ds) return;
    for (int i = 0; i < QS_DATASET_MAX_INPUTS; i++) {
        qs_array_free(&ds->inputs[i]);
        qs__free(ds->input_names[i]);
    }
    qs_array_free(&ds->labels);
    qs__free(ds->labels_name);
    memset(ds, 0, sizeof *ds);
}

enum qs_status qs_dataset_load(struct qs_dataset *ds_out, const char *const *input_specs,
                               int n_inputs, const char *labels_spec, struct qs_diag *diag) {
    if (n_inputs < 1 || n_inputs > QS_DATASET_MAX_INPUTS)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "%d data inputs given, expected 1..%d",
                        n_inputs, QS_DATASET_MAX_INPUTS);
    struct qs_dataset ds;
    memset(&ds, 0, sizeof ds);
    enum qs_status st = QS_STATUS_OK;
    for (int i = 0; i < n_inputs; i++) {
        st = qs__data_load_spec(input_specs[i], &ds.inputs[i], &ds.input_names[i], diag);
        if (st != QS_STATUS_OK) goto error;
        ds.n_inputs = i + 1;
        const struct qs_array *a = &ds.inputs[i];
        if (a->rank < 1) {
            st = qs__diag(diag, QS_STATUS_INVALID_ARG,
                          "'%s': a scalar, not an array of samples [N,...]", ds.input_names[i]);
            goto error;
        }
        if (i == 0) {
            ds.count = a->dims[0];
        } else if (a->dims[0] != ds.count) {
            st = qs__diag(diag, QS_STATUS_INVALID_ARG, "'%s' has %lld samples but '%s' has %lld",
                          ds.input_names[i], (long long)a->dims[0], ds.input_names[0],
                          (long long)ds.count);
            goto error;
        }
    }
    if (ds.count == 0) {
        st = qs__diag(diag, QS_STATUS_INVALID_ARG, "'%s': no samples", ds.input_names[0]);
        goto error;
    }
    if (labels_spec) {
        struct qs_array raw;
        st = qs__data_load_spec(labels_spec, &raw, &ds.labels_name, diag);
        if (st != QS_STATUS_OK) goto error;
        st = qs_array_to_labels(&raw, ds.labels_name, &ds.labels, diag);
        qs_array_free(&raw);
        if (st != QS_STATUS_OK) goto error;
        if (ds.labels.dims[0] != ds.count) {
            st = qs__diag(diag, QS_STATUS_INVALID_ARG, "'%s' has %lld labels but '%s' has %lld "
                          "samples",
                          ds.labels_name, (long long)ds.labels.dims[0], ds.input_names[0],
                          (long long)ds.count);
            goto error;
        }
    }
    *ds_out = ds;
    return QS_STATUS_OK;
error:
    qs_dataset_free(&ds);
    return st;
}

int64_t qs_dataset_batch_count(const struct qs_dataset *ds, int64_t batch) {
    if (batch <= 0 || ds->count <= 0) return 0;
    return (ds->count + batch - 1) / batch;
}

void qs_dataset_batch_range(const struct qs_dataset *ds, int64_t batch, int64_t index,
                            int64_t *begin_out, int64_t *count_out) {
    *begin_out = *count_out = 0;
    if (index < 0 || index >= qs_dataset_batch_count(ds, batch)) return;
    *begin_out = index * batch;
    *count_out = QS_MIN(batch, ds->count - *begin_out);
}

enum qs_status qs_dataset_fill(const struct qs_dataset *ds, int i,
                               const struct qs_preprocess *pp, int64_t begin, int64_t count,
                               const struct qs_tensor_info *target, void *dst,
                               struct qs_diag *diag) {
    if (i < 0 || i >= ds->n_inputs)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "dataset input %d of %d", i, ds->n_inputs);
    return qs_preprocess_apply(pp, &ds->inputs[i], ds->input_names[i], begin, count, target,
                               dst, diag);
}
