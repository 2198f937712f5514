#!/usr/bin/env python3
"""Writes the quantized-operator fixtures under tests/fixtures/qops/ (tests/ir/test-qlinear-*.c).

Run from anywhere: python3 scripts/make-qop-fixtures.py  (needs numpy, onnx, onnxruntime).
The outputs are committed so that the test suite needs no Python; rerunning with the same
onnx/onnxruntime versions leaves `git diff` empty (every random value is seeded).

Each case is a folder in the layout of the ONNX backend tests:
    <case>/model.onnx, <case>/test_data_set_0/input_N.pb, output_N.pb
The outputs are computed by onnxruntime (CPU, one thread). Every 8-bit tensor a node
produces is also a graph output, so the C test compares each intermediate tensor, not only
the last one. A case may carry tolerance.txt: "<max steps> <min exact fraction>" for 8-bit
outputs where onnxruntime's arithmetic is not reproduced bit for bit (an approximate
sigmoid, the float convolution of a QDQ model).

Cases:
  qop_cnn_u8, qop_cnn_s8   quantize_static (QOperator, per channel) of a small CNN: convs
                           (3x3, depthwise, grouped 1x1, strided, dilated), Relu, residual
                           Add, AveragePool, Concat, GlobalAveragePool, Flatten, Gemm;
                           uint8 or int8 activations, int8 weights.
  qop_maxpool_u8           the same quantizer through MaxPool (uint8 MaxPool).
  qop_mlp                  quantize_static of MatMul (batched, and of two activations),
                           Mul, Sigmoid, LeakyRelu, Transpose, Reshape, Concat, Slice, Pad.
  qop_conv1d, qop_conv3d   1-D and 3-D convolutions (dilation; stride 2 with SAME_UPPER).
  qdq_cnn                  the CNN in QDQ format (reference: onnxruntime without graph
                           optimizations, i.e. float convolutions between Q/DQ pairs).
  hand_*                   hand-built graphs for what the quantizer never writes: uint8
                           weights with zero point 128 and 250 (the generic path), ConvInteger,
                           MatMulInteger with per-column zero points, QGemm with transA and float
                           output, QLinearAdd/QLinearMul broadcasting, QLinearAveragePool
                           (count_include_pad, ceil_mode, channels_last), QLinearConcat with
                           mixed scales, QLinearSoftmax (opset 12 and 13 axes),
                           QuantizeLinear/DequantizeLinear per axis and blocked,
                           DynamicQuantizeLinear; uint8/int8 Slice, Pad, Concat,
                           Identity, Transpose, Reshape, Flatten, Squeeze, Unsqueeze, Split,
                           Gather, DepthToSpace and MaxPool.
"""
import os
import shutil

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                      quantize_static)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "qops")
TMP = "/tmp/qs-qop-fixtures"
MS = "com.microsoft"


def rng(seed):
    return np.random.default_rng(seed)


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


NP2ONNX = {np.dtype(np.uint8): TensorProto.UINT8, np.dtype(np.int8): TensorProto.INT8,
           np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int32): TensorProto.INT32}


def ort_session(model, optimize=True):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def expose_8bit(model, feeds, optimize):
    """Adds every 8-bit tensor a node produces as a graph output (types from a probe run)."""
    outs = {o.name for o in model.graph.output}
    extra = [o for n in model.graph.node for o in n.output if o and o not in outs]
    if not extra:
        return model
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for o in extra:
        probe.graph.output.append(helper.make_empty_tensor_value_info(o))
    sess = ort_session(probe, optimize)
    vals = sess.run(None, feeds)
    types = {o.name: NP2ONNX.get(v.dtype) for o, v in zip(sess.get_outputs(), vals)}
    for o in extra:
        if types[o] in (TensorProto.UINT8, TensorProto.INT8):
            model.graph.output.append(helper.make_tensor_value_info(o, types[o], None))
    return model


def save_case(name, model, feeds, optimize=True, tolerance=None, expose=True):
    """Runs model on feeds with onnxruntime and writes the case folder."""
    if expose:
        model = expose_8bit(model, feeds, optimize)
    sess = ort_session(model, optimize)
    outs = sess.run(None, feeds)
    d = os.path.join(ROOT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    onnx.save(model, os.path.join(d, "model.onnx"))
    for i, inp in enumerate(sess.get_inputs()):
        t = numpy_helper.from_array(feeds[inp.name], inp.name)
        with open(os.path.join(d, "test_data_set_0", f"input_{i}.pb"), "wb") as f:
            f.write(t.SerializeToString())
    for i, (o, v) in enumerate(zip(sess.get_outputs(), outs)):
        t = numpy_helper.from_array(v, o.name)
        with open(os.path.join(d, "test_data_set_0", f"output_{i}.pb"), "wb") as f:
            f.write(t.SerializeToString())
    if tolerance:
        with open(os.path.join(d, "tolerance.txt"), "w") as f:
            f.write(f"{tolerance[0]} {tolerance[1]}\n")
    size = sum(os.path.getsize(os.path.join(r, fn)) for r, _, fs in os.walk(d) for fn in fs)
    print(f"{name}: {len(outs)} outputs, {size} bytes")


class Reader(CalibrationDataReader):
    def __init__(self, name, shape, n, seed):
        r = rng(seed)
        self.data = [{name: r.standard_normal(shape).astype(np.float32)} for _ in range(n)]
        self.i = 0

    def get_next(self):
        if self.i >= len(self.data):
            return None
        self.i += 1
        return self.data[self.i - 1]


def quantize(model, name, shape, fmt, act, seed, per_channel=True, extra_options=None):
    os.makedirs(TMP, exist_ok=True)
    src, dst = os.path.join(TMP, name + "_f32.onnx"), os.path.join(TMP, name + "_q.onnx")
    onnx.save(model, src)
    quantize_static(src, dst, Reader("x", shape, 8, seed), quant_format=fmt,
                    per_channel=per_channel, activation_type=act, weight_type=QuantType.QInt8,
                    extra_options=extra_options or {})
    return onnx.load(dst)


def conv_w(r, m, c, kh, kw=None, scale=0.3):
    shape = (m, c, kh) if kw is None else (m, c, kh, kw)
    return (r.standard_normal(shape) * scale).astype(np.float32)


def cnn_model(seed):
    """A small CNN with most layer kinds of a quantized image classifier."""
    r = rng(seed)
    inits, nodes = [], []

    def conv(x, y, m, c, k, **attrs):
        w = conv_w(r, m, c // attrs.get("group", 1), k, k)
        b = (r.standard_normal(m) * 0.1).astype(np.float32)
        inits.extend([init(y + "_w", w), init(y + "_b", b)])
        nodes.append(helper.make_node("Conv", [x, y + "_w", y + "_b"], [y], name=y,
                                      kernel_shape=[k, k], **attrs))
        return y

    def relu(x, y):
        nodes.append(helper.make_node("Relu", [x], [y], name=y))
        return y

    h = relu(conv("x", "c1", 8, 3, 3, pads=[1, 1, 1, 1]), "r1")
    h = relu(conv(h, "dw", 8, 8, 3, pads=[1, 1, 1, 1], strides=[2, 2], group=8), "r2")
    a = conv(h, "g1", 8, 8, 1, group=2)
    b = conv(h, "c2", 8, 8, 3, pads=[2, 2, 2, 2], dilations=[2, 2])
    nodes.append(helper.make_node("Add", [a, b], ["add"], name="add"))
    h = relu("add", "r3")
    nodes.append(helper.make_node("AveragePool", [h], ["ap"], name="ap", kernel_shape=[3, 3],
                                  pads=[1, 1, 1, 1]))
    c = conv(h, "c3", 4, 8, 1)
    nodes.append(helper.make_node("Concat", ["ap", c], ["cat"], name="cat", axis=1))
    nodes.append(helper.make_node("GlobalAveragePool", ["cat"], ["gap"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flat", axis=1))
    inits.append(init("fc_w", (r.standard_normal((5, 12)) * 0.3).astype(np.float32)))
    inits.append(init("fc_b", (r.standard_normal(5) * 0.1).astype(np.float32)))
    nodes.append(helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["y"], name="fc", transB=1))
    g = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                       ["N", 3, 10, 10])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])],
                          inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def maxpool_model(seed):
    r = rng(seed)
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="c", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="r"),
        helper.make_node("MaxPool", ["r"], ["mp"], name="mp", kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["mp", "w2", "b2"], ["y"], name="c2", kernel_shape=[1, 1]),
    ]
    inits = [init("w", conv_w(r, 6, 3, 3, 3)), init("b", np.zeros(6, np.float32)),
             init("w2", conv_w(r, 4, 6, 1, 1)), init("b2", np.zeros(4, np.float32))]
    g = helper.make_graph(nodes, "mp", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                      ["N", 3, 9, 9])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def mlp_model(seed):
    r = rng(seed)
    f = np.float32
    inits = [init("w1", (r.standard_normal((16, 12)) * 0.3).astype(f)),
             init("w2", (r.standard_normal((12, 12)) * 0.3).astype(f)),
             init("shape", np.array([0, -1], np.int64)),
             init("starts", np.array([1], np.int64)), init("ends", np.array([11], np.int64)),
             init("axes", np.array([2], np.int64)),
             init("pads", np.array([0, 0, 1, 0, 0, 1], np.int64))]
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["m1"], name="m1"),            # [N,4,12]
        helper.make_node("Sigmoid", ["m1"], ["s"], name="sig"),
        helper.make_node("LeakyRelu", ["m1"], ["lr"], name="lrelu", alpha=0.1),
        helper.make_node("Mul", ["s", "lr"], ["mul"], name="mul"),
        helper.make_node("MatMul", ["mul", "w2"], ["m2"], name="m2"),
        helper.make_node("Transpose", ["m2"], ["t"], name="t", perm=[0, 2, 1]),  # [N,12,4]
        helper.make_node("MatMul", ["m2", "t"], ["aa"], name="aa"),            # [N,4,4]
        helper.make_node("Slice", ["m2", "starts", "ends", "axes"], ["sl"], name="sl"),  # [N,4,10]
        helper.make_node("Pad", ["sl", "pads"], ["pd"], name="pd"),             # [N,4,12]
        helper.make_node("Add", ["pd", "m2"], ["add"], name="add"),
        helper.make_node("Concat", ["add", "aa"], ["cat"], name="cat", axis=2),  # [N,4,16]
        helper.make_node("Reshape", ["cat", "shape"], ["y"], name="rs"),
    ]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                       ["N", 4, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def conv_nd_model(seed, nd):
    r = rng(seed)
    k = [3] * nd
    w1 = (r.standard_normal([6, 2] + k) * 0.3).astype(np.float32)
    w2 = (r.standard_normal([4, 6] + [2] * nd) * 0.3).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="c1", kernel_shape=k,
                              dilations=[2] * nd, pads=[2] * (2 * nd)),
             helper.make_node("Relu", ["c1"], ["r1"], name="r1"),
             helper.make_node("Conv", ["r1", "w2"], ["y"], name="c2", kernel_shape=[2] * nd,
                              strides=[2] * nd, auto_pad="SAME_UPPER")]
    inits = [init("w1", w1), init("b1", np.full(6, 0.05, np.float32)), init("w2", w2)]
    sp = [11] if nd == 1 else [5, 6, 7]
    g = helper.make_graph(nodes, f"conv{nd}d",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2] + sp)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    return m, [2, 2] + sp


def randn(r, shape):
    return r.standard_normal(shape).astype(np.float32)


def quantized_cases():
    x = randn(rng(100), (2, 3, 10, 10))
    for act, tag in ((QuantType.QUInt8, "u8"), (QuantType.QInt8, "s8")):
        q = quantize(cnn_model(1), "cnn_" + tag, (1, 3, 10, 10), QuantFormat.QOperator, act, 2)
        save_case("qop_cnn_" + tag, q, {"x": x})
    q = quantize(maxpool_model(3), "mp", (1, 3, 9, 9), QuantFormat.QOperator, QuantType.QUInt8, 4)
    save_case("qop_maxpool_u8", q, {"x": randn(rng(101), (2, 3, 9, 9))})
    q = quantize(mlp_model(5), "mlp", (1, 4, 16), QuantFormat.QOperator, QuantType.QUInt8, 6)
    # onnxruntime's sigmoid table uses an approximate logistic: allow one step there.
    save_case("qop_mlp", q, {"x": randn(rng(102), (2, 4, 16))}, tolerance=(1, 0.98))
    for nd in (1, 3):
        m, shape = conv_nd_model(7 + nd, nd)
        q = quantize(m, f"conv{nd}d", [1] + shape[1:], QuantFormat.QOperator, QuantType.QUInt8,
                     8 + nd)
        save_case(f"qop_conv{nd}d", q, {"x": randn(rng(103 + nd), shape)})
    q = quantize(cnn_model(1), "cnn_qdq", (1, 3, 10, 10), QuantFormat.QDQ, QuantType.QUInt8, 2)
    save_case("qdq_cnn", q, {"x": x}, optimize=False, tolerance=(1, 0.99))


# ---------------------------------------------------------------------------------------
# Hand-built graphs.

def model(nodes, inputs, outputs, inits, opset=13, ms=True):
    ops = [helper.make_opsetid("", opset)]
    if ms:
        ops.append(helper.make_opsetid(MS, 1))
    g = helper.make_graph(nodes, "hand", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=ops)
    m.ir_version = 9 if opset >= 21 else 8
    return m


def vi(name, t, shape=None):
    return helper.make_tensor_value_info(name, t, shape)


def hand_conv_cases():
    r = rng(200)
    x = r.integers(0, 256, (2, 4, 7, 7), dtype=np.uint8)
    f = np.float32
    # uint8 weights around 128 (fits int8 after the zero point) and around 250 (does not).
    for tag, wzp in (("wzp128", 128), ("wzp250", 250)):
        w = np.clip(r.integers(-60, 60, (6, 2, 3, 3)) + wzp, 0, 255).astype(np.uint8)
        inits = [init("xs", f(0.02)), init("xz", np.uint8(120)), init("w", w),
                 init("ws", (r.random(6) * 0.01 + 0.005).astype(f)),
                 init("wz", np.full(6, wzp, np.uint8)), init("ys", f(0.05)),
                 init("yz", np.uint8(100)),
                 init("b", r.integers(-500, 500, 6).astype(np.int32))]
        n = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"],
                             ["y"], name="qc", group=2, pads=[1, 0, 1, 2], strides=[1, 2])
        m = model([n], [vi("x", TensorProto.UINT8, ["N", 4, 7, 7])],
                  [vi("y", TensorProto.UINT8)], inits, ms=False)
        save_case("hand_qlinearconv_" + tag, m, {"x": x})
    # ConvInteger (onnxruntime takes uint8 input and scalar zero points only).
    xc = r.integers(0, 256, (1, 3, 6, 6), dtype=np.uint8)
    w = r.integers(0, 256, (4, 3, 2, 2), dtype=np.uint8)
    inits = [init("w", w), init("xz", np.uint8(3)), init("wz", np.uint8(140))]
    n = helper.make_node("ConvInteger", ["x", "w", "xz", "wz"], ["y"], name="ci", pads=[1, 1, 0, 0])
    m = model([n], [vi("x", TensorProto.UINT8, [1, 3, 6, 6])], [vi("y", TensorProto.INT32)], inits,
              opset=10, ms=False)
    save_case("hand_convinteger", m, {"x": xc})
    # int8 activations and output, depthwise with channel multiplier 1, fused nothing.
    xi = r.integers(-128, 128, (1, 5, 6, 6), dtype=np.int8)
    inits = [init("xs", f(0.03)), init("xz", np.int8(-10)),
             init("w", r.integers(-127, 128, (5, 1, 3, 3), dtype=np.int8)),
             init("ws", (r.random(5) * 0.02 + 0.01).astype(f)), init("wz", np.zeros(5, np.int8)),
             init("ys", f(0.04)), init("yz", np.int8(5)),
             init("b", r.integers(-300, 300, 5).astype(np.int32))]
    n = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"],
                         ["y"], name="dw", group=5, pads=[1, 1, 1, 1], strides=[2, 1])
    m = model([n], [vi("x", TensorProto.INT8, [1, 5, 6, 6])], [vi("y", TensorProto.INT8)], inits,
              ms=False)
    save_case("hand_qlinearconv_dw_s8", m, {"x": xi})


def hand_matmul_cases():
    r = rng(300)
    f = np.float32
    # MatMulInteger: per-column zero point of B, batched A (onnxruntime has no per-row A).
    a = r.integers(0, 256, (2, 3, 5), dtype=np.uint8)
    inits = [init("b", r.integers(0, 256, (5, 4), dtype=np.uint8)),
             init("az", np.uint8(200)),
             init("bz", np.array([0, 128, 255, 7], np.uint8))]
    n = helper.make_node("MatMulInteger", ["a", "b", "az", "bz"], ["y"], name="mmi")
    m = model([n], [vi("a", TensorProto.UINT8, [2, 3, 5])], [vi("y", TensorProto.INT32)], inits,
              opset=10, ms=False)
    save_case("hand_matmulinteger", m, {"a": a})
    # QLinearMatMul int8 x int8 -> int8, per-column b scale, 1-D A.
    inits = [init("as", f(0.05)), init("az", np.int8(3)),
             init("b", r.integers(-127, 128, (6, 3), dtype=np.int8)),
             init("bs", (r.random(3) * 0.02 + 0.01).astype(f)), init("bz", np.zeros(3, np.int8)),
             init("ys", f(0.1)), init("yz", np.int8(-4))]
    n = helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"],
                         name="qmm")
    m = model([n], [vi("a", TensorProto.INT8, [6])], [vi("y", TensorProto.INT8)], inits, ms=False)
    save_case("hand_qlinearmatmul_1d_s8", m, {"a": r.integers(-128, 128, 6, dtype=np.int8)})
    # QGemm: transA, transB = 0, alpha, bias [N], float output; and uint8 output with y only.
    for tag, outs in (("f32", ["ys"]), ("u8", ["ys", "yz"])):
        inits = [init("as", f(0.02)), init("az", np.uint8(130)),
                 init("b", r.integers(-127, 128, (7, 5), dtype=np.int8)),
                 init("bs", (r.random(5) * 0.01 + 0.01).astype(f)),
                 init("bz", np.zeros(5, np.int8)),
                 init("c", r.integers(-1000, 1000, 5).astype(np.int32)),
                 init("ys", f(0.07)), init("yz", np.uint8(90))]
        ins = ["a", "as", "az", "b", "bs", "bz", "c"] + outs
        n = helper.make_node("QGemm", ins, ["y"], name="qg", domain=MS, transA=1, alpha=0.75)
        yt = TensorProto.UINT8 if tag == "u8" else TensorProto.FLOAT
        m = model([n], [vi("a", TensorProto.UINT8, [7, 3])], [vi("y", yt)], inits)
        save_case("hand_qgemm_" + tag, m, {"a": r.integers(0, 256, (7, 3), dtype=np.uint8)})


def hand_ew_cases():
    r = rng(400)
    f = np.float32
    for dt, np_t, tag in ((TensorProto.UINT8, np.uint8, "u8"), (TensorProto.INT8, np.int8, "s8")):
        lo, hi = (0, 256) if tag == "u8" else (-128, 128)
        a = r.integers(lo, hi, (2, 3, 4, 5), dtype=np_t)
        b = r.integers(lo, hi, (3, 1, 5), dtype=np_t)
        s = r.integers(lo, hi, (1,), dtype=np_t)
        inits = [init("as", f(0.03)), init("az", np_t(7)), init("bs", f(0.05)),
                 init("bz", np_t(-9 if tag == "s8" else 200)), init("cs", f(0.06)),
                 init("cz", np_t(11)), init("ss", f(0.2)), init("sz", np_t(1))]
        nodes = [
            helper.make_node("QLinearAdd", ["a", "as", "az", "b", "bs", "bz", "cs", "cz"],
                             ["add"], name="add", domain=MS),
            helper.make_node("QLinearAdd", ["s", "ss", "sz", "a", "as", "az", "cs", "cz"],
                             ["adds"], name="adds", domain=MS),
            helper.make_node("QLinearAdd", ["a", "as", "az", "s", "ss", "sz", "cs", "cz"],
                             ["addt"], name="addt", domain=MS),
            helper.make_node("QLinearMul", ["a", "as", "az", "b", "bs", "bz", "cs", "cz"],
                             ["mul"], name="mul", domain=MS),
            helper.make_node("QLinearLeakyRelu", ["add", "cs", "cz", "as", "az"], ["lrelu"],
                             name="lrelu", domain=MS, alpha=0.2),
            helper.make_node("QLinearConcat", ["cs", "cz", "add", "cs", "cz", "mul", "cs", "cz",
                                               "a", "as", "az"], ["cat"], name="cat",
                             domain=MS, axis=-2),
        ]
        m = model(nodes, [vi("a", dt, [2, 3, 4, 5]), vi("b", dt, [3, 1, 5]), vi("s", dt, [1])],
                  [vi(o, dt) for o in ("add", "adds", "addt", "mul", "lrelu", "cat")], inits)
        save_case("hand_ew_" + tag, m, {"a": a, "b": b, "s": s})
    # Pools on uint8: NCHW and channels_last, count_include_pad, ceil_mode, a global window.
    x = r.integers(0, 256, (2, 3, 7, 6), dtype=np.uint8)
    xl = r.integers(0, 256, (2, 7, 6, 3), dtype=np.uint8)
    inits = [init("xs", f(0.04)), init("xz", np.uint8(30)), init("ys", f(0.03)),
             init("yz", np.uint8(40))]
    q = ["xs", "xz", "ys", "yz"]
    nodes = [
        helper.make_node("QLinearAveragePool", ["x"] + q, ["ap1"], name="ap1", domain=MS,
                         kernel_shape=[3, 2], pads=[1, 0, 1, 1], strides=[2, 1],
                         count_include_pad=1),
        helper.make_node("QLinearAveragePool", ["x"] + q, ["ap2"], name="ap2", domain=MS,
                         kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
        helper.make_node("QLinearAveragePool", ["x"] + q, ["ap3"], name="ap3", domain=MS,
                         kernel_shape=[7, 6]),
        helper.make_node("QLinearAveragePool", ["xl"] + q, ["ap4"], name="ap4", domain=MS,
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], channels_last=1),
        helper.make_node("QLinearGlobalAveragePool", ["x"] + q, ["gap"], name="gap", domain=MS),
        helper.make_node("QLinearGlobalAveragePool", ["xl"] + q, ["gapl"], name="gapl",
                         domain=MS, channels_last=1),
        helper.make_node("QLinearSigmoid", ["x"] + q, ["sig"], name="sig", domain=MS),
    ]
    outs = ["ap1", "ap2", "ap3", "ap4", "gap", "gapl", "sig"]
    m = model(nodes, [vi("x", TensorProto.UINT8, [2, 3, 7, 6]),
                      vi("xl", TensorProto.UINT8, [2, 7, 6, 3])],
              [vi(o, TensorProto.UINT8) for o in outs], inits)
    save_case("hand_pool_u8", m, {"x": x, "xl": xl}, tolerance=(1, 0.98))


def hand_softmax_cases():
    r = rng(450)
    f = np.float32
    for dt, np_t, tag, yz in ((TensorProto.UINT8, np.uint8, "u8", 0),
                              (TensorProto.INT8, np.int8, "s8", -120)):
        lo, hi = (0, 256) if tag == "u8" else (-128, 128)
        x = r.integers(lo, hi, (2, 3, 10), dtype=np_t)
        inits = [init("xs", f(0.05)), init("xz", np_t(3)), init("ys", f(1.0 / 256)),
                 init("yz", np_t(yz))]
        q = ["xs", "xz", "ys", "yz"]
        nodes = [helper.make_node("QLinearSoftmax", ["x"] + q, ["sm_last"], name="sm_last",
                                  domain=MS, opset=13, axis=-1),
                 helper.make_node("QLinearSoftmax", ["x"] + q, ["sm_mid"], name="sm_mid",
                                  domain=MS, opset=13, axis=1),
                 helper.make_node("QLinearSoftmax", ["x"] + q, ["sm_flat"], name="sm_flat",
                                  domain=MS, opset=12, axis=1)]
        m = model(nodes, [vi("x", dt, [2, 3, 10])], [vi(o, dt) for o in ("sm_last", "sm_mid",
                                                                         "sm_flat")], inits)
        save_case("hand_softmax_" + tag, m, {"x": x}, tolerance=(1, 0.98))


def hand_qdq_cases():
    r = rng(500)
    f = np.float32
    x = (r.standard_normal((2, 3, 4)) * 3).astype(f)
    x[0, 0, :] = [0.5, 1.5, 2.5, -0.5]  # ties round to even
    inits = [init("s", f(0.5)), init("z", np.uint8(128)), init("s3", np.array([0.5, 0.1, 2], f)),
             init("z3", np.array([-1, 0, 100], np.int8))]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q"),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["dq"], name="dq"),
             helper.make_node("QuantizeLinear", ["x", "s3", "z3"], ["qa"], name="qa", axis=1),
             helper.make_node("DequantizeLinear", ["qa", "s3", "z3"], ["dqa"], name="dqa", axis=1),
             helper.make_node("QuantizeLinear", ["x", "s"], ["qn"], name="qn"),
             helper.make_node("DynamicQuantizeLinear", ["x"], ["dy", "dys", "dyz"], name="dyn")]
    m = model(nodes, [vi("x", TensorProto.FLOAT, [2, 3, 4])],
              [vi("q", TensorProto.UINT8), vi("dq", TensorProto.FLOAT), vi("qa", TensorProto.INT8),
               vi("dqa", TensorProto.FLOAT), vi("qn", TensorProto.UINT8),
               vi("dy", TensorProto.UINT8), vi("dys", TensorProto.FLOAT),
               vi("dyz", TensorProto.UINT8)], inits, ms=False)
    save_case("hand_qdq", m, {"x": x}, expose=False)
    # opset 21: blocked quantization along axis 1 (block 2), int16 output.
    sb = (r.random((2, 2, 4)) * 0.1 + 0.05).astype(f)
    inits = [init("sb", sb), init("zb", np.zeros((2, 2, 4), np.int8)), init("s", f(0.01)),
             init("z16", np.int16(-7))]
    nodes = [helper.make_node("QuantizeLinear", ["x", "sb", "zb"], ["qb"], name="qb", axis=1,
                              block_size=2),
             helper.make_node("DequantizeLinear", ["qb", "sb", "zb"], ["dqb"], name="dqb", axis=1,
                              block_size=2),
             helper.make_node("QuantizeLinear", ["x", "s", "z16"], ["q16"], name="q16")]
    m = model(nodes, [vi("x", TensorProto.FLOAT, [2, 3, 4])],
              [vi("qb", TensorProto.INT8), vi("dqb", TensorProto.FLOAT),
               vi("q16", TensorProto.INT16)], inits, opset=21, ms=False)
    save_case("hand_qdq_opset21", m, {"x": x}, expose=False)


def hand_movement_cases():
    """Ops that move 8-bit values without a scale, as a QOperator graph has them between
    quantized layers."""
    r = rng(600)
    for dt, np_t, tag in ((TensorProto.UINT8, np.uint8, "u8"), (TensorProto.INT8, np.int8, "s8")):
        lo, hi = (0, 256) if tag == "u8" else (-128, 128)
        x = r.integers(lo, hi, (2, 3, 5, 4), dtype=np_t)
        i64 = np.int64
        inits = [init("st", np.array([0, 1, 3], i64)), init("en", np.array([2, 5, 0], i64)),
                 init("ax", np.array([1, 2, 3], i64)), init("sp", np.array([2, 2, -1], i64)),
                 init("pads", np.array([0, 0, 1, 2, 0, 1, 0, 1], np.int64)),
                 init("pv", np_t(7)), init("shape", np.array([2, -1, 4], np.int64)),
                 init("uax", np.array([0], np.int64)), init("split", np.array([1, 2], np.int64)),
                 init("idx", np.array([[3, 0], [1, 1]], np.int64))]
        nodes = [
            helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["slice"], name="slice"),
            helper.make_node("Pad", ["x", "pads", "pv"], ["pad"], name="pad", mode="constant"),
            helper.make_node("Pad", ["x", "pads"], ["padr"], name="padr", mode="reflect"),
            helper.make_node("Concat", ["x", "id"], ["cat"], name="cat", axis=-3),
            helper.make_node("Identity", ["x"], ["id"], name="id"),
            helper.make_node("Transpose", ["x"], ["tr"], name="tr", perm=[0, 2, 3, 1]),
            helper.make_node("Reshape", ["tr", "shape"], ["rs"], name="rs"),
            helper.make_node("Flatten", ["x"], ["fl"], name="fl", axis=2),
            helper.make_node("Unsqueeze", ["fl", "uax"], ["us"], name="us"),
            helper.make_node("Squeeze", ["us", "uax"], ["sq"], name="sq"),
            helper.make_node("Split", ["x", "split"], ["sp1", "sp2"], name="split", axis=1),
            helper.make_node("Gather", ["x", "idx"], ["ga"], name="ga", axis=2),
            helper.make_node("DepthToSpace", ["x"], ["ds"], name="ds", blocksize=1),
        ]
        outs = ["slice", "pad", "padr", "cat", "id", "tr", "rs", "fl", "us", "sq", "sp1", "sp2",
                "ga", "ds"]
        m = model(nodes, [vi("x", dt, [2, 3, 5, 4])], [vi(o, dt) for o in outs], inits, ms=False)
        save_case("hand_movement_" + tag, m, {"x": x}, expose=False)
    # MaxPool on int8 with padding and dilation (uint8 is in qop_maxpool_u8).
    x = r.integers(-128, 128, (1, 2, 7, 7), dtype=np.int8)
    n = helper.make_node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         strides=[2, 2], dilations=[1, 2])
    m = model([n], [vi("x", TensorProto.INT8, [1, 2, 7, 7])], [vi("y", TensorProto.INT8)], [],
              ms=False)
    save_case("hand_maxpool_s8", m, {"x": x}, expose=False)


def main():
    os.makedirs(ROOT, exist_ok=True)
    quantized_cases()
    hand_conv_cases()
    hand_matmul_cases()
    hand_ew_cases()
    hand_softmax_cases()
    hand_qdq_cases()
    hand_movement_cases()


if __name__ == "__main__":
    main()
