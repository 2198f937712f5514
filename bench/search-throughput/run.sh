#!/bin/sh
# Candidate evaluations per minute: the qsearch loop against a Python loop doing the same
# per-candidate work with onnxruntime (prune + quantize_static + evaluate), on the same
# candidates, in the same run. ResNet-20, 1,000 search images, one thread each.
#
# usage: bench/search-throughput/run.sh [QSEARCH_BIN] [N_CANDIDATES]
#          random candidates: qsearch's time per episode for episodes 1..N of a random
#          search (default 12)
#        bench/search-throughput/run.sh QSEARCH_BIN --search [EPISODES] [SAMPLE]
#          a whole DDPG search as users run it (default 200 episodes): qsearch's process CPU
#          time over its distinct evaluations; the Python loop timed on SAMPLE (default 20)
#          of that run's candidates
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/build/qsearch}
mode=random
if [ "$2" = --search ]; then
    mode=search
    episodes=${3:-200}
    n=${4:-20}
else
    n=${2:-12}
fi
data=$root/../shared/data
if [ ! -d "$data/cifar10-resnet" ]; then echo "SKIP: $data missing"; exit 0; fi
out=$root/bench/out/search-throughput
mkdir -p "$out"
ort_loop() {  # candidates.csv n_candidates out.json
    OMP_NUM_THREADS=1 python3 "$here/ort_loop.py" "$data/cifar10-resnet/cifar10_resnet20.onnx" \
        "$data/cifar10-test-jpeg/cifar10_test_decoded.bin" \
        "$data/cifar10-calib-train-1000/cifar10_train1000_decoded.bin" \
        "$1" 1000 1000 "$2" "$batch" 2>/dev/null | tail -1 > "$3"
}
for space in "" -int8; do
    case $space in -int8) name="int8 everywhere";; *) name="int8 or fp32 per layer";; esac
    # Both sides evaluate at the configs' batch (eval_batch).
    batch=$(sed -n 's/^ *eval_batch: *//p' "$here/resnet20$space.yaml")
    if [ $mode = search ]; then
        # qsearch: the whole search, process CPU time included everything (exit 3: finished
        # without meeting the thresholds).
        run=$out/qsearch-ddpg$space
        python3 "$here/cpu_time.py" "$out/qsearch-ddpg$space.cpu.json" \
            "$bin" search --config "$here/resnet20$space-ddpg.yaml" --episodes "$episodes" \
            -o "$run" -v > "$out/qsearch-ddpg$space.txt" 2>&1 || [ $? -eq 3 ]
        # Python: n of that run's distinct candidates, spread evenly over the run.
        echo "sampled episodes: $(python3 "$here/sample.py" "$run/episodes.csv" "$n" \
            "$out/sample$space.csv")"
        n_s=$(($(wc -l < "$out/sample$space.csv") - 1))
        ort_loop "$out/sample$space.csv" "$n_s" "$out/ort-ddpg$space.json"
        echo "== whole DDPG search, space: $name + sparsity =="
        python3 "$here/table_search.py" "$run" "$out/qsearch-ddpg$space.cpu.json" \
            "$out/ort-ddpg$space.json" "$out/sample$space.csv" | tee "$out/table-ddpg$space.txt"
        grep "prefix reuse" "$out/qsearch-ddpg$space.txt" | tee -a "$out/table-ddpg$space.txt" || true
        continue
    fi
    # qsearch: n + 1 episodes (the first warms caches and page faults up; it is left out).
    "$bin" search --config "$here/resnet20$space.yaml" --episodes $((n + 1)) -o "$out/qsearch$space" -q \
        > "$out/qsearch$space.txt" || [ $? -eq 3 ]
    # Python: the same candidates (episodes 1..n), calibrating on the same 1,000 images.
    tail -n +3 "$out/qsearch$space/episodes.csv" > "$out/candidates.csv.body"
    { head -1 "$out/qsearch$space/episodes.csv"; cat "$out/candidates.csv.body"; } > "$out/candidates.csv"
    ort_loop "$out/candidates.csv" "$n" "$out/ort$space.json"
    echo "== random candidates, space: $name + sparsity =="
    python3 "$here/table.py" "$out/qsearch$space" "$out/ort$space.json" "$n" | tee "$out/table$space.txt"
done
