#!/bin/sh
# Candidate evaluations per minute: the qsearch loop against a Python loop doing the same
# per-candidate work with onnxruntime (prune + quantize_static + evaluate), on the same
# candidates, in the same run. ResNet-20, 1,000 search images, one thread each.
# usage: bench/search-throughput/run.sh [QSEARCH_BIN] [N_CANDIDATES]
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/build/qsearch}
n=${2:-12}
data=$root/../shared/data
if [ ! -d "$data/cifar10-resnet" ]; then echo "SKIP: $data missing"; exit 0; fi
out=$root/bench/out/search-throughput
mkdir -p "$out"
for space in "" -int8; do
    # qsearch: n + 1 episodes (the first warms caches and page faults up; it is left out).
    "$bin" search --config "$here/resnet20$space.yaml" --episodes $((n + 1)) -o "$out/qsearch$space" -q \
        > "$out/qsearch$space.txt" || [ $? -eq 3 ]
    # Python: the same candidates (episodes 1..n), calibrating on the same 1,000 images.
    tail -n +3 "$out/qsearch$space/episodes.csv" > "$out/candidates.csv.body"
    { head -1 "$out/qsearch$space/episodes.csv"; cat "$out/candidates.csv.body"; } > "$out/candidates.csv"
    OMP_NUM_THREADS=1 python3 "$here/ort_loop.py" "$data/cifar10-resnet/cifar10_resnet20.onnx" \
        "$data/cifar10-test-jpeg/cifar10_test_decoded.bin" \
        "$data/cifar10-calib-train-1000/cifar10_train1000_decoded.bin" \
        "$out/candidates.csv" 1000 1000 "$n" 2>/dev/null | tail -1 > "$out/ort$space.json"
    echo "== space: ${space:-int8 or fp32 per layer} + sparsity =="
    python3 "$here/table.py" "$out/qsearch$space" "$out/ort$space.json" "$n" | tee "$out/table$space.txt"
done
