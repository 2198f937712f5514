# Sourced by bench/quant/*.sh: finds the repository, the data, a Python with onnxruntime and
# onnx, and builds qsearch.
#
# Environment: QS_BUILD_DIR (default build-bench), QS_SHARED_DATA (default ../shared/data),
# QS_PYTHON (default: python3 when it has onnxruntime and onnx, else bench/.venv made by
# bench/setup.sh), QS_QUANT_OUT (default bench/quant/out).
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${QS_BUILD_DIR:-$root/build-bench}
data=${QS_SHARED_DATA:-$root/../shared/data}
out=${QS_QUANT_OUT:-$root/bench/quant/out}

if [ ! -f "$data/cifar10-resnet/cifar10_resnet20.onnx" ]; then
    echo "$(basename "$0"): shared data not found in '$data' (set QS_SHARED_DATA)" >&2
    exit 2
fi

has_ort() { "$1" -c "import onnxruntime, onnx, numpy" 2>/dev/null; }
if [ -n "${QS_PYTHON:-}" ]; then
    python=$QS_PYTHON
elif has_ort python3; then
    python=python3
else
    [ -x "$root/bench/.venv/bin/python" ] || "$root/bench/setup.sh"
    python=$root/bench/.venv/bin/python
fi
has_ort "$python" || { echo "$(basename "$0"): '$python' lacks onnxruntime/onnx" >&2; exit 2; }

# A new build folder gets a Release build without tests; an existing one keeps its options.
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DQS_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target qsearch >/dev/null
qsearch=$build/qsearch
mkdir -p "$out"
# One thread per run unless asked otherwise (onnxruntime, OpenBLAS).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
