#!/bin/sh
# Integer GEMM benchmark of issue 3: ours against OpenBLAS sgemm and oneDNN u8s8s32, single
# thread, on the issue's shapes, for every x86 level this CPU has (the default choice, then
# QS_KERNELS capped at AVX-VNNI and at AVX2), in the convolution layout and, with --fc,
# the fully connected one. Output: a table per level and layout, plus geomean ratios.
#
#   bench/qgemm/run.sh [BUILD_DIR] [extra bench-qgemm options, e.g. --cpu-time --reps 10]
#
# BUILD_DIR defaults to ./build; bench-qgemm is built there when the top-level CMakeLists.txt
# has add_subdirectory(bench/qgemm). Wall time is the default; on a machine shared with
# other jobs, --cpu-time (thread CPU time) gives steadier ratios.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
[ $# -gt 0 ] && shift
bin=$(find "$build" -name bench-qgemm -type f -perm -u+x 2>/dev/null | head -n 1)
if [ -z "$bin" ]; then
    echo "run.sh: no bench-qgemm under $build (cmake --build $build --target bench-qgemm)" >&2
    exit 1
fi

# Single-threaded peers: OpenMP (oneDNN) and OpenBLAS read these when they load.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

isa=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
levels=""
case "$isa" in *avx512_vnni*) levels="$levels avx512vnni" ;; esac
case "$isa" in *avx_vnni*) levels="$levels avxvnni" ;; esac
case "$isa" in *avx2*) levels="$levels avx2" ;; esac
[ -n "$levels" ] || levels="ref"

status=0
for layout in conv fc; do
    for level in $levels; do
        echo
        echo "=== QS_KERNELS=$level, $layout layout"
        if [ "$layout" = fc ]; then
            QS_KERNELS=$level "$bin" --fc "$@" || status=1
        else
            QS_KERNELS=$level "$bin" "$@" || status=1
        fi
    done
done
exit $status
