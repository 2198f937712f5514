// Prefix reuse between sessions (internal to qsearch; used by search/evaluator.c and the ir
// tests). A search evaluates many candidates that share their first layers: the values live
// after a shared prefix of executed nodes can be stored once and restored instead of
// recomputed. Kernels are deterministic functions of their inputs, so a restored prefix
// gives the same bits as running it.
#ifndef QS_IR_SESSION_REUSE_H
#define QS_IR_SESSION_REUSE_H

#include "kernels/internal.h"
#include "qsearch/ir.h"

#include <stdint.h>

struct qs_session_span {
    uint64_t id;  // digest of the tensor's name, dtype and shape
    void *data;
    size_t bytes;
};

// keys[e] (e < number of executed nodes): digest of everything the values after exec nodes
// 0..e depend on besides the input data (`seed` names it): the batch and every node of the
// prefix. Equal keys mean equal prefixes up to a 64-bit hash collision.
QS_INTERNAL void qs__session_prefix_keys(const qs_session_t *s, uint64_t seed, uint64_t *keys);
// The tensors a run from exec node `cut` reads that nodes before it wrote (or the graph
// inputs): their count, and the first `max` of them in `out`.
QS_INTERNAL int qs__session_live(const qs_session_t *s, int cut, struct qs_session_span *out,
                                 int max);
// Runs exec nodes [begin, end) (the observer is not called).
QS_INTERNAL enum qs_status qs__session_run_range(qs_session_t *s, int begin, int end,
                                                 struct qs_diag *diag);

#endif
