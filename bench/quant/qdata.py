"""Shared helpers of the int8 benchmarks (bench/quant): data sets, the exact preprocessing of
`qsearch --preprocess`, running qsearch and onnxruntime, and top-1.

The preprocessing below repeats ir/data/preprocess.c operation by operation in float32
(y = (x * scale - mean[c]) / std[c]), so onnxruntime sees bit-identical inputs to the ones
qsearch feeds its own engine.
"""
import gzip
import os
import shlex
import subprocess
import sys
import time

import numpy as np

# --------------------------------------------------------------------------------------
# Data sets (paths relative to ../shared/data).

CIFAR_CALIB = "cifar10-calib-train-1000/cifar10_train1000_decoded.bin"
CIFAR_TEST = "cifar10-test-jpeg/cifar10_test_decoded.bin"
MNIST_IMAGES = "mnist-test/t10k-images-idx3-ubyte.gz"
MNIST_LABELS = "mnist-test/t10k-labels-idx1-ubyte.gz"
VAL100_IMAGES = "imagenet-val-100/val100_rgb_224x224_nhwc.u8"
VAL100_LABELS = "imagenet-val-100/val100_labels.u16"
RESNETS = {d: f"cifar10-resnet/cifar10_resnet{d}.onnx" for d in (20, 32, 44, 56)}


def load_cifar(path):
    """CIFAR-10 binary: N x (1 label byte + 3072 planar RGB bytes) -> (u8 [N,3,32,32], u8 [N])."""
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % 3073:
        raise ValueError(f"{path}: size {raw.size} is not a multiple of 3073")
    rec = raw.reshape(-1, 3073)
    return rec[:, 1:].reshape(-1, 3, 32, 32).copy(), rec[:, 0].copy()


def load_idx(path):
    """MNIST IDX (optionally gzip) -> numpy array with the file's dims."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims).copy()


def load_nhwc_u8(path, size=224):
    raw = np.fromfile(path, dtype=np.uint8)
    return raw.reshape(-1, size, size, 3)


PREPROCESS = {
    # name: (nhwc, bgr, scale, mean, std) as qsearch's --preprocess items set them
    "none": (False, False, 1.0, None, None),
    "imagenet": (False, False, 1.0 / 255.0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "caffe,layout=nhwc": (True, True, 1.0, (104.0, 117.0, 123.0), None),
}


def preprocess(x, name):
    """uint8 samples -> float32 model input, exactly as `qsearch --preprocess NAME`."""
    nhwc, bgr, scale, mean, std = PREPROCESS[name]
    x = x.astype(np.float32)
    if nhwc:
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    if bgr:
        x = np.ascontiguousarray(x[:, ::-1])
    if scale == 1.0 and mean is None and std is None:
        return x
    c = x.shape[1]
    s = np.float32(scale)
    m = np.zeros(c, np.float32) if mean is None else np.asarray(mean, np.float32)
    out = np.empty_like(x)
    for ch in range(c):
        v = x[:, ch] * s - m[ch]
        if std is not None:
            v = v / np.float32(std[ch])
        out[:, ch] = v
    return out


# --------------------------------------------------------------------------------------
# Running things.

def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, quiet=True):
    """Runs a command (list); raises with its output on failure; returns (stdout, seconds)."""
    t0 = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    dt = time.time() - t0
    if p.returncode != 0:
        raise RuntimeError(f"command failed (exit {p.returncode}): "
                           f"{' '.join(shlex.quote(c) for c in cmd)}\n{p.stdout}")
    if not quiet:
        log(p.stdout.rstrip())
    return p.stdout, dt


def ort_session(model_path, threads=1):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(str(model_path), so, providers=["CPUExecutionProvider"])


def ort_run(model_path, x, batch=100, threads=1):
    """Runs the first output of a one-input model over x [N,...] in batches; a model whose
    input batch dim is fixed to 1 is run one sample at a time."""
    sess = ort_session(model_path, threads)
    inp = sess.get_inputs()[0]
    dim0 = inp.shape[0]
    if isinstance(dim0, int) and dim0 > 0:
        batch = dim0
    outs = []
    for i in range(0, len(x), batch):
        outs.append(sess.run(None, {inp.name: x[i:i + batch]})[0])
    return np.concatenate(outs, axis=0)


def top1(logits, labels):
    logits = logits.reshape(logits.shape[0], -1)
    return float(np.mean(np.argmax(logits, axis=1) == labels[:len(logits)])) * 100.0


def interleave_order(labels):
    """Sample order that takes the classes in turn (the CIFAR files are sorted by class), so
    that any prefix of it is balanced."""
    idx = np.arange(len(labels))
    ranks = np.empty(len(labels), np.int64)
    for c in np.unique(labels):
        where = idx[labels == c]
        ranks[where] = np.arange(len(where))
    return np.lexsort((labels, ranks))


def ensure_dir(path):
    os.makedirs(path, exist_ok=True)
    return path


def decode_imagenet(folder, files, size=224, resize=256):
    """JPEGs -> uint8 [N,size,size,3] RGB: shorter side to `resize` (Pillow bilinear, both
    sides rounded), centre crop (offset floor((side - size) / 2)). This reproduces
    imagenet-val-100/val100_rgb_224x224_nhwc.u8 byte for byte from its JPEGs."""
    from PIL import Image

    out = np.empty((len(files), size, size, 3), np.uint8)
    for i, f in enumerate(files):
        with Image.open(os.path.join(folder, f)) as im:
            im = im.convert("RGB")
            w, h = im.size
            s = resize / min(w, h)
            ow, oh = round(w * s), round(h * s)
            im = im.resize((ow, oh), Image.BILINEAR)
            left, top = (ow - size) // 2, (oh - size) // 2
            out[i] = np.asarray(im.crop((left, top, left + size, top + size)))
    return out
