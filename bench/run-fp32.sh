#!/bin/sh
# fp32 single-thread speed of qsearch against onnxruntime on ResNet-56 (CIFAR-10) and
# SqueezeNet 1.1 (ImageNet), batch 1 and 32, same seeded inputs on both sides. Our outputs
# are verified against onnxruntime's (max abs diff / max abs <= 1e-4) before a row counts.
#
#   bench/run-fp32.sh [extra bench-fp32-models options, e.g. --model resnet56 --batch 1]
#
# Environment: QS_BUILD_DIR (default build-bench), QS_SHARED_DATA (default ../shared/data),
# QS_BENCH_MIN_TIME (seconds of timed calls per case, default 2).
# Needs bench/setup.sh once (network access to PyPI); it is run here when bench/.venv is
# missing. Prints one table; exits 1 when a check fails.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${QS_BUILD_DIR:-$root/build-bench}
data=${QS_SHARED_DATA:-$root/../shared/data}
min_time=${QS_BENCH_MIN_TIME:-2}
out="$root/bench/out"
export QS_SHARED_DATA="$data"
# Both runtimes on one thread, whatever the BLAS or OpenMP defaults are.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

[ -x "$root/bench/.venv/bin/python" ] || "$root/bench/setup.sh"

# A new build folder gets a Release build without tests; an existing one keeps its options.
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DQS_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target bench-fp32-models >/dev/null

mkdir -p "$out"
rm -f "$out"/ort-*.f32
# Pass the same --model/--batch selection to both sides.
sel=""
while [ $# -gt 0 ]; do
    case "$1" in
        --model|--batch) sel="$sel $1 $2"; shift 2 ;;
        *) echo "run-fp32.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done

# shellcheck disable=SC2086
"$root/bench/.venv/bin/python" "$root/bench/ort_bench.py" --data "$data" --ref "$out" \
    --min-time "$min_time" $sel >"$out/ort.tsv"
status=0
# shellcheck disable=SC2086
"$build/bench/bench-fp32-models" --data "$data" --ref "$out" --min-time "$min_time" --tsv \
    $sel >"$out/ours.tsv" || status=$?

ort_version=$("$root/bench/.venv/bin/python" -c "import onnxruntime as o; print(o.__version__)")
echo "fp32, 1 thread; best-of-N (median) ms per call;" \
    "ratio = ort / ours on best (> 1: qsearch faster)"
echo "onnxruntime $ort_version; $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
awk -F'\t' '
    NR == FNR { if (FNR > 1) { ort[$1 "/" $2] = $3; ortmed[$1 "/" $2] = $4 } next }
    FNR == 1 {
        printf "%-14s %5s %20s %20s %7s  %-10s %s\n", "model", "batch", "ours ms (median)",
               "ort ms (median)", "ratio", "check", "rel err"
        next
    }
    {
        k = $1 "/" $2
        ours = sprintf("%.3f (%.3f)", $3, $4)
        o = (k in ort) ? sprintf("%.3f (%.3f)", ort[k], ortmed[k]) : "-"
        r = (k in ort) ? sprintf("%.2f", ort[k] / $3) : "-"
        printf "%-14s %5d %20s %20s %7s  %-10s %s\n", $1, $2, ours, o, r, $7, ($6 < 0 ? "-" : $6)
    }' "$out/ort.tsv" "$out/ours.tsv"
exit "$status"
