"""All-int8 post-training quantization accuracy of the CIFAR-10 ResNets (issue 3, "Accuracy").

For each ResNet: top-1 on the 10,000 images of cifar10-test-jpeg of
  - fp32 (qsearch's fp32 engine, cross-checked against onnxruntime),
  - qsearch int8 (`qsearch eval --calib`, the integer kernels) for every calibration method,
  - onnxruntime quantize_static (QDQ, per_channel=True, uint8 activations, int8 weights) with
    its MinMax, Entropy and Percentile calibrators, run by onnxruntime,
all calibrated on the 1,000 images of cifar10-calib-train-1000 with the same preprocessing.
Prints one table; the raw outputs (.npy) and a TSV land in --out.

Run it through bench/quant/accuracy.sh.
"""
import argparse
import concurrent.futures as cf
import json
import os
import re
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qdata  # noqa: E402

QS_METHODS = ["minmax", "avg", "ema", "percentile", "kl", "mse", "emd"]
ORT_METHODS = ["MinMax", "Entropy", "Entropy2048", "Percentile"]
PRE = "imagenet"


def parse_top1(text):
    m = re.search(r"^top-1\s+([0-9.]+) % \((\d+)/(\d+)\)", text, re.M)
    return (int(m.group(2)), int(m.group(3))) if m else None


# One quantize_static at a time: the Entropy2048 patch below is process-wide.
ORT_LOCK = threading.Lock()


def quantize_static_ort(model, onnx_out, reader, method):
    """onnxruntime quantize_static, QDQ, per-channel, QUInt8 activations, QInt8 weights.
    "Entropy2048" is Entropy with a 2048-bin histogram: quantize_static cannot pass num_bins
    to its calibrator, and with the default (128 bins = num_quantized_bins) Entropy has a
    single candidate threshold, the full range, i.e. it is MinMax."""
    from onnxruntime import quantization as q
    qmod = sys.modules["onnxruntime.quantization.quantize"]  # the module, not the function

    algo = "Entropy" if method == "Entropy2048" else method
    orig = qmod.create_calibrator

    def patched(*args, **kw):
        kw["extra_options"] = {**(kw.get("extra_options") or {}), "num_bins": 2048}
        return orig(*args, **kw)

    if method == "Entropy2048":
        qmod.create_calibrator = patched
    try:
        q.quantize_static(model, onnx_out, reader, quant_format=q.QuantFormat.QDQ,
                          per_channel=True, reduce_range=False,
                          activation_type=q.QuantType.QUInt8, weight_type=q.QuantType.QInt8,
                          calibrate_method=getattr(q.CalibrationMethod, algo))
    finally:
        qmod.create_calibrator = orig


class Bench:
    def __init__(self, args):
        self.a = args
        self.data = args.data
        self.out = qdata.ensure_dir(args.out)
        self.calib_path = os.path.join(self.data, qdata.CIFAR_CALIB)
        self.test_path = os.path.join(self.data, qdata.CIFAR_TEST)
        x, y = qdata.load_cifar(self.test_path)
        if args.every > 1:
            # Every k-th record of the class-sorted file: a balanced subset, written out so
            # that qsearch reads the same images.
            raw = np.fromfile(self.test_path, np.uint8).reshape(-1, 3073)[::args.every]
            self.test_path = os.path.join(self.out, f"cifar10_test_every{args.every}.bin")
            raw.tofile(self.test_path)
            x, y = x[::args.every], y[::args.every]
        self.test_x = qdata.preprocess(x, PRE)
        self.labels = y
        cx, _ = qdata.load_cifar(self.calib_path)
        self.calib_x = qdata.preprocess(cx, PRE)  # all 1,000 images, in file order

    def path(self, model, what, ext="npy"):
        return os.path.join(self.out, f"resnet{model}_{what}.{ext}")

    def cached(self, p):
        return self.a.reuse and os.path.exists(p)

    # qsearch eval (fp32 without calib_method, int8 with); returns top-1 %.
    def qsearch(self, model, method):
        what = "fp32" if method is None else f"qs-{method}"
        dst = self.path(model, what)
        if not self.cached(dst):
            cmd = [self.a.qsearch, "eval", os.path.join(self.data, qdata.RESNETS[model]),
                   "--inputs", "cifar10:" + self.test_path,
                   "--labels", "cifar10-labels:" + self.test_path,
                   "--preprocess", PRE, "--batch", "100", "--threads", str(self.a.threads),
                   "--quiet", "-o", dst]
            if method is not None:
                cmd += ["--calib", "cifar10:" + self.calib_path, "--calib-method", method]
            text, dt = qdata.run(cmd)
            qdata.log(f"  resnet{model} {what}: {dt:.1f} s")
            counts = parse_top1(text)
            got = np.load(dst)
            mine = int(np.sum(np.argmax(got, 1) == self.labels))
            # The CLI's own count and ours from the written outputs must agree.
            if counts and counts[0] != mine:
                raise RuntimeError(f"{what}: qsearch says {counts}, outputs give {mine}")
        return qdata.top1(np.load(dst), self.labels)

    def ort_fp32(self, model):
        dst = self.path(model, "ort-fp32")
        if not self.cached(dst):
            y = qdata.ort_run(os.path.join(self.data, qdata.RESNETS[model]), self.test_x,
                              threads=self.a.threads)
            np.save(dst, y)
        return qdata.top1(np.load(dst), self.labels)

    def ort_int8(self, model, method):
        from onnxruntime import quantization as q

        onnx_out = self.path(model, f"ort-{method}", "onnx")
        dst = self.path(model, f"ort-{method}")
        if not (self.cached(dst) and os.path.exists(onnx_out)):
            calib = self.calib_x
            bs = self.a.ort_calib_batch

            class Reader(q.CalibrationDataReader):
                def __init__(self):
                    self.i = 0

                def get_next(self):
                    if self.i >= len(calib):
                        return None
                    b = calib[self.i:self.i + bs]
                    self.i += bs
                    return {"input": b}

                def rewind(self):
                    self.i = 0

            t0 = time.time()
            with ORT_LOCK:
                quantize_static_ort(os.path.join(self.data, qdata.RESNETS[model]), onnx_out,
                                    Reader(), method)
            y = qdata.ort_run(onnx_out, self.test_x, threads=self.a.threads)
            np.save(dst, y)
            qdata.log(f"  resnet{model} ort-{method}: {time.time() - t0:.1f} s")
        return qdata.top1(np.load(dst), self.labels)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qsearch", required=True, help="the qsearch binary")
    ap.add_argument("--data", required=True, help="../shared/data")
    ap.add_argument("--out", required=True, help="folder for outputs")
    ap.add_argument("--models", default="20,32,44,56")
    ap.add_argument("--methods", default=",".join(QS_METHODS))
    ap.add_argument("--ort-methods", default=",".join(ORT_METHODS))
    ap.add_argument("--every", type=int, default=1,
                    help="evaluate every k-th test image only (development: 10 gives 1,000 "
                         "images, 100 per class; outputs go to a separate folder)")
    ap.add_argument("--jobs", type=int, default=1, help="runs in parallel")
    ap.add_argument("--threads", type=int, default=1, help="threads per run")
    ap.add_argument("--ort-calib-batch", type=int, default=100,
                    help="images per onnxruntime calibration batch")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse outputs already in --out instead of recomputing them")
    a = ap.parse_args()
    table = sys.stdout
    sys.stdout = sys.stderr  # onnxruntime's quantization tools print; keep the table clean
    p = lambda *s: print(*s, file=table)  # noqa: E731
    models = [int(m) for m in a.models.split(",") if m]
    methods = [m for m in a.methods.split(",") if m]
    ort_methods = [m for m in a.ort_methods.split(",") if m]

    if a.every > 1:
        a.out = os.path.join(a.out, f"every{a.every}")
    b = Bench(a)
    n = len(b.labels)
    qdata.log(f"{n} test images, {len(b.calib_x)} calibration images, {a.jobs} job(s)")
    jobs = {}
    with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        # Slowest first, so the pool drains evenly.
        for m in sorted(models, reverse=True):
            for meth in methods:
                jobs[(m, "qs", meth)] = ex.submit(b.qsearch, m, meth)
            for meth in ort_methods:
                jobs[(m, "ort", meth)] = ex.submit(b.ort_int8, m, meth)
            jobs[(m, "fp32", "qs")] = ex.submit(b.qsearch, m, None)
            jobs[(m, "fp32", "ort")] = ex.submit(b.ort_fp32, m)
        res = {k: f.result() for k, f in jobs.items()}

    import onnxruntime

    cols = ["fp32"] + methods + ["best"] + [f"ort-{m}" for m in ort_methods] + ["ort best",
                                                                                  "vs ort"]
    sub = f" (every {a.every}th)" if a.every > 1 else ""
    p(f"CIFAR-10 ResNets, all-int8 PTQ: top-1 % on {n} images{sub} of cifar10-test-jpeg; "
          f"calibration: {len(b.calib_x)} images of cifar10-calib-train-1000")
    p(f"qsearch: per-channel int8 weights, uint8 activations, --calib-method per column; "
          f"onnxruntime {onnxruntime.__version__} quantize_static: QDQ, per_channel=True, "
          f"QUInt8 activations, QInt8 weights")
    w = [max(7, len(c)) for c in cols]
    w[len(methods) + 1] = w[-2] = 17  # "best" cells: value and method name
    p("model     " + " ".join(f"{c:>{w[i]}}" for i, c in enumerate(cols)))
    rows, verdicts = [], []
    for m in models:
        fp = res[(m, "fp32", "qs")]
        fp_ort = res[(m, "fp32", "ort")]
        qs = [res[(m, "qs", x)] for x in methods]
        ort = [res[(m, "ort", x)] for x in ort_methods]
        bi = int(np.argmax(qs)) if qs else -1
        oi = int(np.argmax(ort)) if ort else -1
        best = qs[bi] if qs else float("nan")
        ort_best = ort[oi] if ort else float("nan")
        cells = [f"{fp:.2f}"] + [f"{v:.2f}" for v in qs]
        cells.append(f"{best:.2f} {methods[bi]}" if qs else "-")
        cells += [f"{v:.2f}" for v in ort]
        cells.append(f"{ort_best:.2f} {ort_methods[oi]}" if ort else "-")
        cells.append(f"{best - ort_best:+.2f}" if ort else "-")
        p(f"resnet{m:<4}" + " ".join(f"{c:>{w[i]}}" for i, c in enumerate(cells)))
        loss = fp - best
        ok_loss = bool(qs) and loss <= 0.3 + 1e-9
        ok_ort = (best >= ort_best - 0.1 - 1e-9) if ort else True
        verdicts.append((m, loss, ok_loss, best - ort_best, ok_ort, fp, fp_ort))
        rows.append({"model": f"resnet{m}", "images": n, "fp32": fp, "fp32_ort": fp_ort,
                     **{f"qs_{x}": v for x, v in zip(methods, qs)},
                     **{f"ort_{x}": v for x, v in zip(ort_methods, ort)}})
    if methods and len(models) > 1:
        # A method fixed in advance, not picked per model on the test set: its worst case.
        cells = ["worst"]
        for x in methods:
            cells.append(f"{max(res[(m, 'fp32', 'qs')] - res[(m, 'qs', x)] for m in models):.2f}")
        p("loss vs fp32, worst model, per method: " +
          ", ".join(f"{x} {c}" for x, c in zip(methods, cells[1:])))
        if ort_methods:
            gaps = []
            for x in methods:
                g = min(res[(m, "qs", x)] - max(res[(m, "ort", o)] for o in ort_methods)
                        for m in models)
                gaps.append(f"{x} {g:+.2f}")
            p("vs best onnxruntime, worst model, per method: " + ", ".join(gaps))
    p()
    ok_all = True
    for m, loss, ok_loss, gap, ok_ort, fp, fp_ort in verdicts:
        ok_all &= ok_loss and ok_ort
        p(f"resnet{m}: best qsearch loses {loss:.2f} points vs fp32 (goal <= 0.30: "
              f"{'ok' if ok_loss else 'MISSED'}); vs best onnxruntime {gap:+.2f} points "
              f"(goal >= -0.10: {'ok' if ok_ort else 'MISSED'}); fp32 qsearch {fp:.2f} = "
              f"onnxruntime {fp_ort:.2f}{'' if abs(fp - fp_ort) < 1e-9 else ' (DIFFER)'}")
    with open(os.path.join(a.out, "accuracy.json"), "w") as f:
        json.dump(rows, f, indent=1)
    p(f"all goals met: {'yes' if ok_all else 'no'}")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
