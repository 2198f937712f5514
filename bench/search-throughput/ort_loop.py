"""The peer of the search loop: per candidate, what a Python search does with onnxruntime:
magnitude-prune the chosen layers (numpy), quantize_static (QDQ, per-channel int8 weights,
uint8 activations, MinMax calibration) with the fp32 layers excluded, then evaluate top-1
on the search images with an onnxruntime session (one thread).

The candidates are the policies the qsearch run evaluated (its episodes.csv), so both sides
do the same per-candidate work. Prints one JSON line with the timings.

usage: ort_loop.py MODEL EVAL.bin CALIB.bin EPISODES.csv N_SEARCH N_CALIB N_CANDIDATES [BATCH]
(BATCH: samples per evaluation run, default 100)
"""
import json
import os
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)

# One thread everywhere, including the sessions quantize_static creates for calibration
# (their default pool has one spinning thread per core, which would bill the Python side
# for CPU time spent waiting).
_Session = ort.InferenceSession


def _one_thread_session(path, sess_options=None, *args, **kwargs):
    so = sess_options or ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return _Session(path, so, *args, **kwargs)


ort.InferenceSession = _one_thread_session

MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)


def load_cifar(path, n):
    raw = np.fromfile(path, np.uint8).reshape(-1, 3073)
    # Evenly strided, as qsearch picks its search subset (the files are sorted by class).
    idx = (np.arange(n) * len(raw) // n).astype(np.int64)
    raw = raw[idx]
    x = raw[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0
    return ((x - MEAN) / STD).astype(np.float32), raw[:, 0].astype(np.int64)


class Reader(CalibrationDataReader):
    def __init__(self, x, name, batch=32):
        self.batches = [x[i:i + batch] for i in range(0, len(x), batch)]
        self.name = name
        self.i = 0

    def get_next(self):
        if self.i >= len(self.batches):
            return None
        self.i += 1
        return {self.name: self.batches[self.i - 1]}


def prune(w, s):
    k = int(round(s * w.size))
    if k <= 0:
        return w
    flat = w.reshape(-1).copy()
    order = np.argsort(np.abs(flat), kind="stable")[:k]
    flat[order] = 0
    return flat.reshape(w.shape)


def main():
    model_path, eval_bin, calib_bin, journal, n_search, n_calib, n_cand = sys.argv[1:8]
    n_search, n_calib, n_cand = int(n_search), int(n_calib), int(n_cand)
    batch = int(sys.argv[8]) if len(sys.argv) > 8 else 100  # evaluation batch
    base = onnx.load(model_path)
    layers = [n for n in base.graph.node if n.op_type in ("Conv", "Gemm", "MatMul")]
    inits = {t.name: t for t in base.graph.initializer}
    x, y = load_cifar(eval_bin, n_search)
    xc, _ = load_cifar(calib_bin, n_calib)
    in_name = base.graph.input[0].name
    policies = []
    with open(journal) as f:
        next(f)
        for line in f:
            cols = line.rstrip("\n").split(",")
            if cols[1] != "ok":
                continue
            toks = [t.split("/") for t in cols[11].split()]
            assert len(toks) == len(layers), (len(toks), len(layers))
            policies.append([(int(w), int(a), float(s)) for w, a, s in toks])
    policies = policies[:n_cand]
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    tmp = tempfile.mkdtemp(prefix="qs-ort-")
    wall, cpu, accs = [], [], []
    for pol in policies:
        t0, c0 = time.perf_counter(), time.process_time()
        m = onnx.ModelProto()
        m.CopyFrom(base)
        minits = {t.name: t for t in m.graph.initializer}
        exclude = []
        for node, (wb, ab, s) in zip(layers, pol):
            if wb == 32:
                exclude.append(node.name)
            if s > 0:
                wname = node.input[1]
                w = numpy_helper.to_array(inits[wname])
                minits[wname].CopyFrom(numpy_helper.from_array(prune(w, s), wname))
        fp = os.path.join(tmp, "cand.onnx")
        q = os.path.join(tmp, "cand.qdq.onnx")
        onnx.save(m, fp)
        quantize_static(fp, q, Reader(xc, in_name), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                        nodes_to_exclude=exclude)
        sess = ort.InferenceSession(q, so, providers=["CPUExecutionProvider"])
        correct = 0
        for i in range(0, len(x), batch):
            out = sess.run(None, {in_name: x[i:i + batch]})[0]
            correct += int((out.argmax(1) == y[i:i + batch]).sum())
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        accs.append(correct / len(x))
    print(json.dumps({"candidates": len(policies), "wall_s": wall, "cpu_s": cpu,
                      "accuracy": accs}))


if __name__ == "__main__":
    main()
