// Internal: conversions between protobuf-c ONNX messages and the IR (import and export).
#pragma once

#include "ir/ir-impl.h"
#include "onnx/onnx.pb-c.h"

/// Decodes a TensorProto (typed fields, raw_data or external data relative to base_dir,
/// which may be NULL) into `t->v` with data allocated by qs__aligned_alloc (owns_data set).
/// `what` names the tensor in messages. Errors: PARSE (size mismatch, bad shape), IO
/// (external file), UNSUPPORTED (string/complex dtypes).
QS_INTERNAL enum qs_status qs__tensor_from_proto(const Onnx__TensorProto *tp,
                                                 const char *base_dir, qs_tensor *t,
                                                 struct qs_diag *diag);
