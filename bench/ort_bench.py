#!/usr/bin/env python3
"""onnxruntime side of bench/run-fp32.sh.

Runs the models of bench-fp32-models with onnxruntime on one thread
(intra_op_num_threads=1), on the same seeded inputs and batches, with the same timing
protocol (warm-up, then at least --min-runs calls and --min-time seconds; best and
median). Writes one TSV row per (model, batch) on stdout and, with --ref DIR, the output
of every case as raw float32 to DIR/ort-<model>-b<batch>.f32, which bench-fp32-models
compares with its own output.

Models declared with batch 1 (SqueezeNet) get a symbolic batch dimension in memory, so
that batch 32 is one call as in qsearch; the model file is never modified.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort

MODELS = {
    "resnet56": "cifar10-resnet/cifar10_resnet56.onnx",
    "squeezenet1.1": "squeezenet1.1/squeezenet1.1_fp32.onnx",
}
SEED = 42


def bench_inputs(shape, seed=SEED):
    """Same values as input_value() in bench-fp32-models.c (counter-based splitmix64)."""
    n = int(np.prod(shape))
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(seed) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    k = (z >> np.uint64(40)).astype(np.float64)
    return ((2 * k + 1) / 16777216.0 - 1.0).astype(np.float32).reshape(shape)


def with_symbolic_batch(path):
    """The model as bytes, with dim 0 of every graph input and output made symbolic."""
    model = onnx.load(path)
    # IR < 4 lists the initializers among the inputs; their shapes stay as they are.
    inits = {t.name for t in model.graph.initializer}
    for vi in list(model.graph.input) + list(model.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if vi.name not in inits and len(dims) > 0:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = "N"
    # Inferred intermediate shapes would still say batch 1.
    del model.graph.value_info[:]
    return model.SerializeToString()


def run_case(sess, x, args):
    feeds = {sess.get_inputs()[0].name: x}
    out = None
    for _ in range(args.warmup):
        out = sess.run(None, feeds)
    times = []
    start = time.perf_counter()
    while len(times) < 10000:
        elapsed = time.perf_counter() - start
        if elapsed >= args.min_time and (len(times) >= args.min_runs or
                                         elapsed >= args.max_time):
            break
        t0 = time.perf_counter()
        out = sess.run(None, feeds)
        times.append(time.perf_counter() - t0)
    return out[0], times


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.environ.get("QS_SHARED_DATA", os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")))
    p.add_argument("--ref", help="folder for the reference outputs")
    p.add_argument("--model", action="append", choices=sorted(MODELS))
    p.add_argument("--batch", action="append", type=int)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--min-runs", type=int, default=10)
    p.add_argument("--min-time", type=float, default=2.0)
    p.add_argument("--max-time", type=float, default=30.0)
    args = p.parse_args()
    batches = args.batch or [1, 32]

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL

    print("model\tbatch\tbest_ms\tmedian_ms\truns")
    for name in args.model or list(MODELS):
        path = os.path.join(args.data, MODELS[name])
        if not os.path.exists(path):
            print(f"ort_bench.py: skipping {name}: {path} not found", file=sys.stderr)
            continue
        sess = ort.InferenceSession(with_symbolic_batch(path), so,
                                    providers=["CPUExecutionProvider"])
        shape = [d if isinstance(d, int) else 1 for d in sess.get_inputs()[0].shape]
        for batch in batches:
            x = bench_inputs([batch] + shape[1:])
            y, times = run_case(sess, x, args)
            if args.ref:
                os.makedirs(args.ref, exist_ok=True)
                np.ascontiguousarray(y, dtype="<f4").tofile(
                    os.path.join(args.ref, f"ort-{name}-b{batch}.f32"))
            times.sort()
            print(f"{name}\t{batch}\t{1e3 * times[0]:.4f}\t"
                  f"{1e3 * statistics.median(times):.4f}\t{len(times)}", flush=True)


if __name__ == "__main__":
    main()
