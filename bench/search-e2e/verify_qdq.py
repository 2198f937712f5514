"""Independent check of a search run's outputs with onnxruntime (not qsearch):
top-1 of model.qdq.onnx on the 10,000 CIFAR-10 test images (x/255, ImageNet mean/std, as
the search config's `preprocess: imagenet`), the per-layer sparsity of its int8 weights,
and their bytes stored as the cheaper of dense int8 and a bitmap (1 bit per weight + the
kept int8 values) with per-channel fp32 scales and int32 biases.
Usage: python3 verify_qdq.py RUN_DIR|MODEL.onnx [DATA_BIN]"""
import sys
import numpy as np
import onnx
from onnx import numpy_helper
import onnxruntime as ort

run = sys.argv[1]
data = sys.argv[2] if len(sys.argv) > 2 else \
    "/work/shared/data/cifar10-test-jpeg/cifar10_test_decoded.bin"
raw = np.fromfile(data, dtype=np.uint8).reshape(-1, 3073)
labels = raw[:, 0].astype(np.int64)
x = raw[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0
mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
std = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)
x = (x - mean) / std

so = ort.SessionOptions()
so.intra_op_num_threads = 1
so.inter_op_num_threads = 1
model = run if run.endswith(".onnx") else f"{run}/model.qdq.onnx"
sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
name = sess.get_inputs()[0].name
shape = sess.get_inputs()[0].shape
bs = 100 if not isinstance(shape[0], int) else shape[0]
hit = np.zeros(len(x), bool)
for i in range(0, len(x), bs):
    out = sess.run(None, {name: x[i:i + bs]})[0]
    hit[i:i + bs] = out.reshape(len(out), -1).argmax(1) == labels[i:i + bs]
# The search subset (search_subset 2000 of 10,000) is every 5th image; the other 8,000 were
# never seen by the search, so their accuracy has no selection bias.
held = np.arange(len(x)) % 5 != 0
print(f"onnxruntime top-1 {100.0 * hit.mean():.2f} % ({hit.sum()}/{len(x)}); "
      f"held out of the search subset {100.0 * hit[held].mean():.2f} % ({held.sum()} images)")

m = onnx.load(model)
inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
tot_w = tot_z = 0
dense = bitmap = 0
for n in m.graph.node:
    if n.op_type != "DequantizeLinear" or n.input[0] not in inits:
        continue
    w = inits[n.input[0]]
    if w.dtype not in (np.int8, np.uint8) or w.ndim < 2:
        continue
    k = w.size
    z = int((w == 0).sum())
    tot_w += k
    tot_z += z
    dense += k
    bitmap += min(k, (k - z) + (k + 7) // 8)
if tot_w:
    print(f"int8 weight tensors: {tot_w} weights, {100.0 * tot_z / tot_w:.2f} % zeros; "
          f"weight bytes dense {dense}, cheapest of dense/bitmap {bitmap} "
          f"({dense / bitmap:.3f}x smaller)")
