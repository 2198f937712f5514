#!/bin/sh
# Whole-model speed of pruned models (issue 4): `qsearch prune` at 70% uniform magnitude
# sparsity, then `qsearch eval` single-threaded on the pruned model with the sparse
# executor off (QS_SPMM=never: dense kernels on the zeros), with the dispatcher (default)
# and with every pruned layer forced sparse (QS_SPMM=always), best ms/batch of R runs each
# (interleaved, since the machine is shared). ResNet-56 on CIFAR-10 and the SST-2 tiny
# transformer on its dev set.
#
#   bench/spmm/models.sh [BUILD_DIR] [SPARSITY] [RUNS]    (QS_SHARED_DATA: the data folder)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-spk}
sp=${2:-0.7}
runs=${3:-3}
data=${QS_SHARED_DATA:-$root/../shared/data}
q=$build/qsearch
out=${TMPDIR:-/tmp}/qs-spmm-models
mkdir -p "$out"
[ -x "$q" ] || { echo "models.sh: no $q (build it first)" >&2; exit 1; }

best() {  # best ms/batch of $runs runs of: QS_SPMM=$1 qsearch eval ...
    mode=$1; shift
    i=0
    while [ $i -lt "$runs" ]; do
        QS_SPMM=$mode "$q" eval "$@" -q --threads 1 | sed -n 's/.*, \([0-9.]*\) ms\/batch.*/\1/p'
        i=$((i + 1))
    done | sort -n | head -n 1
}
row() {  # name model eval-args...
    name=$1 model=$2; shift 2
    "$q" prune "$model" --sparsity "$sp" -o "$out/$name.onnx" -q >/dev/null
    acc=$("$q" eval "$out/$name.onnx" "$@" -q --threads 1 | sed -n 's/^top-1 *\([0-9.]*\).*/\1/p')
    d=$(best never "$out/$name.onnx" "$@")
    a=$(best auto "$out/$name.onnx" "$@")
    f=$(best always "$out/$name.onnx" "$@")
    printf '%-12s %6s %8s %10s %10s %10s %8s %8s\n' "$name" "$sp" "$acc" "$d" "$a" "$f" \
        "$(echo "$d $a" | awk '{printf "%.2fx", $1/$2}')" "$(echo "$d $f" | awk '{printf "%.2fx", $1/$2}')"
}
echo "pruned models, 1 thread, best ms/batch of $runs runs (batch 32)"
printf '%-12s %6s %8s %10s %10s %10s %8s %8s\n' model sparse "top-1" "dense ms" "disp ms" \
    "sparse ms" "disp" "sparse"
cif="cifar10:$data/cifar10-test-jpeg/cifar10_test_decoded.bin"
lab="cifar10-labels:$data/cifar10-test-jpeg/cifar10_test_decoded.bin"
row resnet56 "$data/cifar10-resnet/cifar10_resnet56.onnx" --inputs "$cif" --labels "$lab" \
    --preprocess imagenet --batch 32 --limit 1024
s=$data/sst2-tiny-transformer
row sst2-tiny "$s/sst2_tiny_transformer.onnx" \
    --inputs "raw:$s/sst2_dev_input_ids.i64:int64:872x64" \
    --inputs "raw:$s/sst2_dev_attention_mask.f32:float32:872x64" \
    --labels "raw:$s/sst2_dev_labels.u8:uint8" --batch 32
