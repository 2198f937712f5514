#!/bin/sh
# Top-1 after post-training pruning, without retraining: CIFAR-10 ResNet-56 on the 10,000
# images of cifar10-test-jpeg (calibration: the first 512 of cifar10-calib-train-1000) and
# the SST-2 tiny transformer on the 872 dev sentences (calibration: the first 512 train
# sentences, tokenised by sst2_calib.py), at uniform unstructured sparsity (every prunable
# layer; the first and last layers stay dense) for magnitude, magnitude + bias correction
# and OBS (SparseGPT) reconstruction. Each cell is `qsearch prune` then `qsearch eval` on
# the written ONNX file. Prints a Markdown table; logs and models go to $OUT.
#
#   bench/sparse/accuracy.sh [SPARSITIES] [METHODS] [MODELS]
#   e.g. bench/sparse/accuracy.sh "0.3 0.5 0.7" "magnitude bias_correction obs obs:seq" "resnet56 sst2"
#
# A method written METHOD:seq prunes layer after layer (qsearch prune --sequential: each
# layer's statistics come from the model pruned so far).
#
# Environment: QS_BUILD_DIR (default build-bench), QS_SHARED_DATA (default ../shared/data),
# QS_QSEARCH (a qsearch binary to use instead of building one), QS_SPARSE_OUT (default
# bench/out/sparse, git-ignored), QS_PYTHON (python3 with numpy, for the SST-2
# calibration data), PATTERN (default unstructured).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${QS_BUILD_DIR:-$root/build-bench}
data=${QS_SHARED_DATA:-$root/../shared/data}
out=${QS_SPARSE_OUT:-$root/bench/out/sparse}
python=${QS_PYTHON:-python3}
pattern=${PATTERN:-unstructured}
sparsities=${1:-0.3 0.5 0.7}
methods=${2:-magnitude bias_correction obs}
models=${3:-resnet56 sst2}
if [ ! -f "$data/cifar10-resnet/cifar10_resnet56.onnx" ]; then
    echo "accuracy.sh: shared data not found in '$data' (set QS_SHARED_DATA)" >&2
    exit 2
fi
q=${QS_QSEARCH:-}
if [ -z "$q" ]; then
    if [ ! -f "$build/CMakeCache.txt" ]; then
        cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DQS_BUILD_TESTS=OFF >/dev/null
    fi
    cmake --build "$build" -j 2 --target qsearch >/dev/null
    q=$build/qsearch
fi
mkdir -p "$out"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

test_bin=$data/cifar10-test-jpeg/cifar10_test_decoded.bin
calib_bin=$data/cifar10-calib-train-1000/cifar10_train1000_decoded.bin
sst=$data/sst2-tiny-transformer
if echo "$models" | grep -q sst2 && [ ! -f "$out/sst2_train512_ids.npy" ]; then
    "$python" "$root/bench/sparse/sst2_calib.py" "$data" 512 "$out/sst2_train512"
fi

# model_args MODEL: file, eval data and calibration data of a model
model_file() {
    case $1 in
    resnet56) echo "$data/cifar10-resnet/cifar10_resnet56.onnx" ;;
    sst2) echo "$sst/sst2_tiny_transformer.onnx" ;;
    esac
}
eval_args() {
    case $1 in
    resnet56) echo "--inputs cifar10:$test_bin --labels cifar10-labels:$test_bin --preprocess imagenet --batch 100" ;;
    sst2) echo "--inputs raw:$sst/sst2_dev_input_ids.i64:int64:872x64 --inputs raw:$sst/sst2_dev_attention_mask.f32:float32:872x64 --labels raw:$sst/sst2_dev_labels.u8:uint8 --batch 32" ;;
    esac
}
calib_args() {
    case $1 in
    resnet56) echo "--calib cifar10:$calib_bin --calib-limit 512 --preprocess imagenet" ;;
    sst2) echo "--calib $out/sst2_train512_ids.npy --calib $out/sst2_train512_mask.npy --calib-limit 512" ;;
    esac
}
top1() {  # MODEL FILE -> top-1 %
    # shellcheck disable=SC2046
    "$q" eval "$2" $(eval_args "$1") -q > "$out/eval.log" 2>&1 || { cat "$out/eval.log" >&2; exit 1; }
    sed -n 's/^top-1 *\([0-9.]*\) %.*/\1/p' "$out/eval.log"
}

for m in $models; do
    f=$(model_file "$m")
    base=$(top1 "$m" "$f")
    printf '\n%s (%s, fp32 dense top-1 %s %%)\n\n' "$m" "$pattern" "$base"
    printf '| method |'
    for s in $sparsities; do printf ' %s%% |' "$(echo "$s * 100" | bc | sed 's/\..*//')"; done
    printf '\n|---|'
    for s in $sparsities; do printf -- '---|'; done
    printf '\n'
    for mp in $methods; do  # METHOD or METHOD:seq
        meth=${mp%%:*}
        seq=""
        [ "$mp" = "$meth" ] || seq=--sequential
        if [ -z "$seq" ]; then printf '| %s |' "$meth"; else printf '| %s, sequential |' "$meth"; fi
        for s in $sparsities; do
            o="$out/$m-$mp-$s.onnx"
            ca=""
            [ "$meth" = magnitude ] || ca="$(calib_args "$m") $seq"
            # shellcheck disable=SC2086
            "$q" prune "$f" --sparsity "$s" --pattern "$pattern" --method "$meth" $ca -o "$o" -v \
                > "$out/$m-$mp-$s.log" 2>&1 || { cat "$out/$m-$mp-$s.log" >&2; exit 1; }
            a=$(top1 "$m" "$o")
            printf ' %s (%+.2f) |' "$a" "$(echo "$a - $base" | bc)"
            rm -f "$o"
        done
        printf '\n'
    done
done
