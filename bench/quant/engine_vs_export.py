"""Engine = export (issue 3): the all-int8 model run by qsearch's integer engine against the
exported QDQ model run by onnxruntime, on the same inputs.

For every model:
  1. `qsearch quantize MODEL --calib C --calib-method M -o NAME_qdq.onnx` (the export),
  2. `qsearch eval MODEL --calib C --calib-method M --inputs X -o NAME_ours.npy` (our engine:
     the session lowers the graph to QLinearConv/QGemm/... on the integer kernels),
  3. onnxruntime (CPU, default graph optimizations, i.e. its own QDQ -> QLinear fusions)
     runs NAME_qdq.onnx on X, preprocessed exactly as qsearch does (bit-identical floats),
  4. both outputs are compared element by element against one quantization step.

One step of an output element (read from the exported QDQ graph, walking back from the
graph output through float ops that cannot widen a difference: Add/Sub of a constant,
Flatten, Reshape, Identity and Softmax, which is 1/2-Lipschitz in the max norm):
  - the tensor comes from a DequantizeLinear: its scale (per tensor, or per channel);
  - the tensor is the float output of a Gemm/MatMul/Conv whose inputs are DequantizeLinear
    (the ResNets' final Gemm): step[n] = s_x * max_k |W[n,k]|, the largest change of output
    n that one step of one input element can cause.
Reported: fraction of output elements with |ours - ort| <= step, fraction bit-identical,
the largest difference in steps, and top-1 agreement (argmax over each sample's output).

Run it through bench/quant/engine-vs-export.sh.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qdata  # noqa: E402


def cases(data, out, calib_imagenet):
    """name -> dict(model, calib spec, calib limit, eval spec, labels, preprocess, loader)."""
    mnist_x = os.path.join(data, qdata.MNIST_IMAGES)
    mnist_y = os.path.join(data, qdata.MNIST_LABELS)
    cifar_c = os.path.join(data, qdata.CIFAR_CALIB)
    cifar_t = os.path.join(data, qdata.CIFAR_TEST)
    val_x = os.path.join(data, qdata.VAL100_IMAGES)
    val_y = os.path.join(data, qdata.VAL100_LABELS)
    cs = {
        "mnist-8": dict(
            model="mnist-8/mnist-8.onnx", calib=mnist_x, calib_limit=1000, inputs=mnist_x,
            pre="none", calib_note="MNIST test images 0-999 (no other MNIST data here)",
            eval_note="MNIST test (images 0-999 were the calibration set)",
            load=lambda: (qdata.load_idx(mnist_x)[:, None], qdata.load_idx(mnist_y))),
    }
    for d in (20, 32, 44, 56):
        cs[f"resnet{d}"] = dict(
            model=qdata.RESNETS[d], calib="cifar10:" + cifar_c, calib_limit=0,
            inputs="cifar10:" + cifar_t, pre="imagenet",
            calib_note="cifar10-calib-train-1000, 1,000", eval_note="cifar10-test-jpeg",
            load=lambda: qdata.load_cifar(cifar_t))
    sq_calib, sq_note = calib_imagenet
    cs["squeezenet1.1"] = dict(
        model="squeezenet1.1/squeezenet1.1_fp32.onnx",
        calib=f"raw:{sq_calib}:uint8:-1x224x224x3", calib_limit=0,
        inputs=f"raw:{val_x}:uint8:-1x224x224x3", pre="caffe,layout=nhwc",
        calib_note=sq_note, eval_note="imagenet-val-100",
        load=lambda: (qdata.load_nhwc_u8(val_x), np.fromfile(val_y, "<u2")))
    return cs


def imagenet_calib(data, out):
    """The SqueezeNet calibration set: imagenet-calib-100 decoded like imagenet-val-100 when
    Pillow is there; otherwise imagenet-val-100 itself (said in the table)."""
    folder = os.path.join(data, "imagenet-calib-100")
    dst = os.path.join(out, "imagenet_calib100_rgb_224x224_nhwc.u8")
    try:
        import PIL  # noqa: F401
    except ImportError:
        qdata.log("note: Pillow missing, SqueezeNet is calibrated on imagenet-val-100")
        return (os.path.join(data, qdata.VAL100_IMAGES),
                "imagenet-val-100, 100 (Pillow missing: the eval images)")
    if not os.path.exists(dst):
        files = [ln.split()[0] for ln in open(os.path.join(folder, "labels.txt")) if ln.strip()]
        x = qdata.decode_imagenet(os.path.join(folder, "images"), files)
        x.tofile(dst + ".tmp")
        os.replace(dst + ".tmp", dst)
    return dst, "imagenet-calib-100, 100 (decoded like val-100)"


# --------------------------------------------------------------------------------------
# One quantization step per output element, from the QDQ graph.

def output_steps(model_path, out_name, out_rank):
    import onnx
    from onnx import numpy_helper

    m = onnx.load(model_path)
    g = m.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    prod = {o: n for n in g.node for o in n.output}
    for n in g.node:  # Constant nodes count as initializers
        if n.op_type == "Constant":
            inits[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)

    def attr(n, key, default):
        for a in n.attribute:
            if a.name == key:
                return onnx.helper.get_attribute_value(a)
        return default

    def dq_scale(n, rank):
        s = inits[n.input[1]].astype(np.float64)
        if s.size == 1:
            return s.reshape(()), "per tensor"
        axis = attr(n, "axis", 1)
        shape = [1] * rank
        shape[axis % rank] = s.size
        return s.reshape(shape), f"per channel (axis {axis})"

    def dq_weight(name):
        n = prod.get(name)
        if n is None or n.op_type != "DequantizeLinear" or n.input[0] not in inits:
            return None
        q = inits[n.input[0]].astype(np.float64)
        zp = inits[n.input[2]].astype(np.float64) if len(n.input) > 2 and n.input[2] else 0
        s = inits[n.input[1]].astype(np.float64)
        if s.size > 1:
            axis = attr(n, "axis", 1)
            shape = [1] * q.ndim
            shape[axis % q.ndim] = s.size
            s = s.reshape(shape)
            zp = np.reshape(zp, shape) if np.size(zp) > 1 else zp
        return (q - zp) * s

    path = []
    t = out_name
    while True:
        n = prod.get(t)
        if n is None:
            raise ValueError(f"output '{out_name}': cannot find a quantized tensor before it")
        op = n.op_type
        if op == "DequantizeLinear":
            s, how = dq_scale(n, out_rank)
            path.append(f"DequantizeLinear scale {how}")
            return s, " <- ".join(reversed(path)) if len(path) > 1 else path[0]
        if op in ("Softmax", "Flatten", "Reshape", "Identity", "Squeeze", "Unsqueeze"):
            path.append(op)
            t = n.input[0]
            continue
        if op in ("Add", "Sub") and len(n.input) == 2:
            a, b = n.input
            if b in inits or (prod.get(b) and dq_weight(b) is not None):
                path.append(f"{op} const")
                t = a
                continue
            if op == "Add" and (a in inits or (prod.get(a) and dq_weight(a) is not None)):
                path.append(f"{op} const")
                t = b
                continue
        if op in ("Gemm", "MatMul", "Conv"):
            xn = prod.get(n.input[0])
            w = dq_weight(n.input[1])
            if xn is None or xn.op_type != "DequantizeLinear" or w is None:
                raise ValueError(f"{op} '{n.name}' before output has no DQ inputs")
            sx = float(inits[xn.input[1]].reshape(-1)[0])
            if op == "Gemm":
                w2 = w.T if attr(n, "transB", 0) else w  # [K, N]
                wmax = np.abs(w2).max(axis=0)
                shape = [1] * out_rank
                shape[-1] = wmax.size
            elif op == "MatMul":
                wmax = np.abs(w).max(axis=0)
                shape = [1] * out_rank
                shape[-1] = wmax.size
            else:
                wmax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
                shape = [1] * out_rank
                shape[1] = wmax.size
            path.append(f"{op} float output: s_x * max_k |W[n,k]| per output channel")
            return (sx * wmax).reshape(shape), " <- ".join(reversed(path))
        raise ValueError(f"output '{out_name}': {op} '{n.name}' is not handled")


def compare(ours, ort, step):
    diff = np.abs(ours.astype(np.float64) - ort.astype(np.float64))
    stepb = np.broadcast_to(step, ours.shape)
    # The dequantized values are multiples of the step computed in float32: allow 1e-5
    # relative for that rounding.
    within = diff <= stepb * (1 + 1e-5)
    a = ours.reshape(len(ours), -1).argmax(1)
    b = ort.reshape(len(ort), -1).argmax(1)
    return dict(within=float(within.mean()), exact=float((diff == 0).mean()),
                max_steps=float((diff / stepb).max()), n_elems=int(diff.size),
                top1_agree=float((a == b).mean()), n=len(a), disagree=int((a != b).sum()),
                ours_top1_labels=a, ort_top1_labels=b)


def one(a, c, name, meth, out):
    """Quantize, run both engines and compare, for one model and calibration method."""
    import onnx

    model = os.path.join(a.data, c["model"])
    qdq = os.path.join(out, f"{name}_{meth}_qdq.onnx")
    ours = os.path.join(out, f"{name}_{meth}_ours.npy")
    ortf = os.path.join(out, f"{name}_{meth}_ort.npy")
    # --batch also sets the calibration batches (avg and ema average per-batch ranges), so
    # quantize and eval get the same.
    calib = ["--calib", c["calib"], "--calib-method", meth, "--preprocess", c["pre"],
             "--batch", "100"]
    if c["calib_limit"]:
        calib += ["--calib-limit", str(c["calib_limit"])]
    if not (a.reuse and os.path.exists(qdq)):
        _, dt = qdata.run([a.qsearch, "quantize", model, *calib, "--quiet", "-o", qdq])
        qdata.log(f"{name} {meth}: quantize {dt:.1f} s")
    if not (a.reuse and os.path.exists(ours)):
        cmd = [a.qsearch, "eval", model, *calib, "--inputs", c["inputs"],
               "--threads", str(a.threads), "--quiet", "-o", ours]
        if a.limit:
            cmd += ["--limit", str(a.limit)]
        _, dt = qdata.run(cmd)
        qdata.log(f"{name} {meth}: qsearch int8 eval {dt:.1f} s")
    x, labels = c["load"]()
    if a.limit:
        x, labels = x[:a.limit], labels[:a.limit]
    if not (a.reuse and os.path.exists(ortf)):
        xin = qdata.preprocess(x, c["pre"])
        np.save(ortf, qdata.ort_run(qdq, xin, threads=a.threads))
    y_ours, y_ort = np.load(ours), np.load(ortf)
    if y_ours.shape != y_ort.shape:
        raise RuntimeError(f"{name}: shapes differ: ours {y_ours.shape}, ort {y_ort.shape}")
    out_name = onnx.load(qdq).graph.output[0].name
    step, how = output_steps(qdq, out_name, y_ours.ndim)
    r = compare(y_ours, y_ort, step)
    r.update(name=name, method=meth, how=how, calib=c["calib_note"], evalset=c["eval_note"],
             acc_ours=qdata.top1(y_ours, labels), acc_ort=qdata.top1(y_ort, labels))
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qsearch", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default="mnist-8,resnet20,resnet32,resnet44,resnet56,"
                                        "squeezenet1.1")
    ap.add_argument("--calib-method", default="percentile",
                    help="calibration method(s), comma-separated")
    ap.add_argument("--limit", type=int, default=0, help="first N eval samples (0 = all)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reuse", action="store_true", help="reuse outputs already in --out")
    a = ap.parse_args()
    table = sys.stdout
    sys.stdout = sys.stderr  # onnxruntime's quantization tools print; keep the table clean
    out = qdata.ensure_dir(a.out)
    names = [m for m in a.models.split(",") if m]
    sq = imagenet_calib(a.data, out) if "squeezenet1.1" in names else (None, None)
    cs = cases(a.data, out, sq)
    rows = []
    methods = [m for m in a.calib_method.split(",") if m]
    for meth, name in [(m, n) for m in methods for n in names]:
        try:
            rows.append(one(a, cs[name], name, meth, out))
        except RuntimeError as e:  # a failed command: report it in the table, go on
            qdata.log(str(e))
            msg = str(e).strip().splitlines()[-1]
            rows.append(dict(name=name, method=meth, error=msg))

    import onnxruntime

    p = lambda *s: print(*s, file=table)  # noqa: E731
    p(f"all-int8 PTQ: qsearch's integer engine vs onnxruntime {onnxruntime.__version__} "
      f"running the QDQ model qsearch exported, same inputs")
    p(f"{'model':<14} {'method':<10} {'elements':>9} {'<=1 step':>9} {'identical':>9} "
      f"{'max steps':>9} {'top-1 agree':>21} {'top-1 ours':>10} {'top-1 ort':>9}  goals")
    ok_all = True
    for r in rows:
        if "error" in r:
            ok_all = False
            p(f"{r['name']:<14} {r['method']:<10} FAILED: {r['error']}")
            continue
        ok = r["within"] >= 0.999 and r["top1_agree"] >= 0.999
        ok_all &= ok
        agree = f"{100 * r['top1_agree']:.2f}% ({r['n'] - r['disagree']}/{r['n']})"
        p(f"{r['name']:<14} {r['method']:<10} {r['n_elems']:>9} {100 * r['within']:>8.3f}% "
          f"{100 * r['exact']:>8.2f}% {r['max_steps']:>9.3g} {agree:>21} "
          f"{r['acc_ours']:>9.2f}% {r['acc_ort']:>8.2f}%  {'ok' if ok else 'MISSED'}")
    p("")
    p("one step of an output element, and the data:")
    seen = set()
    for r in rows:
        if r["name"] in seen or "error" in r:
            continue
        seen.add(r["name"])
        p(f"  {r['name']}: {r['how']}")
        p(f"    calibration: {r['calib']}; eval: {r['evalset']}, {r['n']} samples")
    p(f"goals (>= 99.9% of elements within one step, >= 99.9% top-1 agreement) met: "
      f"{'yes' if ok_all else 'no'}")
    with open(os.path.join(out, "engine-vs-export.json"), "w") as f:
        json.dump([{k: v for k, v in r.items() if not k.endswith("_labels")} for r in rows],
                  f, indent=1)
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
