#!/bin/sh
# Whole-model int8 speed, single thread: qsearch's integer engine (calibrated like
# `eval --calib`, every layer int8) against qsearch fp32 and onnxruntime running the QDQ
# model that `qsearch quantize` wrote. Prints ms per batch, best of N runs after warm-up
# for all three (bench-int8-models times our sessions; the minimum survives a busy
# machine). Issue 3 goal: all-int8 >= 1.8x our fp32 and >= 1.0x onnxruntime on ResNet-56
# and SqueezeNet 1.1. QS_CONV_IM2COL=1 times the im2col convolution path instead.
#
#   bench/int8-speed.sh            (QS_BUILD_DIR, QS_SHARED_DATA as in bench/run-fp32.sh)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${QS_BUILD_DIR:-$root/build-bench}
data=${QS_SHARED_DATA:-$root/../shared/data}
py=${QS_PYTHON:-python3}
out=${QS_SPEED_OUT:-$root/bench/out}
mkdir -p "$out"
[ -x "$build/qsearch" ] && [ -x "$build/bench/bench-int8-models" ] ||
    { cmake -S "$root" -B "$build" -DQS_BUILD_TESTS=OFF >/dev/null &&
      cmake --build "$build" -j2 >/dev/null; }
q="$build/qsearch"
bim="$build/bench/bench-int8-models"
cif="cifar10:$data/cifar10-test-jpeg/cifar10_test_decoded.bin"
cal="cifar10:$data/cifar10-calib-train-1000/cifar10_train1000_decoded.bin"
img="raw:$data/imagenet-val-100/val100_rgb_224x224_nhwc.u8:uint8:100x224x224x3"

row() {  # name model inputs preprocess calib batch limit
    name=$1 model=$2 inputs=$3 pp=$4 calib=$5 batch=$6 limit=$7
    "$q" quantize "$model" --calib "$calib" --calib-limit 256 --preprocess "$pp" -q \
        -o "$out/$name-qdq.onnx" >/dev/null
    # fp32 best, fp32 median, int8 best, int8 median
    set -- $("$bim" "$model" "$calib" "$pp" "$batch" 256 --runs "$limit")
    f=$1 i=$3
    o=$("$py" - "$out/$name-qdq.onnx" "$batch" <<'PY'
import sys, time, numpy as np, onnxruntime as ort, onnx
path, batch = sys.argv[1], int(sys.argv[2])
m = onnx.load(path)
for v in list(m.graph.input) + list(m.graph.output):
    v.type.tensor_type.shape.dim[0].dim_param = "N"
so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
so.log_severity_level = 3
s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
i = s.get_inputs()[0]
shape = [batch] + [d for d in i.shape[1:]]
x = np.random.RandomState(0).rand(*shape).astype(np.float32)
for _ in range(5): s.run(None, {i.name: x})
best = 1e9
for _ in range(30 if batch == 1 else 8):
    t = time.perf_counter(); s.run(None, {i.name: x}); best = min(best, time.perf_counter() - t)
print("%.3f" % (best * 1e3))
PY
)
    printf '%-14s %5s %10s %10s %10s %9s %9s\n' "$name" "$batch" "$f" "$i" "$o" \
        "$(echo "$f $i" | awk '{printf "%.2f", $1/$2}')" "$(echo "$o $i" | awk '{printf "%.2f", $1/$2}')"
}
echo "int8 vs fp32, 1 thread, ms per batch (best of runs: qsearch 300/150 at batch 1,"
echo "20/10 at 32; onnxruntime 30 at batch 1, 8 at 32)"
printf '%-14s %5s %10s %10s %10s %9s %9s\n' model batch "fp32 ms" "int8 ms" "ort-qdq ms" "int8/fp32" "int8/ort"
r56="$data/cifar10-resnet/cifar10_resnet56.onnx"
sq="$data/squeezenet1.1/squeezenet1.1_fp32.onnx"
row resnet56 "$r56" "$cif" imagenet "$cal" 1 300
row resnet56 "$r56" "$cif" imagenet "$cal" 32 20
row squeezenet1.1 "$sq" "$img" caffe,layout=nhwc "$img" 1 150
row squeezenet1.1 "$sq" "$img" caffe,layout=nhwc "$img" 32 10
