#!/usr/bin/env python3
"""Trains the search-quality benchmark's model with NumPy and writes it as ONNX.

An 11-layer MLP (Gemm x 11, ReLU between) on the 14x14 binarised MNIST test images of
../shared/data/mnist-tiny-cnn (labels from ../shared/data/mnist-test): images 0..7999 train
it, 8000..9999 are held out (the benchmark evaluates candidates on 8000..8999). Eleven
quantizable layers of unequal sizes make 2^11 = 2,048 int8/fp32 candidates, few enough to
evaluate every one.

    python3 bench/search-quality/make_model.py [--data SHARED_DATA_DIR]   # writes mlp11.onnx
    python3 bench/search-quality/make_model.py --outlier-scale 0.5 --out mlp11-mild.onnx

Deterministic (NumPy seed 0); about 20 s on one core.
"""
import argparse
import gzip
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
WIDTHS = [196, 48, 48, 40, 40, 32, 32, 32, 32, 32, 24, 10]
# Outlier units: the input of layer i (1-based, i >= 2) gets one extra unit whose value is a
# constant OUTLIER[i] x the largest activation seen in training; its weights into layer i are
# zero, so the fp32 function is exactly unchanged. Real networks have such outlier channels;
# with per-tensor uint8 activations they widen the quantization step of that tensor by the
# factor, so the layers become unequally sensitive to int8 (without them every layer is
# insensitive and all-int8 is trivially optimal).
OUTLIER = {2: 12.0, 3: 20.0, 5: 30.0, 6: 4.0, 7: 12.0, 9: 24.0, 10: 6.0, 11: 80.0}


def load(shared):
    x = np.fromfile(os.path.join(shared, "mnist-tiny-cnn", "mnist_test_14x14_binarized.u8"),
                    dtype=np.uint8).reshape(10000, 196).astype(np.float32)
    with gzip.open(os.path.join(shared, "mnist-test", "t10k-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read()[8:], dtype=np.uint8).astype(np.int64)
    return x, y


def forward(params, x):
    hs = [x]
    for i, (w, b) in enumerate(params):
        z = hs[-1] @ w.T + b
        hs.append(np.maximum(z, 0) if i < len(params) - 1 else z)
    return hs


def train(x, y, epochs=20, batch=64, lr=1e-3, seed=0):
    rng = np.random.RandomState(seed)
    params = []
    for i in range(len(WIDTHS) - 1):
        fan_in = WIDTHS[i]
        w = rng.randn(WIDTHS[i + 1], fan_in).astype(np.float32) * np.sqrt(2.0 / fan_in)
        params.append([w, np.zeros(WIDTHS[i + 1], np.float32)])
    m = [[np.zeros_like(p) for p in layer] for layer in params]
    v = [[np.zeros_like(p) for p in layer] for layer in params]
    t = 0
    for ep in range(epochs):
        perm = rng.permutation(len(x))
        for s in range(0, len(x), batch):
            idx = perm[s:s + batch]
            hs = forward(params, x[idx])
            logits = hs[-1]
            p = np.exp(logits - logits.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            d = p
            d[np.arange(len(idx)), y[idx]] -= 1
            d /= len(idx)
            t += 1
            for i in reversed(range(len(params))):
                gw = d.T @ hs[i]
                gb = d.sum(0)
                if i > 0:
                    d = (d @ params[i][0]) * (hs[i] > 0)
                for j, g in enumerate((gw, gb)):
                    m[i][j] = 0.9 * m[i][j] + 0.1 * g
                    v[i][j] = 0.999 * v[i][j] + 0.001 * g * g
                    mh = m[i][j] / (1 - 0.9 ** t)
                    vh = v[i][j] / (1 - 0.999 ** t)
                    params[i][j] -= (lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
    return params


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "..", "shared", "data"))
    ap.add_argument("--outlier-scale", type=float, default=1.0,
                    help="multiplies every OUTLIER factor (milder < 1)")
    ap.add_argument("--out", default="mlp11.onnx", help="file name, written next to this script")
    args = ap.parse_args()
    x, y = load(args.data)
    params = train(x[:8000], y[:8000])
    acc = lambda a, b: float((forward(params, x[a:b])[-1].argmax(1) == y[a:b]).mean())
    print(f"train acc {acc(0, 8000):.4f}  held-out 8000..8999 {acc(8000, 9000):.4f}  "
          f"9000..9999 {acc(9000, 10000):.4f}")
    ref = forward(params, x[8000:9000])[-1]
    hs = forward(params, x[:8000])
    for i, f in sorted(OUTLIER.items()):
        k = np.float32(f * args.outlier_scale * hs[i - 1].max())
        w0, b0 = params[i - 2]
        params[i - 2] = [np.vstack([w0, np.zeros((1, w0.shape[1]), np.float32)]),
                         np.append(b0, k).astype(np.float32)]
        w1, b1 = params[i - 1]
        params[i - 1] = [np.hstack([w1, np.zeros((w1.shape[0], 1), np.float32)]), b1]
        print(f"layer fc{i}: input max {hs[i - 1].max():.2f}, outlier unit {k:.1f}")
    assert np.array_equal(ref.argmax(1), forward(params, x[8000:9000])[-1].argmax(1))
    nodes, inits = [], []
    cur = "input"
    for i, (w, b) in enumerate(params):
        inits.append(numpy_helper.from_array(w.astype(np.float32), f"fc{i + 1}.weight"))
        inits.append(numpy_helper.from_array(b.astype(np.float32), f"fc{i + 1}.bias"))
        out = "logits" if i == len(params) - 1 else f"fc{i + 1}_out"
        nodes.append(helper.make_node("Gemm", [cur, f"fc{i + 1}.weight", f"fc{i + 1}.bias"],
                                      [out], name=f"fc{i + 1}", transB=1))
        cur = out
        if i < len(params) - 1:
            nodes.append(helper.make_node("Relu", [cur], [f"relu{i + 1}"], name=f"relu{i + 1}"))
            cur = f"relu{i + 1}"
    graph = helper.make_graph(
        nodes, "mlp11",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 196])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="qsearch bench/search-quality/make_model.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(HERE, args.out)
    onnx.save(model, path)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
