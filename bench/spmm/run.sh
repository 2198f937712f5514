#!/bin/sh
# SpMM benchmark of issue 4 (Speed): our sparse fp32 and int8 kernels against OpenBLAS sgemm
# (and our dense fp32 conv and int8 GEMM) on the issue's seven M x K x N shapes at 70/90/95%
# unstructured sparsity, single thread, best of N after a warm-up, thread CPU time; then the
# same for 4x1 blocks. Prints the table and the geomeans the goals are stated in.
#
#   bench/spmm/run.sh [BUILD_DIR] [extra bench-spmm options, e.g. --sweep, --reps 20]
#
# BUILD_DIR defaults to ./build-spk, then ./build; bench-spmm is built there when missing.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-}
[ $# -gt 0 ] && shift
if [ -z "$build" ]; then
    build=$root/build-spk
    [ -d "$build" ] || build=$root/build
fi
bin=$(find "$build" -name bench-spmm -type f -perm -u+x 2>/dev/null | head -n 1)
if [ -z "$bin" ]; then
    cmake -S "$root" -B "$build" >/dev/null && cmake --build "$build" -j2 --target bench-spmm >/dev/null
    bin=$(find "$build" -name bench-spmm -type f -perm -u+x | head -n 1)
fi
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
echo "=== unstructured (CSR)"
"$bin" --cpu-time --sparsity 0.3 --sparsity 0.5 --sparsity 0.7 --sparsity 0.9 --sparsity 0.95 "$@"
echo
echo "=== 4x1 blocks (BSR)"
"$bin" --cpu-time --format bsr-4x1 "$@"
