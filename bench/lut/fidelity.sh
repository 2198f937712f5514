#!/usr/bin/env bash
# Fidelity of a latency table: `qsearch lut validate` over N random mixed policies (bits and
# sparsity per layer, sparsity levels between the measured ones included so that the
# interpolation is exercised) for ResNet-20, ResNet-56, SqueezeNet 1.1 and the SST-2
# transformer; then the distribution of |table - measured| / measured.
#
# Usage: bench/lut/fidelity.sh [TABLE] [N] [REPEATS] [ROUNDS]
#   TABLE    default latency_tables/x86-amd-epyc.yaml
#   N        random policies per model (default 50)
#   REPEATS  timed runs per candidate and round (default 50)
#   ROUNDS   interleaved rounds over the candidates; a candidate's measurement is the median
#            of its rounds (default 5; 1 = each candidate measured once, in one block)
# Environment: QSEARCH (default build/qsearch), QS_SHARED_DATA (default ../shared/data),
# OUT (default bench/out/lut, not tracked).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
table="${1:-$root/latency_tables/x86-amd-epyc.yaml}"
n="${2:-50}"
repeats="${3:-50}"
rounds="${4:-5}"
qsearch="${QSEARCH:-$root/build/qsearch}"
data="${QS_SHARED_DATA:-$root/../shared/data}"
out="${OUT:-$root/bench/out/lut}"
mkdir -p "$out"
models=(cifar10-resnet/cifar10_resnet20.onnx cifar10-resnet/cifar10_resnet56.onnx
        squeezenet1.1/squeezenet1.1_fp32.onnx sst2-tiny-transformer/sst2_tiny_transformer.onnx)
echo "machine: $(uptime)"
for m in "${models[@]}"; do
    name="$(basename "$m" .onnx)"
    echo "== $name"
    "$qsearch" lut validate --model "$data/$m" --lut "$table" --random "$n" \
        --sparsity 0,0.5,0.6,0.7,0.8,0.9,0.95 --repeats "$repeats" --rounds "$rounds" -o "$out/$name.csv" \
        > "$out/$name.log"
    grep -E "qs_lut_model_cost|summary|per-node|^    " "$out/$name.log" || true
done
python3 "$root/bench/lut/summarize.py" "$out"/*.csv
