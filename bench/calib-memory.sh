#!/bin/sh
# Calibration memory (issue 3 acceptance): the peak RSS of calibrating ResNet-56 on 10,000
# CIFAR-10 images must be within 10% of calibrating on 500. Calibration streams the images
# one batch at a time and keeps fixed-size statistics per activation, so neither the data
# nor the statistics grow with the number of samples.
#
#   bench/calib-memory.sh [SMALL LARGE]      (default 500 10000)
#
# Each count runs in its own process (tests/quant/test-calib-model --memory N, which
# calibrates, derives every method for every tensor, and reports getrusage's peak RSS) under
# /usr/bin/time -v when it is installed. Environment: QS_BUILD_DIR (default
# build-calib-memory, configured Release with tests on when new), QS_SHARED_DATA (default
# ../shared/data). Prints one table; exits 1 when the ratio is above 1.10, 77 when the data
# is missing.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${QS_BUILD_DIR:-$root/build-calib-memory}
data=${QS_SHARED_DATA:-$root/../shared/data}
small=${1:-500}
large=${2:-10000}
model="$data/cifar10-resnet/cifar10_resnet56.onnx"
images="$data/cifar10-test-jpeg/cifar10_test_decoded.bin"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

for f in "$model" "$images"; do
    if [ ! -f "$f" ]; then
        echo "SKIP: $f is missing (set QS_SHARED_DATA)"
        exit 77
    fi
done
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DQS_BUILD_TESTS=ON >/dev/null
fi
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target test-calib-model >/dev/null
bin="$build/tests/test-calib-model"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# Runs the driver on N images; prints "N peak_rss_kib driver_line".
measure() {
    n=$1
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -v "$bin" --memory "$n" "$model" "$images" >"$tmp/out.$n" 2>"$tmp/time.$n"
        rss=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$tmp/time.$n")
    else
        "$bin" --memory "$n" "$model" "$images" >"$tmp/out.$n"
        rss=$(sed -n 's/.*peak_rss_kib \([0-9]*\).*/\1/p' "$tmp/out.$n")
    fi
    echo "$rss"
}

rss_small=$(measure "$small")
rss_large=$(measure "$large")
printf '%-8s %14s  %s\n' images peak_rss_kib "driver report"
printf '%-8s %14s  %s\n' "$small" "$rss_small" "$(cat "$tmp/out.$small")"
printf '%-8s %14s  %s\n' "$large" "$rss_large" "$(cat "$tmp/out.$large")"
ratio=$(awk -v a="$rss_large" -v b="$rss_small" 'BEGIN { printf "%.3f", a / b }')
if awk -v r="$ratio" 'BEGIN { exit !(r <= 1.10) }'; then
    echo "ratio $ratio <= 1.10: ok"
else
    echo "ratio $ratio > 1.10: FAIL"
    exit 1
fi
